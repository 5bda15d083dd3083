//! Running a univariate kernel on every channel of a frame and combining the channels.
//!
//! Most time-series detectors are defined on one series. [`Channelwise`] runs such a
//! [`SeriesKernel`] on each column, keeps the per-channel scores (for reports and for
//! [`Explain`]), and combines them into one score per row:
//!
//! * one column: the combined score is the channel's own score, unchanged;
//! * several columns: each channel's score is standardised by the median and MAD (×1.4826) of its
//!   scores on the training data, so that channels with different scales are comparable, and the
//!   standardised scores are combined by `mean` (default) or `max`. The attribution of a row is
//!   the vector of standardised channel scores, floored at zero.

use crate::model_file::{state_from, state_to, Stored};
use crate::{
    About, Detector, Entry, Error, Explain, FittedDetector, Frame, Learning, ParamSet, Params,
    Result, Scorer, Scores, Streaming,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// A univariate detector kernel: one module declares it whole (names, parameters, learning,
/// whether it streams), and [`entry`] makes it a registry entry.
pub trait SeriesKernel: Debug + Clone + Send + Sync + Sized + 'static {
    /// The kernel's parameters ([`crate::params!`]); `combine` is added for multivariate input.
    type Params: ParamSet;
    /// What the kernel learns from one training channel.
    type State: Serialize + DeserializeOwned + Debug + Clone + Send + Sync + 'static;
    /// Registry name, Python class name, one-line summary.
    const ABOUT: About;
    /// Whether the detector fits on a normal prefix or on the data it scores.
    const LEARNING: Learning = Learning::Unsupervised;
    /// For causal kernels, a per-point scorer whose outputs equal [`SeriesKernel::score`]: the
    /// capability is this one declaration (`Some(Self::stream)`).
    const STREAM: Option<StreamFn<Self>> = None;
    /// Builds the kernel from checked parameters.
    fn new(params: &Self::Params) -> Result<Self>;
    /// Learns from one training channel.
    fn fit(&self, train: &[f64]) -> Result<Self::State>;
    /// Scores one channel: one finite score per point, higher = more anomalous.
    fn score(&self, state: &Self::State, x: &[f64]) -> Result<Vec<f64>>;
    /// Checks a state read from a model file: every length in the range its parameter
    /// accepts, sizes consistent, values finite. A model file is untrusted input whatever its
    /// checksum; a state that passes must never panic, hang or ask for more memory than its
    /// parameters' bounds allow.
    fn check(&self, state: &Self::State) -> Result<()>;
}

/// Checks one saved number against the range its parameter accepts (`detector` and `name`
/// for the message).
pub fn check_range<T: PartialOrd + std::fmt::Display>(
    detector: &str,
    name: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<()> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(Error::ModelFile(format!(
            "invalid {detector} state: {name} = {value}, outside {}..={}",
            range.start(),
            range.end()
        )))
    }
}

/// A causal kernel's stream constructor ([`SeriesKernel::STREAM`]).
pub type StreamFn<K> = fn(&K, &<K as SeriesKernel>::State) -> Box<dyn ChannelStream>;

/// Causal scoring of one channel, with its state as plain data (see [`Streaming`]).
pub trait ChannelStream: Send {
    /// Feeds one value; `None` while warming up.
    fn update(&mut self, x: f64) -> Option<f64>;
    /// The current state as JSON.
    fn snapshot(&self) -> Result<serde_json::Value>;
    /// Replaces the state by a snapshot of a stream of the same kernel and parameters.
    fn restore(&mut self, snapshot: serde_json::Value) -> Result<()>;
}

crate::choice! {
    /// How standardised channel scores are combined on multivariate input.
    pub enum Combine { Mean = "mean", Max = "max" }
}

crate::params! {
    /// The parameter every channelwise detector adds to its kernel's.
    pub struct ChannelOptions {
        /// how standardised channel scores are combined on multivariate input
        pub combine: Combine = Combine::Mean;
    }
}

/// A channelwise detector's parameters: the kernel's and [`ChannelOptions`].
type AllParams<K> = (<K as SeriesKernel>::Params, ChannelOptions);

/// A registry entry for a channelwise kernel.
pub fn entry<K: SeriesKernel>() -> Entry {
    Entry {
        name: K::ABOUT.name,
        class: K::ABOUT.class,
        summary: K::ABOUT.summary,
        learning: K::LEARNING,
        data: crate::DataKind::Series,
        causal: K::STREAM.is_some(),
        explains: true,
        params: AllParams::<K>::specs(),
        build: build::<K>,
        load: load::<K>,
    }
}

