//! The agent's connection to the controller (mutual TLS unless the config says insecure),
//! for the gRPC sink and the shipper, each of which owns its own.

use std::time::Duration;

use aisprint_model::config::{AgentConfig, MESSAGE_MAX_BYTES};
use aisprint_proto::v1::agent_service_client::AgentServiceClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// Connects to the controller; the error says why, without any key material.
pub async fn connect(cfg: &AgentConfig) -> Result<AgentServiceClient<Channel>, String> {
    let c = &cfg.controller;
    let mut ep = Channel::from_shared(c.address.clone()).map_err(|e| e.to_string())?;
    if !c.insecure {
        let read = |p: &Option<String>| {
            let p = p.as_deref().unwrap_or_default();
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"))
        };
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&c.ca)?))
            .identity(Identity::from_pem(read(&c.cert)?, read(&c.key)?));
        ep = ep.tls_config(tls).map_err(|e| e.to_string())?;
    }
    let channel = ep
        .connect_timeout(Duration::from_secs(5))
        .tcp_keepalive(Some(Duration::from_secs(30)))
        .connect()
        .await
        .map_err(|e| format!("{e}: {}", std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default()))?;
    Ok(AgentServiceClient::new(channel)
        .max_decoding_message_size(MESSAGE_MAX_BYTES)
        .max_encoding_message_size(MESSAGE_MAX_BYTES))
}
