//! Storing points as the node's next batch: committed to the durable buffer (off the
//! runtime's workers, since the commit syncs), then the sinks woken. Every task that stores
//! points (collection, monitoring, services) goes through one [`BatchWriter`], which cuts
//! what it is given into batches of at most [`MAX_BATCH_BYTES`], so that no sink ever meets
//! a batch it cannot carry.

use std::sync::Arc;

use aisprint_proto::v1::{MetricBatch, Point};
use aisprint_runtime::buffer::{Appended, Buffer};
use aisprint_runtime::clock::now_ms;
use prost::Message;
use tokio::sync::watch;

use crate::clock::monotonic_ms;

/// Bytes of one stored batch at most (protobuf): a quarter of MQTT's 4 MiB packets (the JSON
/// payload of a batch is under three times its protobuf) and far under gRPC's 64 MiB.
pub const MAX_BATCH_BYTES: usize = 1 << 20;

/// Cuts points into groups that encode to at most [`MAX_BATCH_BYTES`] each (with the batch's
/// own fields); a point that alone is larger is left out and counted.
fn split(points: Vec<Point>) -> (Vec<Vec<Point>>, usize) {
    // node, boot, times: a generous allowance.
    const HEADER: usize = 1024;
    let mut groups = Vec::new();
    let (mut cur, mut bytes, mut oversized) = (Vec::new(), HEADER, 0);
    for p in points {
        let n = p.encoded_len() + 8;
        if HEADER + n > MAX_BATCH_BYTES {
            oversized += 1;
            continue;
        }
        if bytes + n > MAX_BATCH_BYTES {
            groups.push(std::mem::take(&mut cur));
            bytes = HEADER;
        }
        bytes += n;
        cur.push(p);
    }
    if !cur.is_empty() {
        groups.push(cur);
    }
    (groups, oversized)
}

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

    /// Commits `points` as the node's next batches (one unless they are over
    /// [`MAX_BATCH_BYTES`]), then wakes the sinks. A point larger than a batch is left out with
    /// an error in the log.
    pub async fn store(&self, points: Vec<Point>) -> Result<Stored, StoreError> {
        let (groups, oversized) = split(points);
        if oversized > 0 {
            tracing::error!(points = oversized, limit = MAX_BATCH_BYTES, "points larger than a batch: not stored");
        }
        let mut out = Stored { seq: 0, dropped: 0 };
        for g in groups {
            let s = self.store_one(g).await?;
            out = Stored { seq: s.seq, dropped: out.dropped + s.dropped };
        }
        Ok(out)
    }

    async fn store_one(&self, points: Vec<Point>) -> Result<Stored, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn point(tag_bytes: usize) -> Point {
        Point {
            measurement: "m".into(),
            tags: [("t".to_string(), "x".repeat(tag_bytes))].into_iter().collect(),
            fields: [("v".to_string(), 1.0)].into_iter().collect(),
            time_unix_ns: 1,
        }
    }

    #[test]
    fn batches_are_cut_by_size() {
        // 9,000 points of ~500 bytes: about 4.5 MB, more than MQTT carries in one packet.
        let (groups, oversized) = split((0..9_000).map(|_| point(500)).collect());
        assert_eq!(oversized, 0);
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 9_000);
        assert!(groups.len() >= 5, "{}", groups.len());
        for g in &groups {
            let b = MetricBatch {
                node_id: "n".repeat(200),
                boot_id: "b".repeat(200),
                points: g.clone(),
                ..Default::default()
            };
            assert!(b.encoded_len() <= MAX_BATCH_BYTES, "{}", b.encoded_len());
        }
        let (groups, oversized) = split(vec![point(10), point(2 << 20), point(10)]);
        assert_eq!((groups.len(), groups[0].len(), oversized), (1, 2, 1));
        assert!(split(Vec::new()).0.is_empty());
    }
}
