//! The agent mesh with real processes on loopback: `aisprint controller serve` and
//! `aisprint-agent run`, mutual TLS with certificates from `aisprint certs`, outages of the
//! controller, agents killed with SIGKILL. Each scenario checks what the controller stored:
//! every committed batch once, in order, none lost.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::mesh::Mesh;
use crate::support::{aisprint, text};
use crate::support::{port, Proc};

/// Every sequence number from 1 to the last committed one, each once, in order.
fn assert_complete(stored: &[(String, u64, bool)], next_seq: u64, what: &str) {
    let seqs: Vec<u64> = stored.iter().map(|x| x.1).collect();
    let unique: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), seqs.len(), "{what}: duplicates stored");
    let want: Vec<u64> = (1..next_seq).collect();
    let got: Vec<u64> = unique.into_iter().collect();
    assert_eq!(got, want, "{what}: batches missing");
}

/// Waits (bounded) until the agent's heartbeat-free condition holds: here, until the
/// controller's `agents list` shows `n` batches for `node`.
fn wait_batches(mesh: &Mesh, node: &str, at_least: u64, limit: Duration) -> u64 {
    let t = Instant::now();
    loop {
        let r = aisprint(&mesh.dir, &["agents", "list", "--config", "controller.yaml"]);
        let out = text(&r.stdout);
        let n = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(node))
            .and_then(|l| l.split_whitespace().nth(4))
            .and_then(|x| x.parse::<u64>().ok())
            .unwrap_or(0);
        if n >= at_least || t.elapsed() > limit {
            return n;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn batches_arrive_once_and_in_order_through_outages_and_kills() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mesh = Mesh::new(tmp.path());
    mesh.issue("rpi-1");
    let cfg = mesh.agent_config("rpi-1", None, 0.05, "");

    // 1. The controller is down: the agent keeps collecting into its buffer.
    let agent = mesh.agent(&cfg, "agent.log");
    std::thread::sleep(Duration::from_millis(1500));
    agent.stop();
    let (kept, next) = mesh.buffer("rpi-1");
    assert!(kept >= 10 && kept == next - 1, "kept {kept} of {}", next - 1);

    // 2. The controller comes up: live batches and the backlog (marked backfill) arrive.
    let controller = mesh.controller();
    let agent = mesh.agent(&cfg, "agent.log");
    let seen = wait_batches(&mesh, "rpi-1", next + 10, Duration::from_secs(30));
    assert!(seen >= next + 10, "only {seen} batches reached the controller");

    // 3. The agent is killed with SIGKILL 20 times, while it writes and replays.
    agent.kill9();
    for i in 0..20 {
        let a = mesh.agent(&cfg, "agent.log");
        std::thread::sleep(Duration::from_millis(150 + 37 * (i % 5)));
        a.kill9();
    }
    // 4. The controller is killed (SIGKILL) and comes back while the agent runs: what it
    // acknowledged was committed before.
    let agent = mesh.agent(&cfg, "agent.log");
    std::thread::sleep(Duration::from_millis(500));
    controller.kill9();
    std::thread::sleep(Duration::from_millis(800));
    let controller = mesh.controller();
    std::thread::sleep(Duration::from_millis(500));
    // Stop collecting, then let the agent drain what it holds.
    agent.stop();
    let (_, next) = mesh.buffer("rpi-1");
    let agent = mesh.agent(&mesh.agent_config("rpi-1", None, 3600.0, ""), "agent.log");
    let drained = wait_batches(&mesh, "rpi-1", next - 1, Duration::from_secs(30));
    assert!(drained >= next - 1, "{drained} of {} delivered", next - 1);
    std::thread::sleep(Duration::from_millis(300));
    agent.stop();
    controller.stop();

    let (kept, next_after) = mesh.buffer("rpi-1");
    let stored = mesh.stored("rpi-1");
    // The drain run collected one more batch at start.
    assert_complete(&stored, next_after, "after outages and 20 kills");
    assert_eq!(kept, 0, "the buffer still holds batches the controller confirmed");
    assert!(stored.iter().any(|b| b.2), "no batch was marked as backfill");
    assert!(stored.iter().any(|b| !b.2), "no batch was live");
}

#[test]
fn foreign_certificates_and_forged_node_ids_are_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mesh = Mesh::new(tmp.path());
    mesh.issue("rpi-1");
    // Another CA's certificate for the same name.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    assert!(aisprint(&other, &["certs", "init", "--dir", "."]).status.success());
    assert!(aisprint(&other, &["certs", "issue", "--dir", ".", "--node", "rpi-1"]).status.success());
    let _controller = mesh.controller();

    let foreign = mesh.agent_config("rpi-1", Some(("certs/ca.pem", "other/rpi-1.pem", "other/rpi-1.key")), 0.1, "");
    let a = mesh.agent(&foreign, "foreign.log");
    std::thread::sleep(Duration::from_millis(1500));
    a.stop();
    // rpi-1's certificate, claiming to be rpi-2.
    let forged = mesh.agent_config("rpi-2", Some(("certs/ca.pem", "certs/rpi-1.pem", "certs/rpi-1.key")), 0.1, "");
    let a = mesh.agent(&forged, "forged.log");
    std::thread::sleep(Duration::from_millis(1500));
    a.stop();

    let list = text(&aisprint(&mesh.dir, &["agents", "list", "--config", "controller.yaml"]).stdout);
    assert!(!list.contains("rpi-1 ") && !list.contains("rpi-2 "), "{list}");
    assert!(
        mesh.log("forged.log").contains("the certificate names `rpi-1`, not `rpi-2`"),
        "{}",
        mesh.log("forged.log")
    );
    assert!(mesh.log("foreign.log").contains("controller unreachable"), "{}", mesh.log("foreign.log"));
    // Both kept their batches for later.
    assert!(mesh.buffer("rpi-1").0 > 0 && mesh.buffer("rpi-2").0 > 0);
}

