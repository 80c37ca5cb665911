//! `common_config/candidate_resources.yaml`: network domains, computational layers and the
//! candidate resources in them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use super::{Flag, Map};
use crate::diag::Diagnostics;
use crate::yaml::YamlDoc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateResources {
    #[serde(rename = "System")]
    pub system: ResourcesSystem,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourcesSystem {
    pub name: String,
    #[serde(rename = "NetworkDomains")]
    pub network_domains: Map<NetworkDomain>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkDomain {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Seconds.
    #[serde(rename = "AccessDelay")]
    pub access_delay: f64,
    /// MB/s.
    #[serde(rename = "Bandwidth")]
    pub bandwidth: f64,
    #[serde(rename = "subNetworkDomains", default, skip_serializing_if = "Option::is_none")]
    pub sub_network_domains: Option<Vec<String>>,
    #[serde(rename = "ComputationalLayers", default, skip_serializing_if = "Option::is_none")]
    pub computational_layers: Option<Map<Layer>>,
}

/// How a layer's resources come to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LayerType {
    Virtual,
    PhysicalAlreadyProvisioned,
    PhysicalToBeProvisioned,
    NativeCloudFunction,
}

impl LayerType {
    pub fn is_physical(self) -> bool {
        matches!(self, LayerType::PhysicalAlreadyProvisioned | LayerType::PhysicalToBeProvisioned)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub number: u32,
    #[serde(rename = "type")]
    pub layer_type: LayerType,
    #[serde(rename = "Resources")]
    pub resources: Map<Resource>,
}

/// A candidate resource: an edge node, a physical or virtual machine type, or a FaaS
/// configuration (which has `idleTime`/`transitionCost` and no nodes or processors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Resource {
    pub name: String,
    #[serde(rename = "totalNodes", default, skip_serializing_if = "Option::is_none")]
    pub total_nodes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The cloud's instance type (`t2.large`); the TOSCA documents ask for it.
    #[serde(rename = "flavorName", default, skip_serializing_if = "Option::is_none")]
    pub flavor_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// MB.
    #[serde(rename = "memorySize", default, skip_serializing_if = "Option::is_none")]
    pub memory_size: Option<f64>,
    #[serde(rename = "storageSize", default, skip_serializing_if = "Option::is_none")]
    pub storage_size: Option<Value>,
    #[serde(rename = "storageType", default, skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    #[serde(rename = "operatingSystemDistribution", default, skip_serializing_if = "Option::is_none")]
    pub os_distribution: Option<Value>,
    #[serde(rename = "operatingSystemType", default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<Value>,
    #[serde(rename = "operatingSystemVersion", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<Value>,
    #[serde(rename = "operatingSystemImageId", default, skip_serializing_if = "Option::is_none")]
    pub os_image_id: Option<String>,
    #[serde(rename = "secureBoot", default, skip_serializing_if = "Option::is_none")]
    pub secure_boot: Option<Flag>,
    #[serde(rename = "measuredBoot", default, skip_serializing_if = "Option::is_none")]
    pub measured_boot: Option<Flag>,
    #[serde(rename = "onSpot", default, skip_serializing_if = "Option::is_none")]
    pub on_spot: Option<Flag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processors: Option<Map<Processor>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerators: Option<Map<Accelerator>>,
    // FaaS resources
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Seconds an idle FaaS instance is kept warm.
    #[serde(rename = "idleTime", default, skip_serializing_if = "Option::is_none")]
    pub idle_time: Option<f64>,
    #[serde(rename = "transitionCost", default, skip_serializing_if = "Option::is_none")]
    pub transition_cost: Option<f64>,
}

impl Resource {
    /// The architecture of the resource (a FaaS resource's own, else its first processor's).
    pub fn arch(&self) -> Option<&str> {
        self.architecture
            .as_deref()
            .or_else(|| self.processors.iter().flat_map(|p| p.values()).find_map(|p| p.architecture.as_deref()))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Processor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub processor_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(rename = "computingUnits", default, skip_serializing_if = "Option::is_none")]
    pub computing_units: Option<f64>,
    #[serde(rename = "internalMemory", default, skip_serializing_if = "Option::is_none")]
    pub internal_memory: Option<f64>,
    #[serde(rename = "SGXFlag", default, skip_serializing_if = "Option::is_none")]
    pub sgx_flag: Option<Flag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accelerator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub accelerator_type: Option<String>,
    #[serde(rename = "GFLOPS", default, skip_serializing_if = "Option::is_none")]
    pub gflops: Option<f64>,
    #[serde(rename = "powerDraw", default, skip_serializing_if = "Option::is_none")]
    pub power_draw: Option<f64>,
    #[serde(rename = "memorySize", default, skip_serializing_if = "Option::is_none")]
    pub memory_size: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processors: Option<Map<Processor>>,
}

/// A layer found in the file, with where it is.
#[derive(Debug, Clone, Copy)]
pub struct LayerRef<'a> {
    pub domain: &'a str,
    pub key: &'a str,
    pub layer: &'a Layer,
}

