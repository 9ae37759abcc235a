"""Bad input to the numeric function families (activation, reduction, loss,
normalization, linear algebra, sorting, math): each case either gives the
correct result (a NumPy reference) or an error raised when the node is built,
whose message starts with the function's name and names the argument.

What NNabla 1.39 does, measured: softmax, log_softmax, the class losses and
every reduction over an axis of size 0 stop the process with a floating-point
exception (nablite refuses them); reductions and axis functions refuse an axis
of a 0-d input; sort and top_k_data of an empty input give empty results;
batch_det/batch_inv/batch_logdet compute float16 input (as float32); batch_inv
of a singular matrix gives non-finite values (nablite: NaN); leaky_relu takes
``alpha=np.array([0.1])``; arange with a NaN bound gives [] or [0.] and with
an infinite stop never returns (nablite refuses non-finite bounds).
"""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from gradcheck import check_function, randn

V = nn.Variable.from_numpy_array


def _forward(y):
    ys = y if isinstance(y, tuple) else (y,)
    for v in ys:
        v.forward()
    return [v.d for v in ys]


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.logaddexp(0, x)


def _stat_params():
    return V(np.zeros((1, 3))), V(np.ones((1, 3)))


# (call building the graph, exception type, pattern the message must match from its start)
ERRORS = [
    # a reduced axis of size 0 (NNabla: floating-point exception)
    (lambda: F.softmax(V(np.zeros((0, 3, 4))), axis=0), ValueError, r"^Softmax: axis=0 .*size 0"),
    (lambda: F.softmax(V(np.zeros((3, 0)))), ValueError, r"^Softmax: axis=1 .*\(3, 0\)"),
    (lambda: F.log_softmax(V(np.zeros((2, 0, 4))), axis=1), ValueError, r"^LogSoftmax: axis=1"),
    (lambda: F.softmax_cross_entropy(V(np.zeros((4, 0))), V(np.zeros((4, 1), int))),
     ValueError, r"^SoftmaxCrossEntropy: axis=1 .*size 0"),
    (lambda: F.categorical_cross_entropy(V(np.zeros((0, 2, 2))), V(np.zeros((1, 2, 2), int)),
                                         axis=0), ValueError, r"^CategoricalCrossEntropy: axis=0"),
    (lambda: F.max(V(np.zeros((3, 0, 2))), axis=1), ValueError, r"^Max: axis=\[1\] .*no elements"),
    (lambda: F.max(V(np.zeros((3, 0, 2))), axis=1, with_index=True), ValueError, r"^Max: axis"),
    (lambda: F.max(V(np.zeros((0, 4, 2))), axis=(0, 2), only_index=True), ValueError,
     r"^Max: axis=\[0, 2\]"),
    (lambda: F.min(V(np.zeros((0, 4, 2)))), ValueError, r"^Min: axis=\[0, 1, 2\] .*minimum"),
    # an axis of a 0-d input
    (lambda: F.sum(V(np.array(1.0)), axis=0), ValueError, r"^Sum: axis=0 .*0-d"),
    (lambda: F.mean(V(np.array(1.0)), axis=0, keepdims=True), ValueError, r"^Mean: axis=0"),
    (lambda: F.max(V(np.array(1.0)), axis=[0]), ValueError, r"^Max: axis=\[0\] .*0-d"),
    (lambda: F.norm(V(np.array(1.0)), axis=0), ValueError, r"^Norm: axis=0"),
    (lambda: F.celu(V(np.array(1.0)), axis=0), ValueError, r"^CELU: axis=0 .*0-d"),
    (lambda: F.crelu(V(np.array(1.0))), ValueError, r"^CReLU: axis=1 .*0-d"),
    (lambda: F.sort(V(np.array(1.0)), axis=0), ValueError, r"^Sort: axis=0 .*0-d"),
    (lambda: F.weight_standardization(V(np.array(1.0))), ValueError,
     r"^WeightStandardization: channel_axis=0 .*0-d"),
    (lambda: F.layer_normalization(V(np.array(1.0)), None, None), ValueError,
     r"^LayerNormalization: batch_axis=\[0\] .*0-d"),
    (lambda: F.clip_grad_by_norm(V(np.array(1.0)), 1.0, axes=0), ValueError,
     r"^ClipGradByNorm: axes=0 .*0-d"),
    # x None with beta / gamma given (beta would take its place)
    (lambda: F.layer_normalization(None, V(np.zeros((1, 5))), V(np.ones((1, 5)))), TypeError,
     r"^LayerNormalization: x is None"),
    (lambda: F.instance_normalization(None, V(np.zeros((1, 3, 1, 1))), V(np.ones((1, 3, 1, 1)))),
     TypeError, r"^InstanceNormalization: x is None"),
    (lambda: F.group_normalization(None, None, V(np.ones((1, 6, 1, 1))), num_groups=3),
     TypeError, r"^GroupNormalization: x is None"),
    (lambda: F.batch_normalization(None, *_stat_params(), *_stat_params()), TypeError,
     r"^BatchNormalization: x is None"),
    (lambda: F.fused_batch_normalization(None, *_stat_params(), *_stat_params()), TypeError,
     r"^FusedBatchNormalization: x is None"),
    (lambda: F.tensor_normalization(None, [1]), TypeError, r"^TensorNormalization: x is None"),
    # other shapes and values
    (lambda: F.batch_normalization(V(np.ones(4)), *[V(np.ones(4)) for _ in range(4)]),
     ValueError, r"^BatchNormalization: axes=\[1\] is out of range"),
    (lambda: F.mean_subtraction(V(np.zeros((0, 3))), V(np.zeros(3)), V(np.zeros(()))),
     ValueError, r"^MeanSubtraction: x \(0, 3\) holds no samples"),
    (lambda: F.arange(0, 5, float("nan")), ValueError, r"^Arange: step=nan must be a finite"),
    (lambda: F.arange(0, float("inf"), 1), ValueError, r"^Arange: stop=inf must be a finite"),
    (lambda: F.arange(float("nan"), 5), ValueError, r"^Arange: start=nan"),
    (lambda: F.leaky_relu(V(np.ones((2, 3))), alpha=np.array([0.1, 0.2])), TypeError,
     r"^LeakyReLU: alpha=array\(\[0.1, 0.2\]\) must be a number"),
    (lambda: F.add_scalar(V(np.ones((2, 3))), np.array([1.0, 2.0])), TypeError,
     r"^AddScalar: val=array\(\[1., 2.\]\) must be a number"),
    (lambda: F.elu(V(np.ones((2, 3))), alpha="a"), TypeError, r"^ELU: alpha='a' must be a number"),
]


