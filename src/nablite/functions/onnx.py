"""ONNX-compatible operators: Resize and NonMaxSuppression.

Behaviour follows NNabla 1.39's CPU kernels (measured against them):
  onnx_resize        nearest / linear / cubic resampling of every axis whose scale is
                     not 1. Source coordinates, coefficients and nearest indices are
                     computed in float32 as NNabla does, so nearest rounding and
                     tf_crop_and_resize extrapolation pick the same samples. Resampling
                     is separable: one gather-and-weight pass per resized axis with an
                     (taps, out) index array and weight array. No gradient (NNabla
                     raises on backward).
  onnx_non_max_suppression
                     greedy per-(batch, class) NMS returning (M, 3) uint64 indices
                     (batch, class, box), sorted by decreasing score within each class.
                     As in NNabla the result is computed when the function is set up
                     (its shape depends on the values) and forward() returns it. No
                     gradient (NNabla leaves the input gradients untouched).
"""
import numpy as np

from .base import Function, node_constant, require, contiguous, named

__all__ = ["onnx_resize", "onnx_non_max_suppression"]

_COORD_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                "tf_half_pixel_for_nn", "tf_crop_and_resize")
_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
_MODES = ("nearest", "linear", "cubic")
_f32 = np.float32
NMS_INDEX_DTYPE = np.uint64  # NNabla writes the selected indices as size_t


def _source_coords(mode, scale, n_in, n_out, roi_start=0.0, roi_end=1.0):
    """Float32 source coordinate of each output position along one axis."""
    x = np.arange(n_out, dtype=_f32)
    s, L, R = _f32(scale), _f32(n_in), _f32(n_out)
    one, half = _f32(1), _f32(0.5)
    if mode == "half_pixel":
        return (x + half) / s - half
    if mode == "pytorch_half_pixel":
        return (x + half) / s - half if R > 1 else np.zeros_like(x)
    if mode == "align_corners":
        return x * (L - one) / (R - one) if R != 1 else np.zeros_like(x)
    if mode == "asymmetric":
        return x / s
    if mode == "tf_half_pixel_for_nn":
        return (x + half) / s
    start, end = _f32(roi_start), _f32(roi_end)  # tf_crop_and_resize
    if R > 1:
        return start * (L - one) + x * (end - start) * (L - one) / (R - one)
    return np.full_like(x, half * (start + end) * (L - one))


def _nearest_index(fx, mode):
    fl = np.floor(fx)
    frac = fx - fl  # exact: removing the integer part of a float loses nothing
    if mode == "floor":
        idx = fl
    elif mode == "ceil":
        idx = np.ceil(fx)
    elif mode == "round_prefer_ceil":
        idx = fl + (frac >= 0.5)
    else:
        idx = fl + (frac > 0.5)
    return idx.astype(np.int64)


def _cubic_coeffs(fx, n_in, a, exclude_outside):
    """(4, out) float32 weights of the taps floor(fx) - 1 .. floor(fx) + 2."""
    a = _f32(a)
    lx = fx - np.floor(fx)

    def near(t):   # |t| <= 1
        t2 = t * t
        return (a + 2) * (t2 * t) - (a + 3) * t2 + 1

    def far(t):    # 1 <= |t| <= 2
        t2 = t * t
        return a * (t2 * t) - 5 * a * t2 + 8 * a * t - 4 * a

    c = np.stack([far(1 + lx), near(lx), near(1 - lx), far(2 - lx)]).astype(_f32)
    if exclude_outside:
        taps = np.floor(fx).astype(np.int64) + np.arange(-1, 3)[:, None]
        c = np.where((taps < 0) | (taps >= n_in), _f32(0), c)
        total = c.sum(axis=0)
        # No tap inside happens only far outside, where tf_crop_and_resize extrapolates.
        c = (c / np.where(total == 0, _f32(1), total)).astype(_f32)
    return c


