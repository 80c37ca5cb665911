//! `aisprint new-application`.

use crate::cli::NewApplicationArgs;
use crate::error::{CmdError, Outcome};
use crate::new_app;

pub(super) fn run(a: NewApplicationArgs) -> Result<Outcome, CmdError> {
    let dest = new_app::create(&a.output_dir, &a.application_name).map_err(|e| CmdError::failed(e.to_string()))?;
    println!("[AI-SPRINT]: Done! New '{}' AI-SPRINT application created in {}.", a.application_name, dest.display());
    println!("             Next: aisprint design --application_dir {}", dest.display());
    Ok(Outcome::Done)
}
