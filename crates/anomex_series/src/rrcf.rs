//! Robust Random Cut Forest (Guha, Mishra, Roy & Schrijvers, "Robust Random Cut Forest Based
//! Anomaly Detection on Streams", ICML 2016), as a sliding-window stream.
//!
//! Each tree holds the last `tree_size` points (shingles of `shingle` consecutive rows, values
//! scaled by the training range of their column). A new point is inserted by the paper's
//! insertion rule, which keeps the tree distributed as if it had been built from scratch on its
//! points: starting at the root, draw a cut over the node's bounding box extended by the point
//! (dimension with probability ∝ its extent, position uniform); if the cut separates the point
//! from the box, the point becomes a new leaf beside the node, otherwise descend. The oldest
//! point is forgotten by splicing its leaf out. Equal points share a leaf with a count.
//!
//! A point's score is its *collusive displacement* (CoDisp) averaged over the trees: walking
//! from its leaf to the root, the largest ratio of the sibling subtree's size to the size of
//! the subtree that contains the point — how many points' depths would change if the point's
//! group were removed, relative to the group's size. The insertion, forgetting and CoDisp follow
//! the reference implementation `rrcf` (Bartos et al., JOSS 2019), which scores a point right
//! after inserting it.
//!
//! anomex's one change to the defaults: `tree_size=auto` (the default) is at least 256 points
//! (the `rrcf` example's) and two periods of the training series, for the same reason as in
//! Half-Space Trees: a memory shorter than a cycle judges points against another phase of it.
//!
//! Cost: O(n_trees·depth·d) per point, depth ≈ log(tree_size) on average; state per tree about
//! `(2·tree_size + 1)·(28 + 16·d)` bytes with `d = columns·shingle`: 1.9 MB with the defaults
//! (40 trees of 256 points, one column, shingle 4); more where `auto` finds a long period.

use anomex_core::online::{check_scaling, invalid_state, unit_scaling, OnlineModel};
use anomex_core::{About, Frame, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

const NONE: u32 = u32::MAX;

/// One random cut tree over a sliding window, in arena form (node ids index every vector).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tree {
    dims: usize,
    rng: ChaCha8Rng,
    root: u32,
    parent: Vec<u32>,
    /// Children of a branch; `NONE` for a leaf.
    left: Vec<u32>,
    right: Vec<u32>,
    cut_dim: Vec<u32>,
    cut: Vec<f64>,
    /// Points under the node (a leaf counts its duplicates).
    count: Vec<u32>,
    /// Bounding box, `dims` values per node; a leaf's box is its point.
    lo: Vec<f64>,
    hi: Vec<f64>,
    free: Vec<u32>,
    /// The leaf of every remembered point, oldest first.
    order: VecDeque<u32>,
}

impl Tree {
    fn new(dims: usize, seed: u64) -> Tree {
        Tree {
            dims,
            rng: ChaCha8Rng::seed_from_u64(seed),
            root: NONE,
            parent: Vec::new(),
            left: Vec::new(),
            right: Vec::new(),
            cut_dim: Vec::new(),
            cut: Vec::new(),
            count: Vec::new(),
            lo: Vec::new(),
            hi: Vec::new(),
            free: Vec::new(),
            order: VecDeque::new(),
        }
    }

    fn boxed(&self, node: u32) -> std::ops::Range<usize> {
        let at = node as usize * self.dims;
        at..at + self.dims
    }

    fn alloc(&mut self) -> u32 {
        if let Some(id) = self.free.pop() {
            return id;
        }
        let id = self.parent.len() as u32;
        self.parent.push(NONE);
        self.left.push(NONE);
        self.right.push(NONE);
        self.cut_dim.push(0);
        self.cut.push(0.0);
        self.count.push(0);
        self.lo.extend(std::iter::repeat_n(0.0, self.dims));
        self.hi.extend(std::iter::repeat_n(0.0, self.dims));
        id
    }

    fn new_leaf(&mut self, point: &[f64]) -> u32 {
        let id = self.alloc();
        let b = self.boxed(id);
        self.lo[b.clone()].copy_from_slice(point);
        self.hi[b].copy_from_slice(point);
        self.left[id as usize] = NONE;
        self.right[id as usize] = NONE;
        self.count[id as usize] = 1;
        id
    }

