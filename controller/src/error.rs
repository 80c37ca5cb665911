//! How a command ends: an [`Outcome`] when it did its job, a [`CmdError`] when it could not.
//! `main` prints the error once ([`CmdError::report`]) and exits with the status of the table
//! in [`crate::cli::EXIT_STATUSES`], the same for every command.

use aisprint_model::diag::Diagnostics;

/// A command that did its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// SPACE4AI-D found no feasible solution (the least-violating one is written).
    Infeasible,
    /// `toscarizer docker` wrote the contexts; no container engine answers to build them.
    NoEngine,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Done => 0,
            Outcome::Infeasible => 3,
            Outcome::NoEngine => 4,
        }
    }
}

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    /// Problems in the input, every one of them; then what they mean for the output.
    #[error("{diagnostics}")]
    Invalid { diagnostics: Diagnostics, then: Option<String> },
    /// A command line clap could not refuse by itself (flags that need each other).
    #[error("{0}")]
    Usage(String),
    /// Something failed (a file, the network, a service); then what it means for the output.
    #[error("{message}")]
    Failed { message: String, then: Option<String> },
    /// Failed, and the command's own lines already said why.
    #[error("failed (see above)")]
    Reported,
}

impl CmdError {
    pub fn failed(message: impl Into<String>) -> CmdError {
        CmdError::Failed { message: message.into(), then: None }
    }

    pub fn invalid(diagnostics: Diagnostics) -> CmdError {
        CmdError::Invalid { diagnostics, then: None }
    }

    /// Adds what the error means for the output (`design stopped; ...`).
    pub fn then(self, note: impl Into<String>) -> CmdError {
        match self {
            CmdError::Invalid { diagnostics, .. } => CmdError::Invalid { diagnostics, then: Some(note.into()) },
            CmdError::Failed { message, .. } => CmdError::Failed { message, then: Some(note.into()) },
            e => e,
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CmdError::Usage(_) => 2,
            _ => 1,
        }
    }

    /// Prints the error on standard error: diagnostics warnings first and errors last (so
    /// they stay in view), other errors as `error: ...`.
    pub fn report(&self) {
        match self {
            CmdError::Invalid { diagnostics, then } => {
                report(diagnostics);
                if let Some(t) = then {
                    eprintln!("{t}");
                }
            }
            CmdError::Usage(m) => eprintln!("error: {m}"),
            CmdError::Failed { message, then } => {
                eprintln!("error: {message}");
                if let Some(t) = then {
                    eprintln!("{t}");
                }
            }
            CmdError::Reported => {}
        }
    }
}

/// Prints diagnostics on standard error, warnings first, errors last.
pub fn report(d: &Diagnostics) {
    for w in d.warnings() {
        eprintln!("{w}");
    }
    for e in d.errors() {
        eprintln!("{e}");
    }
}

impl From<crate::mesh::MeshError> for CmdError {
    fn from(e: crate::mesh::MeshError) -> Self {
        match e {
            crate::mesh::MeshError::Invalid(d) => {
                CmdError::Invalid { diagnostics: d, then: Some("stopped: the configuration has problems".into()) }
            }
            e => CmdError::failed(e.to_string()),
        }
    }
}

impl From<crate::mesh::admin::AdminError> for CmdError {
    fn from(e: crate::mesh::admin::AdminError) -> Self {
        CmdError::failed(e.status.message())
    }
}

impl From<crate::provision::ToscarizerError> for CmdError {
    fn from(e: crate::provision::ToscarizerError) -> Self {
        match e {
            crate::provision::ToscarizerError::Invalid(d) => CmdError::invalid(d),
            crate::provision::ToscarizerError::Failed(m) => CmdError::failed(m),
        }
    }
}

impl From<crate::space4aid::files::Space4aidError> for CmdError {
    fn from(e: crate::space4aid::files::Space4aidError) -> Self {
        match e {
            crate::space4aid::files::Space4aidError::Invalid(d) => CmdError::invalid(d),
            e => CmdError::failed(e.to_string()),
        }
    }
}

impl From<crate::campaign::CampaignError> for CmdError {
    fn from(e: crate::campaign::CampaignError) -> Self {
        match e {
            crate::campaign::CampaignError::Invalid(d) => CmdError::invalid(d),
            e => CmdError::failed(e.to_string()),
        }
    }
}

impl From<crate::clients::oscar_clusters::ClusterError> for CmdError {
    fn from(e: crate::clients::oscar_clusters::ClusterError) -> Self {
        CmdError::failed(e.to_string())
    }
}
