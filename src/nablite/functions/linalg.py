"""Linear algebra: matrix functions over the last two axes (diagonals, eye_like,
triangles, the batched determinant, log-determinant, inverse and Cholesky
factor) and einsum.

eye_like passes no gradient (x only gives the shape); einsum has gradients for
every operand.
"""
import re
import string

import numpy as np

from .base import Function, require, sum_to, contiguous, unary_public, named

__all__ = ["matrix_diag", "matrix_diag_part", "trilu", "batch_det", "batch_inv", "batch_logdet",
           "batch_cholesky", "eye_like", "einsum"]

class MatrixDiag(Function):
    linear = True  # nn.grad: its gradient is its adjoint

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
        return (contiguous(xp, xp.diagonal(gys[0], axis1=-2, axis2=-1)),)


class MatrixDiagPart(Function):
    linear = True  # nn.grad: its gradient is its adjoint

    def setup(self, x):
        require(self, len(x) >= 2 and x[-1] == x[-2],
                f"x must end with a square matrix (..., n, n), got shape {x}")
        return x[:-1]

    def forward(self, xp, x):
        return contiguous(xp, xp.diagonal(x, axis1=-2, axis2=-1))

    def backward(self, xp, xs, ys, gys):
        return (MatrixDiag.forward(self, xp, gys[0]),)


class Trilu(Function):
    linear = True  # nn.grad: its gradient is its adjoint

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
    """Base of the batch_* linear algebra: input (B, n, n).

    LAPACK has no float16: such input is computed in float32 and the results
    are given in the input's dtype. A matrix with no inverse (or no Cholesky
    factor) gives NaN entries instead of an error, as NNabla gives non-finite
    or meaningless values and goes on (CuPy does not raise either, by default:
    on a GPU such a matrix's entries are whatever cuSOLVER gives)."""

    def setup(self, x):
        require(self, len(x) == 3 and x[1] == x[2],
                f"x must be a batch of square matrices (B, n, n), got shape {x}")
        return self._out(x)

    def _out(self, x):
        return x


def _t(a):
    return a.swapaxes(-1, -2)


def _lapack(xp, a):
    """``a`` in a dtype LAPACK takes (float32 for float16)."""
    return a if a.dtype.char in "fd" else a.astype(xp.float32)


def _per_matrix(xp, f, a):
    """``f`` (inv, cholesky) of each matrix of the batch ``a``, NaN for the matrices
    it refuses (singular, not positive definite). NumPy raises for the whole batch
    at once, so only then are the matrices taken one by one."""
    try:
        return f(a)
    except np.linalg.LinAlgError:
        out = xp.empty_like(a)
        for i in range(a.shape[0]):
            try:
                out[i] = f(a[i])
            except np.linalg.LinAlgError:
                out[i] = xp.nan
        return out


def _inv(xp, a):
    return _per_matrix(xp, xp.linalg.inv, _lapack(xp, a))


class BatchDet(_BatchMatrix):
    def _out(self, x):
        return x[:1]

    def forward(self, xp, x):
        return xp.linalg.det(_lapack(xp, x)).astype(x.dtype, copy=False)

    def backward(self, xp, xs, ys, gys):
        # d det(X) / dX = det(X) X^{-T}
        x = xs[0]
        g = (gys[0] * ys[0])[:, None, None] * _t(_inv(xp, x))
        return (g.astype(x.dtype, copy=False),)


class BatchLogdet(BatchDet):
    def forward(self, xp, x):
        return xp.linalg.slogdet(_lapack(xp, x))[1].astype(x.dtype, copy=False)

    def backward(self, xp, xs, ys, gys):
        x = xs[0]
        return ((gys[0][:, None, None] * _t(_inv(xp, x))).astype(x.dtype, copy=False),)


class BatchInv(_BatchMatrix):
    def forward(self, xp, x):
        return _inv(xp, x).astype(x.dtype, copy=False)

    def backward(self, xp, xs, ys, gys):
        yt = _t(ys[0])
        return (-(yt @ gys[0] @ yt),)

    def grad_graph(self, need, xs, ys, gys):
        # -Y^T gy Y^T from batch matmuls of the output, which nn.grad
        # differentiates on (through Y back into this inverse)
        from . import batch_matmul
        y = ys[0]
        return [-batch_matmul(batch_matmul(y, gys[0], transpose_a=True), y, transpose_b=True)]


