"""Loss functions: cross-entropies on logits/probabilities, regression losses, KL.

Label inputs (``target`` of the categorical losses) are integer class indices
(float arrays holding integers are accepted, as in NNabla); they never get a
gradient. A negative label marks a sample to ignore: its loss and gradient are 0.
"""
import math

import numpy as np

from ..backend import on_host
from .base import Function, binary, docstring, public, require, prod, sum_rows, named

__all__ = ["sigmoid_cross_entropy", "binary_cross_entropy", "softmax_cross_entropy",
           "categorical_cross_entropy", "squared_error", "absolute_error", "huber_loss",
           "epsilon_insensitive_loss", "kl_multinomial"]


def _tiny(xp, x):
    """Smallest positive normal of x's dtype: NNabla clamps probabilities here
    before log, so log(0) gives -87.3 (float32) instead of -inf."""
    return xp.finfo(x.dtype).tiny


class _LabelLoss(Function):
    """Shared setup and label handling for losses over a class axis with int labels."""

    integer_inputs = (1,)

    def __init__(self, axis=None):
        self.axis = axis
        self._row_index = None

    def setup(self, x, t):
        ndim = len(x)
        axis = ndim - 1 if self.axis is None else self.axis
        require(self, ndim > 0 and -ndim <= axis < ndim,
                f"axis={self.axis} is out of range for x of shape {x}")
        axis = self._axis = axis % ndim
        # NNabla stops with a floating-point exception here
        require(self, x[axis] > 0, f"axis={axis} of x of shape {x} has size 0: no classes for "
                                   "the labels to pick; expected at least one class")
        want = tuple(x[:axis]) + (1,) + tuple(x[axis + 1:])
        require(self, tuple(t) == want,
                f"target {t} must have x's shape {x} with axis {axis} of size 1, i.e. {want}")
        return want

    def _rows(self, xp, n):
        """0..n-1, kept between calls (the batch size rarely changes)."""
        rows = self._row_index
        if rows is None or len(rows) != n:
            rows = self._row_index = xp.arange(n)
        return rows

    def _onehot(self, x, t):
        """A constant Variable: 1 where the class index along axis equals the label
        (all 0 for an ignored, negative label)."""
        from ..variable import Variable
        from . import equal
        shape = [1] * len(x.shape)
        shape[self._axis] = x.shape[self._axis]
        classes = np.arange(x.shape[self._axis], dtype=np.float64).reshape(shape)
        return equal(t, Variable.from_numpy_array(classes))

    def _labels(self, xp, t):
        """(index array safe for take_along_axis, mask of non-ignored samples)."""
        t = t.astype(xp.intp, copy=False)
        valid = t >= 0
        return xp.where(valid, t, 0), valid

    def _picked(self, xp, a, idx):
        """``a``'s entries at the labels along axis; a label past the last class is
        an error (NNabla reads whatever memory lies there)."""
        try:
            return xp.take_along_axis(a, idx, self._axis)
        except IndexError:
            raise self._label_error(idx, a.shape[self._axis]) from None

    def _label_error(self, labels, n):
        return ValueError(f"{self.name}: target holds the label {int(labels.max())}, but x "
                          f"has {n} classes along axis {self._axis}; labels must be in "
                          f"[0, {n}) (a negative label ignores its sample)")


