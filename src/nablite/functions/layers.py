"""Neural network layers: affine, batch_matmul, convolutions, embed.

Convolutions are im2col + one BLAS product; the window views and the col2im
scatter live in ``_conv_utils``.
"""
from .base import Function, require, sum_to, prod

__all__ = ["affine", "batch_matmul"]


def _base_axis(fn, base_axis, ndim):
    require(fn, -ndim <= base_axis < max(ndim, 1),
            f"base_axis={base_axis} is out of range for an input of {ndim} dimensions")
    return base_axis % ndim


class Affine(Function):
    """y = x @ W + b, with x flattened to a matrix at base_axis."""

    def __init__(self, base_axis=1):
        self.base_axis = base_axis

    def setup(self, x, w, b=None):
        axis = self._axis = _base_axis(self, self.base_axis, len(x))
        require(self, len(w) >= 2, f"weight must have at least 2 dimensions "
                f"(n_inputs, n_outputs...), got shape {w}")
        n_in = prod(x[axis:])
        require(self, n_in == w[0],
                f"x {x} gives {n_in} features at base_axis={self.base_axis}, "
                f"but weight {w} expects {w[0]}")
        if b is not None:
            require(self, tuple(b) == tuple(w[1:]),
                    f"bias {b} must have shape {tuple(w[1:])} (weight {w} without its first axis)")
        return tuple(x[:axis]) + tuple(w[1:])

    def forward(self, xp, x, w, b=None):
        n_in = w.shape[0]
        y = x.reshape(-1, n_in) @ w.reshape(n_in, -1)
        if b is not None:
            y += b.reshape(-1)  # y is a fresh product: adding in place is safe
        return y.reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        x, w = xs[0], xs[1]
        n_in = w.shape[0]
        gy = gys[0].reshape(-1, prod(w.shape[1:]))
        need = self.need
        gx = (gy @ w.reshape(n_in, -1).T).reshape(x.shape) if need[0] else None
        gw = (x.reshape(-1, n_in).T @ gy).reshape(w.shape) if need[1] else None
        if len(xs) == 2:
            return gx, gw
        gb = gy.sum(axis=0).reshape(xs[2].shape) if need[2] else None
        return gx, gw, gb


class BatchMatmul(Function):
    """y = op(a) @ op(b) over the last two axes; leading (batch) axes broadcast."""

    def __init__(self, transpose_a=False, transpose_b=False):
        self.transpose_a = transpose_a
        self.transpose_b = transpose_b

    def setup(self, a, b):
        for name, s in (("a", a), ("b", b)):
            require(self, len(s) >= 3, f"{name} must have at least 3 dimensions "
                    f"(batch..., rows, cols), got shape {s}")
        require(self, len(a) == len(b),
                f"a {a} and b {b} must have the same number of dimensions")
        batch = []
        for i, (da, db) in enumerate(zip(a[:-2], b[:-2])):
            require(self, da == db or da == 1 or db == 1,
                    f"batch axis {i} of a {a} and b {b} can not be broadcast ({da} vs {db})")
            batch.append(max(da, db))
        m, ka = (a[-1], a[-2]) if self.transpose_a else (a[-2], a[-1])
        kb, n = (b[-1], b[-2]) if self.transpose_b else (b[-2], b[-1])
        require(self, ka == kb, f"inner sizes differ: a {a} gives {ka} (transpose_a="
                f"{self.transpose_a}), b {b} gives {kb} (transpose_b={self.transpose_b})")
        return tuple(batch) + (m, n)

    def forward(self, xp, a, b):
        if self.transpose_a:
            a = a.swapaxes(-1, -2)
        if self.transpose_b:
            b = b.swapaxes(-1, -2)
        return xp.matmul(a, b)

    def backward(self, xp, xs, ys, gys):
        a, b = xs
        gy = gys[0]
        op_a = a.swapaxes(-1, -2) if self.transpose_a else a
        op_b = b.swapaxes(-1, -2) if self.transpose_b else b
        ga = gb = None
        if self.need[0]:
            # d op(a) = gy @ op(b)^T; for a transposed operand, transpose back
            ga = (xp.matmul(op_b, gy.swapaxes(-1, -2)) if self.transpose_a
                  else xp.matmul(gy, op_b.swapaxes(-1, -2)))
            ga = sum_to(xp, ga, a.shape)
        if self.need[1]:
            gb = (xp.matmul(gy.swapaxes(-1, -2), op_a) if self.transpose_b
                  else xp.matmul(op_a.swapaxes(-1, -2), gy))
            gb = sum_to(xp, gb, b.shape)
        return ga, gb


def affine(x, weight, bias=None, base_axis=1, n_outputs=-1, outputs=None):
    """Fully connected layer.

    .. math:: y_{n,j} = \\sum_i x_{n,i} W_{i,j} + b_j

    where ``x`` is viewed as a matrix: the axes before ``base_axis`` are rows
    (samples) and the axes from ``base_axis`` on are flattened into features.

    Args:
        x (Variable): input of shape (N..., D...), prod(D...) = weight.shape[0].
        weight (Variable): weight of shape (prod(D...), L...).
        bias (Variable, optional): bias of shape (L...).
        base_axis (int): first axis of the feature dimensions.

    Returns:
        Variable: shape (N..., L...).
    """
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Affine(base_axis)(*inputs, n_outputs=n_outputs, outputs=outputs)


def batch_matmul(a, b, transpose_a=False, transpose_b=False, n_outputs=-1, outputs=None):
    """Batched matrix product over the last two axes.

    .. math:: y_{..., i, j} = \\sum_k op(a)_{..., i, k} op(b)_{..., k, j}

    where ``op`` transposes the last two axes when ``transpose_*`` is set. Both
    inputs have the same number (>= 3) of dimensions; batch axes of size 1
    broadcast.

    Args:
        a (Variable): shape (B..., M, K) (or (B..., K, M) with transpose_a).
        b (Variable): shape (B..., K, N) (or (B..., N, K) with transpose_b).
        transpose_a (bool): transpose the last two axes of a.
        transpose_b (bool): transpose the last two axes of b.

    Returns:
        Variable: shape (B..., M, N).
    """
    return BatchMatmul(transpose_a, transpose_b)(a, b, n_outputs=n_outputs, outputs=outputs)
