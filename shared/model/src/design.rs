//! What `aisprint design` produces, computed without IO from a loaded [`Application`]: the
//! annotations file, the designs of each component, the deployments (every combination of
//! component versions, partitionings and candidate layers), their DAGs and QoS constraints,
//! the multi-cluster constraints, the base production deployment and the deployment index.
//!
//! The rules follow the reference design tool (AI-SPRINT Studio, Dec 2023); where this
//! project departs from it, the comment says so.

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;

use crate::app::accuracy::{self, DeploymentsPerformance, PerformanceEntry, PerformanceSystem, Pipeline, Roles};
use crate::app::annotations::AnnotationsFile;
use crate::app::check::Application;
use crate::app::dag::{ApplicationDag, DagSystem, Dependency};
use crate::app::deployments::{parse_design, ComponentPartitions, PartitionList};
use crate::app::index::{DeploymentEntry, DeploymentIndex};
use crate::app::production::{ProductionComponent, ProductionDeployment, ProductionSystem, SelectedContainer};
use crate::app::qos::{
    DeploymentQos, GlobalConstraint, LayerQos, LocalConstraint, MultiClusterQos, MultiClusterSystem, QosConstraints,
    QosSystem, ThroughputComponent,
};
use crate::app::resources::LayerType;
use crate::app::space4aid_config::{Method, Space4aidConfig};
use crate::app::{Map, Number};
use crate::diag::{Diagnostic, Diagnostics};

/// Limits of a design run.
#[derive(Debug, Clone)]
pub struct DesignOptions {
    /// Refuse to write more deployments than this (the combinations grow as a product).
    pub max_deployments: usize,
}

impl Default for DesignOptions {
    fn default() -> Self {
        Self { max_deployments: 1000 }
    }
}

/// A deployment unit: a whole component, or one half of a partitioned one.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// `mask-detector` or `blurry-faces-onnx_partition1_2`.
    pub name: String,
    /// The component (version) it belongs to.
    pub component: String,
    /// `base` or `partition<K>_<S>`.
    pub design: String,
    pub layer: u32,
}

/// One deployment folder.
#[derive(Debug, Clone)]
pub struct PlannedDeployment {
    /// `base`, `deployment1`, ...
    pub name: String,
    pub is_base: bool,
    pub entry: DeploymentEntry,
    pub units: Vec<Unit>,
    pub dag: ApplicationDag,
    /// Layer -> the AMS constraints of that layer.
    pub qos_layers: IndexMap<u32, LayerQos>,
    /// The constraints of all layers, for SPACE4AI-D.
    pub qos: QosConstraints,
    /// `src/<link>` -> `(component, design)`.
    pub links: Vec<(String, String, String)>,
}

/// Everything `design` writes, but the copies of source and tool folders.
#[derive(Debug, Clone)]
pub struct DesignPlan {
    pub annotations: AnnotationsFile,
    pub partitions: ComponentPartitions,
    /// component -> its designs (`base`, `partition1_1`, ...).
    pub designs: IndexMap<String, Vec<String>>,
    pub deployments: Vec<PlannedDeployment>,
    pub multi_cluster: MultiClusterQos,
    pub production: ProductionDeployment,
    pub index: DeploymentIndex,
    /// A SPACE4AI-D configuration for applications that bring none.
    pub default_space4aid: Space4aidConfig,
    /// Things the user should know (not problems).
    pub notes: Vec<String>,
    /// `space4ai-r/deployments_performance.yaml`, when a component has `@model_performance`
    /// with a metric.
    pub performance: Option<DeploymentsPerformance>,
}

/// Odometer over lists of the given lengths, last position fastest.
struct Product {
    lens: Vec<usize>,
    cur: Option<Vec<usize>>,
}

impl Product {
    fn new(lens: Vec<usize>) -> Self {
        let cur = (!lens.contains(&0)).then(|| vec![0; lens.len()]);
        Self { lens, cur }
    }
}

impl Iterator for Product {
    type Item = Vec<usize>;
    fn next(&mut self) -> Option<Vec<usize>> {
        let out = self.cur.clone()?;
        let mut cur = out.clone();
        let mut i = cur.len();
        loop {
            if i == 0 {
                self.cur = None;
                break;
            }
            i -= 1;
            cur[i] += 1;
            if cur[i] < self.lens[i] {
                self.cur = Some(cur);
                break;
            }
            cur[i] = 0;
        }
        Some(out)
    }
}

