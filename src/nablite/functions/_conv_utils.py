"""Shared array plumbing for convolution and pooling: argument tuples, padding,
strided window views, im2col and col2im.

``ConvolutionFamily`` holds the shape checks and layout changes that the
(depthwise) (de)convolution functions in layers.py share.

Layouts (channel-first, batch flattened to one axis N, D spatial axes):
  x    (N, C, *S)        any strides: windows are views, never copies
  col  (C, *K, N, *O)    contiguous, so that ``w (OC, C*K) @ col (C*K, N*O)`` is ONE
                         BLAS product and its result (OC, N*O) is y with N and OC
                         swapped; swapping them back is a free transpose view.
col2im loops only over the prod(K) kernel offsets; each step is one strided add
over the whole batch.
"""
import itertools
import numbers
import weakref

from ..backend import on_host
from .base import Function, require, prod

__all__ = []

# Scratch arrays (column blocks, padded or transposed copies) are up to a few
# MB. A fresh allocation that large is mmap'ed and page-faulted in on every
# call, which costs about as much as filling it, so released scratch buffers are
# kept for the next call. A request takes the smallest free buffer that holds it
# (up to twice its size): one set of buffers then serves every layer's shapes,
# and the pool stays the size of the few buffers in use at once rather than one
# per shape. Only scratch goes here, never an array handed to the engine.
# Host (NumPy) memory only: another array module allocates from its own pool
# (CuPy's memory pool keeps freed device blocks for reuse already).
_free = {}      # dtype -> free flat buffers, ascending size
# Buffers handed out by take_scratch, by id; weak, so one never given back (a
# kept forward matrix whose backward never runs) is simply freed.
_lent = weakref.WeakValueDictionary()
_POOL_MAX_BYTES = 48 << 20
_pooled_bytes = 0


def take_scratch(xp, shape, dtype):
    """An uninitialised C-contiguous array of ``shape``, recycled when one is free."""
    global _pooled_bytes
    if not on_host(xp):
        return xp.empty(shape, dtype=dtype)
    size = prod(shape)
    free = _free.get(xp.dtype(dtype).str)
    flat = None
    if free:
        for i, buf in enumerate(free):
            if buf.size >= size:
                if buf.size <= 2 * size:
                    flat = free.pop(i)
                    _pooled_bytes -= flat.nbytes
                break
    if flat is None:
        flat = xp.empty(size, dtype=dtype)
    _lent[id(flat)] = flat
    return flat[:size].reshape(shape)


def give_scratch(xp, arr):
    """Return ``arr`` (from take_scratch, no longer referenced) for reuse."""
    global _pooled_bytes
    if arr is None or not on_host(xp):
        return
    flat = arr if arr.base is None else arr.base
    if _lent.pop(id(flat), None) is None or _pooled_bytes + flat.nbytes > _POOL_MAX_BYTES:
        return
    free = _free.setdefault(flat.dtype.str, [])
    i = 0
    while i < len(free) and free[i].size < flat.size:
        i += 1
    free.insert(i, flat)
    _pooled_bytes += flat.nbytes


def int_arg(fn, name, value):
    """An integer argument (2.0 is 2, as for shapes); anything else names ``fn``
    and ``name`` (was a raw "'<=' not supported" or a silent truncation of 1.5)."""
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)
    raise TypeError(f"{_name(fn)}: {name}={value!r} must be an integer, got "
                    f"{type(value).__name__}")


def _name(fn):
    return fn if isinstance(fn, str) else fn.name


def spatial_tuple(fn, name, value, n, default):
    """``value`` as a tuple of ``n`` ints (``default`` when None); errors name ``fn``."""
    if value is None:
        return (default,) * n
    if isinstance(value, numbers.Real):
        value = (value,)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{_name(fn)}: {name}={value!r} must be a tuple of {n} integers, "
                        f"one per spatial dimension")
    value = tuple(value)
    require(fn, len(value) == n, f"{name}={value} must have {n} entries, one per spatial "
            f"dimension")
    out = []
    for v in value:
        if isinstance(v, numbers.Real) and (isinstance(v, numbers.Integral)
                                            or float(v).is_integer()):
            out.append(int(v))
        else:
            raise TypeError(f"{_name(fn)}: {name}={value!r} must hold integers, got "
                            f"{type(v).__name__} {v!r}")
    return tuple(out)


def pad_spatial(xp, x, lo, hi, value=0):
    """x with its last len(lo) axes padded by lo before and hi after (a fresh array)."""
    if not any(lo) and not any(hi):
        return x
    d = len(lo)
    lead = x.shape[:x.ndim - d]
    shape = lead + tuple(s + a + b for s, a, b in zip(x.shape[x.ndim - d:], lo, hi))
    out = xp.full(shape, value, dtype=x.dtype) if value else xp.zeros(shape, dtype=x.dtype)
    out[(Ellipsis,) + tuple(slice(a, a + s) for a, s in zip(lo, x.shape[x.ndim - d:]))] = x
    return out


