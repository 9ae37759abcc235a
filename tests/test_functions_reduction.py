"""Reductions: forward vs NumPy, backward vs central differences, bad input."""
import warnings

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions import reduction
from gradcheck import away_from, check_function, check_index_output_grad, randn, uniform


def with_zeros(x, *where):
    x = np.array(x)
    for w in where:
        x[w] = 0.0
    return x


def ref_arg(pick):
    """NumPy reference of F.max/F.min returning values and flat positions in the reduced axes."""
    def ref(x, axis=None, keepdims=False, with_index=False, only_index=False):
        axes = tuple(range(x.ndim)) if axis is None else tuple(np.atleast_1d(axis) % x.ndim)
        kept = [i for i in range(x.ndim) if i not in axes]
        rows = x.transpose(kept + sorted(axes)).reshape([x.shape[i] for i in kept] + [-1])
        idx = getattr(np, "arg" + pick)(rows, axis=-1)
        y = getattr(np, pick)(x, axis=axes, keepdims=keepdims)
        if keepdims:
            idx = idx.reshape(y.shape)
        idx = idx.astype(np.uint64)
        if only_index:
            return idx
        return (y, idx) if with_index else y
    return ref


def ref_cum(op):
    def ref(x, axis=None, exclusive=False, reverse=False):
        axis = 0 if axis is None else axis
        if reverse:
            x = np.flip(x, axis)
        y = getattr(np, op)(x, axis=axis)
        if exclusive:
            y = np.moveaxis(y, axis, 0)
            y = np.concatenate([np.full((1,) + y.shape[1:], 1.0 if op == "cumprod" else 0.0),
                                y[:-1]])
            y = np.moveaxis(y, 0, axis)
        return np.flip(y, axis) if reverse else y
    return ref


def ref_norm(x, p=None, axis=None, keepdims=False):
    p = 2 if p is None else p
    axes = None if axis is None else tuple(np.atleast_1d(axis))
    return (np.abs(x) ** p).sum(axis=axes, keepdims=keepdims) ** (1 / p)


def ref_reduce(x, axis=None, keepdims=False, op=None):
    axes = None if axis is None else tuple(np.atleast_1d(axis))
    return getattr(np, op)(x, axis=axes, keepdims=keepdims)


def np_ref(op):
    return lambda x, **kw: ref_reduce(x, op=op, **kw)


X342 = randn(3, 4, 2)
Z = with_zeros(uniform(0.5, 1.5, (3, 4)), (0, 1), (2, 2), (2, 3))

#       function     inputs                 kwargs                                 reference
CASES = [
    (F.sum,        [randn(3, 4)],          {},                                     np_ref("sum")),
    (F.sum,        [X342],                 dict(axis=1),                           np_ref("sum")),
    (F.sum,        [X342],                 dict(axis=(0, 2), keepdims=True),       np_ref("sum")),
    (F.sum,        [randn(5)],             dict(axis=-1),                          np_ref("sum")),
    (F.sum,        [randn(2, 3, 2, 2)],    dict(axis=[3, 1]),                      np_ref("sum")),
    (F.mean,       [randn(3, 4)],          {},                                     np_ref("mean")),
    (F.mean,       [X342],                 dict(axis=(1, 2)),                      np_ref("mean")),
    (F.mean,       [X342],                 dict(axis=0, keepdims=True),            np_ref("mean")),
    (F.max,        [X342],                 {},                                     ref_arg("max")),
    (F.max,        [X342],                 dict(axis=1),                           ref_arg("max")),
    (F.max,        [X342],                 dict(axis=(0, 2), keepdims=True),       ref_arg("max")),
    (F.max,        [X342],                 dict(axis=1, with_index=True),          ref_arg("max")),
    (F.max,        [X342],                 dict(axis=(0, 2), with_index=True, keepdims=True), ref_arg("max")),
    (F.max,        [X342],                 dict(axis=2, only_index=True),          ref_arg("max")),
    (F.min,        [X342],                 {},                                     ref_arg("min")),
    (F.min,        [X342],                 dict(axis=-1, keepdims=True),           ref_arg("min")),
    (F.min,        [X342],                 dict(axis=(1, 2), with_index=True),     ref_arg("min")),
    (F.min,        [X342],                 dict(only_index=True),                  ref_arg("min")),
    (F.prod,       [uniform(0.5, 1.5, (3, 4))], {},                                np_ref("prod")),
    (F.prod,       [X342],                 dict(axis=(0, 2), keepdims=True),       np_ref("prod")),
    (F.prod,       [Z],                    dict(axis=1),                           np_ref("prod")),
    (F.prod,       [Z],                    {},                                     np_ref("prod")),
    (F.norm,       [X342],                 {},                                     ref_norm),
    (F.norm,       [X342],                 dict(axis=1, keepdims=True),            ref_norm),
    (F.norm,       [away_from(0, X342)],   dict(p=1, axis=(0, 2)),                 ref_norm),
    (F.norm,       [away_from(0, X342)],   dict(p=3, axis=2),                      ref_norm),
    (F.cumsum,     [X342],                 {},                                     ref_cum("cumsum")),
    (F.cumsum,     [X342],                 dict(axis=1, exclusive=True),           ref_cum("cumsum")),
    (F.cumsum,     [X342],                 dict(axis=-1, reverse=True),            ref_cum("cumsum")),
    (F.cumsum,     [X342],                 dict(axis=1, exclusive=True, reverse=True), ref_cum("cumsum")),
    (F.cumprod,    [X342],                 {},                                     ref_cum("cumprod")),
    (F.cumprod,    [X342],                 dict(axis=1, exclusive=True),           ref_cum("cumprod")),
    (F.cumprod,    [X342],                 dict(axis=1, reverse=True),             ref_cum("cumprod")),
    (F.cumprod,    [Z],                    dict(axis=1),                           ref_cum("cumprod")),
    (F.cumprod,    [Z],                    dict(axis=1, exclusive=True, reverse=True), ref_cum("cumprod")),
    (F.reduce_sum, [X342],                 {},                                     lambda x: x.sum()),
    (F.reduce_mean, [X342],                {},                                     lambda x: x.mean()),
]


