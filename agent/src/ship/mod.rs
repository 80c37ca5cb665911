//! The shipper: outputs of this node's services for buckets of services on other nodes, or
//! for an S3-compatible store.
//!
//! A job moves such an output into the outbox (`<state>/outbox/<cluster>/<bucket>/<folder>/
//! <file>`, a rename: the file is there whole or not at all) before the job is recorded as
//! done. This task owns its own connection to the controller and sends each file with
//! `AgentService.Ship`; the controller hands it to the agent of that cluster and answers once
//! that agent has stored it. Only then is the file removed: an outage, a restart of either
//! agent or of the controller only delays it. A file sent twice (an answer lost on the way)
//! is taken once, since an agent takes a file name once per service.
//!
//! Outputs for a store wait the same way in their own outbox
//! (`<state>/outbox-s3/<provider>/<bucket>/<folder>/<file>`) and leave it once uploaded.
//!
//! [`outbox`] reads an outbox folder, [`send`] sends one file, [`s3`] holds the S3 clients
//! (and the mirrors of S3 input folders the services use).

pub mod outbox;
// Without the `s3` feature, a stand-in whose store type has no value (agent.yaml's
// `services.s3` is refused when it is read).
#[cfg_attr(not(feature = "s3"), path = "s3_absent.rs")]
pub mod s3;
mod send;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aisprint_model::config::AgentConfig;
use aisprint_proto::v1::agent_service_client::AgentServiceClient;
use aisprint_runtime::backoff::Backoff;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

pub use outbox::{pending, Pending};
use s3::Stores;
use send::{send, Sent, Target};

/// Files sent at a time.
const IN_FLIGHT: usize = 8;
/// How often the outbox is looked at without being woken (files left by a previous run).
const IDLE: Duration = Duration::from_secs(5);

/// An outbox folder and the wake handle of the task that empties it.
#[derive(Debug, Clone)]
pub struct Folder {
    pub dir: PathBuf,
    pub wake: Arc<Notify>,
}

impl Folder {
    pub fn new(dir: PathBuf) -> Folder {
        Folder { dir, wake: Arc::new(Notify::new()) }
    }
}

/// Where an outbox's files go.
#[derive(Debug)]
pub enum Dest {
    /// Other clusters' agents, through the controller (the outbox's first level: the cluster).
    Mesh(Box<AgentConfig>),
    /// S3-compatible stores (the first level: the storage provider).
    S3(Arc<Stores>),
}

/// The task that empties one outbox.
struct Shipper {
    dest: Dest,
    outbox: PathBuf,
    undeliverable: PathBuf,
    cancel: CancellationToken,
    connect_backoff: Backoff,
    client: Option<AgentServiceClient<Channel>>,
    /// Per destination (cluster or store) that failed: when to try it again, and its backoff.
    /// One that is away does not hold up the others, and its files are not sent again each
    /// round.
    away: HashMap<String, (Instant, Backoff)>,
}

/// What a round of sending left: destinations that failed, with why.
type Failed = HashMap<String, String>;

impl Shipper {
    /// How to send now; `None` when the controller cannot be reached (after the backoff's
    /// wait).
    async fn target(&mut self, waiting: usize) -> Option<Target> {
        match (&self.dest, &self.client) {
            (Dest::S3(st), _) => Some(Target::S3(st.clone())),
            (Dest::Mesh(cfg), Some(c)) => Some(Target::Mesh(c.clone(), cfg.node_id.clone())),
            (Dest::Mesh(cfg), None) => match crate::link::connect(cfg).await {
                Ok(c) => {
                    self.client = Some(c.clone());
                    self.connect_backoff.reset();
                    Some(Target::Mesh(c, cfg.node_id.clone()))
                }
                Err(e) => {
                    let what = format!("{waiting} output(s) for other nodes wait: controller unreachable");
                    self.connect_backoff.pause(&self.cancel, &what, &e).await;
                    None
                }
            },
        }
    }

