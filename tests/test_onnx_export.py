"""nablite.onnx.export: every exported graph runs in onnxruntime and gives
nablite's forward (1e-4), for the tutorial's models, LeNet, the small ResNet,
an Elman RNN (the tutorial's unrolled one and F.rnn) and one case per rule of
the export table; every rule has a case."""
import os

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from nablite.onnx import export, export_rules, import_model, supported_table  # noqa: E402
from nablite.onnx.ops import ExportError  # noqa: E402

from _helpers import load_fixture_maker  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.RandomState(0)


def _models():
    """The network builders the .nnp tests use (tests/fixtures/make_nnp_fixtures.py)."""
    return load_fixture_maker("make_nnp_fixtures")


def run_onnx(path, feeds):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds)))


def check_export(tmp_path, inputs, outputs, opset=17, tol=1e-4):
    """Forward in nablite, export, run in onnxruntime, compare every output."""
    outs = list(outputs.values())
    nn.forward_all(outs)
    expected = {k: v.d.copy() for k, v in outputs.items()}
    path = tmp_path / "model.onnx"
    model = export(outputs, path, inputs=inputs, opset=opset)
    got = run_onnx(path, {k: v.d.astype(np.float32) for k, v in inputs.items()})
    assert set(got) == set(expected)
    for k in expected:
        np.testing.assert_allclose(got[k], expected[k], rtol=tol, atol=tol, err_msg=k)
    return model


pytestmark = pytest.mark.usefixtures("fresh_parameters")


@pytest.mark.parametrize("name", ["mlp", "cnn", "lenet", "resnet", "rnn"])
@pytest.mark.parametrize("opset", [11, 13, 17])
def test_models(tmp_path, name, opset):
    m = _models()
    inputs, outputs = m.MODELS[name](nn, F, PF)
    m.randomize(nn, 1)
    for v in inputs.values():
        v.d = rng.randn(*v.shape)
    model = check_export(tmp_path, inputs, outputs, opset)
    assert model.opset_import[0].version == opset
    # parameters are initializers under their nablite names, once each
    names = [t.name for t in model.graph.initializer]
    params = nn.get_parameters(grad_only=False)
    assert set(params) <= set(names)
    for t in model.graph.initializer:
        if t.name in params:
            np.testing.assert_array_equal(onnx.numpy_helper.to_array(t).reshape(-1),
                                          params[t.name].d.reshape(-1))


def test_default_inputs_and_list_outputs(tmp_path):
    x = nn.Variable((3, 5))
    y = PF.affine(x, 4, name="fc")
    z = F.softmax(y)
    x.d = rng.randn(3, 5)
    nn.forward_all([y, z])
    model = export([y, z], tmp_path / "m.onnx")  # x is the only non-parameter leaf
    assert [i.name for i in model.graph.input] == ["x0"]
    assert [o.name for o in model.graph.output] == ["y0", "y1"]
    got = run_onnx(tmp_path / "m.onnx", {"x0": x.d.astype(np.float32)})
    np.testing.assert_allclose(got["y0"], y.d, atol=1e-5)
    np.testing.assert_allclose(got["y1"], z.d, atol=1e-5)


def u(lo, hi, *shape):
    return rng.uniform(lo, hi, shape).astype(np.float32)


def n(*shape):
    return rng.randn(*shape).astype(np.float32)


def ints(hi, *shape):
    return rng.randint(0, hi, shape).astype(np.float32)


X = n(2, 3, 4)
POS = u(0.5, 2.0, 2, 3, 4)
UNIT = u(-0.9, 0.9, 2, 3, 4)
IMG = n(2, 4, 7, 7)
SPECIAL = np.array([[1.0, np.nan, -np.inf, 2.0], [np.inf, 0.0, np.nan, -3.0]], np.float32)
BN_STATS = [n(1, 4, 1, 1), n(1, 4, 1, 1), n(1, 4, 1, 1), u(0.5, 2, 1, 4, 1, 1)]

