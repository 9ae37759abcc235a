"""Stochastic functions: dropout, random numbers, random choice/crop/flip/shift/erase,
image augmentation, and vat_noise (the perturbation step of virtual adversarial
training).

vat_noise is eps * x / ||x|| per sample; its backward passes no gradient and
instead stores eps * dy into w's DATA (the VAT power-iteration trick), as in
NNabla 1.39.

Random draws happen in ``forward`` (every forward draws anew) and the choices
are kept for ``backward``. ``seed=-1`` draws from ``nablite.random.function_rng``
(reseeded by ``nn.seed``), read when forward runs; ``seed >= 0`` gives the
function its own ``RandomState(seed)``, created with the function. Draws are
made with NumPy on the host, so sequences differ from NNabla's generator.
"""
import numpy as np

from .. import random as _random
from ..backend import scatter_add
from .base import Function, require, prod

__all__ = ["dropout", "rand", "randint", "randn", "rand_binomial", "rand_beta", "rand_gamma",
           "random_choice", "random_crop", "random_flip", "random_shift", "random_erase",
           "image_augmentation", "vat_noise"]


class RandomFunction(Function):
    """Owns the generator: a private one for ``seed >= 0``, else the global one."""

    def __init__(self, seed=-1):
        self.seed = seed
        self._own_rng = np.random.RandomState(seed) if seed >= 0 else None

    @property
    def rng(self):
        return self._own_rng if self._own_rng is not None else _random.function_rng


def _on(xp, a):
    return a if xp is np else xp.asarray(a)


def _shape_tuple(shape):
    return (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)


class Dropout(RandomFunction):
    """Zero each element with probability p and scale the others by 1 / (1 - p)."""

    def __init__(self, p=0.5, seed=-1):
        super().__init__(seed)
        self.p = p

    def setup(self, x):
        require(self, 0 <= self.p < 1, f"p={self.p} must be in [0, 1)")
        return x

    def forward(self, xp, x):
        if self.p == 0:
            self._mask = None
            return x.copy()
        keep = _on(xp, self.rng.random_sample(x.shape) >= self.p)
        self._mask = mask = keep.astype(x.dtype)
        mask *= 1 / (1 - self.p)
        return x * mask

    def backward(self, xp, xs, ys, gys):
        return (gys[0] if self._mask is None else gys[0] * self._mask,)


class _Generator(RandomFunction):
    """No inputs; ``draw(rng, shape)`` gives the values."""

    dtype = np.float32

    def __init__(self, shape=(), seed=-1, **args):
        super().__init__(seed)
        self.__dict__.update(args)
        self.shape = list(_shape_tuple(shape))

    def setup(self):
        return tuple(self.shape)

    def forward(self, xp):
        return _on(xp, np.asarray(self.draw(self.rng, tuple(self.shape)), dtype=self.dtype))

    def backward(self, xp, xs, ys, gys):
        return ()


class Rand(_Generator):
    def draw(self, rng, shape):
        return rng.uniform(self.low, self.high, shape)


class Randint(_Generator):
    dtype = np.int32

    def draw(self, rng, shape):
        return rng.randint(self.low, self.high, shape)


class Randn(_Generator):
    def draw(self, rng, shape):
        return rng.normal(self.mu, self.sigma, shape)


class RandBinomial(_Generator):
    def draw(self, rng, shape):
        return rng.binomial(self.n, self.p, shape)


class RandBeta(_Generator):
    def draw(self, rng, shape):
        return rng.beta(self.alpha, self.beta, shape)


class RandGamma(_Generator):
    def draw(self, rng, shape):
        return rng.gamma(self.k, self.theta, shape)


