//! Distance-based detectors on exact nearest neighbours ([`crate::neighbors`]).
//!
//! * [`Knn`] (Ramaswamy, Rastogi & Shim, "Efficient Algorithms for Mining Outliers from Large
//!   Data Sets", SIGMOD 2000; Angiulli & Pizzuti, PKDD 2002): the distance to the k-th nearest
//!   neighbour (`largest`), or the mean / median of the k distances, PyOD's `KNN`.
//! * [`Lof`] (Breunig, Kriegel, Ng & Sander, "LOF: Identifying Density-Based Local Outliers",
//!   SIGMOD 2000), as scikit-learn computes it: reachability distance
//!   `max(k-distance(o), d(p, o))`, local reachability density `1 / (mean + 1e-10)`, and the score
//!   the mean density of the neighbours over the row's own.
//!
//! Neighbours are exact by default (a k-d tree up to 8 dimensions, blocked GEMM above);
//! `algorithm=hnsw` searches an approximate HNSW graph instead ([`crate::neighbors`]).
//!
//! Training rows are scored leave-one-out (a row is not its own neighbour), new rows against all
//! training rows. The model keeps the training rows. Cost: O(n² · d) for the training scores,
//! O(n · m · d) for m new rows; memory O(n · k) plus one block of distances.

use crate::neighbors::{nearest, self_nearest, Neighbours, Search, MAX_REFERENCE_ROWS};
use crate::{ContributionsFn, VectorKernel};
use anomex_core::{About, Error, Result};
use ndarray::{Array2, ArrayView2, CowArray, Ix2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Training rows kept by the neighbour detectors, with what LOF needs of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reference {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f64>,
    /// k-distance and local reachability density of each training row (LOF only).
    pub k_distance: Vec<f64>,
    pub lrd: Vec<f64>,
}

impl Reference {
    /// Keeps the training rows (no LOF densities).
    pub fn keep(x: ArrayView2<'_, f64>) -> Self {
        Reference {
            rows: x.nrows(),
            cols: x.ncols(),
            values: x.iter().copied().collect(),
            k_distance: Vec::new(),
            lrd: Vec::new(),
        }
    }
    /// The training rows, after checking they have `cols` columns.
    pub fn matrix_for(&self, cols: usize) -> Result<Array2<f64>> {
        crate::check_columns(self.cols, cols)?;
        Array2::from_shape_vec((self.rows, self.cols), self.values.clone())
            .map_err(|e| Error::ModelFile(format!("training rows: {e}")))
    }
}

fn effective_k(k: usize, n: usize) -> Result<usize> {
    if n < 2 {
        return Err(Error::input(format!(
            "neighbour detectors need at least 2 rows, got {n}"
        )));
    }
    if n > MAX_REFERENCE_ROWS {
        return Err(Error::input(format!(
            "neighbour detectors search at most {MAX_REFERENCE_ROWS} training rows, got {n}"
        )));
    }
    Ok(k.min(n - 1))
}

anomex_core::choice! {
    /// How KNN reduces the k distances to a score.
    pub enum Method { Largest = "largest", Mean = "mean", Median = "median" }
}

anomex_core::params! {
    /// Parameters of [`Knn`] (PyOD's defaults).
    pub struct KnnParams {
        /// neighbours considered
        pub n_neighbors: usize = 5, in 1..=100_000;
        /// distance to the k-th neighbour, or the mean / median over the k
        pub method: Method = Method::Largest;
        /// exact neighbours (k-d tree or brute force), or an approximate HNSW graph
        pub algorithm: Search = Search::Exact;
    }
}

anomex_core::params! {
    /// Parameters of [`Lof`] (PyOD's defaults).
    pub struct LofParams {
        /// neighbours defining the local density
        pub n_neighbors: usize = 20, in 1..=100_000;
        /// exact neighbours (k-d tree or brute force), or an approximate HNSW graph
        pub algorithm: Search = Search::Exact;
    }
}

/// k-nearest-neighbour distance.
#[derive(Debug, Clone)]
pub struct Knn {
    k: usize,
    search: Search,
    method: Method,
}

impl Knn {
    fn reduce(&self, nb: &Neighbours) -> Vec<f64> {
        (0..nb.queries())
            .map(|q| nb.distances(q))
            .map(|d| match self.method {
                Method::Largest => d[d.len() - 1],
                Method::Mean => d.iter().sum::<f64>() / d.len() as f64,
                Method::Median => anomex_core::stats::median(d),
            })
            .collect()
    }
}

impl VectorKernel for Knn {
    type Params = KnnParams;
    type State = Reference;
    const ABOUT: About = About {
        name: "knn",
        class: "KNN",
        summary: "distance to the k nearest neighbours (Ramaswamy et al., SIGMOD 2000)",
    };
    const WINDOWED: Option<About> = Some(About {
        name: "sub_knn",
        class: "SubKNN",
        summary: "k-nearest-neighbour distance on sliding windows",
    });
    const CONTRIBUTIONS: Option<ContributionsFn<Self>> = Some(Knn::contributions);
    fn new(p: &KnnParams) -> Result<Self> {
        Ok(Knn {
            k: p.n_neighbors,
            search: p.algorithm,
            method: p.method,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(Reference, Vec<f64>)> {
        let k = effective_k(self.k, x.nrows())?;
        let scores = self.reduce(&self_nearest(self.search, x, k));
        Ok((Reference::keep(x), scores))
    }
    fn score(&self, st: &Reference, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let k = effective_k(self.k, st.rows)?;
        Ok(self.reduce(&nearest(
            self.search,
            st.matrix_for(x.ncols())?.view(),
            x,
            k,
            |_| None,
        )))
    }
}

impl Knn {
    /// Each feature's share of the distance(s) the score is made of (the k-th neighbour's, all k,
    /// or the median one(s)); the shares sum to the score.
    fn contributions(
        &self,
        st: &Reference,
        x: ArrayView2<'_, f64>,
        rows: &[usize],
        training: bool,
    ) -> Result<Vec<Vec<f64>>> {
        {
            neighbours_of(self.search, st, x, rows, training, self.k).map(|(reference, nb)| {
                distance_shares(reference.view(), x, rows, &nb, |d| {
                    let n = d.len();
                    let mut w = vec![0.0; n];
                    match self.method {
                        Method::Largest => w[n - 1] = 1.0,
                        Method::Mean => w.iter_mut().for_each(|v| *v = 1.0 / n as f64),
                        Method::Median if n % 2 == 1 => w[n / 2] = 1.0,
                        Method::Median => {
                            w[n / 2 - 1] = 0.5;
                            w[n / 2] = 0.5;
                        }
                    }
                    w
                })
            })
        }
    }
}

/// Local outlier factor.
#[derive(Debug, Clone)]
pub struct Lof {
    k: usize,
    search: Search,
}

fn lrd(nb_d: &[f64], nb_i: &[usize], k_distance: &[f64]) -> f64 {
    let mean = nb_d
        .iter()
        .zip(nb_i)
        .map(|(&d, &o)| d.max(k_distance[o]))
        .sum::<f64>()
        / nb_d.len() as f64;
    1.0 / (mean + 1e-10)
}

/// LOF of a row from its neighbours `nb_i` (at distances `nb_d`): the neighbours' mean local
/// reachability density over the row's own.
fn lof(nb_d: &[f64], nb_i: &[usize], k_distance: &[f64], lrds: &[f64]) -> f64 {
    let mean = nb_i.iter().map(|&o| lrds[o]).sum::<f64>() / nb_i.len() as f64;
    mean / lrd(nb_d, nb_i, k_distance)
}

impl VectorKernel for Lof {
    type Params = LofParams;
    type State = Reference;
    const ABOUT: About = About {
        name: "lof",
        class: "LOF",
        summary: "local outlier factor (Breunig et al., SIGMOD 2000)",
    };
    const WINDOWED: Option<About> = Some(About {
        name: "sub_lof",
        class: "SubLOF",
        summary: "local outlier factor on sliding windows",
    });
    const CONTRIBUTIONS: Option<ContributionsFn<Self>> = Some(Lof::contributions);
    fn new(p: &LofParams) -> Result<Self> {
        Ok(Lof {
            k: p.n_neighbors,
            search: p.algorithm,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(Reference, Vec<f64>)> {
        let k = effective_k(self.k, x.nrows())?;
        let nb = self_nearest(self.search, x, k);
        let k_distance: Vec<f64> = (0..nb.queries())
            .map(|q| nb.distances(q).last().copied().unwrap_or(0.0))
            .collect();
        // each row's density and score read only the neighbours' values: rows in parallel
        let lrds: Vec<f64> = (0..x.nrows())
            .into_par_iter()
            .with_min_len(1024)
            .map(|i| lrd(nb.distances(i), nb.indices(i), &k_distance))
            .collect();
        let scores = (0..x.nrows())
            .into_par_iter()
            .with_min_len(1024)
            .map(|i| lof(nb.distances(i), nb.indices(i), &k_distance, &lrds))
            .collect();
        Ok((
            Reference {
                k_distance,
                lrd: lrds,
                ..Reference::keep(x)
            },
            scores,
        ))
    }
    fn score(&self, st: &Reference, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let k = effective_k(self.k, st.rows)?;
        if st.k_distance.len() != st.rows || st.lrd.len() != st.rows {
            return Err(Error::ModelFile("LOF state lacks densities".into()));
        }
        let nb = nearest(self.search, st.matrix_for(x.ncols())?.view(), x, k, |_| {
            None
        });
        Ok((0..x.nrows())
            .into_par_iter()
            .with_min_len(1024)
            .map(|i| lof(nb.distances(i), nb.indices(i), &st.k_distance, &st.lrd))
            .collect())
    }
}

impl Lof {
    /// LOF is a ratio of densities, not a sum over features: the score is split in proportion
    /// to each feature's share of the distances to the row's k neighbours.
    fn contributions(
        &self,
        st: &Reference,
        x: ArrayView2<'_, f64>,
        rows: &[usize],
        training: bool,
    ) -> Result<Vec<Vec<f64>>> {
        (|| {
            if st.k_distance.len() != st.rows || st.lrd.len() != st.rows {
                return Err(Error::ModelFile("LOF state lacks densities".into()));
            }
            let (reference, nb) = neighbours_of(self.search, st, x, rows, training, self.k)?;
            let shares = distance_shares(reference.view(), x, rows, &nb, |d| vec![1.0; d.len()]);
            Ok(shares
                .into_iter()
                .enumerate()
                .map(|(q, sh)| {
                    let score = lof(nb.distances(q), nb.indices(q), &st.k_distance, &st.lrd);
                    let total: f64 = sh.iter().sum();
                    sh.iter()
                        .map(|v| if total > 0.0 { score * v / total } else { 0.0 })
                        .collect()
                })
                .collect())
        })()
    }
}

/// The neighbours of the rows `rows` of `x` among the reference rows: `x` itself when it is the
/// training data (leave-one-out), else the kept training rows; with that reference.
fn neighbours_of<'a>(
    search: Search,
    st: &Reference,
    x: ArrayView2<'a, f64>,
    rows: &[usize],
    training: bool,
    k: usize,
) -> Result<(CowArray<'a, f64, Ix2>, Neighbours)> {
    let reference = if training {
        CowArray::from(x)
    } else {
        CowArray::from(st.matrix_for(x.ncols())?)
    };
    let queries = x.select(ndarray::Axis(0), rows);
    let nb = nearest(
        search,
        reference.view(),
        queries.view(),
        effective_k(k, st.rows)?,
        |q| training.then_some(rows[q]),
    );
    Ok((reference, nb))
}

/// Per-feature split of neighbour distances: for each asked row, `Σ_i w_i (x_f − o_{i,f})² / d_i`
/// over its neighbours `o_i` with weights `w_i = weights(distances)`, which sums over `f` to
/// `Σ_i w_i d_i` — each feature's share of the neighbour distances.
fn distance_shares(
    reference: ArrayView2<'_, f64>,
    x: ArrayView2<'_, f64>,
    rows: &[usize],
    nb: &Neighbours,
    weights: impl Fn(&[f64]) -> Vec<f64>,
) -> Vec<Vec<f64>> {
    rows.iter()
        .enumerate()
        .map(|(q, &r)| {
            let w = weights(nb.distances(q));
            let mut shares = vec![0.0; x.ncols()];
            for ((&o, &d), &wi) in nb.indices(q).iter().zip(nb.distances(q)).zip(&w) {
                if d > 0.0 && wi != 0.0 {
                    for (f, s) in shares.iter_mut().enumerate() {
                        *s += wi * (x[[r, f]] - reference[[o, f]]).powi(2) / d;
                    }
                }
            }
            shares
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster_with_outlier() -> Array2<f64> {
        let mut x = Array2::from_shape_fn((120, 2), |(i, j)| ((i * 13 + j * 7) % 11) as f64 / 10.0);
        x[[60, 0]] = 5.0;
        x[[60, 1]] = 5.0;
        x
    }

    #[test]
    fn reference_sizes_outside_the_search_are_refused() {
        assert!(effective_k(5, 1).is_err());
        assert_eq!(effective_k(5, 4).ok(), Some(3));
        let too_many = effective_k(5, MAX_REFERENCE_ROWS + 1);
        assert!(too_many.is_err_and(|e| e.to_string().contains("training rows")));
    }

    #[test]
    fn both_rank_the_outlier_first() {
        let x = cluster_with_outlier();
        let knn = Knn {
            k: 5,
            method: Method::Largest,
            search: Search::Exact,
        };
        let lof = Lof {
            k: 20,
            search: Search::Exact,
        };
        for s in [knn.fit(x.view()).unwrap().1, lof.fit(x.view()).unwrap().1] {
            let arg = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
            assert_eq!(arg, 60);
        }
    }

    #[test]
    fn contributions_name_the_feature_and_sum_to_the_knn_score() {
        let mut x = cluster_with_outlier();
        x[[60, 0]] = 0.5;
        x[[60, 1]] = 9.0;
        let knn = Knn {
            k: 5,
            method: Method::Mean,
            search: Search::Exact,
        };
        let (st, s) = knn.fit(x.view()).unwrap();
        let c = knn.contributions(&st, x.view(), &[60], true).unwrap();
        assert!((c[0].iter().sum::<f64>() - s[60]).abs() < 1e-9);
        assert!(c[0][1] > 10.0 * c[0][0]);
        let lof = Lof {
            k: 20,
            search: Search::Exact,
        };
        let (st, s) = lof.fit(x.view()).unwrap();
        let c = lof.contributions(&st, x.view(), &[3, 60], true).unwrap();
        assert!((c[1].iter().sum::<f64>() - s[60]).abs() < 1e-9);
        assert!((c[0].iter().sum::<f64>() - s[3]).abs() < 1e-9);
        assert!(c[1][1] > c[1][0]);
    }

    #[test]
    fn lof_of_a_uniform_grid_is_one() {
        let x = Array2::from_shape_fn((100, 1), |(i, _)| i as f64);
        let (_, s) = Lof {
            k: 2,
            search: Search::Exact,
        }
        .fit(x.view())
        .unwrap();
        // interior points of an evenly spaced line have LOF 1
        assert!((s[50] - 1.0).abs() < 1e-6, "{}", s[50]);
    }
}
