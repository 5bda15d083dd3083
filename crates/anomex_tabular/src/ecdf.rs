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
//! As in PyOD, new rows are scored on the distribution of the training rows plus the new rows;
//! the model keeps each training feature sorted (and its moments, for the skewness of the union),
//! so the counts of a new value come by binary search instead of re-sorting the training data.
//! Per-feature contributions are the terms of the sum. Cost: O(n log n · d) to fit, O(m log(n m)
//! · d) to score m new rows.

use crate::{ContributionsFn, VectorKernel};
use anomex_core::{About, Error, Result};
use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Central moments of a feature (count, mean, sums of squared and cubed deviations), so that the
/// skewness of the training values together with new ones comes without the training values
/// (pairwise update of Chan, Golub & LeVeque, 1979, and Pébay, 2008).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Moments {
    pub n: f64,
    pub mean: f64,
    pub m2: f64,
    pub m3: f64,
}

impl Moments {
    /// Two passes: the mean, then the deviations. Four running sums in each (one per lane of
    /// a chunk of four values), so the additions do not wait on each other.
    fn of(x: &[f64]) -> Self {
        fn lanes(x: &[f64], each: impl Fn(f64) -> [f64; 2]) -> [f64; 2] {
            let mut sums = [[0.0; 2]; 4];
            let chunks = x.chunks_exact(4);
            let rest = chunks.remainder();
            for chunk in chunks {
                for (sum, &v) in sums.iter_mut().zip(chunk) {
                    let [a, b] = each(v);
                    sum[0] += a;
                    sum[1] += b;
                }
            }
            for (sum, &v) in sums.iter_mut().zip(rest) {
                let [a, b] = each(v);
                sum[0] += a;
                sum[1] += b;
            }
            let pair = |i: usize| (sums[0][i] + sums[1][i]) + (sums[2][i] + sums[3][i]);
            [pair(0), pair(1)]
        }
        let n = x.len() as f64;
        let mean = lanes(x, |v| [v, 0.0])[0] / n;
        let [m2, m3] = lanes(x, |v| {
            let d = v - mean;
            [d * d, d * d * d]
        });
        Moments { n, mean, m2, m3 }
    }

    fn merge(a: Moments, b: Moments) -> Self {
        let n = a.n + b.n;
        let delta = b.mean - a.mean;
        let m2 = a.m2 + b.m2 + delta * delta * a.n * b.n / n;
        let m3 = a.m3
            + b.m3
            + delta.powi(3) * a.n * b.n * (a.n - b.n) / (n * n)
            + 3.0 * delta * (a.n * b.m2 - b.n * a.m2) / n;
        Moments {
            n,
            mean: a.mean + delta * b.n / n,
            m2,
            m3,
        }
    }

    /// scipy's biased skewness `m3 / m2^1.5`, 0 for a (numerically) constant feature.
    fn skewness(&self) -> f64 {
        let (m2, m3) = (self.m2 / self.n, self.m3 / self.n);
        if m2 <= (f64::EPSILON * self.mean).powi(2) {
            0.0
        } else {
            m3 / m2.powf(1.5)
        }
    }

    /// The sign of the skewness that picks the tail: −1, 0 or 1.
    fn skew_sign(&self) -> f64 {
        let sign = self.skewness().signum();
        if sign == 0.0 || sign.is_nan() {
            0.0
        } else {
            sign
        }
    }
}

/// The tail terms `(U_l, U_r, U_skew)` of a value with `at_most` values `≤` it and `at_least`
/// values `≥` it among `n`, given `ln_share(k) = −ln(k / n)`.
fn tails(
    at_most: usize,
    at_least: usize,
    sign: f64,
    ln_share: impl Fn(usize) -> f64,
) -> (f64, f64, f64) {
    let ul = ln_share(at_most);
    let ur = ln_share(at_least);
    // PyOD: U_l · −sign(s − 1) + U_r · sign(s + 1) with s ∈ {−1, 0, 1}
    let skew = if sign > 0.0 {
        ur
    } else if sign < 0.0 {
        ul
    } else {
        ul + ur
    };
    (ul, ur, skew)
}

