"""Solvers: each rule vs a direct NumPy transcription of solvers.md §3, plus the
bookkeeping of the Solver base (lazy zero_grad, weight decay, registration, states)."""
import json
import os

import numpy as np
import pytest

import nablite as nn
import nablite.solvers as S
from nnabla_parity import check_same_source

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def f32(x):
    return float(np.float32(x))


def norm(a):
    return np.sqrt(np.sum(a * a))


# -- references: one function per rule, float64, states in a dict -------------------
def ref_sgd(w, g, s, t, lr, wdecay, lr0, **_):
    return w - lr * g


def ref_sgdw(w, g, s, t, lr, momentum, wdecay, lr0, **_):
    s["m"] = momentum * s["m"] + lr * g
    return w - s["m"] - (lr / lr0) * wdecay * w


def ref_momentum(w, g, s, t, lr, momentum, wdecay, lr0, **_):
    s["m"] = momentum * s["m"] + lr * g
    return w - s["m"]


def ref_lars(w, g, s, t, lr, momentum, coefficient, eps, wdecay, lr0, **_):
    gn, wn = norm(g), norm(w)
    x = gn + wdecay * wn
    x = x + eps if x < eps else x
    local = lr if wn < eps else lr * coefficient * wn / x
    s["v"] = momentum * s["v"] + local * (g + wdecay * w)
    return w - s["v"]


def ref_nesterov(w, g, s, t, lr, momentum, wdecay, lr0, **_):
    prev = s["m"]
    s["m"] = momentum * s["m"] - lr * g
    return w - momentum * prev + (1 + momentum) * s["m"]


def ref_adadelta(w, g, s, t, lr, decay, eps, **_):
    s["e_sqr_grad"] = decay * s["e_sqr_grad"] + (1 - decay) * g * g
    delta = np.sqrt((s["e_sqr_delta"] + eps) / (s["e_sqr_grad"] + eps)) * g
    s["e_sqr_delta"] = decay * s["e_sqr_delta"] + (1 - decay) * delta * delta
    return w - lr * delta


def ref_adagrad(w, g, s, t, lr, eps, **_):
    s["v"] = s["v"] + g * g
    return w - lr * g / (np.sqrt(s["v"]) + eps)


def ref_adabelief(w, g, s, t, alpha, beta1, beta2, eps, wd, amsgrad, weight_decouple,
                  fixed_decay, rectify, wdecay, lr0, **_):
    s["mean"] = beta1 * s["mean"] + (1 - beta1) * g
    s["var"] = beta2 * s["var"] + (1 - beta2) * (g - s["mean"]) ** 2
    if weight_decouple:
        w = w - w * (wdecay if fixed_decay else wdecay * alpha)
    if amsgrad:
        s["s_max"] = np.maximum(s["s_max"], s["var"]) + eps
        s_hat = s["s_max"]
    else:
        s["var"] = s["var"] + eps
        s_hat = s["var"]
    r = 1.0
    if rectify:
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
        if rho_t <= 4:
            return w - alpha * s["mean"]
        r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    alpha_t = alpha * r / (1 - beta1 ** t)
    return w - alpha_t * s["mean"] / (np.sqrt(s_hat) / np.sqrt(1 - beta2 ** t) + eps)


def ref_rmsprop(w, g, s, t, lr, decay, eps, **_):
    s["v"] = decay * s["v"] + (1 - decay) * g * g
    return w - lr * g / (np.sqrt(s["v"]) + eps)


def ref_rmspropgraves(w, g, s, t, lr, decay, momentum, eps, **_):
    s["n"] = decay * s["n"] + (1 - decay) * g * g
    s["g"] = decay * s["g"] + (1 - decay) * g
    s["d"] = momentum * s["d"] - lr * g / np.sqrt(s["n"] - s["g"] ** 2 + eps)
    return w + s["d"]


def _adam_moments(s, g, beta1, beta2, m="mean", v="var"):
    s[m] = beta1 * s[m] + (1 - beta1) * g
    s[v] = beta2 * s[v] + (1 - beta2) * g * g


def ref_adam(w, g, s, t, alpha, beta1, beta2, eps, **_):
    _adam_moments(s, g, beta1, beta2)
    alpha_t = alpha * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return w - alpha_t * s["mean"] / (np.sqrt(s["var"]) + eps)


