//! Causal rolling detectors: z-score, median/MAD and EWMA.
//!
//! Each scores point `t` against statistics of the points before it, so the score of `t` uses
//! points `≤ t` only: the batch score is the streaming score run over the series (the batch path
//! calls the streaming update, so the two agree exactly). Points inside the warm-up score 0 in
//! batch and `None` when streaming. Cost: O(1) per point for z-score and EWMA, O(w) for MAD.

use crate::period::find_length;
use anomex_core::channelwise::{check_range, ChannelStream, SeriesKernel, StreamFn};
use anomex_core::model_file::{restore_if_same, state_to};
use anomex_core::{About, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Deviations are divided by `max(spread, SPREAD_FLOOR · (1 + |centre|))`, so a constant window
/// gives finite (large) scores instead of infinities.
const SPREAD_FLOOR: f64 = 1e-9;

pub(crate) fn deviation(x: f64, centre: f64, spread: f64) -> f64 {
    (x - centre).abs() / spread.max(SPREAD_FLOOR * (1.0 + centre.abs()))
}

/// Restores a window stream from a snapshot, which must be of the same window.
fn restore_same_window<T: serde::de::DeserializeOwned>(
    stream: &mut T,
    snapshot: serde_json::Value,
    window: impl Fn(&T) -> usize,
) -> Result<()> {
    restore_if_same(
        stream,
        snapshot,
        |a, b| window(a) == window(b),
        |theirs, ours| {
            format!(
                "a stream snapshot of window {} for a stream of window {}",
                window(theirs),
                window(ours)
            )
        },
    )
}

fn run_stream(mut stream: Box<dyn ChannelStream>, x: &[f64]) -> Vec<f64> {
    x.iter().map(|&v| stream.update(v).unwrap_or(0.0)).collect()
}

/// The window of a rolling kernel: given, or found from the training series.
fn resolve_window(given: Option<usize>, train: &[f64]) -> Result<usize> {
    let w = given.unwrap_or_else(|| find_length(train));
    if w < 2 {
        return Err(Error::param("window", format!("{w} is shorter than 2")));
    }
    Ok(w)
}

/// Learned state of the rolling kernels: the resolved window.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct WindowState {
    pub window: usize,
}

anomex_core::params! {
    /// Parameters of the rolling detectors. A period-long window (the automatic rule) would put
    /// a whole cycle of a seasonal signal into the baseline, so they default to a fixed short
    /// window and take `auto` on request.
    pub struct RollingParams {
        /// points in the baseline window; auto = TSB-AD's autocorrelation rule
        pub window: Option<usize> = Some(50), in 2..=crate::MAX_WINDOW;
    }
}

/// A statistic computed over the previous `window` points; [`Rolling`] turns it into a kernel.
pub trait WindowStatistic: std::fmt::Debug + Clone + Send + Sync + 'static {
    /// Registry name, Python class name, summary of the detector.
    const ABOUT: About;
    /// A fresh causal scorer for the given window.
    fn stream(window: usize) -> Box<dyn ChannelStream>;
}

/// A rolling-window detector: the window is given or found from the training series, and the
/// batch score is the streaming score.
#[derive(Debug, Clone)]
pub struct Rolling<S> {
    window: Option<usize>,
    statistic: std::marker::PhantomData<S>,
}

impl<S: WindowStatistic> SeriesKernel for Rolling<S> {
    type Params = RollingParams;
    type State = WindowState;
    const ABOUT: About = S::ABOUT;
    const STREAM: Option<StreamFn<Self>> = Some(|_, state| S::stream(state.window));
    fn new(p: &RollingParams) -> Result<Self> {
        Ok(Rolling {
            window: p.window,
            statistic: std::marker::PhantomData,
        })
    }
    fn fit(&self, train: &[f64]) -> Result<WindowState> {
        Ok(WindowState {
            window: resolve_window(self.window, train)?,
        })
    }
    fn score(&self, state: &WindowState, x: &[f64]) -> Result<Vec<f64>> {
        Ok(run_stream(S::stream(state.window), x))
    }
    fn check(&self, state: &WindowState) -> Result<()> {
        check_range(
            S::ABOUT.name,
            "window",
            state.window,
            2..=crate::MAX_WINDOW as usize,
        )
    }
}

/// Rolling z-score: `|x_t − mean| / std` over the previous `window` points.
///
/// The classic Shewhart control-chart statistic on a moving window (e.g. Montgomery,
/// *Introduction to Statistical Quality Control*).
#[derive(Debug, Clone)]
pub struct ZScore;

/// The rolling z-score detector.
pub type RollingZScore = Rolling<ZScore>;

impl WindowStatistic for ZScore {
    const ABOUT: About = About {
        name: "zscore",
        class: "ZScore",
        summary: "rolling z-score against the previous `window` points (causal)",
    };
    fn stream(window: usize) -> Box<dyn ChannelStream> {
        Box::new(ZScoreStream {
            values: RunningWindow::new(window),
        })
    }
}

