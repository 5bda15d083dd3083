//! The HTTP API: routes, token check, body parsing and validation.

use crate::config::{Config, Scope};
use crate::engine::{Command, Handle, Ingest, LinesIn, PointIn};
use crate::error::{EngineError, ErrorKind};
use anomex_stream::{check_name, LogSettings, Scored, SeriesConfig};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Instant;
use subtle::ConstantTimeEq;

/// Shared by every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub engine: Handle,
    pub config: Arc<Config>,
    /// Turns true when the service begins to shut down.
    pub closing: tokio::sync::watch::Receiver<bool>,
}

/// The service's OpenAPI document.
pub const OPENAPI: &str = include_str!("openapi.json");
const DASHBOARD: &str = include_str!("dashboard.html");
/// Most points or anomalies one query returns.
const MAX_LIMIT: usize = 10_000;

pub fn router(state: AppState) -> Router {
    let limit = state.config.limits.max_body_bytes;
    let api = Router::new()
        .route("/", get(dashboard))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/v1/series", get(list_series).post(create_series))
        .route("/v1/series/{name}", get(series_info).delete(delete_series))
        .route("/v1/series/{name}/points", get(recent_points))
        .route("/v1/series/{name}/anomalies", get(anomalies))
        .route("/v1/series/{name}/fit", post(fit))
        .route("/v1/series/{name}/logs", post(ingest_lines))
        .route(
            "/v1/series/{name}/model",
            get(export_model).put(import_model),
        )
        .route("/v1/ingest", post(ingest))
        .route("/v1/events", get(events))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(api)
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "no such endpoint; see /openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "this endpoint does not take that method; see /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// An error as the API answers it: a status and a JSON body `{"error": "…"}` that names the
/// problem. The engine's errors become one here; this is the only place that maps them to HTTP.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    /// 400: the request is malformed or a field is invalid.
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// 500: the store failed; nothing of the request was acknowledged.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match e.kind {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.message)
    }
}

impl From<anomex::Error> for ApiError {
    fn from(e: anomex::Error) -> Self {
        EngineError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message });
        (self.status, axum::Json(body)).into_response()
    }
}

/// The token of a request: `Authorization: Bearer …`, or `?token=…` for the dashboard page and
/// the event stream only, which browsers open without custom headers (anywhere else a token in
/// the address ends up in logs and histories for nothing).
fn presented_token(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get(header::AUTHORIZATION) {
        return v.to_str().ok()?.strip_prefix("Bearer ").map(str::to_string);
    }
    let path = req.uri().path();
    if req.method() != Method::GET || !(path == "/" || path == "/v1/events") {
        return None;
    }
    req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::to_string)
    })
}

/// The scope a request needs: reading and ingesting (points, or a log series' lines) need
/// `ingest`, the rest `admin`.
fn needed_scope(method: &Method, path: &str) -> Scope {
    let ingest =
        path == "/v1/ingest" || (path.starts_with("/v1/series/") && path.ends_with("/logs"));
    if method == Method::GET || (method == Method::POST && ingest) {
        Scope::Ingest
    } else {
        Scope::Admin
    }
}

async fn authorize(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let refuse = |status: StatusCode, message: &str| {
        state
            .engine
            .metrics
            .refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ApiError::new(status, message).into_response()
    };
    let Some(given) = presented_token(&req) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "missing API token (Authorization: Bearer …)",
        );
    };
    // Every token is compared, each in constant time, so the time taken does not tell which
    // (or how much of one) matched.
    let mut scope = None;
    for t in &state.config.tokens {
        if bool::from(t.token.as_bytes().ct_eq(given.as_bytes())) {
            scope = Some(t.scope);
        }
    }
    let needed = needed_scope(req.method(), req.uri().path());
    match scope {
        None => refuse(StatusCode::UNAUTHORIZED, "unknown API token"),
        Some(Scope::Ingest) if needed == Scope::Admin => refuse(
            StatusCode::FORBIDDEN,
            "this token may ingest and read; this needs an admin token",
        ),
        Some(_) => next.run(req).await,
    }
}

/// Whether the request's `Content-Type` is `media` (parameters such as `charset` aside).
fn content_type_is(headers: &HeaderMap, media: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(media))
}

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|r| ApiError::new(r.status(), r.body_text()))
}

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad(format!("invalid JSON body: {e}")))
}

fn series_name(name: &str) -> Result<String, ApiError> {
    check_name(name)?;
    Ok(name.to_string())
}

#[derive(Debug, Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

