"""Testing support: allclose, numerical gradients, CS231n's rel_error, and a
scope where float64 data computes in float64."""
import contextlib

import numpy as np


def assert_allclose(actual, desired, rtol=1e-05, atol=1e-06, equal_nan=True,
                    err_msg="", verbose=True):
    """numpy.testing.assert_allclose that also accepts Variables and NdArrays."""
    np.testing.assert_allclose(_arr(actual), _arr(desired), rtol=rtol, atol=atol,
                               equal_nan=equal_nan, err_msg=err_msg, verbose=verbose)


@contextlib.contextmanager
def float64_compute():
    """Build graphs in which float64 data computes in float64, inside the block:
    nablite's type_config 'double' context of the current backend and device.
    A 'float' context (NNabla's default) reads float64 inputs as float32, too
    coarse for gradient checks whose differences are 1e-10. Functions keep the
    context they were built in, so build (not only run) the graph in here."""
    from .context import context_scope, get_current_context
    from .ext_utils import get_extension_context
    ctx = get_current_context()
    kw = {} if ctx.backend_name == "cpu" else {"device_id": ctx.device_id}
    with context_scope(get_extension_context(ctx.backend_name, type_config="double", **kw)):
        yield


def rel_error(x, y):
    """max |x - y| / max(1e-8, |x| + |y|), the relative error CS231n reports."""
    x, y = _arr(x), _arr(y)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def numerical_grad(f, x, df=None, h=1e-5):
    """Central-difference gradient of sum(f() * df) w.r.t. the array ``x``.

    ``f`` takes no argument and reads ``x`` (modified in place here);
    ``df`` is the upstream gradient (ones when None).
    """
    x = x if isinstance(x, np.ndarray) else _arr(x)
    grad = np.zeros(x.shape, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        old = x[i].copy()
        x[i] = old + h
        plus = np.asarray(_arr(f()), dtype=np.float64)
        x[i] = old - h
        minus = np.asarray(_arr(f()), dtype=np.float64)
        x[i] = old
        diff = (plus - minus) if df is None else (plus - minus) * df
        grad[i] = np.sum(diff) / (2 * h)
        it.iternext()
    return grad


def check_grad(y, inputs, h=1e-4, rtol=1e-3, atol=1e-4, seed=0):
    """Check backward of the graph up to ``y`` against central differences.

    ``inputs`` are leaf Variables with need_grad=True (for tight tolerances use
    float64 data, and build the graph inside ``float64_compute()``). Pre-existing ``.g`` values are kept and must be added
    to, as NNabla accumulates leaf gradients. Raises AssertionError on mismatch.
    """
    rng = np.random.RandomState(seed)
    y.forward()
    gy = rng.randn(*y.shape).astype(y.d.dtype) if y.shape else np.array(rng.randn(), y.d.dtype)
    before = [rng.randn(*x.shape).astype(x.d.dtype) for x in inputs]
    for x, g in zip(inputs, before):
        x.g = g
    y.backward(gy)
    analytic = [x.g.copy() - g for x, g in zip(inputs, before)]

    def value():
        y.forward()
        return y.d.copy()

    for i, (x, got) in enumerate(zip(inputs, analytic)):
        want = numerical_grad(value, x.d, df=gy, h=h)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i} (shape {x.shape})")


def _arr(v):
    if hasattr(v, "d") and not isinstance(v, np.ndarray):
        return v.d
    if hasattr(v, "data") and not isinstance(v, np.ndarray):
        return v.data
    return np.asarray(v)
