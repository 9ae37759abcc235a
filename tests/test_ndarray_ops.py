"""nn.NdArray operators: + - * / ** @, reflected and in-place forms, unary -/+,
indexing; float32 results as in NNabla, values checked against NumPy."""
import numpy as np
import pytest

import nablite as nn
from nnabla_parity import run_in_nnabla

NdArray = nn.NdArray


def nd(x, dtype=np.float32):
    return NdArray.from_numpy_array(np.asarray(x, dtype=dtype))


RNG = np.random.RandomState(0)
X = RNG.randn(3, 4).astype(np.float32)
Y = RNG.randn(3, 4).astype(np.float32)
POS = np.abs(X) + 0.5


BINARY = [
    ("add", lambda a, b: a + b, np.add),
    ("sub", lambda a, b: a - b, np.subtract),
    ("mul", lambda a, b: a * b, np.multiply),
    ("div", lambda a, b: a / b, np.divide),
    ("pow", lambda a, b: a ** b, np.power),
]


@pytest.mark.parametrize("name,op,ref", BINARY, ids=[b[0] for b in BINARY])
def test_binary_ndarray_ndarray_numpy_and_scalar(name, op, ref):
    a = nd(POS)
    for other, want in ((nd(Y), ref(POS, Y)), (Y, ref(POS, Y)),
                        (Y.astype(np.float64), ref(POS, Y)),
                        (2.0, ref(POS, np.float32(2.0))), (3, ref(POS, np.float32(3))),
                        (np.float64(0.5), ref(POS, np.float32(0.5)))):
        r = op(a, other)
        assert type(r) is NdArray and r.dtype == np.float32 and r.shape == (3, 4)
        np.testing.assert_allclose(r.data, want, rtol=1e-6, err_msg=f"{name} {type(other)}")
    # reflected: scalar and numpy array on the left give NdArrays too
    for other in (2.0, 3, np.float32(1.5), np.abs(Y) + 0.1):
        r = op(other, a)
        assert type(r) is NdArray and r.dtype == np.float32
        np.testing.assert_allclose(r.data, ref(np.asarray(other, np.float32), POS), rtol=1e-6)


def test_results_are_float32_for_every_input_dtype():
    for dtype in (np.float64, np.int32, np.int64, np.float16):
        a = nd([[1, 2], [3, 4]], dtype)
        for r in (a + 1, 1.5 * a, a / 2, a ** 0.5, -a, a @ a, a[0], a * a):
            assert r.dtype == np.float32 and r.data.dtype == np.float32
        np.testing.assert_allclose((a / 2).data, [[0.5, 1.0], [1.5, 2.0]])


def test_scalar_division_is_multiplication_by_the_reciprocal():
    """NNabla's a / s is a * float32(1 / s), bit for bit."""
    a = nd(X)
    for s in (3.0, 7, 0.1):
        np.testing.assert_array_equal((a / s).data, X * np.float32(1.0 / s))
        np.testing.assert_array_equal((s / a).data, np.float32(s) / X)


def test_division_by_scalar_zero_raises_like_nnabla_and_array_zeros_give_inf():
    a = nd([1.0, 0.0])
    with pytest.raises(ZeroDivisionError, match=r"a / b: division by the scalar 0"):
        a / 0
    with pytest.raises(ZeroDivisionError, match=r"a /= b"):
        a /= 0.0
    r = a / nd([0.0, 0.0])
    assert np.isinf(r.data[0]) and np.isnan(r.data[1])
    assert np.isinf((1 / a).data[1])


def test_pow_float_for_gradient_clipping():
    g = nd(X)
    norm = (g ** 2.0).data.sum() ** 0.5
    np.testing.assert_allclose(norm, np.sqrt((X.astype(np.float64) ** 2).sum()), rtol=1e-6)
    np.testing.assert_allclose((nd(POS) ** 0.5).data, np.sqrt(POS), rtol=1e-6)
    np.testing.assert_allclose((2 ** g).data, np.power(np.float32(2), X), rtol=1e-6)
    np.testing.assert_allclose((nd(POS) ** nd(Y)).data, POS ** Y, rtol=1e-6)


def test_unary():
    a = nd(X)
    r = -a
    assert type(r) is NdArray and r is not a
    np.testing.assert_array_equal(r.data, -X)
    assert +a is a  # NNabla's +a is the array itself
    np.testing.assert_array_equal(a.data, X)


