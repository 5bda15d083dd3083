"""Scores of TSB-AD 1.5's own implementations on a suite, for `anomex bench --peer-scores`.

    python tsb_ad_scores.py nab ../shared/data/nab OUT_DIR [--methods Sub_PCA,SR,...] [--limit N]
    python tsb_ad_scores.py smap_msl ../shared/data/smap_msl OUT_DIR --unpacked DIR

Writes OUT_DIR/TSB-AD <method>/<data set>.npy (one score per row; `/` in a data set name becomes
`__`), skipping files already there, so a stopped run resumes. The data sets are read as anomex's
loaders read them (NAB: rows inside `combined_windows.json` windows are anomalous; SMAP/MSL: train
then test, evaluated on test) and given the same protocol as `anomex bench`'s default: each
channel z-normalised with the statistics of the rows the method is fitted on; semi-supervised
methods (TSB-AD's `Semisupervise_AD_Pool`) fitted on the normal training prefix where the data set
has one, everything else on all rows. Each method runs with the hyperparameters TSB-AD publishes
as optimal (`HP_list.Optimal_Uni_algo_HP_dict` on univariate data, with
`Optimal_Multi_algo_HP_dict` for the methods that list lacks; the reverse on multivariate data),
through TSB-AD's `model_wrapper` functions.
TSB-AD's `run_Unsupervise_AD` / `run_Semisupervise_AD`
dispatchers are bypassed because they turn every exception into "not defined". The metrics are computed by anomex, on these scores and its own alike.

Needs TSB-AD 1.5 with its classical dependencies (no torch):
    pip install --no-deps 'TSB-AD==1.5' && pip install scikit-learn==1.7.2 statsmodels stumpy pyod hurst
"""

import argparse
import csv
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np


def _without_torch():
    """TSB-AD's `utils/utility.py` imports `torch.nn` at the top for its deep models' activation
    helper; the classical methods never touch it. Without torch installed, an empty stand-in
    lets those modules import (anything that did use torch would fail loudly)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        import types
        stub = types.ModuleType("torch")
        stub.nn = types.ModuleType("torch.nn")
        # array libraries look for torch.Tensor once "torch" is imported; nothing is one
        stub.Tensor = type("Tensor", (), {})
        sys.modules["torch"], sys.modules["torch.nn"] = stub, stub.nn


_without_torch()
from TSB_AD import model_wrapper as mw  # noqa: E402
from TSB_AD.HP_list import Optimal_Multi_algo_HP_dict, Optimal_Uni_algo_HP_dict  # noqa: E402

# The classical methods (no torch) of TSB-AD's leaderboards.
METHODS = ["Sub_PCA", "MatrixProfile", "Sub_KNN", "IForest", "Sub_IForest", "KMeansAD_U", "SR",
           "PCA", "CBLOF", "MCD", "OCSVM", "Sub_LOF", "Sub_HBOS", "Sub_MCD", "Sub_OCSVM", "LOF"]


# TSB-AD-M's classical methods, for multivariate suites.
MULTI_METHODS = ["PCA", "IForest", "KNN", "HBOS", "CBLOF", "MCD", "OCSVM", "KMeansAD", "COPOD"]


def hyperparameters(method, multivariate):
    first, second = Optimal_Uni_algo_HP_dict, Optimal_Multi_algo_HP_dict
    if multivariate:
        first, second = second, first
    return dict(first[method] if method in first else second[method])


def nab_sets(folder):
    windows = json.loads((folder / "labels" / "combined_windows.json").read_text())
    for file, spans in sorted(windows.items()):
        stamps, values = [], []
        with open(folder / "data" / file) as f:
            for row in csv.DictReader(f):
                stamps.append(datetime.fromisoformat(row["timestamp"]))
                values.append(float(row["value"]))
        spans = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in spans]
        labels = np.array([any(a <= t <= b for a, b in spans) for t in stamps])
        yield file[: -len(".csv")], np.array(values).reshape(-1, 1), labels, None


def smap_msl_sets(folder, unpacked):
    with open(folder / "labeled_anomalies.csv") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: f"{r['spacecraft']}/{r['chan_id']}")
    for r in rows:
        train = np.load(unpacked / "train" / f"{r['chan_id']}.npy")
        test = np.load(unpacked / "test" / f"{r['chan_id']}.npy")
        labels = np.zeros(len(train) + len(test), dtype=bool)
        for a, b in json.loads(r["anomaly_sequences"]):
            labels[len(train) + a: len(train) + b + 1] = True
        yield f"{r['spacecraft']}/{r['chan_id']}", np.vstack([train, test]), labels, len(train)


def zscore(data, rows):
    mean, sd = data[:rows].mean(axis=0), data[:rows].std(axis=0)
    return (data - mean) / np.where(sd > 0, sd, 1.0)


def scores_of(method, data, train_end):
    hp = hyperparameters(method, data.shape[1] > 1)
    # the wrapper's own dispatchers hide exceptions; its run_<method> functions are called directly
    run = getattr(mw, f"run_{method}")
    if method in mw.Semisupervise_AD_Pool:
        rows = train_end if train_end else len(data)
        x = zscore(data, rows)
        out = run(x[:rows], x, **hp)
    else:
        out = run(zscore(data, len(data)), **hp)
    return np.asarray(out, dtype=float).ravel()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("suite", choices=["nab", "smap_msl"])
    p.add_argument("folder", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--unpacked", type=Path, help="SMAP_MSL folder with train/ and test/")
    p.add_argument("--methods", help="default: the univariate set for nab, TSB-AD-M's for smap_msl")
    p.add_argument("--limit", type=int)
    a = p.parse_args()
    sets = nab_sets(a.folder) if a.suite == "nab" else smap_msl_sets(a.folder, a.unpacked)
    sets = list(sets)[: a.limit]
    methods = a.methods.split(",") if a.methods else (METHODS if a.suite == "nab" else MULTI_METHODS)
    for method in methods:
        target = a.out / f"TSB-AD {method}"
        target.mkdir(parents=True, exist_ok=True)
        spent, failed = 0.0, 0
        for name, data, _labels, train_end in sets:
            path = target / (name.replace("/", "__") + ".npy")
            if path.exists():
                continue
            start = time.perf_counter()
            try:
                s = scores_of(method, data, train_end)
                if len(s) != len(data):
                    raise RuntimeError(f"{len(s)} scores for {len(data)} rows")
                np.save(path, np.nan_to_num(s, nan=0.0, posinf=0.0, neginf=0.0))
            except Exception as e:  # recorded, and the run goes on
                failed += 1
                print(f"{method} on {name}: {e}", file=sys.stderr, flush=True)
            spent += time.perf_counter() - start
        print(f"{method}: {len(sets)} data sets, {failed} failed, {spent:.1f} s", flush=True)


if __name__ == "__main__":
    main()
