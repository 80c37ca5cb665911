//! How the controller reaches its agents: the command stream of each connected agent, the
//! answers awaited through the QoS task, and the routes of logical clusters.
//!
//! A route names a node for a cluster that is not a node: SPACE4AI-R runs each component's
//! service under its own cluster name (`rt-<component>`), and the components before it send
//! their outputs there. Moving the component changes the route, in one place: the files
//! shipped after the change go to the new node, those shipped before reached the old one
//! (which drains them). `in_flight` counts the files on their way to each node, so that a
//! drain starts only once none is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aisprint_proto::commands::AgentCommand;
use aisprint_proto::v1::{Command, CommandResultReply};
use aisprint_runtime::clock::now_ms;
use tokio::sync::{mpsc, oneshot};
use tonic::Status;

use super::qos::QosInput;
use super::shipping::Shipping;

/// Where a connected agent's commands go.
pub type CommandSender = mpsc::Sender<Result<Command, Status>>;

/// A command id no one can guess: the kind and 128 random bits (an answer to a command is
/// taken only from the node it went to, and only for an id that went out).
pub fn command_id(kind: &str) -> Result<String, HubError> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(|e| HubError::Random(e.to_string()))?;
    Ok(format!("{kind}-{:032x}", u128::from_be_bytes(b)))
}

/// Why a command got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    #[error("no agent of `{0}` is connected")]
    NotConnected(String),
    #[error("the agent `{node}` did not answer within {timeout:?}")]
    NoAnswer { node: String, timeout: Duration },
    #[error("the controller is stopping")]
    Stopping,
    #[error("no random command id: {0}")]
    Random(String),
}

/// Arrivals counted per cluster (files put or shipped there), with their times.
#[derive(Debug, Default)]
struct Arrivals {
    /// Cluster -> arrival times (Unix ms), the oldest first, at most `ARRIVALS_KEPT`.
    times: HashMap<String, std::collections::VecDeque<i64>>,
    /// Node -> the files shipped there: (stored at, Unix ms; bytes; seconds from sending to
    /// the agent's answer), the oldest first, at most `ARRIVALS_KEPT`.
    shipped: HashMap<String, std::collections::VecDeque<(i64, u64, f64)>>,
}

/// The files shipped to a node over a time, as measured from the controller.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Shipped {
    pub files: usize,
    pub bytes: u64,
    /// Seconds from sending each to its answer, summed.
    pub seconds: f64,
}

/// Arrival times kept per cluster (and files shipped per node).
const ARRIVALS_KEPT: usize = 100_000;

/// Appends `v`, the oldest dropped beyond `ARRIVALS_KEPT`.
fn keep<T>(q: &mut std::collections::VecDeque<T>, v: T) {
    if q.len() == ARRIVALS_KEPT {
        q.pop_front();
    }
    q.push_back(v);
}

#[derive(Debug, Clone)]
pub struct Hub {
    commands: Arc<Mutex<HashMap<String, CommandSender>>>,
    routes: Arc<Mutex<HashMap<String, String>>>,
    in_flight: Arc<Mutex<HashMap<String, usize>>>,
    arrivals: Arc<Mutex<Arrivals>>,
    qos: mpsc::Sender<QosInput>,
    /// The routes files may take between agents (learnt from the FDLs applied through here).
    pub shipping: Shipping,
}

