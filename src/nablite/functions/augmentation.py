"""Random data augmentation: random_crop, random_flip, random_shift, random_erase
and image_augmentation.

They share stochastic.py's RandomFunction: draws happen in ``forward`` (every
forward draws anew) and are kept for ``backward``; ``seed=-1`` draws from
``nablite.random.function_rng``, ``seed >= 0`` gives the function its own
``RandomState(seed)``. Draws are made with NumPy on the host, so sequences
differ from NNabla's generator; only the draws (one value or a few per sample)
cross to the function's array module, where the index grids, boxes and sampling
geometry are computed.
"""
import numpy as np

from ..backend import scatter_add
from .base import node_constant, prod, require, named
from .array import check_sizes
from .stochastic import RandomFunction, _on, _shape_tuple

__all__ = ["random_crop", "random_flip", "random_shift", "random_erase", "image_augmentation"]


def _batch_view(shape, base_axis):
    """(number of samples, per-sample shape) for the axes before/after base_axis."""
    return prod(shape[:base_axis]), tuple(shape[base_axis:])


def _grid(xp, b, sizes, offsets):
    """Index arrays (sample, axis 1, axis 2, ...) broadcasting to (b, *sizes);
    ``offsets[j]`` (b,), a host draw, is added to axis j's range (None: no offset)."""
    nd = len(sizes)
    out = [xp.arange(b).reshape((b,) + (1,) * nd)]
    for j, n in enumerate(sizes):
        shape = [1] * (nd + 1)
        shape[j + 1] = n
        idx = xp.arange(n).reshape(shape)
        if offsets[j] is not None:
            idx = idx + _on(xp, offsets[j]).reshape((b,) + (1,) * nd)
        out.append(idx)
    return out


class RandomCrop(RandomFunction):
    """Crop each sample (axes from base_axis on) to ``shape`` at a random position;
    ``shape`` lines up with the trailing axes. Where it is longer than a sample,
    its first entries crop the axes before base_axis (the batch), with one
    random window for all samples, as NNabla does (``shape=x.shape`` keeps them)."""
    forward_state = ('_idx', '_window')  # kept from forward for backward

    def __init__(self, shape=None, base_axis=1, seed=-1):
        super().__init__(seed)
        self.shape, self.base_axis = shape, base_axis

    def setup(self, x):
        crop = x[self.base_axis:] if self.shape is None else _shape_tuple(self.shape)
        require(self, 0 <= self.base_axis <= len(x),
                f"base_axis={self.base_axis} is out of range for x {x}")
        tail = x[self.base_axis:]
        n_lead = max(0, len(crop) - len(tail))
        require(self, n_lead <= self.base_axis,
                f"shape={tuple(crop)} has more dimensions than x {x}")
        lead = tuple(zip(range(self.base_axis - n_lead, self.base_axis), crop[:n_lead]))
        crop = tuple(crop[n_lead:])
        require(self, all(0 < c <= s for c, s in zip(crop[::-1], tail[::-1])) and all(
            0 < c <= x[a] for a, c in lead),
            f"shape={tuple(c for _, c in lead) + crop} does not fit in x {x} (its last "
            f"{len(tail)} axes are a sample)")
        self._lead = lead  # (axis, size) of the axes before base_axis it crops
        self._crop = tail[:len(tail) - len(crop)] + crop
        head = list(x[:self.base_axis])
        for a, c in lead:
            head[a] = c
        return tuple(head) + self._crop

    def forward(self, xp, x):
        window = [slice(None)] * x.ndim  # one window over the leading axes
        for a, c in self._lead:
            o = int(self.rng.randint(0, x.shape[a] - c + 1))
            window[a] = slice(o, o + c)
        self._window = tuple(window)
        x = x[self._window]
        b, sample = _batch_view(x.shape, self.base_axis)
        offsets = [self.rng.randint(0, s - c + 1, size=b) if c < s else None
                   for s, c in zip(sample, self._crop)]
        self._idx = tuple(_grid(xp, b, self._crop, offsets))
        return x.reshape((b,) + sample)[self._idx].reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        x = xs[0]
        gx = xp.zeros(x.shape, gys[0].dtype)
        inner = gx[self._window]  # (a view: the window's gradient lands in gx)
        b, sample = _batch_view(inner.shape, self.base_axis)
        flat = xp.zeros((b,) + sample, gys[0].dtype)
        flat[self._idx] = gys[0].reshape((b,) + self._crop)
        inner[...] = flat.reshape(inner.shape)
        return (gx,)


