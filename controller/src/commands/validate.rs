//! `aisprint validate`.

use aisprint_model::design::DesignOptions;

use crate::appdir;
use crate::cli::ValidateArgs;
use crate::error::{report, CmdError, Outcome};

pub(super) fn run(a: ValidateArgs) -> Result<Outcome, CmdError> {
    let loaded = appdir::load(&a.application_dir).map_err(|d| {
        let n = d.errors().count();
        CmdError::invalid(d).then(format!("{n} problem(s) found"))
    })?;
    report(&loaded.warnings);
    let s = &loaded.app;
    println!(
        "{}: valid ({} components, {} scripts, {} warnings)",
        loaded.display,
        s.dag.value.system.components.len(),
        s.sources.len(),
        loaded.warnings.len()
    );
    let p = aisprint_model::design::plan(s, &DesignOptions::default()).map_err(CmdError::invalid)?;
    println!("{} deployments would be written", p.deployments.len());
    Ok(Outcome::Done)
}
