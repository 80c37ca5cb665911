//! `aisprint profile --dry_run`: the OSCAR-P campaign plan of the user guide's example, and
//! bad campaign inputs refused with their file and key.

use crate::support::{aisprint, example, text};

#[test]
fn the_guides_example_plans_as_oscarp_and_reports_the_level_that_needs_too_many_nodes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    let r = aisprint(tmp.path(), &["profile", "--application_dir", app.to_str().expect("path"), "--dry_run"]);
    let out = text(&r.stdout);
    assert!(out.contains("Deployments:\n\tdeployment_0: ['C1@VM1', 'C2@VM2']\n\tdeployment_1: ['C1P1.1@VM1', 'C1P1.2@VM1', 'C2@VM2']\n"), "{out}");
    assert!(out.contains("Component C1@VM1 can fit 4 container(s) on every node\n\t\tCPU needs to be decreased to (at least) 0.72 to fit more"), "{out}");
    assert!(out.contains("VM1: nodes: 3\n") && out.contains("VM1: nodes: 3 -> 2\n"), "{out}");
    assert!(out.contains("Repeated 3 time(s), 15 runs in total"), "{out}");
    // Both halves on VM1 at parallelism 10 need 3 + 3 nodes; VM1 has 5.
    assert!(out.contains("error: Resource VM1 has 5 nodes, but 6 are needed for testing run level 1 (C1P1.1@VM1 at 10, C1P1.2@VM1 at 10)"), "{out}");
    assert_eq!(r.status.code(), Some(1), "{}", text(&r.stderr));

    // With levels that fit, the dry run succeeds.
    let rp = app.join("oscarp/run_parameters.yaml");
    let t = std::fs::read_to_string(&rp).expect("read").replace("[10, 8, 6, 4, 2]", "[8, 6, 4, 2]");
    std::fs::write(&rp, t).expect("write");
    let r = aisprint(tmp.path(), &["profile", "--application_dir", app.to_str().expect("path"), "--dry_run"]);
    assert!(r.status.success(), "{}{}", text(&r.stdout), text(&r.stderr));
    assert!(text(&r.stdout).contains("Dry run: 2 deployment(s), 12 run(s) each; nothing deployed."));
    // Without --dry_run: said plainly that the campaign does not run yet.
    let r = aisprint(tmp.path(), &["profile", "--application_dir", app.to_str().expect("path")]);
    assert_eq!(r.status.code(), Some(2));
    assert!(text(&r.stderr).contains("--dry_run"));
}

#[test]
fn bad_campaign_inputs_name_the_file_and_key() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = example(tmp.path(), "mask_detection");
    let path = app.to_str().expect("path").to_string();
    let rp = app.join("oscarp/run_parameters.yaml");
    let original = std::fs::read_to_string(&rp).expect("read");
    let run = || aisprint(tmp.path(), &["profile", "--application_dir", &path, "--dry_run"]);

    // Lists of different lengths.
    std::fs::write(&rp, original.replacen("[10, 8, 6, 4, 2]", "[10, 8, 6]", 1)).expect("write");
    let r = run();
    assert_eq!(r.status.code(), Some(1));
    let err = text(&r.stderr);
    assert!(
        err.contains("oscarp/run_parameters.yaml")
            && err.contains("components.component2.parallelism: has 5 levels but `component1` has 3"),
        "{err}"
    );

    // Levels not in decreasing order.
    std::fs::write(&rp, original.replacen("[10, 8, 6, 4, 2]", "[2, 4, 6, 8, 10]", 1)).expect("write");
    let err = text(&run().stderr);
    assert!(
        err.contains("components.component1.parallelism: [2, 4, 6, 8, 10]: list the levels in decreasing order"),
        "{err}"
    );

    // A container that fits the resource's memory but not the 90% a node offers.
    std::fs::write(&rp, &original).expect("write");
    let dep = app.join("common_config/candidate_deployments.yaml");
    let t = std::fs::read_to_string(&dep).expect("read");
    std::fs::write(&dep, t.replacen("memorySize: 1024", "memorySize: 8000", 1)).expect("write");
    let r = run();
    assert_eq!(r.status.code(), Some(1));
    let err = text(&r.stderr);
    assert!(
        err.contains("candidate_deployments.yaml")
            && err.contains("Components.component1.Containers.container1: C1@VM1: the container needs 0.9 cores and 8000 MB, a node of VM1 offers 3.60 cores and 7373 MB"),
        "{err}"
    );
}
