//! The plan of an OSCAR-P profiling campaign (`aisprint profile --dry_run`): testing units
//! (a component, or the halves of one way of splitting it, on candidate resources),
//! deployments (every combination of units that makes up the application), runs (one per
//! parallelism level, repeated), and the nodes each resource needs per run.
//!
//! Names follow OSCAR-P: the `candidate_deployments.yaml` key shortened (`component1` ->
//! `C1`, `component1_partitionX_2` of partitioning 1 -> `C1P1.2`), `@` and the resource's
//! name. A node offers 90% of its cores and memory: a container fits
//! `floor(min(0.9 cores / cpu, 0.9 memory / memory))` times on it, and a parallelism `p`
//! needs `ceil(p / fit)` nodes (units on the same resource add up). FaaS resources have no
//! nodes to count.

use std::fmt::Write;

use crate::app::check::Application;
use crate::app::deployments::{parse_design, ComponentSpec, EntryKind};
use crate::app::oscarp::RunParameters;
use crate::app::paths;
use crate::app::resources::{CandidateResources, LayerType};
use crate::diag::{Diagnostic, Diagnostics};
use crate::yaml::YamlDoc;

/// A component (or partition half) on a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// `C1@VM1`, `C1P1.2@RaspPi`.
    pub id: String,
    /// The component's (or half's) name, as the services are named.
    pub name: String,
    /// Its `candidate_deployments.yaml` key and container key.
    pub key: String,
    pub container: String,
    pub resource: String,
    pub cpu: f64,
    pub memory: f64,
    pub faas: bool,
    pub parallelism: Vec<u32>,
}

/// How many containers of a unit fit on a node, and what would fit one more.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub unit: String,
    pub per_node: u32,
    /// "CPU" or "Memory", and the value it would need to go down to.
    pub hint: (&'static str, f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentPlan {
    pub name: String,
    pub units: Vec<Unit>,
    pub fits: Vec<Fit>,
    /// resource -> nodes needed at each parallelism level.
    pub nodes: Vec<(String, Vec<u32>)>,
    /// Problems of this deployment (too many nodes): it cannot be tested as asked.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub deployments: Vec<DeploymentPlan>,
    pub levels: usize,
    pub repetitions: u32,
}

/// `component1` -> `C1`, `component1_partitionX_2` -> `C1PX.2`, `component1_alternative2` ->
/// `C1A2`; other keys are kept.
pub fn short_key(key: &str) -> String {
    let Some(rest) = key.strip_prefix("component") else { return key.to_string() };
    if let Some((c, p)) = rest.split_once("_partition") {
        let (group, half) = p.split_once('_').unwrap_or((p, ""));
        return format!("C{c}P{group}.{half}");
    }
    if let Some((c, a)) = rest.split_once("_alternative") {
        return format!("C{c}A{a}");
    }
    format!("C{rest}")
}

/// The plan of the campaign, or every problem that prevents one.
pub fn plan(app: &Application) -> Result<Plan, Diagnostics> {
    let mut d = Diagnostics::new();
    let Some(rp) = &app.run_parameters else {
        return Err(Diagnostic::error(
            paths::RUN_PARAMETERS,
            "",
            "the file is missing: it describes the campaign (input_files, asynchronous, components' parallelism, run)",
        )
        .into());
    };
    let res = &app.resources.value;
    let (levels, repetitions) = levels_and_repetitions(rp, &mut d);
    let source = UnitSource { rp, res };

    // Per DAG component: its options (whole, or each way of splitting it).
    let mut groups: Vec<Vec<Vec<Unit>>> = Vec::new();
    for comp in &app.dag.value.system.components {
        groups.push(component_options(app, comp, &source, &mut d));
    }
    if d.has_errors() {
        return Err(d.sorted());
    }

    // Deployments: the product of the options, the last component changing fastest.
    let mut combos: Vec<Vec<Unit>> = vec![Vec::new()];
    for g in &groups {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                g.iter().map(move |o| {
                    let mut c = c.clone();
                    c.extend(o.iter().cloned());
                    c
                })
            })
            .collect();
    }

    let mut out = Vec::new();
    for (i, units) in combos.into_iter().enumerate() {
        out.push(deployment_plan(format!("deployment_{i}"), units, res, &mut d));
    }
    if d.has_errors() {
        return Err(d.sorted());
    }
    Ok(Plan { deployments: out, levels, repetitions })
}

