//! Log-parsing accuracy: how well a parser's groups of lines agree with ground-truth events.
//!
//! As the Loghub benchmark computes them (Zhu et al., "Tools and Benchmarks for Automated Log
//! Parsing", ICSE-SEIP 2019; logpai/logparser `utils/evaluator.py`):
//! - **grouping accuracy**: the share of lines whose parsed group holds exactly the lines of
//!   their true event (a group that mixes two events, or one event split over two groups,
//!   counts none of its lines);
//! - **pairwise precision, recall and F-measure**: over pairs of lines, "same parsed group"
//!   against "same true event".
//!
//! Groups and events are any hashable ids; the reference identifies a parsed group by its
//! template text, so parsers' groups with equal templates count as one.

use anomex_core::{Error, Result};
use std::collections::HashMap;
use std::hash::Hash;

/// The Loghub benchmark's parsing scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParsingAccuracy {
    /// Grouping accuracy (the headline figure).
    pub accuracy: f64,
    /// Pairwise precision.
    pub precision: f64,
    /// Pairwise recall.
    pub recall: f64,
    /// Pairwise F-measure.
    pub f_measure: f64,
}

fn pairs(n: u64) -> f64 {
    (n * n.saturating_sub(1) / 2) as f64
}

/// Scores parsed groups against true events, line by line (`truth[i]`, `parsed[i]` belong to
/// line `i`). Errors when the lengths differ or there are no lines. Where the reference divides
/// by zero (no two lines share a group or an event) the pairwise scores are NaN.
pub fn parsing_accuracy<T: Hash + Eq, P: Hash + Eq>(
    truth: &[T],
    parsed: &[P],
) -> Result<ParsingAccuracy> {
    if truth.len() != parsed.len() {
        return Err(Error::input(format!(
            "{} true events but {} parsed groups",
            truth.len(),
            parsed.len()
        )));
    }
    if truth.is_empty() {
        return Err(Error::input("no lines to score"));
    }
    let mut truth_ids: HashMap<&T, usize> = HashMap::new();
    let truth_idx: Vec<usize> = truth
        .iter()
        .map(|t| {
            let next = truth_ids.len();
            *truth_ids.entry(t).or_insert(next)
        })
        .collect();
    let mut truth_size = vec![0u64; truth_ids.len()];
    for &t in &truth_idx {
        truth_size[t] += 1;
    }
    // for each parsed group: how many of its lines fall in each true event
    let mut groups: HashMap<&P, HashMap<usize, u64>> = HashMap::new();
    for (p, &t) in parsed.iter().zip(&truth_idx) {
        *groups.entry(p).or_default().entry(t).or_default() += 1;
    }
    let real_pairs: f64 = truth_size.iter().map(|&n| pairs(n)).sum();
    let (mut parsed_pairs, mut accurate_pairs, mut accurate_lines) = (0.0, 0.0, 0u64);
    for events in groups.values() {
        let size: u64 = events.values().sum();
        parsed_pairs += pairs(size);
        accurate_pairs += events.values().map(|&n| pairs(n)).sum::<f64>();
        if events.len() == 1 {
            let (&event, &n) = events.iter().next().expect("a group has a line");
            if truth_size[event] == n {
                accurate_lines += n;
            }
        }
    }
    let precision = accurate_pairs / parsed_pairs;
    let recall = accurate_pairs / real_pairs;
    Ok(ParsingAccuracy {
        accuracy: accurate_lines as f64 / truth.len() as f64,
        precision,
        recall,
        f_measure: 2.0 * precision * recall / (precision + recall),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_split_and_merged_groupings() {
        let truth = ["E1", "E1", "E2", "E3", "E3"];
        let same = parsing_accuracy(&truth, &[7, 7, 8, 9, 9]).unwrap();
        assert_eq!(same.accuracy, 1.0);
        assert_eq!(same.f_measure, 1.0);
        // E3 split over two groups: its two lines are wrong; E1 and E2 right
        let split = parsing_accuracy(&truth, &[7, 7, 8, 9, 10]).unwrap();
        assert!((split.accuracy - 0.6).abs() < 1e-12);
        assert_eq!(split.precision, 1.0);
        assert!((split.recall - 0.5).abs() < 1e-12);
        // E2 and E3 merged: only E1's lines are right; 3 parsed pairs, 1 of them wrong… of
        // pairs (1 + 3) parsed, (1 + 1) accurate
        let merged = parsing_accuracy(&truth, &[7, 7, 8, 8, 8]).unwrap();
        assert!((merged.accuracy - 0.4).abs() < 1e-12);
        assert!((merged.precision - 0.5).abs() < 1e-12);
        assert_eq!(merged.recall, 1.0);
    }

    #[test]
    fn mismatched_or_empty_inputs_are_errors() {
        assert!(parsing_accuracy(&[1, 2], &[1]).is_err());
        assert!(parsing_accuracy::<u8, u8>(&[], &[]).is_err());
    }
}
