//! The CARE score for early fault detection (Gück, Roelofs, Faulstich et al., "CARE to Compare:
//! A Real-World Benchmark Dataset for Early Fault Detection in Wind Turbine Data", Data 2024),
//! as the EnergyFaultDetector reference (`care_score.py`) computes it.
//!
//! Each event is one sub-dataset with its own prediction, a labelled window `[start, end]`, an
//! `anomaly` or `normal` label and optionally a mask of normal operation (points outside normal
//! operation are not evaluated and freeze the criticality counter). Per event:
//! * **coverage**: F0.5 of the prediction (anomaly events only; ground truth = the window, plus
//!   the points outside normal operation);
//! * **accuracy** of the prediction on normally operating points;
//! * **earliness**: a weighted share of detected points in the window, the weights flat for the
//!   first quarter and then falling linearly to 0 (anomaly events only);
//! * **criticality**: a counter over the prediction up to the window's end, +1 per predicted
//!   point and −1 (not below 0) per unpredicted point during normal operation; the event is
//!   *detected* when its maximum exceeds the threshold (72 by default; `>`, so 72 is not
//!   detected), or, with the fraction method, when at least 10 % of the window is predicted.
//!
//! CARE = (1·mean coverage + 2·mean accuracy + 1·mean earliness + 1·reliability) / 5, with
//! reliability the event-wise F0.5 of "detected" against "anomaly event"; 0 when no event is
//! detected, and the mean accuracy itself when it is at most 0.5. An evaluation needs at least one
//! event of each label.
//!
//! Reference deviation, reproduced with [`Compat::Reference`]: with the fraction method the
//! reference looks up a column it never wrote and raises `KeyError`; by default the fraction rule
//! is applied.

use crate::Compat;
use anomex_core::{Error, Result};

/// One evaluated sub-dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub anomaly: bool,
    /// First and last position of the labelled window (inclusive).
    pub start: usize,
    pub end: usize,
    /// The prediction over the whole sub-dataset.
    pub pred: Vec<bool>,
    /// `true` where the system operates normally; `None` = everywhere.
    pub normal: Option<Vec<bool>>,
}

/// How an event counts as detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detection {
    Criticality,
    Fraction,
}

/// CARE's parameters, with the reference's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    pub criticality_threshold: i64,
    pub min_fraction: f64,
    pub detection: Detection,
    pub coverage_beta: f64,
    pub reliability_beta: f64,
    pub coverage_w: f64,
    pub accuracy_w: f64,
    pub earliness_w: f64,
    pub reliability_w: f64,
    /// Where the earliness weights start to fall, as a fraction `(numerator, denominator)`.
    pub start_of_descend: (u32, u32),
}

impl Default for Params {
    fn default() -> Self {
        Params {
            criticality_threshold: 72,
            min_fraction: 0.1,
            detection: Detection::Criticality,
            coverage_beta: 0.5,
            reliability_beta: 0.5,
            coverage_w: 1.0,
            accuracy_w: 2.0,
            earliness_w: 1.0,
            reliability_w: 1.0,
            start_of_descend: (1, 4),
        }
    }
}

/// Per-event results (the reference's `evaluated_events` row).
#[derive(Debug, Clone, PartialEq)]
pub struct EventScore {
    pub anomaly: bool,
    /// Earliness; `None` for normal events.
    pub weighted_score: Option<f64>,
    pub max_criticality: i64,
    /// Coverage; `None` for normal events.
    pub f_beta: Option<f64>,
    pub accuracy: f64,
    pub tn: usize,
    pub fp: usize,
    pub fn_: usize,
    pub tp: usize,
    pub detected_by_criticality: bool,
    pub detected_by_fraction: bool,
}

