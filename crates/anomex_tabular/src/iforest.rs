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

use crate::{ContributionsFn, VectorKernel};
use anomex_core::typed::Seed;
use anomex_core::{About, Error, Result};
use ndarray::ArrayView2;
use rand::seq::index::sample;
use rand::Rng;
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

/// `2^(−E[h(x)] / c(ψ))` of every row, with `h` the depth `walk` reaches in a tree plus
/// `c(leaf size)` for the rows the leaf still holds (Liu et al., eq. 2).
pub(crate) fn isolation_scores<T: Sync>(
    trees: &[T],
    samples: usize,
    x: ArrayView2<'_, f64>,
    walk: impl Fn(&T, &[f64]) -> (usize, usize) + Sync,
) -> Vec<f64> {
    let leaf = LeafPaths::new(samples);
    forest_scores(trees, samples, x, |tree, rows, totals| {
        for (total, row) in totals.iter_mut().zip(rows.chunks_exact(x.ncols())) {
            let (depth, size) = walk(tree, row);
            *total += depth as f64 + leaf.get(size);
        }
    })
}

/// `c(size)` for the leaf sizes a tree grown on `samples` rows can have, looked up instead of a
/// logarithm per row and tree.
struct LeafPaths(Vec<f64>);

impl LeafPaths {
    fn new(samples: usize) -> Self {
        LeafPaths((0..=samples).map(average_path_length).collect())
    }
    fn get(&self, size: usize) -> f64 {
        self.0
            .get(size)
            .copied()
            .unwrap_or_else(|| average_path_length(size))
    }
}

/// The isolation score of every row from `add_paths(tree, rows, totals)`, which adds each row's
/// path length in `tree` to its total (`rows`: a block of rows, row-major).
///
/// Rows go through the forest a block at a time, tree by tree: one tree stays in the L1 cache for
/// the whole block, and the block's walks are independent of each other, so the processor
/// overlaps their memory loads. Each row still sums its trees in forest order, so the scores do
/// not depend on the block size or the thread count.
fn forest_scores<T: Sync>(
    trees: &[T],
    samples: usize,
    x: ArrayView2<'_, f64>,
    add_paths: impl Fn(&T, &[f64], &mut [f64]) + Sync,
) -> Vec<f64> {
    const BLOCK: usize = 64;
    let c = average_path_length(samples).max(f64::MIN_POSITIVE);
    let mut scores = vec![0.0; x.nrows()];
    scores
        .par_chunks_mut(BLOCK)
        .enumerate()
        .for_each(|(b, block)| {
            let first = b * BLOCK;
            let mut rows = Vec::with_capacity(block.len() * x.ncols());
            for r in first..first + block.len() {
                rows.extend(x.row(r).iter().copied());
            }
            for tree in trees {
                add_paths(tree, &rows, block);
            }
            for total in block.iter_mut() {
                *total = 2f64.powf(-*total / trees.len() as f64 / c);
            }
        });
    scores
}

/// A tree laid out for scoring: every node has two children (a leaf is its own child both
/// ways, with an infinite threshold) and knows the path length of a row that ends there. A walk
/// then takes exactly `height` steps with no branch on the data, and the walks of a block of rows
/// advance in lockstep, independent of each other.
struct FlatTree {
    nodes: Vec<FlatNode>,
    /// depth + `c(leaf size)` at a leaf
    path: Vec<f64>,
    height: usize,
}

#[derive(Clone, Copy)]
struct FlatNode {
    threshold: f64,
    feature: u32,
    children: [u32; 2],
}

impl FlatTree {
    /// `tree` must have passed [`check_forest`] (children after their parent).
    fn new(tree: &[Node], leaf: &LeafPaths) -> Self {
        let mut depth = vec![0usize; tree.len()];
        let mut nodes = Vec::with_capacity(tree.len());
        let mut path = Vec::with_capacity(tree.len());
        for (id, n) in tree.iter().enumerate() {
            if n.feature == LEAF {
                nodes.push(FlatNode {
                    threshold: f64::INFINITY,
                    feature: 0,
                    children: [id as u32; 2],
                });
                path.push(depth[id] as f64 + leaf.get(n.size as usize));
            } else {
                depth[n.left as usize] = depth[id] + 1;
                depth[n.right as usize] = depth[id] + 1;
                nodes.push(FlatNode {
                    threshold: n.threshold,
                    feature: n.feature,
                    children: [n.left, n.right],
                });
                path.push(0.0);
            }
        }
        let height = depth.iter().copied().max().unwrap_or(0);
        FlatTree {
            nodes,
            path,
            height,
        }
    }

    /// Adds each row's path length to its total (values above the threshold go right; frames
    /// hold finite values only, so this is the `≤ goes left` rule the trees were grown with).
    fn add_paths(&self, rows: &[f64], cols: usize, totals: &mut [f64]) {
        const LANES: usize = 16;
        for (rows, totals) in rows.chunks(LANES * cols).zip(totals.chunks_mut(LANES)) {
            let mut at = [0u32; LANES];
            for _ in 0..self.height {
                for (lane, node) in at.iter_mut().enumerate().take(totals.len()) {
                    let n = self.nodes[*node as usize];
                    let v = rows[lane * cols + n.feature as usize];
                    *node = n.children[usize::from(v > n.threshold)];
                }
            }
            for (total, node) in totals.iter_mut().zip(at) {
                *total += self.path[node as usize];
            }
        }
    }
}

