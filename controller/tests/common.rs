//! Helpers shared by the command-line tests: copies of the examples in temporary folders and
//! runs of the real `aisprint` binary.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Copies a folder, keeping symbolic links as links.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let t = e.file_type().expect("type");
        let dest = to.join(e.file_name());
        if t.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).expect("link"), &dest).expect("symlink");
        } else if t.is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// A fresh copy of `examples/<name>` (only its committed inputs) under `dir`.
pub fn example(dir: &Path, name: &str) -> PathBuf {
    let dest = dir.join(name);
    copy_dir(&repo().join("examples").join(name), &dest);
    // Outputs of a design run in the working tree are not part of the example.
    for out in ["aisprint/deployments", "common_config/annotations.yaml", "space4ai-d/qos_constraints.yaml"] {
        let p = dest.join(out);
        if p.is_dir() {
            std::fs::remove_dir_all(&p).expect("rm");
            std::fs::create_dir_all(&p).expect("mkdir");
        } else {
            let _ = std::fs::remove_file(&p);
        }
    }
    let designs = dest.join("aisprint/designs");
    for e in std::fs::read_dir(&designs).expect("designs").flatten() {
        if e.file_type().expect("type").is_dir() {
            std::fs::remove_dir_all(e.path()).expect("rm");
        }
    }
    dest
}

/// Runs `aisprint` with `args` in `cwd`.
pub fn aisprint(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aisprint")).args(args).current_dir(cwd).output().expect("run aisprint")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every file (content) and link (target) under `root`, by relative path.
pub fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(read) = std::fs::read_dir(dir) else { return };
        for e in read.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).expect("prefix").to_string_lossy().to_string();
            let t = e.file_type().expect("type");
            if t.is_symlink() {
                out.insert(rel, format!("-> {}", std::fs::read_link(&p).expect("link").display()));
            } else if t.is_dir() {
                out.insert(format!("{rel}/"), String::new());
                walk(root, &p, out);
            } else {
                out.insert(rel, String::from_utf8_lossy(&std::fs::read(&p).expect("read")).into_owned());
            }
        }
    }
    walk(root, root, &mut out);
    out
}
