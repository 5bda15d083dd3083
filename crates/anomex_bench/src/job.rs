//! One benchmark job: one method on one data set under one protocol, and its outcome.

use crate::protocol::{Normalization, Protocol, Training, VusWindow};
use anomex_core::{Error, Frame, Learning, Result};
use anomex_data::suite::{self, Item, Labelled};
use anomex_metrics::named::{score_metrics, Options};
use anomex_metrics::Compat;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What produces the scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// A registered anomex detector with `key=value` parameters.
    Detector { name: String, params: Vec<String> },
    /// Scores computed elsewhere (e.g. TSB-AD's reference implementations), one `.npy` per data
    /// set under `dir/<label>/`, evaluated here like anomex's own.
    Peer { label: String, dir: PathBuf },
}

impl Method {
    /// Parses `name` or `name:key=value,key=value`.
    pub fn parse_detector(text: &str) -> Self {
        let (name, params) = match text.split_once(':') {
            Some((n, p)) => (
                n,
                p.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            None => (text, Vec::new()),
        };
        Method::Detector {
            name: name.trim().to_string(),
            params,
        }
    }

    /// How the method is named in the leaderboard.
    pub fn label(&self) -> String {
        match self {
            Method::Detector { name, params } if params.is_empty() => name.clone(),
            Method::Detector { name, params } => format!("{name}({})", params.join(",")),
            Method::Peer { label, .. } => label.clone(),
        }
    }
}

/// A data set name as a file name (`SMAP/P-1` → `SMAP__P-1`).
pub fn file_name(dataset: &str) -> String {
    dataset.replace(['/', '\\'], "__")
}

/// The detector registry, built once: keys are computed for every job, several times a run.
fn registry() -> &'static anomex::Registry {
    static REGISTRY: std::sync::OnceLock<anomex::Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(anomex::registry)
}

/// One method on one data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub suite: String,
    pub item: Item,
    pub method: Method,
    /// The seed of a randomised detector (`None`: the method has no seed).
    pub seed: Option<u64>,
    pub protocol: Protocol,
    /// Where to keep the scores (`<key>.npy`), for the report's plots.
    pub scores_dir: Option<PathBuf>,
}

impl Job {
    /// A stable identifier of what the job computes: suite, data set, method with its resolved
    /// parameters (defaults included, so a changed default is a new job), seed, protocol.
    pub fn key(&self) -> String {
        let resolved = match &self.method {
            Method::Detector { name, params } => registry()
                .get(name)
                .and_then(|e| anomex_core::Params::resolve(&e.params, params))
                .ok()
                .map(|p| serde_json::to_value(p).unwrap_or_default()),
            Method::Peer { .. } => None,
        };
        let what = serde_json::json!([
            self.suite,
            self.item.name,
            self.method,
            resolved,
            self.seed,
            self.protocol.job_id()
        ]);
        format!("{:016x}", crate::stable_hash(what.to_string().as_bytes()))
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Failed,
    Timeout,
    OutOfMemory,
}

/// The result of a job, one line of the results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub key: String,
    pub suite: String,
    pub dataset: String,
    pub method: String,
    pub seed: Option<u64>,
    pub protocol: String,
    pub status: Status,
    /// Why it failed.
    pub message: Option<String>,
    /// Metric → value; `None` where the metric is undefined on this data set (e.g. VUS without
    /// an anomaly in the evaluated rows).
    pub metrics: BTreeMap<String, Option<f64>>,
    pub fit_seconds: f64,
    pub score_seconds: f64,
    pub rows: usize,
    pub vus_window: usize,
    /// The worker process's peak resident memory, in MiB (absent for jobs run in process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_mib: Option<u64>,
}

impl Outcome {
    /// A job that ended without scores.
    pub fn failed(job: &Job, status: Status, message: String) -> Self {
        Outcome {
            key: job.key(),
            suite: job.suite.clone(),
            dataset: job.item.name.clone(),
            method: job.method.label(),
            seed: job.seed,
            protocol: job.protocol.job_id(),
            status,
            message: Some(message),
            metrics: BTreeMap::new(),
            fit_seconds: 0.0,
            score_seconds: 0.0,
            rows: 0,
            vus_window: 0,
            peak_mib: None,
        }
    }
}

/// Runs the job in this process; every error becomes a failed outcome.
pub fn run(job: &Job) -> Outcome {
    match try_run(job) {
        Ok(o) => o,
        Err(e) => Outcome::failed(job, Status::Failed, e.to_string()),
    }
}

/// Per channel `(mean, standard deviation)` of `rows`, a zero deviation replaced by one.
fn channel_stats(x: ndarray::ArrayView2<'_, f64>) -> Vec<(f64, f64)> {
    x.columns()
        .into_iter()
        .map(|c| {
            let n = c.len() as f64;
            let mean = c.sum() / n;
            let sd = (c.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            (mean, if sd > 0.0 { sd } else { 1.0 })
        })
        .collect()
}

fn normalized(
    frame: &Frame<'static>,
    train_rows: usize,
    how: Normalization,
) -> Result<Frame<'static>> {
    match how {
        Normalization::None => Ok(frame.clone()),
        Normalization::Zscore => {
            let stats = channel_stats(frame.slice_rows(0, train_rows)?.values());
            let values = Array2::from_shape_fn((frame.rows(), frame.cols()), |(i, j)| {
                (frame.values()[[i, j]] - stats[j].0) / stats[j].1
            });
            Frame::new(values, frame.column_names().to_vec())
        }
    }
}

