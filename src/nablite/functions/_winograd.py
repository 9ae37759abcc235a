"""Winograd convolution, F(4x4, 3x3) and F(2x2, 3x3), for group-1, stride-1,
undilated 3x3 convolutions.

Each m x m block of outputs ("tile", m = 4 or 2) is computed from the
(m+2) x (m+2) block of inputs under it: with V = B^T d B (the input tile
transformed), U = G g G^T (each 3x3 filter transformed) and Y = A^T M A, the
sum over channels

    M[xi] (OC, T) = U[xi] (OC, C) @ V[xi] (C, T)      for each of the p = (m+2)^2 xi

is p BLAS products with p * OC * C multiply-adds per tile instead of the
direct 9 m^2 * OC * C: 4x fewer for m = 4 (36 vs 144), 2.25x for m = 2. The
backward pass runs the same products transposed (Y = A^T (U . V) A is linear
in U and in V):

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
path; benchmarks/results/conv_winograd.md), so they run only when Numba is
installed (``pip install "nablite[fast]"``), compiled on first use. Without Numba,
convolutions take the direct path. The loops are plain Python too, which is how
the tests check them on small shapes where Numba is absent.

Accuracy (float32, against the direct path, relative to the same sum over
|terms|): F(2x2) 1-4e-7, F(4x4) 2-6e-6 (its transforms multiply by up to 8
and 1/24); the tests bound both by 3e-5.
"""
import numpy as np  # host-only by design: Convolution takes this path on NumPy arrays only

from ..backend import on_host
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
# Output tile size: F(4x4, 3x3) (4x fewer multiplications; its 6x6 transforms
# expand the data 2.25x instead of 4x) measured 1.3-1.7x faster than the direct
# path on W6's layers where F(2x2, 3x3) gained only 1.0-1.35x, at the cost of
# accuracy (float32: 2-6e-6 of the |terms| sum instead of 1-4e-7).
_TILE = 4

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


# -- F(4x4, 3x3): 6x6 input tiles, 4x4 output tiles --------------------------
# B^T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
#        [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
# A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
#        [0, 1, -1, 8, -8, 1]]
# Constants are held in arrays of the data's dtype: a Python number would make
# Numba compute every element in float64.

def _input_transform4(x, pad, i0, i1, tw, v):
    """v[6a+b, c, tile] = (B^T d B)[a, b], d the 6x6 tile of x at rows 4i-pad..,
    columns 4j-pad.. (zero outside x)."""
    c_, h_, w_, n_ = x.shape
    k = np.empty(2, x.dtype)
    k[0], k[1] = 4, 5
    four, five = k[0], k[1]
    d = np.zeros((6, 6, n_), x.dtype)
    t = np.empty((6, 6, n_), x.dtype)
    for c in range(c_):
        for i in range(i0, i1):
            for j in range(tw):
                for r in range(6):
                    h = 4 * i + r - pad
                    for s in range(6):
                        w = 4 * j + s - pad
                        if 0 <= h < h_ and 0 <= w < w_:
                            for n in range(n_):
                                d[r, s, n] = x[c, h, w, n]
                        else:
                            for n in range(n_):
                                d[r, s, n] = 0
                for s in range(6):  # rows: t = B^T d
                    for n in range(n_):
                        d0, d1, d2 = d[0, s, n], d[1, s, n], d[2, s, n]
                        d3, d4, d5 = d[3, s, n], d[4, s, n], d[5, s, n]
                        t[0, s, n] = four * d0 - five * d2 + d4
                        t[1, s, n] = d3 + d4 - four * (d1 + d2)
                        t[2, s, n] = four * (d1 - d2) - d3 + d4
                        t[3, s, n] = (d3 - d1) + (d3 - d1) - d2 + d4
                        t[4, s, n] = (d1 - d3) + (d1 - d3) - d2 + d4
                        t[5, s, n] = four * d1 - five * d3 + d5
                base = ((i - i0) * tw + j) * n_
                for a in range(6):  # columns: t B
                    for n in range(n_):
                        e0, e1, e2 = t[a, 0, n], t[a, 1, n], t[a, 2, n]
                        e3, e4, e5 = t[a, 3, n], t[a, 4, n], t[a, 5, n]
                        v[6 * a, c, base + n] = four * e0 - five * e2 + e4
                        v[6 * a + 1, c, base + n] = e3 + e4 - four * (e1 + e2)
                        v[6 * a + 2, c, base + n] = four * (e1 - e2) - e3 + e4
                        v[6 * a + 3, c, base + n] = (e3 - e1) + (e3 - e1) - e2 + e4
                        v[6 * a + 4, c, base + n] = (e1 - e3) + (e1 - e3) - e2 + e4
                        v[6 * a + 5, c, base + n] = four * e1 - five * e3 + e5


