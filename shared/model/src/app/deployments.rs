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
    /// Filled in after the images are built (`toscarizer docker` writes them); may be empty
    /// before.
    #[serde(default)]
    pub image: Option<Image>,
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

/// A container's image: one name, or several (`toscarizer docker` writes one per design and
/// architecture, `<registry>/<component>_<design>_<platform>:<tag>`, as upstream's does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Image {
    One(String),
    Many(Vec<String>),
}

/// The platform name (`amd64`, `arm64`, `armv7`) of a resource architecture, as Docker and the
/// image names of `toscarizer docker` say it.
pub fn platform(arch: &str) -> Option<&'static str> {
    match arch.trim().to_ascii_lowercase().as_str() {
        "amd64" | "x86_64" | "x86-64" => Some("amd64"),
        "arm64" | "aarch64" | "armv8" => Some("arm64"),
        "armv7" | "arm" | "armhf" | "arm/v7" => Some("armv7"),
        _ => None,
    }
}

impl Image {
    pub fn names(&self) -> Vec<&str> {
        match self {
            Image::One(s) => vec![s.as_str()],
            Image::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }

    /// The image deployment unit `unit` runs from on a resource of architecture `arch`: the
    /// only one; else, among those named for the unit (`<unit>_base_<platform>` or
    /// `<unit>_<platform>`, or all when none is), the one of the resource's platform, else
    /// the first.
    pub fn pick(&self, unit: &str, arch: Option<&str>) -> Option<String> {
        let names: Vec<&str> = self.names().into_iter().map(str::trim).filter(|n| !n.is_empty()).collect();
        if names.len() <= 1 {
            return names.first().map(|n| n.to_string());
        }
        // (stem, platform) of `registry/folder/<stem>_<platform>:<tag>`.
        let parts = |n: &str| -> (String, Option<&'static str>) {
            let base = n.rsplit('/').next().unwrap_or(n);
            let base = base.split(':').next().unwrap_or(base);
            match base.rsplit_once('_') {
                Some((stem, p)) if platform(p).is_some() => (stem.to_string(), platform(p)),
                _ => (base.to_string(), None),
            }
        };
        let base = format!("{unit}_base");
        let mine: Vec<&str> =
            names.iter().copied().filter(|n| [unit, base.as_str()].contains(&parts(n).0.as_str())).collect();
        let pool = if mine.is_empty() { names } else { mine };
        let want = arch.and_then(platform);
        pool.iter().find(|n| want.is_some() && parts(n).1 == want).or(pool.first()).map(|n| n.to_string())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_list_gives_each_unit_its_own_for_its_platform() {
        let i = Image::Many(
            [
                "r/me/blur_base_amd64:latest",
                "r/me/blur_base_arm64:latest",
                "r/me/blur_partition1_1_arm64:latest",
                "r/me/blur_partition1_2_amd64:latest",
            ]
            .map(String::from)
            .to_vec(),
        );
        assert_eq!(i.pick("blur", Some("aarch64")).as_deref(), Some("r/me/blur_base_arm64:latest"));
        assert_eq!(i.pick("blur", Some("x86_64")).as_deref(), Some("r/me/blur_base_amd64:latest"));
        assert_eq!(i.pick("blur", None).as_deref(), Some("r/me/blur_base_amd64:latest"));
        assert_eq!(i.pick("blur_partition1_1", Some("amd64")).as_deref(), Some("r/me/blur_partition1_1_arm64:latest"));
        // One image is the image, whatever its name; names of no convention: the first.
        assert_eq!(Image::One("mine:1".into()).pick("x", Some("arm64")).as_deref(), Some("mine:1"));
        let plain = Image::Many(vec!["a:1".into(), "b:2".into()]);
        assert_eq!(plain.pick("x", Some("arm64")).as_deref(), Some("a:1"));
        assert_eq!(Image::Many(vec![]).pick("x", None), None);
    }
}
