//! Exact matrix profile (self-join, z-normalised Euclidean distance) and its discord score.
//!
//! The algorithm is the diagonal-update family of STOMP (Zhu et al., ICDM 2016) in the
//! mean-centred form of SCAMP (Zimmerman et al., SoCC 2019): along each diagonal the centred
//! cross-product is updated in O(1) per cell,
//! `c(i, j) = c(i−1, j−1) + df_i·dg_j + df_j·dg_i`, the Pearson correlation is
//! `ρ = c · inv_i · inv_j`, and the distance `d = sqrt(2m(1 − ρ))`. Cells are processed row by
//! row over a block of diagonals, so the inner loop runs over contiguous memory and vectorises;
//! blocks run in parallel with rayon and each worker keeps its own profile, merged by maximum.
//! Pairs closer than the exclusion zone `ceil(m/4)` are trivial matches and skipped, as in
//! stumpy. Constant subsequences follow stumpy's convention: distance 0 between two constant
//! subsequences, `sqrt(m)` between a constant and a non-constant one.
//!
//! Cost: O(n²) time (half the distance matrix), O(n) memory per worker. The discord score of a
//! point is the matrix-profile value of the subsequence centred on it (TSB-AD's padding).

use crate::period::find_length;
use anomex_core::channelwise::{check_range, SeriesKernel};
use anomex_core::windows::{check_window, window_scores_to_points};
use anomex_core::{About, Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Diagonals processed together; sized so the block's working set stays in L2.
const BLOCK: usize = 1024;
/// A subsequence whose standard deviation is below this (relative to its scale) is constant.
const CONSTANT_STD: f64 = 1e-10;

/// The exclusion zone stumpy uses: `ceil(m / 4)`.
pub fn exclusion_zone(m: usize) -> usize {
    m.div_ceil(4)
}

struct Prepared {
    df: Vec<f64>,
    dg: Vec<f64>,
    inv: Vec<f64>,
    constant: Vec<bool>,
    mean: Vec<f64>,
}

fn prepare(t: &[f64], m: usize) -> Prepared {
    let l = t.len() - m + 1;
    let mut mean = vec![0.0; l];
    let mut inv = vec![0.0; l];
    let mut constant = vec![false; l];
    for i in 0..l {
        let w = &t[i..i + m];
        let mu = w.iter().sum::<f64>() / m as f64;
        let ss: f64 = w.iter().map(|v| (v - mu) * (v - mu)).sum();
        mean[i] = mu;
        let sd = (ss / m as f64).sqrt();
        if sd <= CONSTANT_STD * (1.0 + mu.abs()) {
            constant[i] = true;
        } else {
            inv[i] = 1.0 / ss.sqrt();
        }
    }
    let mut df = vec![0.0; l];
    let mut dg = vec![0.0; l];
    for i in 1..l {
        df[i] = (t[i + m - 1] - t[i - 1]) / 2.0;
        dg[i] = (t[i + m - 1] - mean[i]) + (t[i - 1] - mean[i - 1]);
    }
    Prepared {
        df,
        dg,
        inv,
        constant,
        mean,
    }
}

/// Maximum Pearson correlation of every subsequence with any non-trivial match, over the
/// diagonals `k0..k1` (`j = i + k`). Entries without any pair stay at `-inf`.
fn block_correlations(t: &[f64], m: usize, p: &Prepared, k0: usize, k1: usize, best: &mut [f64]) {
    let l = p.inv.len();
    let width = k1 - k0;
    // centred cross-products of row 0 with columns k0..k1
    let mut cov: Vec<f64> = (k0..k1)
        .map(|j| {
            (0..m)
                .map(|s| (t[s] - p.mean[0]) * (t[j + s] - p.mean[j]))
                .sum()
        })
        .collect();
    for i in 0..l - k0 {
        let len = width.min(l - i - k0);
        let j0 = i + k0;
        if i > 0 {
            let (dfi, dgi) = (p.df[i], p.dg[i]);
            let df = &p.df[j0..j0 + len];
            let dg = &p.dg[j0..j0 + len];
            for ((c, &dfj), &dgj) in cov[..len].iter_mut().zip(df).zip(dg) {
                *c += dfi * dgj + dfj * dgi;
            }
        }
        let invi = p.inv[i];
        let mut row_best = best[i];
        let inv = &p.inv[j0..j0 + len];
        let col = &mut best[j0..j0 + len];
        for ((&c, &invj), b) in cov[..len].iter().zip(inv).zip(col.iter_mut()) {
            let r = c * invi * invj;
            if r > *b {
                *b = r;
            }
            if r > row_best {
                row_best = r;
            }
        }
        best[i] = row_best;
    }
}

/// Exact matrix profile of `t` with subsequence length `m`: for every subsequence, the
/// z-normalised Euclidean distance to its nearest non-trivial match.
pub fn matrix_profile(t: &[f64], m: usize) -> Result<Vec<f64>> {
    check_window(m, t.len())?;
    if let Some(i) = t.iter().position(|v| !v.is_finite()) {
        return Err(Error::input(format!("non-finite value at point {i}")));
    }
    let l = t.len() - m + 1;
    let excl = exclusion_zone(m);
    if l <= excl + 1 {
        return Err(Error::input(format!(
            "the series ({} points) is too short for window {m}: no subsequence has a \
             non-trivial match (needs at least {} points)",
            t.len(),
            m + excl + 1
        )));
    }
    let p = prepare(t, m);
    let starts: Vec<usize> = (excl + 1..l).step_by(BLOCK).collect();
    let best = starts
        .par_iter()
        .fold(
            || vec![f64::NEG_INFINITY; l],
            |mut best, &k0| {
                block_correlations(t, m, &p, k0, (k0 + BLOCK).min(l), &mut best);
                best
            },
        )
        .reduce(
            || vec![f64::NEG_INFINITY; l],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, &y)| *x = x.max(y));
                a
            },
        );
    let mut best = best;
    fix_constant_subsequences(&p.constant, excl, &mut best);
    let mf = m as f64;
    Ok(best
        .iter()
        .map(|&r| (2.0 * mf * (1.0 - r.min(1.0))).max(0.0).sqrt())
        .collect())
}

