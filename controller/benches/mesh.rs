//! The agent mesh's figures (docs/benchmarks.md):
//!
//! ```sh
//! cargo build --release -p aisprint-agent          # the agent binary the `agent` part runs
//! cargo bench -p aisprint-controller --bench mesh  # all parts; or AISPRINT_MESH_BENCH=buffer,drain
//! ```
//!
//! - `collect`: what one reading of each host family costs.
//! - `buffer`: the agent's buffer: durable appends (one commit each, as the agent does),
//!   bulk appends, replay reads.
//! - `drain`: 24 hours of 1 s batches (86,400, every host family) in an agent's buffer, drained
//!   to a controller on loopback with mutual TLS: the time until the controller stored all.
//! - `ingest`: 1,000 simulated agents (one connection each) pushing batches of 100 samples;
//!   samples per second stored and acknowledged. The load generator runs on the same 2 cores.
//! - `agent`: the release agent at a 1 s period with every family for 30 s: resident memory
//!   and CPU; the binaries' sizes.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aisprint_agent::collect::Collector;
use aisprint_controller::mesh::{certs, config, serve};
use aisprint_model::config::{AgentConfig, Backfill, BufferConfig, Collection, ControllerLink, WhenFull, FAMILIES};
use aisprint_proto::v1::admin_service_client::AdminServiceClient;
use aisprint_proto::v1::agent_service_client::AgentServiceClient;
use aisprint_proto::v1::{ListAgentsRequest, MetricBatch, Point, RegisterRequest};
use aisprint_runtime::buffer::Buffer;
use prost::Message;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

fn wanted(part: &str) -> bool {
    std::env::var("AISPRINT_MESH_BENCH").map_or(true, |v| v.split(',').any(|p| p == part))
}

fn sample_batch() -> MetricBatch {
    let all: Vec<String> = FAMILIES.iter().map(|s| s.to_string()).collect();
    let mut c = Collector::new(&all);
    std::thread::sleep(Duration::from_millis(200));
    MetricBatch {
        node_id: "bench-1".into(),
        boot_id: "boot".into(),
        seq: 0,
        wall_time_unix_ms: 0,
        monotonic_ms: 0,
        backfill: false,
        points: c.collect(),
    }
}

/// A controller on a loopback port the system gives: (port, its stop token, its task).
fn start_controller(
    rt: &tokio::runtime::Runtime,
    state: std::path::PathBuf,
    tls: Option<config::Tls>,
) -> (u16, CancellationToken, tokio::task::JoinHandle<Result<(), serve::ServeError>>) {
    let incoming = rt.block_on(async {
        tonic::transport::server::TcpIncoming::bind(([127, 0, 0, 1], 0).into()).expect("bind").with_nodelay(Some(true))
    });
    let port = incoming.local_addr().expect("addr").port();
    let stop = CancellationToken::new();
    let week = Duration::from_secs(7 * 24 * 3600);
    let task = rt.spawn(serve::serve(incoming, state, tls, week, None, None, stop.clone()));
    std::thread::sleep(Duration::from_millis(300));
    (port, stop, task)
}

/// What one reading of each family costs.
fn collect_part() {
    let mut line = Vec::new();
    for f in FAMILIES {
        let mut c = Collector::new(&[f.to_string()]);
        c.collect();
        let n = 200;
        let t = Instant::now();
        let mut points = 0;
        for _ in 0..n {
            points += c.collect().len();
        }
        line.push(format!("{f} {:.0} us ({} points)", t.elapsed().as_secs_f64() * 1e6 / n as f64, points / n));
    }
    let all: Vec<String> = FAMILIES.iter().map(|s| s.to_string()).collect();
    let mut c = Collector::new(&all);
    c.collect();
    let t = Instant::now();
    for _ in 0..200 {
        c.collect();
    }
    println!(
        "collect: one reading: {}; every family {:.0} us",
        line.join(", "),
        t.elapsed().as_secs_f64() * 1e6 / 200.0
    );
}

fn buffer_part(batch: &MetricBatch) {
    let tmp = tempfile::tempdir().expect("tmp");
    let size = batch.encoded_len();
    let b = Buffer::open(&tmp.path().join("b.redb"), 16 << 20, &["grpc"], 1 << 40, WhenFull::DropOldest).expect("open");
    let n = 1000;
    let t = Instant::now();
    for _ in 0..n {
        b.append(|seq| {
            let mut x = batch.clone();
            x.seq = seq;
            x.encode_to_vec()
        })
        .expect("append");
    }
    let durable = n as f64 / t.elapsed().as_secs_f64();
    let bulk_n = 100_000u64;
    let t = Instant::now();
    b.append_many(bulk_n, |seq| {
        let mut x = batch.clone();
        x.seq = seq;
        x.encode_to_vec()
    })
    .expect("bulk");
    let bulk = bulk_n as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let got = b.pending("grpc", 0, usize::MAX).expect("pending").len();
    let replay = got as f64 / t.elapsed().as_secs_f64();
    let file = std::fs::metadata(tmp.path().join("b.redb")).map_or(0, |m| m.len());
    println!("buffer: batch of {} points, {size} bytes encoded", batch.points.len());
    println!("buffer: durable appends (one synced commit each): {durable:.0} batches/s");
    println!("buffer: bulk appends (one commit): {bulk:.0} batches/s");
    println!("buffer: replay read: {replay:.0} batches/s ({got} batches, file {:.1} MiB)", file as f64 / 1048576.0);
}