/// A feature's values in ascending order, with the row each came from (ties in row order).
struct SortedFeature {
    /// One word per value: the top bits of the value's order-preserving pattern above its row.
    packed: Vec<u64>,
    /// The low bits of a packed word that hold the row.
    row_mask: u64,
    /// The values, in sorted order.
    values: Vec<f64>,
}

impl SortedFeature {
    /// Sorts `col`: a stable radix sort of one 8-byte word per value, which holds a 32-bit sort
    /// key above the row index.
    ///
    /// The key is the value's offset from the smallest one in `total_cmp` bit order, cut to its
    /// 32 leading bits (a relative resolution of about 2⁻²⁰ whatever the scale, since that
    /// order is nearly logarithmic, and the full resolution for values packed close around an
    /// offset); so 3 passes over 8 bytes a value instead of 8 passes over a 16-byte (value, row)
    /// pair. Rows start in order and the sort is stable, so equal keys keep row order; values
    /// that share a key but differ are then put in order by a comparison sort of their group,
    /// which makes the order exact.
    fn of(col: &[f64]) -> Self {
        const KEY_BITS: u32 = 32;
        let row_bits = usize::BITS - col.len().saturating_sub(1).leading_zeros();
        let row_mask = 1u64.checked_shl(row_bits).map_or(u64::MAX, |b| b - 1);
        let (lowest, highest) = col.iter().fold((u64::MAX, 0), |(lo, hi), &v| {
            let b = order_bits(v);
            (lo.min(b), hi.max(b))
        });
        let span_bits = u64::BITS - highest.saturating_sub(lowest).leading_zeros();
        let key_bits = KEY_BITS.min(u64::BITS.saturating_sub(row_bits));
        let drop = span_bits.saturating_sub(key_bits);
        let mut packed: Vec<u64> = col
            .iter()
            .zip(0u64..)
            .map(|(&v, row)| (((order_bits(v) - lowest) >> drop) << row_bits) | row)
            .collect();
        radix_sort_by_high_bits(&mut packed, row_bits);
        let row = |p: u64| (p & row_mask) as usize;
        let mut start = 0;
        while start < packed.len() {
            let key = packed[start] >> row_bits;
            let mut end = start + 1;
            while end < packed.len() && packed[end] >> row_bits == key {
                end += 1;
            }
            if end - start > 1 {
                let group = &mut packed[start..end];
                let first = order_bits(col[row(group[0])]);
                if group.iter().any(|&p| order_bits(col[row(p)]) != first) {
                    group.sort_unstable_by_key(|&p| (order_bits(col[row(p)]), p));
                }
            }
            start = end;
        }
        let values = packed.iter().map(|&p| col[row(p)]).collect();
        SortedFeature {
            packed,
            row_mask,
            values,
        }
    }

    /// The row of the `k`-th smallest value.
    fn row(&self, k: usize) -> usize {
        (self.packed[k] & self.row_mask) as usize
    }

    /// Calls `each(start, end)` for every run of equal values.
    fn runs(&self, mut each: impl FnMut(usize, usize)) {
        let v = &self.values;
        let mut start = 0;
        while start < v.len() {
            let mut end = start + 1;
            while end < v.len() && v[end] == v[start] {
                end += 1;
            }
            each(start, end);
            start = end;
        }
    }

    /// Gives every row of the runs the term `term(start, end)` of its run.
    fn terms(&self, mut term: impl FnMut(usize, usize) -> f64) -> Vec<f64> {
        let mut terms = vec![0.0; self.values.len()];
        self.runs(|start, end| {
            let t = term(start, end);
            for k in start..end {
                terms[self.row(k)] = t;
            }
        });
        terms
    }
}