# (id, builder(*Variables) -> Variable or tuple, input arrays)
CASES = [
    ("relu", F.relu, [X]), ("sigmoid", F.sigmoid, [X]), ("tanh", F.tanh, [X]),
    ("exp", F.exp, [X]), ("log", F.log, [POS]), ("abs", F.abs, [X]), ("sin", F.sin, [X]),
    ("cos", F.cos, [X]), ("tan", F.tan, [UNIT]), ("sinh", F.sinh, [X]), ("cosh", F.cosh, [X]),
    ("asin", F.asin, [UNIT]), ("acos", F.acos, [UNIT]), ("atan", F.atan, [X]),
    ("asinh", F.asinh, [X]), ("acosh", F.acosh, [POS + 1]), ("atanh", F.atanh, [UNIT]),
    ("erf", F.erf, [X]), ("sign", F.sign, [X]), ("ceil", F.ceil, [X * 3]),
    ("floor", F.floor, [X * 3]), ("softsign", F.softsign, [X]), ("identity", F.identity, [X]),
    ("round", F.round, [np.array([[-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.4, -0.6]], np.float32)]),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), [X]), ("elu", lambda x: F.elu(x, 0.7), [X]),
    ("selu", F.selu, [X]), ("hard_sigmoid", F.hard_sigmoid, [X * 4]),
    ("hard_tanh", F.hard_tanh, [X * 2]), ("relu6", F.relu6, [X * 5]),
    ("softplus", F.softplus, [X]), ("softplus_beta", lambda x: F.softplus(x, 2.0), [X]),
    ("swish", F.swish, [X]), ("gelu", F.gelu, [X]), ("mish", F.mish, [X]),
    ("log_sigmoid", F.log_sigmoid, [X]), ("tanh_shrink", F.tanh_shrink, [X]),
    ("crelu", lambda x: F.crelu(x, axis=2), [X]), ("celu", lambda x: F.celu(x, 1.5, 1), [X]),
    ("prelu_shared", F.prelu, [X, np.array(0.3, np.float32)]),
    ("prelu_channel", lambda x, w: F.prelu(x, w, 1), [IMG, n(4)]),
    ("add2", F.add2, [X, n(3, 4)]), ("sub2", F.sub2, [X, n(1, 3, 1)]),
    ("mul2", F.mul2, [X, n(4)]), ("div2", F.div2, [X, POS]), ("pow2", F.pow2, [POS, X]),
    ("maximum2", F.maximum2, [X, n(2, 3, 4)]), ("minimum2", F.minimum2, [X, n(2, 1, 4)]),
    ("add_scalar", lambda x: x + 1.5, [X]), ("mul_scalar", lambda x: x * -2.0, [X]),
    ("pow_scalar", lambda x: x ** 1.5, [POS]), ("r_sub_scalar", lambda x: 3 - x, [X]),
    ("r_div_scalar", lambda x: 2 / x, [POS]), ("r_pow_scalar", lambda x: 2 ** x, [X]),
    ("maximum_scalar", lambda x: F.maximum_scalar(x, 0.1), [X]),
    ("minimum_scalar", lambda x: F.minimum_scalar(x, 0.1), [X]),
    ("add_n", lambda a, b, c: F.add_n(a, b, c), [X, X * 2, X * 3]),
    ("mul_n", lambda a, b, c: F.mul_n(a, b, c), [X, POS, X]),
    ("greater", F.greater, [X, n(2, 3, 4)]), ("greater_equal", F.greater_equal, [X, X * 0.5]),
    ("less", F.less, [X, n(2, 3, 4)]), ("less_equal", F.less_equal, [X, X * 0.5]),
    ("equal", F.equal, [ints(3, 2, 3, 4), ints(3, 2, 3, 4)]),
    ("not_equal", F.not_equal, [ints(3, 2, 3, 4), ints(3, 2, 3, 4)]),
    ("greater_scalar", lambda x: F.greater_scalar(x, 0.2), [X]),
    ("greater_equal_scalar", lambda x: F.greater_equal_scalar(x, 1.0), [ints(3, 2, 3, 4)]),
    ("less_scalar", lambda x: F.less_scalar(x, 0.2), [X]),
    ("less_equal_scalar", lambda x: F.less_equal_scalar(x, 1.0), [ints(3, 2, 3, 4)]),
    ("equal_scalar", lambda x: F.equal_scalar(x, 1.0), [ints(3, 2, 3, 4)]),
    ("not_equal_scalar", lambda x: F.not_equal_scalar(x, 1.0), [ints(3, 2, 3, 4)]),
    ("logical_and", F.logical_and, [ints(2, 2, 3, 4), ints(2, 2, 3, 4)]),
    ("logical_or", F.logical_or, [ints(2, 2, 3, 4), ints(2, 2, 3, 4)]),
    ("logical_xor", F.logical_xor, [ints(2, 2, 3, 4), ints(2, 2, 3, 4)]),
    ("logical_and_scalar", lambda x: F.logical_and_scalar(x, True), [ints(2, 2, 3, 4)]),
    ("logical_or_scalar", lambda x: F.logical_or_scalar(x, False), [ints(2, 2, 3, 4)]),
    ("logical_xor_scalar", lambda x: F.logical_xor_scalar(x, True), [ints(2, 2, 3, 4)]),
    ("logical_not", F.logical_not, [ints(2, 2, 3, 4)]),
    ("where", F.where, [ints(2, 2, 3, 4), X, n(2, 3, 4)]),
    ("sum", lambda x: F.sum(x, axis=(0, 2)), [X]),
    ("sum_keep", lambda x: F.sum(x, axis=1, keepdims=True), [X]),
    ("mean", lambda x: F.mean(x, axis=2, keepdims=True), [X]), ("mean_all", F.mean, [X]),
    ("max", lambda x: F.max(x, axis=1), [X]), ("min", lambda x: F.min(x, axis=(1, 2)), [X]),
    ("prod", lambda x: F.prod(x, axis=2), [POS]),
    ("reshape", lambda x: F.reshape(x, (4, 6)), [X]),
    ("transpose", lambda x: F.transpose(x, (2, 0, 1)), [X]),
    ("concatenate", lambda a, b: F.concatenate(a, b, axis=1), [X, n(2, 5, 4)]),
    ("slice", lambda x: x[:, 1:3, ::2], [X]), ("slice_reverse", lambda x: x[::-1, :, 3:0:-2], [X]),
    ("flip", lambda x: F.flip(x, axes=(0, 2)), [X]),
    ("pad_constant", lambda x: F.pad(x, (1, 2, 0, 1), constant_value=0.5), [X]),
    ("pad_reflect", lambda x: F.pad(x, (1, 1, 2, 2), mode="reflect"), [X]),
    ("pad_repeat", lambda x: F.pad(x, (2, 1), mode="repeat"), [X]),
    ("broadcast", lambda x: F.broadcast(x, (2, 3, 4)), [n(2, 1, 4)]),
    ("tile", lambda x: F.tile(x, (2, 1, 3)), [X]), ("tile_more", lambda x: F.tile(x, (2, 2)), [n(3, 4)]),
    ("split", lambda x: F.split(x, axis=1), [X]),
    ("stack", lambda a, b: F.stack(a, b, axis=1), [X, n(2, 3, 4)]),
    ("softmax", lambda x: F.softmax(x, axis=1), [X]),
    ("log_softmax", lambda x: F.log_softmax(x, axis=2), [X]),
    ("affine", F.affine, [n(2, 3, 4), n(12, 5), n(5)]),
    ("affine_nobias_base2", lambda x, w: F.affine(x, w, base_axis=2), [X, n(4, 2, 3)]),
    ("batch_matmul", F.batch_matmul, [X, n(2, 4, 5)]),
    ("batch_matmul_t", lambda a, b: F.batch_matmul(a, b, True, True), [n(2, 4, 3), n(2, 5, 4)]),
    ("embed", F.embed, [ints(10, 2, 3), n(10, 4)]),
    ("constant", lambda x: x + F.constant(2.0, (2, 3, 4)), [X]),
    ("convolution", lambda x, w, b: F.convolution(x, w, b, pad=(1, 2), stride=(2, 1),
                                                  dilation=(1, 2), group=2),
     [IMG, n(6, 2, 3, 3), n(6)]),
    ("convolution_1d", lambda x, w: F.convolution(x, w, pad=(1,)), [n(2, 3, 9), n(4, 3, 3)]),
    ("convolution_base2", lambda x, w: F.convolution(x, w, base_axis=2),
     [n(2, 2, 3, 5, 5), n(4, 3, 3, 3)]),
    ("depthwise_convolution", lambda x, w, b: F.depthwise_convolution(
        x, w, b, pad=(1, 1), stride=(2, 2), multiplier=2), [IMG, n(8, 3, 3), n(8)]),
    ("deconvolution", lambda x, w, b: F.deconvolution(x, w, b, pad=(1, 0), stride=(2, 2),
                                                      dilation=(1, 2), group=2),
     [IMG, n(4, 3, 3, 3), n(6)]),
    ("deconvolution_output_padding", lambda x, w: F.deconvolution(
        x, w, stride=(2, 2), pad=(1, 1), output_padding=(1, 1)), [IMG, n(4, 2, 3, 3)]),
    ("depthwise_deconvolution", lambda x, w: F.depthwise_deconvolution(
        x, w, stride=(2, 2), divisor=2), [IMG, n(4, 3, 3)]),
    ("convolution_channel_last", lambda x, w, b: F.convolution(
        x, w, b, pad=(1, 0), stride=(1, 2), group=2, channel_last=True),
     [n(2, 7, 7, 4), n(6, 3, 3, 2), n(6)]),
    ("deconvolution_channel_last", lambda x, w: F.deconvolution(
        x, w, stride=(2, 2), pad=(1, 1), channel_last=True), [n(2, 5, 5, 4), n(4, 3, 3, 3)]),
    ("max_pooling_channel_last", lambda x: F.max_pooling(x, (2, 2), pad=(1, 1),
                                                         channel_last=True), [n(2, 6, 6, 3)]),
    ("average_pooling_channel_last", lambda x: F.average_pooling(
        x, (3, 3), (2, 2), channel_last=True), [n(2, 7, 7, 3)]),
    ("sum_pooling_channel_last", lambda x: F.sum_pooling(x, (2, 2), channel_last=True),
     [n(2, 6, 6, 3)]),
    ("interpolate_channel_last", lambda x: F.interpolate(x, output_size=(9, 8), channel_last=True),
     [n(2, 5, 4, 3)]),
    ("unpooling_channel_last", lambda x: F.unpooling(x, (2, 2), channel_last=True),
     [n(2, 3, 3, 4)]),
    ("batch_normalization_channel_last", lambda x, b, g, m, v: F.batch_normalization(
        x, b, g, m, v, axes=[3], batch_stat=False), [n(2, 3, 3, 4)] + [n(1, 1, 1, 4)] * 3
     + [u(0.5, 2, 1, 1, 1, 4)]),
    ("max_pooling", lambda x: F.max_pooling(x, (3, 3), (2, 2), pad=(1, 1)), [IMG]),
    ("max_pooling_ceil", lambda x: F.max_pooling(x, (2, 2), ignore_border=False), [IMG]),
    ("max_pooling_3d_input", lambda x: F.max_pooling(x, (2, 2)), [n(4, 6, 6)]),
    ("average_pooling", lambda x: F.average_pooling(x, (3, 3), (2, 2), pad=(1, 1)), [IMG]),
    ("average_pooling_excl", lambda x: F.average_pooling(x, (3, 3), (2, 2), pad=(1, 1),
                                                         including_pad=False), [IMG]),
    ("sum_pooling", lambda x: F.sum_pooling(x, (2, 2)), [IMG]),
    ("global_average_pooling", F.global_average_pooling, [IMG]),
    ("batch_normalization", lambda x, b, g, m, v: F.batch_normalization(
        x, b, g, m, v, batch_stat=False, eps=1e-3), [IMG] + BN_STATS),
    ("batch_normalization_axes2", lambda x, b, g, m, v: F.batch_normalization(
        x, b, g, m, v, axes=[2], batch_stat=False), [n(2, 3, 4)] + [n(1, 1, 4)] * 3
     + [u(0.5, 2, 1, 1, 4)]),
    ("batch_normalization_no_scale", lambda x, b, m, v: F.batch_normalization(
        x, b, None, m, v, batch_stat=False), [IMG] + BN_STATS[:1] + BN_STATS[2:]),
    ("fused_batch_normalization", lambda x, b, g, m, v, z: F.fused_batch_normalization(
        x, b, g, m, v, z, batch_stat=False), [IMG] + BN_STATS + [n(2, 4, 7, 7)]),
    ("fused_convolution", lambda x, w, b, g, m, v, z: F.fused_convolution(
        x, w, None, b, g, m, v, z, pad=(1, 1), batch_stat=False), [IMG, n(4, 4, 3, 3)]
     + BN_STATS + [n(2, 4, 7, 7)]),
    ("fused_convolution_bias_reflect_elu", lambda x, w, b: F.fused_convolution(
        x, w, b, pad=(1, 2), pad_mode="reflect", nonlinearity="elu", nonlinearity_args=[0.5]),
     [IMG, n(3, 4, 3, 3), n(3)]),
    ("layer_normalization", lambda x, b, g: F.layer_normalization(x, b, g),
     [X, n(1, 3, 4), n(1, 3, 4)]),
    ("bc_add2", F.bc_add2, [X, n(2, 3, 4)]), ("mod2", F.mod2, [X * 5, POS]),
    ("sinc", F.sinc, [np.array([[0.0, 0.5, -1.5, 2.25]], np.float32)]),
    ("binary_tanh", F.binary_tanh, [X]), ("binary_sigmoid", F.binary_sigmoid, [X]),
    ("isnan", F.isnan, [SPECIAL]), ("isinf", F.isinf, [SPECIAL]),
    ("reset_nan", lambda x: F.reset_nan(x, 0.5), [SPECIAL]),
    ("reset_inf", lambda x: F.reset_inf(F.reset_nan(x, 0.5), -2.0), [SPECIAL]),
    ("unlink", F.unlink, [X]), ("clip_grad_by_norm", lambda x: F.clip_grad_by_norm(x, 1.0), [X]),
    ("clip_grad_by_value", F.clip_grad_by_value, [X, X * 0 - 1, X * 0 + 1]),
    ("max_only_index", lambda x: F.max(x, axis=1, only_index=True), [X]),
    ("min_with_index", lambda x: F.min(x, axis=2, keepdims=True, with_index=True), [X]),
    ("norm2", lambda x: F.norm(x, p=2, axis=1), [X]),
    ("norm1", lambda x: F.norm(x, p=1, axis=(0, 2), keepdims=True), [X]),
    ("norm3", lambda x: F.norm(x, p=3), [X]),
    ("norm_normalization", lambda x: F.norm_normalization(x, p=2, axes=1), [X]),
    ("instance_normalization", F.instance_normalization, [IMG, n(1, 4, 1, 1), n(1, 4, 1, 1)]),
    ("group_normalization", lambda x, b, g: F.group_normalization(x, b, g, num_groups=2),
     [IMG, n(1, 4, 1, 1), n(1, 4, 1, 1)]),
    ("weight_standardization", F.weight_standardization, [n(4, 3, 3, 3)]),
    ("mean_subtraction", lambda x, m, t: F.mean_subtraction(x, m, t, update_running_mean=False),
     [X, n(3, 4), np.array(3.0, np.float32)]),
    ("onnx_resize_nearest", lambda x: F.onnx_resize(x, scales=(1, 1, 2, 2)), [IMG]),
    ("onnx_resize_linear", lambda x: F.onnx_resize(x, sizes=(2, 4, 5, 9), mode="linear"), [IMG]),
    ("onnx_resize_cubic", lambda x: F.onnx_resize(
        x, scales=(1, 1, 1.5, 2), mode="cubic", coordinate_transformation_mode="align_corners"),
     [IMG]),
    ("interpolate_linear", lambda x: F.interpolate(x, output_size=(10, 12)), [IMG]),
    ("interpolate_linear_align", lambda x: F.interpolate(x, output_size=(10, 5),
                                                         align_corners=True), [IMG]),
    ("interpolate_linear_half", lambda x: F.interpolate(x, output_size=(10, 12),
                                                        half_pixel=True), [IMG]),
    ("interpolate_nearest", lambda x: F.interpolate(x, output_size=(10, 12), mode="nearest"),
     [IMG]),
    ("interpolate_nearest_half", lambda x: F.interpolate(
        x, output_size=(10, 12), mode="nearest", half_pixel_for_nn=True), [IMG]),
    ("unpooling", lambda x: F.unpooling(x, (2, 3)), [IMG]),
    ("gather", lambda x, i: F.gather(x, i, axis=1), [X, np.array([2, 0], np.float32)]),
    ("gather_nd", F.gather_nd, [X, np.array([[0, 1, 1, 0, 1], [2, 0, 1, 2, 0]], np.float32)]),
    ("one_hot", lambda x: F.one_hot(x, (5,)), [ints(5, 4, 1)]),
    ("one_hot_2d", lambda x: F.one_hot(x, (3, 4)), [np.array([[2, 3], [0, 1]], np.float32)]),
    ("cumsum", lambda x: F.cumsum(x, axis=1, exclusive=True, reverse=True), [X]),
    ("cumsum_plain", lambda x: F.cumsum(x, axis=2), [X]),
    ("sort", lambda x: F.sort(x, axis=1), [X]),
    ("sort_reverse_with_index", lambda x: F.sort(x, axis=2, reverse=True, with_index=True), [X]),
    ("sort_only_index", lambda x: F.sort(x, axis=0, only_index=True), [X]),
    ("trilu", lambda x: F.trilu(x, k=1, upper=False), [n(3, 4)], 14),
    ("trilu_upper", lambda x: F.trilu(x, k=-1), [n(2, 4, 3)], 17),
    ("matrix_diag", F.matrix_diag, [n(2, 3)]), ("matrix_diag_part", F.matrix_diag_part, [n(2, 3, 3)]),
    ("eye_like", lambda x: F.eye_like(x, k=1), [n(3, 4)]),
    ("arange", lambda x: x + F.arange(0, 4, 1), [X]),
    ("linspace", lambda x: x * F.linspace(0, 1, 4), [X]),
    ("shape", lambda x: F.shape(x, start=1), [X]),
    ("einsum", lambda a, b: F.einsum(a, b, equation="bij,bjk->bik"), [X, n(2, 4, 5)]),
    ("squared_error", F.squared_error, [X, n(2, 3, 4)]),
    ("absolute_error", F.absolute_error, [X, n(2, 3, 4)]),
    ("huber_loss", lambda a, b: F.huber_loss(a, b, 0.5), [X, n(2, 3, 4)]),
    ("epsilon_insensitive_loss", lambda a, b: F.epsilon_insensitive_loss(a, b, 0.3),
     [X, n(2, 3, 4)]),
    ("sigmoid_cross_entropy", F.sigmoid_cross_entropy, [X * 5, ints(2, 2, 3, 4)]),
    ("binary_cross_entropy", F.binary_cross_entropy, [u(0.05, 0.95, 2, 3), ints(2, 2, 3)]),
    ("softmax_cross_entropy", F.softmax_cross_entropy, [n(4, 5), ints(5, 4, 1)]),
    ("softmax_cross_entropy_axis1", lambda x, t: F.softmax_cross_entropy(x, t, axis=1),
     [X, ints(3, 2, 1, 4)]),
    ("categorical_cross_entropy", F.categorical_cross_entropy, [u(0.1, 1, 4, 5), ints(5, 4, 1)]),
    ("kl_multinomial", F.kl_multinomial, [u(0.1, 1, 2, 3, 4), u(0.1, 1, 2, 3, 4)]),
    ("atan2", F.atan2, [np.array([[1, -1, 1, -1, 0, 2, -2, 0]], np.float32),
                        np.array([[1, 1, -1, -1, 2, 0, 0, -3]], np.float32)]),
    ("reduce_sum", F.reduce_sum, [X]), ("reduce_mean", F.reduce_mean, [X]),
    ("sync_batch_normalization", lambda x, b, g, m, v: F.sync_batch_normalization(
        x, b, g, m, v, None, batch_stat=False), [IMG] + BN_STATS),
    ("weight_normalization", lambda w, g: F.weight_normalization(w, g, dim=0),
     [n(4, 3, 3, 3), n(4)]),
    ("shift_nearest", lambda x: F.shift(x, (1, -2)), [n(3, 5)]),
    ("shift_reflect", lambda x: F.shift(x, (0, 2, -1), border_mode="reflect"), [X]),
    ("batch_det", F.batch_det, [n(2, 3, 3)]),
    ("batch_logdet", F.batch_logdet, [n(2, 3, 3)]),
    ("quantize_linear", lambda x, s, z: F.quantize_linear(x, s, z),
     [n(2, 3) * 50, u(0.5, 1, 1, 3), np.array([[0.0, 3.0, -2.0]], np.float32)]),
    ("quantize_linear_uint8_even", lambda x, s, z: F.quantize_linear(
        x, s, z, round_mode="HALF_TO_EVEN", narrow_range=True, dtype=np.uint8),
     [np.array([[0.5, 1.5, 2.5, 300.0, -7.0]], np.float32), np.ones((1, 1), np.float32),
      np.array([[10.0]], np.float32)]),
    ("dequantize_linear", F.dequantize_linear,
     [np.array([[1.0, -3.0, 7.0]], np.float32), u(0.5, 1, 1, 3), np.array([[0.0, 3.0, -2.0]],
                                                                        np.float32)]),
    ("lstm", lambda x, h, c, w, b: F.lstm(x, h, c, w, bias=b),
     [n(5, 2, 3), n(1, 1, 2, 4), n(1, 1, 2, 4), n(1, 4, 4, 7) * 0.5, n(1, 1, 4, 4)]),
    ("lstm_2layer_bidirectional", lambda x, h, c, w0, w: F.lstm(
        x, h, c, w0, w, num_layers=2, bidirectional=True),
     [n(4, 2, 3), n(2, 2, 2, 4), n(2, 2, 2, 4), n(2, 4, 4, 7) * 0.5, n(1, 2, 4, 4, 12) * 0.5]),
    ("gru", lambda x, h, w, b: F.gru(x, h, w, bias=b),
     [n(5, 2, 3), n(1, 1, 2, 4), n(1, 3, 4, 7) * 0.5, n(1, 1, 4, 4)]),
    ("gru_2layer_bidirectional", lambda x, h, w0, w, b: F.gru(
        x, h, w0, w, b, num_layers=2, bidirectional=True),
     [n(4, 2, 3), n(2, 2, 2, 4), n(2, 3, 4, 7) * 0.5, n(1, 2, 3, 4, 12) * 0.5, n(2, 2, 4, 4)]),
    ("rnn", lambda x, h, w, b: F.rnn(x, h, w, bias=b), [n(5, 2, 3), n(1, 1, 2, 4),
                                                        n(1, 4, 7) * 0.5, n(1, 1, 4)]),
    ("rnn_2layer_bidirectional_relu", lambda x, h, w0, w, b: F.rnn(
        x, h, w0, w, b, num_layers=2, nonlinearity="relu", bidirectional=True),
     [n(4, 2, 3), n(2, 2, 2, 4), n(2, 4, 7) * 0.5, n(1, 2, 4, 12) * 0.5, n(2, 2, 4)]),
]


