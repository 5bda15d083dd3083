//! End-to-end tests of the `anomex` binary: the embedded example, file formats, model files, and
//! one test per kind of bad input (exit code 2, a one-line message, never a panic).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/nab/machine_temperature_system_failure.csv"
);

fn anomex(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anomex"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the anomex binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a command that must fail cleanly and returns its message.
fn fails(dir: &Path, args: &[&str]) -> String {
    let o = anomex(dir, args);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?} should fail with code 2; stderr: {err}"
    );
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "{args:?}: message is not one line: {err}"
    );
    assert!(err.starts_with("error: "), "{err}");
    err
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "stderr: {}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("valid JSON summary")
}

/// Whether any flagged span overlaps `[from, to]` (timestamps compare as text).
fn flags_window(summary: &serde_json::Value, from: &str, to: &str) -> bool {
    summary["spans"].as_array().unwrap().iter().any(|s| {
        let a = s["start_time"].as_str().unwrap();
        let b = s["end_time"].as_str().unwrap();
        a <= to && b >= from
    })
}

#[test]
fn example_flags_the_machine_failure_and_writes_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let s = json(&anomex(dir.path(), &["detect", "--example", "--json"]));
    assert_eq!(s["rows"], 22695);
    // NAB's labelled window of the catastrophic failure
    assert!(
        flags_window(&s, "2014-02-07 14:55:00", "2014-02-09 14:05:00"),
        "{s:#}"
    );
    // the default (chosen on the whole NAB suite, not on this series) finds at least one more
    let hit = s["labelled_spans_hit"][0].as_u64().unwrap();
    assert!(hit >= 2, "{s:#}");
    // and the alarms are few: a detector that flags everything would also "hit" every window
    assert!(s["flagged_points"].as_u64().unwrap() < 100, "{s:#}");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Flagged spans"));
    assert!(!html.contains("<script") && !html.contains("src=\"http"));

    let text = stdout(&anomex(dir.path(), &["detect", "--example"]));
    assert!(
        text.contains("anomalous span(s)") && text.contains("2014-02-09"),
        "{text}"
    );
}

#[test]
fn every_detector_runs_on_the_shipped_series() {
    let dir = tempfile::tempdir().unwrap();
    let list = json(&anomex(dir.path(), &["list", "--json"]));
    let detectors = list["detectors"].as_array().unwrap();
    assert!(detectors.len() >= 17);
    let events = |d: &serde_json::Value| d["data"] == "event sequences";
    let names: Vec<String> = detectors
        .iter()
        .filter(|d| !events(d))
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    // the first 5,000 rows (window detectors on all 22,695 would make this test slow, not better)
    let text = std::fs::read_to_string(EXAMPLE).unwrap();
    let head: String = text.lines().take(5001).map(|l| format!("{l}\n")).collect();
    let prefix = write(dir.path(), "prefix.csv", &head);
    for name in &names {
        let s = json(&anomex(
            dir.path(),
            &["detect", prefix.to_str().unwrap(), "-d", name, "--json"],
        ));
        assert_eq!(s["rows"], 5000, "{name}");
        assert!(s["flagged_points"].as_u64().unwrap() < 1000, "{name}: {s}");
    }
    // event detectors read codes (log template ids), and say so to a series of readings
    for d in detectors.iter().filter(|d| events(d)) {
        let name = d["name"].as_str().unwrap();
        let mut args = vec!["detect", prefix.to_str().unwrap(), "-d", name];
        // a learned one would stop after one epoch if it trained at all
        let learned = d["params"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "max_epochs");
        if learned {
            args.extend(["-p", "max_epochs=1"]);
        }
        let e = fails(dir.path(), &args);
        assert!(
            e.contains("event codes") && e.contains("row 0"),
            "{name}: {e}"
        );
    }
    let text = stdout(&anomex(dir.path(), &["list"]));
    assert!(text.contains("ensemble (default)") && text.contains("threshold policies"));
}