/// A component's way of being split: `partition<K>` with its halves `S` in order.
#[derive(Debug, Clone)]
struct Split {
    k: u32,
    halves: Vec<u32>,
}

fn int(n: i64) -> Number {
    Number::from(n)
}

/// Computes the plan; `Err` lists every problem that prevents it.
pub fn plan(app: &Application, options: &DesignOptions) -> Result<DesignPlan, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut notes: Vec<String> = app
        .adopted
        .iter()
        .map(|(a, c)| {
            format!("alternative `{a}` has no entry of its own in candidate_deployments.yaml: it runs where `{c}` runs")
        })
        .collect();
    let dag = &app.dag.value;
    let all = app.all_components();

    // Annotations file: script -> annotations (sorted keys, like the reference).
    let annotations: AnnotationsFile = app.sources.iter().map(|s| (s.script.clone(), s.annotations.clone())).collect();

    // Splits of each component, from component_partitions.yaml.
    let mut splits: HashMap<&str, Vec<Split>> = HashMap::new();
    let mut partitions = ComponentPartitions::default();
    for c in &all {
        let (cs, list) = component_splits(app, c, &mut diags, &mut notes);
        partitions.components.insert(c.to_string(), list);
        splits.insert(c, cs);
    }
    let designs: IndexMap<String, Vec<String>> = all
        .iter()
        .map(|c| {
            let mut v = vec!["base".to_string()];
            for s in splits.get(c).into_iter().flatten() {
                v.extend(s.halves.iter().map(|h| format!("partition{}_{h}", s.k)));
            }
            (c.to_string(), v)
        })
        .collect();

    let deployments = enumerate_deployments(app, &splits, options.max_deployments, &mut diags);
    let roles = accuracy::roles(app).unwrap_or_else(|e| {
        diags.extend(e);
        None
    });
    let pass = roles.as_ref().map(|r| pass_rates(app, r, &mut diags)).unwrap_or_default();
    if diags.has_errors() {
        return Err(diags.sorted());
    }

    // Per deployment: DAG, links, QoS.
    let mut planned = Vec::new();
    let mut multi = Map::new();
    for (name, is_base, entry, units) in deployments {
        let d = planned_deployment(app, name, is_base, entry, units, &pass);
        multi.insert(d.name.clone(), Some(DeploymentQos { execution_layers: d.qos_layers.clone() }));
        planned.push(d);
    }
    let performance = match &roles {
        Some(r) => Some(performance(app, r, &planned, &mut notes)?),
        None => None,
    };

    let index = DeploymentIndex {
        application: dag.system.name.clone(),
        deployments: planned.iter().map(|d| (d.name.clone(), d.entry.clone())).collect(),
    };
    let production = base_production(app, &planned[0]);
    let default_space4aid = default_space4aid(app);
    Ok(DesignPlan {
        annotations,
        partitions,
        designs,
        deployments: planned,
        multi_cluster: MultiClusterQos { system: MultiClusterSystem { deployments: multi } },
        production,
        index,
        default_space4aid,
        notes,
        performance,
    })
}

/// The share of samples each version of the filter passes on (`@model_performance`).
fn pass_rates(app: &Application, roles: &Roles, diags: &mut Diagnostics) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    let Some((filter, _)) = &roles.filter else { return out };
    let pipeline = Pipeline { roles, confusions: &app.confusions };
    let mut versions = vec![filter.clone()];
    versions.extend(app.dag.value.alternatives(filter).iter().cloned());
    for v in versions {
        match pipeline.filter_rates(&v) {
            Ok(r) => {
                out.insert(v, accuracy::round4(r.pass()));
            }
            Err(e) => diags.push(accuracy_error(app, roles, e)),
        }
    }
    out
}

fn accuracy_error(app: &Application, roles: &Roles, message: String) -> Diagnostic {
    let script = app.source(&roles.classifier).map_or_else(|| roles.classifier.clone(), |s| s.script.clone());
    Diagnostic::error(script, "model_performance", message)
}

