"""Small helpers several test files share: loading a script as a module,
measuring peak allocation, seeded batch-norm statistics."""
import contextlib
import importlib.util
import os
import tracemalloc

import numpy as np

TESTS = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(TESTS, "..", "examples")
FIXTURES = os.path.join(TESTS, "fixtures")


def cli_main(*args):
    """``nablite.cli.main(args)`` in this process, as a CompletedProcess (stdout,
    stderr and the exit code); the parameters it registered are cleared after."""
    import io
    import subprocess
    import nablite
    from nablite import cli
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as e:
            code = e.code
    nablite.clear_parameters()
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def load_module(path, name):
    """Execute the script at ``path`` as a fresh module called ``name`` (examples and
    fixture makers are scripts, not importable packages)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_example(name):
    """examples/<name>.py as a module."""
    return load_module(os.path.join(EXAMPLES, f"{name}.py"), f"example_{name}")


def load_fixture_maker(name):
    """tests/fixtures/<name>.py (a fixture-writing script) as a module."""
    return load_module(os.path.join(FIXTURES, f"{name}.py"), name)


@contextlib.contextmanager
def peak_memory():
    """Trace Python allocations in the block; yields a dict whose "peak" (bytes) is
    set when the block ends, also when it raises."""
    result = {}
    tracemalloc.start()
    try:
        yield result
    finally:
        result["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def bn_inputs(c, seed=3):
    """Seeded (beta, gamma, mean, variance) of shape (1, c, 1, 1); gamma and the
    variance are in [0.5, 1.5) so normalisation stays well conditioned."""
    rng = np.random.RandomState(seed)
    return [rng.randn(1, c, 1, 1), rng.rand(1, c, 1, 1) + 0.5, rng.randn(1, c, 1, 1) * 0.1,
            rng.rand(1, c, 1, 1) + 0.5]


def ref_bn_add_act(y, beta=None, gamma=None, mean=None, variance=None, z=None,
                   batch_stat=True, eps=1e-5, act=lambda v: v):
    """NumPy reference of what FusedConvolution / FusedBatchNormalization do after
    the convolution: batch normalisation over (N, H, W) (the batch's statistics, or
    ``mean``/``variance`` when ``batch_stat`` is False; skipped when ``beta`` is
    None), then ``+ z`` when given, then ``act``."""
    if beta is not None:
        if batch_stat:
            mu, var = y.mean(axis=(0, 2, 3), keepdims=True), y.var(axis=(0, 2, 3), keepdims=True)
        else:
            mu, var = mean, variance
        y = gamma * (y - mu) / np.sqrt(var + eps) + beta
    if z is not None:
        y = y + z
    return act(y)
