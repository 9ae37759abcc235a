"""Spatial transforms: affine sampling grids, warping by a grid or a flow field,
and patch_correlation (FlowNet-style cost volume, differentiable in both inputs).
(Resizing by interpolate and RoIAlign are in resampling.py.)

Sampling is written once per corner of the interpolation cell (4 in 2-D, 8 in
3-D): each corner is one gather over the whole batch, each gradient one
scatter-add. Coordinates are computed in the input's dtype in NNabla's order of
operations, so float32 results land on the same cells as NNabla's kernels.
"""
import itertools

from ..backend import scatter_add
from .base import Function, keep_args, require, prod, contiguous, named

__all__ = ["affine_grid", "warp_by_grid", "warp_by_flow", "patch_correlation"]


def _ints(value):
    return [int(value)] if isinstance(value, int) else [int(v) for v in value]


class AffineGrid(Function):
    """grid[b, ..., :] = theta[b] @ (x, y[, z], 1) over a regular target grid."""

    grad_reads_inputs = False
    grad_reads_outputs = False

    def __init__(self, size, align_corners=False):
        keep_args(self, locals())

    def setup(self, theta):
        size = _ints(self.size)
        d = len(size)
        require(self, d in (2, 3), f"size={self.size} must be (H, W) or (D, H, W)")
        require(self, min(size) >= 1, f"size={self.size} must be positive")
        require(self, len(theta) == 3 and tuple(theta[1:]) == (d, d + 1),
                f"theta {theta} must have shape (B, {d}, {d + 1}) for a {d}-D size={self.size}")
        self.size = size
        return (theta[0],) + tuple(size) + (d,)

    def _target(self, xp, dtype):
        """(prod(size), d + 1) rows of (x, y[, z], 1), x varying fastest."""
        axes = []
        for s in self.size:
            i = xp.arange(s, dtype=dtype)
            with _quiet(xp):  # a size of 1 divides 0 by 0: NaN, as in NNabla
                c = i * 2 / dtype.type(s - 1) - 1
            axes.append(c if self.align_corners else c * (dtype.type(s - 1) / dtype.type(s)))
        mesh = xp.meshgrid(*axes, indexing="ij")  # (z,) y, x
        cols = [m.reshape(-1) for m in reversed(mesh)] + [xp.ones(prod(self.size), dtype)]
        return xp.stack(cols, axis=1)

    def forward(self, xp, theta):
        base = self._target(xp, theta.dtype)
        y = xp.matmul(base, theta.transpose(0, 2, 1))
        return y.reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        theta = xs[0]
        d = len(self.size)
        gy = gys[0].reshape(theta.shape[0], -1, d)
        return (xp.matmul(gy.transpose(0, 2, 1), self._target(xp, gy.dtype)),)


@named
def affine_grid(theta, size, align_corners=False):
    """Sampling grid of a batch of affine transforms (for warp_by_grid).

    For every target position ``p = (x, y[, z])`` on a regular grid over
    [-1, 1] (cell centres when ``align_corners`` is False, the corner pixels
    when True), ``grid[b, ..., :] = theta[b] @ (p, 1)``.

    Args:
        theta (~nnabla.Variable): (B, 2, 3) for 2-D or (B, 3, 4) for 3-D.
        size (tuple of int): (H, W) or (D, H, W) of the grid.
        align_corners (bool): whether -1 and 1 are the centres of the corner pixels.

    Returns:
        ~nnabla.Variable: (B, H, W, 2) or (B, D, H, W, 3); the last axis is
        (x, y) or (x, y, z).
    """
    return AffineGrid(size, align_corners)(theta)


class _quiet:
    """0 / 0 and inf * 0 give NaN without warnings, as in C++ (numpy's errstate;
    a no-op for array modules without one)."""

    def __init__(self, xp):
        errstate = getattr(xp, "errstate", None)
        self.ctx = errstate(divide="ignore", invalid="ignore") if errstate else None

    def __enter__(self):
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc):
        return self.ctx.__exit__(*exc) if self.ctx is not None else None


def _reflect(xp, s, lo, hi):
    """Fold ``s`` back into [lo, hi] like a mirror; also d(folded)/ds (+-1)."""
    length = hi - lo
    if length <= 0:  # a one-pixel axis: everything maps onto it, nothing moves it
        return xp.full_like(s, lo), xp.zeros_like(s)
    below, above = s < lo, s > hi
    d = xp.where(below, lo - s, xp.where(above, s - hi, xp.zeros_like(s)))
    n = xp.floor(d / length)
    r = d - n * length
    even = n % 2 == 0
    folded = xp.where(below, xp.where(even, lo + r, hi - r),
                      xp.where(above, xp.where(even, hi - r, lo + r), s))
    slope = xp.where((below | above) & even, -1, 1).astype(s.dtype)
    return folded, slope


