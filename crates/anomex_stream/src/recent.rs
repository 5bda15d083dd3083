//! [`Recent`]: the last scored points of a series, kept column by column.
//!
//! A service holds this for every series (256 points × 10,000 series by default), and every
//! checkpoint writes it, so its form matters: one value per field per point in flat queues
//! (33 bytes a point for one column, no allocation per point) instead of a queue of [`Scored`]
//! records with their own vectors (about 130 bytes and two allocations a point).

use crate::Scored;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The most recent points, oldest first, at most `capacity`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Recent {
    columns: usize,
    timestamps: VecDeque<i64>,
    /// `columns` values per point.
    values: VecDeque<f64>,
    /// NaN where the point was not scored (warm-up); scores are finite otherwise.
    #[serde(with = "nan_as_none")]
    scores: VecDeque<f64>,
    /// NaN where the point had no threshold.
    #[serde(with = "nan_as_none")]
    thresholds: VecDeque<f64>,
    anomalies: VecDeque<bool>,
    /// Multi-column series only: whether the point has an attribution, and `columns` shares per
    /// point (NaN where it has none).
    attributed: VecDeque<bool>,
    #[serde(with = "nan_as_none")]
    attributions: VecDeque<f64>,
}

/// NaN marks "none" in memory; stored forms (JSON among them, which has no NaN) say `None`.
mod nan_as_none {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::VecDeque;

    pub fn serialize<S: Serializer>(q: &VecDeque<f64>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(q.iter().map(|&x| (!x.is_nan()).then_some(x)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VecDeque<f64>, D::Error> {
        let v: Vec<Option<f64>> = Vec::deserialize(d)?;
        Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }
}

fn or_nan(x: Option<f64>) -> f64 {
    x.unwrap_or(f64::NAN)
}

fn some_finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl Recent {
    pub fn new(columns: usize) -> Recent {
        Recent {
            columns,
            ..Recent::default()
        }
    }

    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// Appends a point, dropping the oldest beyond `capacity` (0 keeps nothing).
    pub fn push(&mut self, p: &Scored, capacity: usize) {
        if capacity == 0 {
            return;
        }
        while self.len() >= capacity {
            self.pop_front();
        }
        self.timestamps.push_back(p.timestamp);
        self.values.extend(p.values.iter().copied());
        self.scores.push_back(or_nan(p.score));
        self.thresholds.push_back(or_nan(p.threshold));
        self.anomalies.push_back(p.anomaly);
        if self.columns > 1 {
            self.attributed.push_back(p.attribution.is_some());
            match &p.attribution {
                Some(a) => self.attributions.extend(a.iter().copied()),
                None => self
                    .attributions
                    .extend(std::iter::repeat_n(f64::NAN, self.columns)),
            }
        }
    }

    fn pop_front(&mut self) {
        self.timestamps.pop_front();
        self.values.drain(..self.columns);
        self.scores.pop_front();
        self.thresholds.pop_front();
        self.anomalies.pop_front();
        if self.columns > 1 {
            self.attributed.pop_front();
            self.attributions.drain(..self.columns);
        }
    }

    /// Keeps the newest `capacity` points.
    pub fn truncate_to(&mut self, capacity: usize) {
        while self.len() > capacity {
            self.pop_front();
        }
    }

    /// Point `i` (0 = oldest).
    pub fn get(&self, i: usize) -> Option<Scored> {
        let timestamp = *self.timestamps.get(i)?;
        let c = self.columns;
        let row = |q: &VecDeque<f64>| q.range(i * c..(i + 1) * c).copied().collect::<Vec<f64>>();
        Some(Scored {
            timestamp,
            values: row(&self.values),
            score: some_finite(self.scores[i]),
            threshold: some_finite(self.thresholds[i]),
            anomaly: self.anomalies[i],
            attribution: (c > 1 && self.attributed[i]).then(|| row(&self.attributions)),
        })
    }

    /// The newest `limit` points, oldest first.
    pub fn last(&self, limit: usize) -> Vec<Scored> {
        (self.len().saturating_sub(limit)..self.len())
            .filter_map(|i| self.get(i))
            .collect()
    }

    /// Whether the queues agree with each other (a snapshot read from disk is checked).
    pub fn is_consistent(&self) -> bool {
        let n = self.len();
        let c = self.columns;
        let attributed = if c > 1 { n } else { 0 };
        c > 0
            && self.values.len() == n * c
            && self.scores.len() == n
            && self.thresholds.len() == n
            && self.anomalies.len() == n
            && self.attributed.len() == attributed
            && self.attributions.len() == attributed * c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: i64, columns: usize) -> Scored {
        Scored {
            timestamp: t,
            values: (0..columns).map(|j| t as f64 + j as f64 / 10.0).collect(),
            score: (t % 3 != 0).then_some(t as f64 * 0.5),
            threshold: (t % 4 != 0).then_some(2.0),
            anomaly: t % 5 == 0,
            attribution: (columns > 1 && t % 2 == 0).then(|| vec![1.0 / columns as f64; columns]),
        }
    }

    #[test]
    fn keeps_the_newest_points_exactly() {
        for columns in [1, 3] {
            let mut r = Recent::new(columns);
            for t in 0..40 {
                r.push(&point(t, columns), 16);
                assert!(r.is_consistent());
            }
            assert_eq!(r.len(), 16);
            let kept: Vec<Scored> = (24..40).map(|t| point(t, columns)).collect();
            assert_eq!(r.last(100), kept);
            assert_eq!(r.last(3), kept[13..].to_vec());
            r.truncate_to(5);
            assert_eq!(r.last(100), kept[11..].to_vec());
            // stored forms round-trip, JSON (no NaN) included
            let json = serde_json::to_string(&r).unwrap();
            let back: Recent = serde_json::from_str(&json).unwrap();
            assert_eq!(back.last(100), r.last(100));
            assert!(back.is_consistent());
        }
        let mut none = Recent::new(1);
        none.push(&point(1, 1), 0);
        assert!(none.is_empty());
    }
}
