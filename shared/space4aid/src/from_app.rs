//! The SPACE4AI-D system of one deployment of an AI-SPRINT application, built from the
//! files `aisprint design` reads and plans (candidate resources and deployments, the
//! deployment's DAG of units and its QoS constraints, `oscarp/performance_models.json`,
//! `oscarp/components_data_size.yaml`, the `expected_throughput` annotation), and the
//! production deployment of a solution.
//!
//! Each component the deployment runs becomes a SPACE4AI-D component with one deployment: the
//! chain of its units (the component itself, or the halves of its partitioning). The
//! deployment already fixes the layer of every unit, so what is left to choose is the
//! resource within that layer and the instance counts. Partitioned and unpartitioned
//! alternatives are separate deployments, each solved on its own; the caller keeps the
//! cheapest feasible.

use crate::system::{
    Compatible, DagNode, FaasLayer, FaasResource, GlobalConstraint, LocalConstraint, NetworkDomain, Partition,
    PerformanceModel, Resource, System,
};
use aisprint_model::app::check::Application;
use aisprint_model::app::deployments::Container;
use aisprint_model::app::fit::Needs;
use aisprint_model::app::oscarp::PerformanceModelSpec;
use aisprint_model::app::production::{ProductionComponent, ProductionDeployment, ProductionSystem, SelectedContainer};
use aisprint_model::app::resources::{LayerType, NetworkDomain as AppDomain};
use aisprint_model::app::{Flag, Map};
use aisprint_model::design::PlannedDeployment;
use aisprint_model::diag::{Diagnostic, Diagnostics};

use crate::eval::Solution;
use crate::model::Model;

use aisprint_model::app::paths::{DEPLOYMENTS, PERFORMANCE_MODELS, RESOURCES};

/// The application's arrival rate (requests per second): the `expected_throughput` rate of
/// the first DAG component that has one (the reference reads the first component's), else the
/// largest any component declares.
pub fn arrival_rate(app: &Application) -> Option<f64> {
    let rate = |name: &str| {
        app.source(name)
            .and_then(|s| s.annotations.expected_throughput.as_ref())
            .map(|t| aisprint_model::app::num(&t.rate))
    };
    app.dag.value.system.components.iter().find_map(|c| rate(c)).or_else(|| app.max_expected_throughput())
}

/// The system of deployment `dep` at arrival rate `lambda` over horizon `time`. `dir` names
/// the application directory in messages. Every missing or unusable input is reported.
pub fn build(
    app: &Application,
    dep: &PlannedDeployment,
    dir: &str,
    lambda: f64,
    time: f64,
) -> Result<System, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut system = System {
        dag: Map::new(),
        components: Map::new(),
        edge_resources: Map::new(),
        cloud_resources: Map::new(),
        faas_resources: Map::new(),
        compatibility: Map::new(),
        performance: Map::new(),
        lambda,
        local_constraints: Map::new(),
        global_constraints: Map::new(),
        network: Map::new(),
        time,
    };
    // Resources of the layers the deployment's units use.
    let mut layers: Vec<u32> = dep.units.iter().map(|u| u.layer).collect();
    layers.sort_unstable();
    layers.dedup();
    for &n in &layers {
        add_layer(&mut system, app, dep, dir, n, &mut diags);
    }
    add_network(&mut system, app);
    let components = add_dag(&mut system, app, dep);
    if app.performance_models.is_none() {
        diags.push(Diagnostic::error(
            file(dir, PERFORMANCE_MODELS),
            "",
            "missing: SPACE4AI-D needs a performance model of every deployment unit on every candidate resource. \
             Profile the application (OSCAR-P) or write the file by hand: \
             {\"<component>\": {\"<component or partition>\": {\"<resource>\": {\"model\": \"QTedge\", \"demand\": <seconds>}}}} \
             (QTedge/QTcloud with `demand` for nodes and VMs, PACSLTK with `demandWarm` and `demandCold` for FaaS)",
        ));
    }
    for c in &components {
        add_component(&mut system, app, dep, dir, c, &mut diags);
    }
    add_constraints(&mut system, dep);
    if diags.has_errors() {
        return Err(diags.sorted());
    }
    Ok(system)
}

/// `<dir>/<rel>`: a file of the application, as messages name it.
fn file(dir: &str, rel: &str) -> String {
    format!("{dir}/{rel}")
}

