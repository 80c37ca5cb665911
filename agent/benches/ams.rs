//! QoS monitoring figures (docs/benchmarks.md):
//!
//! ```sh
//! cargo bench -p aisprint-agent --bench ams
//! AISPRINT_AMS_RECORDS=1000000 cargo bench -p aisprint-agent --bench ams
//! ```
//!
//! - `ingest`: an agent (in this process, release build) with a local and a global constraint,
//!   the AMS default window (120 s) and a 1 s check period; 8 concurrent HTTP clients post
//!   execution records in bodies of 500 (two components per session, every session new). The
//!   figure: records per second from the first post until the engine has evaluated the last
//!   (every record durably stored before its post was answered), and the time one constraint
//!   check takes with the window full.
//! - `decorator`: a real Python process calling an empty function decorated with
//!   `component_name` and `exec_time`, 20,000 times, with the agent up and with nothing
//!   listening: the mean and 99th percentile cost per call over the bare function, and how
//!   long the process takes to exit (it flushes what is queued, bounded by the timeout).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aisprint_model::config::{
    AgentConfig, AgentMonitoring, Backfill, BufferConfig, Collection, ControllerLink, WhenFull,
};
use tokio_util::sync::CancellationToken;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn config(dir: &Path, http: u16) -> AgentConfig {
    std::fs::write(
        dir.join("qos.yaml"),
        "system:\n  name: bench\n  local_constraints:\n    local_constraint_1:\n      component_name: c1\n      threshold: 0.5\n  global_constraints:\n    global_constraint_1:\n      path_components: [c1, c2]\n      threshold: 1\n  throughput_component: c2\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("monitoring_setup.yaml"),
        "monitoring:\n  time_period: 1s\n  parameters:\n    performance_metrics_time_window_width: 120s\n",
    )
    .expect("write");
    let p = |f: &str| dir.join(f).display().to_string();
    AgentConfig {
        node_id: "bench-1".into(),
        layer: None,
        resource: Some("VM1".into()),
        // Nobody listens there: the agent keeps everything in its buffer, as when offline.
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
            max_bytes: 8 << 30,
            when_full: WhenFull::DropOldest,
            cache_bytes: 64 << 20,
        },
        backfill: Backfill { batches_per_second: 200.0 },
        monitoring: Some(AgentMonitoring {
            http: format!("127.0.0.1:{http}"),
            udp: None,
            tcp: None,
            qos_constraints: vec![p("qos.yaml")],
            monitoring_setup: Some(p("monitoring_setup.yaml")),
            custom_setup: None,
            notification_endpoint: None,
            cluster: None,
            outbox: None,
        }),
        services: None,
    }
}

