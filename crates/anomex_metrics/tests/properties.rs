//! Property tests: ranges, invariance of rank-based metrics under increasing transforms, perfect
//! scores, and the edge cases every metric must handle without panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use anomex_metrics::prts::{ts_fscore, FScore};
use anomex_metrics::{adjusted, affiliation, delay, nab, pate, point, range, vus, Compat};
use proptest::prelude::*;

/// Labels with at least one anomalous and one normal point, and scores on a 1/1000 grid (so an
/// increasing transform cannot merge two distinct scores by rounding).
fn case() -> impl Strategy<Value = (Vec<bool>, Vec<f64>)> {
    (8usize..120)
        .prop_flat_map(|n| {
            (
                proptest::collection::vec(proptest::bool::weighted(0.2), n),
                proptest::collection::vec(0u32..1000, n),
            )
        })
        .prop_filter("both classes", |(l, _)| {
            l.iter().any(|&x| x) && l.iter().any(|&x| !x)
        })
        .prop_map(|(l, s)| (l, s.into_iter().map(|v| f64::from(v) / 1000.0).collect()))
}

fn unit(v: f64) -> bool {
    (0.0..=1.0 + 1e-12).contains(&v)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn values_lie_in_the_unit_interval((l, s) in case(), w in 0usize..12) {
        let pred: Vec<bool> = s.iter().map(|&v| v > 0.7).collect();
        for (name, v) in [
            ("auc_roc", point::auc_roc(&l, &s).unwrap()),
            ("auc_pr", point::auc_pr(&l, &s).unwrap()),
            ("standard_f1", point::standard_f1(&l, &s).unwrap()),
            ("pa_f1", adjusted::pa_f1(&l, &s, Compat::Correct).unwrap()),
            ("range_f1", range::range_f1(&l, &s).unwrap()),
            ("vus_roc", vus::vus(&l, &s, w).unwrap().roc),
            ("vus_pr", vus::vus(&l, &s, w).unwrap().pr),
            ("pate", pate::pate(&l, &s, w, w).unwrap()),
            ("pate_f1", pate::pate_f1(&l, &pred, w, w).unwrap()),
            ("prts_f1", ts_fscore(&l, &pred, FScore::default()).unwrap()),
            ("pa_k_auc", delay::pa_k_auc(&l, &s).unwrap()),
        ] {
            prop_assert!(unit(v), "{name} = {v}");
        }
        let r = vus::range_auc(&l, &s, w).unwrap();
        prop_assert!(unit(r.pr));
        prop_assert!(r.roc.is_nan() || unit(r.roc));
        let aff = affiliation::affiliation_f(&l, &s).unwrap();
        prop_assert!(aff.is_nan() || unit(aff));
        let ev = adjusted::event_f1(&l, &s, Compat::Correct).unwrap();
        prop_assert!(ev.is_nan() || unit(ev));
        let nab = nab::nab(&l, &s, nab::STANDARD, Compat::Correct).unwrap();
        prop_assert!(nab.normalized.is_none_or(|v| v <= 100.0 + 1e-9));
    }

    #[test]
    fn rank_based_metrics_ignore_increasing_transforms((l, s) in case(), w in 0usize..12) {
        let t: Vec<f64> = s.iter().map(|&x| x * x * x + 2.0 * x - 5.0).collect();
        prop_assert_eq!(point::auc_roc(&l, &s).unwrap(), point::auc_roc(&l, &t).unwrap());
        prop_assert_eq!(point::auc_pr(&l, &s).unwrap(), point::auc_pr(&l, &t).unwrap());
        prop_assert_eq!(point::standard_f1(&l, &s).unwrap(), point::standard_f1(&l, &t).unwrap());
        prop_assert_eq!(vus::vus(&l, &s, w).unwrap(), vus::vus(&l, &t, w).unwrap());
        let (a, b) = (vus::range_auc(&l, &s, w).unwrap(), vus::range_auc(&l, &t, w).unwrap());
        prop_assert!(a.pr == b.pr && (a.roc == b.roc || (a.roc.is_nan() && b.roc.is_nan())));
    }

    #[test]
    fn perfect_scores_give_the_maximum((l, _) in case()) {
        let s: Vec<f64> = l.iter().map(|&x| if x { 1.0 } else { 0.0 }).collect();
        prop_assert_eq!(point::auc_roc(&l, &s).unwrap(), 1.0);
        prop_assert!((point::auc_pr(&l, &s).unwrap() - 1.0).abs() < 1e-12);
        prop_assert!((point::standard_f1(&l, &s).unwrap() - 2.0 / 2.00001).abs() < 1e-12);
        prop_assert_eq!(adjusted::pa_f1(&l, &s, Compat::Correct).unwrap(), 1.0);
        prop_assert!((adjusted::event_f1(&l, &s, Compat::Correct).unwrap() - 1.0).abs() < 1e-12);
        prop_assert!((range::range_f1(&l, &s).unwrap() - 1.0).abs() < 1e-12);
        prop_assert!((affiliation::affiliation_f(&l, &s).unwrap() - 1.0).abs() < 1e-12);
        prop_assert!((pate::pate_f1(&l, &l, 3, 3).unwrap() - 1.0).abs() < 1e-12);
        prop_assert!((delay::pa_k_auc(&l, &s).unwrap() - 1.0).abs() < 1e-12);
    }
}

