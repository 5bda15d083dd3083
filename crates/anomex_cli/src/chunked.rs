//! Data larger than memory: scoring a `.npy` file a chunk of rows at a time, and fitting on a
//! uniform sample of its rows drawn in one pass (reservoir sampling, Vitter's Algorithm R).
//! Only detectors that score each row on its own (the vector detectors) can be chunked: a
//! series detector's score depends on the rows around it.

use anomex::{DataKind, FittedDetector, Frame};
use anomex_data::npy_stream::NpyRows;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::Write;
use std::path::{Path, PathBuf};

fn expect_npy(path: &Path) -> Result<()> {
    if path.extension().and_then(|e| e.to_str()) != Some("npy") {
        bail!(
            "{}: chunked reading needs a .npy file (convert other formats first)",
            path.display()
        );
    }
    Ok(())
}

fn bar(rows: usize) -> ProgressBar {
    let bar = ProgressBar::new(rows as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} rows {per_sec} {eta}") {
        bar.set_style(style);
    }
    bar
}

/// `sample` rows drawn uniformly from the `.npy` at `path` in one pass, in file order.
pub fn sample_rows(path: &Path, sample: usize, seed: u64) -> Result<Frame<'static>> {
    expect_npy(path)?;
    if sample == 0 {
        bail!("--sample must be at least 1");
    }
    let mut rows = NpyRows::open(path)?;
    let (n, cols) = rows.shape();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut kept: Vec<(usize, Vec<f64>)> = Vec::with_capacity(sample.min(n));
    let progress = bar(n);
    let mut seen = 0usize;
    while let Some(chunk) = rows.next_chunk(65_536)? {
        for row in chunk.values().rows() {
            if kept.len() < sample {
                kept.push((seen, row.to_vec()));
            } else {
                let slot = rng.random_range(0..=seen);
                if slot < sample {
                    kept[slot] = (seen, row.to_vec());
                }
            }
            seen += 1;
        }
        progress.set_position(seen as u64);
    }
    progress.finish_and_clear();
    kept.sort_by_key(|r| r.0);
    let columns: Vec<Vec<f64>> = (0..cols)
        .map(|j| kept.iter().map(|r| r.1[j]).collect())
        .collect();
    Ok(Frame::from_columns(&columns)?)
}

/// What a chunked scoring run did.
pub struct ChunkedSummary {
    pub rows: usize,
    pub flagged: usize,
    pub max_score: f64,
    pub output: Option<PathBuf>,
}

/// Scores the `.npy` at `path` `chunk_rows` rows at a time; the threshold policy is fitted on
/// the first chunk's scores. Scores and labels go to `output` (CSV) as they are made.
pub fn score(
    fitted: &dyn FittedDetector,
    registry: &anomex::Registry,
    path: &Path,
    chunk_rows: usize,
    policy_text: &str,
    output: Option<&Path>,
) -> Result<ChunkedSummary> {
    expect_npy(path)?;
    let entry = registry.get(fitted.name())?;
    if entry.data != DataKind::Vectors {
        bail!(
            "{} scores a point from the points around it; chunked scoring needs a vector detector",
            fitted.name()
        );
    }
    if chunk_rows == 0 {
        bail!("--chunk-rows must be at least 1");
    }
    if let Some(out) = output {
        if out.extension().and_then(|e| e.to_str()) != Some("csv") {
            bail!("{}: chunked scores are written as CSV", out.display());
        }
    }
    let mut rows = NpyRows::open(path)?;
    let (n, cols) = rows.shape();
    if cols != fitted.n_columns() {
        bail!(
            "{}: {cols} column(s), the model was fitted on {}",
            path.display(),
            fitted.n_columns()
        );
    }
    let mut writer = match output {
        Some(out) => {
            let file = std::fs::File::create(out)
                .with_context(|| format!("creating {}", out.display()))?;
            let mut w = std::io::BufWriter::new(file);
            writeln!(w, "index,score,label")?;
            Some(w)
        }
        None => None,
    };
    let mut policy = anomex::threshold::parse(policy_text)?;
    let progress = bar(n);
    let (mut done, mut flagged, mut max_score) = (0usize, 0usize, f64::NEG_INFINITY);
    while let Some(chunk) = rows.next_chunk(chunk_rows)? {
        let scores = fitted.score(&chunk)?.combined;
        if done == 0 {
            policy.fit(&scores).with_context(|| {
                format!("fitting the `{policy_text}` threshold on the first chunk")
            })?;
        }
        let decision = policy.decide(&scores)?;
        flagged += decision.labels.iter().filter(|&&l| l).count();
        max_score = scores.iter().copied().fold(max_score, f64::max);
        if let Some(w) = writer.as_mut() {
            for (i, (s, l)) in scores.iter().zip(&decision.labels).enumerate() {
                writeln!(w, "{},{s},{l}", done + i)?;
            }
        }
        done += chunk.rows();
        progress.set_position(done as u64);
    }
    progress.finish_and_clear();
    if let Some(mut w) = writer {
        w.flush()?;
    }
    Ok(ChunkedSummary {
        rows: done,
        flagged,
        max_score,
        output: output.map(Path::to_path_buf),
    })
}
