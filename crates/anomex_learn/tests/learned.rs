#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The learned-model layer: determinism, the model file's weights section (and what a crafted
//! one gets), progress, and bad input.

use anomex_core::model_file::{from_bytes, to_bytes};
use anomex_core::{progress, Frame, Registry};
use std::cell::RefCell;
use std::rc::Rc;

fn registry() -> Registry {
    let mut r = Registry::new();
    anomex_learn::register(&mut r).unwrap();
    r
}

/// A noisy sine with three spikes.
fn series(n: usize) -> Vec<f64> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut x: Vec<f64> = (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            (i as f64 * std::f64::consts::TAU / 40.0).sin() + 0.1 * noise
        })
        .collect();
    for i in [300, 450, 520] {
        x[i] += 2.0;
    }
    x
}

fn frame() -> Frame<'static> {
    let x = series(600);
    let y: Vec<f64> = x.iter().map(|v| 0.5 * v - 1.0).collect();
    Frame::from_columns(&[x, y]).unwrap()
}

/// Small, quick settings for each learned detector.
fn quick(name: &str) -> Vec<&'static str> {
    match name {
        "cnn" | "lstm_ad" => vec!["window=20", "max_epochs=3"],
        _ => vec!["max_epochs=3"],
    }
}

fn fit_bytes(name: &str, extra: &[&str]) -> Vec<u8> {
    let mut pairs = quick(name);
    pairs.extend_from_slice(extra);
    let d = registry().get(name).unwrap().create(&pairs).unwrap();
    to_bytes(d.fit(&frame()).unwrap().as_ref()).unwrap()
}

const NAMES: [&str; 6] = ["autoencoder", "cnn", "deep_svdd", "lstm_ad", "usad", "vae"];

#[test]
fn the_same_seed_gives_the_same_model_and_another_seed_another() {
    for name in NAMES {
        let a = fit_bytes(name, &[]);
        assert_eq!(a, fit_bytes(name, &[]), "{name}");
        assert_ne!(a, fit_bytes(name, &["seed=1"]), "{name}");
    }
}

#[test]
fn model_files_keep_the_weights_and_score_alike() {
    let reg = registry();
    let data = frame();
    for name in NAMES {
        let d = reg.get(name).unwrap().create(&quick(name)).unwrap();
        let model = d.fit(&data).unwrap();
        let bytes = to_bytes(model.as_ref()).unwrap();
        assert_eq!(
            &bytes[8..12],
            &2u32.to_le_bytes(),
            "{name}: weights need format 2"
        );
        let back = from_bytes(&bytes, &reg).unwrap();
        assert_eq!(
            model.score(&data).unwrap(),
            back.score(&data).unwrap(),
            "{name}"
        );
        // attribution is the per-channel error, where the errors are per channel
        match back.explain() {
            Some(explain) => {
                // computed for the asked rows only, equal to the scoring pass's per-channel
                // errors up to float32 rounding, which depends on the batch a sample is in
                // (row 5 lies before the CNN's first forecast)
                let scores = back.score(&data).unwrap();
                let channels = scores.per_channel.unwrap();
                let why = explain.attributions(&data, &[5, 300]).unwrap();
                for (w, row) in why.iter().zip([5, 300]) {
                    for (c, v) in w.iter().enumerate() {
                        let want = channels[c][row];
                        assert!(
                            (v - want).abs() <= 1e-5 * want.abs().max(1e-3),
                            "{name} {row}"
                        );
                    }
                    assert!(w.iter().all(|v| *v >= 0.0 && v.is_finite()));
                }
            }
            None => assert!(!reg.get(name).unwrap().explains, "{name}"),
        }
    }
}

/// The sections of a version-2 file: (payload, weights).
fn sections(file: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let len = u64::from_le_bytes(file[12..20].try_into().unwrap()) as usize;
    let payload = file[24..24 + len].to_vec();
    let weights = file[24 + len + 12..].to_vec();
    (payload, weights)
}

/// A file from its sections, checksums recomputed (what a crafted file would have).
fn file(payload: &[u8], weights: Option<&[u8]>) -> Vec<u8> {
    let mut out = b"ANOMEXMF".to_vec();
    out.extend_from_slice(&(if weights.is_some() { 2u32 } else { 1 }).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    if let Some(w) = weights {
        out.extend_from_slice(&(w.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(w).to_le_bytes());
        out.extend_from_slice(w);
    }
    out
}

/// Safetensors bytes holding `tensors` (name, shape, values).
fn safetensors_of(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    let device = candle_core::Device::Cpu;
    let built: Vec<(String, candle_core::Tensor)> = tensors
        .iter()
        .map(|(n, s, v)| {
            let t = candle_core::Tensor::from_vec(v.clone(), s.as_slice(), &device).unwrap();
            (n.clone(), t)
        })
        .collect();
    safetensors::serialize(built.iter().map(|(n, t)| (n.as_str(), t)), None).unwrap()
}

fn read(bytes: &[u8]) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(n, v)| {
            let values = v
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            (n, v.shape().to_vec(), values)
        })
        .collect()
}