/// Adds `1 / splits` to the feature of each split on the path of `row` (each tree's path counts
/// as one, shared by its splits).
fn path_features(tree: &[Node], row: &[f64], shares: &mut [f64]) {
    let mut on_path = Vec::new();
    let mut node = 0usize;
    loop {
        let n = tree[node];
        if n.feature == LEAF {
            break;
        }
        on_path.push(n.feature as usize);
        node = if row[n.feature as usize] <= n.threshold {
            n.left as usize
        } else {
            n.right as usize
        };
    }
    for &f in &on_path {
        shares[f] += 1.0 / on_path.len() as f64;
    }
}

/// Rejects a forest (e.g. from a damaged model file) whose splits would index outside the data
/// or the tree, or loop: children always come after their parent.
fn check_forest(f: &Forest, cols: usize) -> Result<()> {
    if f.trees.is_empty() {
        return Err(Error::ModelFile("the forest has no tree".into()));
    }
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

anomex_core::params! {
    /// The ensemble-size and sample-size parameters of the isolation forests (PyOD's defaults).
    pub struct ForestParams {
        /// number of trees
        pub n_estimators: usize = 100, in 1..=100_000;
        /// rows drawn for each tree (at most the rows available)
        pub max_samples: usize = 256, in 2..=10_000_000;
    }
}

impl VectorKernel for IsolationForest {
    type Params = (ForestParams, Seed);
    type State = Forest;
    const ABOUT: About = About {
        name: "iforest",
        class: "IForest",
        summary: "isolation forest (Liu, Ting & Zhou, ICDM 2008), PyOD defaults",
    };
    const WINDOWED: Option<About> = Some(About {
        name: "sub_iforest",
        class: "SubIForest",
        summary: "isolation forest on sliding windows",
    });
    const CONTRIBUTIONS: Option<ContributionsFn<Self>> = Some(IsolationForest::contributions);
    fn new((forest, seed): &(ForestParams, Seed)) -> Result<Self> {
        Ok(IsolationForest {
            n_estimators: forest.n_estimators,
            max_samples: forest.max_samples,
            seed: seed.seed,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(Forest, Vec<f64>)> {
        crate::need_rows(x, 2, "the isolation forest")?;
        let psi = self.max_samples.min(x.nrows());
        let max_depth = (psi as f64).log2().ceil() as usize;
        let trees = crate::members(self.n_estimators, self.seed, |rng| {
            let mut rows = sample(rng, x.nrows(), psi).into_vec();
            let mut nodes = Vec::new();
            grow(x, &mut rows, 0, max_depth, rng, &mut nodes);
            nodes
        });
        let forest = Forest {
            trees,
            samples: psi,
        };
        let scores = self.score(&forest, x)?;
        Ok((forest, scores))
    }
    fn score(&self, f: &Forest, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        check_forest(f, x.ncols())?;
        let leaf = LeafPaths::new(f.samples);
        let flat: Vec<FlatTree> = f.trees.iter().map(|t| FlatTree::new(t, &leaf)).collect();
        Ok(forest_scores(&flat, f.samples, x, |tree, rows, totals| {
            tree.add_paths(rows, x.ncols(), totals)
        }))
    }
}

impl IsolationForest {
    /// The score split by the features the row's isolation paths split on: every tree's path
    /// counts once, shared equally by its splits (a simplified DIFFI: Carletti, Terzi & Susto,
    /// "Interpretable Anomaly Detection with DIFFI", 2023). The shares sum to the score.
    fn contributions(
        &self,
        f: &Forest,
        x: ArrayView2<'_, f64>,
        rows: &[usize],
        _training: bool,
    ) -> Result<Vec<Vec<f64>>> {
        let picked = x.select(ndarray::Axis(0), rows);
        self.score(f, picked.view()).map(|scores| {
            let cols = x.ncols();
            (0..picked.nrows())
                .into_par_iter()
                .map(|i| {
                    let row = picked.row(i).to_vec();
                    let mut shares = vec![0.0; cols];
                    f.trees
                        .iter()
                        .for_each(|t| path_features(t, &row, &mut shares));
                    let total: f64 = shares.iter().sum();
                    shares
                        .iter()
                        .map(|s| {
                            if total > 0.0 {
                                scores[i] * s / total
                            } else {
                                0.0
                            }
                        })
                        .collect()
                })
                .collect()
        })
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

    #[test]
    fn contributions_point_at_the_isolating_feature() {
        let mut x =
            Array2::from_shape_fn((300, 3), |(i, j)| ((i * 31 + j * 17) % 23) as f64 / 23.0);
        x[[50, 2]] = 9.0;
        let k = IsolationForest {
            n_estimators: 100,
            max_samples: 256,
            seed: 1,
        };
        let (f, s) = k.fit(x.view()).unwrap();
        let c = k.contributions(&f, x.view(), &[50], true).unwrap();
        assert!((c[0].iter().sum::<f64>() - s[50]).abs() < 1e-12);
        assert!(c[0][2] > c[0][0] + c[0][1], "{:?}", c[0]);
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
