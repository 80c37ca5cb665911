//! `aisprint-agent run`: collects at the configured period, commits each batch to the buffer,
//! and delivers it through each sink, which confirms back to the buffer. One cancellation
//! token stops everything; a sink reconnects with exponential backoff and jitter.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aisprint_proto::v1::agent_service_client::AgentServiceClient;
use aisprint_proto::v1::{CommandsRequest, HeartbeatRequest, MetricBatch, RegisterRequest};
use aisprint_shared::diag::Diagnostics;
use aisprint_shared::mesh::{self, AgentConfig};
use aisprint_shared::yaml;
use prost::Message;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::buffer::{Appended, Buffer, BufferError};
use crate::collect::{boot_id, monotonic_ms, Collector};
use crate::delivery::{Delivery, WINDOW};

pub const GRPC_SINK: &str = "grpc";

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Buffer(#[from] BufferError),
    #[error("{what}: cannot listen on {addr}: {source}")]
    Bind {
        what: String,
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Reads and checks `agent.yaml`; relative paths in it are taken from its folder.
pub fn load_config(path: &Path) -> Result<AgentConfig, AgentError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AgentError::Read { path: path.to_path_buf(), source })?;
    let (doc, _) = yaml::parse::<AgentConfig>(&file, &text).map_err(AgentError::Invalid)?;
    let d = mesh::validate_agent(&doc);
    if d.has_errors() {
        return Err(AgentError::Invalid(d.sorted()));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut c = doc.value;
    for x in [&mut c.controller.ca, &mut c.controller.cert, &mut c.controller.key].into_iter().flatten() {
        *x = base.join(&*x).display().to_string();
    }
    c.buffer.path = base.join(&c.buffer.path).display().to_string();
    if let Some(m) = &mut c.monitoring {
        for x in m
            .qos_constraints
            .iter_mut()
            .chain(m.monitoring_setup.iter_mut())
            .chain(m.custom_setup.iter_mut())
            .chain(m.outbox.iter_mut())
        {
            *x = base.join(&*x).display().to_string();
        }
    }
    if let Some(s) = &mut c.services {
        for x in s.fdl.iter_mut().chain(std::iter::once(&mut s.buckets)).chain(s.state.iter_mut()) {
            *x = base.join(&*x).display().to_string();
        }
    }
    // The monitoring files and the services' FDL are checked now too: nothing starts with a
    // bad rule or service.
    crate::ams::Setup::load(&c)?;
    crate::services::load(&c)?;
    Ok(c)
}

/// Unix time in seconds.
pub(crate) fn now_s() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Waits for a new stored batch (forever once the collector is gone).
pub(crate) async fn changed(latest: &mut watch::Receiver<u64>) {
    if latest.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Exponential backoff with full jitter, 200 ms to 15 s.
#[derive(Debug)]
pub(crate) struct Backoff {
    attempt: u32,
    seed: u64,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff { attempt: 0, seed: (now_ms() as u64) | 1 }
    }

    pub(crate) fn next(&mut self) -> Duration {
        let cap = (200u64 << self.attempt.min(7)).min(15_000);
        self.attempt += 1;
        // xorshift for the jitter: no need for a cryptographic source here.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        Duration::from_millis(cap / 2 + self.seed % (cap / 2 + 1))
    }

    /// Waits before the next attempt (or until cancelled), saying why.
    pub(crate) async fn pause(&mut self, cancel: &CancellationToken, what: &str, error: &str) {
        let wait = self.next();
        tracing::warn!(error = %error, retry_in_ms = wait.as_millis() as u64, "{what}");
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }

    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Runs until `cancel` fires.
pub async fn run(cfg: AgentConfig, cancel: CancellationToken) -> Result<(), AgentError> {
    let mut sinks = vec![GRPC_SINK];
    if cfg.mqtt.is_some() {
        sinks.push(crate::mqtt::MQTT_SINK);
    }
    let buffer = Arc::new(Buffer::open(
        Path::new(&cfg.buffer.path),
        cfg.buffer.cache_bytes,
        &sinks,
        cfg.buffer.max_bytes,
        cfg.buffer.when_full,
    )?);
    let boot = boot_id();
    // The newest stored sequence number, for the sinks (they never miss a change).
    let (latest_tx, latest) = watch::channel(0u64);
    let latest_tx = Arc::new(latest_tx);
    tracing::info!(node = %cfg.node_id, %boot, buffer = %cfg.buffer.path, "agent starting");

    let mut tasks = tokio::task::JoinSet::new();
    let monitor = match crate::ams::Setup::load(&cfg)? {
        Some(setup) => Some(
            crate::ams::start(&cfg, setup, buffer.clone(), latest_tx.clone(), boot.clone(), cancel.clone(), &mut tasks)
                .await
                .inspect_err(|_| cancel.cancel())?,
        ),
        None => None,
    };
    let services = crate::services::load(&cfg)?;
    let applier = crate::services::start(
        &cfg,
        services,
        buffer.clone(),
        latest_tx.clone(),
        boot.clone(),
        cancel.clone(),
        &mut tasks,
    )
    .await
    .inspect_err(|_| cancel.cancel())?;
    {
        let (cfg, buffer, cancel, boot) = (cfg.clone(), buffer.clone(), cancel.clone(), boot.clone());
        tasks.spawn(async move { collect_loop(cfg, buffer, latest_tx, monitor, cancel, boot).await });
    }
    {
        let (cfg, buffer, latest, cancel, boot) =
            (cfg.clone(), buffer.clone(), latest.clone(), cancel.clone(), boot.clone());
        tasks.spawn(async move { grpc_sink(cfg, buffer, latest, applier, cancel, boot).await });
    }
    if let Some(m) = cfg.mqtt.clone() {
        let (cfg, buffer, latest, cancel, boot) =
            (cfg.clone(), buffer.clone(), latest.clone(), cancel.clone(), boot.clone());
        tasks.spawn(async move { crate::mqtt::mqtt_sink(cfg, m, buffer, latest, cancel, boot).await });
    }
    while tasks.join_next().await.is_some() {}
    tracing::info!("agent stopped");
    Ok(())
}

/// Commits `points` as the node's next batch (off the runtime's workers: the commit syncs).
pub(crate) async fn store_batch(
    buffer: &Arc<Buffer>,
    node: &str,
    boot: &str,
    points: Vec<aisprint_proto::v1::Point>,
) -> Result<Result<Appended, BufferError>, tokio::task::JoinError> {
    let (node, boot, b) = (node.to_string(), boot.to_string(), buffer.clone());
    tokio::task::spawn_blocking(move || {
        b.append(|seq| {
            MetricBatch {
                node_id: node,
                boot_id: boot,
                seq,
                wall_time_unix_ms: now_ms(),
                monotonic_ms: monotonic_ms(),
                backfill: false,
                points,
            }
            .encode_to_vec()
        })
    })
    .await
}

async fn collect_loop(
    cfg: AgentConfig,
    buffer: Arc<Buffer>,
    latest: Arc<watch::Sender<u64>>,
    monitor: Option<mpsc::Sender<crate::ams::Input>>,
    cancel: CancellationToken,
    boot: String,
) {
    let mut collector = Collector::new(&cfg.collection.families);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(cfg.collection.period_s));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let points = collector.collect();
        if let Some(m) = &monitor {
            // For infrastructure alerts and /metrics; never waits on the recorder.
            let _ = m.try_send(crate::ams::Input::Host(points.clone()));
        }
        match store_batch(&buffer, &cfg.node_id, &boot, points).await {
            Ok(Ok(Appended::Stored { seq, dropped })) => {
                if dropped > 0 {
                    tracing::warn!(dropped, "buffer full: dropped the oldest batches");
                }
                tracing::debug!(seq, "batch stored");
                latest.send_replace(seq);
            }
            Ok(Ok(Appended::Skipped)) => tracing::warn!("buffer full: collection skipped (when_full: stop_collecting)"),
            Ok(Err(e)) => tracing::error!(error = %e, "cannot store a batch"),
            Err(e) => tracing::error!(error = %e, "collection task failed"),
        }
    }
}

