//! `aisprint controller serve`: the agents' gRPC service. With mutual TLS (the default) a
//! client needs a certificate of the mesh's CA, and an agent may speak only for the node its
//! certificate names. Batches from every connection go to one writer thread that stores them
//! in groups (one disk sync per group) and answers each with its acknowledgement.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aisprint_proto::commands::{AgentCommand, Put};
use aisprint_proto::v1::admin_service_server::{AdminService, AdminServiceServer};
use aisprint_proto::v1::agent_service_server::{AgentService, AgentServiceServer};
use aisprint_proto::v1::{
    AgentInfo, BatchAck, Command, CommandResultReply, CommandResultRequest, CommandsRequest, HeartbeatReply,
    HeartbeatRequest, ListAgentsReply, ListAgentsRequest, ListJobsReply, ListJobsRequest, MetricBatch, QosStatusReply,
    QosStatusRequest, RegisterReply, RegisterRequest, RuntimeReply, RuntimeRequest, SendCommandReply,
    SendCommandRequest, ShipReply, ShipRequest, TailMetricsReply, TailMetricsRequest,
};
use aisprint_runtime::clock::now_ms;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

use super::certs::{common_name, Revoked, ADMIN_PREFIX, CONTROLLER_NAME};
use super::config::{QosSetup, Tls};
use super::hub::{command_id, Hub, HubError};
use super::qos::QosInput;
use super::state::{State, Stored};
use crate::mesh::runtime::app::RuntimeApp;
use crate::mesh::runtime::task::{Notified, RuntimeInput, Wiring};
use aisprint_model::config::RuntimeSection;

/// A batch to store, and where to send (boot id, seq, duplicate) or the failure.
type WriteReq = (MetricBatch, oneshot::Sender<Result<(String, u64, bool), String>>);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    State(#[from] super::state::StateError),
    #[error("cannot serve on {addr}: {source}")]
    Transport {
        addr: SocketAddr,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("monitoring: {0}")]
    Monitoring(#[from] super::MeshError),
    #[error(transparent)]
    Runtime(#[from] crate::mesh::runtime::RuntimeError),
    #[error("monitoring.http: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// How long a shipped file waits for the receiving agent's answer.
const SHIP_ANSWER: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, Clone)]
struct Mesh {
    /// The connections' reader and acker tasks (`serve` waits for them before it returns).
    tasks: TaskTracker,
    state: Arc<State>,
    writer: mpsc::Sender<WriteReq>,
    secure: bool,
    /// Open batch streams per node.
    connected: Arc<Mutex<HashMap<String, usize>>>,
    hub: Hub,
    qos: mpsc::Sender<QosInput>,
    /// SPACE4AI-R's task (with a `runtime` section): its questions, and violations.
    runtime: Option<mpsc::Sender<RuntimeInput>>,
    notes: Option<mpsc::Sender<Notified>>,
    /// The application's constraint names (`POST /ams-alert` refuses others).
    constraints: Arc<std::collections::BTreeSet<String>>,
    /// Certificates refused although the CA signed them.
    revoked: Arc<Revoked>,
}

impl Mesh {
    /// The name the client's certificate carries (None without TLS); refused when the
    /// certificate is revoked or absent.
    fn peer<T>(&self, req: &Request<T>) -> Result<Option<String>, Status> {
        if !self.secure {
            return Ok(None);
        }
        let certs = req.peer_certs().ok_or_else(|| Status::unauthenticated("no client certificate"))?;
        let first = certs.first().ok_or_else(|| Status::unauthenticated("no client certificate"))?;
        let name = common_name(first.as_ref()).ok_or_else(|| Status::unauthenticated("no name in the certificate"))?;
        if self.revoked.contains(first.as_ref()) {
            tracing::warn!(certificate = %name, "refused: the certificate is revoked");
            return Err(Status::permission_denied(format!("the certificate of `{name}` is revoked")));
        }
        Ok(Some(name))
    }

    /// Checks that the client may speak for `node`.
    fn check_node<T>(&self, req: &Request<T>, node: &str) -> Result<(), Status> {
        if !aisprint_model::config::valid_name(node) {
            return Err(Status::invalid_argument(format!("`{node}` is not a valid node id")));
        }
        match self.peer(req)? {
            None => Ok(()),
            Some(n) if n == node => Ok(()),
            Some(n) => {
                tracing::warn!(certificate = %n, claimed = %node, "refused: node id differs from the certificate");
                Err(Status::permission_denied(format!("the certificate names `{n}`, not `{node}`")))
            }
        }
    }

    /// Only an operator's certificate (`aisprint certs issue --admin`) may use the admin
    /// service: not an agent's, and not the controller's own serving key.
    fn check_admin<T>(&self, req: &Request<T>) -> Result<(), Status> {
        match self.peer(req)? {
            None => Ok(()),
            Some(n) if n.starts_with(ADMIN_PREFIX) => Ok(()),
            Some(n) => {
                tracing::warn!(certificate = %n, "refused: an admin request without an operator's certificate");
                Err(Status::permission_denied(format!(
                    "`{n}` is not an operator: the admin service takes certificates from `aisprint certs issue --admin`"
                )))
            }
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&State) -> Result<T, super::state::StateError> + Send + 'static,
    ) -> Result<T, Status> {
        let state = self.state.clone();
        tokio::task::spawn_blocking(move || f(&state))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::internal(e.to_string()))
    }
}

