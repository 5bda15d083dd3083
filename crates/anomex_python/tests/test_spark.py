"""``anomex.spark`` on a local Spark (``local[2]``) and on a standalone master with one worker
on loopback. Skipped, with the reason, where pyspark or Java is missing."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed")
if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
    pytest.skip("no Java runtime: the Spark tests need one (Java 17)", allow_module_level=True)

import pandas as pd  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402

import anomex  # noqa: E402
from anomex import spark as aspark  # noqa: E402

N_SERIES = 40
LENGTH = 400


def series_frame(n_series=N_SERIES, length=LENGTH, seed=0):
    """Sine series of different periods, each with one spike at its own place."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_series):
        period = 20 + s % 17
        x = np.sin(2 * np.pi * np.arange(length) / period) + 0.05 * rng.normal(size=length)
        x[250 + s % 100] += 4.0
        rows.append(pd.DataFrame({"series": f"s{s:03d}", "t": np.arange(length), "value": x}))
    return pd.concat(rows, ignore_index=True)


def session(master):
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return (
        SparkSession.builder.master(master)
        .appName("anomex-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.executor.memory", "1g")
        .getOrCreate()
    )


@pytest.fixture(scope="module")
def local():
    spark = session("local[2]")
    yield spark
    spark.stop()


def expected_batch(pdf, detector, **params):
    out = {}
    for name, g in pdf.groupby("series"):
        clf = anomex.DETECTORS[detector](contamination=0.01, **params).fit(g["value"].to_numpy())
        out[name] = clf.decision_function(g["value"].to_numpy())
    return out


def check_batch(spark):
    pdf = series_frame()
    df = spark.createDataFrame(pdf)
    # one series too short for its window: reported, not fatal
    short = spark.createDataFrame(pd.DataFrame({"series": "tiny", "t": [0, 1], "value": [1.0, 2.0]}))
    scored = aspark.score_series(
        df.unionByName(short), "series", ["value"], time_col="t", detector="SubKNN",
        params={"window": 20},
    ).toPandas()
    assert len(scored) == len(pdf) + 2
    tiny = scored[scored["series"] == "tiny"]
    assert tiny["score"].isna().all() and "window" in tiny["error"].iloc[0]
    expected = expected_batch(pdf, "SubKNN", window=20)
    for name, g in scored[scored["series"] != "tiny"].groupby("series"):
        g = g.sort_values("t")
        np.testing.assert_array_equal(g["score"].to_numpy(), expected[name])
        assert g["error"].isna().all()
        assert int(g["score"].to_numpy().argmax()) in range(245, 360)


def test_batch_scoring_on_local_spark(local):
    check_batch(local)


def write_part(folder, pdf, i):
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".part-{i}.parquet"
    pdf.to_parquet(tmp, index=False)
    tmp.rename(folder / f"part-{i}.parquet")  # appear whole to the file source


def run_stream(spark, source, sink, checkpoint, schema):
    stream = spark.readStream.schema(schema).parquet(str(source))
    scored = aspark.monitor_stream(stream, "series", "t", ["value"], detector="zscore", warmup=100)
    query = (
        scored.writeStream.format("parquet")
        .option("path", str(sink))
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(300)
    assert query.exception() is None, query.exception()


def test_streaming_keeps_each_series_state_between_micro_batches(local, tmp_path):
    pdf = series_frame(n_series=12, length=300)
    schema = local.createDataFrame(pdf.head(1)).schema
    source, sink, checkpoint = tmp_path / "in", tmp_path / "out", tmp_path / "checkpoint"
    # three micro-batches, the last after a restart of the query from its checkpoint;
    # a late row and a NaN row ride along in the last part
    cuts = [0, 90, 180, 300]
    for i in range(2):
        write_part(source, pdf[(pdf["t"] >= cuts[i]) & (pdf["t"] < cuts[i + 1])], i)
        run_stream(local, source, sink, checkpoint, schema)
    last = pdf[pdf["t"] >= cuts[2]].copy()
    late = pd.DataFrame({"series": ["s000"], "t": [5], "value": [0.0]})
    bad = pd.DataFrame({"series": ["s001"], "t": [1000], "value": [np.nan]})
    write_part(source, pd.concat([last, late, bad], ignore_index=True), 2)
    run_stream(local, source, sink, checkpoint, schema)

    out = local.read.parquet(str(sink)).toPandas()
    assert len(out) == len(pdf) + 2
    errors = out[out["error"].notna()]
    assert sorted(errors["series"]) == ["s000", "s001"]
    assert "not after" in errors[errors["series"] == "s000"]["error"].iloc[0]
    assert "non-finite" in errors[errors["series"] == "s001"]["error"].iloc[0]
    scored = out[out["error"].isna()]
    for name, g in pdf.groupby("series"):
        m = anomex.Monitor("zscore", warmup=100)
        want = m.update(g["value"].to_numpy(), g["t"].to_numpy())
        got = scored[scored["series"] == name].sort_values("t")
        np.testing.assert_array_equal(got["score"].to_numpy(), want.score)
        np.testing.assert_array_equal(got["threshold"].to_numpy(), want.threshold)
        np.testing.assert_array_equal(got["anomaly"].to_numpy(dtype=bool), want.anomaly)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_batch_scoring_on_a_standalone_cluster(local, tmp_path):
    from pyspark.find_spark_home import _find_spark_home

    local.stop()  # one session per process: the cluster's replaces the local one
    spark_class = Path(_find_spark_home()) / "bin" / "spark-class"
    port, ui = free_port(), free_port()
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable,
               SPARK_LOG_DIR=str(tmp_path), SPARK_WORKER_DIR=str(tmp_path / "work"))
    logs = [open(tmp_path / f"{n}.log", "w") for n in ("master", "worker")]
    procs = [
        subprocess.Popen(
            [str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(ui)],
            env=env, stdout=logs[0], stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [str(spark_class), "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
             "--cores", "2", "--memory", "2g", "--webui-port", str(free_port()),
             f"spark://127.0.0.1:{port}"],
            env=env, stdout=logs[1], stderr=subprocess.STDOUT,
        ),
    ]
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=5) as r:
                    if json.load(r).get("aliveworkers", 0) >= 1:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the standalone worker did not register: " + (tmp_path / "worker.log").read_text()[-2000:])
            time.sleep(1)
        cluster = session(f"spark://127.0.0.1:{port}")
        try:
            check_batch(cluster)
        finally:
            cluster.stop()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in logs:
            f.close()
