"""Activation functions: elementwise nonlinearities (table rows), the softmax
family along an axis, the concatenated CReLU/CELU and the learnable PReLU.

Gradients at kinks follow NNabla 1.39 (measured): ReLU, ReLU6 and LeakyReLU
treat x = 0 as the negative side, ELU and PReLU as the positive side, SELU as
the negative side; HardSigmoid and HardTanh include their boundaries.
"""
import math as _math
import numbers

from .arithmetic import number
from .base import (_F, Function, docstring, normalize_axes, public, require, sum_to, unary,
                   unary_public, named)

__all__ = ["sigmoid", "swish", "tanh", "relu", "leaky_relu", "softmax", "log_softmax", "elu",
           "selu", "crelu", "celu", "prelu", "gelu", "mish", "relu6", "hard_sigmoid",
           "hard_tanh", "log_sigmoid", "softplus", "softsign", "tanh_shrink", "sinc"]

_GELU_K = _math.sqrt(2.0 / _math.pi)
_GELU_C = 0.044715


# Selections below are written as masked arithmetic (g * mask, max + min)
# rather than xp.where: where() on a random sign pattern is ~5x slower in NumPy.

def _sigmoid(xp, x):
    """exp(min(x, 0)) / (1 + exp(-|x|)), which is 1 / (1 + exp(-x)) on both sides:
    it never overflows and keeps relative precision for very negative x (so
    log(sigmoid(-20)) stays finite in float32)."""
    if not x.ndim:  # NumPy gives a 0-d input's results as scalars, which out= cannot take
        return _sigmoid(xp, x.reshape(1)).reshape(())
    d = xp.abs(x)
    xp.negative(d, out=d)
    xp.exp(d, out=d)
    d += 1
    y = xp.minimum(x, 0)
    xp.exp(y, out=y)
    y /= d
    return y


