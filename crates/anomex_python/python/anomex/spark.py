"""anomex on Apache Spark: many series scored in parallel, in batch or as a stream.

``score_series`` fits one detector per series with ``groupBy(...).applyInPandas(...)``;
``monitor_stream`` scores a streaming DataFrame with ``applyInPandasWithState``, keeping each
series' ``Monitor`` state (configuration, stream and threshold state and model file, as bytes)
in Spark's state store between micro-batches, so a series scores exactly as one uninterrupted
``Monitor`` would, across micro-batches and query restarts. Both need pyspark (with pandas and
pyarrow) on the driver and anomex installed on every executor.

A series that cannot be scored (too short for its detector, say) gets null scores and the
reason in the ``error`` column instead of failing the job.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from ._detectors import CLASS_NAMES, BaseDetector
from ._monitor import Monitor

OUTPUT_FIELDS = ("score", "threshold", "anomaly", "error")


def _detector_class(detector: str | type[BaseDetector]) -> type[BaseDetector]:
    from . import DETECTORS

    if isinstance(detector, type) and issubclass(detector, BaseDetector):
        return detector
    name = CLASS_NAMES.get(detector, detector)
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}; known: {', '.join(DETECTORS)}")
    return DETECTORS[name]


def _output_schema(input_schema: Any, keep: list[str]) -> Any:
    from pyspark.sql.types import BooleanType, DoubleType, StringType, StructField, StructType

    fields = [input_schema[c] for c in keep]
    return StructType(
        [
            *fields,
            StructField("score", DoubleType()),
            StructField("threshold", DoubleType()),
            StructField("anomaly", BooleanType()),
            StructField("error", StringType()),
        ]
    )


def _times(column: Any) -> np.ndarray:
    """Integer timestamps from integers or datetimes (nanoseconds since the epoch)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(column):
        if column.dt.tz is not None:
            column = column.dt.tz_convert("UTC").dt.tz_localize(None)
        return column.astype("datetime64[ns]").astype("int64").to_numpy()
    return column.astype("int64").to_numpy()


def batch_scorer(
    series_col: str,
    value_cols: list[str],
    time_col: str | None = None,
    detector: str | type[BaseDetector] = "Ensemble",
    params: dict[str, Any] | None = None,
    contamination: float = 0.01,
    train_rows: int | None = None,
) -> Callable[[Any], Any]:
    """The pandas function ``score_series`` applies to each series (for use with your own
    ``applyInPandas``): fits the detector on the series (or its first ``train_rows`` rows),
    then scores every row."""
    cls = _detector_class(detector)
    params = dict(params or {})

    def score(pdf: Any) -> Any:
        if time_col is not None:
            pdf = pdf.sort_values(time_col, kind="stable")
        keep = [series_col] + ([time_col] if time_col else [])
        out = pdf[keep].reset_index(drop=True)
        try:
            X = pdf[value_cols].to_numpy(dtype=np.float64)
            clf = cls(contamination=contamination, **params)
            clf.fit(X[:train_rows] if train_rows else X)
            scores = clf.decision_function(X)
            out["score"] = scores
            out["threshold"] = clf.threshold_
            out["anomaly"] = scores > clf.threshold_
            out["error"] = None
        except (ValueError, TypeError) as e:
            out["score"] = np.nan
            out["threshold"] = np.nan
            out["anomaly"] = None
            out["error"] = str(e)
        return out

    return score


def score_series(
    df: Any, series_col: str, value_cols: list[str], time_col: str | None = None, **options: Any
) -> Any:
    """Scores every series of ``df`` (one per value of ``series_col``) with its own detector:
    the series' rows come back with ``score``, ``threshold``, ``anomaly`` and ``error``.
    ``options`` are ``batch_scorer``'s: ``detector``, ``params``, ``contamination``,
    ``train_rows``."""
    keep = [series_col] + ([time_col] if time_col else [])
    fn = batch_scorer(series_col, value_cols, time_col, **options)
    return df.groupBy(series_col).applyInPandas(fn, schema=_output_schema(df.schema, keep))


def monitor_stream(
    df: Any,
    series_col: str,
    time_col: str,
    value_cols: list[str],
    detector: str = "zscore",
    params: dict[str, Any] | None = None,
    threshold: str = "mad:6",
    warmup: int = 200,
) -> Any:
    """Scores a streaming DataFrame point by point, one ``Monitor`` per series, its state kept
    by Spark between micro-batches. Rows come back with ``score`` and ``threshold`` (NaN while
    the series warms up), ``anomaly`` and ``error``; a row whose timestamp is not after the
    series' last, or that holds a non-finite value, is returned unscored with the reason."""
    from pyspark.sql.streaming.state import GroupStateTimeout
    from pyspark.sql.types import BinaryType, StructField, StructType

    # fail on the driver, before the query starts, when the configuration is wrong
    Monitor(detector, params, threshold, warmup, columns=len(value_cols))

    def update(key: Any, batches: Iterator[Any], state: Any) -> Iterator[Any]:
        import pandas as pd

        if state.exists:
            monitor = Monitor.from_bytes(state.get[0])
        else:
            monitor = Monitor(detector, params, threshold, warmup, columns=len(value_cols))
        for pdf in batches:
            pdf = pdf.sort_values(time_col, kind="stable").reset_index(drop=True)
            times = _times(pdf[time_col])
            values = pdf[value_cols].to_numpy(dtype=np.float64)
            out = pdf[[series_col, time_col]].copy()
            out["score"] = np.nan
            out["threshold"] = np.nan
            out["anomaly"] = pd.array([None] * len(pdf), dtype="boolean")
            out["error"] = pd.array([None] * len(pdf), dtype="string")
            last = monitor.last_timestamp
            finite = np.all(np.isfinite(values), axis=1)
            in_order = np.ones(len(pdf), dtype=bool)
            for i, t in enumerate(times):  # keep the first of equal timestamps, in order
                if last is not None and t <= last:
                    in_order[i] = False
                elif finite[i]:
                    last = t
            ok = finite & in_order
            out.loc[~in_order, "error"] = "timestamp not after the series' last; not scored"
            out.loc[in_order & ~finite, "error"] = "non-finite value; not scored"
            if ok.any():
                scored = monitor.update(values[ok], times[ok])
                out.loc[ok, "score"] = scored.score
                out.loc[ok, "threshold"] = scored.threshold
                out.loc[ok, "anomaly"] = scored.anomaly
            state.update((monitor.to_bytes(),))
            yield out

    return df.groupBy(series_col).applyInPandasWithState(
        update,
        outputStructType=_output_schema(df.schema, [series_col, time_col]),
        stateStructType=StructType([StructField("state", BinaryType())]),
        outputMode="append",
        timeoutConf=GroupStateTimeout.NoTimeout,
    )
