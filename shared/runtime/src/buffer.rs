//! The agent's durable buffer: every batch is committed here (synced to disk) before any sink
//! sees it, and stays until every configured sink has confirmed it. Each sink has its own
//! cursor (all batches up to it are confirmed) and its confirmations beyond the cursor; the
//! store never holds more than `max_bytes` of batches, by dropping the oldest or by refusing
//! new ones, and counts what it dropped or refused.
//!
//! Store: redb, whose every commit is synced (`fdatasync`), so a batch reported as stored
//! survives kill -9 and power loss.

use std::path::{Path, PathBuf};

use aisprint_model::config::WhenFull;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

/// seq -> encoded batch.
const BATCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("batches");
/// counters and cursors.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// (sink, seq) confirmed beyond the sink's cursor.
const ACKED: TableDefinition<(&str, u64), ()> = TableDefinition::new("acked");

const NEXT_SEQ: &str = "next_seq";
const BYTES: &str = "bytes";
const DROPPED: &str = "dropped";
const SKIPPED: &str = "skipped";

#[derive(Debug, thiserror::Error)]
pub enum BufferError {
    #[error("buffer {path}: {source}")]
    Store {
        path: PathBuf,
        #[source]
        source: Box<redb::Error>,
    },
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored under this sequence number; `dropped` older batches were deleted to make room.
    Stored { seq: u64, dropped: u64 },
    /// Not stored: the buffer is full and the policy is to stop collecting.
    Skipped,
}

/// Counters of the buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub batches: u64,
    pub bytes: u64,
    pub dropped: u64,
    pub skipped: u64,
    pub next_seq: u64,
    pub oldest: Option<u64>,
}

#[derive(Debug)]
pub struct Buffer {
    db: Database,
    path: PathBuf,
    sinks: Vec<String>,
    max_bytes: u64,
    when_full: WhenFull,
}

fn cursor_key(sink: &str) -> String {
    format!("cursor:{sink}")
}

