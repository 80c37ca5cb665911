//! The search methods: RandomGreedy (random feasible placements with instance counts lowered
//! as far as they stay feasible, keeping an elite) and LocalSearch (best-improvement moves
//! from each elite solution until none improves).
//!
//! Runs are reproducible: a seed and a thread count give the same result.

use crate::eval::{evaluate_with, Mode, Solution, Workspace, NONE};
use crate::incremental::Incremental;
use crate::model::Model;

/// A small, fast generator (xoshiro256**) with a fixed algorithm, so that seeds give the same
/// results whatever crate versions are built with.
#[derive(Debug, Clone)]
pub struct Rng([u64; 4]);

impl Rng {
    pub fn new(seed: u64) -> Self {
        // SplitMix64 to spread the seed over the state.
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Evaluates solutions. By default it keeps the last solution's state and moves it to the
/// next one, recomputing only what changed ([`Incremental`]); [`Evaluator::full`] evaluates
/// every solution from scratch instead (for comparison).
#[derive(Debug, Clone, Default)]
pub struct Evaluator {
    ws: Workspace,
    sink: Vec<crate::eval::Violation>,
    /// The incremental state, with the model (address and Lambda) it belongs to.
    state: Option<(usize, f64, Incremental)>,
    from_scratch: bool,
    /// Scratch for [`Evaluator::floor`] and [`lower_instances`].
    scratch_load: Vec<f64>,
    scratch_used: Vec<usize>,
    /// Evaluations done.
    pub count: u64,
}

impl Evaluator {
    /// An evaluator that evaluates every solution in full.
    pub fn full() -> Self {
        Self { from_scratch: true, ..Self::default() }
    }

    /// The cost when feasible.
    pub fn cost(&mut self, model: &Model, sol: &Solution) -> Option<f64> {
        self.count += 1;
        if self.from_scratch {
            self.sink.clear();
            return evaluate_with(model, sol, &mut self.ws, Mode::Feasibility, &mut self.sink);
        }
        let key = std::ptr::from_ref(model) as usize;
        match &mut self.state {
            Some((k, l, inc)) if *k == key && *l == model.lambda => inc.goto(model, sol),
            _ => {
                let inc = Incremental::new(model, sol);
                let cost = inc.feasible().then(|| inc.cost());
                self.state = Some((key, model.lambda, inc));
                cost
            }
        }
    }
}

/// The edge/VM resources used by a solution, in index order, into `out`.
fn used_vm(model: &Model, sol: &Solution, out: &mut Vec<usize>) {
    out.clear();
    for (c, comp) in model.components.iter().enumerate() {
        for &p in &comp.deployments[sol.deployment[c]].partitions {
            let r = sol.placement[p];
            if r != NONE && !model.is_faas(r) && !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out.sort_unstable();
}

/// Sets instance counts: every used edge/VM resource at its maximum, FaaS at 1, unused at 0.
pub fn max_instances(model: &Model, sol: &mut Solution) {
    sol.instances.iter_mut().for_each(|n| *n = 0);
    for (c, comp) in model.components.iter().enumerate() {
        for &p in &comp.deployments[sol.deployment[c]].partitions {
            let r = sol.placement[p];
            if r != NONE {
                sol.instances[r] = if model.is_faas(r) { 1 } else { model.resources[r].number };
            }
        }
    }
}

/// Lowers each used resource's instance count, one resource after the other, to the
/// smallest that keeps the solution feasible (response times only grow as counts fall, so a
/// binary search finds it). `sol` must be feasible; returns its new cost.
pub fn lower_instances(model: &Model, sol: &mut Solution, ev: &mut Evaluator, mut cost: f64) -> f64 {
    let mut used = std::mem::take(&mut ev.scratch_used);
    used_vm(model, sol, &mut used);
    for &r in &used {
        let (mut lo, mut hi) = (1u32, sol.instances[r]);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            sol.instances[r] = mid;
            match ev.cost(model, sol) {
                Some(c) => {
                    hi = mid;
                    cost = c;
                }
                None => lo = mid + 1,
            }
        }
        sol.instances[r] = hi;
    }
    ev.scratch_used = used;
    ev.cost(model, sol).unwrap_or(cost)
}

/// A random placement: a resource per edge/VM layer, a deployment per component, a
/// compatible resource per partition (never back to the edge after a VM or FaaS), counts at
/// their maximum. `None` when a partition has nowhere to go.
pub fn random_solution(model: &Model, rng: &mut Rng) -> Option<Solution> {
    let chosen: Vec<usize> = model
        .layers
        .iter()
        .map(|l| if l.resources.is_empty() { NONE } else { l.resources[rng.below(l.resources.len())] })
        .collect();
    let mut sol = Solution {
        deployment: vec![0; model.components.len()],
        placement: vec![NONE; model.partitions.len()],
        instances: vec![0; model.resources.len()],
    };
    let mut reached = vec![false; model.components.len()];
    let mut cands = Vec::new();
    for &c in &model.topo {
        let comp = &model.components[c];
        let d = rng.below(comp.deployments.len());
        sol.deployment[c] = d;
        let mut cloud = comp.predecessors.iter().any(|&p| reached[p]);
        for &p in &comp.deployments[d].partitions {
            cands.clear();
            cands.extend(model.partitions[p].options.iter().map(|o| o.0).filter(|&r| {
                let res = &model.resources[r];
                (model.is_faas(r) || chosen[res.layer] == r) && !(cloud && model.is_edge(r))
            }));
            if cands.is_empty() {
                return None;
            }
            let r = cands[rng.below(cands.len())];
            if !model.is_edge(r) {
                cloud = true;
            }
            sol.placement[p] = r;
        }
        reached[c] = cloud;
    }
    max_instances(model, &mut sol);
    Some(sol)
}

/// The best solutions found, cheapest first, without duplicates.
#[derive(Debug, Clone, Default)]
pub struct Elite {
    pub size: usize,
    pub items: Vec<(f64, Solution)>,
}

impl Elite {
    pub fn new(size: usize) -> Self {
        Self { size: size.max(1), items: Vec::new() }
    }

    pub fn offer(&mut self, cost: f64, sol: &Solution) {
        if self.items.len() >= self.size && cost >= self.items[self.items.len() - 1].0 {
            return;
        }
        if self.items.iter().any(|(_, s)| s == sol) {
            return;
        }
        let at = self.items.partition_point(|(c, _)| *c <= cost);
        self.items.insert(at, (cost, sol.clone()));
        self.items.truncate(self.size);
    }

    pub fn merge(&mut self, other: Elite) {
        for (c, s) in other.items {
            self.offer(c, &s);
        }
    }

    pub fn best(&self) -> Option<&(f64, Solution)> {
        self.items.first()
    }
}

/// RandomGreedy on one thread.
pub fn random_greedy(model: &Model, iterations: u64, rng: &mut Rng, elite: &mut Elite, ev: &mut Evaluator) {
    for _ in 0..iterations {
        let Some(mut sol) = random_solution(model, rng) else { continue };
        // Lowering the counts cannot take it below this: skip what cannot join the elite.
        if elite.items.len() >= elite.size && cost_floor(model, &sol, ev) >= elite.items[elite.items.len() - 1].0 {
            continue;
        }
        let Some(cost) = ev.cost(model, &sol) else { continue };
        let cost = lower_instances(model, &mut sol, ev, cost);
        elite.offer(cost, &sol);
    }
}

/// The solutions one move away from `sol` (placements only; counts are set by the caller).
pub fn neighbours(model: &Model, sol: &Solution, out: &mut Vec<Solution>) {
    // The solutions already in `out` are reused as scratch (no allocation per neighbour).
    let mut n = 0;
    let moves = Moves::new(model, sol);
    moves.move_partitions(out, &mut n);
    moves.change_layer_resources(out, &mut n);
    moves.drop_resources(out, &mut n);
    moves.whole_components(out, &mut n);
    moves.change_deployments(out, &mut n);
    out.truncate(n);
}

/// The moves from one solution, and what they look at: its active partitions, the resources
/// in use and the resource in use in each edge/VM layer. Each move writes its neighbours to
/// `out` from position `n` on.
struct Moves<'a> {
    model: &'a Model,
    sol: &'a Solution,
    active: Vec<usize>,
    used: Vec<bool>,
    /// The resource in use in each edge/VM layer.
    layer_res: Vec<usize>,
}

impl<'a> Moves<'a> {
    fn new(model: &'a Model, sol: &'a Solution) -> Self {
        let active: Vec<usize> = (0..model.components.len())
            .flat_map(|c| model.components[c].deployments[sol.deployment[c]].partitions.iter().copied())
            .collect();
        let used: Vec<bool> = {
            let mut u = vec![false; model.resources.len()];
            for &p in &active {
                if sol.placement[p] != NONE {
                    u[sol.placement[p]] = true;
                }
            }
            u
        };
        let mut layer_res = vec![NONE; model.layers.len()];
        for (r, &u) in used.iter().enumerate() {
            if u && !model.is_faas(r) {
                layer_res[model.resources[r].layer] = r;
            }
        }
        Self { model, sol, active, used, layer_res }
    }

    /// Whether `r` can be used without a second resource in its layer.
    #[inline]
    fn fits_layer(&self, r: usize) -> bool {
        let model = self.model;
        model.is_faas(r)
            || self.layer_res[model.resources[r].layer] == NONE
            || self.layer_res[model.resources[r].layer] == r
    }

    /// Everything on `from` moves to `to` where it can, else to the cheapest FaaS or other
    /// resource in use; `None` when some partition has nowhere to go.
    #[inline]
    fn relocate(&self, s: &mut Solution, from: usize, to: Option<usize>) -> Option<()> {
        let model = self.model;
        for &p in &self.active {
            if self.sol.placement[p] != from {
                continue;
            }
            let part = &model.partitions[p];
            let q = to.filter(|&t| part.option(t).is_some()).or_else(|| {
                part.options
                    .iter()
                    .map(|o| o.0)
                    .filter(|&q| q != from && (model.is_faas(q) || (self.used[q] && self.fits_layer(q))))
                    .min_by(|&a, &b| model.resources[a].cost.total_cmp(&model.resources[b].cost))
            })?;
            s.placement[p] = q;
        }
        Some(())
    }

    /// Move one partition.
    fn move_partitions(&self, out: &mut Vec<Solution>, n: &mut usize) {
        for &p in &self.active {
            for &(r, _, _) in &self.model.partitions[p].options {
                if r != self.sol.placement[p] && self.fits_layer(r) {
                    slot(out, n, self.sol).placement[p] = r;
                }
            }
        }
    }

    /// Change the resource of a layer.
    fn change_layer_resources(&self, out: &mut Vec<Solution>, n: &mut usize) {
        for (l, layer) in self.model.layers.iter().enumerate() {
            let cur = self.layer_res[l];
            if cur == NONE {
                continue;
            }
            for &r in layer.resources.iter().filter(|&&r| r != cur) {
                if self.relocate(slot(out, n, self.sol), cur, Some(r)).is_none() {
                    *n -= 1;
                }
            }
        }
    }

    /// Drop a resource.
    fn drop_resources(&self, out: &mut Vec<Solution>, n: &mut usize) {
        for r in (0..self.model.resources.len()).filter(|&r| self.used[r]) {
            if self.relocate(slot(out, n, self.sol), r, None).is_none() {
                *n -= 1;
            }
        }
    }

    /// Put a whole component, in any of its deployments, on one resource in use (or FaaS).
    fn whole_components(&self, out: &mut Vec<Solution>, n: &mut usize) {
        let (model, sol) = (self.model, self.sol);
        for (c, comp) in model.components.iter().enumerate() {
            for (d, dep) in comp.deployments.iter().enumerate() {
                let first = &model.partitions[dep.partitions[0]];
                for &(r, _, _) in &first.options {
                    if !(self.used[r] || model.is_faas(r)) || !self.fits_layer(r) {
                        continue;
                    }
                    let all_fit = dep.partitions.iter().all(|&p| model.partitions[p].option(r).is_some());
                    let same = d == sol.deployment[c] && dep.partitions.iter().all(|&p| sol.placement[p] == r);
                    if !all_fit || same {
                        continue;
                    }
                    let s = slot(out, n, sol);
                    for &p in &comp.deployments[sol.deployment[c]].partitions {
                        s.placement[p] = NONE;
                    }
                    s.deployment[c] = d;
                    for &p in &dep.partitions {
                        s.placement[p] = r;
                    }
                }
            }
        }
    }

    /// Change a component's deployment: new partitions go where the old first one was when
    /// they can, else to a resource in use, else to their first option.
    fn change_deployments(&self, out: &mut Vec<Solution>, n: &mut usize) {
        let (model, sol) = (self.model, self.sol);
        for (c, comp) in model.components.iter().enumerate() {
            let old = &comp.deployments[sol.deployment[c]];
            let here = sol.placement[old.partitions[0]];
            for d in 0..comp.deployments.len() {
                if d == sol.deployment[c] {
                    continue;
                }
                let s = slot(out, n, sol);
                for &p in &old.partitions {
                    s.placement[p] = NONE;
                }
                s.deployment[c] = d;
                for &p in &comp.deployments[d].partitions {
                    let opts = &model.partitions[p].options;
                    let r = opts
                        .iter()
                        .map(|o| o.0)
                        .find(|&q| q == here)
                        .or_else(|| opts.iter().map(|o| o.0).find(|&q| self.used[q] && self.fits_layer(q)))
                        .unwrap_or(opts[0].0);
                    s.placement[p] = r;
                }
            }
        }
    }
}

/// The next slot of `out` (reused when there is one), holding a copy of `sol`.
fn slot<'a>(out: &'a mut Vec<Solution>, n: &mut usize, sol: &Solution) -> &'a mut Solution {
    if *n < out.len() {
        out[*n].clone_from(sol);
    } else {
        out.push(sol.clone());
    }
    *n += 1;
    &mut out[*n - 1]
}

