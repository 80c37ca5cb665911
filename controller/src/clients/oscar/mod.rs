//! A client of OSCAR's REST API (the OSCAR Manager of a cluster): its services, their
//! asynchronous and synchronous invocations, and the jobs of a service with their logs.
//!
//! Routes, bodies and status codes follow OSCAR's OpenAPI description (`docs/api.md` in
//! grycap/oscar, which renders `swagger.yaml`, published per release as
//! `https://docs.oscar.grycap.net/<version>/api/swagger.yaml`; read here at v4.1.2), and its
//! handlers (`pkg/handlers/*.go`) where the description is silent:
//!
//! | route                                   | credentials     | success                  |
//! |-----------------------------------------|-----------------|--------------------------|
//! | `GET /health`                           | none            | 200, `Ok`                |
//! | `GET /system/info`, `GET /system/config`| cluster         | 200, JSON                |
//! | `GET /system/services`                  | cluster         | 200, JSON array          |
//! | `POST /system/services`                 | cluster         | 201                      |
//! | `PUT /system/services`                  | cluster         | 204                      |
//! | `GET /system/services/{name}`           | cluster         | 200, JSON                |
//! | `DELETE /system/services/{name}`        | cluster         | 204                      |
//! | `POST /job/{name}`                      | service token   | 201, empty body          |
//! | `POST /run/{name}`                      | service token   | 200, the script's output |
//! | `GET /system/logs/{name}`               | cluster         | 200, `{jobs, next_page}` |
//! | `DELETE /system/logs/{name}[?all=true]` | cluster         | 204                      |
//! | `GET /system/logs/{name}/{job}`         | cluster         | 200, text                |
//! | `DELETE /system/logs/{name}/{job}`      | cluster         | 204                      |
//!
//! The cluster's credentials are HTTP basic (the `oscar` user and its password) or an OIDC
//! bearer token ([`Auth`]); `/job` and `/run` take the service's own token, which OSCAR
//! generates when it creates the service and returns in its definition
//! ([`ServiceDefinition::token`]). Errors say what was asked, of which service, and what
//! OSCAR answered; neither the password nor a token ever appears in an error or in a
//! `Debug` output ([`Secret`]).

mod types;

pub use types::{
    ClusterConfig, Environment, Info, JobInfo, JobPage, MinioProvider, S3Provider, ServerlessBackend,
    ServiceDefinition, StorageIo, StorageProviders,
};

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use indexmap::IndexMap;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

/// How long a request may take, unless [`OscarClient::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of OSCAR's answer an error keeps.
const EXCERPT_CHARS: usize = 300;
/// What a credential looks like in errors and `Debug` output.
const REDACTED: &str = "<redacted>";

pub use aisprint_model::secret::Secret;

/// The cluster's credentials, sent on the `/system` routes.
#[derive(Clone, Debug)]
pub enum Auth {
    /// HTTP basic: OSCAR's `oscar` user (or the one the cluster was set up with).
    Basic { username: String, password: Secret },
    /// An OIDC access token (clusters integrated with EGI Check-in).
    Bearer(Secret),
}

impl Auth {
    pub fn basic(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::Basic { username: username.into(), password: password.into() }
    }

    pub fn bearer(token: impl Into<Secret>) -> Self {
        Self::Bearer(token.into())
    }

    fn secret(&self) -> &str {
        match self {
            Self::Basic { password, .. } => password.expose(),
            Self::Bearer(token) => token.expose(),
        }
    }
}

/// What the client was asked to do; errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Health,
    Info,
    Config,
    ListServices,
    ReadService,
    CreateService,
    UpdateService,
    DeleteService,
    InvokeAsync,
    RunSync,
    ListJobs,
    JobLogs,
    DeleteJobs,
    DeleteJob,
}

impl Op {
    fn uses_service_token(self) -> bool {
        matches!(self, Self::InvokeAsync | Self::RunSync)
    }

