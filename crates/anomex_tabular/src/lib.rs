//! Vector detectors — rows of a [`Frame`] are points in feature space — and their sliding-window
//! versions for time series.
//!
//! Each detector is a [`VectorKernel`]: it learns from the training rows and returns, like PyOD,
//! the scores of the training rows themselves (`decision_scores_`, computed leave-one-out where
//! the method needs it, e.g. a point is not its own nearest neighbour). [`Tabular`] makes a kernel a
//! registered detector; scoring the training frame again returns those training scores, any other
//! frame is scored as new data. [`windowed`] runs any kernel on sliding windows of a series.

pub mod ecdf;
pub mod eif;
pub mod gaussian;
pub mod gmm;
pub mod hbos;
pub mod iforest;
pub mod inne;
pub mod kde;
pub mod kmeans;
pub mod knn;
pub mod loda;
pub mod mcd;
pub mod neighbors;
pub mod ocsvm;
pub mod pairwise;
pub mod pca;
pub mod windowed;

use anomex_core::model_file::{state_from, state_to, Stored};
use anomex_core::{
    About, DataKind, Detector, Entry, Error, Explain, Fit, FittedDetector, Frame, Learning,
    ParamSet, Params, Registry, Result, Scorer, Scores,
};
use ndarray::{ArrayView2, Axis, Slice};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// A detector on vectors (rows): one module declares it whole (names, parameters, whether it
/// explains, its sliding-window version), and [`register`] adds it with one line.
pub trait VectorKernel: Debug + Clone + Send + Sync + Sized + 'static {
    /// The kernel's parameters ([`anomex_core::params!`]; PyOD's defaults unless the module says
    /// otherwise).
    type Params: ParamSet;
    /// What the kernel learns.
    type State: Serialize + DeserializeOwned + Debug + Clone + Send + Sync + 'static;
    /// Registry name, Python class name, one-line summary of the row detector.
    const ABOUT: About;
    /// The same of the sliding-window version, for kernels that have one.
    const WINDOWED: Option<About> = None;
    /// For kernels whose score sums over features, the per-feature contributions of rows: the
    /// capability is this one declaration (`Some(Self::contributions)`).
    const CONTRIBUTIONS: Option<ContributionsFn<Self>> = None;
    /// Builds the kernel from checked parameters.
    fn new(params: &Self::Params) -> Result<Self>;
    /// Learns from the training rows; returns the state and the training rows' own scores
    /// (leave-one-out where the method is, PyOD's `decision_scores_`).
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(Self::State, Vec<f64>)>;
    /// Scores new rows (higher = more anomalous).
    fn score(&self, state: &Self::State, x: ArrayView2<'_, f64>) -> Result<Vec<f64>>;
    /// The kernel with `key=value` parameters over the defaults.
    fn from_pairs<S: AsRef<str>>(pairs: &[S]) -> Result<Self> {
        Self::new(&Self::Params::parse(pairs)?)
    }
}

/// Per-feature contributions (non-negative) of the rows `rows` of `x`; the flag says that `x`
/// is the training data itself, to be explained as its training scores were computed
/// (leave-one-out where the method is).
pub type ContributionsFn<K> = fn(
    &K,
    &<K as VectorKernel>::State,
    ArrayView2<'_, f64>,
    &[usize],
    bool,
) -> Result<Vec<Vec<f64>>>;

/// A vector kernel as a registered detector.
#[derive(Debug, Clone)]
pub struct Tabular<K: VectorKernel> {
    kernel: K,
    params: Params,
}

/// What a fitted row detector keeps. (Model files written before scoring became explicit also
/// hold the training rows' fingerprint and scores; they load, and those fields are ignored.)
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TabularState<S> {
    kernel: S,
    columns: usize,
}

#[derive(Debug, Clone)]
struct FittedTabular<K: VectorKernel> {
    detector: Tabular<K>,
    state: TabularState<K::State>,
}

