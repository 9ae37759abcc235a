"""Array manipulation: reshape, transpose, broadcast, concatenate/split/stack,
slice, shape, meshgrid, assign, clip_by_value, clip_by_norm and dot.

pad, tile, flip and shift are in ``rearrange.py``; sort in ``sorting.py``;
gather/scatter style functions (gather, gather_nd, scatter_nd, bool_* ...) in
``indexing.py`` (the ``x[key]`` machinery built on them is
``nablite/variable_indexing.py``); diagonals, triangles and batched matrix
algebra in ``linalg.py``.
"""
import itertools

import numpy as np

from .._array import NdArray, _ReshapedView
from ..variable import Variable, as_variable
from .base import Function, node_constant, normalize_axes, prod, require, sum_to, contiguous, named

__all__ = ["reshape", "transpose", "broadcast", "broadcast_to", "concatenate", "split", "stack",
           "slice", "shape", "meshgrid", "assign", "clip_by_value", "clip_by_norm", "dot"]

INDEX_DTYPE = "uint64"  # NNabla's dtype for index outputs (sort with_index)
_pyslice = slice  # the builtin; this module defines F.slice


def _axis(fn, axis, ndim, arg="axis"):
    # normalize_axes lets axis 0 through for a 0-d input (reductions over all of
    # it); a function that takes an axis of the array needs one.
    require(fn, ndim >= 1, f"{arg}={axis!r} of a 0-d input (shape ()); expected an input "
                           "with at least one axis")
    return normalize_axes(fn, axis, ndim, arg)[0]


def check_sizes(fn, arg, shape):
    """Refuse a negative size in a shape argument when the node is set up
    (NumPy would say "negative dimensions are not allowed" in forward, or a
    Variable of a negative shape would be made)."""
    require(fn, all(s >= 0 for s in shape),
            f"{arg}={tuple(shape)} has a negative size; expected sizes >= 0")


def input_shape(fname, x, arg="x"):
    """The shape of input ``x`` of a public function that reads it before its
    node exists (the node itself names a None input); a named TypeError for None
    or anything without a shape."""
    shape = getattr(x, "shape", None)
    if shape is None:
        raise TypeError(f"{fname}: {arg} is {'None' if x is None else type(x).__name__}; "
                        "expected a Variable (or an NdArray / numpy array)")
    return tuple(shape)


def _trailing(values, ndim, fill):
    """Per-axis values given for the trailing axes only, padded in front with ``fill``."""
    values = list(values)
    return [fill] * (ndim - len(values)) + values


class Reshape(Function):
    integer_inputs = True  # NNabla's reshape keeps the dtype
    half_kernel = None  # (in 'half' contexts too)
    linear = True  # nn.grad: its gradient is its adjoint
    grad_reads_inputs = grad_reads_outputs = False  # only x's shape

    def __init__(self, shape, inplace=True):
        self.shape = shape
        self.inplace = inplace
        self._shape_given = shape  # info.args's shape, a -1 kept (NNabla's)

    def setup(self, x):
        shape = [int(s) for s in self._shape_given]
        size = prod(x)
        unknown = [i for i, s in enumerate(shape) if s < 0]
        if len(unknown) > 1 or any(s < -1 for s in shape):
            require(self, False, f"shape={tuple(shape)} may have only one -1 and no other "
                                 "negative size")
        if unknown:
            known = prod(s for s in shape if s >= 0)
            if known == 0 or size % known:
                require(self, False, f"cannot infer -1 in shape={tuple(shape)} for an input "
                                     f"of shape {x} ({size} elements)")
            shape[unknown[0]] = size // known
        if prod(shape) != size:
            require(self, False, f"shape={tuple(self._shape_given)} has {prod(shape)} elements but "
                                 f"the input {x} has {size}")
        self.shape = shape
        return tuple(shape)

    def __call__(self, *inputs, **kwargs):
        y = Function.__call__(self, *inputs, **kwargs)
        if self.inplace and isinstance(y, Variable):  # shares x's memory, as NNabla's
            y._data = _ReshapedView(self.inputs[0]._data, y.shape)
        return y

    def forward(self, xp, x):
        # A view, as NNabla's in-place reshape shares the input's memory.
        return x.reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        return (gys[0].reshape(xs[0].shape),)


