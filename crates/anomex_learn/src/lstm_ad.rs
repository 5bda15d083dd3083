//! An LSTM forecaster on series windows, as TSB-AD's `LSTMAD` (after Malhotra et al., "Long
//! Short Term Memory Networks for Anomaly Detection in Time Series", ESANN 2015; Liu et al.,
//! TSB-AD, NeurIPS 2024): a two-layer LSTM encoder (20 hidden units) reads the last `window`
//! points (100); a two-layer LSTM decoder started from the encoder's final states takes one
//! step on a zero input, and `GELU → Linear` gives the forecast of the next point. Trained on
//! the mean squared forecast error (Adam, lr 8e-4 decayed by 0.75 every 5 epochs, batches of
//! 128, at most 50 epochs, early stopping after 3 epochs without a better loss on the last 20 %
//! of the training series). A point's score is its squared forecast error averaged over
//! channels, each channel's error its attribution; the first `window` points take the first
//! forecast's score, as TSB-AD pads them. The series is standardised per channel with the
//! training rows' mean and deviation.

use crate::layers::{Linear, Lstm, Pass};
use crate::{training_params, Batch, Combine, Network, Samples, Step, Training, Weights};
use anomex_core::typed::Seed;
use anomex_core::{About, DataKind, Learning, Result};
use candle_core::Tensor;

anomex_core::params! {
    /// The forecaster's shape (TSB-AD's defaults).
    pub struct LstmAdParams {
        /// points the forecast is made from
        pub window: usize = 100, in 1..=100_000;
        /// hidden units of each LSTM layer
        pub hidden_dim: usize = 20, in 1..=4096;
        /// stacked LSTM layers in the encoder and in the decoder
        pub num_layers: usize = 2, in 1..=16;
    }
}

training_params! {
    /// How TSB-AD trains LSTMAD.
    pub struct LstmAdTraining {
        max_epochs = 50,
        patience = 3,
        batch_size = 128,
        lr = 8e-4,
        weight_decay = 0.0,
        validation = 0.2,
    }
}

/// TSB-AD's LSTM forecaster.
#[derive(Debug)]
pub struct LstmAd {
    encoder: Lstm,
    decoder: Lstm,
    output: Linear,
}

impl LstmAd {
    /// The forecast of each window `(b, window, channels)` → `(b, channels)`.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, _, c) = x.dims3()?;
        let (_, state) = self.encoder.forward(x, None)?;
        let start = Tensor::zeros((b, 1, c), x.dtype(), x.device())?;
        let (out, _) = self.decoder.forward(&start, Some(&state))?;
        self.output.forward(&out.squeeze(1)?.gelu_erf()?)
    }
}

impl Network for LstmAd {
    type Params = (LstmAdParams, LstmAdTraining, Seed);
    const ABOUT: About = About {
        name: "lstm_ad",
        class: "LSTMAD",
        summary: "LSTM forecaster's error (TSB-AD's LSTMAD; Malhotra et al., 2015)",
    };
    const DATA: DataKind = DataKind::Series;
    const LEARNING: Learning = Learning::SemiSupervised;
    const COMBINE: Combine = Combine::Mean;

    fn samples((p, _, _): &Self::Params) -> Samples {
        Samples::Forecast { window: p.window }
    }
    fn training((_, t, seed): &Self::Params) -> Training {
        Training {
            lr_step: Some((5, 0.75)),
            ..t.training(seed.seed)
        }
    }
    fn build((p, _, _): &Self::Params, columns: usize, w: &mut Weights<'_>) -> Result<Self> {
        Ok(LstmAd {
            encoder: Lstm::new(w, "encoder", columns, p.hidden_dim, p.num_layers)?,
            decoder: Lstm::new(w, "decoder", columns, p.hidden_dim, p.num_layers)?,
            output: Linear::new(w, "output", p.hidden_dim, columns)?,
        })
    }
    fn loss(&self, batch: &Batch, _: &mut Pass<'_>, _: Step) -> candle_core::Result<Tensor> {
        candle_nn::loss::mse(&self.forward(&batch.input)?, &batch.target)
    }
    fn errors(&self, batch: &Batch) -> candle_core::Result<Tensor> {
        (self.forward(&batch.input)? - &batch.target)?.sqr()
    }
}
