//! Checks across the files of an application: the DAG, the candidate files, the annotations
//! of the components and the optional tool files must agree.

use std::collections::{HashMap, HashSet};

use super::annotations::ComponentAnnotations;
use super::dag::ApplicationDag;
use super::deployments::{CandidateDeployments, ComponentPartitions, ComponentSpec, EntryKind};
use super::oscarp::{DataSizes, PerformanceModels, RunParameters};
use super::physical::PhysicalNodes;
use super::resources::CandidateResources;
use super::space4aid_config::Space4aidConfig;
use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::json::JsonDoc;
use crate::yaml::YamlDoc;

/// A component's `main.py` and what its decorators say.
#[derive(Debug, Clone)]
pub struct ComponentSource {
    /// The folder under `src/`.
    pub folder: String,
    /// The script as shown to the user (`app/src/<folder>/main.py`).
    pub script: String,
    /// Where `def main` is.
    pub main_pos: Pos,
    pub annotations: ComponentAnnotations,
}

/// Every file of an application that the design tools read.
#[derive(Debug, Clone)]
pub struct Application {
    pub dag: YamlDoc<ApplicationDag>,
    pub resources: YamlDoc<CandidateResources>,
    pub deployments: YamlDoc<CandidateDeployments>,
    pub partitions: Option<YamlDoc<ComponentPartitions>>,
    pub physical_nodes: Option<YamlDoc<PhysicalNodes>>,
    pub run_parameters: Option<YamlDoc<RunParameters>>,
    pub data_sizes: Option<YamlDoc<DataSizes>>,
    pub performance_models: Option<JsonDoc<PerformanceModels>>,
    pub space4aid: Option<YamlDoc<Space4aidConfig>>,
    pub sources: Vec<ComponentSource>,
    /// Some script could not be read or parsed: components it may declare are not reported
    /// as missing (the unreadable script is the problem to fix first).
    pub incomplete_sources: bool,
    /// Alternatives that had no entry of their own in candidate_deployments.yaml and were
    /// given their component's (alternative, component), by [`Application::adopt_alternatives`].
    pub adopted: Vec<(String, String)>,
    /// The confusion matrices `@model_performance` needs, by version (read by the caller from
    /// `src/<folder>/classification_performance/`).
    pub confusions: super::confusion::Confusions,
}

impl Application {
    /// DAG components and their alternatives, in DAG order.
    pub fn all_components(&self) -> Vec<&str> {
        let s = &self.dag.value.system;
        let mut out: Vec<&str> = s.components.iter().map(String::as_str).collect();
        for c in &s.components {
            out.extend(self.dag.value.alternatives(c).iter().map(String::as_str));
        }
        out
    }

