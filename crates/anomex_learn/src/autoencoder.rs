//! A dense autoencoder on vectors, as PyOD's `AutoEncoder` builds and scores it (PyOD 2, after
//! Aggarwal, *Outlier Analysis*, 2015, ch. 3): rows standardised, an encoder of
//! `Linear → BatchNorm → ReLU → Dropout` blocks down the hidden sizes (64, 32), a mirrored
//! decoder and a final linear layer back to the features, trained on the mean squared
//! reconstruction error (Adam, lr 1e-3, weight decay 1e-5, 10 epochs, batches of 32); a row's
//! score is the Euclidean distance between the row and its reconstruction.

use crate::layers::{layer_sizes, DenseStack, Linear, Pass};
use crate::{training_params, Batch, Combine, Network, Samples, Step, Training, Weights};
use anomex_core::typed::Seed;
use anomex_core::{About, DataKind, Learning, Result};
use candle_core::Tensor;

anomex_core::params! {
    /// The network's shape (PyOD's defaults).
    pub struct AutoEncoderParams {
        /// hidden layer sizes of the encoder, comma-separated (the decoder mirrors them)
        pub hidden_neurons: String = "64,32".to_string();
        /// batch normalisation after each hidden linear layer
        pub batch_norm: bool = true;
        /// dropout after each hidden layer, in training
        pub dropout_rate: f64 = 0.2, in 0.0..=0.95;
    }
    validate |p| { layer_sizes("hidden_neurons", &p.hidden_neurons).map(|_| ()) }
}

training_params! {
    /// How PyOD trains its autoencoder.
    pub struct AutoEncoderTraining {
        max_epochs = 10,
        patience = 0,
        batch_size = 32,
        lr = 1e-3,
        weight_decay = 1e-5,
        validation = 0.0,
    }
}

/// PyOD's autoencoder.
#[derive(Debug)]
pub struct AutoEncoder {
    blocks: DenseStack,
    output: Linear,
}

impl AutoEncoder {
    fn forward(&self, x: &Tensor, pass: &mut Pass<'_>) -> candle_core::Result<Tensor> {
        self.output.forward(&self.blocks.forward(x, pass)?)
    }
}

impl Network for AutoEncoder {
    type Params = (AutoEncoderParams, AutoEncoderTraining, Seed);
    const ABOUT: About = About {
        name: "autoencoder",
        class: "AutoEncoder",
        summary: "dense autoencoder's reconstruction distance (PyOD's AutoEncoder; Aggarwal, 2015)",
    };
    const DATA: DataKind = DataKind::Vectors;
    const LEARNING: Learning = Learning::Unsupervised;
    const COMBINE: Combine = Combine::Norm;

    fn samples(_: &Self::Params) -> Samples {
        Samples::Rows
    }
    fn training((_, t, seed): &Self::Params) -> Training {
        t.training(seed.seed)
    }
    fn build((p, _, _): &Self::Params, columns: usize, w: &mut Weights<'_>) -> Result<Self> {
        let hidden = layer_sizes("hidden_neurons", &p.hidden_neurons)?;
        // encoder down the sizes, decoder back up all but the last
        let sizes: Vec<usize> = hidden
            .iter()
            .copied()
            .chain(hidden.iter().rev().skip(1).copied())
            .collect();
        let blocks = DenseStack::new(w, "block", columns, &sizes, p.batch_norm, p.dropout_rate)?;
        let output = Linear::new(w, "output", blocks.width, columns)?;
        Ok(AutoEncoder { blocks, output })
    }
    fn loss(&self, batch: &Batch, pass: &mut Pass<'_>, _: Step) -> candle_core::Result<Tensor> {
        candle_nn::loss::mse(&self.forward(&batch.input, pass)?, &batch.target)
    }
    fn errors(&self, batch: &Batch) -> candle_core::Result<Tensor> {
        (self.forward(&batch.input, &mut Pass::Eval)? - &batch.target)?.sqr()
    }
}
