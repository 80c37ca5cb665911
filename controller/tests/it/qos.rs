//! QoS monitoring with real parts: components are real Python processes using the
//! repository's `aisprint` package; they report to a real agent (`aisprint-agent run`) which
//! checks the constraints and alerts, and posts notifications to a local HTTP receiver (this
//! test's, it records every body); the controller stores what the agent replicates. The
//! receiver and the controller are stopped and restarted to check that notifications are
//! kept and arrive afterwards, once each.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::mesh::{agent_bin, Mesh};
use crate::support::port;
use crate::support::{repo, text, wait};
use aisprint_controller::mesh::state::State;
use aisprint_proto::v1::MetricBatch;
use prost::Message;
use serde_json::Value;

/// A local HTTP endpoint that records the JSON bodies POSTed to it.
struct Receiver {
    got: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(port: u16, got: Arc<Mutex<Vec<Value>>>) -> Receiver {
        let l = TcpListener::bind(("127.0.0.1", port)).expect("receiver bind");
        l.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let (g, s) = (got.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((conn, _)) => {
                        conn.set_nonblocking(false).expect("blocking");
                        conn.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
                        serve_one(conn, &g);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Receiver { got, stop, thread: Some(thread) }
    }

    fn stop(mut self) -> Arc<Mutex<Vec<Value>>> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("receiver thread");
        }
        self.got.clone()
    }
}

/// Reads one request and answers 200, closing the connection (so that a stopped receiver
/// has no connection left open).
fn serve_one(conn: std::net::TcpStream, got: &Mutex<Vec<Value>>) {
    let mut r = BufReader::new(conn.try_clone().expect("clone"));
    let mut w = conn;
    {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(v) = serde_json::from_slice::<Value>(&body) {
            got.lock().expect("lock").push(v);
        }
        let _ = w.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    }
}

/// A plain HTTP request to the agent; (status, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out.split_whitespace().nth(1).and_then(|x| x.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|x| x.1.to_string()).unwrap_or_default();
    (status, body)
}

/// A Prometheus sample of the agent's /metrics (the first line starting with `prefix`).
fn metric(port: u16, prefix: &str) -> Option<f64> {
    let (_, body) = http(port, "GET", "/metrics", "");
    body.lines().find(|l| l.starts_with(prefix)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
}

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_nanos() as i64
}

const PIPELINE: &str = r#"
import json, sys, time
from aisprint.annotations import component_name, detect_metric_drift, exec_time
from aisprint import monitoring

@component_name(name='c1')
@exec_time(local_time_thr=0.2)
def c1(d):
    time.sleep(d)

@component_name(name='c2')
@exec_time(local_time_thr=5, global_time_thr=0.5, prev_components=['c1'])
def c2(d):
    time.sleep(d)
    return 'done'

@component_name(name='c3')
@detect_metric_drift(metric=['masks', 'light'], field=[['masks_count'], ['lux']],
                     statistical_test=[None, 'kolmogorov-smirnov'], test_threshold=[None, 0.01],
                     monitoring_period=[None, 20], data_collection_period=1)
def c3(values):
    for i, v in enumerate(values):
        monitoring.report_metric('masks', {'masks_count': v})
        # Light around 100 lux, then around 300 after the 20th frame (the reference).
        monitoring.report_metric('light', {'lux': (100 if i < 20 else 300) + (i * 7) % 10})

what = sys.argv[1]
if what == 'drift':
    # 40 frames around 3 people, then 10 around 9.
    c3([3 + (i % 3) * 0.1 for i in range(40)] + [9.0] * 10)
elif what == 'c1':
    c1(float(sys.argv[2]))
elif what == 'c2':
    assert c2(float(sys.argv[2])) == 'done'
elif what == 'metric':
    monitoring.report_metric('masks', {'masks_count': 2, 'no_masks_count': int(sys.argv[2])})
monitoring.flush(5)
print(json.dumps(monitoring.stats()))
"#;

