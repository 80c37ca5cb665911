//! The monitoring subsystem's model (the AMS of the mesh): records that applications report,
//! the AMS configuration files, and the evaluation of QoS constraints, alerts and drift.

pub mod drift;
pub mod engine;
pub mod line;
pub mod prometheus;
pub mod record;
pub mod setup;
