//! The agent's part of the monitoring subsystem: the local ingestion endpoint (HTTP, and
//! InfluxDB lines over UDP and TCP), and the recorder task that owns the evaluation engine.
//!
//! Every accepted record is committed to the durable buffer (so it reaches the controller and
//! MQTT like host metrics) before the endpoint answers and before the engine sees it. The
//! recorder commits whatever has queued while the previous commit ran in one batch, so the
//! disk's sync rate does not bound the record rate. Checks run on the recorder's clock, every
//! `time_period`; their results are stored as points too (`constraint_check`, `throughput`,
//! `ams_notification`), and notifications go through the durable outbox.

mod http;
mod listeners;
pub mod metrics;
mod recorder;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aisprint_ams::engine::{Constraint, Engine, Scope};
use aisprint_ams::record::Defaults;
use aisprint_ams::setup::{Custom, Monitoring};
use aisprint_model::config::AgentConfig;
use aisprint_model::diag::Diagnostics;
use aisprint_runtime::outbox::Outbox;
use tokio::sync::mpsc;

pub use recorder::{IngestCounters, Input, Snapshot};

use crate::ctx::Ctx;
use crate::error::AgentError;

/// Everything the monitoring section names, read and checked.
#[derive(Debug, Clone)]
pub struct Setup {
    pub monitoring: Monitoring,
    pub constraints: Vec<Constraint>,
    pub throughput_component: Option<String>,
    pub custom: Custom,
    pub defaults: Defaults,
    /// Where notifications without their own endpoint go (None: only to the controller).
    pub endpoint: Option<String>,
    pub http: SocketAddr,
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub outbox: PathBuf,
}

fn pair(x: &Option<(String, String)>) -> Option<(&str, &str)> {
    x.as_ref().map(|(a, b)| (a.as_str(), b.as_str()))
}

fn read(path: &str) -> Result<String, AgentError> {
    std::fs::read_to_string(path).map_err(|source| AgentError::Read { path: PathBuf::from(path), source })
}

impl Setup {
    /// Reads the files of `cfg.monitoring` (paths already resolved by `load_config`); every
    /// problem of every file is reported together. `Ok(None)`: no monitoring section.
    pub fn load(cfg: &AgentConfig) -> Result<Option<Setup>, AgentError> {
        let Some(m) = &cfg.monitoring else { return Ok(None) };
        let texts = |p: &Option<String>| -> Result<Option<(String, String)>, AgentError> {
            p.as_ref().map(|p| Ok((p.clone(), read(p)?))).transpose()
        };
        let (ms, cs) = (texts(&m.monitoring_setup)?, texts(&m.custom_setup)?);
        let qos =
            m.qos_constraints.iter().map(|p| Ok((p.clone(), read(p)?))).collect::<Result<Vec<_>, AgentError>>()?;
        let (loaded, warnings) = aisprint_ams::load(pair(&ms), pair(&cs), &qos).map_err(AgentError::Invalid)?;
        for w in warnings.warnings() {
            tracing::warn!("{w}");
        }
        let aisprint_ams::Loaded { monitoring, custom, constraints, throughput_component } = loaded;
        let addr = |s: &str| s.parse::<SocketAddr>().map_err(|_| AgentError::Invalid(Diagnostics::new()));
        let endpoint = m.notification_endpoint.clone().or_else(|| monitoring.default_endpoint.clone());
        let outbox =
            m.outbox.clone().map(PathBuf::from).unwrap_or_else(|| Outbox::beside(Path::new(&cfg.buffer.path), "agent"));
        Ok(Some(Setup {
            monitoring,
            constraints,
            throughput_component,
            custom,
            defaults: Defaults {
                resource: cfg.resource.clone().unwrap_or_default(),
                cluster: m.cluster.clone().unwrap_or_else(|| cfg.node_id.clone()),
            },
            endpoint,
            http: addr(&m.http)?,
            udp: m.udp.as_deref().map(addr).transpose()?,
            tcp: m.tcp.as_deref().map(addr).transpose()?,
            outbox,
        }))
    }