@pytest.mark.parametrize("build,exc,pattern", ERRORS, ids=[e[2].split(":")[0][1:] + f"-{i}"
                                                          for i, e in enumerate(ERRORS)])
def test_bad_input_is_refused_when_the_graph_is_built(build, exc, pattern):
    with pytest.raises(exc, match=pattern) as info:
        build()  # a static graph: the error comes from setup, before any forward
    assert info.value.__cause__ is None or not str(info.value).endswith(
        str(info.value.__cause__)), "NumPy's own message behind the name"


# 0-d inputs of the elementwise activations (NumPy gives their results as
# scalars, which the in-place formulas could not take): value and gradient
ZERO_D = [
    (F.sigmoid, _sigmoid, {}),
    (F.swish, lambda x: x * _sigmoid(x), {}),
    (F.mish, lambda x: x * np.tanh(_softplus(x)), {}),
    (F.softplus, lambda x, beta: _softplus(beta * x) / beta, {"beta": 2.0}),
    (F.log_sigmoid, lambda x: -_softplus(-x), {}),
    (F.elu, lambda x, alpha: np.where(x > 0, x, alpha * np.expm1(x)), {"alpha": 0.5}),
    (F.selu, lambda x: 1.05070098735548 * np.where(x > 0, x, 1.673263242354377 * np.expm1(x)),
     {}),
]


