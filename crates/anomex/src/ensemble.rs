//! `ensemble`: several registered detectors fitted on the same rows, each member's scores put on
//! one scale, and averaged.
//!
//! Scale: each member's scores are standardised by the median and the median absolute deviation
//! (× 1.4826, a standard deviation for normal data) of its scores on the training rows, so a
//! member whose scores spread widely does not drown the others and a score of 3 means the same
//! "three robust deviations above typical" for every member (Aggarwal & Sathe, "Theoretical
//! foundations and algorithms for outlier ensembles", SIGKDD Explorations 2015: standardise, then
//! average). Members are written `name` or `name:key=value;key=value`, joined by `+`. Cost: the
//! sum of the members' costs.
//!
//! Alerts: with `alerts=DETECTOR` (e.g. `artime`), a detector that raises sparse, calibrated
//! alerts (positive scores, 0 elsewhere) is fitted too, and the output becomes one score in
//! [0, 1] for both uses of a score: an alerted row scores `0.5 + 0.4 · alert` (above 0.5, so one
//! threshold over many series picks the alerts, as NAB's scoreboard does), every other row
//! `0.5 · σ(mean)` with `σ(z) = ½ + atan(z / 3) / π` (below 0.5, in the members' order, so a
//! ranking of all rows — VUS, AUC — is the members' one after the alerts).
//!
//! Peaks: with `peaks=DETECTOR` (e.g. `likelihood`), a detector of calibrated scores in [0, 1]
//! is fitted too; a row where its score reaches `peak_level` and beats each of the
//! `peak_suppress` rows before it (a share of the scored rows, or a count: one event raises one
//! peak, not a run of them; the first rows, without that many before them, raise none) scores
//! `0.9 + 0.1 · score`, above every alert, so that a threshold chosen for the alerts always
//! keeps these peaks. On NAB, with the likelihood's peaks, this lifts
//! ARTime's corpus score from 74.85 to 75.2 (`docs/default-detector.md`; the level 0.8 chosen on
//! the tuning half). Cost of the peak rule: O(n) (a monotone queue).

use crate::{
    model_file::{state_from, state_to},
    Detector, Entry, Error, Fit, FittedDetector, Frame, Learning, ParamSet, Params, Result, Scorer,
    Scores,
};
use anomex_core::model_file::Stored;
use anomex_core::DataKind;
use serde::{Deserialize, Serialize};

/// The members when none are named, chosen on the NAB suite (`docs/bench.md`).
pub const DEFAULT_MEMBERS: &str = "sub_knn+sub_pca:window=100;score=tsb_ad";

anomex_core::params! {
    /// Parameters of the ensemble.
    pub struct EnsembleParams {
        /// member detectors joined by +, each NAME or NAME:key=value;key=value
        pub members: String = DEFAULT_MEMBERS.into();
        /// a detector of sparse calibrated alerts (NAME or NAME:key=value;…) ranked above every
        /// other row, scores then in [0, 1]; none = plain mean
        pub alerts: String = "none".into();
        /// a detector of calibrated scores in [0, 1] (NAME or NAME:key=value;…) whose peaks at or
        /// above peak_level rank above the alerts, scores then in [0, 1]; none = no peaks
        pub peaks: String = "none".into();
        /// the peaks detector's score a peak must reach
        pub peak_level: f64 = 0.8, in 0.0..=1.0;
        /// rows before it a peak must beat: a share of the scored rows (< 1) or a count
        pub peak_suppress: f64 = 0.05, in 1e-9..=1e9;
    }
    validate |p| {
        parse_members(p)?;
        parse_helper(p, Role::Alerts)?;
        parse_helper(p, Role::Peaks)?;
        Ok(())
    }
}

/// The ensemble's registry entry.
pub fn entry() -> Entry {
    Entry {
        name: "ensemble",
        class: "Ensemble",
        summary:
            "mean of robustly standardised scores of several detectors (Aggarwal & Sathe, 2015)",
        learning: Learning::SemiSupervised,
        data: DataKind::Series,
        causal: false,
        explains: false,
        params: EnsembleParams::specs(),
        build,
        load,
    }
}

/// The two helper detectors an ensemble may have besides its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Alerts,
    Peaks,
}

