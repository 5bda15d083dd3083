//! The PyOD way of using a detector: fit with a contamination rate, then `decision_function`,
//! `predict` and `predict_proba` (PyOD's `BaseDetector`).

use anomex_core::model_file::{self, Calibration};
use anomex_core::{Detector, Error, FittedDetector, Frame, Registry, Result, Threshold};
use anomex_threshold::Quantile;

/// How `predict_proba` turns scores into outlier probabilities (PyOD's two methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proba {
    /// Min-max scaling by the training scores, clipped to [0, 1].
    Linear,
    /// `erf((s − μ) / (σ√2))` clipped at 0, with μ, σ of the training scores (Kriegel, Kröger,
    /// Schubert & Zimek, "Interpreting and Unifying Outlier Scores", SDM 2011).
    Unify,
}

/// A fitted detector with PyOD's threshold and probability conversions.
#[derive(Debug)]
pub struct OutlierModel {
    fitted: Box<dyn FittedDetector>,
    contamination: f64,
    train_scores: Vec<f64>,
    threshold: f64,
}

impl OutlierModel {
    /// Fits `detector` on `train`; the threshold is the `1 − contamination` percentile of the
    /// training scores (`contamination` in (0, 0.5], PyOD's `threshold_`).
    pub fn fit(detector: &dyn Detector, train: &Frame, contamination: f64) -> Result<Self> {
        let mut rule = Quantile::contamination(contamination)?;
        // the training rows' own scores (leave-one-out where the method is): `decision_scores_`
        let fit = detector.fit_scored(train)?;
        let (fitted, train_scores) = (fit.model, fit.train_scores.combined);
        rule.fit(&train_scores)?;
        let (threshold, _) = rule.update(0.0)?;
        Ok(OutlierModel {
            fitted,
            contamination,
            train_scores,
            threshold,
        })
    }

