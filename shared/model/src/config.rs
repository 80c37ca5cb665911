//! The agent mesh's configuration files: `agent.yaml` (one per edge node) and
//! `controller.yaml`, with their validation. Every value is checked before anything starts;
//! errors name the file and the key.

use serde::{Deserialize, Serialize};

use crate::diag::Diagnostics;
use crate::yaml::YamlDoc;

/// The largest file a service's output may be to go to another node through the mesh (larger
/// ones need an S3 store); gRPC messages between agents and the controller may hold it, base64
/// inside a command included.
pub const SHIP_MAX_BYTES: usize = 32 << 20;

/// The largest gRPC message between agents and the controller.
pub const MESSAGE_MAX_BYTES: usize = 64 << 20;

/// The AMS host metric families the agent can collect.
pub const FAMILIES: &[&str] = &["cpu", "mem", "swap", "processes", "system", "kernel", "disk", "diskio", "net"];

/// `agent.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// The node's name in the mesh (the name its certificate carries).
    pub node_id: String,
    /// The computational layer (e.g. `computationalLayer1`) and the resource of
    /// `candidate_resources.yaml` this node stands for.
    #[serde(default)]
    pub layer: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
    pub controller: ControllerLink,
    #[serde(default)]
    pub mqtt: Option<MqttLink>,
    #[serde(default)]
    pub collection: Collection,
    pub buffer: BufferConfig,
    #[serde(default)]
    pub backfill: Backfill,
    /// QoS monitoring: the ingestion endpoint for applications' records, the constraints and
    /// alerts to check, where notifications go (absent: no ingestion, no checks).
    #[serde(default)]
    pub monitoring: Option<AgentMonitoring>,
    /// OSCAR-style services run by this agent (absent: none).
    #[serde(default)]
    pub services: Option<AgentServices>,
}

/// Services the agent runs itself: a script once per file arriving in a service's input
/// bucket (a folder), at most `max_parallelism` at a time, jobs kept durably.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentServices {
    /// FDL files (`aisprint toscarizer fdl` writes one); the services of `cluster` run here.
    /// May be empty: the controller sends services (`aisprint oscar apply`).
    #[serde(default)]
    pub fdl: Vec<String>,
    /// The FDL cluster this node is.
    pub cluster: String,
    /// The folder that holds the buckets (`<buckets>/<bucket>/<folder>`).
    pub buckets: String,
    /// The job queue (redb), job logs and temporary output folders; default: beside the buffer.
    #[serde(default)]
    pub state: Option<String>,
    /// S3-compatible stores (MinIO, Amazon S3) by the FDL storage provider they serve
    /// (`minio.<id>`, `s3.<id>`): a service's output to such a provider is uploaded there,
    /// and its input from one is fetched from there. Without an entry, a provider naming
    /// another cluster goes through the mesh, and any other is a local folder.
    #[serde(default)]
    pub s3: std::collections::BTreeMap<String, S3Store>,
}

/// One S3-compatible store. Paths are `<bucket>/<folder>`, as in the FDL.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Store {
    /// `http(s)://host:port` of a MinIO (or other S3-compatible) server; empty for Amazon S3.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default = "default_region")]
    pub region: String,
    pub access_key: String,
    /// Kept out of logs and errors.
    pub secret_key: String,
    /// How often an input folder in the store is listed for new files, in seconds.
    #[serde(default = "default_poll")]
    pub poll_s: f64,
}

fn default_region() -> String {
    "us-east-1".into()
}

fn default_poll() -> f64 {
    1.0
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("poll_s", &self.poll_s)
            .finish()
    }
}

