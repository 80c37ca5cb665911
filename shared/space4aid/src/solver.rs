//! Runs the methods on a model: RandomGreedy spread over threads (each with its own stream
//! of random numbers derived from the seed, so a seed and a thread count give the same
//! result), then LocalSearch from each elite solution, also spread over threads.

use std::time::{Duration, Instant};

use crate::eval::Solution;
use crate::model::Model;
use crate::search::{local_search, random_greedy, simulated_annealing, tabu_search, Elite, Evaluator, Rng};

/// The method run from RandomGreedy's elite (the user guide's `method2`).
#[derive(Debug, Clone, PartialEq)]
pub enum Heuristic {
    LocalSearch,
    TabuSearch { tabu_size: usize },
    SimulatedAnnealing { temperature: f64, schedule: f64 },
    GeneticAlgorithm { crossover: f64, mutation: f64 },
}

#[derive(Debug, Clone)]
pub struct SolveOptions {
    pub heuristic: Heuristic,
    pub random_greedy_iterations: u64,
    /// Keep going until this much time has passed, whatever the iterations (0: no minimum).
    pub random_greedy_duration: Duration,
    pub elite: usize,
    pub local_search_iterations: u64,
    pub seed: u64,
    pub threads: usize,
    /// Evaluate moves incrementally (the default) or every solution in full.
    pub incremental: bool,
    /// Run the exact branch-and-bound after the heuristics (which give it a starting
    /// incumbent), for at most this long.
    pub exact: Option<Duration>,
    /// Polish the heuristics' best by exact re-placement of groups of components
    /// ([`polish`]): (window width, search nodes per group). `None`: do not.
    pub polish: Option<(usize, u64)>,
    /// The time given to the lower bound every method reports; `None` skips it (0 is
    /// reported): SPACE4AI-R's decisions need the placement, not the bound.
    pub bound: Option<Duration>,
}