class SoftmaxCrossEntropy(_LabelLoss):
    """y = logsumexp(x) - x[label] along axis; backward is softmax - onehot."""
    half_kernel = False  # NNabla computes it in float32 in 'half' contexts
    forward_state = ('_softmax',)  # kept from forward for backward; freed with the buffers

    def composite(self, x, t):
        from . import log_softmax, sum as f_sum
        return -f_sum(log_softmax(x, self._axis) * self._onehot(x, t), axis=self._axis,
                      keepdims=True)

    takes_broadcast_grad = True  # backward accepts a gy that only broadcasts to y
    grad_reads_outputs = False

    def forward(self, xp, x, t):
        axis = self._axis
        self._valid_labels = None
        # the rows path decides on values (label range, finite max, underflow): on the
        # host those are free, on a device each would wait for the device and copy
        if x.ndim == 2 and axis == 1 and on_host(xp):
            y = self._forward_rows(xp, x, t)
            if y is not None:
                return y
        z = x - x.max(axis=axis, keepdims=True)
        e = xp.exp(z)
        total = e.sum(axis=axis, keepdims=True)
        # Kept for backward, as NNabla keeps its softmax buffer: saves one exp pass.
        e /= total
        self._softmax = e
        idx, valid = self._labels(xp, t)
        y = xp.log(total) - self._picked(xp, z, idx)
        return xp.where(valid, y, 0).astype(x.dtype, copy=False)

    def _forward_rows(self, xp, x, t):
        """The everyday (batch, classes) case with valid labels, in fewer passes.

        Shifting by the max of the whole batch instead of each row's max avoids
        a slow reduction along the short class axis. It is exact unless a row
        lies so far below the batch max that its exponentials underflow; then
        (row sum below 1e-30) this returns None and the per-row path runs, as
        it does when the batch max is inf or NaN (which must spoil only its
        own row). The checked labels are kept for backward, with the softmax.
        """
        labels = t.reshape(-1).astype(xp.intp, copy=False)
        if not labels.size or labels.min() < 0:
            return None
        top = x.max()
        if not math.isfinite(top):  # a scalar: cheaper than xp.isfinite
            return None
        z = x - top
        try:
            picked = z[self._rows(xp, len(labels)), labels].reshape(-1, 1)
        except IndexError:
            raise self._label_error(labels, x.shape[1]) from None
        e = xp.exp(z, out=z)
        total = sum_rows(xp, e, keepdims=True)
        if total.min() < 1e-30:
            return None
        e /= total
        self._softmax = e
        self._valid_labels = labels
        return xp.log(total) - picked

    def backward(self, xp, xs, ys, gys):
        if not self.need[0]:
            return None, None
        x, t = xs
        axis = self._axis
        softmax = getattr(self, "_softmax", None)
        if softmax is None or softmax.shape != x.shape:
            z = xp.exp(x - x.max(axis=axis, keepdims=True))
            softmax = z / z.sum(axis=axis, keepdims=True)
            self._valid_labels = None
        gy = gys[0]
        if x.ndim == 2 and axis == 1 and on_host(xp):  # as in forward
            labels = self._valid_labels
            if labels is None:
                labels = t.reshape(-1).astype(xp.intp, copy=False)
                if not labels.size or labels.min() < 0:
                    labels = None
            if labels is not None:
                gx = softmax * gy
                gx[self._rows(xp, len(labels)), labels] -= gy.reshape(-1)
                return gx, None
        idx, valid = self._labels(xp, t)
        gy = xp.where(valid, gy, 0).astype(x.dtype, copy=False)
        gx = softmax * gy
        xp.put_along_axis(gx, idx, xp.take_along_axis(gx, idx, axis) - gy, axis)
        return gx, None


class CategoricalCrossEntropy(_LabelLoss):
    """y = -log x[label] along axis (x holds probabilities)."""

    def composite(self, x, t):
        from . import log, sum as f_sum
        return -f_sum(log(x) * self._onehot(x, t), axis=self._axis, keepdims=True)

    def forward(self, xp, x, t):
        idx, valid = self._labels(xp, t)
        picked = xp.maximum(self._picked(xp, x, idx), _tiny(xp, x))
        return xp.where(valid, -xp.log(picked), 0).astype(x.dtype, copy=False)

    def backward(self, xp, xs, ys, gys):
        if not self.need[0]:
            return None, None
        x, t = xs
        idx, valid = self._labels(xp, t)
        picked = xp.maximum(xp.take_along_axis(x, idx, self._axis), _tiny(xp, x))
        gx = xp.zeros_like(x)
        xp.put_along_axis(gx, idx, xp.where(valid, -gys[0] / picked, 0), self._axis)
        return gx, None


