//! Time-series detectors: rolling z-score, rolling MAD, EWMA, seasonal residual (S-H-ESD),
//! spectral residual, matrix profile and Sub-PCA, plus the automatic window length.
//!
//! The window detectors are univariate [`SeriesKernel`]s run per channel by
//! [`anomex_core::channelwise`]; the two stream learners, Half-Space Trees and Robust Random Cut
//! Forest, see all channels at once through [`anomex_core::online`]. [`register`] adds them all
//! to a registry.

pub mod artime;
pub mod hst;
pub mod likelihood;
pub mod matrix_profile;
pub mod period;
pub mod rolling;
pub mod rrcf;
pub mod seasonal;
pub mod spectral_residual;
pub mod sub_pca;

use anomex_core::channelwise::entry;
use anomex_core::online;
use anomex_core::{Learning, ParamSpec, Registry, Result};

const MAX_WINDOW: i64 = 1_000_000;

/// Rolling detectors compare a point with its recent past; a period-long window (the automatic
/// rule) would put a whole cycle of the seasonal signal into the baseline, so they default to a
/// fixed short window and accept `auto` on request.
fn rolling_window_param() -> ParamSpec {
    ParamSpec {
        allow_auto: true,
        ..ParamSpec::int(
            "window",
            50,
            2,
            MAX_WINDOW,
            "points in the baseline window; auto = TSB-AD's autocorrelation rule",
        )
    }
}

fn window_param() -> ParamSpec {
    ParamSpec::int_auto(
        "window",
        2,
        MAX_WINDOW,
        "window length in points; auto = TSB-AD's autocorrelation rule",
    )
}

/// The memory of a stream learner when it is not given: at least `floor` points and two periods
/// of the longest-period training column, so that the learner's window holds whole cycles and a
/// seasonal series is not judged against another phase of its cycle.
pub fn stream_memory(given: Option<usize>, floor: usize, train: &anomex_core::Frame) -> usize {
    given.unwrap_or_else(|| {
        (0..train.cols())
            .map(|j| 2 * period::find_length(&train.column_vec(j)))
            .fold(floor, usize::max)
    })
}

/// Parameters of Half-Space Trees (defaults as River's `HalfSpaceTrees`, but for the window).
pub fn hst_params() -> Vec<ParamSpec> {
    vec![
        ParamSpec::int("n_trees", 10, 1, 1000, "trees in the ensemble"),
        ParamSpec::int("height", 8, 1, 20, "depth of every tree"),
        ParamSpec::int_auto(
            "window",
            2,
            MAX_WINDOW,
            "points per mass window; auto = two periods of the training series, at least 250",
        ),
        ParamSpec::seed(),
    ]
}

/// Parameters of Robust Random Cut Forest (defaults as the `rrcf` streaming example, but for
/// the tree size).
pub fn rrcf_params() -> Vec<ParamSpec> {
    vec![
        ParamSpec::int("n_trees", 40, 1, 1000, "trees in the forest"),
        ParamSpec::int_auto(
            "tree_size",
            2,
            MAX_WINDOW,
            "points each tree remembers; auto = two periods of the training series, at least 256",
        ),
        ParamSpec::int(
            "shingle",
            4,
            1,
            1000,
            "consecutive rows joined into one point",
        ),
        ParamSpec::seed(),
    ]
}

/// Adds every time-series detector to `registry`.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.add(entry::<rolling::RollingZScore>(
        "rolling z-score against the previous `window` points (causal)",
        Learning::Unsupervised,
        true,
        vec![rolling_window_param()],
    ))?;
    registry.add(entry::<rolling::RollingMad>(
        "rolling robust z-score, median and MAD of the previous `window` points (causal)",
        Learning::Unsupervised,
        true,
        vec![rolling_window_param()],
    ))?;
    registry.add(entry::<rolling::Ewma>(
        "deviation from an exponentially weighted mean, in EW standard deviations (causal)",
        Learning::Unsupervised,
        true,
        vec![ParamSpec::float(
            "alpha",
            0.05,
            1e-6,
            1.0,
            "smoothing factor; warm-up is ceil(1/alpha) points",
        )],
    ))?;
    registry.add(entry::<likelihood::Likelihood>(
        "anomaly likelihood of a rolling novelty score, calibrated to [0, 1] (Ahmad et al. 2017, NAB)",
        Learning::Unsupervised,
        true,
        likelihood::params(),
    ))?;
    registry.add(entry::<artime::Artime>(
        "ARTime: adaptive-resonance categories of downsampled wavelet features (Hampton 2021, NAB)",
        Learning::Unsupervised,
        true,
        artime::params(),
    ))?;
    registry.add(online::entry::<hst::HalfSpaceTrees>(
        "Half-Space Trees: mass in random half-space trees over tumbling windows (Tan et al. 2011)",
        hst_params(),
    ))?;
    registry.add(online::entry::<rrcf::RandomCutForest>(
        "Robust Random Cut Forest: collusive displacement in a sliding window (Guha et al. 2016)",
        rrcf_params(),
    ))?;
    registry.add(entry::<seasonal::SeasonalResidual>(
        "robust seasonal-decomposition residual, the S-H-ESD statistic (Hochenbaum et al. 2017)",
        Learning::Unsupervised,
        false,
        vec![ParamSpec::int_auto(
            "period",
            2,
            MAX_WINDOW,
            "seasonal period in points; auto = from the autocorrelation",
        )],
    ))?;
    registry.add(entry::<spectral_residual::SpectralResidual>(
        "spectral-residual saliency (Ren et al., KDD 2019)",
        Learning::Unsupervised,
        false,
        vec![
            ParamSpec::int(
                "mag_window",
                3,
                1,
                1000,
                "frequencies averaged for the log-amplitude",
            ),
            ParamSpec::int(
                "score_window",
                40,
                1,
                100_000,
                "points averaged for the saliency baseline",
            ),
            ParamSpec::int(
                "extend",
                5,
                0,
                1000,
                "points predicted past the end before the transform",
            ),
        ],
    ))?;
    registry.add(entry::<matrix_profile::MatrixProfile>(
        "matrix-profile discord: z-normalised distance to the nearest non-trivial match (STOMP/SCAMP)",
        Learning::Unsupervised,
        false,
        vec![window_param()],
    ))?;
    registry.add(entry::<sub_pca::SubPca>(
        "PCA reconstruction error of sliding windows (Sub-PCA, TSB-AD)",
        Learning::SemiSupervised,
        false,
        vec![
            window_param(),
            ParamSpec::int_auto(
                "n_components",
                1,
                MAX_WINDOW,
                "principal components kept; auto = 90 % of the variance",
            ),
            ParamSpec::choice(
                "score",
                "reconstruction",
                &["reconstruction", "tsb_ad"],
                "window score: reconstruction error, or TSB-AD's weighted axis distance",
            ),
        ],
    ))?;
    Ok(())
}
