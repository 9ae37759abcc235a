"""Indexing: one_hot, gather/scatter by index arrays or bool masks, nonzero, and
packing / padding of variable-length sequences.

The ``x[key]`` / ``x[key] = v`` machinery built on gather_nd / scatter_nd is in
nablite/variable_indexing.py, next to the Variable.

The module is ~600 lines and stays one file: the index-array functions share
``_ints``, the scatters ``_writable_out`` and ``_last_writers``, and the two
sequence-packing functions are too small for a file of their own.
"""
import numpy as np

from .base import (Function, keep_args, node_constant, normalize_axes, prod, require, contiguous,
                   unary_public, named)
from .._array import NdArray, _ReshapedView
from ..backend import array_module, refuses_out_of_range, scatter_add as _scatter_add, to_numpy
from ..variable import Variable
from .array import check_sizes, reshape

__all__ = ["one_hot", "gather", "gather_nd", "bool_gather", "scatter_nd", "scatter_add",
           "bool_scatter", "bool_fill", "nonzero", "pack_padded_sequence",
           "pad_packed_sequence"]

INDEX_DTYPE = "uint64"  # NNabla's dtype for index outputs (nonzero)


def _ints(xp, a):
    """Index arrays may arrive as floats (NNabla's default dtype); index with integers
    (truncated toward zero, as NNabla does)."""
    return a if a.dtype.kind in "iu" else a.astype(np.int64)


def _range_error(fn, name, raw, idx, sizes, where, negative):
    """The IndexError naming the first index of ``idx`` (M, ...) outside
    [0, sizes[m]) in row m (or [-size, size) with ``negative``), its axis and
    size; None when all are inside. ``raw`` is the index array as given (a
    float NaN is named)."""
    rows = idx.reshape(len(sizes), -1)
    if rows.shape[1] == 0:
        return None
    xp = array_module(rows)  # one read of the bounds on a device, not two
    lows, highs = xp.stack([rows.min(axis=1), rows.max(axis=1)]).tolist()
    for m, (size, lo, hi) in enumerate(zip(sizes, lows, highs)):
        first = -size if negative else 0
        if first <= lo and hi < size:
            continue
        value = lo if lo < first else hi
        if raw.dtype.kind == "f":
            bad = raw.reshape(len(sizes), -1)[m]
            if bool((bad != bad).any()):
                value = "NaN"
        return IndexError(f"{fn.name}: index {value} is out of bounds for {where(m)}, which "
                          f"has size {size}: {name} must hold values in [{first}, {size})")
    return None


_NUMPY_BEFORE_2_3 = np.lib.NumpyVersion(np.__version__) < "2.3.0"


def _in_range(xp, op, fn, name, raw, idx, sizes, where, negative=False):
    """``op()``, an indexing by ``idx`` (M, ...) of axes of ``sizes``, with an index
    outside its axis refused by name (``_range_error``). NumPy refuses such an
    index itself (IndexError, caught here: no cost when all are inside) but wraps
    a negative one, so without ``negative`` one reduction looks for those; CuPy
    wraps every out-of-range index silently, so on other array modules all are
    checked first (and on NumPy before 2.3, which only warns when the result is empty)."""
    if not refuses_out_of_range(xp) or _NUMPY_BEFORE_2_3:
        err = _range_error(fn, name, raw, idx, sizes, where, negative)
        if err is not None:
            raise err
        return op()
    if not negative and idx.size and idx.min() < 0:
        raise _range_error(fn, name, raw, idx, sizes, where, negative)
    try:
        return op()
    except IndexError:
        err = _range_error(fn, name, raw, idx, sizes, where, negative)
        if err is None:
            raise
    raise err


