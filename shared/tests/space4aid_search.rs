//! Properties of the search methods on public instances: what they output passes the
//! evaluator, LocalSearch never worsens its start, and a seed with a thread count gives the
//! same result.

use std::path::Path;

use aisprint_shared::json;
use aisprint_shared::space4aid::eval::evaluate;
use aisprint_shared::space4aid::model::Model;
use aisprint_shared::space4aid::search::{local_search, random_greedy, Elite, Evaluator, Rng};
use aisprint_shared::space4aid::solver::{solve, SolveOptions};
use aisprint_shared::system::System;

fn model(rel: &str) -> Model {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/space4ai-d/instances/GeneralWorkflows").join(rel);
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
    use aisprint_shared::space4aid::search::Evaluator;
    use aisprint_shared::space4aid::solver::max_lambda;
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
    use aisprint_shared::space4aid::solver::Heuristic;
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
