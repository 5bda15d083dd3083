//! The pairs of blocks of the self search ([`super::self_nearest`]) on 16-bit
//! integers, where the processor has AVX2: `vpmaddwd` multiplies sixteen pairs of 16-bit values
//! and adds them pairwise in one instruction, so a tile takes two coordinates per multiply-add
//! where f32 takes one (1.6× the pairs per second on the machine of docs/performance-notes.md, measured
//! on the bare loops). With AVX-512 and VNNI a group of sixteen rows fills one vector and
//! `vpdpwssd` also adds the products onto the sums: one instruction per query row and
//! coordinate pair for sixteen pairs of rows, a quarter of AVX2's.
//!
//! Before the offers, a first pass ([`LaneTops`]) runs each block against its nearest blocks
//! (by the centres of their rows), and against itself where its own pairs are left to the
//! integer tiles, and keeps, per query row and SIMD lane, the two smallest values (a row's own
//! value left out): the `k`-th smallest of those and of the row's candidates so far bounds its
//! `k`-th nearest, so the row's limit starts close to its final value. Rows taken in no
//! particular order lower a limit only step by step (about `k·ln(m/k)` of `m` rows are taken);
//! the first pass costs a few blocks' arithmetic and takes none.
//!
//! The centred rows are rounded to integers of magnitude at most `M = ⌊√((2³¹ − 1) / 4d)⌋`
//! (at most 2¹⁴ − 1, so that `−2 q` fits 16 bits; the largest centred value maps to `M`), so
//! that every squared distance of two rounded rows, `‖q‖² + ‖r‖² − 2 q·r`, is an exact `i32`
//! (partial sums may wrap; the result does not). Such a value is the squared distance of the
//! rounded rows: its root is within `‖δ_q‖ + ‖δ_r‖ ≤ √d` units of the true distance (the
//! triangle inequality, `δ` a row's rounding, at most ½ per coordinate), and the candidates
//! widen their limits by that spread ([`super::Candidates::widen`]). The result stays the exact
//! search's; only the preselection is coarser (a `2·spread / distance` more of the distance is
//! let in).
//! Where that is too coarse — values spread over a range far wider than the neighbours'
//! distances — [`Quantizer::new`] declines and the f32 tiles run.

use super::{Candidates, Centring, PairLists};
use ndarray::ArrayView2;
use pulp::x86::V3;
use pulp::{i16x16, i32x8, m32x8, Arch, Simd};
use rayon::prelude::*;
use std::arch::x86_64::__m512i;
use std::sync::{Mutex, PoisonError};

/// Rows of a tile of [`IntTiles`]: twelve accumulators with the group's two vectors (tiles of
/// four and five rows, which spill less, measured no faster).
const TILE: usize = 6;
/// How many of a block's nearest blocks (by centre) the first pass reads for `k` neighbours:
/// each row's limit then starts near its `k`-th neighbour's value, and the offers after it are
/// fewer. The offers it saves grow with `k` (a row takes about `k·ln(m/k)` of `m` rows seen in
/// no particular order), its cost does not: twelve blocks at `k` = 20 (20,000 × 16 standard
/// normal rows: 37 offers a row after the own block instead of 65), fewer below.
fn near_count(k: usize) -> usize {
    (12 * k).div_ceil(20).min(12)
}
/// The smallest values the first pass keeps per lane (two per lane of a group): any `k` of
/// them bound the `k`-th nearest.
const LANE_TOPS: usize = 2 * WIDTH;
/// Rows of a tile of the AVX-512 kernel: one accumulator per row (of 32 registers).
const WIDE_TILE: usize = 16;
/// Rows of a part of a tile in the first pass on 512-bit vectors: an accumulator and two
/// kept vectors per row.
const WIDE_PART: usize = 8;
/// Rows of a part of a tile in the first pass on 256-bit vectors (six vectors per row).
const NARROW_PART: usize = 2;
/// Rows per panel group: two vectors of eight `i32` lanes, or one of sixteen.
const WIDTH: usize = 16;
/// `‖r‖²` of the padding rows of tiles and panels: padding rows are never offered, so it only
/// has to keep every sum in range (real norms are at most `d·M² ≤ 2²⁹`).
const PADDING_NORM: i32 = 1 << 29;
/// The most the spread may add to the candidates let in: `2·d·spread / distance` at the tenth
/// percentile of the first limits (the relative growth of a ball's volume).
const MOST_EXTRA: f64 = 0.1;

