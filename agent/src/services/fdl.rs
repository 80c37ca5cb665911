//! The services of a node, from FDL files: the configured ones and those the controller
//! applied (kept under the state folder), checked with file and key in every error, each
//! resolved into a [`Prepared`] service: its script, its input folders, where its outputs
//! go.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use aisprint_model::config::AgentConfig;
use aisprint_model::diag::{Diagnostic, Diagnostics};
use aisprint_model::oscar::{self, Fdl, Service};
use aisprint_model::yaml;

use crate::error::AgentError;
use crate::sinks::grpc::Declared;

/// A service ready to run here.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The FDL cluster it was given for.
    pub cluster: String,
    pub service: Service,
    /// The script, resolved from the FDL's folder.
    pub script: PathBuf,
    pub inputs: Vec<PathBuf>,
    pub outputs: Vec<Output>,
    pub parallelism: usize,
    /// Inputs in an S3 store, mirrored into the local input folder: (provider, bucket path,
    /// local folder).
    pub mirrors: Vec<(String, String, PathBuf)>,
}

/// Where a service's outputs go.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A bucket on this node (a folder).
    Local(PathBuf),
    /// A bucket of another cluster (its storage provider is `minio.<cluster>` or
    /// `s3.<cluster>`): the file goes there through the mesh.
    Mesh { cluster: String, bucket: String },
    /// A bucket in an S3-compatible store configured for its provider (`services.s3`).
    S3 { provider: String, bucket: String },
}

pub use aisprint_model::oscar::remote_cluster;

/// The services of this node from the FDL files, checked (file and key in every error): the
/// configured files, and those the controller applied before (kept under the state folder).
/// A configured file that is wrong stops the agent; an applied one that is torn or wrong
/// (a power cut while it was written, a disk error) is said in the log and returned apart,
/// for `run` to set aside: the agent starts without it until the controller applies it again.
pub fn load(cfg: &AgentConfig) -> Result<Found, AgentError> {
    let Some(s) = &cfg.services else { return Ok(Found::default()) };
    let mut declared = Declared { clusters: vec![s.cluster.clone()], inbound: Vec::new() };
    let buckets = Path::new(&s.buckets);
    let s3: BTreeSet<String> = s.s3.keys().cloned().collect();
    let mut out = Vec::new();
    let mut diags = Diagnostics::new();
    for f in &s.fdl {
        let text = std::fs::read_to_string(f).map_err(|source| AgentError::Read { path: PathBuf::from(f), source })?;
        let (services, doc) = load_fdl(f, &text, &s.cluster, buckets, &s3, &mut diags);
        out.extend(services);
        if let Some(doc) = doc {
            let mine = |c: &str| c == s.cluster || c == cfg.node_id;
            declared.inbound.extend(doc.edges().into_iter().filter(|(_, to, _)| mine(to)));
        }
    }
    if diags.has_errors() {
        return Err(AgentError::Invalid(diags.sorted()));
    }
    let mut broken = Vec::new();
    let applied = state_dir(cfg).join("applied");
    for e in std::fs::read_dir(&applied).into_iter().flatten().flatten() {
        let cluster = e.file_name().to_string_lossy().to_string();
        if cluster.starts_with('.') {
            // An apply cut short (its staging folder, or the one it replaced).
            tracing::warn!(folder = %e.path().display(), "an apply that did not finish: ignored (apply it again)");
            continue;
        }
        let f = e.path().join("fdl.yaml");
        let mut d = Diagnostics::new();
        let services = match std::fs::read_to_string(&f) {
            Ok(text) => load_fdl(&f.display().to_string(), &text, &cluster, buckets, &s3, &mut d).0,
            Err(err) => {
                d.push(Diagnostic::error(f.display().to_string(), String::new(), err.to_string()));
                Vec::new()
            }
        };
        if d.has_errors() {
            tracing::error!(%cluster, problems = %d.sorted(), "the FDL applied for this cluster cannot be read: its services do not run (apply it again)");
            broken.push(e.path());
        } else {
            out.extend(services);
        }
    }
    Ok(Found { services: out, broken, declared })
}

/// What [`load`] found.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub services: Vec<Prepared>,
    /// Applied FDLs that could not be read (torn by a power cut): `run` sets them aside.
    pub broken: Vec<PathBuf>,
    pub declared: Declared,
}

/// Moves applied FDLs that could not be read to `<state>/broken/<cluster>-<unix ms>`, kept
/// for a look, out of the way of the next apply.
pub fn set_aside(state: &Path, broken: &[PathBuf]) {
    let to = state.join("broken");
    for b in broken {
        let name = b.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let dest = to.join(format!("{name}-{}", aisprint_runtime::clock::now_ms()));
        let moved = aisprint_runtime::fsutil::create_dir_durably(&to).and_then(|()| std::fs::rename(b, &dest));
        match moved {
            Ok(()) => tracing::error!(from = %b.display(), to = %dest.display(), "unreadable applied FDL set aside"),
            Err(e) => tracing::error!(folder = %b.display(), error = %e, "cannot set the unreadable applied FDL aside"),
        }
    }
}

/// The services of `cluster` in one FDL text (scripts taken from the file's folder), and the
/// FDL itself when it is valid.
pub(super) fn load_fdl(
    f: &str,
    text: &str,
    cluster: &str,
    buckets: &Path,
    s3: &BTreeSet<String>,
    diags: &mut Diagnostics,
) -> (Vec<Prepared>, Option<Fdl>) {
    let mut out = Vec::new();
    let doc = match yaml::parse::<Fdl>(f, text) {
        Ok((doc, w)) => {
            diags.extend(w);
            doc
        }
        Err(d) => {
            diags.extend(d);
            return (out, None);
        }
    };
    let d = oscar::validate(&doc);
    let bad = d.has_errors();
    diags.extend(d);
    if bad {
        return (out, None);
    }
    let base = Path::new(f).parent().unwrap_or(Path::new("."));
    for svc in doc.value.services_of(cluster) {
        let script = base.join(&svc.script);
        if !script.is_file() {
            diags.push(Diagnostic::error(
                f.to_string(),
                format!("functions.oscar.{cluster}.script"),
                format!("{}: no such file (the script is taken from the FDL's folder)", script.display()),
            ));
        }
        out.push(Prepared {
            cluster: cluster.to_string(),
            service: svc.clone(),
            script,
            inputs: svc.input.iter().map(|i| buckets.join(&i.path)).collect(),
            outputs: svc
                .output
                .iter()
                .map(|o| match remote_cluster(&o.storage_provider, cluster) {
                    _ if s3.contains(&o.storage_provider) => {
                        Output::S3 { provider: o.storage_provider.clone(), bucket: o.path.clone() }
                    }
                    Some(c) => Output::Mesh { cluster: c.to_string(), bucket: o.path.clone() },
                    None => Output::Local(buckets.join(&o.path)),
                })
                .collect(),
            mirrors: svc
                .input
                .iter()
                .filter(|i| s3.contains(&i.storage_provider))
                .map(|i| (i.storage_provider.clone(), i.path.clone(), buckets.join(&i.path)))
                .collect(),
            parallelism: svc.max_parallelism.unwrap_or(1) as usize,
        });
    }
    (out, Some(doc.value))
}

/// Where the job store, logs, temporary outputs and applied FDLs live.
pub fn state_dir(cfg: &AgentConfig) -> PathBuf {
    cfg.services
        .as_ref()
        .and_then(|s| s.state.clone())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&cfg.buffer.path).parent().unwrap_or(Path::new(".")).join("services"))
}
