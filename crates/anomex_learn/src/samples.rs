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
    /// `window` consecutive rows are input and target (reconstruction of windows); the
    /// sample's score belongs to the window's centre row.
    Window { window: usize },
}

/// A batch: the network's input and what it should produce.
#[derive(Debug)]
pub struct Batch {
    /// `(b, columns)` for rows, `(b, window, columns)` for windows.
    pub input: Tensor,
    /// `(b, columns)` for rows and forecasts, `(b, window, columns)` for reconstructed windows.
    pub target: Tensor,
}

/// How a network wants its input scaled, per column, from the training rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    /// Mean 0 and deviation 1 (most networks).
    Standard,
    /// The training range onto `[0, 1]` (networks with a sigmoid output, as USAD); new data
    /// may fall outside it.
    MinMax,
    /// As given (codes, such as DeepLog's template ids).
    Identity,
}

/// Per-column `(x − mean) / scale` learned from the training rows (a constant column is
/// centred, not scaled); for [`Scaling::MinMax`] `mean` is the minimum and `scale` the range.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scaler {
    pub mean: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Scaler {
    pub fn fit(x: ArrayView2<'_, f64>, scaling: Scaling) -> Self {
        let n = x.nrows().max(1) as f64;
        let (mut mean, mut scale) = (Vec::new(), Vec::new());
        for col in x.columns() {
            let (shift, spread) = match scaling {
                Scaling::Standard => {
                    let mu = col.sum() / n;
                    let sd = (col.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / n).sqrt();
                    (mu, sd)
                }
                Scaling::MinMax => {
                    let lo = col.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    (if lo.is_finite() { lo } else { 0.0 }, hi - lo)
                }
                Scaling::Identity => (0.0, 1.0),
            };
            mean.push(shift);
            scale.push(if spread > 0.0 && spread.is_finite() {
                spread
            } else {
                1.0
            });
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
                Samples::Window { window } => Error::input(format!(
                    "the window ({window}) is longer than the series ({rows} points)"
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
            Samples::Window { window } => (self.rows + 1).saturating_sub(window),
        }
    }

    /// The scaled values, row after row (a network checks codes through it).
    pub fn values(&self) -> &[f32] {
        &self.values
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
                let mut target = Vec::with_capacity(b * c);
                for &i in idx {
                    target.extend_from_slice(row(i + window));
                }
                Ok(Batch {
                    input: self.windows(idx, window)?,
                    target: Tensor::from_vec(target, (b, c), &self.device).map_err(candle_err)?,
                })
            }
            Samples::Window { window } => {
                let t = self.windows(idx, window)?;
                Ok(Batch {
                    input: t.clone(),
                    target: t,
                })
            }
        }
    }

    /// The `window` rows from each of `idx`, as `(b, window, columns)`.
    fn windows(&self, idx: &[usize], window: usize) -> Result<Tensor> {
        let c = self.cols;
        let mut data = Vec::with_capacity(idx.len() * window * c);
        for &i in idx {
            data.extend_from_slice(&self.values[i * c..(i + window) * c]);
        }
        Tensor::from_vec(data, (idx.len(), window, c), &self.device).map_err(candle_err)
    }

    /// Rows before a window's centre (TSB-AD pads a window score's front by this many).
    fn lead(window: usize) -> usize {
        window / 2
    }

    /// The sample whose value row `row` takes in [`SampleSet::to_rows`].
    pub fn sample_of(&self, row: usize) -> usize {
        match self.samples {
            Samples::Rows => row,
            Samples::Forecast { window } => row.saturating_sub(window),
            Samples::Window { window } => row
                .saturating_sub(Self::lead(window))
                .min(self.len().saturating_sub(1)),
        }
    }

    /// Spreads one value per sample over the rows: a forecast's value belongs to the row it
    /// forecasts, and the first `window` rows, which nothing forecasts, take the first
    /// sample's value (as TSB-AD pads its forecasters' scores); a window's value belongs to its
    /// centre row, and the rows before the first centre and after the last take the first and
    /// the last window's (as TSB-AD pads its reconstruction scores).
    pub fn to_rows(&self, per_sample: &[f64]) -> Vec<f64> {
        match self.samples {
            Samples::Rows => per_sample.to_vec(),
            Samples::Forecast { window } => {
                let first = per_sample.first().copied().unwrap_or(0.0);
                let mut out = vec![first; window.min(self.rows)];
                out.extend_from_slice(per_sample);
                out
            }
            Samples::Window { window } => {
                let first = per_sample.first().copied().unwrap_or(0.0);
                let last = per_sample.last().copied().unwrap_or(0.0);
                let mut out = vec![first; Self::lead(window)];
                out.extend_from_slice(per_sample);
                out.resize(self.rows, last);
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ndarray::Array2;

    fn set(rows: usize, samples: Samples) -> SampleSet {
        let x = Array2::from_shape_fn((rows, 2), |(i, j)| (i * 2 + j) as f64);
        let scaler = Scaler {
            mean: vec![0.0; 2],
            scale: vec![1.0; 2],
        };
        SampleSet::new(x.view(), &scaler, samples, &Device::Cpu).unwrap()
    }

    #[test]
    fn a_window_score_belongs_to_its_centre_row() {
        // 7 rows, windows of 4: 4 windows, centres at rows 2..=5 (TSB-AD pads ⌈(4−1)/2⌉ = 2
        // rows in front and ⌊(4−1)/2⌋ = 1 behind)
        let s = set(7, Samples::Window { window: 4 });
        assert_eq!(s.len(), 4);
        assert_eq!(
            s.to_rows(&[1.0, 2.0, 3.0, 4.0]),
            vec![1.0, 1.0, 1.0, 2.0, 3.0, 4.0, 4.0]
        );
        let of: Vec<usize> = (0..7).map(|r| s.sample_of(r)).collect();
        assert_eq!(of, vec![0, 0, 0, 1, 2, 3, 3]);
        // the second window is rows 1..5, input and target alike
        let b = s.batch(&[1]).unwrap();
        let v: Vec<Vec<Vec<f32>>> = b.input.to_vec3().unwrap();
        assert_eq!(v[0][0], vec![2.0, 3.0]);
        assert_eq!(v[0][3], vec![8.0, 9.0]);
        assert_eq!(b.target.dims(), b.input.dims());
    }

    #[test]
    fn a_series_as_long_as_the_window_has_one_window_and_a_shorter_one_none() {
        assert_eq!(set(4, Samples::Window { window: 4 }).len(), 1);
        let x = Array2::<f64>::zeros((3, 1));
        let scaler = Scaler::fit(x.view(), Scaling::Standard);
        let err = SampleSet::new(
            x.view(),
            &scaler,
            Samples::Window { window: 4 },
            &Device::Cpu,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("longer than the series"), "{err}");
    }

    #[test]
    fn min_max_scaling_maps_the_training_range_onto_the_unit_interval() {
        let x = Array2::from_shape_vec((3, 2), vec![2.0, 5.0, 4.0, 5.0, 6.0, 5.0]).unwrap();
        let s = Scaler::fit(x.view(), Scaling::MinMax);
        assert_eq!(s.mean, vec![2.0, 5.0]);
        // a constant column is shifted, not scaled
        assert_eq!(s.scale, vec![4.0, 1.0]);
    }
}
