//! Typed detector parameters: declared once per detector, parsed from `key=value` text,
//! validated before any work, stored in model files.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// One parameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(s) => write!(f, "{s}"),
        }
    }
}

/// What values a parameter accepts. `auto` is accepted where `allow_auto` is set and means
/// "let the detector choose from the data" (e.g. the window length from the autocorrelation).
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    Float {
        min: f64,
        max: f64,
    },
    Bool,
    Choice(&'static [&'static str]),
    /// Free text the detector parses itself (e.g. a list of member detectors).
    Text,
}

/// Declaration of one parameter.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: Kind,
    /// Default value; `None` means `auto`.
    pub default: Option<Value>,
    pub allow_auto: bool,
    pub doc: &'static str,
}

impl ParamSpec {
    /// Parses and range-checks one textual value.
    pub fn parse(&self, text: &str) -> Result<Option<Value>> {
        let text = text.trim();
        if self.allow_auto && text == "auto" {
            return Ok(None);
        }
        let bad = |why: String| Error::param(self.name, why);
        let value = match &self.kind {
            Kind::Int { .. } => Value::Int(
                text.parse::<i64>()
                    .map_err(|_| bad(format!("`{text}` is not an integer")))?,
            ),
            Kind::Float { .. } => Value::Float(
                text.parse::<f64>()
                    .map_err(|_| bad(format!("`{text}` is not a number")))?,
            ),
            Kind::Bool => Value::Bool(
                text.parse::<bool>()
                    .map_err(|_| bad(format!("`{text}` is not true/false")))?,
            ),
            Kind::Choice(_) | Kind::Text => Value::Text(text.to_string()),
        };
        self.check(&value)?;
        Ok(Some(value))
    }

    /// Checks a value against the declared kind and range.
    pub fn check(&self, value: &Value) -> Result<()> {
        let bad = |why: String| Err(Error::param(self.name, why));
        match (&self.kind, value) {
            (Kind::Int { min, max }, Value::Int(v)) if v < min || v > max => {
                bad(format!("{v} is outside [{min}, {max}]"))
            }
            (Kind::Int { .. }, Value::Int(_)) => Ok(()),
            (Kind::Float { min, max }, Value::Float(v)) if !(v >= min && v <= max) => {
                bad(format!("{v} is outside [{min}, {max}]"))
            }
            (Kind::Float { min, max }, Value::Int(v))
                if (*v as f64) < *min || (*v as f64) > *max =>
            {
                bad(format!("{v} is outside [{min}, {max}]"))
            }
            (Kind::Float { .. }, Value::Float(_) | Value::Int(_)) => Ok(()),
            (Kind::Bool, Value::Bool(_)) => Ok(()),
            (Kind::Choice(opts), Value::Text(s)) if opts.contains(&s.as_str()) => Ok(()),
            (Kind::Choice(opts), v) => bad(format!("`{v}` is not one of {}", opts.join(", "))),
            (Kind::Text, Value::Text(_)) => Ok(()),
            (kind, v) => bad(format!("`{v}` does not fit {kind:?}")),
        }
    }

    /// The default as text, for listings.
    pub fn default_text(&self) -> String {
        self.default
            .as_ref()
            .map_or_else(|| "auto".to_string(), Value::to_string)
    }
}

/// A complete, validated parameter set: every declared parameter has a value or is `auto`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Params(BTreeMap<String, Option<Value>>);

impl Params {
    /// Validates `key=value` pairs against `specs`, filling defaults. Unknown keys are errors
    /// that list the accepted ones.
    pub fn resolve<S: AsRef<str>>(specs: &[ParamSpec], pairs: &[S]) -> Result<Params> {
        let mut map: BTreeMap<String, Option<Value>> = specs
            .iter()
            .map(|s| (s.name.to_string(), s.default.clone()))
            .collect();
        for pair in pairs {
            let pair = pair.as_ref();
            let (key, text) = pair
                .split_once('=')
                .ok_or_else(|| Error::param(pair, "expected key=value"))?;
            let key = key.trim();
            let spec = specs.iter().find(|s| s.name == key).ok_or_else(|| {
                let known: Vec<_> = specs.iter().map(|s| s.name).collect();
                Error::param(
                    key,
                    format!(
                        "unknown parameter; accepted: {}",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                )
            })?;
            map.insert(key.to_string(), spec.parse(text)?);
        }
        Ok(Params(map))
    }

    /// Re-validates a stored parameter set (e.g. read from a model file).
    pub fn validate(&self, specs: &[ParamSpec]) -> Result<()> {
        for spec in specs {
            match self.0.get(spec.name) {
                None => return Err(Error::param(spec.name, "missing")),
                Some(None) if !spec.allow_auto => {
                    return Err(Error::param(spec.name, "`auto` is not allowed"))
                }
                Some(Some(v)) => spec.check(v)?,
                Some(None) => {}
            }
        }
        if let Some(extra) = self.0.keys().find(|k| !specs.iter().any(|s| s.name == *k)) {
            return Err(Error::param(extra.clone(), "unknown parameter"));
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Result<Option<&Value>> {
        self.0
            .get(name)
            .map(Option::as_ref)
            .ok_or_else(|| Error::param(name, "not declared by this detector"))
    }

    /// The stored value of a declared parameter; `None` is `auto`.
    pub fn value(&self, name: &str) -> Result<Option<&Value>> {
        self.get(name)
    }

    /// `(name, value-as-text)` pairs, for reports.
    pub fn describe(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_ref().map_or("auto".into(), Value::to_string),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ParamSet;

    crate::choice! {
        enum Combine { Mean = "mean", Max = "max" }
    }

    crate::params! {
        struct Declared {
            /// w
            window: Option<usize> = None, in 2..=100_000;
            /// a
            alpha: f64 = 0.1, in 0.0..=1.0;
            /// c
            combine: Combine = Combine::Mean;
        }
    }

    fn specs() -> Vec<ParamSpec> {
        Declared::specs()
    }

    #[test]
    fn defaults_then_overrides() {
        let p = Params::resolve(&specs(), &["alpha=0.5"]).unwrap();
        p.validate(&specs()).unwrap();
        let typed = Declared::from_params(&p).unwrap();
        assert_eq!(typed.window, None);
        assert_eq!(typed.alpha, 0.5);
        assert_eq!(typed.combine, Combine::Mean);
    }

    #[test]
    fn errors_name_the_parameter() {
        for (pair, needle) in [
            (
                "beta=1",
                "unknown parameter; accepted: window, alpha, combine",
            ),
            ("window=1", "outside"),
            ("window=x", "not an integer"),
            ("alpha=2", "outside"),
            ("alpha=NaN", "outside"),
            ("combine=min", "not one of"),
            ("alpha", "key=value"),
        ] {
            let err = Params::resolve(&specs(), &[pair]).unwrap_err().to_string();
            assert!(err.contains(needle), "{pair}: {err}");
        }
    }
}
