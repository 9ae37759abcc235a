"""Parity cases written once: each case function runs unchanged under the real
NNabla 1.39 and under nablite (``import nnabla`` resolved to nablite by
nablite.compat), and their named outputs are compared
(nnabla_parity.check_same_source). Skips when NNabla is absent.

Case functions see only ``nn``, ``F``, ``PF``, ``np`` and their arguments (their
source is what runs), so they cannot use this module's globals."""
import numpy as np
import pytest

from gradcheck import randn, uniform
from nnabla_parity import check_same_source
import test_functions_attention as attention
import test_functions_deformable as deformable
import test_functions_indexing as indexing
import test_functions_loss as loss
import test_functions_normalization as normalization
import test_functions_reduction as reduction
import test_functions_stochastic as stochastic
import test_graph_semantics as semantics


def multi_head_attention(inputs, heads):
    xs = [nn.Variable.from_numpy_array(a.astype(np.float32), need_grad=True) for a in inputs]
    y, w = F.multi_head_attention(*xs[:3], heads, *xs[3:])
    F.sink(y, w).forward()
    for x in xs:
        x.g = 0
    y.backward(np.full(y.shape, 0.5, np.float32))
    return {"y": y.d.copy(), "weights": w.d.copy(), "grads": [x.g.copy() for x in xs]}


@pytest.mark.parametrize("heads", [1, 2])
def test_multi_head_attention(heads):
    check_same_source(multi_head_attention, rtol=1e-4, atol=1e-5, inputs=attention._inputs(),
                      heads=heads)


def sigmoid_cross_entropy_integer_targets(logits, target):
    # integer-valued float targets, even outside {0, 1}: the same numbers (soft
    # targets differ on purpose: NNabla truncates them to int, README)
    x = nn.Variable.from_numpy_array(logits.astype(np.float32), need_grad=True)
    y = F.sigmoid_cross_entropy(x, nn.Variable.from_numpy_array(target.astype(np.float32)))
    y.forward()
    x.g = 0
    y.backward(np.ones(y.shape, np.float32))
    return {"y": y.d, "gx": x.g}


def test_sigmoid_cross_entropy_integer_targets():
    hard = np.array([[0, 1, 1, 0, 1, 0], [1, 0, 2, -1, 0, 1]], np.float64)
    check_same_source(sigmoid_cross_entropy_integer_targets, logits=loss.SOFT_X, target=hard)


def test_sigmoid_cross_entropy_soft_targets_differ_on_purpose():
    # NNabla casts each target to int (0.9 -> 0); nablite keeps it (README)
    mine, want = check_same_source(sigmoid_cross_entropy_integer_targets, differ=("y", "gx"),
                                   logits=loss.SOFT_X, target=loss.SOFT_T)
    for target, got in ((np.trunc(loss.SOFT_T), want), (loss.SOFT_T, mine)):
        np.testing.assert_allclose(got["y"], loss.ref_sigmoid_ce(loss.SOFT_X, target),
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got["gx"], 1 / (1 + np.exp(-loss.SOFT_X)) - target,
                                   rtol=1e-5, atol=1e-6)


def spectral_norm_case(w, u0, gy, test):
    wv = nn.Variable.from_numpy_array(w.astype(np.float32), need_grad=True)
    u = nn.Variable.from_numpy_array(u0.astype(np.float32))
    y, u_out = F.spectral_norm(wv, u, dim=1, itr=2, test=test, output_u=True)
    y.forward()
    out = {"y": y.d.copy(), "u_updated_in_place": u.d.copy(), "u_out": u_out.d.copy()}
    wv.g = 0
    y.backward(gy.astype(np.float32))
    out["gw"] = wv.g.copy()
    return out


@pytest.mark.parametrize("test", [False, True])
def test_spectral_norm(test):
    w, u0, gy = randn(4, 3, 2), randn(3, seed=1), randn(4, 3, 2, seed=2)
    # in test mode NNabla's gradient is NaN; nablite's is the train-mode one (README)
    mine, want = check_same_source(spectral_norm_case, differ=("gw",) if test else (),
                                   w=w, u0=u0, gy=gy, test=test)
    if test:
        assert np.all(np.isnan(want["gw"]))
        u_new, v_new, sigma = normalization.power_iteration(w, u0, 1, 2)
        uv = np.moveaxis(np.outer(u_new, v_new).reshape(3, 4, 2), 0, 1)
        np.testing.assert_allclose(mine["gw"], gy / sigma - (gy * w).sum() / sigma ** 2 * uv,
                                   rtol=1e-4, atol=1e-5)


