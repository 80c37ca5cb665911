//! The manager: the one owner of the file watcher and of the services' runners. It routes
//! arrivals to their service, starts, replaces and stops services (those of the FDL files and
//! those the controller sends, kept under the state folder), writes the files the controller
//! puts into buckets, answers every command, and makes an input bucket that disappeared
//! again.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aisprint_model::diag::Diagnostics;
use aisprint_model::oscar::{self, Fdl};
use aisprint_proto::commands::{AgentCommand, Apply, Drain, Put, Reply, Stop};
use aisprint_runtime::clock::now_s;
use aisprint_runtime::fsutil::{create_dir_durably, sync_dir, write_durably, write_private};
use notify::Watcher;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::fdl::{load_fdl, Output, Prepared};
use super::runner::Runner;
use super::Shared;
use crate::batch::BatchWriter;
use crate::error::AgentError;

/// How often the input buckets are checked for existence.
const BUCKET_CHECK: Duration = Duration::from_secs(1);

/// A running service, as the manager knows it.
struct Running {
    cluster: String,
    /// Its definition as applied (an apply that leaves it the same does not restart it).
    service: oscar::Service,
    cancel: CancellationToken,
    inputs: Vec<PathBuf>,
    pending: Arc<AtomicUsize>,
}

pub(super) struct Manager {
    pub(super) watcher: notify::RecommendedWatcher,
    /// Input folder -> the service it feeds and its runner's queue.
    pub(super) routes: Vec<(PathBuf, String, mpsc::UnboundedSender<Vec<String>>)>,
    running: HashMap<String, Running>,
    pub(super) buckets: PathBuf,
    pub(super) cancel: CancellationToken,
    pub(super) tasks: TaskTracker,
    pub(super) shared: Arc<Shared>,
}

