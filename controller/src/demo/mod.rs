//! `aisprint demo`: the whole loop on one machine, no root, no system package. The bundled
//! burst example is designed and placed by SPACE4AI-D; a controller (embedded MQTT broker,
//! mutual TLS, SPACE4AI-R on) and three agents in their own state folders, standing for an
//! edge node, an edge server and a cloud VM, run it; frames are fed at 1/s, then 2.5/s (beyond
//! what the edge server sustains), then 0.5/s, while a live view shows the agents, the
//! placement, classify's response time against its threshold and every change SPACE4AI-R
//! makes. At the end every frame is counted: sent, out, duplicated, lost.

pub mod setup;
pub mod view;

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aisprint_proto::commands::{AgentCommand, Put};
use aisprint_proto::v1::{ListAgentsRequest, RuntimeRequest};
use aisprint_runtime::clock::now_s;
use tokio_util::sync::CancellationToken;

use crate::mesh::admin::{self, AdminClient};
pub use setup::DemoError;
use setup::{Child, Ports, NODES};
use view::{Report, Snapshot};

/// What `aisprint demo` was asked.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub duration_s: f64,
    /// Where to work; a temporary folder (removed at the end) when not given.
    pub dir: Option<PathBuf>,
}

/// The demo's processes, stopped (agents first) when dropped.
struct Mesh {
    agents: Vec<Child>,
    controller: Option<Child>,
}

impl Drop for Mesh {
    fn drop(&mut self) {
        self.agents.clear();
        self.controller = None;
    }
}

/// The folder the demo works in: a private temporary one (mode 0700, a unique name,
/// removed at the end) unless one was given.
struct WorkDir {
    path: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

fn failed(what: &str) -> impl FnOnce(admin::AdminError) -> DemoError + '_ {
    move |e| DemoError::Failed(format!("{what}: {e}"))
}

