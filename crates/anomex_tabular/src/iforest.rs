//! Isolation forest (Liu, Ting & Zhou, "Isolation Forest", ICDM 2008), with scikit-learn's
//! construction as PyOD uses it: 100 trees, each grown on `min(256, n)` rows drawn without
//! replacement, depth limit `ceil(log2(max_samples))`, splits on a random non-constant feature at
//! a uniform threshold between its node minimum and maximum. A row's score is
//! `2^(−E[h(x)] / c(max_samples))` with `h` the depth reached plus `c(leaf size)`, the average
//! path length of an unsuccessful search in a binary search tree.
//!
//! Trees are grown in parallel; tree `t` draws from its own generator seeded by `(seed, t)`, so the
//! forest is the same for any number of threads. Cost: O(T · ψ log ψ) to fit, O(n · T · log ψ)
//! to score, O(T · ψ) memory.

use crate::VectorKernel;
use anomex_core::{Error, ParamSpec, Params, Result};
use ndarray::ArrayView2;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Isolation forest.
#[derive(Debug, Clone)]
pub struct IsolationForest {
    n_estimators: usize,
    max_samples: usize,
    seed: u64,
}

/// One node: a split (`feature`, `threshold`, children) or a leaf holding `size` rows.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Node {
    pub feature: u32,
    pub threshold: f64,
    pub left: u32,
    pub right: u32,
    pub size: u32,
}

const LEAF: u32 = u32::MAX;

/// The grown forest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Forest {
    pub trees: Vec<Vec<Node>>,
    pub samples: usize,
}

/// Average path length of an unsuccessful BST search among `n` points.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + 0.577_215_664_901_532_9) - 2.0 * (n - 1.0) / n
        }
    }
}

fn grow(
    x: ArrayView2<'_, f64>,
    rows: &mut [usize],
    depth: usize,
    max_depth: usize,
    rng: &mut ChaCha8Rng,
    nodes: &mut Vec<Node>,
) -> u32 {
    let id = nodes.len() as u32;
    nodes.push(Node {
        feature: LEAF,
        threshold: 0.0,
        left: 0,
        right: 0,
        size: rows.len() as u32,
    });
    if depth >= max_depth || rows.len() <= 1 {
        return id;
    }
    // a random feature that is not constant in this node
    let mut features: Vec<usize> = (0..x.ncols()).collect();
    let mut chosen = None;
    while !features.is_empty() {
        let f = features.swap_remove(rng.random_range(0..features.len()));
        let (lo, hi) = rows
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &r| {
                (a.min(x[[r, f]]), b.max(x[[r, f]]))
            });
        if hi > lo {
            chosen = Some((f, lo, hi));
            break;
        }
    }
    let Some((f, lo, hi)) = chosen else {
        return id;
    };
    let mut threshold = lo + rng.random::<f64>() * (hi - lo);
    if threshold >= hi {
        threshold = lo;
    }
    // partition rows: ≤ threshold go left
    let mut split = 0;
    for i in 0..rows.len() {
        if x[[rows[i], f]] <= threshold {
            rows.swap(i, split);
            split += 1;
        }
    }
    let (left_rows, right_rows) = rows.split_at_mut(split);
    let left = grow(x, left_rows, depth + 1, max_depth, rng, nodes);
    let right = grow(x, right_rows, depth + 1, max_depth, rng, nodes);
    nodes[id as usize] = Node {
        feature: f as u32,
        threshold,
        left,
        right,
        size: 0,
    };
    id
}

/// Path length of `row` in `tree`; `leaf_extra[node]` is `c(size)` of each leaf, computed once
/// per scoring call rather than a logarithm per row and tree.
fn path_length(tree: &[Node], leaf_extra: &[f64], row: &[f64]) -> f64 {
    let mut node = 0usize;
    let mut depth = 0.0;
    loop {
        let n = tree[node];
        if n.feature == LEAF {
            return depth + leaf_extra[node];
        }
        node = if row[n.feature as usize] <= n.threshold {
            n.left as usize
        } else {
            n.right as usize
        };
        depth += 1.0;
    }
}

/// Rejects a forest (e.g. from a damaged model file) whose splits would index outside the data
/// or the tree, or loop: children always come after their parent.
fn check_forest(f: &Forest, cols: usize) -> Result<()> {
    for (t, tree) in f.trees.iter().enumerate() {
        if tree.is_empty() {
            return Err(Error::ModelFile(format!("isolation tree {t} is empty")));
        }
        for (id, n) in tree.iter().enumerate() {
            if n.feature == LEAF {
                continue;
            }
            if n.feature as usize >= cols {
                return Err(Error::input(format!(
                    "the forest splits on feature {} but the data has {cols} column(s)",
                    n.feature
                )));
            }
            let child_ok = |c: u32| (c as usize) > id && (c as usize) < tree.len();
            if !child_ok(n.left) || !child_ok(n.right) {
                return Err(Error::ModelFile(format!(
                    "isolation tree {t}, node {id}: children out of order"
                )));
            }
        }
    }
    Ok(())
}

