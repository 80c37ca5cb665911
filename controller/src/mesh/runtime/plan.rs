//! A placement as the agents run it (each unit's service on the node of its resource, with
//! its parallelism and the units it feeds), and the steps from one placement to another,
//! ordered so that no file is lost or run twice:
//!
//! 1. every node gets its new set of services, keeping those about to leave it;
//! 2. the moved units' routes change (files shipped from now on go to the new node);
//! 3. each node a unit leaves finishes what reached it (no file on its way, then a drain);
//! 4. those nodes get their new set alone (the moved units stop there).
//!
//! A virtual resource built by the Infrastructure Manager gets its new number of VMs before
//! the services that need them (it grows) or after those it leaves have shrunk (`with_scaling`).
//!
//! No IO here: the task runs the steps and records each in the journal.

use std::collections::{BTreeMap, BTreeSet};

use aisprint_space4aid::eval::{Solution, NONE};
use aisprint_space4aid::model::Model;
use serde::{Deserialize, Serialize};

/// Parallelism of a unit on a FaaS resource (the platform scales it; on an agent, jobs at
/// a time).
pub const FAAS_PARALLELISM: u32 = 8;

/// One unit as placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placed {
    pub unit: String,
    pub resource: String,
    /// Jobs at a time (the solution's instances).
    pub parallelism: u32,
    /// The units its outputs go to (none: the last).
    pub next: Vec<String>,
}

/// The units of a solution, in the DAG's order.
pub fn placed(model: &Model, sol: &Solution) -> Vec<Placed> {
    let mut out = Vec::new();
    for &c in &model.topo {
        let d = sol.deployment[c];
        if d == NONE {
            continue;
        }
        let parts = &model.components[c].deployments[d].partitions;
        for (k, &p) in parts.iter().enumerate() {
            let r = sol.placement[p];
            let Some(res) = model.resources.get(r) else { continue };
            let next = if k + 1 < parts.len() {
                vec![model.partitions[parts[k + 1]].name.clone()]
            } else {
                model.components[c]
                    .successors
                    .iter()
                    .filter(|&&s| sol.deployment[s] != NONE)
                    .map(|&s| {
                        model.partitions[model.components[s].deployments[sol.deployment[s]].partitions[0]].name.clone()
                    })
                    .collect()
            };
            let parallelism = if model.is_faas(r) { FAAS_PARALLELISM } else { sol.instances[r].max(1) };
            out.push(Placed { unit: model.partitions[p].name.clone(), resource: res.name.clone(), parallelism, next });
        }
    }
    out
}

/// A step of a change, recorded in the journal before it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Send `node` the services of `units` (its whole set).
    Apply { node: String, units: Vec<Placed> },
    /// Route the unit's cluster to `node`.
    Route { unit: String, node: String },
    /// Wait until no file is on its way to `node`, then until `unit`'s input there is done.
    Drain { node: String, unit: String },
    /// Bring the worker VMs of `resource`'s infrastructures to `workers` (IM).
    Scale { resource: String, workers: u32 },
}

impl Step {
    /// One line for logs and `runtime status`.
    pub fn describe(&self) -> String {
        match self {
            Step::Apply { node, units } => {
                let u: Vec<String> = units.iter().map(|p| format!("{} x{}", p.unit, p.parallelism)).collect();
                format!("apply on {node}: {}", if u.is_empty() { "no service".into() } else { u.join(", ") })
            }
            Step::Route { unit, node } => format!("route {unit} to {node}"),
            Step::Drain { node, unit } => format!("drain {unit} on {node}"),
            Step::Scale { resource, workers } => format!("scale {resource} to {workers} VMs (IM)"),
        }
    }
}

/// Resource -> the node that runs it.
pub type Nodes = BTreeMap<String, String>;

/// The node of each unit, given the node of each resource.
fn nodes_of<'a>(units: &'a [Placed], node: &BTreeMap<String, String>) -> BTreeMap<&'a str, String> {
    units.iter().map(|p| (p.unit.as_str(), node.get(&p.resource).cloned().unwrap_or_default())).collect()
}

/// The steps from `old` (None: nothing runs yet) to `new`, each with the node of each of
/// its resources.
pub fn steps(old: Option<(&[Placed], &Nodes)>, new: (&[Placed], &Nodes)) -> Vec<Step> {
    let empty = Nodes::new();
    let (old, old_nodes) = old.unwrap_or((&[], &empty));
    let (new, new_nodes) = new;
    let (old_at, new_at) = (nodes_of(old, old_nodes), nodes_of(new, new_nodes));
    let on = |units: &[Placed], at: &BTreeMap<&str, String>, n: &str| -> Vec<Placed> {
        units.iter().filter(|p| at.get(p.unit.as_str()).is_some_and(|x| x == n)).cloned().collect()
    };
    let leaving: Vec<&Placed> =
        old.iter().filter(|p| new_at.get(p.unit.as_str()) != Some(&old_at[p.unit.as_str()])).collect();
    let nodes: BTreeSet<String> = old_at.values().chain(new_at.values()).cloned().collect();
    let mut out = Vec::new();
    for n in &nodes {
        let mut set = on(new, &new_at, n);
        set.extend(leaving.iter().filter(|p| old_at[p.unit.as_str()] == *n).map(|p| (*p).clone()));
        if set != on(old, &old_at, n) {
            out.push(Step::Apply { node: n.clone(), units: set });
        }
    }
    for p in new {
        let n = &new_at[p.unit.as_str()];
        if old_at.get(p.unit.as_str()) != Some(n) {
            out.push(Step::Route { unit: p.unit.clone(), node: n.clone() });
        }
    }
    for p in &leaving {
        out.push(Step::Drain { node: old_at[p.unit.as_str()].clone(), unit: p.unit.clone() });
    }
    let left: BTreeSet<&String> = leaving.iter().map(|p| &old_at[p.unit.as_str()]).collect();
    for n in left {
        out.push(Step::Apply { node: n.clone(), units: on(new, &new_at, n) });
    }
    out
}

