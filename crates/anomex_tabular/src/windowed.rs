//! Any vector detector on sliding windows of a series ("Sub-X" in TSB-AD).
//!
//! Window `i` of a frame with `c` channels is the vector of the `w × c` values of rows
//! `i .. i + w` (time-major); the kernel is fitted on the training windows and scores windows of
//! the data, and the score of a point is the mean score of the windows that cover it. The window
//! is given or found by TSB-AD's autocorrelation rule on the first channel. Cost: the kernel's on
//! `n − w + 1` vectors of dimension `w·c`, plus O(n) for the mapping.

use crate::VectorKernel;
use anomex_core::model_file::{state_from, state_to, Stored};
use anomex_core::windows::check_window;
use anomex_core::{
    About, Detector, Entry, Error, FittedDetector, Frame, Learning, ParamSet, Params, Result,
    Scorer, Scores,
};
use anomex_series::period::find_length;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// The windows of `frame` as rows of a matrix.
pub fn windows(frame: &Frame, w: usize) -> Result<Array2<f64>> {
    check_window(w, frame.rows())?;
    let (n, c) = (frame.rows(), frame.cols());
    let v = frame.values();
    Ok(Array2::from_shape_fn((n - w + 1, w * c), |(i, f)| {
        v[[i + f / c, f % c]]
    }))
}

/// The mean of the window scores covering each of `n` points.
pub fn mean_over_windows(window_scores: &[f64], w: usize, n: usize) -> Vec<f64> {
    let mut prefix = Vec::with_capacity(window_scores.len() + 1);
    prefix.push(0.0);
    for &s in window_scores {
        prefix.push(prefix[prefix.len() - 1] + s);
    }
    let last = window_scores.len() - 1;
    (0..n)
        .map(|p| {
            let lo = p.saturating_sub(w - 1);
            let hi = p.min(last);
            (prefix[hi + 1] - prefix[lo]) / (hi + 1 - lo) as f64
        })
        .collect()
}

anomex_core::params! {
    /// The parameter a sliding-window detector adds to its kernel's.
    pub struct WindowParams {
        /// window length in points; auto = TSB-AD's autocorrelation rule
        pub window: Option<usize> = None, in 2..=1_000_000;
    }
}

/// A windowed detector's parameters: the window, then the kernel's.
type AllParams<K> = (WindowParams, <K as VectorKernel>::Params);

/// A vector kernel on sliding windows.
#[derive(Debug, Clone)]
pub struct Windowed<K: VectorKernel> {
    kernel: K,
    window: Option<usize>,
    params: Params,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WindowedState<S> {
    window: usize,
    columns: usize,
    kernel: S,
}

#[derive(Debug, Clone)]
struct FittedWindowed<K: VectorKernel> {
    detector: Windowed<K>,
    state: WindowedState<K::State>,
}

impl<K: VectorKernel> Detector for Windowed<K> {
    fn fit(&self, train: &Frame) -> Result<Box<dyn FittedDetector>> {
        let w = self
            .window
            .unwrap_or_else(|| find_length(&train.column_vec(0)));
        let x = windows(train, w)?;
        let (kernel, _) = self.kernel.fit(x.view())?;
        Ok(Box::new(FittedWindowed {
            detector: self.clone(),
            state: WindowedState {
                window: w,
                columns: train.cols(),
                kernel,
            },
        }))
    }
}

impl<K: VectorKernel> Scorer for FittedWindowed<K> {
    fn score(&self, data: &Frame) -> Result<Scores> {
        data.expect_cols(self.state.columns)?;
        let w = self.state.window;
        let x = windows(data, w)?;
        let s = self.detector.kernel.score(&self.state.kernel, x.view())?;
        anomex_core::ensure_finite(&s, about::<K>().name)?;
        Ok(Scores::single(mean_over_windows(&s, w, data.rows())))
    }
}

impl<K: VectorKernel> FittedDetector for FittedWindowed<K> {
    fn name(&self) -> &str {
        about::<K>().name
    }
    fn params(&self) -> &Params {
        &self.detector.params
    }
    fn state(&self) -> Result<serde_json::Value> {
        state_to(&self.state)
    }
    fn n_columns(&self) -> usize {
        self.state.columns
    }
}

/// The names of the windowed version (the row detector's where it declares none; only
/// [`entry`] checks that it does).
fn about<K: VectorKernel>() -> About {
    K::WINDOWED.unwrap_or(K::ABOUT)
}

/// A registry entry for the windowed version of `K`, registered under `K::WINDOWED`'s name.
pub fn entry<K: VectorKernel>() -> Result<Entry> {
    let about = K::WINDOWED.ok_or_else(|| {
        Error::Unsupported(format!(
            "{} declares no sliding-window version",
            K::ABOUT.name
        ))
    })?;
    Ok(Entry {
        name: about.name,
        class: about.class,
        summary: about.summary,
        learning: Learning::SemiSupervised,
        data: anomex_core::DataKind::Series,
        causal: false,
        explains: false,
        params: AllParams::<K>::specs(),
        build: build::<K>,
        load: load::<K>,
    })
}

fn make<K: VectorKernel>(params: &Params) -> Result<Windowed<K>> {
    let (window, kernel) = AllParams::<K>::from_params(params)?;
    Ok(Windowed {
        kernel: K::new(&kernel)?,
        window: window.window,
        params: params.clone(),
    })
}

fn build<K: VectorKernel>(params: &Params) -> Result<Box<dyn Detector>> {
    Ok(Box::new(make::<K>(params)?))
}

fn load<K: VectorKernel>(params: &Params, stored: Stored<'_>) -> Result<Box<dyn FittedDetector>> {
    let name = K::WINDOWED.map_or(K::ABOUT.name, |a| a.name);
    Ok(Box::new(FittedWindowed {
        detector: make::<K>(params)?,
        state: state_from(stored.plain(name)?)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_time_major() {
        let f = Frame::from_columns(&[vec![1.0, 2.0, 3.0], vec![10.0, 20.0, 30.0]]).unwrap();
        let x = windows(&f, 2).unwrap();
        assert_eq!(x.row(0).to_vec(), vec![1.0, 10.0, 2.0, 20.0]);
        assert_eq!(x.nrows(), 2);
    }

    #[test]
    fn mean_over_covering_windows() {
        // 3 windows of length 2 over 4 points
        let p = mean_over_windows(&[1.0, 2.0, 3.0], 2, 4);
        assert_eq!(p, vec![1.0, 1.5, 2.5, 3.0]);
    }
}
