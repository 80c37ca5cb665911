//! The gRPC contract between `aisprint-agent` and the controller: the messages and the
//! `AgentService` client and server, generated from `aisprint/v1/agent.proto`.

#![allow(missing_debug_implementations, unused_qualifications, clippy::unwrap_used)]

pub mod v1 {
    tonic::include_proto!("aisprint.v1");
}
