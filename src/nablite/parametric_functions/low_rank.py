"""Low-rank layers: svd_affine, svd_convolution and cpd3_convolution (with the
CP-ALS decomposition that initializes its factors)."""
import numpy as np

from .. import backend
from .. import functions as F
from ..function import require
from ..parameter import get_parameter
from ._api import _axis, _bias, _glorot, _param, parametric_function_api

__all__ = ["svd_affine", "svd_convolution", "cpd3_convolution"]


# Low-rank layers. NNabla draws a full weight from the initializer and stores
# the factors of its decomposition as the parameters.


def _check_rank(fn, r, largest=None):
    ok = isinstance(r, (int, np.integer)) and not isinstance(r, bool) and r >= 1
    bound = "" if largest is None else f" and at most {largest}"
    require(fn, ok and (largest is None or r <= largest),
            f"the rank r must be an integer of at least 1{bound}, got {r!r}")


def _full_weight(fn, init, shape):
    """The full weight to decompose, on the host (the decomposition is made there
    once): ``init`` itself if it is an array, else drawn from it."""
    if not (isinstance(init, np.ndarray) or backend.is_device_array(init)):
        init = init(list(shape))
    w = np.asarray(backend.to_numpy(init))
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
        inp, outmaps, kernel, pad, stride, dilation, b_init, base_axis, with_bias: As in
            :func:`svd_convolution`.
        r (int): CP rank (>= 1).
        oik_init: Initializer or array of the full weight (default: Glorot uniform).
        fix_parameters (bool): Do not compute gradients of I, K, O and b.
        rng (numpy.random.RandomState): For the default initializer and the solver.
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
