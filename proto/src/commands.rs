//! The commands the controller sends an agent over its command stream
//! (`AgentService.Commands`), and the agents' answers.
//!
//! On the wire a command is a [`v1::Command`]: an id, a kind (`services.apply`, ...) and its
//! payload as JSON. [`AgentCommand`] is the one place both sides build and read them:
//! `to_wire` writes the same bytes the first agents read (the payloads' fields in the order
//! given here), and `from_wire` refuses an unknown kind or a payload of the wrong shape
//! with the kind in the error. An agent answers with a [`Reply`], a `command_result` point
//! in its metric batches; the controller matches it to the command by id.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::v1;

/// Services for one cluster: its FDL, and the scripts it names (path relative to the FDL ->
/// content). The cluster's services are replaced by these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Apply {
    pub cluster: String,
    pub fdl: String,
    #[serde(default)]
    pub scripts: BTreeMap<String, String>,
}

/// A file for a bucket: `<buckets>/<bucket>/<name>`, made visible whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Put {
    /// `bucket/folder`.
    pub bucket: String,
    pub name: String,
    /// The content, base64.
    pub content: String,
}

/// Stop one service (by its FDL name) and forget it: it does not come back after a restart of
/// the agent when the controller applied it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stop {
    pub service: String,
}

/// Answer once the services reading `bucket` (`bucket/folder`) have no job waiting or running,
/// or after `timeout_s`; files that arrive meanwhile are taken as usual.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drain {
    pub bucket: String,
    pub timeout_s: f64,
}

/// What the controller asks of an agent.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentCommand {
    /// `services.apply`: run these services (`aisprint oscar apply`, the campaigns).
    ServicesApply(Apply),
    /// `bucket.put`: store a file in a bucket (a campaign's uploads; files shipped from
    /// another agent's outbox).
    BucketPut(Put),
    /// `service.stop`: stop a service.
    ServiceStop(Stop),
    /// `bucket.drain`: wait until a bucket's work is done.
    BucketDrain(Drain),
}

/// A command that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command kind `{0}`")]
    Unknown(String),
    #[error("{kind}: unreadable payload: {source}")]
    Payload {
        kind: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl AgentCommand {
    pub const SERVICES_APPLY: &'static str = "services.apply";
    pub const BUCKET_PUT: &'static str = "bucket.put";
    pub const SERVICE_STOP: &'static str = "service.stop";
    pub const BUCKET_DRAIN: &'static str = "bucket.drain";

    /// The kind on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ServicesApply(_) => Self::SERVICES_APPLY,
            Self::BucketPut(_) => Self::BUCKET_PUT,
            Self::ServiceStop(_) => Self::SERVICE_STOP,
            Self::BucketDrain(_) => Self::BUCKET_DRAIN,
        }
    }

    /// The payload as JSON, its fields in declaration order.
    pub fn payload_json(&self) -> String {
        let r = match self {
            Self::ServicesApply(a) => serde_json::to_string(a),
            Self::BucketPut(p) => serde_json::to_string(p),
            Self::ServiceStop(s) => serde_json::to_string(s),
            Self::BucketDrain(d) => serde_json::to_string(d),
        };
        // Strings, maps of strings and a finite number: nothing here fails to serialize.
        r.unwrap_or_default()
    }

    /// The command as sent to an agent, under `id`.
    pub fn to_wire(&self, id: impl Into<String>) -> v1::Command {
        v1::Command { id: id.into(), kind: self.kind().into(), payload_json: self.payload_json() }
    }

    /// The admin request that asks the controller to send this command to `node`.
    pub fn to_request(&self, node: impl Into<String>) -> v1::SendCommandRequest {
        v1::SendCommandRequest { node_id: node.into(), kind: self.kind().into(), payload_json: self.payload_json() }
    }

    /// Reads a command from the wire.
    pub fn from_wire(c: &v1::Command) -> Result<AgentCommand, CommandError> {
        Self::parse(&c.kind, &c.payload_json)
    }

    /// Reads a command from its kind and payload.
    pub fn parse(kind: &str, payload_json: &str) -> Result<AgentCommand, CommandError> {
        fn read<T: serde::de::DeserializeOwned>(kind: &'static str, json: &str) -> Result<T, CommandError> {
            serde_json::from_str(json).map_err(|source| CommandError::Payload { kind, source })
        }
        Ok(match kind {
            Self::SERVICES_APPLY => Self::ServicesApply(read(Self::SERVICES_APPLY, payload_json)?),
            Self::BUCKET_PUT => Self::BucketPut(read(Self::BUCKET_PUT, payload_json)?),
            Self::SERVICE_STOP => Self::ServiceStop(read(Self::SERVICE_STOP, payload_json)?),
            Self::BUCKET_DRAIN => Self::BucketDrain(read(Self::BUCKET_DRAIN, payload_json)?),
            other => return Err(CommandError::Unknown(other.to_string())),
        })
    }
}

