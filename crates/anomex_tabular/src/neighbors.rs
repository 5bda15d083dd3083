//! Exact k-nearest-neighbour search by blocked brute force.
//!
//! Squared Euclidean distances of a block of queries to a block of reference rows come from one
//! matrix product (`‖q‖² + ‖r‖² − 2 q·r`, faer's GEMM), and each query keeps its `k` best in a
//! small sorted buffer. Memory is one block pair at a time, never `n × n`; query blocks run in
//! parallel. Cost: O(n · m · d) arithmetic, vectorised. (A k-d tree would win for very low
//! dimensions; brute force has no dimension limit and predictable cost.)

use faer::Mat;
use ndarray::ArrayView2;
use rayon::prelude::*;

const QUERY_BLOCK: usize = 256;
const REF_BLOCK: usize = 2048;

/// Neighbours of every query: distances in increasing order and reference indices.
#[derive(Debug, Clone)]
pub struct Neighbours {
    pub distances: Vec<Vec<f64>>,
    pub indices: Vec<Vec<usize>>,
}

fn block(x: ArrayView2<'_, f64>, start: usize, rows: usize) -> Mat<f64> {
    Mat::from_fn(rows, x.ncols(), |i, j| x[[start + i, j]])
}

/// The `k` nearest reference rows of every query. With `exclude_self` the queries are the
/// reference rows themselves and row `i` is not its own neighbour (duplicates still are), as
/// scikit-learn's `kneighbors()` without arguments.
pub fn k_nearest(
    reference: ArrayView2<'_, f64>,
    queries: ArrayView2<'_, f64>,
    k: usize,
    exclude_self: bool,
) -> Neighbours {
    let ref_norms: Vec<f64> = reference.rows().into_iter().map(|r| r.dot(&r)).collect();
    let n_ref = reference.nrows();
    let starts: Vec<usize> = (0..queries.nrows()).step_by(QUERY_BLOCK).collect();
    let per_block: Vec<Neighbours> = starts
        .par_iter()
        .map(|&qs| {
            let qn = QUERY_BLOCK.min(queries.nrows() - qs);
            let q = block(queries, qs, qn);
            let q_norms: Vec<f64> = (0..qn)
                .map(|i| queries.row(qs + i).dot(&queries.row(qs + i)))
                .collect();
            let mut best_d = vec![Vec::with_capacity(k + 1); qn];
            let mut best_i = vec![Vec::with_capacity(k + 1); qn];
            for rs in (0..n_ref).step_by(REF_BLOCK) {
                let rn = REF_BLOCK.min(n_ref - rs);
                let r = block(reference, rs, rn);
                let dots = &q * r.transpose();
                for i in 0..qn {
                    for j in 0..rn {
                        let global = rs + j;
                        if exclude_self && global == qs + i {
                            continue;
                        }
                        let d2 = (q_norms[i] + ref_norms[global] - 2.0 * dots[(i, j)]).max(0.0);
                        let (bd, bi) = (&mut best_d[i], &mut best_i[i]);
                        if bd.len() == k && d2 >= bd[k - 1] {
                            continue;
                        }
                        let at = bd.partition_point(|&v| v <= d2);
                        bd.insert(at, d2);
                        bi.insert(at, global);
                        if bd.len() > k {
                            bd.pop();
                            bi.pop();
                        }
                    }
                }
            }
            for d in &mut best_d {
                d.iter_mut().for_each(|v| *v = v.sqrt());
            }
            Neighbours {
                distances: best_d,
                indices: best_i,
            }
        })
        .collect();
    let mut out = Neighbours {
        distances: Vec::with_capacity(queries.nrows()),
        indices: Vec::with_capacity(queries.nrows()),
    };
    for b in per_block {
        out.distances.extend(b.distances);
        out.indices.extend(b.indices);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn equals_brute_force() {
        let x = Array2::from_shape_fn((700, 3), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1000) as f64 / 97.0
        });
        let nb = k_nearest(x.view(), x.view(), 4, true);
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
