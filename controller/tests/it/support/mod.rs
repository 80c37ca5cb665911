//! What the controller's tests share: copies of the examples in temporary folders, runs of
//! the real `aisprint` binary, and the mesh kit (`mesh`: the controller, agents and their
//! certificates); with the workspace's test support (ports, process guards, waits).

#![allow(dead_code, unused_imports)]

pub mod im;
pub mod mesh;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use aisprint_test_support::{copy_dir, http_post, port, repo, text, wait, Proc};

pub fn yaml(path: &Path) -> serde_yaml::Value {
    let t = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&t).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn json(path: &Path) -> serde_json::Value {
    let t = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&t).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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
