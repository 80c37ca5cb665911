//! `aisprint space4aid --application_dir DIR`: SPACE4AI-D on an application that `aisprint
//! design` has prepared. One run per deployment (each fixes the partitioning, the versions and
//! the layer of every unit; the run picks resources and instance counts), the cheapest
//! feasible one of the most accurate level is chosen (`space4ai-r/deployments_performance.yaml`;
//! those below `metric_thr` are not solved), and its files are written together:
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

use aisprint_model::app::check::Application;
use aisprint_model::app::paths;
use aisprint_model::design::{self, DesignOptions, PlannedDeployment};
use aisprint_model::diag::{Diagnostic, Diagnostics};
use aisprint_space4aid::eval::{evaluate, Solution};
use aisprint_space4aid::from_app;
use aisprint_space4aid::model::Model;
use aisprint_space4aid::solution_json;
use aisprint_space4aid::solver::{max_lambda, solve, SolveOptions};
use aisprint_space4aid::system::System;

use crate::appdir;
use crate::output::{OutputError, OutputSet};
use crate::space4aid::files::{options_from_doc, BinarySearch, Overrides, Space4aidError};

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

/// The deployments `design` wrote, checked to be the ones the application gives now.
fn designed(dir: &Path, display: &str, app: &Application) -> Result<design::DesignPlan, Space4aidError> {
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
    let (index, _) = aisprint_model::yaml::parse::<aisprint_model::app::index::DeploymentIndex>(&index_file, &on_disk)
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
    Ok(plan)
}

/// The arrival rate: `--lambda`, else the application's `expected_throughput`.
fn arrival_rate(app: &Application, lambda: Option<f64>, display: &str) -> Result<f64, Space4aidError> {
    let from_flag = lambda.is_some();
    match lambda.or_else(|| from_app::arrival_rate(app)) {
        Some(l) if l > 0.0 => Ok(l),
        Some(l) => {
            let (file, key) = if from_flag {
                ("--lambda".to_string(), String::new())
            } else {
                (format!("{display}/{}", paths::ANNOTATIONS), "expected_throughput.rate".to_string())
            };
            Err(Space4aidError::Invalid(
                Diagnostic::error(file, key, format!("the arrival rate must be positive (requests per second), found {l}"))
                    .into(),
            ))
        }
        None => Err(Space4aidError::Invalid(
            Diagnostic::error(
                format!("{display}/src"),
                "",
                "no arrival rate: annotate the first component with @expected_throughput(rate=<requests per second>) and run design again, or give --lambda",
            )
            .into(),
        )),
    }
}

