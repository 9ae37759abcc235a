"""Pooling: max, average, sum over sliding windows; global average; unpooling;
max_pooling_backward (the gradient of max pooling as a function of dy: linear in
dy, so it has a gradient w.r.t. dy; none w.r.t. x).

Windowed pooling loops only over the prod(kernel) offsets inside a window; each
step is one vectorized operation over every window of the whole batch (a
strided slice of the padded input). Window geometry follows NNabla exactly:
  ignore_border=True:  O = trunc((S + 2 pad - k) / stride) + 1
  ignore_border=False: O = (S + pad - 1) // stride + 1   (partial windows kept)
and a window starting at ``o * stride - pad`` covers at most up to ``S + pad``.
"""
from ..backend import on_host, scatter_add
from .base import Function, keep_args, require, prod, named
from ._conv_utils import pad_spatial, offset_slices, kernel_offsets

# Max pooling works on blocks of the batch this size (see _batch_blocks).
_BLOCK_BYTES = 256 << 10

__all__ = ["max_pooling", "average_pooling", "sum_pooling", "global_average_pooling", "unpooling",
           "max_pooling_backward"]


def _to_last(a, d):
    """(..., *S, C) -> (..., C, *S) view: channel_last inputs pool over the same axes."""
    n = a.ndim
    return a.transpose(tuple(range(n - d - 1)) + (n - 1,) + tuple(range(n - d - 1, n - 1)))


def _from_last(a, d):
    n = a.ndim
    return a.transpose(tuple(range(n - d - 1)) + tuple(range(n - d, n)) + (n - d - 1,))