class RandomChoice(RandomFunction):
    """Sample ``shape`` indices per row of w (last axis), output the matching x values."""
    forward_state = ('_idx',)  # kept from forward for backward; freed with the buffers

    def __init__(self, shape=(), replace=True, seed=-1):
        super().__init__(seed)
        self.shape, self.replace = list(_shape_tuple(shape)), replace

    def setup(self, x, w):
        require(self, x == w, f"w has shape {w}, it must equal x's shape {x}")
        require(self, len(x) >= 1, "x must have at least one axis")
        n, s = x[-1], prod(self.shape)
        require(self, self.replace or s <= n,
                f"replace=False cannot draw {s} samples from {n} choices")
        return x[:-1] + tuple(self.shape)

    def forward(self, xp, x, w):
        n = x.shape[-1]
        rows = int(np.prod(x.shape[:-1], dtype=np.int64))
        p = np.asarray(w, np.float64).reshape(rows, n)
        s = prod(self.shape)
        if self.replace:
            cdf = np.cumsum(p, axis=1)
            cdf /= cdf[:, -1:]
            u = self.rng.random_sample((rows, s))
            # One searchsorted over all rows: row r's values live in [r, r + 1).
            offset = np.arange(rows)[:, None]
            idx = np.searchsorted((cdf + offset).ravel(), (u + offset).ravel(), side="right")
            idx = np.minimum(idx.reshape(rows, s) - offset * n, n - 1)
        else:  # Gumbel top-k: a weighted draw without replacement
            keys = np.log(np.where(p > 0, p, 1e-300)) + self.rng.gumbel(size=(rows, n))
            idx = np.argsort(-keys, axis=1, kind="stable")[:, :s]
        self._idx = idx = _on(xp, idx)
        y = xp.take_along_axis(x.reshape(rows, n), idx, axis=1)
        return y.reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        x = xs[0]
        rows, n = self._idx.shape[0], x.shape[-1]
        g = xp.zeros((rows, n), gys[0].dtype)
        scatter_add(xp, g, (xp.arange(rows)[:, None], self._idx), gys[0].reshape(rows, -1))
        g = g.reshape(x.shape)
        # NNabla hands w the same scattered gradient as x.
        return (g if self.need[0] else None), (g if self.need[1] else None)


def _batch_view(shape, base_axis):
    """(number of samples, per-sample shape) for the axes before/after base_axis."""
    return prod(shape[:base_axis]), tuple(shape[base_axis:])


def _grid(b, sizes, offsets):
    """Index arrays (sample, axis 1, axis 2, ...) broadcasting to (b, *sizes);
    ``offsets[j]`` (b,) is added to axis j's range (None: no offset)."""
    nd = len(sizes)
    out = [np.arange(b).reshape((b,) + (1,) * nd)]
    for j, n in enumerate(sizes):
        shape = [1] * (nd + 1)
        shape[j + 1] = n
        idx = np.arange(n).reshape(shape)
        if offsets[j] is not None:
            idx = idx + offsets[j].reshape((b,) + (1,) * nd)
        out.append(idx)
    return out


class RandomCrop(RandomFunction):
    """Crop each sample (axes from base_axis on) to ``shape`` at a random position;
    ``shape`` lines up with the trailing axes."""
    forward_state = ('_idx',)  # kept from forward for backward; freed with the buffers

    def __init__(self, shape=None, base_axis=1, seed=-1):
        super().__init__(seed)
        self.shape, self.base_axis = shape, base_axis

    def setup(self, x):
        crop = x[self.base_axis:] if self.shape is None else _shape_tuple(self.shape)
        require(self, 0 <= self.base_axis <= len(x),
                f"base_axis={self.base_axis} is out of range for x {x}")
        tail = x[self.base_axis:]
        require(self, len(crop) <= len(tail) and all(
            0 < c <= s for c, s in zip(crop[::-1], tail[::-1])),
            f"shape={tuple(crop)} does not fit in the sample shape {tail}")
        self._crop = tail[:len(tail) - len(crop)] + tuple(crop)
        return x[:self.base_axis] + self._crop

    def forward(self, xp, x):
        b, sample = _batch_view(x.shape, self.base_axis)
        offsets = [self.rng.randint(0, s - c + 1, size=b) if c < s else None
                   for s, c in zip(sample, self._crop)]
        self._idx = tuple(_on(xp, a) for a in _grid(b, self._crop, offsets))
        return x.reshape((b,) + sample)[self._idx].reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        x = xs[0]
        b, sample = _batch_view(x.shape, self.base_axis)
        gx = xp.zeros((b,) + sample, gys[0].dtype)
        gx[self._idx] = gys[0].reshape((b,) + self._crop)
        return (gx.reshape(x.shape),)


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