class Transpose(Function):
    linear = True  # nn.grad: its gradient is its adjoint
    def __init__(self, axes):
        self.axes = axes

    def setup(self, x):
        axes = normalize_axes(self, self.axes, len(x), "axes")
        if len(axes) != len(x):
            require(self, False, f"axes={tuple(self.axes)} must list each of the {len(x)} "
                                 f"axes of {x} once")
        self.axes = list(axes)
        return tuple(x[a] for a in axes)

    def forward(self, xp, x):
        return contiguous(xp, x.transpose(self.axes))

    def backward(self, xp, xs, ys, gys):
        inverse = tuple(sorted(range(len(self.axes)), key=self.axes.__getitem__))
        return (contiguous(xp, gys[0].transpose(inverse)),)


class Broadcast(Function):
    linear = True  # nn.grad: its gradient is its adjoint
    def __init__(self, shape):
        self.shape = shape

    def setup(self, x):
        shape = tuple(int(s) for s in self.shape)
        check_sizes(self, "shape", shape)
        ok = len(shape) >= len(x) and all(
            a == b or a == 1 for a, b in zip(x[::-1], shape[::-1]))
        if not ok:
            require(self, False, f"cannot broadcast an input of shape {x} to shape={shape} "
                                 "(only size-1 dimensions can grow)")
        self.shape = list(shape)
        return shape

    def forward(self, xp, x):
        return contiguous(xp, xp.broadcast_to(x, self.out_shapes[0]))

    def backward(self, xp, xs, ys, gys):
        return (sum_to(xp, gys[0], xs[0].shape),)


class BroadcastTo(Function):
    """z = y broadcast to x's shape, y's dims matching x's from ``axis`` on (legacy)."""

    def __init__(self, axis=-1):
        self.axis = axis

    def setup(self, x, y):
        axis = len(x) - len(y) if self.axis < 0 else self.axis
        require(self, 0 <= axis and axis + len(y) <= len(x) and
                tuple(x[axis:axis + len(y)]) == tuple(y),
                f"y {y} must match x {x} at axis={self.axis} (x.shape[axis:axis+{len(y)}])")
        self._at = axis
        return x

    def forward(self, xp, x, y):
        shape = (1,) * self._at + y.shape + (1,) * (x.ndim - self._at - y.ndim)
        return contiguous(xp, xp.broadcast_to(y.reshape(shape), x.shape))

    def backward(self, xp, xs, ys, gys):
        raise NotImplementedError("BroadcastTo: backward is not supported (as in NNabla); "
                                  "use F.broadcast for a differentiable broadcast")


class Concatenate(Function):
    linear = True  # nn.grad: its gradient is its adjoint
    def __init__(self, axis):
        self.axis = axis

    def setup(self, *shapes):
        require(self, len(shapes) >= 1, "needs at least one input")
        first = shapes[0]
        axis = _axis(self, self.axis, len(first))
        for i, s in enumerate(shapes[1:], 1):
            if len(s) != len(first) or any(
                    a != b for j, (a, b) in enumerate(zip(s, first)) if j != axis):
                require(self, False, f"input {i} has shape {s}, which must match input 0 "
                                     f"{first} on every axis except axis={self.axis}")
        self.axis = axis
        return first[:axis] + (sum(s[axis] for s in shapes),) + first[axis + 1:]

    def forward(self, xp, *xs):
        return xp.concatenate(xs, axis=self.axis)

    def backward(self, xp, xs, ys, gys):
        cuts = list(itertools.accumulate(x.shape[self.axis] for x in xs[:-1]))
        return tuple(xp.split(gys[0], cuts, axis=self.axis))


class Split(Function):
    linear = True  # nn.grad: its gradient is its adjoint
    def __init__(self, axis=0):
        self.axis = axis

    def setup(self, x):
        axis = _axis(self, self.axis, len(x))
        self.axis = axis
        return [x[:axis] + x[axis + 1:]] * x[axis]

    def forward(self, xp, x):
        moved = xp.moveaxis(x, self.axis, 0)
        if len(moved) == 1:  # the engine takes a single output as a bare array
            return contiguous(xp, moved[0])
        return tuple(contiguous(xp, m) for m in moved)

    def backward(self, xp, xs, ys, gys):
        return (xp.stack(gys, axis=self.axis),)


class Stack(Function):
    linear = True  # nn.grad: its gradient is its adjoint
    def __init__(self, axis=0):
        self.axis = axis

    def setup(self, *shapes):
        require(self, len(shapes) >= 1, "needs at least one input")
        for i, s in enumerate(shapes[1:], 1):
            if s != shapes[0]:
                require(self, False, f"input {i} has shape {s}; all inputs must have shape "
                                     f"{shapes[0]}")
        axis = _axis(self, self.axis, len(shapes[0]) + 1)
        self.axis = axis
        return shapes[0][:axis] + (len(shapes),) + shapes[0][axis:]

    def forward(self, xp, *xs):
        return xp.stack(xs, axis=self.axis)

    def backward(self, xp, xs, ys, gys):
        return tuple(xp.moveaxis(gys[0], self.axis, 0))


