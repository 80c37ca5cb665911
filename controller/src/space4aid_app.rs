//! `aisprint space4aid --application_dir DIR`: SPACE4AI-D on an application that `aisprint
//! design` has prepared. One run per deployment (each fixes the partitioning, the versions and
//! the layer of every unit; the run picks resources and instance counts), the cheapest
//! feasible one is chosen, and its files are written together:
//!
//! - `aisprint/deployments/<deployment>/space4ai-d/Output.json` for every deployment;
//! - `space4ai-d/Output.json`: the chosen deployment's solution;
//! - `aisprint/deployments/<chosen>/production_deployment.yaml`, with `optimal_deployment`
//!   pointing at that deployment;
//! - `space4ai-r/Output_max_Lambda_<deployment>.json` for every feasible deployment: the same
//!   placement at the largest arrival rate it sustains (the BS method of the config, or up to
//!   ten times Lambda).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use aisprint_shared::app::paths;
use aisprint_shared::design::{self, DesignOptions};
use aisprint_shared::diag::{Diagnostic, Diagnostics};
use aisprint_shared::space4aid::eval::evaluate;
use aisprint_shared::space4aid::from_app;
use aisprint_shared::space4aid::model::Model;
use aisprint_shared::space4aid::solution_json;
use aisprint_shared::space4aid::solver::{max_lambda, solve, SolveOptions};

use crate::appdir;
use crate::output::{OutputError, OutputSet};
use crate::space4aid_cmd::{options_from_doc, BinarySearch, Overrides, Space4aidError};

const TAG: &str = "[AI-SPRINT]:";

/// One deployment's result.
#[derive(Debug, Clone)]
pub struct DeploymentResult {
    pub name: String,
    pub feasible: bool,
    pub cost: f64,
    pub lower_bound: f64,
    pub max_lambda: Option<f64>,
}

#[derive(Debug)]
pub struct AppOutcome {
    /// The deployment chosen (the cheapest feasible), if any is feasible.
    pub chosen: Option<String>,
    pub deployments: Vec<DeploymentResult>,
}

fn write_error(e: OutputError) -> Space4aidError {
    match e {
        OutputError::Write { path, source }
        | OutputError::CreateDir { path, source }
        | OutputError::Rename { path, source } => Space4aidError::Write { path, source },
        OutputError::FolderInTheWay { path, .. } => Space4aidError::Write {
            path,
            source: std::io::Error::other("a folder is where the optimal_deployment link belongs"),
        },
    }
}