def _softplus(xp, x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)) (no overflow; 10x faster than logaddexp)."""
    if not x.ndim:  # as in _sigmoid
        return _softplus(xp, x.reshape(1)).reshape(())
    y = xp.abs(x)
    xp.negative(y, out=y)
    xp.exp(y, out=y)
    xp.log1p(y, out=y)
    y += xp.maximum(x, 0)
    return y


def _where_positive(F, x, a, b):
    """``a`` where x > 0, ``b`` elsewhere, on Variables (``a`` a number)."""
    m = F.greater_scalar(x, 0.0)
    return a * m + (1 - m) * b


def _select(g, positive, slope):
    """g where ``positive``, slope * g elsewhere (exact for both sides)."""
    return g * positive + (slope * g) * ~positive


def _elu(xp, x, alpha):
    # expm1 only sees x <= 0, so large positive inputs raise no overflow warning
    return xp.maximum(x, 0) + alpha * xp.expm1(xp.minimum(x, 0))


def _elu_vjp(xp, g, x, alpha):
    """g * (1 if x >= 0 else alpha * exp(x))."""
    if not x.ndim:  # as in _sigmoid
        return _elu_vjp(xp, g.reshape(1), x.reshape(1), alpha).reshape(())
    d = xp.minimum(x, 0)
    xp.exp(d, out=d)
    d *= alpha
    d *= x < 0
    d += x >= 0
    d *= g
    return d


def _selu_vjp(xp, g, x, y, scale, alpha):
    """g * (scale if x > 0 else scale * alpha * exp(x) = y + scale * alpha); x = 0 is negative."""
    return (scale * g) * (x > 0) + (g * (y + scale * alpha)) * (x <= 0)


def _gelu(xp, x):
    return 0.5 * x * (1 + xp.tanh(_GELU_K * (x + _GELU_C * x * x * x)))


def _gelu_vjp(xp, g, x, y):
    t = xp.tanh(_GELU_K * (x + _GELU_C * x * x * x))
    return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_K * (1 + 3 * _GELU_C * x * x))


def _mish_vjp(xp, g, x, y):
    t = xp.tanh(_softplus(xp, x))
    return g * (t + x * (1 - t * t) * _sigmoid(xp, x))


def _sinc(xp, x):
    zero = x == 0
    safe = xp.where(zero, 1, x)
    return xp.where(zero, 1, xp.sin(safe) / safe)


def _sinc_vjp(xp, g, x, y):
    zero = x == 0
    safe = xp.where(zero, 1, x)
    return xp.where(zero, 0, g * (xp.cos(safe) - y) / safe)


def _sinc_d_graph(F, g, x, y):
    """_sinc_vjp on Variables: x = 0 is replaced by 1 before dividing, so neither
    value nor gradient meets 0 / 0, and there the derivative is -x / 3 (sinc's
    own near 0): 0, as backward gives, with the right slope for nn.grad again."""
    zero = F.equal_scalar(x, 0.0)
    safe = F.where(zero, F.constant(1, x.shape), x)
    return F.where(zero, g * (x * (-1.0 / 3)), g * (F.cos(safe) - y) / safe)


def _elu_d_graph(F, x, alpha):
    """d elu(x) / dx on Variables as _elu_vjp has it: 1 for x >= 0, else
    alpha * exp(x) (exp of min(x, 0), so positive x cannot overflow)."""
    p = F.greater_equal_scalar(x, 0.0)
    return p + (1 - p) * (alpha * F.exp(F.minimum_scalar(x, 0.0)))


#                      NNabla type  forward f(xp, x, ...)        vjp(xp, gy, x, y, ...): dL/dx
Sigmoid = unary("Sigmoid",      _sigmoid,                        lambda xp, g, x, y: g * y * (1 - y), reads="y")
Swish = unary("Swish",          lambda xp, x: x * _sigmoid(xp, x),
              lambda xp, g, x, y: g * (y + _sigmoid(xp, x) * (1 - y)),
              graph=lambda F, g, x, y: g * (y + F.sigmoid(x) * (1 - y)))
Tanh = unary("Tanh",            lambda xp, x: xp.tanh(x),        lambda xp, g, x, y: g * (1 - y * y), reads="y")
ReLU = unary("ReLU",            lambda xp, x, inplace: xp.maximum(x, 0),
             lambda xp, g, x, y, inplace: g * (y > 0), reads="y",  # y > 0 exactly where x > 0
             graph=lambda F, g, x, y, inplace: g * F.greater_scalar(y, 0.0))
LeakyReLU = unary("LeakyReLU",
                  lambda xp, x, alpha, inplace: xp.maximum(x, 0) + alpha * xp.minimum(x, 0),
                  lambda xp, g, x, y, alpha, inplace: _select(g, x > 0, alpha),
                  graph=lambda F, g, x, y, alpha, inplace:
                  g * (alpha + (1 - alpha) * F.greater_scalar(x, 0.0)))
ELU = unary("ELU",              _elu,                            lambda xp, g, x, y, alpha: _elu_vjp(xp, g, x, alpha),
            graph=lambda F, g, x, y, alpha: g * _where_positive(F, x, 1.0, y + alpha))
SELU = unary("SELU",            lambda xp, x, scale, alpha: scale * _elu(xp, x, alpha), _selu_vjp,
             graph=lambda F, g, x, y, scale, alpha:
             g * _where_positive(F, x, scale, y + scale * alpha))
GELU = unary("GELU",            _gelu,                           _gelu_vjp)
Mish = unary("Mish",            lambda xp, x: x * xp.tanh(_softplus(xp, x)), _mish_vjp)
ReLU6 = unary("ReLU6",          lambda xp, x: xp.clip(x, 0, 6),  lambda xp, g, x, y: g * ((x > 0) & (x < 6)),
              graph=lambda F, g, x, y: g * F.greater_scalar(x, 0.0) * F.less_scalar(x, 6.0))
HardSigmoid = unary("HardSigmoid", lambda xp, x: xp.clip(0.2 * x + 0.5, 0, 1),
                    lambda xp, g, x, y: (0.2 * g) * ((x >= -2.5) & (x <= 2.5)),
                    graph=lambda F, g, x, y: (0.2 * g) * F.greater_equal_scalar(x, -2.5)
                    * F.less_equal_scalar(x, 2.5))
HardTanh = unary("HardTanh",    lambda xp, x: xp.clip(x, -1, 1), lambda xp, g, x, y: g * ((x >= -1) & (x <= 1)),
                 graph=lambda F, g, x, y: g * F.greater_equal_scalar(x, -1.0)
                 * F.less_equal_scalar(x, 1.0))
LogSigmoid = unary("LogSigmoid", lambda xp, x: -_softplus(xp, -x),
                   lambda xp, g, x, y: g * _sigmoid(xp, -x),
                   graph=lambda F, g, x, y: g * F.sigmoid(-x))
SoftPlus = unary("SoftPlus",    lambda xp, x, beta: _softplus(xp, beta * x) / beta,
                 lambda xp, g, x, y, beta: g * _sigmoid(xp, beta * x),
                 graph=lambda F, g, x, y, beta: g * F.sigmoid(beta * x))
SoftSign = unary("SoftSign",    lambda xp, x: x / (1 + xp.abs(x)),
                 lambda xp, g, x, y: g / xp.square(1 + xp.abs(x)))
TanhShrink = unary("TanhShrink", lambda xp, x: x - xp.tanh(x),  lambda xp, g, x, y: g * xp.square(x - y))
Sinc = unary("Sinc",            _sinc,                           _sinc_vjp,
             graph=lambda F, g, x, y: _sinc_d_graph(F, g, x, y))


def _one_axis(fn, axis, ndim):
    require(fn, isinstance(axis, numbers.Integral), f"axis={axis!r} must be an integer",
            exc=TypeError)
    require(fn, ndim >= 1, f"axis={axis} of a 0-d input (shape ()); expected an input "
                           "with at least one axis")
    return normalize_axes(fn, axis, ndim)[0]


class Softmax(Function):
    """exp(x) / sum(exp(x)) along one axis, shifted by the max for stability."""
    half_kernel = False  # NNabla computes it in float32 in 'half' contexts

    def __init__(self, axis):
        self.axis = axis

    def setup(self, x):
        require(self, len(x) >= 1, "x must have at least 1 dimension, got a 0-d input")
        self.axis = _one_axis(self, len(x) - 1 if self.axis is None else self.axis, len(x))
        # NNabla stops with a floating-point exception here
        require(self, x[self.axis] > 0, f"axis={self.axis} of an input of shape {x} has "
                                        "size 0; expected at least one element to normalize over")
        return x

    def forward(self, xp, x):
        y = x - x.max(axis=self.axis, keepdims=True)
        xp.exp(y, out=y)
        y /= y.sum(axis=self.axis, keepdims=True)
        return y

    def backward(self, xp, xs, ys, gys):
        y, gy_y = ys[0], gys[0] * ys[0]
        return (gy_y - y * gy_y.sum(axis=self.axis, keepdims=True),)

    def grad_graph(self, need, xs, ys, gys):
        F = _F()
        y, gy_y = ys[0], gys[0] * ys[0]
        return [gy_y - y * F.sum(gy_y, axis=self.axis, keepdims=True)]


class LogSoftmax(Softmax):
    """x - log(sum(exp(x))) along one axis, through the max-shifted log-sum-exp."""

    def forward(self, xp, x):
        y = x - x.max(axis=self.axis, keepdims=True)
        y -= xp.log(xp.exp(y).sum(axis=self.axis, keepdims=True))
        return y

    def backward(self, xp, xs, ys, gys):
        gy = gys[0]
        return (gy - xp.exp(ys[0]) * gy.sum(axis=self.axis, keepdims=True),)

    def grad_graph(self, need, xs, ys, gys):
        F = _F()
        gy = gys[0]
        return [gy - F.exp(ys[0]) * F.sum(gy, axis=self.axis, keepdims=True)]


class CReLU(Function):
    """concat(relu(x), relu(-x)) along ``axis``, which doubles in size."""

    def __init__(self, axis):
        self.axis = axis

    def setup(self, x):
        self.axis = _one_axis(self, self.axis, len(x))
        return x[:self.axis] + (2 * x[self.axis],) + x[self.axis + 1:]

    def _halves(self, xp, x):
        return xp.maximum(x, 0), xp.maximum(-x, 0)

    def forward(self, xp, x):
        return xp.concatenate(self._halves(xp, x), axis=self.axis)

    def backward(self, xp, xs, ys, gys):
        x = xs[0]
        g_pos, g_neg = xp.split(gys[0], [x.shape[self.axis]], axis=self.axis)
        # NNabla counts x = 0 in the negative half (gradient -1 there)
        return (g_pos * (x > 0) - g_neg * (x <= 0),)

    def _gy_halves(self, gy):
        """gy's two halves along the axis, as Variables (slices: linear)."""
        F, n, a = _F(), self.inputs[0].shape[self.axis], self.axis
        start, stop = [0] * len(gy.shape), list(gy.shape)
        halves = []
        for lo, hi in ((0, n), (n, 2 * n)):
            start[a], stop[a] = lo, hi
            halves.append(F.slice(gy, tuple(start), tuple(stop)))
        return halves

    def grad_graph(self, need, xs, ys, gys):
        F = _F()
        g_pos, g_neg = self._gy_halves(gys[0])
        pos = F.greater_scalar(xs[0], 0.0)  # as backward: x = 0 is negative
        return [g_pos * pos - g_neg * (1 - pos)]