class RandomFlip(RandomFunction):
    """Flip each sample along each of ``axes`` with probability 1/2."""

    def __init__(self, axes=None, base_axis=1, seed=-1):
        super().__init__(seed)
        self.axes, self.base_axis = axes, base_axis

    def setup(self, x):
        axes = [len(x) - 1] if self.axes is None else list(self.axes)
        axes = [a % len(x) if -len(x) <= a < len(x) else -1 for a in axes]
        require(self, all(self.base_axis <= a for a in axes),
                f"axes={self.axes} must lie at or after base_axis={self.base_axis} in x {x}")
        self._axes = axes
        return x

    def _apply(self, xp, a):
        b, sample = _batch_view(a.shape, self.base_axis)
        y = a.reshape((b,) + sample).copy()
        for axis, flags in zip(self._axes, self._flags):
            sel = xp.nonzero(flags)[0]
            y[sel] = xp.flip(y[sel], axis=axis - self.base_axis + 1)
        return y.reshape(a.shape)

    def forward(self, xp, x):
        b = prod(x.shape[:self.base_axis])
        self._flags = [_on(xp, self.rng.randint(0, 2, size=b).astype(bool)) for _ in self._axes]
        return self._apply(xp, x)

    def backward(self, xp, xs, ys, gys):
        return (self._apply(xp, gys[0]),)  # flips are their own inverse


def _border(xp, idx, n, mode):
    """Map source indices outside [0, n) inside, per border mode."""
    if mode == "reflect":  # mirror with the edge repeated: -1 -> 0, n -> n - 1
        period = 2 * n
        idx = xp.mod(idx, period)
        return xp.where(idx >= n, period - 1 - idx, idx)
    return xp.clip(idx, 0, n - 1)


class RandomShift(RandomFunction):
    """Shift x by a random whole amount in [-s, s] along each axis with maximum shift s.

    As in NNabla, ``shifts`` lines up with the trailing axes of x (one entry per
    axis, e.g. (0, 0, 2, 2) for NCHW; a shorter tuple covers the last axes, a
    longer one's extra leading entries are unused). An axis from ``base_axis`` on
    gets its own shift per sample (per index of the axes before ``base_axis``);
    an axis d before ``base_axis`` gets one per index of the axes before d.
    Positions shifted in from outside: nearest (edge value), reflect (mirror,
    edge repeated: -1 -> 0) or constant."""
    forward_state = ('_idx', '_valid')  # kept from forward for backward; freed with the buffers

    def __init__(self, shifts=None, border_mode="nearest", constant_value=0, base_axis=1,
                 seed=-1):
        super().__init__(seed)
        self.shifts, self.border_mode = shifts, border_mode
        self.constant_value, self.base_axis = constant_value, base_axis

    def setup(self, x):
        require(self, self.border_mode in ("nearest", "reflect", "constant"),
                f"border_mode={self.border_mode!r} must be 'nearest', 'reflect' or 'constant'")
        nd = len(x)
        require(self, -nd <= self.base_axis < max(nd, 1),
                f"base_axis={self.base_axis} is out of range for x of {nd} dimensions")
        self._base = self.base_axis % max(nd, 1)
        shifts = tuple(int(v) for v in (self.shifts or ()))
        require(self, all(v >= 0 for v in shifts),
                f"shifts={shifts} must be maximum shifts (>= 0)")
        shifts = shifts[len(shifts) - nd:] if len(shifts) > nd else shifts
        self._shifts = (0,) * (nd - len(shifts)) + shifts
        self._constants = {}  # constant_value per module and dtype (node_constant)
        return x

    def forward(self, xp, x):
        shape, nd = x.shape, x.ndim
        idx, valid = [], None
        for d, (n, s) in enumerate(zip(shape, self._shifts)):
            src = xp.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1))
            if s:
                lead = shape[:min(d, self._base)]
                shift = _on(xp, self.rng.randint(-s, s + 1, size=lead))
                src = src - shift.reshape(lead + (1,) * (nd - len(lead)))
                inside = (src >= 0) & (src < n)
                valid = inside if valid is None else valid & inside
                src = _border(xp, src, n, self.border_mode)
            idx.append(src)
        self._idx = tuple(idx)
        self._valid = valid if self.border_mode == "constant" else None
        y = x[self._idx]
        if self._valid is not None:
            dtype = y.dtype
            fill = node_constant(self, xp, dtype,
                                 lambda: xp.asarray(self.constant_value, dtype))
            y = xp.where(self._valid, y, fill)
        return y

    def backward(self, xp, xs, ys, gys):
        gy = gys[0]
        if self._valid is not None:
            gy = gy * self._valid
        gx = xp.zeros(xs[0].shape, gy.dtype)
        scatter_add(xp, gx, tuple(xp.broadcast_to(i, gy.shape) for i in self._idx), gy)
        return (gx,)


