//! Synthetic labelled time series: a seeded base signal (trend, seasonalities, noise, random
//! walk, channels correlated through a shared factor) with injected anomalies of known kind,
//! place and severity — in the spirit of SynTSBench (systematic anomaly types at controlled
//! difficulty) and the synthetic corpora used to pre-train detectors such as TimeRCD.
//!
//! Every anomaly is a segment `[start, end)` of one channel; the labels are exactly the union of
//! the segments. The severity is the size of the change in units of the channel's standard
//! deviation before injection (for a variance change: the factor on the noise minus one; for a
//! frequency change: the relative change of the frequency).
//!
//! The output depends only on the [`Spec`] (the seed included): the same spec gives the same
//! series, bit for bit.

use anomex_core::{Error, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// The kinds of anomaly that can be injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One value far from every other (a spike up or down).
    Point,
    /// One value inside the normal range but wrong for its place in the cycle: the value half
    /// the main period away.
    Contextual,
    /// A segment whose shape is wrong: a smooth bump added over it.
    Collective,
    /// A segment shifted by a constant.
    LevelShift,
    /// A segment whose seasonal frequency changes (phase kept continuous).
    FrequencyChange,
    /// A segment with more noise.
    VarianceChange,
    /// A segment with an added ramp (the slope changes, then the level returns).
    TrendChange,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Point,
        Kind::Contextual,
        Kind::Collective,
        Kind::LevelShift,
        Kind::FrequencyChange,
        Kind::VarianceChange,
        Kind::TrendChange,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Point => "point",
            Kind::Contextual => "contextual",
            Kind::Collective => "collective",
            Kind::LevelShift => "level_shift",
            Kind::FrequencyChange => "frequency_change",
            Kind::VarianceChange => "variance_change",
            Kind::TrendChange => "trend_change",
        }
    }

    pub fn parse(name: &str) -> Result<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                Error::input(format!(
                    "unknown anomaly kind `{name}`; kinds: {}",
                    names.join(", ")
                ))
            })
    }

    /// Whether the anomaly is a single value.
    fn is_single(self) -> bool {
        matches!(self, Kind::Point | Kind::Contextual)
    }
}

/// One seasonal component.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Season {
    pub period: f64,
    pub amplitude: f64,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub length: usize,
    pub channels: usize,
    pub seed: u64,
    /// Change of the level over the whole series.
    pub trend: f64,
    pub seasons: Vec<Season>,
    /// Standard deviation of the white noise.
    pub noise: f64,
    /// Standard deviation of the random walk's steps (0: none).
    pub random_walk: f64,
    /// Share of each channel's noise that comes from a factor common to all channels (0..=1).
    pub correlation: f64,
    /// How many anomalies to inject.
    pub anomalies: usize,
    /// Which kinds to draw from (uniformly).
    pub kinds: Vec<Kind>,
    /// Range of the severity.
    pub severity: (f64, f64),
    /// Range of a segment anomaly's length.
    pub segment: (usize, usize),
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            length: 10_000,
            channels: 1,
            seed: 0,
            trend: 0.0,
            seasons: vec![Season {
                period: 100.0,
                amplitude: 1.0,
            }],
            noise: 0.1,
            random_walk: 0.0,
            correlation: 0.0,
            anomalies: 10,
            kinds: Kind::ALL.to_vec(),
            severity: (2.0, 5.0),
            segment: (20, 100),
        }
    }
}

/// An injected anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Injected {
    pub kind: Kind,
    pub channel: usize,
    pub start: usize,
    /// Exclusive.
    pub end: usize,
    pub severity: f64,
}

/// A generated series.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthetic {
    /// One vector per channel.
    pub channels: Vec<Vec<f64>>,
    pub labels: Vec<bool>,
    pub anomalies: Vec<Injected>,
}