def batch_normalization_case(x, b, g, gy):
    out = {}
    for batch_stat in (True, False):
        xv = nn.Variable.from_numpy_array(x.astype(np.float32), need_grad=True)
        bv, gv = [nn.Variable.from_numpy_array(a.astype(np.float32), need_grad=True)
                  for a in (b, g)]
        m = nn.Variable.from_numpy_array(np.full((1, 3, 1, 1), 0.1, np.float32))
        v = nn.Variable.from_numpy_array(np.full((1, 3, 1, 1), 1.5, np.float32))
        y = F.batch_normalization(xv, bv, gv, m, v, batch_stat=batch_stat)
        y.forward()
        for a in (xv, bv, gv):
            a.g = 0
        y.backward(gy.astype(np.float32))
        out[f"batch_stat={batch_stat}"] = [y.d, xv.g, bv.g, gv.g, m.d, v.d]
    return out


def test_batch_normalization():
    check_same_source(batch_normalization_case, rtol=1e-4, atol=1e-5, x=randn(4, 3, 2, 2),
                      b=randn(1, 3, 1, 1, seed=1), g=randn(1, 3, 1, 1, seed=2),
                      gy=randn(4, 3, 2, 2, seed=3))


def scatter_in_place(data, idx, base, gy, rows, mask, dest, gyb):
    out = {}
    for add in (False, True):
        d = nn.Variable.from_numpy_array(data.astype(np.float32), need_grad=True)
        o = nn.Variable.from_numpy_array(base.astype(np.float32), need_grad=True)
        y = F.scatter_nd(d, nn.Variable.from_numpy_array(idx), out=o, add=add)
        y.forward()
        d.g = 0
        o.g = 0
        y.backward(gy.astype(np.float32))
        out[f"add={add}"] = [y.d.copy(), o.d.copy(), d.g.copy()]
        out[f"out.g add={add}"] = o.g.copy()
    x = nn.Variable.from_numpy_array(rows.astype(np.float32), need_grad=True)
    o = nn.Variable.from_numpy_array(dest.astype(np.float32), need_grad=True)
    y = F.bool_scatter(x, nn.Variable.from_numpy_array(mask.astype(np.float32)), o)
    y.forward()
    x.g = 0
    o.g = 0
    y.backward(gyb.astype(np.float32))
    out["bool_scatter"] = [y.d.copy(), o.d.copy(), x.g.copy(), o.g.copy()]
    return out


def test_in_place_scatter():
    idx, gy = np.array([[4, 3, 1]]), randn(8, seed=2)
    # out's own gradient: NNabla gives none, nablite the true one (README)
    differ = ("out.g add=False", "out.g add=True")
    mine, want = check_same_source(scatter_in_place, rtol=1e-6, atol=0, differ=differ,
                                   data=randn(3), idx=idx, base=randn(8, seed=1), gy=gy,
                                   rows=randn(2, 2), mask=np.array([1, 0, 1]),
                                   dest=randn(3, 2, seed=3), gyb=randn(3, 2, seed=4))
    for add in (False, True):
        assert not np.any(want[f"out.g add={add}"])
        kept = np.ones(8) if add else np.isin(np.arange(8), idx[0], invert=True)
        np.testing.assert_allclose(mine[f"out.g add={add}"], gy * kept, rtol=1e-6)


def pad_packed_sequence(packed, sizes, cases):
    out = {}
    for k, kw in enumerate(cases):
        p = nn.Variable.from_numpy_array(packed.astype(np.float32), need_grad=True)
        y, lengths = F.pad_packed_sequence(p, nn.Variable.from_numpy_array(sizes), **kw)
        y.forward()
        lengths.forward()
        p.g = 0
        y.backward(np.arange(y.size, dtype=np.float32).reshape(y.shape))
        out[str(k)] = [y.d.copy(), lengths.d.copy(), p.g.copy()]
    return out


def test_pad_packed_sequence():
    packed, sizes = randn(7, 2), np.array([3, 2, 1, 1], np.int32)
    cases = [dict(batch_first=bf, total_length=tl) for bf in (False, True)
             for tl in (None, 4, 6, 2)]  # 2 < the longest: NNabla pads to 4, no error
    cases.append(dict(batch_first=True, total_length=6, padding_value=-1.0))
    mine, want = check_same_source(pad_packed_sequence, rtol=1e-6, atol=0, differ=("8",),
                                   packed=packed, sizes=sizes, cases=cases)
    # NNabla ignores padding_value and pads with 0; nablite uses it (README)
    np.testing.assert_allclose(want["8"][0], indexing.ref_unpack(packed, sizes, True, 0.0, 6)[0])
    np.testing.assert_allclose(mine["8"][0], indexing.ref_unpack(packed, sizes, True, -1.0, 6)[0])
    np.testing.assert_allclose(mine["8"][2], want["8"][2], rtol=1e-6)


