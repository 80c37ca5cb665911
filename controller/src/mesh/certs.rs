//! The mesh's certificates: a CA of its own, the controller's certificate (server), the
//! operators' (client, `admin:<name>`: the admin service takes only those) and one per agent
//! (client, named after its node); and the list of revoked ones (`revoked.txt`: the SHA-256
//! of each certificate and its name), which the controller reads at each connection. Keys are
//! written readable by their owner only and never printed.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// The common name of the controller's certificate.
pub const CONTROLLER_NAME: &str = "controller";

/// An operator's certificate names `admin:<name>` (`:` is in no node id).
pub const ADMIN_PREFIX: &str = "admin:";

/// The operator `init` makes a certificate for (admin.pem).
pub const DEFAULT_ADMIN: &str = "operator";

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
    // The mode above applies to a new file only: an older key replaced (--force) loses the
    // mode it had.
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
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
    let mut written: Vec<PathBuf> = files.into_iter().map(|f| f.0).collect();
    written.extend(issue_admin(dir, None)?.files);
    Ok(Written { files: written })
}

/// The files of an operator's certificate: admin.pem for the default one, admin-<name>.pem.
fn admin_files(name: Option<&str>) -> (String, String) {
    match name {
        None => ("admin.pem".into(), "admin.key".into()),
        Some(n) => (format!("admin-{n}.pem"), format!("admin-{n}.key")),
    }
}

/// Issues an operator's certificate (client only, `admin:<name>`).
pub fn issue_admin(dir: &Path, name: Option<&str>) -> Result<Written, CertError> {
    if let Some(n) = name {
        if !aisprint_model::config::valid_name(n) {
            return Err(CertError::BadName(n.to_string()));
        }
    }
    let (pem, key) = admin_files(name);
    signed_client(dir, &format!("{ADMIN_PREFIX}{}", name.unwrap_or(DEFAULT_ADMIN)), None, &pem, &key)
}

/// Issues the certificate of agent `node` (`<node>.pem`, `<node>.key` in `dir`), signed by
/// the CA that `init` made there.
pub fn issue(dir: &Path, node: &str) -> Result<Written, CertError> {
    if !aisprint_model::config::valid_name(node) || node == CONTROLLER_NAME {
        return Err(CertError::BadName(node.to_string()));
    }
    signed_client(dir, node, Some(node), &format!("{node}.pem"), &format!("{node}.key"))
}

/// A client certificate named `cn` (with `node` as its alternative name), signed by the CA of
/// `dir`, written as `pem` and `key` there.
fn signed_client(dir: &Path, cn: &str, node: Option<&str>, pem: &str, key_file: &str) -> Result<Written, CertError> {
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
    p.distinguished_name = name(cn);
    p.subject_alt_names = node.map(san).transpose()?.into_iter().collect();
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = p.signed_by(&key, &issuer).map_err(rc("signing the certificate"))?;
    let files = vec![(dir.join(pem), cert.pem(), false), (dir.join(key_file), key.serialize_pem(), true)];
    for (path, text, secret) in &files {
        write(path, text, *secret)?;
    }
    Ok(Written { files: files.into_iter().map(|f| f.0).collect() })
}

/// The SHA-256 of a DER certificate, in hex: how `revoked.txt` names it.
pub fn fingerprint(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Adds the certificate of `node` (or an operator's, `admin`) in `dir` to `dir/revoked.txt`.
pub fn revoke(dir: &Path, node: Option<&str>, admin: bool) -> Result<Written, CertError> {
    let pem = match (node, admin) {
        (n, true) => admin_files(n).0,
        (Some(n), false) if aisprint_model::config::valid_name(n) => format!("{n}.pem"),
        (n, false) => return Err(CertError::BadName(n.unwrap_or_default().to_string())),
    };
    let path = dir.join(&pem);
    let text = std::fs::read(&path).map_err(|source| CertError::Read {
        path: path.clone(),
        dir: dir.display().to_string(),
        source,
    })?;
    let der =
        rustls_pemfile::certs(&mut text.as_slice()).next().and_then(Result::ok).ok_or_else(|| CertError::Read {
            path: path.clone(),
            dir: dir.display().to_string(),
            source: std::io::Error::other("no certificate in it"),
        })?;
    let cn = common_name(der.as_ref()).unwrap_or_default();
    let list = dir.join("revoked.txt");
    let mut all = std::fs::read_to_string(&list).unwrap_or_default();
    let line = format!(
        "{} {cn}
",
        fingerprint(der.as_ref())
    );
    if !all.contains(&line) {
        all.push_str(&line);
    }
    write(&list, &all, false)?;
    Ok(Written { files: vec![list] })
}

/// A file's modification time and length: read again when either changes.
type Stamp = (std::time::SystemTime, u64);

/// The revoked certificates the controller reads (`revoked.txt`): read again when the file
/// changes, so that a revocation takes effect at the next connection without a restart.
#[derive(Debug)]
pub struct Revoked {
    path: Option<PathBuf>,
    cache: std::sync::Mutex<(Option<Stamp>, std::collections::HashSet<String>)>,
}

impl Revoked {
    pub fn new(path: Option<PathBuf>) -> Revoked {
        Revoked { path, cache: std::sync::Mutex::new((None, Default::default())) }
    }

    /// Whether the certificate (DER) is on the list.
    pub fn contains(&self, der: &[u8]) -> bool {
        let Some(path) = &self.path else { return false };
        let Ok(mut c) = self.cache.lock() else { return true };
        let modified = std::fs::metadata(path).and_then(|m| Ok((m.modified()?, m.len()))).ok();
        if modified != c.0 {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            c.1 = text.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_lowercase).collect();
            c.0 = modified;
        }
        c.1.contains(&fingerprint(der))
    }
}

/// The common name of a DER certificate.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?.to_string();
    Some(cn)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn keys_stay_private_and_revocations_are_listed() {
        let d = tempfile::tempdir().expect("tmp");
        init(d.path(), &["127.0.0.1".into()], false).expect("init");
        let key = d.path().join("ca.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        init(d.path(), &["127.0.0.1".into()], true).expect("init --force");
        assert_eq!(std::fs::metadata(&key).expect("key").permissions().mode() & 0o777, 0o600);
        assert!(d.path().join("admin.pem").exists() && d.path().join("admin.key").exists());
        issue(d.path(), "rpi-1").expect("issue");
        let list = Revoked::new(Some(d.path().join("revoked.txt")));
        let der = |f: &str| {
            let pem = std::fs::read(d.path().join(f)).expect("pem");
            let der: Vec<u8> = rustls_pemfile::certs(&mut pem.as_slice()).next().expect("one").expect("cert").to_vec();
            der
        };
        assert!(!list.contains(&der("rpi-1.pem")));
        revoke(d.path(), Some("rpi-1"), false).expect("revoke");
        assert!(list.contains(&der("rpi-1.pem")), "read again once the file changed");
        assert!(!list.contains(&der("admin.pem")));
        issue(d.path(), "rpi-1").expect("a new one");
        assert!(!list.contains(&der("rpi-1.pem")), "a new certificate is not revoked");
        assert_eq!(common_name(&der("admin.pem")).as_deref(), Some("admin:operator"));
        assert!(matches!(revoke(d.path(), Some("../x"), false), Err(CertError::BadName(_))));
    }
}
