//! `aisprint space4aid solve` and `evaluate` on the public instances, as a user runs them.

use crate::support::{aisprint, repo, text};

fn instance(rel: &str) -> String {
    repo().join("data/space4ai-d/instances").join(rel).display().to_string()
}

#[test]
fn solve_writes_a_feasible_solution_that_evaluate_accepts() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("sol.json");
    let sys = instance("GeneralWorkflows/Strict/7Components/Ins2/system_description.json");
    let r = aisprint(
        tmp.path(),
        &[
            "space4aid",
            "solve",
            "--system",
            &sys,
            "--lambda",
            "1.8",
            "--output",
            out.to_str().expect("path"),
            "--seed",
            "3",
        ],
    );
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    assert!(text(&r.stderr).contains("feasible; cost"), "{}", text(&r.stderr));
    let sol: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("json");
    assert_eq!(sol["feasible"], true);
    assert_eq!(sol["Lambda"], 1.8);
    let cost = sol["total_cost"].as_f64().expect("cost");
    let e = aisprint(
        tmp.path(),
        &["space4aid", "evaluate", "--system", &sys, "--lambda", "1.8", "--solution", out.to_str().expect("path")],
    );
    assert_eq!(e.status.code(), Some(0), "{}", text(&e.stderr));
    assert!(text(&e.stderr).contains(&format!("cost {cost:.6}, feasible")), "{}", text(&e.stderr));
}

#[test]
fn the_reference_solution_without_the_deployment_level_is_read() {
    let tmp = tempfile::tempdir().expect("tmp");
    let e = aisprint(
        tmp.path(),
        &[
            "space4aid",
            "evaluate",
            "--system",
            &instance("RunningExample/solutions/Ins1/system_description.json"),
            "--solution",
            &instance("RunningExample/solutions/Ins1/best_sol.json"),
        ],
    );
    assert_eq!(e.status.code(), Some(0), "{}", text(&e.stderr));
}

#[test]
fn an_infeasible_instance_ends_with_exit_code_3_and_its_violations() {
    let tmp = tempfile::tempdir().expect("tmp");
    let sys = instance("RunningExample/system_description_scenario1.json");
    let r = aisprint(tmp.path(), &["space4aid", "solve", "--system", &sys, "--lambda", "50"]);
    assert_eq!(r.status.code(), Some(3), "{}", text(&r.stderr));
    let stderr = text(&r.stderr);
    assert!(stderr.contains("no feasible solution found"), "{stderr}");
    assert!(stderr.contains("utilization"), "{stderr}");
    let sol: serde_json::Value = serde_json::from_str(&text(&r.stdout)).expect("json on stdout");
    assert_eq!(sol["feasible"], false);
    assert!(!sol["violations"].as_array().expect("violations").is_empty());
}

