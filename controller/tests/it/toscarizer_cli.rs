//! `aisprint toscarizer` as a user runs it: the real binary on copies of the mask_detection
//! example and of the four_layers fixture (tests/fixtures/apps/four_layers, one component on
//! each type of computational layer), after `aisprint design`.
//!
//! Covered here, without network:
//! - `tosca` and `fdl` against golden files (tests/fixtures/golden/toscarizer/<app>/): every
//!   generated `im/<component>.yaml` and `oscar/fdl.yaml`, with the values drawn at random
//!   (cluster names `oscar-cluster-xxxxxxxx`, 16-character tokens and passwords) replaced in
//!   every file by `<component:input>`, so that the goldens also show which document's
//!   secret another one uses (a producer writes into its consumer's MinIO with the
//!   consumer's `minio_password`). Fixed names (the existing OSCAR cluster of
//!   physical_nodes.yaml) are kept. The four_layers test also asserts the shape of each
//!   layer type's document and the SCONE files of the component that asks for them.
//! - The secrets: new ones at every run, from `[a-z0-9]`, files readable by their owner only,
//!   never printed; the FDL is one `aisprint oscar` accepts.
//! - Bad inputs: exit status 1 and a message naming the file and the key or resource, with
//!   no secret in it and nothing written; clap's usage error without `--base|--optimal`.
//! - `docker`: build contexts and containers.yaml, with a fake `docker` command standing in
//!   for the engine (none runs on the test machines).
//! - The binary called as `toscarizer`.
//!
//! `deploy`, `outputs` and `delete` against an Infrastructure Manager are tested in
//! im_deploy.rs; here `deploy` only meets a closed port (127.0.0.1:9), after auth.dat checks.
//!
//! Golden files: after a deliberate change of the documents, run
//! `UPDATE_GOLDEN=1 cargo test -p aisprint-controller --test toscarizer_cli` to write them
//! again, then read the diff of tests/fixtures/golden/toscarizer/ before committing it.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{aisprint, copy_dir, example, repo, snapshot, text, yaml};
use serde_yaml::Value;

/// The deployment every test works on (`--base`).
const BASE: &str = "aisprint/deployments/base";
/// The inputs holding a random secret of [`SECRET_LEN`] characters.
const SECRET_INPUTS: [&str; 3] = ["admin_token", "oscar_password", "minio_password"];
const SECRET_LEN: usize = 16;

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn yaml_text(t: &str) -> Value {
    serde_yaml::from_str(t).unwrap_or_else(|e| panic!("not YAML ({e}):\n{t}"))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// Asserts success and returns stdout.
fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Asserts exit status 1 and returns stderr.
fn fails(out: &Output, what: &str) -> String {
    assert_eq!(out.status.code(), Some(1), "{what}\nstdout:\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr));
    text(&out.stderr)
}

fn design(tmp: &Path, app: &Path) {
    ok(&aisprint(tmp, &["design", "--application_dir", p(app)]), "design");
}

/// A copy of the example, designed.
fn designed_example(tmp: &Path) -> PathBuf {
    let app = example(tmp, "mask_detection");
    design(tmp, &app);
    app
}

/// A copy of the four_layers fixture, changed by `edit`, then designed.
fn designed_four_layers(tmp: &Path, edit: impl FnOnce(&Path)) -> PathBuf {
    let app = tmp.join("four_layers");
    copy_dir(&repo().join("tests/fixtures/apps/four_layers"), &app);
    edit(&app);
    design(tmp, &app);
    app
}

/// Replaces `from` by `to` in a file, checking that `from` is there.
fn edit_file(path: &Path, from: &str, to: &str) {
    let t = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(t.contains(from), "{}: no `{from}` to change", path.display());
    std::fs::write(path, t.replace(from, to)).expect("write");
}

fn tosca(tmp: &Path, app: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["toscarizer", "tosca", "--application_dir", p(app), "--base"];
    args.extend_from_slice(extra);
    aisprint(tmp, &args)
}

fn fdl(tmp: &Path, app: &Path) -> Output {
    aisprint(tmp, &["toscarizer", "fdl", "--application_dir", p(app), "--base"])
}

/// The documents of the base deployment, by path under it: `im/<component>.yaml` and
/// `oscar/fdl.yaml`.
fn generated(app: &Path) -> BTreeMap<String, String> {
    let dir = app.join(BASE);
    snapshot(&dir)
        .into_iter()
        .filter(|(rel, _)| (rel.starts_with("im/") && rel.ends_with(".yaml")) || rel == "oscar/fdl.yaml")
        .collect()
}

fn doc(files: &BTreeMap<String, String>, component: &str) -> Value {
    yaml_text(files.get(&format!("im/{component}.yaml")).unwrap_or_else(|| panic!("no document for {component}")))
}

fn input_default<'a>(d: &'a Value, input: &str) -> Option<&'a str> {
    d["topology_template"]["inputs"][input]["default"].as_str()
}

