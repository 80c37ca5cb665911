//! `aisprint space4aid solve` and `aisprint space4aid evaluate`: the SPACE4AI-D optimizer on a
//! system description JSON (the format of the public instances).

use std::path::{Path, PathBuf};
use std::time::Duration;

use aisprint_model::app::space4aid_config::{self, Space4aidConfig};
use aisprint_model::diag::{Diagnostic, Diagnostics};
use aisprint_model::yaml::YamlDoc;
use aisprint_model::{json, yaml};
use aisprint_space4aid::eval::evaluate;
use aisprint_space4aid::model::Model;
use aisprint_space4aid::solution_json;
use aisprint_space4aid::solver::{solve, Heuristic, SolveOptions};
use aisprint_space4aid::system::System;

#[derive(Debug, thiserror::Error)]
pub enum Space4aidError {
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    pub feasible: bool,
    /// The solution JSON.
    pub json: serde_json::Value,
    /// Lines for the user.
    pub summary: Vec<String>,
}

fn read(path: &Path) -> Result<String, Space4aidError> {
    std::fs::read_to_string(path).map_err(|source| Space4aidError::Read { path: path.to_path_buf(), source })
}

/// Reads, validates and compiles a system description, with `lambda` replacing its own.
pub fn load_model(path: &Path, lambda: Option<f64>) -> Result<Model, Space4aidError> {
    let file = path.display().to_string();
    let text = read(path)?;
    let (doc, _warnings) = json::parse::<System>(&file, &text).map_err(Space4aidError::Invalid)?;
    let mut system = doc.value;
    if let Some(l) = lambda {
        if !(l > 0.0) {
            return Err(Space4aidError::Invalid(
                Diagnostic::error("--lambda", "", format!("the arrival rate must be positive, found {l}")).into(),
            ));
        }
        system.lambda = l;
    }
    let mut diags = system.validate(&file);
    json::locate(&file, &doc.text, &mut diags);
    if diags.has_errors() {
        return Err(Space4aidError::Invalid(diags.sorted()));
    }
    // The model is compiled at the Lambda asked for.
    Model::compile(&system, &file).map_err(Space4aidError::Invalid)
}

/// What the command line adds to a configuration's search.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub threads: Option<usize>,
    pub seed: Option<u64>,
    /// Run the exact method, for this long (`None` inside: the config's duration, else 60 s).
    pub exact: Option<Option<Duration>>,
}

impl Overrides {
    pub fn apply(&self, opts: &mut SolveOptions) {
        if let Some(t) = self.threads {
            opts.threads = t.max(1);
        }
        if let Some(s) = self.seed {
            opts.seed = s;
        }
        if let Some(limit) = self.exact {
            opts.exact = Some(limit.or(opts.exact).unwrap_or(Duration::from_secs(60)));
        }
    }
}

/// The binary search on Lambda: upper bound and precision.
#[derive(Debug, Clone, Copy)]
pub struct BinarySearch {
    pub upper: f64,
    pub epsilon: f64,
}

/// Solver options from a SPACE4AI-D.yaml: RandomGreedy, then one of LocalSearch, TabuSearch,
/// SimulatedAnnealing or GeneticAlgorithm, optionally Exact (its `duration` is its time
/// limit, 60 s by default) and the binary search on Lambda.
pub fn options_from_config(path: &Path) -> Result<(SolveOptions, Option<BinarySearch>), Space4aidError> {
    let file = path.display().to_string();
    let text = read(path)?;
    let (doc, _) = yaml::parse::<Space4aidConfig>(&file, &text).map_err(Space4aidError::Invalid)?;
    options_from_doc(&doc)
}

/// Solver options from a parsed SPACE4AI-D.yaml (see [`options_from_config`]).
pub fn options_from_doc(
    doc: &YamlDoc<Space4aidConfig>,
) -> Result<(SolveOptions, Option<BinarySearch>), Space4aidError> {
    let mut diags = space4aid_config::validate(doc);
    let mut opts = SolveOptions::default();
    let mut bs = None;
    if let Some(seed) = doc.value.seed {
        opts.seed = seed;
    }
    for (k, m) in &doc.value.methods {
        match m.name.as_str() {
            "RandomGreedy" => {
                opts.random_greedy_iterations = m.iterations.unwrap_or(opts.random_greedy_iterations);
                opts.random_greedy_duration = Duration::from_secs_f64(m.duration.unwrap_or(0.0).max(0.0));
            }
            "LocalSearch" | "TabuSearch" | "SimulatedAnnealing" | "GeneticAlgorithm" => {
                opts.local_search_iterations = m.iterations.unwrap_or(opts.local_search_iterations);
                if let Some(n) = m.starting_point_number {
                    opts.elite = n as usize;
                }
                let sp = |names: &[&str], default: f64| {
                    names
                        .iter()
                        .find_map(|n| m.special_parameters.as_ref().and_then(|p| p.get(*n)).and_then(serde_yaml::Value::as_f64))
                        .unwrap_or(default)
                };
                opts.heuristic = match m.name.as_str() {
                    "TabuSearch" => Heuristic::TabuSearch { tabu_size: sp(&["tabuSize"], 10.0).max(1.0) as usize },
                    "SimulatedAnnealing" => Heuristic::SimulatedAnnealing {
                        temperature: sp(&["temperature", "tempBegin"], 1.0),
                        schedule: sp(&["scheduleConstant"], 0.99),
                    },
                    "GeneticAlgorithm" => Heuristic::GeneticAlgorithm {
                        crossover: sp(&["crossoverRate"], 0.5),
                        mutation: sp(&["mutationRate"], 0.7),
                    },
                    _ => Heuristic::LocalSearch,
                };
            }
            "Exact" => {
                opts.exact = Some(Duration::from_secs_f64(m.duration.unwrap_or(60.0).max(0.0)));
            }
            "BS" | "BinarySearch" => {
                if let (Some(upper), Some(epsilon)) = (m.upper_bound_lambda, m.epsilon) {
                    bs = Some(BinarySearch { upper, epsilon });
                }
            }
            other => diags.push(doc.error(
                format!("Methods.{k}.name"),
                format!(
                    "`{other}` is not run by this version yet: use RandomGreedy, LocalSearch, TabuSearch, SimulatedAnnealing, GeneticAlgorithm, Exact and BS"
                ),
            )),
        }
    }
    if diags.has_errors() {
        return Err(Space4aidError::Invalid(diags.sorted()));
    }
    Ok((opts, bs))
}

