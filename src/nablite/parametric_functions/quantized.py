"""Binary and INQ quantized layers (binary_connect_*, binary_weight_*, inq_*) and
min_max_quantize, with the shape helpers the other quantized layers share."""
import numpy as np

from .. import functions as F
from ..initializer import ConstantInitializer
from ..parameter import get_parameter_or_create
from ._api import _axis, _bias, _glorot, _param, parametric_function_api

__all__ = ["binary_connect_affine", "binary_connect_convolution", "binary_weight_affine",
           "binary_weight_convolution", "inq_affine", "inq_convolution", "min_max_quantize"]


# Quantized layers. Each keeps the float weight ``W`` a solver trains next to the
# buffers its function fills on forward (``Wb``, ``alpha``, ``I``), which are
# stored without gradient and are not affected by ``fix_parameters``.


def _quantized_affine_shapes(inp, n_outmaps, base_axis):
    """(W shape, output shape) of an affine: (inmaps, *outs), outs."""
    outs = list(n_outmaps) if hasattr(n_outmaps, "__iter__") else [n_outmaps]
    inmaps = int(np.prod(inp.shape[_axis(base_axis, inp.ndim):]))
    return [inmaps] + outs, outs


def _quantized_conv_channels(inp, base_axis):
    # NNabla sizes these filters (outmaps, C, *kernel) with all C input channels
    # whatever ``group`` is, so group > 1 is rejected by the function itself.
    return inp.shape[_axis(base_axis, inp.ndim)]


def _float_and_binary_weights(shape, fan_in, fan_out, kernel, w_init, wb_init, fix_parameters,
                              rng):
    """``W`` (trained) and ``Wb`` (sign buffer), both Glorot-uniform by default."""
    if w_init is None:
        w_init = _glorot(fan_in, fan_out, kernel, rng)
    if wb_init is None:
        wb_init = _glorot(fan_in, fan_out, kernel, rng)
    w = _param("W", shape, w_init, fix_parameters)
    wb = get_parameter_or_create("Wb", tuple(int(s) for s in shape), wb_init, False)
    return w, wb


def _affine_weights(make, inp, n_outmaps, base_axis, w_init, x_init, fix_parameters, rng):
    """The weight pair ``make`` (``_float_and_binary_weights`` or ``_inq_weights``)
    creates for an affine, and its output shape."""
    w_shape, outs = _quantized_affine_shapes(inp, n_outmaps, base_axis)
    w, x = make(w_shape, w_shape[0], int(np.prod(outs)), (1, 1), w_init, x_init,
                fix_parameters, rng)
    return w, x, outs


def _conv_weights(make, inp, outmaps, kernel, base_axis, w_init, x_init, fix_parameters, rng):
    """The weight pair ``make`` creates for a convolution: (outmaps, C, *kernel)."""
    kernel = tuple(kernel)
    c = _quantized_conv_channels(inp, base_axis)
    return make((outmaps, c) + kernel, c, outmaps, kernel, w_init, x_init, fix_parameters, rng)


def _alpha(shape):
    return get_parameter_or_create("alpha", tuple(int(s) for s in shape),
                                   ConstantInitializer(0), False)


def _inq_weights(shape, fan_in, fan_out, kernel, w_init, i_init, fix_parameters, rng):
    """``W`` (trained, Glorot-uniform) and the indicator ``I`` (0 = learnable, 1 = fixed)."""
    if w_init is None:
        w_init = _glorot(fan_in, fan_out, kernel, rng)
    w = _param("W", shape, w_init, fix_parameters)
    i = get_parameter_or_create("I", tuple(int(s) for s in shape),
                                i_init if i_init is not None else ConstantInitializer(), False)
    return w, i


