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
//! Brute force: squared Euclidean distances of a block of queries to a block of reference rows
//! come from one matrix product, `‖q‖² + ‖r‖² − 2 q·r`, where faer's GEMM yields `‖r‖² − 2 q·r`
//! directly (the reference rows carry `‖r‖²` as one more column, the queries a 1; both are
//! centred on the reference mean first), laid out so that each query's values are contiguous.
//! For nearest neighbours the product runs in f32 (rows scaled into [−1, 1] by a power of two):
//! half the memory traffic and twice the SIMD lanes of f64. It only preselects: a query looks for
//! the values below `bound − ‖q‖²` plus a bound on the f32 rounding error (comparisons vectorised
//! with the processor's SIMD, chosen at run time), and every candidate found gets its exact
//! distance from the rows in f64 — so the result is the exact search's, whatever the rounding
//! (unit test on offset, duplicated and badly scaled data). Each query's limit starts at the
//! `k`-th smallest value of the first block it sees, and its candidates are kept unsorted, cut
//! back in bulk by a selection. Memory is one block pair per thread (sized for the L2 cache), never
//! `n × n`; query blocks run in parallel. Cost: O(n · m · d) arithmetic, vectorised, plus
//! O(d) per candidate (about k·ln(m/k) per query in random order). KDE uses the same sweep in
//! f64, where the expansion is the distance. (A k-d tree wins only in a handful of dimensions;
//! brute force has no dimension limit and a predictable cost.)

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use hnsw_rs::anndists::dist::DistL2;
use hnsw_rs::hnsw::Hnsw;
use kiddo::immutable::float::kdtree::ImmutableKdTree;
use kiddo::SquaredEuclidean;
use ndarray::{ArrayView1, ArrayView2};
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;
use std::num::NonZero;

const QUERY_BLOCK: usize = 128;
/// Up to this many dimensions the k-d tree is used (it prunes little beyond).
pub const TREE_MAX_DIMS: usize = 8;
/// Below this many reference rows brute force is as fast as building a tree.
const TREE_MIN_ROWS: usize = 2048;
/// 512 × 128 values (512 KB) per thread: the GEMM's output stays in the L2 cache.
const REF_BLOCK: usize = 512;

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

/// The precision the matrix products run in: `f64` where the expansion itself is the result
/// (KDE), `f32` where it only preselects candidates whose distances are then computed exactly
/// (nearest neighbours; half the memory traffic, twice the SIMD lanes).
pub trait Precision: faer::traits::ComplexField + Copy + Send + Sync {
    /// Whether the rows are scaled to at most 1 in magnitude first (f32's range is narrow).
    const RESCALE: bool;
    fn narrow(v: f64) -> Self;
}

impl Precision for f64 {
    const RESCALE: bool = false;
    fn narrow(v: f64) -> f64 {
        v
    }
}

impl Precision for f32 {
    const RESCALE: bool = true;
    fn narrow(v: f64) -> f32 {
        v as f32
    }
}

/// Squared Euclidean distance of two rows.
fn rows_distance_sq(a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>) -> f64 {
    match (a.as_slice(), b.as_slice()) {
        // contiguous rows (the usual case): a loop the compiler unrolls and vectorises
        (Some(a), Some(b)) => squared_distance(a, b),
        _ => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum(),
    }
}

/// `Σ (a − b)²` in four interleaved sums (independent additions pipeline; the order is fixed,
/// so the result is the same on every call).
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let rest: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    let mut sums = [0.0; 4];
    for (x, y) in a4.zip(b4) {
        for l in 0..4 {
            sums[l] += (x[l] - y[l]) * (x[l] - y[l]);
        }
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + rest
}

/// Where rows go before the matrix products: `(x − center) / scale` (distances only change by
/// the factor `scale²`; centring makes the expansion cancel less).
struct Centring {
    center: Vec<f64>,
    scale: f64,
}

