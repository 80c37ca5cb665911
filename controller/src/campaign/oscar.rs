//! A unit's single-service runs on an OSCAR cluster, through its REST API: the service (the
//! container image of candidate_deployments.yaml, the component's OSCAR script) is created or
//! updated with the run's parallelism as its limits (`total_cpu`, `total_memory`:
//! parallelism x the container's), with one warm-up job at first; before each run the
//! service's jobs are deleted (and the listing waited for to be empty: Kubernetes deletes in
//! the background), then the batches are sent as asynchronous invocations (`POST
//! /job/<service>`, the input in base64, the service's token), and the run waits until OSCAR
//! lists every job finished. The rows come from OSCAR's job times (creation, start, finish;
//! Kubernetes keeps seconds).

use std::time::{Duration, Instant};

use aisprint_model::app::check::Application;
use aisprint_model::profile::Unit;
use aisprint_proto::v1::JobInfo;
use indexmap::IndexMap;

use super::services::{service_of, unit_design};
use super::tables::{self, Tables};
use super::{run_plans, Campaign, CampaignError, RunPlan};
use crate::clients::oscar::{self as api, Environment, OscarClient, OscarError, ServiceDefinition, StorageIo};
use crate::clients::oscar_clusters::{put_service, OscarCluster};

/// An OSCAR service name for a unit (Kubernetes names: lower case, digits, `-`).
pub fn oscar_service_of(unit: &str) -> String {
    service_of(unit).to_ascii_lowercase().replace(|c: char| !(c.is_ascii_alphanumeric() || c == '-'), "-")
}

/// The container image an OSCAR cluster runs a unit from (candidate_deployments.yaml).
pub(super) fn image(app: &Application, unit: &Unit, cluster: &str) -> Result<String, CampaignError> {
    app.deployments
        .value
        .components
        .get(&unit.key)
        .and_then(|c| c.containers.get(&unit.container))
        .and_then(|c| {
            let arch = app.resources.value.resource(&unit.resource).and_then(|(_, r)| r.arch());
            c.image.as_ref().and_then(|i| i.pick(&unit.name, arch))
        })
        .filter(|i| !i.trim().is_empty())
        .ok_or_else(|| {
            CampaignError::Failed(format!(
                "common_config/candidate_deployments.yaml: Components.{}.Containers.{}.image: missing: OSCAR cluster `{cluster}` runs the unit {} from a container image (build it with `aisprint toscarizer docker` and write its name there)",
                unit.key, unit.container, unit.id
            ))
        })
}

/// How many of an OSCAR service's jobs have finished (succeeded or failed).
fn finished(jobs: &IndexMap<String, api::JobInfo>) -> usize {
    jobs.values().filter(|j| matches!(j.status.as_str(), "Succeeded" | "Failed")).count()
}

/// Lists a service's jobs every 500 ms until `enough` says so: that listing, or `None` after
/// `limit`.
async fn jobs_until(
    client: &OscarClient,
    service: &str,
    limit: Duration,
    mut enough: impl FnMut(&IndexMap<String, api::JobInfo>) -> bool,
) -> Result<Option<IndexMap<String, api::JobInfo>>, OscarError> {
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

/// One unit's service on one cluster.
struct OscarUnit<'a> {
    unit: &'a Unit,
    cluster: &'a OscarCluster,
    service: String,
    image: String,
    script: String,
    /// `<unit> on OSCAR cluster `<name>``, for errors.
    ctx: String,
}

