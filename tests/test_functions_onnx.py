"""ONNX-compatible functions: onnx_resize and onnx_non_max_suppression."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from gradcheck import check_function, randn

f32 = np.float32
COORD_MODES = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
               "tf_half_pixel_for_nn", "tf_crop_and_resize"]
NEAREST_MODES = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]


# -- onnx_resize: a per-axis interpolation-matrix reference (loops over positions) ------

def _coord(mode, o, scale, n_in, n_out, start, end):
    o, s, L, R = f32(o), f32(scale), f32(n_in), f32(n_out)
    if mode == "half_pixel":
        return (o + f32(0.5)) / s - f32(0.5)
    if mode == "pytorch_half_pixel":
        return (o + f32(0.5)) / s - f32(0.5) if n_out > 1 else f32(0)
    if mode == "align_corners":
        return f32(0) if n_out == 1 else o * (L - f32(1)) / (R - f32(1))
    if mode == "asymmetric":
        return o / s
    if mode == "tf_half_pixel_for_nn":
        return (o + f32(0.5)) / s
    # f32 constants throughout: NumPy 1.x would compute float32-scalar-and-int in float64
    one = f32(1)
    if n_out > 1:
        return f32(start) * (L - one) + o * (f32(end) - f32(start)) * (L - one) / (R - one)
    return f32(0.5) * (f32(start) + f32(end)) * (L - one)


def _row(fx, n, mode, nearest_mode, a, exclude_outside):
    """Weights of the n input samples for source coordinate fx."""
    row = np.zeros(n)
    fl = int(np.floor(fx))
    clamp = lambda i: min(max(i, 0), n - 1)  # noqa: E731
    if mode == "nearest":
        frac = float(fx) - fl
        i = {"floor": fl, "ceil": int(np.ceil(fx)),
             "round_prefer_ceil": fl + (frac >= 0.5),
             "round_prefer_floor": fl + (frac > 0.5)}[nearest_mode]
        row[clamp(i)] = 1
    elif mode == "linear":
        t = float(fx) - clamp(fl)
        row[clamp(fl)] += 1 - t
        row[clamp(fl + 1)] += t
    else:
        t = float(fx) - fl
        cub = lambda d: ((a + 2) * d ** 3 - (a + 3) * d ** 2 + 1 if d <= 1  # noqa: E731
                         else a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a)
        taps = [(fl - 1, cub(1 + t)), (fl, cub(t)), (fl + 1, cub(1 - t)), (fl + 2, cub(2 - t))]
        if exclude_outside:
            taps = [(i, w if 0 <= i < n else 0.0) for i, w in taps]
            total = sum(w for _, w in taps)
            taps = [(i, w / (total or 1.0)) for i, w in taps]  # 0: extrapolated anyway
        for i, w in taps:
            row[clamp(i)] += w
    return row


def ref_resize(x, roi=(), scales=(), sizes=(), mode="nearest",
               coordinate_transformation_mode="half_pixel", cubic_coeff_a=None,
               exclude_outside=None, extrapolation_value=None, nearest_mode="round_prefer_floor"):
    a = -0.75 if cubic_coeff_a is None else cubic_coeff_a
    y = np.asarray(x, dtype=np.float64)
    outside = np.zeros((), bool)
    nd = y.ndim
    for d in range(nd):
        n = y.shape[d]
        if sizes:
            n_out, s = sizes[d], f32(sizes[d]) / f32(n)
        else:
            s = f32(scales[d])
            n_out = int(np.floor(f32(n) * s))
        if s == 1:
            continue
        start, end = (roi[d], roi[nd + d]) if roi else (0, 1)
        fxs = [_coord(coordinate_transformation_mode, o, s, n, n_out, start, end)
               for o in range(n_out)]
        m = np.array([_row(fx, n, mode, nearest_mode, a, exclude_outside) for fx in fxs])
        y = np.moveaxis(np.tensordot(m.reshape(n_out, n), np.moveaxis(y, d, 0), 1), 0, d)
        if coordinate_transformation_mode == "tf_crop_and_resize":
            shape = [1] * nd
            shape[d] = n_out
            out = np.array([fx < 0 or fx > n - 1 for fx in fxs], bool).reshape(shape)
            outside = outside | out
    return np.where(outside, extrapolation_value or 0.0, y)


RESIZE_CASES = [
    ((2, 3, 5, 7), dict(scales=(1, 1, 2.0, 0.5))),
    ((2, 3, 5, 7), dict(sizes=(2, 3, 9, 4))),
    ((2, 3, 5, 7), dict(scales=(1, 1, 1.7, 2.3))),
    ((2, 3, 5, 7), dict(sizes=(2, 3, 1, 1))),
    ((1, 2, 4, 3, 5), dict(scales=(1, 1, 0.75, 2, 1.5))),
    ((3, 6), dict(sizes=(3, 13))),
    ((2, 3, 5, 7), dict(scales=(1, 1, 3.0, 1.0))),  # an inner axis with scale 1 is kept
    ((4, 3, 2), dict(scales=(2, 1, 1))),            # the first axis resized
]


def _with_mode(shape, kw, mode, coord, **extra):
    kw = dict(kw, mode=mode, coordinate_transformation_mode=coord, **extra)
    if coord == "tf_crop_and_resize":
        n = len(shape)
        lead = next(d for d, s in enumerate(kw.get("scales") or
                                           [o / i for o, i in zip(kw["sizes"], shape)]) if s != 1)
        starts = [0.0] * n
        ends = [1.0] * n
        for i, d in enumerate(range(lead, n)):
            starts[d], ends[d] = (0.2, 0.9) if i % 2 else (-0.1, 1.2)
        kw.update(roi=tuple(starts + ends), extrapolation_value=7.5)
    return kw


@pytest.mark.parametrize("coord", COORD_MODES)
@pytest.mark.parametrize("shape, kw", RESIZE_CASES)
def test_onnx_resize_nearest(shape, kw, coord):
    for nearest_mode in NEAREST_MODES:
        check_function(F.onnx_resize, [randn(*shape)], ref=ref_resize, grad=[],
                       kwargs=_with_mode(shape, kw, "nearest", coord, nearest_mode=nearest_mode))


@pytest.mark.parametrize("coord", COORD_MODES)
@pytest.mark.parametrize("shape, kw", RESIZE_CASES)
def test_onnx_resize_linear_and_cubic(shape, kw, coord):
    check_function(F.onnx_resize, [randn(*shape)], ref=ref_resize, grad=[],
                   kwargs=_with_mode(shape, kw, "linear", coord))
    for a, exclude in ((None, None), (-0.5, 1), (-0.75, 0)):
        check_function(F.onnx_resize, [randn(*shape)], ref=ref_resize, grad=[],
                       kwargs=_with_mode(shape, kw, "cubic", coord, cubic_coeff_a=a,
                                         exclude_outside=exclude))


def test_onnx_resize_known_values():
    """Values measured with NNabla 1.39."""
    x = nn.Variable.from_numpy_array(np.arange(4, dtype=f32).reshape(1, 1, 2, 2))
    y = F.onnx_resize(x, scales=(1, 1, 2, 2), mode="linear")
    y.forward()
    np.testing.assert_allclose(y.d[0, 0], [[0, 0.25, 0.75, 1], [0.5, 0.75, 1.25, 1.5],
                                           [1.5, 1.75, 2.25, 2.5], [2, 2.25, 2.75, 3]])
    x = nn.Variable.from_numpy_array(np.array([1, 2, 4, 8], dtype=f32))
    y = F.onnx_resize(x, sizes=(6,), mode="cubic", coordinate_transformation_mode="align_corners")
    y.forward()
    np.testing.assert_allclose(y.d, [1.0, 1.396000862, 2.352006197, 3.287999153, 5.767995834,
                                     8.0], rtol=1e-6)
    y = F.onnx_resize(x, scales=(1.5,), coordinate_transformation_mode="asymmetric",
                      nearest_mode="ceil")
    y.forward()
    np.testing.assert_array_equal(y.d, [1, 2, 4, 4, 8, 8])
    assert y.d.dtype == f32


def test_onnx_resize_shapes_and_identity():
    x = nn.Variable.from_numpy_array(randn(2, 3, 4))
    assert F.onnx_resize(x, scales=(1, 1.5, 0.5)).shape == (2, 4, 2)   # floor(size * scale)
    assert F.onnx_resize(x, sizes=(2, 3, 0)).shape == (2, 3, 0)
    with nn.auto_forward():
        y = F.onnx_resize(x, scales=(1, 1, 1), mode="cubic")  # NNabla raises here
    np.testing.assert_array_equal(y.d, x.d)


def test_onnx_resize_has_no_gradient():
    x = nn.Variable.from_numpy_array(randn(1, 1, 3, 3), need_grad=True)
    y = F.onnx_resize(x, scales=(1, 1, 2, 2), mode="linear")
    y.forward()
    with pytest.raises(NotImplementedError, match="ONNXResize: backward"):
        y.backward()


@pytest.mark.parametrize("kwargs, match", [
    (dict(), "give exactly one of sizes"),
    (dict(scales=(1, 2, 2), sizes=(1, 4, 4)), "give exactly one of sizes"),
    (dict(scales=(2, 2)), "scales=.* one non-negative entry per dimension"),
    (dict(sizes=(1, 4, 4, 4)), "sizes=.* one non-negative entry per dimension"),
    (dict(scales=(1, -2, 2)), "scales=.* non-negative"),
    (dict(scales=(1, 2, 2), mode="area"), "mode='area' is not supported"),
    (dict(scales=(1, 2, 2), coordinate_transformation_mode="edge"),
     "coordinate_transformation_mode='edge' is not supported"),
    (dict(scales=(1, 2, 2), mode="linear", nearest_mode="up"), "nearest_mode='up'"),
    (dict(scales=(1, 2, 2), coordinate_transformation_mode="tf_crop_and_resize",
          roi=(0, 0, 1, 1)), "roi has 4 values, expected 6"),
])
def test_onnx_resize_errors(kwargs, match):
    x = nn.Variable((1, 3, 3))
    with pytest.raises(ValueError, match="ONNXResize: " + match):
        F.onnx_resize(x, **kwargs)


def test_onnx_resize_roi_of_unresized_leading_axes():
    x = nn.Variable((1, 3, 3))
    with pytest.raises(NotImplementedError, match="ONNXResize: roi=.* leading dimensions"):
        F.onnx_resize(x, scales=(1, 2, 2), coordinate_transformation_mode="tf_crop_and_resize",
                      roi=(0.1, 0, 0, 1, 1, 1))


def test_onnx_resize_parity_with_real_nnabla():
    from nnabla_parity import run_in_nnabla
    cases = []
    for shape, kw in RESIZE_CASES:
        x = randn(*shape).astype(f32)
        for coord in COORD_MODES:
            for nearest_mode in NEAREST_MODES:
                cases.append((x, _with_mode(shape, kw, "nearest", coord,
                                            nearest_mode=nearest_mode)))
            cases.append((x, _with_mode(shape, kw, "linear", coord)))
            for exclude in (0, 1):
                cases.append((x, _with_mode(shape, kw, "cubic", coord, cubic_coeff_a=-0.5,
                                            exclude_outside=exclude)))
    script = """