    fn not_found_hint(self) -> &'static str {
        match self {
            Self::Health | Self::Info | Self::Config | Self::ListServices => "not found: is this an OSCAR endpoint?",
            Self::JobLogs | Self::DeleteJob => "no such service or job",
            _ => "no such service",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Health => "health check",
            Self::Info => "read cluster info",
            Self::Config => "read cluster config",
            Self::ListServices => "list services",
            Self::ReadService => "read service",
            Self::CreateService => "create service",
            Self::UpdateService => "update service",
            Self::DeleteService => "delete service",
            Self::InvokeAsync => "invoke (async) service",
            Self::RunSync => "run (sync) service",
            Self::ListJobs => "list jobs of service",
            Self::JobLogs => "read logs of service",
            Self::DeleteJobs => "delete jobs of service",
            Self::DeleteJob => "delete job of service",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OscarError {
    #[error("OSCAR endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    #[error("cannot set up the HTTP client for OSCAR: {}", chain(.source))]
    Client {
        #[source]
        source: reqwest::Error,
    },
    #[error("OSCAR: {}: no answer from {url}: {}", subject(*.op, .service, .job), chain(.source))]
    Transport {
        op: Op,
        service: Option<String>,
        job: Option<String>,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("OSCAR: {}: HTTP {status}{}{}", subject(*.op, .service, .job), hint(*.op, *.status), said(.body))]
    Status { op: Op, service: Option<String>, job: Option<String>, status: StatusCode, body: String },
    #[error("OSCAR: create service `{service}`: HTTP {status}: a service of that name already exists{}", said(.body))]
    AlreadyExists { service: String, status: StatusCode, body: String },
    #[error("OSCAR: {}: unexpected answer ({} bytes): {source}", subject(*.op, .service, .job), .len)]
    Decode {
        op: Op,
        service: Option<String>,
        job: Option<String>,
        len: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("service `{service}` cannot be sent to OSCAR: {reason}")]
    Definition { service: String, reason: String },
}

impl OscarError {
    /// OSCAR's status code, when it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } | Self::AlreadyExists { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(StatusCode::UNAUTHORIZED)
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Transport { source, .. } if source.is_timeout())
    }
}

fn subject(op: Op, service: &Option<String>, job: &Option<String>) -> String {
    let mut s = op.to_string();
    if let Some(service) = service {
        s.push_str(&format!(" `{service}`"));
    }
    if let Some(job) = job {
        s.push_str(&format!(", job `{job}`"));
    }
    s
}

fn hint(op: Op, status: StatusCode) -> String {
    let h = match status {
        StatusCode::BAD_REQUEST => "the request was refused as invalid",
        StatusCode::UNAUTHORIZED if op.uses_service_token() => "unauthorized: the service token was refused",
        StatusCode::UNAUTHORIZED => "unauthorized: check the username and password (or the bearer token)",
        StatusCode::FORBIDDEN => "forbidden for this user",
        StatusCode::NOT_FOUND => op.not_found_hint(),
        StatusCode::CONFLICT => "conflict: it already exists",
        s if s.is_server_error() => "OSCAR failed",
        _ => "",
    };
    if h.is_empty() {
        String::new()
    } else {
        format!(" ({h})")
    }
}

fn said(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!("; OSCAR says: {body}")
    }
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// OSCAR's answer as an error keeps it: the known secrets replaced, whitespace trimmed,
/// at most [`EXCERPT_CHARS`] characters.
fn excerpt(body: &[u8], secrets: &[&str]) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        text = text.replace(s, REDACTED);
    }
    let text = text.trim();
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Whose credentials a request carries.
#[derive(Clone, Copy)]
enum Cred<'a> {
    None,
    Cluster,
    Service(&'a str),
}

