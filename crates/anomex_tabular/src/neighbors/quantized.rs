//! The pairs of distinct blocks of the self search ([`super::brute_self_nearest`]) on 16-bit
//! integers, where the processor has AVX2: `vpmaddwd` multiplies sixteen pairs of 16-bit values
//! and adds them pairwise in one instruction, so a tile takes two coordinates per multiply-add
//! where f32 takes one (1.6× the pairs per second on the machine of docs/benchmarks.md, measured
//! on the bare loops).
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
use pulp::{i16x16, i32x8, m32x8, Arch, Simd, WithSimd};
use rayon::prelude::*;
use std::sync::{Mutex, PoisonError};

/// Rows of a tile of [`IntTiles`]: twelve accumulators with the group's two vectors (tiles of
/// four and five rows, which spill less, measured no faster).
const TILE: usize = 6;
/// Rows per panel group: two vectors of eight `i32` lanes.
const WIDTH: usize = 16;
/// `‖r‖²` of the padding rows of tiles and panels: padding rows are never offered, so it only
/// has to keep every sum in range (real norms are at most `d·M² ≤ 2²⁹`).
const PADDING_NORM: i32 = 1 << 29;
/// The most the spread may add to the candidates let in: `2·d·spread / distance` at the tenth
/// percentile of the first limits (the relative growth of a ball's volume).
const MOST_EXTRA: f64 = 0.1;