class RandomErase(RandomFunction):
    """Random erasing (Zhong et al., 2017): with probability ``prob`` each of ``n``
    rectangles (area and aspect ratio drawn from the given ranges) is filled
    with a value drawn from ``replacements``, per sample (and per channel unless
    ``share``). The last two axes (or those before the channel with channel_last)
    are the image. ste_fine_grained: no gradient at erased positions."""
    forward_state = ('_erased',)  # kept from forward for backward; freed with the buffers

    def __init__(self, prob=0.5, area_ratios=(0.02, 0.4), aspect_ratios=(0.3, 3.3333),
                 replacements=(0.0, 255.0), n=1, share=True, inplace=False, base_axis=1, seed=-1,
                 channel_last=False, ste_fine_grained=True):
        super().__init__(seed)
        self.prob, self.area_ratios, self.aspect_ratios = prob, area_ratios, aspect_ratios
        self.replacements, self.n, self.share, self.inplace = replacements, n, share, inplace
        self.base_axis, self.channel_last = base_axis, channel_last
        self.ste_fine_grained = ste_fine_grained

    def setup(self, x):
        require(self, len(x) - self.base_axis >= 3,
                f"x {x} needs (C, H, W) after base_axis={self.base_axis}")
        return x

    def _layout(self, shape):
        """x viewed as (B, C, H, W) (moving the channel for channel_last)."""
        b = prod(shape[:self.base_axis])
        if self.channel_last:
            h, w, c = shape[-3], shape[-2], shape[-1]
            return b, prod(shape[self.base_axis:-3]) * c, h, w
        return b, prod(shape[self.base_axis:-2]), shape[-2], shape[-1]

    def forward(self, xp, x):
        b, c, h, w = self._layout(x.shape)
        y = xp.moveaxis(x.reshape((b,) + x.shape[self.base_axis:]), -1, -3) \
            if self.channel_last else x
        y = y.reshape(b, c, h, w).copy()
        erased = xp.zeros((b, c, h, w), bool)
        units = (b, 1) if self.share else (b, c)
        rng = self.rng
        rows = xp.arange(h)[None, None, :, None]
        cols = xp.arange(w)[None, None, None, :]
        for _ in range(self.n):
            # the draws (one per sample or channel) on the host; the boxes on xp
            hit = rng.random_sample(units) < self.prob
            area = rng.uniform(*self.area_ratios, size=units) * h * w
            aspect = rng.uniform(*self.aspect_ratios, size=units)
            eh = np.clip(np.round(np.sqrt(area * aspect)), 1, h).astype(int)
            ew = np.clip(np.round(np.sqrt(area / aspect)), 1, w).astype(int)
            top = (rng.random_sample(units) * (h - eh + 1)).astype(int)
            left = (rng.random_sample(units) * (w - ew + 1)).astype(int)
            value = rng.uniform(*self.replacements, size=units)
            hit, top, bottom, left, right, value = (
                _on(xp, a[..., None, None]) for a in
                (hit, top, top + eh, left, left + ew, value.astype(x.dtype)))
            box = (hit & (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right))
            box = xp.broadcast_to(box, (b, c, h, w))
            y = xp.where(box, value, y)
            erased |= box
        self._erased = erased
        return self._restore(xp, y, x.shape)

    def _restore(self, xp, y, shape):
        if self.channel_last:
            sample = shape[self.base_axis:]
            y = y.reshape((y.shape[0],) + sample[:-3] + (sample[-1],) + sample[-3:-1])
            y = xp.moveaxis(y, -3, -1)
        return y.reshape(shape)

    def backward(self, xp, xs, ys, gys):
        gy = gys[0]
        if not self.ste_fine_grained:
            return (gy,)
        keep = self._restore(xp, ~self._erased, gy.shape)
        return (gy * keep,)