/// Stable LSD radix sort of `words` by their bits above `low`, of which there are at most 33:
/// three passes of 11-bit digits. (radsort's byte digits need four passes for a 32-bit key and
/// made the whole ECOD fit on 100,000 × 16 rows 1.4 times as slow.) More than `u32::MAX` words
/// go to the standard library's sort instead.
fn radix_sort_by_high_bits(words: &mut Vec<u64>, low: u32) {
    const DIGIT: u32 = 11;
    const BUCKETS: usize = 1 << DIGIT;
    if u32::try_from(words.len()).is_err() {
        words.sort_by_key(|&w| w >> low);
        return;
    }
    let digit = |w: u64, pass: u32| ((w >> (low + pass * DIGIT)) as usize) & (BUCKETS - 1);
    let mut counts = vec![[0u32; BUCKETS]; 3];
    for &w in words.iter() {
        for (pass, c) in (0..).zip(counts.iter_mut()) {
            c[digit(w, pass)] += 1;
        }
    }
    let mut scratch = vec![0u64; words.len()];
    for (pass, c) in (0..).zip(counts.iter_mut()) {
        if c.iter().any(|&k| k as usize == words.len()) {
            continue; // every word has the same digit: nothing moves
        }
        let mut next = 0u32;
        for k in c.iter_mut() {
            let here = *k;
            *k = next;
            next += here;
        }
        for &w in words.iter() {
            let slot = &mut c[digit(w, pass)];
            scratch[*slot as usize] = w;
            *slot += 1;
        }
        std::mem::swap(words, &mut scratch);
    }
}