@parametric_function_api("bicon_affine")
def binary_connect_affine(inp, n_outmaps, base_axis=1, quantize_zero_to=1.0, w_init=None,
                          wb_init=None, b_init=None, fix_parameters=False, rng=None,
                          with_bias=True):
    """Affine layer on sign-binarized weights (BinaryConnect).

    .. math::
        y_j = \\sum_i \\mathrm{sign}(W_{ij}) x_i + b_j

    Parameters: ``bicon_affine/W`` (inmaps, *n_outmaps), the float weight that is
    trained; ``bicon_affine/Wb`` (same shape, no gradient), which each forward
    overwrites with sign(W); ``bicon_affine/b`` (*n_outmaps). Wb is only in sync
    with W after a forward.

    Args:
        inp (Variable): Input (B..., M...); M... are flattened.
        n_outmaps (int or tuple of int): Output features.
        base_axis (int): Axes before it are batch axes.
        quantize_zero_to (float): What a weight of exactly 0 binarizes to.
        w_init, wb_init, b_init: Initializers (default: Glorot uniform for W and
            Wb, zeros for b).
        fix_parameters (bool): Do not compute gradients of W and b.
        rng (numpy.random.RandomState): For the default initializers.
        with_bias (bool): Create and add ``b``.

    Returns:
        Variable: (B..., n_outmaps...).

    Example::

        h = PF.binary_connect_affine(x, 64, name="fc1")   # fc1/bicon_affine/{W,Wb,b}
    """
    w, wb, outs = _affine_weights(_float_and_binary_weights, inp, n_outmaps, base_axis, w_init,
                                  wb_init, fix_parameters, rng)
    b = _bias("b", outs, b_init, fix_parameters, with_bias)
    return F.binary_connect_affine(inp, w, wb, b, base_axis, quantize_zero_to)


@parametric_function_api("bicon_conv")
def binary_connect_convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None,
                               group=1, quantize_zero_to=1.0, w_init=None, wb_init=None,
                               b_init=None, base_axis=1, fix_parameters=False, rng=None,
                               with_bias=True):
    """Convolution on sign-binarized filters (BinaryConnect).

    Parameters: ``bicon_conv/W`` (outmaps, C, *kernel), trained; ``bicon_conv/Wb``
    (same shape, no gradient), overwritten with sign(W) by each forward;
    ``bicon_conv/b`` (outmaps,). As in NNabla the filters span all C input
    channels, so only ``group=1`` runs.

    Args:
        inp (Variable): (B..., C, *spatial).
        outmaps (int): Output channels.
        kernel (tuple of int): Filter size.
        pad, stride, dilation, group: As in :func:`nablite.functions.convolution`.
        quantize_zero_to (float): What a weight of exactly 0 binarizes to.
        w_init, wb_init, b_init: Initializers (default: Glorot uniform, zeros for b).
        base_axis (int): The channel axis.
        fix_parameters (bool): Do not compute gradients of W and b.
        rng (numpy.random.RandomState): For the default initializers.
        with_bias (bool): Create and add ``b``.

    Returns:
        Variable: (B..., outmaps, *out_spatial).

    Example::

        h = PF.binary_connect_convolution(x, 16, (3, 3), pad=(1, 1), name="c1")
    """
    w, wb = _conv_weights(_float_and_binary_weights, inp, outmaps, kernel, base_axis, w_init,
                          wb_init, fix_parameters, rng)
    b = _bias("b", (outmaps,), b_init, fix_parameters, with_bias)
    return F.binary_connect_convolution(inp, w, wb, b, base_axis, pad, stride, dilation, group,
                                        quantize_zero_to)


@parametric_function_api("bwn_affine")
def binary_weight_affine(inp, n_outmaps, base_axis=1, quantize_zero_to=1.0, w_init=None,
                         wb_init=None, b_init=None, fix_parameters=False, rng=None,
                         with_bias=True):
    """Affine layer on binarized weights scaled per output (Binary Weight Network).

    .. math::
        \\alpha_j = \\frac{1}{D} \\sum_i |W_{ij}|, \\quad
        y_j = \\alpha_j \\sum_i \\mathrm{sign}(W_{ij}) x_i + b_j

    Parameters: ``bwn_affine/W`` (inmaps, *n_outmaps), trained; ``bwn_affine/Wb``
    (same shape) and ``bwn_affine/alpha`` (*n_outmaps, starting at 0), buffers
    without gradient that each forward overwrites; ``bwn_affine/b`` (*n_outmaps).

    Args:
        inp, n_outmaps, base_axis, quantize_zero_to, w_init, wb_init, b_init,
        fix_parameters, rng, with_bias: As in :func:`binary_connect_affine`.

    Returns:
        Variable: (B..., n_outmaps...).

    Example::

        h = PF.binary_weight_affine(x, 64, name="fc1")   # fc1/bwn_affine/{W,Wb,alpha,b}
    """
    w, wb, outs = _affine_weights(_float_and_binary_weights, inp, n_outmaps, base_axis, w_init,
                                  wb_init, fix_parameters, rng)
    alpha = _alpha(outs)
    b = _bias("b", outs, b_init, fix_parameters, with_bias)
    return F.binary_weight_affine(inp, w, wb, alpha, b, base_axis, quantize_zero_to)