impl<K: VectorKernel> Tabular<K> {
    fn fitted(&self, train: &Frame) -> Result<(FittedTabular<K>, Vec<f64>)> {
        let (kernel, train_scores) = self.kernel.fit(train.values())?;
        anomex_core::ensure_finite(&train_scores, K::ABOUT.name)?;
        let fitted = FittedTabular {
            detector: self.clone(),
            state: TabularState {
                kernel,
                columns: train.cols(),
            },
        };
        Ok((fitted, train_scores))
    }
}

impl<K: VectorKernel> Detector for Tabular<K> {
    fn fit(&self, train: &Frame) -> Result<Box<dyn FittedDetector>> {
        Ok(Box::new(self.fitted(train)?.0))
    }
    fn fit_scored(&self, train: &Frame) -> Result<Fit> {
        let (model, scores) = self.fitted(train)?;
        Ok(Fit {
            model: Box::new(model),
            train_scores: Scores::single(scores),
        })
    }
}

impl<K: VectorKernel> FittedTabular<K> {
    fn contributions(&self, data: &Frame, rows: &[usize], training: bool) -> Result<Vec<Vec<f64>>> {
        data.expect_cols(self.state.columns)?;
        data.expect_rows(rows)?;
        let contributions = K::CONTRIBUTIONS.ok_or_else(|| {
            Error::Unsupported(format!("{} has no per-feature attribution", K::ABOUT.name))
        })?;
        contributions(
            &self.detector.kernel,
            &self.state.kernel,
            data.values(),
            rows,
            training,
        )
    }
}

impl<K: VectorKernel> Explain for FittedTabular<K> {
    fn attribution(&self, data: &Frame, row: usize) -> Result<Vec<f64>> {
        Ok(self.attributions(data, &[row])?.remove(0))
    }
    fn attributions(&self, data: &Frame, rows: &[usize]) -> Result<Vec<Vec<f64>>> {
        self.contributions(data, rows, false)
    }
    fn training_attributions(&self, train: &Frame, rows: &[usize]) -> Result<Vec<Vec<f64>>> {
        self.contributions(train, rows, true)
    }
}

impl<K: VectorKernel> Scorer for FittedTabular<K> {
    /// Scores the rows as new points, whatever they are (the training rows' own scores come
    /// from [`Detector::fit_scored`]).
    fn score(&self, data: &Frame) -> Result<Scores> {
        data.expect_cols(self.state.columns)?;
        let scores = self
            .detector
            .kernel
            .score(&self.state.kernel, data.values())?;
        anomex_core::ensure_finite(&scores, K::ABOUT.name)?;
        Ok(Scores::single(scores))
    }
}