pub(crate) async fn connect(cfg: &AgentConfig) -> Result<Channel, String> {
    let c = &cfg.controller;
    let mut ep = Channel::from_shared(c.address.clone()).map_err(|e| e.to_string())?;
    if !c.insecure {
        let read = |p: &Option<String>| {
            let p = p.as_deref().unwrap_or_default();
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"))
        };
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&c.ca)?))
            .identity(Identity::from_pem(read(&c.cert)?, read(&c.key)?));
        ep = ep.tls_config(tls).map_err(|e| e.to_string())?;
    }
    ep.connect_timeout(Duration::from_secs(5))
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .connect()
        .await
        .map_err(|e| format!("{e}: {}", std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default()))
}

async fn grpc_sink(
    cfg: AgentConfig,
    buffer: Arc<Buffer>,
    mut latest: watch::Receiver<u64>,
    applier: Option<mpsc::Sender<crate::services::Control>>,
    cancel: CancellationToken,
    boot: String,
) {
    let mut backoff = Backoff::new();
    while !cancel.is_cancelled() {
        let Err(e) = session(&cfg, &buffer, &mut latest, applier.as_ref(), &cancel, &boot, &mut backoff).await else {
            break;
        };
        backoff.pause(&cancel, "controller unreachable", &e).await;
    }
}

