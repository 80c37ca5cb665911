//! What a unit's service is made of on an agent: its FDL entry (under the profiling cluster),
//! its script, the files of its design folder and the annotations package, all sent with
//! `services.apply`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aisprint_model::profile::Unit;

use super::CampaignError;
use crate::packaging::design_files;
pub(crate) use crate::packaging::{add_scripts, Scripts};

/// The cluster name the campaign's services are applied under on each agent (the node's own
/// services, applied under its node id, are left alone).
pub const PROFILING: &str = "aisprint-profiling";

/// The name of the service that tests a unit (`C1P1.2@VM1` -> `prof-C1P1.2-VM1`).
pub fn service_of(unit: &str) -> String {
    format!("prof-{}", unit.replace('@', "-"))
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
    let files = design_files(&design).map_err(|e| CampaignError::Failed(e.0))?;
    if !files.iter().any(|(n, _)| n == "main.py") {
        return Err(CampaignError::Failed(format!("{}: no main.py (run `aisprint design` first)", design.display())));
    }
    Ok(files)
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
