//! The detector contract: [`Detector`] → fitted [`FittedDetector`] ([`Scorer`], optionally
//! [`Streaming`] and [`Explain`]).
//!
//! The sketch in the design notes used an associated `Fitted` type; anomex selects detectors by
//! name at run time (CLI, service, Python, model files), so the contract is object-safe and a
//! fitted model is a `Box<dyn FittedDetector>`. Static typing is kept inside each detector module.

use crate::{Frame, Params, Result};
use std::fmt::Debug;

/// Scores for every row: `combined` has one value per input row (higher = more anomalous);
/// `per_channel`, where the detector scores channels separately, has one vector per column.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub combined: Vec<f64>,
    pub per_channel: Option<Vec<Vec<f64>>>,
}

impl Scores {
    pub fn single(combined: Vec<f64>) -> Self {
        Scores {
            combined,
            per_channel: None,
        }
    }
}

/// Checks the contract's promise that every score is finite, naming the detector and the row.
pub fn ensure_finite(scores: &[f64], detector: &str) -> Result<()> {
    match scores.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(crate::Error::Numerical(format!(
            "{detector} produced a non-finite score at row {i}"
        ))),
        None => Ok(()),
    }
}

/// Hyper-parameters of a detector: cheap to build; [`Detector::fit`] checks the data.
pub trait Detector: Send + Sync + Debug {
    /// Learns from `train` (normal data for semi-supervised detectors, any data otherwise).
    fn fit(&self, train: &Frame) -> Result<Box<dyn FittedDetector>>;

    /// Learns from `train` and returns the training rows' own scores with the model (PyOD's
    /// `decision_scores_`). Where the method scores its training rows differently from new rows
    /// (a row is not its own nearest neighbour), these are the training form; [`Scorer::score`]
    /// always scores its input as new rows, whatever it holds. By default: fit, then score
    /// `train`.
    fn fit_scored(&self, train: &Frame) -> Result<Fit> {
        let model = self.fit(train)?;
        let train_scores = model.score(train)?;
        Ok(Fit {
            model,
            train_scores,
        })
    }
}

/// A fitted model with the scores of the rows it was fitted on ([`Detector::fit_scored`]).
#[derive(Debug)]
pub struct Fit {
    pub model: Box<dyn FittedDetector>,
    /// One score per training row, as the method scores its training data.
    pub train_scores: Scores,
}

/// A fitted model scores any frame with the same columns.
pub trait Scorer: Send + Sync {
    /// One score per row of `data`; higher = more anomalous; every score finite.
    fn score(&self, data: &Frame) -> Result<Scores>;
}

/// Causal per-point scoring: the score of point `t` depends on points `≤ t` only, and equals the
/// batch score of the same point when the whole series is scored at once.
///
/// The state is plain data: [`Streaming::snapshot`] and [`Streaming::restore`] let a service
/// persist it and resume after a restart with exactly the scores it would have produced.
pub trait Streaming: Send {
    /// Feeds one row (one value per column); `None` while the state is warming up.
    fn update(&mut self, point: &[f64]) -> Result<Option<f64>>;
    /// The current state as JSON (floats round-trip exactly).
    fn snapshot(&self) -> Result<serde_json::Value>;
    /// Replaces the state by a [`Streaming::snapshot`] taken from a stream of the same model.
    fn restore(&mut self, snapshot: serde_json::Value) -> Result<()>;
    /// Per-column attribution of the last scored point (non-negative, larger = more
    /// responsible), where the detector can say why; `None` otherwise.
    fn attribution(&self) -> Option<Vec<f64>> {
        None
    }
}

/// Per-column attribution of a row's score (non-negative, larger = more responsible).
pub trait Explain {
    fn attribution(&self, data: &Frame, row: usize) -> Result<Vec<f64>>;
    /// Attributions of several rows; detectors whose scores depend on the whole series override
    /// this to score once.
    fn attributions(&self, data: &Frame, rows: &[usize]) -> Result<Vec<Vec<f64>>> {
        rows.iter().map(|&r| self.attribution(data, r)).collect()
    }
    /// Attributions of rows of the training frame itself, matching the training scores of
    /// [`Detector::fit_scored`] (leave-one-out where the method is); by default as new rows.
    fn training_attributions(&self, train: &Frame, rows: &[usize]) -> Result<Vec<Vec<f64>>> {
        self.attributions(train, rows)
    }
}

/// A fitted detector as the registry, the model file, the CLI and the service see it.
pub trait FittedDetector: Scorer + Debug {
    /// Registry name of the detector that produced this model.
    fn name(&self) -> &str;
    /// The resolved parameters it was built with.
    fn params(&self) -> &Params;
    /// Learned state, serialised for the model file (plain data, never code).
    fn state(&self) -> Result<serde_json::Value>;
    /// A learned model's weights as safetensors bytes, for the model file's weights section;
    /// `None` for detectors whose whole state is [`FittedDetector::state`].
    fn weights(&self) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
    /// Number of columns the model expects.
    fn n_columns(&self) -> usize;
    /// Per-column attribution, where the detector can say why.
    fn explain(&self) -> Option<&dyn Explain> {
        None
    }
    /// A fresh causal streaming state, for detectors that are causal.
    fn streaming(&self) -> Option<Box<dyn Streaming>> {
        None
    }
}

/// How a detector learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learning {
    /// Fit and score on the same unlabelled data.
    Unsupervised,
    /// Fit on a normal prefix (`--train-rows`), score the rest.
    SemiSupervised,
}

impl Learning {
    pub fn as_str(self) -> &'static str {
        match self {
            Learning::Unsupervised => "unsupervised",
            Learning::SemiSupervised => "semi-supervised",
        }
    }
}

/// A thresholding policy: learns from training scores, then turns scores into labels.
///
/// Policies are kept apart from detectors (PyOD's contract): the same scores can be labelled by
/// a contamination rate, a tail model or a streaming threshold. `update` is the streaming form;
/// adaptive policies (DSPOT) change their threshold as scores arrive.
pub trait Threshold: Send + Debug {
    /// Learns from scores of (mostly) normal data.
    fn fit(&mut self, train_scores: &[f64]) -> Result<()>;
    /// Labels one score; returns the threshold in force for it and whether it is anomalous.
    fn update(&mut self, score: f64) -> Result<(f64, bool)>;
    /// The policy with its fitted state, as JSON (floats round-trip exactly).
    fn snapshot(&self) -> Result<serde_json::Value>;
    /// Replaces the policy by a [`Threshold::snapshot`] of the same kind of policy.
    fn restore(&mut self, snapshot: serde_json::Value) -> Result<()>;
    /// Labels a batch of scores, in order.
    fn decide(&mut self, scores: &[f64]) -> Result<Decision> {
        let mut out = Decision {
            thresholds: Vec::with_capacity(scores.len()),
            labels: Vec::with_capacity(scores.len()),
        };
        for &s in scores {
            let (t, l) = self.update(s)?;
            out.thresholds.push(t);
            out.labels.push(l);
        }
        Ok(out)
    }
}

/// Per-point thresholds and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub thresholds: Vec<f64>,
    pub labels: Vec<bool>,
}
