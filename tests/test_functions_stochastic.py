"""Stochastic functions: distributions, seeding, masks reused in backward,
adjoint checks for the random geometric ops, top-k selection (NNabla's values)."""
import itertools

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from gradcheck import check_function, randn


def V(a, need_grad=False):
    return nn.Variable.from_numpy_array(np.asarray(a), need_grad=need_grad)


def run(y):
    for v in (y if isinstance(y, tuple) else (y,)):
        v.forward()
    return y


def backward_of(x, y, gy):
    x.g = np.zeros(x.shape, x.d.dtype)
    y.backward(gy)
    return x.g.copy()


def test_dropout_mask_scale_and_backward():
    x = V(randn(50, 40).astype(np.float32) + 3, need_grad=True)
    y = run(F.dropout(x, p=0.3, seed=1))
    kept = y.d != 0
    np.testing.assert_allclose(y.d[kept], x.d[kept] / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.05 and y.d.dtype == np.float32
    gy = randn(50, 40, seed=2)
    np.testing.assert_allclose(backward_of(x, y, gy), gy * kept / 0.7, rtol=1e-6)


def test_dropout_seeds():
    x = V(np.ones((20, 20), np.float32))
    a, b = run(F.dropout(x, 0.5, seed=42)), run(F.dropout(x, 0.5, seed=42))
    np.testing.assert_array_equal(a.d, b.d)  # same seed, same first mask
    first = a.d.copy()
    a.forward()
    assert not np.array_equal(first, a.d)  # the function's generator advances
    nn.seed(5)
    c = run(F.dropout(x, 0.5)).d.copy()
    nn.seed(5)
    np.testing.assert_array_equal(run(F.dropout(x, 0.5)).d, c)
    np.testing.assert_array_equal(run(F.dropout(x, 0.0)).d, x.d)
    with pytest.raises(ValueError, match="Dropout: p=1"):
        F.dropout(x, 1.0)


@pytest.mark.parametrize("f,kw,check", [
    (F.rand, dict(low=1, high=2), lambda a: a.min() >= 1 and a.max() < 2 and abs(a.mean() - 1.5) < 0.05),
    (F.randint, dict(low=1, high=5), lambda a: a.dtype == np.int32 and set(np.unique(a)) == {1, 2, 3, 4}),
    (F.randn, dict(mu=2, sigma=3), lambda a: abs(a.mean() - 2) < 0.3 and abs(a.std() - 3) < 0.3),
    (F.rand_binomial, dict(n=3, p=0.5), lambda a: set(np.unique(a)) <= {0, 1, 2, 3} and abs(a.mean() - 1.5) < 0.1),
    (F.rand_beta, dict(alpha=2, beta=2), lambda a: a.min() > 0 and a.max() < 1 and abs(a.mean() - 0.5) < 0.05),
    (F.rand_gamma, dict(k=2, theta=1.5), lambda a: a.min() > 0 and abs(a.mean() - 3) < 0.2),
])
def test_generators(f, kw, check):
    y = run(f(shape=(40, 50), seed=3, **kw))
    assert y.shape == (40, 50) and check(y.d)
    if f is not F.randint:
        assert y.d.dtype == np.float32
    z = run(f(shape=(40, 50), seed=3, **kw))
    np.testing.assert_array_equal(y.d, z.d)
    assert f().shape == ()


def test_random_choice_with_replacement():
    x = V(np.arange(8.0).reshape(2, 4), need_grad=True)
    w = V(np.array([[1.0, 3.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]), need_grad=True)
    y = run(F.random_choice(x, w, shape=(2000,), seed=0))
    assert y.shape == (2, 2000)
    assert set(np.unique(y.d[0])) == {0.0, 1.0} and set(np.unique(y.d[1])) == {6.0, 7.0}
    assert abs((y.d[0] == 1).mean() - 0.75) < 0.05
    gy = np.ones((2, 2000))
    gx = backward_of(x, y, gy)
    np.testing.assert_array_equal(gx, [[(y.d[0] == v).sum() for v in range(4)],
                                       [(y.d[1] == v).sum() for v in range(4, 8)]])
    np.testing.assert_array_equal(w.g, gx)


def test_random_choice_without_replacement():
    x = V(np.arange(12.0).reshape(3, 4))
    w = V(np.array([[1.0, 1, 1, 1], [0, 2, 1, 1], [5, 0, 0, 1]]))
    y = run(F.random_choice(x, w, shape=(2,), replace=False, seed=0))
    for row, vals in zip(range(3), y.d):
        assert len(set(vals)) == 2 and all(v in x.d[row][w.d[row] > 0] for v in vals)
    with pytest.raises(ValueError, match="replace=False"):
        F.random_choice(x, w, shape=(5,), replace=False)


def adjoint_check(f, x_shape, **kw):
    """For a random linear map y = A x (fixed by the draw): <A x, gy> == <x, A^T gy>."""
    x = V(randn(*x_shape), need_grad=True)
    y = run(f(x, **kw))
    gy = randn(*y.shape, seed=1)
    gx = backward_of(x, y, gy)
    np.testing.assert_allclose((y.d * gy).sum(), (x.d * gx).sum(), rtol=1e-10)
    return x, y


def test_random_crop():
    x, y = adjoint_check(F.random_crop, (3, 2, 5, 6), shape=(3, 4), seed=0)
    assert y.shape == (3, 2, 3, 4)
    for b in range(3):
        hits = [(i, j) for i in range(3) for j in range(3)
                if np.array_equal(x.d[b, :, i:i + 3, j:j + 4], y.d[b])]
        assert hits
    assert run(F.random_crop(V(np.zeros((2, 3, 4))))).shape == (2, 3, 4)
    with pytest.raises(ValueError, match="RandomCrop: shape"):
        F.random_crop(V(np.zeros((2, 3, 4))), shape=(5,))


def test_random_crop_with_a_shape_longer_than_a_sample():
    """As NNabla: ``shape`` lines up with x's last axes; its first entries crop
    the batch with one window for all samples (shape=x.shape keeps the batch,
    DARTS's padded-image crop)."""
    x, y = adjoint_check(F.random_crop, (4, 3, 8, 8), shape=(2, 3, 5, 5), seed=3)
    assert y.shape == (2, 3, 5, 5)
    firsts = [next(k for k in range(4) if np.isin(y.d[b], x.d[k]).all()) for b in range(2)]
    assert firsts[1] == firsts[0] + 1  # a contiguous window of two samples
    x2, y2 = adjoint_check(F.random_crop, (2, 3, 10, 10), shape=(2, 3, 8, 8), seed=0)
    assert y2.shape == (2, 3, 8, 8)
    with pytest.raises(ValueError, match="more dimensions than x"):
        F.random_crop(V(np.zeros((2, 3, 4))), shape=(1, 2, 3, 4))


def test_random_flip():
    x, y = adjoint_check(F.random_flip, (16, 3, 4), axes=[1, 2], seed=0)
    seen = set()
    for b in range(16):
        for k, cand in enumerate([x.d[b], x.d[b, ::-1], x.d[b, :, ::-1], x.d[b, ::-1, ::-1]]):
            if np.array_equal(cand, y.d[b]):
                seen.add(k)
                break
        else:
            raise AssertionError(f"sample {b} is not a flip of its input")
    assert len(seen) > 1
    x2 = V(np.arange(12.0).reshape(4, 3))
    y2 = run(F.random_flip(x2, seed=1))
    assert all(np.array_equal(r, o) or np.array_equal(r, o[::-1]) for r, o in zip(y2.d, x2.d))


@pytest.mark.parametrize("mode", ["nearest", "reflect", "constant"])
def test_random_shift(mode):
    adjoint_check(F.random_shift, (6, 2, 5), shifts=(1, 3), border_mode=mode, seed=0)
    x = np.arange(25.0).reshape(5, 5)
    y = run(F.random_shift(V(x), shifts=(2,), border_mode=mode, constant_value=-1, seed=3)).d
    n = 5

    def shifted(row, s):
        idx = np.arange(n) - s
        if mode == "nearest":
            return row[np.clip(idx, 0, n - 1)]
        if mode == "reflect":
            idx = np.where(idx < 0, -idx - 1, np.where(idx >= n, 2 * n - 1 - idx, idx))
            return row[idx]
        return np.where((idx >= 0) & (idx < n), row[np.clip(idx, 0, n - 1)], -1)
    for r in range(5):
        assert any(np.array_equal(y[r], shifted(x[r], s)) for s in range(-2, 3)), (r, y[r])


def test_random_erase():
    x = V(np.ones((4, 3, 8, 8)), need_grad=True)
    y = run(F.random_erase(x, prob=1.0, area_ratios=(0.1, 0.2), replacements=(5.0, 6.0), seed=0))
    erased = y.d != 1
    assert erased.any() and ((y.d[erased] >= 5) & (y.d[erased] < 6)).all()
    assert (erased == erased[:, :1]).all()  # share=True: same box in every channel
    gy = randn(4, 3, 8, 8)
    np.testing.assert_array_equal(backward_of(x, y, gy), gy * ~erased)
    y = run(F.random_erase(x, prob=1.0, ste_fine_grained=False, seed=0))
    np.testing.assert_array_equal(backward_of(x, y, gy), gy)
    y = run(F.random_erase(x, prob=0.0, seed=0))
    np.testing.assert_array_equal(y.d, x.d)
    xc = V(np.ones((2, 8, 8, 3)))
    yc = run(F.random_erase(xc, prob=1.0, replacements=(0.0, 0.0), share=False, n=2,
                            channel_last=True, seed=1))
    assert yc.shape == (2, 8, 8, 3) and (yc.d == 0).any()


X = np.array([[3, -5, 1, 4], [0, 2, -1, -7]], np.float32)
GY = np.array([[1, 2], [3, 4]], np.float32)


@pytest.mark.parametrize("kw,y_want,gx_want", [  # values measured with NNabla 1.39
    (dict(k=2), [[4, 3], [2, 0]], [[2, 0, 0, 1], [4, 3, 0, 0]]),
    (dict(k=2, abs=True), [[-5, 4], [-7, 2]], [[0, 1, 0, 2], [0, 4, 0, 3]]),
    (dict(k=2, largest=False), [[-5, 1], [-7, -1]], [[0, 1, 2, 0], [0, 0, 4, 3]]),
])
def test_top_k_data(kw, y_want, gx_want):
    x = V(X, need_grad=True)
    y = run(F.top_k_data(x, **kw))
    np.testing.assert_array_equal(y.d, y_want)
    np.testing.assert_array_equal(backward_of(x, y, GY), gx_want)


def test_top_k_data_unreduced_and_index():
    x = V(X, need_grad=True)
    y = run(F.top_k_data(x, k=2, reduce=False))
    np.testing.assert_array_equal(y.d, [[3, 0, 0, 4], [0, 2, 0, 0]])
    gy = np.arange(1, 9, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(backward_of(x, y, gy), gy)  # the whole gradient passes
    y, idx = run(F.top_k_data(x, k=2, with_index=True))
    np.testing.assert_array_equal(idx.d, [[3, 0], [1, 0]])
    y = run(F.top_k_data(V(np.arange(24.0).reshape(2, 3, 4)), k=2, base_axis=2))
    np.testing.assert_array_equal(y.d[1, 2], [23, 22])
    with pytest.raises(ValueError, match="TopKData: k=5"):
        F.top_k_data(x, k=5)


def test_top_k_data_negative_base_axis():
    """As NNabla's own top_k_data test: base_axis counts from the end when negative."""
    x = V(np.arange(24.0).reshape(2, 3, 4) * np.array([1, -1, 1, -1]))
    y = run(F.top_k_data(x, 2, base_axis=-1))
    assert y.shape == (2, 3, 2) and y.d[0].tolist() == [[2, 0], [6, 4], [10, 8]]
    y = run(F.top_k_data(x, 2, base_axis=-2))
    assert y.shape == (2, 2) and y.d[0].tolist() == [10, 8]
    with pytest.raises(ValueError, match="TopKData: base_axis=-4 is out of range"):
        F.top_k_data(x, 2, base_axis=-4)


def test_top_k_grad():
    x = V(X, need_grad=True)
    y = run(F.top_k_grad(x, k=2))
    np.testing.assert_array_equal(y.d, X)
    gy = np.array([[1, -3, 2, 0.5], [4, 1, -2, -5]], np.float32)
    np.testing.assert_array_equal(backward_of(x, y, gy), [[1, 0, 2, 0], [4, 1, 0, 0]])
    y = run(F.top_k_grad(x, k=1, abs=True))
    np.testing.assert_array_equal(backward_of(x, y, gy), [[0, -3, 0, 0], [0, 0, 0, -5]])


def test_image_augmentation():
    x = V(np.arange(2 * 1 * 4 * 6, dtype=np.float32).reshape(2, 1, 4, 6), need_grad=True)
    y = run(F.image_augmentation(x))
    np.testing.assert_array_equal(y.d, x.d)  # the defaults change nothing
    y = run(F.image_augmentation(x, shape=(1, 2, 4), seed=0))
    assert y.shape == (2, 1, 2, 4) and y.d.dtype == np.float32
    assert (y.d >= x.d.min()).all() and (y.d <= x.d.max()).all()
    y = run(F.image_augmentation(x, flip_lr=True, seed=1))
    for b in range(2):
        assert np.allclose(y.d[b], x.d[b]) or np.allclose(y.d[b], x.d[b, :, :, ::-1])
    y = run(F.image_augmentation(x, brightness=0.5, seed=1))
    diff = (y.d - x.d).reshape(2, -1)
    assert np.allclose(diff, diff[:, :1], atol=1e-5) and (np.abs(diff) <= 0.5).all()
    y = run(F.image_augmentation(x, min_scale=2, max_scale=2, angle=0.5, contrast=2,
                                 noise=0.1, seed=2))
    assert np.isfinite(y.d).all()
    x.g = 0
    y.backward(np.ones(y.shape, np.float32))
    assert not x.g.any()  # no gradient reaches x (as in NNabla)
    with pytest.raises(ValueError, match="ImageAugmentation: x \\(4,\\) needs \\(H, W\\)"):
        F.image_augmentation(V(np.zeros(4)))
    with pytest.raises(ValueError, match=r"may change only \(H, W\).*expected \(1, 2, 3\)"):
        F.image_augmentation(x, shape=(3, 2, 3))


def test_image_augmentation_of_plain_images_and_a_shape_of_h_w():
    """As in NNabla: (H, W) images (one channel), and ``shape`` giving only (H, W)."""
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    np.testing.assert_array_equal(run(F.image_augmentation(V(x))).d, x)
    y = run(F.image_augmentation(V(x), shape=(2, 3), seed=0)).d
    assert y.shape == (2, 3) and np.allclose(np.diff(y, axis=1), 1) and np.allclose(
        np.diff(y, axis=0), 6)  # a crop, at some sub-pixel place
    y = run(F.image_augmentation(V(np.stack([x, -x])[None]), shape=(2, 3), seed=0))
    assert y.shape == (1, 2, 2, 3)


def augmentation_stats(n=400):
    """Per-image facts of image_augmentation's random draws, read off ramp images
    (channel 0 holds the column index, channel 1 the row index), over ``n``
    images: the noise level, the lens factor (and how closely the lens formula
    fits every pixel), the zoom and the crop position. A parity case too."""
    h, w = 16, 16
    cols = np.broadcast_to(np.arange(w, dtype=np.float32), (n, h, w))
    rows = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (n, h, w))
    ramps = nn.Variable.from_numpy_array(np.stack([cols, rows], axis=1))

    def augment(**kw):
        y = F.image_augmentation(ramps, seed=3, **kw)
        y.forward()
        return y.d.astype(np.float64)

    out = {}
    # noise: the standard deviation added to each image, as a fraction of noise=0.2
    sd = (augment(noise=0.2) - ramps.d).std(axis=(1, 2, 3)) / 0.2
    out["noise"] = np.array([sd.mean(), sd.max(), (sd < 0.25).mean()])
    # lens: the column read at (h/2, w/4) gives each image's factor d; the rows
    # and columns read everywhere must then follow (1 + d r^2) / (1 + d)
    y = augment(distortion=0.3)
    q = 2 * (1 - y[:, 0, h // 2, w // 4] / (w / 2))
    d = (1 - q) / (q - 0.25)
    u = np.arange(w) / (w / 2) - 1
    v = np.arange(h)[:, None] / (h / 2) - 1
    bend = (1 + d[:, None, None] * (u * u + v * v)) / (1 + d[:, None, None])
    want = np.stack([np.clip((u * bend + 1) * (w / 2), 0, w - 1),
                     np.clip((v * bend + 1) * (h / 2), 0, h - 1)], axis=1)
    log_lens = np.log1p(d) / 0.3
    out["lens"] = np.array([log_lens.min(), log_lens.max(), np.abs(log_lens).mean()])
    out["lens_fit"] = np.array(np.abs(y - want).max())
    # zoom in [1, 4]: each image's step between neighbouring pixels is 1 / scale
    y = augment(min_scale=1.0, max_scale=4.0)
    log_scale = np.log(1 / (y[:, 0, 0, 1] - y[:, 0, 0, 0])) / np.log(4)
    out["zoom"] = np.array([log_scale.mean(), (log_scale < 0.5).mean()])
    # a (6, 4) crop of the image padded by (1, 2): where its first pixel reads
    y = augment(shape=(2, 6, 4), pad=(1, 2))
    first_col, first_row = y[:, 0, 0, 0], y[:, 1, 0, 0]
    out["crop"] = np.array([first_col.max(), first_col.mean(), (first_col == 0).mean(),
                            first_row.max(), first_row.mean(), (first_row == 0).mean()])
    return out


def test_image_augmentation_draws_as_nnabla():
    """NNabla's distributions: a noise level uniform in [0, noise] per image
    (mean 1/2), a radial lens log-uniform in [-D, D], a log-uniform zoom, a crop
    start uniform over the padded image (edges repeated, so padding reads 0)."""
    got = augmentation_stats()
    np.testing.assert_allclose(got["noise"], [0.5, 1.0, 0.25], atol=0.08)
    np.testing.assert_allclose(got["lens"], [-1, 1, 0.5], atol=0.06)
    assert got["lens_fit"] < 1e-4
    np.testing.assert_allclose(got["zoom"], [0.5, 0.5], atol=0.06)
    # columns start uniformly in [-2, 14], rows in [-1, 11]; below 0 reads 0
    want = np.array([14, 98 / 16, 2 / 16, 11, 121 / 24, 1 / 12])
    assert (np.abs(got["crop"] - want) <= [0.3, 0.6, 0.05, 0.3, 0.6, 0.05]).all(), got["crop"]


def test_identity_forwards_have_gradients():
    check_function(F.top_k_grad, [randn(2, 5)], ref=lambda x, k: x, kwargs=dict(k=5))


# -- random_shift: NNabla's per-axis shifts --------------------------------------

def _shift_along(a, axis, s, mode, cval):
    """a shifted by s along axis: out[i] = a[i - s], the border filled per mode."""
    n = a.shape[axis]
    idx = np.arange(n) - s
    inside = (idx >= 0) & (idx < n)
    if mode == "reflect":  # mirror with the edge repeated, periodically
        m = np.mod(idx, 2 * n)
        idx = np.where(m >= n, 2 * n - 1 - m, m)
    else:
        idx = np.clip(idx, 0, n - 1)
    out = np.take(a, idx, axis=axis)
    if mode == "constant":
        shape = [1] * a.ndim
        shape[axis] = n
        out = np.where(inside.reshape(shape), out, cval)
    return out


def _shift_draws(x, y, lead, axes, shifts, mode, cval=0.0):
    """For each index of the first ``lead`` axes, the shifts (one per axis in ``axes``,
    each within its maximum) that turn x into y there; fails if there is none."""
    found = []
    for g in np.ndindex(*x.shape[:lead]):
        options = [s for s in itertools.product(*[range(-shifts[a], shifts[a] + 1)
                                                  for a in axes])
                   if np.array_equal(_reshift(x[g], [a - lead for a in axes], s, mode, cval),
                                     y[g])]
        assert options, f"{g}: no shift within {shifts} gives the output"
        found.append(options)
    return found


def _reshift(a, axes, s, mode, cval):
    for axis, v in zip(axes, s):
        a = _shift_along(a, axis, v, mode, cval)
    return a


# (x shape, kwargs, axes before the ones shifted independently, axes shifted)
SHIFT_CASES = [((5, 2, 6, 7), dict(shifts=(0, 0, 2, 2)), 1, [2, 3]),
               ((5, 2, 6, 7), dict(shifts=(2,)), 1, [3]),
               ((5, 2, 6, 7), dict(shifts=(0, 0, 1, 2), base_axis=2), 2, [2, 3]),
               ((4, 6, 2, 3), dict(shifts=(0, 2, 0, 0), base_axis=2), 1, [1]),
               ((6, 2, 3, 3), dict(shifts=(2, 0, 0, 0)), 0, [0]),
               ((3, 5, 6), dict(shifts=(0, 1, 2), base_axis=-2), 1, [1, 2])]


@pytest.mark.parametrize("mode", ["nearest", "reflect", "constant"])
@pytest.mark.parametrize("shape,kw,lead,axes", SHIFT_CASES)
def test_random_shift_per_axis_shifts(mode, shape, kw, lead, axes):
    x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) + 1
    y = run(F.random_shift(V(x), border_mode=mode, constant_value=-1.0, seed=4, **kw)).d
    full = (0,) * (len(shape) - len(kw["shifts"])) + tuple(kw["shifts"])
    _shift_draws(x, y, lead, axes, full, mode, -1.0)
    adjoint_check(F.random_shift, shape, border_mode=mode, seed=4, **kw)


def test_random_shift_numerical_gradient():
    # A fixed seed makes each new function draw the same shifts: y = A x for one A.
    from nablite.testing import numerical_grad
    x0, gy = randn(3, 2, 4, 5), randn(3, 2, 4, 5, seed=1)
    for mode in ("nearest", "reflect", "constant"):
        x = V(x0.copy(), need_grad=True)
        y = run(F.random_shift(x, shifts=(0, 0, 2, 2), border_mode=mode, seed=9))
        got = backward_of(x, y, gy)
        arr = x0.copy()
        want = numerical_grad(lambda: run(F.random_shift(
            V(arr), shifts=(0, 0, 2, 2), border_mode=mode, seed=9)).d, arr, df=gy)
        np.testing.assert_allclose(got, want, atol=1e-8)


def test_random_shift_draws_per_sample_and_shares_channels():
    x = np.tile(np.arange(11.0) + 1, (400, 3, 1, 1))
    y = run(F.random_shift(V(x), shifts=(0, 0, 0, 3), border_mode="constant", seed=5)).d
    assert np.array_equal(y[:, 0], y[:, 1]) and np.array_equal(y[:, 1], y[:, 2])
    s = 5 - (y[:, 0, 0, 5] - 1)
    assert set(s.astype(int)) == set(range(-3, 4))  # every shift in [-3, 3], no other
    a = run(F.random_shift(V(x), shifts=(0, 0, 0, 3), seed=5)).d
    b = run(F.random_shift(V(x), shifts=(3,), seed=5)).d  # lines up with the last axis
    np.testing.assert_array_equal(a, b)
    # extra leading entries (more than x has axes) are not used, as in NNabla
    c = run(F.random_shift(V(x[:2]), shifts=(7, 0, 0, 0, 0), seed=5)).d
    np.testing.assert_array_equal(c, x[:2])


@pytest.mark.parametrize("kw,match", [
    (dict(shifts=(0, 0, -2, 0)), r"RandomShift: shifts=\(0, 0, -2, 0\) must be maximum"),
    (dict(base_axis=4), r"RandomShift: base_axis=4 is out of range"),
    (dict(border_mode="wrap"), r"RandomShift: border_mode='wrap'"),
])
def test_random_shift_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        F.random_shift(V(np.zeros((2, 3, 4, 5))), **kw)


_NNABLA_SHIFT = r"""
import numpy as np, nnabla as nn, nnabla.functions as F
RESULT = []
for shape, kw, mode in cases:
    x0 = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) + 1
    x = nn.Variable.from_numpy_array(x0, need_grad=True)
    y = F.random_shift(x, border_mode=mode, constant_value=-1.0, seed=4, **kw)
    y.forward()
    gy = np.random.RandomState(1).randn(*y.shape).astype(np.float32)
    x.g = 0
    y.backward(gy)
    linear_part = np.where(y.d == -1.0, 0.0, y.d.astype(np.float64))  # x >= 1
    RESULT.append([y.d.tolist(), float((linear_part * gy).sum()),
                   float((x0.astype(np.float64) * x.g).sum())])
"""


def test_random_shift_semantics_match_nnabla():
    # NNabla's generator is not NumPy's, so the draws differ; what is checked is that
    # NNabla's outputs obey the same model as nablite's (axes, ranges, grouping,
    # borders) and that its backward is the adjoint, as here.
    from nnabla_parity import run_in_nnabla
    cases = [(shape, kw, mode) for shape, kw, _, _ in SHIFT_CASES
             for mode in ("nearest", "reflect", "constant")]
    got = run_in_nnabla(_NNABLA_SHIFT, cases=cases)
    if got is None:
        pytest.skip("NNabla 1.39 is not installed")
    for (shape, kw, mode), (y, lhs, rhs), (_, _, lead, axes) in zip(
            cases, got, [c for c in SHIFT_CASES for _ in range(3)]):
        x = np.arange(np.prod(shape), dtype=np.float64).reshape(shape) + 1
        full = (0,) * (len(shape) - len(kw["shifts"])) + tuple(kw["shifts"])
        _shift_draws(x, np.array(y), lead, axes, full, mode, -1.0)
        assert abs(lhs - rhs) <= 1e-4 * max(1.0, abs(lhs))
