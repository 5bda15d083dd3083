//! Evaluation metrics for anomaly detection, reproducing the reference implementations value for
//! value (checked against golden cases computed by the reference code, `tests/golden/`).
//!
//! | module | metrics | reference |
//! |---|---|---|
//! | [`point`] | AUC-ROC, AUC-PR (average precision), Standard-F1, precision/recall/F1 at a prediction, precision@k | scikit-learn 1.7.2, TSB-AD 1.5 |
//! | [`adjusted`] | point-adjusted F1 (PA-F1), event-based F1 | TSB-AD 1.5 |
//! | [`range`] | range-based F1 (Tatbul et al., NeurIPS 2018, as TSB-AD computes it) | TSB-AD 1.5 |
//! | [`affiliation`] | affiliation precision / recall, Affiliation-F (Huet et al., KDD 2022) | TSB-AD 1.5 (vendored `affiliation`) |
//! | [`aupro`] | AUPRO of pixel anomaly maps up to FPR 0.3 (Bergmann et al., IJCV 2021) | MVTec AD evaluation code |
//! | [`care`] | CARE score: coverage, accuracy, reliability, earliness (Gück et al., 2024) | EnergyFaultDetector `care_score.py` |
//! | [`delay`] | PA%K F1 and its AUC over K (Kim et al., AAAI 2022), mean time to detect | the paper's definition |
//! | [`nab`] | NAB score, three profiles, raw / threshold / normalised | numenta/NAB `sweeper.py` |
//! | [`parsing`] | log-parsing grouping accuracy, pairwise precision / recall / F-measure | logpai/logparser `evaluator.py` (Loghub) |
//! | [`pate`] | PATE, PATE-F1 (Ghorbani et al., KDD 2024) | pate 0.1.1 |
//! | [`prts`] | range-based precision / recall / F-beta with α, cardinality and bias options | prts 1.0.0.3 |
//! | [`vus`] | VUS-ROC, VUS-PR (Paparrizos et al., VLDB 2022), `opt` version | TSB-AD 1.5 |
//! | [`vus`] | R-AUC-ROC, R-AUC-PR (range AUC at one window) | vus 0.0.6 |
//!
//! [`named`] computes the threshold-free ones by name.
//!
//! Conventions: labels are `bool` (true = anomalous), scores are finite `f64` (higher = more
//! anomalous); inputs of different lengths, empty inputs and non-finite scores are errors. Where
//! the reference returns NaN (e.g. AUC-ROC with one class) anomex returns NaN; where it raises
//! (e.g. VUS without any anomaly) anomex returns an error saying why. Where a reference has a bug,
//! the default is the correct value and [`Compat::Reference`] reproduces the reference.

pub mod adjusted;
pub mod affiliation;
pub mod aupro;
pub mod care;
pub mod delay;
pub mod nab;
pub mod named;
pub mod parsing;
pub mod pate;
pub mod point;
pub mod prts;
pub mod range;
pub mod segments;
pub mod vus;

use anomex_core::{Error, Result};

/// Whether to reproduce a reference implementation's known deviations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compat {
    /// The metric as defined (default).
    #[default]
    Correct,
    /// Bit-for-bit the reference implementation's behaviour, bugs included (documented per metric).
    Reference,
}

/// Checks that labels and scores are non-empty, of equal length, and that scores are finite.
pub fn check(labels: &[bool], scores: &[f64]) -> Result<()> {
    if labels.is_empty() {
        return Err(Error::input("labels and scores are empty"));
    }
    if labels.len() != scores.len() {
        return Err(Error::input(format!(
            "{} labels but {} scores",
            labels.len(),
            scores.len()
        )));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(Error::input(format!(
            "score {i} is {}; scores must be finite",
            scores[i]
        )));
    }
    Ok(())
}

/// Checks that labels and a prediction have the same, non-zero length.
pub fn check_pred(labels: &[bool], pred: &[bool]) -> Result<()> {
    if labels.is_empty() {
        return Err(Error::input("labels and prediction are empty"));
    }
    if labels.len() != pred.len() {
        return Err(Error::input(format!(
            "{} labels but a prediction of {} points",
            labels.len(),
            pred.len()
        )));
    }
    Ok(())
}

pub use anomex_core::stats::linspace;

/// The 100 thresholds TSB-AD sweeps for its F1 metrics: `linspace(min(S), max(S), 100)`.
pub fn tsb_thresholds(scores: &[f64]) -> Vec<f64> {
    let (lo, hi) = scores
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &s| {
            (a.min(s), b.max(s))
        });
    linspace(lo, hi, 100)
}

/// The best value of `metric(pred)` over TSB-AD's 100 thresholds with `pred = S > t`, taken
/// with Python's `max` as the reference does.
pub(crate) fn sweep(scores: &[f64], mut metric: impl FnMut(&[bool]) -> f64) -> f64 {
    let mut pred = vec![false; scores.len()];
    python_max(tsb_thresholds(scores).into_iter().map(|t| {
        for (p, &s) in pred.iter_mut().zip(scores) {
            *p = s > t;
        }
        metric(&pred)
    }))
}

/// Python's `max` over a list: keeps the first element unless a later one compares greater
/// (so a leading NaN wins, a later NaN is skipped), as the reference code's `max(list)` does.
pub(crate) fn python_max(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut it = values.into_iter();
    let Some(mut best) = it.next() else {
        return f64::NAN;
    };
    for v in it {
        if v > best {
            best = v;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_matches_numpy() {
        // numpy.linspace(0, 1, 5)
        assert_eq!(linspace(0.0, 1.0, 5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        // the last value is exact even when i·step rounds
        let v = linspace(0.1, 0.7, 100);
        assert_eq!(v[99], 0.7);
        assert_eq!(v[1], 1.0 * ((0.7 - 0.1) / 99.0) + 0.1);
    }

    #[test]
    fn python_max_semantics() {
        assert!(python_max([f64::NAN, 1.0]).is_nan());
        assert_eq!(python_max([1.0, f64::NAN, 2.0]), 2.0);
    }

    #[test]
    fn input_checks() {
        assert!(check(&[], &[]).is_err());
        assert!(check(&[true], &[1.0, 2.0])
            .unwrap_err()
            .to_string()
            .contains("1 labels but 2 scores"));
        assert!(check(&[true, false], &[1.0, f64::NAN])
            .unwrap_err()
            .to_string()
            .contains("score 1"));
    }
}