    pub fn engine(&self) -> Engine {
        let mut e = Engine::new(Scope::Node, &self.monitoring);
        e.add_constraints(self.constraints.clone(), self.throughput_component.clone());
        e.add_alerts(&self.custom.alerts);
        e
    }
}

/// The running endpoint: where the collector sends host metrics, and the HTTP address it
/// listens on (the configured one, with the port the system gave when it said 0).
#[derive(Debug, Clone)]
pub struct Monitor {
    pub input: mpsc::Sender<Input>,
    pub http: SocketAddr,
}

/// Starts the listeners and the recorder; returns the sender the collector uses for host
/// metrics. Fails (before anything runs) when a listener cannot bind.
pub async fn start(ctx: &Ctx, setup: Setup) -> Result<Monitor, AgentError> {
    let bind_err =
        |what: &str, a: SocketAddr, e: std::io::Error| AgentError::Bind { what: what.to_string(), addr: a, source: e };
    let http =
        tokio::net::TcpListener::bind(setup.http).await.map_err(|e| bind_err("monitoring.http", setup.http, e))?;
    let udp = match setup.udp {
        Some(a) => Some(tokio::net::UdpSocket::bind(a).await.map_err(|e| bind_err("monitoring.udp", a, e))?),
        None => None,
    };
    let tcp = match setup.tcp {
        Some(a) => Some(tokio::net::TcpListener::bind(a).await.map_err(|e| bind_err("monitoring.tcp", a, e))?),
        None => None,
    };
    let local = |r: std::io::Result<SocketAddr>, a: SocketAddr| r.unwrap_or(a);
    let http_addr = local(http.local_addr(), setup.http);
    let udp_addr = udp.as_ref().zip(setup.udp).map(|(s, a)| local(s.local_addr(), a));
    let tcp_addr = tcp.as_ref().zip(setup.tcp).map(|(s, a)| local(s.local_addr(), a));
    let outbox = Outbox::open(&setup.outbox)?;
    let counters = Arc::new(IngestCounters::default());
    let (tx, rx) = mpsc::channel::<Input>(4096);
    tracing::info!(http = %http_addr, udp = ?udp_addr, tcp = ?tcp_addr, constraints = setup.constraints.len(),
        alerts = setup.monitoring.alerts.len() + setup.custom.alerts.len(), "monitoring endpoint listening");

    let cancel = &ctx.cancel;
    ctx.tasks.spawn(outbox.clone().deliver(cancel.clone()));
    let recorder = recorder::Recorder {
        engine: setup.engine(),
        endpoint: setup.endpoint.clone(),
        batches: ctx.batches.clone(),
        outbox,
        counters: counters.clone(),
        host: Vec::new(),
        custom: BTreeMap::new(),
        custom_bytes: 0,
        last_check_s: 0.0,
        deferred: Vec::new(),
    };
    ctx.tasks.spawn(recorder.run(rx, cancel.clone()));
    let app = http::AppState { tx: tx.clone(), counters: counters.clone(), defaults: setup.defaults.clone() };
    let router = http::router(app.clone());
    {
        let c = cancel.clone();
        ctx.tasks.spawn(async move {
            let r = axum::serve(http, router).with_graceful_shutdown(async move { c.cancelled().await }).await;
            if let Err(e) = r {
                tracing::error!(error = %e, "monitoring HTTP endpoint stopped");
            }
        });
    }
    if let Some(sock) = udp {
        ctx.tasks.spawn(listeners::udp_loop(sock, app.clone(), cancel.clone()));
    }
    if let Some(l) = tcp {
        ctx.tasks.spawn(listeners::tcp_loop(l, app, cancel.clone(), ctx.tasks.clone()));
    }
    Ok(Monitor { input: tx, http: http_addr })
}
