//! Typed parameter sets: every detector declares its parameters once, as a struct.
//!
//! The [`params!`](crate::params) macro takes a struct whose fields carry a doc comment (the
//! parameter's documentation), a default (the published one) and, for numbers, a range; it
//! writes the struct, its `Default`, and a [`ParamSet`] implementation. From that one declaration
//! come the registry's [`ParamSpec`]s (so `--param key=value` parsing, `anomex list`, model-file
//! checks, the Python signature and stub, the README's table), and the typed value a detector is
//! built from — no detector reads a parameter back by its name.
//!
//! [`choice!`](crate::choice) declares the enum of a parameter with named options.
//!
//! The untyped [`Params`] map stays the wire form (model files, reports, the service), so model
//! files written before typed parameters existed load unchanged.

use crate::{Error, Kind, ParamSpec, Params, Result, Value};
use std::ops::RangeInclusive;

/// A type a parameter can have: integers, floats, booleans, text, a [`choice!`](crate::choice)
/// enum, or `Option<T>` of one of these, where `None` is `auto` (the detector chooses from the
/// data).
pub trait ParamType: Sized + Clone {
    /// The type the range of accepted values is written in.
    type Bound;
    /// The kind of value, with its range where it has one.
    fn kind(range: Option<RangeInclusive<Self::Bound>>) -> Kind;
    /// Whether `auto` is accepted.
    const AUTO: bool = false;
    /// The value as stored in [`Params`]; `None` is `auto`.
    fn to_value(&self) -> Option<Value>;
    /// Reads the stored value; `name` is for error messages.
    fn from_value(value: Option<&Value>, name: &str) -> Result<Self>;
}

fn must_have<'a>(value: Option<&'a Value>, name: &str) -> Result<&'a Value> {
    value.ok_or_else(|| Error::param(name, "`auto` is not allowed here"))
}

fn int_of(value: Option<&Value>, name: &str) -> Result<i64> {
    match must_have(value, name)? {
        Value::Int(v) => Ok(*v),
        v => Err(Error::param(name, format!("`{v}` is not an integer"))),
    }
}

macro_rules! integer_param {
    ($($t:ty),*) => {$(
        impl ParamType for $t {
            type Bound = i64;
            fn kind(range: Option<RangeInclusive<i64>>) -> Kind {
                let whole = i64::try_from(<$t>::MIN).unwrap_or(i64::MIN)
                    ..=i64::try_from(<$t>::MAX).unwrap_or(i64::MAX);
                let r = range.unwrap_or(whole);
                Kind::Int { min: *r.start(), max: *r.end() }
            }
            fn to_value(&self) -> Option<Value> {
                Some(Value::Int(i64::try_from(*self).unwrap_or(i64::MAX)))
            }
            fn from_value(value: Option<&Value>, name: &str) -> Result<Self> {
                let v = int_of(value, name)?;
                <$t>::try_from(v).map_err(|_| {
                    let why = if v < 0 { "is negative" } else { "is too large" };
                    Error::param(name, format!("{v} {why}"))
                })
            }
        }
    )*};
}

integer_param!(usize, u64, u32, i64);

impl ParamType for f64 {
    type Bound = f64;
    fn kind(range: Option<RangeInclusive<f64>>) -> Kind {
        let r = range.unwrap_or(f64::MIN..=f64::MAX);
        Kind::Float {
            min: *r.start(),
            max: *r.end(),
        }
    }
    fn to_value(&self) -> Option<Value> {
        Some(Value::Float(*self))
    }
    fn from_value(value: Option<&Value>, name: &str) -> Result<Self> {
        match must_have(value, name)? {
            Value::Float(v) => Ok(*v),
            Value::Int(v) => Ok(*v as f64),
            v => Err(Error::param(name, format!("`{v}` is not a number"))),
        }
    }
}

impl ParamType for bool {
    type Bound = bool;
    fn kind(_: Option<RangeInclusive<bool>>) -> Kind {
        Kind::Bool
    }
    fn to_value(&self) -> Option<Value> {
        Some(Value::Bool(*self))
    }
    fn from_value(value: Option<&Value>, name: &str) -> Result<Self> {
        match must_have(value, name)? {
            Value::Bool(b) => Ok(*b),
            v => Err(Error::param(name, format!("`{v}` is not true/false"))),
        }
    }
}

