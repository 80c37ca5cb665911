//! `aisprint design`: reads and checks an application directory, then writes its designs,
//! deployments and QoS constraints (see [`aisprint_model::design`] for the rules). Nothing is
//! written unless everything checks out, and then all files are put in place together.

use std::io::Write;
use std::path::{Path, PathBuf};

use aisprint_model::app::check::Application;
use aisprint_model::app::paths;
use aisprint_model::design::{self, DesignOptions, PlannedDeployment};
use aisprint_model::diag::Diagnostics;
use serde::Serialize;

use crate::appdir;
use crate::output::{OutputError, OutputSet};

#[derive(Debug, thiserror::Error)]
pub enum DesignError {
    /// The application has problems; each diagnostic names file, key and position.
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("cannot serialise {what}: {source}")]
    Serialise {
        what: String,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a design run did.
#[derive(Debug)]
pub struct DesignReport {
    pub deployments: Vec<String>,
    pub warnings: Diagnostics,
    pub files: usize,
}

const TAG: &str = "[AI-SPRINT]:";
const INDENT: &str = "             ";

fn to_yaml<T: Serialize>(what: &str, v: &T) -> Result<String, DesignError> {
    aisprint_model::yaml::to_string(v).map_err(|source| DesignError::Serialise { what: what.to_string(), source })
}

/// Files and folders that are never copied: secrets stay where the user put them, and
/// caches and our own temporary files are not part of a design.
fn skipped(name: &str) -> bool {
    name == "auth.dat" || name == "__pycache__" || name.ends_with(".aisprint-tmp")
}

/// Adds copies of every file under `from` to `out`, at the same relative place under `to`.
fn copy_tree(out: &mut OutputSet, from: &Path, to: &Path) -> Result<(), DesignError> {
    let read = match std::fs::read_dir(from) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(DesignError::Read { path: from.to_path_buf(), source }),
    };
    let mut entries: Vec<_> = read.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().to_string();
        if skipped(&name) {
            continue;
        }
        let path = e.path();
        let meta = std::fs::metadata(&path).map_err(|source| DesignError::Read { path: path.clone(), source })?;
        if meta.is_dir() {
            out.dir(to.join(&name));
            copy_tree(out, &path, &to.join(&name))?;
        } else if meta.is_file() {
            out.copy(to.join(&name), path);
        }
    }
    Ok(())
}

/// The DAG as found, a line per component with successors.
fn log_dag(app: &Application, log: &mut dyn Write) {
    let graph = app.dag.value.graph();
    let _ = writeln!(
        log,
        "{TAG} Found {} components in the DAG with the following dependencies:",
        app.dag.value.system.components.len()
    );
    for c in &app.dag.value.system.components {
        let next: Vec<String> = graph.successors(c).map(|(s, _)| format!("'{s}'")).collect();
        if !next.is_empty() {
            let _ = writeln!(log, "{INDENT}- {c} -> [{}]", next.join(", "));
        }
    }
}

/// One deployment's folder: the tools' files copied, its DAG, its QoS constraints, the links
/// to its designs, and for the base deployment its production deployment.
fn add_deployment(
    out: &mut OutputSet,
    dir: &Path,
    loaded: &appdir::LoadedApp,
    plan: &design::DesignPlan,
    dep: &PlannedDeployment,
) -> Result<(), DesignError> {
    let app = &loaded.app;
    let root = Path::new(paths::DEPLOYMENTS_DIR).join(&dep.name);
    for tool in paths::TOOL_DIRS {
        out.dir(root.join(tool));
        copy_tree(out, &dir.join(tool), &root.join(tool))?;
    }
    let dag_text = if dep.is_base { loaded.dag_text.clone() } else { to_yaml("deployment DAG", &dep.dag)? };
    out.file(root.join("application_dag.yaml"), dag_text);
    for layer in dep.qos_layers.keys() {
        if let Some(f) = dep.ams_file(&app.dag.value.system.name, *layer) {
            out.file(root.join(format!("ams/qos_constraints_L{layer}.yaml")), to_yaml("QoS constraints", &f)?);
        }
    }
    out.file(root.join("space4ai-d/qos_constraints.yaml"), to_yaml("QoS constraints", &dep.qos)?);
    // A SPACE4AI-D.yaml of the user's, even one design could not read, is copied as it is.
    if app.space4aid.is_none() && !dir.join(paths::SPACE4AID_CONFIG).exists() {
        out.file(
            root.join("space4ai-d/SPACE4AI-D.yaml"),
            to_yaml("SPACE4AI-D configuration", &plan.default_space4aid)?,
        );
    }
    out.own_dir(root.join("src"));
    for (link, component, d) in &dep.links {
        out.symlink(root.join("src").join(link), format!("../../../designs/{component}/{d}"));
    }
    if dep.is_base {
        out.file(root.join("production_deployment.yaml"), to_yaml("production deployment", &plan.production)?);
        out.file(paths::SPACE4AID_QOS, to_yaml("QoS constraints", &dep.qos)?);
    }
    Ok(())
}

