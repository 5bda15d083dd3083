//! The batch pipeline of `anomex detect` as one library call: fit → score → threshold →
//! calibrate → spans → explanations, with a result that holds every step's output.
//!
//! ```
//! let series: Vec<f64> = (0..400)
//!     .map(|i| (i as f64 * 0.2).sin() + if i == 300 { 6.0 } else { 0.0 })
//!     .collect();
//! let frame = anomex::Frame::from_series(&series)?;
//! let found = anomex::Pipeline {
//!     detector: Some("zscore".into()),
//!     threshold: Some("mad:6".into()),
//!     ..Default::default()
//! }
//! .run(&frame)?;
//! assert!(found.spans.iter().any(|s| s.start <= 300 && 300 <= s.end));
//! # Ok::<(), anomex::Error>(())
//! ```
//!
//! The command line, the benchmark harness and the Python package are shells around this: they
//! read the data, call [`Pipeline::run`] (or [`Pipeline::label`] for a saved model's scores) and
//! print or write the [`Detection`]. With the `io` feature, [`Detection::write_scores`] and
//! [`Detection::report_html`] write what `--output` and `--report` write.

use crate::{default_detector, default_threshold, DataShape};
use anomex_core::{spans, Decision, Error, FittedDetector, Frame, Result, Scores};

/// What to run. `Default` is `anomex detect`'s default: the detector chosen by the data's
/// shape, its default threshold, fitted on every row.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    /// Registry name; `None`: [`default_detector`] for [`Pipeline::shape`].
    pub detector: Option<String>,
    /// `key=value` parameters (over the default detector's own when none is named).
    pub params: Vec<String>,
    /// The data's shape for choosing the default; `None`: one column is a univariate series,
    /// several a multivariate one.
    pub shape: Option<DataShape>,
    /// Threshold policy (`anomex list` names them); `None`: [`default_threshold`].
    pub threshold: Option<String>,
    /// Fit on the first rows only and score every row as new; `None`: fit on every row and
    /// keep the training scores (leave-one-out where the detector is).
    pub train_rows: Option<usize>,
    /// Add the calibrated score (empirical CDF of the training scores, in [0, 1]).
    pub calibrate: bool,
    /// Attribute each span's peak to the columns (multivariate input, detectors that explain).
    pub explain: bool,
}

/// One flagged span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// First and last row, inclusive.
    pub start: usize,
    pub end: usize,
    /// The row of the span's highest score, and that score.
    pub peak: usize,
    pub peak_score: f64,
    /// Per-column attribution of the peak row (non-negative), where asked for and available.
    pub attribution: Option<Vec<f64>>,
}

/// Everything one run produced.
#[derive(Debug)]
pub struct Detection {
    /// The fitted model (for saving as a model file).
    pub model: Box<dyn FittedDetector>,
    /// The threshold policy as given or chosen.
    pub threshold_policy: String,
    /// Rows the threshold (and calibration) learned from: the first `train_rows`.
    pub train_rows: usize,
    pub scores: Scores,
    /// Per-row threshold and label.
    pub decision: Decision,
    pub calibrated: Option<Vec<f64>>,
    pub spans: Vec<Span>,
}

/// How the scores handed to [`Pipeline::label`] were computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scored {
    /// The frame is the training frame, scored as the detector scores its training rows.
    AsTraining,
    /// The frame's rows were scored as new rows.
    AsNew,
}

impl Pipeline {
    /// The detector and parameters this pipeline runs on `frame`.
    pub fn chosen(&self, frame: &Frame) -> (String, Vec<String>) {
        if let Some(d) = &self.detector {
            return (d.clone(), self.params.clone());
        }
        let shape = self.shape.unwrap_or(if frame.cols() == 1 {
            DataShape::Univariate
        } else {
            DataShape::Multivariate
        });
        let (name, defaults) = default_detector(shape);
        let mut params: Vec<String> = defaults.iter().map(|p| p.to_string()).collect();
        params.extend(self.params.iter().cloned());
        (name.to_string(), params)
    }

    /// Runs every step on `frame`.
    pub fn run(&self, frame: &Frame<'static>) -> Result<Detection> {
        self.run_observed(frame, &mut |_| {})
    }

