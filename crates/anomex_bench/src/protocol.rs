//! The pinned evaluation protocol: everything that changes a benchmark number, written into every
//! result so that two numbers are only compared when they were made the same way.

use serde::{Deserialize, Serialize};

/// How a series is normalised before the detector sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// Each channel centred and scaled by the mean and standard deviation of the rows the
    /// detector is fitted on (a constant channel is only centred).
    Zscore,
    None,
}

/// Which rows a detector is fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Training {
    /// TSB-AD's rule: semi-supervised detectors on the data set's normal training prefix when it
    /// has one, everything else (and data sets without a prefix) on all rows.
    Auto,
    /// Every detector on all rows (fully unsupervised).
    All,
}

/// The largest VUS window (also R-AUC's window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VusWindow {
    /// TSB-AD's rule: the dominant period of the first channel (`find_length`), per data set.
    Auto,
    Fixed(usize),
}

/// Which data sets of a suite are used: a deterministic split by name, so that defaults can be
/// tuned on one part and reported on the other.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    All,
    /// Data sets whose name hashes below `share`.
    Tuning {
        share: f64,
    },
    /// The others.
    Evaluation {
        share: f64,
    },
}

impl Split {
    /// Whether the data set `name` belongs to this split.
    pub fn contains(&self, name: &str) -> bool {
        let u = crate::stable_hash(name.as_bytes()) as f64 / u64::MAX as f64;
        match *self {
            Split::All => true,
            Split::Tuning { share } => u < share,
            Split::Evaluation { share } => u >= share,
        }
    }
}

/// The protocol of a benchmark run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    pub normalization: Normalization,
    pub training: Training,
    /// Detector windows: each detector's own default (TSB-AD's automatic period rule for the
    /// windowed detectors) unless a parameter sets one; recorded as text.
    pub window_rule: String,
    pub vus_window: VusWindow,
    /// PATE's buffer, in points.
    pub pate_buffer: usize,
    /// The F1-type metrics (Standard-F1, PA-F1, event F1, R-based F1, Affiliation-F) take the
    /// best F1 over all thresholds, as TSB-AD reports them; recorded as text.
    pub threshold_policy: String,
    /// Randomised detectors run once per seed; their metrics are averaged per data set.
    pub seeds: Vec<u64>,
    /// The first one ranks the leaderboard.
    pub metrics: Vec<String>,
    pub split: Split,
    /// The anomex version that computed the numbers.
    pub version: String,
}

/// The metrics reported by default on time series (the first ranks the leaderboard):
/// threshold-free scores, the F1 family as the field reports it, and NAB's standard profile.
pub const DEFAULT_METRICS: &[&str] = &[
    "VUS-PR",
    "VUS-ROC",
    "AUC-PR",
    "AUC-ROC",
    "Standard-F1",
    "PA-F1",
    "Event-based-F1",
    "R-based-F1",
    "Affiliation-F",
    "NAB-standard",
];

/// The metrics reported by default on vectors (rows without order: no range metrics).
pub const VECTOR_METRICS: &[&str] = &["AUC-ROC", "AUC-PR", "Standard-F1"];

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            normalization: Normalization::Zscore,
            training: Training::Auto,
            window_rule: "detector default (TSB-AD's find_length period rule for windowed \
                          detectors)"
                .into(),
            vus_window: VusWindow::Auto,
            pate_buffer: 100,
            threshold_policy: "best F1 over all score thresholds (oracle), as TSB-AD".into(),
            seeds: vec![0],
            metrics: DEFAULT_METRICS.iter().map(|m| m.to_string()).collect(),
            split: Split::All,
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

impl Protocol {
    /// The default protocol for vectors: no normalisation and no order-dependent metrics, as
    /// ADBench and PyOD evaluate (train = test, every row scored).
    pub fn for_vectors() -> Self {
        Protocol {
            normalization: Normalization::None,
            training: Training::All,
            metrics: VECTOR_METRICS.iter().map(|m| m.to_string()).collect(),
            ..Protocol::default()
        }
    }

    /// The metric that ranks the leaderboard.
    pub fn primary(&self) -> &str {
        self.metrics.first().map_or("VUS-PR", String::as_str)
    }

    /// A short stable identifier of the protocol (a hash of its canonical JSON).
    pub fn id(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!("{:016x}", crate::stable_hash(json.as_bytes()))
    }

    /// The identifier of what a single job computes: the protocol without the split, which only
    /// selects data sets (so a job cached under one split serves every split).
    pub fn job_id(&self) -> String {
        Protocol {
            split: Split::All,
            ..self.clone()
        }
        .id()
    }
}
