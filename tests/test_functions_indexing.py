"""Indexing: gather/scatter functions, one_hot, nonzero, and x[key] / x[key] = v."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions import indexing
from gradcheck import check_function, randn

X = randn(2, 3, 4)
I = lambda *a: np.array(a, dtype=np.int64)  # noqa: E731


def ref_gather(x, idx, axis=None, batch_dims=None):
    axis, b = axis or 0, batch_dims or 0
    if b == 0:
        return np.take(x, idx, axis=axis)
    return np.stack([ref_gather(xi, ii, axis - 1, b - 1) for xi, ii in zip(x, idx)])


def ref_gather_nd(x, idx):
    return x[tuple(idx.astype(np.int64))]


def ref_scatter_nd(data, idx, shape=None, out=None, add=False):
    y = np.zeros(shape) if out is None else out.copy()
    key = tuple(idx.astype(np.int64))
    if add:
        np.add.at(y, key, data)
    else:
        y[key] = data
    return y


def ref_scatter_add(x0, idx, x1, axis=None):
    y = x0.copy()
    for p in np.ndindex(*idx.shape):
        q = list(p)
        q[axis or 0] = idx[p]
        y[tuple(q)] += x1[p]
    return y


def ref_one_hot(x, shape):
    y = np.zeros(x.shape[:-1] + tuple(shape), np.float32)
    for p in np.ndindex(*x.shape[:-1]):
        y[p + tuple(x[p])] = 1
    return y


def ref_bool_fill(x, mask, value=0):
    return np.where(mask != 0, value, x)


def ref_pack(x, lengths, batch_first=False):
    x = x.swapaxes(0, 1) if batch_first else x
    steps = int(lengths.max())
    rows = [x[t, b] for t in range(steps) for b in range(len(lengths)) if t < lengths[b]]
    sizes = np.array([(lengths > t).sum() for t in range(steps)], np.int32)
    return np.stack(rows), sizes


def ref_unpack(packed, sizes, batch_first=False, padding_value=None, total_length=None):
    batch, steps = int(sizes[0]), max(len(sizes), total_length or 0)
    y = np.full((steps, batch) + packed.shape[1:], 0.0 if padding_value is None else padding_value)
    rows = iter(packed)
    for t, n in enumerate(sizes):
        for b in range(n):
            y[t, b] = next(rows)
    lengths = np.array([(sizes > b).sum() for b in range(batch)], np.int32)
    return (y.swapaxes(0, 1) if batch_first else y), lengths


MASK = np.array([[1, 0, 1], [0, 0, 1]], np.float64)

#       function         inputs                                   kwargs                   reference
CASES = [
    (F.one_hot,        [I([1], [2], [0])],                        dict(shape=(4,)),         ref_one_hot),
    (F.one_hot,        [I([[1, 0], [2, 1]], [[0, 0], [0, 1]])],   dict(shape=(3, 2)),       ref_one_hot),
    (F.gather,         [X, I(1, 0)],                              {},                       ref_gather),
    (F.gather,         [X, I([0, 2], [1, 1])],                    dict(axis=1),             ref_gather),
    (F.gather,         [X, I(3, 0, 3)],                           dict(axis=-1),            ref_gather),
    (F.gather,         [X, I([0, 2], [1, 1])],                    dict(axis=1, batch_dims=1), ref_gather),
    (F.gather,         [X, I([[0, 3], [1, 1], [2, 2]], [[3, 3], [0, 0], [1, 2]])],
     dict(axis=2, batch_dims=2), ref_gather),
    (F.gather_nd,      [X, I([0, 1], [2, 0])],                    {},                       ref_gather_nd),
    (F.gather_nd,      [X, I([0, 1, 1], [2, 0, 2], [3, 3, 3])],   {},                       ref_gather_nd),
    (F.gather_nd,      [X, I([-1, 0])],                           {},                       ref_gather_nd),
    (F.gather_nd,      [X, np.array([[1.0, 0.0]])],               {},                       ref_gather_nd),
    (F.scatter_nd,     [randn(2), I([0, 1], [2, 0])],             dict(shape=(2, 3)),       ref_scatter_nd),
    (F.scatter_nd,     [randn(2, 4), I([1, 0])],                  dict(shape=(3, 4)),       ref_scatter_nd),
    (F.scatter_nd,     [randn(3), I([0, 1, 0], [1, 2, 1])],       dict(shape=(2, 3), add=True), ref_scatter_nd),
    (F.scatter_nd,     [randn(2), I([0, 1], [2, 0]), None, randn(2, 3, seed=1)], {},
     lambda d, i, s, o: ref_scatter_nd(d, i, out=o)),
    (F.scatter_add,    [randn(2, 3), I([0, 1, 1], [1, 0, 0]), randn(2, 3, seed=1)], dict(axis=0),
     ref_scatter_add),
    (F.scatter_add,    [randn(3, 3), I([0, 1], [1, 0]), randn(2, 3, seed=1)], dict(axis=1),
     ref_scatter_add),
    (F.bool_gather,    [X, MASK],                                 {},                       lambda x, m: x[m != 0]),
    (F.bool_gather,    [X, np.array([0.0, 1.0])],                 {},                       lambda x, m: x[m != 0]),
    (F.bool_scatter,   [randn(3, 4), MASK],                       {},
     lambda x, m: ref_scatter_nd(x, np.stack(np.nonzero(m)), shape=(2, 3, 4))),
    (F.bool_scatter,   [randn(3, 4), MASK, randn(2, 3, 4, seed=1)], {},
     lambda x, m, o: ref_scatter_nd(x, np.stack(np.nonzero(m)), out=o)),
    (F.bool_fill,      [X, np.array([1.0, 0.0, 0.0, 1.0])],        dict(value=9.0),          ref_bool_fill),
    (F.bool_fill,      [X, MASK[..., None]],                      {},                       ref_bool_fill),
    (F.pack_padded_sequence, [randn(4, 3, 2), I(4, 2, 1)],        {},                       ref_pack),
    (F.pack_padded_sequence, [randn(3, 5), I(5, 5, 2)],           dict(batch_first=True),   ref_pack),
    (F.pad_packed_sequence, [randn(7, 2), np.array([3, 2, 1, 1], np.int32)], {},            ref_unpack),
    (F.pad_packed_sequence, [randn(7, 2), np.array([3, 2, 1, 1], np.int32)],
     dict(batch_first=True, padding_value=-1.0, total_length=6), ref_unpack),
    (F.nonzero,        [MASK],                                    {},
     lambda m: np.stack(np.nonzero(m)).astype(np.uint64)),
    (F.nonzero,        [X > 0],                                   {},
     lambda m: np.stack(np.nonzero(m)).astype(np.uint64)),
]

NOT_DIFFERENTIABLE = {F.one_hot: "integer input", F.nonzero: "integer output"}
# Masks are data, not parameters: only the float data inputs are differentiated.
MASK_INPUT = {F.bool_gather: [0], F.bool_scatter: [0, 2], F.bool_fill: [0]}


@pytest.mark.parametrize("f, inputs, kwargs, ref", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_function(f, inputs, kwargs, ref):
    grad = [] if f in NOT_DIFFERENTIABLE else MASK_INPUT.get(f)
    if grad is not None:
        grad = [i for i in grad if i < len(inputs)]
    if f is F.gather_nd and inputs[1].dtype.kind == "f":
        grad = [0]
    outputs = [0] if f in (F.pack_padded_sequence, F.pad_packed_sequence) else None
    check_function(f, inputs, ref=ref, kwargs=kwargs, grad=grad, outputs=outputs)


def test_output_dtypes():
    m = nn.Variable.from_numpy_array(MASK)
    y = F.nonzero(m)
    y.forward()
    assert y.d.dtype == np.uint64
    h = F.one_hot(nn.Variable.from_numpy_array(I([1], [0])), (3,))
    h.forward()
    assert h.d.dtype == np.float32


@pytest.mark.parametrize("call", [
    lambda x: F.gather(x, nn.Variable.from_numpy_array(I(1, 0)), axis=1),
    lambda x: F.gather_nd(x, nn.Variable.from_numpy_array(I([0, 1]))),
    lambda x: F.scatter_nd(x, nn.Variable.from_numpy_array(I([0, 1])), shape=(3, 3, 4)),
    lambda x: F.scatter_add(x, nn.Variable.from_numpy_array(np.zeros((1, 1, 1), np.int64)), x),
    lambda x: F.bool_gather(x, nn.Variable.from_numpy_array(MASK)),
    lambda x: F.bool_fill(x, nn.Variable.from_numpy_array(MASK[0, :, None]), 2.0),
    lambda x: x[::-1, [0, 2]],
])
def test_float32_stays_float32(call):
    y = call(nn.Variable.from_numpy_array(X.astype(np.float32)))
    y.forward()
    assert y.d.dtype == np.float32


def test_scatter_nd_keeps_last_value_on_repeats():
    y = F.scatter_nd(nn.Variable.from_numpy_array(np.array([1.0, 2.0])),
                     nn.Variable.from_numpy_array(I([0, 0], [1, 1])), shape=(2, 3))
    y.forward()
    np.testing.assert_allclose(y.d, [[0, 2, 0], [0, 0, 0]])


@pytest.mark.parametrize("call, message", [
    (lambda x: F.gather_nd(x, nn.Variable((4, 2))), r"GatherNd: indices \(4, 2\) must have shape \(M, \.\.\.\) with 1 <= M <= x.ndim = 3"),
    (lambda x: F.scatter_nd(nn.Variable((3,)), nn.Variable((2, 2)), shape=(2, 3)),
     r"ScatterNd: data \(3,\) must have shape \(2,\)"),
    (lambda x: F.scatter_nd(nn.Variable((2,)), nn.Variable((2, 2))), r"ScatterNd: give the output shape="),
    (lambda x: F.gather(x, nn.Variable((2,)), axis=3), r"Gather: axis=3 is out of range"),
    (lambda x: F.gather(x, nn.Variable((3, 2)), axis=1, batch_dims=1),
     r"Gather: x \(2, 3, 4\) and indices \(3, 2\) must share their first batch_dims=1"),
    (lambda x: F.one_hot(nn.Variable((3, 2)), (4,)), r"OneHot: the last dimension of x \(3, 2\)"),
    (lambda x: F.scatter_add(x, nn.Variable((2, 3)), x), r"ScatterAdd: x0 \(2, 3, 4\), indices \(2, 3\)"),
    (lambda x: F.bool_gather(x, nn.Variable((3,))), r"BoolGather: mask \(3,\) must match"),
    (lambda x: F.bool_fill(x, nn.Variable((3,))), r"BoolFill: mask \(3,\) must broadcast"),
    (lambda x: F.pack_padded_sequence(x, nn.Variable.from_numpy_array(I(1, 2, 3))),
     r"PackPaddedSequence: lengths \[1, 2, 3\] must hold B=3 values in 1..2, sorted"),
    (lambda x: F.pad_packed_sequence(nn.Variable((5, 2)), nn.Variable.from_numpy_array(I(2, 2))),
     r"PadPackedSequence: batch_sizes \[2, 2\] must be non-increasing and sum to the 5"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call(nn.Variable((2, 3, 4)))


# -- x[key] -------------------------------------------------------------------

B = randn(2, 1, 8, 8)
Y = randn(4, 5, 6)
GETITEM_KEYS = [
    (B, (Ellipsis, slice(None, 4), slice(4, None))),      # the tutorial's RNN key
    (Y, 1), (Y, -1), (Y, (1, 2)), (Y, (1, 2, 3)), (Y, (slice(None), 0)),
    (Y, slice(None, None, -1)), (Y, (slice(3, 0, -2), slice(None), slice(None, None, -3))),
    (Y, (slice(-2, None), Ellipsis, 1)), (Y, (None, 1)), (Y, (Ellipsis, None)),
    (Y, (slice(None), None, slice(1, 3), None)), (Y, (slice(10, 20),)),
    (Y, [0, 2]), (Y, ([0, 2], [1, 1])), (Y, np.array([[3, 1], [0, 0]])),
    (Y, (slice(None), [4, 0, 1])), (Y, (1, slice(None), [0, 5])),
    (Y, ([0, 1], slice(None), [2, 3])), (Y, (Ellipsis, np.array([5, 0]))),
    (Y, Y[:, :, 0] > 0), (Y, Y > 0.5), (Y, (None, [1, 2])),
    (Y, (np.array([1, 2]), 3)), (Y, (-1, [1, 2])),
]


@pytest.mark.parametrize("x, key", GETITEM_KEYS, ids=[repr(k)[:40] for _, k in GETITEM_KEYS])
def test_getitem_matches_numpy(x, key):
    check_function(lambda v: v[key], [x], ref=lambda a: a[key])


def test_getitem_builds_slice_and_reshape():
    x = nn.Variable((2, 1, 8, 8))
    y = x[..., :4, 4:]
    assert y.shape == (2, 1, 4, 4) and y.parent.name == "Slice"
    assert y.parent.args == {"start": [0, 0, 0, 4], "stop": [2, 1, 4, 8], "step": [1, 1, 1, 1]}
    z = x[1, 0]
    assert z.shape == (8, 8) and z.parent.name == "Reshape"
    assert z.parent.inputs[0].parent.name == "Slice"
    assert x[[0, 1]].parent.name == "GatherNd"
    assert x[...] is x


def test_getitem_with_index_variable_stays_in_graph():
    x = nn.Variable.from_numpy_array(Y, need_grad=True)
    idx = nn.Variable.from_numpy_array(np.array([1, 3]))
    y = x[idx]
    assert y.parent.name == "GatherNd" and y.shape == (2, 5, 6)
    y.forward()
    np.testing.assert_allclose(y.d, Y[[1, 3]])
    idx.d = np.array([0, 0])
    y.forward()
    np.testing.assert_allclose(y.d, Y[[0, 0]])
    j = nn.Variable.from_numpy_array(np.array([2, 4]))
    z = x[idx, j]
    z.forward()
    np.testing.assert_allclose(z.d, Y[[0, 0], [2, 4]])


def test_getitem_errors():
    x = nn.Variable((4, 5, 6))
    with pytest.raises(ValueError, match="getitem: too many indices"):
        x[0, 0, 0, 0]
    with pytest.raises(ValueError, match="getitem: index 4 is out of bounds for axis 0"):
        x[4]
    with pytest.raises(TypeError, match="getitem: unsupported index"):
        x["a"]


# -- x[key] = value -----------------------------------------------------------

SETITEM = [
    ((slice(1, None), slice(None, None, 2)), randn(2, 2)),
    ((slice(1, None), slice(None, None, 2)), randn(2)),
    ((0, 1), 5.0),
    ((Ellipsis, 0), randn(3)),
    (([0, 2], [1, 3]), randn(2)),
    ((np.array([[True, False, True, False], [False] * 4, [True] * 4]),), 7.0),
]


@pytest.mark.parametrize("key, value", SETITEM, ids=[repr(k)[:30] for k, _ in SETITEM])
def test_setitem_matches_numpy(key, value):
    a = nn.Variable.from_numpy_array(randn(3, 4), need_grad=True)
    b = a * 2.0
    v = nn.Variable.from_numpy_array(value, need_grad=True) if isinstance(value, np.ndarray) \
        else value
    b[key] = v
    assert b.parent.name == "ScatterNd"
    loss = F.sum(b * nn.Variable.from_numpy_array(randn(3, 4, seed=5)))
    loss.forward()
    want = a.d * 2.0
    want[key] = value
    np.testing.assert_allclose(b.d, want)
    a.g = 0
    if isinstance(v, nn.Variable):
        v.g = 0
    loss.backward()
    # d loss / d a: 2 * w where a's value survives, 0 where it was overwritten.
    w = randn(3, 4, seed=5)
    kept = np.ones((3, 4))
    kept[key] = 0
    np.testing.assert_allclose(a.g, 2 * w * kept)
    if isinstance(v, nn.Variable):
        region_grad = w[key]
        lead = region_grad.ndim - v.ndim
        want_v = region_grad.sum(axis=tuple(range(lead))) if lead else region_grad
        np.testing.assert_allclose(v.g, want_v.reshape(v.shape))


def test_setitem_on_leaf_and_auto_forward():
    with nn.auto_forward():
        z = nn.Variable.from_numpy_array(np.zeros((2, 3)))
        z[0, 1] = 5
        np.testing.assert_allclose(z.d, [[0, 5, 0], [0, 0, 0]])
        assert z.parent.name == "ScatterNd"


def test_setitem_gradient_numerically():
    def f(a, v):
        b = a * 1.0
        b[1:, ::2] = v
        return b
    check_function(f, [randn(3, 4), randn(2, 2, seed=1)],
                   ref=lambda a, v: np.where(np.arange(12).reshape(3, 4) % 2 == 0,
                                             0, 1) * 0 + _set(a, v))


def _set(a, v):
    a = a.copy()
    a[1:, ::2] = v
    return a


def test_setitem_value_shape_error():
    a = nn.Variable((3, 4))
    with pytest.raises(ValueError, match=r"setitem: value of shape \(3,\) cannot be broadcast"):
        a[0:2, 0:2] = nn.Variable((3,))


def test_every_name_has_a_case():
    tested = {c[0].__name__ for c in CASES}
    assert set(indexing.__all__) <= tested, set(indexing.__all__) - tested


# -- the in-place out= / output= forms of scatter_nd and bool_scatter -------------

def _v(a, need_grad=False):
    return nn.Variable.from_numpy_array(np.asarray(a), need_grad=need_grad)


def test_scatter_nd_out_is_written_in_place():
    out = _v(np.arange(8.0) + 100)
    y = F.scatter_nd(_v([9.0, 10.0, 11.0]), _v(I([4, 3, 1])), out=out)
    y.forward()
    want = np.arange(8.0) + 100
    want[[4, 3, 1]] = [9, 10, 11]
    np.testing.assert_array_equal(y.d, want)
    np.testing.assert_array_equal(out.d, want)  # NNabla: out holds the result
    assert np.shares_memory(y.d, out.d)
    acc = _v(np.zeros(5))
    y = F.scatter_nd(_v([1.0, 1.0]), _v(I([0, 3])), out=acc, add=True)
    y.forward()
    y.forward()  # each forward adds into the same array again, as in NNabla
    np.testing.assert_array_equal(acc.d, [2, 0, 0, 2, 0])
    with nn.auto_forward():  # the return value may be ignored
        buf = _v(np.zeros(5))
        F.scatter_nd(_v([1.0, 2.0]), _v(I([0, 4])), out=buf)
        np.testing.assert_array_equal(buf.d, [1, 0, 0, 0, 2])
    # NdArray inputs run at once and write into the NdArray
    arr = nn.NdArray.from_numpy_array(np.zeros(4))
    F.scatter_nd(nn.NdArray.from_numpy_array(np.array([5.0])),
                 nn.NdArray.from_numpy_array(I([2])), out=arr)
    np.testing.assert_array_equal(arr.data, [0, 0, 5, 0])


def test_bool_scatter_output_is_written_in_place():
    mask = _v(np.array([1, 0, 1]))
    out = _v(np.array([[10.0, 20], [30, 40], [50, 60]]))
    y = F.bool_scatter(_v(np.array([[1.0, 2], [3, 4]])), mask, out)
    y.forward()
    np.testing.assert_array_equal(out.d, [[1, 2], [30, 40], [3, 4]])
    assert np.shares_memory(y.d, out.d)


def test_scatter_nd_and_bool_scatter_out_gradients_numerically():
    # ``out`` as an intermediate, recomputed each forward, as in-place use expects.
    check_function(lambda d, i, o: F.scatter_nd(d, i, out=o * 1.0),
                   [randn(3), I([0, 1, 0], [2, 0, 1]), randn(2, 3, seed=1)],
                   ref=lambda d, i, o: ref_scatter_nd(d, i, out=o), grad=[0, 2])
    check_function(lambda d, i, o: F.scatter_nd(d, i, out=o * 1.0, add=True),
                   [randn(3), I([0, 1, 0], [1, 0, 1]), randn(2, 3, seed=1)],
                   ref=lambda d, i, o: ref_scatter_nd(d, i, out=o, add=True), grad=[0, 2])
    check_function(lambda x, m, o: F.bool_scatter(x, m, o * 1.0),
                   [randn(3, 4), MASK, randn(2, 3, 4, seed=1)],
                   ref=lambda x, m, o: ref_scatter_nd(x, np.stack(np.nonzero(m)), out=o),
                   grad=[0, 2])


def test_scatter_nd_repeated_positions_true_gradient():
    # Position (0, 1) is written twice: the last value stays, the first gets no gradient.
    data, idx = randn(4), I([0, 1, 0, 1], [1, 2, 1, 0])
    for add in (False, True):
        check_function(lambda d, i: F.scatter_nd(d, i, shape=(2, 3), add=add), [data, idx],
                       ref=lambda d, i: ref_scatter_nd(d, i, shape=(2, 3), add=add), grad=[0])
    d = _v(data, need_grad=True)
    y = F.scatter_nd(d, _v(idx), shape=(2, 3))
    y.forward()
    d.g = 0
    y.backward(np.arange(6.0).reshape(2, 3) + 1)
    np.testing.assert_array_equal(d.g, [0, 6, 2, 4])
    # trailing slices: rows 1 and 1 again
    check_function(lambda d, i: F.scatter_nd(d, i, shape=(3, 2)), [randn(3, 2), I([1, 0, 1])],
                   ref=lambda d, i: ref_scatter_nd(d, i, shape=(3, 2)), grad=[0])


def test_scatter_out_whose_parent_reads_its_output_is_not_overwritten():
    # exp's backward reads its output: the scatter writes into a copy (NNabla refuses).
    x = _v(randn(3, 2), need_grad=True)
    e = F.exp(x)
    y = F.bool_scatter(_v(np.ones((2, 2))), _v(np.array([1, 0, 1])), e)
    y.forward()
    np.testing.assert_allclose(e.d, np.exp(x.d))
    x.g = 0
    y.backward(np.ones((3, 2)))
    np.testing.assert_allclose(x.g, np.exp(x.d) * np.array([[0], [1], [0]]))
    check_function(lambda x, d, i: F.scatter_nd(d, i, out=F.exp(x)),
                   [randn(4), randn(2, seed=1), I([0, 2])],
                   ref=lambda x, d, i: ref_scatter_nd(d, i, out=np.exp(x)), grad=[0, 1])


def test_bool_scatter_with_a_mask_computed_in_the_graph():
    # The mask has no values when the static graph is built: setup checks shapes
    # only, forward the number of rows (NNabla 1.39 runs this case too).
    m = _v(np.array([[1, 0, 1], [0, 1, 0]], np.float32))
    s = _v(np.array([1.0, 2.0, 3.0], np.float32), need_grad=True)
    y = F.bool_scatter(s, F.identity(m))
    assert y.shape == (2, 3)
    y.forward()
    np.testing.assert_array_equal(y.d, [[1, 0, 2], [0, 3, 0]])
    s.g = 0
    y.backward(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(s.g, [0, 2, 4])
    rows = _v(np.array([[1.0, 2], [3, 4], [5, 6]], np.float32))
    y2 = F.bool_scatter(rows, F.identity(m))
    assert y2.shape == (2, 3, 2)
    y2.forward()
    np.testing.assert_array_equal(y2.d[1, 1], [5, 6])
    wrong = F.bool_scatter(_v(np.array([1.0, 2.0], np.float32)), F.identity(m))
    with pytest.raises(ValueError, match="BoolScatter: the mask has 3 non-zero entries, "
                                         "but the input has 2 rows"):
        wrong.forward()


def test_bool_gather_says_when_its_mask_changed_after_setup():
    # Its output length comes from the mask's values at setup; a mask computed
    # in the graph (NNabla sets up 0 rows, then crashes) is refused clearly.
    m = _v(np.array([[1, 0, 1], [0, 1, 0]], np.float32))
    y = F.bool_gather(_v(randn(2, 3)), F.identity(m))
    with pytest.raises(ValueError, match=r"BoolGather: the mask has 3 non-zero entries, but "
                                         r"the output was set up .* with 0 rows"):
        y.forward()


def test_scatter_nd_argument_forms():
    y = F.scatter_nd(_v([1.0, 2.0]), [[0, 2]], shape=(3,))  # list indices, as NNabla
    y.forward()
    np.testing.assert_array_equal(y.d, [1, 0, 2])
    with pytest.raises(TypeError, match="only one of"):
        F.scatter_nd(_v([1.0]), [[0]], shape=(3,), out=_v(np.zeros(3)))
    with pytest.raises(TypeError, match="must be a Variable or an NdArray"):
        F.scatter_nd(_v([1.0]), [[0]], out=np.zeros(3))


# -- pad_packed_sequence: total_length, batch_first, padding_value -----------------

@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_sequence_run_again_after_clearing_buffers(batch_first):
    """The masks come from setup: forward and backward with clear_buffer=True, run
    twice, give the NumPy reference both times (PadPackedSequence lost its mask to
    the buffer clearing, as forward state, and its second backward failed)."""
    x = randn(4, 3, 2) if not batch_first else randn(3, 4, 2)
    lengths = I(4, 2, 1)
    xv = nn.Variable.from_numpy_array(x, need_grad=True)
    with nn.auto_forward():
        packed, sizes = F.pack_padded_sequence(xv, nn.Variable.from_numpy_array(lengths),
                                               batch_first=batch_first)
        y, lens = F.pad_packed_sequence(packed, sizes, batch_first=batch_first,
                                        padding_value=-1.0, total_length=5)
    weights = randn(*y.shape)
    loss = F.sum(y * nn.Variable.from_numpy_array(weights))
    ref_packed, ref_sizes = ref_pack(x, lengths, batch_first)
    ref_y, ref_lens = ref_unpack(ref_packed, ref_sizes, batch_first, -1.0, 5)
    # d loss / dx: the weight where x is a valid step, 0 on the padding
    valid = ref_unpack(np.ones_like(ref_packed), ref_sizes, batch_first, 0.0, 5)[0]
    ref_gx = (weights * valid)[:, :x.shape[1]] if batch_first else (weights * valid)[:x.shape[0]]
    for _ in range(2):
        xv.grad.zero()
        loss.forward(clear_buffer=True)
        loss.backward(clear_buffer=True)
        np.testing.assert_allclose(loss.d, (ref_y * weights).sum(), rtol=1e-5)
        np.testing.assert_allclose(xv.g, ref_gx, rtol=1e-6)
    y.forward()
    np.testing.assert_allclose(y.d, ref_y, rtol=1e-6)
    np.testing.assert_array_equal(lens.d, ref_lens)
