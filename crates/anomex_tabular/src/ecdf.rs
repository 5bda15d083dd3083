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
use rayon::prelude::*;
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
/// The tail terms of one feature, for every row: one sort, then each run of equal values gets
/// the counts `≤` (its end in sorted order) and `≥` (n minus its start).
fn column_tails(col: &[f64]) -> Vec<(f64, f64, f64)> {
    let n = col.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| col[a].total_cmp(&col[b]));
    let sign = skewness(col).signum();
    let sign = if sign == 0.0 || sign.is_nan() {
        0.0
    } else {
        sign
    };
    let mut out = vec![(0.0, 0.0, 0.0); n];
    let mut start = 0;
    while start < n {
        let v = col[order[start]];
        let mut end = start + 1;
        while end < n && col[order[end]] == v {
            end += 1;
        }
        let ul = -(end as f64 / n as f64).ln();
        let ur = -((n - start) as f64 / n as f64).ln();
        // PyOD: U_l · −sign(s − 1) + U_r · sign(s + 1) with s ∈ {−1, 0, 1}
        let skew = if sign > 0.0 {
            ur
        } else if sign < 0.0 {
            ul
        } else {
            ul + ur
        };
        for &i in &order[start..end] {
            out[i] = (ul, ur, skew);
        }
        start = end;
    }
    out
}

/// Per-feature tail terms `(U_l, U_r, U_skew)` of every row; features in parallel.
fn tails(x: ArrayView2<'_, f64>) -> Vec<Vec<(f64, f64, f64)>> {
    let columns: Vec<Vec<(f64, f64, f64)>> = (0..x.ncols())
        .into_par_iter()
        .map(|j| column_tails(&x.column(j).to_vec()))
        .collect();
    (0..x.nrows())
        .map(|i| columns.iter().map(|c| c[i]).collect())
        .collect()
}

/// Training rows, kept to score new rows against the joint distribution (PyOD's behaviour).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainRows {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f64>,
}

/// Per-feature terms of the rows of `x`: on `x` alone when it is the training data, else on the
/// training rows plus `x` (PyOD's scoring of new rows).
fn terms(
    train: &TrainRows,
    x: ArrayView2<'_, f64>,
    training: bool,
    combine: fn(f64, f64, f64) -> f64,
) -> Result<Vec<Vec<f64>>> {
    let rows = if training {
        tails(x)
    } else {
        let t = Array2::from_shape_vec((train.rows, train.cols), train.values.clone())
            .map_err(|e| anomex_core::Error::ModelFile(e.to_string()))?;
        let all = concatenate(Axis(0), &[t.view(), x])
            .map_err(|e| anomex_core::Error::input(e.to_string()))?;
        tails(all.view()).into_iter().skip(train.rows).collect()
    };
    Ok(rows
        .into_iter()
        .map(|row| row.into_iter().map(|(l, r, s)| combine(l, r, s)).collect())
        .collect())
}

fn scores_with(
    train: &TrainRows,
    x: ArrayView2<'_, f64>,
    combine: fn(f64, f64, f64) -> f64,
) -> Result<Vec<f64>> {
    Ok(terms(train, x, false, combine)?
        .into_iter()
        .map(|row| row.iter().sum())
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

/// How the per-feature tail terms combine: the one difference between ECOD and COPOD.
pub trait TailRule: std::fmt::Debug + Clone + Send + Sync + 'static {
    const NAME: &'static str;
    fn term(left: f64, right: f64, skew: f64) -> f64;
}

/// ECOD's rule: the largest of the three tail terms.
#[derive(Debug, Clone)]
pub struct EcodRule;

impl TailRule for EcodRule {
    const NAME: &'static str = "ecod";
    fn term(l: f64, r: f64, s: f64) -> f64 {
        l.max(r).max(s)
    }
}

/// COPOD's rule: the skew-corrected term or the mean of both tails, whichever is larger.
#[derive(Debug, Clone)]
pub struct CopodRule;

impl TailRule for CopodRule {
    const NAME: &'static str = "copod";
    fn term(l: f64, r: f64, s: f64) -> f64 {
        s.max((l + r) / 2.0)
    }
}

/// A tail-probability detector with the combination rule `R`.
#[derive(Debug, Clone)]
pub struct Tails<R>(std::marker::PhantomData<R>);

/// ECOD.
pub type Ecod = Tails<EcodRule>;
/// COPOD.
pub type Copod = Tails<CopodRule>;

impl<R: TailRule> VectorKernel for Tails<R> {
    type State = TrainRows;
    const NAME: &'static str = R::NAME;
    fn from_params(_: &Params) -> Result<Self> {
        Ok(Tails(std::marker::PhantomData))
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(TrainRows, Vec<f64>)> {
        fit_with(x, R::term)
    }
    fn score(&self, st: &TrainRows, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        scores_with(st, x, R::term)
    }
    const EXPLAINS: bool = true;
    fn contributions(
        &self,
        st: &TrainRows,
        x: ArrayView2<'_, f64>,
        training: bool,
    ) -> Option<Result<Vec<Vec<f64>>>> {
        Some(terms(st, x, training, R::term))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn run_counts_equal_the_definition() {
        let col = [3.0, 1.0, 2.0, 2.0, -0.0, 0.0, 5.0, 2.0];
        let t = column_tails(&col);
        let n = col.len() as f64;
        for (i, &v) in col.iter().enumerate() {
            let at_most = col.iter().filter(|&&s| s <= v).count() as f64;
            let at_least = col.iter().filter(|&&s| s >= v).count() as f64;
            assert_eq!(t[i].0, -(at_most / n).ln(), "row {i}");
            assert_eq!(t[i].1, -(at_least / n).ln(), "row {i}");
        }
    }

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
    fn contributions_sum_to_the_score_and_name_the_feature() {
        let mut rows: Vec<[f64; 3]> = (0..60)
            .map(|i| [(i % 7) as f64, (i % 5) as f64, (i % 3) as f64])
            .collect();
        rows[10][1] = 50.0;
        let x = Array2::from_shape_fn((rows.len(), 3), |(i, j)| rows[i][j]);
        let ecod = Ecod::from_params(&Params::default()).unwrap();
        let (st, scores) = ecod.fit(x.view()).unwrap();
        let c = ecod.contributions(&st, x.view(), true).unwrap().unwrap();
        assert!((c[10].iter().sum::<f64>() - scores[10]).abs() < 1e-12);
        let top = (0..3)
            .max_by(|&a, &b| c[10][a].total_cmp(&c[10][b]))
            .unwrap();
        assert_eq!(top, 1);
    }

    #[test]
    fn outlier_scores_highest() {
        let mut rows: Vec<[f64; 2]> = (0..50).map(|i| [(i % 7) as f64, (i % 5) as f64]).collect();
        rows.push([30.0, -20.0]);
        let x = Array2::from_shape_fn((rows.len(), 2), |(i, j)| rows[i][j]);
        for (scores, name) in [
            (
                Ecod::from_params(&Params::default())
                    .unwrap()
                    .fit(x.view())
                    .unwrap()
                    .1,
                "ecod",
            ),
            (
                Copod::from_params(&Params::default())
                    .unwrap()
                    .fit(x.view())
                    .unwrap()
                    .1,
                "copod",
            ),
        ] {
            let arg = (0..scores.len())
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .unwrap();
            assert_eq!(arg, 50, "{name}");
        }
    }
}
