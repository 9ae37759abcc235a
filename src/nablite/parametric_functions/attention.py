"""Attention layers: multi_head_attention, transformer and its
transformer_encode / transformer_decode blocks."""
from .. import functions as F
from ..function import require
from ..initializer import ConstantInitializer
from ._api import _glorot, _param, parametric_function_api
from .layers import affine
from .normalization import layer_normalization

__all__ = ["multi_head_attention", "transformer", "transformer_encode", "transformer_decode"]


# Attention and transformer layers.


@parametric_function_api("multi_head_attention")
def multi_head_attention(query, key, value, num_heads=12, dropout=0.0, k_embed_dim=None,
                         v_embed_dim=None, out_dim=None, rng=None, with_bias=True,
                         add_attn_bias=False, additive_mask=None, key_padding_mask=None,
                         fix_parameters=False, param_init=None):
    """Multi-head attention layer (Vaswani et al., "Attention Is All You Need", 2017).

    .. math::
        \\mathrm{head}_h = \\mathrm{softmax}\\left(\\frac{(Q W^q_h)(K W^k_h)^T}
        {\\sqrt{E / H}} + M\\right) V W^v_h, \\quad
        y = [\\mathrm{head}_1, \\ldots, \\mathrm{head}_H] W^o + b^o

    With D_q, D_k, D_v the feature sizes of query, key and value, E =
    ``k_embed_dim`` (default D_q), E_v = ``v_embed_dim`` (default D_v) and
    E_o = ``out_dim`` (default E_v), the parameters are ``q_weight`` (D_q, E),
    ``k_weight`` (D_k, E), ``v_weight`` (D_v, E_v), ``out_weight`` (E_v, E_o),
    Glorot uniform; with ``with_bias`` ``q_bias`` (E,), ``k_bias`` (E,),
    ``v_bias`` (E_v,), ``out_bias`` (E_o,), zeros; with ``add_attn_bias``
    ``attn_bias_k`` (1, 1, E) and ``attn_bias_v`` (1, 1, E_v), Glorot uniform,
    appended to the keys and values as one more position. They are drawn in
    that order.

    Args:
        query (Variable): (L_T, B, D_q).
        key (Variable): (L_S, B, D_k).
        value (Variable): (L_S, B, D_v).
        num_heads (int): H; must divide E and E_v.
        dropout (float): Dropout ratio on the attention weights.
        k_embed_dim, v_embed_dim, out_dim (int): E, E_v, E_o (see above).
        rng (numpy.random.RandomState): For the default initializers.
        with_bias (bool): Create and add the projection biases.
        add_attn_bias (bool): Create and append the attention biases.
        additive_mask (Variable): (L_T, L_S), added to the attention logits.
        key_padding_mask (Variable): (B, L_S) of 0/1; positions marked 1 are ignored.
        fix_parameters (bool): Do not compute gradients of the parameters.
        param_init (dict): Initializers or arrays keyed by parameter name.

    Returns:
        tuple of Variable: y (L_T, B, E_o) and the attention weights (B H, L_T, L_S),
        L_S + 1 with the attention biases.

    Example::

        y, w = PF.multi_head_attention(q, k, v, num_heads=8, name="attn")
    """
    fn = "PF.multi_head_attention"
    for label, t in (("query", query), ("key", key), ("value", value)):
        require(fn, t.ndim == 3, f"{label} has shape {t.shape}; expected 3-D "
                                 "(length, batch, features)")
    embed = k_embed_dim if k_embed_dim is not None else query.shape[2]
    v_embed = v_embed_dim if v_embed_dim is not None else value.shape[2]
    out = out_dim if out_dim is not None else v_embed
    init = param_init or {}

    def make(name, shape, default):
        return _param(name, shape, init.get(name, default), fix_parameters)

    def glorot(name, fan_in, shape):
        return make(name, shape, _glorot(fan_in, shape[-1], (1, 1), rng))

    def zeros(name, size):
        return make(name, (size,), ConstantInitializer())

    qw = glorot("q_weight", query.shape[2], (query.shape[2], embed))
    kw = glorot("k_weight", key.shape[2], (key.shape[2], embed))
    vw = glorot("v_weight", value.shape[2], (value.shape[2], v_embed))
    ow = glorot("out_weight", v_embed, (v_embed, out))
    qb = kb = vb = ob = abk = abv = None
    if with_bias:
        qb, kb, vb, ob = (zeros("q_bias", embed), zeros("k_bias", embed),
                          zeros("v_bias", v_embed), zeros("out_bias", out))
    if add_attn_bias:
        abk = make("attn_bias_k", (1, 1, embed), _glorot(embed, 1, (1, 1), rng))
        abv = make("attn_bias_v", (1, 1, v_embed), _glorot(v_embed, 1, (1, 1), rng))
    return F.multi_head_attention(query, key, value, num_heads, qw, kw, vw, ow, qb, kb, vb, ob,
                                  abk, abv, dropout, additive_mask=additive_mask,
                                  key_padding_mask=key_padding_mask)