/// Adds the resources of layer `n` (edge, cloud or FaaS), with their memory and cost; those
/// without are reported.
fn add_layer(
    system: &mut System,
    app: &Application,
    dep: &PlannedDeployment,
    dir: &str,
    n: u32,
    diags: &mut Diagnostics,
) {
    let Some(l) = app.resources.value.layer(n) else {
        diags.push(Diagnostic::error(
            file(dir, RESOURCES),
            "System.NetworkDomains",
            format!("no computational layer numbered {n} (deployment `{}` uses it)", dep.name),
        ));
        return;
    };
    // The resources with their memory; those without are reported.
    let mut with_memory = Vec::new();
    for (rk, r) in &l.layer.resources {
        match r.memory_size {
            Some(m) => with_memory.push((r, m)),
            None => diags.push(Diagnostic::error(
                file(dir, RESOURCES),
                format!("{}.Resources.{rk}.memorySize", l.key_path()),
                "missing: SPACE4AI-D needs the memory (MB) of every resource and FaaS configuration",
            )),
        }
    }
    if l.layer.layer_type == LayerType::NativeCloudFunction {
        let mut fl = FaasLayer::default();
        for (r, memory) in with_memory {
            if let Some(tc) = r.transition_cost {
                fl.transition_cost = Some(fl.transition_cost.map_or(tc, |x: f64| x.max(tc)));
            }
            fl.resources.insert(
                r.name.clone(),
                FaasResource {
                    cost: r.cost.unwrap_or(0.0),
                    memory,
                    idle_time_before_kill: r.idle_time.unwrap_or(600.0),
                    description: r.description.clone(),
                },
            );
        }
        system.faas_resources.insert(l.key.to_string(), fl);
    } else {
        let mut m = Map::new();
        for (r, memory) in with_memory {
            if r.cost.is_none() {
                let rk = l.layer.resources.iter().find(|(_, x)| x.name == r.name).map_or("", |(k, _)| k.as_str());
                diags.push(Diagnostic::error(
                    file(dir, RESOURCES),
                    format!("{}.Resources.{rk}.cost", l.key_path()),
                    "missing: SPACE4AI-D needs the cost of every resource (per node and time unit; 0 for nodes already paid for)",
                ));
            }
            m.insert(
                r.name.clone(),
                Resource {
                    number: r.total_nodes.unwrap_or(1).max(1),
                    cost: r.cost.unwrap_or(0.0),
                    memory,
                    n_cores: r.cores().map(|c| c.round().max(1.0) as u32),
                    description: r.description.clone(),
                },
            );
        }
        let group = if l.layer.layer_type == LayerType::Virtual {
            &mut system.cloud_resources
        } else {
            &mut system.edge_resources
        };
        group.insert(l.key.to_string(), m);
    }
}

/// Adds the network domains: a domain joins its own layers and those of its sub-domains
/// (only the layers the system has).
fn add_network(system: &mut System, app: &Application) {
    fn domain_layers(all: &Map<AppDomain>, name: &str, depth: usize, out: &mut Vec<String>) {
        let Some(d) = all.get(name) else { return };
        for k in d.computational_layers.iter().flat_map(|m| m.keys()) {
            if !out.contains(k) {
                out.push(k.clone());
            }
        }
        if depth < 16 {
            for s in d.sub_network_domains.iter().flatten() {
                domain_layers(all, s, depth + 1, out);
            }
        }
    }
    let res = &app.resources.value;
    let present = |k: &String| {
        system.edge_resources.contains_key(k)
            || system.cloud_resources.contains_key(k)
            || system.faas_resources.contains_key(k)
    };
    let mut domains = Vec::new();
    for (name, d) in &res.system.network_domains {
        let mut ls = Vec::new();
        domain_layers(&res.system.network_domains, name, 0, &mut ls);
        // Only the layers this deployment uses.
        ls.retain(|k| present(k));
        if ls.is_empty() {
            continue;
        }
        let domain = (
            name.clone(),
            NetworkDomain { computational_layers: ls, access_delay: d.access_delay, bandwidth: d.bandwidth },
        );
        domains.push(domain);
    }
    for (name, d) in domains {
        system.network.insert(name, d);
    }
}