@parametric_function_api("bwn_conv")
def binary_weight_convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None,
                              group=1, quantize_zero_to=1.0, w_init=None, wb_init=None,
                              b_init=None, base_axis=1, fix_parameters=False, rng=None,
                              with_bias=True):
    """Convolution on binarized filters scaled per filter (Binary Weight Network).

    ``alpha[o]`` is the mean |W| of filter ``o``. Parameters: ``bwn_conv/W``
    (outmaps, C, *kernel), trained; ``bwn_conv/Wb`` (same shape) and
    ``bwn_conv/alpha`` (outmaps,), buffers without gradient; ``bwn_conv/b``
    (outmaps,). As in NNabla the filters span all C input channels, so only
    ``group=1`` runs.

    Args:
        inp, outmaps, kernel, pad, stride, dilation, group, quantize_zero_to, w_init,
        wb_init, b_init, base_axis, fix_parameters, rng, with_bias: As in
            :func:`binary_connect_convolution`.

    Returns:
        Variable: (B..., outmaps, *out_spatial).

    Example::

        h = PF.binary_weight_convolution(x, 16, (3, 3), pad=(1, 1), name="c1")
    """
    w, wb = _conv_weights(_float_and_binary_weights, inp, outmaps, kernel, base_axis, w_init,
                          wb_init, fix_parameters, rng)
    alpha = _alpha((outmaps,))
    b = _bias("b", (outmaps,), b_init, fix_parameters, with_bias)
    return F.binary_weight_convolution(inp, w, wb, alpha, b, base_axis, pad, stride, dilation,
                                       group, quantize_zero_to)


@parametric_function_api("inq_affine")
def inq_affine(inp, n_outmaps, base_axis=1, num_bits=4, inq_iterations=(),
               selection_algorithm='random', seed=-1, w_init=None, i_init=None, b_init=None,
               fix_parameters=False, rng=None, with_bias=True):
    """Affine layer with incremental network quantization (INQ).

    At each forward count in ``inq_iterations`` half of the still-learnable
    weights (all of them at the last entry) are fixed to signed powers of two;
    see :func:`nablite.functions.inq_affine`. Parameters: ``inq_affine/W``
    (inmaps, *n_outmaps), trained and rewritten in place; ``inq_affine/I`` (same
    shape, float, no gradient) marks fixed weights with 1 and starts at 0;
    ``inq_affine/b`` (*n_outmaps).

    Note the default ``selection_algorithm`` is 'random' here but 'largest_abs'
    in the function, as in NNabla.

    Args:
        inp (Variable): Input (B..., M...); M... are flattened.
        n_outmaps (int or tuple of int): Output features.
        base_axis (int): Axes before it are batch axes.
        num_bits (int): Bits per weight (one codes the sign, one the zero).
        inq_iterations (tuple of int): Forward counts at which weights get fixed.
        selection_algorithm (str): 'random' or 'largest_abs'.
        seed (int): Seed of 'random' (-1: not seeded).
        w_init, i_init, b_init: Initializers (default: Glorot uniform, zeros, zeros).
        fix_parameters (bool): Do not compute gradients of W and b.
        rng (numpy.random.RandomState): For the default W initializer.
        with_bias (bool): Create and add ``b``.

    Returns:
        Variable: (B..., n_outmaps...).

    Example::

        h = PF.inq_affine(x, 64, inq_iterations=(100, 200), name="fc1")
    """
    w, i, outs = _affine_weights(_inq_weights, inp, n_outmaps, base_axis, w_init, i_init,
                                 fix_parameters, rng)
    b = _bias("b", outs, b_init, fix_parameters, with_bias)
    return F.inq_affine(inp, w, i, b, base_axis, num_bits, inq_iterations, selection_algorithm,
                        seed)


