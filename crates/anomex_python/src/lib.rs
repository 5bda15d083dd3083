//! The native half of the `anomex` Python package (`anomex._native`, private): the registry as
//! data, a PyOD-style fitted model, a monitored stream and the metrics. The public API, with its
//! PyOD / scikit-learn conventions, is Python (`python/anomex`); this module only converts arrays
//! and errors and releases the GIL while Rust computes.
//!
//! Arrays: a C-contiguous `float64` array is scored in place, without a copy: the [`Frame`] every
//! detector takes borrows it for the call (anything else is converted by numpy first). The GIL is
//! released meanwhile, as numpy's own compiled loops do; like them, the call expects no other
//! thread to write into the array while it runs.

use anomex::{Frame, OutlierModel, Proba, Registry};
use anomex_metrics::{aupro, care, delay, named, prts, Compat};
use anomex_stream::{Series, SeriesConfig};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::sync::{Mutex, OnceLock};

/// mimalloc for everything the module allocates: it keeps freed pages for the next allocation,
/// where glibc's malloc gives the multi-megabyte buffers of a fit back to the system and the next
/// fit faults them in again — a third of an ECOD fit's time on 100,000 × 16 rows when a session
/// fits repeatedly.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs `work` without the GIL, on a thread of the rayon pool ([`anomex::on_pool`]).
fn compute<T: Send>(py: Python<'_>, work: impl FnOnce() -> T + Send) -> T {
    py.detach(|| anomex::on_pool(work))
}

/// A monitor keeps no ring of recent points (the service's view for its dashboard): the caller
/// has every score `update` returned.
const KEEP_RECENT: usize = 0;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(anomex::registry)
}