/// Adds the DAG between the components this deployment runs (the versions it picks), and
/// returns those components in DAG order.
fn add_dag(system: &mut System, app: &Application, dep: &PlannedDeployment) -> Vec<String> {
    let version = |c: &str| dep.entry.versions.get(c).cloned().unwrap_or_else(|| c.to_string());
    let app_dag = &app.dag.value.system;
    let components: Vec<String> = app_dag.components.iter().map(|c| version(c)).collect();
    for c in &components {
        let succ: Vec<(String, f64)> = app_dag
            .dependencies
            .iter()
            .filter(|d| version(&d.0) == *c)
            .map(|d| (version(&d.1), d.probability()))
            .collect();
        system.dag.insert(
            c.clone(),
            DagNode {
                next: succ.iter().map(|s| s.0.clone()).collect(),
                transition_probability: succ.iter().map(|s| s.1).collect(),
            },
        );
    }
    components
}

/// Adds component `c`: one deployment, the chain of its units (the component itself, or the
/// halves of its partitioning), with their compatible resources and performance models.
fn add_component(
    system: &mut System,
    app: &Application,
    dep: &PlannedDeployment,
    dir: &str,
    c: &str,
    diags: &mut Diagnostics,
) {
    // The component's units in chain order: one, or the halves of its partitioning.
    let units: Vec<&aisprint_model::design::Unit> = dep.units.iter().filter(|u| u.component == *c).collect();
    if units.is_empty() {
        return;
    }
    let design_name = units[0].design.split('_').next().unwrap_or("base").to_string();
    let succ = system.dag.get(c).map(|n| n.next.clone()).unwrap_or_default();
    let mut parts = Map::new();
    let mut compat = Map::new();
    let mut perf_all = Map::new();
    for (k, u) in units.iter().enumerate() {
        let last = k + 1 == units.len();
        let (next, data_size, exit) = if last {
            (succ.clone(), vec![data_mb(app, &u.name, c); succ.len()], 0.0)
        } else {
            // Requests go on to the next half with the DAG's probability; the rest exit.
            let nxt = &units[k + 1].name;
            let p = dep
                .dag
                .system
                .dependencies
                .iter()
                .find(|d| d.0 == u.name && d.1 == *nxt)
                .map_or(1.0, |d| d.probability());
            (vec![nxt.clone()], vec![data_mb(app, &u.name, c)], 1.0 - p)
        };
        parts.insert(u.name.clone(), Partition { next, early_exit_probability: exit, data_size });
        let Some((compatible, perf)) = unit_options(app, dep, dir, c, u, diags) else { continue };
        compat.insert(u.name.clone(), compatible);
        perf_all.insert(u.name.clone(), perf);
    }
    let mut deps = Map::new();
    deps.insert(design_name, parts);
    system.components.insert(c.to_string(), deps);
    system.compatibility.insert(c.to_string(), compat);
    system.performance.insert(c.to_string(), perf_all);
}

/// Output size of a unit: its own entry, else its component's (KB of 1,000 bytes, as
/// OSCAR-P writes them; the model takes MB).
fn data_mb(app: &Application, u: &str, c: &str) -> f64 {
    let data_sizes = app.data_sizes.as_ref().map(|d| &d.value);
    data_sizes.and_then(|d| d.get(u).or_else(|| d.get(c))).copied().unwrap_or(0.0) / 1000.0
}

/// What component `c` (a DAG component or version) in `container` asks of its resource.
fn needs(app: &Application, c: &str, container: &Container) -> Needs {
    let on = |f: &Option<Flag>| f.as_ref().is_some_and(Flag::is_true);
    let trusted =
        on(&container.trusted_execution) || on(&container.network_protection) || on(&container.file_system_protection);
    Needs::of(app.source(c).map(|s| &s.annotations), trusted, on(&container.gpu_requirement))
}

/// The candidate resources a deployment leaves out of its compatibility matrix, with why:
/// (unit, resource, reason), in DAG order.
pub fn left_out(app: &Application, dep: &PlannedDeployment) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for u in &dep.units {
        let Some((_, spec)) = app.deployments.value.for_unit(&u.name) else { continue };
        let Some((_, container)) = spec.containers.first() else { continue };
        let asks = needs(app, &u.component, container);
        for r in &container.candidate_execution_resources {
            let Some((l, resource)) = app.resources.value.resource(r) else { continue };
            if l.layer.number != u.layer {
                continue;
            }
            if let Some(why) = asks.unmet(r, resource) {
                out.push((u.name.clone(), r.clone(), why));
            }
        }
    }
    out
}

