"""Special functions: forward vs NumPy, backward vs numerical gradients (einsum,
interpolate, dequantize_linear), the straight-through rules NNabla 1.39 uses for
the quantizers, the no-gradient utilities, parity with NNabla, and bad input."""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite.functions import arithmetic, linalg, quantizers, resampling
from nablite.functions import special as special_module
from gradcheck import away_from, check_function, randn, uniform
from nnabla_parity import check_parity


def source_coords(n_in, n_out, mode, align_corners=False, half_pixel=False,
                  half_pixel_for_nn=False):
    o = np.arange(n_out, dtype=np.float64)
    if mode == "nearest" and half_pixel_for_nn:
        return (o + 0.5) * n_in / n_out
    if align_corners:
        return o * (n_in - 1) / max(n_out - 1, 1)
    if half_pixel:
        return (o + 0.5) * n_in / n_out - 0.5 if n_out > 1 else o * 0
    return o * n_in / n_out


def resize_matrix(n_in, n_out, mode, **kw):
    """(n_out, n_in) matrix whose row o holds the weights output o takes from the input."""
    src = source_coords(n_in, n_out, mode, **kw)
    m = np.zeros((n_out, n_in))
    for o, s in enumerate(src):
        if mode == "nearest":
            m[o, int(min(max(np.floor(s), 0), n_in - 1))] = 1
        else:
            s = min(max(s, 0.0), n_in - 1)
            lo = int(np.floor(s))
            hi = min(lo + 1, n_in - 1)
            m[o, lo] += 1 - (s - lo)
            m[o, hi] += s - lo
    return m


def ref_interpolate(x, scale=None, output_size=None, mode="linear", channel_last=False, **kw):
    if output_size is None:
        n = len(scale)
        sizes = x.shape[-n - 1:-1] if channel_last else x.shape[-n:]
        output_size = [int(np.floor(s * d)) for s, d in zip(scale, sizes)]
    first = x.ndim - len(output_size) - (1 if channel_last else 0)
    for k, n_out in enumerate(output_size):
        a = first + k
        m = resize_matrix(x.shape[a], n_out, mode, **kw)
        x = np.moveaxis(np.tensordot(m, np.moveaxis(x, a, 0), axes=1), 0, a)
    return x


def ref_fixed_point(x, sign=True, n=8, delta=0.0625, **kw):
    top = (2 ** (n - 1) - 1) * delta if sign else (2 ** n - 1) * delta
    q = np.sign(x) * np.floor(np.abs(x) / delta + 0.5) * delta
    return np.clip(q, -top if sign else 0, top)


def ref_pow2(x, sign=True, with_zero=True, n=8, m=1, **kw):
    bits = n - sign - with_zero
    low, high = 2.0 ** (m - (2 ** bits - 1)), 2.0 ** m
    out = np.zeros_like(x)
    for i, v in np.ndenumerate(x):
        if not sign:
            v = max(v, 0.0)
        if with_zero and abs(v) < low / np.sqrt(2):
            continue
        mag = 0.0 if v == 0 else 2.0 ** np.round(np.log2(abs(v)))
        out[i] = np.copysign(min(max(mag, low), high), v if v != 0 else 1.0)
    return out


def ref_quantize_linear(x, scale, zero_point, round_mode="HALF_AWAY_FROM_ZERO",
                        narrow_range=False, dtype=np.int8):
    info = np.iinfo(dtype)
    low, high = info.min + int(narrow_range), info.max

    def rnd(v):
        return np.round(v) if round_mode == "HALF_TO_EVEN" else np.trunc(v + np.copysign(0.5, v))
    return np.clip(rnd(x / scale) + np.clip(rnd(zero_point), low, high), low, high)


def ref_prune(x, rate=0.9):
    if rate == 1:
        return np.zeros_like(x)
    a = np.sort(np.abs(x).ravel())
    return np.where(np.abs(x) < a[int((a.size - 1) * rate)], 0, x)


