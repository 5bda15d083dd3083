//! Every implemented metric on every golden case, against the reference implementation's value
//! (`tests/golden/`, see `SOURCE.md`), to 1e-9 relative.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use anomex_metrics::prts::{ts_fscore, ts_precision, ts_recall, Bias, Cardinality, FScore};
use anomex_metrics::{adjusted, affiliation, nab, pate, point, range, vus, Compat};
use ndarray::Array1;
use ndarray_npy::ReadNpyExt;
use serde_json::Value;
use std::path::{Path, PathBuf};

struct Case {
    name: String,
    labels: Vec<bool>,
    scores: Vec<f64>,
    pred: Vec<bool>,
    window: usize,
    pate_buffer: usize,
    expected: Value,
}

fn read_i8(path: &Path) -> Vec<bool> {
    let a = Array1::<i8>::read_npy(std::fs::File::open(path).unwrap()).unwrap();
    a.iter().map(|&v| v != 0).collect()
}

fn cases() -> Vec<Case> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.json").exists() && p.join("scores.npy").exists())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 30, "golden cases missing from {root:?}");
    dirs.into_iter()
        .map(|d| {
            let params: Value =
                serde_json::from_str(&std::fs::read_to_string(d.join("params.json")).unwrap())
                    .unwrap();
            Case {
                name: d.file_name().unwrap().to_string_lossy().into_owned(),
                labels: read_i8(&d.join("labels.npy")),
                scores: Array1::<f64>::read_npy(std::fs::File::open(d.join("scores.npy")).unwrap())
                    .unwrap()
                    .to_vec(),
                pred: read_i8(&d.join("pred.npy")),
                window: params["window"].as_u64().unwrap() as usize,
                pate_buffer: params["pate_buffer"].as_u64().unwrap() as usize,
                expected: serde_json::from_str(
                    &std::fs::read_to_string(d.join("expected.json")).unwrap(),
                )
                .unwrap(),
            }
        })
        .collect()
}

/// What the reference said for `key`.
enum Expect {
    Value(f64),
    /// The reference returned NaN or None.
    Undefined,
    /// The reference raised; anomex's behaviour is its own (documented per metric).
    Raised,
    /// No reference value.
    Skipped,
}

fn expect(case: &Case, key: &str) -> Expect {
    let e = &case.expected;
    match &e[key] {
        Value::Number(n) => Expect::Value(n.as_f64().unwrap()),
        Value::Null if e["undefined"].get(key).is_some() => Expect::Undefined,
        Value::Null if e["errors"].get(key).is_some() => Expect::Raised,
        Value::Null if e["skipped"].get(key).is_some() => Expect::Skipped,
        other => panic!("{}: {key}: unexpected {other}", case.name),
    }
}

#[derive(Default)]
struct Tally {
    compared: usize,
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, case: &Case, key: &str, got: anomex_core::Result<f64>) {
        match (expect(case, key), got) {
            (Expect::Value(e), Ok(g)) => {
                self.compared += 1;
                if (g - e).abs() > 1e-9 * e.abs() + 1e-15 {
                    self.failures
                        .push(format!("{} {key}: got {g:e}, reference {e:e}", case.name));
                }
            }
            (Expect::Value(e), Err(err)) => self.failures.push(format!(
                "{} {key}: error `{err}`, reference {e:e}",
                case.name
            )),
            (Expect::Undefined, Ok(g)) if !g.is_nan() => self
                .failures
                .push(format!("{} {key}: got {g}, reference NaN", case.name)),
            (Expect::Undefined, _) | (Expect::Raised, _) | (Expect::Skipped, _) => {}
        }
    }
}

