"""One helper every function test uses: forward vs a NumPy reference, backward
vs central differences (with NNabla's gradient accumulation), static vs dynamic.
"""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.testing import numerical_grad


def randn(*shape, seed=0):
    return np.random.RandomState(seed).randn(*shape)


def uniform(low, high, shape, seed=0):
    return np.random.RandomState(seed).uniform(low, high, shape)


def fit(loss, solver, steps):
    """``steps`` solver updates on ``loss``; the loss before each, as floats."""
    losses = []
    for _ in range(steps):
        loss.forward()
        losses.append(float(loss.d))
        solver.zero_grad()
        loss.backward()
        solver.update()
    return losses


def away_from(points, x, gap=0.05):
    """Move entries of ``x`` that lie within ``gap`` of a kink in ``points``."""
    x = np.array(x, dtype=np.float64)
    for p in np.atleast_1d(points):
        close = np.abs(x - p) < gap
        x[close] = p + np.where(x[close] >= p, gap, -gap) * 2
    return x


def _variables(inputs, grad):
    """Variables for the test inputs (None stays None) and the indices to
    differentiate, every float input by default, with need_grad set."""
    xs = [None if a is None else nn.Variable.from_numpy_array(np.array(a)) for a in inputs]
    if grad is None:
        grad = [i for i, a in enumerate(inputs)
                if a is not None and np.asarray(a).dtype.kind == "f"]
    for i in grad:
        xs[i].need_grad = True
    return xs, grad


def check_function(f, inputs, ref=None, kwargs=None, grad=None, atol=1e-5, rtol=1e-4,
                   grad_atol=1e-4, grad_rtol=1e-3, h=1e-5, seed=0, outputs=None):
    """Check ``f(*inputs, **kwargs)`` against ``ref`` and numerical gradients.

    Args:
        inputs: numpy arrays (float arrays become float64 Variables) or None.
        ref: NumPy reference taking the same inputs and kwargs; may return a tuple.
        grad: indices of inputs to differentiate (default: every float input).
        outputs: which outputs to check backward through (default: all).
    Returns the output Variable(s) of the static graph.
    """
    kwargs = kwargs or {}
    rng = np.random.RandomState(seed)
    xs, grad = _variables(inputs, grad)
    ys = f(*xs, **kwargs)
    ys_t = ys if isinstance(ys, tuple) else (ys,)
    for y in ys_t:
        y.forward()
    if ref is not None:
        want = ref(*[None if a is None else np.array(a) for a in inputs], **kwargs)
        want = want if isinstance(want, tuple) else (want,)
        assert len(want) == len(ys_t), f"{len(ys_t)} outputs, reference gives {len(want)}"
        for y, w in zip(ys_t, want):
            assert y.shape == np.shape(w), f"shape {y.shape} != reference {np.shape(w)}"
            np.testing.assert_allclose(y.d, w, atol=atol, rtol=rtol)
    with nn.auto_forward():
        dyn = f(*xs, **kwargs)
    for y, d in zip(ys_t, dyn if isinstance(dyn, tuple) else (dyn,)):
        np.testing.assert_allclose(d.d, y.d, atol=atol, rtol=rtol,
                                   err_msg="auto_forward result differs from static")
    if not grad:
        return ys
    chosen = [ys_t[k] for k in (outputs if outputs is not None else range(len(ys_t)))]
    root = chosen[0] if len(chosen) == 1 else _weighted_sum(chosen, rng)
    gy = rng.randn(*root.shape) if root.shape else np.array(rng.randn())
    before = {i: rng.randn(*xs[i].shape) for i in grad}
    for i in grad:
        xs[i].g = before[i]
    root.forward()
    root.backward(gy)
    root_value = root.d.copy()
    got = {i: xs[i].g - before[i] for i in grad}
    for i in grad:
        def value():
            root.forward()
            return root.d.copy()
        want = numerical_grad(value, xs[i].d, df=gy, h=h)
        np.testing.assert_allclose(got[i], want, atol=grad_atol, rtol=grad_rtol,
                                   err_msg=f"gradient of input {i}")
    _check_with_clearing(f, xs, kwargs, outputs, got, root_value, gy, seed)
    return ys


