//! The system description compiled into indexed arrays for fast evaluation: components with
//! their deployments and partitions, resources with their layers, arrival rates, network
//! delays between layers, constraints. Built once per run from a [`System`].

use std::collections::HashMap;

use crate::system::{PerformanceModel, Predictor as PredictorSpec, ResourceKind, System};
use aisprint_model::dag::Graph;
use aisprint_model::diag::{Diagnostic, Diagnostics};

/// A resource (an edge node type, a VM type or a FaaS configuration).
#[derive(Debug, Clone)]
pub struct Resource {
    pub name: String,
    pub layer: usize,
    pub kind: ResourceKind,
    /// Instances available (edge/VM); 1 for FaaS.
    pub number: u32,
    pub cost: f64,
    pub memory: f64,
    pub idle_time: f64,
    /// Cores of one instance (edge/VM; 1 when not given): a predictor's `cores` input is
    /// instances x this.
    pub cores: f64,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct Layer {
    pub name: String,
    pub kind: ResourceKind,
    pub resources: Vec<usize>,
    pub transition_cost: f64,
}

/// How a partition performs on one resource.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Perf {
    /// Queueing model: service demand (s).
    Queue { demand: f64 },
    /// Serverless model: warm and cold service times (s).
    Faas { warm: f64, cold: f64 },
    /// A trained predictor ([`Model::predictors`]): no queue, the partition alone on its
    /// resource.
    Predictor { id: u32 },
}

/// A trained response-time model of one partition on one resource.
#[derive(Debug, Clone)]
pub struct Predictor {
    pub regressor: aisprint_model::perfmodel::Regressor,
    /// It also reads the partition's arrival rate (LambdaBasedPredictor).
    pub throughput: bool,
    /// The cores one instance of the resource gives the service.
    pub cores_per_instance: f64,
}

impl Predictor {
    /// The response time with `instances` of its resource and the arrival rate `rate`;
    /// infinite when the model gives no positive time there.
    pub fn response(&self, instances: u32, rate: f64) -> f64 {
        let cores = self.cores_per_instance * f64::from(instances);
        let t = self.regressor.predict_cores(cores, self.throughput.then_some(rate));
        if t.is_finite() && t > 0.0 {
            t
        } else {
            f64::INFINITY
        }
    }
}

#[derive(Debug, Clone)]
pub struct Partition {
    pub name: String,
    pub component: usize,
    pub deployment: usize,
    /// Position in its deployment's chain.
    pub position: usize,
    pub early_exit: f64,
    /// Data (MB) sent to the next partition (non-last partitions).
    pub data_to_next: f64,
    /// (component, data MB) for each successor component (last partitions).
    pub data_to_components: Vec<(usize, f64)>,
    /// Compatible resources with the memory needed there and the performance model.
    pub options: Vec<(usize, f64, Perf)>,
    /// Per option: the response time on a FaaS resource at this partition's arrival rate
    /// (it depends on nothing else); NaN for queues. Kept current by [`Model::set_lambda`].
    pub faas_response: Vec<f64>,
    /// Per resource: the position of its option, or `u32::MAX` (a direct lookup: the
    /// evaluator asks for options in its inner loops).
    option_of: Vec<u32>,
}

impl Partition {
    /// The option for resource `r`.
    pub fn option(&self, r: usize) -> Option<&(usize, f64, Perf)> {
        self.option_at(r).map(|x| x.1)
    }

    /// The option for resource `r` with its position.
    pub fn option_at(&self, r: usize) -> Option<(usize, &(usize, f64, Perf))> {
        let i = *self.option_of.get(r)? as usize;
        self.options.get(i).map(|o| (i, o))
    }
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub name: String,
    /// Global partition indices, in chain order.
    pub partitions: Vec<usize>,
    /// Arrival-rate factor of each partition relative to the component's rate (product of
    /// `1 - early_exit` of the partitions before it) = probability of reaching it.
    pub reach: Vec<f64>,
}

#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub deployments: Vec<Deployment>,
    /// Arrival rate relative to `Lambda` (the DAG's propagation with Lambda = 1).
    pub rate_factor: f64,
    pub local_threshold: Option<f64>,
    pub successors: Vec<usize>,
    pub predecessors: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct GlobalConstraint {
    pub name: String,
    pub path: Vec<usize>,
    pub threshold: f64,
}

