#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The conformance test every registered detector must pass: finite scores, one per row,
//! deterministic, streaming = batch where claimed, bad input rejected, model files round-trip,
//! and an AUROC floor on a labelled synthetic series.

use anomex::{model_file, registry, DataKind, Entry, Frame};

fn noise(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }
}

/// A slow seasonal series with noise, three spikes and a 10-point level shift: anomalies that
/// every detector family here is designed to find.
fn labelled_series() -> (Vec<f64>, Vec<bool>) {
    let n = 3000;
    let mut rnd = noise(0x9E37_79B9_7F4A_7C15);
    let mut x: Vec<f64> = (0..n)
        .map(|i| (2.0 * std::f64::consts::PI * i as f64 / 500.0).sin() + 0.2 * rnd())
        .collect();
    let mut labels = vec![false; n];
    for i in [700, 1200, 1900] {
        x[i] += 1.5;
        labels[i] = true;
    }
    for i in 2400..2410 {
        x[i] += 1.0;
        labels[i] = true;
    }
    (x, labels)
}

/// A fast seasonal series with one cycle flattened: a shape anomaly whose values stay inside
/// the normal range, which point detectors cannot see but shape detectors must.
fn shape_series() -> (Vec<f64>, Vec<bool>) {
    let n = 3000;
    let mut rnd = noise(0x2545_F491_4F6C_DD1D);
    let mut x: Vec<f64> = (0..n)
        .map(|i| (2.0 * std::f64::consts::PI * i as f64 / 50.0).sin() + 0.1 * rnd())
        .collect();
    let mut labels = vec![false; n];
    for i in 2500..2550 {
        x[i] = 0.1 * rnd();
        labels[i] = true;
    }
    (x, labels)
}

/// A Gaussian-like cluster in four dimensions with ten far points: the vector detectors' test set.
fn labelled_vectors() -> (Frame<'static>, Vec<bool>) {
    let mut rnd = noise(0x0DDB_1A5E_5BAD_5EED);
    let n = 600;
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); 4];
    let mut labels = vec![false; n];
    for (i, label) in labels.iter_mut().enumerate() {
        let outlier = i % 60 == 59;
        *label = outlier;
        for (j, col) in cols.iter_mut().enumerate() {
            // sum of uniforms ≈ normal; outliers shifted by 4 on alternating axes
            let v: f64 = (0..6).map(|_| rnd()).sum::<f64>() * 0.5;
            let shift = if outlier && (i / 60 + j) % 2 == 0 {
                4.0
            } else {
                0.0
            };
            col.push(v + shift);
        }
    }
    (Frame::from_columns(&cols).unwrap(), labels)
}

/// A sequence of event codes (log template ids): a five-step cycle whose third step takes one
/// of two branches, with eight anomalies — four codes never seen, four steps out of order.
fn labelled_events() -> (Frame<'static>, Vec<bool>) {
    let mut rnd = noise(0x5DEE_CE66_D1CE_4E5B);
    let n = 3000;
    let mut x = Vec::with_capacity(n);
    for i in 0..n {
        let step = i % 5;
        x.push(match step {
            2 if rnd() > 0.0 => 5.0,
            _ => step as f64,
        });
    }
    let mut labels = vec![false; n];
    for (k, i) in [611, 1102, 1553, 1871, 2206, 2437, 2718, 2916]
        .into_iter()
        .enumerate()
    {
        // a step becomes an unseen 9, or a 4 where a 4 never follows (never at step 4, where
        // a 4 is normal)
        x[i] = if k % 2 == 0 { 9.0 } else { 4.0 };
        labels[i] = true;
    }
    (Frame::from_series(&x).unwrap(), labels)
}

/// The frame a detector reads, standing in for `frame`: event detectors read event codes.
fn for_kind(e: &Entry, frame: &Frame<'static>) -> Frame<'static> {
    match e.data {
        DataKind::Events => labelled_events().0,
        _ => frame.clone(),
    }
}

/// The labelled data a detector is judged on: vectors for the vector detectors; for series
/// detectors, a series with a flattened cycle when they score sliding windows (`sub_*`: a
/// window score is spread over every point it covers, so they are built for anomalies of a
/// window's length, not for single points), else the series with spikes and a level shift.
fn labelled_for(e: &Entry) -> (Frame<'static>, Vec<bool>) {
    match e.data {
        DataKind::Series if e.name.starts_with("sub_") => {
            let (x, l) = shape_series();
            (Frame::from_series(&x).unwrap(), l)
        }
        DataKind::Series => {
            let (x, l) = labelled_series();
            (Frame::from_series(&x).unwrap(), l)
        }
        DataKind::Vectors => labelled_vectors(),
        DataKind::Events => labelled_events(),
    }
}

fn auroc(scores: &[f64], labels: &[bool]) -> f64 {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // mid-ranks for ties
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        for k in i..=j {
            ranks[idx[k]] = (i + j) as f64 / 2.0 + 1.0;
        }
        i = j + 1;
    }
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let neg = labels.len() as f64 - pos;
    let sum: f64 = (0..labels.len())
        .filter(|&i| labels[i])
        .map(|i| ranks[i])
        .sum();
    (sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

fn each_entry(f: impl Fn(&Entry)) {
    let reg = registry();
    assert!(reg.entries().len() >= 7);
    for e in reg.entries() {
        f(e);
    }
}

/// The detector with its defaults, except that networks train for a few epochs: the contract
/// does not depend on how long they train, and the suite stays quick.
fn create(e: &Entry) -> Box<dyn anomex::Detector> {
    e.create(&with_quick_training(e, &[])).unwrap()
}

fn with_quick_training<'a>(e: &Entry, pairs: &[&'a str]) -> Vec<&'a str> {
    let mut out = pairs.to_vec();
    if e.params.iter().any(|p| p.name == "max_epochs") {
        out.push("max_epochs=4");
    }
    out
}

