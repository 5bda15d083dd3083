//! `.npy` rows read a chunk at a time, for data larger than memory: the header is parsed once
//! (numpy's format: magic, version, a Python-literal dictionary with `descr`, `fortran_order`
//! and `shape`), then each chunk is read straight from the file. Little-endian float64,
//! float32, int64 and int32, C order, 1-D (one column) or 2-D.

use crate::io_error;
use anomex_core::{Error, Frame, Result};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// A `.npy` file opened for reading rows in chunks.
#[derive(Debug)]
pub struct NpyRows {
    reader: BufReader<File>,
    source: String,
    kind: Element,
    rows: usize,
    cols: usize,
    next: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Element {
    F64,
    F32,
    I64,
    I32,
}

impl Element {
    fn parse(descr: &str) -> Option<Self> {
        match descr {
            "<f8" => Some(Element::F64),
            "<f4" => Some(Element::F32),
            "<i8" => Some(Element::I64),
            "<i4" => Some(Element::I32),
            _ => None,
        }
    }
    fn size(self) -> usize {
        match self {
            Element::F64 | Element::I64 => 8,
            Element::F32 | Element::I32 => 4,
        }
    }
    fn decode(self, b: &[u8]) -> f64 {
        let a8 = |b: &[u8]| -> [u8; 8] { b.try_into().unwrap_or([0; 8]) };
        let a4 = |b: &[u8]| -> [u8; 4] { b.try_into().unwrap_or([0; 4]) };
        match self {
            Element::F64 => f64::from_le_bytes(a8(b)),
            Element::F32 => f64::from(f32::from_le_bytes(a4(b))),
            Element::I64 => i64::from_le_bytes(a8(b)) as f64,
            Element::I32 => f64::from(i32::from_le_bytes(a4(b))),
        }
    }
}

/// The value of `key` in numpy's header dictionary, as written (`'<f8'`, `False`, `(3, 4)`).
pub(crate) fn header_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}'])?
    };
    Some(rest[..end].trim())
}

impl NpyRows {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path) -> Result<Self> {
        let source = path.display().to_string();
        let bad = |why: &str| Error::input(format!("{source}: {why}"));
        let file = File::open(path).map_err(|e| io_error(path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut magic = [0u8; 8];
        reader
            .read_exact(&mut magic)
            .map_err(|_| bad("too short for a .npy file"))?;
        if &magic[..6] != b"\x93NUMPY" {
            return Err(bad("not a .npy file (no numpy magic)"));
        }
        let header_len = if magic[6] == 1 {
            let mut l = [0u8; 2];
            reader.read_exact(&mut l).map_err(|e| io_error(path, e))?;
            usize::from(u16::from_le_bytes(l))
        } else {
            let mut l = [0u8; 4];
            reader.read_exact(&mut l).map_err(|e| io_error(path, e))?;
            u32::from_le_bytes(l) as usize
        };
        if header_len > 1 << 20 {
            return Err(bad("the .npy header is implausibly long"));
        }
        let mut header = vec![0u8; header_len];
        reader
            .read_exact(&mut header)
            .map_err(|_| bad("the .npy header is cut short"))?;
        let header = String::from_utf8_lossy(&header).to_string();
        let descr = header_value(&header, "descr")
            .map(|d| d.trim_matches(['\'', '"']))
            .ok_or_else(|| bad("the header has no element type"))?;
        let kind = Element::parse(descr).ok_or_else(|| {
            bad(&format!(
                "element type {descr} cannot be streamed (little-endian f8, f4, i8 or i4)"
            ))
        })?;
        if header_value(&header, "fortran_order") != Some("False") {
            return Err(bad("only C-order arrays can be streamed by rows"));
        }
        let shape = header_value(&header, "shape").ok_or_else(|| bad("the header has no shape"))?;
        let dims: Vec<usize> = shape
            .trim_matches(['(', ')'])
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<usize>().map_err(|_| bad("unreadable shape")))
            .collect::<Result<_>>()?;
        let (rows, cols) = match dims.as_slice() {
            [n] => (*n, 1),
            [n, d] => (*n, *d),
            _ => return Err(bad("only 1-D and 2-D arrays can be streamed by rows")),
        };
        if rows == 0 || cols == 0 {
            return Err(bad("the array is empty"));
        }
        Ok(NpyRows {
            reader,
            source,
            kind,
            rows,
            cols,
            next: 0,
        })
    }

    /// Rows and columns of the whole array.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The next (at most) `max_rows` rows as a frame, `None` at the end. A non-finite value is
    /// an error naming its row.
    pub fn next_chunk(&mut self, max_rows: usize) -> Result<Option<Frame<'static>>> {
        let take = max_rows.max(1).min(self.rows - self.next);
        if take == 0 {
            return Ok(None);
        }
        let size = self.kind.size();
        let mut bytes = vec![0u8; take * self.cols * size];
        self.reader.read_exact(&mut bytes).map_err(|_| {
            Error::input(format!(
                "{}: the file ends before row {} of {}",
                self.source, self.next, self.rows
            ))
        })?;
        let values: Vec<f64> = bytes
            .chunks_exact(size)
            .map(|b| self.kind.decode(b))
            .collect();
        let array = ndarray::Array2::from_shape_vec((take, self.cols), values)
            .map_err(|e| Error::input(e.to_string()))?;
        let names = (0..self.cols).map(|j| format!("c{j}")).collect();
        let first = self.next;
        self.next += take;
        Frame::new(array, names)
            .map(Some)
            .map_err(|e| Error::input(format!("{} (chunk from row {first}): {e}", self.source)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use ndarray_npy::WriteNpyExt;

    #[test]
    fn chunks_reassemble_the_array() {
        let dir = std::env::temp_dir().join(format!("anomex-npy-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = Array2::from_shape_fn((10, 3), |(i, j)| (i * 3 + j) as f64);
        let path = dir.join("a.npy");
        a.write_npy(std::fs::File::create(&path).unwrap()).unwrap();
        let mut r = NpyRows::open(&path).unwrap();
        assert_eq!(r.shape(), (10, 3));
        let mut seen = Vec::new();
        while let Some(f) = r.next_chunk(4).unwrap() {
            seen.extend(f.values().iter().copied());
        }
        assert_eq!(seen, a.iter().copied().collect::<Vec<_>>());
        let f32s = a.mapv(|v| v as f32);
        f32s.write_npy(std::fs::File::create(&path).unwrap())
            .unwrap();
        let mut r = NpyRows::open(&path).unwrap();
        assert_eq!(r.next_chunk(100).unwrap().unwrap().values()[[9, 2]], 29.0);
        std::fs::write(dir.join("b.npy"), b"not numpy").unwrap();
        let err = NpyRows::open(&dir.join("b.npy")).unwrap_err().to_string();
        assert!(err.contains("not a .npy file"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn header_values() {
        let h = "{'descr': '<f8', 'fortran_order': False, 'shape': (7, 2), }";
        assert_eq!(header_value(h, "descr"), Some("'<f8'"));
        assert_eq!(header_value(h, "fortran_order"), Some("False"));
        assert_eq!(header_value(h, "shape"), Some("(7, 2)"));
    }
}
