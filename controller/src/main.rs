//! `aisprint`: the AI-SPRINT controller and its command line. Parses the command line, starts
//! logging, runs the command, and maps how it ended to the exit status of the table in
//! `--help` (the same for every command).

use std::process::ExitCode;

use aisprint_controller::cli::{self, Cli};
use aisprint_controller::commands;
use clap::Parser;

/// The release artifacts link musl, whose allocator is slow for SPACE4AI-D (controller/Cargo.toml).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse_from(cli::argv());
    aisprint_runtime::telemetry::init(cli.verbose, ["warn", "info", "debug"]);
    match commands::run(cli.command) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(e) => {
            e.report();
            ExitCode::from(e.exit_code())
        }
    }
}
