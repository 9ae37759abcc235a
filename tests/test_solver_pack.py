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
    assert pack is not None and type(pack.w) is type(solver.xp.zeros(1))
    pack.w.fill(5.0)  # every parameter's newest copy is a view into the pack
    assert all((p.d == 5.0).all() for p in params.values())


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
    assert not solver.get_states()["c"].pstate["m"].d.any()
    before = {k: p.d.copy() for k, p in params.items()}
    m.d[...] = 1.0  # seen by the next update, on the CPU and on a device
    solver.zero_grad()
    for p in params.values():
        p.g = np.zeros(p.shape, np.float32)
    solver.update()  # m = 0.9 * m + lr * 0; w -= m
    np.testing.assert_allclose(params["c"].d, before["c"] - np.float32(0.9), rtol=1e-6)
    np.testing.assert_allclose(m.d, 0.9, rtol=1e-6)  # the same array, updated


# -- on the simulated device: states there, no copies in the step ----------------------

@pytest.fixture
def device(on_device):
    """The 'cudnn' context on the simulated device; counts host<->device copies
    (backend's transfers and the device module's asarray of host arrays)."""
    from nablite import _device_sim
    with _device_sim.count_transfers() as counts:
        yield _device_sim.xp, counts


def _device_steps(make, steps, xp=None, counts=None, read_between=False):
    """``steps`` of weight decay, clipping, scaling, the inf/NaN check and update
    on the gradients a backward would leave (on the solver's device). With
    ``counts``, each step's copies are checked: none but the check's one flag."""
    params = _params()
    solver = make()
    solver.set_parameters(params)
    rng = np.random.RandomState(1)
    for i in range(steps):
        solver.zero_grad()
        for p in params.values():
            g = rng.randn(*p.shape).astype(np.float32)
            if xp is None:
                p.g = g
            else:  # as backward leaves it: written into the device array
                p.grad._on(xp)[...] = xp.asarray(g)
        if read_between and i == 2:
            params["a"].d[0, 0] = 0.5  # a host edit of a parameter between steps
        if counts is not None and i > 0:  # the first step moves the parameters over
            counts.update(to_device=0, to_host=0)
        solver.weight_decay(1e-3)
        solver.clip_grad_by_norm(2.0)
        solver.scale_grad(0.5)
        assert not solver.check_inf_or_nan_grad()
        solver.update()
        if counts is not None and i > 0 and not (read_between and i == 2):
            assert counts == {"to_device": 0, "to_host": 1}, (i, counts)  # the check's flags
    return params, solver


@pytest.mark.parametrize("make", SOLVERS)
@pytest.mark.parametrize("read_between", [False, True])
def test_steps_on_the_device_equal_the_cpu_without_copies(device, make, read_between):
    from nablite import _device_sim
    from nablite.context import context_scope
    from nablite.ext_utils import get_extension_context
    xp, counts = device
    got, solver = _device_steps(make, 5, xp, counts, read_between)
    assert solver.xp is xp
    for slot in solver._slots.values():
        assert all(type(a) is _device_sim.DeviceArray for a in slot.state.values())
    assert (solver._pack is not None) is make().packable  # packed on the device too
    with context_scope(get_extension_context("cpu")):
        want, cpu = _device_steps(make, 5, read_between=read_between)
    for name in want:
        np.testing.assert_allclose(got[name].d, want[name].d, rtol=1e-6, atol=1e-7)
    for key, st in solver.get_states().items():
        for k, v in st.pstate.items():
            assert type(v.d) is np.ndarray  # get_states gives host arrays
            np.testing.assert_allclose(v.d, cpu.get_states()[key].pstate[k].d, rtol=1e-6,
                                       atol=1e-7)


def test_device_states_save_load_and_inf_checks(device, tmp_path):
    pytest.importorskip("h5py")
    xp, _ = device
    params, solver = _device_steps(lambda: S.Adam(0.01), 3, xp)
    path = str(tmp_path / "states.h5")
    solver.save_states(path)
    other = S.Adam(0.01)
    other.set_parameters(params)
    other.load_states(path)
    for key, st in solver.get_states().items():
        got = other._slots[key]
        assert got.t == st.t == 3
        for k, v in st.pstate.items():
            assert backend_type(got.state[k]) == "device"
            np.testing.assert_array_equal(got.state[k].get(), v.d)
    solver.zero_grad()
    for p in params.values():
        p.grad._set(xp.zeros(p.shape, np.float32))
    params["b"].grad._on(xp)[1] = np.inf
    assert solver.check_inf_grad() and solver.check_inf_or_nan_grad()
    assert not solver.check_nan_grad()


def backend_type(a):
    from nablite import backend
    return "device" if backend.is_device_array(a) else "host"


def test_device_training_keeps_one_pack_when_parameters_and_gradients_are_read(device):
    """A real backward on the device, with a parameter's .d and .g read on the host
    every step (monitoring): the pack is built once and its views stay the storage."""
    import nablite.functions as F
    import nablite.parametric_functions as PF
    xp, counts = device
    nn.clear_parameters()
    nn.seed(1)
    x, t = nn.Variable((4, 3)), nn.Variable((4, 1))
    loss = F.mean(F.softmax_cross_entropy(PF.affine(F.tanh(PF.affine(x, 5, name="l1")), 2,
                                                    name="l2"), t))
    params = nn.get_parameters()
    solver = S.Adam(0.01)
    solver.set_parameters(params)
    rng = np.random.RandomState(0)
    seen = []
    for _ in range(6):
        x.d, t.d = rng.randn(4, 3).astype(np.float32), rng.randint(0, 2, (4, 1))
        loss.forward()
        solver.zero_grad()
        loss.backward()
        seen.append((params["l1/affine/W"].d.copy(), params["l2/affine/b"].g.copy()))
        solver.weight_decay(1e-4)
        solver.update()
    assert solver._pack is not None and solver._pack_builds == 1
    for (slot, data, grad, wv, gv) in solver._pack.views:
        assert data._arr is wv and grad._arr is gv  # the device views hold the newest
    nn.clear_parameters()
    assert all(np.isfinite(w).all() and np.isfinite(g).all() for w, g in seen)


def test_device_states_from_get_states_are_the_solvers(device, tmp_path):
    """On a device get_states' Variables share the solver's states as on the CPU:
    an in-place edit of .d, or an assignment to a Variable dropped at once, is what
    the next update, get_states or save_states sees."""
    xp, counts = device
    params, solver = _device_steps(lambda: S.Adam(0.01), 2, xp)
    for st in solver.get_states().values():  # the Variables are freed after the loop
        for v in st.pstate.values():
            v.d = 0.25
    for key, st in solver.get_states().items():
        for name, v in st.pstate.items():
            assert type(solver._slots[key].state[name]) is type(xp.zeros(1))
            np.testing.assert_array_equal(v.d, 0.25, err_msg=f"{key} {name}")
    kept = solver.get_states()["a"].pstate["mean"]
    kept.d[...] = 0.5  # in place, on the host copy
    records = solver._state_records()  # what save_states writes
    np.testing.assert_array_equal(records["a"][1]["mean"], 0.5)
    assert type(kept._data._arr) is type(xp.zeros(1))  # the device copy is the newest again
