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
//!
//! [`NGramDetector`] is the same model as the registry's `ngram` event detector: fitted on a
//! sequence of template ids, it scores each id as it arrives and, unless `learn=false`, learns
//! from it afterwards (prequential), so a stream's new normal stops surprising it.

use crate::drain::TemplateId;
use anomex_core::online::OnlineModel;
use anomex_core::{About, DataKind, Error, Frame, Result};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Counts after one context.
#[derive(Debug, Clone, Default)]
struct Followers {
    total: u64,
    next: FxHashMap<TemplateId, u64>,
}

/// An n-gram next-template model (see the module documentation).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "Saved", into = "Saved")]
pub struct NGram {
    /// Longest context, in templates (DeepLog's history length h).
    history: usize,
    /// Smoothing strength α.
    alpha: f64,
    /// Context (oldest first, 0 to `history` templates) → what followed it.
    contexts: FxHashMap<Vec<TemplateId>, Followers>,
}

/// An [`NGram`] as saved: contexts as a sorted list (a JSON map's keys are text, and a sorted
/// list saves the same model as the same bytes), checked when read back (a model file may be
/// crafted).
#[derive(Serialize, Deserialize)]
struct Saved {
    history: usize,
    alpha: f64,
    contexts: Vec<SavedContext>,
}

/// A context, how often it was seen, and what followed it how often.
type SavedContext = (Vec<TemplateId>, u64, Vec<(TemplateId, u64)>);

impl From<NGram> for Saved {
    fn from(m: NGram) -> Saved {
        let mut contexts: Vec<_> = m
            .contexts
            .into_iter()
            .map(|(c, f)| {
                let mut next: Vec<(TemplateId, u64)> = f.next.into_iter().collect();
                next.sort_unstable();
                (c, f.total, next)
            })
            .collect();
        contexts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Saved {
            history: m.history,
            alpha: m.alpha,
            contexts,
        }
    }
}

