"""Quantizers: elementwise functions that quantize a tensor (binary_sigmoid,
binary_tanh, prune, fixed_point_quantize, pow2_quantize, quantize_linear,
dequantize_linear) and min_max_quantize with its tracked ranges.

The quantized LAYERS (binary-connect / binary-weight / INQ affine and
convolution) are in quantized.py.

Gradients follow NNabla 1.39 (measured): the quantizers pass straight-through
gradients (clipped where NNabla clips them); the scale / zero_point of
(de)quantize_linear have no gradient (NNabla raises when asked; nablite passes
nothing, as for logical ops). min_max_quantize writes the ranges it tracks or
nudges into qr_min / qr_max during forward, as NNabla does.
"""
import numpy as np

from .base import Function, keep_args, require, sum_to, unary, named
from .math import _round_half_away

__all__ = ["binary_sigmoid", "binary_tanh", "prune", "fixed_point_quantize", "pow2_quantize",
           "quantize_linear", "dequantize_linear", "min_max_quantize"]

#                     NNabla type       forward                                     dL/dx (clipped straight-through)
BinarySigmoid = unary("BinarySigmoid", lambda xp, x: (x > 0).astype(x.dtype),
                      lambda xp, g, x, y: xp.where(xp.abs(x) < 1, 0.5 * g, 0),
                      graph=lambda F, g, x, y: (0.5 * g) * F.less_scalar(F.abs(x), 1.0))
BinaryTanh = unary("BinaryTanh",       lambda xp, x: xp.where(x > 0, 1, -1).astype(x.dtype),
                   lambda xp, g, x, y: g * (xp.abs(x) < 1),
                   graph=lambda F, g, x, y: g * F.less_scalar(F.abs(x), 1.0))

_INT_CODES = {np.int8: 1, np.uint8: 2}
_INT_RANGES = {1: (-128, 127), 2: (0, 255)}


class Prune(Function):
    """Zero the entries of small |x| (see :func:`prune`); straight-through gradient."""

    def __init__(self, rate=0.9):
        self.rate = rate

    def setup(self, x):
        require(self, 0 <= self.rate <= 1, f"rate must be in [0, 1], got {self.rate}")
        return x

    def forward(self, xp, x):
        if self.rate == 1 or x.size == 0:
            return xp.zeros_like(x)
        a = xp.abs(x).reshape(-1)
        k = int((a.size - 1) * float(self.rate))
        threshold = xp.partition(a, k)[k]
        return xp.where(xp.abs(x) < threshold, 0, x).astype(x.dtype)

    def backward(self, xp, xs, ys, gys):
        return (gys[0],)

    def grad_graph(self, need, xs, ys, gys):
        return [gys[0]]  # straight-through: the identity, for every order


class FixedPointQuantize(Function):
    """Round to a multiple of delta (half away from zero), saturated to n bits."""

    def __init__(self, sign=True, n=8, delta=0.0625, ste_fine_grained=True):
        self.sign, self.n, self.delta = sign, n, delta
        self.ste_fine_grained = ste_fine_grained

    def setup(self, x):
        require(self, self.n > (1 if self.sign else 0) and self.delta > 0,
                f"needs n > {1 if self.sign else 0} bits (sign takes one) and delta > 0, "
                f"got n={self.n}, delta={self.delta}")
        return x

    def _range(self):
        if self.sign:
            top = (2 ** (self.n - 1) - 1) * self.delta
            return -top, top
        return 0.0, (2 ** self.n - 1) * self.delta

    def forward(self, xp, x):
        low, high = self._range()
        q = xp.sign(x) * xp.floor(xp.abs(x) / self.delta + 0.5) * self.delta
        return xp.clip(q, low, high).astype(x.dtype)

    def backward(self, xp, xs, ys, gys):
        if not self.ste_fine_grained:
            return (gys[0],)
        low, high = self._range()
        x = xs[0]
        return (gys[0] * ((x >= low) & (x <= high)),)


