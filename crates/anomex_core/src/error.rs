//! The one error type shared by every anomex crate.

use thiserror::Error;

/// Everything that can go wrong in anomex, each variant naming the problem and where it is.
#[derive(Debug, Error)]
pub enum Error {
    /// The input data is unusable (NaN, ragged rows, empty, wrong shape …); the message says where.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A detector or threshold parameter is unknown, malformed or out of range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter { name: String, reason: String },
    /// No detector or policy of that name is registered.
    #[error("unknown {kind} `{name}`; known: {known}")]
    Unknown {
        kind: &'static str,
        name: String,
        known: String,
    },
    /// A model file is truncated, corrupted, of a future version or otherwise unreadable.
    #[error("model file: {0}")]
    ModelFile(String),
    /// The operation is not offered by this detector (e.g. streaming on a non-causal one).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A numerical routine failed (e.g. an eigendecomposition did not converge).
    #[error("numerical failure: {0}")]
    Numerical(String),
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Result with the anomex [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn input(msg: impl Into<String>) -> Self {
        Error::InvalidInput(msg.into())
    }
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name: name.into(),
            reason: reason.into(),
        }
    }
}
