//! Services run by a real agent process: a burst of files with parallelism 4, the agent
//! killed with SIGKILL in the middle and started again, a failing script, and a second
//! service fed by the first one's output bucket.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use aisprint_agent::services::{JobState, Jobs};

use crate::support::{port, start_agent, start_agent_with, wait};

fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|r| r.flatten().filter(|e| !e.file_name().to_string_lossy().starts_with('.')).count())
        .unwrap_or(0)
}

const WORK: &str = r#"set -e
name=$(basename "$INPUT_FILE_PATH")
echo "$(date +%s%N)" > "$TRACE/$name.$$.start"
sleep 0.01
cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/$name.out"
echo "$(date +%s%N)" > "$TRACE/$name.$$.end"
"#;

const NEXT: &str = r#"cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").next"
"#;

const FAIL: &str = r#"echo "cannot read $STORAGE_OBJECT_KEY: model missing" >&2
exit 3
"#;

fn setup(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("trace")).expect("mkdir");
    std::fs::write(dir.join("work.sh"), WORK).expect("write");
    std::fs::write(dir.join("next.sh"), NEXT).expect("write");
    std::fs::write(dir.join("fail.sh"), FAIL).expect("write");
    std::fs::write(
        dir.join("fdl.yaml"),
        format!(
            "functions:\n  oscar:\n  - edge:\n      name: work\n      script: work.sh\n      max_parallelism: 4\n      environment:\n        Variables:\n          TRACE: {}\n      input:\n      - path: work/in\n      output:\n      - path: work/out\n  - edge:\n      name: next\n      script: next.sh\n      max_parallelism: 2\n      input:\n      - path: work/out\n      output:\n      - path: next/out\n  - edge:\n      name: broken\n      script: fail.sh\n      input:\n      - path: broken/in\n  - cloud:\n      name: elsewhere\n      script: work.sh\n      input:\n      - path: elsewhere/in\n",
            dir.join("trace").display()
        ),
    )
    .expect("write");
    std::fs::write(
        dir.join("agent.yaml"),
        format!(
            "node_id: edge-1\ncontroller:\n  address: http://127.0.0.1:{}\n  insecure: true\ncollection:\n  period_s: 60\n  families: [mem]\nbuffer:\n  path: state/buffer.redb\nservices:\n  fdl: [fdl.yaml]\n  cluster: edge\n  buckets: buckets\n",
            port()
        ),
    )
    .expect("write");
    dir.join("buckets")
}