    fn is_leaf(&self, node: u32) -> bool {
        self.left[node as usize] == NONE
    }

    /// The leaf a point would fall into by following the cuts.
    fn descend(&self, point: &[f64]) -> u32 {
        let mut node = self.root;
        while !self.is_leaf(node) {
            let n = node as usize;
            node = if point[self.cut_dim[n] as usize] <= self.cut[n] {
                self.left[n]
            } else {
                self.right[n]
            };
        }
        node
    }

    fn replace_child(&mut self, parent: u32, old: u32, new: u32) {
        if parent == NONE {
            self.root = new;
        } else if self.left[parent as usize] == old {
            self.left[parent as usize] = new;
        } else {
            self.right[parent as usize] = new;
        }
        self.parent[new as usize] = parent;
    }

    /// Adds `delta` to the counts from `node` up to the root, widening boxes by `point` if given.
    fn update_upwards(&mut self, mut node: u32, delta: i64, point: Option<&[f64]>) {
        while node != NONE {
            let n = node as usize;
            self.count[n] = (i64::from(self.count[n]) + delta) as u32;
            if let Some(p) = point {
                let b = self.boxed(node);
                for (k, &v) in b.zip(p) {
                    self.lo[k] = self.lo[k].min(v);
                    self.hi[k] = self.hi[k].max(v);
                }
            }
            node = self.parent[n];
        }
    }

    /// Inserts a point and returns its leaf.
    fn insert(&mut self, point: &[f64]) -> u32 {
        if self.root == NONE {
            let leaf = self.new_leaf(point);
            self.parent[leaf as usize] = NONE;
            self.root = leaf;
            self.order.push_back(leaf);
            return leaf;
        }
        let near = self.descend(point);
        if self.lo[self.boxed(near)] == *point {
            self.update_upwards(near, 1, None);
            self.order.push_back(near);
            return near;
        }
        let mut node = self.root;
        let (dim, cut, point_left) = loop {
            let b = self.boxed(node);
            let extent: f64 = b
                .clone()
                .zip(point)
                .map(|(k, &v)| self.hi[k].max(v) - self.lo[k].min(v))
                .sum();
            let r = self.rng.random::<f64>() * extent;
            let (mut dim, mut acc) = (self.dims - 1, 0.0);
            for (j, (k, &v)) in b.clone().zip(point).enumerate() {
                acc += self.hi[k].max(v) - self.lo[k].min(v);
                if acc >= r {
                    dim = j;
                    break;
                }
            }
            let k = b.start + dim;
            let cut = self.lo[k].min(point[dim]) + acc - r;
            if cut <= self.lo[k] {
                break (dim, cut, true);
            }
            if cut >= self.hi[k] {
                break (dim, cut, false);
            }
            // The cut falls inside the box: it cannot separate the point here, so descend.
            let n = node as usize;
            node = if point[self.cut_dim[n] as usize] <= self.cut[n] {
                self.left[n]
            } else {
                self.right[n]
            };
        };
        let leaf = self.new_leaf(point);
        let branch = self.alloc();
        let (bi, ni) = (branch as usize, node as usize);
        let above = self.parent[ni];
        self.cut_dim[bi] = dim as u32;
        self.cut[bi] = cut;
        (self.left[bi], self.right[bi]) = if point_left {
            (leaf, node)
        } else {
            (node, leaf)
        };
        self.count[bi] = self.count[ni] + 1;
        let (bb, nb) = (self.boxed(branch), self.boxed(node));
        for ((kb, kn), &v) in bb.zip(nb).zip(point) {
            self.lo[kb] = self.lo[kn].min(v);
            self.hi[kb] = self.hi[kn].max(v);
        }
        self.replace_child(above, node, branch);
        self.parent[ni] = branch;
        self.parent[leaf as usize] = branch;
        self.update_upwards(above, 1, Some(point));
        self.order.push_back(leaf);
        leaf
    }

