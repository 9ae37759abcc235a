"""Layer functions: forward vs NumPy (naive loops for convolution), backward vs numeric."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from gradcheck import check_function, randn


def ref_affine(x, w, b=None, base_axis=1):
    base_axis %= x.ndim
    y = x.reshape(int(np.prod(x.shape[:base_axis])), -1).dot(w.reshape(w.shape[0], -1))
    if b is not None:
        y = y + b.reshape(-1)
    return y.reshape(x.shape[:base_axis] + w.shape[1:])


def ref_batch_matmul(a, b, transpose_a=False, transpose_b=False):
    a = np.swapaxes(a, -1, -2) if transpose_a else a
    b = np.swapaxes(b, -1, -2) if transpose_b else b
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    y = np.zeros(batch + (a.shape[-2], b.shape[-1]))
    for idx in np.ndindex(*batch):
        y[idx] = a[idx].dot(b[idx])
    return y


AFFINE_CASES = [
    ([randn(2, 3), randn(3, 4), randn(4, seed=1)], {}),
    ([randn(2, 3), randn(3, 4)], {}),
    ([randn(2, 3, 4), randn(12, 5), randn(5, seed=1)], {}),
    ([randn(2, 3, 4), randn(4, 2, 3), randn(2, 3, seed=1)], {"base_axis": 2}),
    ([randn(2, 3, 4), randn(4, 5)], {"base_axis": -1}),
    ([randn(2, 3), randn(6, 2)], {"base_axis": 0}),
]


@pytest.mark.parametrize("inputs,kwargs", AFFINE_CASES)
def test_affine(inputs, kwargs):
    check_function(F.affine, inputs, ref=ref_affine, kwargs=kwargs)


BATCH_MATMUL_CASES = [
    ([randn(2, 3, 4), randn(2, 4, 5, seed=1)], {}),
    ([randn(2, 4, 3), randn(2, 4, 5, seed=1)], {"transpose_a": True}),
    ([randn(2, 3, 4), randn(2, 5, 4, seed=1)], {"transpose_b": True}),
    ([randn(2, 4, 3), randn(2, 5, 4, seed=1)], {"transpose_a": True, "transpose_b": True}),
    ([randn(2, 1, 3, 4), randn(1, 3, 4, 2, seed=1)], {}),
    ([randn(1, 4, 3), randn(3, 5, 4, seed=1)], {"transpose_a": True, "transpose_b": True}),
]


@pytest.mark.parametrize("inputs,kwargs", BATCH_MATMUL_CASES)
def test_batch_matmul(inputs, kwargs):
    check_function(F.batch_matmul, inputs, ref=ref_batch_matmul, kwargs=kwargs)


def test_affine_keeps_float32():
    x = nn.Variable.from_numpy_array(randn(2, 3).astype(np.float32))
    w = nn.Variable.from_numpy_array(randn(3, 4).astype(np.float32))
    b = nn.Variable.from_numpy_array(randn(4).astype(np.float32))
    a3 = nn.Variable.from_numpy_array(randn(1, 2, 3).astype(np.float32))
    b3 = nn.Variable.from_numpy_array(randn(1, 3, 4).astype(np.float32))
    for y in (F.affine(x, w, b), F.batch_matmul(a3, b3)):
        y.forward()
        assert y.d.dtype == np.float32


@pytest.mark.parametrize("f,shapes,kwargs,match", [
    (F.affine, [(2, 3), (4, 5)], {}, "Affine: x .* gives 3 features"),
    (F.affine, [(2, 3), (3,)], {}, "Affine: weight must have at least 2"),
    (F.affine, [(2, 3), (3, 4), (5,)], {}, "Affine: bias"),
    (F.affine, [(2, 3), (3, 4)], {"base_axis": 2}, "Affine: base_axis=2"),
    (F.batch_matmul, [(3, 4), (4, 5)], {}, "BatchMatmul: a must have at least 3"),
    (F.batch_matmul, [(2, 3, 4), (1, 2, 4, 5)], {}, "BatchMatmul: a .* same number"),
    (F.batch_matmul, [(2, 3, 4), (2, 3, 5)], {}, "BatchMatmul: inner sizes"),
    (F.batch_matmul, [(2, 3, 4), (3, 4, 5)], {}, "BatchMatmul: batch axis 0"),
])
def test_bad_inputs(f, shapes, kwargs, match):
    xs = [nn.Variable(s) for s in shapes]
    with pytest.raises(ValueError, match=match):
        f(*xs, **kwargs)