@pytest.mark.parametrize("f,ref,kw", ZERO_D, ids=[c[0].__name__ for c in ZERO_D])
@pytest.mark.parametrize("value", [-0.7, 1.3])
def test_activations_of_a_0d_input(f, ref, kw, value):
    check_function(f, [np.array(value)], ref=ref, kwargs=kw)


@pytest.mark.parametrize("f,ref,kw", ZERO_D[:5], ids=[c[0].__name__ for c in ZERO_D[:5]])
@pytest.mark.parametrize("shape", [(), (2, 3)])
def test_activations_of_float16(f, ref, kw, shape):
    x = (randn(*shape) if shape else np.array(0.4)).astype(np.float16)
    (y,) = _forward(f(V(x), **kw))
    assert y.shape == shape
    np.testing.assert_allclose(y, ref(x.astype(np.float64), **kw), rtol=1e-2, atol=1e-2)


def test_scalar_arguments_take_numpy_numbers_and_one_element_arrays():
    x = randn(2, 3)
    for alpha in (np.array([0.25]), np.float32(0.25), np.array(0.25)):
        (y,) = _forward(F.leaky_relu(V(x), alpha=alpha))
        np.testing.assert_allclose(y, np.where(x > 0, x, 0.25 * x))
        (y,) = _forward(F.elu(V(x), alpha=alpha))
        np.testing.assert_allclose(y, np.where(x > 0, x, 0.25 * np.expm1(x)))
    (y,) = _forward(F.softplus(V(x), beta=np.array([2.0])))
    np.testing.assert_allclose(y, _softplus(2 * x) / 2)
    # a 0-d x keeps its shape (an array val used to broadcast it to (1,))
    for f, ref in ((F.add_scalar, np.add), (F.mul_scalar, np.multiply),
                   (F.r_sub_scalar, lambda a, b: b - a), (F.greater_scalar, np.greater),
                   (F.maximum_scalar, np.maximum)):
        (y,) = _forward(f(V(np.array(1.5)), np.array([0.5])))
        assert y.shape == ()
        np.testing.assert_allclose(y, ref(1.5, 0.5))
    # the generators' bounds and values too
    np.testing.assert_array_equal(_forward(F.constant(np.array([2.0]), (2,)))[0], [2.0, 2.0])
    (y,) = _forward(F.arange(np.array([0]), np.float32(2), np.array([0.5])))
    np.testing.assert_array_equal(y, [0.0, 0.5, 1.0, 1.5])
    np.testing.assert_array_equal(_forward(F.linspace(np.array([0.0]), 1, 3))[0], [0.0, 0.5, 1.0])
    (y,) = _forward(F.norm(V(np.array([3.0, 4.0])), p=np.array([2])))
    np.testing.assert_allclose(y, 5.0)
    # a NumPy float64 scalar keeps float32 results float32
    (y,) = _forward(F.mul_scalar(V(x.astype(np.float32)), np.float64(2)))
    assert y.dtype == np.float32


def _batch(seed=0):
    return randn(3, 3, 3, seed=seed) + 3 * np.eye(3)


@pytest.mark.parametrize("f,ref", [
    (F.batch_det, np.linalg.det),
    (F.batch_logdet, lambda a: np.linalg.slogdet(a)[1]),
    (F.batch_inv, np.linalg.inv),
], ids=["batch_det", "batch_logdet", "batch_inv"])
def test_linear_algebra_of_float16(f, ref):
    a = _batch().astype(np.float16)
    x = V(a, need_grad=True)
    y = f(x)
    y.forward()
    assert y.d.dtype == np.float16  # computed in float32, given in the input's dtype
    np.testing.assert_allclose(y.d, ref(a.astype(np.float64)), rtol=1e-2, atol=1e-2)
    y.backward()
    assert x.g.dtype == np.float16 and np.isfinite(x.g).all()


