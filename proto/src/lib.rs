//! The gRPC contract between `aisprint-agent` and the controller: the messages and the
//! `AgentService` client and server, generated from `aisprint/v1/agent.proto`; and the typed
//! commands carried on its command stream (`commands`).
//!
//! The rest of the code uses the generated types at the gRPC edge and in the stores only.

pub mod commands;

#[allow(missing_debug_implementations, unused_qualifications, clippy::unwrap_used)]
pub mod v1 {
    tonic::include_proto!("aisprint.v1");
}
