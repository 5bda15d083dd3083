//! k-nearest-neighbour search. Exact: a k-d tree (kiddo) in up to [`TREE_MAX_DIMS`] dimensions,
//! blocked brute force above. Approximate, on request: an HNSW graph ([`Search::Hnsw`]).
//!
//! HNSW (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor search using
//! Hierarchical Navigable Small World graphs", TPAMI 2020; the hnsw_rs crate): 16 links per node,
//! 48 candidates while building, `max(4k, 64)` while searching; rows inserted one after the other
//! so that the graph, and the scores, do not depend on the thread count. The distances of the
//! neighbours it returns are recomputed exactly. Cost: about O(n log n · d) to build and
//! O(log n · d) per query instead of O(n · d), at a recall below 1 — with a large constant: at
//! 20,000 × 16 it is 25× slower than the exact search; it pays off only where O(n² · d) does not
//! fit in the time at hand.
//!
//! The k-d tree (Bentley, CACM 1975; kiddo's immutable tree, leaves of 32 rows) prunes most of the
//! reference rows in low dimensions, O(n log n) to build and about O(log n) per query there.
//!
//! Squared Euclidean distances of a block of queries to a block of reference rows come from one
//! matrix product (`‖q‖² + ‖r‖² − 2 q·r`, faer's GEMM, laid out so that each query's distances are
//! contiguous), and each query keeps its `k` best in a small sorted buffer. Memory is one block
//! pair per thread, never `n × n`; query blocks run in parallel. Cost: O(n · m · d) arithmetic,
//! vectorised. (A k-d tree wins only in a handful of dimensions; brute force has no dimension
//! limit and a predictable cost.)

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use hnsw_rs::anndists::dist::DistL2;
use hnsw_rs::hnsw::Hnsw;
use kiddo::immutable::float::kdtree::ImmutableKdTree;
use kiddo::SquaredEuclidean;
use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;
use std::num::NonZero;

const QUERY_BLOCK: usize = 256;
/// Up to this many dimensions the k-d tree is used (it prunes little beyond).
pub const TREE_MAX_DIMS: usize = 8;
/// Below this many reference rows brute force is as fast as building a tree.
const TREE_MIN_ROWS: usize = 2048;
const REF_BLOCK: usize = 1024;

/// How neighbours are searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Search {
    /// Exact: k-d tree in low dimensions, brute force above.
    Exact,
    /// Approximate: a hierarchical navigable small-world graph.
    Hnsw,
}

/// Neighbours of every query: distances in increasing order and reference indices.
#[derive(Debug, Clone)]
pub struct Neighbours {
    pub distances: Vec<Vec<f64>>,
    pub indices: Vec<Vec<usize>>,
}

/// Rows `start..start + rows` of `x` as a faer matrix.
fn rows_block(x: ArrayView2<'_, f64>, start: usize, rows: usize) -> Mat<f64> {
    Mat::from_fn(rows, x.ncols(), |i, j| x[[start + i, j]])
}

/// Rows `start..start + rows` of `x`, transposed (one column per row).
fn columns_block(x: ArrayView2<'_, f64>, start: usize, rows: usize) -> Mat<f64> {
    Mat::from_fn(x.ncols(), rows, |j, i| x[[start + i, j]])
}

/// The `k` best (squared distance, index) of one query, kept sorted.
struct Best {
    d2: Vec<f64>,
    idx: Vec<usize>,
    k: usize,
}

impl Best {
    fn new(k: usize) -> Self {
        Best {
            d2: Vec::with_capacity(k + 1),
            idx: Vec::with_capacity(k + 1),
            k,
        }
    }
    /// The squared distance a candidate must beat.
    fn bound(&self) -> f64 {
        if self.d2.len() == self.k {
            self.d2[self.k - 1]
        } else {
            f64::INFINITY
        }
    }
    fn offer(&mut self, d2: f64, index: usize) {
        let at = self.d2.partition_point(|&v| v <= d2);
        self.d2.insert(at, d2);
        self.idx.insert(at, index);
        if self.d2.len() > self.k {
            self.d2.pop();
            self.idx.pop();
        }
    }
}

/// A block of one query's inner products with consecutive reference rows.
#[derive(Debug)]
pub struct Block<'a> {
    /// Index of the first reference row of the block.
    pub start: usize,
    /// `q · r` for each reference row of the block.
    pub dots: &'a [f64],
    /// `‖r‖²` for each reference row of the block.
    pub ref_norms: &'a [f64],
    /// `‖q‖²`.
    pub query_norm: f64,
    query: ArrayView1<'a, f64>,
    reference: ArrayView2<'a, f64>,
}

impl Block<'_> {
    /// Squared distance to the `j`-th reference row of the block (never negative).
    pub fn distance_sq(&self, j: usize) -> f64 {
        let scale = self.query_norm + self.ref_norms[j];
        let expanded = self.query_norm + self.ref_norms[j] - 2.0 * self.dots[j];
        if expanded > 1e-6 * scale {
            expanded
        } else {
            // the expansion cancels when the rows (nearly) coincide: recompute those exactly,
            // so that duplicates are at distance 0 and ties stay ties
            let r = self.reference.row(self.start + j);
            self.query
                .iter()
                .zip(r)
                .map(|(a, b)| (a - b) * (a - b))
                .sum()
        }
    }
}

