//! `space4ai-d/SPACE4AI-D.yaml`: which layers are edge or cloud, and the methods to run.

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use super::Map;
use crate::diag::Diagnostics;
use crate::yaml::YamlDoc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Space4aidConfig {
    #[serde(rename = "Time", default, skip_serializing_if = "Option::is_none")]
    pub time: Option<f64>,
    #[serde(rename = "EdgeResources", default)]
    pub edge_resources: Vec<String>,
    #[serde(rename = "CloudResources", default)]
    pub cloud_resources: Vec<String>,
    #[serde(rename = "FaaSResources", default, skip_serializing_if = "Option::is_none")]
    pub faas_resources: Option<Vec<String>>,
    #[serde(rename = "Methods")]
    pub methods: Map<Method>,
    #[serde(rename = "Seed", default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(rename = "VerboseLevel", default, skip_serializing_if = "Option::is_none")]
    pub verbose_level: Option<u32>,
    /// Older files carry per-component data sizes here.
    #[serde(rename = "Components", default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Method {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    #[serde(rename = "startingPointNumber", default, skip_serializing_if = "Option::is_none")]
    pub starting_point_number: Option<u32>,
    #[serde(rename = "specialParameters", default, skip_serializing_if = "Option::is_none")]
    pub special_parameters: Option<Map<Value>>,
    #[serde(rename = "upperBoundLambda", default, skip_serializing_if = "Option::is_none")]
    pub upper_bound_lambda: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilon: Option<f64>,
}

/// Method names SPACE4AI-D knows.
pub const METHODS: &[&str] = &[
    "RandomGreedy",
    "LocalSearch",
    "TabuSearch",
    "SimulatedAnnealing",
    "GeneticAlgorithm",
    "BS",
    "BinarySearch",
    "Exact",
];

pub fn validate(doc: &YamlDoc<Space4aidConfig>) -> Diagnostics {
    let mut out = Diagnostics::new();
    let v = &doc.value;
    if v.methods.is_empty() {
        out.push(doc.error("Methods", "list at least one method (e.g. RandomGreedy)"));
    }
    for (k, m) in &v.methods {
        let key = format!("Methods.{k}");
        if !METHODS.contains(&m.name.as_str()) {
            out.push(doc.error(
                format!("{key}.name"),
                format!("unknown method `{}`; use one of {}", m.name, METHODS.join(", ")),
            ));
        }
        if m.duration.is_some_and(|d| !(d >= 0.0)) {
            out.push(doc.error(format!("{key}.duration"), "must be a non-negative number of seconds"));
        }
        if matches!(m.name.as_str(), "BS" | "BinarySearch") {
            if m.upper_bound_lambda.is_none_or(|u| !(u > 0.0)) {
                out.push(doc.error(key.clone(), "the binary search needs a positive `upperBoundLambda`"));
            }
            if m.epsilon.is_none_or(|e| !(e > 0.0)) {
                out.push(doc.error(key.clone(), "the binary search needs a positive `epsilon`"));
            }
        }
        let sp = |name: &str| m.special_parameters.as_ref().and_then(|p| p.get(name)).and_then(Value::as_f64);
        match m.name.as_str() {
            "SimulatedAnnealing" => {
                if let Some(c) = sp("scheduleConstant") {
                    if !(c > 0.0 && c < 1.0) {
                        out.push(doc.error(
                            format!("{key}.specialParameters.scheduleConstant"),
                            format!("must be in (0, 1), found {c}"),
                        ));
                    }
                }
            }
            "GeneticAlgorithm" => {
                for p in ["crossoverRate", "mutationRate"] {
                    if let Some(r) = sp(p) {
                        if !(0.0..=1.0).contains(&r) {
                            out.push(doc.error(
                                format!("{key}.specialParameters.{p}"),
                                format!("must be in [0, 1], found {r}"),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(t) = v.time {
        if !(t > 0.0) {
            out.push(doc.error("Time", format!("the time horizon must be positive, found {t}")));
        }
    }
    out
}
