//! Seasonal-decomposition residual, the score of S-H-ESD (Hochenbaum, Vallis & Kejariwal,
//! "Automatic Anomaly Detection in the Cloud Via Statistical Learning", 2017; Twitter's
//! AnomalyDetection package).
//!
//! The series is decomposed robustly: trend = centred moving median over `2·period + 1` points
//! (the moving form of S-H-ESD's piecewise median), seasonal = median of the detrended values at
//! each phase of the period, residual = x − trend − seasonal. The score of a point is its robust
//! z-score `|r − median(r)| / (1.4826 · MAD(r))`, the statistic S-H-ESD tests; the generalised
//! ESD test itself is the `esd` threshold policy, this detector's default threshold. With
//! `period=auto` the period is [`dominant_period`] of the training series (125 points when the
//! series shows no seasonality, where the seasonal term is then close to zero). Batch only (the trend is centred).
//! Cost: O(n·p) for the moving median, O(n) otherwise.

use crate::period::{dominant_period, FALLBACK_WINDOW};
use anomex_core::channelwise::{check_range, SeriesKernel};
use anomex_core::stats::{median, median_mad};
use anomex_core::{About, Error, Result};
use serde::{Deserialize, Serialize};

/// Seasonal-residual kernel.
#[derive(Debug, Clone)]
pub struct SeasonalResidual {
    period: Option<usize>,
}

/// Learned state: the resolved period.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SeasonalState {
    pub period: usize,
}

/// Centred moving median with window `2h + 1`; near the ends the window keeps its length and is
/// shifted inwards, so that it still spans whole periods (a shrunken window would bias the trend
/// by the part of a period it sees).
fn moving_median(x: &[f64], h: usize) -> Vec<f64> {
    let n = x.len();
    let mut sorted: Vec<f64> = Vec::with_capacity(2 * h + 2);
    let mut out = Vec::with_capacity(n);
    let (mut lo, mut hi) = (0usize, 0usize); // current window x[lo..hi]
    for i in 0..n {
        let span = (2 * h + 1).min(n);
        let want_lo = i.saturating_sub(h).min(n - span);
        let want_hi = want_lo + span;
        while hi < want_hi {
            let at = sorted.partition_point(|&v| v < x[hi]);
            sorted.insert(at, x[hi]);
            hi += 1;
        }
        while lo < want_lo {
            let at = sorted.partition_point(|&v| v < x[lo]);
            sorted.remove(at);
            lo += 1;
        }
        let m = sorted.len();
        out.push(if m % 2 == 1 {
            sorted[m / 2]
        } else {
            (sorted[m / 2 - 1] + sorted[m / 2]) / 2.0
        });
    }
    out
}

/// Residual of the robust decomposition (see the module docs).
pub fn residual(x: &[f64], period: usize) -> Vec<f64> {
    let trend = moving_median(x, period);
    let detrended: Vec<f64> = x.iter().zip(&trend).map(|(a, b)| a - b).collect();
    let seasonal: Vec<f64> = (0..period)
        .map(|phase| {
            let v: Vec<f64> = detrended
                .iter()
                .skip(phase)
                .step_by(period)
                .copied()
                .collect();
            median(&v)
        })
        .collect();
    detrended
        .iter()
        .enumerate()
        .map(|(i, d)| d - seasonal[i % period])
        .collect()
}

anomex_core::params! {
    /// Parameters of [`SeasonalResidual`].
    pub struct SeasonalParams {
        /// seasonal period in points; auto = from the autocorrelation
        pub period: Option<usize> = None, in 2..=crate::MAX_WINDOW;
    }
}

impl SeriesKernel for SeasonalResidual {
    type Params = SeasonalParams;
    type State = SeasonalState;
    const ABOUT: About = About {
        name: "shesd",
        class: "SHESD",
        summary:
            "robust seasonal-decomposition residual, the S-H-ESD statistic (Hochenbaum et al. 2017)",
    };
    fn new(p: &SeasonalParams) -> Result<Self> {
        Ok(SeasonalResidual { period: p.period })
    }
    fn fit(&self, train: &[f64]) -> Result<SeasonalState> {
        Ok(SeasonalState {
            period: self
                .period
                .or_else(|| dominant_period(train))
                .unwrap_or(FALLBACK_WINDOW),
        })
    }
    fn score(&self, st: &SeasonalState, x: &[f64]) -> Result<Vec<f64>> {
        if x.len() < 2 * st.period {
            return Err(Error::input(format!(
                "the series ({} points) is shorter than two periods of {}",
                x.len(),
                st.period
            )));
        }
        let r = residual(x, st.period);
        let (m, mad) = median_mad(&r);
        let mut scale = 1.4826 * mad;
        if scale.is_nan() || scale <= 1e-12 {
            scale = anomex_core::stats::std_dev(&r).max(1e-12);
        }
        Ok(r.iter().map(|v| (v - m).abs() / scale).collect())
    }
    fn check(&self, st: &SeasonalState) -> Result<()> {
        check_range("shesd", "period", st.period, 2..=crate::MAX_WINDOW as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_median_matches_naive() {
        let x: Vec<f64> = (0..57)
            .map(|i| ((i * 13) % 7) as f64 + i as f64 * 0.1)
            .collect();
        let h = 4;
        let got = moving_median(&x, h);
        for (i, g) in got.iter().enumerate() {
            let lo = i.saturating_sub(h).min(x.len() - (2 * h + 1));
            let hi = lo + 2 * h + 1;
            assert_eq!(*g, median(&x[lo..hi]), "i={i}");
        }
    }

    #[test]
    fn seasonal_spike_stands_out() {
        let mut x: Vec<f64> = (0..1000)
            .map(|i| 10.0 * (2.0 * std::f64::consts::PI * i as f64 / 24.0).sin() + i as f64 * 0.01)
            .collect();
        x[600] += 4.0; // small against the seasonal swing, large against the residual
        let k = SeasonalResidual { period: None };
        let st = k.fit(&x).unwrap();
        assert_eq!(st.period, 24);
        let s = k.score(&st, &x).unwrap();
        let arg = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
        assert_eq!(arg, 600);
    }
}
