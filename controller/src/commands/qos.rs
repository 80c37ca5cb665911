//! `aisprint qos status`.

use aisprint_proto::v1::{QosStatusReply, QosStatusRequest};
use serde_json::{json, Value};

use crate::cli::QosCommand;
use crate::error::{CmdError, Outcome};
use crate::mesh::admin;

pub(super) fn run(cmd: QosCommand) -> Result<Outcome, CmdError> {
    let QosCommand::Status { config, json, events } = cmd;
    super::block_on(async move {
        let mut client = admin::connect_with(&config).await?;
        let r = client.qos_status(QosStatusRequest {}).await.map_err(|e| CmdError::failed(e.message()))?.into_inner();
        if json {
            println!("{}", serde_json::to_string_pretty(&as_json(&r, events)).unwrap_or_default());
        } else {
            table(&r, events);
        }
        Ok(Outcome::Done)
    })
}

fn as_json(r: &QosStatusReply, events: usize) -> Value {
    json!({
        "constraints": r.constraints.iter().map(|c| json!({
            "source": c.source, "name": c.name, "kind": c.kind, "path": c.path, "threshold": c.threshold,
            "value": if c.has_value { json!(c.value) } else { Value::Null },
            "sessions": c.sessions, "state": c.state, "check_unix_ms": c.check_unix_ms,
        })).collect::<Vec<_>>(),
        "throughput": r.throughput.iter().map(|t| json!({
            "source": t.source, "component": t.component, "per_second": t.per_second, "check_unix_ms": t.check_unix_ms,
        })).collect::<Vec<_>>(),
        "events": r.events.iter().rev().take(events).map(|e| json!({
            "source": e.source, "time_unix_ms": e.time_unix_ms,
            "body": serde_json::from_str::<Value>(&e.body_json).unwrap_or(Value::Null),
        })).collect::<Vec<_>>(),
    })
}

fn table(r: &QosStatusReply, events: usize) {
    if r.constraints.is_empty() {
        println!(
            "no constraint checked yet (agents check theirs every time_period; the controller, paths across nodes)"
        );
    } else {
        println!(
            "{:<14} {:<22} {:<7} {:<28} {:>10} {:>10} {:>8} {:<9} CHECKED",
            "SOURCE", "CONSTRAINT", "KIND", "PATH", "VALUE (s)", "THRESHOLD", "SESSIONS", "STATE"
        );
        for x in &r.constraints {
            let value = if x.has_value { format!("{:.3}", x.value) } else { "-".into() };
            println!(
                "{:<14} {:<22} {:<7} {:<28} {:>10} {:>10} {:>8} {:<9} {}",
                super::shown(&x.source, false),
                super::shown(&x.name, false),
                super::shown(&x.kind, false),
                super::shown(&x.path.join(" -> "), false),
                value,
                x.threshold,
                x.sessions,
                x.state,
                super::ago(x.check_unix_ms)
            );
        }
    }
    for t in &r.throughput {
        let ago = super::ago(t.check_unix_ms);
        let (c, s) = (super::shown(&t.component, false), super::shown(&t.source, false));
        println!("throughput of {c} on {s}: {:.3} sessions/s ({ago})", t.per_second);
    }
    if !r.events.is_empty() {
        println!("latest notifications:");
        for e in r.events.iter().rev().take(events) {
            println!(
                "  {} {}: {}",
                super::ago(e.time_unix_ms),
                super::shown(&e.source, false),
                super::shown(&e.body_json, false)
            );
        }
    }
}
