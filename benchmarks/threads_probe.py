"""Would a second thread speed up W6's non-BLAS passes? (issue 4, W6 analysis)

W6 spends about 60 ms per step in batch norm, ReLU and Add2 passes over
(64, 16..64, H, W) float32 tensors, which NumPy runs on one core. This probe
times the passes W6 makes, on W6's largest activation shape in its batch-last
memory order, once on one thread and once split in two halves over two
threads (NumPy releases the GIL inside ufuncs), and prints the speed-up.

    python benchmarks/threads_probe.py [--repeat 30]

A speed-up near 1 means the pass is limited by memory bandwidth, not by the
core: splitting it gains nothing, and only fewer passes (fused kernels) would.
"""
import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

SHAPE = (16, 32, 32, 64)  # (C, H, W, N): W6's first stage, batch-last as nablite stores it


def _best(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    opts = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE, dtype=np.float32)
    g = rng.standard_normal(SHAPE, dtype=np.float32)
    out = np.empty_like(x)
    scale = rng.random((SHAPE[0], 1, 1, 1), dtype=np.float32)
    passes = {
        "relu forward  max(x, 0)": lambda s: np.maximum(x[s], 0, out=out[s]),
        "relu backward g * (x > 0)": lambda s: np.multiply(g[s], x[s] > 0, out=out[s]),
        "bn apply      x * scale": lambda s: np.multiply(x[s], scale[s], out=out[s]),
        "add2          x + g": lambda s: np.add(x[s], g[s], out=out[s]),
        "exp (compute-heavy)": lambda s: np.exp(x[s], out=out[s]),
    }
    half = SHAPE[0] // 2
    with ThreadPoolExecutor(1) as pool:
        def split(op):
            def run():
                other = pool.submit(op, slice(half, None))
                op(slice(0, half))
                other.result()
            return run

        print(f"{'pass on ' + str(SHAPE):32s} {'1 thread ms':>12s} {'2 threads ms':>13s} "
              f"{'speed-up':>9s}")
        for name, op in passes.items():
            one = _best(lambda: op(slice(None)), opts.repeat)
            two = _best(split(op), opts.repeat)
            print(f"{name:32s} {one:12.3f} {two:13.3f} {one / two:8.2f}x")


if __name__ == "__main__":
    main()
