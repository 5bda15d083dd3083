//! PATE: proximity-aware time-series evaluation (Ghorbani, Maleki, Pevný & Nadjm-Tehrani,
//! "PATE: Proximity-Aware Time series anomaly Evaluation", KDD 2024), as the `pate` 0.1.1 package
//! computes it.
//!
//! Around every labelled range `[s, e]` lie an early buffer of `e_buffer` points and a delayed
//! buffer of `d_buffer` points (cut where the neighbouring range's buffers begin). A predicted
//! point inside the range is a true positive; inside a buffer it is a partial true positive whose
//! weight falls linearly with its summed distance to the range's points (the early buffer counts
//! only when the range itself is also detected), the rest of its unit weight a false positive;
//! elsewhere it is a false positive. Undetected points of a detected range are false negatives
//! weighted by their distance from the range start beyond the detected length; a range with no
//! detection counts all its points. PATE is the area under the resulting precision–recall curve
//! over 250 thresholds (percentiles of scikit-learn's ROC thresholds after dropping intermediate
//! points), averaged over the buffer combinations `{0, e_buffer} × {0, d_buffer}`; PATE-F1 is the
//! same average of the F1 of a fixed prediction.
//!
//! Distance sums are integers computed in closed form (the reference sums point by point), so a
//! prediction costs O(#ranges + labelled points) instead of the reference's
//! O(#predicted ranges × #labels × range length²).

use crate::segments::segments;
use crate::{check, check_pred, linspace};
use anomex_core::Result;

/// `Σ_{y=a}^{b} |x − y|`.
fn distance_sum(x: i64, a: i64, b: i64) -> i64 {
    if a > b {
        return 0;
    }
    let sum = |lo: i64, hi: i64| {
        if lo > hi {
            0
        } else {
            (lo + hi) * (hi - lo + 1) / 2
        }
    };
    if x >= b {
        (b - a + 1) * x - sum(a, b)
    } else if x <= a {
        sum(a, b) - (b - a + 1) * x
    } else {
        ((x - a + 1) * x - sum(a, x)) + (sum(x + 1, b) - (b - x) * x)
    }
}

struct Label {
    start: i64,
    end: i64,
    pre_start: i64,
    post_end: i64,
}

fn labels_with_buffers(truth: &[(usize, usize)], e: i64, d: i64, n: i64) -> Vec<Label> {
    let mut out: Vec<Label> = Vec::with_capacity(truth.len());
    for (k, &(s, end)) in truth.iter().enumerate() {
        let (s, end) = (s as i64, end as i64);
        let next_start = truth.get(k + 1).map_or(n, |t| t.0 as i64);
        let post_end = (end + d).min(next_start - 1);
        let previous_post_end = out.last().map_or(-1, |l| l.post_end);
        let pre_start = 0.max(s - e).max(previous_post_end + 1);
        out.push(Label {
            start: s,
            end,
            pre_start,
            post_end,
        });
    }
    out
}

/// Pieces of the predicted ranges, per category, in the reference's order of discovery.
#[derive(Default)]
struct Pieces {
    pre: Vec<(i64, i64, usize)>,
    detected: Vec<(i64, i64, usize)>,
    post: Vec<(i64, i64, usize)>,
    outside: Vec<(i64, i64)>,
}

fn categorize(pred: &[(usize, usize)], labels: &[Label]) -> Pieces {
    let mut p = Pieces::default();
    for &(ps, pe) in pred {
        let (ps, pe) = (ps as i64, pe as i64);
        let mut seg = ps;
        // labels whose delayed buffer ends before the range cannot touch it
        let first = labels.partition_point(|l| l.post_end < ps);
        for (id, l) in labels.iter().enumerate().skip(first) {
            if seg > pe {
                break;
            }
            let pre_end = l.start - 1;
            if seg < l.pre_start {
                let outside_end = pe.min(l.pre_start - 1);
                if seg <= outside_end {
                    p.outside.push((seg, outside_end));
                }
            }
            if seg <= pre_end {
                let (a, b) = (seg.max(l.pre_start), pe.min(pre_end));
                if a <= b {
                    p.pre.push((a, b, id));
                }
                seg = b + 1;
            }
            if seg <= l.end {
                let b = pe.min(l.end);
                if seg <= b {
                    p.detected.push((seg, b, id));
                }
                seg = b + 1;
            }
            if seg <= l.post_end {
                let b = pe.min(l.post_end);
                if seg <= b {
                    p.post.push((seg, b, id));
                }
                seg = b + 1;
            }
        }
        if seg <= pe {
            p.outside.push((seg, pe));
        }
    }
    p
}

