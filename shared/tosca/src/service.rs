//! The service node of a component (its buckets, the storage providers of the next
//! components) and the documents that hold only a service.

use serde_yaml::{Mapping, Value};

use aisprint_model::app::resources::LayerType;

use crate::site::{Site, SiteKind};
use crate::values::{attr, head, map, render, s, typed_input};
use crate::{service_name, Options, Placement};

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

/// The storage provider and bucket path of `bucket_path` in the site's own storage.
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

/// One `input` or `output` entry of a service.
fn io((prov, path): (String, String)) -> Value {
    map(vec![("storage_provider", s(&prov)), ("path", s(&path))])
}

/// A storage provider of another cluster a service writes to: the cluster, the provider's
/// kind (`minio`, `s3`) and its credentials.
type Provider = (String, &'static str, Value);

/// The buckets and storage providers of one component's service.
struct ServiceIo {
    input: Vec<Value>,
    output: Vec<Value>,
    providers: Vec<Provider>,
}

impl ServiceIo {
    /// The buckets component `me` reads and writes, and the providers of the other clusters it
    /// writes to.
    fn of(
        placements: &[Placement<'_>],
        sites: &[Site],
        me: usize,
        edges: &[(String, String, f64)],
        domain: &str,
    ) -> Self {
        let p = &placements[me];
        let site = &sites[me];
        let index = |c: &str| placements.iter().position(|x| x.component == c);
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
        let mut providers: Vec<Provider> = Vec::new();
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
        Self { input, output, providers }
    }
}

/// The `storage_providers` property: the providers grouped by kind, then by cluster.
fn storage_providers(providers: Vec<Provider>) -> Value {
    let mut by_kind = Mapping::new();
    for (cluster, kind, entry) in providers {
        let slot = by_kind.entry(s(kind)).or_insert_with(|| Value::Mapping(Mapping::new()));
        if let Value::Mapping(m) = slot {
            m.insert(s(&cluster), entry);
        }
    }
    Value::Mapping(by_kind)
}

/// The service node of a component and its name.
pub(crate) fn service_node(
    placements: &[Placement<'_>],
    sites: &[Site],
    me: usize,
    edges: &[(String, String, f64)],
    domain: &str,
) -> (String, Value) {
    let p = &placements[me];
    let site = &sites[me];
    let ServiceIo { input, output, providers } = ServiceIo::of(placements, sites, me, edges, domain);
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
        props.push(("storage_providers", storage_providers(providers)));
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

/// Only the service: on an existing OSCAR cluster (`oscar`) or as a FaaS function.
pub(crate) fn service_doc(
    p: &Placement<'_>,
    site: &Site,
    service: (String, Value),
    oscar: bool,
    opts: &Options,
) -> String {
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
