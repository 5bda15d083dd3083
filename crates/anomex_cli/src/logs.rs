//! `anomex logs`: parse a log into templates, score its windows or sessions, show the most
//! anomalous ones with their templates and lines.

use anomex::logs::parse::presets;
use anomex::logs::parse::windows::Weighting;
use anomex::logs::parse::{DrainConfig, LogFormat};
use anomex::logs::{parse_log, score_log, Grouping, LogScores, ParsedLog, Reading, Scoring};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Log file (any text; invalid UTF-8, binary bytes and over-long lines are counted, not fatal)
    file: PathBuf,
    /// Log format in Loghub's notation, e.g. '<Date> <Time> <Level> <Component>: <Content>';
    /// default: the whole line is the message
    #[arg(long, conflicts_with = "preset")]
    format: Option<String>,
    /// A Loghub system's log format (HDFS, BGL, Linux, Android, …)
    #[arg(long)]
    preset: Option<String>,
    /// With --preset: also the parser settings tuned for that system in the Loghub benchmark
    #[arg(long, requires = "preset")]
    tuned: bool,
    /// Mask (repeatable): ip, hex, hexid, number, digits, path, domain, unit, collapse, or a
    /// regular expression; replaces the default list
    #[arg(long = "mask")]
    masks: Vec<String>,
    /// Drain's similarity threshold (default 0.7)
    #[arg(long)]
    similarity: Option<f64>,
    /// Drain's tree depth (default 5)
    #[arg(long)]
    depth: Option<usize>,
    /// Lines longer than this are cut here (counted in the summary)
    #[arg(long, default_value_t = anomex::logs::parse::lines::DEFAULT_MAX_LINE_BYTES)]
    max_line_bytes: usize,
    /// Only parse: print the templates, score nothing
    #[arg(long)]
    parse_only: bool,
    /// Lines per window
    #[arg(long, default_value_t = 20)]
    window: usize,
    /// Lines between window starts (default: the window length, no overlap)
    #[arg(long)]
    step: Option<usize>,
    /// Group lines into sessions by an identifier instead of windows: a regular expression whose
    /// first group (else the match) is the id, e.g. 'blk_-?\d+' for HDFS blocks
    #[arg(long, conflicts_with = "session_field")]
    session: Option<String>,
    /// Group lines into sessions by a field of the log format (e.g. BGL's Node)
    #[arg(long)]
    session_field: Option<String>,
    /// Detector: a vector detector on template counts (iforest, the default; pca, knn, …;
    /// `anomex list`) or ngram (each line's surprisal given the lines before it)
    #[arg(short, long, default_value = anomex::logs::DEFAULT_LOG_DETECTOR)]
    detector: String,
    /// Detector parameter key=value (repeatable)
    #[arg(short, long = "param")]
    params: Vec<String>,
    /// Weight template counts by inverse document frequency (vector detectors)
    #[arg(long)]
    tfidf: bool,
    /// Learn from the first N lines only (a normal prefix), score all
    #[arg(long)]
    train_lines: Option<usize>,
    /// A format field holding a per-line label (e.g. BGL's Label), for evaluation
    #[arg(long)]
    label_field: Option<String>,
    /// The label field's value for normal lines
    #[arg(long, default_value = "-", requires = "label_field")]
    normal: String,
    /// Threshold policy for flagging windows (as `detect`; default mad:3)
    #[arg(long)]
    threshold: Option<String>,
    /// How many of the highest-scored windows to show
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Write one row per line (line, template id, template, score of its window) as CSV
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Write the template table (id, count, template) as CSV
    #[arg(long)]
    templates: Option<PathBuf>,
    /// Print a JSON summary instead of text
    #[arg(long)]
    json: bool,
}

