//! Exact search by brute force: squared Euclidean distances of a block of queries to a block of reference rows
//! come from one matrix product, `‖q‖² + ‖r‖² − 2 q·r`, where faer's GEMM yields `‖r‖² − 2 q·r`
//! directly (the reference rows carry `‖r‖²` as one more column, the queries a 1; both are
//! centred on the reference mean first), laid out so that each query's values are contiguous.
//! For nearest neighbours the product runs in f32 (rows scaled into [−1, 1] by a power of two):
//! half the memory traffic and twice the SIMD lanes of f64. It only preselects: a query looks for
//! the values below `bound − ‖q‖²` plus a bound on the f32 rounding error (comparisons vectorised
//! with the processor's SIMD, chosen at run time), and every candidate found gets its exact
//! distance from the rows in f64 — so the result is the exact search's, whatever the rounding
//! (unit test on offset, duplicated and badly scaled data). Each query's limit is the `k`-th
//! smallest value of the first block it sees once that block is through (a bound read off the
//! SIMD lanes lets a few more rows in first), and its candidates are kept unsorted, cut back in
//! bulk by a selection. Memory is one block pair per thread (sized for the L2 cache), never
//! `n × n`; query blocks run in parallel. Cost: O(n · m · d) arithmetic, vectorised, plus
//! O(d) per candidate (about k·ln(m/k) per query in random order). KDE uses the same sweep in
//! f64, where the expansion is the distance. (A k-d tree wins only in a handful of dimensions;
//! brute force has no dimension limit and a predictable cost.)
//!
//! When the queries are the reference rows themselves (fitting KNN or LOF), the distance of a
//! pair serves both rows ([`self_nearest`]): the rows are put in k-d leaf order (close rows in
//! one block), a block's own pairs come from one product (which sets every row's first limit;
//! on the integer path below, for k ≤ 24, all but eight blocks leave them to the integer tiles),
//! each pair of distinct blocks is computed once in register tiles whose values are offered to
//! both blocks' rows, and the pairs of blocks are visited in rounds (block `a` with block
//! `a XOR r` in round `r`), so that the pairs of one round touch disjoint rows and run in
//! parallel without copies of the candidate lists. Half the arithmetic of the plain sweep, the
//! same result. Where the processor has AVX2 (or AVX-512 with VNNI), those pairs run on the rows
//! rounded to 16-bit integers (module `quantized`: two coordinates per multiply-add instruction,
//! exact integer sums), unless the rounding would blur distances as short as the rows' first
//! limits; the candidates' limits widen by the rounding's bound, so the result is again the
//! exact search's. There a first pass over each block's nearest blocks, which keeps only the
//! smallest values per SIMD lane, sets every row's limit near its `k`-th neighbour's value
//! before any row is offered: a candidate list then takes about half as many rows.
//!
//! The f32 margin is a share of the largest norm from the mean. Where it is not small against
//! the distances of the rows' first limits (heavy-tailed features, a few extreme rows: every
//! row would be let in and offered), both searches run on f64 products instead
//! ([`brute_k_nearest_wide`]), each query against every row, as exact and, there, far faster.

use super::{keep_k, per_query, put_run, Neighbours};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use ndarray::{ArrayView1, ArrayView2};
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;
use std::sync::{Mutex, PoisonError};

#[cfg(target_arch = "x86_64")]
mod quantized;

const QUERY_BLOCK: usize = 128;
/// 512 × 128 values (512 KB) per thread: the GEMM's output stays in the L2 cache.
const REF_BLOCK: usize = 512;
/// Rows per block when a matrix's rows are searched among themselves: a 256 × 256 f32 product
/// (256 KB) per thread.
const SELF_BLOCK: usize = 256;

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
    /// The largest magnitude of a centred value (0 when not `rescale`d).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    largest: f64,
}

impl Centring {
    /// The reference rows' mean; with `rescale`, a power of two (exact) that brings every
    /// centred value of either matrix within [−1, 1] (`queries` `None`: the reference rows are
    /// the queries).
    fn new(
        reference: ArrayView2<'_, f64>,
        queries: Option<ArrayView2<'_, f64>>,
        rescale: bool,
    ) -> Self {
        let center: Vec<f64> = match reference.mean_axis(ndarray::Axis(0)) {
            Some(mean) => mean.to_vec(),
            None => vec![0.0; reference.ncols()],
        };
        let (mut scale, mut largest) = (1.0, 0.0);
        if rescale {
            let most = |x: ArrayView2<'_, f64>| {
                x.rows().into_iter().fold(0.0_f64, |m, r| {
                    r.iter()
                        .zip(&center)
                        .fold(m, |m, (v, c)| m.max((v - c).abs()))
                })
            };
            largest = most(reference).max(queries.map_or(0.0, most));
            if largest > 0.0 && largest.is_finite() {
                scale = 2f64.powi(largest.log2().ceil() as i32);
            }
        }
        Centring {
            center,
            scale,
            largest,
        }
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
    /// (approximate squared distance in the centred, scaled units, reference row) as one
    /// integer ([`Candidates::entry`]: the value's [`order_key`] above the row, so that
    /// integer order is value order), in no order.
    found: Vec<u64>,
    /// Values above this cannot make the `k` nearest any more.
    limit: f32,
    /// What `limit` was widened from: a value that at least `k` candidates are at most.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    anchor: f64,
    /// How far a value's square root may be from the true distance beyond the rounding
    /// `margin` (in the same units): 0 for the f32 products' values, the quantisation bound of
    /// the quantiser (module `quantized`) once its values are offered.
    spread: f64,
    /// The list is cut back when it reaches this length.
    cap: usize,
    k: usize,
}

impl Candidates {
    fn new(k: usize) -> Self {
        let cap = k + Self::slack(k);
        Candidates {
            found: Vec::with_capacity(cap),
            limit: f32::INFINITY,
            anchor: f64::INFINITY,
            spread: 0.0,
            cap,
            k,
        }
    }

    /// How many rows a list takes between two cut-backs: half as many as needed, plus a few.
    fn slack(k: usize) -> usize {
        k / 2 + 8
    }

    /// Adds row `row` (below [`super::MAX_REFERENCE_ROWS`]) at f32 value `v` (at most `limit`); cuts
    /// the list back once it holds [`Candidates::slack`] more than needed, which lowers the
    /// limit and keeps the cost per row seen constant.
    fn push(&mut self, v: f32, row: usize, margin: f64) {
        self.found.push(Self::entry(v, row));
        if self.found.len() >= self.cap {
            self.prune(margin);
        }
    }

    /// Row `row` at value `v` as an entry of `found`.
    fn entry(v: f32, row: usize) -> u64 {
        u64::from(order_key(v)) << 32 | row as u64
    }

    /// The value of an entry of `found`.
    fn value(entry: u64) -> f32 {
        key_value((entry >> 32) as u32)
    }

    /// The row of an entry of `found`.
    fn row(entry: u64) -> usize {
        (entry & u64::from(u32::MAX)) as usize
    }

    /// Sets the first limit from the first block a query sees, before any row is offered
    /// (row `skip` left out; `values` less `shift`), so that rows offered against it are few
    /// from the start: a value that at least `k` of them are at most (from the SIMD lanes'
    /// smallest values, [`lane_rank_bound`]; the block's rows within it are then offered and cut
    /// back to the `k`-th, see [`CollectBelow`]), or, for a `k` of more than a few vectors, the
    /// `k`-th smallest. Either bounds the `k`-th nearest as a cut-back does.
    fn seed<S: Simd>(
        &mut self,
        simd: S,
        values: &[f32],
        shift: f64,
        skip: Option<usize>,
        margin: f64,
    ) {
        if self.limit != f32::INFINITY || values.len() <= self.k {
            return;
        }
        let bound = lane_rank_bound(simd, values, self.k, skip)
            .unwrap_or_else(|| kth_smallest(values, self.k, skip));
        self.widen(f64::from(bound) + shift, margin);
    }

