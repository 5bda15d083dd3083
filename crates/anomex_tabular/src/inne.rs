//! iNNE: isolation with nearest-neighbour ensembles (Bandaragoda, Ting, Albrecht, Liu, Zhu &
//! Wells, "Isolation-based anomaly detection using nearest-neighbor ensembles", Computational
//! Intelligence 2018), as PyOD's `INNE` computes it.
//!
//! Each of `n_estimators` members draws `max_samples` rows (PyOD's `auto`: 8) as centres; a
//! centre's ball has the squared distance to its nearest other centre as radius, and its
//! isolation ratio is `1 − r(nn(c)) / r(c)`. A row takes, in every member, the ratio of the
//! smallest ball that covers it (1 when none does); its score is the mean over members.
//! Members are drawn from per-member generators, so the ensemble is the same for any thread
//! count. Cost: O(t · ψ² · d) to fit, O(n · t · ψ · d) to score; memory O(t · ψ · d).

use crate::VectorKernel;
use anomex_core::{About, Error, Result};
use ndarray::ArrayView2;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// numpy's machine epsilon, PyOD's guard against a zero radius.
const TINY: f64 = f64::EPSILON;

/// iNNE detector.
#[derive(Debug, Clone)]
pub struct Inne {
    n_estimators: usize,
    max_samples: usize,
    seed: u64,
}

/// One member: centres (row-major), squared radii, isolation ratios.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub centres: Vec<f64>,
    pub radius: Vec<f64>,
    pub ratio: Vec<f64>,
}

/// The ensemble.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ensemble {
    pub dims: usize,
    pub members: Vec<Member>,
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn grow(x: ArrayView2<'_, f64>, psi: usize, rng: &mut ChaCha8Rng) -> Member {
    let d = x.ncols();
    let rows = sample(rng, x.nrows(), psi).into_vec();
    let centres: Vec<f64> = rows.iter().flat_map(|&r| x.row(r).to_vec()).collect();
    let c = |k: usize| &centres[k * d..(k + 1) * d];
    let mut radius = vec![f64::INFINITY; psi];
    let mut nearest = vec![0usize; psi];
    for a in 0..psi {
        for b in 0..psi {
            if a != b {
                let dist = sq_dist(c(a), c(b));
                if dist < radius[a] {
                    radius[a] = dist;
                    nearest[a] = b;
                }
            }
        }
    }
    let ratio = (0..psi)
        .map(|a| 1.0 - (radius[nearest[a]] + TINY) / (radius[a] + TINY))
        .collect();
    Member {
        centres,
        radius,
        ratio,
    }
}

impl Member {
    /// The ratio of the smallest ball covering `row`, 1 when none covers it.
    fn isolation(&self, row: &[f64]) -> f64 {
        let d = row.len();
        let mut best: Option<usize> = None;
        for (k, &r) in self.radius.iter().enumerate() {
            if sq_dist(&self.centres[k * d..(k + 1) * d], row) <= r
                && best.is_none_or(|b| r < self.radius[b])
            {
                best = Some(k);
            }
        }
        best.map_or(1.0, |k| self.ratio[k])
    }
}

anomex_core::params! {
    /// Parameters of [`Inne`] (PyOD's defaults).
    pub struct InneParams {
        /// ensemble members
        pub n_estimators: usize = 200, in 1..=100_000;
        /// centres per member (at most the rows available)
        pub max_samples: usize = 8, in 2..=1_000_000;
        /// random seed; the same seed gives the same scores
        pub seed: u64 = 0, in 0..=i64::MAX;
    }
}

impl VectorKernel for Inne {
    type Params = InneParams;
    type State = Ensemble;
    const ABOUT: About = About {
        name: "inne",
        class: "INNE",
        summary: "isolation with nearest-neighbour ensembles (iNNE; Bandaragoda et al., 2018), PyOD defaults",
    };
    fn new(p: &InneParams) -> Result<Self> {
        Ok(Inne {
            n_estimators: p.n_estimators,
            max_samples: p.max_samples,
            seed: p.seed,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(Ensemble, Vec<f64>)> {
        crate::need_rows(x, 2, "iNNE")?;
        let psi = self.max_samples.min(x.nrows());
        let members = crate::members(self.n_estimators, self.seed, |rng| grow(x, psi, rng));
        let st = Ensemble {
            dims: x.ncols(),
            members,
        };
        let scores = self.score(&st, x)?;
        Ok((st, scores))
    }
    fn score(&self, st: &Ensemble, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        crate::check_columns(st.dims, x.ncols())?;
        if st.members.is_empty()
            || st.members.iter().any(|m| {
                m.centres.len() != m.radius.len() * st.dims || m.ratio.len() != m.radius.len()
            })
        {
            return Err(Error::ModelFile("iNNE members are damaged".into()));
        }
        Ok(crate::score_rows(x, |row| {
            st.members.iter().map(|m| m.isolation(row)).sum::<f64>() / st.members.len() as f64
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn ratio_and_cover_follow_the_definition() {
        // centres at 0, 1 and 10 on a line: radii 1, 1, 81
        let x = ndarray::array![[0.0], [1.0], [10.0]];
        let m = grow(
            x.view(),
            3,
            &mut <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(3),
        );
        let at = |v: f64| m.centres.iter().position(|&c| c == v).unwrap();
        assert_eq!(m.radius[at(10.0)], 81.0);
        assert!((m.ratio[at(10.0)] - (1.0 - (1.0 + TINY) / (81.0 + TINY))).abs() < 1e-15);
        // 0.5 is covered by the radius-1 balls (ratio 0); 30 by none
        assert_eq!(m.isolation(&[0.5]), 0.0);
        assert_eq!(m.isolation(&[30.0]), 1.0);
        // 5 only by the big ball
        assert_eq!(m.isolation(&[5.0]), m.ratio[at(10.0)]);
    }

    #[test]
    fn far_row_scores_highest_for_any_thread_count() {
        let mut x = Array2::from_shape_fn((300, 2), |(i, j)| ((i * 7 + j * 11) % 13) as f64);
        x[[42, 0]] = 90.0;
        let inne = Inne::from_pairs::<&str>(&[]).unwrap();
        let (_, s) = inne.fit(x.view()).unwrap();
        let arg = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
        assert_eq!(arg, 42);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let (_, s1) = one.install(|| inne.fit(x.view()).unwrap());
        assert_eq!(s, s1);
    }
}