#[test]
fn crafted_weights_are_named_errors() {
    let reg = registry();
    let good = fit_bytes("autoencoder", &[]);
    let (payload, weights) = sections(&good);
    let tensors = read(&weights);
    let err = |b: Vec<u8>| from_bytes(&b, &reg).unwrap_err().to_string();

    // the sections re-assembled load: the helpers write what the format says
    assert!(from_bytes(&file(&payload, Some(&weights)), &reg).is_ok());
    // no weights section at all
    assert!(err(file(&payload, None)).contains("needs its weights"));
    // garbage in place of safetensors
    assert!(err(file(&payload, Some(b"not safetensors"))).contains("unreadable weights"));
    // one tensor of another shape
    let mut reshaped = tensors.clone();
    let (name, shape, _) = reshaped
        .iter_mut()
        .find(|t| t.0 == "output.weight")
        .unwrap();
    shape.swap(0, 1);
    let name = name.clone();
    let e = err(file(&payload, Some(&safetensors_of(&reshaped))));
    assert!(e.contains(&name) && e.contains("shape"), "{e}");
    // a tensor missing, one too many
    let fewer: Vec<_> = tensors
        .iter()
        .filter(|t| t.0 != "output.bias")
        .cloned()
        .collect();
    assert!(err(file(&payload, Some(&safetensors_of(&fewer)))).contains("output.bias"));
    let mut more = tensors.clone();
    more.push(("extra".into(), vec![1], vec![0.0]));
    assert!(err(file(&payload, Some(&safetensors_of(&more)))).contains("extra"));
    // a non-finite weight
    let mut nan = tensors.clone();
    nan[0].2[0] = f32::NAN;
    assert!(err(file(&payload, Some(&safetensors_of(&nan)))).contains("non-finite"));
    // a state that does not match its own parts (three columns, a standardisation of two)
    let text = String::from_utf8(payload.clone()).unwrap();
    let widened = text.replace("\"columns\":2", "\"columns\":3");
    assert_ne!(widened, text);
    let e = err(file(widened.as_bytes(), Some(&weights)));
    assert!(e.contains("standardisation") && e.contains('3'), "{e}");
}