def _input_transform4_adjoint(dv, pad, i0, i1, tw, dx):
    """dx += B dV B^T of every 6x6 tile of the block, where it was read."""
    c_, h_, w_, n_ = dx.shape
    k = np.empty(2, dx.dtype)
    k[0], k[1] = 4, 5
    four, five = k[0], k[1]
    q = np.empty((6, 6, n_), dx.dtype)
    for c in range(c_):
        for i in range(i0, i1):
            for j in range(tw):
                base = ((i - i0) * tw + j) * n_
                for b in range(6):  # rows: q = B dV (B = the transpose of B^T)
                    for n in range(n_):
                        a0 = dv[b, c, base + n]
                        a1 = dv[6 + b, c, base + n]
                        a2 = dv[12 + b, c, base + n]
                        a3 = dv[18 + b, c, base + n]
                        a4 = dv[24 + b, c, base + n]
                        a5 = dv[30 + b, c, base + n]
                        q[0, b, n] = four * a0
                        q[1, b, n] = four * (a2 - a1 + a5) + (a4 - a3) + (a4 - a3)
                        q[2, b, n] = -five * a0 - four * (a1 + a2) - a3 - a4
                        q[3, b, n] = a1 - a2 + (a3 - a4) + (a3 - a4) - five * a5
                        q[4, b, n] = a0 + a1 + a2 + a3 + a4
                        q[5, b, n] = a5
                for r in range(6):  # columns: q B^T, in place
                    for n in range(n_):
                        a0, a1, a2 = q[r, 0, n], q[r, 1, n], q[r, 2, n]
                        a3, a4, a5 = q[r, 3, n], q[r, 4, n], q[r, 5, n]
                        q[r, 0, n] = four * a0
                        q[r, 1, n] = four * (a2 - a1 + a5) + (a4 - a3) + (a4 - a3)
                        q[r, 2, n] = -five * a0 - four * (a1 + a2) - a3 - a4
                        q[r, 3, n] = a1 - a2 + (a3 - a4) + (a3 - a4) - five * a5
                        q[r, 4, n] = a0 + a1 + a2 + a3 + a4
                        q[r, 5, n] = a5
                for r in range(6):
                    h = 4 * i + r - pad
                    if 0 <= h < h_:
                        for s in range(6):
                            w = 4 * j + s - pad
                            if 0 <= w < w_:
                                for n in range(n_):
                                    dx[c, h, w, n] += q[r, s, n]


def _output_transform4(m, i0, i1, tw, y):
    """y[rows 4i.., columns 4j..] = A^T M A of each tile (cut at OH, OW)."""
    oc_, oh, ow, n_ = y.shape
    k = np.empty(3, y.dtype)
    k[0], k[1], k[2] = 2, 4, 8
    two, four, eight = k[0], k[1], k[2]
    s_ = np.empty((4, 6, n_), y.dtype)
    o = np.empty((4, n_), y.dtype)
    for oc in range(oc_):
        for i in range(i0, i1):
            for j in range(tw):
                base = ((i - i0) * tw + j) * n_
                for b in range(6):  # rows: A^T M
                    for n in range(n_):
                        m0 = m[b, oc, base + n]
                        m1 = m[6 + b, oc, base + n]
                        m2 = m[12 + b, oc, base + n]
                        m3 = m[18 + b, oc, base + n]
                        m4 = m[24 + b, oc, base + n]
                        m5 = m[30 + b, oc, base + n]
                        s_[0, b, n] = m0 + m1 + m2 + m3 + m4
                        s_[1, b, n] = m1 - m2 + two * (m3 - m4)
                        s_[2, b, n] = m1 + m2 + four * (m3 + m4)
                        s_[3, b, n] = m1 - m2 + eight * (m3 - m4) + m5
                for a in range(4):  # columns: (A^T M) A
                    h = 4 * i + a
                    if h >= oh:
                        break
                    for n in range(n_):
                        e0, e1, e2 = s_[a, 0, n], s_[a, 1, n], s_[a, 2, n]
                        e3, e4, e5 = s_[a, 3, n], s_[a, 4, n], s_[a, 5, n]
                        o[0, n] = e0 + e1 + e2 + e3 + e4
                        o[1, n] = e1 - e2 + two * (e3 - e4)
                        o[2, n] = e1 + e2 + four * (e3 + e4)
                        o[3, n] = e1 - e2 + eight * (e3 - e4) + e5
                    for b in range(4):
                        w = 4 * j + b
                        if w < ow:
                            for n in range(n_):
                                y[oc, h, w, n] = o[b, n]


