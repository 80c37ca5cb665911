//! The command line: every subcommand's flags, with the help that teaches it. Parsing only;
//! `commands` runs them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::provision::{Which, DEFAULT_BASE_IMAGE};
use crate::space4aid::files::Overrides;

/// The exit statuses of every command (`--help`, README).
pub const EXIT_STATUSES: &str = "\
Exit status (every command):
  0  done
  1  error: the input has problems (every one is reported; nothing is written), or an
     operation failed (a file, the network, a service that refused)
  2  usage: a bad command line (unknown or missing flags, flags that do not go together)
  3  no feasible solution: `space4aid` wrote the least-violating one, with its violations
  4  no container engine: `toscarizer docker` wrote the build contexts but could not build";

/// AI-SPRINT: design, place and run AI inference pipelines across edge nodes, private
/// servers and public clouds.
///
/// An application directory holds common_config/ (the DAG, the candidate resources and
/// deployments), src/<component>/main.py (annotated Python components) and the folders of
/// the tools. Start with `aisprint new-application --application_name my_app`, edit its
/// files, then run `aisprint design --application_dir my_app`.
#[derive(Debug, Parser)]
#[command(name = "aisprint", bin_name = "aisprint", version = aisprint_runtime::VERSION, about, long_about, after_help = EXIT_STATUSES)]
pub struct Cli {
    /// More log output on standard error (repeat for more); RUST_LOG also works.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
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
    Design(DesignArgs),
    /// SPACE4AI-D: choose where each component (and DNN partition) runs, on which resource
    /// and with how many instances, at minimum cost under memory and response-time
    /// constraints.
    ///
    /// On an application (`--application_dir DIR`, after `design`): one run per deployment, the
    /// cheapest feasible becomes optimal_deployment. On a system description JSON (the format
    /// of the public benchmark instances): `solve` and `evaluate`.
    ///
    /// Exit status 0 when a solution is feasible, 3 when none exists or was found (the
    /// least-violating one is written, with its violations), 1 on bad input.
    ///
    /// Example: aisprint space4aid --application_dir my_app --lambda 2
    #[command(args_conflicts_with_subcommands = true)]
    Space4aid(Space4aidArgs),
    /// Check an application directory without writing anything.
    Validate(ValidateArgs),
    /// Create a new application from the template (a two-component example that `design`
    /// accepts as it is).
    ///
    /// Example: aisprint new-application --application_name my_app
    NewApplication(NewApplicationArgs),
    /// OSCAR-P: profile the components on their candidate resources. With --dry_run, the
    /// campaign's plan: testing units (`C1@VM1`, `C1P1.2@RaspPi`), deployments (every
    /// combination that makes up the application), runs (one per parallelism level of
    /// oscarp/run_parameters.yaml, times repetitions), containers per node and nodes per run.
    ///
    /// Example: aisprint profile --application_dir examples/mask_detection --dry_run
    Profile(ProfileArgs),
    /// The controller's service for the agents of the mesh.
    #[command(subcommand)]
    Controller(ControllerCommand),
    /// Certificates of the mesh: a CA, the controller's, one per agent.
    ///
    /// Example: aisprint certs init --dir certs && aisprint certs issue --dir certs --node rpi-1
    #[command(subcommand)]
    Certs(CertsCommand),
    /// The agents the controller knows.
    #[command(subcommand)]
    Agents(AgentsCommand),
    /// Metric batches the controller stored.
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// From a deployment to infrastructure: TOSCA documents for the Infrastructure Manager,
    /// the OSCAR FDL, deployment through IM, container images, SCONE policies.
    ///
    /// The same commands and flags as the original TOSCARIZER (also run as `toscarizer` when
    /// the binary is called by that name). Typical order: `docker`, then `tosca`, `fdl`,
    /// `deploy`, `outputs`, and `delete` when done. See docs/provisioning.md.
    #[command(subcommand)]
    Toscarizer(ToscarizerCommand),
    /// Performance models from profiling results, for SPACE4AI-D.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// OSCAR services: deploy an FDL's services to the agents named by its clusters.
    #[command(subcommand)]
    Oscar(OscarCommand),
    /// QoS monitoring: the state of every execution-time constraint across the mesh.
    #[command(subcommand)]
    Qos(QosCommand),
    /// Grafana dashboards for the monitoring data the controller exposes on /metrics.
    #[command(subcommand)]
    Dashboards(DashboardsCommand),
    /// The whole loop on this machine: a controller and three agents run the bundled example,
    /// frames arrive faster than the edge server sustains, SPACE4AI-R moves and scales it,
    /// then scales back; every frame is counted. No root, no cloud account.
    ///
    /// Example: aisprint demo --duration 90 --report demo.json
    Demo {
        /// Seconds of frames fed (1/s, then 5/s, then 0.5/s).
        #[arg(long, default_value_t = 90.0, value_name = "S")]
        duration: f64,
        /// Write the figures as JSON: files_sent, files_done, duplicates, lost,
        /// reconfigurations.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Work in this folder and keep it (logs, configurations, the agents' buckets);
        /// default: a temporary folder removed at the end.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// SPACE4AI-R: the placement the controller keeps as the load changes (the `runtime`
    /// section of controller.yaml; docs/runtime.md).
    #[command(subcommand)]
    Runtime(RuntimeCommand),
}

#[derive(Debug, clap::Args)]
pub struct DesignArgs {
    /// The application directory.
    #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
    pub application_dir: PathBuf,
    /// Refuse to write more deployments than this (their number is a product and can
    /// explode with many candidate layers).
    #[arg(long = "max-deployments", default_value_t = 1000, value_name = "N")]
    pub max_deployments: usize,
}

#[derive(Debug, clap::Args)]
pub struct Space4aidArgs {
    #[command(subcommand)]
    pub command: Option<Space4aidCommand>,
    /// Optimise the deployments `aisprint design` wrote for this application: one run per
    /// deployment, the cheapest feasible becomes optimal_deployment. Reads
    /// oscarp/performance_models.json, oscarp/components_data_size.yaml and
    /// space4ai-d/SPACE4AI-D.yaml; writes space4ai-d/Output.json, the chosen deployment's
    /// production_deployment.yaml and space4ai-r/Output_max_Lambda_<deployment>.json.
    #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
    pub application_dir: Option<PathBuf>,
    /// The arrival rate (requests/s), instead of the expected_throughput annotation.
    #[arg(long, value_name = "X")]
    pub lambda: Option<f64>,
    #[command(flatten)]
    pub search: SearchArgs,
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The application directory.
    #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
    pub application_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct NewApplicationArgs {
    /// The application's name, also the name of its folder.
    #[arg(long = "application_name", visible_alias = "application-name", default_value = "ai-sprint_example_app")]
    pub application_name: String,
    /// Where to create the application folder.
    #[arg(long = "output_dir", visible_alias = "output-dir", default_value = ".", value_name = "DIR")]
    pub output_dir: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
    pub application_dir: PathBuf,
    /// Print the plan and stop (nothing is deployed).
    #[arg(long = "dry_run", visible_alias = "dry-run")]
    pub dry_run: bool,
    /// The controller's config: the campaign runs on its agents.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The agent that stands for a resource: `--agent VM1=vm-node-1` (one per resource
    /// the plan uses).
    #[arg(long = "agent", value_name = "RESOURCE=NODE", value_parser = key_value)]
    pub agents: Vec<(String, String)>,
    /// An OSCAR cluster that stands for a resource, through its REST API: `--oscar
    /// VM1=oscar-vm` (the id of an `type = OSCAR` line of --oscar_auth). Its units run
    /// from their container images (candidate_deployments.yaml).
    #[arg(long = "oscar", value_name = "RESOURCE=CLUSTER", value_parser = key_value)]
    pub oscar: Vec<(String, String)>,
    /// auth.dat with the OSCAR clusters' endpoints and credentials (`id = oscar-vm; type =
    /// OSCAR; host = https://...; username = ...; password = ...`).
    #[arg(long = "oscar_auth", visible_alias = "oscar-auth", value_name = "FILE")]
    pub oscar_auth: Option<PathBuf>,
    /// Seconds one run may wait for its jobs.
    #[arg(long = "run_timeout", visible_alias = "run-timeout", value_name = "SECONDS", default_value_t = 3600)]
    pub run_timeout: u64,
}

/// `--base` or `--optimal`: which deployment.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct WhichArgs {
    /// The base deployment (aisprint/deployments/base).
    #[arg(long)]
    pub base: bool,
    /// The optimal deployment (aisprint/deployments/optimal_deployment: base after `design`,
    /// SPACE4AI-D's choice after `space4aid`).
    #[arg(long)]
    pub optimal: bool,
}

impl WhichArgs {
    pub fn which(&self) -> Which {
        if self.base {
            Which::Base
        } else {
            Which::Optimal
        }
    }
}

/// How to reach the Infrastructure Manager.
#[derive(Debug, clap::Args)]
pub struct ImArgs {
    /// The IM's REST endpoint.
    #[arg(long = "im_url", visible_alias = "im-url", value_name = "URL", default_value = "https://im.egi.eu/im")]
    pub im_url: String,
    /// The IM credentials (one per line: `id = im; type = InfrastructureManager; username =
    /// ...; password = ...`, then the clouds'). Default: <application_dir>/im/auth.dat.
    #[arg(long = "im_auth", visible_alias = "im-auth", value_name = "FILE")]
    pub im_auth: Option<PathBuf>,
    /// Verify IM's TLS certificate. Always done; accepted for the original tool's command
    /// lines.
    #[arg(long)]
    pub verify: bool,
}

#[derive(Debug, Subcommand)]
pub enum ToscarizerCommand {
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
    /// a Docker engine is reachable; says so and exits 4 when none is.
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
        #[arg(long = "base_image", visible_alias = "base-image", value_name = "IMAGE", default_value = DEFAULT_BASE_IMAGE)]
        base_image: String,
        /// Write the contexts and containers.yaml only.
        #[arg(long = "dry_run", visible_alias = "dry-run")]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
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
    /// Convert the pickled regressors that oscarp/performance_models.json names (aMLLibrary's
    /// best.pickle, as upstream's OSCAR-P writes them, or bare scikit-learn or XGBoost models:
    /// linear models, trees, random forests, XGBoost) into JSON models that `aisprint
    /// space4aid` reads, and MLLIBfaas entries into PACSLTK ones (their warm and cold times).
    ///
    /// The pickles are loaded by a small Python helper in a process of its own, never inside
    /// aisprint: unpickling runs code the file names, so import only pickles you trust. The
    /// helper runs in --python, or in a virtual environment with scikit-learn and XGBoost
    /// that the first import creates under ~/.cache/aisprint/import-venv (from PyPI).
    ///
    /// Writes oscarp/models/imported/<unit>@<resource>.json and points the entries at them;
    /// the file as it was is kept as oscarp/performance_models.json.bak. A pickle that is
    /// missing or unreadable is an error naming its entry, and nothing is written.
    ///
    /// Example: aisprint models import --application_dir my_app --python .venv/bin/python
    Import {
        #[arg(long = "application_dir", visible_alias = "application-dir", value_name = "DIR")]
        application_dir: PathBuf,
        /// The Python that loads the pickles (with scikit-learn and xgboost installed).
        #[arg(long, value_name = "PYTHON")]
        python: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OscarCommand {
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
pub enum QosCommand {
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
pub enum RuntimeCommand {
    /// What runs where now, the change under way (and what it waits for), the last check
    /// (observed rate, response times, violations) and its decision.
    ///
    /// Example: aisprint runtime status --config controller.yaml
    Status {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The changes applied, the latest last: when, why, from and to which deployment, the
    /// cost before and after, how long each took and its current_deployment_<DATE> folder.
    History {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// What would change now and why, from a fresh observation; nothing is applied.
    Plan {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Applies the placement before the current one again, the same way as any change
    /// (services first, then routes, drains, stops).
    Rollback {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum DashboardsCommand {
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
pub enum ControllerCommand {
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
    /// Check a configuration without starting anything: everything `serve` reads and checks
    /// before it binds (controller.yaml, the certificates, the monitoring and runtime sections
    /// and the files they name). Exit status 0 when valid, 1 otherwise.
    ///
    /// Example: aisprint controller validate --config /etc/aisprint/controller.yaml
    Validate {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Check it as `serve --insecure` would take it.
        #[arg(long)]
        insecure: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Create the mesh's CA, the controller's certificate and the operator's (ca.pem, ca.key,
    /// controller.pem, controller.key, admin.pem, admin.key).
    ///
    /// The operator's certificate is what `agents list`, `oscar apply` and every other command
    /// that talks to a running controller use (controller.yaml's `admin_cert`, `admin_key`;
    /// by default admin.pem and admin.key beside `ca`). Copy it, not the controller's key, to
    /// the machines operators work from.
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
    /// Issue the certificate of an agent (<node>.pem, <node>.key), or with --admin one for an
    /// operator (admin.pem, admin.key; admin-<name>.pem with --node), signed by the CA in DIR.
    Issue {
        #[arg(long, value_name = "DIR", default_value = "certs")]
        dir: PathBuf,
        /// The agent's node id (its agent.yaml `node_id`); with --admin, the operator's name.
        #[arg(long, value_name = "NODE", required_unless_present = "admin")]
        node: Option<String>,
        /// An operator's certificate: the admin service takes it, agents' streams do not.
        #[arg(long)]
        admin: bool,
    },
    /// Revoke an agent's certificate (<node>.pem in DIR), or an operator's with --admin: the
    /// controller refuses it from its next connection (it reads DIR/revoked.txt, or
    /// controller.yaml's `revoked`, at each one). Issue a new one to let the node back in.
    Revoke {
        #[arg(long, value_name = "DIR", default_value = "certs")]
        dir: PathBuf,
        /// The agent's node id; with --admin, the operator's name (default: the one of
        /// admin.pem).
        #[arg(long, value_name = "NODE", required_unless_present = "admin")]
        node: Option<String>,
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Every agent with its layer, resource, last contact and counters.
    List {
        /// The controller's controller.yaml (its address and certificate are used).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
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
pub struct SearchArgs {
    /// Threads to search with (default 2); results are reproducible for a seed and a thread
    /// count.
    #[arg(long)]
    pub threads: Option<usize>,
    /// The random seed (overrides the config's Seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// After the heuristics, run the exact branch-and-bound: it proves the optimum, or stops
    /// at --time-limit with its best solution and a lower bound (the same as a `name: Exact`
    /// method in the config).
    #[arg(long)]
    pub exact: bool,
    /// Seconds the exact method may run (default: the Exact method's duration, else 60).
    #[arg(long = "time-limit", value_name = "SECONDS", requires = "exact")]
    pub time_limit: Option<f64>,
}

impl SearchArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            threads: self.threads,
            seed: self.seed,
            exact: self.exact.then(|| self.time_limit.map(|s| std::time::Duration::from_secs_f64(s.max(0.0)))),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Space4aidCommand {
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

/// The original TOSCARIZER's command line, when the binary is called as `toscarizer` (a link
/// to it): `toscarizer tosca ...` is `aisprint toscarizer tosca ...`.
pub fn argv() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.first().and_then(|a| std::path::Path::new(a).file_name()).is_some_and(|n| n == "toscarizer") {
        args.insert(1, "toscarizer".into());
    }
    args
}

/// `KEY=VALUE` flags (`--agent VM1=vm-node-1`): both sides trimmed, neither empty.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
            Ok((k.trim().to_string(), v.trim().to_string()))
        }
        _ => Err("expected RESOURCE=NAME (the resource's name in candidate_resources.yaml)".into()),
    }
}