impl Role {
    fn param(self) -> &'static str {
        match self {
            Role::Alerts => "alerts",
            Role::Peaks => "peaks",
        }
    }
    fn spec(self, p: &EnsembleParams) -> &str {
        match self {
            Role::Alerts => &p.alerts,
            Role::Peaks => &p.peaks,
        }
    }
}

#[derive(Debug)]
struct Ensemble {
    params: Params,
    typed: EnsembleParams,
    members: Vec<(String, Box<dyn Detector>)>,
    alerts: Option<Box<dyn Detector>>,
    peaks: Option<Box<dyn Detector>>,
}

/// Median and scaled MAD of the training scores (a zero spread becomes 1).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Scale {
    median: f64,
    spread: f64,
}

impl Scale {
    fn of(scores: &[f64]) -> Self {
        let median = anomex_core::stats::median(scores);
        let deviations: Vec<f64> = scores.iter().map(|s| (s - median).abs()).collect();
        let spread = 1.4826 * anomex_core::stats::median(&deviations);
        Scale {
            median,
            spread: if spread > 0.0 && spread.is_finite() {
                spread
            } else {
                1.0
            },
        }
    }
}

#[derive(Debug)]
struct FittedEnsemble {
    params: Params,
    typed: EnsembleParams,
    members: Members,
    alerts: Option<Box<dyn FittedDetector>>,
    peaks: Option<Box<dyn FittedDetector>>,
    columns: usize,
}

/// `name` or `name:key=value;key=value`: a name with optional parameters.
fn parse_spec(m: &str) -> (String, Vec<String>) {
    match m.split_once(':') {
        Some((name, pairs)) => (
            name.trim().to_string(),
            pairs
                .split(';')
                .filter(|p| !p.trim().is_empty())
                .map(|p| p.trim().to_string())
                .collect(),
        ),
        None => (m.to_string(), Vec::new()),
    }
}

/// The detector named for `role`, if one is named.
fn parse_helper(params: &EnsembleParams, role: Role) -> Result<Option<(String, Vec<String>)>> {
    match role.spec(params).trim() {
        "none" | "" => Ok(None),
        "ensemble" => Err(Error::param(
            role.param(),
            format!("an ensemble cannot raise an ensemble's {}", role.param()),
        )),
        spec => Ok(Some(parse_spec(spec))),
    }
}

/// Members from `a+b:key=value;key=value+c`: names with optional parameters.
fn parse_members(params: &EnsembleParams) -> Result<Vec<(String, Vec<String>)>> {
    let text = &params.members;
    let members: Vec<(String, Vec<String>)> = text
        .split('+')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_spec)
        .collect();
    if members.is_empty() {
        return Err(Error::param("members", "name at least one detector"));
    }
    if members.iter().any(|(n, _)| n == "ensemble") {
        return Err(Error::param(
            "members",
            "an ensemble cannot contain an ensemble",
        ));
    }
    Ok(members)
}

fn build(params: &Params) -> Result<Box<dyn Detector>> {
    let typed = EnsembleParams::from_params(params)?;
    let registry = crate::base_registry();
    let members = parse_members(&typed)?
        .into_iter()
        .map(|(n, pairs)| {
            let d = registry.get(&n)?.create(&pairs)?;
            Ok((n, d))
        })
        .collect::<Result<_>>()?;
    let helper = |role| {
        parse_helper(&typed, role)?
            .map(|(n, pairs)| registry.get(&n)?.create(&pairs))
            .transpose()
    };
    Ok(Box::new(Ensemble {
        params: params.clone(),
        members,
        alerts: helper(Role::Alerts)?,
        peaks: helper(Role::Peaks)?,
        typed,
    }))
}

/// Fitted members with their scales.
type Members = Vec<(Box<dyn FittedDetector>, Scale)>;

impl Ensemble {
    /// Fits every member on `train` with its training scores (the member's training form:
    /// leave-one-out where the member is), which set its scale.
    fn fit_members(&self, train: &Frame) -> Result<(Members, Vec<Vec<f64>>)> {
        let mut member_scores = Vec::with_capacity(self.members.len());
        let members = self
            .members
            .iter()
            .map(|(_, d)| {
                let fit = d.fit_scored(train)?;
                let scores = fit.train_scores.combined;
                let scale = Scale::of(&scores);
                member_scores.push(scores);
                Ok((fit.model, scale))
            })
            .collect::<Result<_>>()?;
        Ok((members, member_scores))
    }