# Differentiable: (function, inputs, NumPy reference, kwargs)
CASES = [
    (F.einsum, [randn(2, 3), randn(3, 4, seed=1)], lambda a, b, equation: np.einsum(equation, a, b),
     {"equation": "ij,jk->ik"}),
    (F.einsum, [randn(2, 3, 4), randn(2, 4, 5, seed=1)], lambda a, b, equation: np.einsum(equation, a, b),
     {"equation": "bij,bjk->bik"}),
    (F.einsum, [randn(3, 3)], lambda a, equation: np.einsum(equation, a), {"equation": "ii->i"}),
    (F.einsum, [randn(3, 3)], lambda a, equation: np.einsum(equation, a), {"equation": "ii"}),
    (F.einsum, [randn(2, 3)], lambda a, equation: np.einsum(equation, a), {"equation": "ij->j"}),
    (F.einsum, [randn(2, 3)], lambda a, equation: np.einsum(equation, a), {"equation": "ij->ji"}),
    (F.einsum, [randn(1, 2, 3), randn(4, 3, 2, seed=1)],
     lambda a, b, equation: np.einsum(equation, a, b), {"equation": "...ij,...jk"}),
    (F.einsum, [randn(2, 3), randn(3, 4, seed=1), randn(4, seed=2)],
     lambda a, b, c, equation: np.einsum(equation, a, b, c), {"equation": "ab,bc,c->a"}),
    (F.einsum, [randn(2), randn(3, seed=1)], lambda a, b, equation: np.einsum(equation, a, b),
     {"equation": "i,j"}),
    (F.einsum, [randn(3, 3, 2), randn(2, 2, seed=1)],
     lambda a, b, equation: np.einsum(equation, a, b), {"equation": "iij,jk->ik"}),
    (F.interpolate, [randn(2, 3, 5)], ref_interpolate, {"output_size": (8,)}),
    (F.interpolate, [randn(1, 2, 4, 5)], ref_interpolate, {"output_size": (7, 3)}),
    (F.interpolate, [randn(1, 2, 4, 5)], ref_interpolate, {"scale": (1.5, 0.6)}),
    (F.interpolate, [randn(1, 2, 4, 5)], ref_interpolate,
     {"output_size": (7, 3), "align_corners": True}),
    (F.interpolate, [randn(1, 2, 4, 5)], ref_interpolate,
     {"output_size": (6, 9), "half_pixel": True}),
    (F.interpolate, [randn(1, 3, 4, 2, 3)], ref_interpolate, {"output_size": (3, 4, 5)}),
    (F.interpolate, [randn(1, 4, 5, 2)], ref_interpolate,
     {"output_size": (6, 3), "channel_last": True}),
    (F.interpolate, [randn(2, 3, 5)], ref_interpolate, {"output_size": (1,), "align_corners": True}),
    (F.interpolate, [randn(2, 3, 5)], ref_interpolate, {"output_size": (1,), "half_pixel": True}),
    (F.interpolate, [randn(1, 2, 4, 5)], ref_interpolate, {"output_size": (7, 3), "mode": "nearest"}),
    (F.interpolate, [randn(1, 2, 4, 5)], ref_interpolate,
     {"output_size": (9, 3), "mode": "nearest", "half_pixel": True}),
    (F.interpolate, [randn(1, 2, 4, 5)], ref_interpolate,
     {"output_size": (9, 3), "mode": "nearest", "align_corners": True}),
    (F.interpolate, [randn(1, 2, 4, 5)], ref_interpolate,
     {"output_size": (9, 3), "mode": "nearest", "half_pixel_for_nn": True}),
    (F.interpolate, [randn(2, 3, 3, 2)], ref_interpolate, {"scale": (2, 2, 2), "mode": "nearest"}),
    (F.dequantize_linear, [randn(2, 3), uniform(0.5, 2, (1, 3)), randn(2, 1, seed=1)],
     lambda x, s, z: (x - z) * s, {}),
    (F.dequantize_linear, [randn(4), np.array([0.25]), np.array([3.7])],
     lambda x, s, z: (x - z) * s, {}),
]


