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
use crate::{check, check_pred, python_max, tsb_thresholds, Compat};
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
///
/// Counted without building the 100 predictions: after adjustment a segment is wholly detected
/// exactly when its highest score is above the threshold (less its first point in reference mode,
/// when that point is not itself above it), and false positives are the normal points above the
/// threshold, counted for all thresholds in one pass: O(n + 100 · #segments).
pub fn pa_f1(labels: &[bool], scores: &[f64], compat: Compat) -> Result<f64> {
    check(labels, scores)?;
    let sweep = Sweep::new(labels, scores);
    let segs: Vec<(usize, usize, f64)> = segments(labels)
        .into_iter()
        .map(|(a, b)| (a, b, max_of(&scores[a..=b])))
        .collect();
    let positives = sweep.positives;
    Ok(python_max(sweep.thresholds.iter().enumerate().map(
        |(j, &t)| {
            let tp: usize = segs
                .iter()
                .filter(|&&(_, _, m)| m > t)
                .map(|&(a, b, _)| {
                    let quirk = compat == Compat::Reference && a == 0 && scores[0] <= t;
                    b - a + 1 - usize::from(quirk)
                })
                .sum();
            let fp = sweep.above[j] - sweep.anomalous_above[j];
            Counts {
                tp,
                fp,
                fn_: positives - tp,
                tn: 0,
            }
            .f1()
        },
    )))
}

/// Counts of scores above each of TSB-AD's thresholds, overall and among anomalous points,
/// bucketed in one pass (no sort).
struct Sweep {
    thresholds: Vec<f64>,
    /// `above[j]`: scores strictly above threshold `j`; `anomalous_above[j]` likewise.
    above: Vec<usize>,
    anomalous_above: Vec<usize>,
    positives: usize,
}

impl Sweep {
    fn new(labels: &[bool], scores: &[f64]) -> Sweep {
        let thresholds = tsb_thresholds(scores);
        let m = thresholds.len();
        let (lo, hi) = (thresholds[0], thresholds[m - 1]);
        let step = (hi - lo) / (m - 1) as f64;
        // bucket[k]: scores above exactly the first k thresholds
        let mut all = vec![0usize; m + 1];
        let mut anomalous = vec![0usize; m + 1];
        for (&s, &l) in scores.iter().zip(labels) {
            let mut k = if step > 0.0 {
                (((s - lo) / step).floor().max(0.0) as usize).min(m)
            } else {
                0
            };
            // the estimate can be off by one next to a threshold: settle it on the exact values
            while k > 0 && s <= thresholds[k - 1] {
                k -= 1;
            }
            while k < m && s > thresholds[k] {
                k += 1;
            }
            all[k] += 1;
            if l {
                anomalous[k] += 1;
            }
        }
        let suffix = |counts: &[usize]| -> Vec<usize> {
            // above threshold j: every bucket k > j
            let mut out = vec![0usize; m];
            let mut acc = 0;
            for j in (0..m).rev() {
                acc += counts[j + 1];
                out[j] = acc;
            }
            out
        };
        Sweep {
            above: suffix(&all),
            anomalous_above: suffix(&anomalous),
            positives: labels.iter().filter(|&&l| l).count(),
            thresholds,
        }
    }
}

fn max_of(x: &[f64]) -> f64 {
    x.iter().copied().fold(f64::NEG_INFINITY, f64::max)
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
///
/// An event is detected exactly when its highest score is above the threshold, and the point
/// precision needs only the counts of scores above it: O(n + 100 · #events).
pub fn event_f1(labels: &[bool], scores: &[f64], compat: Compat) -> Result<f64> {
    check(labels, scores)?;
    let sweep = Sweep::new(labels, scores);
    // an event the reference stores with end < start is never detected
    let maxima: Vec<f64> = events(labels, compat)
        .into_iter()
        .map(|(a, b)| {
            if b == usize::MAX || a > b {
                f64::NEG_INFINITY
            } else {
                max_of(&scores[a..=b])
            }
        })
        .collect();
    Ok(python_max(sweep.thresholds.iter().enumerate().map(
        |(j, &t)| {
            let detected = maxima.iter().filter(|&&m| m > t).count();
            let recall = detected as f64 / maxima.len() as f64;
            let predicted = sweep.above[j];
            let tp = sweep.anomalous_above[j];
            let precision = if predicted == 0 {
                0.0
            } else {
                tp as f64 / predicted as f64
            };
            2.0 * recall * precision / (recall + precision + 1e-15)
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep;

    /// The definitions, one prediction per threshold, to check the counted sweeps against.
    fn slow(labels: &[bool], scores: &[f64], compat: Compat) -> (f64, f64) {
        let ev = events(labels, compat);
        (
            sweep(scores, |p| {
                Counts::of(labels, &adjust(labels, p, compat)).f1()
            }),
            sweep(scores, |p| event_f1_of(labels, p, &ev)),
        )
    }

    #[test]
    fn counted_sweeps_equal_the_definitions() {
        let mut state = 12345u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        for n in [5usize, 30, 200] {
            for round in 0..20 {
                let labels: Vec<bool> = (0..n)
                    .map(|i| (i * 7 + round) % 11 < 3 || next() < 0.05)
                    .collect();
                // integer scores: many ties with the thresholds
                let scores: Vec<f64> = labels
                    .iter()
                    .map(|&l| ((next() * 5.0) as u32 + if l { 2 } else { 0 }) as f64)
                    .collect();
                for compat in [Compat::Correct, Compat::Reference] {
                    let (pa, ev) = slow(&labels, &scores, compat);
                    assert_eq!(
                        pa_f1(&labels, &scores, compat).unwrap(),
                        pa,
                        "n={n} {compat:?}"
                    );
                    let fast = event_f1(&labels, &scores, compat).unwrap();
                    assert!(
                        fast == ev || (fast.is_nan() && ev.is_nan()),
                        "n={n} {compat:?} {fast} {ev}"
                    );
                }
            }
        }
    }

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