class SigmoidCrossEntropy(Function):
    """y = -(t log s(x) + (1 - t) log(1 - s(x))), s the logistic sigmoid."""

    def composite(self, x, t):
        from . import log_sigmoid
        # t log s(x) + (1 - t) log s(-x), and log s(-x) = log s(x) - x
        return x - x * t - log_sigmoid(x)

    def setup(self, x, t):
        require(self, tuple(x) == tuple(t), f"x {x} and target {t} must have the same shape")
        return x

    def forward(self, xp, x, t):
        t = t.astype(x.dtype, copy=False)
        # Stable form of softplus(x) - t x: never exponentiates a positive number.
        return xp.maximum(x, 0) - x * t + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, xp, xs, ys, gys):
        if not self.need[0]:
            return None, None
        x, t = xs
        sig = 1 / (1 + xp.exp(-x))
        return gys[0] * (sig - t.astype(x.dtype, copy=False)), None


def _bce(xp, x, t):
    tiny = _tiny(xp, x)
    return -(t * xp.log(xp.maximum(x, tiny)) + (1 - t) * xp.log(xp.maximum(1 - x, tiny)))


def _bce_dx(xp, g, x, t, y):
    tiny = _tiny(xp, x)
    return g * ((1 - t) / xp.maximum(1 - x, tiny) - t / xp.maximum(x, tiny))


def _bce_dt(xp, g, x, t, y):
    tiny = _tiny(xp, x)
    return g * (xp.log(xp.maximum(1 - x, tiny)) - xp.log(xp.maximum(x, tiny)))


def _huber(xp, a, b, delta):
    d = xp.abs(a - b)
    return xp.where(d < delta, d * d, delta * (2 * d - delta))


def _huber_d(xp, g, a, b, delta):
    # 2d inside the band and +-2 delta outside is exactly 2d clipped to the band.
    return g * xp.clip(2 * (a - b), -2 * delta, 2 * delta)


def _eps_d(xp, g, a, b, epsilon):
    d = a - b
    return xp.where(xp.abs(d) > epsilon, xp.where(d > 0, g, -g), 0)


def _sign_d(xp, g, a, b):
    # NNabla's gradient of |d| is +1 for d > 0 and -1 otherwise (also at d == 0).
    return xp.where(a > b, g, -g)


#     NNabla type, forward, dL/dx0, dL/dx1
BinaryCrossEntropy = binary("BinaryCrossEntropy", _bce, _bce_dx, _bce_dt,
                            graph=(lambda F, g, x, t, y: g * ((1 - t) / (1 - x) - t / x),
                                   lambda F, g, x, t, y: g * (F.log(1 - x) - F.log(x))))
SquaredError = binary("SquaredError", lambda xp, a, b: (a - b) ** 2,
                      lambda xp, g, a, b, y: 2 * g * (a - b),
                      lambda xp, g, a, b, y: -2 * g * (a - b))
def _sign_d_graph(F, g, a, b):
    return g * (2 * F.greater(a, b) - 1)


def _huber_d_graph(F, g, a, b, delta):
    d = a - b  # 2d inside the band (where it has a derivative), +-2 delta outside
    inside = F.less_scalar(F.abs(d), delta)
    return g * (2 * d * inside + (2 * delta) * (1 - inside) * (2 * F.greater_scalar(d, 0.0) - 1))


def _eps_d_graph(F, g, a, b, epsilon):
    d = a - b
    return g * F.greater_scalar(F.abs(d), epsilon) * (2 * F.greater_scalar(d, 0.0) - 1)


AbsoluteError = binary("AbsoluteError", lambda xp, a, b: xp.abs(a - b),
                       lambda xp, g, a, b, y: _sign_d(xp, g, a, b),
                       lambda xp, g, a, b, y: -_sign_d(xp, g, a, b),
                       graph=(lambda F, g, a, b, y: _sign_d_graph(F, g, a, b),
                              lambda F, g, a, b, y: -_sign_d_graph(F, g, a, b)))
