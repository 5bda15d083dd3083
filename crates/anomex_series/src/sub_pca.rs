//! Sub-PCA: PCA reconstruction error of sliding windows.
//!
//! Every window of `window` consecutive points is a vector; the vectors of the training series
//! are standardised per position (mean and standard deviation, as scikit-learn's
//! `StandardScaler`), and their principal components are found from the covariance matrix
//! (faer's symmetric eigendecomposition). A window's score is its squared reconstruction error
//! from the first `n_components` components, and window scores are spread over points as TSB-AD
//! does. TSB-AD ranks this family ("Sub-PCA") first on its univariate leaderboard (Liu &
//! Paparrizos, "The Elephant in the Room: Towards A Reliable Time-Series Anomaly Detection
//! Benchmark", NeurIPS 2024 Datasets & Benchmarks).
//!
//! Two window scores are offered (`score=`):
//!
//! * `reconstruction` (default): the squared distance from the subspace of the first
//!   `n_components` components; with `n_components=auto` the smallest number explaining 90 % of
//!   the variance is kept (at most `window − 1`). It sees changes of *shape*.
//! * `tsb_ad`: the score of TSB-AD's `PCA` model (adapted from PyOD's `PCA` with its defaults:
//!   all components, `weighted=True`): `Σ_j ‖z − v_j‖ / r_j`, the Euclidean distance between the
//!   standardised window `z` and each unit principal axis `v_j`, divided by that axis's explained
//!   variance ratio `r_j`. Because the minor axes dominate the sum it behaves like a scaled norm of
//!   `z`, so it also sees changes of *level*. Axes with a ratio below 1e-12 (degenerate, e.g. a
//!   constant series) are skipped where PyOD would divide by zero.
//!
//! Cost: O(n·w²) to fit, O(n·w·k) to score, O(w²) memory plus one block of windows.

use crate::period::find_length;
use anomex_core::channelwise::{check_range, SeriesKernel};
use anomex_core::windows::{check_window, window_scores_to_points};
use anomex_core::{About, Error, Learning, Result};
use faer::{Mat, Side};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

const EXPLAINED_VARIANCE: f64 = 0.9;
const ROWS_PER_BLOCK: usize = 4096;

/// Sub-PCA kernel.
#[derive(Debug, Clone)]
pub struct SubPca {
    window: Option<usize>,
    n_components: Option<usize>,
    tsb_ad: bool,
}

/// Learned state: scaler and principal axes (`components[c]` has `window` entries).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubPcaState {
    pub window: usize,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    pub components: Vec<Vec<f64>>,
    pub explained_variance: Vec<f64>,
    /// Explained-variance ratio of each kept component.
    pub ratio: Vec<f64>,
}

fn standardised_block(x: &[f64], start: usize, rows: usize, st: &SubPcaState) -> Mat<f64> {
    Mat::from_fn(rows, st.window, |r, c| {
        (x[start + r + c] - st.mean[c]) / st.scale[c]
    })
}

anomex_core::choice! {
    /// The window score of [`SubPca`].
    pub enum WindowScore { Reconstruction = "reconstruction", TsbAd = "tsb_ad" }
}

anomex_core::params! {
    /// Parameters of [`SubPca`].
    pub struct SubPcaParams {
        /// window length in points; auto = TSB-AD's autocorrelation rule
        pub window: Option<usize> = None, in 2..=crate::MAX_WINDOW;
        /// principal components kept; auto = 90 % of the variance
        pub n_components: Option<usize> = None, in 1..=crate::MAX_WINDOW;
        /// window score: reconstruction error, or TSB-AD's weighted axis distance
        pub score: WindowScore = WindowScore::Reconstruction;
    }
}

impl SeriesKernel for SubPca {
    type Params = SubPcaParams;
    type State = SubPcaState;
    const ABOUT: About = About {
        name: "sub_pca",
        class: "SubPCA",
        summary: "PCA reconstruction error of sliding windows (Sub-PCA, TSB-AD)",
    };
    const LEARNING: Learning = Learning::SemiSupervised;

    fn new(p: &SubPcaParams) -> Result<Self> {
        Ok(SubPca {
            window: p.window,
            n_components: p.n_components,
            tsb_ad: p.score == WindowScore::TsbAd,
        })
    }

