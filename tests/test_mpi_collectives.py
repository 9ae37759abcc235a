"""The MPI communicator's collectives against NumPy, on 1, 2 and 4 ranks
started by mpiexec (tests/mpi/suite.py), and what needs no MPI at all."""
import os
import subprocess
import sys

import numpy as np
import pytest

import nablite as nn
import nablite.communicators as C
from nablite.ext_utils import get_extension_context
from mpi.launch import assert_check

RANKS = [1, 2, 4]
COLLECTIVES = ["basics", "all_reduce", "bcast", "reduce", "all_gather", "reduce_scatter",
               "groups", "allreduce_registered", "bad_arguments", "create_communicator",
               "device_collectives", "device_training_equals_cpu"]


@pytest.mark.parametrize("n", RANKS)
@pytest.mark.parametrize("name", COLLECTIVES)
def test_collective_matches_numpy(name, n):
    assert_check(n, name)


def test_nnabla_names():
    for alias in ("MultiProcessDataParalellCommunicator", "MultiProcessCommunicator", "Comm",
                  "Dist"):
        assert getattr(C, alias) is C.MultiProcessDataParallelCommunicator
    assert set(C.__all__) >= {"MultiProcessDataParallelCommunicator", "DataParallelCommunicator"}


def test_nnabla_communicator_module_is_the_same_api():
    import nablite.communicator as single
    assert single.__all__ == C.__all__
    for name in C.__all__:
        assert getattr(single, name) is getattr(C, name)


def test_without_mpi4py_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "nablite\[dist\]"'):
        C.MultiProcessDataParallelCommunicator(get_extension_context("cpu"))


_WITHOUT_MPI4PY = """
import sys
sys.modules["mpi4py"] = None  # as if it were not installed
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def test_mpi_tests_skip_cleanly_without_mpi4py():
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.run([sys.executable, "-c", _WITHOUT_MPI4PY, "-q", "-rs", "-p", "no:randomly",
                        "-p", "no:cacheprovider", "-o", "addopts=",
                        os.path.join(here, "test_mpi_training.py"), "-k", "test_training"],
                       capture_output=True, text=True, cwd=here, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "12 skipped" in p.stdout and "passed" not in p.stdout, p.stdout
    assert 'mpi4py is not installed (pip install "nablite[dist]")' in p.stdout, p.stdout


def test_gpu_context_without_cupy_says_what_is_missing(monkeypatch):
    from nablite import backend
    monkeypatch.setattr(backend, "_sim", False)
    monkeypatch.setattr(backend, "cupy", None)
    for make in (C.MultiProcessDataParallelCommunicator, C.DataParallelCommunicator):
        with pytest.raises(RuntimeError, match="needs CuPy and a CUDA GPU.*nablite\\[cuda13\\]"):
            make(nn.Context(["cudnn:float"]))  # before MPI is touched


@pytest.mark.parametrize("ext", ["cpu", "cudnn"])
def test_data_parallel_communicator_reduces_between_replicas(ext, monkeypatch):
    from nablite import backend
    if ext == "cudnn":  # on the simulated device: the sums are made there
        monkeypatch.setattr(backend, "_sim", True)
    ctx = get_extension_context(ext)
    comm = C.DataParallelCommunicator(ctx)
    rng = np.random.RandomState(0)
    replicas = [{n: nn.Variable.from_numpy_array(rng.randn(2, 3), need_grad=True)
                 for n in ("w", "b")} for _ in range(3)]
    grads = [{n: rng.randn(2, 3).astype(np.float32) for n in ("w", "b")} for _ in replicas]
    for params, g in zip(replicas, grads):
        for n, v in params.items():
            v.g = g[n]
        comm.add_context_and_parameters((ctx, params))
    with pytest.raises(RuntimeError, match="call init"):
        comm.size
    comm.init()
    assert (comm.size, comm.rank, comm.local_rank) == (3, 0, 0)
    comm.allreduce(division=True)
    for params in replicas:
        for n, v in params.items():
            assert backend.is_device_array(v.grad._arr) is (ext == "cudnn")
            np.testing.assert_allclose(v.g, sum(g[n] for g in grads) / 3, rtol=1e-6)
    with pytest.raises(TypeError, match="add_context_and_parameters: expected a"):
        comm.add_context_and_parameters({"w": 1})


_NNABLA_API = """
import re
import nnabla.communicators as C
methods = {}
for name in dir(C.Communicator):
    if name.startswith('_'):
        continue
    doc = getattr(C.Communicator, name).__doc__ or ''
    m = re.match(r'Communicator\\.%s\\((.*?)\\)' % name, doc.strip())
    methods[name] = None if m is None else m.group(1)
RESULT = {'names': sorted(n for n in dir(C) if n[0].isupper() and n != 'Context'),
          'methods': methods}
"""


def _untyped(signature):
    """'self, data, bool division=False' -> '(data, division=False)'."""
    args = [a.strip().split(" ")[-1] for a in signature.split(",")][1:]
    return "(" + ", ".join(args) + ")"


def test_api_matches_nnabla():
    import inspect
    from nnabla_parity import run_in_nnabla
    ref = run_in_nnabla(_NNABLA_API)
    if ref is None:
        pytest.skip("NNabla 1.39 is not installed")
    assert set(ref["names"]) <= set(C.__all__), set(ref["names"]) - set(C.__all__)
    ours = C.MultiProcessDataParallelCommunicator
    for name, signature in ref["methods"].items():
        assert hasattr(ours, name), name
        if signature is not None:  # a method (the rest are properties)
            assert str(inspect.signature(getattr(ours, name))).replace("(self, ", "(") \
                .replace("(self)", "()") == _untyped(signature), name
