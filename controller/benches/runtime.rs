//! SPACE4AI-R's reaction time (docs/benchmarks.md): from a violation notified to the new
//! placement taking files, on loopback, with the release binaries:
//!
//! ```sh
//! cargo build --release -p aisprint-agent -p aisprint-controller
//! cargo bench -p aisprint-controller --bench runtime
//! ```
//!
//! The burst example runs on a controller and three agents as in `aisprint demo`. Each round
//! posts a violation of classify's constraint to `POST /ams-alert` (SPACE4AI-R decides a move
//! of classify from the edge server to the VMs: a new service applied on the VM's agent, then
//! the route changed), then rolls back (the same steps the other way). Measured: the time from
//! the notification to the route change (the new node takes the next file), and the whole
//! change (the old node drained and stopped too).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aisprint_controller::demo::setup::{self, Child, Ports, NODES};
use serde_json::Value;

fn status(dir: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_aisprint"))
        .args(["runtime", "status", "--config", "controller.yaml", "--json"])
        .current_dir(dir)
        .output()
        .expect("aisprint");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn post_violation(port: u16) {
    let (code, body) =
        aisprint_test_support::http_post(port, "/ams-alert", r#"{"constraint": "local_constraint_1", "value": 3.5}"#);
    assert_eq!(code, 202, "{body}");
}

/// Waits for the change after `id` to be recorded: (notified -> serving, whole change) in s.
fn wait_change(dir: &Path, id: u64, t0: f64) -> (u64, f64, f64) {
    let t = Instant::now();
    loop {
        let s = status(dir);
        if let Some(r) = s["history"].as_array().and_then(|h| h.first()).filter(|r| r["id"].as_u64() > Some(id)) {
            let started = r["at_unix_s"].as_f64().expect("at") - r["took_s"].as_f64().expect("took");
            let serving = started + r["serving_after_s"].as_f64().expect("serving");
            let done = r["at_unix_s"].as_f64().expect("at");
            return (r["id"].as_u64().expect("id"), serving - t0, done - t0);
        }
        assert!(t.elapsed() < Duration::from_secs(60), "no change recorded: {s:#}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let agent = Path::new(env!("CARGO_BIN_EXE_aisprint")).with_file_name("aisprint-agent");
    assert!(agent.exists(), "{} is missing: cargo build --release -p aisprint-agent", agent.display());
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    setup::write_example(dir).expect("example");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_aisprint")).args(args).current_dir(dir).output().expect("aisprint");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    run(&["design", "--application_dir", "burst"]);
    run(&["space4aid", "--application_dir", "burst"]);
    run(&["certs", "init", "--dir", "certs"]);
    for (n, _, _) in NODES {
        run(&["certs", "issue", "--dir", "certs", "--node", n]);
    }
    let p = Ports {
        grpc: setup::free_port().expect("port"),
        mqtt: setup::free_port().expect("port"),
        http: setup::free_port().expect("port"),
    };
    // Only notifications trigger here (no periodic check within the bench), and a change may
    // follow the last one after 1 s.
    let cfg =
        setup::controller_yaml(p).replace("period_s: 2", "period_s: 3600").replace("min_dwell_s: 6", "min_dwell_s: 1");
    std::fs::write(dir.join("controller.yaml"), cfg).expect("write");
    for (n, r, l) in NODES {
        std::fs::write(dir.join(format!("{n}.yaml")), setup::agent_yaml(n, r, l, p)).expect("write");
    }
    let controller = Child::spawn(
        "controller",
        Path::new(env!("CARGO_BIN_EXE_aisprint")),
        &["controller", "serve", "--config", "controller.yaml"],
        dir,
    )
    .expect("controller");
    let agents: Vec<Child> = NODES
        .iter()
        .map(|(n, _, _)| Child::spawn(n, &agent, &["run", "--config", &format!("{n}.yaml")], dir).expect("agent"))
        .collect();
    let t = Instant::now();
    let mut id = loop {
        let s = status(dir);
        if s["current"].is_object() {
            break s["history"][0]["id"].as_u64().unwrap_or(1);
        }
        assert!(t.elapsed() < Duration::from_secs(60), "the start placement was not applied");
        std::thread::sleep(Duration::from_millis(100));
    };
    let (mut serving, mut whole, mut back) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..8 {
        std::thread::sleep(Duration::from_millis(1500));
        let t0 = aisprint_runtime::clock::now_s();
        post_violation(p.http);
        let (i, s, w) = wait_change(dir, id, t0);
        id = i;
        serving.push(s);
        whole.push(w);
        std::thread::sleep(Duration::from_millis(1500));
        let t0 = aisprint_runtime::clock::now_s();
        run(&["runtime", "rollback", "--config", "controller.yaml"]);
        let (i, s, _) = wait_change(dir, id, t0);
        id = i;
        back.push(s);
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        format!("median {:.0} ms, min {:.0}, max {:.0}", v[v.len() / 2] * 1e3, v[0] * 1e3, v[v.len() - 1] * 1e3)
    };
    println!("rounds: {}", serving.len());
    println!("violation notified -> classify served by the VM's agent: {}", stats(&mut serving));
    println!("violation notified -> the move complete (edge server drained, stopped): {}", stats(&mut whole));
    println!("rollback asked -> classify served by the edge server again: {}", stats(&mut back));
    drop(agents);
    drop(controller);
}