/// Runs every score metric; returns the names of those that returned an error.
fn errors(l: &[bool], s: &[f64]) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut note = |name, ok: bool| {
        if !ok {
            out.push(name)
        }
    };
    note("auc_roc", point::auc_roc(l, s).is_ok());
    note("auc_pr", point::auc_pr(l, s).is_ok());
    note("standard_f1", point::standard_f1(l, s).is_ok());
    note("pa_f1", adjusted::pa_f1(l, s, Compat::Correct).is_ok());
    note(
        "event_f1",
        adjusted::event_f1(l, s, Compat::Correct).is_ok(),
    );
    note("range_f1", range::range_f1(l, s).is_ok());
    note("affiliation", affiliation::affiliation_f(l, s).is_ok());
    note("vus", vus::vus(l, s, 4).is_ok());
    note("range_auc", vus::range_auc(l, s, 4).is_ok());
    note("pate", pate::pate(l, s, 2, 2).is_ok());
    note(
        "nab",
        nab::nab(l, s, nab::STANDARD, Compat::Correct).is_ok(),
    );
    note("pa_k_auc", delay::pa_k_auc(l, s).is_ok());
    out
}

#[test]
fn no_anomaly() {
    let l = vec![false; 30];
    let s: Vec<f64> = (0..30).map(f64::from).collect();
    // undefined where the reference raises; NaN or 0 elsewhere
    assert_eq!(errors(&l, &s), vec!["affiliation", "vus", "range_auc"]);
    assert!(point::auc_roc(&l, &s).unwrap().is_nan());
    assert_eq!(point::auc_pr(&l, &s).unwrap(), 0.0);
    assert!(adjusted::event_f1(&l, &s, Compat::Correct)
        .unwrap()
        .is_nan());
    assert_eq!(pate::pate(&l, &s, 2, 2).unwrap(), 0.0);
    assert_eq!(
        nab::nab(&l, &s, nab::STANDARD, Compat::Correct)
            .unwrap()
            .normalized,
        None
    );
}

#[test]
fn all_anomalous() {
    let l = vec![true; 30];
    let s: Vec<f64> = (0..30).map(f64::from).collect();
    assert_eq!(errors(&l, &s), vec!["vus"]);
    assert!(point::auc_roc(&l, &s).unwrap().is_nan());
    assert!(vus::range_auc(&l, &s, 4).unwrap().roc.is_nan());
}

#[test]
fn segments_at_both_ends_and_single_points() {
    let mut l = vec![false; 40];
    for i in [0, 1, 2, 20, 38, 39] {
        l[i] = true;
    }
    let s: Vec<f64> = l
        .iter()
        .enumerate()
        .map(|(i, &x)| if x { 0.9 } else { (i % 5) as f64 / 10.0 })
        .collect();
    assert!(errors(&l, &s).is_empty(), "{:?}", errors(&l, &s));
    assert_eq!(adjusted::pa_f1(&l, &s, Compat::Correct).unwrap(), 1.0);
    // a one-point window: the reference's NAB divides by zero, the default does not
    assert!(nab::nab(&l, &s, nab::STANDARD, Compat::Reference).is_err());
    assert!(nab::nab(&l, &s, nab::STANDARD, Compat::Correct)
        .unwrap()
        .raw
        .is_finite());
}

#[test]
fn ties_and_constant_scores() {
    let l: Vec<bool> = (0..30).map(|i| (10..15).contains(&i)).collect();
    let c = vec![0.5; 30];
    assert!(errors(&l, &c).is_empty(), "{:?}", errors(&l, &c));
    assert_eq!(point::auc_roc(&l, &c).unwrap(), 0.5);
    // constant scores predict nothing at TSB-AD's thresholds (S > max)
    assert_eq!(adjusted::pa_f1(&l, &c, Compat::Correct).unwrap(), 0.0);
    assert!(affiliation::affiliation_f(&l, &c).unwrap().is_nan());
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let l = vec![false, true, false];
    for s in [
        vec![0.1, f64::NAN, 0.3],
        vec![0.1, 0.2],
        vec![f64::INFINITY, 0.0, 1.0],
    ] {
        assert_eq!(errors(&l, &s).len(), 12, "{s:?}");
    }
    assert_eq!(errors(&[], &[]).len(), 12);
    assert!(point::prf(&l, &[true]).is_err());
    assert!(vus::vus_pred(&l, &[true, false], 2, Compat::Correct).is_err());
    assert!(pate::pate_f1(&l, &[true], 1, 1).is_err());
}

#[test]
fn length_one() {
    let errs = errors(&[true], &[0.3]);
    assert!(errs.contains(&"vus"), "{errs:?}");
    assert!(point::auc_roc(&[true], &[0.3]).unwrap().is_nan());
    assert_eq!(point::auc_pr(&[true], &[0.3]).unwrap(), 1.0);
}
