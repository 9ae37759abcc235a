"""type_config='half': functions compute in float16, as NNabla's CPU functions
do in a 'half' context (float16 outputs and gradients; float32 parameters,
updated by the solvers in float32)."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF
import nablite.solvers as S
from nablite.ext_utils import get_extension_context


def _mlp(x, t):
    h = F.relu(PF.affine(x, 16, name="fc1"))
    y = PF.affine(h, 3, name="fc2")
    return F.mean(F.softmax_cross_entropy(y, t))


def _batch(seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(8, 5).astype(np.float32)
    return x, (x[:, :3].argmax(1)[:, None]).astype(np.int32)


@pytest.fixture
def half():
    return get_extension_context("cpu", type_config="half")


def test_half_context_says_so(half):
    assert half.backend[0] == "cpu:half" and half.half
    assert not get_extension_context("cpu").half


def test_outputs_and_gradients_are_float16_parameters_float32(half, fresh_parameters):
    """The dtypes NNabla 1.39 gives for the same graph in its 'half' CPU context."""
    x, t = _batch()
    with nn.context_scope(half):
        vx = nn.Variable.from_numpy_array(x)
        h = PF.affine(vx, 5, name="fc")
        y = F.relu(h)
        loss = F.mean(y)
    loss.forward()
    loss.backward()
    assert (h.d.dtype, y.d.dtype, loss.d.dtype) == (np.float16,) * 3
    for p in nn.get_parameters().values():
        assert p.d.dtype == np.float32 and p.g.dtype == np.float16
    assert vx.d.dtype == np.float32


def test_half_values_match_float32_to_float16_precision(half, fresh_parameters):
    x, t = _batch()
    vx, vt = nn.Variable.from_numpy_array(x), nn.Variable.from_numpy_array(t)
    loss32 = _mlp(vx, vt)
    loss32.forward()
    loss32.backward()
    want = {k: (p.d.copy(), p.g.copy()) for k, p in nn.get_parameters().items()}
    for p in nn.get_parameters().values():
        p.grad.zero()
    with nn.context_scope(half):
        loss16 = _mlp(vx, vt)  # the same parameters, read as float16
    loss16.forward()
    loss16.backward()
    assert loss16.d.dtype == np.float16
    np.testing.assert_allclose(float(loss16.d), float(loss32.d), rtol=5e-3)
    for k, p in nn.get_parameters().items():
        np.testing.assert_allclose(p.g.astype(np.float32), want[k][1], rtol=2e-2, atol=2e-3,
                                   err_msg=k)


def test_labels_stay_integers(half):
    with nn.context_scope(half):
        y = F.softmax_cross_entropy(nn.Variable.from_numpy_array(np.zeros((2, 3), np.float32)),
                                    nn.Variable.from_numpy_array(np.array([[0], [2]], np.int32)))
    y.forward()
    np.testing.assert_allclose(y.d.astype(np.float32), np.log(3.0) * np.ones((2, 1)), rtol=1e-3)


def test_training_in_half_with_dynamic_loss_scaling(half, fresh_parameters):
    """NNabla's mixed-precision recipe on the CPU: float16 compute, float32
    parameters, a loss scale; the loss falls and the parameters stay float32."""
    from nablite.experimental.mixed_precision_training import DynamicLossScalingUpdater
    x, t = _batch()
    vx, vt = nn.Variable.from_numpy_array(x), nn.Variable.from_numpy_array(t)
    with nn.context_scope(half):
        loss = _mlp(vx, vt)
    solver = S.Sgd(lr=0.5)
    solver.set_parameters(nn.get_parameters())
    updater = DynamicLossScalingUpdater(solver, loss, data_feeder=lambda: None, scale=8.0, N=10)
    loss.forward()
    first = float(loss.d)
    for _ in range(30):
        updater.update()
    loss.forward()
    assert float(loss.d) < 0.7 * first
    assert all(p.d.dtype == np.float32 for p in nn.get_parameters().values())


_DTYPES = """
import numpy as np
import {lib} as nn
import {lib}.functions as F
import {lib}.parametric_functions as PF
from {lib}.ext_utils import get_extension_context
nn.clear_parameters()
with nn.context_scope(get_extension_context("cpu", type_config="half")):
    x = nn.Variable.from_numpy_array(np.ones((4, 3), np.float32))
    h = F.tanh(PF.affine(x, 5, name="fc"))
    loss = F.mean(F.relu(h))
