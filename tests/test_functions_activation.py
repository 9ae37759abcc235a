"""Activation functions: forward vs NumPy, backward vs central differences,
NNabla's gradients at the kinks, stability at large inputs, and bad arguments."""
import math

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions import activation as activation_module
from gradcheck import away_from, check_function, randn, uniform
from nnabla_parity import check_parity


def ref_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def ref_softplus(x, beta=1.0):
    return np.log1p(np.exp(beta * x)) / beta


def ref_elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * (np.exp(x) - 1))


def ref_selu(x, scale=1.05070098735548, alpha=1.673263242354377):
    return scale * ref_elu(x, alpha)


def ref_softmax(x, axis=None):
    axis = -1 if axis is None else axis
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def ref_log_softmax(x, axis=None):
    return np.log(ref_softmax(x, axis))


def ref_crelu(x, axis=1):
    return np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], axis)


def ref_celu(x, alpha=1.0, axis=1):
    return np.concatenate([ref_elu(x, alpha), ref_elu(-x, alpha)], axis)


def ref_prelu(x, w, base_axis=1):
    base_axis %= x.ndim
    if w.size > 1:
        w = w.reshape((-1,) + (1,) * (x.ndim - base_axis - 1))
    else:
        w = w.reshape(())
    return np.where(x > 0, x, w * x)


def ref_gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def ref_mish(x):
    return x * np.tanh(np.log1p(np.exp(x)))


def ref_sinc(x):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(x == 0, 1.0, np.sin(x) / x)


# (function, inputs, NumPy reference, kwargs)
CASES = [
    (F.sigmoid, [randn(3, 4) * 3], ref_sigmoid, {}),
    (F.sigmoid, [randn(2, 3, 2)], ref_sigmoid, {}),
    (F.swish, [randn(3, 4) * 3], lambda x: x * ref_sigmoid(x), {}),
    (F.tanh, [randn(3, 4)], np.tanh, {}),
    (F.tanh, [randn(5) * 2], np.tanh, {}),
    (F.relu, [away_from(0, randn(3, 4))], lambda x: np.maximum(x, 0), {}),
    (F.relu, [away_from(0, randn(2, 3, 4))], lambda x, inplace: np.maximum(x, 0),
     {"inplace": True}),
    (F.leaky_relu, [away_from(0, randn(3, 4))], lambda x: np.where(x > 0, x, 0.1 * x), {}),
    (F.leaky_relu, [away_from(0, randn(3, 4))],
     lambda x, alpha: np.where(x > 0, x, alpha * x), {"alpha": 0.3}),
    (F.softmax, [randn(3, 4)], ref_softmax, {}),
    (F.softmax, [randn(2, 3, 4)], ref_softmax, {"axis": 1}),
    (F.softmax, [randn(2, 3, 4)], ref_softmax, {"axis": 0}),
    (F.softmax, [randn(2, 3, 4)], ref_softmax, {"axis": -2}),
    (F.softmax, [randn(6) * 5], ref_softmax, {}),
    (F.log_softmax, [randn(3, 4)], ref_log_softmax, {}),
    (F.log_softmax, [randn(2, 3, 4) * 4], ref_log_softmax, {"axis": 1}),
    (F.log_softmax, [randn(2, 3, 4)], ref_log_softmax, {"axis": -3}),
    (F.elu, [away_from(0, randn(3, 4))], ref_elu, {}),
    (F.elu, [away_from(0, randn(3, 4))], ref_elu, {"alpha": 2.0}),
    (F.selu, [away_from(0, randn(3, 4))], ref_selu, {}),
    (F.selu, [away_from(0, randn(3, 4))], ref_selu, {"scale": 2.0, "alpha": 0.5}),
    (F.crelu, [away_from(0, randn(2, 3))], ref_crelu, {}),
    (F.crelu, [away_from(0, randn(2, 3, 4))], ref_crelu, {"axis": 2}),
    (F.crelu, [away_from(0, randn(2, 3, 4))], ref_crelu, {"axis": -3}),
    (F.celu, [away_from(0, randn(2, 3))], ref_celu, {}),
    (F.celu, [away_from(0, randn(2, 3, 4))], ref_celu, {"alpha": 0.5, "axis": 0}),
    (F.prelu, [away_from(0, randn(2, 3, 4)), np.array([0.25])], ref_prelu, {}),
    (F.prelu, [away_from(0, randn(2, 3, 4)), randn(3, seed=1)], ref_prelu, {}),
    (F.prelu, [away_from(0, randn(2, 3, 4)), randn(4, seed=1)], ref_prelu, {"base_axis": 2}),
    (F.prelu, [away_from(0, randn(2, 3, 4)), randn(4, seed=1)], ref_prelu, {"base_axis": -1}),
    (F.prelu, [away_from(0, randn(2, 3)), np.array(0.3)], ref_prelu, {"base_axis": 0}),
    (F.gelu, [randn(3, 4) * 2], ref_gelu, {}),
    (F.mish, [randn(3, 4) * 3], ref_mish, {}),
    (F.relu6, [away_from([0, 6], uniform(-3, 9, (3, 4)))], lambda x: np.clip(x, 0, 6), {}),
    (F.hard_sigmoid, [away_from([-2.5, 2.5], uniform(-4, 4, (3, 4)))],
     lambda x: np.clip(0.2 * x + 0.5, 0, 1), {}),
    (F.hard_tanh, [away_from([-1, 1], randn(3, 4) * 2)], lambda x: np.clip(x, -1, 1), {}),
    (F.log_sigmoid, [randn(3, 4) * 3], lambda x: np.log(ref_sigmoid(x)), {}),
    (F.softplus, [randn(3, 4) * 3], ref_softplus, {}),
    (F.softplus, [randn(3, 4)], ref_softplus, {"beta": 3.0}),
    (F.softsign, [away_from(0, randn(3, 4))], lambda x: x / (1 + np.abs(x)), {}),
    (F.tanh_shrink, [randn(3, 4)], lambda x: x - np.tanh(x), {}),
    (F.sinc, [randn(3, 4) * 4], ref_sinc, {}),
    (F.sinc, [np.array([0.0, 1e-3, -2.0, 7.0])], ref_sinc, {}),
]


