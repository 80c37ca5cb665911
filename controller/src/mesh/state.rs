//! The controller's state in redb: the agents' inventory and the batches they sent, keyed by
//! (node, boot id, sequence number) so that a batch sent twice is stored once, with an index
//! by arrival time for the retention (`retention_hours`). Writes come in groups (one commit,
//! one disk sync, for many batches).

use std::path::{Path, PathBuf};

use aisprint_proto::v1::{AgentInfo, MetricBatch, StoredBatch};
use aisprint_runtime::clock::now_ms;
use prost::Message;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

/// node -> AgentInfo (protobuf) with the clock anchor.
const NODES: TableDefinition<&str, &[u8]> = TableDefinition::new("nodes");
/// (node, boot, seq) -> StoredBatch (protobuf).
const BATCHES: TableDefinition<(&str, &str, u64), &[u8]> = TableDefinition::new("batches");
/// (received ms, node, boot, seq): the batches in the order they arrived, for retention.
const RECEIVED: TableDefinition<(i64, &str, &str, u64), ()> = TableDefinition::new("received");
/// node -> (boot, server ms, agent monotonic ms) of the last clock exchange, as bytes.
const ANCHORS: TableDefinition<&str, (&str, i64, u64)> = TableDefinition::new("anchors");

#[derive(Debug, thiserror::Error)]
#[error("controller state {path}: {source}")]
pub struct StateError {
    path: PathBuf,
    #[source]
    source: Box<redb::Error>,
}

#[derive(Debug)]
pub struct State {
    db: Database,
    path: PathBuf,
}

/// What storing one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    Duplicate,
}

