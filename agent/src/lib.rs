//! The AI-SPRINT edge agent: host metrics, the durable buffer, the sinks that deliver batches
//! to the controller (gRPC) and an MQTT broker, the monitoring endpoint that checks QoS
//! constraints and alerts locally, and OSCAR-style services.
//!
//! `run` is the composition root (only `main` uses it); `ctx` and `batch` are what every task
//! is given; the rest are the tasks, each in its own module or folder.

pub mod batch;
pub mod clock;
pub mod collect;
pub mod config;
pub mod ctx;
pub mod error;
pub mod link;
pub mod monitoring;
pub mod run;
#[cfg(feature = "services")]
pub mod services;
#[cfg(feature = "services")]
pub mod ship;
pub mod sinks;
