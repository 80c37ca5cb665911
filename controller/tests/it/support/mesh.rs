//! Real processes of the mesh for the tests: the controller, agents, their configurations
//! and certificates, on loopback ports.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aisprint_controller::mesh::state::State;

use super::{aisprint, port, text, Proc};

/// The agent binary, built beside `aisprint` by `cargo test --workspace`.
pub fn agent_bin() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_aisprint")).with_file_name("aisprint-agent");
    assert!(p.exists(), "{} is missing: build the workspace (cargo test --workspace)", p.display());
    p
}

pub struct Mesh {
    pub dir: PathBuf,
    pub port: u16,
}

impl Mesh {
    pub fn new(dir: &Path) -> Mesh {
        let port = port();
        let r = aisprint(dir, &["certs", "init", "--dir", "certs"]);
        assert!(r.status.success(), "{}", text(&r.stderr));
        std::fs::write(
            dir.join("controller.yaml"),
            format!(
                "listen: 127.0.0.1:{port}\nca: certs/ca.pem\ncert: certs/controller.pem\nkey: certs/controller.key\nstate: state/controller.redb\n"
            ),
        )
        .expect("write");
        Mesh { dir: dir.to_path_buf(), port }
    }

    pub fn controller(&self) -> Proc {
        let log = std::fs::File::create(self.dir.join("controller.log")).expect("log");
        let child = Command::new(env!("CARGO_BIN_EXE_aisprint"))
            .args(["controller", "serve", "--config", "controller.yaml"])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("controller");
        // Ready when it accepts connections.
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(20), "the controller did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Proc(child)
    }

    /// An agent config for `node` using the certificate files `cert` (default: its own).
    pub fn agent_config(&self, node: &str, cert: Option<(&str, &str, &str)>, period: f64, extra: &str) -> PathBuf {
        let (ca, crt, key) = cert.unwrap_or(("certs/ca.pem", "", ""));
        let crt = if crt.is_empty() { format!("certs/{node}.pem") } else { crt.to_string() };
        let key = if key.is_empty() { format!("certs/{node}.key") } else { key.to_string() };
        let path = self.dir.join(format!("{node}.yaml"));
        std::fs::write(
            &path,
            format!(
                "node_id: {node}\nlayer: computationalLayer1\nresource: RaspPi\ncontroller:\n  address: https://127.0.0.1:{}\n  ca: {ca}\n  cert: {crt}\n  key: {key}\ncollection:\n  period_s: {period}\n  families: [cpu, mem, system]\nbuffer:\n  path: buffers/{node}.redb\n{extra}",
                self.port
            ),
        )
        .expect("write");
        path
    }

    pub fn issue(&self, node: &str) {
        let r = aisprint(&self.dir, &["certs", "issue", "--dir", "certs", "--node", node]);
        assert!(r.status.success(), "{}", text(&r.stderr));
    }

    pub fn agent(&self, config: &Path, log: &str) -> Proc {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join(log)).expect("log");
        Proc(
            Command::new(agent_bin())
                .args(["run", "--config", config.to_str().expect("path")])
                .current_dir(&self.dir)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("agent"),
        )
    }

    /// The batches the controller stored for `node` (the controller must be stopped).
    pub fn stored(&self, node: &str) -> Vec<(String, u64, bool)> {
        let s = State::open(&self.dir.join("state/controller.redb")).expect("state");
        s.batches_of(node)
            .expect("batches")
            .into_iter()
            .filter_map(|b| b.batch.map(|x| (x.boot_id, x.seq, x.backfill)))
            .collect()
    }

    /// The agent's buffer: (batches kept, next sequence number). The agent must be stopped.
    pub fn buffer(&self, node: &str) -> (u64, u64) {
        let b = aisprint_runtime::buffer::Buffer::open(
            &self.dir.join(format!("buffers/{node}.redb")),
            1 << 20,
            &["grpc"],
            1 << 30,
            aisprint_model::config::WhenFull::DropOldest,
        )
        .expect("buffer");
        let s = b.stats().expect("stats");
        (s.batches, s.next_seq)
    }

    /// Agents that run services, one per node (certificate issued, buckets and state under
    /// `buckets/<node>`, `state/<node>`), started and waited for until the controller lists
    /// them connected.
    pub fn service_agents(&self, nodes: &[&str]) -> Vec<Proc> {
        let mut agents = Vec::new();
        for node in nodes {
            self.issue(node);
            let services = format!("services:\n  cluster: {node}\n  buckets: buckets/{node}\n  state: state/{node}\n");
            let cfg = self.agent_config(node, None, 60.0, &services);
            agents.push(self.agent(&cfg, &format!("{node}.log")));
        }
        let t = Instant::now();
        loop {
            let out = text(&aisprint(&self.dir, &["agents", "list", "--config", "controller.yaml"]).stdout);
            let up = |n: &str| out.lines().any(|l| l.starts_with(&format!("{n} ")) && l.contains(" yes "));
            if nodes.iter().all(|n| up(n)) {
                return agents;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "agents not connected:\n{out}\n{}",
                self.log(&format!("{}.log", nodes[0]))
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

/// Puts a file into a bucket whole (written under a hidden name, then renamed).
pub fn drop_file(dir: &Path, name: &str, content: &str) {
    let part = dir.join(format!(".{name}.part"));
    std::fs::write(&part, content).expect("write");
    std::fs::rename(&part, dir.join(name)).expect("rename");
}

/// The files in a folder (not hidden).
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten().map(|e| e.file_name().to_string_lossy().to_string()).filter(|n| !n.starts_with('.')).collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            n += count_files(&e.path());
        } else if !e.file_name().to_string_lossy().starts_with('.') {
            n += 1;
        }
    }
    n
}

/// Sends a typed command to `node` through the controller's admin service and waits for the
/// agent's answer: (ok, message).
pub fn command(dir: &Path, node: &str, cmd: aisprint_proto::commands::AgentCommand) -> (bool, String) {
    use aisprint_controller::mesh::admin;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let mut c = admin::connect_with(&dir.join("controller.yaml")).await.expect("admin client");
        let id = admin::send(&mut c, node, &cmd).await.expect("send").expect("the agent is connected");
        let r = admin::answer(&mut c, &id, Duration::from_secs(60)).await.expect("answer").expect("an answer in 60 s");
        (r.ok, r.message)
    })
}
