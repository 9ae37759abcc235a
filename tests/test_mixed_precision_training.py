"""DynamicLossScalingUpdater: scale growth after N good steps, retries on overflow,
gradient accumulation and weight decay, against hand-computed SGD and NNabla 1.39."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
import nablite.parametric_functions as PF
import nablite.solvers as S
from nablite.experimental.mixed_precision_training import (
    MAX_RETRIES, DynamicLossScalingUpdater)

from nnabla_parity import check_same_source


def _net():
    nn.clear_parameters()
    x = nn.Variable.from_numpy_array(np.ones((2, 3), np.float32))
    loss = F.mean(PF.affine(x, 2))          # d loss / d b = 0.5, d loss / d W = 0.5
    solver = S.Sgd(0.1)
    solver.set_parameters(nn.get_parameters())
    return x, loss, solver, nn.get_parameters()


def test_scale_grows_after_n_good_steps_and_updates_are_unscaled():
    x, loss, solver, params = _net()
    fed = []
    u = DynamicLossScalingUpdater(solver, loss, data_feeder=lambda: fed.append(1),
                                  scale=8.0, N=3)
    scales = []
    for _ in range(9):
        assert u.update() is True
        scales.append(u.scale)
    assert scales == [8.0] * 4 + [16.0] * 4 + [32.0]
    assert len(fed) == 9
    # the loss was scaled by 8 or 16 in backward, the step is plain SGD: 9 * 0.1 * 0.5
    np.testing.assert_allclose(params["affine/b"].d, [-0.45, -0.45], rtol=1e-6)
    np.testing.assert_allclose(params["affine/b"].g, [0.5, 0.5], rtol=1e-6)


def test_overflow_retries_with_smaller_scales_then_gives_up_unchanged():
    x, loss, solver, params = _net()
    fed = []
    u = DynamicLossScalingUpdater(solver, loss, data_feeder=lambda: fed.append(1), scale=8.0)
    x.d[0, 0] = np.nan
    before = {k: v.d.copy() for k, v in params.items()}
    assert u.update() is False
    assert len(fed) == MAX_RETRIES + 1
    assert u.scale == pytest.approx(8.0 / 2.0 ** (MAX_RETRIES + 1))
    for k, v in params.items():
        np.testing.assert_array_equal(v.d, before[k])


def test_a_transient_overflow_is_skipped_and_the_next_batch_used():
    x, loss, solver, params = _net()
    batches = iter([np.inf, 1.0])

    def feed():
        x.d[0, 0] = next(batches)

    u = DynamicLossScalingUpdater(solver, loss, data_feeder=feed, scale=4.0)
    assert u.update() is True
    assert u.scale == 2.0                     # halved once, for the bad batch
    np.testing.assert_allclose(params["affine/b"].d, [-0.05, -0.05], rtol=1e-6)


def test_accumulation_and_weight_decay():
    x, loss, solver, params = _net()
    params["affine/W"].d[...] = 1.0
    u = DynamicLossScalingUpdater(solver, loss, accum_grad=2, weight_decay=0.5)
    u.update()
    # two batches accumulate 2 * 0.5; weight decay adds 0.5 * W = 0.5
    np.testing.assert_allclose(params["affine/W"].g, np.full((3, 2), 1.5), rtol=1e-6)
    np.testing.assert_allclose(params["affine/W"].d, np.full((3, 2), 0.85), rtol=1e-6)
    np.testing.assert_allclose(params["affine/b"].d, [-0.1, -0.1], rtol=1e-6)


class _SumComm:
    """A two-process all_reduce, as seen from one process whose peer has the same grads."""
    def __init__(self):
        self.calls = []

    def all_reduce(self, data, division=False, inplace=True):
        self.calls.append((division, inplace))
        for nd in data:
            nd.data[...] *= 2


def test_communicator_reduces_the_given_grads_before_the_check():
    x, loss, solver, params = _net()
    comm = _SumComm()
    u = DynamicLossScalingUpdater(solver, loss, comm=comm,
                                  grads=[v.grad for v in params.values()])
    u.update()
    assert comm.calls == [(False, False)]
    np.testing.assert_allclose(params["affine/b"].d, [-0.1, -0.1], rtol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"scale": 0}, "scale must be a positive number, got 0"),
    ({"scaling_factor": -2.0}, "scaling_factor must be a positive number"),
    ({"N": 1.5}, "N must be a positive int, got 1.5"),
    ({"accum_grad": 0}, "accum_grad must be a positive int"),
])
def test_bad_arguments_name_the_argument(kwargs, message):
    x, loss, solver, params = _net()
    with pytest.raises(ValueError, match="DynamicLossScalingUpdater: " + message):
        DynamicLossScalingUpdater(solver, loss, **kwargs)


def test_data_feeder_must_be_callable():
    x, loss, solver, params = _net()
    with pytest.raises(TypeError, match="data_feeder must be callable"):
        DynamicLossScalingUpdater(solver, loss, data_feeder=3)


def dynamic_scaling_case():
    import nnabla.solvers as S
    from nnabla.experimental.mixed_precision_training import DynamicLossScalingUpdater
    nn.clear_parameters()
    x = nn.Variable.from_numpy_array(np.ones((4, 3), np.float32))
    y = F.mean(F.tanh(PF.affine(x, 2)) ** 2)
    solver = S.Adam(0.01)
    solver.set_parameters(nn.get_parameters())
    batches = [1.0, 2.0, np.inf, 0.5, np.nan, -1.0, 1.5, 0.25, 3.0]
    fed = []

    def feed():
        x.d = np.full((4, 3), batches[len(fed) % len(batches)], np.float32)
        x.d[0, 1] = 0.5
        fed.append(1)

    u = DynamicLossScalingUpdater(solver, y, data_feeder=feed, scale=4.0, N=2,
                                  accum_grad=2, weight_decay=1e-3)
    scales = []
    for _ in range(6):
        u.update()
        scales.append(np.float64(u.scale))
    params = nn.get_parameters()
    return {"scales": np.array(scales), "fed": np.array(len(fed)),
            "W": params["affine/W"].d, "b": params["affine/b"].d}


def test_same_steps_as_nnabla():
    check_same_source(dynamic_scaling_case, rtol=1e-5, atol=1e-6, dtypes=False)


# -- solvers in mixed precision: float16 gradients or parameters, float32 updates -----

MIXED_SOLVERS = [("Sgd", {"lr": 1e-4}), ("Momentum", {"lr": 0.01}), ("Adam", {"alpha": 1e-3}),
                 ("AdamW", {"alpha": 1e-3}), ("Lamb", {"eta": 1e-2}), ("Lars", {"lr": 0.1})]


def mixed_runs(solvers, param_dtype, S=None):
    """Three updates of each solver on two parameters of ``param_dtype`` whose
    gradients are float16 (small values that float16 arithmetic would lose).
    Its source also runs under NNabla (test_mixed_precision_like_nnabla)."""
    if S is None:
        import nnabla.solvers as S
    out = {}
    for name, kwargs in solvers:
        rng = np.random.RandomState(0)
        ps = {k: nn.Variable.from_numpy_array(rng.randn(*shape).astype(np.dtype(param_dtype)),
                                              need_grad=True)
              for k, shape in (("a", (3, 4)), ("b", (5,)))}
        s = getattr(S, name)(**kwargs)
        s.set_parameters(ps)
        for _ in range(3):
            s.zero_grad()
            for p in ps.values():
                p.g = (rng.randn(*p.shape) * 1e-3).astype(np.float16)
            s.weight_decay(1e-4)
            s.update()
        for k, p in ps.items():
            out[f"{name} {k}"] = p.d.copy()
            for sname, v in s.get_states()[k].pstate.items():
                out[f"{name} {k} {sname}"] = v.d.copy()
    return out


@pytest.mark.parametrize("param_dtype", [np.float32, np.float16])
def test_mixed_precision_updates_in_float32(param_dtype):
    got = mixed_runs(MIXED_SOLVERS, param_dtype, S)
    # the reference: the same gradients (float16 values) given as float32, on float32
    # parameters made from the same (possibly float16-rounded) values
    want = {}
    for name, kwargs in MIXED_SOLVERS:
        rng = np.random.RandomState(0)
        ps = {k: nn.Variable.from_numpy_array(
                  rng.randn(*shape).astype(param_dtype).astype(np.float32), need_grad=True)
              for k, shape in (("a", (3, 4)), ("b", (5,)))}
        s = getattr(S, name)(**kwargs)
        s.set_parameters(ps)
        for _ in range(3):
            s.zero_grad()
            for p in ps.values():
                p.g = (rng.randn(*p.shape) * 1e-3).astype(np.float16).astype(np.float32)
            s.weight_decay(1e-4)
            s.update()
        for k, p in ps.items():
            want[f"{name} {k}"] = p.d
            for sname, v in s.get_states()[k].pstate.items():
                want[f"{name} {k} {sname}"] = v.d
    assert got.keys() == want.keys()
    for key in want:
        assert got[key].dtype == np.float32, key  # master weights and states in float32
        np.testing.assert_allclose(got[key], want[key], rtol=2e-3, atol=1e-7, err_msg=key)


def test_mixed_precision_like_nnabla():
    """NNabla's CPU solvers also update float16 parameters and gradients in float32."""
    check_same_source(mixed_runs, rtol=1e-3, atol=1e-7,
                      solvers=[list(c) for c in MIXED_SOLVERS], param_dtype="float16")


