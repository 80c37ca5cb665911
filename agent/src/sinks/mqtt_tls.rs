//! What the MQTT sink needs to reach a broker that asks for TLS or a password, read and
//! checked with agent.yaml (a missing or bad file stops the agent before it starts, naming the
//! key): the rustls client configuration (ring, as for the controller) and the password.

use std::path::Path;
use std::sync::Arc;

use aisprint_model::config::{MqttLink, MqttTls};
use aisprint_model::diag::{Diagnostic, Diagnostics};
use aisprint_model::secret::Secret;

/// A broker link ready to use.
#[derive(Debug, Clone)]
pub struct Ready {
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// (username, password)
    pub credentials: Option<(String, Secret)>,
}

fn problem(file: &str, key: &str, message: impl Into<String>) -> Diagnostics {
    let mut d = Diagnostics::new();
    d.push(Diagnostic::error(file.to_string(), key.to_string(), message.into()));
    d
}

fn pem_certs(
    file: &str,
    key: &str,
    path: &str,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, Diagnostics> {
    let bytes = std::fs::read(path).map_err(|e| problem(file, key, format!("{path}: {e}")))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| problem(file, key, format!("{path}: not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(problem(file, key, format!("{path}: no certificate in it")));
    }
    Ok(certs)
}

fn client_config(file: &str, t: &MqttTls) -> Result<rustls::ClientConfig, Diagnostics> {
    let mut roots = rustls::RootCertStore::empty();
    match &t.ca {
        Some(ca) => {
            for c in pem_certs(file, "mqtt.tls.ca", ca)? {
                roots.add(c).map_err(|e| problem(file, "mqtt.tls.ca", format!("{ca}: {e}")))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                let _ = roots.add(c);
            }
            if roots.is_empty() {
                return Err(problem(file, "mqtt.tls", "no `ca` given and no system root certificates found"));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| problem(file, "mqtt.tls", e.to_string()))?
        .with_root_certificates(roots);
    match (&t.cert, &t.key) {
        (Some(cert), Some(key)) => {
            let chain = pem_certs(file, "mqtt.tls.cert", cert)?;
            let bytes = std::fs::read(key).map_err(|e| problem(file, "mqtt.tls.key", format!("{key}: {e}")))?;
            let k = rustls_pemfile::private_key(&mut bytes.as_slice())
                .ok()
                .flatten()
                .ok_or_else(|| problem(file, "mqtt.tls.key", format!("{key}: no private key in it (PEM)")))?;
            builder.with_client_auth_cert(chain, k).map_err(|e| problem(file, "mqtt.tls.key", e.to_string()))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// Reads what `mqtt` names (paths already resolved); `file` is agent.yaml's name for errors.
pub fn prepare(file: &str, m: &MqttLink) -> Result<Ready, Diagnostics> {
    let tls = match &m.tls {
        Some(t) => Some(Arc::new(client_config(file, t)?)),
        None => None,
    };
    let credentials = match (&m.username, &m.password_file) {
        (Some(u), Some(p)) => {
            let text =
                std::fs::read_to_string(p).map_err(|e| problem(file, "mqtt.password_file", format!("{p}: {e}")))?;
            let pw = text.lines().next().unwrap_or_default().to_string();
            if pw.is_empty() {
                return Err(problem(file, "mqtt.password_file", format!("{p}: empty (one line: the password)")));
            }
            warn_if_readable(Path::new(p));
            Some((u.clone(), Secret::new(pw)))
        }
        _ => None,
    };
    Ok(Ready { tls, credentials })
}

fn warn_if_readable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(p) {
        if m.permissions().mode() & 0o077 != 0 {
            tracing::warn!(file = %p.display(), "the MQTT password file is readable by others: chmod 600 it");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(tls: Option<MqttTls>, user: Option<&str>, pw: Option<&str>) -> MqttLink {
        MqttLink {
            host: "127.0.0.1".into(),
            port: 8883,
            topic_prefix: "aisprint".into(),
            tls,
            username: user.map(str::to_string),
            password_file: pw.map(str::to_string),
        }
    }

    #[test]
    fn files_are_read_and_every_problem_named() {
        let d = tempfile::tempdir().expect("tmp");
        let missing = d.path().join("nope.pem").display().to_string();
        let e =
            prepare("agent.yaml", &link(Some(MqttTls { ca: Some(missing.clone()), ..Default::default() }), None, None))
                .expect_err("no CA file");
        assert!(e.to_string().contains("mqtt.tls.ca") && e.to_string().contains("nope.pem"), "{e}");
        let pw = d.path().join("pw");
        std::fs::write(&pw, "").expect("write");
        let e = prepare("agent.yaml", &link(None, Some("rpi-1"), pw.to_str())).expect_err("empty");
        assert!(e.to_string().contains("mqtt.password_file") && e.to_string().contains("empty"), "{e}");
        std::fs::write(&pw, "s3cret\n").expect("write");
        let r = prepare("agent.yaml", &link(None, Some("rpi-1"), pw.to_str())).expect("credentials");
        assert!(!format!("{r:?}").contains("s3cret"), "no secret in Debug");
        let (u, p) = r.credentials.expect("some");
        assert_eq!((u.as_str(), p.expose()), ("rpi-1", "s3cret"));
    }
}