/// Runs one component (or metric report) as its own Python process, as the service runner
/// does: session and job start in the environment. Returns the reporter's counters.
fn python(dir: &Path, agent_port: u16, session: &str, args: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg(dir.join("pipeline.py"))
        .args(args)
        .env("PYTHONPATH", repo().join("python/aisprint"))
        .env("AISPRINT_AGENT_URL", format!("http://127.0.0.1:{agent_port}"))
        .env("UUID", session)
        .env(
            "AISPRINT_JOB_START",
            format!(
                "{:.6}",
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs_f64()
            ),
        )
        .output()
        .expect("python3");
    assert!(out.status.success(), "python: {}", text(&out.stderr));
    serde_json::from_str(text(&out.stdout).trim()).expect("stats")
}

/// Every batch of `edge-1`: what the controller stored, and what the (stopped) agent still
/// holds for it, by sequence number.
fn all_batches(mesh: &Mesh) -> Vec<MetricBatch> {
    let mut out = BTreeMap::new();
    let s = State::open(&mesh.dir.join("state/controller.redb")).expect("state");
    for b in s.batches_of("edge-1").expect("batches") {
        if let Some(x) = b.batch {
            out.insert(x.seq, x);
        }
    }
    let buf = aisprint_runtime::buffer::Buffer::open(
        &mesh.dir.join("buffers/edge-1.redb"),
        1 << 20,
        &["grpc"],
        1 << 30,
        aisprint_model::config::WhenFull::DropOldest,
    )
    .expect("buffer");
    for (seq, bytes) in buf.pending("grpc", 0, 1_000_000).expect("pending") {
        out.insert(seq, MetricBatch::decode(bytes.as_slice()).expect("batch"));
    }
    out.into_values().collect()
}

/// The execution records: (component, session) -> (job start, job end).
fn executions(batches: &[MetricBatch]) -> BTreeMap<(String, String), (f64, f64)> {
    let mut out = BTreeMap::new();
    for p in batches.iter().flat_map(|b| &b.points).filter(|p| p.measurement == "execution_time") {
        out.insert(
            (p.tags["component_name"].clone(), p.tags["session_id"].clone()),
            (p.fields["job_start_time"], p.fields["job_end_time"]),
        );
    }
    out
}

/// The checks the agent stored with their verdict: constraint -> [(check time ns, violated)].
fn checks(batches: &[MetricBatch]) -> BTreeMap<String, Vec<(i64, bool)>> {
    let mut out: BTreeMap<String, Vec<(i64, bool)>> = BTreeMap::new();
    for p in batches.iter().flat_map(|b| &b.points).filter(|p| p.measurement == "constraint_check") {
        out.entry(p.tags["constraint"].clone()).or_default().push((p.time_unix_ns, p.fields["violated"] == 1.0));
    }
    out
}

fn setup(dir: &Path, agent_http: u16, agent_udp: u16, receiver: u16) -> (Mesh, PathBuf) {
    setup_with_tcp(dir, agent_http, agent_udp, None, receiver)
}

fn setup_with_tcp(
    dir: &Path,
    agent_http: u16,
    agent_udp: u16,
    agent_tcp: Option<u16>,
    receiver: u16,
) -> (Mesh, PathBuf) {
    let mesh = Mesh::new(dir);
    mesh.issue("edge-1");
    std::fs::write(dir.join("pipeline.py"), PIPELINE).expect("write");
    std::fs::write(
        dir.join("qos_constraints_L1.yaml"),
        "system:\n  name: qos-test\n  local_constraints:\n    local_constraint_1:\n      component_name: c1\n      threshold: 0.2\n    local_constraint_2:\n      component_name: c2\n      threshold: 5\n  global_constraints:\n    global_constraint_1:\n      path_components:\n      - c1\n      - c2\n      threshold: 0.5\n  throughput_component: c2\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("monitoring_setup.yaml"),
        format!("monitoring:\n  metrics:\n    cpu: {{}}\n  time_period: 1s\n  parameters:\n    performance_metrics_time_window_width: 3s\n    default_notification_endpoint: http://127.0.0.1:{receiver}/ams-alert\n  alerts: {{}}\n"),
    )
    .expect("write");
    std::fs::write(
        dir.join("custom_setup.yaml"),
        format!("monitoring:\n  name: qos-test\n  metrics:\n    masks:\n      fields: [no_masks_count, masks_count]\n  alerts:\n    no_mask_detected:\n      condition:\n        metric:\n          name: masks\n          field: no_masks_count\n        threshold:\n          type: '>'\n          value: 1\n      every: 1s\n      notification_endpoint:\n        url: http://127.0.0.1:{receiver}/custom\n"),
    )
    .expect("write");
    let cfg = mesh.agent_config(
        "edge-1",
        None,
        60.0,
        &format!(
            "monitoring:\n  http: 127.0.0.1:{agent_http}\n  udp: 127.0.0.1:{agent_udp}\n{}  qos_constraints: [qos_constraints_L1.yaml]\n  monitoring_setup: monitoring_setup.yaml\n  custom_setup: custom_setup.yaml\n",
            agent_tcp.map(|p| format!("  tcp: 127.0.0.1:{p}\n")).unwrap_or_default()
        ),
    );
    (mesh, cfg)
}