/// Runs the pairs of blocks (blocks starting at `starts`, the candidates `lists`) on integers,
/// where the processor has AVX2 (`arch` as the caller dispatches on) and the rounding resolves
/// the distances the first limits of the `seeded` blocks show (those whose own pairs were
/// offered already): the first pass, the other blocks' own pairs, then the pairs of distinct
/// blocks in rounds; `false` (nothing done) otherwise.
pub(super) fn self_pairs(
    arch: Arch,
    x: ArrayView2<'_, f64>,
    centring: &Centring,
    lists: &[Mutex<Vec<Candidates>>],
    starts: &[usize],
    seeded: &[bool],
    margin: f64,
) -> bool {
    // AVX-512 where the caller dispatches on it (tests run the AVX2 kernel by asking for it)
    let kernel = match arch {
        Arch::Scalar => None,
        Arch::V3(simd) => Some(Kernel::Narrow(simd)),
        _ => Wide::try_new()
            .map(Kernel::Wide)
            .or_else(|| V3::try_new().map(Kernel::Narrow)),
    };
    let Some(kernel) = kernel else {
        return false;
    };
    let tile = kernel.tile_rows();
    let lock = |b: usize| lists[b].lock().unwrap_or_else(PoisonError::into_inner);
    let limits = (0..lists.len()).flat_map(|b| lock(b).iter().map(|c| c.limit).collect::<Vec<_>>());
    let Some(quantizer) = Quantizer::new(x, centring, limits.collect()) else {
        return false;
    };
    for b in 0..lists.len() {
        for candidates in lock(b).iter_mut() {
            candidates.set_spread(quantizer.spread, margin);
        }
    }
    let packed: Vec<(Vec<i32>, Vec<i32>)> = (0..starts.len())
        .into_par_iter()
        .map(|b| {
            let rows = lock(b).len();
            (
                quantizer.panel(starts[b], rows),
                quantizer.tiles(starts[b], rows, tile),
            )
        })
        .collect();
    // first pass: each row's limit from its block's nearest blocks, before any offer
    let k = (0..lists.len())
        .find_map(|b| lock(b).first().map(|c| c.k))
        .unwrap_or(1);
    let near = near_blocks(&quantizer, starts, lists.len(), near_count(k));
    // (each block's own lock only: another's might be held by a thread waiting for this one)
    let sizes: Vec<usize> = (0..lists.len()).map(|b| lock(b).len()).collect();
    (0..starts.len()).into_par_iter().for_each(|a| {
        let mut own = lock(a);
        let rows = own.len();
        let mut tops = vec![NONE_KEPT; rows];
        // its own block's values, where they are not among the candidates yet
        let own_block = (!seeded[a]).then_some(a);
        for &b in near[a].iter().chain(&own_block) {
            let pass = LaneTops {
                pairs: quantizer.pairs,
                query_tiles: &packed[a].1,
                panel: &packed[b].0,
                panel_rows: sizes[b],
                diagonal: a == b,
                norms: &quantizer.norms[starts[a]..starts[a] + rows],
                tops: &mut tops,
            };
            pass.run(kernel);
        }
        let mut scratch = Vec::with_capacity(LANE_TOPS + 2 * k);
        for (candidates, row) in own.iter_mut().zip(&tops) {
            let values = row.iter().filter(|&&v| v != i32::MAX);
            candidates.bound_by(values.map(|&v| quantizer.to_f32(v)), &mut scratch, margin);
        }
    });
    // the blocks' own pairs not offered yet, each row's own row left out
    (0..starts.len())
        .into_par_iter()
        .filter(|&a| !seeded[a])
        .for_each(|a| {
            let mut own = lock(a);
            let rows = own.len();
            let mut no_bars = vec![i32::MIN; rows.next_multiple_of(WIDTH)];
            let tiles = IntTiles {
                quantizer: &quantizer,
                query_tiles: &packed[a].1,
                panel: &packed[a].0,
                norms: &quantizer.norms[starts[a]..starts[a] + rows],
                lists: PairLists::own_block(&mut own, starts[a], margin),
                other_bars: &mut no_bars,
            };
            tiles.run(kernel);
        });
    super::distinct_rounds(lists, starts, margin, |a, b, lists| {
        let mut other_bars: Vec<i32> = lists
            .others
            .iter()
            .map(|c| quantizer.bar(c.limit))
            .collect();
        other_bars.resize(lists.others.len().next_multiple_of(WIDTH), i32::MIN);
        let rows = lists.own.len();
        let tiles = IntTiles {
            quantizer: &quantizer,
            query_tiles: &packed[a].1,
            panel: &packed[b].0,
            norms: &quantizer.norms[starts[a]..starts[a] + rows],
            lists,
            other_bars: &mut other_bars,
        };
        tiles.run(kernel);
    });
    true
}

/// For each of the `blocks` blocks (rows from `starts`), the `most` other blocks whose centres
/// (of the rounded rows) are nearest to its own.
fn near_blocks(
    quantizer: &Quantizer,
    starts: &[usize],
    blocks: usize,
    most: usize,
) -> Vec<Vec<usize>> {
    let width = 2 * quantizer.pairs;
    let centres: Vec<Vec<f64>> = (0..blocks)
        .into_par_iter()
        .map(|b| {
            let end = starts.get(b + 1).copied().unwrap_or(quantizer.norms.len());
            let mut centre = vec![0.0; width];
            for row in quantizer.values[starts[b] * width..end * width].chunks_exact(width) {
                for (c, &v) in centre.iter_mut().zip(row) {
                    *c += f64::from(v);
                }
            }
            let count = (end - starts[b]).max(1) as f64;
            centre.iter().map(|c| c / count).collect()
        })
        .collect();
    (0..blocks)
        .into_par_iter()
        .map(|a| {
            let mut others: Vec<(f64, usize)> = (0..blocks)
                .filter(|&b| b != a)
                .map(|b| {
                    let d2 = centres[a]
                        .iter()
                        .zip(&centres[b])
                        .map(|(x, y)| (x - y) * (x - y))
                        .sum::<f64>();
                    (d2, b)
                })
                .collect();
            let most = most.min(others.len());
            if most < others.len() {
                others.select_nth_unstable_by(most, |x, y| x.0.total_cmp(&y.0));
            }
            others.truncate(most);
            others.into_iter().map(|(_, b)| b).collect()
        })
        .collect()
}