/// Applies stumpy's convention for constant subsequences (correlation 1 between two constant
/// ones, 0.5 between a constant and a non-constant one, i.e. distance sqrt(m)). The main loop
/// saw correlation 0 for every pair involving a constant subsequence.
fn fix_constant_subsequences(constant: &[bool], excl: usize, best: &mut [f64]) {
    if !constant.iter().any(|&c| c) {
        return;
    }
    let l = constant.len();
    // prefix counts of constant subsequences
    let mut pre = vec![0usize; l + 1];
    for i in 0..l {
        pre[i + 1] = pre[i] + usize::from(constant[i]);
    }
    let count = |a: usize, b: usize| if a >= b { 0 } else { pre[b] - pre[a] };
    for i in 0..l {
        // candidates outside the exclusion zone: [0, i-excl) and (i+excl, l)
        let left_end = i.saturating_sub(excl);
        let right_start = (i + excl + 1).min(l);
        let outside = left_end + (l - right_start);
        let const_outside = count(0, left_end) + count(right_start, l);
        if constant[i] {
            if const_outside > 0 {
                best[i] = 1.0;
            } else if outside > 0 {
                best[i] = best[i].max(0.5);
            }
        } else if const_outside > 0 {
            best[i] = best[i].max(0.5);
        }
    }
}

/// Matrix-profile discord detector.
#[derive(Debug, Clone)]
pub struct MatrixProfile {
    window: Option<usize>,
}

/// Learned state: the resolved subsequence length.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct MpState {
    pub window: usize,
}

anomex_core::params! {
    /// Parameters of [`MatrixProfile`].
    pub struct MatrixProfileParams {
        /// window length in points; auto = TSB-AD's autocorrelation rule
        pub window: Option<usize> = None, in 2..=crate::MAX_WINDOW;
    }
}

impl SeriesKernel for MatrixProfile {
    type Params = MatrixProfileParams;
    type State = MpState;
    const ABOUT: About = About {
        name: "matrix_profile",
        class: "MatrixProfile",
        summary: "matrix-profile discord: z-normalised distance to the nearest non-trivial match (STOMP/SCAMP)",
    };
    fn new(p: &MatrixProfileParams) -> Result<Self> {
        Ok(MatrixProfile { window: p.window })
    }
    fn fit(&self, train: &[f64]) -> Result<MpState> {
        let window = self.window.unwrap_or_else(|| find_length(train));
        Ok(MpState { window })
    }
    fn score(&self, state: &MpState, x: &[f64]) -> Result<Vec<f64>> {
        let mp = matrix_profile(x, state.window)?;
        Ok(window_scores_to_points(&mp, state.window))
    }
    fn check(&self, state: &MpState) -> Result<()> {
        check_range(
            "matrix_profile",
            "window",
            state.window,
            2..=crate::MAX_WINDOW as usize,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn znorm_dist(a: &[f64], b: &[f64]) -> f64 {
        let z = |x: &[f64]| {
            let mu = x.iter().sum::<f64>() / x.len() as f64;
            let sd = (x.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
            x.iter().map(|v| (v - mu) / sd).collect::<Vec<_>>()
        };
        let (za, zb) = (z(a), z(b));
        za.iter()
            .zip(&zb)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    fn naive(t: &[f64], m: usize) -> Vec<f64> {
        let l = t.len() - m + 1;
        let excl = exclusion_zone(m);
        (0..l)
            .map(|i| {
                (0..l)
                    .filter(|&j| i.abs_diff(j) > excl)
                    .map(|j| znorm_dist(&t[i..i + m], &t[j..j + m]))
                    .fold(f64::INFINITY, f64::min)
            })
            .collect()
    }

    fn walk(n: usize) -> Vec<f64> {
        let mut s = 12345u64;
        let mut v = 100.0;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                v += ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
                v
            })
            .collect()
    }

    #[test]
    fn equals_brute_force() {
        // longer than one block of diagonals, so several blocks and the merge are exercised
        for (n, m) in [(60, 4), (300, 10), (1500, 16)] {
            let t = walk(n);
            let fast = matrix_profile(&t, m).unwrap();
            let slow = naive(&t, m);
            for (i, (a, b)) in fast.iter().zip(&slow).enumerate() {
                assert!((a - b).abs() < 1e-7, "n={n} m={m} i={i}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn constant_subsequences_follow_stumpy() {
        let mut t = walk(80);
        for v in &mut t[10..30] {
            *v = 3.0;
        }
        let mp = matrix_profile(&t, 5).unwrap();
        // subsequences 10..=25 are constant and have a constant partner outside the zone
        assert_eq!(mp[10], 0.0);
        assert!(mp[50] <= 5f64.sqrt() + 1e-12);
    }

    #[test]
    fn too_short_is_an_error() {
        let err = matrix_profile(&walk(12), 10).unwrap_err().to_string();
        assert!(err.contains("too short"), "{err}");
    }
}