/// SplitMix64, to derive independent tree seeds from one seed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl VectorKernel for IsolationForest {
    type State = Forest;
    const NAME: &'static str = "iforest";
    const WINDOWED_NAME: Option<&'static str> = Some("sub_iforest");
    const SUMMARY: &'static str = "isolation forest (Liu, Ting & Zhou, ICDM 2008), PyOD defaults";
    const WINDOWED_SUMMARY: &'static str = "isolation forest on sliding windows";
    fn param_specs() -> Vec<ParamSpec> {
        vec![
            ParamSpec::int("n_estimators", 100, 1, 100_000, "number of isolation trees"),
            ParamSpec::int(
                "max_samples",
                256,
                2,
                10_000_000,
                "rows drawn for each tree (at most the rows available)",
            ),
            crate::seed_param(),
        ]
    }
    fn from_params(p: &Params) -> Result<Self> {
        Ok(IsolationForest {
            n_estimators: p.usize("n_estimators")?,
            max_samples: p.usize("max_samples")?,
            seed: p.usize("seed")? as u64,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(Forest, Vec<f64>)> {
        crate::need_rows(x, 2, "the isolation forest")?;
        let psi = self.max_samples.min(x.nrows());
        let max_depth = (psi as f64).log2().ceil() as usize;
        let trees = (0..self.n_estimators)
            .into_par_iter()
            .map(|t| {
                let mut rng = ChaCha8Rng::seed_from_u64(mix(self.seed ^ mix(t as u64)));
                let mut rows = sample(&mut rng, x.nrows(), psi).into_vec();
                let mut nodes = Vec::new();
                grow(x, &mut rows, 0, max_depth, &mut rng, &mut nodes);
                nodes
            })
            .collect();
        let forest = Forest {
            trees,
            samples: psi,
        };
        let scores = self.score(&forest, x)?;
        Ok((forest, scores))
    }
    fn score(&self, f: &Forest, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        if f.trees.is_empty() {
            return Err(Error::ModelFile("the forest has no tree".into()));
        }
        let c = average_path_length(f.samples).max(f64::MIN_POSITIVE);
        let cols = x.ncols();
        check_forest(f, cols)?;
        let leaf_extra: Vec<Vec<f64>> = f
            .trees
            .iter()
            .map(|t| {
                t.iter()
                    .map(|n| average_path_length(n.size as usize))
                    .collect()
            })
            .collect();
        Ok((0..x.nrows())
            .into_par_iter()
            .with_min_len(256)
            .map_init(
                || vec![0.0; cols],
                |buf, i| {
                    buf.iter_mut().zip(x.row(i)).for_each(|(b, &v)| *b = v);
                    let total: f64 = f
                        .trees
                        .iter()
                        .zip(&leaf_extra)
                        .map(|(t, extra)| path_length(t, extra, buf))
                        .sum();
                    2f64.powf(-total / f.trees.len() as f64 / c)
                },
            )
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn path_length_constants() {
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // c(256) ≈ 10.2447 (Liu et al.)
        assert!((average_path_length(256) - 10.244_770_920_116_851).abs() < 1e-9);
    }

    #[test]
    fn isolates_the_outlier_deterministically() {
        let mut x =
            Array2::from_shape_fn((300, 3), |(i, j)| ((i * 31 + j * 17) % 23) as f64 / 23.0);
        x[[123, 0]] = 9.0;
        x[[123, 1]] = -9.0;
        let k = IsolationForest {
            n_estimators: 100,
            max_samples: 256,
            seed: 7,
        };
        let (_, a) = k.fit(x.view()).unwrap();
        let (_, b) = k.fit(x.view()).unwrap();
        assert_eq!(a, b);
        let arg = (0..a.len()).max_by(|&p, &q| a[p].total_cmp(&a[q])).unwrap();
        assert_eq!(arg, 123);
        assert!(a.iter().all(|s| (0.0..=1.0).contains(s)));
    }
}

#[cfg(test)]
mod thread_tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn same_forest_for_any_thread_count() {
        let x = Array2::from_shape_fn((500, 4), |(i, j)| ((i * 37 + j * 11) % 29) as f64);
        let k = IsolationForest {
            n_estimators: 50,
            max_samples: 128,
            seed: 3,
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| k.fit(x.view()).unwrap().1)
        };
        assert_eq!(run(1), run(3));
    }
}
