//! `aisprint space4aid --application_dir`: SPACE4AI-D on the deployments `design` writes for
//! the user guide's mask-detection application, with performance models written by hand
//! (what OSCAR-P would measure).

use std::path::Path;

use crate::support::{aisprint, example, json, text, yaml};

/// Demands (s) on the two VMs: the whole blurry-faces model is slow; its two halves are fast.
const MODELS: &str = r#"{
  "blurry-faces-onnx": {
    "blurry-faces-onnx": {"VM1": {"model": "QTcloud", "demand": 0.5}},
    "blurry-faces-onnx_partition1_1": {"VM1": {"model": "QTcloud", "demand": 0.1}},
    "blurry-faces-onnx_partition1_2": {"VM1": {"model": "QTcloud", "demand": 0.1}}
  },
  "mask-detector": {"mask-detector": {"VM2": {"model": "QTcloud", "demand": 0.3}}}
}"#;

#[test]
fn the_cheapest_feasible_deployment_becomes_optimal() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    let dir = app.to_str().expect("path");

    // Before design: said plainly.
    let r = aisprint(tmp.path(), &["space4aid", "--application_dir", dir, "--lambda", "3"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(text(&r.stderr).contains("run `aisprint design --application_dir"), "{}", text(&r.stderr));

    let r = aisprint(tmp.path(), &["design", "--application_dir", dir]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    // No performance models yet: the file to provide is named, nothing is written.
    let r = aisprint(tmp.path(), &["space4aid", "--application_dir", dir, "--lambda", "3"]);
    assert_eq!(r.status.code(), Some(1));
    let err = text(&r.stderr);
    assert!(err.contains("oscarp/performance_models.json: missing"), "{err}");
    assert!(!app.join("space4ai-d/Output.json").exists());

    std::fs::write(app.join("oscarp/performance_models.json"), MODELS).expect("write");
    std::fs::write(
        app.join("oscarp/components_data_size.yaml"),
        "blurry-faces-onnx: 400\nblurry-faces-onnx_partition1_1: 800\nblurry-faces-onnx_partition1_2: 400\nmask-detector: 10\n",
    )
    .expect("write");
    let r = aisprint(tmp.path(), &["space4aid", "--application_dir", dir, "--lambda", "3"]);
    let out = text(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "{out}{}", text(&r.stderr));
    assert!(out.contains("Deployment 'base'") && out.contains("Deployment 'deployment1'"), "{out}");

    // base: the whole model at 0.5 s x 3 requests/s needs 2 VM1 (2.4) + 1 VM2 (1.8) = 4.2;
    // deployment1: the halves load VM1 with 0.6, so 1 VM1 (1.2) + 1 VM2 (1.8) = 3.0.
    let base = json(&app.join("aisprint/deployments/base/space4ai-d/Output.json"));
    let dep1 = json(&app.join("aisprint/deployments/deployment1/space4ai-d/Output.json"));
    assert!((base["total_cost"].as_f64().expect("cost") - 4.2).abs() < 1e-9, "{base}");
    assert!((dep1["total_cost"].as_f64().expect("cost") - 3.0).abs() < 1e-9, "{dep1}");
    let chosen = json(&app.join("space4ai-d/Output.json"));
    assert_eq!(chosen, dep1);
    assert_eq!(chosen["feasible"], true);
    assert_eq!(
        std::fs::read_link(app.join("aisprint/deployments/optimal_deployment")).expect("link"),
        Path::new("deployment1")
    );

    let prod = yaml(&app.join("aisprint/deployments/optimal_deployment/production_deployment.yaml"));
    let sys = &prod["System"];
    assert_eq!(sys["DeploymentName"], "deployment1");
    assert_eq!(sys["Feasible"], true);
    let comps = sys["Components"].as_mapping().expect("components");
    // Keyed as in candidate_deployments.yaml.
    let keys: Vec<&str> = comps.keys().map(|k| k.as_str().expect("key")).collect();
    assert_eq!(keys, vec!["component1_partitionX_1", "component1_partitionX_2", "component2"]);
    let placed: Vec<(String, String, i64)> = comps
        .values()
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_string(),
                c["Containers"]["container1"]["selectedExecutionResource"].as_str().expect("resource").to_string(),
                c["executionLayer"].as_i64().expect("layer"),
            )
        })
        .collect();
    assert_eq!(
        placed,
        vec![
            ("blurry-faces-onnx_partition1_1".to_string(), "VM1".to_string(), 1),
            ("blurry-faces-onnx_partition1_2".to_string(), "VM1".to_string(), 1),
            ("mask-detector".to_string(), "VM2".to_string(), 2),
        ]
    );
    let layers = &sys["NetworkDomains"]["ND1"]["ComputationalLayers"];
    assert_eq!(layers["computationalLayer1"]["Resources"]["resource1"]["totalNodes"], 1);
    assert_eq!(layers["computationalLayer2"]["Resources"]["resource1"]["totalNodes"], 1);

    // SPACE4AI-R: each feasible deployment at the largest arrival rate it sustains (the
    // config's BS searches up to 2, below the Lambda asked for, so the search stays at 3).
    for d in ["base", "deployment1"] {
        let v = json(&app.join(format!("space4ai-r/Output_max_Lambda_{d}.json")));
        assert_eq!(v["feasible"], true, "{d}");
        assert!(v["Lambda"].as_f64().expect("lambda") >= 3.0 - 1e-9, "{d}: {v}");
    }
}

