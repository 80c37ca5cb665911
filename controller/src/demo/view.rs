//! The demo's live view and its report, computed from snapshots without IO: what the
//! controller says (agents, the runtime's status) and what the demo counted (frames sent and
//! out).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// classify's constraint (the burst example's `exec_time(local_time_thr=2)`).
pub const THRESHOLD_S: f64 = 2.0;

/// One look at the mesh.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub t_s: f64,
    pub duration_s: f64,
    pub rate: f64,
    pub sent: usize,
    pub done: usize,
    /// (node, resource, connected).
    pub agents: Vec<(String, String, bool)>,
    /// `aisprint runtime status --json`.
    pub status: Value,
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn s(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// The screen: one block, redrawn every second.
pub fn render(x: &Snapshot) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "AI-SPRINT demo: {:.0} s of {:.0} (Ctrl-C stops)   frames in: {:.1}/s   sent {}   out {}   on their way {}\n\n",
        x.t_s,
        x.duration_s,
        x.rate,
        x.sent,
        x.done,
        x.sent.saturating_sub(x.done)
    ));
    let agents: Vec<String> =
        x.agents.iter().map(|(n, r, c)| format!("{n} ({r}) {}", if *c { "connected" } else { "AWAY" })).collect();
    out.push_str(&format!("agents      {}\n", agents.join("  |  ")));
    let cur = &x.status["current"];
    if cur.is_object() {
        let units: Vec<String> = cur["units"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| {
                let node = cur["nodes"][s(&u["resource"])].as_str().unwrap_or("?").to_string();
                format!("{} on {node} x{}", s(&u["unit"]), u["parallelism"])
            })
            .collect();
        out.push_str(&format!(
            "placement   {} (cost {:.2}/h): {}\n",
            s(&cur["deployment"]),
            f(&cur["cost"]),
            units.join(", ")
        ));
    } else {
        out.push_str("placement   being applied...\n");
    }
    let obs = &x.status["last_check"]["observed"];
    match obs["response_s"]["classify"].as_f64() {
        Some(r) => out.push_str(&format!(
            "QoS         classify {r:.2} s / {THRESHOLD_S} s {}   (observed {:.2} req/s)\n",
            if r > THRESHOLD_S { "VIOLATED" } else { "ok" },
            f(&obs["lambda"])
        )),
        None => out.push_str("QoS         classify: no frame finished since the last change\n"),
    }
    if let Some(p) = x.status["pending"].as_object() {
        let done = p["done"].as_u64().unwrap_or(0) as usize;
        let steps: Vec<String> = p["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, st)| format!("[{}] {}", if i < done { "x" } else { " " }, s(st)))
            .collect();
        out.push_str(&format!("changing    to {}: {}\n", s(&p["to"]), steps.join("  ")));
    }
    out.push_str(&format!("decision    {}\n\nchanges\n", s(&x.status["last_check"]["decision"])));
    let hist = x.status["history"].as_array().cloned().unwrap_or_default();
    for r in hist.iter().take(6) {
        out.push_str(&format!(
            "  #{} {} -> {} ({}): {}\n",
            r["id"],
            s(&r["from"]),
            s(&r["to"]),
            s(&r["via"]),
            s(&r["reason"])
        ));
    }
    out
}

/// A reconfiguration as the report gives it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reconfiguration {
    pub at_s: f64,
    pub trigger: String,
    pub via: String,
    pub from: String,
    pub to: String,
    /// Seconds from the change until classify's observed response time was under its
    /// threshold (None: not seen within the demo).
    pub violation_cleared_after_s: Option<f64>,
}

/// The report of `--report FILE`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub duration_s: f64,
    pub files_sent: usize,
    pub files_done: usize,
    pub duplicates: usize,
    pub lost: usize,
    pub reconfigurations: Vec<Reconfiguration>,
}

/// The reconfigurations of the runtime's history (the start placement left out), each with
/// the first snapshot after it whose classify response was under the threshold. `t0` is the
/// demo's start (Unix seconds).
pub fn reconfigurations(history: &[Value], samples: &[(f64, Option<f64>)], t0: f64) -> Vec<Reconfiguration> {
    let mut out = Vec::new();
    for r in history.iter().filter(|r| r["trigger"] != "start") {
        let at = f(&r["at_unix_s"]) - t0;
        let cleared =
            samples.iter().find(|(t, resp)| *t >= at && resp.is_some_and(|v| v <= THRESHOLD_S)).map(|(t, _)| t - at);
        out.push(Reconfiguration {
            at_s: at,
            trigger: s(&r["trigger"]),
            via: s(&r["via"]),
            from: s(&r["from"]),
            to: s(&r["to"]),
            violation_cleared_after_s: cleared,
        });
    }
    out.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    out
}

/// Frames out per name -> how many times; (done, duplicates, lost).
pub fn count(out: &BTreeMap<String, usize>, sent: usize) -> (usize, usize, usize) {
    let done = out.len();
    let dups = out.values().filter(|n| **n > 1).map(|n| n - 1).sum();
    (done, dups, sent.saturating_sub(done))
}

/// The rate frames are fed at `t` of `duration` seconds: 1/s, then 2.5/s (beyond what the
/// edge server sustains, though not for its performance model), then 0.5/s.
pub fn rate_at(t: f64, duration: f64) -> f64 {
    let x = t / duration.max(1.0);
    if x < 0.2 {
        1.0
    } else if x < 0.55 {
        2.5
    } else {
        0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_report_says_when_each_violation_cleared() {
        let h = [
            json!({"trigger": "start", "at_unix_s": 100.0, "via": "placement", "from": "nothing", "to": "base"}),
            json!({"trigger": "periodic", "at_unix_s": 130.0, "via": "resolve", "from": "base", "to": "deployment1"}),
        ];
        let samples = [(29.0, Some(3.0)), (31.0, Some(2.5)), (34.5, Some(1.1))];
        let r = reconfigurations(&h, &samples, 100.0);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].at_s, r[0].violation_cleared_after_s), (30.0, Some(4.5)));
        let out: BTreeMap<String, usize> = [("a".into(), 1), ("b".into(), 2)].into_iter().collect();
        assert_eq!(count(&out, 3), (2, 1, 1));
        assert_eq!((rate_at(5.0, 90.0), rate_at(30.0, 90.0), rate_at(80.0, 90.0)), (1.0, 2.5, 0.5));
    }

    #[test]
    fn the_view_shows_the_placement_and_the_constraint() {
        let status = json!({
            "current": {"deployment": "base", "cost": 0.25, "nodes": {"EdgeServer": "edge-server"},
                        "units": [{"unit": "classify", "resource": "EdgeServer", "parallelism": 1}]},
            "last_check": {"observed": {"lambda": 4.9, "response_s": {"classify": 3.4}}, "decision": "x"},
            "history": [],
        });
        let v = render(&Snapshot {
            t_s: 10.0,
            duration_s: 90.0,
            rate: 5.0,
            sent: 50,
            done: 40,
            status,
            ..Default::default()
        });
        assert!(v.contains("classify on edge-server x1"), "{v}");
        assert!(v.contains("classify 3.40 s / 2 s VIOLATED"), "{v}");
        assert!(v.contains("on their way 10"), "{v}");
    }
}
