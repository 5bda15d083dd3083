//! Anomalies in logs: parse the lines into templates ([`anomex_logs::Drain`]), group them into
//! windows or sessions, and score each group — with the next-template model (`ngram`, each
//! line's surprisal given the lines before it, a window scoring its most surprising line) or
//! with any vector detector of the registry on the groups' template-count vectors (PCA,
//! Isolation Forest … as in Xu et al., SOSP 2009, and loglizer).
//!
//! The CLI's `anomex logs` and the Python bindings run through here.

use crate::{registry, DataKind, Error, Frame, Result};
use anomex_logs::lines::{LineReader, LineStats};
use anomex_logs::ngram::NGram;
use anomex_logs::windows::{
    count_matrix, line_windows, sessions, sessions_by_key, Weighting, Window,
};
use anomex_logs::{Drain, DrainConfig, LogFormat, TemplateId};
use regex::Regex;
use std::io::BufRead;

pub use anomex_logs as parse;

/// The detector `anomex logs` uses when none is named: Isolation Forest on the groups'
/// template counts. On BGL's labelled lines (`docs/logs.md`) it ties with PCA (AUROC 0.821
/// against 0.825 on windows of 20 lines) where the n-gram model reaches 0.55–0.78 — BGL's
/// alerts come in bursts of one template, which a sequence model learns to expect — and its
/// scores stay on one scale ([0, 1]) whatever the counts.
pub const DEFAULT_LOG_DETECTOR: &str = "iforest";

/// The threshold `anomex logs` uses when none is named: three median absolute deviations
/// above the median. A log gives few groups (2,000 lines are 100 windows of 20), too few for
/// POT's tail fit, which flagged none of BGL's 28 labelled windows; MAD flags 20 there, 11 of
/// them labelled.
pub const DEFAULT_LOG_THRESHOLD: &str = "mad:3";

/// Which part of a line is the message, and which field (if any) holds a per-line label.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// The log format; `None`: the whole line is the message.
    pub format: Option<LogFormat>,
    /// A format field holding a label per line, and the value that means normal.
    pub label: Option<(String, String)>,
    /// A format field holding each line's session (a node, a request id), kept for
    /// [`Grouping::Field`].
    pub session_field: Option<String>,
    /// Longest line kept, in bytes.
    pub max_line_bytes: usize,
}

/// A parsed log.
#[derive(Debug, Clone)]
pub struct ParsedLog {
    /// The parser, with every template it found.
    pub parser: Drain,
    /// Each kept line's message.
    pub messages: Vec<String>,
    /// Each kept line's 1-based line number in the input.
    pub line_numbers: Vec<u64>,
    /// Each kept line's template.
    pub templates: Vec<TemplateId>,
    /// Per-line labels, where [`Reading::label`] names a field.
    pub labels: Option<Vec<bool>>,
    /// Per-line session ids, where [`Reading::session_field`] names a field.
    pub session_ids: Option<Vec<String>>,
    /// What reading the input did (cut lines, invalid UTF-8, binary).
    pub stats: LineStats,
    /// Lines skipped because they do not match the format (or are blank).
    pub skipped: u64,
    /// The first skipped line's number, for the message that reports them.
    pub first_skipped: Option<u64>,
}