impl LimitQuery {
    fn get(&self) -> Result<usize, ApiError> {
        match self.limit {
            Some(n) if n == 0 || n > MAX_LIMIT => {
                Err(ApiError::bad(format!("limit must be 1 to {MAX_LIMIT}")))
            }
            Some(n) => Ok(n),
            None => Ok(100),
        }
    }
}

async fn dashboard() -> Html<&'static str> {
    Html(DASHBOARD)
}

async fn ready(State(s): State<AppState>) -> Result<&'static str, ApiError> {
    Ok(s.engine.ask(Command::List).await.map(|_| "ready")?)
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.engine.metrics.render(),
    )
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn list_series(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(s.engine.ask(Command::List).await?))
}

async fn create_series(
    State(s): State<AppState>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    // One series, or an array of them created together (one commit).
    let bytes = body(raw)?;
    let many = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let response = if many {
        let values: Vec<serde_json::Value> = json(&bytes)?;
        let configs = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                series_definition(v)
                    .map_err(|e| ApiError::bad(format!("series {i}: {}", e.message)))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let info = s.engine.ask(|r| Command::Create(configs, r)).await?;
        serde_json::to_value(info)
    } else {
        let config = series_definition(json(&bytes)?)?;
        let mut info = s.engine.ask(|r| Command::Create(vec![config], r)).await?;
        serde_json::to_value(info.remove(0))
    }
    .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((StatusCode::CREATED, Json(response)))
}

/// A log series' detector when its definition names none.
pub const LOG_DETECTOR: &str = "ngram";
/// A log series' threshold when its definition names none: POT's tail fit. Most lines of a log
/// are expected (surprisal near 0), so the median absolute deviation of the warm-up's scores
/// is about 0 and `mad:6` (the default of a series of readings) flagged 676 of BGL's 2,000
/// lines; POT flagged 47 (`docs/logs.md`).
pub const LOG_THRESHOLD: &str = "pot";

/// A series' definition: its configuration and, for a log series, the `log` object. A log
/// series' detector and threshold are [`LOG_DETECTOR`] and [`LOG_THRESHOLD`] unless the
/// definition names them.
fn series_definition(
    mut value: serde_json::Value,
) -> Result<(SeriesConfig, Option<LogSettings>), ApiError> {
    let invalid = |e: serde_json::Error| ApiError::bad(format!("invalid series: {e}"));
    let log = match value.as_object_mut() {
        Some(object) => match object.remove("log") {
            Some(log) => {
                object
                    .entry("detector")
                    .or_insert_with(|| serde_json::Value::from(LOG_DETECTOR));
                object
                    .entry("threshold")
                    .or_insert_with(|| serde_json::Value::from(LOG_THRESHOLD));
                Some(
                    serde_json::from_value::<LogSettings>(log)
                        .map_err(|e| ApiError::bad(format!("invalid `log`: {e}")))?,
                )
            }
            None => None,
        },
        None => None,
    };
    let config = serde_json::from_value(value).map_err(invalid)?;
    Ok((config, log))
}

async fn series_info(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let name = series_name(&name)?;
    Ok(Json(s.engine.ask(|r| Command::Info(name, r)).await?))
}

async fn delete_series(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let name = series_name(&name)?;
    s.engine.ask(|r| Command::Delete(name, r)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A query string as the handlers take it; a malformed one is a JSON error like any other.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|r| ApiError::bad(format!("query: {}", r.body_text())))
}

async fn recent_points(
    State(s): State<AppState>,
    Path(name): Path<String>,
    q: Result<Query<LimitQuery>, QueryRejection>,
) -> Result<Json<Vec<Scored>>, ApiError> {
    let (name, limit) = (series_name(&name)?, query(q)?.get()?);
    Ok(Json(
        s.engine.ask(|r| Command::Recent(name, limit, r)).await?,
    ))
}

