"""Quantized layers: forward vs NumPy references (the products through the
references of test_functions_layers), what forward writes into its inputs,
straight-through weight gradients, the INQ schedule over several steps, and
min-max quantization in its four range modes; parity with NNabla 1.39."""

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from gradcheck import check_function, randn, uniform
from test_functions_layers import ref_convolution


def V(a, need_grad=False):
    return nn.Variable.from_numpy_array(np.array(a), need_grad=need_grad)


def sign_q(w, zero_to=1.0):
    s = np.sign(w)
    s[w == 0] = zero_to
    return s


def ref_affine(x, w, b=None, base_axis=1):
    y = x.reshape(int(np.prod(x.shape[:base_axis])), -1) @ w.reshape(w.shape[0], -1)
    y = y.reshape(x.shape[:base_axis] + w.shape[1:])
    return y if b is None else y + b


def with_zeros(w, every=4):
    """w with some entries exactly 0 (to exercise quantize_zero_to)."""
    w = np.array(w)
    w.reshape(-1)[::every] = 0
    return w


# ---------------------------------------------------------------- binary connect / weight

def ref_bc_affine(x, w, bw, b=None, base_axis=1, quantize_zero_to=1.0):
    return ref_affine(x, sign_q(w, quantize_zero_to), b, base_axis)


def ref_bc_convolution(x, w, bw, b=None, quantize_zero_to=1.0, **kw):
    return ref_convolution(x, sign_q(w, quantize_zero_to), b, **kw)


def bw_scale_affine(w):
    return np.abs(w).reshape(w.shape[0], -1).mean(0).reshape(w.shape[1:])


def bw_scale_convolution(w):
    return np.abs(w).reshape(w.shape[0], -1).mean(1)


def ref_bw_affine(x, w, bw, alpha, b=None, base_axis=1, quantize_zero_to=1.0):
    return ref_affine(x, sign_q(w, quantize_zero_to) * bw_scale_affine(w), b, base_axis)


def ref_bw_convolution(x, w, bw, alpha, b=None, quantize_zero_to=1.0, **kw):
    wq = sign_q(w, quantize_zero_to) * bw_scale_convolution(w).reshape(
        (-1,) + (1,) * (w.ndim - 1))
    return ref_convolution(x, wq, b, **kw)


AFFINE_CASES = [  # x, w, bias, kwargs
    (randn(2, 3), with_zeros(randn(3, 4, seed=1)), randn(4, seed=2), {}),
    (randn(2, 3, 4), randn(12, 5, seed=1), None, {"quantize_zero_to": -1.0}),
    (randn(2, 3, 4), with_zeros(randn(4, 2, 3, seed=1), 3), randn(2, 3, seed=2),
     {"base_axis": 2, "quantize_zero_to": 0.5}),
]

CONV_CASES = [  # x, w, bias, kwargs
    (randn(2, 3, 5, 5), with_zeros(randn(4, 3, 3, 3, seed=1)), randn(4, seed=2), {}),
    (randn(1, 4, 6, 7), randn(6, 2, 3, 2, seed=1), randn(6, seed=2),
     {"group": 2, "pad": (1, 0), "stride": (2, 1), "dilation": (1, 2), "quantize_zero_to": 0.0}),
    (randn(2, 3, 9), with_zeros(randn(2, 3, 3, seed=1), 5), None,
     {"pad": (2,), "stride": (2,), "quantize_zero_to": -1.0}),
    (randn(2, 2, 3, 5, 5), randn(2, 3, 3, 3, seed=1), None, {"base_axis": 2, "pad": (1, 1)}),
]


@pytest.mark.parametrize("x,w,b,kwargs", AFFINE_CASES)
def test_binary_connect_affine(x, w, b, kwargs):
    inputs = [x, w, np.zeros_like(w), b]
    grad = [0, 3] if b is not None else [0]
    ys = check_function(F.binary_connect_affine, inputs, ref=ref_bc_affine, kwargs=kwargs,
                        grad=grad)
    bw = ys.parent.inputs[2]
    np.testing.assert_array_equal(bw.d, sign_q(w, kwargs.get("quantize_zero_to", 1.0)))


@pytest.mark.parametrize("x,w,b,kwargs", CONV_CASES)
def test_binary_connect_convolution(x, w, b, kwargs):
    inputs = [x, w, np.zeros_like(w), b]
    grad = [0, 3] if b is not None else [0]
    ys = check_function(F.binary_connect_convolution, inputs, ref=ref_bc_convolution,
                        kwargs=kwargs, grad=grad)
    np.testing.assert_array_equal(ys.parent.inputs[2].d,
                                  sign_q(w, kwargs.get("quantize_zero_to", 1.0)))