/// A lower bound on the cost of a placement: each used edge/VM resource needs enough
/// instances to keep its utilisation below 1.
fn cost_floor(model: &Model, sol: &Solution, ev: &mut Evaluator) -> f64 {
    let load = &mut ev.scratch_load;
    load.clear();
    load.resize(model.resources.len(), 0.0);
    let mut faas = 0.0;
    for (c, comp) in model.components.iter().enumerate() {
        let dep = &comp.deployments[sol.deployment[c]];
        let rate = comp.rate_factor * model.lambda;
        for (k, &p) in dep.partitions.iter().enumerate() {
            let r = sol.placement[p];
            match model.partitions[p].option(r) {
                Some(&(_, _, crate::model::Perf::Queue { demand })) => {
                    load[r] += demand * rate * dep.reach[k];
                    load[r] = load[r].max(1e-300);
                }
                Some(&(_, _, crate::model::Perf::Predictor { .. })) => {
                    // At least one instance; no queue.
                    load[r] = load[r].max(1e-300);
                }
                Some(&(_, _, crate::model::Perf::Faas { warm, .. })) => {
                    faas += model.resources[r].cost * warm * rate * dep.reach[k] * model.time;
                }
                None => return f64::INFINITY,
            }
        }
    }
    let mut cost = faas;
    for (r, l) in load.iter().enumerate() {
        if *l > 0.0 {
            let n = (l.floor() + 1.0).max(1.0);
            cost += model.resources[r].cost * n * model.time;
        }
    }
    cost
}