@pytest.mark.parametrize("name, kwargs", [c for c in MIXED_SOLVERS if c[0] not in ("Lamb", "Lars")])
def test_mixed_precision_packs_float16_gradients_with_float32_parameters(name, kwargs):
    """Elementwise rules keep their one flat pass: a float16 gradient pack read as
    float32 once per update; the results are the per-parameter loop's."""
    def run(hook):
        rng = np.random.RandomState(2)
        ps = {k: nn.Variable.from_numpy_array(rng.randn(*shape).astype(np.float32),
                                              need_grad=True)
              for k, shape in (("a", (3, 4)), ("b", (5,)), ("c", (2, 3)))}
        s = getattr(S, name)(**kwargs)
        s.set_parameters(ps)
        for _ in range(4):
            s.zero_grad()
            for p in ps.values():
                p.g = (rng.randn(*p.shape) * 1e-2).astype(np.float16)
            s.weight_decay(1e-4)
            s.update(update_pre_hook=hook)
        return ps, s
    packed, s = run(None)
    loop, _ = run(lambda: None)  # a hook forces the per-parameter loop
    assert s._pack is not None and s._pack.g.dtype == np.float16
    assert s._pack.w.dtype == np.float32
    for k in packed:
        assert packed[k].d.dtype == np.float32 and packed[k].g.dtype == np.float16
        np.testing.assert_allclose(packed[k].d, loop[k].d, rtol=1e-6, atol=1e-7, err_msg=k)


