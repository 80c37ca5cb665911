//! `aisprint-agent`: the agent that runs on every edge node. Parses the command line, starts
//! logging, loads the configuration and hands it to [`run`]; every error ends here, printed
//! once, with the exit status of the table in `--help`.

use std::path::PathBuf;
use std::process::ExitCode;

use aisprint_agent::error::AgentError;
use aisprint_agent::{config, run};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

/// The AI-SPRINT agent: runs on every edge node (ARM64, ARMv7, AMD64), collects host metrics,
/// keeps them in a durable local buffer and delivers them to the controller (gRPC, mutual
/// TLS), replaying what it kept after an outage.
#[derive(Debug, Parser)]
#[command(
    name = "aisprint-agent",
    version = aisprint_runtime::VERSION,
    about,
    long_about,
    after_help = "Exit status: 0 done; 1 error (the configuration, a file it names, a port, the buffer); 2 usage (bad flags)."
)]
struct Cli {
    /// More log output on standard error (repeat for more); RUST_LOG also works.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Collect and deliver until interrupted (SIGINT or SIGTERM).
    ///
    /// Example: aisprint-agent run --config /etc/aisprint/agent.yaml
    Run {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Connect in plain text, without certificates: the config must say `insecure: true`
        /// too. For tests and closed networks.
        #[arg(long)]
        insecure: bool,
    },
    /// Check a configuration without starting anything.
    Validate {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Print a commented configuration to start from.
    GenerateConfig {
        /// The node's name in the mesh.
        #[arg(long, value_name = "NODE", default_value = "edge-node-1")]
        node: String,
    },
}

/// Why the agent stops with an error.
enum Failure {
    Agent(AgentError),
    /// Refused before anything started, with the reason.
    Refused(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    aisprint_runtime::telemetry::init(cli.verbose, ["info", "debug", "trace"]);
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Agent(AgentError::Invalid(d))) => {
            d.warnings().for_each(|w| eprintln!("{w}"));
            d.errors().for_each(|e| eprintln!("{e}"));
            ExitCode::FAILURE
        }
        Err(Failure::Agent(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        Err(Failure::Refused(m)) => {
            eprintln!("error: {m}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> Result<(), Failure> {
    match command {
        Command::GenerateConfig { node } => {
            if !aisprint_model::config::valid_name(&node) {
                let m = format!("`{node}` is not a valid node id: use letters, digits, `-`, `_` and `.` (not first)");
                return Err(Failure::Refused(m));
            }
            print!("{}", aisprint_model::config::agent_template(&node));
            Ok(())
        }
        Command::Validate { config } => {
            let c = config::load(&config).map_err(Failure::Agent)?;
            println!(
                "{}: valid (node {}, controller {})",
                config.display(),
                c.agent.node_id,
                c.agent.controller.address
            );
            Ok(())
        }
        Command::Run { config, insecure } => {
            let cfg = config::load(&config).map_err(Failure::Agent)?;
            match (cfg.agent.controller.insecure, insecure) {
                (true, false) => Err(Failure::Refused(format!(
                    "{}: controller.insecure: true connects in plain text; give --insecure as well to mean it",
                    config.display()
                ))),
                (false, true) => Err(Failure::Refused(format!(
                    "--insecure, but {} sets up mutual TLS; set controller.insecure: true there",
                    config.display()
                ))),
                _ => serve(cfg),
            }
        }
    }
}

/// Runs the agent on a runtime of two workers until SIGINT or SIGTERM.
fn serve(cfg: config::Loaded) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Agent(AgentError::Runtime(e)))?;
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    rt.spawn(async move {
        aisprint_runtime::signal::shutdown().await;
        stop.cancel();
    });
    rt.block_on(run::run(cfg, cancel)).map_err(Failure::Agent)
}