#[test]
fn every_implemented_metric_matches_the_reference() {
    let mut t = Tally::default();
    for c in cases() {
        let (l, s, p) = (&c.labels[..], &c.scores[..], &c.pred[..]);
        let r = Compat::Reference;
        t.check(&c, "TSB-AD/AUC-ROC", point::auc_roc(l, s));
        t.check(&c, "TSB-AD/AUC-PR", point::auc_pr(l, s));
        t.check(&c, "TSB-AD/Standard-F1", point::standard_f1(l, s));
        t.check(&c, "TSB-AD/PA-F1", adjusted::pa_f1(l, s, r));
        t.check(&c, "TSB-AD/Event-based-F1", adjusted::event_f1(l, s, r));
        t.check(&c, "TSB-AD/R-based-F1", range::range_f1(l, s));
        let v = vus::vus(l, s, c.window);
        t.check(
            &c,
            "TSB-AD/VUS-ROC",
            v.as_ref().map(|v| v.roc).map_err(clone_err),
        );
        t.check(&c, "TSB-AD/VUS-PR", v.map(|v| v.pr));
        let r_auc = vus::range_auc(l, s, c.window);
        t.check(
            &c,
            "vus/R_AUC_ROC",
            r_auc.as_ref().map(|v| v.roc).map_err(clone_err),
        );
        t.check(&c, "vus/R_AUC_PR", r_auc.map(|v| v.pr));
        t.check(
            &c,
            "TSB-AD@pred/Standard-F1",
            point::prf(l, p).map(|c| c.f1()),
        );
        t.check(&c, "TSB-AD@pred/PA-F1", adjusted::pa_f1_pred(l, p, r));
        t.check(
            &c,
            "TSB-AD@pred/Event-based-F1",
            adjusted::event_f1_pred(l, p, r),
        );
        t.check(&c, "TSB-AD@pred/R-based-F1", range::range_f1_pred(l, p));
        check_prts(&mut t, &c);
        t.check(&c, "PATE", pate::pate(l, s, c.pate_buffer, c.pate_buffer));
        t.check(
            &c,
            "PATE-F1@pred",
            pate::pate_f1(l, p, c.pate_buffer, c.pate_buffer),
        );
        let vp = vus::vus_pred(l, p, c.window, r);
        t.check(
            &c,
            "TSB-AD@pred/VUS-Recall",
            vp.as_ref().map(|v| v.recall).map_err(clone_err),
        );
        t.check(
            &c,
            "TSB-AD@pred/VUS-Precision",
            vp.as_ref().map(|v| v.precision).map_err(clone_err),
        );
        t.check(&c, "TSB-AD@pred/VUS-F", vp.map(|v| v.f));
        t.check(&c, "TSB-AD/Affiliation-F", affiliation::affiliation_f(l, s));
        t.check(
            &c,
            "TSB-AD@pred/Affiliation-F",
            affiliation::affiliation_f_pred(l, p),
        );
        for (name, profile) in [
            ("standard", nab::STANDARD),
            ("reward_low_FP_rate", nab::LOW_FP),
            ("reward_low_FN_rate", nab::LOW_FN),
        ] {
            let got = nab::nab(l, s, profile, r);
            let key = |part: &str| format!("NAB/{name}/{part}");
            t.check(
                &c,
                &key("raw"),
                got.as_ref().map(|g| g.raw).map_err(clone_err),
            );
            t.check(
                &c,
                &key("threshold"),
                got.as_ref().map(|g| g.threshold).map_err(clone_err),
            );
            t.check(
                &c,
                &key("normalized"),
                got.map(|g| g.normalized.unwrap_or(f64::NAN)),
            );
        }
    }
    assert!(
        t.failures.is_empty(),
        "{} of {} values differ:\n{}",
        t.failures.len(),
        t.compared + t.failures.len(),
        t.failures.join("\n")
    );
    // 30 cases × 39 metrics, less the reference's NaNs, errors and skipped values
    assert!(t.compared >= 1050, "only {} values compared", t.compared);
    eprintln!("{} reference values reproduced", t.compared);
}

/// The prts variants, as `params.json` lists them for every case.
fn check_prts(t: &mut Tally, c: &Case) {
    let (l, p) = (&c.labels[..], &c.pred[..]);
    use Bias::*;
    use Cardinality::*;
    let recip = FScore {
        cardinality: Reciprocal,
        r_alpha: 0.2,
        ..FScore::default()
    };
    for (key, got) in [
        ("prts@pred/precision", ts_precision(l, p, 0.0, One, Flat)),
        ("prts@pred/recall", ts_recall(l, p, 0.0, One, Flat)),
        ("prts@pred/f1", ts_fscore(l, p, FScore::default())),
        (
            "prts@pred/precision_reciprocal",
            ts_precision(l, p, 0.0, Reciprocal, Flat),
        ),
        (
            "prts@pred/recall_reciprocal_a0.2",
            ts_recall(l, p, 0.2, Reciprocal, Flat),
        ),
        ("prts@pred/f1_reciprocal_pa0_ra0.2", ts_fscore(l, p, recip)),
        (
            "prts@pred/recall_one_a0.5_front",
            ts_recall(l, p, 0.5, One, Front),
        ),
        (
            "prts@pred/precision_reciprocal_back",
            ts_precision(l, p, 0.0, Reciprocal, Back),
        ),
        (
            "prts@pred/recall_reciprocal_a0_middle",
            ts_recall(l, p, 0.0, Reciprocal, Middle),
        ),
    ] {
        t.check(c, key, got);
    }
}

fn clone_err(e: &anomex_core::Error) -> anomex_core::Error {
    anomex_core::Error::input(e.to_string())
}