fn is_random(v: &str, len: usize) -> bool {
    v.len() == len && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn is_random_cluster(v: &str) -> bool {
    v.strip_prefix("oscar-cluster-").is_some_and(|r| is_random(r, 8))
}

/// The values drawn at random in the documents and the placeholder of each
/// (`<mask-detector:minio_password>`). Every secret input must be random; cluster names are
/// random unless they name an existing cluster.
fn random_values(files: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for rel in files.keys().filter(|r| r.starts_with("im/")) {
        let component = rel.trim_start_matches("im/").trim_end_matches(".yaml");
        let d = doc(files, component);
        for input in SECRET_INPUTS {
            if let Some(v) = input_default(&d, input) {
                assert!(is_random(v, SECRET_LEN), "{rel}: {input} is not {SECRET_LEN} characters of [a-z0-9]");
                out.push((v.to_string(), format!("<{component}:{input}>")));
            }
        }
        let cluster = input_default(&d, "cluster_name").unwrap_or_else(|| panic!("{rel}: no cluster_name"));
        if is_random_cluster(cluster) {
            out.push((cluster.to_string(), format!("<{component}:cluster_name>")));
        }
    }
    let distinct: BTreeSet<&String> = out.iter().map(|(v, _)| v).collect();
    assert_eq!(distinct.len(), out.len(), "a random value is drawn twice");
    out
}

fn masked(files: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let values = random_values(files);
    files
        .iter()
        .map(|(rel, t)| {
            let mut t = t.clone();
            for (v, placeholder) in &values {
                t = t.replace(v, placeholder);
            }
            (rel.clone(), t)
        })
        .collect()
}

/// Compares the masked documents with tests/fixtures/golden/toscarizer/<name>/, or writes
/// them there when `UPDATE_GOLDEN=1`.
fn check_golden(name: &str, files: &BTreeMap<String, String>) {
    let dir = repo().join("tests/fixtures/golden/toscarizer").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        let _ = std::fs::remove_dir_all(&dir);
        for (rel, t) in files {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, t).expect("write golden");
        }
        eprintln!("UPDATE_GOLDEN=1: wrote {} golden file(s) to {}", files.len(), dir.display());
        return;
    }
    let expected: BTreeMap<String, String> =
        snapshot(&dir).into_iter().filter(|(rel, _)| !rel.ends_with('/')).collect();
    let hint = "if the change is intended: UPDATE_GOLDEN=1 cargo test -p aisprint-controller --test toscarizer_cli, then review the diff";
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        files.keys().collect::<Vec<_>>(),
        "{name}: the generated files are not the golden ones ({hint})"
    );
    for (rel, want) in &expected {
        let got = &files[rel];
        if got == want {
            continue;
        }
        let (n, (w, g)) = want
            .lines()
            .chain(std::iter::repeat("<end of file>"))
            .zip(got.lines().chain(std::iter::repeat("<end of file>")))
            .enumerate()
            .find(|(_, (w, g))| w != g)
            .expect("a differing line");
        panic!(
            "{name}/{rel} differs from its golden file at line {}:\n  golden:    {w}\n  generated: {g}\n({hint})",
            n + 1
        );
    }
}

fn service<'a>(d: &'a Value, node: &str) -> &'a Value {
    let s = &d["topology_template"]["node_templates"][node];
    assert_eq!(s["type"], "tosca.nodes.aisprint.FaaS.Function", "{node}");
    &s["properties"]
}

/// A service's `input` or `output`, as `(storage_provider, path)`.
fn io(props: &Value, key: &str) -> Vec<(String, String)> {
    props[key]
        .as_sequence()
        .unwrap_or_else(|| panic!("no {key}"))
        .iter()
        .map(|e| {
            (
                e["storage_provider"].as_str().expect("storage_provider").to_string(),
                e["path"].as_str().expect("path").to_string(),
            )
        })
        .collect()
}

fn pair(provider: &str, path: &str) -> (String, String) {
    (provider.to_string(), path.to_string())
}

fn node_names(d: &Value) -> Vec<String> {
    d["topology_template"]["node_templates"]
        .as_mapping()
        .expect("node_templates")
        .keys()
        .map(|k| k.as_str().expect("name").to_string())
        .collect()
}

/// Parses the FDL the way `aisprint oscar` does and asserts it has no problem.
fn assert_valid_fdl(path: &Path) -> aisprint_model::oscar::Fdl {
    let t = std::fs::read_to_string(path).expect("fdl");
    let (doc, _) = aisprint_model::yaml::parse::<aisprint_model::oscar::Fdl>("oscar/fdl.yaml", &t)
        .unwrap_or_else(|d| panic!("the FDL does not parse: {d:?}"));
    let d = aisprint_model::oscar::validate(&doc);
    assert!(!d.has_errors(), "the FDL has problems: {:?}", d.errors().collect::<Vec<_>>());
    doc.value
}