/// Rust errors keep their message; I/O failures are `OSError`, everything else `ValueError`.
fn py_err(e: anomex::Error) -> PyErr {
    match e {
        anomex::Error::Io { .. } => PyOSError::new_err(e.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// The caller's array as a frame, borrowed for the call (copied only when it is not
/// C-contiguous), as NumPy-based libraries read their inputs: models keep what they need
/// (KNN's reference rows, say) as copies of their own.
fn frame<'a>(
    x: &'a PyReadonlyArray2<'_, f64>,
    columns: Option<Vec<String>>,
) -> PyResult<Frame<'a>> {
    let view = x.as_array();
    let names = columns.unwrap_or_else(|| (0..view.ncols()).map(|j| format!("c{j}")).collect());
    Frame::borrowed(view, names).map_err(py_err)
}

fn bools(a: &PyReadonlyArray1<'_, bool>) -> Vec<bool> {
    a.as_array().to_vec()
}

/// Every registered detector with its parameters, as JSON text.
#[pyfunction]
fn registry_json() -> String {
    let entries: Vec<serde_json::Value> = registry()
        .entries()
        .iter()
        .map(|e| {
            let params: Vec<serde_json::Value> = e
                .params
                .iter()
                .map(|p| {
                    let (kind, min, max, choices) = match &p.kind {
                        anomex::Kind::Int { min, max } => {
                            ("int", Some(*min as f64), Some(*max as f64), None)
                        }
                        anomex::Kind::Float { min, max } => ("float", Some(*min), Some(*max), None),
                        anomex::Kind::Bool => ("bool", None, None, None),
                        anomex::Kind::Choice(c) => ("choice", None, None, Some(c.to_vec())),
                        anomex::Kind::Text => ("text", None, None, None),
                    };
                    serde_json::json!({
                        "name": p.name, "kind": kind, "default": p.default,
                        "allow_auto": p.allow_auto, "doc": p.doc,
                        "min": min, "max": max, "choices": choices,
                    })
                })
                .collect();
            serde_json::json!({
                "name": e.name,
                "class": e.class,
                "summary": e.summary,
                "learning": e.learning.as_str(),
                "data": match e.data {
                    anomex::DataKind::Series => "series",
                    anomex::DataKind::Vectors => "vectors",
                    anomex::DataKind::Events => "events",
                },
                "causal": e.causal,
                "explains": e.explains,
                "params": params,
            })
        })
        .collect();
    serde_json::Value::from(entries).to_string()
}

/// A fitted detector with a threshold calibrated on its training scores (PyOD's contract).
#[pyclass(frozen, module = "anomex._native")]
struct Model {
    inner: OutlierModel,
}

#[pymethods]
impl Model {
    /// Fits detector `detector` built from `key=value` pairs on the rows of `x`.
    #[staticmethod]
    #[pyo3(signature = (detector, params, x, contamination, columns=None))]
    fn fit(
        py: Python<'_>,
        detector: &str,
        params: Vec<String>,
        x: PyReadonlyArray2<'_, f64>,
        contamination: f64,
        columns: Option<Vec<String>>,
    ) -> PyResult<Model> {
        let data = frame(&x, columns)?;
        let built = registry()
            .get(detector)
            .and_then(|e| e.create(&params))
            .map_err(py_err)?;
        let inner = compute(py, || {
            OutlierModel::fit(built.as_ref(), &data, contamination)
        })
        .map_err(py_err)?;
        Ok(Model { inner })
    }

    /// The model file's bytes (the detector with its calibration).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.inner.to_bytes().map_err(py_err)?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[staticmethod]
    fn from_bytes(bytes: &[u8]) -> PyResult<Model> {
        let inner = OutlierModel::from_bytes(bytes, registry()).map_err(py_err)?;
        Ok(Model { inner })
    }

    #[getter]
    fn detector(&self) -> String {
        self.inner.fitted().name().to_string()
    }

    /// The resolved parameters as JSON text (`null` = `auto`).
    #[getter]
    fn params_json(&self) -> PyResult<String> {
        serde_json::to_string(self.inner.fitted().params())
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    #[getter]
    fn threshold(&self) -> f64 {
        self.inner.threshold()
    }

    #[getter]
    fn contamination(&self) -> f64 {
        self.inner.contamination()
    }

    #[getter]
    fn n_columns(&self) -> usize {
        self.inner.fitted().n_columns()
    }

    fn training_scores<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.training_scores().to_vec().into_pyarray(py)
    }

    #[pyo3(signature = (x, columns=None))]
    fn decision_function<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f64>,
        columns: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let data = frame(&x, columns)?;
        let scores = compute(py, || self.inner.decision_function(&data)).map_err(py_err)?;
        Ok(scores.into_pyarray(py))
    }

    /// Outlier probabilities, `method` = `linear` or `unify`.
    #[pyo3(signature = (x, method, columns=None))]
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f64>,
        method: &str,
        columns: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let method = match method {
            "linear" => Proba::Linear,
            "unify" => Proba::Unify,
            other => {
                return Err(PyValueError::new_err(format!(
                    "method must be \"linear\" or \"unify\", got {other:?}"
                )))
            }
        };
        let data = frame(&x, columns)?;
        let p = compute(py, || self.inner.predict_proba(&data, method)).map_err(py_err)?;
        Ok(p.into_pyarray(py))
    }

    /// Per-column contributions to the score of each of `rows` (rows × columns).
    #[pyo3(signature = (x, rows, columns=None))]
    fn attributions<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'_, f64>,
        rows: Vec<usize>,
        columns: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let data = frame(&x, columns)?;
        if let Some(&bad) = rows.iter().find(|&&r| r >= data.rows()) {
            return Err(PyValueError::new_err(format!(
                "row {bad} is outside the data's {} rows",
                data.rows()
            )));
        }
        let fitted = self.inner.fitted();
        let table = compute(py, || match fitted.explain() {
            Some(explain) => explain.attributions(&data, &rows),
            None => Err(anomex::Error::Unsupported(format!(
                "detector `{}` gives no per-feature attribution",
                fitted.name()
            ))),
        })
        .map_err(py_err)?;
        let cols = data.cols();
        let flat: Vec<f64> = table.into_iter().flatten().collect();
        let array = ndarray::Array2::from_shape_vec((rows.len(), cols), flat)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(array.into_pyarray(py))
    }
}

/// One monitored series: warm-up, fit, streaming scores and threshold (the service's lifecycle),
/// with its whole state as bytes between calls.
#[pyclass(frozen, module = "anomex._native")]
struct Monitor {
    series: Mutex<Series>,
}

impl Monitor {
    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, Series>> {
        self.series
            .lock()
            .map_err(|_| PyValueError::new_err("the monitor failed during an earlier update"))
    }
}

type Updates<'py> = (
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<bool>>,
);

