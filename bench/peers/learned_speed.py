"""Training time of anomex's learned detectors against the reference implementations (TSB-AD
1.5's torch CNN, LSTMAD and USAD; PyOD's torch AutoEncoder, VAE and DeepSVDD), same data, same
epochs, same machine.

    python learned_speed.py --anomex target/release/anomex [--series FILE.csv] [--epochs 3] [--repeat 3]

Needs, in a virtual environment outside the repository:
    pip install torch numpy scikit-learn pyod 'TSB-AD==1.5'

Prints one line per run (seconds, minimum over repeats) and the ratio. Both sides use every core
(torch.set_num_threads(os.cpu_count())); the anomex side is the whole process (`anomex fit`),
reading the file included. TSB-AD's CNN stops early after 3 epochs without a better validation
loss; with few epochs it runs them all, as anomex does with `patience=0`.
"""

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def best_of(repeat, fn):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def read_series(path):
    values = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=1)
    return values[~np.isnan(values)].reshape(-1, 1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--anomex", required=True)
    p.add_argument("--series", default="examples/nab/machine_temperature_system_failure.csv")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--rows", type=int, default=20000, help="rows of the vector set")
    a = p.parse_args()

    import torch

    torch.set_num_threads(os.cpu_count())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    # TSB-AD's CNN on the series, standardised as anomex standardises it
    from TSB_AD.models.CNN import CNN

    x = read_series(a.series)
    z = (x - x.mean(0)) / x.std(0)

    def torch_cnn():
        torch.manual_seed(0)
        # TSB-AD's loop stops at epoch `epochs - 1` (1-based): ask for one more to run as many
        m = CNN(window_size=100, epochs=a.epochs + 1, feats=1)
        m.fit(z)

    tmp = tempfile.mkdtemp()
    model = os.path.join(tmp, "m.anomex")

    def compare(label, data, detector, extra, reference, peer):
        """Times `anomex fit DATA -d DETECTOR` against the peer's fit; prints both and the ratio."""
        args = ["fit", data, "-d", detector, "-p", f"max_epochs={a.epochs}", *extra,
                "--save", model]
        ours = best_of(a.repeat, lambda: subprocess.run(
            [a.anomex, *args], check=True, capture_output=True))
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            theirs = best_of(a.repeat, reference)
        print(f"{label}, {a.epochs} epochs: anomex {ours:.2f} s, {peer} {theirs:.2f} s, "
              f"ratio {theirs / ours:.2f}x")

    compare(f"cnn {len(x)} points", a.series, "cnn", ["-p", "patience=0"], torch_cnn,
            "TSB-AD torch")

    from TSB_AD.models.LSTMAD import LSTMAD
    from TSB_AD.models.USAD import USAD

    def torch_lstm():
        torch.manual_seed(0)
        # the same early exit as its CNN: one more epoch asked to run as many
        LSTMAD(window_size=100, epochs=a.epochs + 1, feats=1).fit(z)

    compare(f"lstm_ad {len(x)} points", a.series, "lstm_ad", ["-p", "patience=0"], torch_lstm,
            "TSB-AD torch")

    # USAD reads min-max scaled windows (anomex scales them itself); TSB-AD steps one optimiser
    # per batch where anomex, as the paper, steps two (its phases), so anomex does more work
    unit = (x - x.min(0)) / (x.max(0) - x.min(0))

    def torch_usad():
        torch.manual_seed(0)
        USAD(win_size=5, feats=1, epochs=a.epochs, patience=a.epochs + 1).fit(unit)

    compare(f"usad {len(x)} points", a.series, "usad", ["-p", "patience=0"], torch_usad,
            "TSB-AD torch")

    # PyOD's AutoEncoder and DeepSVDD on Gaussian rows
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.deep_svdd import DeepSVDD
    from pyod.models.vae import VAE

    v = np.random.default_rng(0).normal(size=(a.rows, 16))
    path = os.path.join(tmp, "v.npy")
    np.save(path, v)
    compare(f"autoencoder {a.rows}x16", path, "autoencoder", [],
            lambda: AutoEncoder(epoch_num=a.epochs, verbose=0, random_state=0).fit(v),
            "PyOD torch")
    compare(f"vae {a.rows}x16", path, "vae", [],
            lambda: VAE(epoch_num=a.epochs, verbose=0, random_state=0).fit(v),
            "PyOD torch")
    compare(f"deep_svdd {a.rows}x16", path, "deep_svdd", [],
            lambda: DeepSVDD(n_features=16, epochs=a.epochs, verbose=0, random_state=0).fit(v),
            "PyOD torch")

if __name__ == "__main__":
    sys.exit(main())