    /// Sets the limit from `anchor`, a value that at least `k` candidates are at most. Every
    /// value `v` is within `margin` of a square `w` whose root is within `spread` of the true
    /// distance, so the `k`-th nearest is at most `√(anchor + margin) + spread`, and a row with
    /// value `v` can be that near only if `v ≤ (√(anchor + margin) + 2·spread)² + margin`
    /// (`anchor + 2·margin` without a spread).
    fn widen(&mut self, anchor: f64, margin: f64) {
        self.anchor = anchor;
        let reach = (anchor + margin).max(0.0).sqrt() + 2.0 * self.spread;
        self.limit = round_up(reach * reach + margin);
    }

    /// From now on values may be up to `spread` off in their square root (see
    /// [`Candidates::widen`]): the limit moves up accordingly.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn set_spread(&mut self, spread: f64, margin: f64) {
        self.spread = spread;
        if self.anchor.is_finite() {
            self.widen(self.anchor, margin);
        }
    }

    /// The bound below which a value less `shift` may still be offered.
    fn threshold(&self, shift: f64) -> f32 {
        round_up(f64::from(self.limit) - shift)
    }

    /// Keeps the candidates that can still be among the `k` nearest: with `k` values seen, the
    /// `k`-th nearest is at most the `k`-th value plus the rounding bound `margin`, and a row
    /// beats or ties it only if its own value is at most that plus `margin` again (widened by
    /// the spread, [`Candidates::widen`]).
    fn prune(&mut self, margin: f64) {
        if self.found.len() < self.k {
            return;
        }
        let (_, &mut kth, _) = self.found.select_nth_unstable(self.k - 1);
        self.widen(f64::from(Self::value(kth)), margin);
        self.drop_above_limit();
        // many rows at one distance (duplicates) cannot be cut back: when less than the slack
        // is left, the list grows to twice what it kept (a list of ties is then not cut back
        // after every few rows). A usual cut-back keeps `k` and leaves the slack; growing
        // whenever more than half the length was kept grew nearly every list once k ≥ 16,
        // a reallocation each.
        if self.found.len() + Self::slack(self.k) > self.cap {
            self.cap = self.cap.max(2 * self.found.len());
        }
    }

    /// Lowers the limit to the `k`-th smallest of the values taken and `more` (values of other
    /// rows than those taken, each a different row), where that is below the anchor, and drops
    /// the rows above it; `values` is scratch space (its contents are replaced).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn bound_by(&mut self, more: impl Iterator<Item = f32>, values: &mut Vec<f32>, margin: f64) {
        values.clear();
        values.extend(self.found.iter().map(|&c| Self::value(c)).chain(more));
        if values.len() < self.k {
            return;
        }
        let (_, &mut kth, _) = values.select_nth_unstable_by(self.k - 1, f32::total_cmp);
        if f64::from(kth) < self.anchor {
            self.widen(f64::from(kth), margin);
            self.drop_above_limit();
        }
    }

    /// Drops the candidates whose value is above the limit.
    fn drop_above_limit(&mut self) {
        // every entry of a value at most the limit, whatever its row, is at most this
        let last = Self::entry(self.limit, u32::MAX as usize);
        self.found.retain(|&c| c <= last);
    }

    /// The `k` nearest into `hits` as `(squared distance, index)`, sorted by distance then
    /// index (ties as scikit-learn's); `exact(row)` gives a candidate's squared distance and the
    /// index it is reported (and ordered among ties) by.
    fn finish(&self, hits: &mut Vec<(f64, usize)>, exact: impl Fn(usize) -> (f64, usize)) {
        hits.clear();
        hits.extend(self.found.iter().map(|&c| exact(Self::row(c))));
        keep_k(hits, self.k, None);
    }
}

/// `v` as an unsigned integer in the order of `f32::total_cmp` (the sign bit flipped for
/// positive values, every bit for negative ones).
fn order_key(v: f32) -> u32 {
    let bits = v.to_bits();
    if bits >> 31 == 1 {
        !bits
    } else {
        bits | 1 << 31
    }
}

/// The value of an [`order_key`].
fn key_value(key: u32) -> f32 {
    f32::from_bits(if key >> 31 == 1 {
        key & !(1 << 31)
    } else {
        !key
    })
}

/// The `k`-th smallest of `values` (`0 < k < values.len()`) but the one at `skip`. A pivot a
/// little above it comes from a strided sample (its `⌈k·32/n⌉ + 2`-th of 32); when at least `k`
/// values are at most the pivot, the answer is among those few (a selection on all the values
/// cost a tenth of a fit); otherwise a selection on all of them.
fn kth_smallest(values: &[f32], k: usize, skip: Option<usize>) -> f32 {
    let n = values.len();
    let mut sample: Vec<f32> = values.iter().step_by((n / 32).max(1)).copied().collect();
    let rank = ((k * sample.len()).div_ceil(n) + 2).min(sample.len());
    let pivot = *sample.select_nth_unstable_by(rank - 1, f32::total_cmp).1;
    let mut below = Vec::with_capacity(n);
    // branch-free: every value written, kept if within the pivot
    below.resize(n, 0.0);
    let mut kept = 0;
    for (j, &v) in values.iter().enumerate() {
        below[kept] = v;
        kept += usize::from(v <= pivot && skip != Some(j));
    }
    if kept < k {
        below = values
            .iter()
            .enumerate()
            .filter(|&(j, _)| skip != Some(j))
            .map(|(_, &v)| v)
            .collect();
        kept = below.len();
    }
    *below[..kept]
        .select_nth_unstable_by(k - 1, f32::total_cmp)
        .1
}

/// Most vectors of smallest values [`lane_rank_bound`] keeps per lane.
const LANE_RANKS: usize = 4;

/// A value that at least `k` of `values` but the one at `skip` are at most, from the SIMD
/// lanes: each lane keeps its `r = ⌈k / lanes⌉` smallest values in order (a compare-exchange
/// chain per vector, `2r` minima and maxima), and the `k`-th smallest of those `lanes · r`
/// values is at or above `k` values (they are values of distinct rows). It is the `k`-th
/// smallest of all unless a lane holds more than `r` of the `k` smallest; the selection runs
/// on the kept values only. (The largest of the lanes' `r`-th smallest, which needs no
/// selection, let in about four times `k` rows at `k = 5`, each offered and cut back.) `None`
/// when `r` exceeds [`LANE_RANKS`] or fewer than `k` values are kept.
fn lane_rank_bound<S: Simd>(simd: S, values: &[f32], k: usize, skip: Option<usize>) -> Option<f32> {
    if S::F32_LANES > 16 {
        return None;
    }
    // the rank count a constant: the lanes' smallest values stay in registers
    match k.div_ceil(S::F32_LANES) {
        1 => lane_ranks::<S, 1>(simd, values, k, skip),
        2 => lane_ranks::<S, 2>(simd, values, k, skip),
        3 => lane_ranks::<S, 3>(simd, values, k, skip),
        4 => lane_ranks::<S, LANE_RANKS>(simd, values, k, skip),
        _ => None,
    }
}