/// The resources of its layer unit `u` (of component `c`) may run on, with the memory its
/// container needs, and its performance model on each. `None` when no entry or container
/// describes it (reported).
fn unit_options(
    app: &Application,
    dep: &PlannedDeployment,
    dir: &str,
    c: &str,
    u: &aisprint_model::design::Unit,
    diags: &mut Diagnostics,
) -> Option<(Vec<Compatible>, Map<PerformanceModel>)> {
    let res = &app.resources.value;
    let Some((key, spec)) = app.deployments.value.for_unit(&u.name) else {
        diags.push(Diagnostic::error(file(dir, DEPLOYMENTS), "Components", format!("no entry describes `{}`", u.name)));
        return None;
    };
    let Some((_, container)) = spec.containers.first() else {
        diags.push(Diagnostic::error(file(dir, DEPLOYMENTS), format!("Components.{key}.Containers"), "no container"));
        return None;
    };
    let models = app.performance_models.as_ref();
    let mut compatible = Vec::new();
    let mut perf = Map::new();
    let mut unfit = Vec::new();
    let asks = needs(app, c, container);
    for r in &container.candidate_execution_resources {
        let Some((l, resource)) = res.resource(r) else { continue };
        if l.layer.number != u.layer {
            continue;
        }
        if let Some(why) = asks.unmet(r, resource) {
            unfit.push(why);
            continue;
        }
        compatible.push(Compatible { resource: r.clone(), memory: container.memory_size });
        let Some(models) = models else { continue };
        let spec = models.value.get(c).and_then(|m| m.get(&u.name)).and_then(|m| m.get(r));
        let key_path = format!("{c}.{}.{r}", u.name);
        // The cores a predictor's service gets per instance, as the campaign measured
        // them: the containers that fit on a node (90% of its cores and memory, as
        // the campaign plan counts them) times the container's CPU.
        let per_node = resource.cores().map(|k| {
            let by_cpu = 0.9 * k / container.computing_units;
            let by_mem = resource.memory_size.map_or(f64::INFINITY, |m| 0.9 * m / container.memory_size);
            by_cpu.min(by_mem).floor().max(1.0) * container.computing_units
        });
        match spec.map(|s| performance(s, per_node)) {
            Some(Ok(p)) => {
                perf.insert(r.clone(), p);
            }
            Some(Err(msg)) => diags.push(Diagnostic::error(file(dir, PERFORMANCE_MODELS), key_path, msg)),
            None => diags.push(Diagnostic::error(
                file(dir, PERFORMANCE_MODELS),
                key_path,
                format!(
                    "missing: no performance model of `{}` on `{r}` (deployment `{}` runs it on layer {})",
                    u.name, dep.name, u.layer
                ),
            )),
        }
    }
    // No candidate at all is a mistake in the files; only unfit ones leave the deployment
    // without a placement (`left_out` says why), and the other deployments are solved.
    if compatible.is_empty() && unfit.is_empty() {
        diags.push(Diagnostic::error(
            file(dir, DEPLOYMENTS),
            format!("Components.{key}.Containers"),
            format!("`{}` has no candidate resource in layer {} (deployment `{}`)", u.name, u.layer, dep.name),
        ));
    }
    Some((compatible, perf))
}

/// Adds the constraints, named by unit in the deployment's QoS file: a path within one
/// component (its halves) is that component's local constraint.
fn add_constraints(system: &mut System, dep: &PlannedDeployment) {
    let component_of = |u: &str| dep.units.iter().find(|x| x.name == u).map_or(u.to_string(), |x| x.component.clone());
    let local = |c: String, thr: f64, system: &mut System| {
        let e = system.local_constraints.entry(c).or_insert(LocalConstraint { local_res_time: thr });
        e.local_res_time = e.local_res_time.min(thr);
    };
    for c in dep.qos.system.local_constraints.values() {
        local(component_of(&c.component_name), aisprint_model::app::num(&c.threshold), system);
    }
    for (k, g) in &dep.qos.system.global_constraints {
        let mut path: Vec<String> = Vec::new();
        for u in &g.path_components {
            let c = component_of(u);
            if path.last() != Some(&c) {
                path.push(c);
            }
        }
        let thr = aisprint_model::app::num(&g.threshold);
        if path.len() == 1 {
            local(path.remove(0), thr, system);
        } else {
            system.global_constraints.insert(k.clone(), GlobalConstraint { components: path, global_res_time: thr });
        }
    }
}

