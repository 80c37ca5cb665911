//! The TOSCARIZER's documents: one TOSCA document per component of a deployment, for the
//! Infrastructure Manager (IM), shaped by the type of the component's computational layer:
//!
//! - `Virtual`: a new Kubernetes + OSCAR + MinIO cluster (front node, its block storage, the
//!   worker nodes sized from the resource, `totalNodes` of them) and the component's service.
//! - `PhysicalToBeProvisioned`: the same cluster on existing machines reached over SSH (the
//!   addresses and keys of `physical_nodes.yaml`).
//! - `PhysicalAlreadyProvisioned`: only the service, on the OSCAR cluster `physical_nodes.yaml`
//!   names (IM reaches it with the `OSCAR` credential of auth.dat).
//! - `NativeCloudFunction`: a Lambda-style function reading and writing its S3 bucket.
//!
//! Services chain through buckets: a component reads `<previous>/output` from its own
//! storage and writes `<itself>/output` to the storage of each next component (on the next
//! component's cluster when that is another one); a component without successors, or whose
//! successors take less than all of its output, also keeps `<itself>/output` at home.
//!
//! The documents declare the node types they use ([`TYPES`]) so that IM needs no remote
//! import. Secrets (tokens, passwords) are drawn from the caller's random source: this
//! module does no IO.

pub mod fdl;
pub mod scone;

use serde_yaml::{Mapping, Value};

use crate::app::physical::{PhysicalNodes, PhysicalResource};
use crate::app::resources::{LayerType, Resource};
use crate::diag::{Diagnostic, Diagnostics};

/// The node, capability and data types of the generated documents (YAML), with
/// `@ARTIFACTS@` standing for the artifacts location.
pub const TYPES: &str = include_str!("types.yaml");

/// Where the configuration recipes of the node types are fetched by IM by default: the
/// original tools' artifacts.
pub const DEFAULT_ARTIFACTS_URL: &str = "https://raw.githubusercontent.com/grycap/ec3/tosca/tosca/artifacts/";

/// The DNS domain of the clusters when none is given (the original tool's default).
pub const DEFAULT_DOMAIN: &str = "im.grycap.net";

/// Random secrets are this long, from `[a-z0-9]`.
pub const SECRET_LEN: usize = 16;

/// One component placed on a resource.
#[derive(Debug, Clone)]
pub struct Placement<'a> {
    /// The component's name in the DAG (`blurry-faces-onnx`, `blurry-faces-onnx_partition1_1`).
    pub component: String,
    pub image: String,
    /// MiB.
    pub memory: f64,
    pub cpu: f64,
    pub trusted_execution: bool,
    pub gpu: bool,
    pub resource: &'a Resource,
    /// The resource's key in its layer (`resource1`).
    pub resource_key: String,
    pub layer_type: LayerType,
    pub layer_number: u32,
}

/// The options of `toscarizer tosca`.
#[derive(Debug, Clone)]
pub struct Options {
    pub domain: String,
    /// `--elastic N`: at most N worker nodes, powered on and off on demand (0: fixed size).
    pub elastic: u32,
    pub artifacts_url: String,
    /// The IM authorization (auth.dat lines joined by `\n`), needed by `--elastic` only.
    pub im_auth: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self { domain: DEFAULT_DOMAIN.into(), elastic: 0, artifacts_url: DEFAULT_ARTIFACTS_URL.into(), im_auth: None }
    }
}

/// One generated document.
#[derive(Debug, Clone)]
pub struct Document {
    pub component: String,
    /// The OSCAR cluster the component's service runs on (the FDL's key).
    pub cluster: String,
    pub layer_type: LayerType,
    pub text: String,
}

/// Where a component's service lives, decided for every component before any document is
/// written (a producer needs its consumers' clusters and credentials).
#[derive(Debug, Clone)]
struct Site {
    cluster: String,
    kind: SiteKind,
}

#[derive(Debug, Clone)]
enum SiteKind {
    /// A cluster IM builds: its MinIO is reached by DNS name with a password of this run.
    Built { minio_password: String, admin_token: String, oscar_password: String },
    /// An existing OSCAR cluster and its MinIO.
    Existing { endpoint: String, access_key: String, secret_key: String },
    /// A FaaS function and its bucket.
    Lambda { bucket: String, region: String, access_key: String, secret_key: String },
}

/// The cluster a generated document builds or deploys to (its `cluster_name` input).
pub fn cluster_of(text: &str) -> Option<String> {
    let v: Value = serde_yaml::from_str(text).ok()?;
    v["topology_template"]["inputs"]["cluster_name"]["default"].as_str().map(str::to_string)
}

/// The secret values a generated document carries (passwords, tokens, keys), to keep out of
/// messages that might echo the document.
pub fn secrets_in(text: &str) -> Vec<String> {
    const KEYS: &[&str] =
        &["secret_key", "access_key", "token", "password", "im_auth", "minio_secretkey", "kube_token"];
    const INPUTS: &[&str] = &["admin_token", "oscar_password", "minio_password"];
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Mapping(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        (Some(k), Value::String(t)) if KEYS.contains(&k) => out.push(t.clone()),
                        _ => walk(x, out),
                    }
                }
            }
            Value::Sequence(l) => l.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let Ok(v) = serde_yaml::from_str::<Value>(text) else { return Vec::new() };
    let mut out = Vec::new();
    for i in INPUTS {
        if let Some(t) = v["topology_template"]["inputs"][*i]["default"].as_str() {
            out.push(t.to_string());
        }
    }
    walk(&v, &mut out);
    out.sort();
    out.dedup();
    out
}

