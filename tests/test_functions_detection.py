"""Five functions that share their test machinery, each named with its module:
unique (sorting), nms_detection2d (detection), max_pooling_backward (pooling),
patch_correlation (spatial) and vat_noise (stochastic). Forward vs direct (loop)
NumPy references, backward vs numerical gradients where differentiable, NNabla's
quirks (dynamic-only unique, vat_noise writing into w.d), bad input, and parity
with NNabla 1.39 when present."""
import builtins
import itertools

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from gradcheck import check_function, randn


# ---------------------------------------------------------------- unique

def ref_unique(x, flatten=True, axis=None, sorted=True, with_index=False, with_inverse=False,
               with_counts=False):
    """First occurrences found one slice at a time, then optionally sorted."""
    if flatten:
        items = [np.array(v) for v in x.reshape(-1)]
    else:
        items = list(np.moveaxis(x, axis, 0))
    keys, first, inverse = [], [], []
    for i, item in enumerate(items):
        key = tuple(np.ravel(item).tolist())
        if key not in keys:
            keys.append(key)
            first.append(i)
        inverse.append(keys.index(key))
    order = list(range(len(keys)))
    if sorted:
        order = builtins.sorted(order, key=lambda k: keys[k])
    rank = {k: r for r, k in enumerate(order)}
    values = np.array([items[first[k]] for k in order], dtype=x.dtype)
    y = values.reshape(-1) if flatten else np.moveaxis(values, 0, axis)
    out = [y]
    if with_index:
        out.append(np.array([first[k] for k in order], dtype=np.int32))
    if with_inverse:
        out.append(np.array([rank[k] for k in inverse], dtype=np.int32))
    if with_counts:
        out.append(np.array([inverse.count(k) for k in order], dtype=np.int32))
    return tuple(out) if len(out) > 1 else out[0]


UNIQUE_X = np.array([[3, 1, 2, 1], [3, 1, 2, 1], [0, 5, 5, 0]], dtype=np.float32)
UNIQUE_ARGS = [dict(axis=0), dict(axis=1), dict(axis=-1, sorted=False),
               dict(flatten=False, axis=0), dict(flatten=False, axis=1),
               dict(flatten=False, axis=0, sorted=False),
               dict(flatten=False, axis=-1, sorted=False)]


