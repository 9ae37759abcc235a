"""Math: elementwise math functions, straight-through rounding, and the
input-free generators ``constant``, ``arange`` and ``linspace``.

(``batch_matmul`` belongs to this NNabla category too; it lives in layers.py
next to ``affine``, with which it shares its matrix code.)
"""
import math as _math

import numpy as np

from .arithmetic import number
from .base import Function, keep_args, binary, require, unary, unary_public, named

__all__ = ["constant", "arange", "linspace", "abs", "exp", "log", "identity", "round",
           "ceil", "floor", "sin", "cos", "tan", "sinh", "cosh", "asin", "acos", "atan",
           "atan2", "asinh", "acosh", "atanh", "erf"]

_SQRT_PI = _math.sqrt(_math.pi)


class _Generator(Function):
    """A function with no inputs: its output depends only on its arguments.

    Outputs are float32, NNabla's dtype for every generated array.
    """

    def backward(self, xp, xs, ys, gys):
        return ()


class Constant(_Generator):
    """An array of shape ``shape`` filled with ``val``."""
    half_kernel = False  # float32 in 'half' contexts too, as NNabla's

    def __init__(self, val, shape):
        self.val = val
        self.shape = shape

    def setup(self):
        require(self, all(isinstance(s, (int, np.integer)) and s >= 0 for s in self.shape),
                f"shape={self.shape!r} must be a sequence of non-negative integers")
        return tuple(int(s) for s in self.shape)

    def forward(self, xp):
        return xp.full(self.out_shapes[0], self.val, dtype=xp.float32)


class Arange(_Generator):
    """start, start + step, ... while below ``stop`` (above, for a negative step).

    NNabla adds ``step`` to a float32 running value, so both the length and the
    values follow float32 accumulation (arange(0, 3, 0.3) has 11 entries, the
    last just below 3); we reproduce that with a sequential float32 cumsum.
    """

    def __init__(self, start, stop, step):
        keep_args(self, locals())

    def setup(self):
        for arg in ("start", "stop", "step"):  # NaN never ends the sequence, inf never starts it
            value = getattr(self, arg)
            require(self, _math.isfinite(value), f"{arg}={value} must be a finite number")
        require(self, self.step != 0, "step=0 must not be zero")
        return (self._length(),)

    def _sequence(self, xp, n):
        steps = xp.full(n, self.step, dtype=xp.float32)
        steps[0] = self.start
        return xp.cumsum(steps, dtype=xp.float32)

    def _length(self):
        span = (self.stop - self.start) / self.step
        if span <= 0:
            return 0
        n = int(_math.ceil(span)) + 16
        while True:  # float32 drift can only add a few entries; grow until one is past stop
            seq = self._sequence(np, n)
            inside = seq < self.stop if self.step > 0 else seq > self.stop
            if not inside[-1]:
                return int(np.argmin(inside))
            require(self, seq[-1] != seq[-2],
                    f"step={self.step} is too small to move a float32 value past "
                    f"{seq[-1]}; the sequence would never reach stop={self.stop}")
            n *= 2

    def forward(self, xp):
        n = self.out_shapes[0][0]
        return self._sequence(xp, n) if n else xp.zeros(0, dtype=xp.float32)


class Linspace(_Generator):
    """``num`` evenly spaced values from start to stop, both included."""

    def __init__(self, start, stop, num):
        keep_args(self, locals())

    def setup(self):
        require(self, isinstance(self.num, (int, np.integer)) and self.num >= 0,
                f"num={self.num!r} (the number of samples) must be a non-negative integer")
        return (int(self.num),)

    def forward(self, xp):
        # float64 spacing, rounded once to float32 (within 1 ulp of NNabla's values)
        return xp.linspace(self.start, self.stop, self.num).astype(xp.float32)


def _round_half_away(xp, x):
    """Round to nearest, ties away from zero (numpy's rint rounds ties to even).

    ``x - trunc(x)`` is exact in floating point, so the tie test is exact too
    (0.49999997 rounds to 0, which floor(x + 0.5) would get wrong).
    """
    t = xp.trunc(x)
    return t + xp.sign(x) * (xp.abs(x - t) >= 0.5)


def _erf_series_coefficients(terms=36):
    """q_n = 1 / (1 * 3 * 5 * ... * (2n + 1)), for the series in ``_erf``."""
    q = [1.0]
    for n in range(1, terms):
        q.append(q[-1] / (2 * n + 1))
    return q


_ERF_SERIES = _erf_series_coefficients()


