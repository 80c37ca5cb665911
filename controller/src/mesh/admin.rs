//! The operator's client of the controller's admin service, connected with the controller's
//! own certificate: what `agents list`, `metrics tail`, `qos status`, `oscar` and the
//! campaigns use to reach the agents.

use std::path::Path;
use std::time::{Duration, Instant};

use aisprint_model::config::{ControllerConfig, MESSAGE_MAX_BYTES};
use aisprint_proto::commands::AgentCommand;
use aisprint_proto::v1::admin_service_client::AdminServiceClient;
use aisprint_proto::v1::{CommandResultReply, CommandResultRequest, JobInfo, ListJobsRequest};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use super::{config, MeshError};

/// A connected admin client.
pub type AdminClient = AdminServiceClient<Channel>;

/// What the admin service answered, or could not.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", .status.message())]
pub struct AdminError {
    /// What was asked (`services.apply to edge-1`, `list the jobs of svc`).
    pub what: String,
    #[source]
    pub status: tonic::Status,
}

fn failed(what: impl Into<String>) -> impl FnOnce(tonic::Status) -> AdminError {
    let what = what.into();
    move |status| AdminError { what, status }
}

/// Connects to the controller of `controller.yaml` as its operator (controller.yaml's
/// `admin_cert` and `admin_key`).
pub async fn connect(c: &ControllerConfig) -> Result<AdminClient, MeshError> {
    if c.listen.parse::<std::net::SocketAddr>().is_ok_and(|a| a.port() == 0) {
        // `listen: ...:0` lets the controller take any free port; it says which when it starts.
        return Err(MeshError::BadAddress(format!(
            "{} (port 0: write in listen: the port `controller serve` said it serves on)",
            c.listen
        )));
    }
    let tls = config::admin_tls_of(c)?;
    let addr = format!("{}://{}", if tls.is_some() { "https" } else { "http" }, c.listen);
    let mut ep = Channel::from_shared(addr.clone()).map_err(|_| MeshError::BadAddress(addr.clone()))?;
    if let Some(t) = tls {
        let cfg = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(t.ca))
            .identity(Identity::from_pem(t.cert, t.key));
        ep = ep.tls_config(cfg).map_err(|source| MeshError::Connect { addr: addr.clone(), source })?;
    }
    let ch = ep
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|source| MeshError::Connect { addr, source })?;
    // Job listings (10,000 records with their logs' ends) exceed gRPC's default 4 MiB.
    Ok(AdminServiceClient::new(ch).max_decoding_message_size(MESSAGE_MAX_BYTES))
}

/// Reads `controller.yaml` and connects.
pub async fn connect_with(config: &Path) -> Result<AdminClient, MeshError> {
    connect(&config::read(config)?).await
}

/// Sends a command to the agent of `node`: its id, or `None` when no agent of that node id
/// is connected.
pub async fn send(admin: &mut AdminClient, node: &str, cmd: &AgentCommand) -> Result<Option<String>, AdminError> {
    let r = admin
        .send_command(cmd.to_request(node))
        .await
        .map_err(failed(format!("{} to {node}", cmd.kind())))?
        .into_inner();
    Ok(r.sent.then_some(r.command_id))
}

/// The agent's answer to a command, waited for at most `limit`; `None` when none came.
pub async fn answer(
    admin: &mut AdminClient,
    id: &str,
    limit: Duration,
) -> Result<Option<CommandResultReply>, AdminError> {
    let start = Instant::now();
    loop {
        let r = admin
            .command_result(CommandResultRequest { command_id: id.to_string() })
            .await
            .map_err(failed(format!("the answer to command {id}")))?
            .into_inner();
        if r.known {
            return Ok(Some(r));
        }
        if start.elapsed() > limit {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The latest `limit` job records of `service` (every service when empty) the controller
/// keeps, oldest first.
pub async fn jobs(admin: &mut AdminClient, service: &str, limit: u32) -> Result<Vec<JobInfo>, AdminError> {
    let r = admin
        .list_jobs(ListJobsRequest { service: service.to_string(), limit })
        .await
        .map_err(failed(format!("list the jobs of {service}")))?
        .into_inner();
    Ok(r.jobs)
}
