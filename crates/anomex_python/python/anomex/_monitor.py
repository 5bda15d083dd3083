"""``Monitor``: one streaming series with the service's lifecycle (warm-up, fit, live scores and
a threshold), whose whole state round-trips through bytes, so that a stream processor can keep
it between micro-batches."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import numpy as np

from . import _native
from ._detectors import as_matrix, value_text


class Scored(NamedTuple):
    """One update's results, one entry per point; NaN score and threshold while warming up."""

    score: np.ndarray
    threshold: np.ndarray
    anomaly: np.ndarray


class Monitor:
    """A monitored series, scored point by point by a causal detector.

    The first ``warmup`` points are collected (scored NaN); then ``detector`` is fitted on them,
    the threshold policy (``mad:6``, ``quantile:0.999``, ``pot``, ``dspot`` …) is fitted on
    their scores, and every later point gets a score, a threshold and a label as it arrives.
    The same code runs in ``anomex serve``, so a series gives the same scores here and there.
    """

    def __init__(
        self,
        detector: str = "zscore",
        params: dict[str, Any] | None = None,
        threshold: str = "mad:6",
        warmup: int = 200,
        columns: int = 1,
        name: str = "series",
    ) -> None:
        config = {
            "name": name,
            "columns": int(columns),
            "detector": detector,
            "params": {k: value_text(k, v) for k, v in (params or {}).items()},
            "threshold": threshold,
            "warmup": int(warmup),
        }
        self._native = _native.Monitor(json.dumps(config))

    @classmethod
    def from_bytes(cls, state: bytes) -> Monitor:
        """A monitor restored from ``to_bytes``; it continues with exactly the scores the
        original would have given."""
        monitor = cls.__new__(cls)
        monitor._native = _native.Monitor.from_bytes(bytes(state))
        return monitor

    def to_bytes(self) -> bytes:
        """The whole state: configuration, phase, stream and threshold state, and the model
        file once the detector is fitted."""
        return self._native.to_bytes()

    def update(self, values: Any, timestamps: Any = None) -> Scored:
        """Scores ``values`` (one row per point; 1-D for a one-column series) in order.
        ``timestamps`` are increasing integers (default: one after the last). A batch with a
        bad row is refused as a whole, with the row in the message."""
        a, _ = as_matrix(values, series=True)
        if timestamps is None:
            last = self._native.last_timestamp
            start = 0 if last is None else last + 1
            times = np.arange(start, start + a.shape[0], dtype=np.int64)
        else:
            times = np.ascontiguousarray(np.asarray(timestamps, dtype=np.int64))
        return Scored(*self._native.update(times, a))

    @property
    def phase(self) -> str:
        """``collecting``, ``calibrating`` or ``live``."""
        return self._native.phase

    @property
    def points(self) -> int:
        return self._native.points

    @property
    def anomalies(self) -> int:
        return self._native.anomalies

    @property
    def last_timestamp(self) -> int | None:
        return self._native.last_timestamp

    @property
    def error(self) -> str | None:
        """Why the last fit failed, if it did (the series keeps collecting)."""
        return self._native.error

    @property
    def config(self) -> dict[str, Any]:
        return json.loads(self._native.config_json)

    def __getstate__(self) -> bytes:
        return self.to_bytes()

    def __setstate__(self, state: bytes) -> None:
        self._native = _native.Monitor.from_bytes(state)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"Monitor(detector={c['detector']!r}, threshold={c['threshold']!r}, "
            f"warmup={c['warmup']}, phase={self.phase!r}, points={self.points})"
        )