/// Everything a design writes, as one output set.
fn output(dir: &Path, loaded: &appdir::LoadedApp, plan: &design::DesignPlan) -> Result<OutputSet, DesignError> {
    let app = &loaded.app;
    let mut out = OutputSet::new();
    out.file(paths::ANNOTATIONS, to_yaml("annotations", &plan.annotations)?);
    // The user's own file (with its comments) stays when it already says the same.
    if app.partitions.as_ref().is_none_or(|p| p.value != plan.partitions) {
        out.file(paths::COMPONENT_PARTITIONS, to_yaml("component partitions", &plan.partitions)?);
    }
    out.dir(paths::DESIGNS);
    for (component, designs) in &plan.designs {
        let Some((_, folder)) = loaded.folders.iter().find(|(n, _)| n == component) else { continue };
        for d in designs {
            let to = Path::new(paths::DESIGNS).join(component).join(d);
            out.own_dir(&to);
            copy_tree(&mut out, folder, &to)?;
        }
    }
    for dep in &plan.deployments {
        add_deployment(&mut out, dir, loaded, plan, dep)?;
    }
    out.file(paths::MULTI_CLUSTER_QOS, to_yaml("multi-cluster QoS constraints", &plan.multi_cluster)?);
    out.file(paths::DEPLOYMENT_INDEX, to_yaml("deployment index", &plan.index)?);
    if let Some(p) = &plan.performance {
        out.file(paths::DEPLOYMENTS_PERFORMANCE, to_yaml("deployments performance", p)?);
    }
    // The reference tool of late 2023 left a folder here; a link to the deployment replaces it.
    out.symlink_replacing(paths::OPTIMAL, "base", &["production_deployment.yaml"]);
    Ok(out)
}

/// Deployments an earlier design wrote that this one no longer has, as warnings.
fn stale_deployments(dir: &Path, display: &str, plan: &design::DesignPlan) -> Vec<aisprint_model::Diagnostic> {
    let Ok(read) = std::fs::read_dir(dir.join(paths::DEPLOYMENTS_DIR)) else { return Vec::new() };
    let mut stale: Vec<String> = read
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| {
            n.strip_prefix("deployment").is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter(|n| !plan.deployments.iter().any(|d| &d.name == n))
        .collect();
    stale.sort();
    stale
        .into_iter()
        .map(|n| {
            aisprint_model::Diagnostic::warning(
                format!("{display}/{}/{n}", paths::DEPLOYMENTS_DIR),
                "",
                "left from an earlier design: this design has no such deployment (remove the folder)",
            )
        })
        .collect()
}

/// Runs the design of the application in `dir`, writing progress lines to `log`.
pub fn run(dir: &Path, options: &DesignOptions, log: &mut dyn Write) -> Result<DesignReport, DesignError> {
    let display = appdir::display_dir(dir);
    let name = Path::new(&display).file_name().map_or(display.clone(), |n| n.to_string_lossy().to_string());
    let _ = writeln!(log, "{TAG} Starting the design of the AI-SPRINT application: {name}");
    let loaded = appdir::load_for(dir, appdir::Uses::DESIGN).map_err(DesignError::Invalid)?;
    let app = &loaded.app;
    log_dag(app, log);
    let _ = writeln!(log, "{TAG} Parsed and validated the AI-SPRINT annotations of {} scripts.", app.sources.len());
    let plan = design::plan(app, options).map_err(DesignError::Invalid)?;
    for n in &plan.notes {
        let _ = writeln!(log, "{INDENT}Note: {n}");
    }
    let out = output(dir, &loaded, &plan)?;
    out.commit(dir)?;
    let mut warnings = loaded.warnings.clone();
    for w in stale_deployments(dir, &display, &plan) {
        warnings.push(w);
    }
    let _ = writeln!(log, "{TAG} Done! Annotations stored in: {display}/{}", paths::ANNOTATIONS);
    let _ = writeln!(
        log,
        "{TAG} Done! Designs created in {display}/{}: {}",
        paths::DESIGNS,
        plan.designs.iter().map(|(c, ds)| format!("{c} [{}]", ds.join(", "))).collect::<Vec<_>>().join("; ")
    );
    for dep in &plan.deployments {
        let _ = writeln!(log, "{TAG} Deployment '{}': {}", dep.name, design::describe(dep));
    }
    let _ = writeln!(
        log,
        "{TAG} Done! QoS constraints generated for {} deployments in {display}/{}",
        plan.deployments.len(),
        paths::MULTI_CLUSTER_QOS
    );
    if let Some(p) = &plan.performance {
        let s = &p.system;
        let _ = writeln!(
            log,
            "{TAG} Done! {} of each deployment in {display}/{}: {}",
            s.metric_name,
            paths::DEPLOYMENTS_PERFORMANCE,
            s.sorted_deployments_performance
                .iter()
                .flatten()
                .map(|(n, e)| format!("{n} {}", e.metric_value))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(log, "{INDENT}Current optimal deployment is 'base'");
    let _ = writeln!(log, "{TAG} Done! Application designs and base deployment ready.");
    Ok(DesignReport {
        deployments: plan.deployments.iter().map(|d| d.name.clone()).collect(),
        warnings,
        files: out.len(),
    })
}
