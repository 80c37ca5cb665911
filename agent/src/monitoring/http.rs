//! The monitoring endpoint over HTTP (axum, on the configured address): JSON records
//! (`/v1/records`), InfluxDB lines (`/write`, `/api/v2/write`), `/metrics`, `/v1/qos`,
//! `/health`. Each accepted post is answered once its records are committed.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use aisprint_ams::line;
use aisprint_ams::record::{self, Defaults, Record, Refused};
use aisprint_runtime::clock::now_ms;
use axum::extract::State as AxState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::recorder::{IngestCounters, Input, Snapshot};

/// What the handlers and the line listeners share.
#[derive(Clone)]
pub(super) struct AppState {
    pub(super) tx: mpsc::Sender<Input>,
    pub(super) counters: Arc<IngestCounters>,
    pub(super) defaults: Defaults,
}

/// Largest request body (JSON records or lines): axum's default, written down.
const MAX_BODY: usize = 2 << 20;

/// The endpoint's routes.
pub(super) fn router(app: AppState) -> Router {
    Router::new()
        .route("/v1/records", post(post_records))
        .route("/write", post(post_lines))
        .route("/api/v2/write", post(post_lines))
        .route("/metrics", get(get_metrics))
        .route("/v1/qos", get(get_qos))
        .route("/health", get(|| async { "ok\n" }))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

pub(super) fn refused_log(source: &str, refused: &[Refused], counters: &IngestCounters) {
    if refused.is_empty() {
        return;
    }
    let before = counters.refused.fetch_add(refused.len() as u64, Ordering::Relaxed);
    // The first ones in full, then one line in a hundred: a flood of bad records must not
    // flood the log.
    if before < 20 || before % 100 == 0 {
        tracing::warn!(source, count = refused.len(), first = %refused[0], "records refused");
    }
}

/// Hands records to the recorder and waits until they are stored.
pub(super) async fn submit(app: &AppState, records: Vec<Record>) -> Result<(), String> {
    if records.is_empty() {
        return Ok(());
    }
    let n = records.len() as u64;
    let (reply, rx) = oneshot::channel();
    app.tx
        .send(Input::Records { records, reply: Some(reply) })
        .await
        .map_err(|_| "the agent is stopping".to_string())?;
    let r = rx.await.map_err(|_| "the agent is stopping".to_string())?;
    match &r {
        Ok(()) => app.counters.accepted.fetch_add(n, Ordering::Relaxed),
        Err(_) => app.counters.failed.fetch_add(n, Ordering::Relaxed),
    };
    r
}

#[derive(Serialize)]
struct Answer {
    accepted: usize,
    refused: Vec<String>,
}

async fn post_records(AxState(app): AxState<AppState>, body: axum::body::Bytes) -> Response {
    let (records, refused) = match record::from_json(&body, &app.defaults) {
        Ok(x) => x,
        Err(r) => {
            refused_log("http", std::slice::from_ref(&r), &app.counters);
            return (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({ "error": r.to_string() })))
                .into_response();
        }
    };
    refused_log("http", &refused, &app.counters);
    let accepted = records.len();
    match submit(&app, records).await {
        Ok(()) => {
            axum::Json(Answer { accepted, refused: refused.iter().map(|r| r.to_string()).collect() }).into_response()
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "error": e }))).into_response(),
    }
}

/// Parses InfluxDB lines; returns the records and how many lines were refused (logged and
/// counted). `scale_ns`: nanoseconds per unit of the lines' timestamps.
pub(super) fn lines_to_records(text: &str, app: &AppState, source: &str, scale_ns: i64) -> (Vec<Record>, usize) {
    let (lines, errors) = line::parse(text);
    let mut refused: Vec<Refused> =
        errors.into_iter().map(|e| Refused { at: format!("line {}", e.line), message: e.message }).collect();
    let now = now_ms() * 1_000_000;
    let mut out = Vec::with_capacity(lines.len());
    for (i, mut l) in lines.into_iter().enumerate() {
        if let Some(message) = aisprint_ams::limits::too_many(i) {
            refused.push(Refused { at: format!("point {}..", i + 1), message });
            break;
        }
        l.time_ns = l.time_ns.map(|t| t.saturating_mul(scale_ns));
        match record::from_line(l, now, &app.defaults) {
            Ok(r) => out.push(r),
            Err(message) => refused.push(Refused { at: format!("point {}", i + 1), message }),
        }
    }
    refused_log(source, &refused, &app.counters);
    (out, refused.len())
}

#[derive(serde::Deserialize)]
struct WriteParams {
    /// InfluxDB's timestamp precision: n (default), u, ms, s.
    #[serde(default)]
    precision: Option<String>,
}

async fn post_lines(
    AxState(app): AxState<AppState>,
    axum::extract::Query(q): axum::extract::Query<WriteParams>,
    body: axum::body::Bytes,
) -> Response {
    let scale = match q.precision.as_deref() {
        None | Some("n") | Some("ns") => 1,
        Some("u") | Some("us") => 1_000,
        Some("ms") => 1_000_000,
        Some("s") => 1_000_000_000,
        Some(p) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({ "error": format!("precision `{p}`: expected n, u, ms or s") })),
            )
                .into_response()
        }
    };
    let text = String::from_utf8_lossy(&body);
    let (records, refused) = lines_to_records(&text, &app, "http /write", scale);
    match submit(&app, records).await {
        Ok(()) if refused == 0 => StatusCode::NO_CONTENT.into_response(),
        Ok(()) => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({ "error": format!("partial write: {refused} line(s) refused (see the agent's log)") })),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(serde_json::json!({ "error": e }))).into_response(),
    }
}

async fn snapshot(app: &AppState) -> Option<Snapshot> {
    let (tx, rx) = oneshot::channel();
    app.tx.send(Input::Snapshot(tx)).await.ok()?;
    rx.await.ok()
}

async fn get_metrics(AxState(app): AxState<AppState>) -> Response {
    match snapshot(&app).await {
        Some(s) => ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], super::metrics::render(&s))
            .into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn get_qos(AxState(app): AxState<AppState>) -> Response {
    match snapshot(&app).await {
        Some(s) => axum::Json(s).into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
