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
mod outlier_model;

pub use anomex_core::*;
pub use anomex_series as series;
pub use anomex_tabular as tabular;
pub use anomex_threshold as threshold;
pub use outlier_model::{OutlierModel, Proba};

/// The detector `anomex detect` uses when none is named.
///
/// Spectral residual, chosen on the embedded NAB machine-temperature series, where with the default
/// POT threshold it is the only built-in detector that flags all four labelled windows (26 points
/// flagged; `docs/default-detector.md` has the table). One series is thin evidence: the benchmark
/// harness is the place to revisit this choice.
pub const DEFAULT_DETECTOR: &str = "spectral_residual";

/// The threshold policy used when none is named: POT (exceedance probability 10⁻³ over the
/// 0.98 quantile), except for detectors whose published method comes with its own test.
pub fn default_threshold(detector: &str) -> &'static str {
    match detector {
        "shesd" => "esd",
        _ => "pot",
    }
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
    r
}
