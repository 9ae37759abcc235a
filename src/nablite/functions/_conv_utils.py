"""Shared array plumbing for convolution and pooling: argument tuples, padding,
strided window views, im2col and col2im.

Layouts (channel-first, batch flattened to one axis N, D spatial axes):
  x    (N, C, *S)        any strides: windows are views, never copies
  col  (C, *K, N, *O)    contiguous, so that ``w (OC, C*K) @ col (C*K, N*O)`` is ONE
                         BLAS product and its result (OC, N*O) is y with N and OC
                         swapped; swapping them back is a free transpose view.
col2im loops only over the prod(K) kernel offsets; each step is one strided add
over the whole batch.
"""
import itertools

from .base import require

__all__ = []

# Scratch arrays (im2col matrices and their gradients) are tens of MB. A fresh
# allocation that large is mmap'ed and page-faulted in on every call, which costs
# as much as filling it, so released scratch arrays are kept for the next call
# that asks for the same shape. Only scratch goes here, never an array handed to
# the engine.
_pool = {}
_POOL_PER_SHAPE = 2


def take_scratch(xp, shape, dtype):
    """An uninitialised array of ``shape``, recycled when one is free."""
    key = (xp.__name__, tuple(shape), str(dtype))
    free = _pool.get(key)
    if free:
        return free.pop()
    return xp.empty(shape, dtype=dtype)


def give_scratch(xp, arr):
    """Return ``arr`` (from take_scratch, no longer referenced) for reuse."""
    if arr is None:
        return
    free = _pool.setdefault((xp.__name__, arr.shape, str(arr.dtype)), [])
    if len(free) < _POOL_PER_SHAPE:
        free.append(arr)


def spatial_tuple(fn, name, value, n, default):
    """``value`` as a tuple of ``n`` ints (``default`` when None); errors name ``fn``."""
    if value is None:
        return (default,) * n
    if isinstance(value, int):
        value = (value,)
    value = tuple(int(v) for v in value)
    require(fn, len(value) == n, f"{name}={value} must have {n} entries, one per spatial "
            f"dimension")
    return value


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
    """Read-only view x[..., *O, *K] of the windows over the last len(kernel) axes."""
    d = len(kernel)
    spatial = x.strides[x.ndim - d:]
    shape = x.shape[:x.ndim - d] + tuple(out) + tuple(kernel)
    strides = (x.strides[:x.ndim - d] + tuple(st * s for st, s in zip(spatial, stride))
               + tuple(st * dl for st, dl in zip(spatial, dilation)))
    return xp.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)


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
