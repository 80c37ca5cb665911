//! Notifications that must arrive: each is committed to a durable outbox (redb, the same
//! store as the buffer) before anything tries to send it, and leaves the outbox only once its
//! endpoint answered with success. Delivery is in order, one at a time, with backoff while the
//! endpoint is down; an endpoint that refuses a notification outright (4xx other than 408 and
//! 429) gets it once and it is logged and counted, not retried forever.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aisprint_shared::mesh::WhenFull;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::buffer::{Appended, Buffer, BufferError};
use crate::run::Backoff;

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

    /// Notifications not delivered yet.
    pub fn pending(&self) -> u64 {
        self.store.stats().map_or(0, |s| s.batches)
    }

    /// Delivers until cancelled.
    pub async fn deliver(self: Arc<Self>, cancel: CancellationToken) {
        let client = match reqwest::Client::builder().timeout(Duration::from_secs(5)).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the HTTP client: notifications stay in the outbox");
                return;
            }
        };
        let mut backoff = Backoff::new();
        while !cancel.is_cancelled() {
            let me = self.clone();
            let next = tokio::task::spawn_blocking(move || me.store.pending(SINK, 0, 1)).await;
            let Some((seq, bytes)) = (match next {
                Ok(Ok(mut v)) => v.pop(),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "outbox unreadable");
                    None
                }
                Err(_) => None,
            }) else {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = self.wake.notified() => continue,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => continue,
                }
            };
            let item: Outgoing = match serde_json::from_slice(&bytes) {
                Ok(i) => i,
                Err(e) => {
                    tracing::error!(seq, error = %e, "unreadable notification in the outbox: removed");
                    self.ack(seq).await;
                    continue;
                }
            };
            let sent = tokio::select! {
                _ = cancel.cancelled() => break,
                r = client.post(&item.url).json(&item.body).send() => r,
            };
            match sent {
                Ok(r) if r.status().is_success() => {
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    backoff.reset();
                    self.ack(seq).await;
                }
                Ok(r) if r.status().is_client_error() && r.status().as_u16() != 408 && r.status().as_u16() != 429 => {
                    self.counters.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(url = %aisprint_shared::ams::redact(&item.url), status = %r.status(), "the endpoint refused a notification: not retried");
                    self.ack(seq).await;
                }
                Ok(r) => {
                    self.counters.failures.fetch_add(1, Ordering::Relaxed);
                    backoff
                        .pause(
                            &cancel,
                            "notification endpoint failed; kept in the outbox",
                            &format!("{} answered {}", aisprint_shared::ams::redact(&item.url), r.status()),
                        )
                        .await;
                }
                Err(e) => {
                    self.counters.failures.fetch_add(1, Ordering::Relaxed);
                    let why = if e.is_timeout() {
                        "timed out".to_string()
                    } else if e.is_connect() {
                        "unreachable".to_string()
                    } else {
                        // The error's own text names the URL, which may carry a secret.
                        e.without_url().to_string()
                    };
                    backoff
                        .pause(
                            &cancel,
                            "notification endpoint failed; kept in the outbox",
                            &format!("{}: {why}", aisprint_shared::ams::redact(&item.url)),
                        )
                        .await;
                }
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
