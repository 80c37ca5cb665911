//! `aisprint space4aid`: on an application's deployments, or `solve` / `evaluate` on a
//! system description JSON.

use aisprint_space4aid::solver::SolveOptions;

use crate::cli::{Space4aidArgs, Space4aidCommand};
use crate::error::{CmdError, Outcome};
use crate::space4aid::{app, files};

fn outcome(feasible: bool) -> Outcome {
    if feasible {
        Outcome::Done
    } else {
        Outcome::Infeasible
    }
}

pub(super) fn run(a: Space4aidArgs) -> Result<Outcome, CmdError> {
    match (a.command, a.application_dir) {
        (Some(cmd), _) => command(cmd),
        (None, Some(dir)) => {
            let o = app::run(&dir, a.lambda, &a.search.overrides(), &mut std::io::stdout()).map_err(|e| {
                let e = CmdError::from(e);
                match e {
                    CmdError::Invalid { .. } => e.then("space4aid stopped: nothing was written"),
                    e => e,
                }
            })?;
            Ok(outcome(o.chosen.is_some()))
        }
        (None, None) => Err(CmdError::Usage(
            "aisprint space4aid: give --application_dir DIR, or a command (solve, evaluate); see --help".into(),
        )),
    }
}

fn command(cmd: Space4aidCommand) -> Result<Outcome, CmdError> {
    match cmd {
        Space4aidCommand::Solve { system, config, lambda, output, max_lambda_output, search } => {
            let model = files::load_model(&system, lambda)?;
            let (mut opts, bs) = match &config {
                Some(c) => files::options_from_config(c)?,
                None => (SolveOptions::default(), None),
            };
            search.overrides().apply(&mut opts);
            let out = files::run_solve(&model, &opts);
            for l in &out.summary {
                eprintln!("{l}");
            }
            files::write_json(&out.json, output.as_deref())?;
            if let (Some(bs), true) = (bs, out.feasible) {
                if let Some((l, json)) = files::run_binary_search(&model, &out, bs) {
                    eprintln!("the solution stays feasible up to Lambda {l:.6} (searched up to {})", bs.upper);
                    if let Some(path) = &max_lambda_output {
                        files::write_json(&json, Some(path))?;
                    }
                }
            }
            Ok(outcome(out.feasible))
        }
        Space4aidCommand::Evaluate { system, solution, lambda, output } => {
            let model = files::load_model(&system, lambda)?;
            let out = files::run_evaluate(&model, &solution)?;
            for l in &out.summary {
                eprintln!("{l}");
            }
            if let Some(o) = output {
                files::write_json(&out.json, Some(&o))?;
            }
            Ok(outcome(out.feasible))
        }
    }
}
