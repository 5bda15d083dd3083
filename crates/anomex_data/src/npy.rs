//! `.npy` and `.npz` input (numpy's formats), through ndarray-npy.

use crate::{io_error, Dataset, Selection};
use anomex_core::{Error, Frame, Result};
use ndarray::{Array1, Array2, Ix1, Ix2};
use ndarray_npy::{NpzReader, ReadNpyExt, ReadableElement};
use std::path::Path;

fn frame_from_2d(a: Array2<f64>, sel: &Selection, source: &str) -> Result<Frame<'static>> {
    let names: Vec<String> = (0..a.ncols()).map(|j| format!("c{j}")).collect();
    if sel.columns.is_none() && a.iter().all(|v| v.is_finite()) {
        // every column, nothing to fill: the array becomes the frame without a copy
        return Frame::new(a, names).map_err(|e| Error::input(format!("{source}: {e}")));
    }
    let picked: Vec<usize> = match &sel.columns {
        Some(cols) => cols
            .iter()
            .map(|c| crate::find_column(&names, c, "column"))
            .collect::<Result<_>>()?,
        None => (0..a.ncols()).collect(),
    };
    let mut columns: Vec<Vec<f64>> = picked.iter().map(|&j| a.column(j).to_vec()).collect();
    let col_names: Vec<String> = picked.iter().map(|&j| names[j].clone()).collect();
    for (c, n) in columns.iter_mut().zip(&col_names) {
        sel.fill.apply(c, n, |i| format!("{source}: row {i}"))?;
    }
    Frame::from_named_columns(&columns, col_names)
        .map_err(|e| Error::input(format!("{source}: {e}")))
}

/// Reads a 1-D or 2-D array of float64, float32 or int64 from a `.npy` file.
pub fn read_npy(path: &Path, sel: &Selection) -> Result<Dataset> {
    let source = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    let a = array_from_npy(&bytes, &source)?;
    Ok(Dataset {
        frame: frame_from_2d(a, sel, &source)?,
        labels: None,
    })
}

/// Somewhere a typed numpy array can be read from: a `.npy` file's bytes or an `.npz` entry.
trait ArraySource {
    fn read2<T: ReadableElement>(&mut self) -> Option<Array2<T>>;
    fn read1<T: ReadableElement>(&mut self) -> Option<Array1<T>>;
}

struct NpyBytes<'a>(&'a [u8]);

impl ArraySource for NpyBytes<'_> {
    fn read2<T: ReadableElement>(&mut self) -> Option<Array2<T>> {
        Array2::<T>::read_npy(self.0).ok()
    }
    fn read1<T: ReadableElement>(&mut self) -> Option<Array1<T>> {
        Array1::<T>::read_npy(self.0).ok()
    }
}

struct NpzEntry<'a, R: std::io::Read + std::io::Seek> {
    npz: &'a mut NpzReader<R>,
    name: &'a str,
}

impl<R: std::io::Read + std::io::Seek> ArraySource for NpzEntry<'_, R> {
    fn read2<T: ReadableElement>(&mut self) -> Option<Array2<T>> {
        self.npz
            .by_name::<ndarray::OwnedRepr<T>, Ix2>(self.name)
            .ok()
    }
    fn read1<T: ReadableElement>(&mut self) -> Option<Array1<T>> {
        self.npz
            .by_name::<ndarray::OwnedRepr<T>, Ix1>(self.name)
            .ok()
    }
}

/// The array as `f64` (1-D arrays as one column), whatever its numeric or boolean element type;
/// `None` for other types or ranks.
fn as_f64(src: &mut impl ArraySource) -> Option<Array2<f64>> {
    fn column(a: Array1<f64>) -> Option<Array2<f64>> {
        let n = a.len();
        a.into_shape_with_order((n, 1)).ok()
    }
    macro_rules! try_type {
        ($($t:ty),*) => {$(
            if let Some(a) = src.read2::<$t>() {
                return Some(a.mapv(|v| v as f64));
            }
            if let Some(a) = src.read1::<$t>() {
                return column(a.mapv(|v| v as f64));
            }
        )*};
    }
    try_type!(f64, f32, i64, i32, i16, i8, u8);
    src.read1::<bool>()
        .and_then(|a| column(a.mapv(|v| f64::from(u8::from(v)))))
}

/// Checks that the data a `.npy` header declares (shape × element size) is in the file before
/// anything is allocated for it: a 192-byte file whose header declares 10¹² × 3 values made the
/// reader ask for 24 TB. A header this cannot read is left to the reader, which refuses it.
fn check_declared_size(bytes: &[u8], source: &str) -> Result<()> {
    let (len_at, width) = match bytes.get(6) {
        Some(1) => (8, 2),
        Some(2 | 3) => (8, 4),
        _ => return Ok(()),
    };
    let Some(len) = bytes.get(len_at..len_at + width) else {
        return Ok(());
    };
    let header_len = len
        .iter()
        .rev()
        .fold(0usize, |a, &b| (a << 8) | usize::from(b));
    let start = len_at + width;
    let Some(header) = bytes.get(start..start.saturating_add(header_len)) else {
        return Ok(());
    };
    let header = String::from_utf8_lossy(header);
    let item = crate::npy_stream::header_value(&header, "descr")
        .map(|d| d.trim_matches(['\'', '"']))
        .and_then(|d| d.trim_start_matches(['<', '>', '|', '=']).get(1..))
        .and_then(|size| size.parse::<usize>().ok());
    let shape = crate::npy_stream::header_value(&header, "shape");
    let (Some(item), Some(shape)) = (item, shape) else {
        return Ok(());
    };
    let mut declared = Some(item);
    for dim in shape.trim_matches(['(', ')']).split(',').map(str::trim) {
        if !dim.is_empty() {
            let n = dim.parse::<usize>().ok();
            declared = declared.zip(n).and_then(|(a, n)| a.checked_mul(n));
        }
    }
    let held = bytes.len() - (start + header_len);
    match declared {
        Some(d) if d <= held => Ok(()),
        _ => Err(Error::input(format!(
            "{source}: the header declares shape {shape} of {item}-byte values, more than the \
             {held} bytes of data the file holds"
        ))),
    }
}