/// The compiled system.
#[derive(Debug, Clone)]
pub struct Model {
    pub components: Vec<Component>,
    pub partitions: Vec<Partition>,
    pub resources: Vec<Resource>,
    pub layers: Vec<Layer>,
    pub globals: Vec<GlobalConstraint>,
    /// Components in topological order.
    pub topo: Vec<usize>,
    pub lambda: f64,
    pub time: f64,
    /// For each (layer a, layer b): the domains that list both, as (access delay, bandwidth).
    links: Vec<Vec<Vec<(f64, f64)>>>,
    /// Resource name -> index.
    pub resource_index: HashMap<String, usize>,
    /// The trained predictors the options name.
    pub predictors: Vec<Predictor>,
}

impl Model {
    /// Compiles `system`; `file` names it in diagnostics. The system must have passed
    /// [`System::validate`].
    pub fn compile(system: &System, file: &str) -> Result<Model, Diagnostics> {
        let mut diags = Diagnostics::new();
        let (layers, resources, layer_index) = layers_and_resources(system);
        let resource_index: HashMap<String, usize> =
            resources.iter().enumerate().map(|(i, r)| (r.name.clone(), i)).collect();
        let links = links(system, &layer_index, layers.len());

        // Components.
        let names: Vec<&String> = system.components.keys().collect();
        let comp_index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
        let graph = system.graph();
        let topo: Vec<usize> = match graph.topological_order() {
            Ok(order) => order.iter().filter_map(|c| comp_index.get(c).copied()).collect(),
            Err(cycle) => {
                diags.push(Diagnostic::error(
                    file,
                    "DirectedAcyclicGraph",
                    format!("the graph has a cycle: {}", cycle.join(" -> ")),
                ));
                return Err(diags);
            }
        };
        let mut components = components(system, &names, &comp_index, &topo);
        let mut pc = PartitionCompiler {
            system,
            file,
            comp_index: &comp_index,
            resource_index: &resource_index,
            resources: &resources,
            partitions: Vec::new(),
            predictors: Vec::new(),
        };
        pc.compile(&mut components, &mut diags);
        let (partitions, predictors) = (pc.partitions, pc.predictors);
        let globals = globals(system, file, &comp_index, &graph, &mut diags);

        let mut model = Model {
            components,
            partitions,
            resources,
            layers,
            globals,
            topo,
            lambda: system.lambda,
            time: system.time,
            links,
            resource_index,
            predictors,
        };
        model.check_links(file, &mut diags);
        if diags.has_errors() {
            return Err(diags.sorted());
        }
        model.set_lambda(system.lambda);
        Ok(model)
    }

    /// Checks that every pair of resources that may have to talk has a common network domain.
    fn check_links(&self, file: &str, diags: &mut Diagnostics) {
        for p in &self.partitions {
            let comp = &self.components[p.component];
            let dep = &comp.deployments[p.deployment];
            let next_parts: Vec<usize> = if p.position + 1 < dep.partitions.len() {
                vec![dep.partitions[p.position + 1]]
            } else {
                comp.successors
                    .iter()
                    .flat_map(|&s| self.components[s].deployments.iter().map(|d| d.partitions[0]))
                    .collect()
            };
            for q in next_parts {
                for a in &p.options {
                    for b in &self.partitions[q].options {
                        let (la, lb) = (self.resources[a.0].layer, self.resources[b.0].layer);
                        if a.0 != b.0 && self.links[la][lb].is_empty() {
                            diags.push(Diagnostic::error(
                                file,
                                "NetworkTechnology",
                                format!(
                                    "layers `{}` and `{}` share no network domain, but `{}` may run on `{}` and send to `{}` on `{}`",
                                    self.layers[la].name,
                                    self.layers[lb].name,
                                    p.name,
                                    self.resources[a.0].name,
                                    self.partitions[q].name,
                                    self.resources[b.0].name
                                ),
                            ));
                        }
                    }
                }
            }
        }
    }

    /// Leaves out, for every partition, the resources `keep` refuses (SPACE4AI-R's rules on
    /// what may change at runtime). A partition may be left with no option: no solution then
    /// uses its component's deployment.
    pub fn keep_resources(&mut self, keep: impl Fn(usize) -> bool) {
        for p in &mut self.partitions {
            let kept: Vec<usize> = (0..p.options.len()).filter(|&i| keep(p.options[i].0)).collect();
            p.options = kept.iter().map(|&i| p.options[i]).collect();
            p.faas_response = kept.iter().map(|&i| p.faas_response[i]).collect();
            p.option_of.fill(u32::MAX);
            for (i, o) in p.options.iter().enumerate() {
                if p.option_of[o.0] == u32::MAX {
                    p.option_of[o.0] = i as u32;
                }
            }
        }
    }

