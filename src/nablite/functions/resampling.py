"""Resampling a feature map onto a new regular grid: interpolate (the whole map,
NNabla's resize: nearest or (bi/tri)linear) and roi_align (each box's bins,
averaged bilinear samples).

Coordinates are computed in the input's dtype in NNabla's order of operations,
so float32 results land on the same cells as NNabla's kernels; each gradient is
a scatter-add over the whole batch. (Sampling grids and warping are in spatial.py.)
"""
import itertools

import numpy as np

from ..backend import scatter_add, stable_argsort, sum_at, to_numpy
from .base import Function, keep_args, require, contiguous, named
from .array import input_shape
from .spatial import _ints, _quiet

__all__ = ["roi_align", "interpolate"]


class RoiAlign(Function):
    """Average of bilinear samples on a regular grid inside each box cell.

    Sampling is separable: along each axis, a box gives an (outputs, pixels)
    matrix of summed interpolation weights, so a box's output is Ay @ x @ Ax^T.
    """

    grad_reads_outputs = False

    def __init__(self, output_size, spatial_scale=(1.0, 1.0), sampling_ratio=-1,
                 channel_last=False):
        keep_args(self, locals())

    def setup(self, x, boxes):
        out = _ints(self.output_size)
        require(self, len(out) == 2 and min(out) >= 1,
                f"output_size={self.output_size} must be a positive (height, width)")
        scale = [float(s) for s in (self.spatial_scale if hasattr(self.spatial_scale, "__len__")
                                    else [self.spatial_scale])]
        require(self, len(scale) == 2, f"spatial_scale={self.spatial_scale} must be (y, x)")
        require(self, len(x) == 4, f"input {x} must be 4-D "
                f"({'(N, H, W, C)' if self.channel_last else '(N, C, H, W)'})")
        require(self, len(boxes) == 2 and boxes[1] == 5,
                f"boxes {boxes} must be (K, 5) rows of (batch index, x1, y1, x2, y2)")
        self.output_size, self.spatial_scale = out, scale
        self.sampling_ratio = int(self.sampling_ratio)
        channels = x[3] if self.channel_last else x[1]
        if self.channel_last:
            return (boxes[0],) + tuple(out) + (channels,)
        return (boxes[0], channels) + tuple(out)

    def _axis_grid(self, xp, lo, hi, scale, n_out):
        """Per box along one axis: its first edge and cell size in input pixels, and
        its number of sampling points per cell."""
        dtype = lo.dtype
        # The half-pixel shift of 'aligned' RoIAlign, which NNabla 1.39 always applies.
        lo = lo * dtype.type(scale) - dtype.type(0.5)
        hi = hi * dtype.type(scale) - dtype.type(0.5)
        step = (hi - lo) / dtype.type(n_out)
        if self.sampling_ratio > 0:
            return lo, step, xp.full(lo.shape, self.sampling_ratio, dtype=xp.int64)
        return lo, step, xp.ceil(step).astype(xp.int64)

    @staticmethod
    def _axis_weights(xp, lo, step, count, most, n_out, size):
        """(K, n_out, size) weights of the samples of each box along one axis (summed
        over the axis' sampling points); ``most`` is the largest count."""
        dtype, k = lo.dtype, lo.shape[0]
        if most <= 0 or size == 0:  # no samples, or no pixels to sample (zeros, as NNabla)
            return xp.zeros((k, n_out, size), dtype)
        o = xp.arange(n_out, dtype=dtype)[None, :, None]
        j = xp.arange(most, dtype=dtype)[None, None, :]
        with _quiet(xp):  # boxes without samples divide by 0; they are masked out
            sub = step / count.astype(dtype)
            half = dtype.type(0.5) * sub
            start = lo[:, None, None] + o * step[:, None, None]
            pos = start + j * sub[:, None, None] + half[:, None, None]
            use = (j < count[:, None, None]) & ~((pos < -1) | (pos > size))
        pos = xp.where(use, xp.maximum(pos, 0), xp.zeros_like(pos))
        low = xp.floor(pos)
        last = low >= size - 1
        low = xp.where(last, dtype.type(size - 1), low)
        pos = xp.where(last, low, pos)
        high = xp.where(last, low, low + 1)
        frac = pos - low
        weights = xp.zeros(k * n_out * size, dtype)
        row = (xp.arange(k * n_out, dtype=xp.int64) * size).reshape(k, n_out, 1)
        for idx, w in ((low, 1 - frac), (high, frac)):
            scatter_add(xp, weights, (row + idx.astype(xp.int64)).reshape(-1),
                        (w * use.astype(dtype)).reshape(-1))
        return weights.reshape(k, n_out, size)

    def _plan(self, xp, x_shape, boxes):
        """-> the boxes of each image (a list of (image, box indices)), and per box
        its row and column weight matrices and 1 / sample count. ``x_shape`` is
        (N, C, H, W). What the host must know (the bounds check, the most samples
        per axis, the boxes per image) is read back in one transfer."""
        b, h, w = x_shape[0], x_shape[2], x_shape[3]
        (oh, ow), (sy, sx) = self.output_size, self.spatial_scale
        k = boxes.shape[0]
        image = boxes[:, 0].astype(xp.int64)  # truncation toward zero, as in C++
        gy = self._axis_grid(xp, boxes[:, 2], boxes[:, 4], sy, oh)
        gx = self._axis_grid(xp, boxes[:, 1], boxes[:, 3], sx, ow)
        if k:
            bad = (image < 0) | (image >= b)
            per_image = sum_at(xp, b, xp.where(bad, 0, image), xp.ones(k, dtype=xp.int64))
            facts = to_numpy(xp.concatenate([xp.stack([bad.sum(), gy[2].max(), gx[2].max()]),
                                             per_image.astype(xp.int64)])).tolist()
        else:
            facts = [0] * (3 + b)
        if facts[0]:
            bad = to_numpy(bad)
            raise ValueError(f"RoiAlign: boxes[:, 0] holds batch indices "
                             f"{to_numpy(boxes)[bad, 0].tolist()} outside the {b} input samples")
        ay = self._axis_weights(xp, *gy, facts[1], oh, h)
        ax = self._axis_weights(xp, *gx, facts[2], ow, w)
        with _quiet(xp):  # no samples: 0 / 0, NaN as in NNabla
            inv = (1 / (gy[2] * gx[2]).astype(boxes.dtype)).astype(boxes.dtype)
        # Boxes sorted by image: each image's boxes are one slice of ``order``.
        order, counts = stable_argsort(xp, image), facts[3:]
        groups = [(i, order[end - n:end])
                  for i, (n, end) in enumerate(zip(counts, itertools.accumulate(counts))) if n]
        return groups, ay, ax, inv

    def forward(self, xp, x, boxes):
        if self.channel_last:
            x = x.transpose(0, 3, 1, 2)
        groups, ay, ax, inv = self._plan(xp, x.shape, boxes)
        y = xp.zeros((boxes.shape[0], x.shape[1]) + tuple(self.output_size), x.dtype)
        c, h, w = x.shape[1:]
        oh, ow = self.output_size
        # One pass per image: its boxes share the feature map, so no per-box copy.
        # Rows of all its boxes in one BLAS product, then columns box by box.
        for b, sel in groups:
            k = sel.shape[0]
            rows = ay[sel].reshape(k * oh, h) @ x[b].transpose(1, 0, 2).reshape(h, c * w)
            cells = rows.reshape(k, oh * c, w) @ ax[sel].transpose(0, 2, 1)
            y[sel] = cells.reshape(k, oh, c, ow).transpose(0, 2, 1, 3)
        with _quiet(xp):
            y *= inv[:, None, None, None]
        return y.transpose(0, 2, 3, 1) if self.channel_last else y

    def backward(self, xp, xs, ys, gys):
        x, boxes = xs
        if not self.need[0]:
            return None, None
        gy = gys[0].transpose(0, 3, 1, 2) if self.channel_last else gys[0]
        shape = (x.shape[0], x.shape[3], x.shape[1], x.shape[2]) if self.channel_last \
            else x.shape
        groups, ay, ax, inv = self._plan(xp, shape, boxes)
        # A box without samples (NaN output) sends nothing back, as in NNabla.
        gy = gy * xp.where(xp.isfinite(inv), inv, 0)[:, None, None, None]
        gx = xp.zeros(shape, dtype=gy.dtype)
        c, h, w = shape[1:]
        oh, ow = self.output_size
        for b, sel in groups:
            k = sel.shape[0]
            cols = gy[sel].transpose(0, 2, 1, 3).reshape(k, oh * c, ow) @ ax[sel]
            gx[b] = (ay[sel].reshape(k * oh, h).T @ cols.reshape(k * oh, c * w)).reshape(
                h, c, w).transpose(1, 0, 2)
        return (gx.transpose(0, 2, 3, 1) if self.channel_last else gx), None


