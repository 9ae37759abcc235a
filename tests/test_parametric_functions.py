"""Parametric functions: parameter names, shapes, flags, initial values, sharing."""
import json
import os

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.initializer as I
import nablite.parametric_functions as PF

from _helpers import load_fixture_maker

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


pytestmark = pytest.mark.usefixtures("fresh_parameters")


def var(*shape, seed=0):
    return nn.Variable.from_numpy_array(np.random.RandomState(seed).randn(*shape).astype(np.float32))


def params():
    return {k: (v.shape, v.need_grad) for k, v in nn.get_parameters(grad_only=False).items()}


def test_affine_names_shapes_and_init():
    x = var(2, 3, 4)
    y = PF.affine(x, 5)
    assert y.shape == (2, 5)
    assert params() == {"affine/W": ((12, 5), True), "affine/b": ((5,), True)}
    w = nn.get_parameters()["affine/W"].d
    lim = np.sqrt(6 / (12 + 5))
    assert w.dtype == np.float32 and np.abs(w).max() <= lim and np.abs(w).max() > lim / 2
    assert not nn.get_parameters()["affine/b"].d.any()
    y.forward()
    np.testing.assert_allclose(y.d, x.d.reshape(2, 12) @ w, rtol=1e-5, atol=1e-6)


def test_affine_tuple_outmaps_base_axis_and_options():
    x = var(2, 3, 4)
    y = PF.affine(x, (2, 3), base_axis=2, with_bias=False, name="fc")
    assert y.shape == (2, 3, 2, 3)
    assert params() == {"fc/affine/W": ((4, 2, 3), True)}
    PF.affine(x, 2, w_init=I.ConstantInitializer(0.5), b_init=I.ConstantInitializer(2.0),
              name="c")
    p = nn.get_parameters()
    assert (p["c/affine/W"].d == 0.5).all() and (p["c/affine/b"].d == 2.0).all()
    scaled = PF.affine(x, 2, apply_w=lambda w: w * 2, name="c")
    scaled.forward()
    np.testing.assert_allclose(scaled.d, x.d.reshape(2, 12) @ np.full((12, 2), 1.0) + 2.0,
                               rtol=1e-5)


def test_reuse_shares_parameters_and_shape_clash_fails():
    x = var(2, 3)
    with nn.parameter_scope("net"):
        y1 = PF.affine(x, 4, name="fc1")
        y2 = PF.affine(x, 4, name="fc1")
    assert list(params()) == ["net/fc1/affine/W", "net/fc1/affine/b"]
    y1.forward()
    y2.forward()
    np.testing.assert_array_equal(y1.d, y2.d)
    with nn.parameter_scope("net"):
        with pytest.raises(ValueError, match="net/fc1/affine/W"):
            PF.affine(x, 5, name="fc1")


def test_fix_parameters_keeps_stored_flag_but_stops_gradients():
    x = var(2, 3)
    x.need_grad = True
    y = PF.affine(x, 4, fix_parameters=True)
    assert params() == {"affine/W": ((3, 4), True), "affine/b": ((4,), True)}
    w = nn.get_parameters()["affine/W"]
    w.grad.zero()
    loss = F.sum(y)
    loss.forward()
    loss.backward()
    assert w.grad.zeroing  # no gradient reached W
    assert x.g.any()


def test_seeded_initial_values_match_nnabla_fixture():
    path = os.path.join(FIXTURES, "nnabla_params.json")
    if not os.path.exists(path):
        pytest.skip("fixture nnabla_params.json is absent")
    rec = json.load(open(path))
    # the net and seeds the fixture was written from, built with nablite
    load_fixture_maker("make_fixtures").seeded_net(nn, PF, np.random.RandomState(0))
    got = nn.get_parameters(grad_only=False)
    assert list(got) == list(rec)
    for key in ["net/fc1/affine/W", "net/conv1/conv/W"]:
        np.testing.assert_array_equal(got[key].d.ravel(), np.float32(rec[key]["values"]))
    for key, r in rec.items():
        assert list(got[key].shape) == r["shape"] and got[key].need_grad == r["need_grad"]


@pytest.mark.parametrize("channel_last", [False, True])
def test_convolution(channel_last):
    x = var(2, 5, 6, 3) if channel_last else var(2, 3, 5, 6)
    y = PF.convolution(x, 4, (3, 2), pad=(1, 0), group=1, channel_last=channel_last)
    want_w = (4, 3, 2, 3) if channel_last else (4, 3, 3, 2)
    assert params() == {"conv/W": (want_w, True), "conv/b": ((4,), True)}
    assert y.shape == ((2, 5, 5, 4) if channel_last else (2, 4, 5, 5))
    lim = I.calc_uniform_lim_glorot(3, 4, (3, 2))[1]
    assert np.abs(nn.get_parameters()["conv/W"].d).max() <= lim


