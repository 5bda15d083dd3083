"""AUROC of anomex's vector detectors against PyOD on the ADBench "Classical" sets.

Same protocol for both: fit on all rows, score the same rows (train = test, as ADBench reports
unsupervised methods), AUROC with scikit-learn; randomised detectors averaged over seeds 0–4.
PyOD 3.6.7 with its defaults; anomex with its defaults (which follow PyOD's).

    python adbench_pyod.py ADBENCH_CLASSICAL_DIR ANOMEX_BINARY OUT.md [--max-rows N] [--only a,b]

PyOD's results (mean AUROC over the seeds, median fit seconds) are kept in
`pyod_reference.json` beside this script and reused when present: the reference values, like
golden fixtures, need computing once (`--refresh-pyod` recomputes them; `--cached-only` skips
the pairs with no reference yet instead of computing it; `--pyod-only` computes the missing
references and nothing else; `--reverse` walks the sets from the last, so that two runs can
share the work).

Detectors whose cost grows with n² (KNN, LOF, KDE, OCSVM) are skipped above --max-rows (default
20,000), and MCD (a d × d eigendecomposition per C-step) above 200 features; both are marked as
such in the table.
"""

import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from pyod.models.cblof import CBLOF
from pyod.models.copod import COPOD
from pyod.models.ecod import ECOD
from pyod.models.gmm import GMM
from pyod.models.hbos import HBOS
from pyod.models.iforest import IForest
from pyod.models.inne import INNE
from pyod.models.kde import KDE
from pyod.models.knn import KNN
from pyod.models.loda import LODA
from pyod.models.lof import LOF
from pyod.models.mcd import MCD
from pyod.models.ocsvm import OCSVM
from pyod.models.pca import PCA

DETECTORS = {
    # table name: (PyOD model and parameters, PyOD factory taking a seed, randomised, cost class
    # (False: run everywhere; True: O(n²), only up to --max-rows; "d²": O(d³) per step, only up
    # to MAX_DIMS features),
    #              anomex detector and parameters)
    "iforest": ("IForest", lambda seed: IForest(random_state=seed), True, False, ["iforest"]),
    "knn": ("KNN", lambda seed: KNN(), False, True, ["knn"]),
    "lof": ("LOF", lambda seed: LOF(), False, True, ["lof"]),
    "hbos": ("HBOS", lambda seed: HBOS(), False, False, ["hbos"]),
    "hbos_auto": ("HBOS(n_bins=auto)", lambda seed: HBOS(n_bins="auto"), False, False,
                  ["hbos", "-p", "n_bins=auto"]),
    "ecod": ("ECOD", lambda seed: ECOD(), False, False, ["ecod"]),
    "copod": ("COPOD", lambda seed: COPOD(), False, False, ["copod"]),
    "pca": ("PCA", lambda seed: PCA(), False, False, ["pca"]),
    "mcd": ("MCD", lambda seed: MCD(random_state=seed), True, "d²", ["mcd"]),
    "cblof": ("CBLOF", lambda seed: CBLOF(random_state=seed), True, False, ["cblof"]),
    "gmm": ("GMM", lambda seed: GMM(random_state=seed), True, False, ["gmm"]),
    "kde": ("KDE", lambda seed: KDE(), False, True, ["kde"]),
    "inne": ("INNE", lambda seed: INNE(random_state=seed), True, False, ["inne"]),
    "loda": ("LODA", lambda seed: LODA(random_state=seed), True, False, ["loda"]),
    "loda_pyod": ("LODA", lambda seed: LODA(random_state=seed), True, False,
                  ["loda", "-p", "bin_lookup=pyod"]),
    "ocsvm": ("OCSVM", lambda seed: OCSVM(), False, True, ["ocsvm"]),
}
SEEDS = range(5)
MAX_DIMS = 200


def pyod_auc(factory, seeds, X, y):
    aucs, secs = [], []
    for seed in seeds:
        start = time.perf_counter()
        clf = factory(seed)
        clf.fit(X)
        secs.append(time.perf_counter() - start)
        if not np.all(np.isfinite(clf.decision_scores_)):
            # PyOD's PCA divides by zero variance ratios on some sets: no reference value there
            return None, float(np.median(secs))
        aucs.append(roc_auc_score(y, clf.decision_scores_))
    return float(np.mean(aucs)), float(np.median(secs))


def anomex_auc(binary, spec, randomised, seeds, path, y, tmp):
    aucs, secs = [], []
    for seed in seeds:
        out = Path(tmp) / "scores.csv"
        cmd = [binary, "detect", str(path), "-d", *spec, "--threshold", "contamination:0.1", "-o", str(out)]
        if randomised:
            cmd += ["-p", f"seed={seed}"]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        secs.append(time.perf_counter() - start)
        with open(out) as f:
            scores = np.array([float(r["score"]) for r in csv.DictReader(f)])
        aucs.append(roc_auc_score(y, scores))
    return float(np.mean(aucs)), float(np.median(secs))


