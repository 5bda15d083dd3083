//! One-class SVM (Schölkopf, Platt, Shawe-Taylor, Smola & Williamson, "Estimating the Support of
//! a High-Dimensional Distribution", Neural Computation 2001), solved as LIBSVM solves it and
//! scored as PyOD's `OCSVM` does (RBF kernel, `nu = 0.5`, `gamma = 1 / d`, tolerance 1e-3).
//!
//! Dual: minimise `½ αᵀKα` subject to `0 ≤ α_i ≤ 1` and `Σ α_i = ν n`, with LIBSVM's start
//! (the first `⌊ν n⌋` multipliers at 1, the next one the remainder) and its SMO solver (Fan,
//! Chen & Lin, "Working Set Selection Using Second Order Information", JMLR 2005): the pair of
//! maximal violation with the second-order choice of the partner, until the violation is below
//! the tolerance. `ρ` is the mean gradient over the free multipliers (or LIBSVM's midpoint). The
//! score of a row is `ρ − Σ α_i K(x_i, x)`: larger outside the estimated support. No shrinking
//! (it changes the path, not the solution). Kernel columns are computed on demand and the most
//! recent ones kept in a bounded cache, so memory is O(n · cache columns) rather than n²; when
//! the whole matrix fits that cache (n up to about 5,800) it is computed up front by matrix
//! products.
//! Cost: O(iterations · n · d) to fit (iterations grow roughly with n), O(m · n_sv · d) to score.

use crate::VectorKernel;
use anomex_core::{About, Error, Result};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;

/// Memory for cached kernel columns: as many columns as fit, whatever `n`.
const CACHE_BYTES: usize = 256 << 20;
/// Kernel columns per matrix product when the whole matrix is computed up front.
const ALL_BLOCK: usize = 128;

/// One-class SVM detector.
#[derive(Debug, Clone)]
pub struct Ocsvm {
    nu: f64,
    gamma: Option<f64>,
    tol: f64,
    max_iter: usize,
}

/// Support vectors (row-major), their multipliers, `ρ` and `γ`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupportVectors {
    pub dims: usize,
    pub vectors: Vec<f64>,
    pub alpha: Vec<f64>,
    pub rho: f64,
    pub gamma: f64,
}

/// RBF kernel columns of the training rows, computed on demand, the most recent kept.
struct Columns<'a> {
    x: ArrayView2<'a, f64>,
    norms: Vec<f64>,
    gamma: f64,
    cached: Vec<Option<Arc<Vec<f64>>>>,
    order: VecDeque<usize>,
    capacity: usize,
}

impl<'a> Columns<'a> {
    fn new(x: ArrayView2<'a, f64>, gamma: f64) -> Self {
        let n = x.nrows();
        let mut columns = Columns {
            x,
            norms: x.rows().into_iter().map(|r| r.dot(&r)).collect(),
            gamma,
            cached: vec![None; n],
            order: VecDeque::new(),
            capacity: (CACHE_BYTES / (8 * n.max(1))).max(2),
        };
        if columns.capacity >= n {
            columns.compute_all();
        }
        columns
    }

    /// The whole kernel matrix, when it fits the cache: inner products by matrix products
    /// (blocks of columns in parallel) instead of one column at a time.
    fn compute_all(&mut self) {
        let (n, d) = self.x.dim();
        let rows = Mat::from_fn(n, d, |i, j| self.x[[i, j]]);
        let starts: Vec<usize> = (0..n).step_by(ALL_BLOCK).collect();
        let (norms, gamma) = (&self.norms, self.gamma);
        let blocks: Vec<Vec<Arc<Vec<f64>>>> = starts
            .par_iter()
            .map(|&start| {
                let width = ALL_BLOCK.min(n - start);
                let block = rows.as_ref().subrows(start, width);
                let mut dots = Mat::<f64>::zeros(n, width);
                matmul(
                    dots.as_mut(),
                    Accum::Replace,
                    &rows,
                    block.transpose(),
                    1.0,
                    Par::Seq,
                );
                (0..width)
                    .map(|b| {
                        let i = start + b;
                        let col = (0..n)
                            .map(|t| {
                                let d2 = if t == i {
                                    0.0
                                } else {
                                    (norms[i] + norms[t] - 2.0 * dots[(t, b)]).max(0.0)
                                };
                                (-gamma * d2).exp()
                            })
                            .collect();
                        Arc::new(col)
                    })
                    .collect()
            })
            .collect();
        for (i, col) in blocks.into_iter().flatten().enumerate() {
            self.cached[i] = Some(col);
            self.order.push_back(i);
        }
    }

    fn column(&mut self, i: usize) -> Arc<Vec<f64>> {
        if let Some(c) = &self.cached[i] {
            return Arc::clone(c);
        }
        let xi = self.x.row(i);
        let (x, norms, gamma) = (self.x, &self.norms, self.gamma);
        let col: Vec<f64> = (0..x.nrows())
            .into_par_iter()
            .with_min_len(1024)
            .map(|t| {
                let d2 = if t == i {
                    0.0
                } else {
                    (norms[i] + norms[t] - 2.0 * xi.dot(&x.row(t))).max(0.0)
                };
                (-gamma * d2).exp()
            })
            .collect();
        let col = Arc::new(col);
        if self.order.len() == self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.cached[old] = None;
            }
        }
        self.cached[i] = Some(Arc::clone(&col));
        self.order.push_back(i);
        col
    }
}