/// A command from the controller.
async fn on_command(c: aisprint_proto::v1::Command, applier: Option<&mpsc::Sender<crate::services::Control>>) {
    match c.kind.as_str() {
        "services.apply" => match (serde_json::from_str::<crate::services::Apply>(&c.payload_json), applier) {
            (Ok(a), Some(tx)) => {
                tracing::info!(id = %c.id, cluster = %a.cluster, "services received");
                let _ = tx.send(crate::services::Control::Apply(a, c.id.clone())).await;
            }
            (Ok(_), None) => {
                tracing::error!(id = %c.id, "services received, but this agent has no `services` section (buckets): ignored")
            }
            (Err(e), _) => tracing::error!(id = %c.id, error = %e, "unreadable services command: ignored"),
        },
        "bucket.put" => match (serde_json::from_str::<crate::services::Put>(&c.payload_json), applier) {
            (Ok(p), Some(tx)) => {
                let _ = tx.send(crate::services::Control::Put(p, c.id.clone())).await;
            }
            (Ok(_), None) => {
                tracing::error!(id = %c.id, "a file for a bucket, but this agent has no `services` section: ignored")
            }
            (Err(e), _) => tracing::error!(id = %c.id, error = %e, "unreadable bucket.put command: ignored"),
        },
        other => tracing::warn!(id = %c.id, kind = %other, "unknown command: ignored"),
    }
}

/// An acknowledgement from one of the streams; `Ok(true)` when more may come before the
/// confirmations are committed.
fn on_ack(
    delivery: &mut Delivery,
    a: Result<Option<aisprint_proto::v1::BatchAck>, tonic::Status>,
    stream: &str,
) -> Result<bool, String> {
    match a {
        Ok(Some(a)) => {
            delivery.confirm(a.seq);
            Ok(delivery.unflushed() < 256)
        }
        Ok(None) => Err(format!("the controller closed the {stream} stream")),
        Err(s) => Err(format!("{stream} stream: {}", s.message())),
    }
}

