//! `common_config/candidate_deployments.yaml` (components, their partitions and alternative
//! versions, the containers that run them and where they may run) and
//! `aisprint/designs/component_partitions.yaml`.

use serde::{Deserialize, Serialize};

use super::resources::CandidateResources;
use super::{Flag, Map};
use crate::diag::Diagnostics;
use crate::yaml::YamlDoc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateDeployments {
    #[serde(rename = "Components")]
    pub components: Map<ComponentSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentSpec {
    /// The component's name, or `<component>_partitionX_<1|2>` for a partition half.
    pub name: String,
    #[serde(rename = "candidateExecutionLayers")]
    pub candidate_execution_layers: Vec<u32>,
    #[serde(rename = "Containers")]
    pub containers: Map<Container>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// Filled in after the images are built; may be empty before.
    #[serde(default)]
    pub image: Option<String>,
    /// MB.
    #[serde(rename = "memorySize")]
    pub memory_size: f64,
    /// Cores.
    #[serde(rename = "computingUnits")]
    pub computing_units: f64,
    #[serde(rename = "trustedExecution", default, skip_serializing_if = "Option::is_none")]
    pub trusted_execution: Option<Flag>,
    #[serde(rename = "networkProtection", default, skip_serializing_if = "Option::is_none")]
    pub network_protection: Option<Flag>,
    #[serde(rename = "fileSystemProtection", default, skip_serializing_if = "Option::is_none")]
    pub file_system_protection: Option<Flag>,
    #[serde(rename = "GPURequirement", default, skip_serializing_if = "Option::is_none")]
    pub gpu_requirement: Option<Flag>,
    #[serde(rename = "candidateExecutionResources")]
    pub candidate_execution_resources: Vec<String>,
}

/// What an entry of the file stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind<'a> {
    /// A whole component (or an alternative version of one).
    Component,
    /// Half `half` (1 or 2) of a partitioned component, shared by every `partitionN`.
    PartitionHalf { component: &'a str, half: u32 },
}

impl ComponentSpec {
    /// `blurry-faces-onnx_partitionX_2` is half 2 of `blurry-faces-onnx`.
    pub fn kind(&self) -> EntryKind<'_> {
        if let Some((base, half)) = self.name.rsplit_once("_partitionX_") {
            if let Ok(h) = half.parse() {
                return EntryKind::PartitionHalf { component: base, half: h };
            }
        }
        EntryKind::Component
    }
}

impl CandidateDeployments {
    /// The entry whose `name` is `name`, with its key.
    pub fn by_name(&self, name: &str) -> Option<(&str, &ComponentSpec)> {
        self.components.iter().find(|(_, c)| c.name == name).map(|(k, c)| (k.as_str(), c))
    }

    /// The entry that describes a deployment unit: a component, or `<c>_partitionK_S`
    /// (described by the `<c>_partitionX_S` entry).
    pub fn for_unit(&self, unit: &str) -> Option<(&str, &ComponentSpec)> {
        if let Some(found) = self.by_name(unit) {
            return Some(found);
        }
        let (base, rest) = unit.rsplit_once("_partition")?;
        let (_, half) = rest.split_once('_')?;
        self.by_name(&format!("{base}_partitionX_{half}"))
    }
}

