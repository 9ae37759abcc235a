"""nn.Module / nn.Sequential (nablite.core): parameter ownership, names, modes, files."""
import inspect

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF
import nablite.solvers as S
from nablite.core.modules import ConvBn as CoreConvBn, ResUnit
from nablite.testing import numerical_grad
from gradcheck import fit
from nnabla_parity import check_same_source


@pytest.fixture(autouse=True)
def fresh_parameters():
    nn.clear_parameters()
    yield
    nn.clear_parameters()


class ConvBn(nn.Module):
    def __init__(self, outmaps):
        self.outmaps = outmaps

    def call(self, x):
        h = PF.convolution(x, self.outmaps, (3, 3), pad=(1, 1), with_bias=False)
        return PF.batch_normalization(h, batch_stat=self.training)


class Net(nn.Module):
    def __init__(self):
        self.cb1 = ConvBn(4)
        self.cb2 = ConvBn(2)

    def head(self, h):
        return PF.affine(h, 3, name="fc")

    def call(self, x):
        return self.head(F.relu(self.cb2(self.cb1(x))))


class Lin(nn.Module):
    def __init__(self, n):
        self.n = n

    def call(self, x):
        return F.tanh(PF.affine(x, self.n))


def data(*shape, seed=0):
    return nn.Variable.from_numpy_array(
        np.random.RandomState(seed).randn(*shape).astype(np.float32))


NET_KEYS = ["@cb1/conv/W", "@cb1/bn/beta", "@cb1/bn/gamma", "@cb1/bn/mean", "@cb1/bn/var",
            "@cb2/conv/W", "@cb2/bn/beta", "@cb2/bn/gamma", "@cb2/bn/mean", "@cb2/bn/var",
            "fc/affine/W", "fc/affine/b"]


def test_parameters_belong_to_the_module_with_nnabla_names():
    net = Net()
    assert list(net.get_parameters()) == []
    y = net(data(2, 3, 5, 5))
    assert y.shape == (2, 3)
    assert list(nn.get_parameters(grad_only=False)) == []  # the global scope is untouched
    params = net.get_parameters()
    assert list(params) == NET_KEYS
    assert params["@cb1/conv/W"].shape == (4, 3, 3, 3)
    assert params["@cb2/bn/mean"].shape == (1, 2, 1, 1) and not params["@cb2/bn/mean"].need_grad
    assert params["fc/affine/W"].shape == (50, 3)
    assert list(net.get_parameters(grad_only=True)) == [k for k in NET_KEYS
                                                        if not k.endswith(("mean", "var"))]
    assert list(net.get_parameters(recursive=False)) == ["fc/affine/W", "fc/affine/b"]
    assert list(net.cb1.get_parameters()) == ["conv/W", "bn/beta", "bn/gamma", "bn/mean", "bn/var"]
    assert list(net.parameter_scope) == ["fc"]
    net(data(2, 3, 5, 5, seed=1))  # a second call reuses the parameters
    assert all(a is b for a, b in zip(net.get_parameters().values(), params.values()))
    other = Net()
    other(data(2, 3, 5, 5))
    assert other.get_parameters()["fc/affine/W"] is not params["fc/affine/W"]


def test_names_paths_tree_and_repr():
    net = Net()
    assert (net.name, net.cb1.name) == ("net", "cb1")
    assert net.get_path_name() == "@net" and net.cb1.get_path_name() == "@net/@cb1"
    assert net.is_root() and not net.cb1.is_root() and net.cb1.parent is net
    assert repr(net) == "Net" and len(net) == 2 and list(net.submodules) == ["cb1", "cb2"]
    assert net.get_scope_name() == "@cb1" and net.cb1.get_scope_name() == ""

    class ABCNet(nn.Module):
        pass

    assert ABCNet().name == "a_b_c_net" and CoreConvBn(2).name == "conv_bn"
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'cb3'"):
        net.cb3


