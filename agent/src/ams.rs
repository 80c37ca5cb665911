//! The agent's part of the monitoring subsystem: the local ingestion endpoint (HTTP, and
//! InfluxDB lines over UDP and TCP), and the recorder task that owns the evaluation engine.
//!
//! Every accepted record is committed to the durable buffer (so it reaches the controller and
//! MQTT like host metrics) before the endpoint answers and before the engine sees it. The
//! recorder commits whatever has queued while the previous commit ran in one batch, so the
//! disk's sync rate does not bound the record rate. Checks run on the recorder's clock, every
//! `time_period`; their results are stored as points too (`constraint_check`, `throughput`,
//! `ams_notification`), and notifications go through the durable outbox.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aisprint_proto::v1::Point;
use aisprint_shared::ams::engine::{Constraint, Counters, Engine, Notification, Scope, State, Status};
use aisprint_shared::ams::record::{self, Defaults, Record, Refused, Sample};
use aisprint_shared::ams::setup::{Custom, Monitoring};
use aisprint_shared::ams::{self, line};
use aisprint_shared::diag::Diagnostics;
use aisprint_shared::mesh::AgentConfig;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::buffer::{Appended, Buffer};
use crate::notify::{Outbox, Outgoing};
use crate::run::{now_ms, now_s, AgentError};

/// Everything the monitoring section names, read and checked.
#[derive(Debug, Clone)]
pub struct Setup {
    pub monitoring: Monitoring,
    pub constraints: Vec<Constraint>,
    pub throughput_component: Option<String>,
    pub custom: Custom,
    pub defaults: Defaults,
    /// Where notifications without their own endpoint go (None: only to the controller).
    pub endpoint: Option<String>,
    pub http: SocketAddr,
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub outbox: PathBuf,
}

fn pair(x: &Option<(String, String)>) -> Option<(&str, &str)> {
    x.as_ref().map(|(a, b)| (a.as_str(), b.as_str()))
}

fn read(path: &str) -> Result<String, AgentError> {
    std::fs::read_to_string(path).map_err(|source| AgentError::Read { path: PathBuf::from(path), source })
}

impl Setup {
    /// Reads the files of `cfg.monitoring` (paths already resolved by `load_config`); every
    /// problem of every file is reported together. `Ok(None)`: no monitoring section.
    pub fn load(cfg: &AgentConfig) -> Result<Option<Setup>, AgentError> {
        let Some(m) = &cfg.monitoring else { return Ok(None) };
        let texts = |p: &Option<String>| -> Result<Option<(String, String)>, AgentError> {
            p.as_ref().map(|p| Ok((p.clone(), read(p)?))).transpose()
        };
        let (ms, cs) = (texts(&m.monitoring_setup)?, texts(&m.custom_setup)?);
        let qos =
            m.qos_constraints.iter().map(|p| Ok((p.clone(), read(p)?))).collect::<Result<Vec<_>, AgentError>>()?;
        let (loaded, warnings) = ams::load(pair(&ms), pair(&cs), &qos).map_err(AgentError::Invalid)?;
        for w in warnings.warnings() {
            tracing::warn!("{w}");
        }
        let ams::Loaded { monitoring, custom, constraints, throughput_component } = loaded;
        let addr = |s: &str| s.parse::<SocketAddr>().map_err(|_| AgentError::Invalid(Diagnostics::new()));
        let endpoint = m.notification_endpoint.clone().or_else(|| monitoring.default_endpoint.clone());
        let outbox =
            m.outbox.clone().map(PathBuf::from).unwrap_or_else(|| Outbox::beside(Path::new(&cfg.buffer.path), "agent"));
        Ok(Some(Setup {
            monitoring,
            constraints,
            throughput_component,
            custom,
            defaults: Defaults {
                resource: cfg.resource.clone().unwrap_or_default(),
                cluster: m.cluster.clone().unwrap_or_else(|| cfg.node_id.clone()),
            },
            endpoint,
            http: addr(&m.http)?,
            udp: m.udp.as_deref().map(addr).transpose()?,
            tcp: m.tcp.as_deref().map(addr).transpose()?,
            outbox,
        }))
    }

