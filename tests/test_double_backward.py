"""nn.grad: first-order gradient graphs for every function in the case tables,
second order (nn.grad of nn.grad, and backward() through a gradient graph)
against central differences for the families that define it, the rules' edge
cases (grad_outputs, unreached inputs, bind_grad_output), and the error for a
function whose gradient cannot be differentiated again.

The cases come from the same declarative tables the first-order tests use.
"""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from gradcheck import away_from, check_double_backward, check_first_order_grad, randn
import test_functions_activation as activation_tests
import test_functions_arithmetic as arithmetic_tests
import test_functions_array as array_tests
import test_functions_layers as layer_tests
import test_functions_loss as loss_tests
import test_functions_math as math_tests
import test_functions_reduction as reduction_tests


def _rows(module, order):
    """(f, inputs, kwargs, grad) of a test module's CASES, whose columns differ."""
    out = []
    for row in module.CASES:
        fields = dict(zip(order, row))
        out.append((fields["f"], fields["inputs"], fields.get("kwargs") or {},
                    fields.get("grad")))
    return out


TABLES = (_rows(activation_tests, ("f", "inputs", "ref", "kwargs"))
          + _rows(arithmetic_tests, ("f", "inputs", "ref", "kwargs"))
          + _rows(math_tests, ("f", "inputs", "ref", "kwargs"))
          + _rows(array_tests, ("f", "inputs", "kwargs", "ref"))
          + _rows(reduction_tests, ("f", "inputs", "kwargs", "ref"))
          + _rows(loss_tests, ("f", "inputs", "kwargs", "ref", "grad")))

# Second order is defined for these (grad.py: table rows on Variables, linear
# adjoints, bilinear slots, compositions); the others' first order is checked.
SECOND_ORDER = {
    # arithmetic and math
    "add2", "sub2", "mul2", "div2", "pow2", "add_scalar", "mul_scalar", "pow_scalar",
    "r_sub_scalar", "r_div_scalar", "r_pow_scalar", "exp", "log", "sin", "cos", "tan",
    "sinh", "cosh", "asin", "acos", "atan", "asinh", "acosh", "atanh", "abs", "identity",
    # activations
    "sigmoid", "swish", "tanh", "relu", "leaky_relu", "elu", "selu", "relu6", "hard_tanh",
    "hard_sigmoid", "log_sigmoid", "softplus", "softsign", "softmax", "log_softmax",
    "prelu", "sinc", "celu", "crelu", "add_n", "mul_n",
    "matrix_diag", "matrix_diag_part", "trilu", "batch_inv",
    # reductions, array
    "sum", "mean", "reshape", "transpose", "broadcast", "concatenate", "split", "stack",
    "slice", "pad", "tile", "flip",
    # losses
    "squared_error", "softmax_cross_entropy", "categorical_cross_entropy",
    "sigmoid_cross_entropy", "binary_cross_entropy", "absolute_error", "huber_loss",
    "epsilon_insensitive_loss", "kl_multinomial", "max", "min",
}


def _name(f):
    return getattr(f, "__name__", "")


def _second(rows):
    return [r for r in rows if _name(r[0]) in SECOND_ORDER]


@pytest.mark.parametrize("f,inputs,kwargs,grad", TABLES,
                         ids=[f"{_name(r[0])}-{i}" for i, r in enumerate(TABLES)])
def test_first_order_graph_equals_backward(f, inputs, kwargs, grad):
    check_first_order_grad(f, inputs, kwargs, grad)


SECOND = _second(TABLES)


@pytest.mark.parametrize("f,inputs,kwargs,grad", SECOND,
                         ids=[f"{_name(r[0])}-{i}" for i, r in enumerate(SECOND)])
def test_second_order_from_tables(f, inputs, kwargs, grad):
    check_double_backward(f, inputs, kwargs, grad)


