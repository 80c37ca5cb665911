//! `aisprint runtime status|history|plan|rollback`: SPACE4AI-R's task in `controller serve`,
//! asked through the admin service.

use aisprint_proto::v1::RuntimeRequest;
use serde_json::Value;

use crate::cli::RuntimeCommand;
use crate::error::{CmdError, Outcome};
use crate::mesh::admin;

pub(super) fn run(cmd: RuntimeCommand) -> Result<Outcome, CmdError> {
    let (config, action, json) = match cmd {
        RuntimeCommand::Status { config, json } => (config, "status", json),
        RuntimeCommand::History { config, json } => (config, "history", json),
        RuntimeCommand::Plan { config, json } => (config, "plan", json),
        RuntimeCommand::Rollback { config } => (config, "rollback", false),
    };
    super::block_on(async move {
        let mut client = admin::connect_with(&config).await?;
        let ask = if action == "history" { "status" } else { action };
        let r = client
            .runtime(RuntimeRequest { action: ask.into() })
            .await
            .map_err(|e| CmdError::failed(e.message()))?
            .into_inner();
        if !r.ok {
            return Err(CmdError::failed(r.message));
        }
        if action == "rollback" {
            println!("{}", r.message);
            return Ok(Outcome::Done);
        }
        let v: Value = serde_json::from_str(&r.json).unwrap_or(Value::Null);
        // The history oldest first (the status keeps the latest 20, newest first).
        let shown = if action == "history" {
            Value::Array(v["history"].as_array().cloned().unwrap_or_default().into_iter().rev().collect())
        } else {
            v
        };
        if json {
            println!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
        } else {
            match action {
                "status" => status(&shown),
                "history" => history(&shown),
                _ => plan(&shown),
            }
        }
        Ok(Outcome::Done)
    })
}

fn units(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|u| format!("{} on {} x{}", str_of(&u["unit"]), str_of(&u["resource"]), u["parallelism"]))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn str_of(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

fn status(v: &Value) {
    println!("application: {}{}", str_of(&v["application"]), if v["dry_run"] == true { " (dry run)" } else { "" });
    match v["current"].as_object() {
        Some(c) => println!(
            "current: deployment {} (cost {:.6}): {}",
            str_of(&c["deployment"]),
            c["cost"].as_f64().unwrap_or(0.0),
            units(&c["units"])
        ),
        None => println!("current: nothing applied yet"),
    }
    if let Some(p) = v["pending"].as_object() {
        println!("change under way ({}; {}): to {}", str_of(&p["trigger"]), str_of(&p["via"]), str_of(&p["to"]));
        let done = p["done"].as_u64().unwrap_or(0) as usize;
        for (i, s) in p["steps"].as_array().into_iter().flatten().enumerate() {
            println!("  [{}] {}", if i < done { "x" } else { " " }, str_of(s));
        }
        if let Some(w) = p["waiting"].as_str() {
            println!("  waiting: {w}");
        }
    }
    if let Some(l) = v["last_check"].as_object() {
        let o = &l["observed"];
        println!(
            "last check: {:.3} req/s over {:.0} s; {}",
            o["lambda"].as_f64().unwrap_or(0.0),
            o["window_s"].as_f64().unwrap_or(0.0),
            str_of(&l["decision"])
        );
        for (c, t) in o["response_s"].as_object().into_iter().flatten() {
            let busy = o["utilisation"][c].as_f64().map(|u| format!(", {:.0}% busy", u * 100.0)).unwrap_or_default();
            println!("  {c}: {:.3} s{busy}", t.as_f64().unwrap_or(0.0));
        }
        for (n, l) in o["links"].as_object().into_iter().flatten() {
            println!(
                "  to {n}: {} files, {:.3} s each, {:.0} B/s",
                l["files"],
                l["delay_s"].as_f64().unwrap_or(0.0),
                l["bytes_per_s"].as_f64().unwrap_or(0.0)
            );
        }
    }
}

fn history(v: &Value) {
    let rows = v.as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("no change applied yet");
    }
    for r in &rows {
        println!(
            "#{} {} -> {} ({}; {:.1} s; cost {:.6} -> {:.6}): {} [{}]",
            r["id"],
            str_of(&r["from"]),
            str_of(&r["to"]),
            str_of(&r["via"]),
            r["took_s"].as_f64().unwrap_or(0.0),
            r["old_cost"].as_f64().unwrap_or(0.0),
            r["new_cost"].as_f64().unwrap_or(0.0),
            str_of(&r["reason"]),
            str_of(&r["folder"])
        );
    }
}

fn plan(v: &Value) {
    println!("{}", str_of(&v["reason"]));
    match v["change"].as_object() {
        Some(c) => println!(
            "would apply: deployment {} ({}): {}",
            str_of(&c["deployment"]),
            str_of(&c["via"]),
            units(&c["units"])
        ),
        None => println!("no change"),
    }
}
