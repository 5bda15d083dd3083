//! Log series: a series whose points are log lines. Each line is parsed by the series' own
//! online Drain parser into a template id, and the id is the point its event detector
//! (`ngram` by default) scores — how surprising this line's template is after the lines before.
//!
//! The parser is part of the series' state: it learns from every line, is saved with the
//! series' snapshot and checked whole when read back ([`Drain::from_state`]). Replaying the same
//! lines after a snapshot gives the same templates, so a restarted service continues with the
//! scores it would have given.
//!
//! Budgets, for a stream nobody vetted: a line longer than `max_line_bytes` or holding control
//! characters is refused (the request names it); once the parser holds `max_templates`
//! templates, a line that fits none of them takes the shared id `max_templates` ("other")
//! instead of a new template, so the parser's memory stays bounded.

use anomex::logs::parse::{presets, Drain, DrainConfig, LogFormat, TemplateId};
use anomex::{Error, Result};
use serde::{Deserialize, Serialize};

/// Most templates a log series' parser may be given.
pub const MAX_TEMPLATES: usize = 1_000_000;
/// Longest line any log series accepts.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// How a log series reads its lines (the `log` object of a series' configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// A Loghub system (`HDFS`, `BGL` …) whose format and tuned parser settings to use.
    #[serde(default)]
    pub preset: Option<String>,
    /// The line format in Loghub's `<Field>` notation (`<Date> <Time> <Level>: <Content>`);
    /// without one (and without a preset) the whole line is the message.
    #[serde(default)]
    pub format: Option<String>,
    /// Drain's settings; fields left out take the defaults (or the preset's tuned values).
    #[serde(default)]
    pub parser: Option<DrainConfig>,
    /// Most templates the parser keeps; lines of a new template after that share one id.
    #[serde(default = "default_max_templates")]
    pub max_templates: usize,
    /// Longest line accepted, in bytes.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
}

fn default_max_templates() -> usize {
    10_000
}
fn default_max_line_bytes() -> usize {
    64 << 10
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            preset: None,
            format: None,
            parser: None,
            max_templates: default_max_templates(),
            max_line_bytes: default_max_line_bytes(),
        }
    }
}

impl LogSettings {
    /// The parser's settings and the line format these settings give; errors name the field.
    fn resolve(&self) -> Result<(DrainConfig, Option<LogFormat>)> {
        let preset = match &self.preset {
            Some(name) => Some(presets::loghub(name).ok_or_else(|| {
                let known: Vec<&str> = presets::LOGHUB.iter().map(|p| p.name).collect();
                Error::param(
                    "log.preset",
                    format!("unknown system `{name}`; known: {}", known.join(", ")),
                )
            })?),
            None => None,
        };
        let config = match (&self.parser, preset) {
            (Some(c), _) => c.clone(),
            (None, Some(p)) => p.tuned(),
            (None, None) => DrainConfig::default(),
        };
        config.validate()?;
        let format = self
            .format
            .as_deref()
            .or(preset.map(|p| p.format))
            .map(LogFormat::new)
            .transpose()?;
        if !(1..=MAX_TEMPLATES).contains(&self.max_templates) {
            return Err(Error::param(
                "log.max_templates",
                format!("must be 1 to {MAX_TEMPLATES}, got {}", self.max_templates),
            ));
        }
        if !(1..=MAX_LINE_BYTES).contains(&self.max_line_bytes) {
            return Err(Error::param(
                "log.max_line_bytes",
                format!("must be 1 to {MAX_LINE_BYTES}, got {}", self.max_line_bytes),
            ));
        }
        Ok((config, format))
    }
}

/// What a log series saves of its parser.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogState {
    pub settings: LogSettings,
    pub drain: anomex::logs::parse::drain::DrainState,
}

/// A log series' parser: its settings, the line format and the Drain tree.
#[derive(Debug, Clone)]
pub struct LogParser {
    settings: LogSettings,
    format: Option<LogFormat>,
    drain: Drain,
}

/// One line as the parser saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineEvent {
    /// Its template; `max_templates` when the parser was full and no template fits.
    pub template: TemplateId,
    /// The line started a new template.
    pub created: bool,
}

impl LogParser {
    /// A parser with no templates; the error names the setting that is wrong.
    pub fn new(settings: LogSettings) -> Result<Self> {
        let (config, format) = settings.resolve()?;
        Ok(Self {
            drain: Drain::new(config)?,
            format,
            settings,
        })
    }

    /// The settings it was made with.
    pub fn settings(&self) -> &LogSettings {
        &self.settings
    }

    /// Number of templates.
    pub fn templates(&self) -> usize {
        self.drain.len()
    }

    /// A template's text (`other` for the shared id of a full parser).
    pub fn template(&self, id: TemplateId) -> String {
        self.drain
            .template(id)
            .unwrap_or_else(|| "<other: the parser holds its most templates>".to_string())
    }

    /// Checks a line without learning from it: its length, no control characters, and the
    /// format. `Ok(None)`: a blank line, skipped.
    pub fn check<'a>(&self, line: &'a str) -> std::result::Result<Option<&'a str>, String> {
        if line.len() > self.settings.max_line_bytes {
            return Err(format!(
                "{} bytes, more than the series' max_line_bytes of {}",
                line.len(),
                self.settings.max_line_bytes
            ));
        }
        if let Some(c) = line.chars().find(|c| c.is_control() && *c != '\t') {
            return Err(format!(
                "holds the control character U+{:04X}: binary data, not a log line",
                u32::from(c)
            ));
        }
        if line.trim().is_empty() {
            return Ok(None);
        }
        let message = match &self.format {
            Some(f) => f
                .content(line)
                .ok_or_else(|| format!("does not match the series' log format ({})", f.source()))?,
            None => line.trim(),
        };
        Ok((!message.trim().is_empty()).then_some(message))
    }

    /// Parses a message ([`LogParser::check`]'s) and learns from it.
    pub fn parse(&mut self, message: &str) -> LineEvent {
        let full = self.drain.len() >= self.settings.max_templates;
        if full && self.drain.find(message).is_none() {
            return LineEvent {
                template: self.settings.max_templates as TemplateId,
                created: false,
            };
        }
        let parsed = self.drain.add(message);
        LineEvent {
            template: parsed.template,
            created: parsed.created,
        }
    }

    /// The state to save.
    pub fn state(&self) -> LogState {
        LogState {
            settings: self.settings.clone(),
            drain: self.drain.state(),
        }
    }

    /// A parser from a saved state, checked whole (it may come from a damaged or crafted file).
    pub fn from_state(state: LogState) -> Result<Self> {
        let (_, format) = state.settings.resolve()?;
        let drain = Drain::from_state(state.drain)?;
        if drain.len() > state.settings.max_templates {
            return Err(Error::input(format!(
                "invalid parser state: {} templates for a limit of {}",
                drain.len(),
                state.settings.max_templates
            )));
        }
        Ok(Self {
            settings: state.settings,
            format,
            drain,
        })
    }
}
