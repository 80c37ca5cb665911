//! Notifications that must arrive: each is committed to a durable outbox (redb, the same
//! store as the buffer) before anything tries to send it, and leaves the outbox only once its
//! endpoint answered with success. Delivery is in order for each endpoint, one at a time, with
//! backoff while an endpoint is down (the others go on meanwhile); an endpoint that refuses a notification outright (4xx other than 408 and
//! 429) gets it once and it is logged and counted, not retried forever.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aisprint_model::config::WhenFull;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::backoff::Backoff;
use crate::buffer::{Appended, Buffer, BufferError};

const SINK: &str = "http";

/// One notification: where and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    pub url: String,
    pub body: serde_json::Value,
}

#[derive(Debug, Default)]
pub struct OutboxCounters {
    pub delivered: AtomicU64,
    pub refused: AtomicU64,
    pub failures: AtomicU64,
}

#[derive(Debug)]
pub struct Outbox {
    store: Buffer,
    wake: Notify,
    pub counters: OutboxCounters,
}

impl Outbox {
    /// Opens (or creates) the outbox; what an earlier run left is delivered first.
    pub fn open(path: &Path) -> Result<Arc<Outbox>, BufferError> {
        let store = Buffer::open(path, 4 << 20, &[SINK], 64 << 20, WhenFull::DropOldest)?;
        Ok(Arc::new(Outbox { store, wake: Notify::new(), counters: OutboxCounters::default() }))
    }

    /// Commits notifications (one commit for all); they are on disk when this returns.
    pub fn push(&self, items: &[Outgoing]) -> Result<(), BufferError> {
        for it in items {
            let bytes = serde_json::to_vec(it).unwrap_or_default();
            if let Appended::Stored { dropped, .. } = self.store.append(|_| bytes)? {
                if dropped > 0 {
                    tracing::warn!(dropped, "outbox full: the oldest notifications were dropped");
                }
            }
        }
        self.wake.notify_one();
        Ok(())
    }

    /// [`Self::push`] off the runtime's workers (the commit syncs); a failure is logged.
    pub async fn push_logged(self: &Arc<Self>, items: Vec<Outgoing>) {
        if items.is_empty() {
            return;
        }
        let o = self.clone();
        match tokio::task::spawn_blocking(move || o.push(&items)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "notifications not stored in the outbox"),
            Err(e) => tracing::error!(error = %e, "outbox task failed"),
        }
    }

    /// The outbox's default place: `<stem>.outbox.redb` beside `store` (the agent's buffer, the
    /// controller's state).
    pub fn beside(store: &Path, fallback_stem: &str) -> std::path::PathBuf {
        let stem = store.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_else(|| fallback_stem.into());
        store.with_file_name(format!("{stem}.outbox.redb"))
    }

    /// Notifications not delivered yet.
    pub fn pending(&self) -> u64 {
        self.store.stats().map_or(0, |s| s.batches)
    }

    /// Delivers until cancelled: in order for each endpoint; an endpoint that fails waits
    /// (backoff) without holding up the others.
    pub async fn deliver(self: Arc<Self>, cancel: CancellationToken) {
        let client = match reqwest::Client::builder().timeout(Duration::from_secs(5)).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the HTTP client: notifications stay in the outbox");
                return;
            }
        };
        // url -> (not before, its backoff)
        let mut blocked: HashMap<String, (Instant, Backoff)> = HashMap::new();
        while !cancel.is_cancelled() {
            let me = self.clone();
            let pending = match tokio::task::spawn_blocking(move || me.store.pending(SINK, 0, 256)).await {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "outbox unreadable");
                    Vec::new()
                }
                Err(_) => Vec::new(),
            };
            let now = Instant::now();
            let mut next: Option<(u64, Outgoing)> = None;
            let mut waiting_on: HashSet<String> = HashSet::new();
            for (seq, bytes) in pending {
                let item: Outgoing = match serde_json::from_slice(&bytes) {
                    Ok(i) => i,
                    Err(e) => {
                        tracing::error!(seq, error = %e, "unreadable notification in the outbox: removed");
                        self.ack(seq).await;
                        continue;
                    }
                };
                // Per endpoint, in order: once one of its notifications waits, so do the later.
                if waiting_on.contains(&item.url) {
                    continue;
                }
                if blocked.get(&item.url).is_some_and(|(until, _)| *until > now) {
                    waiting_on.insert(item.url.clone());
                    continue;
                }
                next = Some((seq, item));
                break;
            }
            let Some((seq, item)) = next else {
                let soonest = blocked.values().map(|(u, _)| *u).filter(|u| *u > now).min();
                let wait = soonest.map_or(Duration::from_secs(5), |u| u - now).min(Duration::from_secs(5));
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
                continue;
            };
            let sent = tokio::select! {
                _ = cancel.cancelled() => break,
                r = client.post(&item.url).json(&item.body).send() => r,
            };
            let shown = aisprint_model::url::redact(&item.url);
            let failure = match sent {
                Ok(r) if r.status().is_success() => {
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    blocked.remove(&item.url);
                    self.ack(seq).await;
                    None
                }
                Ok(r) if r.status().is_client_error() && r.status().as_u16() != 408 && r.status().as_u16() != 429 => {
                    self.counters.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(url = %shown, status = %r.status(), "the endpoint refused a notification: not retried");
                    self.ack(seq).await;
                    None
                }
                Ok(r) => Some(format!("{shown} answered {}", r.status())),
                Err(e) => {
                    let why = if e.is_timeout() {
                        "timed out".to_string()
                    } else if e.is_connect() {
                        "unreachable".to_string()
                    } else {
                        // The error's own text names the URL, which may carry a secret.
                        e.without_url().to_string()
                    };
                    Some(format!("{shown}: {why}"))
                }
            };
            if let Some(why) = failure {
                self.counters.failures.fetch_add(1, Ordering::Relaxed);
                let slot = blocked.entry(item.url.clone()).or_insert_with(|| (Instant::now(), Backoff::new()));
                let wait = slot.1.next_delay();
                slot.0 = Instant::now() + wait;
                tracing::warn!(error = %why, retry_in_ms = wait.as_millis() as u64, "notification endpoint failed; kept in the outbox");
            }
        }
    }

    async fn ack(self: &Arc<Self>, seq: u64) {
        let me = self.clone();
        match tokio::task::spawn_blocking(move || me.store.ack(SINK, &[seq])).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(seq, error = %e, "cannot mark a notification delivered"),
            Err(e) => tracing::error!(seq, error = %e, "outbox task failed"),
        }
    }
}
