//! `aisprint profile` without `--dry_run`: the profiling campaign, run on the agents that
//! stand for the candidate resources.
//!
//! Each unit of the plan (a component or a partition half on a resource) is tested alone, as
//! OSCAR-P's `test_single_services` does: for every parallelism level and repetition (a
//! run), its service is applied on the resource's agent with that parallelism
//! (`services.apply` over the mesh, the design's files beside the script; one warm-up job,
//! not measured, before its first run), the input batches
//! are uploaded into its input bucket on schedule (`bucket.put`: `batch_size` files per
//! batch, `number_of_batches` batches, `inter_upload_time` seconds apart, deterministic or
//! exponential), and the run waits, with a progress line, until the agent has recorded every
//! job (the controller keeps the agents' job records). Then the cooldown.
//!
//! Results, in OSCAR-P's layout under `oscarp/<campaign_dir>/`: per unit,
//! `deployment_<i>/<unit>/results/Dataframes/<service>_response_time_dataframe.csv` (one row
//! per run: `run_name, observed_throughput, avg_response_time, requested_parallelism, cores`)
//! and `<service>_jobs.csv` (one row per job: its file, run, creation, start and end, and
//! its time split as OSCAR-P's: the wait, the process creation, the overhead before the
//! component's function, the compute time, the write-back, then the run time, the whole time
//! and the exit status); `run_parameters.yaml` and
//! `campaign.yaml` (agents, units, runs, times) beside them. With `run.train_models`, the
//! models are trained from the tables at the end (`aisprint models train`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aisprint_proto::v1::admin_service_client::AdminServiceClient;
use aisprint_proto::v1::{JobInfo, ListJobsRequest, SendCommandRequest};
use aisprint_shared::app::check::Application;

/// The per-job table's columns.
pub const JOBS_HEADER: &str = "job,run_name,file,created,started,finished,wait,process_creation,overhead,compute_time,write_back,run_time,full_time,exit_status\n";

/// A job's time split as OSCAR-P's (seconds): waiting for a free slot, creating the process,
/// the overhead until the component's function starts (interpreter, imports), the function
/// itself, and the write-back after it (the script's end, outputs moved). The last three are
/// known when the component's function is annotated with `exec_time`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phases {
    pub wait: f64,
    pub process_creation: Option<f64>,
    pub overhead: Option<f64>,
    pub compute: Option<f64>,
    pub write_back: Option<f64>,
}

pub fn phases(j: &JobInfo) -> Phases {
    let known = |t: f64| (t > 0.0).then_some(t);
    let spawned = known(j.spawned);
    let func = known(j.function_start).zip(known(j.function_end));
    Phases {
        wait: j.started - j.created,
        process_creation: spawned.map(|s| s - j.started),
        overhead: spawned.zip(func).map(|(s, (a, _))| a - s),
        compute: func.map(|(a, b)| b - a),
        write_back: func.map(|(_, b)| j.finished - b),
    }
}

/// One row of the per-job table (unknown parts left empty).
fn job_row(j: &JobInfo, run: &str) -> String {
    let p = phases(j);
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.6}")).unwrap_or_default();
    format!(
        "{},{},{},{:.6},{:.6},{:.6},{:.6},{},{},{},{},{:.6},{:.6},{}\n",
        j.job,
        run,
        j.file,
        j.created,
        j.started,
        j.finished,
        p.wait,
        opt(p.process_creation),
        opt(p.overhead),
        opt(p.compute),
        opt(p.write_back),
        j.finished - j.started,
        j.finished - j.created,
        j.exit_status
    )
}
use aisprint_shared::profile::{Plan, Unit};
use tonic::transport::Channel;

use crate::models::{write_csv, Row};

/// How the campaign reaches the agents.
#[derive(Debug, Clone)]
pub struct CampaignOptions {
    /// Resource name -> the node id of the agent that stands for it.
    pub agents: BTreeMap<String, String>,
    /// How long one run may wait for its jobs.
    pub run_timeout: Duration,
    /// Seed of the exponential inter-upload times.
    pub seed: u64,
}