@parametric_function_api("inq_conv")
def inq_convolution(inp, outmaps, kernel, pad=None, stride=None, dilation=None, group=1,
                    num_bits=4, inq_iterations=(), selection_algorithm='random', seed=-1,
                    w_init=None, i_init=None, b_init=None, base_axis=1, fix_parameters=False,
                    rng=None, with_bias=True):
    """Convolution with incremental network quantization (INQ).

    The schedule of :func:`inq_affine` on the filters ``inq_conv/W``
    (outmaps, C, *kernel), with the indicator ``inq_conv/I`` (same shape, no
    gradient, 0 at first) and ``inq_conv/b`` (outmaps,). As in NNabla the filters
    span all C input channels, so only ``group=1`` runs.

    Args:
        inp (Variable): (B..., C, *spatial).
        outmaps (int): Output channels.
        kernel (tuple of int): Filter size.
        pad, stride, dilation, group: As in :func:`nablite.functions.convolution`.
        num_bits, inq_iterations, selection_algorithm, seed: As in :func:`inq_affine`.
        w_init, i_init, b_init: Initializers (default: Glorot uniform, zeros, zeros).
        base_axis (int): The channel axis.
        fix_parameters (bool): Do not compute gradients of W and b.
        rng (numpy.random.RandomState): For the default W initializer.
        with_bias (bool): Create and add ``b``.

    Returns:
        Variable: (B..., outmaps, *out_spatial).

    Example::

        h = PF.inq_convolution(x, 16, (3, 3), pad=(1, 1), inq_iterations=(100,))
    """
    w, i = _conv_weights(_inq_weights, inp, outmaps, kernel, base_axis, w_init, i_init,
                         fix_parameters, rng)
    b = _bias("b", (outmaps,), b_init, fix_parameters, with_bias)
    return F.inq_convolution(inp, w, i, b, base_axis, pad, stride, dilation, group, num_bits,
                             inq_iterations, selection_algorithm, seed)


@parametric_function_api("min_max_quantize")
def min_max_quantize(x, ql_min=0, ql_max=255, decay=0.999, x_min_max=False, ema=False,
                     ste_fine_grained=True, eps=0.01, qr_min_init=None, qr_max_init=None,
                     fix_parameters=False, outputs=None):
    """Min-max quantization of ``x`` with a stored quantization range.

    .. math::
        s = \\frac{M - m}{M_q - m_q}, \\quad
        y = \\mathrm{round}\\left(\\frac{\\min(\\max(x, m), M) - m}{s}\\right) s + m

    (m, M nudged so that 0 is representable; see
    :func:`nablite.functions.min_max_quantize`). Parameters:
    ``min_max_quantize/ql_min`` and ``ql_max`` (1,) * x.ndim, no gradient, holding
    the levels when they are given as numbers (a Variable is used as it is);
    ``min_max_quantize/qr_min`` (-6) and ``qr_max`` (+6), of ql_min's shape,
    stored with need_grad unless the range is tracked (``x_min_max`` and ``ema``).

    Args:
        x (Variable): Input.
        ql_min, ql_max (int, float or Variable): Quantization levels.
        decay (float): Decay of the moving average (``ema``).
        x_min_max (bool): Take the range from min(x) / max(x).
        ema (bool): Keep the range as a moving average.
        ste_fine_grained (bool): Zero the gradient of x outside the range.
        eps (float): Smallest width of the range.
        qr_min_init, qr_max_init: Initializers of the range (default -6, +6).
        fix_parameters (bool): Do not compute gradients of the range.
        outputs: Passed to the function.

    Returns:
        Variable: x's shape.

    Example::

        h = PF.min_max_quantize(h, ql_min=0, ql_max=255, name="q1")
    """
    ones = (1,) * x.ndim
    if isinstance(ql_min, (int, float)):
        ql_min = get_parameter_or_create("ql_min", ones, np.array(ql_min).reshape(ones), False,
                                         False)
    if isinstance(ql_max, (int, float)):
        ql_max = get_parameter_or_create("ql_max", ones, np.array(ql_max).reshape(ones), False,
                                         False)
    learned = not (x_min_max and ema)
    if qr_min_init is None:
        qr_min_init = ConstantInitializer(-6.0)
    if qr_max_init is None:
        qr_max_init = ConstantInitializer(6.0)
    qr_min = get_parameter_or_create("qr_min", ql_min.shape, qr_min_init, learned,
                                     not fix_parameters)
    qr_max = get_parameter_or_create("qr_max", ql_min.shape, qr_max_init, learned,
                                     not fix_parameters)
    return F.min_max_quantize(x, qr_min, qr_max, ql_min, ql_max, decay, x_min_max, ema,
                              ste_fine_grained, eps, outputs=outputs)
