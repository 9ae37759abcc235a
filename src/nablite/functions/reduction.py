"""Reductions: sum, mean, max, min, prod, norm over axes; cumulative sum/product.

``Reduction`` owns what every axis reduction shares: turning ``axis`` into a
sorted tuple of non-negative axes, the output shape with or without kept
dimensions, and reshaping the output gradient so it broadcasts back over
the input. Each subclass states only its local rule.
"""
import builtins
import warnings

from .arithmetic import number
from .base import (Function, docstring, keep_args, normalize_axes, prod as _size, public, require,
                   contiguous, unary_public, named)

__all__ = ["sum", "mean", "max", "min", "prod", "norm", "cumsum", "cumprod",
           "reduce_sum", "reduce_mean", "reduce"]

# NNabla reports argmax/argmin positions (and other index outputs) as uint64.
INDEX_DTYPE = "uint64"


def _as_array(xp, y, dtype):
    """NumPy reductions to 0-d give scalars; the engine stores real arrays."""
    return y if isinstance(y, xp.ndarray) else xp.asarray(y, dtype=dtype)


def input_axes(fn, axes, ndim, arg="axis"):
    """``normalize_axes`` for axes that must exist in the input: NNabla refuses an
    axis of a 0-d input (``normalize_axes`` lets ``axis=0`` through for those)."""
    out = normalize_axes(fn, axes, ndim, arg)
    require(fn, ndim or not out, f"{arg}={axes!r} names an axis of a 0-d input (shape ()); "
                                 f"expected {arg}=None or an input with at least one axis")
    return out


class Reduction(Function):
    """Reduce ``x`` over ``axes`` (all by default), optionally keeping them as size 1."""

    def __init__(self, axes=None, keep_dims=False):
        self.axes = axes
        self.keep_dims = keep_dims

    def setup(self, x):
        axes = input_axes(self, self.axes, len(x))
        self.axes = sorted(axes)
        self._axes = tuple(self.axes)
        count = _size(x[a] for a in axes)
        # 1 / count; the mean of no elements is NaN, as NumPy's
        self._inv_count = 1.0 / count if count else float("nan")
        self._kept_shape = tuple(1 if i in axes else s for i, s in enumerate(x))
        if self.keep_dims:
            return self._kept_shape
        return tuple(s for i, s in enumerate(x) if i not in axes)

    def _expand(self, xp, g, shape):
        """``g`` broadcast back to the input ``shape`` as a writable array."""
        out = xp.empty(shape, dtype=g.dtype)
        out[...] = g.reshape(self._kept_shape)
        return out


class Sum(Reduction):
    linear = True  # nn.grad: its gradient is its adjoint
    grad_reads_inputs = grad_reads_outputs = False  # only x's shape

    def forward(self, xp, x):
        return _as_array(xp, xp.add.reduce(x, axis=self._axes, keepdims=self.keep_dims),
                         x.dtype)

    def backward(self, xp, xs, ys, gys):
        return (self._expand(xp, gys[0], xs[0].shape),)

    def broadcastable_grad(self, xp, gy):
        """The input's gradient as an array that broadcasts to the input (not expanded)."""
        return gy.reshape(self._kept_shape)


class Mean(Reduction):
    linear = True  # nn.grad: its gradient is its adjoint
    grad_reads_inputs = grad_reads_outputs = False  # only x's shape

    def forward(self, xp, x):
        if x.dtype.kind != "f":
            return _as_array(xp, x.mean(axis=self._axes, keepdims=self.keep_dims), x.dtype)
        # add.reduce then scale: the same sum, without ndarray.mean's Python-level wrapper.
        total = xp.add.reduce(x, axis=self._axes, keepdims=self.keep_dims)
        return _as_array(xp, total * self._inv_count, x.dtype)

    def backward(self, xp, xs, ys, gys):
        return (self._expand(xp, gys[0] * self._inv_count, xs[0].shape),)

    def broadcastable_grad(self, xp, gy):
        """The input's gradient as an array that broadcasts to the input (not expanded)."""
        return gy.reshape(self._kept_shape) * self._inv_count