/// Reads and parses a log, one line at a time. Lines that do not match the format and blank
/// lines are skipped and counted; a log with no line left is an error that says why.
pub fn parse_log(input: impl BufRead, reading: &Reading, drain: DrainConfig) -> Result<ParsedLog> {
    let field_index = |option: &str, field: Option<&String>| -> Result<Option<usize>> {
        match (&reading.format, field) {
            (Some(format), Some(field)) => format
                .fields()
                .iter()
                .position(|f| f == field)
                .map(Some)
                .ok_or_else(|| {
                    Error::param(
                        option,
                        format!("the format has no <{field}> field ({})", format.source()),
                    )
                }),
            (None, Some(_)) => Err(Error::param(option, "a field needs a log format")),
            _ => Ok(None),
        }
    };
    let label_index = field_index("label-field", reading.label.as_ref().map(|l| &l.0))?;
    let session_index = field_index("session-field", reading.session_field.as_ref())?;
    let mut reader = LineReader::new(input, reading.max_line_bytes);
    let mut out = ParsedLog {
        parser: Drain::new(drain)?,
        messages: Vec::new(),
        line_numbers: Vec::new(),
        templates: Vec::new(),
        labels: label_index.map(|_| Vec::new()),
        session_ids: session_index.map(|_| Vec::new()),
        stats: LineStats::default(),
        skipped: 0,
        first_skipped: None,
    };
    let content_index = reading.format.as_ref().and_then(|f| {
        f.fields()
            .iter()
            .position(|name| name == anomex_logs::format::CONTENT)
    });
    let mut number = 0u64;
    while let Some(line) = reader.next_line()? {
        number += 1;
        let parsed = match &reading.format {
            Some(format) => format.split(&line).map(|fields| {
                let label = label_index
                    .zip(reading.label.as_ref())
                    .map(|(i, (_, normal))| fields[i] != normal);
                let session = session_index.map(|i| fields[i].to_string());
                (
                    content_index.map_or("", |i| fields[i]).to_string(),
                    label,
                    session,
                )
            }),
            None => Some((line.trim().to_string(), None, None)),
        };
        let Some((message, label, session)) = parsed.filter(|(m, _, _)| !m.trim().is_empty())
        else {
            out.skipped += 1;
            out.first_skipped.get_or_insert(number);
            continue;
        };
        out.templates.push(out.parser.add(&message).template);
        out.messages.push(message);
        out.line_numbers.push(number);
        if let (Some(labels), Some(label)) = (out.labels.as_mut(), label) {
            labels.push(label);
        }
        if let (Some(ids), Some(session)) = (out.session_ids.as_mut(), session) {
            ids.push(session);
        }
    }
    out.stats = reader.stats();
    if out.messages.is_empty() {
        return Err(Error::input(match (out.stats.lines, &reading.format) {
            (0, _) => "the log is empty".to_string(),
            (n, Some(format)) => format!(
                "none of the {n} lines matches the log format {:?} (first line {})",
                format.source(),
                out.first_skipped.unwrap_or(1)
            ),
            (n, None) => format!("all {n} lines are blank"),
        }));
    }
    Ok(out)
}

/// How lines are grouped.
#[derive(Debug, Clone)]
pub enum Grouping {
    /// `size` consecutive lines, a new group every `step` lines.
    Lines { size: usize, step: usize },
    /// Lines sharing an identifier the pattern finds in their message.
    Sessions(Regex),
    /// Lines sharing the value of [`Reading::session_field`].
    Field,
}

/// How the groups are scored.
#[derive(Debug, Clone)]
pub struct Scoring {
    /// `ngram`, or the name of a vector detector.
    pub detector: String,
    /// Its `key=value` parameters (`ngram`: `history`, `alpha`).
    pub params: Vec<String>,
    /// Count weighting for the vector detectors.
    pub weighting: Weighting,
    /// Learn from the first N lines only (groups entirely inside them, for the vector
    /// detectors), score everything.
    pub train_lines: Option<usize>,
}

/// Scores of a parsed log's groups.
#[derive(Debug, Clone)]
pub struct LogScores {
    /// The groups.
    pub windows: Vec<Window>,
    /// One score per group (higher = more anomalous).
    pub scores: Vec<f64>,
    /// One score per line, for the detectors that score lines (`ngram`, event detectors).
    pub line_scores: Option<Vec<f64>>,
}

