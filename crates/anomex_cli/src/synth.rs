//! `anomex synth`: a seeded synthetic series with labelled anomalies, as CSV or Parquet, and a
//! JSON file beside it that lists every injected anomaly with the spec that made it.

use crate::SynthArgs;
use anomex_data::output::LabelledTable;
use anomex_synth::{generate, Kind, Season, Spec};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// `a:b` as two numbers.
fn pair<T: std::str::FromStr>(text: &str, what: &str) -> Result<(T, T)> {
    let parsed = text
        .split_once(':')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    parsed.with_context(|| format!("{what} `{text}` is not two numbers as `a:b`"))
}

fn spec(a: &SynthArgs) -> Result<Spec> {
    let seasons = if a.season.iter().any(|s| s == "none") {
        Vec::new()
    } else if a.season.is_empty() {
        Spec::default().seasons
    } else {
        a.season
            .iter()
            .map(|s| {
                let (period, amplitude) = pair(s, "--season")?;
                Ok(Season { period, amplitude })
            })
            .collect::<Result<_>>()?
    };
    let kinds = match &a.kinds {
        None => Kind::ALL.to_vec(),
        Some(list) => list
            .iter()
            .map(|k| Kind::parse(k.trim()))
            .collect::<Result<_, _>>()?,
    };
    Ok(Spec {
        length: a.length,
        channels: a.channels,
        seed: a.seed,
        trend: a.trend,
        seasons,
        noise: a.noise,
        random_walk: a.random_walk,
        correlation: a.correlation,
        anomalies: a.anomalies,
        kinds,
        severity: pair(&a.severity, "--severity")?,
        segment: pair(&a.segment, "--segment")?,
    })
}

/// Where the anomaly list goes: `out.csv` → `out.anomalies.json`.
fn sidecar(output: &std::path::Path) -> PathBuf {
    output.with_extension("anomalies.json")
}

pub fn synth(a: SynthArgs) -> Result<()> {
    let ext = a
        .output
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("csv" | "parquet" | "pq")) {
        bail!(
            "write the series to a .csv or .parquet file (got {})",
            a.output.display()
        );
    }
    let spec = spec(&a)?;
    let g = generate(&spec)?;
    let names: Vec<String> = (0..spec.channels).map(|c| format!("c{c}")).collect();
    LabelledTable {
        names: &names,
        columns: &g.channels,
        labels: &g.labels,
    }
    .write(&a.output)?;
    let listing = serde_json::json!({ "spec": spec, "anomalies": g.anomalies });
    let side = sidecar(&a.output);
    std::fs::write(&side, serde_json::to_string_pretty(&listing)? + "\n")
        .with_context(|| format!("writing {}", side.display()))?;
    outln!(
        "{} rows × {} channel(s), {} anomalies ({} labelled rows) → {}; anomaly list → {}",
        spec.length,
        spec.channels,
        g.anomalies.len(),
        g.labels.iter().filter(|&&l| l).count(),
        a.output.display(),
        side.display()
    );
    Ok(())
}
