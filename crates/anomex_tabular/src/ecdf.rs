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
use anomex_core::{ParamSpec, Params, Result};
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

/// The tail terms `(U_l, U_r, U_skew)` of one feature, for every row: one sort, then each run of
/// equal values gets the counts `≤` (its end in sorted order) and `≥` (n minus its start).
fn column_tails(col: &[f64]) -> Vec<(f64, f64, f64)> {
    let n = col.len();
    // sorting (value, row) pairs keeps the comparisons in cache
    let mut order: Vec<(f64, usize)> = col.iter().copied().zip(0..).collect();
    order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let sign = skewness(col).signum();
    let sign = if sign == 0.0 || sign.is_nan() {
        0.0
    } else {
        sign
    };
    let mut out = vec![(0.0, 0.0, 0.0); n];
    let mut start = 0;
    while start < n {
        let v = order[start].0;
        let mut end = start + 1;
        while end < n && order[end].0 == v {
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
        for &(_, i) in &order[start..end] {
            out[i] = (ul, ur, skew);
        }
        start = end;
    }
    out
}

/// The combined tail term of every feature (outer) and row (inner); features in parallel.
fn feature_terms(x: ArrayView2<'_, f64>, combine: fn(f64, f64, f64) -> f64) -> Vec<Vec<f64>> {
    (0..x.ncols())
        .into_par_iter()
        .map(|j| {
            column_tails(&x.column(j).to_vec())
                .into_iter()
                .map(|(l, r, s)| combine(l, r, s))
                .collect()
        })
        .collect()
}

/// Row sums of feature-major terms, from row `skip` on.
fn row_sums(terms: &[Vec<f64>], skip: usize) -> Vec<f64> {
    let mut sums = vec![0.0; terms.first().map_or(0, |t| t.len() - skip)];
    for t in terms {
        sums.iter_mut().zip(&t[skip..]).for_each(|(s, v)| *s += v);
    }
    sums
}

/// Training rows, kept to score new rows against the joint distribution (PyOD's behaviour).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainRows {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f64>,
}

/// Feature-major terms of the rows of `x` and the number of leading rows to skip: on `x` alone
/// when it is the training data, else on the training rows plus `x` (PyOD's scoring of new rows).
fn terms(
    train: &TrainRows,
    x: ArrayView2<'_, f64>,
    training: bool,
    combine: fn(f64, f64, f64) -> f64,
) -> Result<(Vec<Vec<f64>>, usize)> {
    if training {
        return Ok((feature_terms(x, combine), 0));
    }
    let t = Array2::from_shape_vec((train.rows, train.cols), train.values.clone())
        .map_err(|e| anomex_core::Error::ModelFile(e.to_string()))?;
    let all = concatenate(Axis(0), &[t.view(), x])
        .map_err(|e| anomex_core::Error::input(e.to_string()))?;
    Ok((feature_terms(all.view(), combine), train.rows))
}

fn fit_with(
    x: ArrayView2<'_, f64>,
    combine: fn(f64, f64, f64) -> f64,
) -> Result<(TrainRows, Vec<f64>)> {
    crate::need_rows(x, 2, "an empirical-CDF detector")?;
    let scores = row_sums(&feature_terms(x, combine), 0);
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
    const SUMMARY: &'static str;
    fn term(left: f64, right: f64, skew: f64) -> f64;
}

/// ECOD's rule: the largest of the three tail terms.
#[derive(Debug, Clone)]
pub struct EcodRule;

impl TailRule for EcodRule {
    const NAME: &'static str = "ecod";
    const SUMMARY: &'static str = "empirical-CDF tail probabilities (ECOD; Li et al., TKDE 2022)";
    fn term(l: f64, r: f64, s: f64) -> f64 {
        l.max(r).max(s)
    }
}

/// COPOD's rule: the skew-corrected term or the mean of both tails, whichever is larger.
#[derive(Debug, Clone)]
pub struct CopodRule;

impl TailRule for CopodRule {
    const NAME: &'static str = "copod";
    const SUMMARY: &'static str =
        "empirical copula tail probabilities (COPOD; Li et al., ICDM 2020)";
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
    const SUMMARY: &'static str = R::SUMMARY;
    fn param_specs() -> Vec<ParamSpec> {
        Vec::new()
    }
    fn from_params(_: &Params) -> Result<Self> {
        Ok(Tails(std::marker::PhantomData))
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(TrainRows, Vec<f64>)> {
        fit_with(x, R::term)
    }
    fn score(&self, st: &TrainRows, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let (terms, skip) = terms(st, x, false, R::term)?;
        Ok(row_sums(&terms, skip))
    }
    const EXPLAINS: bool = true;
    fn contributions(
        &self,
        st: &TrainRows,
        x: ArrayView2<'_, f64>,
        rows: &[usize],
        training: bool,
    ) -> Option<Result<Vec<Vec<f64>>>> {
        // the tails need the whole distribution; only the asked rows are gathered
        Some(terms(st, x, training, R::term).map(|(terms, skip)| {
            rows.iter()
                .map(|&i| terms.iter().map(|t| t[skip + i]).collect())
                .collect()
        }))
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
        let t = column_tails(&x.column(0).to_vec());
        let (l, r, s) = t[4];
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
        let c = ecod
            .contributions(&st, x.view(), &[10], true)
            .unwrap()
            .unwrap();
        assert!((c[0].iter().sum::<f64>() - scores[10]).abs() < 1e-12);
        let top = (0..3).max_by(|&a, &b| c[0][a].total_cmp(&c[0][b])).unwrap();
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
