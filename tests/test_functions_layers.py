"""Layer functions: forward vs NumPy (naive loops for convolution), backward vs numeric."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions import convolutions as convolutions_module
from nablite.functions import layers as layers_module
from _helpers import bn_inputs, ref_bn_add_act
from gradcheck import away_from, check_function, randn


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


def _spatial(args, d, default):
    return tuple(args) if args is not None else (default,) * d


def _window(o, s, k, dl):
    return tuple(slice(oi * si, oi * si + di * (ki - 1) + 1, di) for oi, si, ki, di in
                 zip(o, s, k, dl))


def ref_convolution(x, w, b=None, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                    channel_last=False):
    """Direct definition: one output position and one group at a time."""
    if channel_last:
        x, w = np.moveaxis(x, -1, base_axis), np.moveaxis(w, -1, 1)
    lead = x.shape[:base_axis]
    x = x.reshape((-1,) + x.shape[base_axis:])
    n, c, spatial, kernel, oc = x.shape[0], x.shape[1], x.shape[2:], w.shape[2:], w.shape[0]
    d = len(spatial)
    pad, stride, dilation = _spatial(pad, d, 0), _spatial(stride, d, 1), _spatial(dilation, d, 1)
    xpad = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    out = [(s + 2 * p - dl * (k - 1) - 1) // st + 1
           for s, p, dl, k, st in zip(spatial, pad, dilation, kernel, stride)]
    y = np.zeros((n, oc) + tuple(out))
    cg, ocg = c // group, oc // group
    for o in np.ndindex(*out):
        for g in range(group):
            patch = xpad[(slice(None), slice(g * cg, (g + 1) * cg)) +
                         _window(o, stride, kernel, dilation)]
            axes = list(range(1, 2 + d))
            y[(slice(None), slice(g * ocg, (g + 1) * ocg)) + o] = np.tensordot(
                patch, w[g * ocg:(g + 1) * ocg], axes=(axes, axes))
    if b is not None:
        y += b.reshape((-1,) + (1,) * d)
    y = y.reshape(lead + y.shape[1:])
    return np.moveaxis(y, base_axis, -1) if channel_last else y


def ref_deconvolution(x, w, b=None, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                      channel_last=False, output_padding=None):
    """Direct definition: every input position scatters its kernel-sized patch."""
    if channel_last:
        x, w = np.moveaxis(x, -1, base_axis), np.moveaxis(w, -1, 1)
    lead = x.shape[:base_axis]
    x = x.reshape((-1,) + x.shape[base_axis:])
    n, c, spatial, kernel = x.shape[0], x.shape[1], x.shape[2:], w.shape[2:]
    d = len(spatial)
    pad, stride, dilation = _spatial(pad, d, 0), _spatial(stride, d, 1), _spatial(dilation, d, 1)
    output_padding = _spatial(output_padding, d, 0)
    cg, ocg = c // group, w.shape[1]
    out = [(s - 1) * st - 2 * p + dl * (k - 1) + 1 + op for s, st, p, dl, k, op in
           zip(spatial, stride, pad, dilation, kernel, output_padding)]
    full = np.zeros((n, ocg * group) + tuple(o + 2 * p for o, p in zip(out, pad)))
    for i in np.ndindex(*spatial):
        for g in range(group):
            full[(slice(None), slice(g * ocg, (g + 1) * ocg)) +
                 _window(i, stride, kernel, dilation)] += np.einsum(
                "nc,co...->no...", x[(slice(None), slice(g * cg, (g + 1) * cg)) + i],
                w[g * cg:(g + 1) * cg])
    y = full[(Ellipsis,) + tuple(slice(p, p + o) for p, o in zip(pad, out))]
    if b is not None:
        y = y + b.reshape((-1,) + (1,) * d)
    y = y.reshape(lead + y.shape[1:])
    return np.moveaxis(y, base_axis, -1) if channel_last else y


def ref_depthwise_convolution(x, w, b=None, base_axis=1, pad=None, stride=None, dilation=None,
                              multiplier=1):
    c = x.shape[base_axis]
    return ref_convolution(x, w.reshape((w.shape[0], 1) + w.shape[1:]), b, base_axis, pad,
                           stride, dilation, group=c)


def ref_depthwise_deconvolution(x, w, b=None, base_axis=1, pad=None, stride=None,
                                dilation=None, divisor=1):
    c = x.shape[base_axis]
    return ref_deconvolution(x, w.reshape((c, 1) + w.shape[1:]), b, base_axis, pad, stride,
                             dilation, group=c // divisor)


CONV_CASES = [
    # 2-D: plain, bias, pad, stride, dilation, groups, everything at once
    ([randn(2, 3, 5, 5), randn(4, 3, 3, 3, seed=1), randn(4, seed=2)], {}),
    ([randn(2, 3, 5, 4), randn(2, 3, 2, 3, seed=1)], {"pad": (1, 2)}),
    ([randn(1, 2, 7, 6), randn(3, 2, 3, 2, seed=1), randn(3, seed=2)], {"stride": (2, 3)}),
    ([randn(2, 2, 7, 7), randn(2, 2, 3, 2, seed=1)], {"dilation": (2, 3)}),
    ([randn(2, 4, 5, 5), randn(6, 2, 3, 3, seed=1), randn(6, seed=2)], {"group": 2}),
    ([randn(1, 6, 6, 7), randn(3, 2, 3, 2, seed=1), randn(3, seed=2)],
     {"group": 3, "pad": (1, 0), "stride": (2, 2), "dilation": (1, 2)}),
    ([randn(2, 2, 2, 2), randn(2, 2, 3, 3, seed=1)], {"pad": (1, 1)}),
    ([randn(1, 2, 3, 3), randn(2, 2, 2, 2, seed=1)], {"pad": (2, 1)}),  # pad > kernel - 1
    # 1-D and 3-D
    ([randn(2, 3, 9), randn(4, 3, 3, seed=1), randn(4, seed=2)],
     {"pad": (2,), "stride": (2,), "dilation": (2,)}),
    ([randn(1, 2, 4, 5, 4), randn(3, 2, 2, 3, 2, seed=1), randn(3, seed=2)],
     {"pad": (1, 0, 1), "stride": (2, 1, 1)}),
    # base_axis and channel_last
    ([randn(2, 2, 3, 5, 5), randn(2, 3, 3, 3, seed=1)], {"base_axis": 2, "pad": (1, 1)}),
    ([randn(2, 5, 4, 4), randn(6, 3, 2, 2, seed=1), randn(6, seed=2)],
     {"channel_last": True, "group": 2, "pad": (1, 0), "stride": (1, 2)}),
    ([randn(2, 3, 7, 5, 3), randn(4, 3, 2, 3, seed=1)], {"channel_last": True, "base_axis": 2}),
    # images large enough for the padded-grid ("wide") stride-1 path: same-size
    # output; different x and gradient grids; 1-D; channel_last
    ([randn(2, 3, 12, 12), randn(4, 3, 3, 3, seed=1), randn(4, seed=2)], {"pad": (1, 1)}),
    ([randn(2, 2, 11, 12), randn(3, 2, 3, 2, seed=1)], {"pad": (1, 0), "dilation": (1, 2)}),
    ([randn(2, 3, 20), randn(2, 3, 3, seed=1)], {"pad": (1,)}),
    ([randn(2, 2, 12, 12), randn(3, 2, 2, 2, seed=1)], {"pad": (2, 2)}),  # pad > d(K-1)
    ([randn(2, 10, 10, 3), randn(4, 3, 3, 3, seed=1)], {"channel_last": True, "pad": (1, 1)}),
]


@pytest.mark.parametrize("inputs,kwargs", CONV_CASES)
def test_convolution(inputs, kwargs):
    check_function(F.convolution, inputs, ref=ref_convolution, kwargs=kwargs)


DECONV_CASES = [
    ([randn(2, 3, 4, 3), randn(3, 2, 3, 3, seed=1), randn(2, seed=2)], {}),
    ([randn(2, 2, 3, 4), randn(2, 3, 2, 3, seed=1)], {"pad": (1, 1), "stride": (2, 2)}),
    ([randn(1, 4, 3, 3), randn(4, 2, 3, 2, seed=1), randn(4, seed=2)],
     {"group": 2, "stride": (2, 3), "dilation": (1, 2), "output_padding": (1, 2)}),
    ([randn(2, 3, 5), randn(3, 2, 3, seed=1)], {"stride": (2,), "pad": (1,), "dilation": (2,)}),
    ([randn(1, 2, 3, 2, 3), randn(2, 2, 2, 2, 3, seed=1), randn(2, seed=2)],
     {"stride": (2, 1, 2), "output_padding": (1, 0, 0)}),
    ([randn(2, 3, 4, 4), randn(4, 2, 2, 3, seed=1)],
     {"channel_last": True, "group": 2, "stride": (2, 1)}),
    ([randn(2, 2, 2, 3, 3), randn(2, 2, 2, 2, seed=1)], {"base_axis": 2}),
]


@pytest.mark.parametrize("inputs,kwargs", DECONV_CASES)
def test_deconvolution(inputs, kwargs):
    check_function(F.deconvolution, inputs, ref=ref_deconvolution, kwargs=kwargs)


@pytest.mark.parametrize("inputs,kwargs", [
    ([randn(2, 3, 5, 5), randn(3, 3, 3, seed=1), randn(3, seed=2)], {}),
    ([randn(2, 2, 5, 6), randn(6, 3, 2, seed=1), randn(6, seed=2)],
     {"multiplier": 3, "pad": (1, 1), "stride": (2, 2), "dilation": (1, 2)}),
    ([randn(2, 3, 7), randn(6, 3, seed=1)], {"multiplier": 2}),
])
def test_depthwise_convolution(inputs, kwargs):
    check_function(F.depthwise_convolution, inputs, ref=ref_depthwise_convolution, kwargs=kwargs)


@pytest.mark.parametrize("inputs,kwargs", [
    ([randn(2, 3, 3, 4), randn(3, 3, 3, seed=1), randn(3, seed=2)], {}),
    ([randn(2, 4, 3, 3), randn(4, 2, 3, seed=1), randn(2, seed=2)],
     {"divisor": 2, "pad": (1, 1), "stride": (2, 2)}),
    ([randn(2, 4, 5), randn(4, 3, seed=1)], {"divisor": 4, "dilation": (2,)}),
])
def test_depthwise_deconvolution(inputs, kwargs):
    check_function(F.depthwise_deconvolution, inputs, ref=ref_depthwise_deconvolution,
                   kwargs=kwargs)


@pytest.mark.parametrize("x0,w", [
    (np.array([[0, 2, 1], [2, 2, 0]]), randn(4, 3)),
    (np.array([3, 3, 3, 1]), randn(5, 2, 3)),
    (np.array(2), randn(3, 4)),
])
def test_embed(x0, w):
    check_function(F.embed, [x0, w], ref=lambda x0, w: w[x0])


def test_embed_gradient_counts_repeats():
    x0 = nn.Variable.from_numpy_array(np.array([1, 1, 1, 0]))
    w = nn.Variable.from_numpy_array(np.ones((3, 2), np.float32), need_grad=True)
    y = F.embed(x0, w)
    y.forward()
    w.g = 0
    y.backward(np.ones((4, 2), np.float32))
    np.testing.assert_array_equal(w.g, [[1, 1], [3, 3], [0, 0]])
    assert w.g.dtype == np.float32


def test_chained_convolutions_and_pooling():
    # A convolution's result is a batch-last view; the next convolution (no
    # padding), pooling and the gradients coming back read that memory order.
    def net(x, w1, w2, w3):
        h = F.max_pooling(F.relu(F.convolution(x, w1, pad=(1, 1))), (2, 2))
        return F.convolution(F.convolution(h, w2), w3, pad=(1, 1))

    def ref(x, w1, w2, w3):
        h = np.maximum(ref_convolution(x, w1, pad=(1, 1)), 0)
        n, c, hh, ww = h.shape
        h = h.reshape(n, c, hh // 2, 2, ww // 2, 2).max(axis=(3, 5))
        return ref_convolution(ref_convolution(h, w2), w3, pad=(1, 1))

    x = away_from(0, randn(3, 2, 8, 8))
    check_function(net, [x, randn(4, 2, 3, 3, seed=1), randn(3, 4, 2, 2, seed=2),
                         randn(2, 3, 3, 3, seed=3)], ref=ref, grad=[1, 2, 3])


def test_convolution_family_keeps_float32():
    x = nn.Variable.from_numpy_array(randn(2, 4, 5, 5).astype(np.float32), need_grad=True)
    for f, w_shape in [(F.convolution, (2, 4, 3, 3)), (F.deconvolution, (4, 2, 3, 3)),
                       (F.depthwise_convolution, (4, 3, 3)),
                       (F.depthwise_deconvolution, (4, 3, 3))]:
        w = nn.Variable.from_numpy_array(randn(*w_shape).astype(np.float32), need_grad=True)
        y = f(x, w)
        y.forward()
        y.backward()
        assert y.d.dtype == x.g.dtype == w.g.dtype == np.float32, f.__name__


def test_channel_last_matches_channel_first():
    x, w, b = randn(2, 4, 6, 5), randn(6, 2, 3, 2, seed=1), randn(6, seed=2)
    kw = {"pad": (1, 1), "stride": (2, 1), "group": 2}
    first = F.convolution(nn.Variable.from_numpy_array(x), nn.Variable.from_numpy_array(w),
                          nn.Variable.from_numpy_array(b), **kw)
    last = F.convolution(nn.Variable.from_numpy_array(np.moveaxis(x, 1, -1)),
                         nn.Variable.from_numpy_array(np.moveaxis(w, 1, -1)),
                         nn.Variable.from_numpy_array(b), channel_last=True, **kw)
    first.forward()
    last.forward()
    np.testing.assert_allclose(np.moveaxis(last.d, -1, 1), first.d, atol=1e-12)


def test_convolution_resolves_default_arguments():
    y = F.convolution(nn.Variable((2, 3, 5, 5)), nn.Variable((4, 3, 3, 3)))
    args = y.parent.args
    assert (args["pad"], args["stride"], args["dilation"]) == ([0, 0], [1, 1], [1, 1])
    assert y.shape == (2, 4, 3, 3)


@pytest.mark.parametrize("f,shapes,kwargs,match", [
    (F.convolution, [(2, 3, 5, 5), (4, 2, 3, 3)], {}, "Convolution: x .* has 3 channels"),
    (F.convolution, [(2, 3, 5, 5), (4, 3, 3)], {}, "Convolution: weight .* must have 4 dim"),
    (F.convolution, [(2, 3, 2, 2), (4, 3, 3, 3)], {}, "Convolution: kernel .* larger than"),
    (F.convolution, [(2, 3, 5, 5), (4, 3, 3, 3), (3,)], {}, r"Convolution: bias .* \(4,\)"),
    (F.convolution, [(2, 4, 5, 5), (5, 2, 3, 3)], {"group": 2}, "Convolution: .* multiple of"),
    (F.convolution, [(2, 3, 5, 5), (4, 3, 3, 3)], {"pad": (1, 1, 1)}, "Convolution: pad="),
    (F.convolution, [(2, 3, 5, 5), (4, 3, 3, 3)], {"stride": (0, 1)}, "Convolution: stride="),
    (F.convolution, [(2, 3), (4, 3)], {}, "Convolution: base_axis=1 must leave"),
    (F.deconvolution, [(2, 3, 5, 5), (4, 2, 3, 3)], {}, "Deconvolution: x .* has 3 channels"),
    (F.deconvolution, [(2, 4, 5, 5), (4, 2, 3, 3)], {"stride": (2, 2), "output_padding": (2, 0)},
     "Deconvolution: output_padding="),
    (F.depthwise_convolution, [(2, 3, 5, 5), (3, 3, 3)], {"multiplier": 2},
     "DepthwiseConvolution: weight"),
    (F.depthwise_convolution, [(2, 3, 5, 5), (3, 1, 3, 3)], {},
     "DepthwiseConvolution: weight .* must have 3 dim"),
    (F.depthwise_deconvolution, [(2, 3, 5, 5), (3, 3, 3)], {"divisor": 2},
     "DepthwiseDeconvolution: divisor=2"),
])
def test_convolution_bad_inputs(f, shapes, kwargs, match):
    with pytest.raises(ValueError, match=match):
        f(*[nn.Variable(s) for s in shapes], **kwargs)


def test_convolution_group_must_be_an_int():
    with pytest.raises(TypeError, match="Convolution: group=2.0 must be an int"):
        F.convolution(nn.Variable((2, 4, 5, 5)), nn.Variable((4, 2, 3, 3)), group=2.0)


def test_every_layer_function_is_tested():
    tested = {name[len("test_"):] for name in globals() if name.startswith("test_")}
    missing = [n for n in layers_module.__all__ + convolutions_module.__all__ if n not in tested]
    assert not missing, missing


def _act(name, args):
    return {"identity": lambda y: y, "relu": lambda y: np.maximum(y, 0),
            "sigmoid": lambda y: 1 / (1 + np.exp(-y)), "tanh": np.tanh,
            "leaky_relu": lambda y: np.where(y > 0, y, args[0] * y),
            "elu": lambda y: np.where(y > 0, y, args[0] * np.expm1(y)),
            "relu6": lambda y: np.clip(y, 0, 6)}[name]


def ref_fused_convolution(x, w, b=None, beta=None, gamma=None, mean=None, variance=None, z=None,
                          pad=None, stride=None, batch_stat=True, nonlinearity="relu",
                          nonlinearity_args=(), pad_mode="constant", eps=1e-5):
    if pad is not None and pad_mode != "constant":
        mode = {"reflect": "reflect", "repeat": "edge"}[pad_mode]
        x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad], mode=mode)
        pad = None
    return ref_bn_add_act(ref_convolution(x, w, b, pad=pad, stride=stride), beta, gamma,
                          mean, variance, z, batch_stat, eps,
                          _act(nonlinearity, nonlinearity_args))


@pytest.mark.parametrize("inputs,kwargs,grad", [
    ([randn(2, 3, 5, 5), randn(4, 3, 3, 3, seed=1), randn(4, seed=2)],
     {"pad": (1, 1), "nonlinearity": "identity"}, None),
    ([randn(2, 3, 5, 5), randn(4, 3, 3, 3, seed=1), randn(4, seed=2)],
     {"pad": (2, 1), "stride": (2, 1), "pad_mode": "reflect", "nonlinearity": "tanh"}, None),
    ([randn(2, 3, 5, 5), randn(4, 3, 3, 3, seed=1), None] + bn_inputs(4) + [randn(2, 4, 5, 5)],
     {"pad": (1, 1), "nonlinearity": "sigmoid"}, [0, 1, 3, 4, 7]),
    ([randn(2, 3, 5, 5), randn(4, 3, 3, 3, seed=1), None] + bn_inputs(4) + [None],
     {"pad": (1, 1), "pad_mode": "repeat", "batch_stat": False, "nonlinearity": "elu",
      "nonlinearity_args": [0.7]}, [0, 1, 3, 4]),
])
def test_fused_convolution(inputs, kwargs, grad):
    check_function(F.fused_convolution, inputs, ref=ref_fused_convolution, kwargs=kwargs,
                   grad=grad)


def test_fused_convolution_bad_inputs():
    x, w = nn.Variable((2, 3, 5, 5)), nn.Variable((4, 3, 3, 3))
    with pytest.raises(ValueError, match="FusedConvolution: bias and the batch"):
        F.fused_convolution(x, w, nn.Variable((4,)), beta=nn.Variable((1, 4, 1, 1)))
    with pytest.raises(ValueError, match="FusedConvolution: nonlinearity='leaky_relu' needs"):
        F.fused_convolution(x, w, nonlinearity="leaky_relu")
    with pytest.raises(ValueError, match="FusedConvolution: nonlinearity='swish'"):
        F.fused_convolution(x, w, nonlinearity="swish")


def test_parity_with_real_nnabla():
    from nnabla_parity import check_parity
    r = np.random.RandomState(0).randn
    cases = [
        ("affine", [r(2, 3, 4), r(12, 5), r(5)], {}, [0, 1, 2]),
        ("affine", [r(2, 3, 4), r(4, 2, 3)], {"base_axis": 2}, [0, 1]),
        ("batch_matmul", [r(2, 4, 3), r(2, 5, 4)], {"transpose_a": True, "transpose_b": True},
         [0, 1]),
        ("convolution", [r(2, 3, 7, 7), r(4, 3, 3, 3), r(4)], {}, [0, 1, 2]),
        ("convolution", [r(2, 4, 7, 6), r(6, 2, 3, 2), r(6)],
         {"group": 2, "pad": (1, 2), "stride": (2, 1), "dilation": (1, 2)}, [0, 1, 2]),
        ("convolution", [r(2, 3, 9), r(4, 3, 3)], {"pad": (2,), "stride": (3,),
                                                   "dilation": (2,)}, [0, 1]),
        ("convolution", [r(2, 3, 5, 6, 5), r(4, 3, 2, 3, 2)], {"pad": (1, 0, 1)}, [0, 1]),
        ("deconvolution", [r(2, 4, 4, 5), r(4, 3, 3, 2), r(6)],
         {"group": 2, "pad": (1, 0), "stride": (2, 3), "dilation": (1, 2),
          "output_padding": (1, 2)}, [0, 1, 2]),
        ("depthwise_convolution", [r(2, 3, 7, 7), r(6, 3, 3), r(6)],
         {"multiplier": 2, "pad": (1, 1)}, [0, 1, 2]),
        ("depthwise_deconvolution", [r(2, 4, 4, 5), r(4, 3, 3), r(2)],
         {"divisor": 2, "stride": (2, 2), "pad": (1, 1)}, [0, 1, 2]),
    ]
    assert check_parity(cases, rtol=1e-4, atol=1e-5) == len(cases)
