//! Log formats: which part of a raw line is the message a parser should see.
//!
//! A format is written as in the Loghub benchmark (Zhu et al., ICSE-SEIP 2019): named fields in
//! angle brackets between literal text, e.g. `<Date> <Time> <Level> <Component>: <Content>`.
//! Each field matches as little as it can, a run of spaces in the format matches any run of
//! whitespace, and the rest is a regular expression (so `\[<Pid>\]` or an optional `(\[<PID>\])?`
//! work as they do there). The whole (trimmed) line must match; `Content` is the message.

use anomex_core::{Error, Result};
use regex::Regex;

/// The name of the field that holds the message.
pub const CONTENT: &str = "Content";

/// A compiled log format.
#[derive(Debug, Clone)]
pub struct LogFormat {
    source: String,
    regex: Regex,
    fields: Vec<String>,
}

impl LogFormat {
    /// Compiles a format; it must name a `<Content>` field, and field names must be identifiers.
    pub fn new(format: &str) -> Result<Self> {
        let mut pattern = String::from("^");
        let mut fields = Vec::new();
        let mut rest = format;
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>').map(|c| open + c) else {
                break;
            };
            let name = &rest[open + 1..close];
            if !is_identifier(name) {
                // not a field (e.g. a literal `<` in the format): keep it as text
                push_literal(&mut pattern, &rest[..=open]);
                rest = &rest[open + 1..];
                continue;
            }
            if fields.iter().any(|f| f == name) {
                return Err(Error::param(
                    "format",
                    format!("the field <{name}> appears twice in {format:?}"),
                ));
            }
            push_literal(&mut pattern, &rest[..open]);
            pattern.push_str(&format!("(?P<{name}>.*?)"));
            fields.push(name.to_string());
            rest = &rest[close + 1..];
        }
        push_literal(&mut pattern, rest);
        pattern.push('$');
        if !fields.iter().any(|f| f == CONTENT) {
            return Err(Error::param(
                "format",
                format!(
                    "{format:?} has no <{CONTENT}> field: which part of a line is the message?"
                ),
            ));
        }
        let regex = Regex::new(&pattern).map_err(|e| {
            Error::param(
                "format",
                format!(
                    "{format:?} is not a valid format: {}",
                    crate::regex_error(&e)
                ),
            )
        })?;
        Ok(Self {
            source: format.to_string(),
            regex,
            fields,
        })
    }

    /// The format as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The field names, in order.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// The message of a line, or `None` when the line does not match the format.
    pub fn content<'a>(&self, line: &'a str) -> Option<&'a str> {
        self.regex
            .captures(line.trim())
            .and_then(|c| c.name(CONTENT))
            .map(|m| m.as_str())
    }

    /// Every field of a line, in [`fields`](Self::fields) order, or `None` when it does not match.
    pub fn split<'a>(&self, line: &'a str) -> Option<Vec<&'a str>> {
        let caps = self.regex.captures(line.trim())?;
        Some(
            self.fields
                .iter()
                .map(|f| caps.name(f).map_or("", |m| m.as_str()))
                .collect(),
        )
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Appends literal format text: runs of spaces become `\s+`, the rest is kept as written.
fn push_literal(pattern: &mut String, text: &str) {
    let mut in_spaces = false;
    for c in text.chars() {
        if c == ' ' {
            if !in_spaces {
                pattern.push_str(r"\s+");
            }
            in_spaces = true;
        } else {
            pattern.push(c);
            in_spaces = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_line_into_its_fields() {
        let f = LogFormat::new("<Date> <Time> <Pid> <Level> <Component>: <Content>").unwrap();
        let line = "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating";
        assert_eq!(
            f.content(line),
            Some("PacketResponder 1 for block blk_38865049064139660 terminating")
        );
        let fields = f.split(line).unwrap();
        assert_eq!(fields[3], "INFO");
        assert_eq!(fields[4], "dfs.DataNode$PacketResponder");
    }

    #[test]
    fn optional_groups_and_escapes_work_as_in_the_loghub_formats() {
        let f = LogFormat::new(r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>")
            .unwrap();
        let with = "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname=";
        assert_eq!(f.content(with), Some("authentication failure; logname="));
        let without = "Jun 15 04:06:18 combo su(pam_unix): session opened for user cyrus";
        assert_eq!(f.content(without), Some("session opened for user cyrus"));
    }

    #[test]
    fn lines_that_do_not_match_are_none() {
        let f = LogFormat::new(r"\[<Time>\] <Program> - <Content>").unwrap();
        assert_eq!(f.content("no brackets here"), None);
    }

    #[test]
    fn formats_without_content_or_with_repeated_fields_are_named_errors() {
        let e = LogFormat::new("<Date> <Time>").unwrap_err().to_string();
        assert!(e.contains("<Content>"), "{e}");
        let e = LogFormat::new("<A> <A> <Content>").unwrap_err().to_string();
        assert!(e.contains("twice"), "{e}");
        let e = LogFormat::new("<Date> (<Content>").unwrap_err().to_string();
        assert!(e.contains("not a valid format"), "{e}");
    }
}
