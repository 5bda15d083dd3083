"""Every evaluation metric of anomex, exact against the reference implementations (TSB-AD's
names where they overlap; see ``docs/metrics.md`` in the repository for the sources).

Scores are compared with binary ``labels`` (any non-zero value is anomalous). ``window`` is the
VUS / range-AUC window (TSB-AD's ``slidingWindow``), ``buffer`` PATE's early and delayed buffer,
and ``reference=True`` reproduces the reference code's point-adjusted and event-based F1
exactly, quirks included, instead of the corrected definitions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _native

SCORE_METRICS, PRED_METRICS = (tuple(names) for names in _native.metric_names())


def _labels(values: Any, what: str) -> np.ndarray:
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {a.shape}")
    if a.dtype != np.bool_:
        a = np.asarray(a, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{what} hold a non-finite value")
        a = a != 0
    return np.ascontiguousarray(a)


def _scores(values: Any) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    if a.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {a.shape}")
    return a


def score_metrics(
    labels: Any,
    scores: Any,
    names: Any = None,
    *,
    window: int = 100,
    buffer: int = 100,
    reference: bool = False,
) -> dict[str, float]:
    """The named threshold-free metrics (all of ``SCORE_METRICS`` by default) as a dict; NaN
    where a metric is undefined (e.g. AUC-ROC with one class)."""
    names = list(SCORE_METRICS if names is None else names)
    values = _native.score_metrics(
        names, _labels(labels, "labels"), _scores(scores), int(window), int(buffer), bool(reference)
    )
    return dict(zip(names, values))


def pred_metrics(
    labels: Any,
    pred: Any,
    names: Any = None,
    *,
    window: int = 100,
    buffer: int = 100,
    reference: bool = False,
) -> dict[str, float]:
    """The named metrics of a fixed 0/1 prediction (all of ``PRED_METRICS`` by default)."""
    names = list(PRED_METRICS if names is None else names)
    values = _native.pred_metrics(
        names,
        _labels(labels, "labels"),
        _labels(pred, "pred"),
        int(window),
        int(buffer),
        bool(reference),
    )
    return dict(zip(names, values))


def get_metrics(
    score: Any, labels: Any, slidingWindow: int = 100, pred: Any = None, reference: bool = False
) -> dict[str, float]:
    """TSB-AD's ``get_metrics``: the same arguments and keys (AUC-PR, AUC-ROC, VUS-PR, VUS-ROC,
    Standard-F1, PA-F1, Event-based-F1, R-based-F1, Affiliation-F), plus every prediction
    metric when ``pred`` is given."""
    names = [
        "AUC-PR",
        "AUC-ROC",
        "VUS-PR",
        "VUS-ROC",
        "Standard-F1",
        "PA-F1",
        "Event-based-F1",
        "R-based-F1",
        "Affiliation-F",
    ]
    out = score_metrics(labels, score, names, window=slidingWindow, reference=reference)
    if pred is not None:
        out.update(pred_metrics(labels, pred, window=slidingWindow, reference=reference))
    return out


def _one(name: str, labels: Any, scores: Any, **options: Any) -> float:
    return score_metrics(labels, scores, [name], **options)[name]


def auc_roc(labels: Any, scores: Any) -> float:
    """Area under the ROC curve (scikit-learn's ``roc_auc_score``)."""
    return _one("AUC-ROC", labels, scores)


def auc_pr(labels: Any, scores: Any) -> float:
    """Area under the precision-recall curve (TSB-AD's AUC-PR)."""
    return _one("AUC-PR", labels, scores)


def vus_roc(labels: Any, scores: Any, window: int = 100) -> float:
    """Volume under the ROC surface (Paparrizos et al., VLDB 2022)."""
    return _one("VUS-ROC", labels, scores, window=window)


def vus_pr(labels: Any, scores: Any, window: int = 100) -> float:
    """Volume under the PR surface (Paparrizos et al., VLDB 2022)."""
    return _one("VUS-PR", labels, scores, window=window)


def range_auc_roc(labels: Any, scores: Any, window: int = 100) -> float:
    """Range-AUC-ROC at one window (TSB-AD's R-AUC-ROC)."""
    return _one("R-AUC-ROC", labels, scores, window=window)


def range_auc_pr(labels: Any, scores: Any, window: int = 100) -> float:
    """Range-AUC-PR at one window (TSB-AD's R-AUC-PR)."""
    return _one("R-AUC-PR", labels, scores, window=window)


def standard_f1(labels: Any, scores: Any) -> float:
    """Best point-wise F1 over thresholds (TSB-AD's Standard-F1)."""
    return _one("Standard-F1", labels, scores)


def pa_f1(labels: Any, scores: Any, reference: bool = False) -> float:
    """Best point-adjusted F1 over thresholds (TSB-AD's PA-F1)."""
    return _one("PA-F1", labels, scores, reference=reference)


def event_f1(labels: Any, scores: Any, reference: bool = False) -> float:
    """Best event-based F1 over thresholds (TSB-AD's Event-based-F1)."""
    return _one("Event-based-F1", labels, scores, reference=reference)


def range_f1(labels: Any, scores: Any) -> float:
    """Best range-based F1 (Tatbul et al., NeurIPS 2018) over thresholds."""
    return _one("R-based-F1", labels, scores)


def affiliation_f(labels: Any, scores: Any) -> float:
    """Best affiliation F (Huet et al., KDD 2022) over thresholds."""
    return _one("Affiliation-F", labels, scores)


def pate(labels: Any, scores: Any, buffer: int = 100) -> float:
    """PATE, proximity-aware time-series evaluation (Ghorbani et al., KDD 2024)."""
    return _one("PATE", labels, scores, buffer=buffer)


def nab_score(labels: Any, scores: Any, profile: str = "standard") -> float:
    """Normalised NAB score (Lavin & Ahmad 2015) for profile standard, low_fp or low_fn."""
    names = {"standard": "NAB-standard", "low_fp": "NAB-low-FP", "low_fn": "NAB-low-FN"}
    if profile not in names:
        raise ValueError(f"profile must be one of {', '.join(names)}, got {profile!r}")
    return _one(names[profile], labels, scores)


def pa_k_auc(labels: Any, scores: Any) -> float:
    """Area under PA%K's F1 over K (Kim et al., AAAI 2022)."""
    return _one("PA%K-AUC", labels, scores)


def range_precision(
    labels: Any, pred: Any, alpha: float = 0.0, cardinality: str = "one", bias: str = "flat"
) -> float:
    """Range-based precision of a 0/1 prediction (Tatbul et al., NeurIPS 2018; prts's
    ``ts_precision``): ``cardinality`` one, reciprocal or udf_gamma; ``bias`` flat, front,
    middle or back."""
    return _native.range_recall_precision(
        _labels(labels, "labels"), _labels(pred, "pred"), float(alpha), cardinality, bias, True
    )


def range_recall(
    labels: Any, pred: Any, alpha: float = 0.0, cardinality: str = "one", bias: str = "flat"
) -> float:
    """Range-based recall of a 0/1 prediction (prts's ``ts_recall``); ``alpha`` weighs
    existence against overlap."""
    return _native.range_recall_precision(
        _labels(labels, "labels"), _labels(pred, "pred"), float(alpha), cardinality, bias, False
    )


def range_fscore(
    labels: Any,
    pred: Any,
    beta: float = 1.0,
    p_alpha: float = 0.0,
    r_alpha: float = 0.0,
    cardinality: str = "one",
    p_bias: str = "flat",
    r_bias: str = "flat",
) -> float:
    """Range-based F-score of a 0/1 prediction (prts's ``ts_fscore``)."""
    return _native.range_fscore(
        _labels(labels, "labels"),
        _labels(pred, "pred"),
        float(beta),
        float(p_alpha),
        float(r_alpha),
        cardinality,
        p_bias,
        r_bias,
    )


def pa_k_f1(labels: Any, scores: Any, k: float) -> float:
    """Best F1 over thresholds after PA%K adjustment (Kim et al., AAAI 2022): a segment counts
    as detected when more than a share ``k`` in [0, 1] of it is."""
    return _native.pa_k_f1(_labels(labels, "labels"), _scores(scores), float(k))


def aupro(maps: Any, limit: float = 0.3) -> float:
    """Area under the per-region overlap curve up to false-positive rate ``limit``, normalised
    (Bergmann et al., MVTec AD, CVPR 2019), over ``(scores, mask)`` pairs of 2-D pixel maps."""
    pairs = [
        (
            np.ascontiguousarray(np.asarray(s, dtype=np.float64)),
            np.ascontiguousarray(np.asarray(m) != 0),
        )
        for s, m in maps
    ]
    for i, (s, m) in enumerate(pairs):
        if s.ndim != 2 or m.ndim != 2:
            raise ValueError(f"map {i}: scores and mask must be 2-D, got {s.shape} and {m.shape}")
    return _native.pixel_aupro(pairs, float(limit))


def care_score(
    events: Any,
    criticality_threshold: int = 72,
    min_fraction: float = 0.1,
    method: str = "criticality",
    reference: bool = False,
) -> float:
    """The CARE score for early fault detection (Gück et al., Data 2024), over ``events``:
    dicts with ``anomaly`` (bool), ``start`` and ``end`` (inclusive window), ``pred`` (0/1 per
    point) and optionally ``normal`` (the normal-operation mask)."""
    native_events = []
    for i, e in enumerate(events):
        missing = {"anomaly", "start", "end", "pred"} - set(e)
        if missing:
            raise ValueError(f"event {i} lacks {', '.join(sorted(missing))}")
        normal = e.get("normal")
        native_events.append(
            (
                bool(e["anomaly"]),
                int(e["start"]),
                int(e["end"]),
                _labels(e["pred"], f"event {i} pred"),
                None if normal is None else _labels(normal, f"event {i} normal"),
            )
        )
    return _native.care_score(
        native_events, int(criticality_threshold), float(min_fraction), method, bool(reference)
    )
