//! Incremental evaluation: a solution's loads, response times, rule checks and cost kept up
//! to date while the search moves from solution to solution. Going to a neighbour recomputes
//! only what the move touches: the resources whose partitions or instance counts changed,
//! the components with a partition on them or whose placement changed, and the paths through
//! those components. The answer is the one [`evaluate`](crate::eval::evaluate) gives (the
//! tests check it on random walks).

use crate::eval::{component_response, faas_cost, path_response, Solution, NONE};
use crate::model::{Model, Perf};

/// The evaluated state of one solution.
#[derive(Debug, Clone)]
pub struct Incremental {
    sol: Solution,
    /// Active partitions on each resource.
    on: Vec<Vec<usize>>,
    /// Per resource: raw load (sum of demand x rate), memory placed, FaaS cost, and the
    /// utilisation (load / instances) the response times use.
    load: Vec<f64>,
    memory: Vec<f64>,
    res_cost: Vec<f64>,
    util: Vec<f64>,
    part_rt: Vec<f64>,
    comp_rt: Vec<f64>,
    path_rt: Vec<f64>,
    /// Broken-rule flags; `bad` counts the set ones.
    res_bad: Vec<bool>,
    comp_bad: Vec<bool>,
    path_bad: Vec<bool>,
    layer_bad: Vec<bool>,
    edge_bad: bool,
    bad: usize,
    /// Each partition's place in the evaluation order (topological order of the components,
    /// then chain order); the lists in `on` keep it, so that sums are made in the order of a
    /// full evaluation and give the same bits.
    rank: Vec<usize>,
    /// The global constraints through each component.
    comp_paths: Vec<Vec<usize>>,
    /// Scratch: what the current move touched.
    dirty_res: Vec<usize>,
    dirty_comp: Vec<usize>,
    dirty_path: Vec<usize>,
    mark_res: Vec<bool>,
    mark_comp: Vec<bool>,
    mark_path: Vec<bool>,
    cloud_reached: Vec<bool>,
}

fn flag(bad: &mut usize, slot: &mut bool, now: bool) {
    if *slot != now {
        if now {
            *bad += 1;
        } else {
            *bad -= 1;
        }
        *slot = now;
    }
}

fn mark(list: &mut Vec<usize>, marks: &mut [bool], i: usize) {
    if !marks[i] {
        marks[i] = true;
        list.push(i);
    }
}

impl Incremental {
    /// The state of `sol`, evaluated in full.
    pub fn new(model: &Model, sol: &Solution) -> Self {
        let (nr, nc, ng) = (model.resources.len(), model.components.len(), model.globals.len());
        let mut comp_paths = vec![Vec::new(); nc];
        for (g, gc) in model.globals.iter().enumerate() {
            for &c in &gc.path {
                comp_paths[c].push(g);
            }
        }
        let mut rank = vec![0; model.partitions.len()];
        let mut next = 0;
        for &c in &model.topo {
            for dep in &model.components[c].deployments {
                for (k, &p) in dep.partitions.iter().enumerate() {
                    rank[p] = next + k;
                }
            }
            next += model.components[c].deployments.iter().map(|d| d.partitions.len()).max().unwrap_or(0);
        }
        let mut inc = Incremental {
            sol: Solution {
                deployment: sol.deployment.clone(),
                placement: sol.placement.clone(),
                instances: sol.instances.clone(),
            },
            on: vec![Vec::new(); nr],
            load: vec![0.0; nr],
            memory: vec![0.0; nr],
            res_cost: vec![0.0; nr],
            util: vec![0.0; nr],
            part_rt: vec![f64::NAN; model.partitions.len()],
            comp_rt: vec![f64::NAN; nc],
            path_rt: vec![f64::NAN; ng],
            res_bad: vec![false; nr],
            comp_bad: vec![false; nc],
            path_bad: vec![false; ng],
            layer_bad: vec![false; model.layers.len()],
            edge_bad: false,
            bad: 0,
            rank,
            comp_paths,
            dirty_res: Vec::new(),
            dirty_comp: Vec::new(),
            dirty_path: Vec::new(),
            mark_res: vec![false; nr],
            mark_comp: vec![false; nc],
            mark_path: vec![false; ng],
            cloud_reached: vec![false; nc],
        };
        for c in 0..nc {
            for &p in &model.components[c].deployments[sol.deployment[c]].partitions {
                if sol.placement[p] != NONE {
                    inc.attach(p, sol.placement[p]);
                }
            }
        }
        for r in 0..nr {
            mark(&mut inc.dirty_res, &mut inc.mark_res, r);
        }
        for c in 0..nc {
            mark(&mut inc.dirty_comp, &mut inc.mark_comp, c);
        }
        inc.refresh(model, true);
        inc
    }