/// The bits of `v` as an unsigned integer in the order of `f64::total_cmp`.
fn order_bits(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// One feature of the training data: its tail terms combined by `combine` for every row, and
/// the values sorted. One sort; each run of equal values gets the counts `≤` (its end in sorted
/// order) and `≥` (n minus its start), and `−ln(k / n)` comes from `ln_share`, computed once for
/// all features.
fn training_column(
    col: &[f64],
    sign: f64,
    ln_share: &[f64],
    combine: fn(f64, f64, f64) -> f64,
) -> (Vec<f64>, Vec<f64>) {
    let n = col.len();
    let sorted = SortedFeature::of(col);
    let terms = sorted.terms(|start, end| {
        let (l, r, s) = tails(end, n - start, sign, |k| ln_share[k]);
        combine(l, r, s)
    });
    (sorted.values, terms)
}

/// The tail terms of every value of `col` among the training values (`sorted`, with moments
/// `moments`) and `col` itself — PyOD scores new rows on the joint distribution — counted by
/// binary search in the training values plus a sort of the new ones.
fn new_column(
    col: &[f64],
    sorted: &[f64],
    moments: Moments,
    combine: fn(f64, f64, f64) -> f64,
) -> Vec<f64> {
    let (n, m) = (sorted.len(), col.len());
    let total = (n + m) as f64;
    let sign = Moments::merge(moments, Moments::of(col)).skew_sign();
    let order = SortedFeature::of(col);
    order.terms(|start, end| {
        let v = order.values[start];
        let at_most = sorted.partition_point(|&t| t <= v) + end;
        let at_least = n - sorted.partition_point(|&t| t < v) + (m - start);
        let (l, r, s) = tails(at_most, at_least, sign, |k| -(k as f64 / total).ln());
        combine(l, r, s)
    })
}

/// Row sums of feature-major terms.
fn row_sums(terms: &[Vec<f64>]) -> Vec<f64> {
    let mut sums = vec![0.0; terms.first().map_or(0, Vec::len)];
    for t in terms {
        sums.iter_mut().zip(t).for_each(|(s, v)| *s += v);
    }
    sums
}

/// What scoring needs of the training data: every feature's values sorted and its moments.
/// (PyOD keeps the training rows and recomputes the distributions on them plus the new rows;
/// sorted values give the same counts by binary search.)
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SortedColumns {
    pub columns: Vec<Vec<f64>>,
    pub moments: Vec<Moments>,
}

impl SortedColumns {
    fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    fn check(&self, x: ArrayView2<'_, f64>) -> Result<()> {
        crate::check_columns(self.columns.len(), x.ncols())?;
        if self.moments.len() != self.columns.len()
            || self.columns.iter().any(|c| c.len() != self.rows())
        {
            return Err(Error::ModelFile(
                "the sorted training columns have unequal lengths".into(),
            ));
        }
        Ok(())
    }

    /// Feature-major terms of the rows of `x`, new data scored against the training values.
    fn new_terms(
        &self,
        x: ArrayView2<'_, f64>,
        combine: fn(f64, f64, f64) -> f64,
    ) -> Vec<Vec<f64>> {
        crate::feature_columns(x)
            .into_par_iter()
            .zip(&self.columns)
            .zip(&self.moments)
            .map(|((col, sorted), &moments)| new_column(&col, sorted, moments, combine))
            .collect()
    }

    /// The terms of training row values `row`: counts among the training values alone.
    fn training_row_terms(
        &self,
        row: ArrayView1<'_, f64>,
        combine: fn(f64, f64, f64) -> f64,
    ) -> Vec<f64> {
        let n = self.rows();
        row.iter()
            .zip(self.columns.iter().zip(&self.moments))
            .map(|(&v, (sorted, moments))| {
                let at_most = sorted.partition_point(|&t| t <= v);
                let at_least = n - sorted.partition_point(|&t| t < v);
                let (l, r, s) = tails(at_most, at_least, moments.skew_sign(), |k| {
                    -(k as f64 / n as f64).ln()
                });
                combine(l, r, s)
            })
            .collect()
    }
}

fn fit_with(
    x: ArrayView2<'_, f64>,
    combine: fn(f64, f64, f64) -> f64,
) -> Result<(SortedColumns, Vec<f64>)> {
    crate::need_rows(x, 2, "an empirical-CDF detector")?;
    let n = x.nrows();
    let ln_share: Vec<f64> = (0..=n)
        .into_par_iter()
        .map(|k| -(k as f64 / n as f64).ln())
        .collect();
    let per_feature: Vec<(Vec<f64>, Vec<f64>, Moments)> = crate::feature_columns(x)
        .into_par_iter()
        .map(|col| {
            let moments = Moments::of(&col);
            let (sorted, terms) = training_column(&col, moments.skew_sign(), &ln_share, combine);
            (sorted, terms, moments)
        })
        .collect();
    let mut state = SortedColumns {
        columns: Vec::new(),
        moments: Vec::new(),
    };
    let mut terms = Vec::new();
    for (sorted, t, moments) in per_feature {
        state.columns.push(sorted);
        state.moments.push(moments);
        terms.push(t);
    }
    Ok((state, row_sums(&terms)))
}

/// How the per-feature tail terms combine: the one difference between ECOD and COPOD.
pub trait TailRule: std::fmt::Debug + Clone + Send + Sync + 'static {
    /// Registry name, Python class name, summary of the detector.
    const ABOUT: About;
    fn term(left: f64, right: f64, skew: f64) -> f64;
}

/// ECOD's rule: the largest of the three tail terms.
#[derive(Debug, Clone)]
pub struct EcodRule;

impl TailRule for EcodRule {
    const ABOUT: About = About {
        name: "ecod",
        class: "ECOD",
        summary: "empirical-CDF tail probabilities (ECOD; Li et al., TKDE 2022)",
    };
    fn term(l: f64, r: f64, s: f64) -> f64 {
        l.max(r).max(s)
    }
}

/// COPOD's rule: the skew-corrected term or the mean of both tails, whichever is larger.
#[derive(Debug, Clone)]
pub struct CopodRule;

