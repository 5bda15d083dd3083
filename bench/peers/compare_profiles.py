"""Compares anomex's matrix-profile scores (a score CSV from `anomex detect -d matrix_profile`)
with stumpy's profile, padded to points the way TSB-AD (and anomex) do.

    python compare_profiles.py STUMPY_PROFILE.npy ANOMEX_SCORES.csv m
"""

import csv
import math
import sys

import numpy as np

profile = np.load(sys.argv[1])
m = int(sys.argv[3])
with open(sys.argv[2]) as f:
    ours = np.array([float(r["score"]) for r in csv.DictReader(f)])
head = [profile[0]] * math.ceil((m - 1) / 2)
tail = [profile[-1]] * ((m - 1) // 2)
padded = np.concatenate([head, profile, tail])
diff = np.abs(padded - ours)
print(f"points {len(ours)}, max |anomex - stumpy| = {diff.max():.3e}, at {diff.argmax()}")
sys.exit(0 if diff.max() < 1e-6 else 1)