/// Groups a parsed log's lines and scores the groups.
pub fn score_log(log: &ParsedLog, grouping: &Grouping, scoring: &Scoring) -> Result<LogScores> {
    let windows = match grouping {
        Grouping::Lines { size, step } => line_windows(log.messages.len(), *size, *step)?,
        Grouping::Sessions(pattern) => sessions(&log.messages, pattern),
        Grouping::Field => sessions_by_key(log.session_ids.as_deref().ok_or_else(|| {
            Error::param("session-field", "the log was read without a session field")
        })?),
    };
    if windows.is_empty() {
        return Err(Error::input(
            "no line belongs to a session: the session pattern matches no line",
        ));
    }
    let train = scoring.train_lines.unwrap_or(log.messages.len());
    if train == 0 {
        return Err(Error::param("train-lines", "must be at least 1"));
    }
    if scoring.detector == "ngram" {
        let (history, alpha, reduce) = ngram_params(&scoring.params)?;
        let mut model = NGram::new(history, alpha)?;
        let train = train.min(log.templates.len());
        let line_scores = match grouping {
            Grouping::Lines { .. } => {
                model.fit(&log.templates[..train]);
                model.score(&log.templates)
            }
            Grouping::Sessions(_) | Grouping::Field => {
                // each session is its own sequence; a line in several sessions keeps its
                // highest surprisal
                let sequence = |w: &Window| -> Vec<TemplateId> {
                    w.lines.iter().map(|&i| log.templates[i]).collect()
                };
                for w in windows
                    .iter()
                    .filter(|w| w.lines.last().is_some_and(|&l| l < train))
                {
                    model.fit(&sequence(w));
                }
                let mut scores = vec![0.0f64; log.templates.len()];
                for w in &windows {
                    for (&i, s) in w.lines.iter().zip(model.score(&sequence(w))) {
                        scores[i] = scores[i].max(s);
                    }
                }
                scores
            }
        };
        let scores = windows
            .iter()
            .map(|w| reduce.apply(w.lines.iter().map(|&i| line_scores[i]), w.lines.len()))
            .collect();
        return Ok(LogScores {
            windows,
            scores,
            line_scores: Some(line_scores),
        });
    }
    let registry = registry();
    let entry = registry.get(&scoring.detector)?;
    if entry.data == DataKind::Events {
        return score_sequence(log, windows, scoring, entry, train);
    }
    if entry.data != DataKind::Vectors {
        return Err(Error::param(
            "detector",
            format!(
                "{} reads {}; log groups are scored by `ngram`, an event detector (`deeplog`) \
                 or a vector detector (`anomex list`)",
                scoring.detector,
                entry.data.as_str()
            ),
        ));
    }
    let x = count_matrix(
        &log.templates,
        &windows,
        log.parser.len(),
        scoring.weighting,
    )?;
    let names = (0..x.ncols()).map(|t| format!("T{t}")).collect();
    let frame = Frame::new(x, names)?;
    let train_rows: Vec<usize> = (0..windows.len())
        .filter(|&r| windows[r].lines.last().is_some_and(|&l| l < train))
        .collect();
    if train_rows.is_empty() {
        return Err(Error::param(
            "train-lines",
            format!("no group lies entirely within the first {train} lines"),
        ));
    }
    let detector = entry.create(&scoring.params)?;
    let fitted = if train_rows.len() == windows.len() {
        detector.fit(&frame)?
    } else {
        let rows = frame.values().select(ndarray::Axis(0), &train_rows);
        detector.fit(&Frame::new(rows, frame.column_names().to_vec())?)?
    };
    let scores = fitted.score(&frame)?.combined;
    Ok(LogScores {
        windows,
        scores,
        line_scores: None,
    })
}

/// How a group's score comes from its lines' surprisals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reduce {
    /// The most surprising line.
    Max,
    /// The mean surprisal: −log-likelihood of the group per line.
    Mean,
    /// The total surprisal: −log-likelihood of the group.
    Sum,
}

impl Reduce {
    fn apply(self, scores: impl Iterator<Item = f64>, n: usize) -> f64 {
        match self {
            Reduce::Max => scores.fold(0.0, f64::max),
            Reduce::Sum => scores.sum(),
            Reduce::Mean => scores.sum::<f64>() / n.max(1) as f64,
        }
    }
}

/// An event detector (DeepLog) on the log's template ids, one sequence: fitted on the first
/// `train` lines, each line scored, a group scored by its most surprising line. The number of
/// one-hot slots is the parser's templates plus one for templates first seen after training,
/// unless the parameters say otherwise.
fn score_sequence(
    log: &ParsedLog,
    windows: Vec<Window>,
    scoring: &Scoring,
    entry: &crate::Entry,
    train: usize,
) -> Result<LogScores> {
    let ids: Vec<f64> = log.templates.iter().map(|&t| f64::from(t)).collect();
    let mut params = scoring.params.clone();
    if entry.params.iter().any(|p| p.name == "templates")
        && !params.iter().any(|p| p.starts_with("templates="))
    {
        let seen = log.templates[..train.min(log.templates.len())]
            .iter()
            .max()
            .map_or(0, |&t| t as usize + 1);
        params.push(format!("templates={}", seen + 1));
    }
    let detector = entry.create(&params)?;
    let all = Frame::from_series(&ids)?;
    let fitted = if train >= ids.len() {
        detector.fit(&all)?
    } else {
        detector.fit(&Frame::from_series(&ids[..train])?)?
    };
    let line_scores = fitted.score(&all)?.combined;
    let scores = windows
        .iter()
        .map(|w| Reduce::Max.apply(w.lines.iter().map(|&i| line_scores[i]), w.lines.len()))
        .collect();
    Ok(LogScores {
        windows,
        scores,
        line_scores: Some(line_scores),
    })
}

