//! Range-based precision, recall and F1 (Tatbul et al., "Precision and Recall for Time Series",
//! NeurIPS 2018) as TSB-AD 1.5's `metric_RF1` computes them: recall with existence weight
//! α = 0.2, precision with α = 0, flat positional bias, reciprocal cardinality. Segments are
//! found as TSB-AD's `range_convers_new` finds them ([`tsb_segments`]), so an all-anomalous label
//! vector has no segment and a recall of 0.
//!
//! Cost: O(n) per prediction (TSB-AD tests membership point by point against the whole list of
//! predicted positions).

use crate::prts::{range_score, Bias, Cardinality};
use crate::segments::tsb_segments;
use crate::{check, check_pred, sweep};
use anomex_core::Result;

/// TSB-AD's `range_recall_new(real, pred, alpha)`: the mean over `real`'s segments of
/// `α·existence + (1 − α)·overlap·cardinality`, with overlap the fraction of the segment's points
/// predicted and cardinality 1 / (number of predicted segments it overlaps). 0 with no segment.
/// This is prts' recall with reciprocal cardinality and flat bias, on TSB-AD's segments.
pub fn range_recall(real: &[bool], pred: &[bool], alpha: f64) -> f64 {
    range_score(
        &tsb_segments(real),
        &tsb_segments(pred),
        alpha,
        Cardinality::Reciprocal,
        Bias::Flat,
    )
}

/// Range-based F1 of a fixed prediction (recall α = 0.2, precision α = 0); 0 when both are 0.
pub fn range_f1_pred(labels: &[bool], pred: &[bool]) -> Result<f64> {
    check_pred(labels, pred)?;
    Ok(range_f1_of(labels, pred))
}

fn range_f1_of(labels: &[bool], pred: &[bool]) -> f64 {
    let recall = range_recall(labels, pred, 0.2);
    let precision = range_recall(pred, labels, 0.0);
    if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * recall * precision / (precision + recall)
    }
}

/// Best range-based F1 over TSB-AD's 100 thresholds.
pub fn range_f1(labels: &[bool], scores: &[f64]) -> Result<f64> {
    check(labels, scores)?;
    Ok(sweep(scores, |pred| range_f1_of(labels, pred)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinality_and_overlap() {
        // one real segment of 4 points, two predicted segments covering 2 of them
        let real = [false, true, true, true, true, false];
        let pred = [false, true, false, true, false, false];
        // α·1 + (1−α)·(2/4)·(1/2)
        let r = range_recall(&real, &pred, 0.2);
        assert!((r - (0.2 + 0.8 * 0.5 * 0.5)).abs() < 1e-15);
        // precision: each predicted point lies in the real segment, each overlaps one real segment
        assert!((range_recall(&pred, &real, 0.0) - 1.0).abs() < 1e-15);
        assert_eq!(range_recall(&[true, true], &[true, true], 0.2), 0.0);
    }
}