def test_matmul_follows_numpy_matmul():
    A, B = RNG.randn(2, 3).astype(np.float32), RNG.randn(3, 4).astype(np.float32)
    r = nd(A) @ nd(B)
    assert type(r) is NdArray and r.shape == (2, 4) and r.dtype == np.float32
    np.testing.assert_allclose(r.data, A @ B, rtol=1e-5)
    np.testing.assert_allclose((nd(A) @ B).data, A @ B, rtol=1e-5)
    np.testing.assert_allclose((A @ nd(B)).data, A @ B, rtol=1e-5)
    v = RNG.randn(3).astype(np.float32)
    assert (nd(A) @ nd(v)).shape == (2,)
    assert (nd(v) @ nd(v)).shape == ()
    np.testing.assert_allclose((nd(v) @ nd(v)).data, v @ v, rtol=1e-5)
    C = RNG.randn(5, 2, 3).astype(np.float32)
    np.testing.assert_allclose((nd(C) @ nd(B)).data, C @ B, rtol=1e-5)


def test_variable_operand_uses_its_data():
    v = nn.Variable.from_numpy_array(Y)
    r = nd(X) + v
    assert type(r) is NdArray
    np.testing.assert_allclose(r.data, X + Y)


def test_inplace_writes_into_the_storage_a_variable_shares():
    """param.data -= param.grad * lr, as NNabla's tutorial writes it."""
    p = nn.Variable.from_numpy_array(X.copy(), need_grad=True)
    p.g = Y
    view, data = p.d, p.data
    p.data -= p.grad * 0.001
    assert p.data is data and p.d is view
    np.testing.assert_allclose(view, X - Y * np.float32(0.001), rtol=1e-6)
    a = nd(POS)
    arr = a.data
    for stmt, ref in (("a += 1.5", lambda x: x + np.float32(1.5)),
                      ("a -= b", lambda x: x - Y), ("a *= b", lambda x: x * Y),
                      ("a /= 4", lambda x: x * np.float32(0.25)),
                      ("a /= c", lambda x: x / POS), ("a **= 2", lambda x: x ** 2),
                      ("a += np.ones((1, 4))", lambda x: x + 1)):
        before, count = arr.copy(), a.modification_count
        ns = {"a": a, "b": nd(Y), "c": nd(POS), "np": np}
        exec(stmt, ns)
        assert ns["a"] is a and a.data is arr, stmt
        assert a.modification_count == count + 1
        np.testing.assert_allclose(arr, ref(before), rtol=1e-6, err_msg=stmt)


def test_inplace_on_non_float32_storage_becomes_float32_like_nnabla():
    a = nd([1, 2, 3], np.int32)
    old = a.data
    a += 1.5
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a.data, [2.5, 3.5, 4.5])
    np.testing.assert_array_equal(old, [1, 2, 3])  # NNabla does not write through either


def test_inplace_keeps_the_shape():
    a = nd(np.ones((1, 4)))
    with pytest.raises(ValueError, match=r"a \+= b: an operand of shape \(3, 4\) does not "
                                         r"broadcast to this array's shape \(1, 4\)"):
        a += nd(np.ones((3, 4)))
    assert a.shape == (1, 4)
    np.testing.assert_array_equal(a.data, 1)


def test_inplace_matmul_rebinds_like_nnabla():
    a = nd(np.eye(2) * 2)
    b = a
    a @= nd([[1.0, 2.0], [3.0, 4.0]])
    assert a is not b
    np.testing.assert_array_equal(a.data, [[2, 4], [6, 8]])


def test_lazy_and_zeroed_arrays_read_as_zeros():
    a = NdArray((2, 3))
    np.testing.assert_array_equal((a + 1).data, 1)
    b = nd(X)
    b.zero()
    b += 2
    np.testing.assert_array_equal(b.data, 2)


def test_getitem_returns_float32_copies():
    a = nd(X)
    r = a[0]
    assert type(r) is NdArray and r.shape == (4,) and r.dtype == np.float32
    r.data[0] = 100
    assert a.data[0, 0] == X[0, 0]   # a copy, as in NNabla
    mask = X > 0
    np.testing.assert_array_equal(a[mask].data, X[mask])
    np.testing.assert_array_equal(a[nd(mask, bool)].data, X[mask])
    np.testing.assert_array_equal(a[:, 1:3].data, X[:, 1:3])
    np.testing.assert_array_equal(a[None].data, X[None])
    assert a[1, 2].shape == () and float(a[1, 2].data) == X[1, 2]
    np.testing.assert_array_equal(a[[2, 0]].data, X[[2, 0]])
    np.testing.assert_array_equal(a[nd([2.0, 0.7])].data, X[[2, 0]])  # float keys truncate
    np.testing.assert_array_equal(nd([1, 2], np.int64)[0].data, 1.0)
    assert nd([1, 2], np.int64)[0].dtype == np.float32
    rows = list(a)  # iteration by rows stops at IndexError
    assert len(rows) == 3
    np.testing.assert_array_equal(rows[2].data, X[2])


