#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The service over real HTTP on loopback: API, tokens, limits, validation, alerts, model
//! export and import, and restart with exactly the same scores.

use anomex_server::config::{Config, Limits, Scope, Token, Webhook};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const ADMIN: &str = "admin-token-for-tests-0001";
const INGEST: &str = "ingest-token-for-tests-001";

fn config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        tokens: vec![
            Token {
                token: ADMIN.into(),
                scope: Scope::Admin,
            },
            Token {
                token: INGEST.into(),
                scope: Scope::Ingest,
            },
        ],
        limits: Limits::default(),
        keep_recent: 1000,
        checkpoint_every: Duration::from_secs(3600),
        webhook: None,
    }
}

struct Server {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), String>>,
    client: reqwest::Client,
}

impl Server {
    async fn start(config: Config) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(anomex_server::serve(config, listener, async move {
            let _ = stopped.await;
        }));
        Server {
            base,
            stop: Some(stop),
            task,
            client: reqwest::Client::new(),
        }
    }

    /// Graceful stop: requests finish, every series is checkpointed.
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, Some(ADMIN), None)
            .await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(ADMIN), Some(body))
            .await
    }

    async fn ingest_csv(&self, csv: &'static str) -> (StatusCode, String) {
        let r = self
            .client
            .post(self.url("/v1/ingest"))
            .bearer_auth(INGEST)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    async fn ingest(&self, points: Vec<Value>) -> (StatusCode, Value) {
        self.send(
            reqwest::Method::POST,
            "/v1/ingest",
            Some(INGEST),
            Some(json!({ "points": points })),
        )
        .await
    }
}

/// A wave with spikes every 97 points.
fn value(t: i64) -> f64 {
    (t as f64 * 0.21).sin() + if t % 97 == 60 { 6.0 } else { 0.0 }
}

fn points(series: &str, range: std::ops::Range<i64>) -> Vec<Value> {
    range
        .map(|t| json!({ "series": series, "timestamp": t, "values": [value(t)] }))
        .collect()
}

fn scores(answer: &Value) -> Vec<Option<f64>> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["score"].as_f64())
        .collect()
}