def _source_coord(xp, g, size, align_corners, padding_mode):
    """Normalised grid values -> pixel coordinates along one axis, after padding,
    and the derivative of those coordinates w.r.t. the grid values."""
    if align_corners:
        f0 = (g + 1) * (size - 1) / 2
        scale = (size - 1) / 2
    else:
        f0 = ((g + 1) * size - 1) / 2
        scale = size / 2
    if padding_mode == "zero":
        return f0, xp.full_like(f0, scale)
    if padding_mode == "repeat":
        inside = ((f0 >= 0) & (f0 <= size - 1)).astype(f0.dtype)
        return xp.clip(f0, 0, size - 1), inside * f0.dtype.type(scale)
    if align_corners:
        f, slope = _reflect(xp, f0, 0, size - 1)
        return f, slope * f0.dtype.type(scale)
    # Borders at -0.5 and size - 0.5: fold at twice the scale to stay on integers.
    f, slope = _reflect(xp, f0 * 2, -1, 2 * size - 1)
    f = f * f0.dtype.type(0.5)
    inside = ((f >= 0) & (f <= size - 1)).astype(f0.dtype)
    return xp.clip(f, 0, size - 1), slope * inside * f0.dtype.type(scale)


def _round_half_away(xp, f):
    """C's round(): halves go away from zero (numpy's round goes to even). Not
    floor(f + 0.5), which rounds 0.49999997 up in float32."""
    a = xp.abs(f)
    r = xp.floor(a)
    return xp.copysign(r + (a - r >= 0.5), f)


