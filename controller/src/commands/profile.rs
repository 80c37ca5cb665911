//! `aisprint profile`: the campaign's plan, and the campaign on agents or OSCAR clusters.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aisprint_model::profile::Plan;

use crate::appdir;
use crate::campaign::{self, CampaignOptions};
use crate::cli::ProfileArgs;
use crate::clients::oscar_clusters;
use crate::error::{CmdError, Outcome};
use crate::mesh::admin;

pub(super) fn run(a: ProfileArgs) -> Result<Outcome, CmdError> {
    let dir = &a.application_dir;
    let loaded = appdir::load_for(dir, appdir::Uses::PROFILE).map_err(CmdError::invalid)?;
    println!("Starting profiling...");
    let plan = aisprint_model::profile::plan(&loaded.app).map_err(CmdError::invalid)?;
    print!("{}", plan.render());
    let problems: usize = plan.deployments.iter().map(|d| d.problems.len()).sum();
    if problems > 0 {
        return Err(CmdError::failed(format!(
            "{problems} run level(s) need more nodes than their resource has (see above): lower the parallelism in oscarp/run_parameters.yaml or raise totalNodes"
        )));
    }
    if a.dry_run {
        println!(
            "\nDry run: {} deployment(s), {} run(s) each; nothing deployed.",
            plan.deployments.len(),
            plan.runs_per_deployment()
        );
        return Ok(Outcome::Done);
    }
    if a.config.is_none() && a.oscar.is_empty() {
        return Err(CmdError::Usage("running the campaign needs the controller's config (--config) and the agent of each resource (--agent RESOURCE=NODE), or OSCAR clusters (--oscar RESOURCE=CLUSTER --oscar_auth auth.dat); --dry_run only prints the plan".into()));
    }
    let opts = CampaignOptions {
        agents: a.agents.iter().cloned().collect(),
        oscar: oscar_stand_ins(&a.oscar, a.oscar_auth.as_deref())?,
        run_timeout: Duration::from_secs(a.run_timeout),
        seed: 1,
    };
    let summary = super::block_on(campaign(dir, &loaded.app, &plan, a.config.as_deref(), &opts))?;
    if summary.train_models {
        println!("Training the performance models (run.train_models)...");
        return super::models::train(dir, &loaded.app, None);
    }
    Ok(Outcome::Done)
}

/// The OSCAR clusters of `--oscar RESOURCE=CLUSTER`, from `--oscar_auth`.
fn oscar_stand_ins(
    pairs: &[(String, String)],
    auth: Option<&Path>,
) -> Result<BTreeMap<String, Arc<oscar_clusters::OscarCluster>>, CmdError> {
    let mut out = BTreeMap::new();
    if pairs.is_empty() {
        return Ok(out);
    }
    let Some(auth) = auth else {
        return Err(CmdError::Usage(
            "--oscar needs --oscar_auth (the auth.dat with the clusters' `type = OSCAR` lines)".into(),
        ));
    };
    let all: BTreeMap<String, Arc<_>> =
        oscar_clusters::clusters_in(auth)?.into_iter().map(|c| (c.name.clone(), Arc::new(c))).collect();
    for (res, id) in pairs {
        let c = all.get(id).ok_or_else(|| {
            CmdError::failed(format!("--oscar {res}={id}: {} has no `id = {id}; type = OSCAR` line", auth.display()))
        })?;
        out.insert(res.clone(), c.clone());
    }
    Ok(out)
}

async fn campaign(
    dir: &Path,
    app: &aisprint_model::app::check::Application,
    plan: &Plan,
    config: Option<&Path>,
    opts: &CampaignOptions,
) -> Result<campaign::CampaignSummary, CmdError> {
    let mut client = match config {
        Some(c) => Some(admin::connect_with(c).await?),
        None => None,
    };
    let s = campaign::run(dir, app, plan, client.as_mut(), opts).await?;
    println!(
        "Campaign done: {} run(s), {} job(s) in {:.1} s; results in {}",
        s.runs,
        s.jobs,
        s.wall.as_secs_f64(),
        s.dir.display()
    );
    Ok(s)
}
