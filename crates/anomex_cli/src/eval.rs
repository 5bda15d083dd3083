//! `anomex eval`: evaluation metrics of scores (and optionally a prediction) against labels.

use crate::EvalArgs;
use anomex_data::Selection;
use anomex_metrics::{adjusted, affiliation, delay, named, pate, point, range, vus, Compat};
use anyhow::{bail, Context, Result};
use std::path::Path;

use anomex_metrics::named::SCORE_METRICS;
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
    let options = named::Options {
        window: a.window,
        buffer: a.buffer,
        compat,
    };
    let (score_names, pred_names): (Vec<&str>, Vec<&str>) =
        wanted.iter().partition(|m| SCORE_METRICS.contains(m));
    let score_values = named::score_metrics(&score_names, &labels, &scores, options)?;
    let mut results: Vec<(&str, f64)> = score_names.into_iter().zip(score_values).collect();
    for m in pred_names {
        let l = &labels[..];
        let p = pred.as_deref().context("prediction metrics need --pred")?;
        let value = match m {
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
        };
        results.push((m, value));
    }
    // in the order asked
    results.sort_by_key(|(m, _)| wanted.iter().position(|w| w == m));
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