class WarpByGrid(Function):
    """y[b, c, p] = x[b, c] sampled at grid[b, p] (linear or nearest)."""

    grad_reads_outputs = False

    def __init__(self, mode="linear", padding_mode="zero", align_corners=False,
                 channel_last=False):
        keep_args(self, locals())

    def setup(self, x, grid):
        require(self, self.mode in ("linear", "nearest"),
                f"mode={self.mode!r} is not one of 'linear', 'nearest'")
        require(self, self.padding_mode in ("zero", "repeat", "reflect"),
                f"padding_mode={self.padding_mode!r} is not one of 'zero', 'repeat', 'reflect'")
        n = len(grid)
        require(self, n in (4, 5) and grid[-1] == n - 2,
                f"grid {grid} must be (B, H, W, 2) or (B, D, H, W, 3)")
        require(self, len(x) == n, f"x {x} must have {n} dimensions like grid {grid} "
                f"({'(B, *spatial, C)' if self.channel_last else '(B, C, *spatial)'})")
        require(self, x[0] == grid[0], f"x {x} and grid {grid} differ in batch size")
        out = tuple(grid[1:-1])
        if self.channel_last:
            self._in, channels = tuple(x[1:-1]), x[-1]
            return (x[0],) + out + (channels,)
        self._in, channels = tuple(x[2:]), x[1]
        return (x[0], channels) + out

    def _to_rows(self, x):
        """x as (B, pixels, C): the layout the gathers index (sizes spelled out:
        -1 is ambiguous for an empty array)."""
        b, c = x.shape[0], (x.shape[-1] if self.channel_last else x.shape[1])
        pixels = prod(x.shape[1:-1] if self.channel_last else x.shape[2:])
        if self.channel_last:
            return x.reshape(b, pixels, c)
        return x.reshape(b, c, pixels).transpose(0, 2, 1)

    def _from_rows(self, rows, spatial):
        b, c = rows.shape[0], rows.shape[-1]
        if self.channel_last:
            return rows.reshape((b,) + spatial + (c,))
        return rows.transpose(0, 2, 1).reshape((b, c) + spatial)

    def _corners(self, xp, grid):
        """For each corner of the sampling cell: (flat pixel index, inside the
        image, [weight along each axis]), each (B, Q), in the order of
        itertools.product((0, 1), repeat=d); and d(coordinate)/d(grid) per axis.
        Axes run (z,) y, x; grid component k belongs to the k-th axis from the last."""
        d = len(self._in)
        b = grid.shape[0]
        per_axis, coefs = [], []
        for i, size in enumerate(self._in):
            f, coef = _source_coord(xp, grid[..., d - 1 - i].reshape(b, -1), size,
                                    self.align_corners, self.padding_mode)
            coefs.append(coef)
            if self.mode == "nearest":
                j = _round_half_away(xp, f)
                per_axis.append([(j, xp.ones_like(f))])
            else:
                j0 = xp.floor(f)
                w1 = f - j0
                per_axis.append([(j0, 1 - w1), (j0 + 1, w1)])
        strides = [prod(self._in[i + 1:]) for i in range(d)]
        corners = []
        for choice in itertools.product(*per_axis):
            valid = None
            flat = 0
            weights = []
            for (j, w), size, stride in zip(choice, self._in, strides):
                ok = (j >= 0) & (j <= size - 1)
                valid = ok if valid is None else valid & ok
                flat = flat + xp.where(ok, j, 0).astype(xp.int64) * stride
                weights.append(w)
            corners.append((flat, valid, weights))
        return corners, coefs

    def forward(self, xp, x, grid):
        if prod(self._in) == 0:  # no pixel to sample: every position is outside (zeros)
            return xp.zeros(self.out_shapes[0], x.dtype)
        rows = contiguous(xp, self._to_rows(x))
        bidx = xp.arange(x.shape[0])[:, None]
        y = None
        for flat, valid, weights in self._corners(xp, grid)[0]:
            w = (prod(weights) * valid).astype(x.dtype)
            term = rows[bidx, flat] * w[..., None]
            y = term if y is None else y + term
        return self._from_rows(y, tuple(grid.shape[1:-1]))

    def backward(self, xp, xs, ys, gys):
        x, grid = xs
        need_x, need_grid = self.need
        if need_grid and self.mode == "nearest":
            raise NotImplementedError(
                "WarpByGrid: the gradient w.r.t. grid is not defined for mode='nearest' "
                "(as in NNabla); use mode='linear' or set grid.need_grad = False")
        gy = self._to_rows(gys[0])
        bidx = xp.arange(x.shape[0])[:, None]
        corners, coefs = self._corners(xp, grid)
        gx = ggrid = None
        if prod(self._in) == 0:  # the output did not depend on anything
            return (xp.zeros(x.shape, gy.dtype) if need_x else None,
                    xp.zeros(grid.shape, grid.dtype) if need_grid else None)
        if need_x:
            gx = xp.zeros((x.shape[0], prod(self._in), gy.shape[-1]), dtype=gy.dtype)
            for flat, valid, weights in corners:
                w = (prod(weights) * valid).astype(gy.dtype)
                scatter_add(xp, gx, (bidx, flat), gy * w[..., None])
            gx = self._from_rows(gx, self._in)
        if need_grid:
            rows = contiguous(xp, self._to_rows(x))
            d = len(self._in)
            slopes = [0] * d
            # d y / d coordinate along axis a: the other axes' weights times +-1.
            for bits, (flat, valid, weights) in zip(itertools.product((0, 1), repeat=d),
                                                    corners):
                v = (rows[bidx, flat] * gy).sum(-1) * valid
                for a in range(d):
                    others = prod([w for i, w in enumerate(weights) if i != a])
                    term = v * others
                    slopes[a] = slopes[a] + term if bits[a] else slopes[a] - term
            ggrid = xp.empty(grid.shape, dtype=grid.dtype)
            for a in range(d):
                ggrid[..., d - 1 - a] = (slopes[a] * coefs[a]).reshape(grid.shape[:-1])
        return gx, ggrid


@named
def warp_by_grid(x, grid, mode="linear", padding_mode="zero", align_corners=False,
                 channel_last=False):
    """Sample ``x`` at the normalised positions of ``grid`` (spatial transformer).

    ``grid[..., 0]`` is x (width), ``grid[..., 1]`` y (height), ``grid[..., 2]``
    z (depth), each in [-1, 1] over the input: pixel centres of the corner pixels
    when ``align_corners`` is True, the outer edges of the corner pixels when False.

    Args:
        x (~nnabla.Variable): (B, C, H, W) or (B, C, D, H, W); (B, ..., C) with
            ``channel_last``.
        grid (~nnabla.Variable): (B, Ho, Wo, 2) or (B, Do, Ho, Wo, 3), e.g. from
            ``affine_grid``.
        mode (str): 'linear' (bi/trilinear) or 'nearest'.
        padding_mode (str): values outside the input: 'zero', 'repeat' (the
            border pixel) or 'reflect' (mirrored at the border).
        align_corners (bool): see above.
        channel_last (bool): channels on the last axis of ``x`` and of the output.

    Returns:
        ~nnabla.Variable: (B, C, Ho, Wo) or (B, C, Do, Ho, Wo) (channels last with
        ``channel_last``). In 'nearest' mode there is no gradient w.r.t. ``grid``.
    """
    return WarpByGrid(mode, padding_mode, align_corners, channel_last)(x, grid)


