//! `aisprint demo`.

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

use crate::demo::{self, DemoOptions};
use crate::error::{CmdError, Outcome};

pub(super) fn run(duration: f64, report: Option<PathBuf>, dir: Option<PathBuf>) -> Result<Outcome, CmdError> {
    if !(duration.is_finite() && (20.0..=86_400.0).contains(&duration)) {
        return Err(CmdError::Usage(format!("--duration {duration}: expected seconds between 20 and 86400")));
    }
    let opts = DemoOptions { duration_s: duration, dir };
    let r = super::block_on(async move {
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            aisprint_runtime::signal::shutdown().await;
            stop.cancel();
        });
        let (mut err, mut out) = (std::io::stderr(), std::io::stdout());
        let r = demo::run(&opts, cancel.clone(), &mut err, &mut out).await.map_err(|e| CmdError::failed(e.to_string()));
        r.map(|r| (r, cancel.is_cancelled()))
    })?;
    let (r, interrupted) = r;
    let json = serde_json::to_string_pretty(&r).unwrap_or_default();
    if let Some(p) = &report {
        std::fs::write(p, format!("{json}\n")).map_err(|e| CmdError::failed(format!("{}: {e}", p.display())))?;
    }
    println!(
        "\ndemo: {} frames sent, {} out, {} duplicated, {} lost; {} reconfiguration(s) by SPACE4AI-R",
        r.files_sent,
        r.files_done,
        r.duplicates,
        r.lost,
        r.reconfigurations.len()
    );
    for c in &r.reconfigurations {
        let cleared = c.violation_cleared_after_s.map_or_else(|| "-".to_string(), |s| format!("{s:.1} s"));
        println!(
            "  at {:.0} s: {} -> {} ({}; {}), response under threshold after {cleared}",
            c.at_s, c.from, c.to, c.via, c.trigger
        );
    }
    if interrupted {
        println!("demo: interrupted; the controller and the agents are stopped");
        return Ok(Outcome::Done);
    }
    let moved = r.reconfigurations.iter().any(|c| c.via != "scale_in");
    let back = r.reconfigurations.iter().any(|c| c.via == "scale_in");
    if r.lost > 0 || r.duplicates > 0 || !moved || !back {
        return Err(CmdError::failed(format!(
            "the demo did not show what it should: {} lost, {} duplicated, a move or scale-out: {moved}, a scale-in: {back}",
            r.lost, r.duplicates
        )));
    }
    Ok(Outcome::Done)
}
