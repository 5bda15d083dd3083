//! Quantile, contamination and MAD thresholds, and the calibrated [0, 1] score.

use anomex_core::{stats, Error, Result, Threshold};

/// Threshold at a quantile of the training scores; labels are `score > threshold`.
///
/// `contamination = c` is the quantile `1 − c`, PyOD's `threshold_` rule
/// (`percentile(decision_scores_, 100·(1 − contamination))`, numpy's linear interpolation).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Quantile {
    q: f64,
    threshold: Option<f64>,
}

impl Quantile {
    pub fn new(q: f64) -> Result<Self> {
        if !(q > 0.0 && q < 1.0) {
            return Err(Error::param("q", format!("{q} is outside (0, 1)")));
        }
        Ok(Quantile { q, threshold: None })
    }
    pub fn contamination(rate: f64) -> Result<Self> {
        if !(rate > 0.0 && rate <= 0.5) {
            return Err(Error::param(
                "contamination",
                format!("{rate} is outside (0, 0.5]"),
            ));
        }
        Quantile::new(1.0 - rate)
    }
}

fn fitted(t: Option<f64>, what: &str) -> Result<f64> {
    t.ok_or_else(|| Error::Unsupported(format!("the {what} threshold is not fitted")))
}

fn check_scores(train: &[f64]) -> Result<()> {
    if train.is_empty() {
        return Err(Error::input("no training scores to fit a threshold on"));
    }
    if let Some(i) = train.iter().position(|v| !v.is_finite()) {
        return Err(Error::input(format!("non-finite training score at {i}")));
    }
    Ok(())
}

impl Threshold for Quantile {
    snapshot_by_serde!();
    fn fit(&mut self, train: &[f64]) -> Result<()> {
        check_scores(train)?;
        self.threshold = Some(stats::quantile(train, self.q));
        Ok(())
    }
    fn update(&mut self, score: f64) -> Result<(f64, bool)> {
        let t = fitted(self.threshold, "quantile")?;
        Ok((t, score > t))
    }
}

/// `median + k · 1.4826 · MAD` of the training scores.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Mad {
    k: f64,
    threshold: Option<f64>,
}

impl Mad {
    pub fn new(k: f64) -> Result<Self> {
        if !(k > 0.0 && k.is_finite()) {
            return Err(Error::param("k", format!("{k} must be positive")));
        }
        Ok(Mad { k, threshold: None })
    }
}

impl Threshold for Mad {
    snapshot_by_serde!();
    fn fit(&mut self, train: &[f64]) -> Result<()> {
        check_scores(train)?;
        let (m, mad) = stats::median_mad(train);
        self.threshold = Some(m + self.k * 1.4826 * mad);
        Ok(())
    }
    fn update(&mut self, score: f64) -> Result<(f64, bool)> {
        let t = fitted(self.threshold, "MAD")?;
        Ok((t, score > t))
    }
}

/// Calibrated score in [0, 1]: the fraction of training scores strictly below, plus half of
/// those equal (the mid-rank empirical distribution function). 0.99 reads as "more anomalous than
/// 99 % of the training data".
#[derive(Debug, Clone)]
pub struct Calibrator {
    sorted: Vec<f64>,
}

impl Calibrator {
    pub fn fit(train: &[f64]) -> Result<Self> {
        check_scores(train)?;
        let mut sorted = train.to_vec();
        sorted.sort_by(f64::total_cmp);
        Ok(Calibrator { sorted })
    }
    pub fn calibrate(&self, score: f64) -> f64 {
        let below = self.sorted.partition_point(|&v| v < score);
        let not_above = self.sorted.partition_point(|&v| v <= score);
        (below as f64 + 0.5 * (not_above - below) as f64) / self.sorted.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contamination_flags_the_top_fraction() {
        let train: Vec<f64> = (0..100).map(f64::from).collect();
        let mut t = Quantile::contamination(0.1).unwrap();
        let d = t.decide_fit(&train);
        assert_eq!(d.iter().filter(|&&l| l).count(), 10);
    }

    trait DecideFit {
        fn decide_fit(&mut self, x: &[f64]) -> Vec<bool>;
    }
    impl<T: Threshold> DecideFit for T {
        fn decide_fit(&mut self, x: &[f64]) -> Vec<bool> {
            self.fit(x).unwrap();
            self.decide(x).unwrap().labels
        }
    }

    #[test]
    fn mad_rule() {
        let mut x = vec![1.0, 2.0, 3.0, 4.0, 5.0];
        x.push(100.0);
        let labels = Mad::new(3.0).unwrap().decide_fit(&x);
        assert_eq!(labels, vec![false, false, false, false, false, true]);
    }

    #[test]
    fn calibration_is_a_midrank_cdf() {
        let c = Calibrator::fit(&[1.0, 2.0, 2.0, 3.0]).unwrap();
        assert_eq!(c.calibrate(0.0), 0.0);
        assert_eq!(c.calibrate(2.0), 0.5);
        assert_eq!(c.calibrate(10.0), 1.0);
        assert!(Calibrator::fit(&[]).is_err());
    }
}
