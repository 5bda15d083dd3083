//! Streaming Half-Space Trees (Tan, Ting & Liu, "Fast Anomaly Detection for Streaming Data",
//! IJCAI 2011).
//!
//! Each of `n_trees` trees is a full binary tree of depth `height` that splits a random
//! dimension at the middle of its node's range; the ranges start from the paper's random *work
//! range* around the unit cube (`s ± 2·max(s, 1 − s)`, `s ~ U(0, 1)` per dimension), so the
//! trees are built before any data is seen. Values are scaled into the unit cube by the minimum
//! and maximum of each column of the training data. Every node counts the points of two
//! tumbling windows of `window` points: the *reference* mass `r` (the last complete window) and
//! the *latest* mass `l` (the window being filled); when a window is complete, `r ← l, l ← 0`.
//!
//! A point's mass score is `Σ_trees r(node)·2^depth(node)` at the first node on its path whose
//! reference mass is at most `0.1·window` (the paper's size limit) or at the leaves; low mass is
//! anomalous, so anomex reports `1 − mass / (n_trees·window·2^height)` (in `[0, 1]`, as River
//! does). Points before the first complete window have no reference: they are the warm-up.
//!
//! anomex's one change to the defaults: `window=auto` (the default) is at least 250 points (the
//! paper's and River's window) and two periods of the training series, because a window shorter
//! than a cycle makes every window's reference another phase of the cycle.
//!
//! Cost: O(n_trees·height) per point; state `n_trees·(2^height − 1)·12 + n_trees·(2^(height+1)
//! − 1)·8` bytes (splits, then the two masses): 61 KB with the defaults (10 trees, height 8).

use anomex_core::online::{check_scaling, invalid_state, unit_scaling, OnlineModel};
use anomex_core::{About, Error, Frame, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Share of the window below which a node's mass is too small to descend further.
const SIZE_LIMIT_SHARE: f64 = 0.1;
/// Most nodes of all trees together (`n_trees · (2^(height+1) − 1)`): 2^24 nodes are about
/// 300 MB of state; the defaults use 5,110. Both parameters are accepted alone up to their
/// bounds, so their product is what is checked.
pub const MAX_NODES: usize = 1 << 24;

/// The Half-Space Trees model: structure, scaling and the two mass profiles.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HalfSpaceTrees {
    n_trees: usize,
    height: u32,
    window: usize,
    /// Per column: minimum and span of the training data (span 1 for a constant column).
    low: Vec<f64>,
    span: Vec<f64>,
    /// Per tree and internal node (heap order): the split dimension and value.
    split_dim: Vec<u32>,
    split_at: Vec<f64>,
    /// Per tree and node (heap order): reference and latest mass.
    reference: Vec<u32>,
    latest: Vec<u32>,
    /// Points in the latest window so far, and whether a reference window exists.
    filled: usize,
    has_reference: bool,
}

impl HalfSpaceTrees {
    fn internal_per_tree(&self) -> usize {
        (1usize << self.height) - 1
    }

    fn nodes_per_tree(&self) -> usize {
        (1usize << (self.height + 1)) - 1
    }

    /// Builds tree `t`'s splits by halving the node ranges, starting from a random work range.
    fn build_tree(&mut self, rng: &mut ChaCha8Rng) {
        let d = self.low.len();
        let mut lo = vec![0.0; d];
        let mut hi = vec![0.0; d];
        for q in 0..d {
            let s: f64 = rng.random();
            let reach = 2.0 * s.max(1.0 - s);
            lo[q] = s - reach;
            hi[q] = s + reach;
        }
        let mut ranges = std::collections::VecDeque::from([(lo, hi)]);
        for _ in 0..self.internal_per_tree() {
            // Heap order: node i's children are 2i+1 and 2i+2, so a queue of ranges in node
            // order yields the children in order too.
            let Some((lo, hi)) = ranges.pop_front() else {
                break;
            };
            let q = rng.random_range(0..d);
            let mid = 0.5 * (lo[q] + hi[q]);
            self.split_dim.push(q as u32);
            self.split_at.push(mid);
            let (mut left_hi, mut right_lo) = (hi.clone(), lo.clone());
            left_hi[q] = mid;
            right_lo[q] = mid;
            ranges.push_back((lo, left_hi));
            ranges.push_back((right_lo, hi));
        }
    }
}

