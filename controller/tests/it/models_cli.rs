//! `aisprint models train` on a campaign's response-time tables, then `aisprint space4aid`
//! on the models it wrote: the user guide's mask-detection application, with tables laid out
//! as OSCAR-P writes them. The runs come from a known law (a serial part plus parallel work
//! over the cores, with a few percent of deterministic noise), so that the trained models
//! can be checked against runs they did not see.

use std::path::Path;

use crate::support::{aisprint, example, text};
use aisprint_controller::models::{write_csv, Row};

/// The response time of a unit with `cores` cores serving `x` requests per second.
fn law(unit: &str, cores: f64, x: f64) -> f64 {
    let (serial, work) = match unit {
        "C1@VM1" => (0.4, 6.0),
        "C1P1.1@VM1" => (0.15, 2.0),
        "C1P1.2@VM1" => (0.12, 1.5),
        _ => (0.3, 3.0),
    };
    (serial + work / cores) * (1.0 + 0.02 * x)
}

/// A deterministic noise in [-3%, +3%].
fn noise(i: usize) -> f64 {
    let v = ((i * 7919 + 13) % 101) as f64 / 100.0;
    1.0 + 0.06 * (v - 0.5)
}

fn runs(unit: &str, levels: &[u32], start: usize) -> Vec<Row> {
    let mut out = Vec::new();
    let mut k = start;
    for &p in levels {
        for rep in 0..3 {
            let cores = f64::from(p) * 0.9;
            let x = 0.2 + 0.05 * f64::from(rep) + 0.03 * f64::from(p);
            k += 1;
            out.push(Row {
                run: format!("Run #{k}"),
                throughput: x,
                response: law(unit, cores, x) * noise(k),
                parallelism: f64::from(p),
                cores,
            });
        }
    }
    out
}

const UNITS: [(&str, &str); 4] = [
    ("C1@VM1", "blurry-faces-onnx"),
    ("C2@VM2", "mask-detector"),
    ("C1P1.1@VM1", "blurry-faces-onnx_partition1_1"),
    ("C1P1.2@VM1", "blurry-faces-onnx_partition1_2"),
];

