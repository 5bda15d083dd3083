//! The one training loop every network shares: seeded shuffling and dropout, AdamW, an optional
//! step decay of the learning rate, and early stopping on a validation split that keeps the
//! best weights.

use crate::layers::Pass;
use crate::samples::SampleSet;
use crate::weights::Weights;
use crate::{candle_err, error_terms, Network, Step};
use anomex_core::progress::{report, Progress};
use anomex_core::Result;
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How a network is trained: the values come from the detector's parameters (declared with
/// [`training_params!`](crate::training_params), each network with its reference's defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct Training {
    pub max_epochs: usize,
    /// Epochs without a better validation loss before training stops (0: never stop early).
    pub patience: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// AdamW's decoupled weight decay (0: Adam).
    pub weight_decay: f64,
    /// Share of the samples held out to choose the epoch (the last ones for series, whose
    /// samples are in time order; a seeded random share for vectors).
    pub validation: f64,
    /// Multiply the learning rate by `.1` every `.0` epochs (PyTorch's `StepLR`).
    pub lr_step: Option<(usize, f64)>,
    /// Without a validation split, keep the epoch with the lowest training loss (PyOD's Deep
    /// SVDD) rather than the last.
    pub keep_lowest_train_loss: bool,
    pub seed: u64,
}

/// What the training did, kept in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trained {
    /// Epochs run.
    pub epochs: usize,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Mean training loss of each epoch.
    pub train_loss: Vec<f64>,
    /// Mean validation loss of each epoch (empty without a validation split).
    pub valid_loss: Vec<f64>,
}

/// Declares a network's training parameters with its reference's defaults: the struct gets the
/// fields `max_epochs`, `patience`, `batch_size`, `lr`, `weight_decay` and `validation`, and a
/// `training(seed)` method giving the loop's [`Training`] (no step decay, the last epoch kept
/// without validation; a network changes what its reference does otherwise).
#[macro_export]
macro_rules! training_params {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            max_epochs = $epochs:expr,
            patience = $patience:expr,
            batch_size = $batch:expr,
            lr = $lr:expr,
            weight_decay = $wd:expr,
            validation = $valid:expr $(,)?
        }
    ) => {
        anomex_core::params! {
            $(#[$meta])*
            pub struct $name {
                /// most passes over the training samples
                pub max_epochs: usize = $epochs, in 1..=100_000;
                /// epochs without a better validation loss before stopping (0: never stop early)
                pub patience: usize = $patience, in 0..=100_000;
                /// samples per optimisation step
                pub batch_size: usize = $batch, in 1..=1_000_000;
                /// AdamW learning rate
                pub lr: f64 = $lr, in 1e-8..=10.0;
                /// AdamW's decoupled weight decay
                pub weight_decay: f64 = $wd, in 0.0..=1.0;
                /// share of the training samples held out for early stopping (0: none)
                pub validation: f64 = $valid, in 0.0..=0.9;
            }
        }

        impl $name {
            /// The training loop's settings.
            pub fn training(&self, seed: u64) -> $crate::Training {
                $crate::Training {
                    max_epochs: self.max_epochs,
                    patience: self.patience,
                    batch_size: self.batch_size,
                    lr: self.lr,
                    weight_decay: self.weight_decay,
                    validation: self.validation,
                    lr_step: None,
                    keep_lowest_train_loss: false,
                    seed,
                }
            }
        }
    };
}

/// Splits sample indices into training and validation ones.
fn split(n: usize, t: &Training, ordered: bool, rng: &mut ChaCha8Rng) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    if !ordered {
        idx.shuffle(rng);
    }
    let held = ((n as f64) * t.validation).floor() as usize;
    // keep at least one training sample; a validation share that leaves none is no split
    let held = if held >= n { 0 } else { held };
    let valid = idx.split_off(n - held);
    (idx, valid)
}