HuberLoss = binary("HuberLoss", _huber,
                   lambda xp, g, a, b, y, delta: _huber_d(xp, g, a, b, delta),
                   lambda xp, g, a, b, y, delta: -_huber_d(xp, g, a, b, delta),
                   graph=(lambda F, g, a, b, y, delta: _huber_d_graph(F, g, a, b, delta),
                          lambda F, g, a, b, y, delta: -_huber_d_graph(F, g, a, b, delta)))
EpsilonInsensitiveLoss = binary(
    "EpsilonInsensitiveLoss", lambda xp, a, b, epsilon: xp.maximum(xp.abs(a - b) - epsilon, 0),
    lambda xp, g, a, b, y, epsilon: _eps_d(xp, g, a, b, epsilon),
    lambda xp, g, a, b, y, epsilon: -_eps_d(xp, g, a, b, epsilon),
    graph=(lambda F, g, a, b, y, epsilon: _eps_d_graph(F, g, a, b, epsilon),
           lambda F, g, a, b, y, epsilon: -_eps_d_graph(F, g, a, b, epsilon)))


class KLMultinomial(Function):
    """D = sum_i p_i (log p_i - log q_i) over the axes from base_axis on."""

    def composite(self, p, q):
        from . import log, reshape, sum as f_sum
        lead = p.shape[:self._axis]
        d = p * (log(p) - log(q))  # for p, q > 0 (forward clamps at the tiniest float)
        return reshape(f_sum(reshape(d, (prod(lead), -1)), axis=1), lead + (1,))

    def __init__(self, base_axis=1):
        self.base_axis = base_axis

    def setup(self, p, q):
        require(self, tuple(p) == tuple(q), f"p {p} and q {q} must have the same shape")
        ndim = len(p)
        require(self, -ndim <= self.base_axis < max(ndim, 1),
                f"base_axis={self.base_axis} is out of range for p of shape {p}")
        self._axis = self.base_axis % ndim
        # (samples, elements per sample), stated: an empty p cannot reshape to (n, -1)
        self._matrix = (prod(p[:self._axis]), prod(p[self._axis:]))
        return tuple(p[:self._axis]) + (1,)

    def _flat(self, a):
        return a.reshape(self._matrix)

    def forward(self, xp, p, q):
        p2, q2 = self._flat(p), self._flat(q)
        tiny = _tiny(xp, p)
        d = p2 * (xp.log(xp.maximum(p2, tiny)) - xp.log(xp.maximum(q2, tiny)))
        return d.sum(axis=1).reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        p, q = xs
        tiny = _tiny(xp, p)
        gy = gys[0].reshape(-1, 1)
        p2, q2 = self._flat(p), self._flat(q)
        gp = gq = None
        if self.need[0]:
            gp = (gy * (xp.log(xp.maximum(p2, tiny)) - xp.log(xp.maximum(q2, tiny)) + 1)
                  ).reshape(p.shape)
        if self.need[1]:
            gq = (-gy * p2 / xp.maximum(q2, tiny)).reshape(q.shape)
        return gp, gq


@named
def sigmoid_cross_entropy(x, target, n_outputs=-1, outputs=None):
    """Element-wise cross-entropy between sigmoid(x) and targets in [0, 1].

    .. math:: y_i = -\\left(t_i \\log \\sigma(x_i) + (1 - t_i) \\log(1 - \\sigma(x_i))\\right)

    computed stably from the logits. Only x gets a gradient: sigma(x) - t.
    Soft targets are used as given (NNabla 1.39 truncates them to integers).

    Args:
        x (Variable): logits.
        target (Variable): targets in [0, 1] (int or float), same shape as x.

    Returns:
        Variable: element-wise loss, shape of x.
    """
    return SigmoidCrossEntropy()(x, target, n_outputs=n_outputs, outputs=outputs)


@named
def binary_cross_entropy(x, target, n_outputs=-1, outputs=None):
    """Element-wise cross-entropy between probabilities x and target probabilities.

    .. math:: y_i = -\\left(t_i \\log x_i + (1 - t_i) \\log(1 - x_i)\\right)

    Probabilities are clamped at the dtype's smallest normal before the log.

    Args:
        x (Variable): probabilities in [0, 1].
        target (Variable): target probabilities, broadcastable to x.

    Returns:
        Variable: element-wise loss.
    """
    return BinaryCrossEntropy()(x, target, n_outputs=n_outputs, outputs=outputs)


