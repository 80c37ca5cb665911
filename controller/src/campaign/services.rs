//! What a unit's service is made of on an agent: its FDL entry (under the profiling cluster),
//! its script, the files of its design folder and the annotations package, all sent with
//! `services.apply`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aisprint_model::profile::Unit;

use super::uploads::MAX_SENT;
use super::CampaignError;

/// The cluster name the campaign's services are applied under on each agent (the node's own
/// services, applied under its node id, are left alone).
pub const PROFILING: &str = "aisprint-profiling";

/// The name of the service that tests a unit (`C1P1.2@VM1` -> `prof-C1P1.2-VM1`).
pub fn service_of(unit: &str) -> String {
    format!("prof-{}", unit.replace('@', "-"))
}

/// The scripts of an apply: path relative to the FDL -> content.
pub(super) type Scripts = BTreeMap<String, String>;

fn too_large(what: &Path, bytes: usize) -> CampaignError {
    CampaignError::Failed(format!(
        "{}: {bytes} bytes; a command over the mesh carries at most {} MiB: install the component on the agent's node",
        what.display(),
        MAX_SENT >> 20
    ))
}

/// The text files under `d` (names relative to `root`), hidden ones and caches left out.
fn walk(root: &Path, d: &Path, out: &mut Vec<(String, String)>) -> Result<(), CampaignError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CampaignError::Io { path, source }
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
            CampaignError::Failed(format!(
                "{}: not text; binary files (models) are not sent over the mesh yet: install the component on the agent's node",
                p.display()
            ))
        })?;
        out.push((rel, text));
    }
    Ok(())
}

/// The text files of a design folder (sent to the agent beside the script), relative names.
fn design_files(dir: &Path) -> Result<Vec<(String, String)>, CampaignError> {
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    let total: usize = out.iter().map(|(_, t)| t.len()).sum();
    if total > MAX_SENT {
        return Err(CampaignError::Failed(format!(
            "{}: {total} bytes of files; a command over the mesh carries at most {} MiB: install the component on the agent's node",
            dir.display(),
            MAX_SENT >> 20
        )));
    }
    Ok(out)
}

/// The design folder of a unit: `aisprint/designs/<component>/<base|partitionN_M>`.
fn design_dir(app_dir: &Path, unit: &Unit, partitions: &[String]) -> PathBuf {
    let base = unit.name.split("_partition").next().unwrap_or(&unit.name);
    let design = match unit.name.split_once("_partition") {
        None => "base".to_string(),
        Some((_, rest)) if rest.starts_with('X') => {
            // A partitionX entry: the first partitioning with that half.
            let half = rest.split_once('_').map_or("", |x| x.1);
            partitions
                .iter()
                .find(|d| d.starts_with("partition") && d.ends_with(&format!("_{half}")))
                .cloned()
                .unwrap_or_else(|| format!("partition{rest}"))
        }
        Some((_, rest)) => format!("partition{rest}"),
    };
    app_dir.join("aisprint/designs").join(base).join(design)
}

/// A unit's design folder, the component's partitionings taken from `partitions`.
pub(super) fn unit_design(app_dir: &Path, unit: &Unit, partitions: &BTreeMap<String, Vec<String>>) -> PathBuf {
    let component = unit.name.split("_partition").next().unwrap_or(&unit.name);
    design_dir(app_dir, unit, partitions.get(component).map_or(&[], |v| v.as_slice()))
}

/// The files of a unit's design folder (`main.py` needed).
pub(super) fn unit_files(
    app_dir: &Path,
    unit: &Unit,
    partitions: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<(String, String)>, CampaignError> {
    let design = unit_design(app_dir, unit, partitions);
    let files = design_files(&design)?;
    if !files.iter().any(|(n, _)| n == "main.py") {
        return Err(CampaignError::Failed(format!("{}: no main.py (run `aisprint design` first)", design.display())));
    }
    Ok(files)
}

/// A service's files, under `<service>/`: its script, its design and the annotations package
/// the component imports (the node need not have it installed).
pub(super) fn add_scripts(scripts: &mut Scripts, service: &str, files: &[(String, String)]) {
    scripts.insert(format!("{service}/script.sh"), "cd \"$(dirname \"$0\")/design\" && exec python3 main.py\n".into());
    for (n, t) in files {
        scripts.insert(format!("{service}/design/{n}"), t.clone());
    }
    for (n, t) in crate::provision::PY_PACKAGE {
        if let Some(rel) = n.strip_prefix("aisprint/") {
            scripts.insert(format!("{service}/design/aisprint/{rel}"), t.to_string());
        }
    }
}

/// One FDL entry of the profiling cluster; `output` is `<storage provider>: <path>`.
pub(super) fn fdl_entry(service: &str, unit: &Unit, parallelism: u32, input: &str, output: &str) -> String {
    let (provider, path) = output.split_once(": ").unwrap_or(("minio.default", output));
    format!(
        "  - {PROFILING}:\n      name: {service}\n      script: {service}/script.sh\n      max_parallelism: {parallelism}\n      cpu: '{cpu}'\n      memory: '{mem}'\n      environment:\n        Variables:\n          COMPONENT_NAME: {name}\n          RESOURCE_ID: {res}\n      input:\n      - storage_provider: minio.default\n        path: {input}\n      output:\n      - storage_provider: {provider}\n        path: {path}\n",
        cpu = unit.cpu,
        mem = unit.memory,
        name = unit.name,
        res = unit.resource,
    )
}
