"""Layers that train a float weight and compute with a stored quantized or pruned
copy of it: fixed-point, pow2, pruned and min-max quantized affine / convolution."""
import numpy as np

from .. import functions as F
from ..initializer import ConstantInitializer
from ..parameter import get_parameter_or_create
from ._api import _conv_filters, _glorot, _into, _param, parametric_function_api
from .quantized import _quantized_affine_shapes, min_max_quantize

__all__ = ["fixed_point_quantized_affine", "fixed_point_quantized_convolution",
           "pow2_quantized_affine", "pow2_quantized_convolution", "pruned_affine",
           "pruned_convolution", "min_max_quantized_affine", "min_max_quantized_convolution"]


# Layers that train a float weight W and use a quantized (or pruned) copy of
# it. The copy the function computes is kept in the parameter ``W_q`` (and
# ``b_q``), with no gradient; as in NNabla, these buffers start as a separate
# draw of the initializer and hold the quantized values after each forward.
# Gradients pass from the copy to W and b by the straight-through estimator.


def _float_and_quantized(name, shape, init, fix_parameters, quantizer):
    """The trained parameter ``name`` and, with a ``quantizer``, the quantized copy
    the layer uses, stored in ``name + '_q'``."""
    p = _param(name, shape, init, fix_parameters)
    if quantizer is None:
        return p
    q = get_parameter_or_create(name + "_q", tuple(int(s) for s in shape), init, False)
    return _into(quantizer(p), q)


def _zeros_if_none(init):
    return ConstantInitializer() if init is None else init


def _quantized_affine_layer(inp, n_outmaps, base_axis, w_init, b_init, fix_parameters, rng,
                            with_bias, quantize_w, quantize_b):
    w_shape, outs = _quantized_affine_shapes(inp, n_outmaps, base_axis)
    if w_init is None:
        w_init = _glorot(w_shape[0], int(np.prod(outs)), (1, 1), rng)
    w = _float_and_quantized("W", w_shape, w_init, fix_parameters, quantize_w)
    b = None
    if with_bias:
        b = _float_and_quantized("b", outs, _zeros_if_none(b_init), fix_parameters, quantize_b)
    return F.affine(inp, w, b, base_axis)


def _quantized_conv_layer(inp, outmaps, kernel, pad, stride, dilation, group, channel_last,
                          w_init, b_init, base_axis, fix_parameters, rng, with_bias,
                          quantize_w, quantize_b):
    kernel = tuple(kernel)
    shape, w_init = _conv_filters(inp, outmaps, kernel, group, channel_last, base_axis, w_init,
                                  rng)
    w = _float_and_quantized("W", shape, w_init, fix_parameters, quantize_w)
    b = None
    if with_bias:
        b = _float_and_quantized("b", (outmaps,), _zeros_if_none(b_init), fix_parameters,
                                 quantize_b)
    return F.convolution(inp, w, b, base_axis, pad, stride, dilation, group, channel_last)


def _fixed_point(quantize, sign, n, delta, ste_fine_grained):
    if not quantize:
        return None
    return lambda v: F.fixed_point_quantize(v, sign, n, delta, True, ste_fine_grained)


def _pow2(quantize, sign, with_zero, n, m, ste_fine_grained):
    if not quantize:
        return None
    return lambda v: F.pow2_quantize(v, sign, with_zero, n, m, True, ste_fine_grained)


def _pruning(prune, rate):
    return (lambda v: F.prune(v, rate)) if prune else None


def _min_max(quantize, ql_min, ql_max, x_min_max, qr_min_init, qr_max_init, default_range,
             ste_fine_grained, eps, fix_parameters, scope):
    if not quantize:
        return None
    qr_min_init = ConstantInitializer(-default_range) if qr_min_init is None else qr_min_init
    qr_max_init = ConstantInitializer(default_range) if qr_max_init is None else qr_max_init
    return lambda v: min_max_quantize(v, ql_min, ql_max, 0.999, x_min_max, False,
                                      ste_fine_grained, eps, qr_min_init, qr_max_init,
                                      fix_parameters, name=scope)


