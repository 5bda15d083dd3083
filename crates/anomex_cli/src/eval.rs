//! `anomex eval`: evaluation metrics of scores (and optionally a prediction) against labels.

use crate::EvalArgs;
use anomex_data::Selection;
use anomex_metrics::{named, Compat};
use anyhow::{bail, Context, Result};
use std::path::Path;

use anomex_metrics::named::{PRED_METRICS, SCORE_METRICS};

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
    if !pred_names.is_empty() {
        let p = pred.as_deref().context("prediction metrics need --pred")?;
        let pred_values = named::pred_metrics(&pred_names, &labels, p, options)?;
        results.extend(pred_names.into_iter().zip(pred_values));
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
