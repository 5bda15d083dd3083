//! Volume under the surface: VUS-ROC and VUS-PR (Paparrizos, Boniol, Palpanas, Tsay, Elmore &
//! Franklin, "Volume Under the Surface: A New Accuracy Evaluation Measure for Time-Series Anomaly
//! Detection", VLDB 2022), reproducing TSB-AD 1.5's `RangeAUC_volume_opt`.
//!
//! For each window `w = 0..=W`, labels are extended around every segment by soft labels
//! `sqrt(1 − d/w)` over `w/2` points on each side, and a range ROC and PR curve is drawn over 250
//! thresholds taken from the sorted scores (`pred = S ≥ t`): recall is the soft true positives over
//! `(P + soft positives)/2`, times the fraction of extended segments with a prediction
//! (existence); the ROC area is the trapezoid rule, the PR area the step rule. VUS is the mean
//! over the `W + 1` windows.
//!
//! Cost: the reference loops over windows × thresholds × segments (O(W · 250 · n) in numpy).
//! Here the points near anomalies (within `W/2` of a segment) are bucketed once by the first
//! threshold that predicts them, so each window costs O(points near anomalies + 250), and the
//! whole metric O(n log n + W · (m + 250)) with m the points near anomalies. The reference raises
//! when there is no anomaly or no normal point; so does this function, with a message.

use crate::segments::tsb_segments;
use crate::{check, linspace};
use anomex_core::{Error, Result};

/// The number of thresholds of TSB-AD's `opt` version.
pub const THRESHOLDS: usize = 250;

/// Result of [`vus`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vus {
    pub roc: f64,
    pub pr: f64,
}

/// The 250 thresholds of the range curves: the scores at evenly spaced ranks of the descending
/// order (`linspace(0, n − 1, 250)` truncated), with the number of scores `≥` each.
struct Thresholds {
    values: Vec<f64>,
    n_pred: Vec<f64>,
}

impl Thresholds {
    fn new(scores: &[f64]) -> Thresholds {
        let mut sorted = scores.to_vec();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let values: Vec<f64> = linspace(0.0, (scores.len() - 1) as f64, THRESHOLDS)
            .into_iter()
            .map(|r| sorted[r as usize])
            .collect();
        let n_pred = values
            .iter()
            .map(|&t| sorted.partition_point(|&s| s >= t) as f64)
            .collect();
        Thresholds { values, n_pred }
    }

    /// The first threshold index at which a score is predicted (`score ≥ threshold`); the
    /// thresholds are non-increasing, so it stays predicted at every later index.
    fn first_k(&self, score: f64) -> usize {
        self.values.partition_point(|&t| t > score)
    }
}

/// TSB-AD's `new_sequence`: segments widened by `w/2` on each side, merged when they touch,
/// the first clipped at 0 and the last at `n − 1`.
fn widen(segs: &[(usize, usize)], w: usize, n: usize) -> Vec<(usize, usize)> {
    let h = w / 2;
    let mut out = Vec::new();
    let mut a = segs[0].0.saturating_sub(h);
    for i in 0..segs.len() - 1 {
        // the reference compares e_i + h < s_{i+1} − h in signed arithmetic
        if ((segs[i].1 + h) as i64) < (segs[i + 1].0 as i64) - (h as i64) {
            out.push((a, segs[i].1 + h));
            a = segs[i + 1].0 - h;
        }
    }
    out.push((a, (segs[segs.len() - 1].1 + h).min(n - 1)));
    out
}

/// TSB-AD's `sequencing`: adds the soft labels `sqrt(1 − d/w)` of the points within `w/2` of
/// each segment to `out`, which holds the points `offset..offset + out.len()` of a series of
/// length `n`, then caps at 1.
fn add_soft(out: &mut [f64], offset: usize, segs: &[(usize, usize)], w: usize, n: usize) {
    let h = w / 2;
    let held = offset..offset + out.len();
    for &(s, e) in segs {
        // after the segment, then before it, as the reference adds them
        for x in ((e + 1)..(e + h + 1).min(n)).chain(s.saturating_sub(h)..s) {
            if held.contains(&x) {
                let d = if x > e { x - e } else { s - x };
                out[x - offset] += (1.0 - d as f64 / w as f64).sqrt();
            }
        }
    }
    out.iter_mut().for_each(|v| *v = v.min(1.0));
}

/// Soft labels of the points `range.0..=range.1`.
fn soft_labels(
    labels: &[bool],
    segs: &[(usize, usize)],
    w: usize,
    range: (usize, usize),
) -> Vec<f64> {
    let (lo, hi) = range;
    let mut out: Vec<f64> = labels[lo..=hi]
        .iter()
        .map(|&l| if l { 1.0 } else { 0.0 })
        .collect();
    add_soft(&mut out, lo, segs, w, labels.len());
    out
}

