//! Point-wise metrics: AUC-ROC, AUC-PR, Standard-F1, and precision / recall / F1 of a prediction.

use crate::{check, check_pred};
use anomex_core::{Error, Result};

/// Cumulative true- and false-positive counts at each distinct score, from the highest down
/// (scikit-learn's `_binary_clf_curve`).
fn curve(labels: &[bool], scores: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tps, mut fps) = (Vec::new(), Vec::new());
    let (mut tp, mut fp) = (0.0, 0.0);
    for (k, &i) in order.iter().enumerate() {
        if labels[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_value = k + 1 == order.len() || scores[order[k + 1]] != scores[i];
        if last_of_value {
            tps.push(tp);
            fps.push(fp);
        }
    }
    (tps, fps)
}

/// Area under the ROC curve (scikit-learn's `roc_auc_score`: trapezoids between distinct
/// thresholds, so ties count one half). NaN when only one class is present, as scikit-learn 1.7.
pub fn auc_roc(labels: &[bool], scores: &[f64]) -> Result<f64> {
    check(labels, scores)?;
    let (tps, fps) = curve(labels, scores);
    let (p, n) = (tps[tps.len() - 1], fps[fps.len() - 1]);
    if p == 0.0 || n == 0.0 {
        return Ok(f64::NAN);
    }
    let mut area = 0.0;
    let (mut prev_tpr, mut prev_fpr) = (0.0, 0.0);
    for (&tp, &fp) in tps.iter().zip(&fps) {
        let (tpr, fpr) = (tp / p, fp / n);
        area += (fpr - prev_fpr) * (tpr + prev_tpr) / 2.0;
        prev_tpr = tpr;
        prev_fpr = fpr;
    }
    Ok(area)
}

/// Average precision (scikit-learn's `average_precision_score`): `Σ (R_k − R_{k−1}) · P_k` over
/// distinct thresholds, the step rule without interpolation. 0 when there is no anomaly.
pub fn auc_pr(labels: &[bool], scores: &[f64]) -> Result<f64> {
    check(labels, scores)?;
    let (tps, fps) = curve(labels, scores);
    let p = tps[tps.len() - 1];
    if p == 0.0 {
        return Ok(0.0);
    }
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for (&tp, &fp) in tps.iter().zip(&fps) {
        let recall = tp / p;
        ap += (recall - prev_recall) * (tp / (tp + fp));
        prev_recall = recall;
    }
    Ok(ap)
}

/// TSB-AD's Standard-F1: the best `2PR / (P + R + 1e-5)` over scikit-learn's precision–recall
/// curve (so a perfect detector scores 0.99999500…, never 1). 0 when there is no anomaly.
pub fn standard_f1(labels: &[bool], scores: &[f64]) -> Result<f64> {
    check(labels, scores)?;
    let (tps, fps) = curve(labels, scores);
    let p = tps[tps.len() - 1];
    // the curve's closing point (precision 1, recall 0) gives 0
    let mut best: f64 = 0.0;
    for (&tp, &fp) in tps.iter().zip(&fps) {
        let precision = tp / (tp + fp);
        let recall = if p == 0.0 { 1.0 } else { tp / p };
        best = best.max(2.0 * precision * recall / (precision + recall + 0.00001));
    }
    Ok(best)
}

/// Confusion counts of a prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub tn: usize,
}