class Pow2Quantize(Function):
    """Round |x| to a power of two in log2 space, saturated to [2^(m - 2^b + 1), 2^m]
    where b = n minus a bit for the sign and one for zero."""

    def __init__(self, sign=True, with_zero=True, n=8, m=1, ste_fine_grained=True):
        self.sign, self.with_zero, self.n, self.m = sign, with_zero, n, m
        self.ste_fine_grained = ste_fine_grained

    def setup(self, x):
        bits = self.n - int(bool(self.sign)) - int(bool(self.with_zero))
        require(self, bits > 0, f"n={self.n} leaves no bit once sign={self.sign} and "
                f"with_zero={self.with_zero} take theirs")
        self._low = 2.0 ** (self.m - (2 ** bits - 1))
        self._high = 2.0 ** self.m
        return x

    def _rounded(self, xp, x):
        """sign(x) 2^round(log2 |x|), NNabla's q-bar (0 for x == 0)."""
        with np.errstate(divide="ignore"):
            return xp.sign(x) * xp.exp2(xp.floor(xp.log2(xp.abs(x)) + 0.5))

    def forward(self, xp, x):
        v = x if self.sign else xp.maximum(x, 0)
        mag = xp.clip(xp.abs(self._rounded(xp, v)), self._low, self._high)
        q = xp.where(v < 0, -mag, mag)
        if self.with_zero:
            q = xp.where(xp.abs(v) < self._low * 2 ** -0.5, 0, q)
        return q.astype(x.dtype)

    def backward(self, xp, xs, ys, gys):
        if not self.ste_fine_grained:
            return (gys[0],)
        qbar = self._rounded(xp, xs[0])
        low = -self._high if self.sign else 0
        return (gys[0] * ((qbar <= self._high) & (qbar >= low)),)


def _round(xp, v, mode):
    if mode == "HALF_TO_EVEN":
        return xp.round(v)
    return xp.sign(v) * xp.floor(xp.abs(v) + 0.5)


def _check_per_axis(fn, x, scale, zero_point):
    for name, s in (("scale", scale), ("zero_point", zero_point)):
        require(fn, len(s) == len(x) and all(a in (1, b) for a, b in zip(s, x)),
                f"{name} {s} must have x's {len(x)} dimensions, each 1 or equal to x {x}")


class QuantizeLinear(Function):
    """y = saturate(round(x / scale) + round(zero_point)), in the int range of dtype
    (stored as float); straight-through gradient dy / scale."""

    def __init__(self, round_mode="HALF_AWAY_FROM_ZERO", narrow_range=False, dtype=1):
        self.round_mode, self.narrow_range, self.dtype = round_mode, narrow_range, dtype

    def setup(self, x, scale, zero_point):
        require(self, self.round_mode in ("HALF_AWAY_FROM_ZERO", "HALF_TO_EVEN"),
                f"round_mode must be 'HALF_AWAY_FROM_ZERO' or 'HALF_TO_EVEN', got "
                f"{self.round_mode!r}")
        require(self, self.dtype in _INT_RANGES, f"dtype must be numpy.int8 or numpy.uint8, "
                f"got {self.dtype!r}")
        _check_per_axis(self, x, scale, zero_point)
        return x

    def _range(self):
        low, high = _INT_RANGES[self.dtype]
        return low + int(bool(self.narrow_range)), high

    def forward(self, xp, x, scale, zero_point):
        low, high = self._range()
        zp = xp.clip(_round(xp, zero_point, self.round_mode), low, high)
        y = xp.clip(_round(xp, x / scale, self.round_mode) + zp, low, high)
        return y.astype(x.dtype if x.dtype.kind == "f" else np.float32)

    def backward(self, xp, xs, ys, gys):
        return (gys[0] / xs[1] if self.need[0] else None), None, None

    def grad_graph(self, need, xs, ys, gys):
        # gy / scale on Variables: differentiated again, scale gets -gy / scale^2
        # from it, as in NNabla (its first-order gradient stays none)
        return [gys[0] / xs[1] if need[0] else None, None, None]


