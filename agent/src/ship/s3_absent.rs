//! S3 stores in an agent built without the `s3` feature (agent/Cargo.toml): agent.yaml's
//! `services.s3` is refused when the configuration is read, so no store exists and [`Stores`]
//! has no value; an FDL naming a store provider is refused as for any provider not configured.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use aisprint_model::config::S3Store;
use tokio_util::sync::CancellationToken;

/// No store: this type has no value.
#[derive(Debug)]
pub enum Stores {}

/// None: the configuration's stores were refused before.
pub fn open(_: &BTreeMap<String, S3Store>) -> Option<Arc<Stores>> {
    None
}

impl Stores {
    pub fn providers(&self) -> BTreeSet<String> {
        match *self {}
    }

    pub async fn upload(&self, _: &str, _: &str, _: &str, _: Vec<u8>) -> Result<(), String> {
        match *self {}
    }
}

pub async fn mirror(stores: Arc<Stores>, _: String, _: String, _: PathBuf, _: CancellationToken) {
    match *stores {}
}
