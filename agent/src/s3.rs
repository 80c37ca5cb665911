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

impl Stores {
    pub fn new(conf: BTreeMap<String, S3Store>) -> Stores {
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

/// Mirrors the store's `path` (`bucket/folder`, the files directly in it) into `local`, every
/// poll period, until `cancel` fires: each new object is written under a hidden name and
/// renamed, so that the watcher takes it whole. Objects already in `local` are not fetched
/// again (after a restart, the local folder is the record of what came).
pub async fn mirror(stores: Arc<Stores>, provider: String, path: String, local: PathBuf, cancel: CancellationToken) {
    let (bucket, folder) = split(&path);
    let (bucket, folder) = (bucket.to_string(), folder.to_string());
    let prefix = (!folder.is_empty()).then(|| ObjPath::from(folder.as_str()));
    let mut seen: HashSet<String> = HashSet::new();
    let mut tick = tokio::time::interval(stores.poll(&provider));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    tracing::info!(store = %provider, %path, local = %local.display(), "input fetched from an S3 store");
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let listed = match stores.client(&provider, &bucket) {
            Ok(c) => c.list_with_delimiter(prefix.as_ref()).await.map(|l| (c, l)).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let (client, listing) = match listed {
            Ok(x) => x,
            Err(e) => {
                if !failing {
                    tracing::warn!(store = %provider, %path, error = %e, "cannot list the input folder in the store; trying again");
                    failing = true;
                }
                continue;
            }
        };
        if failing {
            tracing::info!(store = %provider, %path, "the store answers again");
            failing = false;
        }
        for o in listing.objects {
            let Some(name) = o.location.filename().map(str::to_string) else { continue };
            if name.starts_with('.') || seen.contains(&name) {
                continue;
            }
            let dest = local.join(&name);
            if dest.exists() {
                seen.insert(name);
                continue;
            }
            let bytes = match client.get(&o.location).await {
                Ok(r) => r.bytes().await,
                Err(e) => Err(e),
            };
            let bytes = match bytes {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(store = %provider, object = %o.location, error = %e, "cannot fetch an input; trying again");
                    continue;
                }
            };
            let (dir, n) = (local.clone(), name.clone());
            let written =
                tokio::task::spawn_blocking(move || aisprint_runtime::fsutil::write_durably(&dir, &n, &bytes))
                    .await
                    .map_err(std::io::Error::other)
                    .and_then(|r| r);
            match written {
                Ok(_) => {
                    seen.insert(name);
                }
                Err(e) => tracing::error!(file = %dest.display(), error = %e, "cannot write a fetched input"),
            }
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