/// [`lane_rank_bound`] with `R` smallest values per lane (`k ≤ R · lanes`).
#[inline(always)]
fn lane_ranks<S: Simd, const R: usize>(
    simd: S,
    values: &[f32],
    k: usize,
    skip: Option<usize>,
) -> Option<f32> {
    let lanes = S::F32_LANES;
    let mut smallest = [simd.splat_f32s(f32::INFINITY); R];
    let mut insert = |mut v: S::f32s| {
        for m in &mut smallest {
            let low = simd.min_f32s(*m, v);
            v = simd.max_f32s(*m, v);
            *m = low;
        }
    };
    // the vector holding `skip`, and the values past the last whole vector, go through a
    // copy with +∞ in their place
    let padded = |from: usize| {
        let mut lane_values = [f32::INFINITY; 16];
        for (l, slot) in lane_values[..lanes].iter_mut().enumerate() {
            let j = from + l;
            if j < values.len() && skip != Some(j) {
                *slot = values[j];
            }
        }
        S::as_simd_f32s(&lane_values[..lanes]).0[0]
    };
    let (vectors, tail) = S::as_simd_f32s(values);
    let skipped = skip.map(|j| j / lanes);
    for (i, &v) in vectors.iter().enumerate() {
        insert(if skipped == Some(i) {
            padded(i * lanes)
        } else {
            v
        });
    }
    if !tail.is_empty() {
        insert(padded(vectors.len() * lanes));
    }
    let mut kept = [f32::INFINITY; 16 * LANE_RANKS];
    for (r, m) in smallest.iter().enumerate() {
        kept[r * lanes..(r + 1) * lanes]
            .copy_from_slice(bytemuck::cast_slice(std::slice::from_ref(m)));
    }
    let bound = *kept[..R * lanes]
        .select_nth_unstable_by(k - 1, f32::total_cmp)
        .1;
    (bound < f32::INFINITY).then_some(bound)
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

    /// Reference row `row` as a position in the block, if it lies there.
    fn position(&self, row: Option<usize>) -> Option<usize> {
        row.filter(|r| (self.start..self.start + self.partial.len()).contains(r))
            .map(|r| r - self.start)
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
    let centring = Centring::new(reference, Some(queries), E::RESCALE);
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

/// A value less `shift` (the query's `‖q‖²`, as the products give it) as an approximate squared
/// distance in the centred, scaled units (one more rounding, within the margin).
fn full(v: f32, shift: f64) -> f32 {
    (f64::from(v) + shift) as f32
}

/// Offers one query's block of values to its candidates: every value up to the candidates'
/// limit (compared a SIMD vector at a time) but the row `skip`. The values are the squared
/// distances less `shift`.
struct CollectBelow<'a> {
    values: &'a [f32],
    shift: f64,
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
        if v <= self.candidates.threshold(self.shift) && self.skip != Some(j) {
            let value = full(v, self.shift);
            self.candidates.push(value, self.start + j, self.margin);
        }
    }
}

/// The lanes of a SIMD comparison that hold `true`, as bits (lane 0 lowest). Masks with a
/// 32-bit lane per value (all ones where true) are read a lane at a time; any other layout —
/// a `bool` on the portable scalar path (read as 32-bit lanes, it had none: no row was ever
/// offered there), a bit per lane in mask registers — is its bits.
#[inline(always)]
fn lane_bits<S: Simd>(mask: S::m32s) -> u64 {
    let bytes = bytemuck::bytes_of(&mask);
    if bytes.len() == 4 * S::F32_LANES {
        bytes
            .chunks_exact(4)
            .enumerate()
            .fold(0, |bits, (lane, b)| bits | (u64::from(b[0] >> 7) << lane))
    } else {
        bytes
            .iter()
            .rev()
            .fold(0, |bits, &b| (bits << 8) | u64::from(b))
    }
}

impl WithSimd for CollectBelow<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, simd: S) {
        let seeded = self.candidates.limit == f32::INFINITY;
        self.candidates
            .seed(simd, self.values, self.shift, self.skip, self.margin);
        let (vectors, _) = S::as_simd_f32s(self.values);
        let lanes = S::F32_LANES;
        let mut limit = simd.splat_f32s(self.candidates.threshold(self.shift));
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
                limit = simd.splat_f32s(self.candidates.threshold(self.shift));
            }
        }
        for j in quads * 4 * lanes..self.values.len() {
            self.offer(j);
        }
        if seeded {
            // the seed's bound let a few more than `k` rows in: down to the `k`-th at once
            self.candidates.prune(self.margin);
        }
    }
}

/// Rounding bound of the f32 expansion per unit of `‖q‖² + 2‖r‖²`: inputs, products and the
/// d + 1 term sum, each within 2⁻²⁴ relative, give |error| ≤ (d + 4)·2⁻²³·Σ|terms| ≤
/// (d + 4)·2⁻²³·(‖q‖² + 2‖r‖²); adding `‖q‖²` back (`full`) and rounding that once more adds at
/// most 2·2⁻²³ of the same. Doubled: a candidate's value is within half the margin of the truth.
fn tolerance(dims: usize) -> f64 {
    (dims as f64 + 6.0) * 2f64.powi(-22)
}

/// [`tolerance`] for the f64 expansion (unit roundoff 2⁻⁵³ instead of 2⁻²⁴).
fn tolerance_f64(dims: usize) -> f64 {
    (dims as f64 + 6.0) * 2f64.powi(-51)
}

/// The most the f32 rounding margin may be of the tenth-percentile first limit of a self search
/// before its products run in f64 ([`brute_k_nearest_wide`]): beyond it the f32 values cannot
/// tell the neighbours apart and nearly every row is let in.
const MOST_F32_MARGIN: f64 = 0.1;

/// Blocks of a self search whose first limits decide between f32 and f64 products.
const RESOLUTION_BLOCKS: usize = 8;
/// Up to this many neighbours the self search's integer first pass sets each row's first limit
/// alone (it keeps 32 values per row: enough above the `k`-th to bound it closely), and the
/// blocks' own pairs run on the integer tiles too; above, they run on f32 products first.
const INTEGER_DIAGONAL_MAX_K: usize = 24;

/// The most coordinate products the query sweep's choice between f32 and f64 may take.
const PROBE_PRODUCTS: usize = 1 << 22;

/// [`super::nearest`] by brute force on f64 products, for rows whose f32 expansion cannot
/// resolve their neighbours' distances: norms (from the mean) far beyond those distances, as
/// heavy-tailed features or a few extreme rows give, where the f32 margin, a share of the
/// largest norm, let in nearly every row (ADBench's PageBlocks: the KNN fit 14× PyOD's, with
/// its k-d tree). Each value is the f64 expansion rounded up to f32: within the f64 bound
/// ([`tolerance_f64`]) plus 2⁻²² of itself of the truth. Only values up to a query's first
/// limit matter, so its margin is set from its first block's `k`-th value (or, for a first
/// block of at most `k` rows, from the largest distance the norms allow); the result is the
/// exact search's, as in [`k_nearest`].
fn brute_k_nearest_wide(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    k: usize,
    skip: impl Fn(usize) -> Option<usize> + Sync,
) -> Neighbours {
    let arch = Arch::new();
    let reference = reference.as_standard_layout();
    let queries = queries.as_standard_layout();
    let (reference, queries) = (reference.view(), queries.view());
    let tolerance = tolerance_f64(reference.ncols());
    let states = sweep::<f64, _>(
        reference,
        queries,
        |_| (Candidates::new(k), f64::INFINITY),
        |(candidates, margin), q, block| {
            let skip = block.position(skip(q));
            let mut buffer = [0.0_f32; REF_BLOCK];
            let values = &mut buffer[..block.partial.len()];
            for (v, &p) in values.iter_mut().zip(block.partial) {
                *v = round_up(block.query_norm + p);
            }
            if margin.is_infinite() {
                let usable = values.len() - usize::from(skip.is_some());
                let reach = if k > 0 && usable > k {
                    f64::from(kth_smallest(values, k, skip))
                } else {
                    (block.query_norm.sqrt() + block.max_ref_norm.sqrt()).powi(2)
                };
                let expansion = tolerance * (block.query_norm + 2.0 * block.max_ref_norm);
                *margin = 2.0 * (expansion + reach.abs() * 2f64.powi(-21));
            }
            arch.dispatch(CollectBelow {
                values,
                shift: 0.0,
                start: block.start,
                skip,
                margin: *margin,
                candidates,
            });
        },
    );
    finished(reference, queries, |q| &states[q].0)
}

/// Every query's `k` nearest from its candidates `candidates(q)`, by exact distances.
fn finished<'c>(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    candidates: impl Fn(usize) -> &'c Candidates + Sync,
) -> Neighbours {
    per_query(queries.nrows(), |q, found| {
        candidates(q).finish(found, |j| {
            (rows_distance_sq(queries.row(q), reference.row(j)), j)
        });
    })
}

/// [`super::nearest`] by blocked brute force: on f32 products where they resolve the
/// distances ([`sweep_resolves`]), else on f64 ones ([`brute_k_nearest_wide`]).
pub(super) fn k_nearest(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    k: usize,
    skip: impl Fn(usize) -> Option<usize> + Sync,
) -> Neighbours {
    if sweep_resolves(reference, queries, k, &skip) {
        brute_k_nearest_on(Arch::new(), reference, queries, k, skip)
    } else {
        brute_k_nearest_wide(reference, queries, k, skip)
    }
}

