//! Criterion benchmarks: each vector detector's `fit` (which also scores the training rows, as
//! PyOD's `fit` does) at the sizes `docs/benchmarks.md` compares with PyOD.
//!
//! `cargo bench -p anomex_tabular --bench vectors`. The side-by-side figures against PyOD come
//! from `bench/peers/tabular_speed.py`.

use anomex_tabular::ecdf::{Copod, Ecod};
use anomex_tabular::hbos::Hbos;
use anomex_tabular::iforest::IsolationForest;
use anomex_tabular::knn::{Knn, Lof};
use anomex_tabular::VectorKernel;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::hint::black_box;

/// Standard-normal rows, every hundredth shifted by 4 in every feature.
fn data(rows: usize, cols: usize) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    Array2::from_shape_fn((rows, cols), |(i, _)| {
        let v: f64 = StandardNormal.sample(&mut rng);
        if i % 100 == 0 {
            v + 4.0
        } else {
            v
        }
    })
}

fn kernel<K: VectorKernel>(pairs: &[&str]) -> K {
    K::from_pairs(pairs).expect("valid parameters")
}

fn fit<K: VectorKernel>(c: &mut Criterion, kernel: K, rows: usize, cols: usize) {
    let x = data(rows, cols);
    let mut g = c.benchmark_group(K::ABOUT.name);
    g.sample_size(10);
    g.throughput(Throughput::Elements(rows as u64));
    g.bench_function(format!("fit_{rows}x{cols}"), |b| {
        b.iter(|| kernel.fit(black_box(x.view())).expect("fits"))
    });
    g.finish();
}

fn bench_vectors(c: &mut Criterion) {
    fit(c, kernel::<IsolationForest>(&[]), 100_000, 16);
    fit(c, kernel::<Knn>(&["n_neighbors=5"]), 20_000, 16);
    fit(c, kernel::<Lof>(&["n_neighbors=20"]), 20_000, 16);
    fit(c, kernel::<Knn>(&["n_neighbors=5"]), 100_000, 4);
    fit(c, kernel::<Lof>(&["n_neighbors=20"]), 100_000, 4);
    fit(c, kernel::<Ecod>(&[]), 100_000, 16);
    fit(c, kernel::<Copod>(&[]), 100_000, 16);
    fit(c, kernel::<Hbos>(&[]), 100_000, 16);
}

criterion_group!(benches, bench_vectors);
criterion_main!(benches);
