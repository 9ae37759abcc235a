"""Quantized layers: binary-connect / binary-weight affine and convolution, INQ.
(The elementwise quantizers, min_max_quantize among them, are in quantizers.py.)

The quantized layers are the ordinary ``Affine`` / ``Convolution`` run on a
quantized weight. As in NNabla, forward writes its by-products into inputs:
  binary_connect_*   binary_weight <- sign(weight) (0 -> quantize_zero_to)
  binary_weight_*    binary_weight <- the same, alpha <- mean |weight| per output
  inq_*              weight <- fixed entries as powers of two, indicator_fixedweights
                     <- 1 for the entries fixed so far (updated at inq_iterations)
Backward runs the product's backward on the weight that forward used and hands
the weight gradient to the float weight (straight-through); binary_weight, alpha
and the indicator get none.
"""
import math

import numpy as np

from .. import random as _random
from ..backend import stable_argsort, to_numpy
from .base import keep_args, require, prod, named
from .convolutions import Convolution
from .layers import Affine

__all__ = ["binary_connect_affine", "binary_connect_convolution", "binary_weight_affine",
           "binary_weight_convolution", "inq_affine", "inq_convolution"]


class _ProductOnQuantizedWeight:
    """Mixin before ``Affine`` / ``Convolution``: inputs are (x, weight, *extra, [bias]),
    ``len(extra) == _n_extra``; the product runs on ``_quantize``'s weight."""

    _n_extra = 1
    integer_inputs = (2,)  # the extra input is state written in place (INQ's int indicators)

    @property
    def writes_inputs(self):  # the quantized weight (and scale) kept in the extra inputs
        return tuple(range(2, 2 + self._n_extra))

    def setup(self, x, w, *rest):
        extra, b = rest[:self._n_extra], rest[self._n_extra:]
        self._check_extra(w, *extra)
        return super().setup(x, w, *b)

    def forward(self, xp, x, w, *rest):
        extra, b = rest[:self._n_extra], rest[self._n_extra:]
        return super().forward(xp, x, self._quantize(xp, w, *extra), *b)

    def backward(self, xp, xs, ys, gys):
        k = self._n_extra
        need = self.need
        # The product's backward reads self.need by its own input positions.
        self.need = (need[0], need[1]) + tuple(need[2 + k:])
        try:
            w_used = self._used_weight(xp, *xs[1:2 + k])
            g = super().backward(xp, [xs[0], w_used] + list(xs[2 + k:]), ys, gys)
        finally:
            self.need = need
        return (g[0], g[1]) + (None,) * k + tuple(g[2:])

    def _n_out(self, w):
        """Outputs the weight feeds: per column for affine, per filter for convolution."""
        return prod(w[1:]) if isinstance(self, Affine) else w[0]

    def _per_output(self, xp, a, w_shape):
        """``a`` (one value per output) shaped to broadcast against the weight."""
        if isinstance(self, Affine):
            return a.reshape((1,) + tuple(w_shape[1:]))
        return a.reshape((-1,) + (1,) * (len(w_shape) - 1))


def _binarize(xp, w, zero_to, out):
    """out <- +1 where w > 0, -1 where w < 0, ``zero_to`` elsewhere (0 and NaN)."""
    out[...] = xp.where(w > 0, 1.0, xp.where(w < 0, -1.0, zero_to))
    return out


class _BinaryConnect(_ProductOnQuantizedWeight):

    def _check_extra(self, w, bw):
        require(self, tuple(bw) == tuple(w),
                f"binary_weight {bw} must have the shape of weight {w}")

    def _quantize(self, xp, w, bw):
        return _binarize(xp, w, self.quantize_zero_to, bw)

    def _used_weight(self, xp, w, bw):
        return bw


class _BinaryWeight(_ProductOnQuantizedWeight):

    _n_extra = 2

    def _check_extra(self, w, bw, alpha):
        require(self, tuple(bw) == tuple(w),
                f"binary_weight {bw} must have the shape of weight {w}")
        n = self._n_out(w)
        require(self, prod(alpha) == n,
                f"alpha {alpha} must have {n} elements, one per output of weight {w}")

    def _quantize(self, xp, w, bw, alpha):
        a = xp.abs(w).reshape(w.shape[0], -1)
        alpha[...] = (a.mean(0) if isinstance(self, Affine) else a.mean(1)).reshape(alpha.shape)
        _binarize(xp, w, self.quantize_zero_to, bw)
        return self._used_weight(xp, w, bw, alpha)

    def _used_weight(self, xp, w, bw, alpha):
        return bw * self._per_output(xp, alpha, w.shape)


