//! USAD, UnSupervised Anomaly Detection on multivariate time series (Audibert et al., KDD 2020):
//! one encoder shared by two decoders, trained in two phases on every batch of windows. With
//! `W` a window (min-max scaled), `AE1 = D1∘E`, `AE2 = D2∘E` and `n` the epoch:
//!
//! - phase 1 trains `E, D1` on `(1/n)·‖W − AE1(W)‖² + (1 − 1/n)·‖W − AE2(AE1(W))‖²`;
//! - phase 2 trains `E, D2` on `(1/n)·‖W − AE2(W)‖² − (1 − 1/n)·‖W − AE2(AE1(W))‖²`,
//!
//! so AE1 learns to fool AE2 while AE2 learns to tell AE1's reconstructions from real windows
//! (squared norms taken as means, as the authors' code does; each phase has its own AdamW).
//! A window's score is `α·‖W − AE1(W)‖² + (1 − α)·‖W − AE2(AE1(W))‖²` (means over the window),
//! and a point takes the score of the window centred on it.
//!
//! Sizes and training are TSB-AD 1.5's `USAD` defaults (window 5, hidden 16, latent 5,
//! `α = 0.1`, AdamW lr 1e-4 with weight decay 1e-5 decayed by 0.9 every 5 epochs, batches of
//! 128, at most 10 epochs, early stopping after 3 on the last 20 % of the training series).
//! Where TSB-AD's code departs from the paper, this follows the paper: TSB-AD steps one
//! optimiser on the sum of both phases' losses, in which the adversarial terms cancel, so its
//! model is two plain autoencoders; its validation loss, scaled by `1/n`, falls by itself with
//! the epoch, where here it is the held-out windows' mean score. Each channel's term is its
//! share of the window's score, which makes the attribution.

use crate::layers::{Linear, Pass};
use crate::{training_params, Batch, Combine, Network, Samples, Scaling, Step, Training, Weights};
use anomex_core::typed::Seed;
use anomex_core::{About, DataKind, Learning, Result};
use candle_core::Tensor;
use candle_nn::loss::mse;

anomex_core::params! {
    /// The networks' sizes (TSB-AD's defaults).
    pub struct UsadParams {
        /// points per window
        pub window: usize = 5, in 1..=100_000;
        /// width of the hidden layers
        pub hidden: usize = 16, in 1..=65_536;
        /// width of the latent code
        pub latent: usize = 5, in 1..=65_536;
        /// weight of the first autoencoder's error in the score (the second's is `1 − alpha`)
        pub alpha: f64 = 0.1, in 0.0..=1.0;
    }
}

training_params! {
    /// How TSB-AD trains USAD.
    pub struct UsadTraining {
        max_epochs = 10,
        patience = 3,
        batch_size = 128,
        lr = 1e-4,
        weight_decay = 1e-5,
        validation = 0.2,
    }
}

/// Three dense layers, each followed by a ReLU, a decoder's last by a sigmoid instead.
#[derive(Debug)]
struct Stack {
    layers: [Linear; 3],
    sigmoid_out: bool,
}

impl Stack {
    fn new(w: &mut Weights<'_>, name: &str, sizes: [usize; 4], sigmoid_out: bool) -> Result<Self> {
        Ok(Stack {
            layers: [
                Linear::new(w, &format!("{name}.0"), sizes[0], sizes[1])?,
                Linear::new(w, &format!("{name}.1"), sizes[1], sizes[2])?,
                Linear::new(w, &format!("{name}.2"), sizes[2], sizes[3])?,
            ],
            sigmoid_out,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.layers[0].forward(x)?.relu()?;
        let h = self.layers[1].forward(&h)?.relu()?;
        let out = self.layers[2].forward(&h)?;
        if self.sigmoid_out {
            candle_nn::ops::sigmoid(&out)
        } else {
            out.relu()
        }
    }
}

/// USAD's encoder and two decoders.
#[derive(Debug)]
pub struct Usad {
    encoder: Stack,
    decoder1: Stack,
    decoder2: Stack,
    alpha: f64,
}

impl Network for Usad {
    type Params = (UsadParams, UsadTraining, Seed);
    const ABOUT: About = About {
        name: "usad",
        class: "USAD",
        summary:
            "two adversarially trained autoencoders' window error (USAD, Audibert et al., 2020)",
    };
    const DATA: DataKind = DataKind::Series;
    const LEARNING: Learning = Learning::SemiSupervised;
    const COMBINE: Combine = Combine::Sum;
    const SCALING: Scaling = Scaling::MinMax;
    const PHASES: &'static [&'static [&'static str]] =
        &[&["encoder.", "decoder1."], &["encoder.", "decoder2."]];

    fn samples((p, _, _): &Self::Params) -> Samples {
        Samples::Window { window: p.window }
    }
    fn training((_, t, seed): &Self::Params) -> Training {
        Training {
            lr_step: Some((5, 0.9)),
            ..t.training(seed.seed)
        }
    }
    fn build((p, _, _): &Self::Params, columns: usize, w: &mut Weights<'_>) -> Result<Self> {
        let n = p.window * columns;
        let (h, z) = (p.hidden, p.latent);
        Ok(Usad {
            encoder: Stack::new(w, "encoder", [n, h, h, z], false)?,
            decoder1: Stack::new(w, "decoder1", [z, h, h, n], true)?,
            decoder2: Stack::new(w, "decoder2", [z, h, h, n], true)?,
            alpha: p.alpha,
        })
    }
    fn loss(&self, batch: &Batch, _: &mut Pass<'_>, step: Step) -> candle_core::Result<Tensor> {
        let x = batch.input.flatten_from(1)?;
        let z = self.encoder.forward(&x)?;
        let ae1 = self.decoder1.forward(&z)?;
        let ae2ae1 = self.decoder2.forward(&self.encoder.forward(&ae1)?)?;
        let own = if step.phase == 0 {
            ae1
        } else {
            self.decoder2.forward(&z)?
        };
        let n = step.epoch as f64;
        let adversarial = (mse(&ae2ae1, &x)? * (1.0 - 1.0 / n))?;
        let own = (mse(&own, &x)? / n)?;
        if step.phase == 0 {
            own + adversarial
        } else {
            own - adversarial
        }
    }
    fn errors(&self, batch: &Batch) -> candle_core::Result<Tensor> {
        let (b, window, columns) = batch.input.dims3()?;
        let x = batch.input.flatten_from(1)?;
        let ae1 = self.decoder1.forward(&self.encoder.forward(&x)?)?;
        let ae2ae1 = self.decoder2.forward(&self.encoder.forward(&ae1)?)?;
        let terms =
            (((&x - &ae1)?.sqr()? * self.alpha)? + ((&x - &ae2ae1)?.sqr()? * (1.0 - self.alpha))?)?;
        // each channel's share of the window mean: summed over the window's steps, so that the
        // channels' terms add up to the score
        terms.reshape((b, window, columns))?.sum(1)? / (window * columns) as f64
    }
}