class _WindowPooling(Function):
    """Geometry and layout shared by max, average and sum pooling."""

    def __init__(self, kernel, stride=None, ignore_border=True, pad=None, channel_last=False):
        keep_args(self, locals())

    def setup(self, x):
        kernel = self.kernel
        kernel = [int(kernel)] if isinstance(kernel, int) else [int(k) for k in kernel]
        d = len(kernel)
        require(self, d >= 1 and min(kernel) >= 1, f"kernel={self.kernel} must be positive")
        stride = kernel if self.stride is None else self.stride
        stride = [int(stride)] * d if isinstance(stride, int) else [int(s) for s in stride]
        pad = [0] * d if self.pad is None else self.pad
        pad = [int(pad)] * d if isinstance(pad, int) else [int(p) for p in pad]
        require(self, len(stride) == d and len(pad) == d,
                f"stride={self.stride} and pad={self.pad} must have {d} entries like "
                f"kernel={self.kernel}")
        require(self, min(stride) >= 1 and min(pad) >= 0,
                f"stride={stride} must be >= 1 and pad={pad} >= 0")
        need = d + 1 if self.channel_last else d
        require(self, len(x) >= need, f"x {x} has fewer than the {need} dimensions that "
                f"kernel={self.kernel} (channel_last={self.channel_last}) needs")
        self.kernel, self.stride, self.pad = kernel, stride, pad
        spatial = tuple(x[len(x) - d - 1:-1] if self.channel_last else x[len(x) - d:])
        out = []
        for s, k, st, p in zip(spatial, kernel, stride, pad):
            if self.ignore_border:
                o = int((s + 2 * p - k) / st) + 1  # C++ division truncates toward zero
            else:
                o = (s + p - 1) // st + 1
            require(self, o >= 1, f"kernel={kernel} with pad={pad} gives no window over "
                    f"spatial size {spatial} of x {x}")
            out.append(o)
        self._spatial, self._out = spatial, tuple(out)
        # Right padding so that every window lies inside the padded array.
        self._hi = tuple(max(0, (o - 1) * st + k - s - p)
                         for o, st, k, s, p in zip(out, stride, kernel, spatial, pad))
        lead = tuple(x[:len(x) - d - 1]) if self.channel_last else tuple(x[:len(x) - d])
        if self.channel_last:
            return lead + tuple(out) + (x[-1],)
        return lead + tuple(out)

    def _slices(self):
        ones = (1,) * len(self.kernel)
        for offset in kernel_offsets(self.kernel):
            yield (Ellipsis,) + offset_slices(offset, self.stride, ones, self._out)

    def _padded(self, xp, x, value=0):
        if self.channel_last:
            x = _to_last(x, len(self.kernel))
        return pad_spatial(xp, x, self.pad, self._hi, value)

    def _unpadded(self, gxpad):
        d = len(self.kernel)
        gx = gxpad[(Ellipsis,) + tuple(slice(p, p + s) for p, s in zip(self.pad, self._spatial))]
        return _from_last(gx, d) if self.channel_last else gx

    def _output(self, y):
        return _from_last(y, len(self.kernel)) if self.channel_last else y

    def _batch_blocks(self, xp, xpad):
        """Index tuples cutting xpad into blocks of about _BLOCK_BYTES along the
        leading (not pooled) axis that is outermost in memory (the batch of an
        (N, C, H, W) array, the channels of a batch-last one). Each of the
        prod(kernel) strided passes then reads a block still in the L2 cache
        instead of the whole input from memory (2-3x faster for 2x2 windows over
        a few MB). One block when there is no leading axis or off NumPy."""
        lead = xpad.ndim - len(self.kernel)
        if lead == 0 or not on_host(xp):
            return [(Ellipsis,)]
        axis = max(range(lead), key=lambda i: abs(xpad.strides[i]))
        per = max(1, xpad.nbytes // max(1, xpad.shape[axis]))
        nb = max(1, _BLOCK_BYTES // per)
        return [(slice(None),) * axis + (slice(i, i + nb),)
                for i in range(0, xpad.shape[axis], nb)]

    def _disjoint(self):
        return all(s >= k for s, k in zip(self.stride, self.kernel))


class _SumLikePooling(_WindowPooling):
    """sum of each window, divided by ``_divisor`` (1 for sum pooling)."""

    def _divisor(self, xp, dtype):
        return None

    def _whole(self):
        """One window covering all of the pooled axes (global pooling)."""
        return tuple(self.kernel) == self._spatial and not any(self.pad)

    def forward(self, xp, x):
        if self._whole():
            d = len(self.kernel)
            xs = _to_last(x, d) if self.channel_last else x
            y = xs.reshape(xs.shape[:xs.ndim - d] + (-1,)).sum(axis=-1, dtype=x.dtype)
            div = self._divisor(xp, x.dtype)
            if div is not None:
                y /= div
            return self._output(y.reshape(y.shape + (1,) * d))
        xpad = self._padded(xp, x)
        y = None
        for sl in self._slices():
            y = xpad[sl].copy() if y is None else y.__iadd__(xpad[sl])
        div = self._divisor(xp, x.dtype)
        if div is not None:
            y /= div
        return self._output(y)

    def backward(self, xp, xs, ys, gys):
        x = xs[0]
        gy = gys[0]
        if self.channel_last:
            gy = _to_last(gy, len(self.kernel))
        div = self._divisor(xp, x.dtype)
        if div is not None:
            gy = gy / div
        shape = (x.shape if not self.channel_last else _to_last(x, len(self.kernel)).shape)
        if self._whole():
            gx = xp.empty(shape, dtype=gy.dtype)
            gx[...] = gy
            return (_from_last(gx, len(self.kernel)) if self.channel_last else gx,)
        padded = shape[:len(shape) - len(self.kernel)] + tuple(
            s + p + h for s, p, h in zip(self._spatial, self.pad, self._hi))
        gxpad = xp.zeros(padded, dtype=gy.dtype)
        disjoint = self._disjoint()
        for sl in self._slices():
            if disjoint:
                gxpad[sl] = gy
            else:
                gxpad[sl] += gy
        return (self._unpadded(gxpad),)


class SumPooling(_SumLikePooling):
    """Sum over sliding windows."""
    linear = True  # nn.grad: its gradient is its adjoint


class AveragePooling(_SumLikePooling):
    """Mean over sliding windows; including_pad decides what the mean divides by."""
    linear = True  # nn.grad: its gradient is its adjoint

    def __init__(self, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
                 including_pad=True):
        super().__init__(kernel, stride, ignore_border, pad, channel_last)
        self.including_pad = including_pad

    def setup(self, x):
        out = super().setup(x)
        # Window sizes, from the geometry alone: separable, one count per output
        # position of each axis. Kept as Python ints; forward gets them as an
        # array of its module and dtype once (_div_arrays).
        self._counts = []
        for o, s, k, st, p in zip(self._out, self._spatial, self.kernel, self.stride, self.pad):
            start = [i * st - p for i in range(o)]
            end = [min(a + k, s + p) for a in start]
            self._counts.append([b - a for a, b in zip(start, end)] if self.including_pad
                                else [min(b, s) - max(a, 0) for a, b in zip(start, end)])
        self._uniform = all(c == k for cs, k in zip(self._counts, self.kernel) for c in cs)
        self._div_arrays = {}
        return out

    def _divisor(self, xp, dtype):
        if self._uniform:
            return float(prod(self.kernel))
        div = self._div_arrays.get((xp, dtype))
        if div is None:
            for i, counts in enumerate(self._counts):
                c = xp.asarray(counts).reshape((-1,) + (1,) * (len(self._counts) - i - 1))
                div = c if div is None else div * c
            div = self._div_arrays[(xp, dtype)] = div.astype(dtype)
        return div


class MaxPooling(_WindowPooling):
    """Max over sliding windows; the gradient goes to the first maximum of each window."""

    def grad_graph(self, need, xs, ys, gys):
        # gx = max_pooling_backward(gy, x): linear in gy, piecewise constant in x
        return [max_pooling_backward(gys[0], xs[0], self.kernel, self.stride, self.ignore_border,
                                     self.pad, self.channel_last)]

    def forward(self, xp, x):
        xpad = self._padded(xp, x, -xp.inf)
        slices = list(self._slices())
        y = xp.empty_like(xpad[slices[0]])  # x's memory order (a batch-last x stays so)
        for b in self._batch_blocks(xp, xpad):
            xb, yb = xpad[b], y[b]
            xp.copyto(yb, xb[slices[0]])
            for sl in slices[1:]:
                xp.maximum(yb, xb[sl], out=yb)
        return self._output(y)

    def backward(self, xp, xs, ys, gys):
        d = len(self.kernel)
        xpad = self._padded(xp, xs[0], -xp.inf)
        y, gy = ys[0], gys[0]
        if self.channel_last:
            y, gy = _to_last(y, d), _to_last(gy, d)
        if self._disjoint():
            return (self._unpadded(self._disjoint_backward(xp, xpad, y, gy)),)
        # Which offset holds each window's first maximum: walk the offsets backwards
        # and overwrite on every hit. Arithmetic blends (arg += hit * (i - arg)) are
        # far faster than masked writes on unpredictable masks.
        slices = list(self._slices())
        arg_type = xp.int8 if len(slices) < 128 else xp.int32
        arg = xp.zeros(y.shape, dtype=arg_type)
        for i in range(len(slices) - 1, -1, -1):
            hit = (xpad[slices[i]] == y).astype(arg_type, copy=False)
            hit *= arg_type(i) - arg
            arg += hit
        padded = xpad.shape[xpad.ndim - d:]
        lead = xpad.shape[:xpad.ndim - d]
        # Flat index into the padded input of every window's winning element:
        # window origin (batch part + strided spatial part) + offset of the winner.
        size = prod(padded)
        total = prod(lead) * size
        itype = xp.int32 if total < 2 ** 31 else xp.int64
        index = xp.arange(prod(lead), dtype=itype).reshape(lead + (1,) * d) * itype(size)
        step = size
        offsets = xp.zeros(1, dtype=itype)
        for i in range(d):
            step //= padded[i]
            origin = xp.arange(self._out[i], dtype=itype) * itype(self.stride[i] * step)
            index = index + origin.reshape((-1,) + (1,) * (d - 1 - i))
            offsets = (offsets[:, None] + xp.arange(self.kernel[i], dtype=itype) *
                       itype(step)).reshape(-1)
        index += offsets[arg]
        index = index.reshape(-1)
        if self._disjoint():
            # Each input element wins at most one window: plain assignment.
            gxpad = xp.zeros(total, dtype=gy.dtype)
            gxpad[index] = gy.reshape(-1)
        else:
            gxpad = scatter_add(xp, xp.zeros(total, dtype=gy.dtype), index, gy.reshape(-1))
        return (self._unpadded(gxpad.reshape(lead + padded)),)


    def _disjoint_backward(self, xp, xpad, y, gy):
        """Windows that do not overlap: every input element is in at most one window,
        so each offset's share is written straight into its strided slice, with
        no index arithmetic: first-hit masks in window order (first maximum wins)."""
        slices = list(self._slices())
        # Windows that tile the padded input exactly cover every element.
        padded = xpad.shape[xpad.ndim - len(self._out):]
        covered = all(s == k and o * k == p
                      for s, k, o, p in zip(self.stride, self.kernel, self._out, padded))
        gxpad = (xp.empty_like if covered else xp.zeros_like)(xpad, dtype=gy.dtype)
        if gy.strides != y.strides:
            # A gradient in another memory order (from an affine layer, say) would
            # make every pass below a transposing one: one copy into y's order.
            same = xp.empty_like(y, dtype=gy.dtype)
            same[...] = gy
            gy = same
        for b in self._batch_blocks(xp, xpad):
            xb, yb, gyb, gxb = xpad[b], y[b], gy[b], gxpad[b]
            free = None  # windows whose maximum is not yet found
            hit = xp.empty_like(yb, dtype=bool)
            for sl in slices:
                xp.equal(xb[sl], yb, out=hit)
                if free is None:
                    free = ~hit
                else:
                    hit &= free
                    free ^= hit
                xp.multiply(hit, gyb, out=gxb[sl])
            # NaN windows (no element equals the max): offset 0, as NNabla. Off the
            # CPU the add runs always: testing first would wait for the device.
            if not on_host(xp) or free.any():
                gxb[slices[0]] += free * gyb
        return gxpad


class GlobalAveragePooling(Function):
    """Mean over every axis after the channel axis 1; output (N, C, 1, 1)."""
    linear = True  # nn.grad: its gradient is its adjoint

    grad_reads_outputs = False

    def setup(self, x):
        require(self, len(x) >= 2, f"x {x} must have at least 2 dimensions (N, C, ...)")
        return (x[0], x[1], 1, 1)

    def forward(self, xp, x):
        # Reduce the axes in place rather than through a reshape, which would copy
        # an x that is not C-contiguous (a convolution's batch-last result).
        y = x.mean(axis=tuple(range(2, x.ndim)), dtype=x.dtype)
        return y.reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        x = xs[0]
        count = prod(x.shape[2:])
        # In x's memory order, so the activation gradient it meets next is alike.
        gx = xp.empty_like(x, dtype=gys[0].dtype)
        gx[...] = gys[0].reshape(gys[0].shape[:2] + (1,) * (x.ndim - 2))
        gx *= 1.0 / count
        return (gx,)


class Unpooling(Function):
    """Nearest-neighbour upsampling: every element repeated kernel[i] times along axis i."""
    linear = True  # nn.grad: its gradient is its adjoint

    def __init__(self, kernel, channel_last=False):
        self.kernel = kernel
        self.channel_last = channel_last

    def setup(self, x):
        kernel = [int(self.kernel)] if isinstance(self.kernel, int) else [
            int(k) for k in self.kernel]
        d = len(kernel)
        require(self, d >= 1 and min(kernel) >= 1, f"kernel={self.kernel} must be positive")
        need = d + 1 if self.channel_last else d
        require(self, len(x) >= need, f"x {x} has fewer than the {need} dimensions that "
                f"kernel={self.kernel} (channel_last={self.channel_last}) needs")
        self.kernel = kernel
        first = len(x) - need
        self._first = first
        return tuple(x[:first]) + tuple(s * k for s, k in zip(x[first:first + d], kernel)) + \
            tuple(x[first + d:])

    def _interleaved(self, shape):
        """shape with a unit axis after each pooled axis: (..., S0, 1, S1, 1, ...)."""
        f, d = self._first, len(self.kernel)
        out = list(shape[:f])
        for s in shape[f:f + d]:
            out += [s, 1]
        return tuple(out) + tuple(shape[f + d:])

    def forward(self, xp, x):
        f = self._first
        expanded = list(self._interleaved(x.shape))
        for i, k in enumerate(self.kernel):
            expanded[f + 2 * i + 1] = k
        y = xp.broadcast_to(x.reshape(self._interleaved(x.shape)), tuple(expanded))
        return y.reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        x = xs[0]
        f, d = self._first, len(self.kernel)
        split = list(self._interleaved(x.shape))
        for i, k in enumerate(self.kernel):
            split[f + 2 * i + 1] = k
        g = gys[0].reshape(split).sum(axis=tuple(f + 2 * i + 1 for i in range(d)))
        return (g,)


@named
def max_pooling(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
                n_outputs=-1, outputs=None):
    """Max pooling over the last len(kernel) axes (those before the channel if channel_last).

    .. math:: y_{\\mathbf{o}} = \\max_{\\mathbf{k}} x_{\\mathbf{o} s + \\mathbf{k} - p}

    Padding never wins a maximum. On ties the gradient goes to the first element
    of the window (row-major order), as in NNabla.

    Args:
        x (Variable): input.
        kernel (tuple of int): window size.
        stride (tuple of int): window step (default: kernel).
        ignore_border (bool): drop (True) or keep (False) partial windows at the end.
        pad (tuple of int): padding on both sides of each axis (default 0).
        channel_last (bool): the last axis is the channel axis.

    Returns:
        Variable: pooled output.
    """
    return MaxPooling(kernel, stride, ignore_border, pad, channel_last)(
        x, n_outputs=n_outputs, outputs=outputs)


@named
def average_pooling(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
                    including_pad=True, n_outputs=-1, outputs=None):
    """Average pooling over the last len(kernel) axes.

    With including_pad=True the mean divides by the window size clipped to the
    padded input (padding counts as zeros); with False, by the number of real
    input elements in the window.

    Args:
        x, kernel, stride, ignore_border, pad, channel_last: As in :func:`max_pooling`.
        including_pad (bool): count padding in the window size.

    Returns:
        Variable: pooled output.
    """
    return AveragePooling(kernel, stride, ignore_border, pad, channel_last, including_pad)(
        x, n_outputs=n_outputs, outputs=outputs)


@named
def sum_pooling(x, kernel, stride=None, ignore_border=True, pad=None, channel_last=False,
                n_outputs=-1, outputs=None):
    """Sum pooling over the last len(kernel) axes (arguments as :func:`max_pooling`).

    Returns:
        Variable: pooled output.
    """
    return SumPooling(kernel, stride, ignore_border, pad, channel_last)(
        x, n_outputs=n_outputs, outputs=outputs)


@named
def global_average_pooling(x, n_outputs=-1, outputs=None):
    """Mean over all axes after axis 1.

    Args:
        x (Variable): (N, C, ...).

    Returns:
        Variable: (N, C, 1, 1).
    """
    return GlobalAveragePooling()(x, n_outputs=n_outputs, outputs=outputs)


@named
def unpooling(x, kernel, channel_last=False, n_outputs=-1, outputs=None):
    """Upsampling by repetition: each element is copied kernel[i] times along axis i.

    Args:
        x (Variable): input; the last len(kernel) axes (before the channel axis if
            channel_last) are upsampled.
        kernel (tuple of int): repetition factor per axis.
        channel_last (bool): the last axis is the channel axis.

    Returns:
        Variable: upsampled output.
    """
    return Unpooling(kernel, channel_last)(x, n_outputs=n_outputs, outputs=outputs)


class MaxPoolingBackward(Function):
    """dx = the gradient of max_pooling(x) for output gradient dy (first maximum wins)."""

    grad_reads_outputs = False

    __init__ = _WindowPooling.__init__  # the pooling's own arguments

    def setup(self, dy, x):
        pooled = _own_pooling(self, x)
        require(self, tuple(dy) == tuple(pooled),
                f"dy {dy} must have the max-pooled shape {pooled} of x {x}")
        return x

    def forward(self, xp, dy, x):
        pool = self._pool
        return pool.backward(xp, [x], [pool.forward(xp, x)], [dy])[0]

    def backward(self, xp, xs, ys, gys):
        if not self.need[0]:
            return None, None
        return _gather_at_maxima(self._pool, xp, gys[0], xs[1]), None

    def grad_graph(self, need, xs, ys, gys):
        # Linear in dy, its gradient is the adjoint (a gather at the maxima), whose
        # gradient is this function again: every order is defined. x gets none.
        gather = MaxPoolingGather(self.kernel, self.stride, self.ignore_border, self.pad,
                                  self.channel_last)
        return [gather(gys[0], xs[1]) if need[0] else None, None]


def _own_pooling(fn, x):
    """Set up the MaxPooling of ``fn``'s arguments on x's shape as ``fn._pool``
    (its checks named after ``fn``); -> the pooled shape."""
    pool = fn._pool = MaxPooling(fn.kernel, fn.stride, fn.ignore_border, fn.pad,
                                 fn.channel_last)
    try:
        pooled = pool.setup(x)
    except ValueError as e:  # the same checks, named after this function
        raise ValueError(f"{fn.name}: {str(e).split(': ', 1)[-1]}") from None
    fn.kernel, fn.stride, fn.pad = pool.kernel, pool.stride, pool.pad
    return pooled


def _gather_at_maxima(pool, xp, g, x):
    """g (x's shape) read at each window's first maximum of x: the pooled shape."""
    d = len(pool.kernel)
    y = pool.forward(xp, x)
    if pool.channel_last:
        y = _to_last(y, d)
    xpad = pool._padded(xp, x, -xp.inf)
    gpad = pool._padded(xp, g, 0)
    slices = list(pool._slices())
    out = xp.zeros(y.shape, dtype=g.dtype)
    free = xp.ones(y.shape, dtype=bool)  # windows whose maximum is not yet found
    for sl in slices:
        hit = (xpad[sl] == y) & free
        free &= ~hit
        out += xp.where(hit, gpad[sl], 0)
    # NaN windows (no element equals the max) route to offset 0, as max_pooling does.
    out += xp.where(free, gpad[slices[0]], 0)
    return pool._output(out)


class MaxPoolingGather(Function):
    """g read at each pooling window's first maximum of x (max_pooling_backward's
    adjoint, a node of its higher-order gradients); linear in g, x gets none."""

    grad_reads_outputs = False

    __init__ = _WindowPooling.__init__

    def setup(self, g, x):
        pooled = _own_pooling(self, x)
        require(self, tuple(g) == tuple(x), f"g {g} must have the shape of x {x}")
        return pooled

    def forward(self, xp, g, x):
        return _gather_at_maxima(self._pool, xp, g, x)

    def backward(self, xp, xs, ys, gys):
        if not self.need[0]:
            return None, None
        pool = self._pool
        return pool.backward(xp, [xs[1]], [pool.forward(xp, xs[1])], [gys[0]])[0], None

    def grad_graph(self, need, xs, ys, gys):
        back = MaxPoolingBackward(self.kernel, self.stride, self.ignore_border, self.pad,
                                  self.channel_last)
        return [back(gys[0], xs[1]) if need[0] else None, None]


@named
def max_pooling_backward(dy, x, kernel, stride=None, ignore_border=True, pad=None,
                         channel_last=False, n_outputs=-1, outputs=None):
    """The gradient of ``max_pooling(x, ...)`` w.r.t. x for output gradient ``dy``.

    Each window's gradient goes to its first maximum (row-major order), as in
    :func:`max_pooling`. Being linear in dy, it is differentiable w.r.t. dy (which
    gives higher-order gradients of max pooling); x gets no gradient.

    Args:
        dy (Variable): gradient of the pooled output (its shape).
        x (Variable): the pooling input.
        kernel, stride, ignore_border, pad, channel_last: as for :func:`max_pooling`.

    Returns:
        Variable: dx, shaped like x.
    """
    return MaxPoolingBackward(kernel, stride, ignore_border, pad, channel_last)(
        dy, x, n_outputs=n_outputs, outputs=outputs)
