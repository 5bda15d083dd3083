//! Affiliation precision and recall (Huet, Navarro & Rossi, "Local Evaluation of Time Series
//! Anomaly Detection Algorithms", KDD 2022), as the `affiliation` code vendored in TSB-AD 1.5
//! computes them, and TSB-AD's Affiliation-F.
//!
//! Events are half-open intervals `[start, end + 1)` of anomalous points; the time axis
//! `[0, n)` is split into one affiliation zone per ground-truth event (boundaries half-way between
//! neighbouring events, mirrored at the ends). In each zone, precision is the average over the
//! predicted time of the survival probability of the distance to the event, recall the average
//! over the event of the survival probability of the distance to the nearest prediction, both
//! under the uniform distribution of a random point in the zone; the integrals are in closed form.
//! Precision averages over zones with a prediction, recall over all zones.
//!
//! TSB-AD's Affiliation-F sweeps its 100 thresholds (`pred = S > t`) for the best
//! `2PR / (P + R + 1e-15)`; it is NaN where nothing is predicted (precision undefined), and an
//! error without any labelled event (the reference raises). Cost: O(events) per prediction.

use crate::{check, check_pred, sweep};
use anomex_core::{Error, Result};

type Iv = (f64, f64);

/// Events of a binary vector as half-open intervals `(start, end + 1)`.
pub fn events(v: &[bool]) -> Vec<Iv> {
    crate::segments::segments(v)
        .into_iter()
        .map(|(a, b)| (a as f64, (b + 1) as f64))
        .collect()
}

fn intersection(i: Option<Iv>, j: Option<Iv>) -> Option<Iv> {
    let (i, j) = (i?, j?);
    let (a, b) = (i.0.max(j.0), i.1.min(j.1));
    (a < b).then_some((a, b))
}

/// The affiliation zone of every event in `js` within `trange`.
fn zones(js: &[Iv], trange: Iv) -> Vec<Iv> {
    let n = js.len();
    let start = |j: usize| {
        if j == n {
            2.0 * trange.1 - js[n - 1].1
        } else {
            js[j].0
        }
    };
    let stop = |j: isize| {
        if j < 0 {
            2.0 * trange.0 - js[0].0
        } else {
            js[j as usize].1
        }
    };
    (0..n)
        .map(|j| {
            (
                (stop(j as isize - 1) + start(j)) / 2.0,
                (stop(j as isize) + start(j + 1)) / 2.0,
            )
        })
        .collect()
}

/// `I` split into the parts before, inside and after `J`.
fn cut_into_three(i: Option<Iv>, j: Iv) -> (Option<Iv>, Option<Iv>, Option<Iv>) {
    let Some(i) = i else {
        return (None, None, None);
    };
    let inter = intersection(Some(i), Some(j));
    if inter == Some(i) {
        (None, inter, None)
    } else if i.1 <= j.0 {
        (Some(i), None, None)
    } else if i.0 >= j.1 {
        (None, None, Some(i))
    } else {
        // i overlaps j and sticks out on at least one side, so the intersection exists
        let m = inter.unwrap_or(j);
        let before = (i.0 <= j.0).then_some((i.0, m.0));
        let after = (i.1 >= j.1).then_some((m.1, i.1));
        (before, inter, after)
    }
}

/// The point of `j` nearest to `i`, which lies wholly on one side of it.
fn pivot(i: Iv, j: Iv) -> f64 {
    if i.1 <= j.0 {
        j.0
    } else {
        j.1
    }
}

/// ∫ over `i` (outside `j`, inside zone `e`) of the precision survival probability.
fn precision_piece(i: Iv, j: Iv, e: Iv) -> f64 {
    let d_min = (i.0 - j.1).max(j.0 - i.1);
    let d_max = (i.1 - j.1).max(j.0 - i.0);
    let m = (j.0 - e.0).min(e.1 - j.1);
    let a = d_max.min(m).powi(2) - d_min.min(m).powi(2);
    let b = d_max.max(m) - d_min.max(m);
    let min_piece = 0.5 * a + m * b;
    let linear_piece = 0.5 * (d_max.powi(2) - d_min.powi(2));
    let remaining_piece = (j.1 - j.0) * (i.1 - i.0);
    (i.1 - i.0) - 1.0 / (e.1 - e.0) * (min_piece + linear_piece + remaining_piece)
}

fn precision_integral(i: Option<Iv>, j: Iv, e: Iv) -> f64 {
    let (before, middle, after) = cut_into_three(i, j);
    let side = |p: Option<Iv>| p.map_or(0.0, |p| precision_piece(p, j, e));
    side(before) + middle.map_or(0.0, |m| m.1 - m.0) + side(after)
}

fn split_at(j: Option<Iv>, mean: f64) -> (Option<Iv>, Option<Iv>) {
    match j {
        None => (None, None),
        Some(j) if mean >= j.1 => (Some(j), None),
        Some(j) if mean <= j.0 => (None, Some(j)),
        Some(j) => (Some((j.0, mean)), Some((mean, j.1))),
    }
}