@pytest.mark.parametrize("f,inputs,ref,kwargs", CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_function(f, inputs, ref, kwargs):
    grad = [0] if f is F.dequantize_linear else None  # scale, zero_point: no gradient
    check_function(f, inputs, ref=ref, kwargs=kwargs, grad=grad)


def run_backward(f, inputs, kwargs, seed=0):
    """Forward, then backward with a random gy onto random pre-filled grads; returns
    (y, gy, [grad added to each input])."""
    rng = np.random.RandomState(seed)
    xs = [nn.Variable.from_numpy_array(np.array(a), need_grad=True) for a in inputs]
    y = f(*xs, **kwargs)
    y.forward()
    gy = rng.randn(*y.shape)
    before = [rng.randn(*x.shape) for x in xs]
    for x, b in zip(xs, before):
        x.g = b
    y.backward(gy)
    return y, gy, [x.g - b for x, b in zip(xs, before)]


XQ = np.array([-10, -8, -7.96875, -7.9, -1.03125, -0.0313, -0.03, 0, 0.03, 0.0313, 0.09375,
               1.03125, 7.9, 7.9375, 7.96875, 8, 10])
XP = np.array([-5, -2.9, -2, -1.5, -1.42, -1.41, -1, -0.7, -0.2, -0.01, -0.004, 0, 0.004,
               0.005, 0.01, 0.006, 0.2, 0.7, 1, 1.41, 1.42, 2, 2.9, 3, 5])


def fpq_grad(x, gy, sign=True, n=8, delta=0.0625, ste_fine_grained=True, **kw):
    top = (2 ** (n - 1) - 1) * delta if sign else (2 ** n - 1) * delta
    inside = (x >= (-top if sign else 0)) & (x <= top)
    return gy * inside if ste_fine_grained else gy


def pow2_grad(x, gy, sign=True, n=8, m=1, ste_fine_grained=True, **kw):
    with np.errstate(divide="ignore"):
        qbar = np.sign(x) * 2.0 ** np.round(np.log2(np.abs(x)))
    inside = (qbar <= 2.0 ** m) & (qbar >= (-(2.0 ** m) if sign else 0))
    return gy * inside if ste_fine_grained else gy


# Straight-through / surrogate gradients: (function, x, reference, kwargs, rule(x, gy, **kw))
STE_CASES = [
    (F.binary_sigmoid, away_from([-1, 0, 1], randn(3, 4) * 1.5),
     lambda x: (x > 0).astype(float), {}, lambda x, gy: 0.5 * gy * (np.abs(x) < 1)),
    (F.binary_sigmoid, np.array([-1.5, -1, -0.5, 0, 0.5, 1, 1.5]),
     lambda x: (x > 0).astype(float), {}, lambda x, gy: 0.5 * gy * (np.abs(x) < 1)),
    (F.binary_tanh, np.array([-1.5, -1, -0.5, 0, 0.5, 1, 1.5]),
     lambda x: np.where(x > 0, 1.0, -1.0), {}, lambda x, gy: gy * (np.abs(x) < 1)),
    (F.prune, randn(3, 4), ref_prune, {}, lambda x, gy, **kw: gy),
    (F.prune, randn(10), ref_prune, {"rate": 0.3}, lambda x, gy, **kw: gy),
    (F.prune, randn(2, 5, 3), ref_prune, {"rate": 0.5}, lambda x, gy, **kw: gy),
    (F.prune, np.array([0.1, 0.1, 0.2, 0.2, -0.1, 0.3]), ref_prune, {"rate": 0.5},
     lambda x, gy, **kw: gy),
    (F.prune, randn(7), ref_prune, {"rate": 1.0}, lambda x, gy, **kw: gy),
    (F.prune, randn(7), ref_prune, {"rate": 0.0}, lambda x, gy, **kw: gy),
    (F.fixed_point_quantize, XQ, ref_fixed_point, {}, fpq_grad),
    (F.fixed_point_quantize, XQ, ref_fixed_point, {"ste_fine_grained": False}, fpq_grad),
    (F.fixed_point_quantize, XQ, ref_fixed_point, {"sign": False}, fpq_grad),
    (F.fixed_point_quantize, XQ, ref_fixed_point, {"n": 4, "delta": 0.5}, fpq_grad),
    (F.fixed_point_quantize, XQ, ref_fixed_point, {"n": 4, "delta": 0.5, "sign": False}, fpq_grad),
    (F.pow2_quantize, XP, ref_pow2, {"n": 4}, pow2_grad),
    (F.pow2_quantize, XP, ref_pow2, {"n": 4, "with_zero": False}, pow2_grad),
    (F.pow2_quantize, XP, ref_pow2, {"n": 4, "sign": False}, pow2_grad),
    (F.pow2_quantize, XP, ref_pow2, {"n": 4, "sign": False, "with_zero": False}, pow2_grad),
    (F.pow2_quantize, XP, ref_pow2, {"n": 4, "ste_fine_grained": False}, pow2_grad),
    (F.pow2_quantize, randn(3, 4) * 3, ref_pow2, {"n": 5, "m": 2}, pow2_grad),
]


@pytest.mark.parametrize("f,x,ref,kwargs,rule", STE_CASES,
                         ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(STE_CASES)])
