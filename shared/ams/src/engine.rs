//! The AMS evaluation: QoS constraints over a time window, throughput, alert rules and drift
//! watches, with the AMS's semantics.
//!
//! A constraint's value at a check is the mean, over the sessions whose last component ended
//! within the window, of (latest job end of the path's last component - earliest job start of
//! its first component) for that session; a local constraint is the path of one component. A
//! constraint is violated when that mean is above its threshold; a violated constraint gives
//! one notification per check. Throughput is the number of distinct sessions of the
//! throughput component that ended within the window, divided by the window.
//!
//! The engine is IO-free: time comes in as Unix seconds; notifications and the samples that
//! record each check come out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use serde::Serialize;

use super::drift::{Drift, DriftParams, PageHinkley, WindowTest};
use super::record::{secs_to_ns, DriftWatch, Execution, Sample};
use super::setup::{AlertRule, Monitoring};
use super::stattest::Test;
use aisprint_model::app::qos::QosConstraints;

/// Sessions kept per component at most (the oldest go first, counted).
pub const MAX_SESSIONS: usize = 200_000;
/// Components followed at most; records of others are counted, not kept.
pub const MAX_COMPONENTS: usize = 1_000;
/// Drift watches at most.
pub const MAX_WATCHES: usize = 100;
/// Series (a measurement's field and a set of tags) followed for alerts and drift, all
/// together, at most; and the bytes of their names.
pub const MAX_SERIES_TOTAL: usize = 50_000;
pub const MAX_SERIES_BYTES: usize = 4 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Local,
    Global,
}

/// A constraint to check.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    pub name: String,
    pub kind: Kind,
    /// One component for a local constraint.
    pub path: Vec<String>,
    /// Seconds.
    pub threshold: f64,
}

/// The constraints of a QoS file (`ams/qos_constraints_L<k>.yaml`, `space4ai-d/qos_constraints.yaml`).
pub fn constraints_of(q: &QosConstraints) -> (Vec<Constraint>, Option<String>) {
    let num = |n: &aisprint_model::app::Number| aisprint_model::app::num(n);
    let mut out = Vec::new();
    for (name, c) in &q.system.local_constraints {
        out.push(Constraint {
            name: name.clone(),
            kind: Kind::Local,
            path: vec![c.component_name.clone()],
            threshold: num(&c.threshold),
        });
    }
    for (name, c) in &q.system.global_constraints {
        out.push(Constraint {
            name: name.clone(),
            kind: Kind::Global,
            path: c.path_components.clone(),
            threshold: num(&c.threshold),
        });
    }
    (out, q.system.throughput_component.as_ref().and_then(|t| t.name()).map(str::to_string))
}

/// Where the engine runs: on a node (everything it is given), or on the controller (global
/// constraints whose components were seen on more than one node; the agents check the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Node,
    CrossNode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Ok,
    Violated,
    NoData,
    /// Checked elsewhere (by an agent: all its components ran on one node).
    Elsewhere,
}

/// The last check of a constraint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub name: String,
    pub kind: Kind,
    pub path: Vec<String>,
    pub threshold: f64,
    pub value: Option<f64>,
    pub sessions: usize,
    pub state: State,
    pub check_time: f64,
}

/// A notification to send: the endpoint (None: the default one) and the AMS body.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub url: Option<String>,
    pub body: serde_json::Value,
}

#[derive(Debug)]
struct SessionAgg {
    min_start: f64,
    max_end: f64,
    /// The entry of `order` that holds `max_end`.
    latest: u64,
}

/// A job end as an ordered key: times are positive and finite (records are checked), and the
/// bits of positive floats sort as the floats do.
fn end_key(t: f64) -> u64 {
    t.max(0.0).to_bits()
}

