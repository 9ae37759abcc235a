"""Winograd F(2x2, 3x3) for group-1, stride-1, undilated 3x3 convolutions.

Each 2x2 block of outputs ("tile") is computed from the 4x4 block of inputs
under it: with V = B^T d B (the input tile transformed), U = G g G^T (each
3x3 filter transformed) and Y = A^T M A, the sum over channels

    M[xi] (OC, T) = U[xi] (OC, C) @ V[xi] (C, T)      for each of the 16 xi

is 16 BLAS products with 16 * OC * C multiply-adds per tile instead of the
direct 36 * OC * C: 2.25x fewer. The backward pass runs the same products
transposed (Y = A^T (U . V) A is linear in U and in V):

    GY = A gy A^T,  dU[xi] = GY[xi] @ V[xi]^T,  dV[xi] = U[xi]^T @ GY[xi],
    dW = G^T dU G,  dx = sum over tiles of B dV B^T  (tiles overlap by 2)

so one transformed gradient serves both dW and dx. Arrays are batch-last,
(C, H, W, N), as in ``_conv_blocked``, and tiles are taken in blocks of tile
rows whose transformed inputs fit half of a core's L2 cache, each block
transformed, multiplied and transformed back while still in cache. Padding is
done inside the input transform (reads outside the image are zero), so no
padded copy of the input is made.

The four transforms are elementwise loops over tiles: NumPy would make each of
them some twenty strided passes over memory (measured: slower than the direct
path; ``benchmarks/winograd_probe.py``), so they run only when Numba is
installed (``pip install numba``), compiled on first use. Without Numba,
convolutions take the direct path. The loops are plain Python too, which is how
the tests check them on small shapes where Numba is absent.

Accuracy: the transforms only add, subtract and halve, so float32 results
differ from the direct sum by a few units in the last place of the sum of
|w| |x| (the tests bound it by 1e-5 of that sum).
"""
import numpy as np

from ._conv_utils import take_scratch, give_scratch

_UNSET = object()
_numba = _UNSET  # the numba module, None when absent; imported at first need


def _numba_module():
    """numba, or None; imported only when a convolution could use it (it takes
    about a second to import, which no other nablite import should pay)."""
    global _numba
    if _numba is _UNSET:
        try:
            import numba
        except ImportError:  # optional: without it the direct path runs
            numba = None
        _numba = numba
    return _numba

# Same block size as the direct path: the transformed block of a tile row fits
# half of a 2 MiB L2 cache.
_BLOCK_BYTES = 1 << 20
# Below this many multiply-adds (N * OH * OW * C * OC) the direct path's few
# calls cost less than the transforms' setup (W3's 4->8-channel 4x4 layer).
_MIN_MACS = 1 << 20
_PLANE_GAP = 16
# Measured faster than the direct path (benchmarks/winograd_probe.py) only with
# 16 to 32 channels in and out: with fewer (W6's 3-channel stem: 2x slower) the
# transforms outweigh the products saved; 64-channel layers (8x8) are slower
# backward, their tile blocks being short.
_MIN_CHANNELS = 16
_MAX_CHANNELS = 32

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def _input_transform(x, pad, i0, i1, tw, v):
    """v[4a+b, c, ((i-i0)*tw + j)*N + n] = (B^T d B)[a, b] with d the 4x4 tile of
    x (C, H, W, N) at rows 2i-pad.., columns 2j-pad.. (zero outside x)."""
    c_, h_, w_, n_ = x.shape
    d = np.zeros((4, 4, n_), x.dtype)
    for c in range(c_):
        for i in range(i0, i1):
            for j in range(tw):
                for r in range(4):
                    h = 2 * i + r - pad
                    for s in range(4):
                        w = 2 * j + s - pad
                        if 0 <= h < h_ and 0 <= w < w_:
                            for n in range(n_):
                                d[r, s, n] = x[c, h, w, n]
                        else:
                            for n in range(n_):
                                d[r, s, n] = 0
                t = ((i - i0) * tw + j) * n_
                for n in range(n_):
                    # rows of B^T d: d0 - d2, d1 + d2, d2 - d1, d1 - d3, per column s
                    r00 = d[0, 0, n] - d[2, 0, n]
                    r01 = d[0, 1, n] - d[2, 1, n]
                    r02 = d[0, 2, n] - d[2, 2, n]
                    r03 = d[0, 3, n] - d[2, 3, n]
                    r10 = d[1, 0, n] + d[2, 0, n]
                    r11 = d[1, 1, n] + d[2, 1, n]
                    r12 = d[1, 2, n] + d[2, 2, n]
                    r13 = d[1, 3, n] + d[2, 3, n]
                    r20 = d[2, 0, n] - d[1, 0, n]
                    r21 = d[2, 1, n] - d[1, 1, n]
                    r22 = d[2, 2, n] - d[1, 2, n]
                    r23 = d[2, 3, n] - d[1, 3, n]
                    r30 = d[1, 0, n] - d[3, 0, n]
                    r31 = d[1, 1, n] - d[3, 1, n]
                    r32 = d[1, 2, n] - d[3, 2, n]
                    r33 = d[1, 3, n] - d[3, 3, n]
                    # then the same along columns
                    v[0, c, t + n] = r00 - r02
                    v[1, c, t + n] = r01 + r02
                    v[2, c, t + n] = r02 - r01
                    v[3, c, t + n] = r01 - r03
                    v[4, c, t + n] = r10 - r12
                    v[5, c, t + n] = r11 + r12
                    v[6, c, t + n] = r12 - r11
                    v[7, c, t + n] = r11 - r13
                    v[8, c, t + n] = r20 - r22
                    v[9, c, t + n] = r21 + r22
                    v[10, c, t + n] = r22 - r21
                    v[11, c, t + n] = r21 - r23
                    v[12, c, t + n] = r30 - r32
                    v[13, c, t + n] = r31 + r32
                    v[14, c, t + n] = r32 - r31
                    v[15, c, t + n] = r31 - r33