/// A Mosquitto broker on a loopback port (the Debian package), with its config in `dir`.
fn mosquitto(dir: &Path, port: u16) -> Proc {
    let conf = dir.join("mosquitto.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"))
        .expect("conf");
    let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("mosquitto is not installed (apt-get install mosquitto mosquitto-clients; .ci/run does it)");
    let child = Command::new(bin)
        .args(["-c", conf.to_str().expect("path")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto");
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "mosquitto did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Proc(child)
}

/// `mosquitto_sub` (the broker's own client, not ours) writing `topic payload` lines.
fn subscriber(dir: &Path, port: u16, out: &str) -> Proc {
    let f = std::fs::File::create(dir.join(out)).expect("out");
    let p = Proc(
        Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-v", "-t", "aisprint/#"])
            .stdout(f)
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub"),
    );
    std::thread::sleep(Duration::from_millis(300));
    p
}

/// (topic, seq, backfill) of the batches in a subscriber's output.
fn received(text: &str) -> Vec<(String, u64, bool)> {
    text.lines()
        .filter_map(|l| {
            let (topic, payload) = l.split_once(' ')?;
            let v: serde_json::Value = serde_json::from_str(payload).ok()?;
            Some((topic.to_string(), v["seq"].as_u64()?, v["backfill"].as_bool()?))
        })
        .collect()
}

#[test]
fn mqtt_subscribers_see_every_batch_through_a_broker_outage() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mesh = Mesh::new(tmp.path());
    mesh.issue("rpi-1");
    let port = port();
    let broker = mosquitto(tmp.path(), port);
    let sub1 = subscriber(tmp.path(), port, "sub1.txt");
    let _controller = mesh.controller();
    let mqtt = format!("mqtt:\n  host: 127.0.0.1\n  port: {port}\n");
    let cfg = mesh.agent_config("rpi-1", None, 0.05, &mqtt);
    let agent = mesh.agent(&cfg, "agent.log");
    std::thread::sleep(Duration::from_millis(1000));
    // The broker goes away for a while (and the subscriber with it); the agent keeps
    // collecting, then restarts. The broker comes back, a subscriber is there before the agent
    // reconnects (MQTT keeps nothing for subscribers that are not there), and the agent
    // replays what the broker never confirmed.
    broker.stop();
    sub1.stop();
    std::thread::sleep(Duration::from_millis(1000));
    agent.stop();
    let _broker = mosquitto(tmp.path(), port);
    let sub2 = subscriber(tmp.path(), port, "sub2.txt");
    let agent = mesh.agent(&cfg, "agent.log");
    std::thread::sleep(Duration::from_millis(2500));
    agent.stop();
    std::thread::sleep(Duration::from_millis(300));
    sub2.stop();

    let (kept, next) = mesh.buffer("rpi-1");
    let mut got = received(&mesh.log("sub1.txt"));
    let after = received(&mesh.log("sub2.txt"));
    assert!(after.iter().any(|x| x.2 && x.0 == "aisprint/rpi-1/backfill"), "no backfill after the outage");
    assert!(after.iter().any(|x| !x.2 && x.0 == "aisprint/rpi-1/metrics"), "no live batch after the outage");
    got.extend(after);
    // Every batch the agent let go of reached a subscriber; duplicates are detectable by seq.
    let seqs: BTreeSet<u64> = got.iter().map(|x| x.1).collect();
    let confirmed_upto = next - 1 - kept;
    for s in 1..=confirmed_upto {
        assert!(seqs.contains(&s), "batch {s} confirmed by the broker but seen by no subscriber");
    }
    assert!(confirmed_upto >= 20, "only {confirmed_upto} batches confirmed");
    // The retained status: `offline` after the agent left.
    let st = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", "aisprint/rpi-1/status", "-C", "1", "-W", "5"])
        .output()
        .expect("mosquitto_sub");
    assert_eq!(text(&st.stdout).trim(), "offline");
}