/// Free text the detector parses itself (e.g. the ensemble's list of members).
impl ParamType for String {
    type Bound = String;
    fn kind(_: Option<RangeInclusive<String>>) -> Kind {
        Kind::Text
    }
    fn to_value(&self) -> Option<Value> {
        Some(Value::Text(self.clone()))
    }
    fn from_value(value: Option<&Value>, name: &str) -> Result<Self> {
        match must_have(value, name)? {
            Value::Text(s) => Ok(s.clone()),
            v => Err(Error::param(name, format!("`{v}` is not text"))),
        }
    }
}

/// `None` is `auto`: the detector chooses the value from the data.
impl<T: ParamType> ParamType for Option<T> {
    type Bound = T::Bound;
    const AUTO: bool = true;
    fn kind(range: Option<RangeInclusive<T::Bound>>) -> Kind {
        T::kind(range)
    }
    fn to_value(&self) -> Option<Value> {
        self.as_ref().and_then(T::to_value)
    }
    fn from_value(value: Option<&Value>, name: &str) -> Result<Self> {
        value.map(|v| T::from_value(Some(v), name)).transpose()
    }
}

/// The options of a [`choice!`](crate::choice) enum.
pub trait Choice: Sized + Copy + 'static {
    /// Every option's name, in declaration order.
    const OPTIONS: &'static [&'static str];
    /// The option's name.
    fn as_str(self) -> &'static str;
    /// The option of that name.
    fn from_name(name: &str) -> Option<Self>;
}

/// Reads a choice from its stored text (the helper behind [`choice!`](crate::choice)).
pub fn choice_from_value<C: Choice>(value: Option<&Value>, name: &str) -> Result<C> {
    match must_have(value, name)? {
        Value::Text(s) => C::from_name(s).ok_or_else(|| {
            Error::param(
                name,
                format!("`{s}` is not one of {}", C::OPTIONS.join(", ")),
            )
        }),
        v => Err(Error::param(
            name,
            format!("`{v}` is not one of {}", C::OPTIONS.join(", ")),
        )),
    }
}

/// A detector's parameters as one typed value; written by [`params!`](crate::params).
pub trait ParamSet: Sized + Clone + Default + std::fmt::Debug + Send + Sync + 'static {
    /// One [`ParamSpec`] per field: name, kind and range, default, doc.
    fn specs() -> Vec<ParamSpec>;
    /// Reads the fields from a resolved map (other keys are ignored: a wrapper may add its own),
    /// then runs [`ParamSet::validate`].
    fn from_params(params: &Params) -> Result<Self>;
    /// Checks between fields, or beyond a range (e.g. a power of two); ranges are checked
    /// before this runs.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    /// Parses `key=value` pairs over the defaults (as `--param` does).
    fn parse<S: AsRef<str>>(pairs: &[S]) -> Result<Self> {
        Self::from_params(&Params::resolve(&Self::specs(), pairs)?)
    }
}

/// A detector without parameters.
impl ParamSet for () {
    fn specs() -> Vec<ParamSpec> {
        Vec::new()
    }
    fn from_params(_: &Params) -> Result<Self> {
        Ok(())
    }
}

/// Two parameter sets side by side (a wrapper's own and its kernel's); names must not clash.
impl<A: ParamSet, B: ParamSet> ParamSet for (A, B) {
    fn specs() -> Vec<ParamSpec> {
        let mut s = A::specs();
        s.extend(B::specs());
        s
    }
    fn from_params(params: &Params) -> Result<Self> {
        Ok((A::from_params(params)?, B::from_params(params)?))
    }
    fn validate(&self) -> Result<()> {
        self.0.validate()?;
        self.1.validate()
    }
}

/// Three parameter sets side by side (a network's shape, its training and its seed).
impl<A: ParamSet, B: ParamSet, C: ParamSet> ParamSet for (A, B, C) {
    fn specs() -> Vec<ParamSpec> {
        <(A, (B, C))>::specs()
    }
    fn from_params(params: &Params) -> Result<Self> {
        let (a, (b, c)) = <(A, (B, C))>::from_params(params)?;
        Ok((a, b, c))
    }
    fn validate(&self) -> Result<()> {
        self.0.validate()?;
        self.1.validate()?;
        self.2.validate()
    }
}

/// The spec of one field (the helper behind [`params!`](crate::params)).
pub fn spec_of<T: ParamType>(
    name: &'static str,
    default: &T,
    range: Option<RangeInclusive<T::Bound>>,
    doc: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        kind: T::kind(range),
        default: default.to_value(),
        allow_auto: T::AUTO,
        doc,
    }
}