class OneHot(Function):
    integer_inputs = (0,)

    def __init__(self, shape):
        self.shape = shape

    def setup(self, x):
        shape = [int(s) for s in self.shape]
        check_sizes(self, "shape", shape)
        require(self, len(x) >= 1 and x[-1] == len(shape),
                f"the last dimension of x {x} must hold one index per entry of "
                f"shape={tuple(shape)} ({len(shape)})")
        self.shape = shape
        self._constants = {}  # shape as an array of forward's module (node_constant)
        return x[:-1] + tuple(shape)

    def forward(self, xp, x):
        idx = _ints(xp, x).reshape(-1, len(self.shape))
        n = prod(self.shape)
        y = xp.zeros((len(idx), n), dtype=np.float32)
        if len(idx):
            # As NNabla: an index in [-size, 0) counts from the end; a row with one
            # outside [-size, size) stays all zeros (no host check of the values)
            size = node_constant(self, xp, "shape", lambda: xp.asarray(self.shape))
            ok = ((idx >= -size) & (idx < size)).all(axis=1)
            idx = xp.where(idx < 0, idx + size, idx)
            idx = xp.where(ok[:, None], idx, 0)
            flat = xp.ravel_multi_index(tuple(idx.T), self.shape)
            y[xp.arange(len(idx)), flat] = ok
        return y.reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        return (None,)


class GatherNd(Function):
    """y[i...] = x[indices[0, i...], ..., indices[M-1, i...], ...]."""

    integer_inputs = (1,)

    def setup(self, x, indices):
        require(self, len(indices) >= 1 and 1 <= indices[0] <= len(x),
                f"indices {indices} must have shape (M, ...) with 1 <= M <= x.ndim = {len(x)}")
        return indices[1:] + x[indices[0]:]

    def forward(self, xp, x, indices):
        idx = _ints(xp, indices)
        return _in_range(xp, lambda: x[tuple(idx)], self, "indices", indices, idx,
                         x.shape[:len(idx)], lambda m: f"axis {m} of data {x.shape}", True)

    def backward(self, xp, xs, ys, gys):
        if not self.need[0]:
            return None, None
        gx = xp.zeros(xs[0].shape, dtype=gys[0].dtype)
        _scatter_add(xp, gx, tuple(_ints(xp, xs[1])), gys[0])
        return gx, None

    def grad_graph(self, need, xs, ys, gys):
        # linear in x: the gradient scatter-adds (whose gradient gathers again)
        return [scatter_nd(gys[0], xs[1], shape=xs[0].shape, add=True) if need[0] else None,
                None]


def _writable_out(out, base_var):
    """``out``'s own array when the scatter may write into it (NNabla's in-place
    ``out=``/``output=``), else a copy: when the array is read-only, or when the
    function that made ``base_var`` reads its output in backward (NNabla refuses
    such a graph; writing over that value would corrupt the gradient)."""
    parent = base_var._parent
    if (not getattr(getattr(out, "flags", None), "writeable", True)
            or (parent is not None and parent.grad_reads_outputs)):
        return out.copy() if out.dtype.kind == "f" else out.astype(np.float32)
    if out.dtype.kind != "f":  # NNabla turns an integer ``out`` into float32, then writes
        out = out.astype(np.float32)
        base_var._data._set(out)
    return out


def _share_out(fn, y, k):
    """The output of a scatter into input ``k`` in place shares that input's
    memory, as in NNabla, on a device too (a same-shape _ReshapedView: its host
    copy is a view of the input's). Not when the input's maker reads it in
    backward: the scatter then writes a copy (_writable_out)."""
    if len(fn.inputs) > k and isinstance(y, Variable):
        parent = fn.inputs[k]._parent
        if parent is None or not parent.grad_reads_outputs:
            y._data = _ReshapedView(fn.inputs[k]._data, y.shape)
    return y


def _last_writers(xp, key, index_shape, base_shape):
    """True for each index column whose value survives an overwriting scatter
    (of repeated positions the last one wins, in the forward as in numpy)."""
    n = prod(index_shape)
    order = xp.arange(n).reshape(index_shape)
    winner = xp.full(base_shape, -1, dtype=order.dtype)
    winner[key] = order
    return winner[key] == order


