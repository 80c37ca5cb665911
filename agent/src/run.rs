//! `aisprint-agent run`: the composition root. It opens the buffer, starts every task with
//! its part of the configuration, and returns once the cancellation token fired and every
//! task (those started later too) has ended. Only `main` calls it; it is the only module that
//! knows them all.

use std::path::Path;
use std::sync::Arc;

use aisprint_runtime::buffer::Buffer;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::batch::BatchWriter;
use crate::config::Loaded;
use crate::ctx::Ctx;
use crate::error::AgentError;
use crate::sinks::{grpc, mqtt};
use crate::{clock, collect, monitoring};
#[cfg(feature = "services")]
use {
    crate::services,
    crate::ship::{self, s3},
    aisprint_model::config::AgentConfig,
};

/// Runs until `cancel` fires.
pub async fn run(cfg: Loaded, cancel: CancellationToken) -> Result<(), AgentError> {
    let a = &cfg.agent;
    let mut sinks = vec![grpc::GRPC_SINK];
    if a.mqtt.is_some() {
        sinks.push(mqtt::MQTT_SINK);
    }
    let buffer =
        Buffer::open(Path::new(&a.buffer.path), a.buffer.cache_bytes, &sinks, a.buffer.max_bytes, a.buffer.when_full)?;
    let boot = clock::boot_id();
    tracing::info!(node = %a.node_id, %boot, buffer = %a.buffer.path, "agent starting");
    let ctx = Ctx {
        batches: BatchWriter::new(Arc::new(buffer), &a.node_id, &boot),
        cancel: cancel.clone(),
        tasks: TaskTracker::new(),
    };
    let started = start(&ctx, cfg).await;
    if started.is_err() {
        cancel.cancel();
    }
    ctx.tasks.close();
    // Every task stops at its next await point once cancelled; one stuck in a call that
    // ignores cancellation is left behind after the grace period.
    tokio::select! {
        _ = ctx.tasks.wait() => {}
        _ = cancel.cancelled() => {
            if tokio::time::timeout(GRACE, ctx.tasks.wait()).await.is_err() {
                tracing::warn!(tasks = ctx.tasks.len(), "tasks still running {GRACE:?} after the stop: left behind");
            }
        }
    }
    tracing::info!("agent stopped");
    started
}

/// Starts the services and their shippers; where the controller's commands go.
#[cfg(feature = "services")]
async fn start_services(
    ctx: &Ctx,
    a: &AgentConfig,
    prepared: Vec<services::Prepared>,
    url: Option<String>,
) -> Result<Option<grpc::Commands>, AgentError> {
    let Some(sc) = &a.services else { return Ok(None) };
    let state = services::state_dir(a);
    let outlets = services::Outlets {
        mesh: ship::Folder::new(state.join("outbox")),
        s3: ship::Folder::new(state.join("outbox-s3")),
        stores: s3::open(&sc.s3),
    };
    let (mesh, s3, stores) = (outlets.mesh.clone(), outlets.s3.clone(), outlets.stores.clone());
    let resource = a.resource.clone().unwrap_or_default();
    let commands = services::start(ctx, sc, state, prepared, outlets, resource, url).await?;
    // The shippers once the services could start (the outboxes are theirs).
    ctx.tasks.spawn(ship::run(ship::Dest::Mesh(Box::new(a.clone())), mesh, ctx.cancel.clone()));
    if let Some(st) = stores {
        ctx.tasks.spawn(ship::run(ship::Dest::S3(st), s3, ctx.cancel.clone()));
    }
    Ok(Some(commands))
}

/// How long the agent waits for its tasks once stopped.
const GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Starts the tasks: monitoring (its listeners bind first), services and their shippers,
/// collection, the sinks.
async fn start(ctx: &Ctx, cfg: Loaded) -> Result<(), AgentError> {
    let Loaded {
        agent: a,
        monitoring: setup,
        mqtt: mqtt_ready,
        #[cfg(feature = "services")]
            services: found,
    } = cfg;
    #[cfg(feature = "services")]
    services::fdl::set_aside(&services::state_dir(&a), &found.broken);
    let monitor = match setup {
        Some(setup) => Some(monitoring::start(ctx, setup).await?),
        None => None,
    };
    #[cfg(feature = "services")]
    let commands =
        start_services(ctx, &a, found.services, monitor.as_ref().map(|m| format!("http://{}", m.http))).await?;
    #[cfg(feature = "services")]
    let declared = found.declared;
    #[cfg(not(feature = "services"))]
    let declared = grpc::Declared::default();
    // Built without services: agent.yaml's `services` was refused when it was read.
    #[cfg(not(feature = "services"))]
    let commands = None;
    ctx.tasks.spawn(collect::run(ctx.clone(), a.collection.clone(), monitor.map(|m| m.input)));
    ctx.tasks.spawn(grpc::run(ctx.clone(), a.clone(), commands, declared));
    if let (Some(m), Some(ready)) = (a.mqtt.clone(), mqtt_ready) {
        ctx.tasks.spawn(mqtt::run(ctx.clone(), a.clone(), m, ready));
    }
    Ok(())
}
