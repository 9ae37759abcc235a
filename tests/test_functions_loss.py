"""Loss functions: forward vs NumPy, backward vs numeric, label handling, errors."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions import loss as loss_module
from gradcheck import away_from, check_function, randn, uniform


def labels(shape, n_classes, seed=0):
    return np.random.RandomState(seed).randint(0, n_classes, size=shape)


def _move(x, t, axis):
    axis = x.ndim - 1 if axis is None else axis % x.ndim
    return np.moveaxis(x, axis, -1), np.moveaxis(t, axis, -1)[..., 0].astype(int), axis


def ref_softmax_ce(x, t, axis=None):
    xm, tm, axis = _move(x, t, axis)
    y = np.zeros(tm.shape)
    for idx in np.ndindex(*tm.shape):
        row = xm[idx]
        if tm[idx] >= 0:
            y[idx] = np.log(np.sum(np.exp(row - row.max()))) + row.max() - row[tm[idx]]
    return np.expand_dims(y, axis)


def ref_categorical_ce(x, t, axis=None):
    xm, tm, axis = _move(x, t, axis)
    y = np.zeros(tm.shape)
    for idx in np.ndindex(*tm.shape):
        if tm[idx] >= 0:
            y[idx] = -np.log(xm[idx][tm[idx]])
    return np.expand_dims(y, axis)


def ref_sigmoid_ce(x, t):
    s = 1 / (1 + np.exp(-x))
    return -(t * np.log(s) + (1 - t) * np.log(1 - s))


def ref_kl(p, q, base_axis=1):
    lead = p.shape[:base_axis]
    d = (p * np.log(p / q)).reshape(int(np.prod(lead)), -1).sum(axis=1)
    return d.reshape(lead + (1,))


def probs(*shape, axis=-1, seed=0):
    e = np.exp(randn(*shape, seed=seed))
    return e / e.sum(axis=axis, keepdims=True)


CASES = [
    # (function, inputs, kwargs, reference[, inputs to differentiate])
    (F.softmax_cross_entropy, [randn(4, 5), labels((4, 1), 5)], {}, ref_softmax_ce),
    (F.softmax_cross_entropy, [randn(3, 4, 2), labels((3, 1, 2), 4)], {"axis": 1}, ref_softmax_ce),
    (F.softmax_cross_entropy, [randn(3, 2, 2), labels((1, 2, 2), 3)], {"axis": 0}, ref_softmax_ce),
    (F.softmax_cross_entropy, [100 * randn(3, 4), np.array([[1], [-1], [3]])], {}, ref_softmax_ce),
    (F.categorical_cross_entropy, [probs(4, 5), labels((4, 1), 5)], {}, ref_categorical_ce),
    (F.categorical_cross_entropy, [probs(2, 3, 2, axis=1), labels((2, 1, 2), 3)], {"axis": 1},
     ref_categorical_ce),
    (F.categorical_cross_entropy, [probs(3, 4), np.array([[0], [-1], [2]])], {},
     ref_categorical_ce),
    (F.sigmoid_cross_entropy, [randn(3, 4), labels((3, 4), 2)], {}, ref_sigmoid_ce),
    (F.sigmoid_cross_entropy, [randn(2, 3, 2), uniform(0, 1, (2, 3, 2))], {}, ref_sigmoid_ce, [0]),
    (F.binary_cross_entropy, [uniform(0.1, 0.9, (3, 4)), uniform(0, 1, (3, 4), seed=1)], {},
     lambda x, t: -(t * np.log(x) + (1 - t) * np.log(1 - x))),
    (F.squared_error, [randn(3, 4), randn(3, 4, seed=1)], {}, lambda a, b: (a - b) ** 2),
    (F.squared_error, [randn(3, 4), randn(3, 1, seed=1)], {}, lambda a, b: (a - b) ** 2),
    (F.absolute_error, [away_from(0, randn(3, 4)), np.zeros((3, 4))], {},
     lambda a, b: np.abs(a - b)),
    (F.huber_loss, [away_from([-1, 1], randn(3, 4) * 2), np.zeros((3, 4))], {},
     lambda a, b, delta=1.0: np.where(np.abs(a - b) < delta, (a - b) ** 2,
                                      delta * (2 * np.abs(a - b) - delta))),
    (F.huber_loss, [away_from([-0.5, 0.5], randn(2, 5)), np.zeros((2, 5))], {"delta": 0.5},
     lambda a, b, delta: np.where(np.abs(a - b) < delta, (a - b) ** 2,
                                  delta * (2 * np.abs(a - b) - delta))),
    (F.epsilon_insensitive_loss, [away_from([-0.3, 0.3], randn(3, 4)), np.zeros((3, 4))],
     {"epsilon": 0.3}, lambda a, b, epsilon: np.maximum(np.abs(a - b) - epsilon, 0)),
    (F.kl_multinomial, [probs(3, 4), probs(3, 4, seed=1)], {}, ref_kl),
    (F.kl_multinomial, [probs(2, 3, 4), probs(2, 3, 4, seed=1)], {"base_axis": 2}, ref_kl),
    (F.kl_multinomial, [probs(2, 3, 4).reshape(2, 12) / 3, probs(2, 12, seed=1)], {}, ref_kl),
]


@pytest.mark.parametrize("case", CASES)
def test_loss(case):
    f, inputs, kwargs, ref, *grad = case
    check_function(f, inputs, ref=ref, kwargs=kwargs, grad=grad[0] if grad else None)


def test_every_loss_has_a_case():
    tested = {f.__name__ for f, *_ in CASES}
    assert set(loss_module.__all__) <= tested, set(loss_module.__all__) - tested


def test_float_labels_are_accepted():
    t = labels((2, 3, 1), 4)
    check_function(F.softmax_cross_entropy, [randn(2, 3, 4), t.astype(float)], grad=[0],
                   ref=lambda x, t: ref_softmax_ce(x, t))


def test_label_gets_no_gradient_and_ignored_samples_none():
    x = nn.Variable.from_numpy_array(randn(3, 4), need_grad=True)
    t = nn.Variable.from_numpy_array(np.array([[1], [-1], [2]]))
    y = F.softmax_cross_entropy(x, t)
    y.forward()
    x.g = 0
    y.backward(np.ones((3, 1)))
    assert np.all(x.g[1] == 0)
    np.testing.assert_allclose(x.g.sum(axis=1), 0, atol=1e-6)


def test_float32_stays_float32():
    x32 = randn(3, 4).astype(np.float32)
    t = nn.Variable.from_numpy_array(labels((3, 1), 4))
    for f, args in [(F.softmax_cross_entropy, (t,)), (F.categorical_cross_entropy, (t,)),
                    (F.squared_error, (x32,)), (F.huber_loss, (x32,)), (F.absolute_error, (x32,)),
                    (F.epsilon_insensitive_loss, (x32, 0.1)),
                    (F.sigmoid_cross_entropy, (nn.Variable.from_numpy_array(labels((3, 4), 2)),)),
                    (F.binary_cross_entropy, (np.abs(x32) / 4,)),
                    (F.kl_multinomial, (np.abs(x32) + 1,))]:
        x = nn.Variable.from_numpy_array(np.abs(x32) / 4 + 0.1, need_grad=True)
        y = f(x, *[nn.Variable.from_numpy_array(a) if isinstance(a, np.ndarray) else a
                   for a in args])
        y.forward()
        y.backward()
        assert y.d.dtype == np.float32 and x.g.dtype == np.float32, f.__name__


def test_log_of_zero_is_clamped_like_nnabla():
    x = nn.Variable.from_numpy_array(np.array([0.0, 1.0], np.float32))
    t = nn.Variable.from_numpy_array(np.array([1.0, 0.0], np.float32))
    y = F.binary_cross_entropy(x, t)
    y.forward()
    np.testing.assert_allclose(y.d, [87.33655, 87.33655], rtol=1e-6)


@pytest.mark.parametrize("f,shapes,kwargs,match", [
    (F.softmax_cross_entropy, [(2, 3), (2,)], {}, "SoftmaxCrossEntropy: target"),
    (F.softmax_cross_entropy, [(2, 3), (2, 3)], {}, "SoftmaxCrossEntropy: target"),
    (F.softmax_cross_entropy, [(2, 3), (2, 1)], {"axis": 2}, "SoftmaxCrossEntropy: axis=2"),
    (F.categorical_cross_entropy, [(2, 3, 4), (2, 3, 1)], {"axis": 1}, "CategoricalCrossEntropy"),
    (F.sigmoid_cross_entropy, [(2, 3), (2, 1)], {}, "SigmoidCrossEntropy: x .* same shape"),
    (F.squared_error, [(2, 3), (3, 2)], {}, "SquaredError: .* cannot be broadcast"),
    (F.kl_multinomial, [(2, 3), (2, 4)], {}, "KLMultinomial: p"),
    (F.kl_multinomial, [(2, 3), (2, 3)], {"base_axis": 3}, "KLMultinomial: base_axis=3"),
])
def test_bad_inputs(f, shapes, kwargs, match):
    with pytest.raises(ValueError, match=match):
        f(*[nn.Variable(s) for s in shapes], **kwargs)


def test_parity_with_real_nnabla():
    from nnabla_parity import check_parity
    x, t = randn(4, 5), labels((4, 1), 5)
    p, q = probs(3, 4), probs(3, 4, seed=1)
    a, b = randn(3, 4), randn(3, 4, seed=1)
    cases = [
        ("softmax_cross_entropy", [x, t], {}, [0]),
        ("softmax_cross_entropy", [randn(3, 4, 2), labels((3, 1, 2), 4)], {"axis": 1}, [0]),
        ("categorical_cross_entropy", [p, labels((3, 1), 4)], {}, [0]),
        ("sigmoid_cross_entropy", [a, labels((3, 4), 2)], {}, [0]),
        ("binary_cross_entropy", [uniform(0.1, 0.9, (3, 4)), uniform(0, 1, (3, 4), seed=1)], {},
         [0, 1]),
        ("squared_error", [a, b], {}, [0, 1]),
        ("absolute_error", [a, b], {}, [0, 1]),
        ("huber_loss", [a * 2, b], {"delta": 1.5}, [0, 1]),
        ("epsilon_insensitive_loss", [a, b], {"epsilon": 0.5}, [0, 1]),
        ("kl_multinomial", [p, q], {}, [0, 1]),
    ]
    assert check_parity(cases, rtol=1e-4, atol=1e-5) == len(cases)


# -- sigmoid_cross_entropy with soft targets ------------------------------------

SOFT_X = np.array([[-3.0, -0.5, 0.0, 0.5, 3.0, 20.0], [1.0, 1.0, 1.0, 1.0, -20.0, 7.0]])
SOFT_T = np.array([[0.3, 0.7, 0.5, 0.2, 0.9, 0.1], [1.0, 0.0, 0.25, 0.75, 0.6, 0.4]])


def test_sigmoid_cross_entropy_soft_targets_forward_and_gradient():
    # The documented formula with the targets as given (NNabla truncates them to int).
    check_function(F.sigmoid_cross_entropy, [SOFT_X, SOFT_T], ref=ref_sigmoid_ce, grad=[0])
    x = nn.Variable.from_numpy_array(SOFT_X, need_grad=True)
    y = F.sigmoid_cross_entropy(x, nn.Variable.from_numpy_array(SOFT_T))
    y.forward()
    x.g = 0
    y.backward(np.ones(SOFT_X.shape))
    np.testing.assert_allclose(x.g, 1 / (1 + np.exp(-SOFT_X)) - SOFT_T, rtol=1e-12)
    # sigmoid + binary_cross_entropy computes the same loss (NNabla's note says so too).
    bce = F.binary_cross_entropy(F.sigmoid(x), nn.Variable.from_numpy_array(SOFT_T))
    bce.forward()
    np.testing.assert_allclose(y.d[:, :4], bce.d[:, :4], rtol=1e-10)