#[tonic::async_trait]
impl AgentService for Mesh {
    async fn register(&self, req: Request<RegisterRequest>) -> Result<Response<RegisterReply>, Status> {
        let r = req.get_ref().clone();
        self.check_node(&req, &r.node_id)?;
        let info = AgentInfo {
            node_id: r.node_id.clone(),
            boot_id: r.boot_id.clone(),
            layer: r.layer.clone(),
            resource: r.resource.clone(),
            architecture: r.architecture.clone(),
            cores: r.cores,
            memory_bytes: r.memory_bytes,
            hostname: r.hostname.clone(),
            agent_version: r.agent_version.clone(),
            ..Default::default()
        };
        let (node, boot, mono) = (r.node_id.clone(), r.boot_id.clone(), r.monotonic_ms);
        let last_seq = self
            .blocking(move |s| {
                s.touch(&node, Some(info), &boot, mono, None)?;
                s.last_seq(&node, &boot)
            })
            .await?;
        tracing::info!(node = %r.node_id, boot = %r.boot_id, last_seq, "agent registered");
        self.hub.shipping.declared(
            &r.node_id,
            r.clusters.clone(),
            r.inbound.iter().map(|e| (e.from_cluster.clone(), e.to_cluster.clone(), e.bucket.clone())).collect(),
        );
        Ok(Response::new(RegisterReply {
            controller_id: CONTROLLER_NAME.to_string(),
            server_time_unix_ms: now_ms(),
            last_seq,
        }))
    }

    type PushBatchesStream = ReceiverStream<Result<BatchAck, Status>>;

