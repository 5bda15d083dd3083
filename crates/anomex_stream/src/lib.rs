//! One monitored series: its configuration and its streaming state, shared by the service and the
//! Python bindings (whose Spark streaming keeps this state between micro-batches).
//!
//! A series goes through two phases. While *collecting*, its first `warmup` points are kept and
//! scored `null`; then the detector is fitted on them, a stream is started and the kept points
//! are streamed through it, which primes the stream and gives the training scores the threshold
//! policy is fitted on. From then on (*live*) every point is scored and labelled as it arrives.
//! A series that receives a model (fitted on uploaded history, or imported from a model file)
//! goes live at once; its threshold is then fitted on the scores of the history, or, for an
//! imported model, on the first `warmup` scores after the import (labels are `false` meanwhile).
//!
//! The whole state is plain data ([`SeriesSnapshot`]): the service checkpoints it and, after a
//! crash, replays the points acknowledged since the checkpoint through the same code, which gives
//! the same scores bit for bit.

pub mod logs;
mod recent;

pub use logs::{LogParser, LogSettings, LogState};
pub use recent::Recent;

use anomex::{model_file, Error, FittedDetector, Frame, Registry, Streaming, Threshold};
use serde::{Deserialize, Serialize};

/// Longest series name; names are also restricted to `[A-Za-z0-9_.:-]`.
pub const MAX_NAME_LEN: usize = 128;

/// What a client sets when it creates a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesConfig {
    pub name: String,
    /// Values per point.
    #[serde(default = "one")]
    pub columns: usize,
    /// A causal detector of the registry.
    #[serde(default = "default_detector")]
    pub detector: String,
    /// Detector parameters as `key → value` text.
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
    /// Threshold policy in anomex's text form (`mad:6`, `quantile:0.999`, `dspot` …).
    #[serde(default = "default_threshold")]
    pub threshold: String,
    /// Points collected before the detector is fitted.
    #[serde(default = "default_warmup")]
    pub warmup: usize,
}

fn one() -> usize {
    1
}
fn default_detector() -> String {
    "zscore".into()
}
/// Median + 6·1.4826·MAD of the warm-up scores: robust to the anomalies a warm-up holds.
/// Tail models (POT, DSPOT) extrapolate from the few peaks of a short warm-up and can put the
/// threshold far off; they are there for series with a long, clean warm-up.
fn default_threshold() -> String {
    "mad:6".into()
}
fn default_warmup() -> usize {
    200
}

/// Largest warm-up and number of values per point a series may ask for.
pub const MAX_WARMUP: usize = 100_000;
pub const MAX_COLUMNS: usize = 1_000;