def _border(idx, n, mode):
    """Map source indices outside [0, n) inside, per border mode."""
    if mode == "reflect":  # mirror with the edge repeated: -1 -> 0, n -> n - 1
        period = 2 * n
        idx = np.mod(idx, period)
        return np.where(idx >= n, period - 1 - idx, idx)
    return np.clip(idx, 0, n - 1)


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
        return x

    def forward(self, xp, x):
        shape, nd = x.shape, x.ndim
        idx, valid = [], None
        for d, (n, s) in enumerate(zip(shape, self._shifts)):
            src = np.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1))
            if s:
                lead = shape[:min(d, self._base)]
                shift = self.rng.randint(-s, s + 1, size=lead)
                src = src - shift.reshape(lead + (1,) * (nd - len(lead)))
                inside = (src >= 0) & (src < n)
                valid = inside if valid is None else valid & inside
                src = _border(src, n, self.border_mode)
            idx.append(src)
        self._idx = tuple(_on(xp, a) for a in idx)
        self._valid = (_on(xp, valid) if self.border_mode == "constant" and valid is not None
                       else None)
        y = x[self._idx]
        if self._valid is not None:
            y = xp.where(self._valid, y, xp.asarray(self.constant_value, y.dtype))
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
        erased = np.zeros((b, c, h, w), bool)
        units = (b, 1) if self.share else (b, c)
        rng = self.rng
        for _ in range(self.n):
            hit = rng.random_sample(units) < self.prob
            area = rng.uniform(*self.area_ratios, size=units) * h * w
            aspect = rng.uniform(*self.aspect_ratios, size=units)
            eh = np.clip(np.round(np.sqrt(area * aspect)), 1, h).astype(int)
            ew = np.clip(np.round(np.sqrt(area / aspect)), 1, w).astype(int)
            top = (rng.random_sample(units) * (h - eh + 1)).astype(int)
            left = (rng.random_sample(units) * (w - ew + 1)).astype(int)
            value = rng.uniform(*self.replacements, size=units)
            rows = np.arange(h)[None, None, :, None]
            cols = np.arange(w)[None, None, None, :]
            box = (hit[..., None, None] & (rows >= top[..., None, None])
                   & (rows < (top + eh)[..., None, None]) & (cols >= left[..., None, None])
                   & (cols < (left + ew)[..., None, None]))
            box = np.broadcast_to(box, (b, c, h, w))
            fill = np.broadcast_to(value[..., None, None], (b, c, h, w))
            y = xp.where(_on(xp, box), _on(xp, fill.astype(x.dtype)), y)
            erased |= box
        self._erased = _on(xp, erased)
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
    """Random geometric and photometric augmentation of images (the last three axes
    are C, H, W; earlier ones index images). Per image: zoom by a scale in
    [min_scale, max_scale], stretch by an aspect ratio in [1/a, a], rotate by up to
    ``angle`` radians, jitter the axes' scales by up to ``distortion``, crop ``shape``
    at a random position of the ``pad``-ed image (bilinear sampling, edges
    repeated), flip, then add brightness in [-b, b], scale the contrast around
    ``contrast_center`` by a factor in [1/c, c] (log-uniform) and add Gaussian
    noise. With the defaults the output equals the input. No gradient flows back.
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
        require(self, len(x) >= 3, f"x {x} needs (C, H, W) as its last three axes")
        shape = x if self.shape is None else _shape_tuple(self.shape)
        require(self, len(shape) >= 3 and shape[-3] == x[-3],
                f"shape={tuple(shape)} must end with (C={x[-3]}, H, W)")
        return x[:-3] + tuple(shape[-3:])

    def forward(self, xp, x):
        n = prod(x.shape[:-3])
        c, h, w = x.shape[-3:]
        ho, wo = self.out_shapes[0][-2:]
        rng = self.rng
        scale = rng.uniform(self.min_scale, self.max_scale, n)
        log_ar = np.log(max(self.aspect_ratio, 1e-12))
        ar = np.exp(rng.uniform(-abs(log_ar), abs(log_ar), n))
        sx = scale * np.sqrt(ar) * (1 + rng.uniform(-self.distortion, self.distortion, n))
        sy = scale / np.sqrt(ar) * (1 + rng.uniform(-self.distortion, self.distortion, n))
        theta = rng.uniform(-self.angle, self.angle, n)
        # Crop centre: anywhere the output window (in input pixels) fits in the padded image.
        py, px = (tuple(self.pad) + (0, 0))[:2]
        room_y = np.maximum(h + 2 * py - ho / sy, 0) / 2
        room_x = np.maximum(w + 2 * px - wo / sx, 0) / 2
        cy = (h - 1) / 2 + rng.uniform(-1, 1, n) * room_y
        cx = (w - 1) / 2 + rng.uniform(-1, 1, n) * room_x
        fy = np.where(self.flip_ud & (rng.random_sample(n) < 0.5), -1.0, 1.0)
        fx = np.where(self.flip_lr & (rng.random_sample(n) < 0.5), -1.0, 1.0)
        oy = (np.arange(ho) - (ho - 1) / 2)[None, :, None] * fy[:, None, None]
        ox = (np.arange(wo) - (wo - 1) / 2)[None, None, :] * fx[:, None, None]
        cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
        src_y = cy[:, None, None] + (cos * oy + sin * ox) / sy[:, None, None]
        src_x = cx[:, None, None] + (-sin * oy + cos * ox) / sx[:, None, None]
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
            y = y + _on(xp, rng.normal(0, self.noise, y.shape).astype(x.dtype))
        return y.astype(x.dtype, copy=False).reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        return (None,)


def _bilinear(xp, imgs, sy, sx):
    """imgs (N, H, W, C) sampled at float coordinates (N, h, w), edges repeated."""
    n, h, w, _ = imgs.shape
    sy, sx = np.clip(sy, 0, h - 1), np.clip(sx, 0, w - 1)
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (sy - y0)[..., None], (sx - x0)[..., None]
    b = np.arange(n)[:, None, None]
    dt = imgs.dtype

    def at(yy, xx):
        return imgs[_on(xp, b), _on(xp, yy), _on(xp, xx)]

    top = at(y0, x0) * _on(xp, (1 - wx).astype(dt)) + at(y0, x1) * _on(xp, wx.astype(dt))
    bottom = at(y1, x0) * _on(xp, (1 - wx).astype(dt)) + at(y1, x1) * _on(xp, wx.astype(dt))
    return top * _on(xp, (1 - wy).astype(dt)) + bottom * _on(xp, wy.astype(dt))


def dropout(x, p=0.5, seed=-1, n_outputs=-1, outputs=None):
    """Dropout: each element is zeroed with probability ``p``, the others are
    scaled by 1/(1-p); backward uses the same mask.

    Args:
        x (Variable): Input.
        p (float): Drop probability in [0, 1).
        seed (int): -1 uses the global function generator (``nn.seed``).

    Returns:
        Variable: x's shape.
    """
    return Dropout(p, seed)(x, n_outputs=n_outputs, outputs=outputs)


def rand(low=0, high=1, shape=[], seed=-1, n_outputs=-1, outputs=None):
    """Uniform random numbers in [low, high) (float32) of ``shape``."""
    return Rand(shape, seed, low=low, high=high)(n_outputs=n_outputs, outputs=outputs)


def randint(low=0, high=1, shape=[], seed=-1, n_outputs=-1, outputs=None):
    """Uniform random integers in [low, high) (int32) of ``shape``."""
    return Randint(shape, seed, low=low, high=high)(n_outputs=n_outputs, outputs=outputs)


def randn(mu=0, sigma=1, shape=[], seed=-1, n_outputs=-1, outputs=None):
    """Normal random numbers N(mu, sigma^2) (float32) of ``shape``."""
    return Randn(shape, seed, mu=mu, sigma=sigma)(n_outputs=n_outputs, outputs=outputs)


def rand_binomial(n=1, p=0.5, shape=[], seed=-1, n_outputs=-1, outputs=None):
    """Binomial(n, p) random numbers (as float32) of ``shape``."""
    return RandBinomial(shape, seed, n=n, p=p)(n_outputs=n_outputs, outputs=outputs)


def rand_beta(alpha=0.5, beta=0.5, shape=[], seed=-1, n_outputs=-1, outputs=None):
    """Beta(alpha, beta) random numbers (float32) of ``shape``."""
    return RandBeta(shape, seed, alpha=alpha, beta=beta)(n_outputs=n_outputs, outputs=outputs)


def rand_gamma(k=0.5, theta=1, shape=[], seed=-1, n_outputs=-1, outputs=None):
    """Gamma(k, theta) random numbers (shape k, scale theta; float32) of ``shape``."""
    return RandGamma(shape, seed, k=k, theta=theta)(n_outputs=n_outputs, outputs=outputs)


def random_choice(x, w, shape=[], replace=True, seed=-1, n_outputs=-1, outputs=None):
    """Sample from the last axis of ``x`` with (unnormalized) weights ``w``.

    Returns:
        Variable: x.shape[:-1] + shape. Backward scatters the gradient to the
        chosen entries of x (and, as NNabla does, of w).
    """
    return RandomChoice(shape, replace, seed)(x, w, n_outputs=n_outputs, outputs=outputs)


def random_crop(x, shape=None, base_axis=1, seed=-1, n_outputs=-1, outputs=None):
    """Crop each sample to ``shape`` (trailing axes) at a random position."""
    return RandomCrop(shape, base_axis, seed)(x, n_outputs=n_outputs, outputs=outputs)


def random_flip(x, axes=None, base_axis=1, seed=-1, n_outputs=-1, outputs=None):
    """Flip each sample along each of ``axes`` (default: the last) with probability 1/2."""
    return RandomFlip(axes, base_axis, seed)(x, n_outputs=n_outputs, outputs=outputs)


def random_shift(x, shifts=None, border_mode='nearest', constant_value=0, base_axis=1, seed=-1,
                 n_outputs=-1, outputs=None):
    """Shift x randomly by up to ``shifts[i]`` along each axis (NNabla's one entry per
    axis, lined up with the trailing axes), a new shift per sample for the axes from
    ``base_axis`` on; border_mode 'nearest', 'reflect' or 'constant'."""
    return RandomShift(shifts, border_mode, constant_value, base_axis, seed)(
        x, n_outputs=n_outputs, outputs=outputs)


def random_erase(x, prob=0.5, area_ratios=(0.02, 0.4), aspect_ratios=(0.3, 3.3333),
                 replacements=(0.0, 255.0), n=None, share=True, inplace=False, base_axis=1,
                 seed=-1, channel_last=False, ste_fine_grained=True, n_outputs=-1, outputs=None):
    """Random erasing: fill up to ``n`` random rectangles of each image with random values."""
    return RandomErase(prob, area_ratios, aspect_ratios, replacements, 1 if n is None else n,
                       share, inplace, base_axis, seed, channel_last, ste_fine_grained)(
        x, n_outputs=n_outputs, outputs=outputs)


def image_augmentation(x, shape=None, pad=(0, 0), min_scale=1.0, max_scale=1.0, angle=0.0,
                       aspect_ratio=1.0, distortion=0.0, flip_lr=False, flip_ud=False,
                       brightness=0.0, brightness_each=False, contrast=1.0, contrast_center=0.0,
                       contrast_each=False, noise=0.0, seed=-1, n_outputs=-1, outputs=None):
    """Random image augmentation; see :class:`ImageAugmentation`."""
    return ImageAugmentation(shape, pad, min_scale, max_scale, angle, aspect_ratio, distortion,
                             flip_lr, flip_ud, brightness, brightness_each, contrast,
                             contrast_center, contrast_each, noise, seed)(
        x, n_outputs=n_outputs, outputs=outputs)


class VATNoise(Function):
    """y = eps * x / sqrt(sum over each sample of x^2 + 1e-8); backward writes eps * dy
    into w's data and passes no gradient."""

    grad_reads_inputs = False
    grad_reads_outputs = False

    def __init__(self, base_axis=1, eps=1.0):
        self.base_axis = base_axis
        self.eps = eps

    def setup(self, x, w):
        require(self, x == w, f"w {w} must have the shape of x {x}")
        n = len(x)
        require(self, -n <= self.base_axis < n,
                f"base_axis={self.base_axis} is out of range for x {x} "
                f"(expected -{n} <= base_axis < {n})")
        self._axis = self.base_axis % n
        return x

    def forward(self, xp, x, w):
        axes = tuple(range(self._axis, x.ndim))
        norm = xp.sqrt((x * x).sum(axis=axes, keepdims=True) + 1e-8)
        return (self.eps * x / norm).astype(x.dtype, copy=False)

    def backward(self, xp, xs, ys, gys):
        # VAT's power iteration reads the gradient from w.d (NNabla's contract).
        self.inputs[1].data.data = self.eps * gys[0]
        return None, None


def vat_noise(x, w, base_axis=1, eps=1.0, n_outputs=-1, outputs=None):
    """Noise for virtual adversarial training: x scaled to L2 norm eps per sample.

    .. math:: y = \\epsilon\\, x / \\sqrt{\\textstyle\\sum_k x_k^2 + 10^{-8}}

    with the sum over the axes from ``base_axis`` on. Backward passes no gradient to
    x or w; it writes :math:`\\epsilon\\, dy` into ``w.d`` (overwriting it), where the
    VAT power iteration reads it back.

    Args:
        x (Variable): noise (Gaussian at first, then the fed-back gradient).
        w (Variable): receives eps * dy in its data on backward; shaped like x.
        base_axis (int): axes before it index samples.
        eps (float): L2 norm of each sample's noise.

    Returns:
        Variable: shaped like x.
    """
    return VATNoise(base_axis, eps)(x, w, n_outputs=n_outputs, outputs=outputs)
