"""The seven workloads on nablite: the very code of ref_nnabla.py, run through the
``nnabla`` import alias, so both libraries execute identical scripts.

    python benchmarks/bench_nablite.py [--workloads W1,W2] [--json out.json]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nablite import compat  # noqa: E402

compat.install()

import harness  # noqa: E402
import ref_nnabla  # noqa: E402

LIBRARY = "nablite"
WORKLOADS = ref_nnabla.WORKLOADS
overhead = ref_nnabla.overhead


def version():
    import nablite
    return nablite.__version__


def setup():
    ref_nnabla.setup()


if __name__ == "__main__":
    harness.main(sys.modules[__name__])
