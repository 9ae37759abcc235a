"""Fixtures shared by test files, and the ``--backend`` option.

``--backend=cpu`` (the default) runs every test in the CPU context of
type_config 'double' (float64 data computes in float64; see _backend_context).
``--backend=device-sim`` runs every test in the 'cudnn' one on the simulated device (nablite's
``_device_sim``: arrays that refuse to mix with host NumPy as CuPy's do), so
the device code path is tested without a GPU; ``--backend=cuda`` runs it on
CuPy and a real GPU (every test is skipped, with the reason, when there is
none). A test that sets a context itself keeps it; one marked ``host_context``
(it checks the default context) is left in the default context.

Under device-sim, the tests listed in ``device_sim_known_failures.txt`` (one
node id a line) are expected to fail (strict xfail: one that passes fails the
run, so the list stays exact).
"""
import os

import pytest

import nablite as nn

_KNOWN_FAILURES = os.path.join(os.path.dirname(__file__), "device_sim_known_failures.txt")


def pytest_addoption(parser):
    parser.addoption("--backend", choices=("cpu", "device-sim", "cuda"), default="cpu",
                     help="where the tests' functions compute: cpu (default), device-sim "
                          "(the 'cudnn' context on a simulated device) or cuda (CuPy, a GPU)")


def pytest_configure(config):
    config.addinivalue_line("markers", "host_context: the test checks the default context "
                                       "itself; --backend leaves it in the CPU context")
    if config.getoption("--backend") == "device-sim":
        from nablite import backend
        backend.use_device_sim(True)


def _known_failures():
    try:
        with open(_KNOWN_FAILURES) as f:
            lines = [line.strip() for line in f]
    except FileNotFoundError:
        return set()
    return {line for line in lines if line and not line.startswith("#")}


def pytest_collection_modifyitems(config, items):
    which = config.getoption("--backend")
    if which == "cuda":
        from nablite import backend
        try:
            backend.module_for("cuda")
        except RuntimeError as e:
            skip = pytest.mark.skip(reason=f"--backend=cuda: {e}")
            for item in items:
                item.add_marker(skip)
    elif which == "device-sim":
        known = _known_failures()
        mark = pytest.mark.xfail(strict=True, reason="known to fail under --backend=device-sim "
                                                     "(tests/device_sim_known_failures.txt)")
        for item in items:
            if item.nodeid in known:
                item.add_marker(mark)


@pytest.fixture(autouse=True)
def _backend_context(request):
    """Each test runs in the type_config 'double' context of its backend ('cpu',
    or 'cudnn' under --backend=device-sim / cuda), where float64 test data
    computes in float64 as the NumPy references and numerical gradients need
    (in 'float' contexts, NNabla's default, it would be read as float32:
    tests/test_float_contexts.py checks that)."""
    if request.node.get_closest_marker("host_context") is not None:
        yield
        return
    from nablite import context
    from nablite.ext_utils import get_extension_context
    previous = context._current
    ext = "cpu" if request.config.getoption("--backend") == "cpu" else "cudnn"
    context._current = get_extension_context(ext, type_config="double")
    try:
        yield
    finally:
        context._current = previous


@pytest.fixture
def fresh_parameters():
    """An empty global parameter registry before and after the test, so parameters
    one test creates cannot satisfy or disturb another's."""
    nn.clear_parameters()
    yield
    nn.clear_parameters()


@pytest.fixture
def on_device():
    """The 'cudnn' context on the simulated device, whatever --backend says."""
    from nablite import backend
    from nablite.context import context_scope
    from nablite.ext_utils import get_extension_context
    was = backend.device_sim_enabled()
    backend.use_device_sim(True)
    try:
        with context_scope(get_extension_context("cudnn")):
            yield
    finally:
        backend.use_device_sim(was)
