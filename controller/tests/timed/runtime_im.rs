//! SPACE4AI-R scaling a virtual layer through the real Infrastructure Manager (PyPI `IM`
//! 2.0.0, its Dummy connector; `support::im`): the burst example with classify only on the
//! cloud VMs, provisioned by `aisprint toscarizer deploy` (one worker VM, as SPACE4AI-D chose
//! for 1 frame/s). A burst beyond one VM makes the runtime add worker VMs to classify's
//! infrastructure at IM, then raise the service's parallelism; the fall removes them again,
//! after the service shrank. Everything (IM, controller, agents, this test's thread) runs in a
//! network namespace with only loopback: IM's Dummy VMs have no route to be reached.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::runtime::Loop;
use crate::support::im::{write_auth, ImSite, DUMMY_AUTH};
use crate::support::{aisprint, text, yaml, Proc};

/// The worker VMs (`wn_*` systems) of an infrastructure, by id.
fn workers(site: &ImSite, url: &str) -> Vec<String> {
    let vms = site.json(url)["uri-list"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for vm in vms {
        let u = vm["uri"].as_str().expect("uri");
        let radl = site.json(u)["radl"].as_array().cloned().unwrap_or_default();
        let system = radl.iter().find(|a| a["class"] == "system").and_then(|s| s["id"].as_str()).unwrap_or("");
        if system.starts_with("wn_") {
            out.push(u.rsplit('/').next().expect("id").to_string());
        }
    }
    out
}

/// The status and classify's worker VMs at IM, read while no change is under way.
fn settled(l: &Loop, site: &ImSite, url: &str) -> (Value, Vec<String>) {
    for _ in 0..50 {
        let s = l.status();
        if s["pending"].is_null() {
            let w = workers(site, url);
            let again = l.status();
            if again["pending"].is_null() && again["history"] == s["history"] {
                return (s, w);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("a change is always under way: {:#}", l.status());
}

fn classify_parallelism(s: &Value) -> u64 {
    s["current"]["units"]
        .as_array()
        .and_then(|u| u.iter().find(|p| p["unit"] == "classify"))
        .and_then(|p| p["parallelism"].as_u64())
        .unwrap_or(0)
}

#[test]
fn a_burst_adds_worker_vms_at_im_and_the_fall_removes_them_without_losing_a_frame() {
    let _alone = crate::alone();
    let site = ImSite::start("rtscale");
    site.enter();
    let artifacts = site.artifacts_url();
    let im_url = site.im_url();
    let mut l = Loop::build(
        "0.4",
        |app: &Path| {
            // classify runs on the cloud VMs only: the layer in use can only scale.
            let f = app.join("common_config/candidate_deployments.yaml");
            let t = std::fs::read_to_string(&f)
                .expect("read")
                .replace("candidateExecutionLayers: [2, 3]", "candidateExecutionLayers: [3]")
                .replace(
                    "candidateExecutionResources: [EdgeServer, CloudVM]",
                    "candidateExecutionResources: [CloudVM]",
                );
            std::fs::write(&f, t).expect("write");
            // The edge node's existing OSCAR cluster (a service-only document at IM).
            std::fs::write(
                app.join("common_config/physical_nodes.yaml"),
                "ComputationalLayers:\n  computationalLayer1:\n    number: 1\n    Resources:\n      resource1:\n        name: EdgeNode\n        minio: {endpoint: 'https://minio.edge.example.org', access_key: edgeminio, secret_key: fake-edge-secret}\n        oscar: {name: oscar-edge}\n",
            )
            .expect("write");
        },
        |app: &Path| {
            let cwd = app.parent().expect("parent");
            let r = aisprint(
                cwd,
                &["toscarizer", "tosca", "--application_dir", "burst", "--optimal", "--artifacts_url", &artifacts],
            );
            assert!(r.status.success(), "{}", text(&r.stderr));
            write_auth(app, DUMMY_AUTH);
            let r = aisprint(
                cwd,
                &[
                    "toscarizer",
                    "deploy",
                    "--application_dir",
                    "burst",
                    "--optimal",
                    "--im_url",
                    &im_url,
                    "--allow_unconfigured",
                ],
            );
            assert!(r.status.success(), "{}\n{}", text(&r.stdout), text(&r.stderr));
            format!("  im: {{url: '{im_url}', allow_unconfigured: true, timeout_s: 120}}\n")
        },
    );
    let infras = yaml(&l.dir.join("burst/aisprint/deployments/base/im/infras.yaml"));
    let classify = infras["infrastructures"]
        .as_sequence()
        .expect("list")
        .iter()
        .find(|r| r["component"].as_str() == Some("classify"))
        .and_then(|r| r["url"].as_str())
        .expect("classify's infrastructure")
        .to_string();
    let first = workers(&site, &classify);
    assert_eq!(first.len(), 1, "SPACE4AI-D chose one VM for 1 frame/s");

    let controller = l.mesh.controller();
    let agents: Vec<Proc> = ["edge-1", "vm-1"].iter().map(|n| l.agent(n)).collect();
    let s = l.wait(Duration::from_secs(60), "the start placement", |s| s["current"].is_object());
    assert_eq!(classify_parallelism(&s), 1, "{s:#}");

    l.feed(1.0, 4.0, || false);
    l.feed(5.0, 20.0, || false);
    l.wait(Duration::from_secs(90), "the scale-out", |s| classify_parallelism(s) > 1 && s["pending"].is_null());
    let (s, up) = settled(&l, &site, &classify);
    let k = classify_parallelism(&s) as usize;
    let out = Loop::history(&s).last().cloned().expect("the scale-out's record");
    eprintln!("scale-out to {k} VMs: {out:#}");
    assert_eq!((out["from"].as_str(), out["to"].as_str()), (Some("base"), Some("base")), "{out:#}");
    assert_eq!(up.len(), k, "IM has as many worker VMs as the service's parallelism: {up:?}\n{s:#}");
    assert!(up.contains(&first[0]), "the first worker stays: {up:?}");
    let folder = l.dir.join("burst").join(out["folder"].as_str().expect("folder"));
    let decision = std::fs::read_to_string(folder.join("decision.yaml")).expect("decision.yaml");
    let scale = decision.find("scale CloudVM to ").expect("a scale step in decision.yaml");
    assert!(scale < decision.find(&format!("apply on vm-1: classify x{k}")).expect("apply"), "{decision}");

    l.feed(0.5, 25.0, || false);
    let s = l.wait(Duration::from_secs(60), "the scale-in", |s| {
        Loop::history(s).last().is_some_and(|r| r["via"] == "scale_in") && s["pending"].is_null()
    });
    assert!(classify_parallelism(&s) < k as u64, "{s:#}");
    let (s, down) = settled(&l, &site, &classify);
    let now = classify_parallelism(&s) as usize;
    assert_eq!(down.len(), now, "{down:?}");
    assert!(down.contains(&first[0]), "the newest workers went first: {down:?}");

    let last = Loop::history(&s).last().cloned().expect("the scale-in's record");
    eprintln!("scale-in to {now} VMs: {last:#}");
    let folder = l.dir.join("burst").join(last["folder"].as_str().expect("folder"));
    let decision = std::fs::read_to_string(folder.join("decision.yaml")).expect("decision.yaml");
    let apply = decision.find(&format!("apply on vm-1: classify x{now}")).expect("the apply");
    let scale = decision.find(&format!("scale CloudVM to {now} VMs (IM)")).expect("the scale step");
    assert!(apply < scale, "the service shrinks before its VMs go: {decision}");

    l.every_frame_once();
    assert!(!l.mesh.log("controller.log").contains("im-s3cret"), "the IM password is in the log");
    for a in agents {
        a.stop();
    }
    controller.stop();
}