class ONNXResize(Function):
    """Resampling along the axes whose scale is not 1 (ONNX Resize)."""

    grad_reads_inputs = False
    grad_reads_outputs = False

    def __init__(self, roi=(), scales=(), sizes=(), mode="nearest",
                 coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.75,
                 exclude_outside=0, extrapolation_value=0.0, nearest_mode="round_prefer_floor"):
        self.roi = [float(r) for r in roi]
        self.scales = [float(s) for s in scales]
        self.sizes = [int(s) for s in sizes]
        self.mode = mode
        self.coordinate_transformation_mode = coordinate_transformation_mode
        self.cubic_coeff_a = float(cubic_coeff_a)
        self.exclude_outside = int(exclude_outside)
        self.extrapolation_value = float(extrapolation_value)
        self.nearest_mode = nearest_mode

    def setup(self, x):
        ndim = len(x)
        coord = self.coordinate_transformation_mode
        require(self, coord in _COORD_MODES, f"coordinate_transformation_mode={coord!r} is "
                f"not supported (expected one of {', '.join(_COORD_MODES)})")
        require(self, self.nearest_mode in _NEAREST_MODES, f"nearest_mode="
                f"{self.nearest_mode!r} is not supported (expected one of "
                f"{', '.join(_NEAREST_MODES)})")
        require(self, self.mode in _MODES,
                f"mode={self.mode!r} is not supported (expected one of {', '.join(_MODES)})")
        require(self, bool(self.sizes) != bool(self.scales),
                f"give exactly one of sizes={tuple(self.sizes)} and "
                f"scales={tuple(self.scales)}")
        if self.sizes:
            require(self, len(self.sizes) == ndim and min(self.sizes) >= 0,
                    f"sizes={tuple(self.sizes)} must have one non-negative entry per "
                    f"dimension of x {x}")
            out = tuple(self.sizes)
            scales = [_f32(o) / _f32(i) for o, i in zip(out, x)]
        else:
            require(self, len(self.scales) == ndim and min(self.scales) >= 0,
                    f"scales={tuple(self.scales)} must have one non-negative entry per "
                    f"dimension of x {x}")
            scales = [_f32(s) for s in self.scales]
            out = tuple(int(np.floor(_f32(i) * s)) for i, s in zip(x, scales))
        resized = [d for d in range(ndim) if scales[d] != 1]
        if coord == "tf_crop_and_resize":
            require(self, len(self.roi) == 2 * ndim, f"roi has {len(self.roi)} values, "
                    f"expected {2 * ndim} (starts then ends, one per dimension of x {x})")
            lead = resized[0] if resized else ndim
            require(self, all(self.roi[d] == 0 and self.roi[ndim + d] == 1
                              for d in range(lead)),
                    f"roi={tuple(self.roi)} must be (0, 1) on the leading dimensions "
                    "that are not resized", NotImplementedError)
        # Per resized axis: (axis, taps index array (K, out), weights (K, out) or None,
        # mask of outputs to extrapolate or None).
        self._plan = []
        for d in resized:
            start, end = (self.roi[d], self.roi[ndim + d]) if self.roi else (0.0, 1.0)
            fx = _source_coords(coord, scales[d], x[d], out[d], start, end)
            n = x[d]
            if self.mode == "nearest":
                idx = np.clip(_nearest_index(fx, self.nearest_mode), 0, n - 1)[None]
                w = None
            elif self.mode == "linear":
                base = np.floor(fx).astype(np.int64)
                w1 = fx - np.clip(base, 0, n - 1).astype(_f32)
                w = np.stack([_f32(1) - w1, w1])
                idx = np.clip(base + np.arange(2)[:, None], 0, n - 1)
            else:
                w = _cubic_coeffs(fx, n, self.cubic_coeff_a, self.exclude_outside)
                idx = np.clip(np.floor(fx).astype(np.int64) + np.arange(-1, 3)[:, None],
                              0, n - 1)
            outside = None
            if coord == "tf_crop_and_resize":
                outside = (fx < 0) | (fx > _f32(n - 1))
            self._plan.append((d, idx, w, outside))
        self._plans = {}  # (array module, dtype) -> the plan's arrays there
        self._constants = {}  # extrapolation_value per module and dtype (node_constant)
        return out

    def _arrays(self, xp, ndim, dtype):
        """The plan's index, weight and mask arrays in ``xp`` (on its device) and
        ``dtype``, made once: [(axis, [taps' indices], [taps' weights] or None,
        mask or None)]."""
        key = (xp, dtype)
        plan = self._plans.get(key)
        if plan is None:
            plan = []
            for d, idx, w, out_mask in self._plan:
                shape = [1] * ndim
                shape[d] = idx.shape[1]
                plan.append((d, [xp.asarray(i) for i in idx],
                             None if w is None else
                             [xp.asarray(wk.reshape(shape), dtype=dtype) for wk in w],
                             None if out_mask is None else xp.asarray(out_mask.reshape(shape))))
            self._plans[key] = plan
        return plan

    def forward(self, xp, x):
        y = x
        outside = None
        for d, idx, w, m in self._arrays(xp, x.ndim, x.dtype):
            acc = None
            for k in range(len(idx)):
                term = xp.take(y, idx[k], axis=d)
                if w is not None:
                    term = term * w[k]
                acc = term if acc is None else acc + term
            y = acc
            if m is not None:
                outside = m if outside is None else outside | m
        if outside is not None:
            dtype = x.dtype
            fill = node_constant(self, xp, dtype,
                                 lambda: xp.asarray(self.extrapolation_value, dtype=dtype))
            y = xp.where(outside, fill, y)
        return contiguous(xp, y.astype(x.dtype, copy=False))

    def backward(self, xp, xs, ys, gys):
        raise NotImplementedError("ONNXResize: backward is not supported (as in NNabla); "
                                  "set x.need_grad = False")