/// Every deployment with its metric, the most accurate first; a note for each below
/// `metric_thr` (SPACE4AI-R never runs those).
fn performance(
    app: &Application,
    roles: &Roles,
    planned: &[PlannedDeployment],
    notes: &mut Vec<String>,
) -> Result<DeploymentsPerformance, Diagnostics> {
    let pipeline = Pipeline { roles, confusions: &app.confusions };
    let mut diags = Diagnostics::new();
    let mut entries: Vec<(String, PerformanceEntry)> = Vec::new();
    for d in planned {
        match pipeline.metric(&d.entry.versions) {
            Ok(v) => entries.push((
                d.name.clone(),
                PerformanceEntry {
                    components: d.dag.system.components.clone(),
                    dependencies: d.dag.system.dependencies.clone(),
                    metric_value: accuracy::round4(v),
                },
            )),
            Err(e) => diags.push(accuracy_error(app, roles, e)),
        }
    }
    if diags.has_errors() {
        return Err(diags);
    }
    entries.sort_by(|a, b| b.1.metric_value.total_cmp(&a.1.metric_value));
    if let Some(thr) = roles.metric_thr {
        for (name, e) in entries.iter().filter(|(_, e)| e.metric_value < thr) {
            notes.push(format!(
                "deployment '{name}' has {} {} (below metric_thr {thr}): SPACE4AI-D and SPACE4AI-R leave it out",
                roles.metric, e.metric_value
            ));
        }
    }
    Ok(DeploymentsPerformance {
        system: PerformanceSystem {
            metric_name: roles.metric.clone(),
            metric_thr: roles.metric_thr,
            sorted_deployments_performance: entries
                .into_iter()
                .map(|(n, e)| std::iter::once((n, e)).collect())
                .collect(),
        },
    })
}

/// The splits of component `c` that component_partitions.yaml lists (each checked: halves
/// numbered without gaps, an entry for every half), and its designs as written back: the
/// user's order when it names the same set.
fn component_splits(
    app: &Application,
    c: &str,
    diags: &mut Diagnostics,
    notes: &mut Vec<String>,
) -> (Vec<Split>, PartitionList) {
    let deps = &app.deployments.value;
    let partitionable = app.source(c).is_some_and(|s| s.annotations.is_partitionable());
    let listed: Vec<String> = app
        .partitions
        .as_ref()
        .and_then(|p| p.value.components.get(c))
        .map(|l| l.partitions.clone())
        .unwrap_or_default();
    let mut list = vec!["base".to_string()];
    let mut by_k: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for p in listed.iter().filter(|p| *p != "base") {
        if let Some(Some((k, s))) = parse_design(p) {
            by_k.entry(k).or_default().push(s);
        }
    }
    if !by_k.is_empty() && !partitionable {
        if let Some(pd) = &app.partitions {
            diags.push(pd.warning(
                format!("components.{c}"),
                format!("`{c}` lists partitions but has no @partitionable_model or @early_exits_model annotation; its partitions are ignored"),
            ));
        }
        by_k.clear();
    }
    if partitionable && by_k.is_empty() {
        notes.push(format!(
            "`{c}` is partitionable; list its partitions in aisprint/designs/component_partitions.yaml to get partitioned deployments (this version does not split ONNX models itself)"
        ));
    }
    let mut cs = Vec::new();
    for (k, mut halves) in by_k {
        halves.sort_unstable();
        halves.dedup();
        let expected: Vec<u32> = (1..=halves.len() as u32).collect();
        if halves != expected || halves.len() < 2 {
            if let Some(pd) = &app.partitions {
                diags.push(pd.error(
                    format!("components.{c}.partitions"),
                    format!(
                        "partition{k} must have halves numbered 1, 2, ... without gaps (at least 2), found {halves:?}"
                    ),
                ));
            }
            continue;
        }
        for s in &halves {
            let entry = format!("{c}_partitionX_{s}");
            if deps.by_name(&entry).is_none() {
                diags.push(app.deployments.error(
                    "Components",
                    format!("`{c}` is split into partition{k}_{s}, but no entry has `name: {entry}` to say where that half may run"),
                ));
            }
        }
        for s in &halves {
            list.push(format!("partition{k}_{s}"));
        }
        cs.push(Split { k, halves });
    }
    // Keep the user's order of the listed designs when it names the same set.
    let mut listed_full = vec!["base".to_string()];
    listed_full.extend(listed.into_iter().filter(|p| p != "base"));
    let same_set = {
        let mut a = list.clone();
        let mut b = listed_full.clone();
        a.sort();
        b.sort();
        a == b
    };
    (cs, PartitionList { partitions: if same_set { listed_full } else { list } })
}