#[pymethods]
impl Monitor {
    /// A new series from its configuration as JSON text (the service's `SeriesConfig`).
    #[new]
    fn new(config_json: &str) -> PyResult<Monitor> {
        let config: SeriesConfig = serde_json::from_str(config_json)
            .map_err(|e| PyValueError::new_err(format!("monitor configuration: {e}")))?;
        config.validate(registry()).map_err(py_err)?;
        Ok(Monitor {
            series: Mutex::new(Series::new(config, KEEP_RECENT)),
        })
    }

    /// Scores points in time order; all rows are checked before any is learned, so a refused
    /// batch changes nothing. Returns scores and thresholds (NaN while warming up) and labels.
    fn update<'py>(
        &self,
        py: Python<'py>,
        timestamps: PyReadonlyArray1<'_, i64>,
        values: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<Updates<'py>> {
        let times = timestamps.as_array().to_vec();
        let rows: Vec<Vec<f64>> = values
            .as_array()
            .rows()
            .into_iter()
            .map(|r| r.to_vec())
            .collect();
        if times.len() != rows.len() {
            return Err(PyValueError::new_err(format!(
                "{} timestamps for {} rows of values",
                times.len(),
                rows.len()
            )));
        }
        let mut series = self.lock()?;
        let mut last = None;
        for (i, (t, row)) in times.iter().zip(&rows).enumerate() {
            series
                .check(*t, row, last)
                .map_err(|e| PyValueError::new_err(format!("row {i}: {e}")))?;
            last = Some(*t);
        }
        let series = &mut *series;
        let scored: Vec<_> = compute(py, || {
            times
                .into_iter()
                .zip(rows)
                .map(|(t, row)| series.ingest(registry(), t, row))
                .collect()
        });
        let nan = f64::NAN;
        let scores: Vec<f64> = scored.iter().map(|s| s.score.unwrap_or(nan)).collect();
        let thresholds: Vec<f64> = scored.iter().map(|s| s.threshold.unwrap_or(nan)).collect();
        let labels: Vec<bool> = scored.iter().map(|s| s.anomaly).collect();
        Ok((
            scores.into_pyarray(py),
            thresholds.into_pyarray(py),
            labels.into_pyarray(py),
        ))
    }

    /// The whole state: the series' snapshot and, once live, its model file.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.lock()?.to_state_bytes().map_err(py_err)?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[staticmethod]
    fn from_bytes(bytes: &[u8]) -> PyResult<Monitor> {
        let series = Series::from_state_bytes(bytes, registry(), KEEP_RECENT).map_err(py_err)?;
        Ok(Monitor {
            series: Mutex::new(series),
        })
    }

    /// `collecting`, `calibrating` or `live`.
    #[getter]
    fn phase(&self) -> PyResult<&'static str> {
        Ok(self.lock()?.phase_name())
    }

    #[getter]
    fn points(&self) -> PyResult<u64> {
        Ok(self.lock()?.points)
    }

    #[getter]
    fn anomalies(&self) -> PyResult<u64> {
        Ok(self.lock()?.anomalies)
    }

    #[getter]
    fn last_timestamp(&self) -> PyResult<Option<i64>> {
        Ok(self.lock()?.last_timestamp)
    }

    /// Why the last fit failed, if it did.
    #[getter]
    fn error(&self) -> PyResult<Option<String>> {
        Ok(self.lock()?.error().map(str::to_string))
    }

    #[getter]
    fn config_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.lock()?.config)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }
}

fn metric_options(window: usize, buffer: usize, reference: bool) -> named::Options {
    named::Options {
        window,
        buffer,
        compat: if reference {
            Compat::Reference
        } else {
            Compat::Correct
        },
    }
}

/// The names of the score metrics and of the prediction metrics.
#[pyfunction]
fn metric_names() -> (Vec<&'static str>, Vec<&'static str>) {
    (named::SCORE_METRICS.to_vec(), named::PRED_METRICS.to_vec())
}

/// Threshold-free metrics of `scores` against `labels`, by name.
#[pyfunction]
fn score_metrics(
    py: Python<'_>,
    names: Vec<String>,
    labels: PyReadonlyArray1<'_, bool>,
    scores: PyReadonlyArray1<'_, f64>,
    window: usize,
    buffer: usize,
    reference: bool,
) -> PyResult<Vec<f64>> {
    let labels = bools(&labels);
    let scores = scores.as_array().to_vec();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let o = metric_options(window, buffer, reference);
    compute(py, || named::score_metrics(&names, &labels, &scores, o)).map_err(py_err)
}