def test_loss_scaled_steps_keep_the_pack_after_scale_grad_widens_the_gradients(
        fresh_parameters):
    """backward(scale) -> scale_grad(1/scale) -> update in a 'half' context: the
    gradients become float32 once (NNabla's scale_grad) and later float16 ones are
    written into those buffers, so the flat pack is built once, and its updates
    equal the per-parameter loop's."""
    from nablite.ext_utils import get_extension_context

    def run(hook):
        nn.clear_parameters()
        rng = np.random.RandomState(0)
        with nn.context_scope(get_extension_context("cpu", type_config="half")):
            x = nn.Variable.from_numpy_array(rng.randn(8, 5).astype(np.float32))
            t = nn.Variable.from_numpy_array(rng.randint(0, 3, (8, 1)))
            h = F.relu(PF.affine(x, 16, name="a"))
            loss = F.mean(F.softmax_cross_entropy(PF.affine(h, 3, name="b"), t))
            for p in nn.get_parameters().values():  # the same start in both runs
                p.d = rng.randn(*p.shape).astype(np.float32) * 0.3
            s = S.Adam(1e-3)
            s.set_parameters(nn.get_parameters())
            for _ in range(6):
                loss.forward()
                s.zero_grad()
                loss.backward(1024.0)
                s.scale_grad(1 / 1024.0)
                s.update(update_pre_hook=hook)
        return {k: v.d.copy() for k, v in nn.get_parameters().items()}, s
    packed, s = run(None)
    assert s._pack is not None and s._pack_builds == 1 and s._pack.g.dtype == np.float32
    loop, _ = run(lambda: None)
    for k in packed:
        np.testing.assert_allclose(packed[k], loop[k], rtol=1e-6, atol=1e-7, err_msg=k)
