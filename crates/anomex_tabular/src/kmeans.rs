//! k-means clustering as scikit-learn's `KMeans` runs it by default, and the detectors built on it.
//!
//! Clustering: greedy k-means++ seeding (Arthur & Vassilvitskii, SODA 2007; `2 + ⌊ln k⌋`
//! candidates per centre, the one that lowers the potential most wins), then Lloyd iterations
//! until the labels stop changing or the centres move less than `1e-4` × the mean feature
//! variance (squared shift summed over centres), at most 300 iterations, one initialisation.
//! An empty cluster takes the row farthest from its centre, as scikit-learn relocates it.
//! Cost: O(i · n · k · d), rows in parallel; memory O(n + k · d).
//!
//! Detectors:
//! * [`KMeansDistance`] (`kmeans`): the distance to the nearest centre of a cluster that holds at
//!   least `min_cluster_share` of the training rows (default 1 %; the largest cluster always
//!   counts). k-means++ seeds centres on far-away rows, so without the guard a handful of
//!   anomalies gets a centre of its own and scores as normal.
//! * [`Cblof`] (`cblof`; He, Xu & Deng, "Discovering cluster-based local outliers", Pattern
//!   Recognition Letters 2003, PyOD's form): clusters sorted by size split into large and small
//!   where the large ones first hold `alpha` of the rows or the size ratio to the next cluster
//!   first reaches `beta`; a row in a large cluster scores its distance to that centre, a row in a
//!   small cluster its distance to the nearest large centre.
//! * [`KMeansAd`] (`kmeans_ad`, on sliding windows only): TSB-AD's KMeansAD (from TimeEval):
//!   every window z-normalised (sample standard deviation), 20 clusters, the distance to the
//!   nearest centre (every cluster counts, as in TSB-AD).

use crate::VectorKernel;
use anomex_core::{About, Error, Result};
use ndarray::{Array2, ArrayView1, ArrayView2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

const MAX_ITER: usize = 300;
const TOL: f64 = 1e-4;

fn sq_dist(a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>) -> f64 {
    match (a.as_slice(), b.as_slice()) {
        // contiguous rows: the same sum, in the same order, without ndarray's stride logic
        (Some(a), Some(b)) => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
        _ => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
    }
}

/// Centres laid out feature by feature, eight centres at a time (`⌈k/8⌉ × d × 8`, padded with
/// centres at infinity): a row's squared distances to eight centres accumulate side by side in
/// registers (independent sums the processor overlaps and vectorises), each summed over the
/// features in order, as [`sq_dist`] sums them.
struct ByFeature {
    dims: usize,
    values: Vec<f64>,
}

const LANES: usize = 8;

impl ByFeature {
    fn new(centres: ArrayView2<'_, f64>) -> Self {
        let (k, dims) = centres.dim();
        let mut values = Vec::with_capacity(k.div_ceil(LANES) * dims * LANES);
        for first in (0..k).step_by(LANES) {
            for j in 0..dims {
                values.extend((first..first + LANES).map(|c| {
                    if c < k {
                        centres[[c, j]]
                    } else {
                        f64::INFINITY
                    }
                }));
            }
        }
        ByFeature { dims, values }
    }

    /// Index and squared distance of the centre nearest to `row` (the first of equals).
    fn nearest(&self, row: ArrayView1<'_, f64>) -> (usize, f64) {
        let mut best = (0, f64::INFINITY);
        for (b, block) in self.values.chunks_exact(self.dims * LANES).enumerate() {
            let mut sums = [0.0; LANES];
            for (&v, centres) in row.iter().zip(block.chunks_exact(LANES)) {
                for (sum, &c) in sums.iter_mut().zip(centres) {
                    *sum += (c - v) * (c - v);
                }
            }
            for (l, &d) in sums.iter().enumerate() {
                if d < best.1 {
                    best = (b * LANES + l, d);
                }
            }
        }
        best
    }
}

/// The nearest centre of every row, in parallel.
fn assign(centres: ArrayView2<'_, f64>, x: ArrayView2<'_, f64>) -> Vec<(usize, f64)> {
    let by_feature = ByFeature::new(centres);
    (0..x.nrows())
        .into_par_iter()
        .with_min_len(512)
        .map(|i| by_feature.nearest(x.row(i)))
        .collect()
}

/// Greedy k-means++ seeding.
fn seed_centres(x: ArrayView2<'_, f64>, k: usize, rng: &mut ChaCha8Rng) -> Array2<f64> {
    let (n, d) = x.dim();
    let mut centres = Array2::zeros((k, d));
    let first = rng.random_range(0..n);
    centres.row_mut(0).assign(&x.row(first));
    let mut closest: Vec<f64> = (0..n).map(|i| sq_dist(x.row(i), x.row(first))).collect();
    let trials = 2 + (k as f64).ln().floor() as usize;
    for c in 1..k {
        let potential: f64 = closest.iter().sum();
        let mut cumulative = Vec::with_capacity(n);
        let mut acc = 0.0;
        for &v in &closest {
            acc += v;
            cumulative.push(acc);
        }
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            // all rows coincide with a centre: any row will do
            let candidate = if potential > 0.0 {
                let target = rng.random::<f64>() * potential;
                cumulative.partition_point(|&v| v <= target).min(n - 1)
            } else {
                rng.random_range(0..n)
            };
            let updated: Vec<f64> = (0..n)
                .into_par_iter()
                .with_min_len(1024)
                .map(|i| closest[i].min(sq_dist(x.row(i), x.row(candidate))))
                .collect();
            let total: f64 = updated.iter().sum();
            if best.as_ref().is_none_or(|b| total < b.0) {
                best = Some((total, candidate, updated));
            }
        }
        if let Some((_, candidate, updated)) = best {
            centres.row_mut(c).assign(&x.row(candidate));
            closest = updated;
        }
    }
    centres
}