/// A deployment as enumerated: its name, whether it is the base, its index entry and units.
type Enumerated = (String, bool, DeploymentEntry, Vec<Unit>);

/// Every deployment: each combination of component versions, then of designs, then of the
/// units' candidate layers. More than `max` of them is an error.
fn enumerate_deployments(
    app: &Application,
    splits: &HashMap<&str, Vec<Split>>,
    max: usize,
    diags: &mut Diagnostics,
) -> Vec<Enumerated> {
    let dag = &app.dag.value;
    let deps = &app.deployments.value;
    // Layers of each unit.
    let layers_of = |unit: &str| -> Vec<u32> {
        deps.for_unit(unit).map(|(_, e)| e.candidate_execution_layers.clone()).unwrap_or_default()
    };
    let components = &dag.system.components;
    let version_options: Vec<Vec<&str>> = components
        .iter()
        .map(|c| {
            let mut v = vec![c.as_str()];
            v.extend(dag.alternatives(c).iter().map(String::as_str));
            v
        })
        .collect();
    let mut deployments = Vec::new();
    let mut counter = 0usize;
    'outer: for vpick in Product::new(version_options.iter().map(Vec::len).collect()) {
        let versions: Vec<&str> = vpick.iter().enumerate().map(|(i, j)| version_options[i][*j]).collect();
        // Design choices iterate over components in alphabetical order, like the reference.
        let mut alpha: Vec<usize> = (0..versions.len()).collect();
        alpha.sort_by_key(|i| versions[*i]);
        let design_lens: Vec<usize> = alpha.iter().map(|i| 1 + splits.get(versions[*i]).map_or(0, Vec::len)).collect();
        for dpick in Product::new(design_lens) {
            // choice per DAG position: None = base, Some(split index)
            let mut choice: Vec<Option<usize>> = vec![None; versions.len()];
            for (a, d) in alpha.iter().zip(&dpick) {
                choice[*a] = d.checked_sub(1);
            }
            let units = units_of(&versions, &choice, splits);
            let layer_opts: Vec<Vec<u32>> = units.iter().map(|u| layers_of(&u.name)).collect();
            for lpick in Product::new(layer_opts.iter().map(Vec::len).collect()) {
                if counter >= max {
                    diags.push(app.deployments.error(
                        "Components",
                        format!(
                            "the candidate files allow more than {max} deployments (every combination of component versions, partitionings and candidateExecutionLayers); narrow the candidate layers or raise --max-deployments"
                        ),
                    ));
                    break 'outer;
                }
                let mut us = units.clone();
                for (u, (opts, j)) in us.iter_mut().zip(layer_opts.iter().zip(&lpick)) {
                    u.layer = opts[*j];
                }
                let is_base = counter == 0;
                let name = if is_base { "base".to_string() } else { format!("deployment{counter}") };
                counter += 1;
                let entry = DeploymentEntry {
                    versions: components.iter().zip(&versions).map(|(c, v)| (c.clone(), v.to_string())).collect(),
                    designs: versions
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            let d = choice[i].map_or("base".to_string(), |si| format!("partition{}", splits[v][si].k));
                            (v.to_string(), d)
                        })
                        .collect(),
                    layers: us.iter().map(|u| (u.name.clone(), u.layer)).collect(),
                };
                deployments.push((name, is_base, entry, us));
            }
        }
    }
    deployments
}

/// The units of one choice of versions and designs (`None`: the whole component, `Some(i)`:
/// the halves of its split `i`), in DAG order; their layers are still to choose.
fn units_of(versions: &[&str], choice: &[Option<usize>], splits: &HashMap<&str, Vec<Split>>) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        match choice[i] {
            None => units.push(Unit { name: v.to_string(), component: v.to_string(), design: "base".into(), layer: 0 }),
            Some(si) => {
                let s = &splits[v][si];
                for h in &s.halves {
                    units.push(Unit {
                        name: format!("{v}_partition{}_{h}", s.k),
                        component: v.to_string(),
                        design: format!("partition{}_{h}", s.k),
                        layer: 0,
                    });
                }
            }
        }
    }
    units
}