#[test]
fn outputs_in_three_formats() {
    let dir = tempfile::tempdir().unwrap();
    for out in ["s.csv", "s.json", "s.parquet"] {
        let o = anomex(
            dir.path(),
            &["detect", EXAMPLE, "-d", "zscore", "-o", out, "--calibrate"],
        );
        assert!(o.status.success(), "{out}: {}", stderr(&o));
        assert!(dir.path().join(out).metadata().unwrap().len() > 0);
    }
    let csv = std::fs::read_to_string(dir.path().join("s.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("index,timestamp,score,label,calibrated"));
    assert_eq!(csv.lines().count(), 22696);
    assert!(csv
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("0,2013-12-02 21:15:00,"));
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 22695);
    // the Parquet output reads back through anomex's own reader
    let o = anomex(
        dir.path(),
        &[
            "detect",
            "s.parquet",
            "--columns",
            "score",
            "-d",
            "zscore",
            "--json",
        ],
    );
    assert_eq!(json(&o)["rows"], 22695);
}

#[test]
fn fit_then_score_equals_detect_with_a_training_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let o = anomex(
        dir.path(),
        &[
            "fit",
            EXAMPLE,
            "-d",
            "sub_pca",
            "-p",
            "window=64",
            "--train-rows",
            "5000",
            "--save",
            "m.anomex",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = anomex(
        dir.path(),
        &[
            "score",
            EXAMPLE,
            "--model",
            "m.anomex",
            "--train-rows",
            "5000",
            "-o",
            "a.csv",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = anomex(
        dir.path(),
        &[
            "detect",
            EXAMPLE,
            "-d",
            "sub_pca",
            "-p",
            "window=64",
            "--train-rows",
            "5000",
            "-o",
            "b.csv",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let a = std::fs::read_to_string(dir.path().join("a.csv")).unwrap();
    let b = std::fs::read_to_string(dir.path().join("b.csv")).unwrap();
    assert_eq!(a, b);
}

#[test]
fn damaged_model_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert!(
        anomex(d, &["fit", EXAMPLE, "-d", "zscore", "--save", "m.anomex"])
            .status
            .success()
    );
    let good = std::fs::read(d.join("m.anomex")).unwrap();
    std::fs::write(d.join("short.anomex"), &good[..good.len() / 2]).unwrap();
    assert!(fails(d, &["score", EXAMPLE, "--model", "short.anomex"]).contains("truncated"));
    let mut bad = good.clone();
    let at = bad.len() - 5;
    bad[at] ^= 1;
    std::fs::write(d.join("bad.anomex"), &bad).unwrap();
    assert!(fails(d, &["score", EXAMPLE, "--model", "bad.anomex"]).contains("checksum"));
    let mut future = good.clone();
    future[8] = 9;
    std::fs::write(d.join("future.anomex"), &future).unwrap();
    assert!(fails(d, &["score", EXAMPLE, "--model", "future.anomex"]).contains("newer"));
    assert!(fails(d, &["score", EXAMPLE, "--model", "missing.anomex"]).contains("missing.anomex"));
}

#[test]
fn bad_input_fails_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: Vec<(PathBuf, Vec<&str>, &str)> = vec![
        (write(d, "empty.csv", ""), vec![], "empty"),
        (
            write(d, "header_only.csv", "timestamp,value\n"),
            vec![],
            "no data rows",
        ),
        (write(d, "one_row.csv", "t,v\n1,2\n"), vec![], "at least"),
        (
            write(d, "ragged.csv", "a,b\n1,2\n3,4\n5\n"),
            vec![],
            "line 4",
        ),
        (
            write(d, "text.csv", "a,b\n1,2\n3,oops\n"),
            vec![],
            "line 3, column `b`",
        ),
        (write(d, "nan.csv", "a\n1\nNaN\n3\n"), vec![], "--fill"),
        (
            write(d, "inf.csv", "a,b\n1,1\ninf,2\n3,3\n"),
            vec![],
            "column `a`",
        ),
    ];
    for (path, extra, needle) in &cases {
        let mut args = vec!["detect", path.to_str().unwrap()];
        args.extend(extra);
        let err = fails(d, &args);
        assert!(err.contains(needle), "{path:?}: {err}");
    }
    let series: String = std::iter::once("v".to_string())
        .chain((0..200).map(|i| format!("{}", (i % 17) as f64)))
        .collect::<Vec<_>>()
        .join("\n");
    let ok = write(d, "ok.csv", &series);
    let ok = ok.to_str().unwrap();
    for (args, needle) in [
        (vec!["detect", ok, "-d", "nope"], "unknown detector `nope`"),
        (vec!["detect", ok, "-p", "window=5"], "unknown parameter"),
        (
            vec!["detect", ok, "-d", "matrix_profile", "-p", "window=500"],
            "longer than the series",
        ),
        (
            vec!["detect", ok, "-d", "zscore", "-p", "window=x"],
            "not an integer",
        ),
        (
            vec!["detect", ok, "--threshold", "contamination:0.7"],
            "(0, 0.5]",
        ),
        (
            vec!["detect", ok, "--threshold", "contamination:0"],
            "(0, 0.5]",
        ),
        (
            vec!["detect", ok, "--threshold", "bogus"],
            "unknown threshold policy",
        ),
        (vec!["detect", ok, "--train-rows", "1000"], "--train-rows"),
        (vec!["detect", ok, "--fill", "guess"], "fill"),
        (vec!["detect", ok, "--columns", "zz"], "`zz` not found"),
        (vec!["detect", "no_such_file.csv"], "does not exist"),
        (vec!["detect", ok, "-o", "out.xlsx"], "output format"),
    ] {
        let err = fails(d, &args);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn constant_series_and_fill_policies_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let constant: String = std::iter::once("v".to_string())
        .chain((0..300).map(|_| "5".to_string()))
        .collect::<Vec<_>>()
        .join("\n");
    let p = write(d, "constant.csv", &constant);
    for det in ["zscore", "spectral_residual", "sub_pca", "matrix_profile"] {
        let s = json(&anomex(
            d,
            &["detect", p.to_str().unwrap(), "-d", det, "--json"],
        ));
        assert_eq!(s["rows"], 300, "{det}");
        assert_eq!(
            s["flagged_points"], 0,
            "{det}: a constant series has no anomaly"
        );
    }
    let gappy: String = std::iter::once("v".to_string())
        .chain((0..100).map(|i| {
            if i == 40 {
                String::new()
            } else {
                format!("{}", i % 9)
            }
        }))
        .collect::<Vec<_>>()
        .join("\n");
    let p = write(d, "gappy.csv", &format!("{gappy}\n"));
    let s = json(&anomex(
        d,
        &[
            "detect",
            p.to_str().unwrap(),
            "--fill",
            "linear",
            "--json",
            "-d",
            "zscore",
        ],
    ));
    assert_eq!(s["rows"], 100, "no row is lost when filling");
}

#[test]
fn multivariate_input_names_the_responsible_channel() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("time,cpu,mem,disk\n");
    for i in 0..1500 {
        let t = i as f64;
        let mut cpu = (t / 20.0).sin() + 0.05 * ((i * 7) % 5) as f64;
        let mem = (t / 35.0).cos() + 0.05 * ((i * 3) % 7) as f64;
        let disk = 0.5 * (t / 50.0).sin() + 0.05 * ((i * 11) % 3) as f64;
        if (1000..1005).contains(&i) {
            cpu += 6.0;
        }
        text.push_str(&format!("t{i:05},{cpu},{mem},{disk}\n"));
    }
    let p = write(dir.path(), "multi.csv", &text);
    let s = json(&anomex(
        dir.path(),
        &[
            "detect",
            p.to_str().unwrap(),
            "-d",
            "zscore",
            "--json",
            "--report",
            "r.html",
        ],
    ));
    assert_eq!(s["columns"], 3);
    let span = s["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|sp| sp["start"].as_u64().unwrap() <= 1002 && sp["end"].as_u64().unwrap() >= 1000)
        .unwrap_or_else(|| panic!("the cpu spike is not flagged: {s:#}"));
    assert_eq!(span["attribution"][0][0], "cpu", "{span:#}");
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    for ch in [
        "Channel cpu",
        "Channel mem",
        "Channel disk",
        "cpu channel score",
    ] {
        assert!(html.contains(ch), "missing {ch}");
    }
}

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../anomex_metrics/tests/golden/p22_n5000_5seg_informative_w100"
);

#[test]
fn eval_reproduces_the_reference_values() {
    let dir = tempfile::tempdir().unwrap();
    let g = Path::new(GOLDEN);
    let o = anomex(
        dir.path(),
        &[
            "eval",
            "--labels",
            g.join("labels.npy").to_str().unwrap(),
            "--scores",
            g.join("scores.npy").to_str().unwrap(),
            "--pred",
            g.join("pred.npy").to_str().unwrap(),
            "--window",
            "100",
            "--buffer",
            "100",
            "--compat-reference",
            "--json",
        ],
    );
    let got = json(&o);
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(g.join("expected.json")).unwrap()).unwrap();
    for (ours, theirs) in [
        ("AUC-ROC", "TSB-AD/AUC-ROC"),
        ("AUC-PR", "TSB-AD/AUC-PR"),
        ("VUS-ROC", "TSB-AD/VUS-ROC"),
        ("VUS-PR", "TSB-AD/VUS-PR"),
        ("Standard-F1", "TSB-AD/Standard-F1"),
        ("PA-F1", "TSB-AD/PA-F1"),
        ("Event-based-F1", "TSB-AD/Event-based-F1"),
        ("R-based-F1", "TSB-AD/R-based-F1"),
        ("F1@pred", "TSB-AD@pred/Standard-F1"),
        ("R-based-F1@pred", "TSB-AD@pred/R-based-F1"),
        ("Affiliation-F", "TSB-AD/Affiliation-F"),
        ("Affiliation-F@pred", "TSB-AD@pred/Affiliation-F"),
        ("VUS-F@pred", "TSB-AD@pred/VUS-F"),
        ("PATE", "PATE"),
        ("PATE-F1", "PATE-F1@pred"),
        ("R-AUC-ROC", "vus/R_AUC_ROC"),
        ("R-AUC-PR", "vus/R_AUC_PR"),
        ("NAB-standard", "NAB/standard/normalized"),
        ("NAB-low-FP", "NAB/reward_low_FP_rate/normalized"),
        ("NAB-low-FN", "NAB/reward_low_FN_rate/normalized"),
    ] {
        let (a, e) = (
            got[ours].as_f64().unwrap(),
            expected[theirs].as_f64().unwrap(),
        );
        assert!((a - e).abs() <= 1e-9 * e.abs(), "{ours}: {a} vs {e}");
    }
}

#[test]
fn eval_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let labels = write(d, "l.csv", "0\n1\n1\n0\n");
    let short = write(d, "s3.csv", "0.1\n0.9\n0.8\n");
    let nan = write(d, "snan.csv", "0.1\nNaN\n0.8\n0.2\n");
    let ok = write(d, "s.csv", "0.1\n0.9\n0.8\n0.2\n");
    let (l, s3, sn, s) = (
        labels.to_str().unwrap(),
        short.to_str().unwrap(),
        nan.to_str().unwrap(),
        ok.to_str().unwrap(),
    );
    assert!(fails(d, &["eval", "--labels", l, "--scores", s3]).contains("4 labels but 3 scores"));
    assert!(fails(d, &["eval", "--labels", l, "--scores", sn]).contains("line 2"));
    assert!(fails(
        d,
        &["eval", "--labels", l, "--scores", s, "--metrics", "F2"]
    )
    .contains("unknown metric"));
    assert!(fails(
        d,
        &["eval", "--labels", l, "--scores", s, "--metrics", "F1@pred"]
    )
    .contains("--pred"));
    let all_normal = write(d, "zeros.csv", "0\n0\n0\n0\n");
    let err = fails(
        d,
        &[
            "eval",
            "--labels",
            all_normal.to_str().unwrap(),
            "--scores",
            s,
            "--metrics",
            "VUS-PR",
        ],
    );
    assert!(err.contains("VUS is undefined"), "{err}");
    // AUC-ROC with one class is undefined: null in JSON, not an error
    let o = anomex(
        d,
        &[
            "eval",
            "--labels",
            all_normal.to_str().unwrap(),
            "--scores",
            s,
            "--metrics",
            "AUC-ROC",
            "--json",
        ],
    );
    assert!(json(&o)["AUC-ROC"].is_null());
}

/// A little-endian float64 `.npy` of `rows × cols` values.
fn write_npy(
    dir: &Path,
    name: &str,
    rows: usize,
    cols: usize,
    value: impl Fn(usize, usize) -> f64,
) -> PathBuf {
    let header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // magic + version + length + header, padded with spaces to a multiple of 64, newline-ended
    let unpadded = 10 + header.len() + 1;
    let padded = unpadded.div_ceil(64) * 64;
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend(u16::try_from(padded - 10).unwrap().to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(std::iter::repeat_n(b' ', padded - unpadded));
    bytes.push(b'\n');
    for i in 0..rows {
        for j in 0..cols {
            bytes.extend(value(i, j).to_le_bytes());
        }
    }
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn chunked_scoring_equals_whole_file_scoring() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_npy(dir.path(), "rows.npy", 2_000, 3, |i, j| {
        (((i * 7919 + j * 104_729) % 1000) as f64 / 100.0) + if i % 500 == 7 { 25.0 } else { 0.0 }
    });
    let d = data.to_str().unwrap();
    let model = dir.path().join("m.model");
    let m = model.to_str().unwrap();
    let o = anomex(
        dir.path(),
        &["fit", d, "-d", "iforest", "--sample", "500", "--save", m],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("500 rows"), "{}", stdout(&o));
    let whole = dir.path().join("whole.csv");
    let chunked = dir.path().join("chunked.csv");
    let o = anomex(
        dir.path(),
        &["score", d, "--model", m, "-o", whole.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = anomex(
        dir.path(),
        &[
            "score",
            d,
            "--model",
            m,
            "--chunk-rows",
            "300",
            "-o",
            chunked.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("2000 rows scored in chunks of 300"),
        "{}",
        stdout(&o)
    );
    let scores = |p: &Path| -> Vec<f64> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
            .collect()
    };
    assert_eq!(scores(&whole), scores(&chunked));
    // a series detector's score depends on its neighbours: refused
    let series_model = dir.path().join("s.model");
    let s = series_model.to_str().unwrap();
    assert!(anomex(dir.path(), &["fit", d, "-d", "zscore", "--save", s])
        .status
        .success());
    let err = fails(
        dir.path(),
        &["score", d, "--model", s, "--chunk-rows", "100"],
    );
    assert!(err.contains("needs a vector detector"), "{err}");
    let csv = write(dir.path(), "rows.csv", "a,b,c\n1,2,3\n4,5,6\n");
    let err = fails(
        dir.path(),
        &[
            "score",
            csv.to_str().unwrap(),
            "--model",
            m,
            "--chunk-rows",
            "1",
        ],
    );
    assert!(err.contains("needs a .npy file"), "{err}");
}

#[test]
fn synth_writes_labelled_series_that_detect_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = [
        "synth",
        "--length",
        "3000",
        "--channels",
        "2",
        "--seed",
        "3",
        "--anomalies",
        "4",
        "--kinds",
        "level_shift,point",
        "--season",
        "50:1",
        "--season",
        "7:0.2",
    ];
    for out in ["a.csv", "b.csv", "c.parquet"] {
        let mut a = args.to_vec();
        a.extend(["-o", out]);
        let o = anomex(d, &a);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let (a, b) = (
        std::fs::read_to_string(d.join("a.csv")).unwrap(),
        std::fs::read_to_string(d.join("b.csv")).unwrap(),
    );
    assert_eq!(a, b, "same seed, same file");
    let listing: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("a.anomalies.json")).unwrap())
            .unwrap();
    let anomalies = listing["anomalies"].as_array().unwrap();
    assert_eq!(anomalies.len(), 4);
    let labelled: usize = anomalies
        .iter()
        .map(|x| (x["end"].as_u64().unwrap() - x["start"].as_u64().unwrap()) as usize)
        .sum();
    let label_rows = a.lines().skip(1).filter(|l| l.ends_with(",1")).count();
    assert_eq!(labelled, label_rows);
    for file in ["a.csv", "c.parquet"] {
        let o = anomex(
            d,
            &[
                "detect",
                file,
                "--label-col",
                "label",
                "-d",
                "zscore",
                "--json",
            ],
        );
        assert!(o.status.success(), "{file}: {}", stderr(&o));
    }
    assert!(fails(d, &["synth", "-o", "x.json"]).contains(".csv or .parquet"));
    assert!(fails(d, &["synth", "-o", "x.csv", "--severity", "3"]).contains("a:b"));
    assert!(
        fails(d, &["synth", "-o", "x.csv", "--kinds", "spike"]).contains("unknown anomaly kind")
    );
    assert!(fails(d, &["synth", "-o", "x.csv", "--length", "3"]).contains("length"));
}

/// `anomex bench` on the folder [`bench_suite`] writes.
const BENCH_SUITE: [&str; 5] = ["bench", "--suite", "suite", "--loader", "csv:label"];

/// A folder of three labelled CSV series with one spike each.
fn bench_suite(dir: &Path) -> PathBuf {
    let suite = dir.join("suite");
    std::fs::create_dir_all(&suite).unwrap();
    for (k, at) in [(0usize, 300usize), (1, 500), (2, 700)] {
        let mut text = String::from("value,label\n");
        for i in 0..1000 {
            let v = (i as f64 * 0.2 + k as f64).sin() + if i == at { 6.0 } else { 0.0 };
            text += &format!("{v},{}\n", u8::from(i == at));
        }
        std::fs::write(suite.join(format!("s{k}.csv")), text).unwrap();
    }
    suite
}

#[test]
fn bench_runs_workers_resumes_and_guards() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    bench_suite(d);
    let base = [
        &BENCH_SUITE[..],
        &[
            "-d",
            "zscore:window=50",
            "-d",
            "iforest",
            "--seeds",
            "0,1",
            "--vus-window",
            "20",
        ],
    ]
    .concat();
    let o = anomex(d, &base);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("9 jobs (0 from the cache, 0 failed) on 3 data sets"),
        "{text}"
    );
    let out = d.join("bench-results/suite");
    for f in [
        "leaderboard.md",
        "leaderboard.csv",
        "leaderboard.html",
        "per_dataset.csv",
        "results.jsonl",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let md = std::fs::read_to_string(out.join("leaderboard.md")).unwrap();
    assert!(
        md.contains("zscore(window=50)") && md.contains("Protocol `"),
        "{md}"
    );
    let again = stdout(&anomex(d, &base));
    assert!(
        again.contains("9 jobs (9 from the cache, 0 failed)"),
        "{again}"
    );

    // a stopped worker is a recorded failure, not the end of the run
    let mut slow = base.to_vec();
    slow.extend(["--timeout", "0", "-o", "t"]);
    let o = anomex(d, &slow);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("9 failed"), "{}", stdout(&o));
    let lines = std::fs::read_to_string(d.join("t/results.jsonl")).unwrap();
    assert!(lines.contains("\"status\":\"timeout\""), "{lines}");
    let mut big = base.to_vec();
    big.extend(["--memory-mib", "0", "-o", "m", "--limit", "1"]);
    let lines = {
        let o = anomex(d, &big);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read_to_string(d.join("m/results.jsonl")).unwrap()
    };
    assert!(lines.contains("\"status\":\"out_of_memory\""), "{lines}");

    // the default set, with the learned series detectors when asked for (stopped at once: the
    // jobs' records are what is checked)
    let default_set = |learned: bool, out: &str| {
        let mut args = BENCH_SUITE.to_vec();
        args.extend(["--timeout", "0", "--limit", "1", "-o", out]);
        if learned {
            args.push("--learned");
        }
        let o = anomex(d, &args);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::read_to_string(d.join(out).join("results.jsonl")).unwrap()
    };
    let plain = default_set(false, "plain");
    let learned = default_set(true, "learned");
    for name in ["cnn", "lstm_ad", "usad"] {
        let method = format!("\"method\":\"{name}\"");
        assert!(
            !plain.contains(&method) && learned.contains(&method),
            "{name}: {learned}"
        );
    }

    assert!(fails(d, &["bench", "--suite", "nowhere"]).contains("unknown suite"));
    assert!(fails(d, &["bench", "--suite", "suite"]).contains("--loader"));
    let mut bad = base.to_vec();
    bad.extend(["-d", "nosuch"]);
    assert!(fails(d, &bad).contains("nosuch"));
    let mut bad = base.to_vec();
    bad.extend(["--metrics", "AUC"]);
    assert!(fails(d, &bad).contains("unknown metric `AUC`"));
    let mut bad = base.to_vec();
    bad.extend(["--split", "tuning:2"]);
    assert!(fails(d, &bad).contains("--split"));
}

/// The shared data folder, when it holds NAB (`$ANOMEX_DATA`, else `../shared/data`).
fn nab_data() -> Option<PathBuf> {
    let data = std::env::var_os("ANOMEX_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))
        });
    if data.join("nab").is_dir() {
        Some(data)
    } else {
        eprintln!(
            "skipped: no NAB data under {} (set ANOMEX_DATA)",
            data.display()
        );
        None
    }
}

