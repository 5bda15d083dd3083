//! HBOS: histogram-based outlier score (Goldstein & Dengel, "Histogram-based Outlier Score
//! (HBOS): A fast Unsupervised Anomaly Detection Algorithm", KI 2012), as PyOD computes it.
//!
//! Every feature gets an equal-width histogram of `n_bins` bins over its training range (numpy's
//! `histogram(density=True)`), or with `n_bins=auto` as many bins as the Birgé–Rozenblac rule
//! picks for that feature (Birgé & Rozenblac, "How many bins should be put in a regular
//! histogram", ESAIM P&S 2006, in PyOD's form); a value's term is `log2(density + alpha)` of its bin, and values
//! outside the range take the edge bin when within `tol` bin widths of it, else the lowest term.
//! The score is minus the sum of the terms. Cost: O(n · d) to fit and to score.

use crate::VectorKernel;
use anomex_core::{ParamSpec, Params, Result};
use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// HBOS.
#[derive(Debug, Clone)]
pub struct Hbos {
    /// `None`: chosen per feature.
    n_bins: Option<usize>,
    alpha: f64,
    tol: f64,
}

/// Per feature: bin edges and the log-density term of each bin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HbosState {
    pub edges: Vec<Vec<f64>>,
    pub terms: Vec<Vec<f64>>,
}

/// numpy's `histogram(x, bins)`: edges and counts (equal-width bins over the range, the last bin
/// closed).
pub(crate) fn histogram_counts(x: &[f64], bins: usize) -> (Vec<f64>, Vec<usize>) {
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
        let mut k = (((v - lo) * norm) as usize).min(bins - 1);
        // the float estimate can be off by one at an edge: settle it against the edges
        if v < edges[k] && k > 0 {
            k -= 1;
        } else if k + 1 < bins && v >= edges[k + 1] {
            k += 1;
        }
        counts[k] += 1;
    }
    (edges, counts)
}

/// [`histogram_counts`] of values already sorted: bin `k` holds `edges[k] ≤ v < edges[k + 1]`
/// (the last bin closed), counted by binary search, O(bins · log n).
fn sorted_histogram(sorted: &[f64], bins: usize) -> (Vec<f64>, Vec<usize>) {
    let (mut lo, mut hi) = (sorted[0], sorted[sorted.len() - 1]);
    if lo == hi {
        lo -= 0.5;
        hi += 0.5;
    }
    let edges = anomex_core::stats::linspace(lo, hi, bins + 1);
    let below = |e: f64| sorted.partition_point(|&v| v < e);
    let mut starts: Vec<usize> = edges[..bins].iter().map(|&e| below(e)).collect();
    starts.push(sorted.len());
    let counts = starts.windows(2).map(|w| w[1] - w[0]).collect();
    (edges, counts)
}

/// numpy's `histogram(x, bins, density=True)`: edges and densities.
fn histogram(x: &[f64], bins: usize) -> (Vec<f64>, Vec<f64>) {
    let (edges, counts) = histogram_counts(x, bins);
    let n = x.len() as f64;
    let density = counts
        .iter()
        .enumerate()
        .map(|(k, &c)| c as f64 / (n * (edges[k + 1] - edges[k])))
        .collect();
    (edges, density)
}

/// The `n_bins` parameter: 10 (PyOD's default) or `auto`.
pub(crate) fn bins_param(doc: &'static str) -> ParamSpec {
    ParamSpec::int("n_bins", 10, 1, 100_000, doc).or_auto()
}

/// The Birgé–Rozenblac number of bins as PyOD's `get_optimal_n_bins` computes it: the `b` in
/// `1 .. max(2, ⌊√n⌋)` maximising `Σ_k [c_k ln(b c_k / n + 1) − (b − 1 + (ln b)^2.5)]` (the
/// penalty is inside PyOD's sum, so it counts once per bin); the first maximum wins.
pub fn birge_rozenblac_bins(x: &[f64]) -> usize {
    let n = x.len();
    let mut sorted = x.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let upper = ((n as f64).sqrt() as usize).max(2);
    let mut best = (f64::NEG_INFINITY, 1);
    for b in 1..upper {
        let (_, counts) = sorted_histogram(&sorted, b);
        let bf = b as f64;
        let penalty = bf - 1.0 + bf.ln().powf(2.5);
        let likelihood: f64 = counts
            .iter()
            .map(|&c| {
                let c = c as f64;
                c * (bf * c / n as f64 + 1.0).ln() - penalty
            })
            .sum();
        if likelihood > best.0 {
            best = (likelihood, b);
        }
    }
    best.1
}