@named
def onnx_resize(x, roi=(), scales=(), sizes=(), mode="nearest",
                coordinate_transformation_mode="half_pixel", cubic_coeff_a=None,
                exclude_outside=None, extrapolation_value=None,
                nearest_mode="round_prefer_floor", n_outputs=-1, outputs=None):
    """Resize an N-D array with interpolation, as ONNX Resize.

    Args:
        x (~nablite.Variable): N-D array.
        roi (repeated float): crop region for ``tf_crop_and_resize``: all starts, then all
            ends (normalised coordinates, one pair per dimension).
        scales (repeated float): scale factor per dimension; the output size is
            floor(input size * scale). Give either scales or sizes.
        sizes (repeated int): output size per dimension.
        mode (str): 'nearest', 'linear' or 'cubic'.
        coordinate_transformation_mode (str): how an output position maps to the input:
            'half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric',
            'tf_half_pixel_for_nn' or 'tf_crop_and_resize'.
        cubic_coeff_a (float): the cubic kernel's coefficient a (default -0.75).
        exclude_outside (int): if 1, cubic taps outside the input get weight 0 and the
            remaining weights are renormalised (default 0).
        extrapolation_value (float): value of outputs that map outside the input with
            'tf_crop_and_resize' (default 0.0).
        nearest_mode (str): rounding in 'nearest' mode: 'round_prefer_floor',
            'round_prefer_ceil', 'floor' or 'ceil'.

    Returns:
        ~nablite.Variable: the resized N-D array (no gradient).
    """
    cubic_coeff_a = -0.75 if cubic_coeff_a is None else cubic_coeff_a
    exclude_outside = 0 if exclude_outside is None else exclude_outside
    extrapolation_value = 0.0 if extrapolation_value is None else extrapolation_value
    return ONNXResize(roi, scales, sizes, mode, coordinate_transformation_mode,
                      cubic_coeff_a, exclude_outside, extrapolation_value,
                      nearest_mode)(x, n_outputs=n_outputs, outputs=outputs)