class BatchCholesky(_BatchMatrix):
    def __init__(self, upper=False):
        self.upper = upper

    def forward(self, xp, x):
        lower = _per_matrix(xp, xp.linalg.cholesky, _lapack(xp, x)).astype(x.dtype, copy=False)
        return contiguous(xp, _t(lower)) if self.upper else lower

    def backward(self, xp, xs, ys, gys):
        # Symmetric gradient of A = L L^T (Murray 2016):
        #   gA = 1/2 L^{-T} Phi(L^T gL) L^{-1}, symmetrised, Phi = lower triangle, half diagonal.
        lower = _t(ys[0]) if self.upper else ys[0]
        g = _t(gys[0]) if self.upper else gys[0]
        phi = xp.tril(_t(lower) @ g)
        n = lower.shape[-1]
        diag = xp.arange(n)
        phi[..., diag, diag] *= 0.5
        inv = _inv(xp, lower).astype(lower.dtype, copy=False)
        ga = _t(inv) @ phi @ inv
        return (0.5 * (ga + _t(ga)),)


matrix_diag = unary_public("matrix_diag", MatrixDiag,
                           "Diagonal matrices whose diagonals are the last dimension of ``x``.",
                           "Variable: Shape (..., n, n).", x="Input (..., n).")
matrix_diag_part = unary_public("matrix_diag_part", MatrixDiagPart,
                                "Diagonals of the (square) matrices in the last two dimensions.",
                                "Variable: Shape (..., n).", x="Input (..., n, n).")


@named
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


batch_det = unary_public("batch_det", BatchDet, "Determinant of each matrix in a batch.",
                         "Variable: Shape (B,).", x="Input (B, n, n).")
batch_inv = unary_public("batch_inv", BatchInv, "Inverse of each matrix in a batch.",
                         "Variable: Shape (B, n, n).", x="Input (B, n, n).")
batch_logdet = unary_public("batch_logdet", BatchLogdet, "log|det| of each matrix in a batch.",
                            "Variable: Shape (B,).", x="Input (B, n, n).")


@named
def batch_cholesky(x, upper=False):
    """Cholesky factor of each symmetric positive-definite matrix in a batch.

    Args:
        x (Variable): Input (B, n, n).
        upper (bool): Return U with x = U^T U instead of L with x = L L^T.

    Returns:
        Variable: Shape (B, n, n).
    """
    return BatchCholesky(upper)(x)


class EyeLike(Function):
    """Ones on diagonal k of a matrix shaped like x (which only gives the shape)."""

    def __init__(self, k=0):
        self.k = k

    def setup(self, x):
        require(self, len(x) == 2, f"x must be 2-D, got shape {x}")
        return x

    def forward(self, xp, x):
        return xp.eye(x.shape[0], x.shape[1], self.k, dtype=x.dtype)

    def backward(self, xp, xs, ys, gys):
        return (None,)


_LETTERS = string.ascii_letters


