//! `aisprint`: the AI-SPRINT controller and its command line.

use std::path::PathBuf;
use std::process::ExitCode;

use aisprint_controller::mesh;
use aisprint_controller::space4aid_cmd::{self, Space4aidError};
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
#[command(name = "aisprint", bin_name = "aisprint", version, about, long_about)]
struct Cli {
    /// More log output on standard error (repeat for more); RUST_LOG also works.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
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
    /// SPACE4AI-D: choose where each component (and DNN partition) runs, on which resource
    /// and with how many instances, at minimum cost under memory and response-time
    /// constraints.
    ///
    /// On an application (`--application_dir DIR`, after `design`): one run per deployment, the
    /// cheapest feasible becomes optimal_deployment. On a system description JSON (the format
    /// of the public benchmark instances): `solve` and `evaluate`.
    ///
    /// Exit code 0 when a solution is feasible, 2 when none exists or was found (the
    /// least-violating one is written, with its violations), 1 on bad input.
    ///
    /// Example: aisprint space4aid --application_dir my_app --lambda 2
    #[command(args_conflicts_with_subcommands = true)]
    Space4aid {
        #[command(subcommand)]
        command: Option<Space4aidCommand>,
        /// Optimise the deployments `aisprint design` wrote for this application: one run per
        /// deployment, the cheapest feasible becomes optimal_deployment. Reads
        /// oscarp/performance_models.json, oscarp/components_data_size.yaml and
        /// space4ai-d/SPACE4AI-D.yaml; writes space4ai-d/Output.json, the chosen deployment's
        /// production_deployment.yaml and space4ai-r/Output_max_Lambda_<deployment>.json.
        #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
        application_dir: Option<PathBuf>,
        /// The arrival rate (requests/s), instead of the expected_throughput annotation.
        #[arg(long, value_name = "X")]
        lambda: Option<f64>,
        #[command(flatten)]
        search: SearchArgs,
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
    /// OSCAR-P: profile the components on their candidate resources. With --dry_run, the
    /// campaign's plan: testing units (`C1@VM1`, `C1P1.2@RaspPi`), deployments (every
    /// combination that makes up the application), runs (one per parallelism level of
    /// oscarp/run_parameters.yaml, times repetitions), containers per node and nodes per run.
    ///
    /// Example: aisprint profile --application_dir examples/mask_detection --dry_run
    Profile {
        #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
        application_dir: PathBuf,
        /// Print the plan and stop (nothing is deployed).
        #[arg(long = "dry_run", visible_alias = "dry-run")]
        dry_run: bool,
        /// The controller's config: the campaign runs on its agents.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The agent that stands for a resource: `--agent VM1=vm-node-1` (one per resource
        /// the plan uses).
        #[arg(long = "agent", value_name = "RESOURCE=NODE")]
        agents: Vec<String>,
        /// An OSCAR cluster that stands for a resource, through its REST API: `--oscar
        /// VM1=oscar-vm` (the id of an `type = OSCAR` line of --oscar_auth). Its units run
        /// from their container images (candidate_deployments.yaml).
        #[arg(long = "oscar", value_name = "RESOURCE=CLUSTER")]
        oscar: Vec<String>,
        /// auth.dat with the OSCAR clusters' endpoints and credentials (`id = oscar-vm; type =
        /// OSCAR; host = https://...; username = ...; password = ...`).
        #[arg(long = "oscar_auth", visible_alias = "oscar-auth", value_name = "FILE")]
        oscar_auth: Option<PathBuf>,
        /// Seconds one run may wait for its jobs.
        #[arg(long = "run_timeout", visible_alias = "run-timeout", value_name = "SECONDS", default_value_t = 3600)]
        run_timeout: u64,
    },
    /// The controller's service for the agents of the mesh.
    Controller {
        #[command(subcommand)]
        command: ControllerCommand,
    },
    /// Certificates of the mesh: a CA, the controller's, one per agent.
    ///
    /// Example: aisprint certs init --dir certs && aisprint certs issue --dir certs --node rpi-1
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
    /// The agents the controller knows.
    Agents {
        #[command(subcommand)]
        command: AgentsCommand,
    },
    /// Metric batches the controller stored.
    Metrics {
        #[command(subcommand)]
        command: MetricsCommand,
    },
    /// From a deployment to infrastructure: TOSCA documents for the Infrastructure Manager,
    /// the OSCAR FDL, deployment through IM, container images, SCONE policies.
    ///
    /// The same commands and flags as the original TOSCARIZER (also run as `toscarizer` when
    /// the binary is called by that name). Typical order: `docker`, then `tosca`, `fdl`,
    /// `deploy`, `outputs`, and `delete` when done. See docs/provisioning.md.
    Toscarizer {
        #[command(subcommand)]
        command: ToscarizerCommand,
    },
    /// Performance models from profiling results, for SPACE4AI-D.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// OSCAR services: deploy an FDL's services to the agents named by its clusters.
    Oscar {
        #[command(subcommand)]
        command: OscarCommand,
    },
    /// QoS monitoring: the state of every execution-time constraint across the mesh.
    Qos {
        #[command(subcommand)]
        command: QosCommand,
    },
    /// Grafana dashboards for the monitoring data the controller exposes on /metrics.
    Dashboards {
        #[command(subcommand)]
        command: DashboardsCommand,
    },
}

/// `--base` or `--optimal`: which deployment.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct WhichArgs {
    /// The base deployment (aisprint/deployments/base).
    #[arg(long)]
    base: bool,
    /// The optimal deployment (aisprint/deployments/optimal_deployment: base after `design`,
    /// SPACE4AI-D's choice after `space4aid`).
    #[arg(long)]
    optimal: bool,
}

impl WhichArgs {
    fn which(&self) -> aisprint_controller::toscarizer::Which {
        if self.base {
            aisprint_controller::toscarizer::Which::Base
        } else {
            aisprint_controller::toscarizer::Which::Optimal
        }
    }
}

/// How to reach the Infrastructure Manager.
#[derive(Debug, clap::Args)]
struct ImArgs {
    /// The IM's REST endpoint.
    #[arg(long = "im_url", visible_alias = "im-url", value_name = "URL", default_value = "https://im.egi.eu/im")]
    im_url: String,
    /// The IM credentials (one per line: `id = im; type = InfrastructureManager; username =
    /// ...; password = ...`, then the clouds'). Default: <application_dir>/im/auth.dat.
    #[arg(long = "im_auth", visible_alias = "im-auth", value_name = "FILE")]
    im_auth: Option<PathBuf>,
    /// Verify IM's TLS certificate. Always done; accepted for the original tool's command
    /// lines.
    #[arg(long)]
    verify: bool,
}