fn fit_score(e: &Entry, frame: &Frame) -> anomex::Scores {
    let d = create(e);
    d.fit(frame).unwrap().score(frame).unwrap()
}

#[test]
fn scores_are_finite_aligned_and_deterministic() {
    each_entry(|e| {
        let (frame, _) = labelled_for(e);
        let a = fit_score(e, &frame);
        assert_eq!(a.combined.len(), frame.rows(), "{}", e.name);
        assert!(a.combined.iter().all(|v| v.is_finite()), "{}", e.name);
        let b = fit_score(e, &frame);
        assert_eq!(a, b, "{} is not deterministic", e.name);
    });
}

/// Detectors that report events, not points: ARTime raises one alert per event, at the end of
/// its downsampling step (here 4 points) and only after a probation of 15 % of the series, as
/// NAB scores it; a point-wise AUROC on single-point labels does not measure that. Its events
/// are tested in its module, and its scores against the reference's published NAB results.
const EVENT_DETECTORS: &[&str] = &["artime"];

/// Detectors whose reference does not reach the floor on this fixture either, with why; their
/// quality is measured on real data against the reference instead (`docs/learned.md`).
const BELOW_FLOOR_AS_REFERENCE: &[(&str, &str)] = &[(
    "usad",
    "TSB-AD's own USAD scores AUROC 0.46 on a series built the same way: window 5 and a 5-wide \
     code at lr 1e-4 do not learn a 3,000-point sine",
)];

#[test]
fn auroc_floor_on_labelled_data() {
    let below = std::sync::Mutex::new(Vec::new());
    each_entry(|e| {
        if EVENT_DETECTORS.contains(&e.name) {
            eprintln!(
                "{:>18}: reports events, not points (tested in its module)",
                e.name
            );
            return;
        }
        let (frame, labels) = labelled_for(e);
        let auc = auroc(&fit_score(e, &frame).combined, &labels);
        eprintln!("{:>18}: AUROC {auc:.3}", e.name);
        if let Some((_, why)) = BELOW_FLOOR_AS_REFERENCE.iter().find(|(n, _)| *n == e.name) {
            eprintln!("{:>18}: not held to the floor: {why}", e.name);
            return;
        }
        if auc <= 0.8 {
            below.lock().unwrap().push(format!("{} ({auc:.3})", e.name));
        }
    });
    let below = below.into_inner().unwrap();
    assert!(
        below.is_empty(),
        "below the 0.8 AUROC floor: {}",
        below.join(", ")
    );
}

#[test]
fn shape_detectors_find_a_flattened_cycle() {
    let (x, labels) = shape_series();
    let frame = Frame::from_series(&x).unwrap();
    let reg = registry();
    for name in ["shesd", "matrix_profile", "sub_pca"] {
        let auc = auroc(&fit_score(reg.get(name).unwrap(), &frame).combined, &labels);
        eprintln!("{name:>18}: shape AUROC {auc:.3}");
        assert!(
            auc > 0.8,
            "{name}: shape AUROC {auc:.3} below the 0.8 floor"
        );
    }
}

