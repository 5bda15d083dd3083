//! PCA outlier score as PyOD computes it (Shyu, Chen, Sarinnapakorn & Chang, "A Novel Anomaly
//! Detection Scheme Based on Principal Component Classifier", ICDM 2003 workshop; PyOD's `PCA`
//! with its defaults): columns standardised (constant columns dropped), all principal axes
//! `v_j` of the training rows with explained-variance ratios `r_j`, and the score of a row `z`
//! `Σ_j ‖z − v_j‖ / r_j` — dominated by the minor axes, where a row far from the training data's
//! subspace stands out. Axes are signed as scikit-learn signs them (the largest-magnitude entry
//! positive), which the distance to an axis depends on. Cost: O(n · d² + d³) to fit, O(n · d²) to
//! score (as matrix products).

use crate::{ContributionsFn, VectorKernel};
use anomex_core::{About, Error, Result};
use faer::{Mat, Side};
use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows scored per matrix product.
const SCORE_BLOCK: usize = 2048;

/// PyOD-style PCA detector.
#[derive(Debug, Clone)]
pub struct Pca;

/// Scaler and principal axes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PcaState {
    /// Columns kept (non-constant in training).
    pub kept: Vec<usize>,
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
    /// Principal axes over the kept columns, with their explained-variance ratios.
    pub axes: Vec<Vec<f64>>,
    pub ratios: Vec<f64>,
}

fn standardised(st: &PcaState, row: ndarray::ArrayView1<'_, f64>) -> Vec<f64> {
    st.kept
        .iter()
        .enumerate()
        .map(|(k, &j)| (row[j] - st.mean[k]) / st.scale[k])
        .collect()
}

/// Rejects a state (e.g. from a damaged model file) that does not fit `cols` columns.
fn check(st: &PcaState, cols: usize) -> Result<()> {
    let d = st.kept.len();
    if st.kept.iter().any(|&j| j >= cols)
        || st.mean.len() != d
        || st.scale.len() != d
        || st.ratios.len() != st.axes.len()
        || st.axes.iter().any(|a| a.len() != d)
    {
        return Err(Error::input(format!(
            "the PCA model does not fit data with {cols} column(s)"
        )));
    }
    Ok(())
}

/// Per-feature terms of a row's score, over all columns of the data.
fn terms(st: &PcaState, row: ndarray::ArrayView1<'_, f64>) -> Vec<f64> {
    let z = standardised(st, row);
    let mut out = vec![0.0; row.len()];
    for (v, &r) in st.axes.iter().zip(&st.ratios).filter(|(_, &r)| r > 0.0) {
        let dist = z
            .iter()
            .zip(v)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt();
        if dist > 0.0 {
            for (k, &j) in st.kept.iter().enumerate() {
                out[j] += (z[k] - v[k]).powi(2) / (dist * r);
            }
        }
    }
    out
}

