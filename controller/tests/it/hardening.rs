//! The security review's reproductions (docs/security.md), against the real controller and
//! agents on loopback: each is refused, and what else runs is not disturbed.

use std::time::Duration;

use aisprint_proto::v1::MetricBatch;

use crate::support::mesh::{command, count_files, drop_file, names_in, Mesh};
use crate::support::{aisprint, http_post, port, text, wait};

/// H3: a file shipped off the routes of the FDLs is refused (kept by its sender, never written
/// on the receiver), whatever bucket it names; a file the receiver holds is never replaced.
#[test]
fn files_go_only_along_the_routes_and_a_held_file_is_never_replaced() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
    std::fs::create_dir_all(dir.join("pipeline")).expect("mkdir");
    // Every blur output has the same name: the second one is another file under a name the
    // receiver already holds.
    std::fs::write(dir.join("pipeline/blur.sh"), "cat \"$INPUT_FILE_PATH\" > \"$TMP_OUTPUT_DIR/same.txt\"\n")
        .expect("write");
    std::fs::write(dir.join("pipeline/mask.sh"), "cp \"$INPUT_FILE_PATH\" \"$TMP_OUTPUT_DIR/\"\n").expect("write");
    std::fs::write(
        dir.join("pipeline/fdl.yaml"),
        "functions:\n  oscar:\n  - edge:\n      name: blur\n      script: blur.sh\n      input:\n      - path: blur/input\n      output:\n      - storage_provider: minio.cloud\n        path: mask/input\n  - cloud:\n      name: mask\n      script: mask.sh\n      input:\n      - path: mask/input\n      output:\n      - path: mask/output\n",
    )
    .expect("write");
    // A node whose own FDL sends into cloud's buckets: no applied FDL and nothing cloud
    // declared says it may.
    std::fs::write(dir.join("rogue.sh"), "cp \"$INPUT_FILE_PATH\" \"$TMP_OUTPUT_DIR/\"\n").expect("write");
    std::fs::write(
        dir.join("rogue-fdl.yaml"),
        "functions:\n  oscar:\n  - rogue:\n      name: r\n      script: rogue.sh\n      input:\n      - path: r/input\n      output:\n      - storage_provider: minio.cloud\n        path: mask/input\n      - storage_provider: minio.cloud\n        path: junk/a\n",
    )
    .expect("write");
    let controller = mesh.controller();
    let agents = mesh.service_agents(&["edge", "cloud"]);
    mesh.issue("rogue");
    let rogue_cfg = mesh.agent_config(
        "rogue",
        None,
        60.0,
        "services:\n  fdl: [rogue-fdl.yaml]\n  cluster: rogue\n  buckets: buckets/rogue\n  state: state/rogue\n",
    );
    let rogue = mesh.agent(&rogue_cfg, "rogue.log");
    let r = aisprint(dir, &["oscar", "apply", "--fdl", "pipeline/fdl.yaml", "--config", "controller.yaml"]);
    assert!(r.status.success(), "{}{}", text(&r.stdout), text(&r.stderr));

    let (edge_in, cloud_in, cloud_out) = (
        dir.join("buckets/edge/blur/input"),
        dir.join("buckets/cloud/mask/input"),
        dir.join("buckets/cloud/mask/output"),
    );
    wait("the buckets", Duration::from_secs(20), || edge_in.is_dir() && cloud_out.is_dir());
    drop_file(&edge_in, "a.txt", "A");
    wait("the first file through", Duration::from_secs(30), || names_in(&cloud_out) == ["same.txt"]);
    // The rogue's outputs: refused by the controller, kept in the rogue's outbox.
    drop_file(&dir.join("buckets/rogue/r/input"), "x.txt", "from the rogue");
    wait("the rogue's two outputs held back", Duration::from_secs(30), || {
        count_files(&dir.join("state/rogue/outbox")) == 2 && mesh.log("controller.log").contains("file refused")
    });
    // A second `same.txt`, another content: refused for good by the receiver, set aside on
    // the sender.
    drop_file(&edge_in, "b.txt", "B");
    wait("the second same.txt set aside", Duration::from_secs(30), || {
        count_files(&dir.join("state/edge/undeliverable")) == 1
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(std::fs::read_to_string(cloud_in.join("same.txt")).expect("held"), "A", "never replaced");
    assert_eq!(names_in(&cloud_in), ["same.txt"], "nothing from the rogue");
    assert!(!dir.join("buckets/cloud/junk").exists(), "no bucket made by the rogue");
    assert_eq!(count_files(&dir.join("state/rogue/outbox")), 2, "the rogue keeps what was refused");
    let log = mesh.log("controller.log");
    assert!(log.contains("no FDL sends files from `rogue` into bucket `junk/a` of cluster `cloud`"), "{log}");
    // The pipeline goes on.
    drop_file(&edge_in, "c.txt", "C");
    wait("c's same.txt, another file too, set aside", Duration::from_secs(30), || {
        count_files(&dir.join("state/edge/undeliverable")) == 2
    });
    rogue.stop();
    for a in agents {
        a.stop();
    }
    controller.stop();
}

/// H2: the mesh's own measurement names are refused at an agent's local endpoint, and an
/// answer to a command is taken only from the node it went to.
#[test]
fn control_points_cannot_be_forged() {
    use aisprint_proto::commands::{AgentCommand, Drain};
    use aisprint_proto::v1::agent_service_client::AgentServiceClient;
    use aisprint_proto::v1::CommandResultRequest;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
    let controller = mesh.controller();
    mesh.issue("n1");
    mesh.issue("rogue");
    let http = port();
    let cfg = mesh.agent_config("n1", None, 60.0, &format!("monitoring:\n  http: 127.0.0.1:{http}\n"));
    let agent = mesh.agent(&cfg, "n1.log");
    wait("the agent's endpoint", Duration::from_secs(20), || std::net::TcpStream::connect(("127.0.0.1", http)).is_ok());
    for name in ["command_result", "oscar_job", "constraint_check", "throughput", "ams_notification"] {
        let body = format!(
            r#"{{"records":[{{"type":"metric","name":"{name}","tags":{{"command":"services.apply-1-0","message":"applied"}},"fields":{{"ok":1}},"time":1}},{{"type":"metric","name":"fine","fields":{{"v":1}},"time":1}}]}}"#
        );
        let (code, answer) = http_post(http, "/v1/records", &body);
        assert_eq!(code, 200, "{answer}");
        assert!(answer.contains(r#""accepted":1"#), "the other record is kept: {answer}");
        assert!(answer.contains(&format!("measurement `{name}` is reserved")), "{answer}");
    }

    // An answer pushed by another node for a command that went elsewhere is not taken.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        use aisprint_controller::mesh::admin;
        let mut a = admin::connect_with(&dir.join("controller.yaml")).await.expect("admin");
        let cmd = AgentCommand::BucketDrain(Drain { bucket: "x/y".into(), timeout_s: 1.0 });
        let sent = a.send_command(cmd.to_request("ghost")).await.expect("send").into_inner();
        assert!(!sent.sent);
        let id = sent.command_id;
        let hex = id.rsplit('-').next().unwrap_or_default();
        assert_eq!(hex.len(), 32, "128 random bits: {id}");
        let pem = |f: &str| std::fs::read(dir.join("certs").join(f)).expect("cert");
        let tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(pem("ca.pem")))
            .identity(tonic::transport::Identity::from_pem(pem("rogue.pem"), pem("rogue.key")));
        let ch = tonic::transport::Channel::from_shared(format!("https://127.0.0.1:{}", mesh.port))
            .expect("url")
            .tls_config(tls)
            .expect("tls")
            .connect()
            .await
            .expect("connect");
        let mut c = AgentServiceClient::new(ch);
        let forged = aisprint_proto::commands::Reply {
            command: id.clone(),
            ok: true,
            transient: false,
            message: "applied".into(),
        };
        let batch = MetricBatch {
            node_id: "rogue".into(),
            boot_id: "b1".into(),
            seq: 1,
            points: vec![forged.to_point(1)],
            ..Default::default()
        };
        let mut acks = c.push_batches(tokio_stream::iter(vec![batch])).await.expect("push").into_inner();
        let ack = acks.message().await.expect("ack").expect("one ack");
        assert_eq!(ack.seq, 1, "stored like any batch");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let r = a.command_result(CommandResultRequest { command_id: id }).await.expect("result").into_inner();
        assert!(!r.known, "a forged answer was taken: {r:?}");
    });
    agent.stop();
    controller.stop();
    assert!(mesh.log("controller.log").contains("an answer to a command that did not go to this node"));
}