def max_min_with_index(data, cases):
    out = {}
    for pick, kw in cases:
        x = nn.Variable.from_numpy_array(data.astype(np.float32), need_grad=True)
        outs = getattr(F, pick)(x, **kw)
        outs = outs if isinstance(outs, tuple) else (outs,)
        for o in outs:
            o.forward()
        x.g = 0
        outs[0].backward(np.ones(outs[0].shape, np.float32) * 2)
        out[f"{pick} {kw}"] = [o.d.copy() for o in outs] + [x.g.copy()]
    return out


def test_max_min_index_outputs():
    # with only_index too: NNabla sends the index output's gradient to x at the
    # selected element, as if it were the value, and so does nablite
    cases = [(pick, kw) for pick in ("max", "min") for kw in reduction.INDEX_ARGS]
    mine, _ = check_same_source(max_min_with_index, rtol=0, atol=0, data=reduction.TIES,
                                cases=cases)
    for pick, kw in cases:
        if kw.get("only_index"):
            _, idx = reduction.ref_arg(pick)(reduction.TIES, **dict(kw, with_index=True,
                                                                     only_index=False))
            grad = mine[f"{pick} {kw}"][-1]
            assert np.count_nonzero(grad) == idx.size and np.sum(grad) == 2 * idx.size


def deformable_cases(cases):
    out = {}
    for k, (name, inputs, kwargs) in enumerate(cases):
        # every input asks for a gradient: NNabla 1.39 crashes when only some do
        xs = [None if a is None else nn.Variable.from_numpy_array(a.astype(np.float32),
                                                                   need_grad=True)
              for a in inputs]
        y = getattr(F, name)(*xs, **kwargs)
        y.forward()
        for x in xs:
            if x is not None:  # real zeros: NNabla leaves unread entries untouched
                x.g = np.zeros(x.shape, np.float32)
        y.backward(np.random.RandomState(0).randn(*y.shape).astype(np.float32))
        out[f"{k} {name}"] = [y.d.copy()] + [x.g.copy() for x in xs if x is not None]
    return out


