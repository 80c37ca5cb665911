//! `aisprint-agent`: the agent that runs on every edge node.
//!
//! This first version only carries its identity (`--version`, `--help`); metric collection,
//! the durable buffer and the links to the controller arrive with the agent mesh.

use clap::Parser;

/// The AI-SPRINT agent: runs on every edge node (ARM64, ARMv7, AMD64), collects host and
/// application metrics and reports them to the controller.
///
/// This version carries only its identity; the collection and reporting commands
/// (`run`, `validate`, `generate-config`) come with the agent mesh.
#[derive(Debug, Parser)]
#[command(name = "aisprint-agent", version, about, long_about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    println!("aisprint-agent {}: no command given; see --help", env!("CARGO_PKG_VERSION"));
}
