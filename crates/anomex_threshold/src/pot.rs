//! Peaks-over-threshold with a generalised Pareto tail: POT and streaming DSPOT (Siffer,
//! Fouque, Termier & Largouët, "Anomaly Detection in Streams with Extreme Value Theory",
//! KDD 2017).
//!
//! Scores above an initial high quantile `t` (`level`, 0.98 by default) are peaks; their
//! excesses `Y = X − t` are fitted by a generalised Pareto distribution (shape γ, scale σ), and the
//! threshold whose exceedance probability is `q` is
//! `z_q = t + σ/γ · ((q·n/N_t)^(−γ) − 1)` (`t − σ·ln(q·n/N_t)` when γ = 0).
//!
//! * [`Pot`] fits the tail once on the training scores by maximum likelihood, with Grimshaw's
//!   reduction to a one-dimensional root search (Grimshaw, Technometrics 1993): roots are
//!   bracketed on a grid and refined by bisection.
//! * [`DSpot`] streams: each score is compared with `z_q` after removing a drift (the mean of
//!   the last `depth` normal scores); normal peaks join the tail, which is refitted by the
//!   method of moments from running sums, so an update costs O(1) and the rate does not decay
//!   as peaks accumulate (refitting the maximum-likelihood fit on every peak, as the paper's
//!   code does, costs O(N_t) per peak).

use anomex_core::{stats, Error, Result, Threshold};
use std::collections::VecDeque;

/// Generalised Pareto parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gpd {
    pub gamma: f64,
    pub sigma: f64,
}

impl Gpd {
    fn log_likelihood(&self, y: &[f64]) -> f64 {
        let n = y.len() as f64;
        if self.sigma <= 0.0 {
            return f64::NEG_INFINITY;
        }
        if self.gamma.abs() < 1e-12 {
            return -n * self.sigma.ln() - y.iter().sum::<f64>() / self.sigma;
        }
        let mut acc = 0.0;
        for &v in y {
            let z = 1.0 + self.gamma * v / self.sigma;
            if z <= 0.0 {
                return f64::NEG_INFINITY;
            }
            acc += z.ln();
        }
        -n * self.sigma.ln() - (1.0 + 1.0 / self.gamma) * acc
    }

    /// Method-of-moments fit from the count, sum and sum of squares of the excesses.
    pub fn from_moments(n: f64, sum: f64, sum_sq: f64) -> Gpd {
        let mean = sum / n;
        let var = (sum_sq / n - mean * mean).max(0.0);
        if var <= 1e-300 || n < 2.0 {
            return Gpd {
                gamma: 0.0,
                sigma: mean.max(1e-300),
            };
        }
        let r = mean * mean / var;
        Gpd {
            gamma: 0.5 * (1.0 - r),
            sigma: 0.5 * mean * (r + 1.0),
        }
    }

    /// Maximum-likelihood fit by Grimshaw's method; falls back to the exponential fit
    /// (γ = 0, σ = mean) when it is the most likely candidate.
    pub fn grimshaw(y: &[f64]) -> Gpd {
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let (ymin, ymax) = y
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
        let u = |th: f64| y.iter().map(|&v| 1.0 / (1.0 + th * v)).sum::<f64>() / n;
        let v = |th: f64| 1.0 + y.iter().map(|&v| (1.0 + th * v).ln()).sum::<f64>() / n;
        let w = |th: f64| u(th) * v(th) - 1.0;
        let mut candidates = vec![Gpd {
            gamma: 0.0,
            sigma: mean,
        }];
        // Roots of w(θ) = u(θ)·v(θ) − 1 lie in (−1/Y_max, 0) or (0, 2(Ȳ − Y_min)/Y_min²)
        // (Grimshaw 1993). They are bracketed on grids that are log-spaced in |θ| (roots can sit
        // many decades from the bounds), then refined by bisection.
        const GRID: usize = 200;
        let mut ranges = Vec::new();
        let tiny = 1e-8 / mean.max(1e-300);
        if ymax > 0.0 {
            ranges.push((-1.0 / ymax * (1.0 - 1e-9), -tiny));
        }
        if ymin >= 0.0 && mean > ymin {
            let upper = (2.0 * (mean - ymin) / (ymin * ymin)).min(1e8 / mean);
            ranges.push((tiny, upper.max(tiny * 10.0)));
        }
        for (from, to) in ranges {
            // geometric steps in |θ| from `from` to `to` (same sign)
            let ratio = (to / from).abs().powf(1.0 / GRID as f64);
            let mut prev = (from, w(from));
            let mut x = from;
            for _ in 0..GRID {
                x *= ratio;
                let cur = (x, w(x));
                if prev.1.is_finite() && cur.1.is_finite() && prev.1.signum() != cur.1.signum() {
                    let (mut a, mut b, fa) = (prev.0, cur.0, prev.1);
                    for _ in 0..100 {
                        let mid = 0.5 * (a + b);
                        if w(mid).signum() == fa.signum() {
                            a = mid;
                        } else {
                            b = mid;
                        }
                    }
                    let th = 0.5 * (a + b);
                    let gamma = v(th) - 1.0;
                    candidates.push(Gpd {
                        gamma,
                        sigma: gamma / th,
                    });
                }
                prev = cur;
            }
        }
        candidates
            .into_iter()
            .filter(|g| g.sigma > 0.0 && g.sigma.is_finite() && g.gamma.is_finite())
            .map(|g| (g.log_likelihood(y), g))
            .fold(None, |best: Option<(f64, Gpd)>, (ll, g)| match best {
                Some((bl, _)) if bl >= ll => best,
                _ => Some((ll, g)),
            })
            .map_or(
                Gpd {
                    gamma: 0.0,
                    sigma: mean,
                },
                |(_, g)| g,
            )
    }

