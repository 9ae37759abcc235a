"""Logical functions: forward vs NumPy, gradients (tie rules and straight-through
sign as measured on NNabla 1.39), the 0/1 tests that pass no gradient, and bad input."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions import logical as logical_module
from gradcheck import away_from, check_function, randn, uniform
from nnabla_parity import check_parity


def as01(test):
    """A reference that turns a NumPy test into 0/1 in float64 (the inputs' dtype)."""
    return lambda *xs, **kw: test(*xs, **kw).astype(np.float64)


def ref_where(c, t, f):
    return np.where((c != 0).reshape(c.shape + (1,) * (t.ndim - c.ndim)), t, f)


def ref_searchsorted(seq, values, right=None):
    side = "right" if right else "left"
    rows_s = seq.reshape(-1, seq.shape[-1])
    rows_v = values.reshape(-1, values.shape[-1])
    out = [np.searchsorted(s, v, side=side) for s, v in zip(rows_s, rows_v)]
    return np.array(out, dtype=np.float64).reshape(values.shape)


def small_ints(*shape, seed=0):
    """Floats drawn from {-2, ..., 2}, so that ties and zeros really occur."""
    return np.random.RandomState(seed).randint(-2, 3, shape).astype(np.float64)


def sorted_rows(*shape, seed=0):
    return np.sort(small_ints(*shape, seed=seed) * 1.5, axis=-1)


WITH_NAN = np.array([[np.nan, 1.0, -2.0], [0.5, 4.0, np.nan]])
WITH_INF = np.array([[np.inf, 1.0, -np.inf], [0.5, -1.5, 3.0]])
NAN_AND_INF = np.array([[np.nan, 1.0, -np.inf], [0.5, np.inf, np.nan]])

# Differentiable: (function, inputs, NumPy reference, kwargs, inputs to differentiate)
CASES = [
    (F.minimum2, [randn(3, 4), randn(3, 4, seed=1)], np.minimum, {}, None),
    (F.minimum2, [randn(2, 1, 3), randn(4, 1, seed=1)], np.minimum, {}, None),
    (F.maximum2, [randn(3, 4), randn(3, 4, seed=1)], np.maximum, {}, None),
    (F.maximum2, [randn(3, 4), randn(4, seed=1)], np.maximum, {}, None),
    (F.minimum_scalar, [away_from(1.0, randn(3, 4))], lambda x: np.minimum(x, 1.0), {}, None),
    (F.minimum_scalar, [away_from(-0.5, randn(3, 4))], lambda x, val: np.minimum(x, val),
     {"val": -0.5}, None),
    (F.maximum_scalar, [away_from(1.0, randn(3, 4))], lambda x: np.maximum(x, 1.0), {}, None),
    (F.maximum_scalar, [away_from(0.3, randn(2, 3, 2))], lambda x, val: np.maximum(x, val),
     {"val": 0.3}, None),
    (F.reset_nan, [WITH_NAN], lambda x: np.where(np.isnan(x), 0, x), {}, None),
    (F.reset_nan, [WITH_NAN], lambda x, val: np.where(np.isnan(x), val, x), {"val": -3}, None),
    (F.reset_inf, [WITH_INF], lambda x: np.where(np.isinf(x), 0, x), {}, None),
    (F.reset_inf, [WITH_INF], lambda x, val: np.where(np.isinf(x), val, x), {"val": 7}, None),
    (F.where, [np.array([2.0, 0.0, -1.5]), randn(3), randn(3, seed=1)], ref_where, {}, [1, 2]),
    (F.where, [small_ints(2, 3), randn(2, 3), randn(2, 3, seed=1)], ref_where, {}, [1, 2]),
    (F.where, [small_ints(2), randn(2, 3, 4), randn(2, 3, 4, seed=1)], ref_where, {}, [1, 2]),
]


@pytest.mark.parametrize("f,inputs,ref,kwargs,grad", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_function(f, inputs, ref, kwargs, grad):
    check_function(f, inputs, ref=ref, kwargs=kwargs, grad=grad)


# Sign: forward vs NumPy; the gradient is the identity (straight-through).
STE_CASES = [
    (F.sign, np.array([0.0, -1.0, 2.0, -0.0, 1e-9]), {}),
    (F.sign, randn(3, 4), {"alpha": -1.0}),
    (F.sign, np.array([0.0, 3.0, -3.0]), {"alpha": 0.5}),
]


@pytest.mark.parametrize("f,x,kwargs", STE_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(STE_CASES)])
def test_straight_through(f, x, kwargs):
    alpha = kwargs.get("alpha", 1.0)
    check_function(f, [x], ref=lambda x, **kw: np.where(x == 0, alpha, np.sign(x)),
                   kwargs=kwargs, grad=[])
    v = nn.Variable.from_numpy_array(x, need_grad=True)
    y = f(v, **kwargs)
    gy, before = randn(*x.shape, seed=1), randn(*x.shape, seed=2)
    v.g = before
    y.forward()
    y.backward(gy)
    np.testing.assert_allclose(v.g - before, gy, atol=1e-12)


# Tests with 0/1 (or index) outputs and no gradient: (function, inputs, reference, kwargs)
A, B = small_ints(3, 4), small_ints(3, 4, seed=1)
TEST_CASES = [
    (F.logical_and, [A, B], as01(np.logical_and), {}),
    (F.logical_and, [small_ints(2, 1, 3), small_ints(4, 1, seed=1)], as01(np.logical_and), {}),
    (F.logical_or, [A, B], as01(np.logical_or), {}),
    (F.logical_xor, [A, B], as01(np.logical_xor), {}),
    (F.equal, [A, B], as01(np.equal), {}),
    (F.equal, [A, small_ints(4, seed=1)], as01(np.equal), {}),
    (F.not_equal, [A, B], as01(np.not_equal), {}),
    (F.greater_equal, [A, B], as01(np.greater_equal), {}),
    (F.greater, [A, B], as01(np.greater), {}),
    (F.less_equal, [A, B], as01(np.less_equal), {}),
    (F.less, [A, B], as01(np.less), {}),
    (F.searchsorted, [sorted_rows(6), small_ints(5, seed=1) * 1.5], ref_searchsorted, {}),
    (F.searchsorted, [sorted_rows(6), small_ints(5, seed=1) * 1.5], ref_searchsorted,
     {"right": True}),
    (F.searchsorted, [sorted_rows(3, 6), small_ints(3, 4, seed=1) * 1.5], ref_searchsorted, {}),
    (F.searchsorted, [sorted_rows(3, 6), small_ints(3, 4, seed=1) * 1.5], ref_searchsorted,
     {"right": True}),
    (F.searchsorted, [np.sort(randn(2, 3, 7), -1), randn(2, 3, 5, seed=1)], ref_searchsorted,
     {"right": False}),
    (F.logical_and_scalar, [A], as01(lambda x, val: np.logical_and(x, val)), {"val": True}),
    (F.logical_and_scalar, [A], as01(lambda x, val: np.logical_and(x, val)), {"val": False}),
    (F.logical_or_scalar, [A], as01(lambda x, val: np.logical_or(x, val)), {"val": False}),
    (F.logical_xor_scalar, [A], as01(lambda x, val: np.logical_xor(x, val)), {"val": True}),
    (F.equal_scalar, [A], as01(lambda x: x == 1), {}),
    (F.equal_scalar, [A], as01(lambda x, val: x == val), {"val": -2}),
    (F.not_equal_scalar, [A], as01(lambda x, val: x != val), {"val": 0}),
    (F.greater_equal_scalar, [A], as01(lambda x: x >= 1), {}),
    (F.greater_scalar, [A], as01(lambda x, val: x > val), {"val": 0.5}),
    (F.less_equal_scalar, [A], as01(lambda x, val: x <= val), {"val": -1}),
    (F.less_scalar, [A], as01(lambda x: x < 1), {}),
    (F.logical_not, [A], as01(np.logical_not), {}),
    (F.isnan, [NAN_AND_INF], as01(np.isnan), {}),
    (F.isinf, [NAN_AND_INF], as01(np.isinf), {}),
]


@pytest.mark.parametrize("f,inputs,ref,kwargs", TEST_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(TEST_CASES)])
def test_zero_one_outputs(f, inputs, ref, kwargs):
    ys = check_function(f, inputs, ref=ref, kwargs=kwargs, grad=[], atol=0, rtol=0)
    assert ys.d.dtype == np.float64