/// Whether the f32 sweep resolves the distances its queries' first limits show: a query's first
/// limit is about the `k`-th smallest squared distance to the first block of reference rows;
/// on a sample of queries (at most [`PROBE_PRODUCTS`] coordinate products in all, exact
/// distances) its tenth percentile, in units of each query's f32 margin, must be at least
/// `1 / MOST_F32_MARGIN` ([`MOST_F32_MARGIN`], as the self search decides).
fn sweep_resolves(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    k: usize,
    skip: &(impl Fn(usize) -> Option<usize> + Sync),
) -> bool {
    let first = REF_BLOCK.min(reference.nrows());
    let dims = reference.ncols().max(1);
    if k == 0 || first <= k + 1 || queries.nrows() == 0 {
        return true;
    }
    // the sweep's centre, unscaled (the ratios below do not depend on the scale)
    let centring = Centring::new(reference, Some(queries), false);
    let max_ref_norm = (0..reference.nrows())
        .into_par_iter()
        .with_min_len(1024)
        .map(|j| centring.norm(reference.row(j)))
        .reduce(|| 0.0, f64::max);
    let samples = (PROBE_PRODUCTS / (first * dims))
        .clamp(1, 256)
        .min(queries.nrows());
    let every = queries.nrows() / samples;
    let mut ratios: Vec<f64> = (0..samples)
        .into_par_iter()
        .map(|s| {
            let q = s * every;
            let mut distances: Vec<f64> = (0..first)
                .filter(|&j| skip(q) != Some(j))
                .map(|j| rows_distance_sq(queries.row(q), reference.row(j)))
                .collect();
            let kth = *distances.select_nth_unstable_by(k - 1, f64::total_cmp).1;
            let margin = tolerance(dims) * (centring.norm(queries.row(q)) + 2.0 * max_ref_norm);
            kth / margin
        })
        .collect();
    let tenth = *ratios
        .select_nth_unstable_by(samples / 10, f64::total_cmp)
        .1;
    // NaN: a zero margin (every row at the mean), nothing to resolve
    tenth.is_nan() || tenth >= 1.0 / MOST_F32_MARGIN
}

/// [`k_nearest`] with the SIMD instructions of `arch`.
fn brute_k_nearest_on(
    arch: Arch,
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    k: usize,
    skip: impl Fn(usize) -> Option<usize> + Sync,
) -> Neighbours {
    // contiguous rows for the exact distances (a copy only if the caller's are not)
    let reference = reference.as_standard_layout();
    let queries = queries.as_standard_layout();
    let (reference, queries) = (reference.view(), queries.view());
    let tolerance = tolerance(reference.ncols());
    let candidates = sweep::<f32, _>(
        reference,
        queries,
        |_| Candidates::new(k),
        |c, q, block| {
            arch.dispatch(CollectBelow {
                values: block.partial,
                shift: block.query_norm,
                start: block.start,
                skip: block.position(skip(q)),
                margin: tolerance * (block.query_norm + 2.0 * block.max_ref_norm),
                candidates: c,
            });
        },
    );
    finished(reference, queries, |q| &candidates[q])
}

/// How many f32 lanes the processor's SIMD vectors hold (as [`Arch::dispatch`] picks them).
struct LaneCount;

impl WithSimd for LaneCount {
    type Output = usize;
    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) -> usize {
        S::F32_LANES
    }
}

/// Rows `0..rows` interleaved in groups of `width`: each group is `dims` lines of `width`
/// values, line `j` holding coordinate `j` (`value(row, j)`) of the group's rows, so that a
/// tile reads one line per coordinate; rows past the end take `padding(j)`.
fn interleave(
    rows: usize,
    dims: usize,
    width: usize,
    value: impl Fn(usize, usize) -> f32,
    padding: impl Fn(usize) -> f32,
) -> Vec<f32> {
    let groups = rows.div_ceil(width);
    let mut packed = vec![0.0; groups * dims * width];
    for (g, group) in packed.chunks_exact_mut(dims * width).enumerate() {
        for (j, line) in group.chunks_exact_mut(width).enumerate() {
            for (t, v) in line.iter_mut().enumerate() {
                let row = g * width + t;
                *v = if row < rows {
                    value(row, j)
                } else {
                    padding(j)
                };
            }
        }
    }
    packed
}

/// Reference rows packed for [`CrossTiles`]: groups of `width` rows (two SIMD vectors), from
/// [`Centring::reference_block`]'s rows (`−2 r`, then `‖r‖²` last). Rows past the end are zeros
/// with `‖r‖² = +∞`, so their values never fall below a finite limit.
fn pack_panel(block: &Mat<f32>, width: usize) -> Vec<f32> {
    let dims = block.ncols();
    interleave(
        block.nrows(),
        dims,
        width,
        |row, j| block[(row, j)],
        |j| if j + 1 == dims { f32::INFINITY } else { 0.0 },
    )
}

/// Rows of a tile of [`CrossTiles`].
const QUERY_TILE: usize = 6;

/// Query rows packed for [`CrossTiles`]: tiles of [`QUERY_TILE`] rows, their features from
/// [`Centring::query_block`]'s columns (`q`; not its last line of 1s), so that a tile's
/// coordinates are read through one pointer (six separate columns spilled their addresses out
/// of the registers). Rows past the end are zeros; the tiles give them `‖q‖² = +∞`.
fn pack_query_tiles(block: &Mat<f32>) -> Vec<f32> {
    let features = block.nrows() - 1;
    interleave(
        block.ncols(),
        features,
        QUERY_TILE,
        |row, j| block[(j, row)],
        |_| 0.0,
    )
}

/// One pair of distinct blocks in both directions, without storing their product: a tile of `Q`
/// rows of block `a` and two SIMD vectors of block `b`'s rows accumulates its approximate squared
/// distances `‖q‖² + ‖r‖² − 2 q·r` in registers (fused multiply-adds from `‖q‖² + ‖r‖²`), and
/// only a tile with a value within either side's limit goes through the scalar offers — a
/// minority once the block diagonal has set the first limits. The faer product plus a pass over
/// its stored values cost a fifth more (KNN fit, 20,000 × 16). The sum of `d + 2` terms whose
/// magnitudes add up to at most `2‖q‖² + 2‖r‖²` is within `(d + 4)·2⁻²⁴·4·max‖r‖²` of the
/// truth, in any order: within half the margin of [`self_nearest`], as the values of
/// [`CollectBelow`] are.
struct CrossTiles<'a> {
    /// Block `a`'s rows packed by [`pack_query_tiles`].
    query_tiles: &'a [f32],
    /// Block `b`'s rows packed by [`pack_panel`].
    panel: &'a [f32],
    /// Features per row (the panel has one line more per group: the rows' `‖r‖²`).
    features: usize,
    /// `‖q‖²` of block `a`'s rows.
    norms: &'a [f64],
    lists: PairLists<'a>,
    /// The limits of `lists.others`, kept up to date; `−∞` past the block's end.
    other_limits: &'a mut [f32],
}

/// The candidates of the rows of a pair of distinct blocks `a` and `b` (one per row: their count
/// is the block's row count; padding rows of tiles and panels are never offered), and where the
/// blocks' rows start.
struct PairLists<'a> {
    own: &'a mut [Candidates],
    /// Empty for a block against itself ([`PairLists::own_block`]).
    others: &'a mut [Candidates],
    query_start: usize,
    row_start: usize,
    margin: f64,
    /// Whether block `b` is block `a`: only `own` takes rows, none its own row.
    diagonal: bool,
}

