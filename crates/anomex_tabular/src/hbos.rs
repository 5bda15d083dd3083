//! HBOS: histogram-based outlier score (Goldstein & Dengel, "Histogram-based Outlier Score
//! (HBOS): A fast Unsupervised Anomaly Detection Algorithm", KI 2012), as PyOD computes it.
//!
//! Every feature gets an equal-width histogram of `n_bins` bins over its training range (numpy's
//! `histogram(density=True)`), or with `n_bins=auto` as many bins as the Birgé–Rozenblac rule
//! picks for that feature (Birgé & Rozenblac, "How many bins should be put in a regular
//! histogram", ESAIM P&S 2006, in PyOD's form); a value's term is `log2(density + alpha)` of its bin, and values
//! outside the range take the edge bin when within `tol` bin widths of it, else the lowest term.
//! The score is minus the sum of the terms. Cost: O(n · d) to fit and to score.

use crate::{ContributionsFn, VectorKernel};
use anomex_core::{About, Result};
use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

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

/// Equal-width bins over a range, numpy's way: `bins` bins from the lowest to the highest value
/// (a constant feature gets the range widened by ½ on either side), the last bin closed.
#[derive(Debug, Clone)]
pub(crate) struct Bins {
    pub edges: Vec<f64>,
    lo: f64,
    /// Bins per unit of value.
    norm: f64,
}

impl Bins {
    pub(crate) fn over(mut lo: f64, mut hi: f64, bins: usize) -> Bins {
        if lo == hi {
            lo -= 0.5;
            hi += 0.5;
        }
        Bins {
            edges: anomex_core::stats::linspace(lo, hi, bins + 1),
            lo,
            norm: bins as f64 / (hi - lo),
        }
    }

    /// The bin `k` with `edges[k] ≤ v < edges[k + 1]` (the last bin closed) of a value within
    /// the range.
    #[inline]
    pub(crate) fn of(&self, v: f64) -> usize {
        let bins = self.edges.len() - 1;
        // through u32 (no feature has more bins): a cheaper conversion than straight to usize
        let mut k = (((v - self.lo) * self.norm) as u32 as usize).min(bins - 1);
        // the float estimate can be off by one at an edge: settle it against the edges
        if v < self.edges[k] && k > 0 {
            k -= 1;
        } else if k + 1 < bins && v >= self.edges[k + 1] {
            k += 1;
        }
        k
    }
}

/// The lowest and highest value.
fn range(x: &[f64]) -> (f64, f64) {
    x.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        })
}

/// numpy's `histogram(x, bins)`: edges and counts (equal-width bins over the range, the last bin
/// closed).
pub(crate) fn histogram_counts(x: &[f64], bins: usize) -> (Vec<f64>, Vec<usize>) {
    let (lo, hi) = range(x);
    let b = Bins::over(lo, hi, bins);
    let mut counts = vec![0usize; bins];
    for &v in x {
        counts[b.of(v)] += 1;
    }
    (b.edges, counts)
}

/// [`histogram_counts`] of values already sorted: bin `k` holds `edges[k] ≤ v < edges[k + 1]`
/// (the last bin closed), counted by binary search, O(bins · log n).
fn sorted_histogram(sorted: &[f64], bins: usize) -> (Vec<f64>, Vec<usize>) {
    let edges = Bins::over(sorted[0], sorted[sorted.len() - 1], bins).edges;
    let below = |e: f64| sorted.partition_point(|&v| v < e);
    let mut starts: Vec<usize> = edges[..bins].iter().map(|&e| below(e)).collect();
    starts.push(sorted.len());
    let counts = starts.windows(2).map(|w| w[1] - w[0]).collect();
    (edges, counts)
}

