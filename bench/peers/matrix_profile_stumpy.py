"""Matrix profile with stumpy, the reference peer for anomex's `matrix_profile`.

Writes the random walk it uses (so that anomex scores the very same data) and stumpy's profile,
and prints the warm-call time (the first call includes numba's compilation).

    python matrix_profile_stumpy.py OUT_DIR [n] [m]
"""

import sys
import time
from pathlib import Path

import numpy as np
import stumpy

out = Path(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
m = int(sys.argv[3]) if len(sys.argv) > 3 else 100
out.mkdir(parents=True, exist_ok=True)

rng = np.random.default_rng(0)
walk = np.cumsum(rng.uniform(-0.5, 0.5, n))
np.save(out / "walk.npy", walk)

stumpy.stump(walk[:2000], m)  # compile
start = time.perf_counter()
profile = stumpy.stump(walk, m)[:, 0].astype(np.float64)
elapsed = time.perf_counter() - start
np.save(out / "stumpy_profile.npy", profile)
print(f"stumpy {stumpy.__version__} stump n={n} m={m}: warm call {elapsed:.3f} s")