def _dropout(x, p):
    return F.dropout(x, p) if p > 0 else x


def _add_and_norm(x, h, dropout, name):
    """Residual connection around a sublayer output ``h`` (dropped out), then layer norm."""
    return layer_normalization(x + _dropout(h, dropout), batch_axis=(0, 1), name=name)


def _self_attention(x, num_heads, add_attn_bias, additive_mask, key_padding_mask, dropout,
                    attn_name, norm_name):
    """The self-attention sublayer (``attn_name``) with add & norm (``norm_name``)."""
    h = multi_head_attention(x, x, x, num_heads=num_heads, add_attn_bias=add_attn_bias,
                             additive_mask=additive_mask, key_padding_mask=key_padding_mask,
                             name=attn_name)[0]
    return _add_and_norm(x, h, dropout, norm_name)


def _feedforward(x, dim_feedforward, embed_dim, dropout, activation, prefix, norm_name):
    """The position-wise feed-forward sublayer (``{prefix}_affine1/2``) with add & norm."""
    h = _dropout(activation(affine(x, dim_feedforward, base_axis=2, name=f"{prefix}_affine1")),
                 dropout)
    return _add_and_norm(x, affine(h, embed_dim, base_axis=2, name=f"{prefix}_affine2"),
                         dropout, norm_name)


def _check_sequence(fn, label, x, embed_dim):
    require(fn, x.ndim == 3 and x.shape[2] == embed_dim,
            f"{label} has shape {x.shape}; expected (length, batch, embed_dim={embed_dim})")


# NNabla 1.39's transformer layers hand neither ``rng`` nor ``fix_parameters``
# to the layers inside them: their parameters are drawn from the global
# generator (nablite.random.prng, seeded by nn.seed / set_parameter_seed) and
# always get gradients. nablite keeps that, so the same seed gives NNabla's
# weights and training.

@parametric_function_api("transformer_encode")
def transformer_encode(src, embed_dim, num_heads, dim_feedforward=2048, dropout=0.1,
                       activation=None, src_additive_mask=None, src_key_padding_mask=None,
                       rng=None, add_attn_bias=False, fix_parameters=False):
    """One transformer encoder layer (post-norm).

    .. math::
        h = \\mathrm{LN}_1(x + \\mathrm{Drop}(\\mathrm{SelfAttn}(x))), \\quad
        y = \\mathrm{LN}_2(h + \\mathrm{Drop}(W_2 \\mathrm{Drop}(\\mathrm{act}(W_1 h + b_1)) + b_2))

    Sub-scopes: ``src_self_attn`` (:func:`multi_head_attention`),
    ``enc_layer_norm1`` and ``enc_layer_norm2`` (:func:`layer_normalization`
    over the features, parameters (1, 1, E)), ``enc_affine1`` (E -> dim_feedforward)
    and ``enc_affine2`` (dim_feedforward -> E) (:func:`affine`).

    Args:
        src (Variable): (L_S, B, E).
        embed_dim (int): E.
        num_heads (int): Attention heads; must divide E.
        dim_feedforward (int): Width of the feed-forward block.
        dropout (float): Dropout ratio after the attention and in the feed-forward block.
        activation (callable): Of the feed-forward block (default F.relu).
        src_additive_mask (Variable): (L_S, L_S), added to the attention logits.
        src_key_padding_mask (Variable): (B, L_S) of 0/1; positions marked 1 are ignored.
        rng, fix_parameters: Accepted and unused, as in NNabla 1.39 (see above).
        add_attn_bias (bool): Attention biases in the self-attention.

    Returns:
        Variable: (L_S, B, E).

    Example::

        h = PF.transformer_encode(x, 64, 4, dim_feedforward=256, name="enc0")
    """
    _check_sequence("PF.transformer_encode", "src", src, embed_dim)
    if activation is None:
        activation = F.relu
    src = _self_attention(src, num_heads, add_attn_bias, src_additive_mask, src_key_padding_mask,
                          dropout, "src_self_attn", "enc_layer_norm1")
    return _feedforward(src, dim_feedforward, embed_dim, dropout, activation, "enc",
                        "enc_layer_norm2")


