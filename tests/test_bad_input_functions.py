"""Bad input to F functions: integer data per family, out-of-range labels and
indices, list lengths, axes, None, empty and huge shapes, inf/NaN logits.

Integer inputs: NNabla 1.39 reads every data input of a function as float32,
so integer arrays give float32 results computed in floating point (checked on
the oracle: global_average_pooling, interpolate, add2, div2, sin, exp, sum, mean,
max, average/max pooling, relu, sigmoid, softmax, squared_error, softmax cross
entropy all return float32). Labels and indices keep their integer values;
reshape and identity keep the dtype, as in NNabla.
"""
import re

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nnabla_parity import run_in_nnabla

V = nn.Variable.from_numpy_array
X_INT = np.array([[[[0, 1], [2, 3]], [[4, 5], [6, 9]]]], dtype=np.int32)  # (1, 2, 2, 2)


def _run(y):
    y.forward()
    return y.d


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# (family, build(x), NumPy reference on the float64 values)
INTEGER_FAMILIES = [
    ("arithmetic", lambda x: F.add2(x, x), lambda a: a + a),
    ("arithmetic", lambda x: F.div2(x, F.add_scalar(x, 1)), lambda a: a / (a + 1)),
    ("arithmetic", lambda x: F.mul_scalar(x, 0.5), lambda a: a * 0.5),
    ("arithmetic", lambda x: F.pow2(x, F.mul_scalar(x, -1)), lambda a: np.power(a, -a)),
    ("math", F.sin, np.sin),
    ("math", F.exp, np.exp),
    ("activation", F.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    ("activation", lambda x: F.softmax(x, axis=1), lambda a: _softmax(a, 1)),
    ("activation", lambda x: F.log_softmax(x, axis=1), lambda a: np.log(_softmax(a, 1))),
    ("reduction", lambda x: F.mean(x, axis=(2, 3)), lambda a: a.mean(axis=(2, 3))),
    ("reduction", lambda x: F.norm(x), lambda a: np.sqrt((a ** 2).sum())),
    ("pooling", F.global_average_pooling, lambda a: a.mean(axis=(2, 3), keepdims=True)),
    ("pooling", lambda x: F.average_pooling(x, (2, 2)), lambda a: a.mean(axis=(2, 3), keepdims=True)),
    ("spatial", lambda x: F.interpolate(x, output_size=(4, 4), mode="linear",
                                        align_corners=True), None),
    ("loss", lambda x: F.squared_error(x, F.mul_scalar(x, 0.5)), lambda a: (a / 2) ** 2),
    ("loss", lambda x: F.binary_cross_entropy(F.sigmoid(x), F.mul_scalar(x, 0)),
     lambda a: -np.log(1 - 1 / (1 + np.exp(-a)))),
]


@pytest.mark.parametrize("family,build,ref", INTEGER_FAMILIES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(INTEGER_FAMILIES)])
def test_integer_inputs_are_computed_in_float32(family, build, ref):
    y = _run(build(V(X_INT)))
    assert y.dtype == np.float32
    want = build(V(X_INT.astype(np.float32)))
    np.testing.assert_allclose(y, _run(want), rtol=1e-6)
    if ref is not None:
        np.testing.assert_allclose(y, ref(X_INT.astype(np.float64)), rtol=1e-4, atol=1e-6)


def test_integer_inputs_match_nnabla_where_it_truncated_before():
    out = run_in_nnabla("""
import numpy as np
import nnabla as nn
import nnabla.functions as F
x = nn.Variable.from_numpy_array(np.array(X, dtype=np.int32))
y1 = F.global_average_pooling(x); y1.forward()
y2 = F.interpolate(x, output_size=(3, 3)); y2.forward()
RESULT = {"gap": y1.d.tolist(), "interp": y2.d.tolist(), "dtype": str(y2.d.dtype)}
""", X=X_INT.tolist())
    if out is None:
        pytest.skip("NNabla 1.39 is not installed")
    x = V(X_INT)
    np.testing.assert_allclose(_run(F.global_average_pooling(x)), out["gap"], rtol=1e-6)
    np.testing.assert_allclose(_run(F.interpolate(x, output_size=(3, 3))), out["interp"],
                               rtol=1e-5)
    assert out["dtype"] == "float32"


