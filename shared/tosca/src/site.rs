//! Where each component's service lives, decided for every component before any document is
//! written (a producer needs its consumers' clusters and credentials).

use aisprint_model::app::paths;
use aisprint_model::app::physical::PhysicalResource;
use aisprint_model::app::resources::LayerType;
use aisprint_model::diag::{Diagnostic, Diagnostics};

use crate::{Placement, SECRET_LEN};

/// Where a component's service lives.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub(crate) cluster: String,
    pub(crate) kind: SiteKind,
}

#[derive(Debug, Clone)]
pub(crate) enum SiteKind {
    /// A cluster IM builds: its MinIO is reached by DNS name with a password of this run.
    Built { minio_password: String, admin_token: String, oscar_password: String },
    /// An existing OSCAR cluster and its MinIO.
    Existing { endpoint: String, access_key: String, secret_key: String },
    /// A FaaS function and its bucket.
    Lambda { bucket: String, region: String, access_key: String, secret_key: String },
}

/// `oscar-cluster-` and 8 random characters.
fn cluster_name(rand: &mut dyn FnMut(usize) -> String) -> String {
    format!("oscar-cluster-{}", rand(8))
}

/// The site of placement `p`, whose resource `physical_nodes.yaml` describes as `ph`; what the
/// files miss for it goes to `diags` (the site is then one with empty credentials).
pub(crate) fn site_of(
    p: &Placement<'_>,
    ph: Option<&PhysicalResource>,
    rand: &mut dyn FnMut(usize) -> String,
    diags: &mut Diagnostics,
) -> Site {
    let r = &p.resource.name;
    let needs_phys = !matches!(p.layer_type, LayerType::Virtual);
    let missing = |what: &str| {
        Diagnostic::error(
            paths::PHYSICAL_NODES,
            "ComputationalLayers",
            format!(
                "component `{}` runs on resource `{r}` of layer {} ({:?}), and the file does not describe it: add a resource with `name: {r}` and {what} under the layer with `number: {}`",
                p.component, p.layer_number, p.layer_type, p.layer_number
            ),
        )
    };
    if p.layer_type == LayerType::Virtual && p.resource.os_image_id.as_deref().is_none_or(|i| i.trim().is_empty()) {
        diags.push(Diagnostic::error(
            paths::RESOURCES,
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
                return Site {
                    cluster: o.name.clone(),
                    kind: SiteKind::Existing {
                        endpoint: m.endpoint.clone(),
                        access_key: m.access_key.expose().to_string(),
                        secret_key: m.secret_key.expose().to_string(),
                    },
                };
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
        check_workers(p, ph, diags);
    }
    Site { cluster: cluster_name(rand), kind }
}

/// Checks that `physical_nodes.yaml` lists (`wns`) as many worker machines as the resource
/// of `p` has nodes (`totalNodes`).
fn check_workers(p: &Placement<'_>, ph: Option<&PhysicalResource>, diags: &mut Diagnostics) {
    let wns = ph.and_then(|x| x.wns.as_ref()).map_or(0, Vec::len);
    let want = p.resource.total_nodes.unwrap_or(1) as usize;
    if ph.is_some() && wns < want {
        diags.push(Diagnostic::error(
            paths::PHYSICAL_NODES,
            "ComputationalLayers",
            format!("resource `{}` needs {want} worker node(s) (`totalNodes`) and `wns` lists {wns}", p.resource.name),
        ));
    }
}