# F.rnn/lstm/gru whose weights are graph inputs: ONNX's recurrent nodes then read
# computed weights, which import refuses (parameter weights import:
# test_recurrent_round_trip)
NO_IMPORT = {"rnn", "rnn_2layer_bidirectional_relu", "lstm", "lstm_2layer_bidirectional", "gru",
             "gru_2layer_bidirectional"}


@pytest.mark.parametrize("at", ["own", 11])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_function(tmp_path, case, at):
    """A case runs in onnxruntime at its own opset, else at 13 or 17 (by its input
    count, so that both are exercised), and again at NNabla's default opset 11
    (the opset-13 forms rewritten by nablite.onnx.lower; a function that needs a
    later opset says which), and imports back into nablite (nablite -> ONNX ->
    nablite; from opset 11 through ONNX's version converter) with the same outputs."""
    name, build, arrays = case[:3]
    opset = case[3] if len(case) > 3 else (13 if len(arrays) % 2 else 17)
    opset = opset if at == "own" else at
    xs = [nn.Variable.from_numpy_array(a) for a in arrays]
    ys = build(*xs)
    ys = ys if isinstance(ys, tuple) else (ys,)
    since = max(export_rules()[f.info.type_name].since
                for f in nn.graph.topological_order(list(ys)))
    if since > opset:
        with pytest.raises(ExportError, match=f"needs opset >= {since}, got opset={opset}"):
            export(list(ys), tmp_path / "m.onnx", opset=opset)
        return
    model = check_export(tmp_path, {f"x{i}": v for i, v in enumerate(xs)},
                         {f"y{i}": v for i, v in enumerate(ys)}, opset=opset)
    assert model.opset_import[0].version == opset
    if name in NO_IMPORT:
        return
    net = import_model(tmp_path / "model.onnx")
    for i, a in enumerate(arrays):
        net.inputs[f"x{i}"].d = a
    outs = [net.outputs[f"y{i}"] for i in range(len(ys))]
    nn.forward_all(outs)
    for o, y in zip(outs, ys):
        np.testing.assert_allclose(o.d, y.d, rtol=1e-4, atol=1e-4, equal_nan=True, err_msg=name)


