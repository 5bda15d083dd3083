//! A next-template model over template sequences: how surprising is each line given the lines
//! before it.
//!
//! DeepLog (Du, Li, Zheng and Srikumar, CCS 2017) learns P(next template | previous h
//! templates) from normal logs with an LSTM and flags a line whose template is not among the k
//! most likely. An n-gram model estimates the same conditional distribution by counting, at a
//! fraction of the cost and with no training loop — the "lightweight" model for machines
//! without a GPU, and the baseline DeepLog itself is compared against.
//!
//! Estimate: interpolated (hierarchical Dirichlet) smoothing, from the empty context up —
//! P(x | c) = (n(c, x) + α · P(x | c′)) / (n(c) + α), with c′ the context without its oldest
//! template; the empty context's base is add-one over the known templates plus one slot for
//! every template never seen in training. Scores are surprisals, −ln P(x | c): a line of an
//! unseen template or in an unseen order scores high, one the model expects scores near 0.
//! [`NGram::rank`] gives DeepLog's top-k rule on the same model.

use crate::drain::TemplateId;
use anomex_core::{Error, Result};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Counts after one context.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Followers {
    total: u64,
    next: FxHashMap<TemplateId, u64>,
}

/// An n-gram next-template model (see the module documentation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NGram {
    /// Longest context, in templates (DeepLog's history length h).
    history: usize,
    /// Smoothing strength α.
    alpha: f64,
    /// Context (oldest first, 0 to `history` templates) → what followed it.
    contexts: FxHashMap<Vec<TemplateId>, Followers>,
}

impl NGram {
    /// An empty model with contexts of up to `history` templates (at least 1) and smoothing α.
    pub fn new(history: usize, alpha: f64) -> Result<Self> {
        if history == 0 || history > 64 {
            return Err(Error::param(
                "history",
                format!("must be in 1..=64, got {history}"),
            ));
        }
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(Error::param(
                "alpha",
                format!("must be positive, got {alpha}"),
            ));
        }
        Ok(Self {
            history,
            alpha,
            contexts: FxHashMap::default(),
        })
    }

    /// Learns from one sequence of templates (a whole log, or one session).
    pub fn fit(&mut self, sequence: &[TemplateId]) {
        for (t, &x) in sequence.iter().enumerate() {
            let start = t.saturating_sub(self.history);
            for from in start..=t {
                let f = self.contexts.entry(sequence[from..t].to_vec()).or_default();
                f.total += 1;
                *f.next.entry(x).or_default() += 1;
            }
        }
    }

    /// P(x | the last `history` templates of `context`).
    pub fn probability(&self, context: &[TemplateId], x: TemplateId) -> f64 {
        let context = &context[context.len().saturating_sub(self.history)..];
        let unigram = self.contexts.get(&Vec::new());
        let total = unigram.map_or(0, |f| f.total) as f64;
        let seen = unigram.and_then(|f| f.next.get(&x)).copied().unwrap_or(0) as f64;
        let known = unigram.map_or(0, |f| f.next.len()) as f64;
        // add-one over the known templates and one slot for all unseen ones
        let mut p = (seen + 1.0) / (total + known + 1.0);
        for from in (0..context.len()).rev() {
            let Some(f) = self.contexts.get(&context[from..]) else {
                break;
            };
            let n = f.next.get(&x).copied().unwrap_or(0) as f64;
            p = (n + self.alpha * p) / (f.total as f64 + self.alpha);
        }
        p
    }

    /// Surprisal −ln P of every line of a sequence given the lines before it.
    pub fn score(&self, sequence: &[TemplateId]) -> Vec<f64> {
        (0..sequence.len())
            .map(|t| -self.probability(&sequence[..t], sequence[t]).ln())
            .collect()
    }

    /// DeepLog's rule: 1 + how many known templates the model finds more likely than `x` after
    /// `context` (a line is anomalous when its rank exceeds k).
    pub fn rank(&self, context: &[TemplateId], x: TemplateId) -> usize {
        let p = self.probability(context, x);
        let Some(unigram) = self.contexts.get(&Vec::new()) else {
            return 1;
        };
        1 + unigram
            .next
            .keys()
            .filter(|&&y| y != x && self.probability(context, y) > p)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_sum_to_one_over_known_and_unseen() {
        let mut m = NGram::new(2, 1.0).unwrap();
        m.fit(&[0, 1, 2, 0, 1, 2, 0, 1, 3]);
        for ctx in [&[][..], &[0], &[0, 1], &[2, 2]] {
            let known: f64 = (0..4).map(|x| m.probability(ctx, x)).sum();
            // the unseen slot takes what is left; every unseen template gets that slot's mass
            let unseen = m.probability(ctx, 99);
            assert!(
                (known + unseen - 1.0).abs() < 1e-12,
                "{ctx:?}: {known} + {unseen}"
            );
        }
    }

    #[test]
    fn the_expected_next_template_is_unsurprising_and_a_break_in_order_is() {
        let mut m = NGram::new(2, 0.5).unwrap();
        let normal: Vec<u32> = (0..300).map(|i| i % 3).collect();
        m.fit(&normal);
        let s = m.score(&[0, 1, 2, 0, 2, 1, 7]);
        assert!(s[2] < 0.1 && s[3] < 0.1, "{s:?}");
        assert!(s[4] > 3.0, "out of order: {s:?}");
        assert!(s[6] > 3.0, "an unseen template: {s:?}");
        // in one context, an unseen template is less likely than a known one out of order
        assert!(m.probability(&[0, 1], 7) < m.probability(&[0, 1], 0));
        assert_eq!(m.rank(&[0, 1], 2), 1);
        assert!(m.rank(&[0, 1], 0) > 1);
    }

    #[test]
    fn bad_settings_are_named() {
        assert!(NGram::new(0, 1.0).is_err());
        assert!(NGram::new(3, 0.0).is_err());
    }
}
