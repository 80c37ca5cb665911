//! Services on the agent (docs/benchmarks.md):
//!
//! ```sh
//! cargo bench -p aisprint-agent --bench services
//! ```
//!
//! - `dispatch`: 300 files renamed into a service's input bucket 20 ms apart (no queueing);
//!   the time from the rename to the script's first instruction (`date +%s%N` in the script,
//!   so a shell start is included): median and 99th percentile.
//! - `throughput`: 2,000 files at once to a no-op script (`:`), parallelism 4: jobs per
//!   second until the last output is in place (each job committed twice, run, outputs moved).

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aisprint_model::config::{
    AgentConfig, AgentServices, Backfill, BufferConfig, Collection, ControllerLink, WhenFull,
};
use tokio_util::sync::CancellationToken;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("time").as_nanos()
}

fn config(dir: &Path) -> AgentConfig {
    let p = |f: &str| dir.join(f).display().to_string();
    std::fs::create_dir_all(dir.join("trace")).expect("mkdir");
    std::fs::write(dir.join("stamp.sh"), "date +%s%N > \"$TRACE/$(basename \"$INPUT_FILE_PATH\")\"\n").expect("write");
    std::fs::write(dir.join("noop.sh"), ":\n").expect("write");
    std::fs::write(
        dir.join("fdl.yaml"),
        format!(
            "functions:\n  oscar:\n  - bench:\n      name: stamp\n      script: stamp.sh\n      max_parallelism: 4\n      environment: {{Variables: {{TRACE: {}}}}}\n      input: [{{path: stamp/in}}]\n  - bench:\n      name: noop\n      script: noop.sh\n      max_parallelism: 4\n      input: [{{path: noop/in}}]\n      output: [{{path: noop/out}}]\n",
            dir.join("trace").display()
        ),
    )
    .expect("write");
    AgentConfig {
        node_id: "bench-1".into(),
        layer: None,
        resource: None,
        controller: ControllerLink {
            address: format!("http://127.0.0.1:{}", free_port()),
            ca: None,
            cert: None,
            key: None,
            insecure: true,
        },
        mqtt: None,
        collection: Collection { period_s: 3600.0, families: vec!["mem".into()] },
        buffer: BufferConfig {
            path: p("agent.redb"),
            max_bytes: 1 << 30,
            when_full: WhenFull::DropOldest,
            cache_bytes: 16 << 20,
        },
        backfill: Backfill { batches_per_second: 200.0 },
        monitoring: None,
        services: Some(AgentServices {
            fdl: vec![p("fdl.yaml")],
            cluster: "bench".into(),
            buckets: p("buckets"),
            state: None,
            s3: Default::default(),
        }),
    }
}

fn drop_file(dir: &Path, name: &str) -> u128 {
    let tmp = dir.join(format!(".{name}"));
    std::fs::write(&tmp, b"x").expect("write");
    let t = now_ns();
    std::fs::rename(&tmp, dir.join(name)).expect("rename");
    t
}

fn main() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let cancel = CancellationToken::new();
    let agent = rt.spawn(aisprint_agent::run::run(
        aisprint_agent::config::Loaded::from_config(config(dir)).expect("config"),
        cancel.clone(),
    ));
    let stamp_in = dir.join("buckets/stamp/in");
    let t = Instant::now();
    while !stamp_in.is_dir() {
        assert!(t.elapsed() < Duration::from_secs(10), "the agent did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));

    let mut delays = Vec::new();
    let mut sent_at = std::collections::BTreeMap::new();
    for i in 0..300 {
        let name = format!("s{i:04}");
        let sent = drop_file(&stamp_in, &name);
        sent_at.insert(name.clone(), sent);
        let trace = dir.join("trace").join(&name);
        let t = Instant::now();
        while !trace.exists() || std::fs::read_to_string(&trace).map_or(true, |s| s.trim().is_empty()) {
            assert!(t.elapsed() < Duration::from_secs(10), "no start for {name}");
            std::thread::sleep(Duration::from_micros(200));
        }
        let started: u128 = std::fs::read_to_string(&trace).expect("read").trim().parse().expect("ns");
        delays.push((started.saturating_sub(sent)) as f64 / 1e6);
        std::thread::sleep(Duration::from_millis(20));
    }
    delays.sort_by(|a, b| a.total_cmp(b));
    println!(
        "dispatch: file renamed in -> the script's first instruction (sh and date started: about 3 ms of it here): median {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} files)",
        delays[delays.len() / 2],
        delays[delays.len() * 99 / 100],
        delays[delays.len() - 1],
        delays.len()
    );

    let noop_in = dir.join("buckets/noop/in");
    let noop_out = dir.join("buckets/noop/out");
    const N: usize = 2000;
    // The outputs: the no-op script writes none, so count finished jobs through the store's
    // effect on the input: each job's record. Here: a file per job in the output bucket.
    std::fs::write(dir.join("noop.sh"), "echo > \"$TMP_OUTPUT_DIR/$(basename \"$INPUT_FILE_PATH\")\"\n")
        .expect("write");
    let t = Instant::now();
    for i in 0..N {
        drop_file(&noop_in, &format!("n{i:05}"));
    }
    let queued = t.elapsed();
    loop {
        let n = std::fs::read_dir(&noop_out).map(|r| r.count()).unwrap_or(0);
        if n >= N {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(300), "only {n} done");
        std::thread::sleep(Duration::from_millis(5));
    }
    let all = t.elapsed();
    println!(
        "throughput: {N} files (dropped in {:.2} s), a script that writes one empty output, parallelism 4: all done in {:.2} s, {:.0} jobs/s",
        queued.as_secs_f64(),
        all.as_secs_f64(),
        N as f64 / all.as_secs_f64()
    );
    cancel.cancel();
    let _ = rt.block_on(agent);
    // The agent's own part: from the rename to the moment it starts the script (the job's
    // `started`, read from the job store once the agent is stopped).
    let jobs = aisprint_agent::services::Jobs::open(&dir.join("services/jobs.redb")).expect("jobs");
    let mut own: Vec<f64> = jobs
        .list("stamp")
        .expect("list")
        .iter()
        .filter_map(|j| {
            Some((j.started? * 1e9) as u128).zip(sent_at.get(&j.file)).map(|(s, t)| s.saturating_sub(*t) as f64 / 1e6)
        })
        .collect();
    own.sort_by(|a, b| a.total_cmp(b));
    println!(
        "dispatch: file renamed in -> the agent starts the script: median {:.2} ms, p99 {:.2} ms ({} files)",
        own[own.len() / 2],
        own[own.len() * 99 / 100],
        own.len()
    );
}