class DequantizeLinear(Function):
    """y = (x - zero_point) * scale; gradient gy * scale for x."""

    def setup(self, x, scale, zero_point):
        _check_per_axis(self, x, scale, zero_point)
        return x

    def forward(self, xp, x, scale, zero_point):
        dtype = x.dtype if x.dtype.kind == "f" else (
            scale.dtype if scale.dtype.kind == "f" else np.float32)
        return ((x.astype(dtype, copy=False) - zero_point) * scale).astype(dtype, copy=False)

    def backward(self, xp, xs, ys, gys):
        if not self.need[0]:
            return None, None, None
        return sum_to(xp, gys[0] * xs[1], xs[0].shape).astype(gys[0].dtype), None, None

    def grad_graph(self, need, xs, ys, gys):
        # gy * scale on Variables (scale broadcasts to x): differentiated again,
        # scale gets x's gradient's weighting, as in NNabla
        return [gys[0] * xs[1] if need[0] else None, None, None]


@named
def binary_sigmoid(x, n_outputs=-1, outputs=None):
    """Binary step of x (Variable): 1 where x > 0, else 0. Gradient (straight-through,
    clipped): 0.5 dy where |x| < 1, else 0."""
    return BinarySigmoid()(x, n_outputs=n_outputs, outputs=outputs)


@named
def binary_tanh(x, n_outputs=-1, outputs=None):
    """Binary step of x (Variable): 1 where x > 0, else -1. Gradient (straight-through,
    clipped): dy where |x| < 1, else 0."""
    return BinaryTanh()(x, n_outputs=n_outputs, outputs=outputs)


@named
def prune(x, rate=0.9, n_outputs=-1, outputs=None):
    """Zero about a fraction ``rate`` of x, the entries of smallest |x|.

    With a = sorted |x| (n entries), entries with |x| < a[int((n - 1) rate)]
    become 0 (all of them when rate == 1). The gradient passes straight through.

    Args:
        x (Variable): input.
        rate (float): in [0, 1].

    Returns:
        Variable: x with small entries zeroed.
    """
    return Prune(rate)(x, n_outputs=n_outputs, outputs=outputs)


@named
def fixed_point_quantize(x, sign=True, n=8, delta=0.0625, quantize=True,
                         ste_fine_grained=True, outputs=None):
    """Simulated fixed-point quantization with step delta and n bits.

    .. math:: q = \\mathrm{clip}(\\mathrm{sign}(x) \\lfloor |x| / \\delta + 1/2 \\rfloor \\delta,
              min, max)

    with (min, max) = (-(2^{n-1} - 1) delta, (2^{n-1} - 1) delta) if sign, else
    (0, (2^n - 1) delta). Gradient: dy inside [min, max] and 0 outside
    (ste_fine_grained), or dy everywhere.

    Args:
        x (Variable): input.
        sign (bool): signed range (one of the n bits holds the sign).
        n (int): bit width. delta (float): step size.
        quantize (bool): if False, return x unchanged.
        ste_fine_grained (bool): zero the gradient outside the range.

    Returns:
        Variable: quantized values (stored as floats).
    """
    if not quantize:
        return x
    return FixedPointQuantize(sign, n, delta, ste_fine_grained)(x, outputs=outputs)


@named
def pow2_quantize(x, sign=True, with_zero=True, n=8, m=1, quantize=True,
                  ste_fine_grained=True, outputs=None):
    """Simulated power-of-two quantization.

    .. math:: \\bar q = \\mathrm{sign}(x)\\, 2^{\\mathrm{round}(\\log_2 |x|)}

    with |q| saturated to [2^{m - (2^b - 1)}, 2^m], b = n - sign - with_zero bits.
    With zero, |x| below min / sqrt(2) becomes 0; unsigned, negative x counts as 0.
    Gradient: dy where -2^m <= q-bar <= 2^m (0 <= q-bar unsigned) if
    ste_fine_grained, else dy everywhere.

    Args:
        x (Variable): input.
        sign (bool): keep signs (one bit). with_zero (bool): represent 0 (one bit).
        n (int): bit width. m (int): 2^m is the largest magnitude.
        quantize (bool): if False, return x unchanged.
        ste_fine_grained (bool): zero the gradient where q-bar saturates.

    Returns:
        Variable: quantized values (stored as floats).
    """
    if not quantize:
        return x
    return Pow2Quantize(sign, with_zero, n, m, ste_fine_grained)(x, outputs=outputs)