def test_deformable_and_adaptive_separable_convolution():
    cases = []
    for xshape, oc, kernel, kwargs in deformable.DEFORM_CASES:
        n, c, h, w = xshape
        g, dg = kwargs.get("group", 1), kwargs.get("deformable_group", 1)
        k = kernel[0] * kernel[1]
        kwargs = {key: list(v) if isinstance(v, tuple) else v for key, v in kwargs.items()}
        for use_mask, use_bias in ((True, True), (False, False)):
            cases.append(("deformable_convolution", [
                randn(*xshape), randn(oc, c // g, *kernel, seed=2),
                deformable._offsets((n, dg * 2 * k, h, w)),
                uniform(0.1, 1, (n, dg * k, h, w), seed=3) if use_mask else None,
                randn(oc, seed=4) if use_bias else None], kwargs))
    for xshape, kv, kh, size in [((2, 3, 5, 6), 3, 2, (3, 5)), ((1, 2, 5, 5), 2, 3, (5, 4))]:
        cases.append(("adaptive_separable_convolution", [
            randn(*xshape), randn(xshape[0], kv, *size, seed=1),
            randn(xshape[0], kh, *size, seed=2)], {}))
    check_same_source(deformable_cases, rtol=1e-4, atol=1e-4, cases=cases)


def test_a_difference_is_reported():
    """The helper is not vacuous: an output nablite computes differently fails."""
    with pytest.raises(AssertionError, match="differs_on_purpose"):
        check_same_source("x = nn.Variable.from_numpy_array(np.ones(3))\n"
                          "OUT = {'differs_on_purpose': np.array([float(nn.__name__ == 'nablite')])}")


def root_gradient_is_left_alone():
    # backward's seed reaches the root's function only: root.g keeps what it held
    # (unallocated: zeros), and grad=None seeds with root.g itself
    x = nn.Variable.from_numpy_array(np.ones((2, 3), np.float32), need_grad=True)
    y, z = F.sum(x * 2), x * 3
    out = {}
    y.forward()
    y.backward()
    out["y.g after backward()"], out["x.g 1"] = y.g.copy(), x.g.copy()
    y.g = 5
    y.backward()
    out["y.g set to 5"], out["x.g 2"] = y.g.copy(), x.g.copy()
    y.backward(grad=None)
    out["x.g seeded by y.g"] = x.g.copy()
    z.forward()
    x.grad.zero()
    z.backward(grad=np.full((2, 3), 2.0))
    out["z.g after an array seed"], out["x.g 3"] = z.g.copy(), x.g.copy()
    x.grad.zero()
    z.backward(grad=nn.NdArray.from_numpy_array(np.full((2, 3), 4.0, np.float32)))
    out["z.g after an NdArray seed"], out["x.g 4"] = z.g.copy(), x.g.copy()
    return out


def test_root_gradient_is_left_alone():
    check_same_source(root_gradient_is_left_alone)


def float64_data_computes_in_float32(x_data, w_data):
    # NNabla's 'float' context reads float64 inputs as float32: outputs and
    # gradients are float32, the Variable keeps its float64 values
    x = nn.Variable.from_numpy_array(x_data, need_grad=True)
    w = nn.Variable.from_numpy_array(w_data.astype(np.float32), need_grad=True)
    t = nn.Variable.from_numpy_array(np.array([[1], [3]]))
    h = F.affine(x, w)
    loss = F.mean(F.softmax_cross_entropy(h, t))
    late = nn.Variable((2, 3), need_grad=True)
    y = F.sum(F.tanh(F.reshape(late, (3, 2))) * 2)
    late.d = x_data + 0.25  # float64 given after the graph was built
    r = F.reshape(x, (3, 2))  # reshape passes float64 on
    F.sink(loss, y, r).forward()
    loss.backward()
    y.backward()
    fresh = nn.Variable.from_numpy_array(x_data, need_grad=True)
    return {"x.d": x.d.copy(), "h": h.d.copy(), "loss": loss.d.copy(), "x.g": x.g.copy(),
            "w.g": w.g.copy(), "late.d": late.d.copy(), "y": y.d.copy(), "late.g": late.g.copy(),
            "reshaped": r.d.copy(), "unwritten g": fresh.g.copy()}


def test_float64_data_computes_in_float32():
    check_same_source(float64_data_computes_in_float32,
                      x_data=np.linspace(-1.0, 1.0, 6).reshape(2, 3), w_data=randn(3, 4))


def test_image_augmentation_draws():
    """The same summary of many random draws (noise level, lens, zoom, crop
    place) from both libraries; their generators differ, so within sampling
    error."""
    check_same_source(stochastic.augmentation_stats, dtypes=False, tol=dict(
        noise=(0, 0.08), lens=(0, 0.08), lens_fit=(0, 1e-4), zoom=(0, 0.06), crop=(0, 0.7)))


def test_need_grad_on_intermediates():
    check_same_source(semantics.need_grad_on_intermediates, dtypes=False)


def test_grad_of_parameters():
    check_same_source(semantics.grad_of_parameters, rtol=1e-5, atol=1e-6)


def test_function_hooks():
    check_same_source(semantics.function_hooks)


def test_hooks_through_the_callback_module():
    """nnabla.callback's global hooks: around each function's forward and backward
    (outside a call's own hooks) and around solver updates, unset by key."""
    mine, _ = check_same_source('''
import nnabla.callback as cb
import nnabla.solvers as S
calls = []
cb.set_function_pre_hook("a", lambda f: calls.append("pre " + str(f)))
cb.set_function_post_hook("a", lambda f: calls.append("post " + str(f)))
x = nn.Variable.from_numpy_array(np.ones((2, 2), np.float32), need_grad=True)
y = F.sum(F.relu(x))
y.forward()
calls.append("backward")
y.backward()
calls.append("local")
y.forward(function_pre_hook=lambda f: calls.append("local " + str(f)))
cb.unset_function_pre_hook("a")
cb.unset_function_post_hook("a")
y.forward()
calls.append("solver")
s = S.Sgd(0.1)
s.set_parameters({"x": x})
cb.set_solver_pre_hook("s", lambda: calls.append("solver pre"))
cb.set_solver_post_hook("s", lambda: calls.append("solver post"))
s.update()
s.weight_decay(0.1)
cb.unset_solver_pre_hook("s")
cb.unset_solver_post_hook("s")
s.update()
OUT = {"calls": calls}
''')
    assert mine["calls"][:4] == ["pre ReLU", "post ReLU", "pre Sum", "post Sum"]
    assert mine["calls"].count("solver pre") == 2
