//! Where a job's outputs go when it ends: every file the script left in its temporary folder
//! goes to each output bucket (the first by renaming, the others as whole copies). A bucket on
//! this node is a folder; one of another cluster or an S3 store is reached through an outbox
//! folder, which its shipper empties. The outbox folders are synced before the job is
//! recorded as done, so an output for another node survives a power loss.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use aisprint_runtime::fsutil::{copy_whole, create_dir_durably, sync_dir};

use super::fdl::Output;

/// Which outboxes received files (their shippers are to be woken).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Routed {
    pub mesh: bool,
    pub s3: bool,
}

/// Moves the files of `tmp` to `outputs`; `mesh` and `s3` are the outbox folders. A file
/// that cannot be delivered is said in the log, the others go on.
pub fn route(tmp: &Path, outputs: &[Output], mesh: &Path, s3: &Path, service: &str) -> Routed {
    // The outbox folders written to: (is S3, folder); and every folder written to (synced
    // below, before the job is recorded as done).
    let mut written: BTreeSet<(bool, PathBuf)> = BTreeSet::new();
    let mut folders: BTreeSet<PathBuf> = BTreeSet::new();
    for e in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
        let from = e.path();
        let Some(name) = from.file_name() else { continue };
        // The data first: the rename below must not publish a file still in the page cache.
        if let Err(err) = std::fs::File::open(&from).and_then(|f| f.sync_all()) {
            tracing::error!(%service, file = %from.display(), error = %err, "output not delivered");
            continue;
        }
        for (i, out) in outputs.iter().enumerate().rev() {
            let to = match out {
                Output::Local(d) => {
                    folders.insert(d.clone());
                    d.join(name)
                }
                Output::Mesh { cluster: to, bucket } | Output::S3 { provider: to, bucket } => {
                    let is_s3 = matches!(out, Output::S3 { .. });
                    let d = if is_s3 { s3 } else { mesh }.join(to).join(bucket);
                    written.insert((is_s3, d.clone()));
                    folders.insert(d.clone());
                    if let Err(err) = create_dir_durably(&d) {
                        tracing::error!(%service, folder = %d.display(), error = %err, "output not delivered");
                        continue;
                    }
                    d.join(name)
                }
            };
            let r = if i == 0 { std::fs::rename(&from, &to) } else { copy_whole(&from, &to) };
            if let Err(err) = r {
                tracing::error!(%service, file = %to.display(), error = %err, "output not delivered");
            }
        }
    }
    for d in &folders {
        if let Err(e) = sync_dir(d) {
            tracing::warn!(folder = %d.display(), error = %e, "cannot sync an output folder");
        }
    }
    Routed { mesh: written.iter().any(|(s3, _)| !s3), s3: written.iter().any(|(s3, _)| *s3) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_go_to_every_bucket_and_outbox() {
        let d = tempfile::tempdir().unwrap();
        let (tmp, local, mesh, s3) =
            (d.path().join("tmp"), d.path().join("out"), d.path().join("ob"), d.path().join("ob3"));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::create_dir_all(&local).unwrap();
        std::fs::write(tmp.join("a.txt"), b"A").unwrap();
        let outputs = [
            Output::Local(local.clone()),
            Output::Mesh { cluster: "cloud".into(), bucket: "mask/input".into() },
            Output::S3 { provider: "s3.aws".into(), bucket: "bkt/in".into() },
        ];
        let r = route(&tmp, &outputs, &mesh, &s3, "svc");
        assert_eq!(r, Routed { mesh: true, s3: true });
        assert_eq!(std::fs::read(local.join("a.txt")).unwrap(), b"A");
        assert_eq!(std::fs::read(mesh.join("cloud/mask/input/a.txt")).unwrap(), b"A");
        assert_eq!(std::fs::read(s3.join("s3.aws/bkt/in/a.txt")).unwrap(), b"A");
        assert!(!tmp.join("a.txt").exists(), "the first output takes the file itself");
        let none = route(&tmp, &outputs[..1], &mesh, &s3, "svc");
        assert_eq!(none, Routed::default());
    }
}
