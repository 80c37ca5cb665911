//! The exact method on small generated instances: it agrees with a brute-force enumeration
//! of every placement and every instance count, its answers pass the evaluator, the
//! heuristics are never below it, and its lower bound is never above the optimum.

use std::time::Duration;

use aisprint_model::json;
use aisprint_space4aid::eval::{evaluate, Solution, NONE};
use aisprint_space4aid::exact::{exact, lower_bound, ExactOptions};
use aisprint_space4aid::generate::system_json;
use aisprint_space4aid::model::Model;
use aisprint_space4aid::solver::{solve, SolveOptions};
use aisprint_space4aid::system::System;

fn model(n: usize, seed: u64) -> Model {
    let text = system_json(n, seed).to_string();
    let (doc, _) = json::parse::<System>("generated.json", &text).expect("a generated system parses");
    Model::compile(&doc.value, "generated.json").expect("a generated system compiles")
}

/// The cheapest feasible solution by trying everything (tiny instances only).
fn brute_force(m: &Model) -> Option<f64> {
    let mut best: Option<f64> = None;
    let mut sol = Solution {
        deployment: vec![0; m.components.len()],
        placement: vec![NONE; m.partitions.len()],
        instances: vec![0; m.resources.len()],
    };
    fn counts(m: &Model, sol: &mut Solution, used: &[usize], j: usize, best: &mut Option<f64>) {
        if j == used.len() {
            let ev = evaluate(m, sol);
            if ev.feasible && best.is_none_or(|b| ev.cost < b) {
                *best = Some(ev.cost);
            }
            return;
        }
        for n in 1..=m.resources[used[j]].number {
            sol.instances[used[j]] = n;
            counts(m, sol, used, j + 1, best);
        }
    }
    fn place(m: &Model, sol: &mut Solution, c: usize, k: usize, best: &mut Option<f64>) {
        if c == m.components.len() {
            let mut used = Vec::new();
            sol.instances.iter_mut().for_each(|n| *n = 0);
            for (ci, comp) in m.components.iter().enumerate() {
                for &p in &comp.deployments[sol.deployment[ci]].partitions {
                    let r = sol.placement[p];
                    if m.is_faas(r) {
                        sol.instances[r] = 1;
                    } else if !used.contains(&r) {
                        used.push(r);
                    }
                }
            }
            counts(m, sol, &used, 0, best);
            return;
        }
        let parts = m.components[c].deployments[sol.deployment[c]].partitions.clone();
        if k == parts.len() {
            // Next component, every deployment.
            if c + 1 == m.components.len() {
                place(m, sol, c + 1, 0, best);
            } else {
                for d in 0..m.components[c + 1].deployments.len() {
                    sol.deployment[c + 1] = d;
                    place(m, sol, c + 1, 0, best);
                }
            }
            return;
        }
        let p = parts[k];
        for &(r, _, _) in &m.partitions[p].options {
            sol.placement[p] = r;
            place(m, sol, c, k + 1, best);
        }
        sol.placement[p] = NONE;
    }
    for d in 0..m.components[0].deployments.len() {
        sol.deployment[0] = d;
        place(m, &mut sol, 0, 0, &mut best);
    }
    best
}

#[test]
fn exact_agrees_with_brute_force_on_tiny_instances() {
    let (mut feasible, mut infeasible) = (0, 0);
    for seed in 1..=40 {
        let m = model(3, seed);
        let want = brute_force(&m);
        let got = exact(&m, None, &ExactOptions::default());
        assert!(got.proven, "seed {seed}: not finished");
        match (want, &got.best) {
            (None, None) => {
                infeasible += 1;
                assert!(got.lower_bound.is_infinite(), "seed {seed}");
            }
            (Some(w), Some((c, s))) => {
                feasible += 1;
                assert!((w - c).abs() <= 1e-9 * w, "seed {seed}: brute force {w}, exact {c}");
                let ev = evaluate(&m, s);
                assert!(ev.feasible && (ev.cost - c).abs() <= 1e-9 * c, "seed {seed}: {:?}", ev.violations);
                assert!((got.lower_bound - c).abs() <= 1e-9 * c, "seed {seed}");
                let lb = lower_bound(&m, Duration::from_millis(100));
                assert!(lb <= c * (1.0 + 1e-9), "seed {seed}: lower bound {lb} above the optimum {c}");
            }
            (w, g) => panic!("seed {seed}: brute force {w:?}, exact {:?}", g.as_ref().map(|x| x.0)),
        }
    }
    // The generator must give both kinds, or the test proves little.
    assert!(feasible >= 20 && infeasible >= 1, "{feasible} feasible, {infeasible} infeasible");
}

#[test]
fn heuristics_are_never_below_the_proven_optimum_and_often_reach_it() {
    let (mut proven, mut at_optimum) = (0, 0);
    for n in [5, 6, 8] {
        for seed in 1..=6 {
            let m = model(n, 100 + seed);
            let opt = exact(&m, None, &ExactOptions { time_limit: Duration::from_secs(20), node_limit: 0 });
            let h = solve(
                &m,
                &SolveOptions { random_greedy_iterations: 400, local_search_iterations: 100, ..Default::default() },
            );
            let Some((oc, os)) = &opt.best else {
                assert!(h.best.is_none(), "n {n} seed {seed}: the heuristics found what exact says does not exist");
                continue;
            };
            assert!(evaluate(&m, os).feasible);
            if opt.proven {
                proven += 1;
                if let Some((hc, _)) = &h.best {
                    assert!(*hc >= oc * (1.0 - 1e-9), "n {n} seed {seed}: heuristic {hc} below the optimum {oc}");
                    assert!(
                        h.lower_bound <= oc * (1.0 + 1e-9),
                        "n {n} seed {seed}: bound {} above {oc}",
                        h.lower_bound
                    );
                    if *hc <= oc * (1.0 + 1e-9) {
                        at_optimum += 1;
                    }
                }
            }
        }
    }
    assert!(proven >= 12, "only {proven} instances proven");
    assert!(at_optimum * 2 >= proven, "the heuristics reached the optimum on {at_optimum} of {proven}");
}