/// A clustering: centres and, for the rows it was fitted on, their labels.
#[derive(Debug, Clone)]
pub struct Clustering {
    pub centres: Array2<f64>,
    pub labels: Vec<usize>,
}

/// k-means with `k` clusters (at most the number of rows), seeded by `seed`.
pub fn kmeans(x: ArrayView2<'_, f64>, k: usize, seed: u64) -> Result<Clustering> {
    let (n, d) = x.dim();
    if n == 0 || k == 0 {
        return Err(Error::input(
            "k-means needs at least one row and one cluster",
        ));
    }
    let k = k.min(n);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let variance_mean = x
        .columns()
        .into_iter()
        .map(|c| {
            let m = c.sum() / n as f64;
            c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n as f64
        })
        .sum::<f64>()
        / d as f64;
    let tol = TOL * variance_mean;
    let mut centres = seed_centres(x, k, &mut rng);
    let mut labels: Vec<usize> = Vec::new();
    for _ in 0..MAX_ITER {
        let assigned = assign(centres.view(), x);
        let new_labels: Vec<usize> = assigned.iter().map(|a| a.0).collect();
        if new_labels == labels {
            break;
        }
        labels = new_labels;
        // flat, row-major: each row added to its cluster's sums in a tight loop
        let mut flat = vec![0.0; k * d];
        let mut counts = vec![0usize; k];
        for (row, &l) in x.rows().into_iter().zip(&labels) {
            counts[l] += 1;
            let target = &mut flat[l * d..(l + 1) * d];
            match row.as_slice() {
                Some(values) => target.iter_mut().zip(values).for_each(|(s, &v)| *s += v),
                None => target.iter_mut().zip(row).for_each(|(s, &v)| *s += v),
            }
        }
        let mut sums = Array2::from_shape_vec((k, d), flat)
            .map_err(|e| Error::Numerical(format!("k-means sums: {e}")))?;
        // empty clusters take the rows farthest from their centres, farthest first
        let empty: Vec<usize> = (0..k).filter(|&c| counts[c] == 0).collect();
        if !empty.is_empty() {
            let mut far: Vec<usize> = (0..n).collect();
            far.sort_by(|&a, &b| assigned[b].1.total_cmp(&assigned[a].1));
            for (&c, &row) in empty.iter().zip(&far) {
                let old = labels[row];
                counts[old] -= 1;
                let mut s = sums.row_mut(old);
                s -= &x.row(row);
                labels[row] = c;
                counts[c] = 1;
                sums.row_mut(c).assign(&x.row(row));
            }
        }
        let mut shift = 0.0;
        for (c, &count) in counts.iter().enumerate().filter(|(_, &n)| n > 0) {
            let new = sums.row(c).mapv(|v| v / count as f64);
            shift += sq_dist(new.view(), centres.row(c));
            centres.row_mut(c).assign(&new);
        }
        if shift <= tol {
            // the labels of the final centres
            labels = assign(centres.view(), x).iter().map(|a| a.0).collect();
            break;
        }
    }
    Ok(Clustering { centres, labels })
}