/// Checks a series name: non-empty, short, and of characters that are safe in URLs and logs.
pub fn check_name(name: &str) -> anomex::Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(Error::param(
            "name",
            format!(
                "a series name has 1 to {MAX_NAME_LEN} characters, this one has {}",
                name.len()
            ),
        ));
    }
    if name == "." || name == ".." {
        return Err(Error::param(
            "name",
            format!("`{name}` is not a series name: it means a folder in a path"),
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')))
    {
        return Err(Error::param(
            "name",
            format!(
                "series name `{}` contains `{c}`; allowed: letters, digits, _ . : -",
                name.escape_default()
            ),
        ));
    }
    Ok(())
}

impl SeriesConfig {
    /// Validates everything a client sent, building the detector and policy once to check them.
    pub fn validate(&self, registry: &Registry) -> anomex::Result<()> {
        check_name(&self.name)?;
        if self.columns == 0 || self.columns > MAX_COLUMNS {
            return Err(Error::param(
                "columns",
                format!("must be 1 to {MAX_COLUMNS}, got {}", self.columns),
            ));
        }
        if self.warmup < 2 || self.warmup > MAX_WARMUP {
            return Err(Error::param(
                "warmup",
                format!("must be 2 to {MAX_WARMUP} points, got {}", self.warmup),
            ));
        }
        let entry = registry.get(&self.detector)?;
        if !entry.causal {
            let causal: Vec<&str> = registry
                .entries()
                .iter()
                .filter(|e| e.causal)
                .map(|e| e.name)
                .collect();
            return Err(Error::param(
                "detector",
                format!(
                    "detector `{}` is not causal and cannot stream; causal detectors: {}",
                    self.detector,
                    causal.join(", ")
                ),
            ));
        }
        entry.create(&self.param_pairs())?;
        anomex::threshold::parse(&self.threshold)?;
        Ok(())
    }

    fn param_pairs(&self) -> Vec<String> {
        self.params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }

    /// Fits the detector on `history` (rows of `columns` values).
    pub fn fit(
        &self,
        registry: &Registry,
        history: &[Vec<f64>],
    ) -> anomex::Result<Box<dyn FittedDetector>> {
        let columns: Vec<Vec<f64>> = (0..self.columns)
            .map(|j| history.iter().map(|row| row[j]).collect())
            .collect();
        let frame = Frame::from_columns(&columns)?;
        registry
            .get(&self.detector)?
            .create(&self.param_pairs())?
            .fit(&frame)
    }
}

/// One scored point as the service returns and keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    pub timestamp: i64,
    pub values: Vec<f64>,
    /// `None` while the series warms up.
    pub score: Option<f64>,
    pub threshold: Option<f64>,
    pub anomaly: bool,
    /// Per-column share of the score, for multi-column series whose detector can say why.
    pub attribution: Option<Vec<f64>>,
}

impl LineScored {
    /// The point the line was to its series (its template id as the one value).
    pub fn point(&self) -> Scored {
        Scored {
            timestamp: self.line,
            values: vec![f64::from(self.template)],
            score: self.score,
            threshold: self.threshold,
            anomaly: self.anomaly,
            attribution: None,
        }
    }
}

/// A live series' model: the fitted detector (for export), its stream and the policy.
struct Live {
    model: Box<dyn FittedDetector>,
    stream: Box<dyn Streaming>,
    threshold: Box<dyn Threshold>,
    /// Scores gathered to fit the threshold, while it is not fitted yet.
    calibrating: Option<Calibrating>,
    /// Why the last threshold fit failed.
    error: Option<String>,
}

/// Scores kept until the threshold is fitted, at `fit_at` scores (doubled after a failure).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Calibrating {
    pub scores: Vec<f64>,
    pub fit_at: usize,
}

enum Phase {
    Collecting(Collecting),
    Live(Live),
}

/// The warm-up: points kept until `fit_at`; if fitting fails there (a detector that needs more
/// points, a policy that needs more scores), the error is kept and the next try is at twice as
/// many points, so a bad configuration costs a few fits, not one per point.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Collecting {
    pub buffer: Vec<Vec<f64>>,
    pub fit_at: usize,
    pub error: Option<String>,
}

/// A series: configuration, phase, counters and the most recent points.
pub struct Series {
    pub config: SeriesConfig,
    phase: Phase,
    /// Points accepted so far.
    pub points: u64,
    pub anomalies: u64,
    pub last_timestamp: Option<i64>,
    recent: Recent,
    keep_recent: usize,
    /// Set when the model changes (warm-up done, fit, import); the store clears it once saved.
    pub model_changed: bool,
    /// A log series' parser: its points are the template ids of the lines it is sent.
    log: Option<LogParser>,
}

/// One log line as a log series scored it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineScored {
    /// The line's number in the series (the point's timestamp).
    pub line: i64,
    /// Its template id and text.
    pub template: u32,
    pub template_text: String,
    /// The line started a new template.
    pub new_template: bool,
    /// `None` while the series warms up.
    pub score: Option<f64>,
    pub threshold: Option<f64>,
    pub anomaly: bool,
}

/// The serialised form of a [`Series`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeriesSnapshot {
    pub config: SeriesConfig,
    pub points: u64,
    pub anomalies: u64,
    pub last_timestamp: Option<i64>,
    pub recent: Recent,
    pub phase: PhaseSnapshot,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseSnapshot {
    Collecting(Collecting),
    /// The model itself is stored apart (it changes rarely, the stream state at every point).
    Live {
        /// The stream's and the policy's snapshots, as JSON text.
        stream: String,
        threshold: String,
        calibrating: Option<Calibrating>,
        error: Option<String>,
    },
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series")
            .field("config", &self.config)
            .field("points", &self.points)
            .finish_non_exhaustive()
    }
}