#[test]
fn no_feasible_deployment_exits_3_and_keeps_the_optimal_deployment() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    let dir = app.to_str().expect("path");
    assert!(aisprint(tmp.path(), &["design", "--application_dir", dir]).status.success());
    std::fs::write(app.join("oscarp/performance_models.json"), MODELS).expect("write");
    // 100 requests/s: mask-detector alone needs 30 VM2, there are 5.
    let r = aisprint(tmp.path(), &["space4aid", "--application_dir", dir, "--lambda", "100"]);
    let out = text(&r.stdout);
    // Exit status 3: no feasible solution (2 is a usage error, as for every command).
    assert_eq!(r.status.code(), Some(3), "{out}{}", text(&r.stderr));
    assert!(out.contains("no feasible placement found") && out.contains("utilization"), "{out}");
    let base = json(&app.join("aisprint/deployments/base/space4ai-d/Output.json"));
    assert_eq!(base["feasible"], false);
    assert!(!app.join("space4ai-d/Output.json").exists());
    assert_eq!(
        std::fs::read_link(app.join("aisprint/deployments/optimal_deployment")).expect("link"),
        Path::new("base")
    );
}

#[test]
fn unusable_performance_models_are_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    let dir = app.to_str().expect("path");
    assert!(aisprint(tmp.path(), &["design", "--application_dir", dir]).status.success());
    let models = MODELS
        .replace(
            r#""VM2": {"model": "QTcloud", "demand": 0.3}"#,
            r#""VM2": {"model": "CoreBasedPredictor", "regressor_file": "m.pickle"}"#,
        )
        .replace(
            r#",
    "blurry-faces-onnx_partition1_2": {"VM1": {"model": "QTcloud", "demand": 0.1}}"#,
            "",
        );
    assert!(!models.contains("partition1_2"));
    std::fs::write(app.join("oscarp/performance_models.json"), models).expect("write");
    let r = aisprint(tmp.path(), &["space4aid", "--application_dir", dir, "--lambda", "3"]);
    assert_eq!(r.status.code(), Some(1));
    let err = text(&r.stderr);
    assert!(err.contains("mask-detector.mask-detector.VM2") && err.contains("`CoreBasedPredictor`"), "{err}");
    assert!(
        err.contains("blurry-faces-onnx.blurry-faces-onnx_partition1_2.VM1: missing: no performance model"),
        "{err}"
    );
    assert!(!app.join("space4ai-d/Output.json").exists());
}

