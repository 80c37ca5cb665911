//! Grafana dashboards over the Prometheus metrics of the controller (`/metrics`): cluster
//! monitoring (host metrics of every node, agents' state), execution-time constraints (each
//! constraint's value against its threshold, violations, throughput) and custom metrics (one
//! panel per field of `custom_setup.yaml`). Each is a JSON document importable as is: the
//! Prometheus data source is asked for at import (`__inputs`).

use serde_json::{json, Value};

use super::engine::{Constraint, Kind};

const DS: &str = "${DS_PROMETHEUS}";

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": DS})
}

/// A time series panel of PromQL queries `(expr, legend)`.
fn panel(id: u32, title: &str, unit: &str, pos: (u32, u32, u32, u32), queries: &[(String, String)]) -> Value {
    let targets: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(i, (expr, legend))| {
            json!({
                "datasource": datasource(),
                "expr": expr,
                "legendFormat": legend,
                "refId": char::from(b'A' + (i % 26) as u8).to_string(),
            })
        })
        .collect();
    json!({
        "id": id,
        "type": "timeseries",
        "title": title,
        "datasource": datasource(),
        "gridPos": {"x": pos.0, "y": pos.1, "w": pos.2, "h": pos.3},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": true}, "tooltip": {"mode": "multi", "sort": "none"}},
        "targets": targets,
    })
}