def test_straight_through(f, x, ref, kwargs, rule):
    y, gy, (gx,) = run_backward(f, [x], kwargs)
    np.testing.assert_allclose(y.d, ref(x, **kwargs), atol=1e-12)
    np.testing.assert_allclose(gx, rule(x, gy, **kwargs), atol=1e-12)
    x32 = nn.Variable.from_numpy_array(x.astype(np.float32))
    y32 = f(x32, **kwargs)
    y32.forward()
    assert y32.d.dtype == np.float32


QL_X = np.array([-300, -129, -128.6, -3.5, -2.5, -1.5, -0.5, 0, 0.5, 1.5, 2.5, 3.5, 126.5,
                 127.5, 300])


@pytest.mark.parametrize("scale,zero_point,kwargs", [
    (np.array([1.0]), np.array([0.0]), {}),
    (np.array([1.0]), np.array([0.0]), {"round_mode": "HALF_TO_EVEN"}),
    (np.array([0.5]), np.array([2.5]), {}),
    (np.array([1.0]), np.array([-2.5]), {"round_mode": "HALF_TO_EVEN"}),
    (np.array([1.0]), np.array([-200.0]), {}),
    (np.array([1.0]), np.array([0.0]), {"narrow_range": True}),
    (np.array([2.0]), np.array([3.0]), {"dtype": np.uint8}),
    (np.array([1.0]), np.array([-2.5]), {"dtype": np.uint8, "narrow_range": True}),
])
def test_quantize_linear(scale, zero_point, kwargs):
    y, gy, (gx, gs, gz) = run_backward(F.quantize_linear, [QL_X, scale, zero_point], kwargs)
    np.testing.assert_allclose(y.d, ref_quantize_linear(QL_X, scale, zero_point, **kwargs))
    np.testing.assert_allclose(gx, gy / scale)  # straight through, not clipped
    assert not gs.any() and not gz.any()


def test_quantize_linear_per_channel_and_args():
    x = randn(2, 3, 2) * 10
    s, z = np.array([0.5, 1, 2]).reshape(1, 3, 1), np.array([1, 0, -1.0]).reshape(1, 3, 1)
    y, gy, (gx, _, _) = run_backward(F.quantize_linear, [x, s, z], {})
    np.testing.assert_allclose(y.d, ref_quantize_linear(x, s, z))
    np.testing.assert_allclose(gx, gy / s)
    assert y.parent.args == {"round_mode": "HALF_AWAY_FROM_ZERO", "narrow_range": False,
                             "dtype": 1}


def test_unlink_passes_no_gradient():
    x = nn.Variable.from_numpy_array(randn(2, 3), need_grad=True)
    y = F.unlink(x)
    loss = F.sum(y * x)
    loss.forward()
    x.g = 0
    loss.backward()
    np.testing.assert_allclose(y.d, x.d)
    np.testing.assert_allclose(x.g, x.d)  # only the direct path through x


def test_sink_runs_every_root_and_seeds_ones():
    a = nn.Variable.from_numpy_array(randn(2, 3), need_grad=True)
    b = nn.Variable.from_numpy_array(randn(4, seed=1), need_grad=True)
    la, lb = F.sum(a * a), F.sum(F.exp(b))
    root = F.sink(la, lb)
    assert root.shape == ()
    a.g, b.g = 0, 0
    root.forward()
    root.backward()
    np.testing.assert_allclose(la.d, np.sum(a.d ** 2))
    np.testing.assert_allclose(a.g, 2 * a.d)
    np.testing.assert_allclose(b.g, np.exp(b.d))
    # one_input_grad=False writes nothing: backward starts from what la.g holds
    # (1 from the backward above), as NNabla 1.39 does (measured: a.g = 0.5 + 2a)
    a.g = 0.5
    F.sink(la, one_input_grad=False).backward()
    np.testing.assert_allclose(a.g, 0.5 + 2 * a.d, rtol=1e-6)


