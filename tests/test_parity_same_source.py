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
import test_functions_loss as loss
import test_functions_reduction as reduction


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


def spectral_norm_train(w, u0, gy):
    # train mode only: in test mode NNabla's gradient is NaN (README)
    wv = nn.Variable.from_numpy_array(w.astype(np.float32), need_grad=True)
    u = nn.Variable.from_numpy_array(u0.astype(np.float32))
    y, u_out = F.spectral_norm(wv, u, dim=1, itr=2, output_u=True)
    y.forward()
    out = {"y": y.d.copy(), "u_updated_in_place": u.d.copy(), "u_out": u_out.d.copy()}
    wv.g = 0
    y.backward(gy.astype(np.float32))
    out["gw"] = wv.g.copy()
    return out


def test_spectral_norm():
    check_same_source(spectral_norm_train, w=randn(4, 3, 2), u0=randn(3, seed=1),
                      gy=randn(4, 3, 2, seed=2))


def scatter_in_place(data, idx, base, gy, rows, mask, dest, gyb):
    out = {}
    for add in (False, True):
        d = nn.Variable.from_numpy_array(data.astype(np.float32), need_grad=True)
        o = nn.Variable.from_numpy_array(base.astype(np.float32), need_grad=True)
        y = F.scatter_nd(d, nn.Variable.from_numpy_array(idx), out=o, add=add)
        y.forward()
        d.g = 0
        y.backward(gy.astype(np.float32))
        # out's own gradient differs on purpose (NNabla gives none, README)
        out[f"add={add}"] = [y.d.copy(), o.d.copy(), d.g.copy()]
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
    check_same_source(scatter_in_place, rtol=1e-6, atol=0, data=randn(3),
                      idx=np.array([[4, 3, 1]]), base=randn(8, seed=1), gy=randn(8, seed=2),
                      rows=randn(2, 2), mask=np.array([1, 0, 1]), dest=randn(3, 2, seed=3),
                      gyb=randn(3, 2, seed=4))


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
    # padding_value differs on purpose (NNabla ignores it, README): not a case here
    cases = [dict(batch_first=bf, total_length=tl) for bf in (False, True)
             for tl in (None, 4, 6, 2)]
    check_same_source(pad_packed_sequence, rtol=1e-6, atol=0, packed=randn(7, 2),
                      sizes=np.array([3, 2, 1, 1], np.int32), cases=cases)


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
    # only_index's gradient differs on purpose (NNabla sends one to x, README)
    cases = [(pick, kw) for pick in ("max", "min") for kw in reduction.INDEX_ARGS
             if not kw.get("only_index")]
    check_same_source(max_min_with_index, rtol=0, atol=0, data=reduction.TIES, cases=cases)


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
