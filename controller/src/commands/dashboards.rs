//! `aisprint dashboards generate`.

use crate::cli::DashboardsCommand;
use crate::dashboards::{self, DashboardsError};
use crate::error::{CmdError, Outcome};

pub(super) fn run(cmd: DashboardsCommand) -> Result<Outcome, CmdError> {
    let DashboardsCommand::Generate { application_dir, qos_constraints, custom_setup, output_dir } = cmd;
    let written = dashboards::generate(
        application_dir.as_deref(),
        &qos_constraints,
        custom_setup.as_deref(),
        output_dir.as_deref(),
    )
    .map_err(|e| match e {
        DashboardsError::Invalid(d) => CmdError::invalid(d),
        e => CmdError::failed(e.to_string()),
    })?;
    for w in written {
        println!("written {}", w.display());
    }
    Ok(Outcome::Done)
}