def test_training_flag_propagates_to_submodules():
    net = Net()
    assert net.training and net.cb1.training
    x = data(4, 3, 5, 5)
    net(x)
    net.training = False
    assert not net.cb1.training and not net.cb2.training
    y = net(x)
    bn = y.parent.inputs[0].parent.inputs[0].parent
    assert bn.name == "BatchNormalization" and bn.batch_stat is False


def test_sequential_names_and_chaining():
    seq = nn.Sequential(Lin(4), Lin(2))
    z = seq(data(3, 5))
    assert z.shape == (3, 2) and seq.name == "sequential"
    assert list(seq.submodules) == ["lin_0", "lin_1"]
    assert list(seq.get_parameters()) == ["@lin_0/affine/W", "@lin_0/affine/b",
                                          "@lin_1/affine/W", "@lin_1/affine/b"]
    p = seq.get_parameters()
    x = data(3, 5)
    z = seq(x)
    z.forward()
    want = np.tanh(np.tanh(x.d @ p["@lin_0/affine/W"].d + p["@lin_0/affine/b"].d)
                   @ p["@lin_1/affine/W"].d + p["@lin_1/affine/b"].d)
    np.testing.assert_allclose(z.d, want, rtol=1e-5, atol=1e-6)
    named = nn.Sequential(("a", Lin(4)), ("b", Lin(2)))
    named(data(3, 5))
    assert list(named.get_parameters())[0] == "@a/affine/W"
    with pytest.raises(TypeError, match="Sequential: argument 1 must be an nn.Module or a "
                                        r"\(name, nn.Module\) pair, got int"):
        nn.Sequential(Lin(2), 3)
    with pytest.raises(TypeError, match="argument 0 .* got a tuple of 3"):
        nn.Sequential(("a", Lin(2), 1))


def test_gradients_through_a_module_match_numerical():
    lin = Lin(3)
    x = data(4, 5)
    y = F.sum(lin(x) ** 2)
    w = lin.get_parameters()["affine/W"]
    y.forward()
    lin.zero_grad()
    w.g = 0.5
    y.backward()
    got = w.g - 0.5

    def value():
        y.forward()
        return y.d.copy()

    w64 = w.d
    np.testing.assert_allclose(got, numerical_grad(value, w64, df=np.ones(()), h=1e-3),
                               rtol=2e-2, atol=2e-3)


def test_zero_grad_and_training_with_a_solver():
    lin = Lin(1)
    x = data(16, 3)
    # a target the module can fit, so the loss must fall whatever the initial weights
    t = F.tanh(F.affine(x, nn.Variable.from_numpy_array(np.array([[1.0], [-2.0], [0.5]]))))
    loss = F.mean(F.squared_error(lin(x), t))
    solver = S.Sgd(lr=0.5)
    solver.set_parameters(lin.get_parameters(grad_only=True))
    losses = fit(loss, solver, 20)
    assert losses[-1] < 0.5 * losses[0]
    for p in lin.get_parameters().values():
        p.g = 1
    lin.zero_grad()
    assert all(not p.g.any() for p in lin.get_parameters().values())


@pytest.mark.parametrize("ext", [".h5", ".protobuf"])
def test_save_and_load_parameters(tmp_path, ext):
    if ext == ".h5":
        pytest.importorskip("h5py")
    net = Net()
    x = data(2, 3, 5, 5)
    y = net(x)
    y.forward()
    path = str(tmp_path / f"net{ext}")
    net.save_parameters(path)
    fresh = Net()
    fresh.load_parameters(path)
    assert list(fresh.get_parameters()) == NET_KEYS or ext == ".h5"
    assert sorted(fresh.get_parameters()) == sorted(NET_KEYS)
    y2 = fresh(x)
    y2.forward()
    np.testing.assert_allclose(y2.d, y.d, rtol=1e-6)
    assert list(nn.get_parameters(grad_only=False)) == []

    lone = Lin(2)
    with pytest.raises(ValueError, match=r"Lin.set_parameter: key '@cb1/.*' needs a submodule "
                                         r"'cb1', but the submodules are \[\]"):
        lone.load_parameters(path)
    lone.load_parameters(path, raise_if_missing=False)
    assert sorted(lone.get_parameters()) == ["fc/affine/W", "fc/affine/b"]


