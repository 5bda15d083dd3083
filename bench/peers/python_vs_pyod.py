"""anomex's Python classes against PyOD 3.6.7: fit (which computes the training scores, as
PyOD's `fit` does) on the same data, in the same process, in the same run.

    python python_vs_pyod.py [--repeat 3] [--warmup 1.0]

Needs `anomex` (a release wheel) and `pyod==3.6.7` in the same environment. Data: as
tabular_speed.py (numpy.random.default_rng(0) standard-normal rows, 1 % shifted by 4), so the
AUROC of both sides is printed next to the times. Median of `--repeat` runs each, after
`--warmup` seconds of untimed fits of the same side: fits straight after the other library's
ran measurably slower for some 50 ms (HBOS 10.5 ms instead of 6.0 after PyOD's HBOS).
"""

import argparse
import statistics
import time

import numpy as np
from pyod.models.copod import COPOD
from pyod.models.ecod import ECOD
from pyod.models.hbos import HBOS
from pyod.models.iforest import IForest
from pyod.models.knn import KNN
from pyod.models.lof import LOF

import anomex
from tabular_speed import data  # the same rows as the command-line comparison

CASES = [
    # name, rows, features, PyOD model, anomex model (same parameters)
    ("IForest", 100_000, 16, lambda: IForest(random_state=0), lambda: anomex.IForest(random_state=0)),
    ("KNN k=5", 20_000, 16, lambda: KNN(n_neighbors=5), lambda: anomex.KNN(n_neighbors=5)),
    ("LOF k=20", 20_000, 16, lambda: LOF(n_neighbors=20), lambda: anomex.LOF(n_neighbors=20)),
    ("ECOD", 100_000, 16, ECOD, anomex.ECOD),
    ("COPOD", 100_000, 16, COPOD, anomex.COPOD),
    ("HBOS", 100_000, 16, HBOS, anomex.HBOS),
]


def timed(factory, X, repeat, warmup):
    # untimed fits first, for `warmup` seconds: compilation (PyOD's numba kernels), caches and
    # whatever the other library's last fits left behind settle before the timed runs
    start = time.perf_counter()
    while time.perf_counter() - start < warmup:
        factory().fit(X)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        clf = factory().fit(X)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, clf


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of untimed fits per side")
    args = parser.parse_args()
    print(f"anomex {anomex.__version__}")
    print("| detector | data | PyOD fit | anomex fit | ratio | AUROC PyOD | AUROC anomex |")
    print("|---|---|---|---|---|---|---|")
    for name, n, d, pyod_model, ours_model in CASES:
        X, y = data(n, d)
        py_median, py_runs, py_clf = timed(pyod_model, X, args.repeat, args.warmup)
        ours_median, ours_runs, ours_clf = timed(ours_model, X, args.repeat, args.warmup)
        py_auc = anomex.metrics.auc_roc(y, py_clf.decision_scores_)
        ours_auc = anomex.metrics.auc_roc(y, ours_clf.decision_scores_)
        print(
            f"| {name} | {n:,} × {d} | {py_median:.3f} s | {ours_median:.3f} s "
            f"| **{py_median / ours_median:.1f}×** | {py_auc:.4f} | {ours_auc:.4f} |",
            flush=True,
        )
        print(f"<!-- runs: PyOD {[round(t, 3) for t in py_runs]}, anomex {[round(t, 3) for t in ours_runs]} -->")


if __name__ == "__main__":
    main()