/// ARTime on a NAB series scores exactly as the reference implementation did: the published
/// results (`results/ARTime/realAdExchange/ARTime_exchange-2_cpc_results.csv` of the NAB
/// repository) hold four non-zero scores in 1,624 points, at these rows.
#[test]
fn artime_reproduces_the_published_nab_scores() {
    let Some(data) = nab_data() else { return };
    let series = data.join("nab/data/realAdExchange/exchange-2_cpc_results.csv");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scores.csv");
    let o = anomex(
        dir.path(),
        &[
            "detect",
            series.to_str().unwrap(),
            "-d",
            "artime",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|&h| h == "score").unwrap();
    let scores: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect();
    assert_eq!(scores.len(), 1624);
    let alerts: Vec<(usize, f64)> = (0..scores.len())
        .filter(|&i| scores[i] != 0.0)
        .map(|i| (i, scores[i]))
        .collect();
    assert_eq!(
        alerts,
        [
            (325, 0.317585),
            (701, 0.485745),
            (823, 0.586766),
            (1043, 0.592796)
        ]
    );
}

#[test]
fn bench_scores_the_nab_corpus_at_another_runs_thresholds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    bench_suite(d);
    let run_with = |metrics: &str, more: &[&str]| {
        let mut args = BENCH_SUITE.to_vec();
        args.extend(["-d", "zscore:window=50", "-d", "mad", "--metrics", metrics]);
        args.extend(more);
        anomex(d, &args)
    };
    let run = |more: &[&str]| run_with("NAB-standard", more);
    // the corpus column of a run's leaderboard.csv, per method
    let corpus = |folder: &str| -> std::collections::BTreeMap<String, String> {
        let text = std::fs::read_to_string(d.join(folder).join("leaderboard.csv")).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = header
            .iter()
            .position(|h| h.starts_with("NAB corpus"))
            .unwrap();
        lines
            .map(|l| {
                let cells: Vec<&str> = l.split(',').collect();
                (
                    cells[1].trim_matches('"').to_string(),
                    cells[col].to_string(),
                )
            })
            .collect()
    };
    let o = run(&["-o", "tuned"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let thresholds = d.join("tuned/corpus_thresholds.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&thresholds).unwrap()).unwrap();
    for m in ["zscore(window=50)", "mad"] {
        assert!(json[m].as_f64().is_some(), "{json}");
    }
    // at its own best thresholds a run scores what it scored
    let path = thresholds.to_str().unwrap();
    let o = run(&["-o", "same", "--corpus-thresholds", path]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(corpus("same"), corpus("tuned"));
    let md = std::fs::read_to_string(d.join("same/leaderboard.md")).unwrap();
    assert!(md.contains("NAB corpus (held out)"), "{md}");
    // a threshold above every score detects nothing; a method without one gets no score
    let high = d.join("high.json");
    std::fs::write(&high, r#"{"zscore(window=50)": 1.1}"#).unwrap();
    let o = run(&["-o", "high", "--corpus-thresholds", high.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (tuned, held) = (corpus("tuned"), corpus("high"));
    let value = |m: &str, c: &std::collections::BTreeMap<String, String>| c[m].parse::<f64>();
    assert!(
        value("zscore(window=50)", &held).unwrap() < value("zscore(window=50)", &tuned).unwrap()
    );
    assert_eq!(held["mad"], "");
    // bad files and a run without a NAB metric are refused by name
    std::fs::write(d.join("bad.json"), "[1, 2]").unwrap();
    for (file, metrics, needle) in [
        ("bad.json", "NAB-standard", "JSON object"),
        ("missing.json", "NAB-standard", "reading"),
        ("high.json", "VUS-PR", "NAB metric"),
    ] {
        let path = d.join(file);
        let o = run_with(
            metrics,
            &["-o", "x", "--corpus-thresholds", path.to_str().unwrap()],
        );
        assert!(!o.status.success());
        let e = stderr(&o);
        assert!(
            e.contains("--corpus-thresholds") && e.contains(needle),
            "{e}"
        );
    }
}

/// `anomex bench --suite nab` on the shared data with more arguments, in `dir`; it must succeed.
fn bench_nab(dir: &Path, data: &Path, more: &[&str]) -> Output {
    let mut args = vec![
        "bench",
        "--suite",
        "nab",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    args.extend_from_slice(more);
    let o = anomex(dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

/// The NAB suite end to end on its first data sets, when the shared data is there.
#[test]
fn bench_reads_the_real_nab_suite() {
    let Some(data) = nab_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let o = bench_nab(
        dir.path(),
        &data,
        &["--limit", "8", "-d", "sub_iforest", "-d", "zscore"],
    );
    assert!(stdout(&o).contains("on 8 data sets"), "{}", stdout(&o));
    let csv =
        std::fs::read_to_string(dir.path().join("bench-results/nab/per_dataset.csv")).unwrap();
    assert!(csv.contains("artificialWithAnomaly/"), "{csv}");
}

/// ARTime over the whole NAB corpus, on NAB's protocol (raw values), scores what the reference
/// implementation published: `results/final_results.json` of the NAB repository gives ARTime
/// 74.85377223215792 on the standard profile.
#[test]
fn artime_reproduces_the_published_nab_corpus_score() {
    let Some(data) = nab_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    bench_nab(
        dir.path(),
        &data,
        &[
            "--normalize",
            "none",
            "--metrics",
            "NAB-standard",
            "-d",
            "artime",
        ],
    );
    let csv =
        std::fs::read_to_string(dir.path().join("bench-results/nab/leaderboard.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|&h| h == "NAB corpus").unwrap();
    let row = lines.find(|l| l.contains("\"artime\"")).unwrap();
    let corpus: f64 = row.split(',').nth(col).unwrap().parse().unwrap();
    assert!((corpus - 74.853_772_232_157_92).abs() < 1e-9, "{corpus}");
}

const BGL_600: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/loghub/BGL_600.log"
);

#[test]
fn logs_parses_a_real_log_and_ranks_labelled_windows_first() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates.csv");
    let lines = dir.path().join("lines.csv");
    let o = anomex(
        dir.path(),
        &[
            "logs",
            BGL_600,
            "--preset",
            "BGL",
            "--label-field",
            "Label",
            "--json",
            "--templates",
            templates.to_str().unwrap(),
            "-o",
            lines.to_str().unwrap(),
        ],
    );
    let s = json(&o);
    assert_eq!(s["lines"], 600);
    assert_eq!(s["parsed"], 600);
    let n_templates = s["templates"].as_u64().unwrap();
    assert!((20..200).contains(&n_templates), "{s}");
    assert_eq!(s["groups"], 30);
    assert_eq!(s["labelled_groups"], 13);
    // better than chance by a margin on the alert labels the detector never saw
    assert!(s["auroc"].as_f64().unwrap() > 0.7, "{s}");
    let table = std::fs::read_to_string(&templates).unwrap();
    assert_eq!(table.lines().count() as u64, n_templates + 1);
    let per_line = std::fs::read_to_string(&lines).unwrap();
    assert_eq!(per_line.lines().count(), 601);
    // the same log in sessions, scored by the sequence model
    let o = anomex(
        dir.path(),
        &[
            "logs",
            BGL_600,
            "--preset",
            "BGL",
            "-d",
            "ngram",
            "--session-field",
            "Node",
            "--json",
        ],
    );
    let s = json(&o);
    assert!(s["groups"].as_u64().unwrap() > 5, "{s}");
    assert!(
        s["top"][0]["session"].as_str().unwrap().starts_with('R'),
        "{s}"
    );
}

#[test]
fn logs_parse_only_lists_templates_with_the_tuned_settings() {
    let dir = tempfile::tempdir().unwrap();
    let o = anomex(
        dir.path(),
        &[
            "logs",
            BGL_600,
            "--preset",
            "bgl",
            "--tuned",
            "--parse-only",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("600 lines →"), "{out}");
    // BGL's tuned masks cover only `core.N`: the assertion's numbers stay as written, where
    // the default masks replace them
    assert!(out.contains("ASSERT expression=0 Source"), "{out}");
    let o = anomex(
        dir.path(),
        &["logs", BGL_600, "--preset", "bgl", "--parse-only"],
    );
    let out = stdout(&o);
    assert!(out.contains("ASSERT expression=<*> Source"), "{out}");
}

#[test]
fn logs_take_any_bytes_and_count_what_they_did() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    for i in 0..50 {
        bytes.extend_from_slice(format!("job {i} started on node{i}\n").as_bytes());
    }
    bytes.extend_from_slice(b"bad \xff\xfe utf8 \x00\x01 binary\n");
    bytes.extend(std::iter::repeat_n(b'x', 10 << 20));
    bytes.extend_from_slice(b"\n\n   \njob 51 started on node51\n");
    let path = dir.path().join("junk.log");
    std::fs::write(&path, &bytes).unwrap();
    let s = json(&anomex(
        dir.path(),
        &["logs", path.to_str().unwrap(), "--window", "5", "--json"],
    ));
    assert_eq!(s["lines"], 55);
    assert_eq!(s["skipped"], 2, "the blank lines: {s}");
    assert_eq!(s["truncated"], 1);
    assert_eq!(s["invalid_utf8"], 1);
    assert_eq!(s["binary"], 1);
}

#[test]
fn logs_bad_input_is_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.log", "");
    assert!(fails(dir.path(), &["logs", empty.to_str().unwrap()]).contains("the log is empty"));
    let plain = write(dir.path(), "plain.log", "no brackets here\nnor here\n");
    let p = plain.to_str().unwrap();
    let e = fails(
        dir.path(),
        &["logs", p, "--format", r"\[<Time>\] <Content>"],
    );
    assert!(
        e.contains("none of the 2 lines matches the log format"),
        "{e}"
    );
    let e = fails(dir.path(), &["logs", p, "--format", "<Time> <Message>"]);
    assert!(e.contains("<Content>"), "{e}");
    let e = fails(dir.path(), &["logs", p, "--preset", "Nope"]);
    assert!(e.contains("unknown preset") && e.contains("HDFS"), "{e}");
    let e = fails(dir.path(), &["logs", p, "--mask", "(unclosed"]);
    assert!(e.contains("(unclosed"), "{e}");
    let e = fails(dir.path(), &["logs", p, "--session", r"blk_\d+"]);
    assert!(e.contains("session pattern matches no line"), "{e}");
    let e = fails(dir.path(), &["logs", p, "-d", "zscore"]);
    assert!(e.contains("vector detector"), "{e}");
    let e = fails(dir.path(), &["logs", p, "--similarity", "1.5"]);
    assert!(e.contains("similarity"), "{e}");
    let e = fails(dir.path(), &["logs", "missing.log"]);
    assert!(e.contains("missing.log"), "{e}");
}

#[test]
fn categorical_columns_are_encoded_as_the_model_saw_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut train = String::from("proto,flag,bytes,label\n");
    for i in 0..300 {
        let (proto, flag) = [("tcp", "SF"), ("udp", "SF"), ("tcp", "REJ")][i % 3];
        train.push_str(&format!("{proto},{flag},{},normal\n", 100 + i % 7));
    }
    let train = write(dir.path(), "train.csv", &train);
    // the test file meets its categories in another order, and one value the model never saw
    let test = write(
        dir.path(),
        "test.csv",
        "proto,flag,bytes,label\nudp,SF,103,normal\ntcp,REJ,104,normal\nicmp,SF,102,smurf\ntcp,SF,101,normal\n",
    );
    let model = dir.path().join("m.anomex");
    let common = ["--label-col", "label", "--normal-label", "normal"];
    let fit = anomex(
        dir.path(),
        &[
            &[
                "fit",
                train.to_str().unwrap(),
                "-d",
                "knn",
                "--save",
                model.to_str().unwrap(),
            ],
            &common[..],
        ]
        .concat(),
    );
    assert!(fit.status.success(), "{}", stderr(&fit));
    assert!(stdout(&fit).contains("× 5 columns"), "{}", stdout(&fit));
    let out = dir.path().join("scores.csv");
    let score = anomex(
        dir.path(),
        &[
            &[
                "score",
                test.to_str().unwrap(),
                "--model",
                model.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--threshold",
                "mad:3",
            ],
            &common[..],
        ]
        .concat(),
    );
    assert!(score.status.success(), "{}", stderr(&score));
    let scores: Vec<f64> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    // combinations seen in training sit on training rows (encoded in the test file's own
    // order, udp would read as tcp and `tcp,REJ` as the unseen `udp,REJ`); the unseen protocol
    // is one indicator away from every training row
    assert_eq!(
        [scores[0], scores[1], scores[3]],
        [0.0, 0.0, 0.0],
        "{scores:?}"
    );
    assert!((scores[2] - 1.0).abs() < 1e-9, "{scores:?}");
    // a column of identifiers is refused with a message that says why
    let mut ids = String::from("user,v\n");
    for i in 0..1500 {
        ids.push_str(&format!("u{i}x,{i}\n"));
    }
    let ids = write(dir.path(), "ids.csv", &ids);
    let e = fails(
        dir.path(),
        &[
            "detect",
            ids.to_str().unwrap(),
            "--categorical",
            "user",
            "--time-col",
            "v",
        ],
    );
    assert!(e.contains("more than 1000 distinct values"), "{e}");
}