/// The detector's scores and the seconds spent fitting and scoring.
fn detector_scores(
    job: &Job,
    name: &str,
    params: &[String],
    data: &Labelled,
) -> Result<(Vec<f64>, f64, f64)> {
    let entry = registry().get(name)?;
    let mut params = params.to_vec();
    if let Some(seed) = job.seed {
        params.push(format!("seed={seed}"));
    }
    let detector = entry.create(&params)?;
    let train_rows = match (job.protocol.training, entry.learning, data.train_end) {
        (Training::Auto, Learning::SemiSupervised, Some(end)) => end,
        _ => data.frame.rows(),
    };
    let frame = normalized(&data.frame, train_rows, job.protocol.normalization)?;
    if train_rows == frame.rows() {
        // fitted on every row: the training rows' own scores (leave-one-out where the
        // detector is), as PyOD's `decision_scores_` and TSB-AD's protocol take them
        let start = Instant::now();
        let fit = detector.fit_scored(&frame)?;
        return Ok((
            fit.train_scores.combined,
            start.elapsed().as_secs_f64(),
            0.0,
        ));
    }
    let train = frame.slice_rows(0, train_rows)?;
    let start = Instant::now();
    let fitted = detector.fit(&train)?;
    let fit_seconds = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let scores = fitted.score(&frame)?.combined;
    Ok((scores, fit_seconds, start.elapsed().as_secs_f64()))
}

/// Scores from `dir/<label>/<data set>.npy`: one per row, or one per evaluated row.
fn peer_scores(label: &str, dir: &Path, data: &Labelled) -> Result<Vec<f64>> {
    let path = dir
        .join(label)
        .join(format!("{}.npy", file_name(&data.name)));
    if !path.is_file() {
        return Err(Error::input(format!(
            "no peer scores at {}",
            path.display()
        )));
    }
    let d = anomex_data::npy::read_npy(&path, &anomex_data::Selection::default())?;
    if d.frame.cols() != 1 {
        return Err(Error::input(format!(
            "{}: scores must be one column",
            path.display()
        )));
    }
    let s = d.frame.column_vec(0);
    let rows = data.frame.rows();
    if s.len() == rows {
        Ok(s)
    } else if s.len() == rows - data.eval_start {
        // scores of the evaluated rows only: the rows before them never count
        Ok(std::iter::repeat_n(0.0, data.eval_start).chain(s).collect())
    } else {
        Err(Error::input(format!(
            "{}: {} scores for a data set of {rows} rows ({} evaluated)",
            path.display(),
            s.len(),
            rows - data.eval_start
        )))
    }
}

fn try_run(job: &Job) -> Result<Outcome> {
    let data = suite::load(&job.item)?;
    let (scores, fit_seconds, score_seconds) = match &job.method {
        Method::Detector { name, params } => detector_scores(job, name, params, &data)?,
        Method::Peer { label, dir } => (peer_scores(label, dir, &data)?, 0.0, 0.0),
    };
    if scores.len() != data.frame.rows() {
        return Err(Error::input(format!(
            "{} scores for {} rows",
            scores.len(),
            data.frame.rows()
        )));
    }
    anomex_core::ensure_finite(&scores, &job.method.label())?;
    let vus_window = match job.protocol.vus_window {
        VusWindow::Fixed(w) => w,
        VusWindow::Auto => anomex_series::period::find_length(&data.frame.column_vec(0)),
    };
    let (labels, eval) = (&data.labels[data.eval_start..], &scores[data.eval_start..]);
    let options = Options {
        window: vus_window,
        buffer: job.protocol.pate_buffer,
        compat: Compat::Correct,
    };
    let metrics = job
        .protocol
        .metrics
        .iter()
        .map(|m| {
            let value = score_metrics(&[m.as_str()], labels, eval, options)
                .ok()
                .and_then(|v| v.first().copied())
                .filter(|v| v.is_finite());
            (m.clone(), value)
        })
        .collect();
    let key = job.key();
    if let Some(dir) = &job.scores_dir {
        let path = dir.join(format!("{key}.npy"));
        let file = std::fs::File::create(&path)
            .map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
        ndarray_npy::WriteNpyExt::write_npy(&ndarray::Array1::from(scores), file)
            .map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
    }
    Ok(Outcome {
        key,
        suite: job.suite.clone(),
        dataset: data.name,
        method: job.method.label(),
        seed: job.seed,
        protocol: job.protocol.job_id(),
        status: Status::Ok,
        message: None,
        metrics,
        fit_seconds,
        score_seconds,
        rows: data.frame.rows(),
        vus_window,
        peak_mib: None,
    })
}
