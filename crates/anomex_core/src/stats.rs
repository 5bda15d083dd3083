//! Small robust statistics shared by detectors and thresholds.

/// Median (mean of the two middle values for even lengths); `NaN` for an empty slice.
pub fn median(x: &[f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    let mut v = x.to_vec();
    let mid = v.len() / 2;
    let (_, &mut hi, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    if v.len() % 2 == 1 {
        hi
    } else {
        let lo = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    }
}

/// Values scaled to [0, 1] by their minimum and maximum; constant values become 0.
pub fn min_max_scaled(x: &[f64]) -> Vec<f64> {
    let (lo, hi) = x
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if hi > lo {
        x.iter().map(|v| (v - lo) / (hi - lo)).collect()
    } else {
        vec![0.0; x.len()]
    }
}

/// Population standard deviation; `0` for fewer than two values.
pub fn std_dev(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Median and median absolute deviation (unscaled).
pub fn median_mad(x: &[f64]) -> (f64, f64) {
    let m = median(x);
    let dev: Vec<f64> = x.iter().map(|v| (v - m).abs()).collect();
    (m, median(&dev))
}

/// Linear-interpolated quantile `q ∈ [0, 1]` of `x` (numpy's default rule), by selection in
/// O(n) rather than a sort.
pub fn quantile(x: &[f64], q: f64) -> f64 {
    let Some((lo, hi, frac)) = quantile_position(x.len(), q) else {
        return f64::NAN;
    };
    let mut v = x.to_vec();
    let (_, &mut at_lo, above) = v.select_nth_unstable_by(lo, f64::total_cmp);
    // the next order statistic is the smallest value above the selected one
    let at_hi = if hi == lo {
        at_lo
    } else {
        above.iter().copied().fold(f64::INFINITY, f64::min)
    };
    at_lo + (at_hi - at_lo) * frac
}

/// [`quantile`] on already sorted data.
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    match quantile_position(v.len(), q) {
        Some((lo, hi, frac)) => v[lo] + (v[hi] - v[lo]) * frac,
        None => f64::NAN,
    }
}

/// The two order statistics numpy's linear rule interpolates between, and the weight of the
/// upper one; `None` for no data.
fn quantile_position(len: usize, q: f64) -> Option<(usize, usize, f64)> {
    if len == 0 {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (len - 1) as f64;
    let lo = pos.floor() as usize;
    Some((lo, pos.ceil() as usize, pos - lo as f64))
}

/// numpy's `linspace(start, stop, num)`: `start + i·step`, with the last value exactly `stop`.
pub fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 0 {
        return Vec::new();
    }
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    let mut out: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    out[num - 1] = stop;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn quantile_matches_numpy_linear() {
        // numpy.quantile([1, 2, 3, 4], 0.9) == 3.7
        assert!((quantile(&[4.0, 2.0, 1.0, 3.0], 0.9) - 3.7).abs() < 1e-12);
        assert_eq!(quantile(&[5.0], 0.3), 5.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn quantile_by_selection_equals_quantile_of_the_sorted_data() {
        // values with ties, negatives and zeros of both signs
        let x: Vec<f64> = (0..1001)
            .map(|i| ((i * 7919) % 211) as f64 / 3.0 - 30.0)
            .chain([0.0, -0.0, 0.0])
            .collect();
        let mut sorted = x.clone();
        sorted.sort_by(f64::total_cmp);
        for k in 0..=200 {
            let q = f64::from(k) / 200.0;
            assert_eq!(quantile(&x, q), quantile_sorted(&sorted, q), "q = {q}");
        }
    }
}