import numpy as np, nnabla as nn, nnabla.functions as F
RESULT = []
for x, shape, kw in CASES:
    y = F.onnx_resize(nn.Variable.from_numpy_array(np.array(x, np.float32).reshape(shape)),
                      **kw)
    y.forward()
    RESULT.append(y.d.tolist())
"""
    want = run_in_nnabla(script, CASES=[(x.ravel().tolist(), x.shape, kw) for x, kw in cases])
    if want is None:
        pytest.skip("NNabla 1.39 is not installed (set NNABLA_PYTHON)")
    for (x, kw), w in zip(cases, want):
        y = F.onnx_resize(nn.Variable.from_numpy_array(x), **kw)
        y.forward()
        np.testing.assert_allclose(y.d, np.array(w, f32), rtol=1e-5, atol=1e-5,
                                   err_msg=f"onnx_resize({x.shape}, {kw})")


# -- onnx_non_max_suppression ----------------------------------------------------------

def _iou(a, b, center):
    if center:
        a = [a[1] - a[3] / 2, a[0] - a[2] / 2, a[1] + a[3] / 2, a[0] + a[2] / 2]
        b = [b[1] - b[3] / 2, b[0] - b[2] / 2, b[1] + b[3] / 2, b[0] + b[2] / 2]
    ay0, ay1 = sorted([a[0], a[2]])
    ax0, ax1 = sorted([a[1], a[3]])
    by0, by1 = sorted([b[0], b[2]])
    bx0, bx1 = sorted([b[1], b[3]])
    wi, hi = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
    if wi <= 0 or hi <= 0:
        return 0.0
    inter = wi * hi
    return inter / ((ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter)


def ref_nms(boxes, scores, center_point_box=0, max_output_boxes_per_class=0,
            iou_threshold=0.0, score_threshold=0.0):
    rows = []
    for b in range(scores.shape[0]):
        for c in range(scores.shape[1]):
            order = sorted(range(scores.shape[2]), key=lambda i: -scores[b, c, i])
            picked = []
            for i in order:
                if scores[b, c, i] < f32(score_threshold):
                    continue
                if all(_iou(boxes[b, i], boxes[b, j], center_point_box) <= f32(iou_threshold)
                       for j in picked):
                    picked.append(i)
            rows += [(b, c, i) for i in picked[:max_output_boxes_per_class]]
    return np.array(rows, dtype=np.uint64).reshape(-1, 3)


def _detections(batch, classes, n, center, seed=0):
    rng = np.random.RandomState(seed)
    xy, wh = rng.rand(batch, n, 2), rng.rand(batch, n, 2) * 0.5
    if center:
        boxes = np.concatenate([xy, wh], -1)
    else:
        boxes = np.concatenate([xy, xy + wh], -1)[..., [1, 0, 3, 2]]
        swap = rng.rand(batch, n) < 0.3  # opposite corners in the other order
        boxes[swap] = boxes[swap][:, [2, 3, 0, 1]]
    return boxes.astype(f32), rng.rand(batch, classes, n).astype(f32)


NMS_ARGS = [dict(max_output_boxes_per_class=100, iou_threshold=0.3),
            dict(max_output_boxes_per_class=3, iou_threshold=0.5, score_threshold=0.4),
            dict(max_output_boxes_per_class=1000),
            dict(),
            dict(max_output_boxes_per_class=5, score_threshold=0.9)]


@pytest.mark.parametrize("center", [0, 1])
@pytest.mark.parametrize("dims", [(1, 1, 6), (2, 3, 20), (3, 2, 40), (1, 4, 0), (2, 1, 1)])
@pytest.mark.parametrize("kwargs", NMS_ARGS)
def test_onnx_nms_forward(dims, center, kwargs):
    boxes, scores = _detections(*dims, center)
    kwargs = dict(kwargs, center_point_box=center)
    want = ref_nms(boxes, scores, **kwargs)
    for dynamic in (False, True):
        with nn.auto_forward(dynamic):
            y = F.onnx_non_max_suppression(nn.Variable.from_numpy_array(boxes),
                                           nn.Variable.from_numpy_array(scores), **kwargs)
        y.forward()
        assert y.shape == want.shape and y.d.dtype == np.uint64
        np.testing.assert_array_equal(y.d, want)


def test_onnx_nms_known_values():
    """Values measured with NNabla 1.39 (ties in score keep the lower box index first)."""
    boxes = nn.Variable.from_numpy_array(
        np.array([[[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 2, 1, 3]]], f32))
    scores = nn.Variable.from_numpy_array(np.array([[[0.9, 0.8, 0.7], [0.1, 0.5, 0.3]]], f32))
    y = F.onnx_non_max_suppression(boxes, scores, max_output_boxes_per_class=3,
                                   iou_threshold=0.5)
    y.forward()
    np.testing.assert_array_equal(y.d, [[0, 0, 0], [0, 0, 2], [0, 1, 1], [0, 1, 2]])
    # As in NNabla the selection is made when the graph is built: later data changes
    # do not alter a static graph's result.
    scores.d[0, 0, 2] = 0.95
    y.forward()
    np.testing.assert_array_equal(y.d, [[0, 0, 0], [0, 0, 2], [0, 1, 1], [0, 1, 2]])
    y = F.onnx_non_max_suppression(boxes, scores, max_output_boxes_per_class=3)
    y.forward()
    np.testing.assert_array_equal(y.d, [[0, 0, 2], [0, 0, 0], [0, 1, 1], [0, 1, 2]])
    assert F.onnx_non_max_suppression(boxes, scores).shape == (0, 3)  # default max is 0


def test_onnx_nms_passes_no_gradient():
    b, s = _detections(1, 2, 5, 0)
    boxes = nn.Variable.from_numpy_array(b, need_grad=True)
    scores = nn.Variable.from_numpy_array(s, need_grad=True)
    boxes.g, scores.g = 1, 2
    y = F.onnx_non_max_suppression(boxes, scores, max_output_boxes_per_class=5)
    y.forward()
    y.backward()
    np.testing.assert_array_equal(boxes.g, 1)
    np.testing.assert_array_equal(scores.g, 2)


@pytest.mark.parametrize("shapes, kwargs, match", [
    (((1, 3, 4, 1), (1, 2, 3)), {}, r"boxes \(1, 3, 4, 1\) must be 3-D"),
    (((1, 3, 5), (1, 2, 3)), {}, r"boxes \(1, 3, 5\) must be 3-D \(batch, boxes, 4\)"),
    (((1, 3, 4), (1, 2, 2)), {}, r"scores \(1, 2, 2\) must be 3-D"),
    (((1, 3, 4), (2, 2, 3)), {}, r"scores \(2, 2, 3\)"),
    (((1, 3, 4), (2, 3)), {}, r"scores \(2, 3\)"),
    (((1, 3, 4), (1, 2, 3)), dict(center_point_box=2), "center_point_box=2 must be 0 or 1"),
    (((1, 3, 4), (1, 2, 3)), dict(max_output_boxes_per_class=-1),
     "max_output_boxes_per_class=-1 must be >= 0"),
])
def test_onnx_nms_errors(shapes, kwargs, match):
    with pytest.raises(ValueError, match="ONNXNonMaxSuppression: " + match):
        F.onnx_non_max_suppression(nn.Variable(shapes[0]), nn.Variable(shapes[1]), **kwargs)


def test_onnx_nms_parity_with_real_nnabla():
    from nnabla_parity import run_in_nnabla
    cases = []
    # Distinct scores: NNabla's unstable sort orders tied scores arbitrarily.
    for dims in [(1, 1, 6), (2, 3, 20), (3, 2, 50), (1, 4, 0)]:
        for center in (0, 1):
            boxes, scores = _detections(*dims, center, seed=1)
            for kw in NMS_ARGS:
                cases.append((boxes, scores, dict(kw, center_point_box=center)))
    script = """
import numpy as np, nnabla as nn, nnabla.functions as F
RESULT = []
for b, bs, s, ss, kw in CASES:
    y = F.onnx_non_max_suppression(
        nn.Variable.from_numpy_array(np.array(b, np.float32).reshape(bs)),
        nn.Variable.from_numpy_array(np.array(s, np.float32).reshape(ss)), **kw)
    y.forward()
    RESULT.append(y.d.astype(np.int64).tolist())
"""
    want = run_in_nnabla(script, CASES=[(b.ravel().tolist(), b.shape, s.ravel().tolist(),
                                         s.shape, kw) for b, s, kw in cases])
    if want is None:
        pytest.skip("NNabla 1.39 is not installed (set NNABLA_PYTHON)")
    for (b, s, kw), w in zip(cases, want):
        y = F.onnx_non_max_suppression(nn.Variable.from_numpy_array(b),
                                       nn.Variable.from_numpy_array(s), **kw)
        y.forward()
        np.testing.assert_array_equal(y.d.astype(np.int64), np.array(w, np.int64).reshape(-1, 3),
                                      err_msg=f"onnx_non_max_suppression({b.shape}, {kw})")