    /// Changes the application's arrival rate (and what depends on it).
    pub fn set_lambda(&mut self, lambda: f64) {
        self.lambda = lambda;
        for p in 0..self.partitions.len() {
            let (c, d, k) = (self.partitions[p].component, self.partitions[p].deployment, self.partitions[p].position);
            let rate = self.components[c].rate_factor * lambda * self.components[c].deployments[d].reach[k];
            let rts: Vec<f64> = self.partitions[p]
                .options
                .iter()
                .map(|&(r, _, perf)| match perf {
                    Perf::Faas { warm, cold } if rate > 0.0 => {
                        crate::pacsltk::serverless(rate, warm, cold, self.resources[r].idle_time).avg_resp_time
                    }
                    Perf::Faas { warm, .. } => warm,
                    Perf::Queue { .. } | Perf::Predictor { .. } => f64::NAN,
                })
                .collect();
            self.partitions[p].faas_response = rts;
        }
    }

    /// Seconds to send `data` MB from resource `a` to resource `b`.
    pub fn delay(&self, a: usize, b: usize, data: f64) -> f64 {
        if a == b {
            return 0.0;
        }
        let (la, lb) = (self.resources[a].layer, self.resources[b].layer);
        self.links[la][lb].iter().map(|(acc, bw)| acc + data / bw).fold(f64::INFINITY, f64::min)
    }

    pub fn is_edge(&self, r: usize) -> bool {
        self.resources[r].kind == ResourceKind::Edge
    }

    /// Whether some option is a trained predictor (their response time need not fall as
    /// instances are added: the exact method and its bounds do not apply).
    pub fn has_predictors(&self) -> bool {
        !self.predictors.is_empty()
    }

    pub fn is_faas(&self, r: usize) -> bool {
        self.resources[r].kind == ResourceKind::Faas
    }
}

/// The layers (edge, then cloud, then FaaS, each in file order) with their resources, and
/// the index of each layer by name.
fn layers_and_resources(system: &System) -> (Vec<Layer>, Vec<Resource>, HashMap<&str, usize>) {
    let mut layers = Vec::new();
    let mut resources = Vec::new();
    let mut layer_index: HashMap<&str, usize> = HashMap::new();
    for (kind, group) in [(ResourceKind::Edge, &system.edge_resources), (ResourceKind::Cloud, &system.cloud_resources)]
    {
        for (lname, rs) in group {
            let li = layers.len();
            layer_index.insert(lname.as_str(), li);
            let mut ids = Vec::new();
            for (rname, r) in rs {
                ids.push(resources.len());
                resources.push(Resource {
                    name: rname.clone(),
                    layer: li,
                    kind,
                    number: r.number,
                    cost: r.cost,
                    memory: r.memory,
                    idle_time: 0.0,
                    cores: f64::from(r.n_cores.unwrap_or(1).max(1)),
                    description: r.description.clone().unwrap_or_else(|| "No description available".into()),
                });
            }
            layers.push(Layer { name: lname.clone(), kind, resources: ids, transition_cost: 0.0 });
        }
    }
    for (lname, l) in &system.faas_resources {
        let li = layers.len();
        layer_index.insert(lname.as_str(), li);
        let mut ids = Vec::new();
        for (rname, r) in &l.resources {
            ids.push(resources.len());
            resources.push(Resource {
                name: rname.clone(),
                layer: li,
                kind: ResourceKind::Faas,
                number: 1,
                cost: r.cost,
                memory: r.memory,
                idle_time: r.idle_time_before_kill,
                cores: 1.0,
                description: r.description.clone().unwrap_or_else(|| "No description available".into()),
            });
        }
        layers.push(Layer {
            name: lname.clone(),
            kind: ResourceKind::Faas,
            resources: ids,
            transition_cost: l.transition_cost.unwrap_or(0.0),
        });
    }
    (layers, resources, layer_index)
}

