//! The NAB score (Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms — the Numenta
//! Anomaly Benchmark", ICMLA 2015), as `nab/sweeper.py` computes it, applied to one labelled
//! series.
//!
//! Conventions (those of the golden cases): scores are min-max scaled to [0, 1] (constant scores
//! become 0), timestamps are the row indices, and every labelled segment is one window (NAB's own
//! labeller would widen windows to 10 % of the series; pass widened labels for that). The first
//! `min(⌊0.15·n⌋, 750)` rows are the probation period and are not scored; a window wholly inside
//! it does not count.
//!
//! Each row gets a sweep score: inside a window `σ(−(right − i + 1)/width) · tp / σ(−1)`, after
//! a window `σ(|prevRight − i| / (prevWidth − 1)) · fp` (−fp once that argument exceeds 3), before
//! any window `−fp`, with `σ(x) = 2/(1 + e^{5x}) − 1`. Rows are swept from the highest score down;
//! at each distinct score the total is `Σ_windows (best sweep score of a detected row, or −fn)
//! + Σ sweep scores of detected rows outside windows`. The raw score is the best total (the first,
//! i.e. highest, threshold on ties) and the normalised score `100 · (raw − null) / (perfect − null)`,
//! with null the raw score of a constant detector and perfect `tp · #windows`.
//!
//! Reference deviation, reproduced with [`Compat::Reference`]: after a one-point window,
//! `prevWidth − 1 = 0` and the reference divides by zero (it raises); by default the distance is
//! divided by `max(prevWidth − 1, 1)`. Cost: O(n log n).

use crate::segments::tsb_segments;
use crate::{check, Compat};
use anomex_core::{Error, Result};

/// Weights of one NAB application profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    pub tp: f64,
    pub fp: f64,
    pub fn_: f64,
}

/// NAB's `standard` profile.
pub const STANDARD: Profile = Profile {
    tp: 1.0,
    fp: 0.11,
    fn_: 1.0,
};
/// NAB's `reward_low_FP_rate` profile.
pub const LOW_FP: Profile = Profile {
    tp: 1.0,
    fp: 0.22,
    fn_: 1.0,
};
/// NAB's `reward_low_FN_rate` profile.
pub const LOW_FN: Profile = Profile {
    tp: 1.0,
    fp: 0.11,
    fn_: 2.0,
};

/// The result of [`nab`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NabScore {
    pub raw: f64,
    /// The (scaled) threshold that achieves `raw`; 1.1 means "detect nothing".
    pub threshold: f64,
    /// `None` when no window is scored (perfect = null).
    pub normalized: Option<f64>,
}

/// `2/(1 + e^{5x}) − 1`, and −1 beyond 3 (strictly: a row exactly 3 widths after a window still
/// gets the sigmoid's value, as in NAB at the pinned commit).
fn scaled_sigmoid(x: f64) -> f64 {
    if x > 3.0 {
        -1.0
    } else {
        2.0 * (1.0 / (1.0 + (5.0 * x).exp())) - 1.0
    }
}

struct Row {
    score: f64,
    sweep: f64,
    /// Index of the window the row is in.
    window: Option<usize>,
}

