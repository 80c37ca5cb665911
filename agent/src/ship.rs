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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aisprint_model::config::{AgentConfig, SHIP_MAX_BYTES};
use aisprint_proto::v1::agent_service_client::AgentServiceClient;
use aisprint_proto::v1::ShipRequest;
use aisprint_runtime::backoff::Backoff;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::s3::Stores;

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

/// A file waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub path: PathBuf,
    pub cluster: String,
    /// `bucket/folder`.
    pub bucket: String,
    pub name: String,
}

/// The files waiting in `outbox`, oldest first (hidden files, copies in progress, skipped).
pub fn pending(outbox: &Path) -> Vec<Pending> {
    let mut found = Vec::new();
    let mut dirs = vec![outbox.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                dirs.push(p);
            } else if t.is_file() && !e.file_name().to_string_lossy().starts_with('.') {
                let modified = e.metadata().and_then(|m| m.modified()).ok();
                found.push((modified, p));
            }
        }
    }
    found.sort();
    found
        .into_iter()
        .filter_map(|(_, path)| {
            let rel = path.strip_prefix(outbox).ok()?;
            let parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().to_string()).collect();
            // cluster, at least one bucket component, the file.
            if parts.len() < 3 {
                return None;
            }
            Some(Pending {
                cluster: parts[0].clone(),
                bucket: parts[1..parts.len() - 1].join("/"),
                name: parts[parts.len() - 1].clone(),
                path,
            })
        })
        .collect()
}

/// What became of one file.
enum Sent {
    Delivered,
    /// Refused for good (kept aside, said in the log).
    Refused(String),
    /// To send again later.
    Retry(String),
}

/// Where an outbox's files go.
#[derive(Debug)]
pub enum Dest {
    /// Other clusters' agents, through the controller (the outbox's first level: the cluster).
    Mesh(Box<AgentConfig>),
    /// S3-compatible stores (the first level: the storage provider).
    S3(Arc<Stores>),
}

/// A ready way to send.
#[derive(Clone)]
enum Target {
    Mesh(AgentServiceClient<Channel>, String),
    S3(Arc<Stores>),
}

/// Empties the outbox until `cancel` fires.
pub async fn run(dest: Dest, folder: Folder, cancel: CancellationToken) {
    let Folder { dir: outbox, wake } = folder;
    let undeliverable = outbox.with_file_name("undeliverable");
    let mut connect_backoff = Backoff::new();
    let mut client: Option<AgentServiceClient<Channel>> = None;
    // Per destination (cluster or store) that failed: when to try it again, and its backoff.
    // One that is away does not hold up the others, and its files are not sent again each
    // round.
    let mut away: HashMap<String, (Instant, Backoff)> = HashMap::new();
    loop {
        let files = {
            let o = outbox.clone();
            tokio::task::spawn_blocking(move || pending(&o)).await.unwrap_or_default()
        };
        let now = Instant::now();
        let ready: Vec<Pending> =
            files.into_iter().filter(|f| away.get(&f.cluster).is_none_or(|(at, _)| *at <= now)).collect();
        if ready.is_empty() {
            let next = away.values().map(|(at, _)| at.saturating_duration_since(now)).min().unwrap_or(IDLE).min(IDLE);
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(next) => {}
            }
            continue;
        }
        let target = match (&dest, &client) {
            (Dest::S3(st), _) => Target::S3(st.clone()),
            (Dest::Mesh(cfg), Some(c)) => Target::Mesh(c.clone(), cfg.node_id.clone()),
            (Dest::Mesh(cfg), None) => match crate::link::connect(cfg).await {
                Ok(c) => {
                    client = Some(c.clone());
                    connect_backoff.reset();
                    Target::Mesh(c, cfg.node_id.clone())
                }
                Err(e) => {
                    let what = format!("{} output(s) for other nodes wait: controller unreachable", ready.len());
                    connect_backoff.pause(&cancel, &what, &e).await;
                    if cancel.is_cancelled() {
                        return;
                    }
                    continue;
                }
            },
        };
        let mut failed: HashMap<String, String> = HashMap::new();
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
                _ = cancel.cancelled() => {
                    set.abort_all();
                    return;
                }
                j = set.join_next() => j,
            };
            let Some(joined) = joined else { break };
            let Ok((f, sent)) = joined else { continue };
            match sent {
                Sent::Delivered => {
                    delivered += 1;
                    away.remove(&f.cluster);
                    if let Err(e) = std::fs::remove_file(&f.path) {
                        tracing::warn!(file = %f.path.display(), error = %e, "delivered, but cannot remove it from the outbox (it will be sent again)");
                    }
                }
                Sent::Refused(why) => {
                    let to = undeliverable.join(f.path.strip_prefix(&outbox).unwrap_or(&f.path));
                    let kept = to
                        .parent()
                        .map(std::fs::create_dir_all)
                        .transpose()
                        .and_then(|_| std::fs::rename(&f.path, &to));
                    tracing::error!(to = %f.cluster, bucket = %f.bucket, file = %f.name, reason = %why, kept = %to.display(), "output refused: kept aside");
                    if let Err(e) = kept {
                        // Still in the outbox: tried again later rather than at once.
                        failed.entry(f.cluster.clone()).or_insert(format!("cannot keep a refused file aside: {e}"));
                    }
                }
                Sent::Retry(why) => {
                    failed.entry(f.cluster.clone()).or_insert(why);
                }
            }
        }
        if delivered > 0 {
            tracing::debug!(delivered, outbox = %outbox.display(), "outputs delivered");
        }
        for (to, why) in failed {
            // A broken connection is made again; an absent receiver is waited for.
            if why.contains("transport") {
                client = None;
            }
            let e = away.entry(to.clone()).or_insert_with(|| (Instant::now(), Backoff::new()));
            let wait = e.1.next_delay();
            e.0 = Instant::now() + wait;
            tracing::warn!(%to, error = %why, retry_in_ms = wait.as_millis() as u64, "outputs not delivered yet (kept in the outbox)");
        }
    }
}