    pub fn engine(&self) -> Engine {
        let mut e = Engine::new(Scope::Node, &self.monitoring);
        e.add_constraints(self.constraints.clone(), self.throughput_component.clone());
        e.add_alerts(&self.custom.alerts);
        e
    }
}

/// Ingestion counters, shared by the listeners (read by /metrics).
#[derive(Debug, Default)]
pub struct IngestCounters {
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub failed: AtomicU64,
}

/// What the recorder is asked to do.
#[derive(Debug)]
pub enum Input {
    /// Records to store and evaluate; the reply comes once they are stored.
    Records {
        records: Vec<Record>,
        reply: Option<oneshot::Sender<Result<(), String>>>,
    },
    /// Host metrics just collected (for infrastructure alerts and /metrics).
    Host(Vec<Point>),
    Snapshot(oneshot::Sender<Snapshot>),
}

/// The recorder's state, for /metrics and /v1/qos.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub node: String,
    pub statuses: Vec<Status>,
    pub throughput: Option<(String, f64)>,
    pub counters: Counters,
    pub accepted: u64,
    pub refused: u64,
    pub failed: u64,
    pub outbox_pending: u64,
    pub notifications_delivered: u64,
    pub drift_watches: Vec<(String, String, u64)>,
    #[serde(skip)]
    pub host: Vec<Point>,
    #[serde(skip)]
    pub custom: Vec<Sample>,
    pub buffered: u64,
    pub last_check_seconds: f64,
}

