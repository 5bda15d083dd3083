"""``anomex.Monitor``: the service's streaming lifecycle, with its state as bytes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import anomex
from conftest import sine_with_spikes


@pytest.mark.parametrize("detector", ["zscore", "mad", "ewma", "hst", "rrcf"])
def test_state_bytes_continue_with_identical_scores(detector):
    x, labels = sine_with_spikes()
    whole = anomex.Monitor(detector, warmup=300)
    expected = whole.update(x)
    assert np.all(np.isnan(expected.score[:299]))
    assert whole.phase == "live" and whole.points == len(x)
    # the same stream cut into micro-batches, the state going through bytes between them
    state = anomex.Monitor(detector, warmup=300).to_bytes()
    parts = []
    for chunk in np.array_split(np.arange(len(x)), 7):
        m = anomex.Monitor.from_bytes(state)
        parts.append(m.update(x[chunk], timestamps=chunk))
        state = m.to_bytes()
    for field in ("score", "threshold", "anomaly"):
        np.testing.assert_array_equal(np.concatenate([getattr(p, field) for p in parts]), getattr(expected, field))
    again = pickle.loads(pickle.dumps(whole))
    assert again.points == whole.points and again.last_timestamp == len(x) - 1


def test_spikes_are_flagged_after_the_warm_up():
    x, labels = sine_with_spikes()
    m = anomex.Monitor("zscore", threshold="mad:6", warmup=300)
    out = m.update(x)
    flagged = np.flatnonzero(out.anomaly)
    assert len(flagged) > 0 and m.anomalies == len(flagged)
    assert labels[flagged].mean() > 0.8, flagged


def test_bad_batches_are_refused_whole():
    m = anomex.Monitor("zscore", warmup=20, columns=2)
    m.update(np.ones((5, 2)) * np.arange(5)[:, None], timestamps=[1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="row 2: timestamp 6 is not after 7"):
        m.update(np.zeros((3, 2)), timestamps=[6, 7, 6])
    with pytest.raises(ValueError, match="row 0: 3 values for series"):
        m.update(np.zeros((1, 3)), timestamps=[9])
    with pytest.raises(ValueError, match="row 1: value 1 is not a finite number"):
        m.update(np.array([[0.0, 1.0], [0.0, np.nan]]), timestamps=[9, 10])
    with pytest.raises(ValueError, match="3 timestamps for 2 rows"):
        m.update(np.zeros((2, 2)), timestamps=[9, 10, 11])
    assert m.points == 5 and m.last_timestamp == 5  # nothing of the refused batches was kept
    with pytest.raises(ValueError, match="not causal"):
        anomex.Monitor("matrix_profile")
    with pytest.raises(ValueError, match="threshold policy `median`"):
        anomex.Monitor(threshold="median")
    with pytest.raises(ValueError, match="`warmup`"):
        anomex.Monitor(warmup=1)
    with pytest.raises(ValueError, match="series state"):
        anomex.Monitor.from_bytes(b"\x05\x00\x00\x00{oops")