def test_labels_indices_and_dtype_keeping_functions_keep_integers():
    x = V(X_INT)
    assert _run(F.reshape(x, (8,))).dtype == np.int32
    assert _run(F.identity(x)).dtype == np.int32
    big = V(np.array([2 ** 40 + 1, 7], dtype=np.int64))
    np.testing.assert_array_equal(_run(F.mod2(big, V(np.array([2, 4])))), [1, 3])
    w = V(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(_run(F.embed(V(np.array([2, 0])), w)), [[4, 5], [0, 1]])


def test_embed_outside_the_table_gives_zeros_as_nnabla():
    w = V(np.arange(6.0).reshape(3, 2), need_grad=True)
    idx = V(np.array([-1, 0, 5, 2]))
    y = F.embed(idx, w)
    y.forward()
    np.testing.assert_array_equal(y.d, [[0, 0], [0, 1], [0, 0], [4, 5]])
    w.g = 0
    y.backward(np.ones((4, 2)))
    np.testing.assert_array_equal(w.g, [[1, 1], [0, 0], [1, 1]])  # nothing for -1 and 5


@pytest.mark.parametrize("build,name", [
    (lambda x, t, axis=None: F.softmax_cross_entropy(x, t, axis), "SoftmaxCrossEntropy"),
    (lambda x, t, axis=None: F.categorical_cross_entropy(
        F.softmax(x, axis=1 if axis is None else axis), t, axis), "CategoricalCrossEntropy"),
    (lambda x, t, axis=None: F.top_n_error(x, t, axis), "TopNError"),
])
def test_labels_past_the_last_class_name_function_label_and_range(build, name):
    x = V(np.zeros((2, 3), np.float32))
    y = build(x, V(np.array([[3], [1]])))
    with pytest.raises(ValueError, match=rf"^{name}: target holds the label 3, but x has 3 "
                                         r"classes .*\[0, 3\)"):
        y.forward()
    x3 = V(np.zeros((2, 3, 2), np.float32))  # the general (not 2-D) path
    with pytest.raises(ValueError, match=rf"^{name}: target holds the label 4"):
        with nn.auto_forward():
            build(x3, V(np.array([[[4, 0]], [[1, 1]]])), axis=1)


def test_negative_labels_are_ignored_as_in_nnabla():
    x = V(np.zeros((2, 3), np.float32))
    y = _run(F.softmax_cross_entropy(x, V(np.array([[-1], [1]]))))
    np.testing.assert_allclose(y.ravel(), [0, np.log(3)], rtol=1e-6)


def test_one_hot_index_out_of_range_as_nnabla():
    """An index in [-size, 0) counts from the end; a row with one outside
    [-size, size) is all zeros (NNabla's results; it raises nothing)."""
    y = _run(F.one_hot(V(np.array([[9], [-9], [10], [-11]])), (10,)))
    np.testing.assert_array_equal(y.argmax(1), [9, 1, 0, 0])
    np.testing.assert_array_equal(y.sum(1), [1, 1, 0, 0])
    y = _run(F.one_hot(V(np.array([[1, 5], [-2, 1], [2, -4], [0, 0]])), (3, 4)))
    np.testing.assert_array_equal(y.reshape(4, -1).argmax(1), [0, 5, 8, 0])
    np.testing.assert_array_equal(y.reshape(4, -1).sum(1), [0, 1, 1, 1])


def test_gather_index_out_of_range_names_the_function():
    with pytest.raises(IndexError, match="^Gather: index 5 is out of bounds"):
        _run(F.gather(V(np.ones((3, 2))), V(np.array([5])), axis=0))


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf - inf
def test_softmax_cross_entropy_shifts_per_row():
    # one inf or NaN logit spoils its own row only, as in NNabla
    for bad in (np.inf, np.nan):
        x = V(np.array([[bad, 0, 0], [1, 2, 3], [0, 0, 0]], np.float32), need_grad=True)
        t = V(np.array([[0], [1], [2]]))
        y = F.softmax_cross_entropy(x, t)
        y.forward()
        assert np.isnan(y.d[0, 0])
        np.testing.assert_allclose(y.d[1:, 0], [np.log(np.exp([1, 2, 3]).sum()) - 2, np.log(3)],
                                   rtol=1e-5)
        x.g = 0
        y.backward(np.ones((3, 1), np.float32))
        assert np.isfinite(x.g[1:]).all()
        p = _softmax(np.array([1.0, 2, 3]), 0)
        np.testing.assert_allclose(x.g[1], p - [0, 1, 0], rtol=1e-5, atol=1e-6)


def test_slice_lists_of_unequal_lengths():
    with pytest.raises(ValueError, match="^Slice: start, stop and step must have the same "
                                         "length"):
        F.slice(V(np.ones((3, 4))), start=[0, 0], stop=[2], step=[1, 1])
    with pytest.raises(TypeError, match="^Slice: start=.*must hold integers"):
        F.slice(V(np.ones((3, 4))), start=[0.5], stop=[2])


def test_axes_must_be_integers():
    x = V(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"^Sum: axis=1.5: axes must be integers"):
        F.sum(x, axis=1.5)
    with pytest.raises(TypeError, match=r"^Sum: axis='a': expected an int"):
        F.sum(x, axis="a")
    np.testing.assert_array_equal(_run(F.sum(x, axis=1.0)), [3, 3])  # NNabla takes 1.0 as 1


def test_none_inputs_name_the_function():
    with pytest.raises(TypeError, match="^Sin: input 0 is None"):
        F.sin(None)
    with pytest.raises(TypeError, match="^Add2: input 1 is None"):
        F.add2(V(np.ones(2)), None)


def test_zero_sized_kernels_and_batches():
    x = V(np.ones((1, 1, 4, 4), np.float32))
    for f in (F.average_pooling, F.max_pooling, F.sum_pooling):
        with pytest.raises(ValueError, match="Pooling: kernel=.* must be positive"):
            f(x, (0, 0))
    empty = V(np.ones((0, 3, 2, 2), np.float32))
    assert _run(F.global_average_pooling(empty)).shape == (0, 3, 1, 1)
    assert _run(F.relu(empty)).shape == (0, 3, 2, 2)
    with pytest.raises(ValueError, match="^Softmax: "):
        _run(F.softmax(V(np.ones((2, 0), np.float32))))
    # statistics of no samples: an error, not NaN written into the running mean
    stat = [V(np.zeros((1, 3))), V(np.ones((1, 3))), V(np.zeros((1, 3))), V(np.ones((1, 3)))]
    with pytest.raises(ValueError, match=r"^BatchNormalization: x \(0, 3\) has no elements"):
        F.batch_normalization(V(np.ones((0, 3), np.float32)), *stat, batch_stat=True)
    # the mean of no elements is NaN, as NumPy's (it was 0)
    assert np.isnan(_run(F.mean(V(np.ones((0, 3), np.float32)), axis=0))).all()


_CONVS = [  # (function, x shape, weight shape, bias size, kwargs)
    (F.convolution, (2, 3, 5, 5), (4, 3, 3, 3), 4, {}),
    (F.convolution, (2, 4, 5, 5), (4, 2, 3, 3), 4, {"group": 2}),
    (F.convolution, (2, 5, 5, 3), (4, 3, 3, 3), 4, {"channel_last": True}),
    (F.convolution, (2, 2, 4, 4, 4), (3, 2, 3, 3, 3), 3, {}),
    (F.deconvolution, (2, 3, 5, 5), (3, 4, 3, 3), 4, {}),
    (F.depthwise_convolution, (2, 3, 5, 5), (3, 3, 3), 3, {}),
    (F.depthwise_deconvolution, (2, 3, 5, 5), (3, 3, 3), 3, {}),
]


@pytest.mark.parametrize("f,xs,ws,nb,kw", _CONVS)
def test_convolutions_of_an_empty_batch_give_empty_results_as_nnabla(f, xs, ws, nb, kw):
    """NNabla 1.39 (oracle): an N=0 batch gives a (0, ...) output; W and b keep
    their accumulated gradients (their gradient is zero). Was ZeroDivisionError."""
    full = f(V(np.ones(xs, np.float32)), V(np.ones(ws, np.float32)), **kw)
    x = V(np.ones((0,) + xs[1:], np.float32), need_grad=True)
    w = V(np.ones(ws, np.float32), need_grad=True)
    b = V(np.full(nb, 2, np.float32), need_grad=True)
    for v in (x, w, b):
        v.g = 7
    y = f(x, w, b, **kw)
    y.forward()
    y.backward(clear_buffer=False)
    assert y.shape == y.d.shape == (0,) + full.shape[1:]
    assert (w.g == 7).all() and (b.g == 7).all() and x.g.shape == x.shape


def test_convolution_of_no_channels_is_its_bias_as_nnabla():
    """Zero input channels: an empty sum, so y is b and b's gradient sums gy
    (NNabla 1.39: y = 2, b.g = 25 for a 5x5 output of ones)."""
    x = V(np.ones((2, 0, 5, 5), np.float32), need_grad=True)
    w = V(np.ones((4, 0, 3, 3), np.float32), need_grad=True)
    b = V(np.full(4, 2, np.float32), need_grad=True)
    b.g = 0
    y = F.convolution(x, w, b, pad=(1, 1))
    y.forward()
    y.backward(np.ones(y.shape, np.float32), clear_buffer=False)
    assert y.shape == (2, 4, 5, 5) and (y.d == 2).all()
    np.testing.assert_array_equal(b.g, np.full(4, 50, np.float32))
    y = F.convolution(V(np.ones((2, 3, 5, 5), np.float32)), V(np.ones((0, 3, 3, 3), np.float32)))
    assert _run(y).shape == (2, 0, 3, 3)  # no filters: no output channels


@pytest.mark.parametrize("f,xs,ws,nb,kw", _CONVS)
def test_convolutions_refuse_a_zero_size_kernel(f, xs, ws, nb, kw):
    ws0 = list(ws)
    ws0[-2 if kw.get("channel_last") else -1] = 0
    name = {"convolution": "Convolution", "deconvolution": "Deconvolution",
            "depthwise_convolution": "DepthwiseConvolution",
            "depthwise_deconvolution": "DepthwiseDeconvolution"}[f.__name__]
    with pytest.raises(ValueError, match=rf"^{name}: weight \({', '.join(map(str, ws0))}\) "
                                         r"has kernel size \(.*0\); every kernel size must be >= 1"):
        f(V(np.ones(xs, np.float32)), V(np.ones(ws0, np.float32)), **kw)


def test_huge_shapes_name_the_function_and_the_shape():
    with pytest.raises(MemoryError, match=r"^Constant: an output of shape \(1000000, 1000000\)"):
        F.constant(0, (10 ** 6, 10 ** 6))
    with pytest.raises(MemoryError, match=r"^Broadcast: an output of shape"):
        F.broadcast(V(np.ones((1, 1))), (10 ** 6, 10 ** 6))


def test_python_function_inputs_keep_their_integer_dtype_as_nnabla():
    """NNabla 1.39 (oracle) hands a PythonFunction its inputs as they are: int32
    labels as int32, uint8 as uint8 (so 200 * 2 wraps to 144 there, too), and its
    outputs are float32. nablite cast them all to float32 (uint8 gave 400)."""
    from nablite.function import PythonFunction
    seen = []

    class Pick(PythonFunction):  # y[i] = x[i, label[i]] * 2
        name = "Pick"

        def min_outputs(self):
            return 1

        def setup_impl(self, inputs, outputs):
            outputs[0].reset_shape(inputs[1].shape, True)

        def forward_impl(self, inputs, outputs):
            seen.append([i.d.dtype for i in inputs])
            x, label = inputs[0].d, inputs[1].d
            outputs[0].d = x[np.arange(len(label)), label] * 2

        def backward_impl(self, inputs, outputs, propagate_down, accum):
            seen.append([i.d.dtype for i in inputs] + [inputs[0].g.dtype])
            label = inputs[1].d
            g = np.zeros(inputs[0].shape, np.float32)
            g[np.arange(len(label)), label] = 2 * outputs[0].g
            inputs[0].g = g

        def grad_depends_output_data(self, i, o):
            return False

        def grad_depends_input_data(self, i, j):
            return j == 1

    label = V(np.array([1, 0], np.int32))
    x = V(np.array([[1, 200], [100, 3]], np.uint8))
    y = Pick()(x, label)
    y.forward()
    assert seen.pop() == [np.uint8, np.int32]
    assert y.d.dtype == np.float32
    np.testing.assert_array_equal(y.d, [144, 200])  # uint8 arithmetic, as in NNabla
    xf = V(np.array([[1, 2], [3, 4]], np.float32), need_grad=True)
    xf.g = 0
    y = Pick()(xf, label)
    y.forward()
    y.backward(np.ones(2, np.float32))
    assert seen.pop() == [np.float32, np.int32, np.float32]
    np.testing.assert_array_equal(xf.g, [[0, 2], [2, 0]])
    y = Pick()(V(np.array([[1, 2], [3, 4]], np.int64)), label)
    y.forward()
    assert y.d.dtype == np.float32  # an int64 result is stored as float32
    y = Pick()(V(np.array([[1, 2], [3, 4]], np.float64)), label)
    y.forward()
    assert y.d.dtype == np.float64  # float64 inputs stay float64, as everywhere in nablite


@pytest.mark.parametrize("f,xs,ws,nb,kw", _CONVS[:1] + _CONVS[4:])
@pytest.mark.parametrize("arg,value,exc,match", [
    ("base_axis", None, TypeError, r"base_axis=None must be an integer, got NoneType"),
    ("base_axis", "a", TypeError, r"base_axis='a' must be an integer, got str"),
    ("base_axis", 1.5, TypeError, r"base_axis=1.5 must be an integer, got float"),
    ("pad", "a", TypeError, r"pad='a' must be a tuple of 2 integers"),
    ("pad", (1.5, 1), TypeError, r"pad=\(1.5, 1\) must hold integers, got float 1.5"),
    ("stride", [1, "a"], TypeError, r"stride=\(1, 'a'\) must hold integers, got str 'a'"),
    ("dilation", (None, 1), TypeError, r"dilation=\(None, 1\) must hold integers"),
])
def test_convolution_arguments_name_the_function_and_argument(f, xs, ws, nb, kw, arg, value,
                                                              exc, match):
    """These were raw "'<=' not supported" / "invalid literal for int()" messages
    behind the function's name, and pad=(1.5, 1) was silently truncated to 1."""
    name = {"convolution": "Convolution", "deconvolution": "Deconvolution",
            "depthwise_convolution": "DepthwiseConvolution",
            "depthwise_deconvolution": "DepthwiseDeconvolution"}[f.__name__]
    with pytest.raises(exc, match=rf"^{name}: {match}"):
        f(V(np.ones(xs, np.float32)), V(np.ones(ws, np.float32)), **dict(kw, **{arg: value}))
    y = f(V(np.ones(xs, np.float32)), V(np.ones(ws, np.float32)), **dict(kw, pad=(1.0, 1)))
    assert y.shape == f(V(np.ones(xs, np.float32)), V(np.ones(ws, np.float32)), pad=(1, 1),
                        **kw).shape  # 1.0 is 1, as for shapes


def test_fused_convolution_and_depthwise_multiplier_arguments():
    x, w = V(np.ones((2, 3, 5, 5), np.float32)), V(np.ones((4, 3, 3, 3), np.float32))
    with pytest.raises(TypeError, match=r"^FusedConvolution: base_axis='a' must be an integer"):
        F.fused_convolution(x, w, base_axis="a")
    with pytest.raises(ValueError, match=r"^FusedConvolution: base_axis=3 must leave a channel"):
        F.fused_convolution(x, w, base_axis=3)
    with pytest.raises(TypeError, match=r"^DepthwiseConvolution: multiplier=None must be an "
                                        "integer"):
        F.depthwise_convolution(x, V(np.ones((3, 3, 3), np.float32)), multiplier=None)
    with pytest.raises(ValueError, match=r"^DepthwiseConvolution: multiplier=0 must be >= 1"):
        F.depthwise_convolution(x, V(np.ones((0, 3, 3), np.float32)), multiplier=0)


# -- argument kinds (function_info's table) ----------------------------------------
def _a(*shape, seed=0):
    return np.random.RandomState(seed).rand(*shape).astype(np.float32)


with nn.auto_forward():
    _PACKED = F.pack_padded_sequence(V(_a(3, 2, 4)), V(np.array([3, 2])))
# (function, inputs, a valid call's arguments, the name errors start with)
_KIND_CALLS = [
    (F.add_scalar, [_a(2, 3)], {"val": 2.0}, "AddScalar"),
    (F.mul_scalar, [_a(2, 3)], {"val": 2.0}, "MulScalar"),
    (F.pow_scalar, [_a(2, 3)], {"val": 2.0}, "PowScalar"),
    (F.r_div_scalar, [_a(2, 3)], {"val": 2.0}, "RDivScalar"),
    (F.r_pow_scalar, [_a(2, 3)], {"val": 2.0}, "RPowScalar"),
    (F.r_sub_scalar, [_a(2, 3)], {"val": 2.0}, "RSubScalar"),
    (F.affine_grid, [_a(2, 2, 3)], {"size": (4, 4)}, "AffineGrid"),
    (F.average_pooling, [_a(1, 2, 4, 4)], {"kernel": (2, 2)}, "AveragePooling"),
    (F.max_pooling, [_a(1, 2, 4, 4)], {"kernel": (2, 2)}, "MaxPooling"),
    (F.sum_pooling, [_a(1, 2, 4, 4)], {"kernel": (2, 2)}, "SumPooling"),
    (F.unpooling, [_a(1, 2, 2, 2)], {"kernel": (2, 2)}, "Unpooling"),
    (F.broadcast, [_a(1, 3)], {"shape": (2, 3)}, "Broadcast"),
    (F.broadcast_to, [_a(2, 3), _a(3)], {"axis": 1}, "BroadcastTo"),
    (F.celu, [_a(2, 3)], {"alpha": 1.0, "axis": 1}, "CELU"),
    (F.softplus, [_a(2, 3)], {"beta": 1.0}, "SoftPlus"),
    (F.categorical_cross_entropy, [_a(2, 3), np.array([[0], [2]])], {"axis": 1},
     "CategoricalCrossEntropy"),
    (F.softmax_cross_entropy, [_a(2, 3), np.array([[0], [2]])], {"axis": 1},
     "SoftmaxCrossEntropy"),
    (F.top_n_error, [_a(2, 3), np.array([[0], [2]])], {"axis": 1, "n": 1}, "TopNError"),
    (F.dropout, [_a(2, 3)], {"p": 0.5, "seed": 1}, "Dropout"),
    (F.epsilon_insensitive_loss, [_a(2, 3), _a(2, 3, seed=1)], {"epsilon": 0.5},
     "EpsilonInsensitiveLoss"),
    (F.huber_loss, [_a(2, 3), _a(2, 3, seed=1)], {"delta": 0.5}, "HuberLoss"),
    (F.gather, [_a(3, 2), np.array([2, 0])], {"axis": 0, "batch_dims": 0}, "Gather"),
    (F.group_normalization, [_a(2, 4, 3), _a(1, 4, 1), _a(1, 4, 1)],
     {"num_groups": 2, "channel_axis": 1, "batch_axis": (0,), "eps": 1e-5}, "GroupNormalization"),
    (F.instance_normalization, [_a(2, 4, 3), _a(1, 4, 1), _a(1, 4, 1)],
     {"channel_axis": 1, "batch_axis": (0,), "eps": 1e-5}, "InstanceNormalization"),
    (F.layer_normalization, [_a(2, 4), _a(1, 4), _a(1, 4)], {"batch_axis": (0,), "eps": 1e-5},
     "LayerNormalization"),
    (F.tensor_normalization, [_a(2, 4)], {"axes": (1,), "eps": 1e-5}, "TensorNormalization"),
    (F.interpolate, [_a(1, 1, 2, 2)], {"output_size": (3, 3), "mode": "linear",
                                       "align_corners": False, "channel_last": False},
     "Interpolate"),
    (F.interpolate, [_a(1, 1, 2, 2)], {"scale": (1.5, 1.5)}, "Interpolate"),
    (F.max, [_a(2, 3)], {"axis": 1, "keepdims": False, "with_index": False}, "Max"),
    (F.min, [_a(2, 3)], {"axis": 1, "keepdims": False, "only_index": False}, "Min"),
    (F.mean, [_a(2, 3)], {"axis": 1, "keepdims": False}, "Mean"),
    (F.norm, [_a(2, 3)], {"p": 2.0, "axis": 1, "keepdims": False}, "Norm"),
    (F.one_hot, [np.array([[1], [0]])], {"shape": (3,)}, "OneHot"),
    (F.prelu, [_a(2, 3), _a(3)], {"base_axis": 1}, "PReLU"),
    (F.pad, [_a(2, 3)], {"pad_width": (1, 1), "mode": "constant", "constant_value": 0.0}, "Pad"),
    (F.pad_packed_sequence, [_PACKED[0].d, _PACKED[1].d],
     {"batch_first": False, "padding_value": 0.0, "total_length": 3}, "PadPackedSequence"),
    (F.rand, [], {"low": 0.0, "high": 1.0, "shape": (2, 3), "seed": 1}, "Rand"),
    (F.randint, [], {"low": 0, "high": 5, "shape": (2, 3), "seed": 1}, "Randint"),
    (F.randn, [], {"mu": 0.0, "sigma": 1.0, "shape": (2, 3), "seed": 1}, "Randn"),
    (F.random_crop, [_a(2, 3, 6, 6)], {"shape": (3, 4, 4), "base_axis": 1, "seed": 1},
     "RandomCrop"),
    (F.random_shift, [_a(2, 3, 4, 4)], {"shifts": (1, 1), "border_mode": "nearest",
                                        "base_axis": 1, "seed": 1}, "RandomShift"),
    (F.shape, [_a(2, 3)], {"start": 0, "end": 2}, "Shape"),
    (F.shift, [_a(2, 3)], {"shifts": (1, 1), "border_mode": "nearest"}, "Shift"),
    (F.softmax, [_a(2, 3)], {"axis": 1}, "Softmax"),
    (F.tile, [_a(2, 3)], {"reps": (2, 1)}, "Tile"),
    (F.top_k_data, [_a(2, 5)], {"k": 2, "abs": False, "reduce": True, "base_axis": 1},
     "TopKData"),
    (F.trilu, [_a(3, 3)], {"k": 0, "upper": True}, "Trilu"),
    (F.clip_by_norm, [_a(2, 3)], {"clip_norm": 1.0, "axis": (1,)}, "clip_by_norm"),
    (F.constant, [], {"val": 1.0, "shape": (2, 3)}, "Constant"),
    (F.leaky_relu, [_a(2, 3)], {"alpha": 0.1}, "LeakyReLU"),
    (F.elu, [_a(2, 3)], {"alpha": 1.0}, "ELU"),
    (F.selu, [_a(2, 3)], {"scale": 1.0, "alpha": 1.5}, "SELU"),
    (F.sign, [_a(2, 3)], {"alpha": 1.0}, "Sign"),
    (F.prune, [_a(2, 3)], {"rate": 0.5}, "Prune"),
    (F.less_equal_scalar, [_a(2, 3)], {"val": 0.5}, "LessEqualScalar"),
    (F.maximum_scalar, [_a(2, 3)], {"val": 0.5}, "MaximumScalar"),
    (F.minimum_scalar, [_a(2, 3)], {"val": 0.5}, "MinimumScalar"),
    (F.reset_nan, [_a(2, 3)], {"val": 0.0}, "ResetNaN"),
    (F.linspace, [], {"start": 0.0, "stop": 1.0, "num": 5}, "Linspace"),
    (F.reshape, [_a(2, 3)], {"shape": (3, 2)}, "Reshape"),
    (F.scatter_nd, [_a(2), np.array([[0, 2]])], {"shape": (4,)}, "ScatterNd"),
    (F.slice, [_a(3, 4)], {"start": (0, 1), "stop": (2, 3), "step": (1, 1)}, "Slice"),
    (F.unique, [np.array([1.0, 2, 1])], {"flatten": True, "axis": 0, "sorted": True}, "Unique"),
]
# Values no argument of the kind takes (NNabla: "must be real number, not str",
# "'int' object is not iterable"; a non-integral float for an integer and a
# non-0/1 number for a bool are nablite's stricter choice, as for axes).
_BAD_BY_KIND = {"int": ["a", 1.5, (1,)], "float": ["a", (1.5, 1)], "double": ["a", (1.5, 1)],
                "bool": ["a", 0.5], "str": [1], "shape": ["a", (1, "a"), (None, 1)],
                "ints": ["a", (1, "a"), (None, 1)], "floats": ["a", (1, "a")]}
_NONE_ITEMS = {"slice"}  # NNabla's slice takes None items ("from the start", "to the end")
_DYNAMIC_ONLY = {"unique"}  # its output shape depends on the values


def _kind_rows(f, kwargs):
    from nablite.function_info import public_checks
    _, rows, _ = public_checks(f.__name__)
    return [(label, kind) for label, kind, _, _ in rows if label in kwargs]


@pytest.mark.parametrize("f,inputs,kwargs,name", _KIND_CALLS,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(_KIND_CALLS)])
def test_an_argument_of_the_wrong_kind_names_the_function_and_the_argument(f, inputs, kwargs,
                                                                          name):
    """Each argument (its kind from NNabla's table in function_info) with values no
    argument of its kind takes: an error that starts with the function's name and
    names the argument and the value -- it was NumPy's or Python's own message
    behind the name ("MulScalar: ufunc 'multiply' did not contain a loop ...",
    "interpolate: 'int' object is not iterable")."""
    rows = _kind_rows(f, kwargs)
    assert rows, f"{f.__name__}: no argument of the call has a kind in the table"
    with nn.auto_forward():
        y = f(*[V(a) for a in inputs], **kwargs)  # the valid call works
    assert y is not None
    for label, kind in rows:
        for bad in _BAD_BY_KIND[kind]:
            if bad == (None, 1) and f.__name__ in _NONE_ITEMS:
                continue
            for immediate in (True,) if f.__name__ in _DYNAMIC_ONLY else (True, False):  # built under auto_forward and as a static graph
                try:
                    if immediate:
                        with nn.auto_forward():
                            f(*[V(a) for a in inputs], **dict(kwargs, **{label: bad}))
                    else:
                        out = f(*[V(a) for a in inputs], **dict(kwargs, **{label: bad}))
                        for v in out if isinstance(out, tuple) else (out,):
                            v.forward()
                except (TypeError, ValueError) as e:
                    msg = str(e)
                    assert msg.startswith(f"{name}: "), (label, bad, msg)
                    assert re.search(rf"\b{label}\b", msg), (label, bad, msg)
                else:
                    pytest.fail(f"{f.__name__}({label}={bad!r}) was accepted")