@pytest.mark.parametrize("kwargs", UNIQUE_ARGS)
@pytest.mark.parametrize("flags", [(False, False, False), (True, True, True), (False, True, False)])
def test_unique_forward(kwargs, flags):
    with_index, with_inverse, with_counts = flags
    kw = dict(kwargs, with_index=with_index, with_inverse=with_inverse, with_counts=with_counts)
    want = ref_unique(UNIQUE_X, **kw)
    with nn.auto_forward():
        got = F.unique(nn.Variable.from_numpy_array(UNIQUE_X), **kw)
    want = want if isinstance(want, tuple) else (want,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == 1 + sum(flags)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.d.dtype == w.dtype
        np.testing.assert_array_equal(g.d, w)
    assert got[0].d.dtype == np.float32  # y keeps x's dtype, indices are int32


def test_unique_known_values():
    """Values measured with NNabla 1.39."""
    with nn.auto_forward():
        y, index, inverse, counts = F.unique(nn.Variable.from_numpy_array(UNIQUE_X), axis=0,
                                             with_index=True, with_inverse=True,
                                             with_counts=True)
        assert y.d.tolist() == [0, 1, 2, 3, 5]
        assert index.d.tolist() == [8, 1, 2, 0, 9]
        assert inverse.d.tolist() == [3, 1, 2, 1, 3, 1, 2, 1, 0, 4, 4, 0]
        assert counts.d.tolist() == [2, 4, 2, 2, 2]
        y, index, inverse, counts = F.unique(nn.Variable.from_numpy_array(UNIQUE_X),
                                             flatten=False, axis=1, with_index=True,
                                             with_inverse=True, with_counts=True)
        assert y.d.tolist() == [[1, 1, 2, 3], [1, 1, 2, 3], [0, 5, 5, 0]]
        assert index.d.tolist() == [3, 1, 2, 0] and inverse.d.tolist() == [3, 1, 2, 0]
        y = F.unique(nn.Variable.from_numpy_array(UNIQUE_X), axis=0, sorted=False)
        assert y.d.tolist() == [3, 1, 2, 0, 5]


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_unique_slices_3d(axis):
    x = np.random.RandomState(axis + 5).randint(0, 2, (3, 4, 5)).astype(np.float64)
    for sorted_ in (True, False):
        kw = dict(flatten=False, axis=axis, sorted=sorted_, with_index=True, with_inverse=True,
                  with_counts=True)
        with nn.auto_forward():
            got = F.unique(nn.Variable.from_numpy_array(x), **kw)
        for g, w in zip(got, ref_unique(x, **kw)):
            np.testing.assert_array_equal(g.d, w)
        # inverse rebuilds x from y
        np.testing.assert_array_equal(np.take(got[0].d, got[2].d, axis=axis), x)


def test_unique_on_ndarray_and_no_gradient():
    y, counts = F.unique(nn.NdArray.from_numpy_array(UNIQUE_X), axis=0, with_counts=True)
    assert isinstance(y, nn.NdArray) and counts.data.tolist() == [2, 4, 2, 2, 2]
    x = nn.Variable.from_numpy_array(UNIQUE_X, need_grad=True)
    with nn.auto_forward():
        y = F.unique(x, axis=0)
        x.g = 1.0
        F.sum(y).backward()
    np.testing.assert_array_equal(x.g, 1.0)  # nothing flows back


def test_unique_errors():
    x = nn.Variable.from_numpy_array(UNIQUE_X)
    with pytest.raises(TypeError, match="axis"):  # NNabla: axis=None is not an int
        with nn.auto_forward():
            F.unique(x)
    with pytest.raises(RuntimeError, match="Unique: .*dynamic mode"):
        F.unique(x, axis=0)  # static graph: the output shape is unknown
    with pytest.raises(ValueError, match="Unique: axis=2 is out of range"):
        with nn.auto_forward():
            F.unique(x, flatten=False, axis=2)
    with pytest.raises(ValueError, match="Unique: axis=-3 is out of range"):
        with nn.auto_forward():
            F.unique(x, axis=-3)


# ---------------------------------------------------------------- nms_detection2d

def _iou(a, b):
    ow = min(a[0] + a[2] / 2, b[0] + b[2] / 2) - max(a[0] - a[2] / 2, b[0] - b[2] / 2)
    oh = min(a[1] + a[3] / 2, b[1] + b[3] / 2) - max(a[1] - a[3] / 2, b[1] - b[3] / 2)
    inter = 0.0 if ow < 0 or oh < 0 else ow * oh
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union != 0 else float("nan")


def ref_nms(x, thresh=0.5, nms=0.45, nms_per_class=True):
    """Darknet-style loops: threshold, then pairwise suppression in score order."""
    y = np.array(x, dtype=np.float64)
    n, boxes, width = y.shape
    for b in range(n):
        det = y[b]
        det[:, 4] = np.where(det[:, 4] >= thresh, det[:, 4], 0)
        det[:, 5:] = det[:, 4:5] * det[:, 5:]
        det[:, 5:] = np.where(det[:, 5:] >= thresh, det[:, 5:], 0)
        if nms_per_class:
            for k in range(5, width):
                order = sorted(range(boxes), key=lambda i: -det[i, k])
                for r, i in enumerate(order):
                    if det[i, k] == 0:
                        continue
                    for j in order[r + 1:]:
                        if _iou(det[i], det[j]) > nms:
                            det[j, k] = 0
        else:
            order = sorted(range(boxes), key=lambda i: -det[i, 4])
            lost = set()
            for r, i in enumerate(order):
                if det[i, 4] == 0:
                    continue
                for j in order[r + 1:]:  # a suppressed box still suppresses
                    if _iou(det[i], det[j]) > nms:
                        lost.add(j)
            for j in lost:
                det[j, 4:] = 0
    return y


def _detections(n, boxes, classes, seed=0):
    rng = np.random.RandomState(seed)
    return np.concatenate([rng.uniform(0, 1, (n, boxes, 2)), rng.uniform(0.05, 0.6, (n, boxes, 2)),
                           rng.uniform(0, 1, (n, boxes, 1 + classes))], axis=-1)


NMS_ARGS = [dict(), dict(nms_per_class=False), dict(thresh=0.1, nms=0.3),
            dict(thresh=0.0, nms=0.6, nms_per_class=False), dict(thresh=0.2, nms=0.2)]


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 12, 3), (3, 30, 1)])
@pytest.mark.parametrize("kwargs", NMS_ARGS)
def test_nms_detection2d_forward(shape, kwargs):
    x = _detections(*shape, seed=sum(shape))
    check_function(F.nms_detection2d, [x], ref=ref_nms, kwargs=kwargs, grad=[])


