//! `aisprint oscar apply`: services sent from the controller to a real agent over the command
//! channel, run there, and kept across the agent's restart.

use std::time::Duration;

use crate::support::mesh::{command, count_files, drop_file, names_in, Mesh};
use crate::support::{aisprint, text, wait, Proc};

/// The controller, and the agent of node `n1` with its services' buckets under `buckets/n1`,
/// connected: (controller, agent, the agent's config).
fn controller_and_n1(mesh: &Mesh) -> (Proc, Proc, std::path::PathBuf) {
    mesh.issue("n1");
    let controller = mesh.controller();
    let cfg = mesh.agent_config("n1", None, 60.0, "services:\n  cluster: n1\n  buckets: buckets/n1\n");
    let agent = mesh.agent(&cfg, "n1.log");
    wait("the agent connected", Duration::from_secs(20), || {
        text(&aisprint(&mesh.dir, &["agents", "list", "--config", "controller.yaml"]).stdout)
            .lines()
            .any(|l| l.starts_with("n1 ") && l.contains(" yes "))
    });
    (controller, agent, cfg)
}

#[test]
fn services_applied_from_the_controller_run_on_the_agent_and_survive_a_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
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
    let (controller, agent, cfg) = controller_and_n1(&mesh);
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
    // A shell script has no annotated function: its split stops at the process.
    assert!(logs.contains("process creation 0.") && logs.contains("function -"), "{logs}");
    let all = text(&aisprint(dir, &["oscar", "logs", "upper", "--config", "controller.yaml"]).stdout);
    assert!(all.contains("upper a.txt") && all.contains("upper b.txt"), "{all}");
    let r = aisprint(dir, &["oscar", "logs", "nothing", "--config", "controller.yaml"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(text(&r.stderr).contains("no job of service `nothing`"));

    // A new set for the cluster replaces the old one: `upper`, left out, stops.
    std::fs::write(
        dir.join("pipeline/fdl.yaml"),
        "functions:\n  oscar:\n  - n1:\n      name: lower\n      script: upper.sh\n      input:\n      - path: lower/in\n      output:\n      - path: lower/out\n",
    )
    .expect("write");
    let r = aisprint(dir, &["oscar", "apply", "--fdl", "pipeline/fdl.yaml", "--config", "controller.yaml"]);
    assert!(text(&r.stdout).contains("n1: 1 service(s) of cluster n1 applied"), "{}", text(&r.stdout));
    let lower_in = dir.join("buckets/n1/lower/in");
    wait("the new service's bucket", Duration::from_secs(10), || lower_in.is_dir());
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(lower_in.join("c.txt"), "new\n").expect("write");
    std::fs::write(inbox.join("d.txt"), "old\n").expect("write");
    wait("the new service's output", Duration::from_secs(10), || dir.join("buckets/n1/lower/out/c.txt").exists());
    std::thread::sleep(Duration::from_millis(1000));
    assert!(!dir.join("buckets/n1/upper/out/d.txt").exists(), "the service left out still ran");
    assert!(mesh.log("n1.log").contains("service stopped (not in the cluster's new set)"));
    agent.stop();
    controller.stop();
    let log = mesh.log("n1.log");
    assert!(log.contains("services applied"), "{log}");
}

#[test]
fn outputs_chain_to_a_service_on_a_second_agent_through_the_mesh_without_loss() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
    std::fs::create_dir_all(dir.join("pipeline")).expect("mkdir");
    // blur on the edge writes for mask, whose bucket is on the cloud node (the FDL's
    // `minio.cloud`, as `toscarizer fdl` writes for a successor on another cluster).
    std::fs::write(
        dir.join("pipeline/blur.sh"),
        "printf 'blurred %s' \"$(cat \"$INPUT_FILE_PATH\")\" > \"$TMP_OUTPUT_DIR/$STORAGE_OBJECT_KEY\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("pipeline/mask.sh"),
        "sleep 0.01\nprintf 'masked %s' \"$(cat \"$INPUT_FILE_PATH\")\" > \"$TMP_OUTPUT_DIR/$STORAGE_OBJECT_KEY\"\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("pipeline/fdl.yaml"),
        "functions:\n  oscar:\n  - edge:\n      name: blur\n      script: blur.sh\n      max_parallelism: 4\n      input:\n      - storage_provider: minio.default\n        path: blur/input\n      output:\n      - storage_provider: minio.cloud\n        path: mask/input\n  - cloud:\n      name: mask\n      script: mask.sh\n      max_parallelism: 2\n      input:\n      - storage_provider: minio.default\n        path: mask/input\n      output:\n      - storage_provider: minio.default\n        path: mask/output\n",
    )
    .expect("write");
    let controller = mesh.controller();
    let mut agents = mesh.service_agents(&["edge", "cloud"]).into_iter();
    let (edge, cloud) = (agents.next().expect("edge"), agents.next().expect("cloud"));
    let cloud_cfg = dir.join("cloud.yaml");
    let r = aisprint(dir, &["oscar", "apply", "--fdl", "pipeline/fdl.yaml", "--config", "controller.yaml"]);
    let out = text(&r.stdout);
    assert!(r.status.success(), "{out}{}", text(&r.stderr));
    assert!(out.contains("edge: 1 service(s) of cluster edge applied"), "{out}");
    assert!(out.contains("cloud: 1 service(s) of cluster cloud applied"), "{out}");

    let inbox = dir.join("buckets/edge/blur/input");
    let final_out = dir.join("buckets/cloud/mask/output");
    let outbox = dir.join("state/edge/outbox");
    wait("the buckets", Duration::from_secs(10), || inbox.is_dir() && final_out.is_dir());
    std::thread::sleep(Duration::from_millis(200));

    // 1. 150 files; the receiving agent is killed (-9) while they flow, and comes back.
    for i in 0..150 {
        drop_file(&inbox, &format!("f{i:04}.txt"), &format!("n{i}"));
    }
    wait("a third through the chain", Duration::from_secs(60), || names_in(&final_out).len() >= 50);
    cloud.kill9();
    std::thread::sleep(Duration::from_millis(1500));
    let cloud = mesh.agent(&cloud_cfg, "cloud.log");
    wait("all 150 through the chain", Duration::from_secs(120), || names_in(&final_out).len() >= 150);

    // 2. The receiving bucket cannot be written for a while (a file where its folder should
    //    be: the receiver's put fails on its disk): the outputs wait on the edge, none is set
    //    aside as refused, and they go once the bucket can be written again.
    let cloud_in = dir.join("buckets/cloud/mask/input");
    let saved = dir.join("buckets/cloud/mask/input-saved");
    std::fs::rename(&cloud_in, &saved).expect("move the bucket away");
    std::fs::write(&cloud_in, "in the way").expect("obstacle");
    for i in 150..160 {
        drop_file(&inbox, &format!("f{i:04}.txt"), &format!("n{i}"));
    }
    wait("the edge to hold 10 outputs", Duration::from_secs(60), || count_files(&outbox) == 10);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count_files(&outbox), 10, "kept while the receiver cannot store them");
    assert_eq!(count_files(&dir.join("state/edge/undeliverable")), 0, "a disk error is not a refusal");
    std::fs::remove_file(&cloud_in).expect("rm");
    std::fs::rename(&saved, &cloud_in).expect("the bucket back");
    wait("160 through the chain", Duration::from_secs(120), || names_in(&final_out).len() >= 160);

    // 3. The controller is away: the edge keeps what it made in its outbox, and delivers it
    //    when the controller is back.
    controller.kill9();
    for i in 160..210 {
        drop_file(&inbox, &format!("f{i:04}.txt"), &format!("n{i}"));
    }
    wait("the edge to hold 50 outputs", Duration::from_secs(60), || count_files(&outbox) == 50);
    assert_eq!(names_in(&final_out).len(), 160, "nothing can arrive without the controller");
    let controller = mesh.controller();
    wait("all 210 through the chain", Duration::from_secs(120), || names_in(&final_out).len() >= 210);
    wait("the outbox emptied", Duration::from_secs(20), || count_files(&outbox) == 0);

    // Every file once, with both stages' work in it.
    let names = names_in(&final_out);
    assert_eq!(names.len(), 210, "{names:?}");
    for i in 0..210 {
        let got = std::fs::read_to_string(final_out.join(format!("f{i:04}.txt"))).expect("output");
        assert_eq!(got, format!("masked blurred n{i}"));
    }
    edge.stop();
    cloud.stop();
    controller.stop();
    // Each agent took each file once: one job per file name in its job store.
    for (node, service) in [("edge", "blur"), ("cloud", "mask")] {
        let jobs = aisprint_agent::services::Jobs::open(&dir.join(format!("state/{node}/jobs.redb")))
            .expect("job store")
            .list(service)
            .expect("jobs");
        let mut files: Vec<&str> = jobs.iter().map(|j| j.file.as_str()).collect();
        files.sort();
        files.dedup();
        assert_eq!((jobs.len(), files.len()), (210, 210), "{node}: one job per file");
        assert!(jobs.iter().all(|j| j.state == aisprint_agent::services::JobState::Succeeded), "{node}: {jobs:?}");
    }
    assert!(count_files(&dir.join("state/edge/undeliverable")) == 0);
}