def test_softmax_off_the_last_axis_at_opset_11(tmp_path):
    """Opset 11's Softmax flattens from its axis on: a softmax over axis 1 of a
    3-D input is written between Transposes, on the last axis."""
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 4).astype(np.float32))
    model = check_export(tmp_path, {"x": x}, {"y": F.softmax(x, axis=1)}, opset=11)
    assert [n.op_type for n in model.graph.node] == ["Transpose", "Softmax", "Transpose"]
    assert model.graph.node[1].attribute[0].i == 2


def test_default_opset_none_is_the_lowest_that_works(tmp_path):
    x = nn.Variable.from_numpy_array(rng.randn(2, 3, 3).astype(np.float32))
    assert export(F.relu(x), tmp_path / "a.onnx", opset=None).opset_import[0].version == 11
    y = F.greater_equal(F.trilu(x), x)
    assert export(y, tmp_path / "b.onnx", opset=None).opset_import[0].version == 14


def test_every_rule_has_a_case():
    covered = set()
    for _, build, arrays, *_ in CASES:
        ys = build(*[nn.Variable.from_numpy_array(a) for a in arrays])
        ys = list(ys) if isinstance(ys, tuple) else [ys]
        covered |= {f.info.type_name for f in nn.graph.topological_order(ys)}
    missing = set(export_rules()) - covered - {"Dropout"}  # Dropout: test_dropout_is_identity
    assert not missing, f"export rules without a test case: {sorted(missing)}"


