//! LODA: lightweight on-line detector of anomalies (Pevný, Machine Learning 2016), with PyOD's
//! construction.
//!
//! `n_random_cuts` sparse random projections (standard normal weights, all but `⌊√d⌋` of them
//! set to zero), each with an equal-width histogram of the projected training rows (`n_bins`,
//! or per projection by the Birgé–Rozenblac rule with `auto`) turned into bin probabilities
//! (counts + 1e-12, normalised). The score of a row is the mean of `−ln p(bin)` over the
//! projections. By default a projected value is looked up in the bin that contains it, and a
//! value outside the training range gets the 1e-12 pseudo-count. PyOD 3.6.7 instead looks values
//! up one bin to the right (`searchsorted` on the bins' left edges: a value in bin k reads bin
//! k + 1) and clamps outside values into the edge bins; `bin_lookup=pyod` reproduces that, and
//! the parity table in `docs/parity` shows both. Cost: O(t · n · d) to fit and score;
//! memory O(t · (d + bins)).

use crate::hbos::{birge_rozenblac_bins, histogram_counts};
use crate::VectorKernel;
use anomex_core::{About, Error, Result};
use ndarray::ArrayView2;
use rand::seq::index::sample;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

const PSEUDO_COUNT: f64 = 1e-12;

/// LODA detector.
#[derive(Debug, Clone)]
pub struct Loda {
    n_bins: Option<usize>,
    pyod_lookup: bool,
    n_random_cuts: usize,
    seed: u64,
}

/// One projection with its histogram: edges and `−ln p` of each bin, and the value outside.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cut {
    pub weights: Vec<f64>,
    /// PyOD's shifted lookup (see the module documentation).
    #[serde(default)]
    pub pyod_lookup: bool,
    pub edges: Vec<f64>,
    pub neg_log_p: Vec<f64>,
    pub outside: f64,
}

impl Cut {
    /// `(feature, weight)` of the non-zero weights: the projection is sparse.
    fn support(&self) -> Vec<(usize, f64)> {
        sparse(&self.weights)
    }

    fn term(&self, support: &[(usize, f64)], row: &[f64]) -> f64 {
        let v: f64 = support.iter().map(|&(j, w)| w * row[j]).sum();
        let bins = self.neg_log_p.len();
        if self.pyod_lookup {
            // numpy's searchsorted(edges[..bins − 1], v, side="left")
            let k = self.edges[..bins - 1].partition_point(|&e| e < v);
            return self.neg_log_p[k];
        }
        if v < self.edges[0] || v > self.edges[bins] {
            return self.outside;
        }
        // bin k holds edges[k] ≤ v < edges[k + 1]; the last bin is closed
        let k = self
            .edges
            .partition_point(|&e| e <= v)
            .saturating_sub(1)
            .min(bins - 1);
        self.neg_log_p[k]
    }
}

/// `(index, weight)` of the non-zero weights.
fn sparse(weights: &[f64]) -> Vec<(usize, f64)> {
    weights
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, w)| w != 0.0)
        .collect()
}

/// The projections.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Projections {
    pub dims: usize,
    pub cuts: Vec<Cut>,
}

impl Loda {
    fn cut(&self, x: ArrayView2<'_, f64>, rng: &mut ChaCha8Rng) -> Cut {
        let d = x.ncols();
        let mut weights: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
        let nonzero = (d as f64).sqrt() as usize;
        for j in sample(rng, d, d - nonzero) {
            weights[j] = 0.0;
        }
        let support = sparse(&weights);
        let projected: Vec<f64> = x
            .rows()
            .into_iter()
            .map(|r| support.iter().map(|&(j, w)| w * r[j]).sum())
            .collect();
        let bins = self
            .n_bins
            .unwrap_or_else(|| birge_rozenblac_bins(&projected));
        let (edges, counts) = histogram_counts(&projected, bins);
        let total = counts.iter().map(|&c| c as f64 + PSEUDO_COUNT).sum::<f64>();
        Cut {
            weights,
            pyod_lookup: self.pyod_lookup,
            edges,
            neg_log_p: counts
                .iter()
                .map(|&c| -((c as f64 + PSEUDO_COUNT) / total).ln())
                .collect(),
            outside: -(PSEUDO_COUNT / total).ln(),
        }
    }
}