/// LIBSVM's ρ: the mean gradient over free multipliers, else the midpoint of the bounds.
fn rho(alpha: &[f64], grad: &[f64]) -> f64 {
    let (mut ub, mut lb) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut free, mut sum) = (0usize, 0.0);
    for (&a, &g) in alpha.iter().zip(grad) {
        if a >= 1.0 {
            lb = lb.max(g);
        } else if a <= 0.0 {
            ub = ub.min(g);
        } else {
            free += 1;
            sum += g;
        }
    }
    if free > 0 {
        sum / free as f64
    } else {
        (ub + lb) / 2.0
    }
}

impl Ocsvm {
    /// SMO on the one-class dual; returns the multipliers and ρ.
    fn solve(&self, x: ArrayView2<'_, f64>, gamma: f64) -> Result<(Vec<f64>, f64)> {
        let n = x.nrows();
        let total = self.nu * n as f64;
        let full = total.floor() as usize;
        let mut alpha = vec![0.0; n];
        alpha.iter_mut().take(full.min(n)).for_each(|a| *a = 1.0);
        if full < n {
            alpha[full] = total - full as f64;
        }
        let mut cols = Columns::new(x, gamma);
        // gradient Kα
        let mut grad = vec![0.0; n];
        for i in (0..n).filter(|&i| alpha[i] > 0.0) {
            let c = cols.column(i);
            grad.iter_mut()
                .zip(c.iter())
                .for_each(|(g, k)| *g += alpha[i] * k);
        }
        const TAU: f64 = 1e-12;
        for _ in 0..self.max_iter {
            // i: the most violating multiplier that can grow
            let mut g_max = f64::NEG_INFINITY;
            let mut i = usize::MAX;
            for t in 0..n {
                if alpha[t] < 1.0 && -grad[t] >= g_max {
                    g_max = -grad[t];
                    i = t;
                }
            }
            // j: among those that can shrink, the second-order best partner of i
            let ki = if i == usize::MAX {
                None
            } else {
                Some(cols.column(i))
            };
            let mut g_min = f64::INFINITY;
            let mut j = usize::MAX;
            let mut best = f64::INFINITY;
            for t in 0..n {
                if alpha[t] > 0.0 {
                    g_min = g_min.min(-grad[t]);
                    let b = g_max + grad[t];
                    if let (true, Some(ki)) = (b > 0.0, &ki) {
                        let a = (2.0 - 2.0 * ki[t]).max(TAU);
                        let obj = -(b * b) / a;
                        if obj <= best {
                            best = obj;
                            j = t;
                        }
                    }
                }
            }
            if g_max - g_min < self.tol || i == usize::MAX || j == usize::MAX {
                break;
            }
            let ki = cols.column(i);
            let kj = cols.column(j);
            let a = (2.0 - 2.0 * ki[j]).max(TAU);
            let (old_i, old_j) = (alpha[i], alpha[j]);
            let sum = old_i + old_j;
            // move along α_i + α_j = const, then clip to the box
            let mut ai = old_i + (grad[j] - grad[i]) / a;
            ai = ai.clamp((sum - 1.0).max(0.0), sum.min(1.0));
            let aj = sum - ai;
            alpha[i] = ai;
            alpha[j] = aj;
            let (di, dj) = (ai - old_i, aj - old_j);
            grad.par_iter_mut()
                .with_min_len(4096)
                .enumerate()
                .for_each(|(t, g)| *g += di * ki[t] + dj * kj[t]);
        }
        let rho = rho(&alpha, &grad);
        Ok((alpha, rho))
    }
}

anomex_core::params! {
    /// Parameters of [`Ocsvm`] (PyOD's defaults, LIBSVM's solver settings).
    pub struct OcsvmParams {
        /// upper bound on the share of training errors, lower bound on support vectors
        pub nu: f64 = 0.5, in 1e-9..=1.0;
        /// RBF width; auto = 1 / features
        pub gamma: Option<f64> = None, in 1e-300..=1e300;
        /// stopping tolerance on the violation
        pub tol: f64 = 1e-3, in 1e-12..=1.0;
        /// SMO steps at most
        pub max_iter: usize = 10_000_000, in 1..=i64::MAX;
    }
}

