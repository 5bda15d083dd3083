//! Gaussian mixture negative log-likelihood, as PyOD's `GMM` (scikit-learn's `GaussianMixture`
//! with full covariances) scores rows.
//!
//! Expectation–maximisation (Dempster, Laird & Rubin, JRSS-B 1977): responsibilities start
//! from a k-means labelling ([`crate::kmeans`]), each M-step sets weights, means and covariances
//! (plus `reg_covar` on the diagonal), each E-step the responsibilities, until the mean
//! log-likelihood moves less than `tol` (at most `max_iter` rounds). The score of a row is
//! `−ln Σ_k π_k N(x | μ_k, Σ_k)`. With PyOD's default of one component this is the negative
//! log-density of one Gaussian fitted to all rows. Cost: O(iterations · n · k · d²);
//! memory O(n · k + k · d²).

use crate::gaussian::{weighted_mean_cov, Gaussian};
use crate::VectorKernel;
use anomex_core::{About, Error, Result};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

/// GMM detector.
#[derive(Debug, Clone)]
pub struct Gmm {
    k: usize,
    reg_covar: f64,
    tol: f64,
    max_iter: usize,
    seed: u64,
}

/// Mixture weights (as logarithms) and components.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mixture {
    pub log_weights: Vec<f64>,
    pub components: Vec<Gaussian>,
}

impl Mixture {
    /// `ln π_k + ln N(x_i | k)` for every row (outer) and component (inner).
    fn log_joint(&self, x: ArrayView2<'_, f64>) -> Vec<Vec<f64>> {
        let d = x.ncols() as f64;
        let base = d * (2.0 * std::f64::consts::PI).ln();
        let per_component: Vec<Vec<f64>> = self
            .components
            .iter()
            .zip(&self.log_weights)
            .map(|(g, lw)| {
                g.distances_sq(x)
                    .into_iter()
                    .map(|m| lw - 0.5 * (base + g.logdet + m))
                    .collect()
            })
            .collect();
        (0..x.nrows())
            .map(|i| per_component.iter().map(|c| c[i]).collect())
            .collect()
    }
}

fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|a| (a - m).exp()).sum::<f64>().ln()
}

impl Gmm {
    /// M-step: the mixture from responsibilities `resp` (rows × components).
    fn m_step(&self, x: ArrayView2<'_, f64>, resp: &Array2<f64>) -> Result<Mixture> {
        let n = x.nrows() as f64;
        let d = x.ncols();
        let mut log_weights = Vec::with_capacity(self.k);
        let mut components = Vec::with_capacity(self.k);
        for c in 0..resp.ncols() {
            let col = resp.column(c);
            let nk = col.sum() + 10.0 * f64::EPSILON;
            let (mean, mut cov) = weighted_mean_cov(x, |i| col[i]);
            if col.sum() <= 0.0 {
                // an empty component: keep it harmless, far below the others
                log_weights.push(f64::NEG_INFINITY);
                components.push(Gaussian::new(vec![0.0; d], &faer::Mat::identity(d, d))?);
                continue;
            }
            for j in 0..d {
                cov[(j, j)] += self.reg_covar;
            }
            log_weights.push((nk / n).ln());
            components.push(Gaussian::new(mean, &cov)?);
        }
        if components.iter().any(|g| g.logdet == f64::NEG_INFINITY) {
            return Err(Error::Numerical(
                "a mixture component's covariance is singular; raise reg_covar".into(),
            ));
        }
        Ok(Mixture {
            log_weights,
            components,
        })
    }
}

anomex_core::params! {
    /// Parameters of [`Gmm`] (PyOD's defaults, scikit-learn's `GaussianMixture`).
    pub struct GmmParams {
        /// mixture components
        pub n_components: usize = 1, in 1..=10_000;
        /// added to the covariances' diagonals
        pub reg_covar: f64 = 1e-6, in 0.0..=1e12;
        /// stop when the mean log-likelihood moves less
        pub tol: f64 = 1e-3, in 0.0..=1e12;
        /// EM rounds at most
        pub max_iter: usize = 100, in 1..=1_000_000;
        /// random seed; the same seed gives the same scores
        pub seed: u64 = 0, in 0..=i64::MAX;
    }
}

impl VectorKernel for Gmm {
    type Params = GmmParams;
    type State = Mixture;
    const ABOUT: About = About {
        name: "gmm",
        class: "GMM",
        summary: "Gaussian mixture negative log-likelihood (EM, full covariances), PyOD defaults",
    };
    fn new(p: &GmmParams) -> Result<Self> {
        Ok(Gmm {
            k: p.n_components,
            reg_covar: p.reg_covar,
            tol: p.tol,
            max_iter: p.max_iter,
            seed: p.seed,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(Mixture, Vec<f64>)> {
        crate::need_rows(x, self.k.max(2), "a Gaussian mixture")?;
        let n = x.nrows();
        let labels = if self.k == 1 {
            vec![0; n]
        } else {
            crate::kmeans::kmeans(x, self.k, self.seed)?.labels
        };
        let mut resp = Array2::<f64>::zeros((n, self.k));
        labels
            .iter()
            .enumerate()
            .for_each(|(i, &l)| resp[[i, l]] = 1.0);
        let mut mixture = self.m_step(x, &resp)?;
        let mut previous = f64::NEG_INFINITY;
        for _ in 0..self.max_iter {
            let joint = mixture.log_joint(x);
            let norms: Vec<f64> = joint.iter().map(|r| log_sum_exp(r)).collect();
            let bound = norms.iter().sum::<f64>() / n as f64;
            for (i, row) in joint.iter().enumerate() {
                for (c, &v) in row.iter().enumerate() {
                    resp[[i, c]] = (v - norms[i]).exp();
                }
            }
            mixture = self.m_step(x, &resp)?;
            if (bound - previous).abs() < self.tol {
                break;
            }
            previous = bound;
        }
        let scores = self.score(&mixture, x)?;
        Ok((mixture, scores))
    }
    fn score(&self, m: &Mixture, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        for g in &m.components {
            g.check(x.ncols())?;
        }
        if m.log_weights.len() != m.components.len() {
            return Err(Error::ModelFile("mixture weights do not match".into()));
        }
        Ok(m.log_joint(x).iter().map(|r| -log_sum_exp(r)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_component_is_the_gaussian_log_density() {
        let x = ndarray::array![[0.0], [2.0], [4.0]];
        let (_, s) = Gmm::from_pairs::<&str>(&[]).unwrap().fit(x.view()).unwrap();
        // mean 2, variance 8/3 + 1e-6
        let var = 8.0 / 3.0 + 1e-6;
        let expected = 0.5 * ((2.0 * std::f64::consts::PI * var).ln() + 4.0 / var);
        assert!((s[0] - expected).abs() < 1e-12, "{} vs {expected}", s[0]);
    }

    #[test]
    fn two_components_fit_two_blobs() {
        let x = Array2::from_shape_fn((200, 2), |(i, j)| {
            (if i % 2 == 0 { 0.0 } else { 20.0 }) + ((i * 7 + j * 3) % 11) as f64 / 10.0
        });
        let g = Gmm::from_pairs::<&str>(&["n_components=2"]).unwrap();
        let (m, _) = g.fit(x.view()).unwrap();
        let between = ndarray::array![[10.0, 0.5]];
        let inside = ndarray::array![[0.5, 0.5]];
        let s_between = g.score(&m, between.view()).unwrap()[0];
        let s_inside = g.score(&m, inside.view()).unwrap()[0];
        assert!(s_between > s_inside + 10.0);
    }
}
