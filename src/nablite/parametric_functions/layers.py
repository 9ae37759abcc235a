"""Core layers: affine, (de)convolution, depthwise (de)convolution, deformable
convolution, embed and prelu."""
import numpy as np

from .. import functions as F
from ..initializer import ConstantInitializer, UniformInitializer
from ._api import (_axis, _bias, _channels, _conv_filters, _glorot, _param, _weight_and_bias,
                   parametric_function_api)

__all__ = ["affine", "convolution", "deconvolution", "depthwise_convolution",
           "depthwise_deconvolution", "deformable_convolution", "embed", "prelu"]


@parametric_function_api("affine")
def affine(inp, n_outmaps, base_axis=1, w_init=None, b_init=None, fix_parameters=False,
           rng=None, with_bias=True, apply_w=None, apply_b=None):
    """Fully connected layer: y = x W + b, with x flattened from ``base_axis`` on.

    Args:
        inp (Variable): Input of shape (B..., M...); M... are flattened.
        n_outmaps (int or tuple of int): Output features (a tuple gives an N-d output).
        base_axis (int): Axes before it are batch axes.
        w_init, b_init: Initializers (default: Glorot uniform, zeros).
        fix_parameters (bool): Do not compute gradients of W and b.
        rng (numpy.random.RandomState): For the default W initializer.
        with_bias (bool): Create and add ``b``.
        apply_w, apply_b (callable): Applied to W / b before use (e.g. a normalization).

    Returns:
        Variable: (B..., n_outmaps...). Parameters: ``affine/W``, ``affine/b``.
    """
    outs = list(n_outmaps) if hasattr(n_outmaps, "__iter__") else [n_outmaps]
    base_axis = _axis(base_axis, inp.ndim)
    inmaps = int(np.prod(inp.shape[base_axis:]))
    if w_init is None:
        w_init = _glorot(inmaps, int(np.prod(outs)), (1, 1), rng)
    w, b = _weight_and_bias([inmaps] + outs, w_init, outs, b_init, fix_parameters, with_bias,
                            apply_w, apply_b)
    return F.affine(inp, w, b, base_axis)


@parametric_function_api("conv")
def convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None, group=1,
                channel_last=False, w_init=None, b_init=None, base_axis=1, fix_parameters=False,
                rng=None, with_bias=True, apply_w=None, apply_b=None):
    """N-d convolution layer with weight ``conv/W`` (outmaps, C/group, *kernel) and bias ``conv/b``.

    Args:
        inp (Variable): (B..., C, *spatial), or (B..., *spatial, C) with channel_last.
        outmaps (int): Output channels.
        kernel (tuple of int): Kernel shape.
        pad, stride, dilation (tuple of int): Per spatial axis (defaults 0, 1, 1).
        group (int): Channel groups.
        channel_last (bool): Channels are the last axis (W is then (outmaps, *kernel, C/group)).
        w_init, b_init: Initializers (default: Glorot uniform, zeros).
        base_axis (int), fix_parameters (bool), rng, with_bias (bool), apply_w, apply_b:
            as in :func:`affine`.

    Returns:
        Variable: (B..., outmaps, *out_spatial).
    """
    kernel = tuple(kernel)
    shape, w_init = _conv_filters(inp, outmaps, kernel, group, channel_last, base_axis, w_init,
                                  rng)
    w, b = _weight_and_bias(shape, w_init, (outmaps,), b_init, fix_parameters, with_bias,
                            apply_w, apply_b)
    return F.convolution(inp, w, b, base_axis, pad, stride, dilation, group, channel_last)