def test_set_parameter_routes_and_validates():
    net = Net()
    w = nn.Variable.from_numpy_array(np.ones((2, 2), np.float32), need_grad=True)
    net.set_parameter("@cb2/extra/W", w)
    assert net.get_parameters()["@cb2/extra/W"] is w
    with pytest.raises(ValueError, match=r"Net.set_parameter: key '@cb1' names a submodule"):
        net.set_parameter("@cb1", w)
    with pytest.raises(TypeError, match=r"Net.set_parameter: param for 'W' must be a Variable, "
                                        r"got ndarray"):
        net.set_parameter("W", np.ones(2))
    net.set_parameter("@nope/W", w)  # skipped without raise_if_missing
    with pytest.raises(NotImplementedError, match=r"Module.call is not implemented"):
        nn.Module()(1)


def test_shared_submodule_parameters_listed_once():
    class Share(nn.Module):
        def __init__(self):
            self.a = Lin(3)
            self.b = self.a

        def call(self, x):
            return self.b(self.a(x))

    s = Share()
    s(data(2, 3))
    assert list(s.get_parameters()) == ["@a/affine/W", "@a/affine/b"]
    assert s.a.name == "b"  # the last attribute it was assigned to, as in NNabla


def test_static_and_class_methods_are_not_wrapped():
    class Tools(nn.Module):
        @staticmethod
        def double(v):
            return 2 * v

        @classmethod
        def kind(cls):
            return cls.__name__

        def call(self, x):
            return PF.affine(x, self.double(2))

    t = Tools()
    assert Tools.double(3) == 6 and t.kind() == "Tools"
    assert t(data(1, 3)).shape == (1, 4)


def test_core_modules_resunit_names():
    unit = ResUnit(8, stride=2)
    y = unit(data(2, 4, 6, 6))
    assert y.shape == (2, 8, 3, 3)
    keys = list(unit.get_parameters())
    assert keys[:5] == ["@conv1/conv/W", "@conv1/bn/beta", "@conv1/bn/gamma", "@conv1/bn/mean",
                        "@conv1/bn/var"]
    assert [k for k in keys if k.endswith("conv/W")] == [
        "@conv1/conv/W", "@conv2/conv/W", "@conv3/conv/W", "@skip/conv/W"]


_SAME_MODULE_CASE = "\n".join(inspect.getsource(c) for c in (ConvBn, Net, Lin)) + """
nn.seed(7)
net = Net()
x = nn.Variable.from_numpy_array(X.astype(np.float32))
y = F.sum(net(x) ** 2)
seq = nn.Sequential(Lin(4), ("last", Lin(2)))
z = seq(nn.Variable.from_numpy_array(X.astype(np.float32).reshape(2, -1)[:, :5]))
y.forward()
y.backward()
params = net.get_parameters()
OUT = {"keys": list(params), "shapes": [list(v.shape) for v in params.values()],
       "need": [v.need_grad for v in params.values()], "y": y.d,
       "grads": {k: v.g for k, v in params.items() if v.need_grad},
       "seq": list(seq.get_parameters()), "seq_sub": list(seq.submodules),
       "init": params["@cb1/conv/W"].d.ravel()[:6]}
"""


def test_parity_with_nnabla_running_the_same_module():
    X = np.random.RandomState(3).randn(2, 3, 5, 5).round(3)
    check_same_source(_SAME_MODULE_CASE, rtol=1e-4, atol=1e-6, dtypes=False,
                      tol={"init": (1e-6, 0), "grads": (2e-3, 1e-4)}, X=X)