struct Req<'a> {
    op: Op,
    method: Method,
    path: Vec<&'a str>,
    service: Option<&'a str>,
    job: Option<&'a str>,
    query: Vec<(&'static str, String)>,
    cred: Cred<'a>,
    body: Option<(&'static str, Vec<u8>)>,
}

impl<'a> Req<'a> {
    fn new(op: Op, method: Method, path: &[&'a str]) -> Self {
        Self {
            op,
            method,
            path: path.to_vec(),
            service: None,
            job: None,
            query: Vec::new(),
            cred: Cred::Cluster,
            body: None,
        }
    }

    fn service(mut self, name: &'a str) -> Self {
        self.service = Some(name);
        self
    }

    fn job(mut self, name: &'a str) -> Self {
        self.job = Some(name);
        self
    }

    fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    fn cred(mut self, cred: Cred<'a>) -> Self {
        self.cred = cred;
        self
    }

    fn body(mut self, content_type: &'static str, bytes: Vec<u8>) -> Self {
        self.body = Some((content_type, bytes));
        self
    }
}

/// A client of one OSCAR cluster. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct OscarClient {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    timeout: Duration,
}

impl fmt::Debug for OscarClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OscarClient")
            .field("endpoint", &self.base.as_str())
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl OscarClient {
    /// A client of the cluster at `endpoint` (`https://oscar.example.org`, possibly with a
    /// path prefix). Credentials go in `auth`, never in the URL.
    pub fn new(endpoint: &str, auth: Auth) -> Result<Self, OscarError> {
        let base = parse_endpoint(endpoint)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|source| OscarError::Client { source })?;
        Ok(Self { http, base, auth, timeout: DEFAULT_TIMEOUT })
    }

    /// How long each request may take, from sending it to reading the whole answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn endpoint(&self) -> &str {
        self.base.as_str()
    }

    /// `GET /health`: OSCAR answers `Ok` when it is up. No credentials are sent.
    pub async fn health(&self) -> Result<(), OscarError> {
        self.send(Req::new(Op::Health, Method::GET, &["health"]).cred(Cred::None)).await.map(drop)
    }

    /// `GET /system/info`: OSCAR's version and its serverless backend.
    pub async fn info(&self) -> Result<Info, OscarError> {
        let req = Req::new(Op::Info, Method::GET, &["system", "info"]);
        self.json(req).await
    }

    /// `GET /system/config`: the cluster's settings and the caller's MinIO credentials.
    pub async fn config(&self) -> Result<ClusterConfig, OscarError> {
        let req = Req::new(Op::Config, Method::GET, &["system", "config"]);
        self.json(req).await
    }

    /// `GET /system/services`.
    pub async fn list_services(&self) -> Result<Vec<ServiceDefinition>, OscarError> {
        let req = Req::new(Op::ListServices, Method::GET, &["system", "services"]);
        Ok(self.json::<Option<Vec<ServiceDefinition>>>(req).await?.unwrap_or_default())
    }

    /// `GET /system/services/{name}`: the definition with its token.
    pub async fn get_service(&self, name: &str) -> Result<ServiceDefinition, OscarError> {
        let req = Req::new(Op::ReadService, Method::GET, &["system", "services", name]).service(name);
        self.json(req).await
    }

    /// `POST /system/services` (201). A name already taken is [`OscarError::AlreadyExists`]:
    /// OSCAR up to 4.0 answers 409, later versions check first and answer 400 with "A
    /// service with the provided name already exists" (409 only when they race).
    pub async fn create_service(&self, service: &ServiceDefinition) -> Result<(), OscarError> {
        let body = self.to_json(Op::CreateService, &service.name, service)?;
        let req = Req::new(Op::CreateService, Method::POST, &["system", "services"])
            .service(&service.name)
            .body("application/json", body);
        match self.send(req).await {
            Ok(_) => Ok(()),
            Err(OscarError::Status { status, body, .. })
                if status == StatusCode::CONFLICT
                    || (status == StatusCode::BAD_REQUEST && body.to_ascii_lowercase().contains("already exists")) =>
            {
                Err(OscarError::AlreadyExists { service: service.name.clone(), status, body })
            }
            Err(e) => Err(e),
        }
    }

    /// `PUT /system/services` (204): the whole definition, found by its name. OSCAR keeps the
    /// service's token.
    pub async fn update_service(&self, service: &ServiceDefinition) -> Result<(), OscarError> {
        let body = self.to_json(Op::UpdateService, &service.name, service)?;
        let req = Req::new(Op::UpdateService, Method::PUT, &["system", "services"])
            .service(&service.name)
            .body("application/json", body);
        self.send(req).await.map(drop)
    }

    /// `DELETE /system/services/{name}` (204), with its buckets and jobs.
    pub async fn delete_service(&self, name: &str) -> Result<(), OscarError> {
        let req = Req::new(Op::DeleteService, Method::DELETE, &["system", "services", name]).service(name);
        self.send(req).await.map(drop)
    }

    /// `POST /job/{name}` (201) with the service's token: OSCAR creates a job for `event`
    /// (usually a storage event; any bytes) and answers at once, without the job's name,
    /// which [`Self::list_jobs`] shows (`<name>-<uuid>`).
    pub async fn invoke_async(&self, name: &str, token: &str, event: Vec<u8>) -> Result<(), OscarError> {
        let req = Req::new(Op::InvokeAsync, Method::POST, &["job", name])
            .service(name)
            .cred(Cred::Service(token))
            .body("application/octet-stream", event);
        self.send(req).await.map(drop)
    }

    /// `POST /run/{name}` with the service's token: the script runs on `input` and its output
    /// is the answer. OSCAR passes both through as they are: binary input is sent base64
    /// encoded by convention, and output is whatever the script writes (base64 as well for
    /// binary files, with `log_level: CRITICAL` to keep the supervisor's logs out of it).
    pub async fn run_sync(&self, name: &str, token: &str, input: Vec<u8>) -> Result<Vec<u8>, OscarError> {
        let req = Req::new(Op::RunSync, Method::POST, &["run", name])
            .service(name)
            .cred(Cred::Service(token))
            .body("application/octet-stream", input);
        self.send(req).await
    }

    /// `GET /system/logs/{name}?page=…`: one page of the service's jobs.
    pub async fn list_jobs_page(&self, name: &str, page: Option<&str>) -> Result<JobPage, OscarError> {
        let mut req = Req::new(Op::ListJobs, Method::GET, &["system", "logs", name]).service(name);
        if let Some(p) = page.filter(|p| !p.is_empty()) {
            req = req.query("page", p);
        }
        let value: serde_json::Value = self.json(req).await?;
        // OSCAR before 3.7 answered with the map of jobs itself.
        let paged = match &value {
            serde_json::Value::Object(m) => m.get("jobs").is_some_and(|j| j.is_object() || j.is_null()),
            _ => true,
        };
        let decode = |source| OscarError::Decode {
            op: Op::ListJobs,
            service: Some(name.to_owned()),
            job: None,
            len: value.to_string().len(),
            source,
        };
        if value.is_null() {
            Ok(JobPage::default())
        } else if paged {
            serde_json::from_value(value.clone()).map_err(decode)
        } else {
            let jobs = serde_json::from_value(value.clone()).map_err(decode)?;
            Ok(JobPage { jobs, ..Default::default() })
        }
    }

    /// All the service's jobs, following `next_page`.
    pub async fn list_jobs(&self, name: &str) -> Result<IndexMap<String, JobInfo>, OscarError> {
        let mut jobs = IndexMap::new();
        let mut seen = HashSet::new();
        let mut page: Option<String> = None;
        loop {
            let p = self.list_jobs_page(name, page.as_deref()).await?;
            jobs.extend(p.jobs);
            match p.next_page.filter(|n| !n.is_empty()) {
                Some(next) if seen.insert(next.clone()) => page = Some(next),
                _ => return Ok(jobs),
            }
        }
    }

    /// `GET /system/logs/{name}/{job}`: the job's log, each line prefixed with its RFC 3339
    /// time when `timestamps`.
    pub async fn job_logs(&self, name: &str, job: &str, timestamps: bool) -> Result<String, OscarError> {
        let mut req = Req::new(Op::JobLogs, Method::GET, &["system", "logs", name, job]).service(name).job(job);
        if timestamps {
            req = req.query("timestamps", "true");
        }
        let bytes = self.send(req).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// `DELETE /system/logs/{name}` (204): the service's finished jobs, or all of them (also
    /// pending, running and failed ones) when `all`.
    pub async fn delete_jobs(&self, name: &str, all: bool) -> Result<(), OscarError> {
        let mut req = Req::new(Op::DeleteJobs, Method::DELETE, &["system", "logs", name]).service(name);
        if all {
            req = req.query("all", "true");
        }
        self.send(req).await.map(drop)
    }

    /// `DELETE /system/logs/{name}/{job}` (204): one job and its pod.
    pub async fn delete_job(&self, name: &str, job: &str) -> Result<(), OscarError> {
        let req = Req::new(Op::DeleteJob, Method::DELETE, &["system", "logs", name, job]).service(name).job(job);
        self.send(req).await.map(drop)
    }

    fn url(&self, path: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(path);
        }
        url
    }

    fn to_json(&self, op: Op, name: &str, service: &ServiceDefinition) -> Result<Vec<u8>, OscarError> {
        serde_json::to_vec(service).map_err(|e| OscarError::Definition {
            service: name.to_owned(),
            reason: format!("{op}: cannot write it as JSON: {e}"),
        })
    }

    async fn json<T: DeserializeOwned>(&self, req: Req<'_>) -> Result<T, OscarError> {
        let (op, service, job) = (req.op, req.service.map(str::to_owned), req.job.map(str::to_owned));
        let bytes = self.send(req).await?;
        serde_json::from_slice(&bytes).map_err(|source| OscarError::Decode {
            op,
            service,
            job,
            len: bytes.len(),
            source,
        })
    }

    /// Sends `req`; the answer's body when OSCAR says 2xx.
    async fn send(&self, req: Req<'_>) -> Result<Vec<u8>, OscarError> {
        let url = self.url(&req.path);
        let mut rb = self.http.request(req.method.clone(), url.clone()).timeout(self.timeout);
        if !req.query.is_empty() {
            rb = rb.query(&req.query);
        }
        rb = match (req.cred, &self.auth) {
            (Cred::None, _) => rb,
            (Cred::Service(token), _) => rb.bearer_auth(token),
            (Cred::Cluster, Auth::Basic { username, password }) => rb.basic_auth(username, Some(password.expose())),
            (Cred::Cluster, Auth::Bearer(token)) => rb.bearer_auth(token.expose()),
        };
        if let Some((content_type, bytes)) = req.body {
            rb = rb.header(CONTENT_TYPE, content_type).body(bytes);
        }
        let transport = |source: reqwest::Error| OscarError::Transport {
            op: req.op,
            service: req.service.map(str::to_owned),
            job: req.job.map(str::to_owned),
            url: url.to_string(),
            source: source.without_url(),
        };
        let resp = rb.send().await.map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        tracing::debug!(op = %req.op, service = req.service, %status, bytes = bytes.len(), "OSCAR answered");
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let token = match req.cred {
            Cred::Service(t) => t,
            _ => "",
        };
        Err(OscarError::Status {
            op: req.op,
            service: req.service.map(str::to_owned),
            job: req.job.map(str::to_owned),
            status,
            body: excerpt(&bytes, &[self.auth.secret(), token]),
        })
    }
}

fn parse_endpoint(endpoint: &str) -> Result<Url, OscarError> {
    let invalid = |shown: String, reason: &str| OscarError::InvalidEndpoint { endpoint: shown, reason: reason.into() };
    // A URL that does not parse is not shown whole when it may hold credentials.
    let shown = || if endpoint.contains('@') { "(hidden: it contains `@`)".to_owned() } else { endpoint.to_owned() };
    let mut url = Url::parse(endpoint.trim()).map_err(|e| invalid(shown(), &e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(shown(), "expected an http:// or https:// URL"));
    }
    if url.cannot_be_a_base() || url.host_str().is_none() {
        return Err(invalid(shown(), "expected a URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        let _ = url.set_username("");
        let _ = url.set_password(None);
        return Err(invalid(url.to_string(), "credentials belong in the client's `Auth`, not in the URL"));
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}
