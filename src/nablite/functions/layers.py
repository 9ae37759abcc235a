"""Neural network layers that are matrix products: affine, batch_matmul, embed.

(The convolution layers are in convolutions.py.)
"""
from ..backend import on_host, scatter_add
from .base import Function, require, sum_to, prod, sum_cols, named

__all__ = ["affine", "batch_matmul", "embed"]


def _base_axis(fn, base_axis, ndim):
    require(fn, -ndim <= base_axis < max(ndim, 1),
            f"base_axis={base_axis} is out of range for an input of {ndim} dimensions")
    return base_axis % ndim


def _rows_of(x, n):
    """x as a matrix of rows of n features (itself when it already is one)."""
    return x if x.ndim == 2 and x.shape[1] == n else x.reshape(-1, n)


class Affine(Function):
    """y = x @ W + b, with x flattened to a matrix at base_axis."""
    bilinear = True  # nn.grad: gradients from its backward, each bilinear again

    grad_reads_outputs = False

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

    # xp.dot on 2-D views: BLAS gemm with less per-call overhead than matmul.
    # Reshapes are skipped where the arrays already have the matrix shapes:
    # W1-W4 spend a measurable part of a step in them.
    def forward(self, xp, x, w, b=None):
        n_in = w.shape[0]
        y = xp.dot(_rows_of(x, n_in), w if w.ndim == 2 else w.reshape(n_in, -1))
        if b is not None:
            y += b if b.ndim == 1 else b.reshape(-1)  # y is a fresh product: in place is safe
        out_shape = self.out_shapes[0]
        return y if y.shape == out_shape else y.reshape(out_shape)

    def backward(self, xp, xs, ys, gys):
        x, w = xs[0], xs[1]
        n_in = w.shape[0]
        gy = gys[0]
        w2 = w
        if w.ndim != 2:
            gy, w2 = gy.reshape(-1, w.size // n_in), w.reshape(n_in, -1)
        elif gy.ndim != 2:
            gy = gy.reshape(-1, w.shape[1])
        need = self.need
        gx = None
        if need[0]:
            gx = xp.dot(gy, w2.T)
            gx = gx if gx.shape == x.shape else gx.reshape(x.shape)
        gw = None
        if need[1]:
            gw = xp.dot(_rows_of(x, n_in).T, gy)
            gw = gw if w.ndim == 2 else gw.reshape(w.shape)
        if len(xs) == 2:
            return gx, gw
        gb = None
        if need[2]:
            gb = sum_cols(xp, gy)
            gb = gb if w.ndim == 2 else gb.reshape(xs[2].shape)
        return gx, gw, gb


class BatchMatmul(Function):
    """y = op(a) @ op(b) over the last two axes; leading (batch) axes broadcast."""
    bilinear = True  # nn.grad: gradients from its backward, each bilinear again

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


class Embed(Function):
    """y = w[x0]: rows of the table w picked by integer indices x0."""

    integer_inputs = (0,)

    def setup(self, x0, w):
        require(self, len(w) >= 1, f"weight {w} must have at least 1 dimension")
        return tuple(x0) + tuple(w[1:])

    def forward(self, xp, x0, w):
        idx = x0.astype(xp.intp, copy=False)
        outside = (idx < 0) | (idx >= w.shape[0])
        if w.shape[0] == 0:  # an empty table: every index is outside
            return xp.zeros(idx.shape + w.shape[1:], w.dtype)
        if on_host(xp) and not outside.any():  # (on a device, any() would wait for it)
            return xp.take(w, idx, axis=0)
        # NNabla gives zeros for an index outside the table (negative or too big)
        y = xp.take(w, xp.where(outside, 0, idx), axis=0)
        return xp.where(outside.reshape(outside.shape + (1,) * (w.ndim - 1)), w.dtype.type(0), y)

    def backward(self, xp, xs, ys, gys):
        if not self.need[1]:
            return None, None
        x0, w = xs
        rows = x0.reshape(-1).astype(xp.intp, copy=False)
        gy = gys[0].reshape(rows.size, -1)
        inside = (rows >= 0) & (rows < w.shape[0])
        if not on_host(xp):  # rows outside the table got zeros: no gradient (no sync)
            rows, gy = xp.where(inside, rows, 0), xp.where(inside[:, None], gy, gy.dtype.type(0))
        elif not inside.all():
            rows, gy = rows[inside], gy[inside]
        gw = xp.zeros((w.shape[0], prod(w.shape[1:])), dtype=gys[0].dtype)
        # NumPy >= 1.25's add.at is a fast indexed loop (faster here than sorting
        # the indices and summing runs with reduceat); cupyx.scatter_add on GPU.
        scatter_add(xp, gw, rows, gy)
        return None, gw.reshape(w.shape)


@named
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


@named
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


@named
def embed(x0, w, n_outputs=-1, outputs=None):
    """Embedding: look up rows of ``w`` by integer indices.

    .. math:: y_{i_1..i_n, :} = w_{x0_{i_1..i_n}, :}

    Only ``w`` gets a gradient (repeated indices add up).

    Args:
        x0 (Variable): integer indices in [0, w.shape[0]), any shape; an index
            outside the table (or any, when w has no rows) gives a row of zeros,
            as in NNabla.
        w (Variable): table of shape (V, E...).

    Returns:
        Variable: x0.shape + (E...).
    """
    return Embed()(x0, w, n_outputs=n_outputs, outputs=outputs)