@pytest.mark.parametrize("x,w,b,kwargs", AFFINE_CASES)
def test_binary_weight_affine(x, w, b, kwargs):
    alpha = np.zeros(int(np.prod(w.shape[1:])))
    inputs = [x, w, np.zeros_like(w), alpha, b]
    grad = [0, 4] if b is not None else [0]
    ys = check_function(F.binary_weight_affine, inputs, ref=ref_bw_affine, kwargs=kwargs,
                        grad=grad)
    np.testing.assert_array_equal(ys.parent.inputs[2].d,
                                  sign_q(w, kwargs.get("quantize_zero_to", 1.0)))
    np.testing.assert_allclose(ys.parent.inputs[3].d, bw_scale_affine(w).reshape(-1))


@pytest.mark.parametrize("x,w,b,kwargs", CONV_CASES)
def test_binary_weight_convolution(x, w, b, kwargs):
    inputs = [x, w, np.zeros_like(w), np.zeros((w.shape[0], 1)), b]
    grad = [0, 4] if b is not None else [0]
    ys = check_function(F.binary_weight_convolution, inputs, ref=ref_bw_convolution,
                        kwargs=kwargs, grad=grad)
    np.testing.assert_array_equal(ys.parent.inputs[2].d,
                                  sign_q(w, kwargs.get("quantize_zero_to", 1.0)))
    np.testing.assert_allclose(ys.parent.inputs[3].d[:, 0], bw_scale_convolution(w))


def _ste_case(f, plain, x, w, b, kwargs, scaled):
    """The weight gradient is the product's gradient at the quantized weight, added
    to weight.g; binary_weight and alpha get nothing."""
    extra = [np.zeros_like(w)]
    if scaled is not None:
        extra.append(np.zeros(int(np.prod(scaled(w).shape))))
    xs = [V(x, True), V(w, True)] + [V(e, True) for e in extra]
    bias = [V(b, True)] if b is not None else []
    y = f(*xs, *bias, **kwargs)
    gy = randn(*y.shape, seed=5)
    before = [randn(*v.shape, seed=6 + i) for i, v in enumerate(xs)]
    for v, g in zip(xs, before):
        v.g = g
    y.forward()
    y.backward(gy)
    zero_to = kwargs.pop("quantize_zero_to", 1.0)
    wq = sign_q(w, zero_to)
    if scaled is not None:
        s = scaled(w)
        wq = wq * (s if f is F.binary_weight_affine else s.reshape((-1,) + (1,) * (w.ndim - 1)))
    px, pw = V(x, True), V(wq, True)
    yp = plain(px, pw, *[V(b) for b in ([b] if b is not None else [])], **kwargs)
    yp.forward()
    np.testing.assert_allclose(y.d, yp.d, rtol=1e-12, atol=1e-12)
    px.g, pw.g = 0, 0
    yp.backward(gy)
    np.testing.assert_allclose(xs[0].g - before[0], px.g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xs[1].g - before[1], pw.g, rtol=1e-10, atol=1e-12)
    for v, g in zip(xs[2:], before[2:]):
        np.testing.assert_array_equal(v.g, g)


@pytest.mark.parametrize("x,w,b,kwargs", AFFINE_CASES)
def test_binary_affine_weight_gradient_is_straight_through(x, w, b, kwargs):
    _ste_case(F.binary_connect_affine, F.affine, x, w, b, dict(kwargs), None)
    _ste_case(F.binary_weight_affine, F.affine, x, w, b, dict(kwargs), bw_scale_affine)


@pytest.mark.parametrize("x,w,b,kwargs", CONV_CASES)
def test_binary_convolution_weight_gradient_is_straight_through(x, w, b, kwargs):
    _ste_case(F.binary_connect_convolution, F.convolution, x, w, b, dict(kwargs), None)
    _ste_case(F.binary_weight_convolution, F.convolution, x, w, b, dict(kwargs),
              bw_scale_convolution)


def test_binary_layers_follow_weight_updates():
    """Each forward binarizes the current weight (a solver step changes signs)."""
    x, w = V(randn(2, 3)), V(np.array([[1.0, -1.0], [0.5, 0.2], [-0.3, 2.0]]), True)
    bw, alpha = V(np.zeros((3, 2))), V(np.zeros(2))
    y = F.binary_weight_affine(x, w, bw, alpha)
    y.forward()
    w.d[0, 0] = -4.0
    y.forward()
    np.testing.assert_array_equal(bw.d[0], [-1, -1])
    np.testing.assert_allclose(alpha.d, [(4.0 + 0.5 + 0.3) / 3, (1.0 + 0.2 + 2.0) / 3])
    np.testing.assert_allclose(y.d, x.d @ (bw.d * alpha.d))