/// The name of a service: OSCAR names are DNS labels.
pub fn service_name(component: &str) -> String {
    component.replace('_', "-")
}

/// `oscar-cluster-` and 8 random characters.
fn cluster_name(rand: &mut dyn FnMut(usize) -> String) -> String {
    format!("oscar-cluster-{}", rand(8))
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn map(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(s(k), v);
    }
    Value::Mapping(m)
}

fn input(name: &str) -> Value {
    map(vec![("get_input", s(name))])
}

fn concat(parts: Vec<Value>) -> Value {
    map(vec![("concat", Value::Sequence(parts))])
}

fn attr(parts: &[&str]) -> Value {
    let seq =
        parts.iter().map(|p| p.parse::<u64>().map(|n| Value::Number(n.into())).unwrap_or_else(|_| s(p))).collect();
    map(vec![("get_attribute", Value::Sequence(seq))])
}

fn num(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        Value::Number((v as i64).into())
    } else {
        Value::Number(v.into())
    }
}

fn typed_input(kind: &str, default: Value) -> Value {
    map(vec![("type", s(kind)), ("default", default)])
}

/// Writes a number of MB (or GB) the way TOSCA sizes are written.
fn size(v: f64, unit: &str) -> Value {
    let n = if v.fract() == 0.0 { format!("{}", v as i64) } else { format!("{v}") };
    s(&format!("{n} {unit}"))
}

/// The storage size of a resource in GB (`450`, `"450"` or `"450 GB"`).
fn storage_gb(r: &Resource) -> Option<f64> {
    let v = r.storage_size.as_ref()?;
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(t) => {
            let t = t.trim();
            let t = t.strip_suffix("GB").unwrap_or(t).trim();
            t.parse().ok()
        }
        _ => None,
    }
}

/// The physical description of a resource.
pub fn physical_of<'a>(phys: Option<&'a PhysicalNodes>, layer: u32, resource: &str) -> Option<&'a PhysicalResource> {
    phys?
        .computational_layers
        .values()
        .filter(|l| l.number == layer)
        .flat_map(|l| l.resources.values())
        .find(|r| r.name == resource)
}