#[test]
fn a_burst_runs_once_each_within_parallelism_through_a_kill() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let buckets = setup(dir);
    let mut agent = start_agent(dir);
    wait("the input bucket", Duration::from_secs(20), || buckets.join("work/in").is_dir());
    std::thread::sleep(Duration::from_millis(200));
    // 1,000 files, each written under a hidden name and renamed in place (complete at once).
    for i in 0..1000 {
        let tmpname = buckets.join(format!("work/in/.f{i:04}"));
        std::fs::write(&tmpname, format!("frame {i}\n")).expect("write");
        std::fs::rename(&tmpname, buckets.join(format!("work/in/f{i:04}.txt"))).expect("rename");
    }
    std::fs::write(buckets.join("broken/in/x.txt"), "x").expect("write");
    wait("some jobs done", Duration::from_secs(180), || count(&buckets.join("work/out")) >= 150);
    agent.kill().expect("kill -9");
    let _ = agent.wait();
    let mut agent = start_agent(dir);
    // 2,000 jobs, each with its disk syncs: on a fresh CI machine, while another test
    // pip-installs beside it, syncs take far longer than alone (12 s).
    let t = std::time::Instant::now();
    while count(&buckets.join("next/out")) < 1000 {
        let (work, next) = (count(&buckets.join("work/out")), count(&buckets.join("next/out")));
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "after 300 s: {work} of 1000 through work, {next} through next"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill").args(["-TERM", &agent.id().to_string()]).status();
    let _ = agent.wait();

    // Every input once in each output bucket, content preserved through both services.
    let mut outs: Vec<String> = std::fs::read_dir(buckets.join("next/out"))
        .expect("out")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    outs.sort();
    let want: Vec<String> = (0..1000).map(|i| format!("f{i:04}.txt.out.next")).collect();
    assert_eq!(outs, want);
    assert_eq!(std::fs::read_to_string(buckets.join("next/out/f0007.txt.out.next")).expect("read"), "frame 7\n");

    // Never more than 4 at a time (completed executions; at most 4 were cut by the kill).
    let mut starts: BTreeMap<String, u128> = BTreeMap::new();
    let mut ends: BTreeMap<String, u128> = BTreeMap::new();
    for e in std::fs::read_dir(dir.join("trace")).expect("trace").flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        let t: u128 = std::fs::read_to_string(e.path()).expect("read").trim().parse().expect("ns");
        if let Some(k) = n.strip_suffix(".start") {
            starts.insert(k.to_string(), t);
        } else if let Some(k) = n.strip_suffix(".end") {
            ends.insert(k.to_string(), t);
        }
    }
    let cut = starts.len() - ends.len();
    assert!(cut <= 4, "{cut} executions cut by the kill");
    assert!(starts.len() <= 1004, "{} executions for 1,000 files", starts.len());
    let mut edges: Vec<(u128, i32)> = Vec::new();
    for (k, s) in &starts {
        if let Some(e) = ends.get(k) {
            edges.push((*s, 1));
            edges.push((*e, -1));
        }
    }
    edges.sort();
    let (mut now, mut most) = (0, 0);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    assert!(most <= 4, "{most} at a time");
    assert!(most >= 2, "the jobs ran one by one ({most})");

    // The job store: all succeeded; the broken one failed with its status and its stderr logged.
    let jobs = Jobs::open(&dir.join("state/services/jobs.redb")).expect("jobs");
    let work = jobs.list("work").expect("list");
    assert_eq!(work.len(), 1000);
    assert!(work.iter().all(|j| j.state == JobState::Succeeded && j.exit_status == Some(0)));
    let broken = jobs.list("broken").expect("list");
    assert_eq!(broken.len(), 1);
    assert_eq!((broken[0].state, broken[0].exit_status), (JobState::Failed, Some(3)));
    let log =
        std::fs::read_to_string(dir.join(format!("state/services/logs/broken/{}.log", broken[0].seq))).expect("log");
    assert!(log.contains("cannot read x.txt: model missing"), "{log}");
    assert!(jobs.list("elsewhere").expect("list").is_empty(), "another cluster's service ran here");
    let agent_log = std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default();
    assert!(agent_log.contains("resuming jobs accepted before the restart"), "{agent_log}");
}

#[test]
fn a_missing_script_is_refused_before_start() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    setup(dir);
    std::fs::remove_file(dir.join("fail.sh")).expect("rm");
    let out = Command::new(env!("CARGO_BIN_EXE_aisprint-agent"))
        .args(["validate", "--config", "agent.yaml"])
        .current_dir(dir)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fdl.yaml") && err.contains("fail.sh: no such file"), "{err}");
}

#[test]
fn an_input_bucket_that_disappears_is_made_again_and_its_files_run() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let buckets = setup(dir);
    let mut agent = start_agent(dir);
    let input = buckets.join("work/in");
    wait("the input bucket", Duration::from_secs(20), || input.is_dir());
    std::fs::write(input.join("before.txt"), "1").expect("write");
    let out = buckets.join("work/out");
    wait("the first job", Duration::from_secs(20), || out.join("before.txt.out").is_file());
    // Someone removes the bucket (and its watch with it).
    std::fs::remove_dir_all(&input).expect("rm");
    wait("the bucket made again", Duration::from_secs(10), || input.is_dir());
    std::fs::write(input.join("after.txt"), "2").expect("write");
    wait("a job for the file dropped after", Duration::from_secs(20), || out.join("after.txt.out").is_file());
    let _ = agent.kill();
    let _ = agent.wait();
    let log = std::fs::read_to_string(dir.join("agent.log")).expect("log");
    assert!(log.contains("input bucket disappeared"), "{log}");
    let jobs = Jobs::open(&dir.join("state/services/jobs.redb")).expect("jobs");
    let files: Vec<String> = jobs.list("work").expect("list").into_iter().map(|j| j.file).collect();
    assert_eq!(files.iter().filter(|f| f.as_str() == "after.txt").count(), 1, "{files:?}");
}

