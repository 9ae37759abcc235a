"""F.multi_head_attention: forward vs a NumPy reference, gradients, masks, errors, parity."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from gradcheck import check_function, randn

L_Q, L_K, B, D_Q, D_K, D_V, E, E_V, E_OUT = 3, 4, 2, 5, 6, 3, 4, 6, 2


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def ref_mha(query, key, value, heads, qw, kw, vw, ow, qb=None, kb=None, vb=None, ob=None,
            bias_k=None, bias_v=None, additive_mask=None, key_padding_mask=None):
    """Per (batch, head) pair, written with loops for clarity."""
    q = query @ qw + (0 if qb is None else qb)
    k = key @ kw + (0 if kb is None else kb)
    v = value @ vw + (0 if vb is None else vb)
    if bias_k is not None:
        k = np.concatenate([k, np.broadcast_to(bias_k.reshape(1, 1, -1), (1,) + k.shape[1:])])
        v = np.concatenate([v, np.broadcast_to(bias_v.reshape(1, 1, -1), (1,) + v.shape[1:])])
        if additive_mask is not None:
            additive_mask = np.pad(additive_mask, ((0, 0), (0, 1)))
        if key_padding_mask is not None:
            key_padding_mask = np.pad(key_padding_mask, ((0, 0), (0, 1)))
    lq, batch, e = q.shape
    lk, ev = k.shape[0], v.shape[2]
    d, dv = e // heads, ev // heads
    weights = np.empty((batch * heads, lq, lk))
    merged = np.empty((lq, batch, ev))
    for b in range(batch):
        for h in range(heads):
            logits = q[:, b, h * d:(h + 1) * d] @ k[:, b, h * d:(h + 1) * d].T / np.sqrt(d)
            if additive_mask is not None:
                logits = logits + additive_mask
            if key_padding_mask is not None:
                logits = np.where(key_padding_mask[b] != 0, -np.inf, logits)
            w = _softmax(logits)
            weights[b * heads + h] = w
            merged[:, b, h * dv:(h + 1) * dv] = w @ v[:, b, h * dv:(h + 1) * dv]
    return merged @ ow + (0 if ob is None else ob), weights


def _inputs(seed=0):
    return [randn(L_Q, B, D_Q, seed=seed), randn(L_K, B, D_K, seed=seed + 1),
            randn(L_K, B, D_V, seed=seed + 2), randn(D_Q, E, seed=seed + 3) * 0.5,
            randn(D_K, E, seed=seed + 4) * 0.5, randn(D_V, E_V, seed=seed + 5) * 0.5,
            randn(E_V, E_OUT, seed=seed + 6) * 0.5]


@pytest.mark.parametrize("heads", [1, 2])
def test_forward_and_gradients(heads):
    def f(q, k, v, qw, kw, vw, ow):
        return F.multi_head_attention(q, k, v, heads, qw, kw, vw, ow)
    check_function(f, _inputs(), ref=lambda *a: ref_mha(*a[:3], heads, *a[3:]))


def test_biases_and_attention_bias():
    extra = [randn(E, seed=7), randn(E, seed=8), randn(E_V, seed=9), randn(E_OUT, seed=10),
             randn(E, seed=11), randn(E_V, seed=12)]

    def f(q, k, v, qw, kw, vw, ow, qb, kb, vb, ob, bk, bv):
        return F.multi_head_attention(q, k, v, 2, qw, kw, vw, ow, qb, kb, vb, ob, bk, bv)
    check_function(f, _inputs() + extra, ref=lambda *a: ref_mha(*a[:3], 2, *a[3:]))


def test_masks():
    mask = np.triu(np.full((L_Q, L_K), -1e4), 1)        # causal-style additive mask
    padding = np.array([[0, 0, 0, 1], [0, 0, 1, 1]], float)
    xs = [nn.Variable.from_numpy_array(a) for a in _inputs()]
    y, w = F.multi_head_attention(*xs[:3], 2, *xs[3:],
                                  additive_mask=nn.Variable.from_numpy_array(mask),
                                  key_padding_mask=nn.Variable.from_numpy_array(padding))
    F.sink(y, w).forward()
    want_y, want_w = ref_mha(*_inputs()[:3], 2, *_inputs()[3:], additive_mask=mask,
                             key_padding_mask=padding)
    np.testing.assert_allclose(w.d, want_w, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(y.d, want_y, rtol=1e-6, atol=1e-9)
    assert not w.d.reshape(B, 2, L_Q, L_K)[1, :, :, 2:].any()   # padded keys get no weight


def test_mask_with_attention_bias_is_padded_by_one_position():
    mask = np.zeros((L_Q, L_K))
    padding = np.array([[0, 0, 0, 1], [0, 0, 0, 0]], float)
    a = _inputs()
    bias = [randn(E, seed=11), randn(E_V, seed=12)]
    xs = [nn.Variable.from_numpy_array(x) for x in a + bias]
    y, w = F.multi_head_attention(*xs[:3], 2, *xs[3:7], attn_bias_k=xs[7], attn_bias_v=xs[8],
                                  additive_mask=nn.Variable.from_numpy_array(mask),
                                  key_padding_mask=nn.Variable.from_numpy_array(padding))
    y.forward()
    assert w.shape == (B * 2, L_Q, L_K + 1)
    want_y, _ = ref_mha(*a[:3], 2, *a[3:], bias_k=bias[0], bias_v=bias[1], additive_mask=mask,
                        key_padding_mask=padding)
    np.testing.assert_allclose(y.d, want_y, rtol=1e-6, atol=1e-9)


def test_dropout_on_weights_keeps_shapes_and_scales():
    xs = [nn.Variable.from_numpy_array(a) for a in _inputs()]
    nn.seed(0)
    y, w = F.multi_head_attention(*xs[:3], 2, *xs[3:], dropout=0.5)
    F.sink(y, w).forward()
    kept = w.d[w.d != 0]
    assert y.shape == (L_Q, B, E_OUT) and 0 < kept.size < w.d.size
    assert kept.max() <= 2.0 + 1e-12   # surviving weights are scaled by 1 / (1 - p)


@pytest.mark.parametrize("change, match", [
    (dict(num_heads=3), "num_heads=3 must divide"),
    (dict(k_weight=(D_K, E + 1)), "must project to the same width"),
    (dict(value=(L_K + 1, B, D_V)), "same length"),
    (dict(attn_bias_k=(E,)), "given together"),
    (dict(key_padding_mask=(B, L_K + 1)), "key_padding_mask"),
])
def test_bad_input(change, match):
    shapes = dict(query=(L_Q, B, D_Q), key=(L_K, B, D_K), value=(L_K, B, D_V),
                  q_weight=(D_Q, E), k_weight=(D_K, E), v_weight=(D_V, E_V),
                  out_weight=(E_V, E_OUT))
    heads = change.pop("num_heads", 2)
    shapes.update(change)
    args = {k: nn.Variable(s) for k, s in shapes.items()}
    with pytest.raises(ValueError, match=match):
        F.multi_head_attention(num_heads=heads, **args)