fn performance(s: &PerformanceModelSpec, cores_per_instance: Option<f64>) -> Result<PerformanceModel, String> {
    match s.model.as_str() {
        "QTedge" | "QTcloud" => {
            let demand = s.demand.ok_or_else(|| format!("model `{}` needs `demand` (seconds)", s.model))?;
            Ok(if s.model == "QTedge" { PerformanceModel::QtEdge { demand } } else { PerformanceModel::QtCloud { demand } })
        }
        "PACSLTK" | "MLLIBfaas" => match (s.demand_warm, s.demand_cold) {
            (Some(w), Some(c)) => Ok(PerformanceModel::Pacsltk { demand_warm: w, demand_cold: c }),
            _ => Err(format!("model `{}` needs `demandWarm` and `demandCold` (seconds)", s.model)),
        },
        "CoreBasedPredictor" | "LambdaBasedPredictor" => {
            let Some(r) = &s.regressor else {
                return Err(format!(
                    "model `{}` needs its trained model: `regressor_file` {} could not be read (see the warning above; `aisprint models import` converts pickles, `aisprint models train` writes models from a campaign)",
                    s.model,
                    s.regressor_file.as_deref().map_or("(none)".to_string(), |f| format!("`{f}`"))
                ));
            };
            let p = crate::system::Predictor {
                regressor_file: s.regressor_file.clone(),
                mean_time: s.mean_time,
                cores_per_instance,
                regressor: Some(Box::new(r.clone())),
            };
            Ok(if s.model == "CoreBasedPredictor" { PerformanceModel::CoreBased(p) } else { PerformanceModel::LambdaBased(p) })
        }
        other => Err(format!(
            "model `{other}` (aMLLibrary's pickled FaaS surrogate) is not evaluated here: give PACSLTK `demandWarm`/`demandCold` for FaaS resources"
        )),
    }
}

/// The production deployment of `sol` for deployment `dep`, in the shape SPACE4AI-D writes:
/// each unit under its candidate key with its layer and its container on the resource
/// chosen, and the network domains with only the resources in use, their instance counts as
/// `totalNodes`.
pub fn production(app: &Application, dep: &PlannedDeployment, model: &Model, sol: &Solution) -> ProductionDeployment {
    let res = &app.resources.value;
    let mut components = Map::new();
    let mut used: Vec<(String, u32, bool)> = Vec::new();
    for (c, comp) in model.components.iter().enumerate() {
        for &p in &comp.deployments[sol.deployment[c]].partitions {
            let unit = &model.partitions[p].name;
            let r = sol.placement[p];
            let Some(resource) = model.resources.get(r) else { continue };
            if !used.iter().any(|(n, _, _)| *n == resource.name) {
                used.push((resource.name.clone(), sol.instances[r], model.is_faas(r)));
            }
            let Some((key, spec)) = app.deployments.value.for_unit(unit) else { continue };
            let mut containers = Map::new();
            if let Some((ck, c)) = spec.containers.first() {
                let arch = app.resources.value.resource(&resource.name).and_then(|(_, x)| x.arch());
                containers.insert(ck.clone(), SelectedContainer::from_candidate(c, unit, &resource.name, arch));
            }
            components.insert(
                key.to_string(),
                ProductionComponent {
                    name: unit.clone(),
                    execution_layer: dep.units.iter().find(|u| u.name == *unit).map(|u| u.layer),
                    containers,
                    selected_execution_resource: None,
                },
            );
        }
    }
    // Nodes and VMs get their instance counts; FaaS configurations keep their own fields.
    let domains = aisprint_model::app::production::pruned_domains(res, |r| {
        let (_, n, faas) = used.iter().find(|(n, _, _)| *n == r.name)?;
        Some((!faas).then_some(*n))
    });
    ProductionDeployment {
        system: ProductionSystem {
            name: Some(res.system.name.clone()),
            network_domains: Some(domains),
            components,
            resources: None,
            deployment_name: Some(dep.name.clone()),
            feasible: Some(true),
        },
    }
}
