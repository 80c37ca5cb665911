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

/// Notifications read from the store at a time.
const PAGE: usize = 256;

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
            let now = Instant::now();
            let mut next: Option<(u64, Outgoing)> = None;
            let mut waiting_on: HashSet<String> = HashSet::new();
            // Page after page: the notifications queued for an endpoint that is down, however
            // many, do not hide those of the others behind them.
            let mut after = 0;
            'scan: loop {
                let me = self.clone();
                let page = match tokio::task::spawn_blocking(move || me.store.pending(SINK, after, PAGE)).await {
                    Ok(Ok(v)) => v,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "outbox unreadable");
                        Vec::new()
                    }
                    Err(_) => Vec::new(),
                };
                if page.is_empty() {
                    break;
                }
                for (seq, bytes) in page {
                    after = seq;
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
                    break 'scan;
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The review's M6: more notifications than one page wait for an endpoint that is down;
    /// one for another endpoint, queued after them, still goes.
    #[tokio::test]
    async fn an_endpoint_down_does_not_hide_the_others() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let d = tempfile::tempdir().expect("tmp");
        let outbox = Outbox::open(&d.path().join("outbox.redb")).expect("open");
        let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let dead_url = format!("http://{}/x", dead.local_addr().expect("addr"));
        drop(dead);
        let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let live_url = format!("http://{}/y", live.local_addr().expect("addr"));
        let many: Vec<Outgoing> =
            (0..PAGE + 44).map(|i| Outgoing { url: dead_url.clone(), body: serde_json::json!({ "i": i }) }).collect();
        outbox.push(&many).expect("push");
        outbox.push(&[Outgoing { url: live_url, body: serde_json::json!({ "live": true }) }]).expect("push");
        let cancel = CancellationToken::new();
        let task = tokio::spawn(outbox.clone().deliver(cancel.clone()));
        // The live endpoint: reads each request whole, answers 200, tells what it got.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = live.accept().await {
                let mut text = String::new();
                let mut buf = vec![0u8; 4096];
                while !text.contains('}') {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
                    }
                }
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                let _ = tx.send(text);
            }
        });
        let got = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("the live endpoint got its notification")
            .expect("a request");
        assert!(got.contains(r#"{"live":true}"#), "{got}");
        for _ in 0..100 {
            if outbox.counters.delivered.load(Ordering::Relaxed) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        cancel.cancel();
        let _ = task.await;
        assert_eq!(outbox.counters.delivered.load(Ordering::Relaxed), 1, "the live one, acknowledged");
    }
}