/// Metrics of a fixed prediction against `labels`, by name.
#[pyfunction]
fn pred_metrics(
    py: Python<'_>,
    names: Vec<String>,
    labels: PyReadonlyArray1<'_, bool>,
    pred: PyReadonlyArray1<'_, bool>,
    window: usize,
    buffer: usize,
    reference: bool,
) -> PyResult<Vec<f64>> {
    let labels = bools(&labels);
    let pred = bools(&pred);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let o = metric_options(window, buffer, reference);
    compute(py, || named::pred_metrics(&names, &labels, &pred, o)).map_err(py_err)
}

fn parsed<T: std::str::FromStr<Err = anomex::Error>>(text: &str) -> PyResult<T> {
    text.parse().map_err(py_err)
}

/// Range-based recall or precision (prts, Tatbul et al. 2018) of a prediction.
#[pyfunction]
fn range_recall_precision(
    real: PyReadonlyArray1<'_, bool>,
    pred: PyReadonlyArray1<'_, bool>,
    alpha: f64,
    cardinality: &str,
    bias: &str,
    precision: bool,
) -> PyResult<f64> {
    let (real, pred) = (bools(&real), bools(&pred));
    let (cardinality, bias) = (parsed(cardinality)?, parsed(bias)?);
    let value = if precision {
        prts::ts_precision(&real, &pred, alpha, cardinality, bias)
    } else {
        prts::ts_recall(&real, &pred, alpha, cardinality, bias)
    };
    value.map_err(py_err)
}

/// Range-based F-score (prts `ts_fscore`) of a prediction.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn range_fscore(
    real: PyReadonlyArray1<'_, bool>,
    pred: PyReadonlyArray1<'_, bool>,
    beta: f64,
    p_alpha: f64,
    r_alpha: f64,
    cardinality: &str,
    p_bias: &str,
    r_bias: &str,
) -> PyResult<f64> {
    let o = prts::FScore {
        beta,
        p_alpha,
        r_alpha,
        cardinality: parsed(cardinality)?,
        p_bias: parsed(p_bias)?,
        r_bias: parsed(r_bias)?,
    };
    prts::ts_fscore(&bools(&real), &bools(&pred), o).map_err(py_err)
}

/// Point-adjusted F1 at K % (Kim et al. 2022): the best F1 over thresholds.
#[pyfunction]
fn pa_k_f1(
    labels: PyReadonlyArray1<'_, bool>,
    scores: PyReadonlyArray1<'_, f64>,
    k: f64,
) -> PyResult<f64> {
    delay::pa_k_f1(&bools(&labels), &scores.as_array().to_vec(), k).map_err(py_err)
}

/// AUPRO up to a false-positive rate over pixel maps given as (scores, mask) pairs.
#[pyfunction]
fn pixel_aupro(
    py: Python<'_>,
    maps: Vec<(PyReadonlyArray2<'_, f64>, PyReadonlyArray2<'_, bool>)>,
    limit: f64,
) -> PyResult<f64> {
    let mut pixel_maps = Vec::with_capacity(maps.len());
    for (i, (scores, mask)) in maps.iter().enumerate() {
        let (scores, mask) = (scores.as_array(), mask.as_array());
        if scores.dim() != mask.dim() {
            return Err(PyValueError::new_err(format!(
                "map {i}: scores of shape {:?} but mask of shape {:?}",
                scores.dim(),
                mask.dim()
            )));
        }
        pixel_maps.push(aupro::PixelMap {
            width: scores.ncols(),
            height: scores.nrows(),
            scores: scores.iter().copied().collect(),
            mask: mask.iter().copied().collect(),
        });
    }
    compute(py, || aupro::aupro(&pixel_maps, limit)).map_err(py_err)
}

/// One CARE event: anomaly label, window start and end, prediction, normal-operation mask.
type CareEvent<'py> = (
    bool,
    usize,
    usize,
    PyReadonlyArray1<'py, bool>,
    Option<PyReadonlyArray1<'py, bool>>,
);