impl Centring {
    /// The reference rows' mean; with `rescale`, a power of two (exact) that brings every
    /// centred value of either matrix within [−1, 1].
    fn new(reference: ArrayView2<'_, f64>, queries: ArrayView2<'_, f64>, rescale: bool) -> Self {
        let center: Vec<f64> = match reference.mean_axis(ndarray::Axis(0)) {
            Some(mean) => mean.to_vec(),
            None => vec![0.0; reference.ncols()],
        };
        let mut scale = 1.0;
        if rescale {
            let largest = |x: ArrayView2<'_, f64>| {
                x.rows().into_iter().fold(0.0_f64, |m, r| {
                    r.iter()
                        .zip(&center)
                        .fold(m, |m, (v, c)| m.max((v - c).abs()))
                })
            };
            let top = largest(reference).max(largest(queries));
            if top > 0.0 && top.is_finite() {
                scale = 2f64.powi(top.log2().ceil() as i32);
            }
        }
        Centring { center, scale }
    }
    fn value(&self, x: ArrayView2<'_, f64>, row: usize, j: usize) -> f64 {
        (x[[row, j]] - self.center[j]) / self.scale
    }
    /// `‖(x − center) / scale‖²`.
    fn norm(&self, x: ArrayView1<'_, f64>) -> f64 {
        x.iter()
            .zip(&self.center)
            .map(|(v, c)| ((v - c) / self.scale).powi(2))
            .sum()
    }
    /// Reference rows `start..start + rows` of `x` as `[−2 r, ‖r‖²]`, one row each.
    fn reference_block<E: Precision>(
        &self,
        x: ArrayView2<'_, f64>,
        norms: &[f64],
        start: usize,
        rows: usize,
    ) -> Mat<E> {
        let d = x.ncols();
        Mat::from_fn(rows, d + 1, |i, j| {
            E::narrow(if j < d {
                -2.0 * self.value(x, start + i, j)
            } else {
                norms[start + i]
            })
        })
    }
    /// Query rows `start..start + rows` of `x` as columns `[q, 1]`.
    fn query_block<E: Precision>(
        &self,
        x: ArrayView2<'_, f64>,
        start: usize,
        rows: usize,
    ) -> Mat<E> {
        let d = x.ncols();
        Mat::from_fn(d + 1, rows, |j, i| {
            E::narrow(if j < d {
                self.value(x, start + i, j)
            } else {
                1.0
            })
        })
    }
}

/// One query's candidates: the reference rows whose f32 value may still put them among the `k`
/// nearest. Exact distances are computed once, for the survivors, at the end.
struct Candidates {
    /// (f32 value, reference row), in no order.
    found: Vec<(f32, usize)>,
    /// Values above this cannot make the `k` nearest any more.
    limit: f32,
    /// The list is cut back when it reaches this length.
    cap: usize,
    k: usize,
}

impl Candidates {
    fn new(k: usize) -> Self {
        Candidates {
            found: Vec::with_capacity(k + k / 2 + 8),
            limit: f32::INFINITY,
            cap: k + k / 2 + 8,
            k,
        }
    }

    /// Adds row `row` at f32 value `v` (at most `limit`); cuts the list back once it holds
    /// half as many again as needed (plus a few), which lowers the limit and keeps the cost per
    /// row seen constant.
    fn push(&mut self, v: f32, row: usize, margin: f64) {
        self.found.push((v, row));
        if self.found.len() >= self.cap {
            self.prune(margin);
        }
    }

    /// Sets the first limit from the first block a query sees, before any row is offered: its
    /// `k`-th smallest value (row `skip` left out) bounds the `k`-th nearest as a cut-back does,
    /// and rows offered against it are few from the start.
    fn seed(&mut self, values: &[f32], skip: Option<usize>, margin: f64) {
        if self.limit != f32::INFINITY || values.len() <= self.k {
            return;
        }
        let mut seen: Vec<f32> = values
            .iter()
            .enumerate()
            .filter(|&(j, _)| skip != Some(j))
            .map(|(_, &v)| v)
            .collect();
        let (_, kth, _) = seen.select_nth_unstable_by(self.k - 1, f32::total_cmp);
        self.limit = round_up(f64::from(*kth) + 2.0 * margin);
    }

    /// Keeps the candidates that can still be among the `k` nearest: with `k` values seen, the
    /// `k`-th nearest is at most the `k`-th value plus the rounding bound `margin`, and a row
    /// beats or ties it only if its own value is at most that plus `margin` again.
    fn prune(&mut self, margin: f64) {
        if self.found.len() < self.k {
            return;
        }
        let (_, kth, _) = self
            .found
            .select_nth_unstable_by(self.k - 1, |a, b| a.0.total_cmp(&b.0));
        self.limit = round_up(f64::from(kth.0) + 2.0 * margin);
        let limit = self.limit;
        self.found.retain(|c| c.0 <= limit);
        // many rows at one distance (duplicates) cannot be cut back: grow the list instead
        self.cap = self.cap.max(2 * self.found.len());
    }