#[test]
fn mask_detection_documents_equal_the_golden_files() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_example(tmp.path());
    let out = ok(&tosca(tmp.path(), &app, &[]), "tosca");
    assert!(
        out.contains("im/blurry-faces-onnx.yaml has been generated for Component: blurry-faces-onnx (Virtual"),
        "{out}"
    );
    ok(&fdl(tmp.path(), &app), "fdl");
    let files = generated(&app);
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["im/blurry-faces-onnx.yaml", "im/mask-detector.yaml", "oscar/fdl.yaml"]
    );
    for (rel, t) in &files {
        assert!(!t.contains(p(&app)), "{rel} holds the application's path");
        assert!(!t.contains(p(tmp.path())), "{rel} holds the temporary folder's path");
    }

    // The chaining, explicitly: blurry-faces-onnx writes into mask-detector's MinIO with its
    // password; mask-detector reads that output from its own MinIO and keeps its output.
    let blurry = doc(&files, "blurry-faces-onnx");
    let md = doc(&files, "mask-detector");
    let md_cluster = input_default(&md, "cluster_name").expect("cluster");
    let md_minio = input_default(&md, "minio_password").expect("minio_password");
    let b = service(&blurry, "oscar_service_blurry-faces-onnx");
    assert_eq!(io(b, "input"), [pair("minio", "blurry-faces-onnx/input")]);
    assert_eq!(io(b, "output"), [pair(&format!("minio.{md_cluster}"), "blurry-faces-onnx/output")]);
    let provider = &b["storage_providers"]["minio"][md_cluster];
    assert_eq!(provider["secret_key"].as_str(), Some(md_minio));
    assert_eq!(provider["access_key"], "minio");
    assert_eq!(provider["endpoint"].as_str(), Some(format!("https://minio.{md_cluster}.im.grycap.net").as_str()));
    let m = service(&md, "oscar_service_mask-detector");
    assert_eq!(io(m, "input"), [pair("minio", "blurry-faces-onnx/output")]);
    assert_eq!(io(m, "output"), [pair("minio", "mask-detector/output")]);
    assert!(m.get("storage_providers").is_none(), "mask-detector writes to its own MinIO only");

    let masked = masked(&files);
    let bf = &masked["im/blurry-faces-onnx.yaml"];
    assert!(bf.contains("secret_key: <mask-detector:minio_password>"), "{bf}");
    assert!(bf.contains("storage_provider: minio.<mask-detector:cluster_name>"), "{bf}");
    check_golden("mask_detection", &masked);
}