/// Every deployment's system, all problems reported at once (a file missing for every
/// deployment is said once).
fn systems<'p>(
    app: &Application,
    plan: &'p design::DesignPlan,
    display: &str,
    lambda: f64,
    time: f64,
) -> Result<Vec<(&'p PlannedDeployment, System)>, Space4aidError> {
    let mut systems = Vec::new();
    let mut diags = Diagnostics::new();
    for dep in &plan.deployments {
        match from_app::build(app, dep, display, lambda, time) {
            Ok(s) => systems.push((dep, s)),
            Err(d) => {
                for x in d.errors().chain(d.warnings()) {
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
    Ok(systems)
}

/// One deployment solved: its result, the model, the solution and its Output.json text.
struct Solved {
    result: DeploymentResult,
    /// None when a unit has no resource that can host it (nothing to solve).
    model: Option<Model>,
    solution: Option<Solution>,
    output_json: Option<String>,
}

/// What every deployment's run shares.
struct Runs<'a> {
    display: &'a str,
    opts: SolveOptions,
    bs: BinarySearch,
    log: &'a mut dyn Write,
}

impl Runs<'_> {
    /// Solves one deployment; its files go into `out` (Output.json, and the max-Lambda
    /// solution when feasible), its lines into the log.
    fn solve(
        &mut self,
        dep: &PlannedDeployment,
        system: &System,
        out: &mut OutputSet,
    ) -> Result<Solved, Space4aidError> {
        let file = format!("{}/{}/{}", self.display, paths::DEPLOYMENTS_DIR, dep.name);
        let homeless = system.compatibility.values().flat_map(|m| m.iter()).find(|(_, v)| v.is_empty());
        if let Some((unit, _)) = homeless {
            let _ = writeln!(
                self.log,
                "{TAG} Deployment '{}' ({}): no candidate resource can host `{unit}` (said above): not solved",
                dep.name,
                design::describe(dep)
            );
            let result = DeploymentResult {
                name: dep.name.clone(),
                feasible: false,
                cost: f64::NAN,
                lower_bound: f64::NAN,
                max_lambda: None,
            };
            return Ok(Solved { result, model: None, solution: None, output_json: None });
        }
        let mut d = system.validate(&file);
        if d.has_errors() {
            d.push(Diagnostic::warning(&file, "", "(the system SPACE4AI-D would solve for this deployment)"));
            return Err(Space4aidError::Invalid(d.sorted()));
        }
        let model = Model::compile(system, &file).map_err(Space4aidError::Invalid)?;
        let t = Instant::now();
        let r = solve(&model, &self.opts);
        let root = Path::new(paths::DEPLOYMENTS_DIR).join(&dep.name);
        let solution = r.best.as_ref().or(r.least_violating.as_ref()).map(|(_, s)| s.clone());
        let mut result = DeploymentResult {
            name: dep.name.clone(),
            feasible: false,
            cost: f64::NAN,
            lower_bound: r.lower_bound,
            max_lambda: None,
        };
        let Some(s) = &solution else {
            let _ = writeln!(
                self.log,
                "{TAG} Deployment '{}': some unit has no compatible resource in its layer",
                dep.name
            );
            return Ok(Solved { result, model: Some(model), solution, output_json: None });
        };
        // Evaluated once: feasible as the evaluator says (the file written says the same).
        let ev = evaluate(&model, s);
        result.feasible = ev.feasible;
        result.cost = ev.cost;
        let text = json_text(&solution_json::write(&model, s, &ev, None));
        out.file(root.join("space4ai-d/Output.json"), text.clone());
        if !ev.feasible {
            let what = design::describe(dep);
            let _ = writeln!(
                self.log,
                "{TAG} Deployment '{}' ({what}): no feasible placement found; the least-violating one breaks:",
                dep.name
            );
            for v in &ev.violations {
                let _ = writeln!(self.log, "             {}: {v}", v.rule());
            }
            return Ok(Solved { result, model: Some(model), solution, output_json: Some(text) });
        }
        let _ = writeln!(
            self.log,
            "{TAG} Deployment '{}' ({}): cost {:.6}, lower bound {:.6} (gap {:.2}%){} in {:.2} s",
            dep.name,
            design::describe(dep),
            ev.cost,
            r.lower_bound,
            100.0 * r.gap().unwrap_or(0.0),
            if r.proven_optimal { ", optimal" } else { "" },
            t.elapsed().as_secs_f64()
        );
        if let Some(l) = max_lambda(&model, s, self.bs.upper, self.bs.epsilon) {
            result.max_lambda = Some(l);
            let mut at = model.clone();
            at.set_lambda(l);
            let ev_at = evaluate(&at, s);
            out.file(
                format!("space4ai-r/Output_max_Lambda_{}.json", dep.name),
                json_text(&solution_json::write(&at, s, &ev_at, None)),
            );
        }
        Ok(Solved { result, model: Some(model), solution, output_json: Some(text) })
    }
}

/// The chosen deployment's files: its solution as the application's, its production
/// deployment, and `optimal_deployment` pointing at it.
fn write_chosen(
    app: &Application,
    dep: &PlannedDeployment,
    s: &Solved,
    out: &mut OutputSet,
) -> Result<(), Space4aidError> {
    let (Some(sol), Some(text), Some(model)) = (&s.solution, &s.output_json, &s.model) else { return Ok(()) };
    out.file(paths::SPACE4AID_OUTPUT, text.clone());
    let prod = from_app::production(app, dep, model, sol);
    let text = aisprint_model::yaml::to_string(&prod).map_err(|e| {
        Space4aidError::Invalid(Diagnostic::error("production_deployment.yaml", "", e.to_string()).into())
    })?;
    out.file(Path::new(paths::DEPLOYMENTS_DIR).join(&dep.name).join("production_deployment.yaml"), text);
    out.symlink_replacing(paths::OPTIMAL, dep.name.clone(), &["production_deployment.yaml"]);
    Ok(())
}

/// Runs SPACE4AI-D on every deployment of the application in `dir`; `lambda` replaces the
/// application's arrival rate.
pub fn run(
    dir: &Path,
    lambda: Option<f64>,
    over: &Overrides,
    log: &mut dyn Write,
) -> Result<AppOutcome, Space4aidError> {
    let loaded = appdir::load_for(dir, appdir::Uses::SPACE4AID).map_err(Space4aidError::Invalid)?;
    let display = loaded.display.clone();
    let app = &loaded.app;
    let plan = designed(dir, &display, app)?;
    // Methods: the application's SPACE4AI-D.yaml, else the configuration design suggests.
    let (mut opts, bs, time) = match &app.space4aid {
        Some(doc) => {
            let (o, b) = options_from_doc(doc)?;
            (o, b, doc.value.time.unwrap_or(1.0))
        }
        None => (SolveOptions::default(), None, plan.default_space4aid.time.unwrap_or(1.0)),
    };
    over.apply(&mut opts);
    let lambda = arrival_rate(app, lambda, &display)?;
    let systems = systems(app, &plan, &display, lambda, time)?;
    let _ = writeln!(
        log,
        "{TAG} SPACE4AI-D on {} deployments at Lambda {lambda} requests/s ({} threads, seed {})",
        systems.len(),
        opts.threads,
        opts.seed
    );
    // Resources that cannot host a unit (security, GPU, device constraints), said once.
    let mut said = std::collections::BTreeSet::new();
    for (dep, _) in &systems {
        for (unit, r, why) in from_app::left_out(app, dep) {
            if said.insert((unit.clone(), r.clone())) {
                let _ = writeln!(log, "{TAG} `{r}` is left out for `{unit}`: {why}");
            }
        }
    }
    let bs = bs.unwrap_or(BinarySearch { upper: 10.0 * lambda, epsilon: 1e-5 });
    let mut runs = Runs { display: &display, opts, bs, log };
    let mut out = OutputSet::new();
    // Accuracy first (`@model_performance`): deployments below metric_thr are left out, and
    // the cheapest feasible of the most accurate rank that has one is chosen.
    let names: Vec<&str> = systems.iter().map(|(d, _)| d.name.as_str()).collect();
    let ranks = appdir::accuracy_ranks(dir, &display, &names).map_err(Space4aidError::Invalid)?;
    let mut solved = Vec::new();
    for ((dep, system), rank) in systems.iter().zip(&ranks) {
        let Some(rank) = rank else {
            let _ = writeln!(
                runs.log,
                "{TAG} Deployment '{}': left out, its accuracy is below metric_thr ({})",
                dep.name,
                paths::DEPLOYMENTS_PERFORMANCE
            );
            continue;
        };
        solved.push((*rank, runs.solve(dep, system, &mut out)?, *dep));
    }
    // The cheapest feasible of the best rank (the first of equals).
    let mut chosen: Option<usize> = None;
    for (i, (rank, s, _)) in solved.iter().enumerate() {
        let better = |c: usize| (*rank, s.result.cost) < (solved[c].0, solved[c].1.result.cost);
        if s.result.feasible && chosen.is_none_or(better) {
            chosen = Some(i);
        }
    }
    if let Some(i) = chosen {
        write_chosen(app, solved[i].2, &solved[i].1, &mut out)?;
    }
    let solved: Vec<Solved> = solved.into_iter().map(|(_, s, _)| s).collect();
    out.commit(dir).map_err(write_error)?;
    let log = runs.log;
    match chosen.map(|i| &solved[i].result) {
        Some(r) => {
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
    Ok(AppOutcome {
        chosen: chosen.map(|i| solved[i].result.name.clone()),
        deployments: solved.into_iter().map(|s| s.result).collect(),
    })
}
