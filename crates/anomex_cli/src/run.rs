//! The subcommands.

use crate::{example, DetectArgs, FitArgs, InputArgs, ModelArgs, OutputArgs, ScoreArgs};
use anomex::pipeline::Scored;
use anomex::{model_file, spans, Detection, Frame, Pipeline};
use anomex_data::{Dataset, Fill, Selection};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SPANS_PRINTED: usize = 30;

/// A spinner on stderr (indicatif hides it when stderr is not a terminal), and optionally the
/// time each step took.
struct Progress {
    bar: ProgressBar,
    steps: Option<RefCell<Vec<(String, Instant)>>>,
}

impl Progress {
    fn new(timings: bool) -> Self {
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress {
            bar,
            steps: timings.then(|| RefCell::new(Vec::new())),
        }
    }
    fn step(&self, msg: impl Into<String>) {
        let msg = msg.into();
        if let Some(steps) = &self.steps {
            steps.borrow_mut().push((msg.clone(), Instant::now()));
        }
        self.bar.set_message(msg);
    }
    /// Runs `work` with the detector's own progress (a network's epochs and loss) shown on the
    /// spinner.
    fn observe<R>(&self, work: impl FnOnce() -> R) -> R {
        let bar = self.bar.clone();
        let sink = move |p: &anomex::progress::Progress<'_>| {
            bar.set_message(format!("{} {}/{}: {}", p.phase, p.done, p.total, p.detail));
        };
        anomex::progress::observe(sink, work)
    }
    /// Clears the spinner before the results are printed; prints the timings once.
    fn clear(&self) {
        self.bar.finish_and_clear();
        if let Some(steps) = &self.steps {
            let steps = std::mem::take(&mut *steps.borrow_mut());
            let end = Instant::now();
            for (i, (msg, start)) in steps.iter().enumerate() {
                let until = steps.get(i + 1).map_or(end, |s| s.1);
                eprintln!(
                    "timing: {:>10.3} ms  {msg}",
                    (until - *start).as_secs_f64() * 1e3
                );
            }
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

fn selection(input: &InputArgs) -> Result<Selection> {
    Ok(Selection {
        time_col: input.time_col.clone(),
        columns: input.columns.clone(),
        label_col: input.label_col.clone(),
        header: match (input.header, input.no_header) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        fill: input.fill.parse::<Fill>()?,
        categorical: input.categorical.clone(),
        encoding: None,
        normal_label: input.normal_label.clone(),
    })
}

fn load(path: &Path, input: &InputArgs) -> Result<Dataset> {
    load_encoded(path, input, None)
}

/// Reads a data file; with `encoding` (a model's training columns), categorical columns are
/// one-hot encoded to exactly the indicators the model was fitted on.
fn load_encoded(path: &Path, input: &InputArgs, encoding: Option<Vec<String>>) -> Result<Dataset> {
    if !path.exists() {
        bail!("input file {} does not exist", path.display());
    }
    let mut selection = selection(input)?;
    selection.encoding = encoding;
    Ok(anomex_data::read(path, &selection)?)
}

/// Checks `--train-rows` against the data (the pipeline's check, naming the option).
fn check_train_rows(train_rows: Option<usize>, rows: usize) -> Result<()> {
    if let Some(n) = train_rows {
        anomex::pipeline::check_training_rows(n, rows)
            .map_err(|e| anyhow::anyhow!("--train-rows {n}: {e}"))?;
    }
    Ok(())
}

/// The training rows `--train-rows` names (all rows when it is not given).
fn train_slice(frame: &Frame<'static>, train_rows: Option<usize>) -> Result<Frame<'static>> {
    check_train_rows(train_rows, frame.rows())?;
    let n = train_rows.unwrap_or(frame.rows());
    Ok(anomex::pipeline::training_rows(frame, n)?)
}

/// The pipeline the model options ask for (`anomex::Pipeline` does the work): the detector
/// named, else the default for the data's shape (`.npz` files hold vectors, as ADBench's;
/// otherwise one column is a univariate series and several a multivariate one), `--param`s
/// applying to either.
fn pipeline(model: &ModelArgs, file: Option<&Path>) -> Pipeline {
    Pipeline {
        detector: model.detector.clone(),
        params: model.params.clone(),
        shape: npz(file).then_some(anomex::DataShape::Vectors),
        train_rows: model.train_rows,
        explain: true,
        ..Default::default()
    }
}

/// `.npz` files hold vectors, as ADBench's: the default detector is then the vectors' one.
fn npz(file: Option<&Path>) -> bool {
    file.and_then(|f| f.extension())
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

pub fn detect(a: DetectArgs) -> Result<()> {
    let progress = Progress::new(a.out.timings);
    progress.step("reading the data");
    let (dataset, source, example_truth) = if a.example {
        let d = anomex_data::csv::read_from(
            example::CSV.as_bytes(),
            &selection(&a.input)?,
            b',',
            example::NAME,
        )?;
        let truth = d.frame.timestamps().map(example::truth).transpose()?;
        (d, example::NAME.to_string(), truth)
    } else {
        let path = a.file.clone().context("no input file given")?;
        (load(&path, &a.input)?, path.display().to_string(), None)
    };
    let frame = &dataset.frame;
    check_train_rows(a.model.train_rows, frame.rows())?;
    let pipeline = Pipeline {
        threshold: a.out.threshold.clone(),
        calibrate: a.out.calibrate,
        ..pipeline(&a.model, a.file.as_deref())
    };
    let found =
        progress.observe(|| pipeline.run_observed(frame, &mut |step| progress.step(step)))?;
    let mut out = a.out.clone();
    if a.example && out.report.is_none() {
        out.report = Some(PathBuf::from("report.html"));
    }
    let truth = dataset.labels.clone().or(example_truth);
    finish(&progress, &source, frame, truth.as_deref(), &found, &out)
}

/// The detector and its parameters (see [`pipeline`]).
fn chosen(model: &ModelArgs, frame: &Frame, file: Option<&Path>) -> (String, Vec<String>) {
    pipeline(model, file).chosen(frame)
}

pub fn fit(a: FitArgs) -> Result<()> {
    let registry = anomex::registry();
    let train = match a.sample {
        Some(n) => crate::chunked::sample_rows(&a.file, n, a.sample_seed)?,
        None => train_slice(&load(&a.file, &a.input)?.frame, a.model.train_rows)?,
    };
    let (name, params) = chosen(&a.model, &train, Some(&a.file));
    let detector = registry.get(&name)?.create(&params)?;
    let fitted = {
        let progress = Progress::new(false);
        progress.step(format!("fitting {name} on {} rows", train.rows()));
        progress.observe(|| detector.fit(&train))?
    };
    model_file::save_with_columns(fitted.as_ref(), Some(train.column_names()), &a.save)?;
    outln!(
        "saved {} fitted on {} rows × {} columns to {}",
        name,
        train.rows(),
        train.cols(),
        a.save.display()
    );
    Ok(())
}

pub fn score(a: ScoreArgs) -> Result<()> {
    let registry = anomex::registry();
    let loaded = model_file::load_full(&a.model, &registry)
        .with_context(|| format!("loading {}", a.model.display()))?;
    let (fitted, columns) = (loaded.model, loaded.columns);
    if let Some(chunk_rows) = a.chunk_rows {
        let policy = a
            .out
            .threshold
            .clone()
            .unwrap_or_else(|| anomex::default_threshold(fitted.name()).to_string());
        let s = crate::chunked::score(
            fitted.as_ref(),
            &registry,
            &a.file,
            chunk_rows,
            &policy,
            a.out.output.as_deref(),
        )?;
        outln!(
            "{}: {} rows scored in chunks of {chunk_rows} by {}; {} flagged (threshold `{policy}` \
             fitted on the first chunk); highest score {:.4}",
            a.file.display(),
            s.rows,
            fitted.name(),
            s.flagged,
            s.max_score
        );
        if let Some(out) = s.output {
            outln!("scores written to {}", out.display());
        }
        return Ok(());
    }
    let dataset = load_encoded(&a.file, &a.input, columns)?;
    let progress = Progress::new(a.out.timings);
    progress.step(format!("scoring {} rows", dataset.frame.rows()));
    let scores = fitted.score(&dataset.frame)?;
    let labelling = Pipeline {
        threshold: a.out.threshold.clone(),
        train_rows: a.train_rows,
        calibrate: a.out.calibrate,
        explain: true,
        ..Default::default()
    };
    let found = labelling.label(fitted, &dataset.frame, scores, Scored::AsNew)?;
    finish(
        &progress,
        &a.file.display().to_string(),
        &dataset.frame,
        dataset.labels.as_deref(),
        &found,
        &a.out,
    )
}

#[derive(Serialize)]
struct SpanOut {
    start: usize,
    end: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<String>,
    points: usize,
    peak_score: f64,
    /// Per-channel attribution at the span's peak row (multivariate input only), largest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    attribution: Option<Vec<(String, f64)>>,
}

#[derive(Serialize)]
struct Summary<'a> {
    source: &'a str,
    detector: &'a str,
    params: Vec<(String, String)>,
    threshold: &'a str,
    rows: usize,
    columns: usize,
    flagged_points: usize,
    spans: Vec<SpanOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    labelled_spans_hit: Option<(usize, usize)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<String>,
}

/// How many labelled spans contain at least one flagged point.
fn spans_hit(truth: &[bool], flagged: &[bool]) -> (usize, usize) {
    let t = spans(truth);
    let hit = t
        .iter()
        .filter(|&&(a, b)| flagged[a..=b].iter().any(|&f| f))
        .count();
    (hit, t.len())
}

/// Writes the outputs asked for and prints the summary of a run.
fn finish(
    progress: &Progress,
    source: &str,
    frame: &Frame,
    truth: Option<&[bool]>,
    found: &Detection,
    out: &OutputArgs,
) -> Result<()> {
    if let Some(path) = &out.output {
        progress.step(format!("writing {}", path.display()));
        found.write_scores(frame, path)?;
    }
    if let Some(path) = &out.report {
        progress.step(format!("writing {}", path.display()));
        let html = found.report_html(frame, &format!("anomex: {source}"), truth)?;
        std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))?;
    }
    let time = |i: usize| frame.timestamps().map(|t| t[i].clone());
    let spans: Vec<SpanOut> = found
        .spans
        .iter()
        .map(|span| SpanOut {
            start: span.start,
            end: span.end,
            start_time: time(span.start),
            end_time: time(span.end),
            points: span.end - span.start + 1,
            peak_score: span.peak_score,
            attribution: span.attribution.as_ref().map(|a| {
                let mut named: Vec<(String, f64)> = frame
                    .column_names()
                    .iter()
                    .cloned()
                    .zip(a.iter().copied())
                    .collect();
                named.sort_by(|x, y| y.1.total_cmp(&x.1));
                named
            }),
        })
        .collect();
    let labels = &found.decision.labels;
    let summary = Summary {
        source,
        detector: found.model.name(),
        params: found.model.params().describe(),
        threshold: &found.threshold_policy,
        rows: frame.rows(),
        columns: frame.cols(),
        flagged_points: labels.iter().filter(|&&l| l).count(),
        spans,
        labelled_spans_hit: truth.map(|t| spans_hit(t, labels)),
        output: out.output.as_ref().map(|p| p.display().to_string()),
        report: out.report.as_ref().map(|p| p.display().to_string()),
    };
    progress.clear();
    if out.json {
        outln!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary)?;
    }
    Ok(())
}

