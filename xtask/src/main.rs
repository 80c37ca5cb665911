//! `cargo xtask dist`: the release artifacts, in `target/dist/`.
//!
//! For each target it builds the agent (profile `dist-agent`: for size) and, on x86_64 and
//! aarch64, the controller (profile `dist`), checks the agent's size against its 8 MB budget, and packs each binary as a
//! `.tar.gz` and a `.deb`; then the `aisprint` Python package as a wheel, and `SHA256SUMS`.
//! Everything is written under `target/dist.partial/` and moved to `target/dist/` only when
//! all of it succeeded: a failed run never leaves artifacts that look complete.

mod dist;
mod package;
mod targets;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Parser, Subcommand};

use targets::Target;

pub type Error = String;

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "The project's own tasks")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Build and pack the release artifacts into target/dist/ (static binaries for x86_64,
    /// aarch64, armv7 and arm (ARMv6); .tar.gz, .deb, the Python wheel, SHA256SUMS).
    ///
    /// Needs, beside Rust: the C cross compilers and Debian's musl for each architecture (as
    /// root: dpkg --add-architecture arm64, armhf and armel; apt-get update; apt-get install
    /// gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf gcc-arm-linux-gnueabi musl-dev
    /// musl-dev:arm64 musl-dev:armhf musl-dev:armel), dpkg-deb, tar, sha256sum and python3 with
    /// pip. tests/run installs all of it. Missing rustup targets and rust-src are added.
    Dist {
        /// Only these targets (x86_64, aarch64, armv7, arm); repeat for several. Default: all.
        #[arg(long = "target", value_name = "NAME")]
        targets: Vec<String>,
        /// Leave out the controller (the agent only).
        #[arg(long)]
        no_controller: bool,
        /// Leave out the .deb packages.
        #[arg(long)]
        no_deb: bool,
        /// Leave out the Python wheel.
        #[arg(long)]
        no_wheel: bool,
    },
}

/// Runs a command, its output passed through; an error names it.
pub fn run(cmd: &mut Command) -> Result<(), Error> {
    let shown = format!("{cmd:?}");
    let st = cmd.status().map_err(|e| format!("cannot run {shown}: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({st})"))
    }
}

pub fn output(cmd: &mut Command) -> Result<String, Error> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("cannot run {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{shown} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").to_path_buf()
}

pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let r = match cli.command {
        Task::Dist { targets, no_controller, no_deb, no_wheel } => {
            let chosen: Result<Vec<Target>, Error> = if targets.is_empty() {
                Ok(targets::ALL.to_vec())
            } else {
                targets
                    .iter()
                    .map(|n| {
                        Target::by_name(n).ok_or_else(|| {
                            let names: Vec<&str> = targets::ALL.iter().map(|t| t.name).collect();
                            format!("--target {n}: expected one of {}", names.join(", "))
                        })
                    })
                    .collect()
            };
            chosen.and_then(|t| dist::dist(&t, !no_controller, !no_deb, !no_wheel))
        }
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
