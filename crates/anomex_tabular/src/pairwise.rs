//! Pairwise value co-occurrence: how surprising are the pairs of values a record holds
//! together. A count-based form of APE (Chen, Tang, Sun, Chen and Zhou, "Entity
//! Embedding-Based Anomaly Detection for Heterogeneous Categorical Events", IJCAI 2016), which
//! scores an event by the compatibility of every pair of its entities: here each pair's
//! compatibility is its smoothed co-occurrence frequency in the training records instead of a
//! learned embedding product, so fitting is counting and needs no training loop.
//!
//! Every column becomes a categorical field: a column with at most `n_bins` distinct training
//! values (a one-hot column, a code, a flag) keeps each value as its own slot; any other
//! column is cut into `n_bins` equal-width bins over its training range (as HBOS cuts, so a
//! value far from the bulk lands in a sparse bin). Each column also has a
//! slot for what training never showed (an unseen code, a value outside the training range).
//! For a pair of columns (j, l) and a record's slots (a, b),
//!
//! term = −ln((n_jl(a, b) + α) / (n + α · K_j · K_l)),
//!
//! the smoothed surprisal of seeing a and b together (K: slots per column, n: training rows);
//! the score is the mean term over the pairs. A record whose every value is common but whose
//! combination was never seen (a service on the wrong protocol, a flag with the wrong byte
//! count) scores high, as does one with rare values. Training rows are scored leave-one-out
//! (their own counts taken out), as the neighbour methods score theirs.
//!
//! Categorical columns of a CSV reach it one-hot encoded (`--categorical`): each indicator
//! column is a two-slot field, so pairs of indicators from different fields are exactly the
//! pairs of categorical values. Cost: O(n · p) to fit and to score for p pairs — all
//! d(d − 1)/2 of them up to `max_pairs`, a seeded sample of that many beyond.

use crate::{ContributionsFn, VectorKernel};
use anomex_core::{About, Error, Result};
use ndarray::ArrayView2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

anomex_core::params! {
    /// Parameters of [`Pairwise`].
    pub struct PairwiseParams {
        /// slots per numeric column: equal-width bins (a column with at most this many distinct values keeps them)
        pub n_bins: usize = 10, in 2..=1000;
        /// added to every pair's counts before the surprisal
        pub alpha: f64 = 1.0, in 1e-9..=1e6;
        /// most column pairs counted; beyond it a seeded sample of pairs
        pub max_pairs: usize = 20_000, in 1..=10_000_000;
        /// seed of the pair sample; the same seed gives the same scores
        pub seed: u64 = 0, in 0..=i64::MAX;
    }
}

/// The pairwise co-occurrence detector (see the module documentation).
#[derive(Debug, Clone)]
pub struct Pairwise {
    n_bins: usize,
    alpha: f64,
    max_pairs: usize,
    seed: u64,
}

/// How one column's values become slots.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Slots {
    /// Each distinct training value (sorted) is a slot; any other value takes the last slot.
    Values(Vec<f64>),
    /// Equal-width cuts (sorted) inside the training range `[lo, hi]`: slot = cuts at or below
    /// the value; a value outside the range takes the last slot.
    Cuts { cuts: Vec<f64>, lo: f64, hi: f64 },
}

impl Slots {
    /// Slots of this column, the unseen slot included.
    fn len(&self) -> usize {
        match self {
            Slots::Values(v) => v.len() + 1,
            Slots::Cuts { cuts, .. } => cuts.len() + 2,
        }
    }

    #[inline]
    fn of(&self, v: f64) -> u32 {
        let slot = match self {
            Slots::Values(values) => values
                .binary_search_by(|probe| probe.total_cmp(&v))
                .unwrap_or(values.len()),
            Slots::Cuts { cuts, lo, hi } => {
                if v >= *lo && v <= *hi {
                    cuts.partition_point(|&c| c <= v)
                } else {
                    cuts.len() + 1
                }
            }
        };
        slot as u32
    }

    /// The slots of one training column.
    fn learn(column: &[f64], n_bins: usize) -> Slots {
        let mut distinct = column.to_vec();
        distinct.sort_unstable_by(f64::total_cmp);
        distinct.dedup();
        if distinct.len() <= n_bins {
            return Slots::Values(distinct);
        }
        // equal-width bins over the training range, as HBOS cuts: a value far from the bulk
        // lands in a sparse bin, where quantile bins would make every bin equally common
        let (lo, hi) = (distinct[0], distinct[distinct.len() - 1]);
        let width = (hi - lo) / n_bins as f64;
        let cuts = (1..n_bins).map(|k| lo + k as f64 * width).collect();
        Slots::Cuts { cuts, lo, hi }
    }
}

