//! `aisprint metrics tail`.

use std::io::Write;

use aisprint_proto::v1::{StoredBatch, TailMetricsRequest};

use crate::cli::MetricsCommand;
use crate::error::{CmdError, Outcome};
use crate::mesh::admin;

pub(super) fn run(cmd: MetricsCommand) -> Result<Outcome, CmdError> {
    let MetricsCommand::Tail { config, node, limit } = cmd;
    super::block_on(async move {
        let mut client = admin::connect_with(&config).await?;
        let reply = client
            .tail_metrics(TailMetricsRequest { node_id: node.unwrap_or_default(), limit })
            .await
            .map_err(|e| CmdError::failed(e.message()))?
            .into_inner();
        // A closed pipe (`| head`) ends the listing quietly.
        let _ = print(&mut std::io::stdout().lock(), reply.batches);
        Ok(Outcome::Done)
    })
}

/// One header line per batch, one line per point (InfluxDB's line shape).
fn print(out: &mut impl Write, batches: Vec<StoredBatch>) -> std::io::Result<()> {
    for sb in batches {
        let Some(b) = sb.batch else { continue };
        writeln!(
            out,
            "# {} boot {} seq {} at {} (agent clock {}){}",
            b.node_id,
            b.boot_id,
            b.seq,
            sb.corrected_unix_ms,
            b.wall_time_unix_ms,
            if b.backfill { " backfill" } else { "" }
        )?;
        for p in b.points {
            let tags: Vec<String> = p.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let fields: Vec<String> = p.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let sep = if tags.is_empty() { "" } else { "," };
            writeln!(out, "{}{sep}{} {}", p.measurement, tags.join(","), fields.join(","))?;
        }
    }
    Ok(())
}
