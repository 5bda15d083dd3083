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
//! [0, 1] for both uses of a score: an alerted row scores `0.5 + 0.5 · alert` (above 0.5, so one
//! threshold over many series picks the alerts, as NAB's scoreboard does), every other row
//! `0.5 · σ(mean)` with `σ(z) = ½ + atan(z / 3) / π` (below 0.5, in the members' order, so a
//! ranking of all rows — VUS, AUC — is the members' one after the alerts).

use crate::{
    model_file::{state_from, state_to},
    Detector, Entry, Error, FittedDetector, Frame, Learning, ParamSpec, Params, Result, Scorer,
    Scores,
};
use anomex_core::DataKind;
use serde::{Deserialize, Serialize};

/// The members when none are named, chosen on the NAB suite (`docs/bench.md`).
pub const DEFAULT_MEMBERS: &str = "sub_knn+sub_pca:window=100;score=tsb_ad";

/// The ensemble's registry entry.
pub fn entry() -> Entry {
    Entry {
        name: "ensemble",
        summary:
            "mean of robustly standardised scores of several detectors (Aggarwal & Sathe, 2015)",
        learning: Learning::SemiSupervised,
        data: DataKind::Series,
        causal: false,
        params: vec![
            ParamSpec::text(
                "members",
                DEFAULT_MEMBERS,
                "member detectors joined by +, each NAME or NAME:key=value;key=value",
            ),
            ParamSpec::text(
                "alerts",
                "none",
                "a detector of sparse calibrated alerts (NAME or NAME:key=value;…) ranked above \
                 every other row, scores then in [0, 1]; none = plain mean",
            ),
        ],
        build,
        load,
    }
}

