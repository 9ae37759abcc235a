"""Detection and miscellany: unique, 2-D NMS, max-pooling backward, patch correlation, VAT noise.

Behaviour follows NNabla 1.39 (measured on its CPU kernels):
  unique             runs only in dynamic mode (its output shapes follow the values of x);
                     indices, inverse and counts are int32; no gradient.
  nms_detection2d    YOLO post-processing; no gradient.
  max_pooling_backward  the gradient of max pooling as a function of dy (linear in dy,
                     so it has a gradient w.r.t. dy; none w.r.t. x).
  patch_correlation  FlowNet-style cost volume, differentiable in both inputs.
  vat_noise          eps * x / ||x|| per sample; its backward passes no gradient and instead
                     stores eps * dy into w's DATA (the VAT power-iteration trick).
"""
import numpy as np

from .. import graph
from .._array import NdArray
from .base import Function, require
from .pooling import MaxPooling, _to_last

__all__ = ["unique", "nms_detection2d", "max_pooling_backward", "patch_correlation",
           "vat_noise"]

UNIQUE_INDEX_DTYPE = np.int32  # NNabla's dtype for unique's index outputs


class Unique(Function):
    """Unique elements (flatten=True) or unique slices along ``axis``."""

    def __init__(self, flatten=True, axis=None, sorted=True, with_index=False,
                 with_inverse=False, with_counts=False):
        self.flatten = flatten
        self.axis = axis
        self.sorted = sorted
        self.with_index = with_index
        self.with_inverse = with_inverse
        self.with_counts = with_counts

    def __call__(self, x, n_outputs=-1, outputs=None):
        # As in NNabla: a static graph cannot know the number of unique values.
        require(self, isinstance(x, NdArray) or graph.auto_forward_enabled,
                "can only be used in dynamic mode (inside nn.auto_forward()), because its "
                "output shape depends on the values of x", RuntimeError)
        return super().__call__(x, n_outputs=n_outputs, outputs=outputs)

    def setup(self, x):
        n = len(x)
        require(self, n >= 1 and -n <= self.axis < n,
                f"axis={self.axis} is out of range for x {x} (expected -{n} <= axis < {n})")
        results = self._unique(np, np.asarray(self.inputs[0].d))
        shapes = [r.shape for r in results]
        return shapes if len(shapes) > 1 else shapes[0]

    def _unique(self, xp, x):
        if self.flatten:
            slices = x.reshape(-1, 1)
        else:
            moved = xp.moveaxis(x, self.axis, 0)
            slices = moved.reshape(moved.shape[0], -1)
        # Row-wise unique: lexicographic order, first occurrences, as NNabla.
        y, index, inverse, counts = xp.unique(slices, axis=0, return_index=True,
                                              return_inverse=True, return_counts=True)
        inverse = inverse.reshape(-1)
        if not self.sorted:  # order of first occurrence instead
            order = xp.argsort(index, kind="stable")
            y, index, counts = y[order], index[order], counts[order]
            inverse = xp.argsort(order)[inverse]
        if self.flatten:
            y = y.reshape(-1)
        else:
            y = xp.moveaxis(y.reshape((-1,) + moved.shape[1:]), 0, self.axis)
        out = [xp.ascontiguousarray(y)]
        for want, a in ((self.with_index, index), (self.with_inverse, inverse),
                        (self.with_counts, counts)):
            if want:
                out.append(a.astype(UNIQUE_INDEX_DTYPE))
        return out

    def forward(self, xp, x):
        out = self._unique(xp, x)
        return out if len(out) > 1 else out[0]

    def backward(self, xp, xs, ys, gys):
        return (None,)  # not differentiable (NNabla raises; nablite passes nothing)