def test_nms_detection2d_known_cases():
    """Hand-made cases, outputs measured with NNabla 1.39."""
    def run(x, **kw):
        return F.nms_detection2d(nn.Variable.from_numpy_array(np.array(x, np.float32)), **kw)

    chain = [[[0.5, .5, .3, .3, .7, .7], [0.6, .5, .3, .3, .8, .8], [0.7, .5, .3, .3, .9, .9]]]
    y = run(chain, thresh=0.0)  # greedy per class: the middle box goes, the far one stays
    y.forward()
    np.testing.assert_allclose(y.d[0, :, 5], [0.49, 0, 0.81], rtol=1e-6)
    y = run(chain, thresh=0.0, nms_per_class=False)  # by objectness: suppressed boxes suppress
    y.forward()
    np.testing.assert_allclose(y.d[0, :, 4:], [[0, 0], [0, 0], [0.9, 0.81]], rtol=1e-6)
    # thresholds keep equality; an IoU equal to nms does not suppress
    y = run([[[0, 0, 2, 2, 0.5, 1.0], [0, 0, 2, 1, 1.0, 0.5]]], nms=0.5)
    y.forward()
    np.testing.assert_allclose(y.d[0, :, 4:], [[0.5, 0.5], [1.0, 0.5]])
    # the objectness is thresholded before it scores the classes
    y = run([[[.5, .5, .3, .3, -0.9, -0.1, 0.5]]], thresh=0.0)
    y.forward()
    np.testing.assert_array_equal(y.d[0, 0, 4:], [0, 0, 0])


def test_nms_detection2d_passes_no_gradient():
    x = nn.Variable.from_numpy_array(_detections(1, 5, 2), need_grad=True)
    y = F.nms_detection2d(x)
    x.g = 2.0
    F.sum(y).forward()
    F.sum(y).backward()
    np.testing.assert_array_equal(x.g, 2.0)


def test_nms_detection2d_errors():
    with pytest.raises(ValueError, match="NmsDetection2d: x .* must be 3-D"):
        F.nms_detection2d(nn.Variable((2, 6)))
    with pytest.raises(ValueError, match="NmsDetection2d: x .* more than 5"):
        F.nms_detection2d(nn.Variable((1, 3, 5)))


# ---------------------------------------------------------------- max_pooling_backward

