//! The controller's part of QoS monitoring. One task owns it: it receives the points of
//! interest of every newly stored batch (execution records, the agents' checks and
//! notifications), checks the global constraints whose components ran on more than one node
//! (each agent checks what ran on it alone), keeps the last state of every check for
//! `aisprint qos status` and `/metrics`, and sends its own notifications through a durable
//! outbox (the agent's).

use std::collections::{BTreeMap, HashMap, VecDeque};

use std::sync::Arc;
use std::time::Duration;

use aisprint_ams::engine::{Engine, Kind, Scope, State as CheckState};
use aisprint_ams::prometheus::{Exposition, Type};
use aisprint_ams::record::Execution;
use aisprint_model::config::FAMILIES;
use aisprint_proto::commands::Reply;
use aisprint_proto::v1::{
    CommandResultReply, ConstraintState, JobInfo, Point, QosEvent, QosStatusReply, ThroughputState,
};
use aisprint_runtime::clock::now_s;
use aisprint_runtime::outbox::{Outbox, Outgoing};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::QosSetup;
use super::MeshError;

/// Series kept for `/metrics` at most (host and custom metrics, latest value each), and the
/// bytes of their names and labels.
const MAX_SERIES: usize = 100_000;
const MAX_SERIES_BYTES: usize = 64 << 20;

/// A series' labels, shared by the fields of a point.
type Labels = Arc<[(String, String)]>;

/// Agents' checks and throughputs kept at most.
const MAX_CHECKS: usize = 10_000;

/// Batches waiting for the QoS task at most.
pub const QUEUE: usize = 65_536;

/// Recent notifications kept for `qos status`.
const EVENTS: usize = 100;

/// What the task is asked.
#[derive(Debug)]
pub enum QosInput {
    /// The wanted points of a newly stored batch of `node`.
    Points {
        node: String,
        points: Vec<Point>,
    },
    Status(oneshot::Sender<QosStatusReply>),
    /// The QoS part of `/metrics`.
    Metrics(oneshot::Sender<String>),
    /// The latest service jobs (service filter, limit).
    Jobs(String, usize, oneshot::Sender<Vec<JobInfo>>),
    /// An agent's answer to a command (its id).
    CommandResult(String, oneshot::Sender<CommandResultReply>),
    /// The answer to a command, sent when it arrives (at once when it already has).
    AwaitResult(String, oneshot::Sender<CommandResultReply>),
    /// A command (its id) goes to a node: only that node's answer is taken (`Hub::send` says
    /// so before the command goes, so it is here before any answer).
    Expect(String, String),
}

/// Agents' answers to commands kept.
const RESULTS_KEPT: usize = 1_000;

/// Commands whose answer is awaited (id -> node) at most; the oldest are forgotten.
const EXPECTED_KEPT: usize = 100_000;

/// Service jobs kept for `aisprint oscar jobs|logs`.
pub const JOBS_KEPT: usize = 10_000;

struct Task {
    engine: Option<Engine>,
    endpoint: Option<String>,
    outbox: Option<Arc<Outbox>>,
    /// (node, constraint, path) -> the agent's last check.
    agent_checks: BTreeMap<(String, String, String), ConstraintState>,
    throughput: BTreeMap<(String, String), ThroughputState>,
    events: VecDeque<QosEvent>,
    /// (metric name, labels) -> latest value: host metrics and custom metrics of every node.
    /// The labels of one point are shared by its fields.
    gauges: BTreeMap<(String, Labels), f64>,
    gauge_bytes: usize,
    /// Series, checks and throughputs not kept because a limit was reached.
    dropped: u64,
    /// The latest jobs of the agents' services.
    jobs: VecDeque<JobInfo>,
    /// Command id -> the agent's answer, the latest last.
    results: VecDeque<(String, CommandResultReply)>,
    /// Command id -> who waits for its answer (files shipped between agents).
    waiters: HashMap<String, oneshot::Sender<CommandResultReply>>,
    /// Command id -> the node it went to, in the order they went.
    expected: HashMap<String, String>,
    expected_order: VecDeque<String>,
    /// Answers refused: from another node than the command's, or to no command sent.
    forged: u64,
    /// Where violations are passed on (SPACE4AI-R): who notified, and the AMS body.
    notify: Option<mpsc::Sender<(String, serde_json::Value)>>,
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Local => "local",
        Kind::Global => "global",
    }
}

fn state_name(s: CheckState) -> &'static str {
    match s {
        CheckState::Ok => "ok",
        CheckState::Violated => "violated",
        CheckState::NoData => "no_data",
        CheckState::Elsewhere => "elsewhere",
    }
}