fn ngram_params(params: &[String]) -> Result<(usize, f64, Reduce)> {
    let (mut history, mut alpha, mut reduce) = (3usize, 1.0f64, Reduce::Max);
    for p in params {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| Error::param(p.clone(), "expected key=value"))?;
        let bad = |e: String| Error::param(k.to_string(), e);
        match k {
            "history" => history = v.parse().map_err(|e| bad(format!("{v:?}: {e}")))?,
            "alpha" => alpha = v.parse().map_err(|e| bad(format!("{v:?}: {e}")))?,
            "group" => {
                reduce = match v {
                    "max" => Reduce::Max,
                    "mean" => Reduce::Mean,
                    "sum" => Reduce::Sum,
                    _ => return Err(bad(format!("{v:?}: one of max, mean, sum"))),
                }
            }
            _ => {
                return Err(Error::param(
                    k.to_string(),
                    "ngram takes history (context length, default 3), alpha (smoothing, default 1) and \
                     group (max, mean or sum of the lines' surprisals, default max)",
                ))
            }
        }
    }
    Ok((history, alpha, reduce))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_text() -> String {
        let mut s = String::new();
        for i in 0..200 {
            s.push_str(&format!(
                "INFO open file {i}.txt\nINFO read {} bytes\nINFO close file {i}.txt\n",
                i * 7
            ));
        }
        s.push_str("ERROR disk failure on sda\n");
        for i in 0..19 {
            s.push_str(&format!(
                "INFO open file {i}.txt\nINFO read 3 bytes\nINFO close file {i}.txt\n"
            ));
        }
        // 660 lines: the last window of 6 is whole
        s.push_str("INFO open file 9.txt\nINFO read 3 bytes\n");
        s
    }

    #[test]
    fn the_odd_line_out_scores_highest_with_ngram_and_pca() {
        let reading = Reading {
            format: Some(LogFormat::new("<Level> <Content>").unwrap()),
            label: Some(("Level".into(), "INFO".into())),
            session_field: None,
            max_line_bytes: 1 << 16,
        };
        let log = parse_log(log_text().as_bytes(), &reading, DrainConfig::default()).unwrap();
        assert_eq!(
            log.parser.len(),
            4,
            "{:?}",
            log.parser.templates().collect::<Vec<_>>()
        );
        let labels = log.labels.as_ref().unwrap();
        assert_eq!(labels.iter().filter(|&&l| l).count(), 1);
        for detector in ["ngram", "pca"] {
            let scoring = Scoring {
                detector: detector.into(),
                params: vec![],
                weighting: Weighting::Counts,
                train_lines: None,
            };
            let s = score_log(&log, &Grouping::Lines { size: 6, step: 6 }, &scoring).unwrap();
            let top = (0..s.scores.len())
                .max_by(|&a, &b| s.scores[a].total_cmp(&s.scores[b]))
                .unwrap();
            assert!(
                s.windows[top].lines.iter().any(|&i| labels[i]),
                "{detector}: window {top}"
            );
        }
    }

    #[test]
    fn empty_and_unmatched_logs_are_named_errors() {
        let reading = Reading {
            max_line_bytes: 1024,
            ..Reading::default()
        };
        let e = parse_log(&b""[..], &reading, DrainConfig::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
        let formatted = Reading {
            format: Some(LogFormat::new(r"\[<Time>\] <Content>").unwrap()),
            ..reading
        };
        let e = parse_log(&b"no brackets\n"[..], &formatted, DrainConfig::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("none of the 1 lines"), "{e}");
    }

    #[test]
    fn series_detectors_are_refused_for_log_groups() {
        let reading = Reading {
            max_line_bytes: 1024,
            ..Reading::default()
        };
        let log = parse_log(log_text().as_bytes(), &reading, DrainConfig::default()).unwrap();
        let scoring = Scoring {
            detector: "zscore".into(),
            params: vec![],
            weighting: Weighting::Counts,
            train_lines: None,
        };
        let e = score_log(&log, &Grouping::Lines { size: 5, step: 5 }, &scoring).unwrap_err();
        assert!(e.to_string().contains("vector detector"), "{e}");
    }
}