/// Fitted centres, stored row-major.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Centres {
    pub k: usize,
    pub dims: usize,
    pub values: Vec<f64>,
}

impl Centres {
    fn from(c: &Array2<f64>) -> Self {
        Centres {
            k: c.nrows(),
            dims: c.ncols(),
            values: c.iter().copied().collect(),
        }
    }
    fn matrix(&self, cols: usize) -> Result<Array2<f64>> {
        crate::check_columns(self.dims, cols)?;
        Array2::from_shape_vec((self.k, self.dims), self.values.clone())
            .map_err(|e| Error::ModelFile(format!("k-means centres: {e}")))
    }
}

fn nearest_distances(st: &Centres, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
    let c = st.matrix(x.ncols())?;
    Ok(assign(c.view(), x).iter().map(|a| a.1.sqrt()).collect())
}

anomex_core::params! {
    /// Parameters of [`KMeansDistance`] (scikit-learn's `KMeans` defaults).
    pub struct KMeansParams {
        /// number of k-means clusters
        pub n_clusters: usize = 8, in 1..=100_000;
        /// clusters with fewer training rows than this share are not references
        pub min_cluster_share: f64 = 0.01, in 0.0..=1.0;
        /// random seed; the same seed gives the same scores
        pub seed: u64 = 0, in 0..=i64::MAX;
    }
}

anomex_core::params! {
    /// Parameters of [`KMeansAd`] (TSB-AD's defaults).
    pub struct KMeansAdParams {
        /// number of k-means clusters
        pub n_clusters: usize = 20, in 1..=100_000;
        /// clusters with fewer training rows than this share are not references
        pub min_cluster_share: f64 = 0.0, in 0.0..=1.0;
        /// random seed; the same seed gives the same scores
        pub seed: u64 = 0, in 0..=i64::MAX;
    }
}

anomex_core::choice! {
    /// Whether CBLOF multiplies each score by its cluster's size (PyOD's `use_weights`).
    pub enum Weights { Unweighted = "false", BySize = "true" }
}

anomex_core::params! {
    /// Parameters of [`Cblof`] (PyOD's defaults).
    pub struct CblofParams {
        /// number of k-means clusters
        pub n_clusters: usize = 8, in 1..=100_000;
        /// share of the rows the large clusters hold at least
        pub alpha: f64 = 0.9, in 0.0..=1.0;
        /// size ratio between the last large and the first small cluster
        pub beta: f64 = 5.0, in 1.0..=1e12;
        /// multiply each score by its cluster's size
        pub use_weights: Weights = Weights::Unweighted;
        /// random seed; the same seed gives the same scores
        pub seed: u64 = 0, in 0..=i64::MAX;
    }
}

/// Distance to the nearest k-means centre.
#[derive(Debug, Clone)]
pub struct KMeansDistance {
    k: usize,
    min_share: f64,
    seed: u64,
}

