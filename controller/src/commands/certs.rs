//! `aisprint certs init|issue|revoke`.

use crate::cli::CertsCommand;
use crate::error::{CmdError, Outcome};
use crate::mesh::certs;

pub(super) fn run(cmd: CertsCommand) -> Result<Outcome, CmdError> {
    let written = match cmd {
        CertsCommand::Init { dir, hosts, force } => {
            let hosts = if hosts.is_empty() {
                vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()]
            } else {
                hosts
            };
            certs::init(&dir, &hosts, force)
        }
        CertsCommand::Issue { dir, node, admin: false } => certs::issue(&dir, node.as_deref().unwrap_or_default()),
        CertsCommand::Issue { dir, node, admin: true } => certs::issue_admin(&dir, node.as_deref()),
        CertsCommand::Revoke { dir, node, admin } => certs::revoke(&dir, node.as_deref(), admin),
    }
    .map_err(|e| CmdError::failed(e.to_string()))?;
    for f in written.files {
        println!("wrote {}", f.display());
    }
    Ok(Outcome::Done)
}