    /// The level exceeded with probability `q` given `n` observations and `peaks` peaks over `t`.
    pub fn quantile(&self, t: f64, q: f64, n: f64, peaks: f64) -> f64 {
        let r = q * n / peaks;
        if self.gamma.abs() < 1e-12 {
            t - self.sigma * r.ln()
        } else {
            t + self.sigma / self.gamma * (r.powf(-self.gamma) - 1.0)
        }
    }
}

fn check_q(q: f64) -> Result<()> {
    if !(q > 0.0 && q < 1.0) {
        return Err(Error::param("q", format!("{q} is outside (0, 1)")));
    }
    Ok(())
}

fn check_level(level: f64) -> Result<()> {
    if !(level > 0.0 && level < 1.0) {
        return Err(Error::param("level", format!("{level} is outside (0, 1)")));
    }
    Ok(())
}

/// Initial threshold, excesses and the fitted tail on `x`.
fn calibrate(x: &[f64], level: f64, q: f64) -> Result<(f64, Vec<f64>, Gpd, f64)> {
    if x.len() < 10 {
        return Err(Error::input(format!(
            "POT needs at least 10 calibration scores, got {}",
            x.len()
        )));
    }
    let t = stats::quantile(x, level);
    let peaks: Vec<f64> = x.iter().filter(|&&v| v > t).map(|&v| v - t).collect();
    if peaks.is_empty() {
        // no tail above the initial level (e.g. constant scores): the threshold is the level
        return Ok((
            t,
            peaks,
            Gpd {
                gamma: 0.0,
                sigma: 0.0,
            },
            t,
        ));
    }
    let gpd = Gpd::grimshaw(&peaks);
    let z = gpd.quantile(t, q, x.len() as f64, peaks.len() as f64);
    Ok((t, peaks, gpd, z.max(t)))
}

/// Static peaks-over-threshold: the threshold is fitted once on the training scores.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Pot {
    q: f64,
    level: f64,
    threshold: Option<f64>,
}

impl Pot {
    pub fn new(q: f64, level: f64) -> Result<Self> {
        check_q(q)?;
        check_level(level)?;
        Ok(Pot {
            q,
            level,
            threshold: None,
        })
    }
}

impl Threshold for Pot {
    snapshot_by_serde!();
    fn fit(&mut self, train: &[f64]) -> Result<()> {
        self.threshold = Some(calibrate(train, self.level, self.q)?.3);
        Ok(())
    }
    fn update(&mut self, score: f64) -> Result<(f64, bool)> {
        let t = self
            .threshold
            .ok_or_else(|| Error::Unsupported("the POT threshold is not fitted".into()))?;
        Ok((t, score > t))
    }
}

/// Streaming DSPOT: drift-aware, self-updating POT threshold (see the module docs).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DSpot {
    q: f64,
    level: f64,
    depth: usize,
    state: Option<DSpotState>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct DSpotState {
    t: f64,
    z: f64,
    n: f64,
    peaks: f64,
    sum: f64,
    sum_sq: f64,
    recent: VecDeque<f64>,
    recent_sum: f64,
}

impl DSpot {
    pub fn new(q: f64, level: f64, depth: usize) -> Result<Self> {
        check_q(q)?;
        check_level(level)?;
        if depth == 0 {
            return Err(Error::param("depth", "must be at least 1"));
        }
        Ok(DSpot {
            q,
            level,
            depth,
            state: None,
        })
    }
}

impl DSpotState {
    fn drift(&self) -> f64 {
        self.recent_sum / self.recent.len() as f64
    }
    fn push_normal(&mut self, x: f64, depth: usize) {
        self.recent.push_back(x);
        self.recent_sum += x;
        if self.recent.len() > depth {
            if let Some(old) = self.recent.pop_front() {
                self.recent_sum -= old;
            }
        }
    }
    fn refit(&mut self, q: f64) {
        let gpd = Gpd::from_moments(self.peaks, self.sum, self.sum_sq);
        self.z = gpd.quantile(self.t, q, self.n, self.peaks).max(self.t);
    }
}