def _check_with_clearing(f, xs, kwargs, outputs, got, root_value, gy, seed):
    """The same gradients with the differentiated inputs and the outputs of ``f``
    intermediates and the buffers cleared: forward(clear_no_need_grad=True) frees what
    ``f.grad_reads_inputs`` / ``grad_reads_outputs`` say backward does not read,
    so a wrong flag shows up here as a wrong gradient."""
    import nablite.functions as F
    # Only the differentiated inputs: others (labels, masks, lengths) may be
    # read by setup, which an intermediate's values are not ready for.
    ys = f(*[F.identity(x) if i in got else x for i, x in enumerate(xs)], **kwargs)
    ys_t = ys if isinstance(ys, tuple) else (ys,)
    chosen = [F.mul_scalar(ys_t[k], 1.0)
              for k in (outputs if outputs is not None else range(len(ys_t)))]
    root = (chosen[0] if len(chosen) == 1
            else _weighted_sum(chosen, np.random.RandomState(seed)))
    if root.shape != root_value.shape:
        return  # a data-dependent shape: set up from values an intermediate lacks
    for i in got:
        xs[i].g = 0
    root.forward(clear_no_need_grad=True)
    np.testing.assert_allclose(root.d, root_value, rtol=1e-6, atol=1e-8, equal_nan=True,
                               err_msg="forward with clear_no_need_grad=True differs")
    root.backward(gy, clear_buffer=True)
    for i, want in got.items():
        np.testing.assert_allclose(xs[i].g, want, rtol=1e-6, atol=1e-8,
                                   err_msg=f"gradient of input {i} with buffers cleared")


def _weighted_sum(ys, rng):
    import nablite.functions as F
    total = None
    for y in ys:
        w = nn.Variable.from_numpy_array(rng.randn(*y.shape))
        term = F.sum(y * w)
        total = term if total is None else total + term
    return total


def check_first_order_grad(f, inputs, kwargs=None, grad=None, outputs=None, atol=1e-5,
                           rtol=1e-4, seed=0):
    """The Variables ``nn.grad`` builds compute what ``backward()`` leaves in ``.g``.
    Returns (inputs differentiated, their gradient Variables, random generator)."""
    kwargs = kwargs or {}
    rng = np.random.RandomState(seed)
    xs, grad = _variables(inputs, grad)
    ys = f(*xs, **kwargs)
    ys = list(ys) if isinstance(ys, tuple) else [ys]
    ys = [ys[i] for i in (outputs if outputs is not None else range(len(ys)))]
    wrt = [xs[i] for i in grad]
    gys = [rng.randn(*y.shape) for y in ys]
    gs = nn.grad(ys, wrt, grad_outputs=gys)
    for y in ys:
        y.forward()
    for x in wrt:
        x.g = 0
    try:
        for y, gy in zip(ys, gys):
            y.backward(gy)
    except NotImplementedError:  # no backward (as NNabla): nor a gradient graph
        with pytest.raises(NotImplementedError):
            for g in gs:
                g.forward()
        return wrt, None, rng
    want = [x.g.copy() for x in wrt]
    for g in gs:
        g.forward()
    for g, w in zip(gs, want):
        np.testing.assert_allclose(g.d, w, atol=atol, rtol=rtol,
                                   err_msg="first-order nn.grad differs from backward()")
    return wrt, gs, rng


