//! The agent's one error type: what stops it before or while it starts.

use std::net::SocketAddr;
use std::path::PathBuf;

use aisprint_model::diag::Diagnostics;
use aisprint_runtime::buffer::BufferError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Problems in the configuration or the files it names, every one of them.
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A folder the agent needs (buckets, state) cannot be made or watched.
    #[error("{path}: {source}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Buffer(#[from] BufferError),
    #[error("{what}: cannot listen on {addr}: {source}")]
    Bind {
        what: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl AgentError {
    #[cfg(feature = "services")]
    pub(crate) fn folder(path: &std::path::Path, source: std::io::Error) -> AgentError {
        AgentError::Folder { path: path.to_path_buf(), source }
    }
}