fn metric(body: &str, name: &str) -> Option<f64> {
    body.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

fn ingest(rt: &tokio::runtime::Runtime, dir: &Path, port: u16) {
    let total: u64 = std::env::var("AISPRINT_AMS_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(500_000);
    const BODY: u64 = 500;
    const CLIENTS: u64 = 8;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs_f64();
    // Bodies made beforehand: the figure is the agent's, not the client's JSON.
    let bodies: Vec<Vec<u8>> = (0..total.div_ceil(BODY))
        .map(|b| {
            let recs: Vec<serde_json::Value> = (b * BODY..((b + 1) * BODY).min(total))
                .map(|i| {
                    let (c, s) = (if i % 2 == 0 { "c1" } else { "c2" }, i / 2);
                    let t = now + (i as f64) * 1e-5;
                    serde_json::json!({"type": "execution", "component_name": c, "session_id": format!("s{s}"),
                        "job_start_time": t, "function_start_time": t + 0.01, "job_end_time": t + 0.2})
                })
                .collect();
            serde_json::to_vec(&serde_json::json!({ "records": recs })).expect("json")
        })
        .collect();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicU64::new(0));
    let url = format!("http://127.0.0.1:{port}/v1/records");
    let t = Instant::now();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let (client, bodies, next, url) = (client.clone(), bodies.clone(), next.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(b) = bodies.get(i) else { break };
                    let r = client.post(&url).body(b.clone()).send().await.expect("post");
                    assert!(r.status().is_success(), "{}", r.status());
                }
            }));
        }
        for t in tasks {
            t.await.expect("client");
        }
    });
    let stored = t.elapsed();
    let metrics = format!("http://127.0.0.1:{port}/metrics");
    let evaluated = rt.block_on(async {
        let client = reqwest::Client::new();
        loop {
            let body = client.get(&metrics).send().await.expect("get").text().await.expect("text");
            if metric(&body, "aisprint_executions_total").unwrap_or_default() as u64 >= total {
                return t.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    // A check over the full window: wait for the next one after everything is in.
    let check = rt.block_on(async {
        let client = reqwest::Client::new();
        let start = Instant::now();
        let before = metric(
            &client.get(&metrics).send().await.expect("get").text().await.expect("text"),
            "aisprint_checks_total",
        );
        loop {
            let body = client.get(&metrics).send().await.expect("get").text().await.expect("text");
            if metric(&body, "aisprint_checks_total") != before {
                return (start.elapsed(), body);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let sessions = metric(&check.1, "aisprint_qos_sessions{node=\"bench-1\",constraint=\"global_constraint_1\"")
        .unwrap_or_default();
    let check_s = metric(&check.1, "aisprint_check_duration_seconds").unwrap_or_default();
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .unwrap_or_default();
    println!(
        "ingest: {total} records, {CLIENTS} clients, bodies of {BODY}: stored in {:.2} s ({:.0}/s), evaluated in {:.2} s ({:.0}/s); one check (2 constraints and throughput) with {sessions} sessions in the window: {:.1} ms; peak RSS of the process (agent and clients) {} MiB",
        stored.as_secs_f64(),
        total as f64 / stored.as_secs_f64(),
        evaluated.as_secs_f64(),
        total as f64 / evaluated.as_secs_f64(),
        check_s * 1000.0,
        rss.parse::<u64>().unwrap_or_default() / 1024,
    );
    let db = std::fs::metadata(dir.join("agent.redb")).map(|m| m.len()).unwrap_or_default();
    println!("ingest: buffer file {} MiB", db >> 20);
}

const DECORATOR: &str = r#"
import json, sys, time
from aisprint.annotations import component_name, exec_time
from aisprint import monitoring

@component_name(name='c1')
@exec_time(local_time_thr=1)
def decorated(x):
    return x

def bare(x):
    return x

N = int(sys.argv[1])
def measure(f):
    out = []
    for i in range(N):
        t = time.perf_counter_ns()
        f(i)
        out.append(time.perf_counter_ns() - t)
    out.sort()
    return sum(out) / N / 1000, out[int(N * 0.99)] / 1000
for _ in range(3):
    b_mean, b_p99 = measure(bare)
    mean, p99 = measure(decorated)
monitoring.flush(10)
print(json.dumps({"mean_us": mean - b_mean, "p99_us": p99 - b_p99, "stats": monitoring.stats()}))
"#;

fn decorator(dir: &Path, port: u16, label: &str) {
    std::fs::write(dir.join("decorator.py"), DECORATOR).expect("write");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../python/aisprint");
    let t = Instant::now();
    let out = Command::new("python3")
        .arg(dir.join("decorator.py"))
        .arg("20000")
        .env("PYTHONPATH", repo)
        .env("AISPRINT_AGENT_URL", format!("http://127.0.0.1:{port}"))
        .env("UUID", "bench")
        .output()
        .expect("python3");
    let wall = t.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    println!(
        "decorator ({label}): {:.1} us mean, {:.1} us p99 per call over the bare function; process {:.2} s in all; reporter {}",
        v["mean_us"].as_f64().unwrap_or_default(),
        v["p99_us"].as_f64().unwrap_or_default(),
        wall.as_secs_f64(),
        v["stats"]
    );
}

fn main() {
    // `cargo bench` passes --bench; nothing else is accepted.
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let port = free_port();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let cancel = CancellationToken::new();
    let cfg = config(dir, port);
    let agent = rt.spawn(aisprint_agent::run::run(
        aisprint_agent::config::Loaded::from_config(cfg).expect("config"),
        cancel.clone(),
    ));
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "the agent did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    decorator(dir, port, "agent up");
    ingest(&rt, dir, port);
    cancel.cancel();
    let _ = rt.block_on(agent);
    decorator(dir, free_port(), "agent absent");
}