@pytest.mark.parametrize("f,shapes,match", [
    (F.binary_connect_affine, [(2, 3), (3, 4), (4, 3)],
     "BinaryConnectAffine: binary_weight \\(4, 3\\) must have the shape of weight"),
    (F.binary_connect_affine, [(2, 3), (4, 4), (4, 4)], "BinaryConnectAffine: x .* 3 features"),
    (F.binary_connect_affine, [(2, 3), (3, 4), (3, 4), (3,)], "BinaryConnectAffine: bias"),
    (F.binary_weight_affine, [(2, 3), (3, 4), (3, 4), (3,)],
     "BinaryWeightAffine: alpha \\(3,\\) must have 4 elements"),
    (F.binary_weight_affine, [(2, 3), (3, 4), (12,), (4,)],
     "BinaryWeightAffine: binary_weight \\(12,\\) must have the shape"),
    (F.binary_connect_convolution, [(2, 3, 5, 5), (4, 3, 3, 3), (4, 3, 3)],
     "BinaryConnectConvolution: binary_weight"),
    (F.binary_connect_convolution, [(2, 3, 5, 5), (4, 2, 3, 3), (4, 2, 3, 3)],
     "BinaryConnectConvolution: x .* 3 channels"),
    (F.binary_weight_convolution, [(2, 3, 5, 5), (4, 3, 3, 3), (4, 3, 3, 3), (2,)],
     "BinaryWeightConvolution: alpha \\(2,\\) must have 4 elements"),
    (F.binary_weight_convolution, [(2, 3, 5, 5), (4, 3, 3, 3), (4, 3, 3, 3), (4,), (3,)],
     "BinaryWeightConvolution: bias"),
])
def test_binary_bad_inputs(f, shapes, match):
    with pytest.raises(ValueError, match=match):
        f(*[nn.Variable(s) for s in shapes])


def test_binary_function_names_and_args():
    x, w = nn.Variable((2, 3, 5, 5)), nn.Variable((4, 3, 3, 3))
    y = F.binary_weight_convolution(x, w, nn.Variable(w.shape), nn.Variable((4,)), pad=(1, 1))
    assert y.parent.name == "BinaryWeightConvolution"
    assert y.parent.info.args == {"base_axis": 1, "pad": [1, 1], "stride": [1, 1],
                                  "dilation": [1, 1], "group": 1, "quantize_zero_to": 1.0}
    y = F.binary_connect_affine(nn.Variable((2, 3)), nn.Variable((3, 4)), nn.Variable((3, 4)))
    assert y.parent.name == "BinaryConnectAffine"
    assert y.parent.info.args == {"base_axis": 1, "quantize_zero_to": 1.0}


# ---------------------------------------------------------------- INQ

def ref_pow2(w, num_bits):
    """Nearest power of two in linear distance (ties up), exponents within
    [n1 + 1 - 2^(num_bits-2), n1], 2^n1 the max |w| rounded so; 0 below 2^(n2-1)."""
    def nearest_exp(a):
        k = np.floor(np.log2(a))
        return k + (a >= 1.5 * 2.0 ** k)
    m = np.abs(w).max() or 1.0
    n1 = nearest_exp(m)
    n2 = n1 + 1 - 2 ** (num_bits - 2)
    out = np.zeros_like(w)
    for i, v in np.ndenumerate(w):
        if abs(v) >= 2.0 ** (n2 - 1):
            out[i] = np.sign(v) * 2.0 ** np.clip(nearest_exp(abs(v)), n2, n1)
    return out


class RefINQ:
    """The INQ schedule step by step, written with plain loops."""

    def __init__(self, w, ind, num_bits=4, inq_iterations=()):
        self.num_bits, self.iterations = num_bits, list(inq_iterations)
        self.count, self.old = 0, None
        self.w, self.ind = np.array(w, dtype=float), np.array(ind)

    def forward(self):
        w, ind = self.w.reshape(-1), self.ind.reshape(-1)
        if self.old is not None:
            old_w, old_ind = self.old
            for i in range(w.size):
                if old_ind[i] == 1:
                    w[i] = old_w[i]
        if self.count in self.iterations:
            if self.count == self.iterations[-1]:
                ind[:] = 1
            else:
                order = sorted(range(w.size), key=lambda i: -abs(w[i]))
                learnable = [i for i in order if ind[i] == 0]
                # Half of them; with a single one left, NNabla fixes it only when it
                # is the largest weight of all.
                half = len(learnable) // 2
                for i in learnable[:half] if half else [i for i in order[:1] if ind[i] == 0]:
                    ind[i] = 1
        q = ref_pow2(self.w, self.num_bits).reshape(-1)
        for i in range(w.size):
            if ind[i] == 1:
                w[i] = q[i]
        self.count += 1
        self.old = (w.copy(), ind.copy())
        return self.w