impl Series {
    /// A new series, collecting its warm-up.
    pub fn new(config: SeriesConfig, keep_recent: usize) -> Series {
        let columns = config.columns;
        Series {
            phase: Phase::Collecting(Collecting {
                fit_at: config.warmup,
                ..Collecting::default()
            }),
            config,
            points: 0,
            anomalies: 0,
            last_timestamp: None,
            recent: Recent::new(columns),
            keep_recent,
            model_changed: false,
            log: None,
        }
    }

    /// A new log series: `config` with an event detector over one column, lines parsed as
    /// `settings` say. The error names what is wrong.
    pub fn new_log(
        config: SeriesConfig,
        settings: LogSettings,
        registry: &Registry,
        keep_recent: usize,
    ) -> anomex::Result<Series> {
        config.validate(registry)?;
        let data = registry.get(&config.detector)?.data;
        if data != anomex::DataKind::Events || config.columns != 1 {
            return Err(Error::param(
                "detector",
                format!(
                    "a log series streams one column of template ids to an event detector \
                     (ngram); `{}` reads {} and the series has {} columns",
                    config.detector,
                    data.as_str(),
                    config.columns
                ),
            ));
        }
        let parser = LogParser::new(settings)?;
        let mut series = Series::new(config, keep_recent);
        series.log = Some(parser);
        Ok(series)
    }

    /// The parser of a log series.
    pub fn log(&self) -> Option<&LogParser> {
        self.log.as_ref()
    }

    /// Gives a restored series its saved parser (a log series' state beside its snapshot).
    pub fn restore_log(&mut self, state: LogState) -> anomex::Result<()> {
        self.log = Some(LogParser::from_state(state)?);
        Ok(())
    }