def ref_adamw(w, g, s, t, alpha, beta1, beta2, eps, wd, wdecay, lr0, **_):
    _adam_moments(s, g, beta1, beta2)
    alpha_t = alpha * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return w - alpha_t * s["mean"] / (np.sqrt(s["var"]) + eps) - (alpha / lr0) * wdecay * w


def ref_adabound(w, g, s, t, alpha, beta1, beta2, eps, final_lr, gamma, wdecay, lr0, **_):
    _adam_moments(s, g, beta1, beta2)
    alpha_t = alpha * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    f = final_lr * alpha / lr0
    lo, hi = f * (1 - 1 / (gamma * t + 1)), f * (1 + 1 / (gamma * t))
    return w - np.clip(alpha_t / (np.sqrt(s["var"]) + eps), lo, hi) * s["mean"]


def ref_adamax(w, g, s, t, alpha, beta1, beta2, eps, **_):
    s["m"] = beta1 * s["m"] + (1 - beta1) * g
    s["u"] = np.maximum(beta2 * s["u"], np.abs(g))
    return w - alpha / (1 - beta1 ** t) * s["m"] / (s["u"] + eps)


def ref_amsgrad(w, g, s, t, alpha, beta1, beta2, eps, bias_correction, **_):
    _adam_moments(s, g, beta1, beta2, "m", "v")
    s["v_hat"] = np.maximum(s["v_hat"], s["v"])
    a = alpha * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) if bias_correction else alpha
    return w - a * s["m"] / (np.sqrt(s["v_hat"]) + eps)


def ref_amsbound(w, g, s, t, alpha, beta1, beta2, eps, final_lr, gamma, bias_correction,
                 wdecay, lr0, **_):
    _adam_moments(s, g, beta1, beta2, "m", "v")
    s["v_hat"] = np.maximum(s["v_hat"], s["v"])
    a = alpha * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) if bias_correction else alpha
    f = final_lr * alpha / lr0
    lo, hi = f * (1 - 1 / (gamma * t + 1)), f * (1 + t / gamma)
    return w - np.clip(a / (np.sqrt(s["v_hat"]) + eps), lo, hi) * s["m"]


def ref_lamb(w, g, s, t, eta, beta1, beta2, gamma_l, gamma_u, eps, bias_correction, wdecay, lr0, **_):
    _adam_moments(s, g, beta1, beta2)
    c1, c2 = (1 - beta1 ** t, 1 - beta2 ** t) if bias_correction else (1, 1)
    r = (s["mean"] / c1) / (np.sqrt(s["var"] / c2) + eps) + wdecay * w
    phi = np.clip(norm(w), gamma_l, gamma_u)
    ratio = phi / norm(r) if norm(r) > eps else 1.0
    return w - eta * ratio * r


def ref_lion(w, g, s, t, lr, beta1, beta2, wdecay, lr0, **_):
    u = np.sign(beta1 * s["m"] + (1 - beta1) * g)
    s["m"] = beta2 * s["m"] + (1 - beta2) * g
    return w - lr * (u + wdecay * w)


#        solver class,  kwargs,  reference,  state names
CASES = [
    (S.Sgd, dict(lr=0.1), ref_sgd),
    (S.SgdW, dict(lr=0.1, momentum=0.8, wd=0.01), ref_sgdw),
    (S.Momentum, dict(lr=0.1, momentum=0.8), ref_momentum),
    (S.Lars, dict(lr=0.1, momentum=0.8, coefficient=0.01, eps=1e-6), ref_lars),
    (S.Nesterov, dict(lr=0.1, momentum=0.8), ref_nesterov),
    (S.Adadelta, dict(lr=1.0, decay=0.9, eps=1e-6), ref_adadelta),
    (S.Adagrad, dict(lr=0.1, eps=1e-8), ref_adagrad),
    (S.AdaBelief, dict(alpha=0.01), ref_adabelief),
    (S.AdaBelief, dict(alpha=0.01, wd=0.1, amsgrad=True, weight_decouple=True), ref_adabelief),
    (S.AdaBelief, dict(alpha=0.01, wd=0.1, weight_decouple=True, fixed_decay=True,
                       rectify=True, beta2=0.5), ref_adabelief),
    (S.AdaBelief, dict(alpha=0.01, rectify=True), ref_adabelief),
    (S.RMSprop, dict(lr=0.01, decay=0.9, eps=1e-8), ref_rmsprop),
    (S.RMSpropGraves, dict(lr=0.01, decay=0.9, momentum=0.8, eps=1e-4), ref_rmspropgraves),
    (S.Adam, dict(alpha=0.01), ref_adam),
    (S.AdamW, dict(alpha=0.01, wd=0.1), ref_adamw),
    (S.AdaBound, dict(alpha=0.01, final_lr=0.1, gamma=0.01), ref_adabound),
    (S.Adamax, dict(alpha=0.01), ref_adamax),
    (S.AMSGRAD, dict(alpha=0.01), ref_amsgrad),
    (S.AMSGRAD, dict(alpha=0.01, bias_correction=True), ref_amsgrad),
    (S.AMSBound, dict(alpha=0.01, final_lr=0.1, gamma=0.01), ref_amsbound),
    (S.AMSBound, dict(alpha=0.01, bias_correction=True), ref_amsbound),
    (S.Lamb, dict(eta=0.01), ref_lamb),
    (S.Lamb, dict(eta=0.01, bias_correction=True, gamma_l=0.1, gamma_u=5.0), ref_lamb),
    (S.Lion, dict(lr=0.01), ref_lion),
]