@pytest.mark.parametrize("shape,k", [((3, 4), 0), ((3, 4), 1), ((3, 4), -2), ((4, 3), 7),
                                     ((2, 2), 0)])
def test_eye_like(shape, k):
    x = nn.Variable.from_numpy_array(randn(*shape).astype(np.float32), need_grad=True)
    y = F.eye_like(x, k=k)
    loss = F.sum(y * x)
    loss.forward()
    x.g = 0
    loss.backward()
    np.testing.assert_array_equal(y.d, np.eye(*shape, k=k))
    assert y.d.dtype == np.float32
    np.testing.assert_array_equal(x.g, np.eye(*shape, k=k))  # nothing through eye_like


X0_INT = np.array([-5, 5, -3, 3, 7, -7])
X1_INT = np.array([2, -2, 2, -2, -3, 3])


@pytest.mark.parametrize("x0,x1,fmod,want", [
    (X0_INT.astype(np.int32), X1_INT.astype(np.int32), False, np.mod(X0_INT, X1_INT)),
    (X0_INT.astype(np.int32), X1_INT.astype(np.int32), True, np.fmod(X0_INT, X1_INT)),
    (X0_INT + 0.5, X1_INT.astype(float), False, np.fmod(X0_INT + 0.5, X1_INT)),
    (X0_INT + 0.5, X1_INT.astype(float), True, np.fmod(X0_INT + 0.5, X1_INT)),
    (np.full((2, 3), 5.0), np.array([2.0, 3.0, 4.0]), False, np.fmod(5.0, [[2, 3, 4]] * 2)),
])
def test_mod2(x0, x1, fmod, want):
    a = nn.Variable.from_numpy_array(x0, need_grad=x0.dtype.kind == "f")
    y = F.mod2(a, nn.Variable.from_numpy_array(x1), fmod=fmod)
    y.forward()
    np.testing.assert_array_equal(y.d, want)
    assert y.d.dtype == x0.dtype
    if x0.dtype.kind == "f":  # no gradient, as NNabla has none
        a.g = 1.0
        y.backward()
        np.testing.assert_array_equal(a.g, 1.0)


@pytest.mark.parametrize("x,shift,direction,want", [
    (np.array([1, 8, 200, 255], np.uint8), np.array([1, 2, 1, 4], np.uint8), "LEFT",
     np.array([2, 32, 144, 240], np.uint8)),
    (np.array([1, 8, 200, 255], np.uint8), np.array([1, 2, 1, 4], np.uint8), "RIGHT",
     np.array([0, 2, 100, 15], np.uint8)),
    (np.array([[1, -8], [3, 64]], np.int32), np.array([2], np.int32), "LEFT",
     np.array([[4, -32], [12, 256]], np.int32)),
    (np.array([1.0, 8.0, 12.0]), np.array([1.0, 2.0, 0.0]), "RIGHT", np.array([0.0, 2.0, 12.0])),
])
def test_bit_shift(x, shift, direction, want):
    y = F.bit_shift(nn.Variable.from_numpy_array(x), nn.Variable.from_numpy_array(shift),
                    direction=direction)
    y.forward()
    np.testing.assert_array_equal(y.d, want)
    assert y.d.dtype == x.dtype


def test_float32_stays_float32():
    x = nn.Variable.from_numpy_array(randn(1, 2, 4, 5).astype(np.float32), need_grad=True)
    for y in (F.interpolate(x, output_size=(7, 3)), F.interpolate(x, scale=(2, 2), mode="nearest"),
              F.einsum(x, equation="nchw->nhwc"), F.binary_sigmoid(x), F.prune(x),
              F.dequantize_linear(x, nn.Variable.from_numpy_array(np.ones((1, 1, 1, 1), np.float32)),
                                  nn.Variable.from_numpy_array(np.zeros((1, 1, 1, 1), np.float32)))):
        y.forward()
        x.g = 0
        y.backward(np.ones(y.shape, np.float32))
        assert y.d.dtype == np.float32 and x.g.dtype == np.float32, y.parent.name


