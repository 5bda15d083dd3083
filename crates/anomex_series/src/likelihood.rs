//! Anomaly likelihood: how improbable the recent novelty of a stream is, given its own history.
//!
//! Numenta's anomaly likelihood (Ahmad, Lavin, Purdy & Agha, "Unsupervised real-time anomaly
//! detection for streaming data", Neurocomputing 2017; the `numenta` detector of the Numenta
//! Anomaly Benchmark), here on a plain causal novelty score instead of an HTM network. Per point:
//!
//! 1. **Novelty** `z_t = |x_t − mean| / std`, the larger of two: over the previous `window`
//!    points and over the previous `short_window` (all previous points while there are fewer),
//!    squashed to `r_t = 1 − exp(−z_t / scale)` in [0, 1). The short window sees a spike that
//!    stays inside the long window's spread (a spike at the trough of a cycle).
//! 2. **Averaged** over the last `averaging` points: `a_t`.
//! 3. **Likelihood**: after `learning + estimation` points, a normal distribution is fitted to the
//!    averages of the last `history` points (those after the first `learning`), with Numenta's
//!    floors (mean ≥ 0.03, variance ≥ 0.0003); `p_t = P(A ≥ a_t)` (`1 − P(A ≥ 2μ − a_t)` below the
//!    mean, as Numenta mirrors it) and the likelihood is `1 − p_t`; before that it is ½. Numenta
//!    looks the tail up in a table of `Q(z)` at steps of 0.1 and re-estimates every 100 points;
//!    here the tail is `erfc` and the fit slides with every point.
//! 4. **Filter** (Numenta's): a red value (`p ≤ 10⁻⁵`) right after another red one becomes yellow
//!    (`p = 10⁻³`), so one event raises one alert, not a run of them.
//! 5. **Score** `ln(p + 10⁻¹⁰) / ln(10⁻¹⁰)` in [0, 1] (NAB's log-likelihood), or 1 when the value
//!    leaves the range seen so far by more than `range_tolerance` of its width (NAB's "spatial
//!    anomaly"; `range_tolerance=off` disables it).
//!
//! The scores are calibrated: the same value means the same improbability on every series,
//! which is what lets one threshold serve many series (NAB's scoreboard uses one threshold for
//! the whole corpus). State: the last `window` and `short_window` values, `averaging` novelties
//! and `history` averages, ≈ 8 bytes each (≈ 78 KB with the defaults). Cost: O(1) per point.

use crate::rolling::RunningWindow;
use anomex_core::channelwise::{check_range, ChannelStream, SeriesKernel, StreamFn};
use anomex_core::model_file::{restore_if_same, state_to};
use anomex_core::{About, Error, Result};
use serde::{Deserialize, Serialize};

/// Numenta's floors on the fitted distribution of averaged novelties.
const MEAN_FLOOR: f64 = 0.03;
const VARIANCE_FLOOR: f64 = 0.0003;
/// Tail probabilities of a red alert and of the yellow it is lowered to when repeated.
const RED: f64 = 1e-5;
const YELLOW: f64 = 1e-3;
/// NAB's log-likelihood offset: `ln(p + EPS) / ln(EPS)` maps p ∈ [0, 1] onto [1, 0].
const EPS: f64 = 1e-10;

/// The anomaly-likelihood detector's settings (also its learned state: it learns while it runs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Likelihood {
    pub window: usize,
    pub short_window: usize,
    pub scale: f64,
    pub averaging: usize,
    pub learning: usize,
    pub estimation: usize,
    pub history: usize,
    /// `None`: no range check.
    pub range_tolerance: Option<f64>,
}

anomex_core::params! {
    /// Parameters of [`Likelihood`] (Numenta's defaults for the averaging, learning, estimation
    /// and history lengths).
    pub struct LikelihoodParams {
        /// previous points the novelty z-score is taken against
        pub window: usize = 1000, in 2..=1_000_000;
        /// recent points a second novelty z-score is taken against; the larger one counts
        pub short_window: usize = 50, in 2..=1_000_000;
        /// z-score that maps to a novelty of 1 − 1/e
        pub scale: f64 = 5.0, in 1e-6..=1e6;
        /// novelties averaged before the likelihood
        pub averaging: usize = 10, in 1..=100_000;
        /// first points whose averages the distribution leaves out
        pub learning: usize = 288, in 0..=10_000_000;
        /// averages collected before the first likelihood (½ until then)
        pub estimation: usize = 100, in 1..=10_000_000;
        /// latest averages the distribution is fitted to
        pub history: usize = 8640, in 2..=10_000_000;
        /// a value beyond the range seen so far by this share of its width scores 1; off = never
        pub range_tolerance: String = "0.05".into();
    }
    validate |p| { p.tolerance().map(|_| ()) }
}