class ScatterNd(Function):
    """y = zeros(shape), or ``out`` itself (written in place, as in NNabla);
    y[indices] = data (or += with add)."""

    integer_inputs = (1, 2)  # indices; ``out`` is written in place

    def __init__(self, shape=None, add=False, _in_place=True):
        keep_args(self, locals())

    def __call__(self, *inputs, **kwargs):
        y = Function.__call__(self, *inputs, **kwargs)
        return _share_out(self, y, 2) if self._in_place else y

    def setup(self, data, indices, out=None):
        require(self, self.shape is not None or out is not None,
                "give the output shape= or an out= array")
        shape = tuple(int(s) for s in (self.shape if self.shape is not None else out))
        check_sizes(self, "shape", shape)
        require(self, out is None or tuple(out) == shape,
                f"out {out} must have shape={shape}")
        require(self, len(indices) >= 1 and 1 <= indices[0] <= len(shape),
                f"indices {indices} must have shape (M, ...) with 1 <= M <= {len(shape)} "
                f"(the output's rank)")
        want = indices[1:] + shape[indices[0]:]
        require(self, data == want,
                f"data {data} must have shape {want} (indices.shape[1:] + shape[M:])")
        self.shape = list(shape)
        return shape

    def forward(self, xp, data, indices, out=None):
        if out is None:
            y = xp.zeros(self.out_shapes[0], dtype=data.dtype)
        else:
            y = (_writable_out(out, self.inputs[2]) if self._in_place
                 else out.copy() if out.dtype.kind == "f" else out.astype(np.float32))
        idx = _ints(xp, indices)
        key = tuple(idx)

        def scatter():
            if self.add:
                _scatter_add(xp, y, key, data)
            else:
                y[key] = data
            return y
        return _in_range(xp, scatter, self, "indices", indices, idx, y.shape[:len(idx)],
                         lambda m: f"axis {m} of the output {y.shape}", True)

    def grad_graph(self, need, xs, ys, gys):
        # A scatter-add into zeros is linear in data: its gradient gathers (whose
        # gradient scatter-adds again). Overwriting or writing into ``out``: the
        # array backward as one node (first order).
        if self.add and len(xs) == 2:
            return [gather_nd(gys[0], xs[1]) if need[0] else None, None]
        return None

    def backward(self, xp, xs, ys, gys):
        gy = gys[0]
        key = tuple(_ints(xp, xs[1]))
        g_data = None
        if self.need[0]:
            g_data = gy[key]
            if not self.add:  # a value overwritten by a later repeat gets no gradient
                m = xs[1].shape[0]
                keep = _last_writers(xp, key, xs[1].shape[1:], gy.shape[:m])
                if not keep.all():
                    g_data = g_data * keep.reshape(keep.shape + (1,) * (gy.ndim - m))
        g_out = None
        if len(xs) > 2 and self.need[2]:
            # Entries that were overwritten do not reach the output.
            g_out = gy.copy()
            if not self.add:
                g_out[key] = 0
        return (g_data, None) + ((g_out,) if len(xs) > 2 else ())