/// The last `window` values with their running sum and sum of squares.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunningWindow {
    window: usize,
    buf: VecDeque<f64>,
    /// Values are accumulated relative to the first one seen, which keeps the running sums
    /// small and the variance free of catastrophic cancellation.
    shift: Option<f64>,
    sum: f64,
    sum_sq: f64,
}

impl RunningWindow {
    pub(crate) fn new(window: usize) -> Self {
        RunningWindow {
            window,
            buf: VecDeque::with_capacity(window + 1),
            shift: None,
            sum: 0.0,
            sum_sq: 0.0,
        }
    }

    /// Values held (at most the window).
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Mean and (population) standard deviation of the values held; `None` when empty.
    pub(crate) fn mean_std(&self) -> Option<(f64, f64)> {
        let shift = self.shift.filter(|_| !self.buf.is_empty())?;
        let n = self.buf.len() as f64;
        let mean = self.sum / n;
        let var = (self.sum_sq / n - mean * mean).max(0.0);
        Some((mean + shift, var.sqrt()))
    }

    /// Adds a value, dropping the oldest beyond the window.
    pub(crate) fn push(&mut self, x: f64) {
        let v = x - *self.shift.get_or_insert(x);
        self.buf.push_back(v);
        self.sum += v;
        self.sum_sq += v * v;
        if self.buf.len() > self.window {
            if let Some(old) = self.buf.pop_front() {
                self.sum -= old;
                self.sum_sq -= old * old;
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
struct ZScoreStream {
    #[serde(flatten)]
    values: RunningWindow,
}

impl ChannelStream for ZScoreStream {
    fn snapshot(&self) -> Result<serde_json::Value> {
        state_to(self)
    }
    fn restore(&mut self, snapshot: serde_json::Value) -> Result<()> {
        restore_same_window(self, snapshot, |s| s.values.window)
    }
    fn update(&mut self, x: f64) -> Option<f64> {
        let out = (self.values.len() == self.values.window)
            .then(|| self.values.mean_std())
            .flatten()
            .map(|(mean, std)| deviation(x, mean, std));
        self.values.push(x);
        out
    }
}

/// Rolling robust z-score: `|x_t − median| / (1.4826 · MAD)` over the previous `window` points
/// (Hampel filter statistic; Leys et al., "Detecting outliers: Do not use standard deviation
/// around the mean, use absolute deviation around the median", JESP 2013).
#[derive(Debug, Clone)]
pub struct MedianMad;

/// The rolling median/MAD detector.
pub type RollingMad = Rolling<MedianMad>;

impl WindowStatistic for MedianMad {
    const ABOUT: About = About {
        name: "mad",
        class: "MAD",
        summary: "rolling robust z-score, median and MAD of the previous `window` points (causal)",
    };
    fn stream(window: usize) -> Box<dyn ChannelStream> {
        Box::new(MadStream {
            window,
            order: VecDeque::with_capacity(window + 1),
            sorted: Vec::with_capacity(window + 1),
        })
    }
}

#[derive(Serialize, Deserialize)]
struct MadStream {
    window: usize,
    order: VecDeque<f64>,
    sorted: Vec<f64>,
}

impl MadStream {
    fn median(&self) -> f64 {
        let n = self.sorted.len();
        if n % 2 == 1 {
            self.sorted[n / 2]
        } else {
            (self.sorted[n / 2 - 1] + self.sorted[n / 2]) / 2.0
        }
    }

    /// The median absolute deviation from `m`, by walking outwards from the median: the
    /// deviations to the left and right of `m` are each sorted, so the k-th smallest is a merge.
    fn mad(&self, m: f64) -> f64 {
        let s = &self.sorted;
        let n = s.len();
        let split = s.partition_point(|&v| v < m);
        let (mut lo, mut hi) = (split, split); // left candidates s[..lo], right s[hi..]
        let mut kth = |k: usize| {
            let mut last = 0.0;
            for _ in 0..k {
                let left = (lo > 0).then(|| m - s[lo - 1]);
                let right = (hi < n).then(|| s[hi] - m);
                last = match (left, right) {
                    (Some(l), Some(r)) if l <= r => {
                        lo -= 1;
                        l
                    }
                    (Some(l), None) => {
                        lo -= 1;
                        l
                    }
                    (_, Some(r)) => {
                        hi += 1;
                        r
                    }
                    (None, None) => last,
                };
            }
            last
        };
        if n % 2 == 1 {
            kth(n / 2 + 1)
        } else {
            let a = kth(n / 2);
            let b = kth(1);
            (a + b) / 2.0
        }
    }
}

impl ChannelStream for MadStream {
    fn snapshot(&self) -> Result<serde_json::Value> {
        state_to(self)
    }
    fn restore(&mut self, snapshot: serde_json::Value) -> Result<()> {
        restore_same_window(self, snapshot, |s| s.window)
    }
    fn update(&mut self, x: f64) -> Option<f64> {
        let out = (self.order.len() == self.window).then(|| {
            let m = self.median();
            deviation(x, m, 1.4826 * self.mad(m))
        });
        let at = self.sorted.partition_point(|&v| v < x);
        self.sorted.insert(at, x);
        self.order.push_back(x);
        if self.order.len() > self.window {
            if let Some(old) = self.order.pop_front() {
                let at = self.sorted.partition_point(|&v| v < old);
                self.sorted.remove(at);
            }
        }
        out
    }
}

/// EWMA control statistic: `|x_t − μ_{t−1}| / σ_{t−1}` with exponentially weighted mean and
/// variance (Roberts, "Control chart tests based on geometric moving averages", Technometrics
/// 1959; the variance recursion of Finch, "Incremental calculation of weighted mean and
/// variance", 2009). The first `ceil(1/alpha)` points are the warm-up.
#[derive(Debug, Clone)]
pub struct Ewma {
    alpha: f64,
}

anomex_core::params! {
    /// Parameters of [`Ewma`].
    pub struct EwmaParams {
        /// smoothing factor; warm-up is ceil(1/alpha) points
        pub alpha: f64 = 0.05, in 1e-6..=1.0;
    }
}

impl SeriesKernel for Ewma {
    type Params = EwmaParams;
    type State = ();
    const ABOUT: About = About {
        name: "ewma",
        class: "EWMA",
        summary:
            "deviation from an exponentially weighted mean, in EW standard deviations (causal)",
    };
    const STREAM: Option<StreamFn<Self>> = Some(Ewma::stream_for);
    fn new(p: &EwmaParams) -> Result<Self> {
        Ok(Ewma { alpha: p.alpha })
    }
    fn fit(&self, _train: &[f64]) -> Result<()> {
        Ok(())
    }
    fn score(&self, state: &(), x: &[f64]) -> Result<Vec<f64>> {
        Ok(run_stream(self.stream_for(state), x))
    }
    fn check(&self, _: &()) -> Result<()> {
        Ok(()) // nothing learned: the parameters, checked on load, are the model
    }
}

impl Ewma {
    fn stream_for(&self, _state: &()) -> Box<dyn ChannelStream> {
        Box::new(EwmaStream {
            alpha: self.alpha,
            warmup: (1.0 / self.alpha).ceil() as usize,
            seen: 0,
            mean: 0.0,
            var: 0.0,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct EwmaStream {
    alpha: f64,
    warmup: usize,
    seen: usize,
    mean: f64,
    var: f64,
}

impl ChannelStream for EwmaStream {
    fn snapshot(&self) -> Result<serde_json::Value> {
        state_to(self)
    }
    fn restore(&mut self, snapshot: serde_json::Value) -> Result<()> {
        restore_if_same(
            self,
            snapshot,
            |a, b| a.alpha.to_bits() == b.alpha.to_bits(),
            |theirs, ours| {
                format!(
                    "an EWMA snapshot with alpha {} for a stream with alpha {}",
                    theirs.alpha, ours.alpha
                )
            },
        )
    }
    fn update(&mut self, x: f64) -> Option<f64> {
        let out = (self.seen >= self.warmup).then(|| deviation(x, self.mean, self.var.sqrt()));
        if self.seen == 0 {
            self.mean = x;
        } else {
            let d = x - self.mean;
            self.mean += self.alpha * d;
            self.var = (1.0 - self.alpha) * (self.var + self.alpha * d * d);
        }
        self.seen += 1;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_mad_score(window: &[f64], x: f64) -> f64 {
        let (m, mad) = anomex_core::stats::median_mad(window);
        deviation(x, m, 1.4826 * mad)
    }

    #[test]
    fn mad_stream_matches_naive() {
        let x: Vec<f64> = (0..300)
            .map(|i| ((i * 7919) % 101) as f64 * 0.37 + (i % 13) as f64)
            .collect();
        for w in [2, 3, 4, 7, 10] {
            let s = run_stream(MedianMad::stream(w), &x);
            for t in w..x.len() {
                let e = naive_mad_score(&x[t - w..t], x[t]);
                assert!(
                    (s[t] - e).abs() <= 1e-9 * e.max(1.0),
                    "w={w} t={t} {} {e}",
                    s[t]
                );
            }
        }
    }

    #[test]
    fn zscore_matches_naive() {
        let x: Vec<f64> = (0..200).map(|i| 1e6 + ((i * 31) % 17) as f64).collect();
        let w = 9;
        let s = run_stream(ZScore::stream(w), &x);
        for t in w..x.len() {
            let win = &x[t - w..t];
            let mean = win.iter().sum::<f64>() / w as f64;
            let sd = anomex_core::stats::std_dev(win);
            let e = (x[t] - mean).abs() / sd;
            assert!((s[t] - e).abs() < 1e-6 * e.max(1.0), "t={t} {} {e}", s[t]);
        }
        assert!(s[..w].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn constant_window_gives_finite_scores() {
        let mut x = vec![5.0; 50];
        x[40] = 6.0;
        let s = run_stream(ZScore::stream(10), &x);
        assert!(s.iter().all(|v| v.is_finite()));
        assert!(s[40] > 1e6);
        assert_eq!(s[39], 0.0);
    }
}