@parametric_function_api("deconv")
def deconvolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None, group=1,
                  channel_last=False, output_padding=None, w_init=None, b_init=None, base_axis=1,
                  fix_parameters=False, rng=None, with_bias=True, apply_w=None, apply_b=None):
    """Transposed convolution layer with ``deconv/W`` (C, outmaps/group, *kernel) and ``deconv/b``.

    Arguments as :func:`convolution`, plus ``output_padding`` (extra size added
    to one side of each output spatial axis).
    """
    kernel = tuple(kernel)
    c = _channels(inp, base_axis, channel_last)
    if w_init is None:
        w_init = _glorot(outmaps, c, kernel, rng)
    shape = ((c,) + kernel + (outmaps // group,) if channel_last
             else (c, outmaps // group) + kernel)
    w, b = _weight_and_bias(shape, w_init, (outmaps,), b_init, fix_parameters, with_bias,
                            apply_w, apply_b)
    return F.deconvolution(inp, w, b, base_axis, pad, stride, dilation, group, channel_last,
                           output_padding)


@parametric_function_api("depthwise_conv")
def depthwise_convolution(inp, kernel, pad=None, stride=None, dilation=None, multiplier=1,
                          w_init=None, b_init=None, base_axis=1, fix_parameters=False, rng=None,
                          with_bias=True):
    """Depthwise convolution with ``depthwise_conv/W`` (C * multiplier, *kernel) and ``b``."""
    kernel = tuple(kernel)
    c = inp.shape[_axis(base_axis, inp.ndim)]
    if w_init is None:
        w_init = _glorot(c * multiplier, c, kernel, rng)
    w = _param("W", (c * multiplier,) + kernel, w_init, fix_parameters)
    b = _bias("b", (c * multiplier,), b_init, fix_parameters, with_bias)
    return F.depthwise_convolution(inp, w, b, base_axis, pad, stride, dilation, multiplier)


@parametric_function_api("depthwise_deconv")
def depthwise_deconvolution(inp, kernel, pad=None, stride=None, dilation=None, divisor=1,
                            w_init=None, b_init=None, base_axis=1, fix_parameters=False,
                            rng=None, with_bias=True):
    """Depthwise transposed convolution with ``depthwise_deconv/W`` (C, *kernel) and
    ``b`` (C / divisor,)."""
    kernel = tuple(kernel)
    c = inp.shape[_axis(base_axis, inp.ndim)]
    if w_init is None:
        w_init = _glorot(c, c, kernel, rng)
    w = _param("W", (c,) + kernel, w_init, fix_parameters)
    b = _bias("b", (c // divisor,), b_init, fix_parameters, with_bias)
    return F.depthwise_deconvolution(inp, w, b, base_axis, pad, stride, dilation, divisor)


@parametric_function_api("deformable_conv")
def deformable_convolution(inp, outmaps, kernel, offset, mask=None, pad=None, stride=None,
                           dilation=None, group=1, deformable_group=1, channel_last=False,
                           w_init=None, b_init=None, base_axis=1, fix_parameters=False, rng=None,
                           with_bias=True, apply_w=None, apply_b=None):
    """2-D deformable convolution layer with ``deformable_conv/W`` and ``deformable_conv/b``.

    Each kernel tap samples the input at its regular position shifted by a
    learned ``offset`` (and, with ``mask``, scaled by it); see
    :func:`nablite.functions.deformable_convolution`. The offsets and mask are
    inputs, usually computed by another convolution of the same input.

    Args:
        inp (Variable): (B..., C, H, W), or (B..., H, W, C) with channel_last.
        outmaps (int): Output channels.
        kernel (tuple of int): Kernel shape (kh, kw).
        offset (Variable): (B..., deformable_group * 2 * kh * kw, H, W).
        mask (Variable, optional): (B..., deformable_group * kh * kw, H, W).
        pad, stride, dilation (tuple of int): Per spatial axis (defaults 0, 1, 1).
        group (int): Channel groups of the convolution.
        deformable_group (int): Channel groups sharing one set of offsets.
        channel_last (bool): Channels are the last axis (W is then (outmaps, kh, kw, C/group)).
        w_init, b_init: Initializers (default: Glorot uniform, zeros).
        base_axis (int), fix_parameters (bool), rng, with_bias (bool), apply_w, apply_b:
            as in :func:`convolution`.

    Returns:
        Variable: (B..., outmaps, OH, OW).

    Example::

        off = PF.convolution(x, 2 * 3 * 3, (3, 3), pad=(1, 1), name="offset")
        h = PF.deformable_convolution(x, 16, (3, 3), off, pad=(1, 1), name="dcn")
    """
    kernel = tuple(kernel)
    shape, w_init = _conv_filters(inp, outmaps, kernel, group, channel_last, base_axis, w_init,
                                  rng)
    w, b = _weight_and_bias(shape, w_init, (outmaps,), b_init, fix_parameters, with_bias,
                            apply_w, apply_b)
    return F.deformable_convolution(inp, w, offset, mask, b, base_axis, pad, stride, dilation,
                                    group, deformable_group, channel_last)


@parametric_function_api("embed")
def embed(inp, n_inputs, n_features, initializer=None, fix_parameters=False, apply_w=None):
    """Embedding: rows of ``embed/W`` (n_inputs, n_features) picked by integer ``inp``.

    The default initializer is Uniform(-sqrt(3), sqrt(3)) (unit variance).

    Returns:
        Variable: inp.shape + (n_features,).
    """
    if initializer is None:
        initializer = UniformInitializer((-np.sqrt(3.), np.sqrt(3.)))
    w = _param("W", (n_inputs, n_features), initializer, fix_parameters)
    if apply_w is not None:
        w = apply_w(w)
    return F.embed(inp, w)


@parametric_function_api("prelu")
def prelu(inp, base_axis=1, shared=True, fix_parameters=False, slope_init=None):
    """Parametric ReLU with learnable ``prelu/slope``: () if shared, else (C,) at base_axis.

    The slope starts at 0.25.
    """
    shape = () if shared else (inp.shape[_axis(base_axis, inp.ndim)],)
    if slope_init is None:
        slope_init = ConstantInitializer(0.25)
    w = _param("slope", shape, slope_init, fix_parameters)
    return F.prelu(inp, w, base_axis)