fn json_text(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

/// Runs SPACE4AI-D on every deployment of the application in `dir`; `lambda` replaces the
/// application's arrival rate.
pub fn run(
    dir: &Path,
    lambda: Option<f64>,
    over: &Overrides,
    log: &mut dyn Write,
) -> Result<AppOutcome, Space4aidError> {
    let loaded = appdir::load(dir).map_err(Space4aidError::Invalid)?;
    let display = loaded.display.clone();
    let app = &loaded.app;
    if !dir.join(paths::DEPLOYMENT_INDEX).is_file() {
        return Err(Space4aidError::Invalid(
            Diagnostic::error(
                format!("{display}/{}", paths::DEPLOYMENT_INDEX),
                "",
                format!("missing: run `aisprint design --application_dir {display}` first (SPACE4AI-D optimises the deployments it writes)"),
            )
            .into(),
        ));
    }
    let plan = design::plan(app, &DesignOptions::default()).map_err(Space4aidError::Invalid)?;
    // The deployments on disk must be the ones these inputs give (else design is out of date).
    let index_file = format!("{display}/{}", paths::DEPLOYMENT_INDEX);
    let on_disk = std::fs::read_to_string(dir.join(paths::DEPLOYMENT_INDEX))
        .map_err(|source| Space4aidError::Read { path: dir.join(paths::DEPLOYMENT_INDEX), source })?;
    let (index, _) =
        aisprint_shared::yaml::parse::<aisprint_shared::app::index::DeploymentIndex>(&index_file, &on_disk)
            .map_err(Space4aidError::Invalid)?;
    if index.value != plan.index {
        return Err(Space4aidError::Invalid(
            Diagnostic::error(
                index_file,
                "deployments",
                format!("the application changed since `aisprint design` wrote its deployments: run `aisprint design --application_dir {display}` again"),
            )
            .into(),
        ));
    }

    // Methods: the application's SPACE4AI-D.yaml, else the configuration design suggests.
    let (mut opts, bs, time) = match &app.space4aid {
        Some(doc) => {
            let (o, b) = options_from_doc(doc)?;
            (o, b, doc.value.time.unwrap_or(1.0))
        }
        None => (SolveOptions::default(), None, plan.default_space4aid.time.unwrap_or(1.0)),
    };
    over.apply(&mut opts);
    let from_flag = lambda.is_some();
    let lambda = match lambda.or_else(|| from_app::arrival_rate(app)) {
        Some(l) if l > 0.0 => l,
        Some(l) => {
            let (file, key) = if from_flag {
                ("--lambda".to_string(), String::new())
            } else {
                (format!("{display}/{}", paths::ANNOTATIONS), "expected_throughput.rate".to_string())
            };
            return Err(Space4aidError::Invalid(
                Diagnostic::error(file, key, format!("the arrival rate must be positive (requests per second), found {l}"))
                    .into(),
            ));
        }
        None => {
            return Err(Space4aidError::Invalid(
                Diagnostic::error(
                    format!("{display}/src"),
                    "",
                    "no arrival rate: annotate the first component with @expected_throughput(rate=<requests per second>) and run design again, or give --lambda",
                )
                .into(),
            ))
        }
    };

    // Every deployment's system, all problems reported at once.
    let mut systems = Vec::new();
    let mut diags = Diagnostics::new();
    for dep in &plan.deployments {
        match from_app::build(app, dep, &display, lambda, time) {
            Ok(s) => systems.push((dep, s)),
            Err(d) => {
                for x in d.errors().chain(d.warnings()) {
                    // The same missing file is said once, not once per deployment.
                    if !diags.errors().chain(diags.warnings()).any(|y| y.file == x.file && y.key == x.key) {
                        diags.push(x.clone());
                    }
                }
            }
        }
    }
    if diags.has_errors() {
        return Err(Space4aidError::Invalid(diags.sorted()));
    }
    let _ = writeln!(
        log,
        "{TAG} SPACE4AI-D on {} deployments at Lambda {lambda} requests/s ({} threads, seed {})",
        systems.len(),
        opts.threads,
        opts.seed
    );

    let mut out = OutputSet::new();
    let mut results = Vec::new();
    let mut best: Option<(f64, usize)> = None;
    let mut solved = Vec::new();
    for (i, (dep, system)) in systems.iter().enumerate() {
        let file = format!("{display}/{}/{}", paths::DEPLOYMENTS_DIR, dep.name);
        let mut d = system.validate(&file);
        if d.has_errors() {
            d.push(Diagnostic::warning(&file, "", "(the system SPACE4AI-D would solve for this deployment)"));
            return Err(Space4aidError::Invalid(d.sorted()));
        }
        let model = Model::compile(system, &file).map_err(Space4aidError::Invalid)?;
        let t = Instant::now();
        let r = solve(&model, &opts);
        let root = Path::new(paths::DEPLOYMENTS_DIR).join(&dep.name);
        let sol = r.best.as_ref().or(r.least_violating.as_ref()).map(|(_, s)| s.clone());
        // Evaluated once: feasible as the evaluator says (the file written says the same).
        let evaluated = sol.as_ref().map(|s| evaluate(&model, s));
        let feasible = evaluated.as_ref().is_some_and(|e| e.feasible);
        let mut output_json = None;
        let mut result = DeploymentResult {
            name: dep.name.clone(),
            feasible,
            cost: f64::NAN,
            lower_bound: r.lower_bound,
            max_lambda: None,
        };
        match (&sol, &evaluated) {
            (Some(s), Some(ev)) => {
                result.cost = ev.cost;
                let text = json_text(&solution_json::write(&model, s, ev, None));
                out.file(root.join("space4ai-d/Output.json"), text.clone());
                output_json = Some(text);
                if feasible {
                    let _ = writeln!(
                        log,
                        "{TAG} Deployment '{}' ({}): cost {:.6}, lower bound {:.6} (gap {:.2}%){} in {:.2} s",
                        dep.name,
                        design::describe(dep),
                        ev.cost,
                        r.lower_bound,
                        100.0 * r.gap().unwrap_or(0.0),
                        if r.proven_optimal { ", optimal" } else { "" },
                        t.elapsed().as_secs_f64()
                    );
                    let b = bs.unwrap_or(BinarySearch { upper: 10.0 * lambda, epsilon: 1e-5 });
                    if let Some(l) = max_lambda(&model, s, b.upper, b.epsilon) {
                        result.max_lambda = Some(l);
                        let mut at = model.clone();
                        at.set_lambda(l);
                        let ev_at = evaluate(&at, s);
                        out.file(
                            format!("space4ai-r/Output_max_Lambda_{}.json", dep.name),
                            json_text(&solution_json::write(&at, s, &ev_at, None)),
                        );
                    }
                    if best.is_none_or(|(c, _)| ev.cost < c) {
                        best = Some((ev.cost, i));
                    }
                } else {
                    let _ = writeln!(
                        log,
                        "{TAG} Deployment '{}' ({}): no feasible placement found; the least-violating one breaks:",
                        dep.name,
                        design::describe(dep)
                    );
                    for v in &ev.violations {
                        let _ = writeln!(log, "             {}: {v}", v.rule());
                    }
                }
            }
            _ => {
                let _ =
                    writeln!(log, "{TAG} Deployment '{}': some unit has no compatible resource in its layer", dep.name);
            }
        }
        results.push(result);
        solved.push((model, sol, output_json));
    }

    let chosen = best.map(|(_, i)| i);
    if let Some(i) = chosen {
        let (dep, _) = &systems[i];
        let (model, sol, output_json) = &solved[i];
        if let (Some(s), Some(text)) = (sol, output_json) {
            // The chosen deployment's solution, as written in its own folder.
            out.file(paths::SPACE4AID_OUTPUT, text.clone());
            let prod = from_app::production(app, dep, model, s);
            let text = aisprint_shared::yaml::to_string(&prod).map_err(|e| {
                Space4aidError::Invalid(Diagnostic::error("production_deployment.yaml", "", e.to_string()).into())
            })?;
            out.file(Path::new(paths::DEPLOYMENTS_DIR).join(&dep.name).join("production_deployment.yaml"), text);
            out.symlink_replacing(paths::OPTIMAL, dep.name.clone(), &["production_deployment.yaml"]);
        }
    }
    out.commit(dir).map_err(write_error)?;

    match chosen {
        Some(i) => {
            let r = &results[i];
            let _ = writeln!(
                log,
                "{TAG} Done! Optimal deployment: '{}' (cost {:.6}); {display}/{} points at it; solution in {display}/{}",
                r.name,
                r.cost,
                paths::OPTIMAL,
                paths::SPACE4AID_OUTPUT
            );
        }
        None => {
            let _ = writeln!(
                log,
                "{TAG} No deployment is feasible: optimal_deployment is unchanged; see each deployment's space4ai-d/Output.json for its violations"
            );
        }
    }
    Ok(AppOutcome { chosen: chosen.map(|i| results[i].name.clone()), deployments: results })
}
