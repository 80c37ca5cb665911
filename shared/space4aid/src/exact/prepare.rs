//! What an exact search is prepared with: the constraints to check as its components are
//! placed, the FaaS cost the components still to place cannot avoid, and the options worth
//! trying for each partition.

use crate::eval::faas_cost;
use crate::model::{Model, Perf};

/// A constraint to check once all its components are placed.
#[derive(Debug, Clone)]
pub(super) struct Check {
    pub(super) components: Vec<usize>,
    /// The global constraint (its delays count) or a local one.
    pub(super) global: Option<usize>,
    pub(super) threshold: f64,
}

/// The checks of a search over `order` (`fixed`: the other components keep a placement;
/// `globals`: global constraints count): per position, those complete once the component
/// there is placed; those over fixed components only, made at the leaves; and per component,
/// the global constraints through it that are checked.
pub(super) fn checks(
    model: &Model,
    order: &[usize],
    globals: bool,
    fixed: bool,
) -> (Vec<Vec<Check>>, Vec<Check>, Vec<Vec<usize>>) {
    let nc = model.components.len();
    let pos_of = |c: usize| order.iter().position(|&x| x == c);
    let mut checks_at = vec![Vec::new(); order.len()];
    let mut final_checks = Vec::new();
    let mut paths_of = vec![Vec::new(); nc];
    for (c, comp) in model.components.iter().enumerate() {
        if let Some(thr) = comp.local_threshold {
            let check = Check { components: vec![c], global: None, threshold: thr };
            match pos_of(c) {
                Some(i) => checks_at[i].push(check),
                None if fixed => final_checks.push(check),
                None => {}
            }
        }
    }
    if globals {
        for (g, gc) in model.globals.iter().enumerate() {
            // Complete once its last searched component is placed (fixed ones are from the
            // start); a path of fixed components only is checked at the leaves.
            let pos: Vec<Option<usize>> = gc.path.iter().map(|&c| pos_of(c)).collect();
            if !fixed && pos.iter().any(Option::is_none) {
                continue;
            }
            let check = Check { components: gc.path.clone(), global: Some(g), threshold: gc.threshold };
            match pos.into_iter().flatten().max() {
                Some(last) => {
                    for &c in &gc.path {
                        paths_of[c].push(g);
                    }
                    checks_at[last].push(check);
                }
                None => final_checks.push(check),
            }
        }
    }
    (checks_at, final_checks, paths_of)
}

/// Per position of `order`, the FaaS cost no placement of the components from there on can
/// avoid (and 0 after the last).
pub(super) fn future_costs(model: &Model, order: &[usize]) -> Vec<f64> {
    // The FaaS cost a component cannot avoid: over its deployments, the least sum over
    // partitions of the cheapest option (0 for edge/VM ones, their cost being counted
    // through instances).
    let unavoidable: Vec<f64> = order
        .iter()
        .map(|&c| {
            let comp = &model.components[c];
            let rate = comp.rate_factor * model.lambda;
            comp.deployments
                .iter()
                .map(|d| {
                    d.partitions
                        .iter()
                        .enumerate()
                        .map(|(k, &p)| {
                            model.partitions[p]
                                .options
                                .iter()
                                .map(|&(r, _, perf)| match perf {
                                    Perf::Faas { warm, .. } if model.is_faas(r) => {
                                        faas_cost(model, r, warm, rate * d.reach[k])
                                    }
                                    _ => 0.0,
                                })
                                .fold(f64::INFINITY, f64::min)
                        })
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let mut future = vec![0.0; order.len() + 1];
    for i in (0..order.len()).rev() {
        future[i] = future[i + 1] + unavoidable[i];
    }
    future
}

/// The options worth trying for every partition.
pub(super) fn options_of(model: &Model) -> Vec<Vec<(usize, f64, Perf)>> {
    (0..model.partitions.len()).map(|p| undominated(model, p)).collect()
}

/// The options of partition `p` that no other option dominates (see `Search::options`). A
/// FaaS option is dropped only when another FaaS option of the same layer is no dearer and
/// no slower, and no neighbouring partition (the one before or after it in its chain, or
/// across a DAG edge) could run on its resource: on the same resource as its neighbour a
/// partition sends its data with no delay, which a dominating option elsewhere cannot match.
fn undominated(model: &Model, p: usize) -> Vec<(usize, f64, Perf)> {
    let part = &model.partitions[p];
    let comp = &model.components[part.component];
    let dep = &comp.deployments[part.deployment];
    // Partitions that may exchange data with this one.
    let mut neighbours: Vec<usize> = Vec::new();
    if part.position > 0 {
        neighbours.push(dep.partitions[part.position - 1]);
    } else {
        for &c in &comp.predecessors {
            neighbours.extend(model.components[c].deployments.iter().filter_map(|d| d.partitions.last().copied()));
        }
    }
    if part.position + 1 < dep.partitions.len() {
        neighbours.push(dep.partitions[part.position + 1]);
    } else {
        for &c in &comp.successors {
            neighbours.extend(model.components[c].deployments.iter().filter_map(|d| d.partitions.first().copied()));
        }
    }
    let shared = |r: usize| neighbours.iter().any(|&q| model.partitions[q].option(r).is_some());
    // (FaaS cost factor, response time) of a usable FaaS option.
    let faas = |i: usize| -> Option<(f64, f64)> {
        let (r, mem, perf) = part.options[i];
        match perf {
            Perf::Faas { warm, .. } if model.is_faas(r) && mem <= model.resources[r].memory => {
                Some((model.resources[r].cost * warm, part.faas_response[i]))
            }
            _ => None,
        }
    };
    (0..part.options.len())
        .filter(|&i| {
            let Some((cost, rt)) = faas(i) else { return true };
            let r = part.options[i].0;
            if shared(r) {
                return true;
            }
            let layer = model.resources[r].layer;
            !(0..part.options.len()).any(|j| {
                j != i
                    && model.resources[part.options[j].0].layer == layer
                    && faas(j).is_some_and(|(cj, tj)| cj <= cost && tj <= rt && (cj < cost || tj < rt || j < i))
            })
        })
        .map(|i| part.options[i])
        .collect()
}
