"""The Winograd F(2x2, 3x3) convolution path (functions/_winograd.py).

Without Numba its transforms run as plain Python loops (``python_kernels``),
which is how every eligible convolution here goes through them on small
shapes; with Numba installed the compiled kernels are checked on W6's shapes
against the direct (blocked im2col) path. References: the loop definition
``ref_convolution`` of test_functions_layers.py, numerical gradients, and the
direct path itself.
"""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions import _winograd
from nablite.functions._conv_blocked import BlockedConvolution
from gradcheck import check_function, check_directional_grad, check_double_backward, randn
from test_functions_layers import ref_convolution


@pytest.fixture(params=[4, 2], ids=["F4x4", "F2x2"])
def python_winograd(monkeypatch, request):
    """Every eligible convolution takes the Winograd path, on the Python loops,
    with each tile size."""
    monkeypatch.setattr(_winograd, "python_kernels", True)
    monkeypatch.setattr(_winograd, "_TILE", request.param)
    return request.param


def _node(y):
    return y.parent


# (x, w[, b]), kwargs: odd and even sizes, pad 0, 1, 2, one channel, batch 1,
# channel_last and base_axis, bias
CASES = [
    ([randn(2, 3, 5, 7), randn(4, 3, 3, 3, seed=1), randn(4, seed=2)], {"pad": (1, 1)}),
    ([randn(1, 2, 6, 6), randn(3, 2, 3, 3, seed=1)], {}),
    ([randn(1, 1, 4, 5), randn(1, 1, 3, 3, seed=1)], {"pad": (1, 1)}),
    ([randn(2, 2, 3, 3), randn(2, 2, 3, 3, seed=1)], {"pad": (2, 2)}),
    ([randn(1, 3, 7, 4), randn(2, 3, 3, 3, seed=1)], {"pad": (0, 0)}),
    ([randn(2, 5, 5, 3), randn(2, 3, 3, 3, seed=1), randn(2, seed=2)],
     {"channel_last": True, "pad": (1, 1)}),
    ([randn(2, 1, 2, 5, 5), randn(2, 2, 3, 3, seed=1)], {"base_axis": 2, "pad": (1, 1)}),
]


@pytest.mark.parametrize("inputs,kwargs", CASES)
def test_winograd_against_definition_and_numerical_gradients(python_winograd, inputs, kwargs):
    y = check_function(F.convolution, inputs, ref=ref_convolution, kwargs=kwargs)
    assert _node(y)._wino is not None  # the path under test was taken


@pytest.mark.parametrize("inputs,kwargs", CASES[:3])
def test_winograd_directional_gradients(python_winograd, inputs, kwargs):
    results = check_directional_grad(F.convolution, inputs, kwargs=kwargs)  # asserts itself
    assert sorted(results) == list(range(len(inputs)))


def test_winograd_second_order(python_winograd):
    # nn.grad runs the array backward with zero views for the other inputs
    check_double_backward(F.convolution, [randn(1, 2, 4, 5), randn(2, 2, 3, 3, seed=1)],
                          kwargs={"pad": (1, 1)})


@pytest.mark.parametrize("kwargs,w_shape", [
    ({"group": 2, "pad": (1, 1)}, (4, 1, 3, 3)),        # groups: the per-group path
    ({"stride": (2, 2), "pad": (1, 1)}, (4, 2, 3, 3)),  # stride 2
    ({"dilation": (2, 2), "pad": (2, 2)}, (4, 2, 3, 3)),
    ({"pad": (1, 0)}, (4, 2, 3, 3)),                     # unequal padding
    ({"pad": (2, 2)}, (4, 2, 5, 5)),                     # 5x5 kernel
    ({"pad": (1, 1)}, (4, 2, 3, 2)),
])
def test_other_geometries_fall_back(python_winograd, kwargs, w_shape):
    y = F.convolution(nn.Variable((2, 2, 6, 6)), nn.Variable(w_shape), **kwargs)
    assert _node(y)._wino is None


def test_one_and_three_d_fall_back(python_winograd):
    y1 = F.convolution(nn.Variable((2, 2, 9)), nn.Variable((3, 2, 3)), pad=(1,))
    y3 = F.convolution(nn.Variable((1, 2, 4, 4, 4)), nn.Variable((3, 2, 3, 3, 3)))
    assert _node(y1)._wino is None and _node(y3)._wino is None


def test_float16_takes_the_direct_path(python_winograd):
    x = randn(2, 2, 5, 5).astype(np.float16)
    w = randn(3, 2, 3, 3, seed=1).astype(np.float16)
    y = F.convolution(nn.Variable.from_numpy_array(x), nn.Variable.from_numpy_array(w),
                      pad=(1, 1))
    y.forward()
    assert y.d.dtype == np.float16
    np.testing.assert_allclose(y.d, ref_convolution(x.astype(np.float64), w.astype(np.float64),
                                                    pad=(1, 1)), atol=0.05, rtol=0.01)


def test_float32_stays_float32(python_winograd):
    x = nn.Variable.from_numpy_array(randn(2, 2, 5, 5).astype(np.float32), need_grad=True)
    w = nn.Variable.from_numpy_array(randn(3, 2, 3, 3, seed=1).astype(np.float32),
                                     need_grad=True)
    y = F.convolution(x, w, pad=(1, 1))
    y.forward()
    y.backward(np.ones(y.shape, np.float32))
    assert _node(y)._wino is not None
    assert y.d.dtype == x.g.dtype == w.g.dtype == np.float32


