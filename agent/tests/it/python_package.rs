//! The `aisprint` Python package's own unit tests (python/aisprint/tests), run with the
//! machine's python3 so that the suite (`tests/run`) covers them.

#[test]
fn python_package_unit_tests_pass() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../python/aisprint");
    let out = std::process::Command::new("python3")
        .args(["-m", "unittest", "discover", "-s", "tests", "-v"])
        .current_dir(&dir)
        .output()
        .expect("python3 is needed for the annotations package's tests");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("\nOK") && !err.contains("Ran 0 tests"), "{err}");
}

/// `pip install` takes the package as it is (built from a copy: pip builds in the source
/// folder, and the repository's stays clean), and what components import is there.
#[test]
fn the_python_package_installs_with_pip() {
    let tmp = tempfile::tempdir().expect("tmp");
    let src = tmp.path().join("aisprint");
    aisprint_test_support::copy_dir(&crate::support::repo().join("python/aisprint"), &src);
    let venv = tmp.path().join("venv");
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().expect("run");
        assert!(out.status.success(), "{}{}", crate::support::text(&out.stdout), crate::support::text(&out.stderr));
        crate::support::text(&out.stdout)
    };
    run(std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv));
    run(std::process::Command::new(venv.join("bin/pip")).args(["install", "-q"]).arg(&src));
    let probe = "from aisprint.annotations import component_name, exec_time\nfrom aisprint.monitoring import report_metric\nprint('aisprint package installed')";
    let out = run(std::process::Command::new(venv.join("bin/python")).args(["-c", probe]).current_dir(tmp.path()));
    assert_eq!(out.trim(), "aisprint package installed");
}
