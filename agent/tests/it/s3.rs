//! Services whose buckets are in an S3-compatible store (`services.s3`): one agent's service
//! writes into the store, another agent's service takes its inputs from there.
//!
//! The store is moto's S3 server (PyPI `moto[server]` 5.2.5, in `target/s3-venv`: installed
//! by `.ci/run`, or here on first use), a real server process on loopback speaking the S3 REST
//! API with SigV4 signatures, as the agent's client (object_store) does. MinIO itself is not
//! packaged in this machine's registries (Debian, PyPI, npm); moto stands for it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::support::{files, port, repo, start_agent, wait};

const SECRET: &str = "s3-secret-never-logged-7f3a";

static VENV: Mutex<Option<PathBuf>> = Mutex::new(None);

/// The virtual environment with moto's server (`$AISPRINT_S3_VENV`, else `target/s3-venv`).
fn venv() -> PathBuf {
    let mut guard = VENV.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = guard.as_ref() {
        return p.clone();
    }
    let venv = std::env::var_os("AISPRINT_S3_VENV").map(PathBuf::from).unwrap_or_else(|| repo().join("target/s3-venv"));
    if !venv.join("bin/moto_server").is_file() {
        eprintln!("installing moto[server] 5.2.5 into {} (once)", venv.display());
        let st = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().expect("python3 -m venv");
        assert!(st.success(), "cannot create {}", venv.display());
        let st =
            Command::new(venv.join("bin/pip")).args(["install", "-q", "moto[server]==5.2.5"]).status().expect("pip");
        assert!(st.success(), "pip install moto[server] failed");
    }
    *guard = Some(venv.clone());
    venv
}

struct Store {
    child: Child,
    port: u16,
    venv: PathBuf,
}

impl Store {
    fn start(port: u16) -> Store {
        let venv = venv();
        let child = Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server");
        wait("the S3 server", Duration::from_secs(30), || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        Store { child, port, venv }
    }

    /// Runs boto3 against the store; returns stdout.
    fn py(&self, code: &str) -> String {
        let script = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url='http://127.0.0.1:{}', aws_access_key_id='testing', aws_secret_access_key='{SECRET}', region_name='us-east-1')\n{code}",
            self.port
        );
        let o = Command::new(self.venv.join("bin/python")).args(["-c", &script]).output().expect("python");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count_tree(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            n += count_tree(&e.path());
        } else {
            n += 1;
        }
    }
    n
}

/// An agent's folder: the FDL (both services, each agent runs its cluster's) and agent.yaml.
fn node(root: &Path, name: &str, port: u16) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("blur.sh"),
        "printf 'blurred %s' \"$(cat \"$INPUT_FILE_PATH\")\" > \"$TMP_OUTPUT_DIR/$STORAGE_OBJECT_KEY\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("mask.sh"),
        "printf 'masked %s' \"$(cat \"$INPUT_FILE_PATH\")\" > \"$TMP_OUTPUT_DIR/$STORAGE_OBJECT_KEY\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("fdl.yaml"),
        "functions:\n  oscar:\n  - edge:\n      name: blur\n      script: blur.sh\n      max_parallelism: 4\n      input:\n      - path: blur/input\n      output:\n      - storage_provider: minio.store\n        path: mask/input\n  - cloud:\n      name: mask\n      script: mask.sh\n      max_parallelism: 2\n      input:\n      - storage_provider: minio.store\n        path: mask/input\n      output:\n      - path: mask/output\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("agent.yaml"),
        format!(
            "node_id: {name}-1\ncontroller:\n  address: http://127.0.0.1:{}\n  insecure: true\ncollection:\n  period_s: 60\n  families: [mem]\nbuffer:\n  path: state/buffer.redb\nservices:\n  fdl: [fdl.yaml]\n  cluster: {name}\n  buckets: buckets\n  s3:\n    minio.store:\n      endpoint: http://127.0.0.1:{port}\n      access_key: testing\n      secret_key: {SECRET}\n      poll_s: 0.2\n",
            crate::support::port()
        ),
    )
    .expect("write");
    dir
}