fn check(spec: &Spec) -> Result<()> {
    let bad = |what: &str| Err(Error::input(format!("synthetic series: {what}")));
    if spec.length < 10 {
        return bad("the length must be at least 10");
    }
    if spec.channels == 0 {
        return bad("at least one channel is needed");
    }
    if !(0.0..=1.0).contains(&spec.correlation) {
        return bad("the correlation is a share between 0 and 1");
    }
    if !(spec.noise >= 0.0 && spec.random_walk >= 0.0 && spec.trend.is_finite()) {
        return bad("noise and random walk must be ≥ 0, the trend finite");
    }
    if spec
        .seasons
        .iter()
        .any(|s| !(s.period >= 2.0 && s.amplitude.is_finite()))
    {
        return bad("a season needs a period of at least 2 and a finite amplitude");
    }
    let (lo, hi) = spec.severity;
    if !(lo > 0.0 && hi >= lo && hi.is_finite()) {
        return bad("the severity range must be positive and ordered");
    }
    let (a, b) = spec.segment;
    if a == 0 || b < a {
        return bad("the segment length range must be positive and ordered");
    }
    if spec.anomalies > 0 && spec.kinds.is_empty() {
        return bad("no anomaly kind to draw from");
    }
    Ok(())
}

/// The base signal: per channel, the seasonal part (kept apart so that a frequency change can
/// redraw it) and everything else.
struct Base {
    seasonal: Vec<Vec<f64>>,
    rest: Vec<Vec<f64>>,
    /// Per channel, per season: the phase.
    phases: Vec<Vec<f64>>,
    noise: Vec<Vec<f64>>,
}

fn base(spec: &Spec, rng: &mut ChaCha8Rng) -> Result<Base> {
    let n = spec.length;
    let normal = Normal::new(0.0, 1.0).map_err(|e| Error::input(e.to_string()))?;
    let common: Vec<f64> = (0..n).map(|_| normal.sample(rng)).collect();
    let (shared, own) = (spec.correlation.sqrt(), (1.0 - spec.correlation).sqrt());
    let mut out = Base {
        seasonal: Vec::new(),
        rest: Vec::new(),
        phases: Vec::new(),
        noise: Vec::new(),
    };
    for _ in 0..spec.channels {
        let phases: Vec<f64> = spec
            .seasons
            .iter()
            .map(|_| rng.random::<f64>() * std::f64::consts::TAU)
            .collect();
        let seasonal = (0..n)
            .map(|t| {
                spec.seasons
                    .iter()
                    .zip(&phases)
                    .map(|(s, p)| {
                        s.amplitude * (std::f64::consts::TAU * t as f64 / s.period + p).sin()
                    })
                    .sum()
            })
            .collect();
        let noise: Vec<f64> = common
            .iter()
            .map(|c| spec.noise * (shared * c + own * normal.sample(rng)))
            .collect();
        let mut walk = 0.0;
        let rest = (0..n)
            .map(|t| {
                walk += spec.random_walk * normal.sample(rng);
                spec.trend * t as f64 / n as f64 + walk
            })
            .collect();
        out.seasonal.push(seasonal);
        out.rest.push(rest);
        out.phases.push(phases);
        out.noise.push(noise);
    }
    Ok(out)
}

