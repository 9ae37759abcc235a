"""Multi-head attention (Vaswani et al., 2017) as a composition of existing functions.

Sequences are (length, batch, features), as in NNabla. Each of the B*H
(batch, head) pairs attends separately:

    q, k, v = affine(query), affine(key), affine(value)       projections
    w = softmax(q_h k_h^T / sqrt(d_head) + masks)             (B*H, L_q, L_k)
    y = affine(concat_h(w v_h))                                (L_q, B, E_out)

Gradients come from the functions it is made of.
"""
from .activation import softmax
from .array import broadcast, concatenate, reshape, transpose
from .base import require, named
from .layers import affine, batch_matmul
from .logical import where
from .math import constant
from .rearrange import pad
from .stochastic import dropout as _dropout

__all__ = ["multi_head_attention"]


def _split_heads(h, batch, heads, dim):
    """(L, B, H*dim) -> (B*H, L, dim): one row block per (batch, head) pair."""
    return transpose(reshape(h, (h.shape[0], batch * heads, dim)), (1, 0, 2))


@named
def multi_head_attention(query, key, value, num_heads, q_weight, k_weight, v_weight,
                         out_weight, q_bias=None, k_bias=None, v_bias=None, out_bias=None,
                         attn_bias_k=None, attn_bias_v=None, dropout=0.0, additive_mask=None,
                         key_padding_mask=None):
    """Multi-head scaled dot-product attention.

    Args:
        query (Variable): (L_q, B, D_q).
        key (Variable): (L_k, B, D_k).
        value (Variable): (L_k, B, D_v).
        num_heads (int): H; the projected widths E and E_v must be multiples of it.
        q_weight, k_weight (Variable): (D_q, E), (D_k, E).
        v_weight (Variable): (D_v, E_v).
        out_weight (Variable): (E_v, E_out).
        q_bias, k_bias, v_bias, out_bias (Variable, optional): (E,), (E,), (E_v,), (E_out,).
        attn_bias_k, attn_bias_v (Variable, optional): E and E_v values appended
            to the keys and values as one more position (both or neither).
        dropout (float): dropout ratio on the attention weights.
        additive_mask (Variable, optional): (L_q, L_k), added to the attention logits.
        key_padding_mask (Variable, optional): (B, L_k) of 0/1; key positions
            marked 1 get no attention (their logits become -inf).

    Returns:
        tuple of Variable: y (L_q, B, E_out) and the attention weights (B*H, L_q, L_k).
    """
    name = "multi_head_attention"
    tgt_len, batch = query.shape[0], query.shape[1]
    src_len = key.shape[0]
    embed, v_embed = q_weight.shape[1], v_weight.shape[1]
    require(name, len(query.shape) == 3 and len(key.shape) == 3 and len(value.shape) == 3,
            f"query {query.shape}, key {key.shape} and value {value.shape} must be "
            "(length, batch, features)")
    require(name, value.shape[0] == src_len and key.shape[1] == batch == value.shape[1],
            f"key {key.shape} and value {value.shape} must have the same length and query's "
            f"batch size {batch}")
    require(name, k_weight.shape[1] == embed,
            f"q_weight {q_weight.shape} and k_weight {k_weight.shape} must project to the same "
            "width")
    require(name, isinstance(num_heads, int) and num_heads > 0
            and embed % num_heads == 0 and v_embed % num_heads == 0,
            f"num_heads={num_heads!r} must divide the projected widths {embed} (query/key) "
            f"and {v_embed} (value)")
    require(name, (attn_bias_k is None) == (attn_bias_v is None),
            "attn_bias_k and attn_bias_v must be given together")
    if key_padding_mask is not None:
        require(name, tuple(key_padding_mask.shape) == (batch, src_len),
                f"key_padding_mask {key_padding_mask.shape} must be (batch, key length) = "
                f"{(batch, src_len)}")
    head, v_head = embed // num_heads, v_embed // num_heads

    q = affine(query, q_weight, q_bias, base_axis=2) * (float(head) ** -0.5)
    k = affine(key, k_weight, k_bias, base_axis=2)
    v = affine(value, v_weight, v_bias, base_axis=2)
    if attn_bias_k is not None:  # one more key/value position, shared by the batch
        k = concatenate(k, broadcast(reshape(attn_bias_k, (1, 1, embed)), (1, batch, embed)),
                        axis=0)
        v = concatenate(v, broadcast(reshape(attn_bias_v, (1, 1, v_embed)),
                                     (1, batch, v_embed)), axis=0)
        src_len += 1
        if additive_mask is not None:
            additive_mask = pad(additive_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))

    logits = batch_matmul(_split_heads(q, batch, num_heads, head),
                          _split_heads(k, batch, num_heads, head), transpose_b=True)
    if additive_mask is not None:
        logits = logits + reshape(additive_mask, (1, tgt_len, src_len))
    if key_padding_mask is not None:
        shape = (batch, num_heads, tgt_len, src_len)
        padded = broadcast(reshape(key_padding_mask, (batch, 1, 1, src_len)), shape)
        logits = reshape(where(padded, constant(float("-inf"), shape), reshape(logits, shape)),
                         (batch * num_heads, tgt_len, src_len))
    weights = softmax(logits, axis=2)
    if dropout > 0:
        weights = _dropout(weights, p=dropout)
    heads = batch_matmul(weights, _split_heads(v, batch, num_heads, v_head))
    merged = reshape(transpose(heads, (1, 0, 2)), (tgt_len, batch, v_embed))
    return affine(merged, out_weight, out_bias, base_axis=2), weights
