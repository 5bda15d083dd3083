//! CSV / TSV input.

use crate::{choose_columns, io_error, parse_label, Dataset, Selection};
use anomex_core::{Error, Frame, Result};
use std::path::Path;

fn is_number(cell: &str) -> bool {
    cell.trim().parse::<f64>().is_ok()
}

/// A text cell that may be a timestamp: it holds a digit (`tcp` or `SF` are categories).
fn may_be_time(cell: &str) -> bool {
    cell.bytes().any(|b| b.is_ascii_digit())
}

/// Reads a delimited text file in one pass (see [`Selection`] for the column rules).
pub fn read(path: &Path, sel: &Selection, delimiter: u8) -> Result<Dataset> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    read_from(file, sel, delimiter, &path.display().to_string())
}

/// Keeps blank lines in the middle of the text as records with one empty field.
///
/// The csv parser skips blank lines, which in a one-column file would silently drop missing
/// values (and shift every later row). This adapter turns each blank line that is followed by more
/// data into `""` (an empty field) so it becomes a missing value, or a ragged-row error in a file
/// of several columns; blank lines at the end of the file are dropped. Line numbers are kept, and
/// CRLF line endings are normalised to LF.
struct BlankLines<R> {
    inner: R,
    out: Vec<u8>,
    pos: usize,
    /// Blank lines seen since the last line with content.
    pending: usize,
    seen_content: bool,
}

impl<R: std::io::BufRead> std::io::Read for BlankLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            let mut line = Vec::new();
            if self.inner.read_until(b'\n', &mut line)? == 0 {
                return Ok(0);
            }
            if line.iter().all(|b| matches!(b, b'\n' | b'\r')) {
                if self.seen_content {
                    self.pending += 1;
                }
                continue;
            }
            for _ in 0..std::mem::take(&mut self.pending) {
                self.out.extend_from_slice(b"\"\"\n");
            }
            // CRLF becomes LF: the parser would otherwise report each record on the line before
            if line.ends_with(b"\r\n") {
                line.truncate(line.len() - 2);
                line.push(b'\n');
            }
            self.out.extend_from_slice(&line);
            self.seen_content = true;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Reads delimited text from any reader; `source` names it in messages.
