//! Explicit policies for missing and non-finite values. The default refuses them, with a message
//! naming the row and column, because silently filling hides data problems.

use anomex_core::{Error, Result};
use std::str::FromStr;

/// What to do with a missing (empty, `NaN`) or infinite value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fill {
    /// Refuse the data (default).
    #[default]
    Error,
    /// Carry the previous value forward (the first value backward for a leading gap).
    Forward,
    /// Linear interpolation between the neighbours (nearest value at the ends).
    Linear,
    /// Replace with zero.
    Zero,
}

impl FromStr for Fill {
    type Err = Error;
    fn from_str(s: &str) -> Result<Fill> {
        match s {
            "error" => Ok(Fill::Error),
            "ffill" | "forward" => Ok(Fill::Forward),
            "linear" | "interpolate" => Ok(Fill::Linear),
            "zero" => Ok(Fill::Zero),
            other => Err(Error::param(
                "fill",
                format!("`{other}` is not one of error, ffill, linear, zero"),
            )),
        }
    }
}

impl Fill {
    /// Fills the non-finite entries of one column in place. `describe(i)` names row `i` for the
    /// error message (e.g. its line in the file).
    pub fn apply(
        self,
        col: &mut [f64],
        name: &str,
        describe: impl Fn(usize) -> String,
    ) -> Result<()> {
        let Some(first_bad) = col.iter().position(|v| !v.is_finite()) else {
            return Ok(());
        };
        let good: Vec<usize> = (0..col.len()).filter(|&i| col[i].is_finite()).collect();
        if self == Fill::Error || (good.is_empty() && self != Fill::Zero) {
            let why = if good.is_empty() && self != Fill::Error {
                " (the column has no valid value to fill from)"
            } else {
                "; pass --fill ffill|linear|zero to fill it"
            };
            return Err(Error::input(format!(
                "missing or non-finite value `{}` at {}, column `{name}`{why}",
                col[first_bad],
                describe(first_bad)
            )));
        }
        match self {
            Fill::Zero => col
                .iter_mut()
                .filter(|v| !v.is_finite())
                .for_each(|v| *v = 0.0),
            Fill::Forward => {
                let mut last = col[good[0]];
                for v in col.iter_mut() {
                    if v.is_finite() {
                        last = *v;
                    } else {
                        *v = last;
                    }
                }
            }
            Fill::Linear => {
                let mut k = 0; // index into `good` of the next valid point at or after i
                for i in 0..col.len() {
                    while k < good.len() && good[k] < i {
                        k += 1;
                    }
                    if col[i].is_finite() {
                        continue;
                    }
                    col[i] = match (k.checked_sub(1).map(|p| good[p]), good.get(k)) {
                        (Some(a), Some(&b)) => {
                            let t = (i - a) as f64 / (b - a) as f64;
                            col[a] + t * (col[b] - col[a])
                        }
                        (Some(a), None) => col[a],
                        (None, Some(&b)) => col[b],
                        (None, None) => 0.0,
                    };
                }
            }
            Fill::Error => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        let base = [f64::NAN, 1.0, f64::NAN, 3.0, f64::INFINITY];
        let run = |f: Fill| {
            let mut c = base.to_vec();
            f.apply(&mut c, "v", |i| format!("row {i}")).map(|_| c)
        };
        assert_eq!(run(Fill::Forward).unwrap(), vec![1.0, 1.0, 1.0, 3.0, 3.0]);
        assert_eq!(run(Fill::Linear).unwrap(), vec![1.0, 1.0, 2.0, 3.0, 3.0]);
        assert_eq!(run(Fill::Zero).unwrap(), vec![0.0, 1.0, 0.0, 3.0, 0.0]);
        let err = run(Fill::Error).unwrap_err().to_string();
        assert!(err.contains("row 0") && err.contains("column `v`"), "{err}");
        assert!("bogus".parse::<Fill>().is_err());
    }
}
