"""Parametric functions (``import nablite.parametric_functions as PF``).

A parametric function creates its parameters in the current parameter scope
on the first call (or reuses them on later calls in the same scope) and then
calls the plain function of ``nablite.functions``. Each runs inside its own
sub-scope (``affine``, ``conv``, ``bn``, ...); the trailing ``name=`` argument
that every PF accepts puts that sub-scope under ``name``::

    h = PF.affine(x, 64, name="fc1")        # creates fc1/affine/W, fc1/affine/b
    h = PF.batch_normalization(h, name="bn1")

``fix_parameters=True`` hands the function copies that need no gradient; the
stored parameters keep their flags, so a solver built later still sees them.
"""
import functools
import inspect

import numpy as np

from . import functions as F
from .initializer import (ConstantInitializer, NormalInitializer,  # noqa: F401
                          OrthogonalInitializer, UniformInitializer, UniformIntInitializer,
                          calc_normal_std_glorot, calc_normal_std_he_backward,
                          calc_normal_std_he_forward, calc_uniform_lim_glorot)
from .parameter import get_parameter, get_parameter_or_create, parameter_scope  # noqa: F401
from .variable import Variable

__all__ = ["parametric_function_api", "affine", "convolution", "deconvolution",
           "depthwise_convolution", "depthwise_deconvolution", "embed", "prelu",
           "batch_normalization", "fused_batch_normalization", "layer_normalization",
           "instance_normalization", "group_normalization", "mean_subtraction",
           "weight_normalization", "spectral_norm", "lstm_cell", "LSTMCell", "rnn", "lstm", "gru",
           "get_parameter_or_create", "get_parameter"]


def parametric_function_api(scope_name=None, param_desc=None):
    """Decorator: run the function in ``parameter_scope(scope_name)`` and add ``name=None``.

    With ``name`` given, the scope becomes ``name/scope_name``. ``param_desc``
    (a list of (name, description, shape, need_grad)) is kept for documentation.
    """
    def decorator(func):
        scope = scope_name or func.__name__

        @functools.wraps(func)
        def wrapped(*args, name=None, **kwargs):
            with parameter_scope(scope if name is None else f"{name}/{scope}"):
                return func(*args, **kwargs)

        sig = inspect.signature(func)
        params = list(sig.parameters.values())
        params.append(inspect.Parameter("name", inspect.Parameter.KEYWORD_ONLY, default=None))
        wrapped.__signature__ = sig.replace(parameters=params)
        wrapped.param_desc = param_desc
        return wrapped
    return decorator


def _param(name, shape, init, fix_parameters, need_grad=True):
    """A trainable parameter as the graph should see it (no gradient when fixed)."""
    return get_parameter_or_create(name, tuple(int(s) for s in shape), init, need_grad,
                                   not fix_parameters)


def _bias(name, shape, init, fix_parameters, with_bias):
    if not with_bias:
        return None
    return _param(name, shape, init if init is not None else ConstantInitializer(), fix_parameters)


def _weight_and_bias(w_shape, w_init, b_shape, b_init, fix_parameters, with_bias,
                     apply_w=None, apply_b=None):
    """``W`` and ``b`` (None without bias) of a layer, each passed through its apply_* hook."""
    w = _param("W", w_shape, w_init, fix_parameters)
    if apply_w is not None:
        w = apply_w(w)
    b = _bias("b", b_shape, b_init, fix_parameters, with_bias)
    if b is not None and apply_b is not None:
        b = apply_b(b)
    return w, b


def _glorot(inmaps, outmaps, kernel, rng):
    return UniformInitializer(calc_uniform_lim_glorot(inmaps, outmaps, tuple(kernel)), rng=rng)


def _axis(axis, ndim):
    return axis + ndim if axis < 0 else axis


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


