"""Detection post-processing: nms_detection2d (YOLO-style 2-D non-maximum
suppression; no gradient), following NNabla 1.39's CPU kernel.

(onnx_non_max_suppression lives in onnx.py with the other ONNX operators.)
"""
import numpy as np

from ..backend import stable_argsort
from .base import Function, keep_args, require, named

__all__ = ["nms_detection2d"]


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
    half_kernel = False  # NNabla computes it in float32 in 'half' contexts

    grad_reads_inputs = False
    grad_reads_outputs = False

    def __init__(self, thresh=0.5, nms=0.45, nms_per_class=True):
        keep_args(self, locals())

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
            order = stable_argsort(xp, -obj, 1)
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
        order = stable_argsort(xp, -s, 2)
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


@named
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

