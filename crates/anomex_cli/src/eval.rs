//! `anomex eval`: evaluation metrics of scores (and optionally a prediction) against labels.

use crate::EvalArgs;
use anomex_data::Selection;
use anomex_metrics::{adjusted, affiliation, delay, nab, pate, point, range, vus, Compat};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Metric names, as TSB-AD names them where they overlap.
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
/// Metrics of a fixed prediction (`--pred`).
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

/// Reads one column of numbers from `.npy`, a single-column CSV, or Parquet.
fn read_vector(path: &Path, what: &str) -> Result<Vec<f64>> {
    if !path.exists() {
        bail!("{what} file {} does not exist", path.display());
    }
    let d = anomex_data::read(path, &Selection::default())
        .with_context(|| format!("reading the {what} from {}", path.display()))?;
    if d.frame.cols() != 1 {
        bail!(
            "the {what} file {} has {} columns; give a file with one",
            path.display(),
            d.frame.cols()
        );
    }
    Ok(d.frame.column_vec(0))
}

fn as_labels(v: &[f64]) -> Vec<bool> {
    v.iter().map(|&x| x != 0.0).collect()
}

pub fn eval(a: EvalArgs) -> Result<()> {
    let labels = as_labels(&read_vector(&a.labels, "labels")?);
    let scores = read_vector(&a.scores, "scores")?;
    let pred = a
        .pred
        .as_ref()
        .map(|p| read_vector(p, "prediction").map(|v| as_labels(&v)))
        .transpose()?;
    let compat = if a.compat_reference {
        Compat::Reference
    } else {
        Compat::Correct
    };
    let available: Vec<&str> = SCORE_METRICS
        .iter()
        .chain(if pred.is_some() { PRED_METRICS } else { &[] })
        .copied()
        .collect();
    let wanted: Vec<&str> = match a.metrics.as_deref() {
        None | Some("all") => available.clone(),
        Some(list) => list.split(',').map(str::trim).collect(),
    };
    if let Some(bad) = wanted.iter().find(|m| !available.contains(m)) {
        let hint = if PRED_METRICS.contains(bad) {
            " (it needs --pred)"
        } else {
            ""
        };
        bail!(
            "unknown metric `{bad}`{hint}; available: {}",
            available.join(", ")
        );
    }
    let mut vus_cache = None;
    let mut results: Vec<(&str, f64)> = Vec::new();
    for &m in &wanted {
        let (l, s) = (&labels[..], &scores[..]);
        let value = match m {
            "AUC-ROC" => point::auc_roc(l, s)?,
            "AUC-PR" => point::auc_pr(l, s)?,
            "VUS-ROC" | "VUS-PR" => {
                let v = match vus_cache {
                    Some(v) => v,
                    None => *vus_cache.insert(vus::vus(l, s, a.window)?),
                };
                if m == "VUS-ROC" {
                    v.roc
                } else {
                    v.pr
                }
            }
            "Standard-F1" => point::standard_f1(l, s)?,
            "PA-F1" => adjusted::pa_f1(l, s, compat)?,
            "Event-based-F1" => adjusted::event_f1(l, s, compat)?,
            "R-based-F1" => range::range_f1(l, s)?,
            "Affiliation-F" => affiliation::affiliation_f(l, s)?,
            "PATE" => pate::pate(l, s, a.buffer, a.buffer)?,
            "PA%K-AUC" => delay::pa_k_auc(l, s)?,
            "R-AUC-ROC" => vus::range_auc(l, s, a.window)?.roc,
            "R-AUC-PR" => vus::range_auc(l, s, a.window)?.pr,
            "NAB-standard" | "NAB-low-FP" | "NAB-low-FN" => {
                let profile = match m {
                    "NAB-standard" => nab::STANDARD,
                    "NAB-low-FP" => nab::LOW_FP,
                    _ => nab::LOW_FN,
                };
                // NaN (JSON null) when no window can be scored
                nab::nab(l, s, profile, compat)?
                    .normalized
                    .unwrap_or(f64::NAN)
            }
            _ => {
                let p = pred.as_deref().context("prediction metrics need --pred")?;
                match m {
                    "Precision@pred" => point::prf(l, p)?.precision(),
                    "Recall@pred" => point::prf(l, p)?.recall(),
                    "F1@pred" => point::prf(l, p)?.f1(),
                    "PA-F1@pred" => adjusted::pa_f1_pred(l, p, compat)?,
                    "Event-based-F1@pred" => adjusted::event_f1_pred(l, p, compat)?,
                    "Affiliation-F@pred" => affiliation::affiliation_f_pred(l, p)?,
                    "PATE-F1" => pate::pate_f1(l, p, a.buffer, a.buffer)?,
                    "MTTD@pred" => delay::time_to_detect(l, p)?.mean,
                    "VUS-Recall@pred" => vus::vus_pred(l, p, a.window, compat)?.recall,
                    "VUS-Precision@pred" => vus::vus_pred(l, p, a.window, compat)?.precision,
                    "VUS-F@pred" => vus::vus_pred(l, p, a.window, compat)?.f,
                    _ => range::range_f1_pred(l, p)?,
                }
            }
        };
        results.push((m, value));
    }
    if a.json {
        let map: serde_json::Map<String, serde_json::Value> = results
            .iter()
            .map(|&(k, v)| {
                // NaN (undefined, e.g. AUC-ROC with one class) is JSON null
                (
                    k.to_string(),
                    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into),
                )
            })
            .collect();
        outln!("{}", serde_json::Value::Object(map));
    } else {
        outln!(
            "{} points, {} anomalous; VUS window {}{}",
            labels.len(),
            labels.iter().filter(|&&l| l).count(),
            a.window,
            if a.compat_reference {
                "; reference-compatible PA/event F1"
            } else {
                ""
            }
        );
        for (k, v) in &results {
            outln!("  {k:<22} {v:.6}");
        }
    }
    Ok(())
}
