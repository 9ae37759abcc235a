import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from gradcheck import check_function, randn, uniform


# -- NumPy references: plain loops over output pixels (tiny shapes only) -----

def _bilinear(img, y, x):
    h, w = img.shape
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    v = 0.0
    for yy in (y0, y0 + 1):
        for xx in (x0, x0 + 1):
            if 0 <= yy < h and 0 <= xx < w:
                v += (1 - abs(y - yy)) * (1 - abs(x - xx)) * img[yy, xx]
    return v


def ref_deformable(x, w, off, mask=None, b=None, base_axis=1, pad=(0, 0), stride=(1, 1),
                   dilation=(1, 1), group=1, deformable_group=1, channel_last=False):
    if channel_last:
        t = (lambda a: None if a is None else a.transpose(0, 3, 1, 2))
        y = ref_deformable(t(x), t(w), t(off), t(mask), b, base_axis, pad, stride, dilation,
                           group, deformable_group)
        return y.transpose(0, 2, 3, 1)
    n, c, h, wd = x.shape
    oc, cg, kh, kw = w.shape
    k_all = kh * kw
    oh = (h + 2 * pad[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    cd = c // deformable_group
    y = np.zeros((n, oc, oh, ow))
    for b_ in range(n):
        for o in range(oc):
            gi = o // (oc // group)
            for i in range(oh):
                for j in range(ow):
                    si, sj = i * stride[0], j * stride[1]  # where offset and mask are read
                    s = 0.0
                    for ci in range(cg):
                        ch = gi * cg + ci
                        d = ch // cd
                        for k in range(k_all):
                            ki, kj = divmod(k, kw)
                            py = i * stride[0] - pad[0] + ki * dilation[0] + off[b_, d * 2 * k_all + 2 * k, si, sj]
                            px = j * stride[1] - pad[1] + kj * dilation[1] + off[b_, d * 2 * k_all + 2 * k + 1, si, sj]
                            m = 1.0 if mask is None else mask[b_, d * k_all + k, si, sj]
                            s += w[o, ci, ki, kj] * _bilinear(x[b_, ch], py, px) * m
                    y[b_, o, i, j] = s + (0.0 if b is None else b[o])
    return y


def ref_separable(x, kv, kh):
    b, c, h, w = x.shape
    oh, ow = h - kv.shape[1] + 1, w - kh.shape[1] + 1
    y = np.zeros((b, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            k2 = np.einsum("bu,bv->buv", kv[:, :, i, j], kh[:, :, i, j])
            y[:, :, i, j] = np.einsum("bcuv,buv->bc", x[:, :, i:i + kv.shape[1], j:j + kh.shape[1]], k2)
    return y


# Offsets away from integers keep the bilinear weights differentiable at the test point.
def _offsets(shape, scale=1.3, seed=1):
    o = randn(*shape, seed=seed) * scale
    frac = o - np.floor(o)
    return np.where(np.abs(frac - 0.5) > 0.4, o + 0.25, o)


# (x shape, OC, kernel, kwargs)
DEFORM_CASES = [
    ((1, 2, 4, 4), 2, (3, 3), dict(pad=(1, 1))),
    ((1, 4, 5, 4), 4, (2, 3), dict(pad=(0, 1), stride=(2, 1), dilation=(1, 2), group=2,
                                   deformable_group=2)),
    ((1, 3, 6, 5), 3, (3, 2), dict(pad=(1, 0), stride=(2, 2), dilation=(2, 1), group=3)),
    ((2, 2, 3, 3), 2, (1, 1), dict()),
]


@pytest.mark.parametrize("xshape, oc, kernel, kwargs", DEFORM_CASES)
@pytest.mark.parametrize("use_mask, use_bias", [(True, True), (False, False), (False, True),
                                                (True, False)])
def test_deformable_convolution(xshape, oc, kernel, kwargs, use_mask, use_bias):
    n, c, h, w = xshape
    g, dg = kwargs.get("group", 1), kwargs.get("deformable_group", 1)
    k = kernel[0] * kernel[1]
    x = randn(*xshape, seed=0)
    wt = randn(oc, c // g, *kernel, seed=2)
    off = _offsets((n, dg * 2 * k, h, w))
    mask = uniform(0.1, 1, (n, dg * k, h, w), seed=3) if use_mask else None
    b = randn(oc, seed=4) if use_bias else None

    def f(x, wt, off, mask, b, **kw):
        return F.deformable_convolution(x, wt, off, mask, b, **kw)

    check_function(f, [x, wt, off, mask, b], ref=ref_deformable, kwargs=kwargs)


def test_deformable_convolution_channel_last():
    # NNabla's CPU kernel has no channel_last; nablite computes it on the transposed layout.
    t = (lambda a: a.transpose(0, 2, 3, 1))
    x = randn(1, 4, 5, 4)
    wt = randn(2, 2, 2, 3, seed=2)
    off = _offsets((1, 2 * 2 * 6, 5, 4))
    mask = uniform(0.1, 1, (1, 2 * 6, 5, 4), seed=3)
    b = randn(2, seed=4)
    kwargs = dict(pad=(1, 1), stride=(2, 1), group=2, deformable_group=2, channel_last=True)

    def f(x, wt, off, mask, b, **kw):
        return F.deformable_convolution(x, wt, off, mask, b, **kw)

    y = check_function(f, [t(x), t(wt), t(off), t(mask), b], ref=ref_deformable, kwargs=kwargs)
    assert y.shape == (1, 3, 4, 2)


def test_deformable_convolution_zero_offsets_is_convolution():
    import nablite.functions as F
    x = randn(2, 4, 6, 5)
    wt = randn(6, 2, 3, 3, seed=1)
    off = np.zeros((2, 2 * 18, 6, 5))
    kw = dict(pad=(1, 1), stride=(2, 1), group=2)
    V = nn.Variable.from_numpy_array
    y = F.deformable_convolution(V(x), V(wt), V(off), deformable_group=2, **kw)
    y.forward()
    want = F.convolution(V(x), V(wt), **kw)
    want.forward()
    np.testing.assert_allclose(y.d, want.d, atol=1e-12)


def test_deformable_convolution_leading_batch_axes():
    x = randn(2, 3, 2, 4, 4)
    wt = randn(3, 2, 2, 2, seed=1)
    off = _offsets((2, 3, 8, 4, 4))
    V = nn.Variable.from_numpy_array
    y = F.deformable_convolution(V(x), V(wt), V(off), base_axis=2)
    y.forward()
    want = ref_deformable(x.reshape(6, 2, 4, 4), wt, off.reshape(6, 8, 4, 4))
    assert y.shape == (2, 3, 3, 3, 3)
    np.testing.assert_allclose(y.d.reshape(want.shape), want, atol=1e-12)


def test_deformable_convolution_bad_inputs():
    V = nn.Variable
    x, w = V((1, 4, 5, 5)), V((2, 4, 3, 3))
    off, mask = V((1, 18, 5, 5)), V((1, 9, 5, 5))
    conv = F.deformable_convolution
    with pytest.raises(ValueError, match="DeformableConvolution: offset .* must have shape"):
        conv(x, w, V((1, 18, 3, 3)))
    with pytest.raises(ValueError, match="DeformableConvolution: mask .* must have shape"):
        conv(x, w, off, V((1, 18, 5, 5)))
    with pytest.raises(ValueError, match="DeformableConvolution: bias .* must have shape"):
        conv(x, w, off, mask, V((3,)))
    with pytest.raises(ValueError, match="expects 2 per group"):
        conv(x, V((2, 2, 3, 3)), off)
    with pytest.raises(ValueError, match="multiples of deformable_group=3"):
        conv(V((1, 6, 5, 5)), V((4, 6, 3, 3)), V((1, 54, 5, 5)), deformable_group=3)
    with pytest.raises(ValueError, match="2 spatial"):
        conv(V((1, 4, 5)), V((2, 4, 3)), V((1, 6, 5)))
    with pytest.raises(ValueError, match="weight .* must be 4-D"):
        conv(x, V((2, 4, 3)), off)
    with pytest.raises(ValueError, match="pad=.* is too large"):
        conv(x, V((2, 4, 1, 1)), V((1, 2, 5, 5)), pad=(2, 2))
    with pytest.raises(ValueError, match="does not fit"):
        conv(x, V((2, 4, 7, 7)), V((1, 98, 5, 5)))
    with pytest.raises(ValueError, match="pad=.* must have 2 entries"):
        conv(x, w, off, pad=(1, 1, 1))


# -- adaptive_separable_convolution ----------------------------------------

@pytest.mark.parametrize("xshape, kv, kh, kernel_size", [
    ((2, 3, 5, 6), 3, 2, "out"),
    ((1, 2, 4, 4), 1, 4, "in"),
    ((2, 1, 5, 4), 2, 3, (5, 3)),
])
def test_adaptive_separable_convolution(xshape, kv, kh, kernel_size):
    b, c, h, w = xshape
    oh, ow = h - kv + 1, w - kh + 1
    size = {"out": (oh, ow), "in": (h, w)}.get(kernel_size, kernel_size)
    x = randn(*xshape)
    vk = randn(b, kv, *size, seed=1)
    hk = randn(b, kh, *size, seed=2)

    def ref(x, vk, hk):  # the kernels are read at [:oh, :ow]
        return ref_separable(x, vk[:, :, :oh, :ow], hk[:, :, :oh, :ow])

    y = check_function(F.adaptive_separable_convolution, [x, vk, hk], ref=ref)
    assert y.shape == (b, c, oh, ow)


def test_adaptive_separable_convolution_bad_inputs():
    V = nn.Variable
    asc = F.adaptive_separable_convolution
    with pytest.raises(ValueError, match="AdaptiveSeparableConvolution: .* must all be 4-D"):
        asc(V((3, 6, 7)), V((3, 6, 7)), V((2, 6, 7)))
    with pytest.raises(ValueError, match="same batch size"):
        asc(V((2, 3, 6, 7)), V((1, 3, 6, 7)), V((2, 2, 6, 7)))
    with pytest.raises(ValueError, match="must not exceed"):
        asc(V((2, 3, 6, 7)), V((2, 7, 6, 7)), V((2, 2, 6, 7)))
    with pytest.raises(ValueError, match=r"vertical_kernel .* height in \[4, 6\]"):
        asc(V((2, 3, 6, 7)), V((2, 3, 7, 7)), V((2, 2, 6, 7)))
    with pytest.raises(ValueError, match=r"horizontal_kernel .* width in \[6, 7\]"):
        asc(V((2, 3, 6, 7)), V((2, 3, 6, 7)), V((2, 2, 6, 5)))


# -- parity with the real NNabla 1.39 ---------------------------------------