pulp::simd_type! {
    /// AVX-512 with its 16-bit dot product (VNNI): `vpdpwssd` multiplies thirty-two pairs of
    /// 16-bit values, adds them pairwise and onto sixteen `i32` sums in one instruction (the
    /// compiler fuses `vpmaddwd` and the addition into it where the feature is on).
    struct Wide {
        pub sse: "sse",
        pub sse2: "sse2",
        pub fxsr: "fxsr",
        pub sse3: "sse3",
        pub ssse3: "ssse3",
        pub sse4_1: "sse4.1",
        pub sse4_2: "sse4.2",
        pub popcnt: "popcnt",
        pub avx: "avx",
        pub avx2: "avx2",
        pub bmi1: "bmi1",
        pub bmi2: "bmi2",
        pub fma: "fma",
        pub lzcnt: "lzcnt",
        pub avx512f: "avx512f",
        pub avx512bw: "avx512bw",
        pub avx512vl: "avx512vl",
        pub avx512vnni: "avx512vnni",
    }
}

/// The tile kernel the processor runs.
#[derive(Clone, Copy)]
enum Kernel {
    /// 512-bit vectors, a group of [`WIDTH`] rows in one, [`WIDE_TILE`] query rows a tile.
    Wide(Wide),
    /// 256-bit vectors (AVX2), a group in two, [`TILE`] query rows a tile.
    Narrow(V3),
}

impl Kernel {
    /// What the kernel runs on (test messages).
    #[cfg(test)]
    fn name(self) -> &'static str {
        match self {
            Kernel::Wide(_) => "AVX-512",
            Kernel::Narrow(_) => "AVX2",
        }
    }

    /// Query rows per tile.
    fn tile_rows(self) -> usize {
        match self {
            Kernel::Wide(_) => WIDE_TILE,
            Kernel::Narrow(_) => TILE,
        }
    }

    /// Every tile of `work`'s `rows` query rows, on this kernel's vector unit.
    fn run<W>(self, work: W, rows: usize)
    where
        Tiles<W, Wide>: pulp::NullaryFnOnce<Output = ()>,
        Tiles<W, V3>: pulp::NullaryFnOnce<Output = ()>,
    {
        let count = rows.div_ceil(self.tile_rows());
        match self {
            Kernel::Wide(simd) => simd.vectorize(Tiles { work, simd, count }),
            Kernel::Narrow(simd) => simd.vectorize(Tiles { work, simd, count }),
        }
    }
}

/// The rows as integers, and how their squared distances become values of the f32 units.
struct Quantizer {
    /// f32 value units (centred, divided by [`Centring`]'s scale, squared) per squared integer
    /// unit.
    gamma: f64,
    /// `1 / gamma`, a little more (bars err on the generous side).
    per_gamma: f64,
    /// How far a value's square root may be from the true distance, in f32 units.
    spread: f64,
    /// Coordinate pairs per row (the last one padded with a 0 for an odd count).
    pairs: usize,
    /// The rounded rows, `2·pairs` values each.
    values: Vec<i16>,
    /// `‖r‖²` of each rounded row.
    norms: Vec<i32>,
}

impl Quantizer {
    /// `x`'s rows centred by `centring` and rounded, if the rounding resolves the distances
    /// the candidates' `limits` show: `None` if it would let more than [`MOST_EXTRA`] more rows
    /// in than the f32 values (judged at the tenth percentile of the limits, by the growth of a
    /// ball's volume, `2·d·spread / distance`), or without a finite spread of the values, or
    /// for more features than 16 bits leave room for.
    fn new(x: ArrayView2<'_, f64>, centring: &Centring, limits: Vec<f32>) -> Option<Self> {
        let features = x.ncols();
        let most = ((f64::from(i32::MAX) / (4.0 * features as f64))
            .sqrt()
            .floor())
        .min(16_383.0);
        let largest = centring.largest;
        if most < 64.0 || !(largest > 0.0 && largest.is_finite()) {
            return None;
        }
        let per_unit = most / largest;
        let unit = 1.0 / (per_unit * centring.scale);
        // each coordinate within half a unit (and f64's rounding of the products), two rows
        let spread = ((features as f64).sqrt() * (1.0 + 1e-9) + 1e-6) * unit;
        let tenth = super::tenth_finite(limits)?;
        if 2.0 * features as f64 * spread > MOST_EXTRA * tenth.max(0.0).sqrt() {
            return None;
        }
        let pairs = features.div_ceil(2);
        let mut values = vec![0_i16; x.nrows() * 2 * pairs];
        values
            .par_chunks_mut(2 * pairs)
            .enumerate()
            .for_each(|(i, rounded)| {
                for ((r, v), c) in rounded.iter_mut().zip(x.row(i)).zip(&centring.center) {
                    // to the nearest integer (half away from 0; `as` truncates)
                    let exact = (v - c) * per_unit;
                    *r = (exact + 0.5_f64.copysign(exact)) as i16;
                }
            });
        let norms = values
            .par_chunks(2 * pairs)
            .map(|row| row.iter().map(|&v| i32::from(v) * i32::from(v)).sum())
            .collect();
        Some(Quantizer {
            gamma: unit * unit,
            per_gamma: (1.0 + 1e-6) / (unit * unit),
            spread,
            pairs,
            values,
            norms,
        })
    }

    /// Coordinates `2p` and `2p + 1` of `row`, each times `factor`, as one `i32` word of two
    /// `i16` halves (the lower one first, as `vpmaddwd` pairs them).
    fn word(&self, row: usize, p: usize, factor: i16) -> i32 {
        let at = row * 2 * self.pairs + 2 * p;
        let half = |v: i16| u32::from((factor * v) as u16);
        (half(self.values[at]) | (half(self.values[at + 1]) << 16)) as i32
    }