class Gather(Function):
    """Take slices along ``axis`` by indices, with ``batch_dims`` leading dims shared."""

    integer_inputs = (1,)

    def __init__(self, axis=0, batch_dims=0):
        self.axis = axis
        self.batch_dims = batch_dims

    def setup(self, x, indices):
        b = self.batch_dims
        require(self, len(x) >= 1, f"x {x} is 0-d; expected an array with an axis to gather "
                                   "along")
        require(self, 0 <= b <= len(indices) and b <= len(x) - 1,
                f"batch_dims={b} must be within the ranks of x {x} and indices {indices}")
        axis = normalize_axes(self, self.axis, len(x))[0]
        require(self, axis >= b, f"axis={self.axis} must not be one of the "
                                 f"batch_dims={b} leading axes")
        require(self, tuple(x[:b]) == tuple(indices[:b]),
                f"x {x} and indices {indices} must share their first batch_dims={b} sizes")
        self.axis = axis
        return x[:axis] + indices[b:] + x[axis + 1:]

    def _layout(self, x_shape, idx_shape):
        b, a = self.batch_dims, self.axis
        batch = prod(x_shape[:b])
        mid = x_shape[b:a]
        return b, a, batch, mid

    def _key(self, xp, x_shape, indices):
        b, a, batch, mid = self._layout(x_shape, indices.shape)
        idx = _ints(xp, indices).reshape((batch,) + indices.shape[b:])
        bidx = xp.arange(batch).reshape((batch,) + (1,) * (idx.ndim - 1))
        return bidx, idx

    def forward(self, xp, x, indices):
        b, a, batch, mid = self._layout(x.shape, indices.shape)
        # (B, n, mid..., rest...): the gathered axis right after the merged batch.
        xm = xp.moveaxis(x.reshape((batch,) + x.shape[b:]), 1 + a - b, 1)
        key = self._key(xp, x.shape, indices)
        picked = _in_range(xp, lambda: xm[key], self, "Indices", indices, key[1].reshape(1, -1),
                           x.shape[a:a + 1], lambda m: f"axis {a} of x {x.shape}")
        # picked: (B, I..., mid..., rest...)
        n_i = indices.ndim - b
        picked = xp.moveaxis(picked, tuple(range(1, 1 + n_i)),
                             tuple(range(1 + len(mid), 1 + len(mid) + n_i)))
        return contiguous(xp, picked.reshape(self.out_shapes[0]))

    def backward(self, xp, xs, ys, gys):
        if not self.need[0]:
            return None, None
        x, indices = xs
        b, a, batch, mid = self._layout(x.shape, indices.shape)
        n_i = indices.ndim - b
        g = gys[0].reshape((batch,) + gys[0].shape[b:])
        g = xp.moveaxis(g, tuple(range(1 + len(mid), 1 + len(mid) + n_i)),
                        tuple(range(1, 1 + n_i)))
        moved_shape = (batch, x.shape[a]) + x.shape[b:a] + x.shape[a + 1:]
        gxm = xp.zeros(moved_shape, dtype=g.dtype)
        _scatter_add(xp, gxm, self._key(xp, x.shape, indices), g)
        gx = xp.moveaxis(gxm, 1, 1 + a - b).reshape(x.shape)
        return contiguous(xp, gx), None


class ScatterAdd(Function):
    """y = x0; y[..., indices[p], ...] += x1[p] along ``axis`` for every p in indices."""

    integer_inputs = (1,)

    def __init__(self, axis=0):
        self.axis = axis

    def setup(self, x0, indices, x1):
        require(self, len(x0) >= 1, f"x0 {x0} is 0-d; expected an array with an axis to add "
                                    "along")
        axis = normalize_axes(self, self.axis, len(x0))[0]
        require(self, len(indices) == len(x0) == len(x1),
                f"x0 {x0}, indices {indices} and x1 {x1} must have the same rank")
        require(self, all(i <= s for i, s in zip(indices, x1)) and all(
            i <= s for d, (i, s) in enumerate(zip(indices, x0)) if d != axis),
            f"indices {indices} must fit in x1 {x1}, and in x0 {x0} except at axis={axis}")
        self.axis = axis
        return x0

    def _key(self, xp, indices):
        n = indices.ndim
        grid = [xp.arange(s).reshape((1,) * d + (s,) + (1,) * (n - d - 1))
                for d, s in enumerate(indices.shape)]
        grid[self.axis] = _ints(xp, indices)
        return tuple(grid)

    def forward(self, xp, x0, indices, x1):
        a = self.axis
        y = x0.copy()
        region = tuple(slice(0, n) for n in indices.shape)
        key = self._key(xp, indices)
        return _in_range(xp, lambda: _scatter_add(xp, y, key, x1[region]), self, "indices",
                         indices, key[a].reshape(1, -1), x0.shape[a:a + 1],
                         lambda m: f"axis {a} of x0 {x0.shape}")

    def backward(self, xp, xs, ys, gys):
        x0, indices, x1 = xs
        gy = gys[0]
        g1 = None
        if self.need[2]:
            g1 = xp.zeros(x1.shape, dtype=gy.dtype)
            g1[tuple(slice(0, n) for n in indices.shape)] = gy[self._key(xp, indices)]
        return (gy if self.need[0] else None), None, g1


def _mask_of(fn, mask, prefix):
    require(fn, tuple(mask) == tuple(prefix[:len(mask)]) and len(mask) <= len(prefix),
            f"mask {mask} must match the leading dimensions of {prefix}")


def _check_count(fn, count, rows, what):
    """Forward's check that the mask has ``rows`` non-zero entries (``what`` says
    whose rows): a mask computed in the graph has its values only now."""
    require(fn, count == rows, f"the mask has {count} non-zero entries, but {what} "
                               f"{rows} rows")


