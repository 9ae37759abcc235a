"""Spatial transforms: forward vs per-point NumPy references, backward vs numeric
gradients (sampling positions kept off the kinks: integer pixel positions, the
padding borders, the rounding halves), errors, and parity with NNabla 1.39."""
import itertools
import math

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from gradcheck import check_function, randn


# -- references: one output point at a time ------------------------------------

def ref_affine_grid(theta, size, align_corners=False):
    axes = [np.linspace(-1, 1, s) * (1 if align_corners else (s - 1) / s) for s in size]
    mesh = np.meshgrid(*axes, indexing="ij")
    points = np.stack(list(reversed(mesh)) + [np.ones(tuple(size))], axis=-1)
    return np.einsum("...k,bjk->b...j", points, theta)


def _ref_coord(g, size, align_corners, padding_mode):
    f = (g + 1) * (size - 1) / 2 if align_corners else ((g + 1) * size - 1) / 2
    if padding_mode == "zero":
        return f
    if padding_mode == "repeat":
        return min(max(f, 0), size - 1)
    if align_corners:  # mirror at the centres of the border pixels
        if size == 1:
            return 0.0
        period = 2 * (size - 1)
        m = f % period
        return m if m <= size - 1 else period - m
    period = 2 * size  # mirror at the outer edges of the border pixels
    m = (f + 0.5) % period
    return min(max((m if m <= size else period - m) - 0.5, 0), size - 1)


def ref_warp_by_grid(x, grid, mode="linear", padding_mode="zero", align_corners=False,
                     channel_last=False):
    if channel_last:
        x = np.moveaxis(x, -1, 1)
    sizes = x.shape[2:]
    d = len(sizes)
    out = grid.shape[1:-1]
    y = np.zeros(x.shape[:2] + out)
    for b in range(x.shape[0]):
        for o in np.ndindex(*out):
            f = [_ref_coord(grid[(b,) + o + (d - 1 - i,)], s, align_corners, padding_mode)
                 for i, s in enumerate(sizes)]
            if mode == "nearest":
                corners = [([math.copysign(math.floor(abs(v) + 0.5), v) for v in f], 1.0)]
            else:
                corners = []
                for bits in itertools.product((0, 1), repeat=d):
                    idx, w = [], 1.0
                    for v, bit in zip(f, bits):
                        lo = math.floor(v)
                        idx.append(lo + bit)
                        w *= (v - lo) if bit else 1 - (v - lo)
                    corners.append((idx, w))
            for idx, w in corners:
                if all(0 <= i < s for i, s in zip(idx, sizes)):
                    y[(b, slice(None)) + o] += w * x[(b, slice(None)) + tuple(int(i) for i in idx)]
    return np.moveaxis(y, 1, -1) if channel_last else y


def ref_warp_by_flow(data, flow):
    n, c, h, w = data.shape
    y = np.zeros_like(data)
    for b, i, j in np.ndindex(n, h, w):
        xf, yf = j + flow[b, 0, i, j], i + flow[b, 1, i, j]
        x0, y0 = math.floor(xf), math.floor(yf)
        a, e = xf - x0, yf - y0
        for dy, dx, wt in ((0, 0, (1 - e) * (1 - a)), (0, 1, (1 - e) * a),
                           (1, 0, e * (1 - a)), (1, 1, e * a)):
            # outside the image: the nearest border pixel
            yy, xx = min(max(y0 + dy, 0), h - 1), min(max(x0 + dx, 0), w - 1)
            y[b, :, i, j] += wt * data[b, :, yy, xx]
    return y


def _ref_bilinear(img, yy, xx):
    h, w = img.shape[1:]
    if yy < -1 or yy > h or xx < -1 or xx > w:
        return 0.0
    yy, xx = max(yy, 0.0), max(xx, 0.0)
    y0, x0 = int(yy), int(xx)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        yy = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        xx = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = yy - y0, xx - x0
    return ((1 - ly) * (1 - lx) * img[:, y0, x0] + (1 - ly) * lx * img[:, y0, x1]
            + ly * (1 - lx) * img[:, y1, x0] + ly * lx * img[:, y1, x1])