/// numpy's `digitize(v, edges, right=True)`, as PyOD calls it: the index `i` with
/// `edges[i−1] < v ≤ edges[i]` (0 at or below the first edge, `edges.len()` above the last).
/// The edges are evenly spaced, so the index is estimated from `v` and settled against the
/// edges themselves; a binary search answers when the estimate is off by more than one.
fn digitize(edges: &[f64], v: f64) -> usize {
    let last = edges.len() - 1;
    let (lo, hi) = (edges[0], edges[last]);
    if v <= lo {
        return 0;
    }
    if v > hi {
        return edges.len();
    }
    let estimate = ((v - lo) / (hi - lo) * last as f64).ceil();
    // within (lo, hi] the index is 1..=last; NaN and rounding land in that range too
    let k = (estimate as usize).clamp(1, last);
    let fits = |i: usize| (1..=last).contains(&i) && edges[i - 1] < v && v <= edges[i];
    [k, k - 1, k + 1]
        .into_iter()
        .find(|&i| fits(i))
        .unwrap_or_else(|| edges.partition_point(|&e| e < v))
}

impl Hbos {
    /// The term of value `v` of feature `j`; `lowest` is that feature's lowest bin term.
    fn term(&self, st: &HbosState, j: usize, lowest: f64, v: f64) -> f64 {
        let (edges, terms) = (&st.edges[j], &st.terms[j]);
        let bins = terms.len();
        let idx = digitize(edges, v);
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
    const SUMMARY: &'static str = "histogram-based outlier score (Goldstein & Dengel, 2012)";
    const WINDOWED_SUMMARY: &'static str = "histogram-based outlier score on sliding windows";
    fn param_specs() -> Vec<ParamSpec> {
        vec![
            bins_param("histogram bins per feature; auto = Birgé–Rozenblac per feature"),
            ParamSpec::float(
                "alpha",
                0.1,
                0.0,
                1.0,
                "added to each bin density before the logarithm",
            ),
            ParamSpec::float(
                "tol",
                0.5,
                0.0,
                1.0,
                "how far outside the range (in bin widths) still counts as the edge bin",
            ),
        ]
    }
    fn from_params(p: &Params) -> Result<Self> {
        Ok(Hbos {
            n_bins: p.usize_or_auto("n_bins")?,
            alpha: p.f64("alpha")?,
            tol: p.f64("tol")?,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(HbosState, Vec<f64>)> {
        crate::need_rows(x, 2, "HBOS")?;
        let (edges, terms) = crate::feature_columns(x)
            .into_par_iter()
            .map(|col| {
                let bins = self.n_bins.unwrap_or_else(|| birge_rozenblac_bins(&col));
                let (e, density) = histogram(&col, bins);
                let t: Vec<f64> = density.iter().map(|d| (d + self.alpha).log2()).collect();
                (e, t)
            })
            .unzip();
        let st = HbosState { edges, terms };
        let scores = self.score(&st, x)?;
        Ok((st, scores))
    }
    fn score(&self, st: &HbosState, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let lowest = lowest_terms(st, x.ncols())?;
        Ok(crate::score_rows(x, |row| {
            -row.iter()
                .enumerate()
                .map(|(j, &v)| self.term(st, j, lowest[j], v))
                .sum::<f64>()
        }))
    }
    const EXPLAINS: bool = true;
    /// How far each value's bin falls below its feature's densest bin (in log2 units): zero for
    /// the most common values. The score is the sum of the negated terms, so these shares rank
    /// the features exactly as their terms do.
    fn contributions(
        &self,
        st: &HbosState,
        x: ArrayView2<'_, f64>,
        rows: &[usize],
        _training: bool,
    ) -> Option<Result<Vec<Vec<f64>>>> {
        Some(lowest_terms(st, x.ncols()).map(|lowest| {
            let highest: Vec<f64> = st
                .terms
                .iter()
                .map(|t| t.iter().copied().fold(f64::NEG_INFINITY, f64::max))
                .collect();
            rows.iter()
                .map(|&r| {
                    x.row(r)
                        .iter()
                        .enumerate()
                        .map(|(j, &v)| highest[j] - self.term(st, j, lowest[j], v))
                        .collect()
                })
                .collect()
        }))
    }
}

/// Each feature's lowest bin term, after checking the histograms fit `cols` columns.
fn lowest_terms(st: &HbosState, cols: usize) -> Result<Vec<f64>> {
    if st.edges.len() != cols
        || st.terms.len() != cols
        || st
            .edges
            .iter()
            .zip(&st.terms)
            .any(|(e, t)| t.is_empty() || e.len() != t.len() + 1)
    {
        return Err(anomex_core::Error::ModelFile(
            "HBOS histograms do not match the data's columns".into(),
        ));
    }
    Ok(st
        .terms
        .iter()
        .map(|t| t.iter().copied().fold(f64::INFINITY, f64::min))
        .collect())
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

    #[test]
    fn digitize_agrees_with_the_binary_search_everywhere() {
        for (lo, hi, bins) in [
            (-3.7, 4.1, 10),
            (0.0, 1.0, 7),
            (1e6, 1e6 + 3.0, 22),
            (-1e-9, 1e-9, 3),
        ] {
            let edges = anomex_core::stats::linspace(lo, hi, bins + 1);
            let span = hi - lo;
            let mut probes: Vec<f64> = edges.clone();
            for &e in &edges {
                probes.extend([e.next_down(), e.next_up()]);
            }
            probes.extend((0..2000).map(|i| lo - 0.2 * span + 1.4 * span * f64::from(i) / 1999.0));
            for v in probes {
                let reference = edges.partition_point(|&e| e < v);
                assert_eq!(digitize(&edges, v), reference, "v = {v} on {edges:?}");
            }
        }
    }

    #[test]
    fn sorted_and_linear_histograms_agree() {
        let x: Vec<f64> = (0..500)
            .map(|i| ((i * 7919) % 613) as f64 / 7.0 - 20.0)
            .collect();
        let mut sorted = x.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        for bins in [1, 2, 7, 10, 22] {
            assert_eq!(histogram_counts(&x, bins), sorted_histogram(&sorted, bins));
        }
    }

    #[test]
    fn birge_rozenblac_matches_pyod() {
        // pyod.utils.utility.get_optimal_n_bins on these inputs (PyOD 3.6.7)
        let ramp: Vec<f64> = (0..100).map(f64::from).collect();
        let two_modes: Vec<f64> = (0..400)
            .map(|i| {
                if i % 2 == 0 {
                    f64::from(i % 7)
                } else {
                    50.0 + f64::from(i % 5)
                }
            })
            .collect();
        assert_eq!(birge_rozenblac_bins(&ramp), 1);
        assert_eq!(birge_rozenblac_bins(&two_modes), 8);
    }

    #[test]
    fn contributions_name_the_odd_feature() {
        let mut x = ndarray::Array2::from_shape_fn((200, 3), |(i, j)| ((i * (j + 2)) % 17) as f64);
        x[[5, 2]] = 80.0;
        let h = Hbos::from_params(&Params::resolve::<&str>(&Hbos::param_specs(), &[]).unwrap())
            .unwrap();
        let (st, _) = h.fit(x.view()).unwrap();
        let c = h
            .contributions(&st, x.view(), &[0, 5], true)
            .unwrap()
            .unwrap();
        assert!(c.iter().flatten().all(|&v| v >= 0.0));
        assert!(c[1][2] > c[1][0] && c[1][2] > c[1][1]);
    }
}