#[test]
fn correct_mode_fixes_the_pa_f1_index_zero_quirk() {
    let c = cases()
        .into_iter()
        .find(|c| c.name.starts_with("p03_"))
        .unwrap();
    let reference = adjusted::pa_f1(&c.labels, &c.scores, Compat::Reference).unwrap();
    let correct = adjusted::pa_f1(&c.labels, &c.scores, Compat::Correct).unwrap();
    assert!(
        (reference - 0.947_368_421_052_631_6).abs() < 1e-12,
        "{reference}"
    );
    assert_eq!(correct, 1.0);
}

#[test]
fn correct_mode_does_not_accumulate_vus_pred_labels() {
    // with windows ≥ 2 and predictions around the segments the two modes differ
    let c = cases()
        .into_iter()
        .find(|c| c.name.starts_with("p22_"))
        .unwrap();
    let reference = vus::vus_pred(&c.labels, &c.pred, c.window, Compat::Reference).unwrap();
    let correct = vus::vus_pred(&c.labels, &c.pred, c.window, Compat::Correct).unwrap();
    let expected = c.expected["TSB-AD@pred/VUS-Recall"].as_f64().unwrap();
    assert!((reference.recall - expected).abs() <= 1e-9 * expected);
    assert!(
        correct.recall <= reference.recall,
        "{correct:?} {reference:?}"
    );
}

/// The CARE cases: every per-event field and the final score.
#[test]
fn care_matches_the_reference() {
    use anomex_metrics::care::{self, Detection, Event};
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/care");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 7);
    let mut compared = 0;
    for d in dirs {
        let read = |f: &str| -> Value {
            serde_json::from_str(&std::fs::read_to_string(d.join(f)).unwrap()).unwrap()
        };
        let (events_json, params, expected) = (
            read("events.json"),
            read("params.json"),
            read("expected.json"),
        );
        let bits = |v: &Value| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_i64().unwrap() != 0)
                .collect::<Vec<bool>>()
        };
        let events: Vec<Event> = events_json
            .as_array()
            .unwrap()
            .iter()
            .map(|e| Event {
                anomaly: e["label"] == "anomaly",
                start: e["start"].as_u64().unwrap() as usize,
                end: e["end"].as_u64().unwrap() as usize,
                pred: bits(&e["pred"]),
                normal: e.get("normal").map(bits),
            })
            .collect();
        let p = care::Params {
            criticality_threshold: params["criticality_threshold"].as_i64().unwrap(),
            detection: if params["method"] == "fraction" {
                Detection::Fraction
            } else {
                Detection::Criticality
            },
            ..care::Params::default()
        };
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        let got = care::care(&events, &p, Compat::Reference);
        match expected["CARE"].as_f64() {
            Some(e) => {
                let g = got.unwrap();
                assert!(
                    (g - e).abs() <= 1e-12 * e.abs().max(1.0),
                    "{name}: CARE {g} vs {e}"
                );
                compared += 1;
            }
            None => {
                assert!(got.is_err(), "{name}: the reference raised");
                // the fraction method works in the default mode
                let fixed = care::care(&events, &p, Compat::Correct).unwrap();
                assert!((0.0..=1.0).contains(&fixed), "{name}: {fixed}");
            }
        }
        let Some(rows) = expected["events"].as_array() else {
            continue;
        };
        for (e, row) in events.iter().zip(rows) {
            let s = care::evaluate_event(e, &p).unwrap();
            let close = |a: Option<f64>, b: &Value| match (a, b.as_f64()) {
                (Some(a), Some(b)) => (a - b).abs() <= 1e-12,
                (None, None) => true,
                _ => false,
            };
            assert!(
                close(s.weighted_score, &row["weighted_score"]),
                "{name} {row}"
            );
            assert!(close(s.f_beta, &row["f_beta_score"]), "{name} {row}");
            assert!(close(Some(s.accuracy), &row["accuracy"]), "{name} {row}");
            assert_eq!(
                s.max_criticality,
                row["max_criticality"].as_i64().unwrap(),
                "{name} {row}"
            );
            let counts = [s.tn, s.fp, s.fn_, s.tp].map(|c| c as u64);
            let expected_counts = ["tn", "fp", "fn", "tp"].map(|k| row[k].as_u64().unwrap());
            assert_eq!(counts, expected_counts, "{name}");
            assert_eq!(
                s.detected_by_criticality,
                row["anomaly_detected_by_criticality"].as_bool().unwrap(),
                "{name}"
            );
            assert_eq!(
                s.detected_by_fraction,
                row["anomaly_event_detected_by_fraction"].as_bool().unwrap(),
                "{name}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 30, "{compared}");
}