/// PATE precision and recall of one prediction.
fn precision_recall(pred: &[(usize, usize)], labels: &[Label]) -> (f64, f64) {
    let p = categorize(pred, labels);
    let (mut tp, mut fp, mut fn_) = (0.0, 0.0, 0.0);
    let mut detected_len: Vec<Option<i64>> = vec![None; labels.len()];
    let mut covered: Vec<i64> = vec![0; labels.len()];
    for &(a, b, id) in &p.detected {
        detected_len[id].get_or_insert(b - a + 1);
        covered[id] += b - a + 1;
    }
    // the reference's weight lists, summed in its category order: pre, detected, post, outside,
    // partially missed
    for &(a, b, id) in &p.pre {
        let l = &labels[id];
        if detected_len[id].is_some() {
            let max = distance_sum(l.pre_start, l.start, l.end) as f64;
            for x in a.max(l.pre_start)..=b.min(l.start - 1) {
                let w = 1.0 - distance_sum(x, l.start, l.end) as f64 / max;
                tp += w;
                fp += 1.0 - w;
            }
        } else {
            fp += (b - a + 1) as f64;
        }
    }
    for &(a, b, _) in &p.detected {
        tp += (b - a + 1) as f64;
    }
    for &(a, b, id) in &p.post {
        let l = &labels[id];
        let max = distance_sum(l.post_end, l.start, l.end) as f64;
        for x in a.max(l.end + 1)..=b.min(l.post_end) {
            let w = 1.0 - distance_sum(x, l.start, l.end) as f64 / max;
            tp += w;
            fp += 1.0 - w;
        }
    }
    for &(a, b) in &p.outside {
        fp += (b - a + 1) as f64;
    }
    for (id, l) in labels.iter().enumerate() {
        let Some(delta) = detected_len[id] else {
            continue;
        };
        if covered[id] == l.end - l.start + 1 {
            continue;
        }
        // the undetected points of a partly detected range
        let buffer_end = l.start + delta;
        let max = ((l.end - l.start) * (l.end - l.start + 1) / 2) as f64;
        let mut is_covered = vec![false; (l.end - l.start + 1) as usize];
        for &(a, b, _) in p.detected.iter().filter(|d| d.2 == id) {
            for x in a..=b {
                is_covered[(x - l.start) as usize] = true;
            }
        }
        for (k, _) in is_covered.iter().enumerate().filter(|(_, &c)| !c) {
            let x = l.start + k as i64;
            fn_ += if x <= buffer_end {
                1.0
            } else if max > 0.0 {
                1.0 - distance_sum(x, l.start, buffer_end) as f64 / max
            } else {
                1.0
            };
        }
    }
    for (id, l) in labels.iter().enumerate() {
        if detected_len[id].is_none() {
            fn_ += (l.end - l.start + 1) as f64;
        }
    }
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let recall = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 0.0 };
    (precision, recall)
}

/// The buffer sizes tried: `{0, max}` (the reference's defaults: one split, zero included).
fn buffers(max: usize) -> [i64; 2] {
    [0, max as i64]
}

/// PATE-F1 of a fixed prediction: the F1 averaged over the four buffer combinations.
pub fn pate_f1(labels: &[bool], pred: &[bool], e_buffer: usize, d_buffer: usize) -> Result<f64> {
    check_pred(labels, pred)?;
    let truth = segments(labels);
    let ranges = segments(pred);
    let n = labels.len() as i64;
    let mut total = 0.0;
    for e in buffers(e_buffer) {
        for d in buffers(d_buffer) {
            let (p, r) = precision_recall(&ranges, &labels_with_buffers(&truth, e, d, n));
            total += if p + r == 0.0 {
                0.0
            } else {
                2.0 * (p * r) / (p + r)
            };
        }
    }
    Ok(total / 4.0)
}