impl<'a> PairLists<'a> {
    /// Block `a`'s rows (from `start`) against themselves.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn own_block(own: &'a mut [Candidates], start: usize, margin: f64) -> Self {
        PairLists {
            own,
            others: &mut [],
            query_start: start,
            row_start: start,
            margin,
            diagonal: true,
        }
    }

    /// Offers the pair (row `i` of block `a`, row `j` of block `b`) at approximate squared
    /// distance `value` to whichever side's limit it is within; whether row `i` and row `j`
    /// took it (their limits may have moved).
    #[inline(always)]
    fn offer(&mut self, i: usize, j: usize, value: f32) -> (bool, bool) {
        if self.diagonal {
            let own = i != j && j < self.own.len() && value <= self.own_limit(i);
            if own {
                self.own[i].push(value, self.row_start + j, self.margin);
            }
            return (own, false);
        }
        if i >= self.own.len() || j >= self.others.len() {
            return (false, false);
        }
        let own = value <= self.own[i].limit;
        if own {
            self.own[i].push(value, self.row_start + j, self.margin);
        }
        let other = value <= self.others[j].limit;
        if other {
            self.others[j].push(value, self.query_start + i, self.margin);
        }
        (own, other)
    }

    /// Row `i`'s limit, `−∞` for a padding row.
    fn own_limit(&self, i: usize) -> f32 {
        self.own.get(i).map_or(f32::NEG_INFINITY, |c| c.limit)
    }
}

impl CrossTiles<'_> {
    /// Offers the pair (row `i` of block `a`, row `j` of block `b`) at approximate squared
    /// distance `value` to whichever side's limit it is within.
    #[inline(always)]
    fn offer(&mut self, i: usize, j: usize, value: f32) {
        if self.lists.offer(i, j, value).1 {
            self.other_limits[j] = self.lists.others[j].limit;
        }
    }

    /// Tile `t` of block `a` (its rows `t·Q..t·Q + Q`) against every group of block `b`.
    #[inline(always)]
    fn tile<S: Simd>(&mut self, simd: S, t: usize) {
        const Q: usize = QUERY_TILE;
        let lanes = S::F32_LANES;
        let features = self.features;
        let width = 2 * lanes;
        let first = t * Q;
        let tile = &self.query_tiles[t * features * Q..(t + 1) * features * Q];
        // plain loops, no closures around the vector operations: a closure is a function of its
        // own, without the vector features of the dispatch around it unless it is inlined
        let mut norms = [simd.splat_f32s(f32::INFINITY); Q];
        let mut limits = [simd.splat_f32s(f32::INFINITY); Q];
        for q in 0..Q {
            if let Some(&n) = self.norms.get(first + q) {
                norms[q] = simd.splat_f32s(n as f32);
            }
            limits[q] = simd.splat_f32s(self.lists.own_limit(first + q));
        }
        let panel = self.panel;
        for (g, group) in panel.chunks_exact((features + 1) * width).enumerate() {
            let (lines, _) = S::as_simd_f32s(group);
            // ‖q‖² + ‖r‖² − 2 q·r: the squared distance, one rounding bound away. The group's
            // last line holds its rows' ‖r‖²: added to ‖q‖² (additions, which leave the
            // multiply-add units to the products) rather than multiplied by the queries' 1s
            let (coordinates, row_norms) = lines.split_at(2 * features);
            let mut acc = [[row_norms[0], row_norms[1]]; Q];
            for q in 0..Q {
                acc[q][0] = simd.add_f32s(norms[q], row_norms[0]);
                acc[q][1] = simd.add_f32s(norms[q], row_norms[1]);
            }
            for (coords, r) in tile.chunks_exact(Q).zip(coordinates.chunks_exact(2)) {
                for q in 0..Q {
                    let b = simd.splat_f32s(coords[q]);
                    acc[q][0] = simd.mul_add_f32s(b, r[0], acc[q][0]);
                    acc[q][1] = simd.mul_add_f32s(b, r[1], acc[q][1]);
                }
            }
            let (others, _) = S::as_simd_f32s(&self.other_limits[g * width..(g + 1) * width]);
            let others = [others[0], others[1]];
            // within the query's limit or the row's
            let mut hits = [[simd.less_than_or_equal_f32s(acc[0][0], limits[0]); 2]; Q];
            let mut any = hits[0][0];
            for q in 0..Q {
                for v in 0..2 {
                    let bar = simd.max_f32s(limits[q], others[v]);
                    hits[q][v] = simd.less_than_or_equal_f32s(acc[q][v], bar);
                    any = simd.or_m32s(any, hits[q][v]);
                }
            }
            if simd.first_true_m32s(any) == lanes {
                continue;
            }
            for q in 0..Q {
                let hits = hits[q];
                if simd.first_true_m32s(simd.or_m32s(hits[0], hits[1])) == lanes {
                    continue;
                }
                for v in 0..2 {
                    let mut bits = lane_bits::<S>(hits[v]);
                    let values: &[f32] = bytemuck::cast_slice(std::slice::from_ref(&acc[q][v]));
                    while bits != 0 {
                        let lane = bits.trailing_zeros() as usize;
                        self.offer(first + q, g * width + v * lanes + lane, values[lane]);
                        bits &= bits - 1;
                    }
                }
                limits[q] = simd.splat_f32s(self.lists.own_limit(first + q));
            }
        }
    }
}

impl WithSimd for CrossTiles<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, simd: S) {
        for t in 0..self.lists.own.len().div_ceil(QUERY_TILE) {
            self.tile(simd, t);
        }
    }
}

/// How many rounds [`block_round`] makes of `blocks` blocks.
fn rounds(blocks: usize) -> usize {
    // the diagonal, then one round per nonzero XOR mask of the block numbers
    blocks.next_power_of_two()
}

/// Round `r` of the pairs of blocks `(a, b)`, `a ≤ b`: over rounds `0..rounds(blocks)` every
/// pair comes once, and the pairs of a round share no block (so that they can update their
/// rows' candidates in parallel). Round 0 is the diagonal; round `r > 0` pairs each block `a`
/// with block `a XOR r` (a perfect matching of the blocks numbered below the next power of two,
/// less the pairs past the end). Blocks in the k-d leaf order of [`spatial_order`] that differ
/// in the low bits of their numbers lie close together, so the early rounds pair near blocks.
/// That lowers the limits only a little sooner at 16 dimensions (89 rows taken per row at
/// k = 20 against 91 in the rounds of a round-robin tournament; times within the noise).
fn block_round(blocks: usize, r: usize) -> Vec<(usize, usize)> {
    if r == 0 {
        return (0..blocks).map(|b| (b, b)).collect();
    }
    (0..blocks)
        .map(|a| (a, a ^ r))
        .filter(|&(a, b)| a < b && b < blocks)
        .collect()
}

/// The `k` nearest other rows of every row of `x` (a row is not its own neighbour, duplicates
/// are), as [`k_nearest`] with `x` as reference and queries, but each pair's product
/// computed once: half the arithmetic. The rows are cut into blocks; a pair of blocks gives one
/// pass of fused tiles, whose values are offered to both blocks' rows ([`CrossTiles`]); the pairs
/// of one round share no block and run in parallel, each row's candidates in one place. The
/// limits and exact final distances are those of [`k_nearest`] (with one margin for all
/// pairs, the bound at the largest norm), so the result is the same. Where a few blocks' first
/// limits show that the f32 values cannot resolve the distances, the search runs on f64
/// products instead ([`brute_k_nearest_wide`]).
pub(super) fn self_nearest(x: ArrayView2<'_, f64>, k: usize) -> Neighbours {
    brute_self_nearest_on(Arch::new(), x, k, Widening::WhereNeeded)
}

/// Whether a search may turn to f64 products ([`brute_k_nearest_wide`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Widening {
    /// Where the f32 values cannot resolve the distances.
    WhereNeeded,
    /// Never (tests of the f32 path on data it cannot resolve).
    #[cfg(test)]
    Never,
}

