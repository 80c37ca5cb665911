//! Properties of the search methods on public instances: what they output passes the
//! evaluator, LocalSearch never worsens its start, and a seed with a thread count gives the
//! same result.

use std::path::Path;

use aisprint_model::json;
use aisprint_space4aid::eval::evaluate;
use aisprint_space4aid::model::Model;
use aisprint_space4aid::search::{local_search, random_greedy, Elite, Evaluator, Rng};
use aisprint_space4aid::solver::{solve, SolveOptions};
use aisprint_space4aid::system::System;

fn model(rel: &str) -> Model {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/space4ai-d/instances/GeneralWorkflows").join(rel);
    let text = std::fs::read_to_string(&file).expect("read");
    let (doc, _) = json::parse::<System>("system.json", &text).expect("parse");
    let mut s = doc.value;
    s.lambda = 1.8;
    Model::compile(&s, "system.json").expect("compile")
}

const INSTANCES: [&str; 4] = [
    "Light/5Components/Ins1/system_description.json",
    "Strict/7Components/Ins3/system_description.json",
    "Light/10Components/Ins8/system_description.json",
    "Strict/15Components/Ins2/system_description.json",
];

#[test]
fn outputs_pass_the_evaluator_and_local_search_never_worsens() {
    for rel in INSTANCES {
        let m = model(rel);
        let mut rng = Rng::new(7);
        let mut elite = Elite::new(5);
        let mut ev = Evaluator::default();
        random_greedy(&m, 400, &mut rng, &mut elite, &mut ev);
        assert!(!elite.items.is_empty(), "{rel}: RandomGreedy found nothing");
        for (cost, sol) in &elite.items {
            let full = evaluate(&m, sol);
            assert!(full.feasible, "{rel}: {:?}", full.violations);
            assert!((full.cost - cost).abs() <= 1e-9 * cost.max(1.0), "{rel}: cost {} vs {cost}", full.cost);
            let (c2, s2) = local_search(&m, sol, *cost, 50, &mut rng, &mut ev);
            assert!(c2 <= *cost + 1e-12, "{rel}: LocalSearch went from {cost} to {c2}");
            let full = evaluate(&m, &s2);
            assert!(full.feasible && (full.cost - c2).abs() <= 1e-9 * c2.max(1.0), "{rel}");
        }
    }
}

#[test]
fn a_seed_and_a_thread_count_give_the_same_result() {
    let m = model(INSTANCES[2]);
    let opts = SolveOptions {
        random_greedy_iterations: 300,
        local_search_iterations: 30,
        seed: 42,
        threads: 2,
        ..Default::default()
    };
    let a = solve(&m, &opts).best.expect("solution");
    let b = solve(&m, &opts).best.expect("solution");
    assert_eq!(a, b);
    let one = SolveOptions { threads: 1, ..opts.clone() };
    let c = solve(&m, &one).best.expect("solution");
    assert_eq!(c, solve(&m, &one).best.expect("solution"));
}

#[test]
fn the_binary_search_stops_at_the_edge_of_feasibility() {
    use aisprint_space4aid::search::Evaluator;
    use aisprint_space4aid::solver::max_lambda;
    for rel in INSTANCES {
        let m = model(rel);
        let opts = SolveOptions { random_greedy_iterations: 200, local_search_iterations: 10, ..Default::default() };
        let (_, sol) = solve(&m, &opts).best.expect("solution");
        let eps = 1e-4;
        let upper = 50.0;
        let l = max_lambda(&m, &sol, upper, eps).expect("feasible at 1.8");
        assert!(l >= 1.8);
        let mut at = m.clone();
        at.set_lambda(l);
        assert!(Evaluator::default().cost(&at, &sol).is_some(), "{rel}: infeasible at its own max {l}");
        if l < upper {
            at.set_lambda(l + 2.0 * eps);
            assert!(Evaluator::default().cost(&at, &sol).is_none(), "{rel}: still feasible above {l}");
        }
    }
}

