//! `aisprint toscarizer deploy | outputs | delete` against a real Infrastructure Manager: the
//! PyPI package `IM` (2.0.0) with its `Dummy` cloud connector, which provisions nothing but
//! runs IM's real REST API, TOSCA parsing and contextualisation.
//!
//! Nothing leaves the machine: every test makes its own network namespace with only a
//! loopback interface (`ip netns`, which needs root) and runs IM, the artifacts server and
//! our client inside it. IM's Dummy VMs get the address 10.0.0.1 and IM then tries SSH to
//! them (and to the PhysicalToBeProvisioned machines): with no route, each attempt fails at
//! once, and `tests/im/run_im.py` lowers IM's waits so that states settle in seconds. Under
//! Dummy a cluster document (it has configuration steps) ends `unconfigured`, a service-only
//! document `configured`; what the tests prove is that IM accepted each document and built
//! what it describes (read back from IM: the RADL's systems, CPUs, memory, images, instance
//! types, the VM count), that outputs and delete work, and that a failing infrastructure
//! gives a clear error and no entry claiming success.
//!
//! IM fetches the configuration recipes of the node types when it parses a document (the
//! original ones are on GitHub, out of reach here): the harness serves placeholder recipes
//! on loopback through `--artifacts_url` and checks that IM fetched each one; IM never runs
//! them (no VM is reachable). The harness: `support::im`.

use std::path::{Path, PathBuf};

use crate::support::im::{radl_system, write_auth, ImSite, DUMMY_AUTH};
use crate::support::{aisprint, copy_dir, example, repo, text, yaml};