impl Threshold for DSpot {
    snapshot_by_serde!();
    fn fit(&mut self, train: &[f64]) -> Result<()> {
        let d = self.depth;
        if train.len() < d + 10 {
            return Err(Error::input(format!(
                "DSPOT with depth {d} needs at least {} calibration scores, got {}",
                d + 10,
                train.len()
            )));
        }
        let mut recent: VecDeque<f64> = train[..d].iter().copied().collect();
        let mut recent_sum: f64 = recent.iter().sum();
        let mut detrended = Vec::with_capacity(train.len() - d);
        for &x in &train[d..] {
            detrended.push(x - recent_sum / d as f64);
            recent.push_back(x);
            recent_sum += x;
            if let Some(old) = recent.pop_front() {
                recent_sum -= old;
            }
        }
        let (t, peaks, _, _) = calibrate(&detrended, self.level, self.q)?;
        let mut st = DSpotState {
            t,
            z: t,
            n: detrended.len() as f64,
            peaks: peaks.len() as f64,
            sum: peaks.iter().sum(),
            sum_sq: peaks.iter().map(|v| v * v).sum(),
            recent,
            recent_sum,
        };
        if st.peaks > 0.0 {
            st.refit(self.q);
        }
        self.state = Some(st);
        Ok(())
    }

    fn update(&mut self, score: f64) -> Result<(f64, bool)> {
        let (q, depth) = (self.q, self.depth);
        let st = self
            .state
            .as_mut()
            .ok_or_else(|| Error::Unsupported("the DSPOT threshold is not fitted".into()))?;
        let drift = st.drift();
        let x = score - drift;
        let threshold = st.z + drift;
        if x > st.z {
            return Ok((threshold, true));
        }
        st.n += 1.0;
        if x > st.t {
            let y = x - st.t;
            st.peaks += 1.0;
            st.sum += y;
            st.sum_sq += y * y;
            st.refit(q);
        }
        st.push_normal(score, depth);
        Ok((threshold, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic exponential sample by inversion of a low-discrepancy sequence.
    fn exp_sample(n: usize, scale: f64) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let u = ((i as f64 + 0.5) * 0.618_033_988_749_895).fract();
                -scale * (1.0 - u).ln()
            })
            .collect()
    }

    #[test]
    fn grimshaw_recovers_an_exponential_tail() {
        let y = exp_sample(5000, 2.0);
        let g = Gpd::grimshaw(&y);
        assert!(g.gamma.abs() < 0.05, "{g:?}");
        assert!((g.sigma - 2.0).abs() < 0.1, "{g:?}");
    }

    #[test]
    fn grimshaw_recovers_a_heavy_tail() {
        // GPD(γ = 0.3, σ = 1) by inversion
        let y: Vec<f64> = (0..5000)
            .map(|i| {
                let u = ((i as f64 + 0.5) * 0.618_033_988_749_895).fract();
                ((1.0 - u).powf(-0.3) - 1.0) / 0.3
            })
            .collect();
        let g = Gpd::grimshaw(&y);
        assert!((g.gamma - 0.3).abs() < 0.05, "{g:?}");
        assert!((g.sigma - 1.0).abs() < 0.1, "{g:?}");
        let m = Gpd::from_moments(5000.0, y.iter().sum(), y.iter().map(|v| v * v).sum());
        assert!((m.gamma - 0.3).abs() < 0.1, "{m:?}");
    }

    #[test]
    fn pot_threshold_matches_the_exponential_quantile() {
        // for Exp(1), P(X > z) = q ⇔ z = −ln q
        let x = exp_sample(20_000, 1.0);
        let mut pot = Pot::new(1e-3, 0.98).unwrap();
        pot.fit(&x).unwrap();
        let (z, _) = pot.update(0.0).unwrap();
        assert!((z - (1e-3f64).ln().abs()).abs() < 0.2, "z = {z}");
    }

    #[test]
    fn dspot_follows_a_drift_that_static_pot_does_not() {
        let base = exp_sample(6000, 1.0);
        let drifting: Vec<f64> = base
            .iter()
            .enumerate()
            .map(|(i, v)| v + 0.02 * i.saturating_sub(1000) as f64)
            .collect();
        let mut d = DSpot::new(1e-3, 0.98, 20).unwrap();
        d.fit(&drifting[..1000]).unwrap();
        let dec = d.decide(&drifting[1000..]).unwrap();
        let dspot_alarms = dec.labels.iter().filter(|&&l| l).count();
        let mut p = Pot::new(1e-3, 0.98).unwrap();
        p.fit(&drifting[..1000]).unwrap();
        let pot_alarms = p
            .decide(&drifting[1000..])
            .unwrap()
            .labels
            .iter()
            .filter(|&&l| l)
            .count();
        assert!(
            dspot_alarms < 50,
            "{dspot_alarms} DSPOT alarms on a drifting normal stream"
        );
        assert!(pot_alarms > 4000, "{pot_alarms} static POT alarms");
        // an isolated spike on top of the drift is still caught
        let spike = drifting[5999] + 30.0;
        assert!(d.update(spike).unwrap().1);
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert!(Pot::new(0.0, 0.98).is_err());
        assert!(Pot::new(1e-3, 1.0).is_err());
        assert!(DSpot::new(1e-3, 0.98, 0).is_err());
        let mut p = Pot::new(1e-3, 0.98).unwrap();
        assert!(p.update(1.0).is_err());
        assert!(p.fit(&[1.0; 5]).is_err());
    }
}