def test_convolution_group_and_deconvolution():
    x = var(1, 4, 5, 5)
    PF.convolution(x, 6, (3, 3), group=2, name="g")
    y = PF.deconvolution(x, 6, (3, 3), stride=(2, 2), group=2, name="d")
    p = params()
    assert p["g/conv/W"] == ((6, 2, 3, 3), True)
    assert p["d/deconv/W"] == ((4, 3, 3, 3), True) and p["d/deconv/b"] == ((6,), True)
    assert y.shape == (1, 6, 11, 11)
    lim = I.calc_uniform_lim_glorot(6, 4, (3, 3))[1]
    assert np.abs(nn.get_parameters()["d/deconv/W"].d).max() <= lim


def test_depthwise_layers():
    x = var(2, 3, 6, 6)
    y = PF.depthwise_convolution(x, (3, 3), multiplier=2)
    z = PF.depthwise_deconvolution(x, (3, 3), divisor=3)
    p = params()
    assert p["depthwise_conv/W"] == ((6, 3, 3), True) and p["depthwise_conv/b"] == ((6,), True)
    assert p["depthwise_deconv/W"] == ((3, 3, 3), True) and p["depthwise_deconv/b"] == ((1,), True)
    assert y.shape == (2, 6, 4, 4) and z.shape == (2, 1, 8, 8)


def test_embed_and_prelu():
    idx = nn.Variable.from_numpy_array(np.array([[0, 2], [1, 1]], np.int32))
    e = PF.embed(idx, 3, 5)
    assert e.shape == (2, 2, 5) and params() == {"embed/W": ((3, 5), True)}
    w = nn.get_parameters()["embed/W"].d
    assert np.abs(w).max() <= np.sqrt(3)
    e.forward()
    np.testing.assert_array_equal(e.d, w[idx.d])
    x = var(2, 3, 4)
    PF.prelu(x)
    PF.prelu(x, shared=False, name="ch")
    p = nn.get_parameters()
    assert p["prelu/slope"].shape == () and float(p["prelu/slope"].d) == 0.25
    assert p["ch/prelu/slope"].shape == (3,)