/// `bucket.drain` answers once every file of the bucket has run; `service.stop` stops a
/// service for good (not back after a restart of the agent); the agent refuses what it cannot
/// do, saying why.
#[test]
fn a_bucket_is_drained_and_a_service_stopped_on_command() {
    use aisprint_proto::commands::{AgentCommand, Drain, Stop};
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
    std::fs::create_dir_all(dir.join("pipeline")).expect("mkdir");
    std::fs::write(dir.join("pipeline/slow.sh"), "sleep 0.4\ncp \"$INPUT_FILE_PATH\" \"$TMP_OUTPUT_DIR/\"\n")
        .expect("write");
    std::fs::write(
        dir.join("pipeline/fdl.yaml"),
        "functions:\n  oscar:\n  - n1:\n      name: slow\n      script: slow.sh\n      max_parallelism: 2\n      input:\n      - path: slow/in\n      output:\n      - path: slow/out\n  - n1:\n      name: other\n      script: slow.sh\n      input:\n      - path: other/in\n      output:\n      - path: other/out\n",
    )
    .expect("write");
    let (controller, agent, cfg) = controller_and_n1(&mesh);
    let r = aisprint(dir, &["oscar", "apply", "--fdl", "pipeline/fdl.yaml", "--config", "controller.yaml"]);
    assert!(r.status.success(), "{}{}", text(&r.stdout), text(&r.stderr));
    let (inbox, outbox) = (dir.join("buckets/n1/slow/in"), dir.join("buckets/n1/slow/out"));
    wait("the service's bucket", Duration::from_secs(10), || inbox.is_dir());
    for i in 0..6 {
        drop_file(&inbox, &format!("f{i}.txt"), "x\n");
    }
    // Six jobs of 0.4 s, two at a time: the answer comes once all six are done.
    let (ok, message) =
        command(dir, "n1", AgentCommand::BucketDrain(Drain { bucket: "slow/in".into(), timeout_s: 60.0 }));
    assert!(ok, "{message}");
    assert!(message.contains("bucket slow/in drained"), "{message}");
    assert_eq!(names_in(&outbox).len(), 6, "every file ran before the answer");
    // A drain that cannot finish in time says how much is left.
    for i in 0..4 {
        drop_file(&inbox, &format!("g{i}.txt"), "x\n");
    }
    let (ok, message) =
        command(dir, "n1", AgentCommand::BucketDrain(Drain { bucket: "slow/in".into(), timeout_s: 0.1 }));
    assert!(!ok && message.contains("not drained within 0.1 s"), "{message}");
    let (ok, message) =
        command(dir, "n1", AgentCommand::BucketDrain(Drain { bucket: "nobody/in".into(), timeout_s: 1.0 }));
    assert!(!ok && message.contains("no service of this node reads bucket `nobody/in`"), "{message}");
    wait("the last four", Duration::from_secs(20), || names_in(&outbox).len() == 10);

    // Stopped: new files wait, and the agent's restart does not bring it back.
    let (ok, message) = command(dir, "n1", AgentCommand::ServiceStop(Stop { service: "slow".into() }));
    assert!(ok && message.contains("service slow of cluster n1 stopped"), "{message}");
    let (ok, message) = command(dir, "n1", AgentCommand::ServiceStop(Stop { service: "slow".into() }));
    assert!(!ok && message.contains("no service `slow` runs on this node"), "{message}");
    drop_file(&inbox, "late.txt", "x\n");
    agent.stop();
    let agent = mesh.agent(&cfg, "n1.log");
    let other = dir.join("buckets/n1/other/in");
    drop_file(&other, "o.txt", "x\n");
    wait("the other service, still there", Duration::from_secs(20), || dir.join("buckets/n1/other/out/o.txt").exists());
    std::thread::sleep(Duration::from_millis(1000));
    assert!(!outbox.join("late.txt").exists(), "the stopped service ran after the restart");
    // The FDL the agent keeps (its state folder is beside its buffer) lost the service.
    let applied = std::fs::read_to_string(dir.join("buffers/services/applied/n1/fdl.yaml")).expect("the applied FDL");
    assert!(!applied.contains("name: slow") && applied.contains("name: other"), "{applied}");
    agent.stop();
    controller.stop();
}

