//! `aisprint profile` running a campaign: the three_tier example (ingest on an edge node,
//! analyse on a VM, report on a FaaS-like resource) profiled on a real controller and three
//! real agents standing for the three resources; then the models trained from it and
//! SPACE4AI-D on them.

use std::time::Instant;

use crate::support::mesh::Mesh;
use crate::support::{aisprint, copy_dir, repo, text};

#[test]
fn the_example_is_profiled_on_three_agents_and_its_models_feed_space4aid() {
    let _alone = crate::alone();
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let app = dir.join("three_tier");
    copy_dir(&repo().join("examples/three_tier"), &app);
    let r = aisprint(dir, &["design", "--application_dir", "three_tier"]);
    assert!(r.status.success(), "{}", text(&r.stderr));

    let mesh = Mesh::new(dir);
    let controller = mesh.controller();
    let agents = mesh.service_agents(&["edge-1", "vm-1", "faas-1"]);

    // Without an agent for every resource: refused, by name, before anything is sent.
    let r = aisprint(
        dir,
        &["profile", "--application_dir", "three_tier", "--config", "controller.yaml", "--agent", "EdgeNode=edge-1"],
    );
    assert_eq!(r.status.code(), Some(1), "{}", text(&r.stderr));
    assert!(text(&r.stderr).contains("no agent stands for resource(s) Lambda, VM"), "{}", text(&r.stderr));

    let t = Instant::now();
    let r = aisprint(
        dir,
        &[
            "profile",
            "--application_dir",
            "three_tier",
            "--config",
            "controller.yaml",
            "--agent",
            "EdgeNode=edge-1",
            "--agent",
            "VM=vm-1",
            "--agent",
            "Lambda=faas-1",
            "--run_timeout",
            "120",
        ],
    );
    let wall = t.elapsed();
    let (out, err) = (text(&r.stdout), text(&r.stderr));
    assert!(r.status.success(), "{out}\n{err}\n{}", mesh.log("vm-1.log"));
    eprintln!("campaign wall time: {:.1} s", wall.as_secs_f64());
    // 18 single-service runs (144 jobs), then 6 runs of the whole pipeline (8 files through
    // three stages: 144 jobs).
    assert!(out.contains("Campaign done: 24 run(s), 288 job(s)"), "{out}");
    assert!(err.contains("C2@VM Run #6 (parallelism 1): 8/8 jobs done"), "{err}");
    assert!(err.contains("deployment_0 Full_workflow Run #6 (parallelism [1, 1, 1]): 8/8 jobs done"), "{err}");

    // The tables, in OSCAR-P's layout: one row per run, levels 4, 4, 2, 2, 1, 1.
    let campaign = app.join("oscarp/campaign");
    for (unit, service) in [("C1@EdgeNode", "ingest"), ("C2@VM", "analyse"), ("C3@Lambda", "report")] {
        let d = campaign.join("deployment_0").join(unit).join("results/Dataframes");
        let table = std::fs::read_to_string(d.join(format!("{service}_response_time_dataframe.csv"))).expect("table");
        let rows = aisprint_controller::models::parse_csv(&table).expect("parse");
        assert_eq!(rows.len(), 6, "{table}");
        let levels: Vec<f64> = rows.iter().map(|r| r.parallelism).collect();
        assert_eq!(levels, [4.0, 4.0, 2.0, 2.0, 1.0, 1.0]);
        for r in &rows {
            assert!((r.cores - r.parallelism * 1.0).abs() < 1e-9, "cores = parallelism x cpu: {r:?}");
            assert!(r.response > 0.05 && r.throughput > 0.0, "{r:?}");
        }
        // Fewer jobs at once: each waits longer for its turn.
        let mean = |p: f64| rows.iter().filter(|r| r.parallelism == p).map(|r| r.response).sum::<f64>() / 2.0;
        assert!(mean(1.0) > mean(4.0) * 1.3, "{unit}: {table}");
        let jobs = std::fs::read_to_string(d.join(format!("{service}_jobs.csv"))).expect("jobs");
        assert!(jobs.starts_with(aisprint_controller::campaign::JOBS_HEADER), "{jobs}");
        assert_eq!(jobs.lines().count(), 1 + 48, "{jobs}");
        assert!(jobs.lines().skip(1).all(|l| l.ends_with(",0")), "every job succeeded: {jobs}");
        // The time split: the function's own time from the annotations package (exec_time in
        // the component: at least its 0.15-0.3 s sleep), inside the process's run time.
        for l in jobs.lines().skip(1) {
            let c: Vec<&str> = l.split(',').collect();
            let v = |i: usize| c[i].parse::<f64>().unwrap_or_else(|_| panic!("column {i} of {l}"));
            let (wait, creation, overhead, compute, write_back, run) = (v(6), v(7), v(8), v(9), v(10), v(11));
            assert!(compute >= 0.14 && compute < run, "{l}");
            assert!(wait >= 0.0 && creation >= 0.0 && overhead > 0.0 && write_back >= 0.0, "{l}");
            assert!((creation + overhead + compute + write_back - run).abs() < 1e-3, "the parts add up: {l}");
        }
    }
    assert!(campaign.join("run_parameters.yaml").is_file() && campaign.join("campaign.yaml").is_file());

    // The whole pipeline: each file went through the three stages, on three agents (the
    // outputs shipped between them through the mesh); the pipeline's response is at least
    // the sum of the stages' own.
    let wf = campaign.join("deployment_0/Full_workflow/results/Dataframes");
    let table = |name: &str| {
        aisprint_controller::models::parse_csv(&std::fs::read_to_string(wf.join(name)).expect(name)).expect("parse")
    };
    let whole = table("full_workflow_response_time_dataframe.csv");
    assert_eq!(whole.len(), 6);
    let mut files_per_stage = Vec::new();
    for service in ["ingest", "analyse", "report"] {
        let stage = table(&format!("{service}_response_time_dataframe.csv"));
        assert_eq!(stage.len(), 6);
        for (w, s) in whole.iter().zip(&stage) {
            assert!(w.response > s.response, "{service}: {w:?} vs {s:?}");
        }
        let jobs = std::fs::read_to_string(wf.join(format!("{service}_jobs.csv"))).expect("jobs");
        let files: Vec<String> = jobs.lines().skip(1).map(|l| l.split(',').nth(2).expect("file").to_string()).collect();
        assert_eq!(files.len(), 48, "{jobs}");
        files_per_stage.push(files);
    }
    assert!(files_per_stage.windows(2).all(|w| w[0] == w[1]), "the same files through every stage");
    for (w, p) in whole.iter().zip([4.0, 4.0, 2.0, 2.0, 1.0, 1.0]) {
        assert_eq!(w.parallelism, p);
    }

    // run.train_models: the models, each predicting runs it did not see (cross-validated)
    // within 15%.
    assert!(out.contains("Training the performance models"), "{out}");
    let pm: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.join("oscarp/performance_models.json")).expect("pm"))
            .expect("json");
    for (comp, res) in [("ingest", "EdgeNode"), ("analyse", "VM")] {
        let e = &pm[comp][comp][res];
        // The cross-validated error the choice was made on, recorded with the entry.
        let mape = e["mape"].as_f64().expect("mape");
        assert!(mape.is_finite() && mape >= 0.0, "{comp}: {e}");
        assert_eq!(e["model"], "CoreBasedPredictor", "{comp}: {e}");
    }
    // Held out for real: models trained on the first repetition of every level predict the
    // second repetitions, which they never saw, within 15% on average (over the three units'
    // held-out runs; one run alone is at the mercy of the machine's other work).
    let mut errors = Vec::new();
    for (unit, service) in [("C1@EdgeNode", "ingest"), ("C2@VM", "analyse"), ("C3@Lambda", "report")] {
        let table = campaign
            .join("deployment_0")
            .join(unit)
            .join(format!("results/Dataframes/{service}_response_time_dataframe.csv"));
        let rows =
            aisprint_controller::models::parse_csv(&std::fs::read_to_string(table).expect("table")).expect("rows");
        let sample = |r: &aisprint_controller::models::Row| aisprint_model::perfmodel::Sample {
            raw: [("cores".to_string(), r.cores)].into_iter().collect(),
            y: r.response,
        };
        let train: Vec<_> = rows.iter().step_by(2).map(sample).collect();
        let m = aisprint_model::perfmodel::train(&train, &["cores"], "avg_response_time", &Default::default())
            .expect("train");
        for r in rows.iter().skip(1).step_by(2) {
            errors.push((unit, (m.predict_cores(r.cores, None) - r.response).abs() / r.response));
        }
    }
    let mean = errors.iter().map(|e| e.1).sum::<f64>() / errors.len() as f64;
    eprintln!("held-out error: {:.1}% on average over {} runs", mean * 100.0, errors.len());
    assert!(mean < 0.15, "{:.1}% on average: {errors:?}", mean * 100.0);

    // The FaaS unit gets the serverless model, its warm and cold times from the jobs' run
    // times; SPACE4AI-D then runs on the profiled application as it is.
    let lambda = &pm["report"]["report"]["Lambda"];
    let (warm, cold) = (lambda["demandWarm"].as_f64().expect("warm"), lambda["demandCold"].as_f64().expect("cold"));
    assert_eq!(lambda["model"], "PACSLTK", "{lambda}");
    assert!(warm > 0.05 && cold >= warm, "{lambda}");
    let r = aisprint(dir, &["space4aid", "--application_dir", "three_tier", "--lambda", "0.5"]);
    assert_eq!(r.status.code(), Some(0), "{}\n{}", text(&r.stdout), text(&r.stderr));
    let chosen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.join("space4ai-d/Output.json")).expect("out")).expect("json");
    assert_eq!(chosen["feasible"], true, "{chosen}");

    for a in agents {
        a.stop();
    }
    controller.stop();
}
