//! A client of the Infrastructure Manager's REST API (<https://imdocs.readthedocs.io>):
//! create an infrastructure from a TOSCA document, follow its state, read its outputs, RADL,
//! VMs and contextualisation log, add and remove VMs, delete it.
//!
//! Every request carries the `Authorization` header made of the auth.dat lines joined by a
//! literal `\n`. Errors name the operation and IM's status and message, with IM's Python
//! traceback lines left out and every credential of auth.dat replaced by `***`.

use std::time::Duration;

use aisprint_model::app::physical::Secret;
use aisprint_tosca::im::{scrub, AuthFile};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ImError {
    #[error("IM: {op}: HTTP {status}: {message}")]
    Status { op: String, status: u16, message: String },
    #[error("IM: {op}: {message}")]
    Transport { op: String, message: String },
    #[error("IM: {op}: unexpected answer: {message}")]
    Decode { op: String, message: String },
}

impl ImError {
    /// The HTTP status IM answered, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ImError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The state of an infrastructure: `pending`, `running`, `configured`, `unconfigured`,
/// `stopped`, `off`, `failed`, `unknown`, `deleting`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfraState {
    pub state: String,
    /// VM id -> state.
    pub vm_states: Vec<(String, String)>,
}

pub struct ImClient {
    http: reqwest::Client,
    base: String,
    auth: Secret,
    secrets: Vec<String>,
}

impl std::fmt::Debug for ImClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImClient").field("base", &self.base).field("auth", &"***").finish()
    }
}

/// IM's error text without its Python traceback: the lines that say what went wrong.
pub fn error_text(body: &str) -> String {
    let msg = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.to_string());
    let lines: Vec<&str> = msg
        .lines()
        .filter(|l| !l.starts_with("\t\t") && !l.trim_start().starts_with("File \"") && !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let mut out = lines.join(" ");
    if out.chars().count() > 800 {
        out = out.chars().take(800).collect::<String>() + " [...]";
    }
    out
}