/// Reads one field and checks it against its spec (the helper behind [`params!`](crate::params)).
pub fn field_of<T: ParamType>(params: &Params, spec: &ParamSpec) -> Result<T> {
    let value = params.value(spec.name)?;
    if let Some(v) = value {
        spec.check(v)?;
    }
    T::from_value(value, spec.name)
}

/// Declares a detector's parameter struct: per field a doc comment (the parameter's doc), a
/// type ([`ParamType`]), a default and, for numbers, an inclusive range.
///
/// ```
/// anomex_core::params! {
///     /// Parameters of a rolling detector.
///     pub struct RollingParams {
///         /// points in the baseline window; auto = from the autocorrelation
///         pub window: Option<usize> = Some(50), in 2..=1_000_000;
///         /// smoothing factor
///         pub alpha: f64 = 0.1, in 0.0..=1.0;
///     }
/// }
/// let p = RollingParams::default();
/// assert_eq!(p.window, Some(50));
/// use anomex_core::ParamSet;
/// assert_eq!(RollingParams::specs()[1].name, "alpha");
/// ```
///
/// A `validate |p| { … }` clause after the fields adds checks beyond the ranges.
#[macro_export]
macro_rules! params {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $fvis:vis $field:ident : $ty:ty = $default:expr $(, in $range:expr)? ;
            )*
        }
        $(validate |$p:ident| $check:block)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        $vis struct $name {
            $( $(#[doc = $doc])* $fvis $field: $ty, )*
        }

        impl ::std::default::Default for $name {
            fn default() -> Self {
                $name { $( $field: $default, )* }
            }
        }

        impl $crate::ParamSet for $name {
            fn specs() -> ::std::vec::Vec<$crate::ParamSpec> {
                let defaults = <$name as ::std::default::Default>::default();
                ::std::vec![$(
                    $crate::typed::spec_of::<$ty>(
                        stringify!($field),
                        &defaults.$field,
                        $crate::params!(@range $($range)?),
                        concat!($($doc),*).trim(),
                    ),
                )*]
            }
            fn from_params(params: &$crate::Params) -> $crate::Result<Self> {
                let specs = <Self as $crate::ParamSet>::specs();
                let mut specs = specs.iter();
                let value = $name {$(
                    $field: $crate::typed::field_of::<$ty>(
                        params,
                        specs.next().expect("one spec per field"),
                    )?,
                )*};
                <Self as $crate::ParamSet>::validate(&value)?;
                Ok(value)
            }
            $(
                fn validate(&self) -> $crate::Result<()> {
                    let $p = self;
                    $check
                }
            )?
        }
    };
    (@range) => { None };
    (@range $range:expr) => { Some($range) };
}

/// Declares the enum of a parameter with named options, usable as a [`params!`](crate::params)
/// field type.
///
/// ```
/// anomex_core::choice! {
///     /// How channel scores are combined.
///     pub enum Combine { Mean = "mean", Max = "max" }
/// }
/// use anomex_core::typed::Choice;
/// assert_eq!(Combine::OPTIONS, &["mean", "max"]);
/// assert_eq!(Combine::from_name("max"), Some(Combine::Max));
/// ```
#[macro_export]
macro_rules! choice {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $( $(#[doc = $doc:literal])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name { $( $(#[doc = $doc])* $variant, )+ }

        impl $crate::typed::Choice for $name {
            const OPTIONS: &'static [&'static str] = &[$($text),+];
            fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )+ }
            }
            fn from_name(name: &str) -> Option<Self> {
                match name { $( $text => Some($name::$variant), )+ _ => None }
            }
        }

        impl $crate::typed::ParamType for $name {
            type Bound = ();
            fn kind(_: Option<::std::ops::RangeInclusive<()>>) -> $crate::Kind {
                $crate::Kind::Choice(<$name as $crate::typed::Choice>::OPTIONS)
            }
            fn to_value(&self) -> Option<$crate::Value> {
                Some($crate::Value::Text(
                    <$name as $crate::typed::Choice>::as_str(*self).to_string(),
                ))
            }
            fn from_value(value: Option<&$crate::Value>, name: &str) -> $crate::Result<Self> {
                $crate::typed::choice_from_value(value, name)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(<$name as $crate::typed::Choice>::as_str(*self))
            }
        }
    };
}

crate::params! {
    /// The parameter of every randomised detector.
    pub struct Seed {
        /// random seed; the same seed gives the same scores
        pub seed: u64 = 0, in 0..=i64::MAX;
    }
}