def _defaults(cls):
    import inspect
    return {k: p.default for k, p in inspect.signature(cls).parameters.items()}


def run_reference(cls, kwargs, ref, w0, grads, decays, lr_scale=1.0):
    """Apply ``ref`` step by step; ``decays[i]`` is weight_decay's rate at step i."""
    hyper = {k: f32(v) if not isinstance(v, bool) else v for k, v in
             {**_defaults(cls), **kwargs}.items()}
    solver = cls(**kwargs)
    lr_name = next(iter(hyper))  # the first argument is the learning rate
    lr0 = hyper[lr_name]
    hyper[lr_name] = f32(lr0 * lr_scale)
    state = {name: np.zeros_like(w0) for name in solver._init_state(w0)}
    w = w0.astype(np.float64)
    for t, (g, rate) in enumerate(zip(grads, decays), start=1):
        g = g.astype(np.float64)
        fused_default = hyper.get("wd", 0.0) if solver._decay_arg else 0.0
        if solver.weight_decay_is_fused():
            decay = rate if rate is not None else fused_default
        else:
            decay = 0.0
            if rate:
                g = g + rate * w
        w = ref(w, g, state, t, **hyper, wdecay=decay, lr0=lr0)
    return w, state


def solver_runs(cases, S=None, solvers=None):
    """Each (solver name, kwargs, per-step decays) case: four halved-rate steps on one
    (3, 4) parameter. Written once: test_rule_matches_reference calls it here (with
    nablite's solvers, keeping each solver in ``solvers``), and its source runs under
    NNabla and under nablite (nnabla_parity.check_same_source), so it sees only nn,
    np and its arguments."""
    if S is None:
        import nnabla.solvers as S
    out = {}
    for name, kwargs, decays in cases:
        rng = np.random.RandomState(0)
        w0 = rng.randn(3, 4).astype(np.float32)
        grads = [rng.randn(3, 4).astype(np.float32) for _ in range(4)]
        p = nn.Variable.from_numpy_array(w0.copy(), need_grad=True)
        s = getattr(S, name)(**kwargs)
        s.set_parameters({"w": p})
        s.set_learning_rate(s.learning_rate() * 0.5)
        for g, rate in zip(grads, decays):
            s.zero_grad()
            p.g = g
            if rate is not None:
                s.weight_decay(rate)
            s.update()
        key = f"{name}({kwargs}) decays={decays}"
        out[key] = p.d.ravel()
        if solvers is not None:
            solvers[key] = s
    return out


@pytest.mark.parametrize("cls,kwargs,ref", CASES, ids=lambda c: getattr(c, "__name__", ""))
@pytest.mark.parametrize("decays", [[None] * 4, [0.05, None, 0.1, 0.0]])
def test_rule_matches_reference(cls, kwargs, ref, decays):
    solvers = {}
    (got,) = solver_runs([(cls.__name__, kwargs, decays)], S, solvers).values()
    (solver,) = solvers.values()
    rng = np.random.RandomState(0)  # the draws solver_runs makes
    w0 = rng.randn(3, 4).astype(np.float32)
    grads = [rng.randn(3, 4).astype(np.float32) for _ in range(4)]
    want_w, want_state = run_reference(cls, kwargs, ref, w0, grads, decays, lr_scale=0.5)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want_w.ravel(), rtol=2e-5, atol=2e-6)
    st = solver.get_states()["w"]
    assert st.t == 4 and set(st.pstate) == set(want_state)
    for name, v in st.pstate.items():
        np.testing.assert_allclose(v.d, want_state[name], rtol=2e-5, atol=2e-6, err_msg=name)