def _output_transform4_adjoint(gy, i0, i1, tw, g):
    """g[6a+b, o, tile] = (A gy A^T)[a, b] for the 4x4 tile of gy (zero beyond it)."""
    oc_, oh, ow, n_ = gy.shape
    k = np.empty(3, gy.dtype)
    k[0], k[1], k[2] = 2, 4, 8
    two, four, eight = k[0], k[1], k[2]
    gt = np.zeros((4, 4, n_), gy.dtype)
    r_ = np.empty((6, 4, n_), gy.dtype)
    for oc in range(oc_):
        for i in range(i0, i1):
            for j in range(tw):
                for u in range(4):
                    h = 4 * i + u
                    for v in range(4):
                        w = 4 * j + v
                        if h < oh and w < ow:
                            for n in range(n_):
                                gt[u, v, n] = gy[oc, h, w, n]
                        else:
                            for n in range(n_):
                                gt[u, v, n] = 0
                for v in range(4):  # rows: A g
                    for n in range(n_):
                        g0, g1, g2, g3 = gt[0, v, n], gt[1, v, n], gt[2, v, n], gt[3, v, n]
                        r_[0, v, n] = g0
                        r_[1, v, n] = g0 + g1 + g2 + g3
                        r_[2, v, n] = g0 - g1 + g2 - g3
                        r_[3, v, n] = g0 + two * g1 + four * g2 + eight * g3
                        r_[4, v, n] = g0 - two * g1 + four * g2 - eight * g3
                        r_[5, v, n] = g3
                base = ((i - i0) * tw + j) * n_
                for a in range(6):  # columns: (A g) A^T
                    for n in range(n_):
                        e0, e1, e2, e3 = r_[a, 0, n], r_[a, 1, n], r_[a, 2, n], r_[a, 3, n]
                        g[6 * a, oc, base + n] = e0
                        g[6 * a + 1, oc, base + n] = e0 + e1 + e2 + e3
                        g[6 * a + 2, oc, base + n] = e0 - e1 + e2 - e3
                        g[6 * a + 3, oc, base + n] = e0 + two * e1 + four * e2 + eight * e3
                        g[6 * a + 4, oc, base + n] = e0 - two * e1 + four * e2 - eight * e3
                        g[6 * a + 5, oc, base + n] = e3


# Output tile size m -> the four transforms (input, its adjoint, output, its adjoint).
_KERNELS = {2: (_input_transform, _input_transform_adjoint, _output_transform,
                _output_transform_adjoint),
            4: (_input_transform4, _input_transform4_adjoint, _output_transform4,
                _output_transform4_adjoint)}
_G4 = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]])
_GS = {2: _G, 4: _G4}
_compiled = {}


def kernels(compiled=True, m=2):
    """The four transforms of F(m x m, 3x3): Numba-compiled (``compiled``, Numba
    installed) or the plain Python loops (for tests on small shapes)."""
    if not compiled:
        return _KERNELS[m]
    if m not in _compiled:
        njit = _numba_module().njit
        _compiled[m] = tuple(njit(cache=True, nogil=True)(f) for f in _KERNELS[m])
    return _compiled[m]


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
    """NumPy arrays of float32 or float64 (others, and other array modules: the
    direct path; the transforms are Numba loops over host memory)."""
    return on_host(xp) and dtype in (np.float32, np.float64)