LAYERS = ([(F.affine, i, k) for i, k in layer_tests.AFFINE_CASES]
          + [(F.batch_matmul, i, k) for i, k in layer_tests.BATCH_MATMUL_CASES]
          + [(F.convolution, i, k) for i, k in layer_tests.CONV_CASES[:5]]
          + [(F.deconvolution, [randn(1, 2, 3, 3), randn(2, 3, 3, 3, seed=1),
                                randn(3, seed=2)], {"stride": (2, 2)}),
             (F.deconvolution, [randn(2, 4, 3, 3), randn(4, 1, 2, 2, seed=1)],
              {"group": 2, "pad": (1, 0)}),
             (F.depthwise_convolution, [randn(1, 2, 4, 4), randn(2, 3, 3, seed=1)], {}),
             (F.depthwise_deconvolution, [randn(1, 2, 3, 3), randn(2, 2, 2, seed=1)],
              {"stride": (2, 2)}),
             (F.max_pooling, [randn(2, 2, 4, 4)], {"kernel": (2, 2)}),
             (F.max_pooling, [randn(1, 2, 5, 5)], {"kernel": (3, 3), "stride": (2, 2),
                                                   "pad": (1, 1)}),
             (F.average_pooling, [randn(1, 2, 4, 4)], {"kernel": (2, 2)}),
             (F.sum_pooling, [randn(1, 2, 4, 4)], {"kernel": (2, 2), "stride": (1, 1)}),
             (F.global_average_pooling, [randn(2, 3, 2, 2)], {})])


@pytest.mark.parametrize("f,inputs,kwargs", LAYERS,
                         ids=[f"{_name(r[0])}-{i}" for i, r in enumerate(LAYERS)])
def test_second_order_layers(f, inputs, kwargs):
    check_double_backward(f, inputs, kwargs)


@pytest.mark.parametrize("kwargs", [{"kernel": (2, 2)},
                                    {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1)}])
def test_max_pooling_third_order(kwargs):
    """max_pooling_backward is linear in dy: its gradient (a gather at the maxima)
    and that one's gradient (max_pooling_backward again) are graphs, so max
    pooling has every order (NNabla's max_pooling double-backward test's third
    order); x gets no gradient."""
    x = randn(1, 2, 5, 5)
    dy = randn(*F.max_pooling(nn.Variable(x.shape), **kwargs).shape, seed=1)
    check_double_backward(F.max_pooling_backward, [dy, x], kwargs, grad=[0])
    rng = np.random.RandomState(2)
    xv = nn.Variable.from_numpy_array(x)
    dyv = nn.Variable.from_numpy_array(dy, need_grad=True)
    gdx = nn.Variable.from_numpy_array(rng.randn(*x.shape), need_grad=True)
    (g,) = nn.grad([F.max_pooling_backward(dyv, xv, **kwargs)], [dyv], grad_outputs=[gdx])
    g.forward()
    gdx.g = 0
    g.backward(np.ones(g.shape))
    # d sum(g) / d gdx: 1 at each window's maximum (counted per window that picks it)
    want = F.max_pooling_backward(nn.Variable.from_numpy_array(np.ones(g.shape)), xv, **kwargs)
    want.forward()
    np.testing.assert_allclose(gdx.g, want.d)
    assert gdx.g.sum() == g.size


def _bn(x, beta, gamma, batch_stat=True, output_stat=False, axes=(1,)):
    stat = tuple(1 if i not in axes else s for i, s in enumerate(x.shape))
    mean = nn.Variable.from_numpy_array(np.zeros(stat) + 0.1)
    var = nn.Variable.from_numpy_array(np.ones(stat) * 1.5)
    return F.batch_normalization(x, beta, gamma, mean, var, axes=list(axes),
                                 batch_stat=batch_stat, output_stat=output_stat)


@pytest.mark.parametrize("kwargs", [{}, {"batch_stat": False}, {"output_stat": True},
                                    {"axes": (0, 2)}])
