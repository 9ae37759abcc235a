"""Arithmetic functions: forward vs NumPy, backward vs central differences,
broadcasting, float32 kept, bad input."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions import arithmetic
from gradcheck import check_function, randn, uniform

CASES = [
    (F.add2, [randn(3, 4), randn(3, 4, seed=1)], np.add, {}),
    (F.add2, [randn(2, 3, 4), randn(4, seed=1)], np.add, {}),
    (F.bc_add2, [randn(2, 1, 4), randn(3, 1, seed=1)], np.add, {}),
    (F.sub2, [randn(3, 4), randn(3, 4, seed=1)], np.subtract, {}),
    (F.sub2, [randn(3, 1), randn(1, 5, seed=1)], np.subtract, {}),
    (F.mul2, [randn(3, 4), randn(3, 4, seed=1)], np.multiply, {}),
    (F.mul2, [randn(2, 3, 4), randn(3, 1, seed=1)], np.multiply, {}),
    (F.div2, [randn(3, 4), uniform(0.5, 2, (3, 4), seed=1)], np.divide, {}),
    (F.div2, [randn(2, 3), uniform(-2, -0.5, (3,), seed=1)], np.divide, {}),
    (F.pow2, [uniform(0.5, 2, (3, 4)), randn(3, 4, seed=1)], np.power, {}),
    (F.pow2, [uniform(0.5, 2, (2, 3)), uniform(-1, 2, (1, 3), seed=1)], np.power, {}),
    (F.add_n, [randn(3, 4), randn(3, 4, seed=1), randn(3, 4, seed=2)],
     lambda *xs: sum(xs), {}),
    (F.add_n, [randn(5)], lambda x: x, {}),
    (F.mul_n, [randn(3, 4), randn(3, 4, seed=1), randn(3, 4, seed=2)],
     lambda a, b, c: a * b * c, {}),
    (F.add_scalar, [randn(3, 4)], lambda x, val: x + val, {"val": 2.5}),
    (F.add_scalar, [randn(2, 2, 2)], lambda x, val: x + val, {"val": -1}),
    (F.mul_scalar, [randn(3, 4)], lambda x, val: x * val, {"val": -0.5}),
    (F.mul_scalar, [randn(6)], lambda x, val: x * val, {"val": 3}),
    (F.pow_scalar, [uniform(0.5, 2, (3, 4))], lambda x, val: x ** val, {"val": 2.5}),
    (F.pow_scalar, [randn(3, 4)], lambda x, val: x ** val, {"val": 3}),
    (F.r_sub_scalar, [randn(3, 4)], lambda x, val: val - x, {"val": 1.5}),
    (F.r_div_scalar, [uniform(0.5, 2, (3, 4))], lambda x, val: val / x, {"val": 2.0}),
    (F.r_div_scalar, [uniform(-2, -0.5, (5,))], lambda x, val: val / x, {"val": -3.0}),
    (F.r_pow_scalar, [randn(3, 4)], lambda x, val: val ** x, {"val": 2.0}),
    (F.r_pow_scalar, [randn(2, 3)], lambda x, val: val ** x, {"val": 0.5}),
]


@pytest.mark.parametrize("f,inputs,ref,kwargs", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_forward_and_backward(f, inputs, ref, kwargs):
    check_function(f, inputs, ref=ref, kwargs=kwargs)


def test_every_name_has_a_case():
    tested = {c[0].__name__ for c in CASES}
    tested |= {"mod2", "bit_shift"}  # integer ops: tested in test_functions_special.py
    assert set(arithmetic.__all__) <= tested, set(arithmetic.__all__) - tested


@pytest.mark.parametrize("f,kwargs", [(F.add2, {}), (F.mul2, {}), (F.div2, {}),
                                      (F.add_scalar, {"val": 2}), (F.mul_scalar, {"val": 2})])
def test_float32_stays_float32(f, kwargs):
    xs = [nn.Variable.from_numpy_array(np.ones((2, 3), np.float32) * (i + 1)) for i in range(2)]
    y = f(*xs[:1 if kwargs else 2], **kwargs)
    y.forward()
    assert y.d.dtype == np.float32


@pytest.mark.parametrize("f", [F.add2, F.sub2, F.mul2, F.div2, F.pow2])
def test_shapes_that_do_not_broadcast_are_rejected(f):
    with pytest.raises(ValueError, match=rf"{f(nn.Variable((1,)), nn.Variable((1,))).parent.name}"
                       r": input shapes \(3, 4\), \(5,\) cannot be broadcast"):
        f(nn.Variable((3, 4)), nn.Variable((5,)))


def test_add_n_needs_equal_shapes():
    with pytest.raises(ValueError, match=r"AddN: all inputs must have shape \(3, 4\), got \(4, 3\)"):
        F.add_n(nn.Variable((3, 4)), nn.Variable((4, 3)))
    with pytest.raises(ValueError, match="MulN"):
        F.mul_n(nn.Variable((2,)), nn.Variable((3,)))


def test_non_variable_input_is_a_type_error():
    with pytest.raises(TypeError, match="Add2: inputs must be Variables or NdArrays"):
        F.add2(nn.Variable((2,)), "abc")
