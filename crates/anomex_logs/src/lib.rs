//! Logs and categorical events.
//!
//! Detectors elsewhere in anomex read numbers; a log is text. This crate turns lines into the
//! numbers and sequences the detectors need, online:
//! - [`format`]: which part of a raw line is the message (Loghub's `<Field>` formats);
//! - [`mask`]: variable parts (addresses, numbers, ids) replaced by `<*>`;
//! - [`drain`]: Drain's fixed-depth parse tree, one line at a time, each line → a template id;
//! - [`presets`]: the Loghub benchmark's per-system formats and tuned settings;
//! - [`loghub`]: reading the Loghub benchmark's files and scoring a parser on them.
//!
//! Why Drain: it is online (a line is parsed when it arrives, templates refine as lines come),
//! its cost per line does not grow with the log, and on the Loghub benchmark it is among the
//! most accurate parsers (Zhu et al., ICSE-SEIP 2019). The tree and its templates serialise
//! whole, and a state read back is checked before use ([`drain::Drain::from_state`]).

pub mod drain;
pub mod format;
pub mod loghub;
pub mod mask;
pub mod presets;

pub use drain::{Drain, DrainConfig, Parsed, TemplateId};
pub use format::LogFormat;
pub use mask::Masker;
