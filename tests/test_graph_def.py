"""nablite.graph_def (NNabla's nn.graph_def): recording networks on
ProtoVariables, ProtoGraph from a nablite graph, calling it on Variables, and
files both ways with NNabla 1.39 (skipped without it)."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF

pytest.importorskip("google.protobuf")
import nablite.graph_def as G  # noqa: E402

from nnabla_parity import check_same_source, run_in_nnabla  # noqa: E402


@pytest.fixture(autouse=True)
def fresh():
    nn.clear_parameters()
    G.reset_default_graph()
    yield
    nn.clear_parameters()


def params():
    p = nn.get_parameters()
    return p["fc/affine/W"].d, p["fc/affine/b"].d


def test_record_a_network_and_call_it():
    x = G.ProtoVariable((2, 3))
    with G.graph() as g:
        y = F.relu(PF.affine(x, 4, name="fc"))
    # the block's graph is its own: the default graph does not see it (as NNabla)
    assert G.get_default_graph() is not g and not G.get_default_graph().networks
    with pytest.raises(ValueError, match="ReLU_out is the output of no network of the default"):
        G.get_default_graph_by_variable(y)
    net = g.default_graph()
    assert net.name == "model" and list(g.networks) == ["model"]
    assert [f.type for f in net.functions.values()] == ["Affine", "ReLU"]
    assert list(net.functions.values())[0].args == {"base_axis": 1}
    assert len(net.inputs) == 1 and len(net.outputs) == 1
    assert list(net.parameters) == ["fc/affine/W", "fc/affine/b"]
    xd = np.random.RandomState(0).randn(2, 3).astype(np.float32)
    xv = nn.Variable.from_numpy_array(xd, need_grad=True)
    out = g(xv)
    out.forward()
    w, b = params()
    np.testing.assert_allclose(out.d, np.maximum(xd @ w + b, 0), rtol=1e-6)
    F.sum(out).backward()  # the built graph reads the caller's Variable
    np.testing.assert_allclose(xv.g, ((xd @ w + b) > 0) @ w.T, rtol=1e-5)


def test_graph_name_and_errors():
    x = G.ProtoVariable((1, 2))
    with G.graph() as g:
        with G.graph_name("net"):  # names the block's next network
            y = F.tanh(x)  # noqa: F841
    assert list(g.networks) == ["net"] and g.net is g.default_graph()
    assert list(g.net.functions) == ["@net/Tanh"]
    with pytest.raises(TypeError, match=r"takes inputs \['@net/Tanh_in'\], got 0 positional and "
                                        r"\['other'\]"):
        g(other=nn.Variable((1, 2)))
    with pytest.raises(ValueError, match="no function ran"):
        with G.graph():
            pass
    with pytest.raises(AttributeError, match="no network or attribute 'other'"):
        g.other


def test_create_graph_from_variable_and_files(tmp_path):
    x = nn.Variable((2, 3))
    y = F.sigmoid(PF.affine(x, 4, name="fc"))
    g = G.create_graph_from_variable("net", y, names={"x": x})
    net = g.default_graph()
    # unnamed ones are named as NNabla names them, after their function
    assert net.inputs == ["x"] and net.outputs == ["@net/Sigmoid_out"]
    assert [f.type for f in net.functions.values()] == ["Affine", "Sigmoid"]
    assert list(net.functions) == ["@net/Affine", "@net/Sigmoid"]
    assert list(net.variables) == ["x", "@net/Affine_out", "@net/Sigmoid_out"]
    assert list(net.parameters) == ["fc/affine/W", "fc/affine/b"]
    g.save(str(tmp_path / "g.nnp"))
    nn.clear_parameters()
    g2 = G.load(str(tmp_path / "g.nnp"))
    xd = np.random.RandomState(1).randn(2, 3).astype(np.float32)
    out = g2(nn.Variable.from_numpy_array(xd))
    out.forward()
    w, b = params()
    np.testing.assert_allclose(out.d, 1 / (1 + np.exp(-(xd @ w + b))), rtol=1e-6)


def recorded_in_both(x):
    import importlib
    G = nn.graph_def if hasattr(nn, "graph_def") else importlib.import_module("nablite.graph_def")
    nn.clear_parameters()
    px, scale = G.ProtoVariable(x.shape), G.ProtoVariable((1, 1, 1, 1), name="scale")
    with G.graph() as g:
        h = F.relu(PF.convolution(px, 3, (3, 3), pad=(1, 1), name="c"))
        y = F.max_pooling(h, (2, 2)) * scale  # noqa: F841
        y2 = F.tanh(F.relu(h))  # noqa: F841 (a second output)
    rng = np.random.RandomState(0)
    for k, p in sorted(g.get_parameters().items()):
        p.d = rng.randn(*p.shape).astype(np.float32)
    out, out2 = g(nn.Variable.from_numpy_array(x), nn.Variable.from_numpy_array(np.full(
        (1, 1, 1, 1), 2.0, np.float32)))
    out.forward()
    net = g.default_graph()
    return {"y": out.d, "types": [f.type for f in net.functions.values()],
            "args": [sorted(f.args.items()) for f in net.functions.values()],
            "parameters": sorted(net.parameters), "functions": list(net.functions),
            "variables": list(net.variables), "inputs": net.inputs, "outputs": net.outputs}


def test_parity_with_nnabla_graph_def():
    x = np.random.RandomState(2).randn(2, 2, 4, 4).astype(np.float32)
    mine, want = check_same_source(recorded_in_both, x=x, differ=("args",))
    assert [dict(a) for a in mine["args"]] == [dict(a) for a in want["args"]]


def test_nnabla_reads_what_nablite_saves(tmp_path):
    x = G.ProtoVariable((2, 3))
    with G.graph() as g:
        y = F.relu(PF.affine(x, 4, name="fc"))  # noqa: F841
    path = str(tmp_path / "g.nnp")
    g.save(path)
    xd = np.random.RandomState(3).randn(2, 3).astype(np.float32)
    out = g(nn.Variable.from_numpy_array(xd))
    out.forward()
    got = run_in_nnabla("""