@parametric_function_api("fp_quantized_affine")
def fixed_point_quantized_affine(inp, n_outmaps, base_axis=1, w_init=None, b_init=None,
                                 fix_parameters=False, rng=None, with_bias=True, quantize_w=True,
                                 sign_w=True, n_w=8, delta_w=0.0625, ste_fine_grained_w=True,
                                 quantize_b=True, sign_b=True, n_b=8, delta_b=0.0625,
                                 ste_fine_grained_b=True):
    """Affine layer on fixed-point quantized weights and bias.

    .. math::
        y = x Q(W) + Q(b), \\quad
        Q(v) = \\mathrm{clip}(\\mathrm{sign}(v) \\lfloor |v| / \\delta + 1/2 \\rfloor \\delta)

    clipped to (2^{n-1} - 1) delta in magnitude when signed, else to [0, (2^n - 1) delta]
    (:func:`nablite.functions.fixed_point_quantize`). Parameters:
    ``fp_quantized_affine/W`` (inmaps, *n_outmaps) and ``b`` (*n_outmaps), trained;
    ``W_q`` and ``b_q``, their quantized copies (no gradient, filled by forward).

    Args:
        inp (Variable): Input (B..., M...); M... are flattened.
        n_outmaps (int or tuple of int): Output features.
        base_axis (int): Axes before it are batch axes.
        w_init, b_init: Initializers (default: Glorot uniform, zeros); W_q and b_q
            are drawn from the same ones.
        fix_parameters (bool): Do not compute gradients of W and b.
        rng (numpy.random.RandomState): For the default W initializer.
        with_bias (bool): Create and add ``b``.
        quantize_w, quantize_b (bool): Quantize W / b (else use them as they are,
            without W_q / b_q).
        sign_w, sign_b (bool): Signed ranges.
        n_w, n_b (int): Bit widths.
        delta_w, delta_b (float): Step sizes.
        ste_fine_grained_w, ste_fine_grained_b (bool): Zero the gradient where the
            value is clipped.

    Returns:
        Variable: (B..., n_outmaps...).

    Example::

        h = PF.fixed_point_quantized_affine(x, 64, n_w=4, delta_w=2 ** -3, name="fc1")
    """
    return _quantized_affine_layer(
        inp, n_outmaps, base_axis, w_init, b_init, fix_parameters, rng, with_bias,
        _fixed_point(quantize_w, sign_w, n_w, delta_w, ste_fine_grained_w),
        _fixed_point(quantize_b, sign_b, n_b, delta_b, ste_fine_grained_b))


@parametric_function_api("fp_quantized_conv")
def fixed_point_quantized_convolution(inp, outmaps, kernel, pad=None, stride=None,
                                      dilation=None, group=1, channel_last=False, w_init=None,
                                      b_init=None, base_axis=1, fix_parameters=False, rng=None,
                                      with_bias=True, quantize_w=True, sign_w=True, n_w=8,
                                      delta_w=0.0625, ste_fine_grained_w=True, quantize_b=True,
                                      sign_b=True, n_b=8, delta_b=0.0625,
                                      ste_fine_grained_b=True):
    """Convolution on fixed-point quantized filters and bias.

    The quantization of :func:`fixed_point_quantized_affine` on
    ``fp_quantized_conv/W`` (outmaps, C / group, *kernel) and ``b`` (outmaps,),
    with the copies ``W_q``, ``b_q``. With channel_last, W and W_q are
    (outmaps, *kernel, C / group) and the convolution is channel-last (NNabla
    1.39 gives W the channel-first shape there and fails to build the layer).

    Args:
        inp, outmaps, kernel, pad, stride, dilation, group, channel_last: As in
            :func:`convolution`.
        w_init, b_init, base_axis, fix_parameters, rng, with_bias, quantize_w,
        sign_w, n_w, delta_w, ste_fine_grained_w, quantize_b, sign_b, n_b, delta_b,
        ste_fine_grained_b: As in :func:`fixed_point_quantized_affine`.

    Returns:
        Variable: (B..., outmaps, *out_spatial).

    Example::

        h = PF.fixed_point_quantized_convolution(x, 16, (3, 3), pad=(1, 1), name="c1")
    """
    return _quantized_conv_layer(
        inp, outmaps, kernel, pad, stride, dilation, group, channel_last, w_init, b_init,
        base_axis, fix_parameters, rng, with_bias,
        _fixed_point(quantize_w, sign_w, n_w, delta_w, ste_fine_grained_w),
        _fixed_point(quantize_b, sign_b, n_b, delta_b, ste_fine_grained_b))


