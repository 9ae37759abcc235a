"""Matrix functions over the last two axes: diagonals, triangles, and the
batched determinant, log-determinant, inverse and Cholesky factor."""
import numpy as np

from .base import Function, require

__all__ = ["matrix_diag", "matrix_diag_part", "trilu", "batch_det", "batch_inv", "batch_logdet",
           "batch_cholesky"]

class MatrixDiag(Function):
    def setup(self, x):
        require(self, len(x) >= 1, "x must have at least one dimension, got shape ()")
        return x + (x[-1],)

    def forward(self, xp, x):
        n = x.shape[-1]
        y = xp.zeros(x.shape + (n,), dtype=x.dtype)
        idx = xp.arange(n)
        y[..., idx, idx] = x
        return y

    def backward(self, xp, xs, ys, gys):
        return (xp.ascontiguousarray(xp.diagonal(gys[0], axis1=-2, axis2=-1)),)


class MatrixDiagPart(Function):
    def setup(self, x):
        require(self, len(x) >= 2 and x[-1] == x[-2],
                f"x must end with a square matrix (..., n, n), got shape {x}")
        return x[:-1]

    def forward(self, xp, x):
        return xp.ascontiguousarray(xp.diagonal(x, axis1=-2, axis2=-1))

    def backward(self, xp, xs, ys, gys):
        return (MatrixDiag.forward(self, xp, gys[0]),)


class Trilu(Function):
    def __init__(self, k=0, upper=True):
        self.k = k
        self.upper = upper

    def setup(self, x):
        require(self, len(x) >= 2, f"x must have at least 2 dimensions, got shape {x}")
        return x

    def _mask(self, xp, x):
        rows, cols = x.shape[-2:]
        tri = xp.triu if self.upper else xp.tril
        return tri(xp.ones((rows, cols), dtype=bool), self.k)

    def forward(self, xp, x):
        return xp.where(self._mask(xp, x), x, xp.zeros((), dtype=x.dtype))

    def backward(self, xp, xs, ys, gys):
        return (xp.where(self._mask(xp, xs[0]), gys[0], xp.zeros((), dtype=gys[0].dtype)),)


class _BatchMatrix(Function):
    """Base of the batch_* linear algebra: input (B, n, n)."""

    def setup(self, x):
        require(self, len(x) == 3 and x[1] == x[2],
                f"x must be a batch of square matrices (B, n, n), got shape {x}")
        return self._out(x)

    def _out(self, x):
        return x


def _t(a):
    return a.swapaxes(-1, -2)


class BatchDet(_BatchMatrix):
    def _out(self, x):
        return x[:1]

    def forward(self, xp, x):
        return xp.linalg.det(x)

    def backward(self, xp, xs, ys, gys):
        # d det(X) / dX = det(X) X^{-T}
        inv = xp.linalg.inv(xs[0])
        return ((gys[0] * ys[0])[:, None, None] * _t(inv),)


class BatchLogdet(BatchDet):
    def forward(self, xp, x):
        return xp.linalg.slogdet(x)[1].astype(x.dtype)

    def backward(self, xp, xs, ys, gys):
        return (gys[0][:, None, None] * _t(xp.linalg.inv(xs[0])),)


class BatchInv(_BatchMatrix):
    def forward(self, xp, x):
        return xp.linalg.inv(x)

    def backward(self, xp, xs, ys, gys):
        yt = _t(ys[0])
        return (-(yt @ gys[0] @ yt),)


class BatchCholesky(_BatchMatrix):
    def __init__(self, upper=False):
        self.upper = upper

    def forward(self, xp, x):
        lower = xp.linalg.cholesky(x)
        return xp.ascontiguousarray(_t(lower)) if self.upper else lower

    def backward(self, xp, xs, ys, gys):
        # Symmetric gradient of A = L L^T (Murray 2016):
        #   gA = 1/2 L^{-T} Phi(L^T gL) L^{-1}, symmetrised, Phi = lower triangle, half diagonal.
        lower = _t(ys[0]) if self.upper else ys[0]
        g = _t(gys[0]) if self.upper else gys[0]
        phi = xp.tril(_t(lower) @ g)
        n = lower.shape[-1]
        diag = xp.arange(n)
        phi[..., diag, diag] *= 0.5
        inv = xp.linalg.inv(lower)
        ga = _t(inv) @ phi @ inv
        return (0.5 * (ga + _t(ga)),)


def matrix_diag(x):
    """Diagonal matrices whose diagonals are the last dimension of ``x``.

    Args:
        x (Variable): Input (..., n).

    Returns:
        Variable: Shape (..., n, n).
    """
    return MatrixDiag()(x)


def matrix_diag_part(x):
    """Diagonals of the (square) matrices in the last two dimensions.

    Args:
        x (Variable): Input (..., n, n).

    Returns:
        Variable: Shape (..., n).
    """
    return MatrixDiagPart()(x)


def trilu(x, k=0, upper=True):
    """Keep the upper (or lower) triangle of the last two dims relative to diagonal k.

    Args:
        x (Variable): Input (..., M, N).
        k (int): Diagonal offset (positive: above the main diagonal).
        upper (bool): Keep the upper triangle (True) or the lower one.

    Returns:
        Variable: Same shape, the other entries zero.
    """
    return Trilu(k, upper)(x)


def batch_det(x):
    """Determinant of each matrix in a batch.

    Args:
        x (Variable): Input (B, n, n).

    Returns:
        Variable: Shape (B,).
    """
    return BatchDet()(x)


def batch_inv(x):
    """Inverse of each matrix in a batch.

    Args:
        x (Variable): Input (B, n, n).

    Returns:
        Variable: Shape (B, n, n).
    """
    return BatchInv()(x)


def batch_logdet(x):
    """log|det| of each matrix in a batch.

    Args:
        x (Variable): Input (B, n, n).

    Returns:
        Variable: Shape (B,).
    """
    return BatchLogdet()(x)


def batch_cholesky(x, upper=False):
    """Cholesky factor of each symmetric positive-definite matrix in a batch.

    Args:
        x (Variable): Input (B, n, n).
        upper (bool): Return U with x = U^T U instead of L with x = L L^T.

    Returns:
        Variable: Shape (B, n, n).
    """
    return BatchCholesky(upper)(x)