@named
def quantize_linear(x, scale, zero_point, round_mode='HALF_AWAY_FROM_ZERO', narrow_range=False,
                    dtype=np.int8):
    """Linear quantization: y = saturate(round(x / scale) + round(zero_point)).

    Saturation is to dtype's range ([-128, 127] for int8, [0, 255] for uint8;
    without the lowest value if narrow_range); values are stored as floats.
    The gradient of x is dy / scale (straight-through); scale and zero_point get none.

    Args:
        x (Variable): input.
        scale, zero_point (Variable): x's number of dimensions, each 1 or x's size.
        round_mode (str): 'HALF_AWAY_FROM_ZERO' or 'HALF_TO_EVEN'.
        narrow_range (bool): leave out the lowest integer.
        dtype: numpy.int8 or numpy.uint8.

    Returns:
        Variable: quantized values.
    """
    try:  # NNabla's argument is its integer type code: 1 (int8) or 2 (uint8)
        code = dtype if isinstance(dtype, int) else _INT_CODES.get(np.dtype(dtype).type)
    except TypeError:
        code = None
    return QuantizeLinear(round_mode, narrow_range, dtype if code is None else code)(
        x, scale, zero_point)


@named
def dequantize_linear(x, scale, zero_point, n_outputs=-1, outputs=None):
    """Linear dequantization: y = (x - zero_point) * scale.

    Args:
        x (Variable): quantized input.
        scale, zero_point (Variable): x's number of dimensions, each 1 or x's size.

    Returns:
        Variable: float values. x's gradient is dy * scale; scale and zero_point get none.
    """
    return DequantizeLinear()(x, scale, zero_point, n_outputs=n_outputs, outputs=outputs)


class MinMaxQuantize(Function):
    """Uniform quantization between a (nudged) range [qr_min, qr_max] into the levels
    [ql_min, ql_max]; the ranges hold one value per slice of x (size-1 axes reduce)."""

    integer_inputs = (1, 2, 3, 4)  # running ranges written in place; integer levels
    writes_inputs = (1, 2)  # the range (at least eps wide, moved with x_min_max)

    def __init__(self, decay=0.999, x_min_max=False, ema=False, ste_fine_grained=True,
                 eps=0.01):
        keep_args(self, locals())

    @property
    def recomputable(self):  # the moving average of the range moves in forward
        return not (self.x_min_max and self.ema)

    def setup(self, x, qr_min, qr_max, ql_min, ql_max):
        for name, s in (("qr_max", qr_max), ("ql_min", ql_min), ("ql_max", ql_max)):
            require(self, tuple(s) == tuple(qr_min),
                    f"{name} {s} must have the shape of qr_min {qr_min}")
        require(self, len(qr_min) == len(x),
                f"qr_min {qr_min} must have as many dimensions as x {x} (size 1 where "
                "x's axis is reduced)")
        require(self, all(q in (1, s) for q, s in zip(qr_min, x)),
                f"qr_min {qr_min} must match x {x} on every axis that is not of size 1")
        self._axes = tuple(i for i, q in enumerate(qr_min) if q == 1)
        return tuple(x)

    def forward(self, xp, x, qr_min, qr_max, ql_min, ql_max):
        if self.x_min_max:
            lo = x.min(axis=self._axes, keepdims=True)
            hi = x.max(axis=self._axes, keepdims=True)
            if self.ema:
                d = self.decay
                qr_min[...] = d * qr_min + (1 - d) * lo
                qr_max[...] = d * qr_max + (1 - d) * hi
            else:
                qr_min[...] = lo
                qr_max[...] = hi
        # Keep the range at least eps wide, in the qr_max input itself (as NNabla does).
        # (a masked copy, not "if narrow.any()", which would wait for a device)
        narrow = qr_max - qr_min < self.eps
        xp.copyto(qr_max, qr_min + self.eps, where=narrow, casting="unsafe")
        lo, hi, scale = self._nudged(xp, qr_min, qr_max, ql_min, ql_max)
        y = xp.minimum(xp.maximum(x, lo), hi)
        return (_round_half_away(xp, (y - lo) / scale) * scale + lo).astype(x.dtype, copy=False)

    @staticmethod
    def _nudged(xp, qr_min, qr_max, ql_min, ql_max):
        """The range moved so that the real 0 falls on a level (an integer zero point)."""
        scale = (qr_max - qr_min) / (ql_max - ql_min)
        zp = ql_min - qr_min / scale
        zp = xp.where(zp <= ql_min, ql_min, xp.where(zp >= ql_max, ql_max,
                                                     _round_half_away(xp, zp)))
        return (ql_min - zp) * scale, (ql_max - zp) * scale, scale

    def backward(self, xp, xs, ys, gys):
        x, qr_min, qr_max, ql_min, ql_max = xs
        gy = gys[0]
        need = self.need
        require(self, not (need[3] or need[4]),
                "ql_min and ql_max take no gradient; set their need_grad to False")
        lo, hi, _ = self._nudged(xp, qr_min, qr_max, ql_min, ql_max)
        gx = gmin = gmax = None
        if need[0]:
            gx = gy * ((x >= lo) & (x <= hi)) if self.ste_fine_grained else gy
        if not (self.x_min_max or self.ema):  # tracked ranges are not learned
            if need[1]:
                gmin = (gy * (x < lo)).sum(axis=self._axes, keepdims=True)
            if need[2]:
                gmax = (gy * (x > hi)).sum(axis=self._axes, keepdims=True)
        return gx, gmin, gmax, None, None