def test_batch_inv_of_a_singular_matrix_gives_nan_for_that_matrix():
    a = _batch()
    a[1] = [[1, 2, 3], [2, 4, 6], [0, 1, 0]]  # rank 2
    x = V(a, need_grad=True)
    y = F.batch_inv(x)
    y.forward()
    assert np.isnan(y.d[1]).all()
    np.testing.assert_allclose(y.d[[0, 2]], np.linalg.inv(a[[0, 2]]), rtol=1e-6, atol=1e-8)
    y.backward()  # no error; the singular matrix's gradient is NaN too
    assert np.isnan(x.g[1]).all() and np.isfinite(x.g[[0, 2]]).all()


def test_batch_det_of_a_singular_matrix_and_its_gradient():
    a = np.stack([np.ones((2, 2)), np.eye(2) * 2])
    x = V(a, need_grad=True)
    y = F.batch_det(x)
    y.forward()
    np.testing.assert_allclose(y.d, [0.0, 4.0], atol=1e-12)
    y.backward()
    np.testing.assert_allclose(x.g[1], 4.0 * np.linalg.inv(a[1]).T)  # det(X) X^-T
    (logdet,) = _forward(F.batch_logdet(V(a)))
    assert logdet[0] == -np.inf and np.isclose(logdet[1], np.log(4.0))


def test_batch_cholesky_of_a_matrix_that_is_not_positive_definite():
    a = np.stack([-np.eye(2), np.array([[4.0, 2.0], [2.0, 3.0]])])
    (y,) = _forward(F.batch_cholesky(V(a)))
    assert np.isnan(y[0]).all()
    np.testing.assert_allclose(y[1], np.linalg.cholesky(a[1]))


def test_selection_and_sorting_of_empty_inputs():
    y, i = _forward(F.top_k_data(V(np.zeros((0, 5))), k=2, with_index=True))
    assert y.shape == (0, 2) and i.shape == (0, 2)
    x = V(np.zeros((0, 5)), need_grad=True)
    y = F.top_k_data(x, k=2)
    y.forward()
    y.backward()
    assert x.g.shape == (0, 5)
    y, i = _forward(F.sort(V(np.zeros((0, 5))), with_index=True))
    assert y.shape == (0, 5) and i.shape == (0, 5)


@pytest.mark.parametrize("f,ref", [
    (F.sum, np.sum), (F.prod, np.prod), (F.norm, lambda x, axis: np.sqrt((x * x).sum(axis))),
], ids=["sum", "prod", "norm"])
def test_reductions_with_an_identity_over_an_empty_axis(f, ref):
    x = V(np.zeros((3, 0)), need_grad=True)
    y = f(x, axis=1)
    y.forward()
    np.testing.assert_array_equal(y.d, ref(np.zeros((3, 0)), axis=1))
    y.backward()
    assert x.g.shape == (3, 0)


def test_kl_multinomial_of_an_empty_batch():
    (y,) = _forward(F.kl_multinomial(V(np.zeros((0, 4))), V(np.zeros((0, 4)))))
    assert y.shape == (0, 1)


def test_tensor_normalization_with_beta_and_gamma_in_the_fuzz_table():
    """The case table passes beta and gamma by position (through a wrapper), so the
    fuzz spoils real calls instead of failing on 'multiple values for axes'."""
    from test_functions_normalization import tensor_normalization_bg
    x, b, g = randn(4, 3, 2), randn(1, 3, 1, seed=1), randn(1, 3, 1, seed=2)
    y, m, v = _forward(tensor_normalization_bg(V(x), V(b), V(g), axes=[1], output_stat=True))
    mean, var = x.mean((0, 2), keepdims=True), x.var((0, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5) * g + b, rtol=1e-5)
    np.testing.assert_allclose(m, mean)
