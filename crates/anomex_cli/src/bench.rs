//! `anomex bench`: detectors × the data sets of a suite under a pinned protocol, with a
//! leaderboard; `anomex bench-worker` runs one job for it in a separate process.

use crate::BenchArgs;
use anomex_bench::job::{self, Job, Method, Outcome};
use anomex_bench::leaderboard;
use anomex_bench::protocol::{Normalization, Protocol, Split, Training, VusWindow};
use anomex_bench::runner::{self, Limits, Results, Worker};
use anomex_data::suite::{self, Loader};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Detectors benchmarked on time series when none are named, after the univariate default:
/// ARTime, the classical methods of TSB-AD's leaderboards that anomex has, its streaming
/// baselines and the calibrated anomaly likelihood.
const SERIES_DETECTORS: &[&str] = &[
    "artime",
    "spectral_residual",
    "matrix_profile",
    "sub_pca",
    "sub_iforest",
    "sub_knn",
    "sub_lof",
    "sub_hbos",
    "kmeans_ad",
    "iforest",
    "zscore",
    "mad",
    "ewma",
    "likelihood",
];

/// Detectors benchmarked on vectors when none are named: PyOD's classical set.
const VECTOR_DETECTORS: &[&str] = &[
    "iforest", "knn", "lof", "hbos", "ecod", "copod", "pca", "cblof", "mcd", "gmm", "inne", "loda",
];

/// Learned detectors `--learned` adds to the default set, by the suite's kind: each trains a
/// network per data set, so they are not run unless asked for.
const LEARNED_SERIES_DETECTORS: &[&str] = &["cnn", "lstm_ad", "usad"];
const LEARNED_VECTOR_DETECTORS: &[&str] = &["autoencoder", "vae", "deep_svdd"];

/// The data folder: `--data-dir`, else `$ANOMEX_DATA`, else `../shared/data` when present.
fn data_dir(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(d) = given {
        return Ok(d.to_path_buf());
    }
    if let Some(d) = std::env::var_os("ANOMEX_DATA") {
        return Ok(PathBuf::from(d));
    }
    let shared = PathBuf::from("../shared/data");
    if shared.is_dir() {
        return Ok(shared);
    }
    bail!("no data folder: give --data-dir or set ANOMEX_DATA")
}

/// The suite's folder and loader: a known suite name under the data folder, or a folder with
/// `--loader`.
fn suite_location(a: &BenchArgs) -> Result<(String, PathBuf, Loader)> {
    let known = |sub: &str, loader: Loader| -> Result<(PathBuf, Loader)> {
        Ok((data_dir(a.data_dir.as_deref())?.join(sub), loader))
    };
    let (dir, default_loader) = match a.suite.as_str() {
        "nab" => known("nab", Loader::Nab)?,
        "smap_msl" => known("smap_msl", Loader::SmapMsl)?,
        "adbench" => known("adbench/classical", Loader::Adbench)?,
        other => {
            let dir = PathBuf::from(other);
            if !dir.is_dir() {
                bail!(
                    "unknown suite `{other}`: give nab, smap_msl, adbench, or a folder with --loader"
                );
            }
            let loader = a
                .loader
                .as_deref()
                .context("a suite folder needs --loader (nab, smap_msl, adbench, tsb_ad, ucr, csv:<label column>)")?;
            (dir, Loader::parse(loader)?)
        }
    };
    let loader = match a.loader.as_deref() {
        Some(l) => Loader::parse(l)?,
        None => default_loader,
    };
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|_| !matches!(a.suite.as_str(), "nab" | "smap_msl" | "adbench"))
        .unwrap_or_else(|| a.suite.clone());
    Ok((name, dir, loader))
}