fn std_dev(x: &[f64]) -> f64 {
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Non-overlapping places for the anomalies, at least `gap` apart, after the first tenth of the
/// series (left normal, e.g. as a training prefix).
fn places(spec: &Spec, rng: &mut ChaCha8Rng, kinds: &[Kind]) -> Result<Vec<(usize, usize)>> {
    let n = spec.length;
    let first = n / 10;
    let gap = spec.segment.0.max(10);
    let mut taken: Vec<(usize, usize)> = Vec::new();
    let mut out = Vec::new();
    for &kind in kinds {
        let len = if kind.is_single() {
            1
        } else {
            rng.random_range(spec.segment.0..=spec.segment.1)
        };
        let mut placed = None;
        for _ in 0..1000 {
            if first + len >= n {
                break;
            }
            let start = rng.random_range(first..=n - len);
            let (a, b) = (start.saturating_sub(gap), start + len + gap);
            if taken.iter().all(|&(s, e)| b <= s || e <= a) {
                placed = Some((start, start + len));
                break;
            }
        }
        let (start, end) = placed.ok_or_else(|| {
            Error::input(format!(
                "synthetic series: {} anomalies of up to {} points do not fit in {n} points",
                spec.anomalies, spec.segment.1
            ))
        })?;
        taken.push((start, end));
        out.push((start, end));
    }
    Ok(out)
}

/// Generates the series described by `spec`.
pub fn generate(spec: &Spec) -> Result<Synthetic> {
    check(spec)?;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut b = base(spec, &mut rng)?;
    let kinds: Vec<Kind> = (0..spec.anomalies)
        .map(|_| spec.kinds[rng.random_range(0..spec.kinds.len())])
        .collect();
    let spots = places(spec, &mut rng, &kinds)?;
    let sigma: Vec<f64> = (0..spec.channels)
        .map(|c| {
            let x: Vec<f64> = (0..spec.length)
                .map(|t| b.seasonal[c][t] + b.rest[c][t] + b.noise[c][t])
                .collect();
            std_dev(&x).max(1e-9)
        })
        .collect();
    let mut anomalies = Vec::new();
    // main period: the first season's, else 2 (contextual then swaps neighbours)
    let period = spec.seasons.first().map_or(2.0, |s| s.period);
    for (kind, (start, end)) in kinds.into_iter().zip(spots) {
        let c = rng.random_range(0..spec.channels);
        let (lo, hi) = spec.severity;
        let severity = lo + rng.random::<f64>() * (hi - lo);
        let s = sigma[c];
        let len = (end - start) as f64;
        let sign = if rng.random::<bool>() { 1.0 } else { -1.0 };
        match kind {
            Kind::Point => b.rest[c][start] += sign * severity * s,
            Kind::Contextual => {
                // the seasonal value half a period away, moved by severity·σ at most
                let half = (period / 2.0).round().max(1.0) as usize;
                let other = if start + half < spec.length {
                    start + half
                } else {
                    start - half
                };
                let wanted = b.seasonal[c][other] - b.seasonal[c][start];
                let step = wanted.clamp(-severity * s, severity * s);
                b.rest[c][start] += if step.abs() < 1e-12 {
                    sign * severity * s
                } else {
                    step
                };
            }
            Kind::Collective => {
                for t in start..end {
                    let x = (t - start) as f64 / len;
                    b.rest[c][t] += sign * severity * s * (std::f64::consts::PI * x).sin();
                }
            }
            Kind::LevelShift => b.rest[c][start..end]
                .iter_mut()
                .for_each(|v| *v += sign * severity * s),
            Kind::FrequencyChange => {
                let factor = 1.0 + severity / 5.0;
                for (k, season) in spec.seasons.iter().enumerate() {
                    let w = std::f64::consts::TAU / season.period;
                    let phase0 = w * start as f64 + b.phases[c][k];
                    for t in start..end {
                        let old = season.amplitude * (w * t as f64 + b.phases[c][k]).sin();
                        let new =
                            season.amplitude * (phase0 + w * factor * (t - start) as f64).sin();
                        b.seasonal[c][t] += new - old;
                    }
                }
                if spec.seasons.is_empty() {
                    // nothing periodic to change: a fast oscillation stands in
                    for t in start..end {
                        b.rest[c][t] +=
                            severity * s * (std::f64::consts::PI * (t - start) as f64 / 2.0).sin();
                    }
                }
            }
            Kind::VarianceChange => {
                let extra = severity * s.max(spec.noise);
                let normal = Normal::new(0.0, extra).map_err(|e| Error::input(e.to_string()))?;
                for t in start..end {
                    b.noise[c][t] += normal.sample(&mut rng);
                }
            }
            Kind::TrendChange => {
                for t in start..end {
                    b.rest[c][t] += sign * severity * s * (t - start + 1) as f64 / len;
                }
            }
        }
        anomalies.push(Injected {
            kind,
            channel: c,
            start,
            end,
            severity,
        });
    }
    let channels: Vec<Vec<f64>> = (0..spec.channels)
        .map(|c| {
            (0..spec.length)
                .map(|t| b.seasonal[c][t] + b.rest[c][t] + b.noise[c][t])
                .collect()
        })
        .collect();
    let mut labels = vec![false; spec.length];
    for a in &anomalies {
        labels[a.start..a.end].iter_mut().for_each(|l| *l = true);
    }
    anomalies.sort_by_key(|a| a.start);
    Ok(Synthetic {
        channels,
        labels,
        anomalies,
    })
}