def test_second_order_batch_normalization(kwargs):
    axes = kwargs.get("axes", (1,))
    x = randn(4, 3, 2)
    stat = tuple(1 if i not in axes else s for i, s in enumerate(x.shape))
    check_double_backward(_bn, [x, randn(*stat, seed=1), randn(*stat, seed=2)], kwargs)


def test_second_order_of_a_network():
    # what a gradient penalty differentiates: d/dtheta |d net(x) / dx|^2
    rng = np.random.RandomState(0)

    def net(x, w1, b1, w2):
        h = F.tanh(F.affine(x, w1, b1))
        return F.sum(F.affine(F.relu(h), w2))

    check_double_backward(net, [rng.randn(3, 4), rng.randn(4, 5), rng.randn(5),
                                rng.randn(5, 1)])


def test_grad_matches_nnabla_conventions():
    x = nn.Variable.from_numpy_array(np.array([1.0, 2.0, 3.0]), need_grad=True)
    frozen = nn.Variable.from_numpy_array(np.array([1.0, 2.0]))
    unused = nn.Variable.from_numpy_array(np.ones(4), need_grad=True)
    y = F.sum(x ** 3) + F.sum(frozen ** 2)
    gx, gf, gu = nn.grad([y], [x, frozen, unused])
    for g in (gx, gf, gu):
        g.forward()
    np.testing.assert_allclose(gx.d, 3 * x.d ** 2)
    np.testing.assert_allclose(gf.d, 0)  # need_grad=False: zeros, as NNabla
    np.testing.assert_allclose(gu.d, np.zeros(4))  # does not reach y
    # grad_outputs: a number or an array per output
    (g2,) = nn.grad([x ** 2], [x], grad_outputs=[np.array([1.0, 10.0, 100.0])])
    g2.forward()
    np.testing.assert_allclose(g2.d, [2.0, 40.0, 600.0])
    (g3,) = nn.grad([x ** 2], [x], grad_outputs=[2.0])
    g3.forward()
    np.testing.assert_allclose(g3.d, [4.0, 8.0, 12.0])
    # bind_grad_output: forward leaves the gradient in x.g
    x.g = 0
    (g4,) = nn.grad([y], [x], bind_grad_output=True)
    g4.forward()
    np.testing.assert_allclose(x.g, 3 * x.d ** 2)


def test_grad_under_auto_forward():
    x = nn.Variable.from_numpy_array(np.array([0.5, -1.0]), need_grad=True)
    with nn.auto_forward():
        y = F.sum(F.sin(x))
        (gx,) = nn.grad([y], [x])
        (ggx,) = nn.grad([F.sum(gx)], [x])
    np.testing.assert_allclose(gx.d, np.cos(x.d))
    np.testing.assert_allclose(ggx.d, -np.sin(x.d))


def test_a_first_order_only_gradient_says_so():
    # F.prod has only its array backward: first order works, second raises clearly
    x = nn.Variable.from_numpy_array(np.array([1.5, 2.0, 3.0]), need_grad=True)
    (g,) = nn.grad([F.prod(x)], [x])
    g.forward()
    np.testing.assert_allclose(g.d, [6.0, 4.5, 3.0])
    with pytest.raises(NotImplementedError, match="Prod: its gradient cannot be differentiated"):
        nn.grad([F.sum(g)], [x])
    s = F.sum(g)
    s.forward()
    with pytest.raises(NotImplementedError, match="Prod"):
        s.backward()


@pytest.mark.parametrize("call, match", [
    (lambda x: nn.grad([x * 2], [x], grad_outputs=[np.ones(5)]), "grad_outputs? has shape"),
    (lambda x: nn.grad([x * 2], [x], grad_outputs=[1, 2]), "grad_outputs has 2 entries"),
    (lambda x: nn.grad("y", [x]), "outputs must be"),
    (lambda x: nn.grad([x * 2], [x], grad_outputs=[np.array(["a"] * 3)]), "numeric"),
])
def test_grad_bad_arguments(call, match):
    x = nn.Variable.from_numpy_array(np.ones(3), need_grad=True)
    with pytest.raises((ValueError, TypeError), match=match):
        call(x)


