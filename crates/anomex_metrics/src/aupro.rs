//! AUPRO: the area under the per-region-overlap curve for pixel anomaly maps, up to a false
//! positive rate of 0.3, normalised to [0, 1] (Bergmann, Batzner, Fauser, Sattlegger & Steger,
//! "The MVTec Anomaly Detection Dataset", IJCV 2021, and its evaluation code).
//!
//! Ground-truth regions are the 8-connected components of each mask. Sweeping the threshold down
//! over every distinct pixel score, the false positive rate is the share of normal pixels above
//! it and the PRO the mean, over all regions of all images, of the share of each region's pixels
//! above it. The curve starts at (0, 0); the area up to the limit uses trapezoids, with the last
//! piece interpolated linearly at the limit, and is divided by the limit.
//! Cost: O(P log P) for P pixels.

use anomex_core::{Error, Result};
use std::collections::VecDeque;

/// One image: row-major anomaly scores and ground-truth mask of `height × width` pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelMap {
    pub width: usize,
    pub height: usize,
    pub scores: Vec<f64>,
    pub mask: Vec<bool>,
}

/// 8-connected component sizes; `label[i]` is the component of anomalous pixel `i`.
fn components(m: &PixelMap) -> (Vec<usize>, Vec<Option<usize>>) {
    let mut label = vec![None; m.mask.len()];
    let mut sizes = Vec::new();
    for seed in 0..m.mask.len() {
        if !m.mask[seed] || label[seed].is_some() {
            continue;
        }
        let id = sizes.len();
        let mut size = 0;
        let mut queue = VecDeque::from([seed]);
        label[seed] = Some(id);
        while let Some(p) = queue.pop_front() {
            size += 1;
            let (r, c) = ((p / m.width) as i64, (p % m.width) as i64);
            for dr in -1..=1 {
                for dc in -1..=1 {
                    let (nr, nc) = (r + dr, c + dc);
                    if nr < 0 || nc < 0 || nr >= m.height as i64 || nc >= m.width as i64 {
                        continue;
                    }
                    let q = nr as usize * m.width + nc as usize;
                    if m.mask[q] && label[q].is_none() {
                        label[q] = Some(id);
                        queue.push_back(q);
                    }
                }
            }
        }
        sizes.push(size);
    }
    (sizes, label)
}

/// Area under `y(x)` for `x` up to `x_max`, interpolating the last piece (MVTec's `trapezoid`).
fn trapezoid_to(x: &[f64], y: &[f64], x_max: f64) -> f64 {
    let mut area = 0.0;
    for k in 1..x.len() {
        if x[k] <= x_max {
            area += 0.5 * (y[k] + y[k - 1]) * (x[k] - x[k - 1]);
        } else {
            if x[k - 1] < x_max {
                let y_at = y[k - 1] + (y[k] - y[k - 1]) * (x_max - x[k - 1]) / (x[k] - x[k - 1]);
                area += 0.5 * (y_at + y[k - 1]) * (x_max - x[k - 1]);
            }
            break;
        }
    }
    area
}

/// AUPRO up to the false positive rate `limit` (0.3 in the MVTec protocol).
pub fn aupro(maps: &[PixelMap], limit: f64) -> Result<f64> {
    if !(limit > 0.0 && limit <= 1.0) {
        return Err(Error::param("limit", format!("{limit} is outside (0, 1]")));
    }
    if maps.is_empty() {
        return Err(Error::input("no anomaly maps"));
    }
    let mut pixels: Vec<(f64, f64, f64)> = Vec::new(); // (score, fpr step, pro step)
    let mut regions = 0usize;
    let mut labelled = Vec::with_capacity(maps.len());
    for (k, m) in maps.iter().enumerate() {
        let n = m.width * m.height;
        if n == 0 || m.scores.len() != n || m.mask.len() != n {
            return Err(Error::input(format!(
                "map {k}: {} scores and {} mask pixels for {}×{} pixels",
                m.scores.len(),
                m.mask.len(),
                m.height,
                m.width
            )));
        }
        if let Some(i) = m.scores.iter().position(|s| !s.is_finite()) {
            return Err(Error::input(format!(
                "map {k}: pixel {i} has a non-finite score"
            )));
        }
        let (sizes, label) = components(m);
        regions += sizes.len();
        labelled.push((sizes, label));
    }
    let normal = maps
        .iter()
        .map(|m| m.mask.iter().filter(|&&a| !a).count())
        .sum::<usize>();
    if regions == 0 || normal == 0 {
        return Err(Error::input(
            "AUPRO needs at least one anomalous region and one normal pixel",
        ));
    }
    for (m, (sizes, label)) in maps.iter().zip(&labelled) {
        for (i, &s) in m.scores.iter().enumerate() {
            match label[i] {
                None => pixels.push((s, 1.0 / normal as f64, 0.0)),
                Some(c) => pixels.push((s, 0.0, 1.0 / (sizes[c] * regions) as f64)),
            }
        }
    }
    pixels.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut fprs, mut pros) = (vec![0.0], vec![0.0]);
    let (mut fpr, mut pro) = (0.0, 0.0);
    for (k, &(s, df, dp)) in pixels.iter().enumerate() {
        fpr += df;
        pro += dp;
        if k + 1 == pixels.len() || pixels[k + 1].0 != s {
            fprs.push(fpr.clamp(0.0, 1.0));
            pros.push(pro.clamp(0.0, 1.0));
        }
    }
    Ok(trapezoid_to(&fprs, &pros, limit) / limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(mask: &[u8], scores: &[f64], width: usize) -> PixelMap {
        PixelMap {
            width,
            height: mask.len() / width,
            scores: scores.to_vec(),
            mask: mask.iter().map(|&m| m == 1).collect(),
        }
    }

    #[test]
    fn diagonal_pixels_form_one_region() {
        let m = map(&[1, 0, 0, 1, 0, 0, 0, 0, 1], &[0.0; 9], 3);
        let (sizes, _) = components(&m);
        assert_eq!(sizes, vec![2, 1]);
    }

    #[test]
    fn perfect_and_inverted_maps() {
        let mask = [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
        let perfect: Vec<f64> = mask.iter().map(|&m| f64::from(m)).collect();
        assert!((aupro(&[map(&mask, &perfect, 4)], 0.3).unwrap() - 1.0).abs() < 1e-12);
        let inverted: Vec<f64> = perfect.iter().map(|v| 1.0 - v).collect();
        assert_eq!(aupro(&[map(&mask, &inverted, 4)], 0.3).unwrap(), 0.0);
    }

    #[test]
    fn region_sizes_are_weighted_equally() {
        // two regions (sizes 3 and 1); the small one scores highest: at FPR 0 the PRO is 1/2
        let mask = [1, 1, 1, 0, 0, 0, 0, 1];
        let scores = [0.5, 0.5, 0.5, 0.1, 0.2, 0.3, 0.4, 0.9];
        let a = aupro(&[map(&mask, &scores, 4)], 1.0).unwrap();
        // curve: (0,0) → (0,0.5) → (0,1) → (0.25,1) … → area 1 after reaching PRO 1 at FPR 0
        assert!((a - 1.0).abs() < 1e-12, "{a}");
        assert!(aupro(&[map(&mask, &scores, 4)], 0.0).is_err());
    }
}
