//! The AI-SPRINT edge agent: host metrics, the durable buffer, and the sinks that deliver
//! batches to the controller (gRPC) and an MQTT broker.

pub mod buffer;
pub mod collect;
pub mod delivery;
pub mod mqtt;
pub mod run;
