//! Generalised ESD test (Rosner, "Percentage Points for a Generalized ESD Many-Outlier
//! Procedure", Technometrics 1983), in the robust form of S-H-ESD (Hochenbaum et al. 2017:
//! median and MAD in place of mean and standard deviation), one-sided because scores are
//! "higher = more anomalous".
//!
//! Up to `max · n` times, the score farthest above the median is removed and its statistic
//! `R_i = (x − median) / MAD` compared with the critical value
//! `λ_i = (n−i)·t_{p, n−i−1} / sqrt((n−i−1 + t²)(n−i+1))`, `p = 1 − α/(n−i+1)`. The number of
//! outliers is the largest `i` with `R_i > λ_i`; the threshold is the smallest of those scores
//! (minus nothing: labels are `score ≥ threshold`, expressed as `>` its predecessor).
//! Cost: O(n log n) after sorting.

use anomex_core::{stats, Error, Result, Threshold};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The ESD threshold policy.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Esd {
    alpha: f64,
    max_fraction: f64,
    threshold: Option<f64>,
}

impl Esd {
    pub fn new(alpha: f64, max_fraction: f64) -> Result<Self> {
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(Error::param("alpha", format!("{alpha} is outside (0, 1)")));
        }
        if !(max_fraction > 0.0 && max_fraction <= 0.5) {
            return Err(Error::param(
                "max",
                format!("{max_fraction} is outside (0, 0.5]"),
            ));
        }
        Ok(Esd {
            alpha,
            max_fraction,
            threshold: None,
        })
    }
}

impl Threshold for Esd {
    snapshot_by_serde!();
    fn fit(&mut self, train: &[f64]) -> Result<()> {
        let n = train.len();
        if n < 3 {
            return Err(Error::input(format!(
                "the ESD test needs at least 3 scores, got {n}"
            )));
        }
        let mut sorted = train.to_vec();
        sorted.sort_by(f64::total_cmp);
        let max_out = ((self.max_fraction * n as f64).floor() as usize).clamp(1, n - 2);
        let mut outliers = 0;
        for i in 1..=max_out {
            let rest = &sorted[..n - i + 1];
            let (m, mad) = stats::median_mad(rest);
            let x = rest[rest.len() - 1];
            let r = if mad > 0.0 {
                (x - m) / (1.4826 * mad)
            } else if x > m {
                f64::INFINITY
            } else {
                0.0
            };
            let df = (n - i - 1) as f64;
            let p = 1.0 - self.alpha / (n - i + 1) as f64;
            let t = StudentsT::new(0.0, 1.0, df)
                .map_err(|e| Error::Numerical(format!("Student t with {df} dof: {e}")))?
                .inverse_cdf(p);
            let lambda = (n - i) as f64 * t / ((df + t * t) * (n - i + 1) as f64).sqrt();
            if r > lambda {
                outliers = i;
            }
        }
        // everything above the largest non-outlier is anomalous
        self.threshold = Some(sorted[n - outliers - 1]);
        Ok(())
    }
    fn update(&mut self, score: f64) -> Result<(f64, bool)> {
        let t = self
            .threshold
            .ok_or_else(|| Error::Unsupported("the ESD threshold is not fitted".into()))?;
        Ok((t, score > t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_planted_outliers() {
        let mut x: Vec<f64> = (0..200).map(|i| ((i * 37) % 19) as f64 / 19.0).collect();
        x[10] = 25.0;
        x[50] = 30.0;
        x[120] = 40.0;
        let mut e = Esd::new(0.05, 0.1).unwrap();
        e.fit(&x).unwrap();
        let labels = e.decide(&x).unwrap().labels;
        let flagged: Vec<usize> = (0..x.len()).filter(|&i| labels[i]).collect();
        assert_eq!(flagged, vec![10, 50, 120]);
    }

    #[test]
    fn nothing_flagged_without_outliers() {
        let x: Vec<f64> = (0..200).map(|i| ((i * 37) % 19) as f64).collect();
        let mut e = Esd::new(0.05, 0.1).unwrap();
        e.fit(&x).unwrap();
        assert!(e.decide(&x).unwrap().labels.iter().all(|&l| !l));
    }
}
