"""Array manipulation: forward vs NumPy, backward vs central differences, bad input."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions import array, linalg, rearrange
from gradcheck import away_from, check_function, check_index_output_grad, randn, uniform

X = randn(2, 3, 4)


def ref_slice(x, start=None, stop=None, step=None):
    n = x.ndim
    pad = lambda v: [None] * (n - len(v or ())) + list(v or ())
    return x[tuple(slice(a, b, c) for a, b, c in zip(pad(start), pad(stop), pad(step)))]


def ref_pad(x, pad_width, mode="constant", constant_value=0):
    pairs = [(0, 0)] * (x.ndim - len(pad_width) // 2) + list(zip(pad_width[::2], pad_width[1::2]))
    if mode == "constant":
        return np.pad(x, pairs, constant_values=constant_value)
    return np.pad(x, pairs, mode={"reflect": "reflect", "repeat": "edge"}[mode])


def ref_shift(x, shifts=None, border_mode="nearest"):
    shifts = [0] * (x.ndim - len(shifts)) + list(shifts)
    np_mode = {"nearest": "edge", "reflect": "symmetric"}[border_mode]
    for ax, s in enumerate(shifts):
        if s:
            n = x.shape[ax]
            pairs = [(0, 0)] * x.ndim
            pairs[ax] = (abs(s), abs(s))
            padded = np.pad(x, pairs, mode=np_mode)
            x = np.take(padded, np.arange(n) + abs(s) - s, axis=ax)
    return x


def ref_broadcast_to(x, y, axis=None):
    axis = x.ndim - y.ndim if axis is None or axis < 0 else axis
    return np.broadcast_to(y.reshape((1,) * axis + y.shape + (1,) * (x.ndim - axis - y.ndim)),
                           x.shape)


def ref_sort(x, axis=-1, reverse=False, with_index=False, only_index=False):
    order = np.argsort(-x if reverse else x, axis=axis, kind="stable")
    y = np.take_along_axis(x, order, axis)
    if only_index:
        return order.astype(np.uint64)
    return (y, order.astype(np.uint64)) if with_index else y


def ref_clip_by_norm(x, clip_norm, axis=None):
    axes = None if axis is None else tuple(np.atleast_1d(axis))
    norm = np.sqrt((x * x).sum(axis=axes, keepdims=True))
    return x * clip_norm / np.maximum(norm, clip_norm)


def ref_trilu(x, k=0, upper=True):
    return np.triu(x, k) if upper else np.tril(x, k)


def ref_diag(x):
    out = np.zeros(x.shape + x.shape[-1:])
    i = np.arange(x.shape[-1])
    out[..., i, i] = x
    return out


def spd(b, n, seed=0):
    a = randn(b, n, n, seed=seed)
    return a @ a.transpose(0, 2, 1) + n * np.eye(n)


def cholesky_of_product(a, upper=False):
    """batch_cholesky on A A^T + 3I keeps the input symmetric positive definite."""
    s = F.batch_matmul(a, a, transpose_b=True) + nn.Variable.from_numpy_array(
        3 * np.eye(a.shape[-1]))
    return F.batch_cholesky(s, upper=upper)


def ref_cholesky_of_product(a, upper=False):
    lower = np.linalg.cholesky(a @ a.transpose(0, 2, 1) + 3 * np.eye(a.shape[-1]))
    return lower.transpose(0, 2, 1) if upper else lower


cholesky_of_product.__name__ = "batch_cholesky"

#       function           inputs                       kwargs                              reference
CASES = [
    (F.reshape,        [X],                         dict(shape=(4, 6)),                lambda x, shape: x.reshape(shape)),
    (F.reshape,        [X],                         dict(shape=(-1, 2)),               lambda x, shape: x.reshape(shape)),
    (F.reshape,        [randn(6)],                  dict(shape=(1, 2, 3, 1)),          lambda x, shape: x.reshape(shape)),
    (F.transpose,      [X],                         dict(axes=(2, 0, 1)),              lambda x, axes: x.transpose(axes)),
    (F.transpose,      [randn(3, 5)],               dict(axes=(1, 0)),                 lambda x, axes: x.T),
    (F.transpose,      [X],                         dict(axes=(-1, 0, 1)),             lambda x, axes: x.transpose(2, 0, 1)),
    (F.broadcast,      [randn(3, 1)],               dict(shape=(2, 3, 4)),             lambda x, shape: np.broadcast_to(x, shape)),
    (F.broadcast,      [randn(1, 4)],               dict(shape=(3, 4)),                lambda x, shape: np.broadcast_to(x, shape)),
    (F.broadcast_to,   [X, randn(2)],               dict(axis=0),                      ref_broadcast_to),
    (F.broadcast_to,   [X, randn(3, 4)],            {},                                ref_broadcast_to),
    (F.broadcast_to,   [X, randn(3)],               dict(axis=1),                      ref_broadcast_to),
    (F.concatenate,    [X, randn(2, 3, 2, seed=1)], {},                                lambda *x: np.concatenate(x, -1)),
    (F.concatenate,    [X, randn(1, 3, 4, seed=1), randn(2, 3, 4, seed=2)], dict(axis=0),
     lambda *x, axis: np.concatenate(x, axis)),
    (F.concatenate,    [randn(3, 2), randn(3, 5, seed=1)], dict(axis=-1),              lambda *x, axis: np.concatenate(x, axis)),
    (F.split,          [X],                         {},                                lambda x: tuple(x)),
    (F.split,          [X],                         dict(axis=2),                      lambda x, axis: tuple(np.moveaxis(x, 2, 0))),
    (F.stack,          [X, randn(2, 3, 4, seed=1)], {},                                lambda *x: np.stack(x)),
    (F.stack,          [X, randn(2, 3, 4, seed=1), randn(2, 3, 4, seed=2)], dict(axis=3), lambda *x, axis: np.stack(x, axis)),
    (F.slice,          [X],                         dict(start=(0, 1, 1), stop=(2, 3, 4), step=(1, 1, 2)), ref_slice),
    (F.slice,          [X],                         dict(start=(1, 2, 3), stop=(None, None, None), step=(-1, -1, -2)), ref_slice),
    (F.slice,          [X],                         dict(start=(0, -1, 0), stop=(2, -4, 4), step=(1, -1, 1)), ref_slice),
    (F.slice,          [X],                         dict(start=(1,), stop=(3,)),       ref_slice),
    (F.slice,          [X],                         {},                                ref_slice),
    (F.pad,            [X],                         dict(pad_width=(1, 2)),            ref_pad),
    (F.pad,            [X],                         dict(pad_width=(1, 0, 2, 1), constant_value=3.0), ref_pad),
    (F.pad,            [X],                         dict(pad_width=(1, 2), mode="reflect"), ref_pad),
    (F.pad,            [X],                         dict(pad_width=(2, 1, 5, 6), mode="reflect"), ref_pad),
    (F.pad,            [X],                         dict(pad_width=(1, 2, 2, 1), mode="repeat"), ref_pad),
    (F.pad,            [X],                         dict(pad_width=(1, 1, 1, 1, 1, 1), mode="repeat"), ref_pad),
    (F.tile,           [X],                         dict(reps=(2,)),                   lambda x, reps: np.tile(x, reps)),
    (F.tile,           [X],                         dict(reps=(2, 1, 3, 2)),           lambda x, reps: np.tile(x, reps)),
    (F.tile,           [randn(3)],                  dict(reps=3),                      lambda x, reps: np.tile(x, reps)),
    (F.flip,           [X],                         {},                                lambda x: x[..., ::-1]),
    (F.flip,           [X],                         dict(axes=(0, 2)),                 lambda x, axes: np.flip(x, axes)),
    (F.shift,          [X],                         dict(shifts=(0, 1, -1)),           ref_shift),
    (F.shift,          [X],                         dict(shifts=(2,), border_mode="reflect"), ref_shift),
    (F.shift,          [randn(2, 5, 6)],            dict(shifts=(-3, 7), border_mode="reflect"), ref_shift),
    (F.shift,          [X],                         {},                                lambda x: x),
    (F.sort,           [X],                         {},                                ref_sort),
    (F.sort,           [X],                         dict(axis=0, reverse=True),        ref_sort),
    (F.sort,           [X],                         dict(axis=1, with_index=True),     ref_sort),
    (F.sort,           [X],                         dict(axis=2, only_index=True),     ref_sort),
    (F.shape,          [X],                         {},                                lambda x: np.array(x.shape, np.float32)),
    (F.shape,          [X],                         dict(start=1, end=2),              lambda x, start, end: np.array([3.0])),
    (F.shape,          [X],                         dict(start=-2),                    lambda x, start: np.array([3.0, 4.0])),
    (F.matrix_diag,    [randn(2, 3)],               {},                                ref_diag),
    (F.matrix_diag,    [randn(4)],                  {},                                ref_diag),
    (F.matrix_diag_part, [randn(2, 3, 3)],          {},                                lambda x: np.diagonal(x, 0, -2, -1)),
    (F.trilu,          [X],                         {},                                ref_trilu),
    (F.trilu,          [X],                         dict(k=1, upper=False),            ref_trilu),
    (F.trilu,          [randn(4, 4)],               dict(k=-1),                        ref_trilu),
    (F.meshgrid,       [randn(2), randn(3, seed=1)], {},                               lambda *x: tuple(np.meshgrid(*x))),
    (F.meshgrid,       [randn(2), randn(3, seed=1), randn(4, seed=2)], dict(ij_indexing=True),
     lambda *x, ij_indexing: tuple(np.meshgrid(*x, indexing="ij"))),
    (F.meshgrid,       [randn(2), randn(3, seed=1), randn(4, seed=2)], {},             lambda *x: tuple(np.meshgrid(*x))),
    (F.batch_det,      [randn(2, 3, 3)],            {},                                np.linalg.det),
    (F.batch_logdet,   [randn(3, 2, 2)],            {},                                lambda x: np.linalg.slogdet(x)[1]),
    (F.batch_inv,      [spd(2, 3)],                 {},                                np.linalg.inv),
    (F.batch_inv,      [randn(2, 2, 2) + 2 * np.eye(2)], {},                           np.linalg.inv),
    (cholesky_of_product, [randn(2, 3, 3)],         {},                                ref_cholesky_of_product),
    (cholesky_of_product, [randn(2, 3, 3)],         dict(upper=True),                  ref_cholesky_of_product),
    (F.clip_by_value,  [away_from([-0.5, 0.7], X)], dict(min=-0.5, max=0.7),       lambda x, min, max: np.clip(x, min, max)),
    (F.clip_by_value,  [away_from([-0.5, 0.7], X), np.full((3, 1), -0.5), np.full((4,), 0.7)], {},
     lambda x, lo, hi: np.clip(x, lo, hi)),
    (F.clip_by_norm,   [X],                         dict(clip_norm=1.5),               ref_clip_by_norm),
    (F.clip_by_norm,   [X],                         dict(clip_norm=1.5, axis=2),       ref_clip_by_norm),
    (F.clip_by_norm,   [0.1 * X],                   dict(clip_norm=5.0, axis=(0, 1)),  ref_clip_by_norm),
    (F.dot,            [randn(4), randn(4, seed=1)], {},                               np.dot),
    (F.dot,            [randn(3, 4), randn(4, 2, seed=1)], {},                         np.dot),
    (F.dot,            [randn(4), randn(4, 2, seed=1)], {},                            np.dot),
    (F.dot,            [randn(2, 3, 4), randn(4, seed=1)], {},                         np.dot),
    (F.dot,            [randn(2, 3, 4), randn(4, 2, seed=1)], {},                      np.dot),
    (F.dot,            [randn(2, 4), randn(3, 4, 2, seed=1)], {},                      np.dot),
]

NOT_DIFFERENTIABLE = {F.broadcast_to: "NNabla raises when its gradient is requested",
                      F.shape: "an integer description of the shape"}


@pytest.mark.parametrize("f, inputs, kwargs, ref", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_function(f, inputs, kwargs, ref):
    grad = [] if f in NOT_DIFFERENTIABLE or kwargs.get("only_index") else None
    outputs = [0] if kwargs.get("with_index") else None
    check_function(f, inputs, ref=ref, kwargs=kwargs, grad=grad, outputs=outputs)
    if kwargs.get("only_index"):  # its gradient is NNabla's convention, not the index's
        check_index_output_grad(f, inputs, kwargs)


def test_batch_cholesky_direct():
    x = spd(2, 3)
    check_function(F.batch_cholesky, [x], ref=np.linalg.cholesky, grad=[])
    check_function(F.batch_cholesky, [x], ref=lambda x, upper: np.linalg.cholesky(x).transpose(0, 2, 1),
                   kwargs=dict(upper=True), grad=[])


def test_clip_by_norm_rejects_non_positive_norm():
    with pytest.raises(ValueError, match=r"clip_by_norm: clip_norm=0 must be > 0"):
        F.clip_by_norm(nn.Variable((2, 3)), 0)


def test_reshape_shares_memory_as_nnabla_inplace():
    x = nn.Variable.from_numpy_array(X)
    y = F.reshape(x, (6, 4))
    y.forward()
    y.d[0, 0] = 100.0
    assert x.d[0, 0, 0] == 100.0


def test_assign_copies_src_into_dst():
    dst = nn.Variable.from_numpy_array(np.zeros((2, 3)), need_grad=True)
    src = nn.Variable.from_numpy_array(randn(2, 3), need_grad=True)
    y = F.assign(dst, src)
    y.forward()
    np.testing.assert_allclose(dst.d, src.d)
    np.testing.assert_allclose(y.d, src.d)
    dst.g, src.g = 0, 0
    g = randn(2, 3, seed=3)
    y.backward(g)
    np.testing.assert_allclose(dst.g, g)
    np.testing.assert_allclose(src.g, 0)


def test_sort_gradient_is_the_true_one():
    x = nn.Variable.from_numpy_array(np.array([3.0, 1.0, 2.0]), need_grad=True)
    y = F.sort(x)
    y.forward()
    x.g = 0
    y.backward(np.array([10.0, 20.0, 30.0]))
    np.testing.assert_allclose(x.g, [30.0, 10.0, 20.0])


def test_split_and_stack_roundtrip_names():
    x = nn.Variable.from_numpy_array(X)
    parts = F.split(x, axis=1)
    assert len(parts) == 3 and parts[0].parent.name == "Split"
    assert F.stack(*parts, axis=1).shape == X.shape


def test_args_match_nnabla_names():
    x = nn.Variable((2, 3, 4))
    assert F.reshape(x, (4, -1)).parent.args == {"shape": [4, 6], "inplace": True}
    assert F.transpose(x, (2, 0, 1)).parent.args == {"axes": [2, 0, 1]}
    assert F.concatenate(x, x).parent.args == {"axis": 2}
    assert F.slice(x, (0, 1, 0), (2, 3, 4), (1, 1, 2)).parent.args == {
        "start": [0, 1, 0], "stop": [2, 3, 4], "step": [1, 1, 2]}
    assert F.pad(x, (1, 1)).parent.args == {"pad_width": [1, 1], "mode": "constant",
                                             "constant_value": 0}


@pytest.mark.parametrize("f", [F.reshape, F.transpose, F.broadcast, F.concatenate, F.stack,
                               F.slice, F.pad, F.tile, F.flip, F.shift, F.sort, F.trilu,
                               F.matrix_diag, F.batch_inv, F.batch_det])
def test_float32_stays_float32(f):
    x = nn.Variable.from_numpy_array(np.random.RandomState(0).rand(2, 3, 3).astype(np.float32))
    args = {F.reshape: ((9, 2),), F.transpose: ((1, 0, 2),), F.broadcast: ((2, 2, 3, 3),),
            F.pad: ((1, 1),), F.tile: ((2,),)}.get(f, ())
    y = f(x, x) if f in (F.concatenate, F.stack) else f(x, *args)
    y.forward()
    assert y.d.dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda x: F.reshape(x, (5, -1)), r"Reshape: cannot infer -1 in shape=\(5, -1\)"),
    (lambda x: F.reshape(x, (5, 5)), r"Reshape: shape=\(5, 5\) has 25 elements but the input \(2, 3, 4\) has 24"),
    (lambda x: F.reshape(x, (-1, -1)), r"Reshape: shape=\(-1, -1\) may have only one -1"),
    (lambda x: F.transpose(x, (0, 1)), r"Transpose: axes=\(0, 1\) must list each"),
    (lambda x: F.transpose(x, (0, 1, 3)), r"Transpose: axes=\(0, 1, 3\) is out of range"),
    (lambda x: F.transpose(x, (0, 1, 1)), r"Transpose: axes=\(0, 1, 1\) repeats"),
    (lambda x: F.broadcast(x, (2, 5, 4)), r"Broadcast: cannot broadcast an input of shape \(2, 3, 4\)"),
    (lambda x: F.broadcast(x, (3, 4)), r"Broadcast: cannot broadcast"),
    (lambda x: F.broadcast_to(x, nn.Variable((4, 3))), r"BroadcastTo: y \(4, 3\) must match x"),
    (lambda x: F.concatenate(x, nn.Variable((2, 2, 4)), axis=2),
     r"Concatenate: input 1 has shape \(2, 2, 4\), which must match input 0"),
    (lambda x: F.concatenate(x, nn.Variable((2, 3)), axis=0), r"Concatenate: input 1"),
    (lambda x: F.concatenate(x, x, axis=3), r"Concatenate: axis=3 is out of range"),
    (lambda x: F.stack(x, nn.Variable((2, 3, 5))), r"Stack: input 1 has shape \(2, 3, 5\)"),
    (lambda x: F.split(x, axis=-4), r"Split: axis=-4 is out of range"),
    (lambda x: F.slice(x, (0, 0, 0, 0), (1, 1, 1, 1)), r"Slice: start=\(0, 0, 0, 0\) has more entries"),
    (lambda x: F.slice(x, (0,), (1,), (0,)), r"Slice: step=\(None, None, 0\) must not contain 0"),
    (lambda x: F.pad(x, (1, 2, 3)), r"Pad: pad_width=\(1, 2, 3\) must hold \(before, after\) pairs"),
    (lambda x: F.pad(x, (1, 1), mode="wrap"), r"Pad: mode='wrap'"),
    (lambda x: F.flip(x, (3,)), r"Flip: axes=\(3,\) is out of range"),
    (lambda x: F.shift(x, (1, 1), border_mode="constant"), r"Shift: border_mode='constant'"),
    (lambda x: F.matrix_diag_part(x), r"MatrixDiagPart: x must end with a square matrix"),
    (lambda x: F.batch_det(x), r"BatchDet: x must be a batch of square matrices \(B, n, n\), got shape \(2, 3, 4\)"),
    (lambda x: F.batch_inv(nn.Variable((3, 3))), r"BatchInv: x must be a batch of square matrices"),
    (lambda x: F.meshgrid(x), r"Meshgrid: input 0 must be 1-D"),
    (lambda x: F.trilu(nn.Variable((3,))), r"Trilu: x must have at least 2 dimensions"),
    (lambda x: F.assign(x, nn.Variable((2, 3))), r"Assign: src \(2, 3\) must have the shape of dst"),
    (lambda x: F.tile(x, (0, 2)), r"Tile: reps=\(0, 2\) must be positive"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call(nn.Variable((2, 3, 4)))


def test_every_name_has_a_case():
    tested = {c[0].__name__ for c in CASES} | {"assign"}
    tested |= {"eye_like", "einsum"}  # in linalg.py; tested in test_functions_special.py
    public = set(array.__all__) | set(rearrange.__all__) | set(linalg.__all__)
    assert public <= tested, public - tested