fn error_of(body: &Value) -> String {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no JSON error in {body}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_lifecycle_scores_and_finds_the_spikes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let (st, info) = s
        .post("/v1/series", json!({ "name": "cpu.total", "warmup": 200 }))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{info}");
    assert_eq!(info["phase"], "collecting");
    let (st, answer) = s.ingest(points("cpu.total", 0..1000)).await;
    assert_eq!(st, StatusCode::OK, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 1000);
    assert!(
        results[..200].iter().all(|r| r["score"].is_null()),
        "warm-up points are unscored"
    );
    assert!(results[200..].iter().all(|r| r["score"].is_number()));
    let flagged: Vec<i64> = results
        .iter()
        .filter(|r| r["anomaly"] == true)
        .map(|r| r["timestamp"].as_i64().unwrap())
        .collect();
    let spikes: Vec<i64> = (200..1000).filter(|t| t % 97 == 60).collect();
    for t in &spikes {
        assert!(
            flagged.contains(t),
            "spike at {t} not flagged; flagged {flagged:?}"
        );
    }
    assert!(
        flagged.len() <= 2 * spikes.len(),
        "too many flags: {flagged:?}"
    );

    let (_, info) = s.get("/v1/series/cpu.total").await;
    assert_eq!(info["phase"], "live");
    assert_eq!(info["points"], 1000);
    assert_eq!(info["last_timestamp"], 999);
    let (_, recent) = s.get("/v1/series/cpu.total/points?limit=5").await;
    let ts: Vec<i64> = recent
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["timestamp"].as_i64().unwrap())
        .collect();
    assert_eq!(ts, vec![995, 996, 997, 998, 999]);
    let (_, anomalies) = s.get("/v1/series/cpu.total/anomalies").await;
    assert_eq!(anomalies.as_array().unwrap().len(), flagged.len());

    let (st, list) = s.get("/v1/series").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (st, _) = s
        .send(
            reqwest::Method::DELETE,
            "/v1/series/cpu.total",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, body) = s.get("/v1/series/cpu.total").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(error_of(&body).contains("cpu.total"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_required_and_scoped() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let create = json!({ "name": "a" });
    let (st, _) = s.send(reqwest::Method::GET, "/health", None, None).await;
    assert_eq!(st, StatusCode::OK, "health needs no token");
    for path in [
        "/",
        "/ready",
        "/metrics",
        "/openapi.json",
        "/v1/series",
        "/v1/events",
    ] {
        let (st, body) = s.send(reqwest::Method::GET, path, None, None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{path} without a token");
        assert!(error_of(&body).contains("missing"), "{body}");
        let (st, _) = s
            .send(
                reqwest::Method::GET,
                path,
                Some("wrong-token-0000000000000"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{path} with a wrong token");
    }
    let (st, body) = s
        .send(
            reqwest::Method::POST,
            "/v1/series",
            Some(INGEST),
            Some(create.clone()),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "an ingest token cannot create: {body}"
    );
    let (st, _) = s
        .send(
            reqwest::Method::POST,
            "/v1/series",
            Some(ADMIN),
            Some(create),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = s
        .send(reqwest::Method::DELETE, "/v1/series/a", Some(INGEST), None)
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s
        .send(reqwest::Method::GET, "/v1/series/a", Some(INGEST), None)
        .await;
    assert_eq!(st, StatusCode::OK, "an ingest token may read");
    let (st, _) = s.ingest(points("a", 0..10)).await;
    assert_eq!(st, StatusCode::OK, "an ingest token may ingest");
    // The dashboard and the event stream take the token from the query.
    let (st, page) = s
        .send(
            reqwest::Method::GET,
            &format!("/?token={INGEST}"),
            None,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(
        page.as_str().unwrap().contains("<title>anomex</title>"),
        "{page}"
    );
    // … and only they: elsewhere a token in the address is refused, not used
    let (st, body) = s
        .send(
            reqwest::Method::GET,
            &format!("/v1/series?token={ADMIN}"),
            None,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{body}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_a_json_body_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    s.post("/v1/series", json!({ "name": "a" })).await;
    let (st, body) = s.get("/v1/series/a/points?limit=many").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).starts_with("query:"), "{body}");
    let (st, body) = s
        .send(reqwest::Method::PATCH, "/v1/series/a", Some(ADMIN), None)
        .await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        error_of(&body).contains("does not take that method"),
        "{body}"
    );
    for name in [".", ".."] {
        let (st, body) = s.post("/v1/series", json!({ "name": name })).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{name}");
        assert!(error_of(&body).contains("means a folder"), "{body}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_4xx_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits = Limits {
        max_body_bytes: 64 * 1024,
        max_batch_points: 500,
        max_series: 2,
        rate_per_series: 1000.0,
    };
    let s = Server::start(cfg).await;
    let cases = [
        (json!({ "name": "" }), "1 to 128"),
        (json!({ "name": "x".repeat(129) }), "1 to 128"),
        (json!({ "name": "../etc/passwd" }), "contains `/`"),
        (
            json!({ "name": "a", "detector": "nope" }),
            "unknown detector",
        ),
        (
            json!({ "name": "a", "detector": "matrix_profile" }),
            "not causal",
        ),
        (
            json!({ "name": "a", "params": { "window": "-3" } }),
            "window",
        ),
        (json!({ "name": "a", "threshold": "dspot:q=7" }), "q"),
        (json!({ "name": "a", "columns": 0 }), "columns"),
        (json!({ "name": "a", "warmup": 1 }), "warmup"),
        (json!({ "name": "a", "colour": "red" }), "unknown field"),
    ];
    for (body, needle) in cases {
        let (st, answer) = s.post("/v1/series", body.clone()).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(
            error_of(&answer).contains(needle),
            "{body}: {answer} lacks {needle}"
        );
    }
    assert_eq!(
        s.post(
            "/v1/series",
            json!({ "name": "two", "columns": 2, "warmup": 50 })
        )
        .await
        .0,
        StatusCode::CREATED
    );
    assert_eq!(
        s.post("/v1/series", json!({ "name": "two" })).await.0,
        StatusCode::CONFLICT
    );

    let good = json!({ "series": "two", "timestamp": 1, "values": [1.0, 2.0] });
    let bad_points = [
        (
            json!({ "series": "two", "timestamp": 2, "values": [1.0] }),
            "1 values for series `two` of 2 columns",
        ),
        (
            json!({ "series": "nope", "timestamp": 2, "values": [1.0, 2.0] }),
            "no series named `nope`",
        ),
        (
            json!({ "series": "two", "timestamp": 1, "values": [1.0, 2.0] }),
            "not after 1",
        ),
        (
            json!({ "series": "two", "timestamp": 2, "values": [1.0, "x"] }),
            "invalid JSON",
        ),
        (
            json!({ "series": "two", "timestamp": 2.5, "values": [1.0, 2.0] }),
            "invalid JSON",
        ),
    ];
    for (point, needle) in bad_points {
        // A good point first: the whole request is refused, so it must not count either.
        let (st, answer) = s.ingest(vec![good.clone(), point.clone()]).await;
        assert!(st.is_client_error(), "{point}: {st} {answer}");
        assert!(
            error_of(&answer).contains(needle),
            "{point}: {answer} lacks {needle}"
        );
        let (_, info) = s.get("/v1/series/two").await;
        assert_eq!(info["points"], 0, "a refused request changed the series");
    }
    // NaN cannot be written in JSON; in CSV it parses, and is refused as non-finite.
    let (st, body) = s
        .ingest_csv("series,timestamp,a,b\ntwo,1,1.0,2.0\ntwo,2,NaN,2.0\n")
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body.contains("not a finite number"), "{body}");
    let (st, body) = s
        .ingest_csv("series,timestamp,a,b\ntwo,1,1.0,2.0\ntwo,2,1.5,2.5\n")
        .await;
    assert_eq!(st, StatusCode::OK, "CSV ingest: {body}");

    // Limits: batch size, body size, rate, series count.
    let many: Vec<Value> = (3..504)
        .map(|t| json!({ "series": "two", "timestamp": t, "values": [1.0, 2.0] }))
        .collect();
    let (st, answer) = s.ingest(many).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    let big = "x".repeat(70 * 1024);
    let (st, answer) = s.post("/v1/series", json!({ "name": big })).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert!(answer["error"].is_string());
    let mut t = 3;
    let mut limited = false;
    for _ in 0..5 {
        let burst: Vec<Value> = (t..t + 400)
            .map(|t| json!({ "series": "two", "timestamp": t, "values": [1.0, 2.0] }))
            .collect();
        let (st, answer) = s.ingest(burst).await;
        if st == StatusCode::TOO_MANY_REQUESTS {
            assert!(error_of(&answer).contains("1000 points per second"));
            limited = true;
            break;
        }
        assert_eq!(st, StatusCode::OK, "{answer}");
        t += 400;
    }
    assert!(limited, "2000 points within a moment passed a 1000/s limit");
    assert_eq!(
        s.post("/v1/series", json!([{ "name": "b" }, { "name": "c" }]))
            .await
            .0,
        StatusCode::INSUFFICIENT_STORAGE
    );
    let (_, list) = s.get("/v1/series").await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "a refused batch creates none of its series"
    );
    let (st, body) = s.get("/v1/nothing").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(error_of(&body).contains("openapi"));
    let (_, metrics) = s.get("/metrics").await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains("anomex_requests_refused_total"),
        "{metrics}"
    );
    assert!(metrics.contains("anomex_ingest_latency_seconds_bucket{le=\"+Inf\"}"));
    assert!(metrics.contains("anomex_series 1"));
    s.stop().await;
}

/// Scores after a restart are the ones an uninterrupted service gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_continues_with_the_same_scores() {
    for detector in ["zscore", "hst", "rrcf"] {
        let create = json!({ "name": "s", "detector": detector, "warmup": 300 });
        let steady = tempfile::tempdir().unwrap();
        let a = Server::start(config(steady.path())).await;
        a.post("/v1/series", create.clone()).await;
        let (_, first) = a.ingest(points("s", 0..700)).await;
        let (_, whole) = a.ingest(points("s", 700..1400)).await;
        a.stop().await;

        let restarted = tempfile::tempdir().unwrap();
        let b = Server::start(config(restarted.path())).await;
        b.post("/v1/series", create).await;
        let (_, first_b) = b.ingest(points("s", 0..700)).await;
        assert_eq!(
            scores(&first),
            scores(&first_b),
            "{detector}: same data, same scores"
        );
        b.stop().await;
        let b = Server::start(config(restarted.path())).await;
        let (_, info) = b.get("/v1/series/s").await;
        assert_eq!(info["points"], 700, "{detector}: {info}");
        // a graceful stop keeps the recent points too, with the scores that were answered
        let (_, recent) = b.get("/v1/series/s/points?limit=1000").await;
        let recent = recent.as_array().unwrap();
        assert_eq!(recent.len(), 700, "{detector}");
        for (p, answered) in recent.iter().zip(scores(&first_b)) {
            assert_eq!(p["score"].as_f64(), answered, "{detector}: {p}");
        }
        let (_, rest) = b.ingest(points("s", 700..1400)).await;
        let (x, y) = (scores(&whole), scores(&rest));
        assert!(x.iter().all(Option::is_some));
        assert_eq!(x.len(), y.len());
        for (i, (p, q)) in x.iter().zip(&y).enumerate() {
            assert_eq!(
                p.map(f64::to_bits),
                q.map(f64::to_bits),
                "{detector} point {}",
                700 + i
            );
        }
        b.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_export_import_and_fit_from_history() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    s.post("/v1/series", json!({ "name": "src", "warmup": 200 }))
        .await;
    let (st, body) = s.get("/v1/series/src/model").await;
    assert_eq!(
        st,
        StatusCode::CONFLICT,
        "no model while collecting: {body}"
    );
    s.ingest(points("src", 0..400)).await;
    let model = s
        .client
        .get(s.url("/v1/series/src/model"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(model.starts_with(b"ANOMEXMF"));
    // The file is the CLI's model file: the library loads it.
    let fitted = anomex::model_file::from_bytes(&model, &anomex::registry()).unwrap();
    assert_eq!(fitted.name(), "zscore");

    s.post("/v1/series", json!({ "name": "dst", "warmup": 100 }))
        .await;
    let r = s
        .client
        .put(s.url("/v1/series/dst/model"))
        .bearer_auth(ADMIN)
        .body(model.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["phase"], "calibrating");
    let (_, answer) = s.ingest(points("dst", 0..50)).await;
    assert!(
        scores(&answer)[..50].iter().all(Option::is_none),
        "a fresh stream warms up its window"
    );
    let r = s
        .client
        .put(s.url("/v1/series/dst/model"))
        .bearer_auth(ADMIN)
        .body(model[..20].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("model file"));

    s.post(
        "/v1/series",
        json!({ "name": "hist", "detector": "mad", "params": { "window": "30" } }),
    )
    .await;
    let history: Vec<Vec<f64>> = (0..300).map(|t| vec![value(t)]).collect();
    let (st, info) = s
        .post("/v1/series/hist/fit", json!({ "history": history }))
        .await;
    assert_eq!(st, StatusCode::OK, "{info}");
    assert_eq!(info["phase"], "live");
    let (_, answer) = s.ingest(points("hist", 300..400)).await;
    assert!(
        scores(&answer).iter().all(Option::is_some),
        "primed by the history"
    );
    let (st, body) = s
        .post(
            "/v1/series/hist/fit",
            json!({ "history": [[1.0], [2.0, 3.0]] }),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("history row 1"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anomalies_reach_the_event_stream_and_the_webhook() {
    use axum::routing::post;
    use std::sync::{Arc, Mutex};
    // A webhook that refuses its first call: the alert must arrive by retry.
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let hook = {
        let (received, calls) = (received.clone(), calls.clone());
        axum::Router::new().route(
            "/hook",
            post(move |axum::Json(v): axum::Json<Value>| {
                let (received, calls) = (received.clone(), calls.clone());
                async move {
                    if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    received.lock().unwrap().push(v);
                    StatusCode::OK
                }
            }),
        )
    };
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", hook_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(hook_listener, hook).await });

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.webhook = Some(Webhook {
        url: hook_url,
        cooldown_secs: 3600,
        attempts: 3,
        backoff_ms: 20,
    });
    let s = Server::start(cfg).await;
    s.post("/v1/series", json!({ "name": "e" })).await;
    let mut sse = s
        .client
        .get(s.url(&format!("/v1/events?token={INGEST}")))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), StatusCode::OK);
    let (_, answer) = s.ingest(points("e", 0..700)).await;
    let flagged = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["anomaly"] == true)
        .count();
    assert!(flagged >= 2, "{flagged} anomalies");
    let mut text = String::new();
    while !text.contains("event: anomaly") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), sse.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("\"series\":\"e\""), "{text}");
    for _ in 0..100 {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = received.lock().unwrap().clone();
    // One alert despite several anomalies: the cooldown holds the rest back.
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["series"], "e");
    assert!(
        calls.load(std::sync::atomic::Ordering::SeqCst) >= 2,
        "retried after a 503"
    );
    let (_, metrics) = s.get("/metrics").await;
    assert!(metrics
        .as_str()
        .unwrap()
        .contains("anomex_alerts_sent_total 1"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_answers() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    s.post("/v1/series", json!({ "name": "doc" })).await;
    let (st, doc) = s.get("/openapi.json").await;
    assert_eq!(st, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 12);
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            if method == "delete" || path == "/v1/events" {
                continue; // destructive, or an endless stream
            }
            let path = path.replace("{name}", "doc");
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = s
                .client
                .request(m, s.url(&path))
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap();
            assert!(
                r.status() != StatusCode::NOT_FOUND && r.status() != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {}",
                r.status()
            );
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_column_points_carry_their_attribution() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    s.post(
        "/v1/series",
        json!({ "name": "pair", "columns": 2, "warmup": 200 }),
    )
    .await;
    let points: Vec<Value> = (0..400)
        .map(|t| {
            let (a, b) = (
                value(t) - if t % 97 == 60 { 6.0 } else { 0.0 },
                (t as f64 * 0.13).cos(),
            );
            // Channel b jumps once, at 350; channel a's spikes are removed.
            let b = if t == 350 { b + 8.0 } else { b };
            json!({ "series": "pair", "timestamp": t, "values": [a, b] })
        })
        .collect();
    let (st, answer) = s.ingest(points).await;
    assert_eq!(st, StatusCode::OK, "{answer}");
    let at = &answer["results"][350];
    assert_eq!(at["anomaly"], true, "{at}");
    let attribution: Vec<f64> = at["attribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(attribution.len(), 2);
    assert!(
        attribution[1] > 5.0 * attribution[0].max(0.1),
        "{attribution:?}"
    );
    assert!(
        answer["results"][10]["attribution"].is_null(),
        "no attribution while collecting"
    );
    s.stop().await;
}

/// 600 lines of BGL (Blue Gene/L) with their alert labels, shipped with the examples.
const BGL: &str = include_str!("../../../examples/loghub/BGL_600.log");

impl Server {
    /// Sends log lines as `text/plain` with the ingest token.
    async fn lines(&self, series: &str, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
        let r = self
            .client
            .post(self.url(&format!("/v1/series/{series}/logs")))
            .bearer_auth(INGEST)
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn bgl_lines(range: std::ops::Range<usize>) -> String {
    let lines: Vec<&str> = BGL.lines().collect();
    lines[range].join("\n") + "\n"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_series_parse_score_and_continue_after_a_restart() {
    let create = json!({ "name": "bgl", "warmup": 200, "log": { "preset": "BGL" } });
    let dir = tempfile::tempdir().unwrap();
    let a = Server::start(config(dir.path())).await;
    let (st, info) = a.post("/v1/series", create.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "{info}");
    assert_eq!(info["config"]["detector"], "ngram", "a log series' default");
    assert_eq!(info["config"]["threshold"], "pot");
    assert_eq!(info["log"]["settings"]["preset"], "BGL");
    let (st, first) = a.lines("bgl", bgl_lines(0..300)).await;
    assert_eq!(st, StatusCode::OK, "{first}");
    let results = first["results"].as_array().unwrap();
    assert_eq!(results.len(), 300);
    assert_eq!(results[0]["line"], 1);
    assert_eq!(results[0]["new_template"], true);
    let text = results[0]["template_text"].as_str().unwrap();
    assert!(text.starts_with("New ido chip inserted"), "{text}");
    assert!(results[199]["score"].is_null(), "warm-up lines score null");
    assert!(results[200]["score"].as_f64().is_some());
    let templates = first["templates"].as_u64().unwrap();
    assert!((10..300).contains(&templates), "{templates} templates");
    // the JSON form is the same request
    let (st, json_form) = a
        .send(
            reqwest::Method::POST,
            "/v1/series/bgl/logs",
            Some(INGEST),
            Some(json!({ "lines": BGL.lines().skip(300).collect::<Vec<_>>() })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{json_form}");
    a.stop().await;

    // the same lines in two requests, a graceful restart between: the same scores bit for bit
    let dir = tempfile::tempdir().unwrap();
    let b = Server::start(config(dir.path())).await;
    b.post("/v1/series", create).await;
    let (_, first_b) = b.lines("bgl", bgl_lines(0..300)).await;
    assert_eq!(first["results"], first_b["results"]);
    b.stop().await;
    let b = Server::start(config(dir.path())).await;
    let (_, info) = b.get("/v1/series/bgl").await;
    assert_eq!(info["points"], 300, "{info}");
    assert_eq!(info["log"]["templates"], first["templates"]);
    let (_, rest) = b.lines("bgl", bgl_lines(300..600)).await;
    let bits = |v: &Value| -> Vec<(Option<u64>, u64)> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["score"].as_f64().map(f64::to_bits),
                    r["template"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(bits(&json_form), bits(&rest));
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_log_lines_and_log_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let (st, body) = s
        .post(
            "/v1/series",
            json!({ "name": "x", "log": { "preset": "Nope" } }),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("unknown system `Nope`"), "{body}");
    let (st, body) = s
        .post(
            "/v1/series",
            json!({ "name": "x", "detector": "zscore", "log": {} }),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(error_of(&body).contains("event detector"), "{body}");
    let (st, body) = s
        .post(
            "/v1/series",
            json!({ "name": "x", "log": { "similarity": 0.5 } }),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "unknown field: {body}");
    let (st, _) = s
        .post(
            "/v1/series",
            json!({ "name": "app", "warmup": 20, "log": { "max_line_bytes": 100 } }),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    s.post("/v1/series", json!({ "name": "num" })).await;

    let long = format!("ok line\n{}\n", "x".repeat(101));
    for (body, problem) in [
        (b"ok line\n\xff\xfe broken\n".to_vec(), "line 2: not UTF-8"),
        (
            b"ok line\nbinary \x00\x01 junk\n".to_vec(),
            "line 2: holds the control character U+0000",
        ),
        (long.into_bytes(), "line 2: 101 bytes"),
    ] {
        let (st, answer) = s.lines("app", body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{answer}");
        assert!(error_of(&answer).contains(problem), "{answer}");
    }
    let (_, info) = s.get("/v1/series/app").await;
    assert_eq!(info["points"], 0, "a refused request changes nothing");
    let (st, answer) = s.lines("app", "one\n\n  \ntwo\r\n").await;
    assert_eq!(st, StatusCode::OK, "{answer}");
    assert_eq!(answer["skipped"], 2, "blank lines are skipped and counted");
    assert_eq!(answer["results"].as_array().unwrap().len(), 2);
    let (st, answer) = s.lines("num", "a line\n").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        error_of(&answer).contains("takes points, not log lines"),
        "{answer}"
    );
    let (st, answer) = s
        .ingest(vec![
            json!({ "series": "app", "timestamp": 99, "values": [1.0] }),
        ])
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(error_of(&answer).contains("is a log series"), "{answer}");
    let (st, _) = s.lines("nothere", "a line\n").await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    s.stop().await;
}