    /// Forgets the oldest remembered point.
    fn forget_oldest(&mut self) {
        let Some(leaf) = self.order.pop_front() else {
            return;
        };
        if self.count[leaf as usize] > 1 {
            self.update_upwards(leaf, -1, None);
            return;
        }
        let above = self.parent[leaf as usize];
        self.free.push(leaf);
        if above == NONE {
            self.root = NONE;
            return;
        }
        let a = above as usize;
        let sibling = if self.left[a] == leaf {
            self.right[a]
        } else {
            self.left[a]
        };
        let grand = self.parent[a];
        self.replace_child(grand, above, sibling);
        self.free.push(above);
        let mut node = grand;
        while node != NONE {
            let n = node as usize;
            self.count[n] -= 1;
            let (l, r) = (self.boxed(self.left[n]), self.boxed(self.right[n]));
            for ((k, kl), kr) in self.boxed(node).zip(l).zip(r) {
                self.lo[k] = self.lo[kl].min(self.lo[kr]);
                self.hi[k] = self.hi[kl].max(self.hi[kr]);
            }
            node = self.parent[n];
        }
    }

    /// Checks a tree read from outside: arena sizes, the tree hanging from the root with
    /// every node reached once (no cycle, no shared child), parents, counts and boxes that
    /// agree, the remembered points' leaves in the tree, and every other node free.
    fn check(&self, dims: usize, tree_size: usize) -> std::result::Result<(), String> {
        let n = self.parent.len();
        let sized = [
            self.left.len(),
            self.right.len(),
            self.cut_dim.len(),
            self.cut.len(),
            self.count.len(),
        ];
        if self.dims != dims
            || sized.iter().any(|&l| l != n)
            || Some(self.lo.len()) != n.checked_mul(dims)
            || Some(self.hi.len()) != n.checked_mul(dims)
            || n >= NONE as usize
        {
            return Err(format!("arena of {n} nodes with mismatched sizes"));
        }
        if self.order.len() > tree_size + 1 {
            return Err(format!(
                "{} points remembered for a tree of {tree_size}",
                self.order.len()
            ));
        }
        let mut seen = vec![false; n];
        let mut leaves_count = vec![0u64; n];
        if self.root != NONE {
            let root = self.root as usize;
            if root >= n || self.parent[root] != NONE {
                return Err("the root is out of range or has a parent".into());
            }
            let mut stack = vec![root];
            while let Some(node) = stack.pop() {
                if seen[node] {
                    return Err(format!("node {node} is reached twice"));
                }
                seen[node] = true;
                let b = node * dims..(node + 1) * dims;
                if b.clone().any(|k| {
                    !(self.lo[k] <= self.hi[k] && self.hi[k].is_finite() && self.lo[k].is_finite())
                }) {
                    return Err(format!("node {node}'s box is not a finite box"));
                }
                if self.left[node] == NONE {
                    if self.right[node] != NONE || self.count[node] == 0 {
                        return Err(format!("leaf {node} is malformed"));
                    }
                    continue;
                }
                let (l, r) = (self.left[node] as usize, self.right[node] as usize);
                if l >= n || r >= n || l == r {
                    return Err(format!("branch {node}'s children are out of range"));
                }
                if self.parent[l] as usize != node || self.parent[r] as usize != node {
                    return Err(format!("branch {node}'s children name another parent"));
                }
                if self.cut_dim[node] as usize >= dims || !self.cut[node].is_finite() {
                    return Err(format!("branch {node}'s cut is out of range"));
                }
                if u64::from(self.count[node])
                    != u64::from(self.count[l]) + u64::from(self.count[r])
                {
                    return Err(format!("branch {node}'s count is not its children's sum"));
                }
                stack.extend([l, r]);
            }
        }
        for &leaf in &self.order {
            let l = leaf as usize;
            if l >= n || !seen[l] || self.left[l] != NONE {
                return Err(format!(
                    "remembered point at node {leaf}, not a leaf of the tree"
                ));
            }
            leaves_count[l] += 1;
        }
        if (0..n)
            .any(|k| seen[k] && self.left[k] == NONE && leaves_count[k] != u64::from(self.count[k]))
        {
            return Err("a leaf's count differs from the points remembered there".into());
        }
        let mut free = vec![false; n];
        for &f in &self.free {
            let f = f as usize;
            if f >= n || seen[f] || free[f] {
                return Err(format!(
                    "free node {f} is in use, out of range or listed twice"
                ));
            }
            free[f] = true;
        }
        if (0..n).any(|k| !seen[k] && !free[k]) {
            return Err("a node is neither in the tree nor free".into());
        }
        Ok(())
    }