@named
def roi_align(input, boxes, output_size, spatial_scale=(1.0, 1.0), sampling_ratio=None,
              channel_last=None):
    """RoIAlign (He et al., Mask R-CNN): fixed-size bilinear crops of feature maps.

    Each box ``(b, x1, y1, x2, y2)`` is scaled by ``spatial_scale`` (y, x),
    shifted by half a pixel, and cut into ``output_size`` cells; a cell's value is
    the mean of bilinear samples on a ``sampling_ratio`` x ``sampling_ratio``
    grid (``ceil(cell size)`` per axis when ``sampling_ratio`` is None or <= 0).

    Args:
        input (~nnabla.Variable): (N, C, H, W), or (N, H, W, C) with ``channel_last``.
        boxes (~nnabla.Variable): (K, 5) rows of (batch index, x1, y1, x2, y2).
        output_size (tuple of int): (height, width) of each crop.
        spatial_scale (tuple of float): (y, x) factors from box to input coordinates.
        sampling_ratio (int): sampling points per cell and axis.
        channel_last (bool): channels on the last axis.

    Returns:
        ~nnabla.Variable: (K, C, height, width), or (K, height, width, C). No
        gradient flows to ``boxes``.
    """
    return RoiAlign(output_size, spatial_scale, -1 if sampling_ratio is None else sampling_ratio,
                    bool(channel_last))(input, boxes)


