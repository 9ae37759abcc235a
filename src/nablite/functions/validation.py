"""Validation metrics: top-n error, binary error, confusion matrix.

They pass no gradient (NNabla's backward runs and propagates nothing).
"""
from .base import Function, require, named
from .loss import _LabelLoss

__all__ = ["top_n_error", "binary_error", "confusion_matrix"]


class _NoGradient:
    def backward(self, xp, xs, ys, gys):
        return (None,) * len(xs)


class TopNError(_NoGradient, _LabelLoss):
    """1 where more than n scores along axis are >= the label's score, else 0."""

    def __init__(self, axis=None, n=1):
        self.axis = axis
        self.n = n

    def setup(self, x, t):
        require(self, int(self.n) >= 1, f"n={self.n} must be at least 1")
        return super().setup(x, t)

    def forward(self, xp, x, t):
        idx, valid = self._labels(xp, t)
        label_score = self._picked(xp, x, idx)
        # NNabla's rule: ties with the label's score count against it.
        rank = (x >= label_score).sum(axis=self._axis, keepdims=True)
        return ((rank > self.n) | ~valid).astype(x.dtype)


class BinaryError(_NoGradient, Function):
    """1 where x and target fall on different sides of 0.5 (>= 0.5 is positive)."""

    def setup(self, x, t):
        require(self, tuple(x) == tuple(t), f"x {x} and target {t} must have the same shape")
        return x

    def forward(self, xp, x, t):
        return ((x >= 0.5) != (t >= 0.5)).astype(x.dtype)


class ConfusionMatrix(_NoGradient, _LabelLoss):
    """counts[label, argmax(x)] over all samples; negative labels are skipped."""

    def setup(self, x, t):
        super().setup(x, t)
        c = x[self._axis]
        require(self, c >= 1, f"x {x} has no classes along axis {self._axis}; expected at "
                              "least 1 (the prediction is the argmax over them)")
        return (c, c)

    def forward(self, xp, x, t):
        c = x.shape[self._axis]
        pred = x.argmax(axis=self._axis).ravel()
        label = t.astype(xp.intp, copy=False).reshape(pred.shape)
        keep = (label >= 0) & (label < c)
        flat = label[keep] * c + pred[keep]
        return xp.bincount(flat, minlength=c * c).reshape(c, c).astype(xp.int32)


@named
def top_n_error(x, target, axis=None, n=1, n_outputs=-1, outputs=None):
    """Top-n error: 1 if the label is not among the n highest scores, else 0.

    A label's rank counts every score along ``axis`` that is >= its own
    (itself included), so ties count as errors, as in NNabla.

    Args:
        x (Variable): scores; classes along ``axis``.
        target (Variable): integer labels, x's shape with ``axis`` of size 1.
        axis (int): class axis; default the last one.
        n (int): how many top scores count as correct.

    Returns:
        Variable: x's shape with ``axis`` of size 1, values 0 or 1.
    """
    return TopNError(axis, n)(x, target, n_outputs=n_outputs, outputs=outputs)


@named
def binary_error(x, target, n_outputs=-1, outputs=None):
    """Element-wise binary error: 1 where (x >= 0.5) != (target >= 0.5).

    Args:
        x (Variable): scores or probabilities.
        target (Variable): targets, same shape as x.

    Returns:
        Variable: element-wise 0 or 1.
    """
    return BinaryError()(x, target, n_outputs=n_outputs, outputs=outputs)


@named
def confusion_matrix(x, target, axis=None, n_outputs=-1, outputs=None):
    """Confusion matrix: counts[label, prediction], prediction = argmax of x along axis.

    Args:
        x (Variable): scores; classes along ``axis``.
        target (Variable): integer labels, x's shape with ``axis`` of size 1.
        axis (int): class axis; default the last one.

    Returns:
        Variable: int32 array of shape (C, C), C = x.shape[axis].
    """
    return ConfusionMatrix(axis)(x, target, n_outputs=n_outputs, outputs=outputs)
