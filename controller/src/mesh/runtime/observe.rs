//! What the runtime observes before deciding: the arrival rate (files put or shipped into the
//! first units' clusters over the window, as the controller counts them), each component's
//! response time from its services' finished jobs (waiting included: a queue that grows is a
//! response time that grows), their utilisation (the time their jobs ran over the window and
//! their parallelism), where each runs, the components whose local constraint it breaks, and
//! (filled in by the task) the files shipped to each node: their delay and bandwidth.

use std::collections::BTreeMap;

use aisprint_proto::v1::JobInfo;
use aisprint_space4aid::model::Model;
use serde::Serialize;

use super::plan::{Nodes, Placed};
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
    /// Component -> the busiest of its units: the seconds its jobs ran in the window over
    /// the window times its parallelism (1: always busy).
    pub utilisation: BTreeMap<String, f64>,
    /// Unit -> `resource on node`.
    pub placed_on: BTreeMap<String, String>,
    /// "component: 3.1 s > 2 s" for each local constraint broken.
    pub violated: Vec<String>,
    /// Node -> files shipped there in the window (by the controller).
    pub links: BTreeMap<String, Link>,
}

/// What the files shipped to a node measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Link {
    pub files: usize,
    /// Mean seconds from sending a file to the agent's answer.
    pub delay_s: f64,
    /// Bytes per second while shipping (bytes over the seconds the transfers took).
    pub bytes_per_s: f64,
}

impl Link {
    pub fn of(files: usize, bytes: u64, seconds: f64) -> Option<Link> {
        (files > 0).then(|| Link {
            files,
            delay_s: seconds / files as f64,
            bytes_per_s: if seconds > 0.0 { bytes as f64 / seconds } else { 0.0 },
        })
    }
}

/// Seconds of `[a, b]` within `[lo, hi]`.
fn overlap((a, b): (f64, f64), (lo, hi): (f64, f64)) -> f64 {
    (b.min(hi) - a.max(lo)).max(0.0)
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
    (units, nodes): (&[Placed], &Nodes),
    arrivals: usize,
    jobs: &[JobInfo],
    (now, window_s): (f64, f64),
    placed_at: f64,
) -> Observed {
    let mut o = Observed { window_s, lambda: arrivals as f64 / window_s.max(1e-3), ..Default::default() };
    let since = now - window_s;
    for u in units {
        let node = nodes.get(&u.resource).map_or("no agent", String::as_str);
        o.placed_on.insert(u.unit.clone(), format!("{} on {node}", u.resource));
    }
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
        let mut busiest: f64 = 0.0;
        for u in &units_of {
            let service = service_of(&u.unit);
            let busy: f64 = jobs
                .iter()
                .filter(|j| j.service == service && j.started > 0.0)
                .map(|j| overlap((j.started, if j.finished > 0.0 { j.finished } else { now }), (since, now)))
                .sum();
            busiest = busiest.max(busy / (window_s.max(1e-3) * f64::from(u.parallelism.max(1))));
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
        o.utilisation.insert(comp.name.clone(), busiest);
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

    #[test]
    fn busy_time_counts_within_the_window_only() {
        assert_eq!(overlap((5.0, 15.0), (10.0, 20.0)), 5.0);
        assert_eq!(overlap((0.0, 5.0), (10.0, 20.0)), 0.0);
        assert_eq!(overlap((12.0, 14.0), (10.0, 20.0)), 2.0);
        let l = Link::of(4, 4_000, 2.0).expect("link");
        assert_eq!((l.delay_s, l.bytes_per_s), (0.5, 2_000.0));
        assert!(Link::of(0, 0, 0.0).is_none());
    }
}
