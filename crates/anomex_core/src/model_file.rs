//! The model file: a fitted detector as plain data, versioned and checksummed.
//!
//! Layout (little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `ANOMEXMF` |
//! | 4 | format version (`u32`, currently 1) |
//! | 8 | payload length (`u64`) |
//! | 4 | CRC-32 (IEEE) of the payload |
//! | n | payload: UTF-8 JSON `{ "detector", "params", "state", "writer" }`, and optionally `"calibration"` and `"columns"` |
//! | 8 | (version 2) weights length (`u64`) |
//! | 4 | (version 2) CRC-32 (IEEE) of the weights |
//! | m | (version 2) weights: safetensors bytes (a JSON header of names, dtypes and shapes, then raw little-endian data) |
//!
//! Learned models keep their weights in the second section, which JSON would hold neither
//! compactly nor exactly; a file without weights is written as version 1, so that every model
//! that does not need the section stays readable by older builds. The weights are data: the
//! detector's loader checks every tensor's name, dtype and shape against what its parameters
//! imply before it builds anything.
//!
//! The optional calibration holds what a PyOD-style model adds to the fitted detector (the
//! contamination, the threshold and the training scores); readers that do not need it ignore it,
//! so one file serves the command line, the service and the Python bindings. The optional
//! columns are the names of the training frame's columns, so that data read for scoring is laid
//! out as the model saw it (categorical columns one-hot encoded to the same indicators).
//!
//! Loading never executes code: the payload is data, the detector name picks a registered
//! loader, and the parameters are re-validated against that detector's declaration. A short,
//! corrupted or future-version file is an [`Error::ModelFile`] that says which.

use crate::{Error, FittedDetector, Params, Registry, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8; 8] = b"ANOMEXMF";
/// The newest model-file format this build reads (and writes for models with weights).
pub const FORMAT_VERSION: u32 = 2;
/// The format written for models without a weights section.
const PLAIN_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 4;
const WEIGHTS_HEADER_LEN: usize = 8 + 4;

/// What a model file gives a detector's loader: the JSON state and, for learned models, the
/// weights section (safetensors bytes).
#[derive(Debug)]
pub struct Stored<'a> {
    pub state: serde_json::Value,
    pub weights: Option<&'a [u8]>,
}

impl<'a> Stored<'a> {
    /// A state without weights.
    pub fn json(state: serde_json::Value) -> Self {
        Stored {
            state,
            weights: None,
        }
    }

    /// The JSON state of a detector that has no weights; a weights section is refused (a
    /// crafted or mismatched file), never ignored.
    pub fn plain(self, detector: &str) -> Result<serde_json::Value> {
        match self.weights {
            None => Ok(self.state),
            Some(w) => Err(Error::ModelFile(format!(
                "the file holds {} bytes of weights, which {detector} does not use",
                w.len()
            ))),
        }
    }

    /// The weights section of a learned model; its absence is an error naming the detector.
    pub fn weights(&self, detector: &str) -> Result<&'a [u8]> {
        self.weights.ok_or_else(|| {
            Error::ModelFile(format!(
                "{detector} needs its weights, and the file has no weights section"
            ))
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    detector: String,
    params: Params,
    state: serde_json::Value,
    writer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    calibration: Option<Calibration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    columns: Option<Vec<String>>,
}

/// Everything a model file holds.
#[derive(Debug)]
pub struct Loaded {
    /// The fitted detector.
    pub model: Box<dyn FittedDetector>,
    /// Its calibration, when stored.
    pub calibration: Option<Calibration>,
    /// The training frame's column names, when stored.
    pub columns: Option<Vec<String>>,
}

/// A threshold calibrated on the training scores, stored beside the fitted detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The share of training rows expected to be anomalous.
    pub contamination: f64,
    /// Scores above it are anomalies.
    pub threshold: f64,
    /// The score of every training row, in order.
    pub training_scores: Vec<f64>,
}

/// Serialises a fitted detector into model-file bytes.
pub fn to_bytes(model: &dyn FittedDetector) -> Result<Vec<u8>> {
    to_bytes_calibrated(model, None)
}

/// Serialises a fitted detector and, when given, its calibration into model-file bytes.
pub fn to_bytes_calibrated(
    model: &dyn FittedDetector,
    calibration: Option<&Calibration>,
) -> Result<Vec<u8>> {
    to_bytes_full(model, calibration, None)
}

/// Serialises a fitted detector with its calibration and its training columns' names, each
/// when given.
pub fn to_bytes_full(
    model: &dyn FittedDetector,
    calibration: Option<&Calibration>,
    columns: Option<&[String]>,
) -> Result<Vec<u8>> {
    let payload = Payload {
        columns: columns.map(<[String]>::to_vec),
        detector: model.name().to_string(),
        params: model.params().clone(),
        state: model.state()?,
        writer: format!("anomex {}", env!("CARGO_PKG_VERSION")),
        calibration: calibration.cloned(),
    };
    let body = serde_json::to_vec(&payload)
        .map_err(|e| Error::ModelFile(format!("cannot serialise the model: {e}")))?;
    let weights = model.weights()?;
    let version = if weights.is_some() {
        FORMAT_VERSION
    } else {
        PLAIN_VERSION
    };
    let extra = weights.as_ref().map_or(0, |w| WEIGHTS_HEADER_LEN + w.len());
    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + extra);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    if let Some(w) = weights {
        out.extend_from_slice(&(w.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&w).to_le_bytes());
        out.extend_from_slice(&w);
    }
    Ok(out)
}

