//! Reading log lines from untrusted input: bounded memory per line, any bytes accepted.
//!
//! A log file may hold binary junk, invalid UTF-8 or one enormous line. [`LineReader`] never
//! fails on content: invalid UTF-8 is decoded with U+FFFD, a line longer than the limit is cut
//! there (the rest of it is read and dropped, never held), and every such event is counted in
//! [`LineStats`] so a summary can say what was done. Only I/O errors are errors.

use anomex_core::{Error, Result};
use std::io::BufRead;

/// The default longest line kept, in bytes (longer lines are cut there).
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024;

/// What the reader did besides reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineStats {
    /// Lines read.
    pub lines: u64,
    /// Lines cut at the length limit.
    pub truncated: u64,
    /// Lines with invalid UTF-8 (decoded with U+FFFD).
    pub invalid_utf8: u64,
    /// Lines holding NUL or other control bytes than tab (binary content).
    pub binary: u64,
}

/// Lines of a reader, each at most `max_bytes` long.
#[derive(Debug)]
pub struct LineReader<R> {
    reader: R,
    max_bytes: usize,
    buffer: Vec<u8>,
    stats: LineStats,
}

impl<R: BufRead> LineReader<R> {
    /// A reader keeping at most `max_bytes` of each line (at least 1).
    pub fn new(reader: R, max_bytes: usize) -> Self {
        Self {
            reader,
            max_bytes: max_bytes.max(1),
            buffer: Vec::new(),
            stats: LineStats::default(),
        }
    }

    /// What has been read so far.
    pub fn stats(&self) -> LineStats {
        self.stats
    }

    /// The next line without its line ending (`None` at the end of the input).
    pub fn next_line(&mut self) -> Result<Option<String>> {
        self.buffer.clear();
        let mut truncated = false;
        let mut any = false;
        loop {
            let chunk = self
                .reader
                .fill_buf()
                .map_err(|e| Error::input(format!("reading the log: {e}")))?;
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, Some(i + 1)),
                None => (chunk.len(), None),
            };
            let room = self.max_bytes.saturating_sub(self.buffer.len());
            if take > room {
                truncated = true;
            }
            self.buffer.extend_from_slice(&chunk[..take.min(room)]);
            let consumed = done.unwrap_or(chunk.len());
            self.reader.consume(consumed);
            if done.is_some() {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        if self.buffer.last() == Some(&b'\r') {
            self.buffer.pop();
        }
        if truncated {
            // a cut through a multi-byte character is the cut's doing, not invalid input
            if let Err(e) = std::str::from_utf8(&self.buffer) {
                if e.error_len().is_none() {
                    self.buffer.truncate(e.valid_up_to());
                }
            }
        }
        self.stats.lines += 1;
        self.stats.truncated += u64::from(truncated);
        if self
            .buffer
            .iter()
            .any(|&b| b == 0 || (b < 0x20 && b != b'\t'))
        {
            self.stats.binary += 1;
        }
        let line = match String::from_utf8(std::mem::take(&mut self.buffer)) {
            Ok(line) => line,
            Err(e) => {
                self.stats.invalid_utf8 += 1;
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        Ok(Some(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8], max: usize) -> (Vec<String>, LineStats) {
        let mut r = LineReader::new(std::io::BufReader::with_capacity(7, bytes), max);
        let mut out = Vec::new();
        while let Some(line) = r.next_line().unwrap() {
            out.push(line);
        }
        (out, r.stats())
    }

    #[test]
    fn lines_endings_and_a_last_line_without_newline() {
        let (lines, stats) = read_all(b"one\r\ntwo\n\nthree", 100);
        assert_eq!(lines, ["one", "two", "", "three"]);
        assert_eq!(stats.lines, 4);
        assert_eq!(read_all(b"", 100).0.len(), 0);
    }

    #[test]
    fn long_lines_are_cut_and_counted_and_the_next_line_is_intact() {
        let mut input = vec![b'x'; 10_000];
        input.extend_from_slice(b"\nnext\n");
        let (lines, stats) = read_all(&input, 16);
        assert_eq!(lines, ["x".repeat(16), "next".to_string()]);
        assert_eq!(stats.truncated, 1);
    }

    #[test]
    fn a_cut_through_a_character_is_not_invalid_utf8() {
        let (lines, stats) = read_all("ééé\n".as_bytes(), 3);
        assert_eq!(lines, ["é"]);
        assert_eq!((stats.truncated, stats.invalid_utf8), (1, 0));
    }

    #[test]
    fn invalid_utf8_and_binary_are_decoded_and_counted() {
        let (lines, stats) = read_all(b"ok \xff\xfe end\nbin\x00\x01ary\n", 100);
        assert_eq!(lines[0], "ok \u{fffd}\u{fffd} end");
        assert_eq!(stats.invalid_utf8, 1);
        assert_eq!(stats.binary, 1);
    }
}