#[test]
fn streaming_equals_batch_where_claimed() {
    let (x, _) = labelled_series();
    let y: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).rev().collect();
    let frame = Frame::from_columns(&[x, y]).unwrap();
    each_entry(|e| {
        let frame = for_kind(e, &frame);
        let fitted = create(e).fit(&frame).unwrap();
        let stream = fitted.streaming();
        assert_eq!(
            stream.is_some(),
            e.causal,
            "{}: causal flag vs streaming()",
            e.name
        );
        let Some(mut stream) = stream else { return };
        let batch = fitted.score(&frame).unwrap().combined;
        // Rows whose streamed attribution must equal the batch attribution.
        let checked: Vec<usize> = (0..frame.rows()).step_by(97).collect();
        let batch_attr = fitted
            .explain()
            .map(|x| x.attributions(&frame, &checked).unwrap());
        let mut emitted = 0;
        for (i, expected) in batch.iter().enumerate() {
            let row = frame.row(i).to_vec();
            if let Some(s) = stream.update(&row).unwrap() {
                emitted += 1;
                assert!(
                    (s - expected).abs() <= 1e-9 * expected.abs().max(1.0),
                    "{} row {i}: stream {s} vs batch {expected}",
                    e.name,
                );
                if let (Some(streamed), Some(batch)) = (stream.attribution(), &batch_attr) {
                    if let Ok(k) = checked.binary_search(&i) {
                        for (a, b) in streamed.iter().zip(&batch[k]) {
                            assert!(
                                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                                "{} row {i} attribution {streamed:?} vs {:?}",
                                e.name,
                                batch[k]
                            );
                        }
                    }
                }
            }
        }
        if e.data == DataKind::Series && fitted.explain().is_some() {
            assert!(
                stream.attribution().is_some(),
                "{}: a two-column stream attributes its score",
                e.name
            );
        }
        assert!(
            emitted > frame.rows() / 2,
            "{}: only {emitted} streamed scores",
            e.name
        );
    });
}

/// A stream snapshot, written out as text and restored into a fresh stream halfway, continues
/// with bit-identical scores: what the service relies on to survive a restart.
#[test]
fn stream_snapshots_resume_exactly() {
    let (x, _) = labelled_series();
    let y: Vec<f64> = x.iter().map(|v| 0.5 * v - 3.0).rev().collect();
    let frame = Frame::from_columns(&[x, y]).unwrap();
    let half = frame.rows() / 2;
    each_entry(|e| {
        let frame = for_kind(e, &frame);
        let fitted = create(e).fit(&frame).unwrap();
        let Some(mut whole) = fitted.streaming() else {
            return;
        };
        let mut first = fitted.streaming().unwrap();
        for i in 0..half {
            let row = frame.row(i).to_vec();
            assert_eq!(whole.update(&row).unwrap(), first.update(&row).unwrap());
        }
        let text = first.snapshot().unwrap().to_string();
        drop(first);
        let mut resumed = fitted.streaming().unwrap();
        resumed
            .restore(serde_json::from_str(&text).unwrap())
            .unwrap();
        for i in half..frame.rows() {
            let row = frame.row(i).to_vec();
            let (a, b) = (whole.update(&row).unwrap(), resumed.update(&row).unwrap());
            assert_eq!(
                a.map(f64::to_bits),
                b.map(f64::to_bits),
                "{} row {i}: {a:?} vs {b:?} after restore",
                e.name
            );
        }
        let wrong = serde_json::json!([1, 2, 3]);
        assert!(
            fitted.streaming().unwrap().restore(wrong).is_err(),
            "{}: a foreign snapshot was accepted",
            e.name
        );
    });
}

#[test]
fn multivariate_scores_and_attribution() {
    let (x, _) = labelled_series();
    let mut quiet: Vec<f64> = x.iter().map(|v| v * 0.5).collect();
    quiet[1200] -= 2.0; // undo the spike in channel 1
    let frame = Frame::from_columns(&[x, quiet]).unwrap();
    each_entry(|e| {
        if e.data == DataKind::Events {
            // one column of codes by definition; several are refused (`bad_input_…`)
            return;
        }
        let fitted = create(e).fit(&frame).unwrap();
        let s = fitted.score(&frame).unwrap();
        assert_eq!(s.combined.len(), frame.rows());
        assert_eq!(
            fitted.explain().is_some(),
            e.explains,
            "{}: explains flag vs explain()",
            e.name
        );
        let Some(explain) = fitted.explain() else {
            return;
        };
        if e.data == DataKind::Series {
            let per = s.per_channel.as_ref().expect("per-channel scores");
            assert_eq!(per.len(), 2, "{}", e.name);
        }
        let a = explain.attribution(&frame, 1200).unwrap();
        assert_eq!(a.len(), 2);
        assert!(
            a.iter().all(|v| *v >= 0.0 && v.is_finite()),
            "{}: {a:?}",
            e.name
        );
        assert!(explain.attribution(&frame, frame.rows()).is_err());
    });
}