    fn fitted(
        &self,
        members: Members,
        alerts: Option<Box<dyn FittedDetector>>,
        peaks: Option<Box<dyn FittedDetector>>,
        columns: usize,
    ) -> FittedEnsemble {
        FittedEnsemble {
            params: self.params.clone(),
            typed: self.typed.clone(),
            members,
            alerts,
            peaks,
            columns,
        }
    }
}

impl Detector for Ensemble {
    fn fit(&self, train: &Frame) -> Result<Box<dyn FittedDetector>> {
        let (members, _) = self.fit_members(train)?;
        // the helpers are only fitted: their training scores are not needed here
        let fit = |d: &Option<Box<dyn Detector>>| d.as_ref().map(|d| d.fit(train)).transpose();
        let (alerts, peaks) = (fit(&self.alerts)?, fit(&self.peaks)?);
        Ok(Box::new(self.fitted(members, alerts, peaks, train.cols())))
    }

    /// The members' and helpers' training scores, combined as `score` combines new ones.
    fn fit_scored(&self, train: &Frame) -> Result<Fit> {
        let (members, member_scores) = self.fit_members(train)?;
        let fit = |d: &Option<Box<dyn Detector>>| {
            d.as_ref()
                .map(|d| {
                    d.fit_scored(train)
                        .map(|f| (f.model, f.train_scores.combined))
                })
                .transpose()
        };
        let (alerts, alert_scores) = fit(&self.alerts)?.unzip();
        let (peaks, peak_scores) = fit(&self.peaks)?.unzip();
        let fitted = self.fitted(members, alerts, peaks, train.cols());
        let train_scores = fitted.combine(member_scores, alert_scores, peak_scores);
        Ok(Fit {
            model: Box::new(fitted),
            train_scores,
        })
    }
}

impl Scorer for FittedEnsemble {
    fn score(&self, data: &Frame) -> Result<Scores> {
        let members = self
            .members
            .iter()
            .map(|(member, _)| Ok(member.score(data)?.combined))
            .collect::<Result<_>>()?;
        let helper = |d: &Option<Box<dyn FittedDetector>>| {
            d.as_ref()
                .map(|d| d.score(data).map(|s| s.combined))
                .transpose()
        };
        Ok(self.combine(members, helper(&self.alerts)?, helper(&self.peaks)?))
    }
}

impl FittedEnsemble {
    /// One score per row from the members' scores (standardised by their training scale and
    /// averaged), and the alerts' and peaks' scores where the ensemble has those helpers.
    fn combine(
        &self,
        members: Vec<Vec<f64>>,
        alerts: Option<Vec<f64>>,
        peaks: Option<Vec<f64>>,
    ) -> Scores {
        let rows = members.first().map_or(0, Vec::len);
        let mut total = vec![0.0; rows];
        for (s, (_, scale)) in members.into_iter().zip(&self.members) {
            for (t, v) in total.iter_mut().zip(s) {
                *t += (v - scale.median) / scale.spread;
            }
        }
        let k = self.members.len() as f64;
        let mean = total.into_iter().map(|t| t / k);
        if alerts.is_none() && peaks.is_none() {
            return Scores::single(mean.collect());
        }
        let alerts = alerts.unwrap_or_else(|| vec![0.0; rows]);
        let peaks = match peaks {
            Some(p) => self.peak_scores(p),
            None => vec![None; rows],
        };
        Scores::single(
            mean.zip(alerts)
                .zip(peaks)
                .map(|((m, a), p)| match p {
                    Some(p) => 0.9 + 0.1 * p,
                    None if a > 0.0 => 0.5 + 0.4 * a.min(1.0),
                    None => 0.25 + (m / 3.0).atan() / (2.0 * std::f64::consts::PI),
                })
                .collect(),
        )
    }