class BinaryConnectAffine(_BinaryConnect, Affine):
    """Affine with the sign-binarized weight (kept in ``binary_weight``)."""

    def __init__(self, base_axis=1, quantize_zero_to=1.0):
        self.base_axis = base_axis
        self.quantize_zero_to = quantize_zero_to


class BinaryWeightAffine(_BinaryWeight, Affine):
    """Affine with the binarized weight scaled per output by mean |weight|."""

    def __init__(self, base_axis=1, quantize_zero_to=1.0):
        self.base_axis = base_axis
        self.quantize_zero_to = quantize_zero_to


class _QuantizedConvolution(Convolution):
    """Convolution without channel_last (the quantized layers have none)."""

    def __init__(self, base_axis=1, pad=None, stride=None, dilation=None, group=1):
        keep_args(self, locals())


class BinaryConnectConvolution(_BinaryConnect, _QuantizedConvolution):
    """Convolution with the sign-binarized weight (kept in ``binary_weight``)."""

    def __init__(self, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                 quantize_zero_to=1.0):
        super().__init__(base_axis, pad, stride, dilation, group)
        self.quantize_zero_to = quantize_zero_to


class BinaryWeightConvolution(_BinaryWeight, _QuantizedConvolution):
    """Convolution with the binarized weight scaled per filter by mean |weight|."""

    def __init__(self, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                 quantize_zero_to=1.0):
        super().__init__(base_axis, pad, stride, dilation, group)
        self.quantize_zero_to = quantize_zero_to


_LOG2_1_5 = math.log2(1.5)  # rounding threshold in the exponent: nearest in linear scale


def _pow2_quantize(xp, w, num_bits):
    """Powers of two (and 0) for ``w``: exponents within [n2, n1] where 2^n1 is the
    rounded max |w| and ``2^(num_bits-2)`` exponents are available; below 2^(n2-1)
    an entry becomes 0."""
    a = xp.abs(w)
    # The exponent range stays a 0-d array on w's device (no copy to the host),
    # computed in float64 as the per-entry exponents' bounds.
    m = a.max().astype(np.float64) if w.size else xp.zeros((), np.float64)
    lm = xp.log2(xp.where(m != 0, m, 1.0))
    n1 = xp.floor(lm) + (lm - xp.floor(lm) >= _LOG2_1_5)
    n2 = n1 + 1 - int(2.0 ** (num_bits - 2))
    with np.errstate(divide="ignore", invalid="ignore"):  # log2(0): those become 0 below
        b = xp.log2(a)
        fb = xp.floor(b)
        e = xp.minimum(xp.maximum(fb + (b - fb >= _LOG2_1_5), n2), n1)
    q = xp.where(w < 0, -1.0, 1.0) * xp.exp2(e)
    return xp.where(a < xp.exp2(n2 - 1), 0.0, q)


class _INQ(_ProductOnQuantizedWeight):
    """Incremental network quantization: the fixed weights (indicator == 1) are powers
    of two and stay at their value; at each of ``inq_iterations`` (counted in forward
    calls from 0) half of the learnable ones get fixed (all at the last one)."""

    writes_inputs = (1, 2)  # the weight (fixed ones restored) and the indicator

    recomputable = False  # forward counts its calls and fixes weights

    def _init_inq(self, num_bits, inq_iterations, selection_algorithm, seed):
        self.num_bits = num_bits
        self.inq_iterations = [int(i) for i in inq_iterations]
        self.selection_algorithm = selection_algorithm
        self.seed = seed
        self._own_rng = np.random.RandomState(seed) if seed >= 0 else None

    def _check_extra(self, w, ind):
        require(self, tuple(ind) == tuple(w),
                f"indicator_fixedweights {ind} must have the shape of weight {w}")
        require(self, self.selection_algorithm in ("largest_abs", "random"),
                f"selection_algorithm={self.selection_algorithm!r} must be 'largest_abs' or "
                "'random'")
        self._counter = 0
        self._old_w = self._old_fixed = None

    def _quantize(self, xp, w, ind):
        if self._old_fixed is not None:  # undo what a solver did to fixed weights
            xp.copyto(w, self._old_w, where=self._old_fixed)  # (a mask index would sync)
        if self._counter in self.inq_iterations:
            if self._counter == self.inq_iterations[-1]:
                ind[...] = 1
            elif self.selection_algorithm == "largest_abs":
                self._fix_largest(xp, w, ind)
            else:
                rng = self._own_rng if self._own_rng is not None else _random.function_rng
                # a host draw (reproducible seeds), then moved to ind's device
                learnable = ind == 0
                draw = rng.rand(int(to_numpy(learnable.sum()))) < 0.5
                ind[learnable] = xp.asarray(draw)
        fixed = ind == 1  # (no `if fixed.any()`: that would copy a flag to the host)
        xp.copyto(w, _pow2_quantize(xp, w, self.num_bits), where=fixed, casting="unsafe")
        self._counter += 1
        self._old_w, self._old_fixed = w.copy(), fixed
        return w

    @staticmethod
    def _fix_largest(xp, w, ind):
        """Fix the (number learnable) // 2 learnable weights of largest |w|. When that
        is 0, NNabla still fixes the largest weight of all if it is learnable."""
        order = stable_argsort(xp, -xp.abs(w).reshape(-1))
        flat = ind.reshape(-1)
        learnable_in_order = order[flat[order] == 0]
        k = learnable_in_order.size // 2
        if k == 0:
            pick = order[:1][flat[order[:1]] == 0]
        else:
            pick = learnable_in_order[:k]
        flat[pick] = 1

    def _used_weight(self, xp, w, ind):
        return w


