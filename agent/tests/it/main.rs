//! The agent's integration tests, in one binary: the real `aisprint-agent` binary with real
//! services, an S3 server, and the Python package's own tests.
//!
//! (Being an integration test of this package, this also makes `cargo test --workspace`
//! build the `aisprint-agent` binary that the controller's mesh tests run.)

mod support;

mod cli;
mod python_package;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "services")]
mod services;