#[derive(Debug, Subcommand)]
enum ToscarizerCommand {
    /// One TOSCA document per component of the deployment, for IM:
    /// <deployment>/im/<component>.yaml (mode 0600: it holds the cluster's generated
    /// passwords, new ones at every run).
    ///
    /// By the type of the component's computational layer: Virtual (a new Kubernetes + OSCAR +
    /// MinIO cluster: front node and totalNodes worker nodes sized from the resource),
    /// PhysicalToBeProvisioned (the same cluster on the machines of
    /// common_config/physical_nodes.yaml), PhysicalAlreadyProvisioned (the service alone, on
    /// the OSCAR cluster physical_nodes.yaml names), NativeCloudFunction (a FaaS function and
    /// its bucket). Components annotated with `security` also get a SCONE session policy in
    /// <deployment>/scone/.
    ///
    /// Example: aisprint toscarizer tosca --application_dir mask_detection --optimal --domain example.org
    Tosca {
        #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
        application_dir: PathBuf,
        #[command(flatten)]
        which: WhichArgs,
        /// The DNS domain of the clusters' endpoints (IM registers the names in Route53 with
        /// the EC2 credential of auth.dat).
        #[arg(long, value_name = "DOMAIN")]
        domain: Option<String>,
        /// Let each cluster grow to N worker nodes on demand and shrink when idle (needs
        /// auth.dat: the cluster's power manager talks to IM).
        #[arg(long, value_name = "N", default_value_t = 0)]
        elastic: u32,
        /// auth.dat for --elastic. Default: <application_dir>/im/auth.dat.
        #[arg(long = "im_auth", visible_alias = "im-auth", value_name = "FILE")]
        im_auth: Option<PathBuf>,
        /// Accepted for the original tool's command lines and ignored: the clusters' monitoring
        /// is the agent mesh's (docs/monitoring.md), not an InfluxDB per cluster.
        #[arg(long = "influxdb_url", hide = true, value_name = "URL")]
        influxdb_url: Option<String>,
        /// See --influxdb_url.
        #[arg(long = "influxdb_token", hide = true, value_name = "TOKEN")]
        influxdb_token: Option<String>,
        /// Where IM fetches the configuration recipes of the node types (a mirror for sites
        /// without Internet access). Default: the original tools' artifacts on GitHub.
        #[arg(long = "artifacts_url", visible_alias = "artifacts-url", value_name = "URL")]
        artifacts_url: Option<String>,
    },
    /// The OSCAR FDL of the deployment, from its TOSCA documents:
    /// <deployment>/oscar/fdl.yaml (mode 0600: it holds storage credentials).
    ///
    /// Example: aisprint toscarizer fdl --application_dir mask_detection --optimal
    Fdl {
        #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
        application_dir: PathBuf,
        #[command(flatten)]
        which: WhichArgs,
    },
    /// Create the deployment's infrastructures with IM: the successors of a component first,
    /// each once the ones it writes to are configured; wait until all are configured.
    /// <deployment>/im/infras.yaml records each infrastructure as soon as IM accepts it.
    ///
    /// Exit status 0 when all are configured, 1 otherwise (with IM's reason). Running it
    /// again keeps what is configured, follows what is still being built, recreates what
    /// failed and creates the rest.
    ///
    /// Example: aisprint toscarizer deploy --application_dir mask_detection --optimal
    Deploy {
        #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
        application_dir: PathBuf,
        #[command(flatten)]
        which: WhichArgs,
        #[command(flatten)]
        im: ImArgs,
        /// Seconds to wait for all infrastructures.
        #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
        timeout: u64,
        /// Take `unconfigured` (the VMs exist, a configuration step failed) as deployed.
        #[arg(long = "allow_unconfigured", visible_alias = "allow-unconfigured")]
        allow_unconfigured: bool,
    },
    /// The outputs of the deployment's infrastructures (OSCAR and MinIO endpoints,
    /// credentials) as YAML on standard output.
    ///
    /// Example: aisprint toscarizer outputs --application_dir mask_detection --optimal
    Outputs {
        #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
        application_dir: PathBuf,
        #[command(flatten)]
        which: WhichArgs,
        #[command(flatten)]
        im: ImArgs,
    },
    /// Delete the deployment's infrastructures, the last created first, each once IM says it
    /// is gone.
    ///
    /// Example: aisprint toscarizer delete --application_dir mask_detection --optimal
    Delete {
        #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
        application_dir: PathBuf,
        #[command(flatten)]
        which: WhichArgs,
        #[command(flatten)]
        im: ImArgs,
        /// Seconds to wait for each infrastructure to be deleted.
        #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
        timeout: u64,
    },
    /// A build context and Dockerfile per design (aisprint/designs/<component>/<design>/),
    /// one image per architecture its candidate resources need (amd64, arm64), and
    /// aisprint/designs/containers.yaml with the images' names. Builds and pushes them when
    /// a Docker engine is reachable; says so and exits 2 when none is.
    ///
    /// Example: aisprint toscarizer docker --application_dir mask_detection --registry docker.io --registry_folder me
    Docker {
        #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
        application_dir: PathBuf,
        /// The registry to push to.
        #[arg(long, value_name = "HOST")]
        registry: String,
        /// The folder (user or project) in the registry.
        #[arg(long = "registry_folder", visible_alias = "registry-folder", value_name = "PATH", default_value = "/")]
        registry_folder: String,
        /// The image the component images start from (Python 3 with pip).
        #[arg(long = "base_image", visible_alias = "base-image", value_name = "IMAGE", default_value = aisprint_controller::toscarizer::DEFAULT_BASE_IMAGE)]
        base_image: String,
        /// Write the contexts and containers.yaml only.
        #[arg(long = "dry_run", visible_alias = "dry-run")]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Train, for each unit the campaign tested alone (C1@VM1, C1P1.2@VM1), a model of its
    /// response time from the cores it had (CoreBasedPredictor) and one from the cores and
    /// the rate it served (LambdaBasedPredictor): ridge regression, a regression tree and a
    /// random forest over the cores, their inverse, log and products, with forward feature
    /// selection, the best by 5-fold cross-validated MAPE. Writes oscarp/models/<unit>.*.json
    /// and the units' entries of oscarp/performance_models.json (the core-based model, as
    /// OSCAR-P writes, with meanTime and a queueing demand estimate; PACSLTK warm and cold
    /// times for units on FaaS resources), which `aisprint space4aid` then uses.
    ///
    /// Reads <campaign>/deployment_<i>/<unit>/results/Dataframes/<service>_response_time_dataframe.csv
    /// (columns run_name, observed_throughput, avg_response_time, requested_parallelism, cores).
    ///
    /// Example: aisprint models train --application_dir my_app
    Train {
        #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
        application_dir: PathBuf,
        /// The campaign folder. Default: oscarp/<run.campaign_dir of run_parameters.yaml>.
        #[arg(long, value_name = "DIR")]
        campaign: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum OscarCommand {
    /// Deploy an FDL's services. A cluster that --oscar_auth names (an auth.dat line `id =
    /// <cluster>; type = OSCAR; host = https://...; username = ...; password = ...`) gets
    /// them through OSCAR's REST API (created, or updated when it has them); any other
    /// cluster is an agent's node id: the agent gets the services and their scripts (read
    /// beside the FDL) over the mesh, keeps them and runs them (docs/services.md).
    ///
    /// Example: aisprint oscar apply --fdl pipeline-fdl.yaml --config controller.yaml
    /// Example: aisprint oscar apply --fdl app/aisprint/deployments/optimal_deployment/oscar/fdl.yaml --oscar_auth app/im/auth.dat
    Apply {
        #[arg(long, value_name = "FILE")]
        fdl: PathBuf,
        /// The controller's config (for clusters that are agents).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Credentials of OSCAR clusters (auth.dat format, `type = OSCAR` lines).
        #[arg(long = "oscar_auth", visible_alias = "oscar-auth", value_name = "FILE")]
        oscar_auth: Option<PathBuf>,
    },
    /// The latest jobs of the agents' services: node, service, job, file, wait, duration, exit
    /// status. (Kept by the controller since it started: the last 10,000.)
    ///
    /// Example: aisprint oscar jobs --config controller.yaml --service blurry-faces-onnx
    Jobs {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, value_name = "NAME")]
        service: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// A service's job logs (the end of each job's output and error streams): the latest
    /// jobs, or one job.
    ///
    /// Example: aisprint oscar logs blurry-faces-onnx 17 --config controller.yaml
    Logs {
        service: String,
        job: Option<u64>,
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
enum QosCommand {
    /// Each constraint's last check: who checked it (an agent, for paths that ran on it alone;
    /// the controller for paths across nodes), its value, threshold and state; throughput;
    /// the latest notifications.
    ///
    /// Example: aisprint qos status --config controller.yaml
    Status {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// How many recent notifications to show.
        #[arg(long, default_value_t = 10)]
        events: usize,
    },
}

#[derive(Debug, Subcommand)]
enum DashboardsCommand {
    /// Write three Grafana dashboards (cluster monitoring, execution time constraints, custom
    /// metrics), importable as they are into a Grafana whose Prometheus scrapes the
    /// controller's /metrics.
    ///
    /// The constraints come from the application's optimal deployment
    /// (aisprint/deployments/optimal_deployment/ams/qos_constraints_L*.yaml), or from the
    /// --qos_constraints files; custom metrics from --custom_setup.
    ///
    /// Example: aisprint dashboards generate --application_dir mask_detection --custom_setup custom_setup.yaml
    Generate {
        #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
        application_dir: Option<PathBuf>,
        /// QoS constraint files (repeat); default: those of the optimal deployment.
        #[arg(long = "qos_constraints", visible_alias = "qos-constraints", value_name = "FILE")]
        qos_constraints: Vec<PathBuf>,
        /// custom_setup.yaml (the AMS format) naming the custom metrics and their fields.
        #[arg(long = "custom_setup", visible_alias = "custom-setup", value_name = "FILE")]
        custom_setup: Option<PathBuf>,
        /// Where to write (default: <application_dir>/ams/dashboards, or ./dashboards).
        #[arg(long = "output_dir", visible_alias = "output-dir", value_name = "DIR")]
        output_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ControllerCommand {
    /// Serve the agents (gRPC with mutual TLS) until interrupted.
    ///
    /// Example: aisprint controller serve --config controller.yaml
    Serve {
        /// controller.yaml: listen address, CA, certificate and key, state file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Serve plain text, without certificates: the config must say `insecure: true` too.
        /// Anyone who can reach the port may then send data; for tests and closed networks.
        #[arg(long)]
        insecure: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CertsCommand {
    /// Create the mesh's CA and the controller's certificate (ca.pem, ca.key,
    /// controller.pem, controller.key).
    Init {
        #[arg(long, value_name = "DIR", default_value = "certs")]
        dir: PathBuf,
        /// Names and addresses the controller is reached at (repeat); default localhost,
        /// 127.0.0.1 and ::1.
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
        /// Replace an existing CA (every agent then needs a new certificate).
        #[arg(long)]
        force: bool,
    },
    /// Issue the certificate of an agent (<node>.pem, <node>.key), signed by the CA in DIR.
    Issue {
        #[arg(long, value_name = "DIR", default_value = "certs")]
        dir: PathBuf,
        /// The agent's node id (its agent.yaml `node_id`).
        #[arg(long, value_name = "NODE")]
        node: String,
    },
}

#[derive(Debug, Subcommand)]
enum AgentsCommand {
    /// Every agent with its layer, resource, last contact and counters.
    List {
        /// The controller's controller.yaml (its address and certificate are used).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum MetricsCommand {
    /// The latest batches (one line per point).
    Tail {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Only this node.
        #[arg(long, value_name = "NODE")]
        node: Option<String>,
        /// How many batches.
        #[arg(long, default_value_t = 5)]
        limit: u32,
    },
}

/// How to search, for every SPACE4AI-D run.
#[derive(Debug, clap::Args)]
struct SearchArgs {
    /// Threads to search with (default 2); results are reproducible for a seed and a thread
    /// count.
    #[arg(long)]
    threads: Option<usize>,
    /// The random seed (overrides the config's Seed).
    #[arg(long)]
    seed: Option<u64>,
    /// After the heuristics, run the exact branch-and-bound: it proves the optimum, or stops
    /// at --time-limit with its best solution and a lower bound (the same as a `name: Exact`
    /// method in the config).
    #[arg(long)]
    exact: bool,
    /// Seconds the exact method may run (default: the Exact method's duration, else 60).
    #[arg(long = "time-limit", value_name = "SECONDS", requires = "exact")]
    time_limit: Option<f64>,
}

impl SearchArgs {
    fn overrides(&self) -> space4aid_cmd::Overrides {
        space4aid_cmd::Overrides {
            threads: self.threads,
            seed: self.seed,
            exact: self.exact.then(|| self.time_limit.map(|s| std::time::Duration::from_secs_f64(s.max(0.0)))),
        }
    }
}

#[derive(Debug, Subcommand)]
enum Space4aidCommand {
    /// Find the cheapest feasible placement (RandomGreedy, then LocalSearch or the configured
    /// method from the best; with --exact, then the exact branch-and-bound). Reports the
    /// best lower bound known on the optimal cost, and so the gap.
    ///
    /// Example: aisprint space4aid solve --system data/space4ai-d/instances/RunningExample/system_description_scenario1.json --lambda 1.8
    Solve {
        /// The system description JSON.
        #[arg(long, value_name = "FILE")]
        system: PathBuf,
        /// A SPACE4AI-D.yaml with the methods (RandomGreedy iterations and duration,
        /// LocalSearch iterations and startingPointNumber) and the Seed.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The arrival rate (requests/s), instead of the file's Lambda.
        #[arg(long, value_name = "X")]
        lambda: Option<f64>,
        /// Write the solution JSON here instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// With a BS method in the config: write the solution at the largest arrival rate it
        /// sustains here (the Output_max_Lambda JSON of SPACE4AI-R).
        #[arg(long = "max-lambda-output", value_name = "FILE")]
        max_lambda_output: Option<PathBuf>,
        #[command(flatten)]
        search: SearchArgs,
    },
    /// Feasibility, violations and cost of a solution (the JSON of the Python reference, with
    /// the deployment level, or of the C++ one, without it).
    Evaluate {
        /// The system description JSON.
        #[arg(long, value_name = "FILE")]
        system: PathBuf,
        /// The solution JSON.
        #[arg(long, value_name = "FILE")]
        solution: PathBuf,
        /// The arrival rate (requests/s), instead of the file's Lambda.
        #[arg(long, value_name = "X")]
        lambda: Option<f64>,
        /// Write the evaluated solution JSON here.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

fn space4aid(cmd: Space4aidCommand) -> Result<bool, Space4aidError> {
    match cmd {
        Space4aidCommand::Solve { system, config, lambda, output, max_lambda_output, search } => {
            let model = space4aid_cmd::load_model(&system, lambda)?;
            let (mut opts, bs) = match &config {
                Some(c) => space4aid_cmd::options_from_config(c)?,
                None => (aisprint_shared::space4aid::solver::SolveOptions::default(), None),
            };
            search.overrides().apply(&mut opts);
            let out = space4aid_cmd::run_solve(&model, &opts);
            for l in &out.summary {
                eprintln!("{l}");
            }
            space4aid_cmd::write_json(&out.json, output.as_deref())?;
            if let (Some(bs), true) = (bs, out.feasible) {
                if let Some((l, json)) = space4aid_cmd::run_binary_search(&model, &out, bs) {
                    eprintln!("the solution stays feasible up to Lambda {l:.6} (searched up to {})", bs.upper);
                    if let Some(path) = &max_lambda_output {
                        space4aid_cmd::write_json(&json, Some(path))?;
                    }
                }
            }
            Ok(out.feasible)
        }
        Space4aidCommand::Evaluate { system, solution, lambda, output } => {
            let model = space4aid_cmd::load_model(&system, lambda)?;
            let out = space4aid_cmd::run_evaluate(&model, &solution)?;
            for l in &out.summary {
                eprintln!("{l}");
            }
            if let Some(o) = output {
                space4aid_cmd::write_json(&out.json, Some(&o))?;
            }
            Ok(out.feasible)
        }
    }
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
    // Called as `toscarizer` (a link to this binary), the original tool's command line.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.first().and_then(|a| std::path::Path::new(a).file_name()).is_some_and(|n| n == "toscarizer") {
        args.insert(1, "toscarizer".into());
    }
    let cli = Cli::parse_from(args);
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
        Command::Space4aid { command: None, application_dir: None, .. } => {
            eprintln!("aisprint space4aid: give --application_dir DIR, or a command (solve, evaluate); see --help");
            ExitCode::FAILURE
        }
        Command::Space4aid { command: None, application_dir: Some(dir), lambda, search } => {
            let mut stdout = std::io::stdout();
            match aisprint_controller::space4aid_app::run(&dir, lambda, &search.overrides(), &mut stdout) {
                Ok(o) if o.chosen.is_some() => ExitCode::SUCCESS,
                Ok(_) => ExitCode::from(2),
                Err(Space4aidError::Invalid(d)) => {
                    report(&d);
                    eprintln!("space4aid stopped: nothing was written");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Space4aid { command: Some(command), .. } => match space4aid(command) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(2),
            Err(Space4aidError::Invalid(d)) => {
                report(&d);
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
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
        Command::Profile { application_dir, dry_run, config, agents, oscar, oscar_auth, run_timeout } => {
            profile_cmd(&application_dir, dry_run, config, (agents, oscar, oscar_auth), run_timeout)
        }
        Command::Controller { command } => run_async(controller_cmd(command)),
        Command::Certs { command } => certs_cmd(command),
        Command::Agents { command: AgentsCommand::List { config } } => run_async(agents_list(config)),
        Command::Metrics { command: MetricsCommand::Tail { config, node, limit } } => {
            run_async(metrics_tail(config, node, limit))
        }
        Command::Toscarizer { command } => toscarizer_cmd(command),
        Command::Models { command: ModelsCommand::Train { application_dir, campaign } } => {
            models_train(&application_dir, campaign)
        }
        Command::Oscar { command: OscarCommand::Apply { fdl, config, oscar_auth } } => {
            run_async(oscar_apply(fdl, config, oscar_auth))
        }
        Command::Oscar { command: OscarCommand::Jobs { config, service, limit } } => {
            run_async(oscar_jobs(config, service.unwrap_or_default(), limit, None))
        }
        Command::Oscar { command: OscarCommand::Logs { service, job, config, limit } } => {
            run_async(oscar_jobs(config, service, if job.is_some() { 10_000 } else { limit }, Some(job)))
        }
        Command::Qos { command: QosCommand::Status { config, json, events } } => {
            run_async(qos_status(config, json, events))
        }
        Command::Dashboards {
            command: DashboardsCommand::Generate { application_dir, qos_constraints, custom_setup, output_dir },
        } => {
            match aisprint_controller::dashboards::generate(
                application_dir.as_deref(),
                &qos_constraints,
                custom_setup.as_deref(),
                output_dir.as_deref(),
            ) {
                Ok(written) => {
                    for w in written {
                        println!("written {}", w.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
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

/// `--agent`s, `--oscar`s and `--oscar_auth`.
type Stands = (Vec<String>, Vec<String>, Option<PathBuf>);

fn profile_cmd(
    dir: &std::path::Path,
    dry_run: bool,
    config: Option<PathBuf>,
    (agents, oscar, oscar_auth): Stands,
    run_timeout: u64,
) -> ExitCode {
    let loaded = match appdir::load(dir) {
        Ok(l) => l,
        Err(d) => {
            report(&d);
            return ExitCode::FAILURE;
        }
    };
    println!("Starting profiling...");
    let plan = match aisprint_shared::profile::plan(&loaded.app) {
        Ok(p) => p,
        Err(d) => {
            report(&d);
            return ExitCode::FAILURE;
        }
    };
    print!("{}", plan.render());
    let problems: usize = plan.deployments.iter().map(|d| d.problems.len()).sum();
    if problems > 0 {
        eprintln!(
            "error: {problems} run level(s) need more nodes than their resource has (see above): lower the parallelism in oscarp/run_parameters.yaml or raise totalNodes"
        );
        return ExitCode::FAILURE;
    }
    if dry_run {
        println!(
            "\nDry run: {} deployment(s), {} run(s) each; nothing deployed.",
            plan.deployments.len(),
            plan.runs_per_deployment()
        );
        return ExitCode::SUCCESS;
    }
    if config.is_none() && oscar.is_empty() {
        eprintln!("error: running the campaign needs the controller's config (--config) and the agent of each resource (--agent RESOURCE=NODE), or OSCAR clusters (--oscar RESOURCE=CLUSTER --oscar_auth auth.dat); --dry_run only prints the plan");
        return ExitCode::from(2);
    }
    let pairs =
        |flag: &str, list: &[String], what: &str| -> Result<std::collections::BTreeMap<String, String>, String> {
            let mut map = std::collections::BTreeMap::new();
            for a in list {
                match a.split_once('=') {
                    Some((r, n)) if !r.trim().is_empty() && !n.trim().is_empty() => {
                        map.insert(r.trim().to_string(), n.trim().to_string());
                    }
                    _ => {
                        return Err(format!(
                    "error: {flag} `{a}`: expected RESOURCE={what} (the resource's name in candidate_resources.yaml)"
                ))
                    }
                }
            }
            Ok(map)
        };
    let (map, oscar_map) = match (pairs("--agent", &agents, "NODE"), pairs("--oscar", &oscar, "CLUSTER")) {
        (Ok(a), Ok(o)) => (a, o),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut clusters = std::collections::BTreeMap::new();
    if !oscar_map.is_empty() {
        let Some(auth) = &oscar_auth else {
            eprintln!("error: --oscar needs --oscar_auth (the auth.dat with the clusters' `type = OSCAR` lines)");
            return ExitCode::from(2);
        };
        let all = match aisprint_controller::oscar_apply::clusters_in(auth) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let all: std::collections::BTreeMap<String, std::sync::Arc<_>> =
            all.into_iter().map(|c| (c.name.clone(), std::sync::Arc::new(c))).collect();
        for (res, id) in &oscar_map {
            match all.get(id) {
                Some(c) => {
                    clusters.insert(res.clone(), c.clone());
                }
                None => {
                    eprintln!("error: --oscar {res}={id}: {} has no `id = {id}; type = OSCAR` line", auth.display());
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let opts = aisprint_controller::campaign::CampaignOptions {
        agents: map,
        oscar: clusters,
        run_timeout: std::time::Duration::from_secs(run_timeout),
        seed: 1,
    };
    let app = &loaded.app;
    let code = run_async(async {
        let mut admin = match &config {
            Some(config) => {
                let c = mesh::load_config(config).map_err(mesh_err)?;
                Some(mesh::admin_client(&c).await.map_err(mesh_err)?)
            }
            None => None,
        };
        let s = aisprint_controller::campaign::run(dir, app, &plan, admin.as_mut(), &opts)
            .await
            .map_err(|e| format!("error: {e}"))?;
        println!(
            "Campaign done: {} run(s), {} job(s) in {:.1} s; results in {}",
            s.runs,
            s.jobs,
            s.wall.as_secs_f64(),
            s.dir.display()
        );
        Ok(())
    });
    if code != ExitCode::SUCCESS {
        return code;
    }
    let train = app
        .run_parameters
        .as_ref()
        .and_then(|r| r.value.run.as_ref())
        .and_then(|r| r.train_models.as_ref())
        .is_some_and(aisprint_shared::app::Flag::is_true);
    if train {
        println!("Training the performance models (run.train_models)...");
        return models_train_app(dir, app, None);
    }
    ExitCode::SUCCESS
}

fn models_train(dir: &std::path::Path, campaign: Option<PathBuf>) -> ExitCode {
    match appdir::load(dir) {
        Ok(loaded) => models_train_app(dir, &loaded.app, campaign),
        Err(d) => {
            report(&d);
            ExitCode::FAILURE
        }
    }
}

/// `models train` on an application already loaded (the campaign's, after its runs).
fn models_train_app(
    dir: &std::path::Path,
    app: &aisprint_shared::app::check::Application,
    campaign: Option<PathBuf>,
) -> ExitCode {
    use aisprint_controller::models;
    let campaign = campaign.unwrap_or_else(|| {
        let name = app
            .run_parameters
            .as_ref()
            .and_then(|r| r.value.run.as_ref())
            .and_then(|r| r.campaign_dir.clone())
            .unwrap_or_else(|| "campaign".into());
        dir.join("oscarp").join(name)
    });
    let trained = match models::train(app, &campaign, &aisprint_shared::perfmodel::TrainOptions::default()) {
        Ok(t) => t,
        Err(d) => {
            report(&d);
            return ExitCode::FAILURE;
        }
    };
    for t in &trained {
        let (kind, m) = t.chosen();
        println!(
            "{}: {} runs; {kind} ({}, features {}): cross-validated error {:.1}% (the throughput-based model beside it: {:.1}%)",
            t.unit,
            t.rows,
            m.technique.name(),
            m.features.join(", "),
            m.validation.mape * 100.0,
            t.lambda_based.validation.mape * 100.0
        );
    }
    match models::write(dir, app, &trained) {
        Ok(files) => {
            println!("written {}", files.join(", "));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn toscarizer_cmd(cmd: ToscarizerCommand) -> ExitCode {
    use aisprint_controller::toscarizer::{self as tz, ToscarizerError};
    let im_opts = |im: ImArgs, timeout: u64, allow_unconfigured: bool| tz::ImOptions {
        im_url: im.im_url,
        im_auth: im.im_auth,
        timeout: std::time::Duration::from_secs(timeout),
        allow_unconfigured,
        poll: std::time::Duration::from_secs(2),
    };
    let fail = |e: ToscarizerError| {
        match e {
            ToscarizerError::Invalid(d) => report(&d),
            ToscarizerError::Failed(m) => eprintln!("error: {m}"),
        }
        ExitCode::FAILURE
    };
    let block = |f: std::pin::Pin<Box<dyn std::future::Future<Output = Result<ExitCode, ToscarizerError>>>>| {
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(f).unwrap_or_else(fail),
            Err(e) => {
                eprintln!("error: cannot start the runtime: {e}");
                ExitCode::FAILURE
            }
        }
    };
    match cmd {
        ToscarizerCommand::Tosca {
            application_dir,
            which,
            domain,
            elastic,
            im_auth,
            artifacts_url,
            influxdb_url,
            influxdb_token,
        } => {
            if influxdb_url.is_some() || influxdb_token.is_some() {
                eprintln!("warning: --influxdb_url/--influxdb_token are ignored: monitoring is the agent mesh's (docs/monitoring.md)");
            }
            let o = tz::ToscaOptions { domain, elastic, artifacts_url, im_auth };
            tz::tosca(&application_dir, which.which(), &o).map(|_| ExitCode::SUCCESS).unwrap_or_else(fail)
        }
        ToscarizerCommand::Fdl { application_dir, which } => {
            tz::fdl(&application_dir, which.which()).map(|_| ExitCode::SUCCESS).unwrap_or_else(fail)
        }
        ToscarizerCommand::Deploy { application_dir, which, im, timeout, allow_unconfigured } => {
            let o = im_opts(im, timeout, allow_unconfigured);
            block(Box::pin(async move {
                let ok = tz::deploy(&application_dir, which.which(), &o).await?;
                Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
            }))
        }
        ToscarizerCommand::Outputs { application_dir, which, im } => {
            let o = im_opts(im, 60, false);
            block(Box::pin(async move {
                let (v, ok) = tz::outputs(&application_dir, which.which(), &o).await?;
                print!("{}", serde_yaml::to_string(&v).unwrap_or_default());
                Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
            }))
        }
        ToscarizerCommand::Delete { application_dir, which, im, timeout } => {
            let o = im_opts(im, timeout, false);
            block(Box::pin(async move {
                let ok = tz::delete(&application_dir, which.which(), &o).await?;
                Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
            }))
        }
        ToscarizerCommand::Docker { application_dir, registry, registry_folder, base_image, dry_run } => {
            let o = tz::DockerOptions { registry, registry_folder, base_image, dry_run };
            match tz::docker(&application_dir, &o) {
                Ok(tz::DockerOutcome::Built) | Ok(tz::DockerOutcome::DryRun) => ExitCode::SUCCESS,
                Ok(tz::DockerOutcome::NoEngine) => ExitCode::from(2),
                Err(e) => fail(e),
            }
        }
    }
}

fn run_async(f: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(f) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn mesh_err(e: mesh::MeshError) -> String {
    match e {
        mesh::MeshError::Invalid(d) => {
            report(&d);
            "stopped: the configuration has problems".into()
        }
        e => format!("error: {e}"),
    }
}

async fn controller_cmd(cmd: ControllerCommand) -> Result<(), String> {
    let ControllerCommand::Serve { config, insecure } = cmd;
    let c = mesh::load_config(&config).map_err(mesh_err)?;
    if c.insecure != insecure {
        return Err(if c.insecure {
            format!("error: {}: insecure: true serves plain text; give --insecure as well to mean it", config.display())
        } else {
            format!(
                "error: --insecure, but {} sets up mutual TLS; set insecure: true there to serve plain text",
                config.display()
            )
        });
    }
    let tls = mesh::tls_of(&c).map_err(mesh_err)?;
    let addr: std::net::SocketAddr = c.listen.parse().map_err(|_| format!("error: bad listen address {}", c.listen))?;
    if tls.is_none() {
        eprintln!("warning: serving without TLS (insecure: true): anyone who can reach {addr} may send data");
    }
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
    };
    if let Some(b) = &c.mqtt_broker {
        let listen: std::net::SocketAddr =
            b.listen.parse().map_err(|_| format!("error: bad mqtt_broker.listen {}", b.listen))?;
        mesh::broker::start(listen).map_err(|e| format!("error: {e}"))?;
        eprintln!("controller: embedded MQTT broker on {listen}");
    }
    eprintln!("controller: serving agents on {addr} (state {})", c.state);
    let retention = std::time::Duration::from_secs_f64(c.retention_hours * 3600.0);
    let qos = mesh::qos::QosSetup::load(&c).map_err(mesh_err)?;
    mesh::serve::serve(addr, PathBuf::from(&c.state), tls, retention, qos, shutdown)
        .await
        .map_err(|e| format!("error: {e}"))
}

fn certs_cmd(cmd: CertsCommand) -> ExitCode {
    let r = match cmd {
        CertsCommand::Init { dir, hosts, force } => {
            let hosts = if hosts.is_empty() {
                vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()]
            } else {
                hosts
            };
            mesh::certs::init(&dir, &hosts, force)
        }
        CertsCommand::Issue { dir, node } => mesh::certs::issue(&dir, &node),
    };
    match r {
        Ok(w) => {
            for f in w.files {
                println!("wrote {}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn fmt_ms(ms: i64) -> String {
    if ms <= 0 {
        return "-".into();
    }
    let ago = (mesh::state::now_ms() - ms) / 1000;
    format!("{ago} s ago")
}

async fn agents_list(config: PathBuf) -> Result<(), String> {
    let c = mesh::load_config(&config).map_err(mesh_err)?;
    let mut client = mesh::admin_client(&c).await.map_err(mesh_err)?;
    let reply = client
        .list_agents(aisprint_proto::v1::ListAgentsRequest {})
        .await
        .map_err(|e| format!("error: {}", e.message()))?
        .into_inner();
    println!(
        "{:<20} {:<22} {:<12} {:<8} {:>9} {:>6} {:>8} {:>7} {:<10} LAST SEEN",
        "NODE", "LAYER", "RESOURCE", "ARCH", "BATCHES", "DUPS", "BUFFERED", "DROPPED", "CONNECTED"
    );
    for a in reply.agents {
        println!(
            "{:<20} {:<22} {:<12} {:<8} {:>9} {:>6} {:>8} {:>7} {:<10} {}",
            a.node_id,
            a.layer,
            a.resource,
            a.architecture,
            a.batches,
            a.duplicates,
            a.buffered,
            a.dropped,
            if a.connected { "yes" } else { "no" },
            fmt_ms(a.last_seen_unix_ms)
        );
    }
    Ok(())
}

async fn oscar_apply(fdl: PathBuf, config: Option<PathBuf>, oscar_auth: Option<PathBuf>) -> Result<(), String> {
    use aisprint_shared::oscar::{self, Fdl, Functions};
    let file = fdl.display().to_string();
    let text = std::fs::read_to_string(&fdl).map_err(|e| format!("error: cannot read {file}: {e}"))?;
    let (doc, w) = aisprint_shared::yaml::parse::<Fdl>(&file, &text).map_err(|d| d.to_string())?;
    let d = oscar::validate(&doc);
    report(&w);
    if d.has_errors() {
        return Err(d.to_string());
    }
    let base = fdl.parent().unwrap_or(std::path::Path::new("."));
    let rest_clusters = match &oscar_auth {
        Some(p) => aisprint_controller::oscar_apply::clusters_in(p).map_err(|e| format!("error: {e}"))?,
        None => Vec::new(),
    };
    // Everything is read before anything is sent.
    let mut rest = Vec::new();
    for c in &rest_clusters {
        let mut services = Vec::new();
        for svc in doc.value.services_of(&c.name) {
            let script =
                aisprint_controller::oscar_apply::script_of(svc, base).map_err(|e| format!("error: {file}: {e}"))?;
            services.push((svc.clone(), script));
        }
        if !services.is_empty() {
            rest.push((c, services));
        }
    }
    let agent_clusters: Vec<&str> =
        doc.value.clusters().into_iter().filter(|c| !rest_clusters.iter().any(|r| r.name == *c)).collect();
    if !agent_clusters.is_empty() && config.is_none() {
        return Err(format!(
            "error: clusters {} are not in --oscar_auth: they are agents' node ids, and sending to agents needs --config (the controller's)",
            agent_clusters.join(", ")
        ));
    }
    let mut payloads = Vec::new();
    for cluster in agent_clusters {
        let entries: Vec<_> = doc.value.functions.oscar.iter().filter(|m| m.contains_key(cluster)).cloned().collect();
        let mut scripts = std::collections::BTreeMap::new();
        for svc in doc.value.services_of(cluster) {
            if !oscar::valid_path(&svc.script) {
                return Err(format!(
                    "error: {file}: script `{}`: expected a path relative to the FDL, without `..`",
                    svc.script
                ));
            }
            let p = base.join(&svc.script);
            let content =
                std::fs::read_to_string(&p).map_err(|e| format!("error: {file}: script {}: {e}", p.display()))?;
            scripts.insert(svc.script.clone(), content);
        }
        let one =
            Fdl { functions: Functions { oscar: entries }, storage_providers: doc.value.storage_providers.clone() };
        let fdl_text = aisprint_shared::yaml::to_string(&one).map_err(|e| format!("error: {e}"))?;
        let n = scripts.len();
        let payload = serde_json::json!({ "cluster": cluster, "fdl": fdl_text, "scripts": scripts });
        payloads.push((cluster.to_string(), n, payload.to_string()));
    }
    for (c, services) in rest {
        for line in aisprint_controller::oscar_apply::apply(c, &services).await.map_err(|e| format!("error: {e}"))? {
            println!("{line}");
        }
    }
    if payloads.is_empty() {
        return Ok(());
    }
    let Some(config) = config else {
        return Ok(()); // checked above: no agent cluster without a config
    };
    let c = mesh::load_config(&config).map_err(mesh_err)?;
    let mut client = mesh::admin_client(&c).await.map_err(mesh_err)?;
    let mut missing = Vec::new();
    let mut sent = Vec::new();
    for (cluster, n, payload_json) in payloads {
        let r = client
            .send_command(aisprint_proto::v1::SendCommandRequest {
                node_id: cluster.clone(),
                kind: "services.apply".into(),
                payload_json,
            })
            .await
            .map_err(|e| format!("error: {}", e.message()))?
            .into_inner();
        if r.sent {
            println!("{cluster}: {n} service(s) sent ({})", r.command_id);
            sent.push((cluster, r.command_id));
        } else {
            println!("{cluster}: no agent of that node id is connected: not sent");
            missing.push(cluster);
        }
    }
    // The agents' answers: applied, or refused with the reason.
    let mut refused = Vec::new();
    for (cluster, id) in sent {
        match aisprint_controller::campaign::command_result(&mut client, &id, std::time::Duration::from_secs(15))
            .await?
        {
            Some(r) if r.ok => println!("{cluster}: {}", r.message),
            Some(r) => {
                println!("{cluster}: refused: {}", r.message);
                refused.push(cluster);
            }
            None => println!("{cluster}: no answer from the agent within 15 s (its log says what it did)"),
        }
    }
    if !refused.is_empty() {
        return Err(format!("error: refused by {}", refused.join(", ")));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("error: not sent to {} (start their agents, then apply again)", missing.join(", ")))
    }
}

/// `oscar jobs` (logs: None) and `oscar logs` (logs: Some(job filter)).
async fn oscar_jobs(config: PathBuf, service: String, limit: u32, logs: Option<Option<u64>>) -> Result<(), String> {
    let c = mesh::load_config(&config).map_err(mesh_err)?;
    let mut client = mesh::admin_client(&c).await.map_err(mesh_err)?;
    let r = client
        .list_jobs(aisprint_proto::v1::ListJobsRequest { service: service.clone(), limit })
        .await
        .map_err(|e| format!("error: {}", e.message()))?
        .into_inner();
    let Some(which) = logs else {
        println!(
            "{:<12} {:<24} {:>6} {:<28} {:>9} {:>10} {:>10} {:>5} STATUS",
            "NODE", "SERVICE", "JOB", "FILE", "WAIT (s)", "TIME (s)", "FUNC (s)", "TRIES"
        );
        for j in r.jobs.iter().rev() {
            let func = aisprint_controller::campaign::phases(j).compute.map_or("-".to_string(), |c| format!("{c:.3}"));
            println!(
                "{:<12} {:<24} {:>6} {:<28} {:>9.3} {:>10.3} {:>10} {:>5} {}",
                j.node,
                j.service,
                j.job,
                j.file,
                j.started - j.created,
                j.finished - j.started,
                func,
                j.attempts,
                if j.exit_status == 0 { "succeeded".to_string() } else { format!("failed ({})", j.exit_status) }
            );
        }
        return Ok(());
    };
    let jobs: Vec<_> = r.jobs.iter().rev().filter(|j| which.is_none_or(|n| j.job == n)).collect();
    if jobs.is_empty() {
        return Err(format!(
            "error: no job{} of service `{service}` known to the controller",
            which.map(|n| format!(" {n}")).unwrap_or_default()
        ));
    }
    for j in jobs {
        println!("== {} job {} ({}, on {}, exit status {})", j.service, j.job, j.file, j.node, j.exit_status);
        let p = aisprint_controller::campaign::phases(j);
        let s = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3} s"));
        println!(
            "   wait {:.3} s, process creation {}, overhead {}, function {}, write-back {}, whole {:.3} s",
            p.wait,
            s(p.process_creation),
            s(p.overhead),
            s(p.compute),
            s(p.write_back),
            j.finished - j.created
        );
        print!("{}", j.log_tail);
        if !j.log_tail.ends_with('\n') && !j.log_tail.is_empty() {
            println!();
        }
    }
    Ok(())
}

async fn qos_status(config: PathBuf, json: bool, events: usize) -> Result<(), String> {
    let c = mesh::load_config(&config).map_err(mesh_err)?;
    let mut client = mesh::admin_client(&c).await.map_err(mesh_err)?;
    let r = client
        .qos_status(aisprint_proto::v1::QosStatusRequest {})
        .await
        .map_err(|e| format!("error: {}", e.message()))?
        .into_inner();
    if json {
        let v = serde_json::json!({
            "constraints": r.constraints.iter().map(|c| serde_json::json!({
                "source": c.source, "name": c.name, "kind": c.kind, "path": c.path, "threshold": c.threshold,
                "value": if c.has_value { serde_json::json!(c.value) } else { serde_json::Value::Null },
                "sessions": c.sessions, "state": c.state, "check_unix_ms": c.check_unix_ms,
            })).collect::<Vec<_>>(),
            "throughput": r.throughput.iter().map(|t| serde_json::json!({
                "source": t.source, "component": t.component, "per_second": t.per_second, "check_unix_ms": t.check_unix_ms,
            })).collect::<Vec<_>>(),
            "events": r.events.iter().rev().take(events).map(|e| serde_json::json!({
                "source": e.source, "time_unix_ms": e.time_unix_ms,
                "body": serde_json::from_str::<serde_json::Value>(&e.body_json).unwrap_or(serde_json::Value::Null),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(());
    }
    if r.constraints.is_empty() {
        println!(
            "no constraint checked yet (agents check theirs every time_period; the controller, paths across nodes)"
        );
    } else {
        println!(
            "{:<14} {:<22} {:<7} {:<28} {:>10} {:>10} {:>8} {:<9} CHECKED",
            "SOURCE", "CONSTRAINT", "KIND", "PATH", "VALUE (s)", "THRESHOLD", "SESSIONS", "STATE"
        );
        for x in &r.constraints {
            let value = if x.has_value { format!("{:.3}", x.value) } else { "-".into() };
            println!(
                "{:<14} {:<22} {:<7} {:<28} {:>10} {:>10} {:>8} {:<9} {}",
                x.source,
                x.name,
                x.kind,
                x.path.join(" -> "),
                value,
                x.threshold,
                x.sessions,
                x.state,
                fmt_ms(x.check_unix_ms)
            );
        }
    }
    for t in &r.throughput {
        println!(
            "throughput of {} on {}: {:.3} sessions/s ({})",
            t.component,
            t.source,
            t.per_second,
            fmt_ms(t.check_unix_ms)
        );
    }
    if !r.events.is_empty() {
        println!("latest notifications:");
        for e in r.events.iter().rev().take(events) {
            println!("  {} {}: {}", fmt_ms(e.time_unix_ms), e.source, e.body_json);
        }
    }
    Ok(())
}

async fn metrics_tail(config: PathBuf, node: Option<String>, limit: u32) -> Result<(), String> {
    let c = mesh::load_config(&config).map_err(mesh_err)?;
    let mut client = mesh::admin_client(&c).await.map_err(mesh_err)?;
    let reply = client
        .tail_metrics(aisprint_proto::v1::TailMetricsRequest { node_id: node.unwrap_or_default(), limit })
        .await
        .map_err(|e| format!("error: {}", e.message()))?
        .into_inner();
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for sb in reply.batches {
        let Some(b) = sb.batch else { continue };
        // A closed pipe (`| head`) ends the listing quietly.
        if writeln!(
            out,
            "# {} boot {} seq {} at {} (agent clock {}){}",
            b.node_id,
            b.boot_id,
            b.seq,
            sb.corrected_unix_ms,
            b.wall_time_unix_ms,
            if b.backfill { " backfill" } else { "" }
        )
        .is_err()
        {
            return Ok(());
        }
        for p in b.points {
            let tags: Vec<String> = p.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let fields: Vec<String> = p.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let sep = if tags.is_empty() { "" } else { "," };
            if writeln!(out, "{}{sep}{} {}", p.measurement, tags.join(","), fields.join(",")).is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}