/// What the campaign did.
#[derive(Debug, Clone)]
pub struct CampaignSummary {
    pub dir: PathBuf,
    pub runs: usize,
    pub jobs: usize,
    pub wall: Duration,
    pub tables: Vec<PathBuf>,
}

/// One run of one unit.
#[derive(Debug, Clone)]
struct RunPlan {
    name: String,
    parallelism: u32,
}

/// The most a file sent over the mesh may hold: commands are gRPC messages of at most 4 MiB,
/// and files travel in base64 (4/3 of their size).
const MAX_SENT: usize = 2 << 20;

/// The cluster name the campaign's services are applied under on each agent (the node's own
/// services, applied under its node id, are left alone).
pub const PROFILING: &str = "aisprint-profiling";

/// The name of the service that tests a unit (`C1P1.2@VM1` -> `prof-C1P1.2-VM1`).
pub fn service_of(unit: &str) -> String {
    format!("prof-{}", unit.replace('@', "-"))
}

/// Exponential variate of mean `mean` from a uniform `u` in (0, 1].
fn exponential(mean: f64, u: f64) -> f64 {
    -mean * u.max(1e-12).ln()
}

/// The text files of a design folder (sent to the agent beside the script), relative names.
fn design_files(dir: &Path) -> Result<Vec<(String, String)>, String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<(String, String)>) -> Result<(), String> {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(d).map_err(|e| format!("{}: {e}", d.display()))?.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.') || name == "__pycache__" {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out)?;
                continue;
            }
            let rel = p.strip_prefix(root).map_err(|e| e.to_string())?.to_string_lossy().to_string();
            let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            if bytes.len() > MAX_SENT {
                return Err(format!(
                    "{}: {} bytes; a command over the mesh carries at most {} MiB: install the component on the agent's node",
                    p.display(),
                    bytes.len(),
                    MAX_SENT >> 20
                ));
            }
            match String::from_utf8(bytes) {
                Ok(t) => out.push((rel, t)),
                Err(_) => {
                    return Err(format!(
                        "{}: not text; binary files (models) are not sent over the mesh yet: install the component on the agent's node",
                        p.display()
                    ))
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    let total: usize = out.iter().map(|(_, t)| t.len()).sum();
    if total > MAX_SENT {
        return Err(format!(
            "{}: {total} bytes of files; a command over the mesh carries at most {} MiB: install the component on the agent's node",
            dir.display(),
            MAX_SENT >> 20
        ));
    }
    Ok(out)
}

/// The design folder of a unit: `aisprint/designs/<component>/<base|partitionN_M>`.
fn design_dir(app_dir: &Path, unit: &Unit, partitions: &[String]) -> PathBuf {
    let base = unit.name.split("_partition").next().unwrap_or(&unit.name);
    let design = match unit.name.split_once("_partition") {
        None => "base".to_string(),
        Some((_, rest)) if rest.starts_with('X') => {
            // A partitionX entry: the first partitioning with that half.
            let half = rest.split_once('_').map_or("", |x| x.1);
            partitions
                .iter()
                .find(|d| d.starts_with("partition") && d.ends_with(&format!("_{half}")))
                .cloned()
                .unwrap_or_else(|| format!("partition{rest}"))
        }
        Some((_, rest)) => format!("partition{rest}"),
    };
    app_dir.join("aisprint/designs").join(base).join(design)
}

/// Sends a command to an agent; returns its id.
async fn send(
    admin: &mut AdminServiceClient<Channel>,
    node: &str,
    kind: &str,
    payload: String,
) -> Result<String, String> {
    let r = admin
        .send_command(SendCommandRequest { node_id: node.to_string(), kind: kind.to_string(), payload_json: payload })
        .await
        .map_err(|e| format!("{kind} to {node}: {}", e.message()))?
        .into_inner();
    if r.sent {
        Ok(r.command_id)
    } else {
        Err(format!("{kind}: the agent `{node}` is not connected to the controller"))
    }
}

/// The agent's answer to a command, waited for at most `limit`; `None` when none came.
pub async fn command_result(
    admin: &mut AdminServiceClient<Channel>,
    id: &str,
    limit: Duration,
) -> Result<Option<aisprint_proto::v1::CommandResultReply>, String> {
    let start = Instant::now();
    loop {
        let r = admin
            .command_result(aisprint_proto::v1::CommandResultRequest { command_id: id.to_string() })
            .await
            .map_err(|e| format!("the answer to command {id}: {}", e.message()))?
            .into_inner();
        if r.known {
            return Ok(Some(r));
        }
        if start.elapsed() > limit {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Puts a copy of the input (base64) into a bucket of an agent.
async fn put(
    admin: &mut AdminServiceClient<Channel>,
    node: &str,
    bucket: &str,
    name: &str,
    content: &str,
) -> Result<(), String> {
    let put = serde_json::json!({"bucket": bucket, "name": name, "content": content});
    send(admin, node, "bucket.put", put.to_string()).await.map(|_| ())
}

/// Waits until `want` jobs of `service` whose files start with `prefix` are done, telling
/// `progress` each count; the jobs, or `None` after `limit`.
async fn wait_done(
    admin: &mut AdminServiceClient<Channel>,
    service: &str,
    prefix: &str,
    want: usize,
    limit: Duration,
    mut progress: impl FnMut(usize),
) -> Result<Option<Vec<JobInfo>>, String> {
    let start = Instant::now();
    loop {
        let jobs = jobs_of(admin, service, prefix).await?;
        let done = jobs.iter().filter(|j| j.finished > 0.0).count();
        progress(done);
        if done >= want {
            return Ok(Some(jobs));
        }
        if start.elapsed() > limit {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The jobs of a service whose files start with `prefix`.
async fn jobs_of(admin: &mut AdminServiceClient<Channel>, service: &str, prefix: &str) -> Result<Vec<JobInfo>, String> {
    let r = admin
        .list_jobs(ListJobsRequest { service: service.to_string(), limit: 10_000 })
        .await
        .map_err(|e| format!("list the jobs of {service}: {}", e.message()))?
        .into_inner();
    Ok(r.jobs.into_iter().filter(|j| j.file.starts_with(prefix)).collect())
}

/// Runs the campaign of `plan` (every unit alone); returns what it wrote.
pub async fn run(
    app_dir: &Path,
    app: &Application,
    plan: &Plan,
    admin: &mut AdminServiceClient<Channel>,
    o: &CampaignOptions,
) -> Result<CampaignSummary, String> {
    use base64::Engine;
    let start = Instant::now();
    let rp = app.run_parameters.as_ref().ok_or("oscarp/run_parameters.yaml: missing")?;
    let asy = rp.value.asynchronous.as_ref().ok_or(
        "oscarp/run_parameters.yaml: `asynchronous` is missing (batch_size, number_of_batches, inter_upload_time): only asynchronous campaigns are run",
    )?;
    let input =
        rp.value.input_files.as_ref().ok_or("oscarp/run_parameters.yaml: `input_files` is missing (filename)")?;
    let candidates = [
        app_dir.join(input.storage_bucket.as_deref().unwrap_or("input")).join(&input.filename),
        app_dir.join("input").join(&input.filename),
    ];
    let input_path = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
        format!(
            "input_files.filename: `{}` is neither {} nor {}",
            input.filename,
            candidates[0].display(),
            candidates[1].display()
        )
    })?;
    let content = std::fs::read(input_path).map_err(|e| format!("{}: {e}", input_path.display()))?;
    if content.len() > MAX_SENT {
        return Err(format!(
            "{}: over {} MiB; uploads go over the mesh's command channel (gRPC messages of 4 MiB, base64 inside)",
            input_path.display(),
            MAX_SENT >> 20
        ));
    }
    let ext = input_path.extension().and_then(|e| e.to_str()).map(|e| format!(".{e}")).unwrap_or_default();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
    let run_cfg = rp.value.run.clone().unwrap_or(aisprint_shared::app::oscarp::RunSection {
        test_synchronously: None,
        test_single_services: None,
        train_models: None,
        campaign_dir: None,
        repetitions: None,
        cooldown_time: None,
    });
    let reps = run_cfg.repetitions.unwrap_or(1).max(1);
    let cooldown_s = run_cfg.cooldown_time.unwrap_or(0.0);
    if !(cooldown_s.is_finite() && (0.0..=86_400.0).contains(&cooldown_s)) {
        return Err(format!("run.cooldown_time: {cooldown_s}: expected seconds between 0 and 86400"));
    }
    let cooldown = Duration::from_secs_f64(cooldown_s);
    let exponential_uploads = asy.distribution.as_deref() == Some("exponential");
    let gap = asy.inter_upload_time.unwrap_or(0.0);
    if !(gap.is_finite() && (0.0..=86_400.0).contains(&gap)) {
        return Err(format!("asynchronous.inter_upload_time: {gap}: expected seconds between 0 and 86400"));
    }
    let files_per_run = u64::from(asy.batch_size) * u64::from(asy.number_of_batches);
    if files_per_run > 100_000 {
        return Err(format!(
            "asynchronous: batch_size x number_of_batches = {files_per_run} files per run: at most 100000"
        ));
    }
    let files_per_run = files_per_run as usize;
    if run_cfg.test_single_services.as_ref().is_some_and(|f| !f.is_true()) {
        eprintln!("note: run.test_single_services is false, and only single-service runs are made here (whole-pipeline runs are not available yet)");
    }
    if run_cfg.test_synchronously.as_ref().is_some_and(aisprint_shared::app::Flag::is_true) {
        return Err("run.test_synchronously: synchronous campaigns are not available yet; set it to false".into());
    }
    // Upload names unique to this campaign: the agent runs a file name once per service.
    let stamp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() % 100_000_000);
    if files_per_run == 0 {
        return Err("asynchronous: batch_size x number_of_batches is 0: a run would upload nothing".into());
    }
    let partitions: BTreeMap<String, Vec<String>> = app
        .partitions
        .as_ref()
        .map(|p| p.value.components.iter().map(|(k, v)| (k.clone(), v.partitions.clone())).collect())
        .unwrap_or_default();

    // The units, each once, with the first deployment that has it.
    let mut units: Vec<(usize, &Unit)> = Vec::new();
    for (i, d) in plan.deployments.iter().enumerate() {
        for u in &d.units {
            if !units.iter().any(|(_, x)| x.id == u.id) {
                units.push((i, u));
            }
        }
    }
    let missing: Vec<&str> =
        units.iter().map(|(_, u)| u.resource.as_str()).filter(|r| !o.agents.contains_key(*r)).collect();
    if !missing.is_empty() {
        let mut m = missing.clone();
        m.sort_unstable();
        m.dedup();
        return Err(format!(
            "no agent stands for resource(s) {}: give --agent <resource>=<node id> for each",
            m.join(", ")
        ));
    }
    let campaign = app_dir.join("oscarp").join(run_cfg.campaign_dir.clone().unwrap_or_else(|| "campaign".into()));
    std::fs::create_dir_all(&campaign).map_err(|e| format!("{}: {e}", campaign.display()))?;
    std::fs::write(campaign.join("run_parameters.yaml"), serde_yaml::to_string(&rp.value).map_err(|e| e.to_string())?)
        .map_err(|e| format!("{}: {e}", campaign.display()))?;
    let summary_txt: String = plan
        .deployments
        .iter()
        .map(|d| {
            format!("{}: [{}]\n", d.name, d.units.iter().map(|u| format!("'{}'", u.id)).collect::<Vec<_>>().join(", "))
        })
        .collect();
    std::fs::write(campaign.join("deployments_summary.txt"), summary_txt).map_err(|e| e.to_string())?;

    let mut rng = aisprint_shared::space4aid::search::Rng::new(o.seed);
    let mut description: Vec<serde_json::Value> = Vec::new();
    let mut tables = Vec::new();
    let (mut total_runs, mut total_jobs) = (0usize, 0usize);
    for (dep_i, unit) in &units {
        let node = &o.agents[&unit.resource];
        let service = service_of(&unit.id);
        let design = design_dir(
            app_dir,
            unit,
            partitions.get(unit.name.split("_partition").next().unwrap_or("")).map_or(&[], |v| v.as_slice()),
        );
        let files = design_files(&design)?;
        if !files.iter().any(|(n, _)| n == "main.py") {
            return Err(format!("{}: no main.py (run `aisprint design` first)", design.display()));
        }
        let runs: Vec<RunPlan> = unit
            .parallelism
            .iter()
            .flat_map(|&p| (0..reps).map(move |_| p))
            .enumerate()
            .map(|(k, p)| RunPlan { name: format!("Run #{}", k + 1), parallelism: p })
            .collect();
        let bucket = format!("campaign/{service}");
        let mut rows = Vec::new();
        let mut job_rows = String::from(JOBS_HEADER);
        let mut applied_parallelism = 0;
        for (k, r) in runs.iter().enumerate() {
            if r.parallelism != applied_parallelism {
                // The service, with this run's parallelism (the agent replaces the one before).
                let mut scripts = serde_json::Map::new();
                scripts.insert("script.sh".into(), "cd \"$(dirname \"$0\")/design\" && exec python3 main.py\n".into());
                for (n, t) in &files {
                    scripts.insert(format!("design/{n}"), serde_json::Value::String(t.clone()));
                }
                // The annotations package the component imports, beside it (the node need
                // not have it installed).
                for (n, t) in crate::toscarizer::PY_PACKAGE {
                    if let Some(rel) = n.strip_prefix("aisprint/") {
                        scripts.insert(format!("design/aisprint/{rel}"), serde_json::Value::String(t.to_string()));
                    }
                }
                let fdl = format!(
                    "functions:\n  oscar:\n  - {PROFILING}:\n      name: {service}\n      script: script.sh\n      max_parallelism: {p}\n      cpu: '{cpu}'\n      memory: '{mem}'\n      environment:\n        Variables:\n          COMPONENT_NAME: {name}\n          RESOURCE_ID: {res}\n      input:\n      - path: {bucket}/in\n      output:\n      - path: {bucket}/out\n",
                    p = r.parallelism,
                    cpu = unit.cpu,
                    mem = unit.memory,
                    name = unit.name,
                    res = unit.resource,
                );
                // Under their own cluster name: the node's other services stay as they are.
                let payload = serde_json::json!({"cluster": PROFILING, "fdl": fdl, "scripts": scripts});
                let id = send(admin, node, "services.apply", payload.to_string()).await?;
                match command_result(admin, &id, Duration::from_secs(60)).await? {
                    Some(r) if !r.ok => {
                        return Err(format!("{}: agent `{node}` refused the service: {}", unit.id, r.message))
                    }
                    Some(_) => {}
                    None => {
                        return Err(format!(
                            "{}: agent `{node}` did not answer the service's apply within 60 s",
                            unit.id
                        ))
                    }
                }
                if applied_parallelism == 0 {
                    // A warm-up job, not measured: the first process of a component on a node
                    // pays for cold caches (interpreter, libraries, the input's page).
                    let warmup = format!("aisprint-{stamp}-warmup");
                    put(admin, node, &format!("{bucket}/in"), &format!("{warmup}{ext}"), &encoded).await?;
                    if wait_done(admin, &service, &warmup, 1, o.run_timeout, |_| {}).await?.is_none() {
                        return Err(format!(
                            "{}: the warm-up job did not finish in {}s (is agent `{node}` running its services?)",
                            unit.id,
                            o.run_timeout.as_secs()
                        ));
                    }
                }
                applied_parallelism = r.parallelism;
            }
            let prefix = format!("aisprint-{stamp}-r{:04}-", k + 1);
            let run_start = Instant::now();
            for b in 0..asy.number_of_batches {
                if b > 0 {
                    let wait = if exponential_uploads { exponential(gap, 1.0 - rng.unit()) } else { gap };
                    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
                }
                for f in 0..asy.batch_size {
                    let name = format!("{prefix}{:03}{ext}", b * asy.batch_size + f);
                    put(admin, node, &format!("{bucket}/in"), &name, &encoded).await?;
                }
            }
            // Wait for every job of the run (the run's time limit counts the uploads too).
            let mut shown = None;
            let progress = |done: usize| {
                if shown != Some(done) {
                    eprintln!(
                        "  {} {} (parallelism {}): {done}/{files_per_run} jobs done",
                        unit.id, r.name, r.parallelism
                    );
                    shown = Some(done);
                }
            };
            let left = o.run_timeout.saturating_sub(run_start.elapsed());
            let Some(jobs) = wait_done(admin, &service, &prefix, files_per_run, left, progress).await? else {
                return Err(format!(
                    "{} {}: {} of {files_per_run} jobs done after {}s (is agent `{node}` running its services? raise --run_timeout)",
                    unit.id,
                    r.name,
                    shown.unwrap_or(0),
                    o.run_timeout.as_secs()
                ));
            };
            let done: Vec<&JobInfo> = jobs.iter().filter(|j| j.finished > 0.0).collect();
            // A failed job measures nothing: the run's figures would be wrong.
            let failed: Vec<&&JobInfo> = done.iter().filter(|j| j.exit_status != 0).collect();
            if let Some(f) = failed.first() {
                return Err(format!(
                    "{} {}: {} of {} jobs failed (the first: job {} on {}, exit status {}); see `aisprint oscar logs {service} {}`",
                    unit.id,
                    r.name,
                    failed.len(),
                    done.len(),
                    f.job,
                    f.file,
                    f.exit_status,
                    f.job
                ));
            }
            let first = done.iter().map(|j| j.created).fold(f64::INFINITY, f64::min);
            let end = done.iter().map(|j| j.finished).fold(f64::NEG_INFINITY, f64::max);
            let span = (end - first).max(1e-6);
            let response = done.iter().map(|j| j.finished - j.created).sum::<f64>() / done.len() as f64;
            rows.push(Row {
                run: r.name.clone(),
                throughput: done.len() as f64 / span,
                response,
                parallelism: f64::from(r.parallelism),
                cores: f64::from(r.parallelism) * unit.cpu,
            });
            let mut sorted = done.clone();
            sorted.sort_by(|a, b| a.file.cmp(&b.file));
            for j in sorted {
                job_rows.push_str(&job_row(j, &r.name));
            }
            total_runs += 1;
            total_jobs += done.len();
            if !cooldown.is_zero() {
                tokio::time::sleep(cooldown).await;
            }
        }
        let dir = campaign.join(format!("deployment_{dep_i}")).join(&unit.id).join("results/Dataframes");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let table = dir.join(format!("{}_response_time_dataframe.csv", unit.name));
        std::fs::write(&table, write_csv(&rows)).map_err(|e| format!("{}: {e}", table.display()))?;
        std::fs::write(dir.join(format!("{}_jobs.csv", unit.name)), job_rows).map_err(|e| e.to_string())?;
        tables.push(table);
        description.push(serde_json::json!({
            "unit": unit.id, "service": unit.name, "resource": unit.resource, "agent": node,
            "cpu": unit.cpu, "runs": runs.len(), "parallelism": unit.parallelism,
        }));
    }
    let wall = start.elapsed();
    let desc = serde_json::json!({
        "input": input_path.display().to_string(),
        "files_per_run": files_per_run,
        "repetitions": reps,
        "units": description,
        "runs": total_runs,
        "jobs": total_jobs,
        "wall_time_s": wall.as_secs_f64(),
    });
    std::fs::write(campaign.join("campaign.yaml"), serde_yaml::to_string(&desc).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    Ok(CampaignSummary { dir: campaign, runs: total_runs, jobs: total_jobs, wall, tables })
}