/// The files directly in `dir`, hidden ones left out, by name.
pub(super) fn files_in(dir: &Path) -> Vec<String> {
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

fn folder_err(p: &Path, e: impl std::fmt::Display) -> AgentError {
    AgentError::folder(p, std::io::Error::other(e.to_string()))
}

/// Answers a command: a `command_result` point, replicated to the controller like every point
/// (`aisprint oscar apply`, the campaigns and the controller's hand-over wait for it).
async fn answer(batches: &BatchWriter, command: &str, ok: bool, transient: bool, message: String) {
    if command.is_empty() {
        return;
    }
    let reply = Reply { command: command.to_string(), ok, transient, message };
    batches.store_logged(vec![reply.to_point((now_s() * 1e9) as i64)], "command result").await;
}

impl Manager {
    pub(super) fn new(
        watcher: notify::RecommendedWatcher,
        buckets: PathBuf,
        cancel: CancellationToken,
        tasks: TaskTracker,
        shared: Arc<Shared>,
    ) -> Manager {
        Manager { watcher, routes: Vec::new(), running: HashMap::new(), buckets, cancel, tasks, shared }
    }

    /// Starts (or replaces) a service.
    pub(super) fn add(&mut self, mut s: Prepared) -> Result<(), AgentError> {
        let local_outputs = s.outputs.iter_mut().filter_map(|o| match o {
            Output::Local(d) => Some(d),
            Output::Mesh { .. } | Output::S3 { .. } => None,
        });
        for d in s.inputs.iter_mut().chain(local_outputs) {
            std::fs::create_dir_all(&*d).map_err(|e| AgentError::folder(d, e))?;
            // The watcher reports absolute paths: route by the canonical folder.
            *d = d.canonicalize().map_err(|e| AgentError::folder(d, e))?;
        }
        s.script = s.script.canonicalize().unwrap_or_else(|_| s.script.clone());
        let name = s.service.name.clone();
        if self.stop(&name) {
            tracing::info!(service = %name, "service replaced");
        }
        let (tx, rx) = mpsc::unbounded_channel::<Vec<String>>();
        for i in &s.inputs {
            self.watcher.watch(i, notify::RecursiveMode::NonRecursive).map_err(|e| folder_err(i, e))?;
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
            let (provider, path, local) = (provider.clone(), path.clone(), local.clone());
            self.tasks.spawn(crate::ship::s3::mirror(st, provider, path, local, token.clone()));
        }
        // Not idle until the runner has loaded the jobs kept from before (a drain waits).
        let pending = Arc::new(AtomicUsize::new(1));
        let running = Running {
            cluster: s.cluster.clone(),
            service: s.service.clone(),
            cancel: token.clone(),
            inputs: s.inputs.clone(),
            pending: pending.clone(),
        };
        self.running.insert(name, running);
        let runner = Runner { service: s, shared: self.shared.clone(), pending };
        self.tasks.spawn(runner.run(rx, token));
        Ok(())
    }

    /// Stops a service (its runner and its watches); whether it ran.
    fn stop(&mut self, name: &str) -> bool {
        let Some(old) = self.running.remove(name) else { return false };
        old.cancel.cancel();
        for (d, n, _) in &self.routes {
            if n == name {
                let _ = self.watcher.unwatch(d);
            }
        }
        self.routes.retain(|(_, n, _)| n != name);
        true
    }

    /// The names of a cluster's running services.
    fn services_of(&self, cluster: &str) -> BTreeSet<String> {
        self.running.iter().filter(|(_, r)| r.cluster == cluster).map(|(n, _)| n.clone()).collect()
    }

    /// Keeps what the controller sent under the state folder (so that it runs again after a
    /// restart) and starts its services; the cluster's services left out stop.
    fn apply(&mut self, a: Apply) -> Result<usize, String> {
        if !aisprint_model::config::valid_name(&a.cluster) {
            return Err(format!("`{}` is not a valid cluster name", a.cluster));
        }
        let applied = self.shared.state.join("applied");
        let dir = applied.join(&a.cluster);
        let staging = applied.join(format!(".{}", a.cluster));
        let _ = std::fs::remove_dir_all(&staging);
        create_dir_durably(&staging).map_err(at(&staging))?;
        // Every file synced (0600: the FDL may carry storage credentials), then the folder
        // renamed into place and its parent synced: "applied" is said once it survives a
        // power loss.
        for (name, content) in &a.scripts {
            if !oscar::valid_path(name) {
                return Err(format!("script `{name}`: expected a relative path without `..`"));
            }
            let p = staging.join(name);
            if let Some(parent) = p.parent() {
                create_dir_durably(parent).map_err(at(parent))?;
                write_private(&p, content.as_bytes()).map_err(at(&p))?;
                sync_dir(parent).map_err(at(parent))?;
            }
        }
        let fdl = staging.join("fdl.yaml");
        write_private(&fdl, a.fdl.as_bytes()).map_err(at(&fdl))?;
        sync_dir(&staging).map_err(at(&staging))?;
        let mut diags = Diagnostics::new();
        // Checked where it will live (the scripts are relative to it).
        let s3 = self.shared.stores.as_ref().map(|s| s.providers()).unwrap_or_default();
        let (services, _) = load_fdl(&fdl.display().to_string(), &a.fdl, &a.cluster, &self.buckets, &s3, &mut diags);
        if diags.has_errors() {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(diags.to_string());
        }
        // The one before is set aside until the new one is in place (a crash between the two
        // renames leaves hidden folders that fdl::load passes over: the cluster is applied again).
        let old = applied.join(format!(".{}.old", a.cluster));
        let _ = std::fs::remove_dir_all(&old);
        if dir.exists() {
            std::fs::rename(&dir, &old).map_err(at(&dir))?;
        }
        std::fs::rename(&staging, &dir).map_err(at(&dir))?;
        sync_dir(&applied).map_err(at(&applied))?;
        let _ = std::fs::remove_dir_all(&old);
        let n = services.len();
        let keep: BTreeSet<String> = services.iter().map(|s| s.service.name.clone()).collect();
        for name in self.services_of(&a.cluster).difference(&keep) {
            self.stop(name);
            tracing::info!(service = %name, cluster = %a.cluster, "service stopped (not in the cluster's new set)");
        }
        for mut s in services {
            s.script = dir.join(s.script.strip_prefix(&staging).unwrap_or(&s.script));
            // The same definition: its runner goes on (its files were replaced in place, the
            // next job runs them), so a job it runs is not run twice.
            let same =
                self.running.get(&s.service.name).is_some_and(|r| r.cluster == s.cluster && r.service == s.service);
            if same {
                tracing::info!(service = %s.service.name, cluster = %a.cluster, "service unchanged: it goes on");
                continue;
            }
            self.add(s).map_err(|e| e.to_string())?;
        }
        Ok(n)
    }

    /// Stops a service for good: it leaves the FDL the controller applied for its cluster, so
    /// it does not come back at the next start (one from a configured FDL file does).
    fn stop_service(&mut self, s: &Stop) -> Result<String, String> {
        let Some(cluster) = self.running.get(&s.service).map(|r| r.cluster.clone()) else {
            return Err(format!("no service `{}` runs on this node", s.service));
        };
        self.stop(&s.service);
        tracing::info!(service = %s.service, %cluster, "service stopped (service.stop)");
        let dir = self.shared.state.join("applied").join(&cluster);
        let path = dir.join("fdl.yaml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(format!(
                "service {} stopped (it is in a configured FDL: it runs again at the next start)",
                s.service
            ));
        };
        let mut fdl: Fdl = serde_yaml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        fdl.functions.oscar.retain(|m| m.get(&cluster).is_none_or(|svc| svc.name != s.service));
        let text = aisprint_model::yaml::to_string(&fdl).map_err(|e| e.to_string())?;
        write_durably(&dir, "fdl.yaml", text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(format!("service {} of cluster {cluster} stopped", s.service))
    }

    /// Answers `bucket.drain` from a task of its own once the services reading the bucket
    /// have taken every file in it and have no job waiting or running, or at its timeout.
    fn drain(&self, d: Drain, command: String) -> Result<(), String> {
        if !(oscar::valid_path(&d.bucket) && d.timeout_s >= 0.0 && d.timeout_s <= 86_400.0) {
            return Err(format!(
                "bucket `{}`, timeout {}: expected bucket/folder and 0 to 86400 s",
                d.bucket, d.timeout_s
            ));
        }
        let folder = self.buckets.join(&d.bucket);
        let folder = folder.canonicalize().unwrap_or(folder);
        let readers: Vec<(String, Arc<AtomicUsize>)> = self
            .running
            .iter()
            .filter(|(_, r)| r.inputs.contains(&folder))
            .map(|(n, r)| (n.clone(), r.pending.clone()))
            .collect();
        if readers.is_empty() {
            return Err(format!("no service of this node reads bucket `{}`", d.bucket));
        }
        let (jobs, batches) = (self.shared.jobs.clone(), self.shared.batches.clone());
        let busy_services = readers.len();
        let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(d.timeout_s);
        let cancel = self.cancel.clone();
        self.tasks.spawn(async move {
            // Files in the bucket not taken yet, and jobs waiting or running (read off the
            // runtime's workers: a folder listing and a store read).
            let busy = move || {
                let files = files_in(&folder);
                readers.iter().map(|(n, p)| p.load(Ordering::Relaxed) + jobs.untaken(n, &files)).sum::<usize>()
            };
            let busy = Arc::new(busy);
            let left = loop {
                let b = busy.clone();
                let left = tokio::task::spawn_blocking(move || b()).await.unwrap_or(usize::MAX);
                if left == 0 || tokio::time::Instant::now() >= deadline {
                    break left;
                }
                tokio::select! {
                    // The agent is stopping: no answer (the sender's wait ends on its own).
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            };
            let n = busy_services;
            let (ok, message) = if left == 0 {
                (true, format!("bucket {} drained ({n} service(s) idle)", d.bucket))
            } else {
                (
                    false,
                    format!(
                        "bucket {} not drained within {} s: {left} file(s) waiting or running",
                        d.bucket, d.timeout_s
                    ),
                )
            };
            answer(&batches, &command, ok, false, message).await;
        });
        Ok(())
    }

    /// An input bucket removed while its service runs (by hand, by a cleanup job): the
    /// watch on it is gone with it. It is made again and watched again, and what it holds is
    /// picked up; said loudly, since files dropped meanwhile into a missing folder were lost
    /// to the sender, not to the agent.
    fn check_buckets(&mut self) {
        let gone: Vec<_> = self.routes.iter().filter(|(d, _, _)| !d.is_dir()).cloned().collect();
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

    /// Does what a command asks and answers it (`bucket.drain` answers later, from its task).
    async fn command(&mut self, id: String, c: AgentCommand) {
        let (ok, transient, message) = match c {
            AgentCommand::ServicesApply(a) => {
                let cluster = a.cluster.clone();
                match self.apply(a) {
                    Ok(n) => {
                        tracing::info!(%cluster, services = n, "services applied");
                        (true, false, format!("{n} service(s) of cluster {cluster} applied"))
                    }
                    Err(e) => {
                        tracing::error!(%cluster, error = %e, "services refused");
                        (false, false, e)
                    }
                }
            }
            AgentCommand::BucketPut(p) => {
                let (bucket, name) = (p.bucket.clone(), p.name.clone());
                let buckets = self.buckets.clone();
                let written = tokio::task::spawn_blocking(move || put(&buckets, p))
                    .await
                    .unwrap_or_else(|e| Err((true, format!("the write task failed: {e}"))));
                match written {
                    Ok(path) => {
                        tracing::debug!(%bucket, %name, path = %path.display(), "file put");
                        (true, false, format!("{bucket}/{name} stored"))
                    }
                    Err((transient, e)) => {
                        tracing::error!(%bucket, %name, error = %e, transient, "file not stored");
                        (false, transient, e)
                    }
                }
            }
            AgentCommand::ServiceStop(s) => match self.stop_service(&s) {
                Ok(m) => (true, false, m),
                Err(e) => (false, false, e),
            },
            AgentCommand::BucketDrain(d) => match self.drain(d, id.clone()) {
                Ok(()) => return,
                Err(e) => (false, false, e),
            },
        };
        answer(&self.shared.batches, &id, ok, transient, message).await;
    }

    pub(super) async fn run(
        mut self,
        mut files: mpsc::UnboundedReceiver<PathBuf>,
        mut commands: mpsc::Receiver<(String, AgentCommand)>,
    ) {
        let mut check = tokio::time::interval(BUCKET_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut listening = true;
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
                c = commands.recv(), if listening => match c {
                    Some((id, c)) => self.command(id, c).await,
                    None => listening = false,
                },
            }
        }
    }
}

/// An IO error as text, with the path it happened on.
fn at(p: &Path) -> impl FnOnce(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", p.display())
}

/// Longest file name taken from the mesh (the hidden part name adds to it under the file
/// system's 255).
const MAX_NAME: usize = 200;

/// Writes a file the controller sent into a bucket, durably (off the runtime's workers: the
/// caller runs it on the blocking pool); an error is `(transient, reason)`: a bad name or
/// content is refused for good, a disk error may pass.
fn put(buckets: &Path, p: Put) -> Result<PathBuf, (bool, String)> {
    use base64::Engine;
    if !oscar::valid_path(&p.bucket) {
        return Err((false, format!("bucket `{}`: expected bucket/folder without `..`", p.bucket)));
    }
    if p.name.is_empty() || p.name.starts_with('.') || p.name.contains('/') || p.name.contains('\\') {
        return Err((false, format!("`{}` is not a file name (no `/`, not hidden)", p.name)));
    }
    // Said without the name: cutting it could split a character.
    if p.name.len() > MAX_NAME {
        return Err((false, format!("a name of {} bytes: names of at most {MAX_NAME} bytes", p.name.len())));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(p.content.as_bytes())
        .map_err(|e| (false, format!("content: {e}")))?;
    let dir = buckets.join(&p.bucket);
    create_dir_durably(&dir).map_err(|e| (true, format!("{}: {e}", dir.display())))?;
    // A file held is never replaced: the same content again is a resend (its answer was
    // lost), another content under the same name is refused.
    let dest = dir.join(&p.name);
    if let Ok(held) = std::fs::read(&dest) {
        return if held == bytes {
            Ok(dest)
        } else {
            Err((false, format!("{}/{}: a different file of this name is already here", p.bucket, p.name)))
        };
    }
    write_durably(&dir, &p.name, &bytes).map_err(|e| (true, format!("{}/{}: {e}", dir.display(), p.name)))
}