/// The labelled segments (TSB-AD's) and the number of anomalous points; an error when the
/// labels have no segment, where the reference raises.
fn segments_and_count(labels: &[bool]) -> Result<(Vec<(usize, usize)>, f64)> {
    let seq = tsb_segments(labels);
    if seq.is_empty() {
        return Err(Error::input(
            "VUS is undefined without both anomalous and normal points (the reference raises)",
        ));
    }
    Ok((seq, labels.iter().filter(|&&l| l).count() as f64))
}

/// VUS-ROC and VUS-PR with the maximum window `window` (TSB-AD's `slidingWindow`).
pub fn vus(labels: &[bool], scores: &[f64], window: usize) -> Result<Vus> {
    check(labels, scores)?;
    let n = scores.len();
    let (seq, p) = segments_and_count(labels)?;

    let th = Thresholds::new(scores);
    let mut totals = Vec::with_capacity(window + 1);
    for w in 0..=window {
        let segs_w = widen(&seq, w, n);
        // per threshold: soft true positives, predicted anomalous points, segments with a hit
        let mut soft_tp = vec![0.0; THRESHOLDS + 1];
        let mut hard_tp = vec![0.0; THRESHOLDS + 1];
        let mut exist = vec![0.0; THRESHOLDS + 1];
        for &(a, b) in &segs_w {
            let soft = soft_labels(labels, &seq, w, (a, b));
            let mut best = THRESHOLDS;
            for i in a..=b {
                let k = th.first_k(scores[i]);
                best = best.min(k);
                if labels[i] {
                    hard_tp[k] += 1.0;
                } else {
                    soft_tp[k] += soft[i - a];
                }
            }
            exist[best] += 1.0;
        }
        let (mut soft_acc, mut hard_acc, mut exist_acc) = (0.0, 0.0, 0.0);
        let (mut prev_tpr, mut prev_fpr) = (0.0, 0.0);
        let (mut roc, mut pr) = (0.0, 0.0);
        for k in 0..THRESHOLDS {
            soft_acc += soft_tp[k];
            hard_acc += hard_tp[k];
            exist_acc += exist[k];
            let tp = hard_acc + soft_acc;
            let n_labels = p + soft_acc;
            let p_new = (p + n_labels) / 2.0;
            let recall = (tp / p_new).min(1.0);
            let tpr = recall * exist_acc / segs_w.len() as f64;
            let fpr = (th.n_pred[k] - tp) / (n as f64 - p_new);
            let precision = tp / th.n_pred[k];
            roc += (fpr - prev_fpr) * (tpr + prev_tpr) / 2.0;
            pr += (tpr - prev_tpr) * precision;
            prev_tpr = tpr;
            prev_fpr = fpr;
        }
        roc += (1.0 - prev_fpr) * (1.0 + prev_tpr) / 2.0;
        totals.push((roc, pr));
    }
    let count = totals.len() as f64;
    Ok(Vus {
        roc: totals.iter().map(|t| t.0).sum::<f64>() / count,
        pr: totals.iter().map(|t| t.1).sum::<f64>() / count,
    })
}

/// Result of [`vus_pred`]: the means over windows `0..=W`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VusPred {
    pub recall: f64,
    pub precision: f64,
    pub f: f64,
}

/// Range recall, precision and F of a fixed prediction averaged over the windows `0..=W`
/// (TSB-AD 1.5's `metric_VUS_pred`). Precision is NaN when nothing is predicted (F is then 0).
///
/// Reference deviation, reproduced with [`Compat::Reference`]: the reference rebinds its label
/// vector inside the window loop, so the soft labels of window `w` are built on the already
/// modified labels of window `w − 1` (they accumulate); by default every window starts from the
/// original labels.
pub fn vus_pred(
    labels: &[bool],
    pred: &[bool],
    window: usize,
    compat: crate::Compat,
) -> Result<VusPred> {
    crate::check_pred(labels, pred)?;
    let n = labels.len();
    let (seq, p) = segments_and_count(labels)?;
    let outer = widen(&seq, window, n);
    let n_pred = pred.iter().filter(|&&v| v).count() as f64;
    let original: Vec<f64> = labels.iter().map(|&l| if l { 1.0 } else { 0.0 }).collect();
    let mut base = original.clone();
    let (mut recall_sum, mut precision_sum, mut f_sum) = (0.0, 0.0, 0.0);
    for w in 0..=window {
        let mut ext = base.clone();
        add_soft(&mut ext, 0, &seq, w, n);
        let mut modified = ext.clone();
        for &(a, b) in &widen(&seq, w, n) {
            for i in a..=b {
                modified[i] = if pred[i] { ext[i] } else { 0.0 };
            }
        }
        for &(a, b) in &seq {
            modified[a..=b].iter_mut().for_each(|v| *v = 1.0);
        }
        let (mut tp, mut n_labels) = (0.0, 0.0);
        for &(a, b) in &outer {
            for i in a..=b {
                if pred[i] {
                    tp += modified[i];
                }
                n_labels += modified[i];
            }
        }
        let recall = (tp / ((p + n_labels) / 2.0)).min(1.0);
        let precision = tp / n_pred;
        recall_sum += recall;
        precision_sum += precision;
        f_sum += if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        base = match compat {
            crate::Compat::Reference => modified,
            crate::Compat::Correct => original.clone(),
        };
    }
    let count = (window + 1) as f64;
    Ok(VusPred {
        recall: recall_sum / count,
        precision: precision_sum / count,
        f: f_sum / count,
    })
}