impl Buffer {
    /// Opens (or creates) the buffer at `path` for the given sinks. The first sequence number
    /// is 1; numbers keep growing across restarts.
    pub fn open(
        path: &Path,
        cache_bytes: u64,
        sinks: &[&str],
        max_bytes: u64,
        when_full: WhenFull,
    ) -> Result<Buffer, BufferError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| BufferError::Store { path: path.to_path_buf(), source: Box::new(redb::Error::Io(e)) })?;
        }
        let db = Database::builder()
            .set_cache_size(cache_bytes as usize)
            .create(path)
            .map_err(|e| BufferError::Store { path: path.to_path_buf(), source: Box::new(e.into()) })?;
        let b = Buffer {
            db,
            path: path.to_path_buf(),
            sinks: sinks.iter().map(|s| s.to_string()).collect(),
            max_bytes,
            when_full,
        };
        // Tables exist from the start (readers need them).
        b.write(|txn| {
            txn.open_table(BATCHES)?;
            txn.open_table(ACKED)?;
            let mut meta = txn.open_table(META)?;
            if meta.get(NEXT_SEQ)?.is_none() {
                meta.insert(NEXT_SEQ, 1)?;
            }
            Ok(())
        })?;
        // Sinks added since the last run start after what is already stored.
        Ok(b)
    }

    fn err(&self, e: impl Into<redb::Error>) -> BufferError {
        BufferError::Store { path: self.path.clone(), source: Box::new(e.into()) }
    }

    fn write<T>(&self, f: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>) -> Result<T, BufferError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let out = f(&txn).map_err(|e| self.err(e))?;
        txn.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Stores a batch: `encode` gets its sequence number and returns its bytes. Committed (on
    /// disk) when this returns `Stored`.
    pub fn append(&self, encode: impl FnOnce(u64) -> Vec<u8>) -> Result<Appended, BufferError> {
        let max = self.max_bytes;
        let policy = self.when_full;
        self.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let mut batches = txn.open_table(BATCHES)?;
            let seq = meta.get(NEXT_SEQ)?.map_or(1, |v| v.value());
            let mut bytes = meta.get(BYTES)?.map_or(0, |v| v.value());
            let data = encode(seq);
            let len = data.len() as u64;
            let mut dropped = 0;
            if bytes + len > max {
                match policy {
                    WhenFull::StopCollecting => {
                        let s = meta.get(SKIPPED)?.map_or(0, |v| v.value());
                        meta.insert(SKIPPED, s + 1)?;
                        return Ok(Appended::Skipped);
                    }
                    WhenFull::DropOldest => {
                        while bytes + len > max {
                            let Some((_, v)) = batches.pop_first()? else { break };
                            bytes = bytes.saturating_sub(v.value().len() as u64);
                            dropped += 1;
                        }
                        let d = meta.get(DROPPED)?.map_or(0, |v| v.value());
                        meta.insert(DROPPED, d + dropped)?;
                    }
                }
            }
            batches.insert(seq, data.as_slice())?;
            meta.insert(NEXT_SEQ, seq + 1)?;
            meta.insert(BYTES, bytes + len)?;
            Ok(Appended::Stored { seq, dropped })
        })
    }

    /// Stores `n` batches in one commit (for loading a buffer in benchmarks and tests; the
    /// agent itself commits each batch as it is collected). No size policy applies.
    pub fn append_many(&self, n: u64, mut encode: impl FnMut(u64) -> Vec<u8>) -> Result<(), BufferError> {
        self.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let mut batches = txn.open_table(BATCHES)?;
            let mut seq = meta.get(NEXT_SEQ)?.map_or(1, |v| v.value());
            let mut bytes = meta.get(BYTES)?.map_or(0, |v| v.value());
            for _ in 0..n {
                let data = encode(seq);
                bytes += data.len() as u64;
                batches.insert(seq, data.as_slice())?;
                seq += 1;
            }
            meta.insert(NEXT_SEQ, seq)?;
            meta.insert(BYTES, bytes)?;
            Ok(())
        })
    }

    /// Up to `limit` batches newer than `after` that `sink` has not confirmed, oldest first.
    pub fn pending(&self, sink: &str, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, BufferError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let batches = txn.open_table(BATCHES).map_err(|e| self.err(e))?;
        let acked = txn.open_table(ACKED).map_err(|e| self.err(e))?;
        let meta = txn.open_table(META).map_err(|e| self.err(e))?;
        let cursor = meta.get(cursor_key(sink).as_str()).map_err(|e| self.err(e))?.map_or(0, |v| v.value());
        let mut out = Vec::new();
        for e in batches.range(after.max(cursor) + 1..).map_err(|e| self.err(e))? {
            let (k, v) = e.map_err(|e| self.err(e))?;
            let seq = k.value();
            if acked.get((sink, seq)).map_err(|e| self.err(e))?.is_some() {
                continue;
            }
            out.push((seq, v.value().to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// The newest stored sequence number.
    pub fn latest(&self) -> Result<Option<u64>, BufferError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let batches = txn.open_table(BATCHES).map_err(|e| self.err(e))?;
        let last = batches.last().map_err(|e| self.err(e))?.map(|(k, _)| k.value());
        Ok(last)
    }

    /// Records that `sink` confirmed `seqs`, and deletes what every sink has confirmed. One
    /// commit for all of them.
    pub fn ack(&self, sink: &str, seqs: &[u64]) -> Result<(), BufferError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let sinks = self.sinks.clone();
        self.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let mut acked = txn.open_table(ACKED)?;
            let mut batches = txn.open_table(BATCHES)?;
            let key = cursor_key(sink);
            let mut cursor = meta.get(key.as_str())?.map_or(0, |v| v.value());
            for &s in seqs {
                if s > cursor {
                    acked.insert((sink, s), ())?;
                }
            }
            // The cursor moves over confirmed batches and over gaps (batches dropped or never
            // stored are not waited for).
            let oldest = batches.first()?.map(|(k, _)| k.value());
            if let Some(o) = oldest {
                if cursor + 1 < o {
                    cursor = o - 1;
                }
            }
            loop {
                let next = cursor + 1;
                if acked.remove((sink, next))?.is_some() {
                    cursor = next;
                    continue;
                }
                // A hole (dropped batch) followed by confirmed ones.
                if batches.get(next)?.is_none() {
                    let after = batches.range(next..)?.next().transpose()?.map(|(k, _)| k.value());
                    match after {
                        Some(a) if acked.get((sink, a))?.is_some() => {
                            cursor = a - 1;
                            continue;
                        }
                        _ => break,
                    }
                }
                break;
            }
            meta.insert(key.as_str(), cursor)?;
            // Delete what every sink has confirmed.
            let mut min = u64::MAX;
            for s in &sinks {
                min = min.min(meta.get(cursor_key(s).as_str())?.map_or(0, |v| v.value()));
            }
            if min != u64::MAX && min > 0 {
                let mut bytes = meta.get(BYTES)?.map_or(0, |v| v.value());
                loop {
                    let first = batches.first()?.map(|(k, v)| (k.value(), v.value().len() as u64));
                    let Some((seq, len)) = first.filter(|(seq, _)| *seq <= min) else { break };
                    batches.remove(seq)?;
                    bytes = bytes.saturating_sub(len);
                }
                meta.insert(BYTES, bytes)?;
            }
            Ok(())
        })
    }

    pub fn stats(&self) -> Result<Stats, BufferError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let batches = txn.open_table(BATCHES).map_err(|e| self.err(e))?;
        let meta = txn.open_table(META).map_err(|e| self.err(e))?;
        let get = |k: &str| -> Result<u64, BufferError> {
            Ok(meta.get(k).map_err(|e| self.err(e))?.map_or(0, |v| v.value()))
        };
        let oldest = batches.first().map_err(|e| self.err(e))?.map(|(k, _)| k.value());
        Ok(Stats {
            batches: batches.len().map_err(|e| self.err(e))?,
            bytes: get(BYTES)?,
            dropped: get(DROPPED)?,
            skipped: get(SKIPPED)?,
            next_seq: get(NEXT_SEQ)?,
            oldest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path, sinks: &[&str], max: u64, when_full: WhenFull) -> Buffer {
        Buffer::open(&dir.join("b.redb"), 1 << 20, sinks, max, when_full).expect("open")
    }

    fn stored(a: Appended) -> u64 {
        match a {
            Appended::Stored { seq, .. } => seq,
            Appended::Skipped => panic!("skipped"),
        }
    }

    #[test]
    fn a_batch_leaves_only_when_every_sink_confirmed_it() {
        let tmp = tempfile::tempdir().expect("tmp");
        let b = open(tmp.path(), &["grpc", "mqtt"], 1 << 20, WhenFull::DropOldest);
        let seqs: Vec<u64> = (0..5).map(|i| stored(b.append(|_| vec![i; 10]).expect("append"))).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
        assert_eq!(b.pending("grpc", 0, 10).expect("p").len(), 5);
        // Out of order: 2 and 3 first, then 1.
        b.ack("grpc", &[2, 3]).expect("ack");
        assert_eq!(b.pending("grpc", 0, 10).expect("p").iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 4, 5]);
        b.ack("grpc", &[1]).expect("ack");
        assert_eq!(b.stats().expect("s").batches, 5, "mqtt has confirmed nothing");
        b.ack("mqtt", &[1, 2]).expect("ack");
        let s = b.stats().expect("s");
        assert_eq!((s.batches, s.oldest, s.bytes), (3, Some(3), 30));
        assert_eq!(b.pending("mqtt", 0, 10).expect("p").iter().map(|x| x.0).collect::<Vec<_>>(), vec![3, 4, 5]);
    }

    #[test]
    fn sequence_numbers_and_batches_survive_reopening() {
        let tmp = tempfile::tempdir().expect("tmp");
        {
            let b = open(tmp.path(), &["grpc"], 1 << 20, WhenFull::DropOldest);
            for _ in 0..3 {
                b.append(|s| s.to_le_bytes().to_vec()).expect("append");
            }
            b.ack("grpc", &[1]).expect("ack");
        }
        let b = open(tmp.path(), &["grpc"], 1 << 20, WhenFull::DropOldest);
        assert_eq!(stored(b.append(|s| s.to_le_bytes().to_vec()).expect("append")), 4);
        let p = b.pending("grpc", 0, 10).expect("p");
        assert_eq!(p.iter().map(|x| x.0).collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(p[0].1, 2u64.to_le_bytes().to_vec());
    }

    #[test]
    fn a_full_buffer_drops_the_oldest_or_stops_collecting() {
        let tmp = tempfile::tempdir().expect("tmp");
        let b = open(tmp.path(), &["grpc"], 100, WhenFull::DropOldest);
        for _ in 0..25 {
            b.append(|_| vec![0; 10]).expect("append");
        }
        let s = b.stats().expect("s");
        assert_eq!((s.batches, s.bytes, s.dropped, s.oldest), (10, 100, 15, Some(16)));
        // The cursor jumps the dropped ones: confirming 16.. empties the buffer.
        b.ack("grpc", &(16..=25).collect::<Vec<_>>()).expect("ack");
        assert_eq!(b.stats().expect("s").batches, 0);

        let tmp2 = tempfile::tempdir().expect("tmp");
        let b = open(tmp2.path(), &["grpc"], 100, WhenFull::StopCollecting);
        let results: Vec<Appended> = (0..12).map(|_| b.append(|_| vec![0; 10]).expect("append")).collect();
        assert_eq!(results.iter().filter(|a| **a == Appended::Skipped).count(), 2);
        let s = b.stats().expect("s");
        assert_eq!((s.batches, s.skipped, s.dropped), (10, 2, 0));
        b.ack("grpc", &[1, 2]).expect("ack");
        assert!(matches!(b.append(|_| vec![0; 10]).expect("append"), Appended::Stored { seq: 11, .. }));
    }
}
