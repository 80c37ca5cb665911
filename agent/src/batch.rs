//! Storing points as the node's next batch: committed to the durable buffer (off the
//! runtime's workers, since the commit syncs), then the sinks woken. Every task that stores
//! points (collection, monitoring, services) goes through one [`BatchWriter`].

use std::sync::Arc;

use aisprint_proto::v1::{MetricBatch, Point};
use aisprint_runtime::buffer::{Appended, Buffer};
use aisprint_runtime::clock::now_ms;
use prost::Message;
use tokio::sync::watch;

use crate::clock::monotonic_ms;

/// Why points were not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the agent's buffer is full (when_full: stop_collecting)")]
    Full,
    #[error("cannot store: {0}")]
    Buffer(String),
    #[error("store task failed: {0}")]
    Task(String),
}

/// What a store did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub seq: u64,
    /// Older batches deleted to make room (when_full: drop_oldest).
    pub dropped: u64,
}

/// The one way into the buffer.
#[derive(Debug, Clone)]
pub struct BatchWriter {
    buffer: Arc<Buffer>,
    node: Arc<str>,
    boot: Arc<str>,
    /// The newest stored sequence number, for the sinks (they never miss a change).
    latest: Arc<watch::Sender<u64>>,
}

impl BatchWriter {
    pub fn new(buffer: Arc<Buffer>, node: &str, boot: &str) -> BatchWriter {
        let (latest, _) = watch::channel(0u64);
        BatchWriter { buffer, node: node.into(), boot: boot.into(), latest: Arc::new(latest) }
    }

    /// Commits `points` as the node's next batch, then wakes the sinks.
    pub async fn store(&self, points: Vec<Point>) -> Result<Stored, StoreError> {
        let (node, boot, b) = (self.node.to_string(), self.boot.to_string(), self.buffer.clone());
        let appended = tokio::task::spawn_blocking(move || {
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
        .map_err(|e| StoreError::Task(e.to_string()))?
        .map_err(|e| StoreError::Buffer(e.to_string()))?;
        match appended {
            Appended::Stored { seq, dropped } => {
                self.latest.send_replace(seq);
                Ok(Stored { seq, dropped })
            }
            Appended::Skipped => Err(StoreError::Full),
        }
    }

    /// Stores points, saying in the log when they could not be (`what` names them).
    pub async fn store_logged(&self, points: Vec<Point>, what: &str) {
        if let Err(e) = self.store(points).await {
            match e {
                StoreError::Full => tracing::warn!("{what} not stored: the buffer is full"),
                e => tracing::error!(error = %e, "{what} not stored"),
            }
        }
    }

    /// Follows the newest stored sequence number.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    pub fn buffer(&self) -> &Arc<Buffer> {
        &self.buffer
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn boot(&self) -> &str {
        &self.boot
    }
}

/// Waits for a new stored batch (forever once every writer is gone).
pub async fn changed(latest: &mut watch::Receiver<u64>) {
    if latest.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}