fn build<K: SeriesKernel>(params: &Params) -> Result<Box<dyn Detector>> {
    Ok(Box::new(Channelwise::<K>::new(params.clone())?))
}

fn load<K: SeriesKernel>(params: &Params, stored: Stored<'_>) -> Result<Box<dyn FittedDetector>> {
    let detector = Channelwise::<K>::new(params.clone())?;
    let state: FittedState<K::State> = state_from(stored.plain(K::ABOUT.name)?)?;
    if state.channels.is_empty() || state.channels.len() != state.norms.len() {
        return Err(Error::ModelFile(format!(
            "{} channel states and {} normalisations",
            state.channels.len(),
            state.norms.len()
        )));
    }
    if state
        .norms
        .iter()
        .any(|n| !(n.center.is_finite() && n.scale.is_finite() && n.scale > 0.0))
    {
        return Err(Error::ModelFile(format!(
            "invalid {} state: a channel's normalisation is not finite and positive",
            K::ABOUT.name
        )));
    }
    for channel in &state.channels {
        detector.kernel.check(channel)?;
    }
    Ok(Box::new(FittedChannelwise { detector, state }))
}

/// A kernel applied per channel.
#[derive(Debug, Clone)]
pub struct Channelwise<K: SeriesKernel> {
    kernel: K,
    combine: Combine,
    params: Params,
}

impl<K: SeriesKernel> Channelwise<K> {
    pub fn new(params: Params) -> Result<Self> {
        let (kernel, options) = AllParams::<K>::from_params(&params)?;
        Ok(Channelwise {
            kernel: K::new(&kernel)?,
            combine: options.combine,
            params,
        })
    }
}

/// Location and scale that standardise one channel's scores.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Norm {
    pub center: f64,
    pub scale: f64,
}

