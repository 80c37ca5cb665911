//! The solution JSON of the reference tools: read (with the deployment level, as the Python
//! reference writes it, or without, as the C++ one does) and written (with it).

use serde_json::{json, Map, Value};

use crate::eval::{Evaluation, Solution, NONE};
use crate::model::Model;

/// Reads a solution; errors name the key that is wrong.
pub fn read(model: &Model, v: &Value) -> Result<Solution, String> {
    let comps = v.get("components").and_then(Value::as_object).ok_or("`components` is missing or not an object")?;
    let mut sol = Solution {
        deployment: vec![NONE; model.components.len()],
        placement: vec![NONE; model.partitions.len()],
        instances: vec![0; model.resources.len()],
    };
    for (ci, comp) in model.components.iter().enumerate() {
        let entry = comps
            .get(&comp.name)
            .and_then(Value::as_object)
            .ok_or_else(|| format!("components.{}: missing (every component needs a placement)", comp.name))?;
        // partition name -> its placement object
        let mut parts: Vec<(&str, &Map<String, Value>, Option<usize>)> = Vec::new();
        for (k, val) in entry {
            if k == "response_time" || k == "response_time_threshold" {
                continue;
            }
            let obj = val.as_object().ok_or_else(|| format!("components.{}.{k}: expected an object", comp.name))?;
            if let Some(d) = comp.deployments.iter().position(|d| &d.name == k) {
                for (h, pv) in obj {
                    if h == "response_time" {
                        continue;
                    }
                    let po = pv
                        .as_object()
                        .ok_or_else(|| format!("components.{}.{k}.{h}: expected an object", comp.name))?;
                    parts.push((h.as_str(), po, Some(d)));
                }
            } else {
                parts.push((k.as_str(), obj, None));
            }
        }
        for (h, obj, d) in parts {
            let found = comp.deployments.iter().enumerate().find_map(|(di, dep)| {
                if d.is_some_and(|x| x != di) {
                    return None;
                }
                dep.partitions.iter().find(|&&p| model.partitions[p].name == h).map(|&p| (di, p))
            });
            let (di, p) = found.ok_or_else(|| format!("components.{}: `{h}` is not a partition of it", comp.name))?;
            if sol.deployment[ci] != NONE && sol.deployment[ci] != di {
                return Err(format!("components.{}: partitions of two deployments", comp.name));
            }
            sol.deployment[ci] = di;
            for (layer, lv) in obj {
                if layer == "response_time" {
                    continue;
                }
                let lo = lv
                    .as_object()
                    .ok_or_else(|| format!("components.{}.{h}.{layer}: expected an object", comp.name))?;
                for (rname, rv) in lo {
                    let r = *model
                        .resource_index
                        .get(rname)
                        .ok_or_else(|| format!("components.{}.{h}.{layer}: unknown resource `{rname}`", comp.name))?;
                    sol.placement[p] = r;
                    let n = rv.get("number").and_then(Value::as_u64).unwrap_or(1) as u32;
                    if model.is_faas(r) {
                        sol.instances[r] = 1;
                    } else if sol.instances[r] != 0 && sol.instances[r] != n {
                        return Err(format!(
                            "components.{}.{h}.{layer}.{rname}.number: {n} here, but {} for another partition on the same resource",
                            comp.name, sol.instances[r]
                        ));
                    } else {
                        sol.instances[r] = n;
                    }
                }
            }
        }
        if sol.deployment[ci] == NONE {
            return Err(format!("components.{}: no partition placed", comp.name));
        }
    }
    Ok(sol)
}

fn num(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        json!("inf")
    }
}

/// Writes a solution with its evaluation, in the Python reference's layout.
pub fn write(model: &Model, sol: &Solution, ev: &Evaluation, lower_bound: Option<f64>) -> Value {
    let mut comps = Map::new();
    for (ci, comp) in model.components.iter().enumerate() {
        let dep = &comp.deployments[sol.deployment[ci]];
        let mut parts = Map::new();
        for &p in &dep.partitions {
            let r = sol.placement[p];
            let mut entry = Map::new();
            if r != NONE {
                let res = &model.resources[r];
                let n = if model.is_faas(r) { 1 } else { sol.instances[r] };
                entry.insert(
                    model.layers[res.layer].name.clone(),
                    json!({ res.name.clone(): {
                        "description": res.description,
                        "cost": res.cost * n as f64,
                        "memory": res.memory,
                        "number": n,
                    }}),
                );
            }
            entry.insert("response_time".into(), num(ev.partition_response[p]));
            parts.insert(model.partitions[p].name.clone(), Value::Object(entry));
        }
        let mut c = Map::new();
        c.insert(dep.name.clone(), Value::Object(parts));
        c.insert("response_time".into(), num(ev.component_response[ci]));
        c.insert("response_time_threshold".into(), comp.local_threshold.map_or(json!("inf"), |t| json!(t)));
        comps.insert(comp.name.clone(), Value::Object(c));
    }
    let mut globals = Map::new();
    for (g, rt) in model.globals.iter().zip(&ev.path_response) {
        let path: Vec<&str> = g.path.iter().map(|&c| model.components[c].name.as_str()).collect();
        globals.insert(
            g.name.clone(),
            json!({"components": path, "global_res_time": g.threshold, "path_response_time": num(*rt)}),
        );
    }
    let mut out = json!({
        "Lambda": model.lambda,
        "components": comps,
        "global_constraints": globals,
        "total_cost": ev.cost,
        "feasible": ev.feasible,
    });
    if !ev.feasible {
        out["violations"] = json!(ev.violations.iter().map(|v| v.to_string()).collect::<Vec<_>>());
    }
    if let Some(lb) = lower_bound {
        out["lower_bound"] = json!(lb);
    }
    out
}
