//! The gRPC sink: one connection to the controller at a time, reconnected with backoff. It
//! registers the node, then sends live batches as they are stored and the backlog (oldest
//! first, rate-limited) on a second stream so that neither waits behind the other, commits
//! the controller's confirmations to the buffer, sends heartbeats, and hands the commands
//! that come back to the services.

use std::time::Duration;

use aisprint_model::config::AgentConfig;
use aisprint_proto::commands::{AgentCommand, CommandError};
use aisprint_proto::v1::agent_service_client::AgentServiceClient;
use aisprint_proto::v1::{BatchAck, Command, CommandsRequest, Edge, HeartbeatRequest, MetricBatch, RegisterRequest};
use aisprint_runtime::backoff::Backoff;
use aisprint_runtime::clock::now_ms;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::delivery::{Delivery, WINDOW};
use crate::batch::changed;
use crate::clock::monotonic_ms;
use crate::ctx::Ctx;

pub const GRPC_SINK: &str = "grpc";

/// Where the controller's commands go (with their ids): the services' manager.
pub type Commands = mpsc::Sender<(String, AgentCommand)>;

/// What this node's own FDL files say to the controller at registration: the cluster it runs,
/// and the edges into it (from cluster, to cluster, bucket), so that files may be shipped
/// here along them.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    pub clusters: Vec<String>,
    pub inbound: Vec<(String, String, String)>,
}

/// Delivers until cancelled.
pub async fn run(ctx: Ctx, cfg: AgentConfig, commands: Option<Commands>, declared: Declared) {
    let mut latest = ctx.batches.subscribe();
    let mut backoff = Backoff::new();
    while !ctx.cancel.is_cancelled() {
        let Err(e) = session(&ctx, &cfg, &declared, &mut latest, commands.as_ref(), &mut backoff).await else {
            break;
        };
        backoff.pause(&ctx.cancel, "controller unreachable", &e).await;
    }
}

/// A command from the controller, for the services. Never waits: the session also carries
/// the batches and heartbeats. With the services' queue full the command is dropped (said in
/// the log); the controller gets no answer and its sender tries again.
async fn on_command(c: Command, commands: Option<&Commands>) {
    match (AgentCommand::from_wire(&c), commands) {
        (Ok(cmd), Some(tx)) => {
            tracing::info!(id = %c.id, kind = %c.kind, "command received");
            if let Err(e) = tx.try_send((c.id.clone(), cmd)) {
                tracing::warn!(id = %c.id, kind = %c.kind, error = %e, "the services are behind: command dropped (it is sent again)");
            }
        }
        (Ok(_), None) => {
            tracing::error!(id = %c.id, kind = %c.kind, "a command for the services, but this agent has no `services` section: ignored")
        }
        (Err(e @ CommandError::Unknown(_)), _) => tracing::warn!(id = %c.id, error = %e, "unknown command: ignored"),
        (Err(e), _) => tracing::error!(id = %c.id, error = %e, "unreadable command: ignored"),
    }
}

/// An acknowledgement from one of the streams; `Ok(true)` when more may come before the
/// confirmations are committed.
fn on_ack(delivery: &mut Delivery, a: Result<Option<BatchAck>, tonic::Status>, stream: &str) -> Result<bool, String> {
    match a {
        Ok(Some(a)) => {
            delivery.confirm(a.seq);
            Ok(delivery.unflushed() < 256)
        }
        Ok(None) => Err(format!("the controller closed the {stream} stream")),
        Err(s) => Err(format!("{stream} stream: {}", s.message())),
    }
}