#[test]
fn four_layers_documents_equal_the_golden_files() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_four_layers(tmp.path(), |_| {});
    let out = ok(&tosca(tmp.path(), &app, &["--domain", "example.org"]), "tosca");
    for (c, kind) in [
        ("capture", "PhysicalAlreadyProvisioned, cluster oscar-edge"),
        ("detect", "PhysicalToBeProvisioned"),
        ("enrich", "Virtual"),
        ("archive", "NativeCloudFunction"),
    ] {
        assert!(out.contains(&format!("im/{c}.yaml has been generated for Component: {c} ({kind}")), "{out}");
    }
    ok(&fdl(tmp.path(), &app), "fdl");
    let files = generated(&app);
    assert_eq!(
        files.keys().map(String::as_str).collect::<Vec<_>>(),
        ["im/archive.yaml", "im/capture.yaml", "im/detect.yaml", "im/enrich.yaml", "oscar/fdl.yaml"]
    );
    for (rel, t) in &files {
        assert!(!t.contains(p(tmp.path())), "{rel} holds the application's path");
        assert!(!t.contains("im.grycap.net"), "{rel}: the default domain instead of --domain");
    }
    let capture = doc(&files, "capture");
    let detect = doc(&files, "detect");
    let enrich = doc(&files, "enrich");
    let archive = doc(&files, "archive");
    let cluster = |d: &Value| input_default(d, "cluster_name").expect("cluster_name").to_string();
    let (detect_cluster, enrich_cluster, archive_cluster) = (cluster(&detect), cluster(&enrich), cluster(&archive));

    // capture: only its service, on the existing OSCAR cluster of physical_nodes.yaml.
    assert_eq!(node_names(&capture), ["oscar_service_capture"]);
    assert_eq!(input_default(&capture, "cluster_name"), Some("oscar-edge"));
    assert!(capture["topology_template"]["node_templates"]["oscar_service_capture"].get("requirements").is_none());
    let c = service(&capture, "oscar_service_capture");
    assert_eq!(io(c, "output"), [pair(&format!("minio.{detect_cluster}"), "capture/output")]);
    assert_eq!(
        c["storage_providers"]["minio"][detect_cluster.as_str()]["secret_key"].as_str(),
        input_default(&detect, "minio_password")
    );

    // detect: a cluster on the SGX servers reached over SSH.
    let nodes = &detect["topology_template"]["node_templates"];
    assert_eq!(nodes["front"]["capabilities"]["os"]["properties"]["credential"]["token_type"], "private_key");
    assert_eq!(nodes["front"]["capabilities"]["os"]["properties"]["credential"]["user"], "ubuntu");
    let ports: BTreeSet<&str> = nodes
        .as_mapping()
        .expect("nodes")
        .values()
        .filter(|n| n["type"] == "tosca.nodes.network.Port")
        .map(|n| n["properties"]["ip_address"].as_str().expect("ip"))
        .collect();
    assert_eq!(ports, BTreeSet::from(["198.51.100.10", "192.0.2.10", "192.0.2.11", "192.0.2.12"]));
    for wn in ["wn_resource1_1", "wn_resource1_2"] {
        let caps = &nodes[wn]["capabilities"];
        assert_eq!(caps["scalable"]["properties"]["count"], 1, "{wn}");
        assert_eq!(caps["host"]["properties"]["sgx"], true, "{wn}");
        assert_eq!(caps["os"]["properties"]["credential"]["token_type"], "private_key", "{wn}");
    }
    assert!(nodes.get("wn_resource1").is_none() && nodes.get("my_block_storage").is_none());
    assert_eq!(input_default(&detect, "domain_name"), Some("example.org"));
    let d = service(&detect, "oscar_service_detect");
    assert_eq!(d["enable_sgx"], true);
    assert_eq!(io(d, "input"), [pair("minio", "capture/output")]);
    // 70% to enrich's MinIO, 30% to archive's bucket, and as that is all of it, nothing kept.
    assert_eq!(
        io(d, "output"),
        [
            pair(&format!("minio.{enrich_cluster}"), "detect/output"),
            pair(&format!("s3.{archive_cluster}"), "four-layers-bucket/detect/output")
        ]
    );
    let enrich_minio = &d["storage_providers"]["minio"][enrich_cluster.as_str()];
    assert_eq!(enrich_minio["secret_key"].as_str(), input_default(&enrich, "minio_password"));
    assert_eq!(enrich_minio["endpoint"].as_str(), Some(format!("https://minio.{enrich_cluster}.example.org").as_str()));
    let archive_s3 = &d["storage_providers"]["s3"][archive_cluster.as_str()];
    assert_eq!(archive_s3["region"], "eu-west-1");
    assert_eq!(archive_s3["access_key"], "FAKEAWSACCESSKEY");

    // enrich: GPU virtual machines.
    let wn = &enrich["topology_template"]["node_templates"]["wn_resource1"]["capabilities"];
    assert_eq!(wn["scalable"]["properties"]["count"], 2);
    let host = &wn["host"]["properties"];
    assert_eq!(host["num_cpus"], 4);
    assert_eq!(host["mem_size"], "16384 MB");
    assert_eq!(host["instance_type"], "g4dn.xlarge");
    assert_eq!(host["preemtible_instance"], true);
    assert_eq!(host["num_gpus"], 1);
    assert_eq!(host["gpu_vendor"], "nvidia");
    assert_eq!(host["gpu_model"], "T4");
    assert_eq!(wn["os"]["properties"]["image"], "aws://us-east-1/ami-0123456789abcdef0");
    let e = service(&enrich, "oscar_service_enrich");
    assert_eq!(e["enable_gpu"], true);
    assert_eq!(io(e, "input"), [pair("minio", "detect/output")]);
    assert_eq!(io(e, "output"), [pair(&format!("s3.{archive_cluster}"), "four-layers-bucket/enrich/output")]);
    assert_eq!(input_default(&enrich, "domain_name"), Some("example.org"));

    // archive: a FaaS function on its bucket.
    assert_eq!(node_names(&archive), ["lambda_function_archive"]);
    let a = service(&archive, "lambda_function_archive");
    let inputs = io(a, "input");
    assert_eq!(
        inputs,
        [pair("s3", "four-layers-bucket/detect/output"), pair("s3", "four-layers-bucket/enrich/output")]
    );
    assert_eq!(io(a, "output"), [pair("s3", "four-layers-bucket/archive/output")]);

    // SCONE for detect, whose annotations ask for it.
    let session = yaml(&app.join(BASE).join("scone/detect-session.yaml"));
    assert_eq!(session["version"].as_str(), Some("0.3"));
    assert!(session["services"][0]["fspf_path"].as_str().is_some_and(|f| !f.is_empty()), "filesystemShield: fspf_path");
    let sconify = std::fs::read_to_string(app.join(BASE).join("scone/sconify.sh")).expect("sconify.sh");
    assert!(
        sconify.contains("sconify_image_ai_sprint --from=registry.example.org/four/detect_base_amd64:latest --to=registry.example.org/four/detect_base_amd64-sgx:latest"),
        "{sconify}"
    );
    assert!(!app.join(BASE).join("scone/capture-session.yaml").exists(), "capture asks for no security");

    let fdl = assert_valid_fdl(&app.join(BASE).join("oscar/fdl.yaml"));
    let clusters: Vec<&String> = fdl.functions.oscar.iter().flat_map(|m| m.keys()).collect();
    assert_eq!(clusters, ["oscar-edge", &detect_cluster, &enrich_cluster, &archive_cluster]);

    let masked = masked(&files);
    assert!(masked["im/capture.yaml"].contains("default: oscar-edge"), "a fixed cluster name stays");
    check_golden("four_layers", &masked);
}

