//! A unit's runs on the agent that stands for its resource: its service applied with each
//! run's parallelism (the agent replaces the one before), one warm-up job first, then per
//! run the batches uploaded and every job waited for through the controller's job records.

use std::time::{Duration, Instant};

use aisprint_model::profile::Unit;
use aisprint_proto::commands::{AgentCommand, Apply};
use aisprint_proto::v1::JobInfo;

use super::services::{add_scripts, fdl_entry, service_of, unit_files, Scripts, PROFILING};
use super::tables::{self, Tables};
use super::uploads::{put, send, Uploads};
use super::{run_plans, Campaign, CampaignError};
use crate::mesh::admin::{self, AdminClient};

/// Applies services to an agent under the profiling cluster (the node's other services stay
/// as they are) and waits for its answer.
pub(super) async fn apply(
    admin: &mut AdminClient,
    node: &str,
    fdl: &str,
    scripts: Scripts,
    what: &str,
) -> Result<(), CampaignError> {
    let cmd = AgentCommand::ServicesApply(Apply { cluster: PROFILING.into(), fdl: fdl.into(), scripts });
    let id = send(admin, node, &cmd).await?;
    match admin::answer(admin, &id, Duration::from_secs(60)).await? {
        Some(r) if !r.ok => {
            Err(CampaignError::Failed(format!("{what}: agent `{node}` refused the service: {}", r.message)))
        }
        Some(_) => Ok(()),
        None => {
            Err(CampaignError::Failed(format!("{what}: agent `{node}` did not answer the service's apply within 60 s")))
        }
    }
}

/// The jobs of a service on `node` whose files start with `prefix` (another node's jobs of
/// the same name are not this run's, whatever they say).
async fn jobs_of(
    admin: &mut AdminClient,
    node: &str,
    service: &str,
    prefix: &str,
) -> Result<Vec<JobInfo>, CampaignError> {
    Ok(admin::jobs(admin, service, 10_000)
        .await?
        .into_iter()
        .filter(|j| j.node == node && j.file.starts_with(prefix))
        .collect())
}

/// Waits until `want` jobs of `service` whose files start with `prefix` are done, telling
/// `progress` each count; the jobs, or `None` after `limit`.
async fn wait_done(
    admin: &mut AdminClient,
    node: &str,
    service: &str,
    prefix: &str,
    want: usize,
    limit: Duration,
    mut progress: impl FnMut(usize),
) -> Result<Option<Vec<JobInfo>>, CampaignError> {
    let start = Instant::now();
    loop {
        let jobs = jobs_of(admin, node, service, prefix).await?;
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
/// last of a pipeline, on `service_node`) has done it; false when it has not within `limit`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn warm_up(
    admin: &mut AdminClient,
    node: &str,
    bucket: &str,
    service: &str,
    service_node: &str,
    name: &str,
    u: &Uploads,
    limit: Duration,
) -> Result<bool, CampaignError> {
    put(admin, node, bucket, &format!("{name}{}", u.ext), &u.encoded).await?;
    Ok(wait_done(admin, service_node, service, name, 1, limit, |_| {}).await?.is_some())
}

/// A run being waited for: its label in progress lines, the agent running it.
pub(super) struct RunWait<'a> {
    pub label: &'a str,
    pub node: &'a str,
    /// What is left of the run's time.
    pub left: Duration,
    /// The whole time a run may take (for the message).
    pub run_timeout: Duration,
}

