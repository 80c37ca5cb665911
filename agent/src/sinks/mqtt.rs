//! The MQTT sink (docs/mqtt.md has the contract for subscribers). Batches go out at QoS 1 and
//! count as delivered only when the broker's PUBACK for their packet id comes back (rumqttc's
//! `publish` returns when the message is queued, not when it is acknowledged). A retained
//! `status` topic says `online`; the broker publishes the last will `offline` when the agent
//! disappears. The notifications a batch carries also go to `alerts`. Over TLS and with a
//! username and password when agent.yaml says so ([`super::mqtt_tls`]); the client id has a
//! part drawn at each start, so that no one who knows the node's name can take it over.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use aisprint_model::config::{AgentConfig, MqttLink};
use aisprint_proto::v1::MetricBatch;
use aisprint_runtime::backoff::Backoff;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::watch;

use super::delivery::{Delivery, WINDOW};
use super::mqtt_tls::Ready;
use crate::batch::changed;
use crate::ctx::Ctx;

pub const MQTT_SINK: &str = "mqtt";

/// Largest packet exchanged with the broker, and the largest batch payload under it.
const MAX_PACKET: usize = 4 << 20;
const MAX_PAYLOAD: usize = MAX_PACKET - 4096;

/// Topics of a node: status, metrics, backfill, alerts.
pub fn topics(prefix: &str, node: &str) -> [String; 4] {
    ["status", "metrics", "backfill", "alerts"].map(|t| format!("{prefix}/{node}/{t}"))
}

/// The AMS notifications a batch carries (their JSON bodies), for the `alerts` topic.
fn alerts(b: &MetricBatch) -> Vec<String> {
    b.points
        .iter()
        .filter(|p| p.measurement == "ams_notification")
        .filter_map(|p| p.tags.get("body").cloned())
        .collect()
}

/// The JSON payload of a batch (docs/mqtt.md).
pub fn payload(b: &MetricBatch) -> Vec<u8> {
    let points: Vec<serde_json::Value> = b
        .points
        .iter()
        .map(|p| {
            // A job's log tail may hold what a script printed, secrets included: it goes to the
            // controller (mutual TLS) only, never to a broker's subscribers.
            let tags: serde_json::Map<String, serde_json::Value> = p
                .tags
                .iter()
                .filter(|(k, _)| !(p.measurement == "oscar_job" && k.as_str() == "log"))
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            let fields: serde_json::Map<String, serde_json::Value> =
                p.fields.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect();
            serde_json::json!({"measurement": p.measurement, "tags": tags, "fields": fields})
        })
        .collect();
    serde_json::json!({
        "node": b.node_id,
        "boot_id": b.boot_id,
        "seq": b.seq,
        "time_unix_ms": b.wall_time_unix_ms,
        "monotonic_ms": b.monotonic_ms,
        "backfill": b.backfill,
        "points": points,
    })
    .to_string()
    .into_bytes()
}

/// Delivers until cancelled.
pub async fn run(ctx: Ctx, cfg: AgentConfig, link: MqttLink, ready: Ready) {
    let mut latest = ctx.batches.subscribe();
    let mut backoff = Backoff::new();
    // Drawn once per start: a client id no one can guess from the node's name.
    let client_id = format!("aisprint-agent-{}-{}", cfg.node_id, ctx.batches.boot().get(..8).unwrap_or_default());
    while !ctx.cancel.is_cancelled() {
        let Err(e) = session(&ctx, &cfg, &link, &ready, &client_id, &mut latest, &mut backoff).await else { break };
        backoff.pause(&ctx.cancel, "MQTT broker unreachable", &e).await;
    }
}

/// The connection's options: TLS and login as agent.yaml says, the last will on `status`.
fn options(link: &MqttLink, ready: &Ready, client_id: &str, status: &str) -> MqttOptions {
    let mut opts = MqttOptions::new(client_id, link.host.clone(), link.port);
    if let Some(t) = &ready.tls {
        opts.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(t.clone())));
    }
    if let Some((user, password)) = &ready.credentials {
        opts.set_credentials(user.clone(), password.expose().to_string());
    }
    opts.set_keep_alive(Duration::from_secs(10));
    // rumqttc's default is 10 KiB; a batch with every family is larger.
    opts.set_max_packet_size(MAX_PACKET, MAX_PACKET);
    opts.set_clean_session(true);
    opts.set_last_will(LastWill::new(status, "offline", QoS::AtLeastOnce, true));
    opts
}

