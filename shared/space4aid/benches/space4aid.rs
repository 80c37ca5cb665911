//! `cargo bench -p aisprint-space4aid --bench space4aid`: the 80 GeneralWorkflows instances at
//! Lambda 1.8 with the reference's budget (2,600 RandomGreedy iterations, 5 elite solutions,
//! 950 LocalSearch iterations, no time budget), our time and cost beside the C++ reference's
//! figures (data/space4ai-d/reference-cpp-results.csv).
//!
//! Options (environment): AISPRINT_THREADS (default 2), AISPRINT_SEED (default 1),
//! AISPRINT_FULL_EVAL (set: evaluate every solution in full instead of incrementally),
//! AISPRINT_NO_POLISH (set: skip the exact polishing of the heuristics' best),
//! AISPRINT_SAME_TIME (set: give each instance the C++ run's wall time: RandomGreedy runs for
//! 60% of it with an elite of 10, then LocalSearch).

use std::path::Path;
use std::time::Instant;

use aisprint_model::json;
use aisprint_space4aid::eval::evaluate;
use aisprint_space4aid::model::Model;
use aisprint_space4aid::solution_json;
use aisprint_space4aid::solver::{solve, SolveOptions};
use aisprint_space4aid::system::System;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/space4ai-d");
    let csv = std::fs::read_to_string(root.join("reference-cpp-results.csv")).expect("csv");
    let threads = std::env::var("AISPRINT_THREADS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    let same_time = std::env::var("AISPRINT_SAME_TIME").is_ok();
    let seed = std::env::var("AISPRINT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let opts = SolveOptions {
        random_greedy_iterations: 2600,
        elite: 5,
        local_search_iterations: 950,
        seed,
        threads,
        incremental: std::env::var("AISPRINT_FULL_EVAL").is_err(),
        polish: if std::env::var("AISPRINT_NO_POLISH").is_ok() { None } else { SolveOptions::default().polish },
        ..SolveOptions::default()
    };
    println!(
        "{:<8} {:>3} {:<5} {:>8} {:>8} {:>11} {:>11} {:>11} {:>9} verdict",
        "variant", "n", "ins", "ours_s", "cpp_s", "ours_cost", "cpp_cost", "ref_sol", "ref_feas"
    );
    let (mut ours_total, mut cpp_total) = (0.0, 0.0);
    let (mut rg_total, mut ls_total, mut evals) = (0.0, 0.0, 0u64);
    let (mut comparable, mut at_or_below, mut strictly_below) = (0, 0, 0);
    let mut worse = Vec::new();
    let all = Instant::now();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (variant, n, ins) = (f[0], f[1], f[2]);
        let cpp_s: f64 = f[3].parse::<f64>().unwrap_or(0.0)
            + f[4].parse::<f64>().unwrap_or(0.0)
            + f[6].parse::<f64>().unwrap_or(0.0);
        let cpp_cost: f64 = f[7].parse().unwrap_or(f64::NAN);
        let dir = root.join("instances/GeneralWorkflows").join(variant).join(format!("{n}Components")).join(ins);
        let t = Instant::now();
        let file = dir.join("system_description.json");
        let text = std::fs::read_to_string(&file).expect("read");
        let (doc, _) = json::parse::<System>(&file.display().to_string(), &text).expect("parse");
        let mut system = doc.value;
        system.lambda = 1.8;
        let model = Model::compile(&system, "system").expect("compile");
        let result = if same_time {
            // The C++ run's wall time, spent on more RandomGreedy iterations and a larger
            // elite (LocalSearch takes the rest).
            let o = SolveOptions {
                random_greedy_duration: std::time::Duration::from_secs_f64(0.6 * cpp_s),
                elite: 10,
                ..opts.clone()
            };
            solve(&model, &o)
        } else {
            solve(&model, &opts)
        };
        let secs = t.elapsed().as_secs_f64();
        rg_total += result.random_greedy_time.as_secs_f64();
        ls_total += result.local_search_time.as_secs_f64();
        evals += result.evaluations;
        ours_total += secs;
        cpp_total += cpp_s;
        let ours_cost = result.best.as_ref().map_or(f64::NAN, |b| b.0);
        // The reference's best solution, priced and checked under our model.
        let ref_json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("best_sol_1.8.json")).expect("sol")).expect("json");
        let (ref_cost, ref_feasible) = match solution_json::read(&model, &ref_json) {
            Ok(sol) => {
                let ev = evaluate(&model, &sol);
                (ev.cost, ev.feasible)
            }
            Err(_) => (f64::NAN, false),
        };
        let verdict = if ref_feasible {
            comparable += 1;
            if ours_cost <= ref_cost + 1e-9 {
                at_or_below += 1;
                if ours_cost < ref_cost - 1e-9 {
                    strictly_below += 1;
                    "below"
                } else {
                    "equal"
                }
            } else {
                worse.push(format!("{variant}/{n}/{ins}"));
                "ABOVE"
            }
        } else {
            "-"
        };
        if std::env::var("AISPRINT_SHOW").is_ok_and(|v| v == format!("{variant}/{n}/{ins}")) {
            let show = |label: &str, sol: &aisprint_space4aid::eval::Solution| {
                let ev = evaluate(&model, sol);
                println!("{label}: cost {:.4} feasible {}", ev.cost, ev.feasible);
                for (c, comp) in model.components.iter().enumerate() {
                    let dep = &comp.deployments[sol.deployment[c]];
                    let parts: Vec<String> = dep
                        .partitions
                        .iter()
                        .map(|&p| {
                            let r = sol.placement[p];
                            format!("{}@{}x{}", model.partitions[p].name, model.resources[r].name, sol.instances[r])
                        })
                        .collect();
                    println!(
                        "  {} {} rt {:.3} thr {:?}: {}",
                        comp.name,
                        dep.name,
                        ev.component_response[c],
                        comp.local_threshold,
                        parts.join(" ")
                    );
                }
            };
            if let Some((_, b)) = &result.best {
                show("ours", b);
            }
            if let Ok(sol) = solution_json::read(&model, &ref_json) {
                show("reference", &sol);
            }
        }
        println!(
            "{variant:<8} {n:>3} {ins:<5} {secs:>8.4} {cpp_s:>8.3} {ours_cost:>11.4} {cpp_cost:>11.4} {ref_cost:>11.4} {:>9} {verdict}",
            ref_feasible
        );
    }
    println!();
    println!(
        "threads {threads}, seed {seed}: wall time for all 80 (reading included) {:.3} s",
        all.elapsed().as_secs_f64()
    );
    println!("RandomGreedy {rg_total:.3} s, LocalSearch {ls_total:.3} s, {evals} evaluations");
    println!(
        "sum of per-instance times: ours {ours_total:.3} s, C++ {cpp_total:.3} s (ratio {:.1}x)",
        cpp_total / ours_total
    );
    println!(
        "cost vs the reference's solution where it is feasible under our model: {at_or_below} of {comparable} at or below ({strictly_below} strictly below)"
    );
    if !worse.is_empty() {
        println!("above the reference on: {}", worse.join(", "));
    }
}