#[test]
fn every_run_draws_new_secrets_kept_from_other_users() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_example(tmp.path());
    let mut runs: Vec<BTreeMap<String, String>> = Vec::new();
    for _ in 0..2 {
        let out = tosca(tmp.path(), &app, &[]);
        let stdout = ok(&out, "tosca");
        let fdl_out = fdl(tmp.path(), &app);
        let fdl_stdout = ok(&fdl_out, "fdl");
        let files = generated(&app);
        let mut values = BTreeMap::new();
        for c in ["blurry-faces-onnx", "mask-detector"] {
            let d = doc(&files, c);
            for input in SECRET_INPUTS {
                let v = input_default(&d, input).expect("secret").to_string();
                assert!(is_random(&v, SECRET_LEN), "{c}: {input} = {v:?}");
                for shown in [&stdout, &text(&out.stderr), &fdl_stdout, &text(&fdl_out.stderr)] {
                    assert!(!shown.contains(&v), "{c}: {input} printed");
                }
                values.insert(format!("{c}:{input}"), v);
            }
            let cluster = input_default(&d, "cluster_name").expect("cluster").to_string();
            assert!(is_random_cluster(&cluster), "{c}: cluster {cluster}");
            values.insert(format!("{c}:cluster_name"), cluster);
        }
        for rel in files.keys() {
            assert_eq!(mode(&app.join(BASE).join(rel)), 0o600, "{rel}");
        }
        let fdl = assert_valid_fdl(&app.join(BASE).join("oscar/fdl.yaml"));
        assert_eq!(fdl.functions.oscar.len(), 2);
        assert_eq!(
            fdl.functions.oscar[1].keys().collect::<Vec<_>>(),
            [&values["mask-detector:cluster_name"]],
            "the FDL keys a service by the cluster its document creates"
        );
        runs.push(values);
    }
    for (k, first) in &runs[0] {
        assert_ne!(first, &runs[1][k], "{k} is the same in two runs");
    }
}

/// Asserts that a failed command wrote no document and printed none of the fixture's fake
/// secrets (they all start with `fake-`).
fn assert_nothing_written(app: &Path, stderr: &str) {
    let docs: Vec<String> = generated(app).into_keys().collect();
    assert!(docs.is_empty(), "written anyway: {docs:?}");
    assert!(!app.join(BASE).join("scone").exists(), "SCONE files written anyway");
    assert!(!stderr.contains("fake-") && !stderr.contains("FAKEAWS"), "a secret in the message: {stderr}");
}

#[test]
fn a_resource_missing_from_physical_nodes_is_named_and_nothing_is_written() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_four_layers(tmp.path(), |app| {
        let f = app.join("common_config/physical_nodes.yaml");
        let t = std::fs::read_to_string(&f).expect("read");
        let (start, end) =
            (t.find("  computationalLayer2:").expect("layer 2"), t.find("  computationalLayer4:").expect("4"));
        let without = format!("{}{}", &t[..start], &t[end..]);
        assert!(!without.contains("SGXServer"));
        std::fs::write(&f, without).expect("write");
    });
    let before = snapshot(&app);
    let err = fails(&tosca(tmp.path(), &app, &[]), "tosca without SGXServer in physical_nodes.yaml");
    assert!(err.contains("common_config/physical_nodes.yaml"), "{err}");
    assert!(err.contains("`SGXServer`") && err.contains("component `detect`"), "{err}");
    assert!(err.contains("fe_node") && err.contains("wns"), "says what to add: {err}");
    assert_nothing_written(&app, &err);
    assert_eq!(snapshot(&app), before, "the failed run changed the application");
}

#[test]
fn trusted_execution_on_a_resource_without_it_is_refused() {
    // Asked by the annotations only (`@security(trustedExecution=True)`): design accepts the
    // deployment, tosca refuses to place the component.
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_four_layers(tmp.path(), |app| {
        edit_file(&app.join("common_config/candidate_resources.yaml"), "SGXFlag: true", "SGXFlag: false");
        edit_file(&app.join("common_config/candidate_deployments.yaml"), "        trustedExecution: true\n", "");
    });
    let err = fails(&tosca(tmp.path(), &app, &[]), "tosca, trusted component on a plain resource");
    assert!(err.contains("aisprint/deployments/base/production_deployment.yaml"), "{err}");
    assert!(err.contains("System.Components.component2.Containers.container1.selectedExecutionResource"), "{err}");
    assert!(err.contains("component `detect` cannot run on `SGXServer`: it asks for trusted execution"), "{err}");
    assert_nothing_written(&app, &err);

    // Asked by the container, on a production deployment changed after design (as a
    // SPACE4AI-D result or a hand edit can be).
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_four_layers(tmp.path(), |_| {});
    edit_file(&app.join(BASE).join("production_deployment.yaml"), "SGXFlag: true", "SGXFlag: false");
    let err = fails(&tosca(tmp.path(), &app, &[]), "tosca, SGX removed from the production deployment");
    assert!(err.contains("production_deployment.yaml") && err.contains("trusted execution"), "{err}");
    assert_nothing_written(&app, &err);
}

#[test]
fn tosca_needs_base_or_optimal() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_example(tmp.path());
    let out = aisprint(tmp.path(), &["toscarizer", "tosca", "--application_dir", p(&app)]);
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    let err = text(&out.stderr);
    assert!(err.contains("required arguments were not provided") && err.contains("<--base|--optimal>"), "{err}");
    assert!(err.contains("Usage: aisprint toscarizer tosca"), "{err}");
    let both = aisprint(tmp.path(), &["toscarizer", "tosca", "--application_dir", p(&app), "--base", "--optimal"]);
    assert_eq!(both.status.code(), Some(2), "{}", text(&both.stderr));
    assert!(generated(&app).is_empty());
}