/// The number of parallelism levels and the repetitions of each run. The parallelism lists
/// must be non-empty, without 0 and decreasing; the repetitions at least 1.
fn levels_and_repetitions(rp: &YamlDoc<RunParameters>, d: &mut Diagnostics) -> (usize, u32) {
    let mut levels: Option<usize> = None;
    for (k, c) in &rp.value.components {
        let key = format!("components.{k}.parallelism");
        if c.parallelism.is_empty() {
            d.push(rp.error(key, "empty: give at least one parallelism level"));
            continue;
        }
        if c.parallelism.contains(&0) {
            d.push(rp.error(key.clone(), "a parallelism of 0 runs nothing: levels start at 1"));
        }
        if c.parallelism.windows(2).any(|w| w[1] > w[0]) {
            d.push(rp.error(
                key.clone(),
                format!("{:?}: list the levels in decreasing order (as OSCAR-P runs them)", c.parallelism),
            ));
        }
        // (Lists of different lengths are refused when the application is checked.)
        levels.get_or_insert(c.parallelism.len());
    }
    let levels = levels.unwrap_or(0);
    let repetitions = rp.value.run.as_ref().and_then(|r| r.repetitions).unwrap_or(1);
    if repetitions == 0 {
        d.push(rp.error("run.repetitions", "must be at least 1"));
    }
    (levels, repetitions)
}

/// Where the units of an entry come from: its containers and their candidate resources, at
/// the parallelism of `run_parameters.yaml`.
struct UnitSource<'a> {
    rp: &'a YamlDoc<RunParameters>,
    res: &'a CandidateResources,
}

impl UnitSource<'_> {
    /// The parallelism of an entry: its own key, else its component's.
    fn parallelism(&self, key: &str) -> Option<Vec<u32>> {
        let comps = &self.rp.value.components;
        comps
            .get(key)
            .or_else(|| comps.get(key.split("_partition").next().unwrap_or(key)))
            .map(|c| c.parallelism.clone())
    }

    /// The units of entry `key`: one per container and candidate resource, named `short@resource`.
    fn units(&self, key: &str, spec: &ComponentSpec, short: &str, d: &mut Diagnostics) -> Vec<Unit> {
        let mut out = Vec::new();
        let Some(par) = self.parallelism(key) else {
            d.push(self.rp.error(
                "components",
                format!("no parallelism for `{key}` ({}): add `{key}: {{parallelism: [...]}}`", spec.name),
            ));
            return out;
        };
        for (ck, c) in &spec.containers {
            for r in &c.candidate_execution_resources {
                let faas =
                    self.res.resource(r).is_some_and(|(l, _)| l.layer.layer_type == LayerType::NativeCloudFunction);
                out.push(Unit {
                    id: format!("{short}@{r}"),
                    name: spec.name.clone(),
                    key: key.to_string(),
                    container: ck.clone(),
                    resource: r.clone(),
                    cpu: c.computing_units,
                    memory: c.memory_size,
                    faas,
                    parallelism: par.clone(),
                });
            }
        }
        out
    }
}