/// Starts the listeners and the recorder; returns the sender the collector uses for host
/// metrics. Fails (before anything runs) when a listener cannot bind.
pub async fn start(
    cfg: &AgentConfig,
    setup: Setup,
    buffer: Arc<Buffer>,
    latest: Arc<watch::Sender<u64>>,
    boot: String,
    cancel: CancellationToken,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Result<mpsc::Sender<Input>, AgentError> {
    let bind_err =
        |what: &str, a: SocketAddr, e: std::io::Error| AgentError::Bind { what: what.to_string(), addr: a, source: e };
    let http =
        tokio::net::TcpListener::bind(setup.http).await.map_err(|e| bind_err("monitoring.http", setup.http, e))?;
    let udp = match setup.udp {
        Some(a) => Some(tokio::net::UdpSocket::bind(a).await.map_err(|e| bind_err("monitoring.udp", a, e))?),
        None => None,
    };
    let tcp = match setup.tcp {
        Some(a) => Some(tokio::net::TcpListener::bind(a).await.map_err(|e| bind_err("monitoring.tcp", a, e))?),
        None => None,
    };
    let outbox = Outbox::open(&setup.outbox)?;
    let counters = Arc::new(IngestCounters::default());
    let (tx, rx) = mpsc::channel::<Input>(4096);
    tracing::info!(http = %setup.http, udp = ?setup.udp, tcp = ?setup.tcp, constraints = setup.constraints.len(),
        alerts = setup.monitoring.alerts.len() + setup.custom.alerts.len(), "monitoring endpoint listening");

    {
        let o = outbox.clone();
        let c = cancel.clone();
        tasks.spawn(async move { o.deliver(c).await });
    }
    let recorder = Recorder {
        node: cfg.node_id.clone(),
        boot,
        engine: setup.engine(),
        endpoint: setup.endpoint.clone(),
        buffer,
        latest,
        outbox,
        counters: counters.clone(),
        host: Vec::new(),
        custom: BTreeMap::new(),
        last_check_s: 0.0,
        deferred: Vec::new(),
    };
    {
        let c = cancel.clone();
        tasks.spawn(async move { recorder.run(rx, c).await });
    }
    let app = AppState { tx: tx.clone(), counters: counters.clone(), defaults: setup.defaults.clone() };
    let router = Router::new()
        .route("/v1/records", post(post_records))
        .route("/write", post(post_lines))
        .route("/api/v2/write", post(post_lines))
        .route("/metrics", get(get_metrics))
        .route("/v1/qos", get(get_qos))
        .route("/health", get(|| async { "ok\n" }))
        .with_state(app.clone());
    {
        let c = cancel.clone();
        tasks.spawn(async move {
            let r = axum::serve(http, router).with_graceful_shutdown(async move { c.cancelled().await }).await;
            if let Err(e) = r {
                tracing::error!(error = %e, "monitoring HTTP endpoint stopped");
            }
        });
    }
    if let Some(sock) = udp {
        let (app, c) = (app.clone(), cancel.clone());
        tasks.spawn(async move { udp_loop(sock, app, c).await });
    }
    if let Some(l) = tcp {
        let (app, c) = (app.clone(), cancel.clone());
        tasks.spawn(async move { tcp_loop(l, app, c).await });
    }
    Ok(tx)
}

#[derive(Clone)]
struct AppState {
    tx: mpsc::Sender<Input>,
    counters: Arc<IngestCounters>,
    defaults: Defaults,
}

fn refused_log(source: &str, refused: &[Refused], counters: &IngestCounters) {
    if refused.is_empty() {
        return;
    }
    let before = counters.refused.fetch_add(refused.len() as u64, Ordering::Relaxed);
    // The first ones in full, then one line in a hundred: a flood of bad records must not
    // flood the log.
    if before < 20 || before % 100 == 0 {
        tracing::warn!(source, count = refused.len(), first = %refused[0], "records refused");
    }
}

/// Hands records to the recorder and waits until they are stored.
async fn submit(app: &AppState, records: Vec<Record>) -> Result<(), String> {
    if records.is_empty() {
        return Ok(());
    }
    let n = records.len() as u64;
    let (reply, rx) = oneshot::channel();
    app.tx
        .send(Input::Records { records, reply: Some(reply) })
        .await
        .map_err(|_| "the agent is stopping".to_string())?;
    let r = rx.await.map_err(|_| "the agent is stopping".to_string())?;
    match &r {
        Ok(()) => app.counters.accepted.fetch_add(n, Ordering::Relaxed),
        Err(_) => app.counters.failed.fetch_add(n, Ordering::Relaxed),
    };
    r
}

#[derive(Serialize)]
struct Answer {
    accepted: usize,
    refused: Vec<String>,
}

async fn post_records(AxState(app): AxState<AppState>, body: axum::body::Bytes) -> Response {
    let (records, refused) = match record::from_json(&body, &app.defaults) {
        Ok(x) => x,
        Err(r) => {
            refused_log("http", std::slice::from_ref(&r), &app.counters);
            return (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({ "error": r.to_string() })))
                .into_response();
        }
    };
    refused_log("http", &refused, &app.counters);
    let accepted = records.len();
    match submit(&app, records).await {
        Ok(()) => {
            axum::Json(Answer { accepted, refused: refused.iter().map(|r| r.to_string()).collect() }).into_response()
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "error": e }))).into_response(),
    }
}

/// Parses InfluxDB lines; returns the records and how many lines were refused (logged and
/// counted). `scale_ns`: nanoseconds per unit of the lines' timestamps.
fn lines_to_records(text: &str, app: &AppState, source: &str, scale_ns: i64) -> (Vec<Record>, usize) {
    let (lines, errors) = line::parse(text);
    let mut refused: Vec<Refused> =
        errors.into_iter().map(|e| Refused { at: format!("line {}", e.line), message: e.message }).collect();
    let now = now_ms() * 1_000_000;
    let mut out = Vec::with_capacity(lines.len());
    for (i, mut l) in lines.into_iter().enumerate() {
        l.time_ns = l.time_ns.map(|t| t.saturating_mul(scale_ns));
        match record::from_line(l, now, &app.defaults) {
            Ok(r) => out.push(r),
            Err(message) => refused.push(Refused { at: format!("point {}", i + 1), message }),
        }
    }
    refused_log(source, &refused, &app.counters);
    (out, refused.len())
}

#[derive(serde::Deserialize)]
struct WriteParams {
    /// InfluxDB's timestamp precision: n (default), u, ms, s.
    #[serde(default)]
    precision: Option<String>,
}