/// A deployment with its DAG, the links of its source folders and its QoS constraints.
fn planned_deployment(
    app: &Application,
    name: String,
    is_base: bool,
    entry: DeploymentEntry,
    units: Vec<Unit>,
    pass: &HashMap<String, f64>,
) -> PlannedDeployment {
    let ddag = deployment_dag(app, &entry, &units, pass);
    let links = units
        .iter()
        .map(|u| {
            let link = if is_base { u.component.clone() } else { format!("{}_{}", u.component, u.design) };
            (link, u.component.clone(), u.design.clone())
        })
        .collect();
    let (qos_layers, qos) = qos_for(app, &entry, &units);
    PlannedDeployment { name, is_base, entry, units, dag: ddag, qos_layers, qos, links }
}

/// The DAG of a deployment: components replaced by the versions it runs, partitioned
/// components by the chain of their halves.
/// A filter's edge (`@model_performance`) has the share of samples that version passes on.
fn deployment_dag(
    app: &Application,
    entry: &DeploymentEntry,
    units: &[Unit],
    pass: &HashMap<String, f64>,
) -> ApplicationDag {
    let dag = &app.dag.value.system;
    let units_of = |v: &str| -> Vec<&Unit> { units.iter().filter(|u| u.component == v).collect() };
    let version = |c: &str| entry.versions.get(c).map_or(c.to_string(), Clone::clone);
    let mut deps: Vec<Dependency> = Vec::new();
    let mut chained = std::collections::HashSet::new();
    // Probability of going on past each half (early exits), from the annotation.
    let go_on = |v: &str, i: usize| -> Option<f64> {
        app.source(v)?.annotations.early_exits_model.as_ref()?.transition_probabilities.as_ref()?.get(i).copied()
    };
    let chain = |v: &str, deps: &mut Vec<Dependency>, chained: &mut std::collections::HashSet<String>| {
        if !chained.insert(v.to_string()) {
            return;
        }
        let us = units_of(v);
        for (i, w) in us.windows(2).enumerate() {
            let p = go_on(v, i).map_or(int(1), Number::from);
            deps.push(Dependency(w[0].name.clone(), w[1].name.clone(), p));
        }
    };
    for d in &dag.dependencies {
        let (a, b) = (version(&d.0), version(&d.1));
        chain(&a, &mut deps, &mut chained);
        let ua = units_of(&a);
        let first_b = units_of(&b).first().map_or(b.clone(), |u| u.name.clone());
        // Early exits leave from every half but the last, towards the successors.
        for (i, u) in ua.iter().enumerate().take(ua.len().saturating_sub(1)) {
            if let Some(t) = go_on(&a, i) {
                deps.push(Dependency(u.name.clone(), first_b.clone(), Number::from((1.0 - t) * d.probability())));
            }
        }
        let last_a = ua.last().map_or(a.clone(), |u| u.name.clone());
        let p = pass.get(&a).map_or_else(|| d.2.clone(), |p| Number::from(*p));
        deps.push(Dependency(last_a, first_b, p));
    }
    for u in units {
        chain(&u.component, &mut deps, &mut chained);
    }
    ApplicationDag {
        system: DagSystem {
            name: dag.name.clone(),
            components: units.iter().map(|u| u.name.clone()).collect(),
            dependencies: deps,
            alternative_components: None,
        },
    }
}

