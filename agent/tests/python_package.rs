//! The `aisprint` Python package's own unit tests (python/aisprint/tests), run with the
//! machine's python3 so that `cargo test --workspace` covers them.

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