impl<'a> LayerRef<'a> {
    pub fn key_path(&self) -> String {
        format!("System.NetworkDomains.{}.ComputationalLayers.{}", self.domain, self.key)
    }
}

impl Resource {
    /// Cores of one node: the sum over its processors.
    pub fn cores(&self) -> Option<f64> {
        let p = self.processors.as_ref()?;
        let total: f64 = p.values().filter_map(|p| p.computing_units).sum();
        (total > 0.0).then_some(total)
    }

    pub fn has_sgx(&self) -> bool {
        self.processors.as_ref().is_some_and(|p| p.values().any(|p| p.sgx_flag.as_ref().is_some_and(Flag::is_true)))
    }

    /// The GPU accelerators of a node: those whose type, or one of whose processors' type, is
    /// `GPU` (a processor counts `computingUnits`, default 1).
    fn gpu_accelerators(&self) -> impl Iterator<Item = (&Accelerator, f64)> {
        let is_gpu = |t: &Option<String>| t.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("GPU"));
        self.accelerators.iter().flat_map(|m| m.values()).filter_map(move |a| {
            let from_processors: f64 = a
                .processors
                .iter()
                .flat_map(|m| m.values())
                .filter(|p| is_gpu(&p.processor_type))
                .map(|p| p.computing_units.unwrap_or(1.0))
                .sum();
            let n = if from_processors > 0.0 {
                from_processors
            } else if is_gpu(&a.accelerator_type) {
                1.0
            } else {
                0.0
            };
            (n > 0.0).then_some((a, n))
        })
    }

    /// How many GPUs a node has.
    pub fn gpus(&self) -> f64 {
        self.gpu_accelerators().map(|(_, n)| n).sum()
    }

    /// The memory of a node's largest GPU accelerator (its `memorySize`), 0 without one.
    pub fn gpu_memory(&self) -> f64 {
        self.gpu_accelerators().filter_map(|(a, _)| a.memory_size).fold(0.0, f64::max)
    }

    /// Whether the resource can host a component that asks for trusted execution.
    pub fn is_trusted(&self) -> bool {
        self.has_sgx()
            || self.secure_boot.as_ref().is_some_and(Flag::is_true)
            || self.measured_boot.as_ref().is_some_and(Flag::is_true)
    }
}