class BoolGather(Function):
    def setup(self, x, mask):
        _mask_of(self, mask, x)
        # The output's length is known only from the mask's values: those it has
        # now (forward checks that they have not changed).
        count = int(np.count_nonzero(self.inputs[1].d))
        return (count,) + x[len(mask):]

    def forward(self, xp, x, mask):
        y = x[mask != 0]
        _check_count(self, y.shape[0], self.out_shapes[0][0],
                     "the output was set up (from the mask's values when the graph was "
                     "built) with")
        return y

    def backward(self, xp, xs, ys, gys):
        gx = xp.zeros(xs[0].shape, dtype=gys[0].dtype)
        gx[xs[1] != 0] = gys[0]
        return gx, None

    def grad_graph(self, need, xs, ys, gys):
        # linear in x: the gradient scatters (whose gradient gathers again)
        return [bool_scatter(gys[0], xs[1]) if need[0] else None, None]


class BoolScatter(Function):
    integer_inputs = (1, 2)  # the mask; ``output`` is written in place

    def __call__(self, *inputs, **kwargs):
        return _share_out(self, Function.__call__(self, *inputs, **kwargs), 2)

    def setup(self, x, mask, output=None):
        # Shapes only: the mask may be computed in the graph, its values not yet
        # known (forward checks the count of rows).
        require(self, len(x) >= 1, f"input {x} must have one row per non-zero mask entry, "
                                   "and so at least one dimension")
        shape = tuple(mask) + tuple(x[1:])
        require(self, output is None or tuple(output) == shape,
                f"output {output} must have shape {shape}")
        return shape

    def forward(self, xp, x, mask, output=None):
        m = mask != 0
        _check_count(self, int(xp.count_nonzero(m)), x.shape[0], "the input has")
        if output is None:
            y = xp.zeros(self.out_shapes[0], dtype=x.dtype)
        else:  # in place, as in NNabla
            y = _writable_out(output, self.inputs[2])
        y[m] = x
        return y

    def backward(self, xp, xs, ys, gys):
        m = xs[1] != 0
        g_out = None
        if len(xs) > 2 and self.need[2]:
            g_out = gys[0].copy()
            g_out[m] = 0
        return (gys[0][m], None) + ((g_out,) if len(xs) > 2 else ())

    def grad_graph(self, need, xs, ys, gys):
        # linear: the input's gradient gathers (whose gradient scatters again);
        # ``output``'s is gy with the written positions zeroed, a bool_fill
        gy, mask = gys[0], xs[1]
        out = [bool_gather(gy, mask) if need[0] else None, None]
        if len(xs) > 2:
            spread = reshape(mask, mask.shape + (1,) * (len(gy.shape) - len(mask.shape)))
            out.append(bool_fill(gy, spread, 0) if need[2] else None)
        return out


class BoolFill(Function):
    def __init__(self, value=0):
        self.value = value

    def setup(self, data, mask):
        try:
            out = np.broadcast_shapes(data, mask)
        except ValueError:
            out = None
        require(self, out == tuple(data),
                f"mask {mask} must broadcast to the shape of data {data}")
        self._constants = {}  # value as a 0-d array per module and dtype (node_constant)
        return data

    def forward(self, xp, data, mask):
        dtype = data.dtype
        value = node_constant(self, xp, dtype, lambda: xp.asarray(self.value, dtype=dtype))
        return xp.where(mask != 0, value, data)

    def backward(self, xp, xs, ys, gys):
        return xp.where(xs[1] != 0, xp.zeros((), dtype=gys[0].dtype), gys[0]), None

    def grad_graph(self, need, xs, ys, gys):
        return [bool_fill(gys[0], xs[1], 0) if need[0] else None, None]  # linear in data


class NonZero(Function):
    integer_inputs = True

    def setup(self, x):
        return (len(x), int(np.count_nonzero(self.inputs[0].d)))

    def forward(self, xp, x):
        if x.ndim == 0:  # no axis to index: (0, count), as NNabla gives
            return xp.zeros(self.out_shapes[0], INDEX_DTYPE)
        return xp.stack(xp.nonzero(x)).reshape(self.out_shapes[0]).astype(INDEX_DTYPE)

    def backward(self, xp, xs, ys, gys):
        return (None,)


