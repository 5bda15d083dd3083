//! The layers the networks are made of, initialised as PyTorch initialises them (so that the
//! reference implementations and these start from the same distributions) and declared through
//! [`Weights`], so that one `build` serves training and loading.

use crate::lstm_scan::LstmScan;
use crate::weights::Weights;
use anomex_core::{Error, Result};
use candle_core::{Module, Tensor, Var};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Layer sizes from a parameter's text (`"64,32"`), each in 1..=65536; errors name `param`.
pub fn layer_sizes(param: &str, text: &str) -> Result<Vec<usize>> {
    let sizes: Vec<usize> = text
        .split(',')
        .map(|s| s.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::param(param, format!("`{text}` is not a list of sizes")))?;
    if sizes.is_empty() || sizes.iter().any(|&s| s == 0 || s > 65_536) {
        return Err(Error::param(
            param,
            format!("`{text}`: every size must be in 1..=65536"),
        ));
    }
    Ok(sizes)
}

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
/// Computed as one matrix product of every time step with each shift's weights (channels last,
/// so the input is already a row-major matrix), the shifts' outputs then added where they
/// belong: both passes are large matrix products. candle's CPU backward of its own convolution
/// goes through a direct transposed convolution, and stacking the shifted views of the input
/// (im2col) spent most of a forward pass in strided copies.
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
        let (b, len, inputs) = x.dims3()?;
        let out_len = len + 1 - self.kernel;
        // (kernel, inputs, outputs): one matrix per shift (derived on every pass, so that the
        // gradient reaches the stored tensor)
        let (outputs, _, _) = self.weight.dims3()?;
        let per_shift = self.weight.permute((2, 1, 0))?.contiguous()?;
        // every time step through each shift's weights in one product, then each shift's
        // outputs taken where they belong: y[t] = Σ_k (x W_k)[t + k]
        let rows = x.reshape((b * len, inputs))?;
        let shifted = |k: usize| {
            rows.matmul(&per_shift.get(k)?)?
                .reshape((b, len, outputs))?
                .narrow(1, k, out_len)
        };
        let mut y = shifted(0)?.contiguous()?;
        for k in 1..self.kernel {
            y = (y + shifted(k)?)?;
        }
        y.broadcast_add(&self.bias)
    }
}

/// A stacked LSTM over `(batch, time, inputs)` sequences (`torch.nn.LSTM` with
/// `batch_first`: per layer `weight_ih (4h, in)`, `weight_hh (4h, h)`, two biases, every tensor
/// uniform in ±1/√h; gates in PyTorch's order input, forget, cell, output).
///
/// Computed layer by layer: the input's contribution to every step's gates is one matrix
/// product over the whole sequence, so that only the recurrent product `h·W_hhᵀ` is done step
/// by step.
#[derive(Debug, Clone)]
pub struct Lstm {
    layers: Vec<LstmLayer>,
    hidden: usize,
}

#[derive(Debug, Clone)]
struct LstmLayer {
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor,
    bias_hh: Tensor,
}

/// Each layer's last hidden and cell state, `(batch, hidden)` each.
pub type LstmState = Vec<(Tensor, Tensor)>;

