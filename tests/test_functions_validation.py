"""Validation metrics: forward vs NumPy (NNabla's tie and threshold rules), no gradient."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions import validation as validation_module
from gradcheck import check_function, randn


def ref_top_n(x, t, axis=None, n=1):
    axis = x.ndim - 1 if axis is None else axis % x.ndim
    xm = np.moveaxis(x, axis, -1)
    tm = np.moveaxis(t, axis, -1)[..., 0].astype(int)
    y = np.ones(tm.shape)
    for idx in np.ndindex(*tm.shape):
        if tm[idx] >= 0:
            y[idx] = float(np.sum(xm[idx] >= xm[idx][tm[idx]]) > n)
    return np.expand_dims(y, axis)


def ref_binary_error(x, t):
    return ((x >= 0.5) != (t >= 0.5)).astype(float)


def ref_confusion(x, t, axis=None):
    axis = x.ndim - 1 if axis is None else axis % x.ndim
    c = x.shape[axis]
    pred = np.argmax(x, axis=axis).ravel()
    label = np.moveaxis(t, axis, -1).reshape(-1).astype(int)
    m = np.zeros((c, c), np.int32)
    for lab, p in zip(label, pred):
        if 0 <= lab < c:
            m[lab, p] += 1
    return m


TIES = np.array([[3., 2, 1, 0], [0, 1, 2, 3], [3, 3, 1, 3], [1, 3, 3, 0], [5, 5, 5, 5],
                 [1, 2, 2, 2]])
TIE_LABELS = np.array([[0], [3], [1], [2], [0], [3]])

CASES = [
    (F.top_n_error, [randn(5, 4), np.random.RandomState(1).randint(0, 4, (5, 1))], {}, ref_top_n),
    (F.top_n_error, [randn(5, 4), np.random.RandomState(1).randint(0, 4, (5, 1))], {"n": 2},
     ref_top_n),
    (F.top_n_error, [randn(2, 4, 3), np.random.RandomState(1).randint(0, 4, (2, 1, 3))],
     {"axis": 1, "n": 3}, ref_top_n),
    (F.top_n_error, [TIES, TIE_LABELS], {"n": 1}, ref_top_n),
    (F.top_n_error, [TIES, TIE_LABELS], {"n": 2}, ref_top_n),
    (F.top_n_error, [TIES, TIE_LABELS], {"n": 3}, ref_top_n),
    (F.binary_error, [np.array([0.5, 0.49, 0.7, 0.2, 0.5]), np.array([0.5, 0.5, 0.0, 0.49, 0.4])],
     {}, ref_binary_error),
    (F.binary_error, [np.random.RandomState(0).rand(3, 4), np.random.RandomState(1).rand(3, 4)],
     {}, ref_binary_error),
    (F.confusion_matrix, [randn(6, 3), np.array([[0], [1], [2], [1], [-1], [0]])], {},
     ref_confusion),
    (F.confusion_matrix, [randn(2, 3, 4), np.random.RandomState(1).randint(0, 3, (2, 1, 4))],
     {"axis": 1}, ref_confusion),
]


@pytest.mark.parametrize("f,inputs,kwargs,ref", CASES)
def test_validation(f, inputs, kwargs, ref):
    check_function(f, inputs, ref=ref, kwargs=kwargs, grad=[])


def test_every_metric_has_a_case():
    assert set(validation_module.__all__) <= {f.__name__ for f, *_ in CASES}


def test_known_nnabla_values():
    x = nn.Variable.from_numpy_array(np.array([[1., 2, 3], [3, 3, 1], [5, 0, 0]], np.float32))
    t = nn.Variable.from_numpy_array(np.array([[1], [1], [2]]))
    cm = F.confusion_matrix(x, t)
    err = F.top_n_error(x, t)
    cm.forward()
    err.forward()
    np.testing.assert_array_equal(cm.d, [[0, 0, 0], [1, 0, 1], [1, 0, 0]])
    assert cm.d.dtype == np.int32
    np.testing.assert_array_equal(err.d, [[1], [1], [1]])
    assert err.d.dtype == np.float32


def test_no_gradient_flows():
    x = nn.Variable.from_numpy_array(randn(3, 4), need_grad=True)
    t = nn.Variable.from_numpy_array(np.array([[1], [0], [2]]))
    y = F.top_n_error(x, t)
    y.forward()
    x.g = 0
    y.backward()
    assert np.all(x.g == 0)


@pytest.mark.parametrize("f,shapes,kwargs,match", [
    (F.top_n_error, [(2, 3), (2,)], {}, "TopNError: target"),
    (F.top_n_error, [(2, 3), (2, 1)], {"n": 0}, "TopNError: n=0"),
    (F.top_n_error, [(2, 3), (2, 1)], {"axis": -3}, "TopNError: axis=-3"),
    (F.binary_error, [(2, 3), (3, 2)], {}, "BinaryError: x"),
    (F.confusion_matrix, [(2, 3), (2, 3)], {}, "ConfusionMatrix: target"),
])
def test_bad_inputs(f, shapes, kwargs, match):
    with pytest.raises(ValueError, match=match):
        f(*[nn.Variable(s) for s in shapes], **kwargs)


def test_parity_with_real_nnabla():
    from nnabla_parity import check_parity
    cases = [(f.__name__, inputs, kwargs, []) for f, inputs, kwargs, _ in CASES]
    assert check_parity(cases) == len(cases)