class CELU(CReLU):
    """concat(elu(x), elu(-x)) along ``axis``, which doubles in size."""

    def __init__(self, alpha, axis):
        self.alpha = alpha
        self.axis = axis

    def _halves(self, xp, x):
        return _elu(xp, x, self.alpha), _elu(xp, -x, self.alpha)

    def backward(self, xp, xs, ys, gys):
        x = xs[0]
        g_pos, g_neg = xp.split(gys[0], [x.shape[self.axis]], axis=self.axis)
        return (_elu_vjp(xp, g_pos, x, self.alpha) - _elu_vjp(xp, g_neg, -x, self.alpha),)

    def grad_graph(self, need, xs, ys, gys):
        F = _F()
        g_pos, g_neg = self._gy_halves(gys[0])
        x = xs[0]
        return [g_pos * _elu_d_graph(F, x, self.alpha) - g_neg * _elu_d_graph(F, -x, self.alpha)]


class PReLU(Function):
    """x if x >= 0 else w * x, with one slope (w of size 1) or one per channel
    (w of shape (C,), C = x.shape[base_axis])."""

    def __init__(self, base_axis):
        self.base_axis = base_axis

    def setup(self, x, w):
        require(self, -len(x) <= self.base_axis < len(x),
                f"base_axis={self.base_axis} is out of range for x of shape {x}")
        axis = self.base_axis % len(x)
        shared = all(s == 1 for s in w)
        require(self, shared or w == (x[axis],),
                f"the slope x1 {w} must have one element or shape ({x[axis]},), "
                f"the size of x {x} at base_axis={self.base_axis}")
        self._slope_shape = () if shared else (x[axis],) + (1,) * (len(x) - axis - 1)
        return x

    def forward(self, xp, x, w):
        return xp.maximum(x, 0) + w.reshape(self._slope_shape) * xp.minimum(x, 0)

    def backward(self, xp, xs, ys, gys):
        x, w = xs
        gy = gys[0]
        gx = gw = None
        if self.need[0]:
            gx = _select(gy, x >= 0, w.reshape(self._slope_shape))
        if self.need[1]:
            gw = sum_to(xp, gy * xp.minimum(x, 0), self._slope_shape).reshape(w.shape)
        return gx, gw

    def grad_graph(self, need, xs, ys, gys):
        from ..grad import sum_to as sum_to_graph
        F = _F()
        (x, w), gy = xs, gys[0]
        slope = F.reshape(w, self._slope_shape)
        gx = gw = None
        if need[0]:  # as backward: x = 0 is positive
            pos = F.greater_equal_scalar(x, 0.0)
            gx = gy * pos + (slope * gy) * (1 - pos)
        if need[1]:
            gw = F.reshape(sum_to_graph(gy * F.minimum_scalar(x, 0.0), self._slope_shape),
                           w.shape)
        return [gx, gw]


