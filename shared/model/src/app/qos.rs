//! QoS constraint files written by `design`: `space4ai-d/qos_constraints.yaml`,
//! `ams/qos_constraints_L<layer>.yaml` and `aisprint/deployments/multi_cluster_qos_constraints.yaml`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Map, Number};
use crate::diag::Diagnostics;
use crate::yaml::YamlDoc;

/// `space4ai-d/qos_constraints.yaml` and `ams/qos_constraints_L<k>.yaml` (the latter with
/// `throughput_component`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QosConstraints {
    pub system: QosSystem,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QosSystem {
    pub name: String,
    #[serde(default)]
    pub local_constraints: Map<LocalConstraint>,
    #[serde(default)]
    pub global_constraints: Map<GlobalConstraint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_component: Option<ThroughputComponent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalConstraint {
    pub component_name: String,
    /// Seconds.
    pub threshold: Number,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalConstraint {
    pub path_components: Vec<String>,
    /// Seconds.
    pub threshold: Number,
}

/// The component whose throughput is measured: a name, or `{}` when the layer has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ThroughputComponent {
    Component(String),
    None(BTreeMap<String, serde_yaml::Value>),
}

impl ThroughputComponent {
    pub fn none() -> Self {
        ThroughputComponent::None(BTreeMap::new())
    }

    pub fn name(&self) -> Option<&str> {
        match self {
            ThroughputComponent::Component(c) => Some(c),
            ThroughputComponent::None(_) => None,
        }
    }
}

/// `aisprint/deployments/multi_cluster_qos_constraints.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiClusterQos {
    #[serde(rename = "System")]
    pub system: MultiClusterSystem,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiClusterSystem {
    /// deployment -> its layers (null when the application has no time constraint).
    #[serde(rename = "Deployments")]
    pub deployments: Map<Option<DeploymentQos>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentQos {
    #[serde(rename = "ExecutionLayers")]
    pub execution_layers: indexmap::IndexMap<u32, LayerQos>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerQos {
    pub components: Vec<String>,
    pub local_constraints: Map<LocalConstraint>,
    pub global_constraints: Map<GlobalConstraint>,
    pub throughput_component: ThroughputComponent,
}

pub fn validate(doc: &YamlDoc<QosConstraints>) -> Diagnostics {
    let mut out = Diagnostics::new();
    for (k, c) in &doc.value.system.local_constraints {
        if !(super::num(&c.threshold) > 0.0) {
            out.push(doc.error(
                format!("system.local_constraints.{k}.threshold"),
                format!("must be a positive number of seconds, found {}", c.threshold),
            ));
        }
    }
    for (k, c) in &doc.value.system.global_constraints {
        if !(super::num(&c.threshold) > 0.0) {
            out.push(doc.error(
                format!("system.global_constraints.{k}.threshold"),
                format!("must be a positive number of seconds, found {}", c.threshold),
            ));
        }
        if c.path_components.is_empty() {
            out.push(doc.error(format!("system.global_constraints.{k}.path_components"), "the path is empty"));
        }
    }
    out
}