/// The fixture with alternative versions, an early-exit partitioning, an edge node and a VM:
/// every deployment is solved, the no-way-back rule is explained where it bites, the
/// early exit weighs the second half by the probability of reaching it, and the cheapest
/// feasible deployment wins.
#[test]
fn alternatives_and_early_exits() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = tmp.path().join("filter_classifier");
    crate::support::copy_dir(&crate::support::repo().join("tests/fixtures/apps/filter_classifier"), &app);
    let dir = app.to_str().expect("path");
    assert!(aisprint(tmp.path(), &["design", "--application_dir", dir]).status.success());
    write_fixture_models(&app, &[]);

    let r = aisprint(tmp.path(), &["space4aid", "--application_dir", dir]);
    let out = text(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "{out}{}", text(&r.stderr));
    // Lambda from the expected_throughput annotation of the first component.
    assert!(out.contains("at Lambda 2 requests/s"), "{out}");
    // base puts the reporter back on the Raspberry Pi after the classifier's VM.
    assert!(out.contains("Deployment 'base'") && out.contains("no way back to the edge: reporter/reporter"), "{out}");
    assert!(!app.join("space4ai-r/Output_max_Lambda_base.json").exists());

    // Every feasible deployment's cost and accuracy (space4ai-r/deployments_performance.yaml,
    // from the fixture's confusion matrices); the chosen one is the cheapest of the most
    // accurate that are feasible, and those below metric_thr are not solved at all.
    let perf = yaml(&app.join("space4ai-r/deployments_performance.yaml"));
    let metric = |name: &str| -> f64 {
        perf["System"]["sorted_deployments_performance"]
            .as_sequence()
            .expect("list")
            .iter()
            .find_map(|e| e[name]["metric_value"].as_f64())
            .expect(name)
    };
    let index = yaml(&app.join("aisprint/deployments/deployments.yaml"));
    let mut costs = Vec::new();
    for name in index["deployments"].as_mapping().expect("deployments").keys() {
        let name = name.as_str().expect("name");
        let file = app.join(format!("aisprint/deployments/{name}/space4ai-d/Output.json"));
        if metric(name) < 0.65 {
            assert!(!file.exists(), "{name} is below metric_thr");
            assert!(out.contains(&format!("Deployment '{name}': left out, its accuracy is below metric_thr")), "{out}");
            continue;
        }
        let v = json(&file);
        if v["feasible"] == true {
            costs.push((metric(name), v["total_cost"].as_f64().expect("cost"), name.to_string()));
        }
    }
    assert!(costs.len() >= 5, "{costs:?}");
    let best = costs.iter().map(|c| c.0).fold(f64::NEG_INFINITY, f64::max);
    let cheapest = costs.iter().filter(|c| c.0 == best).map(|c| c.1).fold(f64::INFINITY, f64::min);
    let cheaper_but_less_accurate = costs.iter().any(|c| c.1 < cheapest);
    let chosen = json(&app.join("space4ai-d/Output.json"));
    assert_eq!(chosen["total_cost"].as_f64().expect("cost"), cheapest);
    let link = std::fs::read_link(app.join("aisprint/deployments/optimal_deployment")).expect("link");
    let first_cheapest = costs.iter().find(|c| c.0 == best && c.1 == cheapest).expect("some").2.clone();
    assert_eq!(link, Path::new(&first_cheapest));
    // Every solved feasible deployment has its maximum-rate table entry for SPACE4AI-R.
    for (_, _, name) in &costs {
        assert!(app.join(format!("space4ai-r/Output_max_Lambda_{name}.json")).exists(), "{name}");
    }
    // The choice matters here: a less accurate deployment is cheaper.
    assert!(cheaper_but_less_accurate, "{costs:?}");

    // deployment3: the classifier's halves on the Raspberry Pi and the VM; 25% of requests
    // exit after the first, so R = R1 + 0.75 (R2 + delay), delay = 1 ms access (no data).
    let v = json(&app.join("aisprint/deployments/deployment3/space4ai-d/Output.json"));
    let c = &v["components"]["classifier"];
    let r1 = c["partition1"]["classifier_partition1_1"]["response_time"].as_f64().expect("r1");
    let r2 = c["partition1"]["classifier_partition1_2"]["response_time"].as_f64().expect("r2");
    let rc = c["response_time"].as_f64().expect("rc");
    assert!((rc - (r1 + 0.75 * (r2 + 0.001))).abs() < 1e-12, "{c}");
}

