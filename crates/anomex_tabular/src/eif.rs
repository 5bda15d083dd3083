//! Extended isolation forest (Hariri, Kind & Brunner, "Extended Isolation Forest", IEEE TKDE
//! 2021): an isolation forest whose splits are random hyperplanes instead of axis-parallel cuts,
//! which removes the axis-aligned "ghost" regions of low score that the standard forest draws.
//!
//! A split draws a normal vector with standard normal components, of which all but
//! `extension_level + 1` are set to zero (`extension_level = d − 1`, the default, keeps all;
//! 0 is the standard forest's axis-parallel cut), and an intercept point uniform in the node's
//! bounding box; a row goes left when `(x − p) · n ≤ 0`. Trees, sample size, depth limit and
//! score are those of [`crate::iforest`]: `2^(−E[h(x)] / c(ψ))`. Trees come from per-tree
//! generators, so the forest is the same for any thread count. Not in PyOD: defaults are the
//! isolation forest's (100 trees of 256 rows). Cost: O(T · ψ log ψ · d) to fit,
//! O(n · T · log ψ · d) to score.

use crate::iforest::isolation_scores;
use crate::iforest::ForestParams;
use crate::VectorKernel;
use anomex_core::typed::Seed;
use anomex_core::{About, Error, Result};
use ndarray::ArrayView2;
use rand::seq::index::sample;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Extended isolation forest.
#[derive(Debug, Clone)]
pub struct ExtendedIsolationForest {
    n_estimators: usize,
    max_samples: usize,
    extension_level: Option<usize>,
    seed: u64,
}

/// A split (`normal · x ≤ offset` goes left) or, with `left == 0`, a leaf of `size` rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HyperNode {
    pub normal: Vec<f64>,
    pub offset: f64,
    pub left: u32,
    pub right: u32,
    pub size: u32,
}

/// The grown forest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HyperForest {
    pub dims: usize,
    pub samples: usize,
    pub trees: Vec<Vec<HyperNode>>,
}

struct Grower<'a> {
    x: ArrayView2<'a, f64>,
    kept: usize,
    max_depth: usize,
}

impl Grower<'_> {
    fn grow(
        &self,
        rows: &mut [usize],
        depth: usize,
        rng: &mut ChaCha8Rng,
        nodes: &mut Vec<HyperNode>,
    ) -> u32 {
        let id = nodes.len() as u32;
        nodes.push(HyperNode {
            normal: Vec::new(),
            offset: 0.0,
            left: 0,
            right: 0,
            size: rows.len() as u32,
        });
        if depth >= self.max_depth || rows.len() <= 1 {
            return id;
        }
        let d = self.x.ncols();
        let mut normal: Vec<f64> = (0..d).map(|_| rng.sample(StandardNormal)).collect();
        for j in sample(rng, d, d - self.kept) {
            normal[j] = 0.0;
        }
        // intercept uniform in the node's bounding box
        let mut offset = 0.0;
        for (j, &w) in normal.iter().enumerate() {
            let (lo, hi) = rows
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &r| {
                    (a.min(self.x[[r, j]]), b.max(self.x[[r, j]]))
                });
            let p = lo + rng.random::<f64>() * (hi - lo);
            offset += w * p;
        }
        let side = |r: usize| -> f64 {
            normal
                .iter()
                .enumerate()
                .map(|(j, w)| w * self.x[[r, j]])
                .sum()
        };
        let mut split = 0;
        for i in 0..rows.len() {
            if side(rows[i]) <= offset {
                rows.swap(i, split);
                split += 1;
            }
        }
        let (left_rows, right_rows) = rows.split_at_mut(split);
        let left = self.grow(left_rows, depth + 1, rng, nodes);
        let right = self.grow(right_rows, depth + 1, rng, nodes);
        nodes[id as usize] = HyperNode {
            normal,
            offset,
            left,
            right,
            size: 0,
        };
        id
    }
}

/// Depth reached by `row` in `tree` and the size of the leaf it ends in.
fn walk(tree: &[HyperNode], row: &[f64]) -> (usize, usize) {
    let mut node = 0usize;
    let mut depth = 0;
    loop {
        let n = &tree[node];
        if n.left == 0 {
            return (depth, n.size as usize);
        }
        let v: f64 = n.normal.iter().zip(row).map(|(w, x)| w * x).sum();
        node = if v <= n.offset { n.left } else { n.right } as usize;
        depth += 1;
    }
}