class Slice(Function):
    """x[start:stop:step] per axis, Python slice semantics (negative steps included)."""
    linear = True  # nn.grad: its gradient is its adjoint

    def __init__(self, start, stop, step):
        self.start, self.stop, self.step = start, stop, step

    def setup(self, x):
        n = len(x)
        given = {}
        for name in ("start", "stop", "step"):
            v = getattr(self, name)
            if v is not None:
                require(self, all(e is None or isinstance(e, (int, np.integer)) for e in v),
                        f"{name}={tuple(v)} must hold integers (or None)", TypeError)
                if len(v) > n:
                    require(self, False, f"{name}={tuple(v)} has more entries than the {n} "
                                         f"axes of {x}")
                if len(v):
                    given[name] = len(v)
        require(self, len(set(given.values())) <= 1,
                "start, stop and step must have the same length (NNabla), got "
                + ", ".join(f"{k}={tuple(getattr(self, k))}" for k in given))
        start = _trailing(self.start or (), n, None)
        stop = _trailing(self.stop or (), n, None)
        step = _trailing(self.step or (), n, None)
        if 0 in step:
            require(self, False, f"step={tuple(step)} must not contain 0")
        self._key = key = tuple(_pyslice(a, b, c) for a, b, c in zip(start, stop, step))
        bounds = [k.indices(s) for k, s in zip(key, x)]
        # NNabla reports explicit integers for every axis; a negative stop keeps
        # its meaning (-size-1: before the first element).
        self.start = [b[0] for b in bounds]
        self.stop = [b[1] - s if b[1] < 0 else b[1] for b, s in zip(bounds, x)]
        self.step = [b[2] for b in bounds]
        return tuple(len(range(*b)) for b in bounds)

    def forward(self, xp, x):
        return contiguous(xp, x[self._key])

    def backward(self, xp, xs, ys, gys):
        gx = xp.zeros(xs[0].shape, dtype=gys[0].dtype)
        gx[self._key] = gys[0]
        return (gx,)


class Shape(Function):
    integer_inputs = True

    def __init__(self, start=0, end=0):
        self.start = start
        self.end = end

    def setup(self, x):
        self._value = list(x)[self.start:(self.end if self.end else None)]
        self._constants = {}
        return (len(self._value),)

    def forward(self, xp, x):
        # NNabla reads the shape back as float32 data; moved once (node_constant),
        # each output a copy of its own
        return node_constant(self, xp, "value",
                             lambda: xp.asarray(self._value, dtype=np.float32)).copy()

    def backward(self, xp, xs, ys, gys):
        return (None,)


class Meshgrid(Function):
    half_kernel = False  # NNabla computes it in float32 in 'half' contexts
    def __init__(self, ij_indexing=False):
        self.ij_indexing = ij_indexing

    def setup(self, *shapes):
        require(self, len(shapes) >= 1, "needs at least one input")
        for i, s in enumerate(shapes):
            require(self, len(s) == 1, f"input {i} must be 1-D, got shape {s}")
        dims = [s[0] for s in shapes]
        if not self.ij_indexing and len(dims) >= 2:
            dims[0], dims[1] = dims[1], dims[0]
        return [tuple(dims)] * len(shapes)

    def forward(self, xp, *xs):
        grids = xp.meshgrid(*xs, indexing="ij" if self.ij_indexing else "xy")
        if len(grids) == 1:  # the engine takes a single output as a bare array
            return contiguous(xp, grids[0])
        return tuple(contiguous(xp, g) for g in grids)

    def backward(self, xp, xs, ys, gys):
        n = len(xs)
        grads = []
        for i, gy in enumerate(gys):
            axis = i
            if not self.ij_indexing and n >= 2 and i < 2:
                axis = 1 - i
            grads.append(gy.sum(axis=tuple(a for a in range(n) if a != axis)))
        return tuple(grads)


class Assign(Function):
    integer_inputs = (0,)  # dst is written in place

    def setup(self, dst, src):
        require(self, dst == src, f"src {src} must have the shape of dst {dst}")
        return dst

    def forward(self, xp, dst, src):
        # The point of Assign is the side effect: dst's buffer takes src's values.
        dst[...] = src
        return src.copy()

    def backward(self, xp, xs, ys, gys):
        return gys[0], None


