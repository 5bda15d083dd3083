"""PyOD-style detector classes, one per detector of anomex's registry.

Every class follows PyOD's ``BaseDetector`` contract: ``fit(X)`` learns the detector and keeps
``decision_scores_``, ``threshold_`` (the ``1 - contamination`` quantile of the training scores)
and ``labels_``; ``decision_function``, ``predict`` and ``predict_proba`` score new rows. The
constructor takes PyOD's keyword arguments where anomex has the same parameter, and
``random_state`` for anomex's ``seed``; ``None`` means ``auto`` for parameters that have one.
``get_params`` / ``set_params`` follow scikit-learn, so ``sklearn.base.clone``, grid searches and
pipelines work. Models are saved as anomex model files (the format of ``anomex fit --save``),
which is also how they pickle.

The classes are built from the native registry when the package is imported, so they cannot
drift from the Rust detectors; ``__init__.pyi`` lists them for type checkers and a test keeps it
equal to what the registry gives.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from typing import Any

import numpy as np

from . import _native

#: anomex parameter name -> the Python keyword (scikit-learn's name for a seed).
_PY_NAMES = {"seed": "random_state"}


class NotFittedError(ValueError, AttributeError):
    """A model was used before ``fit`` (the same bases as scikit-learn's ``NotFittedError``)."""


@functools.cache
def _registry() -> list[dict[str, Any]]:
    """The native registry, read once (the classes, their names and the stub all come from it;
    treat it as read-only)."""
    return json.loads(_native.registry_json())


#: Python class name of every registered detector, as each detector declares it (PyOD's and
#: TSB-AD's names where they exist).
CLASS_NAMES = {entry["name"]: entry["class"] for entry in _registry()}


def as_matrix(X: Any, series: bool) -> tuple[np.ndarray, list[str] | None]:
    """``X`` as a C-contiguous float64 matrix (no copy when it already is one) and its column
    names when it is a DataFrame. Time-series detectors take 1-D input as one channel; vector
    detectors want 2-D, as scikit-learn does."""
    columns = None
    if hasattr(X, "columns") and hasattr(X, "to_numpy"):  # pandas DataFrame
        columns = [str(c) for c in X.columns]
        X = X.to_numpy(dtype=np.float64)
    elif hasattr(X, "to_numpy"):  # pandas Series
        X = X.to_numpy(dtype=np.float64)
    a = np.asarray(X, dtype=np.float64)
    if a.ndim == 1:
        if not series:
            raise ValueError(
                "Expected a 2-D array (rows x features), got a 1-D array; use X.reshape(-1, 1) "
                "for one feature or X.reshape(1, -1) for one row"
            )
        a = a.reshape(-1, 1)
    if a.ndim != 2:
        raise ValueError(f"Expected a 2-D array, got {a.ndim} dimensions with shape {a.shape}")
    return np.ascontiguousarray(a), columns


def value_text(name: str, value: Any) -> str:
    """A parameter value in anomex's ``key=value`` text form (``None`` is ``auto``)."""
    if value is None:
        return "auto"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, str):
        return value
    raise TypeError(
        f"parameter {_PY_NAMES.get(name, name)} must be a number, bool, str or None, "
        f"got {type(value).__name__}"
    )


def _param_text(name: str, value: Any, spec: dict[str, Any]) -> str:
    if value is None:
        if name == "seed":
            raise ValueError("random_state must be an integer: anomex runs are always seeded")
        if not spec["allow_auto"]:
            raise ValueError(f"parameter {_PY_NAMES.get(name, name)} cannot be None (it has no auto)")
    return f"{name}={value_text(name, value)}"



#: what each kind of data is called in the classes' docstrings
_READS = {
    "series": "a time series",
    "vectors": "vectors",
    "events": "a sequence of event codes (log template ids)",
}

