//! Score output: one row per input row with `index`, `timestamp` (when the input had one),
//! `score`, `label`, and `calibrated` when a calibrated score was computed.

use anomex_core::{Error, Result};
use arrow::array::{ArrayRef, BooleanArray, Float64Array, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

/// The per-row result of a detection run.
#[derive(Debug, Clone)]
pub struct ScoreTable<'a> {
    pub timestamps: Option<&'a [String]>,
    pub scores: &'a [f64],
    pub labels: &'a [bool],
    pub calibrated: Option<&'a [f64]>,
}

#[derive(Serialize)]
struct Row<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
    score: f64,
    label: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    calibrated: Option<f64>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Parquet,
}

impl Format {
    /// The format from a file extension (`.csv`, `.json`, `.parquet`/`.pq`).
    pub fn from_path(path: &Path) -> Result<Format> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Ok(Format::Csv),
            Some("json") => Ok(Format::Json),
            Some("parquet" | "pq") => Ok(Format::Parquet),
            other => Err(Error::input(format!(
                "cannot tell the output format from extension {:?}; use .csv, .json or .parquet",
                other.unwrap_or("")
            ))),
        }
    }
}

impl ScoreTable<'_> {
    fn check(&self) -> Result<()> {
        let n = self.scores.len();
        let ok = self.labels.len() == n
            && self.timestamps.is_none_or(|t| t.len() == n)
            && self.calibrated.is_none_or(|c| c.len() == n);
        if ok {
            Ok(())
        } else {
            Err(Error::input("score table columns have different lengths"))
        }
    }

    fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        (0..self.scores.len()).map(move |i| Row {
            index: i,
            timestamp: self.timestamps.map(|t| t[i].as_str()),
            score: self.scores[i],
            label: u8::from(self.labels[i]),
            calibrated: self.calibrated.map(|c| c[i]),
        })
    }

    /// Writes CSV to any writer.
    pub fn write_csv<W: std::io::Write>(&self, out: W) -> Result<()> {
        self.check()?;
        let mut w = ::csv::Writer::from_writer(out);
        for row in self.rows() {
            w.serialize(row).map_err(|e| Error::input(e.to_string()))?;
        }
        w.flush().map_err(|e| Error::input(e.to_string()))
    }

    /// Writes a JSON array of row objects.
    pub fn write_json<W: std::io::Write>(&self, out: W) -> Result<()> {
        self.check()?;
        let rows: Vec<Row<'_>> = self.rows().collect();
        serde_json::to_writer(out, &rows).map_err(|e| Error::input(e.to_string()))
    }

    /// Writes a Parquet file (snappy-compressed).
    pub fn write_parquet<W: std::io::Write + Send>(&self, out: W) -> Result<()> {
        self.check()?;
        let n = self.scores.len();
        let mut fields = vec![Field::new("index", DataType::UInt64, false)];
        let mut cols: Vec<ArrayRef> = vec![Arc::new(UInt64Array::from_iter_values(0..n as u64))];
        if let Some(t) = self.timestamps {
            fields.push(Field::new("timestamp", DataType::Utf8, false));
            cols.push(Arc::new(StringArray::from_iter_values(t.iter())));
        }
        fields.push(Field::new("score", DataType::Float64, false));
        cols.push(Arc::new(Float64Array::from(self.scores.to_vec())));
        fields.push(Field::new("label", DataType::Boolean, false));
        cols.push(Arc::new(BooleanArray::from(self.labels.to_vec())));
        if let Some(c) = self.calibrated {
            fields.push(Field::new("calibrated", DataType::Float64, false));
            cols.push(Arc::new(Float64Array::from(c.to_vec())));
        }
        write_parquet_batch(out, fields, cols)
    }

    /// Writes to `path` in the format its extension names.
    pub fn write(&self, path: &Path) -> Result<()> {
        let format = Format::from_path(path)?;
        let file = std::fs::File::create(path).map_err(|e| crate::io_error(path, e))?;
        let out = std::io::BufWriter::new(file);
        match format {
            Format::Csv => self.write_csv(out),
            Format::Json => self.write_json(out),
            Format::Parquet => self.write_parquet(out),
        }
    }
}

