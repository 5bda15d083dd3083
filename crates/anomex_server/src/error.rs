//! The engine's errors, in the service's own terms: what kind of failure, and a message that
//! names the problem. Which HTTP status each kind answers with is decided in the API layer
//! ([`crate::api::ApiError`]), so the engine knows nothing of HTTP.

/// What kind of failure an [`EngineError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or a field is invalid.
    Invalid,
    /// No series of that name.
    NotFound,
    /// The request contradicts the current state (a series exists, a model is not there yet).
    Conflict,
    /// More points in one request than the limit.
    TooLarge,
    /// A series' rate limit is exhausted.
    RateLimited,
    /// The series limit would be passed.
    StorageFull,
    /// The service is shutting down.
    Unavailable,
    /// The store failed; nothing of the request was acknowledged.
    Internal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EngineError {
    pub kind: ErrorKind,
    pub message: String,
}

impl EngineError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        EngineError {
            kind,
            message: message.into(),
        }
    }
    /// The request is malformed or a field is invalid.
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, message)
    }
    pub fn not_found(series: &str) -> Self {
        Self::new(
            ErrorKind::NotFound,
            format!("no series named `{}`", series.escape_default()),
        )
    }
    /// The store failed; nothing of the request was acknowledged.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EngineError {}

impl From<anomex::Error> for EngineError {
    fn from(e: anomex::Error) -> Self {
        match e {
            anomex::Error::Io { .. } | anomex::Error::Numerical(_) => Self::internal(e.to_string()),
            other => Self::bad(other.to_string()),
        }
    }
}