def _iou_matrix(boxes, center_point_box):
    """(B, N, 4) boxes -> (B, N, N) intersection over union, 0 where they do not overlap."""
    if center_point_box == 0:  # (y1, x1, y2, x2): any pair of opposite corners
        y0, x0, y1, x1 = boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3]
        y_lo, y_hi = np.minimum(y0, y1), np.maximum(y0, y1)
        x_lo, x_hi = np.minimum(x0, x1), np.maximum(x0, x1)
        w, h = x_hi - x_lo, y_hi - y_lo
    else:  # (x centre, y centre, width, height)
        w, h = boxes[..., 2], boxes[..., 3]
        x_lo, x_hi = boxes[..., 0] - w / 2, boxes[..., 0] + w / 2
        y_lo, y_hi = boxes[..., 1] - h / 2, boxes[..., 1] + h / 2

    def overlap(lo, hi):
        return (np.minimum(hi[..., :, None], hi[..., None, :]) -
                np.maximum(lo[..., :, None], lo[..., None, :]))

    wi, hi = overlap(x_lo, x_hi), overlap(y_lo, y_hi)
    inter = wi * hi
    area = w * h
    union = area[..., :, None] + area[..., None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / union
    return np.where((wi <= 0) | (hi <= 0), 0, iou).astype(boxes.dtype)


class ONNXNonMaxSuppression(Function):
    """Greedy NMS per batch and class, giving (batch, class, box) index rows."""

    grad_reads_inputs = False
    grad_reads_outputs = False

    def __init__(self, center_point_box=0, max_output_boxes_per_class=0, iou_threshold=0.0,
                 score_threshold=0.0):
        self.center_point_box = int(center_point_box)
        self.max_output_boxes_per_class = int(max_output_boxes_per_class)
        self.iou_threshold = float(iou_threshold)
        self.score_threshold = float(score_threshold)

    def setup(self, boxes, scores):
        require(self, len(boxes) == 3 and boxes[2] == 4,
                f"boxes {boxes} must be 3-D (batch, boxes, 4)")
        require(self, len(scores) == 3 and scores[0] == boxes[0] and scores[2] == boxes[1],
                f"scores {scores} must be 3-D (batch, classes, boxes) = "
                f"({boxes[0]}, classes, {boxes[1]}) to match boxes {boxes}")
        require(self, self.center_point_box in (0, 1),
                f"center_point_box={self.center_point_box} must be 0 or 1")
        require(self, self.max_output_boxes_per_class >= 0,
                f"max_output_boxes_per_class={self.max_output_boxes_per_class} must be >= 0")
        # The output shape follows the values, so (as NNabla) the result is computed here.
        self._result = self._select(np.asarray(self.inputs[0].d), np.asarray(self.inputs[1].d))
        self._constants = {}  # _result on forward's module (node_constant)
        return self._result.shape

    def _select(self, boxes, scores):
        n_batch, n_class, n = scores.shape
        if self.max_output_boxes_per_class == 0 or n == 0 or n_class == 0:
            return np.zeros((0, 3), NMS_INDEX_DTYPE)
        iou = _iou_matrix(boxes, self.center_point_box)
        order = np.argsort(-scores, axis=-1, kind="stable")         # (B, C, N) box ids
        rank = np.argsort(order, axis=-1)                             # position of each box
        keep = scores >= _f32(self.score_threshold)                   # by box id
        b = np.arange(n_batch)[:, None]
        c = np.arange(n_class)[None, :]
        thr = _f32(self.iou_threshold)
        for i in range(n):  # greedy: the i-th best box of every (batch, class) at once
            best = order[:, :, i]
            alive = keep[b, c, best]
            rows = iou[b, best]                                       # (B, C, N)
            keep &= ~(alive[..., None] & (rows > thr) & (rank > i))
        kept = np.take_along_axis(keep, order, axis=-1)               # in score order
        kept &= np.cumsum(kept, axis=-1) <= self.max_output_boxes_per_class
        bi, ci, ri = np.nonzero(kept)
        return np.stack([bi, ci, order[bi, ci, ri]], axis=1).astype(NMS_INDEX_DTYPE)

    def forward(self, xp, boxes, scores):
        # moved once; each output a copy of its own
        return node_constant(self, xp, "result", lambda: xp.asarray(self._result)).copy()

    def backward(self, xp, xs, ys, gys):
        return None, None  # no gradient; NNabla leaves boxes.g and scores.g as they are


@named
def onnx_non_max_suppression(boxes, scores, center_point_box=None,
                             max_output_boxes_per_class=None, iou_threshold=None,
                             score_threshold=None, n_outputs=-1, outputs=None):
    """Non-maximum suppression of 2-D detections, as ONNX NonMaxSuppression.

    For each batch and class, boxes are visited in decreasing score order (ties keep
    the lower box index first); boxes scoring below ``score_threshold`` are dropped,
    and each kept box suppresses the later boxes whose IoU with it exceeds
    ``iou_threshold``. At most ``max_output_boxes_per_class`` boxes are kept per class.

    Args:
        boxes (~nablite.Variable): (B, N, 4) boxes: (y1, x1, y2, x2) corners with
            center_point_box=0, (x centre, y centre, width, height) with 1.
        scores (~nablite.Variable): (B, C, N) scores.
        center_point_box (int): box format, 0 or 1 (default 0).
        max_output_boxes_per_class (int): most boxes kept per batch and class
            (default 0, which selects nothing).
        iou_threshold (float): IoU above which a box is suppressed (default 0.0).
        score_threshold (float): lowest score kept (default 0.0).

    Returns:
        ~nablite.Variable: (M, 3) uint64 rows (batch index, class index, box index),
        ordered by batch, class, then decreasing score. Computed when the function is
        called (its shape depends on the values, as in NNabla); no gradient.
    """
    return ONNXNonMaxSuppression(
        0 if center_point_box is None else center_point_box,
        0 if max_output_boxes_per_class is None else max_output_boxes_per_class,
        0.0 if iou_threshold is None else iou_threshold,
        0.0 if score_threshold is None else score_threshold,
    )(boxes, scores, n_outputs=n_outputs, outputs=outputs)
