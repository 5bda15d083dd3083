"""anomex: anomaly detection for time series and vectors, in Rust.

PyOD-style detector classes (``anomex.IForest``, ``anomex.ECOD``, ``anomex.SubPCA`` …), every
evaluation metric (``anomex.metrics``), a streaming ``Monitor``, the ``Drain`` log parser and Spark
helpers
(``anomex.spark``, needs pyspark). Models are anomex model files: ``save`` / ``anomex.load`` and
pickle all use them.
"""

from __future__ import annotations

from . import metrics
from ._detectors import CLASS_NAMES, BaseDetector, NotFittedError, build_classes, from_bytes, load
from ._logs import Drain
from ._monitor import Monitor, Scored
from ._native import __version__

#: every detector class by class name
DETECTORS = build_classes()
globals().update(DETECTORS)


def detectors() -> list[str]:
    """The class names of every detector."""
    return list(DETECTORS)


__all__ = [
    "BaseDetector",
    "CLASS_NAMES",
    "DETECTORS",
    "Drain",
    "Monitor",
    "NotFittedError",
    "Scored",
    "__version__",
    "detectors",
    "from_bytes",
    "load",
    "metrics",
    *DETECTORS,
]