    /// The `k` nearest by exact squared distance `distance_sq(row)`, sorted by distance then
    /// row (ties as scikit-learn's).
    fn finish(&self, distance_sq: impl Fn(usize) -> f64) -> (Vec<f64>, Vec<usize>) {
        let hits = self
            .found
            .iter()
            .map(|&(_, j)| (distance_sq(j), j))
            .collect();
        keep_k(hits, self.k, None)
    }
}

/// An f32 at or above `v`: `v` moved up by 2⁻²³ of itself before rounding to nearest, which
/// moves it down by at most 2⁻²⁴ of itself.
fn round_up(v: f64) -> f32 {
    (v + v.abs() * 2f64.powi(-23)) as f32
}

/// A block of one query's inner products with consecutive reference rows. Both are taken less
/// the reference rows' mean and, in f32, scaled (see `Centring`): a squared distance is
/// `query_norm + partial[j]` in those units.
#[derive(Debug)]
pub struct Block<'a, E = f64> {
    /// Index of the first reference row of the block.
    pub start: usize,
    /// `‖r‖² − 2 q · r` for each reference row of the block: the squared distance less `‖q‖²`.
    pub partial: &'a [E],
    /// `‖r‖²` for each reference row of the block.
    pub ref_norms: &'a [f64],
    /// The largest `‖r‖²` of all reference rows.
    pub max_ref_norm: f64,
    /// `‖q‖²`.
    pub query_norm: f64,
    query: ArrayView1<'a, f64>,
    reference: ArrayView2<'a, f64>,
}

impl<E> Block<'_, E> {
    /// Squared distance to the `j`-th reference row of the block, from the rows themselves.
    pub fn exact_distance_sq(&self, j: usize) -> f64 {
        rows_distance_sq(self.query, self.reference.row(self.start + j))
    }
}

impl Block<'_, f64> {
    /// Squared distance to the `j`-th reference row of the block (never negative).
    pub fn distance_sq(&self, j: usize) -> f64 {
        let scale = self.query_norm + self.ref_norms[j];
        let expanded = self.query_norm + self.partial[j];
        if expanded > 1e-6 * scale {
            expanded
        } else {
            // the expansion cancels when the rows (nearly) coincide: recompute those exactly,
            // so that duplicates are at distance 0 and ties stay ties
            self.exact_distance_sq(j)
        }
    }
}

