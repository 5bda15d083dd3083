//! DeepLog's next-event model (Du, Li, Zheng and Srikumar, "DeepLog: Anomaly Detection and
//! Diagnosis from System Logs through Deep Learning", CCS 2017): the input is a sequence of log
//! template ids (one column, as `anomex logs` or `anomex_logs::Drain` gives them); from the
//! last `window` ids (h = 10) a two-layer LSTM of 64 units and a linear layer predict a
//! distribution over the next id, trained by cross-entropy on normal logs.
//!
//! A line's score is its surprisal, −ln P(its template | the `window` before it). DeepLog flags
//! a line whose template is not among the g most likely; the probability is the quantity that
//! rule thresholds, kept whole here so that any threshold policy (or a top-g cut) applies.
//! Ids are taken as they are (no scaling) and one-hot encoded over `templates` slots; an id at
//! or above `templates − 1` (a template the model never saw) shares the last slot. The first
//! `window` lines take the first prediction's score, as the forecasters pad.
//!
//! Training follows the paper's shape with this crate's loop: Adam, lr 1e-3, batches of 128,
//! at most 50 epochs with early stopping after 3 epochs without a better loss on the last
//! 20 % (the paper trains a fixed 300 epochs on HDFS).

use crate::layers::{Linear, Lstm, Pass};
use crate::{
    training_params, Batch, Combine, Network, SampleSet, Samples, Scaling, Step, Training, Weights,
};
use anomex_core::online::{is_code, not_a_code};
use anomex_core::typed::Seed;
use anomex_core::{About, DataKind, Error, Learning, Result};
use candle_core::{DType, Tensor, D};

anomex_core::params! {
    /// DeepLog's shape (the paper's defaults).
    pub struct DeepLogParams {
        /// template ids the prediction is made from (h)
        pub window: usize = 10, in 1..=10_000;
        /// hidden units of each LSTM layer
        pub hidden_dim: usize = 64, in 1..=4096;
        /// stacked LSTM layers
        pub num_layers: usize = 2, in 1..=16;
        /// one-hot slots: template ids 0 … templates − 2, the last slot for every other id
        pub templates: usize = 256, in 2..=100_000;
    }
}

training_params! {
    /// How DeepLog is trained here.
    pub struct DeepLogTraining {
        max_epochs = 50,
        patience = 3,
        batch_size = 128,
        lr = 1e-3,
        weight_decay = 0.0,
        validation = 0.2,
    }
}

/// DeepLog's next-template LSTM.
#[derive(Debug)]
pub struct DeepLog {
    lstm: Lstm,
    output: Linear,
    templates: usize,
}

impl DeepLog {
    /// Ids `(b, …)` as slot indices: rounded, clamped to `[0, templates − 1]`.
    fn slots(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        ids.round()?
            .clamp(0f64, (self.templates - 1) as f64)?
            .to_dtype(DType::U32)
    }

    /// Logits of the next template after each window `(b, window, 1)` → `(b, templates)`.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let slots = self.slots(&x.squeeze(D::Minus1)?)?;
        let one_hot = candle_nn::encoding::one_hot(slots, self.templates, 1f32, 0f32)?;
        let (out, _) = self.lstm.forward(&one_hot, None)?;
        let last = out.narrow(1, out.dim(1)? - 1, 1)?.squeeze(1)?;
        self.output.forward(&last)
    }

    fn targets(&self, batch: &Batch) -> candle_core::Result<Tensor> {
        self.slots(&batch.target.squeeze(D::Minus1)?)
    }
}

impl Network for DeepLog {
    type Params = (DeepLogParams, DeepLogTraining, Seed);
    const ABOUT: About = About {
        name: "deeplog",
        class: "DeepLog",
        summary: "LSTM next-template surprisal on log template ids (DeepLog; Du et al., CCS 2017)",
    };
    const DATA: DataKind = DataKind::Events;
    const LEARNING: Learning = Learning::SemiSupervised;
    const COMBINE: Combine = Combine::Sum;
    const PER_COLUMN: bool = false;
    const SCALING: Scaling = Scaling::Identity;

    fn samples((p, _, _): &Self::Params) -> Samples {
        Samples::Forecast { window: p.window }
    }
    fn training((_, t, seed): &Self::Params) -> Training {
        t.training(seed.seed)
    }
    fn build((p, _, _): &Self::Params, columns: usize, w: &mut Weights<'_>) -> Result<Self> {
        if columns != 1 {
            return Err(Error::input(format!(
                "deeplog reads one column of template ids, got {columns} columns"
            )));
        }
        Ok(DeepLog {
            lstm: Lstm::new(w, "lstm", p.templates, p.hidden_dim, p.num_layers)?,
            output: Linear::new(w, "output", p.hidden_dim, p.templates)?,
            templates: p.templates,
        })
    }
    fn prepare(&self, data: &SampleSet) -> Result<()> {
        // codes, not measurements: a series of readings here is a mistake worth naming
        match data.values().iter().position(|v| !is_code(f64::from(*v))) {
            Some(row) => Err(not_a_code(
                "deeplog",
                &format!("row {row}"),
                f64::from(data.values()[row]),
            )),
            None => Ok(()),
        }
    }
    fn loss(&self, batch: &Batch, _: &mut Pass<'_>, _: Step) -> candle_core::Result<Tensor> {
        candle_nn::loss::cross_entropy(&self.forward(&batch.input)?, &self.targets(batch)?)
    }
    fn errors(&self, batch: &Batch) -> candle_core::Result<Tensor> {
        let log_p = candle_nn::ops::log_softmax(&self.forward(&batch.input)?, D::Minus1)?;
        let target = self.targets(batch)?.unsqueeze(1)?;
        log_p.gather(&target, 1)?.neg()
    }
}