/// Decrements a node's in-flight count when dropped (whatever way the shipping ends).
struct InFlight<'a> {
    hub: &'a Hub,
    node: String,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.hub.in_flight.lock() {
            if let Some(n) = m.get_mut(&self.node) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

impl Hub {
    pub fn new(qos: mpsc::Sender<QosInput>, shipping: Shipping) -> Hub {
        Hub {
            commands: Arc::default(),
            routes: Arc::default(),
            in_flight: Arc::default(),
            arrivals: Arc::default(),
            qos,
            shipping,
        }
    }

    /// An agent opened its command stream.
    pub fn connect(&self, node: String, tx: CommandSender) {
        if let Ok(mut m) = self.commands.lock() {
            m.insert(node, tx);
        }
    }

    /// The node a cluster name stands for: its route, else itself.
    pub fn resolve(&self, cluster: &str) -> String {
        self.routes.lock().ok().and_then(|r| r.get(cluster).cloned()).unwrap_or_else(|| cluster.to_string())
    }

    /// Routes `cluster` to `node` from now on.
    pub fn set_route(&self, cluster: &str, node: &str) {
        if let Ok(mut r) = self.routes.lock() {
            r.insert(cluster.to_string(), node.to_string());
        }
    }

    /// Whether an agent of `node` has its command stream open.
    pub fn connected(&self, node: &str) -> bool {
        self.commands.lock().ok().and_then(|m| m.get(node).map(|tx| !tx.is_closed())).unwrap_or(false)
    }

    /// Files on their way to `node` now.
    pub fn in_flight(&self, node: &str) -> usize {
        self.in_flight.lock().ok().and_then(|m| m.get(node).copied()).unwrap_or(0)
    }

    /// Files that arrived for `cluster` since `since_ms` (Unix ms).
    pub fn arrivals_since(&self, cluster: &str, since_ms: i64) -> usize {
        let Ok(a) = self.arrivals.lock() else { return 0 };
        a.times.get(cluster).map_or(0, |q| q.iter().rev().take_while(|&&t| t >= since_ms).count())
    }

    /// The files shipped to `node` since `since_ms` (Unix ms).
    pub fn shipped_since(&self, node: &str, since_ms: i64) -> Shipped {
        let Ok(a) = self.arrivals.lock() else { return Shipped::default() };
        let mut out = Shipped::default();
        for (_, bytes, secs) in
            a.shipped.get(node).into_iter().flat_map(|q| q.iter().rev().take_while(|s| s.0 >= since_ms))
        {
            out.files += 1;
            out.bytes += bytes;
            out.seconds += secs;
        }
        out
    }

    fn shipped(&self, node: &str, bytes: u64, secs: f64) {
        if let Ok(mut a) = self.arrivals.lock() {
            keep(a.shipped.entry(node.to_string()).or_default(), (now_ms(), bytes, secs));
        }
    }

    /// Counts a file arriving for `cluster` now.
    pub fn arrived(&self, cluster: &str) {
        if let Ok(mut a) = self.arrivals.lock() {
            keep(a.times.entry(cluster.to_string()).or_default(), now_ms());
        }
    }

    /// Sends a command to the agent `node` (a route is followed) and tells the QoS task
    /// which node's answer to take; false when it is not connected.
    pub async fn send(&self, node: &str, cmd: Command) -> bool {
        let node = self.resolve(node);
        if self.qos.send(QosInput::Expect(cmd.id.clone(), node.clone())).await.is_err() {
            return false;
        }
        // An FDL applied through here gives the routes its outputs take (before it goes: the
        // first outputs may come back at once).
        if let Ok(AgentCommand::ServicesApply(a)) = AgentCommand::from_wire(&cmd) {
            self.shipping.applied(&node, &a.cluster, &a.fdl).await;
        }
        let tx = self.commands.lock().ok().and_then(|m| m.get(&node).cloned());
        let Some(tx) = tx else { return false };
        let sent = tx.send(Ok(cmd)).await.is_ok();
        if !sent {
            if let Ok(mut m) = self.commands.lock() {
                // Only this stream: the agent may have reconnected meanwhile.
                if m.get(&node).is_some_and(|t| t.same_channel(&tx)) {
                    m.remove(&node);
                }
            }
        }
        sent
    }

    /// Sends `cmd` to `cluster` (a route is followed) and waits at most `timeout` for the
    /// agent's answer. A file put counts as an arrival for `cluster` once stored.
    pub async fn command(
        &self,
        cluster: &str,
        cmd: &AgentCommand,
        timeout: Duration,
    ) -> Result<CommandResultReply, HubError> {
        let node = self.resolve(cluster);
        let _flight = matches!(cmd, AgentCommand::BucketPut(_)).then(|| {
            if let Ok(mut m) = self.in_flight.lock() {
                *m.entry(node.clone()).or_default() += 1;
            }
            InFlight { hub: self, node: node.clone() }
        });
        let id = command_id(cmd.kind())?;
        let sent_at = std::time::Instant::now();
        // Waits from before the command goes, so that a quick answer is not missed.
        let (tx, rx) = oneshot::channel();
        self.qos.send(QosInput::AwaitResult(id.clone(), tx)).await.map_err(|_| HubError::Stopping)?;
        let answer = tokio::time::timeout(timeout, async {
            if !self.send(&node, cmd.to_wire(id)).await {
                return Err(HubError::NotConnected(cluster.to_string()));
            }
            rx.await.map_err(|_| HubError::Stopping)
        })
        .await
        .map_err(|_| HubError::NoAnswer { node: node.clone(), timeout })??;
        if let (true, AgentCommand::BucketPut(put)) = (answer.ok, cmd) {
            self.arrived(cluster);
            // base64: 4 characters for 3 bytes.
            self.shipped(&node, put.content.len() as u64 * 3 / 4, sent_at.elapsed().as_secs_f64());
        }
        Ok(answer)
    }
}
