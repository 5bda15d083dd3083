"""Shared fixtures: PyOD's synthetic data recipe, and the anomex command-line binary."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]


def generate_data(n_train=400, n_test=200, n_features=4, contamination=0.1, seed=42):
    """PyOD's ``generate_data``: Gaussian inliers around 2 (and -2), uniform outliers, labels
    1 = outlier, the outliers last."""
    rng = np.random.default_rng(seed)

    def part(n):
        n_out = int(n * contamination)
        n_in = n - n_out
        inliers = np.r_[
            rng.normal(2.0, 0.3, size=(n_in // 2, n_features)),
            rng.normal(-2.0, 0.3, size=(n_in - n_in // 2, n_features)),
        ]
        outliers = rng.uniform(-6.0, 6.0, size=(n_out, n_features))
        return np.r_[inliers, outliers], np.r_[np.zeros(n_in), np.ones(n_out)].astype(int)

    X_train, y_train = part(n_train)
    X_test, y_test = part(n_test)
    return X_train, X_test, y_train, y_test


@pytest.fixture(scope="session")
def data():
    return generate_data()


@pytest.fixture(scope="session")
def anomex_bin():
    """The `anomex` binary of this checkout (scripts/test sets ANOMEX_BIN after building it)."""
    path = os.environ.get("ANOMEX_BIN") or shutil.which("anomex")
    if not path or not Path(path).exists():
        pytest.skip("the anomex binary is not built (scripts/test sets ANOMEX_BIN)")
    return path


def sine_with_spikes(n=1200, period=50, seed=0):
    """A noisy sine with three different anomalies (repeated identical ones would match each
    other, which hides them from discord-based detectors)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.sin(2 * np.pi * t / period) + 0.05 * rng.normal(size=n)
    labels = np.zeros(n, dtype=int)
    for start, bump in ((700, np.full(5, 3.0)), (900, np.full(12, -2.5)), (1100, np.linspace(0, 3, 8))):
        x[start : start + len(bump)] += bump
        labels[start : start + len(bump)] = 1
    return x, labels
