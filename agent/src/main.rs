//! `aisprint-agent`: the agent that runs on every edge node.

use std::path::PathBuf;
use std::process::ExitCode;

use aisprint_agent::run::{self, AgentError};
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

/// The AI-SPRINT agent: runs on every edge node (ARM64, ARMv7, AMD64), collects host metrics,
/// keeps them in a durable local buffer and delivers them to the controller (gRPC, mutual
/// TLS), replaying what it kept after an outage.
#[derive(Debug, Parser)]
#[command(name = "aisprint-agent", version, about, long_about)]
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

fn report(e: &AgentError) {
    match e {
        AgentError::Invalid(d) => {
            for w in d.warnings() {
                eprintln!("{w}");
            }
            for x in d.errors() {
                eprintln!("{x}");
            }
        }
        e => eprintln!("error: {e}"),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default = match cli.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    match cli.command {
        Command::GenerateConfig { node } => {
            if !aisprint_shared::mesh::valid_name(&node) {
                eprintln!("error: `{node}` is not a valid node id: use letters, digits, `-`, `_` and `.`");
                return ExitCode::FAILURE;
            }
            print!("{}", aisprint_shared::mesh::agent_template(&node));
            ExitCode::SUCCESS
        }
        Command::Validate { config } => match run::load_config(&config) {
            Ok(c) => {
                println!("{}: valid (node {}, controller {})", config.display(), c.node_id, c.controller.address);
                ExitCode::SUCCESS
            }
            Err(e) => {
                report(&e);
                ExitCode::FAILURE
            }
        },
        Command::Run { config, insecure } => {
            let cfg = match run::load_config(&config) {
                Ok(c) => c,
                Err(e) => {
                    report(&e);
                    return ExitCode::FAILURE;
                }
            };
            if cfg.controller.insecure != insecure {
                if cfg.controller.insecure {
                    eprintln!("error: {}: controller.insecure: true connects in plain text; give --insecure as well to mean it", config.display());
                } else {
                    eprintln!(
                        "error: --insecure, but {} sets up mutual TLS; set controller.insecure: true there",
                        config.display()
                    );
                }
                return ExitCode::FAILURE;
            }
            let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let cancel = CancellationToken::new();
            let stop = cancel.clone();
            rt.spawn(async move {
                wait_for_signal().await;
                stop.cancel();
            });
            match rt.block_on(run::run(cfg, cancel)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    report(&e);
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