#[test]
fn every_heuristic_returns_feasible_solutions_no_worse_than_its_start() {
    use aisprint_space4aid::solver::Heuristic;
    let m = model(INSTANCES[2]);
    let base =
        SolveOptions { random_greedy_iterations: 400, local_search_iterations: 40, seed: 5, ..Default::default() };
    for h in [
        Heuristic::LocalSearch,
        Heuristic::TabuSearch { tabu_size: 10 },
        Heuristic::SimulatedAnnealing { temperature: 1.0, schedule: 0.9 },
        Heuristic::GeneticAlgorithm { crossover: 0.5, mutation: 0.7 },
    ] {
        let opts = SolveOptions { heuristic: h.clone(), ..base.clone() };
        let r = solve(&m, &opts);
        let (cost, sol) = r.best.expect("solution");
        assert!(cost <= r.random_greedy_best.expect("rg") + 1e-12, "{h:?} made it worse");
        let ev = evaluate(&m, &sol);
        assert!(ev.feasible && (ev.cost - cost).abs() < 1e-9 * cost, "{h:?}");
        assert_eq!(solve(&m, &opts).best.map(|b| b.1), Some(sol), "{h:?} is not reproducible");
    }
}

/// Random walks through neighbours and instance counts (in range and out of it, feasible or
/// not): the incremental state agrees with a full evaluation at every step.
#[test]
fn incremental_and_full_evaluation_agree() {
    use aisprint_space4aid::incremental::Incremental;
    use aisprint_space4aid::search::{neighbours, random_solution};
    let close = |a: f64, b: f64| (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(1.0);
    for rel in INSTANCES {
        let m = model(rel);
        let mut rng = Rng::new(11);
        let mut sol = random_solution(&m, &mut rng).expect("a placement");
        let mut inc = Incremental::new(&m, &sol);
        let mut cands = Vec::new();
        let (mut feasible_steps, mut steps) = (0, 0);
        for step in 0..1500 {
            match rng.below(4) {
                0 => sol = random_solution(&m, &mut rng).expect("a placement"),
                1 => {
                    neighbours(&m, &sol, &mut cands);
                    if !cands.is_empty() {
                        sol = cands.swap_remove(rng.below(cands.len()));
                    }
                }
                _ => {
                    // Change one or two instance counts (0 and number + 1 break the rule).
                    for _ in 0..1 + rng.below(2) {
                        let r = rng.below(m.resources.len());
                        sol.instances[r] = rng.below(m.resources[r].number as usize + 2) as u32;
                    }
                }
            }
            let got = inc.goto(&m, &sol);
            let full = evaluate(&m, &sol);
            steps += 1;
            assert_eq!(inc.feasible(), full.feasible, "{rel} step {step}: {:?}", full.violations);
            assert_eq!(got.is_some(), full.feasible, "{rel} step {step}");
            if full.feasible {
                feasible_steps += 1;
                assert!(close(inc.cost(), full.cost), "{rel} step {step}: cost {} vs {}", inc.cost(), full.cost);
            }
            for (c, (a, b)) in inc.component_response().iter().zip(&full.component_response).enumerate() {
                assert!(close(*a, *b), "{rel} step {step}: component {c}: {a} vs {b}");
            }
            for (g, (a, b)) in inc.path_response().iter().zip(&full.path_response).enumerate() {
                assert!(close(*a, *b), "{rel} step {step}: path {g}: {a} vs {b}");
            }
            assert_eq!(inc.solution(), &sol);
        }
        assert!(feasible_steps > 20, "{rel}: only {feasible_steps} of {steps} steps were feasible");
    }
}

/// A whole solve gives the same answer, evaluation for evaluation, with incremental and with
/// full evaluation.
#[test]
fn solving_with_incremental_evaluation_gives_the_full_evaluation_answer() {
    for rel in INSTANCES {
        let m = model(rel);
        let opts = SolveOptions { random_greedy_iterations: 300, local_search_iterations: 40, ..Default::default() };
        let a = solve(&m, &opts);
        let b = solve(&m, &SolveOptions { incremental: false, ..opts.clone() });
        assert_eq!(a.evaluations, b.evaluations, "{rel}");
        let ((ca, sa), (cb, sb)) = (a.best.expect("feasible"), b.best.expect("feasible"));
        assert_eq!(sa, sb, "{rel}");
        assert!((ca - cb).abs() <= 1e-9 * ca, "{rel}: {ca} vs {cb}");
    }
}
