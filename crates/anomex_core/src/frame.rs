//! [`Frame`]: the validated rows × columns table every detector consumes.

use crate::{Error, Result};
use ndarray::{Array2, ArrayView1, ArrayView2, Axis, CowArray, Ix2};

/// Rows × columns of finite `f64`, with column names and optional per-row timestamps.
///
/// A frame is validated once, at construction: it is never empty, rectangular, and every value
/// is finite. Detectors can therefore rely on clean data and only check their own preconditions
/// (e.g. a window shorter than the series).
///
/// The values are row-major and either owned (`Frame<'static>`, what readers build) or borrowed
/// from the caller's array ([`Frame::borrowed`]: the Python bindings score a numpy array in
/// place).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame<'a> {
    values: CowArray<'a, f64, Ix2>,
    columns: Vec<String>,
    timestamps: Option<Vec<String>>,
}

impl Frame<'static> {
    /// Builds a frame from a `rows × cols` array, checking shape and finiteness.
    pub fn new(values: Array2<f64>, columns: Vec<String>) -> Result<Self> {
        Frame::checked(CowArray::from(values), columns)
    }

    /// One column named `value`.
    pub fn from_series(series: &[f64]) -> Result<Self> {
        let values = Array2::from_shape_vec((series.len(), 1), series.to_vec())
            .map_err(|e| Error::input(e.to_string()))?;
        Frame::new(values, vec!["value".to_string()])
    }

    /// Columns given as separate vectors of equal length, named `c0, c1, …`.
    pub fn from_columns(columns: &[Vec<f64>]) -> Result<Self> {
        let names = (0..columns.len()).map(|j| format!("c{j}")).collect();
        Frame::from_named_columns(columns, names)
    }

    /// Columns given as separate vectors of equal length, with names.
    pub fn from_named_columns(columns: &[Vec<f64>], names: Vec<String>) -> Result<Self> {
        let rows = columns.first().map_or(0, Vec::len);
        if let Some((j, c)) = columns.iter().enumerate().find(|(_, c)| c.len() != rows) {
            return Err(Error::input(format!(
                "column {j} has {} rows, column 0 has {rows}",
                c.len()
            )));
        }
        let values = Array2::from_shape_fn((rows, columns.len()), |(i, j)| columns[j][i]);
        Frame::new(values, names)
    }
}

impl<'a> Frame<'a> {
    /// A frame over the caller's values, without copying them when they are row-major
    /// (otherwise they are copied into row-major order once); checked as [`Frame::new`] checks.
    pub fn borrowed(values: ArrayView2<'a, f64>, columns: Vec<String>) -> Result<Self> {
        let values = if values.is_standard_layout() {
            CowArray::from(values)
        } else {
            CowArray::from(values.as_standard_layout().into_owned())
        };
        Frame::checked(values, columns)
    }

    fn checked(values: CowArray<'a, f64, Ix2>, columns: Vec<String>) -> Result<Self> {
        let (rows, cols) = values.dim();
        if rows == 0 || cols == 0 {
            return Err(Error::input(format!(
                "the data is empty ({rows} rows × {cols} columns)"
            )));
        }
        if columns.len() != cols {
            return Err(Error::input(format!(
                "{} column names given for {cols} columns",
                columns.len()
            )));
        }
        if !all_finite(&values) {
            // the slower indexed walk only to name the first bad cell
            if let Some(((row, col), v)) = values.indexed_iter().find(|(_, v)| !v.is_finite()) {
                return Err(Error::input(format!(
                    "non-finite value {v} at row {row}, column `{}`; fill or drop it first",
                    columns[col]
                )));
            }
        }
        Ok(Frame {
            values,
            columns,
            timestamps: None,
        })
    }

    /// Attaches one timestamp per row (kept as text, as read).
    pub fn with_timestamps(mut self, timestamps: Vec<String>) -> Result<Self> {
        if timestamps.len() != self.rows() {
            return Err(Error::input(format!(
                "{} timestamps for {} rows",
                timestamps.len(),
                self.rows()
            )));
        }
        self.timestamps = Some(timestamps);
        Ok(self)
    }

