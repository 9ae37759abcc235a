"""Sorting and selection: sort, top_k_data, top_k_grad, unique.

Behaviour follows NNabla 1.39 (measured on its CPU kernels): sort's indices are
uint64; top_k_* keep the k largest (or smallest) entries per sample; unique runs
only in dynamic mode (its output shapes follow the values of x), its indices,
inverse and counts are int32 and it has no gradient.
"""
import numpy as np

from .. import graph
from .._array import NdArray
from ..backend import stable_argsort
from .array import INDEX_DTYPE, _axis
from .base import Function, keep_args, prod, require, contiguous, named

__all__ = ["unique", "sort", "top_k_data", "top_k_grad"]


UNIQUE_INDEX_DTYPE = np.int32  # NNabla's dtype for unique's index outputs


class Unique(Function):
    """Unique elements (flatten=True) or unique slices along ``axis``."""

    def __init__(self, flatten=True, axis=None, sorted=True, with_index=False,
                 with_inverse=False, with_counts=False):
        keep_args(self, locals())

    def __call__(self, x, n_outputs=-1, outputs=None):
        # As in NNabla: a static graph cannot know the number of unique values.
        require(self, isinstance(x, NdArray) or graph.auto_forward_enabled,
                "can only be used in dynamic mode (inside nn.auto_forward()), because its "
                "output shape depends on the values of x", RuntimeError)
        return super().__call__(x, n_outputs=n_outputs, outputs=outputs)

    def setup(self, x):
        n = len(x)
        require(self, n >= 1 and -n <= self.axis < n,
                f"axis={self.axis} is out of range for x {x} (expected -{n} <= axis < {n})")
        results = self._unique(np, np.asarray(self.inputs[0].d))
        shapes = [r.shape for r in results]
        return shapes if len(shapes) > 1 else shapes[0]

    def _unique(self, xp, x):
        if self.flatten:
            slices = x.reshape(-1, 1)
        else:
            moved = xp.moveaxis(x, self.axis, 0)
            slices = moved.reshape(moved.shape[0], prod(moved.shape[1:]))
        # Row-wise unique: lexicographic order, first occurrences, as NNabla.
        y, index, inverse, counts = xp.unique(slices, axis=0, return_index=True,
                                              return_inverse=True, return_counts=True)
        inverse = inverse.reshape(-1)
        if not self.sorted:  # order of first occurrence instead
            order = stable_argsort(xp, index)
            y, index, counts = y[order], index[order], counts[order]
            inverse = xp.argsort(order)[inverse]
        if self.flatten:
            y = y.reshape(-1)
        else:
            y = xp.moveaxis(y.reshape((-1,) + moved.shape[1:]), 0, self.axis)
        out = [contiguous(xp, y)]
        for want, a in ((self.with_index, index), (self.with_inverse, inverse),
                        (self.with_counts, counts)):
            if want:
                out.append(a.astype(UNIQUE_INDEX_DTYPE))
        return out

    def forward(self, xp, x):
        out = self._unique(xp, x)
        return out if len(out) > 1 else out[0]

    def backward(self, xp, xs, ys, gys):
        return (None,)  # not differentiable (NNabla raises; nablite passes nothing)


@named
def unique(x, flatten=True, axis=None, sorted=True, with_index=False, with_inverse=False,
           with_counts=False, n_outputs=-1, outputs=None):
    """Unique elements of x, or unique slices of x along ``axis``.

    Works only in dynamic mode (``nn.auto_forward()``) or on NdArrays, since the
    number of unique values is known only once x has values.

    Args:
        x (Variable): N-D array.
        flatten (bool): unique elements of the flattened x (``axis`` is then only
            range-checked); if False, unique slices along ``axis``.
        axis (int): the axis of the slices. Required: NNabla raises TypeError for None.
        sorted (bool): ascending (lexicographic for slices) if True, else in order of
            first occurrence.
        with_index (bool): also return the index of each unique value's first
            occurrence (in the flattened x, or along ``axis``).
        with_inverse (bool): also return, for each element (slice) of x, the index of
            its value in y.
        with_counts (bool): also return how often each unique value occurs.

    Returns:
        Variable or tuple: y, then indices, inverse_indices, counts (int32) as requested.
    """
    if axis is None:  # NNabla passes None on to an int argument: TypeError
        raise TypeError("Unique: axis must be an integer, got None (NNabla has no default "
                        "for it; with flatten=True any valid axis gives the same result)")
    return Unique(flatten, int(axis), sorted, with_index, with_inverse, with_counts)(
        x, n_outputs=n_outputs, outputs=outputs)


class Sort(Function):
    def __init__(self, axis=-1, reverse=False, with_index=False, only_index=False):
        keep_args(self, locals())

    def setup(self, x):
        self.axis = _axis(self, self.axis, len(x))
        if self.with_index and not self.only_index:
            return [x, x]
        return x

    def _order(self, xp, x):
        return stable_argsort(xp, -x if self.reverse else x, self.axis)

    def forward(self, xp, x):
        order = self._order(xp, x)
        if self.only_index:
            return order.astype(INDEX_DTYPE)
        y = xp.take_along_axis(x, order, axis=self.axis)
        return (y, order.astype(INDEX_DTYPE)) if self.with_index else y

    def backward(self, xp, xs, ys, gys):
        # The true gradient scatters gy back through the permutation (NNabla 1.39's
        # CPU kernel gathers instead, which is only right for self-inverse orders);
        # with only_index too, as NNabla's, as if the output were the sorted values.
        order = self._order(xp, xs[0])
        gx = xp.empty(xs[0].shape, dtype=xs[0].dtype)
        xp.put_along_axis(gx, order, gys[0], axis=self.axis)
        return (gx,)