def test_batch_normalization_parameters():
    x = var(4, 3, 2, 2)
    y = PF.batch_normalization(x, name="bn1")
    assert params() == {"bn1/bn/beta": ((1, 3, 1, 1), True), "bn1/bn/gamma": ((1, 3, 1, 1), True),
                        "bn1/bn/mean": ((1, 3, 1, 1), False), "bn1/bn/var": ((1, 3, 1, 1), False)}
    p = nn.get_parameters(grad_only=False)
    assert not p["bn1/bn/beta"].d.any() and (p["bn1/bn/gamma"].d == 1).all()
    assert not p["bn1/bn/mean"].d.any() and (p["bn1/bn/var"].d == 1).all()
    y.forward()
    want_mean = 0.1 * x.d.mean(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(p["bn1/bn/mean"].d, want_mean, rtol=1e-5, atol=1e-7)
    PF.batch_normalization(var(5, 7), no_scale=True, no_bias=True, name="b2",
                           param_init={"var": I.ConstantInitializer(2.0)})
    p = params()
    assert "b2/bn/gamma" not in p and "b2/bn/beta" not in p and p["b2/bn/var"] == ((1, 7), False)
    assert (nn.get_parameters(grad_only=False)["b2/bn/var"].d == 2).all()


def test_fused_batch_normalization_parameters():
    x = var(4, 3, 2, 2)
    y = PF.fused_batch_normalization(x, var(4, 3, 2, 2, seed=1))
    assert set(params()) == {"bn/beta", "bn/gamma", "bn/mean", "bn/var"}
    y.forward()
    assert (y.d >= 0).all()


def test_layer_instance_group_normalization_parameters():
    x = var(4, 3, 2, 2)
    PF.layer_normalization(x)
    PF.instance_normalization(x)
    PF.group_normalization(x, num_groups=3)
    assert params() == {
        "layer_normalization/beta": ((1, 3, 2, 2), True),
        "layer_normalization/gamma": ((1, 3, 2, 2), True),
        "instance_normalization/beta": ((1, 3, 1, 1), True),
        "instance_normalization/gamma": ((1, 3, 1, 1), True),
        "group_normalization/beta": ((1, 3, 1, 1), True),
        "group_normalization/gamma": ((1, 3, 1, 1), True)}


def test_lstm_cell_and_class():
    x, h, c = var(2, 3), var(2, 4, seed=1), var(2, 4, seed=2)
    h2, c2 = PF.lstm_cell(x, h, c, 4)
    assert params() == {"lstm/affine/W": ((7, 4, 4), True), "lstm/affine/b": ((4, 4), True)}
    h2.forward()
    c2.forward()
    p = nn.get_parameters()
    gates = (np.concatenate([x.d, h.d], 1).reshape(2, 7) @ p["lstm/affine/W"].d.reshape(7, 16)
             + p["lstm/affine/b"].d.reshape(16)).reshape(2, 4, 4)

    def sig(a):
        return 1 / (1 + np.exp(-a))
    i, o, f, g = gates[:, 0], gates[:, 1], gates[:, 2], gates[:, 3]
    want_c = sig(f) * c.d + sig(i) * np.tanh(g)
    np.testing.assert_allclose(c2.d, want_c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h2.d, sig(o) * np.tanh(want_c), rtol=1e-5, atol=1e-6)
    cell = PF.LSTMCell(2, 4, name="cell")
    y = cell(x)
    assert y.shape == (2, 4) and "cell/lstm/affine/W" in params()
    cell.reset_state()
    assert not cell.h.d.any() and not cell.c.d.any()


def test_parametric_function_api_adds_name():
    import inspect

    @PF.parametric_function_api("mine")
    def layer(x, fix_parameters=False):
        return PF.get_parameter_or_create("p", (2,), I.ConstantInitializer(1.0))

    p = layer(None, name="top")
    assert p.shape == (2,) and "top/mine/p" in params()
    assert list(inspect.signature(PF.affine).parameters)[-1] == "name"


@pytest.mark.parametrize("pf,fname,gates,bias_gates", [
    (PF.rnn, "rnn", (), ()), (PF.lstm, "lstm", (4,), (4,)), (PF.gru, "gru", (3,), (4,))])
@pytest.mark.parametrize("layers,d", [(1, 1), (3, 2)])
def test_recurrent_parameters(monkeypatch, pf, fname, gates, bias_gates, layers, d):
    calls = []
    monkeypatch.setattr(F, fname, lambda *a, **k: calls.append((a, k)), raising=False)
    t, b, i, hidden = 5, 2, 3, 4
    x, h = var(t, b, i), var(layers, d, b, hidden)
    args = (x, h, var(layers, d, b, hidden)) if fname == "lstm" else (x, h)
    pf(*args, bidirectional=d == 2)
    p = params()
    assert p[f"{fname}/weight_l0"] == ((d,) + gates + (hidden, i + hidden), True)
    assert p[f"{fname}/bias"] == ((layers, d) + bias_gates + (hidden,), True)
    if layers > 1:
        assert p[f"{fname}/weight"] == ((layers - 1, d) + gates + (hidden, d * hidden + hidden), True)
    else:
        assert f"{fname}/weight" not in p
    w0 = nn.get_parameters()[f"{fname}/weight_l0"].d
    assert np.abs(w0[..., :i]).max() <= I.calc_uniform_lim_glorot(i, hidden)[1]
    assert np.abs(w0[..., i:]).max() <= I.calc_uniform_lim_glorot(hidden, hidden)[1]
    (a, k), = calls
    assert k["num_layers"] == layers and k["bidirectional"] == (d == 2)


@pytest.mark.parametrize("fname", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("which,key", [("w0_init", "weight_l0"), ("w_init", "weight"),
                                       ("b_init", "bias")])
def test_recurrent_initial_values_may_be_arrays(fname, which, key):
    """As NNabla documents: a NumPy array is the parameter's initial value (an
    array's truth value was asked before)."""
    t, b, i, hidden, layers, d = 3, 2, 4, 5, 2, 2
    gates = {"rnn": (), "lstm": (4,), "gru": (3,)}[fname]
    shape = {"w0_init": (d,) + gates + (hidden, i + hidden),
             "w_init": (layers - 1, d) + gates + (hidden, d * hidden + hidden),
             "b_init": (layers, d) + ({"rnn": (), "lstm": (4,), "gru": (4,)}[fname]) + (hidden,)}
    value = np.random.RandomState(0).randn(*shape[which]).astype(np.float32)
    x, h = var(t, b, i), var(layers, d, b, hidden)
    args = (x, h, var(layers, d, b, hidden)) if fname == "lstm" else (x, h)
    getattr(PF, fname)(*args, num_layers=layers, bidirectional=True, **{which: value})
    np.testing.assert_array_equal(nn.get_parameters()[f"{fname}/{key}"].d, value)


FAMILY_MODULES = ["_api", "layers", "recurrent", "normalization", "quantized", "quantized_copy",
                  "low_rank", "attention"]


def test_all_is_union_of_family_modules():
    import importlib
    family = [importlib.import_module(f"nablite.parametric_functions.{m}") for m in FAMILY_MODULES]
    names = [n for mod in family for n in mod.__all__]
    assert len(names) == len(set(names)), "a name is listed by two family modules"
    assert len(PF.__all__) == len(set(PF.__all__))
    assert set(PF.__all__) == set(names)
    for mod in family:
        for n in mod.__all__:
            assert getattr(PF, n) is getattr(mod, n), n


def test_every_name_in_all_is_exported():
    ns = {}
    exec("from nablite.parametric_functions import *", ns)
    for n in PF.__all__:
        assert hasattr(PF, n), n
        assert ns[n] is getattr(PF, n), n
    # names NNabla's PF module also offers, outside __all__
    for n in ["parameter_scope", "ConstantInitializer", "UniformInitializer", "F"]:
        assert hasattr(PF, n), n