@named
def min_max_quantize(x, qr_min, qr_max, ql_min, ql_max, decay=0.999, x_min_max=False,
                     ema=False, ste_fine_grained=True, eps=0.01, quantize=True, outputs=None):
    """Min-max (uniform, zero-point) quantization.

    .. math::
        s = \\frac{M - m}{M_q - m_q}, \\quad
        y = \\mathrm{round}\\left(\\frac{\\min(\\max(x, m), M) - m}{s}\\right) s + m

    with levels ``m_q = ql_min``, ``M_q = ql_max`` and the range ``m = qr_min``,
    ``M = qr_max`` nudged so that 0 is exactly representable: the zero point
    ``zp = m_q - qr_min / s`` is rounded and clipped to the levels, and
    ``m = (m_q - zp) s``, ``M = (M_q - zp) s``. Before that, a range narrower than
    ``eps`` is widened in ``qr_max`` itself. The ranges hold one value per slice
    of x: their size-1 axes are reduced over.

    The range comes from:
      * ``x_min_max`` and ``ema``: a moving average, ``qr <- decay qr + (1 - decay)
        min/max(x)``, written into qr_min / qr_max;
      * ``x_min_max`` only: min(x) / max(x), written into qr_min / qr_max;
      * ``ema`` only: qr_min / qr_max as they are;
      * neither: qr_min / qr_max as they are, learned: their gradients are the sums
        of dy where x falls below m / above M.

    Backward to x is straight-through: dy, masked to ``m <= x <= M`` when
    ``ste_fine_grained``. ql_min / ql_max take no gradient (asking raises).

    Args:
        x (Variable): input.
        qr_min, qr_max (Variable): quantization range, x's number of dimensions,
            size 1 on reduced axes (modified in forward).
        ql_min, ql_max (Variable): quantization levels (e.g. 0 and 255), qr_min's shape.
        decay (float): decay of the moving average.
        x_min_max (bool): take the range from min(x) and max(x).
        ema (bool): keep the range as a moving average.
        ste_fine_grained (bool): zero the gradient of x outside the range.
        eps (float): smallest width of the range.
        quantize (bool): False returns x unchanged.

    Returns:
        Variable: x's shape.
    """
    if not quantize:
        return x
    return MinMaxQuantize(decay, x_min_max, ema, ste_fine_grained, eps)(
        x, qr_min, qr_max, ql_min, ql_max, outputs=outputs)
