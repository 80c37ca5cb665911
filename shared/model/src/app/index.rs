//! `aisprint/deployments/deployments.yaml`: what each deployment `design` wrote is made of
//! (this project's own file; the reference tools keep this only in folder names).

use serde::{Deserialize, Serialize};

use super::Map;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentIndex {
    pub application: String,
    pub deployments: Map<DeploymentEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentEntry {
    /// DAG component -> the version this deployment runs (itself or one of its
    /// `alternative_components`).
    pub versions: Map<String>,
    /// Version -> its design: `base` or `partition<K>` (run as halves `partition<K>_<S>`).
    pub designs: Map<String>,
    /// Deployment unit (a component or a partition half) -> its computational layer.
    pub layers: Map<u32>,
}