def check_double_backward(f, inputs, kwargs=None, grad=None, outputs=None, atol=1e-4,
                          rtol=1e-3, h=1e-5, seed=0):
    """Check ``nn.grad`` of ``f`` to the second order, in float64.

    First order as ``check_first_order_grad``. Second order: for a random
    weighting ``S = sum(r * g)`` of those gradients, ``nn.grad(S)`` (a graph) and
    ``S.backward()`` (arrays) both equal central differences of ``S`` with
    respect to each input.
    """
    wrt, gs, rng = check_first_order_grad(f, inputs, kwargs, grad, outputs, seed=seed)
    rs = [rng.randn(*x.shape) for x in wrt]
    terms = [F.sum(g * nn.Variable.from_numpy_array(r)) for g, r in zip(gs, rs)]
    s = terms[0] if len(terms) == 1 else F.add_n(*terms)

    def value():
        s.forward()
        return float(s.d)

    numeric = [numerical_grad(value, x.d, h=h) for x in wrt]
    graph_grads = nn.grad([s], wrt)
    for x in wrt:
        x.g = 0
    s.forward()
    s.backward()
    for x, gg, num in zip(wrt, graph_grads, numeric):
        np.testing.assert_allclose(x.g, num, atol=atol, rtol=rtol,
                                   err_msg="second order through backward() differs")
        gg.forward()
        np.testing.assert_allclose(gg.d, num, atol=atol, rtol=rtol,
                                   err_msg="second order through nn.grad differs")


def check_directional_grad(f, inputs, kwargs=None, grad=None, outputs=None, h=1e-4,
                           rtol=1e-5, atol=1e-8, seed=0):
    """Backward checked along one random direction per input, as Chainer's
    ``check_backward``: with ``L = sum(w * y)`` for a random ``w``, the inner
    product ``<dL/dx_i, d_i>`` from ``backward()`` equals
    ``(L(x_i + h d_i) - L(x_i - h d_i)) / 2h`` from two forwards, so the cost is
    two forwards per input whatever its size (central differences per entry take
    two per element). Use float64 inputs. Returns the directional derivatives
    (backward, numerical) per differentiated input."""
    kwargs = kwargs or {}
    # Not RandomState(seed): inputs made by randn(..., seed=0) would be the weights
    # themselves, and sum(x * f(x)) can have a near-zero gradient (batch norm's does).
    rng = np.random.RandomState([seed, 0x5EED])
    xs, grad = _variables(inputs, grad)
    assert grad, "nothing to differentiate"
    for i in grad:
        assert xs[i].d.dtype == np.float64, "directional checks need float64 inputs"
    ys = f(*xs, **kwargs)
    ys_t = ys if isinstance(ys, tuple) else (ys,)
    chosen = [ys_t[k] for k in (outputs if outputs is not None else range(len(ys_t)))]
    root = _weighted_sum(chosen, rng)
    for i in grad:
        xs[i].g = 0
    root.forward()
    root.backward()
    got = {i: xs[i].g.copy() for i in grad}
    directions = {i: rng.randn(*xs[i].shape) for i in grad}
    results = {}
    for i in grad:
        x0, d = xs[i].d.copy(), directions[i]
        values = []
        for sign in (1, -1):
            xs[i].d = x0 + sign * h * d
            root.forward()
            values.append(float(root.d))
        xs[i].d = x0
        numeric = (values[0] - values[1]) / (2 * h)
        analytic = float(np.sum(got[i] * d))
        assert abs(analytic - numeric) <= atol + rtol * max(abs(numeric), abs(analytic)), (
            f"input {i}: <grad, d> = {analytic!r} from backward, {numeric!r} from "
            f"central differences along d")
        results[i] = (analytic, numeric)
    return results


def check_index_output_grad(f, inputs, kwargs, seed=0):
    """``f(..., only_index=True)``'s backward (NNabla's convention: as if the index
    output were the values) equals the values' backward, checked numerically."""
    values = {k: v for k, v in kwargs.items() if k not in ("only_index", "with_index")}
    check_function(f, inputs, kwargs=values)  # the values' gradient, numerically
    grads = []
    for kw in (values, kwargs):
        x = nn.Variable.from_numpy_array(np.asarray(inputs[0], np.float32), need_grad=True)
        out = f(x, **kw)
        y = out[0] if isinstance(out, tuple) else out
        weights = nn.Variable.from_numpy_array(np.random.RandomState(seed).randn(*y.shape))
        loss = nn.functions.sum(y * weights)  # float gradients reach the index output
        loss.forward()
        x.g = 0
        loss.backward()
        grads.append(x.g.copy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6,
                               err_msg="only_index's gradient differs from the values'")
