//! Evaluating a solution: arrival rates, utilisations, response times, every feasibility
//! rule of the model and the cost. The evaluator explains infeasibility: each violated rule
//! with the component or resource and by how much.

use std::fmt;

use crate::model::{Model, Perf};

/// Placement of every component: its deployment, a resource per active partition and an
/// instance count per resource.
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Solution {
    /// Deployment index per component.
    pub deployment: Vec<usize>,
    /// Resource per global partition index; [`NONE`] for partitions of unused deployments.
    pub placement: Vec<usize>,
    /// Instances per resource (0 when unused; FaaS resources count 1 when used).
    pub instances: Vec<u32>,
}

impl Clone for Solution {
    fn clone(&self) -> Self {
        Solution {
            deployment: self.deployment.clone(),
            placement: self.placement.clone(),
            instances: self.instances.clone(),
        }
    }

    /// Reuses the buffers (the search copies solutions in its inner loops).
    fn clone_from(&mut self, source: &Self) {
        self.deployment.clone_from(&source.deployment);
        self.placement.clone_from(&source.placement);
        self.instances.clone_from(&source.instances);
    }
}

/// No resource.
pub const NONE: usize = usize::MAX;

/// One broken rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    /// A partition sits on a resource its compatibility list does not name.
    Incompatible { partition: String, component: String, resource: String },
    /// More than one resource of an edge/VM layer is used.
    LayerShared { layer: String, resources: Vec<String> },
    /// An instance count outside `1..=number`.
    Instances { resource: String, instances: u32, available: u32 },
    /// The partitions on a resource need more memory than it has (MB).
    Memory { resource: String, needed: f64, available: f64 },
    /// Back to the edge after a VM or FaaS resource.
    BackToEdge { component: String, partition: String, resource: String },
    /// A queue that cannot keep up (`utilization >= 1`).
    Utilization { resource: String, utilization: f64 },
    /// A partition with a trained predictor shares its resource (it must run alone there).
    NotAlone { resource: String, partitions: u32 },
    /// A component slower than its local constraint (s).
    Local { component: String, response_time: f64, threshold: f64 },
    /// A path slower than its global constraint (s).
    Global { constraint: String, response_time: f64, threshold: f64 },
}

impl Violation {
    /// How far beyond the rule, relative (0 = at the limit); used to rank infeasible
    /// solutions by how much they violate.
    pub fn amount(&self) -> f64 {
        match self {
            Violation::Incompatible { .. } | Violation::BackToEdge { .. } => 1.0,
            Violation::LayerShared { resources, .. } => resources.len() as f64 - 1.0,
            Violation::Instances { instances, available, .. } => {
                if *instances == 0 {
                    1.0
                } else {
                    (*instances as f64 - *available as f64) / (*available).max(1) as f64
                }
            }
            Violation::Memory { needed, available, .. } => (needed - available) / available,
            Violation::Utilization { utilization, .. } => utilization - 1.0 + 1e-9,
            Violation::NotAlone { partitions, .. } => f64::from(*partitions) - 1.0,
            Violation::Local { response_time, threshold, .. } | Violation::Global { response_time, threshold, .. } => {
                if response_time.is_finite() {
                    (response_time - threshold) / threshold
                } else {
                    1e6
                }
            }
        }
    }

