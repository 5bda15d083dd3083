"""Generated documentation stays equal to what its generator gives."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_the_benchmarks_page_is_the_rendering_of_the_recorded_runs():
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "benchmarks-doc"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