def test_quantize_false_returns_input():
    x = nn.Variable((2, 3))
    assert F.fixed_point_quantize(x, quantize=False) is x
    assert F.pow2_quantize(x, quantize=False) is x


def var(*shape):
    return nn.Variable(shape)


BAD = [
    (lambda: F.eye_like(var(2, 3, 4)), "EyeLike: x must be 2-D"),
    (lambda: F.mod2(var(2, 3), var(4)), "Mod2: input shapes"),
    (lambda: F.bit_shift(var(3), var(3), direction="UP"), "BitShift: direction must be"),
    (lambda: F.bit_shift(var(3), var(2)), "BitShift: input shapes"),
    (lambda: F.einsum(var(2, 3), equation="ij,jk->ik"), "Einsum: equation .* 2 input terms"),
    (lambda: F.einsum(var(2, 3), var(4, 5), equation="ij,jk->ik"), "Einsum: label 'j' has size"),
    (lambda: F.einsum(var(2, 3), equation="ijk->i"), "Einsum: input 0 has shape"),
    (lambda: F.einsum(var(2, 3), equation="ij->iz"), "Einsum: output"),
    (lambda: F.einsum(var(2, 3), equation="ij->ii"), "Einsum: output"),
    (lambda: F.einsum(var(2, 3), equation="i-j"), "Einsum: equation must be"),
    (lambda: F.einsum(var(2, 3), equation=5), "Einsum: equation must be"),
    (lambda: F.einsum(var(2, 3, 2), var(3, 2, 4), equation="...ij,...jk"), "Einsum: ellipsis"),
    (lambda: F.interpolate(var(1, 1, 4, 4)), "Interpolate: either scale or output_size"),
    (lambda: F.interpolate(var(1, 1, 4, 4), output_size=(2, 2), mode="cubic"),
     "Interpolate: mode must be"),
    (lambda: F.interpolate(var(1, 1, 4, 4, 4, 4), output_size=(2, 2, 2, 2)),
     "Interpolate: output_size .* 1, 2 or 3"),
    (lambda: F.interpolate(var(4, 4), output_size=(2, 2, 2)),
     "Interpolate: x .* fewer than the 3 spatial"),
    (lambda: F.interpolate(var(4, 4), output_size=(2, 2), channel_last=True),
     "Interpolate: x .* fewer than the 2 spatial"),
    (lambda: F.interpolate(var(1, 4, 4), output_size=(0, 2)), "Interpolate: output_size .* positive"),
    (lambda: F.interpolate(var(1, 4, 4), output_size=(2, 2), align_corners=True, half_pixel=True),
     "Interpolate: align_corners=True and half_pixel=True"),
    (lambda: F.prune(var(3), rate=1.5), r"Prune: rate must be in \[0, 1\]"),
    (lambda: F.fixed_point_quantize(var(3), n=1), "FixedPointQuantize: needs n > 1"),
    (lambda: F.fixed_point_quantize(var(3), delta=0.0), "FixedPointQuantize: needs"),
    (lambda: F.pow2_quantize(var(3), n=2), "Pow2Quantize: n=2 leaves no bit"),
    (lambda: F.quantize_linear(var(2, 3), var(3), var(3)), "QuantizeLinear: scale"),
    (lambda: F.quantize_linear(var(2, 3), var(1, 3), var(1, 2)), "QuantizeLinear: zero_point"),
    (lambda: F.quantize_linear(var(3), var(1), var(1), round_mode="UP"),
     "QuantizeLinear: round_mode must be"),
    (lambda: F.quantize_linear(var(3), var(1), var(1), dtype=np.int16),
     "QuantizeLinear: dtype must be"),
    (lambda: F.dequantize_linear(var(2, 3), var(1), var(1)), "DequantizeLinear: scale"),
]


