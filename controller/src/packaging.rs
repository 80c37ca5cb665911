//! What a service is made of when the controller sends it to an agent: the text files of a
//! component's design folder, its script, and the annotations package the component imports
//! (the node need not have it installed). Used by the profiling campaigns and by SPACE4AI-R.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A command over the mesh carries at most this much (2 MiB of files).
pub const MAX_SENT: usize = 2 << 20;

/// The aisprint Python package, copied into every build context and sent with every service
/// (the components import it).
pub const PY_PACKAGE: &[(&str, &str)] = &[
    ("pyproject.toml", include_str!("../../python/aisprint/pyproject.toml")),
    ("aisprint/__init__.py", include_str!("../../python/aisprint/aisprint/__init__.py")),
    ("aisprint/annotations.py", include_str!("../../python/aisprint/aisprint/annotations.py")),
    ("aisprint/monitoring.py", include_str!("../../python/aisprint/aisprint/monitoring.py")),
];

/// Files that cannot be sent: which, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PackError(pub String);

/// The scripts of an apply: path relative to the FDL -> content.
pub type Scripts = BTreeMap<String, String>;

fn too_large(what: &Path, bytes: usize) -> PackError {
    PackError(format!(
        "{}: {bytes} bytes; a command over the mesh carries at most {} MiB: install the component on the agent's node",
        what.display(),
        MAX_SENT >> 20
    ))
}

/// The text files under `d` (names relative to `root`), hidden ones and caches left out.
fn walk(root: &Path, d: &Path, out: &mut Vec<(String, String)>) -> Result<(), PackError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PackError(format!("{}: {source}", path.display()))
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(d).map_err(io(d))?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name == "__pycache__" {
            continue;
        }
        if p.is_dir() {
            walk(root, &p, out)?;
            continue;
        }
        let rel = p.strip_prefix(root).map_or_else(|_| p.clone(), Path::to_path_buf).to_string_lossy().to_string();
        let bytes = std::fs::read(&p).map_err(io(&p))?;
        if bytes.len() > MAX_SENT {
            return Err(too_large(&p, bytes.len()));
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            PackError(format!(
                "{}: not text; binary files (models) are not sent over the mesh yet: install the component on the agent's node",
                p.display()
            ))
        })?;
        out.push((rel, text));
    }
    Ok(())
}

/// The text files of a design folder (sent to the agent beside the script), relative names.
pub fn design_files(dir: &Path) -> Result<Vec<(String, String)>, PackError> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    let total: usize = out.iter().map(|(_, t)| t.len()).sum();
    if total > MAX_SENT {
        return Err(PackError(format!(
            "{}: {total} bytes of files; a command over the mesh carries at most {} MiB: install the component on the agent's node",
            dir.display(),
            MAX_SENT >> 20
        )));
    }
    Ok(out)
}

/// A service's files, under `<service>/`: its script, its design and the annotations package
/// the component imports (the node need not have it installed).
pub fn add_scripts(scripts: &mut Scripts, service: &str, files: &[(String, String)]) {
    scripts.insert(format!("{service}/script.sh"), "cd \"$(dirname \"$0\")/design\" && exec python3 main.py\n".into());
    for (n, t) in files {
        scripts.insert(format!("{service}/design/{n}"), t.clone());
    }
    for (n, t) in PY_PACKAGE {
        if let Some(rel) = n.strip_prefix("aisprint/") {
            scripts.insert(format!("{service}/design/aisprint/{rel}"), t.to_string());
        }
    }
}