/// What [`Pairwise`] learns: each column's slots, the column pairs and their counts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairwiseState {
    pub columns: Vec<Slots>,
    pub pairs: Vec<(u32, u32)>,
    /// Per pair, counts of (a, b) at `a · K_l + b`.
    pub counts: Vec<Vec<u32>>,
    pub rows: u64,
}

impl PairwiseState {
    /// Checks a state read from a model file against the data it is to score.
    fn check(&self, cols: usize) -> Result<()> {
        crate::check_columns(self.columns.len(), cols)?;
        let bad = |what: String| Error::ModelFile(format!("pairwise state: {what}"));
        if self.counts.len() != self.pairs.len() || self.pairs.is_empty() {
            return Err(bad(format!(
                "{} pairs with {} count tables",
                self.pairs.len(),
                self.counts.len()
            )));
        }
        for (p, (&(j, l), counts)) in self.pairs.iter().zip(&self.counts).enumerate() {
            let (j, l) = (j as usize, l as usize);
            if j >= cols || l >= cols {
                return Err(bad(format!("pair {p} names column {} of {cols}", j.max(l))));
            }
            let size = self.columns[j].len() * self.columns[l].len();
            if counts.len() != size {
                return Err(bad(format!(
                    "pair {p} has {} counts for {size} slots",
                    counts.len()
                )));
            }
        }
        Ok(())
    }

    /// Per pair, the surprisal of every slot pair; `leave_one_out` takes one record out of
    /// the counts (a training row scoring itself).
    fn terms(&self, alpha: f64, leave_one_out: bool) -> Vec<Vec<f64>> {
        let own = if leave_one_out { 1.0 } else { 0.0 };
        let n = self.rows as f64 - own;
        self.pairs
            .par_iter()
            .zip(&self.counts)
            .map(|(&(j, l), counts)| {
                let k = (self.columns[j as usize].len() * self.columns[l as usize].len()) as f64;
                let total = (n + alpha * k).ln();
                counts
                    .iter()
                    .map(|&c| total - ((f64::from(c) - own).max(0.0) + alpha).ln())
                    .collect()
            })
            .collect()
    }
}

/// The slot of every value, column-major (`codes[j][i]`).
fn codes(columns: &[Slots], x: ArrayView2<'_, f64>) -> Vec<Vec<u32>> {
    columns
        .par_iter()
        .enumerate()
        .map(|(j, slots)| x.column(j).iter().map(|&v| slots.of(v)).collect())
        .collect()
}

impl Pairwise {
    /// The slots of `x` (column-major) and every pair's terms.
    fn row_terms(
        &self,
        st: &PairwiseState,
        x: ArrayView2<'_, f64>,
        leave_one_out: bool,
    ) -> (Vec<Vec<u32>>, Vec<Vec<f64>>) {
        (codes(&st.columns, x), st.terms(self.alpha, leave_one_out))
    }

    fn scores(&self, st: &PairwiseState, x: ArrayView2<'_, f64>, loo: bool) -> Vec<f64> {
        let (codes, terms) = self.row_terms(st, x, loo);
        let width: Vec<usize> = st
            .pairs
            .iter()
            .map(|&(_, l)| st.columns[l as usize].len())
            .collect();
        let pairs = st.pairs.len() as f64;
        (0..x.nrows())
            .into_par_iter()
            .with_min_len(256)
            .map(|i| {
                st.pairs
                    .iter()
                    .zip(&terms)
                    .zip(&width)
                    .map(|((&(j, l), t), &w)| {
                        t[codes[j as usize][i] as usize * w + codes[l as usize][i] as usize]
                    })
                    .sum::<f64>()
                    / pairs
            })
            .collect()
    }

    /// Each column's share of a row's score: half of every pair term it is in.
    fn contributions(
        &self,
        st: &PairwiseState,
        x: ArrayView2<'_, f64>,
        rows: &[usize],
        training: bool,
    ) -> Result<Vec<Vec<f64>>> {
        st.check(x.ncols())?;
        let (codes, terms) = self.row_terms(st, x, training);
        let pairs = st.pairs.len() as f64;
        Ok(rows
            .iter()
            .map(|&i| {
                let mut share = vec![0.0; x.ncols()];
                for (&(j, l), t) in st.pairs.iter().zip(&terms) {
                    let (j, l) = (j as usize, l as usize);
                    let w = st.columns[l].len();
                    let term = t[codes[j][i] as usize * w + codes[l][i] as usize] / pairs;
                    share[j] += term / 2.0;
                    share[l] += term / 2.0;
                }
                share
            })
            .collect())
    }

    /// The column pairs: all of them up to `max_pairs`, else a seeded sample; one column pairs
    /// with itself (its own value frequencies).
    fn pairs(&self, d: usize) -> Vec<(u32, u32)> {
        if d == 1 {
            return vec![(0, 0)];
        }
        let mut all: Vec<(u32, u32)> = (0..d as u32)
            .flat_map(|j| (j + 1..d as u32).map(move |l| (j, l)))
            .collect();
        if all.len() > self.max_pairs {
            all.shuffle(&mut ChaCha8Rng::seed_from_u64(self.seed));
            all.truncate(self.max_pairs);
            all.sort_unstable();
        }
        all
    }
}

