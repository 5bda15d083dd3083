"""Times the reference metric implementations and `anomex eval` on the same inputs, in the same
run, and prints the ratio.

    python metrics_reference.py OUT_DIR [--only NAME] [--anomex PATH_TO_ANOMEX_BINARY]

Inputs (numpy.random.default_rng(0)): anomaly segments of 20–400 points covering about 2 % of the
series, scores = labels + N(0, 0.6) (an informative but imperfect detector), a fixed prediction
`pred` = the top 2 % of scores. Sizes as the anomex targets state them. Prints one line per
metric with the reference's wall time (in-process, one call) and, with --anomex, the median
wall time of three `anomex eval` processes (reading the .npy files included) and their ratio.
"""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CASES = {
    # name: (n, reference call)
    "vus": 1_000_000,
    "pa_f1": 1_000_000,
    "event_f1": 1_000_000,
    "r_f1": 100_000,
    "affiliation": 100_000,
    "pate": 10_000,
}


def make(n, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=np.int8)
    covered = 0
    while covered < 0.02 * n:
        length = int(rng.integers(20, 400))
        start = int(rng.integers(0, n - length))
        labels[start : start + length] = 1
        covered = int(labels.sum())
    scores = labels + rng.normal(0, 0.6, n)
    pred = (scores >= np.quantile(scores, 0.98)).astype(np.int8)
    return labels, scores, pred


def reference(name, labels, scores, pred):
    from TSB_AD.evaluation.basic_metrics import basic_metricor, generate_curve

    L = labels.astype(int)
    if name == "vus":
        return generate_curve(L, scores, 100, "opt", 250)[6:8]
    if name == "pa_f1":
        return basic_metricor().metric_PointF1PA(L, scores)
    if name == "event_f1":
        return basic_metricor().metric_EventF1PA(L, scores)
    if name == "r_f1":
        return basic_metricor().metric_RF1(L, scores)
    if name == "affiliation":
        return basic_metricor().metric_Affiliation(L, scores)
    if name == "pate":
        from pate.PATE_metric import PATE

        return PATE(L, scores, e_buffer=100, d_buffer=100)
    raise ValueError(name)


ANOMEX_METRICS = {
    "vus": "VUS-ROC,VUS-PR",
    "pa_f1": "PA-F1",
    "event_f1": "Event-based-F1",
    "r_f1": "R-based-F1",
    "affiliation": "Affiliation-F",
    "pate": "PATE",
}


def time_anomex(binary, d, name):
    cmd = [
        binary, "eval", "--labels", str(d / "labels.npy"), "--scores", str(d / "scores.npy"),
        "--window", "100", "--buffer", "100", "--compat-reference", "--json",
        "--metrics", ANOMEX_METRICS[name],
    ]
    times, value = [], None
    for _ in range(3):
        start = time.perf_counter()
        value = json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout)
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main():
    out = Path(sys.argv[1])
    args = sys.argv[2:]
    only = args[args.index("--only") + 1] if "--only" in args else None
    binary = args[args.index("--anomex") + 1] if "--anomex" in args else None
    for name, n in CASES.items():
        if only and name != only:
            continue
        labels, scores, pred = make(n)
        d = out / f"n{n}"
        d.mkdir(parents=True, exist_ok=True)
        np.save(d / "labels.npy", labels)
        np.save(d / "scores.npy", scores)
        np.save(d / "pred.npy", pred)
        start = time.perf_counter()
        value = reference(name, labels, scores, pred)
        elapsed = time.perf_counter() - start
        line = f"{name} n={n}: reference {elapsed:.3f} s, value {value}"
        if binary:
            ours, ours_value = time_anomex(binary, d, name)
            line += f"; anomex {ours:.3f} s, value {ours_value}; ratio {elapsed / ours:.0f}x"
        print(line, flush=True)


if __name__ == "__main__":
    main()