impl VectorKernel for Ocsvm {
    type Params = OcsvmParams;
    type State = SupportVectors;
    const ABOUT: About = About {
        name: "ocsvm",
        class: "OCSVM",
        summary:
            "one-class SVM, RBF kernel (Schölkopf et al., 2001), LIBSVM's solver, PyOD defaults",
    };
    fn new(p: &OcsvmParams) -> Result<Self> {
        Ok(Ocsvm {
            nu: p.nu,
            gamma: p.gamma,
            tol: p.tol,
            max_iter: p.max_iter,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(SupportVectors, Vec<f64>)> {
        crate::need_rows(x, 2, "the one-class SVM")?;
        let gamma = self.gamma.unwrap_or(1.0 / x.ncols() as f64);
        let (alpha, rho) = self.solve(x, gamma)?;
        let support: Vec<usize> = (0..x.nrows()).filter(|&i| alpha[i] > 0.0).collect();
        let st = SupportVectors {
            dims: x.ncols(),
            vectors: support.iter().flat_map(|&i| x.row(i).to_vec()).collect(),
            alpha: support.iter().map(|&i| alpha[i]).collect(),
            rho,
            gamma,
        };
        let scores = self.score(&st, x)?;
        Ok((st, scores))
    }
    fn score(&self, st: &SupportVectors, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        crate::check_columns(st.dims, x.ncols())?;
        let d = st.dims;
        if st.vectors.len() != st.alpha.len() * d {
            return Err(Error::ModelFile("support vectors are damaged".into()));
        }
        Ok(crate::score_rows(x, |row| {
            let f: f64 = st
                .alpha
                .iter()
                .enumerate()
                .map(|(s, a)| {
                    let v = &st.vectors[s * d..(s + 1) * d];
                    let d2: f64 = v.iter().zip(row).map(|(p, q)| (p - q) * (p - q)).sum();
                    a * (-st.gamma * d2).exp()
                })
                .sum();
            st.rho - f
        }))
    }
}

/// Rows scaled each to [0, 1] by their own minimum and maximum (constant rows become zeros).
fn minmax_rows(x: ArrayView2<'_, f64>) -> ndarray::Array2<f64> {
    let mut out = x.to_owned();
    for mut row in out.rows_mut() {
        let lo = row.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        row.mapv_inplace(|v| if hi > lo { (v - lo) / (hi - lo) } else { 0.0 });
    }
    out
}

/// TSB-AD's Sub-OCSVM kernel: the one-class SVM on rows (windows) each min-max scaled to
/// [0, 1], so that the shape of a window, not its level or amplitude, is what is learnt
/// (TSB-AD z-normalises first, which min-max scaling then undoes).
#[derive(Debug, Clone)]
pub struct SubOcsvm(Ocsvm);

impl VectorKernel for SubOcsvm {
    type Params = OcsvmParams;
    type State = SupportVectors;
    const ABOUT: About = About {
        name: "ocsvm_minmax_rows",
        class: "OCSVMMinMaxRows",
        summary: "one-class SVM on rows scaled to [0, 1]",
    };
    const WINDOWED: Option<About> = Some(About {
        name: "sub_ocsvm",
        class: "SubOCSVM",
        summary: "one-class SVM on sliding windows scaled to [0, 1] (TSB-AD's Sub-OCSVM)",
    });
    fn new(p: &OcsvmParams) -> Result<Self> {
        Ok(SubOcsvm(Ocsvm::new(p)?))
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(SupportVectors, Vec<f64>)> {
        self.0.fit(minmax_rows(x).view())
    }
    fn score(&self, st: &SupportVectors, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        self.0.score(st, minmax_rows(x).view())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn kkt_conditions_hold_at_the_solution() {
        let x = Array2::from_shape_fn((150, 2), |(i, j)| ((i * (3 + j * 4)) % 19) as f64 / 5.0);
        let svm = Ocsvm {
            nu: 0.3,
            gamma: Some(0.5),
            tol: 1e-6,
            max_iter: 1_000_000,
        };
        let (alpha, rho) = svm.solve(x.view(), 0.5).unwrap();
        assert!((alpha.iter().sum::<f64>() - 0.3 * 150.0).abs() < 1e-9);
        assert!(alpha.iter().all(|&a| (0.0..=1.0).contains(&a)));
        // f(x_i) = Σ α K − ρ: ≥ 0 where α = 0, ≤ 0 where α = 1, ≈ 0 where free
        for i in 0..150 {
            let f: f64 = (0..150)
                .map(|t| {
                    let d2: f64 = (0..2).map(|c| (x[[i, c]] - x[[t, c]]).powi(2)).sum();
                    alpha[t] * (-0.5 * d2).exp()
                })
                .sum::<f64>()
                - rho;
            if alpha[i] <= 0.0 {
                assert!(f >= -1e-5, "row {i}: α = 0, f = {f}");
            } else if alpha[i] >= 1.0 {
                assert!(f <= 1e-5, "row {i}: α = 1, f = {f}");
            } else {
                assert!(f.abs() <= 1e-5, "row {i}: free, f = {f}");
            }
        }
    }

    #[test]
    fn far_row_scores_highest() {
        let mut x = Array2::from_shape_fn((200, 3), |(i, j)| ((i * (j + 2)) % 11) as f64 / 3.0);
        x[[17, 1]] = 30.0;
        let (st, s) = Ocsvm::from_pairs::<&str>(&[])
            .unwrap()
            .fit(x.view())
            .unwrap();
        assert!(!st.alpha.is_empty());
        let arg = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
        assert_eq!(arg, 17);
    }
}