    /// What became of one file: removed once delivered, set aside when refused for good.
    fn settle(&mut self, f: &Pending, sent: Sent, failed: &mut Failed) -> bool {
        match sent {
            Sent::Delivered => {
                self.away.remove(&f.cluster);
                if let Err(e) = std::fs::remove_file(&f.path) {
                    tracing::warn!(file = %f.path.display(), error = %e, "delivered, but cannot remove it from the outbox (it will be sent again)");
                }
                return true;
            }
            Sent::Refused(why) => {
                let kept = outbox::set_aside(&self.outbox, &self.undeliverable, f);
                let to = kept.as_ref().map_or_else(|e| e.to_string(), |p| p.display().to_string());
                tracing::error!(to = %f.cluster, bucket = %f.bucket, file = %f.name, reason = %why, kept = %to, "output refused: kept aside");
                if let Err(e) = kept {
                    // Still in the outbox: tried again later rather than at once.
                    failed.entry(f.cluster.clone()).or_insert(format!("cannot keep a refused file aside: {e}"));
                }
            }
            Sent::Retry(why) => {
                failed.entry(f.cluster.clone()).or_insert(why);
            }
        }
        false
    }

    /// Sends the ready files, `IN_FLIGHT` at a time, skipping a destination once it failed
    /// this round; `None` when cancelled.
    async fn round(&mut self, target: Target, ready: Vec<Pending>) -> Option<Failed> {
        let mut failed = Failed::new();
        let mut delivered = 0usize;
        let mut set = tokio::task::JoinSet::new();
        let mut queue = ready.into_iter();
        loop {
            while set.len() < IN_FLIGHT {
                let Some(f) = queue.next() else { break };
                if failed.contains_key(&f.cluster) {
                    continue; // its destination failed in this round: later
                }
                let t = target.clone();
                set.spawn(async move {
                    let sent = send(t, &f).await;
                    (f, sent)
                });
            }
            let joined = tokio::select! {
                _ = self.cancel.cancelled() => {
                    set.abort_all();
                    return None;
                }
                j = set.join_next() => j,
            };
            let Some(joined) = joined else { break };
            let Ok((f, sent)) = joined else { continue };
            if self.settle(&f, sent, &mut failed) {
                delivered += 1;
            }
        }
        if delivered > 0 {
            tracing::debug!(delivered, outbox = %self.outbox.display(), "outputs delivered");
        }
        Some(failed)
    }

    /// Destinations that failed wait (their backoff); a broken connection is made again.
    fn back_off(&mut self, failed: Failed) {
        for (to, why) in failed {
            // A broken connection is made again; an absent receiver is waited for.
            if why.contains("transport") {
                self.client = None;
            }
            let e = self.away.entry(to.clone()).or_insert_with(|| (Instant::now(), Backoff::new()));
            let wait = e.1.next_delay();
            e.0 = Instant::now() + wait;
            tracing::warn!(%to, error = %why, retry_in_ms = wait.as_millis() as u64, "outputs not delivered yet (kept in the outbox)");
        }
    }
}

/// Empties the outbox until `cancel` fires.
pub async fn run(dest: Dest, folder: Folder, cancel: CancellationToken) {
    let Folder { dir: outbox, wake } = folder;
    let mut s = Shipper {
        dest,
        undeliverable: outbox.with_file_name("undeliverable"),
        outbox,
        cancel,
        connect_backoff: Backoff::new(),
        client: None,
        away: HashMap::new(),
    };
    while !s.cancel.is_cancelled() {
        let files = {
            let o = s.outbox.clone();
            tokio::task::spawn_blocking(move || pending(&o)).await.unwrap_or_default()
        };
        let now = Instant::now();
        let ready: Vec<Pending> =
            files.into_iter().filter(|f| s.away.get(&f.cluster).is_none_or(|(at, _)| *at <= now)).collect();
        if ready.is_empty() {
            let next = s.away.values().map(|(at, _)| at.saturating_duration_since(now)).min().unwrap_or(IDLE).min(IDLE);
            tokio::select! {
                _ = s.cancel.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(next) => {}
            }
            continue;
        }
        let Some(target) = s.target(ready.len()).await else { continue };
        let Some(failed) = s.round(target, ready).await else { return };
        s.back_off(failed);
    }
}