/// [`self_nearest`] with the SIMD instructions of `arch` (tests compare the portable
/// scalar path with the processor's) and the given `widening`.
fn brute_self_nearest_on(
    arch: Arch,
    rows: ArrayView2<'_, f64>,
    k: usize,
    widening: Widening,
) -> Neighbours {
    let order = spatial_order(rows, SELF_BLOCK);
    let x = rows_in_order(rows, &order);
    let x = x.view();
    let n = x.nrows();
    let centring = Centring::new(x, None, true);
    let norms: Vec<f64> = (0..n)
        .into_par_iter()
        .with_min_len(1024)
        .map(|i| centring.norm(x.row(i)))
        .collect();
    let max_norm = norms.iter().fold(0.0_f64, |m, &v| m.max(v));
    // one margin for every pair: the bound at the largest norms
    let margin = tolerance(x.ncols()) * 3.0 * max_norm;
    let starts: Vec<usize> = (0..n).step_by(SELF_BLOCK).collect();
    let size = |b: usize| SELF_BLOCK.min(n - starts[b]);
    let blocks: Vec<(Mat<f32>, Mat<f32>)> = (0..starts.len())
        .into_par_iter()
        .map(|b| {
            (
                centring.reference_block(x, &norms, starts[b], size(b)),
                centring.query_block(x, starts[b], size(b)),
            )
        })
        .collect();
    let lists: Vec<Mutex<Vec<Candidates>>> = (0..starts.len())
        .map(|b| Mutex::new((0..size(b)).map(|_| Candidates::new(k)).collect()))
        .collect();
    let lock = |b: usize| lists[b].lock().unwrap_or_else(PoisonError::into_inner);
    // one product buffer per thread for the diagonal, made once
    let buffers: Vec<Mutex<Mat<f32>>> = (0..rayon::current_num_threads())
        .map(|_| Mutex::new(Mat::zeros(SELF_BLOCK, SELF_BLOCK)))
        .collect();
    // the block's own product holds both directions of every pair, and each row's first limit
    // comes from it
    let diagonal = |a: usize| {
        let mut own = lock(a);
        let thread = rayon::current_thread_index().unwrap_or(0) % buffers.len();
        let mut partial = buffers[thread]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let rows = size(a);
        matmul(
            partial.as_mut().submatrix_mut(0, 0, rows, rows),
            Accum::Replace,
            &blocks[a].0,
            &blocks[a].1,
            1.0,
            Par::Seq,
        );
        for (i, candidates) in own.iter_mut().enumerate() {
            arch.dispatch(CollectBelow {
                values: &partial.col_as_slice(i)[..rows],
                shift: norms[starts[a] + i],
                start: starts[a],
                skip: Some(i),
                margin,
                candidates,
            });
        }
    };
    // a few blocks spread over the order first: where their first limits show that the f32
    // values cannot resolve the distances, the search runs on f64 products instead
    let every = starts.len().div_ceil(RESOLUTION_BLOCKS).max(1);
    let (sample, rest): (Vec<usize>, Vec<usize>) = block_round(starts.len(), 0)
        .into_iter()
        .map(|(a, _)| a)
        .partition(|b| b % every == 0);
    sample.par_iter().for_each(|&a| diagonal(a));
    if widening == Widening::WhereNeeded && !resolves(&lists, &sample, margin) {
        return brute_k_nearest_wide(rows, rows, k, Some);
    }
    // the other blocks' own pairs are left to the integer tiles where the first pass's values
    // can bound the `k`-th nearest without them; else they run here first
    let late = if k <= INTEGER_DIAGONAL_MAX_K {
        rest
    } else {
        rest.into_par_iter().for_each(diagonal);
        Vec::new()
    };
    let mut seeded = vec![true; starts.len()];
    for &a in &late {
        seeded[a] = false;
    }
    // the pairs of blocks left: on 16-bit integers where that resolves the distances, else in
    // f32
    #[cfg(target_arch = "x86_64")]
    let on_integers = quantized::self_pairs(arch, x, &centring, &lists, &starts, &seeded, margin);
    #[cfg(not(target_arch = "x86_64"))]
    let on_integers = {
        let _no_integer_path = seeded;
        false
    };
    if !on_integers {
        late.into_par_iter().for_each(diagonal);
        let width = 2 * arch.dispatch(LaneCount);
        let panels: Vec<(Vec<f32>, Vec<f32>)> = blocks
            .par_iter()
            .map(|(reference, queries)| (pack_panel(reference, width), pack_query_tiles(queries)))
            .collect();
        distinct_rounds(&lists, &starts, margin, |a, b, lists| {
            let mut other_limits: Vec<f32> = lists.others.iter().map(|c| c.limit).collect();
            let features = x.ncols();
            other_limits.resize(panels[b].0.len() / (features + 1), f32::NEG_INFINITY);
            arch.dispatch(CrossTiles {
                query_tiles: &panels[a].1,
                panel: &panels[b].0,
                features,
                norms: &norms[starts[a]..starts[a] + size(a)],
                lists,
                other_limits: &mut other_limits,
            });
        });
    }
    let candidates: Vec<Candidates> = lists
        .into_iter()
        .flat_map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect();
    // rows finished in the spatial order, where a row's candidates lie near it in memory too
    // (the exact distances read fewer cold rows), each into its span of one width; the spans
    // are then listed in the caller's order
    let width = k.min(n.saturating_sub(1)).max(1);
    let mut distances = vec![0.0; n * width];
    let mut indices = vec![0; n * width];
    let mut lengths = vec![0; n];
    distances
        .par_chunks_mut(width)
        .zip(indices.par_chunks_mut(width))
        .zip(lengths.par_iter_mut())
        .zip(candidates.into_par_iter())
        .enumerate()
        .with_min_len(64)
        .for_each_init(Vec::new, |hits, (p, (((d, i), length), mut c))| {
            // cut back to the `k`-th first: a list holds up to its slack more, each an exact
            // distance from a cold row
            c.prune(margin);
            c.finish(hits, |j| (rows_distance_sq(x.row(p), x.row(j)), order[j]));
            put_run(hits, d, i);
            *length = hits.len().min(width);
        });
    let mut spans = vec![(0, 0); n];
    for (p, &row) in order.iter().enumerate() {
        spans[row] = (p * width, p * width + lengths[p]);
    }
    Neighbours {
        distances,
        indices,
        spans,
    }
}

/// Whether the f32 margin is at most [`MOST_F32_MARGIN`] of the tenth-percentile first limit of
/// the candidate lists of the blocks `sample` (`true` when none has a finite limit: nothing to
/// tell apart).
fn resolves(lists: &[Mutex<Vec<Candidates>>], sample: &[usize], margin: f64) -> bool {
    let limits: Vec<f32> = sample
        .iter()
        .flat_map(|&b| {
            let lists = lists[b].lock().unwrap_or_else(PoisonError::into_inner);
            lists.iter().map(|c| c.limit).collect::<Vec<_>>()
        })
        .collect();
    tenth_finite(limits).is_none_or(|tenth| margin <= MOST_F32_MARGIN * tenth)
}

/// The tenth-percentile finite limit, `None` if no limit is finite.
fn tenth_finite(mut limits: Vec<f32>) -> Option<f64> {
    limits.retain(|l| l.is_finite());
    let at = limits.len() / 10;
    (!limits.is_empty()).then(|| f64::from(*limits.select_nth_unstable_by(at, f32::total_cmp).1))
}

/// The rows of `x` in `order`, copied in parallel, a row at a time (ndarray's `select` here
/// made the KNN fit at 20,000 × 16 about 3 ms slower).
fn rows_in_order(x: ArrayView2<'_, f64>, order: &[usize]) -> ndarray::Array2<f64> {
    let d = x.ncols();
    let mut rows = vec![0.0; order.len() * d];
    rows.par_chunks_mut(d.max(1))
        .zip(order)
        .with_min_len(1024)
        .for_each(|(row, &r)| {
            for (to, from) in row.iter_mut().zip(x.row(r)) {
                *to = *from;
            }
        });
    ndarray::Array2::from_shape_vec((order.len(), d), rows)
        .unwrap_or_else(|_| x.select(ndarray::Axis(0), order))
}