#[derive(Debug, Default)]
struct Component {
    sessions: FxHashMap<Arc<str>, SessionAgg>,
    /// (job end, entry number) -> session, in job end order (records that arrive late, such as
    /// an agent's backlog at the controller, take their place in O(log n)).
    order: BTreeMap<(u64, u64), Arc<str>>,
    next: u64,
    /// node -> last time a record came from it.
    nodes: FxHashMap<String, f64>,
}

impl Component {
    fn add(&mut self, e: &Execution, node: &str) {
        let n = self.next;
        self.next += 1;
        let key: Arc<str> = match self.sessions.get_key_value(e.session.as_str()) {
            Some((k, _)) => k.clone(),
            None => Arc::from(e.session.as_str()),
        };
        let a = self.sessions.entry(key.clone()).or_insert(SessionAgg {
            min_start: f64::INFINITY,
            max_end: f64::NEG_INFINITY,
            latest: n,
        });
        a.min_start = a.min_start.min(e.job_start);
        if e.job_end >= a.max_end {
            a.max_end = e.job_end;
            a.latest = n;
        }
        self.order.insert((end_key(e.job_end), n), key);
        if !node.is_empty() {
            let t = self.nodes.entry(node.to_string()).or_insert(e.job_end);
            *t = t.max(e.job_end);
        }
    }

    /// Forgets sessions that ended before `oldest`, the oldest beyond the cap, and those said
    /// to end after `newest` (a clock or unit that far off would keep them for ever).
    fn expire(&mut self, oldest: f64, newest: f64) -> u64 {
        let mut dropped = 0;
        while let Some(entry) = self.order.last_entry() {
            let (end, n) = *entry.key();
            if end <= end_key(newest) {
                break;
            }
            let s = entry.remove();
            if self.sessions.get(&s).is_some_and(|a| a.latest == n) {
                self.sessions.remove(&s);
                dropped += 1;
            }
        }
        loop {
            let over = self.order.len() > MAX_SESSIONS;
            let Some(entry) = self.order.first_entry() else { break };
            let (end, n) = *entry.key();
            if end >= end_key(oldest) && !over {
                break;
            }
            let s = entry.remove();
            if self.sessions.get(&s).is_some_and(|a| a.latest == n) {
                self.sessions.remove(&s);
                if over && end >= end_key(oldest) {
                    dropped += 1;
                }
            }
        }
        self.nodes.retain(|_, t| *t >= oldest);
        dropped
    }

    /// Sessions whose latest end is in `[from, to]`, with that end.
    fn ended_within(&self, from: f64, to: f64) -> Vec<(&str, f64)> {
        let mut out = Vec::new();
        for ((_, n), s) in self.order.range((end_key(from), 0)..=(end_key(to), u64::MAX)) {
            // Each session once: at the entry that holds its latest end.
            if let Some(a) = self.sessions.get(s).filter(|a| a.latest == *n) {
                out.push((&**s, a.max_end));
            }
        }
        out
    }
}

struct Watch {
    spec: DriftWatch,
    detectors: HashMap<Arc<str>, Detector>,
}

/// A series' drift detector: the test the watch names, or Page-Hinkley.
#[derive(Debug, Clone)]
enum Detector {
    PageHinkley(PageHinkley),
    Window(WindowTest),
}

impl Detector {
    fn of(w: &DriftWatch) -> Detector {
        match w.test.as_ref().and_then(|t| Test::parse(&t.test).map(|k| (k, t))) {
            Some((kind, t)) => Detector::Window(WindowTest::new(kind, t.threshold, t.window, w.interval_s)),
            None => Detector::PageHinkley(PageHinkley::new(DriftParams::default())),
        }
    }

    fn update(&mut self, x: f64, t: f64) -> Option<Drift> {
        match self {
            Detector::PageHinkley(d) => d.update(x),
            Detector::Window(d) => d.update(x, t),
        }
    }

    fn drifts(&self) -> u64 {
        match self {
            Detector::PageHinkley(d) => d.drifts,
            Detector::Window(d) => d.drifts,
        }
    }
}