def ref_inq_affine(x, w, ind, b=None, base_axis=1, num_bits=4, **kw):
    return ref_affine(x, np.where(ind == 1, ref_pow2(w, num_bits), w), b, base_axis)


def ref_inq_convolution(x, w, ind, b=None, num_bits=4, inq_iterations=(), **kw):
    return ref_convolution(x, np.where(ind == 1, ref_pow2(w, num_bits), w), b, **kw)


def indicators(shape, seed=3, p=0.5):
    return (np.random.RandomState(seed).rand(*shape) < p).astype(np.int32)


@pytest.mark.parametrize("x,w,b,kwargs", [
    (randn(2, 3), randn(3, 4, seed=1), randn(4, seed=2), {}),
    (randn(2, 3, 4), randn(4, 2, 3, seed=1) * 0.3, randn(2, 3, seed=2), {"base_axis": 2}),
    (randn(2, 6), randn(6, 3, seed=1) * 5, None, {"num_bits": 3}),
    (randn(3, 5), randn(5, 4, seed=1), None, {"num_bits": 6}),
])
def test_inq_affine(x, w, b, kwargs):
    # Learnable weights: an ordinary affine, gradients checked numerically.
    check_function(F.inq_affine, [x, w, np.zeros(w.shape, np.int32), b], ref=ref_inq_affine,
                   kwargs=kwargs)
    # Partly fixed: those entries become powers of two, in the weight itself.
    ind = indicators(w.shape)
    ys = check_function(F.inq_affine, [x, w, ind, b], ref=ref_inq_affine, kwargs=kwargs,
                        grad=[0] + ([3] if b is not None else []))
    np.testing.assert_allclose(ys.parent.inputs[1].d,
                               np.where(ind == 1, ref_pow2(w, kwargs.get("num_bits", 4)), w))


@pytest.mark.parametrize("x,w,b,kwargs", [
    (randn(2, 3, 5, 5), randn(4, 3, 3, 3, seed=1), randn(4, seed=2), {"pad": (1, 1)}),
    (randn(1, 4, 6, 7), randn(6, 2, 3, 2, seed=1), None,
     {"group": 2, "stride": (2, 1), "dilation": (1, 2), "num_bits": 5}),
    (randn(2, 3, 9), randn(2, 3, 3, seed=1), randn(2, seed=2), {"pad": (1,), "num_bits": 2}),
])
def test_inq_convolution(x, w, b, kwargs):
    check_function(F.inq_convolution, [x, w, np.zeros(w.shape, np.int32), b],
                   ref=ref_inq_convolution, kwargs=kwargs)
    ind = indicators(w.shape)
    ys = check_function(F.inq_convolution, [x, w, ind, b], ref=ref_inq_convolution,
                        kwargs=kwargs, grad=[0] + ([3] if b is not None else []))
    np.testing.assert_allclose(ys.parent.inputs[1].d,
                               np.where(ind == 1, ref_pow2(w, kwargs.get("num_bits", 4)), w))


def test_pow2_levels():
    """Exponents from the rounded max down 2^(num_bits-2) steps; smaller ones to 0."""
    w = np.array([[3.5, -1.4, 0.6, 0.3, -0.26, 0.24, 0.0, 1.6, -0.05]]).T
    x, ind = V(np.eye(9)), V(np.ones(w.shape, np.int32))
    y = F.inq_affine(x, V(w), ind, num_bits=4)  # n1 = 2 (3.5 -> 4), n2 = -1, 0 below 1/4
    y.forward()
    np.testing.assert_array_equal(y.d[:, 0], [4, -1, 0.5, 0.5, -0.5, 0, 0, 2, 0])


def _run_inq(f, x, w, ind, b, kwargs, steps, lr=0.3):
    xs = V(x, True)
    wv, iv = V(w, True), V(ind)
    y = f(xs, wv, iv, *([V(b, True)] if b is not None else []), **kwargs)
    history = []
    for step in range(steps):
        y.forward()
        history.append((y.d.copy(), wv.d.copy(), iv.d.copy()))
        wv.g = 0
        y.backward(randn(*y.shape, seed=10 + step))
        wv.d -= lr * wv.g  # a solver step: fixed weights must come back
    return history