/// The VMs each resource of `scalable` needs: the instances of its units.
fn workers(units: &[Placed], scalable: &BTreeSet<String>) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for p in units.iter().filter(|p| scalable.contains(&p.resource)) {
        let w = out.entry(p.resource.clone()).or_insert(0);
        *w = (*w).max(p.parallelism);
    }
    out
}

/// `steps` with the VMs of the `scalable` resources (those with an infrastructure at IM)
/// brought to what the new placement needs: growing before every other step, shrinking after.
/// A resource the new placement leaves keeps its VMs. The first placement scales every one
/// (a step that finds the count right only waits for the VMs to be configured).
pub fn with_scaling(
    steps: Vec<Step>,
    old: Option<&[Placed]>,
    new: &[Placed],
    scalable: &BTreeSet<String>,
) -> Vec<Step> {
    let before = old.map(|o| workers(o, scalable));
    let (mut grow, mut shrink) = (Vec::new(), Vec::new());
    for (resource, w) in workers(new, scalable) {
        let step = Step::Scale { resource: resource.clone(), workers: w };
        match before.as_ref().map(|b| b.get(&resource).copied()) {
            Some(Some(b)) if b == w => {}
            Some(Some(b)) if b > w => shrink.push(step),
            _ => grow.push(step),
        }
    }
    grow.into_iter().chain(steps).chain(shrink).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(unit: &str, resource: &str, par: u32, next: &[&str]) -> Placed {
        Placed {
            unit: unit.into(),
            resource: resource.into(),
            parallelism: par,
            next: next.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn nodes() -> BTreeMap<String, String> {
        [("EN", "edge-1"), ("ES", "server-1"), ("VM", "vm-1")].into_iter().map(|(a, b)| (a.into(), b.into())).collect()
    }

    #[test]
    fn a_move_applies_on_the_new_node_reroutes_drains_then_stops_on_the_old() {
        let old = [p("a", "EN", 1, &["b"]), p("b", "ES", 1, &[])];
        let new = [p("a", "EN", 1, &["b"]), p("b", "VM", 3, &[])];
        let s = steps(Some((&old, &nodes())), (&new, &nodes()));
        let d: Vec<String> = s.iter().map(Step::describe).collect();
        // The edge node and server-1 keep their sets until the drain: nothing sent there first.
        assert_eq!(
            d,
            ["apply on vm-1: b x3", "route b to vm-1", "drain b on server-1", "apply on server-1: no service"]
        );
    }

    #[test]
    fn a_scale_is_one_apply_and_the_first_placement_routes_every_unit() {
        let old = [p("a", "EN", 1, &["b"]), p("b", "VM", 2, &[])];
        let new = [p("a", "EN", 1, &["b"]), p("b", "VM", 4, &[])];
        let d: Vec<String> = steps(Some((&old, &nodes())), (&new, &nodes())).iter().map(Step::describe).collect();
        assert_eq!(d, ["apply on vm-1: b x4"]);
        let d: Vec<String> = steps(None, (&new, &nodes())).iter().map(Step::describe).collect();
        assert_eq!(d, ["apply on edge-1: a x1", "apply on vm-1: b x4", "route a to edge-1", "route b to vm-1"]);
        assert!(steps(Some((&new, &nodes())), (&new, &nodes())).is_empty());
    }

    #[test]
    fn vms_are_added_before_the_services_grow_and_removed_after_they_shrink() {
        let vm: BTreeSet<String> = ["VM".to_string()].into();
        let small = [p("a", "EN", 1, &["b"]), p("b", "VM", 1, &[])];
        let big = [p("a", "EN", 1, &["b"]), p("b", "VM", 3, &[])];
        let d = |old: &[Placed], new: &[Placed]| -> Vec<String> {
            with_scaling(steps(Some((old, &nodes())), (new, &nodes())), Some(old), new, &vm)
                .iter()
                .map(Step::describe)
                .collect()
        };
        assert_eq!(d(&small, &big), ["scale VM to 3 VMs (IM)", "apply on vm-1: b x3"]);
        assert_eq!(d(&big, &small), ["apply on vm-1: b x1", "scale VM to 1 VMs (IM)"]);
        assert!(d(&big, &big).is_empty());
        // Leaving the resource keeps its VMs; the first placement sets every count.
        let on_server = [p("a", "EN", 1, &["b"]), p("b", "ES", 1, &[])];
        assert!(!d(&big, &on_server).iter().any(|s| s.starts_with("scale")));
        let first = with_scaling(steps(None, (&big, &nodes())), None, &big, &vm);
        assert_eq!(first[0].describe(), "scale VM to 3 VMs (IM)");
        // Without an infrastructure, no scale step.
        let none =
            with_scaling(steps(Some((&small, &nodes())), (&big, &nodes())), Some(&small), &big, &BTreeSet::new());
        assert_eq!(none.len(), 1);
    }
}
