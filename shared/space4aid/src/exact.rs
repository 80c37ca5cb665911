//! The exact method: a complete branch-and-bound search over the decision space (a
//! deployment per component, a resource per partition with at most one resource per
//! edge/VM layer, then the cheapest feasible instance counts), pruned by a lower bound on the
//! cost and by early checks (memory, no way back to the edge, utilisation and response times
//! even with every instance running). It proves the optimum when it finishes; stopped by its
//! time limit, it returns its best solution and a valid lower bound on the optimum.
//!
//! The lower bound of a partial placement: every used edge/VM resource at the fewest
//! instances its load and the constraints already fully placed allow, the FaaS cost placed so
//! far, and for each component still to place the FaaS cost it cannot avoid.

use std::time::{Duration, Instant};

mod prepare;

use crate::eval::{component_response, faas_cost, path_response, Solution, NONE};
use crate::model::{Model, Perf};
use prepare::{checks, future_costs, options_of, Check};

#[derive(Debug, Clone)]
pub struct ExactOptions {
    /// Stop after this long with the best solution and a lower bound.
    pub time_limit: Duration,
    /// Stop after this many search nodes (0: no limit).
    pub node_limit: u64,
}

impl Default for ExactOptions {
    fn default() -> Self {
        Self { time_limit: Duration::from_secs(60), node_limit: 0 }
    }
}

#[derive(Debug, Clone)]
pub struct ExactResult {
    /// The cheapest feasible solution found.
    pub best: Option<(f64, Solution)>,
    /// A lower bound on the optimal cost (the optimum itself when `proven`; infinite when
    /// the search proved that nothing is feasible).
    pub lower_bound: f64,
    /// Whether the search finished (the best is optimal, or nothing is feasible).
    pub proven: bool,
    pub nodes: u64,
    pub elapsed: Duration,
}

struct Search<'a> {
    model: &'a Model,
    /// The components searched, in topological order.
    order: Vec<usize>,
    /// Checks that become complete when the component at this position is placed.
    checks_at: Vec<Vec<Check>>,
    /// Checks over fixed components only (their times still depend on the loads the search
    /// adds): made at the leaves.
    final_checks: Vec<Check>,
    /// Whether some components are fixed (the no-way-back rule is then checked in full at
    /// the leaves, since a fixed component may sit downstream of a searched one).
    has_fixed: bool,
    /// Cost no placement of the components from this position on can avoid.
    future: Vec<f64>,
    /// Per partition: the options worth trying (a FaaS option is left out when another one
    /// of the same layer is no dearer and no slower: FaaS resources share nothing, and
    /// delays depend only on the layer).
    options: std::borrow::Cow<'a, [Vec<(usize, f64, Perf)>]>,
    sol: Solution,
    layer_res: Vec<usize>,
    count_on: Vec<u32>,
    load: Vec<f64>,
    memory: Vec<f64>,
    faas: f64,
    /// Instances each resource needs at least (from the constraints checked so far).
    need: Vec<u32>,
    need_undo: Vec<(usize, u32)>,
    reached: Vec<bool>,
    /// Per component: a lower bound on its response time once placed (its time with every
    /// instance running at the loads of that moment; loads only grow), 0 before.
    done_rt: Vec<f64>,
    /// The global constraints through each component (when they are checked).
    paths_of: Vec<Vec<usize>>,
    best: Option<(f64, Solution)>,
    /// The feasible solution the caller started from, if any.
    incumbent: Option<(f64, Solution)>,
    /// The smallest lower bound of the subtrees left unexplored when the search stopped.
    frontier: f64,
    stopped: bool,
    deadline: Instant,
    node_limit: u64,
    nodes: u64,
    // Scratch.
    util: Vec<f64>,
    part_rt: Vec<f64>,
    comp_rt: Vec<f64>,
    slope: Vec<f64>,
}

/// Solves `model` exactly (within the limits). `incumbent`, when given, is a feasible
/// solution with its cost: the search only looks for cheaper ones.
pub fn exact(model: &Model, incumbent: Option<(f64, Solution)>, opts: &ExactOptions) -> ExactResult {
    let order = model.topo.clone();
    let mut s = Search::new(model, order, true, None, None, opts);
    s.best = incumbent.clone();
    s.incumbent = incumbent;
    s.run()
}