pub fn read_from<R: std::io::Read>(
    input: R,
    sel: &Selection,
    delimiter: u8,
    source: &str,
) -> Result<Dataset> {
    let input = BlankLines {
        inner: std::io::BufReader::with_capacity(1 << 16, input),
        out: Vec::new(),
        pos: 0,
        pending: 0,
        seen_content: false,
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(false)
        .trim(::csv::Trim::All)
        .from_reader(input);
    let mut records = reader.records();
    let csv_err = |e: ::csv::Error| match e.kind() {
        ::csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => Error::input(format!(
            "{source}: line {} has {len} fields, expected {expected_len} (ragged rows)",
            pos.as_ref().map_or(0, |p| p.line())
        )),
        _ => Error::input(format!("{source}: {e}")),
    };
    let first = match records.next() {
        None => return Err(Error::input(format!("{source}: the file is empty"))),
        Some(r) => r.map_err(csv_err)?,
    };
    let second = records.next().transpose().map_err(csv_err)?;

    let header = sel.header.unwrap_or_else(|| match &second {
        Some(s) => first
            .iter()
            .zip(s.iter())
            .any(|(a, b)| !is_number(a) && !a.is_empty() && is_number(b)),
        None => first.iter().all(|c| !is_number(c)),
    });
    let names: Vec<String> = if header {
        first.iter().map(str::to_string).collect()
    } else {
        (0..first.len()).map(|j| format!("c{j}")).collect()
    };
    let sample = if header {
        second.as_ref()
    } else {
        Some(&first)
    };
    let Some(sample) = sample else {
        return Err(Error::input(format!(
            "{source}: the file has a header but no data rows"
        )));
    };

    let chosen = choose_columns(
        &names,
        sel,
        || (!is_number(&sample[0]) && may_be_time(&sample[0]) && names.len() > 1).then_some(0),
        |_| true,
    )?;
    let (time_idx, label_idx, value_idx) = (chosen.time, chosen.label, chosen.values);
    if value_idx.is_empty() {
        return Err(Error::input(format!("{source}: no value column to score")));
    }
    let categorical = categorical_columns(&names, &value_idx, sel, sample)?;

    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); value_idx.len()];
    let mut categories: Vec<Vec<String>> = vec![Vec::new(); value_idx.len()];
    let mut timestamps = time_idx.map(|_| Vec::new());
    let mut labels = label_idx.map(|_| Vec::new());
    let mut lines: Vec<u64> = Vec::new();
    let mut push = |rec: &::csv::StringRecord| -> Result<()> {
        let line = rec.position().map_or(0, |p| p.line());
        for (k, &j) in value_idx.iter().enumerate() {
            let cell = &rec[j];
            if categorical[k] {
                categories[k].push(cell.to_string());
                continue;
            }
            let v = if cell.is_empty() {
                f64::NAN
            } else {
                cell.parse::<f64>().map_err(|_| {
                    Error::input(format!(
                        "{source}: line {line}, column `{}`: `{cell}` is not a number",
                        names[j]
                    ))
                })?
            };
            columns[k].push(v);
        }
        if let (Some(ts), Some(j)) = (timestamps.as_mut(), time_idx) {
            ts.push(rec[j].to_string());
        }
        if let (Some(ls), Some(j)) = (labels.as_mut(), label_idx) {
            let label = match &sel.normal_label {
                Some(normal) => Some(rec[j].trim() != normal),
                None => parse_label(&rec[j]),
            };
            ls.push(label.ok_or_else(|| {
                Error::input(format!(
                    "{source}: line {line}, label column `{}`: `{}` is not a label \
                     (name the normal value with --normal-label)",
                    names[j], &rec[j]
                ))
            })?);
        }
        lines.push(line);
        Ok(())
    };
    if !header {
        push(&first)?;
    }
    if let Some(s) = &second {
        push(s)?;
    }
    for rec in records {
        push(&rec.map_err(csv_err)?)?;
    }

    let mut col_names = Vec::new();
    let mut out_columns = Vec::new();
    for (k, &j) in value_idx.iter().enumerate() {
        if categorical[k] {
            let (names_k, cols_k) =
                one_hot(&names[j], &categories[k], sel.encoding.as_deref(), source)?;
            col_names.extend(names_k);
            out_columns.extend(cols_k);
        } else {
            let mut col = std::mem::take(&mut columns[k]);
            sel.fill.apply(&mut col, &names[j], |i| {
                format!("{source}: line {}", lines[i])
            })?;
            col_names.push(names[j].clone());
            out_columns.push(col);
        }
    }
    let columns = out_columns;
    let mut frame = Frame::from_named_columns(&columns, col_names)
        .map_err(|e| Error::input(format!("{source}: {e}")))?;
    if let Some(ts) = timestamps {
        frame = frame.with_timestamps(ts)?;
    }
    Ok(Dataset { frame, labels })
}

/// Which value columns are categorical: the named ones, those a model encoded (`name=value`
/// columns in [`Selection::encoding`]), or else those whose first data cell is text.
fn categorical_columns(
    names: &[String],
    value_idx: &[usize],
    sel: &Selection,
    sample: &::csv::StringRecord,
) -> Result<Vec<bool>> {
    let named = match &sel.categorical {
        Some(cols) => cols
            .iter()
            .map(|c| crate::find_column(names, c, "categorical column"))
            .collect::<Result<Vec<usize>>>()?,
        None => Vec::new(),
    };
    if let Some(j) = named.iter().find(|j| !value_idx.contains(j)) {
        return Err(Error::input(format!(
            "categorical column `{}` is not a value column (it is the time or label column, or \
             not among --columns)",
            names[*j]
        )));
    }
    Ok(value_idx
        .iter()
        .map(|&j| match (&sel.encoding, &sel.categorical) {
            (Some(encoded), _) => {
                let prefix = format!("{}=", names[j]);
                encoded.iter().any(|e| e.starts_with(&prefix)) && !encoded.contains(&names[j])
            }
            (None, Some(_)) => named.contains(&j),
            (None, None) => {
                let cell = sample.get(j).unwrap_or_default();
                !cell.is_empty() && !is_number(cell)
            }
        })
        .collect())
}