REFERENCE = Path(__file__).with_name("pyod_reference.json")


def load_reference():
    return json.loads(REFERENCE.read_text()) if REFERENCE.exists() else {}


def save_reference(key, value):
    """Adds one result to the file, keeping what other runs have added meanwhile."""
    ref = load_reference()
    ref[key] = value
    tmp = REFERENCE.with_suffix(".tmp")
    tmp.write_text(json.dumps(ref, indent=1, sort_keys=True) + "\n")
    tmp.replace(REFERENCE)


def main():
    data_dir, binary, out_md = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    reference = {} if "--refresh-pyod" in sys.argv else load_reference()
    args = sys.argv[4:]
    max_rows = int(args[args.index("--max-rows") + 1]) if "--max-rows" in args else 20_000
    only = args[args.index("--only") + 1].split(",") if "--only" in args else list(DETECTORS)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sets = sorted(data_dir.glob("*.npz"), key=lambda p: int(p.name.split("_")[0]))
        if "--reverse" in sys.argv:
            sets.reverse()
        for path in sets:
            d = np.load(path)
            X, y = d["X"].astype(np.float64), d["y"].astype(int)
            for name in only:
                model, factory, randomised, quadratic, spec = DETECTORS[name]
                if quadratic == "d²" and X.shape[1] > MAX_DIMS:
                    rows.append((path.stem, name, "wide", None, None, None))
                    continue
                if quadratic is True and len(X) > max_rows:
                    rows.append((path.stem, name, None, None, None, None))
                    continue
                seeds = SEEDS if randomised else [0]
                key = f"{path.stem}|{model}"
                if key not in reference:
                    reference.update(load_reference())
                if key not in reference and "--cached-only" in sys.argv:
                    continue
                if key not in reference:
                    try:
                        p_auc, p_sec = pyod_auc(factory, seeds, X, y)
                        reference[key] = {"auroc": p_auc, "seconds": p_sec}
                    except Exception as e:  # PyOD refuses some sets (e.g. CBLOF's cluster split)
                        reference[key] = {"error": str(e)[:80]}
                    save_reference(key, reference[key])
                if "--pyod-only" in sys.argv:
                    continue
                ref = reference[key]
                if "error" in ref:
                    rows.append((path.stem, name, "pyod-error", ref["error"], None, None))
                    print(f"{path.stem:24s} {name:8s} PyOD failed: {ref['error']}", flush=True)
                    continue
                p_auc, p_sec = ref["auroc"], ref["seconds"]
                if p_auc is None:
                    rows.append((path.stem, name, "pyod", None, None, None))
                    print(f"{path.stem:24s} {name:8s} PyOD scores not finite", flush=True)
                    continue
                a_auc, a_sec = anomex_auc(binary, spec, randomised, seeds, path, y, tmp)
                rows.append((path.stem, name, p_auc, a_auc, p_sec, a_sec))
                print(f"{path.stem:24s} {name:8s} pyod {p_auc:.4f} anomex {a_auc:.4f} "
                      f"({p_sec:.2f} s vs {a_sec:.2f} s)", flush=True)
    with open(out_md, "w") as f:
        f.write("| data set | detector | PyOD AUROC | anomex AUROC | diff | PyOD fit s | anomex process s |\n")
        f.write("|---|---|---|---|---|---|---|\n")
        for stem, name, p, a, ps, as_ in rows:
            if p == "pyod":
                f.write(f"| {stem} | {name} | n/a (PyOD's scores are not finite) | | | | |\n")
            elif p == "wide":
                f.write(f"| {stem} | {name} | skipped (d > {MAX_DIMS}) | | | | |\n")
            elif p == "pyod-error":
                f.write(f"| {stem} | {name} | n/a (PyOD fails: {a}) | | | | |\n")
            elif p is None:
                f.write(f"| {stem} | {name} | skipped (n > {max_rows}) | | | | |\n")
            else:
                f.write(f"| {stem} | {name} | {p:.4f} | {a:.4f} | {a - p:+.4f} | {ps:.2f} | {as_:.2f} |\n")
        f.write("\n| detector | sets | mean PyOD | mean anomex | mean diff |\n|---|---|---|---|---|\n")
        for name in only:
            done = [r for r in rows if r[1] == name and isinstance(r[2], float)]
            if done:
                mp = np.mean([r[2] for r in done])
                ma = np.mean([r[3] for r in done])
                f.write(f"| {name} | {len(done)} | {mp:.4f} | {ma:.4f} | {ma - mp:+.4f} |\n")


if __name__ == "__main__":
    main()
