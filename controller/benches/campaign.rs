//! The profiling campaign and services chained across agents (docs/benchmarks.md):
//!
//! ```sh
//! cargo build --release -p aisprint-agent              # the agent binary the parts run
//! cargo bench -p aisprint-controller --bench campaign  # or AISPRINT_CAMPAIGN_BENCH=chain
//! ```
//!
//! Real processes on loopback with mutual TLS (release builds): a controller and agents.
//!
//! - `campaign`: the three_tier example profiled on three agents standing for its resources
//!   (EdgeNode, VM, Lambda): each unit alone, then the whole pipeline; the wall time of
//!   `aisprint profile`, from the start to the models written (`AISPRINT_BENCH_RUNS` times, default 2), and each unit's mean job split from its
//!   per-job table.
//! - `chain`: 500 files through `blur` on one agent and `mask` on another, every output of
//!   `blur` shipped through the mesh (agent -> controller -> agent): files per second end to
//!   end and the time from a file's arrival on the first agent to its final output on the
//!   second (median, p95).

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant, SystemTime};

use support::mesh::Mesh;
use support::{aisprint, copy_dir, repo, text};

fn wanted(part: &str) -> bool {
    std::env::var("AISPRINT_CAMPAIGN_BENCH").map_or(true, |v| v.split(',').any(|p| p == part))
}

fn wait(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn campaign() {
    let runs: usize = std::env::var("AISPRINT_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let mut walls = Vec::new();
    for k in 0..runs {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path();
        let app = dir.join("three_tier");
        copy_dir(&repo().join("examples/three_tier"), &app);
        let r = aisprint(dir, &["design", "--application_dir", "three_tier"]);
        assert!(r.status.success(), "{}", text(&r.stderr));
        let mesh = Mesh::new(dir);
        let controller = mesh.controller();
        let agents = mesh.service_agents(&["edge-1", "vm-1", "faas-1"]);
        let t = Instant::now();
        let r = aisprint(
            dir,
            &[
                "profile",
                "--application_dir",
                "three_tier",
                "--config",
                "controller.yaml",
                "--agent",
                "EdgeNode=edge-1",
                "--agent",
                "VM=vm-1",
                "--agent",
                "Lambda=faas-1",
            ],
        );
        let wall = t.elapsed().as_secs_f64();
        assert!(r.status.success(), "{}", text(&r.stderr));
        walls.push(wall);
        let done = text(&r.stdout).lines().find(|l| l.starts_with("Campaign done:")).unwrap_or_default().to_string();
        println!("campaign {}: {:.1} s, models trained ({done})", k + 1, wall);
        if k == 0 {
            // The mean split of each unit's jobs.
            let c = app.join("oscarp/campaign/deployment_0");
            for (unit, service) in [("C1@EdgeNode", "ingest"), ("C2@VM", "analyse"), ("C3@Lambda", "report")] {
                let t = std::fs::read_to_string(c.join(unit).join(format!("results/Dataframes/{service}_jobs.csv")))
                    .expect("jobs table");
                let rows: Vec<Vec<f64>> = t
                    .lines()
                    .skip(1)
                    .map(|l| l.split(',').skip(6).map(|v| v.parse::<f64>().unwrap_or(f64::NAN)).collect())
                    .collect();
                let mean = |i: usize| rows.iter().map(|r| r[i]).sum::<f64>() / rows.len() as f64 * 1000.0;
                println!(
                    "  {unit}: wait {:.0} ms, process creation {:.2} ms, overhead {:.0} ms, compute {:.0} ms, write-back {:.1} ms (means over {} jobs)",
                    mean(0),
                    mean(1),
                    mean(2),
                    mean(3),
                    mean(4),
                    rows.len()
                );
            }
        }
        for a in agents {
            a.stop();
        }
        controller.stop();
    }
    walls.sort_by(f64::total_cmp);
    println!(
        "campaign wall time: min {:.1} s, max {:.1} s over {} campaigns",
        walls[0],
        walls[walls.len() - 1],
        walls.len()
    );
}

fn chain() {
    const FILES: usize = 500;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
    std::fs::create_dir_all(dir.join("pipeline")).expect("mkdir");
    std::fs::write(dir.join("pipeline/blur.sh"), "cp \"$INPUT_FILE_PATH\" \"$TMP_OUTPUT_DIR/\"\n").expect("write");
    std::fs::write(dir.join("pipeline/mask.sh"), "cp \"$INPUT_FILE_PATH\" \"$TMP_OUTPUT_DIR/\"\n").expect("write");
    std::fs::write(
        dir.join("pipeline/fdl.yaml"),
        "functions:\n  oscar:\n  - edge:\n      name: blur\n      script: blur.sh\n      max_parallelism: 4\n      input:\n      - path: blur/input\n      output:\n      - storage_provider: minio.cloud\n        path: mask/input\n  - cloud:\n      name: mask\n      script: mask.sh\n      max_parallelism: 4\n      input:\n      - path: mask/input\n      output:\n      - path: mask/output\n",
    )
    .expect("write");
    let controller = mesh.controller();
    let agents = mesh.service_agents(&["edge", "cloud"]);
    let r = aisprint(dir, &["oscar", "apply", "--fdl", "pipeline/fdl.yaml", "--config", "controller.yaml"]);
    assert!(r.status.success(), "{}", text(&r.stdout));
    let inbox = dir.join("buckets/edge/blur/input");
    let done = dir.join("buckets/cloud/mask/output");
    wait("the buckets", Duration::from_secs(20), || inbox.is_dir() && done.is_dir());
    std::thread::sleep(Duration::from_millis(300));
    let mut dropped = Vec::with_capacity(FILES);
    let t = Instant::now();
    for i in 0..FILES {
        let name = format!("f{i:04}.bin");
        let part = inbox.join(format!(".{name}"));
        std::fs::write(&part, vec![7u8; 4096]).expect("write");
        std::fs::rename(&part, inbox.join(&name)).expect("rename");
        dropped.push((name, SystemTime::now()));
    }
    let count = || {
        std::fs::read_dir(&done)
            .map(|r| r.flatten().filter(|e| !e.file_name().to_string_lossy().starts_with('.')).count())
            .unwrap_or(0)
    };
    wait("every file through the chain", Duration::from_secs(300), || count() >= FILES);
    let wall = t.elapsed().as_secs_f64();
    let mut lat: Vec<f64> = dropped
        .iter()
        .map(|(n, at)| {
            let m = std::fs::metadata(done.join(n)).and_then(|m| m.modified()).expect("output");
            m.duration_since(*at).map_or(0.0, |d| d.as_secs_f64())
        })
        .collect();
    lat.sort_by(f64::total_cmp);
    println!(
        "chain: {FILES} files of 4 KiB through two agents (parallelism 4 each) in {wall:.2} s: {:.0} files/s; arrival to final output: median {:.0} ms, p95 {:.0} ms",
        FILES as f64 / wall,
        lat[lat.len() / 2] * 1000.0,
        lat[lat.len() * 95 / 100] * 1000.0
    );
    for a in agents {
        a.stop();
    }
    controller.stop();
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is read from the command line.
    if wanted("chain") {
        chain();
    }
    if wanted("campaign") {
        campaign();
    }
}
