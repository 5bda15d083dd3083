//! Range-based precision, recall and F-score (Tatbul, Lee, Zdonik, Alam & Gottschlich,
//! "Precision and Recall for Time Series", NeurIPS 2018), with every option of the `prts` 1.0.0.3
//! package: existence weight α, cardinality (`one`, `reciprocal`, `udf`), positional bias
//! (`flat`, `front`, `middle`, `back`).
//!
//! Recall averages over real ranges, precision over predicted ranges, the score of a range
//! `R` against the ranges `P_j` of the other side:
//! `α · [R overlaps some P_j] + (1 − α) · γ(#overlaps) · Σ_j ω(R, R ∩ P_j)`, where `ω` is the
//! positional-bias weight of the overlapping points over the weight of all of `R`'s points. The
//! weights are integers, so their sums are computed in closed form, exactly as the reference's
//! point-by-point float sums; the cost is O(n) to find ranges plus O(#ranges) to score.
//!
//! `udf` uses the reference's default user function (γ = 1). The reference asserts that both
//! labels and prediction contain an anomaly; here a side without ranges scores 0, as the
//! reference's own averaging code would.

use crate::check_pred;
use crate::segments::segments;
use anomex_core::{Error, Result};
use std::str::FromStr;

/// How a range that overlaps several ranges of the other side is discounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    /// No discount.
    One,
    /// Divided by the number of overlapped ranges.
    Reciprocal,
    /// A user-defined γ; the reference's default returns 1.
    Udf,
}

/// Where in a range detected points weigh most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bias {
    Flat,
    Front,
    Middle,
    Back,
}

impl FromStr for Cardinality {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "one" => Ok(Cardinality::One),
            "reciprocal" => Ok(Cardinality::Reciprocal),
            "udf" | "udf_gamma" => Ok(Cardinality::Udf),
            other => Err(Error::param(
                "cardinality",
                format!("`{other}` is not one, reciprocal or udf"),
            )),
        }
    }
}

impl FromStr for Bias {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "flat" => Ok(Bias::Flat),
            "front" => Ok(Bias::Front),
            "middle" => Ok(Bias::Middle),
            "back" => Ok(Bias::Back),
            other => Err(Error::param(
                "bias",
                format!("`{other}` is not flat, front, middle or back"),
            )),
        }
    }
}

/// `Σ_{t=a..=b} t` for 1-based positions.
fn sum_t(a: u64, b: u64) -> u64 {
    if a > b {
        0
    } else {
        (a + b) * (b - a + 1) / 2
    }
}

/// Sum of the positional weights `δ(t)` for `t = a..=b` in a range of length `len`.
fn weight(bias: Bias, len: u64, a: u64, b: u64) -> u64 {
    if a > b {
        return 0;
    }
    let count = b - a + 1;
    match bias {
        Bias::Flat => count,
        Bias::Back => sum_t(a, b),
        Bias::Front => count * (len + 1) - sum_t(a, b),
        Bias::Middle => {
            // δ(t) = t while t ≤ len/2, len − t + 1 after
            let half = len / 2;
            let rising = sum_t(a, b.min(half));
            let (c, d) = (a.max(half + 1), b);
            let falling = if c > d {
                0
            } else {
                (d - c + 1) * (len + 1) - sum_t(c, d)
            };
            rising + falling
        }
    }
}

/// The mean score of the `targets` ranges against the `others` (both sorted and disjoint).
pub(crate) fn range_score(
    targets: &[(usize, usize)],
    others: &[(usize, usize)],
    alpha: f64,
    cardinality: Cardinality,
    bias: Bias,
) -> f64 {
    if targets.is_empty() {
        return 0.0;
    }
    let mut first = 0; // first other range that can overlap the current target
    let mut total = 0.0;
    for &(s, e) in targets {
        while first < others.len() && others[first].1 < s {
            first += 1;
        }
        let len = (e - s + 1) as u64;
        let full = weight(bias, len, 1, len);
        let mut omega = 0.0;
        let mut overlaps = 0usize;
        for &(os, oe) in others[first..].iter().take_while(|&&(os, _)| os <= e) {
            overlaps += 1;
            let (a, b) = (s.max(os), e.min(oe));
            let part = weight(bias, len, (a - s + 1) as u64, (b - s + 1) as u64);
            if full > 0 {
                omega += part as f64 / full as f64;
            }
        }
        let gamma = match cardinality {
            Cardinality::Reciprocal if overlaps > 1 => 1.0 / overlaps as f64,
            _ => 1.0,
        };
        let existence = if overlaps > 0 { 1.0 } else { 0.0 };
        total += alpha * existence + (1.0 - alpha) * (gamma * omega);
    }
    total / targets.len() as f64
}