sigmoid = unary_public("sigmoid", Sigmoid, "Logistic sigmoid, y = 1 / (1 + exp(-x)).",
                       "Variable: values in (0, 1), same shape.")
swish = unary_public("swish", Swish, "Swish (SiLU), y = x * sigmoid(x).", "Variable: same shape.")
tanh = unary_public("tanh", Tanh, "Hyperbolic tangent, y = tanh(x).",
                    "Variable: values in (-1, 1), same shape.")


@named
def relu(x, inplace=False):
    """Rectified linear unit, y = max(x, 0) (gradient 0 at x = 0).

    Args:
        x (Variable): Input.
        inplace (bool): Accepted for NNabla compatibility; a new array is always made.

    Returns:
        Variable: same shape.
    """
    return ReLU(inplace=inplace)(x)


@named
def leaky_relu(x, alpha=0.1, inplace=False):
    """Leaky ReLU, y = x if x > 0 else alpha * x.

    Args:
        x (Variable): Input.
        alpha (float): Slope of the negative side.
        inplace (bool): Accepted for NNabla compatibility; a new array is always made.

    Returns:
        Variable: same shape.
    """
    return LeakyReLU(alpha=number(alpha), inplace=inplace)(x)


def _along_axis(name, cls, summary, returns):
    return public(name, lambda x, axis=None: cls(axis)(x), docstring(
        summary, ["x (Variable): Input.",
                  "axis (int): Axis to normalise over; None means the last axis."], returns))