/// How long the controller may take to hand a file over (its own wait is 30 s).
const SHIP_DEADLINE: Duration = Duration::from_secs(90);

async fn send(t: Target, f: &Pending) -> Sent {
    let size = match tokio::fs::metadata(&f.path).await {
        Ok(m) => m.len(),
        Err(e) => return Sent::Retry(format!("{}: {e}", f.path.display())),
    };
    if matches!(t, Target::Mesh(..)) && size > SHIP_MAX_BYTES as u64 {
        return Sent::Refused(format!(
            "{size} bytes; the mesh carries files of at most {} MiB (use an S3 store for larger outputs)",
            SHIP_MAX_BYTES >> 20
        ));
    }
    let content = match tokio::fs::read(&f.path).await {
        Ok(b) => b,
        Err(e) => return Sent::Retry(format!("{}: {e}", f.path.display())),
    };
    let (mut c, node) = match t {
        Target::Mesh(c, node) => (c, node),
        Target::S3(st) => {
            return match st.upload(&f.cluster, &f.bucket, &f.name, content).await {
                Ok(()) => Sent::Delivered,
                Err(e) => Sent::Retry(e),
            }
        }
    };
    let mut req = tonic::Request::new(ShipRequest {
        node_id: node,
        cluster: f.cluster.clone(),
        bucket: f.bucket.clone(),
        name: f.name.clone(),
        content,
    });
    req.set_timeout(SHIP_DEADLINE);
    match c.ship(req).await {
        Ok(r) if r.get_ref().ok => Sent::Delivered,
        Ok(r) => Sent::Refused(r.into_inner().message),
        Err(s) => Sent::Retry(format!("{:?}: {}", s.code(), s.message())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_reads_cluster_bucket_and_name_and_skips_partial_files() {
        let d = tempfile::tempdir().unwrap();
        let o = d.path();
        std::fs::create_dir_all(o.join("cloud/mask/input")).unwrap();
        std::fs::write(o.join("cloud/mask/input/a.jpg"), b"a").unwrap();
        std::fs::write(o.join("cloud/mask/input/.b.jpg.part"), b"b").unwrap();
        std::fs::write(o.join("cloud/stray"), b"c").unwrap();
        let p = pending(o);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].cluster.as_str(), p[0].bucket.as_str(), p[0].name.as_str()), ("cloud", "mask/input", "a.jpg"));
    }
}