/// For each pair of layers (a, b): the network domains that list both, as (access delay,
/// bandwidth).
fn links(system: &System, layer_index: &HashMap<&str, usize>, nl: usize) -> Vec<Vec<Vec<(f64, f64)>>> {
    let mut links = vec![vec![Vec::new(); nl]; nl];
    for d in system.network.values() {
        let ls: Vec<usize> =
            d.computational_layers.iter().filter_map(|l| layer_index.get(l.as_str()).copied()).collect();
        for &a in &ls {
            for &b in &ls {
                links[a][b].push((d.access_delay, d.bandwidth));
            }
        }
    }
    links
}

/// The components (named `names`, without their deployments yet) with their local
/// thresholds, DAG neighbours and arrival rates relative to Lambda.
fn components(system: &System, names: &[&String], comp_index: &HashMap<&str, usize>, topo: &[usize]) -> Vec<Component> {
    let mut components: Vec<Component> = names
        .iter()
        .map(|n| Component {
            name: n.to_string(),
            deployments: Vec::new(),
            rate_factor: 0.0,
            local_threshold: system.local_constraints.get(n.as_str()).map(|c| c.local_res_time),
            successors: Vec::new(),
            predecessors: Vec::new(),
        })
        .collect();
    for (c, node) in &system.dag {
        let Some(&ci) = comp_index.get(c.as_str()) else { continue };
        for n in &node.next {
            if let Some(&ni) = comp_index.get(n.as_str()) {
                components[ci].successors.push(ni);
                components[ni].predecessors.push(ci);
            }
        }
    }
    // Arrival rates relative to Lambda: sources get 1.
    for &c in topo {
        let preds = &components[c].predecessors;
        let rate = if preds.is_empty() {
            1.0
        } else {
            let name = &components[c].name;
            preds
                .iter()
                .map(|&p| {
                    let node = &system.dag[components[p].name.as_str()];
                    let k = node.next.iter().position(|x| x == name).unwrap_or(0);
                    node.transition_probability.get(k).copied().unwrap_or(0.0) * components[p].rate_factor
                })
                .sum()
        };
        components[c].rate_factor = rate;
    }
    components
}

/// Compiles the partitions of every deployment: their options (compatible resources with the
/// memory needed and the performance model there) and the data they send on.
struct PartitionCompiler<'a> {
    system: &'a System,
    file: &'a str,
    comp_index: &'a HashMap<&'a str, usize>,
    resource_index: &'a HashMap<String, usize>,
    resources: &'a [Resource],
    partitions: Vec<Partition>,
    predictors: Vec<Predictor>,
}