impl<K: VectorKernel> FittedDetector for FittedTabular<K> {
    fn name(&self) -> &str {
        K::ABOUT.name
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
    fn explain(&self) -> Option<&dyn Explain> {
        // only kernels that sum over features can say which features made the score
        K::CONTRIBUTIONS.map(|_| self as &dyn Explain)
    }
}

fn make<K: VectorKernel>(params: &Params) -> Result<Tabular<K>> {
    Ok(Tabular {
        kernel: K::new(&K::Params::from_params(params)?)?,
        params: params.clone(),
    })
}

fn build<K: VectorKernel>(params: &Params) -> Result<Box<dyn Detector>> {
    Ok(Box::new(make::<K>(params)?))
}

fn load<K: VectorKernel>(params: &Params, stored: Stored<'_>) -> Result<Box<dyn FittedDetector>> {
    Ok(Box::new(FittedTabular {
        detector: make::<K>(params)?,
        state: state_from(stored.plain(K::ABOUT.name)?)?,
    }))
}

/// A registry entry for a row detector.
pub fn entry<K: VectorKernel>() -> Entry {
    Entry {
        name: K::ABOUT.name,
        class: K::ABOUT.class,
        summary: K::ABOUT.summary,
        learning: Learning::Unsupervised,
        data: DataKind::Vectors,
        causal: false,
        explains: K::CONTRIBUTIONS.is_some(),
        params: K::Params::specs(),
        build: build::<K>,
        load: load::<K>,
    }
}

/// Checks that a training set has at least `min` rows.
pub(crate) fn need_rows(x: ArrayView2<'_, f64>, min: usize, what: &str) -> Result<()> {
    if x.nrows() < min {
        return Err(Error::input(format!(
            "{what} needs at least {min} rows, got {}",
            x.nrows()
        )));
    }
    Ok(())
}

/// SplitMix64, to derive independent member seeds (trees, ensemble members) from one seed, so
/// that an ensemble is the same for any number of threads.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `count` ensemble members (trees, projections, …) built in parallel, member `t` from its own
/// generator seeded by `(seed, t)`.
pub(crate) fn members<T: Send>(
    count: usize,
    seed: u64,
    build: impl Fn(&mut ChaCha8Rng) -> T + Sync,
) -> Vec<T> {
    (0..count)
        .into_par_iter()
        .map(|t| build(&mut ChaCha8Rng::seed_from_u64(mix(seed ^ mix(t as u64)))))
        .collect()
}

/// `score(row)` of every row of `x` in parallel, each row handed over as a contiguous slice.
pub(crate) fn score_rows(
    x: ArrayView2<'_, f64>,
    score: impl Fn(&[f64]) -> f64 + Sync + Send,
) -> Vec<f64> {
    (0..x.nrows())
        .into_par_iter()
        .with_min_len(256)
        .map_init(Vec::new, |buf, i| {
            buf.clear();
            buf.extend(x.row(i).iter().copied());
            score(buf)
        })
        .collect()
}

/// The columns of `x` as vectors, in one sweep over its rows (blocks of rows in parallel):
/// reading row-major data row by row and writing every column is one pass over memory, where
/// gathering each column apart (strided reads) touches every cache line once per column.
pub(crate) fn feature_columns(x: ArrayView2<'_, f64>) -> Vec<Vec<f64>> {
    let mut cols: Vec<Vec<f64>> = (0..x.ncols()).map(|_| vec![0.0; x.nrows()]).collect();
    // per block of rows, that block's piece of every column
    let blocks = row_blocks(x);
    let mut pieces: Vec<Vec<&mut [f64]>> = blocks.iter().map(|_| Vec::new()).collect();
    for col in &mut cols {
        for (block, piece) in pieces.iter_mut().zip(col.chunks_mut(ROW_BLOCK)) {
            block.push(piece);
        }
    }
    pieces
        .into_par_iter()
        .zip(blocks)
        .for_each(|(mut piece, block)| {
            for (i, row) in block.rows().into_iter().enumerate() {
                for (col, &v) in piece.iter_mut().zip(row.iter()) {
                    col[i] = v;
                }
            }
        });
    cols
}

/// Rows per block of the parallel sweeps over rows.
pub(crate) const ROW_BLOCK: usize = 1024;

/// Blocks of [`ROW_BLOCK`] rows (the last one shorter) for the parallel sweeps.
pub(crate) fn row_blocks(x: ArrayView2<'_, f64>) -> Vec<ArrayView2<'_, f64>> {
    (0..x.nrows())
        .step_by(ROW_BLOCK)
        .map(|start| {
            let end = (start + ROW_BLOCK).min(x.nrows());
            x.slice_axis_move(Axis(0), Slice::from(start..end))
        })
        .collect()
}

/// Checks that a model learnt on `model` features is given data with as many columns.
pub(crate) fn check_columns(model: usize, data: usize) -> Result<()> {
    if model != data {
        return Err(Error::input(format!(
            "the model has {model} feature(s), the data {data}"
        )));
    }
    Ok(())
}

/// Registers the row detector `K` and, where it has one, its sliding-window version.
fn add<K: VectorKernel>(registry: &mut Registry) -> Result<()> {
    registry.add(entry::<K>())?;
    if K::WINDOWED.is_some() {
        registry.add(windowed::entry::<K>()?)?;
    }
    Ok(())
}

/// Adds every vector detector, and its sliding-window version, to `registry`.
pub fn register(registry: &mut Registry) -> Result<()> {
    add::<iforest::IsolationForest>(registry)?;
    add::<knn::Knn>(registry)?;
    add::<knn::Lof>(registry)?;
    add::<hbos::Hbos>(registry)?;
    add::<ecdf::Ecod>(registry)?;
    add::<ecdf::Copod>(registry)?;
    add::<pca::Pca>(registry)?;
    add::<kmeans::KMeansDistance>(registry)?;
    add::<kmeans::Cblof>(registry)?;
    add::<mcd::Mcd>(registry)?;
    add::<gmm::Gmm>(registry)?;
    add::<kde::Kde>(registry)?;
    add::<inne::Inne>(registry)?;
    add::<loda::Loda>(registry)?;
    add::<eif::ExtendedIsolationForest>(registry)?;
    add::<ocsvm::Ocsvm>(registry)?;
    add::<pairwise::Pairwise>(registry)?;
    registry.add(windowed::entry::<ocsvm::SubOcsvm>()?)?;
    // KMeansAD is a time-series method: its row form (z-normalised rows) is not listed
    registry.add(windowed::entry::<kmeans::KMeansAd>()?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(x: ndarray::Array2<f64>) -> Frame<'static> {
        let names = (0..x.ncols()).map(|j| format!("f{j}")).collect();
        Frame::new(x, names).unwrap()
    }

    /// KNN and LOF score training rows leaving each one out, new rows against every training
    /// row: scoring is explicit, so the same rows get the same scores in any order or subset
    /// (scikit-learn's sample-order and subset invariance), and only `fit_scored` gives the
    /// training form.
    #[test]
    fn new_rows_score_the_same_in_any_order_or_subset() {
        let x = ndarray::Array2::from_shape_fn((300, 3), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1009) as f64 / 13.0
        });
        for entry in [entry::<knn::Knn>(), entry::<knn::Lof>()] {
            let name = entry.name;
            let detector = entry.create::<&str>(&[]).unwrap();
            let fit = detector.fit_scored(&frame(x.clone())).unwrap();
            let whole = fit.model.score(&frame(x.clone())).unwrap().combined;
            // the training form differs: a row is not its own neighbour there
            assert_ne!(whole, fit.train_scores.combined, "{name}");
            let order: Vec<usize> = (0..300).rev().step_by(3).collect();
            let picked = x.select(Axis(0), &order);
            let scores = fit.model.score(&frame(picked)).unwrap().combined;
            let expected: Vec<f64> = order.iter().map(|&i| whole[i]).collect();
            assert_eq!(scores, expected, "{name}");
        }
    }

    #[test]
    fn models_written_with_a_fingerprint_still_load() {
        let x = ndarray::Array2::from_shape_fn((50, 2), |(i, j)| (i * 3 + j) as f64 % 7.0);
        let params =
            Params::resolve::<&str>(&<knn::Knn as VectorKernel>::Params::specs(), &[]).unwrap();
        let fitted = build::<knn::Knn>(&params)
            .unwrap()
            .fit(&frame(x.clone()))
            .unwrap();
        let mut state = fitted.state().unwrap();
        let object = state.as_object_mut().unwrap();
        object.insert("train_fingerprint".into(), 12345u64.into());
        object.insert("fingerprint_version".into(), 2.into());
        object.insert("train_scores".into(), vec![0.5; 50].into());
        let old = load::<knn::Knn>(&params, Stored::json(state)).unwrap();
        assert_eq!(
            old.score(&frame(x.clone())).unwrap(),
            fitted.score(&frame(x)).unwrap()
        );
    }
}