anomex_core::params! {
    /// Parameters of Half-Space Trees (defaults as River's `HalfSpaceTrees`, but for the window).
    pub struct HstParams {
        /// trees in the ensemble
        pub n_trees: usize = 10, in 1..=1000;
        /// depth of every tree
        pub height: u32 = 8, in 1..=20;
        /// points per mass window; auto = two periods of the training series, at least 250
        pub window: Option<usize> = None, in 2..=crate::MAX_WINDOW;
        /// random seed; the same seed gives the same scores
        pub seed: u64 = 0, in 0..=i64::MAX;
    }
}

impl OnlineModel for HalfSpaceTrees {
    type Params = HstParams;
    const ABOUT: About = About {
        name: "hst",
        class: "HalfSpaceTrees",
        summary: "Half-Space Trees: mass in random half-space trees over tumbling windows (Tan et al. 2011)",
    };

    fn new(params: &HstParams, train: &Frame) -> Result<Self> {
        let n_trees = params.n_trees;
        let height = params.height;
        let nodes = n_trees.saturating_mul((1usize << (height + 1)) - 1);
        if nodes > MAX_NODES {
            return Err(Error::param(
                "n_trees",
                format!(
                    "{n_trees} trees of height {height} are {nodes} nodes, more than the {MAX_NODES} \
                     one model may hold; lower n_trees or height"
                ),
            ));
        }
        let window = crate::stream_memory(params.window, 250, train);
        let (low, span) = unit_scaling(train)?;
        let mut model = HalfSpaceTrees {
            n_trees,
            height,
            window,
            low,
            span,
            split_dim: Vec::new(),
            split_at: Vec::new(),
            reference: Vec::new(),
            latest: Vec::new(),
            filled: 0,
            has_reference: false,
        };
        let nodes = model.nodes_per_tree() * n_trees;
        model.reference = vec![0; nodes];
        model.latest = vec![0; nodes];
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
        for _ in 0..n_trees {
            model.build_tree(&mut rng);
        }
        Ok(model)
    }

    fn n_columns(&self) -> usize {
        self.low.len()
    }

    fn check(&self) -> Result<()> {
        let bad = |what: String| Err(invalid_state("hst", what));
        if self.n_trees == 0 || !(1..=20).contains(&self.height) {
            return bad(format!(
                "{} trees of height {} (1 to 20)",
                self.n_trees, self.height
            ));
        }
        let nodes = self.n_trees.saturating_mul(self.nodes_per_tree());
        if nodes > MAX_NODES {
            return bad(format!("{nodes} nodes, more than {MAX_NODES}"));
        }
        if self.window == 0
            || self.window > crate::MAX_WINDOW as usize
            || self.filled >= self.window
        {
            return bad(format!(
                "window {} with {} points filled",
                self.window, self.filled
            ));
        }
        check_scaling(&self.low, &self.span).map_err(|e| invalid_state("hst", e))?;
        let internal = self.n_trees * self.internal_per_tree();
        if self.split_dim.len() != internal || self.split_at.len() != internal {
            return bad(format!(
                "{} and {} splits for {internal} inner nodes",
                self.split_dim.len(),
                self.split_at.len()
            ));
        }
        if self.reference.len() != nodes || self.latest.len() != nodes {
            return bad(format!(
                "{} and {} masses for {nodes} nodes",
                self.reference.len(),
                self.latest.len()
            ));
        }
        let d = self.low.len();
        if let Some(q) = self.split_dim.iter().find(|&&q| q as usize >= d) {
            return bad(format!("a split on dimension {q} of {d}"));
        }
        if self.split_at.iter().any(|v| !v.is_finite()) {
            return bad("a split value is not finite".into());
        }
        Ok(())
    }