    /// Rows `start..start + rows` as the panel of [`IntTiles`]: groups of [`WIDTH`] rows, each
    /// a line of the rows' words per coordinate pair, then a line of their norms (padding rows:
    /// zeros and [`PADDING_NORM`]).
    fn panel(&self, start: usize, rows: usize) -> Vec<i32> {
        let end = start + rows;
        let mut packed = Vec::with_capacity(rows.div_ceil(WIDTH) * (self.pairs + 1) * WIDTH);
        for group in (start..end).step_by(WIDTH) {
            for p in 0..self.pairs {
                packed.extend((group..group + WIDTH).map(|r| {
                    if r < end {
                        self.word(r, p, 1)
                    } else {
                        0
                    }
                }));
            }
            packed.extend((group..group + WIDTH).map(|r| {
                if r < end {
                    self.norms[r]
                } else {
                    PADDING_NORM
                }
            }));
        }
        packed
    }

    /// Rows `start..start + rows` as the query tiles of [`IntTiles`]: tiles of `tile` rows, a
    /// line of their words of `−2 q` per coordinate pair (`2M` fits 16 bits).
    fn tiles(&self, start: usize, rows: usize, tile: usize) -> Vec<i32> {
        let mut packed = Vec::with_capacity(rows.div_ceil(tile) * self.pairs * tile);
        for first in (start..start + rows).step_by(tile) {
            for p in 0..self.pairs {
                packed.extend((first..first + tile).map(|r| {
                    if r < start + rows {
                        self.word(r, p, -2)
                    } else {
                        0
                    }
                }));
            }
        }
        packed
    }

    /// The integer bar of a limit: a value `v` is offered when `v < bar`, i.e. when its f32
    /// value may be within the limit (rounded generously: a value a little over the limit is
    /// cut at the next cut-back).
    fn bar(&self, limit: f32) -> i32 {
        // truncated (`as` saturates at ±∞): at or above the floor
        let units = ((f64::from(limit) * self.per_gamma) as i64).saturating_add(1);
        units.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }

    /// An integer squared distance in f32 units (within half the f32 margin: one rounding).
    fn to_f32(&self, value: i32) -> f32 {
        (f64::from(value) * self.gamma) as f32
    }
}

/// One pair of distinct blocks in both directions, as [`super::CrossTiles`] but on integers:
/// a tile of rows of block `a` and a group of [`WIDTH`] rows of block `b` sum `vpmaddwd`
/// products of `−2 q` and `r` onto `‖q‖² + ‖r‖²`, and only a group with a value below either
/// row's bar goes through the offers. (Filtering a group by its columns' and rows' smallest
/// values first measured no faster.)
struct IntTiles<'a> {
    quantizer: &'a Quantizer,
    /// Block `a`'s rows packed by [`Quantizer::tiles`] (tiles of the kernel's size).
    query_tiles: &'a [i32],
    /// Block `b`'s rows packed by [`Quantizer::panel`].
    panel: &'a [i32],
    /// `‖q‖²` of block `a`'s rounded rows.
    norms: &'a [i32],
    lists: PairLists<'a>,
    /// The bars of `lists.others` ([`Quantizer::bar`]), kept up to date; `i32::MIN` past the
    /// block's end.
    other_bars: &'a mut [i32],
}