    /// Collusive displacement of a leaf.
    fn codisp(&self, leaf: u32) -> f64 {
        let mut node = leaf;
        let mut best: f64 = 0.0;
        loop {
            let above = self.parent[node as usize];
            if above == NONE {
                return best;
            }
            let a = above as usize;
            let sibling = if self.left[a] == node {
                self.right[a]
            } else {
                self.left[a]
            };
            best = best.max(
                f64::from(self.count[sibling as usize]) / f64::from(self.count[node as usize]),
            );
            node = above;
        }
    }
}

/// The forest with its shingle buffer and column scaling.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RandomCutForest {
    columns: usize,
    shingle: usize,
    tree_size: usize,
    low: Vec<f64>,
    span: Vec<f64>,
    /// The last `shingle` scaled rows, oldest first, flattened.
    recent: VecDeque<f64>,
    trees: Vec<Tree>,
}

anomex_core::params! {
    /// Parameters of Robust Random Cut Forest (defaults as the `rrcf` streaming example, but for
    /// the tree size).
    pub struct RrcfParams {
        /// trees in the forest
        pub n_trees: usize = 40, in 1..=1000;
        /// points each tree remembers; auto = two periods of the training series, at least 256
        pub tree_size: Option<usize> = None, in 2..=crate::MAX_WINDOW;
        /// consecutive rows joined into one point
        pub shingle: usize = 4, in 1..=1000;
        /// random seed; the same seed gives the same scores
        pub seed: u64 = 0, in 0..=i64::MAX;
    }
}

impl OnlineModel for RandomCutForest {
    type Params = RrcfParams;
    const ABOUT: About = About {
        name: "rrcf",
        class: "RRCF",
        summary: "Robust Random Cut Forest: collusive displacement in a sliding window (Guha et al. 2016)",
    };

    fn new(params: &RrcfParams, train: &Frame) -> Result<Self> {
        let shingle = params.shingle;
        let (low, span) = unit_scaling(train)?;
        let dims = train.cols() * shingle;
        let mut seeds = ChaCha8Rng::seed_from_u64(params.seed);
        let trees = (0..params.n_trees)
            .map(|_| Tree::new(dims, seeds.random()))
            .collect();
        Ok(RandomCutForest {
            columns: train.cols(),
            shingle,
            tree_size: crate::stream_memory(params.tree_size, 256, train),
            low,
            span,
            recent: VecDeque::with_capacity(dims),
            trees,
        })
    }

    fn n_columns(&self) -> usize {
        self.columns
    }

    fn check(&self) -> Result<()> {
        let dims = self.columns.saturating_mul(self.shingle);
        if self.columns == 0 || self.shingle == 0 || self.trees.is_empty() || self.tree_size < 2 {
            return Err(invalid_state(
                "rrcf",
                format!(
                    "{} columns, shingle {}, {} trees of {} points",
                    self.columns,
                    self.shingle,
                    self.trees.len(),
                    self.tree_size
                ),
            ));
        }
        check_scaling(&self.low, &self.span).map_err(|e| invalid_state("rrcf", e))?;
        if self.low.len() != self.columns || self.recent.len() > dims {
            return Err(invalid_state(
                "rrcf",
                "scaling or shingle buffer of the wrong size",
            ));
        }
        for (t, tree) in self.trees.iter().enumerate() {
            tree.check(dims, self.tree_size)
                .map_err(|e| invalid_state("rrcf", format!("tree {t}: {e}")))?;
        }
        Ok(())
    }

