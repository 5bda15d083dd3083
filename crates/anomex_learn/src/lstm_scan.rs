//! The recurrent part of an LSTM layer as one fused CPU operation, forward and backward.
//!
//! # Why
//!
//! Written with tensor operations, every time step of an LSTM is a dozen small operations
//! (a `(batch, h) × (h, 4h)` product, gate slices, sigmoids, products), each allocating and each
//! recorded for the backward pass: with TSB-AD's 20 hidden units and 100 steps the cost is the
//! bookkeeping, not the arithmetic, and training ran at a quarter of PyTorch's speed. Here the
//! whole scan over time is one operation: the forward loop keeps each batch row's state in two
//! short slices and stores every step's activated gates beside its `h_t, c_t`, and the backward
//! pass walks time in reverse from them. The sigmoids and tanhs use a branch-free `exp` that
//! loops vectorise (libm's is called one value at a time and was a third of the scan), and the
//! recurrent products keep blocks of outputs in registers ([`add_product`]). Each row's loop is
//! written once and compiled for the widest instruction set the CPU has through `pulp`'s
//! dispatch (AVX-512, AVX2 with FMA, or plain).
//!
//! The input's contribution to the gates (`x·W_ihᵀ + b`) stays outside, one large matrix product
//! over the whole sequence that candle differentiates itself. Batch rows are independent and
//! are split over threads. [`Lstm`](crate::layers::Lstm) uses this on the CPU and falls back to
//! step-by-step tensor operations elsewhere; the tests hold both to the same values and
//! gradients.

use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// Runs `h_t, c_t` over time from the precomputed input gates.
///
/// Arguments: `gates_in (b, T, 4h)` (`x_t·W_ihᵀ + b_ih + b_hh`), `w_hh (4h, h)`, and the start
/// state `(b, 2h)` (`h₀` then `c₀`). Result: `(b, T, 6h)`, each step's `h_t`, `c_t` and its
/// activated gates `i, f, g, o` (kept for the backward pass).
#[derive(Debug, Clone, Copy)]
pub struct LstmScan {
    pub hidden: usize,
}

/// `eˣ` in f32 without a branch, so that a loop over it vectorises: `x = k·ln 2 + r` with
/// `|r| ≤ ln 2 / 2`, `eʳ` by its degree-6 Taylor polynomial (relative error below 2·10⁻⁷) and
/// `2ᵏ` written into the exponent bits; `x` is clamped to the range where `eˣ` is a normal f32.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // adding and removing 1.5·2²³ rounds to the nearest integer
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let rounded = x * LOG2E + ROUND;
    let k = rounded - ROUND;
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (1.0 / 2.0
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // k itself sits in the low bits of `rounded` (an integer float cast would not vectorise)
    let two_k = (rounded
        .to_bits()
        .wrapping_sub(ROUND.to_bits())
        .wrapping_add(127))
        << 23;
    p * f32::from_bits(two_k)
}

#[inline(always)]
fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + exp(-v))
}

#[inline(always)]
fn tanh(v: f32) -> f32 {
    2.0 * sigmoid(2.0 * v) - 1.0
}

/// A contiguous f32 slice of a CPU tensor's storage.
fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let data = match s {
        CpuStorage::F32(v) => v.as_slice(),
        _ => candle_core::bail!("lstm scan: {what} must be f32"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("lstm scan: {what} must be contiguous"),
    }
}

/// `w_hh (4h, h)` transposed to `(h, 4h)`, so that a step's recurrent product adds contiguous
/// rows of width `4h`.
fn transposed(w: &[f32], h: usize) -> Vec<f32> {
    let g = 4 * h;
    let mut t = vec![0f32; g * h];
    for r in 0..g {
        for k in 0..h {
            t[k * g + r] = w[r * h + k];
        }
    }
    t
}

