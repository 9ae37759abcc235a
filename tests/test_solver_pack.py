"""Solvers update small parameters through one flat pack; the results must be
exactly those of the per-parameter loop, and everything NNabla users rely on
(skipped parameters, replaced arrays, shared states) must keep working."""
import numpy as np
import pytest

import nablite as nn
import nablite.solvers as S


def _params(seed=0, dtype=np.float32):
    rng = np.random.RandomState(seed)
    return {name: nn.Variable.from_numpy_array(rng.randn(*shape).astype(dtype), need_grad=True)
            for name, shape in (("a", (3, 4)), ("b", (4,)), ("c", (2, 2, 3)))}


def _run(make, steps, hook=None, skip=None, wd=0.0):
    params = _params()
    solver = make()
    solver.set_parameters(params)
    rng = np.random.RandomState(1)
    for i in range(steps):
        solver.zero_grad()
        for name, p in params.items():
            if skip is not None and skip(i, name):
                continue
            p.g = rng.randn(*p.shape).astype(np.float32)
        if wd:
            solver.weight_decay(wd)
        solver.update(update_pre_hook=hook)
    return params, solver


SOLVERS = [lambda: S.Sgd(0.1), lambda: S.Momentum(0.1), lambda: S.Adam(0.01),
           lambda: S.AdamW(0.01), lambda: S.RMSprop(0.01), lambda: S.AMSBound(0.01),
           lambda: S.Lion(0.01), lambda: S.Lamb(0.01), lambda: S.Lars(0.1)]


@pytest.mark.parametrize("make", SOLVERS)
def test_packed_updates_equal_the_per_parameter_loop(make):
    packed, s1 = _run(make, 5, wd=1e-3)
    loop, s2 = _run(make, 5, hook=lambda: None, wd=1e-3)   # a hook forces the plain loop
    for name in packed:
        np.testing.assert_allclose(packed[name].d, loop[name].d, rtol=1e-6, atol=1e-7)
    for key, st in s1.get_states().items():
        other = s2.get_states()[key]
        assert st.t == other.t == 5
        for k, v in st.pstate.items():
            np.testing.assert_allclose(v.d, other.pstate[k].d, rtol=1e-6, atol=1e-7)


def test_pack_is_used_and_parameters_become_views():
    params, solver = _run(lambda: S.Adam(0.01), 2)
    pack = solver._pack
    assert pack is not None
    assert all(np.shares_memory(p.d, pack.w) for p in params.values())


def test_skipped_parameter_keeps_state_and_step_count():
    skip = lambda i, name: name == "b" and i == 2   # noqa: E731
    params, solver = _run(lambda: S.Adam(0.01), 4, skip=skip)
    loop, ref = _run(lambda: S.Adam(0.01), 4, skip=skip, hook=lambda: None)
    states = solver.get_states()
    assert states["b"].t == 3 and states["a"].t == 4
    for name in params:
        np.testing.assert_allclose(params[name].d, loop[name].d, rtol=1e-6, atol=1e-7)


def test_replacing_a_parameter_array_is_noticed():
    params, solver = _run(lambda: S.Sgd(1.0), 1)
    params["a"].d = np.zeros((3, 4), np.float64)     # another dtype: a new array
    solver.zero_grad()
    for p in params.values():
        p.g = np.ones(p.shape, np.float32)
    solver.update()
    np.testing.assert_allclose(params["a"].d, -1.0)


def test_states_returned_by_get_states_share_memory_after_packing():
    params, solver = _run(lambda: S.Momentum(0.1), 2)
    m = solver.get_states()["c"].pstate["m"]
    m.d[...] = 0
    assert not solver._slots["c"].state["m"].any()
