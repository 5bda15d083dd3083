"""The PyOD / scikit-learn contract of every detector class."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import anomex
from anomex import _native, _stubgen
from conftest import REPO, sine_with_spikes

VECTOR = [
    name
    for name, cls in anomex.DETECTORS.items()
    if cls._data == "vectors"
]
SERIES = [name for name, cls in anomex.DETECTORS.items() if cls._data == "series"]


def test_every_registered_detector_has_a_class_and_the_stub_is_current():
    registered = json.loads(_native.registry_json())
    assert len(anomex.DETECTORS) == len(anomex.CLASS_NAMES) == len(registered) >= 35
    assert {"IForest", "KNN", "LOF", "ECOD", "COPOD", "HBOS", "SubPCA", "RRCF"} <= set(anomex.DETECTORS)
    committed = (REPO / "crates/anomex_python/python/anomex/__init__.pyi").read_text()
    assert committed == _stubgen.stub(), "run `python -m anomex._stubgen > __init__.pyi`"
    assert anomex.__version__.count(".") == 2


def test_pyod_usage_pattern(data):
    # PyOD's README example, unchanged but for the import
    X_train, X_test, y_train, y_test = data
    clf = anomex.KNN()
    clf.fit(X_train)
    y_train_pred = clf.labels_
    y_train_scores = clf.decision_scores_
    y_test_pred = clf.predict(X_test)
    y_test_scores = clf.decision_function(X_test)
    y_test_proba = clf.predict_proba(X_test)
    assert y_train_pred.shape == y_train_scores.shape == (400,)
    assert set(np.unique(y_test_pred)) <= {0, 1}
    assert y_test_proba.shape == (200, 2)
    np.testing.assert_allclose(y_test_proba.sum(axis=1), 1.0)
    assert anomex.metrics.auc_roc(y_train, y_train_scores) > 0.95
    assert anomex.metrics.auc_roc(y_test, y_test_scores) > 0.95
    # contamination 0.1 of the training rows are labelled outliers, at most
    assert y_train_pred.sum() <= 40
    assert np.array_equal(y_train_pred, (y_train_scores > clf.threshold_).astype(int))


@pytest.mark.parametrize("name", VECTOR)
def test_vector_detector_contract(name, data, tmp_path, anomex_bin):
    X_train, X_test, y_train, y_test = data
    clf = anomex.DETECTORS[name](contamination=0.1)
    assert clf.fit(X_train) is clf
    scores = clf.decision_function(X_test)
    assert scores.shape == (200,) and np.all(np.isfinite(scores))
    assert anomex.metrics.auc_roc(y_test, scores) > 0.8, name
    np.testing.assert_array_equal(clf.predict(X_test), (scores > clf.threshold_).astype(int))
    for method in ("linear", "unify"):
        p = clf.predict_proba(X_test, method=method)
        assert np.all((p >= 0) & (p <= 1))
    # the same parameters give the same scores (seeded detectors too), equal to the Rust API's
    again = anomex.DETECTORS[name](contamination=0.1).fit(X_train)
    np.testing.assert_array_equal(again.decision_scores_, clf.decision_scores_)
    np.testing.assert_array_equal(cli_scores(anomex_bin, tmp_path, clf._detector, X_train, X_test), scores)


def cli_scores(anomex_bin, folder, name, train, test):
    """Scores from the Rust command line: `anomex fit` on train, `anomex score` on test."""
    np.save(folder / "train.npy", train)
    np.save(folder / "test.npy", test)
    model, out = folder / f"{name}.anomex", folder / f"{name}.csv"
    for args in (
        ["fit", folder / "train.npy", "-d", name, "--save", model],
        ["score", folder / "test.npy", "--model", model, "-o", out],
    ):
        subprocess.run([anomex_bin, *map(str, args)], check=True, capture_output=True)
    return pd.read_csv(out, float_precision="round_trip")["score"].to_numpy()


@pytest.mark.parametrize("name", SERIES)
def test_series_detector_takes_1d_arrays_and_pandas(name, tmp_path, anomex_bin):
    x, _ = sine_with_spikes()
    clf = anomex.DETECTORS[name](contamination=0.01)
    # semi-supervised detectors learn a normal prefix, as in TSB-AD's protocol
    train = x[:600] if clf._learning == "semi-supervised" else x
    clf.fit(train)
    scores = clf.decision_function(x)
    assert scores.shape == x.shape and np.all(np.isfinite(scores))
    np.testing.assert_array_equal(clf.decision_function(pd.Series(x)), scores)
    np.testing.assert_array_equal(clf.decision_function(pd.DataFrame({"v": x})), scores)
    np.testing.assert_array_equal(clf.decision_function(x.reshape(-1, 1)), scores)
    # the same scores as the Rust API, bit for bit (its accuracy is the conformance test's job)
    np.testing.assert_array_equal(cli_scores(anomex_bin, tmp_path, clf._detector, train, x), scores)


def test_scikit_learn_clone_params_and_pipeline(data):
    sklearn = pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, X_test, _, y_test = data
    clf = anomex.IForest(contamination=0.05, n_estimators=50, random_state=3)
    assert clf.get_params() == {
        "contamination": 0.05,
        "max_samples": 256,
        "n_estimators": 50,
        "random_state": 3,
    }
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == clf.get_params()
    assert clf.set_params(n_estimators=60) is clf and clf.n_estimators == 60
    with pytest.raises(ValueError, match="Invalid parameter 'trees'"):
        clf.set_params(trees=3)
    pipe = make_pipeline(StandardScaler(), anomex.ECOD(contamination=0.1)).fit(X_train)
    scores = pipe.decision_function(X_test)
    assert anomex.metrics.auc_roc(y_test, scores) > 0.9
    assert pipe.predict(X_test).shape == (200,)
    assert sklearn.base.is_outlier_detector(pipe[-1])
    assert repr(anomex.KNN(n_neighbors=7)).startswith("KNN(algorithm='exact', contamination=0.1")


def test_save_load_pickle_and_the_command_line_agree(tmp_path, data, anomex_bin):
    X_train, X_test, _, _ = data
    clf = anomex.LOF(n_neighbors=15, contamination=0.05).fit(X_train)
    path = tmp_path / "lof.anomex"
    clf.save(path)
    loaded = anomex.load(path)
    assert type(loaded) is anomex.LOF and loaded.get_params() == clf.get_params()
    assert loaded.threshold_ == clf.threshold_
    np.testing.assert_array_equal(loaded.decision_scores_, clf.decision_scores_)
    np.testing.assert_array_equal(loaded.decision_function(X_test), clf.decision_function(X_test))
    unpickled = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(unpickled.decision_function(X_test), clf.decision_function(X_test))

    # the Rust command line reads the same file and gives the same scores, bit for bit
    np.save(tmp_path / "test.npy", X_test)
    out = tmp_path / "scores.csv"
    subprocess.run(
        [anomex_bin, "score", str(tmp_path / "test.npy"), "--model", str(path), "-o", str(out)],
        check=True,
        capture_output=True,
    )
    cli = pd.read_csv(out, float_precision="round_trip")["score"].to_numpy()
    np.testing.assert_array_equal(cli, clf.decision_function(X_test))

    # and a model fitted by the command line scores as the Python class does
    np.save(tmp_path / "train.npy", X_train)
    subprocess.run(
        [anomex_bin, "fit", str(tmp_path / "train.npy"), "-d", "lof", "-p", "n_neighbors=15",
         "--save", str(tmp_path / "cli.anomex")],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [anomex_bin, "score", str(tmp_path / "test.npy"), "--model", str(tmp_path / "cli.anomex"),
         "-o", str(out)],
        check=True,
        capture_output=True,
    )
    np.testing.assert_array_equal(pd.read_csv(out, float_precision="round_trip")["score"].to_numpy(), clf.decision_function(X_test))
    # a command-line model has no calibrated threshold: refused, saying so
    with pytest.raises(ValueError, match="without a calibrated threshold"):
        anomex.load(tmp_path / "cli.anomex")


def test_bad_input_is_a_clear_error(tmp_path, data):
    X_train, X_test, _, _ = data
    with pytest.raises(anomex.NotFittedError, match="not fitted yet"):
        anomex.KNN().decision_function(X_test)
    with pytest.raises(ValueError, match="1-D array"):
        anomex.KNN().fit(X_train[:, 0])
    bad = X_train.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="non-finite value NaN at row 5, column `c2`"):
        anomex.KNN().fit(bad)
    with pytest.raises(ValueError, match="column `b`"):
        anomex.KNN().fit(pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [1.0, np.inf, 2.0]}))
    with pytest.raises(ValueError, match="`n_neighbors`: 0 is outside"):
        anomex.KNN(n_neighbors=0).fit(X_train)
    with pytest.raises(TypeError, match="unexpected keyword argument 'n_neighbours'"):
        anomex.KNN(n_neighbours=3)
    with pytest.raises(ValueError, match="contamination"):
        anomex.KNN(contamination=0.7).fit(X_train)
    with pytest.raises(ValueError, match="cannot be None"):
        anomex.KNN(n_neighbors=None).fit(X_train)
    with pytest.raises(ValueError, match="random_state must be an integer"):
        anomex.IForest(random_state=None).fit(X_train)
    with pytest.raises(TypeError, match="must be a number, bool, str or None"):
        anomex.KNN(n_neighbors=[3]).fit(X_train)
    with pytest.raises(ValueError, match="could not convert string to float"):
        anomex.KNN().fit([["a", "b"], ["c", "d"]])
    clf = anomex.KNN().fit(X_train)
    with pytest.raises(ValueError, match="fitted on 4 column"):
        clf.decision_function(X_test[:, :3])
    with pytest.raises(ValueError, match='"linear" or "unify"'):
        clf.predict_proba(X_test, method="softmax")
    with pytest.raises(ValueError, match="gives no per-feature attribution"):
        anomex.OCSVM().fit(X_train).explain(X_test, [0])
    (tmp_path / "junk.anomex").write_bytes(b"ANOMEXMF" + b"\x01\x00\x00\x00" + b"\x00" * 30)
    with pytest.raises(ValueError, match="model file"):
        anomex.load(tmp_path / "junk.anomex")
    with pytest.raises(OSError):
        anomex.load(tmp_path / "missing.anomex")


def test_explanations_point_at_the_feature_that_differs(data):
    X_train, _, _, _ = data
    probe = np.array([[2.0, 2.0, 9.0, 2.0]])
    for cls in (anomex.ECOD, anomex.COPOD, anomex.HBOS, anomex.KNN, anomex.PCA):
        a = cls().fit(X_train).explain(np.r_[X_train, probe], [len(X_train)])
        assert a.shape == (1, 4)
        assert int(np.argmax(a[0])) == 2, cls.__name__


def test_inputs_of_other_dtypes_and_layouts_score_the_same(data):
    X_train, X_test, _, _ = data
    clf = anomex.HBOS().fit(X_train)
    reference = clf.decision_function(X_test)
    np.testing.assert_array_equal(clf.decision_function(np.asfortranarray(X_test)), reference)
    np.testing.assert_array_equal(clf.decision_function(X_test.tolist()), reference)
    as32 = X_test.astype(np.float32)
    np.testing.assert_array_equal(clf.decision_function(as32), clf.decision_function(as32.astype(np.float64)))


def test_the_gil_is_released_while_rust_computes():
    X = np.random.default_rng(0).normal(size=(6000, 8))  # float64, contiguous: no numpy copy
    entered, done = threading.Event(), threading.Event()

    def work():
        entered.set()
        anomex.LOF(n_neighbors=30).fit(X)
        done.set()

    # Without preemption (a long switch interval), this thread runs only when the worker lets go
    # of the GIL. If the fit held it, this thread would next run after `done` is set: no ticks.
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.5)
    try:
        worker = threading.Thread(target=work)
        worker.start()
        entered.wait()
        ticks = 0
        while not done.is_set():
            ticks += 1
        worker.join()
    finally:
        sys.setswitchinterval(old)
    assert ticks > 0


@pytest.mark.parametrize("name", ["KNN", "LOF"])
@pytest.mark.parametrize("features", [4, 20])
def test_new_rows_score_alike_in_any_order_or_subset(name, features):
    # scikit-learn's sample-order and subset invariance: `decision_function` scores its input
    # as new rows whatever it holds, the training rows included
    rng = np.random.default_rng(features)
    X = rng.normal(size=(300, features))
    det = anomex.DETECTORS[name]().fit(X)
    whole = det.decision_function(X)
    order = rng.permutation(300)
    np.testing.assert_allclose(det.decision_function(X[order]), whole[order], rtol=1e-12)
    subset = order[:97]
    np.testing.assert_allclose(det.decision_function(X[subset]), whole[subset], rtol=1e-12)
    # the training scores leave each row out of its own neighbours, as PyOD's do
    assert not np.allclose(det.decision_scores_, whole)
