//! `aisprint controller serve` and `validate`.

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;

use crate::cli::ControllerCommand;
use crate::error::{CmdError, Outcome};
use crate::mesh::{self, config};

pub(super) fn run(cmd: ControllerCommand) -> Result<Outcome, CmdError> {
    match cmd {
        ControllerCommand::Serve { config, insecure } => {
            let p = prepare(&config, insecure)?;
            super::block_on(serve(p.loaded, p.tls, p.addr, p.runtime))?;
        }
        ControllerCommand::Validate { config, insecure } => {
            let p = prepare(&config, insecure)?;
            let c = &p.loaded.config;
            let runtime = c.runtime.as_ref().map(|r| format!(", runtime on {}", r.application_dir)).unwrap_or_default();
            println!("{}: valid (listen {}, state {}{runtime})", config.display(), p.addr, c.state);
        }
    }
    Ok(Outcome::Done)
}

/// What `serve` needs, read and checked before anything binds.
struct Prepared {
    loaded: config::Loaded,
    tls: Option<config::Tls>,
    addr: std::net::SocketAddr,
    runtime: Option<(aisprint_model::config::RuntimeSection, mesh::runtime::app::RuntimeApp)>,
}

fn prepare(path: &Path, insecure: bool) -> Result<Prepared, CmdError> {
    let loaded = config::load(path)?;
    let c = &loaded.config;
    match (c.insecure, insecure) {
        (true, false) => {
            let m = format!("{}: insecure: true serves plain text; give --insecure as well to mean it", path.display());
            return Err(CmdError::failed(m));
        }
        (false, true) => {
            let m = format!(
                "--insecure, but {} sets up mutual TLS; set insecure: true there to serve plain text",
                path.display()
            );
            return Err(CmdError::failed(m));
        }
        _ => {}
    }
    let tls = config::tls_of(c)?;
    // The application SPACE4AI-R keeps placed, read and checked before anything binds.
    let runtime = match &c.runtime {
        Some(section) => Some((section.clone(), mesh::runtime::app::load(section).map_err(runtime_error)?)),
        None => None,
    };
    let addr: std::net::SocketAddr =
        c.listen.parse().map_err(|_| CmdError::failed(format!("bad listen address {}", c.listen)))?;
    Ok(Prepared { loaded, tls, addr, runtime })
}

async fn serve(
    loaded: config::Loaded,
    tls: Option<config::Tls>,
    addr: std::net::SocketAddr,
    runtime: Option<(aisprint_model::config::RuntimeSection, mesh::runtime::app::RuntimeApp)>,
) -> Result<(), CmdError> {
    let c = loaded.config;
    let incoming = TcpIncoming::bind(addr)
        .map_err(|e| CmdError::failed(format!("cannot listen on {addr}: {e}")))?
        .with_nodelay(Some(true));
    // The address the system gave (the port of `listen: 127.0.0.1:0`).
    let bound = incoming.local_addr().unwrap_or(addr);
    if tls.is_none() {
        eprintln!("warning: serving without TLS (insecure: true): anyone who can reach {bound} may send data");
    }
    if let Some(b) = &c.mqtt_broker {
        let listen: std::net::SocketAddr =
            b.listen.parse().map_err(|_| CmdError::failed(format!("bad mqtt_broker.listen {}", b.listen)))?;
        let users = b
            .users
            .as_deref()
            .map(mesh::broker::read_users)
            .transpose()
            .map_err(|e| CmdError::failed(e.to_string()))?;
        let tls_pair = match (b.tls, &tls) {
            (true, Some(t)) => Some((t.cert.clone().into_bytes(), t.key.clone().into_bytes())),
            (true, None) => return Err(CmdError::failed("mqtt_broker.tls: the controller serves without TLS")),
            (false, _) => None,
        };
        let (secure, login) = (tls_pair.is_some(), users.is_some());
        mesh::broker::start(mesh::broker::Settings { listen, tls: tls_pair, users })
            .await
            .map_err(|e| CmdError::failed(e.to_string()))?;
        eprintln!("controller: embedded MQTT broker on {listen} (tls: {secure}, logins: {login})");
    }
    eprintln!("controller: serving agents on {bound} (state {})", c.state);
    let retention = std::time::Duration::from_secs_f64(c.retention_hours * 3600.0);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        aisprint_runtime::signal::shutdown().await;
        stop.cancel();
    });
    mesh::serve::serve(incoming, PathBuf::from(&c.state), tls, retention, loaded.qos, runtime, cancel)
        .await
        .map_err(|e| CmdError::failed(e.to_string()))
}

fn runtime_error(e: mesh::runtime::RuntimeError) -> CmdError {
    match e {
        mesh::runtime::RuntimeError::Invalid(d) => CmdError::invalid(d),
        other => CmdError::failed(other.to_string()),
    }
}