/// Sweep scores of the scorable rows (see the module docs).
fn sweep_rows(
    scores: &[f64],
    windows: &[(usize, usize)],
    p: Profile,
    compat: Compat,
) -> Result<Vec<Row>> {
    let n = scores.len();
    let probation = (0.15 * n as f64).floor().min(0.15 * 5000.0);
    let max_tp = scaled_sigmoid(-1.0);
    let mut rows = Vec::with_capacity(n);
    let mut next = 0; // next window to enter
    let mut current: Option<usize> = None;
    let mut previous: Option<(usize, f64)> = None; // right index and width of the last window left
    for (i, &score) in scores.iter().enumerate() {
        if current.is_none() && next < windows.len() && windows[next].0 == i {
            current = Some(next);
            next += 1;
        }
        let sweep = match current {
            Some(w) => {
                let (left, right) = windows[w];
                let width = (right - left + 1) as f64;
                scaled_sigmoid(-((right - i + 1) as f64) / width) * p.tp / max_tp
            }
            None => {
                let unweighted = match previous {
                    None => -1.0,
                    Some((right, width)) => {
                        let denom = match compat {
                            Compat::Reference if width - 1.0 == 0.0 => {
                                return Err(Error::input(
                                    "NAB (reference): a one-point window followed by more rows divides by zero",
                                ))
                            }
                            Compat::Reference => width - 1.0,
                            Compat::Correct => (width - 1.0).max(1.0),
                        };
                        scaled_sigmoid(right.abs_diff(i) as f64 / denom)
                    }
                };
                unweighted * p.fp
            }
        };
        if (i as f64) >= probation {
            rows.push(Row {
                score,
                sweep,
                window: current,
            });
        }
        if let Some(w) = current {
            if windows[w].1 == i {
                previous = Some((i, (windows[w].1 - windows[w].0 + 1) as f64));
                current = None;
            }
        }
    }
    Ok(rows)
}

/// Best total over thresholds, or with `at` the total at that threshold (rows scoring at least
/// it detected): `(raw, threshold, number of scored windows)`.
fn best_total(
    mut rows: Vec<Row>,
    n_windows: usize,
    p: Profile,
    at: Option<f64>,
) -> (f64, f64, usize) {
    // stable sort, highest score first, as Python's sorted(..., reverse=True)
    rows.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut best_in_window: Vec<Option<f64>> = vec![None; n_windows];
    let scored: Vec<bool> = {
        let mut s = vec![false; n_windows];
        rows.iter()
            .filter_map(|r| r.window)
            .for_each(|w| s[w] = true);
        s
    };
    let n_scored = scored.iter().filter(|&&s| s).count();
    let mut fp_sum = 0.0;
    let total = |fp_sum: f64, best: &[Option<f64>]| {
        fp_sum
            + best
                .iter()
                .zip(&scored)
                .filter(|(_, &s)| s)
                .map(|(b, _)| b.unwrap_or(-p.fn_))
                .sum::<f64>()
    };
    let mut threshold = 1.1;
    let (mut best, mut best_threshold) = (f64::NEG_INFINITY, threshold);
    for r in &rows {
        if at.is_some_and(|t| r.score < t) {
            break;
        }
        if at.is_none() && r.score != threshold {
            let t = total(fp_sum, &best_in_window);
            if t > best {
                (best, best_threshold) = (t, threshold);
            }
            threshold = r.score;
        }
        match r.window {
            None => fp_sum += r.sweep,
            Some(w) => {
                let b = best_in_window[w].get_or_insert(-p.fn_);
                *b = b.max(r.sweep);
            }
        }
    }
    let t = total(fp_sum, &best_in_window);
    if let Some(at) = at {
        return (t, at, n_scored);
    }
    if t > best {
        (best, best_threshold) = (t, threshold);
    }
    (best, best_threshold, n_scored)
}

/// The NAB score of `scores` against `labels` under `profile` (see the module docs).
pub fn nab(labels: &[bool], scores: &[f64], profile: Profile, compat: Compat) -> Result<NabScore> {
    pooled(&[(labels, scores)], profile, compat, false, None)
}

/// The NAB score of a corpus of labelled series with one threshold for all of them, as NAB's
/// optimiser and scoreboard compute it: every file's sweep rows are pooled (windows numbered
/// across files), the best total over one shared threshold is the raw score, and the null and
/// perfect scores are those of the whole corpus. NAB's detectors emit scores in [0, 1] (calibrated
/// likelihoods) and its threshold applies to them as they are: when every file's scores lie in
/// [0, 1] they are taken as they are; otherwise every file is min-max scaled to [0, 1] first (as
/// in [`nab`]), which makes unbounded scores usable, but comparable with NAB's scoreboard only as
/// far as the scaled scores mean the same across files.
pub fn nab_corpus(
    files: &[(&[bool], &[f64])],
    profile: Profile,
    compat: Compat,
) -> Result<NabScore> {
    pooled(files, profile, compat, true, None)
}

