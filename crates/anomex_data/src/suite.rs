//! Benchmark suites: a folder of labelled data sets and the loader that reads its layout.
//!
//! | loader | layout |
//! |---|---|
//! | `nab` | `data/<category>/<name>.csv` (`timestamp,value`) and `labels/combined_windows.json` (file → `[start, end]` timestamp windows); rows inside a window are anomalous |
//! | `smap_msl` | `SMAP_MSL/{train,test}/<channel>.npy` (or `SMAP_MSL.tar.zst`, unpacked once into a cache folder) and `labeled_anomalies.csv` (`chan_id,spacecraft,anomaly_sequences,…`, inclusive index ranges into the test array); the series is train followed by test, evaluated on test |
//! | `adbench` | `*.npz` with `X` (rows × features) and `y` |
//! | `tsb_ad` | TSB-AD's CSV: channel columns and `Label`; the name `…_tr_<trainEnd>_1st_<firstAnomaly>.csv` gives the normal training prefix |
//! | `ucr` | the UCR anomaly archive: one value per line (or whitespace-separated), the name `…_<trainEnd>_<begin>_<end>.txt` gives the training prefix and the anomaly (1-based, inclusive) |
//! | `csv:<label column>` | every `.csv` of the folder, labels in the named column |
//!
//! Data sets are listed first (names and where to read them, sorted by name) and loaded one at a
//! time, so a runner can hand them to workers without holding the suite in memory.

use crate::{io_error, Selection};
use anomex_core::{Error, Frame, Result};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A labelled data set of a suite.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub name: String,
    pub frame: Frame<'static>,
    /// One per row.
    pub labels: Vec<bool>,
    /// Rows `0..train_end` are a normal training prefix the data set provides.
    pub train_end: Option<usize>,
    /// Metrics are computed on rows `eval_start..` (SMAP/MSL: the test part).
    pub eval_start: usize,
}

/// How a suite's folder is laid out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loader {
    Nab,
    SmapMsl,
    Adbench,
    TsbAd,
    Ucr,
    /// CSV files with a label column.
    Csv {
        label_col: String,
    },
}

impl Loader {
    /// `nab`, `smap_msl`, `adbench`, `tsb_ad`, `ucr` or `csv:<label column>`.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "nab" => Loader::Nab,
            "smap_msl" => Loader::SmapMsl,
            "adbench" => Loader::Adbench,
            "tsb_ad" => Loader::TsbAd,
            "ucr" => Loader::Ucr,
            _ => match name.strip_prefix("csv:") {
                Some(col) if !col.is_empty() => Loader::Csv {
                    label_col: col.to_string(),
                },
                _ => {
                    return Err(Error::input(format!(
                        "unknown loader `{name}`; loaders: nab, smap_msl, adbench, tsb_ad, ucr, \
                         csv:<label column>"
                    )))
                }
            },
        })
    }

    /// Whether the data sets are time series (else rows of vectors).
    pub fn is_series(&self) -> bool {
        *self != Loader::Adbench
    }
}

impl std::fmt::Display for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Loader::Nab => write!(f, "nab"),
            Loader::SmapMsl => write!(f, "smap_msl"),
            Loader::Adbench => write!(f, "adbench"),
            Loader::TsbAd => write!(f, "tsb_ad"),
            Loader::Ucr => write!(f, "ucr"),
            Loader::Csv { label_col } => write!(f, "csv:{label_col}"),
        }
    }
}

/// One data set of a suite, not yet read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub name: String,
    pub source: Source,
}

/// Where an item's data and labels are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Nab {
        csv: PathBuf,
        windows: Vec<(String, String)>,
    },
    SmapMsl {
        train: PathBuf,
        test: PathBuf,
        /// Inclusive index ranges into the test array.
        anomalies: Vec<(usize, usize)>,
    },
    Npz(PathBuf),
    TsbAd {
        csv: PathBuf,
        train_end: usize,
    },
    Ucr {
        txt: PathBuf,
        train_end: usize,
        /// Zero-based, inclusive.
        anomaly: (usize, usize),
    },
    Csv {
        csv: PathBuf,
        label_col: String,
    },
}

