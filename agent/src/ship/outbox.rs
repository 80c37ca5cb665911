//! An outbox folder: the files waiting in it (`<outbox>/<destination>/<bucket>/<folder>/<file>`),
//! oldest first, and a refused file set aside.

use std::path::{Path, PathBuf};

/// A file waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub path: PathBuf,
    pub cluster: String,
    /// `bucket/folder`.
    pub bucket: String,
    pub name: String,
}

/// The files waiting in `outbox`, oldest first (hidden files, copies in progress, skipped).
pub fn pending(outbox: &Path) -> Vec<Pending> {
    let mut found = Vec::new();
    let mut dirs = vec![outbox.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                dirs.push(p);
            } else if t.is_file() && !e.file_name().to_string_lossy().starts_with('.') {
                let modified = e.metadata().and_then(|m| m.modified()).ok();
                found.push((modified, p));
            }
        }
    }
    found.sort();
    found
        .into_iter()
        .filter_map(|(_, path)| {
            let rel = path.strip_prefix(outbox).ok()?;
            let parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().to_string()).collect();
            // cluster, at least one bucket component, the file.
            if parts.len() < 3 {
                return None;
            }
            Some(Pending {
                cluster: parts[0].clone(),
                bucket: parts[1..parts.len() - 1].join("/"),
                name: parts[parts.len() - 1].clone(),
                path,
            })
        })
        .collect()
}

/// Moves a file refused for good out of `outbox` into `undeliverable`, at the same place; one
/// already set aside under that name is kept (the new one gets `.1`, `.2`, ... after it).
pub(super) fn set_aside(outbox: &Path, undeliverable: &Path, f: &Pending) -> std::io::Result<PathBuf> {
    let first = undeliverable.join(f.path.strip_prefix(outbox).unwrap_or(&f.path));
    if let Some(p) = first.parent() {
        aisprint_runtime::fsutil::create_dir_durably(p)?;
    }
    let mut to = first.clone();
    let mut n = 0;
    while to.exists() {
        n += 1;
        let mut name = first.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".{n}"));
        to = first.with_file_name(name);
    }
    std::fs::rename(&f.path, &to)?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_reads_cluster_bucket_and_name_and_skips_partial_files() {
        let d = tempfile::tempdir().unwrap();
        let o = d.path();
        std::fs::create_dir_all(o.join("cloud/mask/input")).unwrap();
        std::fs::write(o.join("cloud/mask/input/a.jpg"), b"a").unwrap();
        std::fs::write(o.join("cloud/mask/input/.b.jpg.part"), b"b").unwrap();
        std::fs::write(o.join("cloud/stray"), b"c").unwrap();
        let und_dir = tempfile::tempdir().unwrap();
        let und = und_dir.path().to_path_buf();
        for content in [b"1", b"2"] {
            std::fs::create_dir_all(o.join("x/b/f")).unwrap();
            std::fs::write(o.join("x/b/f/same"), content).unwrap();
            let f =
                Pending { path: o.join("x/b/f/same"), cluster: "x".into(), bucket: "b/f".into(), name: "same".into() };
            set_aside(o, &und, &f).unwrap();
        }
        assert_eq!(std::fs::read(und.join("x/b/f/same")).unwrap(), b"1");
        assert_eq!(std::fs::read(und.join("x/b/f/same.1")).unwrap(), b"2");
        std::fs::remove_dir_all(o.join("x")).unwrap();
        let p = pending(o);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].cluster.as_str(), p[0].bucket.as_str(), p[0].name.as_str()), ("cloud", "mask/input", "a.jpg"));
    }
}
