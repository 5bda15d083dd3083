"""``anomex.metrics`` against the reference implementations' values (the golden cases of
anomex_metrics) and against the Rust command line."""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
import pytest

from anomex import metrics
from conftest import REPO

GOLDEN = REPO / "crates/anomex_metrics/tests/golden"

#: golden key -> (anomex name, is a prediction metric)
KEYS = {
    "TSB-AD/AUC-ROC": ("AUC-ROC", False),
    "TSB-AD/AUC-PR": ("AUC-PR", False),
    "TSB-AD/VUS-ROC": ("VUS-ROC", False),
    "TSB-AD/VUS-PR": ("VUS-PR", False),
    "TSB-AD/Standard-F1": ("Standard-F1", False),
    "TSB-AD/PA-F1": ("PA-F1", False),
    "TSB-AD/Event-based-F1": ("Event-based-F1", False),
    "TSB-AD/R-based-F1": ("R-based-F1", False),
    "TSB-AD/Affiliation-F": ("Affiliation-F", False),
    "vus/R_AUC_ROC": ("R-AUC-ROC", False),
    "vus/R_AUC_PR": ("R-AUC-PR", False),
    "PATE": ("PATE", False),
    "NAB/standard/normalized": ("NAB-standard", False),
    "NAB/reward_low_FP_rate/normalized": ("NAB-low-FP", False),
    "NAB/reward_low_FN_rate/normalized": ("NAB-low-FN", False),
    "TSB-AD@pred/Standard-F1": ("F1@pred", True),
    "TSB-AD@pred/PA-F1": ("PA-F1@pred", True),
    "TSB-AD@pred/Event-based-F1": ("Event-based-F1@pred", True),
    "TSB-AD@pred/R-based-F1": ("R-based-F1@pred", True),
    "TSB-AD@pred/Affiliation-F": ("Affiliation-F@pred", True),
    "TSB-AD@pred/VUS-Recall": ("VUS-Recall@pred", True),
    "TSB-AD@pred/VUS-Precision": ("VUS-Precision@pred", True),
    "TSB-AD@pred/VUS-F": ("VUS-F@pred", True),
    "PATE-F1@pred": ("PATE-F1", True),
}


def cases():
    return sorted(p for p in GOLDEN.iterdir() if (p / "expected.json").exists())


def test_golden_cases_are_present():
    assert len(cases()) >= 30


@pytest.mark.parametrize("case", cases(), ids=lambda p: p.name)
def test_every_metric_matches_the_reference_code(case):
    labels = np.load(case / "labels.npy")
    scores = np.load(case / "scores.npy")
    pred = np.load(case / "pred.npy")
    params = json.loads((case / "params.json").read_text())
    expected = json.loads((case / "expected.json").read_text())
    options = dict(window=params["window"], buffer=params["pate_buffer"], reference=True)
    compared = 0
    for key, (name, is_pred) in KEYS.items():
        want = expected.get(key)
        if want is None:  # undefined or raised in the reference: nothing to compare
            continue
        if is_pred:
            got = metrics.pred_metrics(labels, pred, [name], **options)[name]
        else:
            got = metrics.score_metrics(labels, scores, [name], **options)[name]
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-15), (key, got, want)
        compared += 1
    assert compared >= 5  # cases without anomalies leave most metrics undefined


@pytest.mark.parametrize("case", cases(), ids=lambda p: p.name)
def test_range_precision_recall_and_fscore_match_prts(case):
    labels = np.load(case / "labels.npy")
    pred = np.load(case / "pred.npy")
    params = json.loads((case / "params.json").read_text())
    expected = json.loads((case / "expected.json").read_text())
    for key, v in params["prts_variants"].items():
        want = expected.get(f"prts@pred/{key}")
        if want is None:
            continue
        fn = v["function"]
        if fn == "ts_fscore":
            got = metrics.range_fscore(labels, pred, v["beta"], v["p_alpha"], v["r_alpha"],
                                       v["cardinality"], v["p_bias"], v["r_bias"])
        else:
            f = metrics.range_precision if fn == "ts_precision" else metrics.range_recall
            got = f(labels, pred, v["alpha"], v["cardinality"], v["bias"])
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-15), (key, got, want)


def care_cases():
    return sorted((GOLDEN / "care").iterdir())