/// H1 and M1: one record with a huge tag or thousands of fields is refused with the limit it
/// broke, a flood of them leaves the agent small, and the good records of the same requests
/// reach the controller.
#[test]
fn a_flood_of_oversized_records_is_refused_and_the_agent_stays_small() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
    let controller = mesh.controller();
    mesh.issue("n1");
    let http = port();
    let cfg = mesh.agent_config("n1", None, 60.0, &format!("monitoring:\n  http: 127.0.0.1:{http}\n"));
    let agent = mesh.agent(&cfg, "n1.log");
    wait("the agent's endpoint", Duration::from_secs(20), || std::net::TcpStream::connect(("127.0.0.1", http)).is_ok());
    let rss = || {
        let s = std::fs::read_to_string(format!("/proc/{}/status", agent.0.id())).expect("status");
        s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
    };
    let before = rss().expect("rss");
    // The issue's one: a 10 KB tag and 10,000 fields (it took the agent from 12.6 to 118 MB).
    let fields: Vec<String> = (0..10_000).map(|i| format!(r#""f{i}":1"#)).collect();
    let wide = format!(
        r#"{{"records":[{{"type":"metric","name":"m","tags":{{"t":"{}"}},"fields":{{{}}},"time":1}},{{"type":"metric","name":"kept","fields":{{"v":1}},"time":1}}]}}"#,
        "x".repeat(10_000),
        fields.join(",")
    );
    let (code, answer) = http_post(http, "/v1/records", &wide);
    assert_eq!(code, 200, "{answer}");
    assert!(answer.contains("10000 fields; the limit is 256") && answer.contains(r#""accepted":1"#), "{answer}");
    // The review's M1 body: a 1.9 MB tag, sixty times.
    let long = format!(
        r#"{{"records":[{{"type":"metric","name":"p","tags":{{"t":"{}"}},"fields":{{"v":1}},"time":1}}]}}"#,
        "x".repeat(1_900_000)
    );
    for _ in 0..60 {
        let (_, answer) = http_post(http, "/v1/records", &long);
        assert!(answer.contains("the value of tag `t` is 1900000 bytes long; the limit is 1024"), "{answer}");
    }
    // Many distinct series (each within the limits) do not grow the agent without bound either.
    for i in 0..10 {
        let recs: Vec<String> = (0..20)
            .map(|j| {
                let tags: Vec<String> = (0..32).map(|t| format!(r#""t{t}":"{}{i}-{j}""#, "v".repeat(1000))).collect();
                let fields: Vec<String> = (0..256).map(|f| format!(r#""f{f}":1"#)).collect();
                format!(
                    r#"{{"type":"metric","name":"s{i}","tags":{{{}}},"fields":{{{}}},"time":1}}"#,
                    tags.join(","),
                    fields.join(",")
                )
            })
            .collect();
        let (code, answer) = http_post(http, "/v1/records", &format!(r#"{{"records":[{}]}}"#, recs.join(",")));
        assert_eq!(code, 200, "{answer}");
    }
    let after = rss().expect("rss");
    assert!(after < before + 96 * 1024, "the agent grew from {before} to {after} KiB");
    let (_, metrics) = http_get(http, "/metrics");
    assert!(metrics.contains("aisprint_records_refused_total{node=\"n1\"} 61"), "{metrics}");
    // Everything stored reached the controller in batches it could take.
    wait("the kept record at the controller", Duration::from_secs(30), || {
        let out = text(
            &aisprint(dir, &["metrics", "tail", "--node", "n1", "--limit", "2000", "--config", "controller.yaml"])
                .stdout,
        );
        out.contains("kept")
    });
    agent.stop();
    controller.stop();
    let log = mesh.log("n1.log");
    assert!(!log.contains("Cannot send packet") && !log.contains("panicked"), "{log}");
}

/// A GET to the agent's endpoint: (status, body).
fn http_get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let code = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, out.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

/// M5: MQTT over TLS with a login, against Mosquitto (TLS listener, password file, an ACL per
/// node): the agent's batches and alerts arrive; a client without the CA, without a login, or
/// with another node's login can neither read, spoof the retained status, nor knock the agent
/// off; the log tails of jobs never travel there.
#[test]
fn mqtt_over_tls_with_logins_cannot_be_read_spoofed_or_taken_over() {
    use std::process::Command;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
    mesh.issue("rpi-1");
    let mqtt = port();
    let passwd = dir.join("passwd");
    for (i, (user, pw)) in [("rpi-1", "pw-rpi-1"), ("rpi-2", "pw-rpi-2"), ("reader", "pw-reader")].iter().enumerate() {
        let mut c = Command::new("mosquitto_passwd");
        c.arg("-b");
        if i == 0 {
            c.arg("-c");
        }
        assert!(c.arg(&passwd).args([user, pw]).status().expect("mosquitto_passwd").success());
    }
    std::fs::write(dir.join("acl"), "user reader\ntopic read aisprint/#\n\npattern readwrite aisprint/%u/#\n")
        .expect("acl");
    // `user root`: started as root, mosquitto would become `mosquitto`, which cannot read the
    // test's 0600 key in its 0700 folder (as a normal user the line changes nothing).
    std::fs::write(
        dir.join("mosquitto.conf"),
        format!(
            "user root\nper_listener_settings false\nallow_anonymous false\npassword_file {}\nacl_file {}\npersistence false\nlistener {mqtt} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
            passwd.display(),
            dir.join("acl").display(),
            dir.join("certs/ca.pem").display(),
            dir.join("certs/controller.pem").display(),
            dir.join("certs/controller.key").display()
        ),
    )
    .expect("conf");
    let broker = crate::support::Proc(
        Command::new(
            ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
                .into_iter()
                .find(|p| std::path::Path::new(p).exists())
                .expect("mosquitto"),
        )
        .args(["-c", dir.join("mosquitto.conf").to_str().expect("path")])
        .stderr(std::fs::File::create(dir.join("mosquitto.log")).expect("log"))
        .spawn()
        .expect("mosquitto"),
    );
    wait("mosquitto", Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", mqtt)).is_ok());
    let ca = dir.join("certs/ca.pem").display().to_string();
    let sub = |user: &str, pw: &str, out: &str| {
        crate::support::Proc(
            Command::new("mosquitto_sub")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &mqtt.to_string(),
                    "--cafile",
                    &ca,
                    "-u",
                    user,
                    "-P",
                    pw,
                    "-q",
                    "1",
                    "-v",
                    "-t",
                    "aisprint/#",
                ])
                .stdout(std::fs::File::create(dir.join(out)).expect("out"))
                .stderr(std::fs::File::create(dir.join(format!("{out}.err"))).expect("err"))
                .spawn()
                .expect("mosquitto_sub"),
        )
    };
    let reader = sub("reader", "pw-reader", "reader.txt");
    let other = sub("rpi-2", "pw-rpi-2", "rpi-2.txt");
    std::fs::write(dir.join("mqtt.pw"), "pw-rpi-1\n").expect("pw");
    std::fs::write(
        dir.join("monitoring_setup.yaml"),
        "monitoring:\n  metrics:\n    cpu: {}\n  time_period: 1s\n  alerts:\n    cpu_any:\n      condition:\n        metric: {name: cpu, field: usage_percent}\n        threshold: {type: range, value: [0, 100]}\n      every: 1s\n",
    )
    .expect("setup");
    let http = port();
    let controller = mesh.controller();
    let cfg = mesh.agent_config(
        "rpi-1",
        None,
        0.5,
        &format!(
            "mqtt:\n  host: 127.0.0.1\n  port: {mqtt}\n  tls:\n    ca: certs/ca.pem\n  username: rpi-1\n  password_file: mqtt.pw\nmonitoring:\n  http: 127.0.0.1:{http}\n  monitoring_setup: monitoring_setup.yaml\n"
        ),
    );
    let agent = mesh.agent(&cfg, "rpi-1.log");
    wait("batches and an alert at the reader", Duration::from_secs(30), || {
        let got = mesh.log("reader.txt");
        got.contains("aisprint/rpi-1/metrics ")
            && got.contains("aisprint/rpi-1/alerts ")
            && got.contains("aisprint/rpi-1/status online")
    });
    let got = mesh.log("reader.txt");
    let alert = got.lines().find(|l| l.starts_with("aisprint/rpi-1/alerts ")).expect("an alert");
    assert!(alert.contains(r#""infrastructure_alert":"cpu_any""#) || alert.contains("cpu_any"), "{alert}");
    // Another node's login reads nothing of rpi-1's (the ACL), and cannot spoof its status.
    let spoof = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &mqtt.to_string(),
            "--cafile",
            &ca,
            "-u",
            "rpi-2",
            "-P",
            "pw-rpi-2",
            "-q",
            "1",
            "-r",
            "-t",
            "aisprint/rpi-1/status",
            "-m",
            "offline",
        ])
        .status()
        .expect("mosquitto_pub");
    let _ = spoof;
    // Without the CA (plain MQTT to the TLS port), or without a login: nothing.
    let plain = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &mqtt.to_string(), "-t", "aisprint/#", "-C", "1", "-W", "3"])
        .output()
        .expect("mosquitto_sub");
    assert!(!plain.status.success() && plain.stdout.is_empty(), "plain MQTT on the TLS port: {}", text(&plain.stdout));
    let anonymous = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &mqtt.to_string(), "--cafile", &ca, "-t", "aisprint/#", "-C", "1", "-W", "3"])
        .output()
        .expect("mosquitto_sub");
    assert!(!anonymous.status.success() && anonymous.stdout.is_empty(), "no login: {}", text(&anonymous.stdout));
    // The node's old fixed client id, taken by someone with a login: the agent stays on.
    let takeover = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &mqtt.to_string(),
            "--cafile",
            &ca,
            "-u",
            "rpi-2",
            "-P",
            "pw-rpi-2",
            "-i",
            "aisprint-agent-rpi-1",
            "-t",
            "x",
            "-C",
            "1",
            "-W",
            "3",
        ])
        .output()
        .expect("mosquitto_sub");
    let _ = takeover;
    let seen = mesh.log("reader.txt").lines().filter(|l| l.starts_with("aisprint/rpi-1/metrics ")).count();
    wait("more batches after the attempts", Duration::from_secs(20), || {
        mesh.log("reader.txt").lines().filter(|l| l.starts_with("aisprint/rpi-1/metrics ")).count() > seen + 3
    });
    let status = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &mqtt.to_string(),
            "--cafile",
            &ca,
            "-u",
            "reader",
            "-P",
            "pw-reader",
            "-t",
            "aisprint/rpi-1/status",
            "-C",
            "1",
            "-W",
            "5",
        ])
        .output()
        .expect("mosquitto_sub");
    assert_eq!(text(&status.stdout).trim(), "online", "the retained status was spoofed");
    agent.stop();
    reader.stop();
    other.stop();
    assert!(!mesh.log("rpi-2.txt").contains("aisprint/rpi-1/"), "another node read rpi-1's topics");
    let log = mesh.log("rpi-1.log");
    assert!(!log.contains("MQTT broker unreachable"), "the agent was knocked off: {log}");
    assert!(!log.contains("pw-rpi-1"), "the password reached the log");
    controller.stop();
    broker.stop();
}

