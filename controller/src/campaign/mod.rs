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

mod agents;
mod oscar;
mod pipeline;
mod services;
mod tables;
mod uploads;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aisprint_model::app::check::Application;
use aisprint_model::app::oscarp::CampaignSettings;
use aisprint_model::diag::Diagnostics;
use aisprint_model::profile::{Plan, Unit};
use aisprint_space4aid::search::Rng;

pub use oscar::oscar_service_of;
pub use services::{service_of, PROFILING};
pub use tables::JOBS_HEADER;

use crate::clients::oscar_clusters::OscarCluster;
use crate::mesh::admin::{AdminClient, AdminError};
use uploads::Uploads;

/// How the campaign reaches the agents.
#[derive(Debug, Clone)]
pub struct CampaignOptions {
    /// Resource name -> the node id of the agent that stands for it.
    pub agents: BTreeMap<String, String>,
    /// Resource name -> the OSCAR cluster that stands for it (its REST API).
    pub oscar: BTreeMap<String, Arc<OscarCluster>>,
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
    /// Whether the models are to be trained now (`run.train_models`).
    pub train_models: bool,
}

/// Why a campaign stopped.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// `run_parameters.yaml` lacks what a campaign needs.
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A run that cannot go on (what, where, and what to do about it).
    #[error("{0}")]
    Failed(String),
}

/// One run of one unit.
#[derive(Debug, Clone)]
struct RunPlan {
    name: String,
    parallelism: u32,
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

/// What a campaign's runs share, and what they add up to.
struct Campaign<'a> {
    app_dir: &'a Path,
    app: &'a Application,
    opts: &'a CampaignOptions,
    /// `oscarp/<campaign_dir>`.
    dir: PathBuf,
    uploads: Uploads,
    files_per_run: usize,
    reps: u32,
    cooldown: Duration,
    /// Upload names unique to this campaign: the agent runs a file name once per service.
    stamp: u128,
    /// Component -> its partitionings (component_partitions.yaml).
    partitions: BTreeMap<String, Vec<String>>,
    rng: Rng,
    runs: usize,
    jobs: usize,
    tables: Vec<PathBuf>,
    description: Vec<serde_json::Value>,
}

impl Campaign<'_> {
    /// A run is done: counted, then the cooldown.
    async fn ran(&mut self, jobs: usize) {
        self.runs += 1;
        self.jobs += jobs;
        if !self.cooldown.is_zero() {
            tokio::time::sleep(self.cooldown).await;
        }
    }
}

/// Files per run, checked: at least one, and no more than the controller's job records can
/// follow for the deepest pipeline.
fn files_per_run(s: &CampaignSettings, plan: &Plan) -> Result<usize, CampaignError> {
    let files = s.files_per_run();
    let stages = plan.deployments.iter().map(|d| d.units.len()).max().unwrap_or(1);
    let most = crate::mesh::qos::JOBS_KEPT / (stages + 1);
    if files > most as u64 {
        return Err(CampaignError::Failed(format!(
            "asynchronous: batch_size x number_of_batches = {files} files per run: at most {most} (the controller keeps the latest {} job records)",
            crate::mesh::qos::JOBS_KEPT
        )));
    }
    if files == 0 {
        return Err(CampaignError::Failed(
            "asynchronous: batch_size x number_of_batches is 0: a run would upload nothing".into(),
        ));
    }
    Ok(files as usize)
}

/// The units, each once, with the first deployment that has it.
fn units_of(plan: &Plan) -> Vec<(usize, &Unit)> {
    let mut units: Vec<(usize, &Unit)> = Vec::new();
    for (i, d) in plan.deployments.iter().enumerate() {
        for u in &d.units {
            if !units.iter().any(|(_, x)| x.id == u.id) {
                units.push((i, u));
            }
        }
    }
    units
}

/// Every unit has an agent or an OSCAR cluster standing for its resource, each OSCAR unit an
/// image, and agents a controller to reach them through.
fn check_stand_ins(
    app: &Application,
    units: &[(usize, &Unit)],
    o: &CampaignOptions,
    admin: bool,
) -> Result<(), CampaignError> {
    let mut missing: Vec<&str> = units
        .iter()
        .map(|(_, u)| u.resource.as_str())
        .filter(|r| !o.agents.contains_key(*r) && !o.oscar.contains_key(*r))
        .collect();
    if !missing.is_empty() {
        missing.sort_unstable();
        missing.dedup();
        return Err(CampaignError::Failed(format!(
            "no agent stands for resource(s) {}: give --agent <resource>=<node id> (or --oscar <resource>=<cluster>) for each",
            missing.join(", ")
        )));
    }
    for (_, u) in units {
        if let Some(c) = o.oscar.get(&u.resource) {
            oscar::image(app, u, &c.name)?;
        }
    }
    if !admin && units.iter().any(|(_, u)| !o.oscar.contains_key(&u.resource)) {
        return Err(no_admin());
    }
    Ok(())
}