/// Tells the controller who this node is.
async fn register(
    client: &mut AgentServiceClient<Channel>,
    ctx: &Ctx,
    cfg: &AgentConfig,
    declared: &Declared,
) -> Result<(), String> {
    let sys = sysinfo::System::new_with_specifics(
        sysinfo::RefreshKind::nothing().with_memory(sysinfo::MemoryRefreshKind::nothing().with_ram()),
    )
    .ok();
    client
        .register(RegisterRequest {
            node_id: cfg.node_id.clone(),
            boot_id: ctx.batches.boot().to_string(),
            layer: cfg.layer.clone().unwrap_or_default(),
            resource: cfg.resource.clone().unwrap_or_default(),
            architecture: std::env::consts::ARCH.to_string(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            memory_bytes: sys.as_ref().map_or(0, |s| s.total_memory()),
            hostname: hostname::get().map(|h| h.to_string_lossy().to_string()).unwrap_or_default(),
            agent_version: env!("CARGO_PKG_VERSION").to_string(),
            wall_time_unix_ms: now_ms(),
            monotonic_ms: monotonic_ms(),
            clusters: declared.clusters.clone(),
            inbound: declared
                .inbound
                .iter()
                .map(|(f, t, b)| Edge { from_cluster: f.clone(), to_cluster: t.clone(), bucket: b.clone() })
                .collect(),
        })
        .await
        .map(|_| ())
        .map_err(|s| format!("register: {}", s.message()))
}

fn heartbeat(ctx: &Ctx) -> HeartbeatRequest {
    let st = ctx.batches.buffer().stats().ok();
    HeartbeatRequest {
        node_id: ctx.node().to_string(),
        boot_id: ctx.batches.boot().to_string(),
        wall_time_unix_ms: now_ms(),
        monotonic_ms: monotonic_ms(),
        buffered: st.as_ref().map_or(0, |s| s.batches),
        dropped: st.as_ref().map_or(0, |s| s.dropped + s.skipped),
    }
}

/// The two batch streams of a connection: live ones, and the backlog replayed after an
/// outage.
struct Streams {
    live: mpsc::Sender<MetricBatch>,
    backfill: mpsc::Sender<MetricBatch>,
}

impl Streams {
    async fn send(&self, batches: Vec<MetricBatch>) {
        for b in batches {
            let tx = if b.backfill { &self.backfill } else { &self.live };
            if tx.send(b).await.is_err() {
                break;
            }
        }
    }
}

/// One connection: register, then live batches as they come and buffered ones while
/// confirmations flow back.
async fn session(
    ctx: &Ctx,
    cfg: &AgentConfig,
    declared: &Declared,
    latest: &mut watch::Receiver<u64>,
    commands: Option<&Commands>,
    backoff: &mut Backoff,
) -> Result<(), String> {
    let mut client = crate::link::connect(cfg).await?;
    register(&mut client, ctx, cfg, declared).await?;
    backoff.reset();
    tracing::info!(address = %cfg.controller.address, "connected to the controller");

    let (tx_live, rx_live) = mpsc::channel::<MetricBatch>(WINDOW);
    let (tx_back, rx_back) = mpsc::channel::<MetricBatch>(WINDOW);
    let streams = Streams { live: tx_live, backfill: tx_back };
    let push = |s: tonic::Status, what: &str| format!("{what}: {}", s.message());
    let mut acks = client.push_batches(ReceiverStream::new(rx_live)).await.map_err(|s| push(s, "push"))?.into_inner();
    let mut back_acks =
        client.push_batches(ReceiverStream::new(rx_back)).await.map_err(|s| push(s, "push (backfill)"))?.into_inner();
    let mut incoming = client
        .commands(CommandsRequest { node_id: cfg.node_id.clone() })
        .await
        .map_err(|s| push(s, "commands"))?
        .into_inner();
    let buffer = ctx.batches.buffer().clone();
    let mut delivery = Delivery::start(GRPC_SINK, buffer, cfg.backfill.batches_per_second).await?;
    let mut beat = tokio::time::interval(Duration::from_secs(10));
    let result = loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => break Ok(()),
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
            c = incoming.message() => match c {
                Ok(Some(c)) => on_command(c, commands).await,
                Ok(None) => break Err("the controller closed the command stream".into()),
                Err(s) => break Err(format!("command stream: {}", s.message())),
            },
            _ = changed(latest) => {}
            _ = tokio::time::sleep(if delivery.busy() { Duration::from_millis(50) } else { Duration::from_secs(1) }) => {}
            _ = beat.tick() => {
                if let Err(s) = client.heartbeat(heartbeat(ctx)).await {
                    break Err(format!("heartbeat: {}", s.message()));
                }
            }
        }
        if let Err(e) = delivery.flush().await {
            break Err(format!("buffer: {e}"));
        }
        let newest = *latest.borrow();
        match delivery.next(newest).await {
            Ok(batches) => streams.send(batches).await,
            Err(e) => break Err(format!("buffer: {e}")),
        }
    };
    // What was confirmed before leaving is kept.
    let _ = delivery.flush().await;
    result
}