@pytest.mark.parametrize("case", care_cases(), ids=lambda p: p.name)
def test_care_matches_the_reference(case):
    events = [
        {
            "anomaly": e["label"] == "anomaly",
            "start": e["start"],
            "end": e["end"],
            "pred": e["pred"],
            **({"normal": e["normal"]} if "normal" in e else {}),
        }
        for e in json.loads((case / "events.json").read_text())
    ]
    params = json.loads((case / "params.json").read_text())
    want = json.loads((case / "expected.json").read_text())["CARE"]
    options = dict(criticality_threshold=params["criticality_threshold"],
                   method=params.get("method", "criticality"), reference=True)
    if want is None:  # the reference raises here (its fraction-method bug)
        with pytest.raises(ValueError):
            metrics.care_score(events, **options)
    else:
        assert math.isclose(metrics.care_score(events, **options), want, rel_tol=1e-12)


def test_aupro_and_pa_k():
    mask = np.zeros((20, 20), dtype=bool)
    mask[5:10, 5:10] = True
    perfect = mask * 1.0 + 0.01 * np.random.default_rng(0).random((20, 20))
    assert math.isclose(metrics.aupro([(perfect, mask)]), 1.0)
    assert metrics.aupro([(np.random.default_rng(1).random((20, 20)), mask)]) < 0.5
    with pytest.raises(ValueError, match="scores of shape"):
        metrics.aupro([(perfect, mask[:10])])
    labels = np.zeros(100, dtype=int)
    labels[40:60] = 1
    scores = labels * 0.5 + np.linspace(0, 0.1, 100)
    assert metrics.pa_k_f1(labels, scores, 0) == metrics.pa_f1(labels, scores)
    assert metrics.pa_k_f1(labels, scores, 1.0) <= metrics.pa_k_f1(labels, scores, 0)


def test_tsb_ad_get_metrics_and_single_functions_agree():
    rng = np.random.default_rng(1)
    labels = np.zeros(600, dtype=int)
    labels[200:230] = 1
    labels[400:405] = 1
    scores = rng.random(600) + 0.8 * labels
    out = metrics.get_metrics(scores, labels, slidingWindow=20)
    assert list(out) == [
        "AUC-PR", "AUC-ROC", "VUS-PR", "VUS-ROC", "Standard-F1", "PA-F1",
        "Event-based-F1", "R-based-F1", "Affiliation-F",
    ]
    assert out["AUC-ROC"] == metrics.auc_roc(labels, scores)
    assert out["VUS-PR"] == metrics.vus_pr(labels, scores, window=20)
    # bool, int and float labels are the same labels
    assert metrics.auc_pr(labels.astype(bool), scores) == metrics.auc_pr(labels * 1.0, scores)
    with_pred = metrics.get_metrics(scores, labels, slidingWindow=20, pred=scores > 1.2)
    assert set(metrics.PRED_METRICS) <= set(with_pred)
    assert 0.0 <= metrics.nab_score(labels, scores, "low_fn") <= 100.0


def test_same_values_as_the_command_line(tmp_path, anomex_bin):
    rng = np.random.default_rng(2)
    labels = np.zeros(500, dtype=np.int8)
    labels[100:140] = 1
    scores = rng.random(500) + labels * rng.random(500)
    pred = (scores > 1.0).astype(np.int8)
    for name, array in (("labels", labels), ("scores", scores), ("pred", pred)):
        np.save(tmp_path / f"{name}.npy", array)
    out = subprocess.run(
        [anomex_bin, "eval", "--labels", tmp_path / "labels.npy", "--scores",
         tmp_path / "scores.npy", "--pred", tmp_path / "pred.npy", "--window", "30", "--json"],
        check=True, capture_output=True, text=True,
    ).stdout
    cli = json.loads(out)
    ours = metrics.score_metrics(labels, scores, window=30)
    ours.update(metrics.pred_metrics(labels, pred, window=30))
    assert set(cli) == set(ours)
    for name, value in cli.items():
        if value is None:
            assert math.isnan(ours[name]), name
        else:
            assert ours[name] == value, name


def test_bad_metric_input_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown metric `AUC`"):
        metrics.score_metrics([0, 1], [0.1, 0.2], ["AUC"])
    with pytest.raises(ValueError, match="3 labels but 2 scores"):
        metrics.auc_roc([0, 1, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="score 1 is NaN"):
        metrics.auc_roc([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="must be 1-D"):
        metrics.auc_roc([[0, 1]], [[0.1, 0.2]])
    with pytest.raises(ValueError, match="profile must be one of"):
        metrics.nab_score([0, 1], [0.1, 0.2], "strict")