/// The agent's part of the monitoring subsystem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentMonitoring {
    /// HTTP on loopback: JSON records (`POST /v1/records`), InfluxDB lines (`POST /write`),
    /// Prometheus text (`GET /metrics`), constraint states (`GET /v1/qos`). Default
    /// 127.0.0.1:8186 (Telegraf's HTTP listener port).
    #[serde(default = "default_ingest_http")]
    pub http: String,
    /// InfluxDB lines over UDP and TCP, for applications that send to Telegraf's socket
    /// listener (usually 127.0.0.1:8094).
    #[serde(default)]
    pub udp: Option<String>,
    #[serde(default)]
    pub tcp: Option<String>,
    /// `ams/qos_constraints_L<k>.yaml` files (or a deployment's `space4ai-d/qos_constraints.yaml`).
    #[serde(default)]
    pub qos_constraints: Vec<String>,
    /// `monitoring_setup.yaml`: period, window, default endpoint, infrastructure alerts.
    #[serde(default)]
    pub monitoring_setup: Option<String>,
    /// `custom_setup.yaml`: custom metrics and their alerts.
    #[serde(default)]
    pub custom_setup: Option<String>,
    /// Where notifications go when an alert names no endpoint (overrides the setup file's
    /// `default_notification_endpoint`), e.g. SPACE4AI-R's `http://host:5000/ams-alert`.
    #[serde(default)]
    pub notification_endpoint: Option<String>,
    /// The cluster id put on records that carry none (default: the node id).
    #[serde(default)]
    pub cluster: Option<String>,
    /// Notifications waiting for their endpoint (redb); default: beside the buffer.
    #[serde(default)]
    pub outbox: Option<String>,
}

fn default_ingest_http() -> String {
    "127.0.0.1:8186".into()
}

/// Where the controller is and how to reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerLink {
    /// `https://host:port` (mutual TLS) or, with `insecure: true`, `http://host:port`.
    pub address: String,
    /// PEM files: the mesh's CA, this node's certificate and key (`aisprint certs issue`).
    #[serde(default)]
    pub ca: Option<String>,
    #[serde(default)]
    pub cert: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    /// Plain text, no certificates: only for tests and closed networks.
    #[serde(default)]
    pub insecure: bool,
}

/// An MQTT broker to publish to (optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttLink {
    pub host: String,
    #[serde(default = "default_mqtt_port")]
    pub port: u16,
    /// Topics start with this (`aisprint/<node>/...`).
    #[serde(default = "default_prefix")]
    pub topic_prefix: String,
    /// TLS to the broker (`tls: {}`: the system's roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<MqttTls>,
    /// A username and the file holding its password (one line, kept 0600), for brokers that
    /// ask for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

/// TLS to an MQTT broker.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttTls {
    /// The CA that signed the broker's certificate (PEM; the mesh's `ca.pem` for the
    /// controller's broker); default: the system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// A client certificate and its key (PEM), for brokers that authenticate clients by
    /// certificate (the node's own from `aisprint certs issue` will do).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

fn default_mqtt_port() -> u16 {
    1883
}

fn default_prefix() -> String {
    "aisprint".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collection {
    /// Seconds between two collections (the AMS default: 20).
    #[serde(default = "default_period")]
    pub period_s: f64,
    /// Which of [`FAMILIES`] to collect (default: all).
    #[serde(default = "all_families")]
    pub families: Vec<String>,
}

impl Default for Collection {
    fn default() -> Self {
        Self { period_s: default_period(), families: all_families() }
    }
}

fn default_period() -> f64 {
    20.0
}

fn all_families() -> Vec<String> {
    FAMILIES.iter().map(|s| s.to_string()).collect()
}

/// What to do when the buffer reaches `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Delete the oldest batches (counted as dropped) to make room.
    DropOldest,
    /// Keep what is buffered and skip collections (counted) until there is room.
    StopCollecting,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferConfig {
    /// The buffer file (redb).
    pub path: String,
    /// Batches kept at most, in bytes of encoded batches (default 256 MiB).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    #[serde(default = "default_when_full")]
    pub when_full: WhenFull,
    /// The store's page cache (default 16 MiB).
    #[serde(default = "default_cache")]
    pub cache_bytes: u64,
}

fn default_max_bytes() -> u64 {
    256 << 20
}

fn default_when_full() -> WhenFull {
    WhenFull::DropOldest
}

fn default_cache() -> u64 {
    16 << 20
}

/// Replay of buffered batches after an outage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backfill {
    /// Replayed batches per second at most, per sink (live batches go first).
    #[serde(default = "default_backfill_rate")]
    pub batches_per_second: f64,
}

