"""Winograd F(2x2, 3x3) against the direct convolution path, measured A/B.

    python benchmarks/winograd_probe.py [--layers] [--step] [--rounds 15] [--wall]

``--layers`` (default): W6's three stride-1 3x3 shapes (64 x 16/32/64 channels
at 32/16/8 pixels), batch-last inputs as W6 makes them; forward and backward
(dx and dW) of ``_conv_blocked.BlockedConvolution`` and
``_winograd.WinogradConvolution``, alternated on the same arrays, medians of
each. ``--step``: W6's whole training step built twice in one process, once
with the Winograd path and once without, steps alternated.

Times are the main thread's CPU time (``time.thread_time``) unless ``--wall``:
on a loaded machine that counts this process's own work, not the waits for a
core; run with OPENBLAS_NUM_THREADS=1 so that all the work is on that thread.
Needs Numba (the Winograd transforms are compiled; without it only the
direct path exists).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import median_ms, timings  # noqa: E402


def _batch_last(a):
    return np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


def layers(rounds, clock):
    from nablite.functions._conv_blocked import BlockedConvolution
    from nablite.functions._winograd import WinogradConvolution
    rng = np.random.RandomState(0)
    print("| layer (N, C->OC, HxW) | forward direct ms | Winograd ms | speed-up "
          "| backward direct ms | Winograd ms | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n, c, hw in [(64, 16, 32), (64, 32, 16), (64, 64, 8)]:
        x = _batch_last(rng.randn(n, c, hw, hw).astype(np.float32))
        w = rng.randn(c, c, 3, 3).astype(np.float32)
        gy = _batch_last(rng.randn(n, c, hw, hw).astype(np.float32))
        direct = BlockedConvolution(n, c, (hw, hw), c, (3, 3), (1, 1), (1, 1), (1, 1), (hw, hw))
        wino = WinogradConvolution(n, c, (hw, hw), c, 1, (hw, hw))
        w2 = w.reshape(c, -1)
        runs = {"f": lambda: direct.forward(np, x, w2), "F": lambda: wino.forward(x, w),
                "b": lambda: direct.backward(np, x, w2, gy, True, True),
                "B": lambda: wino.backward(x, w, gy, True, True)}
        # one warm call each: compile, fill the scratch pool
        m = median_ms(timings(runs, rounds, clock, warm=1))
        print(f"| ({n}, {c}->{c}, {hw}x{hw}) | {m['f']:.2f} | {m['F']:.2f} | {m['f'] / m['F']:.2f}x "
              f"| {m['b']:.2f} | {m['B']:.2f} | {m['b'] / m['B']:.2f}x |")


def step(rounds, clock):
    import bench_nablite
    from nablite.functions import _winograd
    bench_nablite.setup()
    numba = _winograd._numba_module()
    steps = {}
    for name, module in (("direct", None), ("winograd", numba)):
        _winograd._numba = module  # read when each convolution node is set up
        steps[name] = bench_nablite.WORKLOADS["W6"]()[0]
    _winograd._numba = numba
    m = median_ms(timings(steps, rounds, clock, warm=2))
    print(f"W6 step: direct {m['direct']:.1f} ms, Winograd {m['winograd']:.1f} ms "
          f"({m['direct'] / m['winograd']:.2f}x), medians of {rounds} alternated steps")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", action="store_true")
    ap.add_argument("--step", action="store_true")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--wall", action="store_true", help="wall-clock instead of CPU time")
    opts = ap.parse_args()
    from nablite.functions import _winograd
    if _winograd._numba_module() is None:
        sys.exit("winograd_probe: the Winograd path needs Numba (pip install numba)")
    clock = time.perf_counter if opts.wall else time.thread_time
    if opts.layers or not opts.step:
        layers(opts.rounds, clock)
    if opts.step:
        step(opts.rounds, clock)


if __name__ == "__main__":
    main()