def _erf(xp, x):
    """The error function to ~1e-15, with NumPy only (scipy is not a dependency).

    |x| < 2.5: erf(a) = 2/sqrt(pi) a exp(-a^2) sum_n q_n (2a^2)^n, a series of
    positive terms (no cancellation), summed by Horner's rule; 36 terms reach
    double precision there.
    |x| >= 2.5: erfc(a) = exp(-a^2) / (sqrt(pi) (a + (1/2)/(a + 1/(a + (3/2)/(a + ...))))),
    a continued fraction that 25 levels make exact to double precision.
    Each branch only sees its own entries. float32 inputs are evaluated in
    float64 and rounded once.
    """
    out_dtype = x.dtype if x.dtype.kind == "f" else xp.float64
    a = xp.abs(x.astype(xp.float64, copy=False))
    y = xp.empty_like(a)
    small = a < 2.5
    s = a[small]
    c = 2.0 * s * s
    acc = xp.full_like(s, _ERF_SERIES[-1])
    for q in reversed(_ERF_SERIES[:-1]):
        acc *= c
        acc += q
    y[small] = (2.0 / _SQRT_PI) * s * xp.exp(-0.5 * c) * acc
    large = ~small  # also NaN, which stays NaN
    b = xp.minimum(a[large], 10.0)  # erf(10) == 1 in double precision
    k = b
    for n in range(25, 0, -1):
        k = b + (n / 2.0) / k
    y[large] = 1.0 - xp.exp(-b * b) / (_SQRT_PI * k)
    return xp.copysign(y, x).astype(out_dtype, copy=False)


def _sign_plus_at_zero(x):
    """+1 for x >= 0, -1 below (NNabla's abs gradient at 0), in x's dtype;
    arithmetic rather than where(), which is ~5x slower on mixed signs."""
    s = (x >= 0).astype(x.dtype)
    s *= 2
    s -= 1
    return s


def _sqrt_1_minus_sq(xp, x):
    return xp.sqrt(1 - x * x)


#              NNabla type  forward f(xp, x)                 vjp(xp, gy, x, y): dL/dx
Abs = unary("Abs",           lambda xp, x: xp.abs(x),          lambda xp, g, x, y: g * _sign_plus_at_zero(x),
            graph=lambda F, g, x, y: g * (2 * F.greater_equal_scalar(x, 0.0) - 1))
Exp = unary("Exp",           lambda xp, x: xp.exp(x),          lambda xp, g, x, y: g * y)
Log = unary("Log",           lambda xp, x: xp.log(x),          lambda xp, g, x, y: g / x)
Identity = unary("Identity", lambda xp, x: x.copy(),           lambda xp, g, x, y: g, reads="")
Identity.integer_inputs = True  # NNabla's identity keeps the dtype
Identity.half_kernel = None  # (in 'half' contexts too)
# Rounding is flat almost everywhere; NNabla passes the gradient straight through.
Round = unary("Round",       _round_half_away,                 lambda xp, g, x, y: g)
Ceil = unary("Ceil",         lambda xp, x: xp.ceil(x),         lambda xp, g, x, y: g)
Floor = unary("Floor",       lambda xp, x: xp.floor(x),        lambda xp, g, x, y: g)
Sin = unary("Sin",           lambda xp, x: xp.sin(x),          lambda xp, g, x, y: g * xp.cos(x))
Cos = unary("Cos",           lambda xp, x: xp.cos(x),          lambda xp, g, x, y: -g * xp.sin(x))
Tan = unary("Tan",           lambda xp, x: xp.tan(x),          lambda xp, g, x, y: g * (1 + y * y))
Sinh = unary("Sinh",         lambda xp, x: xp.sinh(x),         lambda xp, g, x, y: g * xp.cosh(x))
Cosh = unary("Cosh",         lambda xp, x: xp.cosh(x),         lambda xp, g, x, y: g * xp.sinh(x))
ASin = unary("ASin",         lambda xp, x: xp.arcsin(x),       lambda xp, g, x, y: g / _sqrt_1_minus_sq(xp, x))
ACos = unary("ACos",         lambda xp, x: xp.arccos(x),       lambda xp, g, x, y: -g / _sqrt_1_minus_sq(xp, x))
ATan = unary("ATan",         lambda xp, x: xp.arctan(x),       lambda xp, g, x, y: g / (1 + x * x))
ASinh = unary("ASinh",       lambda xp, x: xp.arcsinh(x),      lambda xp, g, x, y: g / xp.sqrt(x * x + 1))
ACosh = unary("ACosh",       lambda xp, x: xp.arccosh(x),      lambda xp, g, x, y: g / xp.sqrt(x * x - 1))
ATanh = unary("ATanh",       lambda xp, x: xp.arctanh(x),      lambda xp, g, x, y: g / (1 - x * x))
Erf = unary("Erf",           _erf,
            lambda xp, g, x, y: g * ((2.0 / _SQRT_PI) * xp.exp(-x * x)))

#               NNabla type  forward                          dL/dx0                                  dL/dx1
ATan2 = binary("ATan2", lambda xp, a, b: xp.arctan2(a, b),
               lambda xp, g, a, b, y: g * b / (a * a + b * b), lambda xp, g, a, b, y: -g * a / (a * a + b * b))