impl Counts {
    pub fn of(labels: &[bool], pred: &[bool]) -> Counts {
        let mut c = Counts::default();
        for (&l, &p) in labels.iter().zip(pred) {
            match (l, p) {
                (true, true) => c.tp += 1,
                (false, true) => c.fp += 1,
                (true, false) => c.fn_ += 1,
                (false, false) => c.tn += 1,
            }
        }
        c
    }
    /// `TP / (TP + FP)`, 0 when nothing is predicted (scikit-learn's `zero_division=0`).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    /// `TP / (TP + FN)`, 0 when there is no anomaly.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    /// `2TP / (2TP + FP + FN)`, 0 when undefined (scikit-learn's `f1_score`).
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Precision, recall and F1 of a fixed prediction (the `@pred` Standard-F1 of TSB-AD is the F1).
pub fn prf(labels: &[bool], pred: &[bool]) -> Result<Counts> {
    check_pred(labels, pred)?;
    Ok(Counts::of(labels, pred))
}

/// Precision, recall and F1 of the prediction `score > threshold`.
pub fn prf_at_threshold(labels: &[bool], scores: &[f64], threshold: f64) -> Result<Counts> {
    check(labels, scores)?;
    let pred: Vec<bool> = scores.iter().map(|&s| s > threshold).collect();
    Ok(Counts::of(labels, &pred))
}

/// Precision at k, with k the number of anomalous points: the fraction of anomalies among the
/// k highest scores (ties broken by position, earliest first). NaN without anomalies.
pub fn precision_at_k(labels: &[bool], scores: &[f64]) -> Result<f64> {
    check(labels, scores)?;
    let k = labels.iter().filter(|&&l| l).count();
    if k == 0 {
        return Ok(f64::NAN);
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    Ok(order[..k].iter().filter(|&&i| labels[i]).count() as f64 / k as f64)
}

/// Recall at a false-positive-rate budget: the highest true-positive rate of the ROC curve
/// among the thresholds whose false-positive rate is at most `max_fpr` (as read off
/// scikit-learn's `roc_curve`; tied scores are one threshold). NaN with one class only.
pub fn recall_at_fpr(labels: &[bool], scores: &[f64], max_fpr: f64) -> Result<f64> {
    check(labels, scores)?;
    if !(0.0..=1.0).contains(&max_fpr) {
        return Err(Error::input(format!(
            "max_fpr must be in [0, 1], got {max_fpr}"
        )));
    }
    let positives = labels.iter().filter(|&&l| l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return Ok(f64::NAN);
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp, mut best) = (0usize, 0usize, 0.0f64);
    let mut i = 0;
    while i < order.len() {
        let score = scores[order[i]];
        while i < order.len() && scores[order[i]] == score {
            if labels[order[i]] {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        if fp as f64 <= max_fpr * negatives as f64 {
            best = tp as f64 / positives as f64;
        } else {
            break;
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recall_at_fpr_reads_the_roc_curve() {
        // 100 normals scored 0..99, anomalies at 150, 98.5, 50: one false positive is 1 %
        let mut labels = vec![false; 100];
        let mut scores: Vec<f64> = (0..100).map(f64::from).collect();
        labels.extend([true, true, true]);
        scores.extend([150.0, 98.5, 50.0]);
        assert_eq!(recall_at_fpr(&labels, &scores, 0.0).unwrap(), 1.0 / 3.0);
        assert_eq!(recall_at_fpr(&labels, &scores, 0.01).unwrap(), 2.0 / 3.0);
        assert_eq!(recall_at_fpr(&labels, &scores, 1.0).unwrap(), 1.0);
        assert!(recall_at_fpr(&[true], &[1.0], 0.01).unwrap().is_nan());
    }

    #[test]
    fn auc_with_ties_is_mann_whitney() {
        // sklearn.metrics.roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
        let l = [false, false, true, true];
        assert!((auc_roc(&l, &[0.1, 0.4, 0.35, 0.8]).unwrap() - 0.75).abs() < 1e-15);
        // all tied: 0.5
        assert_eq!(auc_roc(&l, &[1.0; 4]).unwrap(), 0.5);
        assert!(auc_roc(&[true, true], &[0.1, 0.2]).unwrap().is_nan());
    }

    #[test]
    fn average_precision_matches_sklearn_doc_example() {
        // sklearn docs: average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) ≈ 0.8333
        let ap = auc_pr(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert!((ap - 0.833_333_333_333_333_3).abs() < 1e-15);
    }

    #[test]
    fn standard_f1_of_a_perfect_detector() {
        let l = [false, true, true, false];
        let f = standard_f1(&l, &[0.0, 1.0, 1.0, 0.0]).unwrap();
        assert!((f - 2.0 / 2.00001).abs() < 1e-15);
    }

    #[test]
    fn counts() {
        let c = prf(&[true, true, false, false], &[true, false, true, false]).unwrap();
        assert_eq!((c.tp, c.fp, c.fn_, c.tn), (1, 1, 1, 1));
        assert_eq!(c.f1(), 0.5);
        assert!(prf(&[true], &[true, false]).is_err());
        let c = prf_at_threshold(&[true, false, true], &[0.9, 0.5, 0.5], 0.5).unwrap();
        assert_eq!((c.tp, c.fp, c.fn_), (1, 0, 1));
        assert_eq!(
            precision_at_k(&[false, true, true], &[0.9, 0.8, 0.1]).unwrap(),
            0.5
        );
    }
}