class ImageAugmentation(RandomFunction):
    """Random geometric and photometric augmentation of images (the last two axes
    are H, W, the one before them C when there is one; earlier ones index images).
    Per image, with NNabla's distributions: zoom by a log-uniform scale in
    [min_scale, max_scale], stretch by a log-uniform aspect ratio in [1/a, a],
    rotate by up to ``angle`` radians, crop ``shape`` at a uniform position of
    the ``pad``-ed image (bilinear sampling, edges repeated), bend the crop
    radially by a lens factor ``exp(U(-distortion, distortion)) - 1``, flip, then
    add brightness in [-b, b], scale the contrast around ``contrast_center`` by
    a log-uniform factor in [1/c, c] and add Gaussian noise of a standard
    deviation drawn uniformly in [0, noise]. With the defaults the output equals
    the input. No gradient flows back.
    """

    def __init__(self, shape=None, pad=(0, 0), min_scale=1.0, max_scale=1.0, angle=0.0,
                 aspect_ratio=1.0, distortion=0.0, flip_lr=False, flip_ud=False, brightness=0.0,
                 brightness_each=False, contrast=1.0, contrast_center=0.0, contrast_each=False,
                 noise=0.0, seed=-1):
        super().__init__(seed)
        self.shape, self.pad, self.min_scale, self.max_scale = shape, pad, min_scale, max_scale
        self.angle, self.aspect_ratio, self.distortion = angle, aspect_ratio, distortion
        self.flip_lr, self.flip_ud, self.brightness = flip_lr, flip_ud, brightness
        self.brightness_each, self.contrast = brightness_each, contrast
        self.contrast_center, self.contrast_each, self.noise = contrast_center, contrast_each, noise

    def setup(self, x):
        require(self, len(x) >= 2, f"x {x} needs (H, W) as its last two axes")
        shape = x if self.shape is None else _shape_tuple(self.shape)
        require(self, 2 <= len(shape) <= len(x),
                f"shape={tuple(shape)} must give (H, W), or (C, H, W), ... ending like x {x}")
        require(self, tuple(shape[:-2]) == tuple(x[len(x) - len(shape):-2]),
                f"shape={tuple(shape)} may change only (H, W) of x {x}; expected "
                f"{tuple(x[len(x) - len(shape):-2]) + tuple(shape[-2:])}")
        check_sizes(self, "shape", shape)
        pad = self.pad
        require(self, isinstance(pad, (tuple, list)) and len(pad) == 2 and all(
            isinstance(p, (int, np.integer)) for p in pad),
            f"pad={pad!r}; expected (pad_h, pad_w), two integers", TypeError)
        require(self, all(p >= 0 for p in pad), f"pad={tuple(pad)} must be >= 0")
        out = x[:-2] + tuple(shape[-2:])
        require(self, 0 not in x[-2:] or 0 in out,
                f"x {x} has an empty image (H, W) = {tuple(x[-2:])}, and shape="
                f"{tuple(shape)} asks for pixels: there is nothing to sample; expected "
                "H, W >= 1")
        return out

    def _geometry(self, xp, n, h, w, ho, wo):
        """Per image and output pixel, where it samples the input: (src_y, src_x)."""
        rng = self.rng
        lo, hi = np.log(self.min_scale), np.log(self.max_scale)
        scale = np.exp(lo + rng.random_sample(n) * (hi - lo))
        log_ar = np.log(max(self.aspect_ratio, 1e-12))
        ar = np.exp(rng.uniform(-abs(log_ar), abs(log_ar), n))
        sx, sy = scale * np.sqrt(ar), scale / np.sqrt(ar)
        theta = rng.uniform(-self.angle, self.angle, n)
        # Crop centre (input pixels): uniform over where NNabla places the scaled
        # window inside the scaled, padded image.
        py, px = self.pad
        cy = rng.random_sample(n) * (h + 2 * py - ho / sy) + (ho - 1) / (2 * sy) - py
        cx = rng.random_sample(n) * (w + 2 * px - wo / sx) + (wo - 1) / (2 * sx) - px
        fy = np.where(self.flip_ud & (rng.random_sample(n) < 0.5), -1.0, 1.0)
        fx = np.where(self.flip_lr & (rng.random_sample(n) < 0.5), -1.0, 1.0)
        lens = np.expm1(rng.uniform(-self.distortion, self.distortion, n))
        # the per-image draws (host, n values each) go to xp; the per-pixel geometry there
        fy, fx, cos, sin, cy, cx, sy, sx, lens = (
            _on(xp, v)[:, None, None]
            for v in (fy, fx, np.cos(theta), np.sin(theta), cy, cx, sy, sx, lens))
        iy = xp.arange(ho, dtype=np.float64)[None, :, None]
        ix = xp.arange(wo, dtype=np.float64)[None, None, :]
        if self.distortion:
            # Lens: output offsets from the crop's middle, as fractions of its half
            # sizes, stretch by (1 + lens r^2) / (1 + lens).
            u, v = ix / (wo / 2) - 1, iy / (ho / 2) - 1
            bend = (1 + lens * (u * u + v * v)) / (1 + lens)
            iy, ix = (v * bend + 1) * (ho / 2), (u * bend + 1) * (wo / 2)
        oy = (iy - (ho - 1) / 2) * fy
        ox = (ix - (wo - 1) / 2) * fx
        return cy + (cos * oy + sin * ox) / sy, cx + (-sin * oy + cos * ox) / sx

    def forward(self, xp, x):
        c, (h, w) = (x.shape[-3] if x.ndim > 2 else 1), x.shape[-2:]
        n = prod(x.shape[:-3])
        ho, wo = self.out_shapes[0][-2:]
        rng = self.rng
        src_y, src_x = self._geometry(xp, n, h, w, ho, wo)
        imgs = x.reshape(n, c, h, w).transpose(0, 2, 3, 1)
        y = _bilinear(xp, imgs, src_y, src_x).transpose(0, 3, 1, 2)
        units = (n, c) if self.brightness_each else (n, 1)
        y = y + _on(xp, rng.uniform(-self.brightness, self.brightness, units)[..., None, None]
                    .astype(x.dtype))
        units = (n, c) if self.contrast_each else (n, 1)
        log_c = abs(np.log(max(self.contrast, 1e-12)))
        gain = _on(xp, np.exp(rng.uniform(-log_c, log_c, units))[..., None, None].astype(x.dtype))
        y = (y - self.contrast_center) * gain + self.contrast_center
        if self.noise > 0:
            level = rng.random_sample((n, 1, 1, 1)) * self.noise  # one per image, as NNabla
            y = y + _on(xp, (rng.standard_normal(y.shape) * level).astype(x.dtype))
        return y.astype(x.dtype, copy=False).reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        return (None,)


