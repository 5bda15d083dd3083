#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Crafted model states: a model file is untrusted input whatever its checksum. Each case below
//! takes a real fitted model's state, changes one thing as an attacker (or a bad disk) could,
//! and hands it to the detector's loader, the step after the checksum. Every one must be an
//! error that names the problem; before these checks each panicked, looped, asked for
//! gigabytes, or scored everything 0 silently.

use anomex::model_file::Stored;
use anomex::Frame;
use serde_json::{json, Value};

fn fitted_state(name: &str, params: &[&str], x: &[f64]) -> (anomex::Params, Value) {
    let frame = Frame::from_series(x).unwrap();
    let fitted = anomex::registry()
        .get(name)
        .unwrap()
        .create(params)
        .unwrap()
        .fit(&frame)
        .unwrap();
    (fitted.params().clone(), fitted.state().unwrap())
}

fn wave() -> Vec<f64> {
    (0..3000).map(|i| (i as f64 * 0.05).sin()).collect()
}

/// Loads `state` with `name`'s loader and returns the error it must give.
fn refused(name: &str, params: &anomex::Params, state: Value) -> String {
    let entry = anomex::registry();
    let entry = entry.get(name).unwrap();
    match (entry.load)(params, Stored::json(state)) {
        Ok(_) => panic!("{name}: a crafted state was accepted"),
        Err(e) => e.to_string(),
    }
}

/// The state with the value at `pointer` replaced.
fn with(mut state: Value, pointer: &str, value: Value) -> Value {
    *state
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the state")) = value;
    state
}

#[test]
fn crafted_series_kernel_states_are_refused() {
    let x = wave();
    let cases: &[(&str, &str, Value, &str)] = &[
        // window 0 scored everything 0.0 without a word
        ("zscore", "/channels/0/window", json!(0), "window = 0"),
        // a history of 2^32 averages asked for 34 GB at the first point
        (
            "likelihood",
            "/channels/0/history",
            json!(1u64 << 32),
            "history",
        ),
        // a probation of 10^12 points allocated 77 GB
        (
            "artime",
            "/channels/0/probation",
            json!(1_000_000_000_000u64),
            "probation",
        ),
        (
            "artime",
            "/channels/0/settings/window",
            json!(6),
            "power of two",
        ),
        ("artime", "/channels/0/min", json!(5.0), "training range"),
        (
            "sub_pca",
            "/channels/0/window",
            json!(7),
            "mismatched sizes",
        ),
        (
            "matrix_profile",
            "/channels/0/window",
            json!(1),
            "window = 1",
        ),
        ("shesd", "/channels/0/period", json!(0), "period = 0"),
        ("zscore", "/norms/0/scale", json!(0.0), "normalisation"),
    ];
    for (name, pointer, value, expected) in cases {
        let (params, state) = fitted_state(name, &[], &x);
        let e = refused(name, &params, with(state, pointer, value.clone()));
        assert!(e.contains(expected), "{name} {pointer}: {e}");
    }
}

#[test]
fn crafted_stream_learner_states_are_refused() {
    let x = wave();
    let (params, state) = fitted_state("hst", &["window=100"], &x);
    for (pointer, value, expected) in [
        ("/split_dim/0", json!(9), "dimension 9"),
        ("/window", json!(0), "window 0"),
        ("/height", json!(40), "height 40"),
        ("/span/0", json!(-1.0), "span"),
    ] {
        let e = refused("hst", &params, with(state.clone(), pointer, value));
        assert!(e.contains(expected), "hst {pointer}: {e}");
    }
    let (params, state) = fitted_state("rrcf", &["n_trees=2", "tree_size=32"], &x);
    let root = state["trees"][0]["root"].clone();
    let root_at = format!("/trees/0/left/{root}");
    // a branch that points back at the root: every later point looped forever
    let e = refused("rrcf", &params, with(state.clone(), &root_at, root.clone()));
    assert!(e.contains("tree 0"), "rrcf cycle: {e}");
    let parent_at = format!("/trees/0/parent/{root}");
    let e = refused("rrcf", &params, with(state, &parent_at, json!(0)));
    assert!(e.contains("root"), "rrcf root parent: {e}");

    let codes: Vec<f64> = (0..500).map(|i| (i % 5) as f64).collect();
    let (params, state) = fitted_state("ngram", &[], &codes);
    let e = refused("ngram", &params, with(state, "/model/history", json!(0)));
    assert!(e.contains("history"), "ngram: {e}");
}