def test_relu_mask_comes_from_the_forward_values():
    x = nn.Variable.from_numpy_array(away_from(0, randn(4)), need_grad=True)
    (g,) = nn.grad([F.sum(F.relu(x) * x)], [x])
    g.forward()
    np.testing.assert_allclose(g.d, 2 * x.d * (x.d > 0))


def test_grad_keeps_its_outputs_and_results_under_buffer_clearing():
    """As in NNabla: nn.grad makes its outputs persistent (persistent_outputs,
    default all), and forward(clear_no_need_grad=True) of the gradients leaves
    the values of those the script holds (here fed to F.sink together)."""
    rng = np.random.RandomState(0)
    a, b = (nn.Variable.from_numpy_array(rng.randn(2, 3), need_grad=True) for _ in range(2))
    y = F.concatenate(a, b, axis=0)
    g = rng.randn(4, 3)
    ga, gb = nn.grad([y], [a, b], grad_outputs=[g])
    assert y.persistent
    F.sink(ga, gb).forward(clear_no_need_grad=True)
    np.testing.assert_allclose(ga.d, g[:2], rtol=1e-6)
    np.testing.assert_allclose(gb.d, g[2:], rtol=1e-6)
    z = F.tanh(a)
    nn.grad([z], [a], persistent_outputs=[False])
    assert not z.persistent
    with pytest.raises(ValueError, match="grad: persistent_outputs has 2 entries"):
        nn.grad([z], [a], persistent_outputs=[True, True])


@pytest.mark.parametrize("f,inputs,kwargs", [
    (F.interpolate, [randn(1, 2, 3, 3)], {"output_size": (5, 4), "mode": "linear"}),
    (F.interpolate, [randn(1, 1, 2, 3)], {"output_size": (4, 6), "mode": "nearest"}),
    (F.gather_nd, [randn(4, 3), np.array([[0, 2, 2], [1, 0, 2]])], {}),
    (F.scatter_nd, [randn(3, 2), np.array([[0, 2, 0]])], {"shape": (4, 2), "add": True}),
], ids=["interpolate-linear", "interpolate-nearest", "gather_nd", "scatter_nd-add"])
def test_second_order_of_linear_resampling_and_indexing(f, inputs, kwargs):
    """Linear in their data (the sampling weights and indices are constants), so
    every order is defined (NNabla's double-backward tests of these functions)."""
    check_double_backward(f, inputs, kwargs, grad=[0])


def test_an_overwriting_scatter_has_a_first_order_gradient_graph_only():
    x = nn.Variable.from_numpy_array(randn(3, 2), need_grad=True)
    y = F.scatter_nd(x, nn.Variable.from_numpy_array(np.array([[0, 2, 0]])), shape=(4, 2))
    (g,) = nn.grad([F.sum(y ** 2)], [x])
    with pytest.raises(NotImplementedError, match="ScatterNd: its gradient cannot be "
                                                  "differentiated again"):
        nn.grad([F.sum(g ** 2)], [x])


_MASK = np.array([[1, 0, 1], [0, 1, 1]], np.float64)  # for where and the bool_* functions


def _spd(b, n, seed=0):
    """Well-conditioned matrices (B, n, n), for batch_inv."""
    return randn(b, n, n, seed=seed) * 0.3 + 2 * np.eye(n)


