//! Learned detectors: neural networks trained on the CPU (a GPU with the `cuda` feature),
//! behind the same contract as every other detector.
//!
//! # Why it looks like this
//!
//! The tensor library is candle: pure Rust, so the build needs nothing but the package
//! registry, and its CUDA backend is an additive feature. A network here is small and says only
//! what is its own ([`Network`]): its parameters, what one sample is ([`Samples`]), its layers
//! (declared through [`Weights`]), its loss and its per-channel errors. Everything else is
//! written once:
//!
//! - [`train`](train::train): the training loop (AdamW, seeded shuffling and dropout masks, an
//!   optional step decay, early stopping on a validation split that keeps the best epoch),
//!   reporting each epoch through [`anomex_core::progress`];
//! - [`samples`]: windows gathered per batch from one standardised copy of the data;
//! - [`Learned`]: the registered detector — standardisation, fit, batched scoring, per-channel
//!   attribution, and the model file, whose weights section holds the tensors as safetensors
//!   bytes, checked against the shapes the parameters imply when loaded.
//!
//! Determinism: candle's CPU generator cannot be seeded, so nothing here uses it; weights,
//! shuffles and masks come from ChaCha streams seeded by the detector's `seed`, and the same seed
//! gives the same model on the same machine.

pub mod autoencoder;
pub mod cnn;
pub mod deep_svdd;
pub mod deeplog;
pub mod layers;
pub mod lstm_ad;
mod lstm_scan;
pub mod samples;
pub mod train;
pub mod usad;
pub mod vae;
pub mod weights;

pub use samples::{Batch, SampleSet, Samples, Scaling};
pub use train::{Trained, Training};
pub use weights::Weights;

use anomex_core::model_file::{state_from, state_to, Stored};
use anomex_core::{
    About, DataKind, Detector, Entry, Error, Explain, Fit, FittedDetector, Frame, Learning,
    ParamSet, Params, Registry, Result, Scorer, Scores,
};
use candle_core::{Device, Tensor};
use layers::Pass;
use samples::Scaler;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// Samples scored per forward pass.
const SCORE_BATCH: usize = 1024;

/// How a sample's per-channel errors make its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// The mean of the per-channel squared errors (TSB-AD's forecasters).
    Mean,
    /// The Euclidean norm of the errors (PyOD's reconstruction distance).
    Norm,
    /// The sum of the terms (a squared distance, as Deep SVDD's).
    Sum,
}

impl Combine {
    /// One sample's score from its terms.
    pub fn score(self, terms: &[f32]) -> f64 {
        let sum: f64 = terms.iter().map(|&v| f64::from(v)).sum();
        match self {
            Combine::Mean => sum / terms.len().max(1) as f64,
            Combine::Norm => sum.sqrt(),
            Combine::Sum => sum,
        }
    }
}

/// Where the training loop is when it asks a network for a loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Which of [`Network::PHASES`] the loss trains.
    pub phase: usize,
    /// The epoch, from 1.
    pub epoch: usize,
}