    /// The rule's short name.
    pub fn rule(&self) -> &'static str {
        match self {
            Violation::Incompatible { .. } => "compatibility",
            Violation::LayerShared { .. } => "one resource per layer",
            Violation::Instances { .. } => "instances",
            Violation::Memory { .. } => "memory",
            Violation::BackToEdge { .. } => "no way back to the edge",
            Violation::Utilization { .. } => "utilization",
            Violation::NotAlone { .. } => "a predicted partition runs alone",
            Violation::Local { .. } => "local constraint",
            Violation::Global { .. } => "global constraint",
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Incompatible { partition, component, resource } => {
                write!(f, "{component}/{partition} cannot run on {resource} (not in its CompatibilityMatrix)")
            }
            Violation::LayerShared { layer, resources } => {
                write!(f, "layer {layer} uses {} resources ({}); at most one", resources.len(), resources.join(", "))
            }
            Violation::Instances { resource, instances, available } => {
                write!(f, "{resource}: {instances} instances, allowed 1 to {available}")
            }
            Violation::Memory { resource, needed, available } => {
                write!(
                    f,
                    "{resource}: needs {needed} MB, has {available} MB ({:.1}% over)",
                    100.0 * (needed - available) / available
                )
            }
            Violation::BackToEdge { component, partition, resource } => {
                write!(f, "{component}/{partition} runs on edge resource {resource} after a VM or FaaS resource")
            }
            Violation::Utilization { resource, utilization } => {
                write!(f, "{resource}: utilization {utilization:.4} >= 1 (the queue grows without bound)")
            }
            Violation::NotAlone { resource, partitions } => write!(
                f,
                "{resource}: {partitions} partitions, and one of them has a trained predictor (CoreBased/LambdaBasedPredictor): it must run alone there"
            ),
            Violation::Local { component, response_time, threshold } => write!(
                f,
                "{component}: response time {response_time:.6} s > local threshold {threshold} s (by {:.6} s)",
                response_time - threshold
            ),
            Violation::Global { constraint, response_time, threshold } => write!(
                f,
                "{constraint}: path response time {response_time:.6} s > global threshold {threshold} s (by {:.6} s)",
                response_time - threshold
            ),
        }
    }
}

/// The full picture of a solution.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub feasible: bool,
    pub cost: f64,
    pub violations: Vec<Violation>,
    /// Per global partition (NaN when inactive).
    pub partition_response: Vec<f64>,
    pub component_response: Vec<f64>,
    pub path_response: Vec<f64>,
    pub utilization: Vec<f64>,
}

impl Evaluation {
    /// Sum of the violations' amounts (0 when feasible).
    pub fn violation(&self) -> f64 {
        self.violations.iter().map(Violation::amount).sum()
    }
}

/// Scratch space reused across evaluations.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    load: Vec<f64>,
    memory: Vec<f64>,
    used: Vec<bool>,
    layer_used: Vec<usize>,
    layer_conflict: Vec<bool>,
    pub part_rt: Vec<f64>,
    pub comp_rt: Vec<f64>,
    /// The cost of the last solution evaluated in full mode.
    pub cost: f64,
    cloud_reached: Vec<bool>,
    /// Per resource: instances x cost x horizon (edge/VM) or the FaaS cost of its partitions.
    res_cost: Vec<f64>,
    /// Per resource: partitions on it, and whether one has a predictor.
    parts: Vec<u32>,
    predicted: Vec<bool>,
}

/// How much detail an evaluation gathers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Stop at the first violation.
    Feasibility,
    /// Every violation, every response time.
    Full,
}

impl Workspace {
    /// Clears the scratch space for `model`.
    #[inline]
    fn reset(&mut self, model: &Model) {
        let nr = model.resources.len();
        self.load.clear();
        self.load.resize(nr, 0.0);
        self.memory.clear();
        self.memory.resize(nr, 0.0);
        self.used.clear();
        self.used.resize(nr, false);
        self.res_cost.clear();
        self.res_cost.resize(nr, 0.0);
        self.parts.clear();
        self.parts.resize(nr, 0);
        self.predicted.clear();
        self.predicted.resize(nr, false);
        self.layer_used.clear();
        self.layer_used.resize(model.layers.len(), NONE);
        self.layer_conflict.clear();
        self.layer_conflict.resize(model.layers.len(), false);
        self.part_rt.clear();
        self.part_rt.resize(model.partitions.len(), f64::NAN);
        self.comp_rt.clear();
        self.comp_rt.resize(model.components.len(), f64::NAN);
        self.cloud_reached.clear();
        self.cloud_reached.resize(model.components.len(), false);
    }
}

