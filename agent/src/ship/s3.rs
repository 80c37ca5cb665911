//! S3-compatible stores (MinIO, Amazon S3) for the services' buckets, through `object_store`
//! (request signing, retries and the S3 API are that crate's): outputs are uploaded from the
//! outbox by the shipper, and an input folder in a store is mirrored into the service's local
//! input folder, where the watcher takes each file as a job.
//!
//! Paths are the FDL's `<bucket>/<folder>`. The secret key stays in the store's client; no
//! error or log line carries it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aisprint_model::config::S3Store;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, PutPayload};
use tokio_util::sync::CancellationToken;

/// The configured stores, with one client per (provider, bucket) made on first use.
pub struct Stores {
    conf: BTreeMap<String, S3Store>,
    clients: Mutex<HashMap<(String, String), Arc<dyn ObjectStore>>>,
}

/// `bucket/folder/more` -> (`bucket`, `folder/more`).
pub fn split(path: &str) -> (&str, &str) {
    let p = path.trim_matches('/');
    p.split_once('/').unwrap_or((p, ""))
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The stores' settings print without their secret keys (S3Store's Debug).
        f.debug_struct("Stores").field("conf", &self.conf).finish_non_exhaustive()
    }
}

/// The stores of agent.yaml's `services.s3`; None when it names none.
pub fn open(conf: &BTreeMap<String, S3Store>) -> Option<Arc<Stores>> {
    (!conf.is_empty()).then(|| Arc::new(Stores::new(conf.clone())))
}

impl Stores {
    fn new(conf: BTreeMap<String, S3Store>) -> Stores {
        Stores { conf, clients: Mutex::new(HashMap::new()) }
    }

    /// The providers served.
    pub fn providers(&self) -> std::collections::BTreeSet<String> {
        self.conf.keys().cloned().collect()
    }

    pub fn poll(&self, provider: &str) -> Duration {
        Duration::from_secs_f64(self.conf.get(provider).map_or(1.0, |c| c.poll_s))
    }

    /// The client of `bucket` in the store of `provider`.
    pub fn client(&self, provider: &str, bucket: &str) -> Result<Arc<dyn ObjectStore>, String> {
        let key = (provider.to_string(), bucket.to_string());
        if let Some(c) = self.clients.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(c);
        }
        let conf = self.conf.get(provider).ok_or_else(|| format!("no store configured for `{provider}`"))?;
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&conf.region)
            .with_access_key_id(&conf.access_key)
            .with_secret_access_key(&conf.secret_key);
        if let Some(e) = &conf.endpoint {
            // MinIO and its kin: path-style requests to the given server.
            b = b.with_endpoint(e).with_allow_http(e.starts_with("http://")).with_virtual_hosted_style_request(false);
        }
        let c: Arc<dyn ObjectStore> =
            Arc::new(b.build().map_err(|e| format!("store `{provider}`, bucket `{bucket}`: {e}"))?);
        if let Ok(mut m) = self.clients.lock() {
            m.insert(key, c.clone());
        }
        Ok(c)
    }

    /// Uploads `content` as `<folder>/<name>` in the bucket of `path`.
    pub async fn upload(&self, provider: &str, path: &str, name: &str, content: Vec<u8>) -> Result<(), String> {
        let (bucket, folder) = split(path);
        let client = self.client(provider, bucket)?;
        let key = if folder.is_empty() { name.to_string() } else { format!("{folder}/{name}") };
        client
            .put(&ObjPath::from(key.as_str()), PutPayload::from(content))
            .await
            .map(|_| ())
            .map_err(|e| format!("{provider}: upload of {bucket}/{key}: {e}"))
    }
}

/// One S3 input folder mirrored into a local one.
struct Mirror {
    stores: Arc<Stores>,
    provider: String,
    /// `bucket/folder`, for messages.
    path: String,
    bucket: String,
    prefix: Option<ObjPath>,
    local: PathBuf,
    /// Names fetched (or found locally) already.
    seen: HashSet<String>,
    /// Whether the last listing failed (said once, and once when it answers again).
    failing: bool,
}

impl Mirror {
    /// One poll: lists the folder and fetches every object not here yet.
    async fn poll(&mut self) {
        let listed = match self.stores.client(&self.provider, &self.bucket) {
            Ok(c) => c.list_with_delimiter(self.prefix.as_ref()).await.map(|l| (c, l)).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let (client, listing) = match listed {
            Ok(x) => x,
            Err(e) => {
                if !self.failing {
                    tracing::warn!(store = %self.provider, path = %self.path, error = %e, "cannot list the input folder in the store; trying again");
                    self.failing = true;
                }
                return;
            }
        };
        if self.failing {
            tracing::info!(store = %self.provider, path = %self.path, "the store answers again");
            self.failing = false;
        }
        for o in listing.objects {
            let Some(name) = o.location.filename().map(str::to_string) else { continue };
            if name.starts_with('.') || self.seen.contains(&name) {
                continue;
            }
            if self.local.join(&name).exists() {
                self.seen.insert(name);
                continue;
            }
            self.fetch(client.as_ref(), &o.location, name).await;
        }
    }

    /// Fetches one object and writes it whole into the local folder.
    async fn fetch(&mut self, client: &dyn ObjectStore, location: &ObjPath, name: String) {
        let bytes = match client.get(location).await {
            Ok(r) => r.bytes().await,
            Err(e) => Err(e),
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(store = %self.provider, object = %location, error = %e, "cannot fetch an input; trying again");
                return;
            }
        };
        let (dir, n) = (self.local.clone(), name.clone());
        let written = tokio::task::spawn_blocking(move || aisprint_runtime::fsutil::write_durably(&dir, &n, &bytes))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
        match written {
            Ok(_) => {
                self.seen.insert(name);
            }
            Err(e) => {
                tracing::error!(file = %self.local.join(&name).display(), error = %e, "cannot write a fetched input")
            }
        }
    }
}

/// Mirrors the store's `path` (`bucket/folder`, the files directly in it) into `local`, every
/// poll period, until `cancel` fires (a poll under way is left: each file is written under a
/// hidden name and renamed, so none is left half). The watcher takes each file whole.
/// Objects already in `local` are not fetched again (after a restart, the local folder is the
/// record of what came).
pub async fn mirror(stores: Arc<Stores>, provider: String, path: String, local: PathBuf, cancel: CancellationToken) {
    let (bucket, folder) = split(&path);
    let (bucket, folder) = (bucket.to_string(), folder.to_string());
    let mut tick = tokio::time::interval(stores.poll(&provider));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(store = %provider, %path, local = %local.display(), "input fetched from an S3 store");
    let mut m = Mirror {
        stores,
        provider,
        path,
        bucket,
        prefix: (!folder.is_empty()).then(|| ObjPath::from(folder.as_str())),
        local,
        seen: HashSet::new(),
        failing: false,
    };
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = m.poll() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_bucket_and_folder() {
        assert_eq!(split("mask/input"), ("mask", "input"));
        assert_eq!(split("/mask/a/b/"), ("mask", "a/b"));
        assert_eq!(split("mask"), ("mask", ""));
    }

    #[test]
    fn the_secret_key_is_not_in_debug_output() {
        let s = S3Store {
            endpoint: Some("http://127.0.0.1:9000".into()),
            region: "us-east-1".into(),
            access_key: "minio".into(),
            secret_key: "s3cr3t-value".into(),
            poll_s: 1.0,
        };
        assert!(!format!("{s:?}").contains("s3cr3t-value"));
    }
}