    /// [`Pipeline::run`], telling `step` the name of each step as it starts (for progress).
    pub fn run_observed(
        &self,
        frame: &Frame<'static>,
        step: &mut dyn FnMut(&str),
    ) -> Result<Detection> {
        let (name, params) = self.chosen(frame);
        let detector = crate::registry().get(&name)?.create(&params)?;
        let (model, scores, scored) = match self.train_rows {
            None => {
                step(&format!("fitting {name} on {} rows", frame.rows()));
                let fit = detector.fit_scored(frame)?;
                (fit.model, fit.train_scores, Scored::AsTraining)
            }
            Some(n) => {
                let train = training_rows(frame, n)?;
                step(&format!("fitting {name} on {n} rows"));
                let model = detector.fit(&train)?;
                step(&format!("scoring {} rows", frame.rows()));
                let scores = model.score(frame)?;
                (model, scores, Scored::AsNew)
            }
        };
        self.label_observed(model, frame, scores, scored, step)
    }

    /// The steps after scoring, on scores a model gave `frame` (e.g. a saved model's).
    pub fn label(
        &self,
        model: Box<dyn FittedDetector>,
        frame: &Frame,
        scores: Scores,
        scored: Scored,
    ) -> Result<Detection> {
        self.label_observed(model, frame, scores, scored, &mut |_| {})
    }

    fn label_observed(
        &self,
        model: Box<dyn FittedDetector>,
        frame: &Frame,
        scores: Scores,
        scored: Scored,
        step: &mut dyn FnMut(&str),
    ) -> Result<Detection> {
        if scores.combined.len() != frame.rows() {
            return Err(Error::input(format!(
                "{} scores for {} rows",
                scores.combined.len(),
                frame.rows()
            )));
        }
        let threshold_policy = self
            .threshold
            .clone()
            .unwrap_or_else(|| default_threshold(model.name()).to_string());
        let mut policy = anomex_threshold::parse(&threshold_policy)?;
        let train_rows = self.train_rows.unwrap_or(frame.rows()).min(frame.rows());
        let train_scores = &scores.combined[..train_rows];
        step("thresholding");
        policy.fit(train_scores).map_err(|e| {
            Error::input(format!("fitting the `{threshold_policy}` threshold: {e}"))
        })?;
        let decision = policy.decide(&scores.combined)?;
        let calibrated = if self.calibrate {
            let c = anomex_threshold::Calibrator::fit(train_scores)?;
            Some(scores.combined.iter().map(|&s| c.calibrate(s)).collect())
        } else {
            None
        };
        let peak = |(a, b): (usize, usize)| {
            (a..=b)
                .max_by(|&i, &j| scores.combined[i].total_cmp(&scores.combined[j]))
                .unwrap_or(a)
        };
        let found = spans(&decision.labels);
        let peaks: Vec<usize> = found.iter().map(|&s| peak(s)).collect();
        let attributions = match model.explain() {
            Some(explain) if self.explain && frame.cols() > 1 && !found.is_empty() => {
                step("explaining the spans");
                Some(match scored {
                    Scored::AsTraining => explain.training_attributions(frame, &peaks)?,
                    Scored::AsNew => explain.attributions(frame, &peaks)?,
                })
            }
            _ => None,
        };
        let spans = found
            .iter()
            .zip(&peaks)
            .enumerate()
            .map(|(k, (&(start, end), &peak))| Span {
                start,
                end,
                peak,
                peak_score: scores.combined[peak],
                attribution: attributions.as_ref().map(|a| a[k].clone()),
            })
            .collect();
        Ok(Detection {
            model,
            threshold_policy,
            train_rows,
            scores,
            decision,
            calibrated,
            spans,
        })
    }
}

/// Checks that `n` training rows can be taken from `rows` rows.
pub fn check_training_rows(n: usize, rows: usize) -> Result<()> {
    match n {
        0 => Err(Error::input("the training rows must be at least 1")),
        n if n > rows => Err(Error::input(format!(
            "{n} training rows is more than the {rows} rows of the data"
        ))),
        _ => Ok(()),
    }
}