impl IntTiles<'_> {
    /// Row `i`'s bar, `i32::MIN` (nothing below) for a padding row.
    fn own_bar(&self, i: usize) -> i32 {
        if i < self.lists.own.len() {
            self.quantizer.bar(self.lists.own_limit(i))
        } else {
            i32::MIN
        }
    }

    /// Offers the pair (row `i` of block `a`, row `j` of block `b`) at integer value `value`;
    /// whether row `i` took it.
    #[inline(always)]
    fn offer(&mut self, i: usize, j: usize, value: i32) -> bool {
        let (own, other) = self.lists.offer(i, j, self.quantizer.to_f32(value));
        if other {
            self.other_bars[j] = self.quantizer.bar(self.lists.others[j].limit);
        }
        own
    }

    /// Offers query row `first + q`'s values `values` of group `g` in the lanes of `bits`
    /// (those below either row's bar), then refreshes the row's bar in `bars[q]` if it took one.
    #[inline(always)]
    fn offer_lanes(
        &mut self,
        first: usize,
        q: usize,
        g: usize,
        mut bits: u32,
        values: &[i32],
        bars: &mut [i32],
    ) {
        let mut took = false;
        while bits != 0 {
            let lane = bits.trailing_zeros() as usize;
            took |= self.offer(first + q, g * WIDTH + lane, values[lane]);
            bits &= bits - 1;
        }
        if took {
            bars[q] = self.own_bar(first + q);
        }
    }

    /// Every tile of block `a` on `kernel`.
    fn run(self, kernel: Kernel) {
        let rows = self.lists.own.len();
        kernel.run(self, rows);
    }

    /// Tile `t` of block `a` (its rows `t·Q..t·Q + Q`) against every group of block `b`, a
    /// group in two vectors of eight lanes.
    #[inline(always)]
    fn narrow_tile(&mut self, simd: V3, t: usize) {
        const Q: usize = TILE;
        let pairs = self.quantizer.pairs;
        let first = t * Q;
        let words = tile_words(self.query_tiles, pairs, Q, t);
        let norms = narrow_norms::<Q>(simd, self.norms, first);
        let mut bars: [i32; Q] = std::array::from_fn(|q| self.own_bar(first + q));
        let (groups, _) = V3::as_simd_i32s(self.panel);
        for (g, group) in groups.chunks_exact(2 * (pairs + 1)).enumerate() {
            let acc = narrow_sums(simd, &norms, group, words, Q, 0);
            let span = g * WIDTH..(g + 1) * WIDTH;
            let (other, _) = V3::as_simd_i32s(&self.other_bars[span]);
            let other = [other[0], other[1]];
            // lanes within the query's limit or the row's, as bits (eight per vector)
            let mut bits = [0_u32; Q];
            for q in 0..Q {
                let own = simd.splat_i32x8(bars[q]);
                for v in 0..2 {
                    let mask: m32x8 = simd.cmp_lt_i32x8(acc[q][v], simd.max_i32x8(own, other[v]));
                    bits[q] |= (simd.avx._mm256_movemask_ps(pulp::cast(mask)) as u32) << (8 * v);
                }
            }
            if bits.iter().all(|&b| b == 0) {
                continue;
            }
            for q in 0..Q {
                if bits[q] != 0 {
                    let values: &[i32] = bytemuck::cast_slice(&acc[q]);
                    self.offer_lanes(first, q, g, bits[q], values, &mut bars);
                }
            }
        }
    }

    /// As [`IntTiles::narrow_tile`], a group in one vector of sixteen lanes: one fused
    /// multiply-add instruction per query row and coordinate pair, and the comparisons give bit
    /// masks directly.
    #[inline(always)]
    fn wide_tile(&mut self, simd: Wide, t: usize) {
        const Q: usize = WIDE_TILE;
        let f = simd.avx512f;
        let pairs = self.quantizer.pairs;
        let first = t * Q;
        let words = tile_words(self.query_tiles, pairs, Q, t);
        let norms = wide_norms::<Q>(simd, self.norms, first);
        let mut bars: [i32; Q] = std::array::from_fn(|q| self.own_bar(first + q));
        let lines: &[[i32; WIDTH]] = bytemuck::cast_slice(self.panel);
        for (g, group) in lines.chunks_exact(pairs + 1).enumerate() {
            let acc = wide_sums(simd, &norms, group, words, Q, 0);
            let other_lines: &[[i32; WIDTH]] = bytemuck::cast_slice(&*self.other_bars);
            let other: __m512i = pulp::cast(other_lines[g]);
            // within the query's limit or the row's
            let mut bits = [0_u16; Q];
            for q in 0..Q {
                let bar = f._mm512_max_epi32(f._mm512_set1_epi32(bars[q]), other);
                bits[q] = f._mm512_cmplt_epi32_mask(acc[q], bar);
            }
            if bits.iter().all(|&b| b == 0) {
                continue;
            }
            for q in 0..Q {
                if bits[q] != 0 {
                    let values: [i32; WIDTH] = pulp::cast(acc[q]);
                    self.offer_lanes(first, q, g, u32::from(bits[q]), &values, &mut bars);
                }
            }
        }
    }
}

/// `count` tiles of `work` on the vector unit `simd`: the body of a `vectorize` call. A struct
/// whose `call` is always inlined, and no closure around an intrinsic anywhere below it: a
/// closure is a function of its own that lacks the vector features `vectorize` enables unless
/// the compiler chooses to inline it, and when it did not, every intrinsic became an
/// out-of-line call (the self search measured 25× slower, from an unrelated change elsewhere in
/// the crate).
struct Tiles<W, S> {
    work: W,
    simd: S,
    count: usize,
}

impl pulp::NullaryFnOnce for Tiles<IntTiles<'_>, Wide> {
    type Output = ();
    #[inline(always)]
    fn call(mut self) {
        for t in 0..self.count {
            self.work.wide_tile(self.simd, t);
        }
    }
}

impl pulp::NullaryFnOnce for Tiles<IntTiles<'_>, V3> {
    type Output = ();
    #[inline(always)]
    fn call(mut self) {
        for t in 0..self.count {
            self.work.narrow_tile(self.simd, t);
        }
    }
}

impl pulp::NullaryFnOnce for Tiles<LaneTops<'_>, Wide> {
    type Output = ();
    #[inline(always)]
    fn call(mut self) {
        for t in 0..self.count {
            for part in 0..WIDE_TILE / WIDE_PART {
                self.work.wide_part(self.simd, t, part);
            }
        }
    }
}

impl pulp::NullaryFnOnce for Tiles<LaneTops<'_>, V3> {
    type Output = ();
    #[inline(always)]
    fn call(mut self) {
        for t in 0..self.count {
            for part in 0..TILE / NARROW_PART {
                self.work.narrow_part(self.simd, t, part);
            }
        }
    }
}

/// The norms of query rows `first..first + R` (padding past the end), one per vector.
#[inline(always)]
fn wide_norms<const R: usize>(simd: Wide, norms: &[i32], first: usize) -> [__m512i; R] {
    let mut out = [pulp::cast([0_i32; WIDTH]); R];
    for (q, v) in out.iter_mut().enumerate() {
        *v = simd
            .avx512f
            ._mm512_set1_epi32(norm_or_padding(norms, first + q));
    }
    out
}

/// As [`wide_norms`] in vectors of eight lanes.
#[inline(always)]
fn narrow_norms<const R: usize>(simd: V3, norms: &[i32], first: usize) -> [i32x8; R] {
    let mut out = [simd.splat_i32x8(0); R];
    for (q, v) in out.iter_mut().enumerate() {
        *v = simd.splat_i32x8(norm_or_padding(norms, first + q));
    }
    out
}

