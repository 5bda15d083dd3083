//! Automatic window length from the autocorrelation function.
//!
//! Reproduces TSB-AD's `find_length_rank(data, rank=1)` (TheDatumOrg/TSB-AD,
//! `TSB_AD/utils/slidingWindows.py`): on the first 20,000 points, take the biased sample ACF up
//! to lag 400 (statsmodels `acf`), drop lags 0–2, find strict interior local maxima, and return
//! the lag of the highest one; if there is none, or its offset from lag 3 is outside [3, 300],
//! return 125. Cost: O(min(n, 20,000) · 400).

/// The fallback window length of the TSB-AD rule.
pub const FALLBACK_WINDOW: usize = 125;
const MAX_POINTS: usize = 20_000;
const MAX_LAG: usize = 400;
const BASE: usize = 3;

/// Sample autocorrelation (statsmodels' biased estimator) for lags `0..=max_lag`.
pub fn acf(x: &[f64], max_lag: usize) -> Vec<f64> {
    let n = x.len();
    if n == 0 {
        return Vec::new();
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let d: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let c0: f64 = d.iter().map(|v| v * v).sum();
    (0..=max_lag.min(n - 1))
        .map(|k| {
            d[..n - k]
                .iter()
                .zip(&d[k..])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / c0
        })
        .collect()
}

/// TSB-AD's window-length rule (see the module docs).
pub fn find_length(x: &[f64]) -> usize {
    let x = &x[..x.len().min(MAX_POINTS)];
    let ac = acf(x, MAX_LAG);
    if ac.len() <= BASE + 2 || ac.iter().any(|v| !v.is_finite()) {
        return FALLBACK_WINDOW;
    }
    let tail = &ac[BASE..];
    let best = (1..tail.len() - 1)
        .filter(|&i| tail[i] > tail[i - 1] && tail[i] > tail[i + 1])
        // first index wins ties, as numpy's argmax does
        .fold(None, |best: Option<usize>, i| match best {
            Some(b) if tail[b] >= tail[i] => Some(b),
            _ => Some(i),
        });
    match best {
        Some(i) if (3..=300).contains(&i) => i + BASE,
        _ => FALLBACK_WINDOW,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_period_of_a_sine() {
        let x: Vec<f64> = (0..5000)
            .map(|i| (2.0 * std::f64::consts::PI * i as f64 / 50.0).sin())
            .collect();
        assert_eq!(find_length(&x), 50);
    }

    #[test]
    fn falls_back_without_structure() {
        assert_eq!(find_length(&[1.0; 1000]), FALLBACK_WINDOW);
        assert_eq!(find_length(&[1.0, 2.0, 3.0]), FALLBACK_WINDOW);
        // a period of 2 is below the rule's lower bound
        let alt: Vec<f64> = (0..1000).map(|i| (i % 2) as f64).collect();
        assert_eq!(find_length(&alt), FALLBACK_WINDOW);
    }
}

/// The dominant seasonal period of `x`, or `None` when the series has no clear seasonality.
///
/// Unlike [`find_length`] (a window-length rule capped at lag 400), this looks at lags up to a
/// third of the series and only at autocorrelation peaks that come after the first zero
/// crossing: a genuine period must be preceded by the signal decorrelating from itself, which
/// rules out the noise wiggles near lag 0 and in the trough of a long cycle. The highest such peak
/// wins if its autocorrelation exceeds 0.1. The ACF is computed by FFT in O(n log n).
pub fn dominant_period(x: &[f64]) -> Option<usize> {
    let max_lag = x.len() / 3;
    if max_lag < 4 {
        return None;
    }
    let ac = acf_fft(x, max_lag);
    if ac.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let first_neg = ac.iter().position(|&v| v < 0.0)?;
    (first_neg.max(1)..ac.len() - 1)
        .filter(|&k| ac[k] > ac[k - 1] && ac[k] >= ac[k + 1] && ac[k] > 0.1)
        .fold(None, |best: Option<usize>, k| match best {
            Some(b) if ac[b] >= ac[k] => Some(b),
            _ => Some(k),
        })
}

/// The biased sample ACF for lags `0..=max_lag` through a zero-padded FFT.
pub fn acf_fft(x: &[f64], max_lag: usize) -> Vec<f64> {
    use rustfft::num_complex::Complex;
    let n = x.len();
    let mean = x.iter().sum::<f64>() / n as f64;
    let len = (2 * n).next_power_of_two();
    let mut buf: Vec<Complex<f64>> = x
        .iter()
        .map(|v| Complex::new(v - mean, 0.0))
        .chain(std::iter::repeat(Complex::new(0.0, 0.0)))
        .take(len)
        .collect();
    let mut planner = rustfft::FftPlanner::<f64>::new();
    planner.plan_fft_forward(len).process(&mut buf);
    for c in &mut buf {
        *c = Complex::new(c.norm_sqr(), 0.0);
    }
    planner.plan_fft_inverse(len).process(&mut buf);
    let c0 = buf[0].re;
    buf.iter()
        .take(max_lag.min(n - 1) + 1)
        .map(|c| c.re / c0)
        .collect()
}

#[cfg(test)]
mod dominant_tests {
    use super::*;

    #[test]
    fn fft_acf_equals_direct_acf() {
        let x: Vec<f64> = (0..300)
            .map(|i| ((i * 7919) % 37) as f64 + (i as f64 * 0.1).sin())
            .collect();
        let a = acf(&x, 50);
        let b = acf_fft(&x, 50);
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-10);
        }
    }

    #[test]
    fn finds_long_periods_and_rejects_noise() {
        let mut s = 7u64;
        let mut rnd = move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let x: Vec<f64> = (0..3000)
            .map(|i| (2.0 * std::f64::consts::PI * i as f64 / 500.0).sin() + 0.2 * rnd())
            .collect();
        let p = dominant_period(&x).unwrap();
        assert!((495..=505).contains(&p), "{p}");
        let noise: Vec<f64> = (0..3000).map(|_| rnd()).collect();
        assert_eq!(dominant_period(&noise), None);
    }
}