def _pool_geometry(spatial, kernel, stride, ignore_border, pad):
    if ignore_border:
        return [int((s + 2 * p - k) / st) + 1 for s, k, st, p in zip(spatial, kernel, stride, pad)]
    return [(s + p - 1) // st + 1 for s, st, p in zip(spatial, stride, pad)]


def ref_max_pooling_backward(dy, x, kernel, stride=None, ignore_border=True, pad=None,
                             channel_last=False):
    """Each window adds its dy to the first (row-major) maximum inside the input."""
    d = len(kernel)
    stride = tuple(stride) if stride is not None else tuple(kernel)
    pad = tuple(pad) if pad is not None else (0,) * d
    if channel_last:
        x, dy = np.moveaxis(x, -1, x.ndim - d - 1), np.moveaxis(dy, -1, dy.ndim - d - 1)
    spatial = x.shape[-d:]
    out = _pool_geometry(spatial, kernel, stride, ignore_border, pad)
    dx = np.zeros(x.shape)
    for lead in itertools.product(*[range(n) for n in x.shape[:-d]]):
        for o in itertools.product(*[range(n) for n in out]):
            best, where = -np.inf, None
            for k in itertools.product(*[range(n) for n in kernel]):
                pos = tuple(o[i] * stride[i] - pad[i] + k[i] for i in range(d))
                if any(p < 0 or p >= spatial[i] for i, p in enumerate(pos)):
                    continue
                if any(pos[i] >= o[i] * stride[i] - pad[i] + kernel[i] or
                       pos[i] >= spatial[i] + pad[i] for i in range(d)):
                    continue
                if x[lead + pos] > best:
                    best, where = x[lead + pos], pos
            if where is not None:  # a window wholly in the padding passes nothing
                dx[lead + where] += dy[lead + o]
    return np.moveaxis(dx, dx.ndim - d - 1, -1) if channel_last else dx


MPB_ARGS = [((2, 2), {}), ((2, 2), dict(ignore_border=False)), ((2, 3), dict(stride=(1, 1))),
            ((3, 3), dict(stride=(2, 2), pad=(1, 1))), ((3, 2), dict(stride=(2, 1), pad=(1, 0),
                                                                    ignore_border=False)),
            ((2, 2), dict(channel_last=True)), ((2, 2, 2), {}), ((3,), {})]


@pytest.mark.parametrize("kernel,kwargs", MPB_ARGS)
def test_max_pooling_backward(kernel, kwargs):
    shape = (2, 3, 4, 5, 6) if len(kernel) == 3 else (2, 3, 5, 7)
    x = randn(*shape, seed=1)
    dy_shape = F.max_pooling(nn.Variable(shape), kernel, **kwargs).shape
    dy = randn(*dy_shape, seed=2)
    check_function(F.max_pooling_backward, [dy, x], ref=ref_max_pooling_backward,
                   kwargs=dict(kernel=kernel, **kwargs), grad=[0])


def test_max_pooling_backward_is_max_pooling_gradient():
    ties = np.round(randn(2, 3, 6, 7) * 2) / 2  # ties: the first maximum wins in both
    for kwargs in (dict(kernel=(2, 2)), dict(kernel=(3, 3), stride=(1, 2), pad=(1, 1))):
        x = nn.Variable.from_numpy_array(ties, need_grad=True)
        y = F.max_pooling(x, **kwargs)
        dy = randn(*y.shape, seed=3)
        x.g = 0
        y.forward()
        y.backward(dy)
        dx = F.max_pooling_backward(nn.Variable.from_numpy_array(dy), nn.Variable.from_numpy_array(
            ties), **kwargs)
        dx.forward()
        np.testing.assert_allclose(dx.d, x.g)


def test_max_pooling_backward_gives_x_no_gradient():
    dy = nn.Variable.from_numpy_array(randn(1, 2, 2, 2), need_grad=True)
    x = nn.Variable.from_numpy_array(randn(1, 2, 4, 4), need_grad=True)
    dx = F.max_pooling_backward(dy, x, (2, 2))
    x.g = 1.5
    dx.forward()
    dx.backward(randn(1, 2, 4, 4, seed=4))
    np.testing.assert_array_equal(x.g, 1.5)


def test_max_pooling_backward_errors():
    with pytest.raises(ValueError, match=r"MaxPoolingBackward: dy \(1, 2, 2, 3\) must have the "
                                         r"max-pooled shape \(1, 2, 2, 2\)"):
        F.max_pooling_backward(nn.Variable((1, 2, 2, 3)), nn.Variable((1, 2, 4, 4)), (2, 2))
    with pytest.raises(ValueError, match="MaxPoolingBackward: kernel"):
        F.max_pooling_backward(nn.Variable((1, 2, 2, 2)), nn.Variable((1, 2, 4, 4)), (0, 2))


# ---------------------------------------------------------------- patch_correlation

def ref_patch_correlation(x1, x2, patch=(1, 1), shift=(0, 0), patch_step=(1, 1),
                          shift_step=(1, 1), padding=(0, 0, 0, 0), channel_last=False):
    """The defining sum, one output element at a time (x2 is zero off the image)."""
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    patch, shift, patch_step, shift_step = map(pair, (patch, shift, patch_step, shift_step))
    padding = (padding,) * 4 if isinstance(padding, int) else tuple(padding)
    if len(padding) == 2:
        padding = (padding[0], padding[0], padding[1], padding[1])
    if not channel_last:
        x1, x2 = x1.transpose(0, 2, 3, 1), x2.transpose(0, 2, 3, 1)
    n, h, w, _ = x1.shape
    top, bottom, left, right = padding
    ho = (h + top + bottom - patch[0]) // patch_step[0] + 1
    wo = (w + left + right - patch[1]) // patch_step[1] + 1
    sy = range(-shift[0], shift[0] + 1, shift_step[0])
    sx = range(-shift[1], shift[1] + 1, shift_step[1])

    def at(x, b, r, c):
        return x[b, r, c] if 0 <= r < h and 0 <= c < w else np.zeros(x.shape[-1])

    y = np.zeros((n, ho, wo, len(sy), len(sx)))
    for b, i, j in itertools.product(range(n), range(ho), range(wo)):
        for (u, dy), (v, dx) in itertools.product(enumerate(sy), enumerate(sx)):
            total = 0.0
            for kh, kw in itertools.product(range(patch[0]), range(patch[1])):
                r, c = i * patch_step[0] + kh - top, j * patch_step[1] + kw - left
                total += np.dot(at(x1, b, r, c), at(x2, b, r + dy, c + dx))
            y[b, i, j, u, v] = total
    return y if channel_last else y.transpose(0, 3, 4, 1, 2)


PC_ARGS = [dict(), dict(shift=(1, 2)), dict(shift=(3, 2), shift_step=(2, 3)),
           dict(patch=(2, 3), patch_step=(2, 2), padding=(1, 0, 2, 1), shift=1),
           dict(patch=2, padding=1, shift=(1, 1), shift_step=2), dict(padding=(1, 2)),
           dict(patch=(4, 5)), dict(shift=(1, 1), channel_last=True)]


@pytest.mark.parametrize("kwargs", PC_ARGS)
@pytest.mark.parametrize("channels", [1, 3])
def test_patch_correlation(kwargs, channels):
    x1, x2 = randn(2, channels, 4, 5, seed=1), randn(2, channels, 4, 5, seed=2)
    check_function(F.patch_correlation, [x1, x2], ref=ref_patch_correlation, kwargs=kwargs)


def test_patch_correlation_known_values():
    """The documented examples (all-ones 1x2x3x4 input)."""
    x = nn.Variable.from_numpy_array(np.ones((1, 2, 3, 4), np.float32))
    with nn.auto_forward():
        assert F.patch_correlation(x, x, patch=(3, 4)).d.tolist() == [[[[[24.0]]]]]
        y = F.patch_correlation(x, x, (3, 1), shift=(0, 1))
        assert y.shape == (1, 1, 3, 1, 4)
        np.testing.assert_array_equal(y.d[0, 0, :, 0], [[0, 6, 6, 6], [6, 6, 6, 6], [6, 6, 6, 0]])
        y = F.patch_correlation(x, x, patch=(3, 4), padding=(0, 1, 4, 4))
        np.testing.assert_array_equal(y.d[0, 0, 0], [[0, 6, 12, 18, 24, 18, 12, 6, 0],
                                                     [0, 4, 8, 12, 16, 12, 8, 4, 0]])
    v = nn.Variable((1, 256, 44, 60))
    assert F.patch_correlation(v, v, shift=20, shift_step=2).shape == (1, 21, 21, 44, 60)


def test_patch_correlation_errors():
    a = nn.Variable((1, 2, 4, 5))
    with pytest.raises(ValueError, match="patch_correlation: .* 4 dimensions"):
        F.patch_correlation(nn.Variable((2, 4, 5)), nn.Variable((2, 4, 5)))
    with pytest.raises(ValueError, match="patch_correlation: .* equal shapes"):
        F.patch_correlation(a, nn.Variable((1, 2, 4, 4)))
    with pytest.raises(ValueError, match=r"PatchCorrelation: patch=\(5, 1\) does not fit"):
        F.patch_correlation(a, a, patch=(5, 1))
    with pytest.raises(ValueError, match=r"PatchCorrelation: shift=\(-1, 0\) must be 2 "
                                         r"integers >= 0"):
        F.patch_correlation(a, a, shift=(-1, 0))
    with pytest.raises(ValueError, match="PatchCorrelation: patch_step"):
        F.patch_correlation(a, a, patch_step=(0, 1))
    with pytest.raises(ValueError, match="PatchCorrelation: padding"):
        F.patch_correlation(a, a, padding=(1, 2, 3))


# ---------------------------------------------------------------- vat_noise

def ref_vat_noise(x, w, base_axis=1, eps=1.0):
    b = base_axis % x.ndim
    rows = x.reshape(int(np.prod(x.shape[:b])), -1)
    return (eps * rows / np.sqrt((rows ** 2).sum(1, keepdims=True) + 1e-8)).reshape(x.shape)


@pytest.mark.parametrize("shape,kwargs", [((2, 3), {}), ((2, 3, 4), dict(base_axis=2, eps=2.5)),
                                          ((2, 3, 4), dict(base_axis=-2)),
                                          ((3, 4), dict(base_axis=0, eps=0.5))])
def test_vat_noise_forward(shape, kwargs):
    check_function(F.vat_noise, [randn(*shape), randn(*shape, seed=1)], ref=ref_vat_noise,
                   kwargs=kwargs, grad=[])


def test_vat_noise_tiny_norm():
    """The 1e-8 under the square root (measured: 1e-4 -> 0.7071)."""
    y = F.vat_noise(nn.Variable.from_numpy_array(np.full((1, 1), 1e-4)), nn.Variable((1, 1)))
    y.forward()
    np.testing.assert_allclose(y.d, [[1e-4 / np.sqrt(2e-8)]])


@pytest.mark.parametrize("need", [(True, False), (False, True), (True, True)])
def test_vat_noise_backward_writes_w_data(need):
    """Backward overwrites w.d with eps * dy (not accumulating); no grads flow."""
    x = nn.Variable.from_numpy_array(randn(2, 3), need_grad=need[0])
    w = nn.Variable.from_numpy_array(np.ones((2, 3)), need_grad=need[1])
    y = F.vat_noise(x, w, eps=2.0)
    x.g, w.g = 1.0, 3.0
    dy = randn(2, 3, seed=5)
    y.forward()
    y.backward(dy)
    y.backward(dy)
    np.testing.assert_allclose(w.d, 2.0 * dy)
    np.testing.assert_array_equal(x.g, 1.0)
    np.testing.assert_array_equal(w.g, 3.0)


def test_vat_noise_in_a_graph():
    """Through a loss, w.d receives eps * dL/dy; without need_grad nothing is written."""
    x = nn.Variable.from_numpy_array(randn(2, 3), need_grad=True)
    w = nn.Variable.from_numpy_array(np.zeros((2, 3)), need_grad=True)
    loss = F.sum(F.vat_noise(x, w, eps=2.0) * 3.0)
    loss.forward()
    loss.backward()
    np.testing.assert_allclose(w.d, 6.0)
    x2 = nn.Variable.from_numpy_array(randn(2, 3))
    w2 = nn.Variable.from_numpy_array(np.zeros((2, 3)))
    y = F.vat_noise(x2, w2)
    y.forward()
    y.backward(np.ones((2, 3)))
    np.testing.assert_array_equal(w2.d, 0.0)


def test_vat_noise_errors():
    with pytest.raises(ValueError, match=r"VATNoise: w \(3, 2\) must have the shape of x"):
        F.vat_noise(nn.Variable((2, 3)), nn.Variable((3, 2)))
    with pytest.raises(ValueError, match="VATNoise: base_axis=2 is out of range"):
        F.vat_noise(nn.Variable((2, 3)), nn.Variable((2, 3)), base_axis=2)


# ---------------------------------------------------------------- parity with NNabla 1.39

def test_parity_with_real_nnabla():
    from nnabla_parity import check_parity
    x1, x2 = randn(2, 3, 5, 6, seed=1), randn(2, 3, 5, 6, seed=2)
    cases = [("patch_correlation", [x1, x2], kw, [0, 1]) for kw in PC_ARGS]
    cases.append(("patch_correlation", [x1[:, :1], x2[:, :1]], dict(shift=1, patch=2), [0, 1]))
    ties = np.round(randn(2, 3, 5, 6, seed=3) * 2) / 2
    for kernel, kwargs in MPB_ARGS:
        if kwargs.get("channel_last") or len(kernel) != 2:
            continue  # NNabla's CPU pooling: no channel_last; 1-D kernels give garbage
        dy_shape = F.max_pooling(nn.Variable(ties.shape), kernel, **kwargs).shape
        cases.append(("max_pooling_backward", [randn(*dy_shape, seed=4), ties],
                      dict(kernel=kernel, **kwargs), [0]))
    x = _detections(2, 30, 3, seed=7)
    cases += [("nms_detection2d", [x], kw, []) for kw in NMS_ARGS]
    cases += [("vat_noise", [randn(2, 3, 4), randn(2, 3, 4, seed=1)], kw, [])
              for kw in (dict(), dict(base_axis=2, eps=2.0), dict(base_axis=-1))]
    assert check_parity(cases, rtol=1e-4, atol=1e-5) == len(cases)


_NNABLA_UNIQUE = r"""
import json, sys, numpy as np
import nnabla as nn, nnabla.functions as F
x, cases = json.loads(sys.stdin.read())
out = []
with nn.auto_forward():
    for kw in cases:
        r = F.unique(nn.Variable.from_numpy_array(np.array(x, np.float32)), **kw)
        r = r if isinstance(r, tuple) else (r,)
        out.append([[a.d.tolist(), str(a.d.dtype)] for a in r])
w = nn.Variable.from_numpy_array(np.zeros((2, 3), np.float32), need_grad=True)
y = F.vat_noise(nn.Variable.from_numpy_array(np.array(x, np.float32)[:2, :3]), w, eps=1.5)
y.forward()
y.backward(np.arange(6, dtype=np.float32).reshape(2, 3))
print(json.dumps([out, w.d.tolist()]))
"""


def test_parity_unique_and_vat_noise_write_with_real_nnabla():
    from nnabla_parity import nnabla_output
    x = np.random.RandomState(0).randint(0, 3, (5, 4)).astype(np.float32)
    cases = [dict(kw, with_index=True, with_inverse=True, with_counts=True) for kw in UNIQUE_ARGS]
    cases.append(dict(axis=0))
    want, w_data = nnabla_output(_NNABLA_UNIQUE, [x.tolist(), cases])
    with nn.auto_forward():
        for kw, outs in zip(cases, want):
            got = F.unique(nn.Variable.from_numpy_array(x), **kw)
            got = got if isinstance(got, tuple) else (got,)
            assert len(got) == len(outs)
            for g, (values, dtype) in zip(got, outs):
                assert g.d.dtype == np.dtype(dtype), kw
                np.testing.assert_array_equal(g.d, np.array(values), err_msg=str(kw))
    w = nn.Variable.from_numpy_array(np.zeros((2, 3), np.float32), need_grad=True)
    y = F.vat_noise(nn.Variable.from_numpy_array(x[:2, :3]), w, eps=1.5)
    y.forward()
    y.backward(np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_allclose(w.d, np.array(w_data))


# ------------------------------------------- max_pooling_backward with padding

MPB_PADDED = [((2, 2), dict(pad=(1, 1))),
              ((2, 2), dict(stride=(1, 1), pad=(1, 1), ignore_border=False)),
              ((4, 4), dict(stride=(2, 2), pad=(3, 3), ignore_border=False)),
              ((3, 3), dict(stride=(3, 3), pad=(2, 1))), ((5, 5), dict(pad=(1, 1)))]


@pytest.mark.parametrize("kernel,kwargs", MPB_PADDED)
def test_max_pooling_backward_padded(kernel, kwargs):
    x = randn(2, 3, 4, 5, seed=1)
    dy_shape = F.max_pooling(nn.Variable(x.shape), kernel, **kwargs).shape
    check_function(F.max_pooling_backward, [randn(*dy_shape, seed=2), x],
                   ref=ref_max_pooling_backward, kwargs=dict(kernel=kernel, **kwargs), grad=[0])


def test_max_pooling_backward_window_wholly_in_padding():
    # pad >= kernel: the first row/column of windows holds only padding. They pass no
    # gradient here; NNabla takes the element at the clamped window start (README).
    x = randn(1, 2, 4, 5, seed=1)
    check_function(F.max_pooling_backward, [randn(1, 2, 4, 4, seed=2), x],
                   ref=ref_max_pooling_backward, kwargs=dict(kernel=(2, 2), pad=(2, 2)),
                   grad=[0])


def test_max_pooling_backward_needs_the_pooled_dy_shape():
    # NNabla checks neither dy's shape nor the lengths of stride/pad (see README).
    x = nn.Variable((1, 2, 5, 5))
    for dy in [(1, 2, 2, 2), (1, 2, 4, 4), (1, 1, 3, 3), (2, 2, 3, 3), (1, 2, 9)]:
        with pytest.raises(ValueError, match=r"MaxPoolingBackward: dy .* must have the "
                                             r"max-pooled shape \(1, 2, 3, 3\)"):
            F.max_pooling_backward(nn.Variable(dy), x, (2, 2), pad=(1, 1))
    with pytest.raises(ValueError, match="must have 2 entries"):
        F.max_pooling_backward(nn.Variable((1, 2, 3, 3)), x, (2, 2), pad=(1,))


def test_max_pooling_backward_padded_parity_with_real_nnabla():
    from nnabla_parity import check_parity
    ties = np.round(randn(2, 3, 4, 5, seed=3) * 2) / 2
    cases = []
    for kernel, kwargs in MPB_PADDED:
        dy_shape = F.max_pooling(nn.Variable(ties.shape), kernel, **kwargs).shape
        cases.append(("max_pooling_backward", [randn(*dy_shape, seed=4), ties],
                      dict(kernel=kernel, **kwargs), [0]))
    assert check_parity(cases, rtol=1e-5, atol=1e-6) == len(cases)


_NNABLA_MPB_SMALL_DY = r"""
import numpy as np, nnabla as nn, nnabla.functions as F
x = nn.Variable.from_numpy_array(np.array(x, np.float32))
y = F.max_pooling_backward(nn.Variable.from_numpy_array(np.array(dy, np.float32)), x,
                           (2, 2), pad=(1, 1))
y.forward()
RESULT = y.d.tolist()
"""


def test_nnabla_accepts_a_dy_of_the_wrong_shape():
    # What NNabla does instead of raising: a dy smaller than the pooled grid is taken
    # as the gradient of the first windows only (larger ones read outside the arrays).
    from nnabla_parity import run_in_nnabla
    x, dy = randn(1, 2, 5, 5, seed=1), randn(1, 2, 2, 2, seed=2)
    got = run_in_nnabla(_NNABLA_MPB_SMALL_DY, x=x.tolist(), dy=dy.tolist())
    if got is None:
        pytest.skip("NNabla 1.39 is not installed")
    full = np.zeros((1, 2, 3, 3))
    full[:, :, :2, :2] = dy
    np.testing.assert_allclose(got, ref_max_pooling_backward(full, x, (2, 2), pad=(1, 1)),
                               rtol=1e-5, atol=1e-6)
