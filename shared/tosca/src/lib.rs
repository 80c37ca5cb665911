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
//! import. Secrets (tokens, passwords) are drawn from the caller's random source.
//!
//! Beside the documents: the FDL read back from them (`fdl`), SCONE session policies
//! (`scone`), and IM's own files (`im`: `auth.dat`, `infras.yaml`).
//!
//! **Architecture invariant: no IO.** The controller reads the application, passes a random
//! source, and writes what comes back; the agent never depends on this crate.

mod cluster;
pub mod fdl;
pub mod im;
pub mod scone;
mod service;
mod site;
mod values;

use serde_yaml::Value;

use aisprint_model::app::physical::{PhysicalNodes, PhysicalResource};
use aisprint_model::app::resources::{LayerType, Resource};
use aisprint_model::diag::{Diagnostic, Diagnostics};

use crate::cluster::cluster_doc;
use crate::service::{service_doc, service_node};
use crate::site::{site_of, Site};

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
    let mut diags = Diagnostics::new();
    let mut sites: Vec<Site> = Vec::new();
    for p in placements {
        let ph = physical_of(physical, p.layer_number, &p.resource.name);
        sites.push(site_of(p, ph, rand, &mut diags));
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

/// The instance type of a resource: `flavorName`, or a `description` that is one word with a
/// dot (`t2.large`), as the user guide's examples write it.
pub fn instance_type(r: &Resource) -> Option<String> {
    if let Some(f) = &r.flavor_name {
        return Some(f.clone());
    }
    let d = r.description.as_deref()?.trim();
    (!d.contains(char::is_whitespace) && d.contains('.')).then(|| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aisprint_model::app::physical::{Minio, Oscar, PhysicalLayer, Secret};

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
                    access_key: Secret::new("a"),
                    secret_key: Secret::new("s"),
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
                aws: Some(aisprint_model::app::physical::Aws {
                    bucket: "bkt".into(),
                    region: None,
                    access_key: Some(Secret::new("AK")),
                    secret_key: Some(Secret::new("SK")),
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
