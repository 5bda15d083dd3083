//! k-nearest-neighbour search behind one small door: [`nearest`] (the `k` nearest training
//! rows of new rows), [`self_nearest`] (of every training row among the others) and [`sweep`]
//! (every pair of two row sets, for kernel sums), with [`Search`] choosing exact or approximate.
//! Only this facade is public; one module per algorithm sits behind it:
//!
//! | module | algorithm | used for |
//! |---|---|---|
//! | `tree` | k-d tree (kiddo) | exact, up to [`TREE_MAX_DIMS`] dimensions and enough rows |
//! | `brute` | blocked brute force on matrix products, SIMD candidate scans; on x86-64 its self search runs on 16-bit integer tiles (`brute::quantized`, AVX2 or AVX-512 VNNI chosen at run time) | exact, every other case; [`sweep`] |
//! | `hnsw` | hierarchical navigable small-world graph (hnsw_rs) | approximate, on request |
//!
//! Every exact path returns the same neighbours (unit tests compare each with a naive search),
//! so which one runs is a matter of speed alone: the rules are [`tree_fits`] and, inside the
//! brute force, whether f32 products can resolve the distances.

mod brute;
mod hnsw;
mod tree;

pub use brute::sweep;
use ndarray::ArrayView2;
use rayon::prelude::*;

/// The most reference rows the exact brute force searches: candidates hold their row as a `u32`
/// (half the bytes of a `usize`: candidate lists of half the size).
pub const MAX_REFERENCE_ROWS: usize = u32::MAX as usize;

/// Up to this many dimensions the k-d tree is used (it prunes little beyond).
pub const TREE_MAX_DIMS: usize = 8;
/// Below this many reference rows brute force is as fast as building a tree.
const TREE_MIN_ROWS: usize = 2048;

anomex_core::choice! {
    /// How neighbours are searched (the `algorithm` parameter of KNN and LOF).
    pub enum Search {
        /// Exact: k-d tree in low dimensions, brute force above.
        Exact = "exact",
        /// Approximate: a hierarchical navigable small-world graph.
        Hnsw = "hnsw"
    }
}

/// Neighbours of every query, nearest first: distances and reference indices, each query's run
/// a span of two flat arrays (no allocation per query; the runs need not lie in query order).
#[derive(Debug, Clone)]
pub struct Neighbours {
    distances: Vec<f64>,
    indices: Vec<usize>,
    /// Where query `q`'s run starts and ends in `distances` and `indices`.
    spans: Vec<(usize, usize)>,
}

impl Neighbours {
    /// From each query's `(squared distance, index)` pairs, nearest first.
    fn from_runs(runs: &[Vec<(f64, usize)>]) -> Self {
        let total = runs.iter().map(Vec::len).sum();
        let mut distances = vec![0.0; total];
        let mut indices = vec![0; total];
        let mut spans = Vec::with_capacity(runs.len());
        let mut start = 0;
        for run in runs {
            let end = start + run.len();
            put_run(run, &mut distances[start..end], &mut indices[start..end]);
            spans.push((start, end));
            start = end;
        }
        Neighbours {
            distances,
            indices,
            spans,
        }
    }

    /// How many queries.
    pub fn queries(&self) -> usize {
        self.spans.len()
    }

    /// Query `q`'s neighbours' distances, nearest first.
    pub fn distances(&self, q: usize) -> &[f64] {
        let (start, end) = self.spans[q];
        &self.distances[start..end]
    }

    /// Query `q`'s neighbours' reference indices, in the order of [`Neighbours::distances`].
    pub fn indices(&self, q: usize) -> &[usize] {
        let (start, end) = self.spans[q];
        &self.indices[start..end]
    }
}

/// Writes a run of `(squared distance, index)` pairs as distances and indices (as many as
/// the shorter side holds).
fn put_run(run: &[(f64, usize)], distances: &mut [f64], indices: &mut [usize]) {
    for ((d, i), &(d2, j)) in distances.iter_mut().zip(indices.iter_mut()).zip(run) {
        *d = d2.max(0.0).sqrt();
        *i = j;
    }
}

/// The `k` nearest reference rows of every query with the given search; with `own(q)` the
/// reference row query `q` must not be matched with (itself, when it is one of them: a row is
/// not its own neighbour, duplicates still are, as scikit-learn's `kneighbors()` without
/// arguments).
pub fn nearest(
    search: Search,
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    k: usize,
    own: impl Fn(usize) -> Option<usize> + Sync,
) -> Neighbours {
    match search {
        Search::Exact => k_nearest_skipping(reference, queries, k, own),
        Search::Hnsw => hnsw::k_nearest(reference, queries, k, own),
    }
}

/// The `k` nearest other rows of every row of `x` with the given search: [`nearest`] with `x`
/// as reference and queries, a row never its own neighbour; the exact brute force computes each
/// pair once.
pub fn self_nearest(search: Search, x: ArrayView2<'_, f64>, k: usize) -> Neighbours {
    match search {
        Search::Exact if !tree_fits(x.nrows(), x.ncols(), k) => brute::self_nearest(x, k),
        _ => nearest(search, x, x, k, Some),
    }
}

/// The `k` nearest reference rows of every query, query `q` never matched with reference row
/// `skip(q)` (itself, when the queries are some of the reference rows).
fn k_nearest_skipping(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    k: usize,
    skip: impl Fn(usize) -> Option<usize> + Sync,
) -> Neighbours {
    let d = reference.ncols();
    if tree_fits(reference.nrows(), d, k) {
        macro_rules! by_tree {
            ($($dims:literal),*) => {
                match d {
                    $($dims => return tree::k_nearest::<$dims>(reference, queries, k, &skip),)*
                    _ => {}
                }
            };
        }
        by_tree!(1, 2, 3, 4, 5, 6, 7, 8);
    }
    brute::k_nearest(reference, queries, k, skip)
}

/// Whether the exact search goes through a k-d tree.
fn tree_fits(rows: usize, dims: usize, k: usize) -> bool {
    rows >= TREE_MIN_ROWS && k < rows && (1..=TREE_MAX_DIMS).contains(&dims)
}

/// The neighbours of every query, in parallel: `find(q, found)` puts query `q`'s
/// `(squared distance, index)` pairs, nearest first, into the empty `found`.
fn per_query(queries: usize, find: impl Fn(usize, &mut Vec<(f64, usize)>) + Sync) -> Neighbours {
    let runs: Vec<Vec<(f64, usize)>> = (0..queries)
        .into_par_iter()
        .with_min_len(64)
        .map(|q| {
            let mut found = Vec::new();
            find(q, &mut found);
            found
        })
        .collect();
    Neighbours::from_runs(&runs)
}

/// The `k` best of the candidates `(squared distance, index)` in `hits`: sorted by distance then
/// index (a stable order among ties, as the brute force gives), without `skip` if it is among
/// them.
fn keep_k(hits: &mut Vec<(f64, usize)>, k: usize, skip: Option<usize>) {
    hits.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    if let Some(at) = skip.and_then(|s| hits.iter().position(|h| h.1 == s)) {
        hits.remove(at);
    }
    hits.truncate(k);
}