/// Writes one record batch as a snappy-compressed Parquet file.
fn write_parquet_batch<W: std::io::Write + Send>(
    out: W,
    fields: Vec<Field>,
    cols: Vec<ArrayRef>,
) -> Result<()> {
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
        .map_err(|e| Error::input(e.to_string()))?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let mut w = parquet::arrow::ArrowWriter::try_new(out, batch.schema(), Some(props))
        .map_err(|e| Error::input(e.to_string()))?;
    w.write(&batch).map_err(|e| Error::input(e.to_string()))?;
    w.close().map_err(|e| Error::input(e.to_string()))?;
    Ok(())
}

/// A labelled data table (e.g. a generated series): named value columns and a `label` column
/// (0/1), written as CSV or Parquet by the extension of `path`.
#[derive(Debug, Clone)]
pub struct LabelledTable<'a> {
    pub names: &'a [String],
    pub columns: &'a [Vec<f64>],
    pub labels: &'a [bool],
}

impl LabelledTable<'_> {
    fn check(&self) -> Result<()> {
        if self.names.len() != self.columns.len()
            || self.columns.iter().any(|c| c.len() != self.labels.len())
        {
            return Err(Error::input(
                "labelled table: every column needs a name and one value per label".to_string(),
            ));
        }
        Ok(())
    }

    /// Writes to `path` (`.csv` or `.parquet`).
    pub fn write(&self, path: &Path) -> Result<()> {
        self.check()?;
        let file = std::fs::File::create(path).map_err(|e| crate::io_error(path, e))?;
        let mut out = std::io::BufWriter::new(file);
        match Format::from_path(path)? {
            Format::Csv => {
                let mut w = csv::Writer::from_writer(&mut out);
                let header = self.names.iter().map(String::as_str).chain(["label"]);
                w.write_record(header)
                    .map_err(|e| Error::input(e.to_string()))?;
                for (i, &label) in self.labels.iter().enumerate() {
                    let mut record: Vec<String> =
                        self.columns.iter().map(|c| c[i].to_string()).collect();
                    record.push(u8::from(label).to_string());
                    w.write_record(&record)
                        .map_err(|e| Error::input(e.to_string()))?;
                }
                w.flush().map_err(|e| crate::io_error(path, e))
            }
            Format::Parquet => {
                let mut fields: Vec<Field> = self
                    .names
                    .iter()
                    .map(|n| Field::new(n, DataType::Float64, false))
                    .collect();
                let mut cols: Vec<ArrayRef> = self
                    .columns
                    .iter()
                    .map(|c| Arc::new(Float64Array::from(c.clone())) as ArrayRef)
                    .collect();
                fields.push(Field::new("label", DataType::UInt8, false));
                cols.push(Arc::new(arrow::array::UInt8Array::from_iter_values(
                    self.labels.iter().map(|&l| u8::from(l)),
                )));
                write_parquet_batch(out, fields, cols)
            }
            Format::Json => Err(Error::input(
                "a labelled table is written as .csv or .parquet".to_string(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{read, Selection};

    #[test]
    fn csv_and_json_rows() {
        let ts = vec!["a".to_string(), "b".to_string()];
        let t = ScoreTable {
            timestamps: Some(&ts),
            scores: &[0.5, 2.0],
            labels: &[false, true],
            calibrated: None,
        };
        let mut buf = Vec::new();
        t.write_csv(&mut buf).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "index,timestamp,score,label\n0,a,0.5,0\n1,b,2.0,1\n"
        );
        let mut buf = Vec::new();
        t.write_json(&mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v[1]["label"], 1);
        assert_eq!(v[1]["timestamp"], "b");
    }

    #[test]
    fn parquet_round_trip_through_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.parquet");
        let ts = vec!["t0".to_string(), "t1".to_string(), "t2".to_string()];
        ScoreTable {
            timestamps: Some(&ts),
            scores: &[0.1, 0.2, 9.0],
            labels: &[false, false, true],
            calibrated: None,
        }
        .write(&p)
        .unwrap();
        let sel = Selection {
            columns: Some(vec!["score".into()]),
            label_col: Some("label".into()),
            ..Default::default()
        };
        let d = read(&p, &sel).unwrap();
        assert_eq!(d.frame.column_vec(0), vec![0.1, 0.2, 9.0]);
        assert_eq!(d.frame.timestamps().unwrap(), ts.as_slice());
        assert_eq!(d.labels.unwrap(), vec![false, false, true]);
        assert!(Format::from_path(Path::new("x.xlsx")).is_err());
    }
}