/// Rejects a damaged forest: splits must have a normal of the data's width and children after
/// their parent.
fn check(f: &HyperForest, cols: usize) -> Result<()> {
    crate::check_columns(f.dims, cols)?;
    for tree in &f.trees {
        for (id, n) in tree.iter().enumerate() {
            let child_ok = |c: u32| (c as usize) > id && (c as usize) < tree.len();
            if n.left != 0 && (n.normal.len() != cols || !child_ok(n.left) || !child_ok(n.right)) {
                return Err(Error::ModelFile(format!(
                    "extended isolation tree node {id} is damaged"
                )));
            }
        }
        if tree.is_empty() {
            return Err(Error::ModelFile(
                "an extended isolation tree is empty".into(),
            ));
        }
    }
    if f.trees.is_empty() {
        return Err(Error::ModelFile("the forest has no tree".into()));
    }
    Ok(())
}

anomex_core::params! {
    /// The hyperplanes of [`ExtendedIsolationForest`].
    pub struct ExtensionParams {
        /// non-zero normal components minus one; auto = all (d − 1); 0 = axis-parallel
        pub extension_level: Option<usize> = None, in 0..=1_000_000;
    }
}

impl VectorKernel for ExtendedIsolationForest {
    type Params = ((ForestParams, ExtensionParams), Seed);
    type State = HyperForest;
    const ABOUT: About = About {
        name: "eif",
        class: "EIF",
        summary:
            "extended isolation forest with random hyperplane splits (Hariri et al., TKDE 2021)",
    };
    fn new(((forest, extension), seed): &Self::Params) -> Result<Self> {
        Ok(ExtendedIsolationForest {
            n_estimators: forest.n_estimators,
            max_samples: forest.max_samples,
            extension_level: extension.extension_level,
            seed: seed.seed,
        })
    }
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(HyperForest, Vec<f64>)> {
        crate::need_rows(x, 2, "the extended isolation forest")?;
        let d = x.ncols();
        let level = self.extension_level.unwrap_or(d - 1);
        if level >= d {
            return Err(Error::param(
                "extension_level",
                format!("{level} is above d − 1 = {} for this data", d - 1),
            ));
        }
        let psi = self.max_samples.min(x.nrows());
        let grower = Grower {
            x,
            kept: level + 1,
            max_depth: (psi as f64).log2().ceil() as usize,
        };
        let trees = crate::members(self.n_estimators, self.seed, |rng| {
            let mut rows = sample(rng, x.nrows(), psi).into_vec();
            let mut nodes = Vec::new();
            grower.grow(&mut rows, 0, rng, &mut nodes);
            nodes
        });
        let forest = HyperForest {
            dims: d,
            samples: psi,
            trees,
        };
        let scores = self.score(&forest, x)?;
        Ok((forest, scores))
    }
    fn score(&self, f: &HyperForest, x: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
        check(f, x.ncols())?;
        Ok(isolation_scores(&f.trees, f.samples, x, |t, row| {
            walk(t, row)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn params(extra: &[&str]) -> ExtendedIsolationForest {
        ExtendedIsolationForest::from_pairs(extra).unwrap()
    }

    #[test]
    fn far_row_scores_highest_and_threads_do_not_matter() {
        let mut x = Array2::from_shape_fn((500, 3), |(i, j)| ((i * (j + 5)) % 23) as f64);
        x[[9, 0]] = 80.0;
        x[[9, 2]] = -50.0;
        let eif = params(&[]);
        let (f, s) = eif.fit(x.view()).unwrap();
        assert!(f.trees[0][0].normal.iter().all(|&w| w != 0.0));
        let arg = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
        assert_eq!(arg, 9);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(s, one.install(|| eif.fit(x.view()).unwrap().1));
    }

    #[test]
    fn level_zero_cuts_one_axis_and_too_high_is_an_error() {
        let x = Array2::from_shape_fn((100, 4), |(i, j)| ((i * (j + 2)) % 13) as f64);
        let (f, _) = params(&["extension_level=0"]).fit(x.view()).unwrap();
        let root = &f.trees[0][0];
        assert_eq!(root.normal.iter().filter(|&&w| w != 0.0).count(), 1);
        assert!(params(&["extension_level=4"]).fit(x.view()).is_err());
    }
}
