//! `anomex loadgen`: a bounded load on a running service.
//!
//! Creates `series` series in one request, then `concurrency` workers each own a disjoint share
//! of them and send requests of `batch` points (one point per series, round-robin over the
//! worker's share, timestamps counting up) until `duration` or `points` is reached. Reports
//! points per second and the latency percentiles of the requests.
//!
//! With `--log FILE` the series are log series: each request sends `batch` lines of the file
//! to one series of the worker's share (round-robin), each series reading the file in order
//! from its own position, so every line is parsed, scored and made durable as in production.

use crate::LoadgenArgs;
use anyhow::{bail, Context, Result};
use std::time::{Duration, Instant};

pub fn loadgen(args: LoadgenArgs) -> Result<()> {
    if args.series == 0 || args.batch == 0 || args.concurrency == 0 {
        bail!("--series, --batch and --concurrency must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: LoadgenArgs) -> Result<()> {
    let client = reqwest::Client::new();
    let base = args.url.trim_end_matches('/').to_string();
    let names: Vec<String> = (0..args.series)
        .map(|i| format!("{}-{i}", args.prefix))
        .collect();
    let lines: Option<std::sync::Arc<Vec<String>>> = match &args.log {
        Some(path) => {
            let text =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let lines: Vec<String> = String::from_utf8_lossy(&text)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect();
            if lines.is_empty() {
                bail!("{} has no lines", path.display());
            }
            Some(std::sync::Arc::new(lines))
        }
        None => None,
    };
    let configs: Vec<serde_json::Value> = names
        .iter()
        .map(|n| match (&lines, &args.preset) {
            (Some(_), Some(preset)) => serde_json::json!({
                "name": n, "warmup": 100, "log": { "preset": preset }
            }),
            (Some(_), None) => serde_json::json!({ "name": n, "warmup": 100, "log": {} }),
            (None, _) => {
                serde_json::json!({ "name": n, "detector": args.detector, "warmup": 100 })
            }
        })
        .collect();
    let created = client
        .post(format!("{base}/v1/series"))
        .bearer_auth(&args.token)
        .json(&configs)
        .send()
        .await
        .context("cannot reach the service")?;
    if !created.status().is_success() && created.status() != reqwest::StatusCode::CONFLICT {
        bail!(
            "creating the series: {} {}",
            created.status(),
            created.text().await.unwrap_or_default()
        );
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let per_worker = args.points / args.concurrency as u64;
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let own: Vec<String> = names
            .iter()
            .skip(w)
            .step_by(args.concurrency)
            .cloned()
            .collect();
        let (client, base, token, batch) =
            (client.clone(), base.clone(), args.token.clone(), args.batch);
        let lines = lines.clone();
        workers.push(tokio::spawn(async move {
            let load = Load {
                client,
                base,
                token,
                own,
                batch,
                deadline,
                max_points: per_worker,
            };
            match lines {
                Some(lines) => log_worker(load, &lines).await,
                None => worker(load).await,
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut points = 0u64;
    for w in workers {
        let (p, l) = w.await.context("a worker panicked")??;
        points += p;
        latencies.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let what = if args.log.is_some() {
        "lines"
    } else {
        "points"
    };
    println!(
        "{points} {what} in {:.1} s: {:.0} {what}/s; {} requests of {} {what}, latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        elapsed,
        points as f64 / elapsed,
        latencies.len(),
        args.batch,
        pct(0.5) * 1e3,
        pct(0.99) * 1e3,
        latencies.last().copied().unwrap_or(f64::NAN) * 1e3
    );
    Ok(())
}

/// One worker's share of the load.
struct Load {
    client: reqwest::Client,
    base: String,
    token: String,
    own: Vec<String>,
    batch: usize,
    deadline: Instant,
    max_points: u64,
}

/// Sends one request and times it; a refused request ends the run.
async fn send(load: &Load, path: &str, content_type: &str, body: String) -> Result<f64> {
    let t0 = Instant::now();
    let r = load
        .client
        .post(format!("{}{path}", load.base))
        .bearer_auth(&load.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .context("ingest request failed")?;
    let status = r.status();
    let answer = r.bytes().await.context("reading the ingest answer")?;
    if !status.is_success() {
        bail!(
            "ingest refused: {status} {}",
            String::from_utf8_lossy(&answer)
        );
    }
    Ok(t0.elapsed().as_secs_f64())
}

/// Log lines: one series per request, `batch` lines of the file from that series' position.
async fn log_worker(load: Load, lines: &[String]) -> Result<(u64, Vec<f64>)> {
    let mut next_line = vec![0usize; load.own.len()];
    let (mut cursor, mut sent, mut latencies) = (0usize, 0u64, Vec::new());
    while Instant::now() < load.deadline && sent < load.max_points {
        let i = cursor % load.own.len();
        cursor += 1;
        let mut body = String::with_capacity(load.batch * 128);
        for _ in 0..load.batch {
            body.push_str(&lines[next_line[i] % lines.len()]);
            body.push('\n');
            next_line[i] += 1;
        }
        let path = format!("/v1/series/{}/logs", load.own[i]);
        latencies.push(send(&load, &path, "text/plain", body).await?);
        sent += load.batch as u64;
    }
    Ok((sent, latencies))
}

async fn worker(load: Load) -> Result<(u64, Vec<f64>)> {
    let Load {
        ref own,
        batch,
        deadline,
        max_points,
        ..
    } = load;
    let mut next_ts = vec![0i64; own.len()];
    let mut cursor = 0usize;
    let mut sent = 0u64;
    let mut latencies = Vec::new();
    while Instant::now() < deadline && sent < max_points {
        let mut body = String::with_capacity(batch * 48);
        body.push_str("{\"points\":[");
        for k in 0..batch {
            let i = cursor % own.len();
            cursor += 1;
            let t = next_ts[i];
            next_ts[i] += 1;
            // A slow wave per series with a rare spike, so detectors have work to do.
            let v = (t as f64 * 0.05 + i as f64).sin() + if t % 997 == 500 { 8.0 } else { 0.0 };
            if k > 0 {
                body.push(',');
            }
            body.push_str(&format!(
                "{{\"series\":\"{}\",\"timestamp\":{t},\"values\":[{v}]}}",
                own[i]
            ));
        }
        body.push_str("]}");
        latencies.push(send(&load, "/v1/ingest", "application/json", body).await?);
        sent += batch as u64;
    }
    Ok((sent, latencies))
}