def test_names_info_and_learning_rate():
    s = S.Adam(alpha=0.001)
    assert s.name == "Adam" and S.AMSGRAD().name == "AMSGRAD"
    assert s.info == {"alpha": f32(0.001), "beta1": f32(0.9), "beta2": f32(0.999), "eps": f32(1e-8)}
    assert s.learning_rate() == f32(0.001)
    s.set_learning_rate(0.1)
    assert s.learning_rate() == f32(0.1) and s.info["alpha"] == f32(0.001)
    assert S.AdaBelief().info["amsgrad"] is False
    fused = {c.__name__ for c in [S.SgdW, S.Lars, S.AdamW, S.Lamb, S.Lion]}
    for cls in [S.Sgd, S.SgdW, S.Momentum, S.Lars, S.Nesterov, S.Adadelta, S.Adagrad,
                S.AdaBelief, S.RMSprop, S.RMSpropGraves, S.Adam, S.AdamW, S.AdaBound,
                S.Adamax, S.AMSGRAD, S.AMSBound, S.Lamb, S.Lion]:
        assert cls().weight_decay_is_fused() == (cls.__name__ in fused), cls.__name__
    assert S.AdaBelief(weight_decouple=True).weight_decay_is_fused()
    with pytest.raises(RuntimeError, match="set_parameters"):
        S.Sgd().setup({})


def _param(value, grad=None):
    p = nn.Variable.from_numpy_array(np.array(value, np.float32), need_grad=True)
    if grad is not None:
        p.g = np.array(grad, np.float32)
    return p


def test_update_skips_lazily_zeroed_grads():
    a, b = _param([1.0, 2.0]), _param([3.0])
    s = S.Momentum(lr=0.1, momentum=0.9)
    s.set_parameters({"a": a, "b": b})
    s.zero_grad()
    a.g = [1.0, 1.0]
    s.update()
    np.testing.assert_allclose(a.d, [0.9, 1.9])
    np.testing.assert_allclose(b.d, [3.0])
    st = s.get_states()
    assert st["a"].t == 1 and st["b"].t == 0
    assert not st["b"].pstate["m"].d.any()
    s.zero_grad()
    s.update()  # nothing written: nothing moves, no step counted
    assert s.get_states()["a"].t == 1
    np.testing.assert_allclose(a.d, [0.9, 1.9])


def test_backward_after_zero_grad_is_updated():
    x = _param([1.0, -2.0])
    y = nn.functions.mul2(x, x)
    s = S.Sgd(lr=0.25)
    s.set_parameters({"x": x})
    s.zero_grad()
    y.forward()
    y.backward(np.ones(2, np.float32))
    s.update()
    np.testing.assert_allclose(x.d, [0.5, -1.0])


def test_weight_decay_unfused_adds_to_written_grads_only():
    a, b = _param([2.0], [1.0]), _param([4.0])
    s = S.Sgd(lr=1.0)
    s.set_parameters({"a": a, "b": b})
    b.grad.zero()
    s.weight_decay(0.5)
    np.testing.assert_allclose(a.g, [2.0])
    assert b.grad.zeroing
    s.weight_decay(0)  # a no-op
    np.testing.assert_allclose(a.g, [2.0])


def test_weight_decay_fused_applies_to_next_update_only():
    p = _param([1.0], [0.0])
    s = S.AdamW(alpha=0.1, wd=0.0)
    s.set_parameters({"p": p})
    s.weight_decay(0.5)
    np.testing.assert_allclose(p.g, [0.0])  # the gradient is left alone
    s.update()
    np.testing.assert_allclose(p.d, [0.5], rtol=1e-6)  # w -= (alpha/alpha0) * 0.5 * w
    p.g = [0.0]
    s.update()  # the rate went back to wd=0
    np.testing.assert_allclose(p.d, [0.5], rtol=1e-6)