@pytest.mark.parametrize("f,plain,x,w,b,kwargs", [
    (F.inq_affine, F.affine, randn(2, 5), randn(5, 3, seed=1), randn(3, seed=2),
     {"inq_iterations": (1, 3, 4)}),
    (F.inq_affine, F.affine, randn(2, 7), randn(7, 1, seed=1), None,
     {"inq_iterations": (0, 1, 2, 3, 4, 6), "num_bits": 3}),  # down to one learnable weight
    (F.inq_convolution, F.convolution, randn(2, 2, 5, 5), randn(3, 2, 2, 2, seed=1), None,
     {"inq_iterations": (2, 4), "pad": (1, 1)}),
])
def test_inq_schedule(f, plain, x, w, b, kwargs):
    ind0 = np.zeros(w.shape, np.int32)
    history = _run_inq(f, x, w, ind0, b, kwargs, steps=7)
    conv = {k: v for k, v in kwargs.items() if k in ("pad",)}
    ref = RefINQ(w, ind0, kwargs.get("num_bits", 4), kwargs["inq_iterations"])
    for step, (y, wq, ind) in enumerate(history):
        want_w = ref.forward()
        np.testing.assert_array_equal(ind, ref.ind, err_msg=f"indicators at step {step}")
        np.testing.assert_allclose(wq, want_w, rtol=1e-12, err_msg=f"weights at step {step}")
        yp = plain(V(x), V(wq), *([V(b)] if b is not None else []), **conv)
        yp.forward()
        np.testing.assert_allclose(y, yp.d, rtol=1e-12, atol=1e-12)
        gy = randn(*y.shape, seed=10 + step)
        pw = V(wq, True)
        yp = plain(V(x), pw, *([V(b)] if b is not None else []), **conv)
        yp.forward()
        pw.g = 0
        yp.backward(gy)
        ref.w -= 0.3 * pw.g  # the same solver step on the reference
    assert history[-1][2].all()  # the last listed iteration fixes every weight


def test_inq_random_selection():
    w = randn(40, 5, seed=1)
    kwargs = {"inq_iterations": (1, 2, 5), "selection_algorithm": "random", "seed": 7}
    runs = [_run_inq(F.inq_affine, randn(3, 40), w, np.zeros(w.shape, np.int32), None,
                     kwargs, steps=6) for _ in range(2)]
    for (y0, w0, i0), (y1, w1, i1) in zip(*runs):  # the same seed draws the same
        np.testing.assert_array_equal(i0, i1)
        np.testing.assert_array_equal(w0, w1)
    counts = [ind.sum() for _, _, ind in runs[0]]
    assert counts[0] == 0 and counts[1] > 0 and counts[-1] == w.size
    assert 0.3 * w.size < counts[1] < 0.7 * w.size  # each learnable weight with p = 1/2
    assert np.all(np.diff([ind for _, _, ind in runs[0]], axis=0) >= 0)  # never unfixed
    nn.seed(3)  # seed=-1 uses nablite's function generator
    a = _run_inq(F.inq_affine, randn(3, 40), w, np.zeros(w.shape, np.int32), None,
                 {"inq_iterations": (0, 9), "selection_algorithm": "random"}, steps=1)
    nn.seed(3)
    b = _run_inq(F.inq_affine, randn(3, 40), w, np.zeros(w.shape, np.int32), None,
                 {"inq_iterations": (0, 9), "selection_algorithm": "random"}, steps=1)
    np.testing.assert_array_equal(a[0][2], b[0][2])


def test_inq_weight_and_indicator_gradients():
    """weight gets the full gradient (fixed entries too); the indicator none."""
    x, w = randn(2, 3), randn(3, 4, seed=1)
    ind = indicators(w.shape)
    xv, wv, iv = V(x, True), V(w, True), V(ind.astype(float), True)
    y = F.inq_affine(xv, wv, iv)
    y.forward()
    iv.g = 0
    wv.g = 0
    gy = randn(2, 4, seed=4)
    y.backward(gy)
    np.testing.assert_allclose(wv.g, x.T @ gy)
    np.testing.assert_array_equal(iv.g, 0)