async fn post_lines(
    AxState(app): AxState<AppState>,
    axum::extract::Query(q): axum::extract::Query<WriteParams>,
    body: axum::body::Bytes,
) -> Response {
    let scale = match q.precision.as_deref() {
        None | Some("n") | Some("ns") => 1,
        Some("u") | Some("us") => 1_000,
        Some("ms") => 1_000_000,
        Some("s") => 1_000_000_000,
        Some(p) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({ "error": format!("precision `{p}`: expected n, u, ms or s") })),
            )
                .into_response()
        }
    };
    let text = String::from_utf8_lossy(&body);
    let (records, refused) = lines_to_records(&text, &app, "http /write", scale);
    match submit(&app, records).await {
        Ok(()) if refused == 0 => StatusCode::NO_CONTENT.into_response(),
        Ok(()) => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({ "error": format!("partial write: {refused} line(s) refused (see the agent's log)") })),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "error": e }))).into_response(),
    }
}

async fn snapshot(app: &AppState) -> Option<Snapshot> {
    let (tx, rx) = oneshot::channel();
    app.tx.send(Input::Snapshot(tx)).await.ok()?;
    rx.await.ok()
}

async fn get_metrics(AxState(app): AxState<AppState>) -> Response {
    match snapshot(&app).await {
        Some(s) => ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::prometheus::render(&s))
            .into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn get_qos(AxState(app): AxState<AppState>) -> Response {
    match snapshot(&app).await {
        Some(s) => axum::Json(s).into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn udp_loop(sock: tokio::net::UdpSocket, app: AppState, cancel: CancellationToken) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let n = tokio::select! {
            _ = cancel.cancelled() => break,
            r = sock.recv_from(&mut buf) => match r {
                Ok((n, _)) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "udp receive failed");
                    continue;
                }
            },
        };
        let (records, _) = lines_to_records(&String::from_utf8_lossy(&buf[..n]), &app, "udp", 1);
        if records.is_empty() {
            continue;
        }
        // No one to answer over UDP and no waiting either: when the recorder is behind, the
        // datagram's records are dropped and counted (as the kernel would drop datagrams).
        let k = records.len() as u64;
        match app.tx.try_send(Input::Records { records, reply: None }) {
            Ok(()) => {
                app.counters.accepted.fetch_add(k, Ordering::Relaxed);
            }
            Err(_) => {
                let before = app.counters.failed.fetch_add(k, Ordering::Relaxed);
                if before == 0 || before.is_power_of_two() {
                    tracing::warn!(records = k, "udp records dropped: the recorder is behind");
                }
            }
        }
    }
}

/// Longest line accepted over TCP.
const MAX_LINE: usize = 1 << 20;

async fn tcp_loop(l: tokio::net::TcpListener, app: AppState, cancel: CancellationToken) {
    use tokio::io::AsyncReadExt;
    loop {
        let conn = tokio::select! {
            _ = cancel.cancelled() => break,
            c = l.accept() => c,
        };
        let Ok((mut stream, peer)) = conn else { continue };
        let (app, cancel) = (app.clone(), cancel.clone());
        tokio::spawn(async move {
            // What has arrived is taken whole: every complete line of it in one submit (one
            // commit), the incomplete tail kept for the next read.
            let mut pending: Vec<u8> = Vec::new();
            let mut chunk = vec![0u8; 64 << 10];
            loop {
                let n = tokio::select! {
                    _ = cancel.cancelled() => break,
                    r = stream.read(&mut chunk) => match r {
                        Ok(0) | Err(_) => 0,
                        Ok(n) => n,
                    },
                };
                let eof = n == 0;
                pending.extend_from_slice(&chunk[..n]);
                let cut =
                    if eof { pending.len() } else { pending.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) };
                if cut > 0 {
                    let text = String::from_utf8_lossy(&pending[..cut]).into_owned();
                    pending.drain(..cut);
                    let (records, _) = lines_to_records(&text, &app, "tcp", 1);
                    if let Err(e) = submit(&app, records).await {
                        tracing::warn!(%peer, error = %e, "tcp records not stored");
                    }
                }
                if pending.len() > MAX_LINE {
                    app.counters.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%peer, "a line longer than 1 MiB: connection closed");
                    break;
                }
                if eof {
                    break;
                }
            }
        });
    }
}

