//! `oscar_client` against a stand-in for OSCAR's REST API.
//!
//! A real OSCAR (OSCAR Manager) needs a Kubernetes cluster with MinIO and a serverless
//! backend, so these tests serve a small in-memory stand-in on `127.0.0.1:0` instead. It
//! follows OSCAR's API as documented in its OpenAPI description (grycap/oscar `docs/api.md`,
//! which renders `swagger.yaml`, published as
//! `https://docs.oscar.grycap.net/v4.1.2/api/swagger.yaml`) and, where that is silent, what
//! its handlers (`pkg/handlers/*.go`) answer:
//!
//! - `/system/*` takes HTTP basic auth (user `oscar`); a wrong or missing one is 401 with
//!   `WWW-Authenticate: Basic realm="Authorization Required"` and no body.
//! - `POST /system/services` is 201, with defaults filled in (`cpu` 0.2, `memory` 256Mi,
//!   `log_level` upper-cased or INFO, `visibility` private) and a new token of 64 hexadecimal
//!   digits; a definition without `name`, `image` or `script`, or with a name over 39
//!   characters, is 400 "The service specification is not valid: …"; a name already taken is
//!   409 up to OSCAR 4.0 and 400 "A service with the provided name already exists" from 4.1
//!   (both [`Flavor`]s are served).
//! - `PUT /system/services` is 204 and keeps the token; 404 for an unknown service.
//! - `GET|DELETE /system/services/{name}`: 200 with the definition, 204; 404 with no body.
//! - `POST /job/{name}`: 404 for an unknown service first, then the bearer token: 64
//!   characters must be the service's (else 401); other lengths are taken for OIDC tokens,
//!   and with no OIDC issuer configured that is 400. 201 with no body; the job is named
//!   `<service>-<uuid>`.
//! - `POST /run/{name}`: same checks; 200 with the script's output.
//! - `GET /system/logs/{name}`: 200, `{"jobs": {name: {status, creation_time, start_time,
//!   finish_time}}, "next_page", "remaining_jobs"}` in pages of [`PAGE`] (OSCAR's
//!   `JobListingLimit`, a Kubernetes `continue` token in the real one).
//! - `GET /system/logs/{name}/{job}[?timestamps=true]`: the log as text; 404 for an
//!   unknown job. `DELETE /system/logs/{name}[?all=true]`: succeeded jobs only, or all;
//!   `DELETE /system/logs/{name}/{job}`: 204 or 404.
//!
//! Not modelled: Kubernetes, MinIO buckets, OIDC users, visibility and federation. Stored
//! definitions are kept as sent (a real OSCAR keeps only the fields its `Service` type
//! knows and writes absent ones as zero values, `null` for lists and maps; the stand-in
//! writes `null` for a missing `input`, `output` and `environment.variables`). Jobs get their
//! final status at once: `Failed` when the event contains `fail`, else `Succeeded`; their
//! times (whole seconds, as Kubernetes keeps them) follow a queue of `total_cpu / cpu` slots
//! (one when unset), each job pending 1 s (the pod's creation) and running 1 s, the queue
//! emptied when all jobs are deleted. `/run` echoes its
//! input, after 3 s when the input is `sleep` (for the timeout test).
//!
//! A few tests use [`answering`] instead: not OSCAR, a server with one canned answer (long
//! error texts, the job list of OSCAR before 3.7, a proxy's HTML page).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aisprint_controller::clients::oscar::{Auth, OscarClient, OscarError, ServiceDefinition, StorageIo};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use indexmap::IndexMap;
use serde_json::{json, Value};

const USER: &str = "oscar";
const PASSWORD: &str = "stand-in-Pa55word";
const PAGE: usize = 2;

/// How the stand-in answers a create with a name already taken.
#[derive(Debug, Clone, Copy)]
enum Flavor {
    /// OSCAR up to 4.0: 409, from Kubernetes' AlreadyExists.
    V4_0,
    /// OSCAR 4.1 and later: checked first, 400.
    V4_1,
}

#[derive(Debug)]
struct Job {
    info: Value,
    log: String,
}

#[derive(Debug)]
struct Oscar {
    flavor: Flavor,
    services: IndexMap<String, Value>,
    jobs: IndexMap<String, IndexMap<String, Job>>,
    seq: u64,
    /// Per service, when each of its slots is free (Unix seconds).
    slots: HashMap<String, Vec<u64>>,
}

type Shared = Arc<Mutex<Oscar>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Oscar> {
    s.lock().expect("stand-in state")
}

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(c.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(c.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A token like OSCAR's: 32 random bytes in hexadecimal.
fn new_token() -> String {
    use std::hash::BuildHasher;
    let s = std::collections::hash_map::RandomState::new();
    (0..4u8).map(|i| format!("{:016x}", s.hash_one(i))).collect()
}

fn time(unix: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(unix)).to_string()
}

/// A quantity of CPU as OSCAR takes it (`"0.5"`, `"500m"`, a number).
fn cores(v: &Value) -> Option<f64> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    match s.strip_suffix('m') {
        Some(m) => m.parse::<f64>().ok().map(|m| m / 1000.0),
        None => s.parse().ok(),
    }
}

fn status(code: StatusCode) -> Response {
    code.into_response()
}

fn text(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, msg.into()).into_response()
}

/// The 401 of a request without the cluster's credentials.
fn cluster_refusal(h: &HeaderMap) -> Option<Response> {
    let want = format!("Basic {}", b64(format!("{USER}:{PASSWORD}").as_bytes()));
    if h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(want.as_str()) {
        None
    } else {
        Some(
            (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"Authorization Required\"")])
                .into_response(),
        )
    }
}

