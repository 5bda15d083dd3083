//! HBOS: histogram-based outlier score (Goldstein & Dengel, "Histogram-based Outlier Score
//! (HBOS): A fast Unsupervised Anomaly Detection Algorithm", KI 2012), as PyOD computes it.
//!
//! Every feature gets an equal-width histogram of `n_bins` bins over its training range (numpy's
//! `histogram(density=True)`); a value's term is `log2(density + alpha)` of its bin, and values
//! outside the range take the edge bin when within `tol` bin widths of it, else the lowest term.
//! The score is minus the sum of the terms. Cost: O(n · d) to fit and to score.

use crate::VectorKernel;
use anomex_core::{Params, Result};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// HBOS.
#[derive(Debug, Clone)]
pub struct Hbos {
    n_bins: usize,
    alpha: f64,
    tol: f64,
}

/// Per feature: bin edges and the log-density term of each bin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HbosState {
    pub edges: Vec<Vec<f64>>,
    pub terms: Vec<Vec<f64>>,
}

/// numpy's `histogram(x, bins, density=True)`: edges and densities.
fn histogram(x: &[f64], bins: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut lo, mut hi) = x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if lo == hi {
        lo -= 0.5;
        hi += 0.5;
    }
    let edges = anomex_core::stats::linspace(lo, hi, bins + 1);
    let norm = bins as f64 / (hi - lo);
    let mut counts = vec![0usize; bins];
    for &v in x {
        let mut k = (((v - lo) * norm) as usize).min(bins);
        if k == bins {
            k -= 1;
        }
        if v < edges[k] && k > 0 {
            k -= 1;
        } else if k + 1 < bins && v >= edges[k + 1] {
            k += 1;
        }
        counts[k] += 1;
    }
    let n = x.len() as f64;
    let density = counts
        .iter()
        .enumerate()
        .map(|(k, &c)| c as f64 / (n * (edges[k + 1] - edges[k])))
        .collect();
    (edges, density)
}

impl Hbos {
    fn term(&self, st: &HbosState, j: usize, v: f64) -> f64 {
        let (edges, terms) = (&st.edges[j], &st.terms[j]);
        let bins = terms.len();
        let lowest = terms.iter().copied().fold(f64::INFINITY, f64::min);
        // numpy's digitize(right=True), as PyOD calls it: index i with edges[i−1] < v ≤ edges[i]
        let idx = edges.partition_point(|&e| e < v);
        if idx == 0 {
            let width = edges[1] - edges[0];
            if edges[0] - v <= width * self.tol {
                terms[0]
            } else {
                lowest
            }
        } else if idx == bins + 1 {
            let width = edges[bins] - edges[bins - 1];
            if v - edges[bins] <= width * self.tol {
                terms[bins - 1]
            } else {
                lowest
            }
        } else {
            terms[idx - 1]
        }
    }
}

impl VectorKernel for Hbos {
    type State = HbosState;
    const NAME: &'static str = "hbos";
    const WINDOWED_NAME: Option<&'static str> = Some("sub_hbos");
    fn from_params(p: &Params) -> Result<Self> {
        Ok(Hbos {
            n_bins: p.usize("n_bins")?,
            alpha: p.f64("alpha")?,
            tol: p.f64("tol")?,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(HbosState, Vec<f64>)> {
        crate::need_rows(x, 2, "HBOS")?;
        let (mut edges, mut terms) = (Vec::new(), Vec::new());
        for j in 0..x.ncols() {
            let (e, density) = histogram(&x.column(j).to_vec(), self.n_bins);
            terms.push(density.iter().map(|d| (d + self.alpha).log2()).collect());
            edges.push(e);
        }
        let st = HbosState { edges, terms };
        let scores = self.score(&st, x)?;
        Ok((st, scores))
    }
    fn score(&self, st: &HbosState, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        Ok(x.rows()
            .into_iter()
            .map(|row| {
                -row.iter()
                    .enumerate()
                    .map(|(j, &v)| self.term(st, j, v))
                    .sum::<f64>()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_matches_numpy() {
        // numpy.histogram([1, 2, 2, 3, 10], bins=3, density=True)
        let (edges, density) = histogram(&[1.0, 2.0, 2.0, 3.0, 10.0], 3);
        assert_eq!(edges, vec![1.0, 4.0, 7.0, 10.0]);
        let expected = [4.0 / 15.0, 0.0, 1.0 / 15.0];
        for (d, e) in density.iter().zip(expected) {
            assert!((d - e).abs() < 1e-15);
        }
    }
}