/// Custom metric series kept for /metrics at most.
const MAX_CUSTOM_SERIES: usize = 10_000;

/// Records stored per commit at most.
const MAX_GROUP: usize = 20_000;

/// The one owner of the engine.
struct Recorder {
    node: String,
    boot: String,
    engine: Engine,
    endpoint: Option<String>,
    buffer: Arc<Buffer>,
    latest: Arc<watch::Sender<u64>>,
    outbox: Arc<Outbox>,
    counters: Arc<IngestCounters>,
    host: Vec<Point>,
    /// Latest custom metric per (measurement, tags), for /metrics.
    custom: BTreeMap<(String, Vec<(String, String)>), Sample>,
    /// How long the last constraint check took.
    last_check_s: f64,
    /// Notifications raised outside a record group, sent with the next check's.
    deferred: Vec<Notification>,
}

fn to_point(s: &Sample) -> Point {
    Point {
        measurement: s.measurement.clone(),
        tags: s.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        fields: s.fields.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        time_unix_ns: s.time_ns,
    }
}

impl Recorder {
    async fn run(mut self, mut rx: mpsc::Receiver<Input>, cancel: CancellationToken) {
        loop {
            let now = now_s();
            let wait = Duration::from_secs_f64((self.engine.next_due(now) - now).clamp(0.0, 3600.0));
            tokio::select! {
                _ = cancel.cancelled() => break,
                m = rx.recv() => {
                    let Some(m) = m else { break };
                    let mut group = Vec::new();
                    let mut replies = Vec::new();
                    self.take(m, &mut group, &mut replies);
                    while group.len() < MAX_GROUP {
                        match rx.try_recv() {
                            Ok(m) => self.take(m, &mut group, &mut replies),
                            Err(_) => break,
                        }
                    }
                    self.store_records(group, replies).await;
                }
                _ = tokio::time::sleep(wait) => self.tick().await,
            }
        }
        // Checks due while stopping are not lost: they run at the next start.
    }

    fn take(&mut self, m: Input, group: &mut Vec<Record>, replies: &mut Vec<oneshot::Sender<Result<(), String>>>) {
        match m {
            Input::Records { records, reply } => {
                group.extend(records);
                if let Some(r) = reply {
                    replies.push(r);
                }
            }
            Input::Host(points) => {
                let now = now_s();
                for p in &points {
                    let s = Sample {
                        measurement: p.measurement.clone(),
                        tags: p.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                        fields: p.fields.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                        time_ns: record::secs_to_ns(now),
                    };
                    // Sent with the next check's notifications (a drift watch may name a host
                    // metric).
                    let notes = self.engine.observe_metric(&s, now);
                    self.deferred.extend(notes);
                }
                self.host = points;
            }
            Input::Snapshot(tx) => {
                let _ = tx.send(self.snapshot());
            }
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            node: self.node.clone(),
            statuses: self.engine.statuses().to_vec(),
            throughput: self.engine.throughput().map(|(c, v)| (c.to_string(), v)),
            counters: self.engine.counters.clone(),
            accepted: self.counters.accepted.load(Ordering::Relaxed),
            refused: self.counters.refused.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            outbox_pending: self.outbox.pending(),
            notifications_delivered: self.outbox.counters.delivered.load(Ordering::Relaxed),
            drift_watches: self.engine.watches(),
            host: self.host.clone(),
            custom: self.custom.values().cloned().collect(),
            buffered: self.buffer.stats().map_or(0, |s| s.batches),
            last_check_seconds: self.last_check_s,
        }
    }