fn protocol(a: &BenchArgs, loader: &Loader) -> Result<Protocol> {
    let mut p = if loader.is_series() {
        Protocol::default()
    } else {
        Protocol::for_vectors()
    };
    match a.normalize.as_deref() {
        None => {}
        Some("zscore") => p.normalization = Normalization::Zscore,
        Some("none") => p.normalization = Normalization::None,
        Some(other) => bail!("--normalize `{other}`: use zscore or none"),
    }
    match a.training.as_deref() {
        None => {}
        Some("auto") => p.training = Training::Auto,
        Some("all") => p.training = Training::All,
        Some(other) => bail!("--training `{other}`: use auto or all"),
    }
    p.vus_window = match a.vus_window.as_str() {
        "auto" => VusWindow::Auto,
        n => VusWindow::Fixed(
            n.parse()
                .ok()
                .filter(|&w| w >= 1)
                .with_context(|| format!("--vus-window `{n}`: use auto or a positive number"))?,
        ),
    };
    if let Some(seeds) = &a.seeds {
        p.seeds = seeds.clone();
    }
    if let Some(m) = &a.metrics {
        let names: Vec<&str> = m.iter().map(|s| s.trim()).collect();
        anomex_metrics::named::check_names(&names)?;
        p.metrics = names.iter().map(|s| s.to_string()).collect();
    }
    p.split = match a.split.split_once(':') {
        None if a.split == "all" => Split::All,
        Some((kind, share)) => {
            let share: f64 = share
                .parse()
                .ok()
                .filter(|s| (0.0..=1.0).contains(s))
                .with_context(|| format!("--split `{}`: the share is between 0 and 1", a.split))?;
            match kind {
                "tuning" => Split::Tuning { share },
                "evaluation" => Split::Evaluation { share },
                _ => bail!(
                    "--split `{}`: use all, tuning:SHARE or evaluation:SHARE",
                    a.split
                ),
            }
        }
        None => bail!(
            "--split `{}`: use all, tuning:SHARE or evaluation:SHARE",
            a.split
        ),
    };
    Ok(p)
}

