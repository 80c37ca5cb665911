//! `common_config/application_dag.yaml` (also read as `dag.yaml`):
//! `System: {name, components, dependencies: [[from, to, probability]], alternative_components}`.

use serde::{Deserialize, Serialize};

use super::Map;
use crate::dag::Graph;
use crate::diag::Diagnostics;
use crate::yaml::YamlDoc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationDag {
    #[serde(rename = "System")]
    pub system: DagSystem,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DagSystem {
    pub name: String,
    /// Empty in a fresh template (`components:` with no value).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub components: Vec<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub dependencies: Vec<Dependency>,
    /// Other versions of a component (with another accuracy), for degraded-performance
    /// deployments: component -> its alternatives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternative_components: Option<Map<Vec<String>>>,
}

/// `[from, to, transition probability]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(expecting = "a dependency [from, to, transition probability]")]
pub struct Dependency(pub String, pub String, pub super::Number);

impl Dependency {
    pub fn probability(&self) -> f64 {
        super::num(&self.2)
    }
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

impl ApplicationDag {
    pub fn graph(&self) -> Graph {
        let mut g = Graph::default();
        for c in &self.system.components {
            g.add_node(c);
        }
        for d in &self.system.dependencies {
            g.add_edge(&d.0, &d.1, d.probability());
        }
        g
    }

    /// Alternatives of `component` (empty when none).
    pub fn alternatives(&self, component: &str) -> &[String] {
        self.system.alternative_components.as_ref().and_then(|m| m.get(component)).map_or(&[], Vec::as_slice)
    }
}

pub fn validate(doc: &YamlDoc<ApplicationDag>) -> Diagnostics {
    let mut out = Diagnostics::new();
    let s = &doc.value.system;
    if s.components.is_empty() {
        out.push(doc.error("System.components", "list the application's components (at least one)"));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, c) in s.components.iter().enumerate() {
        if !seen.insert(c.as_str()) {
            out.push(doc.error(format!("System.components[{i}]"), format!("duplicate component name `{c}`")));
        }
        if c.trim().is_empty() {
            out.push(doc.error(format!("System.components[{i}]"), "a component name cannot be empty"));
        }
    }
    let mut touched = std::collections::HashSet::new();
    let mut out_prob: std::collections::HashMap<&str, f64> = Default::default();
    for (i, d) in s.dependencies.iter().enumerate() {
        let key = format!("System.dependencies[{i}]");
        for (j, c) in [(0, &d.0), (1, &d.1)] {
            if !seen.contains(c.as_str()) {
                out.push(doc.error(format!("{key}[{j}]"), format!("`{c}` is not listed in System.components")));
            }
            touched.insert(c.as_str());
        }
        if d.0 == d.1 {
            out.push(doc.error(key.clone(), format!("`{}` depends on itself", d.0)));
        }
        let p = d.probability();
        if !(0.0..=1.0).contains(&p) {
            out.push(doc.error(format!("{key}[2]"), format!("transition probability {p} is outside [0, 1]")));
        }
        *out_prob.entry(d.0.as_str()).or_default() += p;
    }
    let all_in_range = s.dependencies.iter().all(|d| (0.0..=1.0).contains(&d.probability()));
    for (c, total) in out_prob {
        if all_in_range && total > 1.0 + 1e-9 {
            out.push(doc.warning(
                "System.dependencies",
                format!("the transition probabilities out of `{c}` add up to {total}, more than 1"),
            ));
        }
    }
    if !s.dependencies.is_empty() {
        for (i, c) in s.components.iter().enumerate() {
            if !touched.contains(c.as_str()) {
                out.push(doc.error(
                    format!("System.components[{i}]"),
                    format!("`{c}` appears in no dependency: every component must be connected to the others"),
                ));
            }
        }
    } else if s.components.len() > 1 {
        out.push(doc.error(
            "System.dependencies",
            "an application of several components needs dependencies `[from, to, probability]`",
        ));
    }
    if let Err(cycle) = doc.value.graph().topological_order() {
        out.push(doc.error("System.dependencies", format!("the DAG has a cycle: {}", cycle.join(" -> "))));
    }
    if let Some(alts) = &s.alternative_components {
        for (c, list) in alts {
            let key = format!("System.alternative_components.{c}");
            if !seen.contains(c.as_str()) {
                out.push(doc.error(key.clone(), format!("`{c}` is not listed in System.components")));
            }
            for (i, a) in list.iter().enumerate() {
                if seen.contains(a.as_str()) {
                    out.push(doc.error(
                        format!("{key}[{i}]"),
                        format!("`{a}` is already a component of the DAG; an alternative must be a different version"),
                    ));
                }
                if !seen.insert(a.as_str()) && !s.components.contains(a) {
                    out.push(doc.error(format!("{key}[{i}]"), format!("duplicate component name `{a}`")));
                }
            }
        }
    }
    out
}