    /// The peaks detector's score (clamped to [0, 1]) where it has a peak at or above the level.
    fn peak_scores(&self, scores: Vec<f64>) -> Vec<Option<f64>> {
        let level = self.typed.peak_level;
        let suppress = self.typed.peak_suppress;
        let span = if suppress < 1.0 {
            (suppress * scores.len() as f64) as usize
        } else {
            suppress as usize
        };
        let scores: Vec<f64> = scores
            .into_iter()
            .map(|s| if s.is_nan() { 0.0 } else { s.clamp(0.0, 1.0) })
            .collect();
        let high = local_peaks(&scores, span.max(1));
        scores
            .into_iter()
            .zip(high)
            .map(|(s, h)| (h && s >= level).then_some(s))
            .collect()
    }
}

/// Whether each score beats every one of the `span` scores before it; the first `span` rows,
/// without that many before them, are no peaks. A queue holds the indices of the window's
/// decreasing maxima, so the window's largest is at its front: O(n) over the series.
fn local_peaks(scores: &[f64], span: usize) -> Vec<bool> {
    let mut window: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut out = Vec::with_capacity(scores.len());
    for (i, &s) in scores.iter().enumerate() {
        while window.front().is_some_and(|&j| j + span < i) {
            window.pop_front();
        }
        out.push(i >= span && window.front().is_none_or(|&j| s > scores[j]));
        while window.back().is_some_and(|&j| scores[j] <= s) {
            window.pop_back();
        }
        window.push_back(i);
    }
    out
}

/// One member in the model file.
#[derive(Debug, Serialize, Deserialize)]
struct MemberState {
    name: String,
    params: Params,
    state: serde_json::Value,
    scale: Scale,
}