def _iou_matrix(xp, boxes):
    """(..., B, 4) centre-size boxes -> (..., B, B) intersection over union."""
    cx, cy, w, h = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
    lo_x, hi_x, lo_y, hi_y = cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2
    ow = (xp.minimum(hi_x[..., :, None], hi_x[..., None, :]) -
          xp.maximum(lo_x[..., :, None], lo_x[..., None, :]))
    oh = (xp.minimum(hi_y[..., :, None], hi_y[..., None, :]) -
          xp.maximum(lo_y[..., :, None], lo_y[..., None, :]))
    inter = xp.where((ow < 0) | (oh < 0), 0, ow * oh)
    area = w * h
    union = area[..., :, None] + area[..., None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union  # 0/0 (empty boxes) is NaN: never above the threshold


class NmsDetection2d(Function):
    """Score thresholding and non-maximum suppression of (N, B, 5 + classes) detections."""

    grad_reads_inputs = False
    grad_reads_outputs = False

    def __init__(self, thresh=0.5, nms=0.45, nms_per_class=True):
        self.thresh = thresh
        self.nms = nms
        self.nms_per_class = nms_per_class

    def setup(self, x):
        require(self, len(x) == 3, f"x {x} must be 3-D (batch, boxes, 5 + classes)")
        require(self, x[2] > 5, f"x {x} needs more than 5 entries per box on axis 2 "
                "(x, y, w, h, objectness and at least one class probability)")
        return x

    def forward(self, xp, x):
        thresh = self.thresh
        obj = xp.where(x[..., 4] >= thresh, x[..., 4], 0).astype(x.dtype)
        # NNabla thresholds the objectness first and scores with the thresholded value.
        scores = obj[..., None] * x[..., 5:]
        scores = xp.where(scores >= thresh, scores, 0).astype(x.dtype)
        overlap = _iou_matrix(xp, x[..., :4]) > self.nms  # (N, B, B)
        y = x.copy()
        if self.nms_per_class:
            y[..., 4] = obj
            y[..., 5:] = self._greedy_per_class(xp, scores, overlap)
        else:
            # Suppression by objectness: a box loses to every better-ranked box it
            # overlaps, even one that was itself suppressed (as NNabla does).
            order = xp.argsort(-obj, axis=1, kind="stable")
            rank = xp.argsort(order, axis=1)
            before = rank[:, :, None] < rank[:, None, :]
            lost = (overlap & before & (obj != 0)[:, :, None]).any(axis=1)
            y[..., 4] = xp.where(lost, 0, obj)
            y[..., 5:] = xp.where(lost[..., None], 0, scores)
        return y

    @staticmethod
    def _greedy_per_class(xp, scores, overlap):
        """Greedy NMS per class: visit boxes by decreasing score (ties: lower index
        first); a surviving box zeroes the later boxes it overlaps. The loop is over
        rank positions; each step is vectorised over the batch and the classes."""
        s = scores.transpose(0, 2, 1)  # (N, C, B)
        n, c, b = s.shape
        order = xp.argsort(-s, axis=2, kind="stable")
        rank = xp.argsort(order, axis=2)
        alive = s != 0
        batch = xp.arange(n)[:, None]
        for r in range(b):
            i = order[:, :, r]  # (N, C): the box at rank r of each class
            keeps = xp.take_along_axis(alive, i[:, :, None], axis=2)
            alive &= ~(keeps & overlap[batch, i] & (rank > r))
        return xp.where(alive, s, 0).transpose(0, 2, 1)

    def backward(self, xp, xs, ys, gys):
        return (None,)  # NNabla propagates nothing


class MaxPoolingBackward(Function):
    """dx = the gradient of max_pooling(x) for output gradient dy (first maximum wins)."""

    grad_reads_outputs = False

    def __init__(self, kernel, stride=None, ignore_border=True, pad=None, channel_last=False):
        self.kernel = kernel
        self.stride = stride
        self.ignore_border = ignore_border
        self.pad = pad
        self.channel_last = channel_last

    def setup(self, dy, x):
        pool = self._pool = MaxPooling(self.kernel, self.stride, self.ignore_border, self.pad,
                                       self.channel_last)
        try:
            pooled = pool.setup(x)
        except ValueError as e:  # the same checks, named after this function
            raise ValueError(f"{self.name}: {str(e).split(': ', 1)[-1]}") from None
        self.kernel, self.stride, self.pad = pool.kernel, pool.stride, pool.pad
        require(self, tuple(dy) == tuple(pooled),
                f"dy {dy} must have the max-pooled shape {pooled} of x {x}")
        return x

    def forward(self, xp, dy, x):
        pool = self._pool
        return pool.backward(xp, [x], [pool.forward(xp, x)], [dy])[0]

    def backward(self, xp, xs, ys, gys):
        if not self.need[0]:
            return None, None
        # Linear in dy: gdy gathers gdx at each window's first maximum.
        pool, d = self._pool, len(self.kernel)
        x = xs[1]
        y = pool.forward(xp, x)
        if self.channel_last:
            y = _to_last(y, d)
        xpad = pool._padded(xp, x, -xp.inf)
        gpad = pool._padded(xp, gys[0], 0)
        slices = list(pool._slices())
        gdy = xp.zeros(y.shape, dtype=gys[0].dtype)
        free = xp.ones(y.shape, dtype=bool)  # windows whose maximum is not yet found
        for sl in slices:
            hit = (xpad[sl] == y) & free
            free &= ~hit
            gdy += xp.where(hit, gpad[sl], 0)
        # NaN windows (no element equals the max) route to offset 0, as max_pooling does.
        gdy += xp.where(free, gpad[slices[0]], 0)
        return pool._output(gdy), None


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


def _pair(value):
    if isinstance(value, int):
        return (value, value)
    return tuple(value)


def unique(x, flatten=True, axis=None, sorted=True, with_index=False, with_inverse=False,
           with_counts=False, n_outputs=-1, outputs=None):
    """Unique elements of x, or unique slices of x along ``axis``.

    Works only in dynamic mode (``nn.auto_forward()``) or on NdArrays, since the
    number of unique values is known only once x has values.

    Args:
        x (Variable): N-D array.
        flatten (bool): unique elements of the flattened x (``axis`` is then only
            range-checked); if False, unique slices along ``axis``.
        axis (int): the axis of the slices. Required: NNabla raises TypeError for None.
        sorted (bool): ascending (lexicographic for slices) if True, else in order of
            first occurrence.
        with_index (bool): also return the index of each unique value's first
            occurrence (in the flattened x, or along ``axis``).
        with_inverse (bool): also return, for each element (slice) of x, the index of
            its value in y.
        with_counts (bool): also return how often each unique value occurs.

    Returns:
        Variable or tuple: y, then indices, inverse_indices, counts (int32) as requested.
    """
    if axis is None:  # NNabla passes None on to an int argument: TypeError
        raise TypeError("Unique: axis must be an integer, got None (NNabla has no default "
                        "for it; with flatten=True any valid axis gives the same result)")
    return Unique(flatten, int(axis), sorted, with_index, with_inverse, with_counts)(
        x, n_outputs=n_outputs, outputs=outputs)


def nms_detection2d(x, thresh=None, nms=None, nms_per_class=None, n_outputs=-1, outputs=None):
    """Non-maximum suppression of YOLO-style 2-D detections.

    x is (N, B, 5 + C): per box its centre x, y, width, height, objectness and C class
    probabilities. The output has x's shape and copies the box coordinates; the
    objectness is zeroed below ``thresh``; each class score becomes
    objectness * probability, zeroed below ``thresh``. Then boxes whose IoU with a
    better-scored box exceeds ``nms`` are suppressed (set to 0): per class by that
    class's score (``nms_per_class=True``, greedy), or whole boxes by objectness.

    Args:
        x (Variable): (N, B, 5 + C) detections.
        thresh (float): score threshold (default 0.5).
        nms (float): IoU threshold of suppression (default 0.45).
        nms_per_class (bool): suppress per class (default True) or by objectness.

    Returns:
        Variable: (N, B, 5 + C) detections with suppressed scores set to 0.
    """
    thresh = 0.5 if thresh is None else thresh
    nms = 0.45 if nms is None else nms
    nms_per_class = True if nms_per_class is None else nms_per_class
    return NmsDetection2d(thresh, nms, nms_per_class)(x, n_outputs=n_outputs, outputs=outputs)


def max_pooling_backward(dy, x, kernel, stride=None, ignore_border=True, pad=None,
                         channel_last=False, n_outputs=-1, outputs=None):
    """The gradient of ``max_pooling(x, ...)`` w.r.t. x for output gradient ``dy``.

    Each window's gradient goes to its first maximum (row-major order), as in
    :func:`max_pooling`. Being linear in dy, it is differentiable w.r.t. dy (which
    gives higher-order gradients of max pooling); x gets no gradient.

    Args:
        dy (Variable): gradient of the pooled output (its shape).
        x (Variable): the pooling input.
        kernel, stride, ignore_border, pad, channel_last: as for :func:`max_pooling`.

    Returns:
        Variable: dx, shaped like x.
    """
    return MaxPoolingBackward(kernel, stride, ignore_border, pad, channel_last)(
        dy, x, n_outputs=n_outputs, outputs=outputs)


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
    from .array import reshape, transpose
    if not len(x1.shape) == len(x2.shape) == 4:
        raise ValueError(f"patch_correlation: x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} "
                         "must both have 4 dimensions")
    if tuple(x1.shape) != tuple(x2.shape):
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