/// Restores a fitted detector from model-file bytes, using `registry` to find its loader.
pub fn from_bytes(bytes: &[u8], registry: &Registry) -> Result<Box<dyn FittedDetector>> {
    from_bytes_calibrated(bytes, registry).map(|(model, _)| model)
}

/// A fitted detector restored from model-file bytes, with its calibration when the file has one.
pub type Calibrated = (Box<dyn FittedDetector>, Option<Calibration>);

/// Restores a fitted detector and its calibration (if stored) from model-file bytes.
pub fn from_bytes_calibrated(bytes: &[u8], registry: &Registry) -> Result<Calibrated> {
    from_bytes_full(bytes, registry).map(|l| (l.model, l.calibration))
}

/// Restores everything a model file holds.
pub fn from_bytes_full(bytes: &[u8], registry: &Registry) -> Result<Loaded> {
    if bytes.len() < HEADER_LEN {
        return Err(Error::ModelFile(format!(
            "truncated: {} bytes, the header alone has {HEADER_LEN}",
            bytes.len()
        )));
    }
    if &bytes[..8] != MAGIC {
        return Err(Error::ModelFile(
            "not an anomex model file (bad magic bytes)".into(),
        ));
    }
    let word =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let version = word(8);
    if version > FORMAT_VERSION {
        return Err(Error::ModelFile(format!(
            "format version {version} is newer than this anomex reads ({FORMAT_VERSION}); upgrade anomex"
        )));
    }
    if version == 0 {
        return Err(Error::ModelFile("format version 0 is invalid".into()));
    }
    let len = u64_at(bytes, 12);
    let crc = word(20);
    let rest = &bytes[HEADER_LEN..];
    let (body, weights) = if version == PLAIN_VERSION {
        if (rest.len() as u64) > len {
            return Err(Error::ModelFile(format!(
                "{} unexpected bytes after the payload",
                rest.len() as u64 - len
            )));
        }
        (section(rest, len, "payload")?, None)
    } else {
        let body = section(rest, len, "payload")?;
        let rest = &rest[body.len()..];
        if rest.len() < WEIGHTS_HEADER_LEN {
            return Err(Error::ModelFile(format!(
                "truncated: the weights header has {} of {WEIGHTS_HEADER_LEN} bytes",
                rest.len()
            )));
        }
        let wlen = u64_at(rest, 0);
        let wcrc = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]);
        let rest = &rest[WEIGHTS_HEADER_LEN..];
        let weights = section(rest, wlen, "weights")?;
        if (rest.len() as u64) > wlen {
            return Err(Error::ModelFile(format!(
                "{} unexpected bytes after the weights",
                rest.len() as u64 - wlen
            )));
        }
        if crc32fast::hash(weights) != wcrc {
            return Err(Error::ModelFile(
                "checksum mismatch in the weights: the file is corrupted".into(),
            ));
        }
        (body, Some(weights))
    };
    if crc32fast::hash(body) != crc {
        return Err(Error::ModelFile(
            "checksum mismatch: the file is corrupted".into(),
        ));
    }
    let payload: Payload = serde_json::from_slice(body)
        .map_err(|e| Error::ModelFile(format!("unreadable payload: {e}")))?;
    let entry = registry.get(&payload.detector)?;
    payload.params.validate(&entry.params)?;
    if let Some(c) = &payload.calibration {
        if !c.threshold.is_finite() || c.training_scores.iter().any(|s| !s.is_finite()) {
            return Err(Error::ModelFile(
                "the calibration holds a non-finite threshold or training score".into(),
            ));
        }
    }
    let stored = Stored {
        state: payload.state,
        weights,
    };
    let model = (entry.load)(&payload.params, stored)?;
    Ok(Loaded {
        model,
        calibration: payload.calibration,
        columns: payload.columns,
    })
}