#[test]
fn a_stopped_search_returns_a_valid_bound() {
    let m = model(8, 7);
    let full = exact(&m, None, &ExactOptions::default());
    assert!(full.proven);
    for limit in [1, 10, 100, 1000] {
        let part = exact(&m, None, &ExactOptions { time_limit: Duration::from_secs(60), node_limit: limit });
        assert!(!part.proven || full.nodes <= limit, "limit {limit}");
        assert!(
            part.lower_bound <= full.lower_bound * (1.0 + 1e-9),
            "limit {limit}: {} > {}",
            part.lower_bound,
            full.lower_bound
        );
        if let Some((c, _)) = part.best {
            assert!(c >= full.lower_bound * (1.0 - 1e-9));
        }
    }
}

/// Polishing (exact re-placement of groups of components, the others fixed) never returns a
/// worse or infeasible solution, and with every component free it finds the optimum.
#[test]
fn polishing_is_never_worse_and_with_everything_free_is_exact() {
    use aisprint_space4aid::exact::improve;
    use aisprint_space4aid::solver::polish;
    let mut improved = 0;
    for seed in 1..=12 {
        let m = model(6, 500 + seed);
        let h = solve(
            &m,
            &SolveOptions {
                random_greedy_iterations: 30,
                local_search_iterations: 0,
                polish: None,
                ..Default::default()
            },
        );
        let Some((hc, hs)) = h.best else { continue };
        let (pc, ps) = polish(&m, (hc, hs.clone()), 2, 2000, 4);
        let ev = evaluate(&m, &ps);
        assert!(ev.feasible, "seed {seed}: {:?}", ev.violations);
        assert!((ev.cost - pc).abs() <= 1e-9 * pc && pc <= hc + 1e-12, "seed {seed}: {hc} -> {pc}");
        if pc < hc - 1e-9 {
            improved += 1;
        }
        let all: Vec<usize> = (0..m.components.len()).collect();
        let opt = exact(&m, None, &ExactOptions::default());
        let best = improve(&m, &hs, hc, &all, 0).map_or(hc, |x| x.0);
        let oc = opt.best.expect("feasible").0;
        assert!((best - oc).abs() <= 1e-9 * oc, "seed {seed}: everything free gives {best}, the optimum is {oc}");
    }
    assert!(improved >= 1, "polishing never improved a short RandomGreedy run");
}

/// A FaaS option that another beats on price and speed is still tried when a neighbouring
/// partition can share its resource: together they send their data with no delay.
#[test]
fn a_dominated_faas_option_shared_with_a_neighbour_is_kept() {
    let system = |threshold: f64| {
        serde_json::json!({
            "DirectedAcyclicGraph": {"c1": {"next": [], "transition_probability": []}},
            "Components": {"c1": {"s1": {
                "h1": {"next": ["h2"], "early_exit_probability": 0.0, "data_size": [10.0]},
                "h2": {"next": [], "early_exit_probability": 0.0, "data_size": []}
            }}},
            "EdgeResources": {}, "CloudResources": {},
            "FaaSResources": {"L1": {
                "transition_cost": 0,
                "F1": {"cost": 1.0, "memory": 4096, "idle_time_before_kill": 600},
                "F2": {"cost": 0.5, "memory": 4096, "idle_time_before_kill": 600}
            }},
            "CompatibilityMatrix": {"c1": {
                "h1": [{"resource": "F1", "memory": 100}],
                "h2": [{"resource": "F1", "memory": 100}, {"resource": "F2", "memory": 100}]
            }},
            "Performance": {"c1": {
                "h1": {"F1": {"model": "PACSLTK", "demandWarm": 0.5, "demandCold": 1.0}},
                "h2": {"F1": {"model": "PACSLTK", "demandWarm": 1.0, "demandCold": 2.0},
                       "F2": {"model": "PACSLTK", "demandWarm": 0.9, "demandCold": 1.8}}
            }},
            "Lambda": 0.1,
            "LocalConstraints": {"c1": {"local_res_time": threshold}},
            "GlobalConstraints": {},
            "NetworkTechnology": {"ND1": {"computationalLayers": ["L1"], "AccessDelay": 0.01, "Bandwidth": 10}},
            "Time": 1
        })
        .to_string()
    };
    let compile = |text: String| {
        let (doc, _) = json::parse::<System>("s.json", &text).expect("parse");
        Model::compile(&doc.value, "s.json").expect("compile")
    };
    // Both halves on F1: its response time, with room to spare; F2 for the second half adds a
    // second of delay.
    let m = compile(system(100.0));
    let f1 = m.resource_index["F1"];
    let sol = Solution { deployment: vec![0], placement: vec![f1, f1], instances: vec![1, 0] };
    let together = evaluate(&m, &sol).component_response[0];
    let m = compile(system(together + 0.1));
    let r = exact(&m, None, &ExactOptions::default());
    assert!(r.proven);
    let (_, best) = r.best.expect("both halves on F1 are feasible");
    assert_eq!(best.placement, vec![f1, f1]);
}