class WarpByFlow(Function):
    """y[n, c, i, j] = data[n, c] bilinearly sampled at (i + flow_y, j + flow_x)."""

    grad_reads_outputs = False

    def setup(self, data, flow):
        require(self, len(data) == 4, f"data {data} must be (N, C, H, W)")
        require(self, len(flow) == 4 and flow[1] == 2 and flow[0] == data[0]
                and tuple(flow[2:]) == tuple(data[2:]),
                f"flow {flow} must be (N, 2, H, W) = {(data[0], 2) + tuple(data[2:])} "
                f"for data {data}")
        return tuple(data)

    def _cell(self, xp, flow):
        """Corner indices (clamped to the image, so outside it repeats the border)
        and the fractions alpha (x) and beta (y), measured from the clamped corner."""
        n, _, h, w = flow.shape
        xf = flow[:, 0] + xp.arange(w, dtype=flow.dtype)
        yf = flow[:, 1] + xp.arange(h, dtype=flow.dtype)[:, None]
        x0, y0 = xp.floor(xf), xp.floor(yf)
        # fmax/fmin clamp like clip but send a NaN flow to pixel 0: its fractions
        # stay NaN, so the output there is NaN (as in NNabla), not a wild index
        xl, xr = xp.fmin(xp.fmax(x0, 0), w - 1), xp.fmin(xp.fmax(x0 + 1, 0), w - 1)
        yt, yb = xp.fmin(xp.fmax(y0, 0), h - 1), xp.fmin(xp.fmax(y0 + 1, 0), h - 1)
        flat = {}
        for name, yi, xi in (("tl", yt, xl), ("tr", yt, xr), ("bl", yb, xl), ("br", yb, xr)):
            flat[name] = (yi * w + xi).astype(xp.int64).reshape(n, 1, h * w)
        return flat, xf, yf, xl, xr, yt, yb

    @staticmethod
    def _gather(xp, data, flat):
        n, c = data.shape[:2]
        rows = data.reshape(n, c, prod(data.shape[2:]))
        return {k: xp.take_along_axis(rows, xp.broadcast_to(v, (n, c, v.shape[-1])), axis=2)
                for k, v in flat.items()}

    def forward(self, xp, data, flow):
        flat, xf, yf, xl, _, yt, _ = self._cell(xp, flow)
        v = self._gather(xp, data, flat)
        n, c, h, w = data.shape
        alpha = (xf - xl).reshape(n, 1, h * w)
        beta = (yf - yt).reshape(n, 1, h * w)
        upper = alpha * (v["tr"] - v["tl"]) + v["tl"]
        lower = alpha * (v["br"] - v["bl"]) + v["bl"]
        return (beta * (lower - upper) + upper).reshape(data.shape)

    def backward(self, xp, xs, ys, gys):
        data, flow = xs
        need_data, need_flow = self.need
        n, c, h, w = data.shape
        flat, xf, yf, xl, xr, yt, yb = self._cell(xp, flow)
        gy = gys[0].reshape(n, c, h * w)
        gdata = gflow = None
        if need_data:
            alpha = (xf - xl).reshape(n, 1, h * w)
            beta = (yf - yt).reshape(n, 1, h * w)
            weights = {"tl": (1 - alpha) * (1 - beta), "tr": alpha * (1 - beta),
                       "bl": (1 - alpha) * beta, "br": alpha * beta}
            # One flat index over (N, C, H*W) for each corner: a 1-D scatter-add.
            base = (xp.arange(n * c, dtype=xp.int64) * (h * w)).reshape(n, c, 1)
            gdata = xp.zeros(n * c * h * w, dtype=gy.dtype)
            for k, idx in flat.items():
                scatter_add(xp, gdata, (idx + base).reshape(-1),
                            (gy * weights[k]).reshape(-1))
            gdata = gdata.reshape(data.shape)
        if need_flow:
            v = self._gather(xp, data, flat)
            # Derivatives as NNabla states them: from the clamped far corners, so a
            # sample on a clamped (border) axis gets zero slope along that axis.
            ay = (yb - yf).reshape(n, 1, h * w)
            ax = (xr - xf).reshape(n, 1, h * w)
            dx = ay * (v["tr"] - v["tl"]) + (1 - ay) * (v["br"] - v["bl"])
            dy = ax * (v["bl"] - v["tl"]) + (1 - ax) * (v["br"] - v["tr"])
            gflow = xp.stack([(gy * dx).sum(1), (gy * dy).sum(1)], axis=1).reshape(flow.shape)
        return gdata, gflow