def _bilinear(xp, imgs, sy, sx):
    """imgs (N, H, W, C) sampled at float coordinates (N, h, w), edges repeated."""
    n, h, w, _ = imgs.shape
    sy, sx = xp.clip(sy, 0, h - 1), xp.clip(sx, 0, w - 1)
    y0, x0 = xp.floor(sy).astype(np.int64), xp.floor(sx).astype(np.int64)
    y1, x1 = xp.minimum(y0 + 1, h - 1), xp.minimum(x0 + 1, w - 1)
    wy, wx = (sy - y0)[..., None], (sx - x0)[..., None]
    b = xp.arange(n)[:, None, None]
    dt = imgs.dtype
    top = imgs[b, y0, x0] * (1 - wx).astype(dt) + imgs[b, y0, x1] * wx.astype(dt)
    bottom = imgs[b, y1, x0] * (1 - wx).astype(dt) + imgs[b, y1, x1] * wx.astype(dt)
    return top * (1 - wy).astype(dt) + bottom * wy.astype(dt)


@named
def random_crop(x, shape=None, base_axis=1, seed=-1, n_outputs=-1, outputs=None):
    """Crop each sample to ``shape`` (trailing axes) at a random position."""
    return RandomCrop(shape, base_axis, seed)(x, n_outputs=n_outputs, outputs=outputs)


