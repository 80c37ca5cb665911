//! `cargo bench -p aisprint-space4aid --bench space4aid_exact`: the exact method's time and the
//! heuristics' gap to the proven optimum, on generated instances of 6 to 12 components and on
//! the public GeneralWorkflows instances of 5, 7 and 10 components (Lambda 1.8).
//!
//! The heuristics run with the reference's budget (2,600 RandomGreedy iterations, 5 elite
//! solutions, 950 LocalSearch iterations); the exact method then starts from their best (as
//! `solve --exact` does) and may run AISPRINT_EXACT_LIMIT seconds (default 10) per instance.

use std::path::Path;
use std::time::{Duration, Instant};

use aisprint_model::json;
use aisprint_space4aid::eval::evaluate;
use aisprint_space4aid::exact::{exact, ExactOptions};
use aisprint_space4aid::generate::system_json;
use aisprint_space4aid::model::Model;
use aisprint_space4aid::solver::{solve, SolveOptions};
use aisprint_space4aid::system::System;

fn compile(text: &str, lambda: Option<f64>) -> Model {
    let (doc, _) = json::parse::<System>("system.json", text).expect("parse");
    let mut s = doc.value;
    if let Some(l) = lambda {
        s.lambda = l;
    }
    Model::compile(&s, "system.json").expect("compile")
}

#[derive(Default)]
struct Tally {
    instances: usize,
    proven: usize,
    exact_s: Vec<f64>,
    gaps: Vec<f64>,
    at_optimum: usize,
}

fn run(label: &str, m: &Model, limit: Duration, tally: &mut Tally) {
    let opts =
        SolveOptions { random_greedy_iterations: 2600, elite: 5, local_search_iterations: 950, ..Default::default() };
    let t = Instant::now();
    let h = solve(m, &opts);
    let heur_s = t.elapsed().as_secs_f64();
    let e = exact(m, h.best.clone(), &ExactOptions { time_limit: limit, node_limit: 0 });
    if let Some((_, s)) = &e.best {
        assert!(evaluate(m, s).feasible, "{label}: the exact method returned an infeasible solution");
    }
    tally.instances += 1;
    let hc = h.best.as_ref().map(|b| b.0);
    let ec = e.best.as_ref().map(|b| b.0);
    let gap = match (hc, ec, e.proven) {
        (Some(h), Some(o), true) => {
            tally.proven += 1;
            tally.exact_s.push(e.elapsed.as_secs_f64());
            let g = (h - o) / o;
            tally.gaps.push(g);
            if g <= 1e-9 {
                tally.at_optimum += 1;
            }
            format!("{:>7.2}%", 100.0 * g)
        }
        (_, None, true) => {
            tally.proven += 1;
            tally.exact_s.push(e.elapsed.as_secs_f64());
            "infeasible".into()
        }
        _ => "-".into(),
    };
    println!(
        "{label:<22} heur {:>9} in {heur_s:>6.3}s  exact {:>9} in {:>7.3}s {:>9} nodes {}  lb {:>9.4}  gap {gap}",
        hc.map_or("-".into(), |c| format!("{c:.4}")),
        ec.map_or("-".into(), |c| format!("{c:.4}")),
        e.elapsed.as_secs_f64(),
        e.nodes,
        if e.proven { "proven " } else { "stopped" },
        e.lower_bound,
    );
}

fn summary(name: &str, t: &Tally) {
    let mut s = t.exact_s.clone();
    s.sort_by(f64::total_cmp);
    let median = s.get(s.len() / 2).copied().unwrap_or(f64::NAN);
    let max = s.last().copied().unwrap_or(f64::NAN);
    let worst_gap = t.gaps.iter().copied().fold(0.0, f64::max);
    println!(
        "{name}: {} instances, {} proven (exact median {median:.3} s, max {max:.3} s); heuristics at the optimum on {} of {}, worst gap {:.2}%\n",
        t.instances,
        t.proven,
        t.at_optimum,
        t.gaps.len(),
        100.0 * worst_gap
    );
}

fn main() {
    let limit = Duration::from_secs_f64(
        std::env::var("AISPRINT_EXACT_LIMIT").ok().and_then(|s| s.parse().ok()).unwrap_or(10.0),
    );
    for n in [6, 8, 10, 12] {
        let mut t = Tally::default();
        for seed in 1..=10 {
            let m = compile(&system_json(n, 1000 * n as u64 + seed).to_string(), None);
            run(&format!("generated/{n}/{seed}"), &m, limit, &mut t);
        }
        summary(&format!("generated, {n} components"), &t);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/space4ai-d/instances/GeneralWorkflows");
    for n in [5, 7, 10] {
        let mut t = Tally::default();
        for v in ["Strict", "Light"] {
            for i in 1..=10 {
                let file =
                    root.join(v).join(format!("{n}Components")).join(format!("Ins{i}")).join("system_description.json");
                let m = compile(&std::fs::read_to_string(&file).expect("read"), Some(1.8));
                run(&format!("{v}/{n}/Ins{i}"), &m, limit, &mut t);
            }
        }
        summary(&format!("public GeneralWorkflows, {n} components"), &t);
    }
}