#[test]
fn deployments_older_than_the_inputs_ask_for_design_again() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    let dir = app.to_str().expect("path");
    assert!(aisprint(tmp.path(), &["design", "--application_dir", dir]).status.success());
    std::fs::write(app.join("oscarp/performance_models.json"), MODELS).expect("write");
    // design would now give other layers: mask-detector may also run on layer 1.
    let cd = app.join("common_config/candidate_deployments.yaml");
    let original = std::fs::read_to_string(&cd).expect("read");
    let changed = original.replacen("candidateExecutionLayers: [2]", "candidateExecutionLayers: [1, 2]", 1);
    assert_ne!(original, changed);
    std::fs::write(&cd, changed).expect("write");
    let r = aisprint(tmp.path(), &["space4aid", "--application_dir", dir, "--lambda", "3"]);
    assert_eq!(r.status.code(), Some(1));
    let err = text(&r.stderr);
    assert!(err.contains("changed since `aisprint design`"), "{err}");
}

/// Replaces `from` by `to` in a file, checking that `from` is there.
fn edit(path: &Path, from: &str, to: &str) {
    let t = std::fs::read_to_string(path).expect("read");
    assert!(t.contains(from), "{}: no `{from}`", path.display());
    std::fs::write(path, t.replacen(from, to, 1)).expect("write");
}

/// The four-layer fixture with a cheaper server without SGX beside the SGX one, and a cheaper
/// VM without a GPU beside the GPU one: detect asks for trusted execution and shields, enrich
/// for a GPU and 8 GB of RAM. SPACE4AI-D leaves the cheap ones out for them, says why, and
/// places them on the capable ones; tosca accepts its choice.
#[test]
fn security_and_gpu_needs_place_components_on_capable_resources_only() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = tmp.path().join("four_layers");
    crate::support::copy_dir(&crate::support::repo().join("tests/fixtures/apps/four_layers"), &app);
    let res = app.join("common_config/candidate_resources.yaml");
    edit(
        &res,
        "        computationalLayer3:",
        "            resource2:\n              name: PlainServer\n              totalNodes: 2\n              cost: 0.05\n              memorySize: 16384\n              processors:\n                processor1:\n                  architecture: amd64\n                  computingUnits: 8\n        computationalLayer3:",
    );
    edit(
        &res,
        "        computationalLayer4:",
        "            resource2:\n              name: CpuVM\n              totalNodes: 2\n              cost: 0.05\n              memorySize: 4096\n              processors:\n                processor1:\n                  architecture: amd64\n                  computingUnits: 4\n        computationalLayer4:",
    );
    let cd = app.join("common_config/candidate_deployments.yaml");
    edit(&cd, "candidateExecutionResources: [SGXServer]", "candidateExecutionResources: [PlainServer, SGXServer]");
    // Asked by the annotations only (a container flag listing an unfit resource is refused by
    // the candidates' own checks).
    edit(&cd, "        trustedExecution: true\n", "");
    edit(&cd, "        GPURequirement: true\n", "");
    edit(&cd, "candidateExecutionResources: [GPUVM]", "candidateExecutionResources: [CpuVM, GPUVM]");
    edit(
        &app.join("src/enrich/main.py"),
        "@ann.exec_time(local_time_thr=5)",
        "@ann.exec_time(local_time_thr=5)\n@ann.device_constraints(ram=8192, use_gpu_for=['dnn'])",
    );
    let dir = app.to_str().expect("path");
    let r = aisprint(tmp.path(), &["design", "--application_dir", dir]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    let edge = |d: f64| serde_json::json!({"model": "QTedge", "demand": d});
    let cloud = |d: f64| serde_json::json!({"model": "QTcloud", "demand": d});
    let models = serde_json::json!({
        "capture": {"capture": {"RaspPi": edge(0.05)}},
        "detect": {"detect": {"PlainServer": edge(0.05), "SGXServer": edge(0.05)}},
        "enrich": {"enrich": {"CpuVM": cloud(0.05), "GPUVM": cloud(0.05)}},
        "archive": {"archive": {"Lambda": {"model": "PACSLTK", "demandWarm": 0.05, "demandCold": 0.1}}},
    });
    std::fs::create_dir_all(app.join("oscarp")).expect("mkdir");
    std::fs::write(app.join("oscarp/performance_models.json"), models.to_string()).expect("write");
    let r = aisprint(tmp.path(), &["space4aid", "--application_dir", dir, "--lambda", "0.5"]);
    let out = text(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "{out}{}", text(&r.stderr));
    assert!(
        out.contains("`PlainServer` is left out for `detect`: it asks for trusted execution or SCONE shields and `PlainServer` has neither SGX processors"),
        "{out}"
    );
    assert!(out.contains("`CpuVM` is left out for `enrich`: it needs a GPU and `CpuVM` has no GPU accelerator; @device_constraints asks for 8192 MB of RAM and `CpuVM` has 4096"), "{out}");
    let chosen = json(&app.join("space4ai-d/Output.json"));
    // components.<c>.base.<c>.<layer>.<resource>
    let on = |c: &str| -> Vec<String> {
        let layers = chosen["components"][c]["base"][c].as_object().unwrap_or_else(|| panic!("{chosen}"));
        layers.values().filter_map(|l| l.as_object()).flat_map(|l| l.keys().cloned()).collect()
    };
    assert_eq!(on("detect"), ["SGXServer"], "{chosen}");
    assert_eq!(on("enrich"), ["GPUVM"], "{chosen}");
    // tosca accepts what SPACE4AI-D chose.
    let t = aisprint(tmp.path(), &["toscarizer", "tosca", "--application_dir", dir, "--optimal"]);
    assert!(t.status.success(), "{}{}", text(&t.stdout), text(&t.stderr));
}