def _valid_steps(lengths, steps):
    """The (t, b) of the valid time steps (t < lengths[b]) of a (steps, B) batch,
    time-major: two integer index arrays, so that the device gathers and scatters
    them without the host sync a boolean mask needs to size its result."""
    return np.nonzero(np.arange(steps)[:, None] < np.asarray(lengths)[None, :])


class PackPaddedSequence(Function):
    """Valid steps of a padded (T, B, ...) batch, time-major: step 0 of every sequence first."""

    integer_inputs = (1,)

    def __init__(self, batch_first=False):
        self.batch_first = batch_first

    def setup(self, x, lengths):
        require(self, len(x) >= 2 and len(lengths) == 1,
                f"padded_sequence {x} must be (T, B, ...) and lengths {lengths} 1-D")
        steps, batch = (x[1], x[0]) if self.batch_first else (x[0], x[1])
        lens = np.asarray(self.inputs[1].d).astype(np.int64)  # shapes follow the values
        require(self, lengths[0] == batch and bool(np.all(lens[:-1] >= lens[1:])) and
                (len(lens) == 0 or (lens.max() <= steps and lens.min() >= 1)),
                f"lengths {lens.tolist()} must hold B={batch} values in 1..{steps}, sorted "
                "in decreasing order")
        steps = int(lens.max()) if len(lens) else 0
        self._t, self._b = _valid_steps(lens, steps)
        self._sizes = np.bincount(self._t, minlength=steps).astype(np.int32)
        self._constants = {}  # _t, _b and _sizes on forward's module (_on_module)
        return [(len(self._t),) + tuple(x[2:]), (steps,)]

    def _time_major(self, xp, x):
        return x.swapaxes(0, 1) if self.batch_first else x

    def forward(self, xp, x, lengths):
        t, b, sizes = _on_module(self, xp, "_t", "_b", "_sizes")
        return self._time_major(xp, x)[t, b], sizes.copy()  # sizes: an output of its own

    def backward(self, xp, xs, ys, gys):
        x = xs[0]
        t, b = _on_module(self, xp, "_t", "_b")
        g = xp.zeros(x.shape, dtype=gys[0].dtype)
        self._time_major(xp, g)[t, b] = gys[0]  # each (t, b) once: no sums needed
        return g, None


def _on_module(fn, xp, *names):
    """The node's host arrays ``names`` (set by setup) as arrays of ``xp``, moved
    once per node and module: no host-to-device copy per forward."""
    return [node_constant(fn, xp, n, lambda n=n: xp.asarray(getattr(fn, n))) for n in names]


class PadPackedSequence(Function):
    """Inverse of PackPaddedSequence: back to (T, B, ...) filled with padding_value."""

    integer_inputs = (1,)  # _t, _b come from setup (batch_sizes' values), not forward

    def __init__(self, batch_first=False, padding_value=0.0, total_length=-1):
        keep_args(self, locals())

    def setup(self, packed, batch_sizes):
        require(self, len(packed) >= 1, f"packed_sequence {packed} is 0-d; expected packed "
                                        "rows (sum(lengths), ...)")
        sizes = np.asarray(self.inputs[1].d).astype(np.int64)
        require(self, len(batch_sizes) == 1 and len(sizes) >= 1 and
                bool(np.all(sizes[:-1] >= sizes[1:])) and int(sizes.sum()) == packed[0],
                f"batch_sizes {sizes.tolist()} must be non-increasing and sum to the "
                f"{packed[0]} packed rows")
        batch = int(sizes[0])
        lens = (sizes[None, :] > np.arange(batch)[:, None]).sum(axis=1)
        steps = max(len(sizes), self.total_length)
        self._steps = steps
        self._t, self._b = _valid_steps(lens, steps)
        self._lengths = lens.astype(np.int32)
        self._constants = {}  # _t, _b and _lengths on forward's module (_on_module)
        shape = (batch, steps) if self.batch_first else (steps, batch)
        return [shape + tuple(packed[1:]), (batch,)]

    def forward(self, xp, packed, batch_sizes):
        t, b, lengths = _on_module(self, xp, "_t", "_b", "_lengths")
        y = xp.full((self._steps, len(lengths)) + packed.shape[1:], self.padding_value,
                    dtype=packed.dtype)
        y[t, b] = packed
        y = contiguous(xp, y.swapaxes(0, 1)) if self.batch_first else y
        return y, lengths.copy()  # an output of its own, not the node's array

    def backward(self, xp, xs, ys, gys):
        g = gys[0].swapaxes(0, 1) if self.batch_first else gys[0]
        t, b = _on_module(self, xp, "_t", "_b")
        return g[t, b], None


