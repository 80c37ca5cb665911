//! Files that are on disk, whole, before anyone is told they exist: written under a hidden
//! name, synced, renamed into place, and the folder synced. A watcher never sees half a file,
//! and a power loss after an acknowledgement loses nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` as `dir/name`, durably; returns the file's path.
pub fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let part = dir.join(format!(".{name}.{}-{n}.part", std::process::id()));
    let dest = dir.join(name);
    let mut f = std::fs::File::create(&part)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&part, &dest)?;
    sync_dir(dir)?;
    Ok(dest)
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
        copy_whole(&p, &d.path().join("b.txt")).unwrap();
        assert_eq!(std::fs::read(d.path().join("b.txt")).unwrap(), b"hello");
    }
}