/// Writes a performance model for every unit of the filter_classifier fixture on every
/// candidate resource (0.2 s on the Raspberry Pi, 0.1 s on the VM), and for the `extra`
/// (unit, resource) pairs (alternatives that run where their component runs).
pub(crate) fn write_fixture_models(app: &Path, extra: &[(&str, &str)]) {
    let model = |r: &str| {
        if r == "RaspPi" {
            serde_json::json!({"model": "QTedge", "demand": 0.2})
        } else {
            serde_json::json!({"model": "QTcloud", "demand": 0.1})
        }
    };
    let cd = yaml(&app.join("common_config/candidate_deployments.yaml"));
    let mut models = serde_json::Map::new();
    let mut add = |component: &str, unit: &str, r: &str| {
        let c = models.entry(component.to_string()).or_insert_with(|| serde_json::json!({}));
        let u = c.as_object_mut().expect("obj").entry(unit.to_string()).or_insert_with(|| serde_json::json!({}));
        u.as_object_mut().expect("obj").insert(r.to_string(), model(r));
    };
    for e in cd["Components"].as_mapping().expect("components").values() {
        let name = e["name"].as_str().expect("name");
        let units: Vec<(String, String)> = match name.split_once("_partitionX_") {
            Some((base, _)) => (1..=3).map(|k| (name.replace('X', &k.to_string()), base.to_string())).collect(),
            None => vec![(name.to_string(), name.to_string())],
        };
        for (unit, component) in units {
            for r in e["Containers"]["container1"]["candidateExecutionResources"].as_sequence().expect("resources") {
                add(&component, &unit, r.as_str().expect("resource"));
            }
        }
    }
    for (unit, r) in extra {
        add(unit, unit, r);
    }
    std::fs::create_dir_all(app.join("oscarp")).expect("mkdir");
    std::fs::write(app.join("oscarp/performance_models.json"), serde_json::Value::Object(models).to_string())
        .expect("write");
}
