//! ECOD and COPOD: outlier scores from empirical tail probabilities, as PyOD computes them.
//!
//! For every feature, the left tail `U_l = −ln F(x)` and the right tail `U_r = −ln F̄(x)` come
//! from the empirical CDF of the data (`F(x)` = share of values `≤ x`, `F̄(x)` = share `≥ x`), and
//! the skewness of the feature picks the tail that matters: `U_skew = U_r` for positive skew,
//! `U_l` for negative, `U_l + U_r` for none.
//! * ECOD (Li, Zhao, Hu, Botta, Ionescu & Chen, "ECOD: Unsupervised Outlier Detection Using
//!   Empirical Cumulative Distribution Functions", TKDE 2022): Σ_j max(U_l, U_r, U_skew).
//! * COPOD (Li, Zhao, Botta, Ionescu & Hu, "COPOD: Copula-Based Outlier Detection", ICDM 2020):
//!   Σ_j max(U_skew, (U_l + U_r)/2).
//!
//! As in PyOD, new rows are scored by recomputing the distributions on the training rows plus the
//! new rows (so the model keeps its training rows). Per-feature contributions are the terms of the
//! sum. Cost: O(n log n · d).

use crate::VectorKernel;
use anomex_core::{Params, Result};
use ndarray::{concatenate, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

/// scipy's biased skewness `m3 / m2^1.5`, 0 for a (numerically) constant feature.
fn skewness(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let m2 = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let m3 = x.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / n;
    if m2 <= (f64::EPSILON * mean).powi(2) {
        0.0
    } else {
        m3 / m2.powf(1.5)
    }
}

/// Per-feature tail terms `(U_l, U_r, U_skew)` of every row.
fn tails(x: ArrayView2<'_, f64>) -> Vec<Vec<(f64, f64, f64)>> {
    let (n, d) = x.dim();
    let mut out = vec![vec![(0.0, 0.0, 0.0); d]; n];
    for (j, column) in x.columns().into_iter().enumerate() {
        let col = column.to_vec();
        let mut sorted = col.clone();
        sorted.sort_by(f64::total_cmp);
        let sign = skewness(&col).signum();
        let sign = if sign == 0.0 || sign.is_nan() {
            0.0
        } else {
            sign
        };
        for (i, &v) in col.iter().enumerate() {
            let at_most = sorted.partition_point(|&s| s <= v) as f64;
            let at_least = (n - sorted.partition_point(|&s| s < v)) as f64;
            let ul = -(at_most / n as f64).ln();
            let ur = -(at_least / n as f64).ln();
            // PyOD: U_l · −sign(s − 1) + U_r · sign(s + 1) with s ∈ {−1, 0, 1}
            let skew = if sign > 0.0 {
                ur
            } else if sign < 0.0 {
                ul
            } else {
                ul + ur
            };
            out[i][j] = (ul, ur, skew);
        }
    }
    out
}

/// Training rows, kept to score new rows against the joint distribution (PyOD's behaviour).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainRows {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f64>,
}

fn scores_with(
    train: &TrainRows,
    x: ArrayView2<'_, f64>,
    combine: fn(f64, f64, f64) -> f64,
) -> Result<Vec<f64>> {
    let t = Array2::from_shape_vec((train.rows, train.cols), train.values.clone())
        .map_err(|e| anomex_core::Error::ModelFile(e.to_string()))?;
    let all = concatenate(Axis(0), &[t.view(), x])
        .map_err(|e| anomex_core::Error::input(e.to_string()))?;
    Ok(tails(all.view())
        .into_iter()
        .skip(train.rows)
        .map(|row| row.into_iter().map(|(l, r, s)| combine(l, r, s)).sum())
        .collect())
}

fn fit_with(
    x: ArrayView2<'_, f64>,
    combine: fn(f64, f64, f64) -> f64,
) -> Result<(TrainRows, Vec<f64>)> {
    crate::need_rows(x, 2, "an empirical-CDF detector")?;
    let scores = tails(x)
        .into_iter()
        .map(|row| row.into_iter().map(|(l, r, s)| combine(l, r, s)).sum())
        .collect();
    Ok((
        TrainRows {
            rows: x.nrows(),
            cols: x.ncols(),
            values: x.iter().copied().collect(),
        },
        scores,
    ))
}

fn ecod_term(l: f64, r: f64, s: f64) -> f64 {
    l.max(r).max(s)
}

fn copod_term(l: f64, r: f64, s: f64) -> f64 {
    s.max((l + r) / 2.0)
}

/// ECOD.
#[derive(Debug, Clone)]
pub struct Ecod;

impl VectorKernel for Ecod {
    type State = TrainRows;
    const NAME: &'static str = "ecod";
    fn from_params(_: &Params) -> Result<Self> {
        Ok(Ecod)
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(TrainRows, Vec<f64>)> {
        fit_with(x, ecod_term)
    }
    fn score(&self, st: &TrainRows, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        scores_with(st, x, ecod_term)
    }
}

/// COPOD.
#[derive(Debug, Clone)]
pub struct Copod;

impl VectorKernel for Copod {
    type State = TrainRows;
    const NAME: &'static str = "copod";
    fn from_params(_: &Params) -> Result<Self> {
        Ok(Copod)
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(TrainRows, Vec<f64>)> {
        fit_with(x, copod_term)
    }
    fn score(&self, st: &TrainRows, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        scores_with(st, x, copod_term)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn skew_picks_the_tail() {
        // right-skewed feature: the large value's term is its right tail
        let x = array![[1.0], [1.1], [0.9], [1.0], [9.0]];
        let t = tails(x.view());
        let (l, r, s) = t[4][0];
        assert_eq!(s, r);
        assert!(r > l);
        assert_eq!(skewness(&[2.0, 2.0, 2.0]), 0.0);
    }

    #[test]
    fn outlier_scores_highest() {
        let mut rows: Vec<[f64; 2]> = (0..50).map(|i| [(i % 7) as f64, (i % 5) as f64]).collect();
        rows.push([30.0, -20.0]);
        let x = Array2::from_shape_fn((rows.len(), 2), |(i, j)| rows[i][j]);
        for (scores, name) in [
            (Ecod.fit(x.view()).unwrap().1, "ecod"),
            (Copod.fit(x.view()).unwrap().1, "copod"),
        ] {
            let arg = (0..scores.len())
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .unwrap();
            assert_eq!(arg, 50, "{name}");
        }
    }
}
