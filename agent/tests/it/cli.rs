//! The agent's command line: the template it prints is valid as it is, bad configurations are
//! refused with file and key, and plain text needs both the config and the flag.

use std::process::Command;

fn agent(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aisprint-agent")).args(args).current_dir(dir).output().expect("run")
}

#[test]
fn the_template_validates_and_bad_values_are_named() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = agent(tmp.path(), &["generate-config", "--node", "rpi-7"]);
    assert!(out.status.success());
    let template = String::from_utf8_lossy(&out.stdout).to_string();
    std::fs::write(tmp.path().join("agent.yaml"), &template).expect("write");
    let ok = agent(tmp.path(), &["validate", "--config", "agent.yaml"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    let bad = template
        .replace("period_s: 20", "period_s: 0")
        .replace("when_full: drop_oldest", "when_full: sometimes")
        .replace("families: [cpu,", "families: [gpu,");
    std::fs::write(tmp.path().join("bad.yaml"), bad).expect("write");
    let r = agent(tmp.path(), &["validate", "--config", "bad.yaml"]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("bad.yaml") && err.contains("when_full"), "{err}");
    let fixed = template.replace("period_s: 20", "period_s: 0").replace("families: [cpu,", "families: [gpu,");
    std::fs::write(tmp.path().join("bad.yaml"), fixed).expect("write");
    let err = String::from_utf8_lossy(&agent(tmp.path(), &["validate", "--config", "bad.yaml"]).stderr).to_string();
    assert!(
        err.contains("collection.period_s") && err.contains("collection.families[0]: unknown family `gpu`"),
        "{err}"
    );
}

#[test]
fn plain_text_needs_the_config_and_the_flag() {
    let tmp = tempfile::tempdir().expect("tmp");
    std::fs::write(
        tmp.path().join("agent.yaml"),
        "node_id: n1\ncontroller:\n  address: http://127.0.0.1:9\n  insecure: true\nbuffer:\n  path: b.redb\n",
    )
    .expect("write");
    let r = agent(tmp.path(), &["run", "--config", "agent.yaml"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("give --insecure as well"));
    // With TLS configured, --insecure alone is refused too.
    std::fs::write(
        tmp.path().join("tls.yaml"),
        "node_id: n1\ncontroller:\n  address: https://127.0.0.1:9\n  ca: ca.pem\n  cert: n1.pem\n  key: n1.key\nbuffer:\n  path: b.redb\n",
    )
    .expect("write");
    let r = agent(tmp.path(), &["run", "--insecure", "--config", "tls.yaml"]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("sets up mutual TLS"));
}