import numpy as np
import nnabla as nn
g = nn.graph_def.load(path)
y = g(nn.Variable.from_numpy_array(np.array(x, np.float32)))
y.forward()
RESULT = y.d.tolist()
""", path=path, x=xd.tolist())
    if got is None:
        pytest.skip("NNabla 1.39 is not installed")
    np.testing.assert_allclose(np.array(got), out.d, rtol=1e-6)


class _ConvNet(nn.Module):
    def call(self, x):
        return F.relu(PF.convolution(x, 4, (3, 3), pad=(1, 1)))


def test_a_module_recorded_on_a_proto_variable(tmp_path):
    """An nn.Module called on a ProtoVariable inside graph(name=...): its own
    parameters are the network's parameters (not inputs), the network is
    g[name], and it runs on real inputs, also after a save and load."""
    net = _ConvNet()
    x = nn.Variable.from_numpy_array(np.random.RandomState(0).rand(2, 3, 8, 8))
    want = net(x)
    want.forward()
    with G.graph(name="test_net") as g:
        net(G.ProtoVariable((2, 3, 8, 8)))  # the output needs no name (as in NNabla)
    n = g["test_net"]
    assert n is g.test_net and list(g.networks) == ["test_net"]
    assert n.inputs == ["@__conv_net/Convolution_in"]  # the module's name, as NNabla's
    assert list(n.parameters) == ["conv/W", "conv/b"]
    y = n(x)
    y.forward()
    np.testing.assert_allclose(y.d, want.d, rtol=1e-6)
    g.save(str(tmp_path / "m.nnp"))
    loaded = G.load(str(tmp_path / "m.nnp"))
    y2 = loaded["test_net"](x)
    y2.forward()
    np.testing.assert_allclose(y2.d, want.d, rtol=1e-6)
    with pytest.raises(KeyError, match="ProtoGraph has no network 'other'"):
        g["other"]


def test_a_loaded_network_called_bare_makes_its_inputs(tmp_path):
    """As NNabla: net() with no arguments creates the input Variables, reachable
    as variables[name].variable_instance (the outputs' too)."""
    with G.graph() as g:
        x = G.ProtoVariable((2, 3))
        y = PF.affine(x, 4, name="fc")  # noqa: F841
    g.save(str(tmp_path / "m.nnp"))
    loaded = G.load(str(tmp_path / "m.nnp"))
    out = loaded()
    net = loaded.default_graph()
    (inp,) = [net.variables[n].variable_instance for n in net.inputs]
    assert inp.shape == (2, 3) and out.shape == (2, 4)
    assert net.variables[net.outputs[0]].variable_instance is out
    inp.d = np.random.RandomState(0).rand(2, 3)
    out.forward()
    w, b = params()
    np.testing.assert_allclose(out.d, inp.d @ w + b, rtol=1e-5)


class _Lin(nn.Module):
    def call(self, x):
        return PF.affine(x, 3)


class _Net(nn.Module):
    def __init__(self):
        self.body = _ConvNet()

    def call(self, x):
        return F.relu(self.body(x))


def test_the_default_graph_records_without_a_block():
    """Outside any graph() block, functions on ProtoVariables go to the default
    graph, cut into networks: one per outermost module call (named after the
    module, its functions behind the module path), one for the rest when the
    default graph is asked for; a later network reads an earlier one's output
    by the name it got."""
    x = G.ProtoVariable((2, 3, 4, 4))
    h = _Net()(x)
    y = F.tanh(_Lin()(h))
    g = G.get_default_graph()
    assert list(g.networks) == ["__net", "__lin", "model"]
    net, lin, rest = g.networks.values()
    assert list(net.functions) == ["@__net/@body/Convolution", "@__net/@body/ReLU",
                                   "@__net/ReLU"]
    assert net.outputs == ["@__net/ReLU_out"] and lin.inputs == ["@__net/ReLU_out"]
    assert rest.inputs == ["@__lin/Affine_out"] and rest.outputs == ["Tanh_out"]
    assert list(net.parameters) == ["@body/conv/W", "@body/conv/b"]
    assert G.get_default_graph() is g and G.get_default_graph("__lin") is lin
    assert G.get_default_graph(name="other") is None
    assert G.get_default_graph_by_variable(y) is rest
    z = F.sigmoid(G.ProtoVariable((2,)))  # noqa: F841
    assert list(G.get_default_graph().networks) == ["__net", "__lin", "model", "model_1"]
    with G.graph_name("named"):
        F.exp(G.ProtoVariable((2,)))
    assert list(g.named.functions) == ["@named/Exp"]
    # the recorded networks run: conv -> relu -> relu -> affine -> tanh
    xd = np.random.RandomState(0).rand(2, 3, 4, 4).astype(np.float32)
    out = rest(lin(net(nn.Variable.from_numpy_array(xd))))
    out.forward()
    assert out.shape == (2, 3) and np.all(np.abs(out.d) < 1)
    G.reset_default_graph()
    assert not G.get_default_graph().networks


def default_graph_in_both():
    import importlib
    G = nn.graph_def if hasattr(nn, "graph_def") else importlib.import_module("nablite.graph_def")
    M = importlib.import_module(nn.__name__ + ".core.module")
    G.reset_default_graph()
    nn.clear_parameters()

    class Block(M.Module):
        def call(self, x):
            return F.relu(PF.convolution(x, 2, (3, 3), pad=(1, 1)))

    class Net(M.Module):
        def __init__(self):
            self.b1 = Block()
            self.b2 = Block()

        def call(self, x):
            return F.max_pooling(self.b2(self.b1(x)), (2, 2))

    y = Net()(G.ProtoVariable((1, 3, 4, 4)))
    y = F.sigmoid(PF.affine(y, 2, name="fc"))
    out = {}
    for name, n in G.get_default_graph().networks.items():
        if not n.functions:  # NNabla 1.39 also leaves an empty network behind a module
            continue         # (so its 'net_1' is nablite's 'net')
        out[name[:-2] if name.endswith("_1") else name] = {"functions": list(n.functions), "inputs": n.inputs,
                                    "outputs": n.outputs, "parameters": list(n.parameters),
                                    "variables": list(n.variables)}
    G.reset_default_graph()
    return out


def test_parity_default_graph_with_nnabla():
    check_same_source(default_graph_in_both)


def test_calling_with_more_inputs_than_the_network_has_ignores_the_extra_as_nnabla():
    from nnabla_parity import check_same_source
    mine, _ = check_same_source('''
x = nn.ProtoVariable((2, 3))
with nn.graph_def.graph() as g:
    y = F.relu(x)
a = nn.Variable.from_numpy_array(np.array([[1., -2, 3], [-4, 5, -6]], np.float32))
b = nn.Variable.from_numpy_array(np.full((2, 3), 7., np.float32))
out = g(a, b)
out.forward()
OUT = {"y": out.d.copy()}
''')
    np.testing.assert_array_equal(mine["y"], [[1, 0, 3], [0, 5, 0]])