/// The squared distances of `R` query rows to the sixteen rows of one panel group (`group`:
/// its line per coordinate pair, then its norms): the rows' words are at `offset..offset + R`
/// of each line of `words` (lines of `tile` words), their norms `norms`; a vector per row.
#[inline(always)]
fn wide_sums<const R: usize>(
    simd: Wide,
    norms: &[__m512i; R],
    group: &[[i32; WIDTH]],
    words: &[i32],
    tile: usize,
    offset: usize,
) -> [__m512i; R] {
    let (f, bw) = (simd.avx512f, simd.avx512bw);
    let (coordinates, row_norms) = group.split_at(group.len() - 1);
    let row_norms: __m512i = pulp::cast(row_norms[0]);
    let mut acc = [row_norms; R];
    for q in 0..R {
        acc[q] = f._mm512_add_epi32(norms[q], row_norms);
    }
    for (line, r) in words.chunks_exact(tile).zip(coordinates) {
        let r: __m512i = pulp::cast(*r);
        for q in 0..R {
            let products = bw._mm512_madd_epi16(f._mm512_set1_epi32(line[offset + q]), r);
            acc[q] = f._mm512_add_epi32(acc[q], products);
        }
    }
    acc
}

/// As [`wide_sums`] on 256-bit vectors: `group` a line of two vectors per coordinate pair, then
/// the norms'; two vectors per row.
#[inline(always)]
fn narrow_sums<const R: usize>(
    simd: V3,
    norms: &[i32x8; R],
    group: &[i32x8],
    words: &[i32],
    tile: usize,
    offset: usize,
) -> [[i32x8; 2]; R] {
    let (coordinates, row_norms) = group.split_at(group.len() - 2);
    let mut acc = [[row_norms[0], row_norms[1]]; R];
    for q in 0..R {
        for v in 0..2 {
            acc[q][v] = simd.wrapping_add_i32x8(norms[q], row_norms[v]);
        }
    }
    for (line, r) in words.chunks_exact(tile).zip(coordinates.chunks_exact(2)) {
        let r: [i16x16; 2] = [pulp::cast(r[0]), pulp::cast(r[1])];
        for q in 0..R {
            let b: i16x16 = pulp::cast(simd.splat_i32x8(line[offset + q]));
            for v in 0..2 {
                let products = simd.multiply_wrapping_add_adjacent_i16x16(b, r[v]);
                acc[q][v] = simd.wrapping_add_i32x8(acc[q][v], products);
            }
        }
    }
    acc
}

/// The first pass over one pair of blocks, one direction: each query row of block `a` keeps,
/// per lane of block `b`'s groups, the two smallest values it met (no offers). Any `k` values
/// of distinct rows bound the `k`-th nearest, and the two smallest of each lane are the
/// smallest of sixteen disjoint sets of rows: their `k`-th smallest is within a few ranks of
/// the `k`-th smallest of all the values met.
struct LaneTops<'a> {
    pairs: usize,
    /// Block `a`'s rows packed by [`Quantizer::tiles`] (tiles of the kernel's size).
    query_tiles: &'a [i32],
    /// Block `b`'s rows packed by [`Quantizer::panel`].
    panel: &'a [i32],
    /// How many of the panel's rows are real (the rest pad the last group: never kept).
    panel_rows: usize,
    /// Whether the panel is block `a` itself (a row's value to itself is never kept).
    diagonal: bool,
    /// `‖q‖²` of block `a`'s rounded rows.
    norms: &'a [i32],
    /// Per row of block `a`: the smallest values per lane, then the second smallest.
    tops: &'a mut [[i32; LANE_TOPS]],
}

/// The words of query tile `t` (of `tile` rows) in `query_tiles` ([`Quantizer::tiles`]).
fn tile_words(query_tiles: &[i32], pairs: usize, tile: usize, t: usize) -> &[i32] {
    let line = pairs * tile;
    &query_tiles[t * line..(t + 1) * line]
}

/// `‖q‖²` of row `row` of `norms`, [`PADDING_NORM`] past their end.
fn norm_or_padding(norms: &[i32], row: usize) -> i32 {
    norms.get(row).copied().unwrap_or(PADDING_NORM)
}

/// A row's kept values before any pair of blocks (and a padding row's).
const NONE_KEPT: [i32; LANE_TOPS] = [i32::MAX; LANE_TOPS];