def _channels(inp, base_axis, channel_last):
    return inp.shape[-1] if channel_last else inp.shape[_axis(base_axis, inp.ndim)]


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
    c = _channels(inp, base_axis, channel_last)
    if w_init is None:
        w_init = _glorot(c, outmaps, kernel, rng)
    shape = ((outmaps,) + kernel + (c // group,) if channel_last
             else (outmaps, c // group) + kernel)
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


def _stat_shape(inp, axes):
    """1 everywhere except the ``axes``, which keep the input's size."""
    axes = [axes] if isinstance(axes, int) else list(axes)
    shape = [1] * inp.ndim
    for a in axes:
        shape[_axis(a, inp.ndim)] = inp.shape[_axis(a, inp.ndim)]
    return shape


def _beta_gamma(shape, param_init, fix_parameters, no_scale, no_bias):
    param_init = param_init or {}
    beta = None if no_bias else _param(
        "beta", shape, param_init.get("beta", ConstantInitializer(0)), fix_parameters)
    gamma = None if no_scale else _param(
        "gamma", shape, param_init.get("gamma", ConstantInitializer(1)), fix_parameters)
    return beta, gamma


def _bn_params(inp, axes, param_init, fix_parameters, no_scale, no_bias):
    shape = _stat_shape(inp, axes)
    beta, gamma = _beta_gamma(shape, param_init, fix_parameters, no_scale, no_bias)
    param_init = param_init or {}
    mean = get_parameter_or_create("mean", shape, param_init.get("mean", ConstantInitializer(0)),
                                   False)
    var = get_parameter_or_create("var", shape, param_init.get("var", ConstantInitializer(1)),
                                  False)
    return beta, gamma, mean, var


@parametric_function_api("bn")
def batch_normalization(inp, axes=[1], decay_rate=0.9, eps=1e-05, batch_stat=True,
                        output_stat=False, fix_parameters=False, param_init=None, no_scale=False,
                        no_bias=False):
    """Batch normalization with ``bn/beta`` (0), ``bn/gamma`` (1) and the running
    statistics ``bn/mean`` (0), ``bn/var`` (1), all of shape 1 except at ``axes``.

    Args:
        inp (Variable): Input.
        axes (list of int): Axes that keep their own statistics (channels).
        decay_rate (float): Running-statistics decay.
        eps (float): Added to the variance.
        batch_stat (bool): Normalize with the batch statistics and update the
            running ones (training); else use the running ones (inference).
        output_stat (bool): Also return the batch mean and variance.
        fix_parameters (bool): No gradient for beta and gamma.
        param_init (dict): Initializers keyed 'beta', 'gamma', 'mean', 'var'.
        no_scale, no_bias (bool): Leave out gamma / beta.

    Returns:
        Variable: Normalized output (and mean, variance if output_stat).
    """
    beta, gamma, mean, var = _bn_params(inp, axes, param_init, fix_parameters, no_scale, no_bias)
    return F.batch_normalization(inp, beta, gamma, mean, var, axes, decay_rate, eps, batch_stat,
                                 output_stat)


@parametric_function_api("bn")
def fused_batch_normalization(inp, z=None, axes=[1], decay_rate=0.9, eps=1e-05, batch_stat=True,
                              nonlinearity='relu', output_stat=False, fix_parameters=False,
                              param_init=None, no_scale=False, no_bias=False):
    """Batch normalization, plus the residual ``z`` if given, then ReLU, in one function.

    Parameters and arguments as :func:`batch_normalization`.
    """
    beta, gamma, mean, var = _bn_params(inp, axes, param_init, fix_parameters, no_scale, no_bias)
    return F.fused_batch_normalization(inp, beta, gamma, mean, var, z, axes, decay_rate, eps,
                                       batch_stat, nonlinearity, output_stat)


@parametric_function_api("layer_normalization")
def layer_normalization(inp, batch_axis=0, eps=1e-05, output_stat=False, fix_parameters=False,
                        param_init=None, no_scale=False, no_bias=False):
    """Layer normalization with ``beta``/``gamma`` shaped like ``inp`` with the batch
    axes set to 1 (e.g. (4, 3, 2, 2) -> (1, 3, 2, 2))."""
    batch_axes = [batch_axis] if isinstance(batch_axis, int) else list(batch_axis)
    shape = list(inp.shape)
    for a in batch_axes:
        shape[_axis(a, inp.ndim)] = 1
    beta, gamma = _beta_gamma(shape, param_init, fix_parameters, no_scale, no_bias)
    return F.layer_normalization(inp, beta, gamma, batch_axis, eps, output_stat)


@parametric_function_api("instance_normalization")
def instance_normalization(inp, channel_axis=1, batch_axis=0, eps=1e-05, output_stat=False,
                           fix_parameters=False, param_init=None, no_scale=False, no_bias=False):
    """Instance normalization with ``beta``/``gamma`` of shape 1 except the channel axis."""
    shape = _stat_shape(inp, [channel_axis])
    beta, gamma = _beta_gamma(shape, param_init, fix_parameters, no_scale, no_bias)
    return F.instance_normalization(inp, beta, gamma, channel_axis, batch_axis, eps, output_stat)


@parametric_function_api("group_normalization")
def group_normalization(inp, num_groups, channel_axis=1, batch_axis=0, eps=1e-05,
                        output_stat=False, fix_parameters=False, param_init=None, no_scale=False,
                        no_bias=False):
    """Group normalization with ``beta``/``gamma`` of shape 1 except the channel axis."""
    shape = _stat_shape(inp, [channel_axis])
    beta, gamma = _beta_gamma(shape, param_init, fix_parameters, no_scale, no_bias)
    return F.group_normalization(inp, beta, gamma, num_groups, channel_axis, batch_axis, eps,
                                 output_stat)


@parametric_function_api("mean_subtraction")
def mean_subtraction(inp, base_axis=1, update_running_mean=True, fix_parameters=False):
    """Subtract a running mean ``mean_subtraction/mean`` (inp.shape[base_axis:]),
    counted by ``mean_subtraction/t`` (1,)."""
    mean = get_parameter_or_create("mean", inp.shape[_axis(base_axis, inp.ndim):],
                                   ConstantInitializer(0), False)
    t = get_parameter_or_create("t", (1,), ConstantInitializer(0), False)
    return F.mean_subtraction(inp, mean, t, base_axis=base_axis,
                              update_running_mean=update_running_mean)


@parametric_function_api("wn")
def weight_normalization(w, dim=0, eps=1e-12, g_init=None, fix_parameters=False):
    """Weight normalization g * w / |w| with the scale ``wn/g`` (w.shape[dim],),
    initialized to the norm of ``w`` so the result starts equal to ``w``."""
    from .initializer import WeightNormalizationScaleInitializer
    if g_init is None:
        g_init = WeightNormalizationScaleInitializer(w, dim, eps)
    g = _param("g", (w.shape[dim],), g_init, fix_parameters)
    return F.weight_normalization(w, g, dim, eps=eps)


@parametric_function_api("spectral-norm")
def spectral_norm(w, dim=0, itr=1, eps=1e-12, test=False, u_init=None, fix_parameters=True):
    """Spectral normalization w / sigma(w), with the power-iteration vector
    ``spectral-norm/u`` (w.shape[dim],) drawn from N(0, 1) and updated by each forward."""
    if u_init is None:
        u_init = NormalInitializer()
    u = get_parameter_or_create("u", (w.shape[dim],), u_init, False, False)
    return F.spectral_norm(w, u, dim, itr, eps, test)


def _recurrent_weights(x, h, gates, w0_init, w_init, b_init, bias_gates, rng, with_bias,
                       fix_parameters):
    """weight_l0, weight and bias of a stacked (bi)directional RNN: the input and
    hidden parts of each weight drawn Glorot-uniform separately, then concatenated."""
    i_size, hidden, layers = x.shape[2], h.shape[3], h.shape[0]
    d = h.shape[1]
    lead = (d,) + ((gates,) if gates else ())

    def glorot_concat(in_size):
        def init(shape):
            w_in = UniformInitializer(calc_uniform_lim_glorot(in_size, hidden), rng=rng)(
                tuple(shape[:-1]) + (in_size,))
            w_h = UniformInitializer(calc_uniform_lim_glorot(hidden, hidden), rng=rng)(
                tuple(shape[:-1]) + (hidden,))
            return np.concatenate([w_in, w_h], axis=-1)
        return init

    w0 = _param("weight_l0", lead + (hidden, i_size + hidden),
                w0_init or glorot_concat(i_size), fix_parameters)
    w = None
    if layers > 1:
        w = _param("weight", (layers - 1,) + lead + (hidden, d * hidden + hidden),
                   w_init or glorot_concat(d * hidden), fix_parameters)
    b = None
    if with_bias:
        shape = (layers, d) + ((bias_gates,) if bias_gates else ()) + (hidden,)
        b = _param("bias", shape, b_init or ConstantInitializer(), fix_parameters)
    return w0, w, b, layers


@parametric_function_api("rnn")
def rnn(x, h, w0_init=None, w_init=None, b_init=None, num_layers=1, nonlinearity='tanh',
        dropout=0.0, bidirectional=False, training=True, rng=None, with_bias=True,
        fix_parameters=False):
    """Elman RNN over a (T, B, I) sequence with initial state h (L, D, B, H).

    Parameters: ``rnn/weight_l0`` (D, H, I + H), ``rnn/weight`` (L - 1, D, H, D*H + H)
    if L > 1, ``rnn/bias`` (L, D, H). The number of layers L comes from h.

    Returns:
        tuple of Variable: (y, h_n).
    """
    w0, w, b, layers = _recurrent_weights(x, h, 0, w0_init, w_init, b_init, 0, rng, with_bias,
                                          fix_parameters)
    return F.rnn(x, h, w0, w, b, num_layers=layers, nonlinearity=nonlinearity, dropout=dropout,
                 bidirectional=bidirectional, training=training)


@parametric_function_api("lstm")
def lstm(x, h, c, w0_init=None, w_init=None, b_init=None, num_layers=1, dropout=0.0,
         bidirectional=False, training=True, rng=None, with_bias=True, fix_parameters=False):
    """LSTM over a (T, B, I) sequence; parameters ``lstm/weight_l0`` (D, 4, H, I + H),
    ``lstm/weight`` (L - 1, D, 4, H, D*H + H), ``lstm/bias`` (L, D, 4, H).

    Returns:
        tuple of Variable: (y, h_n, c_n).
    """
    w0, w, b, layers = _recurrent_weights(x, h, 4, w0_init, w_init, b_init, 4, rng, with_bias,
                                          fix_parameters)
    return F.lstm(x, h, c, w0, w, b, num_layers=layers, dropout=dropout,
                  bidirectional=bidirectional, training=training)


@parametric_function_api("gru")
def gru(x, h, w0_init=None, w_init=None, b_init=None, num_layers=1, dropout=0.0,
        bidirectional=False, training=True, rng=None, with_bias=True, fix_parameters=False):
    """GRU over a (T, B, I) sequence; parameters ``gru/weight_l0`` (D, 3, H, I + H),
    ``gru/weight`` (L - 1, D, 3, H, D*H + H), ``gru/bias`` (L, D, 4, H) (NNabla's shape).

    Returns:
        tuple of Variable: (y, h_n).
    """
    w0, w, b, layers = _recurrent_weights(x, h, 3, w0_init, w_init, b_init, 4, rng, with_bias,
                                          fix_parameters)
    return F.gru(x, h, w0, w, b, num_layers=layers, dropout=dropout,
                 bidirectional=bidirectional, training=training)


@parametric_function_api("lstm")
def lstm_cell(x, h, c, state_size, w_init=None, b_init=None, fix_parameters=False):
    """One LSTM step. An inner :func:`affine` on concat(x, h) gives the gates
    (input, output, forget, cell) as ``lstm/affine/W`` (I + H, 4, H) and ``lstm/affine/b``.

    Returns:
        tuple of Variable: (h', c') with c' = sigmoid(f) c + sigmoid(i) tanh(g),
        h' = sigmoid(o) tanh(c').
    """
    xh = F.concatenate(x, h, axis=1)
    gates = affine(xh, (4, state_size), w_init=w_init, b_init=b_init,
                   fix_parameters=fix_parameters)
    i, o, f, g = F.split(gates, axis=1)
    c_new = F.sigmoid(f) * c + F.sigmoid(i) * F.tanh(g)
    h_new = F.sigmoid(o) * F.tanh(c_new)
    return h_new, c_new


class LSTMCell:
    """An LSTM cell that keeps its state ``h``, ``c`` between calls.

    Args:
        batch_size (int), state_size (int): Shape of the state.
        h, c (Variable): Initial states (zeros by default).
        name (str): Scope of the parameters (``name/lstm/affine/...``).
    """

    def __init__(self, batch_size, state_size, h=None, c=None, name=None):
        self.batch_size = batch_size
        self.state_size = state_size
        self.name = name
        self.h = h if h is not None else Variable((batch_size, state_size))
        self.c = c if c is not None else Variable((batch_size, state_size))
        if h is None:
            self.h.d = 0
        if c is None:
            self.c.d = 0

    def reset_state(self):
        """Set ``h`` and ``c`` to zeros."""
        self.h.d = 0
        self.c.d = 0

    def __call__(self, x, w_init=None, b_init=None, fix_parameters=False):
        self.h, self.c = lstm_cell(x, self.h, self.c, self.state_size, w_init, b_init,
                                   fix_parameters=fix_parameters, name=self.name)
        return self.h


# Quantized layers. Each keeps the float weight ``W`` a solver trains next to the
# buffers its function fills on forward (``Wb``, ``alpha``, ``I``), which are
# stored without gradient and are not affected by ``fix_parameters``.

__all__ += ["binary_connect_affine", "binary_connect_convolution", "binary_weight_affine",
            "binary_weight_convolution", "inq_affine", "inq_convolution", "min_max_quantize"]


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
    w_shape, outs = _quantized_affine_shapes(inp, n_outmaps, base_axis)
    w, wb = _float_and_binary_weights(w_shape, w_shape[0], int(np.prod(outs)), (1, 1), w_init,
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
    kernel = tuple(kernel)
    c = _quantized_conv_channels(inp, base_axis)
    w, wb = _float_and_binary_weights((outmaps, c) + kernel, c, outmaps, kernel, w_init, wb_init,
                                      fix_parameters, rng)
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

        h = PF.binary_weight_affine(x, 64, name="fc1")   # fc1/bwn_affine/{W,Wb,alpha,b}
    """
    w_shape, outs = _quantized_affine_shapes(inp, n_outmaps, base_axis)
    w, wb = _float_and_binary_weights(w_shape, w_shape[0], int(np.prod(outs)), (1, 1), w_init,
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

        h = PF.binary_weight_convolution(x, 16, (3, 3), pad=(1, 1), name="c1")
    """
    kernel = tuple(kernel)
    c = _quantized_conv_channels(inp, base_axis)
    w, wb = _float_and_binary_weights((outmaps, c) + kernel, c, outmaps, kernel, w_init, wb_init,
                                      fix_parameters, rng)
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
    w_shape, outs = _quantized_affine_shapes(inp, n_outmaps, base_axis)
    w, i = _inq_weights(w_shape, w_shape[0], int(np.prod(outs)), (1, 1), w_init, i_init,
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
    kernel = tuple(kernel)
    c = _quantized_conv_channels(inp, base_axis)
    w, i = _inq_weights((outmaps, c) + kernel, c, outmaps, kernel, w_init, i_init,
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