def _input_transform_adjoint(dv, pad, i0, i1, tw, dx):
    """dx (C, H, W, N) += B dV B^T of every tile of the block, where it was read."""
    c_, h_, w_, n_ = dx.shape
    dd = np.zeros((4, 4, n_), dx.dtype)
    for c in range(c_):
        for i in range(i0, i1):
            for j in range(tw):
                t = ((i - i0) * tw + j) * n_
                # q = B dV over rows a: dV0, dV1 - dV2 + dV3, dV1 + dV2 - dV0, -dV3
                for b in range(4):
                    for n in range(n_):
                        a0 = dv[b, c, t + n]
                        a1 = dv[4 + b, c, t + n]
                        a2 = dv[8 + b, c, t + n]
                        a3 = dv[12 + b, c, t + n]
                        dd[0, b, n] = a0
                        dd[1, b, n] = a1 - a2 + a3
                        dd[2, b, n] = a1 + a2 - a0
                        dd[3, b, n] = -a3
                # then q B^T over columns, in place per row
                for r in range(4):
                    for n in range(n_):
                        a0 = dd[r, 0, n]
                        a1 = dd[r, 1, n]
                        a2 = dd[r, 2, n]
                        a3 = dd[r, 3, n]
                        dd[r, 0, n] = a0
                        dd[r, 1, n] = a1 - a2 + a3
                        dd[r, 2, n] = a1 + a2 - a0
                        dd[r, 3, n] = -a3
                for r in range(4):
                    h = 2 * i + r - pad
                    if 0 <= h < h_:
                        for s in range(4):
                            w = 2 * j + s - pad
                            if 0 <= w < w_:
                                for n in range(n_):
                                    dx[c, h, w, n] += dd[r, s, n]


def _output_transform(m, i0, i1, tw, y):
    """y (OC, OH, OW, N)[rows 2i.., columns 2j..] = A^T M A of each tile of the block
    (parts beyond an odd OH or OW dropped)."""
    oc_, oh, ow, n_ = y.shape
    for o in range(oc_):
        for i in range(i0, i1):
            for j in range(tw):
                t = ((i - i0) * tw + j) * n_
                h, w = 2 * i, 2 * j
                for n in range(n_):
                    # rows of A^T M: m0 + m1 + m2, m1 - m2 - m3, per column b
                    s00 = m[0, o, t + n] + m[4, o, t + n] + m[8, o, t + n]
                    s01 = m[1, o, t + n] + m[5, o, t + n] + m[9, o, t + n]
                    s02 = m[2, o, t + n] + m[6, o, t + n] + m[10, o, t + n]
                    s03 = m[3, o, t + n] + m[7, o, t + n] + m[11, o, t + n]
                    s10 = m[4, o, t + n] - m[8, o, t + n] - m[12, o, t + n]
                    s11 = m[5, o, t + n] - m[9, o, t + n] - m[13, o, t + n]
                    s12 = m[6, o, t + n] - m[10, o, t + n] - m[14, o, t + n]
                    s13 = m[7, o, t + n] - m[11, o, t + n] - m[15, o, t + n]
                    y[o, h, w, n] = s00 + s01 + s02
                    if w + 1 < ow:
                        y[o, h, w + 1, n] = s01 - s02 - s03
                    if h + 1 < oh:
                        y[o, h + 1, w, n] = s10 + s11 + s12
                        if w + 1 < ow:
                            y[o, h + 1, w + 1, n] = s11 - s12 - s13


