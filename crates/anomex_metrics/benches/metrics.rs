//! Criterion benchmarks of the metrics at the sizes of the performance targets, on inputs built
//! like `bench/peers/metrics_reference.py` builds them (segments covering ~2 % of the series,
//! informative scores). `cargo bench -p anomex_metrics`; peer figures in `docs/benchmarks.md`.

use anomex_metrics::{adjusted, affiliation, nab, pate, range, vus, Compat};
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

/// Deterministic labels and scores (xorshift, Box–Muller), like the Python peer's inputs.
fn make(n: usize) -> (Vec<bool>, Vec<f64>) {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut uniform = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut labels = vec![false; n];
    let mut covered = 0;
    while (covered as f64) < 0.02 * n as f64 {
        let len = 20 + (uniform() * 380.0) as usize;
        let start = (uniform() * (n - len) as f64) as usize;
        labels[start..start + len]
            .iter_mut()
            .for_each(|l| *l = true);
        covered = labels.iter().filter(|&&l| l).count();
    }
    let scores = labels
        .iter()
        .map(|&l| {
            let g = (-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos();
            f64::from(u8::from(l)) + 0.6 * g
        })
        .collect();
    (labels, scores)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics");
    g.sample_size(10);
    let (l, s) = make(1_000_000);
    g.bench_function("vus_1M_w100", |b| {
        b.iter(|| vus::vus(black_box(&l), &s, 100).expect("defined"))
    });
    g.bench_function("pa_f1_1M", |b| {
        b.iter(|| adjusted::pa_f1(black_box(&l), &s, Compat::Reference))
    });
    g.bench_function("event_f1_1M", |b| {
        b.iter(|| adjusted::event_f1(black_box(&l), &s, Compat::Reference))
    });
    g.bench_function("nab_1M", |b| {
        b.iter(|| nab::nab(black_box(&l), &s, nab::STANDARD, Compat::Correct))
    });
    let (l, s) = make(100_000);
    g.bench_function("r_f1_100k", |b| {
        b.iter(|| range::range_f1(black_box(&l), &s))
    });
    g.bench_function("affiliation_f_100k", |b| {
        b.iter(|| affiliation::affiliation_f(black_box(&l), &s))
    });
    let (l, s) = make(10_000);
    g.bench_function("pate_10k", |b| {
        b.iter(|| pate::pate(black_box(&l), &s, 100, 100))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
