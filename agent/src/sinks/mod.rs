//! Where batches go from the buffer: the controller (gRPC) and an MQTT broker. Each sink
//! owns its connection, follows the buffer with its own cursor ([`delivery`]) and confirms
//! back; a batch leaves the buffer only when every configured sink confirmed it.

pub mod delivery;
pub mod grpc;
pub mod mqtt;
pub mod mqtt_tls;
