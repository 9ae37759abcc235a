"""nn.recompute with functions whose forward draws random numbers or updates
state: their outputs are kept instead of computed again, so backward sees the
forward's dropout mask and running statistics move once per forward."""
import contextlib

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.initializer as I
import nablite.parametric_functions as PF


def _param(name, shape, init):
    return nn.parameter.get_parameter_or_create(name, shape, init, need_grad=True)


def _step(build, recompute, seed=0):
    nn.clear_parameters()
    nn.seed(seed)
    x = nn.Variable.from_numpy_array(np.random.RandomState(1).rand(8, 3, 4, 4),
                                     need_grad=True)
    with nn.recompute() if recompute else contextlib.nullcontext():
        h = F.tanh(build(x))
    y = F.sum(F.tanh(h * 2))
    y.forward(clear_no_need_grad=True)
    y.backward(clear_buffer=True)
    state = {k: v.d.copy() for k, v in nn.get_parameters(grad_only=False).items()}
    return float(y.d), x.g.copy(), state, h


@pytest.mark.parametrize("name, build", [
    ("dropout", lambda x: F.dropout(x, 0.5)),
    ("batch_normalization", lambda x: PF.batch_normalization(x, name="bn")),
    ("fused_batch_normalization", lambda x: PF.fused_batch_normalization(x, name="fbn")),
    ("mean_subtraction", lambda x: PF.mean_subtraction(x, name="ms")),
    ("random_flip", lambda x: F.random_flip(x, axes=[3])),
    ("fused_convolution", lambda x: F.fused_convolution(
        x, _param("w", (4, 3, 3, 3), I.NormalInitializer(0.5)), None,
        *[_param(n, (1, 4, 1, 1), I.ConstantInitializer(c))
          for n, c in (("beta", 0), ("gamma", 1), ("mean", 0), ("var", 1))], pad=(1, 1))),
])
def test_same_step_with_and_without_recompute(name, build):
    loss, gx, state, _ = _step(build, False)
    loss_r, gx_r, state_r, h = _step(build, True)
    assert loss_r == pytest.approx(loss, rel=1e-6)
    np.testing.assert_allclose(gx_r, gx, rtol=1e-5, atol=1e-7, err_msg=name)
    assert state_r.keys() == state.keys()
    for k in state:
        np.testing.assert_allclose(state_r[k], state[k], rtol=1e-6, err_msg=k)
    assert h.recompute        # the tanh after it is still recomputed


def test_outputs_of_random_and_stateful_functions_are_kept():
    x = nn.Variable((2, 3), need_grad=True)
    with nn.recompute():
        kept = [F.dropout(x, 0.5), F.batch_normalization(
            x, nn.Variable((1, 3)), nn.Variable((1, 3)), nn.Variable((1, 3)),
            nn.Variable((1, 3)), batch_stat=True)]
        recomputed = [F.tanh(x), F.batch_normalization(
            x, nn.Variable((1, 3)), nn.Variable((1, 3)), nn.Variable((1, 3)),
            nn.Variable((1, 3)), batch_stat=False)]
    assert [v.recompute for v in kept] == [False, False]
    assert [v.recompute for v in recomputed] == [True, True]
    d = F.dropout(x, 0.5)
    d.recompute = True        # asked by hand: still kept, the mask must stay the forward's
    assert not d.recompute
