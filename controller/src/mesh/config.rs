//! `controller.yaml`, read once before anything starts: parsed and checked, its relative
//! paths taken from its folder, and the files it names read and checked too: the TLS
//! material and the monitoring section's files (`QosSetup`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use aisprint_runtime::outbox::Outbox;

use aisprint_model::config::{self, ControllerConfig};
use aisprint_model::yaml;

use super::MeshError;

/// A file the configuration names, as text.
pub(crate) fn read_file(path: &Path) -> Result<String, MeshError> {
    std::fs::read_to_string(path).map_err(|source| MeshError::Read { path: path.to_path_buf(), source })
}

/// The configuration and the monitoring files it names, checked.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: ControllerConfig,
    /// The `monitoring` section's files (None without the section).
    pub qos: Option<QosSetup>,
}

/// Reads and checks `controller.yaml` and the files it names: what `controller serve` runs.
pub fn load(path: &Path) -> Result<Loaded, MeshError> {
    let config = read(path)?;
    let qos = QosSetup::load(&config)?;
    Ok(Loaded { config, qos })
}

/// Reads and checks `controller.yaml` alone (its address and certificates are what the
/// operator's commands need); relative paths in it are taken from its folder.
pub fn read(path: &Path) -> Result<ControllerConfig, MeshError> {
    let file = path.display().to_string();
    let text = read_file(path)?;
    let (doc, _) = yaml::parse::<ControllerConfig>(&file, &text).map_err(MeshError::Invalid)?;
    let d = config::validate_controller(&doc);
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
    rel(&mut c.admin_cert);
    rel(&mut c.admin_key);
    rel(&mut c.revoked);
    // The operator's certificate and the revocation list live beside the CA by default.
    let beside_ca = |f: &str| c.ca.as_ref().map(|ca| Path::new(ca).with_file_name(f).display().to_string());
    c.admin_cert = c.admin_cert.take().or_else(|| beside_ca("admin.pem"));
    c.admin_key = c.admin_key.take().or_else(|| beside_ca("admin.key"));
    c.revoked = c.revoked.take().or_else(|| beside_ca("revoked.txt"));
    c.state = base.join(&c.state).display().to_string();
    if let Some(r) = &mut c.runtime {
        r.application_dir = base.join(&r.application_dir).display().to_string();
    }
    if let Some(m) = &mut c.monitoring {
        for x in m.qos_constraints.iter_mut().chain(m.monitoring_setup.iter_mut()).chain(m.outbox.iter_mut()) {
            *x = base.join(&*x).display().to_string();
        }
    }
    Ok(c)
}

/// The TLS material of a configuration (None when insecure).
pub fn tls_of(c: &ControllerConfig) -> Result<Option<Tls>, MeshError> {
    if c.insecure {
        return Ok(None);
    }
    let get = |p: &Option<String>| read_file(Path::new(p.as_deref().unwrap_or_default()));
    Ok(Some(Tls {
        ca: get(&c.ca)?,
        cert: get(&c.cert)?,
        key: get(&c.key)?,
        revoked: c.revoked.as_ref().map(PathBuf::from),
    }))
}

/// The operator's TLS material (the CA, and the admin certificate and key instead of the
/// controller's): what the commands that talk to a running controller present.
pub fn admin_tls_of(c: &ControllerConfig) -> Result<Option<Tls>, MeshError> {
    if c.insecure {
        return Ok(None);
    }
    let get = |p: &Option<String>, what: &str| {
        let path = Path::new(p.as_deref().unwrap_or_default());
        std::fs::read_to_string(path).map_err(|source| MeshError::Admin {
            path: path.to_path_buf(),
            what: what.to_string(),
            source,
        })
    };
    let ca = read_file(Path::new(c.ca.as_deref().unwrap_or_default()))?;
    Ok(Some(Tls { ca, cert: get(&c.admin_cert, "admin_cert")?, key: get(&c.admin_key, "admin_key")?, revoked: None }))
}

/// TLS material (PEM) for serving.
#[derive(Debug, Clone)]
pub struct Tls {
    pub ca: String,
    pub cert: String,
    pub key: String,
    /// The revocation list the server reads at each connection.
    pub revoked: Option<PathBuf>,
}

/// What the monitoring section of `controller.yaml` names, read and checked.
#[derive(Debug, Clone, Default)]
pub struct QosSetup {
    pub loaded: aisprint_ams::Loaded,
    pub endpoint: Option<String>,
    pub http: Option<SocketAddr>,
    pub outbox: PathBuf,
}

impl QosSetup {
    /// `Ok(None)` without a monitoring section; paths are already resolved.
    pub fn load(c: &ControllerConfig) -> Result<Option<QosSetup>, MeshError> {
        let Some(m) = &c.monitoring else { return Ok(None) };
        let read = |p: &str| read_file(Path::new(p)).map(|t| (p.to_string(), t));
        let ms = m.monitoring_setup.as_deref().map(read).transpose()?;
        let qos = m.qos_constraints.iter().map(|p| read(p)).collect::<Result<Vec<_>, _>>()?;
        let (loaded, warnings) = aisprint_ams::load(ms.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), None, &qos)
            .map_err(MeshError::Invalid)?;
        for w in warnings.warnings() {
            tracing::warn!("{w}");
        }
        let endpoint = m.notification_endpoint.clone().or_else(|| loaded.monitoring.default_endpoint.clone());
        let outbox =
            m.outbox.clone().map(PathBuf::from).unwrap_or_else(|| Outbox::beside(Path::new(&c.state), "controller"));
        let http = m.http.as_deref().and_then(|h| h.parse().ok());
        Ok(Some(QosSetup { loaded, endpoint, http, outbox }))
    }
}