    /// The largest `expected_throughput` rate any component declares (requests per second).
    pub fn max_expected_throughput(&self) -> Option<f64> {
        self.sources
            .iter()
            .filter_map(|s| s.annotations.expected_throughput.as_ref())
            .map(|t| super::num(&t.rate))
            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))))
    }

    /// The annotations of the component named `name`.
    pub fn source(&self, name: &str) -> Option<&ComponentSource> {
        self.sources.iter().find(|s| s.annotations.name() == Some(name))
    }

    /// Alternatives without an entry of their own in candidate_deployments.yaml run where
    /// their component runs, as upstream's design runs them: each gets a copy of its
    /// component's entry (and of the component's partition entries), under the key
    /// `<entry>_<alternative>`. The pairs are kept in `adopted`, for a note.
    pub fn adopt_alternatives(&mut self) {
        let mut added = Vec::new();
        for (c, alts) in self.dag.value.system.alternative_components.iter().flatten() {
            let deps = &self.deployments.value;
            for a in alts {
                if deps.by_name(a).is_some()
                    || added.iter().any(|(_, _, e): &(String, String, ComponentSpec)| &e.name == a)
                {
                    continue;
                }
                let Some((key, spec)) = deps.by_name(c) else { continue };
                let mut own = spec.clone();
                own.name = a.clone();
                // Not the component's image: the alternative is other code (`toscarizer
                // docker` builds its own and writes it into an entry of its own).
                for cont in own.containers.values_mut() {
                    cont.image = None;
                }
                added.push((format!("{key}_{a}"), c.clone(), own));
                let prefix = format!("{c}_partitionX_");
                for (k, s) in &deps.components {
                    if let Some(half) = s.name.strip_prefix(&prefix) {
                        let name = format!("{a}_partitionX_{half}");
                        if deps.by_name(&name).is_none() {
                            let mut own = s.clone();
                            own.name = name;
                            added.push((format!("{k}_{a}"), String::new(), own));
                        }
                    }
                }
            }
        }
        for (key, component, spec) in added {
            if !component.is_empty() {
                self.adopted.push((spec.name.clone(), component));
            }
            self.deployments.value.components.entry(key).or_insert(spec);
        }
    }

    /// All checks across files.
    pub fn check(&self) -> Diagnostics {
        let mut out = Diagnostics::new();
        out.extend(self.check_candidates());
        out.extend(self.check_annotations());
        out.extend(self.check_tool_files());
        out
    }

    fn check_candidates(&self) -> Diagnostics {
        let mut out = Diagnostics::new();
        let known: HashSet<&str> = self.all_components().into_iter().collect();
        let dag = &self.dag;
        let deps = &self.deployments;
        for (i, c) in dag.value.system.components.iter().enumerate() {
            if deps.value.by_name(c).is_none() {
                out.push(dag.error(
                    format!("System.components[{i}]"),
                    format!("component `{c}` has no entry in candidate_deployments.yaml (an entry with `name: {c}`)"),
                ));
            }
        }
        for (c, alts) in dag.value.system.alternative_components.iter().flatten() {
            for (i, a) in alts.iter().enumerate() {
                if deps.value.by_name(a).is_none() {
                    out.push(dag.error(
                        format!("System.alternative_components.{c}[{i}]"),
                        format!("alternative `{a}` has no entry in candidate_deployments.yaml (e.g. a key `<component>_alternative1` with `name: {a}`)"),
                    ));
                }
            }
        }
        for (key, spec) in &deps.value.components {
            match spec.kind() {
                EntryKind::Component => {
                    if !known.contains(spec.name.as_str()) {
                        out.push(deps.error(
                            format!("Components.{key}.name"),
                            format!("component `{}` is not in the DAG (application_dag.yaml)", spec.name),
                        ));
                    }
                }
                EntryKind::PartitionHalf { component, half } => {
                    if !known.contains(component) {
                        out.push(deps.error(
                            format!("Components.{key}.name"),
                            format!("`{}` is a partition of `{component}`, which is not in the DAG", spec.name),
                        ));
                    }
                    if half == 0 {
                        out.push(deps.error(format!("Components.{key}.name"), "partition halves are numbered from 1"));
                    }
                }
            }
        }
        out
    }

    fn check_annotations(&self) -> Diagnostics {
        let mut out = Diagnostics::new();
        let graph = self.dag.value.graph();
        let known: HashSet<&str> = self.all_components().into_iter().collect();
        let mut by_name: HashMap<&str, &ComponentSource> = HashMap::new();
        for s in &self.sources {
            let Some(name) = s.annotations.name() else {
                out.push(
                    Diagnostic::error(
                        &s.script,
                        "main",
                        "`main` has no @component_name(name=...) annotation; every component needs one",
                    )
                    .at(Some(s.main_pos)),
                );
                continue;
            };
            if let Some(other) = by_name.insert(name, s) {
                out.push(
                    Diagnostic::error(
                        &s.script,
                        "@component_name.name",
                        format!("component name `{name}` is already used by {}", other.script),
                    )
                    .at(Some(s.main_pos)),
                );
            }
            if !known.contains(name) {
                out.push(
                    Diagnostic::warning(
                        &s.script,
                        "@component_name.name",
                        format!("component `{name}` is not in the DAG; its folder is not part of any deployment"),
                    )
                    .at(Some(s.main_pos)),
                );
            }
        }
        for (i, c) in self.all_components().into_iter().enumerate() {
            if !by_name.contains_key(c) && !self.incomplete_sources {
                let key = if i < self.dag.value.system.components.len() {
                    format!("System.components[{i}]")
                } else {
                    "System.alternative_components".to_string()
                };
                out.push(self.dag.error(key, format!("no src/*/main.py declares @component_name(name='{c}')")));
            }
        }
        for s in &self.sources {
            let Some(name) = s.annotations.name() else { continue };
            let prev = s.annotations.prev_components();
            if prev.is_empty() || s.annotations.global_time_thr().is_none() {
                continue;
            }
            let err =
                |msg: String| Diagnostic::error(&s.script, "@exec_time.prev_components", msg).at(Some(s.main_pos));
            let mut path: Vec<String> = prev.to_vec();
            path.push(name.to_string());
            let dag_path = graph.check_path(&path);
            if let Err(msg) = dag_path {
                out.push(err(format!(
                    "{msg}; `prev_components` must list the components before `{name}` on its path, in order"
                )));
            }
            for p in prev {
                match by_name.get(p.as_str()) {
                    Some(ps) if ps.annotations.exec_time.is_none() => out.push(err(format!(
                        "`{p}` is on a global constraint's path but has no @exec_time annotation ({}); annotate it, even as @exec_time()",
                        ps.script
                    ))),
                    _ => {}
                }
            }
        }
        out
    }

    fn check_tool_files(&self) -> Diagnostics {
        let mut out = Diagnostics::new();
        let res = &self.resources.value;
        if let Some(p) = &self.partitions {
            for c in p.value.components.keys() {
                if !self.all_components().contains(&c.as_str()) {
                    out.push(
                        p.warning(format!("components.{c}"), format!("`{c}` is not a component of the DAG; ignored")),
                    );
                }
            }
        }
        if let Some(pn) = &self.physical_nodes {
            for (lk, l) in &pn.value.computational_layers {
                for (rk, r) in &l.resources {
                    match res.resource(&r.name) {
                        None => out.push(pn.error(
                            format!("ComputationalLayers.{lk}.Resources.{rk}.name"),
                            format!("resource `{}` is not defined in candidate_resources.yaml", r.name),
                        )),
                        Some((layer, _)) if layer.layer.number != l.number => out.push(pn.error(
                            format!("ComputationalLayers.{lk}.number"),
                            format!(
                                "resource `{}` is in layer {} of candidate_resources.yaml, not {}",
                                r.name, layer.layer.number, l.number
                            ),
                        )),
                        _ => {}
                    }
                }
            }
        }
        if let Some(rp) = &self.run_parameters {
            for c in rp.value.components.keys() {
                if !self.deployments.value.components.contains_key(c) {
                    out.push(rp.error(
                        format!("components.{c}"),
                        format!("`{c}` is not a key of candidate_deployments.yaml Components"),
                    ));
                }
            }
        }
        if let Some(cfg) = &self.space4aid {
            let layer_keys: HashSet<&str> = res.layers().iter().map(|l| l.key).collect();
            for (what, list) in
                [("EdgeResources", &cfg.value.edge_resources), ("CloudResources", &cfg.value.cloud_resources)]
            {
                for (i, l) in list.iter().enumerate() {
                    if !layer_keys.contains(l.as_str()) {
                        out.push(cfg.error(
                            format!("{what}[{i}]"),
                            format!("`{l}` is not a layer key of candidate_resources.yaml"),
                        ));
                    }
                }
            }
            for (i, l) in cfg.value.faas_resources.iter().flatten().enumerate() {
                if !layer_keys.contains(l.as_str()) {
                    out.push(cfg.error(
                        format!("FaaSResources[{i}]"),
                        format!("`{l}` is not a layer key of candidate_resources.yaml"),
                    ));
                }
            }
        }
        if let Some(pm) = &self.performance_models {
            let mut diags = Diagnostics::new();
            for c in pm.value.keys() {
                if !self.all_components().contains(&c.as_str()) {
                    diags.push(Diagnostic::warning(
                        &pm.file,
                        c.clone(),
                        format!("`{c}` is not a component of the DAG"),
                    ));
                }
                if let Some(units) = pm.value.get(c) {
                    for rs in units.values() {
                        for r in rs.keys() {
                            if res.resource(r).is_none() {
                                diags.push(Diagnostic::warning(
                                    &pm.file,
                                    c.clone(),
                                    format!("resource `{r}` is not in candidate_resources.yaml"),
                                ));
                            }
                        }
                    }
                }
            }
            pm.locate(&mut diags);
            out.extend(diags);
        }
        out
    }
}
