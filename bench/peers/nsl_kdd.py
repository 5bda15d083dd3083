"""NSL-KDD (Tavallaee et al., CISDA 2009): fit on the normal training records, score the test
records, anomex beside PyOD on the same one-hot features.

    python bench/peers/nsl_kdd.py ../shared/data/tabular/nsl_kdd --anomex target/release/anomex

anomex reads the records as CSV: `protocol_type`, `service` and `flag` are text, so it one-hot
encodes them (categories of the normal training records; a test value never seen there gets
zeros), `anomex fit` stores those columns in the model file and `anomex score` encodes the test
file to them. PyOD gets the same encoding from pandas. Neither side scales the features (PyOD's
PCA standardises internally, as anomex's does). Prints AUROC, AUPR and the recall at 1 % false
positives for each detector.
"""
import argparse
import csv
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

DETECTORS = ["iforest", "pca", "ecod", "hbos", "knn", "pairwise"]
# PyOD has no counterpart of anomex's `pairwise` (co-occurrence of values, after APE)
PYOD = ["iforest", "pca", "ecod", "hbos", "knn"]


def load(path, names):
    df = pd.read_csv(path, header=None)
    df.columns = names + ["label", "difficulty"]
    return df.drop(columns=["difficulty"])


def recall_at_1pct(y, s):
    fpr, tpr, _ = roc_curve(y, s)
    return tpr[fpr <= 0.01].max()


def report(name, y, s):
    bad = ~np.isfinite(s)
    if bad.any():
        # an infinite score ranks above every finite one; NaN ranks lowest
        print(f"{name:22} {bad.sum()} non-finite scores (ranked: inf highest, NaN lowest)")
        finite = s[~bad]
        top, bottom = (finite.max(), finite.min()) if finite.size else (0.0, 0.0)
        s = np.where(np.isposinf(s), top + 1.0, np.where(np.isfinite(s), s, bottom - 1.0))
    print(f"{name:22} AUROC {roc_auc_score(y, s):.3f}  AUPR {average_precision_score(y, s):.3f}  "
          f"recall@1%FPR {recall_at_1pct(y, s):.3f}", flush=True)


def pyod_detector(name):
    from pyod.models.ecod import ECOD
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.pca import PCA
    return {"iforest": lambda: IForest(random_state=0), "pca": PCA, "ecod": ECOD, "hbos": HBOS,
            "knn": KNN}[name]()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--anomex", default="anomex")
    ap.add_argument("--skip-pyod", action="store_true")
    ap.add_argument("--detectors", default=",".join(DETECTORS), help="anomex detectors, comma-separated")
    a = ap.parse_args()
    data = Path(a.data)
    names = [row[0] for row in csv.reader(open(data / "Field_Names.csv"))]
    train = load(data / "KDDTrain+_20Percent.txt", names)
    test = load(data / "KDDTest+.txt", names)
    normal = train[train.label == "normal"]
    y = (test.label != "normal").to_numpy()
    print(f"{len(normal)} normal training records; {len(test)} test records, {y.sum()} attacks")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        normal.to_csv(tmp / "train.csv", index=False)
        test.to_csv(tmp / "test.csv", index=False)
        for d in a.detectors.split(","):
            model, out = tmp / f"{d}.anomex", tmp / f"{d}.csv"
            common = ["--label-col", "label", "--normal-label", "normal"]
            subprocess.run([a.anomex, "fit", str(tmp / "train.csv"), "-d", d, "--save", str(model),
                            *common], check=True, capture_output=True)
            subprocess.run([a.anomex, "score", str(tmp / "test.csv"), "--model", str(model), "-o",
                            str(out), *common], check=True, capture_output=True)
            report(f"anomex {d}", y, pd.read_csv(out)["score"].to_numpy())
    if a.skip_pyod:
        return
    categorical = ["protocol_type", "service", "flag"]
    x_train = pd.get_dummies(normal.drop(columns=["label"]), columns=categorical, dtype=float)
    x_test = pd.get_dummies(test.drop(columns=["label"]), columns=categorical, dtype=float)
    x_test = x_test.reindex(columns=x_train.columns, fill_value=0.0)
    for d in PYOD:
        det = pyod_detector(d).fit(x_train.to_numpy())
        report(f"PyOD {d}", y, det.decision_function(x_test.to_numpy()))


if __name__ == "__main__":
    main()
