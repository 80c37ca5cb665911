//! The MQTT broker the controller can embed (rumqttd), so that one machine runs the whole
//! mesh without installing a broker. Plain MQTT 3.1.1 on the configured address.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("embedded MQTT broker: {0}")]
    Config(String),
}

/// Starts the broker on its own thread; it runs until the process ends.
pub fn start(listen: SocketAddr) -> Result<std::thread::JoinHandle<()>, BrokerError> {
    // rumqttd's configuration, in the shape of its documented TOML file.
    let cfg = serde_json::json!({
        "id": 0,
        "router": {
            "max_connections": 10010,
            "max_outgoing_packet_count": 200,
            "max_segment_size": 104857600,
            "max_segment_count": 10
        },
        "v4": {
            "1": {
                "name": "aisprint-v4",
                "listen": listen.to_string(),
                "next_connection_delay_ms": 1,
                "connections": {
                    "connection_timeout_ms": 60000,
                    "max_payload_size": 4194304,
                    "max_inflight_count": 1024,
                    "dynamic_filters": true
                }
            }
        }
    });
    let config: rumqttd::Config = serde_json::from_value(cfg).map_err(|e| BrokerError::Config(e.to_string()))?;
    let handle = std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            let mut broker = rumqttd::Broker::new(config);
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "the embedded MQTT broker stopped");
            }
        })
        .map_err(|e| BrokerError::Config(e.to_string()))?;
    Ok(handle)
}
