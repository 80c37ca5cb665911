//! The folders SPACE4AI-R leaves in the application, as the reference runtime does: one
//! `aisprint/deployments/current_deployment_<YYYY-MM-DD-HH-MM-SS-ffffff>/` per placement
//! applied (its `production_deployment.yaml`, the solution `Output.json`, and `decision.yaml`:
//! trigger, observed rate, old and new cost and predicted response times, steps, time taken),
//! and `current_deployment`, a link to the latest. All written at once: a folder is complete
//! or absent.

use std::path::{Path, PathBuf};

use aisprint_model::app::paths;

use super::RuntimeError;
use crate::output::OutputSet;

/// `current_deployment_<date>` for Unix time `t` (UTC, microseconds).
pub fn folder_name(t: f64) -> String {
    let stamp: String = aisprint_ams::engine::rfc3339(t)
        .trim_end_matches('Z')
        .chars()
        .map(|c| if c == 'T' || c == ':' || c == '.' { '-' } else { c })
        .collect();
    format!("current_deployment_{stamp}")
}

/// The files of one applied placement.
#[derive(Debug)]
pub struct Written {
    pub at_unix_s: f64,
    pub production_yaml: String,
    pub solution: serde_json::Value,
    pub decision: serde_yaml::Value,
}

/// Writes the folder and points `current_deployment` at it; returns the folder's path
/// relative to the application.
pub fn write(app_dir: &Path, w: &Written) -> Result<PathBuf, RuntimeError> {
    let name = folder_name(w.at_unix_s);
    let rel = Path::new(paths::DEPLOYMENTS_DIR).join(&name);
    let mut out = OutputSet::new();
    out.file(rel.join("production_deployment.yaml"), w.production_yaml.clone());
    out.file(rel.join("Output.json"), serde_json::to_string_pretty(&w.solution).unwrap_or_default() + "\n");
    let decision = serde_yaml::to_string(&w.decision).map_err(|e| RuntimeError::Step(format!("decision.yaml: {e}")))?;
    out.file(rel.join("decision.yaml"), decision);
    out.symlink_replacing(
        Path::new(paths::DEPLOYMENTS_DIR).join("current_deployment"),
        name,
        &["production_deployment.yaml"],
    );
    out.commit(app_dir).map_err(|e| RuntimeError::Step(format!("writing {}: {e}", rel.display())))?;
    Ok(rel)
}

#[cfg(test)]
mod tests {
    #[test]
    fn folders_are_named_as_the_reference_runtime_names_them() {
        assert_eq!(super::folder_name(1_697_633_263.768_529), "current_deployment_2023-10-18-12-47-43-768529");
    }
}