#[test]
fn fdl_before_tosca_says_to_run_tosca() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_example(tmp.path());
    let err = fails(&fdl(tmp.path(), &app), "fdl before tosca");
    assert!(err.contains("aisprint/deployments/base/im/blurry-faces-onnx.yaml: missing"), "{err}");
    assert!(
        err.contains(&format!("run `aisprint toscarizer tosca --application_dir {} --base` first", p(&app))),
        "{err}"
    );
    assert!(!app.join(BASE).join("oscar/fdl.yaml").exists());
}

#[test]
fn tosca_before_design_says_to_run_design() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    let err = fails(&tosca(tmp.path(), &app, &[]), "tosca before design");
    assert!(
        err.contains("aisprint/deployments/base/production_deployment.yaml: missing: run `aisprint design"),
        "{err}"
    );
}

fn deploy(tmp: &Path, app: &Path) -> Output {
    aisprint(
        tmp,
        &[
            "toscarizer",
            "deploy",
            "--application_dir",
            p(app),
            "--base",
            "--im_url",
            "http://127.0.0.1:9",
            "--timeout",
            "20",
        ],
    )
}

fn write_auth(app: &Path, body: &str, mode: u32) -> PathBuf {
    let path = app.join("im/auth.dat");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, body).expect("auth.dat");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

#[test]
fn deploy_checks_auth_dat_and_never_shows_its_secrets() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_example(tmp.path());
    ok(&tosca(tmp.path(), &app, &[]), "tosca");
    let auth = app.join("im/auth.dat");
    let infras = app.join(BASE).join("im/infras.yaml");

    // Missing.
    let _ = std::fs::remove_file(&auth);
    let err = fails(&deploy(tmp.path(), &app), "deploy without auth.dat");
    assert!(err.contains(&format!("{}: cannot read the IM credentials", p(&auth))), "{err}");

    // Not a file (removing the read permission does not stop root).
    std::fs::create_dir_all(&auth).expect("mkdir");
    let err = fails(&deploy(tmp.path(), &app), "deploy with auth.dat a directory");
    assert!(err.contains(&format!("{}: cannot read the IM credentials", p(&auth))), "{err}");
    std::fs::remove_dir(&auth).expect("rmdir");

    // No InfrastructureManager line.
    write_auth(&app, "id = ec2; type = EC2; username = AK; password = SECRETVALUE\n", 0o600);
    let err = fails(&deploy(tmp.path(), &app), "deploy without an IM credential");
    assert!(err.contains(p(&auth)) && err.contains("type = InfrastructureManager"), "{err}");
    assert!(!err.contains("SECRETVALUE"), "{err}");
    assert!(!err.contains("line 0"), "a whole-file problem has no line: {err}");
    assert!(!err.contains("chmod"), "mode 0600 draws no warning: {err}");
    assert!(!infras.exists());

    // Readable by others: a warning, then IM is unreachable.
    write_auth(&app, "id = im; type = InfrastructureManager; username = imuser; password = IMPASSWORD123\n", 0o644);
    let out = deploy(tmp.path(), &app);
    let err = fails(&out, "deploy against a closed port");
    let all = format!("{}{err}", text(&out.stdout));
    assert!(err.contains(&format!("warning: {} can be read by other users (mode 644)", p(&auth))), "{err}");
    assert!(err.contains(&format!("chmod 600 {}", p(&auth))), "{err}");
    assert!(err.contains("cannot connect"), "{err}");
    assert!(!all.contains("IMPASSWORD123") && !all.contains("imuser"), "{all}");
    assert!(!infras.exists(), "no infrastructure was created");
}

/// A fake `docker` command in a folder of its own: it stands in for the Docker engine the
/// test machines do not run. It appends its arguments to `log`; with `engine` false,
/// `docker version` fails as it does when no daemon answers.
fn fake_docker(dir: &Path, log: &Path, engine: bool) -> PathBuf {
    let bin = dir.join("fake-docker-bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let no_daemon = if engine {
        String::new()
    } else {
        "if [ \"$1\" = version ]; then\n  echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2\n  exit 1\nfi\n".to_string()
    };
    let script = format!("#!/bin/sh\necho \"$*\" >> '{}'\n{no_daemon}exit 0\n", p(log));
    let path = bin.join("docker");
    std::fs::write(&path, script).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    bin
}

/// `aisprint toscarizer docker` with `bin` first in the child's PATH (then /usr/bin and
/// /bin, for `sh`).
fn docker_cmd(cwd: &Path, app: &Path, bin: &Path, extra: &[&str]) -> Output {
    let mut args =
        vec!["toscarizer", "docker", "--application_dir", p(app), "--registry", "docker.io", "--registry_folder", "me"];
    args.extend_from_slice(extra);
    Command::new(env!("CARGO_BIN_EXE_aisprint"))
        .args(&args)
        .current_dir(cwd)
        .env("PATH", format!("{}:/usr/bin:/bin", p(bin)))
        .output()
        .expect("run aisprint")
}