@named
def softmax_cross_entropy(x, target, axis=None, n_outputs=-1, outputs=None):
    """Cross-entropy of softmax(x) against integer labels, fused and stable.

    .. math:: y = \\log \\sum_j \\exp x_j - x_{t}

    Backward computes softmax(x) - onehot(t) directly. Negative labels are
    ignored (loss and gradient 0).

    Args:
        x (Variable): scores (logits); classes along ``axis``.
        target (Variable): integer labels, x's shape with ``axis`` of size 1.
        axis (int): class axis; default the last one.

    Returns:
        Variable: x's shape with ``axis`` of size 1.
    """
    return SoftmaxCrossEntropy(axis)(x, target, n_outputs=n_outputs, outputs=outputs)


@named
def categorical_cross_entropy(x, target, axis=None, n_outputs=-1, outputs=None):
    """Cross-entropy of probabilities x against integer labels.

    .. math:: y = -\\log x_{t}

    Args:
        x (Variable): probabilities; classes along ``axis``.
        target (Variable): integer labels, x's shape with ``axis`` of size 1.
        axis (int): class axis; default the last one.

    Returns:
        Variable: x's shape with ``axis`` of size 1.
    """
    return CategoricalCrossEntropy(axis)(x, target, n_outputs=n_outputs, outputs=outputs)


# The element-wise losses of two broadcast inputs share their arguments' words.
_X0_X1 = ["x0 (Variable): input.", "x1 (Variable): input, broadcastable with x0."]


def _pair_loss(name, cls, says):
    return public(
        name, lambda x0, x1, n_outputs=-1, outputs=None:
        cls()(x0, x1, n_outputs=n_outputs, outputs=outputs),
        docstring(f"Element-wise {says}.", _X0_X1, "Variable: element-wise loss."))


squared_error = _pair_loss("squared_error", SquaredError, "squared error: y = (x0 - x1)^2")
absolute_error = _pair_loss("absolute_error", AbsoluteError, "absolute error: y = |x0 - x1|")
huber_loss = public(
    "huber_loss", lambda x0, x1, delta=1.0, n_outputs=-1, outputs=None:
    HuberLoss(delta=delta)(x0, x1, n_outputs=n_outputs, outputs=outputs),
    docstring("Element-wise Huber loss (NNabla's scaling: twice the textbook one).",
              _X0_X1 + ["delta (float): where the quadratic part ends."],
              "Variable: element-wise loss.",
              ".. math:: y = d^2 \\text{ if } |d| < \\delta \\text{ else } "
              "\\delta (2|d| - \\delta),\n          \\quad d = x_0 - x_1"))
epsilon_insensitive_loss = public(
    "epsilon_insensitive_loss", lambda x0, x1, epsilon, n_outputs=-1, outputs=None:
    EpsilonInsensitiveLoss(epsilon=epsilon)(x0, x1, n_outputs=n_outputs, outputs=outputs),
    docstring("Element-wise epsilon-insensitive loss: y = max(|x0 - x1| - epsilon, 0).",
              _X0_X1 + ["epsilon (float): width of the zero-loss band."],
              "Variable: element-wise loss."))


@named
def kl_multinomial(p, q, base_axis=1, n_outputs=-1, outputs=None):
    """Kullback-Leibler divergence between categorical distributions.

    .. math:: D = \\sum_i p_i \\log \\frac{p_i}{q_i}

    summed over the axes from ``base_axis`` on.

    Args:
        p (Variable): probabilities.
        q (Variable): probabilities, same shape as p.
        base_axis (int): first axis of the distribution.

    Returns:
        Variable: shape p.shape[:base_axis] + (1,).
    """
    return KLMultinomial(base_axis)(p, q, n_outputs=n_outputs, outputs=outputs)
