//! The agent's `/metrics`: its counters, the last check of each constraint, throughput,
//! drift watches, and the latest host and custom metrics.

use aisprint_ams::engine::State;
use aisprint_ams::prometheus::{Exposition, Type};

use super::recorder::Snapshot;

pub fn render(s: &Snapshot) -> String {
    let mut e = Exposition::new();
    let node = s.node.as_str();
    let n = [("node", node)];
    let c = &s.counters;
    for (m, help, v) in [
        ("aisprint_records_accepted_total", "Records accepted and stored.", s.accepted),
        (
            "aisprint_records_refused_total",
            "Records refused: malformed, over a limit (docs/security.md), or under a reserved name.",
            s.refused,
        ),
        ("aisprint_records_failed_total", "Records that could not be stored (buffer full or failing).", s.failed),
        ("aisprint_executions_total", "Execution records evaluated.", c.executions),
        ("aisprint_checks_total", "Constraint checks run.", c.checks),
        ("aisprint_notifications_total", "Notifications raised.", c.notifications),
        (
            "aisprint_notifications_delivered_total",
            "Notifications delivered to their endpoint.",
            s.notifications_delivered,
        ),
        ("aisprint_sessions_dropped_total", "Sessions forgotten early (per-component cap).", c.sessions_dropped),
    ] {
        e.add(m, help, Type::Counter, n, v as f64);
    }
    e.add(
        "aisprint_outbox_pending",
        "Notifications waiting for their endpoint.",
        Type::Gauge,
        n,
        s.outbox_pending as f64,
    );
    e.add("aisprint_buffer_batches", "Batches in the agent's buffer.", Type::Gauge, n, s.buffered as f64);
    e.add(
        "aisprint_check_duration_seconds",
        "How long the last check of the constraints took.",
        Type::Gauge,
        n,
        s.last_check_seconds,
    );
    for st in &s.statuses {
        let path = st.path.join(",");
        let kind = match st.kind {
            aisprint_ams::engine::Kind::Local => "local",
            aisprint_ams::engine::Kind::Global => "global",
        };
        let l = [("node", node), ("constraint", st.name.as_str()), ("kind", kind), ("path", path.as_str())];
        e.add("aisprint_qos_threshold_seconds", "The constraint's threshold.", Type::Gauge, l, st.threshold);
        if let Some(v) = st.value {
            e.add(
                "aisprint_qos_value_seconds",
                "The constraint's value at its last check (mean over the window's sessions).",
                Type::Gauge,
                l,
                v,
            );
        }
        e.add(
            "aisprint_qos_violated",
            "1 when the last check was above the threshold.",
            Type::Gauge,
            l,
            f64::from(u8::from(st.state == State::Violated)),
        );
        e.add("aisprint_qos_sessions", "Sessions in the last check's window.", Type::Gauge, l, st.sessions as f64);
    }
    if let Some((comp, v)) = &s.throughput {
        e.add(
            "aisprint_throughput_sessions_per_second",
            "Distinct sessions of the throughput component per second, over the window.",
            Type::Gauge,
            [("node", node), ("component_name", comp.as_str())],
            *v,
        );
    }
    for (m, f, d) in &s.drift_watches {
        e.add(
            "aisprint_drift_detected_total",
            "Drifts detected on a watched metric field.",
            Type::Counter,
            [("node", node), ("metric", m.as_str()), ("field", f.as_str())],
            *d as f64,
        );
    }
    for p in &s.host {
        latest(&mut e, "host", "Host metric (AMS/Telegraf name).", node, &p.measurement, &p.tags, &p.fields);
    }
    for smp in &s.custom {
        latest(&mut e, "custom", "Custom application metric.", node, &smp.measurement, &smp.tags, &smp.fields);
    }
    e.render()
}

/// The latest value of each field of a point, as `aisprint_<family>_<measurement>_<field>`.
fn latest<'a>(
    e: &mut Exposition,
    family: &str,
    help: &str,
    node: &str,
    measurement: &str,
    tags: impl IntoIterator<Item = (&'a String, &'a String)>,
    fields: impl IntoIterator<Item = (&'a String, &'a f64)>,
) {
    let mut labels: Vec<(&str, &str)> = vec![("node", node)];
    labels.extend(tags.into_iter().filter(|(k, _)| k.as_str() != "node").map(|(k, v)| (k.as_str(), v.as_str())));
    for (f, v) in fields {
        e.add(&format!("aisprint_{family}_{measurement}_{f}"), help, Type::Gauge, labels.iter().copied(), *v);
    }
}