@named
def reshape(x, shape, inplace=True):
    """Reshape to ``shape``; one entry may be -1 (inferred from the size).

    Args:
        x (Variable): Input.
        shape (tuple of int): Target shape with the same number of elements.
        inplace (bool): Share memory with the input (always the case here).

    Returns:
        Variable: The reshaped array.
    """
    return Reshape(tuple(shape) if not np.isscalar(shape) else (shape,), inplace)(x)


@named
def transpose(x, axes):
    """Permute the axes: ``y.shape[i] = x.shape[axes[i]]``.

    Args:
        x (Variable): Input.
        axes (tuple of int): A permutation of the axes.

    Returns:
        Variable: The transposed array.
    """
    return Transpose(axes)(x)


@named
def broadcast(x, shape):
    """Broadcast size-1 dimensions (and new leading ones) to ``shape``.

    Args:
        x (Variable): Input.
        shape (tuple of int): Target shape.

    Returns:
        Variable: Shape ``shape``; the gradient sums over the broadcast axes.
    """
    return Broadcast(shape)(x)


@named
def broadcast_to(x, y, axis=None):
    """Legacy broadcast: ``y`` repeated to the shape of ``x``, aligned at ``axis``.

    ``y.shape`` must equal ``x.shape[axis:axis + y.ndim]``; axis None (-1) aligns
    y with the trailing axes of x. Not differentiable (as in NNabla).

    Args:
        x (Variable): Gives the output shape.
        y (Variable): The values to broadcast.
        axis (int): First axis of x that y's axes match.

    Returns:
        Variable: Shape ``x.shape``.
    """
    return BroadcastTo(-1 if axis is None else axis)(x, y)


@named
def concatenate(*x, axis=None):
    """Join arrays along an existing axis.

    Args:
        *x (Variable): Inputs with equal shapes except along ``axis``.
        axis (int): Axis to join along; default the last (``len(x[0].shape) - 1``).

    Returns:
        Variable: The joined array.
    """
    require("Concatenate", len(x) >= 1, "needs at least one input")
    if axis is None:
        axis = len(input_shape("concatenate", x[0], "x[0]")) - 1
    return Concatenate(axis)(*x)


@named
def split(x, axis=0):
    """Split into ``x.shape[axis]`` arrays along ``axis``, removing that axis.

    Args:
        x (Variable): Input.
        axis (int): Axis to split along.

    Returns:
        tuple of Variable: One per index along ``axis``.
    """
    return Split(axis)(x)


@named
def stack(*x, axis=0):
    """Join same-shape arrays along a new axis.

    Args:
        *x (Variable): Inputs of one shape.
        axis (int): Position of the new axis.

    Returns:
        Variable: Shape with ``len(x)`` inserted at ``axis``.
    """
    return Stack(axis)(*x)


@named
def slice(x, start=None, stop=None, step=None):
    """Strided slice ``x[start:stop:step]`` per axis (Python slice semantics).

    Shorter tuples apply to the trailing axes; None entries mean the slice default.

    Args:
        x (Variable): Input.
        start (tuple of int): First index per axis (default 0).
        stop (tuple of int): End index per axis, exclusive (default the size).
        step (tuple of int): Step per axis, may be negative (default 1).

    Returns:
        Variable: The slice.
    """
    return Slice(None if start is None else list(start), None if stop is None else list(stop),
                 None if step is None else list(step))(x)


@named
def shape(x, start=None, end=None):
    """The shape of ``x`` (from ``start`` to ``end``; end 0 means to the last) as a 1-D array.

    Args:
        x (Variable): Input.
        start (int): First axis.
        end (int): Stop axis (exclusive); 0 means all remaining axes.

    Returns:
        Variable: 1-D float32 array of sizes.
    """
    return Shape(0 if start is None else start, 0 if end is None else end)(x)


@named
def meshgrid(*x, ij_indexing=False):
    """Coordinate grids from 1-D arrays (numpy.meshgrid).

    Args:
        *x (Variable): 1-D inputs.
        ij_indexing (bool): Matrix ('ij') indexing; default Cartesian ('xy').

    Returns:
        tuple of Variable: One grid per input (a Variable for one input).
    """
    grids = Meshgrid(ij_indexing)(*x)
    return grids[0] if len(x) == 1 else grids  # one grid: the Variable itself, as NNabla


@named
def assign(dst, src):
    """Copy ``src`` into ``dst``'s data during forward and output it.

    The gradient passes through to ``dst``; ``src`` gets none (as in NNabla).

    Args:
        dst (Variable): Destination, written in place.
        src (Variable): Values, same shape.

    Returns:
        Variable: The assigned values.
    """
    return Assign()(dst, src)


