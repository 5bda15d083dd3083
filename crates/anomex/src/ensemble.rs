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

use crate::{
    model_file::{state_from, state_to},
    Detector, Entry, Error, FittedDetector, Frame, Learning, ParamSpec, Params, Result, Scorer,
    Scores,
};
use anomex_core::DataKind;
use serde::{Deserialize, Serialize};

/// The members when none are named, chosen on the NAB suite (`docs/bench.md`).
pub const DEFAULT_MEMBERS: &str = "spectral_residual+sub_knn+sub_pca:window=100;score=tsb_ad";

/// The ensemble's registry entry.
pub fn entry() -> Entry {
    Entry {
        name: "ensemble",
        summary:
            "mean of robustly standardised scores of several detectors (Aggarwal & Sathe, 2015)",
        learning: Learning::SemiSupervised,
        data: DataKind::Series,
        causal: false,
        params: vec![ParamSpec::text(
            "members",
            DEFAULT_MEMBERS,
            "member detectors joined by +, each NAME or NAME:key=value;key=value",
        )],
        build,
        load,
    }
}

#[derive(Debug)]
struct Ensemble {
    params: Params,
    members: Vec<(String, Box<dyn Detector>)>,
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
    columns: usize,
}

/// Members from `a+b:key=value;key=value+c`: names with optional parameters.
fn parse_members(params: &Params) -> Result<Vec<(String, Vec<String>)>> {
    let text = params.text("members")?;
    let members: Vec<(String, Vec<String>)> = text
        .split('+')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|m| match m.split_once(':') {
            Some((name, pairs)) => (
                name.trim().to_string(),
                pairs
                    .split(';')
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| p.trim().to_string())
                    .collect(),
            ),
            None => (m.to_string(), Vec::new()),
        })
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
    Ok(Box::new(Ensemble {
        params: params.clone(),
        members,
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
        Ok(Box::new(FittedEnsemble {
            params: self.params.clone(),
            members,
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
        Ok(Scores::single(total.into_iter().map(|t| t / k).collect()))
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
        state_to(&(self.columns, members))
    }
    fn n_columns(&self) -> usize {
        self.columns
    }
}

fn load(params: &Params, state: serde_json::Value) -> Result<Box<dyn FittedDetector>> {
    let (columns, members): (usize, Vec<MemberState>) = state_from(state)?;
    let wanted = parse_members(params)?;
    if wanted.len() != members.len() || wanted.iter().zip(&members).any(|(w, m)| w.0 != m.name) {
        return Err(Error::ModelFile(
            "the ensemble's members do not match its parameters".into(),
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
    Ok(Box::new(FittedEnsemble {
        params: params.clone(),
        members,
        columns,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let s = registry
                .get(name)
                .unwrap()
                .create::<&str>(&[])
                .unwrap()
                .fit(&frame)
                .unwrap()
                .score(&frame)
                .unwrap()
                .combined;
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
    }
}
