//! Parquet input, through the arrow reader.

use crate::{choose_columns, io_error, Dataset, Selection};
use anomex_core::{Error, Frame, Result};
use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Boolean)
}

/// Reads numeric columns (any integer or float type) and optional time and label columns.
/// Without `--time-col`, a column named like a time or of a temporal type is the time column.
pub fn read(path: &Path, sel: &Selection) -> Result<Dataset> {
    let source = path.display().to_string();
    let perr = |e: &dyn std::fmt::Display| Error::input(format!("{source}: {e}"));
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| perr(&e))?;
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let types: Vec<DataType> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    let chosen = choose_columns(
        &names,
        sel,
        || (0..types.len()).find(|&j| types[j].is_temporal()),
        |j| is_numeric(&types[j]),
    )?;
    let (time_idx, label_idx, value_idx) = (chosen.time, chosen.label, chosen.values);
    if let Some(&j) = value_idx.iter().find(|&&j| !is_numeric(&types[j])) {
        return Err(Error::input(format!(
            "{source}: column `{}` has type {} and cannot be scored",
            names[j], types[j]
        )));
    }
    if value_idx.is_empty() {
        return Err(Error::input(format!(
            "{source}: no numeric column to score"
        )));
    }
    let reader = builder.build().map_err(|e| perr(&e))?;
    let mut columns: Vec<Vec<f64>> = vec![Vec::new(); value_idx.len()];
    let mut timestamps: Option<Vec<String>> = time_idx.map(|_| Vec::new());
    let mut labels: Option<Vec<bool>> = label_idx.map(|_| Vec::new());
    for batch in reader {
        let batch = batch.map_err(|e| perr(&e))?;
        for (k, &j) in value_idx.iter().enumerate() {
            let c = cast(batch.column(j), &DataType::Float64).map_err(|e| perr(&e))?;
            let c = c.as_primitive::<Float64Type>();
            columns[k]
                .extend((0..c.len()).map(|i| if c.is_null(i) { f64::NAN } else { c.value(i) }));
        }
        if let (Some(ts), Some(j)) = (timestamps.as_mut(), time_idx) {
            let c = cast(batch.column(j), &DataType::Utf8).map_err(|e| perr(&e))?;
            let c = c.as_string::<i32>();
            ts.extend((0..c.len()).map(|i| c.value(i).to_string()));
        }
        if let (Some(ls), Some(j)) = (labels.as_mut(), label_idx) {
            let c = cast(batch.column(j), &DataType::Float64).map_err(|e| perr(&e))?;
            let c = c.as_primitive::<Float64Type>();
            ls.extend((0..c.len()).map(|i| !c.is_null(i) && c.value(i) != 0.0));
        }
    }
    let col_names: Vec<String> = value_idx.iter().map(|&j| names[j].clone()).collect();
    for (c, n) in columns.iter_mut().zip(&col_names) {
        sel.fill.apply(c, n, |i| format!("{source}: row {i}"))?;
    }
    let mut frame = Frame::from_named_columns(&columns, col_names).map_err(|e| perr(&e))?;
    if let Some(ts) = timestamps {
        frame = frame.with_timestamps(ts)?;
    }
    Ok(Dataset { frame, labels })
}