@pytest.mark.parametrize("f,shapes,kwargs,match", [
    (F.inq_affine, [(2, 3), (3, 4), (4, 3)], {},
     "INQAffine: indicator_fixedweights \\(4, 3\\) must have the shape of weight"),
    (F.inq_affine, [(2, 3), (3, 4), (3, 4)], {"selection_algorithm": "smallest"},
     "INQAffine: selection_algorithm='smallest'"),
    (F.inq_affine, [(2, 3), (3, 4), (3, 4), (5,)], {}, "INQAffine: bias"),
    (F.inq_convolution, [(2, 3, 5, 5), (4, 3, 3, 3), (4, 3, 3, 1)], {},
     "INQConvolution: indicator_fixedweights"),
    (F.inq_convolution, [(2, 3, 5, 5), (4, 3, 6, 3), (4, 3, 6, 3)], {},
     "INQConvolution: kernel"),
])
def test_inq_bad_inputs(f, shapes, kwargs, match):
    with pytest.raises(ValueError, match=match):
        f(*[nn.Variable(s) for s in shapes], **kwargs)


def test_inq_function_args():
    x, w = nn.Variable((2, 3, 5, 5)), nn.Variable((4, 3, 3, 3))
    y = F.inq_convolution(x, w, nn.Variable(w.shape), inq_iterations=(2, 5), num_bits=3)
    assert y.parent.name == "INQConvolution"
    assert y.parent.info.args == {
        "base_axis": 1, "pad": [0, 0], "stride": [1, 1], "dilation": [1, 1], "group": 1,
        "num_bits": 3, "inq_iterations": [2, 5], "selection_algorithm": "largest_abs",
        "seed": -1}


# ---------------------------------------------------------------- min-max quantize

def round_half_away(a):
    return np.sign(a) * np.floor(np.abs(a) + 0.5)


def ref_min_max(x, qr_min, qr_max, ql_min, ql_max, decay=0.999, x_min_max=False, ema=False,
                ste_fine_grained=True, eps=0.01, quantize=True):
    """y and the updated (qr_min, qr_max), one range slice at a time."""
    qr_min, qr_max = np.array(qr_min, dtype=float), np.array(qr_max, dtype=float)
    axes = tuple(i for i, s in enumerate(qr_min.shape) if s == 1)
    if x_min_max:
        mn, mx = np.amin(x, axis=axes, keepdims=True), np.amax(x, axis=axes, keepdims=True)
        qr_min = decay * qr_min + (1 - decay) * mn if ema else mn
        qr_max = decay * qr_max + (1 - decay) * mx if ema else mx
    qr_max = np.where(qr_max - qr_min < eps, qr_min + eps, qr_max)
    y = np.empty_like(x)
    lo_all, hi_all = np.empty_like(qr_min), np.empty_like(qr_min)
    for i in np.ndindex(*qr_min.shape):
        s = (qr_max[i] - qr_min[i]) / (ql_max[i] - ql_min[i])
        zp = min(max(ql_min[i] - qr_min[i] / s, ql_min[i]), ql_max[i])
        zp = round_half_away(zp)
        lo, hi = (ql_min[i] - zp) * s, (ql_max[i] - zp) * s
        lo_all[i], hi_all[i] = lo, hi
        sl = tuple(slice(None) if n == 1 else slice(k, k + 1) for k, n in zip(i, qr_min.shape))
        y[sl] = round_half_away((np.clip(x[sl], lo, hi) - lo) / s) * s + lo
    return y, qr_min, qr_max, lo_all, hi_all


def mm_inputs(shape, range_shape, levels=(0, 255), seed=0):
    x = randn(*shape, seed=seed) * 2
    qr_min = uniform(-2.0, -0.5, range_shape, seed=seed + 1)
    qr_max = uniform(0.5, 2.5, range_shape, seed=seed + 2)
    return [x, qr_min, qr_max, np.full(range_shape, float(levels[0])),
            np.full(range_shape, float(levels[1]))]


MM_CASES = [
    ((3, 4), (1, 1), (0, 255), {}),
    ((2, 3, 4), (1, 3, 1), (0, 15), {}),
    ((2, 3, 4), (2, 1, 4), (-8, 7), {"ste_fine_grained": False}),
    ((5, 6), (1, 6), (0, 3), {"x_min_max": True}),
    ((5, 6), (5, 1), (0, 255), {"ema": True}),
    ((2, 3), (2, 3), (0, 7), {}),  # a range per element
]


@pytest.mark.parametrize("shape,range_shape,levels,kwargs", MM_CASES)
def test_min_max_quantize_forward(shape, range_shape, levels, kwargs):
    inputs = mm_inputs(shape, range_shape, levels)
    ys = check_function(F.min_max_quantize, inputs, kwargs=kwargs, grad=[],
                        ref=lambda *a, **k: ref_min_max(*a, **k)[0])
    _, qr_min, qr_max, _, _ = ref_min_max(*inputs, **kwargs)
    np.testing.assert_allclose(ys.parent.inputs[1].d, qr_min)
    np.testing.assert_allclose(ys.parent.inputs[2].d, qr_max)