def ref_roi_align(x, boxes, output_size, spatial_scale=(1.0, 1.0), sampling_ratio=None,
                  channel_last=None):
    if channel_last:
        x = np.moveaxis(x, -1, 1)
    oh, ow = output_size
    sy, sx = spatial_scale
    y = np.zeros((len(boxes), x.shape[1], oh, ow))
    for k, (b, x1, y1, x2, y2) in enumerate(boxes):
        x1, x2, y1, y2 = x1 * sx - 0.5, x2 * sx - 0.5, y1 * sy - 0.5, y2 * sy - 0.5
        ch, cw = (y2 - y1) / oh, (x2 - x1) / ow
        gy = sampling_ratio if sampling_ratio and sampling_ratio > 0 else math.ceil(ch)
        gx = sampling_ratio if sampling_ratio and sampling_ratio > 0 else math.ceil(cw)
        for i, j in np.ndindex(oh, ow):
            acc = 0.0
            for a, c in np.ndindex(gy, gx):
                acc = acc + _ref_bilinear(x[int(b)], y1 + i * ch + (a + 0.5) * ch / gy,
                                          x1 + j * cw + (c + 0.5) * cw / gx)
            y[k, :, i, j] = acc / (gy * gx)
    return np.moveaxis(y, 1, -1) if channel_last else y


# -- inputs away from the kinks --------------------------------------------------

def _off_kink(rng, shape, lo, hi):
    """Pixel coordinates in [lo, hi) whose fractions avoid 0 and 0.5 (the kinks of
    interpolation, clamping, mirroring and rounding)."""
    frac = rng.uniform(0.15, 0.35, shape) + 0.5 * rng.randint(0, 2, shape)
    return rng.randint(lo, hi, shape) + frac


def _grid(shape, sizes, align_corners, margin=2, seed=0):
    """A grid (B, *out, d) over input ``sizes`` (z, y, x order), ``margin`` pixels
    beyond the border on each side, with every coordinate off the kinks."""
    rng = np.random.RandomState(seed)
    comps = []
    for s in reversed(sizes):  # grid component 0 is x, the last axis
        f = _off_kink(rng, shape, -margin, s + margin)
        comps.append(f * 2 / (s - 1) - 1 if align_corners else (2 * f + 1) / s - 1)
    return np.stack(comps, axis=-1)


# -- affine_grid ------------------------------------------------------------------

@pytest.mark.parametrize("size,align_corners", [
    ((3, 5), False), ((4, 2), True), ((2, 3, 4), False), ((3, 2, 2), True)])
def test_affine_grid(size, align_corners):
    d = len(size)
    theta = randn(2, d, d + 1)
    y = check_function(F.affine_grid, [theta], ref=ref_affine_grid,
                       kwargs=dict(size=size, align_corners=align_corners))
    assert y.shape == (2,) + size + (d,)


def test_affine_grid_identity_and_size_one():
    theta = nn.Variable.from_numpy_array(np.array([[[1.0, 0, 0], [0, 1, 0]]]))
    g = F.affine_grid(theta, (2, 4), align_corners=True)
    g.forward()
    np.testing.assert_allclose(g.d[0, 0, :, 0], np.linspace(-1, 1, 4))
    np.testing.assert_allclose(g.d[0, :, 0, 1], [-1, 1])
    # A one-pixel axis divides 0 by 0: NaN throughout, as in NNabla 1.39.
    g = F.affine_grid(theta, (1, 3))
    g.forward()
    assert np.isnan(g.d).all()


# -- warp_by_grid -----------------------------------------------------------------

WARP_ARGS = [dict(padding_mode=p, align_corners=a)
             for p in ("zero", "repeat", "reflect") for a in (False, True)]


@pytest.mark.parametrize("kwargs", WARP_ARGS)
@pytest.mark.parametrize("xshape,gshape", [((2, 3, 4, 5), (2, 3, 4)),
                                           ((1, 2, 3, 4, 3), (1, 2, 3, 2))])
def test_warp_by_grid_linear(kwargs, xshape, gshape):
    x = randn(*xshape)
    grid = _grid(gshape, xshape[2:], kwargs["align_corners"], margin=5)
    check_function(F.warp_by_grid, [x, grid], ref=ref_warp_by_grid, kwargs=kwargs)


@pytest.mark.parametrize("kwargs", WARP_ARGS)
@pytest.mark.parametrize("xshape,gshape", [((2, 3, 4, 5), (2, 3, 4)),
                                           ((1, 2, 3, 4, 3), (1, 2, 3, 2))])