fn no_admin() -> CampaignError {
    CampaignError::Failed("units on agents need the controller's config (--config)".into())
}

/// The campaign's folder, with the run parameters and the deployments' summary in it.
fn prepare_dir(app_dir: &Path, app: &Application, s: &CampaignSettings, plan: &Plan) -> Result<PathBuf, CampaignError> {
    let dir = app_dir.join("oscarp").join(&s.campaign_dir);
    tables::folder(&dir)?;
    if let Some(rp) = &app.run_parameters {
        let text = serde_yaml::to_string(&rp.value).map_err(|e| CampaignError::Failed(e.to_string()))?;
        tables::write(&dir.join("run_parameters.yaml"), text)?;
    }
    let summary: String = plan
        .deployments
        .iter()
        .map(|d| {
            format!("{}: [{}]\n", d.name, d.units.iter().map(|u| format!("'{}'", u.id)).collect::<Vec<_>>().join(", "))
        })
        .collect();
    tables::write(&dir.join("deployments_summary.txt"), summary)?;
    Ok(dir)
}

/// Runs the campaign of `plan`: every unit alone, then each deployment's pipeline; returns
/// what it wrote.
pub async fn run(
    app_dir: &Path,
    app: &Application,
    plan: &Plan,
    mut admin: Option<&mut AdminClient>,
    o: &CampaignOptions,
) -> Result<CampaignSummary, CampaignError> {
    let start = Instant::now();
    let rp = app
        .run_parameters
        .as_ref()
        .ok_or_else(|| CampaignError::Failed("oscarp/run_parameters.yaml: missing".into()))?;
    let s = CampaignSettings::from_doc(rp).map_err(CampaignError::Invalid)?;
    let (input_path, uploads) = Uploads::read(app_dir, &s)?;
    let files_per_run = files_per_run(&s, plan)?;
    let units = units_of(plan);
    check_stand_ins(app, &units, o, admin.is_some())?;
    let mut c = Campaign {
        app_dir,
        app,
        opts: o,
        dir: prepare_dir(app_dir, app, &s, plan)?,
        uploads,
        files_per_run,
        reps: s.repetitions,
        cooldown: Duration::from_secs_f64(s.cooldown_s),
        stamp: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() % 100_000_000),
        partitions: app
            .partitions
            .as_ref()
            .map(|p| p.value.components.iter().map(|(k, v)| (k.clone(), v.partitions.clone())).collect())
            .unwrap_or_default(),
        rng: Rng::new(o.seed),
        runs: 0,
        jobs: 0,
        tables: Vec::new(),
        description: Vec::new(),
    };
    for (dep_i, unit) in units.iter().filter(|_| s.single_services) {
        match o.oscar.get(&unit.resource) {
            Some(cluster) => oscar::unit(&mut c, *dep_i, unit, cluster).await?,
            None => agents::unit(&mut c, admin.as_deref_mut().ok_or_else(no_admin)?, *dep_i, unit).await?,
        }
    }
    for (dep_i, dep) in plan.deployments.iter().enumerate() {
        if dep.units.len() < 2 && s.single_services {
            continue; // one unit: its single-service runs are the whole pipeline
        }
        if let Some(u) = dep.units.iter().find(|u| o.oscar.contains_key(&u.resource)) {
            eprintln!(
                "note: {} Full_workflow not run: {} is on an OSCAR cluster (whole-pipeline runs chain agents' buckets)",
                dep.name, u.id
            );
            c.description.push(
                serde_json::json!({"full_workflow": dep.name, "skipped": format!("{} on an OSCAR cluster", u.id)}),
            );
            continue;
        }
        pipeline::run(&mut c, admin.as_deref_mut().ok_or_else(no_admin)?, dep_i, dep).await?;
    }
    let wall = start.elapsed();
    let desc = serde_json::json!({
        "input": input_path.display().to_string(),
        "files_per_run": files_per_run,
        "repetitions": s.repetitions,
        "units": c.description,
        "runs": c.runs,
        "jobs": c.jobs,
        "wall_time_s": wall.as_secs_f64(),
    });
    let text = serde_yaml::to_string(&desc).map_err(|e| CampaignError::Failed(e.to_string()))?;
    tables::write(&c.dir.join("campaign.yaml"), text)?;
    Ok(CampaignSummary { dir: c.dir, runs: c.runs, jobs: c.jobs, wall, tables: c.tables, train_models: s.train_models })
}