impl Norm {
    /// Median and 1.4826·MAD of `scores`, falling back to the standard deviation and then to 1.
    pub fn robust(scores: &[f64]) -> Norm {
        let center = crate::stats::median(scores);
        let dev: Vec<f64> = scores.iter().map(|s| (s - center).abs()).collect();
        let mut scale = 1.4826 * crate::stats::median(&dev);
        if scale.is_nan() || scale <= 1e-12 {
            scale = crate::stats::std_dev(scores);
        }
        if scale.is_nan() || scale <= 1e-12 {
            scale = 1.0;
        }
        Norm { center, scale }
    }
    fn apply(&self, s: f64) -> f64 {
        (s - self.center) / self.scale
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FittedState<S> {
    channels: Vec<S>,
    norms: Vec<Norm>,
}

#[derive(Debug, Clone)]
struct FittedChannelwise<K: SeriesKernel> {
    detector: Channelwise<K>,
    state: FittedState<K::State>,
}

impl<K: SeriesKernel> Detector for Channelwise<K> {
    fn fit(&self, train: &Frame) -> Result<Box<dyn FittedDetector>> {
        let mut channels = Vec::with_capacity(train.cols());
        let mut norms = Vec::with_capacity(train.cols());
        for j in 0..train.cols() {
            let x = train.column_vec(j);
            let state = self.kernel.fit(&x).map_err(|e| in_column(e, train, j))?;
            if train.cols() > 1 {
                let s = self
                    .kernel
                    .score(&state, &x)
                    .map_err(|e| in_column(e, train, j))?;
                norms.push(Norm::robust(&s));
            } else {
                norms.push(Norm {
                    center: 0.0,
                    scale: 1.0,
                });
            }
            channels.push(state);
        }
        Ok(Box::new(FittedChannelwise {
            detector: self.clone(),
            state: FittedState { channels, norms },
        }))
    }
}

fn in_column(e: Error, frame: &Frame, j: usize) -> Error {
    match e {
        Error::InvalidInput(m) if frame.cols() > 1 => {
            Error::InvalidInput(format!("column `{}`: {m}", frame.column_names()[j]))
        }
        other => other,
    }
}

impl<K: SeriesKernel> FittedChannelwise<K> {
    fn combine(&self, standardised: impl Iterator<Item = f64>) -> f64 {
        match self.detector.combine {
            Combine::Mean => {
                let (sum, n) = standardised.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
                sum / n as f64
            }
            Combine::Max => standardised.fold(f64::NEG_INFINITY, f64::max),
        }
    }

    fn channel_scores(&self, data: &Frame) -> Result<Vec<Vec<f64>>> {
        data.expect_cols(self.state.channels.len())?;
        (0..data.cols())
            .map(|j| {
                let s = self
                    .detector
                    .kernel
                    .score(&self.state.channels[j], &data.column_vec(j))
                    .map_err(|e| in_column(e, data, j))?;
                crate::ensure_finite(&s, K::ABOUT.name)?;
                Ok(s)
            })
            .collect()
    }
}

impl<K: SeriesKernel> Scorer for FittedChannelwise<K> {
    fn score(&self, data: &Frame) -> Result<Scores> {
        let per = self.channel_scores(data)?;
        let combined = if per.len() == 1 {
            per[0].clone()
        } else {
            (0..data.rows())
                .map(|i| {
                    self.combine(
                        per.iter()
                            .zip(&self.state.norms)
                            .map(|(s, n)| n.apply(s[i])),
                    )
                })
                .collect()
        };
        Ok(Scores {
            combined,
            per_channel: Some(per),
        })
    }
}

impl<K: SeriesKernel> Explain for FittedChannelwise<K> {
    fn attribution(&self, data: &Frame, row: usize) -> Result<Vec<f64>> {
        Ok(self.attributions(data, &[row])?.remove(0))
    }

    fn attributions(&self, data: &Frame, rows: &[usize]) -> Result<Vec<Vec<f64>>> {
        data.expect_rows(rows)?;
        let per = self.channel_scores(data)?;
        Ok(rows
            .iter()
            .map(|&row| {
                per.iter()
                    .zip(&self.state.norms)
                    .map(|(s, n)| n.apply(s[row]).max(0.0))
                    .collect()
            })
            .collect())
    }
}

impl<K: SeriesKernel> FittedDetector for FittedChannelwise<K> {
    fn name(&self) -> &str {
        K::ABOUT.name
    }
    fn params(&self) -> &Params {
        &self.detector.params
    }
    fn state(&self) -> Result<serde_json::Value> {
        state_to(&self.state)
    }
    fn n_columns(&self) -> usize {
        self.state.channels.len()
    }
    fn explain(&self) -> Option<&dyn Explain> {
        Some(self)
    }
    fn streaming(&self) -> Option<Box<dyn Streaming>> {
        let stream = K::STREAM?;
        let streams = self
            .state
            .channels
            .iter()
            .map(|s| stream(&self.detector.kernel, s))
            .collect();
        Some(Box::new(ChannelwiseStream {
            fitted: self.clone(),
            streams,
            last_attribution: None,
        }))
    }
}

struct ChannelwiseStream<K: SeriesKernel> {
    fitted: FittedChannelwise<K>,
    streams: Vec<Box<dyn ChannelStream>>,
    /// The standardised channel scores of the last scored point, floored at zero (as the batch
    /// attribution); derived, so not part of the snapshot.
    last_attribution: Option<Vec<f64>>,
}

impl<K: SeriesKernel> Streaming for ChannelwiseStream<K> {
    fn update(&mut self, point: &[f64]) -> Result<Option<f64>> {
        crate::online::check_point(point, self.streams.len())?;
        let outs: Vec<Option<f64>> = self
            .streams
            .iter_mut()
            .zip(point)
            .map(|(s, &x)| s.update(x))
            .collect();
        let outs: Option<Vec<f64>> = outs.into_iter().collect();
        self.last_attribution = None;
        Ok(outs.map(|v| {
            if v.len() == 1 {
                v[0]
            } else {
                let standardised: Vec<f64> = v
                    .iter()
                    .zip(&self.fitted.state.norms)
                    .map(|(s, n)| n.apply(*s))
                    .collect();
                let combined = self.fitted.combine(standardised.iter().copied());
                self.last_attribution =
                    Some(standardised.into_iter().map(|s| s.max(0.0)).collect());
                combined
            }
        }))
    }

    fn snapshot(&self) -> Result<serde_json::Value> {
        let channels = self
            .streams
            .iter()
            .map(|s| s.snapshot())
            .collect::<Result<Vec<_>>>()?;
        Ok(serde_json::Value::Array(channels))
    }

    fn restore(&mut self, snapshot: serde_json::Value) -> Result<()> {
        let channels: Vec<serde_json::Value> = state_from(snapshot)?;
        if channels.len() != self.streams.len() {
            return Err(Error::ModelFile(format!(
                "a stream snapshot of {} channels for a model of {} columns",
                channels.len(),
                self.streams.len()
            )));
        }
        for (stream, state) in self.streams.iter_mut().zip(channels) {
            stream.restore(state)?;
        }
        self.last_attribution = None;
        Ok(())
    }

    fn attribution(&self) -> Option<Vec<f64>> {
        self.last_attribution.clone()
    }
}