/// The data sets of the suite in `dir`, sorted by name. `cache` is where a packed suite
/// (SMAP/MSL's `.tar.zst`) is unpacked once.
pub fn list(loader: &Loader, dir: &Path, cache: &Path) -> Result<Vec<Item>> {
    if !dir.is_dir() {
        return Err(Error::input(format!(
            "suite folder {} does not exist",
            dir.display()
        )));
    }
    let mut items = match loader {
        Loader::Nab => list_nab(dir)?,
        Loader::SmapMsl => list_smap_msl(dir, cache)?,
        Loader::Adbench => files_with(dir, "npz")?
            .into_iter()
            .map(|p| Item {
                name: stem(&p),
                source: Source::Npz(p),
            })
            .collect(),
        Loader::TsbAd => files_with(dir, "csv")?
            .into_iter()
            .map(|p| {
                let train_end = tsb_ad_train_end(&p)?;
                Ok(Item {
                    name: stem(&p),
                    source: Source::TsbAd { csv: p, train_end },
                })
            })
            .collect::<Result<_>>()?,
        Loader::Ucr => files_with(dir, "txt")?
            .into_iter()
            .map(|p| {
                let (train_end, anomaly) = ucr_numbers(&p)?;
                Ok(Item {
                    name: stem(&p),
                    source: Source::Ucr {
                        txt: p,
                        train_end,
                        anomaly,
                    },
                })
            })
            .collect::<Result<_>>()?,
        Loader::Csv { label_col } => files_with(dir, "csv")?
            .into_iter()
            .map(|p| Item {
                name: stem(&p),
                source: Source::Csv {
                    csv: p,
                    label_col: label_col.clone(),
                },
            })
            .collect(),
    };
    if items.is_empty() {
        return Err(Error::input(format!(
            "no {loader} data sets found in {}",
            dir.display()
        )));
    }
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(items)
}

/// Reads an item.
pub fn load(item: &Item) -> Result<Labelled> {
    let plain = |frame: Frame<'static>, labels: Vec<bool>, train_end: Option<usize>| Labelled {
        name: item.name.clone(),
        frame,
        labels,
        train_end,
        eval_start: 0,
    };
    let labelled = match &item.source {
        Source::Nab { csv, windows } => {
            let d = crate::csv::read(csv, &Selection::default(), b',')?;
            let stamps = d
                .frame
                .timestamps()
                .ok_or_else(|| Error::input(format!("{}: no timestamp column", csv.display())))?;
            let labels = nab_labels(stamps, windows, csv)?;
            plain(d.frame, labels, None)
        }
        Source::SmapMsl {
            train,
            test,
            anomalies,
        } => load_smap_msl(item, train, test, anomalies)?,
        Source::Npz(path) => {
            let d = crate::npy::read_npz(path, &Selection::default())?;
            let labels = d.labels.ok_or_else(|| {
                Error::input(format!("{}: no labels (array `y`)", path.display()))
            })?;
            plain(d.frame, labels, None)
        }
        Source::TsbAd { csv, train_end } => {
            let d = with_labels(crate::csv::read(
                csv,
                &Selection {
                    label_col: Some("Label".into()),
                    ..Selection::default()
                },
                b',',
            )?)?;
            let train_end = checked_prefix(*train_end, d.0.rows(), csv)?;
            plain(d.0, d.1, Some(train_end))
        }
        Source::Ucr {
            txt,
            train_end,
            anomaly,
        } => {
            let values = read_ucr_values(txt)?;
            let n = values.len();
            if anomaly.1 >= n {
                return Err(Error::input(format!(
                    "{}: the anomaly ends at row {} but the series has {n} values",
                    txt.display(),
                    anomaly.1 + 1
                )));
            }
            let train_end = checked_prefix(*train_end, n, txt)?;
            let labels = (0..n)
                .map(|i| (anomaly.0..=anomaly.1).contains(&i))
                .collect();
            plain(Frame::from_series(&values)?, labels, Some(train_end))
        }
        Source::Csv { csv, label_col } => {
            let (frame, labels) = with_labels(crate::csv::read(
                csv,
                &Selection {
                    label_col: Some(label_col.clone()),
                    ..Selection::default()
                },
                b',',
            )?)?;
            plain(frame, labels, None)
        }
    };
    Ok(labelled)
}

fn with_labels(d: crate::Dataset) -> Result<(Frame<'static>, Vec<bool>)> {
    let labels = d
        .labels
        .ok_or_else(|| Error::input("the file has no label column".to_string()))?;
    Ok((d.frame, labels))
}

