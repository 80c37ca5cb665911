//! `aisprint design`.

use aisprint_model::design::DesignOptions;

use crate::cli::DesignArgs;
use crate::design::{self, DesignError};
use crate::error::{report, CmdError, Outcome};

pub(super) fn run(a: DesignArgs) -> Result<Outcome, CmdError> {
    let opts = DesignOptions { max_deployments: a.max_deployments };
    match design::run(&a.application_dir, &opts, &mut std::io::stdout()) {
        Ok(r) => {
            report(&r.warnings);
            tracing::info!(deployments = r.deployments.len(), entries = r.files, "design written");
            Ok(Outcome::Done)
        }
        Err(DesignError::Invalid(d)) => {
            let n = d.errors().count();
            let dir = a.application_dir.display();
            let s = if n == 1 { "" } else { "s" };
            Err(CmdError::invalid(d).then(format!("design stopped: {n} problem{s} in {dir}; nothing was written")))
        }
        Err(e) => {
            Err(CmdError::failed(e.to_string()).then("design stopped; the previous output, if any, is as it was"))
        }
    }
}