/// What an evaluation has found so far: whether the solution is still feasible, and in full
/// mode the violations.
struct Verdict<'o> {
    full: bool,
    ok: bool,
    out: &'o mut Vec<Violation>,
}

/// Records violation `$violation` in verdict `$v`; in feasibility mode, returns `None` at
/// once (the violation is not even built).
macro_rules! fail {
    ($v:ident, $violation:expr) => {{
        $v.ok = false;
        if !$v.full {
            return None;
        }
        $v.out.push($violation);
    }};
}

/// Evaluates `sol`: its cost when feasible, `None` otherwise. Response times are left in
/// `ws`; in full mode, every violation goes to `out` and `ws.cost` holds the cost whatever
/// the feasibility (feasibility mode stops at the first violation).
pub fn evaluate_with(
    model: &Model,
    sol: &Solution,
    ws: &mut Workspace,
    mode: Mode,
    out: &mut Vec<Violation>,
) -> Option<f64> {
    ws.reset(model);
    let mut v = Verdict { full: mode == Mode::Full, ok: true, out };
    place(model, sol, ws, &mut v)?;
    if v.full {
        layer_conflicts(model, ws, &mut v)?;
    }
    instances(model, sol, ws, &mut v)?;
    // Summed per resource, in resource order (as the incremental evaluation does).
    let cost: f64 = ws.res_cost.iter().sum();
    response_times(model, sol, ws, &mut v)?;
    ws.cost = cost;
    v.ok.then_some(cost)
}

/// Placement, compatibility, memory and load, no way back to the edge: each partition's
/// memory and load go to its resource, its FaaS cost to `ws.res_cost`.
#[inline]
fn place(model: &Model, sol: &Solution, ws: &mut Workspace, v: &mut Verdict<'_>) -> Option<()> {
    for &c in &model.topo {
        let comp = &model.components[c];
        let dep = &comp.deployments[sol.deployment[c]];
        let rate = comp.rate_factor * model.lambda;
        let mut reached = comp.predecessors.iter().any(|&p| ws.cloud_reached[p]);
        for (k, &h) in dep.partitions.iter().enumerate() {
            let r = sol.placement[h];
            let part = &model.partitions[h];
            let Some(&(_, mem, perf)) = (r != NONE).then(|| part.option(r)).flatten() else {
                fail!(
                    v,
                    Violation::Incompatible {
                        partition: part.name.clone(),
                        component: comp.name.clone(),
                        resource: model.resources.get(r).map_or("nothing".into(), |x| x.name.clone()),
                    }
                );
                continue;
            };
            let edge = model.is_edge(r);
            if edge && reached {
                fail!(
                    v,
                    Violation::BackToEdge {
                        component: comp.name.clone(),
                        partition: part.name.clone(),
                        resource: model.resources[r].name.clone()
                    }
                );
            }
            if !edge {
                reached = true;
            }
            ws.used[r] = true;
            let lam_h = rate * dep.reach[k];
            if model.is_faas(r) {
                if let Perf::Faas { warm, .. } = perf {
                    ws.res_cost[r] += faas_cost(model, r, warm, lam_h);
                }
                if mem > model.resources[r].memory {
                    fail!(
                        v,
                        Violation::Memory {
                            resource: model.resources[r].name.clone(),
                            needed: mem,
                            available: model.resources[r].memory
                        }
                    );
                }
            } else {
                ws.memory[r] += mem;
                ws.parts[r] += 1;
                match perf {
                    Perf::Queue { demand } => ws.load[r] += demand * lam_h,
                    Perf::Predictor { .. } => ws.predicted[r] = true,
                    Perf::Faas { .. } => {}
                }
                let l = model.resources[r].layer;
                if ws.layer_used[l] == NONE {
                    ws.layer_used[l] = r;
                } else if ws.layer_used[l] != r {
                    ws.layer_conflict[l] = true;
                    if !v.full {
                        return None;
                    }
                }
            }
        }
        ws.cloud_reached[c] = reached;
    }
    Some(())
}

