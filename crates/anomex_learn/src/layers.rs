//! The layers the networks are made of, initialised as PyTorch initialises them (so that the
//! reference implementations and these start from the same distributions) and declared through
//! [`Weights`], so that one `build` serves training and loading.

use crate::weights::Weights;
use anomex_core::Result;
use candle_core::{Module, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Whether a forward pass trains (dropout active, batch statistics used and accumulated) or
/// evaluates. Training draws its dropout masks from the fit's seeded stream.
#[derive(Debug)]
pub enum Pass<'r> {
    Train(&'r mut ChaCha8Rng),
    Eval,
}

impl Pass<'_> {
    pub fn training(&self) -> bool {
        matches!(self, Pass::Train(_))
    }
}

/// A fully connected layer (`torch.nn.Linear`: weight and bias uniform in ±1/√fan_in).
#[derive(Debug, Clone)]
pub struct Linear(candle_nn::Linear);

impl Linear {
    pub fn new(w: &mut Weights<'_>, name: &str, inputs: usize, outputs: usize) -> Result<Self> {
        let bound = 1.0 / (inputs as f64).sqrt();
        let weight = w.uniform(&format!("{name}.weight"), &[outputs, inputs], bound)?;
        let bias = w.uniform(&format!("{name}.bias"), &[outputs], bound)?;
        Ok(Linear(candle_nn::Linear::new(weight, Some(bias))))
    }

    /// Without a bias (Deep SVDD's layers: a bias would let the network reach its centre
    /// trivially).
    pub fn no_bias(w: &mut Weights<'_>, name: &str, inputs: usize, outputs: usize) -> Result<Self> {
        let bound = 1.0 / (inputs as f64).sqrt();
        let weight = w.uniform(&format!("{name}.weight"), &[outputs, inputs], bound)?;
        Ok(Linear(candle_nn::Linear::new(weight, None)))
    }

    pub fn weight(&self) -> &Tensor {
        self.0.weight()
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.0.forward(x)
    }
}

/// A 1-D convolution over time of `(batch, length, channels)` windows (channels last), no
/// padding, stride 1 (`torch.nn.Conv1d`'s weights and initialisation: uniform in
/// ±1/√(in_channels · kernel)).
///
/// Computed as one matrix product over the `kernel` shifted views of the input (im2col) with
/// the channels last, so that neither pass needs a transpose and the backward pass is matrix
/// products: candle's CPU backward of its own convolution goes through a direct transposed
/// convolution that made training several times slower.
#[derive(Debug, Clone)]
pub struct Conv1d {
    /// `(outputs, inputs, kernel)`, as PyTorch stores it.
    weight: Tensor,
    bias: Tensor,
    kernel: usize,
}

impl Conv1d {
    pub fn new(
        w: &mut Weights<'_>,
        name: &str,
        inputs: usize,
        outputs: usize,
        kernel: usize,
    ) -> Result<Self> {
        let bound = 1.0 / ((inputs * kernel) as f64).sqrt();
        let weight = w.uniform(&format!("{name}.weight"), &[outputs, inputs, kernel], bound)?;
        let bias = w.uniform(&format!("{name}.bias"), &[outputs], bound)?;
        Ok(Conv1d {
            weight,
            bias,
            kernel,
        })
    }

    /// `(b, length, inputs)` → `(b, length − kernel + 1, outputs)`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, len, _) = x.dims3()?;
        let out_len = len + 1 - self.kernel;
        let views: Vec<Tensor> = (0..self.kernel)
            .map(|k| x.narrow(1, k, out_len))
            .collect::<candle_core::Result<_>>()?;
        // (b, out_len, kernel · inputs), shift-major
        let cols = Tensor::cat(&views, 2)?;
        // the weight shift-major to match (derived on every pass, so that the gradient reaches
        // the stored tensor)
        let (outputs, inputs, _) = self.weight.dims3()?;
        let width = self.kernel * inputs;
        let weight = self.weight.permute((2, 1, 0))?.reshape((width, outputs))?;
        cols.reshape((b * out_len, width))?
            .matmul(&weight)?
            .broadcast_add(&self.bias)?
            .reshape((b, out_len, outputs))
    }
}

/// Batch normalisation over the features of `(batch, features)` rows
/// (`torch.nn.BatchNorm1d`: ε = 1e-5, momentum 0.1, the running variance unbiased).
#[derive(Debug, Clone)]
pub struct BatchNorm {
    gamma: Tensor,
    beta: Tensor,
    mean: Var,
    var: Var,
}

const BN_EPS: f64 = 1e-5;
const BN_MOMENTUM: f64 = 0.1;

impl BatchNorm {
    pub fn new(w: &mut Weights<'_>, name: &str, features: usize) -> Result<Self> {
        Ok(BatchNorm {
            gamma: w.constant(&format!("{name}.weight"), &[features], 1.0)?,
            beta: w.constant(&format!("{name}.bias"), &[features], 0.0)?,
            mean: w.buffer(&format!("{name}.running_mean"), &[features], 0.0)?,
            var: w.buffer(&format!("{name}.running_var"), &[features], 1.0)?,
        })
    }

    pub fn forward(&self, x: &Tensor, pass: &Pass<'_>) -> candle_core::Result<Tensor> {
        let (mean, var) = if pass.training() && x.dim(0)? > 1 {
            let n = x.dim(0)? as f64;
            let mean = x.mean(0)?;
            let centred = x.broadcast_sub(&mean)?;
            let var = centred.sqr()?.mean(0)?;
            let unbiased = (var.detach() * (n / (n - 1.0)))?;
            let keep = 1.0 - BN_MOMENTUM;
            self.mean
                .set(&((self.mean.as_tensor() * keep)? + (mean.detach() * BN_MOMENTUM)?)?)?;
            self.var
                .set(&((self.var.as_tensor() * keep)? + (unbiased * BN_MOMENTUM)?)?)?;
            (mean, var)
        } else {
            (
                self.mean.as_tensor().detach(),
                self.var.as_tensor().detach(),
            )
        };
        let scale = (var + BN_EPS)?.sqrt()?.recip()?.mul(&self.gamma)?;
        x.broadcast_sub(&mean)?
            .broadcast_mul(&scale)?
            .broadcast_add(&self.beta)
    }
}

/// Inverted dropout (`torch.nn.Dropout`): in training, each value is zeroed with probability
/// `p` and the rest scaled by 1/(1 − p), with the mask drawn from the fit's seeded stream.
pub fn dropout(x: &Tensor, p: f64, pass: &mut Pass<'_>) -> candle_core::Result<Tensor> {
    let rng = match pass {
        Pass::Train(rng) if p > 0.0 => rng,
        _ => return Ok(x.clone()),
    };
    let keep = 1.0 / (1.0 - p);
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| {
            if rng.random::<f64>() < p {
                0.0
            } else {
                keep as f32
            }
        })
        .collect();
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?;
    x.mul(&mask)
}
