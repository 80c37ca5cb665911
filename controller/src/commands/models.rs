//! `aisprint models train` (also run at the end of a campaign with `run.train_models`).

use std::path::{Path, PathBuf};

use aisprint_model::app::check::Application;
use aisprint_model::app::oscarp::DEFAULT_CAMPAIGN_DIR;

use crate::appdir;
use crate::cli::ModelsCommand;
use crate::error::{CmdError, Outcome};
use crate::models;

pub(super) fn run(cmd: ModelsCommand) -> Result<Outcome, CmdError> {
    match cmd {
        ModelsCommand::Train { application_dir, campaign } => {
            let loaded = appdir::load_for(&application_dir, appdir::Uses::MODELS).map_err(CmdError::invalid)?;
            train(&application_dir, &loaded.app, campaign)
        }
        ModelsCommand::Import { application_dir, python } => {
            let done = crate::model_import::import(&application_dir, python.as_deref(), &mut std::io::stdout())
                .map_err(|e| match e {
                    crate::model_import::ImportError::Invalid(d) => CmdError::invalid(d),
                    crate::model_import::ImportError::Failed(m) => CmdError::failed(m),
                })?;
            println!(
                "Done: {} model(s) imported, {} MLLIBfaas entr{} now PACSLTK; oscarp/performance_models.json points at them (as it was: oscarp/performance_models.json.bak).",
                done.models,
                done.faas,
                if done.faas == 1 { "y is" } else { "ies are" }
            );
            Ok(Outcome::Done)
        }
    }
}

/// Trains the models of an application already loaded (a campaign's, after its runs); the
/// campaign folder defaults to `oscarp/<run.campaign_dir>`.
pub(super) fn train(dir: &Path, app: &Application, campaign: Option<PathBuf>) -> Result<Outcome, CmdError> {
    let campaign = campaign.unwrap_or_else(|| {
        let name = app.run_parameters.as_ref().map_or_else(|| DEFAULT_CAMPAIGN_DIR.into(), |r| r.value.campaign_dir());
        dir.join("oscarp").join(name)
    });
    let trained = models::train(app, &campaign, &aisprint_model::perfmodel::TrainOptions::default())
        .map_err(CmdError::invalid)?;
    for t in &trained {
        let (kind, m) = t.chosen();
        println!(
            "{}: {} runs; {kind} ({}, features {}): cross-validated error {:.1}% (the throughput-based model beside it: {:.1}%)",
            t.unit,
            t.rows,
            m.technique.name(),
            m.features.join(", "),
            m.validation.mape * 100.0,
            t.lambda_based.validation.mape * 100.0
        );
    }
    let files = models::write(dir, app, &trained).map_err(CmdError::failed)?;
    println!("written {}", files.join(", "));
    Ok(Outcome::Done)
}
