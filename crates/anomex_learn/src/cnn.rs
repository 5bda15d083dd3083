//! A convolutional forecaster on series windows, as TSB-AD's `CNN` (after DeepAnT: Munir et
//! al., "DeepAnT: A Deep Learning Approach for Unsupervised Anomaly Detection in Time Series",
//! IEEE Access 2019; Liu et al., TSB-AD, NeurIPS 2024): from the last `window` points (100) it
//! forecasts the next one through two `Conv1d(k = 3) → ReLU → MaxPool(2)` stages (32 and 40
//! channels), a global average pool, `Linear → ReLU → Dropout(0.25) → Linear`; trained on the
//! mean squared forecast error (Adam, lr 8e-4 decayed by 0.75 every 5 epochs, batches of 128,
//! at most 50 epochs, early stopping after 3 epochs without a better loss on the last 20 % of
//! the training series). A point's score is its squared forecast error averaged over channels;
//! the first `window` points take the first forecast's score, as TSB-AD pads them.
//!
//! Two departures from TSB-AD's code, neither of which changes a univariate model: the
//! convolutions run along time with the channels as their features (TSB-AD reshapes the window,
//! which mixes time and channels when there are several), and the pooled features feed the head once (TSB-AD concatenates two
//! identical average pools, which only doubles the first linear layer's input). The series is
//! standardised per channel with the training rows' mean and deviation.

use crate::layers::{dropout, layer_sizes, Conv1d, Linear, Pass};
use crate::{training_params, Batch, Combine, Network, Samples, Step, Training, Weights};
use anomex_core::typed::Seed;
use anomex_core::{About, DataKind, Error, Learning, Result};
use candle_core::Tensor;

anomex_core::params! {
    /// The forecaster's shape (TSB-AD's defaults).
    pub struct CnnParams {
        /// points the forecast is made from
        pub window: usize = 100, in 10..=100_000;
        /// output channels of the convolution stages, comma-separated
        pub num_channel: String = "32,40".to_string();
        /// convolution kernel length
        pub kernel_size: usize = 3, in 1..=64;
        /// dropout before the last layer, in training
        pub dropout_rate: f64 = 0.25, in 0.0..=0.95;
    }
    validate |p| { stages(p).map(|_| ()) }
}

training_params! {
    /// How TSB-AD trains its CNN.
    pub struct CnnTraining {
        max_epochs = 50,
        patience = 3,
        batch_size = 128,
        lr = 8e-4,
        weight_decay = 0.0,
        validation = 0.2,
    }
}

/// The convolution channels, checked against the window: each stage shortens the sequence by
/// `kernel − 1` and halves it, and it must not run out.
fn stages(p: &CnnParams) -> Result<Vec<usize>> {
    let channels = layer_sizes("num_channel", &p.num_channel)?;
    let mut len = p.window;
    for _ in &channels {
        if len < p.kernel_size + 1 {
            return Err(Error::param(
                "window",
                format!(
                    "{} is too short for {} convolution stage(s) of kernel {}",
                    p.window,
                    channels.len(),
                    p.kernel_size
                ),
            ));
        }
        len = (len + 1 - p.kernel_size) / 2;
    }
    Ok(channels)
}

/// TSB-AD's CNN forecaster.
#[derive(Debug)]
pub struct Cnn {
    convs: Vec<Conv1d>,
    hidden: Linear,
    output: Linear,
    dropout: f64,
}

impl Cnn {
    /// The forecast of each window `(b, window, channels)` → `(b, channels)`.
    fn forward(&self, x: &Tensor, pass: &mut Pass<'_>) -> candle_core::Result<Tensor> {
        // channels last throughout: (b, time, channels)
        let mut x = x.clone();
        for conv in &self.convs {
            let y = conv.forward(&x)?.relu()?;
            // max-pool by 2 along time (an odd last point dropped, as PyTorch drops it) as the
            // larger of the even and the odd points: candle's backward of its 2-D pooling and of
            // a max reduction were a fifth of an epoch
            let (b, len, c) = y.dims3()?;
            let pairs = y.narrow(1, 0, len / 2 * 2)?.reshape((b, len / 2, 2, c))?;
            x = pairs
                .narrow(2, 0, 1)?
                .maximum(&pairs.narrow(2, 1, 1)?)?
                .squeeze(2)?;
        }
        let pooled = x.mean(1)?;
        let h = dropout(&self.hidden.forward(&pooled)?.relu()?, self.dropout, pass)?;
        self.output.forward(&h)
    }
}

impl Network for Cnn {
    type Params = (CnnParams, CnnTraining, Seed);
    const ABOUT: About = About {
        name: "cnn",
        class: "CNN",
        summary: "convolutional forecaster's error (TSB-AD's CNN; DeepAnT, Munir et al., 2019)",
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
        let channels = stages(p)?;
        let mut convs = Vec::with_capacity(channels.len());
        let mut last = columns;
        for (i, &c) in channels.iter().enumerate() {
            convs.push(Conv1d::new(w, &format!("conv{i}"), last, c, p.kernel_size)?);
            last = c;
        }
        Ok(Cnn {
            convs,
            hidden: Linear::new(w, "hidden", last, last)?,
            output: Linear::new(w, "output", last, columns)?,
            dropout: p.dropout_rate,
        })
    }
    fn loss(&self, batch: &Batch, pass: &mut Pass<'_>, _: Step) -> candle_core::Result<Tensor> {
        candle_nn::loss::mse(&self.forward(&batch.input, pass)?, &batch.target)
    }
    fn errors(&self, batch: &Batch) -> candle_core::Result<Tensor> {
        (self.forward(&batch.input, &mut Pass::Eval)? - &batch.target)?.sqr()
    }
}
