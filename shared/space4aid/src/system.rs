//! The SPACE4AI-D system description (the JSON the optimizer reads), as in
//! `space4ai-d-model.md`: DAG, components with deployments and partitions, edge/cloud/FaaS
//! resources, compatibility, performance models, constraints and network domains.

use std::collections::{BTreeSet, HashMap, HashSet};

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use aisprint_model::dag::Graph;
use aisprint_model::diag::{Diagnostic, Diagnostics};

pub type Map<T> = IndexMap<String, T>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct System {
    #[serde(rename = "DirectedAcyclicGraph")]
    pub dag: Map<DagNode>,
    /// component -> deployment -> partition.
    #[serde(rename = "Components")]
    pub components: Map<Map<Map<Partition>>>,
    /// layer -> resource.
    #[serde(rename = "EdgeResources", default)]
    pub edge_resources: Map<Map<Resource>>,
    #[serde(rename = "CloudResources", default)]
    pub cloud_resources: Map<Map<Resource>>,
    #[serde(rename = "FaaSResources", default)]
    pub faas_resources: Map<FaasLayer>,
    /// component -> partition -> compatible resources.
    #[serde(rename = "CompatibilityMatrix")]
    pub compatibility: Map<Map<Vec<Compatible>>>,
    /// component -> partition -> resource -> model.
    #[serde(rename = "Performance")]
    pub performance: Map<Map<Map<PerformanceModel>>>,
    #[serde(rename = "Lambda")]
    pub lambda: f64,
    #[serde(rename = "LocalConstraints", default)]
    pub local_constraints: Map<LocalConstraint>,
    #[serde(rename = "GlobalConstraints", default)]
    pub global_constraints: Map<GlobalConstraint>,
    #[serde(rename = "NetworkTechnology")]
    pub network: Map<NetworkDomain>,
    #[serde(rename = "Time")]
    pub time: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DagNode {
    pub next: Vec<String>,
    pub transition_probability: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    pub next: Vec<String>,
    #[serde(default)]
    pub early_exit_probability: f64,
    #[serde(default)]
    pub data_size: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub number: u32,
    pub cost: f64,
    pub memory: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_cores: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaasResource {
    pub cost: f64,
    pub memory: f64,
    pub idle_time_before_kill: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A FaaS layer: its `transition_cost` and its resources, which the JSON keeps side by side.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaasLayer {
    pub transition_cost: Option<f64>,
    pub resources: Map<FaasResource>,
}

impl Serialize for FaasLayer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.resources.len() + 1))?;
        for (k, v) in &self.resources {
            m.serialize_entry(k, v)?;
        }
        if let Some(tc) = self.transition_cost {
            m.serialize_entry("transition_cost", &tc)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for FaasLayer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Entry {
            Cost(f64),
            Resource(FaasResource),
        }
        let raw: IndexMap<String, Entry> = IndexMap::deserialize(d)?;
        let mut layer = FaasLayer::default();
        for (k, v) in raw {
            match (k.as_str(), v) {
                ("transition_cost", Entry::Cost(c)) => layer.transition_cost = Some(c),
                ("transition_cost", Entry::Resource(_)) => {
                    return Err(serde::de::Error::custom("transition_cost must be a number"))
                }
                (_, Entry::Resource(r)) => {
                    layer.resources.insert(k, r);
                }
                (_, Entry::Cost(_)) => {
                    return Err(serde::de::Error::custom(format!(
                        "FaaS resource `{k}` must be an object with cost, memory and idle_time_before_kill"
                    )))
                }
            }
        }
        Ok(layer)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compatible {
    pub resource: String,
    pub memory: f64,
}

/// A performance model, named by its `model` key. Unknown names are an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model")]
pub enum PerformanceModel {
    /// M/G/1 queue on an edge resource; `demand` in seconds.
    #[serde(rename = "QTedge")]
    QtEdge { demand: f64 },
    /// M/G/1 queue on a VM; `demand` in seconds.
    #[serde(rename = "QTcloud")]
    QtCloud { demand: f64 },
    /// Serverless warm/cold model of pacsltk.
    #[serde(rename = "PACSLTK")]
    Pacsltk {
        #[serde(rename = "demandWarm")]
        demand_warm: f64,
        #[serde(rename = "demandCold")]
        demand_cold: f64,
    },
    /// A trained model of the response time from the cores given (instances x cores per
    /// instance), on an edge or VM resource the partition has to itself.
    #[serde(rename = "CoreBasedPredictor")]
    CoreBased(Predictor),
    /// A trained model of the response time from the cores and the partition's arrival rate.
    #[serde(rename = "LambdaBasedPredictor")]
    LambdaBased(Predictor),
}

/// A trained predictor: the model itself (`regressor`, as `aisprint models train` writes it)
/// and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Predictor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regressor_file: Option<String>,
    #[serde(rename = "meanTime", default, skip_serializing_if = "Option::is_none")]
    pub mean_time: Option<f64>,
    /// The cores the service gets on one instance (default: the resource's `n_cores`); an
    /// application gives the containers that fit on a node times the container's CPU, what
    /// a profiling campaign's `cores` column measures.
    #[serde(rename = "coresPerInstance", default, skip_serializing_if = "Option::is_none")]
    pub cores_per_instance: Option<f64>,
    /// The model; a system file names it inline, an application's performance_models.json by
    /// `regressor_file` (read when the application is loaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regressor: Option<Box<aisprint_model::perfmodel::Regressor>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalConstraint {
    pub local_res_time: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalConstraint {
    pub components: Vec<String>,
    pub global_res_time: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkDomain {
    /// Both spellings are read; `computationalLayers` is written.
    #[serde(rename = "computationalLayers", alias = "computationallayers")]
    pub computational_layers: Vec<String>,
    #[serde(rename = "AccessDelay")]
    pub access_delay: f64,
    #[serde(rename = "Bandwidth")]
    pub bandwidth: f64,
}

/// Which kind of layer a resource belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    Edge,
    Cloud,
    Faas,
}

impl System {
    /// Resource name -> (layer, kind).
    pub fn resource_index(&self) -> HashMap<&str, (&str, ResourceKind)> {
        let mut idx = HashMap::new();
        for (layer, rs) in &self.edge_resources {
            for r in rs.keys() {
                idx.insert(r.as_str(), (layer.as_str(), ResourceKind::Edge));
            }
        }
        for (layer, rs) in &self.cloud_resources {
            for r in rs.keys() {
                idx.insert(r.as_str(), (layer.as_str(), ResourceKind::Cloud));
            }
        }
        for (layer, l) in &self.faas_resources {
            for r in l.resources.keys() {
                idx.insert(r.as_str(), (layer.as_str(), ResourceKind::Faas));
            }
        }
        idx
    }

    /// The component graph of `DirectedAcyclicGraph`.
    pub fn graph(&self) -> Graph {
        let mut g = Graph::default();
        for (c, node) in &self.dag {
            g.add_node(c);
            for (i, n) in node.next.iter().enumerate() {
                let p = node.transition_probability.get(i).copied().unwrap_or(f64::NAN);
                g.add_edge(c, n, p);
            }
        }
        g
    }

    /// Checks references and ranges; `file` names the JSON in the diagnostics.
    pub fn validate(&self, file: &str) -> Diagnostics {
        let mut out = Diagnostics::new();
        self.validate_dag(file, &mut out);
        let resources = self.resource_index();
        let layers: HashSet<&str> = self
            .edge_resources
            .keys()
            .chain(self.cloud_resources.keys())
            .chain(self.faas_resources.keys())
            .map(String::as_str)
            .collect();
        self.validate_components(file, &resources, &mut out);
        self.validate_resources(file, &mut out);
        self.validate_performance(file, &resources, &mut out);
        self.validate_constraints(file, &mut out);
        self.validate_network(file, &layers, &mut out);
        out
    }

    /// Checks of `DirectedAcyclicGraph`: probabilities, successors, no cycle.
    fn validate_dag(&self, file: &str, out: &mut Diagnostics) {
        let err = |key: String, msg: String| Diagnostic::error(file, key, msg);
        for (c, node) in &self.dag {
            if node.next.len() != node.transition_probability.len() {
                out.push(err(
                    format!("DirectedAcyclicGraph.{c}.transition_probability"),
                    format!(
                        "has {} entries but `next` has {}: give one probability per successor",
                        node.transition_probability.len(),
                        node.next.len()
                    ),
                ));
            }
            for (i, p) in node.transition_probability.iter().enumerate() {
                if !(0.0..=1.0).contains(p) {
                    out.push(err(
                        format!("DirectedAcyclicGraph.{c}.transition_probability[{i}]"),
                        format!("transition probability {p} is outside [0, 1]"),
                    ));
                }
            }
            for (i, n) in node.next.iter().enumerate() {
                if !self.components.contains_key(n) {
                    out.push(err(
                        format!("DirectedAcyclicGraph.{c}.next[{i}]"),
                        format!("`{n}` is not a component of `Components`"),
                    ));
                }
            }
            if !self.components.contains_key(c) {
                out.push(err(format!("DirectedAcyclicGraph.{c}"), format!("`{c}` is not a component of `Components`")));
            }
        }
        if let Err(cycle) = self.graph().topological_order() {
            out.push(err("DirectedAcyclicGraph".into(), format!("the graph has a cycle: {}", cycle.join(" -> "))));
        }
    }

    /// Checks of `Components`: each deployment's chain of partitions, and the compatible
    /// resources and performance models of each partition.
    fn validate_components(&self, file: &str, resources: &HashMap<&str, (&str, ResourceKind)>, out: &mut Diagnostics) {
        let err = |key: String, msg: String| Diagnostic::error(file, key, msg);
        for (c, deployments) in &self.components {
            if deployments.is_empty() {
                out.push(err(format!("Components.{c}"), "a component needs at least one deployment".into()));
            }
            for (s, parts) in deployments {
                if parts.is_empty() {
                    out.push(err(format!("Components.{c}.{s}"), "a deployment needs at least one partition".into()));
                }
                let names: Vec<&String> = parts.keys().collect();
                for (k, (h, p)) in parts.iter().enumerate() {
                    let key = format!("Components.{c}.{s}.{h}");
                    if !(0.0..=1.0).contains(&p.early_exit_probability) {
                        out.push(err(
                            format!("{key}.early_exit_probability"),
                            format!("probability {} is outside [0, 1]", p.early_exit_probability),
                        ));
                    }
                    if let Some(next_h) = names.get(k + 1) {
                        if p.next.len() != 1 || &p.next[0] != *next_h {
                            out.push(err(
                                format!("{key}.next"),
                                format!("a partition that is not the last must name the next one, `{next_h}`"),
                            ));
                        }
                    } else {
                        let want: Vec<&String> = self.dag.get(c).map(|n| n.next.iter().collect()).unwrap_or_default();
                        let got: Vec<&String> = p.next.iter().collect();
                        if want != got {
                            out.push(err(
                                format!("{key}.next"),
                                format!(
                                    "the last partition must name the component's successors in the DAG {want:?}, found {got:?}"
                                ),
                            ));
                        }
                    }
                    if p.data_size.len() < p.next.len() {
                        out.push(err(
                            format!("{key}.data_size"),
                            format!(
                                "has {} entries but `next` has {}: give the data (MB) sent to each",
                                p.data_size.len(),
                                p.next.len()
                            ),
                        ));
                    }
                    if p.data_size.iter().any(|d| *d < 0.0) {
                        out.push(err(format!("{key}.data_size"), "data sizes cannot be negative".into()));
                    }
                    self.validate_compatibility(file, c, h, resources, out);
                }
            }
            if !self.dag.contains_key(c) {
                out.push(err(format!("Components.{c}"), format!("`{c}` is missing from `DirectedAcyclicGraph`")));
            }
        }
    }

    /// Checks of the compatible resources of partition `h` of component `c`: it has some, each
    /// a resource of some layer with a performance model.
    fn validate_compatibility(
        &self,
        file: &str,
        c: &str,
        h: &str,
        resources: &HashMap<&str, (&str, ResourceKind)>,
        out: &mut Diagnostics,
    ) {
        let err = |key: String, msg: String| Diagnostic::error(file, key, msg);
        let compat = self.compatibility.get(c).and_then(|m| m.get(h));
        match compat {
            None => out.push(err(
                format!("CompatibilityMatrix.{c}.{h}"),
                format!("partition `{h}` of `{c}` has no entry: list the resources it may run on"),
            )),
            Some(list) => {
                for (i, cm) in list.iter().enumerate() {
                    if !resources.contains_key(cm.resource.as_str()) {
                        out.push(err(
                            format!("CompatibilityMatrix.{c}.{h}[{i}].resource"),
                            format!("`{}` is not a resource of any layer", cm.resource),
                        ));
                    }
                    let has_model =
                        self.performance.get(c).and_then(|m| m.get(h)).is_some_and(|m| m.contains_key(&cm.resource));
                    if !has_model {
                        out.push(err(
                            format!("Performance.{c}.{h}"),
                            format!("no performance model for resource `{}`", cm.resource),
                        ));
                    }
                }
            }
        }
    }

    /// Checks of `EdgeResources`, `CloudResources` and `FaaSResources`.
    fn validate_resources(&self, file: &str, out: &mut Diagnostics) {
        let err = |key: String, msg: String| Diagnostic::error(file, key, msg);
        for (what, group) in [("EdgeResources", &self.edge_resources), ("CloudResources", &self.cloud_resources)] {
            for (layer, rs) in group {
                for (r, res) in rs {
                    let key = format!("{what}.{layer}.{r}");
                    if res.number == 0 {
                        out.push(err(format!("{key}.number"), "must be at least 1".into()));
                    }
                    if res.memory <= 0.0 {
                        out.push(err(format!("{key}.memory"), "must be positive".into()));
                    }
                    if res.cost < 0.0 {
                        out.push(err(format!("{key}.cost"), "cannot be negative".into()));
                    }
                }
            }
        }
        for (layer, l) in &self.faas_resources {
            for (r, res) in &l.resources {
                let key = format!("FaaSResources.{layer}.{r}");
                if res.memory <= 0.0 {
                    out.push(err(format!("{key}.memory"), "must be positive".into()));
                }
                if res.idle_time_before_kill <= 0.0 {
                    out.push(err(format!("{key}.idle_time_before_kill"), "must be positive".into()));
                }
            }
        }
    }

    /// Checks of `Performance`: each model names a resource of a kind it fits, with
    /// non-negative demands.
    fn validate_performance(&self, file: &str, resources: &HashMap<&str, (&str, ResourceKind)>, out: &mut Diagnostics) {
        let err = |key: String, msg: String| Diagnostic::error(file, key, msg);
        for (c, hs) in &self.performance {
            for (h, rs) in hs {
                for (r, m) in rs {
                    let key = format!("Performance.{c}.{h}.{r}");
                    let kind = resources.get(r.as_str()).map(|x| x.1);
                    let ok = match (m, kind) {
                        (_, None) => {
                            out.push(err(key.clone(), format!("`{r}` is not a resource of any layer")));
                            true
                        }
                        (PerformanceModel::Pacsltk { .. }, Some(k)) => k == ResourceKind::Faas,
                        (_, Some(k)) => k != ResourceKind::Faas,
                    };
                    if !ok {
                        out.push(err(
                            format!("{key}.model"),
                            "PACSLTK is the model of FaaS resources; QTedge/QTcloud and the trained predictors of edge and VM resources".into(),
                        ));
                    }
                    let demands: Vec<(&str, f64)> = match m {
                        PerformanceModel::QtEdge { demand } | PerformanceModel::QtCloud { demand } => {
                            vec![("demand", *demand)]
                        }
                        PerformanceModel::Pacsltk { demand_warm, demand_cold } => {
                            vec![("demandWarm", *demand_warm), ("demandCold", *demand_cold)]
                        }
                        PerformanceModel::CoreBased(_) | PerformanceModel::LambdaBased(_) => Vec::new(),
                    };
                    for (name, d) in demands {
                        if d.is_nan() || d < 0.0 {
                            out.push(err(format!("{key}.{name}"), format!("demand {d} must be non-negative")));
                        }
                    }
                }
            }
        }
    }

    /// Checks of `Lambda`, `Time`, `LocalConstraints` and `GlobalConstraints`.
    fn validate_constraints(&self, file: &str, out: &mut Diagnostics) {
        let err = |key: String, msg: String| Diagnostic::error(file, key, msg);
        if self.lambda.is_nan() || self.lambda <= 0.0 {
            out.push(err("Lambda".into(), format!("arrival rate {} must be positive", self.lambda)));
        }
        if self.time.is_nan() || self.time <= 0.0 {
            out.push(err("Time".into(), format!("time horizon {} must be positive", self.time)));
        }
        for (c, lc) in &self.local_constraints {
            if !self.components.contains_key(c) {
                out.push(err(format!("LocalConstraints.{c}"), format!("`{c}` is not a component")));
            }
            if lc.local_res_time.is_nan() || lc.local_res_time <= 0.0 {
                out.push(err(
                    format!("LocalConstraints.{c}.local_res_time"),
                    format!("threshold {} must be positive", lc.local_res_time),
                ));
            }
        }
        let graph = self.graph();
        for (p, gc) in &self.global_constraints {
            if gc.global_res_time.is_nan() || gc.global_res_time <= 0.0 {
                out.push(err(
                    format!("GlobalConstraints.{p}.global_res_time"),
                    format!("threshold {} must be positive", gc.global_res_time),
                ));
            }
            if let Err(msg) = graph.check_path(&gc.components) {
                out.push(err(format!("GlobalConstraints.{p}.components"), msg));
            }
        }
    }

    /// Checks of `NetworkTechnology`: known layers, positive bandwidth, every layer in a domain.
    fn validate_network(&self, file: &str, layers: &HashSet<&str>, out: &mut Diagnostics) {
        let err = |key: String, msg: String| Diagnostic::error(file, key, msg);
        for (nd, d) in &self.network {
            for (i, l) in d.computational_layers.iter().enumerate() {
                if !layers.contains(l.as_str()) {
                    out.push(err(
                        format!("NetworkTechnology.{nd}.computationalLayers[{i}]"),
                        format!("`{l}` is not a layer of EdgeResources, CloudResources or FaaSResources"),
                    ));
                }
            }
            if d.bandwidth <= 0.0 {
                out.push(err(format!("NetworkTechnology.{nd}.Bandwidth"), "must be positive".into()));
            }
            if d.access_delay < 0.0 {
                out.push(err(format!("NetworkTechnology.{nd}.AccessDelay"), "cannot be negative".into()));
            }
        }
        let covered: BTreeSet<&str> =
            self.network.values().flat_map(|d| d.computational_layers.iter().map(String::as_str)).collect();
        for l in layers {
            if !covered.contains(l) {
                out.push(err(
                    "NetworkTechnology".into(),
                    format!("layer `{l}` is in no network domain, so nothing can reach it"),
                ));
            }
        }
    }
}
