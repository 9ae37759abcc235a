"""Start a script of tests/mpi under ``mpiexec -n N`` from a test, with a timeout.

Each rank gets one BLAS/OpenMP thread, so several ranks share the cores
instead of oversubscribing them. A script reports by exiting 0; a failed
check raises, which (through the communicator's watch) aborts every rank.
"""
import functools
import importlib.util
import os
import shutil
import signal
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def mpiexec(script, n, *args, timeout=60):
    """Run tests/mpi/``script`` on ``n`` ranks; returns the CompletedProcess
    (``returncode``, ``stdout``, ``stderr``), or fails the test on a timeout."""
    # looked up, not imported: MPI is started in the ranks only, never in pytest's process
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is not installed (pip install \"nablite[dist]\")")
    launcher = shutil.which("mpiexec") or os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if not os.path.exists(launcher):
        pytest.skip("mpiexec is not on PATH")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [launcher, "-n", str(n), sys.executable, os.path.join(HERE, script), *map(str, args)]
    # Its own session, so that a hang is ended with every rank, not only mpiexec.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()  # mpiexec passes SIGTERM on to the ranks
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish in {timeout} s (a hang):\n{out}\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def check_ok(result):
    assert result.returncode == 0, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@functools.lru_cache(maxsize=None)
def suite(n):
    """Run tests/mpi/suite.py once on ``n`` ranks (shared by the test files);
    {check name: {rank: "ok" or the failure}}."""
    result = check_ok(mpiexec("suite.py", n, timeout=120))
    checks = {}
    for line in result.splitlines():
        if line.startswith("CHECK "):
            _, name, rank, status = line.split(" ", 3)
            checks.setdefault(name, {})[int(rank)] = status
    return checks


def assert_check(n, name):
    """The check ``name`` of suite.py passed on every one of the ``n`` ranks."""
    ranks = suite(n).get(name)
    assert ranks is not None, f"suite.py on {n} ranks did not report {name}"
    assert sorted(ranks) == list(range(n)), f"{name}: reports from ranks {sorted(ranks)}"
    failed = {r: s for r, s in ranks.items() if s != "ok"}
    assert not failed, "\n".join(f"{name} on rank {r}/{n}: {s.replace(' | ', chr(10))}"
                                 for r, s in failed.items())