impl TailRule for CopodRule {
    const ABOUT: About = About {
        name: "copod",
        class: "COPOD",
        summary: "empirical copula tail probabilities (COPOD; Li et al., ICDM 2020)",
    };
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
    type Params = ();
    type State = SortedColumns;
    const ABOUT: About = R::ABOUT;
    const CONTRIBUTIONS: Option<ContributionsFn<Self>> = Some(Tails::contributions);
    fn new(_: &()) -> Result<Self> {
        Ok(Tails(std::marker::PhantomData))
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(SortedColumns, Vec<f64>)> {
        fit_with(x, R::term)
    }
    fn score(&self, st: &SortedColumns, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        st.check(x)?;
        Ok(row_sums(&st.new_terms(x, R::term)))
    }
}

impl<R: TailRule> Tails<R> {
    fn contributions(
        &self,
        st: &SortedColumns,
        x: ArrayView2<'_, f64>,
        rows: &[usize],
        training: bool,
    ) -> Result<Vec<Vec<f64>>> {
        st.check(x)?;
        Ok(if training {
            // a training row's counts come from the sorted training values alone
            rows.iter()
                .map(|&i| st.training_row_terms(x.row(i), R::term))
                .collect()
        } else {
            // new rows' tails depend on the whole new batch; only the asked rows are gathered
            let terms = st.new_terms(x, R::term);
            rows.iter()
                .map(|&i| terms.iter().map(|t| t[i]).collect())
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};
    use rand::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn left(l: f64, _: f64, _: f64) -> f64 {
        l
    }
    fn right(_: f64, r: f64, _: f64) -> f64 {
        r
    }
    fn skewed(_: f64, _: f64, s: f64) -> f64 {
        s
    }

    fn shares(n: usize) -> Vec<f64> {
        (0..=n).map(|k| -(k as f64 / n as f64).ln()).collect()
    }

    #[test]
    fn run_counts_equal_the_definition() {
        let col = [3.0, 1.0, 2.0, 2.0, -0.0, 0.0, 5.0, 2.0];
        let ln = shares(col.len());
        let sign = Moments::of(&col).skew_sign();
        let (sorted, ul) = training_column(&col, sign, &ln, left);
        let (_, ur) = training_column(&col, sign, &ln, right);
        assert_eq!(sorted, [-0.0, 0.0, 1.0, 2.0, 2.0, 2.0, 3.0, 5.0]);
        let n = col.len() as f64;
        for (i, &v) in col.iter().enumerate() {
            let at_most = col.iter().filter(|&&s| s <= v).count() as f64;
            let at_least = col.iter().filter(|&&s| s >= v).count() as f64;
            assert_eq!(ul[i], -(at_most / n).ln(), "row {i}");
            assert_eq!(ur[i], -(at_least / n).ln(), "row {i}");
        }
    }

    /// The radix sort keeps 32 bits of key: values that share a key must still come out in
    /// exact `total_cmp` order, ties in row order.
    #[test]
    fn sorted_feature_is_exact_where_keys_collide() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut next = move || rng.next_u64();
        let columns: Vec<Vec<f64>> = vec![
            // neighbours 1 ulp apart around a large offset, and repeats
            (0..3000)
                .map(|_| 1.0e9 + (next() % 50) as f64 * 1e-7)
                .collect(),
            // a huge spread (the key's resolution is coarse) with near-equal values inside it
            (0..3000)
                .map(|i| match i % 4 {
                    0 => 1e300,
                    1 => -1e-300,
                    2 => f64::from_bits(1.0f64.to_bits() + next() % 8),
                    _ => -f64::from_bits(2.0f64.to_bits() + next() % 8),
                })
                .collect(),
            // signed zeros, ties and small integers
            (0..3000)
                .map(|i| [0.0, -0.0, 1.0, -1.0, 3.0][(next() % 5) as usize] + (i % 2) as f64)
                .collect(),
            vec![42.0],
        ];
        for col in columns {
            let sorted = SortedFeature::of(&col);
            let mut expected: Vec<usize> = (0..col.len()).collect();
            expected.sort_by(|&a, &b| col[a].total_cmp(&col[b]).then(a.cmp(&b)));
            let rows: Vec<usize> = (0..col.len()).map(|k| sorted.row(k)).collect();
            assert_eq!(rows, expected);
            let values: Vec<f64> = expected.iter().map(|&r| col[r]).collect();
            assert_eq!(sorted.values, values);
        }
    }

    #[test]
    fn radix_sort_is_a_stable_sort_by_the_high_bits() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for (len, low, key_bits) in [
            (0, 3, 8),
            (1, 0, 1),
            (5000, 13, 33),
            (5000, 20, 11),
            (777, 1, 24),
        ] {
            let words: Vec<u64> = (0..len)
                .map(|_| rng.next_u64() >> (64 - key_bits - low))
                .collect();
            let mut expected = words.clone();
            expected.sort_by_key(|&w| w >> low);
            let mut sorted = words;
            radix_sort_by_high_bits(&mut sorted, low);
            assert_eq!(sorted, expected, "{len} words, {low} low bits");
        }
    }