def window_view(xp, x, kernel, stride, dilation, out):
    """View x[..., *O, *K] of the windows over the last len(kernel) axes (read it only)."""
    d = len(kernel)
    spatial = x.strides[x.ndim - d:]
    shape = x.shape[:x.ndim - d] + tuple(out) + tuple(kernel)
    strides = (x.strides[:x.ndim - d] + tuple(st * s for st, s in zip(spatial, stride))
               + tuple(st * dl for st, dl in zip(spatial, dilation)))
    # Overlapping windows alias each other: callers only ever read this view.
    # (No writeable=False: CuPy's as_strided does not take it.)
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def offset_slices(offset, stride, dilation, out):
    """Slices over the last axes that pick, for kernel offset ``offset``, the input
    element each output position reads."""
    return tuple(slice(k * dl, k * dl + s * (o - 1) + 1, s)
                 for k, s, dl, o in zip(offset, stride, dilation, out))


def kernel_offsets(kernel):
    return itertools.product(*[range(k) for k in kernel])


def im2col(xp, x, kernel, pad, stride, dilation, out):
    """x (N, C, *S) -> col (C, *K, N, *O), contiguous, from the scratch pool."""
    d = len(kernel)
    xpad = pad_spatial(xp, x, pad, pad)
    win = window_view(xp, xpad, kernel, stride, dilation, out)  # (N, C, *O, *K)
    order = (1,) + tuple(range(2 + d, 2 + 2 * d)) + (0,) + tuple(range(2, 2 + d))
    col = take_scratch(xp, tuple(win.shape[i] for i in order), x.dtype)
    col[...] = win.transpose(order)
    return col


def col2im(xp, col, spatial, kernel, pad, stride, dilation):
    """col (C, *K, N, *O) -> (N, C, *S): sums every column back where it was read.

    Accumulates in (C, N, *S_padded) order, the order of col, so each of the
    prod(K) strided adds walks both operands the same way; the result is a
    transposed, cropped view of that buffer.
    """
    d = len(kernel)
    c, n = col.shape[0], col.shape[1 + d]
    out = col.shape[2 + d:]
    padded = tuple(s + 2 * p for s, p in zip(spatial, pad))
    buf = xp.zeros((c, n) + padded, dtype=col.dtype)
    for offset in kernel_offsets(kernel):
        target = buf[(slice(None), slice(None)) + offset_slices(offset, stride, dilation, out)]
        target += col[(slice(None),) + offset]
    buf = buf[(slice(None), slice(None)) + tuple(slice(p, p + s) for p, s in zip(pad, spatial))]
    return buf.swapaxes(0, 1)


def _last_to_second(a):
    """View (A, *S, C) as (A, C, *S)."""
    return a.transpose((0, a.ndim - 1) + tuple(range(1, a.ndim - 1)))