/// The options of DAG component `comp`: each unit of its own entry, then for each way of
/// splitting it, every combination of its halves' units.
fn component_options(app: &Application, comp: &str, source: &UnitSource<'_>, d: &mut Diagnostics) -> Vec<Vec<Unit>> {
    let deps = &app.deployments.value;
    let mut options: Vec<Vec<Unit>> = Vec::new();
    if let Some((key, spec)) = deps.by_name(comp) {
        options.extend(source.units(key, spec, &short_key(key), d).into_iter().map(|u| vec![u]));
    }
    // Partitionings: the groups K of `partitionK_S` designs, each half from the
    // `<c>_partitionX_S` entry.
    let mut ks: Vec<u32> = app
        .partitions
        .as_ref()
        .and_then(|p| p.value.components.get(comp))
        .map(|l| l.partitions.iter().filter_map(|p| parse_design(p).flatten().map(|(k, _)| k)).collect())
        .unwrap_or_default();
    ks.sort_unstable();
    ks.dedup();
    let halves: Vec<(&str, &ComponentSpec)> = {
        let mut h: Vec<(u32, &str, &ComponentSpec)> = deps
            .components
            .iter()
            .filter_map(|(k, s)| match s.kind() {
                EntryKind::PartitionHalf { component, half } if component == comp => Some((half, k.as_str(), s)),
                _ => None,
            })
            .collect();
        h.sort_by_key(|x| x.0);
        h.into_iter().map(|(_, k, s)| (k, s)).collect()
    };
    if !halves.is_empty() {
        for k in &ks {
            // Every combination of the halves' placements.
            let mut combos: Vec<Vec<Unit>> = vec![Vec::new()];
            for (key, spec) in &halves {
                let short = short_key(key).replacen("PX", &format!("P{k}"), 1);
                let units = source.units(key, spec, &short, d);
                combos = combos
                    .into_iter()
                    .flat_map(|c| {
                        units.iter().map(move |u| {
                            let mut c = c.clone();
                            c.push(u.clone());
                            c
                        })
                    })
                    .collect();
            }
            options.extend(combos);
        }
    }
    if options.is_empty() {
        d.push(Diagnostic::error(
            paths::DEPLOYMENTS,
            "Components",
            format!("`{comp}` has no container with a candidate resource: nothing to test it on"),
        ));
    }
    options
}

/// The plan of one deployment: how many containers of each unit fit on a node, the nodes
/// each resource needs per level, and the levels that need more nodes than there are. A
/// container that fits no node is an error.
fn deployment_plan(name: String, units: Vec<Unit>, res: &CandidateResources, d: &mut Diagnostics) -> DeploymentPlan {
    let mut fits = Vec::new();
    let mut nodes: Vec<(String, Vec<u32>)> = Vec::new();
    for u in units.iter().filter(|u| !u.faas) {
        let Some((_, r)) = res.resource(&u.resource) else { continue };
        let cores =
            r.processors.as_ref().and_then(|p| p.values().next()).and_then(|p| p.computing_units).unwrap_or(0.0);
        let (node_cpu, node_mem) = (0.9 * cores, 0.9 * r.memory_size.unwrap_or(0.0));
        let per_node = (node_cpu / u.cpu).min(node_mem / u.memory).floor();
        if !(per_node >= 1.0) {
            let (ck, kk) = (&u.container, &u.key);
            d.push(Diagnostic::error(
                paths::DEPLOYMENTS,
                format!("Components.{kk}.Containers.{ck}"),
                format!(
                    "{}: the container needs {} cores and {} MB, a node of {} offers {:.2} cores and {:.0} MB (90% of {} cores and {} MB)",
                    u.id,
                    u.cpu,
                    u.memory,
                    u.resource,
                    node_cpu,
                    node_mem,
                    cores,
                    r.memory_size.unwrap_or(0.0)
                ),
            ));
            continue;
        }
        let per_node = per_node as u32;
        let hint = if node_cpu / u.cpu <= node_mem / u.memory {
            ("CPU", round(node_cpu / f64::from(per_node + 1)))
        } else {
            ("Memory", round(node_mem / f64::from(per_node + 1)))
        };
        fits.push(Fit { unit: u.id.clone(), per_node, hint });
        let need: Vec<u32> = u.parallelism.iter().map(|p| p.div_ceil(per_node)).collect();
        match nodes.iter_mut().find(|(r, _)| *r == u.resource) {
            Some((_, n)) => n.iter_mut().zip(&need).for_each(|(a, b)| *a += b),
            None => nodes.push((u.resource.clone(), need)),
        }
    }
    let problems = node_problems(&units, &nodes, res);
    DeploymentPlan { name, units, fits, nodes, problems }
}

