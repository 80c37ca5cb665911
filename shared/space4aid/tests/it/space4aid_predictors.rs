//! SPACE4AI-D with trained predictors (CoreBasedPredictor, LambdaBasedPredictor): the
//! response time comes from the model at `instances x cores per instance` (and the
//! partition's rate), a predicted partition runs alone on its resource, the incremental
//! evaluation agrees with the full one, and the solver sizes the instances to the threshold.

use std::collections::BTreeMap;

use aisprint_model::json;
use aisprint_model::perfmodel::{Regressor, Technique, Validation, FORMAT};
use aisprint_space4aid::eval::{evaluate, Solution, Violation};
use aisprint_space4aid::incremental::Incremental;
use aisprint_space4aid::model::Model;
use aisprint_space4aid::search::{neighbours, random_solution, Rng};
use aisprint_space4aid::solver::{solve, SolveOptions};
use aisprint_space4aid::system::System;
use serde_json::{json, Value};

/// `a + b / cores` (a ridge model on `inverse_cores`), or `a + b * x / cores` with the rate.
fn regressor(a: f64, b: f64, throughput: bool) -> Regressor {
    let (inputs, feature) = if throughput {
        (vec!["cores".to_string(), "observed_throughput".to_string()], "inverse_cores__observed_throughput")
    } else {
        (vec!["cores".to_string()], "inverse_cores")
    };
    Regressor {
        format: FORMAT.into(),
        target: "avg_response_time".into(),
        inputs,
        features: vec![feature.into()],
        technique: Technique::Ridge { alpha: 0.0, mean: vec![0.0], scale: vec![1.0], coef: vec![b], intercept: a },
        validation: Validation { folds: 5, rows: 10, mape: 0.0, per_technique: BTreeMap::new() },
        domain: BTreeMap::new(),
        imported_from: None,
    }
}

/// One component, one partition, on a VM layer of two resource types.
fn one_component(threshold: f64) -> System {
    let system = json!({
        "Components": {"c1": {"s1": {"h1": {"next": [], "early_exit_probability": 0, "data_size": []}}}},
        "EdgeResources": {},
        "CloudResources": {"L1": {
            "VM1": {"number": 6, "cost": 1.0, "memory": 8192, "n_cores": 2},
            "VM2": {"number": 2, "cost": 3.5, "memory": 8192, "n_cores": 8}
        }},
        "FaaSResources": {},
        "CompatibilityMatrix": {"c1": {"h1": [{"resource": "VM1", "memory": 1024}, {"resource": "VM2", "memory": 1024}]}},
        "Performance": {"c1": {"h1": {
            "VM1": {"model": "CoreBasedPredictor", "regressor": regressor(0.1, 2.0, false)},
            "VM2": {"model": "CoreBasedPredictor", "regressor": regressor(0.1, 2.0, false)}
        }}},
        "DirectedAcyclicGraph": {"c1": {"next": [], "transition_probability": []}},
        "Lambda": 0.5,
        "LocalConstraints": {"c1": {"local_res_time": threshold}},
        "GlobalConstraints": {},
        "NetworkTechnology": {"ND1": {"computationalLayers": ["L1"], "AccessDelay": 0.001, "Bandwidth": 1000}},
        "Time": 1
    });
    let (doc, _) = json::parse::<System>("system.json", &system.to_string()).expect("parse");
    doc.value
}

#[test]
fn the_response_time_is_the_model_at_the_cores_given() {
    let m = Model::compile(&one_component(0.6), "system.json").expect("compile");
    // VM1 (2 cores each): 2 instances give 4 cores, 0.1 + 2/4 = 0.6 s.
    let sol = Solution { deployment: vec![0], placement: vec![0], instances: vec![2, 0] };
    let ev = evaluate(&m, &sol);
    assert!((ev.component_response[0] - 0.6).abs() < 1e-12, "{:?}", ev.component_response);
    assert!(ev.feasible, "{:?}", ev.violations);
    let one = Solution { instances: vec![1, 0], ..sol.clone() };
    assert!(!evaluate(&m, &one).feasible, "0.1 + 2/2 = 1.1 s > 0.6 s");
    // The solver picks the cheapest: 2 VM1 (cost 2) over 1 VM2 (3.5, 0.35 s).
    let r =
        solve(&m, &SolveOptions { random_greedy_iterations: 200, local_search_iterations: 20, ..Default::default() });
    let (cost, best) = r.best.expect("feasible");
    assert_eq!(best.instances, vec![2, 0]);
    assert!((cost - 2.0).abs() < 1e-9, "{cost}");
    assert!(!r.proven_optimal, "the exact method does not run with predictors");
}