/// Visits every (query, reference block) pair: `visit(state, query, block)` with one state per
/// query, made by `init`. Query blocks run in parallel, one GEMM per thread; the states come back
/// in query order.
pub fn sweep<E: Precision, T: Send>(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    init: impl Fn(usize) -> T + Sync,
    visit: impl Fn(&mut T, usize, &Block<'_, E>) + Sync,
) -> Vec<T> {
    let centring = Centring::new(reference, queries, E::RESCALE);
    let ref_norms: Vec<f64> = reference
        .rows()
        .into_iter()
        .map(|r| centring.norm(r))
        .collect();
    let max_ref_norm = ref_norms.iter().fold(0.0_f64, |m, &v| m.max(v));
    let n_ref = reference.nrows();
    let ref_blocks: Vec<(usize, Mat<E>)> = (0..n_ref)
        .step_by(REF_BLOCK)
        .map(|rs| {
            let rows = REF_BLOCK.min(n_ref - rs);
            (
                rs,
                centring.reference_block(reference, &ref_norms, rs, rows),
            )
        })
        .collect();
    let starts: Vec<usize> = (0..queries.nrows()).step_by(QUERY_BLOCK).collect();
    let per_block: Vec<Vec<T>> = starts
        .par_iter()
        .map(|&qs| {
            let qn = QUERY_BLOCK.min(queries.nrows() - qs);
            let qt = centring.query_block::<E>(queries, qs, qn);
            let q_norms: Vec<f64> = (0..qn)
                .map(|i| centring.norm(queries.row(qs + i)))
                .collect();
            let mut states: Vec<T> = (0..qn).map(|i| init(qs + i)).collect();
            let mut partial = Mat::<E>::zeros(REF_BLOCK, qn);
            for (rs, r) in &ref_blocks {
                let rn = r.nrows();
                let mut dst = partial.as_mut().subrows_mut(0, rn);
                // the threads already split the queries: one GEMM per thread
                matmul(
                    dst.as_mut(),
                    Accum::Replace,
                    r,
                    &qt,
                    E::narrow(1.0),
                    Par::Seq,
                );
                for (i, state) in states.iter_mut().enumerate() {
                    let block = Block {
                        start: *rs,
                        partial: &partial.col_as_slice(i)[..rn],
                        ref_norms: &ref_norms[*rs..rs + rn],
                        max_ref_norm,
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
    if tree_fits(reference.nrows(), d, k) {
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

/// Whether the exact search goes through a k-d tree.
fn tree_fits(rows: usize, dims: usize, k: usize) -> bool {
    rows >= TREE_MIN_ROWS && k < rows && (1..=TREE_MAX_DIMS).contains(&dims)
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

/// Offers one query's block of values to its candidates: every value up to the candidates'
/// limit (compared a SIMD vector at a time) but the row `skip`.
struct CollectBelow<'a> {
    values: &'a [f32],
    start: usize,
    skip: Option<usize>,
    margin: f64,
    candidates: &'a mut Candidates,
}

impl CollectBelow<'_> {
    /// Offers row `j` of the block if its value is still at most the limit.
    #[inline(always)]
    fn offer(&mut self, j: usize) {
        let v = self.values[j];
        if v <= self.candidates.limit && self.skip != Some(j) {
            self.candidates.push(v, self.start + j, self.margin);
        }
    }
}

/// The lanes of a SIMD comparison that hold `true`, as bits (lane 0 lowest).
#[inline(always)]
fn lane_bits<S: Simd>(mask: S::m32s) -> u64 {
    bytemuck::bytes_of(&mask)
        .chunks_exact(4)
        .enumerate()
        .fold(0, |bits, (lane, b)| bits | (u64::from(b[0] >> 7) << lane))
}

impl WithSimd for CollectBelow<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, simd: S) {
        self.candidates.seed(self.values, self.skip, self.margin);
        let (vectors, _) = S::as_simd_f32s(self.values);
        let lanes = S::F32_LANES;
        let mut limit = simd.splat_f32s(self.candidates.limit);
        // four vectors per test, nothing kept from it: hits are rare, so the hot loop is
        // loads, comparisons and one branch, and a hit recomputes its comparisons
        let quads = vectors.len() / 4;
        for q in 0..quads {
            let quad = &vectors[4 * q..4 * q + 4];
            let any = simd.or_m32s(
                simd.or_m32s(
                    simd.less_than_or_equal_f32s(quad[0], limit),
                    simd.less_than_or_equal_f32s(quad[1], limit),
                ),
                simd.or_m32s(
                    simd.less_than_or_equal_f32s(quad[2], limit),
                    simd.less_than_or_equal_f32s(quad[3], limit),
                ),
            );
            if simd.first_true_m32s(any) < lanes {
                for (l, &vector) in quad.iter().enumerate() {
                    let hit = simd.less_than_or_equal_f32s(vector, limit);
                    if simd.first_true_m32s(hit) == lanes {
                        continue;
                    }
                    let mut bits = lane_bits::<S>(hit);
                    while bits != 0 {
                        self.offer((4 * q + l) * lanes + bits.trailing_zeros() as usize);
                        bits &= bits - 1;
                    }
                }
                limit = simd.splat_f32s(self.candidates.limit);
            }
        }
        for j in quads * 4 * lanes..self.values.len() {
            self.offer(j);
        }
    }
}

/// [`k_nearest_skipping`] by blocked brute force.
fn brute_k_nearest(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    k: usize,
    skip: impl Fn(usize) -> Option<usize> + Sync,
) -> Neighbours {
    // contiguous rows for the exact distances (a copy only if the caller's are not)
    let reference = reference.as_standard_layout();
    let queries = queries.as_standard_layout();
    let (reference, queries) = (reference.view(), queries.view());
    let arch = Arch::new();
    // rounding bound of the f32 expansion (inputs, products and the d + 1 term sum, each within
    // 2⁻²⁴ relative): |error| ≤ (d + 4)·2⁻²³·Σ|terms| ≤ (d + 4)·2⁻²³·(‖q‖² + 2‖r‖²), doubled
    let tolerance = (reference.ncols() as f64 + 4.0) * 2f64.powi(-22);
    let candidates = sweep::<f32, _>(
        reference,
        queries,
        |_| Candidates::new(k),
        |c, q, block| {
            arch.dispatch(CollectBelow {
                values: block.partial,
                start: block.start,
                skip: skip(q)
                    .filter(|s| (block.start..block.start + block.partial.len()).contains(s))
                    .map(|s| s - block.start),
                margin: tolerance * (block.query_norm + 2.0 * block.max_ref_norm),
                candidates: c,
            });
        },
    );
    per_query(queries.nrows(), |q| {
        candidates[q].finish(|j| rows_distance_sq(queries.row(q), reference.row(j)))
    })
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

    /// Every row's `k` nearest by sorting all exact distances (ties by index).
    fn naive(reference: &Array2<f64>, queries: &Array2<f64>, k: usize, own: bool) -> Neighbours {
        let mut out = Neighbours {
            distances: Vec::new(),
            indices: Vec::new(),
        };
        for (i, q) in queries.rows().into_iter().enumerate() {
            let mut d: Vec<(f64, usize)> = reference
                .rows()
                .into_iter()
                .enumerate()
                .filter(|&(j, _)| !(own && j == i))
                .map(|(j, r)| {
                    let d2: f64 = q.iter().zip(r).map(|(a, b)| (a - b) * (a - b)).sum();
                    (d2.sqrt(), j)
                })
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            d.truncate(k);
            out.distances.push(d.iter().map(|p| p.0).collect());
            out.indices.push(d.iter().map(|p| p.1).collect());
        }
        out
    }

    fn assert_same(found: &Neighbours, expected: &Neighbours) {
        for (i, (d, e)) in found.distances.iter().zip(&expected.distances).enumerate() {
            assert_eq!(d.len(), e.len(), "row {i}");
            for (a, b) in d.iter().zip(e) {
                assert!((a - b).abs() <= 1e-12 * b.max(1.0), "row {i}: {a} vs {b}");
            }
            // where distances tie, the order among the tied rows is free
            if d.windows(2).all(|w| w[0] < w[1]) {
                assert_eq!(found.indices[i], expected.indices[i], "row {i}");
            }
        }
    }

    #[test]
    fn single_precision_preselection_stays_exact() {
        // a large common offset with small differences (the expansion cancels), duplicated
        // rows (distance 0), features on scales 1e-3 … 1e3, and queries far outside
        let reference = Array2::from_shape_fn((1500, 12), |(i, j)| {
            let i = if i % 50 == 7 { i - 1 } else { i };
            let wave = ((i * 7919 + j * 104_729) % 1009) as f64 / 1009.0;
            1e6 + wave * 10f64.powi(j as i32 % 7 - 3)
        });
        let nb = brute_k_nearest(reference.view(), reference.view(), 6, Some);
        assert_same(&nb, &naive(&reference, &reference, 6, true));
        let far = Array2::from_shape_fn((40, 12), |(i, j)| {
            if i % 2 == 0 {
                1e6 + (i * j) as f64 * 1e-4
            } else {
                -3e9 * (i + j) as f64
            }
        });
        let nb = brute_k_nearest(reference.view(), far.view(), 3, |_| None);
        assert_same(&nb, &naive(&reference, &far, 3, false));
        // two clusters 2,000 apart, 0.01 between neighbours: after centring the norms are about
        // 10⁷ and the squared distances 10⁻⁴, far below f32's resolution of the expansion
        let clusters = Array2::from_shape_fn((600, 10), |(i, j)| {
            let side = if i % 2 == 0 { 1e3 } else { -1e3 };
            side + ((i * 31 + j * 17) % 97) as f64 * 1e-2
        });
        let nb = brute_k_nearest(clusters.view(), clusters.view(), 4, Some);
        assert_same(&nb, &naive(&clusters, &clusters, 4, true));
    }

    #[test]
    fn many_equal_rows_keep_the_lowest_indices() {
        // 600 equal rows: every list holds ties it cannot cut back
        let x = Array2::from_shape_fn(
            (900, 10),
            |(i, j)| {
                if i < 600 {
                    1.0
                } else {
                    (i + j) as f64
                }
            },
        );
        let nb = brute_k_nearest(x.view(), x.view(), 3, Some);
        assert_eq!(nb.indices[0], vec![1, 2, 3]);
        assert_eq!(nb.indices[599], vec![0, 1, 2]);
        assert!(nb.distances[5].iter().all(|&v| v == 0.0));
        assert_same(&nb, &naive(&x, &x, 3, true));
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
