//! `aisprint oscar apply|jobs|logs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aisprint_model::oscar::{self, Fdl, Functions, Service};
use aisprint_proto::commands::{AgentCommand, Apply};
use aisprint_proto::v1::JobInfo;

use crate::cli::OscarCommand;
use crate::clients::oscar_clusters::{self, OscarCluster};
use crate::error::{report, CmdError, Outcome};
use crate::jobs::phases;
use crate::mesh::admin::{self, AdminClient};

pub(super) fn run(cmd: OscarCommand) -> Result<Outcome, CmdError> {
    match cmd {
        OscarCommand::Apply { fdl, config, oscar_auth } => super::block_on(apply(fdl, config, oscar_auth)),
        OscarCommand::Jobs { config, service, limit } => {
            super::block_on(jobs(config, service.unwrap_or_default(), limit, None))
        }
        OscarCommand::Logs { service, job, config, limit } => {
            super::block_on(jobs(config, service, if job.is_some() { 10_000 } else { limit }, Some(job)))
        }
    }
}

/// The FDL, read and checked (warnings printed).
fn read_fdl(fdl: &Path) -> Result<Fdl, CmdError> {
    let file = fdl.display().to_string();
    let text = std::fs::read_to_string(fdl).map_err(|e| CmdError::failed(format!("cannot read {file}: {e}")))?;
    let (doc, w) = aisprint_model::yaml::parse::<Fdl>(&file, &text).map_err(CmdError::invalid)?;
    let d = oscar::validate(&doc);
    report(&w);
    if d.has_errors() {
        return Err(CmdError::invalid(d));
    }
    Ok(doc.value)
}

/// A cluster that auth.dat names, and the services it gets with their scripts.
type RestApply<'a> = (&'a OscarCluster, Vec<(Service, String)>);

/// The services (with their scripts) of each cluster that auth.dat names.
fn rest_services<'a>(
    fdl: &Fdl,
    clusters: &'a [OscarCluster],
    file: &str,
    base: &Path,
) -> Result<Vec<RestApply<'a>>, CmdError> {
    let mut rest = Vec::new();
    for c in clusters {
        let mut services = Vec::new();
        for svc in fdl.services_of(&c.name) {
            let script = oscar_clusters::script_of(svc, base).map_err(|e| CmdError::failed(format!("{file}: {e}")))?;
            services.push((svc.clone(), script));
        }
        if !services.is_empty() {
            rest.push((c, services));
        }
    }
    Ok(rest)
}

/// One `services.apply` per agent cluster: its part of the FDL and the scripts it names (read
/// beside the FDL).
fn agent_commands(
    fdl: &Fdl,
    clusters: &[&str],
    file: &str,
    base: &Path,
) -> Result<Vec<(String, usize, AgentCommand)>, CmdError> {
    let mut out = Vec::new();
    for cluster in clusters {
        let entries: Vec<_> = fdl.functions.oscar.iter().filter(|m| m.contains_key(*cluster)).cloned().collect();
        let mut scripts = BTreeMap::new();
        for svc in fdl.services_of(cluster) {
            if !oscar::valid_path(&svc.script) {
                return Err(CmdError::failed(format!(
                    "{file}: script `{}`: expected a path relative to the FDL, without `..`",
                    svc.script
                )));
            }
            let p = base.join(&svc.script);
            let content = std::fs::read_to_string(&p)
                .map_err(|e| CmdError::failed(format!("{file}: script {}: {e}", p.display())))?;
            scripts.insert(svc.script.clone(), content);
        }
        // Without `storage_providers`: the agents take their stores from agent.yaml, and the
        // FDL's keys have no business on every node.
        let entries = entries
            .into_iter()
            .map(|m| {
                m.into_iter()
                    .map(|(c, mut svc)| {
                        svc.storage_providers = None;
                        (c, svc)
                    })
                    .collect()
            })
            .collect();
        let one = Fdl { functions: Functions { oscar: entries }, storage_providers: None };
        let fdl_text = aisprint_model::yaml::to_string(&one).map_err(|e| CmdError::failed(e.to_string()))?;
        let n = scripts.len();
        let cmd = AgentCommand::ServicesApply(Apply { cluster: cluster.to_string(), fdl: fdl_text, scripts });
        out.push((cluster.to_string(), n, cmd));
    }
    Ok(out)
}