/// scikit-learn's `fbeta_score` for the positive class (0 when undefined).
fn f_beta(tp: usize, fp: usize, fn_: usize, beta: f64) -> f64 {
    let b2 = beta * beta;
    let num = (1.0 + b2) * tp as f64;
    let den = num + b2 * fn_ as f64 + fp as f64;
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

/// The earliness weights of a window of `len` points.
fn earliness_weights(len: usize, (num, den): (u32, u32)) -> Result<Vec<f64>> {
    if den == 0 || num >= den {
        return Err(Error::param(
            "start_of_descend",
            format!("{num}/{den} must be a fraction in [0, 1)"),
        ));
    }
    let start = f64::from(num) / f64::from(den);
    let scale = den as usize;
    let scaled = len * scale;
    let cp = (scaled as f64 * start) as usize;
    let x = crate::linspace(0.0, scale as f64, scaled);
    let slope = 1.0 / (1.0 - start);
    let offset = scale as f64 / (1.0 - start);
    Ok((0..scaled)
        .step_by(scale)
        .map(|i| if i < cp { scale as f64 } else { offset - slope * x[i] } / scale as f64)
        .collect())
}

/// Evaluates one event.
pub fn evaluate_event(e: &Event, p: &Params) -> Result<EventScore> {
    let n = e.pred.len();
    if e.start > e.end || e.end >= n {
        return Err(Error::input(format!(
            "event window [{}, {}] is outside its prediction of {n} points",
            e.start, e.end
        )));
    }
    let normal: Vec<bool> = match &e.normal {
        Some(m) if m.len() != n => {
            return Err(Error::input(format!(
                "a normal-operation mask of {} points for a prediction of {n}",
                m.len()
            )))
        }
        Some(m) => m.clone(),
        None => vec![true; n],
    };
    let window = &e.pred[e.start..=e.end];
    let weighted_score = if e.anomaly {
        let w = earliness_weights(window.len(), p.start_of_descend)?;
        let hit: f64 = w
            .iter()
            .zip(window)
            .filter(|(_, &d)| d)
            .map(|(w, _)| w)
            .sum();
        Some(hit / w.iter().sum::<f64>())
    } else {
        None
    };
    let (mut crit, mut max_crit) = (0i64, i64::MIN);
    for (&operating, &predicted) in normal.iter().zip(&e.pred).take(e.end + 1) {
        if operating {
            crit = if predicted {
                crit + 1
            } else {
                (crit - 1).max(0)
            };
        }
        max_crit = max_crit.max(crit);
    }
    let (mut tn, mut fp, mut fn_, mut tp) = (0, 0, 0, 0);
    for t in (0..n).filter(|&t| normal[t]) {
        // points outside normal operation are anomalous ground truth, but they are not evaluated
        let truth = e.anomaly && (e.start..=e.end).contains(&t);
        match (truth, e.pred[t]) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => tn += 1,
        }
    }
    let total = tn + fp + fn_ + tp;
    Ok(EventScore {
        anomaly: e.anomaly,
        weighted_score,
        max_criticality: max_crit,
        f_beta: e.anomaly.then(|| f_beta(tp, fp, fn_, p.coverage_beta)),
        accuracy: if total == 0 {
            f64::NAN
        } else {
            (tp + tn) as f64 / total as f64
        },
        tn,
        fp,
        fn_,
        tp,
        detected_by_criticality: max_crit > p.criticality_threshold,
        detected_by_fraction: window.iter().filter(|&&d| d).count() as f64 / window.len() as f64
            >= p.min_fraction,
    })
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n as f64
}

/// The CARE score of already evaluated events.
pub fn care_of(scores: &[EventScore], p: &Params, compat: Compat) -> Result<f64> {
    if !scores.iter().any(|s| s.anomaly) || scores.iter().all(|s| s.anomaly) {
        return Err(Error::input(
            "the CARE score needs at least one anomaly event and one normal event",
        ));
    }
    let detected: Vec<bool> = match (p.detection, compat) {
        (Detection::Criticality, _) => scores.iter().map(|s| s.detected_by_criticality).collect(),
        (Detection::Fraction, Compat::Correct) => {
            scores.iter().map(|s| s.detected_by_fraction).collect()
        }
        (Detection::Fraction, Compat::Reference) => return Err(Error::input(
            "CARE (reference): the fraction method raises KeyError 'anomaly_detected_by_fraction'",
        )),
    };
    if !detected.iter().any(|&d| d) {
        return Ok(0.0);
    }
    let accuracy = mean(scores.iter().filter(|s| !s.anomaly).map(|s| s.accuracy));
    if accuracy <= 0.5 {
        return Ok(accuracy);
    }
    let coverage = mean(scores.iter().filter_map(|s| s.f_beta));
    let earliness = mean(scores.iter().filter_map(|s| s.weighted_score));
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (s, &d) in scores.iter().zip(&detected) {
        match (s.anomaly, d) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => {}
        }
    }
    let reliability = f_beta(tp, fp, fn_, p.reliability_beta);
    let weights = p.accuracy_w + p.earliness_w + p.coverage_w + p.reliability_w;
    Ok((accuracy * p.accuracy_w
        + earliness * p.earliness_w
        + coverage * p.coverage_w
        + reliability * p.reliability_w)
        / weights)
}

/// Evaluates every event and combines them into the CARE score.
pub fn care(events: &[Event], p: &Params, compat: Compat) -> Result<f64> {
    let scores = events
        .iter()
        .map(|e| evaluate_event(e, p))
        .collect::<Result<Vec<_>>>()?;
    care_of(&scores, p, compat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliness_weights_fall_after_the_first_quarter() {
        let w = earliness_weights(8, (1, 4)).unwrap();
        assert_eq!(w.len(), 8);
        assert_eq!(w[0], 1.0);
        assert_eq!(w[1], 1.0);
        assert!(w[7] < w[4] && w[4] < 1.0);
        assert!(earliness_weights(8, (4, 4)).is_err());
    }

    #[test]
    fn criticality_counts_up_and_down() {
        let e = Event {
            anomaly: true,
            start: 2,
            end: 7,
            pred: vec![true, true, false, true, true, true, false, false, true],
            normal: None,
        };
        let s = evaluate_event(&e, &Params::default()).unwrap();
        // 1,2,1,2,3,4,3,2 up to the window end
        assert_eq!(s.max_criticality, 4);
        assert_eq!((s.tp, s.fp, s.fn_, s.tn), (3, 3, 3, 0));
    }
}