@parametric_function_api("pow2_quantized_affine")
def pow2_quantized_affine(inp, n_outmaps, base_axis=1, w_init=None, b_init=None,
                          fix_parameters=False, rng=None, with_bias=True, quantize_w=True,
                          sign_w=True, with_zero_w=False, n_w=8, m_w=2, ste_fine_grained_w=True,
                          quantize_b=True, sign_b=True, with_zero_b=False, n_b=8, m_b=2,
                          ste_fine_grained_b=True):
    """Affine layer on power-of-two quantized weights and bias.

    .. math:: y = x Q(W) + Q(b), \\quad Q(v) = \\mathrm{sign}(v)\\, 2^{\\mathrm{round}(\\log_2 |v|)}

    with |Q| saturated to [2^{m - (2^k - 1)}, 2^m], k = n - sign - with_zero bits
    (:func:`nablite.functions.pow2_quantize`). Parameters:
    ``pow2_quantized_affine/W`` (inmaps, *n_outmaps), ``b`` (*n_outmaps), trained;
    ``W_q``, ``b_q``, their quantized copies (no gradient).

    Args:
        inp (Variable): Input (B..., M...); M... are flattened.
        n_outmaps (int or tuple of int): Output features.
        base_axis (int): Axes before it are batch axes.
        w_init, b_init: Initializers (default: Glorot uniform, zeros), also of W_q / b_q.
        fix_parameters (bool): Do not compute gradients of W and b.
        rng (numpy.random.RandomState): For the default W initializer.
        with_bias (bool): Create and add ``b``.
        quantize_w, quantize_b (bool): Quantize W / b.
        sign_w, sign_b (bool): Keep signs. with_zero_w, with_zero_b (bool): Represent 0.
        n_w, n_b (int): Bit widths. m_w, m_b (int): 2^m is the largest magnitude.
        ste_fine_grained_w, ste_fine_grained_b (bool): Zero the gradient where Q saturates.

    Returns:
        Variable: (B..., n_outmaps...).

    Example::

        h = PF.pow2_quantized_affine(x, 64, n_w=4, m_w=1, name="fc1")
    """
    return _quantized_affine_layer(
        inp, n_outmaps, base_axis, w_init, b_init, fix_parameters, rng, with_bias,
        _pow2(quantize_w, sign_w, with_zero_w, n_w, m_w, ste_fine_grained_w),
        _pow2(quantize_b, sign_b, with_zero_b, n_b, m_b, ste_fine_grained_b))


@parametric_function_api("pow2_quantized_conv")
def pow2_quantized_convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None,
                               group=1, w_init=None, b_init=None, base_axis=1,
                               fix_parameters=False, rng=None, with_bias=True, quantize_w=True,
                               with_zero_w=False, sign_w=True, n_w=8, m_w=2,
                               ste_fine_grained_w=True, quantize_b=True, with_zero_b=False,
                               sign_b=True, n_b=8, m_b=2, ste_fine_grained_b=True):
    """Convolution on power-of-two quantized filters and bias: the quantization of
    :func:`pow2_quantized_affine` on ``pow2_quantized_conv/W`` (outmaps, C / group,
    *kernel) and ``b`` (outmaps,), with the copies ``W_q``, ``b_q``.

    Args:
        inp, outmaps, kernel, pad, stride, dilation, group: As in :func:`convolution`.
        w_init, b_init, base_axis, fix_parameters, rng, with_bias, quantize_w,
        with_zero_w, sign_w, n_w, m_w, ste_fine_grained_w, quantize_b, with_zero_b,
        sign_b, n_b, m_b, ste_fine_grained_b: As in :func:`pow2_quantized_affine`.

    Returns:
        Variable: (B..., outmaps, *out_spatial).

    Example::

        h = PF.pow2_quantized_convolution(x, 16, (3, 3), pad=(1, 1), name="c1")
    """
    return _quantized_conv_layer(
        inp, outmaps, kernel, pad, stride, dilation, group, False, w_init, b_init, base_axis,
        fix_parameters, rng, with_bias,
        _pow2(quantize_w, sign_w, with_zero_w, n_w, m_w, ste_fine_grained_w),
        _pow2(quantize_b, sign_b, with_zero_b, n_b, m_b, ste_fine_grained_b))