def test_setitem_in_place():
    a = nd(X)
    arr = a.data
    a[1:] = 5
    a[0, :2] = nd([7.0, 8.0])
    a[arr < 0] = 0
    a[0, 3] = np.float64(-1)
    want = X.copy()
    want[1:] = 5
    want[0, :2] = [7, 8]
    want[want < 0] = 0
    want[0, 3] = -1
    assert a.data is arr
    np.testing.assert_array_equal(arr, want)
    a[2] = [1, 2, 3, 4]
    np.testing.assert_array_equal(arr[2], [1, 2, 3, 4])
    v = nn.Variable((2,))
    v.data[0] = 4
    np.testing.assert_array_equal(v.d, [4, 0])


def test_setitem_on_non_float32_storage_becomes_float32_like_nnabla():
    a = nd([1, 1, 1], np.int32)
    a[0] = 2.7
    assert a.dtype == np.float32
    np.testing.assert_allclose(a.data, [2.7, 1, 1], rtol=1e-6)


def test_no_comparisons_no_len_equality_is_identity():
    a, b = nd(X), nd(X)
    assert (a == a) is True and (a == b) is False
    with pytest.raises(TypeError):
        a < b
    with pytest.raises(TypeError):
        len(a)
    assert bool(a) is True
    assert {a: 1}[a] == 1


# -- errors name the operation, the argument, what was given and what was expected
@pytest.mark.parametrize("bad", ["x", None, [1, 2, 3, 4], object()])
def test_bad_operand_errors(bad):
    a = nd(X)
    kind = type(bad).__name__
    with pytest.raises(TypeError, match=rf"NdArray a \+ b: the right operand must be an "
                                        rf"NdArray, a Variable, a numpy array or a real "
                                        rf"number; got {kind}"):
        a + bad
    with pytest.raises(TypeError, match=rf"NdArray a -= b: the right operand .* got {kind}"):
        a -= bad
    if not isinstance(bad, (str, list)):  # str * NdArray, list * NdArray are handled first
        with pytest.raises(TypeError, match=rf"NdArray b \* a: the left operand .* got {kind}"):
            bad * a


def test_broadcast_and_matmul_shape_errors():
    with pytest.raises(ValueError, match=r"NdArray a \* b: shapes \(3, 4\) and \(5,\) do not "
                                         r"broadcast"):
        nd(X) * nd(np.ones(5))
    with pytest.raises(ValueError, match=r"NdArray a @ b: shapes \(3, 4\) and \(3, 4\) do not "
                                         r"multiply"):
        nd(X) @ nd(X)
    with pytest.raises(TypeError, match=r"NdArray a @ b: the right operand must be an "
                                        r"NdArray, a Variable or a numpy array; got int"):
        nd(X) @ 2
    with pytest.raises(TypeError, match=r"NdArray b @ a: the left operand .* got float"):
        2.0 @ nd(X)


def test_index_errors():
    a = nd(X)
    with pytest.raises(IndexError, match=r"NdArray a\[key\]: key int does not index an array "
                                         r"of shape \(3, 4\): index 10 is out of bounds"):
        a[10]
    with pytest.raises(IndexError, match=r"a\[key\] = value: key int does not index"):
        a[10] = 1
    with pytest.raises(ValueError, match=r"a\[key\] = value: value ndarray of shape \(5,\) "
                                         r"does not fit"):
        a[0] = np.ones(5)
    with pytest.raises(TypeError, match=r"a\[key\] = value: value must be .*; got str"):
        a[0] = "x"
    np.testing.assert_array_equal(a.data, X)  # failed assignments change nothing


_NNABLA_SCRIPT = r"""
import numpy as np, nnabla as nn
X = np.array(X, np.float32); Y = np.array(Y, np.float32); P = np.abs(X) + 0.5
a, b, p = (nn.NdArray.from_numpy_array(v) for v in (X, Y, P))
i = nn.NdArray.from_numpy_array(np.array([[1, 2], [3, 4]], np.int32))
exprs = {"a+b": a + b, "a-2": a - 2, "3-a": 3 - a, "a*b": a * b, "a/3": a / 3,
         "3/p": 3 / p, "p**b": p ** b, "p**1.5": p ** 1.5, "2**a": 2 ** a, "-a": -a,
         "a@bT": a @ nn.NdArray.from_numpy_array(Y.T.copy()), "a[1]": a[1],
         "i/2": i / 2, "i*i": i * i, "i[0]": i[0]}
RESULT = {k: [str(v.dtype), list(v.shape), v.data.ravel().tolist()] for k, v in exprs.items()}
a += b; a *= 2; RESULT["a+=b;a*=2"] = ["float32", list(a.shape), a.data.ravel().tolist()]
"""


