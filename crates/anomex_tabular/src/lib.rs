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
pub mod pca;
pub mod windowed;

use anomex_core::model_file::{state_from, state_to};
use anomex_core::{
    Detector, Entry, Error, Explain, FittedDetector, Frame, Learning, ParamSpec, Params, Registry,
    Result, Scorer, Scores,
};
use ndarray::{ArrayView2, Axis, Slice};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

/// A detector on vectors (rows).
pub trait VectorKernel: Debug + Clone + Send + Sync + Sized + 'static {
    /// What the kernel learns.
    type State: Serialize + DeserializeOwned + Debug + Clone + Send + Sync + 'static;
    /// Registry name of the row detector.
    const NAME: &'static str;
    /// One line for listings: the method and where it comes from.
    const SUMMARY: &'static str;
    /// Declared parameters with their defaults (PyOD's unless the module says otherwise).
    fn param_specs() -> Vec<ParamSpec>;
    /// Builds the kernel from resolved parameters.
    fn from_params(params: &Params) -> Result<Self>;
    /// Learns from the training rows; returns the state and the training rows' own scores.
    fn fit(&self, x: ArrayView2<'_, f64>) -> Result<(Self::State, Vec<f64>)>;
    /// Scores new rows (higher = more anomalous).
    fn score(&self, state: &Self::State, x: ArrayView2<'_, f64>) -> Result<Vec<f64>>;
    /// Registry name of the sliding-window version, for kernels that have one.
    const WINDOWED_NAME: Option<&'static str> = None;
    /// One line for listings of the sliding-window version.
    const WINDOWED_SUMMARY: &'static str = "";
    /// Whether [`VectorKernel::contributions`] is implemented.
    const EXPLAINS: bool = false;
    /// Per-feature contributions (non-negative) of the rows `rows` of `x`; `training` says that
    /// `x` is the training data itself (scored leave-one-out where the method does). `None`: not
    /// explainable.
    fn contributions(
        &self,
        _state: &Self::State,
        _x: ArrayView2<'_, f64>,
        _rows: &[usize],
        _training: bool,
    ) -> Option<Result<Vec<Vec<f64>>>> {
        None
    }
}

/// A fingerprint of a frame's values, to recognise the training data when it is scored again.
/// One multiply-rotate step per value (not a cryptographic hash: it guards against honest
/// mistakes, and a collision only means new data would get the training scores). Version 1
/// chains every value through one state; version 2 (written since) runs four independent
/// states over interleaved values and folds them, which lets the processor overlap the steps.
fn fingerprint(x: ArrayView2<'_, f64>, version: u8) -> u64 {
    let h = fingerprint_step(fingerprint_step(0, x.nrows() as u64), x.ncols() as u64);
    let h = if version < 2 {
        x.iter().fold(h, |h, v| fingerprint_step(h, v.to_bits()))
    } else {
        // value i (in row-major order) goes to lane i mod 4
        let mut lanes = Lanes {
            state: [h, h ^ 1, h ^ 2, h ^ 3],
            next: 0,
        };
        match x.as_slice() {
            Some(all) => lanes.absorb(all),
            None => x.rows().into_iter().for_each(|row| match row.as_slice() {
                Some(r) => lanes.absorb(r),
                None => lanes.absorb(&row.to_vec()),
            }),
        }
        lanes.state.into_iter().fold(h, fingerprint_step)
    };
    // final avalanche so nearby inputs land far apart
    let h = (h ^ (h >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^ (h >> 33)
}

/// One multiply-rotate step of the fingerprint.
fn fingerprint_step(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29)
}

/// The fingerprint's four independent states and the lane the next value goes to.
struct Lanes {
    state: [u64; 4],
    next: usize,
}

impl Lanes {
    fn push(&mut self, v: f64) {
        self.state[self.next] = fingerprint_step(self.state[self.next], v.to_bits());
        self.next = (self.next + 1) % 4;
    }

    fn absorb(&mut self, values: &[f64]) {
        let lead = ((4 - self.next) % 4).min(values.len());
        let (head, body) = values.split_at(lead);
        head.iter().for_each(|&v| self.push(v));
        // whole groups of four: the lanes side by side, so their steps overlap
        let groups = body.chunks_exact(4);
        let tail = groups.remainder();
        for g in groups {
            for (lane, &v) in self.state.iter_mut().zip(g) {
                *lane = fingerprint_step(*lane, v.to_bits());
            }
        }
        tail.iter().for_each(|&v| self.push(v));
    }
}

/// The fingerprint version new models are written with.
const FINGERPRINT_VERSION: u8 = 2;

/// Models written before the fingerprint had versions used version 1.
fn first_fingerprint_version() -> u8 {
    1
}

/// A vector kernel as a registered detector.
#[derive(Debug, Clone)]
pub struct Tabular<K: VectorKernel> {
    kernel: K,
    params: Params,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TabularState<S> {
    kernel: S,
    columns: usize,
    train_fingerprint: u64,
    #[serde(default = "first_fingerprint_version")]
    fingerprint_version: u8,
    train_scores: Vec<f64>,
}

#[derive(Debug, Clone)]
struct FittedTabular<K: VectorKernel> {
    detector: Tabular<K>,
    state: TabularState<K::State>,
}

impl<K: VectorKernel> Detector for Tabular<K> {
    fn fit(&self, train: &Frame) -> Result<Box<dyn FittedDetector>> {
        let x = train.values();
        // the fingerprint is one serial pass: taken while the fit's parallel steps run
        let (fitted, train_fingerprint) = rayon::join(
            || self.kernel.fit(x),
            || fingerprint(x, FINGERPRINT_VERSION),
        );
        let (kernel, train_scores) = fitted?;
        Ok(Box::new(FittedTabular {
            detector: self.clone(),
            state: TabularState {
                kernel,
                columns: train.cols(),
                train_fingerprint,
                fingerprint_version: FINGERPRINT_VERSION,
                train_scores,
            },
        }))
    }
}

impl<K: VectorKernel> FittedTabular<K> {
    fn is_training(&self, x: ArrayView2<'_, f64>) -> bool {
        x.nrows() == self.state.train_scores.len()
            && fingerprint(x, self.state.fingerprint_version) == self.state.train_fingerprint
    }
}

impl<K: VectorKernel> Explain for FittedTabular<K> {
    fn attribution(&self, data: &Frame, row: usize) -> Result<Vec<f64>> {
        Ok(self.attributions(data, &[row])?.remove(0))
    }
    fn attributions(&self, data: &Frame, rows: &[usize]) -> Result<Vec<Vec<f64>>> {
        data.expect_cols(self.state.columns)?;
        if let Some(&row) = rows.iter().find(|&&r| r >= data.rows()) {
            return Err(Error::input(format!(
                "row {row} is outside the data (0..{})",
                data.rows()
            )));
        }
        let x = data.values();
        self.detector
            .kernel
            .contributions(&self.state.kernel, x, rows, self.is_training(x))
            .ok_or_else(|| {
                Error::Unsupported(format!("{} has no per-feature attribution", K::NAME))
            })?
    }
}

impl<K: VectorKernel> Scorer for FittedTabular<K> {
    fn score(&self, data: &Frame) -> Result<Scores> {
        data.expect_cols(self.state.columns)?;
        let x = data.values();
        let scores = if self.is_training(x) {
            self.state.train_scores.clone()
        } else {
            self.detector.kernel.score(&self.state.kernel, x)?
        };
        anomex_core::ensure_finite(&scores, K::NAME)?;
        Ok(Scores::single(scores))
    }
}

impl<K: VectorKernel> FittedDetector for FittedTabular<K> {
    fn name(&self) -> &str {
        K::NAME
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
        K::EXPLAINS.then_some(self as &dyn Explain)
    }
    fn training_scores(&self) -> Option<&[f64]> {
        Some(&self.state.train_scores)
    }
}

fn build<K: VectorKernel>(params: &Params) -> Result<Box<dyn Detector>> {
    Ok(Box::new(Tabular {
        kernel: K::from_params(params)?,
        params: params.clone(),
    }))
}

fn load<K: VectorKernel>(
    params: &Params,
    state: serde_json::Value,
) -> Result<Box<dyn FittedDetector>> {
    Ok(Box::new(FittedTabular {
        detector: Tabular {
            kernel: K::from_params(params)?,
            params: params.clone(),
        },
        state: state_from(state)?,
    }))
}

/// A registry entry for a row detector.
pub fn entry<K: VectorKernel>() -> Entry {
    Entry {
        name: K::NAME,
        summary: K::SUMMARY,
        learning: Learning::Unsupervised,
        data: anomex_core::DataKind::Vectors,
        causal: false,
        params: K::param_specs(),
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

/// The ensemble-size and sample-size parameters of the isolation forests.
pub(crate) fn forest_params() -> Vec<ParamSpec> {
    vec![
        ParamSpec::int("n_estimators", 100, 1, 100_000, "number of trees"),
        ParamSpec::int(
            "max_samples",
            256,
            2,
            10_000_000,
            "rows drawn for each tree (at most the rows available)",
        ),
    ]
}

/// Registers the row detector `K` and, where it has one, its sliding-window version.
fn add<K: VectorKernel>(registry: &mut Registry) -> Result<()> {
    registry.add(entry::<K>())?;
    if K::WINDOWED_NAME.is_some() {
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
    registry.add(windowed::entry::<ocsvm::SubOcsvm>()?)?;
    // KMeansAD is a time-series method: its row form (z-normalised rows) is not listed
    registry.add(windowed::entry::<kmeans::KMeansAd>()?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_deal_values_to_four_lanes_in_row_major_order_whatever_the_layout() {
        // the definition: value i of the row-major order goes to lane i mod 4
        let by_definition = |x: ndarray::ArrayView2<'_, f64>| {
            let h = fingerprint_step(fingerprint_step(0, x.nrows() as u64), x.ncols() as u64);
            let mut lanes = [h, h ^ 1, h ^ 2, h ^ 3];
            for (i, v) in x.iter().enumerate() {
                lanes[i % 4] = fingerprint_step(lanes[i % 4], v.to_bits());
            }
            let h = lanes.into_iter().fold(h, fingerprint_step);
            let h = (h ^ (h >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
            h ^ (h >> 33)
        };
        for (rows, cols) in [(1, 1), (3, 3), (7, 5), (10, 4), (33, 7)] {
            let x =
                ndarray::Array2::from_shape_fn((rows, cols), |(i, j)| (i * 31 + j) as f64 * 0.7);
            assert_eq!(fingerprint(x.view(), 2), by_definition(x.view()));
            // rows that are not contiguous, and a view whose rows are strided
            let t = x.t().to_owned();
            assert_eq!(fingerprint(t.t(), 2), by_definition(x.view()));
            let every_other = x.slice_axis(ndarray::Axis(1), ndarray::Slice::new(0, None, 2));
            assert_eq!(fingerprint(every_other, 2), by_definition(every_other));
        }
    }

    #[test]
    fn models_with_the_first_fingerprint_still_recognise_their_training_rows() {
        let x = ndarray::Array2::from_shape_fn((400, 3), |(i, j)| {
            ((i * 7919 + j * 104_729) % 1009) as f64 / 13.0
        });
        let names = || (0..3).map(|j| format!("f{j}")).collect::<Vec<_>>();
        let frame = Frame::new(x.clone(), names()).unwrap();
        let params = Params::resolve::<&str>(&knn::Knn::param_specs(), &[]).unwrap();
        let fitted = build::<knn::Knn>(&params).unwrap().fit(&frame).unwrap();
        let kept = fitted.training_scores().unwrap().to_vec();
        // KNN scores its training rows leaving each row out: as new rows they score otherwise
        let mut moved = x.clone();
        moved[[0, 0]] += 1e-9;
        let as_new = fitted
            .score(&Frame::new(moved, names()).unwrap())
            .unwrap()
            .combined;
        assert_ne!(as_new[1..], kept[1..]);

        // a model file from before fingerprint versions: no version field, version 1 value
        let mut state = fitted.state().unwrap();
        let object = state.as_object_mut().unwrap();
        assert_eq!(object.remove("fingerprint_version"), Some(2.into()));
        object.insert("train_fingerprint".into(), fingerprint(x.view(), 1).into());
        let old = load::<knn::Knn>(&params, state).unwrap();
        assert_eq!(old.score(&frame).unwrap().combined, kept);

        // the versions differ, and each tells different data apart
        assert_ne!(fingerprint(x.view(), 1), fingerprint(x.view(), 2));
        for version in [1, 2] {
            let mut y = x.clone();
            y[[399, 2]] += 1.0;
            assert_ne!(
                fingerprint(x.view(), version),
                fingerprint(y.view(), version)
            );
            assert_eq!(
                fingerprint(x.view(), version),
                fingerprint(x.clone().view(), version)
            );
        }
    }
}
