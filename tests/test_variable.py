"""Variable and NdArray: construction, .d/.g semantics, operators, graph surgery."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F


def test_fresh_variable_reads_zeros_float32():
    v = nn.Variable((2, 3))
    assert v.shape == (2, 3) and v.size == 6 and v.ndim == 2
    assert v.d.dtype == np.float32 and not v.d.any() and not v.g.any()
    assert v.need_grad is False and v.persistent is False and v.name == "" and v.parent is None


def test_scalar_variable_and_int_shape():
    assert nn.Variable().shape == ()
    assert nn.Variable(5).shape == (5,)
    assert nn.Variable([2, 3]).shape == (2, 3)


def test_d_is_writable_in_place_and_setter_copies():
    v = nn.Variable((2, 2))
    v.d[0, 0] = 5
    assert v.d[0, 0] == 5
    src = np.ones((2, 2), np.float32)
    v.d = src
    src[0, 0] = 7
    assert v.d[0, 0] == 1
    v.d = 3
    assert (v.d == 3).all()
    with pytest.raises(ValueError, match="shape"):
        v.d = np.ones((3, 3), np.float32)


def test_assigning_other_dtype_switches_dtype():
    v = nn.Variable((2, 3))
    v.d = np.arange(6).reshape(2, 3)
    assert v.d.dtype == np.int64


def test_from_numpy_array_keeps_dtype_and_grad():
    v = nn.Variable.from_numpy_array(np.arange(3, dtype=np.float64), grad=np.ones(3), need_grad=True)
    assert v.d.dtype == np.float64 and v.need_grad
    np.testing.assert_array_equal(v.g, 1)


def test_apply_and_unlinked_share_arrays():
    v = nn.Variable((2,)).apply(need_grad=True, persistent=True, name="w")
    assert v.need_grad and v.persistent and v.name == "w"
    u = v.get_unlinked_variable(need_grad=False)
    u.d[0] = 4
    assert v.d[0] == 4 and u.need_grad is False and u.parent is None
    assert v.unlinked().need_grad is True


def test_operators_dispatch_to_functions():
    a = nn.Variable.from_numpy_array(np.array([1.0, 2.0, 4.0]))
    b = nn.Variable.from_numpy_array(np.array([2.0, 2.0, 2.0]))
    cases = [
        (a + b, "Add2", a.d + b.d), (a + 1, "AddScalar", a.d + 1), (1 + a, "AddScalar", 1 + a.d),
        (a - b, "Sub2", a.d - b.d), (a - 1, "AddScalar", a.d - 1), (1 - a, "RSubScalar", 1 - a.d),
        (a * b, "Mul2", a.d * b.d), (2 * a, "MulScalar", 2 * a.d), (a / b, "Div2", a.d / b.d),
        (a / 2, "MulScalar", a.d / 2), (2 / a, "RDivScalar", 2 / a.d), (a ** b, "Pow2", a.d ** b.d),
        (a ** 2, "PowScalar", a.d ** 2), (2 ** a, "RPowScalar", 2 ** a.d), (-a, "MulScalar", -a.d),
    ]
    for y, name, want in cases:
        assert y.parent.name == name
        y.forward()
        np.testing.assert_allclose(y.d, want)
    assert (+a) is a


@pytest.mark.parametrize("op", ["__lt__", "__le__", "__gt__", "__ge__", "__mod__", "__floordiv__"])
def test_comparisons_are_not_defined(op):
    a = nn.Variable((2,))
    with pytest.raises(TypeError):
        getattr(a, op)(a)


def test_abs_mod_and_floordiv_raise_and_a_variable_is_true():
    with pytest.raises(TypeError, match=r"abs\(\) is not supported on Variables; use F.abs"):
        abs(nn.Variable((2,)))
    with pytest.raises(TypeError, match="'%' is not supported on Variables; use F.mod2"):
        3 % nn.Variable((2,))
    with pytest.raises(TypeError, match="'//' is not supported on Variables"):
        nn.Variable((2,)) // 2
    # As in NNabla, any Variable is true (``if d_real:`` tests for None) and has no len().
    assert bool(nn.Variable((2,))) and bool(nn.Variable(())) and bool(nn.Variable((0,)))
    with pytest.raises(TypeError):
        len(nn.Variable((2,)))


def test_numpy_scalars_and_arrays_on_the_left_of_a_variable():
    """np.float64(2) - v (as in nnabla-rl's log-densities) is a Variable, not a
    NumPy broadcast over v."""
    x = nn.Variable.from_numpy_array(np.array([3.0, 4.0], np.float32))
    ys = [np.float64(1) - x, np.float32(6) / x, np.log(2.0) * x, np.int64(2) ** x,
          np.ones(2) + x, np.array(2.0) - x]
    for y in ys:
        assert isinstance(y, nn.Variable)
    F.sink(*ys).forward()
    for y, want in zip(ys, [[-2, -3], [2, 1.5], np.log(2.0) * np.array([3, 4]), [8, 16], [4, 5],
                            [-1, -2]]):
        np.testing.assert_allclose(y.d, want, rtol=1e-6)


def test_eq_is_identity():
    a, b = nn.Variable((2,)), nn.Variable((2,))
    assert (a == a) is True and (a == b) is False and len({a, b, a}) == 2


def test_function_attributes():
    x = nn.Variable((2, 3), need_grad=True)
    y = F.add_scalar(x, 2.5)
    f = y.parent
    assert f.name == "AddScalar" and f.info.args == {"val": 2.5, "inplace": False}  # NNabla's
    assert f.inputs[0] is x and f.outputs[0] is y
    assert f.need_grad and y.need_grad
    # NNabla's ranks: a function is as deep as its deepest input, its outputs one deeper
    z = F.relu(y)
    assert (x.rank, f.rank, y.rank, z.parent.rank, z.rank) == (0, 0, 1, 1, 2)
    # and NNabla's forward ranks each function one deeper than its deepest input
    # (what pprint's "Depth" shows after a forward); auto_forward keeps the first ranks
    w = F.add2(z, y)
    w.forward()
    assert (f.rank, z.parent.rank, w.parent.rank, w.rank) == (1, 2, 3, 3)
    t = F.tanh(y)
    nn.forward_all([t])
    assert t.parent.rank == 2
    with nn.auto_forward():
        v = F.sigmoid(F.relu(x))
    assert v.parent.rank == 1 and v.parent.inputs[0].parent.rank == 0


def test_ndarray_lazy_zero_and_fill():
    a = nn.NdArray(2, 3)
    # NNabla's flags: a new array is not "cleared"; clear() makes it so until a write
    assert a.shape == (2, 3) and a.zeroing and not a.clear_called
    a.fill(2)
    assert (a.data == 2).all() and not a.zeroing and not a.clear_called
    a.clear()
    assert a.clear_called
    a.zero()
    assert a.zeroing and not a.clear_called and (a.data == 0).all()
    a.clear()
    a.data[0] = -1
    assert not a.clear_called
    assert nn.NdArray((4,)).shape == (4,) and nn.NdArray().shape == ()


def test_ndarray_inputs_compute_immediately():
    a = nn.NdArray.from_numpy_array(np.array([1.0, 2.0]))
    y = F.add_scalar(a, 1)
    assert isinstance(y, nn.NdArray)
    np.testing.assert_allclose(y.data, [2.0, 3.0])


def test_visit_lists_functions_in_forward_order():
    x = nn.Variable((2,))
    y = F.mul_scalar(F.add_scalar(x, 1), 2)
    names = []
    y.visit(lambda f: names.append(f.name))
    assert names == ["AddScalar", "MulScalar"]


def test_reset_shape_and_reshape_unlink():
    v = nn.Variable((2, 3))
    v.d = np.arange(6).reshape(2, 3)
    v.reset_shape((3, 2))
    assert v.shape == (3, 2) and v.d.shape == (3, 2)
    u = v.reshape((6,), unlink=True)
    assert u.parent is None and u.shape == (6,)
