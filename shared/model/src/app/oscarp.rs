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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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

/// A campaign's folder under `oscarp/` when `run.campaign_dir` names none.
pub const DEFAULT_CAMPAIGN_DIR: &str = "campaign";

impl RunParameters {
    /// The campaign's folder under `oscarp/`: `run.campaign_dir`, else [`DEFAULT_CAMPAIGN_DIR`].
    pub fn campaign_dir(&self) -> String {
        self.run.as_ref().and_then(|r| r.campaign_dir.clone()).unwrap_or_else(|| DEFAULT_CAMPAIGN_DIR.into())
    }
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
        if a.inter_upload_time.is_some_and(|t| !(0.0..=MAX_WAIT_S).contains(&t)) {
            out.push(doc.error("asynchronous.inter_upload_time", "expected seconds between 0 and 86400"));
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
        if r.cooldown_time.is_some_and(|t| !(0.0..=MAX_WAIT_S).contains(&t)) {
            out.push(doc.error("run.cooldown_time", "expected seconds between 0 and 86400"));
        }
    }
    out
}

/// The longest wait a campaign takes between two batches or two runs (a day).
pub const MAX_WAIT_S: f64 = 86_400.0;

/// What a profiling campaign runs, from a checked `run_parameters.yaml`: the settings
/// `aisprint profile` uses, each read once.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignSettings {
    /// The input file's name and the folder it is looked for in first (default `input`).
    pub input_file: String,
    pub input_bucket: Option<String>,
    pub batch_size: u32,
    pub batches: u32,
    /// Seconds between two batches (their mean when exponential).
    pub inter_upload_s: f64,
    pub exponential: bool,
    pub repetitions: u32,
    pub cooldown_s: f64,
    /// Whether each unit is also tested alone (`run.test_single_services`, default true).
    pub single_services: bool,
    pub train_models: bool,
    /// The campaign's folder under `oscarp/`.
    pub campaign_dir: String,
}

impl CampaignSettings {
    /// The settings of a campaign that can run here (asynchronous: uploads in batches); an
    /// error, with the file and key, for what a campaign needs and the file lacks. The file
    /// is assumed checked by [`validate_run_parameters`].
    pub fn from_doc(doc: &YamlDoc<RunParameters>) -> Result<CampaignSettings, Diagnostics> {
        let v = &doc.value;
        let mut out = Diagnostics::new();
        let run = v.run.clone().unwrap_or_default();
        if run.test_synchronously.as_ref().is_some_and(Flag::is_true) {
            out.push(
                doc.error("run.test_synchronously", "synchronous campaigns are not available yet; set it to false"),
            );
        }
        if v.input_files.is_none() {
            out.push(doc.error("input_files", "missing (filename): the file each run uploads"));
        }
        if v.asynchronous.is_none() {
            out.push(doc.error(
                "asynchronous",
                "missing (batch_size, number_of_batches, inter_upload_time): only asynchronous campaigns are run",
            ));
        }
        let (Some(input), Some(a)) = (&v.input_files, &v.asynchronous) else { return Err(out) };
        if out.has_errors() {
            return Err(out);
        }
        Ok(CampaignSettings {
            input_file: input.filename.clone(),
            input_bucket: input.storage_bucket.clone(),
            batch_size: a.batch_size,
            batches: a.number_of_batches,
            inter_upload_s: a.inter_upload_time.unwrap_or(0.0),
            exponential: a.distribution.as_deref() == Some("exponential"),
            repetitions: run.repetitions.unwrap_or(1).max(1),
            cooldown_s: run.cooldown_time.unwrap_or(0.0),
            single_services: run.test_single_services.as_ref().is_none_or(Flag::is_true),
            train_models: run.train_models.as_ref().is_some_and(Flag::is_true),
            campaign_dir: v.campaign_dir(),
        })
    }

    /// Files each run uploads.
    pub fn files_per_run(&self) -> u64 {
        u64::from(self.batch_size) * u64::from(self.batches)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> YamlDoc<RunParameters> {
        crate::yaml::parse::<RunParameters>("oscarp/run_parameters.yaml", text).expect("parses").0
    }

    const BASE: &str = "input_files:\n  filename: frame.jpg\nasynchronous:\n  batch_size: 4\n  number_of_batches: 2\n  inter_upload_time: 0.5\n  distribution: exponential\ncomponents:\n  C1:\n    parallelism: [2, 1]\n";

    #[test]
    fn campaign_settings_take_each_value_once_with_defaults() {
        let s = CampaignSettings::from_doc(&doc(BASE)).expect("settings");
        assert_eq!(s.files_per_run(), 8);
        assert_eq!((s.inter_upload_s, s.exponential, s.repetitions, s.cooldown_s), (0.5, true, 1, 0.0));
        assert!(s.single_services && !s.train_models);
        assert_eq!(
            (s.campaign_dir.as_str(), s.input_file.as_str(), s.input_bucket.as_deref()),
            ("campaign", "frame.jpg", None)
        );
        let run = format!("{BASE}run:\n  repetitions: 3\n  cooldown_time: 2\n  test_single_services: false\n  train_models: true\n  campaign_dir: c2\n");
        let s = CampaignSettings::from_doc(&doc(&run)).expect("settings");
        assert_eq!((s.repetitions, s.cooldown_s, s.single_services, s.train_models), (3, 2.0, false, true));
        assert_eq!(s.campaign_dir, "c2");
    }

    #[test]
    fn what_a_campaign_needs_is_named_by_key() {
        let d = CampaignSettings::from_doc(&doc(
            "components:\n  C1:\n    parallelism: [1]\nrun:\n  test_synchronously: true\n",
        ))
        .expect_err("refused");
        let text = d.to_string();
        for key in ["run.test_synchronously", "input_files", "asynchronous"] {
            assert!(text.contains(&format!(": {key}: ")), "{key} in {text}");
        }
    }

    #[test]
    fn waits_are_bounded_in_the_file_check() {
        let bad = BASE.replace("inter_upload_time: 0.5", "inter_upload_time: 90000") + "run:\n  cooldown_time: -1\n";
        let text = validate_run_parameters(&doc(&bad)).to_string();
        assert!(text.contains("asynchronous.inter_upload_time: expected seconds between 0 and 86400"), "{text}");
        assert!(text.contains("run.cooldown_time: expected seconds between 0 and 86400"), "{text}");
        assert!(!validate_run_parameters(&doc(BASE)).has_errors());
    }
}
