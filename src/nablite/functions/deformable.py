"""Convolutions whose sampling positions or kernels vary per pixel.

deformable_convolution samples x at learned fractional positions (bilinear,
zero outside the image) and optionally scales each sample by a mask; the
samples form an im2col matrix, so the output is one BLAS product per group.
The loop runs over the kh*kw kernel taps only; each tap is a gather over the
whole batch. adaptive_separable_convolution loops over its kv*kh taps the same
way, each tap a shifted slice of x scaled by a per-pixel weight.

NNabla 1.39's layout, measured on the real library:
  offset (N, dg*2*kh*kw, H, W), mask (N, dg*kh*kw, H, W) have the INPUT's
  spatial size; output pixel (i, j) reads them at (i*stride_h, j*stride_w).
  Channel dg_index*2*K + 2*k holds the row shift of tap k (k = ki*kw + kj),
  the next channel its column shift. Deformable group d covers the channels
  [d*C/dg, (d+1)*C/dg) of x.
"""
from ..backend import sum_at
from .base import Function, keep_args, require, prod, named
from ._conv_utils import spatial_tuple

__all__ = ["deformable_convolution", "adaptive_separable_convolution"]


def _cf(a):
    """(N, H, W, C) -> (N, C, H, W) view."""
    return a.transpose(0, 3, 1, 2)


def _cl(a):
    """(N, C, H, W) -> (N, H, W, C) view."""
    return a.transpose(0, 2, 3, 1)


def _bilinear_corners(xp, py, px, h, w):
    """The four neighbours of the points (py, px) in an h x w image.

    Yields (flat index, weight, d weight/d py, d weight/d px) per corner; the
    weights of corners outside the image are zero (their index is a safe 0).
    """
    y0 = xp.floor(py)
    x0 = xp.floor(px)
    ly = py - y0
    lx = px - x0
    hy, hx = 1 - ly, 1 - lx
    y0 = y0.astype(xp.intp)
    x0 = x0.astype(xp.intp)
    for dy, dx, wgt, gy, gx in ((0, 0, hy * hx, -hx, -hy), (0, 1, hy * lx, -lx, hy),
                                (1, 0, ly * hx, hx, -ly), (1, 1, ly * lx, lx, ly)):
        yy, xx = y0 + dy, x0 + dx
        inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        idx = xp.where(inside, yy * w + xx, 0)
        yield idx, wgt * inside, gy * inside, gx * inside