#[test]
fn malformed_systems_are_refused_with_the_key() {
    let tmp = tempfile::tempdir().expect("tmp");
    let base: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(instance("RunningExample/system_description_scenario1.json")).expect("read"),
    )
    .expect("json");
    type Change = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "unknown model",
            Box::new(|v| v["Performance"]["c1"]["h1"]["Drone1"]["model"] = "QTmagic".into()),
            "unknown variant `QTmagic`",
        ),
        (
            "missing key",
            Box::new(|v| {
                v.as_object_mut().expect("obj").remove("Lambda");
            }),
            "missing field `Lambda`",
        ),
        (
            "path not consecutive",
            Box::new(|v| v["GlobalConstraints"]["p1"]["components"] = serde_json::json!(["c1", "c3"])),
            "GlobalConstraints.p1.components",
        ),
        (
            "cycle",
            Box::new(|v| {
                v["DirectedAcyclicGraph"]["c7"]["next"] = serde_json::json!(["c1"]);
                v["DirectedAcyclicGraph"]["c7"]["transition_probability"] = serde_json::json!([1.0]);
            }),
            "cycle",
        ),
        (
            "no common network domain",
            Box::new(|v| {
                let nt = v["NetworkTechnology"].as_object_mut().expect("obj");
                nt.remove("ND3");
            }),
            "share no network domain",
        ),
    ];
    for (name, change, expect) in cases {
        let mut v = base.clone();
        change(&mut v);
        let path = tmp.path().join("bad.json");
        std::fs::write(&path, serde_json::to_string_pretty(&v).expect("json")).expect("write");
        let r = aisprint(tmp.path(), &["space4aid", "solve", "--system", path.to_str().expect("path")]);
        let stderr = text(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(expect), "{name}: expected `{expect}` in\n{stderr}");
        assert!(stderr.contains("bad.json"), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
}

#[test]
fn a_config_with_the_binary_search_writes_the_max_lambda_solution() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cfg = tmp.path().join("SPACE4AI-D.yaml");
    std::fs::write(
        &cfg,
        "Methods:\n  method1: {name: RandomGreedy, iterations: 500, duration: 0}\n  method2: {name: LocalSearch, startingPointNumber: 3, iterations: 20, duration: 0}\n  method3: {name: BS, upperBoundLambda: 10, epsilon: 0.0001}\nSeed: 4\n",
    )
    .expect("write");
    let max = tmp.path().join("Output_max_Lambda.json");
    let sys = instance("GeneralWorkflows/Light/10Components/Ins3/system_description.json");
    let r = aisprint(
        tmp.path(),
        &[
            "space4aid",
            "solve",
            "--system",
            &sys,
            "--lambda",
            "1.8",
            "--config",
            cfg.to_str().expect("path"),
            "--output",
            tmp.path().join("Output.json").to_str().expect("path"),
            "--max-lambda-output",
            max.to_str().expect("path"),
        ],
    );
    assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&max).expect("read")).expect("json");
    assert_eq!(v["feasible"], true);
    assert!(v["Lambda"].as_f64().expect("lambda") >= 1.8);
    // Methods this version does not run are refused by name.
    std::fs::write(&cfg, "Methods:\n  method1: {name: Magic, iterations: 5}\n").expect("write");
    let r = aisprint(tmp.path(), &["space4aid", "solve", "--system", &sys, "--config", cfg.to_str().expect("path")]);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        text(&r.stderr).contains("Methods.method1.name: `Magic` is not run by this version yet"),
        "{}",
        text(&r.stderr)
    );
}

/// `--exact` (or `name: Exact` in the config) proves the optimum on a small public instance,
/// and every run, heuristic or exact, reports a lower bound and the gap.
#[test]
fn exact_proves_the_optimum_and_every_run_reports_a_bound() {
    let tmp = tempfile::tempdir().expect("tmp");
    let sys = instance("GeneralWorkflows/Strict/7Components/Ins8/system_description.json");
    let out = tmp.path().join("Output.json");
    let args = ["space4aid", "solve", "--system", &sys, "--lambda", "1.8", "--output", out.to_str().expect("path")];
    let heuristic = aisprint(tmp.path(), &args);
    assert_eq!(heuristic.status.code(), Some(0), "{}", text(&heuristic.stderr));
    let err = text(&heuristic.stderr);
    assert!(err.contains("lower bound on the optimal cost"), "{err}");
    let heuristic_cost = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&out).expect("read"))
        .expect("json")["total_cost"]
        .as_f64()
        .expect("cost");

    let cfg = tmp.path().join("SPACE4AI-D.yaml");
    std::fs::write(
        &cfg,
        "Methods:\n  method1: {name: RandomGreedy, iterations: 200}\n  method2: {name: LocalSearch, iterations: 20}\n  method3: {name: Exact, duration: 30}\n",
    )
    .expect("write");
    for extra in [vec!["--exact", "--time-limit", "30"], vec!["--config", cfg.to_str().expect("path")]] {
        let mut a: Vec<&str> = args.to_vec();
        a.extend(extra.iter().copied());
        let r = aisprint(tmp.path(), &a);
        assert_eq!(r.status.code(), Some(0), "{}", text(&r.stderr));
        let err = text(&r.stderr);
        assert!(err.contains("optimum proven") && err.contains("gap 0.00% (optimal)"), "{err}");
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("json");
        assert_eq!(v["feasible"], true);
        let cost = v["total_cost"].as_f64().expect("cost");
        // The proven optimum of this instance (also in docs/benchmarks.md): 20.5626, below
        // what the heuristics find with the default budget.
        assert!((cost - 20.5626).abs() < 1e-4, "{cost}");
        assert!(cost <= heuristic_cost + 1e-9, "{cost} > {heuristic_cost}");
    }
}