impl PartitionCompiler<'_> {
    /// The partitions of all components, in file order, with each component's deployments.
    fn compile(&mut self, components: &mut [Component], diags: &mut Diagnostics) {
        let system = self.system;
        for (ci, (cname, deps)) in system.components.iter().enumerate() {
            for (di, (dname, parts)) in deps.iter().enumerate() {
                let mut ids = Vec::new();
                let mut reach = Vec::new();
                let mut p_reach = 1.0;
                let count = parts.len();
                for (k, (hname, h)) in parts.iter().enumerate() {
                    let last = k + 1 == count;
                    let options = self.options(cname, hname, diags);
                    if options.is_empty() {
                        diags.push(Diagnostic::error(
                            self.file,
                            format!("CompatibilityMatrix.{cname}.{hname}"),
                            "no compatible resource",
                        ));
                    }
                    let data_to_next = if last { 0.0 } else { h.data_size.first().copied().unwrap_or(0.0) };
                    let data_to_components = if last {
                        h.next
                            .iter()
                            .enumerate()
                            .filter_map(|(i, n)| {
                                self.comp_index
                                    .get(n.as_str())
                                    .map(|&ni| (ni, h.data_size.get(i).copied().unwrap_or(0.0)))
                            })
                            .collect()
                    } else {
                        Vec::new()
                    };
                    ids.push(self.partitions.len());
                    reach.push(p_reach);
                    p_reach *= 1.0 - h.early_exit_probability;
                    let mut option_of = vec![u32::MAX; self.resources.len()];
                    for (i, o) in options.iter().enumerate() {
                        if option_of[o.0] == u32::MAX {
                            option_of[o.0] = i as u32;
                        }
                    }
                    self.partitions.push(Partition {
                        name: hname.clone(),
                        component: ci,
                        deployment: di,
                        position: k,
                        early_exit: h.early_exit_probability,
                        data_to_next,
                        data_to_components,
                        faas_response: vec![f64::NAN; options.len()],
                        options,
                        option_of,
                    });
                }
                components[ci].deployments.push(Deployment { name: dname.clone(), partitions: ids, reach });
            }
        }
    }

    /// The options of partition `hname` of component `cname`: each compatible resource with
    /// the memory needed there and its performance model; those without a usable model are
    /// reported and left out.
    fn options(&mut self, cname: &str, hname: &str, diags: &mut Diagnostics) -> Vec<(usize, f64, Perf)> {
        let system = self.system;
        let mut options = Vec::new();
        for cm in system.compatibility.get(cname).and_then(|m| m.get(hname)).into_iter().flatten() {
            let Some(&ri) = self.resource_index.get(cm.resource.as_str()) else { continue };
            let model = system.performance.get(cname).and_then(|m| m.get(hname)).and_then(|m| m.get(&cm.resource));
            let perf = match model {
                Some(PerformanceModel::QtEdge { demand } | PerformanceModel::QtCloud { demand }) => {
                    Perf::Queue { demand: *demand }
                }
                Some(PerformanceModel::Pacsltk { demand_warm, demand_cold }) => {
                    Perf::Faas { warm: *demand_warm, cold: *demand_cold }
                }
                Some(PerformanceModel::CoreBased(pr) | PerformanceModel::LambdaBased(pr)) => {
                    let throughput = matches!(model, Some(PerformanceModel::LambdaBased(_)));
                    let key = format!("Performance.{cname}.{hname}.{}", cm.resource);
                    let Some(perf) = self.predictor(key, pr, throughput, ri, diags) else { continue };
                    perf
                }
                None => {
                    diags.push(Diagnostic::error(
                        self.file,
                        format!("Performance.{cname}.{hname}"),
                        format!("no performance model for resource `{}`", cm.resource),
                    ));
                    continue;
                }
            };
            options.push((ri, cm.memory, perf));
        }
        options
    }

    /// A trained predictor on resource `ri` (`throughput`: it also reads the arrival rate),
    /// or `None` when it cannot be used there (reported at `key`).
    fn predictor(
        &mut self,
        key: String,
        pr: &PredictorSpec,
        throughput: bool,
        ri: usize,
        diags: &mut Diagnostics,
    ) -> Option<Perf> {
        let err = |msg: String| Diagnostic::error(self.file, key.clone(), msg);
        if self.resources[ri].kind == ResourceKind::Faas {
            diags.push(err("a trained predictor models an edge node or a VM, not a FaaS resource".into()));
            return None;
        }
        let Some(regressor) = pr.regressor.as_deref() else {
            diags.push(err("the predictor's model is missing (`regressor`)".into()));
            return None;
        };
        if let Err(e) = regressor.check() {
            diags.push(err(e));
            return None;
        }
        if throughput != regressor.inputs.iter().any(|i| i == aisprint_model::perfmodel::THROUGHPUT) {
            diags.push(err(
                "LambdaBasedPredictor takes a model of the cores and the observed throughput, CoreBasedPredictor one of the cores alone".into(),
            ));
            return None;
        }
        let cores_per_instance = pr.cores_per_instance.unwrap_or(self.resources[ri].cores);
        self.predictors.push(Predictor { regressor: regressor.clone(), throughput, cores_per_instance });
        Some(Perf::Predictor { id: (self.predictors.len() - 1) as u32 })
    }
}

/// The global constraints, their paths as component indices; a path that names an unknown
/// component or is not a path of the DAG is reported.
fn globals(
    system: &System,
    file: &str,
    comp_index: &HashMap<&str, usize>,
    graph: &Graph,
    diags: &mut Diagnostics,
) -> Vec<GlobalConstraint> {
    let mut globals = Vec::new();
    for (p, gc) in &system.global_constraints {
        let path: Vec<usize> = gc.components.iter().filter_map(|c| comp_index.get(c.as_str()).copied()).collect();
        if path.len() != gc.components.len() {
            diags.push(Diagnostic::error(
                file,
                format!("GlobalConstraints.{p}.components"),
                "names a component that does not exist",
            ));
            continue;
        }
        if let Err(msg) = graph.check_path(&gc.components) {
            diags.push(Diagnostic::error(file, format!("GlobalConstraints.{p}.components"), msg));
            continue;
        }
        globals.push(GlobalConstraint { name: p.clone(), path, threshold: gc.global_res_time });
    }
    globals
}
