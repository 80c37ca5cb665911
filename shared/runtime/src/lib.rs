//! The IO both binaries share: the durable buffer (redb, every commit synced), the durable
//! outbox of notifications, synced file writes, backoff, the clock, the shutdown signal and
//! logging set-up.
//!
//! Nothing here knows about the agent's tasks or the controller's services: these are the
//! leaves both build on.

/// What `--version` says: the version, the commit and the target of the build.
pub const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("AISPRINT_COMMIT"), ", ", env!("AISPRINT_TARGET"), ")");

pub mod backoff;
pub mod buffer;
pub mod clock;
pub mod fsutil;
pub mod outbox;
pub mod signal;
pub mod telemetry;