/// Visits every (query, reference block) pair: `visit(state, query, block)` with one state per
/// query, made by `init`. Query blocks run in parallel, one GEMM per thread; the states come back
/// in query order.
pub fn sweep<T: Send>(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    init: impl Fn(usize) -> T + Sync,
    visit: impl Fn(&mut T, usize, &Block<'_>) + Sync,
) -> Vec<T> {
    let ref_norms: Vec<f64> = reference.rows().into_iter().map(|r| r.dot(&r)).collect();
    let n_ref = reference.nrows();
    let ref_blocks: Vec<(usize, Mat<f64>)> = (0..n_ref)
        .step_by(REF_BLOCK)
        .map(|rs| (rs, rows_block(reference, rs, REF_BLOCK.min(n_ref - rs))))
        .collect();
    let starts: Vec<usize> = (0..queries.nrows()).step_by(QUERY_BLOCK).collect();
    let per_block: Vec<Vec<T>> = starts
        .par_iter()
        .map(|&qs| {
            let qn = QUERY_BLOCK.min(queries.nrows() - qs);
            let qt = columns_block(queries, qs, qn);
            let q_norms: Vec<f64> = (0..qn)
                .map(|i| queries.row(qs + i).dot(&queries.row(qs + i)))
                .collect();
            let mut states: Vec<T> = (0..qn).map(|i| init(qs + i)).collect();
            let mut dots = Mat::<f64>::zeros(REF_BLOCK, qn);
            for (rs, r) in &ref_blocks {
                let rn = r.nrows();
                let mut dst = dots.as_mut().subrows_mut(0, rn);
                // the threads already split the queries: one GEMM per thread
                matmul(dst.as_mut(), Accum::Replace, r, &qt, 1.0, Par::Seq);
                for (i, state) in states.iter_mut().enumerate() {
                    let block = Block {
                        start: *rs,
                        dots: &dots.col_as_slice(i)[..rn],
                        ref_norms: &ref_norms[*rs..rs + rn],
                        query_norm: q_norms[i],
                        query: queries.row(qs + i),
                        reference,
                    };
                    visit(state, qs + i, &block);
                }
            }
            states
        })
        .collect();
    per_block.into_iter().flatten().collect()
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
        Search::Hnsw => hnsw_k_nearest(reference, queries, k, own),
    }
}

/// The `k` nearest reference rows of every query, query `q` never matched with reference row
/// `skip(q)` (itself, when the queries are some of the reference rows).
pub fn k_nearest_skipping(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    k: usize,
    skip: impl Fn(usize) -> Option<usize> + Sync,
) -> Neighbours {
    let d = reference.ncols();
    if reference.nrows() >= TREE_MIN_ROWS && k < reference.nrows() {
        macro_rules! by_tree {
            ($($dims:literal),*) => {
                match d {
                    $($dims => return tree_k_nearest::<$dims>(reference, queries, k, &skip),)*
                    _ => {}
                }
            };
        }
        by_tree!(1, 2, 3, 4, 5, 6, 7, 8);
    }
    brute_k_nearest(reference, queries, k, skip)
}

/// [`k_nearest_skipping`] through a k-d tree over `D` dimensions: `k + 1` candidates per query,
/// the skipped row removed, else the farthest candidate.
fn tree_k_nearest<const D: usize>(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    k: usize,
    skip: &(impl Fn(usize) -> Option<usize> + Sync),
) -> Neighbours {
    let point = |row: ArrayView1<'_, f64>| -> [f64; D] { std::array::from_fn(|j| row[j]) };
    let points: Vec<[f64; D]> = reference.rows().into_iter().map(point).collect();
    let tree: ImmutableKdTree<f64, u64, D, 32> = ImmutableKdTree::new_from_slice(&points);
    let want = NonZero::new(k + 1).unwrap_or(NonZero::<usize>::MIN);
    per_query(queries.nrows(), |q| {
        let hits = tree.nearest_n::<SquaredEuclidean>(&point(queries.row(q)), want);
        let candidates = hits.iter().map(|h| (h.distance, h.item as usize)).collect();
        keep_k(candidates, k, skip(q))
    })
}

/// `find(q)` — distances and indices — of every query, in parallel.
fn per_query(queries: usize, find: impl Fn(usize) -> (Vec<f64>, Vec<usize>) + Sync) -> Neighbours {
    let found: Vec<(Vec<f64>, Vec<usize>)> = (0..queries)
        .into_par_iter()
        .with_min_len(64)
        .map(&find)
        .collect();
    let (distances, indices) = found.into_iter().unzip();
    Neighbours { distances, indices }
}