impl VectorKernel for Pca {
    type Params = ();
    type State = PcaState;
    const ABOUT: About = About {
        name: "pca",
        class: "PCA",
        summary: "weighted distance to the principal axes (PyOD's PCA; Shyu et al., 2003)",
    };
    const CONTRIBUTIONS: Option<ContributionsFn<Self>> = Some(Pca::contributions);
    fn new(_: &()) -> Result<Self> {
        Ok(Pca)
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(PcaState, Vec<f64>)> {
        crate::need_rows(x, 2, "PCA")?;
        let n = x.nrows();
        let (mut kept, mut mean, mut scale) = (Vec::new(), Vec::new(), Vec::new());
        for (j, col) in x.columns().into_iter().enumerate() {
            let mu = col.sum() / n as f64;
            let sd = (col.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / n as f64).sqrt();
            if sd > 0.0 {
                kept.push(j);
                mean.push(mu);
                scale.push(sd);
            }
        }
        if kept.is_empty() {
            return Err(Error::input("PCA needs at least one non-constant column"));
        }
        let d = kept.len();
        let z = Mat::from_fn(n, d, |i, k| (x[[i, kept[k]]] - mean[k]) / scale[k]);
        // covariance of the (centred) standardised rows, as scikit-learn's PCA uses (n − 1)
        let mut cov = z.transpose() * &z;
        cov *= faer::Scale(1.0 / (n - 1) as f64);
        let evd = cov
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| Error::Numerical(format!("eigendecomposition failed: {e:?}")))?;
        let values: Vec<f64> = (0..d).map(|i| evd.S()[i].max(0.0)).collect();
        let total: f64 = values.iter().sum();
        let u = evd.U();
        let mut axes = Vec::with_capacity(d);
        let mut ratios = Vec::with_capacity(d);
        // largest first, as scikit-learn orders components; at most min(n, d) of them
        for i in (0..d).rev().take(n.min(d)) {
            let mut v: Vec<f64> = (0..d).map(|r| u[(r, i)]).collect();
            let largest = v
                .iter()
                .copied()
                .fold(0.0f64, |m, a| if a.abs() > m.abs() { a } else { m });
            if largest < 0.0 {
                v.iter_mut().for_each(|a| *a = -*a);
            }
            axes.push(v);
            ratios.push(if total > 0.0 { values[i] / total } else { 0.0 });
        }
        let st = PcaState {
            kept,
            mean,
            scale,
            axes,
            ratios,
        };
        let scores = self.score(&st, x)?;
        Ok((st, scores))
    }
    /// `‖z − v_j‖² = ‖z‖² + ‖v_j‖² − 2 z·v_j`, the projections `z·v_j` of a block of rows from
    /// one matrix product; where the expansion cancels (a row on an axis) the distance is
    /// computed from the row directly. Blocks of rows in parallel.
    fn score(&self, st: &PcaState, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        check(st, x.ncols())?;
        let d = st.kept.len();
        let used: Vec<usize> = (0..st.axes.len()).filter(|&j| st.ratios[j] > 0.0).collect();
        let axes = Mat::from_fn(d, used.len(), |k, j| st.axes[used[j]][k]);
        let axis_norms: Vec<f64> = used
            .iter()
            .map(|&j| st.axes[j].iter().map(|v| v * v).sum())
            .collect();
        let starts: Vec<usize> = (0..x.nrows()).step_by(SCORE_BLOCK).collect();
        let blocks: Vec<Vec<f64>> = starts
            .par_iter()
            .map(|&start| {
                let rows = SCORE_BLOCK.min(x.nrows() - start);
                let z = Mat::from_fn(rows, d, |i, k| {
                    (x[[start + i, st.kept[k]]] - st.mean[k]) / st.scale[k]
                });
                let projections = &z * &axes;
                (0..rows)
                    .map(|i| {
                        let zz: f64 = (0..d).map(|k| z[(i, k)] * z[(i, k)]).sum();
                        used.iter()
                            .enumerate()
                            .map(|(u, &j)| {
                                let scale = zz + axis_norms[u];
                                let expanded = scale - 2.0 * projections[(i, u)];
                                let d2 = if expanded > 1e-6 * scale {
                                    expanded
                                } else {
                                    (0..d).map(|k| (z[(i, k)] - st.axes[j][k]).powi(2)).sum()
                                };
                                d2.sqrt() / st.ratios[j]
                            })
                            .sum::<f64>()
                    })
                    .collect()
            })
            .collect();
        Ok(blocks.concat())
    }
}

impl Pca {
    /// `Σ_j (z_f − v_{j,f})² / (‖z − v_j‖ · r_j)`: each (standardised) feature's share of the
    /// distances to the axes; the shares sum to the score, dropped constant columns get 0.
    fn contributions(
        &self,
        st: &PcaState,
        x: ArrayView2<'_, f64>,
        rows: &[usize],
        _training: bool,
    ) -> Result<Vec<Vec<f64>>> {
        check(st, x.ncols()).map(|()| rows.iter().map(|&r| terms(st, x.row(r))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn far_row_scores_highest() {
        let mut x = Array2::from_shape_fn((200, 3), |(i, j)| {
            ((i * [7, 5, 3][j]) % [13, 11, 7][j]) as f64
        });
        x[[77, 0]] = 30.0;
        x[[77, 1]] = -30.0;
        let (st, s) = Pca.fit(x.view()).unwrap();
        assert_eq!(st.axes.len(), 3);
        let arg = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
        assert_eq!(arg, 77);
        let c = Pca
            .contributions(&st, x.view(), &(0..200).collect::<Vec<_>>(), true)
            .unwrap();
        for (row, score) in c.iter().zip(&s) {
            assert!((row.iter().sum::<f64>() - score).abs() < 1e-9 * score.max(1.0));
        }
    }

    #[test]
    fn constant_columns_are_dropped() {
        let x = Array2::from_shape_fn((50, 3), |(i, j)| {
            if j == 1 {
                4.0
            } else {
                (i * (j + 3) % 11) as f64
            }
        });
        let (st, _) = Pca.fit(x.view()).unwrap();
        assert_eq!(st.kept, vec![0, 2]);
        let c = Array2::from_elem((10, 2), 1.0);
        assert!(Pca.fit(c.view()).is_err());
    }
}