/// Starts the task; the sender feeds it. Without a monitoring section it still collects the
/// agents' checks.
pub fn start(
    setup: Option<QosSetup>,
    notify: Option<mpsc::Sender<(String, serde_json::Value)>>,
    cancel: CancellationToken,
    tasks: &TaskTracker,
) -> Result<mpsc::Sender<QosInput>, MeshError> {
    // Bounded: when the task falls behind a flood of batches, the writer skips it (counted)
    // rather than let memory grow; storing and acknowledging batches never waits for it.
    let (tx, rx) = mpsc::channel(QUEUE);
    let mut task = Task {
        engine: None,
        endpoint: None,
        outbox: None,
        agent_checks: BTreeMap::new(),
        throughput: BTreeMap::new(),
        events: VecDeque::new(),
        gauges: BTreeMap::new(),
        gauge_bytes: 0,
        dropped: 0,
        jobs: VecDeque::new(),
        results: VecDeque::new(),
        waiters: HashMap::new(),
        expected: HashMap::new(),
        expected_order: VecDeque::new(),
        forged: 0,
        notify,
    };
    if let Some(s) = setup {
        let mut e = Engine::new(Scope::CrossNode, &s.loaded.monitoring);
        e.add_constraints(s.loaded.constraints.clone(), None);
        tracing::info!(constraints = e.constraints().len(), endpoint = ?s.endpoint.as_deref().map(aisprint_model::url::redact), "QoS checks across nodes");
        task.engine = Some(e);
        task.endpoint = s.endpoint;
        let outbox = Outbox::open(&s.outbox).map_err(|e| MeshError::Outbox(e.to_string()))?;
        tasks.spawn(outbox.clone().deliver(cancel.clone()));
        task.outbox = Some(outbox);
    }
    tasks.spawn(task.run(rx, cancel));
    Ok(tx)
}

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<QosInput>, cancel: CancellationToken) {
        loop {
            let now = now_s();
            let wait = self.engine.as_ref().map_or(Duration::from_secs(3600), |e| {
                Duration::from_secs_f64((e.next_due(now) - now).clamp(0.0, 3600.0))
            });
            tokio::select! {
                _ = cancel.cancelled() => break,
                m = rx.recv() => match m {
                    Some(m) => self.take(m),
                    None => break,
                },
                _ = tokio::time::sleep(wait) => self.tick().await,
            }
        }
    }

    fn take(&mut self, m: QosInput) {
        match m {
            QosInput::Points { node, points } => {
                for p in points {
                    self.point(&node, p);
                }
            }
            QosInput::Status(tx) => {
                let _ = tx.send(self.status());
            }
            QosInput::Metrics(tx) => {
                let _ = tx.send(self.metrics());
            }
            QosInput::Jobs(service, limit, tx) => {
                let v: Vec<JobInfo> = self
                    .jobs
                    .iter()
                    .rev()
                    .filter(|j| service.is_empty() || j.service == service)
                    .take(limit)
                    .cloned()
                    .collect();
                let _ = tx.send(v);
            }
            QosInput::CommandResult(id, tx) => {
                let _ = tx.send(self.result(&id).cloned().unwrap_or_default());
            }
            QosInput::Expect(id, node) => self.expect(id, node),
            QosInput::AwaitResult(id, tx) => match self.result(&id) {
                Some(r) => {
                    let _ = tx.send(r.clone());
                }
                None => {
                    // Waiters that gave up are forgotten here.
                    self.waiters.retain(|_, w| !w.is_closed());
                    self.waiters.insert(id, tx);
                }
            },
        }
    }

    fn expect(&mut self, id: String, node: String) {
        if self.expected.len() >= EXPECTED_KEPT {
            if let Some(old) = self.expected_order.pop_front() {
                self.expected.remove(&old);
            }
        }
        self.expected_order.push_back(id.clone());
        self.expected.insert(id, node);
    }

    /// The latest answer to a command, if it came.
    fn result(&self, id: &str) -> Option<&CommandResultReply> {
        self.results.iter().rev().find(|(k, _)| k == id).map(|(_, r)| r)
    }

    fn point(&mut self, node: &str, p: Point) {
        let ms = p.time_unix_ns / 1_000_000;
        match p.measurement.as_str() {
            "execution_time" => {
                if let Some(e) = &mut self.engine {
                    let tags = p.tags.into_iter().collect();
                    let fields = p.fields.into_iter().collect();
                    match Execution::from_point(&tags, &fields) {
                        Ok(x) => e.observe_execution(&x, node),
                        Err(err) => tracing::debug!(%node, error = %err, "execution record skipped"),
                    }
                }
            }
            "constraint_check" => {
                let name = p.tags.get("constraint").cloned().unwrap_or_default();
                let kind = p.tags.get("kind").cloned().unwrap_or_default();
                let path = p.tags.get("path").cloned().unwrap_or_default();
                let value = p.fields.get(&format!("{kind}_{name}")).copied();
                let violated = p.fields.get("violated").is_some_and(|v| *v != 0.0);
                let st = ConstraintState {
                    source: node.to_string(),
                    name: name.clone(),
                    kind,
                    path: path.split(',').map(str::to_string).collect(),
                    threshold: p.fields.get("threshold").copied().unwrap_or_default(),
                    has_value: value.is_some(),
                    value: value.unwrap_or_default(),
                    sessions: p.fields.get("sessions").copied().unwrap_or_default() as u32,
                    state: if value.is_none() {
                        "no_data"
                    } else if violated {
                        "violated"
                    } else {
                        "ok"
                    }
                    .into(),
                    check_unix_ms: ms,
                };
                let key = (node.to_string(), name, path);
                match self.agent_checks.get(&key) {
                    Some(old) if old.check_unix_ms > ms => {}
                    None if self.agent_checks.len() >= MAX_CHECKS => self.dropped += 1,
                    _ => {
                        self.agent_checks.insert(key, st);
                    }
                }
            }
            "throughput" => {
                let component = p.tags.get("component_name").cloned().unwrap_or_default();
                let st = ThroughputState {
                    source: node.to_string(),
                    component: component.clone(),
                    per_second: p.fields.get("throughput").copied().unwrap_or_default(),
                    check_unix_ms: ms,
                };
                let key = (node.to_string(), component);
                if self.throughput.len() < MAX_CHECKS || self.throughput.contains_key(&key) {
                    self.throughput.insert(key, st);
                } else {
                    self.dropped += 1;
                }
            }
            "oscar_job" => {
                let f = |k: &str| p.fields.get(k).copied().unwrap_or_default();
                let t = |k: &str| p.tags.get(k).cloned().unwrap_or_default();
                if self.jobs.len() == JOBS_KEPT {
                    self.jobs.pop_front();
                }
                self.jobs.push_back(JobInfo {
                    node: node.to_string(),
                    service: t("service"),
                    job: t("job").parse().unwrap_or_default(),
                    file: t("file"),
                    created: f("created"),
                    started: f("started"),
                    finished: f("finished"),
                    exit_status: f("exit_status") as i32,
                    attempts: f("attempts") as u32,
                    log_tail: t("log"),
                    spawned: f("spawned"),
                    function_start: f("function_start"),
                    function_end: f("function_end"),
                });
            }
            Reply::MEASUREMENT => self.answer(node, &p),
            "ams_notification" => {
                let body = p.tags.get("body").cloned().unwrap_or_default();
                tracing::info!(%node, notification = %body, "AMS notification from an agent");
                if let (Some(n), Ok(v)) = (&self.notify, serde_json::from_str(&body)) {
                    // Full: the runtime is behind; its next check covers this one.
                    let _ = n.try_send((node.to_string(), v));
                }
                self.event(node, body, ms);
            }
            m => self.gauge(node, m, &p),
        }
    }

    /// An agent's answer to a command: taken only from the node the command went to.
    fn answer(&mut self, node: &str, p: &Point) {
        let Some(r) = Reply::from_point(p) else { return };
        if self.expected.get(&r.command).map(String::as_str) != Some(node) {
            self.forged += 1;
            if self.forged < 20 || self.forged.is_power_of_two() {
                tracing::warn!(%node, command = %r.command, refused = self.forged,
                    "an answer to a command that did not go to this node: ignored");
            }
            return;
        }
        if self.results.len() == RESULTS_KEPT {
            self.results.pop_front();
        }
        let reply = CommandResultReply {
            known: true,
            ok: r.ok,
            message: r.message,
            node: node.to_string(),
            transient: r.transient,
        };
        if let Some(w) = self.waiters.remove(&r.command) {
            let _ = w.send(reply.clone());
        }
        self.results.push_back((r.command, reply));
    }

    /// A host or custom metric: the latest value of each field, for `/metrics`.
    fn gauge(&mut self, node: &str, m: &str, p: &Point) {
        let family = if FAMILIES.contains(&m) { "host" } else { "custom" };
        let mut labels: Vec<(String, String)> = vec![("node".into(), node.to_string())];
        labels.extend(p.tags.iter().filter(|(k, _)| k.as_str() != "node").map(|(k, v)| (k.clone(), v.clone())));
        labels.sort();
        let label_bytes: usize = labels.iter().map(|(k, v)| k.len() + v.len() + 16).sum();
        let labels: Labels = labels.into();
        for (f, v) in &p.fields {
            let key = (format!("aisprint_{family}_{m}_{f}"), labels.clone());
            if let Some(slot) = self.gauges.get_mut(&key) {
                *slot = *v;
                continue;
            }
            let bytes = key.0.len() + label_bytes + 64;
            if self.gauges.len() < MAX_SERIES && self.gauge_bytes + bytes <= MAX_SERIES_BYTES {
                self.gauge_bytes += bytes;
                self.gauges.insert(key, *v);
            } else {
                self.dropped += 1;
            }
        }
    }

    fn event(&mut self, source: &str, body_json: String, time_unix_ms: i64) {
        if self.events.len() == EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(QosEvent { source: source.to_string(), body_json, time_unix_ms });
    }

    async fn tick(&mut self) {
        let Some(e) = &mut self.engine else { return };
        let now = now_s();
        let (notes, _) = e.tick(now);
        for s in e.statuses().iter().filter(|s| s.state == CheckState::Violated) {
            tracing::warn!(constraint = %s.name, value = s.value.unwrap_or_default(), threshold = s.threshold,
                path = %s.path.join(","), "QoS constraint violated across nodes");
        }
        let mut out = Vec::new();
        for n in notes {
            self.event("controller", n.body.to_string(), (now * 1000.0) as i64);
            if let Some(tx) = &self.notify {
                let _ = tx.try_send(("controller".to_string(), n.body.clone()));
            }
            if let Some(url) = n.url.clone().or_else(|| self.endpoint.clone()) {
                out.push(Outgoing { url, body: n.body });
            }
        }
        if let Some(o) = &self.outbox {
            o.push_logged(out).await;
        }
    }

    fn status(&self) -> QosStatusReply {
        let mut constraints: Vec<ConstraintState> = self.agent_checks.values().cloned().collect();
        if let Some(e) = &self.engine {
            for s in e.statuses() {
                if s.state == CheckState::Elsewhere {
                    continue;
                }
                constraints.push(ConstraintState {
                    source: "controller".into(),
                    name: s.name.clone(),
                    kind: kind_name(s.kind).into(),
                    path: s.path.clone(),
                    threshold: s.threshold,
                    has_value: s.value.is_some(),
                    value: s.value.unwrap_or_default(),
                    sessions: s.sessions as u32,
                    state: state_name(s.state).into(),
                    check_unix_ms: (s.check_time * 1000.0) as i64,
                });
            }
        }
        QosStatusReply {
            constraints,
            throughput: self.throughput.values().cloned().collect(),
            events: self.events.iter().cloned().collect(),
        }
    }

    fn metrics(&self) -> String {
        let mut e = Exposition::new();
        for c in self.status().constraints {
            let path = c.path.join(",");
            let l = [
                ("source", c.source.as_str()),
                ("constraint", c.name.as_str()),
                ("kind", c.kind.as_str()),
                ("path", path.as_str()),
            ];
            e.add("aisprint_qos_threshold_seconds", "The constraint's threshold.", Type::Gauge, l, c.threshold);
            if c.has_value {
                e.add(
                    "aisprint_qos_value_seconds",
                    "The constraint's value at its last check.",
                    Type::Gauge,
                    l,
                    c.value,
                );
            }
            e.add(
                "aisprint_qos_violated",
                "1 when the last check was above the threshold.",
                Type::Gauge,
                l,
                f64::from(u8::from(c.state == "violated")),
            );
        }
        for t in self.throughput.values() {
            e.add(
                "aisprint_throughput_sessions_per_second",
                "Distinct sessions of the throughput component per second, over the window.",
                Type::Gauge,
                [("source", t.source.as_str()), ("component_name", t.component.as_str())],
                t.per_second,
            );
        }
        for ((name, labels), v) in &self.gauges {
            let help = if name.starts_with("aisprint_host_") {
                "Host metric (AMS/Telegraf name), latest."
            } else {
                "Custom application metric, latest."
            };
            e.add(name, help, Type::Gauge, labels.iter().map(|(k, v)| (k.as_str(), v.as_str())), *v);
        }
        let mut per_source: HashMap<&str, u64> = HashMap::new();
        for ev in &self.events {
            *per_source.entry(ev.source.as_str()).or_default() += 1;
        }
        for (s, n) in per_source {
            e.add(
                "aisprint_recent_notifications",
                "Notifications among the last 100 kept.",
                Type::Gauge,
                [("source", s)],
                n as f64,
            );
        }
        for (reason, n) in [("limit", self.dropped), ("forged_answer", self.forged)] {
            e.add(
                "aisprint_qos_refused_total",
                "Points not kept: over a limit (series, checks), or an answer from a node the command did not go to.",
                Type::Counter,
                [("reason", reason)],
                n as f64,
            );
        }
        e.render()
    }
}
