//! Gaussian building blocks shared by the covariance-based detectors: the mean and maximum-
//! likelihood covariance of a set of rows, and a precision matrix from the covariance's
//! eigendecomposition that stays usable when the covariance is singular (scipy's `pinvh`:
//! eigenvalues below `d · ε · λ_max` are dropped), with its log-determinant.

use anomex_core::{Error, Result};
use faer::{Mat, Side};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// Mean and covariance (divided by the weight total) of the rows of `x`, each row weighted by
/// `weight(i)` (0 leaves it out).
pub fn weighted_mean_cov(
    x: ArrayView2<'_, f64>,
    weight: impl Fn(usize) -> f64,
) -> (Vec<f64>, Mat<f64>) {
    let (n, d) = x.dim();
    let weights: Vec<f64> = (0..n).map(&weight).collect();
    let total: f64 = weights.iter().sum();
    let mut mean = vec![0.0; d];
    for (i, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            mean.iter_mut()
                .zip(x.row(i))
                .for_each(|(m, &v)| *m += w * v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= total);
    let kept: Vec<usize> = (0..n).filter(|&i| weights[i] > 0.0).collect();
    let z = Mat::from_fn(kept.len(), d, |r, j| {
        let i = kept[r];
        weights[i].sqrt() * (x[[i, j]] - mean[j])
    });
    let mut cov = z.transpose() * &z;
    cov *= faer::Scale(1.0 / total);
    (mean, cov)
}

/// Mean and maximum-likelihood covariance of the rows `rows` of `x`.
pub fn mean_cov(x: ArrayView2<'_, f64>, rows: &[usize]) -> (Vec<f64>, Mat<f64>) {
    let mut member = vec![0.0; x.nrows()];
    rows.iter().for_each(|&i| member[i] = 1.0);
    weighted_mean_cov(x, |i| member[i])
}

mod neg_infinity_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_some(v)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NEG_INFINITY))
    }
}

/// A location with the (pseudo-)inverse of its covariance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gaussian {
    pub mean: Vec<f64>,
    /// `d × d`, row-major.
    pub precision: Vec<f64>,
    /// ln det of the covariance; −∞ when it is singular (stored as `null`: JSON has no −∞).
    #[serde(with = "neg_infinity_as_null")]
    pub logdet: f64,
}

impl Gaussian {
    /// From a mean and a symmetric covariance.
    pub fn new(mean: Vec<f64>, cov: &Mat<f64>) -> Result<Self> {
        let d = mean.len();
        let evd = cov.self_adjoint_eigen(Side::Lower).map_err(|e| {
            Error::Numerical(format!("covariance eigendecomposition failed: {e:?}"))
        })?;
        let values: Vec<f64> = (0..d).map(|i| evd.S()[i]).collect();
        let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let cutoff = d as f64 * f64::EPSILON * largest;
        let u = evd.U();
        // U diag(1/λ) Uᵀ over the kept eigenvalues
        let scaled = Mat::from_fn(d, d, |r, k| {
            if values[k] > cutoff {
                u[(r, k)] / values[k]
            } else {
                0.0
            }
        });
        let p = &scaled * u.transpose();
        let precision: Vec<f64> = (0..d * d).map(|i| p[(i / d, i % d)]).collect();
        let logdet = if values.iter().all(|&v| v > 0.0) {
            values.iter().map(|v| v.ln()).sum()
        } else {
            f64::NEG_INFINITY
        };
        Ok(Gaussian {
            mean,
            precision,
            logdet,
        })
    }

    /// Checks that the parameters fit `cols` features (model files can be damaged).
    pub fn check(&self, cols: usize) -> Result<()> {
        crate::check_columns(self.mean.len(), cols)?;
        if self.precision.len() != cols * cols {
            return Err(Error::ModelFile(
                "precision matrix of the wrong size".into(),
            ));
        }
        Ok(())
    }

    /// Squared Mahalanobis distance of every row: `Σ_j z_ij (Z P)_ij` with `Z` the centred
    /// rows, through one matrix product.
    pub fn distances_sq(&self, x: ArrayView2<'_, f64>) -> Vec<f64> {
        let d = self.mean.len();
        let z = Mat::from_fn(x.nrows(), d, |i, j| x[[i, j]] - self.mean[j]);
        let p = Mat::from_fn(d, d, |r, c| self.precision[r * d + c]);
        let zp = &z * &p;
        (0..x.nrows())
            .map(|i| (0..d).map(|j| z[(i, j)] * zp[(i, j)]).sum())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn diagonal_covariance() {
        let x = array![[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]];
        let (mean, cov) = mean_cov(x.view(), &[0, 1, 2, 3]);
        assert_eq!(mean, vec![0.0, 0.0]);
        assert!((cov[(0, 0)] - 0.5).abs() < 1e-15 && (cov[(1, 1)] - 2.0).abs() < 1e-15);
        let g = Gaussian::new(mean, &cov).unwrap();
        assert!((g.logdet - 1.0f64.ln()).abs() < 1e-12);
        // (1² / 0.5) + (2² / 2)
        assert!((g.distances_sq(array![[1.0, 2.0]].view())[0] - 4.0).abs() < 1e-12);
    }

    #[test]
    fn singular_covariance_uses_the_pseudo_inverse() {
        // second feature constant: distance only along the first
        let x = array![[1.0, 3.0], [-1.0, 3.0]];
        let (mean, cov) = mean_cov(x.view(), &[0, 1]);
        let g = Gaussian::new(mean, &cov).unwrap();
        assert_eq!(g.logdet, f64::NEG_INFINITY);
        assert!((g.distances_sq(array![[2.0, 3.0]].view())[0] - 4.0).abs() < 1e-12);
    }
}
