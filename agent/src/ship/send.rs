//! Sending one file of an outbox: to another cluster's agent through the controller
//! (`AgentService.Ship`, answered once that agent stored it), or to an S3 store.

use std::sync::Arc;
use std::time::Duration;

use aisprint_model::config::SHIP_MAX_BYTES;
use aisprint_proto::v1::agent_service_client::AgentServiceClient;
use aisprint_proto::v1::ShipRequest;
use tonic::transport::Channel;

use super::outbox::Pending;
use super::s3::Stores;

/// What became of one file.
pub(super) enum Sent {
    Delivered,
    /// Refused for good (kept aside, said in the log).
    Refused(String),
    /// To send again later.
    Retry(String),
}

/// A ready way to send.
#[derive(Clone)]
pub(super) enum Target {
    Mesh(AgentServiceClient<Channel>, String),
    S3(Arc<Stores>),
}

/// How long the controller may take to hand a file over (its own wait is 30 s).
const SHIP_DEADLINE: Duration = Duration::from_secs(90);

pub(super) async fn send(t: Target, f: &Pending) -> Sent {
    let size = match tokio::fs::metadata(&f.path).await {
        Ok(m) => m.len(),
        Err(e) => return Sent::Retry(format!("{}: {e}", f.path.display())),
    };
    if matches!(t, Target::Mesh(..)) && size > SHIP_MAX_BYTES as u64 {
        return Sent::Refused(format!(
            "{size} bytes; the mesh carries files of at most {} MiB (use an S3 store for larger outputs)",
            SHIP_MAX_BYTES >> 20
        ));
    }
    let content = match tokio::fs::read(&f.path).await {
        Ok(b) => b,
        Err(e) => return Sent::Retry(format!("{}: {e}", f.path.display())),
    };
    let (mut c, node) = match t {
        Target::Mesh(c, node) => (c, node),
        Target::S3(st) => {
            return match st.upload(&f.cluster, &f.bucket, &f.name, content).await {
                Ok(()) => Sent::Delivered,
                Err(e) => Sent::Retry(e),
            }
        }
    };
    let mut req = tonic::Request::new(ShipRequest {
        node_id: node,
        cluster: f.cluster.clone(),
        bucket: f.bucket.clone(),
        name: f.name.clone(),
        content,
    });
    req.set_timeout(SHIP_DEADLINE);
    match c.ship(req).await {
        Ok(r) if r.get_ref().ok => Sent::Delivered,
        Ok(r) => Sent::Refused(r.into_inner().message),
        Err(s) => Sent::Retry(format!("{:?}: {}", s.code(), s.message())),
    }
}
