//! SPACE4AI-R's decision time for a large application (docs/benchmarks.md):
//!
//! ```sh
//! cargo bench -p aisprint-space4aid --bench reopt
//! ```
//!
//! Chains of 25, 50 and 100 components, each of which may run on an edge node (physical
//! layer 1), an edge server (physical layer 2) or two VM types (virtual layer 3, up to 40
//! each), with demands varying by component and a 2 s local constraint on each; placed by
//! SPACE4AI-D at 0.5 req/s. Then the decisions SPACE4AI-R takes: the rate tripled (moves and
//! scale-outs: a re-solve under the runtime rules), a violation the model does not see (the
//! current capacity searched, then a re-solve), and the rate fallen to a third after the
//! cool-down (a scale-in). Target: under 100 ms for 100 components.

use std::time::Instant;

use aisprint_space4aid::model::Model;
use aisprint_space4aid::reopt::{decide, Candidate, Current, Settings, Situation};
use aisprint_space4aid::solver::{solve, SolveOptions};
use aisprint_space4aid::system::System;
use serde_json::{json, Map, Value};

/// The chain of `n` components (deterministic for `seed`).
fn chain(n: usize, seed: u64) -> Value {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut factor = || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        0.5 + ((x >> 33) as f64 / (1u64 << 31) as f64)
    };
    let (mut dag, mut comps, mut compat, mut perf, mut local) =
        (Map::new(), Map::new(), Map::new(), Map::new(), Map::new());
    for i in 1..=n {
        let c = format!("c{i}");
        let next: Vec<String> = if i < n { vec![format!("c{}", i + 1)] } else { vec![] };
        let p: Vec<f64> = next.iter().map(|_| 1.0).collect();
        dag.insert(c.clone(), json!({"next": next, "transition_probability": p}));
        let h = format!("h{i}");
        let data: Vec<f64> = next.iter().map(|_| 0.01).collect();
        comps.insert(
            c.clone(),
            json!({"s1": {h.clone(): {"next": next, "early_exit_probability": 0, "data_size": data}}}),
        );
        let options: Vec<Value> =
            ["EN", "ES", "VM1", "VM2"].iter().map(|r| json!({"resource": r, "memory": 64})).collect();
        compat.insert(c.clone(), json!({h.clone(): options}));
        let f = factor();
        perf.insert(
            c.clone(),
            json!({h: {
                "EN": {"model": "QTedge", "demand": 0.02 * f},
                "ES": {"model": "QTedge", "demand": 0.01 * f},
                "VM1": {"model": "QTcloud", "demand": 0.2 * f},
                "VM2": {"model": "QTcloud", "demand": 0.1 * f}
            }}),
        );
        local.insert(c, json!({"local_res_time": 2.0}));
    }
    json!({
        "DirectedAcyclicGraph": dag, "Components": comps,
        "EdgeResources": {
            "L1": {"EN": {"number": 1, "cost": 0.1, "memory": 1e6}},
            "L2": {"ES": {"number": 1, "cost": 0.3, "memory": 1e6}}
        },
        "CloudResources": {"L3": {"VM1": {"number": 40, "cost": 1.0, "memory": 1e6}, "VM2": {"number": 40, "cost": 1.6, "memory": 1e6}}},
        "CompatibilityMatrix": compat, "Performance": perf, "Lambda": 0.5,
        "LocalConstraints": local, "GlobalConstraints": {},
        "NetworkTechnology": {"ND1": {"computationalLayers": ["L1", "L2", "L3"], "AccessDelay": 0.0001, "Bandwidth": 10000}},
        "Time": 1
    })
}

fn main() {
    for n in [25, 50, 100] {
        let mut times: Vec<(&str, Vec<f64>)> = vec![("rate x3", vec![]), ("violation", vec![]), ("rate / 3", vec![])];
        let mut changed = [0usize; 3];
        let mut placed = 0;
        let mut gaps: Vec<f64> = Vec::new();
        for seed in 1..=40u64 {
            if placed == 5 {
                break;
            }
            let s: System = serde_json::from_value(chain(n, seed)).expect("system");
            let model = Model::compile(&s, "bench").expect("model");
            let Some((_, design)) = solve(&model, &SolveOptions::default()).best else { continue };
            placed += 1;
            let cands = vec![Candidate { name: "base".into(), model: model.clone(), rank: 0 }];
            let cur = Current { candidate: 0, solution: &design };
            let settings = Settings::default();
            let l = model.lambda;
            let cases = [(l * 3.0, vec![]), (l, vec!["c1".to_string()]), (l / 3.0, vec![])];
            for (k, (lambda, violated)) in cases.into_iter().enumerate() {
                let now = Situation { lambda, violated, since_applied_s: 1e9, limits: vec![] };
                let t = Instant::now();
                let d = decide(&cands, cur, cur, &[], &now, &settings);
                times[k].1.push(t.elapsed().as_secs_f64() * 1e3);
                changed[k] += usize::from(d.choice.is_some());
                // The cost the quick search finds against SPACE4AI-D's full search, same rules.
                if let (0, Some(c)) = (k, &d.choice) {
                    let rules = aisprint_space4aid::reopt::Rules::new((&model, &design), (&model, &design));
                    let mut m = rules.restrict(model.clone());
                    m.set_lambda(d.target_lambda);
                    if let Some((full, _)) = solve(&m, &SolveOptions::default()).best {
                        gaps.push(c.cost / full - 1.0);
                    }
                }
            }
        }
        if !gaps.is_empty() {
            let worst = gaps.iter().copied().fold(f64::MIN, f64::max);
            println!("{n:>3} components, rate x3: cost over SPACE4AI-D's full search: worst {:+.1}%", worst * 100.0);
        }
        for (k, (case, v)) in times.iter_mut().enumerate() {
            if v.is_empty() {
                println!("{n:>3} components: no generated system was feasible");
                break;
            }
            v.sort_by(f64::total_cmp);
            println!(
                "{n:>3} components, {case:<9}: median {:.1} ms, max {:.1} ms ({} of {} decided a change)",
                v[v.len() / 2],
                v[v.len() - 1],
                changed[k],
                v.len()
            );
        }
    }
}
