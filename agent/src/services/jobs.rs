//! The durable job store (redb): a file is a job once committed here, and a file name is
//! taken once per service. Jobs accepted before a restart (queued, or interrupted while
//! running) run at the next start.

use std::path::Path;

use aisprint_runtime::clock::now_s;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// (service, seq) -> job (JSON).
const JOBS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("jobs");
/// (service, file name) -> seq: a file is taken once.
const SEEN: TableDefinition<(&str, &str), u64> = TableDefinition::new("seen");
/// service -> next seq.
const NEXT: TableDefinition<&str, u64> = TableDefinition::new("next");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// A job as stored (times in Unix seconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub service: String,
    pub seq: u64,
    pub file: String,
    pub state: JobState,
    pub created: f64,
    #[serde(default)]
    pub started: Option<f64>,
    #[serde(default)]
    pub finished: Option<f64>,
    #[serde(default)]
    pub exit_status: Option<i32>,
    #[serde(default)]
    pub attempts: u32,
    /// When the script's process existed (the spawn returned).
    #[serde(default)]
    pub spawned: Option<f64>,
    /// The component's function start and end, as the annotations package noted them
    /// (`exec_time`; the first start and the last end when it ran several times).
    #[serde(default)]
    pub function_start: Option<f64>,
    #[serde(default)]
    pub function_end: Option<f64>,
}

/// The durable job store.
#[derive(Debug)]
pub struct Jobs {
    db: Database,
}

type StoreResult<T> = Result<T, String>;

impl Jobs {
    pub fn open(path: &Path) -> StoreResult<Jobs> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let db = Database::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let txn = db.begin_write().map_err(|e| e.to_string())?;
        {
            txn.open_table(JOBS).map_err(|e| e.to_string())?;
            txn.open_table(SEEN).map_err(|e| e.to_string())?;
            txn.open_table(NEXT).map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())?;
        Ok(Jobs { db })
    }

    /// Takes files as jobs of `service` (one commit); returns the new jobs (files seen before
    /// are not taken again).
    pub fn accept(&self, service: &str, files: &[String]) -> StoreResult<Vec<Job>> {
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        {
            let mut jobs = txn.open_table(JOBS).map_err(|e| e.to_string())?;
            let mut seen = txn.open_table(SEEN).map_err(|e| e.to_string())?;
            let mut next = txn.open_table(NEXT).map_err(|e| e.to_string())?;
            let mut seq = next.get(service).map_err(|e| e.to_string())?.map_or(1, |v| v.value());
            for f in files {
                if seen.get((service, f.as_str())).map_err(|e| e.to_string())?.is_some() {
                    continue;
                }
                let job = Job {
                    service: service.to_string(),
                    seq,
                    file: f.clone(),
                    state: JobState::Queued,
                    created: now_s(),
                    started: None,
                    finished: None,
                    exit_status: None,
                    attempts: 0,
                    spawned: None,
                    function_start: None,
                    function_end: None,
                };
                let bytes = serde_json::to_vec(&job).map_err(|e| e.to_string())?;
                jobs.insert((service, seq), bytes.as_slice()).map_err(|e| e.to_string())?;
                seen.insert((service, f.as_str()), seq).map_err(|e| e.to_string())?;
                out.push(job);
                seq += 1;
            }
            next.insert(service, seq).map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())?;
        Ok(out)
    }

    pub fn put(&self, job: &Job) -> StoreResult<()> {
        let txn = self.db.begin_write().map_err(|e| e.to_string())?;
        {
            let mut jobs = txn.open_table(JOBS).map_err(|e| e.to_string())?;
            let bytes = serde_json::to_vec(job).map_err(|e| e.to_string())?;
            jobs.insert((job.service.as_str(), job.seq), bytes.as_slice()).map_err(|e| e.to_string())?;
        }
        txn.commit().map_err(|e| e.to_string())
    }

    /// How many of `files` `service` has not taken as jobs (yet); a store error counts them
    /// all.
    pub fn untaken(&self, service: &str, files: &[String]) -> usize {
        let count = || -> Result<usize, redb::Error> {
            let txn = self.db.begin_read()?;
            let seen = txn.open_table(SEEN)?;
            let mut n = 0;
            for f in files {
                if seen.get((service, f.as_str()))?.is_none() {
                    n += 1;
                }
            }
            Ok(n)
        };
        count().unwrap_or(files.len())
    }

    /// Every job of `service` (all services when empty), oldest first.
    pub fn list(&self, service: &str) -> StoreResult<Vec<Job>> {
        let txn = self.db.begin_read().map_err(|e| e.to_string())?;
        let jobs = txn.open_table(JOBS).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for e in jobs.iter().map_err(|e| e.to_string())? {
            let (k, v) = e.map_err(|e| e.to_string())?;
            if !service.is_empty() && k.value().0 != service {
                continue;
            }
            if let Ok(j) = serde_json::from_slice::<Job>(v.value()) {
                out.push(j);
            }
        }
        Ok(out)
    }
}