impl LikelihoodParams {
    /// `range_tolerance` as a number; `None` for `off`.
    fn tolerance(&self) -> Result<Option<f64>> {
        match self.range_tolerance.as_str() {
            "off" => Ok(None),
            text => text
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && *t >= 0.0)
                .map(Some)
                .ok_or_else(|| {
                    Error::param(
                        "range_tolerance",
                        format!("`{text}` is neither a number ≥ 0 nor `off`"),
                    )
                }),
        }
    }
}

impl SeriesKernel for Likelihood {
    type Params = LikelihoodParams;
    type State = Likelihood;
    const ABOUT: About = About {
        name: "likelihood",
        class: "AnomalyLikelihood",
        summary: "anomaly likelihood of a rolling novelty score, calibrated to [0, 1] (Ahmad et al. 2017, NAB)",
    };
    const STREAM: Option<StreamFn<Self>> = Some(|_, state| Box::new(LikelihoodStream::new(*state)));
    fn new(p: &LikelihoodParams) -> Result<Self> {
        Ok(Likelihood {
            window: p.window,
            short_window: p.short_window,
            scale: p.scale,
            averaging: p.averaging,
            learning: p.learning,
            estimation: p.estimation,
            history: p.history,
            range_tolerance: p.tolerance()?,
        })
    }
    fn fit(&self, _train: &[f64]) -> Result<Likelihood> {
        Ok(*self)
    }
    fn score(&self, state: &Likelihood, x: &[f64]) -> Result<Vec<f64>> {
        let mut stream = LikelihoodStream::new(*state);
        Ok(x.iter().map(|&v| stream.step(v)).collect())
    }
    fn check(&self, st: &Likelihood) -> Result<()> {
        // the ranges of the parameters the state was resolved from
        let name = "likelihood";
        check_range(name, "window", st.window, 2..=1_000_000)?;
        check_range(name, "short_window", st.short_window, 2..=1_000_000)?;
        check_range(name, "scale", st.scale, 1e-6..=1e6)?;
        check_range(name, "averaging", st.averaging, 1..=100_000)?;
        check_range(name, "learning", st.learning, 0..=10_000_000)?;
        check_range(name, "estimation", st.estimation, 1..=10_000_000)?;
        check_range(name, "history", st.history, 2..=10_000_000)?;
        match st.range_tolerance {
            Some(t) => check_range(name, "range_tolerance", t, 0.0..=f64::MAX),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct LikelihoodStream {
    settings: Likelihood,
    seen: u64,
    values: RunningWindow,
    recent: RunningWindow,
    novelties: RunningWindow,
    averages: RunningWindow,
    /// The last unfiltered tail probability (for the red filter).
    last_tail: f64,
    /// Lowest and highest value so far.
    range: Option<(f64, f64)>,
}

impl LikelihoodStream {
    fn new(settings: Likelihood) -> Self {
        LikelihoodStream {
            settings,
            seen: 0,
            values: RunningWindow::new(settings.window),
            recent: RunningWindow::new(settings.short_window),
            novelties: RunningWindow::new(settings.averaging),
            averages: RunningWindow::new(settings.history),
            last_tail: 0.5,
            range: None,
        }
    }

    fn step(&mut self, x: f64) -> f64 {
        let s = self.settings;
        let z = [&self.values, &self.recent]
            .iter()
            .filter_map(|w| w.mean_std())
            .map(|(mean, std)| crate::rolling::deviation(x, mean, std))
            .fold(0.0, f64::max);
        self.values.push(x);
        self.recent.push(x);
        self.novelties.push(1.0 - (-z / s.scale).exp());
        let average = self.novelties.mean_std().map_or(0.0, |(m, _)| m);
        let ready = self.averages.len() >= s.estimation;
        let tail = match self.averages.mean_std() {
            Some((mean, std)) if ready => {
                let mean = mean.max(MEAN_FLOOR);
                let std = std.max(VARIANCE_FLOOR.sqrt());
                upper_tail(average, mean, std)
            }
            _ => 0.5,
        };
        if self.seen >= s.learning as u64 {
            self.averages.push(average);
        }
        self.seen += 1;
        let filtered = if tail <= RED && self.last_tail <= RED {
            YELLOW
        } else {
            tail
        };
        self.last_tail = tail;
        let score = ((filtered + EPS).ln() / EPS.ln()).clamp(0.0, 1.0);
        let out_of_range = match (self.range, s.range_tolerance) {
            (Some((lo, hi)), Some(tol)) if hi > lo => {
                let margin = tol * (hi - lo);
                x > hi + margin || x < lo - margin
            }
            _ => false,
        };
        self.range = Some(self.range.map_or((x, x), |(lo, hi)| (lo.min(x), hi.max(x))));
        if out_of_range {
            1.0
        } else {
            score
        }
    }
}

/// `P(A ≥ a)` for `A ~ N(mean, std²)`, mirrored below the mean as Numenta does:
/// `1 − P(A ≥ 2·mean − a)`.
fn upper_tail(a: f64, mean: f64, std: f64) -> f64 {
    let q = |z: f64| 0.5 * statrs::function::erf::erfc(z / std::f64::consts::SQRT_2);
    if a >= mean {
        q((a - mean) / std)
    } else {
        1.0 - q((mean - a) / std)
    }
}

impl ChannelStream for LikelihoodStream {
    fn update(&mut self, x: f64) -> Option<f64> {
        Some(self.step(x))
    }
    fn snapshot(&self) -> Result<serde_json::Value> {
        state_to(self)
    }
    fn restore(&mut self, snapshot: serde_json::Value) -> Result<()> {
        restore_if_same(
            self,
            snapshot,
            |a, b| a.settings == b.settings,
            |_, _| "a likelihood stream snapshot with other settings".into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anomex_core::ParamSet;

    fn settings() -> Likelihood {
        Likelihood::new(&LikelihoodParams::default()).unwrap()
    }

    #[test]
    fn tails_are_normal_and_mirrored_below_the_mean() {
        assert!((upper_tail(0.5, 0.5, 0.1) - 0.5).abs() < 1e-15);
        // P(Z ≥ 1.96) = 0.0249979
        assert!((upper_tail(0.5 + 1.96 * 0.1, 0.5, 0.1) - 0.024_997_9).abs() < 1e-6);
        assert!((upper_tail(0.5 - 1.96 * 0.1, 0.5, 0.1) - (1.0 - 0.024_997_9)).abs() < 1e-6);
    }

    #[test]
    fn quiet_then_a_burst_raises_one_red_alert_and_leaving_the_range_scores_one() {
        let s = settings();
        let mut stream = LikelihoodStream::new(s);
        // small noise, after two early extremes that set the range to [−2, 2]
        let mut quiet: Vec<f64> = (0..3000)
            .map(|i| ((i * 7919 % 1000) as f64 / 1000.0 - 0.5) * 0.2)
            .collect();
        (quiet[10], quiet[20]) = (2.0, -2.0);
        let scores: Vec<f64> = quiet.iter().map(|&v| stream.step(v)).collect();
        assert_eq!(scores[10], 1.0, "beyond the range seen so far");
        // the learning and estimation periods sit at likelihood ½
        let half = (0.5f64 + EPS).ln() / EPS.ln();
        assert!(scores[21..s.learning + s.estimation]
            .iter()
            .all(|&v| (v - half).abs() < 1e-12));
        assert!(scores.iter().all(|&v| (0.0..=1.0).contains(&v)));
        let quiet_max = scores[1000..].iter().copied().fold(0.0, f64::max);
        // a burst inside the range, far from the recent values
        let after: Vec<f64> = (0..30).map(|_| stream.step(1.5)).collect();
        let peak = after.iter().copied().fold(0.0, f64::max);
        assert!(peak > quiet_max, "{peak} vs {quiet_max}");
        // one red alert (p ≤ 10⁻⁵: score ≥ ½); the red values after it are lowered to yellow
        let red = (RED + EPS).ln() / EPS.ln();
        let yellow = (YELLOW + EPS).ln() / EPS.ln();
        assert_eq!(after.iter().filter(|&&v| v >= red).count(), 1, "{after:?}");
        let first = after.iter().position(|&v| v >= red).unwrap();
        assert!(after[first + 1..]
            .iter()
            .all(|&v| (v - yellow).abs() < 1e-12));
        // out of the range seen so far, by more than 5 % of it
        assert_eq!(stream.step(2.5), 1.0);
        assert!(stream.step(0.0) < 1.0);
    }

    #[test]
    fn the_range_check_can_be_switched_off_and_bad_tolerances_are_refused() {
        let p = LikelihoodParams::parse(&["range_tolerance=off"]).unwrap();
        let off = Likelihood::new(&p).unwrap();
        assert!(off.range_tolerance.is_none());
        let mut stream = LikelihoodStream::new(off);
        for i in 0..50 {
            stream.step(f64::from(i % 3));
        }
        assert!(stream.step(100.0) < 1.0);
        for bad in ["-0.1", "much", "NaN"] {
            let e = LikelihoodParams::parse(&[format!("range_tolerance={bad}")])
                .unwrap_err()
                .to_string();
            assert!(e.contains("range_tolerance"), "{e}");
        }
    }

    #[test]
    fn a_restored_stream_continues_with_the_same_scores() {
        let s = settings();
        let x: Vec<f64> = (0..2000)
            .map(|i| (i as f64 * 0.05).sin() + if i == 1500 { 4.0 } else { 0.0 })
            .collect();
        let whole = Likelihood::score(&s, &s, &x).unwrap();
        let mut first = LikelihoodStream::new(s);
        for &v in &x[..900] {
            first.update(v);
        }
        let mut second = LikelihoodStream::new(s);
        second.restore(first.snapshot().unwrap()).unwrap();
        let rest: Vec<f64> = x[900..]
            .iter()
            .map(|&v| second.update(v).unwrap())
            .collect();
        assert_eq!(
            rest.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            whole[900..].iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        let other = Likelihood { window: 7, ..s };
        let mut wrong = LikelihoodStream::new(other);
        assert!(wrong.restore(first.snapshot().unwrap()).is_err());
    }
}
