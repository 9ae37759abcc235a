"""Group-1 convolution in a batch-last layout, over cache-sized blocks of output rows.

Why not one im2col over the whole batch: the column matrix is prod(K) times the
input (38 MB for a 16-channel 32x32 batch of 64 and a 3x3 kernel), written once
and read back by BLAS with only OC multiply-adds per element, so the product
runs at memory speed; and in the (N, C, H, W) layout every window row is only
OW elements long, so the copies into it (and col2im's adds out of it) are
loops over 8 to 32 elements.

Here the input is first copied to (C, *S_padded, N) ("batch last"). A window
row (kernel offset fixed, W axis) together with the batch is then ONE
contiguous run of OW * N elements (stride 1 along W), so building columns and
scattering their gradients back are long contiguous copies and adds. The
output rows (first spatial axis) are cut into blocks whose column matrix fits
half of a core's L2 cache (``_BLOCK_BYTES``); each block's columns are built,
multiplied and dropped while still in cache:

    forward   y2[:, block]  = W2 (OC, C*K) @ col_block (C*K, rows*OW*N)
    weight    dW2          += gy2[:, block] @ col_block^T
    input     gcol_block    = W2^T @ gy2[:, block], added back window by window

The loops run over row blocks (tens at most) and kernel offsets, never over
elements, pixels or images. Results (y, dx) are returned as (N, C, *S) views
of batch-last arrays: the elementwise functions that follow keep that memory
order, so the next convolution reads its input (or gradient) with a plain
copy, or with none at all when there is no padding.
"""
import itertools

from .base import prod
from ..backend import on_host
from ._conv_utils import take_scratch, give_scratch

# A block's column matrix is about this size: half of a 2 MiB L2 cache, the rest
# holding the weight and the block's output. Other array modules (GPU): one block.
_BLOCK_BYTES = 1 << 20
# Named defaults: single-core costs (ns) of one BLAS flop on these shapes, one
# element copied into a column block, one element added back by col2im. They
# only choose between two correct input-gradient paths, and only their ratios
# matter; `python benchmarks/calibrate_conv.py` measures them on a machine and
# prints them next to these values.
_NS_PER_FLOP = 0.0125
_NS_PER_COPY = 0.1
_NS_PER_ADD = 0.55


def batch_last_view(a):
    """(N, C, *S) -> a (C, *S, N) view."""
    return a.transpose(tuple(range(1, a.ndim)) + (0,))


def to_batch_last(xp, a, out):
    """out (C, *S, N) = a (N, C, *S), any strides (reads stride along N, writes contiguous)."""
    out[...] = batch_last_view(a)


def batch_first_view(a):
    """(C, *S, N) -> an (N, C, *S) view. Results stay in batch-last memory order:
    elementwise functions keep that order (NumPy's K order), a following
    convolution then reads its input with contiguous copies, and pooling walks
    the batch as its contiguous inner axis."""
    return a.transpose((a.ndim - 1,) + tuple(range(a.ndim - 1)))