def test_dropout_is_identity(tmp_path):
    x = nn.Variable.from_numpy_array(X)
    export({"y": F.dropout(x, 0.5)}, tmp_path / "d.onnx", inputs={"x": x})
    np.testing.assert_array_equal(run_onnx(tmp_path / "d.onnx", {"x": X})["y"], X)


def test_unsupported_function_names_it_and_the_opset(tmp_path):
    x = nn.Variable((2, 3))
    y = F.cumprod(x, axis=1)
    with pytest.raises(ExportError, match=r"CumProd has no ONNX equivalent in opset 15"):
        export(y, tmp_path / "m.onnx", opset=15)
    assert not (tmp_path / "m.onnx").exists()


def test_batch_stat_true_is_refused(tmp_path):
    x = nn.Variable((2, 3, 4, 4))
    y = PF.batch_normalization(x, batch_stat=True)
    with pytest.raises(ExportError, match="BatchNormalization with batch_stat=True"):
        export(y, tmp_path / "m.onnx")


def test_bad_arguments(tmp_path):
    x = nn.Variable((2, 3))
    with pytest.raises(ValueError, match=r"opset=10 is not supported; use one of 11\.\.17"):
        export(F.relu(x), tmp_path / "m.onnx", opset=10)
    with pytest.raises(TypeError, match="outputs must be Variables"):
        export({"y": np.zeros(3)}, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="outputs is empty"):
        export([], tmp_path / "m.onnx")