def test_clip_scale_and_checks():
    a, b, c = _param([0.0, 0.0], [3.0, 4.0]), _param([0.0], [0.5]), _param([0.0])
    s = S.Sgd()
    s.set_parameters({"a": a, "b": b, "c": c})
    c.grad.zero()
    s.clip_grad_by_norm(1.0)
    np.testing.assert_allclose(a.g, [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(b.g, [0.5])  # norm below the threshold: unchanged
    s.scale_grad(2.0)
    np.testing.assert_allclose(a.g, [1.2, 1.6], rtol=1e-6)
    assert not s.check_inf_grad() and not s.check_nan_grad() and not s.check_inf_or_nan_grad()
    b.g = [np.inf]
    assert s.check_inf_grad() and s.check_inf_or_nan_grad() and not s.check_nan_grad()
    b.g = [np.nan]
    assert s.check_nan_grad() and s.check_inf_or_nan_grad() and not s.check_inf_grad()
    assert c.grad.zeroing


def test_hooks_run_around_each_written_parameter():
    a, b = _param([1.0], [1.0]), _param([1.0])
    s = S.Sgd()
    s.set_parameters({"a": a, "b": b})
    b.grad.zero()
    calls = []
    S.set_solver_pre_hook("k", lambda: calls.append("global_pre"))
    try:
        s.update(lambda: calls.append("pre"), lambda: calls.append("post"))
    finally:
        S.unset_solver_pre_hook("k")
    assert calls == ["global_pre", "pre", "post"]


def test_set_parameters_reset_and_retain_state():
    a, b = _param([1.0], [1.0]), _param([1.0, 1.0], [1.0, 1.0])
    s = S.Momentum(lr=0.1)
    s.set_parameters({"a": a})
    s.update()
    assert s.get_states()["a"].t == 1
    a2 = _param([5.0])
    s.set_parameters({"a": a2, "b": b}, reset=False, retain_state=True)
    assert s.get_parameters()["a"] is a  # the first registered Variable stays
    assert s.get_states()["a"].t == 1 and list(s.get_parameters()) == ["a", "b"]
    s.set_parameters({"a": a2}, reset=False)  # same key without retain_state: zeroed
    assert s.get_states()["a"].t == 0 and not s.get_states()["a"].pstate["m"].d.any()
    with pytest.raises(ValueError, match="retain_state"):
        s.set_parameters({"b": _param([1.0])}, reset=False, retain_state=True)
    s.set_parameters({"b": b})  # reset=True drops "a"
    assert list(s.get_parameters()) == ["b"]
    s.remove_parameters(["b"])
    assert not s.get_parameters()
    s.set_parameters({"a": a})
    s.clear_parameters()
    assert not s.get_states()


def test_states_share_memory_and_set_states_validates():
    p = _param([1.0, 2.0], [1.0, 1.0])
    s = S.Adam()
    s.set_parameters({"p": p})
    s.update()
    st = s.get_states()["p"]
    st.pstate["mean"].d[...] = 7.0  # get_states shares the solver's arrays
    assert (s.get_states()["p"].pstate["mean"].d == 7.0).all()
    new = S.SolverState()
    new.t = 5
    new.pstate = {"mean": np.ones(2, np.float32), "var": np.full(2, 2.0, np.float32)}
    s.set_states({"p": new})
    got = s.get_states()["p"]
    assert got.t == 5 and (got.pstate["var"].d == 2.0).all()
    with pytest.raises(ValueError, match="first"):
        s.set_states({"q": new})
    bad = S.SolverState()
    bad.pstate = {"m": np.ones(2, np.float32)}
    with pytest.raises(ValueError, match="expects"):
        s.set_states({"p": bad})
    assert s.get_states()["p"].t == 5  # unchanged by the failed calls


@pytest.mark.host_context  # on a device the states are copied there (the docstring)
def test_set_states_adopts_the_given_variables_arrays():
    """As NNabla: the state Variables given to set_states are the solver's
    states from then on (writes reach the solver, updates are seen in them)."""
    p = _param([1.0, 1.0, 1.0], [0.5, 0.5, 0.5])
    s = S.Adam(0.1)
    s.set_parameters({"p": p})
    st = S.SolverState()
    st.t = 0
    st.pstate = {"mean": nn.Variable((3,)), "var": nn.Variable((3,))}
    s.set_states({"p": st})
    s.update()
    np.testing.assert_allclose(st.pstate["mean"].d, 0.05, rtol=1e-5)
    st.pstate["mean"].d = 100.0
    assert (s.get_states()["p"].pstate["mean"].d == 100.0).all()


@pytest.mark.parametrize("ext", [".h5", ".protobuf"])
def test_states_round_trip(tmp_path, ext):
    pytest.importorskip("h5py") if ext == ".h5" else None
    ps = {"net/a/W": _param(np.ones((2, 3))), "net/b": _param([1.0])}
    s = S.Adam()
    s.set_parameters(ps)
    for i in range(3):
        for p in ps.values():
            p.g = np.full(p.shape, i + 1.0, np.float32)
        s.update()
    path = str(tmp_path / ("states" + ext))
    s.save_states(path)
    s2 = S.Adam()
    s2.set_parameters(ps)
    s2.load_states(path)
    for key, st in s.get_states().items():
        got = s2.get_states()[key]
        assert got.t == st.t == 3
        for name in st.pstate:
            np.testing.assert_array_equal(got.pstate[name].d, st.pstate[name].d)


def test_states_text_and_proto_messages(tmp_path):
    from nablite import nnabla_pb2
    from nablite._nnp.proto import to_text
    p = _param([1.0, 2.0], [0.5, 0.5])
    s = S.Momentum()
    s.set_parameters({"p": p})
    s.update()
    opt = nnabla_pb2.Optimizer()
    s.set_states_to_protobuf(opt)
    path = tmp_path / "states.nntxt"
    path.write_text(to_text(opt))
    s2 = S.Momentum()
    s2.set_parameters({"p": p})
    s2.load_states(str(path))
    np.testing.assert_array_equal(s2.get_states()["p"].pstate["m"].d, s.get_states()["p"].pstate["m"].d)
    s3 = S.Momentum()
    s3.set_parameters({"p": p})
    s3.set_states_from_protobuf(opt)
    assert s3.get_states()["p"].t == 1
    with pytest.raises(ValueError, match="extension"):
        s.save_states(str(tmp_path / "x.txt"))
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        s.load_states(str(tmp_path / "missing.h5"))


def _fixture(name):
    path = os.path.join(FIXTURES, name)
    if not os.path.exists(path):
        pytest.skip(f"fixture {name} is absent")
    return path


def _adam_fixture_setup():
    rec = json.load(open(_fixture("nnabla_adam_states.json")))
    shapes = {k: tuple(st["pstate"]["mean"]["shape"]) for k, st in rec["states"].items()}
    params = {k: _param(np.zeros(shapes[k])) for k in rec["param_order"]}
    return rec, params


@pytest.mark.parametrize("name", ["nnabla_adam_states.h5", "nnabla_adam_states.protobuf"])
def test_load_states_written_by_nnabla(name):
    if name.endswith(".h5"):
        pytest.importorskip("h5py")
    rec, params = _adam_fixture_setup()
    s = S.Adam(alpha=rec["alpha"])
    s.set_parameters(params)
    s.load_states(_fixture(name))
    for key, st in rec["states"].items():
        got = s.get_states()[key]
        assert got.t == st["t"]
        for n, arr in st["pstate"].items():
            np.testing.assert_allclose(got.pstate[n].d.ravel(), arr["values"], rtol=1e-7)


def test_adam_matches_nnabla_run():
    """Replays the fixture's two Adam steps from the parameters NNabla saved."""
    pytest.importorskip("h5py")
    rec = json.load(open(_fixture("nnabla_adam_states.json")))
    nn.clear_parameters()
    nn.load_parameters(_fixture("nnabla_params.h5"))
    params = nn.get_parameters()
    assert list(params) == rec["param_order"]
    s = S.Adam(alpha=rec["alpha"], beta1=rec["beta1"], beta2=rec["beta2"], eps=rec["eps"])
    s.set_parameters(params)
    for step in range(rec["steps"]):
        s.zero_grad()
        for j, v in enumerate(params.values()):
            v.g = np.sin(np.arange(v.size) + 0.7 * j + step).reshape(v.shape).astype(np.float32)
        s.update()
    for key, values in rec["params_after"].items():
        np.testing.assert_allclose(params[key].d.ravel(), values, rtol=1e-6, atol=1e-7)
    nn.clear_parameters()


def test_parity_with_real_nnabla():
    """Same runs as test_rule_matches_reference, in NNabla 1.39 when it is installed."""
    cases = [(cls.__name__, kwargs, decays) for cls, kwargs, _ in CASES
             for decays in ([None] * 4, [0.05, None, 0.1, 0.0])]
    mine, _ = check_same_source(solver_runs, rtol=1e-5, atol=2e-6, cases=cases)
    assert len(mine) == len(cases)


def test_saved_states_equal_nnabla_file_bytes(tmp_path):
    """Registered in NNabla's order, the .h5 state file is NNabla's byte for byte."""
    h5py = pytest.importorskip("h5py")
    path = _fixture("nnabla_adam_states.h5")
    rec, params = _adam_fixture_setup()
    with h5py.File(path, "r") as f:
        order = sorted(rec["states"], key=lambda k: int(f[k].attrs["index"]))
    s = S.Adam(alpha=rec["alpha"])
    s.set_parameters({k: params[k] for k in order})
    s.load_states(path)
    s.save_states(str(tmp_path / "s.h5"))
    assert (tmp_path / "s.h5").read_bytes() == open(path, "rb").read()


# -- packing is opt-in: a rule that takes norms is never packed ----------------------
def _two_params(rng):
    # different shapes and scales, so one norm over both would give other steps
    return [rng.randn(3, 4).astype(np.float32), 5 * rng.randn(5).astype(np.float32)]


def _steps(solver, params, grads, decays):
    """One update per entry of ``decays`` (None: no weight decay call), with
    ``grads[step][i]`` the gradient of the i-th parameter."""
    for step, rate in enumerate(decays):
        solver.zero_grad()
        for i, p in enumerate(params.values()):
            p.g = grads[step][i]
        if rate is not None:
            solver.weight_decay(rate)
        solver.update()


@pytest.mark.parametrize("cls,kwargs,ref", [c for c in CASES if c[0] in (S.Lars, S.Lamb)],
                         ids=lambda c: getattr(c, "__name__", ""))
def test_norm_solvers_use_each_parameters_own_norm(cls, kwargs, ref):
    rng = np.random.RandomState(0)
    w0s = _two_params(rng)
    grads = [[rng.randn(*w.shape).astype(np.float32) for w in w0s] for _ in range(4)]
    decays = [0.05, None, 0.1, 0.0]
    params = {f"p{i}": nn.Variable.from_numpy_array(w.copy(), need_grad=True)
              for i, w in enumerate(w0s)}
    solver = cls(**kwargs)
    solver.set_parameters(params)
    _steps(solver, params, grads, decays)
    for i, p in enumerate(params.values()):
        want, _ = run_reference(cls, kwargs, ref, w0s[i], [g[i] for g in grads], decays)
        np.testing.assert_allclose(p.d, want, rtol=2e-5, atol=2e-6, err_msg=f"p{i}")
    assert cls.packable is False and solver._pack is None
    # the test can tell: one norm across both parameters gives other values
    flat, _ = run_reference(cls, kwargs, ref, np.concatenate([w.ravel() for w in w0s]),
                            [np.concatenate([x.ravel() for x in g]) for g in grads], decays)
    assert not np.allclose(params["p0"].d.ravel(), flat[:12], rtol=1e-4, atol=1e-5)


class _NormalizedSgd(S.Solver):
    """A rule written without the packing flag: w -= lr * g / |g| per parameter."""

    def __init__(self, lr=0.1):
        super().__init__(lr=lr)

    def _update(self, w, g, s, t):
        w -= self.lr * g / self.xp.sqrt(self.xp.sum(g * g))


def test_packable_is_false_unless_a_rule_states_it():
    assert S.Solver.packable is False and _NormalizedSgd.packable is False
    elementwise = {n for n in S.__all__ if n not in ("Solver", "SolverState", "Lars", "Lamb")}
    for name in S.__all__:
        if name not in ("Solver", "SolverState"):
            assert getattr(S, name).packable is (name in elementwise), name
            assert "packable" in vars(getattr(S, name)), f"{name} states the flag itself"
    rng = np.random.RandomState(1)
    w0s = _two_params(rng)
    gs = [rng.randn(*w.shape).astype(np.float32) for w in w0s]
    params = {f"p{i}": nn.Variable.from_numpy_array(w.copy(), need_grad=True)
              for i, w in enumerate(w0s)}
    solver = _NormalizedSgd(lr=0.1)
    solver.set_parameters(params)
    for _ in range(2):
        solver.zero_grad()
        for p, g in zip(params.values(), gs):
            p.g = g
        solver.update()
    assert solver._pack is None
    for p, w, g in zip(params.values(), w0s, gs):
        g64 = g.astype(np.float64)
        want = w - 2 * 0.1 * g64 / np.sqrt(np.sum(g64 * g64))
        np.testing.assert_allclose(p.d, want, rtol=1e-5, atol=1e-6)
    s = S.Adam(0.01)
    s.set_parameters(params)
    s.zero_grad()
    for p, g in zip(params.values(), gs):
        p.g = g
    s.update()
    assert s._pack is not None   # an elementwise rule still takes the packed path


def test_nablite_solver_is_nnablas_public_module_name():
    import nablite.solver as S1
    from nablite.solver import Solver, set_solver_pre_hook  # noqa: F401
    for name in S.__all__:
        assert getattr(S1, name) is getattr(S, name), name
    assert set(S.__all__) <= set(S1.__all__)
    assert S1.Adam(alpha=0.01).learning_rate() == f32(0.01)
    assert S1.set_solver_pre_hook is nn.set_solver_pre_hook


@pytest.mark.parametrize("cls,kwargs,ref", CASES, ids=lambda c: getattr(c, "__name__", ""))
@pytest.mark.parametrize("decays", [[None] * 4, [0.05, None, 0.1, 0.0]])
def test_rule_matches_reference_with_several_parameters(cls, kwargs, ref, decays):
    """A (3, 4), a (5,) and a (2, 1, 3) parameter under one solver: elementwise rules
    take the packed path (one buffer for all), so this checks packing and unpacking
    of parameters, gradients and states against a per-parameter reference."""
    rng = np.random.RandomState(2)
    w0s = _two_params(rng) + [rng.randn(2, 1, 3).astype(np.float32)]
    grads = [[rng.randn(*w.shape).astype(np.float32) for w in w0s] for _ in range(4)]
    params = {f"p{i}": nn.Variable.from_numpy_array(w.copy(), need_grad=True)
              for i, w in enumerate(w0s)}
    solver = cls(**kwargs)
    solver.set_parameters(params)
    solver.set_learning_rate(solver.learning_rate() * 0.5)
    _steps(solver, params, grads, decays)
    assert (solver._pack is not None) is cls.packable, "packed path taken iff packable"
    states = solver.get_states()
    for i, (name, p) in enumerate(params.items()):
        want_w, want_state = run_reference(cls, kwargs, ref, w0s[i], [g[i] for g in grads],
                                           decays, lr_scale=0.5)
        assert p.d.dtype == np.float32 and p.shape == w0s[i].shape
        np.testing.assert_allclose(p.d, want_w, rtol=2e-5, atol=2e-6, err_msg=name)
        st = states[name]
        assert st.t == 4 and set(st.pstate) == set(want_state)
        for sname, v in st.pstate.items():
            assert v.shape == w0s[i].shape
            np.testing.assert_allclose(v.d, want_state[sname], rtol=2e-5, atol=2e-6,
                                       err_msg=f"{name} {sname}")


def test_every_solver_has_a_reference_case():
    solvers = {n for n in S.__all__ if n not in ("Solver", "SolverState")}
    assert solvers == {c[0].__name__ for c in CASES}
    assert len(solvers) == 18


@pytest.mark.parametrize("cls,kwargs,ref", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_a_0d_parameter_updates_as_a_1_element_one(cls, kwargs, ref):
    """NNabla's solver tests use 0-d parameters (AMSGRAD raised on them)."""
    got = []
    for shape in ((), (1,)):
        p = nn.Variable.from_numpy_array(np.full(shape, 0.7, np.float32), need_grad=True)
        s = cls(**kwargs)
        s.set_parameters({"p": p})
        for step in range(3):
            p.g = np.full(shape, 0.3 - 0.2 * step, np.float32)
            s.update()
        assert p.d.shape == shape
        got.append(float(p.d.reshape(-1)[0]))
    assert got[0] == pytest.approx(got[1], rel=1e-6) and got[0] != 0.7