/// ∫ over the part `j` of the event (outside `i`, inside zone `e`) of the recall survival
/// probability of the distance to `i`.
fn recall_piece(i: Iv, j: Iv, e: Iv) -> f64 {
    let ip = pivot(j, i);
    if ip <= e.0 || ip >= e.1 {
        return 0.0;
    }
    let (j_before, j_after) = split_at(Some(j), (e.0 + e.1) / 2.0);
    let (bb, ba) = split_at(j_before, (e.0 + ip) / 2.0);
    let (ab, aa) = split_at(j_after, (e.1 + ip) / 2.0);
    let ends = |p: Option<Iv>| p.map_or((f64::NAN, f64::NAN), |p| (p.0, p.1));
    let (bb0, bb1) = ends(bb);
    let (ba0, ba1) = ends(ba);
    let (ab0, ab1) = ends(ab);
    let (aa0, aa1) = ends(aa);
    let parts = if ip >= j.1 {
        [
            (ip - e.0) * (bb1 - bb0),
            2.0 * ip * (ba1 - ba0) - (ba1.powi(2) - ba0.powi(2)),
            2.0 * ip * (ab1 - ab0) - (ab1.powi(2) - ab0.powi(2)),
            (e.1 + ip) * (aa1 - aa0) - (aa1.powi(2) - aa0.powi(2)),
        ]
    } else {
        [
            bb1.powi(2) - bb0.powi(2) - (e.0 + ip) * (bb1 - bb0),
            ba1.powi(2) - ba0.powi(2) - 2.0 * ip * (ba1 - ba0),
            ab1.powi(2) - ab0.powi(2) - 2.0 * ip * (ab1 - ab0),
            (e.1 - ip) * (aa1 - aa0),
        ]
    };
    let integral: f64 = parts.iter().filter(|v| !v.is_nan()).sum();
    (j.1 - j.0) - 1.0 / (e.1 - e.0) * integral
}

fn recall_integral(i: Iv, j: Option<Iv>, e: Iv) -> f64 {
    let (before, middle, after) = cut_into_three(j, i);
    let side = |p: Option<Iv>| p.map_or(0.0, |p| recall_piece(i, p, e));
    side(before) + middle.map_or(0.0, |m| m.1 - m.0) + side(after)
}

/// Affiliation precision and recall of predicted events against ground-truth events on
/// `[0, len)` (the reference's `pr_from_events`). Precision is NaN when nothing is predicted.
pub fn precision_recall(pred: &[Iv], gt: &[Iv], len: f64) -> Result<(f64, f64)> {
    if gt.is_empty() {
        return Err(Error::input(
            "affiliation metrics need at least one labelled event (the reference raises)",
        ));
    }
    let trange = (0.0, len);
    let zone = zones(gt, trange);
    let mut precisions = Vec::with_capacity(gt.len());
    let mut recall_sum = 0.0;
    for (&j, &e) in gt.iter().zip(&zone) {
        let parts: Vec<Iv> = pred
            .iter()
            .filter_map(|&i| intersection(Some(i), Some(e)))
            .collect();
        if parts.is_empty() {
            precisions.push(f64::NAN);
            continue;
        }
        let length: f64 = parts.iter().map(|p| p.1 - p.0).sum();
        let p: f64 = parts
            .iter()
            .map(|&i| precision_integral(Some(i), j, e))
            .sum::<f64>()
            / length;
        precisions.push(p);
        // recall: the event split by the zones of the predictions inside this zone
        let sub = zones(&parts, e);
        let r: f64 = parts
            .iter()
            .zip(&sub)
            .map(|(&i, &z)| recall_integral(i, intersection(Some(j), Some(z)), e))
            .sum::<f64>()
            / (j.1 - j.0);
        recall_sum += r;
    }
    let defined: Vec<f64> = precisions.iter().copied().filter(|p| !p.is_nan()).collect();
    let precision = if defined.is_empty() {
        precisions[0]
    } else {
        defined.iter().sum::<f64>() / defined.len() as f64
    };
    Ok((precision, recall_sum / gt.len() as f64))
}

fn f_of(pred: &[bool], gt: &[Iv]) -> Result<f64> {
    let (p, r) = precision_recall(&events(pred), gt, pred.len() as f64)?;
    Ok(2.0 * p * r / (p + r + 1e-15))
}

/// Affiliation-F of a fixed prediction (`2PR / (P + R + 1e-15)`).
pub fn affiliation_f_pred(labels: &[bool], pred: &[bool]) -> Result<f64> {
    check_pred(labels, pred)?;
    f_of(pred, &events(labels))
}

/// TSB-AD's Affiliation-F: the best over its 100 thresholds.
pub fn affiliation_f(labels: &[bool], scores: &[f64]) -> Result<f64> {
    check(labels, scores)?;
    let gt = events(labels);
    if gt.is_empty() {
        return f_of(labels, &gt);
    }
    Ok(sweep(scores, |pred| f_of(pred, &gt).unwrap_or(f64::NAN)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_split_half_way_and_mirror_the_ends() {
        assert_eq!(
            zones(&[(2.0, 4.0), (8.0, 9.0)], (0.0, 10.0)),
            vec![(0.0, 6.0), (6.0, 10.0)]
        );
    }

    #[test]
    fn perfect_prediction_scores_one() {
        let l = [false, true, true, false, false, true, false, false];
        let (p, r) = precision_recall(&events(&l), &events(&l), 8.0).unwrap();
        assert!(
            (p - 1.0).abs() < 1e-12 && (r - 1.0).abs() < 1e-12,
            "{p} {r}"
        );
        assert!(affiliation_f_pred(&[false, false], &[true, false]).is_err());
        let (p, _) = precision_recall(&[], &events(&l), 8.0).unwrap();
        assert!(p.is_nan());
    }
}
