//! Deep SVDD on vectors, as PyOD's `DeepSVDD` builds and scores it (Ruff et al., "Deep One-Class
//! Classification", ICML 2018): rows standardised, a bias-free network `Linear → ReLU` down the
//! hidden sizes (64, 32; dropout after the middle layers), the centre `c` the mean output of the
//! untrained network over the training rows (entries within ±0.1 of zero pushed out to ±0.1),
//! trained to pull every row's output towards `c` — loss `mean ‖φ(x) − c‖² + 10⁻⁶ Σ‖W‖` (Adam,
//! lr 10⁻⁴, weight decay 5·10⁻⁷, 100 epochs, batches of 32, the epoch with the lowest training
//! loss kept). A row's score is `‖φ(x) − c‖²`.

use crate::layers::{dropout, layer_sizes, Linear, Pass};
use crate::Weights;
use crate::{
    candle_err, training_params, Batch, Combine, Network, SampleSet, Samples, Step, Training,
};
use anomex_core::typed::Seed;
use anomex_core::{About, DataKind, Error, Learning, Result};
use candle_core::{Tensor, Var, D};

anomex_core::params! {
    /// The network's shape (PyOD's defaults).
    pub struct DeepSvddParams {
        /// layer sizes, comma-separated; the last is the output space (at least two layers)
        pub hidden_neurons: String = "64,32".to_string();
        /// dropout after the middle layers, in training
        pub dropout_rate: f64 = 0.2, in 0.0..=0.95;
    }
    validate |p| {
        if layer_sizes("hidden_neurons", &p.hidden_neurons)?.len() < 2 {
            return Err(Error::param("hidden_neurons", "Deep SVDD needs at least two layers"));
        }
        Ok(())
    }
}

training_params! {
    /// How PyOD trains Deep SVDD.
    pub struct DeepSvddTraining {
        max_epochs = 100,
        patience = 0,
        batch_size = 32,
        lr = 1e-4,
        weight_decay = 5e-7,
        validation = 0.0,
    }
}

/// Entries of the centre nearer zero than this are pushed out to it (PyOD's `eps`).
const CENTRE_EPS: f64 = 0.1;
/// The weight of the sum of the layers' norms in the loss.
const NORM_PENALTY: f64 = 1e-6;

/// PyOD's Deep SVDD.
#[derive(Debug)]
pub struct DeepSvdd {
    layers: Vec<Linear>,
    centre: Var,
    dropout: f64,
}

impl DeepSvdd {
    fn forward(&self, x: &Tensor, pass: &mut Pass<'_>) -> candle_core::Result<Tensor> {
        let last = self.layers.len() - 1;
        let mut x = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(&x)?.relu()?;
            if i > 0 && i < last {
                x = dropout(&x, self.dropout, pass)?;
            }
        }
        Ok(x)
    }

    /// Squared distances to the centre, per output dimension.
    fn terms(&self, x: &Tensor, pass: &mut Pass<'_>) -> candle_core::Result<Tensor> {
        self.forward(x, pass)?
            .broadcast_sub(self.centre.as_tensor())?
            .sqr()
    }
}

impl Network for DeepSvdd {
    type Params = (DeepSvddParams, DeepSvddTraining, Seed);
    const ABOUT: About = About {
        name: "deep_svdd",
        class: "DeepSVDD",
        summary: "distance to a learned hypersphere's centre (PyOD's DeepSVDD; Ruff et al., 2018)",
    };
    const DATA: DataKind = DataKind::Vectors;
    const LEARNING: Learning = Learning::Unsupervised;
    const COMBINE: Combine = Combine::Sum;
    const PER_COLUMN: bool = false;

    fn samples(_: &Self::Params) -> Samples {
        Samples::Rows
    }
    fn training((_, t, seed): &Self::Params) -> Training {
        Training {
            keep_lowest_train_loss: true,
            ..t.training(seed.seed)
        }
    }
    fn build((p, _, _): &Self::Params, columns: usize, w: &mut Weights<'_>) -> Result<Self> {
        let sizes = layer_sizes("hidden_neurons", &p.hidden_neurons)?;
        let mut layers = Vec::with_capacity(sizes.len());
        let mut last = columns;
        for (i, &size) in sizes.iter().enumerate() {
            layers.push(Linear::no_bias(w, &format!("layer{i}"), last, size)?);
            last = size;
        }
        Ok(DeepSvdd {
            layers,
            centre: w.buffer("centre", &[last], 0.0)?,
            dropout: p.dropout_rate,
        })
    }
    fn prepare(&self, data: &SampleSet) -> Result<()> {
        let idx: Vec<usize> = (0..data.len()).collect();
        let mut sum: Option<Tensor> = None;
        for chunk in idx.chunks(1024) {
            let out = self
                .forward(&data.batch(chunk)?.input, &mut Pass::Eval)
                .and_then(|o| o.sum(0))
                .map_err(candle_err)?;
            sum = Some(match sum {
                Some(s) => (s + out).map_err(candle_err)?,
                None => out,
            });
        }
        let sum = sum.ok_or_else(|| Error::input("no rows to learn from"))?;
        let mean: Vec<f32> = (sum / idx.len() as f64)
            .and_then(|m| m.to_vec1())
            .map_err(candle_err)?;
        let eps = CENTRE_EPS as f32;
        let centre: Vec<f32> = mean
            .into_iter()
            .map(|c| match c {
                c if c > 0.0 && c < eps => eps,
                c if c < 0.0 && c > -eps => -eps,
                c => c,
            })
            .collect();
        if centre.iter().all(|&c| c == 0.0) {
            return Err(Error::Numerical(
                "Deep SVDD's centre is all zeros (every output inactive at the start): \
                 try another seed or wider layers"
                    .into(),
            ));
        }
        let n = centre.len();
        let t = Tensor::from_vec(centre, n, self.centre.device()).map_err(candle_err)?;
        self.centre.set(&t).map_err(candle_err)
    }
    fn loss(&self, batch: &Batch, pass: &mut Pass<'_>, _: Step) -> candle_core::Result<Tensor> {
        let dist = self.terms(&batch.input, pass)?.sum(D::Minus1)?.mean_all()?;
        let mut norms = Tensor::zeros((), dist.dtype(), dist.device())?;
        for layer in &self.layers {
            norms = (norms + layer.weight().sqr()?.sum_all()?.sqrt()?)?;
        }
        dist + (norms * NORM_PENALTY)?
    }
    fn errors(&self, batch: &Batch) -> candle_core::Result<Tensor> {
        self.terms(&batch.input, &mut Pass::Eval)
    }
}
