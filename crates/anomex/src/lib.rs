//! anomex: the detector registry with every built-in detector, and the defaults the CLI,
//! service and bindings share.
//!
//! ```
//! let registry = anomex::registry();
//! let detector = registry.get("zscore")?.create(&["window=20"])?;
//! let series: Vec<f64> = (0..200).map(|i| (i as f64 * 0.3).sin()).collect();
//! let frame = anomex::Frame::from_series(&series)?;
//! let scores = detector.fit(&frame)?.score(&frame)?;
//! assert_eq!(scores.combined.len(), 200);
//! # Ok::<(), anomex::Error>(())
//! ```

mod ensemble;
#[cfg(feature = "logs")]
pub mod logs;
mod outlier_model;
pub mod pipeline;

pub use anomex_core::*;
pub use anomex_series as series;
pub use anomex_tabular as tabular;
pub use anomex_threshold as threshold;
pub use outlier_model::{OutlierModel, Proba};
pub use pipeline::{Detection, Pipeline, Span};

/// The detector `anomex detect` uses on a univariate series when none is named: an
/// [`ensemble`](crate::registry) of Sub-KNN and windowed PCA (window 100, TSB-AD's score) with
/// ARTime's alerts ranked above them and the anomaly likelihood's peaks above those
/// ([`UNIVARIATE_DEFAULT_PARAMS`]). Chosen on NAB's 58 series with `anomex bench`
/// (`docs/default-detector.md`): mean VUS-PR 0.435 against the best TSB-AD reference
/// implementation's 0.399 on the same series, and NAB's corpus score 75.2 (ARTime's alerts alone:
/// 74.85, its published figure).
pub const DEFAULT_DETECTOR: &str = "ensemble";

/// The univariate default's parameters (its members are the ensemble's default members).
pub const UNIVARIATE_DEFAULT_PARAMS: &[&str] = &["alerts=artime", "peaks=likelihood"];

/// What the rows of a data set are, for choosing a default detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataShape {
    /// One time series.
    Univariate,
    /// Several channels of one time series.
    Multivariate,
    /// Independent rows (tabular data, embeddings).
    Vectors,
}

/// The detector and parameters used when none is named, by the shape of the data (chosen by
/// evidence: `docs/bench.md` has the leaderboards).
pub fn default_detector(shape: DataShape) -> (&'static str, &'static [&'static str]) {
    match shape {
        DataShape::Univariate => (DEFAULT_DETECTOR, UNIVARIATE_DEFAULT_PARAMS),
        // SMAP/MSL's 82 telemetry channels: the best mean VUS-PR of the detectors run there
        DataShape::Multivariate => ("sub_pca", &[]),
        // ADBench's 37 classical sets: best mean rank by AUROC with MCD, at a third of its cost
        DataShape::Vectors => ("ensemble", &["members=iforest+cblof+inne"]),
    }
}

/// The threshold policy used when none is named: POT (exceedance probability 10⁻³ over the
/// 0.98 quantile), except for detectors whose published method comes with its own test.
pub fn default_threshold(detector: &str) -> &'static str {
    match detector {
        "shesd" => "esd",
        _ => "pot",
    }
}

/// Runs `work` on a thread of the rayon pool while the calling thread sleeps. The command line
/// and the Python module enter through here: run on the caller's thread, the work's serial steps
/// (reading, checking, thresholding) would compete for the cores with the pool's workers, which
/// spin a while after each parallel step before they sleep — ECOD's fit on 100,000 × 16 rows
/// from Python took 21–28 ms that way on two cores, 20 ms every time on the pool.
pub fn on_pool<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    rayon::scope(|_| work())
}

/// A registry holding every built-in detector.
pub fn registry() -> Registry {
    let mut r = base_registry();
    if let Err(e) = r.add(ensemble::entry()) {
        unreachable!("built-in detectors clash: {e}");
    }
    r
}

/// The single detectors (everything but the ensemble, which is built from them).
fn base_registry() -> Registry {
    let mut r = Registry::new();
    // registration of built-ins cannot clash: names are unique constants, checked by a test
    if let Err(e) = anomex_series::register(&mut r).and_then(|()| anomex_tabular::register(&mut r))
    {
        unreachable!("built-in detectors clash: {e}");
    }
    #[cfg(feature = "logs")]
    if let Err(e) = anomex_logs::register(&mut r) {
        unreachable!("built-in detectors clash: {e}");
    }
    #[cfg(feature = "learned")]
    if let Err(e) = anomex_learn::register(&mut r) {
        unreachable!("built-in detectors clash: {e}");
    }
    r
}

/// The README's table of detectors, generated from the registry (`anomex list --markdown`;
/// a test keeps the README equal to it): one row per detector with its Python class, the data
/// it reads, how it learns, its capabilities and its summary.
pub fn detector_table() -> String {
    let mut out = String::from(
        "| name | Python class | reads | learns | streams | explains | what |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let yes = |b: bool| if b { "yes" } else { "" };
    for e in registry().entries() {
        let name = if e.name == DEFAULT_DETECTOR {
            format!("`{}` (default)", e.name)
        } else {
            format!("`{}`", e.name)
        };
        out.push_str(&format!(
            "| {name} | `{}` | {} | {} | {} | {} | {} |\n",
            e.class,
            e.data.as_str(),
            e.learning.as_str(),
            yes(e.causal),
            yes(e.explains),
            e.summary.replace('|', "\\|"),
        ));
    }
    out
}