@named
def random_flip(x, axes=None, base_axis=1, seed=-1, n_outputs=-1, outputs=None):
    """Flip each sample along each of ``axes`` (default: the last) with probability 1/2."""
    return RandomFlip(axes, base_axis, seed)(x, n_outputs=n_outputs, outputs=outputs)


@named
def random_shift(x, shifts=None, border_mode='nearest', constant_value=0, base_axis=1, seed=-1,
                 n_outputs=-1, outputs=None):
    """Shift x randomly by up to ``shifts[i]`` along each axis (NNabla's one entry per
    axis, lined up with the trailing axes), a new shift per sample for the axes from
    ``base_axis`` on; border_mode 'nearest', 'reflect' or 'constant'."""
    return RandomShift(shifts, border_mode, constant_value, base_axis, seed)(
        x, n_outputs=n_outputs, outputs=outputs)


@named
def random_erase(x, prob=0.5, area_ratios=(0.02, 0.4), aspect_ratios=(0.3, 3.3333),
                 replacements=(0.0, 255.0), n=None, share=True, inplace=False, base_axis=1,
                 seed=-1, channel_last=False, ste_fine_grained=True, n_outputs=-1, outputs=None):
    """Random erasing: fill up to ``n`` random rectangles of each image with random values."""
    return RandomErase(prob, area_ratios, aspect_ratios, replacements, 1 if n is None else n,
                       share, inplace, base_axis, seed, channel_last, ste_fine_grained)(
        x, n_outputs=n_outputs, outputs=outputs)


@named
def image_augmentation(x, shape=None, pad=(0, 0), min_scale=1.0, max_scale=1.0, angle=0.0,
                       aspect_ratio=1.0, distortion=0.0, flip_lr=False, flip_ud=False,
                       brightness=0.0, brightness_each=False, contrast=1.0, contrast_center=0.0,
                       contrast_each=False, noise=0.0, seed=-1, n_outputs=-1, outputs=None):
    """Random image augmentation; see :class:`ImageAugmentation`."""
    return ImageAugmentation(shape, pad, min_scale, max_scale, angle, aspect_ratio, distortion,
                             flip_lr, flip_ud, brightness, brightness_each, contrast,
                             contrast_center, contrast_each, noise, seed)(
        x, n_outputs=n_outputs, outputs=outputs)