/// Range-based recall (prts `ts_recall`).
pub fn ts_recall(
    real: &[bool],
    pred: &[bool],
    alpha: f64,
    cardinality: Cardinality,
    bias: Bias,
) -> Result<f64> {
    scored_against(real, pred, alpha, cardinality, bias)
}

/// Range-based precision (prts `ts_precision`): recall with the roles of the sides swapped.
pub fn ts_precision(
    real: &[bool],
    pred: &[bool],
    alpha: f64,
    cardinality: Cardinality,
    bias: Bias,
) -> Result<f64> {
    check_pred(real, pred)?;
    scored_against(pred, real, alpha, cardinality, bias)
}

/// The mean score of `targets`' ranges against `others`' ranges.
fn scored_against(
    targets: &[bool],
    others: &[bool],
    alpha: f64,
    cardinality: Cardinality,
    bias: Bias,
) -> Result<f64> {
    check_pred(targets, others)?;
    if !(0.0..=1.0).contains(&alpha) {
        return Err(Error::param("alpha", format!("{alpha} is outside [0, 1]")));
    }
    Ok(range_score(
        &segments(targets),
        &segments(others),
        alpha,
        cardinality,
        bias,
    ))
}

/// Options of [`ts_fscore`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FScore {
    pub beta: f64,
    pub p_alpha: f64,
    pub r_alpha: f64,
    pub cardinality: Cardinality,
    pub p_bias: Bias,
    pub r_bias: Bias,
}

impl Default for FScore {
    fn default() -> Self {
        FScore {
            beta: 1.0,
            p_alpha: 0.0,
            r_alpha: 0.0,
            cardinality: Cardinality::One,
            p_bias: Bias::Flat,
            r_bias: Bias::Flat,
        }
    }
}

/// Range-based F-beta (prts `ts_fscore`); 0 when precision and recall are both 0.
pub fn ts_fscore(real: &[bool], pred: &[bool], o: FScore) -> Result<f64> {
    if o.beta.is_nan() || o.beta < 0.0 {
        return Err(Error::param("beta", format!("{} is negative", o.beta)));
    }
    let p = ts_precision(real, pred, o.p_alpha, o.cardinality, o.p_bias)?;
    let r = ts_recall(real, pred, o.r_alpha, o.cardinality, o.r_bias)?;
    let b2 = o.beta * o.beta;
    Ok(if p + r != 0.0 {
        (1.0 + b2) * p * r / (b2 * p + r)
    } else {
        0.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_weight(bias: Bias, len: u64, a: u64, b: u64) -> u64 {
        (a..=b)
            .map(|t| match bias {
                Bias::Flat => 1,
                Bias::Front => len - t + 1,
                Bias::Back => t,
                Bias::Middle => {
                    if (t as f64) <= len as f64 / 2.0 {
                        t
                    } else {
                        len - t + 1
                    }
                }
            })
            .sum()
    }

    #[test]
    fn closed_form_weights_equal_the_sums() {
        for bias in [Bias::Flat, Bias::Front, Bias::Middle, Bias::Back] {
            for len in 1..12u64 {
                for a in 1..=len {
                    for b in a..=len {
                        assert_eq!(
                            weight(bias, len, a, b),
                            naive_weight(bias, len, a, b),
                            "{bias:?} {len} {a} {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn recall_with_front_bias() {
        // real range of 4 points, the first two detected: front weights 4,3,2,1 → 7/10
        let real = [true, true, true, true, false];
        let pred = [true, true, false, false, false];
        let r = ts_recall(&real, &pred, 0.0, Cardinality::One, Bias::Front).unwrap();
        assert!((r - 0.7).abs() < 1e-15);
        assert!("none".parse::<Bias>().is_err());
        assert!(ts_recall(&real, &pred, 1.5, Cardinality::One, Bias::Flat).is_err());
    }
}