class INQAffine(_INQ, Affine):
    """Affine whose weight is incrementally fixed to powers of two."""

    def __init__(self, base_axis=1, num_bits=4, inq_iterations=(),
                 selection_algorithm="largest_abs", seed=-1):
        self.base_axis = base_axis
        self._init_inq(num_bits, inq_iterations, selection_algorithm, seed)


class INQConvolution(_INQ, _QuantizedConvolution):
    """Convolution whose weight is incrementally fixed to powers of two."""

    def __init__(self, base_axis=1, pad=None, stride=None, dilation=None, group=1, num_bits=4,
                 inq_iterations=(), selection_algorithm="largest_abs", seed=-1):
        super().__init__(base_axis, pad, stride, dilation, group)
        self._init_inq(num_bits, inq_iterations, selection_algorithm, seed)


def _with_bias(inputs, bias):
    return inputs if bias is None else inputs + (bias,)


@named
def binary_connect_affine(x, weight, binary_weight, bias=None, base_axis=1,
                          quantize_zero_to=1.0, n_outputs=-1, outputs=None):
    """Affine layer with binarized weights (BinaryConnect).

    .. math::
        y_j = \\sum_i x_i \\, \\mathrm{sign}(w_{ij}) + b_j

    Forward writes ``sign(weight)`` into ``binary_weight`` (0 becomes
    ``quantize_zero_to``) and multiplies with it. Backward gives ``weight`` the
    gradient of the binarized weight (straight-through estimator);
    ``binary_weight`` gets none.

    Args:
        x (Variable): input (N..., D...), prod(D...) = weight.shape[0].
        weight (Variable): float weight (prod(D...), L...), the one a solver updates.
        binary_weight (Variable): storage for the binarized weight, weight's shape.
        bias (Variable, optional): (L...).
        base_axis (int): first axis of the features of x.
        quantize_zero_to (float): value a weight of exactly 0 binarizes to.

    Returns:
        Variable: (N..., L...).
    """
    return BinaryConnectAffine(base_axis, quantize_zero_to)(
        *_with_bias((x, weight, binary_weight), bias), n_outputs=n_outputs, outputs=outputs)


@named
def binary_connect_convolution(x, weight, binary_weight, bias=None, base_axis=1, pad=None,
                               stride=None, dilation=None, group=1, quantize_zero_to=1.0,
                               n_outputs=-1, outputs=None):
    """Convolution with binarized weights (BinaryConnect).

    Like :func:`binary_connect_affine`, with :func:`convolution` as the product:
    ``binary_weight`` receives ``sign(weight)`` and ``weight`` the straight-through
    gradient.

    Args:
        x (Variable): (B..., C, *S).
        weight (Variable): float weight (OC, C / group, *K).
        binary_weight (Variable): storage for the binarized weight, weight's shape.
        bias (Variable, optional): (OC,).
        base_axis, pad, stride, dilation, group: as in :func:`convolution`.
        quantize_zero_to (float): value a weight of exactly 0 binarizes to.

    Returns:
        Variable: (B..., OC, *O).
    """
    return BinaryConnectConvolution(base_axis, pad, stride, dilation, group, quantize_zero_to)(
        *_with_bias((x, weight, binary_weight), bias), n_outputs=n_outputs, outputs=outputs)