#[derive(Debug)]
struct Ensemble {
    params: Params,
    members: Vec<(String, Box<dyn Detector>)>,
    alerts: Option<Box<dyn Detector>>,
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
    members: Vec<(Box<dyn FittedDetector>, Scale)>,
    alerts: Option<Box<dyn FittedDetector>>,
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

/// The alerting detector, if one is named.
fn parse_alerts(params: &Params) -> Result<Option<(String, Vec<String>)>> {
    match params.text("alerts")?.trim() {
        "none" | "" => Ok(None),
        "ensemble" => Err(Error::param(
            "alerts",
            "an ensemble cannot raise an ensemble's alerts",
        )),
        spec => Ok(Some(parse_spec(spec))),
    }
}

/// Members from `a+b:key=value;key=value+c`: names with optional parameters.
fn parse_members(params: &Params) -> Result<Vec<(String, Vec<String>)>> {
    let text = params.text("members")?;
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
    let registry = crate::base_registry();
    let members = parse_members(params)?
        .into_iter()
        .map(|(n, pairs)| {
            let d = registry.get(&n)?.create(&pairs)?;
            Ok((n, d))
        })
        .collect::<Result<_>>()?;
    let alerts = parse_alerts(params)?
        .map(|(n, pairs)| registry.get(&n)?.create(&pairs))
        .transpose()?;
    Ok(Box::new(Ensemble {
        params: params.clone(),
        members,
        alerts,
    }))
}

impl Detector for Ensemble {
    fn fit(&self, train: &Frame) -> Result<Box<dyn FittedDetector>> {
        let members = self
            .members
            .iter()
            .map(|(_, d)| {
                let fitted = d.fit(train)?;
                let scale = Scale::of(&fitted.score(train)?.combined);
                Ok((fitted, scale))
            })
            .collect::<Result<_>>()?;
        let alerts = self.alerts.as_ref().map(|d| d.fit(train)).transpose()?;
        Ok(Box::new(FittedEnsemble {
            params: self.params.clone(),
            members,
            alerts,
            columns: train.cols(),
        }))
    }
}

impl Scorer for FittedEnsemble {
    fn score(&self, data: &Frame) -> Result<Scores> {
        let mut total = vec![0.0; data.rows()];
        for (member, scale) in &self.members {
            let s = member.score(data)?.combined;
            for (t, v) in total.iter_mut().zip(s) {
                *t += (v - scale.median) / scale.spread;
            }
        }
        let k = self.members.len() as f64;
        let mean = total.into_iter().map(|t| t / k);
        let Some(alerts) = &self.alerts else {
            return Ok(Scores::single(mean.collect()));
        };
        let alerts = alerts.score(data)?.combined;
        Ok(Scores::single(
            mean.zip(alerts)
                .map(|(m, a)| {
                    if a > 0.0 {
                        0.5 + 0.5 * a.min(1.0)
                    } else {
                        0.25 + (m / 3.0).atan() / (2.0 * std::f64::consts::PI)
                    }
                })
                .collect(),
        ))
    }
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
                Ok(MemberState {
                    name: m.name().to_string(),
                    params: m.params().clone(),
                    state: m.state()?,
                    scale: *scale,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let alerts = self
            .alerts
            .as_ref()
            .map(|a| {
                Ok::<_, Error>(AlertState {
                    name: a.name().to_string(),
                    params: a.params().clone(),
                    state: a.state()?,
                })
            })
            .transpose()?;
        state_to(&(self.columns, members, alerts))
    }
    fn n_columns(&self) -> usize {
        self.columns
    }
}

/// The alerting detector in the model file.
#[derive(Debug, Serialize, Deserialize)]
struct AlertState {
    name: String,
    params: Params,
    state: serde_json::Value,
}

fn load(params: &Params, state: serde_json::Value) -> Result<Box<dyn FittedDetector>> {
    // model files from before alerts hold (columns, members): read them as without alerts
    let mut state = state;
    if let serde_json::Value::Array(parts) = &mut state {
        if parts.len() == 2 {
            parts.push(serde_json::Value::Null);
        }
    }
    let (columns, members, alerts): (usize, Vec<MemberState>, Option<AlertState>) =
        state_from(state)?;
    let wanted = parse_members(params)?;
    if wanted.len() != members.len() || wanted.iter().zip(&members).any(|(w, m)| w.0 != m.name) {
        return Err(Error::ModelFile(
            "the ensemble's members do not match its parameters".into(),
        ));
    }
    if parse_alerts(params)?.map(|a| a.0) != alerts.as_ref().map(|a| a.name.clone()) {
        return Err(Error::ModelFile(
            "the ensemble's alerting detector does not match its parameters".into(),
        ));
    }
    let registry = crate::base_registry();
    let members = members
        .into_iter()
        .map(|m| {
            let entry = registry.get(&m.name)?;
            Ok(((entry.load)(&m.params, m.state)?, m.scale))
        })
        .collect::<Result<_>>()?;
    let alerts = alerts
        .map(|a| (registry.get(&a.name)?.load)(&a.params, a.state))
        .transpose()?;
    Ok(Box::new(FittedEnsemble {
        params: params.clone(),
        members,
        alerts,
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
        let registry = crate::registry();
        let entry = registry.get("ensemble").unwrap();
        let frame = series();
        let fitted = entry
            .create(&["members=zscore+mad"])
            .unwrap()
            .fit(&frame)
            .unwrap();
        let got = fitted.score(&frame).unwrap().combined;
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

    #[test]
    fn alerts_rank_first_and_the_rest_keep_the_members_order() {
        let registry = crate::registry();
        let entry = registry.get("ensemble").unwrap();
        // a noisy cycle with a spike after ARTime's probation
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
        let frame = Frame::from_series(&v).unwrap();
        let fit = |p: &[&str]| entry.create(p).unwrap().fit(&frame).unwrap();
        let plain = fit(&["members=zscore+mad"]).score(&frame).unwrap().combined;
        let with = fit(&["members=zscore+mad", "alerts=artime"]);
        let got = with.score(&frame).unwrap().combined;
        let alerts = default_scores("artime", &frame);
        assert!(alerts.iter().any(|&a| a > 0.0));
        for i in 0..v.len() {
            assert!((0.0..=1.0).contains(&got[i]), "row {i}: {}", got[i]);
            if alerts[i] > 0.0 {
                assert!((got[i] - (0.5 + 0.5 * alerts[i])).abs() < 1e-12, "row {i}");
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
        let loaded = load(with.params(), state.clone()).unwrap();
        assert_eq!(loaded.score(&frame).unwrap().combined, got);
        let other = Params::resolve(&entry.params, &["members=zscore+mad"]).unwrap();
        let e = load(&other, state).unwrap_err().to_string();
        assert!(e.contains("alerting"), "{e}");
        // model files written before alerts hold (columns, members) and still load
        let plain_fit = fit(&["members=zscore+mad"]);
        let mut old = plain_fit.state().unwrap();
        old.as_array_mut().unwrap().truncate(2);
        let loaded = load(plain_fit.params(), old).unwrap();
        assert_eq!(loaded.score(&frame).unwrap().combined, plain);
    }

    #[test]
    fn members_are_checked() {
        let registry = crate::registry();
        let entry = registry.get("ensemble").unwrap();
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
        ] {
            let e = entry.create(&[alerts]).unwrap_err().to_string();
            assert!(e.contains(needle), "{alerts}: {e}");
        }
    }
}
