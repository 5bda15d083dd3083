"""anomex's KNN (k = 5) and LOF (k = 20) fits against PyOD 3.6.7's on ADBench sets, in one
process: the real-data side of python_vs_pyod.py, where features are skewed, heavy-tailed or
wide instead of standard normal.

    python adbench_neighbours_speed.py DATA_DIR [SET ...] [--repeat 5]

DATA_DIR holds ADBench's classical `.npz` files (`../shared/data/adbench/classical`); SETs are
their names without `.npz` (default: the four below). Needs `anomex` (a release wheel) and
`pyod==3.6.7` in the same environment. The fastest of `--repeat` fits each, after one untimed.
"""

import argparse
import os
import time

import numpy as np
from pyod.models.knn import KNN
from pyod.models.lof import LOF

import anomex

DEFAULT_SETS = ["27_PageBlocks", "35_SpamBase", "24_mnist", "17_InternetAds"]


def fastest(factory, X, repeat):
    factory().fit(X)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        factory().fit(X)
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("sets", nargs="*", default=DEFAULT_SETS)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| set | rows × features | KNN PyOD | KNN anomex | ratio | LOF PyOD | LOF anomex | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.sets:
        X = np.load(os.path.join(args.data_dir, name + ".npz"))["X"].astype(float)
        knn = [fastest(f, X, args.repeat) for f in (lambda: KNN(n_neighbors=5), lambda: anomex.KNN(n_neighbors=5))]
        lof = [fastest(f, X, args.repeat) for f in (lambda: LOF(n_neighbors=20), lambda: anomex.LOF(n_neighbors=20))]
        print(
            f"| {name} | {X.shape[0]:,} × {X.shape[1]} "
            f"| {knn[0]:.3f} s | {knn[1]:.3f} s | {knn[0] / knn[1]:.1f}× "
            f"| {lof[0]:.3f} s | {lof[1]:.3f} s | {lof[0] / lof[1]:.1f}× |",
            flush=True,
        )


if __name__ == "__main__":
    main()