/// `acc += a · x`, element-wise.
#[inline(always)]
fn axpy(acc: &mut [f32], a: f32, x: &[f32]) {
    for (y, &v) in acc.iter_mut().zip(x) {
        *y += a * v;
    }
}

/// `out[j] += Σₖ x[k] · m[k, j]` for a row-major `m` of `x.len()` rows: blocks of outputs held
/// in registers while `k` runs, in four partial sums over `k` so that the additions do not wait
/// on one another (accumulating in `out` itself chained every `k` through a store and a load,
/// and one sum per output chained them through the adder: each was most of the scan's time).
#[inline(always)]
fn add_product(out: &mut [f32], x: &[f32], m: &[f32]) {
    #[inline(always)]
    fn block<const L: usize>(out: &mut [f32], x: &[f32], m: &[f32], at: usize) {
        let n = out.len();
        let row = |k: usize| -> &[f32; L] {
            m[k * n + at..k * n + at + L]
                .try_into()
                .unwrap_or_else(|_| unreachable!("a block lies inside its row"))
        };
        let (mut a0, mut a1, mut a2, mut a3) = ([0f32; L], [0f32; L], [0f32; L], [0f32; L]);
        let mut k = 0;
        while k + 4 <= x.len() {
            let (r0, r1, r2, r3) = (row(k), row(k + 1), row(k + 2), row(k + 3));
            for j in 0..L {
                a0[j] += x[k] * r0[j];
                a1[j] += x[k + 1] * r1[j];
                a2[j] += x[k + 2] * r2[j];
                a3[j] += x[k + 3] * r3[j];
            }
            k += 4;
        }
        while k < x.len() {
            let r = row(k);
            for j in 0..L {
                a0[j] += x[k] * r[j];
            }
            k += 1;
        }
        for (j, o) in out[at..at + L].iter_mut().enumerate() {
            *o += (a0[j] + a1[j]) + (a2[j] + a3[j]);
        }
    }
    let n = out.len();
    let mut at = 0;
    while at + 16 <= n {
        block::<16>(out, x, m, at);
        at += 16;
    }
    while at + 4 <= n {
        block::<4>(out, x, m, at);
        at += 4;
    }
    while at < n {
        block::<1>(out, x, m, at);
        at += 1;
    }
}

/// One step's activated gates `(i, f, g, o)` into `act` from the input gates and `h_prev`.
#[inline(always)]
fn gates(input: &[f32], h_prev: &[f32], wt: &[f32], act: &mut [f32]) {
    let h = h_prev.len();
    act.copy_from_slice(input);
    add_product(act, h_prev, wt);
    let (ifg, o) = act.split_at_mut(3 * h);
    let (i_f, g) = ifg.split_at_mut(2 * h);
    for a in i_f {
        *a = sigmoid(*a);
    }
    for a in g {
        *a = tanh(*a);
    }
    for a in o {
        *a = sigmoid(*a);
    }
}

/// The forward scan of one batch row: `out` is its `(T, 6h)` block. A [`WithSimd`] operation,
/// so that [`Arch::dispatch`] compiles it for the widest instruction set the CPU has.
struct ForwardRow<'a> {
    gates_in: &'a [f32],
    wt: &'a [f32],
    start: &'a [f32],
    out: &'a mut [f32],
    h: usize,
}

impl WithSimd for ForwardRow<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) {
        let ForwardRow {
            gates_in,
            wt,
            start,
            out,
            h,
        } = self;
        let (mut h_prev, mut c) = (start[..h].to_vec(), start[h..].to_vec());
        for (input, step) in gates_in
            .chunks_exact(4 * h)
            .zip(out.chunks_exact_mut(6 * h))
        {
            let (hc, act) = step.split_at_mut(2 * h);
            gates(input, &h_prev, wt, act);
            let (i_f, go) = act.split_at(2 * h);
            let (i, f) = i_f.split_at(h);
            let (g, o) = go.split_at(h);
            let (hs, cs) = hc.split_at_mut(h);
            for ((((c, &i), &f), &g), cs) in c.iter_mut().zip(i).zip(f).zip(g).zip(cs.iter_mut()) {
                *c = f * *c + i * g;
                *cs = *c;
            }
            for ((hs, &c), &o) in hs.iter_mut().zip(cs.iter()).zip(o) {
                *hs = o * tanh(c);
            }
            h_prev.copy_from_slice(hs);
        }
    }
}

