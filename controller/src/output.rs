//! Writing a command's output as a whole: every file is first written beside its final path
//! under a temporary name, and only when all are written are they renamed into place. A run
//! that fails (bad input is caught before this point; a full disk here) removes its
//! temporary files and leaves the previous output as it was, never a half-written set that
//! looks complete. Files already in the tree that the command does not produce (a user's
//! `im/auth.dat`, the TOSCA files of a later step) are kept.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot create folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot put {path} in place: {source}")]
    Rename {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is a folder, but a link to {target} belongs there; move the folder away and run again")]
    FolderInTheWay { path: PathBuf, target: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    File(Vec<u8>),
    /// A file only its owner may read (mode 0600): it holds secrets.
    Private(Vec<u8>),
    /// A copy of an existing file (read only when written, so large models stay out of memory).
    Copy(PathBuf),
    /// A link; a folder already at its place is replaced when it holds only files named in
    /// the list (what an older tool left there), and refused otherwise.
    Symlink {
        target: String,
        replaces: Vec<String>,
    },
    Dir,
}

/// A set of files, links and folders to write under one root.
#[derive(Debug, Default)]
pub struct OutputSet {
    entries: BTreeMap<PathBuf, Entry>,
    /// Folders whose whole content this set defines: what else is in them is removed.
    owned: Vec<PathBuf>,
}

const TMP_SUFFIX: &str = ".aisprint-tmp";

/// What staging did: temporary files to rename into place, and links made directly (undone
/// when a later step fails).
#[derive(Default)]
struct Staged {
    renames: Vec<(PathBuf, PathBuf)>,
    new_links: Vec<PathBuf>,
}

impl OutputSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn file(&mut self, path: impl Into<PathBuf>, content: impl Into<Vec<u8>>) {
        self.entries.insert(path.into(), Entry::File(content.into()));
    }

    /// A file holding secrets: created readable by its owner only (0600).
    pub fn private_file(&mut self, path: impl Into<PathBuf>, content: impl Into<Vec<u8>>) {
        self.entries.insert(path.into(), Entry::Private(content.into()));
    }

    /// A copy of the file at `source`.
    pub fn copy(&mut self, path: impl Into<PathBuf>, source: impl Into<PathBuf>) {
        self.entries.insert(path.into(), Entry::Copy(source.into()));
    }

    /// A relative symbolic link at `path` pointing to `target`.
    pub fn symlink(&mut self, path: impl Into<PathBuf>, target: impl Into<String>) {
        self.entries.insert(path.into(), Entry::Symlink { target: target.into(), replaces: Vec::new() });
    }

    /// Like [`Self::symlink`], but a folder in the way that holds only files named in
    /// `replaces` is removed first.
    pub fn symlink_replacing(&mut self, path: impl Into<PathBuf>, target: impl Into<String>, replaces: &[&str]) {
        self.entries.insert(
            path.into(),
            Entry::Symlink { target: target.into(), replaces: replaces.iter().map(|s| s.to_string()).collect() },
        );
    }

    /// Declares that this set defines everything inside `dir`: files and links there that the
    /// set does not name are removed when it is committed.
    pub fn own_dir(&mut self, dir: impl Into<PathBuf>) {
        let dir = dir.into();
        self.entries.entry(dir.clone()).or_insert(Entry::Dir);
        self.owned.push(dir);
    }

    pub fn dir(&mut self, path: impl Into<PathBuf>) {
        self.entries.entry(path.into()).or_insert(Entry::Dir);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Paths of the files (not links or folders), relative to the root.
    pub fn files(&self) -> impl Iterator<Item = (&Path, &[u8])> {
        self.entries.iter().filter_map(|(p, e)| match e {
            Entry::File(c) | Entry::Private(c) => Some((p.as_path(), c.as_slice())),
            _ => None,
        })
    }

    /// Writes everything under `root`; all or nothing, as far as the file system allows.
    pub fn commit(&self, root: &Path) -> Result<(), OutputError> {
        let mut staged = Staged::default();
        if let Err(e) = self.stage(root, &mut staged) {
            for (tmp, _) in &staged.renames {
                let _ = std::fs::remove_file(tmp);
            }
            for link in &staged.new_links {
                let _ = std::fs::remove_file(link);
            }
            return Err(e);
        }
        for (tmp, dest) in &staged.renames {
            if std::fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
                // A folder an older tool left where a link belongs (checked while staging).
                std::fs::remove_dir_all(dest).map_err(|source| OutputError::Rename { path: dest.clone(), source })?;
            }
            std::fs::rename(tmp, dest).map_err(|source| OutputError::Rename { path: dest.clone(), source })?;
        }
        for dir in &self.owned {
            self.prune(root, dir)?;
        }
        Ok(())
    }

    /// Removes what is inside `root/dir` but not in the set.
    fn prune(&self, root: &Path, dir: &Path) -> Result<(), OutputError> {
        let Ok(read) = std::fs::read_dir(root.join(dir)) else { return Ok(()) };
        for entry in read.flatten() {
            let rel = dir.join(entry.file_name());
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else { continue };
            let named = self.entries.contains_key(&rel);
            if meta.is_dir() {
                self.prune(root, &rel)?;
                let empty = std::fs::read_dir(entry.path()).map(|mut r| r.next().is_none()).unwrap_or(false);
                if !named && empty {
                    let _ = std::fs::remove_dir(entry.path());
                }
            } else if !named {
                std::fs::remove_file(entry.path())
                    .map_err(|source| OutputError::Rename { path: entry.path(), source })?;
            }
        }
        Ok(())
    }

    fn stage(&self, root: &Path, staged: &mut Staged) -> Result<(), OutputError> {
        let mut made: HashSet<PathBuf> = HashSet::new();
        for (rel, entry) in &self.entries {
            let dest = root.join(rel);
            let parent = match entry {
                Entry::Dir => dest.clone(),
                _ => dest.parent().map(Path::to_path_buf).unwrap_or_else(|| root.to_path_buf()),
            };
            if made.insert(parent.clone()) {
                std::fs::create_dir_all(&parent)
                    .map_err(|source| OutputError::CreateDir { path: parent.clone(), source })?;
            }
            let mut tmp = dest.clone().into_os_string();
            tmp.push(TMP_SUFFIX);
            let tmp = PathBuf::from(tmp);
            let existing = std::fs::symlink_metadata(&dest).ok();
            let is_file = existing.as_ref().is_some_and(|m| m.is_file());
            match entry {
                Entry::Dir => continue,
                Entry::File(content) => {
                    if is_file && std::fs::read(&dest).is_ok_and(|old| &old == content) {
                        continue; // unchanged: leave it (and its time stamp) alone
                    }
                    write_file(&tmp, content, false)
                        .map_err(|source| OutputError::Write { path: dest.clone(), source })?;
                }
                Entry::Private(content) => {
                    let _ = std::fs::remove_file(&tmp);
                    write_file(&tmp, content, true)
                        .map_err(|source| OutputError::Write { path: dest.clone(), source })?;
                }
                Entry::Copy(source_path) => {
                    let content = std::fs::read(source_path)
                        .map_err(|source| OutputError::Write { path: source_path.clone(), source })?;
                    if is_file && std::fs::read(&dest).is_ok_and(|old| old == content) {
                        continue;
                    }
                    write_file(&tmp, &content, false)
                        .map_err(|source| OutputError::Write { path: dest.clone(), source })?;
                    keep_executable(source_path, &tmp);
                }
                Entry::Symlink { target, replaces } => {
                    match &existing {
                        None => {
                            // Making a link is atomic: no temporary name needed.
                            make_symlink(target, &dest)
                                .map_err(|source| OutputError::Write { path: dest.clone(), source })?;
                            staged.new_links.push(dest);
                            continue;
                        }
                        Some(meta) if meta.is_dir() && !only_files_named(&dest, replaces) => {
                            return Err(OutputError::FolderInTheWay { path: dest, target: target.clone() });
                        }
                        Some(_) if std::fs::read_link(&dest).is_ok_and(|t| t == Path::new(target)) => continue,
                        Some(_) => {}
                    }
                    let _ = std::fs::remove_file(&tmp);
                    make_symlink(target, &tmp).map_err(|source| OutputError::Write { path: dest.clone(), source })?;
                }
            }
            staged.renames.push((tmp, dest));
        }
        Ok(())
    }
}