def test_parity_with_real_nnabla():
    want = run_in_nnabla(_NNABLA_SCRIPT, X=X.tolist(), Y=Y.tolist())
    if want is None:
        pytest.skip("NNabla 1.39 is not installed (set NNABLA_PYTHON)")
    a, b, p = nd(X), nd(Y), nd(POS)
    i = nd([[1, 2], [3, 4]], np.int32)
    got = {"a+b": a + b, "a-2": a - 2, "3-a": 3 - a, "a*b": a * b, "a/3": a / 3,
           "3/p": 3 / p, "p**b": p ** b, "p**1.5": p ** 1.5, "2**a": 2 ** a, "-a": -a,
           "a@bT": a @ nd(Y.T), "a[1]": a[1], "i/2": i / 2, "i*i": i * i, "i[0]": i[0]}
    a += b
    a *= 2
    got["a+=b;a*=2"] = a
    for key, (dtype, shape, values) in want.items():
        r = got[key]
        assert np.dtype(r.dtype).name == dtype, key
        assert list(r.shape) == shape, key
        np.testing.assert_allclose(r.data.ravel(), values, rtol=2e-6, atol=1e-6, err_msg=key)


def test_dtype_is_a_numpy_dtype_as_nnabla_gives():
    a = nn.NdArray.from_numpy_array(np.ones(3))
    assert isinstance(a.dtype, np.dtype) and str(a.dtype) == "float64" and a.dtype.kind == "f"
    assert a.dtype == np.float64 and nn.NdArray((2,)).dtype == np.dtype(np.float32)
    v = nn.Variable.from_numpy_array(np.arange(3, dtype=np.int32))
    assert v.data.dtype == np.dtype(np.int32) and v.data.view((3, 1)).dtype == np.int32


def test_copy_from_returns_the_array():
    """As NNabla: ``nn.NdArray(shape).copy_from(a)`` is a copy of ``a``."""
    import numpy as np
    import nablite as nn
    a = nn.NdArray.from_numpy_array(np.arange(3.0))
    b = nn.NdArray(a.shape).copy_from(a)
    assert isinstance(b, nn.NdArray) and b is not a and np.array_equal(b.data, a.data)


def test_zero_reaches_views_and_packed_parameters_train():
    """zero() on an array a view shares (or on the view) is seen through the
    other; a solver over one packed parameter whose pieces are views of it
    (neu's PackedParameterSolver) zeroes and updates them (it left them
    untouched)."""
    import numpy as np
    import nablite as nn
    import nablite.functions as F
    import nablite.solvers as S
    a = nn.NdArray((4,))
    a.fill(5)
    v = a.narrow(0, 0, 2)
    a.zero()
    assert v.data.tolist() == [0, 0]
    v.fill(3)
    v.zero()
    assert a.data.tolist() == [0, 0, 0, 0]
    big = nn.Variable((8,), need_grad=True)
    w = nn.Variable((2, 2), need_grad=True)
    w.d = 1
    view = big.data.narrow(0, 0, 4).view((2, 2))
    view.copy_from(w.data)
    w.data = view
    w.grad = big.grad.narrow(0, 0, 4).view((2, 2))
    y = F.sum(w * 3.0)
    solver = S.Sgd(0.1)
    solver.set_parameters({"big": big})
    for want in (0.7, 0.4):
        solver.zero_grad()
        y.forward()
        y.backward()
        solver.update()
        np.testing.assert_allclose(w.d, np.full((2, 2), want), rtol=1e-6)


def test_composites_on_ndarrays_compute_at_once():
    import numpy as np
    import nablite as nn
    import nablite.functions as F
    g = nn.NdArray.from_numpy_array(np.array([[3.0, 4.0], [0.0, 0.0]], np.float32))
    r = F.clip_by_norm(g, 1.0)
    assert isinstance(r, nn.NdArray)
    np.testing.assert_allclose(r.data, [[0.6, 0.8], [0, 0]], rtol=1e-6)
    a = nn.NdArray.from_numpy_array(np.array([[1.0, 2.0], [3.0, 4.0]], np.float32))
    d = F.dot(a, nn.NdArray.from_numpy_array(np.ones((2, 2), np.float32)))
    assert isinstance(d, nn.NdArray)
    np.testing.assert_array_equal(d.data, [[3, 3], [7, 7]])