    /// The solution this state describes.
    pub fn solution(&self) -> &Solution {
        &self.sol
    }

    /// Whether every rule holds.
    pub fn feasible(&self) -> bool {
        self.bad == 0
    }

    /// The cost (whatever the feasibility).
    pub fn cost(&self) -> f64 {
        self.res_cost.iter().sum()
    }

    pub fn component_response(&self) -> &[f64] {
        &self.comp_rt
    }

    pub fn path_response(&self) -> &[f64] {
        &self.path_rt
    }

    pub fn partition_response(&self) -> &[f64] {
        &self.part_rt
    }

    /// Moves the state to `target` and returns its cost when feasible.
    pub fn goto(&mut self, model: &Model, target: &Solution) -> Option<f64> {
        let mut placement_changed = false;
        // Components that change deployment: their old partitions leave their resources.
        for c in 0..model.components.len() {
            let (old, new) = (self.sol.deployment[c], target.deployment[c]);
            if old == new {
                continue;
            }
            placement_changed = true;
            for &p in &model.components[c].deployments[old].partitions {
                let r = self.sol.placement[p];
                if r != NONE {
                    self.detach(p, r);
                }
                self.sol.placement[p] = NONE;
            }
            self.sol.deployment[c] = new;
            for &p in &model.components[c].deployments[new].partitions {
                let r = target.placement[p];
                self.sol.placement[p] = r;
                if r != NONE {
                    self.attach(p, r);
                }
            }
            mark(&mut self.dirty_comp, &mut self.mark_comp, c);
        }
        // Partitions whose resource changes (only active ones sit on a resource).
        for p in 0..model.partitions.len() {
            let (old, new) = (self.sol.placement[p], target.placement[p]);
            if old == new {
                continue;
            }
            self.sol.placement[p] = new;
            let part = &model.partitions[p];
            if self.sol.deployment[part.component] != part.deployment {
                continue;
            }
            placement_changed = true;
            if old != NONE {
                self.detach(p, old);
            }
            if new != NONE {
                self.attach(p, new);
            }
            mark(&mut self.dirty_comp, &mut self.mark_comp, part.component);
        }
        for r in 0..model.resources.len() {
            if self.sol.instances[r] != target.instances[r] {
                self.sol.instances[r] = target.instances[r];
                mark(&mut self.dirty_res, &mut self.mark_res, r);
            }
        }
        self.refresh(model, placement_changed);
        self.feasible().then(|| self.cost())
    }

    fn attach(&mut self, p: usize, r: usize) {
        let rank = &self.rank;
        let at = self.on[r].partition_point(|&q| rank[q] < rank[p]);
        self.on[r].insert(at, p);
        mark(&mut self.dirty_res, &mut self.mark_res, r);
    }

    fn detach(&mut self, p: usize, r: usize) {
        if let Some(i) = self.on[r].iter().position(|&x| x == p) {
            self.on[r].remove(i);
        }
        mark(&mut self.dirty_res, &mut self.mark_res, r);
    }