    /// Checks one line for a log series without changing anything: `Ok(None)` for a blank
    /// line (skipped), else the message to parse.
    pub fn check_line<'a>(&self, line: &'a str) -> Result<Option<&'a str>, String> {
        match &self.log {
            Some(parser) => parser.check(line),
            None => Err(format!(
                "series `{}` takes points, not log lines (it was created without `log`)",
                self.config.name
            )),
        }
    }

    /// Parses, scores and learns one message that passed [`Series::check_line`]; the line is
    /// the series' next point.
    pub fn ingest_line(
        &mut self,
        registry: &Registry,
        message: &str,
    ) -> anomex::Result<LineScored> {
        let Some(parser) = self.log.as_mut() else {
            return Err(Error::input(format!(
                "series `{}` is not a log series",
                self.config.name
            )));
        };
        let event = parser.parse(message);
        let template_text = parser.template(event.template);
        let line = self.last_timestamp.map_or(1, |t| t.saturating_add(1));
        let scored = self.ingest(registry, line, vec![f64::from(event.template)]);
        Ok(LineScored {
            line,
            template: event.template,
            template_text,
            new_template: event.created,
            score: scored.score,
            threshold: scored.threshold,
            anomaly: scored.anomaly,
        })
    }

    /// Why the last fit failed, while the series is still collecting.
    pub fn error(&self) -> Option<&str> {
        match &self.phase {
            Phase::Collecting(c) => c.error.as_deref(),
            Phase::Live(l) => l.error.as_deref(),
        }
    }

    /// `collecting`, `calibrating` or `live`.
    pub fn phase_name(&self) -> &'static str {
        match &self.phase {
            Phase::Collecting(_) => "collecting",
            Phase::Live(l) if l.calibrating.is_some() => "calibrating",
            Phase::Live(_) => "live",
        }
    }

    /// The most recent scored points, oldest first.
    pub fn recent(&self) -> &Recent {
        &self.recent
    }

    /// The fitted model, once live.
    pub fn model(&self) -> Option<&dyn FittedDetector> {
        match &self.phase {
            Phase::Live(l) => Some(l.model.as_ref()),
            Phase::Collecting(_) => None,
        }
    }

    /// Checks a point without changing anything: dimension, finiteness and time order.
    pub fn check(&self, timestamp: i64, values: &[f64], after: Option<i64>) -> Result<(), String> {
        if self.log.is_some() {
            return Err(format!(
                "series `{}` is a log series: it takes lines (POST /v1/series/{}/logs), not points",
                self.config.name, self.config.name
            ));
        }
        self.check_values(values)?;
        if let Some(last) = after.or(self.last_timestamp) {
            if timestamp <= last {
                return Err(format!(
                    "timestamp {timestamp} is not after {last}, the series' last"
                ));
            }
        }
        Ok(())
    }

    /// Checks the values of one row: the series' number of columns, all finite.
    pub fn check_values(&self, values: &[f64]) -> Result<(), String> {
        if values.len() != self.config.columns {
            return Err(format!(
                "{} values for series `{}` of {} columns",
                values.len(),
                self.config.name,
                self.config.columns
            ));
        }
        match values.iter().position(|v| !v.is_finite()) {
            Some(j) => Err(format!("value {j} is not a finite number")),
            None => Ok(()),
        }
    }

    /// Scores and learns one point that passed [`Series::check`]. An accepted point is never
    /// refused: a failed fit leaves the series collecting, with the error to show.
    pub fn ingest(&mut self, registry: &Registry, timestamp: i64, values: Vec<f64>) -> Scored {
        let ((score, threshold, anomaly), attribution) = match &mut self.phase {
            Phase::Collecting(c) => {
                c.buffer.push(values.clone());
                if c.buffer.len() >= c.fit_at {
                    let fitted = self
                        .config
                        .fit(registry, &c.buffer)
                        .and_then(|model| go_live(&self.config, model, Some(&c.buffer)));
                    match fitted {
                        Ok(live) => {
                            self.phase = Phase::Live(live);
                            self.model_changed = true;
                        }
                        Err(e) => {
                            c.error = Some(e.to_string());
                            c.fit_at = c.fit_at.saturating_mul(2);
                        }
                    }
                }
                ((None, None, false), None)
            }
            Phase::Live(live) => {
                let out = live.update(&values);
                let attribution = out.0.and(live.stream.attribution());
                (out, attribution)
            }
        };
        self.points += 1;
        self.anomalies += u64::from(anomaly);
        self.last_timestamp = Some(timestamp);
        let scored = Scored {
            timestamp,
            values,
            score,
            threshold,
            anomaly,
            attribution,
        };
        self.recent.push(&scored, self.keep_recent);
        scored
    }

    /// Switches to `model`: fitted on `history` (its scores fit the threshold) or imported
    /// (`history` is `None`: the threshold calibrates on the next `warmup` scores).
    pub fn switch_model(
        &mut self,
        model: Box<dyn FittedDetector>,
        history: Option<&[Vec<f64>]>,
    ) -> anomex::Result<()> {
        if model.n_columns() != self.config.columns {
            return Err(anomex::Error::input(format!(
                "a model of {} columns for series `{}` of {}",
                model.n_columns(),
                self.config.name,
                self.config.columns
            )));
        }
        self.phase = Phase::Live(go_live(&self.config, model, history)?);
        self.model_changed = true;
        Ok(())
    }

    pub fn snapshot(&self) -> anomex::Result<SeriesSnapshot> {
        self.snapshot_keeping(true)
    }

    /// The snapshot, with or without the recent points (a view for reading, not state the
    /// scores depend on; the service leaves them out of its rolling checkpoints).
    pub fn snapshot_keeping(&self, recent: bool) -> anomex::Result<SeriesSnapshot> {
        let phase = match &self.phase {
            Phase::Collecting(c) => PhaseSnapshot::Collecting(c.clone()),
            Phase::Live(l) => PhaseSnapshot::Live {
                stream: l.stream.snapshot()?.to_string(),
                threshold: l.threshold.snapshot()?.to_string(),
                calibrating: l.calibrating.clone(),
                error: l.error.clone(),
            },
        };
        Ok(SeriesSnapshot {
            config: self.config.clone(),
            points: self.points,
            anomalies: self.anomalies,
            last_timestamp: self.last_timestamp,
            recent: if recent {
                self.recent.clone()
            } else {
                Recent::new(self.config.columns)
            },
            phase,
        })
    }

    /// The model file of the live model.
    pub fn model_bytes(&self) -> anomex::Result<Option<Vec<u8>>> {
        self.model().map(model_file::to_bytes).transpose()
    }

    /// Rebuilds a series from its snapshot and, once live, its model file.
    pub fn restore(
        snap: SeriesSnapshot,
        model: Option<&[u8]>,
        registry: &Registry,
        keep_recent: usize,
    ) -> anomex::Result<Series> {
        let phase = match snap.phase {
            PhaseSnapshot::Collecting(c) => Phase::Collecting(c),
            PhaseSnapshot::Live {
                stream,
                threshold,
                calibrating,
                error,
            } => {
                let model = model.ok_or_else(|| {
                    anomex::Error::ModelFile(format!(
                        "series `{}` is live but its model is missing",
                        snap.config.name
                    ))
                })?;
                let model = model_file::from_bytes(model, registry)?;
                let mut live = start_stream(&snap.config, model)?;
                live.stream.restore(json_text(&stream)?)?;
                live.threshold.restore(json_text(&threshold)?)?;
                live.calibrating = calibrating;
                live.error = error;
                Phase::Live(live)
            }
        };
        let mut recent = snap.recent;
        if !recent.is_consistent() {
            return Err(Error::ModelFile(format!(
                "series `{}`: the recent points of its snapshot do not fit together",
                snap.config.name
            )));
        }
        recent.truncate_to(keep_recent);
        Ok(Series {
            config: snap.config,
            phase,
            points: snap.points,
            anomalies: snap.anomalies,
            last_timestamp: snap.last_timestamp,
            recent,
            keep_recent,
            model_changed: false,
            log: None,
        })
    }
}

