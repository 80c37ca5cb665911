//! `aisprint dashboards generate`: Grafana dashboards for the application's constraints and
//! custom metrics, written all together.

use std::path::{Path, PathBuf};

use aisprint_shared::ams;

use crate::output::OutputSet;

fn read(p: &Path) -> Result<(String, String), String> {
    std::fs::read_to_string(p)
        .map(|t| (p.display().to_string(), t))
        .map_err(|e| format!("error: cannot read {}: {e}", p.display()))
}

/// Writes the three dashboards; returns the files written.
pub fn generate(
    app_dir: Option<&Path>,
    qos_files: &[PathBuf],
    custom_setup: Option<&Path>,
    out: Option<&Path>,
) -> Result<Vec<PathBuf>, String> {
    let mut files = qos_files.to_vec();
    if files.is_empty() {
        if let Some(app) = app_dir {
            let ams_dir = app.join("aisprint/deployments/optimal_deployment/ams");
            let mut found: Vec<PathBuf> = std::fs::read_dir(&ams_dir)
                .map_err(|e| {
                    format!("error: cannot read {}: {e} (run `aisprint design --application_dir {}` first, or give --qos_constraints)", ams_dir.display(), app.display())
                })?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("qos_constraints_L") && n.ends_with(".yaml")))
                .collect();
            found.sort();
            files = found;
        }
    }
    let qos = files.iter().map(|p| read(p)).collect::<Result<Vec<_>, _>>()?;
    let custom = custom_setup.map(read).transpose()?;
    let (loaded, warnings) =
        ams::load(None, custom.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), &qos).map_err(|d| d.to_string())?;
    for w in warnings.warnings() {
        eprintln!("{w}");
    }
    let name = loaded
        .custom
        .name
        .clone()
        .or_else(|| app_dir.and_then(|a| a.canonicalize().ok()?.file_name().map(|n| n.to_string_lossy().to_string())))
        .unwrap_or_else(|| "aisprint".into());
    let dest = out.map(Path::to_path_buf).unwrap_or_else(|| match app_dir {
        Some(a) => a.join("ams/dashboards"),
        None => PathBuf::from("dashboards"),
    });
    let mut set = OutputSet::new();
    let mut written = Vec::new();
    for (file, doc) in ams::dashboards::generate(&name, &loaded.constraints, &loaded.custom.metrics) {
        let text = serde_json::to_string_pretty(&doc).map_err(|e| format!("error: {e}"))? + "\n";
        set.file(file.clone(), text);
        written.push(dest.join(file));
    }
    std::fs::create_dir_all(&dest).map_err(|e| format!("error: cannot create {}: {e}", dest.display()))?;
    set.commit(&dest).map_err(|e| format!("error: {e}"))?;
    if loaded.constraints.is_empty() {
        eprintln!(
            "note: no QoS constraint found: the execution time dashboard has only the violations and throughput panels"
        );
    }
    Ok(written)
}
