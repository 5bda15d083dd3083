//! Training and scoring samples cut from the standardised data on demand: a series is stored
//! once, and a batch of windows is gathered from it when the batch is needed, so a window
//! dataset costs the series' memory, not the series times the window.

use crate::candle_err;
use anomex_core::{Error, Result};
use candle_core::{Device, Tensor};
use ndarray::ArrayView2;

/// What one sample of a network is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Samples {
    /// A row is a sample, input and target (vectors).
    Rows,
    /// `window` consecutive rows are the input, the next row the target (forecasters); the
    /// sample's score belongs to the forecast row.
    Forecast { window: usize },
}

/// A batch: the network's input and what it should produce.
#[derive(Debug)]
pub struct Batch {
    /// `(b, columns)` for rows, `(b, window, columns)` for windows.
    pub input: Tensor,
    /// `(b, columns)`.
    pub target: Tensor,
}

/// Per-column standardisation learned from the training rows (a constant column is centred,
/// not scaled).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scaler {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Scaler {
    pub fn fit(x: ArrayView2<'_, f64>) -> Self {
        let n = x.nrows().max(1) as f64;
        let (mut mean, mut scale) = (Vec::new(), Vec::new());
        for col in x.columns() {
            let mu = col.sum() / n;
            let sd = (col.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / n).sqrt();
            mean.push(mu);
            scale.push(if sd > 0.0 && sd.is_finite() { sd } else { 1.0 });
        }
        Scaler { mean, scale }
    }

    /// Checks a scaler read from a model file.
    pub fn check(&self, columns: usize) -> Result<()> {
        if self.mean.len() != columns
            || self.scale.len() != columns
            || self.mean.iter().any(|v| !v.is_finite())
            || self.scale.iter().any(|v| !(v.is_finite() && *v > 0.0))
        {
            return Err(Error::ModelFile(format!(
                "the standardisation does not describe {columns} finite column(s)"
            )));
        }
        Ok(())
    }
}

/// The standardised data with the rule that cuts samples from it.
#[derive(Debug)]
pub struct SampleSet {
    values: Vec<f32>,
    rows: usize,
    cols: usize,
    samples: Samples,
    device: Device,
}

impl SampleSet {
    /// The samples of `x` standardised by `scaler`; an error when `x` has no sample (a series
    /// not longer than the window).
    pub fn new(
        x: ArrayView2<'_, f64>,
        scaler: &Scaler,
        samples: Samples,
        device: &Device,
    ) -> Result<Self> {
        let (rows, cols) = x.dim();
        let mut values = Vec::with_capacity(rows * cols);
        for row in x.rows() {
            for (j, v) in row.iter().enumerate() {
                values.push(((v - scaler.mean[j]) / scaler.scale[j]) as f32);
            }
        }
        let set = SampleSet {
            values,
            rows,
            cols,
            samples,
            device: device.clone(),
        };
        if set.is_empty() {
            return Err(match samples {
                Samples::Rows => Error::input("no rows to learn from"),
                Samples::Forecast { window } => Error::input(format!(
                    "the window ({window}) is not shorter than the series ({rows} points): \
                     a forecast needs at least {} points",
                    window + 1
                )),
            });
        }
        Ok(set)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        match self.samples {
            Samples::Rows => self.rows,
            Samples::Forecast { window } => self.rows.saturating_sub(window),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether sample order is time order (validation then takes the last samples).
    pub fn ordered(&self) -> bool {
        self.samples != Samples::Rows
    }

    /// The samples `idx`, gathered into one batch.
    pub fn batch(&self, idx: &[usize]) -> Result<Batch> {
        let c = self.cols;
        let row = |i: usize| &self.values[i * c..(i + 1) * c];
        let b = idx.len();
        match self.samples {
            Samples::Rows => {
                let mut data = Vec::with_capacity(b * c);
                for &i in idx {
                    data.extend_from_slice(row(i));
                }
                let t = Tensor::from_vec(data, (b, c), &self.device).map_err(candle_err)?;
                Ok(Batch {
                    input: t.clone(),
                    target: t,
                })
            }
            Samples::Forecast { window } => {
                let mut input = Vec::with_capacity(b * window * c);
                let mut target = Vec::with_capacity(b * c);
                for &i in idx {
                    input.extend_from_slice(&self.values[i * c..(i + window) * c]);
                    target.extend_from_slice(row(i + window));
                }
                Ok(Batch {
                    input: Tensor::from_vec(input, (b, window, c), &self.device)
                        .map_err(candle_err)?,
                    target: Tensor::from_vec(target, (b, c), &self.device).map_err(candle_err)?,
                })
            }
        }
    }

    /// The sample whose value row `row` takes in [`SampleSet::to_rows`].
    pub fn sample_of(&self, row: usize) -> usize {
        match self.samples {
            Samples::Rows => row,
            Samples::Forecast { window } => row.saturating_sub(window),
        }
    }

    /// Spreads one value per sample over the rows: a forecast's value belongs to the row it
    /// forecasts, and the first `window` rows, which nothing forecasts, take the first
    /// sample's value (as TSB-AD pads its forecasters' scores).
    pub fn to_rows(&self, per_sample: &[f64]) -> Vec<f64> {
        match self.samples {
            Samples::Rows => per_sample.to_vec(),
            Samples::Forecast { window } => {
                let first = per_sample.first().copied().unwrap_or(0.0);
                let mut out = vec![first; window.min(self.rows)];
                out.extend_from_slice(per_sample);
                out
            }
        }
    }
}