/// Why a request does not carry `service`'s token.
fn token_refusal(h: &HeaderMap, service: &Value) -> Option<Response> {
    let value = h.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    let parts: Vec<&str> = value.split("Bearer ").collect();
    if parts.len() != 2 {
        return Some(status(StatusCode::UNAUTHORIZED));
    }
    let raw = parts[1].trim();
    if raw.len() != 64 {
        return Some(text(StatusCode::BAD_REQUEST, "Error getting oidc manager for issuer ''"));
    }
    if service["token"].as_str() == Some(raw) {
        None
    } else {
        Some(status(StatusCode::UNAUTHORIZED))
    }
}

/// The checks and defaults of create and update; the definition to store.
fn checked(body: &[u8]) -> Result<serde_json::Map<String, Value>, Box<Response>> {
    let invalid =
        |why: &str| Box::new(text(StatusCode::BAD_REQUEST, format!("The service specification is not valid: {why}")));
    let Ok(Value::Object(mut s)) = serde_json::from_slice::<Value>(body) else {
        return Err(invalid("expected a JSON object"));
    };
    for field in ["name", "image", "script"] {
        if s.get(field).and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(invalid(&format!(
                "Key: 'Service.{field}' Error:Field validation failed on the 'required' tag"
            )));
        }
    }
    if s["name"].as_str().is_some_and(|n| n.chars().count() > 39) {
        return Err(invalid("Key: 'Service.name' Error:Field validation failed on the 'max' tag"));
    }
    for (field, default) in [("cpu", "0.2"), ("memory", "256Mi"), ("visibility", "private")] {
        if s.get(field).and_then(Value::as_str).is_none_or(str::is_empty) {
            s.insert(field.into(), json!(default));
        }
    }
    let level = s.get("log_level").and_then(Value::as_str).unwrap_or("").to_uppercase();
    let level = match level.as_str() {
        "NOTSET" | "DEBUG" | "INFO" | "WARNING" | "ERROR" | "CRITICAL" => level,
        _ => "INFO".into(),
    };
    s.insert("log_level".into(), json!(level));
    for field in ["input", "output"] {
        s.entry(field).or_insert(Value::Null);
    }
    s.entry("environment").or_insert(json!({"variables": null, "secrets": null}));
    Ok(s)
}

async fn health() -> &'static str {
    "Ok"
}

async fn info(h: HeaderMap) -> Response {
    if let Some(r) = cluster_refusal(&h) {
        return r;
    }
    axum::Json(json!({
        "version": "v4.1.2-stand-in",
        "git_commit": "0000000",
        "architecture": "amd64",
        "kubernetes_version": "v1.30.0",
        "serverless_backend": {"name": "Knative", "version": "1.15.0"}
    }))
    .into_response()
}

async fn config(h: HeaderMap) -> Response {
    if let Some(r) = cluster_refusal(&h) {
        return r;
    }
    axum::Json(json!({
        "config": {"name": "oscar", "namespace": "oscar", "services_namespace": "oscar-svc",
                   "serverless_backend": "knative", "gpu_available": false},
        "minio_provider": {"endpoint": "http://minio.minio:9000", "verify": false,
                           "access_key": "minio", "secret_key": "minio-secret-key", "region": "us-east-1"}
    }))
    .into_response()
}

async fn list_services(State(s): State<Shared>, h: HeaderMap) -> Response {
    if let Some(r) = cluster_refusal(&h) {
        return r;
    }
    let o = lock(&s);
    axum::Json(o.services.values().cloned().collect::<Vec<_>>()).into_response()
}

async fn create_service(State(s): State<Shared>, h: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = cluster_refusal(&h) {
        return r;
    }
    let mut svc = match checked(&body) {
        Ok(svc) => svc,
        Err(r) => return *r,
    };
    let name = svc["name"].as_str().unwrap_or_default().to_owned();
    let mut o = lock(&s);
    if o.services.contains_key(&name) {
        let code = match o.flavor {
            Flavor::V4_0 => StatusCode::CONFLICT,
            Flavor::V4_1 => StatusCode::BAD_REQUEST,
        };
        return text(code, "A service with the provided name already exists");
    }
    svc.insert("token".into(), json!(new_token()));
    o.services.insert(name, Value::Object(svc));
    status(StatusCode::CREATED)
}

async fn update_service(State(s): State<Shared>, h: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = cluster_refusal(&h) {
        return r;
    }
    let mut svc = match checked(&body) {
        Ok(svc) => svc,
        Err(r) => return *r,
    };
    let name = svc["name"].as_str().unwrap_or_default().to_owned();
    let mut o = lock(&s);
    let Some(old) = o.services.get_mut(&name) else {
        return status(StatusCode::NOT_FOUND);
    };
    svc.insert("token".into(), old["token"].clone());
    *old = Value::Object(svc);
    status(StatusCode::NO_CONTENT)
}

async fn read_service(State(s): State<Shared>, h: HeaderMap, Path(name): Path<String>) -> Response {
    if let Some(r) = cluster_refusal(&h) {
        return r;
    }
    match lock(&s).services.get(&name) {
        Some(svc) => axum::Json(svc.clone()).into_response(),
        None => status(StatusCode::NOT_FOUND),
    }
}

async fn delete_service(State(s): State<Shared>, h: HeaderMap, Path(name): Path<String>) -> Response {
    if let Some(r) = cluster_refusal(&h) {
        return r;
    }
    let mut o = lock(&s);
    if o.services.shift_remove(&name).is_none() {
        return status(StatusCode::NOT_FOUND);
    }
    o.jobs.shift_remove(&name);
    status(StatusCode::NO_CONTENT)
}

