//! What OSCAR's API takes and returns: service definitions, cluster information, jobs.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};

use super::{OscarError, Secret};

/// A service as OSCAR's API takes and returns it (`types.Service`). The fields this project
/// writes or reads are typed; every other field OSCAR sends (`labels`, `visibility`,
/// `synchronous`, `expose`, …) is kept in `extra`, so a definition read, changed and sent
/// back loses nothing.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceDefinition {
    pub name: String,
    /// The container image (OSCAR requires one).
    #[serde(default)]
    pub image: String,
    /// The script's content (not a path), run for every invocation.
    #[serde(default)]
    pub script: String,
    /// Kubernetes quantities, as strings: `"0.5"`, `"500m"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// `"1Gi"`, `"256Mi"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// The FaaS Supervisor's level: `DEBUG`, `INFO`, … `CRITICAL` (OSCAR upper-cases it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpine: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vo: Option<String>,
    /// Set by OSCAR at creation (64 hexadecimal digits) and kept across updates; what it
    /// ignores when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub input: Vec<StorageIo>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<StorageIo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_providers: Option<StorageProviders>,
    /// Every other field, as OSCAR sent it.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ServiceDefinition {
    /// The service's token, when OSCAR has set one.
    pub fn token(&self) -> Option<&str> {
        self.token.as_ref().map(Secret::expose).filter(|t| !t.is_empty())
    }

    /// The definition OSCAR takes for a service of our FDL. `script` is the script's
    /// content, read by the caller from the path the FDL names. The FDL's
    /// `max_parallelism` is this project's (jobs at a time on an agent) and is not sent;
    /// the service's own `storage_providers` (those `toscarizer fdl` writes) are, and the
    /// FDL-wide ones are left to the caller.
    pub fn from_fdl(service: &aisprint_model::oscar::Service, script: impl Into<String>) -> Result<Self, OscarError> {
        let refuse = |reason: String| OscarError::Definition { service: service.name.clone(), reason };
        let image = match service.image.as_deref().map(str::trim) {
            Some(i) if !i.is_empty() => i.to_owned(),
            _ => return Err(refuse("no `image`: OSCAR runs every service in a container image".into())),
        };
        let cpu = match &service.cpu {
            None => None,
            Some(serde_yaml::Value::String(s)) => Some(s.clone()),
            Some(serde_yaml::Value::Number(n)) => Some(n.to_string()),
            Some(other) => {
                return Err(refuse(format!("`cpu` must be a number or a string such as '0.5', not {other:?}")));
            }
        };
        let storage = |list: &[aisprint_model::oscar::Storage]| {
            list.iter()
                .map(|s| StorageIo {
                    storage_provider: s.storage_provider.clone(),
                    path: s.path.clone(),
                    suffix: s.suffix.clone().unwrap_or_default(),
                    prefix: s.prefix.clone().unwrap_or_default(),
                    ..Default::default()
                })
                .collect()
        };
        let storage_providers = match &service.storage_providers {
            None => None,
            Some(v) => Some(
                serde_json::to_value(v)
                    .and_then(serde_json::from_value::<StorageProviders>)
                    .map_err(|e| refuse(format!("`storage_providers`: {e}")))?,
            ),
        };
        let mut extra = serde_json::Map::new();
        for (k, v) in [("enable_sgx", service.enable_sgx), ("enable_gpu", service.enable_gpu)] {
            if v == Some(true) {
                extra.insert(k.into(), serde_json::Value::Bool(true));
            }
        }
        Ok(Self {
            name: service.name.clone(),
            image,
            script: script.into(),
            cpu,
            memory: service.memory.clone(),
            log_level: service.log_level.clone(),
            environment: service
                .environment
                .as_ref()
                .map(|e| Environment { variables: e.variables.clone(), ..Default::default() }),
            input: storage(&service.input),
            output: storage(&service.output),
            storage_providers,
            extra,
            ..Default::default()
        })
    }
}

impl fmt::Debug for ServiceDefinition {
    /// `extra` may hold credentials (`clusters.*.auth_password`), so only its keys are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceDefinition")
            .field("name", &self.name)
            .field("image", &self.image)
            .field("script", &format_args!("<{} bytes>", self.script.len()))
            .field("cpu", &self.cpu)
            .field("memory", &self.memory)
            .field("log_level", &self.log_level)
            .field("alpine", &self.alpine)
            .field("vo", &self.vo)
            .field("token", &self.token)
            .field("environment", &self.environment)
            .field("input", &self.input)
            .field("output", &self.output)
            .field("storage_providers", &self.storage_providers)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `environment` of a service. OSCAR writes `variables` and `secrets`; the FDL's
/// `Variables` (which OSCAR's case-insensitive JSON decoding also takes) is read too.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Environment {
    #[serde(
        default,
        alias = "Variables",
        deserialize_with = "null_as_default",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub variables: IndexMap<String, String>,
    #[serde(
        default,
        alias = "Secrets",
        deserialize_with = "null_as_default",
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub secrets: IndexMap<String, Secret>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// One entry of `input` or `output` (`types.StorageIOConfig`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StorageIo {
    /// `<provider>.<id>`, e.g. `minio.default`.
    #[serde(default)]
    pub storage_provider: String,
    /// `bucket/folder`.
    #[serde(default)]
    pub path: String,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub suffix: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub prefix: Vec<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// `storage_providers` of a service: MinIO and S3 typed, the others (`onedata`, `webdav`,
/// `rucio`) kept as sent.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StorageProviders {
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "IndexMap::is_empty")]
    pub minio: IndexMap<String, MinioProvider>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "IndexMap::is_empty")]
    pub s3: IndexMap<String, S3Provider>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl fmt::Debug for StorageProviders {
    /// The untyped providers carry tokens and passwords: only their kinds are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageProviders")
            .field("minio", &self.minio)
            .field("s3", &self.s3)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MinioProvider {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct S3Provider {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// `GET /system/info` (`types.Info`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Info {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub git_commit: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serverless_backend: Option<ServerlessBackend>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServerlessBackend {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
}

/// `GET /system/config` (`types.ConfigForUser`): the cluster's settings and the MinIO
/// credentials of the caller.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClusterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minio_provider: Option<MinioProvider>,
    #[serde(default, deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub allowed_image_repositories: Vec<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A job of a service (`types.JobInfo`). `status` is `Pending`, `Running`, `Succeeded`,
/// `Failed` or `Suspended`; times are RFC 3339, absent until they happen.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobInfo {
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<String>,
}

/// One page of `GET /system/logs/{name}` (`types.JobsResponse`): job name -> job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobPage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub jobs: IndexMap<String, JobInfo>,
    /// The `page` to ask for next; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining_jobs: Option<i64>,
}

/// Go writes nil slices and maps as `null`.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
