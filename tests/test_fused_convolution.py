"""F.fused_convolution as NNabla's one FusedConvolution node: forward against a
NumPy composition, backward against central differences, nn.grad, the running
statistics, NNabla parity, .nnp both ways and ONNX export."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions.convolutions import FusedConvolution
from nablite.utils.nnp_graph import NnpLoader
from nablite.utils.save import save

from _helpers import bn_inputs, ref_bn_add_act
from gradcheck import check_double_backward, check_function, check_first_order_grad, randn
from nnabla_parity import check_same_source, run_in_nnabla

NONLINEARITIES = [("identity", []), ("relu", []), ("sigmoid", []), ("tanh", []),
                  ("leaky_relu", [0.2]), ("elu", [0.7]), ("relu6", [])]


def ref_conv(x, w, b=None, pad=(0, 0)):
    """Plain loops over output positions: cross-correlation, stride 1."""
    x = np.pad(x, [(0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])])
    n, c, h, wd = x.shape
    oc, _, kh, kw = w.shape
    y = np.zeros((n, oc, h - kh + 1, wd - kw + 1))
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            y[:, :, i, j] = np.einsum("nckl,ockl->no", x[:, :, i:i + kh, j:j + kw], w)
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def ref_act(name, args, y):
    return {"identity": lambda: y, "relu": lambda: np.maximum(y, 0),
            "sigmoid": lambda: 1 / (1 + np.exp(-y)), "tanh": lambda: np.tanh(y),
            "leaky_relu": lambda: np.where(y > 0, y, args and args[0] * y),
            "elu": lambda: np.where(y > 0, y, args and args[0] * np.expm1(np.minimum(y, 0))),
            "relu6": lambda: np.clip(y, 0, 6)}[name]()


def ref_fused(x, w, b=None, beta=None, gamma=None, mean=None, variance=None, z=None, pad=(0, 0),
              batch_stat=True, eps=1e-5, nonlinearity="relu", nonlinearity_args=(),
              decay_rate=0.9):
    return ref_bn_add_act(ref_conv(x, w, b, pad), beta, gamma, mean, variance, z,
                          batch_stat, eps,
                          lambda y: ref_act(nonlinearity, list(nonlinearity_args), y))


X, W = randn(2, 3, 5, 5), randn(4, 3, 3, 3, seed=1) * 0.5
Z = randn(2, 4, 5, 5, seed=4)


@pytest.mark.parametrize("nonlinearity,args", NONLINEARITIES, ids=[n for n, _ in NONLINEARITIES])
@pytest.mark.parametrize("batch_stat", [True, False])
def test_batch_norm_and_z_forward_and_backward(nonlinearity, args, batch_stat):
    """Forward equals the conv -> BN -> + z -> activation composition; the gradients of
    x, weight, beta, gamma and z equal central differences (also after the
    engine's buffer clearing, which check_function runs)."""
    inputs = [X, W, None] + bn_inputs(4) + [Z]
    check_function(F.fused_convolution, inputs, ref=ref_fused,
                   kwargs={"pad": (1, 1), "nonlinearity": nonlinearity,
                           "nonlinearity_args": args, "batch_stat": batch_stat},
                   grad=[0, 1, 3, 4, 7])


@pytest.mark.parametrize("nonlinearity,args", NONLINEARITIES, ids=[n for n, _ in NONLINEARITIES])
def test_bias_forward_and_backward(nonlinearity, args):
    check_function(F.fused_convolution, [X, W, randn(4, seed=2)], ref=ref_fused,
                   kwargs={"pad": (1, 0), "nonlinearity": nonlinearity,
                           "nonlinearity_args": args})


def test_z_alone_and_bias_with_z():
    check_function(F.fused_convolution, [X, W, None, None, None, None, None, Z], ref=ref_fused,
                   kwargs={"pad": (1, 1), "nonlinearity": "tanh"})
    check_function(F.fused_convolution, [X, W, randn(4, seed=2), None, None, None, None, Z],
                   ref=ref_fused, kwargs={"pad": (1, 1), "nonlinearity": "sigmoid"})


def _node(y):
    fs = []
    y.visit(fs.append)
    return fs


def test_one_node_with_nnablas_inputs_and_args():
    v = nn.Variable
    x, w, z = v((2, 3, 6, 6)), v((4, 3, 3, 3)), v((2, 4, 6, 6))
    bn = [v((1, 4, 1, 1)) for _ in range(4)]
    for given, n_inputs in [({}, 2), ({"bias": v((4,))}, 3), ({"z": z}, 3),
                            ({"bias": v((4,)), "z": z}, 4),
                            (dict(zip(("beta", "gamma", "mean", "variance"), bn)), 6),
                            (dict(zip(("beta", "gamma", "mean", "variance"), bn), z=z), 7)]:
        y = F.fused_convolution(x, w, pad=(1, 1), **given)
        fs = _node(y)
        assert [f.info.type_name for f in fs] == ["FusedConvolution"], given
        assert len(fs[0].inputs) == n_inputs
        assert list(fs[0].info.args) == [
            "base_axis", "pad", "stride", "dilation", "group", "channel_last", "decay_rate",
            "eps", "batch_stat", "nonlinearity", "nonlinearity_args", "pad_mode",
            "constant_value"]
        assert fs[0].info.args["pad"] == [1, 1] and fs[0].info.args["stride"] == [1, 1]


def test_running_statistics_update_in_batch_stat_mode():
    beta, gamma, mean, var = bn_inputs(4)
    vs = [nn.Variable.from_numpy_array(a) for a in (X, W, beta, gamma, mean, var)]
    y = F.fused_convolution(vs[0], vs[1], None, *vs[2:], pad=(1, 1), decay_rate=0.7)
    y.forward()
    conv = ref_conv(X, W, pad=(1, 1))
    n = conv.size // conv.shape[1]
    mu = conv.mean(axis=(0, 2, 3), keepdims=True)
    unbiased = conv.var(axis=(0, 2, 3), keepdims=True) * n / (n - 1)
    np.testing.assert_allclose(vs[4].d, 0.7 * mean + 0.3 * mu, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(vs[5].d, 0.7 * var + 0.3 * unbiased, rtol=1e-6, atol=1e-8)
    frozen = [nn.Variable.from_numpy_array(a) for a in (mean, var)]
    y = F.fused_convolution(vs[0], vs[1], None, vs[2], vs[3], *frozen, batch_stat=False)
    y.forward()
    np.testing.assert_array_equal(frozen[0].d, mean)
    np.testing.assert_array_equal(frozen[1].d, var)


def test_forward_clearing_keeps_what_backward_reads():
    """forward(clear_no_need_grad=True) keeps the output the ReLU's backward reads
    (grad_reads_outputs follows the activation) and the inputs the convolution reads."""
    for nl, args in NONLINEARITIES:
        xs = [nn.Variable.from_numpy_array(a, need_grad=True)
              for a in [X, W] + bn_inputs(4)[:2]]
        stats = [nn.Variable.from_numpy_array(a) for a in bn_inputs(4)[2:]]
        pre = F.identity(xs[0])
        y = F.fused_convolution(pre, xs[1], None, xs[2], xs[3], *stats, pad=(1, 1),
                                nonlinearity=nl, nonlinearity_args=args, batch_stat=False)
        loss = F.sum(y)
        loss.forward()
        loss.backward()
        want = [x.g.copy() for x in xs]
        for x in xs:
            x.grad.zero()
        loss.forward(clear_no_need_grad=True)
        loss.backward(clear_buffer=True)
        for x, g in zip(xs, want):
            np.testing.assert_allclose(x.g, g, rtol=1e-6, atol=1e-6, err_msg=nl)


def test_nn_grad_first_and_second_order():
    inputs = [X, W, None] + bn_inputs(4) + [Z]
    check_first_order_grad(F.fused_convolution, inputs,
                           kwargs={"pad": (1, 1), "nonlinearity": "elu",
                                   "nonlinearity_args": [0.5]}, grad=[0, 1, 3, 4, 7])
    check_double_backward(F.fused_convolution, [X[:, :, :4, :4], W[:, :, :2, :2], None]
                          + bn_inputs(4) + [None],
                          kwargs={"nonlinearity": "tanh"}, grad=[0, 1, 4])


def test_inputs_refused_with_their_names():
    x, w = nn.Variable((2, 3, 5, 5)), nn.Variable((4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"^FusedConvolution: beta, gamma, mean and variance "
                                         r"must be given together .* got 2"):
        F.fused_convolution(x, w, beta=nn.Variable((1, 4, 1, 1)), gamma=nn.Variable((1, 4, 1, 1)))
    with pytest.raises(ValueError, match=r"^FusedConvolution: takes .* got 5"):
        FusedConvolution()(x, w, *[nn.Variable((1, 4, 1, 1))] * 3)
    with pytest.raises(ValueError, match=r"^FusedConvolution: z has shape \(2, 4, 5, 5\); it must "
                                         r"be the convolution's output shape \(2, 4, 3, 3\)"):
        F.fused_convolution(x, w, z=nn.Variable((2, 4, 5, 5)))
    with pytest.raises(ValueError, match=r"^FusedConvolution: input 2 has shape \(4,\)"):
        FusedConvolution()(x, w, nn.Variable((4,)), *[nn.Variable((1, 4, 1, 1))] * 3)
    with pytest.raises(ValueError, match=r"^FusedConvolution: .*stride"):
        F.fused_convolution(x, w, stride=(0, 1))


def _parity_case(x, w, b, bn, z, kwargs):
    x = nn.Variable.from_numpy_array(np.array(x, np.float32), need_grad=True)
    w = nn.Variable.from_numpy_array(np.array(w, np.float32), need_grad=True)
    b = None if b is None else nn.Variable.from_numpy_array(np.array(b, np.float32),
                                                            need_grad=True)
    bn = [nn.Variable.from_numpy_array(np.array(a, np.float32), need_grad=i < 2)
          for i, a in enumerate(bn or [])]
    z = None if z is None else nn.Variable.from_numpy_array(np.array(z, np.float32),
                                                            need_grad=True)
    y = F.fused_convolution(x, w, b, *(bn or [None] * 4), z, **kwargs)
    y.forward()
    y.backward(np.cos(np.arange(y.size)).reshape(y.shape).astype(np.float32))
    leaves = [v for v in [x, w, b] + bn + [z] if v is not None]
    types = []
    y.visit(lambda f: types.append(f.info.type_name))
    out = {"y": y.d.copy(), "types": types}
    for i, v in enumerate(leaves):
        out[f"g{i}"] = v.g.copy() if v.need_grad else v.d.copy()  # running stats: values
    return out


@pytest.mark.parametrize("config", [
    dict(bias=True, bn=False, z=False, kwargs=dict(pad=(1, 1), nonlinearity="sigmoid")),
    dict(bias=False, bn=False, z=True, kwargs=dict(pad=(1, 1), pad_mode="reflect",
                                                   nonlinearity="tanh")),
    dict(bias=False, bn=True, z=True, kwargs=dict(pad=(1, 1), nonlinearity="leaky_relu",
                                                  nonlinearity_args=[0.2], decay_rate=0.8)),
    dict(bias=False, bn=True, z=False, kwargs=dict(pad=(1, 1), batch_stat=False,
                                                   nonlinearity="elu", nonlinearity_args=[0.5])),
], ids=["bias_sigmoid", "z_reflect_tanh", "bn_z_leaky", "bn_inference_elu"])
def test_parity_with_nnabla(config):
    """The same source under NNabla 1.39 and nablite: output, gradients and the
    updated running statistics, and one FusedConvolution node in both."""
    f32 = np.float32
    check_same_source(_parity_case, x=X.astype(f32), w=W.astype(f32),
                      b=randn(4, seed=2).astype(f32) if config["bias"] else None,
                      bn=[a.astype(f32) for a in bn_inputs(4)] if config["bn"] else None,
                      z=Z.astype(f32) if config["z"] else None, kwargs=config["kwargs"],
                      rtol=1e-4, atol=1e-5)


# -- .nnp both ways ------------------------------------------------------------------
CONFIGS = {
    "bias": lambda vs: F.fused_convolution(vs["x"], vs["w"], vs["b"], pad=(1, 1),
                                           nonlinearity="relu6"),
    "z": lambda vs: F.fused_convolution(vs["x"], vs["w"], z=vs["z"], pad=(1, 1),
                                        pad_mode="repeat", nonlinearity="sigmoid"),
    "bias_z": lambda vs: F.fused_convolution(vs["x"], vs["w"], vs["b"], z=vs["z"], pad=(1, 1),
                                             nonlinearity="tanh"),
    "bn_z": lambda vs: F.fused_convolution(vs["x"], vs["w"], None, vs["beta"], vs["gamma"],
                                           vs["mean"], vs["var"], vs["z"], pad=(1, 1),
                                           batch_stat=False, nonlinearity="leaky_relu",
                                           nonlinearity_args=[0.3]),
}
USES = {"bias": ["x", "w", "b"], "z": ["x", "w", "z"], "bias_z": ["x", "w", "b", "z"],
        "bn_z": ["x", "w", "beta", "gamma", "mean", "var", "z"]}


def _values():
    beta, gamma, mean, var = bn_inputs(4)
    return {k: v.astype(np.float32) for k, v in dict(
        x=X, w=W, b=randn(4, seed=2), z=Z, beta=beta, gamma=gamma, mean=mean, var=var).items()}


def _saved(name, tmp_path):
    """Build config ``name`` on _values(), forward it and save it as one network "n"
    in tmp_path/net.nnp: (values, y, path)."""
    values = _values()
    vs = {k: nn.Variable.from_numpy_array(values[k]) for k in USES[name]}
    y = CONFIGS[name](vs)
    y.forward()
    path = str(tmp_path / "net.nnp")
    save(path, {"networks": [{"name": "n", "batch_size": 2, "outputs": {"y": y},
                              "names": vs}]})
    return values, y, path


def _loaded(path, name, values):
    """Network "n" of the .nnp at ``path`` read by nablite, fed ``values``, forwarded:
    its output y."""
    net = NnpLoader(path).get_network("n")
    for k in USES[name]:
        net.inputs[k].d = values[k]
    out = net.outputs["y"]
    out.forward()
    return out


@pytest.mark.parametrize("name", list(CONFIGS))
def test_nnp_nablite_to_nablite(name, tmp_path):
    values, y, path = _saved(name, tmp_path)
    out = _loaded(path, name, values)
    fs = _node(out)
    assert [f.info.type_name for f in fs] == ["FusedConvolution"]
    assert fs[0].info.args == y.parent.info.args
    np.testing.assert_allclose(out.d, y.d, rtol=1e-6, atol=1e-6)


_NNABLA_LOADS = """
import numpy as np
from nnabla.utils.nnp_graph import NnpLoader
net = NnpLoader(path).get_network("n")
for k, v in values.items():
    net.inputs[k].d = np.array(v, np.float32)
y = net.outputs["y"]
y.forward()
types = []
y.visit(lambda f: types.append(f.info.type_name))
RESULT = [y.d.tolist(), types]
"""

_NNABLA_WRITES = """
import numpy as np
import nnabla as nn
import nnabla.functions as F
from nnabla.utils.save import save
vs = {k: nn.Variable.from_numpy_array(np.array(values[k], np.float32)) for k in uses}
y = eval(source)
y.forward()
save(path, {"networks": [{"name": "n", "batch_size": 2, "outputs": {"y": y}, "names": vs}]})
RESULT = y.d.tolist()
"""


@pytest.mark.parametrize("name", list(CONFIGS))
def test_nnp_nablite_to_nnabla(name, tmp_path):
    values, y, path = _saved(name, tmp_path)
    got = run_in_nnabla(_NNABLA_LOADS, path=path,
                        values={k: values[k].tolist() for k in USES[name]})
    if got is None:
        pytest.skip("NNabla 1.39 is not installed")
    assert got[1] == ["FusedConvolution"]
    np.testing.assert_allclose(np.array(got[0], np.float32), y.d, rtol=1e-5, atol=1e-5)


# the same networks as CONFIGS, as source NNabla runs
SOURCES = {
    "bias": "F.fused_convolution(vs['x'], vs['w'], vs['b'], pad=(1, 1), nonlinearity='relu6')",
    "z": "F.fused_convolution(vs['x'], vs['w'], z=vs['z'], pad=(1, 1), pad_mode='repeat', "
         "nonlinearity='sigmoid')",
    "bias_z": "F.fused_convolution(vs['x'], vs['w'], vs['b'], z=vs['z'], pad=(1, 1), "
              "nonlinearity='tanh')",
    "bn_z": "F.fused_convolution(vs['x'], vs['w'], None, vs['beta'], vs['gamma'], vs['mean'], "
            "vs['var'], vs['z'], pad=(1, 1), batch_stat=False, nonlinearity='leaky_relu', "
            "nonlinearity_args=[0.3])",
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_nnp_nnabla_to_nablite(name, tmp_path):
    """NNabla writes the one-node network; nablite rebuilds one node (the 3-input
    z-only file too: the third input is z because it is not 1-D) with NNabla's output."""
    values = _values()
    path = str(tmp_path / "net.nnp")
    want = run_in_nnabla(_NNABLA_WRITES, path=path, uses=USES[name], source=SOURCES[name],
                         values={k: values[k].tolist() for k in USES[name]})
    if want is None:
        pytest.skip("NNabla 1.39 is not installed")
    out = _loaded(path, name, values)
    assert [f.info.type_name for f in _node(out)] == ["FusedConvolution"]
    np.testing.assert_allclose(out.d, np.array(want, np.float32), rtol=1e-5, atol=1e-5)


# -- ONNX ------------------------------------------------------------------------------
@pytest.mark.parametrize("nonlinearity,args", NONLINEARITIES, ids=[n for n, _ in NONLINEARITIES])
def test_onnx_export_runs_in_onnxruntime(nonlinearity, args, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from nablite.onnx import export
    values = _values()
    vs = {k: nn.Variable.from_numpy_array(values[k])
          for k in ("x", "w", "beta", "gamma", "mean", "var", "z")}
    y = F.fused_convolution(vs["x"], vs["w"], None, vs["beta"], vs["gamma"], vs["mean"],
                            vs["var"], vs["z"], pad=(1, 1), batch_stat=False,
                            nonlinearity=nonlinearity, nonlinearity_args=args)
    y.forward()
    path = str(tmp_path / "m.onnx")
    model = export({"y": y}, path, inputs=vs, opset=13)
    ops = [n.op_type for n in model.graph.node]
    assert "Conv" in ops and "BatchNormalization" in ops and "Add" in ops
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {k: values[k] for k in vs})[0]
    np.testing.assert_allclose(got, y.d, rtol=1e-4, atol=1e-4)


def test_onnx_export_refuses_the_training_form(tmp_path):
    pytest.importorskip("onnx")
    from nablite.onnx import export
    from nablite.onnx.ops import ExportError
    values = _values()
    vs = {k: nn.Variable.from_numpy_array(values[k])
          for k in ("x", "w", "beta", "gamma", "mean", "var")}
    y = F.fused_convolution(vs["x"], vs["w"], None, vs["beta"], vs["gamma"], vs["mean"],
                            vs["var"])
    with pytest.raises(ExportError, match="FusedConvolution with batch_stat=True"):
        export({"y": y}, str(tmp_path / "m.onnx"), inputs={"x": vs["x"]})


def test_integer_data_after_a_fused_node_exists():
    """Giving a graph's input integer data scans the live functions' inputs; the
    fused node's inner functions (whose inputs are stand-ins) must not break it."""
    x = nn.Variable((2, 3, 5, 5))
    w = nn.Variable.from_numpy_array(np.ones((4, 3, 3, 3), np.float32))
    keep = F.fused_convolution(x, w, None, *[nn.Variable.from_numpy_array(
        np.full((1, 4, 1, 1), v, np.float32)) for v in (0, 1, 0, 1)], pad=(1, 1))
    a = nn.Variable((2, 3))
    y = F.mul2(a, a)
    a.d = np.arange(6).reshape(2, 3)     # integers: readers of a re-check their dtypes
    y.forward()
    np.testing.assert_array_equal(y.d, np.arange(6).reshape(2, 3) ** 2)
    assert keep.shape == (2, 4, 5, 5)