impl VectorKernel for KMeansDistance {
    type Params = KMeansParams;
    type State = Centres;
    const ABOUT: About = About {
        name: "kmeans",
        class: "KMeans",
        summary: "distance to the nearest k-means centre (scikit-learn's KMeans)",
    };
    fn new(p: &KMeansParams) -> Result<Self> {
        Ok(KMeansDistance {
            k: p.n_clusters,
            min_share: p.min_cluster_share,
            seed: p.seed,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(Centres, Vec<f64>)> {
        let c = kmeans(x, self.k, self.seed)?;
        let mut sizes = vec![0usize; c.centres.nrows()];
        c.labels.iter().for_each(|&l| sizes[l] += 1);
        let largest = (0..sizes.len()).max_by_key(|&k| sizes[k]).unwrap_or(0);
        let kept: Vec<usize> = (0..sizes.len())
            .filter(|&k| k == largest || sizes[k] as f64 >= self.min_share * x.nrows() as f64)
            .collect();
        let st = Centres::from(&c.centres.select(ndarray::Axis(0), &kept));
        let scores = nearest_distances(&st, x)?;
        Ok((st, scores))
    }
    fn score(&self, st: &Centres, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        nearest_distances(st, x)
    }
}

/// Rows z-normalised with the sample standard deviation (constant rows become zeros).
fn znormalised_rows(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let d = x.ncols();
    let mut out = x.to_owned();
    for mut row in out.rows_mut() {
        let mean = row.sum() / d as f64;
        let var = if d > 1 {
            row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (d - 1) as f64
        } else {
            0.0
        };
        let sd = var.sqrt();
        row.mapv_inplace(|v| if sd > 0.0 { (v - mean) / sd } else { 0.0 });
    }
    out
}

/// TSB-AD's KMeansAD kernel: k-means distance on z-normalised rows (windows).
#[derive(Debug, Clone)]
pub struct KMeansAd(KMeansDistance);

impl VectorKernel for KMeansAd {
    type Params = KMeansAdParams;
    type State = Centres;
    const ABOUT: About = About {
        name: "kmeans_ad_rows",
        class: "KMeansADRows",
        summary: "k-means distance of z-normalised rows",
    };
    const WINDOWED: Option<About> = Some(About {
        name: "kmeans_ad",
        class: "KMeansAD",
        summary: "k-means distance of z-normalised sliding windows (TSB-AD's KMeansAD)",
    });
    fn new(p: &KMeansAdParams) -> Result<Self> {
        Ok(KMeansAd(KMeansDistance {
            k: p.n_clusters,
            min_share: p.min_cluster_share,
            seed: p.seed,
        }))
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(Centres, Vec<f64>)> {
        self.0.fit(znormalised_rows(x).view())
    }
    fn score(&self, st: &Centres, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        self.0.score(st, znormalised_rows(x).view())
    }
}

/// CBLOF.
#[derive(Debug, Clone)]
pub struct Cblof {
    k: usize,
    alpha: f64,
    beta: f64,
    use_weights: bool,
    seed: u64,
}

/// Centres, which of them are large, and the training cluster sizes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CblofState {
    pub centres: Centres,
    pub large: Vec<bool>,
    pub sizes: Vec<usize>,
}

/// PyOD's split of clusters (sorted by size, largest first) into large and small: the first
/// boundary `b` where both the `alpha` share and the `beta` size ratio hold, else the first where
/// the share holds, else the first where the ratio holds; all large when neither ever holds
/// (where PyOD refuses to fit).
fn large_clusters(sizes: &[usize], alpha: f64, beta: f64) -> Vec<bool> {
    let n: usize = sizes.iter().sum();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]));
    let share =
        |b: usize| order[..b].iter().map(|&c| sizes[c]).sum::<usize>() as f64 >= alpha * n as f64;
    let ratio = |b: usize| sizes[order[b - 1]] as f64 >= beta * sizes[order[b]] as f64;
    let bounds = 1..sizes.len();
    let boundary = bounds
        .clone()
        .find(|&b| share(b) && ratio(b))
        .or_else(|| bounds.clone().find(|&b| share(b)))
        .or_else(|| bounds.clone().find(|&b| ratio(b)))
        .unwrap_or(sizes.len());
    let mut large = vec![false; sizes.len()];
    for &c in &order[..boundary] {
        large[c] = true;
    }
    large
}

impl Cblof {
    fn scores(&self, st: &CblofState, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        let c = st.centres.matrix(x.ncols())?;
        if st.large.len() != c.nrows() || st.sizes.len() != c.nrows() {
            return Err(Error::ModelFile(
                "CBLOF cluster table does not match".into(),
            ));
        }
        let large_rows: Vec<usize> = (0..c.nrows()).filter(|&k| st.large[k]).collect();
        let large = ByFeature::new(c.select(ndarray::Axis(0), &large_rows).view());
        Ok(assign(c.view(), x)
            .iter()
            .enumerate()
            .map(|(i, &(label, d2))| {
                let d = if st.large[label] {
                    d2.sqrt()
                } else {
                    large.nearest(x.row(i)).1.sqrt()
                };
                if self.use_weights {
                    d * st.sizes[label] as f64
                } else {
                    d
                }
            })
            .collect())
    }
}