    /// Stores points as one batch; the sequence number on success.
    async fn store(&self, points: Vec<Point>) -> Result<u64, String> {
        let r = crate::run::store_batch(&self.buffer, &self.node, &self.boot, points).await;
        match r {
            Ok(Ok(Appended::Stored { seq, .. })) => {
                self.latest.send_replace(seq);
                Ok(seq)
            }
            Ok(Ok(Appended::Skipped)) => Err("the agent's buffer is full (when_full: stop_collecting)".into()),
            Ok(Err(e)) => Err(format!("cannot store: {e}")),
            Err(e) => Err(format!("store task failed: {e}")),
        }
    }

    async fn store_records(&mut self, group: Vec<Record>, replies: Vec<oneshot::Sender<Result<(), String>>>) {
        let points: Vec<Point> = group
            .iter()
            .filter_map(|r| match r {
                Record::Execution(e) => Some(to_point(&e.to_sample())),
                Record::Metric(s) => Some(to_point(s)),
                Record::Drift(_) => None,
            })
            .collect();
        let stored = if points.is_empty() { Ok(0) } else { self.store(points).await };
        if stored.is_ok() {
            let now = now_s();
            let mut notes = Vec::new();
            for r in &group {
                match r {
                    Record::Execution(e) => self.engine.observe_execution(e, &self.node),
                    Record::Metric(s) => {
                        notes.extend(self.engine.observe_metric(s, now));
                        let key = (s.measurement.clone(), s.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
                        if self.custom.len() < MAX_CUSTOM_SERIES || self.custom.contains_key(&key) {
                            self.custom.insert(key, s.clone());
                        }
                    }
                    Record::Drift(w) => {
                        tracing::info!(component = %w.component, metric = %w.metric, field = %w.field, "watching for drift");
                        self.engine.watch(w);
                    }
                }
            }
            if !notes.is_empty() {
                self.dispatch(notes, Vec::new()).await;
            }
        }
        if let Err(e) = &stored {
            tracing::error!(error = %e, records = group.len(), "records not stored");
        }
        for r in replies {
            let _ = r.send(stored.clone().map(|_| ()));
        }
    }

    async fn tick(&mut self) {
        let now = now_s();
        let started = std::time::Instant::now();
        let (mut notes, samples) = self.engine.tick(now);
        notes.append(&mut self.deferred);
        if !samples.is_empty() {
            self.last_check_s = started.elapsed().as_secs_f64();
        }
        tracing::debug!(now, notes = notes.len(), samples = samples.len(), statuses = ?self.engine.statuses().iter().map(|s| (s.name.as_str(), s.value, s.sessions)).collect::<Vec<_>>(), "tick");
        for s in self.engine.statuses().iter().filter(|s| s.state == State::Violated) {
            tracing::warn!(constraint = %s.name, value = s.value.unwrap_or_default(), threshold = s.threshold,
                path = %s.path.join(","), "QoS constraint violated");
        }
        if notes.is_empty() && samples.is_empty() {
            return;
        }
        self.dispatch(notes, samples).await;
    }

    /// Stores the checks' samples and the notifications (as `ams_notification` points, for the
    /// controller), then puts the notifications with an endpoint in the outbox.
    async fn dispatch(&mut self, notes: Vec<Notification>, samples: Vec<Sample>) {
        let now_ns = record::secs_to_ns(now_s());
        let mut points: Vec<Point> = samples.iter().map(to_point).collect();
        let mut outgoing = Vec::new();
        for n in &notes {
            let (kind, name) = n
                .body
                .as_object()
                .and_then(|m| m.iter().next())
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .unwrap_or_default();
            points.push(Point {
                measurement: "ams_notification".into(),
                tags: [
                    ("kind".to_string(), kind),
                    ("name".to_string(), name),
                    ("body".to_string(), n.body.to_string()),
                ]
                .into_iter()
                .collect(),
                fields: [("value".to_string(), n.body["value"].as_f64().unwrap_or_default())].into_iter().collect(),
                time_unix_ns: now_ns,
            });
            if let Some(url) = n.url.clone().or_else(|| self.endpoint.clone()) {
                outgoing.push(Outgoing { url, body: n.body.clone() });
            }
        }
        self.outbox.push_logged(outgoing).await;
        if let Err(e) = self.store(points).await {
            tracing::error!(error = %e, "check results not stored");
        }
    }
}
