//! The `dist` task: build each binary for each target, pack it, sum it (see main.rs).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::package::{self, Binary, AGENT, CONTROLLER, SAMPLE_MARK};
use crate::targets::{Std, Target};
use crate::{cargo, output, root, run, Error};

/// The agent's budget: stripped, on every target.
const AGENT_MAX_BYTES: u64 = 8_000_000;

/// Makes the target buildable: checks its compilers, adds its rustup target, or for a
/// standard library from source, `rust-src` and `libunwind.a`; the folder to link that from.
fn ensure_target(t: &Target) -> Result<Option<PathBuf>, Error> {
    for tool in t.tools() {
        if Command::new(tool).arg("--version").output().is_err() {
            let foreign: Vec<&str> = t.packages.split(' ').filter_map(|p| p.split_once(':')).map(|(_, a)| a).collect();
            let add: String = foreign.iter().map(|a| format!("dpkg --add-architecture {a} && ")).collect();
            let update = if foreign.is_empty() { "" } else { "apt-get update && " };
            return Err(format!(
                "{tool} is missing; the {} target needs, on Debian or Ubuntu, as root: {add}{update}apt-get install {}",
                t.name, t.packages
            ));
        }
    }
    let Std::FromSource { gcc } = t.std else {
        let installed = output(Command::new("rustup").args(["target", "list", "--installed"]))?;
        if !installed.lines().any(|l| l.trim() == t.triple) {
            run(Command::new("rustup").args(["target", "add", t.triple]))?;
        }
        return Ok(None);
    };
    let src = output(Command::new("rustup").args(["component", "list", "--installed"]))?;
    if !src.lines().any(|l| l.starts_with("rust-src")) {
        run(Command::new("rustup").args(["component", "add", "rust-src"]))?;
    }
    // The standard library's `unwind` links `libunwind.a`, which rustup gives only beside a
    // precompiled musl target; gcc's own unwinder (libgcc_eh.a) provides the same functions.
    let eh = output(Command::new(gcc).arg("-print-file-name=libgcc_eh.a"))?.trim().to_string();
    let dir = root().join("target/dist-unwind").join(t.name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::copy(&eh, dir.join("libunwind.a")).map_err(|e| format!("{eh}: {e}"))?;
    Ok(Some(dir))
}

/// Builds `b` for `t` with its profile; the binary's path.
fn build(t: &Target, b: &Binary, commit: &str) -> Result<PathBuf, Error> {
    let unwind = ensure_target(t)?;
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root())
        .args(["build", "--locked", "--profile", b.profile, "-p", b.krate, "--target", t.triple])
        .env("AISPRINT_COMMIT", commit)
        .envs(t.env());
    let mut target_dir = root().join("target");
    if let Some(unwind) = &unwind {
        // The standard library from source needs the unstable flag (RUSTC_BOOTSTRAP lets the
        // stable compiler take it); Debian's musl and its gcc wrapper give the C runtime, not
        // rustup's self-contained one (with --target, these flags reach the target's crates
        // only, not build scripts).
        let flags = ["-C", "link-self-contained=no", "-L", &unwind.display().to_string()].join("\x1f");
        cmd.args(["-Z", "build-std=std,panic_abort"]).env("RUSTC_BOOTSTRAP", "1").env("CARGO_ENCODED_RUSTFLAGS", flags);
        // Build scripts of the host's side (proc-macro2's) watch RUSTC_BOOTSTRAP: in a target
        // folder of its own, these builds do not make the other targets rebuild their host
        // crates, nor they theirs.
        target_dir.push("build-std");
    }
    cmd.env("CARGO_TARGET_DIR", &target_dir);
    println!("== {} for {} ({})", b.krate, t.name, t.triple);
    run(&mut cmd)?;
    Ok(target_dir.join(t.triple).join(b.profile).join(b.bin))
}

fn size_of(exe: &Path) -> Result<u64, Error> {
    Ok(std::fs::metadata(exe).map_err(|e| format!("{}: {e}", exe.display()))?.len())
}

/// The sample configuration of a binary, from the agent itself (`generate-config`) or the
/// controller's template in deploy/.
fn sample(b: &Binary, host_agent: &Path) -> Result<String, Error> {
    if b.bin == AGENT.bin {
        return output(Command::new(host_agent).args(["generate-config", "--node", SAMPLE_MARK]));
    }
    let p = root().join("deploy/controller.yaml.sample");
    std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))
}

pub fn dist(targets: &[Target], controller: bool, deb: bool, wheel: bool) -> Result<(), Error> {
    let version = env!("CARGO_PKG_VERSION");
    let commit = output(Command::new("git").current_dir(root()).args(["rev-parse", "--short=12", "HEAD"]))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let out = root().join("target/dist.partial");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut sizes = Vec::new();
    let mut built = Vec::new();
    for t in targets {
        let exe = build(t, &AGENT, &commit)?;
        let size = size_of(&exe)?;
        sizes.push(format!("{:<8} aisprint-agent {:>10} bytes ({})", t.name, size, t.note));
        if size > AGENT_MAX_BYTES {
            return Err(format!("aisprint-agent for {} is {size} bytes: over its {AGENT_MAX_BYTES} budget", t.name));
        }
        built.push((AGENT, *t, exe));
        if controller && matches!(t.name, "x86_64" | "aarch64") {
            let exe = build(t, &CONTROLLER, &commit)?;
            sizes.push(format!("{:<8} aisprint       {:>10} bytes", t.name, size_of(&exe)?));
            built.push((CONTROLLER, *t, exe));
        }
    }
    // The sample configuration comes from an agent this machine runs.
    let host = output(Command::new("uname").arg("-m"))?.trim().to_string();
    let host_agent = match built.iter().find(|(b, t, _)| b.bin == AGENT.bin && t.name == host) {
        Some((_, _, exe)) => exe.clone(),
        None => build(
            &Target::by_name(&host).ok_or(format!("no release target for this {host} machine"))?,
            &AGENT,
            &commit,
        )?,
    };
    let top = root();
    for (b, t, exe) in &built {
        let sample = sample(b, &host_agent)?;
        let p = package::Pack { root: &top, out: &out, b, t, version, exe, sample: &sample };
        p.tarball()?;
        if deb {
            p.deb()?;
        }
    }
    if wheel {
        println!("== the aisprint Python package (wheel)");
        run(Command::new("python3")
            .args(["-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir"])
            .arg(&out)
            .arg(root().join("python/aisprint")))?;
    }
    let _ = std::fs::remove_dir_all(out.join(".work"));
    let sums = output(Command::new("sh").current_dir(&out).args(["-c", "sha256sum -- *"]))?;
    std::fs::write(out.join("SHA256SUMS"), &sums).map_err(|e| format!("SHA256SUMS: {e}"))?;
    let done = root().join("target/dist");
    let _ = std::fs::remove_dir_all(&done);
    std::fs::rename(&out, &done).map_err(|e| format!("{}: {e}", done.display()))?;
    println!(
        "\n{}\n\nartifacts in {} (SHA256SUMS: sha256sum -c SHA256SUMS):\n{sums}",
        sizes.join("\n"),
        done.display()
    );
    Ok(())
}