impl VectorKernel for Cblof {
    type Params = CblofParams;
    type State = CblofState;
    const ABOUT: About = About {
        name: "cblof",
        class: "CBLOF",
        summary: "cluster-based local outlier factor (He, Xu & Deng, 2003), PyOD's form on k-means",
    };
    fn new(p: &CblofParams) -> Result<Self> {
        Ok(Cblof {
            k: p.n_clusters,
            alpha: p.alpha,
            beta: p.beta,
            use_weights: p.use_weights == Weights::BySize,
            seed: p.seed,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(CblofState, Vec<f64>)> {
        crate::need_rows(x, 2, "CBLOF")?;
        let clustering = kmeans(x, self.k, self.seed)?;
        let mut sizes = vec![0usize; clustering.centres.nrows()];
        clustering.labels.iter().for_each(|&l| sizes[l] += 1);
        let st = CblofState {
            large: large_clusters(&sizes, self.alpha, self.beta),
            centres: Centres::from(&clustering.centres),
            sizes,
        };
        let scores = self.scores(&st, x)?;
        Ok((st, scores))
    }
    fn score(&self, st: &CblofState, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        self.scores(st, x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three_blobs() -> Array2<f64> {
        Array2::from_shape_fn((300, 2), |(i, j)| {
            let centre = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]][i % 3][j];
            centre + ((i * 7 + j * 13) % 10) as f64 / 10.0
        })
    }

    #[test]
    fn finds_separated_blobs() {
        let x = three_blobs();
        let c = kmeans(x.view(), 3, 0).unwrap();
        // every blob is one cluster
        for r in 0..3 {
            let l = c.labels[r];
            assert!((r..300).step_by(3).all(|i| c.labels[i] == l));
        }
        let mut firsts: Vec<usize> = (0..3).map(|r| c.labels[r]).collect();
        firsts.sort_unstable();
        assert_eq!(firsts, vec![0, 1, 2]);
    }

    #[test]
    fn more_clusters_than_rows_is_capped() {
        let x = Array2::from_shape_fn((3, 1), |(i, _)| i as f64);
        let c = kmeans(x.view(), 8, 1).unwrap();
        assert_eq!(c.centres.nrows(), 3);
    }

    #[test]
    fn pyod_split_of_large_and_small_clusters() {
        // sizes 50, 45, 3, 2: 95 % after two clusters, 45 / 3 ≥ 5 at the same boundary
        assert_eq!(
            large_clusters(&[3, 50, 2, 45], 0.9, 5.0),
            vec![false, true, false, true]
        );
        // no ratio ever ≥ 5: the share decides
        assert_eq!(
            large_clusters(&[30, 30, 30, 10], 0.9, 5.0),
            vec![true, true, true, false]
        );
    }

    #[test]
    fn cblof_ranks_a_far_row_first() {
        let mut x = three_blobs();
        x[[100, 0]] = 40.0;
        x[[100, 1]] = 40.0;
        let (_, s) = Cblof::from_pairs::<&str>(&["n_clusters=3"])
            .unwrap()
            .fit(x.view())
            .unwrap();
        let arg = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
        assert_eq!(arg, 100);
    }

    #[test]
    fn a_small_far_cluster_is_not_a_reference() {
        let mut x = three_blobs();
        x[[0, 0]] = 50.0;
        x[[0, 1]] = 50.0;
        let (st, s) = KMeansDistance::from_pairs::<&str>(&["n_clusters=4"])
            .unwrap()
            .fit(x.view())
            .unwrap();
        // the lone far row got a centre of its own, which is dropped (1 row < 1 % of 300)
        assert_eq!(st.k, 3);
        let arg = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
        assert_eq!(arg, 0);
    }

    #[test]
    fn kmeans_ad_normalises_rows() {
        let x = ndarray::array![[1.0, 2.0, 3.0], [10.0, 20.0, 30.0], [5.0, 5.0, 5.0]];
        let z = znormalised_rows(x.view());
        assert_eq!(z.row(0), z.row(1));
        assert!(z.row(2).iter().all(|&v| v == 0.0));
    }
}