softmax = _along_axis("softmax", Softmax,
                      "Softmax along one axis, y_i = exp(x_i) / sum_j exp(x_j).",
                      "Variable: non-negative values summing to 1 along ``axis``, same shape.")
log_softmax = _along_axis(
    "log_softmax", LogSoftmax,
    "Log of softmax along one axis, y_i = x_i - log(sum_j exp(x_j)), computed stably.",
    "Variable: same shape.")


@named
def elu(x, alpha=1.0):
    """Exponential linear unit, y = x if x >= 0 else alpha * (exp(x) - 1).

    Args:
        x (Variable): Input.
        alpha (float): Scale of the negative side.

    Returns:
        Variable: same shape.
    """
    return ELU(alpha=number(alpha))(x)


@named
def selu(x, scale=1.05070098735548, alpha=1.673263242354377):
    """Scaled ELU, y = scale * (x if x > 0 else alpha * (exp(x) - 1)).

    Args:
        x (Variable): Input.
        scale (float): Output scale (lambda in the paper).
        alpha (float): Scale of the negative side.

    Returns:
        Variable: same shape.
    """
    return SELU(scale=number(scale), alpha=number(alpha))(x)


@named
def crelu(x, axis=1):
    """Concatenated ReLU, y = concat(relu(x), relu(-x)) along ``axis``.

    Args:
        x (Variable): Input.
        axis (int): Concatenation axis; its size doubles.

    Returns:
        Variable: x's shape with ``axis`` doubled.
    """
    return CReLU(axis)(x)


@named
def celu(x, alpha=1.0, axis=1):
    """Concatenated ELU, y = concat(elu(x, alpha), elu(-x, alpha)) along ``axis``.

    Args:
        x (Variable): Input.
        alpha (float): Scale of the ELU's negative side.
        axis (int): Concatenation axis; its size doubles.

    Returns:
        Variable: x's shape with ``axis`` doubled.
    """
    return CELU(number(alpha), axis)(x)


@named
def prelu(x0, x1, base_axis=1):
    """Parametric ReLU, y = x0 if x0 >= 0 else x1 * x0, with a learnable slope.

    Args:
        x0 (Variable): Input.
        x1 (Variable): Slope: one element (shared), or shape (C,) with
            C = x0.shape[base_axis] (one slope per channel).
        base_axis (int): The channel axis of x0 for a per-channel slope.

    Returns:
        Variable: x0's shape.
    """
    return PReLU(base_axis)(x0, x1)


gelu = unary_public("gelu", GELU, "Gaussian error linear unit, tanh approximation:\n"
                    "y = x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))).",
                    "Variable: same shape.")
mish = unary_public("mish", Mish, "Mish, y = x * tanh(softplus(x)).", "Variable: same shape.")
relu6 = unary_public("relu6", ReLU6,
                     "ReLU capped at 6, y = min(max(x, 0), 6) (gradient 1 only for 0 < x < 6).",
                     "Variable: values in [0, 6], same shape.")
hard_sigmoid = unary_public("hard_sigmoid", HardSigmoid,
                            "Piecewise-linear sigmoid, y = clip(0.2 x + 0.5, 0, 1).",
                            "Variable: values in [0, 1], same shape.")
hard_tanh = unary_public("hard_tanh", HardTanh, "Piecewise-linear tanh, y = clip(x, -1, 1).",
                         "Variable: values in [-1, 1], same shape.")
log_sigmoid = unary_public("log_sigmoid", LogSigmoid,
                           "Log of the sigmoid, y = -log(1 + exp(-x)), computed without overflow.",
                           "Variable: non-positive values, same shape.")


@named
def softplus(x, beta=1.0):
    """Softplus, y = log(1 + exp(beta * x)) / beta, computed without overflow.

    Args:
        x (Variable): Input.
        beta (float): Sharpness; larger values approach relu.

    Returns:
        Variable: positive values, same shape.
    """
    return SoftPlus(beta=number(beta))(x)


softsign = unary_public("softsign", SoftSign, "Softsign, y = x / (1 + |x|).",
                        "Variable: values in (-1, 1), same shape.")
tanh_shrink = unary_public("tanh_shrink", TanhShrink, "Tanh shrink, y = x - tanh(x).",
                           "Variable: same shape.")
sinc = unary_public("sinc", Sinc, "Unnormalised sinc, y = sin(x) / x, with y = 1 at x = 0.",
                    "Variable: same shape.")