@pytest.mark.parametrize("f, inputs, kwargs, ref", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_function(f, inputs, kwargs, ref):
    outputs = [0] if kwargs.get("with_index") else None
    index_only = kwargs.get("only_index")  # its gradient is NNabla's convention
    grad = [] if index_only else None
    check_function(f, inputs, ref=ref, kwargs=kwargs, grad=grad, outputs=outputs)
    if index_only:
        check_index_output_grad(f, inputs, kwargs)


def test_reduce_is_deprecated_and_dispatches():
    x = nn.Variable.from_numpy_array(X342)
    with pytest.warns(DeprecationWarning):
        y = F.reduce(x, op="mean")
    y.forward()
    assert y.parent.name == "ReduceMean"
    np.testing.assert_allclose(y.d, X342.mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        check_function(F.reduce, [X342], ref=lambda x: x.sum())
        with pytest.raises(ValueError, match="op='max'"):
            F.reduce(x, op="max")


def test_max_index_dtype_and_args():
    x = nn.Variable.from_numpy_array(X342)
    y, i = F.max(x, axis=1, with_index=True)
    i.forward()
    assert i.d.dtype == np.uint64 and i.shape == (3, 2)
    assert y.parent.args == {"axes": [1], "keep_dims": False, "with_index": True,
                             "only_index": False}


def test_max_gradient_goes_to_first_tie():
    x = nn.Variable.from_numpy_array(np.array([1.0, 3.0, 3.0, 2.0]), need_grad=True)
    y = F.max(x)
    y.forward()
    x.g = 0
    y.backward()
    np.testing.assert_array_equal(x.g, [0, 1, 0, 0])


@pytest.mark.parametrize("f", [F.sum, F.mean, F.max, F.min, F.prod, F.norm, F.cumsum,
                               F.cumprod, F.reduce_sum, F.reduce_mean])
def test_float32_stays_float32(f):
    x = nn.Variable.from_numpy_array(np.random.RandomState(0).rand(3, 4).astype(np.float32))
    y = f(x)
    y.forward()
    assert y.d.dtype == np.float32
    assert isinstance(y.d, np.ndarray)


@pytest.mark.parametrize("f, kwargs", [
    (F.sum, dict(axis=3)), (F.mean, dict(axis=-4)), (F.max, dict(axis=(0, 0))),
    (F.min, dict(axis=5)), (F.prod, dict(axis=2)), (F.norm, dict(axis=9)),
    (F.cumsum, dict(axis=2)), (F.cumprod, dict(axis=-3)),
])
def test_bad_axis(f, kwargs):
    x = nn.Variable((3, 4))
    with pytest.raises(ValueError, match=r"axis"):
        f(x, **kwargs)


def test_bad_axis_message_names_function():
    with pytest.raises(ValueError, match=r"^Sum: axis=3 is out of range"):
        F.sum(nn.Variable((3, 4)), axis=3)


def test_norm_rejects_p_below_one():
    with pytest.raises(ValueError, match="Norm: p=0.5"):
        F.norm(nn.Variable((3,)), p=0.5)


def test_every_name_has_a_case():
    tested = {c[0].__name__ for c in CASES} | {"reduce"}
    assert set(reduction.__all__) <= tested, set(reduction.__all__) - tested


# -- max/min with_index and only_index: backward -----------------------------------

TIES = np.array([[[5.0, 1.0, 5.0, -2.0], [0.5, 3.0, 3.0, 1.0], [-1.0, -1.0, -4.0, 2.0]],
                 [[0.25, 0.0, -3.0, 2.5], [1.5, -0.5, 4.0, 4.0], [-2.0, 0.75, 0.75, 6.0]]])
INDEX_ARGS = [dict(axis=2, with_index=True), dict(axis=1, with_index=True, keepdims=True),
              dict(axis=(0, 2), with_index=True), dict(with_index=True),
              dict(axis=2, only_index=True), dict(axis=-1, only_index=True, keepdims=True),
              dict(only_index=True), dict(axis=2, with_index=True, only_index=True)]


@pytest.mark.parametrize("pick", ["max", "min"])
@pytest.mark.parametrize("kwargs", INDEX_ARGS, ids=str)
def test_max_min_index_outputs_backward(pick, kwargs):
    f = getattr(F, pick)
    # the gradient goes to the first extreme (ties included); an only_index output's
    # too, as NNabla's (as if it were the values); a second, index output's: none
    x = away_from([], randn(2, 3, 4))
    if kwargs.get("only_index"):
        check_function(f, [x], ref=ref_arg(pick), kwargs=kwargs, grad=[])
        check_index_output_grad(f, [x], kwargs)
    else:
        check_function(f, [x], ref=ref_arg(pick), kwargs=kwargs)
    xv = nn.Variable.from_numpy_array(TIES, need_grad=True)
    out = f(xv, **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    loss = F.sum(outs[0] * 2.0) + (F.sum(outs[1] * 3.0) if len(outs) > 1 else 0.0)
    loss.forward()
    xv.g = 0
    loss.backward()
    # 2 at the first extreme of each reduced group
    _, idx = ref_arg(pick)(TIES, **dict(kwargs, with_index=True, only_index=False))
    axes = kwargs.get("axis")
    axes = list(range(3)) if axes is None else sorted(np.atleast_1d(axes) % 3)
    perm = [i for i in range(3) if i not in axes] + axes
    moved = np.zeros(np.transpose(TIES, perm).shape)
    rows = moved.reshape(-1, int(np.prod([TIES.shape[a] for a in axes])))
    rows[np.arange(len(rows)), idx.reshape(-1).astype(int)] = 2.0
    want = np.transpose(moved, np.argsort(perm))
    np.testing.assert_array_equal(xv.g, want)


def test_only_index_outputs_pass_their_gradient_to_the_picked_elements_as_nnabla():
    """NNabla's max/min/sort with only_index=True backpropagate the index output's
    gradient as if it were the values (face-alignment's landmark head relies on it)."""
    from nnabla_parity import check_same_source
    x = np.random.RandomState(0).randn(2, 3, 2, 2).astype(np.float32)
    check_same_source('''
xv = nn.Variable.from_numpy_array(x, need_grad=True)
OUT = {}
for name, make in [("max", lambda v: F.max(v, axis=(2, 3), only_index=True)),
                   ("min", lambda v: F.min(v, axis=1, only_index=True)),
                   ("sort", lambda v: F.sort(v, axis=1, reverse=True, only_index=True))]:
    xv.grad.zero()
    y = make(xv)
    w = F.constant(1, y.shape)
    w.d = np.arange(y.size).reshape(y.shape) + 1.0
    loss = F.sum(y * w)
    loss.forward()
    loss.backward()
    OUT[name] = [y.d.copy(), xv.g.copy()]
''', x=x)
    xv = nn.Variable.from_numpy_array(x, need_grad=True)
    y = F.max(xv, axis=(2, 3), only_index=True)
    loss = F.sum(y * 2.0)
    loss.forward()
    loss.backward()
    rows = x.reshape(2, 3, 4)
    want = np.zeros_like(rows)
    np.put_along_axis(want, rows.argmax(-1)[..., None], 2.0, axis=-1)  # NumPy's reference
    np.testing.assert_array_equal(xv.g, want.reshape(x.shape))


SEEDED_INDEX_ROOT = '''
x = nn.Variable.from_numpy_array(np.array([[1., 5., 2.], [7., 0., 3.]], np.float32),
                                 need_grad=True)
y = F.max(x, axis=1, only_index=True)
y.forward()
x.g = 0
y.backward(np.array([0.5, 2.7], np.float32))
OUT = {"g": x.g.copy()}
'''


def test_an_index_root_is_seeded_in_float32_as_nnabla():
    """backward(seed) on an index output keeps the seed's fractions (NNabla keeps
    an integer root's gradient in float32)."""
    from nnabla_parity import check_same_source
    ns = {"nn": nn, "F": F, "np": np}
    exec(SEEDED_INDEX_ROOT, ns)
    np.testing.assert_array_equal(ns["OUT"]["g"],
                                  np.array([[0, 0.5, 0], [2.7, 0, 0]], np.float32))
    check_same_source(SEEDED_INDEX_ROOT)
