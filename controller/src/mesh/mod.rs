//! The controller's side of the agent mesh: certificates, the agents' gRPC service and its
//! state, and the operator's commands that read it.

pub mod broker;
pub mod certs;
pub mod qos;
pub mod serve;
pub mod state;

use std::path::Path;

use aisprint_proto::v1::admin_service_client::AdminServiceClient;
use aisprint_shared::diag::Diagnostics;
use aisprint_shared::mesh::{self, ControllerConfig};
use aisprint_shared::yaml;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot reach the controller at {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("`{0}` is not a valid address")]
    BadAddress(String),
    #[error("the controller answered: {0}")]
    Status(#[from] tonic::Status),
    #[error("notification outbox: {0}")]
    Outbox(String),
}

pub(crate) fn read(path: &Path) -> Result<String, MeshError> {
    std::fs::read_to_string(path).map_err(|source| MeshError::Read { path: path.to_path_buf(), source })
}

/// Reads and checks `controller.yaml`; relative paths in it are taken from its folder.
pub fn load_config(path: &Path) -> Result<ControllerConfig, MeshError> {
    let file = path.display().to_string();
    let text = read(path)?;
    let (doc, _) = yaml::parse::<ControllerConfig>(&file, &text).map_err(MeshError::Invalid)?;
    let d = mesh::validate_controller(&doc);
    if d.has_errors() {
        return Err(MeshError::Invalid(d.sorted()));
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mut c = doc.value;
    let rel = |p: &mut Option<String>| {
        if let Some(x) = p {
            *x = base.join(&*x).display().to_string();
        }
    };
    rel(&mut c.ca);
    rel(&mut c.cert);
    rel(&mut c.key);
    c.state = base.join(&c.state).display().to_string();
    if let Some(m) = &mut c.monitoring {
        for x in m.qos_constraints.iter_mut().chain(m.monitoring_setup.iter_mut()).chain(m.outbox.iter_mut()) {
            *x = base.join(&*x).display().to_string();
        }
    }
    // The monitoring files are checked before anything starts.
    qos::QosSetup::load(&c)?;
    Ok(c)
}

/// The TLS material of a configuration (None when insecure).
pub fn tls_of(c: &ControllerConfig) -> Result<Option<serve::Tls>, MeshError> {
    if c.insecure {
        return Ok(None);
    }
    let get = |p: &Option<String>| read(Path::new(p.as_deref().unwrap_or_default()));
    Ok(Some(serve::Tls { ca: get(&c.ca)?, cert: get(&c.cert)?, key: get(&c.key)? }))
}

/// A client of the admin service, as the controller itself (its own certificate).
pub async fn admin_client(c: &ControllerConfig) -> Result<AdminServiceClient<Channel>, MeshError> {
    let tls = tls_of(c)?;
    let addr = format!("{}://{}", if tls.is_some() { "https" } else { "http" }, c.listen);
    let mut ep = Channel::from_shared(addr.clone()).map_err(|_| MeshError::BadAddress(addr.clone()))?;
    if let Some(t) = tls {
        let cfg = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(t.ca))
            .identity(Identity::from_pem(t.cert, t.key));
        ep = ep.tls_config(cfg).map_err(|source| MeshError::Connect { addr: addr.clone(), source })?;
    }
    let ch = ep
        .connect_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .map_err(|source| MeshError::Connect { addr, source })?;
    // Job listings (10,000 records with their logs' ends) exceed gRPC's default 4 MiB.
    Ok(AdminServiceClient::new(ch).max_decoding_message_size(mesh::MESSAGE_MAX_BYTES))
}
