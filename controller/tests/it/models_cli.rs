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

/// The Python of a virtual environment with scikit-learn and XGBoost (PyPI): `$AISPRINT_ML_PYTHON`,
/// else `target/ml-venv` (tests/run makes it; made here when missing).
fn ml_python() -> std::path::PathBuf {
    aisprint_test_support::venv_python(
        "AISPRINT_ML_PYTHON",
        "ml-venv",
        "import sklearn, xgboost",
        &["scikit-learn==1.7.2", "xgboost-cpu==3.1.2"],
    )
}

/// Pickles as OSCAR-P writes them: an aMLLibrary-style `Regressor` (a class of a module the
/// import's helper does not have) around a scikit-learn or XGBoost model fit on scaled
/// `cores` and `inverse_cores` (t = 2 + 8/cores), with its StandardScalers. Prints each
/// model's predictions at 0.75, 2.5 and 5 cores.
const MAKE_PICKLES: &str = r#"
import pickle, sys, types, numpy as np
from sklearn.preprocessing import StandardScaler
from sklearn.linear_model import Ridge
from sklearn.tree import DecisionTreeRegressor
from sklearn.ensemble import RandomForestRegressor
import xgboost
mod = types.ModuleType("regressor"); sys.modules["regressor"] = mod
class Regressor:
    def __init__(self, r, s):
        self._campaign_configuration = {"General": {"y": "avg_response_time"}}
        self._regressor, self._x_columns, self._scalers, self._logger = r, ["cores", "inverse_cores"], s, "regressor"
Regressor.__module__ = "regressor"; mod.Regressor = Regressor
cores = np.array([0.5, 1, 1.5, 2, 3, 4, 6, 8])
X = np.column_stack([cores, 1 / cores]); y = 2 + 8 / cores
Q = np.column_stack([[0.75, 2.5, 5.0], [1 / 0.75, 1 / 2.5, 1 / 5.0]])
s = {c: StandardScaler().fit(X[:, [i]]) for i, c in enumerate(["cores", "inverse_cores"])}
scale = lambda A: np.column_stack([s[c].transform(A[:, [i]])[:, 0] for i, c in enumerate(["cores", "inverse_cores"])])
ys = StandardScaler().fit(y.reshape(-1, 1))
for name, m in [("ridge", Ridge(alpha=1e-6)), ("tree", DecisionTreeRegressor(random_state=0)),
                ("forest", RandomForestRegressor(n_estimators=5, random_state=0)),
                ("xgb", xgboost.XGBRegressor(n_estimators=20, max_depth=3))]:
    scalers = dict(s)
    if name == "tree":  # the target scaled too, as aMLLibrary may do
        scalers["avg_response_time"] = ys
        m.fit(scale(X), ys.transform(y.reshape(-1, 1))[:, 0])
        p = ys.inverse_transform(m.predict(scale(Q)).reshape(-1, 1))[:, 0]
    else:
        m.fit(scale(X), y)
        p = m.predict(scale(Q))
    pickle.dump(Regressor(m, scalers), open("%s/%s.pickle" % (sys.argv[1], name), "wb"))
    print(name, " ".join(repr(float(v)) for v in p))
"#;