/// The little-endian `u64` at `at`.
fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// The first `len` bytes of `rest`, or an error saying how much of `what` is missing.
fn section<'a>(rest: &'a [u8], len: u64, what: &str) -> Result<&'a [u8]> {
    match usize::try_from(len) {
        Ok(n) if n <= rest.len() => Ok(&rest[..n]),
        _ => Err(Error::ModelFile(format!(
            "truncated: {what} has {} of {len} bytes",
            rest.len()
        ))),
    }
}

/// Writes a model file.
pub fn save(model: &dyn FittedDetector, path: &Path) -> Result<()> {
    save_with_columns(model, None, path)
}

/// Writes a model file that records the training frame's column names.
pub fn save_with_columns(
    model: &dyn FittedDetector,
    columns: Option<&[String]>,
    path: &Path,
) -> Result<()> {
    let bytes = to_bytes_full(model, None, columns)?;
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a model file.
pub fn load(path: &Path, registry: &Registry) -> Result<Box<dyn FittedDetector>> {
    load_full(path, registry).map(|l| l.model)
}

/// Reads everything a model file holds.
pub fn load_full(path: &Path, registry: &Registry) -> Result<Loaded> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    from_bytes_full(&bytes, registry)
}

/// Deserialises a detector's own state, mapping failures to [`Error::ModelFile`].
pub fn state_from<T: serde::de::DeserializeOwned>(state: serde_json::Value) -> Result<T> {
    serde_json::from_value(state).map_err(|e| Error::ModelFile(format!("invalid state: {e}")))
}

/// Replaces a stream's state by a snapshot of one, if `same(snapshot's, ours)` (the snapshot
/// belongs to the same fit and settings); otherwise the state is kept and the error carries
/// `refusal(snapshot's, ours)`.
pub fn restore_if_same<T: serde::de::DeserializeOwned>(
    stream: &mut T,
    snapshot: serde_json::Value,
    same: impl Fn(&T, &T) -> bool,
    refusal: impl FnOnce(&T, &T) -> String,
) -> Result<()> {
    let restored: T = state_from(snapshot)?;
    if !same(&restored, stream) {
        return Err(Error::ModelFile(refusal(&restored, stream)));
    }
    *stream = restored;
    Ok(())
}

/// Serialises a detector's own state.
pub fn state_to<T: Serialize>(state: &T) -> Result<serde_json::Value> {
    serde_json::to_value(state)
        .map_err(|e| Error::ModelFile(format!("cannot serialise state: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Window {
        window: usize,
        values: Vec<f64>,
    }

    #[test]
    fn a_snapshot_of_other_settings_is_refused_and_the_state_kept() {
        let same = |a: &Window, b: &Window| a.window == b.window;
        let refusal = |a: &Window, b: &Window| format!("window {} for {}", a.window, b.window);
        let mut ours = Window {
            window: 3,
            values: vec![1.0],
        };
        let other = state_to(&Window {
            window: 4,
            values: vec![2.0, 3.0],
        })
        .unwrap();
        let err = restore_if_same(&mut ours, other, same, refusal).unwrap_err();
        assert!(err.to_string().contains("window 4 for 3"), "{err}");
        assert_eq!(ours.values, vec![1.0]);
        let later = state_to(&Window {
            window: 3,
            values: vec![5.0, 6.0],
        })
        .unwrap();
        restore_if_same(&mut ours, later, same, refusal).unwrap();
        assert_eq!(ours.values, vec![5.0, 6.0]);
        let broken = serde_json::json!({"window": "three"});
        assert!(restore_if_same(&mut ours, broken, same, refusal).is_err());
    }
}
