"""examples/data_parallel.py, shortened, under mpiexec: two ranks reach the
accuracy of one rank trained on the same global batch; and the README's
Python example (tests/mpi/readme_snippet.py, the same text) runs on 2 ranks."""
import os
import re

from mpi.launch import check_ok, mpiexec

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "data_parallel.py")


def held_out(n, steps=300):
    out = check_ok(mpiexec(os.path.abspath(EXAMPLE), n, "--steps", steps, timeout=90))
    m = re.search(rf"^{n} ranks, {steps} steps .* held-out accuracy ([0-9.]+)$", out, re.M)
    assert m, out
    return float(m.group(1))


def test_two_ranks_reach_the_single_process_accuracy():
    one, two = held_out(1), held_out(2)
    assert one > 0.85, one  # the short single-process run learns (about 0.90)
    assert two >= one - 0.02, (one, two)


def test_readme_snippet_runs_on_two_ranks():
    out = check_ok(mpiexec("readme_snippet.py", 2, timeout=60))
    assert re.search(r"^2 ranks, loss [0-9.]+$", out, re.M), out