@parametric_function_api("transformer_decode")
def transformer_decode(tgt, memory, embed_dim, num_heads, dim_feedforward=2048, dropout=0.1,
                       activation=None, tgt_additive_mask=None, memory_additive_mask=None,
                       tgt_key_padding_mask=None, memory_key_padding_mask=None, rng=None,
                       add_attn_bias=False, fix_parameters=False):
    """One transformer decoder layer (post-norm): self-attention over ``tgt``,
    attention from ``tgt`` to ``memory``, then a feed-forward block, each
    followed by a residual sum and layer normalization.

    Sub-scopes: ``tgt_self_attn``, ``dec_layer_norm1``, ``tgt_memory_attn``,
    ``dec_layer_norm2``, ``dec_affine1``, ``dec_affine2``, ``dec_layer_norm3``
    (in creation order; shapes as in :func:`transformer_encode`).

    Args:
        tgt (Variable): (L_T, B, E).
        memory (Variable): (L_S, B, E), the encoder output.
        embed_dim (int): E.
        num_heads (int): Attention heads; must divide E.
        dim_feedforward (int): Width of the feed-forward block.
        dropout (float): Dropout ratio after each attention and in the feed-forward block.
        activation (callable): Of the feed-forward block (default F.relu).
        tgt_additive_mask (Variable): (L_T, L_T), added to the self-attention logits
            (e.g. -inf above the diagonal for causal decoding).
        memory_additive_mask (Variable): (L_T, L_S), added to the memory-attention logits.
        tgt_key_padding_mask (Variable): (B, L_T) of 0/1.
        memory_key_padding_mask (Variable): (B, L_S) of 0/1.
        rng, fix_parameters: Accepted and unused, as in NNabla 1.39 (see above).
        add_attn_bias (bool): Attention biases in both attentions.

    Returns:
        Variable: (L_T, B, E).

    Example::

        y = PF.transformer_decode(t, memory, 64, 4, dim_feedforward=256, name="dec0")
    """
    _check_sequence("PF.transformer_decode", "tgt", tgt, embed_dim)
    _check_sequence("PF.transformer_decode", "memory", memory, embed_dim)
    if activation is None:
        activation = F.relu
    tgt = _self_attention(tgt, num_heads, add_attn_bias, tgt_additive_mask, tgt_key_padding_mask,
                          dropout, "tgt_self_attn", "dec_layer_norm1")
    h = multi_head_attention(tgt, memory, memory, num_heads=num_heads,
                             add_attn_bias=add_attn_bias, additive_mask=memory_additive_mask,
                             key_padding_mask=memory_key_padding_mask,
                             name="tgt_memory_attn")[0]
    tgt = _add_and_norm(tgt, h, dropout, "dec_layer_norm2")
    return _feedforward(tgt, dim_feedforward, embed_dim, dropout, activation, "dec",
                        "dec_layer_norm3")


@parametric_function_api("transformer")
def transformer(src, tgt, embed_dim=512, num_heads=8, num_encoder_layers=6,
                num_decoder_layers=6, dim_feedforward=2048, dropout=0.1, activation=None,
                src_additive_mask=None, tgt_additive_mask=None, memory_additive_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, rng=None, add_attn_bias=False,
                fix_parameters=False):
    """Encoder-decoder transformer: ``num_encoder_layers`` :func:`transformer_encode`
    layers on ``src`` (scopes ``encoder00``, ``encoder01``, ...), then
    ``num_decoder_layers`` :func:`transformer_decode` layers on ``tgt`` reading
    the encoder output (``decoder00``, ...). There is no final normalization.

    Args:
        src (Variable): (L_S, B, E).
        tgt (Variable): (L_T, B, E).
        embed_dim (int): E.
        num_heads (int): Attention heads; must divide E.
        num_encoder_layers, num_decoder_layers (int): Layer counts.
        dim_feedforward (int), dropout (float), activation (callable): Of every layer.
        src_additive_mask, tgt_additive_mask, memory_additive_mask (Variable):
            Added to the encoder self-, decoder self- and decoder memory-attention logits.
        src_key_padding_mask, tgt_key_padding_mask, memory_key_padding_mask (Variable):
            0/1 masks of ignored key positions.
        rng, fix_parameters: Accepted and unused, as in NNabla 1.39 (see
            :func:`transformer_encode`).
        add_attn_bias (bool): Attention biases in every attention.

    Returns:
        Variable: (L_T, B, E).

    Example::

        y = PF.transformer(src, tgt, embed_dim=64, num_heads=4, num_encoder_layers=2,
                           num_decoder_layers=2, dim_feedforward=128)
    """
    fn = "PF.transformer"
    _check_sequence(fn, "src", src, embed_dim)
    _check_sequence(fn, "tgt", tgt, embed_dim)
    require(fn, src.shape[1] == tgt.shape[1],
            f"src {src.shape} and tgt {tgt.shape} must have the same batch size (axis 1)")
    memory = src
    for i in range(num_encoder_layers):
        memory = transformer_encode(memory, embed_dim, num_heads, dim_feedforward, dropout,
                                    activation, src_additive_mask, src_key_padding_mask,
                                    add_attn_bias=add_attn_bias, name=f"encoder{i:02d}")
    y = tgt
    for i in range(num_decoder_layers):
        y = transformer_decode(y, memory, embed_dim, num_heads, dim_feedforward, dropout,
                               activation, tgt_additive_mask, memory_additive_mask,
                               tgt_key_padding_mask, memory_key_padding_mask,
                               add_attn_bias=add_attn_bias, name=f"decoder{i:02d}")
    return y