class DeformableConvolution(Function):
    """2-D convolution sampling x at per-pixel learned offsets (v1), optionally
    scaled by a per-pixel mask (v2)."""

    def __init__(self, base_axis=1, pad=None, stride=None, dilation=None, group=1,
                 deformable_group=1, channel_last=False, has_mask=False):
        keep_args(self, locals(), private=('has_mask',))

    def setup(self, x, w, offset, *rest):
        mask = rest[0] if self._has_mask else None
        bias = rest[-1] if len(rest) == 1 + self._has_mask else None
        ndim = len(x)
        require(self, -ndim <= self.base_axis < ndim,
                f"base_axis={self.base_axis} is out of range for x {x}")
        ba = self.base_axis % ndim
        require(self, ndim - ba == 3, f"x {x} must have exactly a channel axis and 2 spatial "
                f"axes after base_axis={self.base_axis} (this is a 2-D convolution)")
        cl = self.channel_last
        lead = tuple(x[:ba])
        c, (h, wd) = (x[-1], x[ba:-1]) if cl else (x[ba], x[ba + 1:])
        require(self, len(w) == 4, f"weight {w} must be 4-D ({'OC, kh, kw, C/group' if cl else 'OC, C/group, kh, kw'})")
        oc, cg = w[0], (w[3] if cl else w[1])
        kernel = tuple(w[1:3] if cl else w[2:])
        g, dg = self.group, self.deformable_group
        require(self, g >= 1 and dg >= 1, f"group={g} and deformable_group={dg} must be >= 1")
        require(self, c == cg * g, f"x {x} has {c} channels, but weight {w} expects "
                f"{cg} per group x group={g} = {cg * g}")
        require(self, oc % g == 0, f"weight {w} has {oc} output channels, not a multiple of "
                f"group={g}")
        require(self, c % dg == 0 and oc % dg == 0, f"the channels of x ({c}) and of the "
                f"output ({oc}) must be multiples of deformable_group={dg}")
        self.pad = list(spatial_tuple(self, "pad", self.pad, 2, 0))
        self.stride = list(spatial_tuple(self, "stride", self.stride, 2, 1))
        self.dilation = list(spatial_tuple(self, "dilation", self.dilation, 2, 1))
        require(self, min(self.stride) >= 1 and min(self.dilation) >= 1 and min(self.pad) >= 0,
                f"stride={self.stride} and dilation={self.dilation} must be >= 1, "
                f"pad={self.pad} >= 0")
        out = []
        for s, k, p, st, dl in zip((h, wd), kernel, self.pad, self.stride, self.dilation):
            span = dl * (k - 1) + 1
            require(self, s + 2 * p >= span, f"kernel {kernel} (dilation {self.dilation}) "
                    f"does not fit in the padded input {(h, wd)} with pad={self.pad}")
            o = (s + 2 * p - span) // st + 1
            # NNabla reads offset and mask at (i*stride, j*stride) of an input-sized map.
            require(self, (o - 1) * st < s, f"the output size {o} x stride {st} reaches past "
                    f"the input size {s} that offset and mask share (pad={self.pad} is too "
                    f"large for kernel {kernel})")
            out.append(o)
        kk = prod(kernel)

        def map_shape(ch):
            return lead + ((h, wd, ch) if cl else (ch, h, wd))

        require(self, tuple(offset) == map_shape(dg * 2 * kk),
                f"offset {offset} must have shape {map_shape(dg * 2 * kk)} "
                f"(deformable_group*2*kh*kw = {dg}*2*{kk} channels at the input's size)")
        if mask is not None:
            require(self, tuple(mask) == map_shape(dg * kk),
                    f"mask {mask} must have shape {map_shape(dg * kk)} "
                    f"(deformable_group*kh*kw = {dg}*{kk} channels at the input's size)")
        if bias is not None:
            require(self, tuple(bias) == (oc,), f"bias {bias} must have shape ({oc},)")
        self._geom = (prod(lead), c, h, wd, oc, kernel, tuple(out))
        return lead + ((tuple(out) + (oc,)) if cl else ((oc,) + tuple(out)))

    # -- layout helpers ---------------------------------------------------
    def _inputs_cf(self, xs):
        """x, weight, offset, mask as channel-first 4-D arrays (mask may be None)."""
        n, c, h, wd, oc, kernel, out = self._geom
        x, w, off = xs[0], xs[1], xs[2]
        m = xs[3] if self._has_mask else None
        if self.channel_last:
            x = _cf(x.reshape(n, h, wd, c))
            w = _cf(w)
            off = _cf(off.reshape((n, h, wd, -1)))
            m = None if m is None else _cf(m.reshape((n, h, wd, -1)))
        else:
            x = x.reshape(n, c, h, wd)
            off = off.reshape((n, -1, h, wd))
            m = None if m is None else m.reshape((n, -1, h, wd))
        return x, w, off, m

    def _map_view(self, a):
        """(N, ch, H, W) map -> (N, dg, K, [2,] OH, OW): the entries output pixels read."""
        n, c, h, wd, oc, kernel, (oh, ow) = self._geom
        sh, sw = self.stride
        a = a[:, :, :(oh - 1) * sh + 1:sh, :(ow - 1) * sw + 1:sw]
        return a.reshape((n, self.deformable_group, prod(kernel), -1, oh, ow))

    def _taps(self, xp, off):
        """Per kernel tap k: the sampling rows and columns, each (N, dg, OH*OW)."""
        n, c, h, wd, oc, (kh, kw), (oh, ow) = self._geom
        dg = self.deformable_group
        o = self._map_view(off)
        rows = xp.arange(oh, dtype=off.dtype) * self.stride[0] - self.pad[0]
        cols = xp.arange(ow, dtype=off.dtype) * self.stride[1] - self.pad[1]
        for k in range(kh * kw):
            ki, kj = divmod(k, kw)
            py = o[:, :, k, 0] + (rows + ki * self.dilation[0])[:, None]
            px = o[:, :, k, 1] + (cols + kj * self.dilation[1])
            yield k, py.reshape(n, dg, -1), px.reshape(n, dg, -1)

    def _columns(self, xp, x, off, m):
        """The im2col matrix (C, K, N, OH*OW) of bilinear (masked) samples."""
        n, c, h, wd, oc, kernel, out = self._geom
        dg = self.deformable_group
        xr = x.reshape(n, dg, c // dg, h * wd)
        mv = None if m is None else self._map_view(m).reshape(n, dg, prod(kernel), -1)
        col = xp.empty((c, prod(kernel), n, prod(out)), dtype=x.dtype)
        for k, py, px in self._taps(xp, off):
            s = 0
            for idx, wgt, _, _ in _bilinear_corners(xp, py, px, h, wd):
                s = s + xp.take_along_axis(xr, idx[:, :, None, :], axis=3) * wgt[:, :, None, :]
            if mv is not None:
                s = s * mv[:, :, None, k]
            col[:, k] = s.reshape(n, c, -1).swapaxes(0, 1)
        return col

    def forward(self, xp, x, w, off, *rest):
        n, c, h, wd, oc, kernel, out = self._geom
        g = self.group
        x, w, off, m = self._inputs_cf((x, w, off) + rest)
        col = self._columns(xp, x, off, m).reshape(g, -1, n * prod(out))
        y = xp.matmul(w.reshape(g, oc // g, -1), col).reshape(oc, n, prod(out))
        if len(rest) == 1 + self._has_mask:
            y += rest[-1].reshape(-1, 1, 1)
        y = y.swapaxes(0, 1).reshape((n, oc) + out)
        return (_cl(y) if self.channel_last else y).reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        n, c, h, wd, oc, kernel, out = self._geom
        g, dg, kk, p = self.group, self.deformable_group, prod(kernel), prod(out)
        need = self.need
        x, w, off, m = self._inputs_cf(xs)
        gy = gys[0].reshape((n,) + (out + (oc,) if self.channel_last else (oc,) + out))
        gy = (_cf(gy) if self.channel_last else gy).reshape(n, oc, p)
        gy2 = gy.swapaxes(0, 1).reshape(g, oc // g, n * p)
        grads = [None] * len(xs)
        if need[1]:
            col = self._columns(xp, x, off, m).reshape(g, -1, n * p)
            gw = xp.matmul(gy2, col.swapaxes(1, 2)).reshape(w.shape)
            grads[1] = _cl(gw) if self.channel_last else gw
        if len(xs) == 4 + self._has_mask and need[-1]:
            grads[-1] = gy.sum(axis=(0, 2))
        if need[0] or need[2] or (m is not None and need[3]):
            gx, goff, gm = self._sample_grads(xp, x, w, off, m, gy2)
            for i, a in ((0, gx), (2, goff), (3, gm)):
                if a is not None and need[i]:
                    grads[i] = (_cl(a) if self.channel_last else a).reshape(xs[i].shape)
        return tuple(grads)

    def _sample_grads(self, xp, x, w, off, m, gy2):
        """Gradients of x, offset and mask from the gradient of the im2col matrix."""
        n, c, h, wd, oc, kernel, out = self._geom
        g, dg, kk, p = self.group, self.deformable_group, prod(kernel), prod(out)
        cd = c // dg
        gcol = xp.matmul(w.reshape(g, oc // g, -1).swapaxes(1, 2), gy2)
        gcol = gcol.reshape(c, kk, n, p)
        xr = x.reshape(n, dg, cd, h * wd)
        gx = xp.zeros(n * c * h * wd, dtype=x.dtype)
        # Flat position of (n, channel) planes in gx, to add a tap's corners with one bincount.
        plane = (xp.arange(n * c, dtype=xp.intp) * (h * wd)).reshape(n, dg, cd, 1)
        goff = xp.zeros(off.shape, dtype=off.dtype)
        goff_v = self._map_view(goff)
        gm = mv = gm_v = None
        if m is not None:
            mv = self._map_view(m).reshape(n, dg, kk, p)
            gm = xp.zeros(m.shape, dtype=m.dtype)
            gm_v = self._map_view(gm)
        for k, py, px in self._taps(xp, off):
            gs = gcol[:, k].swapaxes(0, 1).reshape(n, dg, cd, p)  # d loss / d masked sample
            if mv is not None:
                gsm = gs
                gs = gs * mv[:, :, None, k]
            s = dsy = dsx = 0
            idxs, vals = [], []
            for idx, wgt, wy, wx in _bilinear_corners(xp, py, px, h, wd):
                v = xp.take_along_axis(xr, idx[:, :, None, :], axis=3)
                s = s + v * wgt[:, :, None, :]
                dsy = dsy + v * wy[:, :, None, :]
                dsx = dsx + v * wx[:, :, None, :]
                idxs.append(xp.broadcast_to(idx[:, :, None, :] + plane, gs.shape).ravel())
                vals.append((gs * wgt[:, :, None, :]).ravel())
            gx += sum_at(xp, gx.size, xp.concatenate(idxs),
                          xp.concatenate(vals)).astype(gx.dtype)
            goff_v[:, :, k, 0] = (gs * dsy).sum(axis=2).reshape(goff_v.shape[:2] + out)
            goff_v[:, :, k, 1] = (gs * dsx).sum(axis=2).reshape(goff_v.shape[:2] + out)
            if gm_v is not None:
                gm_v[:, :, k, 0] = (gsm * s).sum(axis=2).reshape(gm_v.shape[:2] + out)
        return gx.reshape(x.shape), goff, gm


@named
def deformable_convolution(x, weight, offset, mask=None, bias=None, base_axis=1, pad=None,
                           stride=None, dilation=None, group=1, deformable_group=1,
                           channel_last=False, n_outputs=-1, outputs=None):
    """2-D deformable convolution (v1), with an optional modulation mask (v2).

    .. math:: y_{n, o, p} = \\sum_{c, k} w_{o, c, k} \\, x_{n, c}(p s - \\mathrm{pad} + k d
              + \\Delta p_{n, k, p}) \\, m_{n, k, p} + b_o

    x is sampled bilinearly at fractional positions and read as zero outside
    the image. The offsets and the mask come from another layer (typically a
    convolution of the same input); the mask is meant to lie in [0, 1].

    Args:
        x (Variable): (B..., C, H, W), or (B..., H, W, C) with channel_last.
        weight (Variable): (OC, C / group, kh, kw), or (OC, kh, kw, C / group).
        offset (Variable): (B..., dg*2*kh*kw, H, W), the input's spatial size
            (channel last with channel_last). Output pixel (i, j) reads it at
            (i*stride_h, j*stride_w); channel d*2*K + 2*k is the row shift of
            kernel tap k = ki*kw + kj in deformable group d, the next one the
            column shift.
        mask (Variable, optional): (B..., dg*kh*kw, H, W), read like offset.
        bias (Variable, optional): (OC,).
        base_axis (int): the channel axis; exactly two spatial axes follow it.
        pad, stride, dilation (tuple of 2 ints): defaults 0, 1, 1.
        group (int): number of channel groups of the convolution.
        deformable_group (int): number of channel groups sharing one set of
            offsets (and mask); C and OC must be multiples of it.
        channel_last (bool): channels are the last axis.

    Returns:
        Variable: (B..., OC, OH, OW), O = (S + 2 pad - dilation (k - 1) - 1) // stride + 1.
    """
    inputs = [x, weight, offset] + [a for a in (mask, bias) if a is not None]
    return DeformableConvolution(base_axis, pad, stride, dilation, group, deformable_group,
                                 channel_last, mask is not None)(
        *inputs, n_outputs=n_outputs, outputs=outputs)


class AdaptiveSeparableConvolution(Function):
    """y[b, c, i, j] = sum_{u, v} kv[b, u, i, j] kh[b, v, i, j] x[b, c, i + u, j + v]."""

    def setup(self, x, kv, kh):
        require(self, len(x) == 4 and len(kv) == 4 and len(kh) == 4,
                f"x {x}, vertical_kernel {kv} and horizontal_kernel {kh} must all be 4-D "
                "(B, C, H, W), (B, Kv, H', W'), (B, Kh, H', W')")
        b, c, h, w = x
        require(self, kv[0] == b and kh[0] == b, f"x {x}, vertical_kernel {kv} and "
                f"horizontal_kernel {kh} must have the same batch size")
        oh, ow = h - kv[1] + 1, w - kh[1] + 1
        require(self, oh > 0 and ow > 0, f"vertical_kernel {kv} has {kv[1]} taps and "
                f"horizontal_kernel {kh} {kh[1]}: they must not exceed x's height {h} "
                f"and width {w}")
        # Each kernel map is read at [:oh, :ow]; NNabla accepts any size in between.
        for name, s in (("vertical_kernel", kv), ("horizontal_kernel", kh)):
            require(self, oh <= s[2] <= h and ow <= s[3] <= w,
                    f"{name} {s} must have a height in [{oh}, {h}] and a width in "
                    f"[{ow}, {w}] (the output's size up to the input's)")
        self._out = (oh, ow)
        return (b, c, oh, ow)

    def forward(self, xp, x, kv, kh):
        oh, ow = self._out
        kv, kh = kv[:, :, None, :oh, :ow], kh[:, :, None, :oh, :ow]
        y = xp.zeros(self.out_shapes[0], dtype=x.dtype)
        for u in range(kv.shape[1]):
            for v in range(kh.shape[1]):
                y += x[:, :, u:u + oh, v:v + ow] * (kv[:, u] * kh[:, v])
        return y

    def backward(self, xp, xs, ys, gys):
        x, kv_full, kh_full = xs
        oh, ow = self._out
        gy = gys[0]
        kv, kh = kv_full[:, :, None, :oh, :ow], kh_full[:, :, None, :oh, :ow]
        need = self.need
        gx = xp.zeros_like(x) if need[0] else None
        # gk[b, u, v, i, j]: the gradient of the per-pixel 2-D kernel kv[u] * kh[v].
        gk = xp.empty((x.shape[0], kv.shape[1], kh.shape[1], oh, ow), dtype=x.dtype)
        for u in range(kv.shape[1]):
            for v in range(kh.shape[1]):
                win = x[:, :, u:u + oh, v:v + ow]
                gk[:, u, v] = (gy * win).sum(axis=1)
                if gx is not None:
                    gx[:, :, u:u + oh, v:v + ow] += gy * (kv[:, u] * kh[:, v])
        gkv = gkh = None
        if need[1]:
            gkv = xp.zeros_like(kv_full)
            gkv[:, :, :oh, :ow] = (gk * kh[:, None, :, 0]).sum(axis=2)
        if need[2]:
            gkh = xp.zeros_like(kh_full)
            gkh[:, :, :oh, :ow] = (gk * kv[:, :, None, 0]).sum(axis=1)
        return gx, gkv, gkh


@named
def adaptive_separable_convolution(x, vertical_kernel, horizontal_kernel, n_outputs=-1,
                                   outputs=None):
    """Per-pixel filtering with a vertical and a horizontal 1-D kernel.

    .. math:: y_{b, c, i, j} = \\sum_{u, v} K^v_{b, u, i, j} K^h_{b, v, i, j}
              x_{b, c, i + u, j + v}

    The 2-D kernel of each output pixel is the outer product of its two 1-D
    kernels; it depends on the sample and the pixel but not on the channel.
    There is no padding: pad x beforehand if needed.

    Args:
        x (Variable): (B, C, H, W).
        vertical_kernel (Variable): (B, Kv, H', W'), H' in [H - Kv + 1, H] and
            W' in [W - Kh + 1, W]; output pixel (i, j) reads it at (i, j).
        horizontal_kernel (Variable): (B, Kh, H'', W''), sized likewise.

    Returns:
        Variable: (B, C, H - Kv + 1, W - Kh + 1).
    """
    return AdaptiveSeparableConvolution()(x, vertical_kernel, horizontal_kernel,
                                          n_outputs=n_outputs, outputs=outputs)
