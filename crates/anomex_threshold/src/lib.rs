//! Thresholds: turning scores into labels.
//!
//! | policy | text form | rule |
//! |---|---|---|
//! | contamination | `contamination:0.01` | the top fraction of the training scores is anomalous (PyOD) |
//! | quantile | `quantile:0.99` | above the training quantile |
//! | MAD | `mad:3` | above median + k · 1.4826 · MAD of the training scores |
//! | POT | `pot`, `pot:1e-4`, `pot:q=1e-4,level=0.98` | generalised-Pareto tail, exceedance probability q |
//! | DSPOT | `dspot`, `dspot:q=1e-4,level=0.98,depth=10` | streaming, drift-aware POT |
//! | ESD | `esd`, `esd:alpha=0.05,max=0.1` | generalised ESD test (Rosner 1983), median/MAD form |
//!
//! [`Calibrator`] maps scores to [0, 1] by the empirical distribution of the training scores.
//! Every policy implements [`anomex_core::Threshold`], so batch labelling and streaming share
//! one code path.

/// `Threshold::snapshot` and `restore` for a policy whose whole state is its serde form.
macro_rules! snapshot_by_serde {
    () => {
        fn snapshot(&self) -> anomex_core::Result<serde_json::Value> {
            anomex_core::model_file::state_to(self)
        }
        fn restore(&mut self, snapshot: serde_json::Value) -> anomex_core::Result<()> {
            *self = anomex_core::model_file::state_from(snapshot)?;
            Ok(())
        }
    };
}

mod esd;
mod pot;
mod simple;

pub use esd::Esd;
pub use pot::{DSpot, Gpd, Pot};
pub use simple::{Calibrator, Mad, Quantile};

use anomex_core::{Error, Result, Threshold};

/// Names of the policies, for help texts.
pub const POLICIES: &[&str] = &["contamination", "quantile", "mad", "pot", "dspot", "esd"];

/// Parses `name[:value | :key=value,key=value]` into a policy.
pub fn parse(text: &str) -> Result<Box<dyn Threshold>> {
    let (name, args) = text.split_once(':').unwrap_or((text, ""));
    let args = Args::parse(name, args)?;
    let policy: Box<dyn Threshold> = match name {
        "contamination" => Box::new(Quantile::contamination(args.get("rate", 0.01)?)?),
        "quantile" => Box::new(Quantile::new(args.get("q", 0.99)?)?),
        "mad" => Box::new(Mad::new(args.get("k", 3.0)?)?),
        "pot" => Box::new(Pot::new(args.get("q", 1e-3)?, args.get("level", 0.98)?)?),
        "dspot" => Box::new(DSpot::new(
            args.get("q", 1e-3)?,
            args.get("level", 0.98)?,
            args.get_usize("depth", 10)?,
        )?),
        "esd" => Box::new(Esd::new(args.get("alpha", 0.05)?, args.get("max", 0.1)?)?),
        other => {
            return Err(Error::Unknown {
                kind: "threshold policy",
                name: other.to_string(),
                known: POLICIES.join(", "),
            })
        }
    };
    args.finish(name)?;
    Ok(policy)
}

/// Arguments of a policy: one positional value (the policy's main parameter) or key=value pairs.
struct Args {
    pairs: Vec<(String, String)>,
    used: std::cell::RefCell<Vec<String>>,
}

impl Args {
    fn parse(name: &str, text: &str) -> Result<Args> {
        let main = match name {
            "contamination" => "rate",
            "quantile" | "pot" | "dspot" => "q",
            "mad" => "k",
            _ => "alpha",
        };
        let pairs = text
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|part| match part.split_once('=') {
                Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
                None => (main.to_string(), part.trim().to_string()),
            })
            .collect();
        Ok(Args {
            pairs,
            used: Default::default(),
        })
    }
    fn raw(&self, key: &str) -> Option<&str> {
        self.used.borrow_mut().push(key.to_string());
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn get(&self, key: &str, default: f64) -> Result<f64> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .map_err(|_| Error::param(key, format!("`{v}` is not a number"))),
        }
    }
    fn get_usize(&self, key: &str, default: usize) -> Result<usize> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| Error::param(key, format!("`{v}` is not a non-negative integer"))),
        }
    }
    fn finish(&self, name: &str) -> Result<()> {
        let used = self.used.borrow();
        match self.pairs.iter().find(|(k, _)| !used.contains(k)) {
            Some((k, _)) => Err(Error::param(
                k.clone(),
                format!(
                    "not a parameter of the `{name}` policy (accepted: {})",
                    used.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_policy() {
        for text in [
            "contamination",
            "contamination:0.05",
            "quantile:0.9",
            "mad:2.5",
            "pot",
            "pot:q=1e-4,level=0.95",
            "dspot:depth=5",
            "esd:alpha=0.01,max=0.2",
        ] {
            parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn rejects_bad_policies() {
        for (text, needle) in [
            ("contamination:0.6", "(0, 0.5]"),
            ("contamination:0", "(0, 0.5]"),
            ("contamination:x", "not a number"),
            ("pot:foo=1", "not a parameter of the `pot` policy"),
            ("median", "unknown threshold policy"),
            ("quantile:1.5", "outside"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
