//! Criterion benchmarks: the matrix profile at the size stumpy is compared on (n = 100,000,
//! m = 100), and the per-point cost of the streaming detectors.
//!
//! `cargo bench -p anomex_series` (set `RAYON_NUM_THREADS=1` for the one-core figure). The peer
//! measurement and the figures are in `docs/benchmarks.md`.

use anomex_core::channelwise::SeriesKernel;

use anomex_series::matrix_profile::matrix_profile;
use anomex_series::rolling::{Ewma, RollingMad, RollingParams, RollingZScore};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;

/// A random walk from a fixed linear congruential generator (no RNG dependency needed).
fn walk(n: usize) -> Vec<f64> {
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut v = 0.0;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            v += (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            v
        })
        .collect()
}

fn bench_matrix_profile(c: &mut Criterion) {
    let mut g = c.benchmark_group("matrix_profile");
    g.sample_size(10);
    for &(n, m) in &[(10_000usize, 100usize), (100_000, 100)] {
        let t = walk(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("n{n}_m{m}"), |b| {
            b.iter(|| matrix_profile(black_box(&t), m).expect("valid input"))
        });
    }
    g.finish();
}

/// The stream constructor of a causal kernel.
fn stream_of<K: SeriesKernel>(_: &K) -> Option<anomex_core::channelwise::StreamFn<K>> {
    K::STREAM
}

fn bench_streaming(c: &mut Criterion) {
    let n = 1_000_000;
    let x = walk(n);
    let win = RollingParams { window: Some(100) };
    let mut g = c.benchmark_group("streaming_1M_points");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    macro_rules! stream_bench {
        ($name:literal, $kernel:expr) => {
            let k = $kernel;
            let st = k.fit(&x[..1000]).expect("fit");
            g.bench_function($name, |b| {
                b.iter_batched(
                    || (stream_of(&k).expect("causal"))(&k, &st),
                    |mut s| {
                        let mut acc = 0.0;
                        for &v in &x {
                            acc += s.update(v).unwrap_or(0.0);
                        }
                        acc
                    },
                    BatchSize::LargeInput,
                )
            });
        };
    }
    stream_bench!("zscore_w100", RollingZScore::new(&win).expect("p"));
    stream_bench!("mad_w100", RollingMad::new(&win).expect("p"));
    stream_bench!("ewma", Ewma::new(&Default::default()).expect("p"));
    g.finish();
}

fn bench_dspot(c: &mut Criterion) {
    use anomex_core::Threshold;
    let n = 1_000_000;
    // absolute increments of the walk: a skewed, heavy-ish tailed score stream
    let w = walk(n + 1);
    let scores: Vec<f64> = w.windows(2).map(|p| (p[1] - p[0]).abs()).collect();
    let mut g = c.benchmark_group("streaming_1M_points");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("dspot", |b| {
        b.iter_batched(
            || {
                let mut d = anomex_threshold::DSpot::new(1e-3, 0.98, 10).expect("valid");
                d.fit(&scores[..2000]).expect("calibrates");
                d
            },
            |mut d| {
                let mut alarms = 0usize;
                for &s in &scores {
                    alarms += usize::from(d.update(s).expect("fitted").1);
                }
                alarms
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_matrix_profile, bench_streaming, bench_dspot);
criterion_main!(benches);