/// The options the exact search tries for every partition (computed once for many searches
/// on one model: see [`improve_with`]).
#[derive(Debug, Clone)]
pub struct Prepared(Vec<Vec<(usize, f64, Perf)>>);

/// The options of every partition, for [`improve_with`].
pub fn prepare(model: &Model) -> Prepared {
    Prepared(options_of(model))
}

/// [`improve`] with the options prepared once.
pub fn improve_with(
    model: &Model,
    prepared: &Prepared,
    sol: &Solution,
    cost: f64,
    free: &[usize],
    node_limit: u64,
) -> Option<(f64, Solution)> {
    let order: Vec<usize> = model.topo.iter().copied().filter(|c| free.contains(c)).collect();
    let opts = ExactOptions { time_limit: Duration::from_secs(3600), node_limit };
    let mut s = Search::new(model, order, true, Some(sol), Some(prepared), &opts);
    s.best = Some((cost, sol.clone()));
    s.incumbent = s.best.clone();
    let r = s.run();
    r.best.filter(|(c, s)| *c < cost - 1e-9 * cost.abs().max(1.0) && s != sol)
}

/// Re-places the components of `free` exactly, the others staying as in `sol` (of cost
/// `cost`): a cheaper solution when there is one within `node_limit` search nodes.
pub fn improve(model: &Model, sol: &Solution, cost: f64, free: &[usize], node_limit: u64) -> Option<(f64, Solution)> {
    improve_with(model, &prepare(model), sol, cost, free, node_limit)
}

/// A lower bound on the optimal cost of `model`: the largest, over the components, of the
/// cheapest way to run that component alone under its local constraint (each such search is
/// bounded; a stopped one gives its own lower bound), and the FaaS cost no placement avoids.
pub fn lower_bound(model: &Model, budget: Duration) -> f64 {
    let start = Instant::now();
    let n = model.components.len().max(1) as u32;
    let mut bound: f64 = 0.0;
    let prepared = prepare(model);
    for &c in &model.topo {
        let opts = ExactOptions { time_limit: (budget / n).max(Duration::from_millis(1)), node_limit: 200_000 };
        let alone = Search::new(model, vec![c], false, None, Some(&prepared), &opts).run();
        bound = bound.max(alone.lower_bound);
        if start.elapsed() > budget {
            break;
        }
    }
    let all = Search::new(model, model.topo.clone(), true, None, Some(&prepared), &ExactOptions::default());
    bound.max(all.future[0])
}

impl<'a> Search<'a> {
    /// A search over the components of `order` (in topological order). With `fixed`, every
    /// other component keeps its deployment and placement from it; without, the others are
    /// left out (and `globals` says whether global constraints count).
    fn new(
        model: &'a Model,
        order: Vec<usize>,
        globals: bool,
        fixed: Option<&Solution>,
        prepared: Option<&'a Prepared>,
        opts: &ExactOptions,
    ) -> Self {
        let (nr, nc) = (model.resources.len(), model.components.len());
        let (checks_at, final_checks, paths_of) = checks(model, &order, globals, fixed.is_some());
        let options = match prepared {
            Some(p) => std::borrow::Cow::Borrowed(p.0.as_slice()),
            None => std::borrow::Cow::Owned(options_of(model)),
        };
        let future = future_costs(model, &order);
        let mut search = Search {
            model,
            checks_at,
            final_checks,
            has_fixed: fixed.is_some(),
            future,
            options,
            sol: Solution {
                deployment: vec![0; nc],
                placement: vec![NONE; model.partitions.len()],
                instances: vec![0; nr],
            },
            layer_res: vec![NONE; model.layers.len()],
            count_on: vec![0; nr],
            load: vec![0.0; nr],
            memory: vec![0.0; nr],
            faas: 0.0,
            need: vec![0; nr],
            need_undo: Vec::new(),
            reached: vec![false; nc],
            done_rt: vec![0.0; nc],
            paths_of,
            best: None,
            incumbent: None,
            frontier: f64::INFINITY,
            stopped: false,
            deadline: Instant::now() + opts.time_limit,
            node_limit: opts.node_limit,
            nodes: 0,
            util: vec![0.0; nr],
            part_rt: vec![f64::NAN; model.partitions.len()],
            comp_rt: vec![f64::NAN; nc],
            slope: vec![0.0; nr],
            order,
        };
        if let Some(f) = fixed {
            search.fix(f);
        }
        search
    }