    async fn push_batches(
        &self,
        req: Request<Streaming<MetricBatch>>,
    ) -> Result<Response<Self::PushBatchesStream>, Status> {
        let cert_node = self.peer(&req)?;
        let mut inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(1024);
        let (pending_tx, mut pending_rx) =
            mpsc::channel::<oneshot::Receiver<Result<(String, u64, bool), String>>>(1024);
        let writer = self.writer.clone();
        let err_tx = tx.clone();
        let connected = self.connected.clone();
        // Reader: batches in, each to the writer; its answer waits in order for the acker.
        self.tasks.spawn(async move {
            let mut node_seen: Option<String> = None;
            loop {
                let b = match inbound.message().await {
                    Ok(Some(b)) => b,
                    Ok(None) | Err(_) => break,
                };
                if let Some(n) = &cert_node {
                    if *n != b.node_id {
                        let _ = err_tx
                            .send(Err(Status::permission_denied(format!(
                                "the certificate names `{n}`, not `{}`",
                                b.node_id
                            ))))
                            .await;
                        break;
                    }
                }
                if node_seen.is_none() {
                    if let Ok(mut c) = connected.lock() {
                        *c.entry(b.node_id.clone()).or_default() += 1;
                    }
                    node_seen = Some(b.node_id.clone());
                }
                let (otx, orx) = oneshot::channel();
                if writer.send((b, otx)).await.is_err() || pending_tx.send(orx).await.is_err() {
                    break;
                }
            }
            if let Some(n) = node_seen {
                if let Ok(mut c) = connected.lock() {
                    if let Some(k) = c.get_mut(&n) {
                        *k = k.saturating_sub(1);
                    }
                }
            }
        });
        // Acker: one acknowledgement per stored batch, in the order received.
        self.tasks.spawn(async move {
            while let Some(orx) = pending_rx.recv().await {
                let reply = match orx.await {
                    Ok(Ok(stored)) => Ok(stored),
                    Ok(Err(e)) => Err(Status::internal(format!("storing a batch: {e}"))),
                    Err(_) => Err(Status::unavailable("the controller is stopping")),
                };
                let msg = reply.map(|(boot_id, seq, dup)| BatchAck { boot_id, seq, duplicate: dup });
                let stop = msg.is_err();
                if tx.send(msg).await.is_err() || stop {
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn heartbeat(&self, req: Request<HeartbeatRequest>) -> Result<Response<HeartbeatReply>, Status> {
        let r = req.get_ref().clone();
        self.check_node(&req, &r.node_id)?;
        self.blocking(move |s| s.touch(&r.node_id, None, &r.boot_id, r.monotonic_ms, Some((r.buffered, r.dropped))))
            .await?;
        Ok(Response::new(HeartbeatReply { server_time_unix_ms: now_ms() }))
    }

    type CommandsStream = ReceiverStream<Result<Command, Status>>;

    async fn commands(&self, req: Request<CommandsRequest>) -> Result<Response<Self::CommandsStream>, Status> {
        let node = req.get_ref().node_id.clone();
        self.check_node(&req, &node)?;
        let (tx, rx) = mpsc::channel(64);
        self.hub.connect(node, tx);
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn ship(&self, req: Request<ShipRequest>) -> Result<Response<ShipReply>, Status> {
        use base64::Engine;
        let r = req.get_ref();
        self.check_node(&req, &r.node_id)?;
        let r = req.into_inner();
        if !aisprint_model::config::valid_name(&r.cluster) {
            return Ok(Response::new(ShipReply {
                ok: false,
                message: format!("`{}` is not a valid cluster name", r.cluster),
            }));
        }
        if r.content.len() > aisprint_model::config::SHIP_MAX_BYTES {
            return Ok(Response::new(ShipReply {
                ok: false,
                message: format!(
                    "{} bytes: the mesh carries files of at most {} MiB",
                    r.content.len(),
                    aisprint_model::config::SHIP_MAX_BYTES >> 20
                ),
            }));
        }
        // Only along a route of the applied or declared FDLs, and within the sender's quota
        // (a refusal is an error: the sender keeps the file and tries again later, when the
        // route may be known).
        let receiver = self.hub.resolve(&r.cluster);
        // A receiver that stopped reading its commands holds what was sent to it: a bounded
        // number of files, whoever sends them.
        if self.hub.in_flight(&receiver) >= RECEIVER_IN_FLIGHT {
            return Err(Status::resource_exhausted(format!(
                "{RECEIVER_IN_FLIGHT} files are on their way to `{receiver}` already: retry"
            )));
        }
        let _ticket =
            self.hub.shipping.admit(&r.node_id, &r.cluster, &receiver, &r.bucket, r.content.len() as u64).map_err(
                |e| {
                    tracing::warn!(from = %r.node_id, to = %r.cluster, bucket = %r.bucket, error = %e, "file refused");
                    match e {
                        super::shipping::Refusal::NoRoute { .. } => Status::permission_denied(e.to_string()),
                        super::shipping::Refusal::Quota { .. } => Status::resource_exhausted(e.to_string()),
                    }
                },
            )?;
        let put = AgentCommand::BucketPut(Put {
            bucket: r.bucket.clone(),
            name: r.name.clone(),
            content: base64::engine::general_purpose::STANDARD.encode(&r.content),
        });
        // The command queue of an agent that stopped reading can be full: bounded too.
        let answer = self.hub.command(&r.cluster, &put, SHIP_ANSWER).await.map_err(|e| match e {
            HubError::NotConnected(c) => Status::unavailable(format!("no agent of cluster `{c}` is connected")),
            HubError::NoAnswer { .. } => Status::deadline_exceeded(format!(
                "the agent of cluster `{}` did not answer within {SHIP_ANSWER:?}",
                r.cluster
            )),
            HubError::Stopping => Status::unavailable("stopping"),
            HubError::Random(e) => Status::internal(e),
        })?;
        if !answer.ok && answer.transient {
            // Not stored, but it may be later (the receiver's disk): the sender keeps it.
            return Err(Status::unavailable(format!("the agent of cluster `{}`: {}", r.cluster, answer.message)));
        }
        tracing::debug!(from = %r.node_id, to = %r.cluster, bucket = %r.bucket, name = %r.name, ok = answer.ok, "file shipped");
        Ok(Response::new(ShipReply { ok: answer.ok, message: answer.message }))
    }
}

#[tonic::async_trait]
impl AdminService for Mesh {
    async fn list_agents(&self, req: Request<ListAgentsRequest>) -> Result<Response<ListAgentsReply>, Status> {
        self.check_admin(&req)?;
        Ok(Response::new(ListAgentsReply { agents: self.agents().await? }))
    }

    async fn tail_metrics(&self, req: Request<TailMetricsRequest>) -> Result<Response<TailMetricsReply>, Status> {
        self.check_admin(&req)?;
        let r = req.into_inner();
        let limit = if r.limit == 0 { 20 } else { r.limit as usize };
        let batches = self.blocking(move |s| s.tail(&r.node_id, limit)).await?;
        Ok(Response::new(TailMetricsReply { batches }))
    }

    async fn list_jobs(&self, req: Request<ListJobsRequest>) -> Result<Response<ListJobsReply>, Status> {
        self.check_admin(&req)?;
        let r = req.into_inner();
        let limit = if r.limit == 0 { 50 } else { r.limit as usize };
        let jobs = self.ask_qos(|tx| QosInput::Jobs(r.service, limit, tx)).await?;
        Ok(Response::new(ListJobsReply { jobs }))
    }

    async fn command_result(&self, req: Request<CommandResultRequest>) -> Result<Response<CommandResultReply>, Status> {
        self.check_admin(&req)?;
        let id = req.into_inner().command_id;
        let r = self.ask_qos(|tx| QosInput::CommandResult(id, tx)).await?;
        Ok(Response::new(r))
    }

    async fn send_command(&self, req: Request<SendCommandRequest>) -> Result<Response<SendCommandReply>, Status> {
        self.check_admin(&req)?;
        let r = req.into_inner();
        // Only commands the agents know go out, with payloads of their shape.
        let cmd = AgentCommand::parse(&r.kind, &r.payload_json).map_err(|e| Status::invalid_argument(e.to_string()))?;
        let id = command_id(cmd.kind()).map_err(|e| Status::internal(e.to_string()))?;
        let sent = self.hub.send(&r.node_id, cmd.to_wire(id.clone())).await;
        if sent && matches!(cmd, AgentCommand::BucketPut(_)) {
            self.hub.arrived(&r.node_id);
        }
        tracing::info!(node = %r.node_id, kind = %r.kind, sent, "command");
        Ok(Response::new(SendCommandReply { sent, command_id: id }))
    }

    async fn runtime(&self, req: Request<RuntimeRequest>) -> Result<Response<RuntimeReply>, Status> {
        self.check_admin(&req)?;
        let Some(rt) = &self.runtime else {
            return Err(Status::failed_precondition(
                "SPACE4AI-R is off: add a `runtime` section to controller.yaml (docs/runtime.md)",
            ));
        };
        let stopping = || Status::unavailable("the controller is stopping");
        let action = req.into_inner().action;
        let reply = match action.as_str() {
            "status" | "plan" => {
                let (tx, rx) = oneshot::channel();
                let ask = if action == "status" { RuntimeInput::Status(tx) } else { RuntimeInput::Plan(tx) };
                rt.send(ask).await.map_err(|_| stopping())?;
                let v = rx.await.map_err(|_| stopping())?;
                RuntimeReply { ok: true, json: v.to_string(), message: String::new() }
            }
            "rollback" => {
                let (tx, rx) = oneshot::channel();
                rt.send(RuntimeInput::Rollback(tx)).await.map_err(|_| stopping())?;
                match rx.await.map_err(|_| stopping())? {
                    Ok(m) => RuntimeReply { ok: true, json: String::new(), message: m },
                    Err(m) => RuntimeReply { ok: false, json: String::new(), message: m },
                }
            }
            other => {
                return Err(Status::invalid_argument(format!(
                    "unknown runtime action `{other}`: status, plan or rollback"
                )))
            }
        };
        Ok(Response::new(reply))
    }

    async fn qos_status(&self, req: Request<QosStatusRequest>) -> Result<Response<QosStatusReply>, Status> {
        self.check_admin(&req)?;
        Ok(Response::new(self.ask_qos(QosInput::Status).await?))
    }
}

impl Mesh {
    /// Asks the QoS task and waits for its answer.
    async fn ask_qos<T>(&self, ask: impl FnOnce(oneshot::Sender<T>) -> QosInput) -> Result<T, Status> {
        let stopping = || Status::unavailable("the controller is stopping");
        let (tx, rx) = oneshot::channel();
        self.qos.send(ask(tx)).await.map_err(|_| stopping())?;
        rx.await.map_err(|_| stopping())
    }

    /// The agents as `aisprint agents list` shows them.
    async fn agents(&self) -> Result<Vec<AgentInfo>, Status> {
        let mut agents = self.blocking(|s| s.agents()).await?;
        if let Ok(c) = self.connected.lock() {
            for a in &mut agents {
                a.connected = c.get(&a.node_id).is_some_and(|n| *n > 0);
            }
        }
        Ok(agents)
    }
}

/// `GET /metrics` of the controller: the agents, and the QoS checks.
async fn metrics(axum::extract::State(mesh): axum::extract::State<Mesh>) -> axum::response::Response {
    use aisprint_ams::prometheus::{Exposition, Type};
    use axum::response::IntoResponse;
    let mut e = Exposition::new();
    if let Ok(agents) = mesh.agents().await {
        for a in agents {
            let l = [("node", a.node_id.as_str()), ("layer", a.layer.as_str()), ("resource", a.resource.as_str())];
            e.add(
                "aisprint_agent_connected",
                "1 while the agent has a batch stream open.",
                Type::Gauge,
                l,
                f64::from(u8::from(a.connected)),
            );
            e.add("aisprint_agent_batches_total", "Batches stored for the agent.", Type::Counter, l, a.batches as f64);
            e.add(
                "aisprint_agent_duplicates_total",
                "Batches received again (already stored).",
                Type::Counter,
                l,
                a.duplicates as f64,
            );
            e.add(
                "aisprint_agent_buffered",
                "Batches waiting in the agent's buffer (last heartbeat).",
                Type::Gauge,
                l,
                a.buffered as f64,
            );
            e.add(
                "aisprint_agent_dropped_total",
                "Batches the agent dropped (buffer full).",
                Type::Counter,
                l,
                a.dropped as f64,
            );
            e.add(
                "aisprint_agent_last_seen_seconds",
                "When the agent was last heard of (Unix seconds).",
                Type::Gauge,
                l,
                a.last_seen_unix_ms as f64 / 1000.0,
            );
        }
    }
    let qos = mesh.ask_qos(QosInput::Metrics).await.unwrap_or_default();
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], e.render() + &qos).into_response()
}

/// Bodies of `POST /ams-alert` at most.
const ALERT_MAX_BYTES: usize = 64 * 1024;

/// `POST /ams-alert`: a violation from an external AMS (its notification bodies, or the
/// reference runtime's `{"Throughput": <req/s>}`), passed to SPACE4AI-R.
async fn ams_alert(
    axum::extract::State(mesh): axum::extract::State<Mesh>,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, String) {
    use axum::http::StatusCode;
    let Some(notes) = &mesh.notes else {
        return (StatusCode::NOT_FOUND, "no runtime section in controller.yaml: SPACE4AI-R is off\n".into());
    };
    if body.len() > ALERT_MAX_BYTES {
        return (StatusCode::PAYLOAD_TOO_LARGE, format!("at most {ALERT_MAX_BYTES} bytes\n"));
    }
    let v: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not JSON: {e}\n")),
    };
    let Some(what) = crate::mesh::runtime::task::violation_of(&v) else {
        return (
            StatusCode::BAD_REQUEST,
            "expected an AMS notification: an object with `constraint` (a name) and `value`, an alert, or `Throughput` (requests per second)\n".into(),
        );
    };
    if let Some(name) = v.get("constraint").and_then(serde_json::Value::as_str) {
        if !mesh.constraints.contains(name) {
            let known: Vec<&str> = mesh.constraints.iter().map(String::as_str).collect();
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("unknown constraint `{name}`: the application's are {}\n", known.join(", ")),
            );
        }
    }
    match notes.try_send(("ams-alert".into(), v)) {
        Ok(()) => (StatusCode::ACCEPTED, format!("accepted: {what}\n")),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "SPACE4AI-R is busy: try again\n".into()),
    }
}

/// The writer: takes what is waiting (up to 1,024 batches), stores it in one commit, answers;
/// once a minute it deletes batches older than the retention.
fn writer_loop(
    state: Arc<State>,
    mut rx: mpsc::Receiver<WriteReq>,
    retention: std::time::Duration,
    qos: mpsc::Sender<QosInput>,
) {
    let mut skipped: u64 = 0;
    let mut last_prune = std::time::Instant::now();
    while let Some(first) = rx.blocking_recv() {
        if last_prune.elapsed() > std::time::Duration::from_secs(60) {
            last_prune = std::time::Instant::now();
            let cutoff = now_ms() - retention.as_millis() as i64;
            loop {
                match state.prune(cutoff, 10_000) {
                    Ok(10_000) => continue,
                    Ok(n) => {
                        if n > 0 {
                            tracing::info!(deleted = n, "retention: old batches deleted");
                        }
                        break;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "retention failed");
                        break;
                    }
                }
            }
        }
        let mut group = vec![first];
        while group.len() < 1024 {
            match rx.try_recv() {
                Ok(x) => group.push(x),
                Err(_) => break,
            }
        }
        let batches: Vec<MetricBatch> = group.iter().map(|(b, _)| b.clone()).collect();
        match state.store(&batches) {
            Ok(results) => {
                for ((b, reply), r) in group.into_iter().zip(results) {
                    let duplicate = r == Stored::Duplicate;
                    if !duplicate && !b.points.is_empty() {
                        // Each record reaches the QoS checks once: duplicates are not passed on.
                        if let Err(mpsc::error::TrySendError::Full(_)) =
                            qos.try_send(QosInput::Points { node: b.node_id, points: b.points })
                        {
                            skipped += 1;
                            if skipped.is_power_of_two() {
                                tracing::warn!(skipped, "QoS checks fall behind: batches not passed to them");
                            }
                        }
                    }
                    let _ = reply.send(Ok((b.boot_id, b.seq, duplicate)));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "storing batches failed");
                for (_, reply) in group {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// Files on their way to one agent at most (its command queue holds 64).
const RECEIVER_IN_FLIGHT: usize = 32;

/// Requests and streams of one connection at once at most.
const CONCURRENT_PER_CONNECTION: usize = 64;

/// How long `serve` waits for its tasks once the server stopped.
const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the agents on `incoming` until `cancel` fires; then the writer stores what it was
/// given, the QoS task and the notifications' delivery stop, and every task ends.
pub async fn serve(
    incoming: TcpIncoming,
    state_path: PathBuf,
    tls: Option<Tls>,
    retention: std::time::Duration,
    qos: Option<QosSetup>,
    runtime: Option<(RuntimeSection, RuntimeApp)>,
    cancel: CancellationToken,
) -> Result<(), ServeError> {
    let addr = incoming.local_addr().map_err(|source| ServeError::Bind { addr: ([0, 0, 0, 0], 0).into(), source })?;
    let state = Arc::new(State::open(&state_path)?);
    // The QoS task, the outbox and /metrics outlive the gRPC server: the writer hands the
    // QoS task the last batches while it drains.
    let inner = CancellationToken::new();
    let tasks = TaskTracker::new();
    let metrics_addr = qos.as_ref().and_then(|q| q.http);
    let metrics_listener = match metrics_addr {
        Some(a) => Some(tokio::net::TcpListener::bind(a).await.map_err(|source| ServeError::Bind { addr: a, source })?),
        None => None,
    };
    let (notes_tx, notes_rx) = crate::mesh::runtime::task::notifications();
    let notes = runtime.is_some().then_some(notes_tx);
    let qtx = super::qos::start(qos, notes.clone(), inner.clone(), &tasks)?;
    let hub = Hub::new(qtx.clone(), super::shipping::Shipping::open(Some(&state_path)));
    let constraints = Arc::new(runtime.as_ref().map(|r| r.1.constraints.clone()).unwrap_or_default());
    let rtx = match runtime {
        Some((section, app)) => {
            let w = Wiring { hub: hub.clone(), qos: qtx.clone(), state: state.clone(), notes: notes_rx };
            Some(crate::mesh::runtime::task::start(section, app, &state_path, w, inner.clone(), &tasks)?)
        }
        None => None,
    };
    let (wtx, wrx) = mpsc::channel::<WriteReq>(8192);
    let (wstate, wqos) = (state.clone(), qtx.clone());
    let writer = std::thread::spawn(move || writer_loop(wstate, wrx, retention, wqos));
    let mesh = Mesh {
        tasks: tasks.clone(),
        state,
        writer: wtx,
        secure: tls.is_some(),
        connected: Arc::default(),
        hub,
        qos: qtx,
        runtime: rtx,
        notes,
        constraints,
        revoked: Arc::new(Revoked::new(tls.as_ref().and_then(|t| t.revoked.clone()))),
    };
    if let Some(l) = metrics_listener {
        let router = axum::Router::new()
            .route("/metrics", axum::routing::get(metrics))
            .route("/ams-alert", axum::routing::post(ams_alert))
            .with_state(mesh.clone());
        let c = inner.clone();
        tracing::info!(addr = ?metrics_addr, "Prometheus metrics on /metrics");
        tasks.spawn(async move {
            if let Err(e) = axum::serve(l, router).with_graceful_shutdown(async move { c.cancelled().await }).await {
                tracing::error!(error = %e, "metrics endpoint stopped");
            }
        });
    }
    // Keepalive pings: an agent gone without closing its connection (a network cut) is
    // noticed in under a minute, not when TCP gives up.
    let mut builder = Server::builder()
        // Streams and requests of one connection at a time: an agent needs a handful.
        .concurrency_limit_per_connection(CONCURRENT_PER_CONNECTION)
        .max_concurrent_streams(Some(CONCURRENT_PER_CONNECTION as u32))
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(20)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(20)));
    if let Some(t) = &tls {
        let cfg = ServerTlsConfig::new()
            .identity(Identity::from_pem(&t.cert, &t.key))
            .client_ca_root(Certificate::from_pem(&t.ca));
        builder = builder.tls_config(cfg).map_err(|source| ServeError::Transport { addr, source })?;
    }
    tracing::info!(%addr, tls = tls.is_some(), "controller serving agents");
    let result = builder
        .add_service(
            AgentServiceServer::new(mesh.clone())
                .max_decoding_message_size(aisprint_model::config::MESSAGE_MAX_BYTES)
                .max_encoding_message_size(aisprint_model::config::MESSAGE_MAX_BYTES),
        )
        .add_service(AdminServiceServer::new(mesh.clone()))
        .serve_with_incoming_shutdown(incoming, cancel.cancelled_owned())
        .await
        .map_err(|source| ServeError::Transport { addr, source });
    drop(mesh);
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    inner.cancel();
    tasks.close();
    if tokio::time::timeout(GRACE, tasks.wait()).await.is_err() {
        tracing::warn!(tasks = tasks.len(), "tasks still running {GRACE:?} after the server stopped: left behind");
    }
    result
}
