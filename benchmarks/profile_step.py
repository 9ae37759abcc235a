"""cProfile of one benchmark workload's training step on nablite.

    python benchmarks/profile_step.py W1 [--steps 2000] [--top 25] [--out FILE]

Builds the workload as bench_nablite.py does (ref_nnabla.py's code through the
``nnabla`` alias), runs a few warm-up steps, then profiles ``--steps`` steps
and prints the functions with the most own time (``tottime``).
"""
import argparse
import cProfile
import io
import os
import pstats
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_nablite  # noqa: E402  (installs the nnabla alias)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", choices=sorted(bench_nablite.WORKLOADS))
    ap.add_argument("--steps", type=int, default=None,
                    help="profiled steps (default: 2000 for W1-W4, 5 for W5-W7)")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--out", default=None, help="also write the report here")
    opts = ap.parse_args()
    steps = opts.steps or (2000 if opts.workload in ("W1", "W2", "W3", "W4") else 5)
    bench_nablite.setup()
    step, _ = bench_nablite.WORKLOADS[opts.workload]()
    for _ in range(3):
        step()
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


if __name__ == "__main__":
    main()