/// A whole series as one byte string: a little-endian `u32` length, the snapshot as JSON, then
/// the model file when the series is live. This is the state a stream processor (Spark's
/// `applyInPandasWithState`) keeps for a series between micro-batches.
impl Series {
    pub fn to_state_bytes(&self) -> anomex::Result<Vec<u8>> {
        if self.log.is_some() {
            return Err(Error::Unsupported(format!(
                "series `{}` is a log series; its parser is saved by the service, not in state bytes",
                self.config.name
            )));
        }
        let snapshot = serde_json::to_vec(&self.snapshot()?)
            .map_err(|e| Error::ModelFile(format!("cannot serialise the series: {e}")))?;
        let len = u32::try_from(snapshot.len())
            .map_err(|_| Error::ModelFile("the series snapshot exceeds 4 GiB".into()))?;
        let mut out = len.to_le_bytes().to_vec();
        out.extend_from_slice(&snapshot);
        if let Some(model) = self.model_bytes()? {
            out.extend_from_slice(&model);
        }
        Ok(out)
    }

    /// Restores a series from [`Series::to_state_bytes`].
    pub fn from_state_bytes(
        bytes: &[u8],
        registry: &Registry,
        keep_recent: usize,
    ) -> anomex::Result<Series> {
        let truncated =
            || Error::ModelFile(format!("series state truncated at {} bytes", bytes.len()));
        let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(truncated)?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(truncated());
        }
        let (snapshot, model) = rest.split_at(len);
        let snapshot: SeriesSnapshot = serde_json::from_slice(snapshot)
            .map_err(|e| Error::ModelFile(format!("series state: {e}")))?;
        let model = (!model.is_empty()).then_some(model);
        Series::restore(snapshot, model, registry, keep_recent)
    }
}

fn json_text(text: &str) -> anomex::Result<serde_json::Value> {
    serde_json::from_str(text)
        .map_err(|e| anomex::Error::ModelFile(format!("stream snapshot: {e}")))
}

fn start_stream(config: &SeriesConfig, model: Box<dyn FittedDetector>) -> anomex::Result<Live> {
    let stream = model.streaming().ok_or_else(|| {
        anomex::Error::Unsupported(format!("detector `{}` cannot stream", model.name()))
    })?;
    Ok(Live {
        model,
        stream,
        threshold: anomex::threshold::parse(&config.threshold)?,
        calibrating: Some(Calibrating {
            scores: Vec::new(),
            fit_at: config.warmup,
        }),
        error: None,
    })
}