@pytest.mark.parametrize("f,inputs,ref,kwargs", TEST_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(TEST_CASES)])
def test_tests_pass_no_gradient(f, inputs, ref, kwargs):
    xs = [nn.Variable.from_numpy_array(x, need_grad=True) for x in inputs]
    befores = [randn(*x.shape, seed=3) for x in inputs]
    for x, before in zip(xs, befores):
        x.g = before
    y = f(*xs, **kwargs)
    y.forward()
    y.backward(randn(*y.shape, seed=4))
    for x, before in zip(xs, befores):
        np.testing.assert_array_equal(x.g, before)


def test_mask_from_a_variable_that_needs_a_gradient():
    # NNabla raises here; nablite lets the mask pass nothing, as its derivative is 0.
    x = nn.Variable.from_numpy_array(np.array([-1.0, 0.5, 2.0]), need_grad=True)
    y = x * F.greater_scalar(x, 0)
    y.forward()
    x.g = 0
    y.backward(np.ones(3))
    np.testing.assert_array_equal(x.g, [0, 1, 1])


def grads(f, *inputs, **kwargs):
    xs = [nn.Variable.from_numpy_array(np.array(a, dtype=np.float64), need_grad=True)
          for a in inputs]
    y = f(*xs, **kwargs)
    y.forward()
    for x in xs:
        x.g = 0
    y.backward(np.ones(y.shape))
    return [x.g.copy() for x in xs]