    fn fit(&self, train: &[f64]) -> Result<SubPcaState> {
        let w = self.window.unwrap_or_else(|| find_length(train));
        check_window(w, train.len())?;
        let n_win = train.len() - w + 1;
        if n_win < 2 {
            return Err(Error::input(format!(
                "Sub-PCA needs at least two windows of {w} points; the training series has {}",
                train.len()
            )));
        }
        if let Some(k) = self.n_components {
            if k >= w || k == 0 {
                return Err(Error::param(
                    "n_components",
                    format!("{k} must be between 1 and window − 1 = {}", w - 1),
                ));
            }
        }
        // per-position mean and standard deviation over all windows
        let mut mean = vec![0.0; w];
        let mut scale = vec![0.0; w];
        for c in 0..w {
            let col = &train[c..c + n_win];
            let mu = col.iter().sum::<f64>() / n_win as f64;
            let var = col.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / n_win as f64;
            mean[c] = mu;
            scale[c] = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
        }
        let mut st = SubPcaState {
            window: w,
            mean,
            scale,
            components: Vec::new(),
            explained_variance: Vec::new(),
            ratio: Vec::new(),
        };
        let mut cov = Mat::<f64>::zeros(w, w);
        for start in (0..n_win).step_by(ROWS_PER_BLOCK) {
            let rows = ROWS_PER_BLOCK.min(n_win - start);
            let b = standardised_block(train, start, rows, &st);
            cov += b.transpose() * &b;
        }
        cov *= faer::Scale(1.0 / (n_win - 1) as f64);
        let evd = cov
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| Error::Numerical(format!("eigendecomposition failed: {e:?}")))?;
        let values: Vec<f64> = (0..w).map(|i| evd.S()[i].max(0.0)).collect();
        let total: f64 = values.iter().sum();
        // eigenvalues come in non-decreasing order: walk from the largest
        let order: Vec<usize> = (0..w).rev().collect();
        let k = match self.n_components {
            _ if self.tsb_ad => w,
            Some(k) => k,
            None => {
                let mut acc = 0.0;
                let mut k = 0;
                for &i in &order {
                    acc += values[i];
                    k += 1;
                    if total <= 0.0 || acc >= EXPLAINED_VARIANCE * total {
                        break;
                    }
                }
                k.min(w - 1).max(1)
            }
        };
        let u = evd.U();
        st.components = order[..k]
            .iter()
            .map(|&i| (0..w).map(|r| u[(r, i)]).collect())
            .collect();
        st.explained_variance = order[..k].iter().map(|&i| values[i]).collect();
        st.ratio = st
            .explained_variance
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect();
        Ok(st)
    }

    fn score(&self, st: &SubPcaState, x: &[f64]) -> Result<Vec<f64>> {
        check_window(st.window, x.len())?;
        let w = st.window;
        let n_win = x.len() - w + 1;
        let window_scores: Vec<f64> = (0..n_win)
            .into_par_iter()
            .with_min_len(512)
            .map(|i| {
                let z: Vec<f64> = (0..w)
                    .map(|c| (x[i + c] - st.mean[c]) / st.scale[c])
                    .collect();
                let norm2: f64 = z.iter().map(|v| v * v).sum();
                if self.tsb_ad {
                    // ‖z − v‖² = ‖z‖² − 2 z·v + 1 for a unit axis v
                    return st
                        .components
                        .iter()
                        .zip(&st.ratio)
                        .filter(|(_, &r)| r > 1e-12)
                        .map(|(comp, r)| {
                            let p: f64 = comp.iter().zip(&z).map(|(a, b)| a * b).sum();
                            (norm2 - 2.0 * p + 1.0).max(0.0).sqrt() / r
                        })
                        .sum();
                }
                let proj2: f64 = st
                    .components
                    .iter()
                    .map(|comp| {
                        let p: f64 = comp.iter().zip(&z).map(|(a, b)| a * b).sum();
                        p * p
                    })
                    .sum();
                (norm2 - proj2).max(0.0)
            })
            .collect();
        Ok(window_scores_to_points(&window_scores, w))
    }
    fn check(&self, st: &SubPcaState) -> Result<()> {
        let w = st.window;
        check_range("sub_pca", "window", w, 2..=crate::MAX_WINDOW as usize)?;
        let k = st.components.len();
        let sized = st.mean.len() == w
            && st.scale.len() == w
            && (1..=w).contains(&k)
            && st.components.iter().all(|c| c.len() == w)
            && st.explained_variance.len() == k
            && st.ratio.len() == k;
        if !sized {
            return Err(Error::ModelFile(format!(
                "invalid sub_pca state: {k} components of a window of {w} with mismatched sizes"
            )));
        }
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        if !(finite(&st.mean)
            && st.scale.iter().all(|s| s.is_finite() && *s > 0.0)
            && st.components.iter().all(|c| finite(c))
            && finite(&st.explained_variance)
            && finite(&st.ratio))
        {
            return Err(Error::ModelFile(
                "invalid sub_pca state: a value is not finite (scales positive)".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_a_shape_anomaly_in_a_periodic_series() {
        let mut x: Vec<f64> = (0..2000)
            .map(|i| (2.0 * std::f64::consts::PI * i as f64 / 40.0).sin())
            .collect();
        for v in &mut x[1500..1510] {
            *v = 0.0;
        }
        let k = SubPca {
            window: None,
            n_components: None,
            tsb_ad: false,
        };
        let st = k.fit(&x).unwrap();
        assert_eq!(st.window, 40);
        let s = k.score(&st, &x).unwrap();
        assert_eq!(s.len(), x.len());
        let arg = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
        assert!((1480..1530).contains(&arg), "peak at {arg}");
    }

    #[test]
    fn components_are_orthonormal() {
        let x: Vec<f64> = (0..500).map(|i| ((i * 7) % 23) as f64).collect();
        let k = SubPca {
            window: Some(10),
            n_components: Some(3),
            tsb_ad: false,
        };
        let st = k.fit(&x).unwrap();
        for a in &st.components {
            for b in &st.components {
                let d: f64 = a.iter().zip(b).map(|(p, q)| p * q).sum();
                assert!((d - if std::ptr::eq(a, b) { 1.0 } else { 0.0 }).abs() < 1e-9);
            }
        }
    }
}