fn named<'a>(got: &'a [Value], key: &str, name: &str) -> Vec<&'a Value> {
    got.iter().filter(|v| v.get(key).and_then(Value::as_str) == Some(name)).collect()
}

#[test]
fn constraints_alerts_and_notifications_through_outages() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let (agent_http, agent_udp, agent_tcp, rport) = (port(), port(), port(), port());
    let (mesh, cfg) = setup_with_tcp(dir, agent_http, agent_udp, Some(agent_tcp), rport);
    let got = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::start(rport, got.clone());
    let controller = mesh.controller();
    let agent = mesh.agent(&cfg, "agent.log");
    wait("the agent's endpoint", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", agent_http)).is_ok()
    });

    // Session s1: c1 takes 0.4 s (local threshold 0.2), c2 0.3 s: the path c1 -> c2 is over
    // its 0.5 s.
    let st = python(dir, agent_http, "s1", &["c1", "0.4"]);
    assert_eq!((st["sent"].as_u64(), st["dropped"].as_u64()), (Some(1), Some(0)), "{st}");
    python(dir, agent_http, "s1", &["c2", "0.3"]);
    wait("local and global notifications", Duration::from_secs(10), || {
        let g = got.lock().expect("lock");
        !named(&g, "constraint", "local_constraint_1").is_empty()
            && !named(&g, "constraint", "global_constraint_1").is_empty()
    });

    // The custom alert: 1 is not above the threshold 1, 3 is.
    python(dir, agent_http, "s1", &["metric", "1"]);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(named(&got.lock().expect("lock"), "custom_alert", "no_mask_detected").is_empty(), "1 > 1 fired");
    python(dir, agent_http, "s1", &["metric", "3"]);
    wait("the custom alert", Duration::from_secs(10), || {
        !named(&got.lock().expect("lock"), "custom_alert", "no_mask_detected").is_empty()
    });
    {
        let g = got.lock().expect("lock");
        let a = named(&g, "custom_alert", "no_mask_detected");
        assert_eq!(a[0]["value"], 3.0);
        let keys: Vec<&String> = a[0].as_object().expect("object").keys().collect();
        assert_eq!(keys, ["custom_alert", "value", "check_time", "status_timestamp"]);
    }

    // Malformed input is refused with a reason and counted; the agent keeps going.
    let (code, body) = http(agent_http, "POST", "/v1/records", "{not json");
    assert_eq!(code, 400);
    assert!(body.contains("expected {\\\"records\\\": [...]}"), "{body}");
    let (code, body) = http(
        agent_http,
        "POST",
        "/v1/records",
        r#"{"records": [{"type": "execution", "component_name": "c9", "session_id": "x", "function_start_time": 20, "job_end_time": 10}]}"#,
    );
    assert_eq!(code, 200);
    assert!(body.contains("records[0]") && body.contains("before `function_start_time`"), "{body}");
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    udp.send_to(b"execution_time,component_name=c1 job_end_time=oops\n", ("127.0.0.1", agent_udp)).expect("send");
    wait("refusals counted", Duration::from_secs(5), || {
        metric(agent_http, "aisprint_records_refused_total").is_some_and(|v| v >= 3.0)
    });
    assert_eq!(http(agent_http, "GET", "/health", "").0, 200);

    // InfluxDB lines, as Telegraf's listeners take them: over TCP and HTTP /write.
    let accepted = metric(agent_http, "aisprint_records_accepted_total").unwrap_or_default();
    let t = now_ns() as f64 / 1e9;
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", agent_tcp)).expect("tcp");
    writeln!(
        tcp,
        "execution_time,component_name=c9,session_id=t1 job_start_time={},function_start_time={},job_end_time={}",
        t - 2.0,
        t - 1.5,
        t - 1.0
    )
    .expect("tcp write");
    drop(tcp);
    let (code, body) = http(agent_http, "POST", "/write", "masks,camera=door masks_count=5i,no_masks_count=0i\n");
    assert_eq!(code, 204, "{body}");
    let (code, body) = http(agent_http, "POST", "/write", "masks masks_count=1i\nmasks,bad\n");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("partial write: 1 line(s) refused"), "{body}");
    wait("lines accepted", Duration::from_secs(5), || {
        metric(agent_http, "aisprint_records_accepted_total").is_some_and(|v| v >= accepted + 3.0)
    });

    // Outage: the receiver and the controller go away; a slow session comes; the checks go
    // on and the notifications wait in the outbox.
    let before = got.lock().expect("lock").len();
    let got = receiver.stop();
    controller.stop();
    let outage_start = now_ns();
    python(dir, agent_http, "s2", &["c1", "0.5"]);
    wait("the slow session checked while offline", Duration::from_secs(15), || {
        let (_, body) = http(agent_http, "GET", "/v1/qos", "");
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        v["statuses"]
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["name"] == "local_constraint_1" && s["state"] == "violated"))
    });
    wait("notifications kept in the outbox", Duration::from_secs(15), || {
        metric(agent_http, "aisprint_outbox_pending").is_some_and(|v| v >= 2.0)
    });
    let outage_end = now_ns();
    assert_eq!(got.lock().expect("lock").len(), before, "nothing arrives while the receiver is down");
    let receiver = Receiver::start(rport, got.clone());
    let controller = mesh.controller();
    wait("the outbox to drain", Duration::from_secs(30), || metric(agent_http, "aisprint_outbox_pending") == Some(0.0));
    // Let the last checks of s2 leave the window, then stop everything.
    std::thread::sleep(Duration::from_millis(4000));
    wait("the outbox to drain", Duration::from_secs(30), || metric(agent_http, "aisprint_outbox_pending") == Some(0.0));
    agent.stop();
    controller.stop();
    let got = receiver.stop();
    let got = got.lock().expect("lock").clone();

    let batches = all_batches(&mesh);
    let ex = executions(&batches);
    let checks = checks(&batches);
    let (c1_start, c1_end) = ex[&("c1".to_string(), "s1".to_string())];
    let (_, c2_end) = ex[&("c2".to_string(), "s1".to_string())];
    let (s2_start, s2_end) = ex[&("c1".to_string(), "s2".to_string())];
    assert!(c1_end - c1_start >= 0.4, "c1 took {}", c1_end - c1_start);

    // Every notification once: no two with the same constraint and check time, one check per
    // period apart, and exactly one per violated check the agent recorded.
    for name in ["local_constraint_1", "global_constraint_1"] {
        let n = named(&got, "constraint", name);
        let mut times: Vec<&str> = n.iter().map(|v| v["check_time"].as_str().expect("check_time")).collect();
        let all = times.len();
        times.sort();
        times.dedup();
        assert_eq!(times.len(), all, "{name}: a notification arrived twice");
        let violated = checks.get(name).map_or(0, |c| c.iter().filter(|x| x.1).count());
        assert_eq!(all, violated, "{name}: one notification per violated check");
        let stamps: Vec<i64> = {
            let mut s: Vec<i64> = n.iter().map(|v| v["status_timestamp"].as_i64().expect("ts")).collect();
            s.sort();
            s
        };
        for w in stamps.windows(2) {
            assert!(w[1] - w[0] >= 900_000_000, "{name}: two checks {} ns apart (period 1 s)", w[1] - w[0]);
        }
    }
    // Checked while the controller and the receiver were away.
    assert!(
        checks["local_constraint_1"].iter().any(|(t, v)| *v && (outage_start..outage_end).contains(t)),
        "no violated check during the outage ({outage_start}..{outage_end}): {:?}",
        checks["local_constraint_1"]
    );
    // The values: c1 alone (s1: its own duration; with s2 in the window: the mean of both).
    let local = named(&got, "constraint", "local_constraint_1");
    let (d1, d2) = (c1_end - c1_start, s2_end - s2_start);
    for v in &local {
        let x = v["value"].as_f64().expect("value");
        let ok = [d1, d2, (d1 + d2) / 2.0].iter().any(|want| (x - want).abs() < 1e-6);
        assert!(ok, "local value {x}, expected {d1}, {d2} or their mean");
    }
    assert!(
        local.iter().any(|v| (v["value"].as_f64().unwrap_or_default() - d2).abs() < 1e-6),
        "s2 alone was notified after the outage"
    );
    let global = named(&got, "constraint", "global_constraint_1");
    let want = c2_end - c1_start;
    assert!(want > 0.5);
    for v in &global {
        assert!((v["value"].as_f64().expect("value") - want).abs() < 1e-6, "global value {} != {want}", v["value"]);
    }
    // The lines became records like the others.
    assert!(ex.contains_key(&("c9".to_string(), "t1".to_string())), "the TCP line was stored");
    assert!(
        batches.iter().flat_map(|b| &b.points).any(|p| p.measurement == "masks"
            && p.tags.get("camera").map(String::as_str) == Some("door")
            && p.fields.get("masks_count") == Some(&5.0)),
        "the /write line was stored"
    );
    // c2's local constraint (5 s) is never violated.
    assert!(named(&got, "constraint", "local_constraint_2").is_empty());
    let log = mesh.log("agent.log");
    assert!(log.contains("records refused"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn reporting_never_blocks_nor_breaks_the_component_when_the_agent_is_absent() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(tmp.path().join("pipeline.py"), PIPELINE).expect("write");
    let port = port(); // nothing listens there
    let t = Instant::now();
    let st = python(tmp.path(), port, "s1", &["c2", "0"]);
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    assert_eq!((st["sent"].as_u64(), st["dropped"].as_u64()), (Some(0), Some(1)), "{st}");
}

#[test]
fn bad_rules_and_constraints_are_refused_before_the_agent_starts() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let (mesh, cfg) = setup(dir, port(), port(), port());
    std::fs::write(
        dir.join("custom_setup.yaml"),
        "monitoring:\n  alerts:\n    a:\n      condition:\n        metric: {name: masks, field: n}\n        threshold: {type: '>=', value: 1}\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("qos_constraints_L1.yaml"),
        "system:\n  name: x\n  local_constraints:\n    local_constraint_1:\n      component_name: c1\n      threshold: -1\n",
    )
    .expect("write");
    let out = Command::new(agent_bin())
        .args(["validate", "--config"])
        .arg(&cfg)
        .current_dir(&mesh.dir)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("custom_setup.yaml") && err.contains("monitoring.alerts.a.condition.threshold.type"), "{err}");
    assert!(
        err.contains("qos_constraints_L1.yaml")
            && err.contains("system.local_constraints.local_constraint_1.threshold"),
        "{err}"
    );
}