/// The latest value of a series: (value, sample time, arrival time).
type Latest = (f64, f64, f64);

/// Series kept per (measurement, field) for alerts and drift at most.
const MAX_SERIES: usize = 1_000;
/// Series per watch with a two-sample test at most (each keeps two windows of up to
/// `aisprint_model::drift::MAX_WINDOW` values: 16 KB).
const MAX_WINDOW_SERIES: usize = 8;

/// A series' name: its tags, sorted (`camera=door,site=a`); one allocation shared by every
/// field of a sample.
fn series(tags: &BTreeMap<String, String>) -> Arc<str> {
    tags.iter()
        .filter(|(k, _)| k.as_str() != "component_name")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
        .into()
}

/// What the series of the engine hold, against [`MAX_SERIES_TOTAL`] and [`MAX_SERIES_BYTES`].
#[derive(Debug, Default)]
struct Budget {
    series: usize,
    bytes: usize,
}

impl Budget {
    /// Takes room for one more series named `name` (its key's bytes too), if there is any.
    fn take(&mut self, name: &str, key: &(String, String)) -> bool {
        let bytes = name.len() + key.0.len() + key.1.len() + 64;
        if self.series >= MAX_SERIES_TOTAL || self.bytes + bytes > MAX_SERIES_BYTES {
            return false;
        }
        self.series += 1;
        self.bytes += bytes;
        true
    }
}

/// Counters of the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub executions: u64,
    pub metrics: u64,
    pub checks: u64,
    pub notifications: u64,
    pub sessions_dropped: u64,
    /// Series, components and watches not followed because a limit was reached.
    pub series_dropped: u64,
    pub components_dropped: u64,
    pub watches_dropped: u64,
}

pub struct Engine {
    scope: Scope,
    period_s: f64,
    window_s: f64,
    /// How long a session's first job start is remembered (the AMS looks back 24 h; we keep
    /// at least an hour and ten windows).
    retention_s: f64,
    constraints: Vec<Constraint>,
    throughput_component: Option<String>,
    alerts: Vec<(AlertRule, f64)>,
    components: HashMap<String, Component>,
    /// (measurement, field) -> series (tags) -> (value, sample time, arrival time), the latest.
    last: HashMap<(String, String), HashMap<Arc<str>, Latest>>,
    budget: Budget,
    /// (measurement, field) -> the component that asked, and a detector per series (tags).
    watches: HashMap<(String, String), Watch>,
    next_check: Option<f64>,
    statuses: Vec<Status>,
    throughput: Option<(String, f64)>,
    pub counters: Counters,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("constraints", &self.constraints).field("counters", &self.counters).finish()
    }
}

/// Unix seconds as RFC 3339 (UTC, microseconds), as Flux writes times into JSON.
pub fn rfc3339(t: f64) -> String {
    let micros = (t * 1e6).round() as i64;
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The `constraint_check` point of a check (the AMS measurement): the value in
/// `local_<name>` or `global_<name>`, absent without sessions.
fn check_sample(c: &Constraint, value: Option<f64>, sessions: usize, now: f64) -> Sample {
    let prefix = match c.kind {
        Kind::Local => "local",
        Kind::Global => "global",
    };
    let mut fields: BTreeMap<String, f64> = [
        ("threshold".to_string(), c.threshold),
        ("violated".to_string(), f64::from(u8::from(value.is_some_and(|v| v > c.threshold)))),
        ("sessions".to_string(), sessions as f64),
    ]
    .into();
    if let Some(v) = value {
        fields.insert(format!("{prefix}_{}", c.name), v);
    }
    Sample {
        measurement: "constraint_check".into(),
        tags: [
            ("constraint".to_string(), c.name.clone()),
            ("kind".to_string(), prefix.to_string()),
            ("path".to_string(), c.path.join(",")),
        ]
        .into(),
        fields,
        time_ns: secs_to_ns(now),
    }
}

fn body(first_key: &str, name: &str, value: f64, now: f64) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert(first_key.into(), name.into());
    m.insert("value".into(), value.into());
    m.insert("check_time".into(), rfc3339(now).into());
    m.insert("status_timestamp".into(), secs_to_ns(now).into());
    serde_json::Value::Object(m)
}

