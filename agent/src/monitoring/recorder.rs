//! The recorder: the one owner of the evaluation engine. It commits each group of records
//! to the buffer before answering (and before the engine sees them), runs the checks on its
//! timer, stores their results as points, and puts notifications in the durable outbox.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aisprint_ams::engine::{Counters, Engine, Notification, State, Status};
use aisprint_ams::record::{self, Record, Sample};
use aisprint_proto::v1::Point;
use aisprint_runtime::clock::now_s;
use aisprint_runtime::outbox::{Outbox, Outgoing};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::batch::BatchWriter;

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

/// Custom metric series kept for /metrics at most, and their bytes (names, tags, fields).
const MAX_CUSTOM_SERIES: usize = 10_000;
const MAX_CUSTOM_BYTES: usize = 4 << 20;

/// What a sample holds, about.
fn sample_bytes(s: &Sample) -> usize {
    s.measurement.len()
        + s.tags.iter().map(|(k, v)| k.len() + v.len() + 48).sum::<usize>()
        + s.fields.keys().map(|k| k.len() + 40).sum::<usize>()
}

/// Records stored per commit at most.
const MAX_GROUP: usize = 20_000;

/// The one owner of the engine.
pub(super) struct Recorder {
    pub(super) engine: Engine,
    pub(super) endpoint: Option<String>,
    pub(super) batches: BatchWriter,
    pub(super) outbox: Arc<Outbox>,
    pub(super) counters: Arc<IngestCounters>,
    pub(super) host: Vec<Point>,
    /// Latest custom metric per (measurement, tags), for /metrics.
    pub(super) custom: BTreeMap<(String, Vec<(String, String)>), Sample>,
    pub(super) custom_bytes: usize,
    /// How long the last constraint check took.
    pub(super) last_check_s: f64,
    /// Notifications raised outside a record group, sent with the next check's.
    pub(super) deferred: Vec<Notification>,
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
    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Input>, cancel: CancellationToken) {
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
            node: self.batches.node().to_string(),
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
            buffered: self.batches.buffer().stats().map_or(0, |s| s.batches),
            last_check_seconds: self.last_check_s,
        }
    }

    /// Stores points as one batch; the sequence number on success.
    async fn store(&self, points: Vec<Point>) -> Result<u64, String> {
        self.batches.store(points).await.map(|s| s.seq).map_err(|e| e.to_string())
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
                    Record::Execution(e) => self.engine.observe_execution(e, self.batches.node()),
                    Record::Metric(s) => {
                        notes.extend(self.engine.observe_metric(s, now));
                        let key = (s.measurement.clone(), s.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
                        let n = sample_bytes(s);
                        if let Some(old) = self.custom.get_mut(&key) {
                            self.custom_bytes = self.custom_bytes.saturating_sub(sample_bytes(old)) + n;
                            *old = s.clone();
                        } else if self.custom.len() < MAX_CUSTOM_SERIES && self.custom_bytes + 2 * n <= MAX_CUSTOM_BYTES
                        {
                            // Twice: the key holds the name and tags again.
                            self.custom_bytes += 2 * n;
                            self.custom.insert(key, s.clone());
                        }
                    }
                    Record::Drift(ws) => {
                        for w in ws {
                            let test = w.test.as_ref().map_or("page-hinkley", |t| t.test.as_str());
                            tracing::info!(component = %w.component, metric = %w.metric, field = %w.field, test, "watching for drift");
                            self.engine.watch(w);
                        }
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
