//! `aisprint oscar apply` for clusters that run OSCAR: each service of the FDL is created, or
//! updated when the cluster already has it, through OSCAR's REST API. The clusters and their
//! credentials come from auth.dat lines of `type = OSCAR` whose `id` is the FDL's cluster
//! name (`id = oscar-edge; type = OSCAR; host = https://oscar.example.org; username = oscar;
//! password = ...`, or `token = ...`), the form IM reads too.

use std::path::Path;
use std::time::Duration;

use aisprint_model::oscar::Service;
use aisprint_tosca::im::AuthFile;

use super::auth::AuthError;
use crate::clients::oscar::{Auth, OscarClient, OscarError, ServiceDefinition};

/// Why OSCAR clusters could not be read or given their services; never with a credential.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A `type = OSCAR` line that lacks what a cluster needs.
    #[error("{}line {line}: {message}", .file.as_ref().map(|f| format!("{}: ", f.display())).unwrap_or_default())]
    Credential { file: Option<std::path::PathBuf>, line: usize, message: String },
    #[error("service {service}: script {}: {source}", .path.display())]
    Script {
        service: String,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Oscar(#[from] OscarError),
}

/// An OSCAR cluster the FDL names and auth.dat reaches.
#[derive(Debug)]
pub struct OscarCluster {
    pub name: String,
    pub client: OscarClient,
}

/// The clusters of an auth.dat file (read, its permissions checked); errors name the file and
/// the line, never a value.
pub fn clusters_in(path: &Path) -> Result<Vec<OscarCluster>, ClusterError> {
    let auth = super::auth::read(path)?;
    clusters(&auth).map_err(|e| match e {
        ClusterError::Credential { line, message, .. } => {
            ClusterError::Credential { file: Some(path.to_path_buf()), line, message }
        }
        e => e,
    })
}

/// The clusters of auth.dat's `type = OSCAR` lines, by `id`. Errors name the line, never a
/// value.
pub fn clusters(auth: &AuthFile) -> Result<Vec<OscarCluster>, ClusterError> {
    let mut out = Vec::new();
    for c in auth.of_type("OSCAR") {
        let refuse = |message: &str| ClusterError::Credential { file: None, line: c.line, message: message.into() };
        let name = c.id().ok_or_else(|| refuse("an OSCAR credential needs `id` (the cluster's name in the FDL)"))?;
        let host = c.get("host").ok_or_else(|| refuse("an OSCAR credential needs `host` (its endpoint)"))?;
        let auth = match (c.get("username"), c.get("password"), c.get("token")) {
            (_, _, Some(t)) => Auth::bearer(t.to_string()),
            (Some(u), Some(p), None) => Auth::basic(u.to_string(), p.to_string()),
            (None, Some(p), None) => Auth::basic("oscar", p.to_string()),
            _ => {
                return Err(refuse("an OSCAR credential needs `password` (with `username`, default oscar) or `token`"))
            }
        };
        let client = OscarClient::new(host, auth)
            .map_err(|e| ClusterError::Credential { file: None, line: c.line, message: e.to_string() })?
            .with_timeout(Duration::from_secs(60));
        out.push(OscarCluster { name: name.to_string(), client });
    }
    Ok(out)
}

/// The script OSCAR runs for a service: the content of the file the FDL names (relative to
/// the FDL), or, for a path inside the image (`/opt/<component>/script.sh`, what
/// `toscarizer fdl` writes), a script that runs it.
pub fn script_of(svc: &Service, fdl_dir: &Path) -> Result<String, ClusterError> {
    if svc.script.starts_with('/') {
        // Quoted: the path comes from the FDL, and a `;` or `$(...)` in it stays a path.
        return Ok(format!("#!/bin/sh\nexec sh '{}'\n", svc.script.replace('\'', "'\\''")));
    }
    let path = fdl_dir.join(&svc.script);
    std::fs::read_to_string(&path).map_err(|source| ClusterError::Script { service: svc.name.clone(), path, source })
}

/// Creates or updates each service on the cluster; returns one line per service.
pub async fn apply(cluster: &OscarCluster, services: &[(Service, String)]) -> Result<Vec<String>, ClusterError> {
    let mut done = Vec::new();
    for (svc, script) in services {
        let def = ServiceDefinition::from_fdl(svc, script.clone())?;
        let what = put_service(cluster, &def).await?;
        done.push(format!("{}: service {} {what}", cluster.name, svc.name));
    }
    Ok(done)
}

/// Creates a service, or updates it when the cluster has one of that name: `created` or
/// `updated`.
pub async fn put_service(cluster: &OscarCluster, def: &ServiceDefinition) -> Result<&'static str, OscarError> {
    let existing = match cluster.client.get_service(&def.name).await {
        Ok(_) => true,
        Err(e) if e.is_not_found() => false,
        Err(e) => return Err(e),
    };
    if existing {
        cluster.client.update_service(def).await?;
        Ok("updated")
    } else {
        cluster.client.create_service(def).await?;
        Ok("created")
    }
}
