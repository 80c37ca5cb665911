//! OSCAR-style services run by the agent itself: each service's script runs once per file
//! that arrives in its input bucket (a folder), at most `max_parallelism` at a time, with the
//! environment OSCAR gives (`INPUT_FILE_PATH`, `TMP_OUTPUT_DIR`) and the one the annotations
//! package reads (job start, component, agent endpoint); what the script writes to
//! `TMP_OUTPUT_DIR` is moved to the output bucket(s).
//!
//! A file is a job once it is committed to the job store (redb): it runs even if the agent
//! restarts before or while it runs (a job interrupted while running runs again). A file name
//! is taken once per service. Each job's timings and exit status go into the buffer as an
//! `oscar_job` point, and its output and error streams into a log file.
//!
//! One task per service owns its queue; a file watcher (inotify through `notify`) tells it
//! of complete files (closed after writing, or renamed into the folder).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aisprint_proto::v1::Point;
use aisprint_shared::mesh::AgentConfig;
use aisprint_shared::oscar::{self, Fdl, Service};
use aisprint_shared::yaml;
use notify::Watcher;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::buffer::{Appended, Buffer};
use crate::run::{now_s, AgentError};

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

/// A service ready to run here.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The FDL cluster it was given for.
    pub cluster: String,
    pub service: Service,
    /// The script, resolved from the FDL's folder.
    pub script: PathBuf,
    pub inputs: Vec<PathBuf>,
    pub outputs: Vec<Output>,
    pub parallelism: usize,
    /// Inputs in an S3 store, mirrored into the local input folder: (provider, bucket path,
    /// local folder).
    pub mirrors: Vec<(String, String, PathBuf)>,
}

/// Where a service's outputs go.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A bucket on this node (a folder).
    Local(PathBuf),
    /// A bucket of another cluster (its storage provider is `minio.<cluster>` or
    /// `s3.<cluster>`): the file goes there through the mesh.
    Mesh { cluster: String, bucket: String },
    /// A bucket in an S3-compatible store configured for its provider (`services.s3`).
    S3 { provider: String, bucket: String },
}

/// The cluster a storage provider names when it is not this one (`minio.<cluster>`,
/// `s3.<cluster>`; `minio.default` and this cluster's own are local).
pub fn remote_cluster<'a>(provider: &'a str, own: &str) -> Option<&'a str> {
    let (kind, cluster) = provider.split_once('.')?;
    (matches!(kind, "minio" | "s3")
        && cluster != "default"
        && cluster != own
        && aisprint_shared::mesh::valid_name(cluster))
    .then_some(cluster)
}

/// Writes a file so that it is on disk, whole, before this returns: under a hidden name,
/// synced, renamed, and the folder synced (a watcher never sees half a file, and a power
/// loss after an acknowledgement loses nothing).
pub fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let part = dir.join(format!(".{name}.{}-{n}.part", std::process::id()));
    let dest = dir.join(name);
    let mut f = std::fs::File::create(&part)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&part, &dest)?;
    sync_dir(dir)?;
    Ok(dest)
}

/// Syncs a folder's entries (a rename into it survives a power loss).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// The services of this node from the FDL files, checked (file and key in every error): the
/// configured files, and those the controller applied before (kept under the state folder).
pub fn load(cfg: &AgentConfig) -> Result<Vec<Prepared>, AgentError> {
    let Some(s) = &cfg.services else { return Ok(Vec::new()) };
    let buckets = Path::new(&s.buckets);
    let s3: std::collections::BTreeSet<String> = s.s3.keys().cloned().collect();
    let mut out = Vec::new();
    let mut diags = aisprint_shared::diag::Diagnostics::new();
    for f in &s.fdl {
        let text = std::fs::read_to_string(f).map_err(|source| AgentError::Read { path: PathBuf::from(f), source })?;
        out.extend(load_fdl(f, &text, &s.cluster, buckets, &s3, &mut diags));
    }
    let applied = state_dir(cfg).join("applied");
    for e in std::fs::read_dir(&applied).into_iter().flatten().flatten() {
        let f = e.path().join("fdl.yaml");
        let cluster = e.file_name().to_string_lossy().to_string();
        if let Ok(text) = std::fs::read_to_string(&f) {
            out.extend(load_fdl(&f.display().to_string(), &text, &cluster, buckets, &s3, &mut diags));
        }
    }
    if diags.has_errors() {
        return Err(AgentError::Invalid(diags.sorted()));
    }
    Ok(out)
}