fn images(app: &Path) -> BTreeMap<String, Vec<String>> {
    let c = yaml(&app.join("aisprint/designs/containers.yaml"));
    c["components"]
        .as_mapping()
        .expect("components")
        .iter()
        .map(|(k, v)| {
            let mut tags: Vec<String> = v["docker_images"]
                .as_sequence()
                .expect("docker_images")
                .iter()
                .map(|t| t.as_str().expect("tag").to_string())
                .collect();
            tags.sort();
            (k.as_str().expect("name").to_string(), tags)
        })
        .collect()
}

const MASK_IMAGES: [&str; 4] = [
    "docker.io/me/blurry-faces-onnx_base_amd64:latest",
    "docker.io/me/blurry-faces-onnx_partition1_1_amd64:latest",
    "docker.io/me/blurry-faces-onnx_partition1_2_amd64:latest",
    "docker.io/me/mask-detector_base_amd64:latest",
];

#[test]
fn docker_dry_run_writes_the_build_contexts_and_containers_yaml() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_example(tmp.path());
    let log = tmp.path().join("docker.log");
    let bin = fake_docker(tmp.path(), &log, true);
    let out = docker_cmd(tmp.path(), &app, &bin, &["--dry_run"]);
    let stdout = ok(&out, "docker --dry_run");
    assert!(!log.exists(), "--dry_run ran docker: {:?}", std::fs::read_to_string(&log));
    assert!(stdout.contains("Build contexts written for 4 image(s)"), "{stdout}");
    for (comp, design) in [
        ("blurry-faces-onnx", "base"),
        ("blurry-faces-onnx", "partition1_1"),
        ("blurry-faces-onnx", "partition1_2"),
        ("mask-detector", "base"),
    ] {
        let ctx = app.join("aisprint/designs").join(comp).join(design);
        let dockerfile = std::fs::read_to_string(ctx.join("Dockerfile")).expect("Dockerfile");
        assert!(dockerfile.lines().any(|l| l == "FROM python:3.11-slim"), "{dockerfile}");
        assert!(dockerfile.contains(&format!("WORKDIR /opt/{comp}\n")), "{dockerfile}");
        // The documents run /opt/<unit>/script.sh: a partition's name leads to the component.
        let link = format!("RUN ln -s /opt/{comp} /opt/{comp}_{design}\n");
        assert_eq!(dockerfile.contains(&link), design != "base", "{dockerfile}");
        let script = ctx.join("script.sh");
        assert!(std::fs::read_to_string(&script).expect("script").starts_with("#!/bin/sh\n"));
        assert_eq!(mode(&script) & 0o111, 0o111, "{comp}/{design}/script.sh is executable");
        assert!(ctx.join(".aisprint-python/pyproject.toml").is_file(), "{comp}/{design}");
        assert!(ctx.join(".aisprint-python/aisprint/annotations.py").is_file(), "{comp}/{design}");
        let tag = format!("docker.io/me/{comp}_{design}_amd64:latest");
        assert!(stdout.contains(&format!("docker build --platform linux/amd64 -t {tag} {}", p(&ctx))), "{stdout}");
    }
    let got = images(&app);
    assert_eq!(got.keys().map(String::as_str).collect::<Vec<_>>(), ["blurry-faces-onnx", "mask-detector"]);
    assert_eq!(got.values().flatten().map(String::as_str).collect::<Vec<_>>(), MASK_IMAGES);
}

#[test]
fn docker_gives_an_arm64_image_to_a_component_on_arm64_resources() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_four_layers(tmp.path(), |_| {});
    let bin = fake_docker(tmp.path(), &tmp.path().join("docker.log"), true);
    let stdout = ok(&docker_cmd(tmp.path(), &app, &bin, &["--dry_run"]), "docker --dry_run");
    let got = images(&app);
    assert_eq!(got["capture"], ["docker.io/me/capture_base_arm64:latest"]);
    for c in ["detect", "enrich", "archive"] {
        assert_eq!(got[c], [format!("docker.io/me/{c}_base_amd64:latest")]);
    }
    assert!(
        stdout.contains("docker build --platform linux/arm64 -t docker.io/me/capture_base_arm64:latest"),
        "{stdout}"
    );
}

#[test]
fn docker_without_an_engine_says_so_and_lists_the_commands() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_example(tmp.path());
    let log = tmp.path().join("docker.log");
    let bin = fake_docker(tmp.path(), &log, false);
    let out = docker_cmd(tmp.path(), &app, &bin, &[]);
    // Exit status 4: no container engine (the contexts are written).
    assert_eq!(out.status.code(), Some(4), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("No Docker engine is reachable (Cannot connect to the Docker daemon"), "{err}");
    assert!(err.contains("no image was built or pushed"), "{err}");
    for tag in MASK_IMAGES {
        assert!(err.contains(&format!("docker build --platform linux/amd64 -t {tag} ")), "{tag}: {err}");
        assert!(err.contains(&format!("&& docker push {tag}")), "{tag}: {err}");
    }
    // The contexts are there to build elsewhere; only `docker version` was run.
    assert_eq!(images(&app).values().flatten().count(), 4);
    assert_eq!(std::fs::read_to_string(&log).expect("log"), "version --format {{.Server.Version}}\n");
}