impl LaneTops<'_> {
    /// Part `part` (of `part_rows` rows) of tile `t` (of `tile` rows): its first row and the
    /// tile's words; `None` if it starts past the block's end.
    fn part(
        &self,
        t: usize,
        tile: usize,
        part: usize,
        part_rows: usize,
    ) -> Option<(usize, &[i32])> {
        let first = t * tile + part * part_rows;
        (first < self.norms.len())
            .then(|| (first, tile_words(self.query_tiles, self.pairs, tile, t)))
    }

    /// Lanes of group `g` that hold a real row of the panel, as bits.
    fn real_lanes(&self, g: usize) -> u16 {
        let real = self.panel_rows.saturating_sub(g * WIDTH).min(WIDTH);
        ((1_u32 << real) - 1) as u16
    }

    /// `real` (lanes of group `g`) less the lane of query row `row` itself on the diagonal.
    #[inline(always)]
    fn other_rows(&self, real: u16, row: usize, g: usize) -> u16 {
        if self.diagonal && row / WIDTH == g {
            real & !(1 << (row % WIDTH))
        } else {
            real
        }
    }

    /// Every tile of block `a` on `kernel`, in parts of [`WIDE_PART`] or [`NARROW_PART`] rows.
    fn run(self, kernel: Kernel) {
        let rows = self.norms.len();
        kernel.run(self, rows);
    }

    /// Rows `part·P..part·P + P` of tile `t` against every group of block `b`.
    #[inline(always)]
    fn wide_part(&mut self, simd: Wide, t: usize, part: usize) {
        const P: usize = WIDE_PART;
        let f = simd.avx512f;
        let pairs = self.pairs;
        let Some((first, words)) = self.part(t, WIDE_TILE, part, P) else {
            return;
        };
        let rows = self.norms.len();
        let norms = wide_norms::<P>(simd, self.norms, first);
        let top = |q: usize, half: usize| -> __m512i {
            let kept = self.tops.get(first + q).copied().unwrap_or(NONE_KEPT);
            let lanes: [[i32; WIDTH]; 2] = bytemuck::cast(kept);
            pulp::cast(lanes[half])
        };
        let mut smallest: [__m512i; P] = std::array::from_fn(|q| top(q, 0));
        let mut second: [__m512i; P] = std::array::from_fn(|q| top(q, 1));
        let lines: &[[i32; WIDTH]] = bytemuck::cast_slice(self.panel);
        let none = f._mm512_set1_epi32(i32::MAX);
        for (g, group) in lines.chunks_exact(pairs + 1).enumerate() {
            let acc = wide_sums(simd, &norms, group, words, WIDE_TILE, part * P);
            let real = self.real_lanes(g);
            for q in 0..P {
                let lanes = self.other_rows(real, first + q, g);
                let value = f._mm512_mask_mov_epi32(none, lanes, acc[q]);
                second[q] = f._mm512_min_epi32(second[q], f._mm512_max_epi32(smallest[q], value));
                smallest[q] = f._mm512_min_epi32(smallest[q], value);
            }
        }
        for q in 0..P.min(rows - first) {
            let halves: [[i32; WIDTH]; 2] = [pulp::cast(smallest[q]), pulp::cast(second[q])];
            self.tops[first + q] = bytemuck::cast(halves);
        }
    }

    /// As [`LaneTops::wide_part`], a group in two vectors of eight lanes.
    #[inline(always)]
    fn narrow_part(&mut self, simd: V3, t: usize, part: usize) {
        const P: usize = NARROW_PART;
        let pairs = self.pairs;
        let Some((first, words)) = self.part(t, TILE, part, P) else {
            return;
        };
        let rows = self.norms.len();
        let norms = narrow_norms::<P>(simd, self.norms, first);
        let top = |q: usize, quarter: usize| -> i32x8 {
            let kept = self.tops.get(first + q).copied().unwrap_or(NONE_KEPT);
            let lanes: [i32x8; 4] = bytemuck::cast(kept);
            lanes[quarter]
        };
        // [smallest, second] per row, each two vectors (lanes 0..8, 8..16)
        let mut smallest: [[i32x8; 2]; P] = std::array::from_fn(|q| [top(q, 0), top(q, 1)]);
        let mut second: [[i32x8; 2]; P] = std::array::from_fn(|q| [top(q, 2), top(q, 3)]);
        let (groups, _) = V3::as_simd_i32s(self.panel);
        let none = simd.splat_i32x8(i32::MAX);
        for (g, group) in groups.chunks_exact(2 * (pairs + 1)).enumerate() {
            let acc = narrow_sums(simd, &norms, group, words, TILE, part * P);
            let real = self.real_lanes(g);
            for q in 0..P {
                let lanes = self.other_rows(real, first + q, g);
                for v in 0..2 {
                    let value = if lanes == u16::MAX {
                        acc[q][v]
                    } else {
                        let bits: [i32; 8] =
                            std::array::from_fn(|l| -i32::from((lanes >> (8 * v + l)) & 1));
                        simd.select_i32x8(pulp::cast(bits), acc[q][v], none)
                    };
                    second[q][v] =
                        simd.min_i32x8(second[q][v], simd.max_i32x8(smallest[q][v], value));
                    smallest[q][v] = simd.min_i32x8(smallest[q][v], value);
                }
            }
        }
        for q in 0..P.min(rows - first) {
            let quarters = [smallest[q][0], smallest[q][1], second[q][0], second[q][1]];
            self.tops[first + q] = bytemuck::cast(quarters);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ndarray::Array2;

    /// 300 rows of 13 features (an odd count: the last pair is padded) on unequal scales.
    fn rows() -> Array2<f64> {
        Array2::from_shape_fn((300, 13), |(i, j)| {
            let wave = ((i * 7919 + j * 104_729) % 1009) as f64 / 1009.0 - 0.5;
            wave * (1.0 + j as f64) + 5.0
        })
    }

    /// The kernels this processor runs.
    fn kernels() -> Vec<Kernel> {
        let wide = Wide::try_new().map(Kernel::Wide);
        let narrow = V3::try_new().map(Kernel::Narrow);
        wide.into_iter().chain(narrow).collect()
    }

    #[test]
    fn rounded_distances_are_within_the_spread_and_the_tiles_compute_them() {
        let kernels = kernels();
        if kernels.is_empty() {
            eprintln!("skipped: the processor has no AVX2");
        }
        let x = rows();
        let centring = Centring::new(x.view(), None, true);
        let quantizer = Quantizer::new(x.view(), &centring, vec![1.0; 10]).unwrap();
        for kernel in kernels {
            // the two blocks 0..140 and 140..300, every pair offered: limits +∞ and lists long
            // enough never to be cut back
            let (a, b): (usize, usize) = (140, 160);
            let mut own: Vec<Candidates> = (0..a).map(|_| Candidates::new(400)).collect();
            let mut others: Vec<Candidates> = (0..b).map(|_| Candidates::new(400)).collect();
            let mut other_bars = vec![i32::MAX; b.next_multiple_of(WIDTH)];
            let tiles = quantizer.tiles(0, a, kernel.tile_rows());
            let panel = quantizer.panel(a, b);
            let int_tiles = IntTiles {
                quantizer: &quantizer,
                query_tiles: &tiles,
                panel: &panel,
                norms: &quantizer.norms[..a],
                lists: PairLists {
                    own: &mut own,
                    others: &mut others,
                    query_start: 0,
                    row_start: a,
                    margin: 0.0,
                    diagonal: false,
                },
                other_bars: &mut other_bars,
            };
            int_tiles.run(kernel);
            let stride = 2 * quantizer.pairs;
            let rounded = |i: usize| &quantizer.values[i * stride..(i + 1) * stride];
            for (i, candidates) in own.iter().enumerate() {
                assert_eq!(candidates.found.len(), b, "{}: row {i}", kernel.name());
                for &entry in &candidates.found {
                    let (value, j) = (Candidates::value(entry), Candidates::row(entry));
                    // the tiles' value is the rounded rows' squared distance, exactly
                    let integer: i64 = rounded(i)
                        .iter()
                        .zip(rounded(j))
                        .map(|(&p, &q)| (i64::from(p) - i64::from(q)).pow(2))
                        .sum();
                    assert_eq!(value, quantizer.to_f32(integer as i32), "pair ({i}, {j})");
                    // its root within the spread of the true distance (in the same units)
                    let truth =
                        super::super::rows_distance_sq(x.row(i), x.row(j)).sqrt() / centring.scale;
                    let off = (f64::from(value).sqrt() - truth).abs();
                    assert!(off <= quantizer.spread, "pair ({i}, {j}): {off}");
                }
            }
            // and the other direction holds the same pairs
            assert!(others.iter().all(|c| c.found.len() == a));
        }
    }

    #[test]
    fn the_first_pass_keeps_each_lanes_two_smallest_values() {
        let x = rows();
        let centring = Centring::new(x.view(), None, true);
        let quantizer = Quantizer::new(x.view(), &centring, vec![1.0; 10]).unwrap();
        let stride = 2 * quantizer.pairs;
        let rounded = |i: usize| &quantizer.values[i * stride..(i + 1) * stride];
        let value = |i: usize, j: usize| -> i32 {
            let sum: i64 = rounded(i)
                .iter()
                .zip(rounded(j))
                .map(|(&p, &q)| (i64::from(p) - i64::from(q)).pow(2))
                .sum();
            sum as i32
        };
        // block a: rows 0..77 (a short last tile), block b: rows 77..300 (223 rows: a short
        // last group, whose padding lanes must never be kept)
        let (a, b) = (77, 223);
        for kernel in kernels() {
            let tiles = quantizer.tiles(0, a, kernel.tile_rows());
            let panel = quantizer.panel(a, b);
            // a value kept from an earlier pair of blocks stays where it is smaller
            let mut tops = vec![NONE_KEPT; a];
            tops[5][3] = 7;
            let pass = LaneTops {
                pairs: quantizer.pairs,
                query_tiles: &tiles,
                panel: &panel,
                panel_rows: b,
                diagonal: false,
                norms: &quantizer.norms[..a],
                tops: &mut tops,
            };
            pass.run(kernel);
            // and block a against itself, each row's own value left out
            let mut own_tops = vec![NONE_KEPT; a];
            let own_panel = quantizer.panel(0, a);
            LaneTops {
                pairs: quantizer.pairs,
                query_tiles: &tiles,
                panel: &own_panel,
                panel_rows: a,
                diagonal: true,
                norms: &quantizer.norms[..a],
                tops: &mut own_tops,
            }
            .run(kernel);
            for (i, kept) in own_tops.iter().enumerate() {
                for lane in 0..WIDTH {
                    let mut values: Vec<i32> = (lane..a)
                        .step_by(WIDTH)
                        .filter(|&j| j != i)
                        .map(|j| value(i, j))
                        .chain([i32::MAX; 2])
                        .collect();
                    values.sort_unstable();
                    assert_eq!(
                        [kept[lane], kept[WIDTH + lane]],
                        [values[0], values[1]],
                        "{} (own block): row {i}, lane {lane}",
                        kernel.name()
                    );
                }
            }
            for (i, kept) in tops.iter().enumerate() {
                for lane in 0..WIDTH {
                    let mut values: Vec<i32> =
                        (lane..b).step_by(WIDTH).map(|j| value(i, a + j)).collect();
                    if (i, lane) == (5, 3) {
                        values.push(7);
                    }
                    values.sort_unstable();
                    let expected = [values[0], values[1]];
                    assert_eq!(
                        [kept[lane], kept[WIDTH + lane]],
                        expected,
                        "{}: row {i}, lane {lane}",
                        kernel.name()
                    );
                }
            }
        }
    }

    #[test]
    fn declines_where_the_rounding_blurs_the_neighbours() {
        let x = rows();
        let centring = Centring::new(x.view(), None, true);
        let fine = Quantizer::new(x.view(), &centring, vec![1.0; 10]).unwrap();
        // limits of a few spreads: the rounding would let many more rows in
        let close = (20.0 * fine.spread).powi(2) as f32;
        assert!(Quantizer::new(x.view(), &centring, vec![close; 10]).is_none());
        assert!(Quantizer::new(x.view(), &centring, vec![f32::INFINITY; 10]).is_none());
    }
}