/// A network: what one module declares to become a registered detector.
pub trait Network: Debug + Send + Sync + Sized + 'static {
    /// Its parameters, training parameters included.
    type Params: ParamSet + Debug + Clone + Send + Sync + 'static;
    /// Registry name, Python class name, one-line summary.
    const ABOUT: About;
    /// What it reads.
    const DATA: DataKind;
    /// How it learns (on unlabelled data, or on a normal prefix).
    const LEARNING: Learning;
    /// How the per-channel errors make one score.
    const COMBINE: Combine;
    /// Whether [`Network::errors`] has one term per input column (then they are the
    /// attribution); a network whose terms live in a learned space says `false`.
    const PER_COLUMN: bool = true;
    /// How the input columns are scaled before the network sees them.
    const SCALING: Scaling = Scaling::Standard;
    /// Groups of tensors, each trained by its own optimiser on its own loss, in turn on every
    /// batch (USAD's two adversarial autoencoders); a group is the tensors whose names start
    /// with one of its prefixes. By default one group of every tensor.
    const PHASES: &'static [&'static [&'static str]] = &[&[""]];
    /// What one sample is, given the parameters.
    fn samples(p: &Self::Params) -> Samples;
    /// The training loop's settings.
    fn training(p: &Self::Params) -> Training;
    /// Declares the layers for data with `columns` columns.
    fn build(p: &Self::Params, columns: usize, w: &mut Weights<'_>) -> Result<Self>;
    /// Sets what the network derives from the data before training (Deep SVDD's centre), in
    /// evaluation mode; most networks have nothing to do.
    fn prepare(&self, data: &SampleSet) -> Result<()> {
        let _ = data;
        Ok(())
    }
    /// The training loss of a batch for the phase and epoch of `step`.
    fn loss(&self, batch: &Batch, pass: &mut Pass<'_>, step: Step) -> candle_core::Result<Tensor>;
    /// Per-sample non-negative terms `(b, k)` in evaluation mode (squared errors), which
    /// [`Network::COMBINE`] makes a score; `k` is the number of columns where
    /// [`Network::PER_COLUMN`].
    fn errors(&self, batch: &Batch) -> candle_core::Result<Tensor>;
}

/// The error terms ([`Network::errors`]) of the samples `idx` of `set`, one vector per sample,
/// computed `batch` samples at a time.
pub(crate) fn error_terms<N: Network>(
    net: &N,
    set: &SampleSet,
    idx: &[usize],
    batch: usize,
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(idx.len());
    for chunk in idx.chunks(batch) {
        let terms: Vec<Vec<f32>> = net
            .errors(&set.batch(chunk)?)
            .and_then(|e| e.to_device(&Device::Cpu))
            .and_then(|e| e.to_vec2())
            .map_err(candle_err)?;
        out.extend(terms);
    }
    Ok(out)
}

/// Turns candle's errors into anomex's.
pub(crate) fn candle_err(e: candle_core::Error) -> Error {
    Error::Numerical(format!("tensor computation failed: {e}"))
}

/// The device networks run on: the first GPU when built with `cuda` and one is present, else
/// the CPU.
pub fn device() -> Device {
    #[cfg(feature = "cuda")]
    if let Ok(d) = Device::new_cuda(0) {
        return d;
    }
    Device::Cpu
}

/// A network as a registered detector.
#[derive(Debug)]
pub struct Learned<N: Network> {
    typed: N::Params,
    params: Params,
}

/// What the model file's JSON holds beside the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LearnedState {
    columns: usize,
    scaler: Scaler,
    trained: Trained,
}

/// A trained network.
#[derive(Debug)]
pub struct FittedLearned<N: Network> {
    detector: Learned<N>,
    net: N,
    weights: Weights<'static>,
    state: LearnedState,
}

impl<N: Network> Clone for Learned<N> {
    fn clone(&self) -> Self {
        Learned {
            typed: self.typed.clone(),
            params: self.params.clone(),
        }
    }
}

impl<N: Network> Learned<N> {
    fn new(params: &Params) -> Result<Self> {
        Ok(Learned {
            typed: N::Params::from_params(params)?,
            params: params.clone(),
        })
    }

    fn fitted(&self, train: &Frame) -> Result<FittedLearned<N>> {
        let device = device();
        let scaler = Scaler::fit(train.values(), N::SCALING);
        let data = SampleSet::new(train.values(), &scaler, N::samples(&self.typed), &device)?;
        let training = N::training(&self.typed);
        let mut weights = Weights::fresh(training.seed, &device);
        let net = N::build(&self.typed, train.cols(), &mut weights)?;
        net.prepare(&data)?;
        let trained = train::train(&net, &weights, &data, &training)?;
        Ok(FittedLearned {
            detector: self.clone(),
            net,
            weights,
            state: LearnedState {
                columns: train.cols(),
                scaler,
                trained,
            },
        })
    }
}

impl<N: Network> Detector for Learned<N> {
    fn fit(&self, train: &Frame) -> Result<Box<dyn FittedDetector>> {
        Ok(Box::new(self.fitted(train)?))
    }
    fn fit_scored(&self, train: &Frame) -> Result<Fit> {
        let model = self.fitted(train)?;
        let train_scores = model.score(train)?;
        Ok(Fit {
            model: Box::new(model),
            train_scores,
        })
    }
}

impl<N: Network> FittedLearned<N> {
    /// What the training did.
    pub fn trained(&self) -> &Trained {
        &self.state.trained
    }

    /// The data's samples, cut as the network was trained.
    fn sample_set(&self, data: &Frame) -> Result<SampleSet> {
        data.expect_cols(self.state.columns)?;
        SampleSet::new(
            data.values(),
            &self.state.scaler,
            N::samples(&self.detector.typed),
            self.weights.device(),
        )
    }

    /// The error terms of the samples `idx`, one vector per sample.
    fn terms(&self, set: &SampleSet, idx: &[usize]) -> Result<Vec<Vec<f32>>> {
        error_terms(&self.net, set, idx, SCORE_BATCH)
    }
}

impl<N: Network> Scorer for FittedLearned<N> {
    fn score(&self, data: &Frame) -> Result<Scores> {
        let set = self.sample_set(data)?;
        let idx: Vec<usize> = (0..set.len()).collect();
        let terms = self.terms(&set, &idx)?;
        let combined: Vec<f64> = terms.iter().map(|t| N::COMBINE.score(t)).collect();
        let combined = set.to_rows(&combined);
        anomex_core::ensure_finite(&combined, N::ABOUT.name)?;
        let per_channel = (N::PER_COLUMN && self.state.columns > 1).then(|| {
            (0..self.state.columns)
                .map(|c| {
                    let column: Vec<f64> = terms.iter().map(|t| f64::from(t[c])).collect();
                    set.to_rows(&column)
                })
                .collect()
        });
        Ok(Scores {
            combined,
            per_channel,
        })
    }
}

impl<N: Network> Explain for FittedLearned<N> {
    fn attribution(&self, data: &Frame, row: usize) -> Result<Vec<f64>> {
        Ok(self.attributions(data, &[row])?.remove(0))
    }
    /// A row's attribution is its per-channel error (squared); only the samples the rows'
    /// scores come from are computed (equal to the scoring pass's up to float32 rounding, which
    /// depends on the batch a sample is computed in).
    fn attributions(&self, data: &Frame, rows: &[usize]) -> Result<Vec<Vec<f64>>> {
        data.expect_rows(rows)?;
        let set = self.sample_set(data)?;
        let idx: Vec<usize> = rows.iter().map(|&r| set.sample_of(r)).collect();
        Ok(self
            .terms(&set, &idx)?
            .into_iter()
            .map(|t| t.into_iter().map(f64::from).collect())
            .collect())
    }
}

impl<N: Network> FittedDetector for FittedLearned<N> {
    fn name(&self) -> &str {
        N::ABOUT.name
    }
    fn params(&self) -> &Params {
        &self.detector.params
    }
    fn state(&self) -> Result<serde_json::Value> {
        state_to(&self.state)
    }
    fn weights(&self) -> Result<Option<Vec<u8>>> {
        self.weights.to_bytes().map(Some)
    }
    fn n_columns(&self) -> usize {
        self.state.columns
    }
    fn explain(&self) -> Option<&dyn Explain> {
        N::PER_COLUMN.then_some(self as &dyn Explain)
    }
}

fn build<N: Network>(params: &Params) -> Result<Box<dyn Detector>> {
    Ok(Box::new(Learned::<N>::new(params)?))
}

fn load<N: Network>(params: &Params, stored: Stored<'_>) -> Result<Box<dyn FittedDetector>> {
    let detector = Learned::<N>::new(params)?;
    let bytes = stored.weights(N::ABOUT.name)?;
    let state: LearnedState = state_from(stored.state)?;
    if state.columns == 0 || state.columns > MAX_COLUMNS {
        return Err(Error::ModelFile(format!(
            "{} column(s) is not a model's input",
            state.columns
        )));
    }
    state.scaler.check(state.columns)?;
    let mut read = Weights::from_bytes(bytes, &device())?;
    let net = N::build(&detector.typed, state.columns, &mut read)?;
    read.finish()?;
    Ok(Box::new(FittedLearned {
        detector,
        net,
        weights: read.into_owned(),
        state,
    }))
}

/// The widest input a model file may declare (a bound before any layer is sized from it).
const MAX_COLUMNS: usize = 1 << 20;

/// A registry entry for a network.
pub fn entry<N: Network>() -> Entry {
    Entry {
        name: N::ABOUT.name,
        class: N::ABOUT.class,
        summary: N::ABOUT.summary,
        learning: N::LEARNING,
        data: N::DATA,
        causal: false,
        explains: N::PER_COLUMN,
        params: N::Params::specs(),
        build: build::<N>,
        load: load::<N>,
    }
}

/// Adds every learned detector to `registry`.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.add(entry::<autoencoder::AutoEncoder>())?;
    registry.add(entry::<cnn::Cnn>())?;
    registry.add(entry::<deep_svdd::DeepSvdd>())?;
    registry.add(entry::<deeplog::DeepLog>())?;
    registry.add(entry::<lstm_ad::LstmAd>())?;
    registry.add(entry::<usad::Usad>())?;
    registry.add(entry::<vae::Vae>())?;
    Ok(())
}