async fn admin(addr: &str, tls: Option<&config::Tls>) -> AdminServiceClient<Channel> {
    let mut ep = Channel::from_shared(addr.to_string()).expect("uri");
    if let Some(t) = tls {
        ep = ep
            .tls_config(
                ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(&t.ca))
                    .identity(Identity::from_pem(&t.cert, &t.key)),
            )
            .expect("tls");
    }
    AdminServiceClient::new(ep.connect().await.expect("connect"))
}

async fn stored(client: &mut AdminServiceClient<Channel>) -> u64 {
    client.list_agents(ListAgentsRequest {}).await.map_or(0, |r| r.into_inner().agents.iter().map(|a| a.batches).sum())
}

fn drain_part(rt: &tokio::runtime::Runtime, batch: &MetricBatch) {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    certs::init(&dir.join("certs"), &["127.0.0.1".to_string()], false).expect("certs");
    certs::issue(&dir.join("certs"), "bench-1").expect("issue");
    let read = |f: &str| std::fs::read_to_string(dir.join("certs").join(f)).expect("read");
    let tls =
        config::Tls { ca: read("ca.pem"), cert: read("controller.pem"), key: read("controller.key"), revoked: None };
    let n = 86_400u64;
    {
        let b =
            Buffer::open(&dir.join("agent.redb"), 16 << 20, &["grpc"], 1 << 40, WhenFull::DropOldest).expect("open");
        for _ in 0..(n / 10_000 + 1) {
            let left = n - (b.stats().expect("stats").next_seq - 1);
            b.append_many(left.min(10_000), |seq| {
                let mut x = batch.clone();
                x.seq = seq;
                x.wall_time_unix_ms = seq as i64 * 1000;
                x.encode_to_vec()
            })
            .expect("fill");
        }
    }
    let (port, stop, server) = start_controller(rt, dir.join("controller.redb"), Some(tls.clone()));
    let cfg = AgentConfig {
        node_id: "bench-1".into(),
        layer: None,
        resource: None,
        controller: ControllerLink {
            address: format!("https://127.0.0.1:{port}"),
            ca: Some(dir.join("certs/ca.pem").display().to_string()),
            cert: Some(dir.join("certs/bench-1.pem").display().to_string()),
            key: Some(dir.join("certs/bench-1.key").display().to_string()),
            insecure: false,
        },
        mqtt: None,
        collection: Collection { period_s: 86_400.0, families: vec!["mem".into()] },
        buffer: BufferConfig {
            path: dir.join("agent.redb").display().to_string(),
            max_bytes: 1 << 40,
            when_full: WhenFull::DropOldest,
            cache_bytes: 16 << 20,
        },
        backfill: Backfill { batches_per_second: 1_000_000.0 },
        monitoring: None,
        services: None,
    };
    let cancel = CancellationToken::new();
    let t = Instant::now();
    let agent = rt.spawn(aisprint_agent::run::run(
        aisprint_agent::config::Loaded::from_config(cfg).expect("config"),
        cancel.clone(),
    ));
    let secs = rt.block_on(async {
        let mut client = admin(&format!("https://127.0.0.1:{port}"), Some(&tls)).await;
        loop {
            let got = stored(&mut client).await;
            if got > n || t.elapsed() > Duration::from_secs(600) {
                return (t.elapsed().as_secs_f64(), got);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    cancel.cancel();
    let _ = rt.block_on(agent);
    stop.cancel();
    let _ = rt.block_on(server);
    println!(
        "drain: 24 h of 1 s batches ({n}, {} bytes each) to the controller over mutual TLS on loopback: {:.1} s ({} stored, {:.0} batches/s)",
        batch.encoded_len(),
        secs.0,
        secs.1,
        secs.1 as f64 / secs.0
    );
}

fn ingest_part(rt: &tokio::runtime::Runtime) {
    let tmp = tempfile::tempdir().expect("tmp");
    let (port, stop, server) = start_controller(rt, tmp.path().join("c.redb"), None);
    let (agents, batches, points, fields) = (1000usize, 20u64, 10usize, 10usize);
    let url = format!("http://127.0.0.1:{port}");
    // Every agent connects and registers first (retrying as a real agent does); the clock
    // starts when all of them push at once.
    let barrier = Arc::new(tokio::sync::Barrier::new(agents + 1));
    let (acked, t): (u64, Instant) = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for a in 0..agents {
            let (url, barrier) = (url.clone(), barrier.clone());
            tasks.spawn(async move {
                let node = format!("sim-{a}");
                let mut client = None;
                for _ in 0..50 {
                    if let Ok(ch) = Channel::from_shared(url.clone()).expect("uri").connect().await {
                        let mut c = AgentServiceClient::new(ch);
                        let r = RegisterRequest { node_id: node.clone(), boot_id: "b".into(), ..Default::default() };
                        if c.register(r).await.is_ok() {
                            client = Some(c);
                            break;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20 + (a as u64 % 50))).await;
                }
                barrier.wait().await;
                let Some(mut c) = client else { return 0 };
                let batch = |seq: u64| MetricBatch {
                    node_id: node.clone(),
                    boot_id: "b".into(),
                    seq,
                    wall_time_unix_ms: 0,
                    monotonic_ms: seq * 1000,
                    backfill: false,
                    points: (0..points)
                        .map(|p| Point {
                            measurement: "cpu".into(),
                            tags: [("cpu".to_string(), format!("cpu{p}"))].into_iter().collect(),
                            fields: (0..fields).map(|f| (format!("f{f}"), f as f64)).collect(),
                            time_unix_ns: 0,
                        })
                        .collect(),
                };
                let out: Vec<MetricBatch> = (1..=batches).map(batch).collect();
                let Ok(r) = c.push_batches(tokio_stream::iter(out)).await else { return 0 };
                let mut acks = r.into_inner();
                let mut n = 0u64;
                while let Ok(Some(_)) = acks.message().await {
                    n += 1;
                    if n == batches {
                        break;
                    }
                }
                n
            });
        }
        barrier.wait().await;
        let t = Instant::now();
        let mut total = 0;
        while let Some(r) = tasks.join_next().await {
            total += r.unwrap_or(0);
        }
        (total, t)
    });
    let secs = t.elapsed().as_secs_f64();
    stop.cancel();
    let _ = rt.block_on(server);
    let samples = acked * (points * fields) as u64;
    println!(
        "ingest: {agents} simulated agents, {acked} batches acknowledged ({samples} samples) in {secs:.2} s: {:.0} samples/s, {:.0} batches/s (plain gRPC; the load generator shares the 2 cores)",
        samples as f64 / secs,
        acked as f64 / secs
    );
}

fn proc_stat(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let cpu = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some((cpu, rss))
}

fn agent_part(rt: &tokio::runtime::Runtime) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = root.join("target/release/aisprint-agent");
    for (label, p) in
        [("x86_64", bin.clone()), ("aarch64", root.join("target/aarch64-unknown-linux-gnu/release/aisprint-agent"))]
    {
        match std::fs::metadata(&p) {
            Ok(m) => println!("agent binary ({label}, stripped release): {:.2} MiB", m.len() as f64 / 1048576.0),
            Err(_) => println!("agent binary ({label}): not built ({})", p.display()),
        }
    }
    if !bin.exists() {
        println!("agent: build it first: cargo build --release -p aisprint-agent");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let (port, stop, server) = start_controller(rt, tmp.path().join("c.redb"), None);
    let cfg = tmp.path().join("agent.yaml");
    std::fs::write(
        &cfg,
        format!(
            "node_id: bench-agent\ncontroller:\n  address: http://127.0.0.1:{port}\n  insecure: true\ncollection:\n  period_s: 1\nbuffer:\n  path: agent.redb\n"
        ),
    )
    .expect("cfg");
    let mut child = std::process::Command::new(&bin)
        .args(["run", "--insecure", "--config", cfg.to_str().expect("path")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("agent");
    let pid = child.id();
    std::thread::sleep(Duration::from_secs(3));
    let (cpu0, _) = proc_stat(pid).unwrap_or((0, 0));
    let t = Instant::now();
    let mut max_rss = 0;
    while t.elapsed() < Duration::from_secs(30) {
        if let Some((_, rss)) = proc_stat(pid) {
            max_rss = max_rss.max(rss);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let (cpu1, rss) = proc_stat(pid).unwrap_or((0, 0));
    let secs = t.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    stop.cancel();
    let _ = rt.block_on(server);
    let ticks = 100.0; // USER_HZ on Linux
    println!(
        "agent: 1 s period, every family, 30 s: resident memory {:.1} MiB at the end, {:.1} MiB at most; CPU {:.3}% of one core",
        rss as f64 / 1024.0,
        max_rss as f64 / 1024.0,
        100.0 * (cpu1.saturating_sub(cpu0)) as f64 / ticks / secs
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let batch = sample_batch();
    if wanted("collect") {
        collect_part();
    }
    if wanted("buffer") {
        buffer_part(&batch);
    }
    if wanted("drain") {
        drain_part(&rt, &batch);
    }
    if wanted("ingest") {
        ingest_part(&rt);
    }
    if wanted("agent") {
        agent_part(&rt);
    }
}