/// The validation loss: the mean anomaly score of the held-out samples, which are normal by
/// assumption (for a forecaster the mean squared error; unlike a training loss it does not
/// change its definition with the epoch, as USAD's does).
fn evaluate<N: Network>(net: &N, data: &SampleSet, idx: &[usize], batch: usize) -> Result<f64> {
    let terms = error_terms(net, data, idx, batch)?;
    let total: f64 = terms.iter().map(|t| N::COMBINE.score(t)).sum();
    Ok(total / idx.len().max(1) as f64)
}

/// Trains `net`, whose tensors are `weights`, on the samples of `data`.
pub fn train<N: Network>(
    net: &N,
    weights: &Weights<'_>,
    data: &SampleSet,
    t: &Training,
) -> Result<Trained> {
    let mut rng = ChaCha8Rng::seed_from_u64(t.seed ^ 0x7261_696E_5F73_6565);
    let (mut train_idx, valid_idx) = split(data.len(), t, data.ordered(), &mut rng);
    let mut opts = N::PHASES
        .iter()
        .map(|prefixes| {
            AdamW::new(
                weights.trainable_named(prefixes),
                ParamsAdamW {
                    lr: t.lr,
                    weight_decay: t.weight_decay,
                    ..ParamsAdamW::default()
                },
            )
            .map_err(candle_err)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut done = Trained {
        epochs: 0,
        best_epoch: 0,
        train_loss: Vec::new(),
        valid_loss: Vec::new(),
    };
    let mut best: Option<(f64, Vec<candle_core::Tensor>)> = None;
    let mut waited = 0;
    for epoch in 1..=t.max_epochs {
        train_idx.shuffle(&mut rng);
        let mut total = 0.0;
        for chunk in train_idx.chunks(t.batch_size) {
            let b = data.batch(chunk)?;
            for (phase, opt) in opts.iter_mut().enumerate() {
                let loss = net
                    .loss(&b, &mut Pass::Train(&mut rng), Step { phase, epoch })
                    .map_err(candle_err)?;
                opt.backward_step(&loss).map_err(candle_err)?;
                total +=
                    f64::from(loss.to_scalar::<f32>().map_err(candle_err)?) * chunk.len() as f64;
            }
        }
        let train_loss = total / train_idx.len() as f64;
        if !train_loss.is_finite() {
            return Err(anomex_core::Error::Numerical(format!(
                "the training loss diverged at epoch {epoch} (try a smaller lr)"
            )));
        }
        done.epochs = epoch;
        done.train_loss.push(train_loss);
        let mut detail = format!("loss {train_loss:.5}");
        // the loss that chooses the epoch kept: validation's, else (where the reference does)
        // training's, else none and the last epoch is kept
        let monitored = if valid_idx.is_empty() {
            t.keep_lowest_train_loss.then_some(train_loss)
        } else {
            let valid = evaluate(net, data, &valid_idx, t.batch_size.max(256))?;
            done.valid_loss.push(valid);
            detail.push_str(&format!(", validation {valid:.5}"));
            Some(valid)
        };
        match monitored {
            Some(loss) if best.as_ref().is_none_or(|(b, _)| loss < *b) => {
                best = Some((loss, weights.values()?));
                done.best_epoch = epoch;
                waited = 0;
            }
            // patience counts epochs without a better validation loss
            Some(_) if !valid_idx.is_empty() => waited += 1,
            Some(_) => {}
            None => done.best_epoch = epoch,
        }
        report(&Progress {
            phase: "train",
            done: epoch,
            total: t.max_epochs,
            detail: &detail,
        });
        if t.patience > 0 && waited >= t.patience {
            break;
        }
        if let Some((every, gamma)) = t.lr_step {
            if epoch % every == 0 {
                for opt in &mut opts {
                    opt.set_learning_rate(opt.learning_rate() * gamma);
                }
            }
        }
    }
    if let Some((_, values)) = best {
        weights.restore(&values)?;
    }
    Ok(done)
}
