//! Windows of log lines and their template-count vectors: the bridge from a parsed log to the
//! vector detectors (PCA, Isolation Forest, …).
//!
//! As in the log anomaly-detection literature (Xu et al., "Detecting Large-Scale System
//! Problems by Mining Console Logs", SOSP 2009; He et al., "Experience Report: System Log
//! Analysis for Anomaly Detection", ISSRE 2016, loglizer): lines are grouped into fixed or
//! sliding windows of consecutive lines, or into sessions sharing an identifier (an HDFS block
//! id); each group becomes the vector of how often each template occurs in it, optionally
//! weighted by inverse document frequency.

use crate::drain::TemplateId;
use anomex_core::{Error, Result};
use ndarray::Array2;
use regex::Regex;
use std::collections::HashMap;

/// A group of lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Its session identifier (`None` for windows of consecutive lines).
    pub key: Option<String>,
    /// Indices of its lines, ascending.
    pub lines: Vec<usize>,
}

/// Windows of `size` consecutive lines, a new one every `step` lines (the last may be shorter;
/// none is empty).
pub fn line_windows(lines: usize, size: usize, step: usize) -> Result<Vec<Window>> {
    if size == 0 || step == 0 {
        return Err(Error::param(
            "window",
            "window and step must be at least 1 line",
        ));
    }
    Ok((0..lines)
        .step_by(step)
        .map(|start| Window {
            key: None,
            lines: (start..(start + size).min(lines)).collect(),
        })
        .take_while(|w| !w.lines.is_empty())
        .collect())
}

/// Sessions: the lines that mention each identifier `pattern` finds (its first capture group,
/// or the whole match), in order of first appearance; a line with several identifiers belongs
/// to each of their sessions, and a line without one to none.
pub fn sessions<S: AsRef<str>>(messages: &[S], pattern: &Regex) -> Vec<Window> {
    group_by_ids(messages.iter().map(|m| {
        pattern
            .captures_iter(m.as_ref())
            .filter_map(|caps| caps.get(1).or_else(|| caps.get(0)))
            .map(|id| id.as_str())
            .collect::<Vec<_>>()
    }))
}

/// Sessions by one identifier per line (a field of the log format, e.g. a node or a request
/// id), in order of first appearance; an empty identifier puts its line in no session.
pub fn sessions_by_key<S: AsRef<str>>(keys: &[S]) -> Vec<Window> {
    group_by_ids(keys.iter().map(|k| {
        let k = k.as_ref();
        if k.is_empty() {
            vec![]
        } else {
            vec![k]
        }
    }))
}

fn group_by_ids<'a>(ids_per_line: impl Iterator<Item = Vec<&'a str>>) -> Vec<Window> {
    let mut index: HashMap<&'a str, usize> = HashMap::new();
    let mut out: Vec<Window> = Vec::new();
    for (i, ids) in ids_per_line.enumerate() {
        for id in ids {
            let k = *index.entry(id).or_insert_with(|| {
                out.push(Window {
                    key: Some(id.to_string()),
                    lines: Vec::new(),
                });
                out.len() - 1
            });
            if out[k].lines.last() != Some(&i) {
                out[k].lines.push(i);
            }
        }
    }
    out
}

/// How counts are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weighting {
    /// Raw counts.
    #[default]
    Counts,
    /// Counts × log(windows / windows holding the template) (loglizer's `tf-idf`): templates
    /// present everywhere weigh nothing, rare ones much.
    TfIdf,
}

/// The windows × templates matrix of template counts. Line `i` has template `templates[i]`;
/// `n_templates` columns.
pub fn count_matrix(
    templates: &[TemplateId],
    windows: &[Window],
    n_templates: usize,
    weighting: Weighting,
) -> Result<Array2<f64>> {
    let mut x = Array2::<f64>::zeros((windows.len(), n_templates));
    for (row, window) in windows.iter().enumerate() {
        for &line in &window.lines {
            let t = *templates.get(line).ok_or_else(|| {
                Error::input(format!(
                    "window {row} refers to line {line} of {}",
                    templates.len()
                ))
            })? as usize;
            if t >= n_templates {
                return Err(Error::input(format!("template {t} of {n_templates}")));
            }
            x[[row, t]] += 1.0;
        }
    }
    if weighting == Weighting::TfIdf && !windows.is_empty() {
        let n = windows.len() as f64;
        for mut column in x.columns_mut() {
            let df = column.iter().filter(|&&c| c > 0.0).count() as f64;
            let idf = if df > 0.0 { (n / df).ln() } else { 0.0 };
            column.mapv_inplace(|c| c * idf);
        }
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_windows_fixed_and_sliding() {
        let w = line_windows(5, 2, 2).unwrap();
        assert_eq!(
            w.iter().map(|w| w.lines.clone()).collect::<Vec<_>>(),
            [vec![0, 1], vec![2, 3], vec![4]]
        );
        let w = line_windows(4, 3, 1).unwrap();
        assert_eq!(w.len(), 4);
        assert_eq!(w[1].lines, [1, 2, 3]);
        assert!(line_windows(4, 0, 1).is_err());
    }

    #[test]
    fn sessions_follow_identifiers_and_lines_may_join_several() {
        let msgs = ["open blk_1", "noise", "copy blk_1 to blk_2", "close blk_2"];
        let w = sessions(&msgs, &Regex::new(r"(blk_-?\d+)").unwrap());
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].key.as_deref(), w[0].lines.clone()),
            (Some("blk_1"), vec![0, 2])
        );
        assert_eq!(
            (w[1].key.as_deref(), w[1].lines.clone()),
            (Some("blk_2"), vec![2, 3])
        );
    }

    #[test]
    fn sessions_by_key_group_equal_keys_and_skip_empty_ones() {
        let w = sessions_by_key(&["n1", "n2", "", "n1"]);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].lines, [0, 3]);
        assert_eq!(w[1].key.as_deref(), Some("n2"));
    }

    #[test]
    fn counts_and_tfidf() {
        let windows = line_windows(4, 2, 2).unwrap();
        let x = count_matrix(&[0, 1, 0, 0], &windows, 2, Weighting::Counts).unwrap();
        assert_eq!(x.row(0).to_vec(), [1.0, 1.0]);
        assert_eq!(x.row(1).to_vec(), [2.0, 0.0]);
        let w = count_matrix(&[0, 1, 0, 0], &windows, 2, Weighting::TfIdf).unwrap();
        // template 0 is in every window: weight 0; template 1 in one of two: ln 2
        assert_eq!(w.row(1).to_vec(), [0.0, 0.0]);
        assert!((w[[0, 1]] - 2f64.ln()).abs() < 1e-12);
        assert!(count_matrix(&[0, 5], &windows[..1], 2, Weighting::Counts).is_err());
    }
}