anomex_core::choice! {
    /// Which histogram bin a projected value is looked up in.
    pub enum BinLookup {
        /// the bin holding the value
        Exact = "exact",
        /// PyOD 3.6.7's one-bin-right lookup
        Pyod = "pyod"
    }
}

anomex_core::params! {
    /// Parameters of [`Loda`] (PyOD's defaults).
    pub struct LodaParams {
        /// histogram bins per projection; auto = Birgé–Rozenblac per projection
        pub n_bins: Option<usize> = Some(10), in 1..=100_000;
        /// random projections
        pub n_random_cuts: usize = 100, in 1..=100_000;
        /// exact: the bin holding the value; pyod: PyOD 3.6.7's one-bin-right lookup
        pub bin_lookup: BinLookup = BinLookup::Exact;
        /// random seed; the same seed gives the same scores
        pub seed: u64 = 0, in 0..=i64::MAX;
    }
}

impl VectorKernel for Loda {
    type Params = LodaParams;
    type State = Projections;
    const ABOUT: About = About {
        name: "loda",
        class: "LODA",
        summary: "sparse random projections with histograms (LODA; Pevný, 2016), PyOD defaults",
    };
    fn new(p: &LodaParams) -> Result<Self> {
        Ok(Loda {
            n_bins: p.n_bins,
            pyod_lookup: p.bin_lookup == BinLookup::Pyod,
            n_random_cuts: p.n_random_cuts,
            seed: p.seed,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(Projections, Vec<f64>)> {
        crate::need_rows(x, 2, "LODA")?;
        let cuts = crate::members(self.n_random_cuts, self.seed, |rng| self.cut(x, rng));
        let st = Projections {
            dims: x.ncols(),
            cuts,
        };
        let scores = self.score(&st, x)?;
        Ok((st, scores))
    }
    fn score(&self, st: &Projections, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        crate::check_columns(st.dims, x.ncols())?;
        if st.cuts.is_empty()
            || st.cuts.iter().any(|c| {
                c.weights.len() != st.dims
                    || c.neg_log_p.is_empty()
                    || c.edges.len() != c.neg_log_p.len() + 1
            })
        {
            return Err(Error::ModelFile("LODA projections are damaged".into()));
        }
        let supports: Vec<Vec<(usize, f64)>> = st.cuts.iter().map(Cut::support).collect();
        Ok(crate::score_rows(x, |row| {
            st.cuts
                .iter()
                .zip(&supports)
                .map(|(c, s)| c.term(s, row))
                .sum::<f64>()
                / st.cuts.len() as f64
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn bin_lookup_and_outside_values() {
        let mut cut = Cut {
            weights: vec![1.0],
            pyod_lookup: false,
            edges: vec![0.0, 1.0, 2.0],
            neg_log_p: vec![0.5, 2.0],
            outside: 30.0,
        };
        let s = cut.support();
        assert_eq!(cut.term(&s, &[0.0]), 0.5);
        assert_eq!(cut.term(&s, &[0.99]), 0.5);
        assert_eq!(cut.term(&s, &[1.0]), 2.0);
        assert_eq!(cut.term(&s, &[2.0]), 2.0);
        assert_eq!(cut.term(&s, &[2.5]), 30.0);
        assert_eq!(cut.term(&s, &[-0.1]), 30.0);
        // PyOD: searchsorted([0, 1], v) → bin 0 only for v ≤ 0, bin 1 above
        cut.pyod_lookup = true;
        assert_eq!(cut.term(&s, &[-0.1]), 0.5);
        assert_eq!(cut.term(&s, &[0.5]), 2.0);
        assert_eq!(cut.term(&s, &[9.0]), 2.0);
    }

    #[test]
    fn sparse_projections_and_a_far_row() {
        let mut x = Array2::from_shape_fn((400, 9), |(i, j)| ((i * (j + 3)) % 17) as f64);
        for j in 0..9 {
            x[[7, j]] = 60.0;
        }
        let loda = Loda::from_pairs::<&str>(&[]).unwrap();
        let (st, s) = loda.fit(x.view()).unwrap();
        // √9 = 3 non-zero weights per projection
        assert!(st
            .cuts
            .iter()
            .all(|c| c.weights.iter().filter(|&&w| w != 0.0).count() == 3));
        let arg = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
        assert_eq!(arg, 7);
    }
}