#[test]
fn outputs_go_through_an_s3_store_to_a_service_on_another_agent_across_a_store_outage() {
    let tmp = tempfile::tempdir().expect("tmp");
    let port = port();
    let edge = node(tmp.path(), "edge", port);
    let cloud = node(tmp.path(), "cloud", port);
    let mut a_edge = start_agent(&edge);
    let mut a_cloud = start_agent(&cloud);
    let inbox = edge.join("buckets/blur/input");
    wait("the edge's input bucket", Duration::from_secs(20), || inbox.is_dir());
    std::thread::sleep(Duration::from_millis(200));

    // The store is not up yet: the edge runs its jobs and keeps the outputs.
    for i in 0..60 {
        let part = inbox.join(format!(".f{i:03}.part"));
        std::fs::write(&part, format!("n{i}")).expect("write");
        std::fs::rename(&part, inbox.join(format!("f{i:03}.txt"))).expect("rename");
    }
    let outbox = edge.join("state/services/outbox-s3");
    wait("60 outputs waiting on the edge", Duration::from_secs(60), || count_tree(&outbox) == 60);

    // The store comes up (with its bucket): everything goes through.
    let store = Store::start(port);
    store.py("s3.create_bucket(Bucket='mask')");
    let done = cloud.join("buckets/mask/output");
    wait("60 files through the chain", Duration::from_secs(90), || files(&done).len() >= 60);
    wait("the edge's outbox emptied", Duration::from_secs(20), || count_tree(&outbox) == 0);
    for i in 0..60 {
        let got = std::fs::read_to_string(done.join(format!("f{i:03}.txt"))).expect("output");
        assert_eq!(got, format!("masked blurred n{i}"));
    }
    // In the store, under the FDL's path.
    let keys = store.py("print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket='mask')['Contents']))");
    assert_eq!(keys.lines().filter(|k| k.starts_with("input/f")).count(), 60, "{keys}");

    // The cloud agent restarted: what it fetched before is not fetched (nor run) again, and
    // a new object is.
    let _ = Command::new("kill").args(["-TERM", &a_cloud.id().to_string()]).status();
    let _ = a_cloud.wait();
    a_cloud = start_agent(&cloud);
    store.py("s3.put_object(Bucket='mask', Key='input/late.txt', Body=b'late')");
    wait("the late object", Duration::from_secs(30), || done.join("late.txt").exists());
    assert_eq!(std::fs::read_to_string(done.join("late.txt")).expect("late"), "masked late");
    for a in [&mut a_edge, &mut a_cloud] {
        let _ = Command::new("kill").args(["-TERM", &a.id().to_string()]).status();
        let _ = a.wait();
    }
    let jobs = aisprint_agent::services::Jobs::open(&cloud.join("state/services/jobs.redb"))
        .expect("jobs")
        .list("mask")
        .expect("list");
    assert_eq!(jobs.len(), 61, "one job per object: {jobs:?}");
    let logs = std::fs::read_to_string(edge.join("agent.log")).unwrap_or_default()
        + &std::fs::read_to_string(cloud.join("agent.log")).unwrap_or_default();
    assert!(logs.contains("outputs not delivered yet"), "the outage is said: {logs}");
    assert!(!logs.contains(SECRET), "the secret key reached a log");
}

#[test]
fn a_bad_store_entry_is_refused_naming_the_key() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = node(tmp.path(), "edge", 9);
    let y = std::fs::read_to_string(dir.join("agent.yaml")).expect("read");
    let y = y.replace("minio.store:", "store:").replace("http://127.0.0.1:9", "ftp://x");
    std::fs::write(dir.join("agent.yaml"), y).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_aisprint-agent"))
        .args(["validate", "--config", "agent.yaml"])
        .current_dir(&dir)
        .output()
        .expect("validate");
    let err = String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("services.s3.store") && err.contains("minio.<id>"), "{err}");
    assert!(err.contains("services.s3.store.endpoint") && err.contains("http(s)://host:port"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
}