def test_warp_by_grid_nearest(kwargs, xshape, gshape):
    x = randn(*xshape)
    grid = _grid(gshape, xshape[2:], kwargs["align_corners"], margin=5, seed=1)
    check_function(F.warp_by_grid, [x, grid], ref=ref_warp_by_grid, grad=[0],
                   kwargs=dict(mode="nearest", **kwargs))


def test_warp_by_grid_nearest_has_no_grid_gradient():
    x = nn.Variable.from_numpy_array(randn(1, 2, 3, 4), need_grad=True)
    grid = nn.Variable.from_numpy_array(_grid((1, 2, 2), (3, 4), False), need_grad=True)
    y = F.warp_by_grid(x, grid, mode="nearest")
    y.forward()
    with pytest.raises(NotImplementedError, match="WarpByGrid: .*grid.*nearest"):
        y.backward()
    grid.need_grad = False
    y = F.warp_by_grid(x, grid, mode="nearest", padding_mode="repeat")
    y.forward()
    x.g = 0
    y.backward(np.ones(y.shape))
    assert x.g.sum() == pytest.approx(y.size)  # every sample lands on a pixel


@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_warp_by_grid_channel_last(mode):
    x = randn(2, 4, 5, 3)
    grid = _grid((2, 3, 2), (4, 5), False, seed=2)
    kwargs = dict(mode=mode, padding_mode="reflect", channel_last=True)
    y = check_function(F.warp_by_grid, [x, grid], ref=ref_warp_by_grid, kwargs=kwargs,
                       grad=[0, 1] if mode == "linear" else [0])
    assert y.shape == (2, 3, 2, 3)


def test_warp_by_grid_by_affine_grid_identity():
    x = randn(2, 3, 4, 6)
    theta = np.tile(np.array([[1.0, 0, 0], [0, 1, 0]]), (2, 1, 1))
    for align_corners in (False, True):
        grid = F.affine_grid(nn.Variable.from_numpy_array(theta), (4, 6),
                             align_corners=align_corners)
        y = F.warp_by_grid(nn.Variable.from_numpy_array(x), grid,
                           align_corners=align_corners)
        y.forward()
        np.testing.assert_allclose(y.d, x, atol=1e-12)


# -- warp_by_flow -----------------------------------------------------------------

@pytest.mark.parametrize("shape,reach", [((2, 3, 4, 5), 1), ((1, 2, 5, 3), 4)])
def test_warp_by_flow(shape, reach):
    data = randn(*shape)
    n, _, h, w = shape
    flow = _off_kink(np.random.RandomState(3), (n, 2, h, w), -reach, reach)
    check_function(F.warp_by_flow, [data, flow], ref=ref_warp_by_flow)


def test_warp_by_flow_zero_flow_is_identity():
    data = randn(2, 3, 4, 5)
    y = F.warp_by_flow(nn.Variable.from_numpy_array(data),
                       nn.Variable.from_numpy_array(np.zeros((2, 2, 4, 5))))
    y.forward()
    np.testing.assert_allclose(y.d, data)


# -- roi_align --------------------------------------------------------------------

BOXES = np.array([[0, 1.2, 0.7, 6.3, 5.1], [1, -2.1, -1.6, 4.4, 9.3],
                  [0, 3.3, 2.2, 3.9, 2.6], [1, 0.0, 0.0, 9.0, 8.0], [0, 7.6, 6.7, 12.2, 11.1]])


@pytest.mark.parametrize("output_size,kwargs", [
    ((2, 2), {}), ((3, 4), {}), ((2, 3), dict(sampling_ratio=2)),
    ((3, 3), dict(spatial_scale=(0.5, 2.0))),
    ((1, 2), dict(sampling_ratio=3, spatial_scale=(1.5, 0.7))),
    ((2, 3), dict(channel_last=True))])
def test_roi_align(output_size, kwargs):
    x = randn(2, 3, 8, 9)
    if kwargs.get("channel_last"):
        x = np.moveaxis(x, 1, -1)
    y = check_function(F.roi_align, [x, BOXES], ref=ref_roi_align, grad=[0],
                       kwargs=dict(output_size=output_size, **kwargs))
    assert y.shape[0] == len(BOXES)