/// The methods: the named detectors (or the suite's defaults), then every folder of
/// `--peer-scores` as a peer.
fn methods(a: &BenchArgs, loader: &Loader) -> Result<Vec<Method>> {
    let registry = anomex::registry();
    let mut out: Vec<Method> = if a.detector.is_empty() {
        let mut defaults = Vec::new();
        let (names, learned) = if loader.is_series() {
            // the univariate default first, as `anomex detect` runs it
            let (name, params) = anomex::default_detector(anomex::DataShape::Univariate);
            defaults.push(Method::Detector {
                name: name.to_string(),
                params: params.iter().map(|p| p.to_string()).collect(),
            });
            (SERIES_DETECTORS, LEARNED_SERIES_DETECTORS)
        } else {
            (VECTOR_DETECTORS, LEARNED_VECTOR_DETECTORS)
        };
        defaults.extend(names.iter().map(|n| Method::parse_detector(n)));
        if a.learned {
            defaults.extend(learned.iter().map(|n| Method::parse_detector(n)));
        }
        defaults
    } else {
        a.detector
            .iter()
            .map(|d| Method::parse_detector(d))
            .collect()
    };
    for m in &out {
        if let Method::Detector { name, params } = m {
            // fails early with the registry's message (unknown name or parameter)
            registry.get(name)?.create(params)?;
        }
    }
    if let Some(dir) = &a.peer_scores {
        let mut labels: Vec<String> = std::fs::read_dir(dir)
            .with_context(|| format!("reading peer scores in {}", dir.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        labels.sort();
        out.extend(labels.into_iter().map(|label| Method::Peer {
            label,
            dir: dir.clone(),
        }));
    }
    Ok(out)
}

/// The thresholds of `--corpus-thresholds`: a JSON object of method → threshold, as an earlier
/// run wrote it.
fn corpus_thresholds(a: &BenchArgs, protocol: &Protocol) -> Result<Option<BTreeMap<String, f64>>> {
    let Some(path) = &a.corpus_thresholds else {
        return Ok(None);
    };
    if !protocol.metrics.iter().any(|m| m.starts_with("NAB")) {
        bail!("--corpus-thresholds: the NAB corpus score needs a NAB metric in --metrics");
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--corpus-thresholds: reading {}", path.display()))?;
    let thresholds = serde_json::from_str(&text).with_context(|| {
        format!(
            "--corpus-thresholds: {} is not a JSON object of method → threshold (as \
             corpus_thresholds.json)",
            path.display()
        )
    })?;
    Ok(Some(thresholds))
}

pub fn bench(a: BenchArgs) -> Result<()> {
    let (suite_name, dir, loader) = suite_location(&a)?;
    let protocol = protocol(&a, &loader)?;
    let fixed_thresholds = corpus_thresholds(&a, &protocol)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("bench-results").join(&suite_name));
    let scores_dir = out.join("scores");
    std::fs::create_dir_all(&scores_dir)
        .with_context(|| format!("creating {}", scores_dir.display()))?;
    let mut items: Vec<_> = suite::list(&loader, &dir, &out.join("data-cache"))?
        .into_iter()
        .filter(|i| protocol.split.contains(&i.name))
        .collect();
    if let Some(n) = a.limit {
        items.truncate(n);
    }
    if items.is_empty() {
        bail!(
            "no data set of {} is in the split {:?}",
            dir.display(),
            protocol.split
        );
    }
    let methods = methods(&a, &loader)?;
    let registry = anomex::registry();
    let mut jobs = Vec::new();
    for item in &items {
        for method in &methods {
            let seeded = match method {
                Method::Detector { name, params } => {
                    registry.get(name)?.params.iter().any(|p| p.name == "seed")
                        && !params.iter().any(|p| p.starts_with("seed="))
                }
                Method::Peer { .. } => false,
            };
            let seeds: Vec<Option<u64>> = if seeded {
                protocol.seeds.iter().map(|&s| Some(s)).collect()
            } else {
                vec![None]
            };
            for seed in seeds {
                jobs.push(Job {
                    suite: suite_name.clone(),
                    item: item.clone(),
                    method: method.clone(),
                    seed,
                    protocol: protocol.clone(),
                    scores_dir: Some(scores_dir.clone()),
                });
            }
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parallel = a.jobs.unwrap_or(cores).max(1);
    let limits = Limits {
        parallel,
        threads_per_job: (cores / parallel).max(1),
        timeout: Duration::from_secs(a.timeout),
        memory_mib: a.memory_mib,
    };
    let worker = Worker::Process {
        program: std::env::current_exe().context("finding the anomex binary")?,
        args: vec!["bench-worker".into()],
    };
    let bar = ProgressBar::new(jobs.len() as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise} eta {eta} {msg}")
    {
        bar.set_style(style);
    }
    let mut results = Results::open(&out.join("results.jsonl"))?;
    let started = std::time::Instant::now();
    let (mut cached, mut failed) = (0usize, 0usize);
    let outcomes = runner::run_all(
        &jobs,
        &worker,
        &limits,
        &mut results,
        a.retry_failed,
        |o, was_cached| {
            cached += usize::from(was_cached);
            if o.status != job::Status::Ok {
                failed += 1;
                bar.println(format!(
                    "{} on {}: {:?}: {}",
                    o.method,
                    o.dataset,
                    o.status,
                    o.message.as_deref().unwrap_or("")
                ));
            }
            bar.set_message(format!("{} on {}", o.method, o.dataset));
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    let mut board = leaderboard::build(&suite_name, &protocol.metrics, &outcomes);
    if loader.is_series() && protocol.metrics.iter().any(|m| m.starts_with("NAB")) {
        (board.corpus_nab, board.corpus_thresholds) =
            leaderboard::nab_corpus(&jobs, &scores_dir, fixed_thresholds.as_ref())?;
        board.corpus_held_out = fixed_thresholds.is_some();
    }
    let command = std::env::args()
        .map(|s| if s.contains(' ') { format!("'{s}'") } else { s })
        .collect::<Vec<_>>()
        .join(" ");
    board.write(&out, &protocol, &command, &jobs, a.plots)?;
    outln!(
        "{} jobs ({} from the cache, {} failed) on {} data sets in {:.1} s; protocol {}",
        jobs.len(),
        cached,
        failed,
        items.len(),
        started.elapsed().as_secs_f64(),
        protocol.id()
    );
    let top = board.markdown(&protocol, &command);
    for line in top.lines().filter(|l| l.starts_with('|')).take(12) {
        outln!("{line}");
    }
    outln!(
        "leaderboard: {0}/leaderboard.md, .csv, .html; per data set: {0}/per_dataset.csv",
        out.display()
    );
    Ok(())
}

/// Runs one job read as JSON from stdin and prints its outcome as JSON.
pub fn worker() -> Result<()> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading the job")?;
    let job: Job = serde_json::from_str(&input).context("the job is not valid JSON")?;
    let outcome = Outcome {
        peak_mib: runner::own_peak_mib(),
        ..job::run(&job)
    };
    outln!("{}", serde_json::to_string(&outcome)?);
    Ok(())
}
