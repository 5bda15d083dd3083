//! The k-d tree (Bentley, CACM 1975; kiddo's immutable tree, leaves of 32 rows) prunes most of the
//! reference rows in low dimensions, O(n log n) to build and about O(log n) per query there.
//!
//! Used by the exact search where [`super::tree_fits`].

use super::{keep_k, per_query, Neighbours};
use kiddo::immutable::float::kdtree::ImmutableKdTree;
use kiddo::SquaredEuclidean;
use ndarray::{ArrayView1, ArrayView2};
use std::num::NonZero;

/// [`super::nearest`]'s exact search over `D` dimensions: `k + 1` candidates per query,
/// the skipped row removed, else the farthest candidate.
pub(super) fn k_nearest<const D: usize>(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    k: usize,
    skip: &(impl Fn(usize) -> Option<usize> + Sync),
) -> Neighbours {
    let point = |row: ArrayView1<'_, f64>| -> [f64; D] { std::array::from_fn(|j| row[j]) };
    let points: Vec<[f64; D]> = reference.rows().into_iter().map(point).collect();
    let tree: ImmutableKdTree<f64, u64, D, 32> = ImmutableKdTree::new_from_slice(&points);
    let want = NonZero::new(k + 1).unwrap_or(NonZero::<usize>::MIN);
    per_query(queries.nrows(), |q, found| {
        let hits = tree.nearest_n::<SquaredEuclidean>(&point(queries.row(q)), want);
        found.extend(hits.iter().map(|h| (h.distance, h.item as usize)));
        keep_k(found, k, skip(q));
    })
}