impl Default for Backfill {
    fn default() -> Self {
        Self { batches_per_second: default_backfill_rate() }
    }
}

fn default_backfill_rate() -> f64 {
    200.0
}

/// Checks an agent configuration.
pub fn validate_agent(doc: &YamlDoc<AgentConfig>) -> Diagnostics {
    let mut out = Diagnostics::new();
    let c = &doc.value;
    if !valid_name(&c.node_id) {
        out.push(doc.error(
            "node_id",
            format!("`{}`: use letters, digits, `-`, `_` and `.` (not first) (1 to 64 characters)", c.node_id),
        ));
    }
    check_address(doc, &mut out, "controller.address", &c.controller.address, c.controller.insecure);
    if !c.controller.insecure {
        for (k, v) in [("ca", &c.controller.ca), ("cert", &c.controller.cert), ("key", &c.controller.key)] {
            if v.as_deref().is_none_or(str::is_empty) {
                out.push(doc.error(
                    format!("controller.{k}"),
                    "missing: mutual TLS needs the CA, the node's certificate and its key (`aisprint certs issue --node <id>`), or set `insecure: true`",
                ));
            }
        }
    }
    if let Some(m) = &c.mqtt {
        validate_mqtt(doc, m, &mut out);
    }
    if !(c.collection.period_s >= 0.05 && c.collection.period_s <= 86_400.0) {
        out.push(doc.error(
            "collection.period_s",
            format!("{} s: expected a period between 0.05 s and one day", c.collection.period_s),
        ));
    }
    for (i, f) in c.collection.families.iter().enumerate() {
        if !FAMILIES.contains(&f.as_str()) {
            out.push(doc.error(
                format!("collection.families[{i}]"),
                format!("unknown family `{f}`; known: {}", FAMILIES.join(", ")),
            ));
        }
    }
    if c.buffer.path.trim().is_empty() {
        out.push(doc.error("buffer.path", "empty"));
    }
    if c.buffer.max_bytes < 64 << 10 {
        out.push(doc.error("buffer.max_bytes", format!("{} bytes: at least 65536", c.buffer.max_bytes)));
    }
    if c.buffer.cache_bytes < 1 << 20 {
        out.push(doc.error("buffer.cache_bytes", format!("{} bytes: at least 1 MiB", c.buffer.cache_bytes)));
    }
    if !(c.backfill.batches_per_second > 0.0) {
        out.push(doc.error("backfill.batches_per_second", "must be positive"));
    }
    if let Some(m) = &c.monitoring {
        for (k, v) in [("http", Some(&m.http)), ("udp", m.udp.as_ref()), ("tcp", m.tcp.as_ref())] {
            let Some(v) = v else { continue };
            match v.parse::<std::net::SocketAddr>() {
                Err(_) => out.push(doc.error(
                    format!("monitoring.{k}"),
                    format!("`{v}`: expected an address and port, e.g. 127.0.0.1:8186"),
                )),
                Ok(a) if !a.ip().is_loopback() => out.push(doc.warning(
                    format!("monitoring.{k}"),
                    format!("`{v}` is not a loopback address: anyone who reaches it can report records (there is no authentication)"),
                )),
                Ok(_) => {}
            }
        }
        if let Some(u) = &m.notification_endpoint {
            if !crate::url::is_http_url(u) {
                out.push(
                    doc.error(
                        "monitoring.notification_endpoint",
                        format!("`{u}`: expected an http:// or https:// URL"),
                    ),
                );
            }
        }
    }
    if let Some(s) = &c.services {
        if !valid_name(&s.cluster) {
            out.push(doc.error(
                "services.cluster",
                format!("`{}`: the FDL cluster this node is (letters, digits, `-`, `_`, `.`)", s.cluster),
            ));
        }
        if s.buckets.trim().is_empty() {
            out.push(doc.error("services.buckets", "empty: the folder that holds the buckets"));
        }
        for (name, st) in &s.s3 {
            let key = format!("services.s3.{name}");
            let provider_ok = name
                .split_once('.')
                .is_some_and(|(kind, id)| matches!(kind, "minio" | "s3") && !id.is_empty() && valid_name(id));
            if !provider_ok {
                out.push(
                    doc.error(&key, format!("`{name}`: expected an FDL storage provider, `minio.<id>` or `s3.<id>`")),
                );
            }
            if let Some(e) = &st.endpoint {
                if !(e.starts_with("http://") || e.starts_with("https://")) || e.len() <= "https://".len() {
                    out.push(doc.error(format!("{key}.endpoint"), format!("`{e}`: expected http(s)://host:port")));
                }
            }
            if st.access_key.is_empty() || st.secret_key.is_empty() {
                out.push(doc.error(&key, "access_key and secret_key: both needed"));
            }
            if !(st.poll_s.is_finite() && (0.05..=86_400.0).contains(&st.poll_s)) {
                out.push(
                    doc.error(format!("{key}.poll_s"), format!("{}: expected seconds, from 0.05 to 86400", st.poll_s)),
                );
            }
        }
    }
    out
}