impl Engine {
    pub fn new(scope: Scope, monitoring: &Monitoring) -> Self {
        Engine {
            scope,
            period_s: monitoring.period_s,
            window_s: monitoring.window_s,
            retention_s: (monitoring.window_s * 10.0).max(3600.0),
            constraints: Vec::new(),
            throughput_component: None,
            alerts: monitoring.alerts.iter().map(|a| (a.clone(), 0.0)).collect(),
            components: HashMap::new(),
            last: HashMap::new(),
            budget: Budget::default(),
            watches: HashMap::new(),
            next_check: None,
            statuses: Vec::new(),
            throughput: None,
            counters: Counters::default(),
        }
    }

    /// Adds the constraints of a QoS file; a constraint already there (same path) is kept once.
    pub fn add_constraints(&mut self, constraints: Vec<Constraint>, throughput_component: Option<String>) {
        for c in constraints {
            if !self.constraints.iter().any(|x| x.kind == c.kind && x.path == c.path && x.name == c.name) {
                self.constraints.push(c);
            }
        }
        if throughput_component.is_some() {
            self.throughput_component = throughput_component;
        }
    }

    pub fn add_alerts(&mut self, rules: &[AlertRule]) {
        self.alerts.extend(rules.iter().map(|a| (a.clone(), 0.0)));
    }

    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }

    /// An execution record; `node` is where it ran (the controller passes the batch's node).
    pub fn observe_execution(&mut self, e: &Execution, node: &str) {
        self.counters.executions += 1;
        if let Some(c) = self.components.get_mut(&e.component) {
            c.add(e, node);
        } else if self.components.len() < MAX_COMPONENTS {
            self.components.entry(e.component.clone()).or_default().add(e, node);
        } else {
            self.counters.components_dropped += 1;
        }
    }

    /// A metric value (host or custom), for alerts and drift watches. A sample stamped in the
    /// future counts as now (a wrong clock or unit must not pin a value).
    pub fn observe_metric(&mut self, s: &Sample, now: f64) -> Vec<Notification> {
        self.counters.metrics += 1;
        let t = (s.time_ns as f64 / 1e9).min(now);
        let name_of_series = series(&s.tags);
        let mut out = Vec::new();
        for (field, v) in &s.fields {
            let key = (s.measurement.clone(), field.clone());
            if let Some(w) = self.watches.get_mut(&key) {
                let n = w.detectors.len();
                // A window test keeps two windows per series: fewer series.
                let most = if w.spec.test.is_some() { MAX_WINDOW_SERIES } else { MAX_SERIES };
                let det = match w.detectors.get_mut(&name_of_series) {
                    Some(d) => Some(d),
                    None if n < most && self.budget.take(&name_of_series, &key) => {
                        Some(w.detectors.entry(name_of_series.clone()).or_insert_with(|| Detector::of(&w.spec)))
                    }
                    None => {
                        self.counters.series_dropped += 1;
                        None
                    }
                };
                if let Some(d) = det.and_then(|d| d.update(*v, t)) {
                    let name = format!("{}.{}", s.measurement, field);
                    let mut b = body("drift_alert", &name, *v, now);
                    if let serde_json::Value::Object(m) = &mut b {
                        m.insert("component".into(), w.spec.component.clone().into());
                        m.insert("series".into(), (*name_of_series).into());
                        m.insert("reference_mean".into(), d.reference_mean.into());
                        m.insert("direction".into(), if d.increase { "increase" } else { "decrease" }.into());
                        match &w.spec.test {
                            Some(t) => {
                                m.insert("test".into(), t.test.clone().into());
                                m.insert("p_value".into(), d.statistic.into());
                                m.insert("test_threshold".into(), t.threshold.into());
                            }
                            None => {
                                m.insert("test".into(), "page-hinkley".into());
                            }
                        }
                        // Data for retraining: from now for data_collection_period.
                        if let Some(c) = w.spec.collect_s {
                            m.insert("collect_until".into(), (now + c).into());
                        }
                    }
                    self.counters.notifications += 1;
                    out.push(Notification { url: None, body: b });
                }
            }
            if let Some(slot) = self.last.get_mut(&key).and_then(|all| all.get_mut(&name_of_series)) {
                if slot.1 <= t {
                    *slot = (*v, t, now);
                }
                continue;
            }
            let room = self.last.get(&key).map_or(0, HashMap::len) < MAX_SERIES;
            if room && self.budget.take(&name_of_series, &key) {
                self.last.entry(key).or_default().insert(name_of_series.clone(), (*v, t, now));
            } else {
                self.counters.series_dropped += 1;
            }
        }
        out
    }

    /// Starts watching a metric field for drift (idempotent).
    pub fn watch(&mut self, w: &DriftWatch) {
        let key = (w.metric.clone(), w.field.clone());
        if self.watches.contains_key(&key) {
            return;
        }
        if self.watches.len() >= MAX_WATCHES {
            self.counters.watches_dropped += 1;
            return;
        }
        self.watches.insert(key, Watch { spec: w.clone(), detectors: HashMap::new() });
    }

    /// Drift watches: (metric, field, drifts detected over all its series).
    pub fn watches(&self) -> Vec<(String, String, u64)> {
        let mut v: Vec<_> = self
            .watches
            .iter()
            .map(|((m, f), w)| (m.clone(), f.clone(), w.detectors.values().map(Detector::drifts).sum()))
            .collect();
        v.sort();
        v
    }

    /// When the next check is due (Unix seconds), for the caller's timer: `now` before the
    /// first tick (which sets the schedule).
    pub fn next_due(&self, now: f64) -> f64 {
        let Some(mut t) = self.next_check else { return now };
        for (a, due) in &self.alerts {
            t = t.min(if *due == 0.0 { now + a.every_s } else { *due });
        }
        t
    }

    /// Runs the checks due at `now`: constraints every period, each alert every `every`.
    /// Returns the notifications and the samples recording the checks (`constraint_check`,
    /// `throughput`).
    pub fn tick(&mut self, now: f64) -> (Vec<Notification>, Vec<Sample>) {
        let mut notes = Vec::new();
        let mut samples = Vec::new();
        if self.next_check.is_some_and(|d| d > now + 2.0 * self.period_s) {
            // The clock went back: start the schedule again rather than wait for it.
            self.next_check = Some(now + self.period_s);
            for (_, due) in &mut self.alerts {
                *due = 0.0;
            }
        }
        let due = *self.next_check.get_or_insert(now + self.period_s);
        if now >= due {
            self.next_check =
                Some(due + self.period_s * ((now - due) / self.period_s).floor().max(0.0) + self.period_s);
            self.check_constraints(now, &mut notes, &mut samples);
        }
        for i in 0..self.alerts.len() {
            let (rule, due) = &mut self.alerts[i];
            if *due == 0.0 {
                *due = now + rule.every_s;
                continue;
            }
            if now < *due {
                continue;
            }
            *due += rule.every_s * ((now - *due) / rule.every_s).floor().max(0.0) + rule.every_s;
            let lookback = rule.every_s.max(60.0);
            if let Some(all) = self.last.get(&(rule.metric.clone(), rule.field.clone())) {
                // Any series of the metric (one disk, one camera) that fires; one notification
                // per rule and check, naming the series.
                let mut firing: Vec<(&Arc<str>, f64)> = all
                    .iter()
                    .filter(|(_, (v, _, arrived))| now - arrived <= lookback && rule.threshold.fires(*v))
                    .map(|(k, (v, _, _))| (k, *v))
                    .collect();
                firing.sort_by(|a, b| a.0.cmp(b.0));
                if let Some((series, v)) = firing.first() {
                    let mut b = body(rule.kind.key(), &rule.name, *v, now);
                    if let (serde_json::Value::Object(m), false) = (&mut b, series.is_empty()) {
                        m.insert("series".into(), series.to_string().into());
                    }
                    notes.push(Notification { url: rule.url.clone(), body: b });
                }
            }
        }
        self.counters.notifications += notes.len() as u64;
        (notes, samples)
    }

    fn check_constraints(&mut self, now: f64, notes: &mut Vec<Notification>, samples: &mut Vec<Sample>) {
        let oldest = now - self.retention_s;
        for c in self.components.values_mut() {
            self.counters.sessions_dropped += c.expire(oldest, now + self.retention_s);
        }
        self.components.retain(|_, c| !c.order.is_empty());
        let from = now - self.window_s;
        let mut statuses = Vec::with_capacity(self.constraints.len());
        for c in &self.constraints {
            self.counters.checks += 1;
            let (first, last) = (&c.path[0], &c.path[c.path.len() - 1]);
            let mut st = Status {
                name: c.name.clone(),
                kind: c.kind,
                path: c.path.clone(),
                threshold: c.threshold,
                value: None,
                sessions: 0,
                state: State::NoData,
                check_time: now,
            };
            if self.scope == Scope::CrossNode {
                let nodes: HashSet<&str> = c
                    .path
                    .iter()
                    .filter_map(|p| self.components.get(p))
                    .flat_map(|x| x.nodes.iter().filter(|(_, t)| **t >= from).map(|(n, _)| n.as_str()))
                    .collect();
                if c.kind == Kind::Local || nodes.len() < 2 {
                    st.state = State::Elsewhere;
                    statuses.push(st);
                    continue;
                }
            }
            let (Some(fc), Some(lc)) = (self.components.get(first), self.components.get(last)) else {
                samples.push(check_sample(c, None, 0, now));
                statuses.push(st);
                continue;
            };
            let mut sum = 0.0;
            let mut n = 0usize;
            for (s, end) in lc.ended_within(from, now) {
                if let Some(a) = fc.sessions.get(s) {
                    sum += end - a.min_start;
                    n += 1;
                }
            }
            if n == 0 {
                // Recorded too, so that whoever shows the last check does not keep an old
                // violation.
                samples.push(check_sample(c, None, 0, now));
            } else {
                let v = sum / n as f64;
                st.value = Some(v);
                st.sessions = n;
                st.state = if v > c.threshold { State::Violated } else { State::Ok };
                samples.push(check_sample(c, Some(v), n, now));
                if v > c.threshold {
                    notes.push(Notification { url: None, body: body("constraint", &c.name, v, now) });
                }
            }
            statuses.push(st);
        }
        self.statuses = statuses;
        if let Some(tc) = &self.throughput_component {
            let v = self.components.get(tc).map_or(0, |c| c.ended_within(from, now).len()) as f64 / self.window_s;
            self.throughput = Some((tc.clone(), v));
            samples.push(Sample {
                measurement: "throughput".into(),
                tags: [("component_name".to_string(), tc.clone())].into(),
                fields: [("throughput".to_string(), v)].into(),
                time_ns: secs_to_ns(now),
            });
        }
    }

    /// The last check of each constraint.
    pub fn statuses(&self) -> &[Status] {
        &self.statuses
    }

    /// The throughput component and its last value (sessions per second).
    pub fn throughput(&self) -> Option<(&str, f64)> {
        self.throughput.as_ref().map(|(c, v)| (c.as_str(), *v))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod sim;