/// A long outage (time-compressed: 20 ms period) fills a small buffer; each policy keeps its
/// promise and says what it gave up. Two agents deliver at once afterwards.
#[test]
fn a_full_buffer_drops_the_oldest_or_stops_collecting_as_configured() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mesh = Mesh::new(tmp.path());
    // Both sinks down: the controller, and an MQTT broker that is not there yet.
    let mqtt_port = port();
    let mqtt = format!("mqtt:\n  host: 127.0.0.1\n  port: {mqtt_port}\n");
    for (node, policy) in [("drop", "drop_oldest"), ("stop", "stop_collecting")] {
        mesh.issue(node);
        let extra = format!("  max_bytes: 65536\n  when_full: {policy}\n{mqtt}");
        let cfg = mesh.agent_config(node, None, 0.05, &extra);
        // Every family: larger batches fill the buffer sooner.
        let text = std::fs::read_to_string(&cfg).expect("read");
        std::fs::write(
            &cfg,
            text.replace("[cpu, mem, system]", "[cpu, mem, swap, processes, system, kernel, disk, diskio, net]"),
        )
        .expect("write");
        let a = mesh.agent(&cfg, &format!("{node}.log"));
        std::thread::sleep(Duration::from_millis(5000));
        a.stop();
    }
    let stats = |node: &str| {
        let b = aisprint_runtime::buffer::Buffer::open(
            &tmp.path().join(format!("buffers/{node}.redb")),
            1 << 20,
            &["grpc"],
            65536,
            aisprint_model::config::WhenFull::DropOldest,
        )
        .expect("buffer");
        b.stats().expect("stats")
    };
    let (drop, stop) = (stats("drop"), stats("stop"));
    assert!(drop.dropped > 0 && drop.bytes <= 65536, "{drop:?}");
    assert!(stop.skipped > 0 && stop.dropped == 0 && stop.bytes <= 65536, "{stop:?}");

    // Both deliver at once when the controller and the broker are back (collecting no more).
    let controller = mesh.controller();
    let _broker = mosquitto(tmp.path(), mqtt_port);
    // Each keeps its policy: the batch collected at start-up would otherwise push the oldest
    // out of a buffer that stop_collecting left full.
    let agents: Vec<Proc> = [("drop", "drop_oldest"), ("stop", "stop_collecting")]
        .iter()
        .map(|(n, policy)| {
            let drain = format!("  max_bytes: 65536\n  when_full: {policy}\n{mqtt}");
            mesh.agent(&mesh.agent_config(n, None, 3600.0, &drain), &format!("{n}.log"))
        })
        .collect();
    // Until both have delivered what they hold (the counts settle), bounded.
    let (mut last, mut still, t) = (0, 0, Instant::now());
    while t.elapsed() < Duration::from_secs(30) && still < 3 {
        let now = wait_batches(&mesh, "drop", 0, Duration::ZERO) + wait_batches(&mesh, "stop", 0, Duration::ZERO);
        still = if now == last && now >= drop.batches + stop.batches { still + 1 } else { 0 };
        last = now;
        std::thread::sleep(Duration::from_millis(300));
    }
    // The broker's confirmations come as fast; a moment for the last ones.
    std::thread::sleep(Duration::from_millis(1000));
    for a in agents {
        a.stop();
    }
    controller.stop();
    // drop_oldest: exactly the newest batches (all after the dropped ones), none twice; the
    // drop counter matches the gap.
    let after = stats("drop");
    let seqs: Vec<u64> = mesh.stored("drop").iter().map(|x| x.1).collect();
    let expect: Vec<u64> = (after.dropped + 1..after.next_seq).collect();
    assert_eq!(seqs, expect, "drop_oldest: not the newest batches");
    assert!(after.dropped >= drop.dropped && after.batches == 0);
    // stop_collecting: everything committed, no gap.
    let (_, next) = mesh.buffer("stop");
    assert_complete(&mesh.stored("stop"), next, "stop_collecting");
}