    fn update(&mut self, point: &[f64]) -> Option<f64> {
        let internal = self.internal_per_tree();
        let nodes = self.nodes_per_tree();
        let size_limit = SIZE_LIMIT_SHARE * self.window as f64;
        let mut mass = 0.0;
        for t in 0..self.n_trees {
            let splits = t * internal;
            let masses = t * nodes;
            let mut node = 0usize;
            let mut depth = 0u32;
            let mut scored = false;
            loop {
                let r = self.reference[masses + node];
                if !scored && (depth == self.height || f64::from(r) <= size_limit) {
                    mass += f64::from(r) * f64::from(1u32 << depth);
                    scored = true;
                }
                self.latest[masses + node] += 1;
                if depth == self.height {
                    break;
                }
                let q = self.split_dim[splits + node] as usize;
                let x = (point[q] - self.low[q]) / self.span[q];
                node = 2 * node
                    + if x < self.split_at[splits + node] {
                        1
                    } else {
                        2
                    };
                depth += 1;
            }
        }
        let score = self.has_reference.then(|| {
            let most = (self.n_trees * self.window) as f64 * f64::from(1u32 << self.height);
            1.0 - mass / most
        });
        self.filled += 1;
        if self.filled == self.window {
            std::mem::swap(&mut self.reference, &mut self.latest);
            self.latest.iter_mut().for_each(|m| *m = 0);
            self.filled = 0;
            self.has_reference = true;
        }
        score
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(window: usize) -> HstParams {
        HstParams {
            window: Some(window),
            ..HstParams::default()
        }
    }

    #[test]
    fn masses_count_each_window_at_every_depth() {
        let x: Vec<f64> = (0..100).map(|i| (i % 10) as f64).collect();
        let frame = Frame::from_series(&x).unwrap_or_else(|e| panic!("{e}"));
        let mut m = HalfSpaceTrees::new(&params(40), &frame).unwrap_or_else(|e| panic!("{e}"));
        let warm: Vec<Option<f64>> = x.iter().take(40).map(|&v| m.update(&[v])).collect();
        assert!(
            warm.iter().all(Option::is_none),
            "the first window is warm-up"
        );
        // After one window the reference holds 40 points per tree at the root, and the masses
        // of each level sum to 40.
        let nodes = m.nodes_per_tree();
        for t in 0..m.n_trees {
            let r = &m.reference[t * nodes..(t + 1) * nodes];
            for depth in 0..=m.height {
                let level = (1usize << depth) - 1..(1usize << (depth + 1)) - 1;
                assert_eq!(r[level].iter().sum::<u32>(), 40, "tree {t} depth {depth}");
            }
        }
        assert!(m.update(&[3.0]).is_some());
    }

    #[test]
    fn crafted_states_and_memory_bombs_are_refused() {
        let x: Vec<f64> = (0..300).map(|i| (i % 10) as f64).collect();
        let frame = Frame::from_series(&x).unwrap_or_else(|e| panic!("{e}"));
        let bomb = HstParams {
            n_trees: 1000,
            height: 20,
            ..params(50)
        };
        let e = HalfSpaceTrees::new(&bomb, &frame).unwrap_err().to_string();
        assert!(e.contains("lower n_trees or height"), "{e}");
        let model = HalfSpaceTrees::new(&params(50), &frame).unwrap_or_else(|e| panic!("{e}"));
        assert!(model.check().is_ok());
        let mut dim = model.clone();
        dim.split_dim[3] = 7;
        let mut window = model.clone();
        window.window = 0;
        let mut masses = model.clone();
        masses.latest.pop();
        let mut span = model.clone();
        span.span[0] = 0.0;
        let mut height = model;
        height.height = 40;
        for (what, m) in [
            ("split", dim),
            ("window", window),
            ("masses", masses),
            ("span", span),
            ("height", height),
        ] {
            let e = m.check().map_err(|e| e.to_string());
            assert!(
                e.as_ref().is_err_and(|e| e.contains("invalid hst state")),
                "{what}: {e:?}"
            );
        }
    }

    #[test]
    fn a_point_far_outside_the_training_range_scores_higher() {
        let x: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64 / 100.0).collect();
        let frame = Frame::from_series(&x).unwrap_or_else(|e| panic!("{e}"));
        let mut m = HalfSpaceTrees::new(&params(250), &frame).unwrap_or_else(|e| panic!("{e}"));
        for &v in &x {
            m.update(&[v]);
        }
        let mut normal = m.clone();
        let inside = normal.update(&[0.5]).unwrap_or(f64::NAN);
        let outside = m.update(&[1.4]).unwrap_or(f64::NAN);
        assert!(outside > inside, "{outside} vs {inside}");
    }
}