    /// Places every component outside the searched order as in `sol`.
    fn fix(&mut self, sol: &Solution) {
        let m = self.model;
        let searched: Vec<bool> = (0..m.components.len()).map(|c| self.order.contains(&c)).collect();
        for &c in &m.topo {
            if searched[c] {
                continue;
            }
            let comp = &m.components[c];
            let d = sol.deployment[c];
            self.sol.deployment[c] = d;
            let dep = &comp.deployments[d];
            let rate = comp.rate_factor * m.lambda;
            let mut reached = comp.predecessors.iter().any(|&p| self.reached[p]);
            for (k, &p) in dep.partitions.iter().enumerate() {
                let r = sol.placement[p];
                let Some(&(_, mem, perf)) = m.partitions[p].option(r) else { continue };
                self.sol.placement[p] = r;
                self.count_on[r] += 1;
                if m.is_faas(r) {
                    if let Perf::Faas { warm, .. } = perf {
                        self.faas += faas_cost(m, r, warm, rate * dep.reach[k]);
                    }
                } else {
                    if let Perf::Queue { demand } = perf {
                        self.load[r] += demand * rate * dep.reach[k];
                    }
                    self.memory[r] += mem;
                    self.layer_res[m.resources[r].layer] = r;
                }
                reached |= !m.is_edge(r);
            }
            self.reached[c] = reached;
        }
        for (c, &s) in searched.iter().enumerate() {
            if !s {
                let n = m.components[c].deployments[self.sol.deployment[c]].partitions.len();
                self.done_rt[c] = self.partial_rt(c, n);
            }
        }
    }

    /// Whether no partition runs on the edge after a VM or FaaS resource (in full).
    fn never_back_to_edge(&self) -> bool {
        let m = self.model;
        let mut reached = vec![false; m.components.len()];
        for &c in &m.topo {
            let comp = &m.components[c];
            let mut r_c = comp.predecessors.iter().any(|&p| reached[p]);
            for &p in &comp.deployments[self.sol.deployment[c]].partitions {
                let r = self.sol.placement[p];
                if r == NONE {
                    continue;
                }
                if m.is_edge(r) && r_c {
                    return false;
                }
                r_c |= !m.is_edge(r);
            }
            reached[c] = r_c;
        }
        true
    }

    fn run(mut self) -> ExactResult {
        let start = Instant::now();
        self.component(0);
        let found = self.best.take();
        let best_cost = found.as_ref().map_or(f64::INFINITY, |b| b.0);
        let mut proven = !self.stopped;
        let mut lower_bound = if proven { best_cost } else { best_cost.min(self.frontier) };
        let complete = self.has_fixed || self.order.len() == self.model.components.len();
        let best = if complete {
            // The cost as the evaluator sums it (the search adds it up in another order). A
            // solution the evaluator refuses (rounding at the very edge of a constraint) gives
            // way to the caller's incumbent, and the optimum is then not claimed.
            let mut ev = crate::search::Evaluator::default();
            match found.and_then(|(_, s)| ev.cost(self.model, &s).map(|c| (c, s))) {
                Some(b) => {
                    if proven {
                        lower_bound = b.0;
                    }
                    Some(b)
                }
                None => {
                    if best_cost.is_finite() {
                        proven = false;
                    }
                    self.incumbent.clone()
                }
            }
        } else {
            // A search over some components alone: its cost is a bound, not a solution.
            found
        };
        ExactResult { lower_bound, best, proven, nodes: self.nodes, elapsed: start.elapsed() }
    }

    fn min_instances(&self, r: usize) -> u32 {
        // The fewest instances that keep the utilisation below 1.
        let by_load = (self.load[r].floor() as u32).saturating_add(1);
        by_load.max(self.need[r]).max(1)
    }

