//! PA%K and detection delay.
//!
//! **PA%K** (Kim, Choi, Choi, Lee & Yoon, "Towards a Rigorous Evaluation of Time-Series Anomaly
//! Detection", AAAI 2022): a labelled segment counts as wholly detected only when more than `K`
//! (a fraction in [0, 1]) of its points are predicted; `K = 0` is point adjustment, `K = 1` no
//! adjustment. For scores, the F1 at each `K` is the best over TSB-AD's 100 thresholds, and the
//! summary is the area under F1(K) for `K = 0, 0.01, …, 1` (trapezoids), as the paper reports it.
//!
//! **Mean time to detect**: for every labelled segment with a predicted point, the number of
//! points from the segment's start to its first predicted point; segments without a prediction
//! are counted as missed, not in the mean.

use crate::point::Counts;
use crate::segments::segments;
use crate::{check, check_pred, linspace, sweep, tsb_thresholds};
use anomex_core::{Error, Result};

fn check_k(k: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&k) {
        return Err(Error::param("k", format!("{k} is outside [0, 1]")));
    }
    Ok(())
}

/// The prediction with every segment whose detected fraction exceeds `k` filled in.
pub fn adjust_k(labels: &[bool], pred: &[bool], k: f64) -> Vec<bool> {
    let mut out = pred.to_vec();
    for (a, b) in segments(labels) {
        let hits = pred[a..=b].iter().filter(|&&p| p).count();
        if hits as f64 / (b - a + 1) as f64 > k {
            out[a..=b].iter_mut().for_each(|p| *p = true);
        }
    }
    out
}

/// F1 of a prediction after PA%K adjustment.
pub fn pa_k_f1_pred(labels: &[bool], pred: &[bool], k: f64) -> Result<f64> {
    check_pred(labels, pred)?;
    check_k(k)?;
    Ok(Counts::of(labels, &adjust_k(labels, pred, k)).f1())
}

/// Best PA%K F1 over TSB-AD's 100 thresholds.
pub fn pa_k_f1(labels: &[bool], scores: &[f64], k: f64) -> Result<f64> {
    check(labels, scores)?;
    check_k(k)?;
    Ok(sweep(scores, |pred| {
        Counts::of(labels, &adjust_k(labels, pred, k)).f1()
    }))
}

/// Area under the PA%K F1 curve over `K = 0, 0.01, …, 1`.
///
/// Each threshold's prediction is counted once; the adjustment for every `K` then only needs the
/// per-segment hit counts, so the cost is O(100 · (n + 101 · #segments)).
pub fn pa_k_auc(labels: &[bool], scores: &[f64]) -> Result<f64> {
    check(labels, scores)?;
    let ks = linspace(0.0, 1.0, 101);
    let segs = segments(labels);
    let positives = labels.iter().filter(|&&l| l).count();
    let mut best = vec![f64::NAN; ks.len()];
    for (round, t) in tsb_thresholds(scores).into_iter().enumerate() {
        let pred: Vec<bool> = scores.iter().map(|&s| s > t).collect();
        let base = Counts::of(labels, &pred);
        let hits: Vec<usize> = segs
            .iter()
            .map(|&(a, b)| pred[a..=b].iter().filter(|&&p| p).count())
            .collect();
        for (k, best_k) in ks.iter().zip(best.iter_mut()) {
            let gained: usize = segs
                .iter()
                .zip(&hits)
                .filter(|(&(a, b), &h)| h as f64 / (b - a + 1) as f64 > *k)
                .map(|(&(a, b), &h)| (b - a + 1) - h)
                .sum();
            let tp = base.tp + gained;
            let f1 = Counts {
                tp,
                fp: base.fp,
                fn_: positives - tp,
                tn: base.tn,
            }
            .f1();
            // Python's max over the thresholds: the first value, then any strictly greater one
            if round == 0 || f1 > *best_k {
                *best_k = f1;
            }
        }
    }
    Ok(ks
        .windows(2)
        .zip(best.windows(2))
        .map(|(k, f)| (k[1] - k[0]) * (f[0] + f[1]) / 2.0)
        .sum())
}

/// Detection delays of a prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Delays {
    /// Per labelled segment: points from its start to the first prediction, `None` if missed.
    pub per_segment: Vec<Option<usize>>,
    /// Mean over detected segments; NaN when none is detected.
    pub mean: f64,
}

/// Mean time to detect (see the module docs).
pub fn time_to_detect(labels: &[bool], pred: &[bool]) -> Result<Delays> {
    check_pred(labels, pred)?;
    let per_segment: Vec<Option<usize>> = segments(labels)
        .into_iter()
        .map(|(a, b)| pred[a..=b].iter().position(|&p| p))
        .collect();
    let found: Vec<usize> = per_segment.iter().flatten().copied().collect();
    let mean = found.iter().sum::<usize>() as f64 / found.len() as f64;
    Ok(Delays { per_segment, mean })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_bounds_behave_as_defined() {
        let labels = [false, true, true, true, true, false];
        let pred = [false, false, true, false, false, false];
        // 1 of 4 detected: more than 20 %, not more than 25 %
        assert_eq!(
            adjust_k(&labels, &pred, 0.2),
            [false, true, true, true, true, false]
        );
        assert_eq!(adjust_k(&labels, &pred, 0.25), pred);
        assert_eq!(pa_k_f1_pred(&labels, &pred, 0.0).unwrap(), 1.0);
        assert!(pa_k_f1_pred(&labels, &pred, 1.5).is_err());
    }

    #[test]
    fn fast_auc_equals_the_definition() {
        let labels: Vec<bool> = (0..300)
            .map(|i| (40..60).contains(&i) || (150..153).contains(&i) || i == 250)
            .collect();
        let scores: Vec<f64> = (0..300)
            .map(|i| ((i * 7919) % 101) as f64 / 101.0 + if labels[i] { 0.4 } else { 0.0 })
            .collect();
        let ks = linspace(0.0, 1.0, 101);
        let f1: Vec<f64> = ks
            .iter()
            .map(|&k| pa_k_f1(&labels, &scores, k).unwrap())
            .collect();
        let slow: f64 = ks
            .windows(2)
            .zip(f1.windows(2))
            .map(|(k, f)| (k[1] - k[0]) * (f[0] + f[1]) / 2.0)
            .sum();
        assert!((pa_k_auc(&labels, &scores).unwrap() - slow).abs() < 1e-12);
    }

    #[test]
    fn auc_of_a_perfect_detector_is_one() {
        let labels = [false, true, true, false, false, true, false];
        let scores: Vec<f64> = labels.iter().map(|&l| f64::from(u8::from(l))).collect();
        assert!((pa_k_auc(&labels, &scores).unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn delays() {
        let labels = [false, true, true, true, false, true, true, false];
        let pred = [true, false, false, true, false, false, false, false];
        let d = time_to_detect(&labels, &pred).unwrap();
        assert_eq!(d.per_segment, vec![Some(2), None]);
        assert_eq!(d.mean, 2.0);
    }
}