/// Best-improvement descent from `start` (feasible, of cost `cost`): at most `budget`
/// neighbourhood scans, stopping at a local optimum. Returns the result and the scans used.
fn descend(
    model: &Model,
    start: (f64, Solution),
    budget: u64,
    ev: &mut Evaluator,
    cands: &mut Vec<Solution>,
) -> ((f64, Solution), u64) {
    let mut best = start;
    let mut used = 0;
    while used < budget {
        used += 1;
        neighbours(model, &best.1, cands);
        let mut improved: Option<(f64, Solution)> = None;
        for cand in cands.iter_mut() {
            let bound = improved.as_ref().map_or(best.0, |x| x.0);
            if cost_floor(model, cand, ev) >= bound - 1e-12 {
                continue;
            }
            max_instances(model, cand);
            let Some(c) = ev.cost(model, cand) else { continue };
            let c = lower_instances(model, cand, ev, c);
            if c < bound - 1e-12 {
                improved = Some((c, cand.clone()));
            }
        }
        match improved {
            Some(x) => best = x,
            None => break,
        }
    }
    (best, used)
}

/// How many perturbations in a row may fail to improve before LocalSearch stops.
const PATIENCE: u32 = 12;

/// LocalSearch from `start` (feasible, of cost `cost`): best-improvement descent to a local
/// optimum, then perturbations (a random move, made feasible, then descent again) kept when
/// they lead somewhere cheaper. `iterations` bounds the neighbourhood scans; it also stops
/// after a few perturbations in a row that do not help. Never returns a worse solution.
pub fn local_search(
    model: &Model,
    start: &Solution,
    cost: f64,
    iterations: u64,
    rng: &mut Rng,
    ev: &mut Evaluator,
) -> (f64, Solution) {
    let mut cands = Vec::new();
    let (mut best, mut used) = descend(model, (cost, start.clone()), iterations, ev, &mut cands);
    let mut misses = 0;
    while used < iterations && misses < PATIENCE {
        neighbours(model, &best.1, &mut cands);
        if cands.is_empty() {
            break;
        }
        let Some(kick) = random_feasible(model, &cands, rng, ev) else {
            misses += 1;
            continue;
        };
        let (found, n) = descend(model, kick, iterations - used, ev, &mut cands);
        used += n.max(1);
        if found.0 < best.0 - 1e-12 {
            best = found;
            misses = 0;
        } else {
            misses += 1;
        }
    }
    best
}

