//! `aisprint`: the AI-SPRINT controller and its command line.

use std::path::PathBuf;
use std::process::ExitCode;

use aisprint_controller::{appdir, design, new_app};
use aisprint_shared::design::DesignOptions;
use aisprint_shared::Diagnostics;
use clap::{Parser, Subcommand};

/// AI-SPRINT: design, place and run AI inference pipelines across edge nodes, private
/// servers and public clouds.
///
/// An application directory holds common_config/ (the DAG, the candidate resources and
/// deployments), src/<component>/main.py (annotated Python components) and the folders of
/// the tools. Start with `aisprint new-application --application_name my_app`, edit its
/// files, then run `aisprint design --application_dir my_app`.
#[derive(Debug, Parser)]
#[command(name = "aisprint", version, about, long_about)]
struct Cli {
    /// More log output on standard error (repeat for more); RUST_LOG also works.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse the annotations and write the designs, deployments and QoS constraints.
    ///
    /// Reads common_config/application_dag.yaml (or dag.yaml), candidate_resources.yaml,
    /// candidate_deployments.yaml and src/*/main.py; checks them all and reports every
    /// problem with file, key and line. When everything checks out, writes
    /// common_config/annotations.yaml, aisprint/designs/, aisprint/deployments/{base,
    /// deploymentN}/ (one per combination of component versions, partitions and candidate
    /// layers), multi_cluster_qos_constraints.yaml and the base production deployment, and
    /// points optimal_deployment at base. Running it again gives the same result; files of
    /// other tools in the deployment folders are kept.
    ///
    /// Example: aisprint design --application_dir examples/mask_detection
    Design {
        /// The application directory.
        #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
        application_dir: PathBuf,
        /// Refuse to write more deployments than this (their number is a product and can
        /// explode with many candidate layers).
        #[arg(long = "max-deployments", default_value_t = 1000, value_name = "N")]
        max_deployments: usize,
    },
    /// Check an application directory without writing anything.
    Validate {
        /// The application directory.
        #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
        application_dir: PathBuf,
    },
    /// Create a new application from the template (a two-component example that `design`
    /// accepts as it is).
    ///
    /// Example: aisprint new-application --application_name my_app
    NewApplication {
        /// The application's name, also the name of its folder.
        #[arg(long = "application_name", visible_alias = "application-name", default_value = "ai-sprint_example_app")]
        application_name: String,
        /// Where to create the application folder.
        #[arg(long = "output_dir", visible_alias = "output-dir", default_value = ".", value_name = "DIR")]
        output_dir: PathBuf,
    },
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Prints diagnostics on standard error, errors last so they stay in view.
fn report(d: &Diagnostics) {
    for w in d.warnings() {
        eprintln!("{w}");
    }
    for e in d.errors() {
        eprintln!("{e}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match cli.command {
        Command::Design { application_dir, max_deployments } => {
            let opts = DesignOptions { max_deployments };
            let mut stdout = std::io::stdout();
            match design::run(&application_dir, &opts, &mut stdout) {
                Ok(r) => {
                    report(&r.warnings);
                    tracing::info!(deployments = r.deployments.len(), entries = r.files, "design written");
                    ExitCode::SUCCESS
                }
                Err(design::DesignError::Invalid(d)) => {
                    report(&d);
                    let n = d.errors().count();
                    eprintln!(
                        "design stopped: {n} problem{} in {}; nothing was written",
                        if n == 1 { "" } else { "s" },
                        application_dir.display()
                    );
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    eprintln!("design stopped; the previous output, if any, is as it was");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Validate { application_dir } => match appdir::load(&application_dir) {
            Ok(loaded) => {
                report(&loaded.warnings);
                let s = &loaded.app;
                println!(
                    "{}: valid ({} components, {} scripts, {} warnings)",
                    loaded.display,
                    s.dag.value.system.components.len(),
                    s.sources.len(),
                    loaded.warnings.len()
                );
                match aisprint_shared::design::plan(s, &DesignOptions::default()) {
                    Ok(p) => {
                        println!("{} deployments would be written", p.deployments.len());
                        ExitCode::SUCCESS
                    }
                    Err(d) => {
                        report(&d);
                        ExitCode::FAILURE
                    }
                }
            }
            Err(d) => {
                report(&d);
                eprintln!("{} problem(s) found", d.errors().count());
                ExitCode::FAILURE
            }
        },
        Command::NewApplication { application_name, output_dir } => {
            match new_app::create(&output_dir, &application_name) {
                Ok(dest) => {
                    println!(
                        "[AI-SPRINT]: Done! New '{application_name}' AI-SPRINT application created in {}.",
                        dest.display()
                    );
                    println!("             Next: aisprint design --application_dir {}", dest.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