async fn apply(fdl: PathBuf, config: Option<PathBuf>, oscar_auth: Option<PathBuf>) -> Result<Outcome, CmdError> {
    let file = fdl.display().to_string();
    let doc = read_fdl(&fdl)?;
    let base = fdl.parent().unwrap_or(Path::new("."));
    let rest_clusters = match &oscar_auth {
        Some(p) => oscar_clusters::clusters_in(p)?,
        None => Vec::new(),
    };
    // Everything is read before anything is sent.
    let rest = rest_services(&doc, &rest_clusters, &file, base)?;
    let agent_clusters: Vec<&str> =
        doc.clusters().into_iter().filter(|c| !rest_clusters.iter().any(|r| r.name == *c)).collect();
    if !agent_clusters.is_empty() && config.is_none() {
        return Err(CmdError::failed(format!(
            "clusters {} are not in --oscar_auth: they are agents' node ids, and sending to agents needs --config (the controller's)",
            agent_clusters.join(", ")
        )));
    }
    let commands = agent_commands(&doc, &agent_clusters, &file, base)?;
    for (c, services) in rest {
        for line in oscar_clusters::apply(c, &services).await? {
            println!("{line}");
        }
    }
    match config {
        Some(config) if !commands.is_empty() => to_agents(&config, commands).await,
        _ => Ok(Outcome::Done),
    }
}

/// Sends each agent its services and prints its answer: applied, or refused with the reason.
async fn to_agents(config: &Path, commands: Vec<(String, usize, AgentCommand)>) -> Result<Outcome, CmdError> {
    let mut client = admin::connect_with(config).await?;
    let mut missing = Vec::new();
    let mut sent = Vec::new();
    for (cluster, n, cmd) in commands {
        match admin::send(&mut client, &cluster, &cmd).await? {
            Some(id) => {
                println!("{cluster}: {n} service(s) sent ({id})");
                sent.push((cluster, id));
            }
            None => {
                println!("{cluster}: no agent of that node id is connected: not sent");
                missing.push(cluster);
            }
        }
    }
    let refused = answers(&mut client, sent).await?;
    if !refused.is_empty() {
        return Err(CmdError::failed(format!("refused by {}", refused.join(", "))));
    }
    if !missing.is_empty() {
        return Err(CmdError::failed(format!(
            "not sent to {} (start their agents, then apply again)",
            missing.join(", ")
        )));
    }
    Ok(Outcome::Done)
}

/// Waits for each agent's answer (15 s each); the clusters that refused.
async fn answers(client: &mut AdminClient, sent: Vec<(String, String)>) -> Result<Vec<String>, CmdError> {
    let mut refused = Vec::new();
    for (cluster, id) in sent {
        match admin::answer(client, &id, Duration::from_secs(15)).await.map_err(|e| CmdError::failed(e.to_string()))? {
            Some(r) if r.ok => println!("{cluster}: {}", super::shown(&r.message, false)),
            Some(r) => {
                println!("{cluster}: refused: {}", super::shown(&r.message, true));
                refused.push(cluster);
            }
            None => println!("{cluster}: no answer from the agent within 15 s (its log says what it did)"),
        }
    }
    Ok(refused)
}

/// `oscar jobs` (logs: None) and `oscar logs` (logs: Some(job filter)).
async fn jobs(config: PathBuf, service: String, limit: u32, logs: Option<Option<u64>>) -> Result<Outcome, CmdError> {
    let mut client = admin::connect_with(&config).await?;
    let all = admin::jobs(&mut client, &service, limit).await?;
    let Some(which) = logs else {
        jobs_table(&all);
        return Ok(Outcome::Done);
    };
    let jobs: Vec<&JobInfo> = all.iter().rev().filter(|j| which.is_none_or(|n| j.job == n)).collect();
    if jobs.is_empty() {
        let one = which.map(|n| format!(" {n}")).unwrap_or_default();
        return Err(CmdError::failed(format!("no job{one} of service `{service}` known to the controller")));
    }
    for j in jobs {
        println!(
            "== {} job {} ({}, on {}, exit status {})",
            super::shown(&j.service, false),
            j.job,
            super::shown(&j.file, false),
            j.node,
            j.exit_status
        );
        let p = phases(j);
        let s = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3} s"));
        println!(
            "   wait {:.3} s, process creation {}, overhead {}, function {}, write-back {}, whole {:.3} s",
            p.wait,
            s(p.process_creation),
            s(p.overhead),
            s(p.compute),
            s(p.write_back),
            j.finished - j.created
        );
        print!("{}", super::shown(&j.log_tail, true));
        if !j.log_tail.ends_with('\n') && !j.log_tail.is_empty() {
            println!();
        }
    }
    Ok(Outcome::Done)
}

fn jobs_table(jobs: &[JobInfo]) {
    println!(
        "{:<12} {:<24} {:>6} {:<28} {:>9} {:>10} {:>10} {:>5} STATUS",
        "NODE", "SERVICE", "JOB", "FILE", "WAIT (s)", "TIME (s)", "FUNC (s)", "TRIES"
    );
    for j in jobs.iter().rev() {
        let func = phases(j).compute.map_or("-".to_string(), |c| format!("{c:.3}"));
        println!(
            "{:<12} {:<24} {:>6} {:<28} {:>9.3} {:>10.3} {:>10} {:>5} {}",
            j.node,
            super::shown(&j.service, false),
            j.job,
            super::shown(&j.file, false),
            j.started - j.created,
            j.finished - j.started,
            func,
            j.attempts,
            if j.exit_status == 0 { "succeeded".to_string() } else { format!("failed ({})", j.exit_status) }
        );
    }
}