def _output_transform_adjoint(gy, i0, i1, tw, g):
    """g[4a+b, o, tile] = (A gy A^T)[a, b] for the 2x2 tile of gy (OC, OH, OW, N)
    (zero beyond an odd OH or OW)."""
    oc_, oh, ow, n_ = gy.shape
    zero = np.zeros(1, gy.dtype)[0]
    for o in range(oc_):
        for i in range(i0, i1):
            for j in range(tw):
                t = ((i - i0) * tw + j) * n_
                h, w = 2 * i, 2 * j
                right, down = w + 1 < ow, h + 1 < oh
                for n in range(n_):
                    g00 = gy[o, h, w, n]
                    g01 = gy[o, h, w + 1, n] if right else zero
                    g10 = gy[o, h + 1, w, n] if down else zero
                    g11 = gy[o, h + 1, w + 1, n] if right and down else zero
                    # rows of A g: g0, g0 + g1, g0 - g1, -g1 (per column); then columns
                    p0, q0 = g00, g01
                    p1, q1 = g00 + g10, g01 + g11
                    p2, q2 = g00 - g10, g01 - g11
                    p3, q3 = -g10, -g11
                    g[0, o, t + n] = p0
                    g[1, o, t + n] = p0 + q0
                    g[2, o, t + n] = p0 - q0
                    g[3, o, t + n] = -q0
                    g[4, o, t + n] = p1
                    g[5, o, t + n] = p1 + q1
                    g[6, o, t + n] = p1 - q1
                    g[7, o, t + n] = -q1
                    g[8, o, t + n] = p2
                    g[9, o, t + n] = p2 + q2
                    g[10, o, t + n] = p2 - q2
                    g[11, o, t + n] = -q2
                    g[12, o, t + n] = p3
                    g[13, o, t + n] = p3 + q3
                    g[14, o, t + n] = p3 - q3
                    g[15, o, t + n] = -q3


_KERNELS = (_input_transform, _input_transform_adjoint, _output_transform,
            _output_transform_adjoint)
_compiled = None


def kernels(compiled=True):
    """The four transforms: Numba-compiled (``compiled``, Numba installed) or the
    plain Python loops (for tests on small shapes)."""
    global _compiled
    if not compiled:
        return _KERNELS
    if _compiled is None:
        njit = _numba_module().njit
        _compiled = tuple(njit(cache=True, nogil=True)(f) for f in _KERNELS)
    return _compiled


def applies(c, oc, n, out, kernel, pad, stride, dilation):
    """Whether a group-1 convolution's geometry takes this path: 2-D 3x3, stride
    1, no dilation, the same padding on both axes; Numba installed, at least
    _MIN_MACS multiply-adds and at most _MAX_CHANNELS channels (where it
    measured faster than the direct path). The arrays are checked at each call
    (``takes``)."""
    if not (len(kernel) == 2 and tuple(kernel) == (3, 3) and tuple(stride) == (1, 1)
            and tuple(dilation) == (1, 1) and pad[0] == pad[1]):
        return False
    if python_kernels:
        return True
    return (n * out[0] * out[1] * c * oc >= _MIN_MACS
            and _MIN_CHANNELS <= min(c, oc) and max(c, oc) <= _MAX_CHANNELS
            and _numba_module() is not None)


# Tests set this to run every eligible convolution through the plain Python
# transforms (on small shapes), with or without Numba.
python_kernels = False


def takes(xp, dtype):
    """NumPy arrays of float32 or float64 (others: the direct path)."""
    return xp.__name__ == "numpy" and dtype in (np.float32, np.float64)


def _planes(buf, rows, t):
    """View (16, rows, t) of a flat buffer with its 16 planes _PLANE_GAP elements
    apart: at a power-of-two distance the transforms' 16 write streams alias in
    the L1 cache (measured 7x slower)."""
    return buf[:16 * (rows * t + _PLANE_GAP)].reshape(16, -1)[:, :rows * t].reshape(16, rows, t)