class Einsum(Function):
    """Einstein summation (numpy.einsum) with its gradient.

    The gradient of operand k is an einsum of the output gradient and the
    other operands into operand k's labels; labels that only operand k has
    are broadcast back, repeated labels (diagonals) are scattered back, and
    ellipsis dimensions that operand k broadcast are summed.
    """

    def __init__(self, equation):
        self.equation = equation

    def setup(self, *shapes):
        eq = self.equation.replace(" ", "") if isinstance(self.equation, str) else None
        require(self, eq is not None and re.fullmatch(r"[A-Za-z.,]*(->[A-Za-z.]*)?", eq),
                f"equation must be a string of letters, ',', '...' and '->', "
                f"got {self.equation!r}")
        lhs, arrow, out = eq.partition("->")
        terms = lhs.split(",")
        require(self, len(terms) == len(shapes),
                f"equation {self.equation!r} has {len(terms)} input terms for "
                f"{len(shapes)} inputs")
        for k, (term, shape) in enumerate(zip(terms, shapes)):
            n_labels = len(term.replace("...", ""))
            require(self, term.count("...") <= 1 and "." not in term.replace("...", ""),
                    f"term {term!r} of equation {self.equation!r} is malformed")
            require(self, len(shape) >= n_labels if "..." in term else len(shape) == n_labels,
                    f"input {k} has shape {shape}, which does not fit term {term!r} of "
                    f"equation {self.equation!r}")
        n_ell = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes)
                     if "..." in t), default=0)
        ell = "".join(c for c in _LETTERS if c not in eq)[:n_ell]
        sizes, subs = {}, []
        for k, (term, shape) in enumerate(zip(terms, shapes)):
            own = len(shape) - len(term.replace("...", ""))
            labels = term.replace("...", ell[n_ell - own:])
            for label, size in zip(labels, shape):
                old = sizes.get(label)
                if label in ell:  # ellipsis dimensions broadcast as numpy does
                    require(self, old is None or old == size or 1 in (old, size),
                            f"ellipsis dimensions of input {k} {shape} do not broadcast "
                            f"in {self.equation!r}")
                    sizes[label] = size if old in (None, 1) else old
                else:
                    require(self, old is None or old == size,
                            f"label {label!r} has size {size} in input {k} {shape} but "
                            f"{old} elsewhere in {self.equation!r}")
                    sizes[label] = size
            subs.append(labels)
        if arrow:
            require(self, out.count("...") <= (1 if any("..." in t for t in terms) else 0),
                    f"output {out!r} of {self.equation!r} uses '...' that no input has")
            out = out.replace("...", ell)
            require(self, len(set(out)) == len(out) and all(c in sizes for c in out),
                    f"output {out!r} of {self.equation!r} repeats a label or uses one "
                    "no input has")
        else:  # implicit: ellipsis, then labels seen once, in alphabetical order
            once = sorted(c for c in set(lhs) if c.isalpha() and lhs.count(c) == 1)
            out = ell + "".join(once)
        self._subs, self._out, self._sizes = subs, out, sizes
        return tuple(sizes[c] for c in out)

    def _full(self, xp, x, labels):
        return xp.broadcast_to(x, tuple(self._sizes[c] for c in labels))

    def forward(self, xp, *xs):
        ops = [self._full(xp, x, s) for x, s in zip(xs, self._subs)]
        y = xp.einsum(",".join(self._subs) + "->" + self._out, *ops, optimize=len(ops) > 1)
        return xp.asarray(y, dtype=y.dtype)

    def backward(self, xp, xs, ys, gys):
        ops = [self._full(xp, x, s) for x, s in zip(xs, self._subs)]
        grads = []
        for k, (x, labels) in enumerate(zip(xs, self._subs)):
            if not self.need[k]:
                grads.append(None)
                continue
            others = [(s, o) for j, (s, o) in enumerate(zip(self._subs, ops)) if j != k]
            unique = "".join(dict.fromkeys(labels))
            known = set(self._out).union(*[set(s) for s, _ in others])
            target = "".join(c for c in unique if c in known)
            eq = ",".join([self._out] + [s for s, _ in others]) + "->" + target
            g = xp.einsum(eq, gys[0], *[o for _, o in others], optimize=bool(others))
            # labels that only this operand has were summed away: broadcast back
            g = g.reshape(tuple(self._sizes[c] if c in target else 1 for c in unique))
            g = xp.broadcast_to(g, tuple(self._sizes[c] for c in unique))
            if len(unique) < len(labels):  # repeated labels: write onto the diagonal
                full = xp.zeros(tuple(self._sizes[c] for c in labels), dtype=g.dtype)
                index = tuple(xp.arange(self._sizes[c]).reshape(
                    [-1 if u == c else 1 for u in unique]) for c in labels)
                full[index] = g
                g = full
            grads.append(sum_to(xp, contiguous(xp, g), x.shape))
        return tuple(grads)


@named
def eye_like(x, k=0, n_outputs=-1, outputs=None):
    """A Variable of x's 2-D shape and dtype with ones on diagonal k (int; above the
    main one if k > 0) and zeros elsewhere. x only gives the shape (no gradient)."""
    return EyeLike(k)(x, n_outputs=n_outputs, outputs=outputs)


@named
def einsum(*x, equation, n_outputs=-1, outputs=None):
    """Einstein summation of the operands (Variables), as numpy.einsum, with gradients.
    ``equation`` (str) is e.g. ``'ij,jk->ik'``, ``'...ij,...jk'`` or ``'ii->i'``."""
    return Einsum(equation)(*x, n_outputs=n_outputs, outputs=outputs)