/// M5, the embedded broker: TLS with the controller's certificate and logins from a users
/// file; an agent logs in with its node name, nobody else can take its client id.
#[test]
fn the_embedded_broker_takes_tls_and_logins() {
    use std::process::Command;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
    mesh.issue("rpi-1");
    let mqtt = port();
    std::fs::write(dir.join("users"), "rpi-1:pw-rpi-1\nreader:pw-reader\n").expect("users");
    let yaml = std::fs::read_to_string(dir.join("controller.yaml")).expect("read");
    std::fs::write(
        dir.join("controller.yaml"),
        format!("{yaml}mqtt_broker:\n  listen: 127.0.0.1:{mqtt}\n  tls: true\n  users: users\n"),
    )
    .expect("write");
    let controller = mesh.controller();
    wait("the broker", Duration::from_secs(10), || std::net::TcpStream::connect(("127.0.0.1", mqtt)).is_ok());
    let ca = dir.join("certs/ca.pem").display().to_string();
    let reader = crate::support::Proc(
        Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &mqtt.to_string(),
                "--cafile",
                &ca,
                "-u",
                "reader",
                "-P",
                "pw-reader",
                "-q",
                "1",
                "-v",
                "-t",
                "aisprint/#",
            ])
            .stdout(std::fs::File::create(dir.join("reader.txt")).expect("out"))
            .stderr(std::fs::File::create(dir.join("reader.err")).expect("err"))
            .spawn()
            .expect("mosquitto_sub"),
    );
    std::fs::write(dir.join("mqtt.pw"), "pw-rpi-1\n").expect("pw");
    let cfg = mesh.agent_config(
        "rpi-1",
        None,
        0.5,
        &format!("mqtt:\n  host: 127.0.0.1\n  port: {mqtt}\n  tls:\n    ca: certs/ca.pem\n  username: rpi-1\n  password_file: mqtt.pw\n"),
    );
    let agent = mesh.agent(&cfg, "rpi-1.log");
    wait("batches at the reader, over TLS", Duration::from_secs(30), || {
        mesh.log("reader.txt").contains("aisprint/rpi-1/metrics ")
    });
    // The reader's login cannot take an agent's client id; a wrong password gets nothing.
    for args in
        [vec!["-u", "reader", "-P", "pw-reader", "-i", "aisprint-agent-rpi-1-x"], vec!["-u", "reader", "-P", "wrong"]]
    {
        let out = Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &mqtt.to_string(),
                "--cafile",
                &ca,
                "-t",
                "aisprint/#",
                "-C",
                "1",
                "-W",
                "3",
            ])
            .args(&args)
            .output()
            .expect("mosquitto_sub");
        assert!(out.stdout.is_empty(), "{args:?}: {}", text(&out.stdout));
    }
    // Plain MQTT on the TLS port: nothing either.
    let plain = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &mqtt.to_string(),
            "-u",
            "reader",
            "-P",
            "pw-reader",
            "-t",
            "aisprint/#",
            "-C",
            "1",
            "-W",
            "3",
        ])
        .output()
        .expect("mosquitto_sub");
    assert!(plain.stdout.is_empty(), "{}", text(&plain.stdout));
    agent.stop();
    reader.stop();
    controller.stop();
    assert!(mesh.log("controller.log").contains("MQTT login refused"));
}