    #[test]
    fn skew_picks_the_tail() {
        // right-skewed feature: the large value's term is its right tail
        let col = [1.0, 1.1, 0.9, 1.0, 9.0];
        let ln = shares(col.len());
        let sign = Moments::of(&col).skew_sign();
        assert_eq!(sign, 1.0);
        let (l, r, s) = [left, right, skewed]
            .map(|f| training_column(&col, sign, &ln, f).1[4])
            .into();
        assert_eq!(s, r);
        assert!(r > l);
        assert_eq!(Moments::of(&[2.0, 2.0, 2.0]).skewness(), 0.0);
    }

    #[test]
    fn merged_moments_equal_the_moments_of_the_union() {
        let a = [1.0, 4.0, 2.5, 9.0, -3.0];
        let b = [0.5, 7.0, 7.0];
        let union: Vec<f64> = a.iter().chain(&b).copied().collect();
        let (m, u) = (
            Moments::merge(Moments::of(&a), Moments::of(&b)),
            Moments::of(&union),
        );
        for (x, y) in [(m.n, u.n), (m.mean, u.mean), (m.m2, u.m2), (m.m3, u.m3)] {
            assert!((x - y).abs() < 1e-12 * y.abs().max(1.0), "{x} vs {y}");
        }
    }

    #[test]
    fn new_rows_are_scored_on_the_union_as_pyod_does() {
        let train = Array2::from_shape_fn((40, 2), |(i, j)| ((i * (3 + j)) % 11) as f64 - j as f64);
        let new = array![[3.0, -1.0], [100.0, 2.0], [0.0, 0.0], [3.0, 50.0]];
        let union = ndarray::concatenate(ndarray::Axis(0), &[train.view(), new.view()]).unwrap();
        for combine in [EcodRule::term, CopodRule::term] {
            let (st, _) = fit_with(train.view(), combine).unwrap();
            let scored = row_sums(&st.new_terms(new.view(), combine));
            let (_, whole) = fit_with(union.view(), combine).unwrap();
            for (s, w) in scored.iter().zip(&whole[40..]) {
                assert!((s - w).abs() < 1e-12, "{s} vs {w}");
            }
        }
    }

    #[test]
    fn training_row_terms_equal_the_fitted_terms() {
        let x = Array2::from_shape_fn((30, 3), |(i, j)| ((i * (2 + j)) % 7) as f64);
        let (st, scores) = fit_with(x.view(), EcodRule::term).unwrap();
        for i in [0, 7, 29] {
            let terms = st.training_row_terms(x.row(i), EcodRule::term);
            assert_eq!(terms.iter().sum::<f64>(), scores[i]);
        }
    }

    #[test]
    fn contributions_sum_to_the_score_and_name_the_feature() {
        let mut rows: Vec<[f64; 3]> = (0..60)
            .map(|i| [(i % 7) as f64, (i % 5) as f64, (i % 3) as f64])
            .collect();
        rows[10][1] = 50.0;
        let x = Array2::from_shape_fn((rows.len(), 3), |(i, j)| rows[i][j]);
        let ecod = Ecod::new(&()).unwrap();
        let (st, scores) = ecod.fit(x.view()).unwrap();
        let c = ecod.contributions(&st, x.view(), &[10], true).unwrap();
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
            (Ecod::new(&()).unwrap().fit(x.view()).unwrap().1, "ecod"),
            (Copod::new(&()).unwrap().fit(x.view()).unwrap().1, "copod"),
        ] {
            let arg = (0..scores.len())
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .unwrap();
            assert_eq!(arg, 50, "{name}");
        }
    }
}