@pytest.mark.parametrize("shape,range_shape,levels,kwargs", MM_CASES)
def test_min_max_quantize_backward(shape, range_shape, levels, kwargs):
    """Straight-through to x (masked to the nudged range when ste_fine_grained);
    learned ranges (neither x_min_max nor ema) get the gradient that falls outside."""
    inputs = mm_inputs(shape, range_shape, levels)
    xs = [V(a, i < 3) for i, a in enumerate(inputs)]
    y = F.min_max_quantize(*xs, **kwargs)
    before = [randn(*a.shape, seed=7 + i) for i, a in enumerate(inputs[:3])]
    for v, g in zip(xs, before):
        v.g = g
    y.forward()
    gy = randn(*y.shape, seed=4)
    y.backward(gy)
    x = inputs[0]
    _, _, _, lo, hi = ref_min_max(*inputs, **kwargs)
    inside = (x >= lo) & (x <= hi)
    gx = gy * inside if kwargs.get("ste_fine_grained", True) else gy
    np.testing.assert_allclose(xs[0].g - before[0], gx)
    axes = tuple(i for i, s in enumerate(range_shape) if s == 1)
    learned = not (kwargs.get("x_min_max") or kwargs.get("ema"))
    gmin = (gy * (x < lo)).sum(axis=axes, keepdims=True) if learned else 0
    gmax = (gy * (x > hi)).sum(axis=axes, keepdims=True) if learned else 0
    np.testing.assert_allclose(xs[1].g - before[1], gmin, atol=1e-12)
    np.testing.assert_allclose(xs[2].g - before[2], gmax, atol=1e-12)


def test_min_max_quantize_moving_average_and_eps():
    x = randn(4, 3) * 3
    qr_min, qr_max = V(np.full((1, 1), -0.5)), V(np.full((1, 1), -0.499))
    ql_min, ql_max = V(np.zeros((1, 1))), V(np.full((1, 1), 255.0))
    y = F.min_max_quantize(V(x), qr_min, qr_max, ql_min, ql_max, decay=0.9, x_min_max=True,
                           ema=True)
    want_min, want_max = -0.5, -0.499
    for _ in range(3):  # the moving average moves on every forward
        y.forward()
        want_min = 0.9 * want_min + 0.1 * x.min()
        want_max = max(0.9 * want_max + 0.1 * x.max(), want_min + 0.01)
        np.testing.assert_allclose(qr_min.d, want_min)
        np.testing.assert_allclose(qr_max.d, want_max)
    # A range narrower than eps is widened in qr_max itself.
    qr_min.d, qr_max.d = 0.3, 0.2
    F.min_max_quantize(V(x), qr_min, qr_max, ql_min, ql_max, eps=0.25).forward()
    np.testing.assert_allclose(qr_max.d, 0.55)


def test_min_max_quantize_zero_is_exact():
    """The nudged range puts a level on 0."""
    x = np.linspace(-1.3, 2.9, 50).reshape(5, 10)
    x[0, 0] = 0.0
    y = F.min_max_quantize(V(x), V([[-1.3]]), V([[2.9]]), V([[0.0]]), V([[15.0]]))
    y.forward()
    assert y.d[0, 0] == 0.0
    assert len(np.unique(np.round(y.d, 9))) <= 16


def test_min_max_quantize_no_quantize_and_ql_gradient():
    xs = [V(a) for a in mm_inputs((3, 4), (1, 1))]
    assert F.min_max_quantize(*xs, quantize=False) is xs[0]
    xs[0].need_grad = xs[3].need_grad = True
    y = F.min_max_quantize(*xs)
    y.forward()
    with pytest.raises(ValueError, match="MinMaxQuantize: ql_min and ql_max take no gradient"):
        y.backward()


@pytest.mark.parametrize("shapes,match", [
    ([(2, 3), (1, 1), (1, 1), (1,), (1, 1)], "MinMaxQuantize: ql_min \\(1,\\) must have the "
     "shape of qr_min"),
    ([(2, 3), (1,), (1,), (1,), (1,)], "MinMaxQuantize: qr_min \\(1,\\) must have as many"),
    ([(2, 3), (1, 2), (1, 2), (1, 2), (1, 2)], "MinMaxQuantize: qr_min \\(1, 2\\) must match"),
])
def test_min_max_quantize_bad_inputs(shapes, match):
    with pytest.raises(ValueError, match=match):
        F.min_max_quantize(*[nn.Variable(s) for s in shapes])


# ---------------------------------------------------------------- parity with NNabla 1.39

