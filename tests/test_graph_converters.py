"""nablite.experimental.graph_converters: each modifier's converted graph against
the original graph (the inference outputs a conversion must keep), NumPy
references, and NNabla 1.39's converted graphs (parity, skipped without it)."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF
import nablite.experimental.graph_converters as GC
from nablite.graph import topological_order

from nnabla_parity import check_same_source


def types(y):
    return [f.info.type_name for f in topological_order([y])]


def randomize_parameters(seed=0):
    rng = np.random.RandomState(seed)
    for p in nn.get_parameters(grad_only=False).values():
        p.d = rng.rand(*p.shape) + 0.5


pytestmark = pytest.mark.usefixtures("fresh_parameters")


def conv_bn_net(x, with_bias=False):
    h = PF.convolution(x, 4, (3, 3), pad=(1, 1), with_bias=with_bias, name="c1")
    h = F.relu(PF.batch_normalization(h, batch_stat=False, name="bn1"))
    h = PF.deconvolution(h, 3, (2, 2), stride=(2, 2), name="d1")
    h = F.relu(PF.batch_normalization(h, batch_stat=False, name="bn2"))
    h = F.max_pooling(h, (2, 2))
    h = PF.affine(h, 5, name="fc")
    return PF.batch_normalization(h, batch_stat=False, name="bn3")


def forward(y):
    y.forward()
    return y.d.copy()


@pytest.fixture
def x():
    return nn.Variable.from_numpy_array(np.random.RandomState(1).randn(2, 3, 6, 6))


@pytest.mark.parametrize("with_bias", [False, True])
def test_bn_folding_keeps_the_inference_output(x, with_bias):
    y = conv_bn_net(x, with_bias)
    randomize_parameters()
    want = forward(y)
    y2 = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)
    assert types(y2) == ["Convolution", "ReLU", "Deconvolution", "ReLU", "MaxPooling", "Affine"]
    np.testing.assert_allclose(forward(y2), want, rtol=1e-4, atol=1e-4)
    assert "c1/conv/w-folded" in nn.get_parameters(grad_only=False)
    assert types(y)[1] == "BatchNormalization"  # the original graph is unchanged
    np.testing.assert_allclose(forward(y), want)


def test_bn_folding_is_numpy_scale_and_shift():
    x = nn.Variable.from_numpy_array(np.random.RandomState(2).randn(4, 3))
    y = PF.batch_normalization(PF.affine(x, 2, name="fc"), batch_stat=False, name="bn")
    randomize_parameters(3)
    y2 = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)
    p = {k: v.d.astype(np.float64) for k, v in nn.get_parameters(grad_only=False).items()}
    c0 = p["bn/bn/gamma"] / np.sqrt(p["bn/bn/var"] + 1e-5)
    want_w = p["fc/affine/W"] * c0
    want_b = (p["fc/affine/b"] - p["bn/bn/mean"]) * c0 + p["bn/bn/beta"]
    np.testing.assert_allclose(p["fc/affine/w-folded"], want_w, rtol=1e-6)
    np.testing.assert_allclose(p["fc/affine/b-folded"], want_b.reshape(-1), rtol=1e-6)
    np.testing.assert_allclose(forward(y2), x.d @ want_w + want_b, rtol=1e-5, atol=1e-5)


def test_bn_folding_skips_a_forked_layer_output(x):
    h = PF.convolution(x, 4, (3, 3), name="c")
    y = PF.batch_normalization(h, batch_stat=False, name="bn") + F.sigmoid(h)
    randomize_parameters()
    want = forward(y)
    y2 = GC.GraphConverter([GC.BatchNormalizationFoldingModifier()]).convert(y)
    assert "BatchNormalization" in types(y2)
    np.testing.assert_allclose(forward(y2), want, rtol=1e-5)


def test_opposite_bn_folding_without_padding(x):
    h = PF.batch_normalization(x, batch_stat=False, name="bn0")
    h = PF.convolution(h, 4, (3, 3), name="c1")
    h = PF.batch_normalization(h, batch_stat=False, name="bn1")
    y = PF.affine(h, 3, name="fc")
    randomize_parameters()
    want = forward(y)
    y2 = GC.GraphConverter([GC.BatchNormalizationFoldingModifier(opposite=True)]).convert(y)
    assert types(y2) == ["Convolution", "Affine"]
    np.testing.assert_allclose(forward(y2), want, rtol=1e-4, atol=1e-4)


def test_self_folding_is_a_scale_and_shift(x):
    y = conv_bn_net(x)
    randomize_parameters()
    want = forward(y)
    y2 = GC.GraphConverter([GC.BatchNormalizationSelfFoldingModifier()]).convert(y)
    assert "BatchNormalization" not in types(y2) and types(y2).count("Mul2") == 3
    assert "bn-self-folding/c0-bn-self-folding-0" in nn.get_parameters(grad_only=False)
    np.testing.assert_allclose(forward(y2), want, rtol=1e-4, atol=1e-4)


def test_fused_and_unfused_batch_normalization(x):
    h = PF.convolution(x, 3, (3, 3), pad=(1, 1), name="c")
    y = F.relu(PF.batch_normalization(h, batch_stat=False, name="bn") + x)
    randomize_parameters()
    want = forward(y)
    fused = GC.GraphConverter([GC.FusedBatchNormalizationModifier()]).convert(y)
    assert types(fused) == ["Convolution", "FusedBatchNormalization"]
    np.testing.assert_allclose(forward(fused), want, rtol=1e-5, atol=1e-5)
    back = GC.GraphConverter([GC.UnfusedBatchNormalizationModifier()]).convert(fused)
    assert types(back) == ["Convolution", "BatchNormalization", "Add2", "ReLU"]
    np.testing.assert_allclose(forward(back), want, rtol=1e-5, atol=1e-5)


def test_batch_stat_and_test_mode(x):
    h = PF.batch_normalization(PF.convolution(x, 4, (3, 3), name="c"), name="bn")
    y = F.mul_scalar(F.dropout(h, 0.5), 2.0)
    randomize_parameters()
    bn = [f for f in topological_order([y]) if f.info.type_name == "BatchNormalization"][0]
    assert bn.info.args["batch_stat"]
    y2 = GC.GraphConverter([GC.TestModeModifier(rm_funcs=["Dropout"])]).convert(y)
    assert types(y2) == ["Convolution", "BatchNormalization", "MulScalar"]
    bn2 = [f for f in topological_order([y2]) if f.info.type_name == "BatchNormalization"][0]
    assert bn2.info.args["batch_stat"] is False
    p = {k: v.d for k, v in nn.get_parameters(grad_only=False).items()}
    c = F.convolution(x, nn.Variable.from_numpy_array(p["c/conv/W"]),
                      nn.Variable.from_numpy_array(p["c/conv/b"]))
    c.forward()
    ref = ((c.d - p["bn/bn/mean"]) / np.sqrt(p["bn/bn/var"] + 1e-5) * p["bn/bn/gamma"]
           + p["bn/bn/beta"])
    np.testing.assert_allclose(forward(y2), 2 * ref, rtol=1e-5, atol=1e-5)


def test_remove_function(x):
    y = F.tanh(F.mul_scalar(F.relu(x), 3.0))
    y2 = GC.GraphConverter([GC.RemoveFunctionModifier(rm_funcs=["MulScalar"])]).convert(y)
    assert types(y2) == ["ReLU", "Tanh"]
    np.testing.assert_allclose(forward(y2), np.tanh(np.maximum(x.d, 0)), rtol=1e-6)


def test_identity_with_new_inputs_and_copy_value(x):
    y = F.sigmoid(PF.affine(x, 3, name="fc"))
    want = forward(y)
    other = nn.Variable(x.shape)
    y2 = GC.GraphConverter([GC.IdentityModifier({x: other}, copy_value=True)]).convert(y)
    assert y2.parent.inputs[0].parent.inputs[0] is other
    np.testing.assert_allclose(forward(y2), want)
    with pytest.raises(ValueError, match="IdentityModifier.*shape"):
        GC.IdentityModifier({x: nn.Variable((1, 2))}, copy_value=True)


def test_no_grad_stops_at_parameters(x):
    x.need_grad = True
    y = F.sum(PF.affine(x, 3, name="fc"))
    y2 = GC.GraphConverter([GC.NoGradModifier()]).convert(y)
    w = nn.get_parameters()["fc/affine/W"]
    w.g = 0
    x.g = 0
    y2.forward()
    y2.backward()
    assert np.all(w.g == 0) and np.any(x.g != 0)
    np.testing.assert_allclose(x.g[0].reshape(-1), w.d.sum(1), rtol=1e-5)


def test_channel_last_and_back(x):
    y = conv_bn_net(x)
    randomize_parameters()
    want = forward(y)
    to_last = GC.ChannelLastModifier([x])
    y_cl = GC.GraphConverter([to_last]).convert(y)
    x_cl = to_last.inputs_cl[0]
    assert x_cl.shape == (2, 6, 6, 3)
    np.testing.assert_allclose(x_cl.d, x.d.transpose(0, 2, 3, 1))
    conv = topological_order([y_cl])[0]
    assert conv.info.args["channel_last"] and conv.inputs[1].shape == (4, 3, 3, 3)
    np.testing.assert_allclose(forward(y_cl), want, rtol=1e-4, atol=1e-5)
    to_first = GC.ChannelFirstModifier([x_cl])
    y_cf = GC.GraphConverter([to_first]).convert(y_cl)
    np.testing.assert_allclose(to_first.inputs_cf[0].d, x.d)
    np.testing.assert_allclose(forward(y_cf), want, rtol=1e-4, atol=1e-5)


def test_pruning_zeroes_weak_channels(x):
    y = PF.convolution(x, 3, (3, 3), name="c")
    w = nn.get_parameters()["c/conv/W"]
    w.d = np.random.RandomState(0).randn(*w.shape)
    w.d[1] *= 1e-3
    y2 = GC.GraphConverter([GC.PruningModifier(0.1)]).convert(y)
    pruned = nn.get_parameters()["c/conv/w-pruned"].d
    np.testing.assert_array_equal(pruned[1], 0)
    np.testing.assert_array_equal(pruned[[0, 2]], w.d[[0, 2]])
    out = forward(y2)
    np.testing.assert_array_equal(out[:, 1], nn.get_parameters()["c/conv/b"].d[1])


def test_several_outputs_and_modifier_lists(x):
    a, b = F.relu(x), F.mul_scalar(F.sigmoid(x), 2.0)
    outs = GC.GraphConverter([[GC.IdentityModifier()],
                              GC.RemoveFunctionModifier(["MulScalar"])]).convert([a, b])
    assert isinstance(outs, list) and len(outs) == 2
    np.testing.assert_allclose(forward(outs[1]), 1 / (1 + np.exp(-x.d)), rtol=1e-6)


def test_bad_modify_result_and_bad_outputs(x):
    class Bad(GC.FunctionModifier):
        def modify(self, f, inputs):
            return 3

    with pytest.raises(ValueError, match="Bad.modify"):
        GC.GraphConverter([Bad()]).convert(F.relu(x))
    with pytest.raises(TypeError, match="GraphConverter.convert"):
        GC.GraphConverter([]).convert(np.zeros(3))


def test_user_modifier_sees_original_functions_in_order(x):
    seen = []

    class ReLUToLeaky(GC.FunctionModifier):
        def modify(self, f, inputs):
            seen.append(f.info.type_name)
            if f.info.type_name == "ReLU":
                return F.leaky_relu(inputs[0], 0.5)

    y = F.tanh(F.relu(x))
    y2 = GC.GraphConverter([ReLUToLeaky()]).convert(y)
    assert seen == ["ReLU", "Tanh"] and types(y2) == ["LeakyReLU", "Tanh"]
    np.testing.assert_allclose(forward(y2), np.tanh(np.where(x.d > 0, x.d, 0.5 * x.d)),
                               rtol=1e-6)


def converted_outputs(x, graph):
    """Build network ``graph`` with seeded parameters, then convert it with each list
    of modifiers: the outputs of the original(s) and of each converted graph, and
    each converted graph's function types in order. (Sent whole to both processes.)"""
    import nnabla.experimental.graph_converters as GC
    nn.clear_parameters()
    xv = nn.Variable.from_numpy_array(x)
    if graph == "residual":  # conv-BN-ReLU blocks with a residual add
        h = PF.convolution(xv, 4, (3, 3), pad=(1, 1), name="c1")
        h = F.relu(PF.batch_normalization(h, batch_stat=False, name="bn1"))
        h = F.max_pooling(h, (2, 2))
        r = PF.convolution(h, 4, (1, 1), name="c2")
        h = F.relu(PF.batch_normalization(r, batch_stat=False, name="bn2") + h)
        y = PF.affine(h, 5, name="fc")
        seed, roots = 0, {"original": y}
        cases = {"folding": (y, [GC.BatchNormalizationFoldingModifier()]),
                 "self_folding": (y, [GC.BatchNormalizationSelfFoldingModifier()]),
                 "batch_stat": (y, [GC.BatchNormBatchStatModifier()]),
                 "remove_relu": (y, [GC.RemoveFunctionModifier(rm_funcs=["ReLU"])]),
                 "identity": (y, [GC.IdentityModifier()]),
                 "no_grad": (y, [GC.NoGradModifier()]),
                 "fused": (y, [GC.FusedBatchNormalizationModifier()])}
    else:  # "pruned_fused": BN before a conv, and a fused BN with an add
        h = PF.batch_normalization(xv, batch_stat=False, name="bn0")
        h = PF.convolution(h, 4, (3, 3), name="c1")
        h = F.mul_scalar(h, 0.5)
        y = PF.affine(h, 3, name="fc")
        f = PF.fused_batch_normalization(PF.convolution(xv, 3, (1, 1), name="c2"), xv,
                                         batch_stat=False, name="fbn")
        seed, roots = 1, {"original": y, "fused_original": f}
        # opposite folding last: NNabla's writes the folded weight into the original W
        cases = {"pruning": (y, [GC.PruningModifier(0.01)]),
                 "test_mode": (y, [GC.TestModeModifier(rm_funcs=["MulScalar"])]),
                 "unfused": (f, [GC.UnfusedBatchNormalizationModifier()]),
                 "opposite": (y, [GC.BatchNormalizationFoldingModifier(opposite=True)])}
    rng = np.random.RandomState(seed)
    for k, p in sorted(nn.get_parameters(grad_only=False).items()):
        p.d = (rng.rand(*p.shape) + 0.5).astype(np.float32)
    if graph == "pruned_fused":
        nn.get_parameters()["c1/conv/W"].d[1] *= 1e-3  # a channel for pruning to zero
    out = {}
    for name, root in roots.items():
        root.forward()
        out[name] = root.d.copy()
    for name, (root, mods) in cases.items():
        y2 = GC.GraphConverter(mods).convert(root)
        y2.forward()
        out[name] = y2.d.copy()
        order = []
        y2.visit(lambda g: order.append(g.info.type_name))
        out[name + "_types"] = order
    return out