def _source_index(xp, n_in, n_out, mode, align_corners, half_pixel, half_pixel_for_nn):
    """Input coordinate of each output position along one axis (float64)."""
    i = xp.arange(n_out, dtype=np.float64)
    if mode == "nearest" and half_pixel_for_nn:
        return (i + 0.5) * n_in / n_out
    if align_corners:
        return i * (n_in - 1) / (n_out - 1) if n_out > 1 else i * 0
    if half_pixel:  # NNabla 1.39 maps a single output onto input 0 here
        return (i + 0.5) * n_in / n_out - 0.5 if n_out > 1 else i * 0
    return i * n_in / n_out


class Interpolate(Function):
    """Resize the last 1-3 spatial axes by nearest or (bi/tri)linear interpolation.

    Both modes are separable, so they run one axis at a time: a gather (two for
    linear) forward, a scatter-add backward. Nearest takes floor of the source
    coordinate, as NNabla 1.39 does.
    """

    linear = True  # nn.grad: its gradient is its adjoint (every order)
    grad_reads_inputs = grad_reads_outputs = False

    def __init__(self, output_size, mode, align_corners=True, half_pixel=False,
                 half_pixel_for_nn=False, channel_last=False):
        self.output_size, self.mode = [int(s) for s in output_size], mode
        self.align_corners, self.half_pixel = align_corners, half_pixel
        self.half_pixel_for_nn, self.channel_last = half_pixel_for_nn, channel_last

    def setup(self, x):
        nd = len(self.output_size)
        require(self, self.mode in ("nearest", "linear"),
                f"mode must be 'nearest' or 'linear', got {self.mode!r}")
        require(self, 1 <= nd <= 3, f"output_size {self.output_size} must give 1, 2 or 3 "
                "spatial sizes")
        require(self, len(x) >= nd + self.channel_last,
                f"x {x} has fewer than the {nd} spatial dimensions that output_size "
                f"{self.output_size} resizes")
        require(self, all(s >= 1 for s in self.output_size),
                f"output_size {self.output_size} must be positive")
        require(self, not (self.align_corners and self.half_pixel),
                "align_corners=True and half_pixel=True cannot be combined")
        first = len(x) - nd - (1 if self.channel_last else 0)
        self._axes = list(range(first, first + nd))
        empty = [a for a in self._axes if x[a] == 0]
        require(self, not empty,
                f"x {x} is empty along axis {empty[0] if empty else 0}, which output_size="
                f"{tuple(self.output_size)} resizes: there is nothing to interpolate from; "
                "expected at least 1 element on every resized axis")
        y = list(x)
        for a, s in zip(self._axes, self.output_size):
            y[a] = s
        return tuple(y)

    def _plan(self, xp, n_in, n_out):
        src = _source_index(xp, n_in, n_out, self.mode, self.align_corners, self.half_pixel,
                            self.half_pixel_for_nn)
        if self.mode == "nearest":
            return xp.clip(xp.floor(src), 0, n_in - 1).astype(np.int64), None, None
        src = xp.maximum(src, 0)
        i0 = xp.minimum(xp.floor(src), n_in - 1).astype(np.int64)
        return i0, xp.minimum(i0 + 1, n_in - 1), src - i0

    def forward(self, xp, x):
        self._plans = []
        for a, n_out in zip(self._axes, self.output_size):
            i0, i1, lam = plan = self._plan(xp, x.shape[a], n_out)
            self._plans.append(plan)
            if lam is None:
                x = x.take(i0, axis=a)
            else:
                lam = lam.astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - a - 1))
                x = x.take(i0, axis=a) * (1 - lam) + x.take(i1, axis=a) * lam
        return x

    def backward(self, xp, xs, ys, gys):
        g = gys[0]
        shape = list(xs[0].shape)
        for a, (i0, i1, lam) in reversed(list(zip(self._axes, self._plans))):
            g_front = xp.moveaxis(g, a, 0)
            gx = xp.zeros((shape[a],) + g_front.shape[1:], dtype=g.dtype)
            if lam is None:
                scatter_add(xp, gx, i0, g_front)
            else:
                lam = lam.astype(g.dtype).reshape((-1,) + (1,) * (g.ndim - 1))
                scatter_add(xp, gx, i0, g_front * (1 - lam))
                scatter_add(xp, gx, i1, g_front * lam)
            g = xp.moveaxis(gx, 0, a)
        return (contiguous(xp, g),)