/// The QoS constraints of a deployment, per layer and all together.
fn qos_for(app: &Application, entry: &DeploymentEntry, units: &[Unit]) -> (IndexMap<u32, LayerQos>, QosConstraints) {
    let name = app.dag.value.system.name.clone();
    let units_of = |v: &str| -> Vec<String> {
        let mut us: Vec<String> = units.iter().filter(|u| u.component == v).map(|u| u.name.clone()).collect();
        us.sort();
        us
    };
    let version = |c: &str| entry.versions.get(c).map_or(c.to_string(), Clone::clone);
    let expand = |c: &str| -> Vec<String> {
        let us = units_of(&version(c));
        if us.is_empty() {
            vec![c.to_string()]
        } else {
            us
        }
    };
    // unit -> (locals, globals ending there)
    let mut locals: HashMap<String, Vec<LocalConstraint>> = HashMap::new();
    let mut globals: HashMap<String, Vec<GlobalConstraint>> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for u in units {
        if !seen.insert(u.component.clone()) {
            continue;
        }
        let Some(src) = app.source(&u.component) else { continue };
        let a = &src.annotations;
        let us = units_of(&u.component);
        let whole = us.len() == 1 && us[0] == u.component;
        let last = us.last().cloned().unwrap_or_else(|| u.component.clone());
        let prev_path = || -> Vec<String> { a.prev_components().iter().flat_map(|p| expand(p)).collect() };
        let exec = a.exec_time.as_ref();
        if let Some(t) = exec.and_then(|e| e.local_time_thr.clone()) {
            if whole {
                locals
                    .entry(last.clone())
                    .or_default()
                    .push(LocalConstraint { component_name: u.component.clone(), threshold: t });
            } else {
                globals
                    .entry(last.clone())
                    .or_default()
                    .push(GlobalConstraint { path_components: us.clone(), threshold: t });
            }
        }
        if let Some(g) = exec.and_then(|e| e.global_time_thr.clone()) {
            let mut path = prev_path();
            path.extend(us.iter().cloned());
            globals.entry(last.clone()).or_default().push(GlobalConstraint { path_components: path, threshold: g });
        }
    }
    let mut layer_nums: Vec<u32> = units.iter().map(|u| u.layer).collect();
    layer_nums.sort_unstable();
    layer_nums.dedup();
    // Sources in annotations-file order (sorted by script) that ask for a throughput.
    let mut by_script: Vec<&crate::app::check::ComponentSource> = app.sources.iter().collect();
    by_script.sort_by(|a, b| a.script.cmp(&b.script));
    let mut throughput = ThroughputComponent::none();
    let mut out = IndexMap::new();
    let mut all_locals = Vec::new();
    let mut all_globals = Vec::new();
    for l in layer_nums {
        if throughput.name().is_none() {
            for s in &by_script {
                let Some(c) = s.annotations.name() else { continue };
                if s.annotations.expected_throughput.is_none() {
                    continue;
                }
                let first = units.iter().find(|u| u.component == c);
                if let Some(u) = first {
                    if u.layer == l {
                        throughput = ThroughputComponent::Component(u.name.clone());
                    }
                }
            }
        }
        let mut lq = LayerQos {
            components: Vec::new(),
            local_constraints: Map::new(),
            global_constraints: Map::new(),
            throughput_component: throughput.clone(),
        };
        for u in units.iter().filter(|u| u.layer == l) {
            lq.components.push(u.name.clone());
            for c in locals.get(&u.name).into_iter().flatten() {
                let k = format!("local_constraint_{}", lq.local_constraints.len() + 1);
                lq.local_constraints.insert(k, c.clone());
                all_locals.push(c.clone());
            }
            for c in globals.get(&u.name).into_iter().flatten() {
                let k = format!("global_constraint_{}", lq.global_constraints.len() + 1);
                lq.global_constraints.insert(k, c.clone());
                all_globals.push(c.clone());
            }
        }
        out.insert(l, lq);
    }
    let qos = QosConstraints {
        system: QosSystem {
            name,
            local_constraints: all_locals
                .into_iter()
                .enumerate()
                .map(|(i, c)| (format!("local_constraint_{}", i + 1), c))
                .collect(),
            global_constraints: all_globals
                .into_iter()
                .enumerate()
                .map(|(i, c)| (format!("global_constraint_{}", i + 1), c))
                .collect(),
            throughput_component: None,
        },
    };
    (out, qos)
}

impl PlannedDeployment {
    /// The AMS file of one layer: `ams/qos_constraints_L<layer>.yaml`.
    pub fn ams_file(&self, app_name: &str, layer: u32) -> Option<QosConstraints> {
        let l = self.qos_layers.get(&layer)?;
        Some(QosConstraints {
            system: QosSystem {
                name: app_name.to_string(),
                local_constraints: l.local_constraints.clone(),
                global_constraints: l.global_constraints.clone(),
                throughput_component: Some(l.throughput_component.clone()),
            },
        })
    }
}

