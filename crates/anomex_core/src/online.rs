//! Online learners (Half-Space Trees, Robust Random Cut Forest) as registry detectors.
//!
//! An online learner scores each point and then learns from it, so its whole state is the model:
//!
//! * `fit` builds the model from the parameters and the training frame (for ranges, say) and
//!   feeds it every training row;
//! * `score` runs a copy of the fitted model over the rows, so the fitted model never changes and
//!   the batch score of a row *is* its streaming score;
//! * `streaming` hands out a copy of the fitted model, whose snapshot is the model's serde form.
//!
//! Rows inside the warm-up (before the learner has a reference to score against) score 0 in batch
//! and `None` when streaming, as for the rolling detectors.

use crate::model_file::{state_from, state_to, Stored};
use crate::{
    About, DataKind, Detector, Entry, Error, FittedDetector, Frame, Learning, ParamSet, Params,
    Result, Scorer, Scores, Streaming,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// A model that scores a point and then learns from it.
pub trait OnlineModel:
    Serialize + DeserializeOwned + Debug + Clone + Send + Sync + 'static
{
    /// The model's parameters ([`crate::params!`]).
    type Params: ParamSet;
    /// Registry name, Python class name, one-line summary.
    const ABOUT: About;
    /// What the model reads: a series of readings unless it says otherwise (event codes).
    const DATA: DataKind = DataKind::Series;
    /// A model for the columns of `train`, before it has seen any row.
    fn new(params: &Self::Params, train: &Frame) -> Result<Self>;
    /// Number of values per point.
    fn n_columns(&self) -> usize;
    /// Scores `point` against what was learned so far (`None` while warming up), then learns it.
    /// The point has `n_columns` finite values.
    fn update(&mut self, point: &[f64]) -> Option<f64>;
    /// Called once every training row has been learned, before the model scores or streams
    /// (a model that learns only in training freezes here).
    fn fitted(&mut self) {}
    /// Checks a model read from outside (a model file, a snapshot): every size consistent,
    /// every index in range, every value usable. A model file is untrusted input whatever its
    /// checksum, and a model that passes must never panic or hang in [`OnlineModel::update`].
    fn check(&self) -> Result<()>;
}

/// A model state that breaks an invariant: an error naming the detector and what is wrong.
pub fn invalid_state(detector: &str, what: impl std::fmt::Display) -> Error {
    Error::ModelFile(format!("invalid {detector} state: {what}"))
}

/// A registry entry for an online learner.
pub fn entry<M: OnlineModel>() -> Entry {
    Entry {
        name: M::ABOUT.name,
        class: M::ABOUT.class,
        summary: M::ABOUT.summary,
        learning: Learning::Unsupervised,
        data: M::DATA,
        causal: true,
        explains: false,
        params: M::Params::specs(),
        build: build::<M>,
        load: load::<M>,
    }
}

fn build<M: OnlineModel>(params: &Params) -> Result<Box<dyn Detector>> {
    Ok(Box::new(Online::<M> {
        typed: M::Params::from_params(params)?,
        params: params.clone(),
    }))
}

fn load<M: OnlineModel>(params: &Params, stored: Stored<'_>) -> Result<Box<dyn FittedDetector>> {
    M::Params::from_params(params)?;
    let model: M = state_from(stored.plain(M::ABOUT.name)?)?;
    model.check()?;
    Ok(Box::new(FittedOnline::<M> {
        params: params.clone(),
        model,
    }))
}

/// The unfitted detector: its parameters.
#[derive(Debug, Clone)]
pub struct Online<M: OnlineModel> {
    typed: M::Params,
    params: Params,
}

impl<M: OnlineModel> Detector for Online<M> {
    fn fit(&self, train: &Frame) -> Result<Box<dyn FittedDetector>> {
        if M::DATA == DataKind::Events {
            check_codes(train, M::ABOUT.name)?;
        }
        let mut model = M::new(&self.typed, train)?;
        let mut point = vec![0.0; train.cols()];
        for i in 0..train.rows() {
            point
                .iter_mut()
                .zip(train.row(i))
                .for_each(|(p, v)| *p = *v);
            model.update(&point);
        }
        model.fitted();
        Ok(Box::new(FittedOnline {
            params: self.params.clone(),
            model,
        }))
    }
}

#[derive(Debug, Clone)]
struct FittedOnline<M> {
    params: Params,
    model: M,
}

impl<M: OnlineModel> Scorer for FittedOnline<M> {
    fn score(&self, data: &Frame) -> Result<Scores> {
        data.expect_cols(self.model.n_columns())?;
        if M::DATA == DataKind::Events {
            check_codes(data, M::ABOUT.name)?;
        }
        let mut model = self.model.clone();
        let mut point = vec![0.0; data.cols()];
        let scores: Vec<f64> = (0..data.rows())
            .map(|i| {
                point.iter_mut().zip(data.row(i)).for_each(|(p, v)| *p = *v);
                model.update(&point).unwrap_or(0.0)
            })
            .collect();
        crate::ensure_finite(&scores, M::ABOUT.name)?;
        Ok(Scores::single(scores))
    }
}

impl<M: OnlineModel> FittedDetector for FittedOnline<M> {
    fn name(&self) -> &str {
        M::ABOUT.name
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn state(&self) -> Result<serde_json::Value> {
        state_to(&self.model)
    }
    fn n_columns(&self) -> usize {
        self.model.n_columns()
    }
    fn streaming(&self) -> Option<Box<dyn Streaming>> {
        Some(Box::new(OnlineStream(self.model.clone())))
    }
}

struct OnlineStream<M>(M);

impl<M: OnlineModel> Streaming for OnlineStream<M> {
    fn update(&mut self, point: &[f64]) -> Result<Option<f64>> {
        check_point(point, self.0.n_columns())?;
        if M::DATA == DataKind::Events {
            if let Some(&v) = point.iter().find(|v| !is_code(**v)) {
                return Err(not_a_code(M::ABOUT.name, "this point", v));
            }
        }
        Ok(self.0.update(point))
    }

    fn snapshot(&self) -> Result<serde_json::Value> {
        state_to(&self.0)
    }

    fn restore(&mut self, snapshot: serde_json::Value) -> Result<()> {
        let theirs: M = state_from(snapshot)?;
        theirs.check()?;
        if theirs.n_columns() != self.0.n_columns() {
            return Err(Error::ModelFile(format!(
                "a {} snapshot of {} columns for a model of {}",
                M::ABOUT.name,
                theirs.n_columns(),
                self.0.n_columns()
            )));
        }
        self.0 = theirs;
        Ok(())
    }
}

/// Checks one streamed point: the model's number of values, all finite.
pub fn check_point(point: &[f64], columns: usize) -> Result<()> {
    if point.len() != columns {
        return Err(Error::input(format!(
            "a point with {} values for a model of {columns} columns",
            point.len()
        )));
    }
    match point.iter().position(|v| !v.is_finite()) {
        Some(j) => Err(Error::input(format!(
            "non-finite value {} in column {j}",
            point[j]
        ))),
        None => Ok(()),
    }
}

/// Whether `v` is an event code: a non-negative integer that fits a `u32`.
pub fn is_code(v: f64) -> bool {
    v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX)
}

/// Checks that every value of `data` is an event code ([`is_code`]): a series of readings
/// given to an event detector is a mistake worth naming, with the row.
pub fn check_codes(data: &Frame, detector: &str) -> Result<()> {
    match data.values().indexed_iter().find(|(_, v)| !is_code(**v)) {
        None => Ok(()),
        Some(((row, _), v)) => Err(not_a_code(detector, &format!("row {row}"), *v)),
    }
}

/// The error for a value that is not an event code, at `place` (`row 3`, `this point`).
pub fn not_a_code(detector: &str, place: &str, v: f64) -> Error {
    Error::input(format!(
        "{detector} reads event codes (log template ids, non-negative integers); {place} \
         holds {v}"
    ))
}

/// Checks a saved [`unit_scaling`]: as many minima as spans, at least one, all finite, every
/// span positive.
pub fn check_scaling(low: &[f64], span: &[f64]) -> std::result::Result<(), String> {
    if low.is_empty() || low.len() != span.len() {
        return Err(format!("{} minima and {} spans", low.len(), span.len()));
    }
    if low.iter().any(|v| !v.is_finite()) || span.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err("a column's minimum or span is not a finite number (spans positive)".into());
    }
    Ok(())
}

/// Per column, the minimum and span of the training data (span 1 for a constant column): the
/// scaling into the unit cube that tree-based stream detectors draw their cuts in.
pub fn unit_scaling(train: &Frame) -> Result<(Vec<f64>, Vec<f64>)> {
    if train.rows() == 0 {
        return Err(Error::input("the training data has no rows"));
    }
    Ok((0..train.cols())
        .map(|j| {
            let (low, high) = train
                .column(j)
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            (low, if high > low { high - low } else { 1.0 })
        })
        .unzip())
}