/// The `k` best of `k + 1` candidates `(squared distance, index)`: sorted by distance then index
/// (a stable order among ties, as the brute force gives), without `skip` if it is among them.
fn keep_k(mut hits: Vec<(f64, usize)>, k: usize, skip: Option<usize>) -> (Vec<f64>, Vec<usize>) {
    hits.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    if let Some(at) = skip.and_then(|s| hits.iter().position(|h| h.1 == s)) {
        hits.remove(at);
    }
    hits.truncate(k);
    (
        hits.iter().map(|h| h.0.max(0.0).sqrt()).collect(),
        hits.iter().map(|h| h.1).collect(),
    )
}

/// [`k_nearest_skipping`] through an HNSW graph (approximate); distances recomputed exactly.
pub fn hnsw_k_nearest(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    k: usize,
    skip: impl Fn(usize) -> Option<usize> + Sync,
) -> Neighbours {
    let n = reference.nrows();
    let rows: Vec<Vec<f64>> = reference.rows().into_iter().map(|r| r.to_vec()).collect();
    let graph: Hnsw<'_, f64, DistL2> = Hnsw::new(16, n, 16, 48, DistL2 {});
    for (i, r) in rows.iter().enumerate() {
        graph.insert_slice((r, i));
    }
    let want = (k + 1).min(n);
    let ef = (4 * want).max(64);
    per_query(queries.nrows(), |q| {
        let query = queries.row(q).to_vec();
        let candidates = graph
            .search(&query, want, ef)
            .iter()
            .filter(|h| h.d_id < n)
            .map(|h| {
                let d2 = rows[h.d_id]
                    .iter()
                    .zip(&query)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                (d2, h.d_id)
            })
            .collect();
        keep_k(candidates, k, skip(q))
    })
}

/// [`k_nearest_skipping`] by blocked brute force.
fn brute_k_nearest(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    k: usize,
    skip: impl Fn(usize) -> Option<usize> + Sync,
) -> Neighbours {
    let best = sweep(
        reference,
        queries,
        |_| Best::new(k),
        |b, q, block| {
            let own = skip(q)
                .filter(|s| (block.start..block.start + block.dots.len()).contains(s))
                .map(|s| s - block.start);
            let mut bound = b.bound();
            // most candidates lose: test eight at a time, look closer only at a winner
            let pairs = block.dots.chunks(8).zip(block.ref_norms.chunks(8));
            for (c, (dc, nc)) in pairs.enumerate() {
                // a plain comparison (not f64::min, which orders NaN) vectorises
                let least = dc.iter().zip(nc).fold(f64::INFINITY, |m, (&dot, &rn2)| {
                    let v = rn2 - 2.0 * dot;
                    if v < m {
                        v
                    } else {
                        m
                    }
                });
                if block.query_norm + least >= bound {
                    continue;
                }
                for j in c * 8..c * 8 + dc.len() {
                    let d2 = block.distance_sq(j);
                    if d2 < bound && own != Some(j) {
                        b.offer(d2, block.start + j);
                        bound = b.bound();
                    }
                }
            }
        },
    );
    let mut out = Neighbours {
        distances: Vec::with_capacity(queries.nrows()),
        indices: Vec::with_capacity(queries.nrows()),
    };
    for b in best {
        out.distances
            .push(b.d2.into_iter().map(f64::sqrt).collect());
        out.indices.push(b.idx);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn hnsw_finds_most_true_neighbours() {
        let x = Array2::from_shape_fn((2000, 12), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1009) as f64 / 31.0
        });
        let exact = k_nearest_skipping(x.view(), x.view(), 5, Some);
        let approx = hnsw_k_nearest(x.view(), x.view(), 5, Some);
        let found: usize = (0..2000)
            .map(|i| {
                approx.indices[i]
                    .iter()
                    .filter(|j| exact.indices[i].contains(j))
                    .count()
            })
            .sum();
        let recall = found as f64 / 10_000.0;
        assert!(recall > 0.9, "recall {recall}");
        assert!((0..2000).all(|i| !approx.indices[i].contains(&i)));
    }

    #[test]
    fn tree_and_brute_force_agree() {
        let x = Array2::from_shape_fn((3000, 3), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1009) as f64 / 31.0
        });
        let tree = k_nearest_skipping(x.view(), x.view(), 5, Some);
        let brute = brute_k_nearest(x.view(), x.view(), 5, Some);
        for i in 0..3000 {
            for r in 0..5 {
                assert!(
                    (tree.distances[i][r] - brute.distances[i][r]).abs() < 1e-9,
                    "row {i}"
                );
            }
            assert!(!tree.indices[i].contains(&i));
        }
    }

    #[test]
    fn equals_brute_force() {
        let x = Array2::from_shape_fn((700, 3), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1000) as f64 / 97.0
        });
        let nb = k_nearest_skipping(x.view(), x.view(), 4, Some);
        for i in [0, 13, 299, 699] {
            let mut d: Vec<(f64, usize)> = (0..700)
                .filter(|&j| j != i)
                .map(|j| {
                    let s: f64 = (0..3).map(|c| (x[[i, c]] - x[[j, c]]).powi(2)).sum();
                    (s.sqrt(), j)
                })
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (r, (expected, _)) in d.iter().take(4).enumerate() {
                assert!(
                    (nb.distances[i][r] - expected).abs() < 1e-9,
                    "row {i} rank {r}"
                );
            }
        }
    }
}
