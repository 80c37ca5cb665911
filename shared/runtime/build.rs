//! The version both binaries print (`--version`): the package version, the git commit it was
//! built from (`AISPRINT_COMMIT` when set, e.g. by a build from a source tarball; `unknown`
//! outside a checkout) and the target it was built for.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-env-changed=AISPRINT_COMMIT");
    let commit = std::env::var("AISPRINT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    // Built again when the checkout moves to another commit.
    for p in ["HEAD", "packed-refs"] {
        if let Some(path) = git(&["rev-parse", "--git-path", p]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]).and_then(|r| git(&["rev-parse", "--git-path", &r])) {
        println!("cargo:rerun-if-changed={head}");
    }
    println!("cargo:rustc-env=AISPRINT_COMMIT={commit}");
    println!("cargo:rustc-env=AISPRINT_TARGET={}", std::env::var("TARGET").unwrap_or_default());
}