/// The base production deployment: each component on its first candidate layer and the first
/// of its resources in that layer.
fn base_production(app: &Application, base: &PlannedDeployment) -> ProductionDeployment {
    let res = &app.resources.value;
    let mut components = Map::new();
    let mut chosen_layers = std::collections::HashSet::new();
    let mut chosen_resources = std::collections::HashSet::new();
    for (key, spec) in &app.deployments.value.components {
        if !base.units.iter().any(|u| u.name == spec.name) {
            continue;
        }
        let layer = base.entry.layers.get(&spec.name).copied();
        let mut containers = Map::new();
        for (ck, c) in spec.containers.iter().take(1) {
            let r = c
                .candidate_execution_resources
                .iter()
                .find(|r| res.resource(r).is_some_and(|(l, _)| Some(l.layer.number) == layer))
                .or(c.candidate_execution_resources.first())
                .cloned()
                .unwrap_or_default();
            chosen_resources.insert(r.clone());
            let arch = res.resource(&r).and_then(|(_, x)| x.arch());
            containers.insert(ck.clone(), SelectedContainer::from_candidate(c, &spec.name, &r, arch));
        }
        if let Some(l) = layer {
            chosen_layers.insert(l);
        }
        components.insert(
            key.clone(),
            ProductionComponent {
                name: spec.name.clone(),
                execution_layer: layer,
                containers,
                selected_execution_resource: None,
            },
        );
    }
    let domains = crate::app::production::pruned_domains(res, |r| chosen_resources.contains(&r.name).then_some(None));
    ProductionDeployment {
        system: ProductionSystem {
            name: Some(res.system.name.clone()),
            network_domains: Some(domains),
            components,
            resources: None,
            deployment_name: Some("base".into()),
            feasible: None,
        },
    }
}

/// A SPACE4AI-D configuration for an application that has none: layers sorted by type, a
/// RandomGreedy run refined by LocalSearch, and the binary search on the arrival rate.
fn default_space4aid(app: &Application) -> Space4aidConfig {
    let mut edge = Vec::new();
    let mut cloud = Vec::new();
    let mut faas = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut layers = app.resources.value.layers();
    layers.sort_by_key(|l| l.layer.number);
    for l in layers {
        if !seen.insert(l.key) {
            continue;
        }
        match l.layer.layer_type {
            LayerType::PhysicalAlreadyProvisioned | LayerType::PhysicalToBeProvisioned => edge.push(l.key.to_string()),
            LayerType::Virtual => cloud.push(l.key.to_string()),
            LayerType::NativeCloudFunction => faas.push(l.key.to_string()),
        }
    }
    let rate = app.max_expected_throughput();
    let method = |name: &str| Method {
        name: name.to_string(),
        iterations: None,
        duration: None,
        starting_point_number: None,
        special_parameters: None,
        upper_bound_lambda: None,
        epsilon: None,
    };
    let mut methods = Map::new();
    methods.insert("method1".into(), Method { iterations: Some(1000), duration: Some(0.0), ..method("RandomGreedy") });
    methods.insert(
        "method2".into(),
        Method { iterations: Some(500), duration: Some(0.0), starting_point_number: Some(5), ..method("LocalSearch") },
    );
    methods.insert(
        "method3".into(),
        Method { upper_bound_lambda: Some(rate.map_or(10.0, |r| 10.0 * r)), epsilon: Some(1e-5), ..method("BS") },
    );
    Space4aidConfig {
        time: Some(1.0),
        edge_resources: edge,
        cloud_resources: cloud,
        faas_resources: (!faas.is_empty()).then_some(faas),
        methods,
        seed: Some(1),
        verbose_level: Some(1),
        components: None,
    }
}

/// A short description of a deployment for logs: `blurry-faces-onnx_partition1_1@L1, ...`.
pub fn describe(d: &PlannedDeployment) -> String {
    d.units.iter().map(|u| format!("{}@L{}", u.name, u.layer)).collect::<Vec<_>>().join(", ")
}