/// The first `n` rows of `frame`, the rows a semi-supervised detector learns from.
pub fn training_rows(frame: &Frame<'static>, n: usize) -> Result<Frame<'static>> {
    check_training_rows(n, frame.rows())?;
    if n == frame.rows() {
        Ok(frame.clone())
    } else {
        frame.slice_rows(0, n)
    }
}

#[cfg(feature = "io")]
impl Detection {
    /// Writes one row per input row (index, timestamp, score, label, calibrated score) to
    /// `.csv`, `.json` or `.parquet`, as `anomex detect --output` does.
    pub fn write_scores(&self, frame: &Frame, path: &std::path::Path) -> Result<()> {
        anomex_data::output::ScoreTable {
            timestamps: frame.timestamps(),
            scores: &self.scores.combined,
            labels: &self.decision.labels,
            calibrated: self.calibrated.as_deref(),
        }
        .write(path)
    }

    /// The self-contained HTML report of `anomex detect --report`: every channel with its
    /// scores, the threshold, the flagged rows and, where given, the labelled truth.
    pub fn report_html(
        &self,
        frame: &Frame,
        title: &str,
        truth: Option<&[bool]>,
    ) -> Result<String> {
        let columns: Vec<Vec<f64>> = (0..frame.cols()).map(|j| frame.column_vec(j)).collect();
        let channels = frame
            .column_names()
            .iter()
            .enumerate()
            .map(|(j, name)| anomex_report::Channel {
                name,
                values: &columns[j],
                score: self.scores.per_channel.as_ref().map(|p| p[j].as_slice()),
            })
            .collect();
        anomex_report::Report {
            title,
            detector: self.model.name(),
            params: self.model.params().describe(),
            threshold_policy: &self.threshold_policy,
            timestamps: frame.timestamps(),
            channels,
            score: &self.scores.combined,
            thresholds: &self.decision.thresholds,
            flagged: &self.decision.labels,
            truth,
        }
        .render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> Frame<'static> {
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|j| {
                (0..400)
                    .map(|i| {
                        let v = ((i * (7 + j) + j * 11) % 37) as f64 / 5.0 + (i as f64).sin();
                        if i == 123 {
                            v + 40.0
                        } else {
                            v
                        }
                    })
                    .collect()
            })
            .collect();
        Frame::from_columns(&cols).unwrap()
    }

    #[test]
    fn fitting_every_row_keeps_the_training_scores() {
        let frame = vectors();
        let pipeline = Pipeline {
            detector: Some("knn".into()),
            threshold: Some("contamination:0.01".into()),
            explain: true,
            ..Default::default()
        };
        let found = pipeline.run(&frame).unwrap();
        let fit = crate::registry()
            .get("knn")
            .unwrap()
            .create::<&str>(&[])
            .unwrap()
            .fit_scored(&frame)
            .unwrap();
        assert_eq!(found.scores, fit.train_scores);
        let top = found
            .spans
            .iter()
            .find(|s| s.start <= 123 && 123 <= s.end)
            .expect("the shifted row is flagged");
        let attribution = top.attribution.as_ref().expect("knn explains");
        assert_eq!(attribution.len(), 3);
        // the attributions of the training form sum to the training score
        let sum: f64 = attribution.iter().sum();
        assert!((sum - top.peak_score).abs() < 1e-9 * top.peak_score.max(1.0));
    }

    #[test]
    fn a_training_prefix_scores_every_row_as_new() {
        let frame = vectors();
        let pipeline = Pipeline {
            detector: Some("knn".into()),
            train_rows: Some(100),
            ..Default::default()
        };
        let found = pipeline.run(&frame).unwrap();
        let model = crate::registry()
            .get("knn")
            .unwrap()
            .create::<&str>(&[])
            .unwrap()
            .fit(&frame.slice_rows(0, 100).unwrap())
            .unwrap();
        assert_eq!(found.scores, model.score(&frame).unwrap());
        assert_eq!(found.train_rows, 100);
        for bad in [0, 401] {
            let e = Pipeline {
                train_rows: Some(bad),
                ..pipeline.clone()
            }
            .run(&frame)
            .unwrap_err();
            assert!(e.to_string().contains("training rows"), "{e}");
        }
    }
}
