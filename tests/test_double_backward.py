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