impl VectorKernel for Pairwise {
    type Params = PairwiseParams;
    type State = PairwiseState;
    const ABOUT: About = About {
        name: "pairwise",
        class: "Pairwise",
        summary: "pairwise value co-occurrence: mean smoothed surprisal of a record's value \
                  pairs over discretised columns (count-based APE, Chen et al. 2016)",
    };
    const CONTRIBUTIONS: Option<ContributionsFn<Self>> = Some(Pairwise::contributions);

    fn new(p: &PairwiseParams) -> Result<Self> {
        Ok(Pairwise {
            n_bins: p.n_bins,
            alpha: p.alpha,
            max_pairs: p.max_pairs,
            seed: p.seed,
        })
    }

    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(PairwiseState, Vec<f64>)> {
        crate::need_rows(x, 2, "pairwise")?;
        let columns: Vec<Slots> = crate::feature_columns(x)
            .par_iter()
            .map(|c| Slots::learn(c, self.n_bins))
            .collect();
        let codes = codes(&columns, x);
        let pairs = self.pairs(x.ncols());
        let counts = pairs
            .par_iter()
            .map(|&(j, l)| {
                let w = columns[l as usize].len();
                let mut counts = vec![0u32; columns[j as usize].len() * w];
                for (&a, &b) in codes[j as usize].iter().zip(&codes[l as usize]) {
                    counts[a as usize * w + b as usize] += 1;
                }
                counts
            })
            .collect();
        let state = PairwiseState {
            columns,
            pairs,
            counts,
            rows: x.nrows() as u64,
        };
        let scores = self.scores(&state, x, true);
        Ok((state, scores))
    }

    fn score(&self, st: &PairwiseState, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        st.check(x.ncols())?;
        Ok(self.scores(st, x, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// Two categorical fields that go together (field b is field a's partner) and a number.
    fn records(n: usize) -> Array2<f64> {
        Array2::from_shape_fn((n, 3), |(i, j)| match j {
            0 => (i % 4) as f64,
            1 => ((i % 4) * 10) as f64,
            _ => (i % 17) as f64 * 0.37,
        })
    }

    #[test]
    fn a_never_seen_combination_of_common_values_scores_highest() {
        let k = Pairwise::new(&PairwiseParams::default()).unwrap();
        let train = records(400);
        let (state, train_scores) = k.fit(train.view()).unwrap();
        assert_eq!(train_scores.len(), 400);
        let mut test = records(8);
        test[[3, 1]] = 0.0; // a = 3 with b = 0: both common, never together
        test[[5, 2]] = 1e6; // a number far outside the training range
        let s = k.score(&state, test.view()).unwrap();
        let normal = s[0].max(s[1]).max(s[2]).max(s[4]);
        assert!(s[3] > normal + 1.0, "{s:?}");
        assert!(s[5] > normal + 1.0, "{s:?}");
        // each column's share sums to the score and the broken pair's columns carry it
        let c = Pairwise::contributions(&k, &state, test.view(), &[3], false).unwrap();
        assert!((c[0].iter().sum::<f64>() - s[3]).abs() < 1e-9);
        assert!(c[0][1] > c[0][2], "{c:?}");
    }

    #[test]
    fn training_rows_are_scored_leave_one_out() {
        let k = Pairwise::new(&PairwiseParams::default()).unwrap();
        let mut train = records(200);
        train[[7, 0]] = 9.0; // a code seen once: unseen once it is left out
        let (state, loo) = k.fit(train.view()).unwrap();
        let again = k.score(&state, train.view()).unwrap();
        let (rare, common) = (loo[7] - again[7], loo[8] - again[8]);
        // its two pairs: ln 2 each (seen once → unseen, α = 1), over three pairs
        assert!(rare > 0.4, "left out, its code is unseen: {rare}");
        assert!(
            (0.0..rare / 2.0).contains(&common),
            "a common row changes less: {common}"
        );
    }

    #[test]
    fn many_columns_are_sampled_to_max_pairs_and_bad_states_are_named() {
        let p = PairwiseParams {
            max_pairs: 10,
            ..PairwiseParams::default()
        };
        let k = Pairwise::new(&p).unwrap();
        let x = Array2::from_shape_fn((50, 12), |(i, j)| ((i * (j + 1)) % 7) as f64);
        let (mut state, _) = k.fit(x.view()).unwrap();
        assert_eq!(state.pairs.len(), 10);
        state.pairs[0] = (0, 40);
        let e = k.score(&state, x.view()).unwrap_err().to_string();
        assert!(e.contains("names column 40"), "{e}");
    }
}
