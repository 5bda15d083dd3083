//! The Loghub benchmark's 2k samples: reading them, and scoring a parser on them as the
//! benchmark does (Zhu et al., ICSE-SEIP 2019).
//!
//! A system's directory holds `<System>_2k.log` (raw lines) and `<System>_2k.log_structured.csv`
//! (per line: the fields, the `Content`, the true `EventId`; BGL adds a `Label`). The parser
//! reads the raw lines through the system's format, as a user would; each line's group is its
//! template's final text, as the reference evaluator identifies groups.

use crate::drain::{Drain, DrainConfig};
use crate::format::LogFormat;
use anomex_core::{Error, Result};
use anomex_metrics::parsing::{parsing_accuracy, ParsingAccuracy};
use std::path::Path;
use std::time::Instant;

/// One system's sample.
#[derive(Debug, Clone)]
pub struct LoghubSet {
    /// The system.
    pub system: String,
    /// The raw lines.
    pub lines: Vec<String>,
    /// The message of each line, from the structured file.
    pub contents: Vec<String>,
    /// The true event of each line.
    pub events: Vec<String>,
    /// Per-line alert labels where the set has them (BGL: `Label` other than `-`).
    pub labels: Option<Vec<bool>>,
}

/// Reads `dir/<system>_2k.log` and its structured file; errors name the file and the problem.
pub fn read(dir: &Path, system: &str) -> Result<LoghubSet> {
    let raw_path = dir.join(format!("{system}_2k.log"));
    let raw = std::fs::read(&raw_path)
        .map_err(|e| Error::input(format!("{}: {e}", raw_path.display())))?;
    let lines: Vec<String> = String::from_utf8_lossy(&raw)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let csv_path = dir.join(format!("{system}_2k.log_structured.csv"));
    let mut reader = csv::Reader::from_path(&csv_path)
        .map_err(|e| Error::input(format!("{}: {e}", csv_path.display())))?;
    let headers = reader
        .headers()
        .map_err(|e| Error::input(format!("{}: {e}", csv_path.display())))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::input(format!("{}: no {name} column", csv_path.display())))
    };
    let (content, event) = (column("Content")?, column("EventId")?);
    let label = headers.iter().position(|h| h == "Label");
    let (mut contents, mut events, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    for (i, record) in reader.records().enumerate() {
        let record = record
            .map_err(|e| Error::input(format!("{} row {}: {e}", csv_path.display(), i + 2)))?;
        contents.push(record.get(content).unwrap_or_default().to_string());
        events.push(record.get(event).unwrap_or_default().to_string());
        if let Some(l) = label {
            labels.push(record.get(l).unwrap_or("-") != "-");
        }
    }
    Ok(LoghubSet {
        system: system.to_string(),
        lines,
        contents,
        events,
        labels: label.map(|_| labels),
    })
}

/// A parser's scores on one set.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Grouping accuracy and pairwise scores.
    pub accuracy: ParsingAccuracy,
    /// Templates found.
    pub templates: usize,
    /// Lines whose message the format extracted differently from the structured file's (0
    /// when the format reads the log as the benchmark does).
    pub content_mismatches: usize,
    /// Seconds spent parsing (format, masks and tree; not reading the file).
    pub seconds: f64,
}

/// Parses a set's raw lines with `format` and `config`, and scores the groups.
pub fn evaluate(set: &LoghubSet, format: &LogFormat, config: &DrainConfig) -> Result<Evaluation> {
    let mut parser = Drain::new(config.clone())?;
    let start = Instant::now();
    let mut ids = Vec::with_capacity(set.lines.len());
    let mut mismatches = 0;
    for (i, line) in set.lines.iter().enumerate() {
        let content = format.content(line).unwrap_or(line.as_str());
        if set.contents.get(i).map(String::as_str) != Some(content) {
            mismatches += 1;
        }
        ids.push(parser.add(content).template);
    }
    let seconds = start.elapsed().as_secs_f64();
    if ids.len() != set.events.len() {
        return Err(Error::input(format!(
            "{}: {} log lines but {} structured rows",
            set.system,
            ids.len(),
            set.events.len()
        )));
    }
    let texts: Vec<String> = (0..parser.len() as u32)
        .map(|id| parser.template(id).unwrap_or_default())
        .collect();
    let groups: Vec<&str> = ids.iter().map(|&id| texts[id as usize].as_str()).collect();
    Ok(Evaluation {
        accuracy: parsing_accuracy(&set.events, &groups)?,
        templates: parser.len(),
        content_mismatches: mismatches,
        seconds,
    })
}
