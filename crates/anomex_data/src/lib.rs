//! Reading user data into a [`Frame`] and writing scores out.
//!
//! * [`csv`]: header detection, time / value / label column selection, a line-and-column
//!   message for every bad cell, explicit fill policies for missing values; read in one
//!   streaming pass (the text is never held twice).
//! * [`npy`]: `.npy` (1-D series or 2-D rows × columns) and `.npz` archives; [`npy_stream`]:
//!   `.npy` rows a chunk at a time, for data larger than memory.
//! * [`parquet`]: numeric columns of a Parquet file, with an optional time and label column.
//! * [`suite`]: benchmark suites (NAB, SMAP/MSL, ADBench, TSB-AD, UCR, labelled CSV).
//! * [`output`]: one row per input row, `index, timestamp?, score, label`, as CSV, JSON or
//!   Parquet.

pub mod csv;
mod fill;
pub mod npy;
pub mod npy_stream;
pub mod output;
pub mod parquet;
pub mod suite;

pub use fill::Fill;

use anomex_core::{Error, Frame, Result};
use std::path::Path;

/// Which columns to use; names, or zero-based indices written as numbers.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The timestamp column; `None` = detect a column named like a time, or a leading text column.
    pub time_col: Option<String>,
    /// Value columns; `None` = every numeric column except the time and label columns.
    pub columns: Option<Vec<String>>,
    /// A column of ground-truth labels (non-zero = anomalous).
    pub label_col: Option<String>,
    /// Whether the first row is a header; `None` = detect.
    pub header: Option<bool>,
    /// What to do with missing or non-finite values.
    pub fill: Fill,
    /// Categorical columns, one-hot encoded; `None` = every value column whose first data cell
    /// is text (CSV/TSV).
    pub categorical: Option<Vec<String>>,
    /// The encoded columns a model was fitted on (`name=value` for categorical ones): the
    /// categories are encoded to exactly these, in this order; a value the model never saw
    /// gets zeros in all of its column's indicators.
    pub encoding: Option<Vec<String>>,
    /// The label value that means normal (every other value is anomalous); `None` = numbers
    /// (non-zero = anomalous) or true/false words.
    pub normal_label: Option<String>,
}

/// The most categories one column may have (a column of ids would otherwise become as many
/// indicator columns as rows).
pub const MAX_CATEGORIES: usize = 1000;

/// A loaded data set: the frame and, when a label column was given, its labels.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub frame: Frame<'static>,
    pub labels: Option<Vec<bool>>,
}

/// Reads a file by its extension: `.csv`/`.tsv`/`.txt`, `.npy`, `.npz`, `.parquet`/`.pq`.
pub fn read(path: &Path, selection: &Selection) -> Result<Dataset> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "npy" => npy::read_npy(path, selection),
        "npz" => npy::read_npz(path, selection),
        "parquet" | "pq" => parquet::read(path, selection),
        "tsv" => csv::read(path, selection, b'\t'),
        _ => csv::read(path, selection, b','),
    }
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Resolves a column reference (a name, or a zero-based index) against `names`.
pub(crate) fn find_column(names: &[String], wanted: &str, what: &str) -> Result<usize> {
    if let Some(i) = names.iter().position(|n| n == wanted) {
        return Ok(i);
    }
    if let Ok(i) = wanted.parse::<usize>() {
        if i < names.len() {
            return Ok(i);
        }
    }
    Err(Error::input(format!(
        "{what} `{wanted}` not found; columns are: {}",
        names.join(", ")
    )))
}

/// Column names that mark a time column when no `--time-col` is given.
pub(crate) const TIME_NAMES: &[&str] = &["timestamp", "time", "date", "datetime", "ts"];

/// Indices of the time, label and value columns chosen by `sel` among `names`.
pub(crate) struct Chosen {
    pub time: Option<usize>,
    pub label: Option<usize>,
    pub values: Vec<usize>,
}

/// Resolves the selection: the time column is `--time-col`, else a column named like a time,
/// else `guess_time()`; the values are `--columns`, else every other column that `is_value`
/// accepts.
pub(crate) fn choose_columns(
    names: &[String],
    sel: &Selection,
    guess_time: impl FnOnce() -> Option<usize>,
    is_value: impl Fn(usize) -> bool,
) -> Result<Chosen> {
    let time = match &sel.time_col {
        Some(t) => Some(find_column(names, t, "time column")?),
        None => names
            .iter()
            .position(|n| TIME_NAMES.contains(&n.to_ascii_lowercase().as_str()))
            .or_else(guess_time),
    };
    let label = sel
        .label_col
        .as_ref()
        .map(|l| find_column(names, l, "label column"))
        .transpose()?;
    let values = match &sel.columns {
        Some(cols) => cols
            .iter()
            .map(|c| find_column(names, c, "column"))
            .collect::<Result<_>>()?,
        None => (0..names.len())
            .filter(|&j| Some(j) != time && Some(j) != label && is_value(j))
            .collect(),
    };
    Ok(Chosen {
        time,
        label,
        values,
    })
}

/// Parses a label cell: numbers (non-zero = anomalous) or true/false.
pub(crate) fn parse_label(cell: &str) -> Option<bool> {
    let c = cell.trim();
    match c.to_ascii_lowercase().as_str() {
        "true" | "yes" | "anomaly" => Some(true),
        "false" | "no" | "normal" | "" => Some(false),
        _ => c.parse::<f64>().ok().map(|v| v != 0.0),
    }
}