def _planes(buf, p, rows, t):
    """View (p, rows, t) of a flat buffer with its p planes _PLANE_GAP elements
    apart: at a power-of-two distance the transforms' p write streams alias in
    the L1 cache (measured 7x slower)."""
    return buf[:p * (rows * t + _PLANE_GAP)].reshape(p, -1)[:, :rows * t].reshape(p, rows, t)


def _batch_last(a):
    """(N, C, H, W) any strides -> (C, H, W, N) C-contiguous (a view when it is one)."""
    t = a.transpose(1, 2, 3, 0)
    return t if t.flags.c_contiguous else np.ascontiguousarray(t)


class WinogradConvolution:
    """x (N, C, H, W) * w (OC, C, 3, 3), stride 1, zero padding ``pad`` on both axes."""

    def __init__(self, n, c, spatial, oc, pad, out, compiled=None, m=None):
        self.n, self.c, self.spatial, self.oc, self.pad = n, c, tuple(spatial), oc, pad
        self.out, self.m = tuple(out), _TILE if m is None else m
        self.p = (self.m + 2) ** 2  # transformed values per tile
        self.tiles = (-(-out[0] // self.m), -(-out[1] // self.m))
        self.compiled = not python_kernels if compiled is None else compiled

    def _blocks(self, itemsize):
        th, tw = self.tiles
        per_row = self.p * max(self.c, self.oc) * tw * self.n * itemsize
        rows = max(1, min(th, _BLOCK_BYTES // per_row))
        return [(i0, min(i0 + rows, th)) for i0 in range(0, th, rows)], rows * tw * self.n

    def weight_transform(self, w):
        """U (p, OC, C) = G w G^T per filter, in w's dtype."""
        g = _GS[self.m]
        u = np.einsum("ak,ockl,bl->aboc", g, w, g)
        return u.reshape(self.p, w.shape[0], w.shape[1]).astype(w.dtype)

    def forward(self, x, w, bias=None):
        """y (N, OC, OH, OW): a view of a batch-last (OC, OH, OW, N) array."""
        transform_in, _, transform_out, _ = kernels(self.compiled, self.m)
        xt = _batch_last(x)
        u = self.weight_transform(w)
        tw = self.tiles[1]
        blocks, span = self._blocks(x.itemsize)
        p = self.p
        v = take_scratch(np, (p * (self.c * span + _PLANE_GAP),), x.dtype)
        m = take_scratch(np, (p * (self.oc * span + _PLANE_GAP),), x.dtype)
        y = np.empty((self.oc,) + self.out + (self.n,), dtype=x.dtype)
        for i0, i1 in blocks:
            t = (i1 - i0) * tw * self.n
            vb, mb = _planes(v, p, self.c, t), _planes(m, p, self.oc, t)
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
        transform_in, transform_in_adj, _, transform_out_adj = kernels(self.compiled, self.m)
        dtype = gy.dtype
        gyt = _batch_last(gy)
        tw = self.tiles[1]
        blocks, span = self._blocks(gy.itemsize)
        p = self.p
        g = take_scratch(np, (p * (self.oc * span + _PLANE_GAP),), dtype)
        v = take_scratch(np, (p * (self.c * span + _PLANE_GAP),), dtype)
        xt = du = part = dx = ut = None
        if need_w:
            xt = _batch_last(x)
            du = np.zeros((p, self.oc, self.c), dtype=dtype)
            part = np.empty_like(du)
        if need_x:
            ut = self.weight_transform(w).transpose(0, 2, 1)  # (p, C, OC)
            dx = np.zeros((self.c,) + self.spatial + (self.n,), dtype=dtype)
        for i0, i1 in blocks:
            t = (i1 - i0) * tw * self.n
            gb, vb = _planes(g, p, self.oc, t), _planes(v, p, self.c, t)
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
            a, g4 = self.m + 2, _GS[self.m]
            gw = np.einsum("ak,aboc,bl->ockl", g4, du.reshape(a, a, self.oc, self.c), g4)
            gw = gw.astype(dtype)
        return gx, gw
