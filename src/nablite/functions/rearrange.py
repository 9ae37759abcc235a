"""Rearranging elements without changing the rank: pad, tile, flip, shift.

(Reshaping, joining, splitting and slicing are in array.py.)
"""
import numpy as np

from .array import _pyslice, _trailing, input_shape
from .base import Function, keep_args, node_constant, normalize_axes, require, contiguous, named

__all__ = ["pad", "tile", "flip", "shift"]


class Pad(Function):
    @property
    def linear(self):  # nn.grad: padding with a non-zero constant is affine, not linear
        return self.mode != "constant" or self.constant_value == 0

    def grad_graph(self, need, xs, ys, gys):
        if self.linear:
            return None  # the adjoint (nn.grad's rule for linear functions)
        from ..grad import adjoint_node, detached_copy
        zero_pad = detached_copy(self)  # affine: the gradient is its linear part's
        zero_pad.constant_value = 0
        return adjoint_node(zero_pad, need, gys)

    def __init__(self, pad_width, mode='constant', constant_value=0):
        keep_args(self, locals())

    def setup(self, x):
        pw = [int(p) for p in self.pad_width]
        require(self, len(pw) % 2 == 0 and len(pw) // 2 <= len(x),
                f"pad_width={tuple(pw)} must hold (before, after) pairs for at most "
                f"the {len(x)} axes of {x}")
        require(self, all(p >= 0 for p in pw), f"pad_width={tuple(pw)} must be non-negative")
        require(self, self.mode in ("constant", "reflect", "repeat"),
                f"mode={self.mode!r} must be 'constant', 'reflect' or 'repeat'")
        pairs = [(0, 0)] * (len(x) - len(pw) // 2) + list(zip(pw[0::2], pw[1::2]))
        if self.mode == "reflect":
            require(self, all(s > 1 or (a, b) == (0, 0) for s, (a, b) in zip(x, pairs)),
                    f"mode='reflect' needs at least 2 elements on every padded axis, got {x}")
        if self.mode == "repeat":
            empty = [i for i, (s, p) in enumerate(zip(x, pairs)) if s == 0 and p != (0, 0)]
            require(self, not empty,
                    f"mode='repeat' pads axis {empty[0] if empty else 0} of x {x}, which is "
                    "empty: there is no edge value to repeat; expected at least 1 element on "
                    "every padded axis (or mode='constant')")
        self._pairs = pairs
        self.pad_width = pw
        self._constants = {}  # the index maps per array module (_index_maps)
        return tuple(s + a + b for s, (a, b) in zip(x, pairs))

    def _maps(self, shape):
        """Per padded axis, the input position each output position reads."""
        np_mode = "reflect" if self.mode == "reflect" else "edge"
        return [(ax, np.pad(np.arange(n), pair, mode=np_mode))
                for ax, (n, pair) in enumerate(zip(shape, self._pairs)) if pair != (0, 0)]

    def forward(self, xp, x):
        if self.mode == "constant":
            if not self._pairs:  # a 0-d input: nothing to pad (numpy's pad needs an axis)
                return x.copy()
            # a host scalar of x's dtype: CuPy's pad reads constant_values on the host
            return xp.pad(x, self._pairs, mode="constant",
                          constant_values=x.dtype.type(self.constant_value))
        for ax, index in _index_maps(self, xp, x.shape):
            x = xp.take(x, index, axis=ax)
        return x

    def backward(self, xp, xs, ys, gys):
        g = gys[0]
        if self.mode == "constant":
            key = tuple(_pyslice(a, a + n) for n, (a, b) in zip(xs[0].shape, self._pairs))
            return (g[key],)
        for ax, index in reversed(_index_maps(self, xp, xs[0].shape)):
            g = _take_grad(xp, g, index, xs[0].shape[ax], ax)
        return (g,)


def _index_maps(fn, xp, shape):
    """``fn._maps(shape)`` (Pad's, Shift's) with the indices as arrays of ``xp``,
    made once per node and module: no host-to-device copy per forward."""
    return node_constant(fn, xp, shape,
                         lambda: [(ax, xp.asarray(index)) for ax, index in fn._maps(shape)])


def _take_grad(xp, g, index, n, axis):
    """Gradient of ``take(x, index, axis)``: sum g over the outputs that read each input.

    A (len(index), n) one-hot matrix makes this one BLAS product along the axis.
    ``index`` is an array of ``xp``.
    """
    onehot = xp.zeros((len(index), n), dtype=g.dtype)
    onehot[xp.arange(len(index)), index] = 1
    moved = xp.moveaxis(g, axis, -1)
    return contiguous(xp, xp.moveaxis(moved @ onehot, -1, axis))


class Tile(Function):
    linear = True  # nn.grad: its gradient is its adjoint
    def __init__(self, reps):
        self.reps = reps

    def setup(self, x):
        reps = [int(r) for r in ([self.reps] if np.isscalar(self.reps) else self.reps)]
        require(self, all(r >= 1 for r in reps), f"reps={tuple(reps)} must be positive")
        n = max(len(reps), len(x))
        self._reps = [1] * (n - len(reps)) + reps
        self._xshape = (1,) * (n - len(x)) + tuple(x)
        self.reps = reps
        return tuple(r * s for r, s in zip(self._reps, self._xshape))

    def forward(self, xp, x):
        return xp.tile(x, self._reps)

    def backward(self, xp, xs, ys, gys):
        split = [d for r, s in zip(self._reps, self._xshape) for d in (r, s)]
        g = gys[0].reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return (g.reshape(xs[0].shape),)


class Flip(Function):
    linear = True  # nn.grad: its gradient is its adjoint
    def __init__(self, axes):
        self.axes = axes

    def setup(self, x):
        axes = list(normalize_axes(self, self.axes, len(x), "axes"))
        require(self, len(x) >= 1 or not axes,
                f"axes={self.axes!r} of a 0-d input (shape ()); expected an input with at "
                "least one axis")
        self.axes = axes
        return x

    def forward(self, xp, x):
        return contiguous(xp, xp.flip(x, tuple(self.axes)))

    def backward(self, xp, xs, ys, gys):
        return (contiguous(xp, xp.flip(gys[0], tuple(self.axes))),)


class Shift(Function):
    """y[i] = x[i - shift] per trailing axis, borders filled by 'nearest' or 'reflect'."""

    def __init__(self, shifts, border_mode='nearest'):
        self.shifts = shifts
        self.border_mode = border_mode

    def setup(self, x):
        require(self, len(self.shifts) <= len(x),
                f"shifts={tuple(self.shifts)} has more entries than the {len(x)} axes of {x}")
        require(self, self.border_mode in ("nearest", "reflect"),
                f"border_mode={self.border_mode!r} must be 'nearest' or 'reflect'")
        self.shifts = [int(s) for s in self.shifts]
        self._constants = {}  # the index maps per array module (_index_maps)
        return x

    def _maps(self, shape):
        out = []
        for ax, s in enumerate(_trailing(self.shifts, len(shape), 0)):
            if s:
                n = shape[ax]
                src = np.arange(n) - s
                if self.border_mode == "nearest":
                    src = np.clip(src, 0, n - 1)
                else:  # mirror including the edge: -1 -> 0, -2 -> 1, n -> n-1
                    period = 2 * n
                    src = np.mod(src, period)
                    src = np.where(src >= n, period - 1 - src, src)
                out.append((ax, src))
        return out

    def forward(self, xp, x):
        maps = _index_maps(self, xp, x.shape)
        for ax, index in maps:
            x = xp.take(x, index, axis=ax)
        return x if maps else x.copy()

    def backward(self, xp, xs, ys, gys):
        g = gys[0]
        for ax, index in reversed(_index_maps(self, xp, xs[0].shape)):
            g = _take_grad(xp, g, index, xs[0].shape[ax], ax)
        return (g,)


@named
def pad(x, pad_width, mode='constant', constant_value=0):
    """Pad the trailing axes.

    Args:
        x (Variable): Input.
        pad_width (tuple of int): (before, after) pairs for the last len/2 axes.
        mode (str): 'constant' (constant_value), 'reflect' (mirror without the
            edge) or 'repeat' (repeat the edge value).
        constant_value (float): Fill value for 'constant'.

    Returns:
        Variable: The padded array.
    """
    return Pad(list(pad_width), mode, constant_value)(x)


@named
def tile(x, reps):
    """Repeat the array ``reps`` times per axis (numpy.tile semantics).

    Args:
        x (Variable): Input.
        reps (int or tuple of int): Repetitions per (trailing) axis.

    Returns:
        Variable: The tiled array.
    """
    return Tile(reps)(x)


@named
def flip(x, axes=None):
    """Reverse the order of elements along ``axes`` (default the last axis).

    Args:
        x (Variable): Input.
        axes (tuple of int): Axes to reverse.

    Returns:
        Variable: The flipped array.
    """
    return Flip([len(input_shape("flip", x)) - 1] if axes is None else axes)(x)


@named
def shift(x, shifts=None, border_mode='nearest'):
    """Shift elements along the trailing axes: ``y[i] = x[i - shift]``.

    Args:
        x (Variable): Input.
        shifts (tuple of int): Shift per trailing axis (default none).
        border_mode (str): 'nearest' repeats the edge; 'reflect' mirrors it.

    Returns:
        Variable: Same shape as ``x``.
    """
    if shifts is None:
        shifts = (0,) * len(input_shape("shift", x))
    return Shift(tuple(shifts), border_mode)(x)