impl Lstm {
    pub fn new(
        w: &mut Weights<'_>,
        name: &str,
        inputs: usize,
        hidden: usize,
        layers: usize,
    ) -> Result<Self> {
        let bound = 1.0 / (hidden as f64).sqrt();
        let layers = (0..layers)
            .map(|k| {
                let fan_in = if k == 0 { inputs } else { hidden };
                Ok(LstmLayer {
                    weight_ih: w.uniform(
                        &format!("{name}.weight_ih_l{k}"),
                        &[4 * hidden, fan_in],
                        bound,
                    )?,
                    weight_hh: w.uniform(
                        &format!("{name}.weight_hh_l{k}"),
                        &[4 * hidden, hidden],
                        bound,
                    )?,
                    bias_ih: w.uniform(&format!("{name}.bias_ih_l{k}"), &[4 * hidden], bound)?,
                    bias_hh: w.uniform(&format!("{name}.bias_hh_l{k}"), &[4 * hidden], bound)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Lstm { layers, hidden })
    }

    /// The last layer's outputs `(b, time, hidden)` and every layer's final state, starting
    /// from `state` (zeros when `None`).
    pub fn forward(
        &self,
        x: &Tensor,
        state: Option<&LstmState>,
    ) -> candle_core::Result<(Tensor, LstmState)> {
        self.forward_with(x, state, x.device().is_cpu())
    }

    /// As [`Lstm::forward`], the recurrence fused into one operation ([`LstmScan`], CPU only)
    /// or step by step in tensor operations.
    fn forward_with(
        &self,
        x: &Tensor,
        state: Option<&LstmState>,
        fused: bool,
    ) -> candle_core::Result<(Tensor, LstmState)> {
        let (b, steps, _) = x.dims3()?;
        let h = self.hidden;
        let mut input = x.clone();
        let mut last = Vec::with_capacity(self.layers.len());
        for (k, layer) in self.layers.iter().enumerate() {
            let features = input.dim(2)?;
            let bias = (&layer.bias_ih + &layer.bias_hh)?;
            // the input's share of every step's gates in one product
            let gates_in = input
                .reshape((b * steps, features))?
                .matmul(&layer.weight_ih.t()?)?
                .broadcast_add(&bias)?
                .reshape((b, steps, 4 * h))?;
            let start = state.map(|s| &s[k]);
            let (outputs, final_state) = if fused {
                let start = match start {
                    Some((h0, c0)) => Tensor::cat(&[h0, c0], 1)?,
                    None => Tensor::zeros((b, 2 * h), x.dtype(), x.device())?,
                };
                let all = gates_in.contiguous()?.apply_op3(
                    &layer.weight_hh.contiguous()?,
                    &start.contiguous()?,
                    LstmScan { hidden: h },
                )?;
                let end = all.narrow(1, steps - 1, 1)?.squeeze(1)?;
                (
                    all.narrow(2, 0, h)?,
                    (end.narrow(1, 0, h)?, end.narrow(1, h, h)?),
                )
            } else {
                layer.steps(&gates_in, start, h)?
            };
            last.push(final_state);
            input = outputs;
        }
        Ok((input, last))
    }
}

impl LstmLayer {
    /// The recurrence in tensor operations, one step at a time: `(b, T, h)` outputs and the
    /// final `(h, c)`.
    fn steps(
        &self,
        gates_in: &Tensor,
        start: Option<&(Tensor, Tensor)>,
        h: usize,
    ) -> candle_core::Result<(Tensor, (Tensor, Tensor))> {
        let (b, steps, _) = gates_in.dims3()?;
        let zeros = || Tensor::zeros((b, h), gates_in.dtype(), gates_in.device());
        let recurrent = self.weight_hh.t()?;
        let (mut hs, mut cs) = match start {
            Some((h0, c0)) => (h0.clone(), c0.clone()),
            None => (zeros()?, zeros()?),
        };
        let mut outputs = Vec::with_capacity(steps);
        for t in 0..steps {
            let gates = (gates_in.narrow(1, t, 1)?.squeeze(1)? + hs.matmul(&recurrent)?)?;
            let sig = candle_nn::ops::sigmoid(&gates)?;
            let i = sig.narrow(1, 0, h)?;
            let f = sig.narrow(1, h, h)?;
            let g = gates.narrow(1, 2 * h, h)?.tanh()?;
            let o = sig.narrow(1, 3 * h, h)?;
            cs = ((f * &cs)? + (i * g)?)?;
            hs = (o * cs.tanh()?)?;
            outputs.push(hs.clone());
        }
        Ok((Tensor::stack(&outputs, 1)?, (hs, cs)))
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

/// PyOD's hidden block: `Linear → BatchNorm (optional) → ReLU → Dropout`.
#[derive(Debug)]
struct DenseBlock {
    linear: Linear,
    norm: Option<BatchNorm>,
    dropout: f64,
}

impl DenseBlock {
    /// A block named `name` from `sizes.0` to `sizes.1` features.
    pub fn new(
        w: &mut Weights<'_>,
        name: &str,
        sizes: (usize, usize),
        batch_norm: bool,
        dropout: f64,
    ) -> Result<Self> {
        Ok(DenseBlock {
            linear: Linear::new(w, &format!("{name}.linear"), sizes.0, sizes.1)?,
            norm: if batch_norm {
                Some(BatchNorm::new(w, &format!("{name}.norm"), sizes.1)?)
            } else {
                None
            },
            dropout,
        })
    }

    pub fn forward(&self, x: &Tensor, pass: &mut Pass<'_>) -> candle_core::Result<Tensor> {
        let mut x = self.linear.forward(x)?;
        if let Some(norm) = &self.norm {
            x = norm.forward(&x, pass)?;
        }
        dropout(&x.relu()?, self.dropout, pass)
    }
}

/// Dense blocks one after another, named `{name}{i}`.
#[derive(Debug)]
pub struct DenseStack {
    blocks: Vec<DenseBlock>,
    /// The last block's width (the input's when there is none).
    pub width: usize,
}

impl DenseStack {
    /// Blocks from `inputs` features through each of `sizes`.
    pub fn new(
        w: &mut Weights<'_>,
        name: &str,
        inputs: usize,
        sizes: &[usize],
        batch_norm: bool,
        dropout: f64,
    ) -> Result<Self> {
        let mut width = inputs;
        let mut blocks = Vec::with_capacity(sizes.len());
        for (i, &size) in sizes.iter().enumerate() {
            let name = format!("{name}{i}");
            blocks.push(DenseBlock::new(
                w,
                &name,
                (width, size),
                batch_norm,
                dropout,
            )?);
            width = size;
        }
        Ok(DenseStack { blocks, width })
    }

    pub fn forward(&self, x: &Tensor, pass: &mut Pass<'_>) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for b in &self.blocks {
            x = b.forward(&x, pass)?;
        }
        Ok(x)
    }
}

/// Standard normal noise of `shape` from the training pass's seeded stream (a variational
/// model's sampling); `None` in evaluation, where the model takes its mean.
pub fn normal_noise(
    shape: &[usize],
    pass: &mut Pass<'_>,
    device: &candle_core::Device,
) -> candle_core::Result<Option<Tensor>> {
    let Pass::Train(rng) = pass else {
        return Ok(None);
    };
    let n = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|_| rng.sample::<f32, _>(rand_distr::StandardNormal))
        .collect();
    Tensor::from_vec(values, shape, device).map(Some)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use candle_core::Device;

    #[test]
    fn the_convolution_is_pytorchs_conv1d_channels_last() {
        let (b, len, inputs, outputs, kernel) = (3, 11, 2, 4, 3);
        let mut w = Weights::fresh(7, &Device::Cpu);
        let conv = Conv1d::new(&mut w, "c", inputs, outputs, kernel).unwrap();
        let x: Vec<f32> = (0..b * len * inputs)
            .map(|i| ((i * 37 % 11) as f32) / 5.0 - 1.0)
            .collect();
        let input = Tensor::from_vec(x.clone(), (b, len, inputs), &Device::Cpu).unwrap();
        let got: Vec<Vec<Vec<f32>>> = conv.forward(&input).unwrap().to_vec3().unwrap();
        let weight: Vec<Vec<Vec<f32>>> = conv.weight.to_vec3().unwrap();
        let bias: Vec<f32> = conv.bias.to_vec1().unwrap();
        // torch: y[n, o, t] = bias[o] + Σ_i Σ_k weight[o, i, k] · x[n, i, t + k]
        for n in 0..b {
            for t in 0..len + 1 - kernel {
                for o in 0..outputs {
                    let mut want = bias[o];
                    for i in 0..inputs {
                        for k in 0..kernel {
                            want += weight[o][i][k] * x[(n * len + t + k) * inputs + i];
                        }
                    }
                    assert!((got[n][t][o] - want).abs() < 1e-5, "{n} {t} {o}");
                }
            }
        }
    }

    #[test]
    fn batch_norm_normalises_in_training_and_uses_running_statistics_after() {
        let mut w = Weights::fresh(1, &Device::Cpu);
        let bn = BatchNorm::new(&mut w, "bn", 2).unwrap();
        let x = Tensor::from_vec(vec![1f32, 10., 3., 30.], (2, 2), &Device::Cpu).unwrap();
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
        let y: Vec<Vec<f32>> = bn
            .forward(&x, &Pass::Train(&mut rng))
            .unwrap()
            .to_vec2()
            .unwrap();
        // each feature centred and scaled by its biased deviation: ±1 (up to ε)
        assert!(
            (y[0][0] + 1.0).abs() < 1e-3 && (y[1][1] - 1.0).abs() < 1e-3,
            "{y:?}"
        );
        // running mean moved 10 % of the way to the batch mean; variance to the unbiased one
        let mean: Vec<f32> = bn.mean.as_tensor().to_vec1().unwrap();
        let var: Vec<f32> = bn.var.as_tensor().to_vec1().unwrap();
        assert!((mean[0] - 0.2).abs() < 1e-6 && (mean[1] - 2.0).abs() < 1e-5);
        assert!((var[0] - (0.9 + 0.1 * 2.0)).abs() < 1e-5, "{var:?}");
        let e: Vec<Vec<f32>> = bn.forward(&x, &Pass::Eval).unwrap().to_vec2().unwrap();
        let want = (1.0 - 0.2) / (1.1f32 + 1e-5).sqrt();
        assert!((e[0][0] - want).abs() < 1e-5, "{e:?}");
    }

    #[test]
    fn the_lstm_is_pytorchs_stacked_lstm() {
        let (b, steps, inputs, hidden, depth) = (2, 5, 3, 4, 2);
        let mut w = Weights::fresh(3, &Device::Cpu);
        let lstm = Lstm::new(&mut w, "l", inputs, hidden, depth).unwrap();
        let x: Vec<f32> = (0..b * steps * inputs)
            .map(|i| ((i * 29 % 13) as f32) / 6.0 - 1.0)
            .collect();
        let input = Tensor::from_vec(x.clone(), (b, steps, inputs), &Device::Cpu).unwrap();
        let (out, state) = lstm.forward_with(&input, None, false).unwrap();
        let out: Vec<Vec<Vec<f32>>> = out.to_vec3().unwrap();
        let sigmoid = |v: f32| 1.0 / (1.0 + (-v).exp());
        // torch's definition, one scalar at a time: gates = W_ih x + b_ih + W_hh h + b_hh,
        // (i, f, g, o) = (σ, σ, tanh, σ), c' = f c + i g, h' = o tanh(c')
        for n in 0..b {
            let mut seq: Vec<Vec<f32>> = (0..steps)
                .map(|t| x[(n * steps + t) * inputs..(n * steps + t + 1) * inputs].to_vec())
                .collect();
            for (k, layer) in lstm.layers.iter().enumerate() {
                let wih: Vec<Vec<f32>> = layer.weight_ih.to_vec2().unwrap();
                let whh: Vec<Vec<f32>> = layer.weight_hh.to_vec2().unwrap();
                let bih: Vec<f32> = layer.bias_ih.to_vec1().unwrap();
                let bhh: Vec<f32> = layer.bias_hh.to_vec1().unwrap();
                let (mut h, mut c) = (vec![0f32; hidden], vec![0f32; hidden]);
                let mut next = Vec::new();
                for xt in &seq {
                    let gate = |r: usize| {
                        let mut v = bih[r] + bhh[r];
                        v += wih[r].iter().zip(xt).map(|(a, b)| a * b).sum::<f32>();
                        v + whh[r].iter().zip(&h).map(|(a, b)| a * b).sum::<f32>()
                    };
                    let mut h2 = vec![0f32; hidden];
                    for j in 0..hidden {
                        let i = sigmoid(gate(j));
                        let f = sigmoid(gate(hidden + j));
                        let g = gate(2 * hidden + j).tanh();
                        let o = sigmoid(gate(3 * hidden + j));
                        c[j] = f * c[j] + i * g;
                        h2[j] = o * c[j].tanh();
                    }
                    h = h2;
                    next.push(h.clone());
                }
                let last_h: Vec<Vec<f32>> = state[k].0.to_vec2().unwrap();
                let last_c: Vec<Vec<f32>> = state[k].1.to_vec2().unwrap();
                for j in 0..hidden {
                    assert!((last_h[n][j] - h[j]).abs() < 1e-5, "layer {k} h");
                    assert!((last_c[n][j] - c[j]).abs() < 1e-5, "layer {k} c");
                }
                seq = next;
            }
            for (t, want) in seq.iter().enumerate() {
                for j in 0..hidden {
                    assert!((out[n][t][j] - want[j]).abs() < 1e-5, "{n} {t} {j}");
                }
            }
        }
    }

    /// Every value of `t`, flattened.
    fn flat(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }

    #[test]
    fn the_fused_lstm_scan_has_the_step_by_step_values_and_gradients() {
        let (b, steps, inputs, hidden, depth) = (3, 7, 2, 5, 2);
        let mut w = Weights::fresh(11, &Device::Cpu);
        let lstm = Lstm::new(&mut w, "l", inputs, hidden, depth).unwrap();
        let x: Vec<f32> = (0..b * steps * inputs)
            .map(|i| ((i * 17 % 23) as f32) / 9.0 - 1.2)
            .collect();
        let input = Tensor::from_vec(x, (b, steps, inputs), &Device::Cpu).unwrap();
        // a start state, so that its gradient is exercised too
        let start: LstmState = (0..depth)
            .map(|k| {
                let v = |s: f32| {
                    let data = (0..b * hidden)
                        .map(|i| ((i as f32) * s).sin() * 0.5)
                        .collect();
                    Var::from_vec(data, (b, hidden), &Device::Cpu).unwrap()
                };
                (v(0.3 + k as f32), v(0.7 + k as f32))
            })
            .collect::<Vec<(Var, Var)>>()
            .iter()
            .map(|(h, c)| (h.as_tensor().clone(), c.as_tensor().clone()))
            .collect();
        let run = |fused: bool| {
            let (out, end) = lstm.forward_with(&input, Some(&start), fused).unwrap();
            // a loss touching every output and the final cell states
            let loss =
                (out.sqr().unwrap().sum_all().unwrap() + end[1].1.sum_all().unwrap()).unwrap();
            let grads = loss.backward().unwrap();
            let mut all = flat(&out);
            for (hh, cc) in &end {
                all.extend(flat(hh));
                all.extend(flat(cc));
            }
            let mut g = Vec::new();
            for var in w.trainable() {
                g.extend(flat(grads.get(var.as_tensor()).unwrap()));
            }
            for (h0, c0) in &start {
                g.extend(flat(grads.get(h0).unwrap()));
                g.extend(flat(grads.get(c0).unwrap()));
            }
            (all, g)
        };
        let (values, grads) = run(false);
        let (fused_values, fused_grads) = run(true);
        assert_eq!(values.len(), fused_values.len());
        assert_eq!(grads.len(), fused_grads.len());
        for (a, b) in values.iter().zip(&fused_values) {
            assert!((a - b).abs() < 1e-5, "value {a} vs {b}");
        }
        for (i, (a, b)) in grads.iter().zip(&fused_grads).enumerate() {
            assert!(
                (a - b).abs() < 1e-4 * (1.0 + a.abs()),
                "gradient {i}: {a} vs {b}"
            );
        }
    }
}
