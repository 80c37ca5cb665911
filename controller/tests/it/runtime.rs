//! SPACE4AI-R's configuration and its endpoints on bad input: a runtime section that names a
//! missing deployment or folder is refused before anything starts; a malformed or unknown
//! `POST /ams-alert` gets a clear answer and the controller keeps running; `controller
//! validate` checks the same without starting. (The closed loop
//! itself is in `tests/timed/runtime.rs`.)

use std::path::Path;

use crate::support::mesh::Mesh;
use crate::support::{aisprint, copy_dir, http_post as post, port, repo, text};

/// The burst example designed and placed under `dir`.
fn burst(dir: &Path) {
    copy_dir(&repo().join("examples/burst"), &dir.join("burst"));
    for cmd in [["design", "--application_dir", "burst"], ["space4aid", "--application_dir", "burst"]] {
        let r = aisprint(dir, &cmd);
        assert!(r.status.success(), "{}", text(&r.stderr));
    }
}

/// `controller.yaml` with `extra` appended.
fn with(dir: &Path, extra: &str) {
    let mut cfg = std::fs::read_to_string(dir.join("controller.yaml")).expect("cfg");
    let base = cfg.split("runtime:").next().expect("base").split("monitoring:").next().expect("m").to_string();
    cfg = base + extra;
    std::fs::write(dir.join("controller.yaml"), cfg).expect("write");
}

#[test]
fn a_runtime_section_naming_what_is_not_there_is_refused_before_serving() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    burst(dir);
    let _mesh = Mesh::new(dir);
    let serve = || aisprint(dir, &["controller", "serve", "--config", "controller.yaml"]);
    with(dir, "runtime:\n  application_dir: burst\n  deployment: nosuch\n");
    let r = serve();
    assert_eq!(r.status.code(), Some(1), "{}", text(&r.stderr));
    let err = text(&r.stderr);
    assert!(
        err.contains("runtime.deployment")
            && err.contains("`nosuch` is not a deployment of burst (it has base, deployment1)"),
        "{err}"
    );
    with(dir, "runtime:\n  application_dir: elsewhere\n");
    let r = serve();
    assert_eq!(r.status.code(), Some(1), "{}", text(&r.stderr));
    assert!(text(&r.stderr).contains("elsewhere"), "{}", text(&r.stderr));
    with(dir, "runtime:\n  application_dir: burst\n  period_s: -1\n  agents: {VM: 'a b'}\n");
    let r = serve();
    let err = text(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(err.contains("runtime.period_s") && err.contains("runtime.agents.VM"), "{err}");
    // IM: a bad URL; then auth.dat missing; then no infrastructures recorded.
    with(dir, "runtime:\n  application_dir: burst\n  im: {url: 'im.example.org', timeout_s: 0}\n");
    let err = text(&serve().stderr);
    assert!(err.contains("runtime.im.url") && err.contains("expected an http:// or https:// URL"), "{err}");
    assert!(err.contains("runtime.im.timeout_s"), "{err}");
    with(dir, "runtime:\n  application_dir: burst\n  im: {url: 'http://127.0.0.1:9'}\n");
    let r = serve();
    let err = text(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(err.contains("runtime.im.auth") && err.contains("burst/im/auth.dat"), "{err}");
    std::fs::write(
        dir.join("burst/im/auth.dat"),
        "id = im; type = InfrastructureManager; username = u; password = s3cret-im\n",
    )
    .expect("auth");
    let r = serve();
    let err = text(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(
        err.contains("burst/aisprint/deployments/base/im/infras.yaml") && err.contains("aisprint toscarizer deploy"),
        "{err}"
    );
    assert!(!err.contains("s3cret-im"), "{err}");
    // No runtime section: the operator's commands say how to turn it on.
    with(dir, "");
    let controller = _mesh.controller();
    let r = aisprint(dir, &["runtime", "status", "--config", "controller.yaml"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(text(&r.stderr).contains("add a `runtime` section to controller.yaml"), "{}", text(&r.stderr));
    controller.stop();
}

/// `controller validate` reads and checks what `serve` does before binding, and starts nothing:
/// a good configuration (with a runtime section) is valid, a bad one names its key, a missing
/// certificate its file; the state file is never created.
#[test]
fn validate_checks_what_serve_checks_and_starts_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    burst(dir);
    let mesh = Mesh::new(dir);
    let validate = || aisprint(dir, &["controller", "validate", "--config", "controller.yaml"]);
    with(dir, "runtime:\n  application_dir: burst\n");
    let r = validate();
    let out = text(&r.stdout);
    assert!(r.status.success(), "{}", text(&r.stderr));
    let want = format!("controller.yaml: valid (listen 127.0.0.1:{}, state ", mesh.port);
    assert!(out.starts_with(&want) && out.ends_with("runtime on burst)\n"), "{out}");
    with(dir, "runtime:\n  application_dir: burst\n  deployment: nosuch\n");
    let r = validate();
    assert_eq!(r.status.code(), Some(1));
    assert!(text(&r.stderr).contains("runtime.deployment"), "{}", text(&r.stderr));
    with(dir, "");
    std::fs::remove_file(dir.join("certs/controller.key")).expect("rm");
    let r = validate();
    assert_eq!(r.status.code(), Some(1));
    assert!(text(&r.stderr).contains("certs/controller.key"), "{}", text(&r.stderr));
    assert!(!dir.join("state/controller.redb").exists(), "validate created the state");
}

#[test]
fn bad_alerts_get_clear_answers_and_the_controller_keeps_running() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    burst(dir);
    let mesh = Mesh::new(dir);
    let http = port();
    with(
        dir,
        &format!("monitoring:\n  http: 127.0.0.1:{http}\nruntime:\n  application_dir: burst\n  agents: {{EdgeNode: edge-1, EdgeServer: server-1, CloudVM: vm-1}}\n  period_s: 1\n"),
    );
    let controller = mesh.controller();
    crate::support::wait("the HTTP endpoint", std::time::Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", http)).is_ok()
    });
    let (code, body) = post(http, "/ams-alert", "{not json");
    assert_eq!(code, 400, "{body}");
    assert!(body.starts_with("not JSON"), "{body}");
    let (code, body) = post(http, "/ams-alert", r#"{"constraint": "nope", "value": 3}"#);
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("unknown constraint `nope`: the application's are local_constraint_1"), "{body}");
    let (code, body) = post(http, "/ams-alert", r#"{"weather": "fine"}"#);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("expected an AMS notification"), "{body}");
    let (code, body) = post(http, "/ams-alert", &"x".repeat(70_000));
    assert_eq!(code, 413, "{body}");
    let (code, body) = post(http, "/ams-alert", r#"{"constraint": "local_constraint_1", "value": 3.2}"#);
    assert_eq!(code, 202, "{body}");
    let (code, body) = post(http, "/ams-alert", r#"{"Throughput": 0.25}"#);
    assert_eq!(code, 202, "{body}");
    // Still running: the start placement waits for its agents, said.
    let r = aisprint(dir, &["runtime", "status", "--config", "controller.yaml"]);
    let out = text(&r.stdout);
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert!(out.contains("current: nothing applied yet"), "{out}");
    assert!(out.contains("waiting: agent edge-1 is not connected"), "{out}");
    let r = aisprint(dir, &["runtime", "rollback", "--config", "controller.yaml"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(text(&r.stderr).contains("a change is under way"), "{}", text(&r.stderr));
    let r = aisprint(dir, &["runtime", "plan", "--config", "controller.yaml"]);
    assert!(r.status.success() && text(&r.stdout).contains("no placement applied yet"), "{}", text(&r.stdout));
    controller.stop();
}