def test_roi_align_docstring_example_and_no_box_gradient():
    x = nn.Variable.from_numpy_array(np.arange(1.0, 13).reshape(1, 1, 3, 4), need_grad=True)
    boxes = nn.Variable.from_numpy_array(np.array([[0, 1 / 4, 1 / 3, 3 / 4, 2 / 3]]),
                                         need_grad=True)
    y = F.roi_align(x, boxes, (1, 2), spatial_scale=(3, 4))
    y.forward()
    np.testing.assert_allclose(y.d, [[[[6.0, 7.0]]]])
    boxes.g = 5.0
    y.backward()
    np.testing.assert_array_equal(boxes.g, 5.0)
    np.testing.assert_allclose(x.g.sum(), 2.0)


def test_roi_align_empty_box_is_nan_and_sends_no_gradient():
    x = nn.Variable.from_numpy_array(randn(1, 2, 4, 4), need_grad=True)
    boxes = nn.Variable.from_numpy_array(np.array([[0, 1.0, 1.0, 1.0, 1.0],
                                                   [0, 0.5, 0.5, 2.5, 3.5]]))
    y = F.roi_align(x, boxes, (2, 2))
    y.forward()
    assert np.isnan(y.d[0]).all() and np.isfinite(y.d[1]).all()
    x.g = 0
    y.backward(np.ones(y.shape))
    assert np.isfinite(x.g).all() and x.g.sum() == pytest.approx(8.0)


def test_roi_align_bad_batch_index():
    y = F.roi_align(nn.Variable.from_numpy_array(randn(2, 1, 4, 4)),
                    nn.Variable.from_numpy_array(np.array([[2.0, 0, 0, 2, 2]])), (2, 2))
    with pytest.raises(ValueError, match=r"RoiAlign: boxes\[:, 0\] holds batch indices"):
        y.forward()


# -- errors -------------------------------------------------------------------------

@pytest.mark.parametrize("f,shapes,kwargs,match", [
    (F.affine_grid, [(2, 2, 3)], dict(size=(4,)), "AffineGrid: size="),
    (F.affine_grid, [(2, 2, 3)], dict(size=(2, 3, 4)), r"AffineGrid: theta \(2, 2, 3\)"),
    (F.affine_grid, [(2, 3)], dict(size=(3, 4)), "AffineGrid: theta"),
    (F.affine_grid, [(2, 2, 3)], dict(size=(0, 4)), "AffineGrid: size=.*positive"),
    (F.warp_by_grid, [(2, 3, 4, 5), (2, 3, 3, 2)], dict(mode="cubic"), "WarpByGrid: mode="),
    (F.warp_by_grid, [(2, 3, 4, 5), (2, 3, 3, 2)], dict(padding_mode="wrap"),
     "WarpByGrid: padding_mode="),
    (F.warp_by_grid, [(2, 3, 4, 5), (2, 3, 3, 3)], {}, "WarpByGrid: grid"),
    (F.warp_by_grid, [(2, 3, 4, 5), (1, 3, 3, 2)], {}, "WarpByGrid: .*batch size"),
    (F.warp_by_grid, [(2, 3, 4), (2, 3, 3, 2)], {}, "WarpByGrid: x"),
    (F.warp_by_flow, [(2, 3, 4), (2, 2, 4)], {}, "WarpByFlow: data"),
    (F.warp_by_flow, [(2, 3, 4, 5), (2, 3, 4, 5)], {}, "WarpByFlow: flow"),
    (F.warp_by_flow, [(2, 3, 4, 5), (2, 2, 4, 6)], {}, "WarpByFlow: flow"),
    (F.roi_align, [(1, 2, 4, 4), (3, 4)], dict(output_size=(2, 2)), "RoiAlign: boxes"),
    (F.roi_align, [(2, 4, 4), (3, 5)], dict(output_size=(2, 2)), "RoiAlign: input"),
    (F.roi_align, [(1, 2, 4, 4), (3, 5)], dict(output_size=(0, 2)), "RoiAlign: output_size"),
    (F.roi_align, [(1, 2, 4, 4), (3, 5)], dict(output_size=(2,)), "RoiAlign: output_size"),
    (F.roi_align, [(1, 2, 4, 4), (3, 5)], dict(output_size=(2, 2), spatial_scale=(1.0,)),
     "RoiAlign: spatial_scale"),
])
def test_bad_inputs(f, shapes, kwargs, match):
    with pytest.raises(ValueError, match=match):
        f(*[nn.Variable(s) for s in shapes], **kwargs)


