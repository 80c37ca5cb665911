//! `aisprint design`, `validate` and `new-application` as a user runs them: the real binary
//! on copies of the examples and on malformed applications.

use crate::support::{aisprint, example, repo, snapshot, text, yaml};

#[test]
fn example_design_gives_what_the_user_guide_shows() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    let out = aisprint(tmp.path(), &["design", "--application_dir", "mask_detection"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("[AI-SPRINT]: Found 2 components in the DAG with the following dependencies:\n             - blurry-faces-onnx -> ['mask-detector']"), "{stdout}");
    assert!(stdout.contains("[AI-SPRINT]: Done! Application designs and base deployment ready."), "{stdout}");

    // annotations.yaml: the guide's content, keys as the guide writes them.
    let expected_annotations: serde_yaml::Value = serde_yaml::from_str(
        "mask_detection/src/blurry-faces-onnx/main.py:\n  component_name:\n    name: blurry-faces-onnx\n  exec_time:\n    local_time_thr: 20\n  partitionable_model:\n    onnx_file: version-RFB-640.onnx\nmask_detection/src/mask-detector/main.py:\n  component_name:\n    name: mask-detector\n  exec_time:\n    local_time_thr: 10\n",
    )
    .expect("yaml");
    assert_eq!(yaml(&app.join("common_config/annotations.yaml")), expected_annotations);

    // multi_cluster_qos_constraints.yaml: exactly the guide's (the fixture is its text).
    let guide = yaml(&repo().join("tests/fixtures/guide/multi_cluster_qos_constraints.yaml"));
    assert_eq!(yaml(&app.join("aisprint/deployments/multi_cluster_qos_constraints.yaml")), guide);

    // The tree of the guide.
    let d = app.join("aisprint/deployments");
    for f in [
        "base/ams/qos_constraints_L1.yaml",
        "base/ams/qos_constraints_L2.yaml",
        "base/application_dag.yaml",
        "base/space4ai-d/SPACE4AI-D.yaml",
        "base/space4ai-d/qos_constraints.yaml",
        "base/production_deployment.yaml",
        "deployment1/ams/qos_constraints_L1.yaml",
        "deployment1/ams/qos_constraints_L2.yaml",
        "deployment1/application_dag.yaml",
        "deployment1/space4ai-d/qos_constraints.yaml",
        "deployments.yaml",
    ] {
        assert!(d.join(f).is_file(), "{f} missing");
    }
    for tool in ["im", "oscar", "oscarp", "pycompss", "space4ai-r"] {
        assert!(d.join("base").join(tool).is_dir() && d.join("deployment1").join(tool).is_dir(), "{tool}");
    }
    let links = [
        ("base/src/blurry-faces-onnx", "../../../designs/blurry-faces-onnx/base"),
        ("base/src/mask-detector", "../../../designs/mask-detector/base"),
        ("deployment1/src/blurry-faces-onnx_partition1_1", "../../../designs/blurry-faces-onnx/partition1_1"),
        ("deployment1/src/blurry-faces-onnx_partition1_2", "../../../designs/blurry-faces-onnx/partition1_2"),
        ("deployment1/src/mask-detector_base", "../../../designs/mask-detector/base"),
    ];
    for (link, target) in links {
        assert_eq!(std::fs::read_link(d.join(link)).expect(link).to_string_lossy(), target);
        assert!(d.join(link).join("main.py").is_file(), "{link} resolves to the design");
    }
    assert_eq!(std::fs::read_link(d.join("optimal_deployment")).expect("optimal").to_string_lossy(), "base");
    // The base DAG is the application's own file; deployment1 chains the partitions.
    assert_eq!(
        std::fs::read_to_string(d.join("base/application_dag.yaml")).expect("dag"),
        std::fs::read_to_string(app.join("common_config/application_dag.yaml")).expect("dag")
    );
    let d1: serde_yaml::Value = serde_yaml::from_str(
        "System:\n  name: mask_detection\n  components: [blurry-faces-onnx_partition1_1, blurry-faces-onnx_partition1_2, mask-detector]\n  dependencies: [[blurry-faces-onnx_partition1_1, blurry-faces-onnx_partition1_2, 1], [blurry-faces-onnx_partition1_2, mask-detector, 1]]\n",
    )
    .expect("yaml");
    assert_eq!(yaml(&d.join("deployment1/application_dag.yaml")), d1);

    // Base production deployment: each component on its first layer and resource.
    let prod = yaml(&d.join("optimal_deployment/production_deployment.yaml"));
    let c = &prod["System"]["Components"];
    assert_eq!(c["component1"]["name"], "blurry-faces-onnx");
    assert_eq!(c["component1"]["executionLayer"], 1);
    assert_eq!(c["component1"]["Containers"]["container1"]["selectedExecutionResource"], "VM1");
    assert_eq!(c["component2"]["Containers"]["container1"]["selectedExecutionResource"], "VM2");
    assert_eq!(c["component2"]["Containers"]["container1"]["memorySize"], 1024);
    assert!(c.get("component1_partitionX_1").is_none());
    assert_eq!(prod["System"]["DeploymentName"], "base");
    assert_eq!(
        prod["System"]["NetworkDomains"]["ND1"]["ComputationalLayers"]["computationalLayer2"]["Resources"]["resource1"]
            ["name"],
        "VM2"
    );

    // SPACE4AI-D reads the base constraints from the application's own space4ai-d folder.
    let q = yaml(&app.join("space4ai-d/qos_constraints.yaml"));
    assert_eq!(q["system"]["local_constraints"]["local_constraint_1"]["component_name"], "blurry-faces-onnx");
    assert_eq!(q["system"]["local_constraints"]["local_constraint_2"]["threshold"], 10);
    // The application's SPACE4AI-D.yaml is the one the deployments get.
    assert_eq!(
        std::fs::read_to_string(d.join("deployment1/space4ai-d/SPACE4AI-D.yaml")).expect("cfg"),
        std::fs::read_to_string(app.join("space4ai-d/SPACE4AI-D.yaml")).expect("cfg")
    );
    // Designs are copies of the component folders.
    assert_eq!(
        std::fs::read_to_string(app.join("aisprint/designs/blurry-faces-onnx/partition1_2/main.py")).expect("main"),
        std::fs::read_to_string(app.join("src/blurry-faces-onnx/main.py")).expect("main")
    );
}