# Squares (** 2) make the output gradient depend on x, so the second order also
# runs through the gradient graph's own gradient; x * x inside a straight-through
# quantizer keeps its (non-differentiable) forward value out of the gradient.
SECOND_ORDER_MORE = [
    ("maximum2", F.maximum2, [randn(2, 3), randn(2, 3, seed=1)], {}, None),
    ("maximum2-squared-broadcast", lambda a, b: F.maximum2(a, b) ** 2,
     [randn(2, 3), randn(3, seed=1)], {}, None),
    ("minimum2", F.minimum2, [randn(2, 3), randn(2, 3, seed=1)], {}, None),
    ("minimum2-squared-broadcast", lambda a, b: F.minimum2(a, b) ** 2,
     [randn(3), randn(2, 3, seed=1)], {}, None),
    ("maximum_scalar", lambda x: F.maximum_scalar(x, 0.3) ** 2,
     [away_from(0.3, randn(2, 3))], {}, None),
    ("minimum_scalar", lambda x: F.minimum_scalar(x, 0.3) ** 2,
     [away_from(0.3, randn(2, 3))], {}, None),
    ("where", lambda c, t, f: F.where(c, t * t, F.sin(f)),
     [_MASK, randn(2, 3, 2), randn(2, 3, 2, seed=1)], {}, [1, 2]),
    ("prelu-per-channel", F.prelu, [away_from(0, randn(2, 3, 4)), randn(3, seed=1)],
     {"base_axis": 1}, None),
    ("prelu-shared-squared", lambda x, w: F.prelu(x, w, 0) ** 2,
     [away_from(0, randn(2, 3)), np.array([0.3])], {}, None),
    ("sinc", F.sinc, [away_from(0, randn(2, 3))], {}, None),
    ("celu", F.celu, [away_from(0, randn(2, 3))], {"alpha": 1.5, "axis": 1}, None),
    ("celu-4d-axis1", F.celu, [away_from(0, randn(2, 3, 2, 2))], {"axis": 1}, None),
    ("crelu-squared", lambda x: F.crelu(x, 1) ** 2, [away_from(0, randn(2, 3, 2))], {}, None),
    ("crelu-axis0", lambda x: F.crelu(x, 0) ** 2, [away_from(0, randn(2, 3))], {}, None),
    ("unpooling", lambda x: F.unpooling(x, (2, 2)) ** 2, [randn(1, 2, 2, 3)], {}, None),
    ("prune", lambda x: F.prune(x * x, 0.5), [randn(2, 3)], {}, None),
    ("quantize_linear", F.quantize_linear,
     [randn(2, 3), np.full((1, 3), 0.1) + np.arange(3) * 0.05, np.zeros((1, 3))], {}, [0, 1]),
    ("dequantize_linear", lambda x, s, z: F.dequantize_linear(x, s, z) ** 2,
     [randn(2, 3), np.full((1, 3), 0.5) + np.arange(3) * 0.25, np.zeros((1, 3))], {}, [0]),
    ("binary_tanh", lambda x: F.binary_tanh(x * x), [away_from([-1, 1], randn(2, 3))], {}, None),
    ("binary_sigmoid", lambda x: F.binary_sigmoid(x * x), [away_from([-1, 1], randn(2, 3))],
     {}, None),
    ("matrix_diag", lambda x: F.matrix_diag(x) ** 2, [randn(2, 3)], {}, None),
    ("matrix_diag_part", lambda x: F.matrix_diag_part(x) ** 2, [randn(2, 3, 3)], {}, None),
    ("trilu", lambda x: F.trilu(x, 1, False) ** 2, [randn(2, 3, 4)], {}, None),
    ("trilu-upper", F.trilu, [randn(3, 3)], {"k": 0, "upper": True}, None),
    ("batch_inv", F.batch_inv, [_spd(2, 3)], {}, None),
    ("add_n", lambda a, b, c: F.add_n(a, b, c) ** 2,
     [randn(2, 3), randn(2, 3, seed=1), randn(2, 3, seed=2)], {}, None),
    ("mul_n", F.mul_n, [randn(2, 3), randn(2, 3, seed=1), randn(2, 3, seed=2)], {}, None),
    ("mul_n-one-input", lambda a: F.mul_n(a) ** 2, [randn(2, 3)], {}, None),
    ("bool_fill", lambda x, m: F.bool_fill(x, m, 0.5) ** 2, [randn(2, 3), _MASK], {}, [0]),
    ("bool_gather", lambda x, m: F.bool_gather(x, m) ** 2, [randn(2, 3, 2), _MASK], {}, [0]),
    ("bool_scatter", lambda x, m: F.bool_scatter(x, m) ** 2, [randn(4, 2), _MASK], {}, [0]),
    ("bool_scatter-output", lambda x, m, o: F.bool_scatter(x, m, o) ** 2,
     [randn(4), _MASK, randn(2, 3, seed=1)], {}, [0, 2]),
]