class BlockedConvolution:
    """One group-1 convolution x (N, C, *S) -> y (N, OC, *O); any pad/stride/dilation."""

    def __init__(self, n, c, spatial, oc, kernel, pad, stride, dilation, out):
        self.n, self.c, self.spatial, self.oc = n, c, tuple(spatial), oc
        self.kernel, self.pad = tuple(kernel), tuple(pad)
        self.stride, self.dilation, self.out = tuple(stride), tuple(dilation), tuple(out)
        self.padded = tuple(s + 2 * p for s, p in zip(spatial, pad))
        self.ck = c * prod(kernel)
        self.p_out = prod(out)
        self._flipped = None
        # Stride 1: dx is also the correlation of gy, zero padded by d(K-1) - p,
        # with the flipped kernel: the forward machinery, no scatter. Its product
        # is bigger when the output is much smaller than the input (C * OC * K
        # multiply-adds per input position instead of per output position), so
        # it is taken only when its estimated cost (products plus column copies)
        # beats products plus col2im's adds.
        full_pad = tuple(dl * (k - 1) - p for k, p, dl in zip(kernel, pad, dilation))
        if max(stride) == 1 and min(full_pad) >= 0:
            p_in, k = prod(spatial), prod(kernel)
            flipped = 2 * c * oc * k * p_in * _NS_PER_FLOP + oc * k * p_in * _NS_PER_COPY
            scatter = 2 * c * oc * k * self.p_out * _NS_PER_FLOP + c * k * self.p_out * _NS_PER_ADD
            if flipped < scatter:
                self._flipped = (n, oc, out, c, kernel, full_pad, stride, dilation, spatial)

    # -- layout helpers ------------------------------------------------------
    def _padded_batch_last(self, xp, x):
        """x (N, C, *S) -> zero-padded (C, *S_padded, N) scratch, or, without padding,
        x's own memory when x is a batch-last view already (give_scratch ignores it)."""
        if not any(self.pad):
            xt = batch_last_view(x)
            if xt.flags.c_contiguous:
                return xt
        buf = take_scratch(xp, (self.c,) + self.padded + (self.n,), x.dtype)
        inner = (slice(None),) + tuple(slice(p, p + s) for p, s in zip(self.pad, self.spatial))
        to_batch_last(xp, x, buf[inner])
        for i, (p, s) in enumerate(zip(self.pad, self.spatial)):  # zero the borders only
            if p:
                before = (slice(None),) * (i + 1)
                buf[before + (slice(0, p),)] = 0
                buf[before + (slice(p + s, None),)] = 0
        return buf

    def _windows(self, xp, xt):
        """View (C, *O, *K, N) of xt (C, *S_padded, N): [c, o, k, n] = xt[c, o*s + k*d, n]."""
        st = xt.strides
        d = len(self.kernel)
        shape = (self.c,) + self.out + self.kernel + (self.n,)
        strides = ((st[0],) + tuple(s * st[1 + i] for i, s in enumerate(self.stride))
                   + tuple(dl * st[1 + i] for i, dl in enumerate(self.dilation)) + (st[d + 1],))
        return xp.lib.stride_tricks.as_strided(xt, shape, strides)

    def _blocks(self, xp, itemsize):
        """(first, rows) of each block of output rows (first spatial axis)."""
        first = self.out[0]
        per_row = self.ck * (self.p_out // first) * self.n * itemsize
        rows = first if not on_host(xp) else max(1, min(first, _BLOCK_BYTES // per_row))
        return [(r0, min(rows, first - r0)) for r0 in range(0, first, rows)], rows

    def _columns(self, win, r0, rows, col):
        """Block of columns (C*K, rows * prod(O[1:]) * N) copied out of the window view."""
        d = len(self.kernel)
        order = (0,) + tuple(range(1 + d, 1 + 2 * d)) + tuple(range(1, 1 + d)) + (1 + 2 * d,)
        block = win[:, r0:r0 + rows].transpose(order)
        cb = col[:block.size].reshape(block.shape)
        cb[...] = block
        return cb.reshape(self.ck, -1)

    # -- forward -------------------------------------------------------------
    def forward(self, xp, x, w2, bias=None, xt=None, outer=None):
        """x (N, C, *S) any strides, w2 (OC, C*K) -> y (N, OC, *O) (a batch-last view).

        ``xt``: x already in the padded batch-last scratch layout (then x is unused);
        the buffer goes back to the scratch pool either way. ``outer``: a pair
        (a (A, prod(O) * N), acc (C*K, A)) to which each block adds
        columns @ a[:, block]^T, the columns' other use (see backward).
        """
        if xt is None:
            xt = self._padded_batch_last(xp, x)
        win = self._windows(xp, xt)
        blocks, rows = self._blocks(xp, xt.itemsize)
        span = (self.p_out // self.out[0]) * self.n  # columns per output row
        col = take_scratch(xp, (self.ck * rows * span,), xt.dtype)
        y2 = xp.empty((self.oc, self.p_out * self.n), dtype=xt.dtype)
        part = None if outer is None else xp.empty_like(outer[1])
        for r0, m in blocks:
            cb = self._columns(win, r0, m, col)
            xp.matmul(w2, cb, out=y2[:, r0 * span:(r0 + m) * span])
            if outer is not None:
                xp.matmul(cb, outer[0][:, r0 * span:(r0 + m) * span].T, out=part)
                outer[1][...] += part
        give_scratch(xp, col)
        give_scratch(xp, xt)
        y2 = y2.reshape((self.oc,) + self.out + (self.n,))
        if bias is not None:
            y2 += bias.reshape((-1,) + (1,) * (y2.ndim - 1))
        return batch_first_view(y2)

    # -- backward ------------------------------------------------------------
    def backward(self, xp, x, w2, gy, need_x, need_w):
        """Gradients (dx (N, C, *S) or None, dW2 (OC, C*K) or None)."""
        if not (need_x or need_w):
            return None, None
        dtype = gy.dtype
        if need_x and self._flipped is not None:
            d = len(self.kernel)
            wf = w2.reshape((self.oc, self.c) + self.kernel)
            wf = wf[(slice(None), slice(None)) + (slice(None, None, -1),) * d].swapaxes(0, 1)
            if not isinstance(self._flipped, BlockedConvolution):
                self._flipped = BlockedConvolution(*self._flipped)
            flipped = self._flipped
            gpad = flipped._padded_batch_last(xp, gy)
            outer = xt = None
            if need_w:
                # The flipped correlation's columns are gy shifted by every kernel
                # offset over x's positions: dW is those columns times x, so one
                # pass gives both gradients, with no columns of x to build.
                #   G[(oc, k'), c] = sum_q gpad[oc, q + k'] x[c, q],  k' = K-1-k
                xt = batch_last_view(x)
                if not xt.flags.c_contiguous:
                    xt = take_scratch(xp, (self.c,) + self.spatial + (self.n,), dtype)
                    to_batch_last(xp, x, xt)
                outer = (xt.reshape(self.c, -1), xp.zeros((flipped.ck, self.c), dtype=dtype))
            gx = flipped.forward(xp, None, wf.reshape(self.c, -1), xt=gpad, outer=outer)
            if not need_w:
                return gx, None
            give_scratch(xp, xt)
            g = outer[1].reshape((self.oc,) + self.kernel + (self.c,))
            g = g[(slice(None),) + (slice(None, None, -1),) * d]
            return gx, g.transpose((0, d + 1) + tuple(range(1, d + 1))).reshape(self.oc, -1)
        gy2 = batch_last_view(gy)
        if not gy2.flags.c_contiguous:  # gy is not batch-last already
            gy2 = take_scratch(xp, (self.oc,) + self.out + (self.n,), dtype)
            to_batch_last(xp, gy, gy2)
        blocks, rows = self._blocks(xp, gy.itemsize)
        span = (self.p_out // self.out[0]) * self.n
        gy2 = gy2.reshape(self.oc, -1)
        col = take_scratch(xp, (self.ck * rows * span,), dtype)
        xt = win = gwt = part = gxt = gx = None
        if need_w:
            xt = self._padded_batch_last(xp, x)
            win = self._windows(xp, xt)
            # dW2^T = columns @ gy^T: BLAS runs this (C*K, OC) shape faster than
            # the (OC, C*K) one with its long inner dimension.
            gwt = xp.zeros((self.ck, self.oc), dtype=dtype)
            part = xp.empty_like(gwt)
        if need_x:
            gxt = xp.zeros((self.c,) + self.padded + (self.n,), dtype=dtype)
        w2t = w2.T
        for r0, m in blocks:
            g = gy2[:, r0 * span:(r0 + m) * span]
            if need_w:
                xp.matmul(self._columns(win, r0, m, col), g.T, out=part)
                gwt += part
            if need_x:
                gcol = col[:self.ck * m * span].reshape(self.ck, m * span)
                xp.matmul(w2t, g, out=gcol)
                self._add_windows(gxt, gcol, r0, m)
        give_scratch(xp, col)
        give_scratch(xp, gy2)
        if xt is not None:
            give_scratch(xp, xt)
        if need_x:
            inner = (slice(None),) + tuple(slice(p, p + s) for p, s in zip(self.pad, self.spatial))
            gx = batch_first_view(gxt[inner])
        return gx, (None if gwt is None else gwt.T)

    def _add_windows(self, gxt, gcol, r0, rows):
        """col2im of one block: gxt[c, o*s + k*d, n] += gcol[c, k, o, n] per offset k."""
        out = (rows,) + self.out[1:]
        gcol = gcol.reshape((self.c,) + self.kernel + out + (self.n,))
        first = (r0,) + (0,) * (len(out) - 1)
        for k in itertools.product(*[range(n) for n in self.kernel]):
            target = tuple(slice(kk * dl + f * s, kk * dl + (f + o - 1) * s + 1, s)
                           for kk, dl, s, f, o in zip(k, self.dilation, self.stride, first, out))
            gxt[(slice(None),) + target] += gcol[(slice(None),) + k]
