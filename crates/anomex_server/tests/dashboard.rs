#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The dashboard in a real browser: headless Chromium loads the page, its script fetches the
//! series with the token from the address and draws the charts; the rendered DOM must hold a
//! chart of the values and the anomaly marks. Skipped, with a message, where Chromium is absent
//! (`.ci/run` installs Debian's `chromium`).

use anomex_server::config::{Config, Limits, Scope, Token};
use serde_json::json;
use std::process::Command;
use std::time::Duration;

const ADMIN: &str = "admin-token-dashboard-001";

fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_renders_charts_in_headless_chromium() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED: no Chromium on this machine (install Debian's `chromium` to run this test)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        tokens: vec![Token {
            token: ADMIN.into(),
            scope: Scope::Admin,
        }],
        limits: Limits::default(),
        keep_recent: 1000,
        checkpoint_every: Duration::from_secs(3600),
        webhook: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(anomex_server::serve(config, listener, async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/v1/series"))
        .bearer_auth(ADMIN)
        .json(&json!({ "name": "room.temp", "warmup": 100 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let points: Vec<_> = (0..400)
        .map(|t| {
            let v = (t as f64 * 0.1).sin() + if t == 300 { 7.0 } else { 0.0 };
            json!({ "series": "room.temp", "timestamp": t, "values": [v] })
        })
        .collect();
    let r = client
        .post(format!("{base}/v1/ingest"))
        .bearer_auth(ADMIN)
        .json(&json!({ "points": points }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let profile = tempfile::tempdir().unwrap();
    // Without the event stream, which would keep the page loading forever.
    let url = format!("{base}/?token={ADMIN}&events=0");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=5000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dom.contains("data-series=\"room.temp\""),
        "no card for the series:\n{dom}"
    );
    assert!(dom.contains("1 series"), "status line missing:\n{dom}");
    let values = dom
        .split("class=\"values\" points=\"")
        .nth(1)
        .expect("a values chart")
        .split('"')
        .next()
        .unwrap();
    assert!(
        values.split(' ').count() >= 300,
        "the chart has too few points: {values}"
    );
    assert!(
        dom.contains("class=\"anomaly\""),
        "the spike is not marked:\n{dom}"
    );
    assert!(dom.contains("class=\"scores\""), "no score line:\n{dom}");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
