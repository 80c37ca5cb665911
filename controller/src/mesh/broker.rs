//! The MQTT broker the controller can embed (rumqttd), so that one machine runs the whole
//! mesh without installing a broker: MQTT 3.1.1 on the configured address.
//!
//! - `tls: true`: TLS with the controller's own certificate, terminated here (rustls with
//!   ring, as for gRPC) in front of rumqttd, which then listens on a loopback port only.
//! - `users: FILE`: every client logs in with a name and password of the file; an agent's
//!   client id (`aisprint-agent-<node>-...`) is taken only by the user of that node's name, so
//!   no other login can knock an agent off.
//!
//! What rumqttd cannot do: topic permissions per user (docs/mqtt.md shows Mosquitto with an
//! ACL for that).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use aisprint_model::secret::Secret;

/// Connections at once at most (rumqttd's router, and the TLS front).
pub const MAX_CONNECTIONS: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("embedded MQTT broker: {0}")]
    Config(String),
    #[error("embedded MQTT broker: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("mqtt_broker.users: {file}: {message}")]
    Users { file: String, message: String },
}

/// What the broker is started with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// The controller's certificate chain and key (PEM), for `tls: true`.
    pub tls: Option<(Vec<u8>, Vec<u8>)>,
    /// name -> password, for `users`.
    pub users: Option<HashMap<String, Secret>>,
}

/// Reads a users file: `name:password` lines; `#` starts a comment.
pub fn read_users(file: &str) -> Result<HashMap<String, Secret>, BrokerError> {
    let bad = |message: String| BrokerError::Users { file: file.to_string(), message };
    let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
    let mut out = HashMap::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let Some((name, pw)) = l.split_once(':') else {
            return Err(bad(format!("line {}: expected `name:password`", i + 1)));
        };
        if name.is_empty() || pw.is_empty() {
            return Err(bad(format!("line {}: an empty name or password", i + 1)));
        }
        out.insert(name.to_string(), Secret::new(pw));
    }
    if out.is_empty() {
        return Err(bad("no user in it".into()));
    }
    Ok(out)
}

/// Whether a login may connect: a known name with its password (compared in constant time), and
/// an agent's client id only under that agent's own name.
fn allowed(users: &HashMap<String, Secret>, client_id: &str, user: &str, password: &str) -> bool {
    let Some(want) = users.get(user) else { return false };
    let (a, b) = (want.expose().as_bytes(), password.as_bytes());
    let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0;
    let agent_id_ok = match client_id.strip_prefix("aisprint-agent-") {
        Some(rest) => rest.strip_prefix(user).is_some_and(|r| r.is_empty() || r.starts_with('-')),
        None => true,
    };
    same && agent_id_ok
}

/// Starts the broker (its own thread) and, with TLS, the front that terminates it (a task);
/// they run until the process ends.
pub async fn start(s: Settings) -> Result<(), BrokerError> {
    let inner = match &s.tls {
        None => s.listen,
        Some(_) => {
            // rumqttd on a loopback port of its own, reached only through the TLS front.
            let l = std::net::TcpListener::bind("127.0.0.1:0")
                .map_err(|source| BrokerError::Bind { addr: s.listen, source })?;
            l.local_addr().map_err(|source| BrokerError::Bind { addr: s.listen, source })?
        }
    };
    // rumqttd's configuration, in the shape of its documented TOML file.
    let cfg = serde_json::json!({
        "id": 0,
        "router": {
            "max_connections": MAX_CONNECTIONS,
            "max_outgoing_packet_count": 200,
            "max_segment_size": 16 << 20,
            "max_segment_count": 10
        },
        "v4": {
            "1": {
                "name": "aisprint-v4",
                "listen": inner.to_string(),
                "next_connection_delay_ms": 1,
                "connections": {
                    "connection_timeout_ms": 10000,
                    "max_payload_size": 4194304,
                    "max_inflight_count": 1024,
                    "dynamic_filters": true
                }
            }
        }
    });
    let mut config: rumqttd::Config = serde_json::from_value(cfg).map_err(|e| BrokerError::Config(e.to_string()))?;
    if let Some(users) = s.users.clone() {
        let users = Arc::new(users);
        for server in config.v4.iter_mut().flat_map(|m| m.values_mut()) {
            let users = users.clone();
            server.set_auth_handler(move |client_id: String, user: String, password: String| {
                let ok = allowed(&users, &client_id, &user, &password);
                if !ok {
                    tracing::warn!(%client_id, %user, "MQTT login refused");
                }
                std::future::ready(ok)
            });
        }
    }
    if let Some((cert, key)) = &s.tls {
        let acceptor = acceptor(cert, key)?;
        let front = tokio::net::TcpListener::bind(s.listen)
            .await
            .map_err(|source| BrokerError::Bind { addr: s.listen, source })?;
        tokio::spawn(tls_front(front, acceptor, inner));
    }
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "the embedded MQTT broker stopped");
            }
        })
        .map_err(|e| BrokerError::Config(e.to_string()))?;
    Ok(())
}

fn acceptor(cert: &[u8], key: &[u8]) -> Result<tokio_rustls::TlsAcceptor, BrokerError> {
    let bad = |e: String| BrokerError::Config(format!("TLS: {e}"));
    let chain: Vec<_> =
        rustls_pemfile::certs(&mut &cert[..]).collect::<Result<_, _>>().map_err(|e| bad(e.to_string()))?;
    let key = rustls_pemfile::private_key(&mut &key[..])
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| bad("no private key".into()))?;
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| bad(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// Accepts TLS connections and joins each to rumqttd's loopback port, at most
/// [`MAX_CONNECTIONS`] at once; a handshake has 10 s.
async fn tls_front(front: tokio::net::TcpListener, acceptor: tokio_rustls::TlsAcceptor, inner: SocketAddr) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((tcp, peer)) = front.accept().await else { continue };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "MQTT connection refused: {MAX_CONNECTIONS} open already");
            continue;
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let tls = match tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(t)) => t,
                _ => return,
            };
            let Ok(plain) = tokio::net::TcpStream::connect(inner).await else { return };
            let (mut a, mut b) = (tls, plain);
            let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_and_agent_client_ids() {
        let users: HashMap<String, Secret> =
            [("rpi-1".to_string(), Secret::new("p1")), ("grafana".to_string(), Secret::new("g"))].into();
        assert!(allowed(&users, "aisprint-agent-rpi-1-3f2a", "rpi-1", "p1"));
        assert!(!allowed(&users, "aisprint-agent-rpi-1-3f2a", "rpi-1", "p2"), "a wrong password");
        assert!(!allowed(&users, "aisprint-agent-rpi-1-3f2a", "grafana", "g"), "another's agent id");
        assert!(!allowed(&users, "aisprint-agent-rpi-10-3f2a", "rpi-1", "p1"), "a longer node name");
        assert!(allowed(&users, "dashboard", "grafana", "g"));
        assert!(!allowed(&users, "dashboard", "nobody", "g"));
        let d = tempfile::tempdir().expect("tmp");
        let f = d.path().join("users");
        std::fs::write(&f, "# agents\nrpi-1:p1\nbad line\n").expect("write");
        let e = read_users(f.to_str().expect("path")).expect_err("bad line");
        assert!(e.to_string().contains("line 3: expected `name:password`"), "{e}");
        assert!(!e.to_string().contains("p1"));
    }
}