/// Waits for a run's `want` jobs of `service` (printing progress), sorted by file; an error
/// when they do not all finish in time or when any failed (a failed job measures nothing).
pub(super) async fn wait_run(
    admin: &mut AdminClient,
    service: &str,
    prefix: &str,
    want: usize,
    w: &RunWait<'_>,
) -> Result<Vec<JobInfo>, CampaignError> {
    let mut shown = None;
    let progress = |done: usize| {
        if shown != Some(done) {
            eprintln!("  {}: {done}/{want} jobs done", w.label);
            shown = Some(done);
        }
    };
    let Some(jobs) = wait_done(admin, w.node, service, prefix, want, w.left, progress).await? else {
        return Err(CampaignError::Failed(format!(
            "{}: {} of {want} jobs done after {}s (is agent `{}` running its services? raise --run_timeout)",
            w.label,
            shown.unwrap_or(0),
            w.run_timeout.as_secs(),
            w.node
        )));
    };
    let mut done: Vec<JobInfo> = jobs.into_iter().filter(|j| j.finished > 0.0).collect();
    let failed: Vec<&JobInfo> = done.iter().filter(|j| j.exit_status != 0).collect();
    if let Some(f) = failed.first() {
        return Err(CampaignError::Failed(format!(
            "{}: {} of {} jobs failed (the first: job {} on {}, exit status {}); see `aisprint oscar logs {service} {}`",
            w.label,
            failed.len(),
            done.len(),
            f.job,
            f.file,
            f.exit_status,
            f.job
        )));
    }
    done.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(done)
}

/// A unit's single-service runs on its agent.
pub(super) async fn unit(
    c: &mut Campaign<'_>,
    admin: &mut AdminClient,
    dep_i: usize,
    unit: &Unit,
) -> Result<(), CampaignError> {
    let node = c.opts.agents[&unit.resource].clone();
    let service = service_of(&unit.id);
    let files = unit_files(c.app_dir, unit, &c.partitions)?;
    let runs = run_plans(&unit.parallelism, c.reps);
    let bucket = format!("campaign/{service}");
    let input = format!("{bucket}/in");
    let mut t = Tables::default();
    let mut applied_parallelism = 0;
    for (k, r) in runs.iter().enumerate() {
        if r.parallelism != applied_parallelism {
            // The service, with this run's parallelism (the agent replaces the one before).
            let mut scripts = Scripts::new();
            add_scripts(&mut scripts, &service, &files);
            let output = format!("minio.default: {bucket}/out");
            let fdl = format!("functions:\n  oscar:\n{}", fdl_entry(&service, unit, r.parallelism, &input, &output));
            apply(admin, &node, &fdl, scripts, &unit.id).await?;
            if applied_parallelism == 0 {
                // A warm-up job, not measured: the first process of a component on a node
                // pays for cold caches (interpreter, libraries, the input's page).
                let warmup = format!("aisprint-{}-warmup", c.stamp);
                if !warm_up(admin, &node, &input, &service, &node, &warmup, &c.uploads, c.opts.run_timeout).await? {
                    return Err(CampaignError::Failed(format!(
                        "{}: the warm-up job did not finish in {}s (is agent `{node}` running its services?)",
                        unit.id,
                        c.opts.run_timeout.as_secs()
                    )));
                }
            }
            applied_parallelism = r.parallelism;
        }
        let prefix = format!("aisprint-{}-r{:04}-", c.stamp, k + 1);
        let run_start = Instant::now();
        c.uploads.run(admin, &node, &input, &prefix, &mut c.rng).await?;
        // Wait for every job of the run (the run's time limit counts the uploads too).
        let label = format!("{} {} (parallelism {})", unit.id, r.name, r.parallelism);
        let left = c.opts.run_timeout.saturating_sub(run_start.elapsed());
        let w = RunWait { label: &label, node: &node, left, run_timeout: c.opts.run_timeout };
        let done = wait_run(admin, &service, &prefix, c.files_per_run, &w).await?;
        t.add_run(&done, &r.name, f64::from(r.parallelism), f64::from(r.parallelism) * unit.cpu);
        c.ran(done.len()).await;
    }
    c.tables.push(tables::write_unit(&c.dir, dep_i, unit, &t)?);
    c.description.push(serde_json::json!({
        "unit": unit.id, "service": unit.name, "resource": unit.resource, "agent": node,
        "cpu": unit.cpu, "runs": runs.len(), "parallelism": unit.parallelism,
    }));
    Ok(())
}
