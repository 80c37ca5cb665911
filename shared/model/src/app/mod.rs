//! Typed models of every file of an AI-SPRINT application directory (the layout of the
//! AI-SPRINT Studio user guide), with their validation. Reading files is the caller's job:
//! each model parses from text through [`crate::yaml::parse`] or [`crate::json::parse`].

pub mod accuracy;
pub mod annotations;
pub mod check;
pub mod confusion;
pub mod dag;
pub mod deployments;
pub mod fit;
pub mod index;
pub mod oscarp;
pub mod physical;
pub mod production;
pub mod qos;
pub mod resources;
pub mod space4aid_config;

use indexmap::IndexMap;

/// Maps keep the order of the file.
pub type Map<T> = IndexMap<String, T>;

/// Paths of the application files, relative to the application directory.
pub mod paths {
    pub const DAG: &str = "common_config/application_dag.yaml";
    /// The short name the user guide also uses for the DAG.
    pub const DAG_SHORT: &str = "common_config/dag.yaml";
    pub const RESOURCES: &str = "common_config/candidate_resources.yaml";
    pub const DEPLOYMENTS: &str = "common_config/candidate_deployments.yaml";
    pub const ANNOTATIONS: &str = "common_config/annotations.yaml";
    pub const PHYSICAL_NODES: &str = "common_config/physical_nodes.yaml";
    pub const RUN_PARAMETERS: &str = "oscarp/run_parameters.yaml";
    pub const DATA_SIZE: &str = "oscarp/components_data_size.yaml";
    pub const PERFORMANCE_MODELS: &str = "oscarp/performance_models.json";
    pub const SPACE4AID_CONFIG: &str = "space4ai-d/SPACE4AI-D.yaml";
    pub const SPACE4AID_QOS: &str = "space4ai-d/qos_constraints.yaml";
    pub const SPACE4AID_OUTPUT: &str = "space4ai-d/Output.json";
    /// Every deployment's accuracy (`@model_performance`), the most accurate first.
    pub const DEPLOYMENTS_PERFORMANCE: &str = "space4ai-r/deployments_performance.yaml";
    pub const DESIGNS: &str = "aisprint/designs";
    pub const COMPONENT_PARTITIONS: &str = "aisprint/designs/component_partitions.yaml";
    pub const DEPLOYMENTS_DIR: &str = "aisprint/deployments";
    pub const MULTI_CLUSTER_QOS: &str = "aisprint/deployments/multi_cluster_qos_constraints.yaml";
    pub const DEPLOYMENT_INDEX: &str = "aisprint/deployments/deployments.yaml";
    pub const OPTIMAL: &str = "aisprint/deployments/optimal_deployment";
    /// The folders of the tools, copied into every deployment.
    pub const TOOL_DIRS: [&str; 7] = ["ams", "im", "oscar", "oscarp", "pycompss", "space4ai-d", "space4ai-r"];
}

/// `true`, `false` and the strings some files use for them (`"True"`, `"yes"`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    /// The boolean meaning, or `None` for a string that is no boolean.
    pub fn value(&self) -> Option<bool> {
        match self {
            Flag::Bool(b) => Some(*b),
            Flag::Text(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" | "1" => Some(true),
                "false" | "no" | "off" | "0" | "" => Some(false),
                _ => None,
            },
        }
    }

    pub fn is_true(&self) -> bool {
        self.value().unwrap_or(false)
    }
}

/// A number as written (an integer stays an integer when written back).
pub type Number = serde_yaml::Number;

/// The value of a number as `f64`.
pub fn num(n: &Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}