impl FittedDetector for FittedEnsemble {
    fn name(&self) -> &str {
        "ensemble"
    }
    fn params(&self) -> &Params {
        &self.params
    }
    fn state(&self) -> Result<serde_json::Value> {
        let members = self
            .members
            .iter()
            .map(|(m, scale)| {
                if m.weights()?.is_some() {
                    // the members' states nest in the payload; weights have no place there yet
                    return Err(Error::Unsupported(format!(
                        "an ensemble with a learned member ({}) cannot be saved to a model file",
                        m.name()
                    )));
                }
                Ok(MemberState {
                    name: m.name().to_string(),
                    params: m.params().clone(),
                    state: m.state()?,
                    scale: *scale,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let helper = |d: &Option<Box<dyn FittedDetector>>| {
            d.as_ref()
                .map(|a| {
                    Ok::<_, Error>(HelperState {
                        name: a.name().to_string(),
                        params: a.params().clone(),
                        state: a.state()?,
                    })
                })
                .transpose()
        };
        state_to(&(
            self.columns,
            members,
            helper(&self.alerts)?,
            helper(&self.peaks)?,
        ))
    }
    fn n_columns(&self) -> usize {
        self.columns
    }
}

/// The alerting or peaks detector in the model file.
#[derive(Debug, Serialize, Deserialize)]
struct HelperState {
    name: String,
    params: Params,
    state: serde_json::Value,
}

fn load(params: &Params, stored: Stored<'_>) -> Result<Box<dyn FittedDetector>> {
    let state = stored.plain("ensemble")?;
    // older model files hold (columns, members) or (columns, members, alerts): read the missing
    // parts as absent
    let mut state = state;
    if let serde_json::Value::Array(parts) = &mut state {
        while (2..4).contains(&parts.len()) {
            parts.push(serde_json::Value::Null);
        }
    }
    type State = (
        usize,
        Vec<MemberState>,
        Option<HelperState>,
        Option<HelperState>,
    );
    let (columns, members, alerts, peaks): State = state_from(state)?;
    let typed = EnsembleParams::from_params(params)?;
    let wanted = parse_members(&typed)?;
    if wanted.len() != members.len() || wanted.iter().zip(&members).any(|(w, m)| w.0 != m.name) {
        return Err(Error::ModelFile(
            "the ensemble's members do not match its parameters".into(),
        ));
    }
    for (param, role, kept) in [
        (Role::Alerts, "alerting", &alerts),
        (Role::Peaks, "peaks", &peaks),
    ] {
        if parse_helper(&typed, param)?.map(|a| a.0) != kept.as_ref().map(|a| a.name.clone()) {
            return Err(Error::ModelFile(format!(
                "the ensemble's {role} detector does not match its parameters"
            )));
        }
    }
    let registry = crate::base_registry();
    let members = members
        .into_iter()
        .map(|m| {
            let entry = registry.get(&m.name)?;
            Ok(((entry.load)(&m.params, Stored::json(m.state))?, m.scale))
        })
        .collect::<Result<_>>()?;
    let helper = |h: Option<HelperState>| {
        h.map(|a| (registry.get(&a.name)?.load)(&a.params, Stored::json(a.state)))
            .transpose()
    };
    Ok(Box::new(FittedEnsemble {
        params: params.clone(),
        typed,
        members,
        alerts: helper(alerts)?,
        peaks: helper(peaks)?,
        columns,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scores of detector `name` with its defaults, fitted on and scoring `frame`.
    fn default_scores(name: &str, frame: &Frame) -> Vec<f64> {
        crate::registry()
            .get(name)
            .unwrap()
            .create::<&str>(&[])
            .unwrap()
            .fit(frame)
            .unwrap()
            .score(frame)
            .unwrap()
            .combined
    }

    fn series() -> Frame<'static> {
        let v: Vec<f64> = (0..600)
            .map(|i| (i as f64 * 0.3).sin() + if i == 400 { 4.0 } else { 0.0 })
            .collect();
        Frame::from_series(&v).unwrap()
    }

    #[test]
    fn score_is_the_mean_of_standardised_member_scores() {
        let frame = series();
        let got = fitted(&frame, &["members=zscore+mad"])
            .score(&frame)
            .unwrap()
            .combined;
        let member = |name: &str| {
            let s = default_scores(name, &frame);
            let scale = Scale::of(&s);
            s.iter()
                .map(|v| (v - scale.median) / scale.spread)
                .collect::<Vec<_>>()
        };
        let (a, b) = (member("zscore"), member("mad"));
        for i in 0..frame.rows() {
            assert!((got[i] - (a[i] + b[i]) / 2.0).abs() < 1e-12, "row {i}");
        }
        let top = (0..got.len())
            .max_by(|&x, &y| got[x].total_cmp(&got[y]))
            .unwrap();
        assert_eq!(top, 400);
    }

    /// A noisy cycle with a spike after ARTime's probation.
    fn noisy_cycle() -> Vec<f64> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut v: Vec<f64> = (0..6000)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                10.0 + (i as f64 * std::f64::consts::TAU / 100.0).sin() + 0.2 * noise
            })
            .collect();
        v[3000] += 3.0;
        v
    }

    /// The ensemble with `pairs`, fitted on `frame`.
    fn fitted(frame: &Frame, pairs: &[&str]) -> Box<dyn FittedDetector> {
        entry().create(pairs).unwrap().fit(frame).unwrap()
    }

    /// The ensemble's parameters from `pairs`.
    fn resolved(pairs: &[&str]) -> Params {
        Params::resolve(&entry().params, pairs).unwrap()
    }

    #[test]
    fn alerts_rank_first_and_the_rest_keep_the_members_order() {
        let v = noisy_cycle();
        let frame = Frame::from_series(&v).unwrap();
        let plain_fit = fitted(&frame, &["members=zscore+mad"]);
        let plain = plain_fit.score(&frame).unwrap().combined;
        let with = fitted(&frame, &["members=zscore+mad", "alerts=artime"]);
        let got = with.score(&frame).unwrap().combined;
        let alerts = default_scores("artime", &frame);
        assert!(alerts.iter().any(|&a| a > 0.0));
        for i in 0..v.len() {
            assert!((0.0..=1.0).contains(&got[i]), "row {i}: {}", got[i]);
            if alerts[i] > 0.0 {
                assert!((got[i] - (0.5 + 0.4 * alerts[i])).abs() < 1e-12, "row {i}");
            } else {
                assert!(got[i] < 0.5, "row {i}");
            }
        }
        // outside the alerts, the order is the plain ensemble's
        let quiet: Vec<usize> = (0..v.len()).filter(|&i| alerts[i] == 0.0).collect();
        for w in quiet.windows(2) {
            let (a, b) = (w[0], w[1]);
            assert_eq!(
                plain[a].total_cmp(&plain[b]),
                got[a].total_cmp(&got[b]),
                "rows {a} and {b}"
            );
        }
        // the model file keeps the alerting detector
        let state = with.state().unwrap();
        let loaded = load(with.params(), Stored::json(state.clone())).unwrap();
        assert_eq!(loaded.score(&frame).unwrap().combined, got);
        let e = load(&resolved(&["members=zscore+mad"]), Stored::json(state))
            .unwrap_err()
            .to_string();
        assert!(e.contains("alerting"), "{e}");
        // model files written before alerts hold (columns, members) and still load
        let mut old = plain_fit.state().unwrap();
        old.as_array_mut().unwrap().truncate(2);
        let loaded = load(plain_fit.params(), Stored::json(old)).unwrap();
        assert_eq!(loaded.score(&frame).unwrap().combined, plain);
    }

    #[test]
    fn peaks_beat_every_score_in_the_span_before_them() {
        // a coarse walk, so that ties and plateaus occur
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let scores: Vec<f64> = (0..500)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 7) as f64
            })
            .collect();
        for span in [1, 2, 5, 40, 1000] {
            let got = local_peaks(&scores, span);
            for (i, &s) in scores.iter().enumerate() {
                let expected = i >= span && scores[i - span..i].iter().all(|&b| s > b);
                assert_eq!(got[i], expected, "span {span}, row {i}");
            }
        }
    }

