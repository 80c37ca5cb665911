//! The AI-SPRINT edge agent: host metrics, the durable buffer, the sinks that deliver batches
//! to the controller (gRPC) and an MQTT broker, and the monitoring endpoint that checks QoS
//! constraints and alerts locally.

pub mod ams;
pub mod buffer;
pub mod collect;
pub mod delivery;
pub mod limits;
pub mod mqtt;
pub mod notify;
pub mod prometheus;
pub mod run;
pub mod s3;
pub mod services;
pub mod ship;