fn print_summary(s: &Summary<'_>) -> Result<()> {
    let params: Vec<String> = s.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    outln!(
        "{}: {} rows × {} column(s); detector {} ({}); threshold {}",
        s.source,
        s.rows,
        s.columns,
        s.detector,
        params.join(", "),
        s.threshold
    );
    outln!(
        "{} anomalous span(s), {} point(s) flagged",
        s.spans.len(),
        s.flagged_points
    );
    for sp in s.spans.iter().take(SPANS_PRINTED) {
        let place = |i: usize, t: &Option<String>| t.clone().unwrap_or_else(|| format!("row {i}"));
        outln!(
            "  {} → {}  ({} point{}, peak score {:.4})",
            place(sp.start, &sp.start_time),
            place(sp.end, &sp.end_time),
            sp.points,
            if sp.points == 1 { "" } else { "s" },
            sp.peak_score
        );
        if let Some(attr) = &sp.attribution {
            let top: Vec<String> = attr
                .iter()
                .take(3)
                .map(|(name, v)| format!("{name} {v:.2}"))
                .collect();
            outln!("      channels: {}", top.join(", "));
        }
    }
    if s.spans.len() > SPANS_PRINTED {
        outln!("  … and {} more", s.spans.len() - SPANS_PRINTED);
    }
    if let Some((hit, total)) = s.labelled_spans_hit {
        outln!("labelled anomaly spans with at least one flagged point: {hit} of {total}");
    }
    if let Some(o) = &s.output {
        outln!("scores written to {o}");
    }
    if let Some(r) = &s.report {
        outln!("report written to {r}");
    }
    Ok(())
}

