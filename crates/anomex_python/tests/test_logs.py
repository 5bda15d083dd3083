"""``anomex.Drain``: the log parser from Python, against the command line on a real log."""

from __future__ import annotations

import csv
import io
import os
import pickle
import subprocess

import numpy as np
import pytest

import anomex
from conftest import REPO

BGL = REPO / "examples" / "loghub" / "BGL_600.log"


def test_the_papers_example():
    d = anomex.Drain()
    ids = d.parse(["Receive from node 4", "Receive from node 5", "Delete block blk_3"])
    assert ids.dtype == np.int64
    assert ids[0] == ids[1] != ids[2]
    assert d.templates_[int(ids[0])] == "Receive from node <*>"
    assert d.counts_[int(ids[0])] == 2
    assert d.parameters(int(ids[0]), "Receive from node 7") == ["7"]
    assert list(d.match(["Receive from node 9", "something else entirely"])) == [ids[0], -1]
    assert len(d) == 2


def test_pickle_and_bytes_keep_the_parser_whole():
    d = anomex.Drain(similarity=0.5, masks=["ip"], count_wildcards=True)
    d.parse(["open file a", "open file b", "connect to 10.0.0.1"])
    for back in (pickle.loads(pickle.dumps(d)), anomex.Drain.from_bytes(d.to_bytes())):
        assert back.templates_ == d.templates_
        assert list(back.parse(["open file c"])) == list(d.parse(["open file c"]))


def test_corrupt_state_and_bad_settings_are_value_errors():
    d = anomex.Drain()
    d.parse(["a b c", "a b d"])
    state = bytearray(d.to_bytes())
    with pytest.raises(ValueError, match="Drain state"):
        anomex.Drain.from_bytes(bytes(state[: len(state) // 2]))
    with pytest.raises(ValueError, match="similarity"):
        anomex.Drain(similarity=2.0)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        anomex.Drain(masks=["(unclosed"])
    with pytest.raises(TypeError):
        d.parse("one string")


def test_templates_equal_the_command_lines_on_a_real_log(tmp_path):
    # BGL's format: the message is the tenth field onwards
    messages = [line.split(" ", 9)[9].strip() for line in BGL.read_text().splitlines()]
    ids = anomex.Drain().parse(messages)
    out = tmp_path / "lines.csv"
    binary = os.environ.get("ANOMEX_BIN", "anomex")
    subprocess.run(
        [binary, "logs", str(BGL), "--preset", "BGL", "--parse-only", "-o", str(out)],
        check=True,
        capture_output=True,
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [int(r["template_id"]) for r in rows] == list(ids)
