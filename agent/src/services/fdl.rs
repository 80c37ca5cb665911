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

/// The cluster a storage provider names when it is not this one (`minio.<cluster>`,
/// `s3.<cluster>`; `minio.default` and this cluster's own are local).
pub fn remote_cluster<'a>(provider: &'a str, own: &str) -> Option<&'a str> {
    let (kind, cluster) = provider.split_once('.')?;
    (matches!(kind, "minio" | "s3")
        && cluster != "default"
        && cluster != own
        && aisprint_model::config::valid_name(cluster))
    .then_some(cluster)
}

/// The services of this node from the FDL files, checked (file and key in every error): the
/// configured files, and those the controller applied before (kept under the state folder).
pub fn load(cfg: &AgentConfig) -> Result<Vec<Prepared>, AgentError> {
    let Some(s) = &cfg.services else { return Ok(Vec::new()) };
    let buckets = Path::new(&s.buckets);
    let s3: BTreeSet<String> = s.s3.keys().cloned().collect();
    let mut out = Vec::new();
    let mut diags = Diagnostics::new();
    for f in &s.fdl {
        let text = std::fs::read_to_string(f).map_err(|source| AgentError::Read { path: PathBuf::from(f), source })?;
        out.extend(load_fdl(f, &text, &s.cluster, buckets, &s3, &mut diags));
    }
    let applied = state_dir(cfg).join("applied");
    for e in std::fs::read_dir(&applied).into_iter().flatten().flatten() {
        let f = e.path().join("fdl.yaml");
        let cluster = e.file_name().to_string_lossy().to_string();
        if let Ok(text) = std::fs::read_to_string(&f) {
            out.extend(load_fdl(&f.display().to_string(), &text, &cluster, buckets, &s3, &mut diags));
        }
    }
    if diags.has_errors() {
        return Err(AgentError::Invalid(diags.sorted()));
    }
    Ok(out)
}

/// The services of `cluster` in one FDL text (scripts taken from the file's folder).
pub(super) fn load_fdl(
    f: &str,
    text: &str,
    cluster: &str,
    buckets: &Path,
    s3: &BTreeSet<String>,
    diags: &mut Diagnostics,
) -> Vec<Prepared> {
    let mut out = Vec::new();
    let doc = match yaml::parse::<Fdl>(f, text) {
        Ok((doc, w)) => {
            diags.extend(w);
            doc
        }
        Err(d) => {
            diags.extend(d);
            return out;
        }
    };
    let d = oscar::validate(&doc);
    let bad = d.has_errors();
    diags.extend(d);
    if bad {
        return out;
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
    out
}

/// Where the job store, logs, temporary outputs and applied FDLs live.
pub fn state_dir(cfg: &AgentConfig) -> PathBuf {
    cfg.services
        .as_ref()
        .and_then(|s| s.state.clone())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&cfg.buffer.path).parent().unwrap_or(Path::new(".")).join("services"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_cluster_is_another_clusters_provider() {
        assert_eq!(remote_cluster("minio.cloud", "edge"), Some("cloud"));
        assert_eq!(remote_cluster("s3.faas", "edge"), Some("faas"));
        assert_eq!(remote_cluster("minio.default", "edge"), None);
        assert_eq!(remote_cluster("minio.edge", "edge"), None);
        assert_eq!(remote_cluster("onedata.x", "edge"), None);
    }
}