/// Checks of the file on its own and against the candidate resources.
pub fn validate(doc: &YamlDoc<CandidateDeployments>, resources: Option<&CandidateResources>) -> Diagnostics {
    let mut out = Diagnostics::new();
    let mut names: std::collections::HashMap<&str, &str> = Default::default();
    if doc.value.components.is_empty() {
        out.push(doc.error("Components", "no component is defined"));
    }
    for (key, c) in &doc.value.components {
        let base = format!("Components.{key}");
        if let Some(other) = names.insert(c.name.as_str(), key.as_str()) {
            out.push(doc.error(
                format!("{base}.name"),
                format!("duplicate component name `{}` (also at Components.{other})", c.name),
            ));
        }
        if c.candidate_execution_layers.is_empty() {
            out.push(doc.error(format!("{base}.candidateExecutionLayers"), "list at least one layer"));
        }
        if c.containers.is_empty() {
            out.push(doc.error(format!("{base}.Containers"), "list at least one container"));
        }
        if let Some(res) = resources {
            for (i, l) in c.candidate_execution_layers.iter().enumerate() {
                if res.layer(*l).is_none() {
                    out.push(doc.error(
                        format!("{base}.candidateExecutionLayers[{i}]"),
                        format!("layer {l} is not defined in candidate_resources.yaml"),
                    ));
                }
            }
        }
        for (ck, ct) in &c.containers {
            let cbase = format!("{base}.Containers.{ck}");
            if !(ct.memory_size > 0.0) {
                out.push(doc.error(
                    format!("{cbase}.memorySize"),
                    format!("must be a positive number of MB, found {}", ct.memory_size),
                ));
            }
            if !(ct.computing_units > 0.0) {
                out.push(doc.error(
                    format!("{cbase}.computingUnits"),
                    format!("must be a positive number of cores, found {}", ct.computing_units),
                ));
            }
            if ct.candidate_execution_resources.is_empty() {
                out.push(doc.error(format!("{cbase}.candidateExecutionResources"), "list at least one resource"));
            }
            for (f, v) in [
                ("trustedExecution", &ct.trusted_execution),
                ("networkProtection", &ct.network_protection),
                ("fileSystemProtection", &ct.file_system_protection),
                ("GPURequirement", &ct.gpu_requirement),
            ] {
                if v.as_ref().is_some_and(|f| f.value().is_none()) {
                    out.push(doc.error(format!("{cbase}.{f}"), "must be true or false"));
                }
            }
            let Some(res) = resources else { continue };
            for (i, r) in ct.candidate_execution_resources.iter().enumerate() {
                let key = format!("{cbase}.candidateExecutionResources[{i}]");
                match res.resource(r) {
                    None => {
                        out.push(doc.error(key, format!("resource `{r}` is not defined in candidate_resources.yaml")))
                    }
                    Some((layer, resource)) => {
                        if !c.candidate_execution_layers.contains(&layer.layer.number) {
                            out.push(doc.error(
                                key,
                                format!(
                                    "resource `{r}` is in layer {}, which is not among candidateExecutionLayers {:?}",
                                    layer.layer.number, c.candidate_execution_layers
                                ),
                            ));
                            continue;
                        }
                        if let Some(m) = resource.memory_size {
                            if ct.memory_size > m {
                                out.push(doc.error(
                                    format!("{cbase}.memorySize"),
                                    format!("{} MB does not fit resource `{r}` ({m} MB)", ct.memory_size),
                                ));
                            }
                        }
                        if let Some(cores) = resource.cores() {
                            if ct.computing_units > cores {
                                out.push(doc.error(
                                    format!("{cbase}.computingUnits"),
                                    format!("{} cores do not fit resource `{r}` ({cores} cores)", ct.computing_units),
                                ));
                            }
                        }
                        if ct.trusted_execution.as_ref().is_some_and(Flag::is_true) && !resource.is_trusted() {
                            out.push(doc.error(
                                key,
                                format!(
                                    "the container asks for trustedExecution but resource `{r}` has neither an SGX processor nor secureBoot/measuredBoot"
                                ),
                            ));
                        }
                    }
                }
            }
        }
    }
    out
}

/// `aisprint/designs/component_partitions.yaml`: the designs of each component (`base`, and
/// `partitionK_S` for the halves of each way K of splitting its model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ComponentPartitions {
    pub components: std::collections::BTreeMap<String, PartitionList>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PartitionList {
    pub partitions: Vec<String>,
}

/// A design name: `base` or `partition<K>_<S>`.
pub fn parse_design(name: &str) -> Option<Option<(u32, u32)>> {
    if name == "base" {
        return Some(None);
    }
    let rest = name.strip_prefix("partition")?;
    let (k, s) = rest.split_once('_')?;
    Some(Some((k.parse().ok()?, s.parse().ok()?)))
}

pub fn validate_partitions(doc: &YamlDoc<ComponentPartitions>) -> Diagnostics {
    let mut out = Diagnostics::new();
    for (c, list) in &doc.value.components {
        let key = format!("components.{c}.partitions");
        if !list.partitions.iter().any(|p| p == "base") {
            out.push(doc.error(key.clone(), "the list must contain `base`"));
        }
        for (i, p) in list.partitions.iter().enumerate() {
            if parse_design(p).is_none() {
                out.push(doc.error(
                    format!("{key}[{i}]"),
                    format!("`{p}` is not a design name: expected `base` or `partition<K>_<S>` (e.g. partition1_2)"),
                ));
            }
        }
    }
    out
}