#[test]
fn training_reports_each_epoch_and_stops_early() {
    let heard = Rc::new(RefCell::new(Vec::new()));
    let h = heard.clone();
    let d = registry()
        .get("cnn")
        .unwrap()
        .create(&["window=20", "max_epochs=40", "patience=2", "lr=0.5"])
        .unwrap();
    let model = progress::observe(
        move |p| h.borrow_mut().push((p.phase.to_string(), p.done, p.total)),
        || d.fit(&frame()).unwrap(),
    );
    let heard = heard.borrow();
    let state = model.state().unwrap();
    let epochs = state["trained"]["epochs"].as_u64().unwrap() as usize;
    let best = state["trained"]["best_epoch"].as_u64().unwrap() as usize;
    assert_eq!(heard.len(), epochs);
    assert!(heard
        .iter()
        .enumerate()
        .all(|(i, p)| p.0 == "train" && p.1 == i + 1 && p.2 == 40));
    // a learning rate this large stops improving long before 40 epochs
    assert!(epochs < 40, "{epochs} epochs");
    assert!(best >= 1 && best + 2 == epochs, "best {best} of {epochs}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let reg = registry();
    let short = Frame::from_series(&series(600)[..15]).unwrap();
    let cnn = reg.get("cnn").unwrap();
    let e = cnn
        .create(&["window=20"])
        .unwrap()
        .fit(&short)
        .unwrap_err()
        .to_string();
    assert!(e.contains("window (20)") && e.contains("15 points"), "{e}");
    let e = cnn
        .create(&["window=12", "num_channel=8,8,8"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("too short"), "{e}");
    let e = reg
        .get("autoencoder")
        .unwrap()
        .create(&["hidden_neurons=64,x"])
        .unwrap_err();
    assert!(e.to_string().contains("hidden_neurons"), "{e}");
    // scoring data of another width
    let model = cnn.create(&quick("cnn")).unwrap().fit(&frame()).unwrap();
    assert!(model
        .score(&short)
        .unwrap_err()
        .to_string()
        .contains("column"));
}

#[test]
fn the_autoencoder_finds_far_rows() {
    // 400 rows near a 3-d plane in 6 dimensions, 8 rows off it
    let mut state = 7_u64;
    let mut rnd = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut cols = vec![Vec::new(); 6];
    for i in 0..408 {
        let (a, b, c) = (rnd(), rnd(), rnd());
        let row = [a, b, c, a + b, b - c, a + c];
        for (j, col) in cols.iter_mut().enumerate() {
            let off = if i >= 400 && j >= 3 { 1.5 } else { 0.0 };
            col.push(row[j] + 0.01 * rnd() + off);
        }
    }
    let data = Frame::from_columns(&cols).unwrap();
    // a bottleneck of the plane's dimension: the plane is learned, what lies off it is not
    let pairs = ["max_epochs=60", "hidden_neurons=16,3", "dropout_rate=0"];
    let d = registry()
        .get("autoencoder")
        .unwrap()
        .create(&pairs)
        .unwrap();
    let scores = d.fit(&data).unwrap().score(&data).unwrap().combined;
    let worst_inlier = scores[..400].iter().cloned().fold(f64::MIN, f64::max);
    let best_outlier = scores[400..].iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        best_outlier > worst_inlier,
        "{best_outlier} vs {worst_inlier}"
    );
}

#[test]
fn the_vae_divergence_counts_only_with_a_capacity() {
    // PyOD's default capacity 0 clamps the KL term away; a capacity brings it into training
    let scores = |extra: &[&str]| {
        let mut pairs = quick("vae");
        pairs.extend_from_slice(extra);
        let d = registry().get("vae").unwrap().create(&pairs).unwrap();
        d.fit(&frame()).unwrap().score(&frame()).unwrap().combined
    };
    let plain = scores(&[]);
    assert_eq!(
        plain,
        scores(&["beta=5"]),
        "β without a capacity changed the model"
    );
    assert_ne!(plain, scores(&["capacity=10"]));
}

/// Template ids: a four-step cycle, with one unseen id and one step out of order at the end.
fn events() -> Frame<'static> {
    let mut ids: Vec<f64> = (0..400).map(|i| f64::from(i % 4)).collect();
    ids[390] = 7.0; // 390 % 4 == 2: a template never seen in training
    ids[397] = 0.0; // 397 % 4 == 1: a 0 where a 1 always follows a 0
    Frame::from_series(&ids).unwrap()
}

#[test]
fn deeplog_learns_the_next_template_and_flags_the_surprises() {
    let reg = registry();
    let d = reg.get("deeplog").unwrap();
    let quick = [
        "window=4",
        "max_epochs=40",
        "templates=9",
        "patience=0",
        "lr=0.01",
    ];
    let data = events();
    let train = Frame::from_series(&data.column_vec(0)[..380]).unwrap();
    let model = d.create(&quick).unwrap().fit(&train).unwrap();
    let s = model.score(&data).unwrap().combined;
    let normal_max = s[8..380].iter().copied().fold(0.0, f64::max);
    assert!(
        s[390] > 2.0 * normal_max.max(0.1),
        "unseen id: {} vs {normal_max}",
        s[390]
    );
    assert!(
        s[397] > 2.0 * normal_max.max(0.1),
        "out of order: {} vs {normal_max}",
        s[397]
    );
    // the model file keeps it, and the same seed gives the same bytes
    let bytes = to_bytes(model.as_ref()).unwrap();
    assert_eq!(
        from_bytes(&bytes, &reg)
            .unwrap()
            .score(&data)
            .unwrap()
            .combined,
        s
    );
    let again = d.create(&quick).unwrap().fit(&train).unwrap();
    assert_eq!(to_bytes(again.as_ref()).unwrap(), bytes);
}

#[test]
fn deeplog_names_what_is_not_a_template_id() {
    let d = registry()
        .get("deeplog")
        .unwrap()
        .create(&["max_epochs=1"])
        .unwrap();
    let readings = Frame::from_series(&series(600)).unwrap();
    let err = d.fit(&readings).unwrap_err().to_string();
    assert!(
        err.contains("event codes") && err.contains("row 0"),
        "{err}"
    );
    let two = Frame::from_columns(&[vec![1.0; 50], vec![2.0; 50]]).unwrap();
    let err = d.fit(&two).unwrap_err().to_string();
    assert!(err.contains("one column"), "{err}");
}