#[test]
fn running_design_again_changes_nothing_and_keeps_other_tools_files() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    assert!(aisprint(tmp.path(), &["design", "--application_dir", "mask_detection"]).status.success());
    // A file another tool put in a deployment stays.
    std::fs::write(app.join("aisprint/deployments/base/im/blurry-faces-onnx.yaml"), "tosca\n").expect("write");
    let before = snapshot(&app);
    let out = aisprint(tmp.path(), &["design", "--application_dir", "mask_detection/"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let after = snapshot(&app);
    assert_eq!(before, after, "a second run must give the same tree");
    // A source file removed from a component disappears from its designs on the next run.
    std::fs::write(app.join("src/mask-detector/helper.py"), "X = 1\n").expect("write");
    assert!(aisprint(tmp.path(), &["design", "--application_dir", "mask_detection"]).status.success());
    assert!(app.join("aisprint/designs/mask-detector/base/helper.py").is_file());
    std::fs::remove_file(app.join("src/mask-detector/helper.py")).expect("rm");
    assert!(aisprint(tmp.path(), &["design", "--application_dir", "mask_detection"]).status.success());
    assert!(!app.join("aisprint/designs/mask-detector/base/helper.py").exists());
}

#[test]
fn a_failed_run_leaves_the_previous_output_as_it_was() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    assert!(aisprint(tmp.path(), &["design", "--application_dir", "mask_detection"]).status.success());
    let before = snapshot(&app.join("aisprint"));
    std::fs::write(app.join("common_config/application_dag.yaml"), "System:\n  name: x\n  components: [blurry-faces-onnx, mask-detector]\n  dependencies: [[blurry-faces-onnx, mask-detector, 7]]\n").expect("write");
    let out = aisprint(tmp.path(), &["design", "--application_dir", "mask_detection"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nothing was written"));
    assert_eq!(before, snapshot(&app.join("aisprint")));
}

#[test]
fn an_application_designed_by_the_reference_tool_is_redesigned() {
    // The reference tool of late 2023 wrote optimal_deployment as a folder.
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    std::fs::create_dir_all(app.join("aisprint/deployments/optimal_deployment")).expect("mkdir");
    std::fs::write(app.join("aisprint/deployments/optimal_deployment/production_deployment.yaml"), "System: {}\n")
        .expect("write");
    let out = aisprint(tmp.path(), &["design", "--application_dir", "mask_detection"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(app.join("aisprint/deployments/optimal_deployment").is_symlink());
}

#[test]
fn malformed_applications_fail_clearly_without_output() {
    let cases = repo().join("tests/fixtures/bad_apps");
    let mut names: Vec<_> = std::fs::read_dir(&cases)
        .expect("cases")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert!(names.len() >= 15, "at least fifteen malformed applications, found {}", names.len());
    let mut failures = Vec::new();
    for name in &names {
        let case_dir = cases.join(name);
        let case = yaml(&case_dir.join("case.yaml"));
        let tmp = tempfile::tempdir().expect("tmp");
        let app = example(tmp.path(), "mask_detection");
        if case_dir.join("files").is_dir() {
            crate::support::copy_dir(&case_dir.join("files"), &app);
        }
        for r in case["remove"].as_sequence().into_iter().flatten() {
            std::fs::remove_file(app.join(r.as_str().expect("path"))).expect("remove");
        }
        // A file design does not use is checked by the command that does (`command:`).
        let command = case["command"].as_str().unwrap_or("design");
        let out = aisprint(tmp.path(), &[command, "--application_dir", "mask_detection"]);
        let stderr = text(&out.stderr);
        let mut problems = Vec::new();
        if out.status.code() != Some(1) {
            problems.push(format!("exit code {:?}", out.status.code()));
        }
        if stderr.contains("panicked") {
            problems.push("panicked".to_string());
        }
        for e in case["expect"].as_sequence().expect("expect") {
            let e = e.as_str().expect("string");
            if !stderr.contains(e) {
                problems.push(format!("missing `{e}`"));
            }
        }
        if !stderr.lines().any(|l| l.starts_with("error: mask_detection/")) {
            problems.push("no error line naming the file".into());
        }
        if app.join("aisprint/deployments/base").exists() || app.join("common_config/annotations.yaml").exists() {
            problems.push("output was written".into());
        }
        if stderr.contains("topsecret-value") {
            problems.push("a secret reached the error output".into());
        }
        if !problems.is_empty() {
            failures.push(format!("{name}: {}\n{stderr}", problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn validate_checks_without_writing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    let out = aisprint(tmp.path(), &["validate", "--application_dir", "mask_detection"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 deployments would be written"), "{}", text(&out.stdout));
    assert!(!app.join("aisprint/deployments/base").exists());
    assert!(!app.join("common_config/annotations.yaml").exists());
}

#[test]
fn a_new_application_is_accepted_by_design_as_it_is() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = aisprint(tmp.path(), &["new-application", "--application_name", "my_app"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let app = tmp.path().join("my_app");
    for f in [
        "common_config/application_dag.yaml",
        "common_config/candidate_resources.yaml",
        "common_config/candidate_deployments.yaml",
        "src/preprocess/main.py",
        "src/inference/main.py",
        "aisprint/deployments/.gitkeep",
        "space4ai-r/.gitkeep",
        "scone/policy.yaml",
    ] {
        assert!(app.join(f).is_file(), "{f}");
    }
    assert_eq!(yaml(&app.join("common_config/application_dag.yaml"))["System"]["name"], "my_app");
    let out = aisprint(tmp.path(), &["design", "--application_dir", "my_app"]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stderr).trim().is_empty(), "no warning on the template: {}", text(&out.stderr));
    // inference may run on the edge or in the cloud: two deployments.
    let mc = yaml(&app.join("aisprint/deployments/multi_cluster_qos_constraints.yaml"));
    let deps = mc["System"]["Deployments"].as_mapping().expect("map");
    assert_eq!(deps.len(), 2);
    let l2 = &mc["System"]["Deployments"]["deployment1"]["ExecutionLayers"][2];
    assert_eq!(l2["global_constraints"]["global_constraint_1"]["path_components"][0], "preprocess");
    assert_eq!(l2["throughput_component"], "preprocess");
    // No SPACE4AI-D.yaml in the template: a default one is written per deployment.
    let cfg = yaml(&app.join("aisprint/deployments/base/space4ai-d/SPACE4AI-D.yaml"));
    assert_eq!(cfg["EdgeResources"][0], "computationalLayer1");
    assert_eq!(cfg["CloudResources"][0], "computationalLayer2");
    assert_eq!(cfg["Methods"]["method1"]["name"], "RandomGreedy");
    // Creating it again is refused.
    let again = aisprint(tmp.path(), &["new-application", "--application_name", "my_app"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("already exists"));
    let bad = aisprint(tmp.path(), &["new-application", "--application_name", "../x"]);
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn alternatives_early_exits_and_global_constraints() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = tmp.path().join("fc");
    crate::support::copy_dir(&repo().join("tests/fixtures/apps/filter_classifier"), &app);
    let out = aisprint(tmp.path(), &["design", "--application_dir", "fc"]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let d = app.join("aisprint/deployments");
    let index = yaml(&d.join("deployments.yaml"));
    let deps = index["deployments"].as_mapping().expect("map");
    // 2 filter versions x (classifier whole on L2, classifier split L1/L2, classifier_tiny on L1)
    // x reporter on L1 or L2.
    assert_eq!(deps.len(), 12);
    assert_eq!(index["deployments"]["deployment4"]["versions"]["classifier"], "classifier_tiny");
    assert_eq!(index["deployments"]["deployment6"]["versions"]["filter_fcn"], "filter_cnn");
    assert_eq!(index["deployments"]["deployment2"]["designs"]["classifier"], "partition1");
    assert_eq!(index["deployments"]["deployment2"]["layers"]["classifier_partition1_2"], 2);

    // Early exit: 75% go on to the second half, 25% leave towards the reporter.
    let dag2 = yaml(&d.join("deployment2/application_dag.yaml"));
    let expected: serde_yaml::Value = serde_yaml::from_str(
        "[[filter_fcn, classifier_partition1_1, 0.6336], [classifier_partition1_1, classifier_partition1_2, 0.75], [classifier_partition1_1, reporter, 0.25], [classifier_partition1_2, reporter, 1]]",
    )
    .expect("yaml");
    assert_eq!(dag2["System"]["dependencies"], expected);
    // An alternative replaces its component everywhere in the DAG.
    let dag4 = yaml(&d.join("deployment4/application_dag.yaml"));
    assert_eq!(dag4["System"]["components"][1], "classifier_tiny");
    assert_eq!(dag4["System"]["dependencies"][1][0], "classifier_tiny");

    let mc = yaml(&d.join("multi_cluster_qos_constraints.yaml"));
    let l = &mc["System"]["Deployments"]["deployment2"]["ExecutionLayers"];
    // The split classifier's local threshold becomes a global constraint over its halves, on
    // the layer of the last half; reporter's global constraint starts at the first half.
    assert_eq!(l[2]["global_constraints"]["global_constraint_1"]["threshold"], 10);
    let path = &l[1]["global_constraints"]["global_constraint_1"]["path_components"];
    let want: serde_yaml::Value =
        serde_yaml::from_str("[classifier_partition1_1, classifier_partition1_2, reporter]").expect("yaml");
    assert_eq!(path, &want);
    // filter_fcn (whose annotations use the @annotation dictionary) gives the throughput.
    assert_eq!(l[1]["throughput_component"], "filter_fcn");
    assert_eq!(l[2]["throughput_component"], "filter_fcn");
    let l4 = &mc["System"]["Deployments"]["deployment4"]["ExecutionLayers"][1];
    assert_eq!(l4["local_constraints"]["local_constraint_2"]["component_name"], "classifier_tiny");
    assert_eq!(l4["global_constraints"]["global_constraint_1"]["path_components"][0], "classifier_tiny");

    // Annotations of every script, the dictionary form and a module alias included.
    let ann = yaml(&app.join("common_config/annotations.yaml"));
    assert_eq!(ann["fc/src/filter_fcn/main.py"]["expected_throughput"]["rate"], 2);
    assert_eq!(ann["fc/src/reporter/main.py"]["security"]["networkShield"], true);
    assert_eq!(ann["fc/src/classifier/main.py"]["early_exits_model"]["transition_probabilities"][0], 0.75);
    assert_eq!(ann["fc/src/classifier/main.py"]["model_performance"]["metric"], "average_f1");

    // @model_performance: the average F1 of each pair of versions from the confusion matrices
    // (the values of tests/fixtures/make_confusion_matrices.py), the most accurate first; the
    // filter's edge has the share of samples its version passes on.
    let perf = yaml(&app.join("space4ai-r/deployments_performance.yaml"));
    assert_eq!(perf["System"]["metric_name"], "average_f1");
    assert_eq!(perf["System"]["metric_thr"], 0.65);
    let sorted: Vec<(String, f64)> = perf["System"]["sorted_deployments_performance"]
        .as_sequence()
        .expect("list")
        .iter()
        .map(|e| {
            let (k, v) = e.as_mapping().and_then(|m| m.iter().next()).expect("entry");
            (k.as_str().expect("name").to_string(), v["metric_value"].as_f64().expect("value"))
        })
        .collect();
    assert_eq!(sorted.len(), 12);
    let value = |name: &str| sorted.iter().find(|(n, _)| n == name).expect(name).1;
    assert_eq!(value("base"), 0.8222);
    assert_eq!(value("deployment4"), 0.6988);
    assert_eq!(value("deployment6"), 0.7438);
    assert_eq!(value("deployment10"), 0.6311);
    assert!(sorted.windows(2).all(|w| w[0].1 >= w[1].1), "{sorted:?}");
    assert_eq!(sorted[0].0, "base");
    let dag6 = yaml(&d.join("deployment6/application_dag.yaml"));
    assert_eq!(
        dag6["System"]["dependencies"][0],
        serde_yaml::from_str::<serde_yaml::Value>("[filter_cnn, classifier, 0.6364]").expect("yaml")
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("deployment 'deployment10' has average_f1 0.6311 (below metric_thr 0.65)"), "{stdout}");
}

/// The public AI-SPRINT examples' situations, in fixtures of our own: an empty
/// physical_nodes.yaml, a cut-short SPACE4AI-D.yaml design does not use, alternatives without
/// an entry of their own.
#[test]
fn upstream_application_quirks_are_at_most_warnings() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = tmp.path().join("fc");
    crate::support::copy_dir(&repo().join("tests/fixtures/apps/filter_classifier"), &app);
    std::fs::write(app.join("common_config/physical_nodes.yaml"), "").expect("write");
    std::fs::create_dir_all(app.join("space4ai-d")).expect("mkdir");
    let cut = "Methods:\n  method1:\n    name: RandomGreedy\n    - num_iterations: 1000\n";
    std::fs::write(app.join("space4ai-d/SPACE4AI-D.yaml"), cut).expect("write");
    // classifier_tiny loses its own entry: it runs where classifier runs.
    let cd = app.join("common_config/candidate_deployments.yaml");
    let doc: serde_yaml::Value = yaml(&cd);
    let mut comps = doc["Components"].as_mapping().expect("components").clone();
    comps.retain(|_, v| v["name"] != "classifier_tiny");
    let mut doc = doc.clone();
    doc["Components"] = serde_yaml::Value::Mapping(comps);
    std::fs::write(&cd, serde_yaml::to_string(&doc).expect("yaml")).expect("write");
    let out = aisprint(tmp.path(), &["design", "--application_dir", "fc"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    assert!(
        stderr.contains("warning: fc/space4ai-d/SPACE4AI-D.yaml:4:5")
            && stderr.contains("`design` does not use this file, so it is left out"),
        "{stderr}"
    );
    assert!(!stderr.contains("physical_nodes"), "{stderr}");
    assert!(
        stdout.contains("Note: alternative `classifier_tiny` has no entry of its own in candidate_deployments.yaml: it runs where `classifier` runs"),
        "{stdout}"
    );
    // The alternative runs on the classifier's layer (2) and nowhere else.
    let index = yaml(&app.join("aisprint/deployments/deployments.yaml"));
    let tiny: Vec<u64> = index["deployments"]
        .as_mapping()
        .expect("map")
        .values()
        .filter(|d| d["versions"]["classifier"] == "classifier_tiny")
        .map(|d| d["layers"]["classifier_tiny"].as_u64().expect("layer"))
        .collect();
    assert!(!tiny.is_empty() && tiny.iter().all(|l| *l == 2), "{tiny:?}");
    // The user's file is kept as it is in every deployment; design writes no default over it.
    let copied =
        std::fs::read_to_string(app.join("aisprint/deployments/base/space4ai-d/SPACE4AI-D.yaml")).expect("copy");
    assert_eq!(copied, cut);
    // space4aid uses that file: there it is an error.
    crate::space4aid_app::write_fixture_models(&app, &[("classifier_tiny", "VM1")]);
    let s = aisprint(tmp.path(), &["space4aid", "--application_dir", "fc"]);
    assert_eq!(s.status.code(), Some(1));
    let err = text(&s.stderr);
    assert!(err.contains("error: fc/space4ai-d/SPACE4AI-D.yaml:4:5"), "{err}");
    // Without it, space4aid runs on the rest: the empty physical nodes, the adopted
    // alternative on the classifier's VM.
    std::fs::remove_file(app.join("space4ai-d/SPACE4AI-D.yaml")).expect("remove");
    let s = aisprint(tmp.path(), &["space4aid", "--application_dir", "fc"]);
    let out = text(&s.stdout);
    assert_eq!(s.status.code(), Some(0), "{out}{}", text(&s.stderr));
    let tiny = index["deployments"]
        .as_mapping()
        .expect("map")
        .iter()
        .find(|(_, d)| d["versions"]["classifier"] == "classifier_tiny")
        .map(|(n, _)| n.as_str().expect("name").to_string())
        .expect("a deployment with classifier_tiny");
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(app.join(format!("aisprint/deployments/{tiny}/space4ai-d/Output.json")))
            .expect("output"),
    )
    .expect("json");
    assert!(v["components"]["classifier_tiny"].is_object(), "{v}");
}

#[test]
fn too_many_deployments_are_refused_before_writing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = tmp.path().join("fc");
    crate::support::copy_dir(&repo().join("tests/fixtures/apps/filter_classifier"), &app);
    let out = aisprint(tmp.path(), &["design", "--application_dir", "fc", "--max-deployments", "5"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("allow more than 5 deployments"), "{stderr}");
    assert!(!app.join("aisprint/deployments/base").exists());
}

#[test]
fn dashboards_are_generated_for_the_constraints_and_custom_metrics() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    std::fs::write(
        dir.join("qos.yaml"),
        "system:\n  name: app\n  local_constraints:\n    local_constraint_1:\n      component_name: c1\n      threshold: 20\n  global_constraints:\n    global_constraint_1:\n      path_components: [c1, c2]\n      threshold: 30\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("custom_setup.yaml"),
        "monitoring:\n  name: mask-app\n  metrics:\n    masks:\n      fields: [masks_count, no_masks_count]\n",
    )
    .expect("write");
    let r = aisprint(
        dir,
        &[
            "dashboards",
            "generate",
            "--qos_constraints",
            "qos.yaml",
            "--custom_setup",
            "custom_setup.yaml",
            "--output_dir",
            "out",
        ],
    );
    assert!(r.status.success(), "{}", text(&r.stderr));
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("out").join(f)).expect("file")).expect("json")
    };
    let qos = read("execution-time-constraints.json");
    assert_eq!(qos["title"], "mask-app: execution time constraints");
    assert_eq!(qos["panels"].as_array().map(Vec::len), Some(4));
    assert_eq!(read("custom-metrics.json")["panels"].as_array().map(Vec::len), Some(2));
    assert_eq!(read("cluster-monitoring.json")["__inputs"][0]["name"], "DS_PROMETHEUS");

    // A bad file: the error names it and the key; nothing is written.
    std::fs::write(dir.join("custom_setup.yaml"), "monitoring:\n  metrics:\n    masks:\n      fields: 3\n")
        .expect("write");
    let r = aisprint(
        dir,
        &[
            "dashboards",
            "generate",
            "--qos_constraints",
            "qos.yaml",
            "--custom_setup",
            "custom_setup.yaml",
            "--output_dir",
            "out2",
        ],
    );
    assert_eq!(r.status.code(), Some(1));
    let err = text(&r.stderr);
    assert!(err.contains("custom_setup.yaml") && err.contains("monitoring.metrics.masks.fields"), "{err}");
    assert!(!dir.join("out2").join("custom-metrics.json").exists());
}