/// A training prefix that leaves at least one row.
fn checked_prefix(train_end: usize, rows: usize, path: &Path) -> Result<usize> {
    if train_end == 0 || train_end >= rows {
        return Err(Error::input(format!(
            "{}: training prefix of {train_end} rows does not fit the {rows} rows of the series",
            path.display()
        )));
    }
    Ok(train_end)
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Files of `dir` (not recursive) with extension `ext`.
fn files_with(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let path = entry.map_err(|e| io_error(dir, e))?.path();
        if path.is_file()
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case(ext))
        {
            out.push(path);
        }
    }
    Ok(out)
}

/// The number after `marker` in a file name, e.g. `_tr_` in `…_tr_1007_1st_2014.csv`.
fn number_after(name: &str, marker: &str) -> Option<usize> {
    let rest = &name[name.rfind(marker)? + marker.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn tsb_ad_train_end(p: &Path) -> Result<usize> {
    number_after(&stem(p), "_tr_").ok_or_else(|| {
        Error::input(format!(
            "{}: a TSB-AD file name ends in `_tr_<train end>_1st_<first anomaly>.csv`",
            p.display()
        ))
    })
}

/// `(train end, zero-based inclusive anomaly)` from `…_<trainEnd>_<begin>_<end>.txt`.
fn ucr_numbers(p: &Path) -> Result<(usize, (usize, usize))> {
    let name = stem(p);
    let bad = || {
        Error::input(format!(
            "{}: a UCR file name ends in `_<train end>_<anomaly begin>_<anomaly end>.txt`",
            p.display()
        ))
    };
    let parts: Vec<&str> = name.rsplitn(4, '_').collect();
    if parts.len() < 4 {
        return Err(bad());
    }
    let num = |s: &str| s.parse::<usize>().map_err(|_| bad());
    let (end, begin, train) = (num(parts[0])?, num(parts[1])?, num(parts[2])?);
    if begin == 0 || end < begin {
        return Err(Error::input(format!(
            "{}: anomaly {begin}..{end} is not a 1-based range",
            p.display()
        )));
    }
    Ok((train, (begin - 1, end - 1)))
}

fn read_ucr_values(p: &Path) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(p).map_err(|e| io_error(p, e))?;
    text.split_whitespace()
        .enumerate()
        .map(|(i, t)| {
            t.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    Error::input(format!(
                        "{}: value {} (`{t}`) is not a finite number",
                        p.display(),
                        i + 1
                    ))
                })
        })
        .collect()
}

fn parse_time(t: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(t.trim(), "%Y-%m-%d %H:%M:%S%.f").ok()
}

/// Rows whose timestamp falls inside one of NAB's windows (both ends included).
fn nab_labels(stamps: &[String], windows: &[(String, String)], path: &Path) -> Result<Vec<bool>> {
    let bad = |t: &str| {
        Error::input(format!(
            "{}: `{t}` is not a `YYYY-MM-DD HH:MM:SS` timestamp",
            path.display()
        ))
    };
    let spans: Vec<(NaiveDateTime, NaiveDateTime)> = windows
        .iter()
        .map(|(a, b)| {
            Ok((
                parse_time(a).ok_or_else(|| bad(a))?,
                parse_time(b).ok_or_else(|| bad(b))?,
            ))
        })
        .collect::<Result<_>>()?;
    stamps
        .iter()
        .map(|t| {
            let t = parse_time(t).ok_or_else(|| bad(t))?;
            Ok(spans.iter().any(|(a, b)| *a <= t && t <= *b))
        })
        .collect()
}

fn list_nab(dir: &Path) -> Result<Vec<Item>> {
    let labels_path = dir.join("labels").join("combined_windows.json");
    let text = std::fs::read_to_string(&labels_path).map_err(|e| io_error(&labels_path, e))?;
    let windows: BTreeMap<String, Vec<(String, String)>> =
        serde_json::from_str(&text).map_err(|e| {
            Error::input(format!(
                "{}: not a map of file → [start, end] windows: {e}",
                labels_path.display()
            ))
        })?;
    windows
        .into_iter()
        .map(|(file, windows)| {
            let csv = dir.join("data").join(&file);
            if !csv.is_file() {
                return Err(Error::input(format!(
                    "{} names {file}, which is not in {}",
                    labels_path.display(),
                    dir.join("data").display()
                )));
            }
            Ok(Item {
                name: file.trim_end_matches(".csv").to_string(),
                source: Source::Nab { csv, windows },
            })
        })
        .collect()
}