@named
def warp_by_flow(data, flow):
    """Warp images by a dense flow field with bilinear interpolation.

    ``y[n, c, i, j] = data[n, c]`` sampled at row ``i + flow[n, 1, i, j]`` and
    column ``j + flow[n, 0, i, j]``; positions outside the image take the
    nearest border pixel.

    Args:
        data (~nnabla.Variable): (N, C, H, W).
        flow (~nnabla.Variable): (N, 2, H, W), displacements in pixels (x, y).

    Returns:
        ~nnabla.Variable: (N, C, H, W).
    """
    return WarpByFlow()(data, flow)


class PatchCorrelation(Function):
    """Cost volume of (N, H, W, C) inputs: (N, H_o, W_o, C_y, C_x)."""

    def __init__(self, patch=(1, 1), shift=(0, 0), patch_step=(1, 1), shift_step=(1, 1),
                 padding=(0, 0, 0, 0)):
        self.patch = tuple(patch)
        self.shift = tuple(shift)
        self.patch_step = tuple(patch_step)
        self.shift_step = tuple(shift_step)
        self.padding = tuple(padding)

    def setup(self, x1, x2):
        require(self, len(x1) == 4 and x1 == x2,
                f"x1 {x1} and x2 {x2} must be 4-D (N, H, W, C) of equal shape")
        for name, value, least, count in (("patch", self.patch, 1, 2),
                                          ("shift", self.shift, 0, 2),
                                          ("patch_step", self.patch_step, 1, 2),
                                          ("shift_step", self.shift_step, 1, 2),
                                          ("padding", self.padding, 0, 4)):
            require(self, len(value) == count and all(int(v) >= least for v in value),
                    f"{name}={value} must be {count} integers >= {least}")
        n, h, w, _ = x1
        (ph, pw), (sh, sw) = self.patch, self.shift
        top, bottom, left, right = self.padding
        hp, wp = h + top + bottom, w + left + right
        require(self, hp >= ph and wp >= pw, f"patch={self.patch} does not fit in x1 {x1} "
                f"padded by {self.padding} to {hp}x{wp}")
        ho = (hp - ph) // self.patch_step[0] + 1
        wo = (wp - pw) // self.patch_step[1] + 1
        cy = 2 * sh // self.shift_step[0] + 1
        cx = 2 * sw // self.shift_step[1] + 1
        # Rows / columns of the padded x1 that some patch covers.
        self._used = ((ho - 1) * self.patch_step[0] + ph, (wo - 1) * self.patch_step[1] + pw)
        return (n, ho, wo, cy, cx)

    def _padded(self, xp, x1, x2):
        top, bottom, left, right = self.padding
        sh, sw = self.shift
        # x2 gets the shift range as extra zero margin, so every shifted view is a slice.
        x1p = xp.pad(x1, ((0, 0), (top, bottom), (left, right), (0, 0)))
        x2p = xp.pad(x2, ((0, 0), (top + sh, bottom + sh), (left + sw, right + sw), (0, 0)))
        return x1p, x2p

    def _shifts(self):
        """(i, j, slices of the padded x2 aligned with the used part of the padded x1)."""
        hu, wu = self._used
        _, _, _, cy, cx = self.out_shapes[0]
        for i in range(cy):
            oy = i * self.shift_step[0]
            for j in range(cx):
                ox = j * self.shift_step[1]
                yield i, j, (slice(None), slice(oy, oy + hu), slice(ox, ox + wu))

    def _patch_offsets(self):
        """Slices picking, per patch offset, the patch origins out of the used area."""
        _, ho, wo, _, _ = self.out_shapes[0]
        (sy, sx), (ph, pw) = self.patch_step, self.patch
        for a in range(ph):
            for b in range(pw):
                yield (slice(None), slice(a, a + (ho - 1) * sy + 1, sy),
                       slice(b, b + (wo - 1) * sx + 1, sx))

    def forward(self, xp, x1, x2):
        x1p, x2p = self._padded(xp, x1, x2)
        hu, wu = self._used
        n, ho, wo, cy, cx = self.out_shapes[0]
        x1u = x1p[:, :hu, :wu]
        # Channel products per pixel and shift, then summed over each patch.
        prods = xp.empty((n, hu, wu, cy, cx), dtype=x1.dtype)
        for i, j, sl in self._shifts():
            prods[..., i, j] = xp.einsum("nhwc,nhwc->nhw", x1u, x2p[sl])
        y = xp.zeros((n, ho, wo, cy, cx), dtype=x1.dtype)
        for sl in self._patch_offsets():
            y += prods[sl]
        return y

    def backward(self, xp, xs, ys, gys):
        x1, x2 = xs
        x1p, x2p = self._padded(xp, x1, x2)
        hu, wu = self._used
        n, ho, wo, cy, cx = self.out_shapes[0]
        gprods = xp.zeros((n, hu, wu, cy, cx), dtype=gys[0].dtype)
        for sl in self._patch_offsets():
            gprods[sl] += gys[0]
        g1 = xp.zeros_like(x1p) if self.need[0] else None
        g2 = xp.zeros_like(x2p) if self.need[1] else None
        for i, j, sl in self._shifts():
            g = gprods[..., i, j, None]
            if g1 is not None:
                g1[:, :hu, :wu] += g * x2p[sl]
            if g2 is not None:
                g2[sl] += g * x1p[:, :hu, :wu]
        top, _, left, _ = self.padding
        h, w = x1.shape[1:3]
        sh, sw = self.shift
        if g1 is not None:
            g1 = g1[:, top:top + h, left:left + w]
        if g2 is not None:
            g2 = g2[:, top + sh:top + sh + h, left + sw:left + sw + w]
        return g1, g2