fn designed_example(tmp: &Path, site: &ImSite) -> PathBuf {
    let app = example(tmp, "mask_detection");
    let out = aisprint(tmp, &["design", "--application_dir", "mask_detection"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = aisprint(
        tmp,
        &[
            "toscarizer",
            "tosca",
            "--application_dir",
            "mask_detection",
            "--base",
            "--artifacts_url",
            &site.artifacts_url(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    write_auth(&app, DUMMY_AUTH);
    app
}

#[test]
fn example_base_deployment_is_built_by_im_read_back_and_deleted() {
    let site = ImSite::start("example");
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_example(tmp.path(), &site);
    let appdir = app.to_str().expect("utf8");
    let im_url = site.im_url();
    let out = site.toscarizer(tmp.path(), "deploy", appdir, &["--allow_unconfigured"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Successors first: mask-detector (which blurry-faces-onnx writes to) is launched first.
    let md = stdout.find("Launching deployment for component mask-detector").expect("mask-detector launched");
    let bf = stdout.find("Launching deployment for component blurry-faces-onnx").expect("blurry launched");
    assert!(md < bf, "{stdout}");
    assert!(
        !stdout.contains("im-s3cret") && !stderr.contains("im-s3cret"),
        "the IM password leaked:\n{stdout}\n{stderr}"
    );
    // IM fetched the configuration recipes of the node types it configures.
    let fetched = site.fetched();
    for f in ["/lrms/kube_fe_install.yml", "/lrms/kube_wn_install.yml", "/oscar/oscar_install.yml"] {
        assert!(fetched.contains(f), "IM did not fetch {f}: {fetched}");
    }

    let infras = yaml(&app.join("aisprint/deployments/base/im/infras.yaml"));
    let list = infras["infrastructures"].as_sequence().expect("list");
    assert_eq!(list.len(), 2);
    let prod = yaml(&app.join("aisprint/deployments/base/production_deployment.yaml"));
    let vm = |name: &str| -> serde_yaml::Value {
        let layers = &prod["System"]["NetworkDomains"]["ND1"]["ComputationalLayers"];
        layers
            .as_mapping()
            .expect("layers")
            .values()
            .flat_map(|l| l["Resources"].as_mapping().expect("res").values().cloned().collect::<Vec<_>>())
            .find(|r| r["name"].as_str() == Some(name))
            .expect("resource")
    };
    for (component, resource) in [("mask-detector", "VM2"), ("blurry-faces-onnx", "VM1")] {
        let rec = list.iter().find(|r| r["component"].as_str() == Some(component)).expect("record");
        assert_eq!(rec["state"].as_str(), Some("unconfigured"), "{rec:?}");
        let url = rec["url"].as_str().expect("url");
        assert!(url.starts_with(&format!("{im_url}/infrastructures/")), "{url}");
        // What IM built, per our resource.
        let r = vm(resource);
        let radl = site.json(&format!("{url}/radl"))["radl"].as_str().expect("radl").to_string();
        let wn = radl_system(&radl, "wn_resource1");
        let cores = r["processors"]["processor1"]["computingUnits"].as_u64().expect("cores");
        let mem = r["memorySize"].as_u64().expect("mem");
        let image = r["operatingSystemImageId"].as_str().expect("image");
        assert!(wn.contains(&format!("cpu.count >= {cores}")), "{wn}");
        assert!(wn.contains(&format!("memory.size >= {}B", mem * 1_000_000)), "{wn}");
        assert!(wn.contains(&format!("disk.0.image.url = '{image}'")), "{wn}");
        assert!(wn.contains(&format!("instance_type = '{}'", r["description"].as_str().expect("type"))), "{wn}");
        let front = radl_system(&radl, "front");
        assert!(
            front.contains(&format!("disk.0.image.url = '{image}'")) && front.contains("disk.1.mount_path = '/pv'"),
            "{front}"
        );
        assert!(
            radl.contains(&format!("configure oscar_oscar_service_{component}")),
            "no service configuration in the RADL"
        );
        let vms = site.json(url)["uri-list"].as_array().expect("vms").len() as u64;
        assert_eq!(vms, 1 + r["totalNodes"].as_u64().expect("nodes"), "front + totalNodes worker VMs");
    }

    // outputs: the endpoints and passwords of the documents.
    let out = site.toscarizer(tmp.path(), "outputs", appdir, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let outputs: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).expect("yaml");
    for component in ["mask-detector", "blurry-faces-onnx"] {
        let doc = yaml(&app.join(format!("aisprint/deployments/base/im/{component}.yaml")));
        let inputs = &doc["topology_template"]["inputs"];
        let cluster = inputs["cluster_name"]["default"].as_str().expect("cluster");
        let o = &outputs[component];
        assert_eq!(o["oscarui_endpoint"].as_str(), Some(format!("https://{cluster}.im.grycap.net/").as_str()), "{o:?}");
        assert_eq!(o["minio_password"], inputs["minio_password"]["default"]);
        assert_eq!(o["oscar_service_cred"]["token"], inputs["oscar_password"]["default"]);
    }

    // infras.yaml is its owner's only.
    use std::os::unix::fs::PermissionsExt;
    let mode =
        std::fs::metadata(app.join("aisprint/deployments/base/im/infras.yaml")).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Documents generated again (new clusters, new passwords) do not match what runs: deploy
    // refuses instead of wiring new components to clusters that do not exist.
    let out = aisprint(
        tmp.path(),
        &[
            "toscarizer",
            "tosca",
            "--application_dir",
            "mask_detection",
            "--base",
            "--artifacts_url",
            // As people type it, without the final `/`: still a folder.
            site.artifacts_url().trim_end_matches('/'),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = site.toscarizer(tmp.path(), "deploy", appdir, &["--allow_unconfigured"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("earlier `toscarizer tosca` run") && stderr.contains("toscarizer delete"), "{stderr}");

    // delete: the last created first; IM no longer knows them; infras.yaml is gone.
    let urls: Vec<String> = list.iter().map(|r| r["url"].as_str().expect("url").to_string()).collect();
    let out = site.toscarizer(tmp.path(), "delete", appdir, &[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.find("component blurry-faces-onnx").expect("bf") < stdout.find("component mask-detector").expect("md"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("Infrastructure successfully deleted.").count(), 2, "{stdout}");
    assert!(!app.join("aisprint/deployments/base/im/infras.yaml").exists());
    for u in urls {
        let (status, body) = site.query("GET", &format!("{u}/state"));
        assert_eq!(status, 404, "{u} still known to IM: {body}");
    }
}

#[test]
fn unconfigured_is_a_failure_unless_allowed_and_nothing_claims_success() {
    let site = ImSite::start("unconf");
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_example(tmp.path(), &site);
    let appdir = app.to_str().expect("utf8");
    let out = site.toscarizer(tmp.path(), "deploy", appdir, &["--timeout", "120"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("component mask-detector")
            && stderr.contains("ended unconfigured")
            && stderr.contains("--allow_unconfigured"),
        "{stderr}"
    );
    // IM's own reason is shown (the contextualisation log's end).
    assert!(stderr.to_lowercase().contains("ssh"), "{stderr}");
    // blurry-faces-onnx writes to mask-detector: it is not launched on a broken successor.
    assert!(!stdout.contains("Launching deployment for component blurry-faces-onnx"), "{stdout}");
    let infras = yaml(&app.join("aisprint/deployments/base/im/infras.yaml"));
    let list = infras["infrastructures"].as_sequence().expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["state"].as_str(), Some("unconfigured"));
    assert!(list[0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{list:?}");
    // Running again without the flag does not destroy what runs.
    let out = site.toscarizer(tmp.path(), "deploy", appdir, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is unconfigured (from an earlier run)"), "{stderr}");
    // With the flag, the unconfigured one is taken as deployed and the rest launched.
    let out = site.toscarizer(tmp.path(), "deploy", appdir, &["--allow_unconfigured"]);
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let infras = yaml(&app.join("aisprint/deployments/base/im/infras.yaml"));
    assert_eq!(infras["infrastructures"].as_sequence().expect("list").len(), 2);
    let out = site.toscarizer(tmp.path(), "delete", appdir, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_failing_infrastructure_gives_ims_reason_and_no_success_entry() {
    let site = ImSite::start("fail");
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_example(tmp.path(), &site);
    // The only cloud is an OpenStack site that cannot host the resources' AWS images: IM
    // reports the infrastructure `failed`. The documents are elastic ones (IM parses the
    // ElasticCluster node; its im_auth property holds auth.dat).
    write_auth(
        &app,
        "id = im; type = InfrastructureManager; username = tester; password = im-s3cret\nid = ost; type = OpenStack; host = http://127.0.0.1:9; username = u; password = ost-pa55word; tenant = t\n",
    );
    let out = aisprint(
        tmp.path(),
        &[
            "toscarizer",
            "tosca",
            "--application_dir",
            "mask_detection",
            "--base",
            "--elastic",
            "2",
            "--artifacts_url",
            &site.artifacts_url(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc = std::fs::read_to_string(app.join("aisprint/deployments/base/im/mask-detector.yaml")).expect("doc");
    assert!(doc.contains("tosca.nodes.ec3.ElasticCluster") && doc.contains("ost-pa55word"), "elastic document");
    let generated = aisprint_tosca::secrets_in(&doc);
    assert!(generated.len() >= 4, "{generated:?}");
    let appdir = app.to_str().expect("utf8");
    let out = site.toscarizer(tmp.path(), "deploy", appdir, &["--timeout", "120"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("component mask-detector") && stderr.contains("ended failed"), "{stderr}");
    assert!(stderr.contains("OpenStack"), "IM's reason is missing: {stderr}");
    assert!(site.fetched().contains("/ec3_install.yml"), "IM did not read the elastic node's recipe");
    for secret in ["im-s3cret", "ost-pa55word"].into_iter().chain(generated.iter().map(String::as_str)) {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} leaked:\n{stdout}\n{stderr}");
    }
    let infras = yaml(&app.join("aisprint/deployments/base/im/infras.yaml"));
    let list = infras["infrastructures"].as_sequence().expect("list");
    assert!(list.iter().all(|r| r["state"].as_str() != Some("configured")), "{list:?}");
    assert_eq!(list[0]["state"].as_str(), Some("failed"));
}

#[test]
fn all_four_layer_types_are_accepted_by_im() {
    let site = ImSite::start("layers");
    let tmp = tempfile::tempdir().expect("tmp");
    let app = tmp.path().join("four_layers");
    copy_dir(&repo().join("tests/fixtures/apps/four_layers"), &app);
    let out = aisprint(tmp.path(), &["design", "--application_dir", "four_layers"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = aisprint(
        tmp.path(),
        &[
            "toscarizer",
            "tosca",
            "--application_dir",
            "four_layers",
            "--base",
            "--artifacts_url",
            &site.artifacts_url(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    write_auth(&app, DUMMY_AUTH);
    let appdir = app.to_str().expect("utf8");
    // A run that gives up (timeout) leaves infrastructures being built; the next run follows
    // them instead of creating them again.
    let out = site.toscarizer(tmp.path(), "deploy", appdir, &["--allow_unconfigured", "--timeout", "1"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("gave up after 1s"), "{stderr}");
    let first = yaml(&app.join("aisprint/deployments/base/im/infras.yaml"));
    let first: Vec<(String, String)> = first["infrastructures"]
        .as_sequence()
        .expect("list")
        .iter()
        .map(|r| (r["component"].as_str().expect("c").to_string(), r["url"].as_str().expect("u").to_string()))
        .collect();
    assert!(!first.is_empty());
    let out = site.toscarizer(tmp.path(), "deploy", appdir, &["--allow_unconfigured"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for secret in ["fake-edge-minio-secret", "fake-front-key", "fake-wn1-key", "fake-aws-secret-key", "im-s3cret"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} leaked");
    }
    let infras = yaml(&app.join("aisprint/deployments/base/im/infras.yaml"));
    let list = infras["infrastructures"].as_sequence().expect("list");
    for (c, url) in &first {
        let now = list.iter().find(|r| r["component"].as_str() == Some(c.as_str())).expect("kept");
        assert_eq!(now["url"].as_str(), Some(url.as_str()), "{c} was created again instead of followed");
    }
    let order: Vec<&str> = list.iter().map(|r| r["component"].as_str().expect("c")).collect();
    assert_eq!(order, ["archive", "enrich", "detect", "capture"], "successors first");
    let rec = |c: &str| list.iter().find(|r| r["component"].as_str() == Some(c)).expect("rec").clone();
    // Service-only documents have no configuration step on a VM: configured under Dummy.
    assert_eq!(rec("capture")["state"].as_str(), Some("configured"));
    assert_eq!(rec("archive")["state"].as_str(), Some("configured"));
    // The machines over SSH: front and the two servers, with their addresses and SGX.
    let radl = site.json(&format!("{}/radl", rec("detect")["url"].as_str().expect("url")))["radl"]
        .as_str()
        .expect("radl")
        .to_string();
    for (sys, ip) in [("front", "192.0.2.10"), ("wn_resource1_1", "192.0.2.11"), ("wn_resource1_2", "192.0.2.12")] {
        let s = radl_system(&radl, sys);
        assert!(s.contains(ip), "{sys} without {ip}: {s}");
    }
    let wn = radl_system(&radl, "wn_resource1_1");
    assert!(wn.contains("cpu.sgx = 'yes'") && wn.contains("cpu.count >= 8"), "{wn}");
    // The GPU virtual machines.
    let radl = site.json(&format!("{}/radl", rec("enrich")["url"].as_str().expect("url")))["radl"]
        .as_str()
        .expect("radl")
        .to_string();
    let wn = radl_system(&radl, "wn_resource1");
    for want in [
        "gpu.count >= 1",
        "gpu.vendor = 'nvidia'",
        "spot = 'yes'",
        "instance_type = 'g4dn.xlarge'",
        "memory.size >= 16384000000B",
    ] {
        assert!(wn.contains(want), "no `{want}` in {wn}");
    }
    let vms = site.json(rec("enrich")["url"].as_str().expect("url"))["uri-list"].as_array().expect("vms").len();
    assert_eq!(vms, 3, "front + 2 GPU workers");
    let out = site.toscarizer(tmp.path(), "delete", appdir, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