/// Starts the stream of `model`; with `history`, streams it through to prime the stream and fit
/// the threshold on its scores.
fn go_live(
    config: &SeriesConfig,
    model: Box<dyn FittedDetector>,
    history: Option<&[Vec<f64>]>,
) -> anomex::Result<Live> {
    let mut live = start_stream(config, model)?;
    if let Some(history) = history {
        let mut scores = Vec::with_capacity(history.len());
        for row in history {
            if let Some(s) = live.stream.update(row)? {
                scores.push(s);
            }
        }
        live.threshold.fit(&scores)?;
        live.calibrating = None;
    }
    Ok(live)
}

impl Live {
    /// Scores one checked point. The stream and policy only fail on points the series has
    /// already refused, so a failure here is a bug; it is kept as the series' error rather than
    /// losing the point.
    fn update(&mut self, values: &[f64]) -> (Option<f64>, Option<f64>, bool) {
        let score = match self.stream.update(values) {
            Ok(Some(s)) => s,
            Ok(None) => return (None, None, false),
            Err(e) => {
                self.error = Some(e.to_string());
                return (None, None, false);
            }
        };
        if let Some(c) = &mut self.calibrating {
            c.scores.push(score);
            if c.scores.len() >= c.fit_at {
                match self.threshold.fit(&c.scores) {
                    Ok(()) => {
                        self.calibrating = None;
                        self.error = None;
                    }
                    Err(e) => {
                        self.error = Some(e.to_string());
                        c.fit_at = c.fit_at.saturating_mul(2);
                    }
                }
            }
            return (Some(score), None, false);
        }
        match self.threshold.update(score) {
            Ok((t, anomaly)) => (Some(score), Some(t), anomaly),
            Err(e) => {
                self.error = Some(e.to_string());
                (Some(score), None, false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(detector: &str) -> SeriesConfig {
        serde_json::from_value(serde_json::json!({
            "name": "s", "detector": detector, "warmup": 50
        }))
        .unwrap()
    }

    fn value(t: i64) -> Vec<f64> {
        let spike = if t % 97 == 60 { 8.0 } else { 0.0 };
        vec![(t as f64 * 0.21).sin() + spike]
    }

    #[test]
    fn state_bytes_continue_bit_identically_in_every_phase() {
        let reg = anomex::registry();
        for detector in ["zscore", "hst", "rrcf"] {
            // cut while collecting, while calibrating and while live
            for cut in [20, 70, 400] {
                let mut whole = Series::new(config(detector), 8);
                let mut first = Series::new(config(detector), 8);
                for t in 0..cut {
                    whole.ingest(&reg, t, value(t));
                    first.ingest(&reg, t, value(t));
                }
                let bytes = first.to_state_bytes().unwrap();
                let mut second = Series::from_state_bytes(&bytes, &reg, 8).unwrap();
                for t in cut..cut + 300 {
                    let a = whole.ingest(&reg, t, value(t));
                    let b = second.ingest(&reg, t, value(t));
                    assert_eq!(a, b, "{detector} cut at {cut}, point {t}");
                }
                assert_eq!(whole.anomalies, second.anomalies);
            }
        }
    }

    #[test]
    fn damaged_state_and_bad_configs_are_named() {
        let reg = anomex::registry();
        let mut s = Series::new(config("zscore"), 8);
        for t in 0..100 {
            s.ingest(&reg, t, value(t));
        }
        let bytes = s.to_state_bytes().unwrap();
        let e = Series::from_state_bytes(&bytes[..10], &reg, 8).unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = Series::from_state_bytes(&bytes[..bytes.len() - 3], &reg, 8).unwrap_err();
        assert!(e.to_string().contains("model file"), "{e}");

        let mut c = config("matrix_profile");
        let e = c.validate(&reg).unwrap_err().to_string();
        assert!(e.contains("not causal"), "{e}");
        c = config("zscore");
        c.warmup = 1;
        let e = c.validate(&reg).unwrap_err().to_string();
        assert!(e.contains("`warmup`"), "{e}");
        c.warmup = 10;
        c.name = "a/b".into();
        let e = c.validate(&reg).unwrap_err().to_string();
        assert!(e.contains("contains `/`"), "{e}");
    }
}