fn dashboard(uid: &str, title: &str, panels: Vec<Value>, templating: Vec<Value>) -> Value {
    json!({
        "__inputs": [{
            "name": "DS_PROMETHEUS",
            "label": "Prometheus",
            "description": "The Prometheus that scrapes the aisprint controller's /metrics",
            "type": "datasource",
            "pluginId": "prometheus",
            "pluginName": "Prometheus"
        }],
        "__requires": [
            {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "9.0.0"},
            {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
            {"type": "panel", "id": "timeseries", "name": "Time series", "version": ""}
        ],
        "uid": uid,
        "title": title,
        "tags": ["aisprint"],
        "editable": true,
        "schemaVersion": 37,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "timezone": "browser",
        "templating": {"list": templating},
        "annotations": {"list": []},
        "panels": panels,
    })
}

fn node_variable(metric: &str) -> Value {
    json!({
        "name": "node",
        "label": "Node",
        "type": "query",
        "datasource": datasource(),
        "query": {"query": format!("label_values({metric}, node)"), "refId": "node"},
        "definition": format!("label_values({metric}, node)"),
        "includeAll": true,
        "multi": true,
        "refresh": 2,
        "current": {"selected": true, "text": ["All"], "value": ["$__all"]},
    })
}

/// A PromQL string literal.
fn lit(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The metric name Prometheus sees for a custom metric field.
pub fn custom_metric_name(metric: &str, field: &str) -> String {
    super::prometheus::name(&format!("aisprint_custom_{metric}_{field}"))
}

/// The node selector of the cluster and custom dashboards (their `node` variable).
const NODE: &str = "node=~\"$node\"";

/// A query and its legend.
fn q(e: String, l: &str) -> (String, String) {
    (e, l.to_string())
}

/// Where the `i`-th panel of a two-column grid of 12 x 8 panels goes.
fn grid(i: u32) -> (u32, u32, u32, u32) {
    (if i % 2 == 0 { 0 } else { 12 }, (i / 2) * 8, 12, 8)
}

/// The cluster monitoring panels: host metrics of every node and the agents' state.
fn cluster_panels() -> Vec<Value> {
    vec![
        panel(
            1,
            "CPU usage",
            "percent",
            (0, 0, 12, 8),
            &[q(format!("aisprint_host_cpu_usage_percent{{cpu=\"cpu-total\",{NODE}}}"), "{{node}}")],
        ),
        panel(
            2,
            "Memory used",
            "percent",
            (12, 0, 12, 8),
            &[q(format!("aisprint_host_mem_used_percent{{{NODE}}}"), "{{node}}")],
        ),
        panel(
            3,
            "Load (1 min)",
            "short",
            (0, 8, 12, 8),
            &[q(format!("aisprint_host_system_load1{{{NODE}}}"), "{{node}}")],
        ),
        panel(
            4,
            "Disk used",
            "percent",
            (12, 8, 12, 8),
            &[q(format!("aisprint_host_disk_used_percent{{{NODE}}}"), "{{node}} {{path}}")],
        ),
        panel(
            5,
            "Network (bytes/s)",
            "Bps",
            (0, 16, 12, 8),
            &[
                q(format!("rate(aisprint_host_net_bytes_recv{{{NODE}}}[2m])"), "{{node}} {{interface}} in"),
                q(format!("rate(aisprint_host_net_bytes_sent{{{NODE}}}[2m])"), "{{node}} {{interface}} out"),
            ],
        ),
        panel(
            6,
            "Agents: connected, buffered batches",
            "short",
            (12, 16, 12, 8),
            &[
                q(format!("aisprint_agent_connected{{{NODE}}}"), "{{node}} connected"),
                q(format!("aisprint_agent_buffered{{{NODE}}}"), "{{node}} buffered"),
            ],
        ),
    ]
}

/// The execution-time constraint panels: each constraint's value against its threshold,
/// then the violations and the throughput.
fn qos_panels(constraints: &[Constraint]) -> Vec<Value> {
    let mut qos = Vec::new();
    let mut id = 1;
    for (i, c) in constraints.iter().enumerate() {
        let kind = match c.kind {
            Kind::Local => "local",
            Kind::Global => "global",
        };
        let sel = format!("constraint={},path={}", lit(&c.name), lit(&c.path.join(",")));
        qos.push(panel(
            id,
            &format!("{} ({kind}: {}) threshold {} s", c.name, c.path.join(" -> "), c.threshold),
            "s",
            grid(i as u32),
            &[
                q(format!("aisprint_qos_value_seconds{{{sel}}}"), "{{source}} value"),
                q(format!("max(aisprint_qos_threshold_seconds{{{sel}}})"), "threshold"),
            ],
        ));
        id += 1;
    }
    let y = constraints.len().div_ceil(2) as u32 * 8;
    qos.push(panel(
        id,
        "Violations",
        "short",
        (0, y, 12, 8),
        &[q("aisprint_qos_violated".into(), "{{source}} {{constraint}}")],
    ));
    qos.push(panel(
        id + 1,
        "Throughput (sessions/s)",
        "short",
        (12, y, 12, 8),
        &[q("aisprint_throughput_sessions_per_second".into(), "{{source}} {{component_name}}")],
    ));
    qos
}

/// The custom metric panels: one per field of each metric.
fn custom_panels(custom: &[(String, Vec<String>)]) -> Vec<Value> {
    let mut cm = Vec::new();
    let mut id = 1;
    for (metric, fields) in custom {
        for f in fields {
            cm.push(panel(
                id,
                &format!("{metric}: {f}"),
                "short",
                grid(id - 1),
                &[q(format!("{}{{{NODE}}}", custom_metric_name(metric, f)), "{{node}} {{component_name}}")],
            ));
            id += 1;
        }
    }
    cm
}

/// The three dashboards: (file name, document).
pub fn generate(app: &str, constraints: &[Constraint], custom: &[(String, Vec<String>)]) -> Vec<(String, Value)> {
    let slug: String =
        app.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let (cluster, qos, cm) = (cluster_panels(), qos_panels(constraints), custom_panels(custom));
    vec![
        (
            "cluster-monitoring.json".into(),
            dashboard(
                &format!("{slug}-cluster"),
                &format!("{app}: cluster monitoring"),
                cluster,
                vec![node_variable("aisprint_agent_connected")],
            ),
        ),
        (
            "execution-time-constraints.json".into(),
            dashboard(&format!("{slug}-qos"), &format!("{app}: execution time constraints"), qos, vec![]),
        ),
        (
            "custom-metrics.json".into(),
            dashboard(
                &format!("{slug}-custom"),
                &format!("{app}: custom metrics"),
                cm,
                vec![node_variable("aisprint_agent_connected")],
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_panel_per_constraint_and_custom_field() {
        let c = vec![
            Constraint {
                name: "local_constraint_1".into(),
                kind: Kind::Local,
                path: vec!["c1".into()],
                threshold: 20.0,
            },
            Constraint {
                name: "global_constraint_1".into(),
                kind: Kind::Global,
                path: vec!["c1".into(), "c2".into()],
                threshold: 30.0,
            },
        ];
        let d =
            generate("mask detection", &c, &[("masks".into(), vec!["masks_count".into(), "no_masks_count".into()])]);
        assert_eq!(d.len(), 3);
        let qos = &d[1].1;
        assert_eq!(qos["panels"].as_array().map(Vec::len), Some(4));
        assert_eq!(qos["uid"], "mask-detection-qos");
        let expr = qos["panels"][1]["targets"][0]["expr"].as_str().unwrap_or_default();
        assert_eq!(expr, "aisprint_qos_value_seconds{constraint=\"global_constraint_1\",path=\"c1,c2\"}");
        let custom = &d[2].1;
        assert_eq!(custom["panels"][1]["targets"][0]["expr"], "aisprint_custom_masks_no_masks_count{node=~\"$node\"}");
        assert_eq!(d[0].1["__inputs"][0]["pluginId"], "prometheus");
        // Every panel has its own id and reads the data source asked for at import.
        for (_, doc) in &d {
            let ids: Vec<u64> =
                doc["panels"].as_array().into_iter().flatten().filter_map(|p| p["id"].as_u64()).collect();
            let mut u = ids.clone();
            u.dedup();
            assert_eq!(u.len(), ids.len());
            for p in doc["panels"].as_array().into_iter().flatten() {
                assert_eq!(p["datasource"]["uid"], DS);
            }
        }
    }
}