def test_float32_in_float32_out():
    x = nn.Variable.from_numpy_array(randn(1, 2, 4, 4).astype(np.float32), need_grad=True)
    grid = nn.Variable.from_numpy_array(_grid((1, 3, 3), (4, 4), False).astype(np.float32),
                                        need_grad=True)
    boxes = nn.Variable.from_numpy_array(np.array([[0, 0.5, 0.5, 3, 3]], np.float32))
    theta = nn.Variable.from_numpy_array(randn(1, 2, 3).astype(np.float32), need_grad=True)
    flow = nn.Variable.from_numpy_array(randn(1, 2, 4, 4).astype(np.float32), need_grad=True)
    for y in (F.warp_by_grid(x, grid), F.roi_align(x, boxes, (2, 2)),
              F.affine_grid(theta, (3, 3)), F.warp_by_flow(x, flow)):
        y.forward()
        y.backward()
        assert y.d.dtype == np.float32, y.parent.name
    assert x.g.dtype == grid.g.dtype == theta.g.dtype == flow.g.dtype == np.float32


# -- parity with the real NNabla ------------------------------------------------------

def test_parity_with_real_nnabla():
    from nnabla_parity import check_parity
    rng = np.random.RandomState(0)
    cases = []
    for align_corners in (False, True):
        cases.append(("affine_grid", [rng.randn(2, 2, 3)],
                      dict(size=(3, 5), align_corners=align_corners), [0]))
        cases.append(("affine_grid", [rng.randn(2, 3, 4)],
                      dict(size=(2, 3, 4), align_corners=align_corners), [0]))
    x2, x3 = rng.randn(2, 3, 5, 6), rng.randn(2, 2, 3, 4, 5)
    grids2 = [rng.uniform(-4, 4, (2, 4, 7, 2))]
    for align_corners in (False, True):
        # Exact pixel positions and halves: the kinks, where both pick the same side.
        fx, fy = rng.randint(-8, 14, (2, 4, 4)) / 2, rng.randint(-8, 12, (2, 4, 4)) / 2
        norm = ((lambda f, s: f * 2 / (s - 1) - 1) if align_corners
                else (lambda f, s: (2 * f + 1) / s - 1))
        grids2.append(np.stack([norm(fx, 6), norm(fy, 5)], -1))
    g3 = rng.uniform(-3, 3, (2, 3, 2, 4, 3))
    for mode in ("linear", "nearest"):
        need = [0, 1] if mode == "linear" else [0]
        for kwargs in WARP_ARGS:
            kwargs = dict(mode=mode, **kwargs)
            cases += [("warp_by_grid", [x2, g], kwargs, need) for g in grids2]
            cases.append(("warp_by_grid", [x3, g3], kwargs, need))
    data = rng.randn(2, 3, 5, 6)
    cases.append(("warp_by_flow", [data, rng.uniform(-8, 8, (2, 2, 5, 6))], {}, [0, 1]))
    cases.append(("warp_by_flow", [data, rng.randint(-8, 8, (2, 2, 5, 6)) / 2], {}, [0, 1]))
    x = rng.randn(2, 3, 8, 9)
    for output_size, kwargs in [((2, 2), {}), ((3, 4), {}), ((2, 3), dict(sampling_ratio=2)),
                                ((3, 3), dict(spatial_scale=(0.5, 2.0))),
                                ((1, 1), dict(sampling_ratio=3, spatial_scale=(1.5, 0.7)))]:
        cases.append(("roi_align", [x, BOXES], dict(output_size=output_size, **kwargs), [0]))
    # Empty and reversed boxes (NaN or zero), boxes reaching far outside the image.
    odd = np.array([[0, 2.0, 2.0, 2.0, 2.0], [1, 5.0, 4.0, 1.0, 1.5], [1, -6, -5, 14, 12]])
    cases.append(("roi_align", [x, odd], dict(output_size=(2, 3)), [0]))
    cases.append(("roi_align", [x, odd], dict(output_size=(2, 3), sampling_ratio=2), [0]))
    assert check_parity(cases) == len(cases)