#[test]
fn an_apply_that_leaves_a_service_the_same_does_not_run_its_job_twice() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let mesh = Mesh::new(dir);
    std::fs::create_dir_all(dir.join("pipeline")).expect("mkdir");
    let starts = dir.join("starts.log");
    std::fs::write(
        dir.join("pipeline/slow.sh"),
        format!(
            "echo \"$STORAGE_OBJECT_KEY\" >> '{}'\nsleep 2\ncp \"$INPUT_FILE_PATH\" \"$TMP_OUTPUT_DIR/\"\n",
            starts.display()
        ),
    )
    .expect("write");
    let fdl = |par: u32| {
        format!("functions:\n  oscar:\n  - n1:\n      name: slow\n      script: slow.sh\n      max_parallelism: {par}\n      input:\n      - path: slow/in\n      output:\n      - path: slow/out\n")
    };
    std::fs::write(dir.join("pipeline/fdl.yaml"), fdl(1)).expect("write");
    let (controller, agent, _) = controller_and_n1(&mesh);
    let apply = || {
        let r = aisprint(dir, &["oscar", "apply", "--fdl", "pipeline/fdl.yaml", "--config", "controller.yaml"]);
        assert!(text(&r.stdout).contains("n1: 1 service(s) of cluster n1 applied"), "{}", text(&r.stdout));
    };
    apply();
    let inbox = dir.join("buckets/n1/slow/in");
    wait("the service's bucket", Duration::from_secs(10), || inbox.is_dir());
    std::thread::sleep(Duration::from_millis(200));
    drop_file(&inbox, "a.txt", "a\n");
    wait("the job started", Duration::from_secs(10), || {
        std::fs::read_to_string(&starts).is_ok_and(|s| s.contains("a.txt"))
    });
    // The same services again while the job runs: it goes on, and runs once.
    apply();
    wait("the output", Duration::from_secs(10), || dir.join("buckets/n1/slow/out/a.txt").exists());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(std::fs::read_to_string(&starts).expect("starts").lines().filter(|l| *l == "a.txt").count(), 1);
    assert!(mesh.log("n1.log").contains("service unchanged: it goes on"), "{}", mesh.log("n1.log"));
    // A new parallelism is a new definition: the service is replaced.
    std::fs::write(dir.join("pipeline/fdl.yaml"), fdl(3)).expect("write");
    apply();
    wait("the replacement", Duration::from_secs(10), || mesh.log("n1.log").contains("service replaced"));
    agent.stop();
    controller.stop();
}
