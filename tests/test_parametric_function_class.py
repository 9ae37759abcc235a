"""nablite.experimental.parametric_function_class: layers that hold their parameters."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.initializer as I
from nablite.experimental.parametric_function_class import (Affine, BatchNorm1d, BatchNorm2d,
                                                            BatchNormalization, Convolution,
                                                            Deconvolution, Embed, Linear, Module)
from nablite.experimental.parametric_function_class.convolution import Conv2d
from nablite.testing import numerical_grad
from gradcheck import check_function, randn
from nnabla_parity import run_in_nnabla


pytestmark = pytest.mark.usefixtures("fresh_parameters")


def data(*shape, seed=1):
    return nn.Variable.from_numpy_array(
        np.random.RandomState(seed).randn(*shape).astype(np.float32))


def test_affine_parameters_initial_values_and_forward():
    fc = Affine(6, 4, rng=np.random.RandomState(0))
    assert (fc.W.shape, fc.b.shape, fc.W.need_grad, fc.b.need_grad) == ((6, 4), (4,), True, True)
    lim = I.calc_uniform_lim_glorot(6, 4)
    np.testing.assert_array_equal(
        fc.W.d, np.random.RandomState(0).uniform(*lim, (6, 4)).astype(np.float32))
    assert not fc.b.d.any()
    assert list(fc.get_parameters()) == ["/W", "/b"]
    assert list(nn.get_parameters(grad_only=False)) == []  # no global parameters
    fc.b.d = np.arange(4)
    x = data(2, 3, 2)
    y = fc(x)
    y.forward()
    np.testing.assert_allclose(y.d, x.d.reshape(2, 6) @ fc.W.d + np.arange(4), rtol=1e-5)
    flat = Linear(6, (2, 3))
    assert flat.W.shape == (6, 6) and flat(data(2, 6)).shape == (2, 6)  # NNabla 1.39 flattens
    fixed = Affine(6, 4, fix_parameters=True, with_bias=False)
    assert fixed.b is None and not fixed.W.need_grad
    assert list(fixed.get_parameters()) == [] and list(fixed.get_parameters(False)) == ["/W"]


def test_affine_gradients_match_numerical():
    fc = Affine(5, 3, rng=np.random.RandomState(0))
    check_function(lambda x: fc(x), [randn(4, 5)],
                   ref=lambda x: x @ fc.W.d.astype(np.float64) + fc.b.d)
    x = data(4, 5)
    y = F.sum(F.tanh(fc(x)))
    y.forward()
    fc.W.g = 0.25
    y.backward()
    got = fc.W.g - 0.25

    def value():
        y.forward()
        return y.d.copy()

    np.testing.assert_allclose(got, numerical_grad(value, fc.W.d, df=np.ones(()), h=1e-3),
                               rtol=2e-2, atol=2e-3)


def test_convolution_and_deconvolution():
    conv = Conv2d(4, 6, (3, 3), pad=(1, 1), group=2, rng=np.random.RandomState(0))
    assert conv is not None and Convolution is Conv2d
    assert conv.W.shape == (6, 2, 3, 3) and conv.b.shape == (6,)
    lim = I.calc_uniform_lim_glorot(4, 6, (3, 3))
    np.testing.assert_array_equal(
        conv.W.d, np.random.RandomState(0).uniform(*lim, (6, 2, 3, 3)).astype(np.float32))
    x = data(2, 4, 5, 5)
    y = conv(x)
    y.forward()
    want = F.convolution(x, conv.W, conv.b, pad=(1, 1), group=2)
    want.forward()
    np.testing.assert_array_equal(y.d, want.d)
    deconv = Deconvolution(4, 6, (3, 3), stride=(2, 2), group=2)
    assert deconv.W.shape == (4, 3, 3, 3) and deconv.b.shape == (6,)
    z = deconv(x)
    z.forward()
    assert z.shape == (2, 6, 11, 11)


def test_embed():
    nn.seed(5)
    emb = Embed(10, 4)
    lim = np.sqrt(3.0)
    np.testing.assert_array_equal(
        emb.W.d, np.random.RandomState(5).uniform(-lim, lim, (10, 4)).astype(np.float32))
    idx = nn.Variable.from_numpy_array(np.array([[1, 9], [0, 1]]))
    y = emb(idx)
    y.forward()
    np.testing.assert_array_equal(y.d, emb.W.d[[[1, 9], [0, 1]]])


def test_batch_normalization_train_and_test():
    bn = BatchNorm2d(3)
    assert [v.shape for v in (bn.beta, bn.gamma, bn.mean, bn.var)] == [(1, 3, 1, 1)] * 4
    assert (bn.beta.need_grad, bn.gamma.need_grad, bn.mean.need_grad) == (True, True, False)
    assert list(bn.get_parameters()) == ["/beta", "/gamma"]
    assert list(bn.get_parameters(grad_only=False)) == ["/beta", "/gamma", "/mean", "/var"]
    x = data(4, 3, 2, 2)
    y = bn(x)
    y.forward()
    mu = x.d.mean((0, 2, 3), keepdims=True)
    var = x.d.var((0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y.d, (x.d - mu) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.mean.d, 0.1 * mu, rtol=1e-4, atol=1e-6)
    yt = bn(x, test=True)
    yt.forward()
    np.testing.assert_allclose(yt.d, (x.d - bn.mean.d) / np.sqrt(bn.var.d + 1e-5), rtol=1e-5)
    assert BatchNorm1d(5).beta.shape == (1, 5, 1)
    assert BatchNorm2d(3, eps=0.1).eps == 0.1
    custom = BatchNormalization(3, 3, axes=[2], param_init={"gamma": np.full((1, 1, 3), 2.0)})
    np.testing.assert_array_equal(custom.gamma.d, 2.0)


def test_module_names_save_and_load(tmp_path):
    class Net(Module):
        def __init__(self, seed):
            self.fc1 = Affine(6, 5, rng=np.random.RandomState(seed))
            self.bn = BatchNormalization(5, 2)
            self.fc2 = Affine(5, 2, rng=np.random.RandomState(seed + 1))
            self.extra = nn.Variable((3,), need_grad=True)

        def __call__(self, x):
            return self.fc2(F.relu(self.bn(self.fc1(x))))

    net = Net(0)
    assert list(net.get_parameters()) == ["/extra", "fc1/W", "fc1/b", "bn/beta", "bn/gamma",
                                          "fc2/W", "fc2/b"]
    assert [p for p, _ in net.get_modules()] == ["", "fc1", "bn", "fc2"]
    assert len(net.get_parameters(grad_only=False)) == 9
    path = str(tmp_path / "net.protobuf")
    net.save_parameters(path)
    other = Net(10)
    assert not np.allclose(other.fc1.W.d, net.fc1.W.d)
    # loading must neither leave nor clobber global parameters
    keep = nn.Variable.from_numpy_array(np.ones(2, np.float32))
    nn.parameter.set_parameter("fc1/W", keep)
    other.load_parameters(path)
    for k, v in net.get_parameters(grad_only=False).items():
        np.testing.assert_array_equal(other.get_parameters(grad_only=False)[k].d, v.d)
    assert nn.get_parameters(grad_only=False) == {"fc1/W": keep}

    small = Affine(6, 3)
    with pytest.raises(ValueError, match=r"Affine.load_parameters: '/W' is \(6, 5\) in .*, "
                                         r"but the module's is \(6, 3\)"):
        small.load_parameters(str(_save(tmp_path, {"W": np.zeros((6, 5)), "b": np.zeros(3)})))
    with pytest.raises(ValueError, match=r"Affine.load_parameters: .* has no parameter '/b'"):
        small.load_parameters(str(_save(tmp_path, {"W": np.zeros((6, 3))})))


def _save(tmp_path, arrays):
    path = tmp_path / "p.protobuf"
    nn.save_parameters(str(path), {k: nn.Variable.from_numpy_array(v.astype(np.float32))
                                   for k, v in arrays.items()})
    return path


def test_clear_errors():
    with pytest.raises(ValueError, match=r"Convolution: group=2 must divide inmaps=3"):
        Convolution(3, 4, (3, 3), group=2)
    with pytest.raises(TypeError, match=r"Convolution: kernel must be a tuple of int, got int 3"):
        Convolution(3, 4, 3)
    with pytest.raises(ValueError, match=r"Deconvolution: group=4 must divide outmaps=6"):
        Deconvolution(4, 6, (3, 3), group=4)
    with pytest.raises(ValueError, match=r"BatchNormalization: axes must hold exactly one axis, "
                                         r"got \[1, 2\]"):
        BatchNormalization(3, 4, axes=[1, 2])
    with pytest.raises(ValueError, match=r"BatchNorm2d: param_init keys must be .* got \['bias'\]"):
        BatchNorm2d(3, param_init={"bias": I.ConstantInitializer(0)})
    with pytest.raises(ValueError, match=r"Affine: w_init is an array of shape \(2, 2\), "
                                         r"expected \(6, 4\)"):
        Affine(6, 4, w_init=np.zeros((2, 2)))
    with pytest.raises(TypeError, match=r"Embed: w_init must be an initializer or a numpy "
                                        r"array, got str"):
        Embed(3, 2, w_init="uniform")


_NNABLA_CASE = """
import numpy as np
import nnabla as nn
import nnabla.functions as F
from nnabla.experimental.parametric_function_class.affine import Affine
from nnabla.experimental.parametric_function_class.convolution import Convolution
from nnabla.experimental.parametric_function_class.batch_normalization import BatchNorm2d
nn.seed(11)
fc = Affine(12, 3)
conv = Convolution(3, 3, (3, 3), pad=(1, 1), rng=np.random.RandomState(2))
bn = BatchNorm2d(3)
x = nn.Variable.from_numpy_array(np.array(X, np.float32), need_grad=True)
h = bn(conv(x))
y = fc(h)
y.forward()
y.backward(np.array(GY, np.float32))
RESULT = {"fcW": fc.W.d.tolist(), "convW": conv.W.d.tolist(), "y": y.d.tolist(),
          "gx": x.g.tolist(), "gW": conv.W.g.tolist(), "mean": bn.mean.d.tolist(),
          "gbeta": bn.beta.g.tolist()}
"""


def test_parity_with_nnabla():
    rng = np.random.RandomState(4)
    X = rng.randn(2, 3, 2, 2).round(3).tolist()
    GY = rng.randn(2, 3).round(3).tolist()
    want = run_in_nnabla(_NNABLA_CASE, X=X, GY=GY)
    if want is None:
        pytest.skip("NNabla 1.39 is not installed (set NNABLA_PYTHON)")
    nn.seed(11)
    fc = Affine(12, 3)
    conv = Convolution(3, 3, (3, 3), pad=(1, 1), rng=np.random.RandomState(2))
    bn = BatchNorm2d(3)
    x = nn.Variable.from_numpy_array(np.array(X, np.float32), need_grad=True)
    y = fc(bn(conv(x)))
    y.forward()
    y.backward(np.array(GY, np.float32))
    np.testing.assert_array_equal(fc.W.d, want["fcW"])
    np.testing.assert_array_equal(conv.W.d, want["convW"])
    np.testing.assert_allclose(y.d, want["y"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.mean.d, want["mean"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(x.g, want["gx"], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(conv.W.g, want["gW"], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(bn.beta.g, want["gbeta"], rtol=1e-3, atol=1e-4)
