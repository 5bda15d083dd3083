//! Sliding windows and mapping window scores back to points.

use crate::{Error, Result};

/// Checks that a window of length `window` fits in a series of length `n`.
pub fn check_window(window: usize, n: usize) -> Result<()> {
    if window < 2 {
        return Err(Error::param(
            "window",
            format!("{window} is shorter than 2"),
        ));
    }
    if window > n {
        return Err(Error::input(format!(
            "window {window} is longer than the series ({n} points): it needs at least {window} points"
        )));
    }
    Ok(())
}

/// Spreads `n - w + 1` window scores over `n` points the way TSB-AD does: window `i` is placed
/// at its centre, the first `ceil((w-1)/2)` points repeat the first window's score and the
/// last `floor((w-1)/2)` repeat the last one's.
pub fn window_scores_to_points(window_scores: &[f64], w: usize) -> Vec<f64> {
    let (Some(&first), Some(&last)) = (window_scores.first(), window_scores.last()) else {
        return Vec::new();
    };
    let head = w.saturating_sub(1).div_ceil(2);
    let tail = w.saturating_sub(1) / 2;
    let mut out = Vec::with_capacity(window_scores.len() + head + tail);
    out.extend(std::iter::repeat_n(first, head));
    out.extend_from_slice(window_scores);
    out.extend(std::iter::repeat_n(last, tail));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_restores_length() {
        for w in 2..7 {
            let n = 20;
            let ws: Vec<f64> = (0..n - w + 1).map(|i| i as f64).collect();
            let p = window_scores_to_points(&ws, w);
            assert_eq!(p.len(), n);
            assert_eq!(p[(w - 1).div_ceil(2)], 0.0);
        }
    }

    #[test]
    fn window_checks() {
        assert!(check_window(1, 10).is_err());
        assert!(check_window(11, 10)
            .unwrap_err()
            .to_string()
            .contains("longer"));
        assert!(check_window(10, 10).is_ok());
    }
}