/// The backward scan of one batch row. `out` and `d_out` are its `(T, 6h)` blocks of the
/// result and of the result's gradient; writes the input gates' gradient `(T, 4h)` and the
/// start state's `(2h)`, and adds its share of `W_hh`'s gradient `(4h, h)` to `d_w`.
struct BackwardRow<'a> {
    out: &'a [f32],
    d_out: &'a [f32],
    w: &'a [f32],
    start: &'a [f32],
    d_gates: &'a mut [f32],
    d_start: &'a mut [f32],
    d_w: &'a mut [f32],
    h: usize,
}

impl WithSimd for BackwardRow<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) {
        let BackwardRow {
            out,
            d_out,
            w,
            start,
            d_gates,
            d_start,
            d_w,
            h,
        } = self;
        let width = 6 * h;
        let steps = out.len() / width;
        let mut tc = vec![0f32; h];
        let mut dc = vec![0f32; h];
        let (dh_next, dc_next) = d_start.split_at_mut(h);
        for t in (0..steps).rev() {
            let prev = if t == 0 {
                start
            } else {
                &out[(t - 1) * width..(t - 1) * width + 2 * h]
            };
            let (h_prev, c_prev) = prev.split_at(h);
            let (hc, act) = out[t * width..(t + 1) * width].split_at(2 * h);
            let (i_f, go) = act.split_at(2 * h);
            let (i, f) = i_f.split_at(h);
            let (g, o) = go.split_at(h);
            let (d_h, d_c) = d_out[t * width..t * width + 2 * h].split_at(h);
            for (v, &c) in tc.iter_mut().zip(&hc[h..]) {
                *v = tanh(c);
            }
            let da = &mut d_gates[t * 4 * h..(t + 1) * 4 * h];
            let (da_if, da_go) = da.split_at_mut(2 * h);
            let (da_i, da_f) = da_if.split_at_mut(h);
            let (da_g, da_o) = da_go.split_at_mut(h);
            for j in 0..h {
                // h's gradient: from this step's output and from the next step
                let dh = d_h[j] + dh_next[j];
                da_o[j] = dh * tc[j] * o[j] * (1.0 - o[j]);
                dc[j] = d_c[j] + dc_next[j] + dh * o[j] * (1.0 - tc[j] * tc[j]);
            }
            for j in 0..h {
                da_i[j] = dc[j] * g[j] * i[j] * (1.0 - i[j]);
                da_f[j] = dc[j] * c_prev[j] * f[j] * (1.0 - f[j]);
                da_g[j] = dc[j] * i[j] * (1.0 - g[j] * g[j]);
                dc_next[j] = dc[j] * f[j];
            }
            // dh_{t−1} = W_hhᵀ·da and dW_hh += da·h_{t−1}ᵀ, as row updates of width h
            dh_next.fill(0.0);
            add_product(dh_next, da, w);
            for (&d, dw_row) in da.iter().zip(d_w.chunks_exact_mut(h)) {
                axpy(dw_row, d, h_prev);
            }
        }
    }
}

impl LstmScan {
    fn dims(&self, l1: &Layout, l2: &Layout, l3: &Layout) -> Result<(usize, usize)> {
        let h = self.hidden;
        let (b, steps, g) = l1.shape().dims3()?;
        if g != 4 * h || l2.shape().dims2()? != (4 * h, h) || l3.shape().dims2()? != (b, 2 * h) {
            candle_core::bail!("lstm scan: shapes do not agree with {h} hidden units");
        }
        Ok((b, steps))
    }
}