@named
def binary_weight_affine(x, weight, binary_weight, alpha, bias=None, base_axis=1,
                         quantize_zero_to=1.0, n_outputs=-1, outputs=None):
    """Affine layer with binarized weights scaled per output (Binary Weight Network).

    .. math::
        \\alpha_j = \\frac{1}{D} \\sum_i |w_{ij}|, \\quad
        y_j = \\alpha_j \\sum_i x_i \\, \\mathrm{sign}(w_{ij}) + b_j

    Forward writes ``sign(weight)`` into ``binary_weight`` (0 becomes
    ``quantize_zero_to``) and the scales into ``alpha``. Backward gives
    ``weight`` the gradient of the scaled binary weight (straight-through);
    ``binary_weight`` and ``alpha`` get none.

    Args:
        x, weight, binary_weight, bias, base_axis, quantize_zero_to: as in
            :func:`binary_connect_affine`.
        alpha (Variable): storage for the scales, prod(L...) elements.

    Returns:
        Variable: (N..., L...).
    """
    return BinaryWeightAffine(base_axis, quantize_zero_to)(
        *_with_bias((x, weight, binary_weight, alpha), bias), n_outputs=n_outputs,
        outputs=outputs)


@named
def binary_weight_convolution(x, weight, binary_weight, alpha, bias=None, base_axis=1,
                              pad=None, stride=None, dilation=None, group=1,
                              quantize_zero_to=1.0, n_outputs=-1, outputs=None):
    """Convolution with binarized weights scaled per filter (Binary Weight Network).

    Like :func:`binary_weight_affine`, with :func:`convolution` as the product;
    ``alpha[o]`` is the mean |weight| of filter ``o``.

    Args:
        x, weight, binary_weight, bias, base_axis, pad, stride, dilation, group,
            quantize_zero_to: as in :func:`binary_connect_convolution`.
        alpha (Variable): storage for the scales, OC elements.

    Returns:
        Variable: (B..., OC, *O).
    """
    return BinaryWeightConvolution(base_axis, pad, stride, dilation, group, quantize_zero_to)(
        *_with_bias((x, weight, binary_weight, alpha), bias), n_outputs=n_outputs,
        outputs=outputs)


@named
def inq_affine(x, weight, indicator_fixedweights, bias=None, base_axis=1, num_bits=4,
               inq_iterations=(), selection_algorithm='largest_abs', seed=-1, n_outputs=-1,
               outputs=None):
    """Affine layer with incremental network quantization (INQ).

    Weights whose indicator is 1 are fixed: forward overwrites them in ``weight``
    with signed powers of two (or 0),
    ``2^e, e in [n1 + 1 - 2^(num_bits-2), n1]``, 2^n1 the max |weight| rounded to a
    power of two, and restores them there on later calls, so solver updates do not
    move them. Forward calls are counted from 0; at each count in
    ``inq_iterations`` half of the learnable weights become fixed (all of them at
    the last entry), chosen by ``selection_algorithm``: 'largest_abs' (largest
    |weight| first) or 'random' (each with probability 1/2). Backward is the
    affine's on the current weights; the indicator gets no gradient.

    Args:
        x (Variable): input (N..., D...), prod(D...) = weight.shape[0].
        weight (Variable): (prod(D...), L...), modified in place.
        indicator_fixedweights (Variable): 1 = fixed, 0 = learnable; weight's shape,
            updated in place.
        bias (Variable, optional): (L...).
        base_axis (int): first axis of the features of x.
        num_bits (int): bits per weight (one for the sign, one for zero).
        inq_iterations (tuple of int): forward counts at which weights get fixed.
        selection_algorithm (str): 'largest_abs' or 'random'.
        seed (int): seed of 'random' (-1: nablite's function generator).

    Returns:
        Variable: (N..., L...).
    """
    return INQAffine(base_axis, num_bits, inq_iterations, selection_algorithm, seed)(
        *_with_bias((x, weight, indicator_fixedweights), bias), n_outputs=n_outputs,
        outputs=outputs)


@named
def inq_convolution(x, weight, indicator_fixedweights, bias=None, base_axis=1, pad=None,
                    stride=None, dilation=None, group=1, num_bits=4, inq_iterations=(),
                    selection_algorithm='largest_abs', seed=-1, n_outputs=-1, outputs=None):
    """Convolution with incremental network quantization (INQ).

    The weight schedule of :func:`inq_affine`, with :func:`convolution` as the
    product.

    Args:
        x (Variable): (B..., C, *S).
        weight (Variable): (OC, C / group, *K), modified in place.
        indicator_fixedweights (Variable): 1 = fixed, 0 = learnable; weight's shape.
        bias (Variable, optional): (OC,).
        base_axis, pad, stride, dilation, group: as in :func:`convolution`.
        num_bits, inq_iterations, selection_algorithm, seed: as in :func:`inq_affine`.

    Returns:
        Variable: (B..., OC, *O).
    """
    return INQConvolution(base_axis, pad, stride, dilation, group, num_bits, inq_iterations,
                          selection_algorithm, seed)(
        *_with_bias((x, weight, indicator_fixedweights), bias), n_outputs=n_outputs,
        outputs=outputs)