@parametric_function_api("pruned_affine")
def pruned_affine(inp, n_outmaps, base_axis=1, w_init=None, b_init=None, fix_parameters=False,
                  rng=None, with_bias=True, prune_w=True, rate_w=0.9, prune_b=True, rate_b=0.9):
    """Affine layer on pruned weights and bias: about a fraction ``rate`` of the
    entries of smallest magnitude are zeroed in each forward
    (:func:`nablite.functions.prune`). Parameters: ``pruned_affine/W``
    (inmaps, *n_outmaps), ``b`` (*n_outmaps), trained; ``W_q``, ``b_q``, the
    pruned copies (no gradient).

    Args:
        inp (Variable): Input (B..., M...); M... are flattened.
        n_outmaps (int or tuple of int): Output features.
        base_axis (int): Axes before it are batch axes.
        w_init, b_init: Initializers (default: Glorot uniform, zeros), also of W_q / b_q.
        fix_parameters (bool): Do not compute gradients of W and b.
        rng (numpy.random.RandomState): For the default W initializer.
        with_bias (bool): Create and add ``b``.
        prune_w, prune_b (bool): Prune W / b.
        rate_w, rate_b (float): Fractions to zero, in [0, 1].

    Returns:
        Variable: (B..., n_outmaps...).

    Example::

        h = PF.pruned_affine(x, 64, rate_w=0.5, name="fc1")
    """
    return _quantized_affine_layer(inp, n_outmaps, base_axis, w_init, b_init, fix_parameters,
                                   rng, with_bias, _pruning(prune_w, rate_w),
                                   _pruning(prune_b, rate_b))


@parametric_function_api("pruned_conv")
def pruned_convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None, group=1,
                       channel_last=False, w_init=None, b_init=None, base_axis=1,
                       fix_parameters=False, rng=None, with_bias=True, prune_w=True, rate_w=0.9,
                       prune_b=True, rate_b=0.9):
    """Convolution on pruned filters and bias: the pruning of :func:`pruned_affine`
    on ``pruned_conv/W`` (outmaps, C / group, *kernel) and ``b`` (outmaps,), with
    the copies ``W_q``, ``b_q``. With channel_last both W and W_q are
    (outmaps, *kernel, C / group) (NNabla 1.39 gives W_q the channel-first shape
    there and fails to build the layer).

    Args:
        inp, outmaps, kernel, pad, stride, dilation, group, channel_last: As in
            :func:`convolution`.
        w_init, b_init, base_axis, fix_parameters, rng, with_bias, prune_w, rate_w,
        prune_b, rate_b: As in :func:`pruned_affine`.

    Returns:
        Variable: (B..., outmaps, *out_spatial).

    Example::

        h = PF.pruned_convolution(x, 16, (3, 3), pad=(1, 1), rate_w=0.5, name="c1")
    """
    return _quantized_conv_layer(inp, outmaps, kernel, pad, stride, dilation, group,
                                 channel_last, w_init, b_init, base_axis, fix_parameters, rng,
                                 with_bias, _pruning(prune_w, rate_w), _pruning(prune_b, rate_b))