/// numpy's `histogram(density=True)` from the counts: each bin's count over `n` times its width.
fn densities(edges: &[f64], counts: &[usize], n: usize) -> Vec<f64> {
    counts
        .iter()
        .enumerate()
        .map(|(k, &c)| c as f64 / (n as f64 * (edges[k + 1] - edges[k])))
        .collect()
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

/// One feature's histogram prepared for scoring values as PyOD does.
struct Lookup<'a> {
    edges: &'a [f64],
    terms: &'a [f64],
    lo: f64,
    hi: f64,
    /// Edge intervals per unit of value.
    scale: f64,
    lowest: f64,
    /// How far below the first and above the last edge still counts as the edge bin.
    below: f64,
    above: f64,
}

impl<'a> Lookup<'a> {
    fn new(edges: &'a [f64], terms: &'a [f64], tol: f64) -> Lookup<'a> {
        let last = edges.len() - 1;
        let (lo, hi) = (edges[0], edges[last]);
        Lookup {
            edges,
            terms,
            lo,
            hi,
            scale: last as f64 / (hi - lo),
            lowest: terms.iter().copied().fold(f64::INFINITY, f64::min),
            below: (edges[1] - edges[0]) * tol,
            above: (edges[last] - edges[last - 1]) * tol,
        }
    }

    /// numpy's `digitize(v, edges, right=True)`, as PyOD calls it: the index `i` with
    /// `edges[i−1] < v ≤ edges[i]` (0 at or below the first edge, `edges.len()` above the
    /// last). The edges are evenly spaced, so the index is estimated from `v` and settled
    /// against the edges themselves; a binary search answers when the estimate is off by more
    /// than one.
    #[inline]
    fn digitize(&self, v: f64) -> usize {
        let edges = self.edges;
        let last = edges.len() - 1;
        if v <= self.lo {
            return 0;
        }
        if v > self.hi {
            return edges.len();
        }
        // within (lo, hi] the index is 1..=last (⌊t⌋ + 1, one too high exactly on an edge, which
        // the checks below settle; a truncating cast, not `ceil`, which is a library call on
        // baseline x86-64); NaN and rounding land in that range too
        let k = (((v - self.lo) * self.scale) as usize + 1).clamp(1, last);
        if edges[k - 1] < v && v <= edges[k] {
            k
        } else if k > 1 && edges[k - 2] < v && v <= edges[k - 1] {
            k - 1
        } else if k < last && edges[k] < v && v <= edges[k + 1] {
            k + 1
        } else {
            edges.partition_point(|&e| e < v)
        }
    }

    /// The term of value `v`: its bin's, the edge bin's within `tol` widths outside the range,
    /// else the lowest.
    #[inline]
    fn term(&self, v: f64) -> f64 {
        let bins = self.terms.len();
        match self.digitize(v) {
            0 if self.lo - v <= self.below => self.terms[0],
            i if i == bins + 1 && v - self.hi <= self.above => self.terms[bins - 1],
            0 => self.lowest,
            i if i == bins + 1 => self.lowest,
            i => self.terms[i - 1],
        }
    }
}

/// Each feature's lowest and highest value, in one sweep over `values` ([`row_major`], `cols`
/// to a row; blocks of rows in parallel).
fn column_ranges(values: &[f64], cols: usize) -> Vec<(f64, f64)> {
    // lowest and highest values kept apart (not as pairs) so that a row's comparisons vectorise;
    // plain comparisons, not `f64::min`: the values are finite
    let start = (vec![f64::INFINITY; cols], vec![f64::NEG_INFINITY; cols]);
    let (lo, hi) = values
        .par_chunks(crate::ROW_BLOCK * cols)
        .map(|block| {
            let (mut lo, mut hi) = start.clone();
            for row in block.chunks_exact(cols) {
                for ((lo, hi), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(row) {
                    *lo = if v < *lo { v } else { *lo };
                    *hi = if v > *hi { v } else { *hi };
                }
            }
            (lo, hi)
        })
        .reduce(
            || start.clone(),
            |(mut lo, mut hi), (lo2, hi2)| {
                lo.iter_mut().zip(lo2).for_each(|(a, b)| *a = a.min(b));
                hi.iter_mut().zip(hi2).for_each(|(a, b)| *a = a.max(b));
                (lo, hi)
            },
        );
    lo.into_iter().zip(hi).collect()
}

/// The values of `x` row after row: borrowed when `x` is in standard layout, else copied.
fn row_major<'a>(x: ArrayView2<'a, f64>) -> Cow<'a, [f64]> {
    match x.to_slice() {
        Some(values) => Cow::Borrowed(values),
        None => Cow::Owned(x.iter().copied().collect()),
    }
}