/// The layers with more than one resource in use (full mode).
#[inline]
fn layer_conflicts(model: &Model, ws: &Workspace, v: &mut Verdict<'_>) -> Option<()> {
    for (l, layer) in model.layers.iter().enumerate() {
        if ws.layer_conflict[l] {
            let rs: Vec<String> =
                layer.resources.iter().filter(|&&r| ws.used[r]).map(|&r| model.resources[r].name.clone()).collect();
            fail!(v, Violation::LayerShared { layer: layer.name.clone(), resources: rs });
        }
    }
    Some(())
}

/// Instances, memory, utilisation and cost of each edge/VM resource in use; `ws.load` holds
/// utilisations from here on.
#[inline]
fn instances(model: &Model, sol: &Solution, ws: &mut Workspace, v: &mut Verdict<'_>) -> Option<()> {
    for r in 0..model.resources.len() {
        if !ws.used[r] {
            continue;
        }
        let res = &model.resources[r];
        if model.is_faas(r) {
            continue;
        }
        let n = sol.instances[r];
        ws.res_cost[r] = res.cost * n as f64 * model.time;
        if ws.predicted[r] && ws.parts[r] > 1 {
            fail!(v, Violation::NotAlone { resource: res.name.clone(), partitions: ws.parts[r] });
        }
        if n == 0 || n > res.number {
            fail!(v, Violation::Instances { resource: res.name.clone(), instances: n, available: res.number });
        }
        if ws.memory[r] > res.memory {
            fail!(v, Violation::Memory { resource: res.name.clone(), needed: ws.memory[r], available: res.memory });
        }
        let u = if n == 0 { f64::INFINITY } else { ws.load[r] / n as f64 };
        ws.load[r] = u; // from here on: utilisation
        if u >= 1.0 && n > 0 {
            fail!(v, Violation::Utilization { resource: res.name.clone(), utilization: u });
        }
    }
    Some(())
}

/// Response times of the components (in `ws`) against their local thresholds, then of the
/// paths against the global ones.
#[inline]
fn response_times(model: &Model, sol: &Solution, ws: &mut Workspace, v: &mut Verdict<'_>) -> Option<()> {
    for &c in &model.topo {
        let comp = &model.components[c];
        let total = component_response(model, sol, c, &ws.load, &mut ws.part_rt);
        ws.comp_rt[c] = total;
        if let Some(thr) = comp.local_threshold {
            if !(total <= thr) {
                fail!(v, Violation::Local { component: comp.name.clone(), response_time: total, threshold: thr });
            }
        }
    }
    for g in &model.globals {
        let rt = path_response(model, sol, &ws.comp_rt, &g.path);
        if !(rt <= g.threshold) {
            fail!(v, Violation::Global { constraint: g.name.clone(), response_time: rt, threshold: g.threshold });
        }
    }
    Some(())
}

/// The cost of running a partition at rate `rate` on FaaS resource `r` for the horizon.
pub(crate) fn faas_cost(model: &Model, r: usize, warm: f64, rate: f64) -> f64 {
    model.resources[r].cost * warm * rate * model.time
}

/// What a partition's response time depends on besides its option: the utilisation of its
/// resource, the resource's instances and the partition's arrival rate.
#[derive(Debug, Clone, Copy)]
struct Load {
    util: f64,
    instances: u32,
    rate: f64,
}