/// One of `cands`, drawn at random (a few tries), made feasible with its counts lowered.
fn random_feasible(model: &Model, cands: &[Solution], rng: &mut Rng, ev: &mut Evaluator) -> Option<(f64, Solution)> {
    if cands.is_empty() {
        return None;
    }
    for _ in 0..8 {
        let mut cand = cands[rng.below(cands.len())].clone();
        max_instances(model, &mut cand);
        if let Some(c) = ev.cost(model, &cand) {
            let c = lower_instances(model, &mut cand, ev, c);
            return Some((c, cand));
        }
    }
    None
}

fn fingerprint(sol: &Solution) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    sol.hash(&mut h);
    h.finish()
}

/// TabuSearch from `start`: moves to the best neighbour that is not among the last
/// `tabu_size` solutions visited, even when it is worse; returns the best seen.
pub fn tabu_search(
    model: &Model,
    start: &Solution,
    cost: f64,
    iterations: u64,
    tabu_size: usize,
    ev: &mut Evaluator,
) -> (f64, Solution) {
    let mut best = (cost, start.clone());
    let mut current = best.clone();
    let mut tabu = std::collections::VecDeque::with_capacity(tabu_size + 1);
    tabu.push_back(fingerprint(start));
    let mut cands = Vec::new();
    for _ in 0..iterations {
        neighbours(model, &current.1, &mut cands);
        let mut next: Option<(f64, Solution)> = None;
        for cand in cands.iter_mut() {
            if tabu.contains(&fingerprint(cand)) {
                continue;
            }
            if next.as_ref().is_some_and(|n| cost_floor(model, cand, ev) >= n.0) {
                continue;
            }
            max_instances(model, cand);
            let Some(c) = ev.cost(model, cand) else { continue };
            let c = lower_instances(model, cand, ev, c);
            if next.as_ref().is_none_or(|n| c < n.0) {
                next = Some((c, cand.clone()));
            }
        }
        let Some(n) = next else { break };
        tabu.push_back(fingerprint(&n.1));
        if tabu.len() > tabu_size.max(1) {
            tabu.pop_front();
        }
        if n.0 < best.0 - 1e-12 {
            best = n.clone();
        }
        current = n;
    }
    best
}

