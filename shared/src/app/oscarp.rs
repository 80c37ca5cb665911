//! OSCAR-P files: `oscarp/run_parameters.yaml` (the profiling campaign),
//! `oscarp/components_data_size.yaml` (output size of each component, KB) and
//! `oscarp/performance_models.json` (the models SPACE4AI-D reads).

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use super::{Flag, Map};
use crate::diag::{Diagnostic, Diagnostics};
use crate::yaml::YamlDoc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunParameters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_files: Option<InputFiles>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asynchronous: Option<Asynchronous>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synchronous: Option<Synchronous>,
    pub components: Map<ComponentRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<Map<Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputFiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_bucket: Option<String>,
    pub filename: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asynchronous {
    pub batch_size: u32,
    pub number_of_batches: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inter_upload_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combinatorial_test: Option<Flag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Synchronous {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_pre_allocated_pods: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_nodes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals: Option<Vec<Interval>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub throughput: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_threads: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_up_seconds: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentRun {
    pub parallelism: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distribution: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_synchronously: Option<Flag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_single_services: Option<Flag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_models: Option<Flag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetitions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_time: Option<f64>,
}

const DISTRIBUTIONS: &[&str] = &["deterministic", "exponential"];

pub fn validate_run_parameters(doc: &YamlDoc<RunParameters>) -> Diagnostics {
    let mut out = Diagnostics::new();
    let v = &doc.value;
    if let Some(a) = &v.asynchronous {
        if a.batch_size == 0 {
            out.push(doc.error("asynchronous.batch_size", "must be at least 1"));
        }
        if a.number_of_batches == 0 {
            out.push(doc.error("asynchronous.number_of_batches", "must be at least 1"));
        }
        if let Some(d) = &a.distribution {
            if !DISTRIBUTIONS.contains(&d.as_str()) {
                out.push(
                    doc.error("asynchronous.distribution", format!("`{d}` is not one of {}", DISTRIBUTIONS.join(", "))),
                );
            }
        }
        if a.inter_upload_time.is_some_and(|t| !(t >= 0.0)) {
            out.push(doc.error("asynchronous.inter_upload_time", "must be a non-negative number of seconds"));
        }
    }
    if v.components.is_empty() {
        out.push(doc.error("components", "list the parallelism levels of at least one component"));
    }
    let mut lengths: Vec<(String, usize)> = Vec::new();
    for (c, r) in &v.components {
        let key = format!("components.{c}.parallelism");
        if r.parallelism.is_empty() {
            out.push(doc.error(key.clone(), "list at least one parallelism level"));
        }
        for (i, p) in r.parallelism.iter().enumerate() {
            if *p == 0 {
                out.push(doc.error(format!("{key}[{i}]"), "a parallelism level must be at least 1"));
            }
        }
        lengths.push((c.clone(), r.parallelism.len()));
    }
    if let Some((first, n)) = lengths.first() {
        for (c, m) in &lengths[1..] {
            if m != n {
                out.push(doc.error(
                    format!("components.{c}.parallelism"),
                    format!("has {m} levels but `{first}` has {n}: all parallelism lists must have the same length"),
                ));
            }
        }
    }
    if let Some(r) = &v.run {
        if r.repetitions == Some(0) {
            out.push(doc.error("run.repetitions", "must be at least 1"));
        }
    }
    out
}

/// `oscarp/components_data_size.yaml`: component or partition -> output size (KB).
pub type DataSizes = Map<f64>;

pub fn validate_data_sizes(doc: &YamlDoc<DataSizes>) -> Diagnostics {
    let mut out = Diagnostics::new();
    for (c, s) in &doc.value {
        if !(*s >= 0.0) {
            out.push(doc.error(c.clone(), format!("a data size (KB) cannot be negative, found {s}")));
        }
    }
    out
}

/// `oscarp/performance_models.json`: component -> component or partition -> resource -> model.
pub type PerformanceModels = Map<Map<Map<PerformanceModelSpec>>>;

/// Model names SPACE4AI-D knows.
pub const MODEL_NAMES: &[&str] =
    &["QTedge", "QTcloud", "PACSLTK", "MLLIBfaas", "CoreBasedPredictor", "LambdaBasedPredictor", "NETWORK"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerformanceModelSpec {
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demand: Option<f64>,
    #[serde(rename = "demandWarm", default, skip_serializing_if = "Option::is_none")]
    pub demand_warm: Option<f64>,
    #[serde(rename = "demandCold", default, skip_serializing_if = "Option::is_none")]
    pub demand_cold: Option<f64>,
    /// A trained model (`aisprint models train` writes them), relative to the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regressor_file: Option<String>,
    /// The mean response time over the profiling runs (s).
    #[serde(rename = "meanTime", default, skip_serializing_if = "Option::is_none")]
    pub mean_time: Option<f64>,
    /// The model's cross-validated error (a fraction), as `aisprint models train` found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mape: Option<f64>,
    /// The model of `regressor_file`, once read (by whoever reads files).
    #[serde(skip)]
    pub regressor: Option<crate::perfmodel::Regressor>,
    /// Parameters of models written by later tools (kept as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Value>,
}

pub fn validate_performance_models(file: &str, models: &PerformanceModels) -> Diagnostics {
    let mut out = Diagnostics::new();
    for (c, units) in models {
        for (u, rs) in units {
            for (r, m) in rs {
                let key = format!("{c}.{u}.{r}");
                let err = |k: &str, msg: String| Diagnostic::error(file, format!("{key}{k}"), msg);
                if !MODEL_NAMES.contains(&m.model.as_str()) {
                    out.push(err(
                        ".model",
                        format!("unknown model `{}`; use one of {}", m.model, MODEL_NAMES.join(", ")),
                    ));
                    continue;
                }
                match m.model.as_str() {
                    "QTedge" | "QTcloud" if m.demand.is_none_or(|d| !(d >= 0.0)) => {
                        out.push(err("", format!("model `{}` needs a non-negative `demand` (seconds)", m.model)));
                    }
                    "CoreBasedPredictor" | "LambdaBasedPredictor" if m.regressor_file.is_none() => {
                        out.push(err(
                            "",
                            format!(
                                "model `{}` needs `regressor_file` (a model written by `aisprint models train`)",
                                m.model
                            ),
                        ));
                    }
                    "PACSLTK" | "MLLIBfaas" => {
                        for (n, v) in [("demandWarm", m.demand_warm), ("demandCold", m.demand_cold)] {
                            if v.is_none_or(|d| !(d >= 0.0)) {
                                out.push(err("", format!("model `{}` needs a non-negative `{n}` (seconds)", m.model)));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}
