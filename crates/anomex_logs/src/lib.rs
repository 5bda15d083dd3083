//! Logs and categorical events.
//!
//! Detectors elsewhere in anomex read numbers; a log is text. This crate turns lines into the
//! numbers and sequences the detectors need, online:
//! - [`format`]: which part of a raw line is the message (Loghub's `<Field>` formats);
//! - [`mask`]: variable parts (addresses, numbers, ids) replaced by `<*>`;
//! - [`drain`]: Drain's fixed-depth parse tree, one line at a time, each line → a template id;
//! - [`presets`]: the Loghub benchmark's per-system formats and tuned settings;
//! - [`loghub`]: reading the Loghub benchmark's files and scoring a parser on them;
//! - [`lines`]: reading lines from untrusted input (bounded length, any bytes, counted);
//! - [`windows`]: windows and sessions of lines, their template-count vectors for the vector
//!   detectors;
//! - [`ngram`]: a next-template model, each line's surprisal given the lines before it.
//!
//! Why Drain: it is online (a line is parsed when it arrives, templates refine as lines come),
//! its cost per line does not grow with the log, and on the Loghub benchmark it is among the
//! most accurate parsers (Zhu et al., ICSE-SEIP 2019). The tree and its templates serialise
//! whole, and a state read back is checked before use ([`drain::Drain::from_state`]).

pub mod drain;
pub mod format;
pub mod lines;
pub mod loghub;
pub mod mask;
pub mod ngram;
pub mod presets;
pub mod windows;

use anomex_core::{online, Registry};
pub use drain::{Drain, DrainConfig, Parsed, TemplateId};
pub use format::LogFormat;
pub use mask::Masker;

/// A regular-expression error on one line (the `regex` crate's message spans several, with a
/// caret under the problem): the problem itself, e.g. "unclosed group".
pub fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or_default().trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

/// Adds the event detectors of this crate (`ngram`) to `registry`.
pub fn register(registry: &mut Registry) -> anomex_core::Result<()> {
    registry.add(online::entry::<ngram::NGramDetector>())
}