impl CandidateResources {
    /// Every layer, in file order, with the domain that holds it. A layer listed in several
    /// domains appears once per domain.
    pub fn layers(&self) -> Vec<LayerRef<'_>> {
        let mut out = Vec::new();
        for (d, nd) in &self.system.network_domains {
            if let Some(ls) = &nd.computational_layers {
                for (k, l) in ls {
                    out.push(LayerRef { domain: d, key: k, layer: l });
                }
            }
        }
        out
    }

    /// The layer with this number (the first when several domains list it).
    pub fn layer(&self, number: u32) -> Option<LayerRef<'_>> {
        self.layers().into_iter().find(|l| l.layer.number == number)
    }

    /// The resource with this name and its layer.
    pub fn resource(&self, name: &str) -> Option<(LayerRef<'_>, &Resource)> {
        self.layers().into_iter().find_map(|l| l.layer.resources.values().find(|r| r.name == name).map(|r| (l, r)))
    }

    /// The layer number a key such as `computationalLayer3` names.
    pub fn key_number(key: &str) -> Option<u32> {
        key.strip_prefix("computationalLayer")?.parse().ok()
    }
}

/// Checks of the file on its own.
pub fn validate(doc: &YamlDoc<CandidateResources>) -> Diagnostics {
    let mut out = Diagnostics::new();
    let domains = &doc.value.system.network_domains;
    if domains.is_empty() {
        out.push(doc.error("System.NetworkDomains", "no network domain is defined"));
    }
    let mut seen_layers: HashMap<u32, (String, &Layer)> = Default::default();
    let mut seen_resources: HashMap<&str, (String, u32)> = Default::default();
    for (d, nd) in domains {
        let base = format!("System.NetworkDomains.{d}");
        validate_domain(doc, &base, d, nd, &mut out);
        for (lk, layer) in nd.computational_layers.iter().flatten() {
            let lbase = format!("{base}.ComputationalLayers.{lk}");
            validate_layer_key(doc, &lbase, lk, layer, &mut out);
            let mut layer_repeated = false;
            if let Some((other, prev)) = seen_layers.get(&layer.number) {
                layer_repeated = *prev == layer;
                if !layer_repeated {
                    out.push(doc.error(
                        format!("{lbase}.number"),
                        format!("layer {} is also defined, differently, at {other}", layer.number),
                    ));
                }
            } else {
                seen_layers.insert(layer.number, (lbase.clone(), layer));
            }
            if layer.resources.is_empty() {
                out.push(doc.error(format!("{lbase}.Resources"), "a layer needs at least one resource"));
            }
            for (rk, r) in &layer.resources {
                let rbase = format!("{lbase}.Resources.{rk}");
                if r.name.trim().is_empty() {
                    out.push(doc.error(format!("{rbase}.name"), "a resource needs a name"));
                }
                match seen_resources.get(r.name.as_str()) {
                    // The same layer listed in two domains repeats its resources: fine.
                    Some((_, n)) if *n == layer.number && layer_repeated => {}
                    Some((other, _)) => out.push(doc.error(
                        format!("{rbase}.name"),
                        format!("resource name `{}` is already used at {other}; names must be unique", r.name),
                    )),
                    None => {
                        seen_resources.insert(&r.name, (rbase.clone(), layer.number));
                    }
                }
                validate_resource(doc, &rbase, r, layer.layer_type, &mut out);
            }
        }
    }
    out
}

/// Checks of network domain `d` (at `base`): its bandwidth, access delay and sub-domains.
fn validate_domain(doc: &YamlDoc<CandidateResources>, base: &str, d: &str, nd: &NetworkDomain, out: &mut Diagnostics) {
    let domains = &doc.value.system.network_domains;
    if !(nd.bandwidth > 0.0) {
        out.push(
            doc.error(
                format!("{base}.Bandwidth"),
                format!("must be a positive number of MB/s, found {}", nd.bandwidth),
            ),
        );
    }
    if !(nd.access_delay >= 0.0) {
        out.push(doc.error(
            format!("{base}.AccessDelay"),
            format!("must be a non-negative number of seconds, found {}", nd.access_delay),
        ));
    }
    for (i, sub) in nd.sub_network_domains.iter().flatten().enumerate() {
        if !domains.contains_key(sub) {
            out.push(doc.error(
                format!("{base}.subNetworkDomains[{i}]"),
                format!("`{sub}` is not a network domain of this file"),
            ));
        } else if sub == d {
            out.push(doc.error(format!("{base}.subNetworkDomains[{i}]"), "a domain cannot contain itself"));
        }
    }
}

