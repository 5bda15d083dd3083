"""Fit-and-score time of anomex's vector detectors against PyOD, on the same data in the same run.

    python tabular_speed.py OUT_DIR ANOMEX_BINARY

Data: numpy.random.default_rng(0) standard normal rows (16 features, or 4 for the k-d tree
cases), 1 % of rows shifted by 4
(so both sides are also checked to reach the same AUROC). PyOD 3.6.7 `fit` timed in-process
(it computes the training scores); anomex twice: the whole `anomex detect` process on the `.npy`
(reading, fitting, scoring, thresholding, writing the scores to CSV), and its in-process fit +
score phases as `--timings` reports them (what PyOD's `fit` does). Median of three runs each.
"""

import csv
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from pyod.models.copod import COPOD
from pyod.models.ecod import ECOD
from pyod.models.hbos import HBOS
from pyod.models.iforest import IForest
from pyod.models.knn import KNN
from pyod.models.lof import LOF

CASES = [
    # detector, rows, features, PyOD model
    ("iforest", 100_000, 16, lambda: IForest(random_state=0)),
    ("knn", 20_000, 16, lambda: KNN(n_neighbors=5)),
    ("lof", 20_000, 16, lambda: LOF(n_neighbors=20)),
    ("knn", 100_000, 4, lambda: KNN(n_neighbors=5)),
    ("lof", 100_000, 4, lambda: LOF(n_neighbors=20)),
    ("ecod", 100_000, 16, lambda: ECOD()),
    ("copod", 100_000, 16, lambda: COPOD()),
    ("hbos", 100_000, 16, lambda: HBOS()),
]


def data(n, d=16):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    y = np.zeros(n, dtype=int)
    idx = rng.choice(n, n // 100, replace=False)
    X[idx] += 4.0
    y[idx] = 1
    return X, y


def phase_seconds(stderr, prefixes):
    """Sum of the `--timings` lines whose step starts with one of `prefixes`."""
    total = 0.0
    for line in stderr.splitlines():
        if line.startswith("timing:"):
            ms, step = line[len("timing:"):].split("ms", 1)
            if step.strip().startswith(prefixes):
                total += float(ms) / 1e3
    return total


def main():
    out, binary = Path(sys.argv[1]), sys.argv[2]
    out.mkdir(parents=True, exist_ok=True)
    for name, n, d, factory in CASES:
        X, y = data(n, d)
        path = out / f"x{n}x{d}.npy"
        np.save(path, X)
        py_times, py_auc = [], None
        for _ in range(3):
            start = time.perf_counter()
            clf = factory().fit(X)
            py_times.append(time.perf_counter() - start)
            py_auc = roc_auc_score(y, clf.decision_scores_)
        ours_times, ours_fit = [], []
        scores_csv = out / "scores.csv"
        for _ in range(3):
            start = time.perf_counter()
            run = subprocess.run(
                [binary, "detect", str(path), "-d", name, "--threshold", "contamination:0.01",
                 "-o", str(scores_csv), "--timings"],
                check=True, capture_output=True, text=True,
            )
            ours_times.append(time.perf_counter() - start)
            ours_fit.append(phase_seconds(run.stderr, ("fitting", "scoring")))
        with open(scores_csv) as f:
            ours_auc = roc_auc_score(y, [float(r["score"]) for r in csv.DictReader(f)])
        p, a, f = (statistics.median(t) for t in (py_times, ours_times, ours_fit))
        print(
            f"{name:8s} {n}x{d}: PyOD fit {p:.3f} s (AUROC {py_auc:.4f}); anomex process {a:.3f} s"
            f" ({p / a:.1f}x), fit+score {f:.3f} s ({p / f:.1f}x) (AUROC {ours_auc:.4f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
