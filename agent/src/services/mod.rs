//! OSCAR-style services run by the agent itself: each service's script runs once per file
//! that arrives in its input bucket (a folder), at most `max_parallelism` at a time, with the
//! environment OSCAR gives (`INPUT_FILE_PATH`, `TMP_OUTPUT_DIR`) and the one the annotations
//! package reads (job start, component, agent endpoint); what the script writes to
//! `TMP_OUTPUT_DIR` is moved to the output bucket(s).
//!
//! A file is a job once it is committed to the job store ([`jobs`]): it runs even if the agent
//! restarts before or while it runs (a job interrupted while running runs again). A file name
//! is taken once per service. Each job's timings and exit status go into the buffer as an
//! `oscar_job` point, and its output and error streams into a log file.
//!
//! [`fdl`] reads the services; the [`manager`] owns the file watcher (inotify through
//! `notify`: complete files, closed after writing or renamed into the folder) and the
//! controller's commands; one [`runner`] per service owns its queue and runs its jobs
//! ([`process`] builds each job's command, [`limits`] its control group, [`outputs`] routes
//! what it wrote).

pub mod fdl;
pub mod jobs;
pub mod limits;
mod manager;
pub mod outputs;
pub mod process;
mod runner;

use std::path::PathBuf;
use std::sync::Arc;

use aisprint_model::config::AgentServices;
use aisprint_proto::commands::AgentCommand;
use tokio::sync::mpsc;

pub use fdl::{load, remote_cluster, state_dir, Output, Prepared};
pub use jobs::{Job, JobState, Jobs};

use crate::batch::BatchWriter;
use crate::ctx::Ctx;
use crate::error::AgentError;
use crate::ship;
use crate::ship::s3::Stores;

/// What every service's runner uses.
struct Shared {
    jobs: Arc<Jobs>,
    state: PathBuf,
    resource: String,
    /// The agent's monitoring endpoint, for the annotations package in the jobs.
    agent_url: Option<String>,
    batches: BatchWriter,
    /// Job limits (control groups) on this node.
    limiter: limits::Limiter,
    /// The container runtime that answers here, for services that name an image.
    runtime: Option<String>,
    /// Outputs for other nodes: `<outbox>/<cluster>/<bucket>/<folder>/<file>`.
    mesh: ship::Folder,
    /// Outputs for S3 stores: `<outbox-s3>/<provider>/<bucket>/<folder>/<file>`.
    s3: ship::Folder,
    /// The configured S3 stores (`services.s3`).
    stores: Option<Arc<Stores>>,
}

/// Where the services' outputs for elsewhere wait, and the stores.
#[derive(Debug)]
pub struct Outlets {
    pub mesh: ship::Folder,
    pub s3: ship::Folder,
    pub stores: Option<Arc<Stores>>,
}

/// Starts the services (one task each) and the manager, which routes arrivals and does what
/// the controller sends; fails before anything runs when a folder cannot be made or watched.
/// Returns where to send the controller's commands.
pub async fn start(
    ctx: &Ctx,
    sc: &AgentServices,
    state: PathBuf,
    services: Vec<Prepared>,
    outlets: Outlets,
    resource: String,
    agent_url: Option<String>,
) -> Result<mpsc::Sender<(String, AgentCommand)>, AgentError> {
    if services.is_empty() {
        tracing::info!(cluster = %sc.cluster, "no service yet: waiting for the controller's (aisprint oscar apply)");
    }
    let jobs =
        Jobs::open(&state.join("jobs.redb")).map_err(|e| AgentError::folder(&state, std::io::Error::other(e)))?;
    let (ftx, frx) = mpsc::unbounded_channel::<PathBuf>();
    let watcher = notify::recommended_watcher(move |r: notify::Result<notify::Event>| {
        use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
        if let Ok(ev) = r {
            let complete = matches!(
                ev.kind,
                EventKind::Access(AccessKind::Close(AccessMode::Write))
                    | EventKind::Modify(ModifyKind::Name(RenameMode::To))
            );
            if complete {
                for p in ev.paths {
                    let _ = ftx.send(p);
                }
            }
        }
    })
    .map_err(|e| AgentError::folder(&state, std::io::Error::other(e.to_string())))?;
    let limiter = limits::Limiter::detect(ctx.node());
    match &limiter {
        limits::Limiter::Off(why) => {
            tracing::warn!(reason = %why, "jobs run without cpu and memory limits (no usable control groups)")
        }
        l => tracing::info!(limits = %l.describe(), "job limits from the services' cpu and memory"),
    }
    let shared = Arc::new(Shared {
        jobs: Arc::new(jobs),
        state,
        resource,
        agent_url,
        batches: ctx.batches.clone(),
        limiter,
        runtime: limits::container_runtime(),
        mesh: outlets.mesh,
        s3: outlets.s3,
        stores: outlets.stores,
    });
    let mut m =
        manager::Manager::new(watcher, PathBuf::from(&sc.buckets), ctx.cancel.clone(), ctx.tasks.clone(), shared);
    for s in services {
        m.add(s)?;
    }
    let (tx, crx) = mpsc::channel::<(String, AgentCommand)>(64);
    ctx.tasks.spawn(m.run(frx, crx));
    Ok(tx)
}