/// The folder holding `train/` and `test/`: `dir/SMAP_MSL`, else the archive unpacked into
/// `cache/SMAP_MSL` (once).
fn smap_msl_root(dir: &Path, cache: &Path) -> Result<PathBuf> {
    let unpacked = dir.join("SMAP_MSL");
    if unpacked.join("test").is_dir() {
        return Ok(unpacked);
    }
    let cached = cache.join("SMAP_MSL");
    if cached.join("test").is_dir() {
        return Ok(cached);
    }
    let archive = dir.join("SMAP_MSL.tar.zst");
    if !archive.is_file() {
        return Err(Error::input(format!(
            "{}: neither a SMAP_MSL folder nor SMAP_MSL.tar.zst",
            dir.display()
        )));
    }
    let file = std::fs::File::open(&archive).map_err(|e| io_error(&archive, e))?;
    let decoder = ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(file))
        .map_err(|e| Error::input(format!("{}: {e}", archive.display())))?;
    // unpacked beside the final folder and renamed into place, so a crash leaves no half folder
    let staging = cache.join(".SMAP_MSL.partial");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| io_error(&staging, e))?;
    tar::Archive::new(decoder)
        .unpack(&staging)
        .map_err(|e| Error::input(format!("unpacking {}: {e}", archive.display())))?;
    let inner = staging.join("SMAP_MSL");
    if !inner.join("test").is_dir() {
        return Err(Error::input(format!(
            "{} holds no SMAP_MSL/test folder",
            archive.display()
        )));
    }
    std::fs::rename(&inner, &cached).map_err(|e| io_error(&cached, e))?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(cached)
}

fn list_smap_msl(dir: &Path, cache: &Path) -> Result<Vec<Item>> {
    let index = dir.join("labeled_anomalies.csv");
    let mut reader = ::csv::Reader::from_path(&index)
        .map_err(|e| Error::input(format!("{}: {e}", index.display())))?;
    let root = smap_msl_root(dir, cache)?;
    let mut items = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::input(format!("{}: {e}", index.display())))?;
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let (chan, craft, ranges) = (field(0), field(1), field(2));
        let anomalies: Vec<(usize, usize)> = serde_json::from_str(ranges).map_err(|_| {
            Error::input(format!(
                "{}: line {}: anomaly_sequences `{ranges}` is not a list of [start, end] pairs",
                index.display(),
                line + 2
            ))
        })?;
        if chan.is_empty() || chan.contains(['/', '\\']) || chan.starts_with('.') {
            return Err(Error::input(format!(
                "{}: line {}: `{chan}` is not a channel name",
                index.display(),
                line + 2
            )));
        }
        items.push(Item {
            name: format!("{craft}/{chan}"),
            source: Source::SmapMsl {
                train: root.join("train").join(format!("{chan}.npy")),
                test: root.join("test").join(format!("{chan}.npy")),
                anomalies,
            },
        });
    }
    Ok(items)
}

fn load_smap_msl(
    item: &Item,
    train: &Path,
    test: &Path,
    anomalies: &[(usize, usize)],
) -> Result<Labelled> {
    let train = crate::npy::read_npy(train, &Selection::default())?.frame;
    let test_path = test;
    let test = crate::npy::read_npy(test, &Selection::default())?.frame;
    if train.cols() != test.cols() {
        return Err(Error::input(format!(
            "{}: {} columns in train, {} in test",
            item.name,
            train.cols(),
            test.cols()
        )));
    }
    let mut labels = vec![false; train.rows() + test.rows()];
    for &(a, b) in anomalies {
        if a > b || b >= test.rows() {
            return Err(Error::input(format!(
                "{}: anomaly [{a}, {b}] is outside the {} test rows",
                test_path.display(),
                test.rows()
            )));
        }
        labels[train.rows() + a..=train.rows() + b]
            .iter_mut()
            .for_each(|l| *l = true);
    }
    let values = ndarray::concatenate(ndarray::Axis(0), &[train.values(), test.values()])
        .map_err(|e| Error::input(format!("{}: {e}", item.name)))?;
    Ok(Labelled {
        name: item.name.clone(),
        frame: Frame::new(values, test.column_names().to_vec())?,
        labels,
        train_end: Some(train.rows()),
        eval_start: train.rows(),
    })
}
