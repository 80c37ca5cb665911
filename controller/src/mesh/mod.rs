//! The controller's side of the agent mesh: certificates, the agents' gRPC service and its
//! state, and the operator's client of its admin service (`admin`).

pub mod admin;
pub mod broker;
pub mod certs;
pub mod config;
pub mod hub;
pub mod qos;
pub mod runtime;
pub mod serve;
pub mod shipping;
pub mod state;

use aisprint_model::diag::Diagnostics;

#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot reach the controller at {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("`{0}` is not a valid address")]
    BadAddress(String),
    #[error("the controller answered: {0}")]
    Status(#[from] tonic::Status),
    #[error("notification outbox: {0}")]
    Outbox(String),
    #[error(
        "the operator's certificate ({what}): cannot read {path}: {source} (`aisprint certs issue --admin` makes one; the controller's own is not accepted for admin commands)"
    )]
    Admin {
        path: std::path::PathBuf,
        what: String,
        #[source]
        source: std::io::Error,
    },
}
