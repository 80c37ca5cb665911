//! `production_deployment.yaml`: the chosen resource for every component. Two shapes exist:
//! the one `design` writes for the base deployment (`System: {name, NetworkDomains, Components,
//! DeploymentName}`) and the one SPACE4AI-D writes (`System: {Components, Resources: {name,
//! NetworkDomains}, Feasible}`); both are read.

use serde::{Deserialize, Serialize};

use super::deployments::Container;
use super::resources::{CandidateResources, NetworkDomain, Resource};
use super::Map;

/// The network domains of `res` pruned to the resources in use: `keep` says for each resource
/// whether it stays (`None`: dropped) and, when it gives a count, the `totalNodes` to write.
/// Layers left without resources, and domains left without layers, are dropped.
pub fn pruned_domains(res: &CandidateResources, keep: impl Fn(&Resource) -> Option<Option<u32>>) -> Map<NetworkDomain> {
    let mut domains = Map::new();
    for (dk, nd) in &res.system.network_domains {
        let Some(layers) = &nd.computational_layers else {
            domains.insert(dk.clone(), nd.clone());
            continue;
        };
        let mut kept = Map::new();
        for (k, l) in layers {
            let mut l = l.clone();
            l.resources.retain(|_, r| keep(r).is_some());
            for r in l.resources.values_mut() {
                if let Some(Some(n)) = keep(r) {
                    r.total_nodes = Some(n);
                }
            }
            if !l.resources.is_empty() {
                kept.insert(k.clone(), l);
            }
        }
        if !kept.is_empty() {
            let mut nd = nd.clone();
            nd.computational_layers = Some(kept);
            domains.insert(dk.clone(), nd);
        }
    }
    domains
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductionDeployment {
    #[serde(rename = "System")]
    pub system: ProductionSystem,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductionSystem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "NetworkDomains", default, skip_serializing_if = "Option::is_none")]
    pub network_domains: Option<Map<NetworkDomain>>,
    #[serde(rename = "Components")]
    pub components: Map<ProductionComponent>,
    #[serde(rename = "Resources", default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ProductionResources>,
    #[serde(rename = "DeploymentName", default, skip_serializing_if = "Option::is_none")]
    pub deployment_name: Option<String>,
    #[serde(rename = "Feasible", default, skip_serializing_if = "Option::is_none")]
    pub feasible: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductionResources {
    pub name: String,
    #[serde(rename = "NetworkDomains")]
    pub network_domains: Map<NetworkDomain>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductionComponent {
    pub name: String,
    #[serde(rename = "executionLayer", default, skip_serializing_if = "Option::is_none")]
    pub execution_layer: Option<u32>,
    #[serde(rename = "Containers")]
    pub containers: Map<SelectedContainer>,
    #[serde(rename = "selectedExecutionResource", default, skip_serializing_if = "Option::is_none")]
    pub selected_execution_resource: Option<String>,
}

/// A container with the resource chosen for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectedContainer {
    #[serde(default)]
    pub image: Option<String>,
    #[serde(rename = "memorySize")]
    pub memory_size: f64,
    #[serde(rename = "computingUnits")]
    pub computing_units: f64,
    #[serde(rename = "trustedExecution", default, skip_serializing_if = "Option::is_none")]
    pub trusted_execution: Option<super::Flag>,
    #[serde(rename = "networkProtection", default, skip_serializing_if = "Option::is_none")]
    pub network_protection: Option<super::Flag>,
    #[serde(rename = "fileSystemProtection", default, skip_serializing_if = "Option::is_none")]
    pub file_system_protection: Option<super::Flag>,
    #[serde(rename = "GPURequirement", default, skip_serializing_if = "Option::is_none")]
    pub gpu_requirement: Option<super::Flag>,
    #[serde(rename = "selectedExecutionResource", default, skip_serializing_if = "Option::is_none")]
    pub selected_execution_resource: Option<String>,
    #[serde(rename = "executionLayer", default, skip_serializing_if = "Option::is_none")]
    pub execution_layer: Option<u32>,
}

impl SelectedContainer {
    /// The container of a candidate entry for deployment unit `unit`, placed on `resource` (of
    /// architecture `arch`): its image is the one of that unit and architecture.
    pub fn from_candidate(c: &Container, unit: &str, resource: &str, arch: Option<&str>) -> Self {
        Self {
            image: c.image.as_ref().and_then(|i| i.pick(unit, arch)),
            memory_size: c.memory_size,
            computing_units: c.computing_units,
            trusted_execution: c.trusted_execution.clone(),
            network_protection: c.network_protection.clone(),
            file_system_protection: c.file_system_protection.clone(),
            gpu_requirement: c.gpu_requirement.clone(),
            selected_execution_resource: Some(resource.to_string()),
            execution_layer: None,
        }
    }
}

impl ProductionComponent {
    /// The resource chosen for the component, wherever the file keeps it.
    pub fn resource(&self) -> Option<&str> {
        self.selected_execution_resource
            .as_deref()
            .or_else(|| self.containers.values().find_map(|c| c.selected_execution_resource.as_deref()))
    }

    pub fn layer(&self) -> Option<u32> {
        self.execution_layer.or_else(|| self.containers.values().find_map(|c| c.execution_layer))
    }
}