/// [`nab_corpus`] at a threshold chosen beforehand (e.g. the one [`nab_corpus`] found on a tuning
/// set) instead of the best one for these files: a held-out score. The scores are taken as they
/// are or min-max scaled by the same rule as in [`nab_corpus`].
pub fn nab_corpus_at(
    files: &[(&[bool], &[f64])],
    profile: Profile,
    compat: Compat,
    threshold: f64,
) -> Result<NabScore> {
    if threshold.is_nan() {
        return Err(Error::input("NAB corpus: the threshold is not a number"));
    }
    pooled(files, profile, compat, true, Some(threshold))
}

/// [`nab_corpus`]; `keep_unit`: scores that all lie in [0, 1] are not rescaled; `at`: a fixed
/// threshold instead of the best.
fn pooled(
    files: &[(&[bool], &[f64])],
    profile: Profile,
    compat: Compat,
    keep_unit: bool,
    at: Option<f64>,
) -> Result<NabScore> {
    let (mut rows, mut null_rows, mut windows_seen) = (Vec::new(), Vec::new(), 0);
    let in_unit = keep_unit
        && files
            .iter()
            .all(|(_, s)| s.iter().all(|v| (0.0..=1.0).contains(v)));
    for (labels, scores) in files {
        check(labels, scores)?;
        let windows = tsb_segments(labels);
        let offset = |mut r: Vec<Row>| {
            r.iter_mut()
                .for_each(|row| row.window = row.window.map(|w| w + windows_seen));
            r
        };
        let scaled: std::borrow::Cow<'_, [f64]> = if in_unit {
            (*scores).into()
        } else {
            anomex_core::stats::min_max_scaled(scores).into()
        };
        rows.extend(offset(sweep_rows(&scaled, &windows, profile, compat)?));
        let null = vec![0.5; scores.len()];
        null_rows.extend(offset(sweep_rows(&null, &windows, profile, compat)?));
        windows_seen += windows.len();
    }
    let (raw, threshold, n_scored) = best_total(rows, windows_seen, profile, at);
    // the null detector's own best, as NAB normalises every score
    let (null, _, _) = best_total(null_rows, windows_seen, profile, None);
    let perfect = n_scored as f64 * profile.tp;
    let normalized = (perfect != null).then(|| 100.0 * (raw - null) / (perfect - null));
    Ok(NabScore {
        raw,
        threshold,
        normalized,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_anchors() {
        // NAB's documented values: −1 → 0.98661, −0.5 → 0.84828, 0 → 0, > 3 → −1
        assert!((scaled_sigmoid(-1.0) - 0.986_614_298_151_430_3).abs() < 1e-12);
        assert!((scaled_sigmoid(-0.5) - 0.848_283_639_957_512_9).abs() < 1e-12);
        assert_eq!(scaled_sigmoid(0.0), 0.0);
        assert!(scaled_sigmoid(3.0) > -1.0);
        assert_eq!(scaled_sigmoid(3.01), -1.0);
    }

    #[test]
    fn perfect_detection_scores_100() {
        let mut labels = vec![false; 200];
        labels[150..160].iter_mut().for_each(|l| *l = true);
        let scores: Vec<f64> = labels.iter().map(|&l| if l { 1.0 } else { 0.0 }).collect();
        let s = nab(&labels, &scores, STANDARD, Compat::Correct).unwrap();
        assert!((s.normalized.unwrap() - 100.0).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn corpus_of_one_file_is_the_file_score_and_pools_thresholds() {
        let mut a = vec![false; 300];
        a[200..210].iter_mut().for_each(|l| *l = true);
        let sa: Vec<f64> = (0..300)
            .map(|i| ((i * 37) % 11) as f64 / 11.0 + f64::from(u8::from(a[i])))
            .collect();
        let one = nab(&a, &sa, STANDARD, Compat::Correct).unwrap();
        let corpus = nab_corpus(&[(&a, &sa)], STANDARD, Compat::Correct).unwrap();
        assert_eq!(one, corpus);
        // a second file whose best threshold differs: the pooled raw score is at most the sum of
        // the files' own best raw scores
        let mut b = vec![false; 400];
        b[300..305].iter_mut().for_each(|l| *l = true);
        let sb: Vec<f64> = (0..400).map(|i| ((i * 13) % 7) as f64 / 7.0).collect();
        let fb = nab(&b, &sb, STANDARD, Compat::Correct).unwrap();
        let both = nab_corpus(&[(&a, &sa), (&b, &sb)], STANDARD, Compat::Correct).unwrap();
        assert!(
            both.raw <= one.raw + fb.raw + 1e-12,
            "{both:?} {one:?} {fb:?}"
        );
        assert!(both.normalized.unwrap() < 100.0);
        // scores within [0, 1] are used as they are: a file whose scores stay low is not
        // stretched up to 1, so the shared threshold leaves its window undetected
        let low: Vec<f64> = sa.iter().map(|v| v * 0.1).collect();
        let stretched = anomex_core::stats::min_max_scaled(&low);
        let peak: Vec<f64> = b.iter().map(|&l| if l { 0.9 } else { 0.5 }).collect();
        let kept = nab_corpus(&[(&a, &low), (&b, &peak)], STANDARD, Compat::Correct).unwrap();
        let scaled =
            nab_corpus(&[(&a, &stretched), (&b, &peak)], STANDARD, Compat::Correct).unwrap();
        assert!(kept.raw < scaled.raw, "{kept:?} {scaled:?}");
        // one file beyond [0, 1]: every file is min-max scaled, the low one too
        let peak_big: Vec<f64> = peak.iter().map(|v| v * 10.0).collect();
        let mixed = nab_corpus(&[(&a, &low), (&b, &peak_big)], STANDARD, Compat::Correct).unwrap();
        assert!(mixed.raw > kept.raw, "{mixed:?} {kept:?}");
        let big: Vec<f64> = sa.iter().map(|v| v * 1e3).collect();
        let big = nab_corpus(&[(&a, &big)], STANDARD, Compat::Correct).unwrap();
        assert_eq!((big.raw, big.normalized), (one.raw, one.normalized));
        assert!(nab_corpus(&[(&a[..10], &sa)], STANDARD, Compat::Correct).is_err());
    }

    #[test]
    fn a_fixed_threshold_scores_what_it_detects() {
        let mut a = vec![false; 300];
        a[200..210].iter_mut().for_each(|l| *l = true);
        let sa: Vec<f64> = (0..300)
            .map(|i| ((i * 37) % 11) as f64 / 22.0 + if a[i] { 0.45 } else { 0.0 })
            .collect();
        let mut b = vec![false; 400];
        b[300..305].iter_mut().for_each(|l| *l = true);
        let sb: Vec<f64> = (0..400).map(|i| ((i * 13) % 7) as f64 / 7.0).collect();
        let files = [(&a[..], &sa[..]), (&b[..], &sb[..])];
        let best = nab_corpus(&files, STANDARD, Compat::Correct).unwrap();
        // at the best threshold, the best score
        let at = nab_corpus_at(&files, STANDARD, Compat::Correct, best.threshold).unwrap();
        assert_eq!(at, best);
        // every other threshold scores at most the best one
        for t in [0.0, 0.2, 0.5, 0.7, 0.9, 1.1] {
            let s = nab_corpus_at(&files, STANDARD, Compat::Correct, t).unwrap();
            assert_eq!(s.threshold, t);
            assert!(s.raw <= best.raw + 1e-12, "{t}: {s:?} {best:?}");
        }
        // nothing detected: every scored window a miss, no false positive
        let none = nab_corpus_at(&files, STANDARD, Compat::Correct, 1.1).unwrap();
        assert_eq!(none.raw, -2.0 * STANDARD.fn_);
        assert!(nab_corpus_at(&files, STANDARD, Compat::Correct, f64::NAN)
            .unwrap_err()
            .to_string()
            .contains("threshold"));
    }
}
