"""Mean CoDisp per point from the `rrcf` package (0.4.4), streaming, shingle 1, window 256.

Writes series.csv (the input) and rrcf.csv (the scores) in the working folder; see
docs/parity/rrcf.md for the comparison with `anomex detect -d rrcf`.
"""
import numpy as np, rrcf, sys, time
n = 1500
rng = np.random.default_rng(0)
t = np.arange(n)
x = np.sin(t * 0.05) + 0.1 * rng.standard_normal(n)
x[[400, 800, 1200]] += 3.0
np.savetxt("series.csv", x, header="value", comments="", fmt="%.17g")
num_trees, tree_size = 200, 256
forest = [rrcf.RCTree() for _ in range(num_trees)]
codisp = np.zeros(n)
start = time.time()
for i, v in enumerate(x):
    for tree in forest:
        if len(tree.leaves) > tree_size:
            tree.forget_point(i - tree_size)
        tree.insert_point(np.array([v]), index=i)
        codisp[i] += tree.codisp(i) / num_trees
print("rrcf seconds", time.time() - start, file=sys.stderr)
np.savetxt("rrcf.csv", codisp)
