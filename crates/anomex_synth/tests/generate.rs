//! The generator: labels exactly where anomalies were injected, same seed same output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use anomex_synth::{generate, Kind, Season, Spec};

fn spec(kinds: &[Kind]) -> Spec {
    Spec {
        length: 4000,
        channels: 3,
        seed: 7,
        trend: 2.0,
        seasons: vec![
            Season {
                period: 50.0,
                amplitude: 1.0,
            },
            Season {
                period: 400.0,
                amplitude: 0.5,
            },
        ],
        noise: 0.2,
        random_walk: 0.01,
        correlation: 0.6,
        anomalies: 12,
        kinds: kinds.to_vec(),
        severity: (2.0, 6.0),
        segment: (10, 60),
    }
}

#[test]
fn labels_are_exactly_the_injected_segments() {
    for kind in Kind::ALL {
        let s = spec(&[kind]);
        let clean = generate(&Spec {
            anomalies: 0,
            ..s.clone()
        })
        .unwrap();
        let dirty = generate(&s).unwrap();
        assert_eq!(dirty.anomalies.len(), 12, "{kind:?}");
        let mut expected = vec![false; s.length];
        for a in &dirty.anomalies {
            assert_eq!(a.kind, kind);
            assert!(a.severity >= 2.0 && a.severity <= 6.0);
            if matches!(kind, Kind::Point | Kind::Contextual) {
                assert_eq!(a.end - a.start, 1);
            } else {
                assert!((10..=60).contains(&(a.end - a.start)));
            }
            expected[a.start..a.end].iter_mut().for_each(|l| *l = true);
            // something changed inside every segment, in its channel
            let changed = (a.start..a.end)
                .any(|t| dirty.channels[a.channel][t] != clean.channels[a.channel][t]);
            assert!(
                changed,
                "{kind:?} at {}..{} changed nothing",
                a.start, a.end
            );
        }
        assert_eq!(dirty.labels, expected, "{kind:?}");
        // and nothing changed outside them
        for c in 0..s.channels {
            for t in (0..s.length).filter(|&t| !expected[t]) {
                assert_eq!(
                    dirty.channels[c][t], clean.channels[c][t],
                    "{kind:?} c{c} t{t}"
                );
            }
        }
        // the first tenth is left normal
        assert!(dirty.labels[..s.length / 10].iter().all(|&l| !l));
    }
}

#[test]
fn same_seed_same_series_other_seed_other_series() {
    let s = spec(&Kind::ALL);
    assert_eq!(generate(&s).unwrap(), generate(&s).unwrap());
    let other = generate(&Spec {
        seed: 8,
        ..s.clone()
    })
    .unwrap();
    assert_ne!(generate(&s).unwrap().channels, other.channels);
}

#[test]
fn a_point_anomaly_is_severity_standard_deviations() {
    let s = Spec {
        channels: 1,
        anomalies: 1,
        ..spec(&[Kind::Point])
    };
    let clean = generate(&Spec {
        anomalies: 0,
        ..s.clone()
    })
    .unwrap();
    let dirty = generate(&s).unwrap();
    let a = &dirty.anomalies[0];
    let x = &clean.channels[0];
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / x.len() as f64).sqrt();
    let jump = (dirty.channels[0][a.start] - x[a.start]).abs();
    assert!(
        (jump - a.severity * sd).abs() < 1e-9 * sd,
        "{jump} vs {}",
        a.severity * sd
    );
}

#[test]
fn correlated_channels_are_correlated() {
    let s = Spec {
        seasons: vec![],
        trend: 0.0,
        random_walk: 0.0,
        anomalies: 0,
        correlation: 0.8,
        channels: 2,
        ..spec(&[])
    };
    let g = generate(&s).unwrap();
    let (a, b) = (&g.channels[0], &g.channels[1]);
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / n;
    let sa = (a.iter().map(|x| (x - ma).powi(2)).sum::<f64>() / n).sqrt();
    let sb = (b.iter().map(|y| (y - mb).powi(2)).sum::<f64>() / n).sqrt();
    let r = cov / (sa * sb);
    assert!((r - 0.8).abs() < 0.05, "correlation {r}");
}

#[test]
fn bad_specs_are_clear_errors() {
    let base = spec(&Kind::ALL);
    let cases = [
        (
            Spec {
                length: 5,
                ..base.clone()
            },
            "length",
        ),
        (
            Spec {
                channels: 0,
                ..base.clone()
            },
            "channel",
        ),
        (
            Spec {
                correlation: 1.5,
                ..base.clone()
            },
            "correlation",
        ),
        (
            Spec {
                severity: (3.0, 1.0),
                ..base.clone()
            },
            "severity",
        ),
        (
            Spec {
                segment: (0, 5),
                ..base.clone()
            },
            "segment",
        ),
        (
            Spec {
                kinds: vec![],
                ..base.clone()
            },
            "kind",
        ),
        (
            Spec {
                anomalies: 500,
                segment: (100, 200),
                ..base.clone()
            },
            "do not fit",
        ),
    ];
    for (s, needle) in cases {
        let e = generate(&s).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
    assert!(Kind::parse("spike")
        .unwrap_err()
        .to_string()
        .contains("level_shift"));
    for k in Kind::ALL {
        assert_eq!(Kind::parse(k.name()).unwrap(), k);
    }
}
