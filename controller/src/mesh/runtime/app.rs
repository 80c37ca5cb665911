//! The application SPACE4AI-R keeps placed, read once before the controller serves: every
//! design deployment compiled into a candidate model, their accuracy ranks
//! (`space4ai-r/deployments_performance.yaml`), the precomputed solutions
//! (`space4ai-r/Output_max_Lambda_<deployment>.json`) and the placement chosen at design time
//! (`aisprint/deployments/<deployment>/space4ai-d/Output.json`).

use std::path::{Path, PathBuf};

use aisprint_model::app::check::Application;
use aisprint_model::app::paths;
use aisprint_model::config::RuntimeSection;
use aisprint_model::design::{self, DesignOptions, PlannedDeployment};
use aisprint_space4aid::eval::Solution;
use aisprint_space4aid::model::Model;
use aisprint_space4aid::reopt::{Candidate, TableEntry};
use aisprint_space4aid::{from_app, solution_json};

use super::{invalid, RuntimeError};
use crate::appdir;

/// The application, its candidates and what SPACE4AI-D chose.
#[derive(Debug)]
pub struct RuntimeApp {
    pub dir: PathBuf,
    pub display: String,
    pub app: Application,
    pub deployments: Vec<PlannedDeployment>,
    /// One per deployment, in the same order.
    pub candidates: Vec<Candidate>,
    pub table: Vec<TableEntry>,
    /// The placement at start: the configured deployment's SPACE4AI-D solution.
    pub start: (usize, Solution),
    /// The names of the QoS constraints of every deployment (what notifications name).
    pub constraints: std::collections::BTreeSet<String>,
    /// The Infrastructure Manager that scales the virtual layers (`runtime.im`).
    pub im: Option<super::scale::Scaler>,
}

fn read_json(path: &Path, display: &str) -> Result<serde_json::Value, RuntimeError> {
    let text = std::fs::read_to_string(path).map_err(|e| invalid(display, "", format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| invalid(display, "", format!("not JSON: {e}")))
}

/// Reads and checks everything SPACE4AI-R needs of the application; every error names the file.
pub fn load(section: &RuntimeSection) -> Result<RuntimeApp, RuntimeError> {
    let dir = PathBuf::from(&section.application_dir);
    let loaded = appdir::load_for(&dir, appdir::Uses::SPACE4AID).map_err(RuntimeError::Invalid)?;
    let display = loaded.display.clone();
    let app = loaded.app;
    let plan = design::plan(&app, &DesignOptions::default()).map_err(RuntimeError::Invalid)?;
    let lambda = from_app::arrival_rate(&app).unwrap_or(1.0);
    let time = app.space4aid.as_ref().and_then(|d| d.value.time).unwrap_or(1.0);
    let names: Vec<&str> = plan.deployments.iter().map(|d| d.name.as_str()).collect();
    let ranks = appdir::accuracy_ranks(&dir, &display, &names).map_err(RuntimeError::Invalid)?;
    let mut candidates = Vec::new();
    let mut deployments = Vec::new();
    for (dep, rank) in plan.deployments.into_iter().zip(ranks) {
        let Some(rank) = rank else { continue };
        let file = format!("{display}/{}/{}", paths::DEPLOYMENTS_DIR, dep.name);
        let system = from_app::build(&app, &dep, &display, lambda, time).map_err(RuntimeError::Invalid)?;
        let model = Model::compile(&system, &file).map_err(RuntimeError::Invalid)?;
        candidates.push(Candidate { name: dep.name.clone(), model, rank });
        deployments.push(dep);
    }
    let start_name = match &section.deployment {
        Some(d) => d.clone(),
        None => std::fs::read_link(dir.join(paths::OPTIMAL))
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_string()))
            .ok_or_else(|| {
                invalid(
                    format!("{display}/{}", paths::OPTIMAL),
                    "",
                    format!("missing: run `aisprint space4aid --application_dir {display}` first, or name runtime.deployment"),
                )
            })?,
    };
    let Some(start_i) = deployments.iter().position(|d| d.name == start_name) else {
        let names: Vec<&str> = deployments.iter().map(|d| d.name.as_str()).collect();
        return Err(invalid(
            "controller.yaml",
            "runtime.deployment",
            format!("`{start_name}` is not a deployment of {display} (it has {})", names.join(", ")),
        ));
    };
    let out_rel = format!("{}/{start_name}/space4ai-d/Output.json", paths::DEPLOYMENTS_DIR);
    let out_display = format!("{display}/{out_rel}");
    let v = read_json(&dir.join(&out_rel), &out_display).map_err(|_| {
        invalid(
            &out_display,
            "",
            format!("missing or unreadable: run `aisprint space4aid --application_dir {display}` first"),
        )
    })?;
    let start = solution_json::read(&candidates[start_i].model, &v).map_err(|e| invalid(&out_display, "", e))?;
    let mut table = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        let rel = format!("space4ai-r/Output_max_Lambda_{}.json", c.name);
        let path = dir.join(&rel);
        if !path.is_file() {
            continue;
        }
        let shown = format!("{display}/{rel}");
        let v = read_json(&path, &shown)?;
        let lambda = v["Lambda"].as_f64().ok_or_else(|| invalid(&shown, "Lambda", "missing: expected a number"))?;
        let solution = solution_json::read(&c.model, &v).map_err(|e| invalid(&shown, "", e))?;
        table.push(TableEntry { candidate: i, lambda, solution, source: rel });
    }
    let constraints = deployments
        .iter()
        .flat_map(|d| d.qos.system.local_constraints.keys().chain(d.qos.system.global_constraints.keys()))
        .cloned()
        .collect();
    let im = match &section.im {
        Some(im) => {
            let model = &candidates[start_i].model;
            let units = super::plan::placed(model, &start);
            let cloud = |name: &str| {
                model
                    .resources
                    .iter()
                    .position(|r| r.name == name)
                    .is_some_and(|r| !model.is_edge(r) && !model.is_faas(r))
            };
            Some(super::scale::load(im, &dir, &display, &start_name, &units, cloud)?)
        }
        None => None,
    };
    Ok(RuntimeApp { dir, display, app, deployments, candidates, table, start: (start_i, start), constraints, im })
}