def _batch_last(a):
    """(N, C, H, W) any strides -> (C, H, W, N) C-contiguous (a view when it is one)."""
    t = a.transpose(1, 2, 3, 0)
    return t if t.flags.c_contiguous else np.ascontiguousarray(t)


class WinogradConvolution:
    """x (N, C, H, W) * w (OC, C, 3, 3), stride 1, zero padding ``pad`` on both axes."""

    def __init__(self, n, c, spatial, oc, pad, out, compiled=None):
        self.n, self.c, self.spatial, self.oc, self.pad = n, c, tuple(spatial), oc, pad
        self.out = tuple(out)
        self.tiles = ((out[0] + 1) // 2, (out[1] + 1) // 2)
        self.compiled = not python_kernels if compiled is None else compiled

    def _blocks(self, itemsize):
        th, tw = self.tiles
        per_row = 16 * max(self.c, self.oc) * tw * self.n * itemsize
        rows = max(1, min(th, _BLOCK_BYTES // per_row))
        return [(i0, min(i0 + rows, th)) for i0 in range(0, th, rows)], rows * tw * self.n

    @staticmethod
    def weight_transform(w):
        """U (16, OC, C) = G w G^T per filter, in w's dtype."""
        u = np.einsum("ak,ockl,bl->aboc", _G, w, _G)
        return u.reshape(16, w.shape[0], w.shape[1]).astype(w.dtype)

    def forward(self, x, w, bias=None):
        """y (N, OC, OH, OW): a view of a batch-last (OC, OH, OW, N) array."""
        transform_in, _, transform_out, _ = kernels(self.compiled)
        xt = _batch_last(x)
        u = self.weight_transform(w)
        tw = self.tiles[1]
        blocks, span = self._blocks(x.itemsize)
        v = take_scratch(np, (16 * (self.c * span + _PLANE_GAP),), x.dtype)
        m = take_scratch(np, (16 * (self.oc * span + _PLANE_GAP),), x.dtype)
        y = np.empty((self.oc,) + self.out + (self.n,), dtype=x.dtype)
        for i0, i1 in blocks:
            t = (i1 - i0) * tw * self.n
            vb, mb = _planes(v, self.c, t), _planes(m, self.oc, t)
            transform_in(xt, self.pad, i0, i1, tw, vb)
            np.matmul(u, vb, out=mb)
            transform_out(mb, i0, i1, tw, y)
        give_scratch(np, v)
        give_scratch(np, m)
        if bias is not None:
            y += bias.reshape(-1, 1, 1, 1)
        return y.transpose(3, 0, 1, 2)

    def backward(self, x, w, gy, need_x, need_w):
        """(dx (N, C, H, W) or None, dW (OC, C, 3, 3) or None)."""
        if not (need_x or need_w):
            return None, None
        transform_in, transform_in_adj, _, transform_out_adj = kernels(self.compiled)
        dtype = gy.dtype
        gyt = _batch_last(gy)
        tw = self.tiles[1]
        blocks, span = self._blocks(gy.itemsize)
        g = take_scratch(np, (16 * (self.oc * span + _PLANE_GAP),), dtype)
        v = take_scratch(np, (16 * (self.c * span + _PLANE_GAP),), dtype)
        xt = du = part = dx = ut = None
        if need_w:
            xt = _batch_last(x)
            du = np.zeros((16, self.oc, self.c), dtype=dtype)
            part = np.empty_like(du)
        if need_x:
            ut = self.weight_transform(w).transpose(0, 2, 1)  # (16, C, OC)
            dx = np.zeros((self.c,) + self.spatial + (self.n,), dtype=dtype)
        for i0, i1 in blocks:
            t = (i1 - i0) * tw * self.n
            gb, vb = _planes(g, self.oc, t), _planes(v, self.c, t)
            transform_out_adj(gyt, i0, i1, tw, gb)
            if need_w:
                transform_in(xt, self.pad, i0, i1, tw, vb)
                np.matmul(gb, vb.transpose(0, 2, 1), out=part)
                du += part
            if need_x:
                np.matmul(ut, gb, out=vb)
                transform_in_adj(vb, self.pad, i0, i1, tw, dx)
        give_scratch(np, g)
        give_scratch(np, v)
        gx = None if dx is None else dx.transpose(3, 0, 1, 2)
        gw = None
        if need_w:
            gw = np.einsum("ak,aboc,bl->ockl", _G, du.reshape(4, 4, self.oc, self.c), _G)
            gw = gw.astype(dtype)
        return gx, gw
