//! OSCAR's Functions Definition Language (FDL): the services of a pipeline, per cluster.
//!
//! ```yaml
//! functions:
//!   oscar:
//!   - edge-cluster:
//!       name: blurry-faces-onnx
//!       image: registry/blurry-faces-onnx      # or, on an agent, a native `script` alone
//!       script: script.sh
//!       cpu: '0.9'
//!       memory: 1Gi
//!       environment: {Variables: {KEY: value}}
//!       input: [{storage_provider: minio.default, path: blurry-faces-onnx/input}]
//!       output: [{storage_provider: minio.default, path: blurry-faces-onnx/output}]
//!       max_parallelism: 4                     # this project's: jobs at a time on an agent
//! ```

use serde::{Deserialize, Serialize};

use crate::diag::Diagnostics;
use crate::yaml::YamlDoc;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fdl {
    pub functions: Functions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_providers: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Functions {
    /// One map per entry: cluster name -> service.
    pub oscar: Vec<indexmap::IndexMap<String, Service>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The script run once per input file (a path relative to the FDL file).
    pub script: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<serde_yaml::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(default)]
    pub input: Vec<Storage>,
    #[serde(default)]
    pub output: Vec<Storage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallelism: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// Run in an SGX enclave (OSCAR's SCONE support).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_sgx: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_gpu: Option<bool>,
    /// The storages this service writes to besides its own cluster's
    /// (`minio: {<cluster>: {endpoint, access_key, secret_key, region}}`, `s3: {...}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_providers: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Environment {
    #[serde(rename = "Variables", default)]
    pub variables: indexmap::IndexMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Storage {
    #[serde(default = "default_provider")]
    pub storage_provider: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<Vec<String>>,
}

fn default_provider() -> String {
    "minio.default".into()
}

impl Fdl {
    /// The services of `cluster`, in file order.
    pub fn services_of(&self, cluster: &str) -> Vec<&Service> {
        self.functions.oscar.iter().filter_map(|m| m.get(cluster)).collect()
    }

    /// The files this FDL sends between clusters: (from cluster, to cluster, bucket path), one
    /// per output of a service that names another cluster's storage provider.
    pub fn edges(&self) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for m in &self.functions.oscar {
            for (from, svc) in m {
                for o in &svc.output {
                    if let Some(to) = remote_cluster(&o.storage_provider, from) {
                        out.push((from.clone(), to.to_string(), o.path.clone()));
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    pub fn clusters(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.functions.oscar.iter().flat_map(|m| m.keys().map(String::as_str)).collect();
        v.dedup();
        v
    }
}

/// A bucket path: `bucket/folder`, without `..`, absolute parts or empty segments.
/// The cluster a storage provider names when it is not this one (`minio.<cluster>`,
/// `s3.<cluster>`; `minio.default` and this cluster's own are local).
pub fn remote_cluster<'a>(provider: &'a str, own: &str) -> Option<&'a str> {
    let (kind, cluster) = provider.split_once('.')?;
    (matches!(kind, "minio" | "s3") && cluster != "default" && cluster != own && crate::config::valid_name(cluster))
        .then_some(cluster)
}

pub fn valid_path(p: &str) -> bool {
    !p.is_empty() && !p.starts_with('/') && p.split('/').all(|s| !s.is_empty() && s != "." && s != "..")
}

pub fn validate(doc: &YamlDoc<Fdl>) -> Diagnostics {
    let mut out = Diagnostics::new();
    for (i, m) in doc.value.functions.oscar.iter().enumerate() {
        for (cluster, s) in m {
            let key = format!("functions.oscar[{i}].{cluster}");
            if !crate::config::valid_name(&s.name) {
                out.push(doc.error(
                    format!("{key}.name"),
                    format!("`{}`: use letters, digits, `-`, `_` and `.` (not first)", s.name),
                ));
            }
            if s.script.trim().is_empty() {
                out.push(doc.error(format!("{key}.script"), "empty: the script run for each input file"));
            }
            if s.input.is_empty() {
                out.push(doc.error(
                    format!("{key}.input"),
                    "no input: a service runs once per file arriving in its input bucket",
                ));
            }
            for (k, list) in [("input", &s.input), ("output", &s.output)] {
                for (j, st) in list.iter().enumerate() {
                    if !valid_path(&st.path) {
                        out.push(doc.error(
                            format!("{key}.{k}[{j}].path"),
                            format!("`{}`: expected bucket/folder, without `..` or a leading `/`", st.path),
                        ));
                    }
                }
            }
            if s.max_parallelism == Some(0) {
                out.push(doc.error(format!("{key}.max_parallelism"), "must be at least 1"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_fdl_and_checks_paths() {
        let text = "functions:\n  oscar:\n  - edge:\n      name: blur\n      script: blur.sh\n      memory: 1Gi\n      cpu: '0.9'\n      environment:\n        Variables:\n          LEVEL: '3'\n      input:\n      - storage_provider: minio.default\n        path: blur/input\n      output:\n      - path: blur/output\n      max_parallelism: 4\n  - cloud:\n      name: mask\n      script: mask.sh\n      input:\n      - path: ../etc\n";
        let (doc, w) = crate::yaml::parse::<Fdl>("fdl.yaml", text).expect("parses");
        assert!(w.is_empty(), "{w}");
        assert_eq!(doc.value.clusters(), vec!["edge", "cloud"]);
        let s = doc.value.services_of("edge");
        assert_eq!((s[0].name.as_str(), s[0].max_parallelism), ("blur", Some(4)));
        assert_eq!(s[0].environment.as_ref().map(|e| e.variables["LEVEL"].as_str()), Some("3"));
        let d = validate(&doc);
        assert!(d.to_string().contains("functions.oscar[1].cloud.input[0].path: `../etc`"), "{d}");
    }

    #[test]
    fn remote_cluster_is_another_clusters_provider() {
        assert_eq!(remote_cluster("minio.cloud", "edge"), Some("cloud"));
        assert_eq!(remote_cluster("s3.faas", "edge"), Some("faas"));
        assert_eq!(remote_cluster("minio.default", "edge"), None);
        assert_eq!(remote_cluster("minio.edge", "edge"), None);
        assert_eq!(remote_cluster("onedata.x", "edge"), None);
    }

    #[test]
    fn edges_are_outputs_to_other_clusters() {
        let fdl: Fdl = serde_yaml::from_str("functions:\n  oscar:\n  - edge:\n      name: blur\n      script: b.sh\n      input: [{storage_provider: minio.default, path: blur/in}]\n      output: [{storage_provider: minio.cloud, path: mask/in}, {storage_provider: minio.default, path: blur/out}]\n  - cloud:\n      name: mask\n      script: m.sh\n      input: [{storage_provider: minio.default, path: mask/in}]\n      output: [{storage_provider: minio.default, path: mask/out}]\n").expect("fdl");
        assert_eq!(fdl.edges(), [("edge".to_string(), "cloud".to_string(), "mask/in".to_string())]);
    }

    #[test]
    fn names_never_leave_their_folder() {
        for ok in ["edge", "rpi-1", "minio.a", "a..b", "x_y"] {
            assert!(crate::config::valid_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", ".hidden", "../x", "a/b", "a b", &"x".repeat(65)] {
            assert!(!crate::config::valid_name(bad), "{bad}");
        }
    }
}