/// An agent's answer to a command, carried as a `command_result` point.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The command's id.
    pub command: String,
    pub ok: bool,
    /// Not done, but it may be tried again (a disk error, for example).
    pub transient: bool,
    /// What was done, or why not.
    pub message: String,
}

impl Reply {
    /// The measurement of answers.
    pub const MEASUREMENT: &'static str = "command_result";

    /// The answer as a point of the agent's batches.
    pub fn to_point(&self, time_unix_ns: i64) -> v1::Point {
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        v1::Point {
            measurement: Self::MEASUREMENT.into(),
            tags: [("command".to_string(), self.command.clone()), ("message".to_string(), self.message.clone())]
                .into_iter()
                .collect(),
            fields: [("ok".to_string(), flag(self.ok)), ("transient".to_string(), flag(self.transient))]
                .into_iter()
                .collect(),
            time_unix_ns,
        }
    }

    /// The answer a point carries (None when it is not a `command_result`).
    pub fn from_point(p: &v1::Point) -> Option<Reply> {
        if p.measurement != Self::MEASUREMENT {
            return None;
        }
        let flag = |k: &str| p.fields.get(k).copied().unwrap_or_default() > 0.5;
        let tag = |k: &str| p.tags.get(k).cloned().unwrap_or_default();
        Some(Reply { command: tag("command"), ok: flag("ok"), transient: flag("transient"), message: tag("message") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_the_bytes_the_first_agents_read() {
        let a = AgentCommand::ServicesApply(Apply {
            cluster: "edge".into(),
            fdl: "functions: {}\n".into(),
            scripts: [("s/script.sh".to_string(), "echo hi\n".to_string())].into_iter().collect(),
        });
        let w = a.to_wire("c-1");
        assert_eq!((w.id.as_str(), w.kind.as_str()), ("c-1", "services.apply"));
        assert_eq!(
            w.payload_json,
            r#"{"cluster":"edge","fdl":"functions: {}\n","scripts":{"s/script.sh":"echo hi\n"}}"#
        );
        let p = AgentCommand::BucketPut(Put { bucket: "b/in".into(), name: "x.jpg".into(), content: "aGk=".into() });
        assert_eq!(p.payload_json(), r#"{"bucket":"b/in","name":"x.jpg","content":"aGk="}"#);
        for c in [a, p] {
            assert_eq!(AgentCommand::from_wire(&c.to_wire("id")).unwrap(), c);
        }
        // What the first controllers sent: scripts may be absent.
        let old = AgentCommand::parse("services.apply", r#"{"cluster":"c","fdl":"x"}"#).unwrap();
        assert!(matches!(old, AgentCommand::ServicesApply(Apply { scripts, .. }) if scripts.is_empty()));
    }

    #[test]
    fn unknown_kinds_and_bad_payloads_are_named() {
        let e = AgentCommand::parse("reboot", "{}").unwrap_err();
        assert_eq!(e.to_string(), "unknown command kind `reboot`");
        let e = AgentCommand::parse("bucket.put", r#"{"bucket":1}"#).unwrap_err();
        assert!(e.to_string().starts_with("bucket.put: unreadable payload"), "{e}");
    }

    #[test]
    fn replies_round_trip_through_points() {
        let r = Reply { command: "c-7".into(), ok: false, transient: true, message: "disk full".into() };
        let p = r.to_point(5);
        assert_eq!(p.measurement, "command_result");
        assert_eq!(p.fields["ok"], 0.0);
        assert_eq!(Reply::from_point(&p), Some(r));
        assert_eq!(Reply::from_point(&v1::Point { measurement: "cpu".into(), ..Default::default() }), None);
    }
}