fn reading(a: &LogsArgs) -> Result<(Reading, DrainConfig)> {
    let preset = match &a.preset {
        Some(name) => Some(presets::loghub(name).with_context(|| {
            format!(
                "unknown preset {name:?}; known: {}",
                presets::LOGHUB
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?),
        None => None,
    };
    let format = match (a.format.as_deref(), preset) {
        (Some(f), _) => Some(LogFormat::new(f)?),
        (None, Some(p)) => Some(LogFormat::new(p.format)?),
        (None, None) => None,
    };
    let mut drain = match preset {
        Some(p) if a.tuned => p.tuned(),
        _ => DrainConfig::default(),
    };
    if !a.masks.is_empty() {
        drain.masks = a.masks.clone();
    }
    if let Some(s) = a.similarity {
        drain.similarity = s;
    }
    if let Some(d) = a.depth {
        drain.depth = d;
    }
    let label = a.label_field.clone().map(|f| (f, a.normal.clone()));
    Ok((
        Reading {
            format,
            label,
            session_field: a.session_field.clone(),
            max_line_bytes: a.max_line_bytes,
        },
        drain,
    ))
}

pub fn logs(a: LogsArgs) -> Result<()> {
    let (reading, drain) = reading(&a)?;
    let file = std::fs::File::open(&a.file).with_context(|| a.file.display().to_string())?;
    let start = Instant::now();
    let log = parse_log(
        std::io::BufReader::with_capacity(1 << 16, file),
        &reading,
        drain,
    )
    .with_context(|| a.file.display().to_string())?;
    let parse_seconds = start.elapsed().as_secs_f64();
    if let Some(path) = &a.templates {
        write_templates(&log, path)?;
    }
    let scored = if a.parse_only {
        None
    } else {
        let grouping = match &a.session {
            Some(pattern) => Grouping::Sessions(regex::Regex::new(pattern).map_err(|e| {
                anyhow::anyhow!(
                    "--session {pattern:?}: {}",
                    anomex::logs::parse::regex_error(&e)
                )
            })?),
            None if a.session_field.is_some() => Grouping::Field,
            None => Grouping::Lines {
                size: a.window,
                step: a.step.unwrap_or(a.window),
            },
        };
        let scoring = Scoring {
            detector: a.detector.clone(),
            params: a.params.clone(),
            weighting: if a.tfidf {
                Weighting::TfIdf
            } else {
                Weighting::Counts
            },
            train_lines: a.train_lines,
        };
        Some(score_log(&log, &grouping, &scoring)?)
    };
    let flagged = match &scored {
        Some(s) => Some(flag(&a, s)?),
        None => None,
    };
    if let Some(path) = &a.output {
        write_lines(&log, scored.as_ref(), path)?;
    }
    let evaluation = match (&scored, &log.labels) {
        (Some(s), Some(labels)) => Some(evaluate(s, labels)?),
        _ => None,
    };
    let outcome = Outcome {
        log: &log,
        parse_seconds,
        scored: scored.as_ref(),
        flagged: flagged.as_ref(),
        evaluation: evaluation.as_ref(),
    };
    if a.json {
        print_json(&a, &outcome)
    } else {
        print_text(&a, &outcome)
    }
}

/// What a run found, for the summary.
#[derive(Clone, Copy)]
struct Outcome<'a> {
    log: &'a ParsedLog,
    parse_seconds: f64,
    scored: Option<&'a LogScores>,
    flagged: Option<&'a Flagged>,
    evaluation: Option<&'a Evaluation>,
}

/// Window labels (a window is anomalous when it holds a labelled line) and the scores' AUROC,
/// AUPR and recall at 1 % false positives.
struct Evaluation {
    anomalous: usize,
    auroc: f64,
    aupr: f64,
    recall_at_1pct: f64,
}

fn evaluate(s: &LogScores, line_labels: &[bool]) -> Result<Evaluation> {
    let labels: Vec<bool> = s
        .windows
        .iter()
        .map(|w| w.lines.iter().any(|&i| line_labels[i]))
        .collect();
    use anomex_metrics::point;
    Ok(Evaluation {
        anomalous: labels.iter().filter(|&&l| l).count(),
        auroc: point::auc_roc(&labels, &s.scores)?,
        aupr: point::auc_pr(&labels, &s.scores)?,
        recall_at_1pct: point::recall_at_fpr(&labels, &s.scores, 0.01)?,
    })
}

struct Flagged {
    policy: String,
    labels: Vec<bool>,
    threshold: f64,
}

fn flag(a: &LogsArgs, s: &LogScores) -> Result<Flagged> {
    let policy = a
        .threshold
        .clone()
        .unwrap_or_else(|| anomex::logs::DEFAULT_LOG_THRESHOLD.to_string());
    let mut threshold = anomex::threshold::parse(&policy)?;
    threshold.fit(&s.scores)?;
    let decision = threshold.decide(&s.scores)?;
    Ok(Flagged {
        policy,
        threshold: decision.thresholds.last().copied().unwrap_or(f64::NAN),
        labels: decision.labels,
    })
}

fn top_windows(s: &LogScores, k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..s.scores.len()).collect();
    order.sort_by(|&x, &y| s.scores[y].total_cmp(&s.scores[x]).then(x.cmp(&y)));
    order.truncate(k);
    order
}

fn describe(log: &ParsedLog, s: &LogScores, w: usize) -> String {
    let window = &s.windows[w];
    let first = log.line_numbers[window.lines[0]];
    let last = log.line_numbers[*window.lines.last().unwrap_or(&window.lines[0])];
    match &window.key {
        Some(key) => format!(
            "session {key} ({} lines, {first}–{last})",
            window.lines.len()
        ),
        None => format!("lines {first}–{last}"),
    }
}

/// The line of a window that explains its score: the most surprising one (ngram), else the
/// line of the window's rarest template.
fn key_line(log: &ParsedLog, s: &LogScores, w: usize) -> usize {
    let lines = &s.windows[w].lines;
    let by = |i: &&usize| -> f64 {
        match &s.line_scores {
            Some(scores) => scores[**i],
            None => -(log.parser.count(log.templates[**i]).unwrap_or(0) as f64),
        }
    };
    *lines
        .iter()
        .max_by(|a, b| by(a).total_cmp(&by(b)))
        .unwrap_or(&lines[0])
}

fn print_text(a: &LogsArgs, o: &Outcome<'_>) -> Result<()> {
    let Outcome {
        log,
        parse_seconds,
        scored,
        flagged,
        evaluation,
    } = *o;
    let st = &log.stats;
    outln!(
        "{}: {} lines → {} templates in {:.3} s ({:.0} lines/s)",
        a.file.display(),
        st.lines,
        log.parser.len(),
        parse_seconds,
        st.lines as f64 / parse_seconds.max(1e-9)
    );
    let mut notes = Vec::new();
    if log.skipped > 0 {
        notes.push(format!(
            "{} skipped (blank or not in the format; first: line {})",
            log.skipped,
            log.first_skipped.unwrap_or(0)
        ));
    }
    if st.truncated > 0 {
        notes.push(format!(
            "{} cut at {} bytes",
            st.truncated, a.max_line_bytes
        ));
    }
    if st.invalid_utf8 > 0 {
        notes.push(format!(
            "{} with invalid UTF-8 (decoded with U+FFFD)",
            st.invalid_utf8
        ));
    }
    if st.binary > 0 {
        notes.push(format!("{} with binary bytes", st.binary));
    }
    if !notes.is_empty() {
        outln!("  lines: {}", notes.join("; "));
    }
    let (Some(s), Some(f)) = (scored, flagged) else {
        let mut table: Vec<(u32, String, u64)> = log.parser.templates().collect();
        table.sort_by(|x, y| y.2.cmp(&x.2).then(x.0.cmp(&y.0)));
        for (id, template, count) in table.iter().take(a.top.max(20)) {
            outln!("  T{id:<5} {count:>8}  {template}");
        }
        if table.len() > a.top.max(20) {
            outln!(
                "  … {} more (--templates FILE writes them all)",
                table.len() - a.top.max(20)
            );
        }
        return Ok(());
    };
    let groups = if a.session.is_some() {
        "sessions"
    } else {
        "windows"
    };
    outln!(
        "detector {} on {} {groups}; threshold {} = {:.4}: {} flagged",
        a.detector,
        s.windows.len(),
        f.policy,
        f.threshold,
        f.labels.iter().filter(|&&l| l).count()
    );
    if let (Some(e), Some(labels)) = (evaluation, &log.labels) {
        let hit = s
            .windows
            .iter()
            .zip(&f.labels)
            .filter(|(w, &flag)| flag && w.lines.iter().any(|&i| labels[i]))
            .count();
        let flagged = f.labels.iter().filter(|&&l| l).count();
        outln!(
            "labels: {} of {} {groups} hold a labelled line; AUROC {:.3}, AUPR {:.3}, recall at 1 % FPR {:.3}; flagged: {hit} labelled, {} not",
            e.anomalous,
            s.windows.len(),
            e.auroc,
            e.aupr,
            e.recall_at_1pct,
            flagged - hit
        );
    }
    outln!("most anomalous {groups}:");
    for w in top_windows(s, a.top) {
        let line = key_line(log, s, w);
        let t = log.templates[line];
        let labelled = match &log.labels {
            Some(labels) if s.windows[w].lines.iter().any(|&i| labels[i]) => " [labelled]",
            _ => "",
        };
        outln!(
            "  {:>10.4}  {}{}{labelled}",
            s.scores[w],
            describe(log, s, w),
            if f.labels[w] { " flagged" } else { "" }
        );
        outln!(
            "              T{t} ({}×) {}",
            log.parser.count(t).unwrap_or(0),
            clip(&log.parser.template(t).unwrap_or_default(), 160)
        );
        outln!(
            "              line {}: {}",
            log.line_numbers[line],
            clip(&log.messages[line], 160)
        );
    }
    Ok(())
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn print_json(a: &LogsArgs, o: &Outcome<'_>) -> Result<()> {
    let Outcome {
        log,
        parse_seconds,
        scored,
        flagged,
        evaluation,
    } = *o;
    let st = &log.stats;
    let mut summary = serde_json::json!({
        "file": a.file.display().to_string(),
        "lines": st.lines,
        "parsed": log.messages.len(),
        "skipped": log.skipped,
        "truncated": st.truncated,
        "invalid_utf8": st.invalid_utf8,
        "binary": st.binary,
        "templates": log.parser.len(),
        "parse_seconds": parse_seconds,
        "lines_per_second": st.lines as f64 / parse_seconds.max(1e-9),
    });
    if let (Some(s), Some(f)) = (scored, flagged) {
        summary["detector"] = a.detector.clone().into();
        summary["groups"] = s.windows.len().into();
        summary["threshold_policy"] = f.policy.clone().into();
        summary["threshold"] = f.threshold.into();
        summary["flagged"] = f.labels.iter().filter(|&&l| l).count().into();
        summary["top"] = top_windows(s, a.top)
            .into_iter()
            .map(|w| {
                let line = key_line(log, s, w);
                let t = log.templates[line];
                serde_json::json!({
                    "group": w,
                    "session": s.windows[w].key,
                    "first_line": log.line_numbers[s.windows[w].lines[0]],
                    "lines": s.windows[w].lines.len(),
                    "score": s.scores[w],
                    "flagged": f.labels[w],
                    "template_id": t,
                    "template": log.parser.template(t),
                    "line": log.line_numbers[line],
                    "message": log.messages[line],
                })
            })
            .collect::<Vec<_>>()
            .into();
    }
    if let Some(e) = evaluation {
        summary["labelled_groups"] = e.anomalous.into();
        summary["auroc"] = e.auroc.into();
        summary["aupr"] = e.aupr.into();
        summary["recall_at_1pct_fpr"] = e.recall_at_1pct.into();
    }
    outln!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

fn write_templates(log: &ParsedLog, path: &std::path::Path) -> Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| path.display().to_string())?;
    w.write_record(["id", "count", "template"])?;
    for (id, template, count) in log.parser.templates() {
        w.write_record([id.to_string(), count.to_string(), template])?;
    }
    w.flush()?;
    Ok(())
}

fn write_lines(log: &ParsedLog, scored: Option<&LogScores>, path: &std::path::Path) -> Result<()> {
    if path.extension().and_then(|e| e.to_str()) != Some("csv") {
        bail!("{}: per-line output is written as .csv", path.display());
    }
    // each line's score: its own (ngram), else the highest score of a group holding it
    let mut line_score = vec![f64::NAN; log.messages.len()];
    if let Some(s) = scored {
        match &s.line_scores {
            Some(ls) => line_score.clone_from(ls),
            None => {
                for (w, &score) in s.windows.iter().zip(&s.scores) {
                    for &i in &w.lines {
                        if line_score[i].is_nan() || score > line_score[i] {
                            line_score[i] = score;
                        }
                    }
                }
            }
        }
    }
    let file = std::fs::File::create(path).with_context(|| path.display().to_string())?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    w.write_record(["line", "template_id", "template", "score"])?;
    let texts: Vec<String> = log.parser.templates().map(|t| t.1).collect();
    for ((&number, &t), &score) in log.line_numbers.iter().zip(&log.templates).zip(&line_score) {
        w.write_record([
            number.to_string(),
            t.to_string(),
            texts[t as usize].clone(),
            if score.is_nan() {
                String::new()
            } else {
                score.to_string()
            },
        ])?;
    }
    w.flush()?;
    std::io::stdout().flush()?;
    Ok(())
}