/// The services of `cluster` in one FDL text (scripts taken from the file's folder).
fn load_fdl(
    f: &str,
    text: &str,
    cluster: &str,
    buckets: &Path,
    s3: &std::collections::BTreeSet<String>,
    diags: &mut aisprint_shared::diag::Diagnostics,
) -> Vec<Prepared> {
    let mut out = Vec::new();
    let doc = match yaml::parse::<Fdl>(f, text) {
        Ok((doc, w)) => {
            diags.extend(w);
            doc
        }
        Err(d) => {
            diags.extend(d);
            return out;
        }
    };
    let d = oscar::validate(&doc);
    let bad = d.has_errors();
    diags.extend(d);
    if bad {
        return out;
    }
    let base = Path::new(f).parent().unwrap_or(Path::new("."));
    for svc in doc.value.services_of(cluster) {
        let script = base.join(&svc.script);
        if !script.is_file() {
            diags.push(aisprint_shared::diag::Diagnostic::error(
                f.to_string(),
                format!("functions.oscar.{cluster}.script"),
                format!("{}: no such file (the script is taken from the FDL's folder)", script.display()),
            ));
        }
        out.push(Prepared {
            cluster: cluster.to_string(),
            service: svc.clone(),
            script,
            inputs: svc.input.iter().map(|i| buckets.join(&i.path)).collect(),
            outputs: svc
                .output
                .iter()
                .map(|o| match remote_cluster(&o.storage_provider, cluster) {
                    _ if s3.contains(&o.storage_provider) => {
                        Output::S3 { provider: o.storage_provider.clone(), bucket: o.path.clone() }
                    }
                    Some(c) => Output::Mesh { cluster: c.to_string(), bucket: o.path.clone() },
                    None => Output::Local(buckets.join(&o.path)),
                })
                .collect(),
            mirrors: svc
                .input
                .iter()
                .filter(|i| s3.contains(&i.storage_provider))
                .map(|i| (i.storage_provider.clone(), i.path.clone(), buckets.join(&i.path)))
                .collect(),
            parallelism: svc.max_parallelism.unwrap_or(1) as usize,
        });
    }
    out
}

/// Where the job store, logs, temporary outputs and applied FDLs live.
pub fn state_dir(cfg: &AgentConfig) -> PathBuf {
    cfg.services
        .as_ref()
        .and_then(|s| s.state.clone())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&cfg.buffer.path).parent().unwrap_or(Path::new(".")).join("services"))
}

/// Services sent by the controller (`aisprint oscar apply`): the FDL of one cluster and its
/// scripts (file name relative to the FDL -> content).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Apply {
    pub cluster: String,
    pub fdl: String,
    #[serde(default)]
    pub scripts: std::collections::BTreeMap<String, String>,
}

/// A file the controller puts into a bucket (`bucket.put`: the uploads of a profiling
/// campaign): `<buckets>/<bucket>/<name>`, made visible whole (written aside, then renamed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Put {
    /// `bucket/folder`.
    pub bucket: String,
    pub name: String,
    /// The content, base64.
    pub content: String,
}

