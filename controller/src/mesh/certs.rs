//! The mesh's certificates: a CA of its own, the controller's certificate (server, and client
//! for the operator's commands) and one per agent (client, named after its node). Keys are
//! written readable by their owner only and never printed.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// The common name of the controller's certificate (also what the admin service accepts).
pub const CONTROLLER_NAME: &str = "controller";

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source} (run `aisprint certs init --dir {dir}` first)")]
    Read {
        path: PathBuf,
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Rcgen {
        what: String,
        #[source]
        source: rcgen::Error,
    },
    #[error(
        "{path} exists already; use --force to replace the mesh's certificates (every agent then needs a new one)"
    )]
    Exists { path: PathBuf },
    #[error("`{0}` is not a valid node id: use letters, digits, `-`, `_` and `.` (not first) (1 to 64 characters)")]
    BadName(String),
}

fn rc(what: &str) -> impl FnOnce(rcgen::Error) -> CertError + '_ {
    move |source| CertError::Rcgen { what: what.to_string(), source }
}

fn write(path: &Path, text: &str, secret: bool) -> Result<(), CertError> {
    let err = |source| CertError::Write { path: path.to_path_buf(), source };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let _ = secret;
    let mut f = opts.open(path).map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "AI-SPRINT mesh");
    dn.push(DnType::CommonName, cn);
    dn
}

fn san(host: &str) -> Result<SanType, CertError> {
    Ok(match host.parse::<IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => SanType::DnsName(host.try_into().map_err(rc("a host name"))?),
    })
}

/// What `init` wrote.
#[derive(Debug)]
pub struct Written {
    pub files: Vec<PathBuf>,
}

/// Creates the CA and the controller's certificate in `dir`, the controller reachable as
/// `hosts` (names or addresses).
pub fn init(dir: &Path, hosts: &[String], force: bool) -> Result<Written, CertError> {
    std::fs::create_dir_all(dir).map_err(|source| CertError::Write { path: dir.to_path_buf(), source })?;
    let ca_path = dir.join("ca.pem");
    if ca_path.exists() && !force {
        return Err(CertError::Exists { path: ca_path });
    }
    let ca_key = KeyPair::generate().map_err(rc("generating the CA key"))?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = name("AI-SPRINT mesh CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).map_err(rc("signing the CA"))?;
    let issuer = Issuer::new(ca, &ca_key);

    let ctl_key = KeyPair::generate().map_err(rc("generating the controller key"))?;
    let mut p = CertificateParams::default();
    p.distinguished_name = name(CONTROLLER_NAME);
    p.subject_alt_names = hosts.iter().map(|h| san(h)).collect::<Result<_, _>>()?;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    let ctl = p.signed_by(&ctl_key, &issuer).map_err(rc("signing the controller certificate"))?;

    let files = vec![
        (ca_path, ca_cert.pem(), false),
        (dir.join("ca.key"), ca_key.serialize_pem(), true),
        (dir.join("controller.pem"), ctl.pem(), false),
        (dir.join("controller.key"), ctl_key.serialize_pem(), true),
    ];
    for (path, text, secret) in &files {
        write(path, text, *secret)?;
    }
    Ok(Written { files: files.into_iter().map(|f| f.0).collect() })
}

/// Issues the certificate of agent `node` (`<node>.pem`, `<node>.key` in `dir`), signed by
/// the CA that `init` made there.
pub fn issue(dir: &Path, node: &str) -> Result<Written, CertError> {
    if !aisprint_model::config::valid_name(node) || node == CONTROLLER_NAME {
        return Err(CertError::BadName(node.to_string()));
    }
    let read = |f: &str| {
        let path = dir.join(f);
        std::fs::read_to_string(&path).map_err(|source| CertError::Read {
            path,
            dir: dir.display().to_string(),
            source,
        })
    };
    let ca_key = KeyPair::from_pem(&read("ca.key")?).map_err(rc("reading the CA key"))?;
    let issuer = Issuer::from_ca_cert_pem(&read("ca.pem")?, ca_key).map_err(rc("reading the CA certificate"))?;
    let key = KeyPair::generate().map_err(rc("generating the node key"))?;
    let mut p = CertificateParams::default();
    p.distinguished_name = name(node);
    p.subject_alt_names = vec![san(node)?];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = p.signed_by(&key, &issuer).map_err(rc("signing the node certificate"))?;
    let files = vec![
        (dir.join(format!("{node}.pem")), cert.pem(), false),
        (dir.join(format!("{node}.key")), key.serialize_pem(), true),
    ];
    for (path, text, secret) in &files {
        write(path, text, *secret)?;
    }
    Ok(Written { files: files.into_iter().map(|f| f.0).collect() })
}

/// The common name of a DER certificate.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?.to_string();
    Some(cn)
}