def test_parity_with_nnabla_converted_graphs():
    x = np.random.RandomState(5).randn(2, 3, 6, 6).astype(np.float32)
    # NNabla's FusedBatchNormalizationModifier makes new, freshly initialised
    # parameters (its output changes); nablite's reuses the BN's, keeping the output.
    mine, want = check_same_source(converted_outputs, rtol=1e-4, atol=1e-3, x=x,
                                   graph="residual", differ=("fused",))
    np.testing.assert_allclose(mine["fused"], mine["original"], rtol=1e-5)
    assert "FusedBatchNormalization" in mine["fused_types"]


def test_more_parity_with_nnabla_converted_graphs():
    x = np.random.RandomState(6).randn(2, 3, 5, 5).astype(np.float32)
    # Where NNabla's converted graph computes something else than the original,
    # nablite's keeps the output: opposite folding (NNabla overwrites W in place and
    # folds into it again) and unfusing (NNabla makes new BN parameters at the root
    # scope instead of using the fused node's)
    mine, want = check_same_source(converted_outputs, rtol=1e-4, atol=1e-3, x=x,
                                   graph="pruned_fused", differ=("opposite", "unfused"))
    np.testing.assert_allclose(mine["opposite"], mine["original"], rtol=1e-4)
    np.testing.assert_allclose(mine["unfused"], mine["fused_original"], rtol=1e-5)