class BaseDetector:
    """What every anomex detector class shares (PyOD's ``BaseDetector`` API)."""

    #: registry name, the data it reads (``series``, ``vectors`` or ``events``) and its
    #: parameter specs
    _detector: str = ""
    _data: str = "vectors"
    _learning: str = "unsupervised"
    _specs: tuple[dict[str, Any], ...] = ()

    # -- scikit-learn parameter protocol -------------------------------------------------
    @classmethod
    def _get_param_names(cls) -> list[str]:
        return sorted(inspect.signature(cls.__init__).parameters.keys() - {"self"})

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters (scikit-learn's ``get_params``)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> BaseDetector:
        """Sets constructor parameters; the next ``fit`` uses them."""
        valid = self._get_param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for {type(self).__name__}; valid: {', '.join(valid)}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import Tags, TargetTags  # only asked by scikit-learn itself

        return Tags(estimator_type="outlier_detector", target_tags=TargetTags(required=False))

    def _pairs(self) -> list[str]:
        return [
            _param_text(spec["name"], getattr(self, _PY_NAMES.get(spec["name"], spec["name"])), spec)
            for spec in self._specs
        ]

    # -- fitting and scoring -------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> BaseDetector:
        """Fits the detector on ``X`` (``y`` is ignored, as in PyOD) and calibrates the
        threshold on the training scores."""
        a, columns = as_matrix(X, self._data in ("series", "events"))
        contamination = float(self.contamination)
        model = _native.Model.fit(self._detector, self._pairs(), a, contamination, columns)
        self._set_model(model)
        return self

    def _set_model(self, model: Any) -> None:
        self._model = model
        self.decision_scores_ = model.training_scores()
        self.threshold_ = model.threshold
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        self.n_features_in_ = model.n_columns

    def _fitted(self) -> Any:
        model = getattr(self, "_model", None)
        if model is None:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit(X) first"
            )
        return model

    def decision_function(self, X: Any) -> np.ndarray:
        """Raw anomaly scores of ``X``: higher is more anomalous."""
        model = self._fitted()
        a, columns = as_matrix(X, self._data in ("series", "events"))
        return model.decision_function(a, columns)

    def predict(self, X: Any) -> np.ndarray:
        """0 (inlier) or 1 (outlier) for every row of ``X``, by ``threshold_``."""
        return (self.decision_function(X) > self._fitted().threshold).astype(int)

    def predict_proba(self, X: Any, method: str = "linear") -> np.ndarray:
        """Probabilities of ``[inlier, outlier]`` per row: ``linear`` scales by the training
        scores' range, ``unify`` is Kriegel et al.'s Gaussian scaling (PyOD's two methods)."""
        model = self._fitted()
        a, columns = as_matrix(X, self._data in ("series", "events"))
        p = model.predict_proba(a, method, columns)
        return np.column_stack([1.0 - p, p])

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fits on ``X`` and returns its labels (``labels_``)."""
        return self.fit(X).labels_

    def explain(self, X: Any, rows: Any = None) -> np.ndarray:
        """Per-feature contributions to the scores of ``rows`` of ``X`` (all rows by default),
        for detectors that can say why (ECOD, COPOD, IForest, PCA, KNN, LOF, HBOS, …)."""
        model = self._fitted()
        a, columns = as_matrix(X, self._data in ("series", "events"))
        rows = range(a.shape[0]) if rows is None else rows
        return model.attributions(a, [int(r) for r in rows], columns)

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the fitted model as an anomex model file (readable by ``anomex.load``,
        ``anomex score --model`` and the service)."""
        with open(path, "wb") as f:
            f.write(self._fitted().to_bytes())

    def __getstate__(self) -> dict[str, Any]:
        model = getattr(self, "_model", None)
        return {"params": self.get_params(), "model": None if model is None else model.to_bytes()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state["params"].items():
            setattr(self, name, value)
        if state["model"] is not None:
            self._set_model(_native.Model.from_bytes(state["model"]))


def _py_default(spec: dict[str, Any]) -> Any:
    default = spec["default"]
    if default is None:
        return None
    kind = spec["kind"]
    if kind == "int":
        return int(default)
    if kind == "float":
        return float(default)
    return default


def _make_class(entry: dict[str, Any]) -> type[BaseDetector]:
    specs = tuple(entry["params"])
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters.append(
        inspect.Parameter("contamination", inspect.Parameter.KEYWORD_ONLY, default=0.1)
    )
    for spec in specs:
        parameters.append(
            inspect.Parameter(
                _PY_NAMES.get(spec["name"], spec["name"]),
                inspect.Parameter.KEYWORD_ONLY,
                default=_py_default(spec),
            )
        )
    signature = inspect.Signature(parameters)

    def __init__(self: BaseDetector, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature  # type: ignore[attr-defined]
    name = entry["class"]
    __init__.__qualname__ = f"{name}.__init__"
    param_doc = "\n".join(
        f"    {_PY_NAMES.get(s['name'], s['name'])}: {s['doc']}"
        + (" (None = auto)" if s["allow_auto"] else "")
        for s in specs
    )
    doc = (
        f"{entry['summary']}.\n\nanomex detector ``{entry['name']}`` ({entry['learning']}, "
        f"reads {_READS.get(entry['data'], 'vectors')}"
        f"{', streams' if entry['causal'] else ''}).\n\nParameters:\n"
        f"    contamination: share of training rows expected to be outliers, in (0, 0.5]\n"
        f"{param_doc}\n"
    )
    return type(
        name,
        (BaseDetector,),
        {
            "__init__": __init__,
            "__doc__": doc,
            "__module__": "anomex",
            "_detector": entry["name"],
            "_data": entry["data"],
            "_learning": entry["learning"],
            "_specs": specs,
        },
    )


def build_classes() -> dict[str, type[BaseDetector]]:
    """One class per registered detector, by class name."""
    classes = {}
    for entry in _registry():
        cls = _make_class(entry)
        classes[cls.__name__] = cls
    return classes


def load(path: str | os.PathLike[str]) -> BaseDetector:
    """Reads a model written by ``save`` (or pickled) into an instance of its class."""
    with open(path, "rb") as f:
        return from_bytes(f.read())


def from_bytes(data: bytes) -> BaseDetector:
    """A fitted detector from model-file bytes."""
    from . import DETECTORS

    model = _native.Model.from_bytes(data)
    cls = DETECTORS[CLASS_NAMES[model.detector]]
    stored = json.loads(model.params_json)
    params = {_PY_NAMES.get(k, k): v for k, v in stored.items()}
    detector = cls(contamination=model.contamination, **params)
    detector._set_model(model)
    return detector