/// The levels at which a resource needs more nodes than it has, with the units on it.
fn node_problems(units: &[Unit], nodes: &[(String, Vec<u32>)], res: &CandidateResources) -> Vec<String> {
    let mut problems = Vec::new();
    for (rname, need) in nodes {
        let total = res.resource(rname).and_then(|(_, r)| r.total_nodes).unwrap_or(0);
        for (level, n) in need.iter().enumerate() {
            if *n > total {
                let pars: Vec<String> = units
                    .iter()
                    .filter(|u| u.resource == *rname)
                    .map(|u| format!("{} at {}", u.id, u.parallelism.get(level).copied().unwrap_or(0)))
                    .collect();
                problems.push(format!(
                    "Resource {rname} has {total} nodes, but {n} are needed for testing run level {} ({})",
                    level + 1,
                    pars.join(", ")
                ));
            }
        }
    }
    problems
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// `['C1@VM1', 'C2@VM2']`, as Python prints a list.
fn py_list(items: &[&str]) -> String {
    format!("[{}]", items.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", "))
}

impl Plan {
    pub fn runs_per_deployment(&self) -> usize {
        self.levels * self.repetitions as usize
    }

    /// The deployments list, as OSCAR-P prints and writes it (`deployments_summary.txt`).
    pub fn summary(&self) -> String {
        let mut s = String::from("Deployments:\n");
        for dp in &self.deployments {
            let ids: Vec<&str> = dp.units.iter().map(|u| u.id.as_str()).collect();
            let _ = writeln!(s, "\t{}: {}", dp.name, py_list(&ids));
        }
        s
    }

    /// The whole plan: deployments, then for each its hardware requirements and runs.
    pub fn render(&self) -> String {
        let mut s = self.summary();
        let reps = self.repetitions.max(1) as usize;
        for dp in &self.deployments {
            let _ = writeln!(s, "\nTesting {}:\nCalculating hardware requirements", dp.name);
            for f in &dp.fits {
                let _ = writeln!(s, "\tComponent {} can fit {} container(s) on every node", f.unit, f.per_node);
                let _ = writeln!(s, "\t\t{} needs to be decreased to (at least) {} to fit more", f.hint.0, f.hint.1);
            }
            for u in dp.units.iter().filter(|u| u.faas) {
                let _ = writeln!(s, "\tComponent {} runs as a function: no nodes to count", u.id);
            }
            let _ = writeln!(s, "Scheduler:");
            for level in 0..self.levels {
                let first = level * reps + 1;
                let _ = writeln!(s, "\tRun #{first} to #{}:", first + reps - 1);
                let _ = writeln!(s, "\t\tServices:");
                for u in &dp.units {
                    let p = u.parallelism.get(level).copied().unwrap_or(0);
                    if level == 0 {
                        let _ = writeln!(
                            s,
                            "\t\t\t{} ({}): cpu: {} , memory: {} mb , parallelism: {} , cluster: {}",
                            u.id, u.name, u.cpu, u.memory, p, u.resource
                        );
                    } else {
                        let before = u.parallelism.get(level - 1).copied().unwrap_or(0);
                        let change =
                            if before == p { "unchanged".to_string() } else { format!("parallelism: {before} -> {p}") };
                        let _ = writeln!(s, "\t\t\t{}: {change}", u.id);
                    }
                }
                if !dp.nodes.is_empty() {
                    let _ = writeln!(s, "\t\tResources:");
                }
                for (r, need) in &dp.nodes {
                    let n = need.get(level).copied().unwrap_or(0);
                    if level == 0 {
                        let _ = writeln!(s, "\t\t\t{r}: nodes: {n}");
                    } else {
                        let before = need.get(level - 1).copied().unwrap_or(0);
                        let change =
                            if before == n { "unchanged".to_string() } else { format!("nodes: {before} -> {n}") };
                        let _ = writeln!(s, "\t\t\t{r}: {change}");
                    }
                }
            }
            let _ =
                writeln!(s, "\tRepeated {} time(s), {} runs in total", self.repetitions, self.runs_per_deployment());
            for p in &dp.problems {
                let _ = writeln!(s, "\terror: {p}");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_follow_oscarp() {
        assert_eq!(short_key("component1"), "C1");
        assert_eq!(short_key("component12_partitionX_2"), "C12PX.2");
        assert_eq!(short_key("component3_alternative1"), "C3A1");
        assert_eq!(short_key("blur"), "blur");
    }
}