/// Checks that layer key `lk` (at `lbase`) is `computationalLayer<number>` with the layer's number.
fn validate_layer_key(doc: &YamlDoc<CandidateResources>, lbase: &str, lk: &str, layer: &Layer, out: &mut Diagnostics) {
    match CandidateResources::key_number(lk) {
        None => out.push(doc.warning(lbase, "layer keys are expected to be `computationalLayer<number>`")),
        Some(n) if n != layer.number => out.push(
            doc.error(format!("{lbase}.number"), format!("the key says layer {n} but `number` is {}", layer.number)),
        ),
        Some(_) => {}
    }
}

/// Checks of one resource (at `rbase`) of a layer of type `layer_type`: its memory and cost,
/// then what a FaaS configuration or a node needs.
fn validate_resource(
    doc: &YamlDoc<CandidateResources>,
    rbase: &str,
    r: &Resource,
    layer_type: LayerType,
    out: &mut Diagnostics,
) {
    if let Some(m) = r.memory_size {
        if !(m > 0.0) {
            out.push(doc.error(format!("{rbase}.memorySize"), format!("must be a positive number of MB, found {m}")));
        }
    }
    if let Some(c) = r.cost {
        if !(c >= 0.0) {
            out.push(doc.error(format!("{rbase}.cost"), format!("cannot be negative, found {c}")));
        }
    }
    match layer_type {
        LayerType::NativeCloudFunction => validate_faas_resource(doc, rbase, r, out),
        _ => validate_node_resource(doc, rbase, r, out),
    }
}

/// What a FaaS configuration needs: memory, cost and a positive `idleTime`.
fn validate_faas_resource(doc: &YamlDoc<CandidateResources>, rbase: &str, r: &Resource, out: &mut Diagnostics) {
    if r.memory_size.is_none() {
        out.push(doc.error(rbase, "a FaaS resource needs `memorySize` (MB)"));
    }
    if r.cost.is_none() {
        out.push(doc.error(rbase, "a FaaS resource needs `cost`"));
    }
    match r.idle_time {
        None => {
            out.push(doc.error(rbase, "a FaaS resource needs `idleTime` (seconds before an idle instance is killed)"))
        }
        Some(t) if !(t > 0.0) => {
            out.push(doc.error(format!("{rbase}.idleTime"), format!("must be positive, found {t}")))
        }
        _ => {}
    }
}

/// What a node or VM type needs: `totalNodes`, memory and processors with their
/// `computingUnits`; FaaS-only fields are warned about.
fn validate_node_resource(doc: &YamlDoc<CandidateResources>, rbase: &str, r: &Resource, out: &mut Diagnostics) {
    match r.total_nodes {
        None => out.push(doc.error(rbase, "missing `totalNodes` (how many nodes or VMs of this resource can be used)")),
        Some(0) => out.push(doc.error(format!("{rbase}.totalNodes"), "must be at least 1")),
        _ => {}
    }
    if r.memory_size.is_none() {
        out.push(doc.error(rbase, "missing `memorySize` (MB of one node)"));
    }
    if r.processors.as_ref().is_none_or(|p| p.is_empty()) {
        out.push(doc.error(rbase, "missing `processors` (at least one, with `computingUnits`)"));
    }
    for (pk, p) in r.processors.iter().flatten() {
        match p.computing_units {
            None => out.push(doc.error(format!("{rbase}.processors.{pk}"), "missing `computingUnits`")),
            Some(c) if !(c > 0.0) => out.push(
                doc.error(format!("{rbase}.processors.{pk}.computingUnits"), format!("must be positive, found {c}")),
            ),
            _ => {}
        }
    }
    if r.idle_time.is_some() || r.transition_cost.is_some() {
        out.push(doc.warning(rbase, "`idleTime`/`transitionCost` only apply to NativeCloudFunction layers"));
    }
}
