//! Files that are on disk, whole, before anyone is told they exist: written under a hidden
//! name, synced, renamed into place, and the folder synced. A watcher never sees half a file,
//! and a power loss after an acknowledgement loses nothing.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` as `dir/name`, durably; returns the file's path.
pub fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let part = dir.join(format!(".{name}.{}-{n}.part", std::process::id()));
    let dest = dir.join(name);
    write_private(&part, bytes)?;
    std::fs::rename(&part, &dest)?;
    sync_dir(dir)?;
    Ok(dest)
}

/// Writes `bytes` to `path` (created 0600 when new: it may hold a secret), synced. The caller
/// renames it into place or syncs the folder.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Creates `dir` and its missing parents (0700), each synced into its parent, so that a
/// file written there and acknowledged is still reachable after a power loss.
pub fn create_dir_durably(dir: &Path) -> std::io::Result<()> {
    let mut missing = Vec::new();
    let mut p = dir;
    while !p.exists() {
        missing.push(p);
        match p.parent() {
            Some(q) if !q.as_os_str().is_empty() => p = q,
            _ => break,
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    for m in missing.iter().rev() {
        if let Some(parent) = m.parent().filter(|q| !q.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Syncs a folder's entries (a rename into it survives a power loss).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Copies a file so that it appears whole (written under a hidden name, synced, then
/// renamed): a watcher or a shipper never takes half a file. The caller syncs the folder.
pub fn copy_whole(from: &Path, to: &Path) -> std::io::Result<()> {
    let name = to.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let part = to.with_file_name(format!(".{name}.part"));
    std::fs::copy(from, &part)?;
    std::fs::File::open(&part)?.sync_all()?;
    std::fs::rename(&part, to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_durable_write_leaves_the_file_and_no_part() {
        let d = tempfile::tempdir().unwrap();
        let p = write_durably(d.path(), "a.txt", b"hello").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"hello");
        let names: Vec<String> =
            std::fs::read_dir(d.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
        assert_eq!(names, ["a.txt"]);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        let deep = d.path().join("x/y/z");
        create_dir_durably(&deep).unwrap();
        assert_eq!(std::fs::metadata(&deep).unwrap().permissions().mode() & 0o777, 0o700);
        create_dir_durably(&deep).unwrap();
        copy_whole(&p, &d.path().join("b.txt")).unwrap();
        assert_eq!(std::fs::read(d.path().join("b.txt")).unwrap(), b"hello");
    }
}
