//! anomex core: the [`Frame`] data model, the detector contract, typed parameters, the registry,
//! the model-file format and the shared error type.
//!
//! Every other anomex crate builds on these few types; see the workspace README for the map.

pub mod channelwise;
mod detector;
mod error;
mod frame;
pub mod model_file;
pub mod online;
mod params;
pub mod progress;
mod registry;
pub mod stats;
pub mod typed;
pub mod windows;

pub use detector::{
    ensure_finite, Decision, Detector, Explain, Fit, FittedDetector, Learning, Scorer, Scores,
    Streaming, Threshold,
};
pub use error::{Error, Result};
pub use frame::{spans, Frame, Labels};
pub use params::{Kind, ParamSpec, Params, Value};
pub use registry::{About, BuildFn, DataKind, Entry, LoadFn, Registry};
pub use typed::{Choice, ParamSet, ParamType};
