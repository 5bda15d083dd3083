"""Loglizer-style detection on BGL 2k, to set beside `anomex logs`: windows of consecutive
lines, template-count vectors, PCA (Xu et al., SOSP 2009, as loglizer implements it: tf-idf,
zero-mean, the residual subspace beyond 95 % of the variance, squared prediction error) and
Isolation Forest (scikit-learn, as PyOD's IForest wraps it) on raw counts.

    python bench/peers/loglizer_bgl.py ../shared/data/loghub/BGL [--window 20]

Templates come from drain3's defaults and, separately, from Loghub's ground-truth events. A
window is anomalous when one of its lines has an alert label. Prints AUROC, AUPR and the recall
at 1 % false positives, as `anomex logs --json` reports them.
"""
import argparse
import csv

import numpy as np
from drain3 import TemplateMiner
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


def windows(ids, labels, size):
    vocab = {t: i for i, t in enumerate(dict.fromkeys(ids))}
    rows, ys = [], []
    for start in range(0, len(ids), size):
        x = np.zeros(len(vocab))
        for t in ids[start:start + size]:
            x[vocab[t]] += 1
        rows.append(x)
        ys.append(any(labels[start:start + size]))
    return np.array(rows), np.array(ys)


def loglizer_pca(x):
    n = x.shape[0]
    df = (x > 0).sum(axis=0)
    x = x * np.log(n / (df + 1e-8))
    x = x - x.mean(axis=0)
    cov = x.T @ x / n
    u, sigma, _ = np.linalg.svd(cov)
    share = np.cumsum(sigma) / sigma.sum()
    k = int(np.searchsorted(share, 0.95) + 1)
    p = u[:, :k]
    residual = np.eye(x.shape[1]) - p @ p.T
    return np.sum((x @ residual.T) ** 2, axis=1)


def iforest(x):
    return -IsolationForest(random_state=0).fit(x).score_samples(x)


def report(name, y, s):
    fpr, tpr, _ = roc_curve(y, s)
    r1 = tpr[fpr <= 0.01].max()
    print(f"{name:34} AUROC {roc_auc_score(y, s):.3f}  AUPR {average_precision_score(y, s):.3f}  "
          f"recall@1%FPR {r1:.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bgl")
    ap.add_argument("--window", type=int, default=20)
    a = ap.parse_args()
    with open(f"{a.bgl}/BGL_2k.log_structured.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    labels = [r["Label"] != "-" for r in rows]
    miner = TemplateMiner()
    drain3_ids = [miner.add_log_message(r["Content"])["cluster_id"] for r in rows]
    truth_ids = [r["EventId"] for r in rows]
    for source, ids in [("drain3", drain3_ids), ("ground truth", truth_ids)]:
        x, y = windows(ids, labels, a.window)
        print(f"{source}: {x.shape[0]} windows of {a.window} lines, {y.sum()} anomalous, "
              f"{x.shape[1]} templates")
        report(f"  loglizer PCA ({source})", y, loglizer_pca(x))
        report(f"  IsolationForest ({source})", y, iforest(x))


if __name__ == "__main__":
    main()