/// One indicator column per category (`name=value`, in order of first appearance, or as a
/// model's encoding lists them; an empty cell is the category `name=`).
fn one_hot(
    name: &str,
    cells: &[String],
    encoding: Option<&[String]>,
    source: &str,
) -> Result<(Vec<String>, Vec<Vec<f64>>)> {
    let prefix = format!("{name}=");
    let vocabulary: Vec<String> = match encoding {
        Some(encoded) => encoded
            .iter()
            .filter_map(|e| e.strip_prefix(&prefix).map(str::to_string))
            .collect(),
        None => {
            let mut seen = std::collections::HashSet::new();
            let mut vocabulary = Vec::new();
            for c in cells {
                if seen.insert(c.as_str()) {
                    if vocabulary.len() == crate::MAX_CATEGORIES {
                        return Err(Error::input(format!(
                            "{source}: column `{name}` has more than {} distinct values; an \
                             identifier is no category (leave it out with --columns)",
                            crate::MAX_CATEGORIES
                        )));
                    }
                    vocabulary.push(c.clone());
                }
            }
            vocabulary
        }
    };
    let index: std::collections::HashMap<&str, usize> = vocabulary
        .iter()
        .enumerate()
        .map(|(i, v)| (v.as_str(), i))
        .collect();
    let mut columns = vec![vec![0.0; cells.len()]; vocabulary.len()];
    for (row, c) in cells.iter().enumerate() {
        if let Some(&i) = index.get(c.as_str()) {
            columns[i][row] = 1.0;
        }
    }
    let names = vocabulary.iter().map(|v| format!("{prefix}{v}")).collect();
    Ok((names, columns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Fill;

    fn load(text: &str, sel: &Selection) -> Result<Dataset> {
        read_from(text.as_bytes(), sel, b',', "test.csv")
    }

    #[test]
    fn nab_layout() {
        let d = load(
            "timestamp,value\n2013-12-02 21:15:00,73.9\n2013-12-02 21:20:00,74.9\n",
            &Selection::default(),
        )
        .unwrap();
        assert_eq!(d.frame.rows(), 2);
        assert_eq!(d.frame.column_names(), ["value"]);
        assert_eq!(d.frame.timestamps().unwrap()[1], "2013-12-02 21:20:00");
    }

    #[test]
    fn headerless_and_selected_columns() {
        let d = load("1,2,0\n3,4,1\n5,6,0\n", &Selection::default()).unwrap();
        assert_eq!(d.frame.cols(), 3);
        assert!(d.frame.timestamps().is_none());
        let sel = Selection {
            columns: Some(vec!["c1".into()]),
            label_col: Some("2".into()),
            ..Default::default()
        };
        let d = load("1,2,0\n3,4,1\n5,6,0\n", &sel).unwrap();
        assert_eq!(d.frame.column_vec(0), vec![2.0, 4.0, 6.0]);
        assert_eq!(d.labels.unwrap(), vec![false, true, false]);
    }

    #[test]
    fn errors_name_line_and_column() {
        let sel = Selection::default();
        let err = load("t,a,b\n1,2,3\n2,x,4\n", &sel).unwrap_err().to_string();
        assert!(
            err.contains("line 3") && err.contains("column `a`") && err.contains("`x`"),
            "{err}"
        );
        let err = load("a,b\n1,2\n3\n", &sel).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("ragged"), "{err}");
        let err = load("", &sel).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        let err = load("a,b\n", &sel).unwrap_err().to_string();
        assert!(err.contains("no data rows"), "{err}");
        let err = load("a,b\n1,\n2,3\n", &sel).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("--fill"), "{err}");
        let err = load("a,b\n1,NaN\n2,3\n", &sel).unwrap_err().to_string();
        assert!(
            err.contains("line 2") && err.contains("column `b`"),
            "{err}"
        );
        let err = load(
            "a,b\n1,2\n",
            &Selection {
                time_col: Some("zz".into()),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`zz` not found"), "{err}");
    }

    #[test]
    fn fill_policy_applies() {
        let sel = Selection {
            fill: Fill::Linear,
            ..Default::default()
        };
        let d = load("a,b\n1,1\n,2\n3,3\n", &sel).unwrap();
        assert_eq!(d.frame.column_vec(0), vec![1.0, 2.0, 3.0]);
        // a blank line in a one-column file is a missing value, not a skipped row
        let d = load("a\n1\n\n3\n\n\n", &sel).unwrap();
        assert_eq!(d.frame.column_vec(0), vec![1.0, 2.0, 3.0]);
        for text in ["a\n1\n\n3\n", "a\r\n1\r\n\r\n3\r\n"] {
            let err = load(text, &Selection::default()).unwrap_err().to_string();
            assert!(err.contains("line 3"), "{text:?}: {err}");
        }
        // in a file of several columns it is a ragged row
        let err = load("a,b\n1,2\n\n3,4\n", &Selection::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains("ragged"), "{err}");
    }

    #[test]
    fn text_columns_are_categories_one_hot_encoded() {
        let text = "0,tcp,SF,491,normal\n0,udp,SF,146,neptune\n2,tcp,REJ,0,normal\n";
        let sel = Selection {
            label_col: Some("4".into()),
            normal_label: Some("normal".into()),
            ..Default::default()
        };
        let d = load(text, &sel).unwrap();
        assert!(
            d.frame.timestamps().is_none(),
            "`0` is no time, `tcp` a category"
        );
        assert_eq!(
            d.frame.column_names(),
            ["c0", "c1=tcp", "c1=udp", "c2=SF", "c2=REJ", "c3"]
        );
        assert_eq!(d.frame.column_vec(2), vec![0.0, 1.0, 0.0]);
        assert_eq!(d.labels.unwrap(), vec![false, true, false]);
        // encoded as a model saw them: its order, unseen values all zeros
        let sel = Selection {
            encoding: Some(
                ["c0", "c1=udp", "c1=tcp", "c2=SF", "c3"]
                    .map(String::from)
                    .to_vec(),
            ),
            columns: Some(["0", "1", "2", "3"].map(String::from).to_vec()),
            ..Default::default()
        };
        let d = load("1,icmp,SF,5\n1,udp,RSTO,6\n", &sel).unwrap();
        assert_eq!(
            d.frame.column_names(),
            ["c0", "c1=udp", "c1=tcp", "c2=SF", "c3"]
        );
        assert_eq!(d.frame.row(0).to_vec(), vec![1.0, 0.0, 0.0, 1.0, 5.0]);
        assert_eq!(d.frame.row(1).to_vec(), vec![1.0, 1.0, 0.0, 0.0, 6.0]);
    }

    #[test]
    fn a_leading_text_column_with_digits_is_still_a_time_and_ids_are_refused() {
        let d = load("Jan 5 10:00,1\nJan 5 10:05,2\n", &Selection::default()).unwrap();
        assert!(d.frame.timestamps().is_some());
        let mut text = String::from("id,v\n");
        for i in 0..(crate::MAX_CATEGORIES + 1) {
            text.push_str(&format!("u{i}x,{i}\n"));
        }
        let sel = Selection {
            time_col: Some("v".into()),
            categorical: Some(vec!["id".into()]),
            ..Default::default()
        };
        let err = load(&text, &sel).unwrap_err().to_string();
        assert!(err.contains("more than 1000 distinct values"), "{err}");
        let err = load(
            "a,b\n1,x\n",
            &Selection {
                categorical: Some(vec!["zz".into()]),
                ..Default::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`zz` not found"), "{err}");
    }
}