@pytest.mark.parametrize("f,inputs,kwargs,grad", [c[1:] for c in SECOND_ORDER_MORE],
                         ids=[c[0] for c in SECOND_ORDER_MORE])
def test_second_order_of_masks_quantizers_linalg_and_n_ary(f, inputs, kwargs, grad):
    """Functions whose gradient is a mask (kinks: the forward's own tie rules),
    straight-through, linear (adjoints) or a product: nn.grad differentiates it
    again, as NNabla 1.39 does."""
    check_double_backward(f, inputs, kwargs, grad)


def _second_order_parity(a, b, w, cond, m):
    """Second-order gradients (nn.grad of nn.grad) of a few of these functions,
    run under both libraries: values and kink conventions agree."""
    out = {}
    eye2 = nn.Variable.from_numpy_array(2 * np.eye(2, dtype=np.float32)[None])
    cases = {
        "maximum2": lambda x, y: F.maximum2(x, y),
        "minimum_scalar": lambda x, y: F.minimum_scalar(x, 0.5) * y,
        "prelu": lambda x, y: F.prelu(x, nn.Variable.from_numpy_array(w), 0) * y,
        "celu": lambda x, y: F.celu(x, 1.5, 1) * F.concatenate(y, y, axis=1),
        "where": lambda x, y: F.where(nn.Variable.from_numpy_array(cond), x * x, F.sin(y)),
        "batch_inv": lambda x, y: F.batch_inv(F.reshape(F.concatenate(x, y, axis=0) * 0.3,
                                                        (3, 2, 2)) + eye2),
        # (away from 0: NNabla's first order divides the product by each input)
        "mul_n": lambda x, y: F.mul_n(x + 2.0, y + 3.0, x * y + 5.0),
        "bool_scatter": lambda x, y: F.bool_scatter(
            F.bool_gather(x * y, nn.Variable.from_numpy_array(m)),
            nn.Variable.from_numpy_array(m)),
    }
    for name, f in cases.items():
        x = nn.Variable.from_numpy_array(a, need_grad=True)
        y = nn.Variable.from_numpy_array(b, need_grad=True)
        z = f(x, y)
        gx, gy = nn.grad([F.sum(z * z)], [x, y])
        ggx, ggy = nn.grad([F.sum(gx * gx) + F.sum(gy * gy)], [x, y])
        F.sink(gx, gy, ggx, ggy).forward()
        out[name] = [gx.d.copy(), gy.d.copy(), ggx.d.copy(), ggy.d.copy()]
    return out


def test_second_order_matches_nnabla():
    from nnabla_parity import check_same_source
    # ties and zeros on purpose (x == y, x == 0.5, x == 0): the kink rules
    a = np.array([[0.0, 1.0, -1.0], [0.5, 0.5, -0.3]], np.float32)
    b = np.array([[0.0, 1.0, 0.2], [-2.0, 0.7, 1.0]], np.float32)
    check_same_source(_second_order_parity, rtol=1e-4, atol=1e-5, a=a, b=b,
                      w=np.array([0.25, -0.5], np.float32),
                      cond=np.array([[1, 0, 1], [0, 1, 1]], np.float32),
                      m=np.array([[1, 0, 1], [0, 1, 1]], np.float32))
