//! What the runtime observes before deciding: the arrival rate (files put or shipped into the
//! first units' clusters over the window, as the controller counts them), each component's
//! response time from its services' finished jobs (waiting included: a queue that grows is a
//! response time that grows), and the components whose local constraint it breaks.

use std::collections::BTreeMap;

use aisprint_proto::v1::JobInfo;
use aisprint_space4aid::model::Model;
use serde::Serialize;

use super::plan::Placed;
use super::service_of;

/// What was observed, over `window_s`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Observed {
    pub window_s: f64,
    /// Requests per second into the application.
    pub lambda: f64,
    /// Component -> mean response time (s) of its jobs finished in the window (its units'
    /// summed).
    pub response_s: BTreeMap<String, f64>,
    /// Component -> jobs finished in the window.
    pub finished: BTreeMap<String, usize>,
    /// "component: 3.1 s > 2 s" for each local constraint broken.
    pub violated: Vec<String>,
}

/// The units no other unit feeds (the application's entries).
pub fn entries(units: &[Placed]) -> Vec<&str> {
    units.iter().filter(|u| !units.iter().any(|v| v.next.contains(&u.unit))).map(|u| u.unit.as_str()).collect()
}

/// The observation from `arrivals` (files into the entries over the window), `jobs` (the
/// latest service jobs) and the model (which unit belongs to which component, and their
/// thresholds). `now` is Unix seconds; only the jobs that arrived since `placed_at` (when
/// the current placement was applied) tell its response times.
pub fn observe(
    model: &Model,
    units: &[Placed],
    arrivals: usize,
    jobs: &[JobInfo],
    (now, window_s): (f64, f64),
    placed_at: f64,
) -> Observed {
    let mut o = Observed { window_s, lambda: arrivals as f64 / window_s.max(1e-3), ..Default::default() };
    let since = now - window_s;
    for comp in &model.components {
        let units_of: Vec<&Placed> = units
            .iter()
            .filter(|u| {
                comp.deployments.iter().flat_map(|d| &d.partitions).any(|&p| model.partitions[p].name == u.unit)
            })
            .collect();
        if units_of.is_empty() {
            continue;
        }
        let mut total = 0.0;
        let mut n_min = usize::MAX;
        for u in &units_of {
            let service = service_of(&u.unit);
            let done: Vec<f64> = jobs
                .iter()
                .filter(|j| j.service == service && j.finished >= since && j.finished > 0.0 && j.created >= placed_at)
                .map(|j| j.finished - j.created)
                .collect();
            n_min = n_min.min(done.len());
            if !done.is_empty() {
                total += done.iter().sum::<f64>() / done.len() as f64;
            }
        }
        o.finished.insert(comp.name.clone(), n_min);
        if n_min == 0 {
            continue;
        }
        o.response_s.insert(comp.name.clone(), total);
        if let Some(t) = comp.local_threshold {
            if total > t {
                o.violated.push(format!("{}: {total:.2} s > {t} s", comp.name));
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_the_units_nothing_feeds() {
        let p = |u: &str, next: &[&str]| Placed {
            unit: u.into(),
            resource: "R".into(),
            parallelism: 1,
            next: next.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(entries(&[p("a", &["b"]), p("b", &["c"]), p("c", &[])]), ["a"]);
        assert_eq!(entries(&[p("a", &["c"]), p("b", &["c"]), p("c", &[])]), ["a", "b"]);
    }
}