/// A bin number as the training sweep stores it for every value: a byte when no feature has
/// more than 256 bins (PyOD's default is 10), so that buffer is a quarter of a `u32` one.
trait BinIndex: Copy + Default + Send + Sync {
    /// Bins it can number.
    const BINS: usize;
    fn from_bin(k: usize) -> Self;
    fn bin(self) -> usize;
}

impl BinIndex for u8 {
    const BINS: usize = 1 << 8;
    fn from_bin(k: usize) -> Self {
        k as u8
    }
    fn bin(self) -> usize {
        usize::from(self)
    }
}

impl BinIndex for u32 {
    const BINS: usize = u32::MAX as usize;
    fn from_bin(k: usize) -> Self {
        k as u32
    }
    fn bin(self) -> usize {
        self as usize
    }
}

/// Each feature's histogram counts, and the bin PyOD's scoring puts each value in (row-major),
/// in one sweep over `values` ([`row_major`], `bins.len()` to a row; blocks of rows in
/// parallel). Every feature of `bins` has at most `T::BINS` bins.
///
/// Counting uses numpy's bins `[e_k, e_{k+1})`, scoring `digitize(right=True)`'s `(e_{k−1}, e_k]`:
/// a value of the training range falls in the same bin both ways except exactly on an inner
/// edge, where scoring takes the bin below.
fn column_counts<T: BinIndex>(values: &[f64], bins: &[Bins]) -> (Vec<Vec<usize>>, Vec<T>) {
    let cols = bins.len();
    // the counts of all features in one array, feature `j`'s at `j · widest`
    let widest = bins.iter().map(|b| b.edges.len() - 1).max().unwrap_or(0);
    let add = |mut a: Vec<usize>, b: Vec<usize>| {
        a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        a
    };
    let mut scoring = vec![T::default(); values.len()];
    let counts = scoring
        .par_chunks_mut(crate::ROW_BLOCK * cols)
        .zip(values.par_chunks(crate::ROW_BLOCK * cols))
        .map(|(out, block)| {
            let mut c = vec![0; cols * widest];
            // row after row: consecutive counts go to different features, so an increment
            // seldom waits on the one before (a feature at a time, it often hit the same bin)
            for (row, out) in block.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
                for (j, ((&v, b), out)) in row.iter().zip(bins).zip(out).enumerate() {
                    let k = b.of(v);
                    c[j * widest + k] += 1;
                    *out = T::from_bin(k - usize::from(k > 0 && v == b.edges[k]));
                }
            }
            c
        })
        .reduce(|| vec![0; cols * widest], add);
    let counts = bins
        .iter()
        .enumerate()
        .map(|(j, b)| counts[j * widest..j * widest + b.edges.len() - 1].to_vec())
        .collect();
    (counts, scoring)
}

/// The fitted histograms of the rows `values` ([`row_major`], one feature per bin set) and the
/// training rows' scores, each row's from the bins the counting sweep stored (no second lookup
/// of the values).
fn fit_histograms<T: BinIndex>(
    values: &[f64],
    bins: Vec<Bins>,
    alpha: f64,
) -> (HbosState, Vec<f64>) {
    let cols = bins.len();
    let rows = values.len() / cols;
    let (counts, scoring_bins) = column_counts::<T>(values, &bins);
    let (edges, terms): (Vec<Vec<f64>>, Vec<Vec<f64>>) = bins
        .into_iter()
        .zip(counts)
        .map(|(b, c)| {
            let density = densities(&b.edges, &c, rows);
            let t: Vec<f64> = density.iter().map(|d| (d + alpha).log2()).collect();
            (b.edges, t)
        })
        .unzip();
    let scores = scoring_bins
        .par_chunks(cols)
        .with_min_len(256)
        .map(|bins| {
            -bins
                .iter()
                .zip(&terms)
                .map(|(&k, t)| t[k.bin()])
                .sum::<f64>()
        })
        .collect();
    (HbosState { edges, terms }, scores)
}