impl ImClient {
    /// A client of the IM at `base` (`https://im.egi.eu/im`), with auth.dat's credentials.
    pub fn new(base: &str, auth: &AuthFile, timeout: Duration) -> Result<Self, ImError> {
        auth.im().map_err(|e| ImError::Transport { op: "read auth.dat".into(), message: e.to_string() })?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| ImError::Transport { op: "start the HTTP client".into(), message: e.to_string() })?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            auth: auth.header_value(),
            secrets: auth.secrets().into_iter().map(str::to_string).collect(),
        })
    }

    /// Adds values to hide from messages (the generated passwords and the keys the documents
    /// carry: IM's errors and logs may echo a document).
    pub fn with_secrets(mut self, more: Vec<String>) -> Self {
        self.secrets.extend(more.into_iter().filter(|s| s.len() >= 3));
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn clean(&self, text: &str) -> String {
        let refs: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        scrub(text, &refs)
    }

    fn transport(&self, op: &str, e: reqwest::Error) -> ImError {
        let kind = if e.is_timeout() {
            "no answer in time"
        } else if e.is_connect() {
            "cannot connect"
        } else {
            "request failed"
        };
        let mut source = String::new();
        let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        while let Some(s) = cur {
            source = s.to_string();
            cur = s.source();
        }
        let detail = if source.is_empty() { String::new() } else { format!(" ({source})") };
        ImError::Transport { op: op.to_string(), message: self.clean(&format!("{kind}{detail}")) }
    }

    async fn send(&self, op: &str, req: reqwest::RequestBuilder) -> Result<String, ImError> {
        let resp = req
            .header("Authorization", self.auth.expose())
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| self.transport(op, e))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| self.transport(op, e))?;
        if !status.is_success() {
            return Err(ImError::Status {
                op: op.to_string(),
                status: status.as_u16(),
                message: error_text(&self.clean(&body)),
            });
        }
        Ok(body)
    }

    fn json(&self, op: &str, body: &str) -> Result<Value, ImError> {
        serde_json::from_str(body).map_err(|e| ImError::Decode { op: op.to_string(), message: e.to_string() })
    }

    /// The URL of an infrastructure given by its URL or its id.
    pub fn infra_url(&self, id_or_url: &str) -> String {
        // Only the id is taken from a URL (IM's answer, infras.yaml): auth.dat goes to this
        // client's IM and nowhere else, whatever host a URL names.
        let id = match id_or_url.rsplit_once("/infrastructures/") {
            Some((_, id)) => id,
            None => id_or_url,
        };
        let id = id.split(['?', '#']).next().unwrap_or_default().trim_end_matches('/');
        let safe: String = id
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        // `.` and `..` would climb out of /infrastructures: IM answers "not found" for `-`.
        let safe = if safe.bytes().all(|b| b == b'.') { "-".to_string() } else { safe };
        format!("{}/infrastructures/{safe}", self.base)
    }

    /// Creates an infrastructure from a TOSCA document without waiting for it (IM's
    /// `async`); returns its URL.
    pub async fn create(&self, op: &str, tosca: &str) -> Result<String, ImError> {
        let url = format!("{}/infrastructures?async=1", self.base);
        let body =
            self.send(op, self.http.post(url).header("Content-Type", "text/yaml").body(tosca.to_string())).await?;
        let v = self.json(op, &body)?;
        v.get("uri")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ImError::Decode { op: op.into(), message: "no `uri` in the answer".into() })
    }

    async fn prop(&self, infra: &str, prop: &str) -> Result<Value, ImError> {
        let op = format!("read the {prop} of {infra}");
        let body = self.send(&op, self.http.get(format!("{}/{prop}", self.infra_url(infra)))).await?;
        let v = self.json(&op, &body)?;
        Ok(v.get(prop).cloned().unwrap_or(Value::Null))
    }

    pub async fn state(&self, infra: &str) -> Result<InfraState, ImError> {
        let v = self.prop(infra, "state").await?;
        let state = v.get("state").and_then(Value::as_str).unwrap_or("unknown").to_string();
        let vm_states = v
            .get("vm_states")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
            .unwrap_or_default();
        Ok(InfraState { state, vm_states })
    }

    /// The contextualisation log (why an infrastructure failed or is unconfigured), without
    /// credentials.
    pub async fn contmsg(&self, infra: &str) -> Result<String, ImError> {
        let v = self.prop(infra, "contmsg").await?;
        Ok(self.clean(v.as_str().unwrap_or("")))
    }

    /// The TOSCA outputs (endpoints and credentials: the caller decides where they go).
    pub async fn outputs(&self, infra: &str) -> Result<Value, ImError> {
        self.prop(infra, "outputs").await
    }

    /// The infrastructure's RADL (what IM built: systems, their CPUs, memory, images).
    pub async fn radl(&self, infra: &str) -> Result<String, ImError> {
        let v = self.prop(infra, "radl").await?;
        Ok(v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
    }

    /// The URLs of the infrastructure's VMs.
    pub async fn vms(&self, infra: &str) -> Result<Vec<String>, ImError> {
        let op = format!("list the VMs of {infra}");
        let body = self.send(&op, self.http.get(self.infra_url(infra))).await?;
        let v = self.json(&op, &body)?;
        Ok(v.get("uri-list")
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(|u| u.get("uri").and_then(Value::as_str).map(str::to_string)).collect())
            .unwrap_or_default())
    }

    /// The RADL system a VM was deployed from (`front`, `wn_resource1`).
    pub async fn vm_system(&self, vm_url: &str) -> Result<String, ImError> {
        let op = format!("read the VM {vm_url}");
        let body = self.send(&op, self.http.get(vm_url)).await?;
        let v = self.json(&op, &body)?;
        v.get("radl")
            .and_then(Value::as_array)
            .and_then(|l| l.iter().find(|a| a.get("class").and_then(Value::as_str) == Some("system")))
            .and_then(|s| s.get("id").and_then(Value::as_str))
            .map(str::to_string)
            .ok_or_else(|| ImError::Decode { op, message: "no system in the VM's RADL".into() })
    }

    /// Adds the VMs a RADL deploys to an infrastructure (IM's AddResource, contextualised);
    /// the new VMs' URLs. The RADL may refer to the infrastructure's systems and networks by
    /// name (`system wn_resource1` with no body).
    pub async fn add_vms(&self, infra: &str, radl: &str) -> Result<Vec<String>, ImError> {
        let op = format!("add VMs to {infra}");
        let url = format!("{}?context=1", self.infra_url(infra));
        let req = self.http.post(url).header("Content-Type", "text/plain").body(radl.to_string());
        let body = self.send(&op, req).await?;
        let v = self.json(&op, &body)?;
        Ok(v.get("uri-list")
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(|u| u.get("uri").and_then(Value::as_str).map(str::to_string)).collect())
            .unwrap_or_default())
    }

    /// Removes VMs (their ids: the last segment of their URLs) from an infrastructure, which
    /// is contextualised again without them.
    pub async fn remove_vms(&self, infra: &str, ids: &[String]) -> Result<(), ImError> {
        let op = format!("remove VMs {} from {infra}", ids.join(","));
        let url = format!("{}/vms/{}?context=1", self.infra_url(infra), ids.join(","));
        self.send(&op, self.http.delete(url)).await.map(|_| ())
    }

    /// Deletes an infrastructure and everything IM created for it, without waiting (IM's
    /// `async`): IM answers at once and goes on deleting.
    pub async fn destroy(&self, infra: &str) -> Result<(), ImError> {
        let op = format!("delete {infra}");
        self.send(&op, self.http.delete(format!("{}?async=1", self.infra_url(infra)))).await.map(|_| ())
    }

    /// Deletes an infrastructure and waits until IM no longer knows it (deleting cloud
    /// resources can take minutes); `Ok` also when it was already gone.
    pub async fn destroy_and_wait(&self, infra: &str, timeout: Duration) -> Result<(), ImError> {
        match self.destroy(infra).await {
            Err(e) if e.status() == Some(404) => return Ok(()),
            r => r?,
        }
        let start = std::time::Instant::now();
        let mut wait = Duration::from_millis(500);
        loop {
            match self.state(infra).await {
                Err(e) if e.status() == Some(404) => return Ok(()),
                Err(e) => return Err(e),
                Ok(s) if start.elapsed() > timeout => {
                    return Err(ImError::Transport {
                        op: format!("delete {infra}"),
                        message: format!("still `{}` after {}s; IM goes on deleting it", s.state, timeout.as_secs()),
                    })
                }
                Ok(_) => {}
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(15));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_drops_the_traceback() {
        let body = r#"{"message":"Error parsing request body: Error parsing TOSCA template: \nThe pre-parsed input failed validation with the following error(s): \n\n\tUnknownFieldError: \"properties\" of template \"front\" contains unknown field \"image\".\n\t\tFile /x/run_im.py, line 14, in <module>\n\t\t\tmain()\n","code":400}"#;
        let t = error_text(body);
        assert!(t.contains("UnknownFieldError") && t.contains("unknown field \"image\""), "{t}");
        assert!(!t.contains("run_im.py") && !t.contains("main()"), "{t}");
        assert_eq!(error_text("plain text"), "plain text");
    }
    #[test]
    fn credentials_go_to_this_im_only() {
        let auth =
            aisprint_tosca::im::parse_auth("id = im; type = InfrastructureManager; username = u; password = p\n")
                .expect("auth.dat");
        let im = ImClient::new("http://127.0.0.1:8899/im/", &auth, Duration::from_secs(1)).expect("client");
        let want = "http://127.0.0.1:8899/im/infrastructures/abc-1";
        assert_eq!(im.infra_url("abc-1"), want);
        assert_eq!(im.infra_url("http://127.0.0.1:8899/im/infrastructures/abc-1"), want);
        assert_eq!(im.infra_url("http://evil.example/infrastructures/abc-1?x=1"), want);
        assert_eq!(
            im.infra_url("http://evil.example/steal"),
            "http://127.0.0.1:8899/im/infrastructures/http%3A%2F%2Fevil.example%2Fsteal"
        );
        assert_eq!(im.infra_url("../../x"), "http://127.0.0.1:8899/im/infrastructures/..%2F..%2Fx");
        assert_eq!(im.infra_url(".."), "http://127.0.0.1:8899/im/infrastructures/-");
    }
}