impl Default for SolveOptions {
    fn default() -> Self {
        Self {
            heuristic: Heuristic::LocalSearch,
            random_greedy_iterations: 1000,
            random_greedy_duration: Duration::ZERO,
            elite: 5,
            local_search_iterations: 100,
            seed: 1,
            threads: 2,
            incremental: true,
            exact: None,
            polish: Some((2, 3000)),
            bound: Some(Duration::from_millis(100)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SolveResult {
    /// The cheapest feasible solution, if any was found.
    pub best: Option<(f64, Solution)>,
    /// The best cost after RandomGreedy alone.
    pub random_greedy_best: Option<f64>,
    pub evaluations: u64,
    pub random_greedy_time: Duration,
    /// The heuristic from the elite, and the polishing.
    pub local_search_time: Duration,
    /// When nothing feasible was found: the random placement that violates least, with the
    /// sum of its violations' amounts.
    pub least_violating: Option<(f64, Solution)>,
    /// The best lower bound known on the optimal cost (infinite when nothing is feasible
    /// and that was proven).
    pub lower_bound: f64,
    /// Whether the best solution is proven optimal (the exact method finished).
    pub proven_optimal: bool,
    pub exact_time: Duration,
    pub exact_nodes: u64,
}

impl SolveResult {
    /// How far the best cost may be above the optimum, relative to the best cost.
    pub fn gap(&self) -> Option<f64> {
        let (c, _) = self.best.as_ref()?;
        Some(if *c > 0.0 { ((c - self.lower_bound) / c).max(0.0) } else { 0.0 })
    }
}

fn evaluator(opts: &SolveOptions) -> Evaluator {
    if opts.incremental {
        Evaluator::default()
    } else {
        Evaluator::full()
    }
}

fn stream_seed(seed: u64, t: usize) -> u64 {
    seed ^ (t as u64).wrapping_mul(0xA076_1D64_78BD_642F)
}

/// Solves `model`: RandomGreedy, the heuristic from its elite, the polishing of the best,
/// then the exact method when asked.
pub fn solve(model: &Model, opts: &SolveOptions) -> SolveResult {
    let threads = opts.threads.max(1);
    let t0 = Instant::now();
    let (elite, mut evaluations) = random_greedy_phase(model, opts, threads, t0);
    let random_greedy_time = t0.elapsed();
    let random_greedy_best = elite.best().map(|b| b.0);

    let t1 = Instant::now();
    let (best, n) = improve_elite(model, opts, threads, &elite);
    evaluations += n;
    // The exact method's bounds take response times to fall as instances are added, which a
    // trained predictor does not promise: with predictors, the heuristics' answer stands.
    let exact_applies = !model.has_predictors();
    let best = match (best, opts.polish) {
        (Some(b), Some((width, nodes))) if exact_applies => Some(polish(model, b, width, nodes, 4)),
        (b, _) => b,
    };
    let local_search_time = t1.elapsed();
    // The bound every method reports: the cheapest way to run each component alone.
    let mut lower_bound = match opts.bound {
        Some(budget) if exact_applies => crate::exact::lower_bound(model, budget),
        _ => 0.0,
    };
    let (mut best, mut proven_optimal, mut exact_time, mut exact_nodes) = (best, false, Duration::ZERO, 0);
    if let Some(limit) = opts.exact.filter(|_| exact_applies) {
        let r =
            crate::exact::exact(model, best.clone(), &crate::exact::ExactOptions { time_limit: limit, node_limit: 0 });
        lower_bound = lower_bound.max(r.lower_bound);
        proven_optimal = r.proven;
        exact_time = r.elapsed;
        exact_nodes = r.nodes;
        if let Some(found) = r.best {
            if best.as_ref().is_none_or(|b| found.0 < b.0) {
                best = Some(found);
            }
        }
    }
    if let Some((c, _)) = &best {
        // The bound never exceeds a known cost (rounding aside).
        lower_bound = lower_bound.min(*c);
    }
    let least_violating = if best.is_none() { least_violating(model, opts) } else { None };
    SolveResult {
        best,
        random_greedy_best,
        evaluations,
        random_greedy_time,
        local_search_time,
        least_violating,
        lower_bound,
        proven_optimal,
        exact_time,
        exact_nodes,
    }
}

/// RandomGreedy spread over `threads` (each with its own stream of random numbers), for its
/// iterations and at least until `random_greedy_duration` after `t0`: the merged elite and
/// the evaluations made.
fn random_greedy_phase(model: &Model, opts: &SolveOptions, threads: usize, t0: Instant) -> (Elite, u64) {
    let per = opts.random_greedy_iterations / threads as u64;
    let extra = opts.random_greedy_iterations % threads as u64;
    let results: Vec<(Elite, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut rng = Rng::new(stream_seed(opts.seed, t));
                    let mut elite = Elite::new(opts.elite);
                    let mut ev = evaluator(opts);
                    let n = per + u64::from((t as u64) < extra);
                    random_greedy(model, n, &mut rng, &mut elite, &mut ev);
                    while t0.elapsed() < opts.random_greedy_duration {
                        random_greedy(model, 64, &mut rng, &mut elite, &mut ev);
                    }
                    (elite, ev.count)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut elite = Elite::new(opts.elite);
    let mut evaluations = 0;
    for (e, n) in results {
        elite.merge(e);
        evaluations += n;
    }
    (elite, evaluations)
}

/// The heuristic of `opts` from the elite's solutions: the best solution known after it (the
/// elite's best when it finds nothing better) and the evaluations it made.
fn improve_elite(model: &Model, opts: &SolveOptions, threads: usize, elite: &Elite) -> (Option<(f64, Solution)>, u64) {
    let starts = elite.items.clone();
    let mut evaluations = 0;
    let best = if let Heuristic::GeneticAlgorithm { crossover, mutation } = opts.heuristic {
        // One population, evolved on one thread (reproducible whatever the thread count).
        let mut rng = Rng::new(stream_seed(opts.seed ^ 0x5EED, 0));
        let mut ev = evaluator(opts);
        let found = crate::search::genetic(
            model,
            &starts,
            opts.local_search_iterations,
            crossover,
            mutation,
            &mut rng,
            &mut ev,
        );
        evaluations += ev.count;
        found.or_else(|| elite.best().cloned())
    } else {
        let improved: Vec<(Vec<(f64, Solution)>, u64)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads.min(starts.len().max(1)))
                .map(|t| {
                    let starts = &starts;
                    s.spawn(move || {
                        let mut ev = evaluator(opts);
                        let mut out = Vec::new();
                        for (i, (c, sol)) in starts.iter().enumerate() {
                            if i % threads == t {
                                let mut rng = Rng::new(stream_seed(opts.seed ^ 0x5EED, i));
                                out.push(run_heuristic(model, opts, sol, *c, &mut rng, &mut ev));
                            }
                        }
                        (out, ev.count)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        let mut best = elite.best().cloned();
        for (found, n) in improved {
            evaluations += n;
            for (c, s) in found {
                if best.as_ref().is_none_or(|b| c < b.0 || (c == b.0 && s < b.1)) {
                    best = Some((c, s));
                }
            }
        }
        best
    };
    (best, evaluations)
}

/// The heuristic of `opts` (but the genetic algorithm, which evolves a population) from `sol`
/// of cost `cost`.
fn run_heuristic(
    model: &Model,
    opts: &SolveOptions,
    sol: &Solution,
    cost: f64,
    rng: &mut Rng,
    ev: &mut Evaluator,
) -> (f64, Solution) {
    let n = opts.local_search_iterations;
    match opts.heuristic {
        Heuristic::LocalSearch => local_search(model, sol, cost, n, rng, ev),
        Heuristic::TabuSearch { tabu_size } => tabu_search(model, sol, cost, n, tabu_size, ev),
        Heuristic::SimulatedAnnealing { temperature, schedule } => {
            simulated_annealing(model, sol, cost, n, temperature, schedule, rng, ev)
        }
        Heuristic::GeneticAlgorithm { .. } => (cost, sol.clone()),
    }
}

/// Polishing: the exact method re-places groups of components, the others fixed, each group
/// bounded by `node_limit` search nodes: windows of `width` components consecutive in
/// topological order, and the components on each pair of resources in use (so that a layer's
/// resource can change for all its components at once). Rounds repeat while one improves (at
/// most `passes`). Never worse.
pub fn polish(model: &Model, start: (f64, Solution), width: usize, node_limit: u64, passes: usize) -> (f64, Solution) {
    let mut best = start;
    let n = model.topo.len();
    if n == 0 {
        return best;
    }
    let width = width.clamp(1, n);
    let prepared = crate::exact::prepare(model);
    for _ in 0..passes {
        let mut groups: Vec<Vec<usize>> =
            (0..=n.saturating_sub(width)).map(|i| model.topo[i..i + width].to_vec()).collect();
        // Components per resource in use.
        let mut on: Vec<Vec<usize>> = vec![Vec::new(); model.resources.len()];
        for (c, comp) in model.components.iter().enumerate() {
            for &p in &comp.deployments[best.1.deployment[c]].partitions {
                let r = best.1.placement[p];
                if r != crate::eval::NONE && !on[r].contains(&c) {
                    on[r].push(c);
                }
            }
        }
        let used: Vec<usize> = (0..on.len()).filter(|&r| !on[r].is_empty() && !model.is_faas(r)).collect();
        for (i, &a) in used.iter().enumerate() {
            for &b in &used[i..] {
                let mut g = on[a].clone();
                g.extend(on[b].iter().copied().filter(|c| !on[a].contains(c)));
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
        }
        let mut improved = false;
        for free in &groups {
            if let Some(found) = crate::exact::improve_with(model, &prepared, &best.1, best.0, free, node_limit) {
                best = found;
                improved = true;
            }
        }
        if !improved {
            break;
        }
    }
    best
}

/// Draws random placements (as many as RandomGreedy did) and keeps the one whose violations
/// add up to the least.
/// When no placement respecting the layer and no-way-back rules can even be drawn, the
/// first compatible resource of every partition stands in, so that the violations can still be
/// shown. `None` only when some partition has no compatible resource at all.
fn least_violating(model: &Model, opts: &SolveOptions) -> Option<(f64, Solution)> {
    let mut rng = Rng::new(stream_seed(opts.seed, usize::MAX));
    let mut best: Option<(f64, Solution)> = None;
    for _ in 0..opts.random_greedy_iterations.max(1) {
        let Some(sol) = crate::search::random_solution(model, &mut rng) else { continue };
        let v = crate::eval::evaluate(model, &sol).violation();
        if best.as_ref().is_none_or(|b| v < b.0) {
            best = Some((v, sol));
        }
    }
    best.or_else(|| {
        let mut sol = Solution {
            deployment: vec![0; model.components.len()],
            placement: vec![crate::eval::NONE; model.partitions.len()],
            instances: vec![0; model.resources.len()],
        };
        for comp in &model.components {
            for &p in &comp.deployments[0].partitions {
                sol.placement[p] = model.partitions[p].options.first()?.0;
            }
        }
        crate::search::max_instances(model, &mut sol);
        Some((crate::eval::evaluate(model, &sol).violation(), sol))
    })
}

/// The binary search on the arrival rate: the largest `Lambda` in `[model.lambda, upper]`
/// for which `sol` (same placement, same counts) stays feasible, to within `epsilon`.
/// `None` when `sol` is not feasible at the model's own `Lambda`.
pub fn max_lambda(model: &Model, sol: &Solution, upper: f64, epsilon: f64) -> Option<f64> {
    let mut m = model.clone();
    let mut ev = Evaluator::default();
    let mut feasible_at = |l: f64| {
        m.set_lambda(l);
        ev.cost(&m, sol).is_some()
    };
    let (mut lo, mut hi) = (model.lambda, upper.max(model.lambda));
    if !feasible_at(lo) {
        return None;
    }
    if feasible_at(hi) {
        return Some(hi);
    }
    let eps = epsilon.max(f64::EPSILON * hi);
    while hi - lo > eps {
        let mid = lo + (hi - lo) / 2.0;
        if feasible_at(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(lo)
}
