//! What the agent's tests share: the agent binary started on a folder's `agent.yaml`, and
//! the files in a folder; with the workspace's test support (ports, waits, guards).

#![allow(dead_code, unused_imports)]

use std::path::Path;
use std::process::{Child, Command, Stdio};

pub use aisprint_test_support::{port, repo, text, wait, Proc};

/// The agent on `dir/agent.yaml` (plain text), its log appended to `dir/agent.log`.
pub fn start_agent(dir: &Path) -> Child {
    start_agent_with(dir, |_| {})
}

/// The same, with the command adjusted first (its environment, say).
pub fn start_agent_with(dir: &Path, adjust: impl FnOnce(&mut Command)) -> Child {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("agent.log")).expect("log");
    let mut c = Command::new(env!("CARGO_BIN_EXE_aisprint-agent"));
    c.args(["run", "--insecure", "--config", "agent.yaml"]).current_dir(dir).stdout(Stdio::null()).stderr(log);
    adjust(&mut c);
    c.spawn().expect("agent")
}

/// The names in `dir` (hidden ones left out), sorted.
pub fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten().map(|e| e.file_name().to_string_lossy().to_string()).filter(|n| !n.starts_with('.')).collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