    /// Recomputes what the marks name.
    fn refresh(&mut self, model: &Model, placement_changed: bool) {
        let mut layers_touched = Vec::new();
        for i in 0..self.dirty_res.len() {
            let r = self.dirty_res[i];
            self.mark_res[r] = false;
            self.refresh_resource(model, r);
            for k in 0..self.on[r].len() {
                let c = model.partitions[self.on[r][k]].component;
                mark(&mut self.dirty_comp, &mut self.mark_comp, c);
            }
            if !model.is_faas(r) && !layers_touched.contains(&model.resources[r].layer) {
                layers_touched.push(model.resources[r].layer);
            }
        }
        self.dirty_res.clear();
        for l in layers_touched {
            let used = model.layers[l].resources.iter().filter(|&&r| !self.on[r].is_empty()).count();
            flag(&mut self.bad, &mut self.layer_bad[l], used > 1);
        }
        if placement_changed {
            let now = self.back_to_edge(model);
            flag(&mut self.bad, &mut self.edge_bad, now);
        }
        for i in 0..self.dirty_comp.len() {
            let c = self.dirty_comp[i];
            self.mark_comp[c] = false;
            let rt = component_response(model, &self.sol, c, &self.util, &mut self.part_rt);
            self.comp_rt[c] = rt;
            let broken =
                self.incompatible(model, c) || model.components[c].local_threshold.is_some_and(|thr| !(rt <= thr));
            flag(&mut self.bad, &mut self.comp_bad[c], broken);
            for k in 0..self.comp_paths[c].len() {
                let g = self.comp_paths[c][k];
                mark(&mut self.dirty_path, &mut self.mark_path, g);
            }
        }
        self.dirty_comp.clear();
        for i in 0..self.dirty_path.len() {
            let g = self.dirty_path[i];
            self.mark_path[g] = false;
            let gc = &model.globals[g];
            let rt = path_response(model, &self.sol, &self.comp_rt, &gc.path);
            self.path_rt[g] = rt;
            flag(&mut self.bad, &mut self.path_bad[g], !(rt <= gc.threshold));
        }
        self.dirty_path.clear();
    }

    /// Whether a partition of `c` has no compatible placement.
    fn incompatible(&self, model: &Model, c: usize) -> bool {
        model.components[c].deployments[self.sol.deployment[c]]
            .partitions
            .iter()
            .any(|&p| self.sol.placement[p] == NONE || model.partitions[p].option(self.sol.placement[p]).is_none())
    }

    fn refresh_resource(&mut self, model: &Model, r: usize) {
        let res = &model.resources[r];
        let (mut load, mut memory, mut cost, mut broken) = (0.0, 0.0, 0.0, false);
        let mut predicted = false;
        for &p in &self.on[r] {
            let part = &model.partitions[p];
            let Some(&(_, mem, perf)) = part.option(r) else { continue };
            let comp = &model.components[part.component];
            let rate = comp.rate_factor * model.lambda * comp.deployments[part.deployment].reach[part.position];
            if model.is_faas(r) {
                if let Perf::Faas { warm, .. } = perf {
                    cost += faas_cost(model, r, warm, rate);
                }
                broken |= mem > res.memory;
            } else {
                memory += mem;
                match perf {
                    Perf::Queue { demand } => load += demand * rate,
                    Perf::Predictor { .. } => predicted = true,
                    Perf::Faas { .. } => {}
                }
            }
        }
        let n = self.sol.instances[r];
        let mut util = 0.0;
        if !model.is_faas(r) && !self.on[r].is_empty() {
            cost = res.cost * n as f64 * model.time;
            util = if n == 0 { f64::INFINITY } else { load / n as f64 };
            broken =
                n == 0 || n > res.number || memory > res.memory || util >= 1.0 || (predicted && self.on[r].len() > 1);
        }
        self.load[r] = load;
        self.memory[r] = memory;
        self.res_cost[r] = cost;
        self.util[r] = util;
        flag(&mut self.bad, &mut self.res_bad[r], broken);
    }

    /// Whether some partition runs on the edge after a VM or FaaS resource (in its component
    /// or upstream of it).
    fn back_to_edge(&mut self, model: &Model) -> bool {
        let mut broken = false;
        for &c in &model.topo {
            let comp = &model.components[c];
            let mut reached = comp.predecessors.iter().any(|&p| self.cloud_reached[p]);
            for &p in &comp.deployments[self.sol.deployment[c]].partitions {
                let r = self.sol.placement[p];
                if r == NONE {
                    continue;
                }
                if model.is_edge(r) {
                    broken |= reached;
                } else {
                    reached = true;
                }
            }
            self.cloud_reached[c] = reached;
        }
        broken
    }
}
