"""cProfile of one benchmark workload's training step on nablite.

    python benchmarks/profile_step.py W1 [--steps 2000] [--top 25] [--out FILE]
    python benchmarks/profile_step.py W6 --gemm

Builds the workload as bench_nablite.py does (ref_nnabla.py's code through the
``nnabla`` alias), runs a few warm-up steps, then profiles ``--steps`` steps
and prints the functions with the most own time (``tottime``). ``--gemm``
instead times every ``numpy.matmul`` call (the convolutions' products) and
prints time and GFLOP/s per (M, K, N) shape.
"""
import argparse
import cProfile
import collections
import io
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_nablite  # noqa: E402  (installs the nnabla alias)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", choices=sorted(bench_nablite.WORKLOADS))
    ap.add_argument("--steps", type=int, default=None,
                    help="profiled steps (default: 2000 for W1-W4, 5 for W5-W7)")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--out", default=None, help="also write the report here")
    ap.add_argument("--gemm", action="store_true", help="time numpy.matmul calls by shape")
    opts = ap.parse_args()
    steps = opts.steps or (2000 if opts.workload in ("W1", "W2", "W3", "W4") else 5)
    bench_nablite.setup()
    step, _ = bench_nablite.WORKLOADS[opts.workload]()
    for _ in range(3):
        step()
    if opts.gemm:
        return gemm_report(step, steps, opts.top)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    text = io.StringIO()
    text.write(f"python benchmarks/profile_step.py {opts.workload} --steps {steps}\n")
    pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("tottime").print_stats(opts.top)
    print(text.getvalue())
    if opts.out:
        with open(opts.out, "w") as f:
            f.write(text.getvalue())


def gemm_report(step, steps, top):
    """Time each numpy.matmul call of ``steps`` steps, grouped by (M, K, N)."""
    import numpy as np
    matmul, per_shape = np.matmul, collections.defaultdict(lambda: [0.0, 0])

    def timed(a, b, out=None):
        t0 = time.perf_counter()
        result = matmul(a, b, out=out)
        entry = per_shape[a.shape[-2:] + b.shape[-1:]]
        entry[0] += time.perf_counter() - t0
        entry[1] += 1
        return result

    np.matmul = timed  # the convolutions look it up as xp.matmul at each call
    try:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        total = (time.perf_counter() - t0) / steps
    finally:
        np.matmul = matmul
    in_gemm = sum(t for t, _ in per_shape.values()) / steps
    flops = sum(2 * m * k * n * c for (m, k, n), (_, c) in per_shape.items()) / steps
    print(f"step {total * 1e3:.1f} ms, of which numpy.matmul {in_gemm * 1e3:.1f} ms "
          f"({flops / 1e9:.2f} GFLOP, {flops / in_gemm / 1e9:.0f} GFLOP/s)")
    print(f"{'(M, K, N)':>20s} {'ms/step':>8s} {'calls/step':>10s} {'GFLOP/s':>8s}")
    ranked = sorted(per_shape.items(), key=lambda kv: -kv[1][0])[:top]
    for (m, k, n), (t, calls) in ranked:
        print(f"{str((m, k, n)):>20s} {t / steps * 1e3:8.2f} {calls // steps:10d} "
              f"{2 * m * k * n * calls / t / 1e9:8.0f}")


if __name__ == "__main__":
    main()