/// What a queued publish stands for: a batch (its sequence number), the status or an alert.
#[derive(Debug, Clone, Copy)]
enum Sent {
    Batch(u64),
    Other,
}

async fn session(
    ctx: &Ctx,
    cfg: &AgentConfig,
    link: &MqttLink,
    ready: &Ready,
    client_id: &str,
    latest: &mut watch::Receiver<u64>,
    backoff: &mut Backoff,
) -> Result<(), String> {
    let cancel = &ctx.cancel;
    let [status, live_topic, backfill_topic, alerts_topic] = topics(&link.topic_prefix, &cfg.node_id);
    let (client, mut events) = AsyncClient::new(options(link, ready, client_id, &status), WINDOW * 2 + 8);

    // Wait for the broker's CONNACK before anything else.
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            e = events.poll() => match e {
                Ok(Event::Incoming(Packet::ConnAck(_))) => break,
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    backoff.reset();
    tracing::info!(host = %link.host, port = link.port, "connected to the MQTT broker");
    let mut order: VecDeque<Sent> = VecDeque::new();
    let mut by_pkid: HashMap<u16, Sent> = HashMap::new();
    client.try_publish(&status, QoS::AtLeastOnce, true, "online").map_err(|e| e.to_string())?;
    order.push_back(Sent::Other);

    let mut delivery =
        Delivery::start(MQTT_SINK, ctx.batches.buffer().clone(), cfg.backfill.batches_per_second).await?;
    let result = loop {
        tokio::select! {
            _ = cancel.cancelled() => {
                // Say goodbye ourselves (a clean disconnect does not fire the will).
                let _ = client.try_publish(&status, QoS::AtLeastOnce, true, "offline");
                let _ = tokio::time::timeout(Duration::from_millis(500), async {
                    while let Ok(ev) = events.poll().await {
                        if let Event::Incoming(Packet::PubAck(a)) = ev {
                            if let Some(Sent::Batch(seq)) = by_pkid.remove(&a.pkid) {
                                delivery.confirm(seq);
                            }
                        }
                        if order.is_empty() && by_pkid.is_empty() {
                            break;
                        }
                    }
                })
                .await;
                break Ok(());
            }
            e = events.poll() => match e {
                // Packet ids are given in the order of the publishes.
                Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                    if let Some(s) = order.pop_front() {
                        by_pkid.insert(pkid, s);
                    }
                    continue;
                }
                Ok(Event::Incoming(Packet::PubAck(a))) => {
                    if let Some(Sent::Batch(seq)) = by_pkid.remove(&a.pkid) {
                        delivery.confirm(seq);
                    }
                    if delivery.unflushed() < 256 {
                        continue;
                    }
                }
                Ok(_) => continue,
                Err(e) => break Err(e.to_string()),
            },
            _ = changed(latest) => {}
            _ = tokio::time::sleep(if delivery.busy() { Duration::from_millis(50) } else { Duration::from_secs(1) }) => {}
        }
        if let Err(e) = delivery.flush().await {
            break Err(format!("buffer: {e}"));
        }
        let newest = *latest.borrow();
        match delivery.next(newest).await {
            Ok(batches) => {
                for b in batches {
                    let topic = if b.backfill { &backfill_topic } else { &live_topic };
                    let body = payload(&b);
                    if body.len() > MAX_PAYLOAD {
                        // Only a batch stored by an older agent can be this large; sending it
                        // would end the session, and every next one, on it.
                        tracing::error!(
                            seq = b.seq,
                            bytes = body.len(),
                            limit = MAX_PAYLOAD,
                            "a batch too large for MQTT: skipped on this sink"
                        );
                        delivery.confirm(b.seq);
                        continue;
                    }
                    for a in alerts(&b).into_iter().filter(|_| !b.backfill) {
                        if client.try_publish(&alerts_topic, QoS::AtLeastOnce, false, a).is_ok() {
                            order.push_back(Sent::Other);
                        }
                    }
                    if let Err(e) = client.try_publish(topic, QoS::AtLeastOnce, false, body) {
                        tracing::warn!(error = %e, "MQTT queue full");
                        break;
                    }
                    order.push_back(Sent::Batch(b.seq));
                }
            }
            Err(e) => break Err(format!("buffer: {e}")),
        }
    };
    let _ = delivery.flush().await;
    result
}