    #[test]
    fn peaks_rank_above_the_alerts() {
        let v = noisy_cycle();
        let frame = Frame::from_series(&v).unwrap();
        let alerts_only = ["members=zscore+mad", "alerts=artime"];
        let alerted_fit = fitted(&frame, &alerts_only);
        let alerted = alerted_fit.score(&frame).unwrap().combined;
        let with_peaks = |suppress: &str| {
            let peaks = ["peaks=likelihood", "peak_level=0.5", suppress];
            fitted(&frame, &[&alerts_only[..], &peaks[..]].concat())
        };
        let with = with_peaks("peak_suppress=300");
        let got = with.score(&frame).unwrap().combined;
        let likelihood = default_scores("likelihood", &frame);
        let high = local_peaks(&likelihood, 300);
        let is_peak = |i: usize| high[i] && likelihood[i] >= 0.5;
        for i in 0..v.len() {
            if is_peak(i) {
                assert!(
                    (got[i] - (0.9 + 0.1 * likelihood[i])).abs() < 1e-12,
                    "row {i}"
                );
            } else {
                assert_eq!(got[i], alerted[i], "row {i}");
            }
        }
        // the spike is a peak, and every peak scores above every alert
        assert!(is_peak(3000));
        let lowest_peak = (0..v.len())
            .filter(|&i| is_peak(i))
            .map(|i| got[i])
            .fold(f64::INFINITY, f64::min);
        assert!(alerted.iter().all(|&a| a <= 0.9 && a < lowest_peak));
        // a share of the scored rows: 5 % of 6,000 is the same 300 rows
        let share = with_peaks("peak_suppress=0.05");
        assert_eq!(share.score(&frame).unwrap().combined, got);
        // the model file keeps the peaks detector; files without one still load
        let state = with.state().unwrap();
        let loaded = load(with.params(), Stored::json(state.clone())).unwrap();
        assert_eq!(loaded.score(&frame).unwrap().combined, got);
        let e = load(&resolved(&alerts_only), Stored::json(state))
            .unwrap_err()
            .to_string();
        assert!(e.contains("peaks"), "{e}");
        let mut old = alerted_fit.state().unwrap();
        old.as_array_mut().unwrap().truncate(3);
        let loaded = load(alerted_fit.params(), Stored::json(old)).unwrap();
        assert_eq!(loaded.score(&frame).unwrap().combined, alerted);
    }

    #[test]
    fn members_are_checked() {
        let entry = entry();
        for (members, needle) in [
            ("members=zscore+nosuch", "nosuch"),
            ("members=+", "at least one"),
            ("members=zscore+ensemble", "cannot contain"),
        ] {
            let e = entry.create(&[members]).unwrap_err().to_string();
            assert!(e.contains(needle), "{members}: {e}");
        }
        for (alerts, needle) in [
            ("alerts=nosuch", "nosuch"),
            ("alerts=ensemble", "cannot raise"),
            ("peaks=nosuch", "nosuch"),
            ("peaks=ensemble", "cannot raise"),
            ("peak_level=1.5", "peak_level"),
        ] {
            let e = entry.create(&[alerts]).unwrap_err().to_string();
            assert!(e.contains(needle), "{alerts}: {e}");
        }
    }
}