/// The largest Lambda the solution of `outcome` sustains, and the solution JSON at it.
pub fn run_binary_search(model: &Model, outcome: &Outcome, bs: BinarySearch) -> Option<(f64, serde_json::Value)> {
    let sol = solution_json::read(model, &outcome.json).ok()?;
    let l = aisprint_space4aid::solver::max_lambda(model, &sol, bs.upper, bs.epsilon)?;
    let mut at = model.clone();
    at.set_lambda(l);
    let ev = evaluate(&at, &sol);
    Some((l, solution_json::write(&at, &sol, &ev, None)))
}

/// `solve`: runs the methods and returns the best solution found (or, when none is feasible,
/// the least-violating one with its violations).
pub fn run_solve(model: &Model, opts: &SolveOptions) -> Outcome {
    let r = solve(model, opts);
    let mut summary = vec![format!(
        "RandomGreedy: {} iterations in {:.3} s; {} from {} elite solutions{} in {:.3} s; {} evaluations on {} threads",
        opts.random_greedy_iterations,
        r.random_greedy_time.as_secs_f64(),
        match opts.heuristic {
            Heuristic::LocalSearch => "LocalSearch",
            Heuristic::TabuSearch { .. } => "TabuSearch",
            Heuristic::SimulatedAnnealing { .. } => "SimulatedAnnealing",
            Heuristic::GeneticAlgorithm { .. } => "GeneticAlgorithm",
        },
        opts.elite,
        if opts.polish.is_some() { ", then polishing" } else { "" },
        r.local_search_time.as_secs_f64(),
        r.evaluations,
        opts.threads
    )];
    let (sol, feasible) = match (&r.best, &r.least_violating) {
        (Some((_, s)), _) => (s.clone(), true),
        (None, Some((_, s))) => (s.clone(), false),
        (None, None) => {
            summary.push("no placement could be drawn: some partition has no compatible resource".into());
            return Outcome { feasible: false, json: serde_json::json!({"feasible": false}), summary };
        }
    };
    let ev = evaluate(model, &sol);
    if opts.exact.is_some() {
        summary.push(format!(
            "Exact: {} nodes in {:.3} s, {}",
            r.exact_nodes,
            r.exact_time.as_secs_f64(),
            match (r.proven_optimal, feasible) {
                (true, true) => "optimum proven",
                (true, false) => "proven that no placement is feasible",
                (false, _) => "stopped at its time limit",
            }
        ));
    }
    if feasible {
        summary.push(format!(
            "feasible; cost {:.6} (RandomGreedy alone: {:.6})",
            ev.cost,
            r.random_greedy_best.unwrap_or(f64::NAN)
        ));
        summary.push(format!(
            "lower bound on the optimal cost {:.6}: gap {:.2}%{}",
            r.lower_bound,
            100.0 * r.gap().unwrap_or(0.0),
            if r.proven_optimal { " (optimal)" } else { "" }
        ));
    } else {
        summary
            .push(format!("no feasible solution found; the least-violating one breaks {} rules:", ev.violations.len()));
        summary.extend(ev.violations.iter().map(|v| format!("  {}: {v}", v.rule())));
    }
    Outcome { feasible, json: solution_json::write(model, &sol, &ev, None), summary }
}

/// `evaluate`: feasibility, violations and cost of a given solution.
pub fn run_evaluate(model: &Model, solution: &Path) -> Result<Outcome, Space4aidError> {
    let file = solution.display().to_string();
    let text = read(solution)?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Space4aidError::Invalid(Diagnostic::error(&file, "", format!("not valid JSON: {e}")).into()))?;
    let sol = solution_json::read(model, &v).map_err(|msg| {
        let (key, msg) =
            msg.split_once(": ").map_or((String::new(), msg.clone()), |(k, m)| (k.to_string(), m.to_string()));
        Space4aidError::Invalid(Diagnostic::error(&file, key, msg).into())
    })?;
    let ev = evaluate(model, &sol);
    let mut summary = vec![format!("cost {:.6}, {}", ev.cost, if ev.feasible { "feasible" } else { "infeasible" })];
    summary.extend(ev.violations.iter().map(|v| format!("  {}: {v}", v.rule())));
    Ok(Outcome { feasible: ev.feasible, json: solution_json::write(model, &sol, &ev, None), summary })
}

/// Writes the solution JSON to `path`, or standard output.
pub fn write_json(value: &serde_json::Value, path: Option<&Path>) -> Result<(), Space4aidError> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
    match path {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(p) => std::fs::write(p, text).map_err(|source| Space4aidError::Write { path: p.to_path_buf(), source }),
    }
}
