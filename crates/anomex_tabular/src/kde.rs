//! Kernel density estimate, as PyOD's `KDE` (scikit-learn's `KernelDensity`, Gaussian kernel,
//! exact) scores rows: `−ln p̂(x)` with
//! `p̂(x) = (1/n) Σ_i exp(−‖x − x_i‖² / 2h²) / (2π h²)^{d/2}` over the training rows (a training
//! row's own kernel included, as scikit-learn scores it) and bandwidth `h` (PyOD's default 1).
//! Parzen, "On Estimation of a Probability Density Function and Mode", Ann. Math. Stat. 1962.
//!
//! Computed in log space (a running log-sum-exp per row), so far-away rows get large finite
//! scores rather than `−ln 0`. Cost: O(n · m · d) through blocked GEMM ([`crate::neighbors`]);
//! memory O(n · d) for the kept training rows.

use crate::knn::Reference;
use crate::neighbors::sweep;
use crate::VectorKernel;
use anomex_core::{About, Result};
use ndarray::ArrayView2;

/// KDE detector.
#[derive(Debug, Clone)]
pub struct Kde {
    bandwidth: f64,
}

/// A running `ln Σ exp(v)`.
#[derive(Debug, Clone, Copy)]
struct LogSum {
    max: f64,
    sum: f64,
}

impl LogSum {
    fn add_block(&mut self, values: impl Iterator<Item = f64> + Clone) {
        let block_max = values.clone().fold(f64::NEG_INFINITY, f64::max);
        if block_max > self.max {
            self.sum *= (self.max - block_max).exp();
            self.max = block_max;
        }
        self.sum += values.map(|v| (v - self.max).exp()).sum::<f64>();
    }
    fn value(&self) -> f64 {
        self.max + self.sum.ln()
    }
}

impl Kde {
    fn neg_log_density(&self, train: ArrayView2<'_, f64>, x: ArrayView2<'_, f64>) -> Vec<f64> {
        let h2 = self.bandwidth * self.bandwidth;
        let d = x.ncols() as f64;
        let norm = (train.nrows() as f64).ln() + 0.5 * d * (2.0 * std::f64::consts::PI * h2).ln();
        sweep::<f64, _>(
            train,
            x,
            |_| LogSum {
                max: f64::NEG_INFINITY,
                sum: 0.0,
            },
            |acc, _, block| {
                acc.add_block((0..block.partial.len()).map(|j| -block.distance_sq(j) / (2.0 * h2)));
            },
        )
        .iter()
        .map(|acc| norm - acc.value())
        .collect()
    }
}

anomex_core::params! {
    /// Parameters of [`Kde`] (PyOD's defaults).
    pub struct KdeParams {
        /// kernel bandwidth h (in the data's units)
        pub bandwidth: f64 = 1.0, in 1e-300..=1e300;
    }
}

impl VectorKernel for Kde {
    type Params = KdeParams;
    type State = Reference;
    const ABOUT: About = About {
        name: "kde",
        class: "KDE",
        summary: "Gaussian kernel density, negative log (Parzen, 1962), PyOD defaults",
    };
    fn new(p: &KdeParams) -> Result<Self> {
        Ok(Kde {
            bandwidth: p.bandwidth,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(Reference, Vec<f64>)> {
        crate::need_rows(x, 1, "KDE")?;
        let scores = self.neg_log_density(x, x);
        Ok((Reference::keep(x), scores))
    }
    fn score(&self, st: &Reference, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let train = st.matrix_for(x.ncols())?;
        Ok(self.neg_log_density(train.view(), x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_definition() {
        let x = ndarray::array![[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]];
        let kde = Kde { bandwidth: 0.7 };
        let s = kde.neg_log_density(x.view(), x.view());
        let h2: f64 = 0.49;
        for i in 0..3 {
            let p: f64 = (0..3)
                .map(|j| {
                    let d2: f64 = (0..2).map(|c| (x[[i, c]] - x[[j, c]]).powi(2)).sum();
                    (-d2 / (2.0 * h2)).exp() / (2.0 * std::f64::consts::PI * h2)
                })
                .sum::<f64>()
                / 3.0;
            assert!((s[i] + p.ln()).abs() < 1e-12, "row {i}");
        }
        // far away: finite and large
        let far = ndarray::array![[1e3, 1e3]];
        let f = kde.neg_log_density(x.view(), far.view())[0];
        assert!(f.is_finite() && f > 1e6);
    }
}