#[test]
fn paths_across_nodes_are_checked_by_the_controller() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
    let (rport, mport) = (port(), port());
    std::fs::write(dir.join("pipeline.py"), PIPELINE).expect("write");
    std::fs::write(
        dir.join("qos_deployment.yaml"),
        "system:\n  name: qos-test\n  local_constraints:\n    local_constraint_1:\n      component_name: c1\n      threshold: 0.2\n  global_constraints:\n    global_constraint_1:\n      path_components: [c1, c2]\n      threshold: 0.5\n",
    )
    .expect("write");
    std::fs::write(dir.join("l1.yaml"), "system:\n  name: qos-test\n  local_constraints:\n    local_constraint_1:\n      component_name: c1\n      threshold: 0.2\n").expect("write");
    std::fs::write(dir.join("l2.yaml"), "system:\n  name: qos-test\n  local_constraints:\n    local_constraint_1:\n      component_name: c2\n      threshold: 5\n").expect("write");
    std::fs::write(
        dir.join("monitoring_setup.yaml"),
        format!("monitoring:\n  time_period: 1s\n  parameters:\n    performance_metrics_time_window_width: 5s\n    default_notification_endpoint: http://127.0.0.1:{rport}/ams-alert\n"),
    )
    .expect("write");
    let mut cfg = std::fs::read_to_string(dir.join("controller.yaml")).expect("read");
    cfg.push_str(&format!("monitoring:\n  qos_constraints: [qos_deployment.yaml]\n  monitoring_setup: monitoring_setup.yaml\n  http: 127.0.0.1:{mport}\n"));
    std::fs::write(dir.join("controller.yaml"), cfg).expect("write");
    let got = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::start(rport, got.clone());
    let controller = mesh.controller();
    let mut agents = Vec::new();
    let mut ports = Vec::new();
    for (node, qos) in [("n1", "l1.yaml"), ("n2", "l2.yaml")] {
        mesh.issue(node);
        let p = port();
        let cfg = mesh.agent_config(
            node,
            None,
            2.0,
            &format!("monitoring:\n  http: 127.0.0.1:{p}\n  qos_constraints: [{qos}]\n  monitoring_setup: monitoring_setup.yaml\n  notification_endpoint: http://127.0.0.1:{rport}/from-{node}\n"),
        );
        agents.push(mesh.agent(&cfg, &format!("{node}.log")));
        ports.push(p);
    }
    for p in &ports {
        wait("the agent's endpoint", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok()
        });
    }
    // One session: c1 on n1 (0.4 s), then c2 on n2 (0.3 s).
    python(dir, ports[0], "x1", &["c1", "0.4"]);
    python(dir, ports[1], "x1", &["c2", "0.3"]);
    let status = || -> Value {
        let r = crate::support::aisprint(dir, &["qos", "status", "--config", "controller.yaml", "--json"]);
        assert!(r.status.success(), "{}", text(&r.stderr));
        serde_json::from_str(&text(&r.stdout)).expect("json")
    };
    let find = |v: &Value, source: &str, name: &str| -> Option<Value> {
        v["constraints"].as_array()?.iter().find(|c| c["source"] == source && c["name"] == name).cloned()
    };
    wait("the controller's check of the path", Duration::from_secs(20), || {
        find(&status(), "controller", "global_constraint_1").is_some_and(|c| c["state"] == "violated")
    });
    wait("the controller's notification", Duration::from_secs(20), || {
        !named(&got.lock().expect("lock"), "constraint", "global_constraint_1").is_empty()
    });
    let st = status();
    let local = find(&st, "n1", "local_constraint_1").expect("n1's own check");
    assert_eq!(local["state"], "violated");
    assert!(find(&st, "controller", "local_constraint_1").is_none(), "local constraints are the agents'");
    let global = find(&st, "controller", "global_constraint_1").expect("controller's check");
    let table = text(&crate::support::aisprint(dir, &["qos", "status", "--config", "controller.yaml"]).stdout);
    assert!(table.contains("SOURCE") && table.contains("controller") && table.contains("c1 -> c2"), "{table}");

    let (_, metrics) = http(mport, "GET", "/metrics", "");
    assert!(
        metrics.contains("aisprint_qos_violated{source=\"controller\",constraint=\"global_constraint_1\""),
        "{metrics}"
    );
    assert!(metrics.contains("aisprint_agent_connected{node=\"n1\""), "{metrics}");
    assert!(metrics.contains("aisprint_host_cpu_usage_percent{cpu=\"cpu-total\",node=\"n2\"}"), "{metrics}");

    for a in agents {
        a.stop();
    }
    controller.stop();
    let got = receiver.stop();
    let got = got.lock().expect("lock").clone();
    // The value is the session's end to end time: c2's end on n2 minus c1's job start on n1.
    let s = State::open(&dir.join("state/controller.redb")).expect("state");
    let rec = |node: &str| -> (f64, f64) {
        let b = s.batches_of(node).expect("batches");
        let p = b
            .iter()
            .flat_map(|b| b.batch.iter().flat_map(|x| &x.points))
            .find(|p| p.measurement == "execution_time")
            .expect("record");
        (p.fields["job_start_time"], p.fields["job_end_time"])
    };
    let want = rec("n2").1 - rec("n1").0;
    assert!((global["value"].as_f64().expect("value") - want).abs() < 1e-6, "{global} vs {want}");
    for n in named(&got, "constraint", "global_constraint_1") {
        assert!((n["value"].as_f64().expect("value") - want).abs() < 1e-6, "{n} vs {want}");
    }
}

