//! Random small SPACE4AI-D systems, for the tests and benchmarks that compare the heuristics
//! with the exact method: a DAG of `n` components (each with one or two deployments of one
//! or two partitions), two edge layers, one VM layer and one FaaS layer, random
//! compatibilities, demands, memory, local constraints on some components and global
//! constraints on consecutive pairs. Deterministic for a seed.

use serde_json::{json, Map, Value};

use crate::search::Rng;

/// The FaaS resources, all in layer `L4`.
const FAAS: [&str; 2] = ["F1", "F2"];

/// The system description JSON of a random instance with `n` components.
pub fn system_json(n: usize, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let comps: Vec<String> = (1..=n).map(|i| format!("c{i}")).collect();
    // DAG: each component after the first gets an edge from one earlier component.
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for c in 1..n {
        let from = if rng.below(3) == 0 { rng.below(c) } else { c - 1 };
        next[from].push(c);
    }
    let mut dag = Map::new();
    for c in 0..n {
        let k = next[c].len();
        dag.insert(
            comps[c].clone(),
            json!({
                "next": next[c].iter().map(|&x| comps[x].clone()).collect::<Vec<_>>(),
                "transition_probability": vec![if k == 0 { 0.0 } else { 1.0 }; k],
            }),
        );
    }
    let edge = [("L1", vec![("Drone", 1u32)]), ("L2", vec![("EN1", 2), ("EN2", 2)])];
    let cloud = [("L3", vec![("VM1", 3u32), ("VM2", 3)])];
    let edge_json = machines(&edge, (2.0, 8.0), 4096, 1, &mut rng);
    let cloud_json = machines(&cloud, (0.5, 3.0), 8192, 2, &mut rng);
    let mut faas_json = Map::new();
    faas_json.insert("transition_cost".into(), json!(0));
    for f in FAAS {
        faas_json
            .insert(f.into(), json!({"cost": uni(0.05, 0.5, &mut rng), "memory": 4096, "idle_time_before_kill": 600}));
    }
    let (components, compat, perf) = components_json(&comps, &next, &mut rng);
    let (local, global) = constraints_json(&comps, &next, &mut rng);
    json!({
        "DirectedAcyclicGraph": dag,
        "Components": components,
        "EdgeResources": edge_json,
        "CloudResources": cloud_json,
        "FaaSResources": {"L4": faas_json},
        "CompatibilityMatrix": compat,
        "Performance": perf,
        "Lambda": 0.6,
        "LocalConstraints": local,
        "GlobalConstraints": global,
        "NetworkTechnology": {
            "ND1": {"computationalLayers": ["L1", "L2", "L3", "L4"], "AccessDelay": 0.002, "Bandwidth": 150},
            "ND2": {"computationalLayers": ["L3", "L4"], "AccessDelay": 0.001, "Bandwidth": 3000}
        },
        "Time": 1
    })
}

/// A number drawn uniformly from `[lo, hi)`.
fn uni(lo: f64, hi: f64, rng: &mut Rng) -> f64 {
    lo + (hi - lo) * rng.unit()
}

/// Layers of machines: name -> resource -> {number, cost, memory, n_cores}, the costs drawn
/// from `cost`.
fn machines(
    layers: &[(&str, Vec<(&str, u32)>)],
    cost: (f64, f64),
    memory: u32,
    cores: u32,
    rng: &mut Rng,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (l, rs) in layers {
        let mut m = Map::new();
        for (r, num) in rs {
            let c = uni(cost.0, cost.1, rng);
            m.insert(r.to_string(), json!({"number": num, "cost": c, "memory": memory, "n_cores": cores}));
        }
        out.insert(l.to_string(), Value::Object(m));
    }
    out
}