loss.forward()
loss.backward()
RESULT = [str(a.dtype) for a in (h.d, loss.d)] + sorted(
    f"{{k}}:{{p.d.dtype}}:{{p.g.dtype}}" for k, p in nn.get_parameters().items())
"""


def test_dtypes_as_nnabla():
    import os
    import sys
    sys.path.insert(0, os.path.dirname(__file__))
    from nnabla_parity import run_in_nnabla
    want = run_in_nnabla(_DTYPES.format(lib="nnabla"))
    if want is None:
        pytest.skip("NNabla 1.39 is not installed (tests/nnabla_parity.py)")
    scope = {}
    exec(_DTYPES.format(lib="nablite"), scope)
    assert scope["RESULT"] == want


GRAD_OPS = '''
from nnabla.ext_utils import get_extension_context
import nnabla.solvers as S
nn.set_default_context(get_extension_context("cpu", type_config="half"))
scale = 2.0 ** 14
OUT = {}
for op in ("scale_grad", "weight_decay", "clip_grad_by_norm", "check_inf_or_nan_grad"):
    nn.clear_parameters()  # a fresh model per operation: float16 gradients before it
    x = nn.Variable.from_numpy_array(np.full((1, 2), 1e-4, np.float32))
    loss = F.mul_scalar(F.sum(PF.affine(x, 1, name="fc", with_bias=False)), 1e-4)  # ~1e-8
    W = nn.get_parameters()["fc/affine/W"]
    s = S.Sgd(1.0)
    s.set_parameters(nn.get_parameters())
    loss.forward()
    s.zero_grad()
    loss.backward(scale)  # a scaled gradient, representable in float16
    before = str(W.g.dtype)
    {"scale_grad": lambda: s.scale_grad(1.0 / scale), "weight_decay": lambda: s.weight_decay(0.0),
     "clip_grad_by_norm": lambda: s.clip_grad_by_norm(1e9),
     "check_inf_or_nan_grad": lambda: s.check_inf_or_nan_grad()}[op]()
    OUT[op] = [before, str(W.g.dtype)]
    if op == "scale_grad":
        OUT["unscaled"] = W.g.copy()
nn.set_default_context(get_extension_context("cpu"))
nn.clear_parameters()
'''


def test_unscaling_float16_gradients_keeps_them_in_float32_as_nnabla(fresh_parameters):
    """scale_grad / weight_decay / clip_grad_by_norm leave float16 gradients in
    float32 (NNabla's): unscaling in float16 flushed ~1e-8 gradients to zero."""
    from nnabla_parity import check_same_source
    ns = {"nn": nn, "F": F, "PF": PF, "np": np}
    exec(GRAD_OPS.replace("from nnabla.", "from nablite.").replace("import nnabla.",
                                                                    "import nablite."), ns)
    out = ns["OUT"]
    np.testing.assert_allclose(out["unscaled"], 1e-8, rtol=1e-3)  # not 0
    assert out["scale_grad"] == ["float16", "float32"]
    assert out["check_inf_or_nan_grad"] == ["float16", "float16"]
    check_same_source(GRAD_OPS, rtol=1e-6, atol=0)


NO_HALF_KERNEL = '''
from nnabla.ext_utils import get_extension_context
nn.set_default_context(get_extension_context("cpu", type_config="half"))
OUT = {}
x = nn.Variable.from_numpy_array(np.array([[0.0, -20.0]], np.float32), need_grad=True)
t = nn.Variable.from_numpy_array(np.array([[0]], np.int32))
for name, make in [("softmax", lambda: F.softmax(x)), ("log_softmax", lambda: F.log_softmax(x)),
                   ("softmax_cross_entropy", lambda: F.softmax_cross_entropy(x, t)),
                   ("cumsum", lambda: F.cumsum(x, axis=1)),
                   ("cumprod", lambda: F.cumprod(x, axis=1)), ("relu", lambda: F.relu(x))]:
    y = make()
    y.forward()
    x.grad.zero()
    F.sum(y * y).backward() if name == "softmax" else y.backward(np.ones(y.shape, np.float32))
    OUT[name] = [str(y.d.dtype), np.abs(y.d.astype(np.float32)) + 0, str(x.g.dtype),
                 x.g.astype(np.float32)]
for name, make in [("identity", lambda: F.identity(x)), ("reshape", lambda: F.reshape(x, (2, 1))),
                   ("constant", lambda: F.constant(1 / 3, (2,))),
                   ("rand", lambda: F.rand(shape=(2,))), ("transpose", lambda: F.transpose(x, (1, 0)))]:
    y = make()
    y.forward()
    OUT[name + " dtype"] = str(y.d.dtype)
nn.set_default_context(get_extension_context("cpu"))
'''


def test_functions_without_a_float16_kernel_compute_in_float32_as_nnabla(fresh_parameters):
    """softmax, log_softmax, softmax_cross_entropy, cumsum, cumprod: NNabla has no
    float16 kernel for them, so in a 'half' context they give float32 (softmax's
    2e-9 survives); relu is float16."""
    from nnabla_parity import check_same_source
    mine, _ = check_same_source(NO_HALF_KERNEL, rtol=1e-6, atol=1e-8)
    for name in ("softmax", "log_softmax", "softmax_cross_entropy", "cumsum", "cumprod"):
        assert mine[name][0] == "float32", name
    assert mine["relu"][0] == "float16"
    # identity and reshape pass the input's dtype on, constant is float32, the rest float16
    assert [mine[k + " dtype"] for k in ("identity", "reshape", "constant", "rand",
                                         "transpose")] == ["float32"] * 3 + ["float16"] * 2
    np.testing.assert_allclose(mine["softmax"][1], [[1, 2.0611537e-09]], rtol=1e-6)


def test_a_loss_scale_beyond_float16_is_inf_without_a_warning(half, fresh_parameters):
    import warnings
    with nn.context_scope(half):
        x = nn.Variable.from_numpy_array(np.ones((2, 3), np.float32))
        loss = F.mean(PF.affine(x, 2, name="fc"))
    s = S.Sgd()
    s.set_parameters(nn.get_parameters())
    loss.forward()
    s.zero_grad()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NNabla prints nothing there
        loss.backward(2.0 ** 17)
    assert s.check_inf_or_nan_grad()


def test_overflows_inside_half_functions_raise_no_numpy_warning(half, fresh_parameters):
    """A loss scale that overflows float16 makes inf - inf inside the functions
    (here softmax cross-entropy's float32 fallback and affine's products); NNabla's
    kernels print nothing, and neither does nablite (the inf/nan is still found)."""
    import warnings
    with nn.context_scope(half):
        x = nn.Variable.from_numpy_array(np.random.RandomState(0).randn(4, 3))
        t = nn.Variable.from_numpy_array(np.array([[0], [1], [0], [1]]))
        loss = F.mean(F.softmax_cross_entropy(PF.affine(x, 2, name="fc"), t))
    s = S.Sgd(0.1)
    s.set_parameters(nn.get_parameters())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss.forward()
        s.zero_grad()
        loss.backward(1e30)
    assert s.check_inf_or_nan_grad()
    with warnings.catch_warnings():  # a float32 context still warns as NumPy does
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning):
            F.exp(nn.Variable.from_numpy_array(np.full(2, 1e4, np.float32))).forward()
