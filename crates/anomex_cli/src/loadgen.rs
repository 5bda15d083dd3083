//! `anomex loadgen`: a bounded load on a running service.
//!
//! Creates `series` series in one request, then `concurrency` workers each own a disjoint share
//! of them and send requests of `batch` points (one point per series, round-robin over the
//! worker's share, timestamps counting up) until `duration` or `points` is reached. Reports
//! points per second and the latency percentiles of the requests.

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
    let configs: Vec<serde_json::Value> = names
        .iter()
        .map(|n| serde_json::json!({ "name": n, "detector": args.detector, "warmup": 100 }))
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
        workers.push(tokio::spawn(async move {
            worker(client, base, token, own, batch, deadline, per_worker).await
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
    println!(
        "{points} points in {:.1} s: {:.0} points/s; {} requests of {} points, latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
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

async fn worker(
    client: reqwest::Client,
    base: String,
    token: String,
    own: Vec<String>,
    batch: usize,
    deadline: Instant,
    max_points: u64,
) -> Result<(u64, Vec<f64>)> {
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
        let t0 = Instant::now();
        let r = client
            .post(format!("{base}/v1/ingest"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
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
        latencies.push(t0.elapsed().as_secs_f64());
        sent += batch as u64;
    }
    Ok((sent, latencies))
}