#[test]
fn models_trained_from_a_campaign_predict_unseen_runs_and_space4aid_uses_them() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    let dir = app.to_str().expect("path");
    let r = aisprint(tmp.path(), &["design", "--application_dir", dir]);
    assert!(r.status.success(), "{}", text(&r.stderr));

    // No campaign yet: said plainly.
    let r = aisprint(tmp.path(), &["models", "train", "--application_dir", dir]);
    assert_eq!(r.status.code(), Some(1));
    assert!(text(&r.stderr).contains("run the campaign first"), "{}", text(&r.stderr));

    // The tables, where OSCAR-P puts them (run.campaign_dir of run_parameters.yaml).
    let rp: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(app.join("oscarp/run_parameters.yaml")).expect("rp"))
            .expect("yaml");
    let campaign = app.join("oscarp").join(rp["run"]["campaign_dir"].as_str().unwrap_or("campaign"));
    for (i, (unit, service)) in UNITS.iter().enumerate() {
        let dep = if unit.contains('P') { "deployment_1" } else { "deployment_0" };
        let d = campaign.join(dep).join(unit).join("results/Dataframes");
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(
            d.join(format!("{service}_response_time_dataframe.csv")),
            write_csv(&runs(unit, &[10, 8, 6, 4, 2], i * 100)),
        )
        .expect("csv");
    }
    // The whole-pipeline table is not a unit's: it is left alone.
    let full = campaign.join("deployment_0/Full_workflow/results/Dataframes");
    std::fs::create_dir_all(&full).expect("mkdir");
    std::fs::write(full.join("x_response_time_dataframe.csv"), "not,a,table\n").expect("write");

    let r = aisprint(tmp.path(), &["models", "train", "--application_dir", dir]);
    let out = text(&r.stdout);
    assert!(r.status.success(), "{out}{}", text(&r.stderr));
    for (unit, _) in UNITS {
        assert!(out.contains(&format!("{unit}: 15 runs;")), "{out}");
        assert!(app.join(format!("oscarp/models/{unit}.core.json")).is_file());
        assert!(app.join(format!("oscarp/models/{unit}.lambda.json")).is_file());
    }

    // performance_models.json: component -> partition -> resource -> the chosen model.
    let pm: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.join("oscarp/performance_models.json")).expect("pm"))
            .expect("json");
    for (comp, part, res, unit) in [
        ("blurry-faces-onnx", "blurry-faces-onnx", "VM1", "C1@VM1"),
        ("blurry-faces-onnx", "blurry-faces-onnx_partition1_1", "VM1", "C1P1.1@VM1"),
        ("blurry-faces-onnx", "blurry-faces-onnx_partition1_2", "VM1", "C1P1.2@VM1"),
        ("mask-detector", "mask-detector", "VM2", "C2@VM2"),
    ] {
        let e = &pm[comp][part][res];
        let model = e["model"].as_str().expect("model");
        assert!(model == "CoreBasedPredictor" || model == "LambdaBasedPredictor", "{e}");
        let file = e["regressor_file"].as_str().expect("file");
        assert!(file.starts_with(&format!("oscarp/models/{unit}.")), "{e}");
        assert!(e["meanTime"].as_f64().expect("meanTime") > 0.0 && e["demand"].as_f64().expect("demand") > 0.0, "{e}");
        // The model predicts runs it never saw (other parallelism levels, other rates)
        // within 15% on average.
        let m: aisprint_model::perfmodel::Regressor =
            serde_json::from_str(&std::fs::read_to_string(app.join(file)).expect("model")).expect("regressor");
        let unseen = runs(unit, &[9, 7, 5, 3], 5000);
        let mut err = 0.0;
        for row in &unseen {
            let p = m.predict_cores(row.cores, Some(row.throughput));
            err += (p - row.response).abs() / row.response;
        }
        err /= unseen.len() as f64;
        assert!(err < 0.15, "{unit}: mean error {err} on unseen runs ({})", m.technique.name());
    }

    // SPACE4AI-D on the trained models: the split deployment would put both halves (each
    // with a predictor) on VM1, where a predicted partition must run alone: base wins.
    let r = aisprint(tmp.path(), &["space4aid", "--application_dir", dir, "--lambda", "0.5"]);
    let out = text(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "{out}{}", text(&r.stderr));
    let dep1 =
        std::fs::read_to_string(app.join("aisprint/deployments/deployment1/space4ai-d/Output.json")).expect("out");
    let dep1: serde_json::Value = serde_json::from_str(&dep1).expect("json");
    assert_eq!(dep1["feasible"], false, "{dep1}");
    let chosen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(app.join("space4ai-d/Output.json")).expect("out")).expect("json");
    assert_eq!(chosen["feasible"], true, "{chosen}");
    assert!(Path::new(&app.join("aisprint/deployments/optimal_deployment")).exists());
    assert_eq!(
        std::fs::read_link(app.join("aisprint/deployments/optimal_deployment")).expect("link").to_string_lossy(),
        "base"
    );
}

#[test]
fn a_broken_table_is_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    let dir = app.to_str().expect("path");
    let d = app.join("oscarp/campaign/deployment_0/C1@VM1/results/Dataframes");
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(
        d.join("blurry-faces-onnx_response_time_dataframe.csv"),
        "run_name,observed_throughput,avg_response_time,requested_parallelism,cores\nRun #1,0.5,fast,4,3.6\n",
    )
    .expect("csv");
    let r = aisprint(
        tmp.path(),
        &["models", "train", "--application_dir", dir, "--campaign", app.join("oscarp/campaign").to_str().expect("p")],
    );
    assert_eq!(r.status.code(), Some(1));
    let err = text(&r.stderr);
    assert!(
        err.contains("blurry-faces-onnx_response_time_dataframe.csv")
            && err.contains("line 2")
            && err.contains("avg_response_time"),
        "{err}"
    );
    assert!(!app.join("oscarp/performance_models.json").exists(), "nothing written");
}