def test_argument_kinds_accept_what_nnabla_accepts():
    """NNabla 1.39 (oracle) takes a bool or a NumPy scalar for a number, a 0-d or
    one-element array for one (nablite's leaky_relu does not yet), 2.0 for an integer, a tuple or an array for a list."""
    x = V(_a(2, 3))
    with nn.auto_forward():
        np.testing.assert_allclose(F.mul_scalar(x, True).d, x.d)
        np.testing.assert_allclose(F.mul_scalar(x, np.float64(2)).d, x.d * 2)
        np.testing.assert_allclose(F.mul_scalar(x, np.array(2.0)).d, x.d * 2)
        np.testing.assert_allclose(F.add_scalar(x, np.array([2.0])).d, x.d + 2)
        assert F.softmax(x, axis=np.int64(1)).shape == (2, 3)
        assert F.top_k_data(x, k=2.0).shape == (2, 2)
        assert F.tile(x, np.array([2, 1])).shape == (4, 3)
        assert F.tile(x, 2).shape == (2, 6)  # a single number for a list of one
        assert F.broadcast(V(_a(1, 3)), (2.0, 3)).shape == (2, 3)
        assert F.pad(x, (1.0, 1)).shape == (2, 5)
        assert F.max(x, axis=1, keepdims=1).shape == (2, 1)
        assert F.slice(x, start=(0, None), stop=(1, None)).shape == (1, 3)