/// `Components`, `CompatibilityMatrix` and `Performance`: one or two deployments of one or
/// two partitions per component, the last partition sending to the component's successors
/// `next`.
fn components_json(
    comps: &[String],
    next: &[Vec<usize>],
    rng: &mut Rng,
) -> (Map<String, Value>, Map<String, Value>, Map<String, Value>) {
    let resources: Vec<(&str, bool)> =
        [("Drone", false), ("EN1", false), ("EN2", false), ("VM1", false), ("VM2", false)]
            .into_iter()
            .chain(FAAS.iter().map(|f| (*f, true)))
            .collect();
    let (mut components, mut compat, mut perf) = (Map::new(), Map::new(), Map::new());
    let mut h = 0;
    for c in 0..comps.len() {
        let mut deps = Map::new();
        let (mut cm, mut pm) = (Map::new(), Map::new());
        for d in 0..1 + rng.below(2) {
            let parts = 1 + rng.below(2);
            let mut dep = Map::new();
            for k in 0..parts {
                h += 1;
                let name = format!("h{h}");
                let last = k + 1 == parts;
                let (nx, data): (Vec<String>, Vec<f64>) = if last {
                    (next[c].iter().map(|&x| comps[x].clone()).collect(), next[c].iter().map(|_| 2.0).collect())
                } else {
                    (vec![format!("h{}", h + 1)], vec![1.0])
                };
                let exit = if last { 0.0 } else { uni(0.0, 0.4, rng) };
                dep.insert(name.clone(), json!({"next": nx, "early_exit_probability": exit, "data_size": data}));
                let (list, pr) = partition_options(&resources, rng);
                cm.insert(name.clone(), Value::Array(list));
                pm.insert(name, Value::Object(pr));
            }
            deps.insert(format!("s{}", d + 1), Value::Object(dep));
        }
        components.insert(comps[c].clone(), Value::Object(deps));
        compat.insert(comps[c].clone(), Value::Object(cm));
        perf.insert(comps[c].clone(), Value::Object(pm));
    }
    (components, compat, perf)
}

/// The compatible resources of one partition (2 to 4 of `resources`, with the memory needed)
/// and its performance model on each.
fn partition_options(resources: &[(&str, bool)], rng: &mut Rng) -> (Vec<Value>, Map<String, Value>) {
    let mut list = Vec::new();
    let mut pr = Map::new();
    let want = 2 + rng.below(3);
    let start = rng.below(resources.len());
    for j in 0..want {
        let (r, is_faas) = resources[(start + j * 2) % resources.len()];
        if list.iter().any(|x: &Value| x["resource"] == r) {
            continue;
        }
        list.push(json!({"resource": r, "memory": 512 + 256 * rng.below(8) as u64}));
        let model = if is_faas {
            let warm = uni(0.2, 1.0, rng);
            json!({"model": "PACSLTK", "demandWarm": warm, "demandCold": warm * 2.0})
        } else if r.starts_with("VM") {
            json!({"model": "QTcloud", "demand": uni(0.1, 0.6, rng)})
        } else {
            json!({"model": "QTedge", "demand": uni(0.2, 1.2, rng)})
        };
        pr.insert(r.into(), model);
    }
    (list, pr)
}

/// `LocalConstraints` on about half the components and `GlobalConstraints` on about half the
/// pairs of a component and its first successor.
fn constraints_json(comps: &[String], next: &[Vec<usize>], rng: &mut Rng) -> (Map<String, Value>, Map<String, Value>) {
    let mut local = Map::new();
    for c in comps {
        if rng.below(2) == 0 {
            local.insert(c.clone(), json!({"local_res_time": uni(1.5, 4.0, rng)}));
        }
    }
    let mut global = Map::new();
    for (a, succ) in next.iter().enumerate() {
        if let Some(&b) = succ.first() {
            if rng.below(2) == 0 {
                global.insert(
                    format!("p{}", global.len() + 1),
                    json!({"components": [comps[a].clone(), comps[b].clone()], "global_res_time": uni(3.0, 7.0, rng)}),
                );
            }
        }
    }
    (local, global)
}
