//! `common_config/physical_nodes.yaml`: how to reach resources that already exist (an OSCAR
//! cluster with its MinIO, machines over SSH, an AWS bucket for FaaS). Its keys, passwords and
//! tokens are [`Secret`]s: they never show in `Debug` output or messages.

use serde::{Deserialize, Serialize};

use super::Map;
use crate::diag::Diagnostics;
use crate::yaml::YamlDoc;

pub use crate::secret::Secret;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhysicalNodes {
    #[serde(rename = "ComputationalLayers")]
    pub computational_layers: Map<PhysicalLayer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhysicalLayer {
    pub number: u32,
    #[serde(rename = "Resources")]
    pub resources: Map<PhysicalResource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhysicalResource {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fe_node: Option<SshNode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wns: Option<Vec<SshNode>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minio: Option<Minio>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oscar: Option<Oscar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<Aws>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub influx: Option<Influx>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SshNode {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Minio {
    pub endpoint: String,
    pub access_key: Secret,
    pub secret_key: Secret,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Oscar {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aws {
    pub bucket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<Secret>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Influx {
    pub token: Secret,
    pub endpoint: String,
}

pub fn validate(doc: &YamlDoc<PhysicalNodes>) -> Diagnostics {
    let mut out = Diagnostics::new();
    for (lk, l) in &doc.value.computational_layers {
        for (rk, r) in &l.resources {
            let key = format!("ComputationalLayers.{lk}.Resources.{rk}");
            if r.fe_node.is_none() && r.minio.is_none() && r.oscar.is_none() && r.aws.is_none() {
                out.push(doc.error(
                    key.clone(),
                    "say how to reach the resource: `oscar` + `minio` (an existing OSCAR cluster), `fe_node` + `wns` (machines over SSH) or `aws` (FaaS)",
                ));
            }
            if r.oscar.is_some() != r.minio.is_some() {
                out.push(doc.error(key.clone(), "an existing OSCAR cluster needs both `oscar` and `minio`"));
            }
            if let Some(fe) = &r.fe_node {
                if fe.public_ip.is_none() && fe.private_ip.is_none() {
                    out.push(doc.error(format!("{key}.fe_node"), "give `public_ip` or `private_ip`"));
                }
            }
            for (i, wn) in r.wns.iter().flatten().enumerate() {
                if wn.private_ip.is_none() && wn.public_ip.is_none() {
                    out.push(doc.error(format!("{key}.wns[{i}]"), "give `private_ip` or `public_ip`"));
                }
            }
        }
    }
    out
}