@named
def clip_by_value(x, min, max):
    """Clip values into [min, max]: ``y = minimum(maximum(x, min), max)``.

    Args:
        x (Variable): Input.
        min (float or Variable): Lower bound (broadcastable).
        max (float or Variable): Upper bound (broadcastable).

    Returns:
        Variable: The clipped values.
    """
    from . import logical as L
    lo = L.maximum_scalar(x, min) if np.isscalar(min) else L.maximum2(x, min)
    return L.minimum_scalar(lo, max) if np.isscalar(max) else L.minimum2(lo, max)


@named
def clip_by_norm(x, clip_norm, axis=None):
    """Rescale so the L2 norm over ``axis`` is at most ``clip_norm``.

    .. math:: y = x \\cdot \\frac{c}{\\max(\\|x\\|_2, c)}

    Args:
        x (Variable): Input.
        clip_norm (float or Variable): The maximum norm (> 0).
        axis (None, int or tuple of ints): Axes of the norm; None means all.

    Returns:
        Variable: The rescaled values.
    """
    from . import logical as L
    from .reduction import sum as reduce_sum_axes
    if not isinstance(x, (Variable, NdArray)):  # a composite: its parts would see None or
        # a raw array (an NdArray goes through: each part computes it at once)
        require("clip_by_norm", x is not None, "x is None; expected a Variable", TypeError)
        x = as_variable(x, "clip_by_norm")
    if np.isscalar(clip_norm):
        require("clip_by_norm", clip_norm > 0, f"clip_norm={clip_norm} must be > 0")
    axes = tuple(range(len(x.shape))) if axis is None else axis
    norm = reduce_sum_axes(x * x, axes, keepdims=True) ** 0.5
    if np.isscalar(clip_norm):
        return x * clip_norm / L.maximum_scalar(norm, clip_norm)
    return x * clip_norm / L.maximum2(norm, clip_norm)


@named
def dot(a, b, out=None):
    """numpy.dot: inner product of 1-D arrays, matrix product of 2-D ones.

    N-D ``a`` with 1-D ``b`` sums over the last axis of a; N-D with M-D
    contracts a's last axis with b's second-to-last.

    Args:
        a (Variable): Left operand.
        b (Variable): Right operand.
        out (Variable or NdArray): Where to put the product (NNabla's): an NdArray
            receives its values, a Variable becomes the product's output (its
            forward computes it); dot then returns None.

    Returns:
        Variable: The product (None with ``out``).
    """
    a, b = (x if isinstance(x, (Variable, NdArray)) else as_variable(x, "dot") for x in (a, b))
    y = _dot(a, b)
    if out is None:
        return y
    require("dot", isinstance(out, (Variable, NdArray)) and tuple(out.shape) == tuple(y.shape),
            f"out must be a Variable or NdArray of the product's shape {tuple(y.shape)}, got "
            f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}", TypeError)
    if isinstance(out, Variable) and isinstance(y, Variable):
        out.rewire_on(y)
    else:
        if isinstance(y, Variable):
            y.forward()
            y = y.data
        (out.data if isinstance(out, Variable) else out).copy_from(y)
    return None


def _dot(a, b):
    """dot's product, built from affine / sum / reshape (as Variables or NdArrays)."""
    from .layers import affine
    from .reduction import sum as reduce_sum_axes
    if len(a.shape) == 0 or len(b.shape) == 0:
        return a * b
    if len(a.shape) == 1 and len(b.shape) == 1:
        return reduce_sum_axes(a * b)
    if len(b.shape) == 1:
        return reduce_sum_axes(a * b, axis=len(a.shape) - 1)
    if len(b.shape) == 2:
        if len(a.shape) == 1:
            return reshape(affine(reshape(a, (1, -1)), b), (b.shape[1],))
        return affine(a, b, base_axis=len(a.shape) - 1)
    # b is N-D (N > 2): move b's contracted axis first and flatten the rest.
    k = b.shape[-2]
    perm = (len(b.shape) - 2,) + tuple(range(len(b.shape) - 2)) + (len(b.shape) - 1,)
    flat = reshape(transpose(b, perm), (k, -1))
    rows = a if len(a.shape) > 1 else reshape(a, (1, -1))
    y = affine(rows, flat, base_axis=len(rows.shape) - 1)
    shape_out = a.shape[:-1] + b.shape[:-2] + b.shape[-1:]
    return reshape(y, shape_out)
