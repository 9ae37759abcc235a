"""Instructions per training step of one workload, for before/after checks on a
loaded machine (instruction counts do not depend on the load).

    OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python benchmarks/callgrind_step.py W3 --steps 20

Builds the workload as bench_nablite.py does and runs ``--warmup`` +
``--steps`` steps. Run it twice with different ``--steps`` and divide the
difference of the two instruction totals (callgrind's "Collected") by the
difference of the step counts: start-up and graph building cancel.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_nablite  # noqa: E402  (installs the nnabla alias)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", choices=sorted(bench_nablite.WORKLOADS))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    opts = ap.parse_args()
    bench_nablite.setup()
    step, _ = bench_nablite.WORKLOADS[opts.workload]()
    for _ in range(opts.warmup + opts.steps):
        step()


if __name__ == "__main__":
    main()