async fn invoke_async(State(s): State<Shared>, h: HeaderMap, Path(name): Path<String>, body: Bytes) -> Response {
    let mut o = lock(&s);
    let Some(svc) = o.services.get(&name) else {
        return status(StatusCode::NOT_FOUND);
    };
    if let Some(r) = token_refusal(&h, svc) {
        return r;
    }
    let cpu = cores(&svc["cpu"]).unwrap_or(0.2);
    let slots = svc.get("total_cpu").and_then(cores).map_or(1, |t| ((t / cpu) + 1e-9).floor().max(1.0) as usize);
    o.seq += 1;
    let seq = o.seq;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let free = o.slots.entry(name.clone()).or_default();
    free.resize(slots, 0);
    let (slot, at) = free.iter().copied().enumerate().min_by_key(|(_, t)| *t).expect("a slot");
    let start = now.max(at) + 1;
    free[slot] = start + 1;
    let failed = String::from_utf8_lossy(&body).contains("fail");
    let job = format!("{name}-{seq:08x}-0000-4000-8000-{seq:012x}");
    let info = json!({
        "status": if failed { "Failed" } else { "Succeeded" },
        "creation_time": time(now),
        "start_time": time(start),
        "finish_time": time(start + 1),
    });
    let log = format!(
        "event of {} bytes received\n{}\n",
        body.len(),
        if failed { "script exited with status 1" } else { "done" }
    );
    o.jobs.entry(name).or_default().insert(job, Job { info, log });
    status(StatusCode::CREATED)
}