def test_tie_rules_match_nnabla():
    g0, g1 = grads(F.maximum2, [1.0, 2.0], [1.0, 1.0])
    np.testing.assert_array_equal(g0, [0, 1])
    np.testing.assert_array_equal(g1, [1, 0])
    g0, g1 = grads(F.minimum2, [1.0, 2.0], [1.0, 3.0])
    np.testing.assert_array_equal(g0, [0, 1])
    np.testing.assert_array_equal(g1, [1, 0])
    np.testing.assert_array_equal(grads(F.maximum_scalar, [1.0, 2.0, 0.0], val=1)[0], [0, 1, 0])
    np.testing.assert_array_equal(grads(F.minimum_scalar, [1.0, 2.0, 0.0], val=1)[0], [0, 0, 1])


def test_reset_gradients_stop_at_replaced_entries():
    np.testing.assert_array_equal(grads(F.reset_nan, [np.nan, 1.0, np.inf], val=3)[0], [0, 1, 1])
    np.testing.assert_array_equal(
        grads(F.reset_inf, [np.nan, 1.0, np.inf, -np.inf], val=3)[0], [1, 1, 0, 0])


def test_where_gives_the_condition_no_gradient():
    g = grads(F.where, [1.0, 0.0, 2.0], [1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(g[0], [0, 0, 0])
    np.testing.assert_array_equal(g[1], [1, 0, 1])
    np.testing.assert_array_equal(g[2], [0, 1, 0])


def test_searchsorted_matches_nnabla():
    seq = nn.Variable.from_numpy_array(np.array([[1, 2, 3], [4, 5, 6]], np.float32))
    values = nn.Variable.from_numpy_array(np.array([[2, 2], [7, 4]], np.float32))
    for right, want in [(None, [[1, 1], [3, 0]]), (True, [[2, 2], [3, 1]])]:
        y = F.searchsorted(seq, values, right=right)
        y.forward()
        np.testing.assert_array_equal(y.d, want)
        assert y.d.dtype == np.float32
        assert y.parent.args == {"right": bool(right)}


def test_output_dtypes():
    f32 = nn.Variable.from_numpy_array(np.array([1.0, 2.0], np.float32))
    ints = nn.Variable.from_numpy_array(np.array([1, 2]))
    for y in (F.greater_scalar(f32, 1.5), F.greater_scalar(ints, 1.5), F.isnan(ints),
              F.equal(ints, ints), F.logical_and(f32, ints), F.sign(f32), F.minimum2(f32, f32),
              F.maximum_scalar(f32, 1), F.reset_nan(f32), F.reset_inf(f32),
              F.where(f32, f32, f32), F.searchsorted(f32, ints)):
        y.forward()
        assert y.d.dtype == np.float32, y.parent.name
    y = F.greater_scalar(ints, 1.5)
    y.forward()
    np.testing.assert_array_equal(y.d, [0, 1])


def test_args_match_nnabla():
    x = nn.Variable((2, 3))
    assert F.reset_nan(x).parent.args == {"val": 0.0}
    assert F.sign(x).parent.args == {"alpha": 1.0}
    assert F.equal_scalar(x).parent.args == {"val": 1.0}
    assert F.logical_and_scalar(x, 1).parent.args == {"val": True}
    assert F.maximum_scalar(x).parent.args == {"val": 1.0}


def test_ndarray_inputs_compute_at_once():
    a = nn.NdArray.from_numpy_array(np.array([1.0, 2.0, 3.0]))
    b = nn.NdArray.from_numpy_array(np.array([2.0, 2.0, 2.0]))
    y = F.greater(a, b)
    assert isinstance(y, nn.NdArray)
    np.testing.assert_array_equal(y.data, [0, 0, 1])


@pytest.mark.parametrize("call,match", [
    (lambda: F.where(nn.Variable((2,)), nn.Variable((2, 3)), nn.Variable((2, 4))),
     r"Where: x_true \(2, 3\) and x_false \(2, 4\) must have the same shape"),
    (lambda: F.where(nn.Variable((3,)), nn.Variable((2, 3)), nn.Variable((2, 3))),
     r"Where: condition \(3,\) must equal the leading dimensions"),
    (lambda: F.where(nn.Variable((2, 3, 1)), nn.Variable((2, 3)), nn.Variable((2, 3))),
     r"Where: condition \(2, 3, 1\)"),
    (lambda: F.searchsorted(nn.Variable((2, 3)), nn.Variable((1, 3))),
     r"SearchSorted: sorted_sequence \(2, 3\) and values \(1, 3\) must have the same shape"),
    (lambda: F.searchsorted(nn.Variable((3,)), nn.Variable((2, 3))), "SearchSorted: "),
    (lambda: F.searchsorted(nn.Variable(()), nn.Variable(())), "at least 1 dimension"),
    (lambda: F.equal(nn.Variable((2, 3)), nn.Variable((4,))), "Equal: input shapes"),
    (lambda: F.maximum2(nn.Variable((2, 3)), nn.Variable((2,))), "Maximum2: input shapes"),
    (lambda: F.logical_or(nn.Variable((2, 3)), nn.Variable((3, 3))), "LogicalOr: input shapes"),
])
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_float32_gradients_stay_float32():
    x = nn.Variable.from_numpy_array(uniform(-1, 1, (2, 3)).astype(np.float32), need_grad=True)
    x1 = nn.Variable.from_numpy_array(uniform(-1, 1, (2, 3), seed=1).astype(np.float32),
                                      need_grad=True)
    for y in (F.sign(x), F.minimum2(x, x1), F.maximum2(x, x1), F.minimum_scalar(x, 0.2),
              F.maximum_scalar(x, 0.2), F.reset_nan(x), F.reset_inf(x), F.where(x1, x, x1)):
        y.forward()
        x.g = np.zeros((2, 3), np.float32)
        y.backward(np.ones((2, 3), np.float32))
        assert y.d.dtype == np.float32 and x.g.dtype == np.float32, y.parent.name


def test_parity_with_real_nnabla():
    cases = [(f.__name__, inputs, kwargs, range(len(inputs)) if grad is None else grad)
             for f, inputs, _, kwargs, grad in CASES]
    cases += [(f.__name__, [x], kwargs, [0]) for f, x, kwargs in STE_CASES]
    cases += [(f.__name__, inputs, kwargs, []) for f, inputs, _, kwargs in TEST_CASES]
    # NNabla rejects broadcasting across ranks (two minimum2/maximum2 cases, one logical_and, one equal)
    assert check_parity(cases) >= len(cases) - 4


def test_every_function_has_a_case():
    covered = {c[0].__name__ for c in CASES + STE_CASES + TEST_CASES}
    assert set(logical_module.__all__) - covered == set()