/// Runs `pair(a, b, lists)` on every pair of distinct blocks `a < b` (the candidates of block
/// `b` in `lists[b]`, its rows from `starts[b]`), in the rounds of [`block_round`] after the
/// diagonal: the pairs of a round in parallel.
fn distinct_rounds(
    lists: &[Mutex<Vec<Candidates>>],
    starts: &[usize],
    margin: f64,
    pair: impl Fn(usize, usize, PairLists<'_>) + Sync,
) {
    let lock = |b: usize| lists[b].lock().unwrap_or_else(PoisonError::into_inner);
    for r in 1..rounds(starts.len()) {
        block_round(starts.len(), r)
            .into_par_iter()
            .for_each(|(a, b)| {
                let (mut own, mut others) = (lock(a), lock(b));
                let lists = PairLists {
                    own: &mut own,
                    others: &mut others,
                    query_start: starts[a],
                    row_start: starts[b],
                    margin,
                    diagonal: false,
                };
                pair(a, b, lists);
            });
    }
}

/// The rows in an order where consecutive blocks of `block` rows are close together: the leaves
/// of a k-d tree (Bentley 1975) split at a multiple of `block` near the median of the feature
/// with the largest spread, in the tree's order. Neighbours then tend to share a block, so the
/// first limits (from a row's own block) are tight and fewer rows are offered afterwards.
fn spatial_order(x: ArrayView2<'_, f64>, block: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..x.nrows()).collect();
    split(x, &mut order, block);
    order
}

/// Orders `rows` by recursive splits down to `block` rows (the left part always a multiple of
/// `block`, so that only the last leaf is short).
fn split(x: ArrayView2<'_, f64>, rows: &mut [usize], block: usize) {
    if rows.len() <= block {
        return;
    }
    // each row read once, whole (a pass per feature read every row sixteen times)
    let d = x.ncols();
    let (mut lo, mut hi) = (vec![f64::INFINITY; d], vec![f64::NEG_INFINITY; d]);
    for &r in rows.iter() {
        for ((l, h), &v) in lo.iter_mut().zip(hi.iter_mut()).zip(x.row(r)) {
            *l = l.min(v);
            *h = h.max(v);
        }
    }
    let widest = lo
        .iter()
        .zip(&hi)
        .enumerate()
        .fold((f64::NEG_INFINITY, 0), |best, (j, (l, h))| {
            if h - l > best.0 {
                (h - l, j)
            } else {
                best
            }
        })
        .1;
    let at = rows.len().div_ceil(2 * block) * block;
    // the selection on the feature's values next to their rows, not looked up in `x`
    let mut keyed: Vec<(f64, usize)> = rows.iter().map(|&r| (x[[r, widest]], r)).collect();
    keyed.select_nth_unstable_by(at, |a, b| a.0.total_cmp(&b.0));
    for (row, &(_, r)) in rows.iter_mut().zip(&keyed) {
        *row = r;
    }
    let (left, right) = rows.split_at_mut(at);
    rayon::join(|| split(x, left, block), || split(x, right, block));
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// [`lane_rank_bound`] with the SIMD instructions of the arch it is dispatched on.
    struct LaneBound<'a> {
        values: &'a [f32],
        k: usize,
        skip: Option<usize>,
    }

    impl WithSimd for LaneBound<'_> {
        type Output = (Option<f32>, usize);
        fn with_simd<S: Simd>(self, simd: S) -> (Option<f32>, usize) {
            (
                lane_rank_bound(simd, self.values, self.k, self.skip),
                S::F32_LANES,
            )
        }
    }

    #[test]
    fn lane_rank_bound_has_k_values_within_it() {
        for n in [6, 8, 9, 17, 64, 100, 256] {
            let values: Vec<f32> = (0..n)
                .map(|i| ((i * 7919 + 13) % 97) as f32 / 7.0 - if i % 5 == 0 { 9.0 } else { 0.0 })
                .collect();
            for k in [1, 2, 5, 8, 20, 33].into_iter().filter(|&k| k < n) {
                for skip in [None, Some(0), Some(n / 2), Some(n - 1)] {
                    for arch in [Arch::Scalar, Arch::new()] {
                        let (bound, lanes) = arch.dispatch(LaneBound {
                            values: &values,
                            k,
                            skip,
                        });
                        let ranks = k.div_ceil(lanes);
                        // value j goes to lane j % lanes, which keeps its `ranks` smallest
                        let mut kept: Vec<f32> = (0..lanes)
                            .flat_map(|l| {
                                let mut lane: Vec<f32> = (0..n)
                                    .filter(|&j| j % lanes == l && Some(j) != skip)
                                    .map(|j| values[j])
                                    .collect();
                                lane.sort_by(f32::total_cmp);
                                lane.truncate(ranks);
                                lane
                            })
                            .collect();
                        kept.sort_by(f32::total_cmp);
                        if ranks > LANE_RANKS || kept.len() < k {
                            assert_eq!(bound, None, "n {n}, k {k}, skip {skip:?}");
                            continue;
                        }
                        let bound = bound.expect("a bound");
                        assert_eq!(bound, kept[k - 1], "n {n}, k {k}, skip {skip:?}");
                        let within = (0..n)
                            .filter(|&j| Some(j) != skip && values[j] <= bound)
                            .count();
                        assert!(within >= k, "n {n}, k {k}, skip {skip:?}: {within} within");
                    }
                }
            }
        }
        // more ranks than kept: no bound
        let values = vec![1.0_f32; 1000];
        assert_eq!(
            Arch::Scalar
                .dispatch(LaneBound {
                    values: &values,
                    k: LANE_RANKS + 1,
                    skip: None
                })
                .0,
            None
        );
    }

    #[test]
    fn kth_smallest_matches_a_sort() {
        // lengths around the sample's 32 values and a block's 256, ties, a skipped row
        let spread = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * 7919 + 13) % 97) as f32 / 7.0 - if i % 5 == 0 { 9.0 } else { 0.0 })
                .collect()
        };
        // the strided sample (every 18th of 600) holds only the largest values (nearly all are
        // below the pivot), or only the smallest (fewer than k may be: the selection on all)
        let sampled = |large: bool| -> Vec<f32> {
            (0..600)
                .map(|i| i as f32 + if (i % 18 == 0) == large { 1000.0 } else { 0.0 })
                .collect()
        };
        let cases = [2, 3, 9, 31, 32, 33, 63, 100, 256, 257, 600]
            .map(spread)
            .into_iter()
            .chain([sampled(true), sampled(false)]);
        for values in cases {
            let n = values.len();
            for k in [1, 2, 5, 20, 300].into_iter().filter(|&k| k < n) {
                for skip in [None, Some(0), Some(n / 2), Some(n - 1)] {
                    let mut rest: Vec<f32> = (0..n)
                        .filter(|&j| Some(j) != skip)
                        .map(|j| values[j])
                        .collect();
                    rest.sort_by(f32::total_cmp);
                    let found = kth_smallest(&values, k, skip);
                    assert_eq!(found, rest[k - 1], "n {n}, k {k}, skip {skip:?}");
                }
            }
        }
    }

    #[test]
    fn hnsw_finds_most_true_neighbours() {
        let x = Array2::from_shape_fn((2000, 12), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1009) as f64 / 31.0
        });
        let exact = crate::neighbors::k_nearest_skipping(x.view(), x.view(), 5, Some);
        let approx = crate::neighbors::hnsw::k_nearest(x.view(), x.view(), 5, Some);
        let found: usize = (0..2000)
            .map(|i| {
                approx
                    .indices(i)
                    .iter()
                    .filter(|j| exact.indices(i).contains(j))
                    .count()
            })
            .sum();
        let recall = found as f64 / 10_000.0;
        assert!(recall > 0.9, "recall {recall}");
        assert!((0..2000).all(|i| !approx.indices(i).contains(&i)));
    }

    #[test]
    fn tree_and_brute_force_agree() {
        let x = Array2::from_shape_fn((3000, 3), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1009) as f64 / 31.0
        });
        let tree = crate::neighbors::k_nearest_skipping(x.view(), x.view(), 5, Some);
        let brute = k_nearest(x.view(), x.view(), 5, Some);
        for i in 0..3000 {
            for r in 0..5 {
                assert!(
                    (tree.distances(i)[r] - brute.distances(i)[r]).abs() < 1e-9,
                    "row {i}"
                );
            }
            assert!(!tree.indices(i).contains(&i));
        }
    }

    /// Every row's `k` nearest by sorting all exact distances (ties by index).
    fn naive(reference: &Array2<f64>, queries: &Array2<f64>, k: usize, own: bool) -> Neighbours {
        let runs: Vec<Vec<(f64, usize)>> = queries
            .rows()
            .into_iter()
            .enumerate()
            .map(|(i, q)| {
                let mut d: Vec<(f64, usize)> = reference
                    .rows()
                    .into_iter()
                    .enumerate()
                    .filter(|&(j, _)| !(own && j == i))
                    .map(|(j, r)| (q.iter().zip(r).map(|(a, b)| (a - b) * (a - b)).sum(), j))
                    .collect();
                d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                d.truncate(k);
                d
            })
            .collect();
        Neighbours::from_runs(&runs)
    }

    fn assert_same(found: &Neighbours, expected: &Neighbours) {
        assert_eq!(found.queries(), expected.queries());
        for i in 0..expected.queries() {
            let (d, e) = (found.distances(i), expected.distances(i));
            assert_eq!(d.len(), e.len(), "row {i}");
            for (a, b) in d.iter().zip(e) {
                assert!((a - b).abs() <= 1e-12 * b.max(1.0), "row {i}: {a} vs {b}");
            }
            // where distances tie, the order among the tied rows is free
            if d.windows(2).all(|w| w[0] < w[1]) {
                assert_eq!(found.indices(i), expected.indices(i), "row {i}");
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
        assert_all_paths(&reference, 6);
        let far = Array2::from_shape_fn((40, 12), |(i, j)| {
            if i % 2 == 0 {
                1e6 + (i * j) as f64 * 1e-4
            } else {
                -3e9 * (i + j) as f64
            }
        });
        let expected = naive(&reference, &far, 3, false);
        assert_same(
            &k_nearest(reference.view(), far.view(), 3, |_| None),
            &expected,
        );
        let f32_sweep = brute_k_nearest_on(Arch::new(), reference.view(), far.view(), 3, |_| None);
        assert_same(&f32_sweep, &expected);
        let wide = brute_k_nearest_wide(reference.view(), far.view(), 3, |_| None);
        assert_same(&wide, &expected);
        // two clusters 2,000 apart, 0.01 between neighbours: after centring the norms are about
        // 10⁷ and the squared distances 10⁻⁴, far below f32's resolution of the expansion
        let clusters = Array2::from_shape_fn((600, 10), |(i, j)| {
            let side = if i % 2 == 0 { 1e3 } else { -1e3 };
            side + ((i * 31 + j * 17) % 97) as f64 * 1e-2
        });
        assert_all_paths(&clusters, 4);
        // heavy tails (ADBench's PageBlocks: norms 10⁷ times the neighbours' squared distances):
        // rows on a grid of unit steps, every 40th 10⁴ times as far out
        let heavy = Array2::from_shape_fn((2000, 10), |(i, j)| {
            let v = ((i * 7919 + j * 104_729) % 1009) as f64 + (i % 13) as f64 * 0.37;
            if i % 40 == 0 {
                v * 1e4
            } else {
                v
            }
        });
        assert_all_paths(&heavy, 5);
        // the f32 margin is a fifth of the neighbours' squared distances in the first case,
        // beyond them in the next two; well below them for rows of one scale
        let plain = Array2::from_shape_fn((1200, 8), |(i, j)| {
            (((i * 7919 + j * 104_729) % 1009) as f64 / 97.0).sin()
        });
        let cases = [
            (&reference, false),
            (&clusters, false),
            (&heavy, false),
            (&plain, true),
        ];
        for (x, resolved) in cases {
            let skip = |q: usize| Some(q);
            assert_eq!(sweep_resolves(x.view(), x.view(), 4, &skip), resolved);
        }
    }

    /// The self search, the query sweep and the f64 search — each on f32 products only and
    /// where needed on f64 — give the naive search's neighbours of every row of `x`.
    fn assert_all_paths(x: &Array2<f64>, k: usize) {
        let expected = naive(x, x, k, true);
        let paths = [
            k_nearest(x.view(), x.view(), k, Some),
            brute_k_nearest_on(Arch::new(), x.view(), x.view(), k, Some),
            brute_k_nearest_wide(x.view(), x.view(), k, Some),
            self_nearest(x.view(), k),
            brute_self_nearest_on(Arch::new(), x.view(), k, Widening::Never),
        ];
        for (path, found) in paths.iter().enumerate() {
            assert_eq!(found.queries(), x.nrows(), "path {path}");
            assert_same(found, &expected);
        }
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
        for nb in [
            k_nearest(x.view(), x.view(), 3, Some),
            self_nearest(x.view(), 3),
        ] {
            assert_eq!(nb.indices(0), vec![1, 2, 3]);
            assert_eq!(nb.indices(599), vec![0, 1, 2]);
            assert!(nb.distances(5).iter().all(|&v| v == 0.0));
            assert_same(&nb, &naive(&x, &x, 3, true));
        }
    }

    #[test]
    fn every_pair_of_blocks_once_in_rounds_of_disjoint_pairs() {
        for blocks in 0..40 {
            let mut seen = std::collections::BTreeSet::new();
            for r in 0..rounds(blocks) {
                let mut used = std::collections::BTreeSet::new();
                for (a, b) in block_round(blocks, r) {
                    assert!(a <= b && b < blocks);
                    assert!(seen.insert((a, b)), "{blocks} blocks: ({a}, {b}) twice");
                    assert!(used.insert(a) && (a == b || used.insert(b)));
                }
            }
            assert_eq!(seen.len(), blocks * (blocks + 1) / 2, "{blocks} blocks");
        }
    }

    #[test]
    fn each_pair_once_equals_every_query_against_every_row() {
        // 1,100 rows: four full blocks and a short one; k beyond the short block's size too
        let x = Array2::from_shape_fn((1100, 16), |(i, j)| {
            (((i * 7919 + j * 104_729) % 1009) as f64 / 97.0).sin() * 3.0 + (i % 7) as f64
        });
        for k in [1, 5, 20, 90] {
            let expected = naive(&x, &x, k, true);
            assert_same(&self_nearest(x.view(), k), &expected);
            assert_same(
                &crate::neighbors::self_nearest(crate::neighbors::Search::Exact, x.view(), k),
                &expected,
            );
            // one-lane vectors (tiles of two rows): the portable path of machines without SIMD
            let scalar = brute_self_nearest_on(Arch::Scalar, x.view(), k, Widening::WhereNeeded);
            assert_same(&scalar, &expected);
            let scalar = brute_k_nearest_on(Arch::Scalar, x.view(), x.view(), k, Some);
            assert_same(&scalar, &expected);
        }
    }

    #[test]
    fn self_search_equals_every_pair_on_each_kernel() {
        // 3,000 rows of 16 roughly standard normal features (sums of twelve uniforms from a
        // SplitMix64 stream), every hundredth shifted: twelve blocks, the integer tiles and the
        // first pass over near blocks
        let x = Array2::from_shape_fn((3000, 16), |(i, j)| {
            let uniform = |s: usize| {
                let mut h = (((i * 16 + j) * 12 + s) as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
                h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                (h ^ (h >> 31)) as f64 / u64::MAX as f64
            };
            let v: f64 = (0..12).map(uniform).sum::<f64>() - 6.0;
            if i % 100 == 0 {
                v + 4.0
            } else {
                v
            }
        });
        let mut arches = vec![Arch::new()];
        #[cfg(target_arch = "x86_64")]
        arches.extend(pulp::x86::V3::try_new().map(Arch::V3));
        for k in [1, 5, 20, 37] {
            let expected = naive(&x, &x, k, true);
            for &arch in &arches {
                let found = brute_self_nearest_on(arch, x.view(), k, Widening::Never);
                assert_same(&found, &expected);
            }
        }
    }

    #[test]
    fn equals_brute_force() {
        let x = Array2::from_shape_fn((700, 3), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1000) as f64 / 97.0
        });
        let nb = crate::neighbors::k_nearest_skipping(x.view(), x.view(), 4, Some);
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
                    (nb.distances(i)[r] - expected).abs() < 1e-9,
                    "row {i} rank {r}"
                );
            }
        }
    }
}