    pub fn rows(&self) -> usize {
        self.values.nrows()
    }
    pub fn cols(&self) -> usize {
        self.values.ncols()
    }
    pub fn values(&self) -> ArrayView2<'_, f64> {
        self.values.view()
    }
    pub fn column_names(&self) -> &[String] {
        &self.columns
    }
    pub fn timestamps(&self) -> Option<&[String]> {
        self.timestamps.as_deref()
    }
    pub fn column(&self, j: usize) -> ArrayView1<'_, f64> {
        self.values.column(j)
    }
    /// Column `j` copied into a contiguous vector (series kernels want slices).
    pub fn column_vec(&self, j: usize) -> Vec<f64> {
        self.values.column(j).to_vec()
    }
    pub fn row(&self, i: usize) -> ArrayView1<'_, f64> {
        self.values.row(i)
    }

    /// Rows `start..end` as a new frame (timestamps kept).
    pub fn slice_rows(&self, start: usize, end: usize) -> Result<Frame<'static>> {
        if start >= end || end > self.rows() {
            return Err(Error::input(format!(
                "row range {start}..{end} is empty or outside 0..{}",
                self.rows()
            )));
        }
        Ok(Frame {
            values: CowArray::from(
                self.values
                    .slice_axis(Axis(0), (start..end).into())
                    .to_owned(),
            ),
            columns: self.columns.clone(),
            timestamps: self.timestamps.as_ref().map(|t| t[start..end].to_vec()),
        })
    }

    /// Checks that every row index (of rows to explain, say) lies inside the frame.
    pub fn expect_rows(&self, rows: &[usize]) -> Result<()> {
        match rows.iter().find(|&&r| r >= self.rows()) {
            Some(row) => Err(Error::input(format!(
                "row {row} is outside the data (0..{})",
                self.rows()
            ))),
            None => Ok(()),
        }
    }

    /// Checks that `other` has the same number of columns as the frame a model was fitted on.
    pub fn expect_cols(&self, cols: usize) -> Result<()> {
        if self.cols() != cols {
            return Err(Error::input(format!(
                "the model was fitted on {cols} column(s) but the data has {}",
                self.cols()
            )));
        }
        Ok(())
    }
}

/// Point labels aligned with a frame's rows: `true` = anomalous.
pub type Labels = Vec<bool>;

/// Contiguous runs of `true` as inclusive `(start, end)` row ranges.
pub fn spans(labels: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &l) in labels.iter().enumerate() {
        match (l, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, labels.len() - 1));
    }
    out
}

/// Whether every value is finite. Blocks folded without an early exit, so that the test
/// vectorises (a third of the time of a value-by-value `any` on a 100,000 × 16 frame); a block
/// with a bad value stops the walk.
fn all_finite(values: &CowArray<'_, f64, Ix2>) -> bool {
    match values.as_slice() {
        Some(all) => all
            .chunks(1024)
            .all(|block| block.iter().fold(true, |ok, v| ok & v.is_finite())),
        None => values.iter().all(|v| v.is_finite()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_nan_naming_row_and_column() {
        let err = Frame::from_columns(&[vec![1.0, f64::NAN]]).unwrap_err();
        assert!(err.to_string().contains("row 1"), "{err}");
        assert!(err.to_string().contains("c0"), "{err}");
    }

    #[test]
    fn borrowed_frames_read_row_major_data_in_place() {
        let data = Array2::from_shape_fn((4, 3), |(i, j)| (i * 3 + j) as f64);
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let f = Frame::borrowed(data.view(), names.clone()).unwrap();
        assert_eq!(
            f.values().as_ptr(),
            data.as_ptr(),
            "row-major data is not copied"
        );
        assert_eq!(f.values(), data.view());
        assert_eq!(f.column_names(), &names[..]);
        // column-major data is copied into row-major order, same values
        let t = data.t().to_owned();
        let f = Frame::borrowed(t.t(), names.clone()).unwrap();
        assert!(f.values().is_standard_layout());
        assert_eq!(f.values(), data.view());
        let mut bad = data.clone();
        bad[[2, 1]] = f64::NAN;
        let e = Frame::borrowed(bad.view(), names).unwrap_err().to_string();
        assert!(e.contains("row 2, column `b`"), "{e}");
    }

    #[test]
    fn rejects_empty_and_ragged() {
        assert!(Frame::from_columns(&[]).is_err());
        assert!(Frame::from_series(&[]).is_err());
        let err = Frame::from_columns(&[vec![1.0, 2.0], vec![1.0]]).unwrap_err();
        assert!(err.to_string().contains("column 1"), "{err}");
    }

    #[test]
    fn spans_are_inclusive_runs() {
        let l = [true, true, false, false, true, false, true];
        assert_eq!(spans(&l), vec![(0, 1), (4, 4), (6, 6)]);
        assert!(spans(&[false, false]).is_empty());
    }
}