anomex_core::params! {
    /// Parameters of [`Hbos`] (PyOD's defaults).
    pub struct HbosParams {
        /// histogram bins per feature; auto = Birgé–Rozenblac per feature
        pub n_bins: Option<usize> = Some(10), in 1..=100_000;
        /// added to each bin density before the logarithm
        pub alpha: f64 = 0.1, in 0.0..=1.0;
        /// how far outside the range (in bin widths) still counts as the edge bin
        pub tol: f64 = 0.5, in 0.0..=1.0;
    }
}

impl VectorKernel for Hbos {
    type Params = HbosParams;
    type State = HbosState;
    const ABOUT: About = About {
        name: "hbos",
        class: "HBOS",
        summary: "histogram-based outlier score (Goldstein & Dengel, 2012)",
    };
    const WINDOWED: Option<About> = Some(About {
        name: "sub_hbos",
        class: "SubHBOS",
        summary: "histogram-based outlier score on sliding windows",
    });
    const CONTRIBUTIONS: Option<ContributionsFn<Self>> = Some(Hbos::contributions);
    fn new(p: &HbosParams) -> Result<Self> {
        Ok(Hbos {
            n_bins: p.n_bins,
            alpha: p.alpha,
            tol: p.tol,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(HbosState, Vec<f64>)> {
        crate::need_rows(x, 2, "HBOS")?;
        let values = row_major(x);
        let bins: Vec<Bins> = match self.n_bins {
            Some(b) => column_ranges(&values, x.ncols())
                .into_iter()
                .map(|(lo, hi)| Bins::over(lo, hi, b))
                .collect(),
            None => crate::feature_columns(x)
                .into_par_iter()
                .map(|col| {
                    let (lo, hi) = range(&col);
                    Bins::over(lo, hi, birge_rozenblac_bins(&col))
                })
                .collect(),
        };
        let most = bins.iter().map(|b| b.edges.len() - 1).max().unwrap_or(0);
        Ok(if most <= u8::BINS {
            fit_histograms::<u8>(&values, bins, self.alpha)
        } else {
            fit_histograms::<u32>(&values, bins, self.alpha)
        })
    }
    fn score(&self, st: &HbosState, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let lookups = lookups(st, x.ncols(), self.tol)?;
        Ok(crate::score_rows(x, |row| {
            -row.iter()
                .zip(&lookups)
                .map(|(&v, l)| l.term(v))
                .sum::<f64>()
        }))
    }
}

impl Hbos {
    /// How far each value's bin falls below its feature's densest bin (in log2 units): zero for
    /// the most common values. The score is the sum of the negated terms, so these shares rank
    /// the features exactly as their terms do.
    fn contributions(
        &self,
        st: &HbosState,
        x: ArrayView2<'_, f64>,
        rows: &[usize],
        _training: bool,
    ) -> Result<Vec<Vec<f64>>> {
        lookups(st, x.ncols(), self.tol).map(|lookups| {
            let highest: Vec<f64> = st
                .terms
                .iter()
                .map(|t| t.iter().copied().fold(f64::NEG_INFINITY, f64::max))
                .collect();
            rows.iter()
                .map(|&r| {
                    x.row(r)
                        .iter()
                        .zip(&lookups)
                        .zip(&highest)
                        .map(|((&v, l), h)| h - l.term(v))
                        .collect()
                })
                .collect()
        })
    }
}

/// Each feature's lookup, after checking the histograms fit `cols` columns.
fn lookups(st: &HbosState, cols: usize, tol: f64) -> Result<Vec<Lookup<'_>>> {
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
        .edges
        .iter()
        .zip(&st.terms)
        .map(|(e, t)| Lookup::new(e, t, tol))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_matches_numpy() {
        // numpy.histogram([1, 2, 2, 3, 10], bins=3, density=True)
        let x = [1.0, 2.0, 2.0, 3.0, 10.0];
        let (edges, counts) = histogram_counts(&x, 3);
        let density = densities(&edges, &counts, x.len());
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
            let terms = vec![0.0; bins];
            let lookup = Lookup::new(&edges, &terms, 0.5);
            let span = hi - lo;
            let mut probes: Vec<f64> = edges.clone();
            for &e in &edges {
                probes.extend([e.next_down(), e.next_up()]);
            }
            probes.extend((0..2000).map(|i| lo - 0.2 * span + 1.4 * span * f64::from(i) / 1999.0));
            for v in probes {
                let reference = edges.partition_point(|&e| e < v);
                assert_eq!(lookup.digitize(v), reference, "v = {v} on {edges:?}");
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
    fn row_sweeps_match_the_column_histograms() {
        let x = ndarray::Array2::from_shape_fn((10_000, 5), |(i, j)| {
            let v = ((i * 7919 + j * 104_729) % 1009) as f64 / 13.0;
            match j {
                3 => 2.5,             // a constant feature
                4 => (i % 71) as f64, // 0..=70 in 7 bins: values on every edge
                _ => v,
            }
        });
        let values = row_major(x.view());
        let ranges = column_ranges(&values, x.ncols());
        let bins: Vec<Bins> = ranges
            .iter()
            .map(|&(lo, hi)| Bins::over(lo, hi, 7))
            .collect();
        let (counts, scoring) = column_counts::<u8>(&values, &bins);
        // a column-major copy (its rows are not contiguous) gives the sweeps the same rows
        let fortran = x.t().as_standard_layout().into_owned();
        assert!(matches!(values, Cow::Borrowed(_)));
        assert_eq!(row_major(fortran.t()), values);
        for j in 0..x.ncols() {
            let col: Vec<f64> = x.column(j).to_vec();
            assert_eq!(ranges[j], range(&col));
            assert_eq!(
                histogram_counts(&col, 7),
                (bins[j].edges.clone(), counts[j].clone())
            );
            let terms = vec![0.0; 7];
            let lookup = Lookup::new(&bins[j].edges, &terms, 0.5);
            for (i, &v) in col.iter().enumerate() {
                let expected = lookup.digitize(v).max(1) - 1;
                assert_eq!(scoring[i * x.ncols() + j].bin(), expected, "{v}");
            }
        }
    }

    #[test]
    fn training_scores_equal_scoring_the_training_rows() {
        let x = ndarray::Array2::from_shape_fn((3000, 3), |(i, j)| match j {
            0 => (i % 71) as f64,
            1 => ((i * 7919) % 613) as f64 / 7.0,
            _ => (i as f64 * 0.01).sin(),
        });
        for bins in ["n_bins=7", "n_bins=10", "n_bins=auto"] {
            let h = Hbos::from_pairs(&[bins]).unwrap();
            let (st, training) = h.fit(x.view()).unwrap();
            let again = h.score(&st, x.view()).unwrap();
            assert_eq!(
                training.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                again.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{bins}"
            );
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
        let h = Hbos::from_pairs::<&str>(&[]).unwrap();
        let (st, _) = h.fit(x.view()).unwrap();
        let c = h.contributions(&st, x.view(), &[0, 5], true).unwrap();
        assert!(c.iter().flatten().all(|&v| v >= 0.0));
        assert!(c[1][2] > c[1][0] && c[1][2] > c[1][1]);
    }
}