/// `controller.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerConfig {
    /// `host:port` to serve agents on.
    pub listen: String,
    /// PEM files: the mesh's CA (to check agents), the controller's certificate and key.
    #[serde(default)]
    pub ca: Option<String>,
    #[serde(default)]
    pub cert: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    /// Plain text, no certificates: only for tests and closed networks.
    #[serde(default)]
    pub insecure: bool,
    /// The operator's certificate and key (`aisprint certs issue --admin`), for the commands
    /// that talk to a running controller; default: admin.pem and admin.key beside `ca`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_key: Option<String>,
    /// Revoked certificates (`aisprint certs revoke`), read at each connection; default:
    /// revoked.txt beside `ca` (none when it does not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
    /// The controller's state (redb).
    pub state: String,
    /// Hours metric batches are kept (default one week).
    #[serde(default = "default_retention")]
    pub retention_hours: f64,
    /// An MQTT broker for the agents, embedded in the controller (for a mesh without one of
    /// its own; agents name it in their `mqtt` section).
    #[serde(default)]
    pub mqtt_broker: Option<EmbeddedBroker>,
    /// QoS monitoring across nodes: global constraints whose components run on different
    /// nodes, checked from the records the agents replicate; `/metrics` for Prometheus.
    #[serde(default)]
    pub monitoring: Option<ControllerMonitoring>,
    /// SPACE4AI-R: the application the controller keeps placed as the load changes.
    #[serde(default)]
    pub runtime: Option<RuntimeSection>,
}

/// `runtime:` of `controller.yaml` (SPACE4AI-R).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeSection {
    /// The application directory, designed (`aisprint design`) and placed (`aisprint space4aid`).
    pub application_dir: String,
    /// The design deployment running at start; default: the one `optimal_deployment` names.
    #[serde(default)]
    pub deployment: Option<String>,
    /// The agent standing for each resource (`resource: node id`); a resource not named here
    /// is run by a connected agent that registered with it (its agent.yaml `resource`).
    #[serde(default)]
    pub agents: std::collections::BTreeMap<String, String>,
    /// Seconds between periodic checks (the reference checks every two minutes).
    #[serde(default = "default_runtime_period")]
    pub period_s: f64,
    /// Seconds after a change before a scale-in may follow.
    #[serde(default = "default_cooldown")]
    pub cooldown_s: f64,
    /// Seconds after a change before another, unless a constraint is still violated.
    #[serde(default = "default_dwell")]
    pub min_dwell_s: f64,
    /// Seconds of arrivals and finished jobs each observation looks back on.
    #[serde(default = "default_window")]
    pub window_s: f64,
    /// Decide and record, never apply.
    #[serde(default)]
    pub dry_run: bool,
    /// The Infrastructure Manager that built the deployment's virtual machines (`aisprint
    /// toscarizer deploy`): a virtual layer that scales gets VMs added or removed there.
    /// Without it, a scale changes the services' parallelism only.
    #[serde(default)]
    pub im: Option<RuntimeIm>,
}