def test_only_weight_or_only_input_gradient(python_winograd):
    x0, w0 = randn(2, 2, 5, 6), randn(3, 2, 3, 3, seed=1)
    gy = randn(2, 3, 5, 6, seed=2)
    grads = {}
    for mode in ("both", "x", "w"):
        x = nn.Variable.from_numpy_array(x0, need_grad=mode in ("both", "x"))
        w = nn.Variable.from_numpy_array(w0, need_grad=mode in ("both", "w"))
        y = F.convolution(x, w, pad=(1, 1))
        y.forward()
        y.backward(gy)
        grads[mode] = (x.g.copy() if x.need_grad else None, w.g.copy() if w.need_grad else None)
    np.testing.assert_allclose(grads["x"][0], grads["both"][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads["w"][1], grads["both"][1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape,w_shape,taken", [
    ((64, 16, 32, 32), (16, 16, 3, 3), True),   # W6's first stage
    ((64, 32, 16, 16), (32, 32, 3, 3), True),
    ((64, 3, 32, 32), (16, 3, 3, 3), False),    # its stem: too few channels to pay
    ((64, 64, 8, 8), (64, 64, 3, 3), False),    # 64 channels: slower backward
    ((2, 16, 8, 8), (16, 16, 3, 3), False),     # too little work
    ((64, 4, 4, 4), (8, 4, 3, 3), False),       # W3's second convolution
])
def test_selection_rule_with_numba(monkeypatch, x_shape, w_shape, taken):
    monkeypatch.setattr(_winograd, "_numba", object())  # as if installed (nothing runs)
    y = F.convolution(nn.Variable(x_shape), nn.Variable(w_shape), pad=(1, 1))
    assert (_node(y)._wino is not None) == taken


def test_not_taken_without_numba_by_default(monkeypatch):
    monkeypatch.setattr(_winograd, "_numba", None)
    y = F.convolution(nn.Variable((64, 16, 32, 32)), nn.Variable((16, 16, 3, 3)), pad=(1, 1))
    assert _node(y)._wino is None


def _direct_and_winograd(n, c, oc, size, pad, dtype, compiled, m, seed=0):
    """(forward, dx, dW) of the direct path and of Winograd on batch-last inputs."""
    rng = np.random.RandomState(seed)

    def batch_last(a):  # W6's activations: (N, C, H, W) views of (C, H, W, N) memory
        return np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    h, w_ = size
    out = (h + 2 * pad - 2, w_ + 2 * pad - 2)
    x = batch_last(rng.randn(n, c, h, w_).astype(dtype))
    w = rng.randn(oc, c, 3, 3).astype(dtype)
    gy = batch_last(rng.randn(n, oc, *out).astype(dtype))
    direct = BlockedConvolution(n, c, size, oc, (3, 3), (pad, pad), (1, 1), (1, 1), out)
    wino = _winograd.WinogradConvolution(n, c, size, oc, pad, out, compiled=compiled, m=m)
    y0 = direct.forward(np, x, w.reshape(oc, -1))
    dx0, dw0 = direct.backward(np, x, w.reshape(oc, -1), gy, True, True)
    y1 = wino.forward(x, w)
    dx1, dw1 = wino.backward(x, w, gy, True, True)
    # the scale of each sum: the same sums over |terms|
    sy = direct.forward(np, np.abs(x), np.abs(w).reshape(oc, -1))
    sdx, sdw = direct.backward(np, np.abs(x), np.abs(w).reshape(oc, -1), np.abs(gy), True, True)
    return (y0, dx0, dw0.reshape(w.shape)), (y1, dx1, dw1), (sy, sdx, sdw.reshape(w.shape))


# float32: |winograd - direct| <= BOUND * (the same sum over |terms|), every
# element of y, dx and dW (both are float32 sums in a different order).
# Measured on W6's shapes: F(2x2) 1-4e-7, F(4x4) 2-6e-6.
BOUND = 3e-5


@pytest.mark.parametrize("m", [4, 2])
@pytest.mark.parametrize("n,c,oc,size,pad", [
    (64, 16, 16, (32, 32), 1), (64, 32, 32, (16, 16), 1), (8, 64, 64, (8, 8), 1),
    (3, 5, 7, (9, 11), 1), (1, 1, 2, (7, 7), 0), (2, 3, 64, (5, 6), 2)])
def test_compiled_float32_error_bound(n, c, oc, size, pad, m):
    pytest.importorskip("numba")
    want, got, scale = _direct_and_winograd(n, c, oc, size, pad, np.float32, True, m)
    for name, a, b, s in zip(("y", "dx", "dW"), want, got, scale):
        assert a.shape == b.shape and b.dtype == np.float32, name
        assert np.all(np.abs(a - b) <= BOUND * s + 1e-30), name


@pytest.mark.parametrize("m", [4, 2])
def test_compiled_kernels_equal_the_python_loops(m):
    pytest.importorskip("numba")
    compiled = _direct_and_winograd(2, 3, 4, (7, 6), 1, np.float64, True, m)[1]
    python = _direct_and_winograd(2, 3, 4, (7, 6), 1, np.float64, False, m)[1]
    for a, b in zip(compiled, python):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("m", [4, 2])
def test_python_loops_float32_error_bound(m):
    want, got, scale = _direct_and_winograd(2, 4, 3, (6, 5), 1, np.float32, False, m)
    for a, b, s in zip(want, got, scale):
        assert np.all(np.abs(a - b) <= BOUND * s + 1e-30)