async fn run_sync(State(s): State<Shared>, h: HeaderMap, Path(name): Path<String>, body: Bytes) -> Response {
    {
        let o = lock(&s);
        let Some(svc) = o.services.get(&name) else {
            return status(StatusCode::NOT_FOUND);
        };
        if let Some(r) = token_refusal(&h, svc) {
            return r;
        }
    }
    if &body[..] == b"sleep" {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    (StatusCode::OK, body).into_response()
}

async fn list_jobs(
    State(s): State<Shared>,
    h: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = cluster_refusal(&h) {
        return r;
    }
    let o = lock(&s);
    if !o.services.contains_key(&name) {
        return status(StatusCode::NOT_FOUND);
    }
    let all: Vec<(&String, &Job)> = o.jobs.get(&name).map(|j| j.iter().collect()).unwrap_or_default();
    let start: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let page: serde_json::Map<String, Value> =
        all.iter().skip(start).take(PAGE).map(|(k, j)| ((*k).clone(), j.info.clone())).collect();
    let mut answer = json!({ "jobs": page });
    let rest = all.len().saturating_sub(start + PAGE);
    if rest > 0 {
        answer["next_page"] = json!((start + PAGE).to_string());
        answer["remaining_jobs"] = json!(rest);
    }
    axum::Json(answer).into_response()
}

async fn job_logs(
    State(s): State<Shared>,
    h: HeaderMap,
    Path((name, job)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = cluster_refusal(&h) {
        return r;
    }
    let o = lock(&s);
    if !o.services.contains_key(&name) {
        return status(StatusCode::NOT_FOUND);
    }
    let Some(j) = o.jobs.get(&name).and_then(|jobs| jobs.get(&job)) else {
        return status(StatusCode::NOT_FOUND);
    };
    if q.get("timestamps").is_some_and(|t| t == "true") {
        let at = j.info["start_time"].as_str().unwrap_or_default();
        text(StatusCode::OK, j.log.lines().map(|l| format!("{at} {l}\n")).collect::<String>())
    } else {
        text(StatusCode::OK, j.log.clone())
    }
}

async fn delete_jobs(
    State(s): State<Shared>,
    h: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = cluster_refusal(&h) {
        return r;
    }
    let mut o = lock(&s);
    if !o.services.contains_key(&name) {
        return status(StatusCode::NOT_FOUND);
    }
    let all = q.get("all").is_some_and(|a| a == "true");
    if all {
        o.slots.remove(&name);
    }
    if let Some(jobs) = o.jobs.get_mut(&name) {
        jobs.retain(|_, j| !all && j.info["status"] != "Succeeded");
    }
    status(StatusCode::NO_CONTENT)
}

async fn delete_job(State(s): State<Shared>, h: HeaderMap, Path((name, job)): Path<(String, String)>) -> Response {
    if let Some(r) = cluster_refusal(&h) {
        return r;
    }
    let mut o = lock(&s);
    match o.jobs.get_mut(&name).and_then(|jobs| jobs.shift_remove(&job)) {
        Some(_) => status(StatusCode::NO_CONTENT),
        None => status(StatusCode::NOT_FOUND),
    }
}

/// Serves a fresh stand-in; its endpoint and state.
async fn stand_in(flavor: Flavor) -> (String, Shared) {
    stand_in_under(flavor, "").await
}

/// A stand-in whose routes are under `prefix` (`/oscar`), as behind a shared ingress.
async fn stand_in_under(flavor: Flavor, prefix: &str) -> (String, Shared) {
    let state: Shared = Arc::new(Mutex::new(Oscar {
        flavor,
        services: IndexMap::new(),
        jobs: IndexMap::new(),
        seq: 0,
        slots: HashMap::new(),
    }));
    let app = Router::new()
        .route("/health", get(health))
        .route("/system/info", get(info))
        .route("/system/config", get(config))
        .route("/system/services", get(list_services).post(create_service).put(update_service))
        .route("/system/services/{name}", get(read_service).delete(delete_service))
        .route("/job/{name}", post(invoke_async))
        .route("/run/{name}", post(run_sync))
        .route("/system/logs/{name}", get(list_jobs).delete(delete_jobs))
        .route("/system/logs/{name}/{job}", get(job_logs).delete(delete_job))
        .with_state(state.clone());
    let app = if prefix.is_empty() { app } else { Router::new().nest(prefix, app) };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}{prefix}"), state)
}

/// Not OSCAR: a server whose every answer is `code` with `body`.
async fn answering(code: StatusCode, body: String) -> String {
    let app = Router::new().fallback(move || {
        let body = body.clone();
        async move { (code, body) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn client(endpoint: &str) -> OscarClient {
    OscarClient::new(endpoint, Auth::basic(USER, PASSWORD)).expect("client").with_timeout(Duration::from_secs(10))
}

fn definition(name: &str) -> ServiceDefinition {
    ServiceDefinition {
        name: name.into(),
        image: "ghcr.io/grycap/cowsay".into(),
        script: "#!/bin/sh\ncat \"$INPUT_FILE_PATH\" > \"$TMP_OUTPUT_DIR/out.txt\"\n".into(),
        memory: Some("512Mi".into()),
        input: vec![StorageIo {
            storage_provider: "minio.default".into(),
            path: format!("{name}/in"),
            ..Default::default()
        }],
        output: vec![StorageIo {
            storage_provider: "minio.default".into(),
            path: format!("{name}/out"),
            suffix: vec![".txt".into()],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[tokio::test]
async fn a_service_is_created_read_updated_invoked_and_deleted() {
    let (endpoint, _state) = stand_in(Flavor::V4_1).await;
    let c = client(&endpoint);
    c.health().await.expect("health");
    let info = c.info().await.expect("info");
    assert_eq!(info.serverless_backend.map(|b| b.name).as_deref(), Some("Knative"));
    let cfg = c.config().await.expect("config");
    assert_eq!(cfg.minio_provider.and_then(|m| m.endpoint).as_deref(), Some("http://minio.minio:9000"));

    assert!(c.list_services().await.expect("list").is_empty());
    c.create_service(&definition("cowsay")).await.expect("create");
    let listed = c.list_services().await.expect("list");
    assert_eq!(listed.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["cowsay"]);

    let mut svc = c.get_service("cowsay").await.expect("get");
    let token = svc.token().expect("OSCAR sets a token").to_owned();
    assert!(token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    assert_eq!((svc.cpu.as_deref(), svc.memory.as_deref()), (Some("0.2"), Some("512Mi")), "defaults filled in");
    assert_eq!(svc.output[0].suffix, vec![".txt"]);
    assert_eq!(svc.extra.get("visibility"), Some(&json!("private")), "fields not typed are kept");

    svc.memory = Some("1Gi".into());
    c.update_service(&svc).await.expect("update");
    let updated = c.get_service("cowsay").await.expect("get");
    assert_eq!(updated.memory.as_deref(), Some("1Gi"));
    assert_eq!(updated.token(), Some(token.as_str()), "an update keeps the token");
    assert_eq!(updated.extra.get("visibility"), Some(&json!("private")));

    for event in ["first", "second with fail", "third"] {
        c.invoke_async("cowsay", &token, event.as_bytes().to_vec()).await.expect("invoke");
    }
    let jobs = c.list_jobs("cowsay").await.expect("jobs");
    assert_eq!(jobs.len(), 3, "all pages: {jobs:?}");
    let page = c.list_jobs_page("cowsay", None).await.expect("page");
    assert_eq!((page.jobs.len(), page.next_page.as_deref()), (PAGE, Some("2")));
    let (first, info) = jobs.first().expect("a job");
    assert!(first.starts_with("cowsay-"), "{first}");
    assert_eq!(info.status, "Succeeded");
    assert!(info.creation_time.is_some() && info.finish_time.is_some(), "{info:?}");
    let failed: Vec<&String> = jobs.iter().filter(|(_, j)| j.status == "Failed").map(|(k, _)| k).collect();
    assert_eq!(failed.len(), 1);

    let log = c.job_logs("cowsay", first, false).await.expect("logs");
    assert_eq!(log, "event of 5 bytes received\ndone\n");
    let stamped = c.job_logs("cowsay", first, true).await.expect("logs");
    assert!(stamped.lines().all(|l| l.starts_with("20") && l.contains('T') && l.contains("Z ")), "{stamped}");

    let out = c.run_sync("cowsay", &token, b"aGVsbG8=".to_vec()).await.expect("run");
    assert_eq!(out, b"aGVsbG8=");

    c.delete_jobs("cowsay", false).await.expect("delete finished jobs");
    let left = c.list_jobs("cowsay").await.expect("jobs");
    assert_eq!(left.keys().collect::<Vec<_>>(), failed, "only the failed job stays");
    let e = c.job_logs("cowsay", first, false).await.expect_err("deleted");
    assert!(e.is_not_found(), "{e}");
    c.delete_job("cowsay", failed[0]).await.expect("delete job");
    assert!(c.list_jobs("cowsay").await.expect("jobs").is_empty());
    let e = c.delete_job("cowsay", failed[0]).await.expect_err("gone");
    assert_eq!(
        e.to_string(),
        format!(
            "OSCAR: delete job of service `cowsay`, job `{}`: HTTP 404 Not Found (no such service or job)",
            failed[0]
        )
    );

    c.delete_service("cowsay").await.expect("delete");
    let e = c.get_service("cowsay").await.expect_err("deleted");
    assert!(e.is_not_found(), "{e:?}");
    assert_eq!(e.to_string(), "OSCAR: read service `cowsay`: HTTP 404 Not Found (no such service)");
    let e = c.delete_service("cowsay").await.expect_err("deleted");
    assert!(e.is_not_found(), "{e:?}");
    let e = c.invoke_async("cowsay", &token, Vec::new()).await.expect_err("no service");
    assert!(e.is_not_found(), "{e:?}");
}

#[tokio::test]
async fn a_wrong_password_is_unauthorized_and_never_shown() {
    let (endpoint, _state) = stand_in(Flavor::V4_1).await;
    let wrong = "Wr0ng-Pa55word-xyz";
    let c = OscarClient::new(&endpoint, Auth::basic(USER, wrong)).expect("client");
    c.health().await.expect("health needs no credentials");
    for e in [
        c.list_services().await.expect_err("refused"),
        c.create_service(&definition("cowsay")).await.expect_err("refused"),
        c.info().await.expect_err("refused"),
    ] {
        assert!(e.is_unauthorized(), "{e:?}");
        let (shown, debug) = (e.to_string(), format!("{e:?}"));
        assert!(shown.contains("401 Unauthorized") && shown.contains("username and password"), "{shown}");
        assert!(!shown.contains(wrong) && !debug.contains(wrong), "{shown} / {debug}");
        assert!(!shown.contains(PASSWORD) && !debug.contains(PASSWORD), "{shown} / {debug}");
    }
    let e = c.list_services().await.expect_err("refused");
    assert_eq!(e.to_string(), "OSCAR: list services: HTTP 401 Unauthorized (unauthorized: check the username and password (or the bearer token))");
    assert!(!format!("{c:?}").contains(wrong), "{c:?}");

    // A bearer token that is not OSCAR's is refused the same way.
    let c = OscarClient::new(&endpoint, Auth::bearer("some-oidc-token")).expect("client");
    let e = c.list_services().await.expect_err("refused");
    assert!(e.is_unauthorized() && !e.to_string().contains("some-oidc-token"), "{e}");
}

#[tokio::test]
async fn a_wrong_service_token_is_unauthorized_and_never_shown() {
    let (endpoint, _state) = stand_in(Flavor::V4_1).await;
    let c = client(&endpoint);
    c.create_service(&definition("cowsay")).await.expect("create");
    let real = c.get_service("cowsay").await.expect("get").token().expect("token").to_owned();
    let wrong = if real.starts_with('0') { "1".repeat(64) } else { "0".repeat(64) };
    let e = c.invoke_async("cowsay", &wrong, b"x".to_vec()).await.expect_err("refused");
    assert!(e.is_unauthorized(), "{e:?}");
    let shown = e.to_string();
    assert_eq!(
        shown,
        "OSCAR: invoke (async) service `cowsay`: HTTP 401 Unauthorized (unauthorized: the service token was refused)"
    );
    assert!(!format!("{e:?}").contains(&wrong));
    let e = c.run_sync("cowsay", &wrong, b"x".to_vec()).await.expect_err("refused");
    assert!(e.is_unauthorized() && !e.to_string().contains(&wrong), "{e}");
    // The cluster's password is not a service token either.
    let e = c.invoke_async("cowsay", PASSWORD, b"x".to_vec()).await.expect_err("refused");
    assert_eq!(e.status(), Some(StatusCode::BAD_REQUEST), "taken for an OIDC token: {e}");
    assert!(!e.to_string().contains(PASSWORD), "{e}");
    assert!(c.list_jobs("cowsay").await.expect("jobs").is_empty(), "no job was created");
}

#[tokio::test]
async fn creating_a_service_twice_names_it_in_both_oscar_versions() {
    for (flavor, code) in [(Flavor::V4_0, 409), (Flavor::V4_1, 400)] {
        let (endpoint, _state) = stand_in(flavor).await;
        let c = client(&endpoint);
        c.create_service(&definition("cowsay")).await.expect("create");
        let e = c.create_service(&definition("cowsay")).await.expect_err("taken");
        assert!(matches!(&e, OscarError::AlreadyExists { service, .. } if service == "cowsay"), "{flavor:?}: {e:?}");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(code), "{flavor:?}");
        let shown = e.to_string();
        assert!(shown.contains("create service `cowsay`") && shown.contains("already exists"), "{shown}");
    }
}

#[tokio::test]
async fn an_invalid_definition_is_a_bad_request_with_oscars_reason() {
    let (endpoint, _state) = stand_in(Flavor::V4_1).await;
    let c = client(&endpoint);
    let mut d = definition("cowsay");
    d.image.clear();
    let e = c.create_service(&d).await.expect_err("invalid");
    assert_eq!(e.status(), Some(StatusCode::BAD_REQUEST), "{e:?}");
    let shown = e.to_string();
    assert!(shown.starts_with("OSCAR: create service `cowsay`: HTTP 400 Bad Request (the request was refused as invalid); OSCAR says: The service specification is not valid"), "{shown}");
    let e = c.update_service(&definition("missing")).await.expect_err("unknown");
    assert!(e.is_not_found() && e.to_string().contains("update service `missing`"), "{e}");
}

#[tokio::test]
async fn an_fdl_service_is_converted_and_round_trips() {
    let (endpoint, _state) = stand_in(Flavor::V4_1).await;
    let c = client(&endpoint);
    let fdl = "functions:\n  oscar:\n  - cloud:\n      name: blur\n      image: ghcr.io/ai-sprint/blur:1.0\n      script: blur.sh\n      cpu: 0.9\n      memory: 1Gi\n      log_level: critical\n      environment:\n        Variables:\n          LEVEL: '3'\n          MODE: fast\n      input:\n      - storage_provider: minio.default\n        path: blur/input\n      output:\n      - path: blur/output\n      max_parallelism: 4\n  - edge:\n      name: native\n      script: native.sh\n      input:\n      - path: native/in\n";
    let (doc, warnings) =
        aisprint_model::yaml::parse::<aisprint_model::oscar::Fdl>("fdl.yaml", fdl).expect("the FDL parses");
    assert!(warnings.is_empty(), "{warnings}");
    let fdl = doc.value;
    let blur = fdl.services_of("cloud")[0];
    let script = "#!/bin/bash\npython3 blur.py \"$INPUT_FILE_PATH\" \"$TMP_OUTPUT_DIR\"\n";
    let sent = ServiceDefinition::from_fdl(blur, script).expect("converts");
    assert_eq!(sent.cpu.as_deref(), Some("0.9"), "cpu as a string");
    assert_eq!(sent.output[0].storage_provider, "minio.default", "the FDL's default provider");
    let wire = serde_json::to_value(&sent).expect("json");
    assert_eq!(wire["environment"], json!({"variables": {"LEVEL": "3", "MODE": "fast"}}));
    assert!(wire.get("max_parallelism").is_none() && wire.get("token").is_none(), "{wire}");

    c.create_service(&sent).await.expect("create");
    let got = c.get_service("blur").await.expect("get");
    assert_eq!(
        (got.name.as_str(), got.image.as_str(), got.script.as_str()),
        ("blur", "ghcr.io/ai-sprint/blur:1.0", script)
    );
    assert_eq!((got.cpu.as_deref(), got.memory.as_deref()), (Some("0.9"), Some("1Gi")));
    assert_eq!(got.log_level.as_deref(), Some("CRITICAL"), "OSCAR upper-cases the level");
    assert_eq!(got.environment, sent.environment);
    assert_eq!((&got.input, &got.output), (&sent.input, &sent.output));
    assert!(got.token().is_some());

    // What OSCAR returns goes back unchanged, fields not typed here included.
    let again: ServiceDefinition = serde_json::from_value(serde_json::to_value(&got).expect("json")).expect("parses");
    assert_eq!(again, got);

    let native = fdl.services_of("edge")[0];
    let e = ServiceDefinition::from_fdl(native, "true").expect_err("no image");
    assert!(matches!(&e, OscarError::Definition { service, .. } if service == "native"), "{e:?}");
    assert!(e.to_string().contains("no `image`"), "{e}");
}

#[tokio::test]
async fn no_answer_and_slow_answers_are_transport_errors() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let c = OscarClient::new(&format!("http://{addr}"), Auth::basic(USER, PASSWORD)).expect("client");
    let e = c.get_service("cowsay").await.expect_err("nothing listens");
    assert!(matches!(e, OscarError::Transport { .. }), "{e:?}");
    let shown = e.to_string();
    assert!(
        shown
            .starts_with(&format!("OSCAR: read service `cowsay`: no answer from http://{addr}/system/services/cowsay")),
        "{shown}"
    );
    assert!(!shown.contains(PASSWORD), "{shown}");

    let (endpoint, _state) = stand_in(Flavor::V4_1).await;
    let c = client(&endpoint);
    c.create_service(&definition("cowsay")).await.expect("create");
    let token = c.get_service("cowsay").await.expect("get").token().expect("token").to_owned();
    let c = c.with_timeout(Duration::from_millis(300));
    let e = c.run_sync("cowsay", &token, b"sleep".to_vec()).await.expect_err("too slow");
    assert!(e.is_timeout(), "{e:?}");
    assert!(!e.to_string().contains(&token), "{e}");
}

#[tokio::test]
async fn an_endpoint_may_have_a_path_prefix() {
    let (endpoint, _state) = stand_in_under(Flavor::V4_1, "/oscar").await;
    for e in [endpoint.clone(), format!("{endpoint}/"), format!("{endpoint}/?ignored=1#too")] {
        let c = client(&e);
        assert_eq!(c.endpoint(), format!("{endpoint}/"));
        c.health().await.expect("health");
        assert!(c.list_services().await.expect("list").is_empty());
    }
    let c = client(&endpoint);
    let e = c.get_service("no such/name").await.expect_err("absent");
    assert!(e.is_not_found(), "names are one path segment, encoded: {e:?}");
}

#[tokio::test]
async fn credentials_are_kept_out_of_urls_debug_output_and_oscars_answers() {
    let e = OscarClient::new("https://oscar:hunter22@oscar.example.org/", Auth::bearer("t")).expect_err("refused");
    let shown = e.to_string();
    assert!(shown.contains("https://oscar.example.org/") && shown.contains("`Auth`"), "{shown}");
    assert!(!shown.contains("hunter22"), "{shown}");
    let e = OscarClient::new("not a url pw:hunter22@", Auth::bearer("t")).expect_err("refused");
    assert!(!e.to_string().contains("hunter22"), "{e}");
    assert!(OscarClient::new("ftp://oscar.example.org", Auth::bearer("t")).is_err());

    let c = OscarClient::new("https://oscar.example.org", Auth::basic("oscar", "s3cr3t-pass")).expect("client");
    let d = format!("{c:?}");
    assert!(d.contains("oscar.example.org") && d.contains("<redacted>"), "{d}");
    assert!(!d.contains("s3cr3t-pass"), "{d}");

    let svc: ServiceDefinition = serde_json::from_str(
        r#"{"name":"a","token":"tok-123456","clusters":{"c":{"auth_password":"pw-98765"}},
            "environment":{"secrets":{"K":"env-333"}},
            "storage_providers":{"webdav":{"w":{"password":"dav-555"}},"minio":{"m":{"secret_key":"mk-444"}}}}"#,
    )
    .expect("parses");
    let (d, wire) = (format!("{svc:?}"), serde_json::to_string(&svc).expect("json"));
    for s in ["tok-123456", "pw-98765", "env-333", "dav-555", "mk-444"] {
        assert!(!d.contains(s), "{s} in {d}");
        assert!(wire.contains(s), "{s} must still be sent: {wire}");
    }

    // An answer that quotes the credentials has them replaced, and is cut short.
    let endpoint =
        answering(StatusCode::INTERNAL_SERVER_ERROR, format!("  bad {PASSWORD} {}  ", "x".repeat(1000))).await;
    let e = client(&endpoint).info().await.expect_err("500");
    let OscarError::Status { body, .. } = &e else { panic!("{e:?}") };
    assert!(body.starts_with("bad <redacted> xxx") && body.ends_with('…'), "{body}");
    assert_eq!(body.chars().count(), 301, "300 characters and an ellipsis");
    assert!(e.to_string().contains("HTTP 500 Internal Server Error (OSCAR failed); OSCAR says: bad <redacted>"), "{e}");
    let token = "f".repeat(64);
    let endpoint = answering(StatusCode::BAD_GATEWAY, format!("token {token} is not valid")).await;
    let e = client(&endpoint).run_sync("a", &token, Vec::new()).await.expect_err("502");
    assert!(!e.to_string().contains(&token) && e.to_string().contains("token <redacted> is not valid"), "{e}");
}

#[tokio::test]
async fn answers_of_other_oscar_versions_decode() {
    // Go writes nil lists and maps as null; the FDL spells `Variables` with a capital.
    let svc: ServiceDefinition = serde_json::from_str(
        r#"{"name":"a","image":"i","script":"s","input":null,"output":null,"cpu":"0.2",
            "environment":{"Variables":{"K":"v"},"secrets":null},"labels":{"x":"y"},"alpine":false}"#,
    )
    .expect("parses");
    assert!(svc.input.is_empty());
    assert_eq!(svc.environment.as_ref().map(|e| e.variables["K"].as_str()), Some("v"));
    let back = serde_json::to_value(&svc).expect("json");
    assert_eq!(back["environment"], json!({"variables": {"K": "v"}}), "written as OSCAR writes it");
    assert_eq!((&back["labels"], &back["alpine"]), (&json!({"x": "y"}), &json!(false)));

    // Before 3.7, GET /system/logs/{name} answered with the map of jobs itself.
    let old = json!({"a-1": {"status": "Running", "creation_time": "2024-01-01T00:00:00Z"}});
    let endpoint = answering(StatusCode::OK, old.to_string()).await;
    let jobs = client(&endpoint).list_jobs("a").await.expect("jobs");
    assert_eq!(jobs["a-1"].status, "Running");
    assert_eq!(jobs["a-1"].start_time, None);
    let endpoint = answering(StatusCode::OK, "null".into()).await;
    assert!(client(&endpoint).list_services().await.expect("services").is_empty());
    let endpoint = answering(StatusCode::OK, "<html>proxy</html>".into()).await;
    let e = client(&endpoint).get_service("a").await.expect_err("not JSON");
    assert!(
        matches!(e, OscarError::Decode { .. })
            && e.to_string().starts_with("OSCAR: read service `a`: unexpected answer"),
        "{e}"
    );
}

/// `aisprint oscar apply --oscar_auth`: the real binary deploys an FDL as `toscarizer fdl`
/// writes it (a script path inside the image, the service's own storage providers, SGX) to
/// the stand-in, then updates it on a second run; a cluster missing from auth.dat without
/// `--config` is refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oscar_apply_deploys_an_fdl_to_a_cluster_named_in_auth_dat() {
    let (endpoint, state) = stand_in(Flavor::V4_1).await;
    let dir = tempfile::tempdir().expect("tmp");
    let fdl = dir.path().join("fdl.yaml");
    std::fs::write(
        &fdl,
        "functions:\n  oscar:\n  - oscar-edge:\n      name: capture\n      image: registry.example.org/capture:latest\n      script: /opt/capture/script.sh\n      cpu: '0.5'\n      memory: 512Mi\n      enable_sgx: true\n      environment:\n        Variables:\n          COMPONENT_NAME: capture\n      input:\n      - storage_provider: minio\n        path: capture/input\n      output:\n      - storage_provider: minio.oscar-cluster-abcd1234\n        path: capture/output\n      storage_providers:\n        minio:\n          oscar-cluster-abcd1234:\n            endpoint: https://minio.oscar-cluster-abcd1234.example.org\n            access_key: minio\n            secret_key: peer-minio-secret\n            region: us-east-1\n",
    )
    .expect("fdl");
    let auth = dir.path().join("auth.dat");
    std::fs::write(
        &auth,
        format!("id = oscar-edge; type = OSCAR; host = {endpoint}; username = {USER}; password = {PASSWORD}\n"),
    )
    .expect("auth");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_aisprint")).args(args).output().expect("run")
        })
    };
    let args = vec![
        "oscar".into(),
        "apply".into(),
        "--fdl".into(),
        fdl.display().to_string(),
        "--oscar_auth".into(),
        auth.display().to_string(),
    ];
    let out = run(args.clone()).await.expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("oscar-edge: service capture created"), "{stdout}");
    {
        let s = lock(&state);
        let svc = s.services.get("capture").expect("created");
        assert_eq!(svc["script"], "#!/bin/sh\nexec sh '/opt/capture/script.sh'\n");
        assert_eq!(svc["enable_sgx"], true);
        assert_eq!(svc["cpu"], "0.5");
        assert_eq!(svc["output"][0]["storage_provider"], "minio.oscar-cluster-abcd1234");
        assert_eq!(svc["storage_providers"]["minio"]["oscar-cluster-abcd1234"]["secret_key"], "peer-minio-secret");
        assert_eq!(svc["environment"]["variables"]["COMPONENT_NAME"], "capture");
    }
    let out = run(args).await.expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success() && stdout.contains("oscar-edge: service capture updated"), "{stdout}");
    // Another cluster, neither in auth.dat nor reachable without the controller's config.
    std::fs::write(
        &auth,
        format!("id = other; type = OSCAR; host = {endpoint}; username = {USER}; password = {PASSWORD}\n"),
    )
    .expect("auth");
    let out = run(vec![
        "oscar".into(),
        "apply".into(),
        "--fdl".into(),
        fdl.display().to_string(),
        "--oscar_auth".into(),
        auth.display().to_string(),
    ])
    .await
    .expect("join");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("oscar-edge") && stderr.contains("--config"), "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

/// `aisprint profile` with every resource standing on an OSCAR cluster (`--oscar`): the
/// three_tier example's units deployed as OSCAR services from their images, invoked
/// asynchronously with their tokens, timed from OSCAR's job records; no controller needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profiling_campaign_runs_on_an_oscar_cluster_through_its_rest_api() {
    let (endpoint, state) = stand_in(Flavor::V4_1).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().to_path_buf();
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let st = std::process::Command::new("cp")
        .args(["-r", &repo.join("examples/three_tier").display().to_string(), &dir.display().to_string()])
        .status()
        .expect("cp");
    assert!(st.success());
    let app = dir.join("three_tier");
    let auth = dir.join("auth.dat");
    std::fs::write(
        &auth,
        format!("id = oscar-1; type = OSCAR; host = {endpoint}; username = {USER}; password = {PASSWORD}\n"),
    )
    .expect("auth");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let run = |args: Vec<String>| {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_aisprint"))
                .args(args)
                .current_dir(dir)
                .output()
                .expect("run")
        })
    };
    let out = run(vec!["design".into(), "--application_dir".into(), "three_tier".into()]).await.expect("join");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let profile: Vec<String> = [
        "profile",
        "--application_dir",
        "three_tier",
        "--oscar",
        "EdgeNode=oscar-1",
        "--oscar",
        "VM=oscar-1",
        "--oscar",
        "Lambda=oscar-1",
        "--oscar_auth",
        "auth.dat",
        "--run_timeout",
        "60",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();

    // A unit without an image: refused by file and key before anything is sent.
    let cd = app.join("common_config/candidate_deployments.yaml");
    let original = std::fs::read_to_string(&cd).expect("read");
    std::fs::write(&cd, original.replace("        image: registry.example.org/three/analyse_base_amd64:latest\n", ""))
        .expect("write");
    let out = run(profile.clone()).await.expect("join");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("candidate_deployments.yaml: Components.component2.Containers.container1.image: missing"),
        "{err}"
    );
    assert!(lock(&state).services.is_empty(), "nothing deployed");
    std::fs::write(&cd, original).expect("write");

    let out = run(profile).await.expect("join");
    let (stdout, err) =
        (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
    assert!(out.status.success(), "{stdout}\n{err}");
    assert!(stdout.contains("Campaign done: 18 run(s), 144 job(s)"), "{stdout}");
    assert!(err.contains("C2@VM Run #1 (parallelism 4) on OSCAR cluster oscar-1: 8/8 jobs done"), "{err}");
    assert!(err.contains("Full_workflow not run: C1@EdgeNode is on an OSCAR cluster"), "{err}");
    assert!(!stdout.contains(PASSWORD) && !err.contains(PASSWORD));
    {
        let s = lock(&state);
        let svc = s.services.get("prof-c2-vm").expect("the VM unit's service");
        assert_eq!(svc["image"], "registry.example.org/three/analyse_base_amd64:latest");
        assert!(svc["script"].as_str().expect("script").contains("cd /opt/analyse"), "{svc}");
        assert_eq!((svc["cpu"].as_str(), svc["memory"].as_str()), (Some("1"), Some("1024Mi")));
        // The last runs' parallelism (1) as the service's limits.
        assert_eq!((svc["total_cpu"].as_str(), svc["total_memory"].as_str()), (Some("1"), Some("1024Mi")));
        assert_eq!(svc["environment"]["variables"]["COMPONENT_NAME"], "analyse");
        // Each run's jobs were cleared before the next: the last run's 8 remain.
        assert_eq!(s.jobs.get("prof-c2-vm").map(|j| j.len()), Some(8));
    }
    let d = app.join("oscarp/campaign/deployment_0/C2@VM/results/Dataframes");
    let table = std::fs::read_to_string(d.join("analyse_response_time_dataframe.csv")).expect("table");
    let rows = aisprint_controller::models::parse_csv(&table).expect("parse");
    assert_eq!(rows.iter().map(|r| r.parallelism).collect::<Vec<_>>(), [4.0, 4.0, 2.0, 2.0, 1.0, 1.0], "{table}");
    // OSCAR's times: 1 s pending and 1 s running per job, 8 jobs on `parallelism` slots: the
    // mean response grows as the slots shrink (2 s when all 8 find a free slot per 4).
    let mean = |p: f64| rows.iter().filter(|r| r.parallelism == p).map(|r| r.response).sum::<f64>() / 2.0;
    assert!(mean(4.0) >= 2.0 && mean(2.0) > mean(4.0) && mean(1.0) > mean(2.0), "{table}");
    let jobs = std::fs::read_to_string(d.join("analyse_jobs.csv")).expect("jobs");
    assert_eq!(jobs.lines().count(), 1 + 48, "{jobs}");
    assert!(app.join("oscarp/performance_models.json").is_file(), "{stdout}");
}
