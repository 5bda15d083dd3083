"""anomex on Spark with 1,000 series: batch scoring, then streaming with per-series state.

    python docs/examples/spark_1000_series.py [--master local[2]] [--series 1000] [--length 2000]

Needs `pip install anomex pyspark pandas pyarrow` and Java 17. Prints what each step did and
how long it took; docs/spark.md shows a run.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession

from anomex import metrics
from anomex import spark as aspark


def make_series(n_series, length, seed=0):
    """Sines of different periods and noise levels, each with a spike and a level shift."""
    rng = np.random.default_rng(seed)
    frames = []
    for s in range(n_series):
        t = np.arange(length)
        x = np.sin(2 * np.pi * t / (24 + s % 40)) + rng.normal(0, 0.05 + 0.1 * (s % 3), length)
        spike = rng.integers(length // 2, length - 50)
        x[spike] += 6.0
        shift = rng.integers(length // 2, length - 100)
        x[shift : shift + 30] += 2.5
        label = np.zeros(length, dtype=np.int8)
        label[spike] = 1
        label[shift : shift + 30] = 1
        frames.append(pd.DataFrame({"series": f"host-{s:04d}", "t": t, "value": x, "label": label}))
    return pd.concat(frames, ignore_index=True)


def mean_auc(scored, truth):
    """Mean AUC-ROC and AUC-PR over the series (points not scored yet count as score 0)."""
    joined = scored.merge(truth, on=["series", "t"])
    rows = [
        metrics.score_metrics(g["label"], g["score"].fillna(0.0), ["AUC-ROC", "AUC-PR"])
        for _, g in joined.groupby("series")
    ]
    return np.mean([r["AUC-ROC"] for r in rows]), np.mean([r["AUC-PR"] for r in rows])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--master", default="local[2]")
    p.add_argument("--series", type=int, default=1000)
    p.add_argument("--length", type=int, default=2000)
    a = p.parse_args()
    # the Python workers must be this interpreter, where anomex is installed
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(a.master)
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    pdf = make_series(a.series, a.length)
    truth = pdf[["series", "t", "label"]]
    df = spark.createDataFrame(pdf.drop(columns="label")).cache()
    print(f"{a.series} series × {a.length} points = {len(pdf):,} rows on {a.master}")

    # batch: one detector per series, fitted on its first half, scoring all of it
    start = time.perf_counter()
    scored = aspark.score_series(
        df, "series", ["value"], time_col="t", detector="SubKNN",
        params={"window": 50}, contamination=0.01, train_rows=a.length // 2,
    ).cache()
    flagged = scored.filter("anomaly").count()
    failed = scored.filter("error IS NOT NULL").select("series").distinct().count()
    elapsed = time.perf_counter() - start
    roc, pr = mean_auc(scored.select("series", "t", "score").toPandas(), truth)
    print(f"batch  (SubKNN, window 50): {elapsed:.1f} s, {flagged:,} points flagged, "
          f"{failed} series failed; mean AUC-ROC {roc:.3f}, AUC-PR {pr:.3f}")

    # streaming: the same rows arrive as files of 200 time steps; each series' Monitor state
    # is kept by Spark between micro-batches
    with tempfile.TemporaryDirectory() as tmp:
        source, sink = Path(tmp) / "in", Path(tmp) / "out"
        source.mkdir()
        step = 200
        for i, lo in enumerate(range(0, a.length, step)):
            part = pdf[(pdf["t"] >= lo) & (pdf["t"] < lo + step)]
            part.drop(columns="label").to_parquet(source / f"part-{i:03d}.parquet", index=False)
        stream = spark.readStream.schema(df.schema).option("maxFilesPerTrigger", 1).parquet(str(source))
        monitored = aspark.monitor_stream(stream, "series", "t", ["value"], detector="zscore",
                                          params={"window": 100}, threshold="mad:6", warmup=200)
        start = time.perf_counter()
        query = (
            monitored.writeStream.format("parquet").option("path", str(sink))
            .option("checkpointLocation", str(Path(tmp) / "checkpoint"))
            .trigger(availableNow=True).start()
        )
        query.awaitTermination()
        elapsed = time.perf_counter() - start
        out = spark.read.parquet(str(sink))
        rows = out.count()
        flagged = out.filter("anomaly").count()
        batches = len(query.recentProgress)
        roc, pr = mean_auc(out.select("series", "t", "score").toPandas(), truth)
        print(f"stream (zscore, mad:6): {batches} micro-batches, {rows:,} rows in {elapsed:.1f} s "
              f"({rows / elapsed:,.0f} rows/s), {flagged:,} points flagged; "
              f"mean AUC-ROC {roc:.3f}, AUC-PR {pr:.3f}")
    spark.stop()


if __name__ == "__main__":
    main()