@pytest.mark.parametrize("f,inputs,ref,kwargs", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_function(f, inputs, ref, kwargs):
    check_function(f, inputs, ref=ref, kwargs=kwargs)


def grad_at(f, x, **kwargs):
    """Output and input gradient (upstream ones) of f at the points x."""
    v = nn.Variable.from_numpy_array(np.array(x, dtype=np.float64), need_grad=True)
    y = f(v, **kwargs)
    y.forward()
    v.g = 0
    y.backward(np.ones(y.shape))
    return y.d.copy(), v.g.copy()


# Gradients at kinks and boundaries, as measured on NNabla 1.39.
KINKS = [
    (F.relu, [0.0, -1.0, 1.0], {}, [0, 0, 1]),
    (F.leaky_relu, [0.0, -1.0, 1.0], {}, [0.1, 0.1, 1]),
    (F.elu, [0.0, 1.0], {"alpha": 2.0}, [1, 1]),
    (F.selu, [0.0], {}, [1.05070098735548 * 1.673263242354377]),
    (F.relu6, [0.0, 6.0, 3.0, 7.0], {}, [0, 0, 1, 0]),
    (F.hard_sigmoid, [-2.5, 2.5, 0.0, 3.0], {}, [0.2, 0.2, 0.2, 0]),
    (F.hard_tanh, [-1.0, 1.0, 0.0, 3.0], {}, [1, 1, 1, 0]),
    (F.crelu, [[0.0, -1.0, 1.0]], {}, [[-1, -1, 1]]),
    (F.celu, [[0.0, 2.0]], {}, [[0, 1 - math.exp(-2)]]),
    (F.sinc, [0.0], {}, [0]),
]


@pytest.mark.parametrize("f,x,kwargs,grad", KINKS)
def test_gradient_at_kinks(f, x, kwargs, grad):
    _, g = grad_at(f, x, **kwargs)
    np.testing.assert_allclose(g, grad, rtol=1e-7)


def test_prelu_gradient_at_zero_takes_the_positive_side():
    x = nn.Variable.from_numpy_array(np.array([[0.0, -1.0, 1.0], [-2.0, 3.0, -4.0]]),
                                     need_grad=True)
    w = nn.Variable.from_numpy_array(np.array([0.25]), need_grad=True)
    y = F.prelu(x, w)
    y.forward()
    x.g, w.g = 0, 0
    y.backward(np.ones((2, 3)))
    np.testing.assert_allclose(x.g, [[1, 0.25, 1], [0.25, 1, 0.25]])
    np.testing.assert_allclose(w.g, [-7])


def test_stable_at_large_inputs():
    x = [100.0, -100.0, 800.0, -800.0]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for f, value, grad in [
            (F.sigmoid, [1, 0, 1, 0], [0, 0, 0, 0]),
            (F.log_sigmoid, [0, -100, 0, -800], [0, 1, 0, 1]),
            (F.softplus, [100, 0, 800, 0], [1, 0, 1, 0]),
            (F.mish, [100, 0, 800, 0], [1, 0, 1, 0]),
            (F.swish, [100, 0, 800, 0], [1, 0, 1, 0]),
            (F.elu, [100, -1, 800, -1], [1, 0, 1, 0]),
        ]:
            y, g = grad_at(f, x)
            np.testing.assert_allclose(y, value, atol=1e-30, err_msg=f.__name__)
            np.testing.assert_allclose(g, grad, atol=1e-30, err_msg=f.__name__)
    y, _ = grad_at(F.softmax, [[1000.0, 0.0, -1000.0]])
    np.testing.assert_allclose(y, [[1, 0, 0]])
    y, _ = grad_at(F.log_softmax, [[1000.0, 0.0]])
    np.testing.assert_allclose(y, [[0, -1000]])


def test_float32_sigmoid_keeps_relative_precision():
    x = nn.Variable.from_numpy_array(np.array([-20.0, -50.0], np.float32))
    y = F.sigmoid(x)
    y.forward()
    np.testing.assert_allclose(y.d, ref_sigmoid(np.array([-20.0, -50.0])), rtol=1e-6)


@pytest.mark.parametrize("name", activation_module.__all__)
def test_float32_stays_float32(name):
    f = getattr(F, name)
    x = nn.Variable.from_numpy_array(randn(2, 3, 4).astype(np.float32), need_grad=True)
    args = [nn.Variable.from_numpy_array(np.array([0.2], np.float32), need_grad=True)] \
        if name == "prelu" else []
    y = f(x, *args)
    y.forward()
    y.backward(np.ones(y.shape, np.float32))
    assert y.d.dtype == np.float32
    assert x.g.dtype == np.float32


def test_args_match_nnabla():
    x = nn.Variable((2, 3, 4))
    assert F.softmax(x).parent.args == {"axis": 2}
    assert F.log_softmax(x, axis=-2).parent.args == {"axis": 1}
    assert F.relu(x).parent.args == {"inplace": False}
    assert F.leaky_relu(x).parent.args == {"alpha": 0.1, "inplace": False}
    assert F.selu(x).parent.args == {"scale": 1.05070098735548, "alpha": 1.673263242354377}
    assert F.celu(x).parent.args == {"alpha": 1.0, "axis": 1}
    assert F.crelu(x, axis=-1).shape == (2, 3, 8)
    assert F.prelu(x, nn.Variable((3,))).parent.args == {"base_axis": 1}


@pytest.mark.parametrize("call,match", [
    (lambda x: F.softmax(x, axis=3), "Softmax: axis=3 is out of range"),
    (lambda x: F.log_softmax(x, axis=-4), "LogSoftmax: axis=-4 is out of range"),
    (lambda x: F.softmax(nn.Variable(())), "Softmax: x must have at least 1 dimension"),
    (lambda x: F.crelu(x, axis=3), "CReLU: axis=3 is out of range"),
    (lambda x: F.celu(x, axis=-4), "CELU: axis=-4 is out of range"),
    (lambda x: F.prelu(x, nn.Variable((2,))), r"PReLU: the slope x1 \(2,\) must have one"),
    (lambda x: F.prelu(x, nn.Variable((3, 4))), r"PReLU: the slope x1 \(3, 4\)"),
    (lambda x: F.prelu(x, nn.Variable((4,)), base_axis=3), "PReLU: base_axis=3 is out of range"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(nn.Variable((2, 3, 4)))


def test_axis_must_be_an_integer():
    with pytest.raises(TypeError, match="Softmax: axis=1.5 must be an integer"):
        F.softmax(nn.Variable((2, 3)), axis=1.5)


def test_parity_with_real_nnabla():
    cases = [(f.__name__, inputs, kwargs, range(len(inputs))) for f, inputs, _, kwargs in CASES]
    cases += [(f.__name__, [x], kwargs, [0]) for f, x, kwargs, _ in KINKS]
    assert check_parity(cases) == len(cases)


def test_every_function_has_a_case():
    covered = {c[0].__name__ for c in CASES}
    assert set(activation_module.__all__) - covered == set()