/// Result of [`range_auc`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangeAuc {
    pub roc: f64,
    pub pr: f64,
}

/// R-AUC-ROC and R-AUC-PR (Paparrizos et al., VLDB 2022) as the `vus` 0.0.6 package's `RangeAUC`
/// computes them (`AUC_type='window'`): one soft-label extension of `window/2` points on each
/// side of every segment, 250 thresholds as for VUS, recall over `(P + Σ soft labels)/2` times the
/// fraction of soft-label runs with a prediction, the ROC area by trapezoids and — unlike VUS-PR —
/// the PR area by trapezoids too, starting from precision 1.
///
/// TSB-AD 1.5's own `RangeAUC` raises for every window ≥ 2 (its segments are found on the soft
/// labels with `np.diff`), so `vus` is the reference. Errors without any anomaly (the reference
/// divides by zero); R-AUC-ROC is NaN when every point is anomalous (no negative), as there.
pub fn range_auc(labels: &[bool], scores: &[f64], window: usize) -> Result<RangeAuc> {
    check(labels, scores)?;
    let n = scores.len();
    let seq = crate::segments::segments(labels);
    if seq.is_empty() {
        return Err(Error::input(
            "R-AUC is undefined without an anomaly (the reference divides by zero)",
        ));
    }
    let p = labels.iter().filter(|&&l| l).count() as f64;
    let soft = soft_labels(labels, &seq, window, (0, n - 1));
    let runs = crate::segments::segments(&soft.iter().map(|&v| v != 0.0).collect::<Vec<_>>());
    let p_new = (p + soft.iter().sum::<f64>()) / 2.0;
    let th = Thresholds::new(scores);
    let mut tp_at = vec![0.0; THRESHOLDS + 1];
    let mut exist_at = vec![0.0; THRESHOLDS + 1];
    for &(a, b) in &runs {
        let mut best = THRESHOLDS;
        for i in a..=b {
            let k = th.first_k(scores[i]);
            tp_at[k] += soft[i];
            best = best.min(k);
        }
        exist_at[best] += 1.0;
    }
    let (mut tp, mut exist) = (0.0, 0.0);
    let (mut prev_tpr, mut prev_fpr, mut prev_prec) = (0.0, 0.0, 1.0);
    let (mut roc, mut pr) = (0.0, 0.0);
    for k in 0..THRESHOLDS {
        tp += tp_at[k];
        exist += exist_at[k];
        let tpr = (tp / p_new).min(1.0) * exist / runs.len() as f64;
        let fpr = (th.n_pred[k] - tp) / (n as f64 - p_new);
        let precision = tp / th.n_pred[k];
        roc += (fpr - prev_fpr) * (tpr + prev_tpr) / 2.0;
        pr += (tpr - prev_tpr) * (precision + prev_prec) / 2.0;
        (prev_tpr, prev_fpr, prev_prec) = (tpr, fpr, precision);
    }
    roc += (1.0 - prev_fpr) * (1.0 + prev_tpr) / 2.0;
    Ok(RangeAuc { roc, pr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widen_merges_and_clips() {
        assert_eq!(widen(&[(2, 3), (6, 6)], 4, 10), vec![(0, 8)]);
        assert_eq!(widen(&[(2, 3), (9, 9)], 4, 10), vec![(0, 5), (7, 9)]);
        assert_eq!(widen(&[(2, 3)], 0, 10), vec![(2, 3)]);
    }

    #[test]
    fn errors_without_both_classes() {
        assert!(vus(&[false; 5], &[0.1, 0.2, 0.3, 0.4, 0.5], 2).is_err());
        assert!(vus(&[true; 5], &[0.1, 0.2, 0.3, 0.4, 0.5], 2).is_err());
    }
}