/// The CARE score (Gück et al. 2024) of events.
#[pyfunction]
fn care_score(
    events: Vec<CareEvent<'_>>,
    criticality_threshold: i64,
    min_fraction: f64,
    method: &str,
    reference: bool,
) -> PyResult<f64> {
    let detection = match method {
        "criticality" => care::Detection::Criticality,
        "fraction" => care::Detection::Fraction,
        other => {
            return Err(PyValueError::new_err(format!(
                "method must be \"criticality\" or \"fraction\", got {other:?}"
            )))
        }
    };
    let events: Vec<care::Event> = events
        .iter()
        .map(|(anomaly, start, end, pred, normal)| care::Event {
            anomaly: *anomaly,
            start: *start,
            end: *end,
            pred: bools(pred),
            normal: normal.as_ref().map(bools),
        })
        .collect();
    let p = care::Params {
        criticality_threshold,
        min_fraction,
        detection,
        ..care::Params::default()
    };
    let compat = if reference {
        Compat::Reference
    } else {
        Compat::Correct
    };
    care::care(&events, &p, compat).map_err(py_err)
}

/// A Drain log parser (`anomex_logs::Drain`), its state as bytes between calls.
#[pyclass(frozen, module = "anomex._native")]
struct Drain {
    parser: Mutex<anomex::logs::parse::Drain>,
}

impl Drain {
    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, anomex::logs::parse::Drain>> {
        self.parser
            .lock()
            .map_err(|_| PyValueError::new_err("the parser failed during an earlier call"))
    }
}

#[pymethods]
impl Drain {
    /// A parser from its settings as JSON text (`DrainConfig`).
    #[new]
    fn new(config_json: &str) -> PyResult<Drain> {
        let config: anomex::logs::parse::DrainConfig = serde_json::from_str(config_json)
            .map_err(|e| PyValueError::new_err(format!("Drain settings: {e}")))?;
        let parser = anomex::logs::parse::Drain::new(config).map_err(py_err)?;
        Ok(Drain {
            parser: Mutex::new(parser),
        })
    }

    /// A parser from `to_bytes`, checked whole before use.
    #[staticmethod]
    fn from_bytes(state: &[u8]) -> PyResult<Drain> {
        let parser: anomex::logs::parse::Drain = serde_json::from_slice(state)
            .map_err(|e| PyValueError::new_err(format!("Drain state: {e}")))?;
        Ok(Drain {
            parser: Mutex::new(parser),
        })
    }

    /// The whole state (settings, tree, templates) as bytes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = serde_json::to_vec(&*self.lock()?)
            .map_err(|e| PyValueError::new_err(format!("Drain state: {e}")))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Parses messages in order, learning from each; one template id per message.
    fn add<'py>(
        &self,
        py: Python<'py>,
        messages: Vec<String>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let mut parser = self.lock()?;
        let parser = &mut *parser;
        let ids: Vec<i64> = py.detach(|| {
            messages
                .iter()
                .map(|m| i64::from(parser.add(m).template))
                .collect()
        });
        Ok(ids.into_pyarray(py))
    }

    /// The template each message would join without learning from it (-1: none).
    fn find<'py>(
        &self,
        py: Python<'py>,
        messages: Vec<String>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let parser = self.lock()?;
        let ids: Vec<i64> = py.detach(|| {
            messages
                .iter()
                .map(|m| parser.find(m).map_or(-1, i64::from))
                .collect()
        });
        Ok(ids.into_pyarray(py))
    }

    /// Every template: (id, template text, count).
    fn templates(&self) -> PyResult<Vec<(u32, String, u64)>> {
        Ok(self.lock()?.templates().collect())
    }

    /// A message's parameters under a template.
    fn parameters(&self, template: u32, message: &str) -> PyResult<Vec<String>> {
        Ok(self.lock()?.parameters(template, message))
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(registry_json, m)?)?;
    m.add_function(wrap_pyfunction!(metric_names, m)?)?;
    m.add_function(wrap_pyfunction!(score_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(pred_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(range_recall_precision, m)?)?;
    m.add_function(wrap_pyfunction!(range_fscore, m)?)?;
    m.add_function(wrap_pyfunction!(pa_k_f1, m)?)?;
    m.add_function(wrap_pyfunction!(pixel_aupro, m)?)?;
    m.add_function(wrap_pyfunction!(care_score, m)?)?;
    m.add_class::<Model>()?;
    m.add_class::<Monitor>()?;
    m.add_class::<Drain>()?;
    Ok(())
}
