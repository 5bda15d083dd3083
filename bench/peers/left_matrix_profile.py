"""The left matrix profile of every NAB series: each window's z-normalised distance to its
nearest match among earlier windows (stumpy's left neighbour index), divided by its largest
possible value 2·√m, on the window's last point — a causal discord score in [0, 1]; 0.7071 is
a best earlier match with correlation 0. Window m: the bench's per-series VUS window (TSB-AD's
period rule). Saved as `<out>/left_mp/<data set with / as __>.npy` for `--peer-scores`.

    python left_matrix_profile.py BENCH_OUT NAB_DIR OUT     # BENCH_OUT from `anomex bench --suite nab`

Needs numpy and stumpy (`pip install 'stumpy==1.14.*'`).
"""

import csv
import json
import os
import sys

import numpy as np
import stumpy


def left_distances(x, m):
    """z-normalised distance of each window to its left nearest neighbour (0 where none)."""
    left = stumpy.stump(x, m)[:, 2].astype(np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(x, m)
    mean = windows.mean(axis=1, keepdims=True)
    std = windows.std(axis=1, keepdims=True)
    z = np.where(std > 1e-12, (windows - mean) / np.where(std > 1e-12, std, 1.0), 0.0)
    has = left >= 0
    d = np.zeros(len(windows))
    d[has] = np.sqrt(((z[has] - z[left[has]]) ** 2).sum(axis=1))
    return d


def main():
    bench, nab, out = sys.argv[1], sys.argv[2], sys.argv[3]
    window = {}
    with open(os.path.join(bench, "results.jsonl")) as lines:
        for line in lines:
            job = json.loads(line)
            window[job["dataset"]] = job["vus_window"]
    for dataset, m in sorted(window.items()):
        with open(os.path.join(nab, "data", dataset + ".csv")) as f:
            x = np.array([float(row[1]) for row in list(csv.reader(f))[1:]])
        m = max(4, min(int(m), len(x) // 4))
        score = np.zeros(len(x))
        score[m - 1 :] = np.clip(left_distances(x, m) / (2 * np.sqrt(m)), 0.0, 1.0)
        path = os.path.join(out, "left_mp", dataset.replace("/", "__") + ".npy")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, score)


if __name__ == "__main__":
    main()
