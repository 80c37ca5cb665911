//! `aisprint agents list`.

use aisprint_proto::v1::ListAgentsRequest;

use crate::cli::AgentsCommand;
use crate::error::{CmdError, Outcome};
use crate::mesh::admin;

pub(super) fn run(cmd: AgentsCommand) -> Result<Outcome, CmdError> {
    let AgentsCommand::List { config } = cmd;
    super::block_on(async move {
        let mut client = admin::connect_with(&config).await?;
        let reply =
            client.list_agents(ListAgentsRequest {}).await.map_err(|e| CmdError::failed(e.message()))?.into_inner();
        println!(
            "{:<20} {:<22} {:<12} {:<8} {:>9} {:>6} {:>8} {:>7} {:<10} LAST SEEN",
            "NODE", "LAYER", "RESOURCE", "ARCH", "BATCHES", "DUPS", "BUFFERED", "DROPPED", "CONNECTED"
        );
        for a in reply.agents {
            println!(
                "{:<20} {:<22} {:<12} {:<8} {:>9} {:>6} {:>8} {:>7} {:<10} {}",
                a.node_id,
                a.layer,
                a.resource,
                a.architecture,
                a.batches,
                a.duplicates,
                a.buffered,
                a.dropped,
                if a.connected { "yes" } else { "no" },
                super::ago(a.last_seen_unix_ms)
            );
        }
        Ok(Outcome::Done)
    })
}
