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
        let fitted = detector.fit(train)?;
        // kept by the detector where it keeps them (it would recognise its training frame)
        let train_scores = match fitted.training_scores() {
            Some(kept) if kept.len() == train.rows() => kept.to_vec(),
            _ => fitted.score(train)?.combined,
        };
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
    fn kept_training_scores_are_the_scores_of_the_training_frame() {
        let reg = crate::registry();
        let cols: Vec<Vec<f64>> = (0..3)
            .map(|j| {
                (0..300)
                    .map(|i| ((i * (7 + j) + j * 11) % 37) as f64 / 5.0)
                    .collect()
            })
            .collect();
        let frame = Frame::from_columns(&cols).unwrap();
        let mut kept = 0;
        for entry in reg.entries() {
            if entry.data != crate::DataKind::Vectors {
                continue;
            }
            let det = entry.create::<&str>(&[]).unwrap();
            let fitted = det.fit(&frame).unwrap();
            let again = fitted.score(&frame).unwrap().combined;
            if let Some(scores) = fitted.training_scores() {
                assert_eq!(scores, again.as_slice(), "{}", entry.name);
                kept += 1;
            }
            let m = OutlierModel::fit(det.as_ref(), &frame, 0.05).unwrap();
            assert_eq!(m.training_scores(), again.as_slice(), "{}", entry.name);
        }
        assert!(
            kept >= 10,
            "{kept} vector detectors keep their training scores"
        );
    }
}