/// Sets everything up and starts the processes.
fn prepare(dir: &Path, log: &mut dyn Write) -> Result<(Mesh, Ports), DemoError> {
    let ok = std::process::Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        return Err(DemoError::Failed(
            "python3 is needed: the example's components are Python programs (install python3)".into(),
        ));
    }
    let agent = setup::agent_binary()?;
    setup::write_example(dir)?;
    let steps_log = dir.join("setup.log");
    let _ = writeln!(log, "demo: designing and placing the burst example (SPACE4AI-D) in {}", dir.display());
    setup::aisprint(dir, &["design", "--application_dir", "burst"], &steps_log)?;
    setup::aisprint(dir, &["space4aid", "--application_dir", "burst"], &steps_log)?;
    setup::aisprint(dir, &["certs", "init", "--dir", "certs"], &steps_log)?;
    for (node, _, _) in NODES {
        setup::aisprint(dir, &["certs", "issue", "--dir", "certs", "--node", node], &steps_log)?;
    }
    let ports = Ports { grpc: setup::free_port()?, mqtt: setup::free_port()?, http: setup::free_port()? };
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|source| DemoError::Io { path: p, source })
    };
    write("controller.yaml", setup::controller_yaml(ports))?;
    for (node, resource, layer) in NODES {
        write(&format!("{node}.yaml"), setup::agent_yaml(node, resource, layer, ports))?;
    }
    let me = std::env::current_exe().map_err(|e| DemoError::Failed(e.to_string()))?;
    let controller = Child::spawn("controller", &me, &["controller", "serve", "--config", "controller.yaml"], dir)?;
    let mut mesh = Mesh { agents: Vec::new(), controller: Some(controller) };
    let t = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", ports.grpc)).is_err() {
        let running = mesh.controller.as_mut().is_some_and(Child::running);
        if !running || t.elapsed() > Duration::from_secs(30) {
            return Err(DemoError::Failed(format!(
                "the controller did not start: see {}",
                dir.join("controller.log").display()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for (node, _, _) in NODES {
        let cfg = format!("{node}.yaml");
        mesh.agents.push(Child::spawn(node, &agent, &["run", "--config", &cfg], dir)?);
    }
    let _ = writeln!(
        log,
        "demo: controller on 127.0.0.1:{} (MQTT 127.0.0.1:{}, /metrics and /ams-alert on 127.0.0.1:{}), agents {}",
        ports.grpc,
        ports.mqtt,
        ports.http,
        NODES.map(|n| n.0).join(", ")
    );
    Ok((mesh, ports))
}

/// The runtime's status, as JSON.
async fn status(admin: &mut AdminClient) -> Result<serde_json::Value, DemoError> {
    let r = admin
        .runtime(RuntimeRequest { action: "status".into() })
        .await
        .map_err(|e| DemoError::Failed(format!("runtime status: {}", e.message())))?
        .into_inner();
    Ok(serde_json::from_str(&r.json).unwrap_or_default())
}

/// Frames out of classify on any node: name -> times.
fn outputs(dir: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (node, _, _) in NODES {
        let d = dir.join(format!("buckets/{node}/rt-classify/out"));
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            *out.entry(e.file_name().to_string_lossy().to_string()).or_insert(0) += 1;
        }
    }
    out
}

/// The feeding and the live view, for `duration` seconds (then until every frame is out, a
/// minute at most); the report.
async fn drive(
    dir: &Path,
    admin: &mut AdminClient,
    duration: f64,
    cancel: &CancellationToken,
    screen: &mut dyn Write,
) -> Result<Report, DemoError> {
    let tty = std::io::stdout().is_terminal();
    let t0 = now_s();
    let (mut sent, mut next_put, mut next_view) = (0usize, 0.0f64, 0.0f64);
    let mut samples: Vec<(f64, Option<f64>)> = Vec::new();
    let mut history: Vec<serde_json::Value>;
    let mut drained_at = None;
    loop {
        let t = now_s() - t0;
        let feeding = t < duration && !cancel.is_cancelled();
        if feeding && t >= next_put {
            sent += 1;
            let put = AgentCommand::BucketPut(Put {
                bucket: "rt-ingest/in".into(),
                name: format!("frame-{sent:05}.txt"),
                content: "YSBmcmFtZQo=".into(),
            });
            admin::send(admin, "rt-ingest", &put).await.map_err(failed("feeding a frame"))?;
            next_put += 1.0 / view::rate_at(t, duration);
        }
        if t >= next_view {
            next_view += 1.0;
            let st = status(admin).await?;
            let agents =
                admin.list_agents(ListAgentsRequest {}).await.map(|r| r.into_inner().agents).unwrap_or_default();
            let done = outputs(dir).len();
            samples.push((t, st["last_check"]["observed"]["response_s"]["classify"].as_f64()));
            history = st["history"].as_array().cloned().unwrap_or_default();
            let snap = Snapshot {
                t_s: t.min(duration),
                duration_s: duration,
                rate: if feeding { view::rate_at(t, duration) } else { 0.0 },
                sent,
                done,
                agents: agents.iter().map(|a| (a.node_id.clone(), a.resource.clone(), a.connected)).collect(),
                status: st,
            };
            let text = view::render(&snap);
            if tty {
                let _ = write!(screen, "\x1b[2J\x1b[H{text}");
            } else if (t as u64) % 10 == 0 {
                let _ = writeln!(screen, "{}", text.lines().next().unwrap_or_default());
            }
            let _ = screen.flush();
            if !feeding {
                let waited = *drained_at.get_or_insert(t);
                if done >= sent || t - waited > 60.0 || cancel.is_cancelled() {
                    break;
                }
            }
        }
        let wait = (next_put.min(next_view) - (now_s() - t0)).clamp(0.005, 0.5);
        tokio::select! {
            _ = cancel.cancelled(), if feeding => {}
            _ = tokio::time::sleep(Duration::from_secs_f64(wait)) => {}
        }
    }
    let (done, duplicates, lost) = view::count(&outputs(dir), sent);
    Ok(Report {
        duration_s: now_s() - t0,
        files_sent: sent,
        files_done: done,
        duplicates,
        lost,
        reconfigurations: view::reconfigurations(&history, &samples, t0),
    })
}

/// Runs the demo; `log` gets its progress lines, `screen` the live view.
pub async fn run(
    opts: &DemoOptions,
    cancel: CancellationToken,
    log: &mut dyn Write,
    screen: &mut dyn Write,
) -> Result<Report, DemoError> {
    let work = match &opts.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|source| DemoError::Io { path: d.clone(), source })?;
            WorkDir { path: d.clone(), _temp: None }
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("aisprint-demo-")
                .tempdir()
                .map_err(|source| DemoError::Io { path: std::env::temp_dir(), source })?;
            WorkDir { path: t.path().to_path_buf(), _temp: Some(t) }
        }
    };
    let dir = work.path.clone();
    let (mesh, _ports) = tokio::task::block_in_place(|| prepare(&dir, log))?;
    let mut admin = admin::connect_with(&dir.join("controller.yaml"))
        .await
        .map_err(|e| DemoError::Failed(format!("connecting to the controller: {e}")))?;
    let _ = writeln!(log, "demo: waiting for the agents to run the placement SPACE4AI-D chose");
    let t = std::time::Instant::now();
    while !status(&mut admin).await?["current"].is_object() {
        if t.elapsed() > Duration::from_secs(60) || cancel.is_cancelled() {
            return Err(DemoError::Failed(format!(
                "the start placement was not applied within 60 s: see {}",
                dir.join("controller.log").display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let report = drive(&dir, &mut admin, opts.duration_s, &cancel, screen).await;
    tokio::task::block_in_place(|| drop(mesh));
    report
}