    fn update(&mut self, point: &[f64]) -> Option<f64> {
        let dims = self.columns * self.shingle;
        for (j, &v) in point.iter().enumerate() {
            self.recent.push_back((v - self.low[j]) / self.span[j]);
        }
        while self.recent.len() > dims {
            self.recent.pop_front();
        }
        if self.recent.len() < dims {
            return None;
        }
        let shingle: Vec<f64> = self.recent.iter().copied().collect();
        let mut total = 0.0;
        for tree in &mut self.trees {
            if tree.order.len() > self.tree_size {
                tree.forget_oldest();
            }
            let leaf = tree.insert(&shingle);
            total += tree.codisp(leaf);
        }
        Some(total / self.trees.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every branch's count is the sum of its children's and its box the union of theirs; the
    /// leaves' counts sum to the number of remembered points.
    fn check_invariants(t: &Tree) {
        let mut leaves = 0u32;
        let mut stack = vec![t.root];
        while let Some(node) = stack.pop() {
            if node == NONE {
                continue;
            }
            let n = node as usize;
            if t.is_leaf(node) {
                leaves += t.count[n];
                continue;
            }
            let (l, r) = (t.left[n], t.right[n]);
            assert_eq!(t.parent[l as usize], node);
            assert_eq!(t.parent[r as usize], node);
            assert_eq!(t.count[n], t.count[l as usize] + t.count[r as usize]);
            for ((k, kl), kr) in t.boxed(node).zip(t.boxed(l)).zip(t.boxed(r)) {
                assert_eq!(t.lo[k], t.lo[kl].min(t.lo[kr]));
                assert_eq!(t.hi[k], t.hi[kl].max(t.hi[kr]));
            }
            // The cut separates the children's boxes.
            let d = t.cut_dim[n] as usize;
            assert!(t.hi[t.boxed(l).start + d] <= t.cut[n]);
            assert!(t.lo[t.boxed(r).start + d] > t.cut[n]);
            stack.extend([l, r]);
        }
        assert_eq!(leaves as usize, t.order.len());
    }

    #[test]
    fn sliding_window_keeps_the_tree_consistent() {
        let mut t = Tree::new(2, 7);
        for i in 0..2000u32 {
            // Repeats on purpose: duplicates share a leaf.
            let p = [f64::from(i % 97), f64::from((i * 31) % 13)];
            if t.order.len() > 64 {
                t.forget_oldest();
            }
            let leaf = t.insert(&p);
            assert_eq!(t.lo[t.boxed(leaf)], p);
            if i % 50 == 0 {
                check_invariants(&t);
                assert_eq!(t.check(2, 64), Ok(()));
            }
        }
        check_invariants(&t);
        assert_eq!(t.order.len(), 65);
    }

    #[test]
    fn crafted_trees_are_refused_before_they_can_loop_or_panic() {
        let mut t = Tree::new(1, 3);
        for i in 0..40 {
            t.insert(&[f64::from(i % 11)]);
        }
        assert_eq!(t.check(1, 64), Ok(()));
        let root = t.root as usize;
        let child = t.left[root] as usize;
        let mut cycle = t.clone();
        cycle.left[child] = t.root; // a branch pointing back at the root
        let mut wrong_parent = t.clone();
        wrong_parent.parent[child] = NONE;
        let mut lost_leaf = t.clone();
        lost_leaf.order.push_back(t.root);
        let mut bad_dim = t.clone();
        bad_dim.cut_dim[root] = 5;
        let mut short = t.clone();
        short.count.pop();
        for (what, tree) in [
            ("cycle", cycle),
            ("parent", wrong_parent),
            ("remembered", lost_leaf),
            ("cut", bad_dim),
            ("sizes", short),
        ] {
            assert!(tree.check(1, 64).is_err(), "{what} accepted");
        }
        // and through the model's own check, as a model file would be read
        let frame = Frame::from_series(&[0.0, 1.0, 2.0]).unwrap_or_else(|e| panic!("{e}"));
        let params = RrcfParams {
            tree_size: Some(64),
            shingle: 1,
            ..RrcfParams::default()
        };
        let mut forest = RandomCutForest::new(&params, &frame).unwrap_or_else(|e| panic!("{e}"));
        for i in 0..50 {
            forest.update(&[f64::from(i % 7)]);
        }
        assert!(forest.check().is_ok());
        let root = forest.trees[3].root;
        forest.trees[3].left[root as usize] = root;
        let e = forest.check().unwrap_err().to_string();
        assert!(e.contains("invalid rrcf state: tree 3"), "{e}");
    }

    #[test]
    fn codisp_of_an_isolated_point_exceeds_that_of_a_clustered_one() {
        let mut t = Tree::new(1, 1);
        for i in 0..100 {
            t.insert(&[f64::from(i) * 0.01]);
        }
        let far = t.insert(&[50.0]);
        let inside = t.insert(&[0.505]);
        let (far, inside) = (t.codisp(far), t.codisp(inside));
        assert!(far > 10.0 * inside, "{far} vs {inside}");
    }
}
