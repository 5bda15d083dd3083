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
use anomex_core::{Registry, Result};

/// The longest window any time-series parameter accepts.
pub const MAX_WINDOW: i64 = 1_000_000;

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

/// Adds every time-series detector to `registry`.
pub fn register(registry: &mut Registry) -> Result<()> {
    registry.add(entry::<rolling::RollingZScore>())?;
    registry.add(entry::<rolling::RollingMad>())?;
    registry.add(entry::<rolling::Ewma>())?;
    registry.add(entry::<likelihood::Likelihood>())?;
    registry.add(entry::<artime::Artime>())?;
    registry.add(online::entry::<hst::HalfSpaceTrees>())?;
    registry.add(online::entry::<rrcf::RandomCutForest>())?;
    registry.add(entry::<seasonal::SeasonalResidual>())?;
    registry.add(entry::<spectral_residual::SpectralResidual>())?;
    registry.add(entry::<matrix_profile::MatrixProfile>())?;
    registry.add(entry::<sub_pca::SubPca>())?;
    Ok(())
}