class ConvolutionFamily(Function):
    """Geometry and array plumbing shared by (depthwise) (de)convolution.

    Internally x is (N, C, *S) (a view: batch axes flattened, channel moved to
    axis 1 for channel_last) and the weight a stack of per-group matrices
    (group, OC/group, C/group * prod(K)) for convolution, (group, C/group,
    OC/group * prod(K)) for deconvolution. Each group is then one BLAS product
    against im2col's matrix (ONE product when group == 1).
    """

    grad_reads_outputs = False  # gradients need x, W and gy only

    channel_last = False

    def _geometry(self, x, w, base_axis, group, channel_last, weight_channel_axes,
                  depthwise=False):
        """Validate shapes, fill self._* and resolve pad/stride/dilation."""
        self._col = None  # a copied node (graph rebuild) must not share a cached matrix
        ndim = len(x)
        base_axis = self.base_axis = int_arg(self, "base_axis", base_axis)
        require(self, -ndim <= base_axis < ndim - 1,
                f"base_axis={base_axis} must leave a channel axis and at least one "
                f"spatial axis in x {x}")
        ba = base_axis % ndim
        d = ndim - ba - 1
        self._lead = tuple(x[:ba])
        self._c = x[-1] if channel_last else x[ba]
        self._spatial = tuple(x[ba:-1] if channel_last else x[ba + 1:])
        want = d + 1 if depthwise else d + 2
        require(self, len(w) == want,
                f"weight {w} must have {want} dimensions ({weight_channel_axes}, *kernel) for "
                f"x {x} with {d} spatial dimension(s) after base_axis={base_axis}")
        if depthwise:
            self._kernel = tuple(w[1:])
        else:
            self._kernel = tuple(w[1:-1] if channel_last else w[2:])
        # A zero-size kernel has no window to slide (NNabla computes a shape from
        # it and returns garbage): refuse it here, once per setup.
        require(self, min(self._kernel) >= 1,
                f"weight {w} has kernel size {self._kernel}; every kernel size must be >= 1")
        self.pad = list(spatial_tuple(self, "pad", self.pad, d, 0))
        self.stride = list(spatial_tuple(self, "stride", self.stride, d, 1))
        self.dilation = list(spatial_tuple(self, "dilation", self.dilation, d, 1))
        require(self, min(self.stride) >= 1 and min(self.dilation) >= 1 and min(self.pad) >= 0,
                f"stride={self.stride} and dilation={self.dilation} must be >= 1, "
                f"pad={self.pad} >= 0")
        require(self, isinstance(group, numbers.Integral) and not isinstance(group, bool),
                f"group={group!r} must be an int", TypeError)
        require(self, group >= 1, f"group={group} must be >= 1")
        self._group = group
        self._cl = channel_last
        self._n = prod(self._lead)

    def _conv_out(self, sizes):
        """Output sizes of a convolution over ``sizes``; errors if a kernel does not fit."""
        out = []
        for i, (s, k, p, st, dl) in enumerate(zip(sizes, self._kernel, self.pad, self.stride,
                                                 self.dilation)):
            span = dl * (k - 1) + 1
            require(self, s + 2 * p >= span,
                    f"kernel {tuple(self._kernel)} (dilation {self.dilation}) spans {span} "
                    f"at spatial axis {i}, larger than the padded input {s} + 2*{p}")
            out.append((s + 2 * p - span) // st + 1)
        return tuple(out)

    def _set_empty(self):
        """Mark a call with nothing to compute (a zero batch, channel count or
        spatial size): forward is then zeros + bias and backward zeros, as NNabla,
        without the blocked/im2col paths (which divide by these sizes)."""
        self._empty = (0 in (self._n, self._c, self._oc) or prod(self._spatial) == 0
                       or prod(self._out) == 0)
        return self._empty

    def _empty_forward(self, xp, x, b):
        y = xp.zeros(self._shape_out(self._oc, self._out), dtype=x.dtype)
        if b is not None:
            y += b if self._cl else b.reshape((-1,) + (1,) * len(self._out))
        return y

    def _empty_backward(self, xp, xs, gy):
        """Gradients of zeros + bias: zero for x and W, gy summed per channel for b."""
        need = self.need
        gx = xp.zeros(xs[0].shape, dtype=gy.dtype) if need[0] else None
        gw = xp.zeros(xs[1].shape, dtype=gy.dtype) if need[1] else None
        if len(xs) == 2:
            return gx, gw
        ch = gy.ndim - 1 if self._cl else len(self._lead)
        gb = (gy.sum(axis=tuple(i for i in range(gy.ndim) if i != ch)) if need[2] else None)
        return gx, gw, gb

    _empty = False

    def _shape_out(self, channels, spatial):
        body = tuple(spatial) + (channels,) if self._cl else (channels,) + tuple(spatial)
        return self._lead + body

    def _check_bias(self, b, channels):
        if b is not None:
            require(self, tuple(b) == (channels,),
                    f"bias {b} must have shape ({channels},), one value per output channel")

    def _to_ncs(self, a, channels, spatial):
        """(B..., C, *S) or (B..., *S, C) -> (N, C, *S), a view when possible."""
        if self._cl:
            return _last_to_second(a.reshape((self._n,) + tuple(spatial) + (channels,)))
        return a.reshape((self._n, channels) + tuple(spatial))

    def _from_cns(self, a):
        """(C, N, *S) -> the caller's layout (B..., C, *S) or (B..., *S, C), as a view."""
        if self._cl:
            a = a.transpose(tuple(range(1, a.ndim)) + (0,))
        else:
            a = a.swapaxes(0, 1)
        return a.reshape(self._lead + a.shape[1:])

    def _from_ncs(self, a):
        """(N, C, *S) -> the caller's layout (B..., C, *S) or (B..., *S, C), as a view."""
        if self._cl:
            a = a.transpose((0,) + tuple(range(2, a.ndim)) + (1,))
        return a.reshape(self._lead + a.shape[1:])

    def _to_cns_matrix(self, a, channels, spatial):
        """(B..., C, *S) -> (group, C/group, N*prod(S)) (a copy unless laid out so)."""
        a = self._to_ncs(a, channels, spatial).swapaxes(0, 1)
        return a.reshape(self._group, channels // self._group, -1)

    def _weight_stack(self, w):
        """Weight -> (group, rows, cols) with the kernel flattened into the last axis."""
        g = self._group
        if self._cl and not self._depthwise:
            w = _last_to_second(w)  # (A, *K, B) -> (A, B, *K)
        return w.reshape(g, w.shape[0] // g, -1)

    def _weight_grad(self, gw2, w_shape):
        if self._cl and not self._depthwise:
            a, b = w_shape[0], w_shape[-1]
            gw = gw2.reshape((a, b) + self._kernel)
            return gw.transpose((0,) + tuple(range(2, gw.ndim)) + (1,))
        return gw2.reshape(w_shape)

    def _keep_for_backward(self, index):
        return self.inputs[index].need_grad

    _depthwise = False
    _col = None