/// Response time of one partition on `r` (its option `oi`).
fn partition_response(model: &Model, h: usize, oi: usize, perf: Perf, r: usize, at: Load) -> f64 {
    let util = at.util;
    match perf {
        Perf::Predictor { id } => match model.predictors.get(id as usize) {
            Some(p) => p.response(at.instances, at.rate),
            None => f64::INFINITY,
        },
        Perf::Queue { demand } => {
            let u = if model.is_faas(r) { 0.0 } else { util };
            if u >= 1.0 {
                f64::INFINITY
            } else {
                demand / (1.0 - u)
            }
        }
        Perf::Faas { .. } => model.partitions[h].faas_response[oi],
    }
}

/// Response time of component `c` (its partitions' times, weighted by the probability of
/// reaching them, plus the delays between them), given the utilisation `util` of every
/// resource; each active partition's time goes to `part_rt`. Infinite when a partition has
/// no compatible placement.
pub(crate) fn component_response(model: &Model, sol: &Solution, c: usize, util: &[f64], part_rt: &mut [f64]) -> f64 {
    let dep = &model.components[c].deployments[sol.deployment[c]];
    let rate = model.components[c].rate_factor * model.lambda;
    let mut total = 0.0;
    let mut prev: Option<(usize, f64)> = None;
    for (k, &h) in dep.partitions.iter().enumerate() {
        let r = sol.placement[h];
        let part = &model.partitions[h];
        let Some((oi, &(_, _, perf))) = (r != NONE).then(|| part.option_at(r)).flatten() else {
            total = f64::INFINITY;
            part_rt[h] = f64::NAN;
            continue;
        };
        let at = Load { util: util[r], instances: sol.instances[r], rate: rate * dep.reach[k] };
        let rt = partition_response(model, h, oi, perf, r, at);
        part_rt[h] = rt;
        match prev {
            None => total += rt,
            Some((pr, data)) => total += dep.reach[k] * (rt + model.delay(pr, r, data)),
        }
        prev = Some((r, part.data_to_next));
    }
    total
}

/// Response time of a path: its components (times in `comp_rt`) plus the expected delays
/// between them.
pub fn path_response(model: &Model, sol: &Solution, comp_rt: &[f64], path: &[usize]) -> f64 {
    let mut rt: f64 = path.iter().map(|&c| comp_rt[c]).sum();
    for w in path.windows(2) {
        let (a, b) = (w[0], w[1]);
        let dep_a = &model.components[a].deployments[sol.deployment[a]];
        let first_b = model.components[b].deployments[sol.deployment[b]].partitions[0];
        let rb = sol.placement[first_b];
        let last = *dep_a.partitions.last().unwrap_or(&0);
        let data = model.partitions[last].data_to_components.iter().find(|(c, _)| *c == b).map_or(0.0, |x| x.1);
        let n = dep_a.partitions.len();
        for (k, &p) in dep_a.partitions.iter().enumerate() {
            let part = &model.partitions[p];
            let exit = if k + 1 == n { dep_a.reach[k] } else { dep_a.reach[k] * part.early_exit };
            if exit > 0.0 {
                let ra = sol.placement[p];
                if ra == NONE || rb == NONE {
                    return f64::INFINITY;
                }
                rt += exit * model.delay(ra, rb, data);
            }
        }
    }
    rt
}

/// Full evaluation.
pub fn evaluate(model: &Model, sol: &Solution) -> Evaluation {
    let mut ws = Workspace::default();
    let mut violations = Vec::new();
    evaluate_with(model, sol, &mut ws, Mode::Full, &mut violations);
    let path_response = model.globals.iter().map(|g| path_response(model, sol, &ws.comp_rt, &g.path)).collect();
    let utilization =
        (0..model.resources.len()).map(|r| if ws.used[r] && !model.is_faas(r) { ws.load[r] } else { 0.0 }).collect();
    let cost = ws.cost;
    Evaluation {
        feasible: violations.is_empty(),
        cost,
        violations,
        partition_response: ws.part_rt.clone(),
        component_response: ws.comp_rt.clone(),
        path_response,
        utilization,
    }
}