/// With no broker of its own, the mesh uses the one embedded in the controller (rumqttd);
/// Mosquitto's own client subscribes to it.
#[test]
fn the_controller_embeds_a_broker_when_asked() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mesh = Mesh::new(tmp.path());
    mesh.issue("rpi-1");
    let mqtt_port = port();
    let cfg_path = tmp.path().join("controller.yaml");
    let mut text = std::fs::read_to_string(&cfg_path).expect("read");
    text.push_str(&format!("mqtt_broker:\n  listen: 127.0.0.1:{mqtt_port}\n"));
    std::fs::write(&cfg_path, text).expect("write");
    let controller = mesh.controller();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", mqtt_port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "the embedded broker did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sub = subscriber(tmp.path(), mqtt_port, "sub.txt");
    let cfg = mesh.agent_config("rpi-1", None, 0.05, &format!("mqtt:\n  host: 127.0.0.1\n  port: {mqtt_port}\n"));
    let agent = mesh.agent(&cfg, "agent.log");
    std::thread::sleep(Duration::from_millis(2000));
    agent.stop();
    std::thread::sleep(Duration::from_millis(300));
    sub.stop();
    controller.stop();
    let out = mesh.log("sub.txt");
    assert!(out.lines().any(|l| l == "aisprint/rpi-1/status online"), "{out}");
    // Live batches and the one or two stored before the sink connected (sent as backfill).
    let mut seqs: Vec<u64> =
        received(&out).into_iter().filter(|x| x.0.starts_with("aisprint/rpi-1/")).map(|x| x.1).collect();
    assert!(seqs.len() >= 10, "{} batches", seqs.len());
    seqs.sort_unstable();
    let (kept, next) = mesh.buffer("rpi-1");
    // Everything the agent let go of came through, once (and perhaps a last one the broker
    // confirmed while the controller had not yet).
    let unique: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), seqs.len(), "duplicates: {seqs:?}");
    assert!((1..next - kept).all(|s| unique.contains(&s)), "missing: {seqs:?}");
    assert!(unique.iter().all(|&s| s < next), "{seqs:?}");
}