impl OscarUnit<'_> {
    fn err(&self, e: impl std::fmt::Display) -> CampaignError {
        CampaignError::Failed(format!("{}: {e}", self.ctx))
    }

    fn client(&self) -> &OscarClient {
        &self.cluster.client
    }

    /// The service at `parallelism`: the container's cpu and memory per job, the totals as
    /// its limits.
    fn definition(&self, parallelism: u32) -> ServiceDefinition {
        let (unit, service) = (self.unit, &self.service);
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
            image: self.image.clone(),
            script: self.script.clone(),
            cpu: Some(format!("{}", unit.cpu)),
            memory: Some(format!("{}Mi", unit.memory.round() as u64)),
            environment: Some(env),
            input: vec![io("in")],
            output: vec![io("out")],
            ..Default::default()
        };
        let p = f64::from(parallelism);
        def.extra.insert("total_cpu".into(), format!("{}", p * unit.cpu).into());
        def.extra.insert("total_memory".into(), format!("{}Mi", (p * unit.memory).round() as u64).into());
        def
    }

    /// Creates or updates the service; its token.
    async fn deploy(&self, parallelism: u32) -> Result<String, CampaignError> {
        put_service(self.cluster, &self.definition(parallelism)).await.map_err(|e| self.err(e))?;
        let token = self
            .client()
            .get_service(&self.service)
            .await
            .map_err(|e| self.err(e))?
            .token()
            .unwrap_or_default()
            .to_string();
        if token.is_empty() {
            return Err(self.err("the service has no token"));
        }
        Ok(token)
    }

    /// A warm-up job, not measured (the image's pull, cold caches).
    async fn warm_up(&self, token: &str, input: &str, limit: Duration) -> Result<(), CampaignError> {
        self.client().invoke_async(&self.service, token, input.as_bytes().to_vec()).await.map_err(|e| self.err(e))?;
        match jobs_until(self.client(), &self.service, limit, |jobs| finished(jobs) >= 1).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(self.err(format!("the warm-up job did not finish in {}s", limit.as_secs()))),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Deletes the service's jobs and waits until OSCAR lists none.
    async fn clear_jobs(&self) -> Result<(), CampaignError> {
        self.client().delete_jobs(&self.service, true).await.map_err(|e| self.err(e))?;
        match jobs_until(self.client(), &self.service, Duration::from_secs(120), |jobs| jobs.is_empty()).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(self.err("the service's old jobs are still listed 120 s after their deletion")),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Waits until every job of a run is listed finished (progress lines on the way); the
    /// finished jobs by name, an error when one failed (with the end of its log).
    async fn wait(
        &self,
        label: &str,
        want: usize,
        left: Duration,
        run_timeout: Duration,
    ) -> Result<Vec<(String, api::JobInfo)>, CampaignError> {
        let mut shown = None;
        let listed = jobs_until(self.client(), &self.service, left, |jobs| {
            let n = finished(jobs);
            if shown != Some(n) {
                eprintln!("  {label}: {n}/{want} jobs done");
                shown = Some(n);
            }
            n >= want
        })
        .await
        .map_err(|e| self.err(e))?;
        let Some(listed) = listed else {
            return Err(CampaignError::Failed(format!(
                "{label}: {} of {want} jobs done after {}s (raise --run_timeout)",
                shown.unwrap_or(0),
                run_timeout.as_secs()
            )));
        };
        let done: Vec<(String, api::JobInfo)> =
            listed.into_iter().filter(|(_, j)| matches!(j.status.as_str(), "Succeeded" | "Failed")).collect();
        if let Some((name, _)) = done.iter().find(|(_, j)| j.status == "Failed") {
            let log = self.client().job_logs(&self.service, name, false).await.unwrap_or_default();
            let tail: String =
                log.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
            return Err(CampaignError::Failed(format!("{label}: job {name} failed; the end of its log:\n{tail}")));
        }
        Ok(done)
    }

    /// OSCAR's jobs as job records (the run's file prefix, OSCAR's times), oldest first.
    fn records(
        &self,
        done: &[(String, api::JobInfo)],
        label: &str,
        prefix: &str,
    ) -> Result<Vec<JobInfo>, CampaignError> {
        let mut infos: Vec<JobInfo> = Vec::new();
        for (i, (name, j)) in done.iter().enumerate() {
            let (Some(created), Some(started), Some(finished)) =
                (oscar_time(&j.creation_time), oscar_time(&j.start_time), oscar_time(&j.finish_time))
            else {
                return Err(CampaignError::Failed(format!(
                    "{label}: job {name}: OSCAR gave no creation, start or finish time"
                )));
            };
            infos.push(JobInfo {
                node: self.cluster.name.clone(),
                service: self.service.clone(),
                job: i as u64 + 1,
                file: format!("{prefix}{name}"),
                created,
                started,
                finished,
                ..Default::default()
            });
        }
        infos.sort_by(|a, b| a.created.total_cmp(&b.created));
        Ok(infos)
    }
}

/// One run: the old jobs cleared, the batches invoked, every job waited for; its records.
async fn one_run(
    c: &mut Campaign<'_>,
    o: &OscarUnit<'_>,
    token: &str,
    k: usize,
    r: &RunPlan,
) -> Result<Vec<JobInfo>, CampaignError> {
    o.clear_jobs().await?;
    let run_start = Instant::now();
    for b in 0..c.uploads.batches {
        c.uploads.before_batch(b, &mut c.rng).await;
        for _ in 0..c.uploads.batch_size {
            o.client()
                .invoke_async(&o.service, token, c.uploads.encoded.as_bytes().to_vec())
                .await
                .map_err(|e| o.err(e))?;
        }
    }
    let label = format!("{} {} (parallelism {}) on OSCAR cluster {}", o.unit.id, r.name, r.parallelism, o.cluster.name);
    let left = c.opts.run_timeout.saturating_sub(run_start.elapsed());
    let done = o.wait(&label, c.files_per_run, left, c.opts.run_timeout).await?;
    o.records(&done, &label, &format!("aisprint-{}-r{:04}-", c.stamp, k + 1))
}

/// A unit's single-service runs on an OSCAR cluster.
pub(super) async fn unit(
    c: &mut Campaign<'_>,
    dep_i: usize,
    unit: &Unit,
    cluster: &OscarCluster,
) -> Result<(), CampaignError> {
    let component = unit.name.split("_partition").next().unwrap_or(&unit.name);
    let o = OscarUnit {
        unit,
        cluster,
        service: oscar_service_of(&unit.id),
        image: image(c.app, unit, &cluster.name)?,
        script: crate::provision::oscar_script(&unit_design(c.app_dir, unit, &c.partitions), component),
        ctx: format!("{} on OSCAR cluster `{}`", unit.id, cluster.name),
    };
    let runs = run_plans(&unit.parallelism, c.reps);
    let mut t = Tables::default();
    let (mut token, mut applied) = (String::new(), 0);
    for (k, r) in runs.iter().enumerate() {
        if r.parallelism != applied {
            token = o.deploy(r.parallelism).await?;
            if applied == 0 {
                o.warm_up(&token, &c.uploads.encoded, c.opts.run_timeout).await?;
            }
            applied = r.parallelism;
        }
        let infos = one_run(c, &o, &token, k, r).await?;
        t.add_run(&infos, &r.name, f64::from(r.parallelism), f64::from(r.parallelism) * unit.cpu);
        c.ran(infos.len()).await;
    }
    c.tables.push(tables::write_unit(&c.dir, dep_i, unit, &t)?);
    c.description.push(serde_json::json!({
        "unit": unit.id, "service": unit.name, "resource": unit.resource, "oscar_cluster": cluster.name,
        "cpu": unit.cpu, "runs": t.rows.len(), "parallelism": unit.parallelism,
    }));
    Ok(())
}