def test_argument_kind_messages():
    x = V(_a(2, 3))
    cases = [
        (lambda: F.mul_scalar(x, "a"), r"^MulScalar: val='a' must be a number, got str$"),
        (lambda: F.mul_scalar(x, None), r"^MulScalar: val=None must be a number, got None$"),
        (lambda: F.interpolate(V(_a(1, 1, 2, 2)), output_size=3),
         r"^Interpolate: output_size=3 must be a list of integers, got int$"),
        (lambda: F.tile(x, (None, 1)), r"^Tile: reps=\(None, 1\) must hold integers, got "
                                       r"NoneType None$"),
        (lambda: F.sum(x, axis=1, keepdims=10 ** 12),
         r"^Sum: keepdims=1000000000000 must be a bool, got int$"),
        (lambda: F.interpolate(V(_a(1, 1, 2, 2)), output_size=(3, 3), align_corners="a"),
         r"^Interpolate: align_corners='a' must be a bool, got str$"),
        (lambda: F.gather(x, V(np.array([0])), axis=(1,)),
         r"^Gather: axis=\(1,\) must be an integer, got tuple$"),
        (lambda: F.top_k_data(x, 1.5), r"^TopKData: k=1.5 must be an integer, got float$"),
    ]
    for build, match in cases:
        with pytest.raises(TypeError, match=match):
            with nn.auto_forward():
                build()
