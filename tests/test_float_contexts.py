"""Precision of the computation by context (NNabla 1.39's behaviour, checked by
tests/test_parity_same_source.py::test_float64_data_computes_in_float32):

  - 'float' (the default, NNabla's): every function reads its float inputs as
    float32, so float64 data gives float32 outputs and gradients; the
    Variable keeps its float64 values (``.d`` reads float64).
  - 'double' (nablite's own; NNabla has none): each float input computes in
    its own precision, float64 data in float64. The rest of the suite runs in
    it (conftest), for the float64 references and numerical gradients.

These tests build their graphs in the default context (``host_context``) or
in one they set themselves."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.ext_utils import get_extension_context
from nablite.testing import float64_compute

pytestmark = pytest.mark.host_context

X = np.linspace(-1.0, 1.0, 6).reshape(2, 3)  # float64
W = np.arange(12, dtype=np.float32).reshape(3, 4) / 10
LABELS = np.array([[1], [3]])


def _step(x_data, ctx=None):
    """affine -> softmax cross entropy -> mean, forward and backward in ``ctx``
    (the current one when None). -> (x, h, loss, W)"""
    with nn.context_scope(ctx or nn.get_current_context()):
        x = nn.Variable.from_numpy_array(x_data, need_grad=True)
        w = nn.Variable.from_numpy_array(W, need_grad=True)
        t = nn.Variable.from_numpy_array(LABELS)
        h = F.affine(x, w)
        loss = F.mean(F.softmax_cross_entropy(h, t))
    loss.forward()
    loss.backward()
    return x, h, loss, w


def test_float64_data_computes_in_float32_and_keeps_its_values():
    x, h, loss, w = _step(X)
    assert x.d.dtype == np.float64 and np.array_equal(x.d, X)
    assert h.d.dtype == loss.d.dtype == x.g.dtype == w.g.dtype == np.float32
    x32, h32, loss32, w32 = _step(X.astype(np.float32))
    for a, b in ((h, h32), (loss, loss32)):
        np.testing.assert_array_equal(a.d, b.d)  # the same float32 computation, bit for bit
    np.testing.assert_array_equal(x.g, x32.g)
    np.testing.assert_array_equal(w.g, w32.g)


def test_float64_given_after_the_graph_was_built_is_read_as_float32():
    x = nn.Variable((2, 3), need_grad=True)  # float32 until values arrive
    y = F.tanh(F.reshape(x, (3, 2)))  # reshape passes its input on as it is
    s = F.sum(y * 2)
    x.d = X + 0.25  # the storage becomes float64 now
    s.forward()
    s.backward()
    assert x.d.dtype == np.float64
    assert y.d.dtype == s.d.dtype == x.g.dtype == np.float32
    np.testing.assert_allclose(s.d, 2 * np.tanh(X + 0.25).sum(), rtol=1e-6)
    np.testing.assert_allclose(x.g, 2 * (1 - np.tanh(X + 0.25) ** 2), rtol=1e-6)


def test_reshape_and_identity_pass_float64_on_and_the_next_function_reads_float32():
    x = nn.Variable.from_numpy_array(X, need_grad=True)
    r = F.reshape(F.identity(x), (3, 2))
    y = F.tanh(r)
    late = nn.Variable((2, 3))
    z = F.exp(F.reshape(late, (6,)))
    late.d = X  # float64 arriving later reaches the consumer of the reshape too
    F.sink(y, z).forward()
    assert r.d.dtype == np.float64 and y.d.dtype == z.d.dtype == np.float32


def test_an_unwritten_gradient_is_float32_in_a_float_context():
    assert nn.Variable.from_numpy_array(X, need_grad=True).g.dtype == np.float32
    with float64_compute():
        assert nn.Variable.from_numpy_array(X, need_grad=True).g.dtype == np.float64
    assert nn.Variable.from_numpy_array(X.astype(np.int64)).g.dtype == np.float32


def test_float16_data_is_read_as_float32_too():
    x = nn.Variable.from_numpy_array(X.astype(np.float16))
    y = F.exp(x)
    y.forward()
    assert y.d.dtype == np.float32
    np.testing.assert_allclose(y.d, np.exp(X.astype(np.float16).astype(np.float32)), rtol=1e-6)


def test_the_double_context_keeps_each_inputs_precision():
    double = get_extension_context("cpu", type_config="double")
    x, h, loss, w = _step(X, double)
    assert h.d.dtype == loss.d.dtype == x.g.dtype == np.float64  # float32 W promotes
    np.testing.assert_allclose(h.d, X @ W.astype(np.float64), rtol=1e-12)
    x32, h32, _, _ = _step(X.astype(np.float32), double)
    assert h32.d.dtype == x32.g.dtype == np.float32


def test_float64_compute_builds_in_the_double_context_of_the_current_backend():
    before = nn.get_current_context()
    with float64_compute():
        ctx = nn.get_current_context()
        assert ctx.double and ctx.backend_name == before.backend_name
        x = nn.Variable.from_numpy_array(X)
        y = F.sin(x)
    assert nn.get_current_context() is before
    y.forward()  # a function keeps the context it was built in
    assert y.d.dtype == np.float64
    np.testing.assert_allclose(y.d, np.sin(X), rtol=1e-15)


def test_on_the_device_float64_data_computes_in_float32(on_device):
    x, h, loss, w = _step(X)
    assert x.d.dtype == np.float64
    assert h.d.dtype == loss.d.dtype == x.g.dtype == w.g.dtype == np.float32
    with float64_compute():
        assert nn.get_current_context().backend_name == "cudnn"
        y = F.sin(nn.Variable.from_numpy_array(X))
    y.forward()
    assert y.d.dtype == np.float64


@pytest.mark.parametrize("solver", ["Sgd", "Momentum", "Adam"])
def test_a_float64_parameter_is_updated_in_float32_as_nnabla(solver):
    """W.d = float64 data on a parameter: the solver computes in float32 and W
    holds float32 after the update (NNabla 1.39), its states too, and the
    step equals the one from float32 data."""
    import nablite.solvers as S
    results = []
    for w_data in (W.astype(np.float64), W):
        w = nn.Variable.from_numpy_array(np.zeros((3, 4), np.float32), need_grad=True)
        w.d = w_data  # float64 in the first run, before the solver makes its states
        s = getattr(S, solver)(0.1)
        s.set_parameters({"w": w})
        loss = F.sum(F.affine(nn.Variable.from_numpy_array(X.astype(np.float32)), w) ** 2)
        for _ in range(2):
            loss.forward()
            s.zero_grad()
            loss.backward()
            s.update()
        assert w.d.dtype == w.g.dtype == np.float32
        assert all(v.data.dtype == np.float32 for v in s.get_states()["w"].pstate.values())
        results.append(w.d.copy())
    np.testing.assert_array_equal(results[0], results[1])


def test_in_the_double_context_a_float64_parameter_stays_float64():
    import nablite.solvers as S
    with nn.context_scope(get_extension_context("cpu", type_config="double")):
        w = nn.Variable.from_numpy_array(W.astype(np.float64), need_grad=True)
        s = S.Sgd(0.1)
        s.set_parameters({"w": w})
        loss = F.sum(w ** 2)
    loss.forward()
    loss.backward()
    s.update()
    assert w.d.dtype == np.float64
    np.testing.assert_allclose(w.d, W * 0.8, rtol=1e-6)


def test_a_float64_root_of_reshape_seeds_backward_in_float32():
    x = nn.Variable.from_numpy_array(X, need_grad=True)
    r = F.reshape(x, (3, 2))  # float64, as NNabla's reshape passes it on
    r.forward()
    r.backward()
    assert r.d.dtype == np.float64 and x.g.dtype == np.float32
    np.testing.assert_array_equal(x.g, np.ones((2, 3)))


def test_what_a_half_function_writes_into_its_inputs_is_kept():
    """In a 'half' context a function computes on float16 copies; what it writes
    into an input (binary_connect's binarized weight, the running statistics)
    reaches the stored float32 array, so backward and the next step see it."""
    rng = np.random.RandomState(0)
    xd, wd = rng.randn(2, 4).astype(np.float32), rng.randn(4, 3).astype(np.float32)
    with nn.context_scope(get_extension_context("cpu", type_config="half")):
        x = nn.Variable.from_numpy_array(xd, need_grad=True)
        w = nn.Variable.from_numpy_array(wd, need_grad=True)
        wb = nn.Variable.from_numpy_array(np.zeros((4, 3), np.float32))
        y = F.binary_connect_affine(x, w, wb)
        h = nn.Variable.from_numpy_array(rng.randn(8, 3).astype(np.float32))
        mean = nn.Variable.from_numpy_array(np.zeros((1, 3), np.float32))
        var = nn.Variable.from_numpy_array(np.ones((1, 3), np.float32))
        one = nn.Variable.from_numpy_array(np.ones((1, 3), np.float32))
        zero = nn.Variable.from_numpy_array(np.zeros((1, 3), np.float32))
        z = F.batch_normalization(h, zero, one, mean, var, batch_stat=True)
    y.forward()
    z.forward()
    sign = np.where(wd > 0, 1.0, -1.0)
    assert wb.d.dtype == np.float32 and np.array_equal(wb.d, sign)
    x.grad.zero()
    y.backward(np.ones((2, 3), np.float32))
    np.testing.assert_allclose(x.g, np.ones((2, 3)) @ sign.T, rtol=1e-3)
    np.testing.assert_allclose(mean.d, 0.1 * h.d.mean(0, keepdims=True), rtol=2e-3, atol=1e-4)


def test_inq_layers_in_half_quantize_the_stored_weight_as_in_float():
    """INQ writes the fixed weights into its weight input; in 'half' that write
    reaches the stored array, so the gradient is the float one's."""
    rng = np.random.RandomState(0)
    xd, wd = rng.randn(2, 4).astype(np.float32), rng.randn(4, 3).astype(np.float32)
    out = {}
    for tc in ("float", "half"):
        with nn.context_scope(get_extension_context("cpu", type_config=tc)):
            x = nn.Variable.from_numpy_array(xd, need_grad=True)
            w = nn.Variable.from_numpy_array(wd, need_grad=True)
            ind = nn.Variable.from_numpy_array(np.zeros((4, 3), np.int32))
            y = F.inq_affine(x, w, ind, inq_iterations=(0,))
        y.forward()
        x.grad.zero()
        y.backward(np.ones((2, 3), np.float32))
        out[tc] = (w.d.copy(), x.g.copy())
    assert not np.array_equal(out["float"][0], wd)  # quantized in place
    np.testing.assert_allclose(out["half"][0], out["float"][0], rtol=1e-3)
    np.testing.assert_allclose(out["half"][1], out["float"][1], rtol=2e-3, atol=1e-3)
