//! What a sink sends next, for one connection: live batches (stored since it connected) as
//! soon as they exist, then the backlog oldest first (marked backfill, at most
//! `batches_per_second`), never more than a window of unconfirmed ones; and the
//! confirmations, committed to the buffer in groups. The same for every sink.

use std::collections::BTreeSet;
use std::sync::Arc;

use aisprint_proto::v1::MetricBatch;
use prost::Message;

use aisprint_runtime::buffer::{Buffer, BufferError};

/// Batches in flight at most per connection.
pub const WINDOW: usize = 512;

#[derive(Debug)]
pub struct Delivery {
    sink: &'static str,
    buffer: Arc<Buffer>,
    /// Batches from this sequence number on are live; older ones are backlog.
    live_from: u64,
    live_sent: u64,
    backlog_sent: u64,
    backlog_done: bool,
    inflight: BTreeSet<u64>,
    rate: f64,
    tokens: f64,
    last_refill: std::time::Instant,
    confirmed: Vec<u64>,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, BufferError> + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())
}

impl Delivery {
    pub async fn start(sink: &'static str, buffer: Arc<Buffer>, rate: f64) -> Result<Delivery, String> {
        let b = buffer.clone();
        let live_from = blocking(move || b.latest()).await?.map_or(1, |l| l + 1);
        Ok(Delivery {
            sink,
            buffer,
            live_from,
            live_sent: live_from - 1,
            backlog_sent: 0,
            backlog_done: false,
            inflight: BTreeSet::new(),
            rate,
            tokens: rate.max(1.0),
            last_refill: std::time::Instant::now(),
            confirmed: Vec::new(),
        })
    }

    /// Whether there is work besides live batches: backlog to send or confirmations to commit.
    pub fn busy(&self) -> bool {
        !self.backlog_done || !self.confirmed.is_empty()
    }

    /// The next batches to send (live first), each with its `backfill` flag set; `latest` is
    /// the newest stored sequence number (no need to look when nothing new was stored).
    pub async fn next(&mut self, latest: u64) -> Result<Vec<MetricBatch>, String> {
        let mut out = Vec::new();
        let room = WINDOW.saturating_sub(self.inflight.len());
        if room > 0 && latest > self.live_sent {
            let (b, sink, after) = (self.buffer.clone(), self.sink, self.live_sent);
            for (seq, bytes) in blocking(move || b.pending(sink, after, room)).await? {
                self.live_sent = seq;
                if let Ok(batch) = MetricBatch::decode(bytes.as_slice()) {
                    self.inflight.insert(seq);
                    out.push(batch);
                }
            }
        }
        let now = std::time::Instant::now();
        self.tokens =
            (self.tokens + self.rate * now.duration_since(self.last_refill).as_secs_f64()).min(self.rate.max(1.0));
        self.last_refill = now;
        let room = WINDOW.saturating_sub(self.inflight.len()).min(self.tokens as usize);
        if room > 0 && !self.backlog_done {
            let (b, sink, after) = (self.buffer.clone(), self.sink, self.backlog_sent);
            let mut any = false;
            for (seq, bytes) in blocking(move || b.pending(sink, after, room)).await? {
                if seq >= self.live_from {
                    break;
                }
                any = true;
                self.backlog_sent = seq;
                if let Ok(mut batch) = MetricBatch::decode(bytes.as_slice()) {
                    batch.backfill = true;
                    self.inflight.insert(seq);
                    self.tokens -= 1.0;
                    out.push(batch);
                }
            }
            if !any {
                self.backlog_done = true;
            }
        }
        Ok(out)
    }

    /// The sink confirmed `seq`.
    pub fn confirm(&mut self, seq: u64) {
        self.inflight.remove(&seq);
        self.confirmed.push(seq);
    }

    pub fn unflushed(&self) -> usize {
        self.confirmed.len()
    }

    /// Commits the confirmations to the buffer.
    pub async fn flush(&mut self) -> Result<(), String> {
        if self.confirmed.is_empty() {
            return Ok(());
        }
        let (b, sink, seqs) = (self.buffer.clone(), self.sink, std::mem::take(&mut self.confirmed));
        blocking(move || b.ack(sink, &seqs)).await
    }
}