/// `aisprint models import`: upstream's pickled regressors become JSON models that predict what
/// the pickles did, MLLIBfaas entries become PACSLTK ones, and SPACE4AI-D runs on them; a
/// missing pickle stops the import with its entry named and nothing written.
#[test]
fn pickled_regressors_are_imported_and_predict_as_before() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    let dir = app.to_str().expect("path");
    assert!(aisprint(tmp.path(), &["design", "--application_dir", dir]).status.success());
    let pickles = app.join("oscarp/pickles");
    std::fs::create_dir_all(&pickles).expect("mkdir");
    let py = ml_python();
    let made = std::process::Command::new(&py).args(["-c", MAKE_PICKLES]).arg(&pickles).output().expect("python");
    assert!(made.status.success(), "{}", text(&made.stderr));
    let expected: std::collections::BTreeMap<String, Vec<f64>> = text(&made.stdout)
        .lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next().expect("name").to_string();
            (name, w.map(|v| v.parse().expect("number")).collect())
        })
        .collect();
    let entry = |f: &str| serde_json::json!({"model": "CoreBasedPredictor", "regressor_file": format!("oscarp/pickles/{f}.pickle")});
    let mut pm = serde_json::json!({
        "blurry-faces-onnx": {
            "blurry-faces-onnx": {"VM1": entry("ridge")},
            "blurry-faces-onnx_partition1_1": {"VM1": entry("tree")},
            "blurry-faces-onnx_partition1_2": {"VM1": entry("forest")},
        },
        "mask-detector": {"mask-detector": {
            "VM2": entry("xgb"),
            "Lambda": {"model": "MLLIBfaas", "regressor_file": "/nowhere/best.pickle", "demandWarm": 2.5, "demandCold": 4},
        }},
    });
    let file = app.join("oscarp/performance_models.json");
    // A pickle named where it is not (upstream's example names a laptop's folders).
    pm["mask-detector"]["mask-detector"]["VM2"]["regressor_file"] = "/Users/someone/Downloads/best.pickle".into();
    std::fs::write(&file, pm.to_string()).expect("write");
    let python = py.to_str().expect("path");
    let r = aisprint(tmp.path(), &["models", "import", "--application_dir", dir, "--python", python]);
    assert_eq!(r.status.code(), Some(1));
    let err = text(&r.stderr);
    assert!(
        err.contains(
            "mask-detector.mask-detector.VM2.regressor_file: `/Users/someone/Downloads/best.pickle`: no such file"
        ),
        "{err}"
    );
    assert!(!app.join("oscarp/models/imported").exists() && !app.join("oscarp/performance_models.json.bak").exists());

    pm["mask-detector"]["mask-detector"]["VM2"] = entry("xgb");
    std::fs::write(&file, pm.to_string()).expect("write");
    let before = std::fs::read_to_string(&file).expect("read");
    let r = aisprint(tmp.path(), &["models", "import", "--application_dir", dir, "--python", python]);
    let out = text(&r.stdout);
    assert!(r.status.success(), "{out}{}", text(&r.stderr));
    assert!(out.contains("Done: 4 model(s) imported, 1 MLLIBfaas entry is now PACSLTK"), "{out}");
    assert_eq!(std::fs::read_to_string(app.join("oscarp/performance_models.json.bak")).expect("bak"), before);
    let pm: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file).expect("pm")).expect("json");
    assert_eq!(
        pm["mask-detector"]["mask-detector"]["Lambda"],
        serde_json::json!({"model": "PACSLTK", "demandWarm": 2.5, "demandCold": 4})
    );
    for (comp, unit, res, name, kind) in [
        ("blurry-faces-onnx", "blurry-faces-onnx", "VM1", "ridge", "ridge"),
        ("blurry-faces-onnx", "blurry-faces-onnx_partition1_1", "VM1", "tree", "decision_tree"),
        ("blurry-faces-onnx", "blurry-faces-onnx_partition1_2", "VM1", "forest", "random_forest"),
        ("mask-detector", "mask-detector", "VM2", "xgb", "random_forest"),
    ] {
        let f = pm[comp][unit][res]["regressor_file"].as_str().expect("file");
        assert_eq!(f, format!("oscarp/models/imported/{unit}@{res}.json"));
        let m: aisprint_model::perfmodel::Regressor =
            serde_json::from_str(&std::fs::read_to_string(app.join(f)).expect("model")).expect("regressor");
        assert_eq!(m.technique.name(), kind);
        assert!(
            m.imported_from.as_deref().is_some_and(|s| s.starts_with("sklearn.") || s.starts_with("xgboost.")),
            "{:?}",
            m.imported_from
        );
        // The same predictions as the pickled model (XGBoost computes in float32).
        for (cores, want) in [0.75, 2.5, 5.0].iter().zip(&expected[name]) {
            let got = m.predict_cores(*cores, None);
            assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "{name} at {cores} cores: {got} vs {want}");
        }
    }
    // SPACE4AI-D runs on them.
    let r = aisprint(tmp.path(), &["space4aid", "--application_dir", dir, "--lambda", "0.1"]);
    assert!(r.status.code() == Some(0) || r.status.code() == Some(3), "{}{}", text(&r.stdout), text(&r.stderr));
    assert!(app.join("aisprint/deployments/base/space4ai-d/Output.json").is_file());
}