impl TryFrom<Saved> for NGram {
    type Error = Error;
    fn try_from(saved: Saved) -> Result<Self> {
        let mut model = NGram::new(saved.history, saved.alpha)?;
        let bad = |what: String| Error::input(format!("invalid n-gram model: {what}"));
        for (context, total, next) in saved.contexts {
            if context.len() > saved.history {
                return Err(bad(format!(
                    "a context of {} templates for history {}",
                    context.len(),
                    saved.history
                )));
            }
            let sum = next.iter().try_fold(0u64, |a, &(_, n)| a.checked_add(n));
            if sum != Some(total) {
                return Err(bad(format!(
                    "context {context:?} counts {total} but its followers add up to {sum:?}"
                )));
            }
            let followers = Followers {
                total,
                next: next.into_iter().collect(),
            };
            if model.contexts.insert(context, followers).is_some() {
                return Err(bad("a context is listed twice".into()));
            }
        }
        Ok(model)
    }
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
            self.observe(&sequence[..t], x, usize::MAX);
        }
    }

    /// Learns that `x` followed `context` (its last `history` templates). New contexts are
    /// added while the model holds fewer than `max_contexts`; after that only the known ones
    /// count, so a stream of ever new orders cannot grow the model without bound.
    pub fn observe(&mut self, context: &[TemplateId], x: TemplateId, max_contexts: usize) {
        let context = &context[context.len().saturating_sub(self.history)..];
        for from in 0..=context.len() {
            let key = &context[from..];
            if !self.contexts.contains_key(key) {
                if self.contexts.len() >= max_contexts {
                    continue;
                }
                self.contexts.insert(key.to_vec(), Followers::default());
            }
            if let Some(f) = self.contexts.get_mut(key) {
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

anomex_core::params! {
    /// The `ngram` event detector's settings.
    pub struct NGramParams {
        /// templates of context the next one is predicted from (DeepLog's h)
        pub history: usize = 3, in 1..=64;
        /// smoothing strength: how far a context's counts lean on the shorter context's
        pub alpha: f64 = 1.0, in 1e-6..=1e6;
        /// keep learning from what it scores (prequential); false freezes the fitted model
        pub learn: bool = true;
        /// most contexts kept; beyond them only known contexts are counted
        pub max_contexts: usize = 100_000, in 1..=100_000_000;
    }
}

/// The n-gram model as an online event detector (registry name `ngram`; see the module
/// documentation): each template id scores its surprisal given the ids before it, then is
/// learned unless the model is frozen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NGramDetector {
    model: NGram,
    /// The last `history` ids.
    context: VecDeque<TemplateId>,
    /// Whether scoring also learns: true while fitting, then the `learn` parameter.
    learning: bool,
    learn_after_fit: bool,
    max_contexts: usize,
}

impl OnlineModel for NGramDetector {
    type Params = NGramParams;
    const ABOUT: About = About {
        name: "ngram",
        class: "NGram",
        summary: "n-gram next-event model: each event's surprisal given the events before it \
                  (interpolated smoothing; the CPU-light counterpart of DeepLog, Du et al. 2017)",
    };
    const DATA: DataKind = DataKind::Events;

    fn new(p: &NGramParams, train: &Frame) -> Result<Self> {
        if train.cols() != 1 {
            return Err(Error::input(format!(
                "ngram reads one column of event codes, got {} columns",
                train.cols()
            )));
        }
        Ok(Self {
            model: NGram::new(p.history, p.alpha)?,
            context: VecDeque::with_capacity(p.history + 1),
            learning: true,
            learn_after_fit: p.learn,
            max_contexts: p.max_contexts,
        })
    }

    fn n_columns(&self) -> usize {
        1
    }

    fn update(&mut self, point: &[f64]) -> Option<f64> {
        // a code, checked by the caller; saturating keeps a bad one from wrapping
        let x = point.first().map_or(0, |&v| v as TemplateId);
        let context = self.context.make_contiguous();
        let score = -self.model.probability(context, x).ln();
        if self.learning {
            self.model.observe(context, x, self.max_contexts);
        }
        self.context.push_back(x);
        while self.context.len() > self.model.history {
            self.context.pop_front();
        }
        Some(score)
    }

    fn fitted(&mut self) {
        self.learning = self.learn_after_fit;
    }

    fn check(&self) -> Result<()> {
        // the model's own settings and contexts are checked as it is read ([`NGram`]'s
        // `TryFrom`); the bound on contexts is what is left
        if self.max_contexts == 0 {
            return Err(anomex_core::online::invalid_state(
                "ngram",
                "max_contexts is 0",
            ));
        }
        Ok(())
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
    fn a_saved_model_reads_back_the_same_and_a_crafted_one_is_named() {
        let mut m = NGram::new(2, 0.5).unwrap();
        m.fit(&[0, 1, 2, 0, 1, 3, 0, 1, 2]);
        let text = serde_json::to_string(&m).unwrap();
        let back: NGram = serde_json::from_str(&text).unwrap();
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            text,
            "same model, same bytes"
        );
        for (ctx, x) in [(&[0, 1][..], 2), (&[1][..], 3), (&[][..], 7)] {
            assert_eq!(m.probability(ctx, x), back.probability(ctx, x));
        }
        let crafted = text.replacen("\"history\":2", "\"history\":1", 1);
        let e = serde_json::from_str::<NGram>(&crafted)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a context of 2 templates for history 1"), "{e}");
        let e =
            serde_json::from_str::<NGram>(r#"{"history":1,"alpha":1,"contexts":[[[],5,[[0,1]]]]}"#)
                .unwrap_err()
                .to_string();
        assert!(e.contains("add up to"), "{e}");
    }

    #[test]
    fn bad_settings_are_named() {
        assert!(NGram::new(0, 1.0).is_err());
        assert!(NGram::new(3, 0.0).is_err());
    }
}