@named
def one_hot(x, shape):
    """One-hot encoding: the last dimension of ``x`` (one index per entry of ``shape``)
    is replaced by ``shape``, holding 1 at the indexed position and 0 elsewhere.

    Args:
        x (Variable): Integer indices (..., len(shape)).
        shape (tuple of int): Sizes of the one-hot axes.

    Returns:
        Variable: float32, shape ``x.shape[:-1] + shape``.
    """
    return OneHot(shape)(x)


@named
def gather(x, Indices, axis=None, batch_dims=None):
    """Take slices of ``x`` along ``axis`` at ``Indices``.

    .. math:: y[b..., m..., i..., r...] = x[b..., m..., Indices[b..., i...], r...]

    Args:
        x (Variable): Data.
        Indices (Variable): Integer indices in [0, x.shape[axis]) (floats are
            truncated toward zero; others raise IndexError, as in NNabla); its
            first ``batch_dims`` dims match x's.
        axis (int): Axis to gather along (default 0).
        batch_dims (int): Leading dims shared by x and Indices (default 0).

    Returns:
        Variable: Shape ``x.shape[:axis] + Indices.shape[batch_dims:] + x.shape[axis+1:]``.
    """
    return Gather(0 if axis is None else axis, 0 if batch_dims is None else batch_dims)(
        x, Indices)


@named
def gather_nd(data, indices):
    """Gather by N-D index tuples: ``y[i...] = data[indices[:, i...]]``.

    Args:
        data (Variable): Data.
        indices (Variable): Shape (M, ...); column entries index the first M axes,
            each in [-size, size) of its axis (negative ones count from the end;
            others raise IndexError, as in NNabla).

    Returns:
        Variable: Shape ``indices.shape[1:] + data.shape[M:]``.
    """
    if isinstance(indices, (list, tuple)):  # (NNabla takes a list of index rows)
        indices = np.asarray(indices)
    return GatherNd()(data, indices)


@named
def bool_gather(input, mask):
    """Rows of ``input`` where ``mask`` (over its leading dims) is non-zero.

    Args:
        input (Variable): Data.
        mask (Variable): 0/1 mask matching the leading dims of input.

    Returns:
        Variable: Shape ``(count,) + input.shape[mask.ndim:]``.
    """
    return BoolGather()(input, mask)


@named
def scatter_nd(data, indices, shape=None, out=None, add=False):
    """Scatter ``data`` to the positions ``indices`` of a zero array, or into ``out``.

    Give exactly one of ``shape`` and ``out``. With ``out`` the scatter happens in
    place, as in NNabla: the result shares ``out``'s array, so ``out.d`` holds the
    scattered values after the forward (and a repeated forward with ``add=True``
    adds again). Repeated positions keep the last value, or sum with ``add=True``.
    Gradients are the true ones: an overwritten value (in ``out`` or an earlier
    repeat in ``data``) gets none; NNabla gives ``out`` no gradient at all.

    Args:
        data (Variable): Values, shape ``indices.shape[1:] + shape[M:]``.
        indices (Variable, numpy array or list): Shape (M, ...), integer positions
            in the first M axes, each in [-size, size) of its axis.
        shape (tuple of int): Output shape.
        out (Variable or NdArray): Array scattered into (its shape is the output's).
        add (bool): Accumulate instead of overwriting.

    Returns:
        Variable: Shape ``shape``.
    """
    if not isinstance(indices, (Variable, NdArray)):
        indices = to_numpy(indices)  # a device array is index data too
        try:
            given = np.asarray(indices, dtype=float) if indices is not None else None
        except (TypeError, ValueError):
            given = None
        if given is None or given.ndim == 0:
            raise TypeError(f"scatter_nd: indices={indices!r}; expected a Variable, an "
                            "NdArray or a nested list of integers of shape (M, ...)")
        if not np.isfinite(given).all():
            raise ValueError(f"scatter_nd: indices={indices!r} holds NaN or inf; expected "
                             "integers")
        indices = Variable.from_numpy_array(np.asarray(indices, dtype=int))
    if shape is not None and out is not None:
        raise TypeError("scatter_nd: give only one of `shape` and `out`")
    if out is not None and not isinstance(out, (Variable, NdArray)):
        raise TypeError("scatter_nd: `out` must be a Variable or an NdArray")
    fn = ScatterNd(None if shape is None else list(shape), add)
    return fn(data, indices) if out is None else fn(data, indices, out)


