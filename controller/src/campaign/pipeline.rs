//! A deployment's whole pipeline (OSCAR-P's `Full_workflow`): every unit's service on its
//! agent, each writing into the next one's input bucket (through the mesh when the next runs
//! on another agent); the input batches go to the first, and a run is done when the last has
//! handled every file. The components keep a file's name from input to output.

use std::collections::BTreeMap;
use std::time::Instant;

use aisprint_model::profile::{DeploymentPlan, Unit};
use aisprint_proto::v1::JobInfo;

use super::agents::{apply, wait_run, warm_up, RunWait};
use super::services::{add_scripts, fdl_entry, service_of, unit_files, Scripts};
use super::tables::{self, row_of, Tables};
use super::{run_plans, Campaign, CampaignError};
use crate::mesh::admin::AdminClient;
use crate::models::Row;

/// The stages of one deployment's pipeline.
struct Stages<'a> {
    units: &'a [Unit],
    /// The agent of each stage.
    nodes: Vec<String>,
    services: Vec<String>,
    files: Vec<Vec<(String, String)>>,
}

impl Stages<'_> {
    fn bucket(&self, i: usize) -> String {
        format!("campaign-wf/{}/in", self.services[i])
    }

    fn last(&self) -> usize {
        self.units.len() - 1
    }

    /// Each agent's services at parallelism `level`, in one apply per agent (it replaces
    /// its set).
    async fn apply(&self, admin: &mut AdminClient, level: usize, what: &str) -> Result<(), CampaignError> {
        let mut by_node: BTreeMap<&String, (String, Scripts)> = BTreeMap::new();
        for (i, u) in self.units.iter().enumerate() {
            let output = if i == self.last() {
                format!("minio.default: campaign-wf/{}/out", self.services[i])
            } else if self.nodes[i + 1] == self.nodes[i] {
                format!("minio.default: {}", self.bucket(i + 1))
            } else {
                format!("minio.{}: {}", self.nodes[i + 1], self.bucket(i + 1))
            };
            let e = by_node.entry(&self.nodes[i]).or_default();
            e.0.push_str(&fdl_entry(&self.services[i], u, u.parallelism[level], &self.bucket(i), &output));
            add_scripts(&mut e.1, &self.services[i], &self.files[i]);
        }
        for (node, (entries, scripts)) in by_node {
            apply(admin, node, &format!("functions:\n  oscar:\n{entries}"), scripts, what).await?;
        }
        Ok(())
    }
}

/// The pipeline's runs of deployment `dep_i`.
pub(super) async fn run(
    c: &mut Campaign<'_>,
    admin: &mut AdminClient,
    dep_i: usize,
    dep: &DeploymentPlan,
) -> Result<(), CampaignError> {
    let mut files = Vec::new();
    for u in &dep.units {
        files.push(unit_files(c.app_dir, u, &c.partitions)?);
    }
    let s = Stages {
        units: &dep.units,
        nodes: dep.units.iter().map(|u| c.opts.agents[&u.resource].clone()).collect(),
        services: dep.units.iter().map(|u| format!("wf{dep_i}-{}", service_of(&u.id))).collect(),
        files,
    };
    let runs = run_plans(&(0..dep.units[0].parallelism.len() as u32).collect::<Vec<_>>(), c.reps);
    let mut stages: Vec<Tables> = vec![Tables::default(); dep.units.len()];
    let mut whole: Vec<Row> = Vec::new();
    let mut applied_level = None;
    for (k, r) in runs.iter().enumerate() {
        let level = r.parallelism as usize;
        if applied_level != Some(level) {
            s.apply(admin, level, &dep.name).await?;
            if applied_level.is_none() {
                let warmup = format!("aisprint-{}-wf{dep_i}-warmup", c.stamp);
                let (first, last) = (&s.nodes[0], &s.services[s.last()]);
                let last_node = &s.nodes[s.last()];
                if !warm_up(admin, first, &s.bucket(0), last, last_node, &warmup, &c.uploads, c.opts.run_timeout)
                    .await?
                {
                    return Err(CampaignError::Failed(format!(
                        "{} Full_workflow: the warm-up file did not come out of the last service in {}s (do the components keep the file's name?)",
                        dep.name,
                        c.opts.run_timeout.as_secs()
                    )));
                }
            }
            applied_level = Some(level);
        }
        let prefix = format!("aisprint-{}-wf{dep_i}-r{:04}-", c.stamp, k + 1);
        let run_start = Instant::now();
        c.uploads.run(admin, &s.nodes[0], &s.bucket(0), &prefix, &mut c.rng).await?;
        let pars: Vec<u32> = dep.units.iter().map(|u| u.parallelism[level]).collect();
        let label = format!("{} Full_workflow {} (parallelism {pars:?})", dep.name, r.name);
        let left = c.opts.run_timeout.saturating_sub(run_start.elapsed());
        let wait = |i: usize| RunWait { label: &label, node: &s.nodes[i], left, run_timeout: c.opts.run_timeout };
        wait_run(admin, &s.services[s.last()], &prefix, c.files_per_run, &wait(s.last())).await?;
        // Every stage's jobs of the run, then the pipeline's: from the first stage's
        // creation to the last stage's end, per file.
        let mut per_file: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        let mut jobs = 0;
        for (i, u) in dep.units.iter().enumerate() {
            let done = wait_run(admin, &s.services[i], &prefix, c.files_per_run, &wait(i)).await?;
            let p = f64::from(u.parallelism[level]);
            stages[i].add_run(&done, &r.name, p, p * u.cpu);
            for j in &done {
                let e = per_file.entry(j.file.clone()).or_insert((f64::INFINITY, 0.0));
                e.0 = e.0.min(j.created);
                e.1 = e.1.max(j.finished);
            }
            jobs += done.len();
        }
        // Each file's way through the pipeline, as one job of it.
        let spans: Vec<JobInfo> =
            per_file.values().map(|&(created, finished)| JobInfo { created, finished, ..Default::default() }).collect();
        let cores = dep.units.iter().zip(&pars).map(|(u, p)| f64::from(*p) * u.cpu).sum();
        whole.push(row_of(&spans, &r.name, f64::from(pars[0]), cores));
        c.ran(jobs).await;
    }
    tables::write_pipeline(&c.dir, dep_i, &dep.units, &stages, &whole)?;
    c.description.push(serde_json::json!({
        "full_workflow": dep.name, "units": dep.units.iter().map(|u| u.id.clone()).collect::<Vec<_>>(),
        "agents": s.nodes, "runs": runs.len(),
    }));
    Ok(())
}
