//! `aisprint dashboards generate`: Grafana dashboards for the application's constraints and
//! custom metrics, written all together.

use std::path::{Path, PathBuf};

use aisprint_model::diag::Diagnostics;

use crate::output::{OutputError, OutputSet};

#[derive(Debug, thiserror::Error)]
pub enum DashboardsError {
    /// The QoS or custom setup files have problems.
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("cannot read {path}: {source}{hint}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        /// What to do about it.
        hint: String,
    },
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Output(#[from] OutputError),
}

fn read(p: &Path) -> Result<(String, String), DashboardsError> {
    std::fs::read_to_string(p).map(|t| (p.display().to_string(), t)).map_err(|source| DashboardsError::Read {
        path: p.to_path_buf(),
        source,
        hint: String::new(),
    })
}

/// The constraint files of the application's optimal deployment.
fn optimal_constraints(app: &Path) -> Result<Vec<PathBuf>, DashboardsError> {
    let ams_dir = app.join("aisprint/deployments/optimal_deployment/ams");
    let hint = format!(" (run `aisprint design --application_dir {}` first, or give --qos_constraints)", app.display());
    let mut found: Vec<PathBuf> = std::fs::read_dir(&ams_dir)
        .map_err(|source| DashboardsError::Read { path: ams_dir.clone(), source, hint })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("qos_constraints_L") && n.ends_with(".yaml"))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Writes the three dashboards; returns the files written.
pub fn generate(
    app_dir: Option<&Path>,
    qos_files: &[PathBuf],
    custom_setup: Option<&Path>,
    out: Option<&Path>,
) -> Result<Vec<PathBuf>, DashboardsError> {
    let files = match app_dir {
        Some(app) if qos_files.is_empty() => optimal_constraints(app)?,
        _ => qos_files.to_vec(),
    };
    let qos = files.iter().map(|p| read(p)).collect::<Result<Vec<_>, _>>()?;
    let custom = custom_setup.map(read).transpose()?;
    let (loaded, warnings) = aisprint_ams::load(None, custom.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), &qos)
        .map_err(DashboardsError::Invalid)?;
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
    for (file, doc) in aisprint_ams::dashboards::generate(&name, &loaded.constraints, &loaded.custom.metrics) {
        // JSON values built in memory: writing them out cannot fail.
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
        set.file(file.clone(), text);
        written.push(dest.join(file));
    }
    std::fs::create_dir_all(&dest).map_err(|source| DashboardsError::Create { path: dest.clone(), source })?;
    set.commit(&dest)?;
    if loaded.constraints.is_empty() {
        eprintln!(
            "note: no QoS constraint found: the execution time dashboard has only the violations and throughput panels"
        );
    }
    Ok(written)
}