/// One connection: register, then live batches as they come and buffered ones (backfill,
/// oldest first, rate-limited) while confirmations flow back.
async fn session(
    cfg: &AgentConfig,
    buffer: &Arc<Buffer>,
    latest: &mut watch::Receiver<u64>,
    applier: Option<&mpsc::Sender<crate::services::Control>>,
    cancel: &CancellationToken,
    boot: &str,
    backoff: &mut Backoff,
) -> Result<(), String> {
    let channel = connect(cfg).await?;
    let mut client = AgentServiceClient::new(channel)
        .max_decoding_message_size(mesh::MESSAGE_MAX_BYTES)
        .max_encoding_message_size(mesh::MESSAGE_MAX_BYTES);
    let sys = sysinfo::System::new_with_specifics(
        sysinfo::RefreshKind::nothing().with_memory(sysinfo::MemoryRefreshKind::nothing().with_ram()),
    )
    .ok();
    client
        .register(RegisterRequest {
            node_id: cfg.node_id.clone(),
            boot_id: boot.to_string(),
            layer: cfg.layer.clone().unwrap_or_default(),
            resource: cfg.resource.clone().unwrap_or_default(),
            architecture: std::env::consts::ARCH.to_string(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            memory_bytes: sys.as_ref().map_or(0, |s| s.total_memory()),
            hostname: hostname::get().map(|h| h.to_string_lossy().to_string()).unwrap_or_default(),
            agent_version: env!("CARGO_PKG_VERSION").to_string(),
            wall_time_unix_ms: now_ms(),
            monotonic_ms: monotonic_ms(),
        })
        .await
        .map_err(|s| format!("register: {}", s.message()))?;
    backoff.reset();
    tracing::info!(address = %cfg.controller.address, "connected to the controller");

    // Two streams: live batches, and the backlog replayed after an outage, so that neither
    // waits behind the other.
    let (tx_live, rx_live) = mpsc::channel::<MetricBatch>(WINDOW);
    let (tx_back, rx_back) = mpsc::channel::<MetricBatch>(WINDOW);
    let mut acks = client
        .push_batches(ReceiverStream::new(rx_live))
        .await
        .map_err(|s| format!("push: {}", s.message()))?
        .into_inner();
    let mut back_acks = client
        .push_batches(ReceiverStream::new(rx_back))
        .await
        .map_err(|s| format!("push (backfill): {}", s.message()))?
        .into_inner();
    // Commands from the controller (services to run).
    let mut commands = client
        .commands(CommandsRequest { node_id: cfg.node_id.clone() })
        .await
        .map_err(|s| format!("commands: {}", s.message()))?
        .into_inner();
    let mut delivery = Delivery::start(GRPC_SINK, buffer.clone(), cfg.backfill.batches_per_second).await?;
    let mut heartbeat = tokio::time::interval(Duration::from_secs(10));
    let result = loop {
        tokio::select! {
            _ = cancel.cancelled() => break Ok(()),
            a = acks.message() => match on_ack(&mut delivery, a, "live") {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => break Err(e),
            },
            a = back_acks.message() => match on_ack(&mut delivery, a, "backfill") {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => break Err(e),
            },
            c = commands.message() => match c {
                Ok(Some(c)) => on_command(c, applier).await,
                Ok(None) => break Err("the controller closed the command stream".into()),
                Err(s) => break Err(format!("command stream: {}", s.message())),
            },
            _ = changed(latest) => {}
            _ = tokio::time::sleep(if delivery.busy() { Duration::from_millis(50) } else { Duration::from_secs(1) }) => {}
            _ = heartbeat.tick() => {
                let st = buffer.stats().ok();
                let req = HeartbeatRequest {
                    node_id: cfg.node_id.clone(),
                    boot_id: boot.to_string(),
                    wall_time_unix_ms: now_ms(),
                    monotonic_ms: monotonic_ms(),
                    buffered: st.as_ref().map_or(0, |s| s.batches),
                    dropped: st.as_ref().map_or(0, |s| s.dropped + s.skipped),
                };
                if let Err(s) = client.heartbeat(req).await {
                    break Err(format!("heartbeat: {}", s.message()));
                }
            }
        }
        if let Err(e) = delivery.flush().await {
            break Err(format!("buffer: {e}"));
        }
        let newest = *latest.borrow();
        match delivery.next(newest).await {
            Ok(batches) => {
                for b in batches {
                    let tx = if b.backfill { &tx_back } else { &tx_live };
                    if tx.send(b).await.is_err() {
                        break;
                    }
                }
            }
            Err(e) => break Err(format!("buffer: {e}")),
        }
    };
    // What was confirmed before leaving is kept.
    let _ = delivery.flush().await;
    result
}