def test_failed_export_leaves_the_old_file(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")
    x = nn.Variable((2, 3))
    with pytest.raises(ExportError):
        export(F.cumprod(x, axis=0), path)
    assert path.read_bytes() == b"old"


def test_supported_table_lists_every_rule():
    table = supported_table()
    rows = [line for line in table.splitlines()[2:]]
    assert len(rows) == len(export_rules())
    assert "| Affine | Gemm (MatMul without bias), Reshape | 11–17 |" in rows
    assert "| Trilu | Trilu | 14–17 |" in rows and "| Einsum | Einsum | 12–17 |" in rows


def _readme_onnx_texts():
    """README.md's ONNX section (from its heading to the next "## " heading)."""
    readme = os.path.join(HERE, os.pardir, "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    assert "### ONNX both ways" in text, "README.md has no '### ONNX both ways' section"
    section = text.split("### ONNX both ways", 1)[1]
    return [section.split("\n## ", 1)[0]]


def test_readme_table_matches_the_code():
    from nablite.onnx import import_rules
    for text in _readme_onnx_texts():
        assert supported_table() in text
        listed = text.split("Import reads these ONNX operators", 1)[1].split("\n\n", 1)[0]
        assert sorted(listed.split("`")[1::2]) == import_rules()


def test_readme_part(tmp_path):
    """The README's ONNX example runs as written."""
    import subprocess
    import sys
    for text in _readme_onnx_texts():
        blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
        assert blocks
        for code in blocks:
            out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                                 text=True, timeout=300)
            assert out.returncode == 0, out.stderr[-2000:]


def test_without_the_onnx_package():
    """nablite and nablite.onnx import without onnx; using it says what to install."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import nablite, nablite.onnx\n"
            "try:\n"
            "    nablite.onnx.export(nablite.Variable((1,)), 'never.onnx')\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'needs the onnx package: pip install "nablite[onnx]"' in out.stdout


@pytest.mark.parametrize("name", ["rnn", "rnn_2layer_bidirectional_relu"])
def test_rnn_unrolled(tmp_path, name):
    """F.rnn written as its time steps (unroll_rnn=True): Gemm and activation
    nodes only, the same outputs."""
    _, build, arrays = next(c for c in CASES if c[0] == name)
    xs = [nn.Variable.from_numpy_array(a) for a in arrays]
    ys = build(*xs)
    nn.forward_all(list(ys))
    path = tmp_path / "u.onnx"
    model = export({f"y{i}": v for i, v in enumerate(ys)}, path,
                   inputs={f"x{i}": v for i, v in enumerate(xs)}, unroll_rnn=True)
    assert "RNN" not in {n.op_type for n in model.graph.node}
    got = run_onnx(path, {f"x{i}": a for i, a in enumerate(arrays)})
    for i, y in enumerate(ys):
        np.testing.assert_allclose(got[f"y{i}"], y.d, rtol=1e-4, atol=1e-4)


def test_nnp_to_onnx_outputs_are_the_executors(tmp_path):
    """As NNabla's converter: the graph outputs are the executor's output variables
    (an unused piece of a split is no output), and the executor picks the network."""
    from nablite.onnx import nnp_to_onnx
    from nablite.utils.save import save
    x = nn.Variable((2, 3))
    a, b, c = F.split(x, axis=1)
    y = a + b
    other = F.relu(x)
    save(str(tmp_path / "m.nnp"), {
        "networks": [{"name": "first", "batch_size": 2, "outputs": {"r": other},
                      "names": {"x": x}},
                     {"name": "net", "batch_size": 2, "outputs": {"y": y}, "names": {"x": x}}],
        "executors": [{"name": "runtime", "network": "net", "data": ["x"], "output": ["y"]}]})
    model = nnp_to_onnx(str(tmp_path / "m.nnp"), str(tmp_path / "m.onnx"))
    assert [o.name for o in model.graph.output] == ["y"]
    data = rng.randn(2, 3).astype(np.float32)
    got = run_onnx(tmp_path / "m.onnx", {"x": data})
    np.testing.assert_allclose(got["y"], data[:, 0] + data[:, 1], rtol=1e-6)
    # a network no executor runs: every variable no function reads
    model = nnp_to_onnx(str(tmp_path / "m.nnp"), str(tmp_path / "f.onnx"), network="first")
    assert [o.name for o in model.graph.output] == ["r"]