/// `runtime.im:` where the virtual layers' machines are added and removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeIm {
    /// IM's REST endpoint (`https://im.egi.eu/im`).
    pub url: String,
    /// auth.dat, relative to the application directory; default `im/auth.dat`.
    #[serde(default)]
    pub auth: Option<String>,
    /// Take new VMs that IM leaves `unconfigured` (a configuration step failed) as ready.
    #[serde(default)]
    pub allow_unconfigured: bool,
    /// Seconds new VMs have to be configured before the change waits and tries again.
    #[serde(default = "default_im_timeout")]
    pub timeout_s: f64,
}

fn default_im_timeout() -> f64 {
    900.0
}

fn default_runtime_period() -> f64 {
    120.0
}

fn default_cooldown() -> f64 {
    60.0
}

fn default_dwell() -> f64 {
    30.0
}

fn default_window() -> f64 {
    30.0
}

impl RuntimeSection {
    /// Every problem of the section, keys under `runtime.`.
    fn validate(&self, doc: &YamlDoc<ControllerConfig>, out: &mut Diagnostics) {
        if self.application_dir.trim().is_empty() {
            out.push(doc.error("runtime.application_dir", "empty: the application directory SPACE4AI-R keeps placed"));
        }
        for (k, v, lo) in [
            ("period_s", self.period_s, 0.1),
            ("cooldown_s", self.cooldown_s, 0.0),
            ("min_dwell_s", self.min_dwell_s, 0.0),
            ("window_s", self.window_s, 0.1),
        ] {
            if !(v.is_finite() && v >= lo && v <= 86_400.0) {
                out.push(doc.error(format!("runtime.{k}"), format!("{v}: expected seconds between {lo} and 86400")));
            }
        }
        if let Some(im) = &self.im {
            let u = &im.url;
            if !(u.starts_with("http://") || u.starts_with("https://")) || u.len() <= "https://".len() {
                out.push(doc.error("runtime.im.url", format!("`{u}`: expected an http:// or https:// URL")));
            }
            if !(im.timeout_s.is_finite() && im.timeout_s >= 1.0 && im.timeout_s <= 86_400.0) {
                out.push(
                    doc.error(
                        "runtime.im.timeout_s",
                        format!("{}: expected seconds between 1 and 86400", im.timeout_s),
                    ),
                );
            }
            if im.auth.as_deref().is_some_and(|a| a.trim().is_empty()) {
                out.push(doc.error("runtime.im.auth", "empty: the path of auth.dat (default im/auth.dat)"));
            }
        }
        for (resource, node) in &self.agents {
            if !valid_name(node) {
                out.push(doc.error(
                    format!("runtime.agents.{resource}"),
                    format!("`{node}`: expected a node id (letters, digits, `-`, `_`, `.`)"),
                ));
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerMonitoring {
    /// QoS files with the constraints to check (a deployment's
    /// `space4ai-d/qos_constraints.yaml` or its `ams/qos_constraints_L<k>.yaml`): only the global
    /// constraints whose components were seen on more than one node are checked here.
    #[serde(default)]
    pub qos_constraints: Vec<String>,
    /// `monitoring_setup.yaml`: period, window and default endpoint.
    #[serde(default)]
    pub monitoring_setup: Option<String>,
    /// Where notifications go (overrides the setup file's default endpoint).
    #[serde(default)]
    pub notification_endpoint: Option<String>,
    /// `host:port` for Prometheus (`GET /metrics`).
    #[serde(default)]
    pub http: Option<String>,
    /// Notifications waiting for their endpoint (redb); default: beside the state.
    #[serde(default)]
    pub outbox: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddedBroker {
    /// `host:port` to listen on (MQTT 3.1.1).
    pub listen: String,
    /// TLS with the controller's own certificate (`cert`, `key`); agents name the mesh's
    /// `ca.pem` in their `mqtt.tls.ca`.
    #[serde(default)]
    pub tls: bool,
    /// A file of `name:password` lines (kept 0600): every client logs in as one of them, and
    /// an agent's client id is taken only by the user of its node's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<String>,
}

fn default_retention() -> f64 {
    168.0
}

/// The `mqtt` section of agent.yaml.
fn validate_mqtt(doc: &YamlDoc<AgentConfig>, m: &MqttLink, out: &mut Diagnostics) {
    if m.host.trim().is_empty() {
        out.push(doc.error("mqtt.host", "empty"));
    }
    if m.topic_prefix.is_empty() || m.topic_prefix.contains(['#', '+']) {
        out.push(doc.error("mqtt.topic_prefix", "must be non-empty and without MQTT wildcards (`#`, `+`)"));
    }
    if let Some(t) = &m.tls {
        if t.cert.is_some() != t.key.is_some() {
            let k = if t.cert.is_some() { "mqtt.tls.key" } else { "mqtt.tls.cert" };
            out.push(doc.error(k, "missing: a client certificate needs both `cert` and `key`"));
        }
    }
    if m.username.is_some() != m.password_file.is_some() {
        let k = if m.username.is_some() { "mqtt.password_file" } else { "mqtt.username" };
        out.push(doc.error(k, "missing: broker authentication needs both `username` and `password_file`"));
    }
    if m.username.is_some() && m.tls.is_none() {
        out.push(doc.warning(
            "mqtt.username",
            "the password goes to the broker in plain text without `tls` (anyone on the path can read it)",
        ));
    }
}

/// Checks a controller configuration.
pub fn validate_controller(doc: &YamlDoc<ControllerConfig>) -> Diagnostics {
    let mut out = Diagnostics::new();
    let c = &doc.value;
    if c.listen.parse::<std::net::SocketAddr>().is_err() {
        out.push(doc.error("listen", format!("`{}`: expected an address and port, e.g. 127.0.0.1:7443", c.listen)));
    }
    if !c.insecure {
        for (k, v) in [("ca", &c.ca), ("cert", &c.cert), ("key", &c.key)] {
            if v.as_deref().is_none_or(str::is_empty) {
                out.push(doc.error(
                    k,
                    "missing: mutual TLS needs the CA, the controller's certificate and its key (`aisprint certs init`), or set `insecure: true`",
                ));
            }
        }
    }
    if c.state.trim().is_empty() {
        out.push(doc.error("state", "empty"));
    }
    if !(c.retention_hours > 0.0 && c.retention_hours <= 87_600.0) {
        out.push(
            doc.error("retention_hours", format!("{}: expected hours between 0 and ten years", c.retention_hours)),
        );
    }
    if let Some(m) = &c.monitoring {
        if let Some(h) = &m.http {
            if h.parse::<std::net::SocketAddr>().is_err() {
                out.push(
                    doc.error("monitoring.http", format!("`{h}`: expected an address and port, e.g. 127.0.0.1:9464")),
                );
            }
        }
        if let Some(u) = &m.notification_endpoint {
            if !crate::url::is_http_url(u) {
                out.push(
                    doc.error(
                        "monitoring.notification_endpoint",
                        format!("`{u}`: expected an http:// or https:// URL"),
                    ),
                );
            }
        }
    }
    if let Some(r) = &c.runtime {
        r.validate(doc, &mut out);
    }
    if let Some(b) = &c.mqtt_broker {
        match b.listen.parse::<std::net::SocketAddr>() {
            Err(_) => out.push(doc.error(
                "mqtt_broker.listen",
                format!("`{}`: expected an address and port, e.g. 127.0.0.1:1883", b.listen),
            )),
            Ok(a) if !(a.ip().is_loopback() || b.tls && b.users.is_some()) => out.push(doc.warning(
                "mqtt_broker.listen",
                format!(
                    "`{}` is reachable from other machines: without `tls: true` and `users` anyone there can read every node's metrics, publish a fake status, or knock an agent off",
                    b.listen
                ),
            )),
            Ok(_) => {}
        }
        if b.tls && (c.insecure || c.cert.is_none() || c.key.is_none()) {
            out.push(
                doc.error("mqtt_broker.tls", "TLS uses the controller's `cert` and `key`: set them (not `insecure`)"),
            );
        }
    }
    out
}

/// A node id, as used in certificates, topics and keys.
pub fn valid_name(s: &str) -> bool {
    // Names become folder and file names: `.`, `..` and hidden names are refused.
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('.')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn check_address<T>(doc: &YamlDoc<T>, out: &mut Diagnostics, key: &str, addr: &str, insecure: bool) {
    let (scheme, rest) = addr.split_once("://").unwrap_or(("", addr));
    let want = if insecure { "http" } else { "https" };
    if scheme != want {
        out.push(doc.error(
            key,
            format!(
                "`{addr}`: expected {want}://host:port{}",
                if insecure { " (insecure: true)" } else { " (mutual TLS; http only with insecure: true)" }
            ),
        ));
        return;
    }
    let hostport = rest.trim_end_matches('/');
    let ok = hostport.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
    if !ok {
        out.push(doc.error(key, format!("`{addr}`: expected {want}://host:port")));
    }
}

/// A commented `agent.yaml` to start from.
pub fn agent_template(node_id: &str) -> String {
    format!(
        r#"# aisprint-agent configuration (aisprint-agent validate --config agent.yaml checks it).
# The node's name in the mesh: its certificate must carry the same name.
node_id: {node_id}
# The computational layer and resource of candidate_resources.yaml this node stands for.
layer: computationalLayer1
resource: RaspPi
controller:
  # https (mutual TLS) or, with insecure: true, http.
  address: https://127.0.0.1:7443
  # From `aisprint certs init` and `aisprint certs issue --node {node_id}`.
  ca: certs/ca.pem
  cert: certs/{node_id}.pem
  key: certs/{node_id}.key
  insecure: false
# An MQTT broker to publish metrics to as well (remove to use only the controller).
# mqtt:
#   host: 127.0.0.1
#   port: 1883
#   topic_prefix: aisprint
#   # TLS and a login (docs/mqtt.md), for a broker reached over a network:
#   tls: {{ca: ca.pem}}
#   username: {node_id}
#   password_file: mqtt.pw
collection:
  # Seconds between collections (the AMS default).
  period_s: 20
  families: [{families}]
buffer:
  # Batches are stored here before they are sent, and kept until every sink confirmed them.
  path: /var/lib/aisprint-agent/buffer.redb
  # At most this many bytes of batches; when full: drop_oldest or stop_collecting.
  max_bytes: 268435456
  when_full: drop_oldest
backfill:
  # After an outage, replayed batches per second at most (live batches go first).
  batches_per_second: 200
# QoS monitoring (docs/monitoring.md): the endpoint components report to (the aisprint Python
# package), the constraints and alerts checked here, where notifications go.
# monitoring:
#   http: 127.0.0.1:8186
#   udp: 127.0.0.1:8094
#   qos_constraints: [app/aisprint/deployments/optimal_deployment/ams/qos_constraints_L1.yaml]
#   monitoring_setup: monitoring_setup.yaml
#   custom_setup: custom_setup.yaml
#   notification_endpoint: http://127.0.0.1:5000/ams-alert
"#,
        families = FAMILIES.join(", ")
    )
}