/// What the controller asks of the services.
#[derive(Debug)]
pub enum Control {
    /// Services to run, and the id of the command that brought them (answered with a
    /// `command_result` point).
    Apply(Apply, String),
    /// A file for a bucket, and the id of the command (answered the same way).
    Put(Put, String),
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

/// Starts the services (one task each) and the task that routes arrivals and applies what
/// the controller sends; fails before anything runs when a folder cannot be made or watched.
/// Returns where to send applied services (None without a `services` section).
pub async fn start(
    cfg: &AgentConfig,
    services: Vec<Prepared>,
    buffer: Arc<Buffer>,
    latest: Arc<watch::Sender<u64>>,
    boot: String,
    cancel: CancellationToken,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Result<Option<mpsc::Sender<Control>>, AgentError> {
    let Some(sc) = &cfg.services else { return Ok(None) };
    if services.is_empty() {
        tracing::info!(cluster = %sc.cluster, "no service yet: waiting for the controller's (aisprint oscar apply)");
    }
    let state = state_dir(cfg);
    let jobs = Arc::new(Jobs::open(&state.join("jobs.redb")).map_err(|e| io(&state, std::io::Error::other(e)))?);
    let (ftx, frx) = mpsc::unbounded_channel::<PathBuf>();
    let watcher = notify::recommended_watcher(move |r: notify::Result<notify::Event>| {
        use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
        if let Ok(ev) = r {
            let complete = matches!(
                ev.kind,
                EventKind::Access(AccessKind::Close(AccessMode::Write))
                    | EventKind::Modify(ModifyKind::Name(RenameMode::To))
            );
            if complete {
                for p in ev.paths {
                    let _ = ftx.send(p);
                }
            }
        }
    })
    .map_err(|e| io(&state, std::io::Error::other(e.to_string())))?;
    let limiter = crate::limits::Limiter::detect(&cfg.node_id);
    match &limiter {
        crate::limits::Limiter::Off(why) => {
            tracing::warn!(reason = %why, "jobs run without cpu and memory limits (no usable control groups)")
        }
        l => tracing::info!(limits = %l.describe(), "job limits from the services' cpu and memory"),
    }
    let runtime = crate::limits::container_runtime();
    let outbox = state.join("outbox");
    let ship = Arc::new(tokio::sync::Notify::new());
    {
        let dest = crate::ship::Dest::Mesh(Box::new(cfg.clone()));
        let (outbox, ship, cancel) = (outbox.clone(), ship.clone(), cancel.clone());
        tasks.spawn(async move { crate::ship::ship_loop(dest, outbox, ship, cancel).await });
    }
    let outbox_s3 = state.join("outbox-s3");
    let ship_s3 = Arc::new(tokio::sync::Notify::new());
    let stores = (!sc.s3.is_empty()).then(|| Arc::new(crate::s3::Stores::new(sc.s3.clone())));
    if let Some(st) = &stores {
        let dest = crate::ship::Dest::S3(st.clone());
        let (outbox, ship, cancel) = (outbox_s3.clone(), ship_s3.clone(), cancel.clone());
        tasks.spawn(async move { crate::ship::ship_loop(dest, outbox, ship, cancel).await });
    }
    let mut m = Manager {
        watcher,
        routes: Vec::new(),
        running: std::collections::HashMap::new(),
        clusters: std::collections::HashMap::new(),
        buckets: PathBuf::from(&sc.buckets),
        cancel: cancel.clone(),
        shared: Arc::new(Shared {
            jobs,
            state,
            node: cfg.node_id.clone(),
            resource: cfg.resource.clone().unwrap_or_default(),
            agent_url: cfg.monitoring.as_ref().map(|m| format!("http://{}", m.http)),
            buffer,
            latest,
            boot,
            limiter,
            runtime,
            outbox,
            ship,
            outbox_s3,
            ship_s3,
            stores,
        }),
    };
    for s in services {
        m.add(s)?;
    }
    let (atx, arx) = mpsc::channel::<Control>(64);
    tasks.spawn(async move { m.run(frx, arx).await });
    Ok(Some(atx))
}

fn io(p: &Path, e: std::io::Error) -> AgentError {
    AgentError::Read { path: p.to_path_buf(), source: e }
}

/// The owner of the watcher and the services' runners.
struct Manager {
    watcher: notify::RecommendedWatcher,
    routes: Vec<(PathBuf, String, mpsc::UnboundedSender<Vec<String>>)>,
    running: std::collections::HashMap<String, CancellationToken>,
    /// Cluster -> the names of its running services.
    clusters: std::collections::HashMap<String, std::collections::BTreeSet<String>>,
    buckets: PathBuf,
    cancel: CancellationToken,
    shared: Arc<Shared>,
}

impl Shared {
    /// Stores a point in the buffer (to the controller like every point); `what` names it in
    /// the log when it cannot be stored.
    async fn store(&self, p: Point, what: &str) {
        match crate::run::store_batch(&self.buffer, &self.node, &self.boot, vec![p]).await {
            Ok(Ok(Appended::Stored { seq, .. })) => {
                self.latest.send_replace(seq);
            }
            Ok(Ok(Appended::Skipped)) => tracing::warn!("{what} not stored: the buffer is full"),
            Ok(Err(e)) => tracing::error!(error = %e, "{what} not stored"),
            Err(e) => tracing::error!(error = %e, "{what}: the store task failed"),
        }
    }
}

/// How often the input buckets are checked for existence.
const BUCKET_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// What every service's runner uses.
struct Shared {
    jobs: Arc<Jobs>,
    state: PathBuf,
    node: String,
    resource: String,
    agent_url: Option<String>,
    buffer: Arc<Buffer>,
    latest: Arc<watch::Sender<u64>>,
    boot: String,
    /// Job limits (control groups) on this node.
    limiter: crate::limits::Limiter,
    /// The container runtime that answers here, for services that name an image.
    runtime: Option<String>,
    /// Outputs for other nodes: `<outbox>/<cluster>/<bucket>/<folder>/<file>`.
    outbox: PathBuf,
    /// Wakes the shipper.
    ship: Arc<tokio::sync::Notify>,
    /// Outputs for S3 stores: `<outbox_s3>/<provider>/<bucket>/<folder>/<file>`.
    outbox_s3: PathBuf,
    ship_s3: Arc<tokio::sync::Notify>,
    /// The configured S3 stores (`services.s3`).
    stores: Option<Arc<crate::s3::Stores>>,
}

impl Manager {
    /// Starts (or replaces) a service.
    fn add(&mut self, mut s: Prepared) -> Result<(), AgentError> {
        let local_outputs = s.outputs.iter_mut().filter_map(|o| match o {
            Output::Local(d) => Some(d),
            Output::Mesh { .. } | Output::S3 { .. } => None,
        });
        for d in s.inputs.iter_mut().chain(local_outputs) {
            std::fs::create_dir_all(&*d).map_err(|e| io(d, e))?;
            // The watcher reports absolute paths: route by the canonical folder.
            *d = d.canonicalize().map_err(|e| io(d, e))?;
        }
        s.script = s.script.canonicalize().unwrap_or_else(|_| s.script.clone());
        let name = s.service.name.clone();
        if self.stop(&name) {
            tracing::info!(service = %name, "service replaced");
        }
        self.clusters.entry(s.cluster.clone()).or_default().insert(name.clone());
        let (tx, rx) = mpsc::unbounded_channel::<Vec<String>>();
        for i in &s.inputs {
            self.watcher
                .watch(i, notify::RecursiveMode::NonRecursive)
                .map_err(|e| io(i, std::io::Error::other(e.to_string())))?;
            self.routes.push((i.clone(), name.clone(), tx.clone()));
            // What is already there (and what arrived while the agent was down).
            let existing = files_in(i);
            if !existing.is_empty() {
                let _ = tx.send(existing);
            }
        }
        if let Some(image) = &s.service.image {
            match &self.shared.runtime {
                Some(rt) => tracing::info!(service = %name, %image, runtime = %rt, "jobs run in containers"),
                None => tracing::warn!(
                    service = %name,
                    %image,
                    "the service names an image, and no container runtime (docker or podman) answers on this node: its script runs as a native process"
                ),
            }
        }
        tracing::info!(service = %name, parallelism = s.parallelism, inputs = ?s.inputs, "service ready");
        let token = self.cancel.child_token();
        for (provider, path, local) in &s.mirrors {
            let Some(st) = self.shared.stores.clone() else { continue };
            let (provider, path, local, t) = (provider.clone(), path.clone(), local.clone(), token.clone());
            tokio::spawn(async move { crate::s3::mirror(st, provider, path, local, t).await });
        }
        self.running.insert(name, token.clone());
        let runner = Runner { p: s, s: self.shared.clone() };
        tokio::spawn(async move { runner.run(rx, token).await });
        Ok(())
    }

    /// Stops a service (its runner and its watches); whether it ran.
    fn stop(&mut self, name: &str) -> bool {
        let Some(old) = self.running.remove(name) else { return false };
        old.cancel();
        for (d, n, _) in &self.routes {
            if n == name {
                let _ = self.watcher.unwatch(d);
            }
        }
        self.routes.retain(|(_, n, _)| n != name);
        for names in self.clusters.values_mut() {
            names.remove(name);
        }
        true
    }

    /// Keeps what the controller sent under the state folder (so that it runs again after a
    /// restart) and starts its services.
    fn apply(&mut self, a: Apply) -> Result<usize, String> {
        if !aisprint_shared::mesh::valid_name(&a.cluster) {
            return Err(format!("`{}` is not a valid cluster name", a.cluster));
        }
        let dir = self.shared.state.join("applied").join(&a.cluster);
        let staging = self.shared.state.join("applied").join(format!(".{}", a.cluster));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
        for (name, content) in &a.scripts {
            if !oscar::valid_path(name) {
                return Err(format!("script `{name}`: expected a relative path without `..`"));
            }
            let p = staging.join(name);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            std::fs::write(&p, content).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        let fdl = staging.join("fdl.yaml");
        std::fs::write(&fdl, &a.fdl).map_err(|e| format!("{}: {e}", fdl.display()))?;
        let mut diags = aisprint_shared::diag::Diagnostics::new();
        // Checked where it will live (the scripts are relative to it).
        let s3 = self.shared.stores.as_ref().map(|s| s.providers()).unwrap_or_default();
        let services = load_fdl(&fdl.display().to_string(), &a.fdl, &a.cluster, &self.buckets, &s3, &mut diags);
        if diags.has_errors() {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(diags.to_string());
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&staging, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let n = services.len();
        // The cluster's services are the new set: those left out stop.
        let keep: std::collections::BTreeSet<String> = services.iter().map(|s| s.service.name.clone()).collect();
        let gone: Vec<String> =
            self.clusters.get(&a.cluster).map(|c| c.difference(&keep).cloned().collect()).unwrap_or_default();
        for name in gone {
            self.stop(&name);
            tracing::info!(service = %name, cluster = %a.cluster, "service stopped (not in the cluster's new set)");
        }
        for mut s in services {
            s.script = dir.join(s.script.strip_prefix(&staging).unwrap_or(&s.script));
            self.add(s).map_err(|e| e.to_string())?;
        }
        Ok(n)
    }

    /// An input bucket removed while its service runs (by hand, by a cleanup job): the
    /// watch on it is gone with it. It is made again and watched again, and what it holds is
    /// picked up; said loudly, since files dropped meanwhile into a missing folder were lost
    /// to the sender, not to the agent.
    fn check_buckets(&mut self) {
        let mut gone = Vec::new();
        for (d, name, tx) in &self.routes {
            if !d.is_dir() {
                gone.push((d.clone(), name.clone(), tx.clone()));
            }
        }
        for (d, name, tx) in gone {
            tracing::warn!(service = %name, bucket = %d.display(), "input bucket disappeared: made again and watched again");
            if let Err(e) = std::fs::create_dir_all(&d) {
                tracing::error!(service = %name, bucket = %d.display(), error = %e, "cannot make the input bucket again; its service gets no new jobs");
                continue;
            }
            let _ = self.watcher.unwatch(&d);
            if let Err(e) = self.watcher.watch(&d, notify::RecursiveMode::NonRecursive) {
                tracing::error!(service = %name, bucket = %d.display(), error = %e, "cannot watch the input bucket again");
                continue;
            }
            let existing = files_in(&d);
            if !existing.is_empty() {
                let _ = tx.send(existing);
            }
        }
    }

    /// Answers a command: a `command_result` point, replicated to the controller like every
    /// point (`aisprint oscar apply` and the campaign wait for it).
    async fn answer(&self, command: &str, ok: bool, message: String) {
        self.answer_with(command, ok, false, message).await
    }

    /// An answer; `transient`: not done, but it may be tried again (a disk error).
    async fn answer_with(&self, command: &str, ok: bool, transient: bool, message: String) {
        if command.is_empty() {
            return;
        }
        let s = &self.shared;
        let p = Point {
            measurement: "command_result".into(),
            tags: [("command".to_string(), command.to_string()), ("message".to_string(), message)]
                .into_iter()
                .collect(),
            fields: [
                ("ok".to_string(), if ok { 1.0 } else { 0.0 }),
                ("transient".to_string(), if transient { 1.0 } else { 0.0 }),
            ]
            .into_iter()
            .collect(),
            time_unix_ns: (now_s() * 1e9) as i64,
        };
        s.store(p, "command result").await;
    }

    /// Writes a file the controller sent into a bucket, durably; an error is `(transient,
    /// reason)`: a bad name or content is refused for good, a disk error may pass.
    fn put(&mut self, p: Put) -> Result<PathBuf, (bool, String)> {
        use base64::Engine;
        if !oscar::valid_path(&p.bucket) {
            return Err((false, format!("bucket `{}`: expected bucket/folder without `..`", p.bucket)));
        }
        if p.name.is_empty() || p.name.starts_with('.') || p.name.contains('/') || p.name.contains('\\') {
            return Err((false, format!("`{}` is not a file name (no `/`, not hidden)", p.name)));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(p.content.as_bytes())
            .map_err(|e| (false, format!("content: {e}")))?;
        let dir = self.buckets.join(&p.bucket);
        std::fs::create_dir_all(&dir).map_err(|e| (true, format!("{}: {e}", dir.display())))?;
        write_durably(&dir, &p.name, &bytes).map_err(|e| (true, format!("{}/{}: {e}", dir.display(), p.name)))
    }

    async fn run(mut self, mut files: mpsc::UnboundedReceiver<PathBuf>, mut applies: mpsc::Receiver<Control>) {
        let mut check = tokio::time::interval(BUCKET_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.cancel.cancelled() => break,
                _ = check.tick() => self.check_buckets(),
                p = files.recv() => {
                    let Some(p) = p else { break };
                    let (Some(dir), Some(name)) = (p.parent(), p.file_name().and_then(|n| n.to_str())) else { continue };
                    if name.starts_with('.') {
                        continue;
                    }
                    for (d, _, tx) in &self.routes {
                        if d == dir {
                            let _ = tx.send(vec![name.to_string()]);
                        }
                    }
                }
                a = applies.recv() => {
                    match a {
                        None => continue,
                        Some(Control::Apply(a, command)) => {
                            let cluster = a.cluster.clone();
                            let (ok, message) = match self.apply(a) {
                                Ok(n) => {
                                    tracing::info!(%cluster, services = n, "services applied");
                                    (true, format!("{n} service(s) of cluster {cluster} applied"))
                                }
                                Err(e) => {
                                    tracing::error!(%cluster, error = %e, "services refused");
                                    (false, e)
                                }
                            };
                            self.answer(&command, ok, message).await;
                        }
                        Some(Control::Put(p, command)) => {
                            let (bucket, name) = (p.bucket.clone(), p.name.clone());
                            let (ok, transient, message) = match self.put(p) {
                                Ok(path) => {
                                    tracing::debug!(%bucket, %name, path = %path.display(), "file put");
                                    (true, false, format!("{bucket}/{name} stored"))
                                }
                                Err((transient, e)) => {
                                    tracing::error!(%bucket, %name, error = %e, transient, "file not stored");
                                    (false, transient, e)
                                }
                            };
                            self.answer_with(&command, ok, transient, message).await;
                        }
                    }
                }
            }
        }
    }
}

/// Copies a file so that it appears whole (written under a hidden name, then renamed): a
/// watcher or the shipper never takes half a file.
fn copy_whole(from: &Path, to: &Path) -> std::io::Result<()> {
    let name = to.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let part = to.with_file_name(format!(".{name}.part"));
    std::fs::copy(from, &part)?;
    std::fs::File::open(&part)?.sync_all()?;
    std::fs::rename(&part, to)
}

/// The first function start and the last function end the annotations package noted (lines
/// `<start> <end>`, Unix seconds); none when it noted nothing (a script without `exec_time`).
fn function_times(p: &Path) -> (Option<f64>, Option<f64>) {
    let text = std::fs::read_to_string(p).unwrap_or_default();
    let mut out: (Option<f64>, Option<f64>) = (None, None);
    for l in text.lines() {
        let mut it = l.split_whitespace().map(str::parse::<f64>);
        if let (Some(Ok(a)), Some(Ok(b))) = (it.next(), it.next()) {
            if a.is_finite() && b.is_finite() && b >= a {
                out.0 = Some(out.0.map_or(a, |x: f64| x.min(a)));
                out.1 = Some(out.1.map_or(b, |x: f64| x.max(b)));
            }
        }
    }
    out
}

/// The last kilobyte of a job's log.
fn log_tail(p: &Path) -> String {
    let bytes = std::fs::read(p).unwrap_or_default();
    let from = bytes.len().saturating_sub(1024);
    String::from_utf8_lossy(&bytes[from..]).into_owned()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

struct Runner {
    p: Prepared,
    s: Arc<Shared>,
}

impl Runner {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Vec<String>>, cancel: CancellationToken) {
        let me = Arc::new(self);
        let name = me.p.service.name.clone();
        // Jobs accepted before a restart (queued, or interrupted while running) go first.
        let mut queue: VecDeque<Job> = {
            let (j, n) = (me.s.jobs.clone(), name.clone());
            match tokio::task::spawn_blocking(move || j.list(&n)).await {
                Ok(Ok(all)) => {
                    all.into_iter().filter(|j| matches!(j.state, JobState::Queued | JobState::Running)).collect()
                }
                Ok(Err(e)) => {
                    tracing::error!(service = %name, error = %e, "job store unreadable");
                    VecDeque::new()
                }
                Err(_) => VecDeque::new(),
            }
        };
        if !queue.is_empty() {
            tracing::info!(service = %name, jobs = queue.len(), "resuming jobs accepted before the restart");
        }
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.len() < me.p.parallelism {
                let Some(job) = queue.pop_front() else { break };
                let m = me.clone();
                running.spawn(async move { m.execute(job).await });
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                files = rx.recv() => {
                    let Some(mut files) = files else { break };
                    while let Ok(more) = rx.try_recv() {
                        files.extend(more);
                    }
                    let (j, n) = (me.s.jobs.clone(), name.clone());
                    match tokio::task::spawn_blocking(move || j.accept(&n, &files)).await {
                        Ok(Ok(new)) => queue.extend(new),
                        Ok(Err(e)) => tracing::error!(service = %name, error = %e, "files not taken: job store failed"),
                        Err(e) => tracing::error!(service = %name, error = %e, "job store task failed"),
                    }
                }
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
        }
        // Running jobs are left as they are: they run again at the next start.
        running.abort_all();
    }

    async fn execute(self: Arc<Self>, mut job: Job) {
        let svc = &self.p.service;
        let input = self.p.inputs[0].join(&job.file);
        let tmp = self.s.state.join("tmp").join(&svc.name).join(job.seq.to_string());
        let logs = self.s.state.join("logs").join(&svc.name);
        let _ = std::fs::remove_dir_all(&tmp);
        if let Err(e) = std::fs::create_dir_all(&tmp).and_then(|_| std::fs::create_dir_all(&logs)) {
            tracing::error!(service = %svc.name, error = %e, "cannot prepare the job's folders");
            return;
        }
        // Not committed here: a queued job and a running one are the same after a restart (both
        // run), and a commit would delay every start by a disk sync.
        job.state = JobState::Running;
        job.started = Some(now_s());
        job.attempts += 1;
        (job.spawned, job.function_start, job.function_end) = (None, None, None);
        let log_path = logs.join(format!("{}.log", job.seq));
        // Where the annotations package notes the function's start and end.
        let times_path = logs.join(format!("{}.times", job.seq));
        let _ = std::fs::remove_file(&times_path);
        let status = match std::fs::File::create(&log_path) {
            Ok(log) => {
                let err = log.try_clone();
                let dir = self.p.script.parent().unwrap_or(Path::new(".")).to_path_buf();
                let cpu = svc.cpu.as_ref().and_then(crate::limits::parse_cpu);
                let memory = svc.memory.as_deref().and_then(crate::limits::parse_memory);
                let containerized = svc.image.is_some() && self.s.runtime.is_some();
                let group_name = format!("{}-{}", svc.name, job.seq);
                let group = if containerized {
                    None // the runtime applies the limits
                } else {
                    match self.s.limiter.job(&group_name, cpu, memory) {
                        Ok(g) => g,
                        Err(e) => {
                            tracing::warn!(service = %svc.name, error = %e, "job limits not applied");
                            None
                        }
                    }
                };
                // The job's variables (as OSCAR sets them, then the service's own).
                let mut env: Vec<(String, String)> = vec![
                    ("INPUT_FILE_PATH".into(), input.display().to_string()),
                    ("TMP_OUTPUT_DIR".into(), tmp.display().to_string()),
                    ("STORAGE_OBJECT_KEY".into(), job.file.clone()),
                    ("COMPONENT_NAME".into(), svc.name.clone()),
                    ("AISPRINT_JOB_ID".into(), format!("{}-{}", svc.name, job.seq)),
                    ("AISPRINT_JOB_START".into(), format!("{:.6}", job.created)),
                    ("AISPRINT_RESOURCE".into(), self.s.resource.clone()),
                    ("AISPRINT_JOB_TIMES".into(), times_path.display().to_string()),
                ];
                if let Some(u) = &self.s.agent_url {
                    env.push(("AISPRINT_AGENT_URL".into(), u.clone()));
                }
                if let Some(e) = &svc.environment {
                    env.extend(e.variables.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                let mut cmd = match (&svc.image, &self.s.runtime) {
                    (Some(image), Some(rt)) => {
                        // In a container: the job's folders at the same paths, the limits.
                        let mut c = tokio::process::Command::new(rt);
                        c.args(["run", "--rm", "--network", "host"]);
                        for d in [dir.as_path(), self.p.inputs[0].as_path(), tmp.as_path(), logs.as_path()] {
                            c.arg("-v").arg(format!("{0}:{0}", d.display()));
                        }
                        c.arg("-w").arg(&dir);
                        if let Some(cores) = cpu {
                            c.arg("--cpus").arg(format!("{cores}"));
                        }
                        if let Some(bytes) = memory {
                            c.arg("--memory").arg(bytes.to_string());
                        }
                        for (k, v) in &env {
                            c.arg("-e").arg(format!("{k}={v}"));
                        }
                        c.arg(image).arg("sh").arg(&self.p.script);
                        c
                    }
                    _ if group.is_some() => {
                        // The shell waits until the agent has put it in the job's group (a
                        // process can only be moved once it exists), then becomes the script.
                        let mut c = tokio::process::Command::new("sh");
                        c.arg("-c")
                            .arg(crate::limits::WAIT_FOR_GROUP)
                            .arg(&self.p.script)
                            .env("AISPRINT_CGROUP", &group_name)
                            .env("AISPRINT_CGROUPS", group.as_ref().map_or(1, |g| g.dirs().len()).to_string());
                        c
                    }
                    _ => {
                        let mut c = tokio::process::Command::new("sh");
                        c.arg(&self.p.script);
                        c
                    }
                };
                cmd.current_dir(&dir).envs(env).stdin(std::process::Stdio::null()).stdout(log).kill_on_drop(true);
                if let Ok(e) = err {
                    cmd.stderr(e);
                }
                match cmd.spawn() {
                    Ok(mut child) => {
                        job.spawned = Some(now_s());
                        if let (Some(g), Some(pid)) = (&group, child.id()) {
                            if let Err(e) = g.add(pid) {
                                tracing::warn!(service = %svc.name, error = %e, "job limits not applied");
                            }
                        }
                        match child.wait().await {
                            Ok(s) => s.code().unwrap_or(-1),
                            Err(e) => {
                                tracing::error!(service = %svc.name, error = %e, "lost the script's process");
                                -1
                            }
                        }
                    }
                    Err(e) => {
                        tracing::error!(service = %svc.name, error = %e, "cannot start the script");
                        -1
                    }
                }
            }
            Err(e) => {
                tracing::error!(service = %svc.name, error = %e, "cannot create the job log");
                -1
            }
        };
        // Outputs to every output bucket (the first by renaming); those for other nodes into
        // the outbox, which the shipper empties.
        // The outbox folders written to (synced below), by shipper: mesh or S3.
        let mut written: std::collections::BTreeSet<(bool, PathBuf)> = std::collections::BTreeSet::new();
        if let Ok(rd) = std::fs::read_dir(&tmp) {
            for e in rd.flatten() {
                let from = e.path();
                let Some(name) = from.file_name() else { continue };
                for (i, out) in self.p.outputs.iter().enumerate().rev() {
                    let to = match out {
                        Output::Local(d) => d.join(name),
                        Output::Mesh { cluster: to, bucket } | Output::S3 { provider: to, bucket } => {
                            let s3 = matches!(out, Output::S3 { .. });
                            let outbox = if s3 { &self.s.outbox_s3 } else { &self.s.outbox };
                            let d = outbox.join(to).join(bucket);
                            written.insert((s3, d.clone()));
                            if let Err(err) = std::fs::create_dir_all(&d) {
                                tracing::error!(service = %svc.name, folder = %d.display(), error = %err, "output not delivered");
                                continue;
                            }
                            d.join(name)
                        }
                    };
                    let r = if i == 0 { std::fs::rename(&from, &to) } else { copy_whole(&from, &to) };
                    if let Err(err) = r {
                        tracing::error!(service = %svc.name, file = %to.display(), error = %err, "output not delivered");
                    }
                }
            }
        }
        // The outputs for other nodes are on disk before the job is recorded as done.
        for (_, d) in &written {
            if let Err(e) = sync_dir(d) {
                tracing::warn!(folder = %d.display(), error = %e, "cannot sync the outbox");
            }
        }
        if written.iter().any(|(s3, _)| !s3) {
            self.s.ship.notify_one();
        }
        if written.iter().any(|(s3, _)| *s3) {
            self.s.ship_s3.notify_one();
        }
        let _ = std::fs::remove_dir_all(&tmp);
        (job.function_start, job.function_end) = function_times(&times_path);
        let _ = std::fs::remove_file(&times_path);
        job.finished = Some(now_s());
        job.exit_status = Some(status);
        job.state = if status == 0 { JobState::Succeeded } else { JobState::Failed };
        if status != 0 {
            tracing::warn!(service = %svc.name, job = job.seq, file = %job.file, status, log = %log_path.display(), "job failed");
        }
        self.save(&job).await;
        let tail = log_tail(&log_path);
        self.record(&job, tail).await;
    }

    async fn save(&self, job: &Job) {
        let (j, job2) = (self.s.jobs.clone(), job.clone());
        match tokio::task::spawn_blocking(move || j.put(&job2)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "job state not stored"),
            Err(e) => tracing::error!(error = %e, "job store task failed"),
        }
    }

    /// The job's timings as an `oscar_job` point in the buffer (with the end of its log).
    async fn record(&self, job: &Job, log: String) {
        let (started, finished) = (job.started.unwrap_or(job.created), job.finished.unwrap_or(job.created));
        let p = Point {
            measurement: "oscar_job".into(),
            tags: [
                ("service".to_string(), job.service.clone()),
                ("job".to_string(), job.seq.to_string()),
                ("file".to_string(), job.file.clone()),
                ("node".to_string(), self.s.node.clone()),
                ("log".to_string(), log),
            ]
            .into_iter()
            .collect(),
            fields: [
                ("created".to_string(), job.created),
                ("started".to_string(), started),
                ("finished".to_string(), finished),
                ("wait".to_string(), started - job.created),
                ("duration".to_string(), finished - started),
                ("exit_status".to_string(), f64::from(job.exit_status.unwrap_or(-1))),
                ("attempts".to_string(), f64::from(job.attempts)),
            ]
            .into_iter()
            .chain(job.spawned.map(|t| ("spawned".to_string(), t)))
            .chain(job.function_start.map(|t| ("function_start".to_string(), t)))
            .chain(job.function_end.map(|t| ("function_end".to_string(), t)))
            .collect(),
            time_unix_ns: (finished * 1e9) as i64,
        };
        self.s.store(p, "job record").await;
    }
}
