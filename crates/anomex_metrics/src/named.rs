//! Every metric by name (TSB-AD's names where they overlap): threshold-free metrics of a score
//! and metrics of a fixed prediction, for the command line, the benchmark harness and the
//! bindings.

use crate::{adjusted, affiliation, delay, nab, pate, point, range, vus, Compat};
use anomex_core::{Error, Result};

/// Every metric of a score, in a stable order.
pub const SCORE_METRICS: &[&str] = &[
    "AUC-ROC",
    "AUC-PR",
    "VUS-ROC",
    "VUS-PR",
    "Standard-F1",
    "PA-F1",
    "Event-based-F1",
    "R-based-F1",
    "Affiliation-F",
    "PATE",
    "R-AUC-ROC",
    "R-AUC-PR",
    "NAB-standard",
    "NAB-low-FP",
    "NAB-low-FN",
    "PA%K-AUC",
];

/// Every metric of a fixed prediction (labels decided by a threshold), in a stable order.
pub const PRED_METRICS: &[&str] = &[
    "Precision@pred",
    "Recall@pred",
    "F1@pred",
    "PA-F1@pred",
    "Event-based-F1@pred",
    "R-based-F1@pred",
    "Affiliation-F@pred",
    "PATE-F1",
    "VUS-Recall@pred",
    "VUS-Precision@pred",
    "VUS-F@pred",
    "MTTD@pred",
];

/// Settings shared by the metrics that have any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// The largest VUS window (TSB-AD's `slidingWindow`), also R-AUC's window.
    pub window: usize,
    /// PATE's early and delayed buffer.
    pub buffer: usize,
    pub compat: Compat,
}

/// Checks that every name is a known score metric.
pub fn check_names(names: &[&str]) -> Result<()> {
    match names.iter().find(|m| !SCORE_METRICS.contains(m)) {
        Some(bad) => Err(Error::input(format!(
            "unknown metric `{bad}`; available: {}",
            SCORE_METRICS.join(", ")
        ))),
        None => Ok(()),
    }
}

/// The value of each named metric (NaN where the metric is undefined, e.g. NAB without a
/// scoreable window); VUS-ROC and VUS-PR share one computation.
pub fn score_metrics(
    names: &[&str],
    labels: &[bool],
    scores: &[f64],
    o: Options,
) -> Result<Vec<f64>> {
    check_names(names)?;
    let mut vus_cache = None;
    let mut range_cache = None;
    names
        .iter()
        .map(|&m| {
            let (l, s) = (labels, scores);
            Ok(match m {
                "AUC-ROC" => point::auc_roc(l, s)?,
                "AUC-PR" => point::auc_pr(l, s)?,
                "VUS-ROC" | "VUS-PR" => {
                    let v = match vus_cache {
                        Some(v) => v,
                        None => *vus_cache.insert(vus::vus(l, s, o.window)?),
                    };
                    if m == "VUS-ROC" {
                        v.roc
                    } else {
                        v.pr
                    }
                }
                "R-AUC-ROC" | "R-AUC-PR" => {
                    let v = match range_cache {
                        Some(v) => v,
                        None => *range_cache.insert(vus::range_auc(l, s, o.window)?),
                    };
                    if m == "R-AUC-ROC" {
                        v.roc
                    } else {
                        v.pr
                    }
                }
                "Standard-F1" => point::standard_f1(l, s)?,
                "PA-F1" => adjusted::pa_f1(l, s, o.compat)?,
                "Event-based-F1" => adjusted::event_f1(l, s, o.compat)?,
                "R-based-F1" => range::range_f1(l, s)?,
                "Affiliation-F" => affiliation::affiliation_f(l, s)?,
                "PATE" => pate::pate(l, s, o.buffer, o.buffer)?,
                "PA%K-AUC" => delay::pa_k_auc(l, s)?,
                _ => {
                    let profile = match m {
                        "NAB-standard" => nab::STANDARD,
                        "NAB-low-FP" => nab::LOW_FP,
                        _ => nab::LOW_FN,
                    };
                    nab::nab(l, s, profile, o.compat)?
                        .normalized
                        .unwrap_or(f64::NAN)
                }
            })
        })
        .collect()
}

/// The value of each named prediction metric (NaN where undefined, e.g. MTTD with no event
/// detected).
pub fn pred_metrics(
    names: &[&str],
    labels: &[bool],
    pred: &[bool],
    o: Options,
) -> Result<Vec<f64>> {
    if let Some(bad) = names.iter().find(|m| !PRED_METRICS.contains(m)) {
        return Err(Error::input(format!(
            "unknown prediction metric `{bad}`; available: {}",
            PRED_METRICS.join(", ")
        )));
    }
    let (l, p) = (labels, pred);
    names
        .iter()
        .map(|&m| {
            Ok(match m {
                "Precision@pred" => point::prf(l, p)?.precision(),
                "Recall@pred" => point::prf(l, p)?.recall(),
                "F1@pred" => point::prf(l, p)?.f1(),
                "PA-F1@pred" => adjusted::pa_f1_pred(l, p, o.compat)?,
                "Event-based-F1@pred" => adjusted::event_f1_pred(l, p, o.compat)?,
                "Affiliation-F@pred" => affiliation::affiliation_f_pred(l, p)?,
                "PATE-F1" => pate::pate_f1(l, p, o.buffer, o.buffer)?,
                "MTTD@pred" => delay::time_to_detect(l, p)?.mean,
                "VUS-Recall@pred" => vus::vus_pred(l, p, o.window, o.compat)?.recall,
                "VUS-Precision@pred" => vus::vus_pred(l, p, o.window, o.compat)?.precision,
                "VUS-F@pred" => vus::vus_pred(l, p, o.window, o.compat)?.f,
                _ => range::range_f1_pred(l, p)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_a_value_and_names_are_checked() {
        let labels: Vec<bool> = (0..400).map(|i| (200..220).contains(&i)).collect();
        let scores: Vec<f64> = labels
            .iter()
            .enumerate()
            .map(|(i, &l)| f64::from(u8::from(l)) + (i % 7) as f64 * 0.01)
            .collect();
        let o = Options {
            window: 20,
            buffer: 20,
            compat: Compat::Correct,
        };
        let v = score_metrics(SCORE_METRICS, &labels, &scores, o).unwrap();
        assert_eq!(v.len(), SCORE_METRICS.len());
        assert!(v.iter().all(|x| x.is_finite()), "{v:?}");
        assert_eq!(v[0], point::auc_roc(&labels, &scores).unwrap());
        let e = score_metrics(&["AUC"], &labels, &scores, o)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown metric `AUC`"), "{e}");
    }
}