/// True when `dir` holds only regular files whose names are in `names` (and `names` is not
/// empty).
fn only_files_named(dir: &Path, names: &[String]) -> bool {
    if names.is_empty() {
        return false;
    }
    let Ok(read) = std::fs::read_dir(dir) else { return false };
    read.flatten().all(|e| {
        e.file_type().is_ok_and(|t| t.is_file()) && names.iter().any(|n| e.file_name().to_string_lossy() == n.as_str())
    })
}

/// Copies keep an executable script executable.
#[cfg(unix)]
fn keep_executable(source: &Path, copy: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(source) {
        if meta.permissions().mode() & 0o111 != 0 {
            let _ = std::fs::set_permissions(copy, meta.permissions());
        }
    }
}

#[cfg(not(unix))]
fn keep_executable(_source: &Path, _copy: &Path) {}

fn write_file(path: &Path, content: &[u8], private: bool) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(content)?;
    Ok(())
}

#[cfg(unix)]
fn make_symlink(target: &str, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn make_symlink(_target: &str, _at: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "symbolic links are needed for deployments' src folders"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_files_links_and_dirs_and_keeps_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("a/im")).expect("mkdir");
        std::fs::write(dir.path().join("a/im/auth.dat"), "secret").expect("write");
        let mut out = OutputSet::new();
        out.file("a/x.yaml", "x: 1\n");
        out.dir("a/oscar");
        out.symlink("a/link", "x.yaml");
        out.commit(dir.path()).expect("commit");
        out.commit(dir.path()).expect("idempotent");
        assert_eq!(std::fs::read_to_string(dir.path().join("a/link")).expect("read"), "x: 1\n");
        assert!(dir.path().join("a/oscar").is_dir());
        assert_eq!(std::fs::read_to_string(dir.path().join("a/im/auth.dat")).expect("read"), "secret");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("a"))
            .expect("ls")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(TMP_SUFFIX))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn owned_dirs_lose_stale_entries_and_old_folders_give_way_to_links() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("d/src/old")).expect("mkdir");
        std::fs::write(root.join("d/src/old/stale.py"), "x").expect("write");
        std::fs::write(root.join("model.onnx"), [1u8, 2, 3]).expect("write");
        std::fs::create_dir_all(root.join("opt")).expect("mkdir");
        std::fs::write(root.join("opt/production_deployment.yaml"), "x").expect("write");
        let mut out = OutputSet::new();
        out.own_dir("d/src");
        out.copy("d/src/new/model.onnx", root.join("model.onnx"));
        out.symlink_replacing("opt", "d", &["production_deployment.yaml"]);
        out.commit(root).expect("commit");
        assert!(!root.join("d/src/old").exists(), "stale folder removed");
        assert_eq!(std::fs::read(root.join("d/src/new/model.onnx")).expect("read"), [1, 2, 3]);
        assert_eq!(std::fs::read_link(root.join("opt")).expect("link"), Path::new("d"));
    }

    #[test]
    fn failure_leaves_previous_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("keep.yaml"), "old\n").expect("write");
        std::fs::create_dir_all(dir.path().join("link")).expect("mkdir"); // a folder in the way
        let mut out = OutputSet::new();
        out.file("keep.yaml", "new\n");
        out.symlink("link", "keep.yaml");
        let err = out.commit(dir.path()).expect_err("folder in the way");
        assert!(matches!(err, OutputError::FolderInTheWay { .. }));
        assert_eq!(std::fs::read_to_string(dir.path().join("keep.yaml")).expect("read"), "old\n");
        assert!(!dir.path().join(format!("keep.yaml{TMP_SUFFIX}")).exists());
    }
}