/// Runs the rounds of the pairs of distinct blocks (blocks starting at `starts`, the
/// candidates `lists` through the block diagonal) on integers, where the processor has AVX2
/// (`arch` as the caller dispatches on) and the rounding resolves the distances the first limits
/// show; `false` (nothing done) otherwise.
pub(super) fn distinct_pairs(
    arch: Arch,
    x: ArrayView2<'_, f64>,
    centring: &Centring,
    lists: &[Mutex<Vec<Candidates>>],
    starts: &[usize],
    margin: f64,
) -> bool {
    let simd = match arch {
        Arch::Scalar => None,
        _ => V3::try_new(),
    };
    let Some(simd) = simd else {
        return false;
    };
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
                quantizer.tiles(starts[b], rows),
            )
        })
        .collect();
    super::distinct_rounds(lists, starts, margin, |a, b, lists| {
        let mut other_bars: Vec<i32> = lists
            .others
            .iter()
            .map(|c| quantizer.bar(c.limit))
            .collect();
        other_bars.resize(lists.others.len().next_multiple_of(WIDTH), i32::MIN);
        let rows = lists.own.len();
        Simd::vectorize(
            simd,
            IntTiles {
                simd,
                quantizer: &quantizer,
                query_tiles: &packed[a].1,
                panel: &packed[b].0,
                norms: &quantizer.norms[starts[a]..starts[a] + rows],
                lists,
                other_bars: &mut other_bars,
            },
        );
    });
    true
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

    /// Rows `start..start + rows` as the query tiles of [`IntTiles`]: tiles of [`TILE`] rows, a
    /// line of their words of `−2 q` per coordinate pair (`2M` fits 16 bits).
    fn tiles(&self, start: usize, rows: usize) -> Vec<i32> {
        let mut packed = Vec::with_capacity(rows.div_ceil(TILE) * self.pairs * TILE);
        for tile in (start..start + rows).step_by(TILE) {
            for p in 0..self.pairs {
                packed.extend((tile..tile + TILE).map(|r| {
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
/// a tile of [`TILE`] rows of block `a` and [`WIDTH`] rows of block `b` sums `vpmaddwd`
/// products of `−2 q` and `r` onto `‖q‖² + ‖r‖²`, and only a group with a value below either
/// row's bar goes through the offers. (Filtering a group by its columns' and rows' smallest
/// values first measured no faster.)
struct IntTiles<'a> {
    simd: V3,
    quantizer: &'a Quantizer,
    /// Block `a`'s rows packed by [`Quantizer::tiles`].
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

    /// Tile `t` of block `a` (its rows `t·Q..t·Q + Q`) against every group of block `b`.
    #[inline(always)]
    fn tile(&mut self, t: usize) {
        const Q: usize = TILE;
        let simd = self.simd;
        let pairs = self.quantizer.pairs;
        let first = t * Q;
        let words = &self.query_tiles[t * pairs * Q..(t + 1) * pairs * Q];
        let norms: [i32x8; Q] = std::array::from_fn(|q| {
            simd.splat_i32x8(self.norms.get(first + q).copied().unwrap_or(PADDING_NORM))
        });
        let mut bars: [i32; Q] = std::array::from_fn(|q| self.own_bar(first + q));
        let (groups, _) = V3::as_simd_i32s(self.panel);
        for (g, group) in groups.chunks_exact(2 * (pairs + 1)).enumerate() {
            let (coordinates, row_norms) = group.split_at(2 * pairs);
            let mut acc: [[i32x8; 2]; Q] = std::array::from_fn(|q| {
                [0, 1].map(|v| simd.wrapping_add_i32x8(norms[q], row_norms[v]))
            });
            for (line, r) in words.chunks_exact(Q).zip(coordinates.chunks_exact(2)) {
                let r: [i16x16; 2] = [pulp::cast(r[0]), pulp::cast(r[1])];
                for q in 0..Q {
                    let b: i16x16 = pulp::cast(simd.splat_i32x8(line[q]));
                    for v in 0..2 {
                        let products = simd.multiply_wrapping_add_adjacent_i16x16(b, r[v]);
                        acc[q][v] = simd.wrapping_add_i32x8(acc[q][v], products);
                    }
                }
            }
            let span = g * WIDTH..(g + 1) * WIDTH;
            let (other, _) = V3::as_simd_i32s(&self.other_bars[span]);
            let other = [other[0], other[1]];
            let below = |value: i32x8, bar: i32x8| -> u32 {
                let mask: m32x8 = simd.cmp_lt_i32x8(value, bar);
                simd.avx._mm256_movemask_ps(pulp::cast(mask)) as u32
            };
            // within the query's limit or the row's
            let hit = |q: usize, v: usize| {
                simd.cmp_lt_i32x8(
                    acc[q][v],
                    simd.max_i32x8(simd.splat_i32x8(bars[q]), other[v]),
                )
            };
            let mut any = hit(0, 0);
            for q in 0..Q {
                for v in 0..2 {
                    any = simd.or_m32x8(any, hit(q, v));
                }
            }
            if simd.avx._mm256_movemask_ps(pulp::cast(any)) == 0 {
                continue;
            }
            for q in 0..Q {
                let own = simd.splat_i32x8(bars[q]);
                for v in 0..2 {
                    let mut bits = below(acc[q][v], simd.max_i32x8(own, other[v]));
                    let values: &[i32] = bytemuck::cast_slice(std::slice::from_ref(&acc[q][v]));
                    let mut took = false;
                    while bits != 0 {
                        let lane = bits.trailing_zeros() as usize;
                        took |= self.offer(first + q, g * WIDTH + v * 8 + lane, values[lane]);
                        bits &= bits - 1;
                    }
                    if took {
                        bars[q] = self.own_bar(first + q);
                    }
                }
            }
        }
    }
}

impl WithSimd for IntTiles<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, _: S) {
        for t in 0..self.lists.own.len().div_ceil(TILE) {
            self.tile(t);
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

    #[test]
    fn rounded_distances_are_within_the_spread_and_the_tiles_compute_them() {
        let Some(simd) = V3::try_new() else {
            eprintln!("skipped: the processor has no AVX2");
            return;
        };
        let x = rows();
        let centring = Centring::new(x.view(), None, true);
        let quantizer = Quantizer::new(x.view(), &centring, vec![1.0; 10]).unwrap();
        // the two blocks 0..140 and 140..300, every pair offered: limits +∞ and lists long
        // enough never to be cut back
        let (a, b): (usize, usize) = (140, 160);
        let mut own: Vec<Candidates> = (0..a).map(|_| Candidates::new(400)).collect();
        let mut others: Vec<Candidates> = (0..b).map(|_| Candidates::new(400)).collect();
        let mut other_bars = vec![i32::MAX; b.next_multiple_of(WIDTH)];
        let (tiles, panel) = (quantizer.tiles(0, a), quantizer.panel(a, b));
        Simd::vectorize(
            simd,
            IntTiles {
                simd,
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
                },
                other_bars: &mut other_bars,
            },
        );
        let stride = 2 * quantizer.pairs;
        let rounded = |i: usize| &quantizer.values[i * stride..(i + 1) * stride];
        for (i, candidates) in own.iter().enumerate() {
            assert_eq!(candidates.found.len(), b, "row {i}");
            for &(value, j) in &candidates.found {
                let j = j as usize;
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