@named
def interpolate(x, scale=None, output_size=None, mode='linear', align_corners=False,
                half_pixel=False, half_pixel_for_nn=False, channel_last=False):
    """Resize the last 1-3 spatial axes by nearest or (bi/tri)linear interpolation.

    Output position o reads input coordinate ``o * in / out`` by default,
    ``o * (in - 1) / (out - 1)`` with align_corners, ``(o + 0.5) * in / out - 0.5``
    with half_pixel, and, for nearest with half_pixel_for_nn, ``(o + 0.5) * in / out``;
    nearest takes the floor of it, linear blends its two neighbours.

    Args:
        x (Variable): N-D input.
        scale (tuple of float): output_size = floor(scale * input size), per axis.
        output_size (tuple of int): sizes of the resized axes (used if given).
        mode (str): 'nearest' or 'linear'.
        align_corners (bool): map corner pixels onto corner pixels.
        half_pixel (bool): pixel centres at +0.5 (not with align_corners).
        half_pixel_for_nn (bool): NNabla's pre-1.8 nearest mapping.
        channel_last (bool): the spatial axes are before the last one.

    Returns:
        Variable: x resized.
    """
    if scale is None and output_size is None:
        raise ValueError("Interpolate: either scale or output_size must be given")
    if output_size is None:
        n = len(scale)
        shape = input_shape("interpolate", x)
        sizes = shape[-n - 1:-1] if channel_last else shape[-n:]
        output_size = [int(np.floor(s * d)) for d, s in zip(sizes, scale)]
    return Interpolate(output_size, mode, align_corners, half_pixel, half_pixel_for_nn,
                       channel_last)(x)
