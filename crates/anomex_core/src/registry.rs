//! The registry: every detector by name, with its parameters, learning type and one-line doc.

use crate::model_file::Stored;
use crate::{Detector, Error, FittedDetector, Learning, ParamSpec, Params, Result};

/// Builds a detector from resolved parameters.
pub type BuildFn = fn(&Params) -> Result<Box<dyn Detector>>;
/// Restores a fitted detector from resolved parameters and what a model file stored for it.
pub type LoadFn = fn(&Params, Stored<'_>) -> Result<Box<dyn FittedDetector>>;

/// What a detector reads a frame as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// Rows are time steps of one or more series; order matters.
    Series,
    /// Rows are independent points (tabular data, embeddings); order does not matter.
    Vectors,
    /// One column of event codes in time order (log template ids): non-negative integers
    /// naming what happened, not measuring it.
    Events,
}

impl DataKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DataKind::Series => "time series",
            DataKind::Vectors => "vectors",
            DataKind::Events => "event sequences",
        }
    }
}

/// What a detector says of itself: the names it is known by and one line for listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct About {
    /// Registry name (`--detector`, model files, the service).
    pub name: &'static str,
    /// Python class name: PyOD's or TSB-AD's where the method has one there.
    pub class: &'static str,
    /// One line: the method and where it comes from.
    pub summary: &'static str,
}

/// One registered detector.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: &'static str,
    /// Python class name.
    pub class: &'static str,
    pub summary: &'static str,
    pub learning: Learning,
    pub data: DataKind,
    /// Whether the fitted model offers [`crate::Streaming`] with streaming = batch.
    pub causal: bool,
    /// Whether the fitted model offers [`crate::Explain`] (per-column attribution).
    pub explains: bool,
    pub params: Vec<ParamSpec>,
    pub build: BuildFn,
    pub load: LoadFn,
}

impl Entry {
    /// Builds the detector from `key=value` pairs.
    pub fn create<S: AsRef<str>>(&self, pairs: &[S]) -> Result<Box<dyn Detector>> {
        let params = Params::resolve(&self.params, pairs)?;
        (self.build)(&params)
    }
}

/// A set of detectors addressable by name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    entries: Vec<Entry>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds an entry; a second entry with the same name is a programming error reported as such.
    pub fn add(&mut self, entry: Entry) -> Result<()> {
        if self.entries.iter().any(|e| e.name == entry.name) {
            return Err(Error::Unsupported(format!(
                "detector `{}` is registered twice",
                entry.name
            )));
        }
        self.entries.push(entry);
        Ok(())
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, name: &str) -> Result<&Entry> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| Error::Unknown {
                kind: "detector",
                name: name.to_string(),
                known: self
                    .entries
                    .iter()
                    .map(|e| e.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}