class Prod(Reduction):
    def forward(self, xp, x):
        return _as_array(xp, x.prod(axis=tuple(self.axes), keepdims=self.keep_dims), x.dtype)

    def backward(self, xp, xs, ys, gys):
        # The product of all other elements, from prefix and suffix products, so
        # zeros in x give the true gradient instead of y / x = 0 / 0.
        x = xs[0]
        rows, perm = _reduced_last(xp, x, self.axes)
        if not rows.shape[-1]:  # a product of no elements (1) depends on none
            return (xp.zeros(x.shape, dtype=gys[0].dtype),)
        ones = xp.ones(rows.shape[:-1] + (1,), dtype=x.dtype)
        before = xp.cumprod(xp.concatenate([ones, rows[..., :-1]], axis=-1), axis=-1)
        after = xp.cumprod(xp.concatenate([ones, rows[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        g = gys[0].reshape(rows.shape[:-1] + (1,)) * before * after
        return (_undo_reduced_last(xp, g, x.shape, perm),)


class Norm(Reduction):
    def __init__(self, p=2.0, axes=None, keep_dims=False):
        self.p = p
        super().__init__(axes, keep_dims)

    def forward(self, xp, x):
        axes, p = tuple(self.axes), self.p
        if p == 2:
            y = xp.sqrt((x * x).sum(axis=axes, keepdims=self.keep_dims))
        elif p == 1:
            y = xp.abs(x).sum(axis=axes, keepdims=self.keep_dims)
        else:
            y = (xp.abs(x) ** p).sum(axis=axes, keepdims=self.keep_dims) ** (1.0 / p)
        return _as_array(xp, y, x.dtype)

    def backward(self, xp, xs, ys, gys):
        x, p = xs[0], self.p
        y = ys[0].reshape(self._kept_shape)
        gy = gys[0].reshape(self._kept_shape)
        if p == 2:
            return (gy * x / y,)
        if p == 1:
            return (gy * xp.sign(x),)
        return (gy * xp.sign(x) * xp.abs(x) ** (p - 1) * y ** (1.0 - p),)


class Max(Reduction):
    """Max over axes; optionally also (or only) the flat position inside the reduced axes."""
    pick = "argmax"

    def __init__(self, axes=None, keep_dims=False, with_index=False, only_index=False):
        super().__init__(axes, keep_dims)
        self.with_index = with_index
        self.only_index = only_index

    def setup(self, x):
        shape = super().setup(x)
        # NNabla stops with a floating-point exception here
        require(self, _size(x[a] for a in self.axes) > 0,
                f"axis={self.axes} of an input of shape {x} holds no elements; expected at "
                f"least one element to take the {self.pick[3:]}imum of")
        if self.with_index and not self.only_index:
            return [shape, shape]
        return shape

    def forward(self, xp, x):
        rows, _ = _reduced_last(xp, x, self.axes)
        index = getattr(xp, self.pick)(rows, axis=-1)
        out_shape = self.out_shapes[0]
        idx = index.reshape(out_shape).astype(INDEX_DTYPE)
        if self.only_index:
            return idx
        y = xp.take_along_axis(rows, index[..., None], axis=-1).reshape(out_shape)
        return (y, idx) if self.with_index else y

    def backward(self, xp, xs, ys, gys):
        # As NNabla's: with only_index too, the output's gradient goes to the picked
        # elements (as if the output were the values)
        x = xs[0]
        rows, perm = _reduced_last(xp, x, self.axes)
        idx = ys[0] if self.only_index else ys[1] if self.with_index else None
        if idx is None:
            index = getattr(xp, self.pick)(rows, axis=-1)
        else:
            index = idx.astype("int64").reshape(rows.shape[:-1])
        g = xp.zeros(rows.shape, dtype=x.dtype)
        xp.put_along_axis(g, index[..., None], gys[0].reshape(rows.shape[:-1] + (1,)), axis=-1)
        return (_undo_reduced_last(xp, g, x.shape, perm),)


    def grad_graph(self, need, xs, ys, gys):
        from . import broadcast, reshape
        gy = broadcast(reshape(gys[0], self._kept_shape), xs[0].shape)
        return [gy * _SelectionMask(self)(xs[0])]


class _SelectionMask(Function):
    """1 at the element max/min picks in each reduction (the first of ties), 0
    elsewhere; a constant for gradients."""

    grad_reads_outputs = False

    def __init__(self, reduction):
        import copy
        self._reduction = copy.copy(reduction)
        self._reduction.with_index = self._reduction.only_index = False

    @property
    def name(self):
        return f"{self._reduction.name}Mask"

    def forward(self, xp, x):
        r = self._reduction
        ones = xp.ones(r._kept_shape, dtype=x.dtype)
        return r.backward(xp, [x], [None], [ones])[0]

    def backward(self, xp, xs, ys, gys):
        return (None,)


class Min(Max):
    pick = "argmin"


def _reduced_last(xp, x, axes):
    """``x`` with kept axes first (flattened order kept) and reduced axes merged last."""
    kept = [i for i in range(x.ndim) if i not in axes]
    perm = kept + list(axes)
    moved = x.transpose(perm) if perm != list(range(x.ndim)) else x
    lead = tuple(x.shape[i] for i in kept)
    return moved.reshape(lead + (_size(x.shape[a] for a in axes),)), perm


def _undo_reduced_last(xp, g, shape, perm):
    """Inverse of ``_reduced_last`` for an array of the same size."""
    moved = g.reshape(tuple(shape[i] for i in perm))
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return contiguous(xp, moved.transpose(inverse))


class ReduceSum(Function):
    linear = True  # nn.grad: its gradient is its adjoint
    def setup(self, x):
        return ()

    def forward(self, xp, x):
        return _as_array(xp, x.sum(), x.dtype)

    def backward(self, xp, xs, ys, gys):
        return (xp.full(xs[0].shape, gys[0], dtype=gys[0].dtype),)


class ReduceMean(ReduceSum):
    def forward(self, xp, x):
        return _as_array(xp, x.mean(), x.dtype)

    def backward(self, xp, xs, ys, gys):
        n = builtins.max(xs[0].size, 1)
        return (xp.full(xs[0].shape, gys[0] * (1.0 / n), dtype=gys[0].dtype),)


class CumSum(Function):
    """Running sum along ``axis``; exclusive drops the current element, reverse runs backwards."""
    half_kernel = False  # NNabla computes it in float32 in 'half' contexts

    def __init__(self, axis=0, exclusive=False, reverse=False):
        keep_args(self, locals())

    def setup(self, x):
        require(self, len(x) >= 1, "x must have at least one dimension, got shape ()")
        self.axis = normalize_axes(self, self.axis, len(x))[0]
        return x

    def _scan(self, xp, x, reverse):
        a = self.axis
        if reverse:
            x = xp.flip(x, a)
        y = self._inclusive(xp, x, a)
        if self.exclusive:
            y = _shift_forward(xp, y, a, self._identity)
        return contiguous(xp, xp.flip(y, a)) if reverse else y

    def forward(self, xp, x):
        return self._scan(xp, x, self.reverse)

    _identity = 0

    @staticmethod
    def _inclusive(xp, x, axis):
        return xp.cumsum(x, axis=axis)

    def backward(self, xp, xs, ys, gys):
        # The transpose of a running sum is the running sum the other way round.
        return (self._scan(xp, gys[0], not self.reverse),)


class CumProd(CumSum):
    _identity = 1

    @staticmethod
    def _inclusive(xp, x, axis):
        return xp.cumprod(x, axis=axis)

    def backward(self, xp, xs, ys, gys):
        a = self.axis
        x, gy = xs[0], gys[0]
        if self.reverse:
            x, gy = xp.flip(x, a), xp.flip(gy, a)
        if self.exclusive:
            # exclusive y[i] is inclusive y[i-1]: pull gy one step back.
            gy = _shift_backward(xp, gy, a)
        gx = _cumprod_grad(xp, x, gy, a)
        return (contiguous(xp, xp.flip(gx, a)) if self.reverse else gx,)


def _shift_forward(xp, y, axis, fill):
    """y shifted one step along ``axis``, ``fill`` entering at the front."""
    head = xp.full(y.shape[:axis] + (1,) + y.shape[axis + 1:], fill, dtype=y.dtype)
    body = y[(slice(None),) * axis + (slice(None, -1),)]
    return xp.concatenate([head, body], axis=axis)


def _shift_backward(xp, g, axis):
    tail = xp.zeros(g.shape[:axis] + (1,) + g.shape[axis + 1:], dtype=g.dtype)
    body = g[(slice(None),) * axis + (slice(1, None),)]
    return xp.concatenate([body, tail], axis=axis)


def _cumprod_grad(xp, x, gy, axis):
    """gx[j] = sum over i >= j of gy[i] * prod(x[k] for k <= i, k != j).

    With zeros in x that product cannot divide y by x[j]. Instead count the
    zeros up to i (z) and multiply only the non-zero factors (p): for a
    non-zero x[j] the product is p[i] / x[j] while no zero came yet (z[i] ==
    0); for a zero x[j] it is p[i] while that zero is the only one (z[i] ==
    1). Two running sums from the back, no branch on the data (no wait for a
    device).
    """
    zero = x == 0
    z = xp.cumsum(zero, axis=axis)
    one = xp.ones((), dtype=x.dtype)
    gp = gy * xp.cumprod(xp.where(zero, one, x), axis=axis)
    none_yet = _sum_from_back(xp, xp.where(z == 0, gp, 0), axis)
    only_this = _sum_from_back(xp, xp.where(z == 1, gp, 0), axis)
    return xp.where(zero, only_this, none_yet / xp.where(zero, one, x))


def _sum_from_back(xp, v, axis):
    return xp.flip(xp.cumsum(xp.flip(v, axis), axis=axis), axis)


# -- the public functions: one row per member of a family --------------------

_X = "x (Variable): Input."
_AXES = "axis (None, int or tuple of ints): Axes to reduce; None means all."
_KEEPDIMS = "keepdims (bool): Keep the reduced axes as size-1 dimensions."


def _reduction(name, cls, what, formula, notes=""):
    return public(name, lambda x, axis=None, keepdims=False: cls(axis, keepdims)(x), docstring(
        f"{what.capitalize()} of elements over the given axes.", [_X, _AXES, _KEEPDIMS],
        f"Variable: The {what}s.", f".. math:: y = {formula}" + notes))


def _extremum(name, cls, summary, notes=""):
    return public(
        name, lambda x, axis=None, keepdims=False, with_index=False, only_index=False:
        cls(axis, keepdims, with_index, only_index)(x),
        docstring(summary, [_X, _AXES, _KEEPDIMS,
                            "with_index (bool): Return ``(values, indices)``.",
                            "only_index (bool): Return only the indices (whose gradient, "
                            "as NNabla's, goes to the picked elements as if they were the "
                            "values)."],
                  "Variable or tuple of Variables.", notes))


def _cumulative(name, cls, what, symbol):
    return public(
        name, lambda x, axis=None, exclusive=False, reverse=False:
        cls(0 if axis is None else axis, exclusive, reverse)(x),
        docstring(f"Cumulative {what} along an axis.",
                  [_X, f"axis (int): Axis of the running {what}; None means 0.",
                   "exclusive (bool): Leave out the current element.",
                   "reverse (bool): Accumulate from the last element towards the first."],
                  "Variable: Same shape as ``x``.",
                  f".. math:: y_i = \\{symbol}_{{j \\le i}} x_j\n\n"
                  "(``j < i`` if exclusive; counted from the end if reverse.)"))


sum = _reduction("sum", Sum, "sum", "\\sum_{i \\in \\text{axis}} x_i")
mean = _reduction("mean", Mean, "mean", "\\frac{1}{N} \\sum_{i \\in \\text{axis}} x_i")
prod = _reduction("prod", Prod, "product", "\\prod_{i \\in \\text{axis}} x_i",
                  "\n\nThe gradient is the product of the other elements (correct with zeros).")
max = _extremum("max", Max, "Maximum over the given axes, optionally with its position.",
                "The index is the flat position inside the reduced axes (in their order),\n"
                "first occurrence on ties, as uint64; the gradient goes to that element.")
min = _extremum("min", Min, "Minimum over the given axes, optionally with its position "
                "(see :func:`max`).")
cumsum = _cumulative("cumsum", CumSum, "sum", "sum")
cumprod = _cumulative("cumprod", CumProd, "product", "prod")
reduce_sum = unary_public("reduce_sum", ReduceSum, "Sum of all elements, as a 0-d result "
                          "(legacy; prefer :func:`sum`).", "Variable: Shape ``()``.")
reduce_mean = unary_public("reduce_mean", ReduceMean, "Mean of all elements, as a 0-d result "
                           "(legacy; prefer :func:`mean`).", "Variable: Shape ``()``.")


@named
def norm(x, p=None, axis=None, keepdims=False):
    """p-norm over the given axes.

    .. math:: y = \\left(\\sum_{i \\in \\text{axis}} |x_i|^p\\right)^{1/p}

    Args:
        x (Variable): Input.
        p (float): Order of the norm; None means 2.
        axis (None, int or tuple of ints): Axes to reduce; None means all.
        keepdims (bool): Keep the reduced axes as size-1 dimensions.

    Returns:
        Variable: The norms.
    """
    p = 2.0 if p is None else float(number(p))
    require("Norm", p >= 1, f"p={p} must be >= 1")
    return Norm(p, axis, keepdims)(x)


@named
def reduce(x, op='sum'):
    """Deprecated: ``op='sum'`` is :func:`reduce_sum`, ``op='mean'`` is :func:`reduce_mean`.

    Args:
        x (Variable): Input.
        op (str): 'sum' or 'mean'.

    Returns:
        Variable: Shape ``()``.
    """
    warnings.warn("F.reduce is deprecated; use F.sum or F.mean", DeprecationWarning,
                  stacklevel=2)
    if op == 'sum':
        return reduce_sum(x)
    if op == 'mean':
        return reduce_mean(x)
    raise ValueError(f"reduce: op={op!r} is not supported; expected 'sum' or 'mean'")