#[test]
fn bad_input_is_rejected_with_a_message() {
    let (x, _) = labelled_series();
    let frame = Frame::from_series(&x).unwrap();
    let two = Frame::from_columns(&[x.clone(), x.clone()]).unwrap();
    let short = Frame::from_series(&[1.0, 2.0, 3.0]).unwrap();
    each_entry(|e| {
        let frame = for_kind(e, &frame);
        let two = match e.data {
            DataKind::Events => {
                let codes = frame.column_vec(0);
                Frame::from_columns(&[codes.clone(), codes]).unwrap()
            }
            _ => two.clone(),
        };
        // unknown parameter
        let err = e.create(&["no_such_param=1"]).unwrap_err().to_string();
        assert!(err.contains("no_such_param"), "{}: {err}", e.name);
        // wrong number of columns at scoring time
        let fitted = create(e).fit(&frame).unwrap();
        let err = fitted.score(&two).unwrap_err().to_string();
        assert!(err.contains("column"), "{}: {err}", e.name);
        // a series far too short for the detector's window is an error, never a panic
        let r = create(e).fit(&short).and_then(|f| f.score(&short));
        if let Err(err) = r {
            assert!(!err.to_string().is_empty());
        }
        // a window longer than the series is an error where the detector has a window
        if e.params.iter().any(|p| p.name == "window") {
            let d = e.create(&with_quick_training(e, &["window=5000"])).unwrap();
            let r = d.fit(&frame).and_then(|f| f.score(&frame));
            if !e.causal {
                let err = r.unwrap_err().to_string();
                assert!(
                    err.contains("longer") || err.contains("short"),
                    "{}: {err}",
                    e.name
                );
            }
        }
    });
}

#[test]
fn constant_series_gives_finite_scores_or_a_clear_error() {
    let frame = Frame::from_series(&[7.0; 600]).unwrap();
    each_entry(
        |e| match create(e).fit(&frame).and_then(|f| f.score(&frame)) {
            Ok(s) => assert!(s.combined.iter().all(|v| v.is_finite()), "{}", e.name),
            Err(err) => assert!(!err.to_string().is_empty(), "{}", e.name),
        },
    );
}

#[test]
fn model_files_round_trip() {
    let (x, _) = labelled_series();
    let frame = Frame::from_columns(&[x.clone(), x.iter().map(|v| -v).collect()]).unwrap();
    let reg = registry();
    for e in reg.entries() {
        let frame = for_kind(e, &frame);
        let fitted = create(e).fit(&frame).unwrap();
        let bytes = model_file::to_bytes(fitted.as_ref()).unwrap();
        let loaded = model_file::from_bytes(&bytes, &reg).unwrap();
        assert_eq!(loaded.name(), e.name);
        assert_eq!(
            loaded.score(&frame).unwrap(),
            fitted.score(&frame).unwrap(),
            "{}",
            e.name
        );
    }
}

#[test]
fn damaged_model_files_are_clear_errors() {
    let reg = registry();
    let frame = Frame::from_series(&labelled_series().0).unwrap();
    let fitted = reg
        .get("zscore")
        .unwrap()
        .create(&["window=10"])
        .unwrap()
        .fit(&frame)
        .unwrap();
    let good = model_file::to_bytes(fitted.as_ref()).unwrap();
    let err = |b: &[u8]| model_file::from_bytes(b, &reg).unwrap_err().to_string();

    assert!(err(&good[..10]).contains("truncated"));
    assert!(err(&good[..good.len() - 3]).contains("truncated"));
    let mut flipped = good.clone();
    let last = flipped.len() - 2;
    flipped[last] ^= 0x20;
    assert!(err(&flipped).contains("checksum"));
    let mut future = good.clone();
    future[8] = 9;
    assert!(err(&future).contains("newer"));
    let mut magic = good.clone();
    magic[0] = b'X';
    assert!(err(&magic).contains("not an anomex model file"));
    let mut extra = good.clone();
    extra.push(0);
    assert!(err(&extra).contains("unexpected bytes"));
}

#[test]
fn registry_names_are_unique_and_documented() {
    let reg = registry();
    let mut names: Vec<_> = reg.entries().iter().map(|e| e.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), reg.entries().len());
    assert!(reg.get(anomex::DEFAULT_DETECTOR).is_ok());
    let mut classes: Vec<_> = reg.entries().iter().map(|e| e.class).collect();
    classes.sort_unstable();
    classes.dedup();
    assert_eq!(
        classes.len(),
        reg.entries().len(),
        "Python class names clash"
    );
    for e in reg.entries() {
        assert!(!e.summary.is_empty());
        assert!(
            e.class.starts_with(|c: char| c.is_ascii_uppercase())
                && e.class.chars().all(|c| c.is_ascii_alphanumeric()),
            "{}: `{}` is not a Python class name",
            e.name,
            e.class
        );
        assert!(e.params.iter().all(|p| !p.doc.is_empty()), "{}", e.name);
        if e.name.starts_with("sub_") {
            assert_eq!(e.data, DataKind::Series, "{}", e.name);
        }
    }
    let err = reg.get("nope").unwrap_err().to_string();
    assert!(
        err.contains("unknown detector `nope`") && err.contains("zscore"),
        "{err}"
    );
}