/// A fake container CLI standing in for docker (no Docker engine runs on the test machines):
/// `version` answers as `ANSWER` says, `run` records its arguments and runs the command after
/// the image natively, with the `-e` variables and the `-w` folder.
const FAKE_DOCKER: &str = r#"#!/bin/sh
echo "$@" >> "$FAKE_DOCKER_LOG"
if [ "$1" = version ]; then exit "$FAKE_DOCKER_VERSION_EXIT"; fi
shift
while [ $# -gt 0 ]; do
  case "$1" in
    --rm) shift ;;
    --network|--cpus|--memory|-v) shift 2 ;;
    -w) cd "$2"; shift 2 ;;
    -e) export "$2"; shift 2 ;;
    --env-file)
      echo "env-file mode $(stat -c %a "$2"): $(tr '\n' ' ' < "$2")" >> "$FAKE_DOCKER_LOG"
      echo "$2" >> "$FAKE_DOCKER_LOG.files"
      while IFS= read -r line; do export "$line"; done < "$2"
      shift 2 ;;
    *) break ;;
  esac
done
shift
exec "$@"
"#;

const LIMITED: &str = r#"set -e
echo "cgroups: $(tr '\n' ' ' < /proc/self/cgroup)"
cpu=$(grep -E '^[0-9]+:([^:]*,)?cpu(,[^:]*)?:' /proc/self/cgroup | head -1 | cut -d: -f3)
if [ -n "$cpu" ] && [ -f "/sys/fs/cgroup/cpu$cpu/cpu.cfs_quota_us" ]; then echo "quota $(cat /sys/fs/cgroup/cpu$cpu/cpu.cfs_quota_us)"; fi
mem=$(grep -E '^[0-9]+:([^:]*,)?memory(,[^:]*)?:' /proc/self/cgroup | head -1 | cut -d: -f3)
if [ -n "$mem" ] && [ -f "/sys/fs/cgroup/memory$mem/memory.limit_in_bytes" ]; then echo "mem $(cat /sys/fs/cgroup/memory$mem/memory.limit_in_bytes)"; fi
v2=$(grep '^0::' /proc/self/cgroup | cut -d: -f3)
if [ -f "/sys/fs/cgroup$v2/memory.max" ]; then echo "mem $(cat /sys/fs/cgroup$v2/memory.max)"; fi
if [ -f "/sys/fs/cgroup$v2/cpu.max" ]; then echo "cpu.max $(cat /sys/fs/cgroup$v2/cpu.max)"; fi
echo "in container: ${IN_CONTAINER:-no}"
cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"
"#;

fn start_with_path(dir: &Path, bin: &Path, version_exit: u8) -> Child {
    start_agent_with(dir, |c| {
        c.env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()))
            .env("FAKE_DOCKER_LOG", dir.join("docker.log"))
            .env("FAKE_DOCKER_VERSION_EXIT", version_exit.to_string());
    })
}