@named
def sort(x, axis=-1, reverse=False, with_index=False, only_index=False):
    """Sort along an axis, optionally returning the permutation (uint64 indices).

    Args:
        x (Variable): Input.
        axis (int): Axis to sort along.
        reverse (bool): Descending order.
        with_index (bool): Return ``(values, indices)``.
        only_index (bool): Return only the indices (whose gradient, as NNabla's,
            goes back through the permutation as if they were the sorted values).

    Returns:
        Variable or tuple of Variables.
    """
    return Sort(axis, reverse, with_index, only_index)(x)


class TopKData(Function):
    """Per sample (axes from base_axis on, flattened), the k largest (or smallest,
    or largest in magnitude) values: gathered (reduce) or kept in place with zeros."""
    forward_state = ('_idx',)  # kept from forward for backward; freed with the buffers

    def __init__(self, k, abs=False, reduce=True, base_axis=1, largest=True, with_index=False):
        self.k, self.abs, self.reduce, self.base_axis = k, abs, reduce, base_axis
        self.largest, self.with_index = largest, with_index

    def setup(self, x):
        require(self, -len(x) <= self.base_axis < len(x),
                f"base_axis={self.base_axis} is out of range for x {x}")
        self.base_axis %= len(x)  # a negative one counts from the end, as in NNabla
        m = prod(x[self.base_axis:])
        require(self, 0 < self.k <= m, f"k={self.k} must be in [1, {m}] for x {x}")
        # (samples, values per sample), stated: an empty x cannot reshape to (b, -1)
        self._matrix = (prod(x[:self.base_axis]), m)
        shape = x[:self.base_axis] + (self.k,) if self.reduce else x
        return [shape, x[:self.base_axis] + (self.k,)] if self.with_index else shape

    def forward(self, xp, x):
        flat = x.reshape(self._matrix)
        key = xp.abs(flat) if self.abs else flat
        self._idx = idx = _top_k(xp, key, self.k, self.largest)
        vals = xp.take_along_axis(flat, idx, axis=1)
        if self.reduce:
            y = vals.reshape(self.out_shapes[0])
        else:
            y = xp.zeros_like(flat)
            xp.put_along_axis(y, idx, vals, axis=1)
            y = y.reshape(x.shape)
        if self.with_index:
            return y, idx.astype(np.int64).reshape(self.out_shapes[1])
        return y

    def backward(self, xp, xs, ys, gys):
        x, gy = xs[0], gys[0]
        if not self.reduce:
            return (gy,)  # NNabla passes the whole gradient through
        gx = xp.zeros(self._matrix, gy.dtype)
        xp.put_along_axis(gx, self._idx, gy.reshape(self._matrix[0], self.k), axis=1)
        return (gx.reshape(x.shape),)


def _top_k(xp, key, k, largest):
    """Indices of the k largest (smallest) entries per row, best first."""
    order_key = -key if largest else key
    part = xp.argpartition(order_key, k - 1, axis=1)[:, :k] if k < key.shape[1] else \
        xp.broadcast_to(xp.arange(key.shape[1]), key.shape).copy()
    sub = xp.take_along_axis(order_key, part, axis=1)
    return xp.take_along_axis(part, stable_argsort(xp, sub, 1), axis=1)


class TopKGrad(Function):
    """Identity forward; backward keeps the k largest gradient entries per sample."""

    def __init__(self, k, abs=False, base_axis=1):
        self.k, self.abs, self.base_axis = k, abs, base_axis

    def setup(self, x):
        require(self, -len(x) <= self.base_axis < len(x),
                f"base_axis={self.base_axis} is out of range for x {x}")
        self.base_axis %= len(x)  # a negative one counts from the end, as in NNabla
        m = prod(x[self.base_axis:])
        require(self, 0 < self.k <= m, f"k={self.k} must be in [1, {m}] for x {x}")
        self._matrix = (prod(x[:self.base_axis]), m)  # as in TopKData
        return x

    def forward(self, xp, x):
        return x.copy()

    def backward(self, xp, xs, ys, gys):
        gy = gys[0]
        flat = gy.reshape(self._matrix)
        idx = _top_k(xp, xp.abs(flat) if self.abs else flat, self.k, True)
        gx = xp.zeros_like(flat)
        xp.put_along_axis(gx, idx, xp.take_along_axis(flat, idx, axis=1), axis=1)
        return (gx.reshape(gy.shape),)


@named
def top_k_data(x, k, abs=False, reduce=True, base_axis=1, largest=True, with_index=False,
               n_outputs=-1, outputs=None):
    """The k largest values per sample (best first), or x with all others zeroed
    (``reduce=False``); ``with_index`` also returns their flat indices."""
    return TopKData(k, abs, reduce, base_axis, largest, with_index)(
        x, n_outputs=n_outputs, outputs=outputs)


@named
def top_k_grad(x, k, abs=False, base_axis=1, n_outputs=-1, outputs=None):
    """Identity; backward keeps only the k largest gradient entries per sample."""
    return TopKGrad(k, abs, base_axis)(x, n_outputs=n_outputs, outputs=outputs)
