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
from .function import require
from .parameter import get_parameter, get_parameter_or_create, parameter_scope  # noqa: F401
from .variable import Variable

__all__ = ["parametric_function_api", "affine", "convolution", "deconvolution",
           "depthwise_convolution", "depthwise_deconvolution", "embed", "prelu",
           "batch_normalization", "fused_batch_normalization", "sync_batch_normalization",
           "layer_normalization",
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
    c = _channels(inp, base_axis, channel_last)
    if w_init is None:
        w_init = _glorot(c, outmaps, kernel, rng)
    shape = ((outmaps,) + kernel + (c // group,) if channel_last
             else (outmaps, c // group) + kernel)
    w, b = _weight_and_bias(shape, w_init, (outmaps,), b_init, fix_parameters, with_bias,
                            apply_w, apply_b)
    return F.deformable_convolution(inp, w, offset, mask, b, base_axis, pad, stride, dilation,
                                    group, deformable_group, channel_last)


# Low-rank layers. NNabla draws a full weight from the initializer and stores
# the factors of its decomposition as the parameters.

__all__ += ["deformable_convolution", "svd_affine", "svd_convolution", "cpd3_convolution"]


def _check_rank(fn, r, largest=None):
    ok = isinstance(r, (int, np.integer)) and not isinstance(r, bool) and r >= 1
    bound = "" if largest is None else f" and at most {largest}"
    require(fn, ok and (largest is None or r <= largest),
            f"the rank r must be an integer of at least 1{bound}, got {r!r}")


def _full_weight(fn, init, shape):
    """The full weight to decompose: ``init`` itself if it is an array, else drawn from it."""
    w = init if isinstance(init, np.ndarray) else np.asarray(init(list(shape)))
    require(fn, w.size == int(np.prod(shape)),
            f"the initial weight has shape {w.shape}, expected {tuple(shape)}")
    return w


@parametric_function_api("svd_affine")
def svd_affine(inp, n_outmaps, r, base_axis=1, uv_init=None, b_init=None, fix_parameters=False,
               rng=None, with_bias=True):
    """Affine layer with a rank-``r`` weight, y = (x U) V + b: two affine layers
    through a bottleneck of width r.

    U and V start as the rank-r truncated SVD of a full (inmaps, outmaps)
    weight W = A S B^T drawn from ``uv_init``: U = (A S)[:, :r], V = B^T[:r], so
    U V is the best rank-r approximation of W. For a compression rate CR of W,
    r = floor((1 - CR) inmaps outmaps / (inmaps + outmaps)).

    Args:
        inp (Variable): Input (B..., M...); M... are flattened.
        n_outmaps (int or tuple of int): Output features.
        r (int): Rank (1 <= r <= min(inmaps, outmaps)).
        base_axis (int): Axes before it are batch axes.
        uv_init: Initializer or array of the full weight (default: Glorot uniform).
            The full weight is drawn on every call, as in NNabla, but decomposed only
            when U or V is missing.
        b_init: Initializer of ``b`` (default zeros).
        fix_parameters (bool): Do not compute gradients of U, V and b.
        rng (numpy.random.RandomState): For the default initializer.
        with_bias (bool): Create and add ``b``.

    Returns:
        Variable: (B..., n_outmaps...). Parameters: ``svd_affine/U`` (inmaps, r),
        ``svd_affine/V`` (r, *n_outmaps), ``svd_affine/b`` (*n_outmaps).

    Example::

        h = PF.svd_affine(x, 64, r=8, name="fc1")
    """
    outs = list(n_outmaps) if hasattr(n_outmaps, "__iter__") else [n_outmaps]
    base_axis = _axis(base_axis, inp.ndim)
    inmaps = int(np.prod(inp.shape[base_axis:]))
    n_out = int(np.prod(outs))
    _check_rank("PF.svd_affine", r, min(inmaps, n_out))
    if uv_init is None:
        uv_init = _glorot(inmaps, n_out, (1, 1), rng)
    uv = _full_weight("PF.svd_affine", uv_init, [inmaps] + outs)
    u_init = v_init = None
    if get_parameter("U") is None or get_parameter("V") is None:
        a, s, bt = np.linalg.svd(uv.reshape(inmaps, n_out), full_matrices=False)
        u_init = a[:, :r] * s[:r]
        v_init = bt[:r].reshape([r] + outs)
    u = _param("U", (inmaps, r), u_init, fix_parameters)
    v = _param("V", [r] + outs, v_init, fix_parameters)
    b = _bias("b", outs, b_init, fix_parameters, with_bias)
    return F.affine(F.affine(inp, u, None, base_axis), v, b, base_axis)


@parametric_function_api("svd_conv")
def svd_convolution(inp, outmaps, kernel, r, pad=None, stride=None, dilation=None, uv_init=None,
                    b_init=None, base_axis=1, fix_parameters=False, rng=None, with_bias=True):
    """Convolution with per-input-channel rank-``r`` filters: a depthwise
    convolution with ``svd_conv/U`` (C r, *kernel) (multiplier r), then a 1x1
    convolution with ``svd_conv/V`` (outmaps, C r, 1, ...) and ``svd_conv/b``.

    For each input channel c, the (prod(kernel), outmaps) slice of a full
    weight (outmaps, C, *kernel) drawn from ``uv_init`` is replaced by its
    rank-r truncated SVD A S B^T: the r columns of A S become U's filters
    c r ... c r + r - 1 and the rows of B^T the matching input channels of V.

    NNabla 1.39 stores U and V as float64 arrays holding float32 values; nablite
    stores the same values as float32.

    Args:
        inp (Variable): (B..., C, *spatial).
        outmaps (int): Output channels.
        kernel (tuple of int): Kernel shape.
        r (int): Rank per input channel (1 <= r <= min(prod(kernel), outmaps)).
        pad, stride, dilation (tuple of int): Of the depthwise (spatial) stage.
        uv_init: Initializer or array of the full weight (default: Glorot uniform).
        b_init: Initializer of ``b`` (default zeros).
        base_axis (int): The channel axis.
        fix_parameters (bool): Do not compute gradients of U, V and b.
        rng (numpy.random.RandomState): For the default initializer.
        with_bias (bool): Create and add ``b``.

    Returns:
        Variable: (B..., outmaps, *out_spatial).

    Example::

        h = PF.svd_convolution(x, 16, (3, 3), r=2, pad=(1, 1), name="c1")
    """
    kernel = tuple(kernel)
    c = inp.shape[_axis(base_axis, inp.ndim)]
    ksize = int(np.prod(kernel))
    _check_rank("PF.svd_convolution", r, min(ksize, outmaps))
    if uv_init is None:
        uv_init = _glorot(c, outmaps, kernel, rng)
    uv = _full_weight("PF.svd_convolution", uv_init, (outmaps, c) + kernel)
    uv = uv.reshape(outmaps, c, ksize)
    ones = (1,) * len(kernel)
    u_init = v_init = None
    if get_parameter("U") is None or get_parameter("V") is None:
        u_rows, v_rows = [], []
        for ch in range(c):
            a, s, bt = np.linalg.svd(uv[:, ch, :].T, full_matrices=False)
            u_rows.append((a[:, :r] * s[:r]).T)
            v_rows.append(bt[:r])
        u_init = np.stack(u_rows).reshape((c * r,) + kernel).astype(np.float32)
        v_init = np.stack(v_rows).reshape(c * r, outmaps).T.reshape(
            (outmaps, c * r) + ones).astype(np.float32)
    u = _param("U", (c * r,) + kernel, u_init, fix_parameters)
    v = _param("V", (outmaps, c * r) + ones, v_init, fix_parameters)
    b = _bias("b", (outmaps,), b_init, fix_parameters, with_bias)
    h = F.depthwise_convolution(inp, u, None, base_axis, pad, stride, dilation, r)
    return F.convolution(h, v, b, base_axis)


def _cp_als(x, rank, max_iter, stopping_criterion, lambda_reg, rng):
    """Rank-``rank`` CP decomposition of the 3-way array ``x`` by alternating least squares.

    x[i, j, k] ~ sum_r lam[r] A0[i, r] A1[j, r] A2[k, r]. A sweep solves each
    factor in turn with the other two fixed, A_n = X_(n) KR_n (G_n + lambda_reg I)^+,
    KR_n being the Khatri-Rao product of the other factors and G_n the elementwise
    product of their Gram matrices, and rescales its columns (by their norms in
    the first sweep, later by their maxima when above 1) into ``lam``. It stops
    when the explained fraction 1 - |x - x~|^2 / |x|^2 changes by less than
    ``stopping_criterion`` (a negative one runs all sweeps). A1 and A2 start as
    uniform [0, 1) draws of ``rng``; the dtypes along the way follow NNabla's
    solver, so the same draws give the same factors up to rounding.

    Returns:
        (list of 3 arrays (x.shape[n], rank), lam (rank,))
    """
    factors = [None] + [rng.rand(n, rank).astype(x.dtype) for n in x.shape[1:]]
    x_sq = np.sum(x ** 2)
    fit = 0
    for sweep in range(max_iter):
        fit_before = fit
        for n in range(3):
            a, b = [m for m in range(3) if m != n]
            gram = (factors[a].T @ factors[a]) * (factors[b].T @ factors[b])
            gram = gram + lambda_reg * np.eye(rank)
            # in the factors' own precision, then float64, as NNabla's solver does
            khatri_rao = (factors[a][:, None, :] * factors[b][None, :, :]).astype(np.float64)
            f = np.tensordot(x, khatri_rao, axes=([a, b], [0, 1])) @ np.linalg.pinv(gram)
            lam = np.sqrt((f ** 2).sum(axis=0)) if sweep == 0 else np.maximum(f.max(axis=0), 1)
            factors[n] = f / lam
        if stopping_criterion < 0:
            continue
        approx = np.einsum("ir,jr,kr,r->ijk", *factors, lam)
        residual = x_sq + np.sum(approx ** 2) - 2 * np.sum(x * approx)
        fit = 1.0 - residual / x_sq
        if sweep > 0 and abs(fit_before - fit) < stopping_criterion:
            break
    return factors, lam


@parametric_function_api("cpd3_conv")
def cpd3_convolution(inp, outmaps, kernel, r, pad=None, stride=None, dilation=None,
                     oik_init=None, b_init=None, base_axis=1, fix_parameters=False, rng=None,
                     with_bias=True, max_iter=500, stopping_criterion=1e-05, lambda_reg=0.0):
    """Convolution with a rank-``r`` CP-decomposed kernel: a 1x1 convolution
    with ``cpd3_conv/I`` (r, C, 1, ...), a depthwise convolution with
    ``cpd3_conv/K`` (r, *kernel), then a 1x1 convolution with ``cpd3_conv/O``
    (outmaps, r, 1, ...) and ``cpd3_conv/b``.

    .. math:: W_{o, c, k} \\approx \\sum_{s=1}^{r} O_{o, s} I_{s, c} K_{s, k}

    The factors are the alternating-least-squares CP decomposition of a full
    weight (outmaps, C, *kernel) drawn from ``oik_init`` (O holds the scales).
    The solver starts from uniform draws of ``rng`` (RandomState(313) when rng
    is None). NNabla 1.39 stores I, O, K as float64; nablite stores them as
    float32, the precision NNabla computes with.

    Args:
        inp (Variable): (B..., C, *spatial).
        outmaps (int): Output channels.
        kernel (tuple of int): Kernel shape.
        r (int): CP rank (>= 1).
        pad, stride, dilation (tuple of int): Of the depthwise (spatial) stage.
        oik_init: Initializer or array of the full weight (default: Glorot uniform).
        b_init: Initializer of ``b`` (default zeros).
        base_axis (int): The channel axis.
        fix_parameters (bool): Do not compute gradients of I, K, O and b.
        rng (numpy.random.RandomState): For the default initializer and the solver.
        with_bias (bool): Create and add ``b``.
        max_iter (int): Most ALS sweeps (>= 1).
        stopping_criterion (float): Stop when the fit changes by less (negative: never).
        lambda_reg (float): L2 regularization of the least-squares steps.

    Returns:
        Variable: (B..., outmaps, *out_spatial).

    Example::

        h = PF.cpd3_convolution(x, 16, (3, 3), r=4, pad=(1, 1), name="c1")
    """
    kernel = tuple(kernel)
    c = inp.shape[_axis(base_axis, inp.ndim)]
    _check_rank("PF.cpd3_convolution", r)
    require("PF.cpd3_convolution", isinstance(max_iter, (int, np.integer)) and max_iter >= 1,
            f"max_iter must be an integer of at least 1, got {max_iter!r}")
    if oik_init is None:
        oik_init = _glorot(c, outmaps, kernel, rng)
    oik = _full_weight("PF.cpd3_convolution", oik_init, (outmaps, c) + kernel)
    oik = oik.reshape(outmaps, c, int(np.prod(kernel)))
    ones = (1,) * len(kernel)
    inits = {"I": None, "O": None, "K": None}
    if any(get_parameter(k) is None for k in inits):
        factors, lam = _cp_als(oik, r, max_iter, stopping_criterion, lambda_reg,
                               rng if rng is not None else np.random.RandomState(313))
        inits["I"] = factors[1].T.reshape((r, c) + ones).astype(np.float32)
        inits["O"] = (factors[0] * lam).reshape((outmaps, r) + ones).astype(np.float32)
        inits["K"] = factors[2].T.reshape((r,) + kernel).astype(np.float32)
    i = _param("I", (r, c) + ones, inits["I"], fix_parameters)
    o = _param("O", (outmaps, r) + ones, inits["O"], fix_parameters)
    k = _param("K", (r,) + kernel, inits["K"], fix_parameters)
    b = _bias("b", (outmaps,), b_init, fix_parameters, with_bias)
    h = F.convolution(inp, i, None, base_axis)
    h = F.depthwise_convolution(h, k, None, base_axis, pad, stride, dilation, 1)
    return F.convolution(h, o, b, base_axis)


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


@parametric_function_api("bn")
def sync_batch_normalization(inp, comm, group='world', axes=[1], decay_rate=0.9, eps=1e-05,
                             batch_stat=True, output_stat=False, fix_parameters=False,
                             param_init=None, no_scale=False, no_bias=False):
    """Batch normalization with statistics shared by the processes of ``comm``.

    Parameters as :func:`batch_normalization` (``bn/beta``, ``bn/gamma``,
    ``bn/mean``, ``bn/var``). Only one process is supported for now: ``comm``
    None or a communicator of size 1, where the layer equals
    :func:`batch_normalization`; see :func:`nablite.functions.sync_batch_normalization`.

    Args:
        inp (Variable): Input.
        comm: Communicator (None or of size 1).
        group (str): Communicator group whose processes share the statistics.
        axes, decay_rate, eps, batch_stat, output_stat, fix_parameters, param_init,
        no_scale, no_bias: As in :func:`batch_normalization`.

    Returns:
        Variable: Normalized output (and mean, variance if output_stat).

    Example::

        h = PF.sync_batch_normalization(h, comm=None, name="bn1")
    """
    beta, gamma, mean, var = _bn_params(inp, axes, param_init, fix_parameters, no_scale, no_bias)
    return F.sync_batch_normalization(inp, beta, gamma, mean, var, comm, group, axes,
                                      decay_rate, eps, batch_stat, output_stat)


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


# Attention and transformer layers.

__all__ += ["multi_head_attention", "transformer", "transformer_encode", "transformer_decode"]


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
    h = multi_head_attention(src, src, src, num_heads=num_heads, add_attn_bias=add_attn_bias,
                             additive_mask=src_additive_mask,
                             key_padding_mask=src_key_padding_mask, name="src_self_attn")[0]
    src = layer_normalization(src + _dropout(h, dropout), batch_axis=(0, 1),
                              name="enc_layer_norm1")
    h = _dropout(activation(affine(src, dim_feedforward, base_axis=2, name="enc_affine1")),
                 dropout)
    h = _dropout(affine(h, embed_dim, base_axis=2, name="enc_affine2"), dropout)
    return layer_normalization(src + h, batch_axis=(0, 1), name="enc_layer_norm2")


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
    h = multi_head_attention(tgt, tgt, tgt, num_heads=num_heads, add_attn_bias=add_attn_bias,
                             additive_mask=tgt_additive_mask,
                             key_padding_mask=tgt_key_padding_mask, name="tgt_self_attn")[0]
    tgt = layer_normalization(tgt + _dropout(h, dropout), batch_axis=(0, 1),
                              name="dec_layer_norm1")
    h = multi_head_attention(tgt, memory, memory, num_heads=num_heads,
                             add_attn_bias=add_attn_bias, additive_mask=memory_additive_mask,
                             key_padding_mask=memory_key_padding_mask,
                             name="tgt_memory_attn")[0]
    tgt = layer_normalization(tgt + _dropout(h, dropout), batch_axis=(0, 1),
                              name="dec_layer_norm2")
    h = _dropout(activation(affine(tgt, dim_feedforward, base_axis=2, name="dec_affine1")),
                 dropout)
    h = _dropout(affine(h, embed_dim, base_axis=2, name="dec_affine2"), dropout)
    return layer_normalization(tgt + h, batch_axis=(0, 1), name="dec_layer_norm3")


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


# Layers that train a float weight W and use a quantized (or pruned) copy of
# it. The copy the function computes is kept in the parameter ``W_q`` (and
# ``b_q``), with no gradient; as in NNabla, these buffers start as a separate
# draw of the initializer and hold the quantized values after each forward.
# Gradients pass from the copy to W and b by the straight-through estimator.

__all__ += ["fixed_point_quantized_affine", "fixed_point_quantized_convolution",
            "pow2_quantized_affine", "pow2_quantized_convolution", "pruned_affine",
            "pruned_convolution", "min_max_quantized_affine", "min_max_quantized_convolution"]


def _into(y, param):
    """Let the function output ``y`` keep its values in ``param``'s array (NNabla's
    ``outputs=[param.data]``); persistent, so clearing buffers keeps it."""
    if not y.data.clear_called:  # computed already, under auto_forward
        param.d = y.d
    y.data = param.data
    y.persistent = True
    return y


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
    c = _channels(inp, base_axis, channel_last)
    if w_init is None:
        w_init = _glorot(c, outmaps, kernel, rng)
    shape = ((outmaps,) + kernel + (c // group,) if channel_last
             else (outmaps, c // group) + kernel)
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
        inp (Variable): (B..., C, *spatial), or (B..., *spatial, C) with channel_last.
        outmaps (int): Output channels.
        kernel (tuple of int): Kernel shape.
        pad, stride, dilation (tuple of int): Per spatial axis (defaults 0, 1, 1).
        group (int): Channel groups.
        channel_last (bool): Channels are the last axis.
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
        inp (Variable): (B..., C, *spatial).
        outmaps (int): Output channels.
        kernel (tuple of int): Kernel shape.
        pad, stride, dilation (tuple of int): Per spatial axis (defaults 0, 1, 1).
        group (int): Channel groups.
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
        inp (Variable): (B..., C, *spatial), or (B..., *spatial, C) with channel_last.
        outmaps (int): Output channels.
        kernel (tuple of int): Kernel shape.
        pad, stride, dilation (tuple of int): Per spatial axis (defaults 0, 1, 1).
        group (int): Channel groups.
        channel_last (bool): Channels are the last axis.
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
        inp (Variable): (B..., C, *spatial), or (B..., *spatial, C) with channel_last.
        outmaps (int): Output channels.
        kernel (tuple of int): Kernel shape.
        pad, stride, dilation (tuple of int): Per spatial axis (defaults 0, 1, 1).
        group (int): Channel groups.
        channel_last (bool): Channels are the last axis.
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
