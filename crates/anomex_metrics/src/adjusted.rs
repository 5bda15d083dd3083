//! Point-adjusted F1 and event-based F1, as TSB-AD 1.5 computes them.
//!
//! Both sweep the 100 thresholds `linspace(min(S), max(S), 100)` with `pred = S > t` (strict) and
//! keep the best F1 (Python's `max`), or score one fixed prediction.
//!
//! Reference deviations, reproduced with [`Compat::Reference`]:
//! * PA-F1 (`_adjust_predicts`): the back-fill from the first detected point of a segment stops
//!   before index 0, so a segment that starts at 0 and is first hit later keeps point 0 as a miss.
//! * Event-F1 (`_get_events`): an event that runs to the last point is stored as ending one point
//!   early, so a hit on the last point alone does not detect it.

use crate::point::Counts;
use crate::segments::segments;
use crate::{check, check_pred, sweep, Compat};
use anomex_core::Result;

/// Point adjustment (Xu et al., WWW 2018): a segment with any predicted point counts as fully
/// predicted.
pub fn adjust(labels: &[bool], pred: &[bool], compat: Compat) -> Vec<bool> {
    let mut out = pred.to_vec();
    let mut in_detected_segment = false;
    let stop = match compat {
        Compat::Correct => 0,
        Compat::Reference => 1,
    };
    for i in 0..labels.len() {
        if labels[i] && out[i] && !in_detected_segment {
            in_detected_segment = true;
            let mut j = i;
            while j >= stop && labels[j] {
                out[j] = true;
                if j == 0 {
                    break;
                }
                j -= 1;
            }
        } else if !labels[i] {
            in_detected_segment = false;
        }
        if in_detected_segment {
            out[i] = true;
        }
    }
    out
}

/// Point-adjusted F1 of a fixed prediction.
pub fn pa_f1_pred(labels: &[bool], pred: &[bool], compat: Compat) -> Result<f64> {
    check_pred(labels, pred)?;
    Ok(Counts::of(labels, &adjust(labels, pred, compat)).f1())
}

/// Best point-adjusted F1 over TSB-AD's 100 thresholds.
pub fn pa_f1(labels: &[bool], scores: &[f64], compat: Compat) -> Result<f64> {
    check(labels, scores)?;
    Ok(sweep(scores, |pred| {
        Counts::of(labels, &adjust(labels, pred, compat)).f1()
    }))
}

/// The labelled events as TSB-AD's `_get_events` stores them (see the module docs).
fn events(labels: &[bool], compat: Compat) -> Vec<(usize, usize)> {
    let n = labels.len();
    segments(labels)
        .into_iter()
        .map(|(a, b)| match compat {
            // `end = tim − 1` with `tim` the last index; for a one-point final event this makes
            // end < start and the event can never be detected
            Compat::Reference if b == n - 1 => (a, b.wrapping_sub(1)),
            _ => (a, b),
        })
        .collect()
}

fn event_f1_of(labels: &[bool], pred: &[bool], events: &[(usize, usize)]) -> f64 {
    let detected = events
        .iter()
        .filter(|&&(a, b)| b != usize::MAX && a <= b && pred[a..=b].iter().any(|&p| p))
        .count();
    // 0/0 = NaN without events, as the reference's numpy division
    let recall = detected as f64 / events.len() as f64;
    let precision = Counts::of(labels, pred).precision();
    2.0 * recall * precision / (recall + precision + 1e-15)
}

/// Event-based F1 of a fixed prediction: recall over events (an event is detected when any of its
/// points is predicted), precision over points; `2PR / (P + R + 1e-15)`. NaN without events.
pub fn event_f1_pred(labels: &[bool], pred: &[bool], compat: Compat) -> Result<f64> {
    check_pred(labels, pred)?;
    Ok(event_f1_of(labels, pred, &events(labels, compat)))
}

/// Best event-based F1 over TSB-AD's 100 thresholds.
pub fn event_f1(labels: &[bool], scores: &[f64], compat: Compat) -> Result<f64> {
    check(labels, scores)?;
    let ev = events(labels, compat);
    Ok(sweep(scores, |pred| event_f1_of(labels, pred, &ev)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjustment_and_its_index_zero_quirk() {
        let labels = [true, true, true, false, true, true];
        let pred = [false, true, false, false, false, false];
        assert_eq!(
            adjust(&labels, &pred, Compat::Correct),
            vec![true, true, true, false, false, false]
        );
        assert_eq!(
            adjust(&labels, &pred, Compat::Reference),
            vec![false, true, true, false, false, false]
        );
    }

    #[test]
    fn final_single_point_event() {
        let labels = [false, false, true, false, true];
        let pred = [false, false, true, false, true];
        let correct = event_f1_pred(&labels, &pred, Compat::Correct).unwrap();
        let reference = event_f1_pred(&labels, &pred, Compat::Reference).unwrap();
        assert!((correct - 1.0).abs() < 1e-14);
        // only one of the two events is detected by the reference: recall 0.5, precision 1
        assert!((reference - 2.0 * 0.5 / 1.5).abs() < 1e-14);
        assert!(
            event_f1_pred(&[false, false], &[true, false], Compat::Correct)
                .unwrap()
                .is_nan()
        );
    }
}
