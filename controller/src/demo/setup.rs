//! What the demo sets up on one machine: the bundled burst example written out, free loopback
//! ports, the controller's and the agents' configurations, and the processes (the controller
//! and three agents), each stopped with SIGTERM when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The burst example, bundled: the demo needs no checkout of the repository.
pub const EXAMPLE: &[(&str, &str)] = &[
    ("common_config/application_dag.yaml", include_str!("../../../examples/burst/common_config/application_dag.yaml")),
    (
        "common_config/candidate_resources.yaml",
        include_str!("../../../examples/burst/common_config/candidate_resources.yaml"),
    ),
    (
        "common_config/candidate_deployments.yaml",
        include_str!("../../../examples/burst/common_config/candidate_deployments.yaml"),
    ),
    ("space4ai-d/SPACE4AI-D.yaml", include_str!("../../../examples/burst/space4ai-d/SPACE4AI-D.yaml")),
    ("oscarp/performance_models.json", include_str!("../../../examples/burst/oscarp/performance_models.json")),
    (
        "aisprint/designs/component_partitions.yaml",
        include_str!("../../../examples/burst/aisprint/designs/component_partitions.yaml"),
    ),
    ("src/ingest/main.py", include_str!("../../../examples/burst/src/ingest/main.py")),
    ("src/classify/main.py", include_str!("../../../examples/burst/src/classify/main.py")),
    ("input/frame.txt", include_str!("../../../examples/burst/input/frame.txt")),
    ("ams/.gitkeep", include_str!("../../../examples/burst/ams/.gitkeep")),
    ("im/.gitkeep", include_str!("../../../examples/burst/im/.gitkeep")),
    ("oscar/.gitkeep", include_str!("../../../examples/burst/oscar/.gitkeep")),
    ("pycompss/.gitkeep", include_str!("../../../examples/burst/pycompss/.gitkeep")),
    ("space4ai-r/.gitkeep", include_str!("../../../examples/burst/space4ai-r/.gitkeep")),
];

/// The demo's nodes: (node id, resource, layer).
pub const NODES: [(&str, &str, &str); 3] = [
    ("edge-node", "EdgeNode", "computationalLayer1"),
    ("edge-server", "EdgeServer", "computationalLayer2"),
    ("cloud-vm", "CloudVM", "computationalLayer3"),
];

/// Why the demo cannot run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io { path: path.to_path_buf(), source }
}

/// Writes the example under `dir/burst`.
pub fn write_example(dir: &Path) -> Result<(), DemoError> {
    for (rel, text) in EXAMPLE {
        let p = dir.join("burst").join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&p, text).map_err(io(&p))?;
    }
    Ok(())
}

/// A loopback port free now.
pub fn free_port() -> Result<u16, DemoError> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| DemoError::Failed(format!("no free loopback port: {e}")))?;
    l.local_addr().map(|a| a.port()).map_err(|e| DemoError::Failed(e.to_string()))
}

/// The ports the demo serves on.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub grpc: u16,
    pub mqtt: u16,
    pub http: u16,
}

/// `controller.yaml`: mutual TLS, the embedded MQTT broker, /metrics and /ams-alert, and the
/// runtime section on the burst example (quick checks: the demo lasts a minute or two).
pub fn controller_yaml(p: Ports) -> String {
    let agents: Vec<String> = NODES.iter().map(|(n, r, _)| format!("{r}: {n}")).collect();
    format!(
        "listen: 127.0.0.1:{}\nca: certs/ca.pem\ncert: certs/controller.pem\nkey: certs/controller.key\nstate: state/controller.redb\nmqtt_broker:\n  listen: 127.0.0.1:{}\nmonitoring:\n  http: 127.0.0.1:{}\nruntime:\n  application_dir: burst\n  agents: {{{}}}\n  period_s: 2\n  window_s: 6\n  min_dwell_s: 6\n  cooldown_s: 15\n",
        p.grpc,
        p.mqtt,
        p.http,
        agents.join(", ")
    )
}

/// An agent's configuration: its certificate, the embedded broker, services under
/// `buckets/<node>` and `state/<node>`.
pub fn agent_yaml(node: &str, resource: &str, layer: &str, p: Ports) -> String {
    format!(
        "node_id: {node}\nlayer: {layer}\nresource: {resource}\ncontroller:\n  address: https://127.0.0.1:{}\n  ca: certs/ca.pem\n  cert: certs/{node}.pem\n  key: certs/{node}.key\nmqtt:\n  host: 127.0.0.1\n  port: {}\ncollection:\n  period_s: 5\n  families: [cpu, mem, system]\nbuffer:\n  path: buffers/{node}.redb\nservices:\n  cluster: {node}\n  buckets: buckets/{node}\n  state: state/{node}\n",
        p.grpc, p.mqtt
    )
}

/// `aisprint-agent`, beside this program.
pub fn agent_binary() -> Result<PathBuf, DemoError> {
    let me = std::env::current_exe().map_err(|e| DemoError::Failed(format!("cannot find this program: {e}")))?;
    let p = me.with_file_name("aisprint-agent");
    if p.is_file() {
        Ok(p)
    } else {
        Err(DemoError::Failed(format!(
            "{} is missing: build it beside aisprint (cargo build --release -p aisprint-agent -p aisprint-controller)",
            p.display()
        )))
    }
}

/// Runs `aisprint <args>` in `dir` to its end; its output goes to `log`.
pub fn aisprint(dir: &Path, args: &[&str], log: &Path) -> Result<(), DemoError> {
    let me = std::env::current_exe().map_err(|e| DemoError::Failed(e.to_string()))?;
    let out = Command::new(me)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| DemoError::Failed(format!("aisprint {}: {e}", args[0])))?;
    let mut text = out.stdout;
    text.extend_from_slice(&out.stderr);
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &text));
    if out.status.success() {
        Ok(())
    } else {
        Err(DemoError::Failed(format!("aisprint {} failed (see {})", args.join(" "), log.display())))
    }
}

/// A process of the demo: SIGTERM when dropped, then at most 10 s before SIGKILL.
#[derive(Debug)]
pub struct Child {
    pub name: String,
    child: std::process::Child,
}

impl Child {
    /// Starts `program args` in `dir`, its standard error into `<dir>/<name>.log`.
    pub fn spawn(name: &str, program: &Path, args: &[&str], dir: &Path) -> Result<Child, DemoError> {
        let log_path = dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).map_err(io(&log_path))?;
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| DemoError::Failed(format!("cannot start {}: {e}", program.display())))?;
        Ok(Child { name: name.to_string(), child })
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configurations_are_valid() {
        let p = Ports { grpc: 17000, mqtt: 17001, http: 17002 };
        let c = controller_yaml(p);
        let (doc, _) = aisprint_model::yaml::parse::<aisprint_model::config::ControllerConfig>("c", &c).expect("parse");
        assert!(!aisprint_model::config::validate_controller(&doc).has_errors(), "{c}");
        assert_eq!(doc.value.runtime.expect("runtime").agents["CloudVM"], "cloud-vm");
        for (n, r, l) in NODES {
            let a = agent_yaml(n, r, l, p);
            let (doc, _) = aisprint_model::yaml::parse::<aisprint_model::config::AgentConfig>("a", &a).expect("parse");
            assert!(!aisprint_model::config::validate_agent(&doc).has_errors(), "{a}");
        }
    }
}