@pytest.mark.parametrize("build,match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_sink_needs_an_input():
    with pytest.raises(ValueError, match="Sink: needs at least one input"):
        F.sink()


def test_every_public_function_is_tested():
    tested = {c[0].__name__ for c in CASES + STE_CASES} | {
        "unlink", "sink", "eye_like", "mod2", "bit_shift", "quantize_linear"}
    # NNabla's "special use" functions tested here live in the module of their kind.
    elsewhere = {"mod2": arithmetic, "bit_shift": arithmetic, "eye_like": linalg,
                 "einsum": linalg, "interpolate": resampling}
    elsewhere.update({n: quantizers for n in quantizers.__all__ if n != "min_max_quantize"})
    for name, module in elsewhere.items():
        assert getattr(F, name) is getattr(module, name), name
    assert set(special_module.__all__) | set(elsewhere) == tested


PARITY_X = randn(1, 2, 4, 5)


def test_parity_with_nnabla():
    """Interpolate over every coordinate mode and size pattern, the quantizers, einsum."""
    cases = []
    for out in [(7, 3), (8, 10), (2, 2), (3, 12), (1, 1), (4, 5)]:
        for mode, kw in [("linear", {}), ("linear", {"align_corners": True}),
                         ("linear", {"half_pixel": True}), ("nearest", {}),
                         ("nearest", {"align_corners": True}), ("nearest", {"half_pixel": True}),
                         ("nearest", {"half_pixel_for_nn": True})]:
            cases.append(("interpolate", [PARITY_X], dict(kw, output_size=out, mode=mode), [0]))
    cases += [
        ("interpolate", [randn(2, 3, 7)], {"output_size": (3,), "mode": "nearest",
                                           "half_pixel": True}, [0]),
        ("interpolate", [randn(1, 1, 3, 4, 5)], {"output_size": (5, 2, 7)}, [0]),
        ("interpolate", [randn(1, 1, 3, 4, 5)], {"scale": (1.5, 2, 0.5), "mode": "nearest"}, [0]),
        ("einsum", [randn(2, 3), randn(3, 4, seed=1)], {"equation": "ij,jk->ik"}, [0, 1]),
        ("einsum", [randn(3, 3)], {"equation": "ii->i"}, [0]),
        ("einsum", [randn(1, 2, 3), randn(4, 3, 2, seed=1)], {"equation": "...ij,...jk->...ik"},
         [0, 1]),
        ("binary_sigmoid", [away_from([-1, 0, 1], randn(3, 4) * 1.5)], {}, [0]),
        ("binary_tanh", [away_from([-1, 0, 1], randn(3, 4) * 1.5)], {}, [0]),
        ("prune", [randn(4, 5)], {"rate": 0.7}, [0]),
        ("prune", [randn(11)], {"rate": 0.9}, [0]),
        ("fixed_point_quantize", [randn(3, 5) * 4], {"n": 5, "delta": 0.25}, [0]),
        ("fixed_point_quantize", [randn(3, 5) * 4], {"sign": False, "n": 4, "delta": 0.5}, [0]),
        ("pow2_quantize", [randn(3, 5) * 2], {"n": 4}, [0]),
        ("pow2_quantize", [randn(3, 5) * 2], {"n": 5, "m": 2, "with_zero": False}, [0]),
        ("pow2_quantize", [randn(3, 5) * 2], {"n": 4, "sign": False}, [0]),
        ("quantize_linear", [randn(2, 3, 2) * 20, np.array([0.5, 1, 2]).reshape(1, 3, 1),
                             np.array([1, 0, -3]).reshape(1, 3, 1)], {}, [0]),
        ("quantize_linear", [np.arange(-6, 6) + 0.5, np.array([1.0]), np.array([2.5])],
         {"round_mode": "HALF_TO_EVEN"}, [0]),
        ("dequantize_linear", [np.arange(-6.0, 6), np.array([0.5]), np.array([3.7])], {}, [0]),
        ("eye_like", [randn(3, 4)], {"k": 1}, []),
        ("mod2", [randn(3, 4) * 5, uniform(1, 3, (3, 4))], {}, []),
        ("unlink", [randn(3, 4)], {}, [0]),
    ]
    assert check_parity(cases, rtol=1e-5, atol=1e-5) >= len(cases) - 1