fn limits_setup(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    for name in ["docker", "podman"] {
        let p = bin.join(name);
        std::fs::write(&p, FAKE_DOCKER).expect("write");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::write(dir.join("limited.sh"), LIMITED).expect("write");
    std::fs::write(
        dir.join("fdl.yaml"),
        "functions:\n  oscar:\n  - edge:\n      name: native\n      script: limited.sh\n      cpu: '0.5'\n      memory: 256Mi\n      input:\n      - path: native/in\n      output:\n      - path: native/out\n  - edge:\n      name: boxed\n      image: registry.example.org/boxed:1\n      script: limited.sh\n      cpu: '0.5'\n      memory: 256Mi\n      environment:\n        Variables:\n          IN_CONTAINER: 'yes'\n      input:\n      - path: boxed/in\n      output:\n      - path: boxed/out\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("agent.yaml"),
        format!(
            "node_id: edge-lim\ncontroller:\n  address: http://127.0.0.1:{}\n  insecure: true\ncollection:\n  period_s: 60\n  families: [mem]\nbuffer:\n  path: state/buffer.redb\nservices:\n  fdl: [fdl.yaml]\n  cluster: edge\n  buckets: buckets\n",
            port()
        ),
    )
    .expect("write");
    bin
}

fn job_log(dir: &Path, service: &str) -> String {
    let d = dir.join("state/services/logs").join(service);
    std::fs::read_dir(&d)
        .map(|r| r.flatten().map(|e| std::fs::read_to_string(e.path()).unwrap_or_default()).collect())
        .unwrap_or_default()
}

#[test]
fn jobs_get_their_limits_and_images_run_in_a_container_when_a_runtime_answers() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let bin = limits_setup(dir);
    let mut agent = start_with_path(dir, &bin, 0);
    for s in ["native", "boxed"] {
        let input = dir.join(format!("buckets/{s}/in"));
        wait("the input bucket", Duration::from_secs(20), || input.is_dir());
        std::fs::write(input.join("a.txt"), "1").expect("write");
    }
    for s in ["native", "boxed"] {
        let out = dir.join(format!("buckets/{s}/out/a.txt"));
        wait("the job's output", Duration::from_secs(20), || out.is_file());
    }
    let _ = agent.kill();
    let _ = agent.wait();
    let log = std::fs::read_to_string(dir.join("agent.log")).expect("log");
    let native = job_log(dir, "native");
    // Limits where the OS offers them (control groups), said plainly where it does not.
    if log.contains("job limits from the services' cpu and memory") {
        assert!(native.contains("quota 50000") || native.contains("cpu.max 50000 100000"), "{native}\n{log}");
        assert!(native.contains(&format!("mem {}", 256 * 1024 * 1024)), "{native}");
        assert!(native.contains("aisprint-edge-lim"), "{native}");
    } else {
        assert!(log.contains("jobs run without cpu and memory limits"), "{log}");
    }
    assert!(native.contains("in container: no"), "{native}");
    // The image's service ran through the runtime, with the limits and the job's variables.
    let docker = std::fs::read_to_string(dir.join("docker.log")).expect("docker log");
    let run = docker.lines().find(|l| l.starts_with("run ")).expect("a docker run");
    for want in [
        "--rm",
        "--cpus 0.5",
        &format!("--memory {}", 256 * 1024 * 1024),
        "registry.example.org/boxed:1 sh",
        "--env-file ",
    ] {
        assert!(run.contains(want), "`{want}` missing from: {run}");
    }
    // The variables from a 0600 file, gone once the job is: none on the command line,
    // where `ps` shows it to every local user.
    assert!(!run.contains("-e ") && !run.contains("IN_CONTAINER"), "{run}");
    let env = docker.lines().find(|l| l.starts_with("env-file ")).expect("the env file read");
    assert!(env.starts_with("env-file mode 600:"), "{env}");
    assert!(env.contains("STORAGE_OBJECT_KEY=a.txt") && env.contains("IN_CONTAINER=yes"), "{env}");
    let files = std::fs::read_to_string(dir.join("docker.log.files")).expect("env files");
    for f in files.lines() {
        assert!(!Path::new(f).exists(), "{f} left behind");
    }
    assert!(job_log(dir, "boxed").contains("in container: yes"));
    assert!(log.contains("jobs run in containers"), "{log}");
}

#[test]
fn an_image_without_a_runtime_runs_natively_and_says_so() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let bin = limits_setup(dir);
    // docker and podman are there but no engine answers.
    let mut agent = start_with_path(dir, &bin, 1);
    let input = dir.join("buckets/boxed/in");
    wait("the input bucket", Duration::from_secs(20), || input.is_dir());
    std::fs::write(input.join("a.txt"), "1").expect("write");
    let out = dir.join("buckets/boxed/out/a.txt");
    wait("the job's output", Duration::from_secs(20), || out.is_file());
    let _ = agent.kill();
    let _ = agent.wait();
    let log = std::fs::read_to_string(dir.join("agent.log")).expect("log");
    assert!(log.contains("no container runtime (docker or podman) answers on this node"), "{log}");
    let docker = std::fs::read_to_string(dir.join("docker.log")).unwrap_or_default();
    assert!(!docker.contains("run "), "{docker}");
}
