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
//!
//! Then each deployment of two units or more runs whole (OSCAR-P's `Full_workflow`): every
//! unit's service on its agent, each writing into the next one's input bucket (through the
//! mesh when the next is on another agent), the batches uploaded to the first; per run, the
//! stages' tables and the pipeline's (`full_workflow_response_time_dataframe.csv`: per file,
//! the first stage's creation to the last stage's end) under
//! `deployment_<i>/Full_workflow/results/Dataframes/`. With `test_single_services: false`
//! only these runs are made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aisprint_proto::v1::admin_service_client::AdminServiceClient;
use aisprint_proto::v1::{JobInfo, ListJobsRequest, SendCommandRequest};
use aisprint_shared::app::check::Application;

use aisprint_shared::profile::{Plan, Unit};
use tonic::transport::Channel;

use crate::models::{write_csv, Row};

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

/// How the campaign reaches the agents.
#[derive(Debug, Clone)]
pub struct CampaignOptions {
    /// Resource name -> the node id of the agent that stands for it.
    pub agents: BTreeMap<String, String>,
    /// Resource name -> the OSCAR cluster that stands for it (its REST API).
    pub oscar: BTreeMap<String, std::sync::Arc<crate::oscar_apply::OscarCluster>>,
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

/// Puts one input, `<name><ext>`, into `bucket` of `node` and waits until `service` (the
/// last of a pipeline) has done it; false when it has not within `limit`.
async fn warm_up(
    admin: &mut AdminServiceClient<Channel>,
    node: &str,
    bucket: &str,
    service: &str,
    name: &str,
    u: &Uploads<'_>,
    limit: Duration,
) -> Result<bool, String> {
    put(admin, node, bucket, &format!("{name}{}", u.ext), u.encoded).await?;
    Ok(wait_done(admin, service, name, 1, limit, |_| {}).await?.is_some())
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
    mut admin: Option<&mut AdminServiceClient<Channel>>,
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
    // A run is followed through the controller's job records, which keep the latest ones.
    let stages = plan.deployments.iter().map(|d| d.units.len()).max().unwrap_or(1);
    let most = crate::mesh::qos::JOBS_KEPT / (stages + 1);
    if files_per_run > most as u64 {
        return Err(format!(
            "asynchronous: batch_size x number_of_batches = {files_per_run} files per run: at most {most} (the controller keeps the latest {} job records)",
            crate::mesh::qos::JOBS_KEPT
        ));
    }
    let files_per_run = files_per_run as usize;
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
    let missing: Vec<&str> = units
        .iter()
        .map(|(_, u)| u.resource.as_str())
        .filter(|r| !o.agents.contains_key(*r) && !o.oscar.contains_key(*r))
        .collect();
    if !missing.is_empty() {
        let mut m = missing.clone();
        m.sort_unstable();
        m.dedup();
        return Err(format!(
            "no agent stands for resource(s) {}: give --agent <resource>=<node id> (or --oscar <resource>=<cluster>) for each",
            m.join(", ")
        ));
    }
    for (_, u) in &units {
        if let Some(c) = o.oscar.get(&u.resource) {
            oscar_image(app, u, &c.name)?;
        }
    }
    if admin.is_none() && units.iter().any(|(_, u)| !o.oscar.contains_key(&u.resource)) {
        return Err("units on agents need the controller's config (--config)".into());
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
    let uploads = Uploads {
        batch_size: asy.batch_size,
        batches: asy.number_of_batches,
        gap,
        exponential: exponential_uploads,
        encoded: &encoded,
        ext: &ext,
    };
    let mut description: Vec<serde_json::Value> = Vec::new();
    let mut tables = Vec::new();
    let (mut total_runs, mut total_jobs) = (0usize, 0usize);
    let singles = run_cfg.test_single_services.as_ref().is_none_or(|f| f.is_true());
    for (dep_i, unit) in units.iter().filter(|_| singles) {
        if let Some(cluster) = o.oscar.get(&unit.resource) {
            let t = OscarRuns { reps, uploads: &uploads, files_per_run, cooldown, stamp };
            let (rows, job_rows, jobs) = oscar_unit(app_dir, app, unit, &partitions, cluster, &t, o, &mut rng).await?;
            tables.push(write_unit_tables(&campaign, *dep_i, unit, &rows, &job_rows)?);
            total_runs += rows.len();
            total_jobs += jobs;
            description.push(serde_json::json!({
                "unit": unit.id, "service": unit.name, "resource": unit.resource, "oscar_cluster": cluster.name,
                "cpu": unit.cpu, "runs": rows.len(), "parallelism": unit.parallelism,
            }));
            continue;
        }
        let admin = admin.as_deref_mut().ok_or("units on agents need the controller's config (--config)")?;
        let node = &o.agents[&unit.resource];
        let service = service_of(&unit.id);
        let files = unit_files(app_dir, unit, &partitions)?;
        let runs = run_plans(&unit.parallelism, reps);
        let bucket = format!("campaign/{service}");
        let mut rows = Vec::new();
        let mut job_rows = String::from(JOBS_HEADER);
        let mut applied_parallelism = 0;
        for (k, r) in runs.iter().enumerate() {
            if r.parallelism != applied_parallelism {
                // The service, with this run's parallelism (the agent replaces the one before).
                let mut scripts = serde_json::Map::new();
                add_scripts(&mut scripts, &service, &files);
                let fdl = format!(
                    "functions:\n  oscar:\n{}",
                    fdl_entry(
                        &service,
                        unit,
                        r.parallelism,
                        &format!("{bucket}/in"),
                        &format!("minio.default: {bucket}/out")
                    )
                );
                apply(admin, node, &fdl, scripts, &unit.id).await?;
                if applied_parallelism == 0 {
                    // A warm-up job, not measured: the first process of a component on a node
                    // pays for cold caches (interpreter, libraries, the input's page).
                    let warmup = format!("aisprint-{stamp}-warmup");
                    if !warm_up(admin, node, &format!("{bucket}/in"), &service, &warmup, &uploads, o.run_timeout)
                        .await?
                    {
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
            upload_run(admin, node, &format!("{bucket}/in"), &prefix, &uploads, &mut rng).await?;
            // Wait for every job of the run (the run's time limit counts the uploads too).
            let label = format!("{} {} (parallelism {})", unit.id, r.name, r.parallelism);
            let left = o.run_timeout.saturating_sub(run_start.elapsed());
            let done = wait_run(admin, &service, &prefix, files_per_run, left, &label, node, o.run_timeout).await?;
            rows.push(row_of(&done, &r.name, f64::from(r.parallelism), f64::from(r.parallelism) * unit.cpu));
            for j in &done {
                job_rows.push_str(&job_row(j, &r.name));
            }
            total_runs += 1;
            total_jobs += done.len();
            if !cooldown.is_zero() {
                tokio::time::sleep(cooldown).await;
            }
        }
        tables.push(write_unit_tables(&campaign, *dep_i, unit, &rows, &job_rows)?);
        description.push(serde_json::json!({
            "unit": unit.id, "service": unit.name, "resource": unit.resource, "agent": node,
            "cpu": unit.cpu, "runs": runs.len(), "parallelism": unit.parallelism,
        }));
    }

    // The whole pipeline of each deployment (OSCAR-P's Full_workflow): every unit's service on
    // its agent, each writing into the next one's input bucket (through the mesh when the next
    // runs on another agent); the input batches go to the first, and a run is done when the
    // last has handled every file. The components keep a file's name from input to output.
    for (dep_i, dep) in plan.deployments.iter().enumerate() {
        if dep.units.len() < 2 && singles {
            continue; // one unit: its single-service runs are the whole pipeline
        }
        if let Some(u) = dep.units.iter().find(|u| o.oscar.contains_key(&u.resource)) {
            eprintln!(
                "note: {} Full_workflow not run: {} is on an OSCAR cluster (whole-pipeline runs chain agents' buckets)",
                dep.name, u.id
            );
            description.push(
                serde_json::json!({"full_workflow": dep.name, "skipped": format!("{} on an OSCAR cluster", u.id)}),
            );
            continue;
        }
        let admin = admin.as_deref_mut().ok_or("units on agents need the controller's config (--config)")?;
        let nodes: Vec<&String> = dep.units.iter().map(|u| &o.agents[&u.resource]).collect();
        let services: Vec<String> = dep.units.iter().map(|u| format!("wf{dep_i}-{}", service_of(&u.id))).collect();
        let bucket = |i: usize| format!("campaign-wf/{}/in", services[i]);
        let mut files = Vec::new();
        for u in &dep.units {
            files.push(unit_files(app_dir, u, &partitions)?);
        }
        let runs = run_plans(&(0..dep.units[0].parallelism.len() as u32).collect::<Vec<_>>(), reps);
        let mut rows: Vec<Vec<Row>> = vec![Vec::new(); dep.units.len() + 1];
        let mut job_rows: Vec<String> = vec![String::from(JOBS_HEADER); dep.units.len()];
        let mut applied_level = None;
        let last = dep.units.len() - 1;
        for (k, r) in runs.iter().enumerate() {
            let level = r.parallelism as usize;
            if applied_level != Some(level) {
                // Each agent gets its units' services in one apply (it replaces its set).
                let mut by_node: BTreeMap<&String, (String, serde_json::Map<String, serde_json::Value>)> =
                    BTreeMap::new();
                for (i, u) in dep.units.iter().enumerate() {
                    let output = if i == last {
                        format!("minio.default: campaign-wf/{}/out", services[i])
                    } else if nodes[i + 1] == nodes[i] {
                        format!("minio.default: {}", bucket(i + 1))
                    } else {
                        format!("minio.{}: {}", nodes[i + 1], bucket(i + 1))
                    };
                    let e = by_node.entry(nodes[i]).or_default();
                    e.0.push_str(&fdl_entry(&services[i], u, u.parallelism[level], &bucket(i), &output));
                    add_scripts(&mut e.1, &services[i], &files[i]);
                }
                for (node, (entries, scripts)) in by_node {
                    apply(admin, node, &format!("functions:\n  oscar:\n{entries}"), scripts, &dep.name).await?;
                }
                if applied_level.is_none() {
                    let warmup = format!("aisprint-{stamp}-wf{dep_i}-warmup");
                    if !warm_up(admin, nodes[0], &bucket(0), &services[last], &warmup, &uploads, o.run_timeout).await? {
                        return Err(format!(
                            "{} Full_workflow: the warm-up file did not come out of the last service in {}s (do the components keep the file's name?)",
                            dep.name,
                            o.run_timeout.as_secs()
                        ));
                    }
                }
                applied_level = Some(level);
            }
            let prefix = format!("aisprint-{stamp}-wf{dep_i}-r{:04}-", k + 1);
            let run_start = Instant::now();
            upload_run(admin, nodes[0], &bucket(0), &prefix, &uploads, &mut rng).await?;
            let pars: Vec<u32> = dep.units.iter().map(|u| u.parallelism[level]).collect();
            let label = format!("{} Full_workflow {} (parallelism {pars:?})", dep.name, r.name);
            let left = o.run_timeout.saturating_sub(run_start.elapsed());
            wait_run(admin, &services[last], &prefix, files_per_run, left, &label, nodes[last], o.run_timeout).await?;
            // Every stage's jobs of the run, then the pipeline's: from the first stage's
            // creation to the last stage's end, per file.
            let mut per_file: BTreeMap<String, (f64, f64)> = BTreeMap::new();
            for (i, u) in dep.units.iter().enumerate() {
                let done = wait_run(admin, &services[i], &prefix, files_per_run, left, &label, nodes[i], o.run_timeout)
                    .await?;
                let p = f64::from(u.parallelism[level]);
                rows[i].push(row_of(&done, &r.name, p, p * u.cpu));
                for j in &done {
                    job_rows[i].push_str(&job_row(j, &r.name));
                    let e = per_file.entry(j.file.clone()).or_insert((f64::INFINITY, 0.0));
                    e.0 = e.0.min(j.created);
                    e.1 = e.1.max(j.finished);
                }
                total_jobs += done.len();
            }
            // Each file's way through the pipeline, as one job of it.
            let spans: Vec<JobInfo> = per_file
                .values()
                .map(|&(created, finished)| JobInfo { created, finished, ..Default::default() })
                .collect();
            let cores = dep.units.iter().zip(&pars).map(|(u, p)| f64::from(*p) * u.cpu).sum();
            rows[dep.units.len()].push(row_of(&spans, &r.name, f64::from(pars[0]), cores));
            total_runs += 1;
            if !cooldown.is_zero() {
                tokio::time::sleep(cooldown).await;
            }
        }
        let dir = campaign.join(format!("deployment_{dep_i}")).join("Full_workflow/results/Dataframes");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (i, u) in dep.units.iter().enumerate() {
            std::fs::write(dir.join(format!("{}_response_time_dataframe.csv", u.name)), write_csv(&rows[i]))
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            std::fs::write(dir.join(format!("{}_jobs.csv", u.name)), &job_rows[i]).map_err(|e| e.to_string())?;
        }
        std::fs::write(dir.join("full_workflow_response_time_dataframe.csv"), write_csv(&rows[dep.units.len()]))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        description.push(serde_json::json!({
            "full_workflow": dep.name, "units": dep.units.iter().map(|u| u.id.clone()).collect::<Vec<_>>(),
            "agents": nodes, "runs": runs.len(),
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

/// How a run's inputs are uploaded.
struct Uploads<'a> {
    batch_size: u32,
    batches: u32,
    /// Seconds between batches (the mean, when exponential).
    gap: f64,
    exponential: bool,
    /// The input file, base64.
    encoded: &'a str,
    ext: &'a str,
}

impl Uploads<'_> {
    /// Waits the inter-upload time before batch `b` (none before the first).
    async fn before_batch(&self, b: u32, rng: &mut aisprint_shared::space4aid::search::Rng) {
        if b > 0 {
            let wait = if self.exponential { exponential(self.gap, 1.0 - rng.unit()) } else { self.gap };
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }
}

/// Uploads a run's batches on schedule into `bucket` of `node`, as `<prefix>NNN<ext>`.
async fn upload_run(
    admin: &mut AdminServiceClient<Channel>,
    node: &str,
    bucket: &str,
    prefix: &str,
    u: &Uploads<'_>,
    rng: &mut aisprint_shared::space4aid::search::Rng,
) -> Result<(), String> {
    for b in 0..u.batches {
        u.before_batch(b, rng).await;
        for f in 0..u.batch_size {
            let name = format!("{prefix}{:03}{}", b * u.batch_size + f, u.ext);
            put(admin, node, bucket, &name, u.encoded).await?;
        }
    }
    Ok(())
}

/// The runs of a unit: each parallelism level, `reps` times (`Run #1`, ...).
fn run_plans(levels: &[u32], reps: u32) -> Vec<RunPlan> {
    levels
        .iter()
        .flat_map(|&p| (0..reps).map(move |_| p))
        .enumerate()
        .map(|(k, p)| RunPlan { name: format!("Run #{}", k + 1), parallelism: p })
        .collect()
}

/// The files of a unit's design folder (`main.py` needed).
fn unit_files(
    app_dir: &Path,
    unit: &Unit,
    partitions: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<(String, String)>, String> {
    let design = unit_design(app_dir, unit, partitions);
    let files = design_files(&design)?;
    if !files.iter().any(|(n, _)| n == "main.py") {
        return Err(format!("{}: no main.py (run `aisprint design` first)", design.display()));
    }
    Ok(files)
}

/// A unit's design folder, the component's partitionings taken from `partitions`.
fn unit_design(app_dir: &Path, unit: &Unit, partitions: &BTreeMap<String, Vec<String>>) -> PathBuf {
    let component = unit.name.split("_partition").next().unwrap_or(&unit.name);
    design_dir(app_dir, unit, partitions.get(component).map_or(&[], |v| v.as_slice()))
}

/// A service's files, under `<service>/`: its script, its design and the annotations package
/// the component imports (the node need not have it installed).
fn add_scripts(scripts: &mut serde_json::Map<String, serde_json::Value>, service: &str, files: &[(String, String)]) {
    scripts.insert(format!("{service}/script.sh"), "cd \"$(dirname \"$0\")/design\" && exec python3 main.py\n".into());
    for (n, t) in files {
        scripts.insert(format!("{service}/design/{n}"), serde_json::Value::String(t.clone()));
    }
    for (n, t) in crate::toscarizer::PY_PACKAGE {
        if let Some(rel) = n.strip_prefix("aisprint/") {
            scripts.insert(format!("{service}/design/aisprint/{rel}"), serde_json::Value::String(t.to_string()));
        }
    }
}

/// One FDL entry of the profiling cluster; `output` is `<storage provider>: <path>`.
fn fdl_entry(service: &str, unit: &Unit, parallelism: u32, input: &str, output: &str) -> String {
    let (provider, path) = output.split_once(": ").unwrap_or(("minio.default", output));
    format!(
        "  - {PROFILING}:\n      name: {service}\n      script: {service}/script.sh\n      max_parallelism: {parallelism}\n      cpu: '{cpu}'\n      memory: '{mem}'\n      environment:\n        Variables:\n          COMPONENT_NAME: {name}\n          RESOURCE_ID: {res}\n      input:\n      - storage_provider: minio.default\n        path: {input}\n      output:\n      - storage_provider: {provider}\n        path: {path}\n",
        cpu = unit.cpu,
        mem = unit.memory,
        name = unit.name,
        res = unit.resource,
    )
}

/// Applies services to an agent under the profiling cluster (the node's other services stay
/// as they are) and waits for its answer.
async fn apply(
    admin: &mut AdminServiceClient<Channel>,
    node: &str,
    fdl: &str,
    scripts: serde_json::Map<String, serde_json::Value>,
    what: &str,
) -> Result<(), String> {
    let payload = serde_json::json!({"cluster": PROFILING, "fdl": fdl, "scripts": scripts});
    let id = send(admin, node, "services.apply", payload.to_string()).await?;
    match command_result(admin, &id, Duration::from_secs(60)).await? {
        Some(r) if !r.ok => Err(format!("{what}: agent `{node}` refused the service: {}", r.message)),
        Some(_) => Ok(()),
        None => Err(format!("{what}: agent `{node}` did not answer the service's apply within 60 s")),
    }
}

/// Waits for a run's `want` jobs of `service` (printing progress), sorted by file; an error
/// when they do not all finish in `left` or when any failed (a failed job measures nothing).
#[allow(clippy::too_many_arguments)]
async fn wait_run(
    admin: &mut AdminServiceClient<Channel>,
    service: &str,
    prefix: &str,
    want: usize,
    left: Duration,
    label: &str,
    node: &str,
    run_timeout: Duration,
) -> Result<Vec<JobInfo>, String> {
    let mut shown = None;
    let progress = |done: usize| {
        if shown != Some(done) {
            eprintln!("  {label}: {done}/{want} jobs done");
            shown = Some(done);
        }
    };
    let Some(jobs) = wait_done(admin, service, prefix, want, left, progress).await? else {
        return Err(format!(
            "{label}: {} of {want} jobs done after {}s (is agent `{node}` running its services? raise --run_timeout)",
            shown.unwrap_or(0),
            run_timeout.as_secs()
        ));
    };
    let mut done: Vec<JobInfo> = jobs.into_iter().filter(|j| j.finished > 0.0).collect();
    let failed: Vec<&JobInfo> = done.iter().filter(|j| j.exit_status != 0).collect();
    if let Some(f) = failed.first() {
        return Err(format!(
            "{label}: {} of {} jobs failed (the first: job {} on {}, exit status {}); see `aisprint oscar logs {service} {}`",
            failed.len(),
            done.len(),
            f.job,
            f.file,
            f.exit_status,
            f.job
        ));
    }
    done.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(done)
}

/// A run's row: throughput = jobs / (last end - first creation), response = mean of end -
/// creation.
fn row_of(done: &[JobInfo], run: &str, parallelism: f64, cores: f64) -> Row {
    let first = done.iter().map(|j| j.created).fold(f64::INFINITY, f64::min);
    let end = done.iter().map(|j| j.finished).fold(f64::NEG_INFINITY, f64::max);
    let span = (end - first).max(1e-6);
    Row {
        run: run.to_string(),
        throughput: done.len() as f64 / span,
        response: done.iter().map(|j| j.finished - j.created).sum::<f64>() / done.len().max(1) as f64,
        parallelism,
        cores,
    }
}

/// Writes a unit's tables (`deployment_<i>/<unit>/results/Dataframes/`); the response-time
/// table's path.
fn write_unit_tables(
    campaign: &Path,
    dep_i: usize,
    unit: &Unit,
    rows: &[Row],
    job_rows: &str,
) -> Result<PathBuf, String> {
    let dir = campaign.join(format!("deployment_{dep_i}")).join(&unit.id).join("results/Dataframes");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let table = dir.join(format!("{}_response_time_dataframe.csv", unit.name));
    std::fs::write(&table, write_csv(rows)).map_err(|e| format!("{}: {e}", table.display()))?;
    std::fs::write(dir.join(format!("{}_jobs.csv", unit.name)), job_rows)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(table)
}

/// What every OSCAR unit's runs share.
struct OscarRuns<'a> {
    reps: u32,
    uploads: &'a Uploads<'a>,
    files_per_run: usize,
    cooldown: Duration,
    stamp: u128,
}

/// An OSCAR service name for a unit (Kubernetes names: lower case, digits, `-`).
pub fn oscar_service_of(unit: &str) -> String {
    service_of(unit).to_ascii_lowercase().replace(|c: char| !(c.is_ascii_alphanumeric() || c == '-'), "-")
}

/// The container image an OSCAR cluster runs a unit from (candidate_deployments.yaml).
fn oscar_image(app: &Application, unit: &Unit, cluster: &str) -> Result<String, String> {
    app.deployments
        .value
        .components
        .get(&unit.key)
        .and_then(|c| c.containers.get(&unit.container))
        .and_then(|c| c.image.clone())
        .filter(|i| !i.trim().is_empty())
        .ok_or_else(|| {
            format!(
                "common_config/candidate_deployments.yaml: Components.{}.Containers.{}.image: missing: OSCAR cluster `{cluster}` runs the unit {} from a container image (build it with `aisprint toscarizer docker` and write its name there)",
                unit.key, unit.container, unit.id
            )
        })
}

/// How many of an OSCAR service's jobs have finished (succeeded or failed).
fn finished(jobs: &indexmap::IndexMap<String, crate::oscar_client::JobInfo>) -> usize {
    jobs.values().filter(|j| matches!(j.status.as_str(), "Succeeded" | "Failed")).count()
}

/// Lists a service's jobs every 500 ms until `enough` says so: that listing, or `None` after
/// `limit`.
async fn oscar_jobs_until(
    client: &crate::oscar_client::OscarClient,
    service: &str,
    limit: Duration,
    mut enough: impl FnMut(&indexmap::IndexMap<String, crate::oscar_client::JobInfo>) -> bool,
) -> Result<Option<indexmap::IndexMap<String, crate::oscar_client::JobInfo>>, crate::oscar_client::OscarError> {
    let start = Instant::now();
    loop {
        let jobs = client.list_jobs(service).await?;
        if enough(&jobs) {
            return Ok(Some(jobs));
        }
        if start.elapsed() > limit {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Unix seconds of an OSCAR (Kubernetes) time, RFC 3339 in UTC.
fn oscar_time(t: &Option<String>) -> Option<f64> {
    let t = t.as_deref()?;
    humantime::parse_rfc3339_weak(t.trim_end_matches('Z'))
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs_f64())
}

/// A unit's single-service runs on an OSCAR cluster, through its REST API: the service
/// (the container image of candidate_deployments.yaml, the component's OSCAR script) is
/// created or updated with the run's parallelism as its limits (`total_cpu`, `total_memory`:
/// parallelism x the container's), with one warm-up job at first; before each run the
/// service's jobs are deleted (and the listing waited for to be empty: Kubernetes deletes in
/// the background), then the batches are sent as asynchronous invocations (`POST /job/<service>`, the input in
/// base64, the service's token), and the run waits until OSCAR lists every job finished. The
/// rows come from OSCAR's job times (creation, start, finish; Kubernetes keeps seconds).
#[allow(clippy::too_many_arguments)]
async fn oscar_unit(
    app_dir: &Path,
    app: &Application,
    unit: &Unit,
    partitions: &BTreeMap<String, Vec<String>>,
    cluster: &crate::oscar_apply::OscarCluster,
    t: &OscarRuns<'_>,
    o: &CampaignOptions,
    rng: &mut aisprint_shared::space4aid::search::Rng,
) -> Result<(Vec<Row>, String, usize), String> {
    use crate::oscar_client::{Environment, ServiceDefinition, StorageIo};
    let service = oscar_service_of(&unit.id);
    let image = oscar_image(app, unit, &cluster.name)?;
    let component = unit.name.split("_partition").next().unwrap_or(&unit.name);
    let script = crate::toscarizer::oscar_script(&unit_design(app_dir, unit, partitions), component);
    let client = &cluster.client;
    let ctx = format!("{} on OSCAR cluster `{}`", unit.id, cluster.name);
    let what = |e: crate::oscar_client::OscarError| format!("{ctx}: {e}");
    let (mut rows, mut job_rows, mut jobs_total) = (Vec::new(), String::from(JOBS_HEADER), 0usize);
    let mut token = String::new();
    let mut applied = 0;
    for (k, r) in run_plans(&unit.parallelism, t.reps).iter().enumerate() {
        if r.parallelism != applied {
            let mut env = Environment::default();
            env.variables.insert("COMPONENT_NAME".into(), unit.name.clone());
            env.variables.insert("RESOURCE_ID".into(), unit.resource.clone());
            let io = |dir: &str| StorageIo {
                storage_provider: "minio.default".into(),
                path: format!("{service}/{dir}"),
                ..Default::default()
            };
            let mut def = ServiceDefinition {
                name: service.clone(),
                image: image.clone(),
                script: script.clone(),
                cpu: Some(format!("{}", unit.cpu)),
                memory: Some(format!("{}Mi", unit.memory.round() as u64)),
                environment: Some(env),
                input: vec![io("in")],
                output: vec![io("out")],
                ..Default::default()
            };
            let p = f64::from(r.parallelism);
            def.extra.insert("total_cpu".into(), format!("{}", p * unit.cpu).into());
            def.extra.insert("total_memory".into(), format!("{}Mi", (p * unit.memory).round() as u64).into());
            crate::oscar_apply::put_service(cluster, &def).await.map_err(|e| format!("{ctx}: {e}"))?;
            token = client.get_service(&service).await.map_err(what)?.token().unwrap_or_default().to_string();
            if token.is_empty() {
                return Err(format!("{ctx}: the service has no token"));
            }
            if applied == 0 {
                // A warm-up job, not measured (the image's pull, cold caches).
                client.invoke_async(&service, &token, t.uploads.encoded.as_bytes().to_vec()).await.map_err(what)?;
                if oscar_jobs_until(client, &service, o.run_timeout, |jobs| finished(jobs) >= 1)
                    .await
                    .map_err(what)?
                    .is_none()
                {
                    return Err(format!("{ctx}: the warm-up job did not finish in {}s", o.run_timeout.as_secs()));
                }
            }
            applied = r.parallelism;
        }
        client.delete_jobs(&service, true).await.map_err(what)?;
        if oscar_jobs_until(client, &service, Duration::from_secs(120), |jobs| jobs.is_empty())
            .await
            .map_err(what)?
            .is_none()
        {
            return Err(format!("{ctx}: the service's old jobs are still listed 120 s after their deletion"));
        }
        let run_start = Instant::now();
        for b in 0..t.uploads.batches {
            t.uploads.before_batch(b, rng).await;
            for _ in 0..t.uploads.batch_size {
                client.invoke_async(&service, &token, t.uploads.encoded.as_bytes().to_vec()).await.map_err(what)?;
            }
        }
        let label = format!("{} {} (parallelism {}) on OSCAR cluster {}", unit.id, r.name, r.parallelism, cluster.name);
        let mut shown = None;
        let left = o.run_timeout.saturating_sub(run_start.elapsed());
        let listed = oscar_jobs_until(client, &service, left, |jobs| {
            let n = finished(jobs);
            if shown != Some(n) {
                eprintln!("  {label}: {n}/{} jobs done", t.files_per_run);
                shown = Some(n);
            }
            n >= t.files_per_run
        })
        .await
        .map_err(what)?;
        let Some(listed) = listed else {
            return Err(format!(
                "{label}: {} of {} jobs done after {}s (raise --run_timeout)",
                shown.unwrap_or(0),
                t.files_per_run,
                o.run_timeout.as_secs()
            ));
        };
        let done: Vec<(String, crate::oscar_client::JobInfo)> =
            listed.into_iter().filter(|(_, j)| matches!(j.status.as_str(), "Succeeded" | "Failed")).collect();
        if let Some((name, _)) = done.iter().find(|(_, j)| j.status == "Failed") {
            let log = client.job_logs(&service, name, false).await.unwrap_or_default();
            let tail: String =
                log.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
            return Err(format!("{label}: job {name} failed; the end of its log:\n{tail}"));
        }
        let mut infos: Vec<JobInfo> = Vec::new();
        for (i, (name, j)) in done.iter().enumerate() {
            let (Some(created), Some(started), Some(finished)) =
                (oscar_time(&j.creation_time), oscar_time(&j.start_time), oscar_time(&j.finish_time))
            else {
                return Err(format!("{label}: job {name}: OSCAR gave no creation, start or finish time"));
            };
            infos.push(JobInfo {
                node: cluster.name.clone(),
                service: service.clone(),
                job: i as u64 + 1,
                file: format!("aisprint-{}-r{:04}-{name}", t.stamp, k + 1),
                created,
                started,
                finished,
                ..Default::default()
            });
        }
        infos.sort_by(|a, b| a.created.total_cmp(&b.created));
        rows.push(row_of(&infos, &r.name, f64::from(r.parallelism), f64::from(r.parallelism) * unit.cpu));
        for j in &infos {
            job_rows.push_str(&job_row(j, &r.name));
        }
        jobs_total += infos.len();
        if !t.cooldown.is_zero() {
            tokio::time::sleep(t.cooldown).await;
        }
    }
    Ok((rows, job_rows, jobs_total))
}