#[test]
fn drift_and_infrastructure_alerts_reach_their_endpoints() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let (agent_http, rport) = (port(), port());
    let (mesh, _) = setup(dir, agent_http, port(), rport);
    // Host metrics every 0.5 s; an infrastructure alert that always holds (CPU use within
    // [0, 100]) every second, and the same to an endpoint where nobody listens: its
    // notifications wait in the outbox without holding up the others.
    let dead = port();
    std::fs::write(
        dir.join("monitoring_setup.yaml"),
        format!("monitoring:\n  metrics:\n    cpu: {{}}\n  time_period: 1s\n  parameters:\n    default_notification_endpoint: http://127.0.0.1:{rport}/ams-alert\n  alerts:\n    cpu_dead:\n      condition:\n        metric: {{name: cpu, field: usage_percent}}\n        threshold: {{type: range, value: [0, 100]}}\n      every: 1s\n      notification_endpoint: {{url: 'http://127.0.0.1:{dead}/x'}}\n    cpu_any:\n      condition:\n        metric: {{name: cpu, field: usage_percent}}\n        threshold: {{type: range, value: [0, 100]}}\n      every: 1s\n"),
    )
    .expect("write");
    let cfg = mesh.agent_config(
        "edge-1",
        None,
        0.5,
        &format!("monitoring:\n  http: 127.0.0.1:{agent_http}\n  monitoring_setup: monitoring_setup.yaml\n"),
    );
    let got = Arc::new(Mutex::new(Vec::new()));
    let receiver = Receiver::start(rport, got.clone());
    let agent = mesh.agent(&cfg, "agent.log");
    wait("the agent's endpoint", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", agent_http)).is_ok()
    });
    let st = python(dir, agent_http, "d1", &["drift"]);
    assert_eq!(st["sent"].as_u64(), Some(101), "{st}"); // 50 values of each metric and the watch
    wait("the drift alert and an infrastructure alert", Duration::from_secs(10), || {
        let g = got.lock().expect("lock");
        !named(&g, "drift_alert", "masks.masks_count").is_empty() && !named(&g, "alert", "cpu_any").is_empty()
    });
    wait("several alerts past the waiting ones", Duration::from_secs(10), || {
        named(&got.lock().expect("lock"), "alert", "cpu_any").len() >= 3
    });
    assert!(metric(agent_http, "aisprint_outbox_pending").is_some_and(|v| v >= 1.0), "cpu_dead's wait in the outbox");
    agent.stop();
    let got = receiver.stop();
    let g = got.lock().expect("lock");
    assert!(named(&g, "alert", "cpu_dead").is_empty());
    let d = named(&g, "drift_alert", "masks.masks_count");
    assert_eq!(d.len(), 1, "one drift: {d:?}");
    assert_eq!((d[0]["component"].as_str(), d[0]["direction"].as_str()), (Some("c3"), Some("increase")));
    assert_eq!(d[0]["value"], 9.0);
    assert_eq!(d[0]["test"], "page-hinkley");
    // The second metric of the same annotation, with its own test: Kolmogorov-Smirnov between
    // the first 20 values and the next 20 (tested once 20 new values are in).
    let l = named(&g, "drift_alert", "light.lux");
    assert_eq!(l.len(), 1, "one drift: {l:?}");
    assert_eq!((l[0]["test"].as_str(), l[0]["direction"].as_str()), (Some("kolmogorov-smirnov"), Some("increase")));
    assert!(l[0]["p_value"].as_f64().is_some_and(|p| p < 0.01), "{}", l[0]);
    let now = l[0]["status_timestamp"].as_f64().expect("status_timestamp") / 1e9;
    let until = l[0]["collect_until"].as_f64().expect("collect_until") - now;
    assert!((3590.0..=3610.0).contains(&until), "data collected for an hour after the drift: {}", l[0]);
    let a = named(&g, "alert", "cpu_any");
    let v = a[0]["value"].as_f64().expect("value");
    assert!((0.0..=100.0).contains(&v), "{v}");
}