impl CustomOp3 for LstmScan {
    fn name(&self) -> &'static str {
        "lstm-scan"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let h = self.hidden;
        let (b, steps) = self.dims(l1, l2, l3)?;
        let (gates_in, w, start) = (
            slice(s1, l1, "gates")?,
            slice(s2, l2, "weights")?,
            slice(s3, l3, "state")?,
        );
        let wt = transposed(w, h);
        let mut out = vec![0f32; b * steps * 6 * h];
        out.par_chunks_mut(steps * 6 * h)
            .zip(gates_in.par_chunks(steps * 4 * h))
            .zip(start.par_chunks(2 * h))
            .for_each(|((out, gates_in), start)| {
                Arch::new().dispatch(ForwardRow {
                    gates_in,
                    wt: &wt,
                    start,
                    out,
                    h,
                })
            });
        Ok((CpuStorage::F32(out), Shape::from((b, steps, 6 * h))))
    }

    fn bwd(
        &self,
        gates_in: &Tensor,
        w_hh: &Tensor,
        start: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let h = self.hidden;
        let (b, steps, _) = gates_in.dims3()?;
        let flat = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
        let (w, st, out, d_out) = (flat(w_hh)?, flat(start)?, flat(res)?, flat(grad)?);
        let mut d_gates = vec![0f32; b * steps * 4 * h];
        let mut d_start = vec![0f32; b * 2 * h];
        // groups of rows in parallel, each row writing its own gradients; W_hh's is summed per
        // group and then over the groups in order, so that the sum does not depend on how the
        // work was split between threads (the same seed must give the same model)
        const GROUP: usize = 8;
        let per_group: Vec<Vec<f32>> = d_gates
            .par_chunks_mut(GROUP * steps * 4 * h)
            .zip(d_start.par_chunks_mut(GROUP * 2 * h))
            .zip(out.par_chunks(GROUP * steps * 6 * h))
            .zip(d_out.par_chunks(GROUP * steps * 6 * h))
            .zip(st.par_chunks(GROUP * 2 * h))
            .map(|((((d_gates, d_start), out), d_out), start)| {
                let mut d_w = vec![0f32; 4 * h * h];
                let rows = d_gates
                    .chunks_mut(steps * 4 * h)
                    .zip(d_start.chunks_mut(2 * h))
                    .zip(out.chunks(steps * 6 * h))
                    .zip(d_out.chunks(steps * 6 * h))
                    .zip(start.chunks(2 * h));
                for ((((d_gates, d_start), out), d_out), start) in rows {
                    Arch::new().dispatch(BackwardRow {
                        out,
                        d_out,
                        w: &w,
                        start,
                        d_gates,
                        d_start,
                        d_w: &mut d_w,
                        h,
                    });
                }
                d_w
            })
            .collect();
        let mut d_w = vec![0f32; 4 * h * h];
        for group in &per_group {
            for (acc, v) in d_w.iter_mut().zip(group) {
                *acc += v;
            }
        }
        let device = gates_in.device();
        Ok((
            Some(Tensor::from_vec(d_gates, (b, steps, 4 * h), device)?),
            Some(Tensor::from_vec(d_w, (4 * h, h), device)?),
            Some(Tensor::from_vec(d_start, (b, 2 * h), device)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_branch_free_exp_is_within_a_few_ulp_of_libms() {
        let mut worst = 0f64;
        for i in -8000..=8000 {
            let x = i as f32 * 0.01;
            let want = f64::from(x).exp();
            worst = worst.max(((f64::from(exp(x)) - want) / want).abs());
        }
        assert!(worst < 4e-7, "relative error {worst}");
        // saturates rather than overflowing
        assert!(exp(1000.0).is_finite() && exp(-1000.0) >= 0.0);
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-7 && (tanh(0.5) - 0.5f32.tanh()).abs() < 1e-6);
    }
}