    /// The model as model-file bytes: the fitted detector (readable by `anomex score` and the
    /// service) with the contamination, threshold and training scores as its calibration.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let calibration = Calibration {
            contamination: self.contamination,
            threshold: self.threshold,
            training_scores: self.train_scores.clone(),
        };
        model_file::to_bytes_calibrated(self.fitted.as_ref(), Some(&calibration))
    }

    /// Restores a model written by [`OutlierModel::to_bytes`]; a model file without a
    /// calibration (from `anomex fit --save`) is refused with a message saying so.
    pub fn from_bytes(bytes: &[u8], registry: &Registry) -> Result<Self> {
        let (fitted, calibration) = model_file::from_bytes_calibrated(bytes, registry)?;
        let c = calibration.ok_or_else(|| {
            Error::ModelFile(
                "the file holds a detector without a calibrated threshold (written by `anomex fit`); \
                 fit it through the PyOD-style API to get one"
                    .into(),
            )
        })?;
        if c.training_scores.is_empty() {
            return Err(Error::ModelFile(
                "the calibration has no training scores".into(),
            ));
        }
        Ok(OutlierModel {
            fitted,
            contamination: c.contamination,
            train_scores: c.training_scores,
            threshold: c.threshold,
        })
    }

    /// The contamination the threshold was calibrated with.
    pub fn contamination(&self) -> f64 {
        self.contamination
    }

    /// The training rows' scores (`decision_scores_`).
    pub fn training_scores(&self) -> &[f64] {
        &self.train_scores
    }

    /// The score threshold (`threshold_`).
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The training rows' labels (`labels_`): score above the threshold.
    pub fn labels(&self) -> Vec<bool> {
        self.train_scores
            .iter()
            .map(|&s| s > self.threshold)
            .collect()
    }

    /// Scores of new rows (`decision_function`).
    pub fn decision_function(&self, data: &Frame) -> Result<Vec<f64>> {
        Ok(self.fitted.score(data)?.combined)
    }

    /// Labels of new rows (`predict`).
    pub fn predict(&self, data: &Frame) -> Result<Vec<bool>> {
        Ok(self
            .decision_function(data)?
            .into_iter()
            .map(|s| s > self.threshold)
            .collect())
    }

    /// The outlier probability of each row (PyOD's `predict_proba(X)[:, 1]`).
    pub fn predict_proba(&self, data: &Frame, method: Proba) -> Result<Vec<f64>> {
        let scores = self.decision_function(data)?;
        let t = &self.train_scores;
        Ok(match method {
            Proba::Linear => {
                let (lo, hi) = t
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &s| {
                        (a.min(s), b.max(s))
                    });
                // scikit-learn's MinMaxScaler maps a constant feature to 0
                let range = if hi > lo { hi - lo } else { 1.0 };
                scores
                    .iter()
                    .map(|&s| ((s - lo) / range).clamp(0.0, 1.0))
                    .collect()
            }
            Proba::Unify => {
                let n = t.len() as f64;
                let mu = t.iter().sum::<f64>() / n;
                let sigma = (t.iter().map(|s| (s - mu).powi(2)).sum::<f64>() / n).sqrt();
                scores
                    .iter()
                    .map(|&s| {
                        let z = (s - mu) / (sigma * std::f64::consts::SQRT_2);
                        statrs::function::erf::erf(z).max(0.0)
                    })
                    .collect()
            }
        })
    }

    /// The fitted detector itself (for model files, streaming, explanations).
    pub fn fitted(&self) -> &dyn FittedDetector {
        self.fitted.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyod_style_round_trip() {
        let reg = crate::registry();
        let mut cols = vec![Vec::new(), Vec::new()];
        for i in 0..200 {
            cols[0].push((i % 13) as f64);
            cols[1].push((i % 7) as f64);
        }
        cols[0][50] = 100.0;
        let frame = Frame::from_columns(&cols).unwrap();
        let det = reg.get("ecod").unwrap().create::<&str>(&[]).unwrap();
        let m = OutlierModel::fit(det.as_ref(), &frame, 0.01).unwrap();
        assert_eq!(m.training_scores().len(), 200);
        let labels = m.labels();
        assert!(labels[50]);
        assert!(labels.iter().filter(|&&l| l).count() <= 2);
        assert_eq!(m.predict(&frame).unwrap(), labels);
        for method in [Proba::Linear, Proba::Unify] {
            let p = m.predict_proba(&frame, method).unwrap();
            assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
            let arg = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            assert_eq!(arg, 50);
        }
        assert!(OutlierModel::fit(det.as_ref(), &frame, 0.7).is_err());

        // the model file keeps the calibration; a plain detector file is refused with a reason
        let bytes = m.to_bytes().unwrap();
        let back = OutlierModel::from_bytes(&bytes, &reg).unwrap();
        assert_eq!(back.threshold(), m.threshold());
        assert_eq!(back.training_scores(), m.training_scores());
        assert_eq!(back.contamination(), 0.01);
        assert_eq!(
            back.decision_function(&frame).unwrap(),
            m.decision_function(&frame).unwrap()
        );
        assert!(model_file::from_bytes(&bytes, &reg).is_ok());
        let plain = model_file::to_bytes(m.fitted()).unwrap();
        let e = OutlierModel::from_bytes(&plain, &reg)
            .unwrap_err()
            .to_string();
        assert!(e.contains("without a calibrated threshold"), "{e}");
    }

    #[test]
    fn training_scores_are_the_fits_and_new_rows_are_scored_as_new() {
        let reg = crate::registry();
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|j| {
                // distinct rows: a training row's nearest neighbour is never its twin
                (0..300)
                    .map(|i| ((i * (7 + j) + j * 11) % 37) as f64 / 5.0 + (i as f64 * 0.37).sin())
                    .collect()
            })
            .collect();
        let frame = Frame::from_columns(&cols).unwrap();
        let mut leave_one_out = Vec::new();
        for entry in reg.entries() {
            if entry.data != crate::DataKind::Vectors {
                continue;
            }
            let det = entry.create::<&str>(&[]).unwrap();
            let fit = det.fit_scored(&frame).unwrap();
            let m = OutlierModel::fit(det.as_ref(), &frame, 0.05).unwrap();
            assert_eq!(
                m.training_scores(),
                fit.train_scores.combined.as_slice(),
                "{}",
                entry.name
            );
            // the training frame scored again is scored as new rows
            let again = m.decision_function(&frame).unwrap();
            assert_eq!(again, fit.model.score(&frame).unwrap().combined);
            if again != fit.train_scores.combined {
                leave_one_out.push(entry.name);
            }
        }
        // the neighbour detectors leave a training row out of its own neighbours
        for name in ["knn", "lof"] {
            assert!(leave_one_out.contains(&name), "{leave_one_out:?}");
        }
    }
}