#[test]
fn docker_with_an_engine_builds_and_pushes_every_image() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_example(tmp.path());
    let log = tmp.path().join("docker.log");
    let bin = fake_docker(tmp.path(), &log, true);
    let stdout = ok(&docker_cmd(tmp.path(), &app, &bin, &[]), "docker");
    assert!(stdout.contains("Docker images generated and pushed to the registry."), "{stdout}");
    let lines: Vec<String> = std::fs::read_to_string(&log).expect("log").lines().map(str::to_string).collect();
    assert_eq!(lines[0], "version --format {{.Server.Version}}");
    assert_eq!(lines.len(), 1 + 2 * MASK_IMAGES.len(), "{lines:?}");
    let ctx = app.join("aisprint/designs/mask-detector/base");
    let build = format!("build --platform linux/amd64 -t docker.io/me/mask-detector_base_amd64:latest {}", p(&ctx));
    let push = "push docker.io/me/mask-detector_base_amd64:latest".to_string();
    let (b, pu) = (lines.iter().position(|l| *l == build), lines.iter().position(|l| *l == push));
    assert!(b.is_some() && pu == b.map(|i| i + 1), "built then pushed: {lines:?}");
    for tag in MASK_IMAGES {
        let i = lines.iter().position(|l| l.starts_with("build ") && l.contains(&format!(" -t {tag} "))).expect(tag);
        assert_eq!(lines[i + 1], format!("push {tag}"));
    }
}

/// Upstream's wrapper writes the images into candidate_deployments.yaml: so does `docker`
/// (the file as it was kept as .bak), and `tosca` then finds each unit's image there for its
/// resource's platform, though the production deployment was written before the images.
#[test]
fn docker_writes_the_images_back_and_tosca_uses_them() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_four_layers(tmp.path(), |app| {
        let cd = app.join("common_config/candidate_deployments.yaml");
        let t = std::fs::read_to_string(&cd).expect("read");
        let without: String =
            t.lines().filter(|l| !l.trim_start().starts_with("image:")).map(|l| format!("{l}\n")).collect();
        std::fs::write(&cd, without).expect("write");
    });
    let cd = app.join("common_config/candidate_deployments.yaml");
    let before = std::fs::read_to_string(&cd).expect("read");
    // Without images, tosca says where they come from.
    let r = tosca(tmp.path(), &app, &[]);
    assert_eq!(r.status.code(), Some(1));
    assert!(
        text(&r.stderr).contains("missing: the container image (run `aisprint toscarizer docker`"),
        "{}",
        text(&r.stderr)
    );
    // A dry run changes nothing.
    let bin = fake_docker(tmp.path(), &tmp.path().join("docker.log"), true);
    let dry = ok(&docker_cmd(tmp.path(), &app, &bin, &["--dry_run"]), "docker --dry_run");
    assert!(dry.contains("Dry run: common_config/candidate_deployments.yaml is left as it is"), "{dry}");
    assert_eq!(std::fs::read_to_string(&cd).expect("read"), before);
    let stdout = ok(&docker_cmd(tmp.path(), &app, &bin, &[]), "docker");
    assert!(
        stdout.contains("common_config/candidate_deployments.yaml now names the images of 4 container(s)"),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(app.join("common_config/candidate_deployments.yaml.bak")).expect("bak"), before);
    let c = yaml(&cd);
    let image_of = |name: &str| -> Value {
        c["Components"].as_mapping().expect("components").values().find(|e| e["name"] == name).expect(name)
            ["Containers"]["container1"]["image"]
            .clone()
    };
    assert_eq!(image_of("capture"), "docker.io/me/capture_base_arm64:latest");
    assert_eq!(image_of("archive"), "docker.io/me/archive_base_amd64:latest");
    // Again: nothing more to write.
    let again = ok(&docker_cmd(tmp.path(), &app, &bin, &[]), "docker again");
    assert!(again.contains("already names these images"), "{again}");
    // tosca takes them from there.
    let out = tosca(tmp.path(), &app, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let files = generated(&app);
    assert!(
        files["im/capture.yaml"].contains("docker.io/me/capture_base_arm64:latest"),
        "{}",
        files["im/capture.yaml"]
    );
}

#[test]
fn called_as_toscarizer_it_is_aisprint_toscarizer() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = designed_example(tmp.path());
    let link = tmp.path().join("toscarizer");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_aisprint"), &link).expect("symlink");
    let run = |args: &[&str]| Command::new(&link).args(args).current_dir(tmp.path()).output().expect("run toscarizer");
    let stdout = ok(&run(&["tosca", "--application_dir", p(&app), "--base"]), "toscarizer tosca");
    assert!(stdout.contains("im/mask-detector.yaml has been generated for Component: mask-detector"), "{stdout}");
    ok(&run(&["fdl", "--application_dir", p(&app), "--base"]), "toscarizer fdl");
    let files = generated(&app);
    assert_eq!(files.len(), 3, "{:?}", files.keys());
    assert_valid_fdl(&app.join(BASE).join("oscar/fdl.yaml"));
    // The flags are checked the same way.
    let usage = run(&["tosca", "--application_dir", p(&app)]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(text(&usage.stderr).contains("<--base|--optimal>"), "{}", text(&usage.stderr));
}