@parametric_function_api("min_max_quantized_affine")
def min_max_quantized_affine(inp, n_outmaps, base_axis=1, w_init=None, b_init=None,
                             fix_parameters=False, rng=None, with_bias=True, quantize_w=True,
                             ql_min_w=0, ql_max_w=255, w_min_max=False, qr_min_w_init=None,
                             qr_max_w_init=None, ste_fine_grained_w=True, quantize_b=True,
                             ql_min_b=0, ql_max_b=255, b_min_max=False, qr_min_b_init=None,
                             qr_max_b_init=None, ste_fine_grained_b=True, eps=0.01):
    """Affine layer on min-max quantized weights and bias.

    W and b go through :func:`min_max_quantize` in the sub-scopes
    ``min_max_quantize_w`` and ``min_max_quantize_b``, whose ranges
    ``qr_min`` / ``qr_max`` start at -2 / +2 for W and -6 / +6 for b and are
    learned (or, with ``w_min_max`` / ``b_min_max``, set to the value range each
    forward). Parameters in creation order: ``min_max_quantized_affine/W``,
    ``W_q``, ``min_max_quantize_w/min_max_quantize/{ql_min, ql_max, qr_min,
    qr_max}`` (1, 1), ``b``, ``b_q``, ``min_max_quantize_b/min_max_quantize/...`` (1,).

    Args:
        inp (Variable): Input (B..., M...); M... are flattened.
        n_outmaps (int or tuple of int): Output features.
        base_axis (int): Axes before it are batch axes.
        w_init, b_init: Initializers (default: Glorot uniform, zeros), also of W_q / b_q.
        fix_parameters (bool): Do not compute gradients of W, b and the ranges.
        rng (numpy.random.RandomState): For the default W initializer.
        with_bias (bool): Create and add ``b``.
        quantize_w, quantize_b (bool): Quantize W / b.
        ql_min_w, ql_max_w, ql_min_b, ql_max_b (int, float or Variable): Levels.
        w_min_max, b_min_max (bool): Take the range from the values' min / max.
        qr_min_w_init, qr_max_w_init, qr_min_b_init, qr_max_b_init: Range initializers.
        ste_fine_grained_w, ste_fine_grained_b (bool): Zero the gradient outside the range.
        eps (float): Smallest width of a range.

    Returns:
        Variable: (B..., n_outmaps...).

    Example::

        h = PF.min_max_quantized_affine(x, 64, ql_max_w=15, name="fc1")
    """
    return _quantized_affine_layer(
        inp, n_outmaps, base_axis, w_init, b_init, fix_parameters, rng, with_bias,
        _min_max(quantize_w, ql_min_w, ql_max_w, w_min_max, qr_min_w_init, qr_max_w_init, 2.0,
                 ste_fine_grained_w, eps, fix_parameters, "min_max_quantize_w"),
        _min_max(quantize_b, ql_min_b, ql_max_b, b_min_max, qr_min_b_init, qr_max_b_init, 6.0,
                 ste_fine_grained_b, eps, fix_parameters, "min_max_quantize_b"))


@parametric_function_api("min_max_quantized_conv")
def min_max_quantized_convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None,
                                  group=1, channel_last=False, w_init=None, b_init=None,
                                  base_axis=1, fix_parameters=False, rng=None, with_bias=True,
                                  quantize_w=True, ql_min_w=0, ql_max_w=255, w_min_max=False,
                                  qr_min_w_init=None, qr_max_w_init=None,
                                  ste_fine_grained_w=True, quantize_b=True, ql_min_b=0,
                                  ql_max_b=255, b_min_max=False, qr_min_b_init=None,
                                  qr_max_b_init=None, ste_fine_grained_b=True, eps=0.01):
    """Convolution on min-max quantized filters and bias: the quantization of
    :func:`min_max_quantized_affine` on ``min_max_quantized_conv/W``
    (outmaps, C / group, *kernel), or (outmaps, *kernel, C / group) with
    channel_last, and ``b`` (outmaps,); the W quantizer's parameters are
    (1, 1, 1, 1) for a 2-D kernel.

    Args:
        inp, outmaps, kernel, pad, stride, dilation, group, channel_last: As in
            :func:`convolution`.
        w_init, b_init, base_axis, fix_parameters, rng, with_bias, quantize_w,
        ql_min_w, ql_max_w, w_min_max, qr_min_w_init, qr_max_w_init,
        ste_fine_grained_w, quantize_b, ql_min_b, ql_max_b, b_min_max, qr_min_b_init,
        qr_max_b_init, ste_fine_grained_b, eps: As in :func:`min_max_quantized_affine`.

    Returns:
        Variable: (B..., outmaps, *out_spatial).

    Example::

        h = PF.min_max_quantized_convolution(x, 16, (3, 3), pad=(1, 1), name="c1")
    """
    return _quantized_conv_layer(
        inp, outmaps, kernel, pad, stride, dilation, group, channel_last, w_init, b_init,
        base_axis, fix_parameters, rng, with_bias,
        _min_max(quantize_w, ql_min_w, ql_max_w, w_min_max, qr_min_w_init, qr_max_w_init, 2.0,
                 ste_fine_grained_w, eps, fix_parameters, "min_max_quantize_w"),
        _min_max(quantize_b, ql_min_b, ql_max_b, b_min_max, qr_min_b_init, qr_max_b_init, 6.0,
                 ste_fine_grained_b, eps, fix_parameters, "min_max_quantize_b"))