/// Generates the documents of a deployment: one per placement, in `placements` order.
/// `edges` are the DAG's dependencies `(from, to, probability)`; `rand(n)` gives `n` random
/// characters from `[a-z0-9]`.
pub fn generate(
    placements: &[Placement<'_>],
    edges: &[(String, String, f64)],
    physical: Option<&PhysicalNodes>,
    opts: &Options,
    rand: &mut dyn FnMut(usize) -> String,
) -> Result<Vec<Document>, Diagnostics> {
    let phys_file = crate::app::paths::PHYSICAL_NODES;
    let mut diags = Diagnostics::new();
    let mut sites: Vec<Site> = Vec::new();
    for p in placements {
        let r = &p.resource.name;
        let needs_phys = !matches!(p.layer_type, LayerType::Virtual);
        let ph = physical_of(physical, p.layer_number, r);
        let missing = |what: &str| {
            Diagnostic::error(
                phys_file,
                "ComputationalLayers",
                format!(
                    "component `{}` runs on resource `{r}` of layer {} ({:?}), and the file does not describe it: add a resource with `name: {r}` and {what} under the layer with `number: {}`",
                    p.component, p.layer_number, p.layer_type, p.layer_number
                ),
            )
        };
        if p.layer_type == LayerType::Virtual && p.resource.os_image_id.as_deref().is_none_or(|i| i.trim().is_empty()) {
            diags.push(Diagnostic::error(
                crate::app::paths::RESOURCES,
                format!("resource {r}.operatingSystemImageId"),
                format!("missing: the virtual machines of component `{}` need an image (`aws://<region>/<ami>`, `ost://<site>/<id>`, ...)", p.component),
            ));
        }
        let kind = match p.layer_type {
            LayerType::Virtual | LayerType::PhysicalToBeProvisioned => {
                if needs_phys && ph.and_then(|x| x.fe_node.as_ref()).is_none() {
                    diags.push(missing("`fe_node` and `wns` (the machines, reached over SSH)"));
                }
                SiteKind::Built {
                    minio_password: rand(SECRET_LEN),
                    admin_token: rand(SECRET_LEN),
                    oscar_password: rand(SECRET_LEN),
                }
            }
            LayerType::PhysicalAlreadyProvisioned => match ph.and_then(|x| x.minio.as_ref().zip(x.oscar.as_ref())) {
                Some((m, o)) => {
                    sites.push(Site {
                        cluster: o.name.clone(),
                        kind: SiteKind::Existing {
                            endpoint: m.endpoint.clone(),
                            access_key: m.access_key.expose().to_string(),
                            secret_key: m.secret_key.expose().to_string(),
                        },
                    });
                    continue;
                }
                None => {
                    diags.push(missing("`oscar: {name}` and `minio: {endpoint, access_key, secret_key}`"));
                    SiteKind::Existing { endpoint: String::new(), access_key: String::new(), secret_key: String::new() }
                }
            },
            LayerType::NativeCloudFunction => match ph.and_then(|x| x.aws.as_ref()) {
                Some(a) => SiteKind::Lambda {
                    bucket: a.bucket.clone(),
                    region: a.region.clone().unwrap_or_else(|| "us-east-1".into()),
                    access_key: a.access_key.as_ref().map(|k| k.expose().to_string()).unwrap_or_default(),
                    secret_key: a.secret_key.as_ref().map(|k| k.expose().to_string()).unwrap_or_default(),
                },
                None => {
                    diags.push(missing("`aws: {bucket, region, access_key, secret_key}`"));
                    SiteKind::Lambda {
                        bucket: String::new(),
                        region: String::new(),
                        access_key: String::new(),
                        secret_key: String::new(),
                    }
                }
            },
        };
        if p.layer_type == LayerType::PhysicalToBeProvisioned {
            let wns = ph.and_then(|x| x.wns.as_ref()).map_or(0, Vec::len);
            let want = p.resource.total_nodes.unwrap_or(1) as usize;
            if ph.is_some() && wns < want {
                diags.push(Diagnostic::error(
                    phys_file,
                    "ComputationalLayers",
                    format!("resource `{r}` needs {want} worker node(s) (`totalNodes`) and `wns` lists {wns}"),
                ));
            }
        }
        sites.push(Site { cluster: cluster_name(rand), kind });
    }
    if opts.elastic > 0 && opts.im_auth.is_none() {
        diags.push(Diagnostic::error(
            "im/auth.dat",
            "",
            "`--elastic` needs the IM credentials (im/auth.dat) for the cluster's power manager",
        ));
    }
    if diags.has_errors() {
        return Err(diags);
    }
    let mut docs = Vec::new();
    for (i, p) in placements.iter().enumerate() {
        let service = service_node(placements, &sites, i, edges, &opts.domain);
        let text = match p.layer_type {
            LayerType::Virtual | LayerType::PhysicalToBeProvisioned => {
                cluster_doc(p, &sites[i], service, opts, physical_of(physical, p.layer_number, &p.resource.name))
            }
            LayerType::PhysicalAlreadyProvisioned => service_doc(p, &sites[i], service, true, opts),
            LayerType::NativeCloudFunction => service_doc(p, &sites[i], service, false, opts),
        };
        docs.push(Document {
            component: p.component.clone(),
            cluster: sites[i].cluster.clone(),
            layer_type: p.layer_type,
            text,
        });
    }
    Ok(docs)
}

/// The storage provider a producer uses to write into `to`'s storage, and the bucket path.
fn provider_to(from: &Site, to: &Site, producer: &str) -> (String, String) {
    let path = format!("{}/output", service_name(producer));
    match (&from.kind, &to.kind) {
        (SiteKind::Lambda { .. }, SiteKind::Lambda { bucket, .. }) if from.cluster == to.cluster => {
            ("s3".into(), format!("{bucket}/{path}"))
        }
        (_, SiteKind::Lambda { bucket, .. }) => (format!("s3.{}", to.cluster), format!("{bucket}/{path}")),
        _ if from.cluster == to.cluster => ("minio".into(), path),
        _ => (format!("minio.{}", to.cluster), path),
    }
}

fn home_provider(site: &Site, bucket_path: &str) -> (String, String) {
    match &site.kind {
        SiteKind::Lambda { bucket, .. } => ("s3".into(), format!("{bucket}/{bucket_path}")),
        _ => ("minio".into(), bucket_path.to_string()),
    }
}

/// The credentials another component needs to write into `site`'s storage.
fn provider_entry(site: &Site, domain: &str) -> (&'static str, Value) {
    match &site.kind {
        SiteKind::Built { minio_password, .. } => (
            "minio",
            map(vec![
                ("endpoint", s(&format!("https://minio.{}.{domain}", site.cluster))),
                ("access_key", s("minio")),
                ("secret_key", s(minio_password)),
                ("region", s("us-east-1")),
            ]),
        ),
        SiteKind::Existing { endpoint, access_key, secret_key } => (
            "minio",
            map(vec![
                ("endpoint", s(endpoint)),
                ("access_key", s(access_key)),
                ("secret_key", s(secret_key)),
                ("region", s("us-east-1")),
            ]),
        ),
        SiteKind::Lambda { region, access_key, secret_key, .. } => {
            ("s3", map(vec![("access_key", s(access_key)), ("secret_key", s(secret_key)), ("region", s(region))]))
        }
    }
}

/// The service node of a component and its name.
fn service_node(
    placements: &[Placement<'_>],
    sites: &[Site],
    me: usize,
    edges: &[(String, String, f64)],
    domain: &str,
) -> (String, Value) {
    let p = &placements[me];
    let site = &sites[me];
    let index = |c: &str| placements.iter().position(|x| x.component == c);
    let io = |(prov, path): (String, String)| map(vec![("storage_provider", s(&prov)), ("path", s(&path))]);
    let mut input = Vec::new();
    for e in edges.iter().filter(|e| e.1 == p.component) {
        if index(&e.0).is_some() {
            input.push(io(home_provider(site, &format!("{}/output", service_name(&e.0)))));
        }
    }
    if input.is_empty() {
        input.push(io(home_provider(site, &format!("{}/input", service_name(&p.component)))));
    }
    let mut output = Vec::new();
    let mut providers: Vec<(String, &'static str, Value)> = Vec::new();
    let mut weight = 0.0;
    let mut any_succ = false;
    for e in edges.iter().filter(|e| e.0 == p.component) {
        let Some(j) = index(&e.1) else { continue };
        any_succ = true;
        weight += e.2;
        let (prov, path) = provider_to(site, &sites[j], &p.component);
        let out = io((prov.clone(), path));
        if !output.contains(&out) {
            output.push(out);
        }
        if prov.contains('.') && !providers.iter().any(|(c, _, _)| *c == sites[j].cluster) {
            let (kind, entry) = provider_entry(&sites[j], domain);
            providers.push((sites[j].cluster.clone(), kind, entry));
        }
    }
    if !any_succ || weight < 1.0 - 1e-9 {
        let out = io(home_provider(site, &format!("{}/output", service_name(&p.component))));
        if !output.contains(&out) {
            output.push(out);
        }
    }
    let mut props = vec![
        ("name", s(&service_name(&p.component))),
        ("image", s(&p.image)),
        ("script", s(&format!("/opt/{}/script.sh", p.component))),
        ("memory", s(&format!("{}Mi", p.memory.round() as i64))),
        ("cpu", Value::Number(p.cpu.into())), // a float: the type says so
        (
            "env_variables",
            map(vec![
                ("COMPONENT_NAME", s(&p.component)),
                ("RESOURCE_ID", s(&p.resource.name)),
                ("KCI", s(&site.cluster)),
            ]),
        ),
        ("input", Value::Sequence(input)),
        ("output", Value::Sequence(output)),
    ];
    if !providers.is_empty() {
        let mut by_kind = Mapping::new();
        for (cluster, kind, entry) in providers {
            let slot = by_kind.entry(s(kind)).or_insert_with(|| Value::Mapping(Mapping::new()));
            if let Value::Mapping(m) = slot {
                m.insert(s(&cluster), entry);
            }
        }
        props.push(("storage_providers", Value::Mapping(by_kind)));
    }
    if p.trusted_execution {
        props.push(("enable_sgx", Value::Bool(true)));
    }
    if p.gpu {
        props.push(("enable_gpu", Value::Bool(true)));
    }
    let name = match p.layer_type {
        LayerType::NativeCloudFunction => format!("lambda_function_{}", p.component),
        _ => format!("oscar_service_{}", p.component),
    };
    let mut node = vec![("type", s("tosca.nodes.aisprint.FaaS.Function")), ("properties", map(props))];
    if matches!(site.kind, SiteKind::Built { .. }) {
        node.push(("requirements", Value::Sequence(vec![map(vec![("host", s("oscar"))])])));
    }
    (name, map(node))
}

/// The common head of every document: version, description, metadata and the types.
fn head(description: &str, component: &str, artifacts_url: &str) -> Mapping {
    let mut doc = Mapping::new();
    doc.insert(s("tosca_definitions_version"), s("tosca_simple_yaml_1_0"));
    doc.insert(s("description"), s(description));
    doc.insert(
        s("metadata"),
        map(vec![("infra_name", s(&format!("OSCAR {component}"))), ("generated_by", s("aisprint toscarizer"))]),
    );
    let types: Value = serde_yaml::from_str(&TYPES.replace("@ARTIFACTS@", artifacts_url)).unwrap_or(Value::Null);
    if let Value::Mapping(t) = types {
        for (k, v) in t {
            doc.insert(k, v);
        }
    }
    doc
}

fn render(
    mut doc: Mapping,
    inputs: Vec<(&str, Value)>,
    nodes: Vec<(String, Value)>,
    outputs: Vec<(&str, Value)>,
) -> String {
    let mut nt = Mapping::new();
    for (k, v) in nodes {
        nt.insert(Value::String(k), v);
    }
    let mut topo = vec![("inputs", map(inputs)), ("node_templates", Value::Mapping(nt))];
    if !outputs.is_empty() {
        topo.push(("outputs", map(outputs.into_iter().map(|(k, v)| (k, map(vec![("value", v)]))).collect())));
    }
    doc.insert(s("topology_template"), map(topo));
    serde_yaml::to_string(&Value::Mapping(doc)).unwrap_or_default()
}

fn dns(prefix: &str, sep: &str) -> Value {
    let mut parts = Vec::new();
    if !prefix.is_empty() {
        parts.push(s(prefix));
    }
    parts.extend([input("cluster_name"), s(sep), input("domain_name")]);
    concat(parts)
}

fn url(prefix: &str, suffix: &str) -> Value {
    concat(vec![s(&format!("https://{prefix}")), input("cluster_name"), s("."), input("domain_name"), s(suffix)])
}

/// GPUs of a resource: count, vendor and model (from an accelerator's `architecture`,
/// `"VENDOR MODEL"`).
fn gpus(r: &Resource) -> Option<(f64, String, String)> {
    let mut count = 0.0;
    let mut vendor = String::new();
    let mut model = String::new();
    for a in r.accelerators.iter().flat_map(|m| m.values()) {
        for p in a.processors.iter().flat_map(|m| m.values()) {
            if p.processor_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("GPU")) {
                count += p.computing_units.unwrap_or(1.0);
                if let Some((v, m)) = p.architecture.as_deref().and_then(|a| a.split_once(' ')) {
                    vendor = v.to_string();
                    model = m.to_string();
                }
            }
        }
    }
    (count > 0.0).then_some((count, vendor, model))
}

/// The instance type of a resource: `flavorName`, or a `description` that is one word with a
/// dot (`t2.large`), as the user guide's examples write it.
pub fn instance_type(r: &Resource) -> Option<String> {
    if let Some(f) = &r.flavor_name {
        return Some(f.clone());
    }
    let d = r.description.as_deref()?.trim();
    (!d.contains(char::is_whitespace) && d.contains('.')).then(|| d.to_string())
}

/// The `host` capability of the worker nodes.
fn wn_host(r: &Resource) -> Value {
    let mut host = vec![
        ("num_cpus", num(r.cores().unwrap_or(1.0).ceil())),
        ("mem_size", size(r.memory_size.unwrap_or(1024.0), "MB")),
    ];
    if let Some(gb) = storage_gb(r) {
        host.push(("disk_size", size(gb, "GB")));
    }
    host.push(("sgx", Value::Bool(r.has_sgx())));
    host.push(("preemtible_instance", Value::Bool(r.on_spot.as_ref().is_some_and(crate::app::Flag::is_true))));
    if let Some((n, vendor, model)) = gpus(r) {
        host.push(("num_gpus", num(n)));
        if !vendor.is_empty() {
            host.push(("gpu_vendor", s(&vendor)));
            host.push(("gpu_model", s(&model)));
        }
    }
    if let Some(t) = instance_type(r) {
        host.push(("instance_type", s(&t)));
    }
    let aws = r.os_image_id.as_deref().is_some_and(|i| i.starts_with("aws"));
    if aws && r.storage_type.as_deref() == Some("SSD") {
        host.push(("disk_type", s("gp3")));
    }
    map(host)
}

fn yaml_text(v: &Option<Value>) -> Option<String> {
    match v.as_ref()? {
        Value::String(t) => Some(t.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn wn_os(r: &Resource) -> Vec<(&'static str, Value)> {
    let mut os = Vec::new();
    if let Some(d) = yaml_text(&r.os_distribution) {
        os.push(("distribution", s(&d)));
    }
    os.push(("type", s("linux")));
    if let Some(v) = yaml_text(&r.os_version) {
        os.push(("version", s(&v)));
    }
    if let Some(i) = &r.os_image_id {
        os.push(("image", s(i)));
    }
    os
}

fn ssh_credential(n: &crate::app::physical::SshNode) -> Value {
    map(vec![
        ("user", s(n.ssh_user.as_deref().unwrap_or("root"))),
        ("token_type", s("private_key")),
        ("token", s(n.ssh_key.as_ref().map(|k| k.expose()).unwrap_or(""))),
    ])
}

fn port(order: u64, ip: &str, binding: &str, link: &str) -> Value {
    map(vec![
        ("type", s("tosca.nodes.network.Port")),
        ("properties", map(vec![("order", Value::Number(order.into())), ("ip_address", s(ip))])),
        ("requirements", Value::Sequence(vec![map(vec![("binding", s(binding))]), map(vec![("link", s(link))])])),
    ])
}

/// A Kubernetes + OSCAR + MinIO cluster with the component's service: on new virtual
/// machines (`Virtual`) or on the machines of `physical_nodes.yaml` (`PhysicalToBeProvisioned`).
fn cluster_doc(
    p: &Placement<'_>,
    site: &Site,
    service: (String, Value),
    opts: &Options,
    ph: Option<&PhysicalResource>,
) -> String {
    let SiteKind::Built { minio_password, admin_token, oscar_password } = &site.kind else {
        return String::new();
    };
    let r = p.resource;
    let physical = p.layer_type == LayerType::PhysicalToBeProvisioned;
    let elastic = opts.elastic > 0 && !physical;
    let nodes_n = r.total_nodes.unwrap_or(1).max(1);
    let what = if physical { "existing machines reached over SSH" } else { "virtual machines" };
    let doc = head(
        &format!(
            "OSCAR cluster (Kubernetes, OSCAR, MinIO) on {what} of resource {} for component {}",
            r.name, p.component
        ),
        &p.component,
        &opts.artifacts_url,
    );
    let mut inputs = vec![
        ("fe_cpus", typed_input("integer", num(r.cores().unwrap_or(4.0).ceil()))),
        ("fe_mem", typed_input("scalar-unit.size", size(r.memory_size.unwrap_or(4096.0), "MB"))),
        ("fe_disk", typed_input("scalar-unit.size", s("40 GB"))),
    ];
    if !physical {
        inputs.push(("storage_size", typed_input("scalar-unit.size", s("100 GB"))));
        inputs.push(("fe_os_image", typed_input("string", s(r.os_image_id.as_deref().unwrap_or("")))));
    }
    inputs.extend([
        ("admin_token", typed_input("string", s(admin_token))),
        ("oscar_password", typed_input("string", s(oscar_password))),
        ("minio_password", typed_input("string", s(minio_password))),
        ("cert_user_email", typed_input("string", s("jhondoe@server.com"))),
        ("cluster_name", typed_input("string", s(&site.cluster))),
        ("domain_name", typed_input("string", s(&opts.domain))),
    ]);
    if elastic {
        inputs.push(("max_wn_num", typed_input("integer", num(f64::from(opts.elastic)))));
    }
    let tcp = |port: u64| map(vec![("protocol", s("tcp")), ("source", Value::Number(port.into()))]);
    let mut nodes: Vec<(String, Value)> = vec![
        (
            "oscar".into(),
            map(vec![
                ("type", s("tosca.nodes.indigo.OSCAR")),
                (
                    "properties",
                    map(vec![
                        ("minio_secretkey", input("minio_password")),
                        ("password", input("oscar_password")),
                        ("dns_host", dns("", ".")),
                        ("minio_dns_host", dns("minio.", ".")),
                        ("minio_dns_host_console", dns("console.minio.", ".")),
                    ]),
                ),
                (
                    "capabilities",
                    map(vec![(
                        "endpoint",
                        map(vec![(
                            "properties",
                            map(vec![(
                                "ports",
                                map(vec![("http_port", tcp(80)), ("https_port", tcp(443)), ("minio_port", tcp(30300))]),
                            )]),
                        )]),
                    )]),
                ),
                ("requirements", Value::Sequence(vec![map(vec![("host", s("lrms_front_end"))])])),
            ]),
        ),
        (
            "lrms_front_end".into(),
            map(vec![
                ("type", s("tosca.nodes.indigo.LRMS.FrontEnd.Kubernetes")),
                (
                    "capabilities",
                    map(vec![(
                        "endpoint",
                        map(vec![(
                            "properties",
                            map(vec![("port", Value::Number(30443.into())), ("protocol", s("tcp"))]),
                        )]),
                    )]),
                ),
                (
                    "properties",
                    map(vec![
                        ("admin_username", s("kubeuser")),
                        ("admin_token", input("admin_token")),
                        ("install_kubeapps", Value::Bool(false)),
                        ("install_metrics", Value::Bool(true)),
                        ("install_nfs_client", Value::Bool(true)),
                        ("install_ingress", Value::Bool(true)),
                        ("version", s("1.23.6")),
                        ("cert_manager", Value::Bool(true)),
                        ("cert_user_email", input("cert_user_email")),
                        ("public_dns_name", dns("", ".")),
                    ]),
                ),
                ("requirements", Value::Sequence(vec![map(vec![("host", s("front"))])])),
            ]),
        ),
    ];
    // The front node.
    let mut endpoint = vec![("dns_name", s("kubeserver"))];
    if !physical {
        endpoint.push(("network_name", s("PUBLIC")));
    }
    endpoint.push((
        "additional_dns_names",
        Value::Sequence(vec![dns("", "@"), dns("minio.", "@"), dns("console.minio.", "@")]),
    ));
    let mut fe_host =
        vec![("num_cpus", input("fe_cpus")), ("mem_size", input("fe_mem")), ("disk_size", input("fe_disk"))];
    // The front node runs the control plane: the workers' instance type, unless that is a
    // GPU type (then IM picks one by cores and memory).
    if let Some(t) = instance_type(r).filter(|_| !physical && gpus(r).is_none()) {
        fe_host.push(("instance_type", s(&t)));
    }
    let mut fe_os = vec![("type", s("linux"))];
    if physical {
        if let Some(fe) = ph.and_then(|x| x.fe_node.as_ref()) {
            fe_os.push(("credential", ssh_credential(fe)));
        }
    } else {
        fe_os.push(("image", input("fe_os_image")));
    }
    let mut front = vec![
        ("type", s("tosca.nodes.indigo.Compute")),
        (
            "capabilities",
            map(vec![
                ("endpoint", map(vec![("properties", map(endpoint))])),
                ("host", map(vec![("properties", map(fe_host))])),
                ("os", map(vec![("properties", map(fe_os))])),
            ]),
        ),
    ];
    if !physical {
        front.push((
            "requirements",
            Value::Sequence(vec![map(vec![(
                "local_storage",
                map(vec![
                    ("node", s("my_block_storage")),
                    ("capability", s("tosca.capabilities.Attachment")),
                    (
                        "relationship",
                        map(vec![
                            ("type", s("tosca.relationships.AttachesTo")),
                            ("properties", map(vec![("location", s("/pv")), ("device", s("hdb"))])),
                        ]),
                    ),
                ]),
            )])]),
        ));
    }
    nodes.push(("front".into(), map(front)));
    if !physical {
        nodes.push((
            "my_block_storage".into(),
            map(vec![
                ("type", s("tosca.nodes.BlockStorage")),
                ("properties", map(vec![("size", input("storage_size"))])),
            ]),
        ));
    }
    // The worker nodes.
    let key = &p.resource_key;
    let wn_software = |host: &str| {
        let mut n = vec![
            ("type", s("tosca.nodes.indigo.LRMS.WorkerNode.Kubernetes")),
            (
                "properties",
                map(vec![("front_end_ip", attr(&["front", "private_address", "0"])), ("version", s("1.23.6"))]),
            ),
        ];
        if elastic {
            n.push((
                "capabilities",
                map(vec![(
                    "wn",
                    map(vec![(
                        "properties",
                        map(vec![("max_instances", input("max_wn_num")), ("min_instances", Value::Number(0.into()))]),
                    )]),
                )]),
            ));
        }
        n.push(("requirements", Value::Sequence(vec![map(vec![("host", s(host))])])));
        map(n)
    };
    if physical {
        let fe = ph.and_then(|x| x.fe_node.as_ref());
        nodes.push((
            "pub_network".into(),
            map(vec![
                ("type", s("tosca.nodes.network.Network")),
                ("properties", map(vec![("network_type", s("public"))])),
            ]),
        ));
        nodes.push((
            "priv_network".into(),
            map(vec![
                ("type", s("tosca.nodes.network.Network")),
                ("properties", map(vec![("network_type", s("private"))])),
            ]),
        ));
        if let Some(ip) = fe.and_then(|f| f.public_ip.as_deref()) {
            nodes.push(("front_pub_network_port".into(), port(1, ip, "front", "pub_network")));
        }
        if let Some(ip) = fe.and_then(|f| f.private_ip.as_deref()) {
            nodes.push(("front_priv_network_port".into(), port(0, ip, "front", "priv_network")));
        }
        let wns = ph.and_then(|x| x.wns.as_ref()).map(Vec::as_slice).unwrap_or(&[]);
        for (i, wn) in wns.iter().take(nodes_n as usize).enumerate() {
            let name = format!("wn_{key}_{}", i + 1);
            let mut os = wn_os(r).into_iter().filter(|(k, _)| *k != "image").collect::<Vec<_>>();
            os.push(("credential", ssh_credential(wn)));
            nodes.push((
                name.clone(),
                map(vec![
                    ("type", s("tosca.nodes.indigo.Compute")),
                    (
                        "capabilities",
                        map(vec![
                            ("scalable", map(vec![("properties", map(vec![("count", Value::Number(1.into()))]))])),
                            ("host", map(vec![("properties", wn_host(r))])),
                            ("os", map(vec![("properties", map(os))])),
                        ]),
                    ),
                ]),
            ));
            nodes.push((format!("wn_node_{key}_{}", i + 1), wn_software(&name)));
            if let Some(ip) = wn.private_ip.as_deref().or(wn.public_ip.as_deref()) {
                nodes.push((format!("{name}_priv_network_port"), port(0, ip, &name, "priv_network")));
            }
        }
    } else {
        let name = format!("wn_{key}");
        let mut caps = vec![
            ("scalable", map(vec![("properties", map(vec![("count", num(f64::from(nodes_n)))]))])),
            ("host", map(vec![("properties", wn_host(r))])),
            ("os", map(vec![("properties", map(wn_os(r)))])),
        ];
        if elastic {
            caps.push(("endpoint", map(vec![("properties", map(vec![("dns_name", s("vnode-#N#.localdomain"))]))])));
        }
        nodes.push((name.clone(), map(vec![("type", s("tosca.nodes.indigo.Compute")), ("capabilities", map(caps))])));
        nodes.push((format!("wn_node_{key}"), wn_software(&name)));
        if elastic {
            let opt = |sec: &str, o: &str, v: &str| map(vec![("section", s(sec)), ("option", s(o)), ("value", s(v))]);
            nodes.push((
                "elastic_cluster_front_end".into(),
                map(vec![
                    ("type", s("tosca.nodes.ec3.ElasticCluster")),
                    (
                        "properties",
                        map(vec![
                            ("im_auth", s(opts.im_auth.as_deref().unwrap_or(""))),
                            ("powermanager_plugin", s("im")),
                            ("kube_token", input("admin_token")),
                            (
                                "config_options",
                                Value::Sequence(vec![
                                    opt("scheduling", "IDLE_TIME", "300"),
                                    opt("scheduling", "RECONSIDER_JOB_TIME", "60"),
                                    opt("monitoring", "MAX_WAIT_POWERON", "3000"),
                                    opt("monitoring", "MAX_WAIT_POWEROFF", "600"),
                                    opt("monitoring", "PERIOD_LIFECYCLE", "20"),
                                    opt("monitoring", "PERIOD_MONITORING_NODES", "20"),
                                    opt("client", "CLUES_REQUEST_WAIT_TIMEOUT", "3000"),
                                ]),
                            ),
                        ]),
                    ),
                    (
                        "requirements",
                        Value::Sequence(vec![
                            map(vec![("lrms", s("lrms_front_end"))]),
                            map(vec![("wn", s(&format!("wn_node_{key}")))]),
                        ]),
                    ),
                ]),
            ));
        }
    }
    let (svc_name, svc) = service;
    nodes.push((svc_name.clone(), svc));
    let outputs = vec![
        ("dashboard_endpoint", url("", "/dashboard/")),
        ("oscarui_endpoint", url("", "/")),
        ("minio_endpoint", url("minio.", "/")),
        ("console_minio_endpoint", url("console.minio.", "/")),
        ("admin_token", input("admin_token")),
        ("oscar_password", input("oscar_password")),
        ("minio_password", input("minio_password")),
        ("fe_node_ip", attr(&["front", "public_address", "0"])),
        ("oscar_service_url", attr(&[&svc_name, "endpoint"])),
        ("oscar_service_cred", attr(&[&svc_name, "credential"])),
    ];
    render(doc, inputs, nodes, outputs)
}

/// Only the service: on an existing OSCAR cluster (`oscar`) or as a FaaS function.
fn service_doc(p: &Placement<'_>, site: &Site, service: (String, Value), oscar: bool, opts: &Options) -> String {
    let what = if oscar {
        format!("on the existing OSCAR cluster {}", site.cluster)
    } else {
        "as a FaaS function".to_string()
    };
    let doc = head(
        &format!("Service of component {} {what} (resource {})", p.component, p.resource.name),
        &p.component,
        &opts.artifacts_url,
    );
    let inputs = vec![("cluster_name", typed_input("string", s(&site.cluster)))];
    let (name, svc) = service;
    let outputs = if oscar {
        vec![("oscar_service_url", attr(&[&name, "endpoint"])), ("oscar_service_cred", attr(&[&name, "credential"]))]
    } else {
        Vec::new()
    };
    render(doc, inputs, vec![(name, svc)], outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::physical::{Minio, Oscar, PhysicalLayer, Secret};

    fn res(name: &str) -> Resource {
        Resource { name: name.into(), total_nodes: Some(2), memory_size: Some(4096.0), ..Default::default() }
    }

    fn place<'a>(c: &str, r: &'a Resource, kind: LayerType, layer: u32) -> Placement<'a> {
        Placement {
            component: c.into(),
            image: format!("img/{c}"),
            memory: 512.0,
            cpu: 1.0,
            trusted_execution: false,
            gpu: false,
            resource: r,
            resource_key: "resource1".into(),
            layer_type: kind,
            layer_number: layer,
        }
    }

    fn counter() -> impl FnMut(usize) -> String {
        let mut n = 0;
        move |len| {
            n += 1;
            format!("{n:0>len$}")
        }
    }

    fn service(doc: &Document) -> Value {
        let v: Value = serde_yaml::from_str(&doc.text).expect("yaml");
        let nodes = v["topology_template"]["node_templates"].as_mapping().expect("nodes").clone();
        nodes
            .into_iter()
            .find(|(_, n)| n["type"].as_str() == Some("tosca.nodes.aisprint.FaaS.Function"))
            .expect("service")
            .1
    }

    #[test]
    fn two_components_on_one_existing_cluster_use_its_local_storage() {
        let r = res("Edge");
        let mut layer = PhysicalLayer { number: 1, resources: Default::default() };
        layer.resources.insert(
            "resource1".into(),
            PhysicalResource {
                name: "Edge".into(),
                fe_node: None,
                wns: None,
                minio: Some(Minio {
                    endpoint: "https://m".into(),
                    access_key: Secret("a".into()),
                    secret_key: Secret("s".into()),
                }),
                oscar: Some(Oscar { name: "edge".into(), endpoint: None, access_key: None, secret_key: None }),
                aws: None,
                influx: None,
            },
        );
        let mut phys = PhysicalNodes { computational_layers: Default::default() };
        phys.computational_layers.insert("l1".into(), layer);
        let ps = [
            place("a", &r, LayerType::PhysicalAlreadyProvisioned, 1),
            place("b", &r, LayerType::PhysicalAlreadyProvisioned, 1),
        ];
        let edges = [("a".to_string(), "b".to_string(), 0.5)];
        let docs = generate(&ps, &edges, Some(&phys), &Options::default(), &mut counter()).expect("docs");
        let a = service(&docs[0]);
        let outs = a["properties"]["output"].as_sequence().expect("out");
        // Same cluster: plain `minio`; probability 0.5: the output is also kept at home (the
        // same bucket here, so listed once).
        assert_eq!(outs.len(), 1, "{outs:?}");
        assert_eq!(outs[0]["storage_provider"].as_str(), Some("minio"));
        assert_eq!(outs[0]["path"].as_str(), Some("a/output"));
        assert!(a["properties"].get("storage_providers").is_none());
        let b = service(&docs[1]);
        assert_eq!(b["properties"]["input"][0]["path"].as_str(), Some("a/output"));
        assert_eq!(docs[0].cluster, "edge");
    }

    #[test]
    fn virtual_to_lambda_and_partial_successors() {
        let (rv, rl) = (res("VM"), res("Fn"));
        let mut layer = PhysicalLayer { number: 2, resources: Default::default() };
        layer.resources.insert(
            "resource1".into(),
            PhysicalResource {
                name: "Fn".into(),
                fe_node: None,
                wns: None,
                minio: None,
                oscar: None,
                aws: Some(crate::app::physical::Aws {
                    bucket: "bkt".into(),
                    region: None,
                    access_key: Some(Secret("AK".into())),
                    secret_key: Some(Secret("SK".into())),
                }),
                influx: None,
            },
        );
        let mut phys = PhysicalNodes { computational_layers: Default::default() };
        phys.computational_layers.insert("l2".into(), layer);
        let mut rv = rv;
        rv.os_image_id = Some("aws://r/ami".into());
        let ps = [place("v", &rv, LayerType::Virtual, 1), place("f", &rl, LayerType::NativeCloudFunction, 2)];
        let edges = [("v".to_string(), "f".to_string(), 0.4)];
        let docs = generate(&ps, &edges, Some(&phys), &Options::default(), &mut counter()).expect("docs");
        let v = service(&docs[0]);
        let outs = v["properties"]["output"].as_sequence().expect("out");
        assert_eq!(outs[0]["storage_provider"].as_str(), Some(format!("s3.{}", docs[1].cluster).as_str()));
        assert_eq!(outs[0]["path"].as_str(), Some("bkt/v/output"));
        assert_eq!(outs[1]["storage_provider"].as_str(), Some("minio"), "0.4 < 1: kept at home too");
        assert_eq!(
            v["properties"]["storage_providers"]["s3"][docs[1].cluster.as_str()]["secret_key"].as_str(),
            Some("SK")
        );
        let f = service(&docs[1]);
        assert_eq!(f["properties"]["input"][0]["storage_provider"].as_str(), Some("s3"));
        assert_eq!(f["properties"]["input"][0]["path"].as_str(), Some("bkt/v/output"));
        assert!(f.get("requirements").is_none(), "a function has no host");
        // cpu is written as a float, as the node type declares it.
        assert!(docs[1].text.contains("cpu: 1.0"), "{}", docs[1].text);
    }

    #[test]
    fn types_parse_and_secrets_are_found() {
        let t: Value = serde_yaml::from_str(TYPES).expect("types.yaml");
        assert!(t["node_types"]["tosca.nodes.aisprint.FaaS.Function"].is_mapping());
        let mut r = res("VM");
        r.os_image_id = Some("aws://us-east-1/ami-1".into());
        let ps = [place("v", &r, LayerType::Virtual, 1)];
        let docs = generate(&ps, &[], None, &Options::default(), &mut counter()).expect("docs");
        let secrets = secrets_in(&docs[0].text);
        // admin token, OSCAR and MinIO passwords (16 characters each from the counter).
        assert_eq!(secrets.len(), 3, "{secrets:?}");
        assert!(secrets.iter().all(|s| s.len() == SECRET_LEN), "{secrets:?}");
        assert_eq!(cluster_of(&docs[0].text), Some(docs[0].cluster.clone()));
        // Without an image, a virtual machine cannot be made.
        let r = res("VM");
        let ps = [place("v", &r, LayerType::Virtual, 1)];
        let d = generate(&ps, &[], None, &Options::default(), &mut counter()).expect_err("no image");
        assert!(d.to_string().contains("operatingSystemImageId"), "{d}");
    }

    #[test]
    fn a_resource_missing_from_physical_nodes_is_named() {
        let r = res("Rpi");
        let ps = [place("a", &r, LayerType::PhysicalAlreadyProvisioned, 3)];
        let d = generate(&ps, &[], None, &Options::default(), &mut counter()).expect_err("missing");
        let msg = d.to_string();
        assert!(msg.contains("physical_nodes.yaml") && msg.contains("`Rpi`") && msg.contains("number: 3"), "{msg}");
    }
}