impl State {
    pub fn open(path: &Path) -> Result<State, StateError> {
        let err = |e: redb::Error| StateError { path: path.to_path_buf(), source: Box::new(e) };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(redb::Error::Io(e)))?;
        }
        let db = Database::builder().set_cache_size(64 << 20).create(path).map_err(|e| err(e.into()))?;
        let s = State { db, path: path.to_path_buf() };
        s.write(|txn| {
            txn.open_table(NODES)?;
            txn.open_table(BATCHES)?;
            txn.open_table(ANCHORS)?;
            txn.open_table(RECEIVED)?;
            Ok(())
        })?;
        Ok(s)
    }

    fn err(&self, e: impl Into<redb::Error>) -> StateError {
        StateError { path: self.path.clone(), source: Box::new(e.into()) }
    }

    fn write<T>(&self, f: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>) -> Result<T, StateError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let out = f(&txn).map_err(|e| self.err(e))?;
        txn.commit().map_err(|e| self.err(e))?;
        Ok(out)
    }

    /// Records a registration (or a heartbeat: `info` None) and the clock anchor.
    pub fn touch(
        &self,
        node: &str,
        info: Option<AgentInfo>,
        boot: &str,
        monotonic_ms: u64,
        counters: Option<(u64, u64)>,
    ) -> Result<(), StateError> {
        let now = now_ms();
        self.write(|txn| {
            let mut nodes = txn.open_table(NODES)?;
            let old = nodes.get(node)?.and_then(|v| AgentInfo::decode(v.value()).ok());
            let mut rec = match (info, old) {
                (Some(mut i), Some(o)) => {
                    i.batches = o.batches;
                    i.duplicates = o.duplicates;
                    i.registered_unix_ms = now;
                    i
                }
                (Some(mut i), None) => {
                    i.registered_unix_ms = now;
                    i
                }
                (None, Some(o)) => o,
                (None, None) => AgentInfo { node_id: node.to_string(), ..Default::default() },
            };
            rec.last_seen_unix_ms = now;
            rec.boot_id = boot.to_string();
            if let Some((buffered, dropped)) = counters {
                rec.buffered = buffered;
                rec.dropped = dropped;
            }
            nodes.insert(node, rec.encode_to_vec().as_slice())?;
            let mut anchors = txn.open_table(ANCHORS)?;
            anchors.insert(node, (boot, now, monotonic_ms))?;
            Ok(())
        })
    }

    /// The highest sequence number stored for (node, boot).
    pub fn last_seq(&self, node: &str, boot: &str) -> Result<u64, StateError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = txn.open_table(BATCHES).map_err(|e| self.err(e))?;
        let last = t
            .range((node, boot, 0)..=(node, boot, u64::MAX))
            .map_err(|e| self.err(e))?
            .next_back()
            .transpose()
            .map_err(|e| self.err(e))?
            .map_or(0, |(k, _)| k.value().2);
        Ok(last)
    }

    /// Stores batches in one commit; each gets New or Duplicate.
    pub fn store(&self, batches: &[MetricBatch]) -> Result<Vec<Stored>, StateError> {
        let now = now_ms();
        self.write(|txn| {
            let mut table = txn.open_table(BATCHES)?;
            let mut received = txn.open_table(RECEIVED)?;
            let anchors = txn.open_table(ANCHORS)?;
            let mut nodes = txn.open_table(NODES)?;
            let mut out = Vec::with_capacity(batches.len());
            let mut counts: Vec<(String, u64, u64)> = Vec::new();
            for b in batches {
                let key = (b.node_id.as_str(), b.boot_id.as_str(), b.seq);
                let dup = table.get(key)?.is_some();
                if !dup {
                    let corrected = match anchors.get(b.node_id.as_str())? {
                        Some(a) => {
                            let (boot, server_ms, mono) = a.value();
                            if boot == b.boot_id {
                                server_ms.saturating_add((b.monotonic_ms as i64).saturating_sub(mono as i64))
                            } else {
                                b.wall_time_unix_ms
                            }
                        }
                        None => b.wall_time_unix_ms,
                    };
                    let stored =
                        StoredBatch { batch: Some(b.clone()), received_unix_ms: now, corrected_unix_ms: corrected };
                    table.insert(key, stored.encode_to_vec().as_slice())?;
                    received.insert((now, b.node_id.as_str(), b.boot_id.as_str(), b.seq), ())?;
                }
                match counts.iter_mut().find(|c| c.0 == b.node_id) {
                    Some(c) => {
                        c.1 += u64::from(!dup);
                        c.2 += u64::from(dup);
                    }
                    None => counts.push((b.node_id.clone(), u64::from(!dup), u64::from(dup))),
                }
                out.push(if dup { Stored::Duplicate } else { Stored::New });
            }
            for (node, new, dup) in counts {
                let mut rec = nodes
                    .get(node.as_str())?
                    .and_then(|v| AgentInfo::decode(v.value()).ok())
                    .unwrap_or_else(|| AgentInfo { node_id: node.clone(), ..Default::default() });
                rec.batches += new;
                rec.duplicates += dup;
                rec.last_seen_unix_ms = now;
                nodes.insert(node.as_str(), rec.encode_to_vec().as_slice())?;
            }
            Ok(out)
        })
    }

    /// Deletes the batches received before `cutoff_ms` (at most `limit` in one commit);
    /// returns how many.
    pub fn prune(&self, cutoff_ms: i64, limit: usize) -> Result<usize, StateError> {
        self.write(|txn| {
            let mut received = txn.open_table(RECEIVED)?;
            let mut table = txn.open_table(BATCHES)?;
            let mut old: Vec<(i64, String, String, u64)> = Vec::new();
            for e in received.range((i64::MIN, "", "", 0)..(cutoff_ms, "", "", 0))? {
                let (k, _) = e?;
                let (t, n, b, s) = k.value();
                old.push((t, n.to_string(), b.to_string(), s));
                if old.len() >= limit {
                    break;
                }
            }
            for (t, n, b, s) in &old {
                table.remove((n.as_str(), b.as_str(), *s))?;
                received.remove((*t, n.as_str(), b.as_str(), *s))?;
            }
            Ok(old.len())
        })
    }

    pub fn agents(&self) -> Result<Vec<AgentInfo>, StateError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = txn.open_table(NODES).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for e in t.iter().map_err(|e| self.err(e))? {
            let (_, v) = e.map_err(|e| self.err(e))?;
            if let Ok(i) = AgentInfo::decode(v.value()) {
                out.push(i);
            }
        }
        Ok(out)
    }

    /// The last `limit` batches of `node` (every node when empty), oldest first.
    pub fn tail(&self, node: &str, limit: usize) -> Result<Vec<StoredBatch>, StateError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = txn.open_table(BATCHES).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for e in t.iter().map_err(|e| self.err(e))? {
            let (k, v) = e.map_err(|e| self.err(e))?;
            if !node.is_empty() && k.value().0 != node {
                continue;
            }
            if let Ok(b) = StoredBatch::decode(v.value()) {
                out.push(b);
            }
        }
        out.sort_by_key(|b| b.batch.as_ref().map(|x| (x.wall_time_unix_ms, x.seq)));
        let skip = out.len().saturating_sub(limit);
        Ok(out.split_off(skip))
    }

    /// Every stored batch of `node`, in (boot, seq) order (for tests and exports).
    pub fn batches_of(&self, node: &str) -> Result<Vec<StoredBatch>, StateError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = txn.open_table(BATCHES).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for e in t.range((node, "", 0)..).map_err(|e| self.err(e))? {
            let (k, v) = e.map_err(|e| self.err(e))?;
            if k.value().0 != node {
                break;
            }
            if let Ok(b) = StoredBatch::decode(v.value()) {
                out.push(b);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device without a real-time clock says it is 1970; the controller places its batches
    /// on its own clock from the time since boot.
    #[test]
    fn batch_times_follow_the_controller_clock_and_duplicates_are_stored_once() {
        let tmp = tempfile::tempdir().expect("tmp");
        let s = State::open(&tmp.path().join("s.redb")).expect("open");
        let info = AgentInfo { node_id: "n1".into(), ..Default::default() };
        s.touch("n1", Some(info), "boot-a", 10_000, None).expect("touch");
        let before = now_ms();
        let batch = |boot: &str, seq: u64, mono: u64| MetricBatch {
            node_id: "n1".into(),
            boot_id: boot.into(),
            seq,
            wall_time_unix_ms: 5_000,
            monotonic_ms: mono,
            backfill: false,
            points: vec![],
        };
        let r =
            s.store(&[batch("boot-a", 1, 12_000), batch("boot-a", 1, 12_000), batch("boot-old", 7, 1)]).expect("store");
        assert_eq!(r, vec![Stored::New, Stored::Duplicate, Stored::New]);
        let got = s.batches_of("n1").expect("batches");
        assert_eq!(got.len(), 2);
        let a = got.iter().find(|b| b.batch.as_ref().is_some_and(|x| x.boot_id == "boot-a")).expect("a");
        // Two seconds after the registration, on the controller's clock.
        assert!(
            (a.corrected_unix_ms - (before + 2_000)).abs() < 1_000,
            "{} vs {}",
            a.corrected_unix_ms,
            before + 2_000
        );
        // A batch of an earlier boot has no anchor: its own clock is all there is.
        let old = got.iter().find(|b| b.batch.as_ref().is_some_and(|x| x.boot_id == "boot-old")).expect("old");
        assert_eq!(old.corrected_unix_ms, 5_000);
        assert_eq!(s.last_seq("n1", "boot-a").expect("last"), 1);
        let info = s.agents().expect("agents");
        assert_eq!((info[0].batches, info[0].duplicates), (2, 1));
        // Retention: nothing is older than a minute ago; everything is older than a minute
        // from now.
        assert_eq!(s.prune(now_ms() - 60_000, 1000).expect("prune"), 0);
        assert_eq!(s.prune(now_ms() + 60_000, 1000).expect("prune"), 2);
        assert!(s.batches_of("n1").expect("batches").is_empty());
        // Retention forgets what it deleted: the same key is new again.
        assert_eq!(s.store(&[batch("boot-a", 1, 12_000)]).expect("store"), vec![Stored::New]);
    }
}
