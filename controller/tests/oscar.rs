//! `aisprint oscar apply`: services sent from the controller to a real agent over the command
//! channel, run there, and kept across the agent's restart.

mod common;
mod meshkit;

use std::time::{Duration, Instant};

use common::{aisprint, text};
use meshkit::Mesh;

fn wait(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn services_applied_from_the_controller_run_on_the_agent_and_survive_a_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
    mesh.issue("n1");
    std::fs::create_dir_all(dir.join("pipeline")).expect("mkdir");
    std::fs::write(
        dir.join("pipeline/upper.sh"),
        "case \"$INPUT_FILE_PATH\" in *bad*) echo \"no model for $STORAGE_OBJECT_KEY\" >&2; exit 4;; esac\necho \"upper $STORAGE_OBJECT_KEY\"\ntr a-z A-Z < \"$INPUT_FILE_PATH\" > \"$TMP_OUTPUT_DIR/$(basename \"$INPUT_FILE_PATH\")\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("pipeline/fdl.yaml"),
        "functions:\n  oscar:\n  - n1:\n      name: upper\n      script: upper.sh\n      max_parallelism: 2\n      input:\n      - path: upper/in\n      output:\n      - path: upper/out\n  - n9:\n      name: elsewhere\n      script: upper.sh\n      input:\n      - path: x/in\n",
    )
    .expect("write");
    let controller = mesh.controller();
    let cfg = mesh.agent_config("n1", None, 60.0, "services:\n  cluster: n1\n  buckets: buckets/n1\n");
    let agent = mesh.agent(&cfg, "n1.log");
    wait("the agent connected", Duration::from_secs(20), || {
        text(&aisprint(dir, &["agents", "list", "--config", "controller.yaml"]).stdout)
            .lines()
            .any(|l| l.starts_with("n1 ") && l.contains(" yes "))
    });
    let r = aisprint(dir, &["oscar", "apply", "--fdl", "pipeline/fdl.yaml", "--config", "controller.yaml"]);
    let out = text(&r.stdout);
    assert!(out.contains("n1: 1 service(s) sent"), "{out}");
    // The agent's answer comes back through the mesh.
    assert!(out.contains("n1: 1 service(s) of cluster n1 applied"), "{out}");
    assert!(out.contains("n9: no agent of that node id is connected"), "{out}");
    assert_eq!(r.status.code(), Some(1), "n9 was not reached");

    let inbox = dir.join("buckets/n1/upper/in");
    wait("the service's bucket", Duration::from_secs(10), || inbox.is_dir());
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(inbox.join("a.txt"), "hello\n").expect("write");
    let out = dir.join("buckets/n1/upper/out/a.txt");
    wait("the output", Duration::from_secs(10), || out.exists());
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "HELLO\n");

    // The agent keeps what it was sent: after a restart the service runs without a new apply.
    agent.stop();
    let agent = mesh.agent(&cfg, "n1.log");
    std::fs::write(inbox.join("b.txt"), "again\n").expect("write");
    let out = dir.join("buckets/n1/upper/out/b.txt");
    wait("the output after the restart", Duration::from_secs(20), || out.exists());
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "AGAIN\n");
    std::fs::write(inbox.join("bad.txt"), "x\n").expect("write");

    // The jobs, as the controller knows them from the agent's records.
    let jobs = || text(&aisprint(dir, &["oscar", "jobs", "--config", "controller.yaml", "--service", "upper"]).stdout);
    wait("three jobs at the controller", Duration::from_secs(20), || jobs().lines().count() >= 4);
    let table = jobs();
    assert!(table.contains("a.txt") && table.contains("b.txt") && table.contains("failed (4)"), "{table}");
    let bad_job = table
        .lines()
        .find(|l| l.contains("bad.txt"))
        .and_then(|l| l.split_whitespace().nth(2))
        .expect("job number")
        .to_string();
    let r = aisprint(dir, &["oscar", "logs", "upper", &bad_job, "--config", "controller.yaml"]);
    let logs = text(&r.stdout);
    assert!(logs.contains("exit status 4") && logs.contains("no model for bad.txt"), "{logs}");
    let all = text(&aisprint(dir, &["oscar", "logs", "upper", "--config", "controller.yaml"]).stdout);
    assert!(all.contains("upper a.txt") && all.contains("upper b.txt"), "{all}");
    let r = aisprint(dir, &["oscar", "logs", "nothing", "--config", "controller.yaml"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(text(&r.stderr).contains("no job of service `nothing`"));
    agent.stop();
    controller.stop();
    let log = mesh.log("n1.log");
    assert!(log.contains("services applied"), "{log}");
}