@named
def scatter_add(x0, indices, x1, axis=None):
    """Add ``x1`` into a copy of ``x0`` at ``indices`` along ``axis``.

    .. math:: y[\\ldots, indices[p], \\ldots] \\mathrel{+}= x1[p]

    Args:
        x0 (Variable): Base values.
        indices (Variable): Integer positions in [0, x0.shape[axis]) along ``axis``,
            same rank as x0.
        x1 (Variable): Values added (at least indices' shape).
        axis (int): Axis the indices refer to (default 0).

    Returns:
        Variable: Shape of ``x0``.
    """
    return ScatterAdd(0 if axis is None else axis)(x0, indices, x1)


@named
def bool_scatter(input, mask, output=None, n_outputs=-1, outputs=None):
    """Inverse of :func:`bool_gather`: place the rows of ``input`` at the non-zero mask positions.

    Args:
        input (Variable): Rows, shape ``(count,) + rest``.
        mask (Variable): 0/1 mask.
        output (Variable): Array written into in place, as in NNabla: the result
            shares its array (zeros when None). Its gradient is ``dy`` outside the mask.

    Returns:
        Variable: Shape ``mask.shape + rest``.
    """
    inputs = (input, mask) if output is None else (input, mask, output)
    return BoolScatter()(*inputs, n_outputs=n_outputs, outputs=outputs)


@named
def bool_fill(data, mask, value=0):
    """Fill ``data`` with ``value`` where ``mask`` (broadcast) is non-zero.

    Args:
        data (Variable): Data.
        mask (Variable): 0/1 mask, broadcastable to data.
        value (float): Fill value.

    Returns:
        Variable: Same shape as data; gradient zero at filled positions.
    """
    return BoolFill(value)(data, mask)


nonzero = unary_public("nonzero", NonZero,
                       "Indices of the non-zero elements, one row per dimension.",
                       "Variable: uint64, shape ``(x.ndim, count)``.")


@named
def pack_padded_sequence(padded_sequence, lengths, batch_first=False):
    """Pack a padded batch of variable-length sequences (for RNNs).

    Rows are ordered by time step, then by sequence: step 0 of every sequence,
    then step 1 of those at least 2 long, and so on.

    Args:
        padded_sequence (Variable): (T, B, ...) or (B, T, ...) with batch_first.
        lengths (Variable): (B,) lengths, sorted in decreasing order.
        batch_first (bool): Whether the batch axis comes first.

    Returns:
        tuple of Variable: packed (sum(lengths), ...) and batch_sizes (int32, one
        entry per time step).
    """
    return PackPaddedSequence(batch_first)(padded_sequence, lengths)


@named
def pad_packed_sequence(packed_sequence, batch_sizes, batch_first=False, padding_value=None,
                        total_length=None):
    """Unpack a packed sequence to a padded batch (inverse of :func:`pack_padded_sequence`).

    Args:
        packed_sequence (Variable): Packed rows.
        batch_sizes (Variable): Sequences alive at each time step.
        batch_first (bool): Return (B, T, ...) instead of (T, B, ...).
        padding_value (float): Value of the padded positions (default 0).
        total_length (int): Pad the time axis to at least this length.

    Returns:
        tuple of Variable: padded sequence and lengths (int32).
    """
    return PadPackedSequence(batch_first, 0.0 if padding_value is None else padding_value,
                             -1 if total_length is None else total_length)(
        packed_sequence, batch_sizes)