/// L2: the admin service takes operators' certificates only (not the controller's serving key,
/// not an agent's); a revoked certificate is refused from its next connection, and a new one
/// lets the node back in.
#[test]
fn operators_have_their_own_certificate_and_revoked_ones_are_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
    mesh.issue("rpi-1");
    let controller = mesh.controller();
    let cfg = mesh.agent_config("rpi-1", None, 0.5, "");
    let agent = mesh.agent(&cfg, "rpi-1.log");
    let connected = || {
        let r = aisprint(dir, &["agents", "list", "--config", "controller.yaml"]);
        assert!(r.status.success(), "{}", text(&r.stderr));
        text(&r.stdout).lines().any(|l| l.starts_with("rpi-1 ") && l.contains(" yes "))
    };
    wait("the agent connected", Duration::from_secs(20), connected);
    // The controller's own certificate, or an agent's, in an operator's place: refused.
    let yaml = std::fs::read_to_string(dir.join("controller.yaml")).expect("read");
    for (file, cert) in [("as-controller.yaml", "controller"), ("as-agent.yaml", "rpi-1")] {
        std::fs::write(dir.join(file), format!("{yaml}admin_cert: certs/{cert}.pem\nadmin_key: certs/{cert}.key\n"))
            .expect("write");
        let r = aisprint(dir, &["agents", "list", "--config", file]);
        assert!(!r.status.success(), "{file}: {}", text(&r.stdout));
        assert!(text(&r.stderr).contains("is not an operator"), "{}", text(&r.stderr));
    }
    // Another operator, then revoked.
    let r = aisprint(dir, &["certs", "issue", "--dir", "certs", "--admin", "--node", "alice"]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    std::fs::write(
        dir.join("alice.yaml"),
        format!("{yaml}admin_cert: certs/admin-alice.pem\nadmin_key: certs/admin-alice.key\n"),
    )
    .expect("write");
    assert!(aisprint(dir, &["agents", "list", "--config", "alice.yaml"]).status.success());
    let r = aisprint(dir, &["certs", "revoke", "--dir", "certs", "--admin", "--node", "alice"]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    let r = aisprint(dir, &["agents", "list", "--config", "alice.yaml"]);
    assert!(
        !r.status.success() && text(&r.stderr).contains("the certificate of `admin:alice` is revoked"),
        "{}",
        text(&r.stderr)
    );
    // The agent revoked: refused at its next connection, without restarting the controller.
    let r = aisprint(dir, &["certs", "revoke", "--dir", "certs", "--node", "rpi-1"]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    agent.stop();
    let agent = mesh.agent(&cfg, "rpi-1.log");
    wait("the revoked agent refused", Duration::from_secs(20), || {
        mesh.log("rpi-1.log").contains("the certificate of `rpi-1` is revoked")
    });
    assert!(!connected(), "a revoked agent is connected");
    agent.stop();
    // A new certificate lets it back in.
    mesh.issue("rpi-1");
    let agent = mesh.agent(&cfg, "rpi-1.log");
    wait("the agent back with a new certificate", Duration::from_secs(20), connected);
    agent.stop();
    controller.stop();
}

/// M3, M4, L1, L8 on a real agent: the applied FDL is private and carries no storage keys; a
/// torn one is set aside at the next start instead of stopping the agent; a cluster named `..`
/// and a file name of 250 bytes are refused for good, and the agent's state is untouched.
#[test]
fn a_torn_applied_fdl_is_set_aside_and_bad_names_are_refused() {
    use aisprint_proto::commands::{AgentCommand, Apply, Put};
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
    std::fs::create_dir_all(dir.join("pipeline")).expect("mkdir");
    std::fs::write(dir.join("pipeline/copy.sh"), "cp \"$INPUT_FILE_PATH\" \"$TMP_OUTPUT_DIR/\"\n").expect("write");
    std::fs::write(
        dir.join("pipeline/fdl.yaml"),
        "functions:\n  oscar:\n  - n1:\n      name: copy\n      script: copy.sh\n      input:\n      - path: copy/in\n      output:\n      - path: copy/out\nstorage_providers:\n  minio:\n    n1: {endpoint: 'https://minio.example.org', access_key: ak, secret_key: top-secret-key}\n",
    )
    .expect("write");
    mesh.issue("n1");
    let controller = mesh.controller();
    let cfg =
        mesh.agent_config("n1", None, 60.0, "services:\n  cluster: n1\n  buckets: buckets/n1\n  state: state/n1\n");
    let agent = mesh.agent(&cfg, "n1.log");
    wait("the agent connected", Duration::from_secs(20), || {
        text(&aisprint(dir, &["agents", "list", "--config", "controller.yaml"]).stdout)
            .lines()
            .any(|l| l.starts_with("n1 ") && l.contains(" yes "))
    });
    let r = aisprint(dir, &["oscar", "apply", "--fdl", "pipeline/fdl.yaml", "--config", "controller.yaml"]);
    assert!(r.status.success(), "{}{}", text(&r.stdout), text(&r.stderr));
    let applied = dir.join("state/n1/applied/n1/fdl.yaml");
    let mode = std::fs::metadata(&applied).expect("applied").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the applied FDL is private");
    let text_of = std::fs::read_to_string(&applied).expect("read");
    assert!(!text_of.contains("top-secret-key") && !text_of.contains("storage_providers"), "{text_of}");

    // A cluster named `..` (its folder would be the agent's state folder) and a name of 250
    // bytes: refused, nothing removed.
    let (ok, message) = command(
        dir,
        "n1",
        AgentCommand::ServicesApply(Apply {
            cluster: "..".into(),
            fdl: "functions: {oscar: []}\n".into(),
            scripts: Default::default(),
        }),
    );
    assert!(!ok && message.contains("not a valid cluster name"), "{message}");
    assert!(dir.join("state/n1/jobs.redb").exists() && applied.exists(), "the state is untouched");
    let long = "x".repeat(250);
    let (ok, message) = command(
        dir,
        "n1",
        AgentCommand::BucketPut(Put { bucket: "copy/in".into(), name: long, content: "aGk=".into() }),
    );
    assert!(!ok && message.contains("names of at most 200 bytes"), "{message}");

    // A power cut left the applied FDL empty: the agent starts anyway, without it, says so,
    // and keeps the torn copy aside; an apply brings the service back.
    agent.stop();
    std::fs::write(&applied, "").expect("torn");
    let v = std::process::Command::new(crate::support::mesh::agent_bin())
        .args(["validate", "--config", cfg.to_str().expect("path")])
        .current_dir(dir)
        .output()
        .expect("validate");
    assert!(v.status.success(), "validate: {}", text(&v.stderr));
    let agent = mesh.agent(&cfg, "n1.log");
    wait("the torn FDL set aside", Duration::from_secs(20), || {
        mesh.log("n1.log").contains("unreadable applied FDL set aside")
    });
    let broken: Vec<_> = std::fs::read_dir(dir.join("state/n1/broken")).expect("broken").flatten().collect();
    assert_eq!(broken.len(), 1);
    wait("the agent connected again", Duration::from_secs(20), || {
        text(&aisprint(dir, &["agents", "list", "--config", "controller.yaml"]).stdout)
            .lines()
            .any(|l| l.starts_with("n1 ") && l.contains(" yes "))
    });
    let r = aisprint(dir, &["oscar", "apply", "--fdl", "pipeline/fdl.yaml", "--config", "controller.yaml"]);
    assert!(r.status.success(), "{}{}", text(&r.stdout), text(&r.stderr));
    let inbox = dir.join("buckets/n1/copy/in");
    wait("the bucket", Duration::from_secs(10), || inbox.is_dir());
    drop_file(&inbox, "a.txt", "A");
    wait("the service back", Duration::from_secs(20), || dir.join("buckets/n1/copy/out/a.txt").exists());
    agent.stop();
    controller.stop();
}