    /// The lower bound of the current node, at component position `i`.
    fn bound(&self, i: usize) -> f64 {
        let m = self.model;
        let mut cost = self.faas + self.future[i];
        for (r, &n) in self.count_on.iter().enumerate() {
            if n > 0 && !m.is_faas(r) {
                cost += m.resources[r].cost * f64::from(self.min_instances(r)) * m.time;
            }
        }
        cost
    }

    fn best_cost(&self) -> f64 {
        self.best.as_ref().map_or(f64::INFINITY, |b| b.0)
    }

    /// Whether to go on: counts the node, checks the limits, and prunes by the bound.
    fn enter(&mut self, bound: f64) -> bool {
        if bound >= self.best_cost() {
            return false;
        }
        self.nodes += 1;
        if !self.stopped
            && ((self.node_limit > 0 && self.nodes > self.node_limit)
                || (self.nodes % 256 == 0 && Instant::now() > self.deadline))
        {
            self.stopped = true;
        }
        if self.stopped {
            self.frontier = self.frontier.min(bound);
            return false;
        }
        true
    }

    /// Chooses the deployment of the component at position `i`.
    fn component(&mut self, i: usize) {
        if i == self.order.len() {
            self.leaf();
            return;
        }
        let c = self.order[i];
        let m = self.model;
        let reached = m.components[c].predecessors.iter().any(|&p| self.reached[p]);
        for d in 0..m.components[c].deployments.len() {
            self.sol.deployment[c] = d;
            self.partition(i, 0, reached);
        }
    }