@named
def constant(val=0, shape=[]):
    """An array filled with one value (no inputs, no gradient).

    Args:
        val (float): The fill value.
        shape (list of int): Output shape; ``[]`` gives a 0-d array.

    Returns:
        Variable: float32 array of ``shape`` with every entry ``val``.
    """
    return Constant(float(number(val)), list(shape))()


@named
def arange(start, stop, step=1):
    """Evenly spaced values in the half-open interval [start, stop).

    Values are ``start + step + step + ...`` accumulated in float32, as NNabla
    does, so lengths and last digits can differ from ``numpy.arange``.

    Args:
        start (float): First value.
        stop (float): End of the interval (excluded).
        step (float): Spacing; must not be 0, may be negative.

    Returns:
        Variable: 1-d float32 array.
    """
    return Arange(float(number(start)), float(number(stop)), float(number(step)))()


@named
def linspace(start, stop, num):
    """``num`` evenly spaced values over [start, stop] (both ends included).

    Args:
        start (float): First value.
        stop (float): Last value.
        num (int): Number of values (>= 0); 1 gives ``[start]``.

    Returns:
        Variable: 1-d float32 array of length ``num``.
    """
    if isinstance(num, (int, np.integer)) and num < 0:
        raise ValueError(f"Linspace: num={num} (the number of samples) must be non-negative")
    return Linspace(float(number(start)), float(number(stop)), num)()


# The public functions of one input: name, node, summary; then what they return
# where it is not "name(x), same shape", and what x must be where not any input.
abs = unary_public("abs", Abs, "Absolute value, y = |x| (gradient +1 at x = 0, as NNabla).",
                   "Variable: |x|, same shape.")
exp = unary_public("exp", Exp, "Natural exponential, y = e^x.")
log = unary_public("log", Log, "Natural logarithm, y = ln x.", x="Input (positive).")
identity = unary_public("identity", Identity,
                        "A copy of the input, y = x (gradient passes unchanged).",
                        "Variable: x, same shape.")
round = unary_public("round", Round,
                     "Round to nearest integer, halves away from zero (0.5 -> 1, -2.5 -> -3).",
                     notes="The backward is the identity (straight-through estimator).")
ceil = unary_public("ceil", Ceil,
                    "Ceiling, y = ceil(x); the backward is the identity (straight-through).")
floor = unary_public("floor", Floor,
                     "Floor, y = floor(x); the backward is the identity (straight-through).")
sin = unary_public("sin", Sin, "Sine, y = sin x. dy/dx = cos x.", x="Input in radians.")
cos = unary_public("cos", Cos, "Cosine, y = cos x. dy/dx = -sin x.", x="Input in radians.")
tan = unary_public("tan", Tan, "Tangent, y = tan x. dy/dx = 1 + tan^2 x.", x="Input in radians.")
sinh = unary_public("sinh", Sinh, "Hyperbolic sine, y = (e^x - e^-x) / 2. dy/dx = cosh x.")
cosh = unary_public("cosh", Cosh, "Hyperbolic cosine, y = (e^x + e^-x) / 2. dy/dx = sinh x.")
asin = unary_public("asin", ASin, "Arcsine, y = arcsin x. dy/dx = 1 / sqrt(1 - x^2).",
                    "Variable: arcsin(x), same shape.", x="Input in [-1, 1].")
acos = unary_public("acos", ACos, "Arccosine, y = arccos x. dy/dx = -1 / sqrt(1 - x^2).",
                    "Variable: arccos(x), same shape.", x="Input in [-1, 1].")
atan = unary_public("atan", ATan, "Arctangent, y = arctan x. dy/dx = 1 / (1 + x^2).",
                    "Variable: arctan(x), same shape.")


@named
def atan2(x0, x1):
    """Two-argument arctangent, y = arctan(x0 / x1) in the quadrant of (x1, x0).

    dy/dx0 = x1 / (x0^2 + x1^2), dy/dx1 = -x0 / (x0^2 + x1^2).

    Args:
        x0 (Variable): Numerator (the y coordinate).
        x1 (Variable): Denominator (the x coordinate).

    Returns:
        Variable: angle in (-pi, pi], the broadcast shape of x0 and x1.
    """
    return ATan2()(x0, x1)


asinh = unary_public("asinh", ASinh, "Inverse hyperbolic sine. dy/dx = 1 / sqrt(x^2 + 1).",
                     "Variable: arcsinh(x), same shape.")
acosh = unary_public("acosh", ACosh, "Inverse hyperbolic cosine. dy/dx = 1 / sqrt(x^2 - 1).",
                     "Variable: arccosh(x), same shape.", x="Input (>= 1).")
atanh = unary_public("atanh", ATanh, "Inverse hyperbolic tangent. dy/dx = 1 / (1 - x^2).",
                     "Variable: arctanh(x), same shape.", x="Input in (-1, 1).")
erf = unary_public("erf", Erf, "Gauss error function, y = 2/sqrt(pi) * integral_0^x exp(-t^2) dt.",
                   notes="dy/dx = 2/sqrt(pi) * exp(-x^2).")
