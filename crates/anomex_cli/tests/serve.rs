//! `anomex serve` as a process: killed with SIGKILL in the middle of an ingest stream, restarted
//! on the same data folder, it has lost no acknowledged point and continues with exactly the
//! scores of a service that was never killed. Also `anomex loadgen` against it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const ADMIN: &str = "admin-token-serve-test-01";
/// One series per kind of stream state, plus enough z-score series that checkpoints take several
/// slices, so the WAL is trimmed while some series are saved and others are not.
fn series() -> Vec<(String, &'static str)> {
    let mut all: Vec<(String, &'static str)> =
        [("temp", "zscore"), ("load", "hst"), ("disk", "rrcf")]
            .into_iter()
            .map(|(n, d)| (n.to_string(), d))
            .collect();
    all.extend((0..150).map(|i| (format!("z{i}"), "zscore")));
    all
}
const BATCH: i64 = 20;
const BATCHES: i64 = 150;

struct Service {
    child: Child,
    base: String,
}

impl Service {
    fn start(data: &Path) -> Service {
        let config = data.with_extension("json");
        std::fs::write(
            &config,
            json!({ "tokens": [{ "token": ADMIN, "scope": "admin" }], "checkpoint_secs": 1 })
                .to_string(),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_anomex"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--config")
            .arg(&config)
            .env("ANOMEX_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Service { child, base }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

fn value(series: usize, t: i64) -> f64 {
    let x = t as f64 * (0.07 + 0.03 * series as f64);
    x.sin()
        + 0.3 * (3.1 * x).cos()
        + if (t + 13 * series as i64) % 151 == 0 {
            5.0
        } else {
            0.0
        }
}

/// Batch `b`: `BATCH` consecutive timestamps of every series.
fn batch(b: i64) -> Value {
    let all = series();
    let points: Vec<Value> = (b * BATCH..(b + 1) * BATCH)
        .flat_map(|t| {
            all.iter()
                .enumerate()
                .map(move |(i, (name, _))| json!({ "series": name, "timestamp": t, "values": [value(i, t)] }))
                .collect::<Vec<_>>()
        })
        .collect();
    json!({ "points": points })
}

fn create(c: &reqwest::blocking::Client, base: &str) {
    let configs: Vec<Value> = series()
        .iter()
        .map(|(name, detector)| json!({ "name": name, "detector": detector, "warmup": 300 }))
        .collect();
    let r = c
        .post(format!("{base}/v1/series"))
        .bearer_auth(ADMIN)
        .json(&configs)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
}

type Scores = BTreeMap<(String, i64), Option<u64>>;

/// Sends a request and records the answered scores (as bits) under (series, timestamp).
fn send(
    c: &reqwest::blocking::Client,
    base: &str,
    body: &Value,
    into: &mut Scores,
) -> Result<(), String> {
    let r = c
        .post(format!("{base}/v1/ingest"))
        .bearer_auth(ADMIN)
        .json(body)
        .send()
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("{}", r.status()));
    }
    let answer: Value = r.json().map_err(|e| e.to_string())?;
    for (p, r) in body["points"]
        .as_array()
        .unwrap()
        .iter()
        .zip(answer["results"].as_array().unwrap())
    {
        into.insert(
            (
                p["series"].as_str().unwrap().to_string(),
                p["timestamp"].as_i64().unwrap(),
            ),
            r["score"].as_f64().map(f64::to_bits),
        );
    }
    Ok(())
}

#[test]
fn sigkill_mid_ingest_loses_nothing_and_changes_no_score() {
    let dir = tempfile::tempdir().unwrap();
    let c = client();

    // The reference: a service that is never killed.
    let reference = Service::start(&dir.path().join("reference"));
    create(&c, &reference.base);
    let mut expected = Scores::new();
    for b in 0..BATCHES {
        send(&c, &reference.base, &batch(b), &mut expected).unwrap();
    }
    drop(reference);

    // The same stream, with the service killed while a client keeps sending.
    let data = dir.path().join("crashed");
    let crashed = Service::start(&data);
    create(&c, &crashed.base);
    let acked: Arc<Mutex<Scores>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (base, acked, stop) = (crashed.base.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let c = client();
            for b in 0..BATCHES {
                let mut got = Scores::new();
                if stop.load(Ordering::SeqCst) || send(&c, &base, &batch(b), &mut got).is_err() {
                    return b;
                }
                acked.lock().unwrap().extend(got);
                // Paced, so that the kill lands inside the stream, not after it.
                std::thread::sleep(std::time::Duration::from_millis(15));
            }
            BATCHES
        })
    };
    // Kill once a checkpoint has certainly passed and with requests in flight.
    while acked.lock().unwrap().len() < series().len() * (BATCH * 25) as usize {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let mut crashed = crashed;
    crashed.child.kill().unwrap(); // SIGKILL
    crashed.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    let stopped_at = sender.join().unwrap();
    assert!(stopped_at < BATCHES, "the kill came after the last batch");
    eprintln!("killed while sending batch {stopped_at} of {BATCHES}");
    let acked = acked.lock().unwrap().clone();

    // Every acknowledged point was scored as the reference scored it.
    for (key, score) in &acked {
        assert_eq!(expected.get(key), Some(score), "acknowledged {key:?}");
    }

    // Restarted: nothing acknowledged is missing, and the rest of the stream scores the same.
    let restarted = Service::start(&data);
    let mut resumed = Scores::new();
    for (i, (name, _)) in series().iter().enumerate() {
        let info: Value = c
            .get(format!("{}/v1/series/{name}", restarted.base))
            .bearer_auth(ADMIN)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let last = info["last_timestamp"].as_i64().unwrap();
        let last_acked = acked
            .keys()
            .filter(|(s, _)| s == name)
            .map(|(_, t)| *t)
            .max()
            .unwrap();
        assert!(
            last >= last_acked,
            "{name}: acknowledged up to {last_acked}, recovered up to {last}"
        );
        assert_eq!(info["points"].as_i64().unwrap(), last + 1, "{name}: {info}");
        // The recovered recent points carry the scores that were answered.
        let recent: Vec<Value> = c
            .get(format!(
                "{}/v1/series/{name}/points?limit=50",
                restarted.base
            ))
            .bearer_auth(ADMIN)
            .send()
            .unwrap()
            .json()
            .unwrap();
        for p in &recent {
            let key = (name.to_string(), p["timestamp"].as_i64().unwrap());
            assert_eq!(
                expected.get(&key),
                Some(&p["score"].as_f64().map(f64::to_bits)),
                "{key:?} recovered"
            );
        }
        let rest: Vec<Value> = (last + 1..BATCHES * BATCH)
            .map(|t| json!({ "series": name, "timestamp": t, "values": [value(i, t)] }))
            .collect();
        send(
            &c,
            &restarted.base,
            &json!({ "points": rest }),
            &mut resumed,
        )
        .unwrap();
    }
    assert!(!resumed.is_empty());
    for (key, score) in &resumed {
        assert_eq!(expected.get(key), Some(score), "after the restart {key:?}");
    }
}

#[test]
fn loadgen_reports_throughput_and_latency() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("load"));
    let out = Command::new(env!("CARGO_BIN_EXE_anomex"))
        .args(["loadgen", "--url", &service.base, "--token", ADMIN])
        .args([
            "--series",
            "200",
            "--batch",
            "100",
            "--concurrency",
            "2",
            "--points",
            "4000",
            "--duration",
            "60",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("4000 points in"), "{text}");
    assert!(text.contains("points/s") && text.contains("p99"), "{text}");
    let info: Value = client()
        .get(format!("{}/v1/series/load-7", service.base))
        .bearer_auth(ADMIN)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info["points"], 20, "{info}");
}

#[test]
fn a_second_service_on_the_same_folder_fails_without_saying_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _first = Service::start(&data);
    let config = data.with_extension("json");
    let out = Command::new(env!("CARGO_BIN_EXE_anomex"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .arg("--config")
        .arg(&config)
        .env("ANOMEX_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a second service started: {stdout}");
    assert!(!stdout.contains("listening"), "{stdout}");
    assert!(stderr.contains("error"), "{stderr}");
}