def _pair(value):
    if isinstance(value, int):
        return (value, value)
    return tuple(value)


@named
def patch_correlation(x1, x2, patch=(1, 1), shift=(0, 0), patch_step=(1, 1), shift_step=(1, 1),
                      padding=(0, 0, 0, 0), channel_last=False):
    """Correlation of patches of x1 with shifted patches of x2 (FlowNetC's cost volume).

    .. math::
        y(s_y, s_x, h, w) = \\sum_c \\sum_{k_h, k_w} x_1(c, h + k_h, w + k_w)\\,
                            x_2(c, h + k_h + s_y, w + k_w + s_x)

    with patch origins h, w stepping by ``patch_step`` over the zero-padded image and
    shifts s from -shift to +shift stepping by ``shift_step``; x2 is zero outside
    the image.

    Args:
        x1, x2 (Variable): (N, C, H, W) arrays (``(N, H, W, C)`` if channel_last).
        patch (int or tuple): patch height and width.
        shift (int or tuple): largest vertical and horizontal shift.
        patch_step (int or tuple): step between patch origins.
        shift_step (int or tuple): step between shifts.
        padding (int or tuple): top, bottom, left, right zero padding (two values:
            top/bottom and left/right).
        channel_last (bool): NHWC inputs and (N, H_o, W_o, C_y, C_x) output.

    Returns:
        Variable: (N, C_y, C_x, H_o, W_o) with H_o = (H + top + bottom - patch_h) //
        patch_step_h + 1 and C_y = 2 shift_h // shift_step_h + 1 (W_o, C_x alike).
    """
    from .array import input_shape, reshape, transpose
    s1, s2 = input_shape("patch_correlation", x1, "x1"), input_shape("patch_correlation", x2, "x2")
    if not len(s1) == len(s2) == 4:
        raise ValueError(f"patch_correlation: x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} "
                         "must both have 4 dimensions")
    if s1 != s2:
        raise ValueError(f"patch_correlation: x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} "
                         "must have equal shapes")
    patch, shift, patch_step, shift_step = map(_pair, (patch, shift, patch_step, shift_step))
    if isinstance(padding, int):
        padding = (padding,) * 4
    padding = tuple(padding)
    if len(padding) == 2:
        padding = (padding[0], padding[0], padding[1], padding[1])
    if not channel_last:
        n, c, h, w = x1.shape
        if c == 1:  # a free reshape instead of a transpose
            x1, x2 = reshape(x1, (n, h, w, 1)), reshape(x2, (n, h, w, 1))
        else:
            x1, x2 = transpose(x1, (0, 2, 3, 1)), transpose(x2, (0, 2, 3, 1))
    y = PatchCorrelation(patch, shift, patch_step, shift_step, padding)(x1, x2)
    if not channel_last:
        y = transpose(y, (0, 3, 4, 1, 2))
    return y
