//! Which files one agent may ship to another, and how many bytes a sender may have on their way
//! at once.
//!
//! A `Ship` from node S into bucket B of cluster Y is taken only along an edge X -> (Y, B) of an
//! FDL, where X is a cluster S runs:
//! - the FDLs the controller applied (`services.apply`, from `oscar apply`, a campaign or
//!   SPACE4AI-R) to S: X is the applied cluster, the edge an output of its services that names
//!   Y's storage provider (`minio.Y`, `s3.Y`); what was applied to a node stays among its
//!   routes when a later apply leaves it out (the node may still ship what it made before);
//! - the receiving node's own FDL files, which it declares when it registers (the bucket is its
//!   own: it says who may write there); X runs on a node that is X, or that declared X as its
//!   `services.cluster`.
//!
//! The edges the controller applied are kept in `<state>.routes.json`, written whole and synced
//! at each apply, so that a restart of the controller does not stop a pipeline.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aisprint_model::oscar::Fdl;
use serde::{Deserialize, Serialize};

/// Bytes of files a sender may have on their way (sent to a receiver, not answered) at once.
pub const IN_FLIGHT_BYTES: u64 = 64 << 20;

/// Clusters and edges remembered at most (applied and declared), so that a flood of applies
/// or registrations cannot grow the controller without bound.
const MAX_ENTRIES: usize = 10_000;

/// What the controller applied to a node as a cluster: its outputs to other clusters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Applied {
    node: String,
    cluster: String,
    /// (to cluster, bucket)
    outputs: BTreeSet<(String, String)>,
}

/// (node, cluster) -> (to cluster, bucket) of its outputs.
type AppliedMap = BTreeMap<(String, String), BTreeSet<(String, String)>>;

#[derive(Debug, Default)]
struct Inner {
    applied: AppliedMap,
    /// Node -> the clusters it runs from its own files.
    declared: HashMap<String, BTreeSet<String>>,
    /// Node -> edges into it its own files declare: (from cluster, to cluster, bucket).
    inbound: HashMap<String, BTreeSet<(String, String, String)>>,
    /// Sender -> bytes on their way.
    in_flight: HashMap<String, u64>,
}

#[derive(Debug, Clone)]
pub struct Shipping {
    inner: Arc<Mutex<Inner>>,
    file: Option<PathBuf>,
}

/// Why a file may not be shipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "no FDL sends files from `{sender}` into bucket `{bucket}` of cluster `{cluster}` (apply one with `aisprint oscar apply`, or declare it in the receiver's FDL files)"
    )]
    NoRoute { sender: String, cluster: String, bucket: String },
    #[error("`{sender}` has {in_flight} bytes on their way already; {IN_FLIGHT_BYTES} at most: retry")]
    Quota { sender: String, in_flight: u64 },
}

/// Bytes counted against a sender while its file is on its way.
#[derive(Debug)]
pub struct Ticket {
    inner: Arc<Mutex<Inner>>,
    sender: String,
    bytes: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Ok(mut i) = self.inner.lock() {
            if let Some(n) = i.in_flight.get_mut(&self.sender) {
                *n = n.saturating_sub(self.bytes);
            }
        }
    }
}