fn array_from_npy(bytes: &[u8], source: &str) -> Result<Array2<f64>> {
    check_declared_size(bytes, source)?;
    as_f64(&mut NpyBytes(bytes)).ok_or_else(|| {
        Error::input(format!(
            "{source}: not a 1-D or 2-D numpy array of floats, integers or booleans"
        ))
    })
}

fn npz_2d<R: std::io::Read + std::io::Seek>(
    npz: &mut NpzReader<R>,
    name: &str,
) -> Option<Array2<f64>> {
    as_f64(&mut NpzEntry { npz, name })
}

/// Reads an `.npz` archive: the data from `X` (or `x`, `data`, or the only array), labels from
/// `y` (or `labels`) when present.
pub fn read_npz(path: &Path, sel: &Selection) -> Result<Dataset> {
    let source = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let mut npz = NpzReader::new(file).map_err(|e| Error::input(format!("{source}: {e}")))?;
    let names = npz
        .names()
        .map_err(|e| Error::input(format!("{source}: {e}")))?;
    let strip = |n: &str| n.trim_end_matches(".npy").to_string();
    let pick = |wanted: &[&str]| {
        names
            .iter()
            .find(|n| wanted.contains(&strip(n).as_str()))
            .cloned()
    };
    let data_name = match pick(&["X", "x", "data"]) {
        Some(n) => n,
        None if names.len() == 1 => names[0].clone(),
        None => {
            return Err(Error::input(format!(
                "{source}: no array named X, x or data; arrays: {}",
                names
                    .iter()
                    .map(|n| strip(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    let a: Array2<f64> = match npz_2d(&mut npz, &data_name) {
        Some(a) => a,
        None => {
            return Err(Error::input(format!(
                "{source}: array `{}` is not a 1-D or 2-D numeric array",
                strip(&data_name)
            )))
        }
    };
    let labels = match pick(&["y", "labels", "label"]) {
        None => None,
        Some(n) => {
            let y = match npz_2d(&mut npz, &n) {
                Some(y) if y.ncols() == 1 => y.column(0).to_vec(),
                _ => {
                    return Err(Error::input(format!(
                        "{source}: labels `{}` are not a 1-D numeric array",
                        strip(&n)
                    )))
                }
            };
            if y.len() != a.nrows() {
                return Err(Error::input(format!(
                    "{source}: {} labels for {} rows",
                    y.len(),
                    a.nrows()
                )));
            }
            Some(y.iter().map(|&v| v != 0.0).collect())
        }
    };
    Ok(Dataset {
        frame: frame_from_2d(a, sel, &source)?,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use ndarray_npy::{NpzWriter, WriteNpyExt};

    /// A `.npy` file of `data` whose header declares `shape` (version 1, `<f8`, C order).
    fn npy_declaring(shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn a_header_that_declares_more_than_the_file_holds_is_refused_before_allocating() {
        let data: Vec<u8> = [1.0f64, 2.0, 3.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let whole = npy_declaring("(1, 3)", &data);
        assert_eq!(array_from_npy(&whole, "ok.npy").unwrap().dim(), (1, 3));
        for shape in ["(1000000000000, 3)", "(4, 3)", "(18446744073709551615, 2)"] {
            let e = array_from_npy(&npy_declaring(shape, &data), "bomb.npy")
                .unwrap_err()
                .to_string();
            assert!(e.contains("more than the 24 bytes of data"), "{shape}: {e}");
        }
    }

    #[test]
    fn npy_1d_and_2d() {
        let dir = tempfile::tempdir().unwrap();
        let p1 = dir.path().join("a.npy");
        array![1.0f64, 2.0, 3.0]
            .write_npy(std::fs::File::create(&p1).unwrap())
            .unwrap();
        let d = read_npy(&p1, &Selection::default()).unwrap();
        assert_eq!(d.frame.column_vec(0), vec![1.0, 2.0, 3.0]);
        let p2 = dir.path().join("b.npy");
        array![[1.0f32, 2.0], [3.0, 4.0]]
            .write_npy(std::fs::File::create(&p2).unwrap())
            .unwrap();
        let d = read_npy(&p2, &Selection::default()).unwrap();
        assert_eq!(d.frame.cols(), 2);
        assert_eq!(d.frame.column_vec(1), vec![2.0, 4.0]);
        std::fs::write(dir.path().join("bad.npy"), b"not numpy").unwrap();
        assert!(read_npy(&dir.path().join("bad.npy"), &Selection::default()).is_err());
    }

    #[test]
    fn npz_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.npz");
        let mut w = NpzWriter::new(std::fs::File::create(&p).unwrap());
        w.add_array("X", &array![[1.0f64, 2.0], [3.0, 4.0], [5.0, 6.0]])
            .unwrap();
        w.add_array("y", &array![0i64, 1, 0]).unwrap();
        w.finish().unwrap();
        let d = read_npz(&p, &Selection::default()).unwrap();
        assert_eq!(d.frame.rows(), 3);
        assert_eq!(d.labels.unwrap(), vec![false, true, false]);
    }
}
