//! Spectral residual saliency (Ren et al., "Time-Series Anomaly Detection Service at
//! Microsoft", KDD 2019).
//!
//! The series is extended by `extend` points predicted from the slope of its last points (so the
//! final points are not at the edge of the transform), then: A = |FFT(x)|, L = log A,
//! R = L − trailing mean of L over `mag_window` frequencies, saliency S = |IFFT(exp(R + iφ))|.
//! The score is `|S − S̄| / S̄` with S̄ the trailing mean of S over `score_window` points (the
//! published code further divides by 10 and clips to [0, 1]; anomex keeps the unclipped ratio so
//! that scores above the clip still rank). Batch only (the transform sees the whole series).
//! Cost: O(n log n).

use anomex_core::channelwise::SeriesKernel;
use anomex_core::{About, Error, Result};
use rustfft::num_complex::Complex;
use rustfft::FftPlanner;

const EPS: f64 = 1e-8;

/// Spectral-residual kernel.
#[derive(Debug, Clone)]
pub struct SpectralResidual {
    mag_window: usize,
    score_window: usize,
    extend: usize,
}

fn trailing_mean(x: &[f64], n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    let mut sum = 0.0;
    for i in 0..x.len() {
        sum += x[i];
        if i >= n {
            sum -= x[i - n];
        }
        out.push(sum / (i + 1).min(n) as f64);
    }
    out
}

/// Slope-based prediction of the next value from the last `look_ahead` points (as in the paper's
/// reference implementation, msanomalydetector).
fn predict_next(v: &[f64]) -> f64 {
    let n = v.len();
    let last = v[n - 1];
    let slopes: f64 = v[..n - 1]
        .iter()
        .enumerate()
        .map(|(i, &x)| (last - x) / (n - 1 - i) as f64)
        .sum();
    v[1] + slopes
}

impl SpectralResidual {
    /// The saliency map of `x` (length of `x`, extension removed).
    pub fn saliency(&self, x: &[f64]) -> Vec<f64> {
        let n = x.len();
        let look_ahead = 5usize.min(n.saturating_sub(2));
        let mut ext = x.to_vec();
        if self.extend > 0 && look_ahead >= 2 {
            let next = predict_next(&x[n - look_ahead - 1..n - 1]);
            ext.extend(std::iter::repeat_n(next, self.extend));
        }
        let len = ext.len();
        let mut planner = FftPlanner::<f64>::new();
        let mut buf: Vec<Complex<f64>> = ext.iter().map(|&v| Complex::new(v, 0.0)).collect();
        planner.plan_fft_forward(len).process(&mut buf);
        let mag: Vec<f64> = buf.iter().map(|c| c.norm()).collect();
        let log: Vec<f64> = mag
            .iter()
            .map(|&m| if m <= EPS { 0.0 } else { m.ln() })
            .collect();
        let avg = trailing_mean(&log, self.mag_window);
        for (k, c) in buf.iter_mut().enumerate() {
            if mag[k] <= EPS {
                *c = Complex::new(0.0, 0.0);
            } else {
                *c *= (log[k] - avg[k]).exp() / mag[k];
            }
        }
        planner.plan_fft_inverse(len).process(&mut buf);
        buf.iter().take(n).map(|c| c.norm() / len as f64).collect()
    }
}

anomex_core::params! {
    /// Parameters of [`SpectralResidual`] (the paper's settings).
    pub struct SpectralResidualParams {
        /// frequencies averaged for the log-amplitude
        pub mag_window: usize = 3, in 1..=1000;
        /// points averaged for the saliency baseline
        pub score_window: usize = 40, in 1..=100_000;
        /// points predicted past the end before the transform
        pub extend: usize = 5, in 0..=1000;
    }
}

impl SeriesKernel for SpectralResidual {
    type Params = SpectralResidualParams;
    type State = ();
    const ABOUT: About = About {
        name: "spectral_residual",
        class: "SpectralResidual",
        summary: "spectral-residual saliency (Ren et al., KDD 2019)",
    };
    fn new(p: &SpectralResidualParams) -> Result<Self> {
        Ok(SpectralResidual {
            mag_window: p.mag_window,
            score_window: p.score_window,
            extend: p.extend,
        })
    }
    fn fit(&self, _train: &[f64]) -> Result<()> {
        Ok(())
    }
    fn score(&self, _state: &(), x: &[f64]) -> Result<Vec<f64>> {
        if x.len() < 8 {
            return Err(Error::input(format!(
                "spectral residual needs at least 8 points, got {}",
                x.len()
            )));
        }
        let s = self.saliency(x);
        let avg = trailing_mean(&s, self.score_window);
        Ok(s.iter()
            .zip(&avg)
            .map(|(&v, &a)| if a <= EPS { 0.0 } else { (v - a).abs() / a })
            .collect())
    }
    fn check(&self, _: &()) -> Result<()> {
        Ok(()) // nothing learned: the parameters, checked on load, are the model
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spike_has_the_highest_score() {
        let mut x: Vec<f64> = (0..512)
            .map(|i| (i as f64 * 0.2).sin() + 0.01 * ((i * 37) % 11) as f64)
            .collect();
        x[300] += 6.0;
        let k = SpectralResidual {
            mag_window: 3,
            score_window: 21,
            extend: 5,
        };
        let s = k.score(&(), &x).unwrap();
        let arg = (0..s.len()).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap();
        assert_eq!(arg, 300);
    }
}
