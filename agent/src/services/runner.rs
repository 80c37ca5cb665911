//! One task per service owns its queue: it takes the files the watcher reports as jobs (one
//! commit per group of arrivals), runs at most `max_parallelism` of them at a time, and
//! records each job's timings and exit status.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aisprint_proto::v1::Point;
use aisprint_runtime::clock::now_s;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::fdl::Prepared;
use super::jobs::{Job, JobState};
use super::limits::{self, JobGroup};
use super::outputs;
use super::process::{self, Isolation, Variables};
use super::Shared;

/// A service's runner.
pub(super) struct Runner {
    pub(super) service: Prepared,
    pub(super) shared: Arc<Shared>,
    /// Jobs waiting or running (for `bucket.drain`).
    pub(super) pending: Arc<AtomicUsize>,
}

/// The folders of one job.
struct JobDirs {
    tmp: PathBuf,
    logs: PathBuf,
}

impl Runner {
    pub(super) async fn run(self, mut rx: mpsc::UnboundedReceiver<Vec<String>>, cancel: CancellationToken) {
        let me = Arc::new(self);
        let name = me.service.service.name.clone();
        // Jobs accepted before a restart (queued, or interrupted while running) go first.
        let mut queue: VecDeque<Job> = {
            let (j, n) = (me.shared.jobs.clone(), name.clone());
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
            while running.len() < me.service.parallelism {
                let Some(job) = queue.pop_front() else { break };
                let m = me.clone();
                running.spawn(async move { m.execute(job).await });
            }
            me.pending.store(queue.len() + running.len(), Ordering::Relaxed);
            tokio::select! {
                _ = cancel.cancelled() => break,
                files = rx.recv() => {
                    let Some(mut files) = files else { break };
                    while let Ok(more) = rx.try_recv() {
                        files.extend(more);
                    }
                    // Pending from now on: a drain never sees a file taken but not queued.
                    me.pending.fetch_add(files.len(), Ordering::Relaxed);
                    let (j, n) = (me.shared.jobs.clone(), name.clone());
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
        me.pending.store(0, Ordering::Relaxed);
    }

    /// The job's temporary output folder (emptied) and its service's log folder.
    fn job_dirs(&self, job: &Job) -> Option<JobDirs> {
        let svc = &self.service.service.name;
        let tmp = self.shared.state.join("tmp").join(svc).join(job.seq.to_string());
        let logs = self.shared.state.join("logs").join(svc);
        let _ = std::fs::remove_dir_all(&tmp);
        match std::fs::create_dir_all(&tmp).and_then(|_| std::fs::create_dir_all(&logs)) {
            Ok(()) => Some(JobDirs { tmp, logs }),
            Err(e) => {
                tracing::error!(service = %svc, error = %e, "cannot prepare the job's folders");
                None
            }
        }
    }

    async fn execute(self: Arc<Self>, mut job: Job) {
        let svc = &self.service.service;
        let Some(dirs) = self.job_dirs(&job) else { return };
        // Not committed here: a queued job and a running one are the same after a restart (both
        // run), and a commit would delay every start by a disk sync.
        job.state = JobState::Running;
        job.started = Some(now_s());
        job.attempts += 1;
        (job.spawned, job.function_start, job.function_end) = (None, None, None);
        let log_path = dirs.logs.join(format!("{}.log", job.seq));
        let times_path = dirs.logs.join(format!("{}.times", job.seq));
        let _ = std::fs::remove_file(&times_path);
        let status = self.run_script(&mut job, &dirs, &log_path, &times_path).await;
        let routed =
            outputs::route(&dirs.tmp, &self.service.outputs, &self.shared.mesh.dir, &self.shared.s3.dir, &svc.name);
        if routed.mesh {
            self.shared.mesh.wake.notify_one();
        }
        if routed.s3 {
            self.shared.s3.wake.notify_one();
        }
        let _ = std::fs::remove_dir_all(&dirs.tmp);
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
        self.shared.batches.store_logged(vec![job_point(&job, self.shared.batches.node(), tail)], "job record").await;
    }

    /// The job's control group, when the service sets limits and the node offers groups
    /// (the container runtime applies them itself).
    fn group(&self, job: &Job, cpu: Option<f64>, memory: Option<u64>) -> Option<JobGroup> {
        let svc = &self.service.service.name;
        match self.shared.limiter.job(&format!("{svc}-{}", job.seq), cpu, memory) {
            Ok(g) => g,
            Err(e) => {
                tracing::warn!(service = %svc, error = %e, "job limits not applied");
                None
            }
        }
    }

    /// Runs the script to its end; its exit status (-1 when it could not run).
    async fn run_script(&self, job: &mut Job, dirs: &JobDirs, log_path: &Path, times: &Path) -> i32 {
        let svc = &self.service.service;
        let log = match std::fs::File::create(log_path) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(service = %svc.name, error = %e, "cannot create the job log");
                return -1;
            }
        };
        let script = &self.service.script;
        let dir = script.parent().unwrap_or(Path::new(".")).to_path_buf();
        let input_dir = &self.service.inputs[0];
        let cpu = svc.cpu.as_ref().and_then(limits::parse_cpu);
        let memory = svc.memory.as_deref().and_then(limits::parse_memory);
        let container = svc.image.as_deref().zip(self.shared.runtime.as_deref());
        let group = if container.is_some() { None } else { self.group(job, cpu, memory) };
        let group_name = format!("{}-{}", svc.name, job.seq);
        let input = input_dir.join(&job.file);
        let env = Variables {
            input: &input,
            tmp: &dirs.tmp,
            file: &job.file,
            service: &svc.name,
            seq: job.seq,
            created: job.created,
            resource: &self.shared.resource,
            times,
            agent_url: self.shared.agent_url.as_deref(),
            own: svc.environment.as_ref().map(|e| &e.variables),
        }
        .list();
        let env_path = self.shared.state.join("env").join(format!("{}-{}.env", svc.name, job.seq));
        if container.is_some() {
            let (text, left_out) = process::env_file(&env);
            if !left_out.is_empty() {
                tracing::error!(service = %svc.name, variables = ?left_out, "variables over several lines cannot go to a container: left out");
            }
            let written = aisprint_runtime::fsutil::create_dir_durably(env_path.parent().unwrap_or(Path::new(".")))
                .and_then(|()| aisprint_runtime::fsutil::write_private(&env_path, text.as_bytes()));
            if let Err(e) = written {
                tracing::error!(service = %svc.name, file = %env_path.display(), error = %e, "cannot write the job's variables");
                return -1;
            }
        }
        // Gone when the job is, whatever way it ends.
        let _env_file = container.is_some().then(|| RemoveOnDrop(env_path.clone()));
        let how = match (container, &group) {
            (Some((image, runtime)), _) => Isolation::Container {
                runtime,
                image,
                mounts: [dir.as_path(), input_dir.as_path(), dirs.tmp.as_path(), dirs.logs.as_path()],
                cpu,
                memory,
                env_file: &env_path,
            },
            (None, Some(g)) => Isolation::Group { name: &group_name, groups: g.dirs().len() },
            (None, None) => Isolation::Native,
        };
        let mut cmd = process::command(script, &dir, env, &how);
        if let Ok(e) = log.try_clone() {
            cmd.stderr(e);
        }
        cmd.stdout(log);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(service = %svc.name, error = %e, "cannot start the script");
                return -1;
            }
        };
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

    async fn save(&self, job: &Job) {
        let (j, job2) = (self.shared.jobs.clone(), job.clone());
        match tokio::task::spawn_blocking(move || j.put(&job2)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "job state not stored"),
            Err(e) => tracing::error!(error = %e, "job store task failed"),
        }
    }
}

/// The job's timings as an `oscar_job` point (with the end of its log).
fn job_point(job: &Job, node: &str, log: String) -> Point {
    let (started, finished) = (job.started.unwrap_or(job.created), job.finished.unwrap_or(job.created));
    Point {
        measurement: "oscar_job".into(),
        tags: [
            ("service".to_string(), job.service.clone()),
            ("job".to_string(), job.seq.to_string()),
            ("file".to_string(), job.file.clone()),
            ("node".to_string(), node.to_string()),
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
    }
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

/// Removes a file when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The last kilobyte of a job's log, read from its end (a chatty job's log can be large).
fn log_tail(p: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(p) else { return String::new() };
    let len = f.metadata().map_or(0, |m| m.len());
    let mut bytes = Vec::new();
    if f.seek(SeekFrom::Start(len.saturating_sub(1024))).is_ok() {
        let _ = f.take(1024).read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