def steps_cases(cases):
    """Each case for several steps: forward, backward with a fixed gy, then a plain
    gradient step on the inputs that need one (so that INQ's fixed weights have
    something to undo). Records y, every input's data and the gradients."""
    out = {}
    for k, (name, inputs, kwargs, need, steps, lr) in enumerate(cases):
        xs = [None if a is None else nn.Variable.from_numpy_array(a, need_grad=i in need)
              for i, a in enumerate(inputs)]
        y = getattr(F, name)(*xs, **kwargs)
        for step in range(steps):
            y.forward()
            for i in need:
                xs[i].g = 0
            y.backward(np.random.RandomState(step).randn(*y.shape).astype(np.float32))
            out[f"{k} {name} {kwargs} step {step}"] = {
                "y": y.d.copy(), "data": [x.d.copy() for x in xs if x is not None],
                "grads": [xs[i].g.copy() for i in need]}
            for i in need:
                xs[i].d -= lr * xs[i].g
    return out


def check_steps_parity(cases, rtol=1e-5, atol=1e-5):
    """cases: (name, inputs as (array, dtype) or None, kwargs, indices needing a
    gradient, number of steps, step size), run from one source in both libraries."""
    from nnabla_parity import check_same_source
    cases = [(name, [None if a is None else np.asarray(a[0], a[1]) for a in inputs],
              {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
              list(need), steps, lr) for name, inputs, kwargs, need, steps, lr in cases]
    check_same_source(steps_cases, rtol=rtol, atol=atol, cases=cases)


def _f32(*arrays):
    return [(np.asarray(a, np.float32), "float32") for a in arrays if a is not None]


def _bias_need(b, index):
    return [index] if b is not None else []


def test_parity_binary_layers():
    cases = []
    for x, w, b, kwargs in AFFINE_CASES:
        z, alpha = np.zeros_like(w), np.zeros(int(np.prod(w.shape[1:])))
        cases.append(("binary_connect_affine", _f32(x, w, z, b), kwargs,
                      [0, 1] + _bias_need(b, 3), 2, 0.5))
        cases.append(("binary_weight_affine", _f32(x, w, z, alpha, b), kwargs,
                      [0, 1] + _bias_need(b, 4), 2, 0.5))
    for x, w, b, kwargs in CONV_CASES:
        z, alpha = np.zeros_like(w), np.zeros(w.shape[0])
        cases.append(("binary_connect_convolution", _f32(x, w, z, b), kwargs,
                      [0, 1] + _bias_need(b, 3), 2, 0.5))
        cases.append(("binary_weight_convolution", _f32(x, w, z, alpha, b), kwargs,
                      [0, 1] + _bias_need(b, 4), 2, 0.5))
    check_steps_parity(cases)


def test_parity_inq():
    cases = []
    for name, x, w, b, kwargs in [
        ("inq_affine", randn(2, 5), randn(5, 3, seed=1), randn(3, seed=2),
         {"inq_iterations": (1, 3, 4)}),
        ("inq_affine", randn(2, 7), randn(7, 1, seed=1), None,
         {"inq_iterations": (0, 1, 2, 3, 4, 6), "num_bits": 3}),
        ("inq_affine", randn(2, 3, 4), randn(12, 6, seed=1) * 0.1, None,
         {"inq_iterations": (2, 3), "num_bits": 5}),
        ("inq_convolution", randn(2, 2, 5, 5), randn(3, 2, 2, 2, seed=1), randn(3, seed=2),
         {"inq_iterations": (2, 4), "pad": (1, 1)}),
        ("inq_convolution", randn(1, 4, 6, 6), randn(4, 2, 3, 3, seed=1) * 3, None,
         {"inq_iterations": (0, 5), "group": 2, "stride": (2, 1), "num_bits": 2}),
    ]:
        inputs = _f32(x, w) + [(np.zeros(w.shape, np.int32), "int32")] + _f32(b)
        cases.append((name, inputs, kwargs, [0, 1] + _bias_need(b, 3), 7, 0.3))
    check_steps_parity(cases, atol=1e-4)


def test_parity_min_max_quantize():
    cases = []
    for shape, range_shape, levels, kwargs in MM_CASES + [
            ((5, 6), (1, 6), (0, 255), {"x_min_max": True, "ema": True, "decay": 0.8})]:
        learned = not (kwargs.get("x_min_max") or kwargs.get("ema"))
        cases.append(("min_max_quantize", _f32(*mm_inputs(shape, range_shape, levels)),
                      kwargs, [0, 1, 2] if learned else [0], 3, 0.01))
    check_steps_parity(cases, atol=2e-5)
