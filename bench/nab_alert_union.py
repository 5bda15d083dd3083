"""Would a second detector's alerts lift ARTime's NAB corpus score? Writes binary alert series
for `anomex bench --peer-scores`: ARTime's alerts at or above a cut, optionally joined with a
second detector's alerts — its scores (min-max scaled unless they already lie in [0, 1]) kept only
where they beat each of the previous `--suppress` points (a causal peak rule, so that a run of
high scores raises one alert) and at or above a level.

    anomex bench --suite nab --normalize none -d artime -d likelihood --metrics NAB-standard -o B
        # (-d rrcf -d spectral_residual -d matrix_profile -d sub_knn -d mad -d hst for the rest)
    python nab_alert_union.py B OUT --cuts 0.315,0.33 --second likelihood --levels 0.9
    python peers/left_matrix_profile.py B ../../shared/data/nab LMP   # needs stumpy
    python nab_alert_union.py B OUT --second LMP/left_mp --levels 0.7071
    anomex bench --suite nab --normalize none -d artime --peer-scores OUT \\
        --metrics NAB-standard --split tuning:0.5 -o T     # and evaluation:0.5, all

The series are 0/1, so the bench's corpus threshold can only take every alert or none: the cut
and the level are fixed beforehand, as a tuning/evaluation split needs. Methods are named
`a<cut>` and `a<cut>+<second><level>`. With a second detector there is also `ranked+<second>`:
one ranking, ARTime's alerts at `0.75 + 0.25·score` above the second detector's peaks at half
their value, for the bench's own threshold search over the corpus; and, the other way round,
`first+<second><level>`: the second detector's peaks at or above each level score 1, every
other point 0.9 times ARTime's score, so that the bench's threshold search picks ARTime's cut
with those peaks always alerted.
"""

import argparse
import json
import os

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def peaks(scores, suppress):
    """Scores that beat each of the `suppress` points before them; zero elsewhere."""
    padded = np.concatenate([np.full(suppress, -np.inf), scores])
    before = sliding_window_view(padded[:-1], suppress).max(axis=1)
    return np.where(scores > before, scores, 0.0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bench", help="an `anomex bench` output folder holding artime's scores")
    parser.add_argument("out", help="folder for the peer scores")
    parser.add_argument("--cuts", default="0.315", help="ARTime alert cuts, comma-separated")
    parser.add_argument(
        "--second", default="",
        help="second detector: a method of the bench folder, or a folder of peer scores "
        "(<data set with / as __>.npy, as --peer-scores reads them)",
    )
    parser.add_argument("--levels", default="0.9", help="second detector's levels")
    parser.add_argument(
        "--suppress", type=float, default=0.05,
        help="points a peak must beat: a share of the series (< 1) or a count",
    )
    args = parser.parse_args()
    keys = {}
    with open(os.path.join(args.bench, "results.jsonl")) as lines:
        for line in lines:
            job = json.loads(line)
            keys[(job["method"], job["dataset"])] = job["key"]

    def scores(method, dataset):
        path = os.path.join(args.bench, "scores", keys[(method, dataset)] + ".npy")
        return np.nan_to_num(np.load(path).astype(float))

    def save(method, dataset, alerts):
        path = os.path.join(args.out, method, dataset.replace("/", "__") + ".npy")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, alerts.astype(float))

    cuts = [float(c) for c in args.cuts.split(",")]
    levels = [float(v) for v in args.levels.split(",")]
    for dataset in sorted({d for (m, d) in keys if m == "artime"}):
        artime = scores("artime", dataset)
        second = None
        if os.path.isdir(args.second):
            name = os.path.basename(os.path.normpath(args.second))
            second = np.nan_to_num(np.load(os.path.join(args.second, dataset.replace("/", "__") + ".npy")))
        elif args.second:
            name = args.second
            second = scores(args.second, dataset)
        if second is not None:
            lo, hi = second.min(), second.max()
            if lo < 0 or hi > 1:
                second = (second - lo) / (hi - lo) if hi > lo else np.zeros_like(second)
            n = len(second)
            suppress = int(args.suppress) if args.suppress >= 1 else int(args.suppress * n)
            second = peaks(second, max(1, suppress))
            save(f"ranked+{name}", dataset, np.where(artime > 0, 0.75 + 0.25 * artime, 0.5 * second))
            for level in levels:
                below = 0.9 * np.clip(artime, 0.0, 1.0)
                save(f"first+{name}{level}", dataset, np.where(second >= level, 1.0, below))
        for cut in cuts:
            alerts = artime >= cut
            save(f"a{cut}", dataset, alerts)
            for level in levels if second is not None else []:
                save(f"a{cut}+{name}{level}", dataset, alerts | (second >= level))


if __name__ == "__main__":
    main()