async fn anomalies(
    State(s): State<AppState>,
    Path(name): Path<String>,
    q: Result<Query<LimitQuery>, QueryRejection>,
) -> Result<Json<Vec<Scored>>, ApiError> {
    let (name, limit) = (series_name(&name)?, query(q)?.get()?);
    Ok(Json(
        s.engine.ask(|r| Command::Anomalies(name, limit, r)).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FitBody {
    history: Vec<Vec<f64>>,
}

async fn fit(
    State(s): State<AppState>,
    Path(name): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let name = series_name(&name)?;
    let FitBody { history } = json(&body(raw)?)?;
    if history.is_empty() {
        return Err(ApiError::bad("history has no rows"));
    }
    // Fitting can take a while: the engine does it, so the series' order stays total.
    Ok(Json(
        s.engine.ask(|r| Command::Fit(name, history, r)).await?,
    ))
}

async fn export_model(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let name = series_name(&name)?;
    let bytes = s.engine.ask(|r| Command::Export(name, r)).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

async fn import_model(
    State(s): State<AppState>,
    Path(name): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let name = series_name(&name)?;
    let bytes = body(raw)?.to_vec();
    Ok(Json(
        s.engine.ask(|r| Command::Import(name, bytes, r)).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IngestBody {
    points: Vec<PointIn>,
}

/// Parses `series,timestamp,v0,v1,…` rows (a header row first).
fn csv_points(bytes: &[u8]) -> Result<Vec<PointIn>, ApiError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| ApiError::bad(format!("CSV header: {e}")))?;
    if header.get(0) != Some("series") || header.get(1) != Some("timestamp") {
        return Err(ApiError::bad("CSV header must start with series,timestamp"));
    }
    let mut points = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2;
        let record = record.map_err(|e| ApiError::bad(format!("CSV line {row}: {e}")))?;
        let field = |j: usize| record.get(j).unwrap_or("").trim();
        let timestamp = field(1).parse::<i64>().map_err(|_| {
            ApiError::bad(format!(
                "CSV line {row}: timestamp `{}` is not an integer",
                field(1)
            ))
        })?;
        let values = (2..record.len())
            .map(|j| {
                field(j).parse::<f64>().map_err(|_| {
                    ApiError::bad(format!(
                        "CSV line {row}, column {}: `{}` is not a number",
                        j + 1,
                        field(j)
                    ))
                })
            })
            .collect::<Result<Vec<f64>, ApiError>>()?;
        points.push(PointIn {
            series: field(0).to_string(),
            timestamp,
            values,
        });
    }
    Ok(points)
}

async fn ingest(
    State(s): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let started = Instant::now();
    let bytes = body(raw)?;
    let is_csv = content_type_is(&headers, "text/csv");
    let points = if is_csv {
        csv_points(&bytes)?
    } else {
        json::<IngestBody>(&bytes)?.points
    };
    if points.is_empty() {
        return Err(ApiError::bad("no points"));
    }
    let scored = s
        .engine
        .ask(|r| Command::Ingest(Ingest::Points(points, started, r)))
        .await?;
    Ok(Json(serde_json::json!({ "results": scored })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinesBody {
    lines: Vec<String>,
}

/// The lines of a `text/plain` body, one per `\n` (a `\r` before it dropped); a line that is
/// not UTF-8 is refused, naming it.
fn text_lines(bytes: &[u8]) -> Result<Vec<String>, ApiError> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            std::str::from_utf8(line).map(str::to_string).map_err(|e| {
                ApiError::bad(format!(
                    "line {}: not UTF-8 (invalid byte at offset {})",
                    i + 1,
                    e.valid_up_to()
                ))
            })
        })
        .collect()
}

/// Log lines for a log series: `text/plain` (one line per line) or JSON `{"lines": [...]}`.
/// Each line is parsed into a template and scored; the answer lists them in order.
async fn ingest_lines(
    State(s): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let started = Instant::now();
    let series = series_name(&name)?;
    let bytes = body(raw)?;
    let is_json = content_type_is(&headers, "application/json");
    let lines = if is_json {
        json::<LinesBody>(&bytes)?.lines
    } else {
        text_lines(&bytes)?
    };
    if lines.is_empty() {
        return Err(ApiError::bad("no lines"));
    }
    let out = s
        .engine
        .ask(|r| Command::Ingest(Ingest::Lines(LinesIn { series, lines }, started, r)))
        .await?;
    Ok(Json(out))
}

async fn events(State(s): State<AppState>) -> impl IntoResponse {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let mut alerts = s.engine.alerts.subscribe();
    let mut closing = s.closing.clone();
    // Forwards anomalies until the client leaves or shutdown begins; dropping `tx` then ends
    // the stream, so a graceful shutdown does not wait on open event streams.
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = async {
                    while !*closing.borrow() {
                        if closing.changed().await.is_err() {
                            break;
                        }
                    }
                } => break,
                alert = alerts.recv() => match alert {
                    Ok(alert) => {
                        let Ok(event) = Event::default().event("anomaly").json_data(alert.as_ref()) else {
                            continue;
                        };
                        if tx.send(Ok::<_, std::convert::Infallible>(event)).await.is_err() {
                            break;
                        }
                    }
                    // A lagging client skips what it missed rather than stalling the service.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
            }
        }
    });
    Sse::new(tokio_stream::wrappers::ReceiverStream::new(rx)).keep_alive(KeepAlive::default())
}