impl Shipping {
    /// The routes kept beside the controller's state (`<state>.routes.json`); none in memory
    /// only.
    pub fn open(state: Option<&Path>) -> Shipping {
        let file = state.map(|s| {
            let mut name = s.file_name().unwrap_or_default().to_os_string();
            name.push(".routes.json");
            s.with_file_name(name)
        });
        let mut inner = Inner::default();
        if let Some(f) = &file {
            match std::fs::read(f) {
                Ok(bytes) => match serde_json::from_slice::<Vec<Applied>>(&bytes) {
                    Ok(applied) => {
                        inner.applied = applied.into_iter().map(|a| ((a.node, a.cluster), a.outputs)).collect()
                    }
                    Err(e) => {
                        tracing::error!(file = %f.display(), error = %e, "the applied routes cannot be read: files between agents wait until their FDLs are applied again")
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::error!(file = %f.display(), error = %e, "the applied routes cannot be read"),
            }
        }
        Shipping { inner: Arc::new(Mutex::new(inner)), file }
    }

    /// An FDL applied to `node` as `cluster`: its services' outputs to other clusters become
    /// routes. Written to disk before it returns (off the runtime's workers).
    pub async fn applied(&self, node: &str, cluster: &str, fdl: &str) {
        let Ok(doc) = serde_yaml::from_str::<Fdl>(fdl) else { return };
        let outputs: BTreeSet<(String, String)> =
            doc.edges().into_iter().filter(|(from, _, _)| from == cluster).map(|(_, to, b)| (to, b)).collect();
        let snapshot = {
            let Ok(mut i) = self.inner.lock() else { return };
            let key = (node.to_string(), cluster.to_string());
            if !i.applied.contains_key(&key) && i.applied.len() >= MAX_ENTRIES {
                tracing::warn!(%cluster, %node, "too many applied clusters remembered: its routes are not kept");
                return;
            }
            // Added to what was applied before: files a service made before it moved away
            // may still be in the node's outbox.
            i.applied.entry(key).or_default().extend(outputs);
            i.applied
                .iter()
                .map(|((n, c), o)| Applied { node: n.clone(), cluster: c.clone(), outputs: o.clone() })
                .collect::<Vec<_>>()
        };
        if let Some(f) = self.file.clone() {
            let written = tokio::task::spawn_blocking(move || {
                let bytes = serde_json::to_vec_pretty(&snapshot).map_err(std::io::Error::other)?;
                let dir = f.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let name = f.file_name().unwrap_or_default().to_string_lossy().to_string();
                aisprint_runtime::fsutil::write_durably(dir, &name, &bytes).map(drop)
            })
            .await;
            if !matches!(written, Ok(Ok(()))) {
                tracing::error!(?written, "the applied routes not written: they hold until the controller restarts");
            }
        }
    }

    /// What a node declared when it registered (its own FDL files).
    pub fn declared(&self, node: &str, clusters: Vec<String>, inbound: Vec<(String, String, String)>) {
        let Ok(mut i) = self.inner.lock() else { return };
        if !i.declared.contains_key(node) && i.declared.len() >= MAX_ENTRIES {
            return;
        }
        i.declared.insert(node.to_string(), clusters.into_iter().take(64).collect());
        i.inbound.insert(node.to_string(), inbound.into_iter().take(1024).collect());
    }

    /// Whether `sender` may ship `bytes` into `bucket` of `cluster` (whose agent is
    /// `receiver`); the ticket holds the bytes against the sender's quota until dropped.
    pub fn admit(
        &self,
        sender: &str,
        cluster: &str,
        receiver: &str,
        bucket: &str,
        bytes: u64,
    ) -> Result<Ticket, Refusal> {
        let mut i = self.inner.lock().map_err(|_| Refusal::Quota { sender: sender.into(), in_flight: 0 })?;
        let runs = |x: &str| {
            x == sender
                || i.applied.contains_key(&(sender.to_string(), x.to_string()))
                || i.declared.get(sender).is_some_and(|d| d.contains(x))
        };
        let edge = (cluster.to_string(), bucket.to_string());
        let applied = i.applied.iter().any(|((n, _), outputs)| n == sender && outputs.contains(&edge));
        let declared =
            i.inbound.get(receiver).is_some_and(|e| e.iter().any(|(x, to, b)| to == cluster && b == bucket && runs(x)));
        if !(applied || declared) {
            return Err(Refusal::NoRoute { sender: sender.into(), cluster: cluster.into(), bucket: bucket.into() });
        }
        let n = i.in_flight.entry(sender.to_string()).or_default();
        if *n > 0 && *n + bytes > IN_FLIGHT_BYTES {
            return Err(Refusal::Quota { sender: sender.into(), in_flight: *n });
        }
        *n += bytes;
        Ok(Ticket { inner: self.inner.clone(), sender: sender.into(), bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FDL: &str = "functions:\n  oscar:\n  - edge:\n      name: blur\n      script: b.sh\n      input: [{path: blur/in}]\n      output: [{storage_provider: minio.cloud, path: mask/in}]\n  - cloud:\n      name: mask\n      script: m.sh\n      input: [{path: mask/in}]\n      output: [{path: mask/out}]\n";

    #[tokio::test]
    async fn only_along_an_edge_and_within_the_quota() {
        let d = tempfile::tempdir().expect("tmp");
        let state = d.path().join("state.redb");
        let s = Shipping::open(Some(&state));
        assert!(matches!(s.admit("rpi-1", "cloud", "cloud", "mask/in", 1), Err(Refusal::NoRoute { .. })));
        s.applied("rpi-1", "edge", FDL).await;
        let t = s.admit("rpi-1", "cloud", "cloud", "mask/in", 1).expect("along the applied edge");
        drop(t);
        // Another bucket, another sender, another receiver cluster: no.
        assert!(s.admit("rpi-1", "cloud", "cloud", "junk/a", 1).is_err());
        assert!(s.admit("rpi-2", "cloud", "cloud", "mask/in", 1).is_err());
        assert!(s.admit("rpi-1", "edge", "edge", "blur/in", 1).is_err());
        // The quota: a first file of any size, then no more than IN_FLIGHT_BYTES together.
        let a = s.admit("rpi-1", "cloud", "cloud", "mask/in", IN_FLIGHT_BYTES - 10).expect("first");
        let e = s.admit("rpi-1", "cloud", "cloud", "mask/in", 20).expect_err("over the quota");
        assert!(e.to_string().contains("retry"), "{e}");
        drop(a);
        assert!(s.admit("rpi-1", "cloud", "cloud", "mask/in", 20).is_ok());
        // The same cluster applied to another node with other outputs: rpi-1's stay; and a
        // later apply to rpi-1 without them keeps them too.
        s.applied("rpi-1", "edge", "functions:\n  oscar: []\n").await;
        s.applied("rpi-9", "edge", "functions:\n  oscar:\n  - edge:\n      name: blur\n      script: b.sh\n      input: [{path: blur/in}]\n      output: [{path: blur/out}]\n").await;
        assert!(s.admit("rpi-1", "cloud", "cloud", "mask/in", 1).is_ok());
        assert!(s.admit("rpi-9", "cloud", "cloud", "mask/in", 1).is_err());
        // Kept across a restart.
        let again = Shipping::open(Some(&state));
        assert!(again.admit("rpi-1", "cloud", "cloud", "mask/in", 1).is_ok());
        // Declared by the receiver for a cluster the sender declared.
        let s = Shipping::open(None);
        s.declared("cloud", vec!["cloud".into()], vec![("edge".into(), "cloud".into(), "mask/in".into())]);
        assert!(s.admit("rpi-1", "cloud", "cloud", "mask/in", 1).is_err());
        s.declared("rpi-1", vec!["edge".into()], Vec::new());
        assert!(s.admit("rpi-1", "cloud", "cloud", "mask/in", 1).is_ok());
        // A sender's own declaration of edges into another node counts for nothing.
        s.declared("rpi-2", vec!["x".into()], vec![("x".into(), "cloud".into(), "junk/a".into())]);
        assert!(s.admit("rpi-2", "cloud", "cloud", "junk/a", 1).is_err());
    }
}