/// numpy's `percentile(values, q)` with linear interpolation (numpy's `_lerp`, which
/// interpolates from the upper end when the fraction is at least one half).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let m = sorted.len();
    let virtual_index = (m - 1) as f64 * (q / 100.0);
    if virtual_index >= (m - 1) as f64 {
        return sorted[m - 1];
    }
    if virtual_index < 0.0 {
        return sorted[0];
    }
    let prev = virtual_index.floor();
    let gamma = virtual_index - prev;
    let (a, b) = (sorted[prev as usize], sorted[prev as usize + 1]);
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// The reference's thresholds: scikit-learn's distinct-score thresholds with intermediate points
/// dropped, then 250 percentiles of them from 100 down to 0.
fn thresholds(labels: &[bool], scores: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut th, mut tps) = (Vec::new(), Vec::new());
    let mut tp = 0usize;
    for (k, &i) in order.iter().enumerate() {
        tp += usize::from(labels[i]);
        if k + 1 == order.len() || scores[order[k + 1]] != scores[i] {
            th.push(scores[i]);
            tps.push(tp);
        }
    }
    if tps.len() > 2 {
        let keep: Vec<usize> = (0..tps.len())
            .filter(|&k| {
                k == 0 || k == tps.len() - 1 || tps[k] != tps[k - 1] || tps[k + 1] != tps[k]
            })
            .collect();
        th = keep.into_iter().map(|k| th[k]).collect();
    }
    th.sort_by(f64::total_cmp);
    linspace(100.0, 0.0, 250)
        .into_iter()
        .map(|q| percentile(&th, q))
        .collect()
}

/// Trapezoidal area under the curve after dropping points whose recall decreases.
fn clean_auc(recall: &[f64], precision: &[f64]) -> f64 {
    let mut prev_r = -1.0;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for (&p, &r) in precision.iter().zip(recall) {
        if r >= prev_r {
            xs.push(r);
            ys.push(p);
            prev_r = r;
        }
    }
    xs.windows(2)
        .zip(ys.windows(2))
        .map(|(x, y)| (x[1] - x[0]) * (y[0] + y[1]) / 2.0)
        .sum()
}

/// PATE of continuous scores (see the module docs).
pub fn pate(labels: &[bool], scores: &[f64], e_buffer: usize, d_buffer: usize) -> Result<f64> {
    check(labels, scores)?;
    let truth = segments(labels);
    let n = labels.len() as i64;
    let th = thresholds(labels, scores);
    let predictions: Vec<Vec<(usize, usize)>> = th
        .iter()
        .map(|&t| segments(&scores.iter().map(|&s| s >= t).collect::<Vec<_>>()))
        .collect();
    let mut total = 0.0;
    for e in buffers(e_buffer) {
        for d in buffers(d_buffer) {
            let lab = labels_with_buffers(&truth, e, d, n);
            let mut precision = vec![1.0];
            let mut recall = vec![0.0];
            for ranges in &predictions {
                let (p, r) = precision_recall(ranges, &lab);
                precision.push(p);
                recall.push(r);
            }
            total += clean_auc(&recall, &precision);
        }
    }
    Ok(total / 4.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_sums() {
        for x in -3..12 {
            for a in 0..6 {
                for b in a..8 {
                    let naive: i64 = (a..=b).map(|y: i64| (x - y).abs()).sum();
                    assert_eq!(distance_sum(x, a, b), naive, "{x} {a} {b}");
                }
            }
        }
    }

    #[test]
    fn numpy_percentile() {
        // numpy.percentile([1, 2, 4, 8], [100, 75, 50, 10, 0]) == [8, 5, 3, 1.3, 1]
        let v = [1.0, 2.0, 4.0, 8.0];
        let got: Vec<f64> = [100.0, 75.0, 50.0, 10.0, 0.0]
            .iter()
            .map(|&q| percentile(&v, q))
            .collect();
        assert_eq!(got[0], 8.0);
        assert!((got[1] - 5.0).abs() < 1e-12 && (got[2] - 3.0).abs() < 1e-12);
        assert!((got[3] - 1.3).abs() < 1e-12 && got[4] == 1.0);
    }

    #[test]
    fn perfect_prediction() {
        let l = [
            false, false, true, true, false, false, false, true, false, false,
        ];
        assert!((pate_f1(&l, &l, 2, 2).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(
            pate(&[false; 6], &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 1, 1).unwrap(),
            0.0
        );
    }
}
