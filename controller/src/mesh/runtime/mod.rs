//! SPACE4AI-R, the part of the mesh that acts on what it measures: the controller keeps the application placed as the load changes. The
//! `runtime` section of `controller.yaml` names the application; `controller serve` then
//! runs one task (`task`) that takes the triggers (violations the agents and the controller
//! notify, `POST /ams-alert`, a periodic check), observes the arrival rate and the response
//! times, asks the decision (`aisprint_space4aid::reopt`) and applies it on the agents without
//! losing a file (`plan`: the steps; `journal`: each step recorded before it runs), writing
//! `aisprint/deployments/current_deployment_<DATE_TIME>/` for every change applied (`folders`).

pub mod app;
mod apply;
pub mod folders;
pub mod journal;
pub mod observe;
pub mod plan;
pub mod scale;
pub mod services;
mod step;
pub mod task;

use aisprint_model::diag::Diagnostics;

/// The cluster name the runtime's services are applied under on each agent.
pub const CLUSTER: &str = "aisprint-runtime";

/// A unit's service name, and the cluster its inputs are shipped to (`rt-<unit>`).
pub fn service_of(unit: &str) -> String {
    format!("rt-{unit}")
}

/// A unit's input bucket on whichever node runs it.
pub fn input_of(unit: &str) -> String {
    format!("{}/in", service_of(unit))
}

/// The last units' output bucket.
pub fn output_of(unit: &str) -> String {
    format!("{}/out", service_of(unit))
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A file of the application, or the runtime section, is not what SPACE4AI-R needs.
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("runtime journal: {0}")]
    Journal(String),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A step that could not be applied (which, where, why).
    #[error("{0}")]
    Step(String),
}

/// A problem of a file the runtime reads (or of controller.yaml's runtime section).
fn invalid(file: impl Into<String>, key: &str, msg: impl Into<String>) -> RuntimeError {
    RuntimeError::Invalid(aisprint_model::diag::Diagnostic::error(file, key, msg).into())
}

/// Why a step does not run now, and whether it counts as a failed attempt (a refusal) or
/// only waits (an agent or IM away).
#[derive(Debug)]
struct Wait(String, bool);
