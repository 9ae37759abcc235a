"""NNabla import forms that example scripts use: ``import nnabla.logger as logger``,
``import nnabla.solver as S``, ``nnabla.utils.communicator_util`` — on nablite
directly and under ``nablite run`` (the nnabla alias)."""
import logging
import subprocess
import sys
import textwrap
import types

import pytest

import nablite
import nablite.solvers as S
from nablite.utils import communicator_util as cu
from nnabla_parity import run_in_nnabla


def run_script(tmp_path, source):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, "-m", "nablite.cli", "run", str(script)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)


# -- logger -------------------------------------------------------------------------
def test_logger_import_forms_give_the_logger_object(caplog):
    import nablite.logger as by_import
    from nablite.logger import logger as by_from
    assert isinstance(by_import, logging.Logger)
    assert by_import is by_from is nablite.logger
    assert isinstance(sys.modules["nablite.logger"], types.ModuleType)
    with caplog.at_level(logging.INFO, logger=by_import.name):
        by_import.info("hello %d", 3)
    assert ("nablite", logging.INFO, "hello 3") in caplog.record_tuples


@pytest.mark.parametrize("first", ["import nnabla.logger as logger",
                                   "from nnabla.logger import logger",
                                   "import nnabla"])
def test_logger_import_forms_under_the_alias(tmp_path, first):
    proc = run_script(tmp_path, f"""
        {first}
        import logging, sys, types
        import nnabla
        import nnabla.logger as logger
        from nnabla.logger import logger as logger2
        assert isinstance(logger, logging.Logger), logger
        assert logger is logger2 is nnabla.logger
        assert isinstance(sys.modules["nnabla.logger"], types.ModuleType)
        logger.info("step 1 loss 0.5")  # shown: nablite run configures logging as NNabla
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    assert "[nablite][INFO]: step 1 loss 0.5" in proc.stderr


# -- nnabla.solver ------------------------------------------------------------------
def test_nnabla_solver_module_under_the_alias(tmp_path):
    proc = run_script(tmp_path, """
        import numpy as np
        import nnabla as nn
        import nnabla.solver as S
        import nnabla.solvers as S2
        from nnabla.solver import Solver
        assert S.Adam is S2.Adam and issubclass(S.Adam, Solver)
        p = nn.Variable.from_numpy_array(np.ones((2, 3), np.float32), need_grad=True)
        s = S.Adam(alpha=0.1)
        s.set_parameters({"w": p})
        s.zero_grad()
        p.g = np.ones((2, 3), np.float32)
        s.update()
        print(np.round(p.d.astype(float), 4).tolist())
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str([[0.9] * 3] * 2)   # Adam's first step is alpha


def test_nnabla_solver_has_the_classes_nnabla_exposes():
    want = run_in_nnabla("""
import inspect, nnabla.solver as s
RESULT = sorted(n for n, o in vars(s).items() if inspect.isclass(o) and not n.startswith("_")
                and o.__module__.startswith("nnabla"))
""")
    if want is None:
        pytest.skip("NNabla 1.39 is not installed (set NNABLA_PYTHON)")
    import nablite.solver as ours
    for name in want:
        assert getattr(ours, name) is getattr(S, name), name


# -- communicator_util --------------------------------------------------------------
@pytest.fixture
def no_mpi(monkeypatch):
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE", raising=False)


def test_single_process_helpers(no_mpi):
    assert cu.current_communicator() is None
    assert cu.single_or_rankzero() is True
    assert cu.create_communicator() is None
    assert cu.create_communicator(ignore_error=True, extension_module="cpu") is None
    assert cu.current_communicator() is None and cu.single_or_rankzero() is True
    assert "mpi4py" not in sys.modules


def test_single_or_rankzero_follows_the_communicator_rank(monkeypatch):
    monkeypatch.setattr(cu, "_current_communicator", types.SimpleNamespace(rank=1))
    assert cu.single_or_rankzero() is False
    monkeypatch.setattr(cu, "_current_communicator", types.SimpleNamespace(rank=0))
    assert cu.single_or_rankzero() is True


def test_create_communicator_in_a_multi_process_launch(monkeypatch, caplog):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "1")
    assert cu.create_communicator() is None          # a one-process job is a single run
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    with pytest.raises(RuntimeError, match=r"create_communicator: OMPI_COMM_WORLD_SIZE=4 says "
                                           r"this process is one of 4 MPI processes, but "
                                           r".*ignore_error=True"):
        cu.create_communicator()
    with caplog.at_level(logging.WARNING, logger="nablite"):
        assert cu.create_communicator(ignore_error=True, extension_module="cpu") is None
    assert any("OMPI_COMM_WORLD_SIZE=4" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    assert cu.current_communicator() is None


def test_communicator_util_has_nnablas_functions():
    want = run_in_nnabla("""
import inspect, nnabla.utils.communicator_util as c
RESULT = sorted(n for n, o in vars(c).items() if inspect.isfunction(o) and not n.startswith("_"))
""")
    if want is None:
        pytest.skip("NNabla 1.39 is not installed (set NNABLA_PYTHON)")
    assert want == sorted(cu.__all__)
    for name in want:
        assert callable(getattr(cu, name))


def test_communicator_util_under_the_alias(tmp_path):
    proc = run_script(tmp_path, """
        import nnabla.utils.communicator_util as cu
        from nnabla.utils.communicator_util import current_communicator, single_or_rankzero
        comm = cu.create_communicator(ignore_error=True)
        print(comm, current_communicator(), single_or_rankzero())
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "None None True"


def test_function_bases_are_the_functions_and_raw_patch_correlation_is_channel_last():
    import numpy as np
    import nablite as nn
    import nablite.function_bases as FB
    import nablite.functions as F
    assert nn.function_bases is FB and FB.affine is F.affine and set(F.__all__) <= set(dir(FB))
    rng = np.random.RandomState(0)
    a, b = [nn.Variable.from_numpy_array(rng.randn(2, 5, 6, 3).astype(np.float32))
            for _ in range(2)]
    y = FB.patch_correlation(a, b, (1, 1), (1, 2))
    want = F.patch_correlation(F.transpose(a, (0, 3, 1, 2)), F.transpose(b, (0, 3, 1, 2)),
                               (1, 1), (1, 2))
    F.sink(y, want).forward()
    np.testing.assert_allclose(y.d, want.d.transpose(0, 3, 4, 1, 2), rtol=1e-6)


def test_nnp_format_version_is_the_one_files_carry():
    from nablite._nnp.files import NNP_VERSION
    from nablite.utils.nnp_format import nnp_version
    assert nnp_version() == "0.1" == NNP_VERSION.strip()


def test_nnabla_ext_modules_under_the_alias(tmp_path):
    """nnabla_ext.cpu imports and gives NNabla's context; nnabla_ext.cuda, where it
    cannot run, raises ImportError saying why (scripts fall back on it)."""
    proc = run_script(tmp_path, """
        import nnabla_ext.cpu
        from nnabla_ext.cpu import context
        print(context(), nnabla_ext.cpu.array_classes(), nnabla_ext.cpu.get_devices())
        try:
            import nnabla_ext.cuda.cudnn
        except ImportError as e:
            print("ImportError", e)
    """)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("Context(backend=['cpu:float'], array_class='CpuCachedArray', "
                               "device_id='') ['CpuCachedArray', 'CpuArray']")  # NNabla's
    from nablite import backend
    if backend.cupy is None or backend.gpu_problem():
        assert lines[1].startswith("ImportError nnabla_ext.cuda: context backend 'cuda' "
                                   "needs")
    else:  # a machine with a GPU: it imports
        assert len(lines) == 1


def test_nnabla_ext_cuda_on_a_device(tmp_path, monkeypatch):
    """With a device (here the simulated one): cuda and cudnn contexts, the helpers
    and NVTX ranges (no-ops without CuPy's NVTX)."""
    monkeypatch.setenv("NABLITE_DEVICE_SIM", "1")
    proc = run_script(tmp_path, """
        import nnabla_ext.cuda as cuda
        import nnabla_ext.cuda.cudnn as cudnn
        import nnabla_ext.cuda.nvtx as nvtx
        print(cuda.context(type_config="half").backend)
        print(cudnn.context(device_id="0"))
        nvtx.range_push("step")
        nvtx.mark("here")
        nvtx.range_pop()
        cuda.synchronize(device_id="0")
        cuda.clear_memory_cache()
        print(cudnn.array_classes()[0])
    """)
    assert proc.returncode == 0, proc.stderr
    half, cudnn, classes = proc.stdout.strip().splitlines()
    assert half == "['cuda:half', 'cuda:float', 'cpu:float']"
    assert cudnn == ("Context(backend=['cudnn:float', 'cuda:float', 'cpu:float'], "
                     "array_class='CudaCachedArray', device_id='0')")
    assert classes == "CudaCachedArray"


def test_submodules_are_attributes_after_import_nnabla(tmp_path):
    """``import nnabla`` binds utils, monitor, ... as NNabla's does (loaded on first use)."""
    proc = run_script(tmp_path, """
        import nnabla as nn
        names = ["utils", "config", "callback", "communicator", "communicators", "ext_utils",
                 "monitor", "initializer"]
        print([n for n in names if not hasattr(nn, n)], nn.monitor.MonitorSeries.__name__)
        import nnabla.utils.save
        print(nn.utils.save.save.__module__)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]", "MonitorSeries", "nablite.utils.save"]
    with pytest.raises(AttributeError, match="module 'nablite' has no attribute 'nothing'"):
        nablite.nothing


def test_deprecated_contrib_extension_context(tmp_path):
    """Old scripts' ``nnabla.contrib.context.extension_context``: the context, and
    NNabla's deprecation line in the log."""
    proc = run_script(tmp_path, """
        from nnabla.contrib.context import extension_context
        print(extension_context("cpu", device_id=0))
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ("Context(backend=['cpu:float'], array_class='CpuCachedArray', "
                                   "device_id='')")
    assert "[WARNING]: Deprecated API. Use `nnabla.ext_util.get_extension_context" in proc.stderr