#[test]
fn a_predicted_partition_runs_alone() {
    // Two components on the same resource, one of them predicted.
    let mut s = one_component(5.0);
    let text = serde_json::to_string(&s).expect("json");
    let mut v: Value = serde_json::from_str(&text).expect("value");
    v["Components"]["c2"] = json!({"s1": {"h2": {"next": [], "early_exit_probability": 0, "data_size": []}}});
    v["Components"]["c1"]["s1"]["h1"]["next"] = json!(["c2"]);
    v["Components"]["c1"]["s1"]["h1"]["data_size"] = json!([0.1]);
    v["CompatibilityMatrix"]["c2"] = json!({"h2": [{"resource": "VM1", "memory": 512}]});
    v["Performance"]["c2"] = json!({"h2": {"VM1": {"model": "QTcloud", "demand": 0.1}}});
    v["DirectedAcyclicGraph"]["c1"] = json!({"next": ["c2"], "transition_probability": [1.0]});
    v["DirectedAcyclicGraph"]["c2"] = json!({"next": [], "transition_probability": []});
    s = serde_json::from_value(v).expect("system");
    let m = Model::compile(&s, "system.json").expect("compile");
    let sol = Solution { deployment: vec![0, 0], placement: vec![0, 0], instances: vec![3, 0] };
    let ev = evaluate(&m, &sol);
    assert!(
        ev.violations.iter().any(|x| matches!(x, Violation::NotAlone { resource, partitions: 2 } if resource == "VM1")),
        "{:?}",
        ev.violations
    );
    // The incremental state refuses it too, and accepts the same placement with c2 moved off.
    let mut inc = Incremental::new(&m, &sol);
    assert!(inc.goto(&m, &sol).is_none() && !inc.feasible());
    let apart = Solution { deployment: vec![0, 0], placement: vec![0, 1], instances: vec![3, 1] };
    let full = evaluate(&m, &apart);
    assert!(!full.violations.iter().any(|x| matches!(x, Violation::NotAlone { .. })), "{:?}", full.violations);
    inc.goto(&m, &apart);
    assert_eq!(inc.feasible(), full.feasible);
}

#[test]
fn a_lambda_based_model_reads_the_rate() {
    let mut s = one_component(5.0);
    let mut v: Value = serde_json::to_value(&s).expect("value");
    v["Performance"]["c1"]["h1"]["VM1"] =
        json!({"model": "LambdaBasedPredictor", "regressor": regressor(0.1, 2.0, true)});
    s = serde_json::from_value(v).expect("system");
    let m = Model::compile(&s, "system.json").expect("compile");
    let sol = Solution { deployment: vec![0], placement: vec![0], instances: vec![2, 0] };
    // 0.1 + 2 * 0.5 / 4 = 0.35 s at Lambda = 0.5.
    let ev = evaluate(&m, &sol);
    assert!((ev.component_response[0] - 0.35).abs() < 1e-12, "{:?}", ev.component_response);
    // A model of the wrong kind is refused by name.
    let mut v: Value = serde_json::to_value(&s).expect("value");
    v["Performance"]["c1"]["h1"]["VM2"] =
        json!({"model": "LambdaBasedPredictor", "regressor": regressor(0.1, 2.0, false)});
    let s: System = serde_json::from_value(v).expect("system");
    let e = Model::compile(&s, "system.json").expect_err("wrong inputs");
    assert!(e.to_string().contains("Performance.c1.h1.VM2"), "{e}");
}

/// Random instances with predictors on the VMs: random walks agree between the incremental
/// and the full evaluation at every step.
#[test]
fn incremental_and_full_evaluation_agree_with_predictors() {
    let close = |a: f64, b: f64| (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(1.0);
    for seed in [3, 9] {
        let mut v = aisprint_space4aid::generate::system_json(6, seed);
        let perf = v["Performance"].as_object_mut().expect("perf");
        let mut replaced = 0;
        for (_, hs) in perf.iter_mut() {
            for (_, rs) in hs.as_object_mut().expect("h").iter_mut() {
                for (r, model) in rs.as_object_mut().expect("r").iter_mut() {
                    if r.starts_with("VM") {
                        let d = model["demand"].as_f64().unwrap_or(0.2);
                        *model = json!({"model": "CoreBasedPredictor", "regressor": regressor(d, 2.0 * d, replaced % 2 == 1)});
                        if replaced % 2 == 1 {
                            model["model"] = json!("LambdaBasedPredictor");
                        }
                        replaced += 1;
                    }
                }
            }
        }
        assert!(replaced > 0);
        let (doc, _) = json::parse::<System>("system.json", &v.to_string()).expect("parse");
        let m = Model::compile(&doc.value, "system.json").expect("compile");
        let mut rng = Rng::new(5);
        // A random placement (some draws leave a partition nowhere to go).
        let draw = |rng: &mut Rng| (0..200).find_map(|_| random_solution(&m, rng)).expect("a placement");
        let mut sol = draw(&mut rng);
        let mut inc = Incremental::new(&m, &sol);
        let mut cands = Vec::new();
        for step in 0..800 {
            match rng.below(4) {
                0 => sol = draw(&mut rng),
                1 => {
                    neighbours(&m, &sol, &mut cands);
                    if !cands.is_empty() {
                        sol = cands.swap_remove(rng.below(cands.len()));
                    }
                }
                _ => {
                    let r = rng.below(m.resources.len());
                    sol.instances[r] = rng.below(m.resources[r].number as usize + 2) as u32;
                }
            }
            let got = inc.goto(&m, &sol);
            let full = evaluate(&m, &sol);
            assert_eq!(inc.feasible(), full.feasible, "seed {seed} step {step}: {:?}", full.violations);
            assert_eq!(got.is_some(), full.feasible);
            for (c, (a, b)) in inc.component_response().iter().zip(&full.component_response).enumerate() {
                assert!(close(*a, *b), "seed {seed} step {step}: component {c}: {a} vs {b}");
            }
        }
        let r = solve(
            &m,
            &SolveOptions { random_greedy_iterations: 300, local_search_iterations: 30, ..Default::default() },
        );
        // With predictors no optimum is claimed; a feasible answer passes the evaluator.
        assert!(!r.proven_optimal);
        if let Some((cost, best)) = r.best {
            let ev = evaluate(&m, &best);
            assert!(ev.feasible && (ev.cost - cost).abs() <= 1e-9 * cost.max(1.0), "seed {seed}: {:?}", ev.violations);
        }
    }
}
