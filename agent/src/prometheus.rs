//! The agent's `/metrics`: its counters, the last check of each constraint, throughput,
//! drift watches, and the latest host and custom metrics.

use aisprint_shared::ams::engine::State;
use aisprint_shared::ams::prometheus::{Exposition, Type};

use crate::ams::Snapshot;

pub fn render(s: &Snapshot) -> String {
    let mut e = Exposition::new();
    let node = s.node.as_str();
    let n = [("node", node)];
    let c = &s.counters;
    for (m, help, v) in [
        ("aisprint_records_accepted_total", "Records accepted and stored.", s.accepted),
        ("aisprint_records_refused_total", "Malformed records refused.", s.refused),
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
            aisprint_shared::ams::engine::Kind::Local => "local",
            aisprint_shared::ams::engine::Kind::Global => "global",
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
        for (f, v) in &p.fields {
            let mut labels: Vec<(&str, &str)> = vec![("node", node)];
            labels.extend(p.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            e.add(
                &format!("aisprint_host_{}_{}", p.measurement, f),
                "Host metric (AMS/Telegraf name).",
                Type::Gauge,
                labels,
                *v,
            );
        }
    }
    for smp in &s.custom {
        for (f, v) in &smp.fields {
            let mut labels: Vec<(&str, &str)> = vec![("node", node)];
            labels.extend(smp.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            e.add(
                &format!("aisprint_custom_{}_{}", smp.measurement, f),
                "Custom application metric.",
                Type::Gauge,
                labels,
                *v,
            );
        }
    }
    e.render()
}