/// SimulatedAnnealing from `start`: a random feasible neighbour is taken when cheaper, or
/// with probability `exp(-increase / temperature)`; the temperature is multiplied by
/// `schedule` (in (0, 1)) after each step. Returns the best seen.
#[allow(clippy::too_many_arguments)]
pub fn simulated_annealing(
    model: &Model,
    start: &Solution,
    cost: f64,
    iterations: u64,
    temperature: f64,
    schedule: f64,
    rng: &mut Rng,
    ev: &mut Evaluator,
) -> (f64, Solution) {
    let mut best = (cost, start.clone());
    let mut current = best.clone();
    let mut t = temperature;
    let mut cands = Vec::new();
    for _ in 0..iterations {
        neighbours(model, &current.1, &mut cands);
        let Some(n) = random_feasible(model, &cands, rng, ev) else { break };
        let delta = n.0 - current.0;
        if delta < 0.0 || (t > 0.0 && rng.unit() < (-delta / t).exp()) {
            current = n;
            if current.0 < best.0 - 1e-12 {
                best = current.clone();
            }
        }
        t *= schedule;
    }
    best
}

/// GeneticAlgorithm from a population (the elite): children take each component's
/// deployment and placement from one of two parents (with probability `crossover`, else
/// they copy one parent) and are mutated by a random move (with probability `mutation`);
/// feasible children replace the worst member when cheaper. Returns the best member.
#[allow(clippy::too_many_arguments)]
pub fn genetic(
    model: &Model,
    population: &[(f64, Solution)],
    generations: u64,
    crossover: f64,
    mutation: f64,
    rng: &mut Rng,
    ev: &mut Evaluator,
) -> Option<(f64, Solution)> {
    let mut pop: Vec<(f64, Solution)> = population.to_vec();
    if pop.is_empty() {
        return None;
    }
    let mut cands = Vec::new();
    let pick = |pop: &[(f64, Solution)], rng: &mut Rng| {
        // Binary tournament.
        let (a, b) = (rng.below(pop.len()), rng.below(pop.len()));
        if pop[a].0 <= pop[b].0 {
            a
        } else {
            b
        }
    };
    for _ in 0..generations {
        let (a, b) = (pick(&pop, rng), pick(&pop, rng));
        let mut child = pop[a].1.clone();
        if rng.unit() < crossover {
            let other = &pop[b].1;
            for (c, comp) in model.components.iter().enumerate() {
                if rng.below(2) == 1 {
                    for &p in &comp.deployments[child.deployment[c]].partitions {
                        child.placement[p] = NONE;
                    }
                    child.deployment[c] = other.deployment[c];
                    for &p in &comp.deployments[other.deployment[c]].partitions {
                        child.placement[p] = other.placement[p];
                    }
                }
            }
        }
        if rng.unit() < mutation {
            neighbours(model, &child, &mut cands);
            if !cands.is_empty() {
                child = cands.swap_remove(rng.below(cands.len()));
            }
        }
        max_instances(model, &mut child);
        let Some(c) = ev.cost(model, &child) else { continue };
        let c = lower_instances(model, &mut child, ev, c);
        let worst = (0..pop.len()).max_by(|&x, &y| pop[x].0.total_cmp(&pop[y].0)).unwrap_or(0);
        if c < pop[worst].0 && !pop.iter().any(|(_, s)| *s == child) {
            pop[worst] = (c, child);
        }
    }
    pop.into_iter().min_by(|x, y| x.0.total_cmp(&y.0))
}