#[derive(Serialize)]
struct ParamOut {
    name: &'static str,
    default: String,
    doc: &'static str,
}

#[derive(Serialize)]
struct DetectorOut {
    name: &'static str,
    class: &'static str,
    data: &'static str,
    learning: &'static str,
    streaming: bool,
    explains: bool,
    summary: &'static str,
    params: Vec<ParamOut>,
}

pub fn list(json: bool, markdown: bool) -> Result<()> {
    if markdown {
        outln!("{}", anomex::detector_table().trim_end());
        return Ok(());
    }
    let registry = anomex::registry();
    let detectors: Vec<DetectorOut> = registry
        .entries()
        .iter()
        .map(|e| DetectorOut {
            name: e.name,
            class: e.class,
            data: e.data.as_str(),
            learning: e.learning.as_str(),
            streaming: e.causal,
            explains: e.explains,
            summary: e.summary,
            params: e
                .params
                .iter()
                .map(|p| ParamOut {
                    name: p.name,
                    default: p.default_text(),
                    doc: p.doc,
                })
                .collect(),
        })
        .collect();
    if json {
        let v = serde_json::json!({
            "detectors": detectors,
            "default_detector": anomex::DEFAULT_DETECTOR,
            "threshold_policies": anomex::threshold::POLICIES,
        });
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    for d in &detectors {
        let default = if d.name == anomex::DEFAULT_DETECTOR {
            " (default)"
        } else {
            ""
        };
        let stream = if d.streaming { ", streaming" } else { "" };
        outln!(
            "{}{default} [{}, {}{stream}]\n    {}",
            d.name,
            d.data,
            d.learning,
            d.summary
        );
        for p in &d.params {
            outln!("    --param {}={:<8} {}", p.name, p.default, p.doc);
        }
    }
    outln!(
        "\nthreshold policies: {}",
        anomex::threshold::POLICIES.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod default_choice {
    use super::*;

    #[test]
    fn the_default_follows_the_shape_of_the_data() {
        let model = |detector: Option<&str>, params: &[&str]| ModelArgs {
            detector: detector.map(str::to_string),
            params: params.iter().map(|p| p.to_string()).collect(),
            train_rows: None,
        };
        let one = Frame::from_series(&[1.0, 2.0, 3.0]).unwrap();
        let two = Frame::from_columns(&[vec![1.0, 2.0], vec![3.0, 4.0]]).unwrap();
        let npz = Path::new("x.npz");
        let (name, params) = chosen(&model(None, &[]), &one, None);
        assert_eq!(
            (name.as_str(), params),
            (
                anomex::DEFAULT_DETECTOR,
                vec!["alerts=artime".to_string(), "peaks=likelihood".to_string()]
            )
        );
        let (name, _) = chosen(&model(None, &[]), &two, None);
        assert_eq!(name, "sub_pca");
        let (_, params) = chosen(&model(None, &[]), &two, Some(npz));
        assert_eq!(params, ["members=iforest+cblof+inne"]);
        // parameters given without a detector go to the default one, after its own
        let (_, params) = chosen(&model(None, &["members=zscore"]), &two, Some(npz));
        assert_eq!(params.last().unwrap(), "members=zscore");
        let (name, params) = chosen(&model(Some("zscore"), &["window=5"]), &two, Some(npz));
        assert_eq!(
            (name.as_str(), params),
            ("zscore", vec!["window=5".to_string()])
        );
    }
}