    /// Places partition `k` of the component at position `i`.
    fn partition(&mut self, i: usize, k: usize, reached: bool) {
        let m = self.model;
        let c = self.order[i];
        let dep = &m.components[c].deployments[self.sol.deployment[c]];
        if k == dep.partitions.len() {
            self.reached[c] = reached;
            self.done_rt[c] = self.partial_rt(c, k);
            self.complete(i);
            self.done_rt[c] = 0.0;
            self.reached[c] = false;
            return;
        }
        let p = dep.partitions[k];
        let rate = m.components[c].rate_factor * m.lambda * dep.reach[k];
        // Options in order of promise: resources in use, then FaaS, then new ones, cheaper
        // first.
        let mut opts: Vec<(f64, usize, f64, Perf)> = Vec::with_capacity(self.options[p].len());
        for &(r, mem, perf) in &self.options[p] {
            let res = &m.resources[r];
            if reached && m.is_edge(r) {
                continue;
            }
            let key = if m.is_faas(r) {
                if mem > res.memory {
                    continue;
                }
                match perf {
                    Perf::Faas { warm, .. } => faas_cost(m, r, warm, rate),
                    Perf::Queue { .. } | Perf::Predictor { .. } => 0.0,
                }
            } else {
                let l = res.layer;
                if self.layer_res[l] != NONE && self.layer_res[l] != r {
                    continue;
                }
                if self.memory[r] + mem > res.memory {
                    continue;
                }
                let add = if let Perf::Queue { demand } = perf { demand * rate } else { 0.0 };
                if (self.load[r] + add) / f64::from(res.number) >= 1.0 {
                    continue;
                }
                if self.count_on[r] > 0 {
                    -1.0
                } else {
                    res.cost * m.time
                }
            };
            opts.push((key, r, mem, perf));
        }
        opts.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, r, mem, perf) in opts {
            // Place.
            let faas = m.is_faas(r);
            let (mut add_load, mut add_faas) = (0.0, 0.0);
            match perf {
                Perf::Queue { demand } if !faas => add_load = demand * rate,
                Perf::Faas { warm, .. } if faas => add_faas = faas_cost(m, r, warm, rate),
                _ => {}
            }
            let layer = m.resources[r].layer;
            let new_layer = !faas && self.layer_res[layer] == NONE;
            if new_layer {
                self.layer_res[layer] = r;
            }
            self.sol.placement[p] = r;
            self.count_on[r] += 1;
            self.load[r] += add_load;
            if !faas {
                self.memory[r] += mem;
            }
            self.faas += add_faas;
            if self.times_can_hold(c, k + 1) {
                let bound = self.bound(i + 1);
                if self.enter(bound) {
                    self.partition(i, k + 1, reached || !m.is_edge(r));
                }
            }
            // Undo.
            self.faas -= add_faas;
            if !faas {
                self.memory[r] -= mem;
            }
            self.load[r] -= add_load;
            self.count_on[r] -= 1;
            self.sol.placement[p] = NONE;
            if new_layer {
                self.layer_res[layer] = NONE;
            }
            if self.count_on[r] == 0 {
                // Exact zero again (no drift from adding and taking away).
                self.load[r] = 0.0;
                self.memory[r] = 0.0;
            }
        }
    }

    /// A lower bound on the response time of component `c` from its first `k` partitions
    /// (placed): their times with every instance running, weighted by the probability of
    /// reaching them, and the delays between them.
    fn partial_rt(&self, c: usize, k: usize) -> f64 {
        let m = self.model;
        let dep = &m.components[c].deployments[self.sol.deployment[c]];
        let mut total = 0.0;
        let mut prev: Option<(usize, f64)> = None;
        for (j, &p) in dep.partitions[..k].iter().enumerate() {
            let r = self.sol.placement[p];
            let Some((oi, &(_, _, perf))) = m.partitions[p].option_at(r) else { return f64::INFINITY };
            let rt = match perf {
                Perf::Queue { demand } if !m.is_faas(r) => {
                    let u = self.load[r] / f64::from(m.resources[r].number.max(1));
                    demand / (1.0 - u)
                }
                Perf::Queue { demand } => demand,
                Perf::Faas { .. } => m.partitions[p].faas_response[oi],
                // (Never reached: the exact method is not run on models with predictors.)
                Perf::Predictor { .. } => 0.0,
            };
            total += match prev {
                None => rt,
                Some((pr, data)) => dep.reach[j] * (rt + m.delay(pr, r, data)),
            };
            prev = Some((r, m.partitions[p].data_to_next));
        }
        total
    }

    /// Whether the local constraint of `c` and the global ones through it can still hold,
    /// with its first `k` partitions placed.
    fn times_can_hold(&self, c: usize, k: usize) -> bool {
        let m = self.model;
        let rt = self.partial_rt(c, k);
        if m.components[c].local_threshold.is_some_and(|thr| !(rt <= thr)) {
            return false;
        }
        self.paths_of[c].iter().all(|&g| {
            let gc = &m.globals[g];
            let others: f64 = gc.path.iter().filter(|&&x| x != c).map(|&x| self.done_rt[x]).sum();
            others + rt <= gc.threshold
        })
    }

    /// The component at position `i` is placed: runs the checks it completes, then goes on.
    fn complete(&mut self, i: usize) {
        let mark = self.need_undo.len();
        let checks = std::mem::take(&mut self.checks_at[i]);
        let ok = checks.iter().all(|ch| self.tighten(ch));
        self.checks_at[i] = checks;
        if ok {
            let bound = self.bound(i + 1);
            if self.enter(bound) {
                self.component(i + 1);
            }
        }
        while self.need_undo.len() > mark {
            if let Some((r, old)) = self.need_undo.pop() {
                self.need[r] = old;
            }
        }
    }

    /// The response time of a check's components (and path) at utilisations `self.util`.
    fn check_rt(&mut self, ch: &Check) -> f64 {
        let m = self.model;
        for &c in &ch.components {
            self.comp_rt[c] = component_response(m, &self.sol, c, &self.util, &mut self.part_rt);
        }
        match ch.global {
            Some(g) => path_response(m, &self.sol, &self.comp_rt, &m.globals[g].path),
            None => self.comp_rt[ch.components[0]],
        }
    }

    /// Checks `ch` with every instance running (loads only grow from here, so a violation
    /// now is final) and raises the instances each resource needs so that it can hold.
    /// Returns false when the check cannot hold.
    fn tighten(&mut self, ch: &Check) -> bool {
        let m = self.model;
        for r in 0..m.resources.len() {
            self.util[r] = if m.is_faas(r) { 0.0 } else { self.load[r] / f64::from(m.resources[r].number.max(1)) };
        }
        let rt = self.check_rt(ch);
        if !(rt <= ch.threshold) {
            return false;
        }
        // The response time is F + sum over resources of S_r / (1 - U_r), S_r the demand of
        // the check's partitions on r weighted by the probability of reaching them.
        self.slope.iter_mut().for_each(|x| *x = 0.0);
        for &c in &ch.components {
            let dep = &m.components[c].deployments[self.sol.deployment[c]];
            for (k, &p) in dep.partitions.iter().enumerate() {
                let r = self.sol.placement[p];
                if let Some(&(_, _, Perf::Queue { demand })) = m.partitions[p].option(r) {
                    if !m.is_faas(r) {
                        self.slope[r] += dep.reach[k] * demand;
                    }
                }
            }
        }
        for r in 0..m.resources.len() {
            let s = self.slope[r];
            if s <= 0.0 || self.load[r] <= 0.0 {
                continue;
            }
            let at_max = s / (1.0 - self.util[r]);
            let slack = ch.threshold - (rt - at_max);
            if !(slack > s) {
                return false;
            }
            let n = self.load[r] / (1.0 - s / slack);
            // A hair below, so that rounding never makes the bound invalid.
            let n = (n * (1.0 - 1e-9)).ceil().max(1.0) as u32;
            if n > self.need[r] {
                self.need_undo.push((r, self.need[r]));
                self.need[r] = n;
            }
        }
        true
    }

    /// Every component is placed: the cheapest feasible instance counts.
    fn leaf(&mut self) {
        let m = self.model;
        if self.has_fixed && !self.never_back_to_edge() {
            return;
        }
        let used: Vec<usize> = (0..m.resources.len()).filter(|&r| self.count_on[r] > 0 && !m.is_faas(r)).collect();
        for r in 0..m.resources.len() {
            self.sol.instances[r] = if self.count_on[r] == 0 {
                0
            } else if m.is_faas(r) {
                1
            } else {
                m.resources[r].number
            };
        }
        if !self.counts_feasible() {
            return;
        }
        let floor: Vec<u32> = used.iter().map(|&r| self.min_instances(r)).collect();
        let mut rest = vec![0.0; used.len() + 1];
        for j in (0..used.len()).rev() {
            rest[j] = rest[j + 1] + m.resources[used[j]].cost * f64::from(floor[j]) * m.time;
        }
        self.counts(&used, &floor, &rest, 0, self.faas);
        for &r in &used {
            self.sol.instances[r] = m.resources[r].number;
        }
    }

    /// Chooses the count of `used[j]` (the ones before are set, the ones after at their
    /// maximum); `cost` is the cost of what is set.
    fn counts(&mut self, used: &[usize], floor: &[u32], rest: &[f64], j: usize, cost: f64) {
        let m = self.model;
        if j == used.len() {
            if cost < self.best_cost() {
                self.best = Some((cost, self.sol.clone()));
            }
            return;
        }
        let r = used[j];
        let unit = m.resources[r].cost * m.time;
        for n in floor[j]..=m.resources[r].number {
            let c = cost + unit * f64::from(n);
            if c + rest[j + 1] >= self.best_cost() {
                break;
            }
            self.sol.instances[r] = n;
            // (More instances here may let the later resources have fewer: go on.)
            if self.counts_feasible() {
                self.counts(used, floor, rest, j + 1, c);
            }
        }
        self.sol.instances[r] = m.resources[r].number;
    }

    /// Whether the placement with the current counts meets utilisation and every check.
    fn counts_feasible(&mut self) -> bool {
        let m = self.model;
        for r in 0..m.resources.len() {
            self.util[r] = if self.count_on[r] == 0 || m.is_faas(r) {
                0.0
            } else {
                self.load[r] / f64::from(self.sol.instances[r].max(1))
            };
            if self.util[r] >= 1.0 {
                return false;
            }
        }
        for i in 0..self.checks_at.len() {
            for k in 0..self.checks_at[i].len() {
                let ch = self.checks_at[i][k].clone();
                if !(self.check_rt(&ch) <= ch.threshold) {
                    return false;
                }
            }
        }
        for k in 0..self.final_checks.len() {
            let ch = self.final_checks[k].clone();
            if !(self.check_rt(&ch) <= ch.threshold) {
                return false;
            }
        }
        true
    }
}
