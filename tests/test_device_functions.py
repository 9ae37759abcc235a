"""The convolution, pooling, detection, quantization, ONNX, recurrent,
rescaling and distributed functions on the simulated device (_device_sim).

Each case builds its node on the CPU twice, then runs forward and backward
once with NumPy and once with the simulated device's ``xp`` on device copies
of the same inputs. The device run must not mix host and device arrays (the
simulator raises where CuPy would), its results must be device arrays, and
they must equal the NumPy run's: the simulator computes with NumPy, so every
difference is a bug. Inputs that forward writes into (INQ's weight and
indicator, the binarized weights, min_max_quantize's ranges) are compared too.
"""
import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from nablite import _device_sim as sim
from nablite.functions import _conv_blocked, _winograd

xp = sim.xp


def _host(a):
    return a.get() if isinstance(a, sim.DeviceArray) else a


def _rand(shape, seed):
    return np.random.RandomState(seed).randn(*shape).astype(np.float32)


def _run(build, arrays, module, grad_seed=1):
    """Build ``build(*variables)`` on the CPU; forward and backward of its node
    with ``module`` on copies of ``arrays``. -> (outputs, gradients, inputs after)."""
    vs = [nn.Variable.from_numpy_array(a.copy(), need_grad=a.dtype.kind == "f")
          for a in arrays]
    out = build(*vs)
    outs = list(out) if isinstance(out, tuple) else [out]
    f = outs[0].parent
    to = xp.asarray if module is xp else np.array
    xs = [to(a.copy()) for a in arrays]
    ys = f.forward(module, *xs)
    ys = list(ys) if isinstance(ys, tuple) else [ys]
    grads = []
    if getattr(f, "_no_backward", False) is False and any(v.need_grad for v in vs):
        gys = [to(_rand(y.shape, grad_seed + i).astype(y.dtype)) for i, y in enumerate(ys)]
        f.need = tuple(v.need_grad for v in vs)
        grads = list(f.backward(module, xs, ys, gys))
    return ys, grads, xs


def _same_on_device(build, *arrays, backward=True, rtol=0):
    """Equal results, bit for bit; within ``rtol`` (of the largest |value|) where
    the CPU sums in another order (group-1 convolutions: blocked there, im2col
    on the device)."""
    ref = _run(build, arrays, np)
    dev = _run(build, arrays, xp)
    for what, r, d in zip(("output", "gradient", "input after forward"), ref, dev):
        if what == "gradient" and not backward:
            continue
        assert len(r) == len(d)
        for i, (a, b) in enumerate(zip(r, d)):
            if a is None:
                assert b is None, f"{what} {i}: None on the CPU, not on the device"
                continue
            assert isinstance(b, sim.DeviceArray), (
                f"{what} {i} is a {type(b).__name__} on the device, not a device array")
            b = b.get()
            assert b.shape == a.shape and b.dtype == a.dtype, f"{what} {i}"
            if rtol:
                np.testing.assert_allclose(b, a, rtol=rtol, atol=rtol * np.abs(a).max(initial=0),
                                           err_msg=f"{what} {i}")
            else:
                np.testing.assert_array_equal(b, a, err_msg=f"{what} {i}")


def _no_backward(f):
    """Forward only (functions that have no gradient)."""
    def build(*vs):
        for v in vs:
            v.need_grad = False
        return f(*vs)
    return build


X = _rand((2, 4, 7, 6), 0)


# -- convolutions ------------------------------------------------------------------
CONVOLUTIONS = [
    ("conv", lambda x, w, b: F.convolution(x, w, b, pad=(1, 1)), [X, _rand((5, 4, 3, 3), 2),
                                                                 _rand((5,), 3)]),
    ("conv-stride-dilation", lambda x, w: F.convolution(x, w, pad=(2, 1), stride=(2, 1),
                                                        dilation=(2, 1)),
     [X, _rand((3, 4, 3, 2), 2)]),
    ("conv-group", lambda x, w, b: F.convolution(x, w, b, pad=(1, 0), group=2),
     [X, _rand((6, 2, 3, 3), 2), _rand((6,), 3)]),
    ("conv-channel-last", lambda x, w: F.convolution(x, w, pad=(1, 1), channel_last=True),
     [_rand((2, 5, 6, 3), 0), _rand((4, 3, 3, 3), 2)]),
    ("conv-1d", lambda x, w: F.convolution(x, w, stride=(2,)), [_rand((3, 2, 9), 0),
                                                                _rand((4, 2, 3), 2)]),
    ("conv-3d", lambda x, w: F.convolution(x, w, pad=(1, 0, 1)),
     [_rand((2, 2, 4, 3, 4), 0), _rand((3, 2, 2, 2, 3), 2)]),
    ("conv-1x1", lambda x, w: F.convolution(x, w), [X, _rand((3, 4, 1, 1), 2)]),
    ("conv-empty-batch", lambda x, w, b: F.convolution(x, w, b),
     [_rand((0, 4, 5, 5), 0), _rand((3, 4, 3, 3), 2), _rand((3,), 3)]),
    ("depthwise-conv", lambda x, w, b: F.depthwise_convolution(x, w, b, pad=(1, 1),
                                                               multiplier=2),
     [X, _rand((8, 3, 3), 2), _rand((8,), 3)]),
    ("deconv", lambda x, w, b: F.deconvolution(x, w, b, pad=(1, 1), stride=(2, 2),
                                               output_padding=(1, 0)),
     [X, _rand((4, 3, 3, 3), 2), _rand((3,), 3)]),
    ("deconv-group-channel-last", lambda x, w: F.deconvolution(x, w, group=2,
                                                               channel_last=True),
     [_rand((2, 5, 4, 4), 0), _rand((4, 2, 2, 3), 2)]),
    ("depthwise-deconv", lambda x, w: F.depthwise_deconvolution(x, w, stride=(2, 1),
                                                                divisor=2),
     [X, _rand((4, 3, 2), 2)]),
    ("fused-conv-bn-z-relu", lambda x, w, beta, gamma, mean, var, z: F.fused_convolution(
        x, w, None, beta, gamma, mean, var, z, pad=(1, 1)),
     [X, _rand((3, 4, 3, 3), 2), _rand((1, 3, 1, 1), 3), _rand((1, 3, 1, 1), 4),
      _rand((1, 3, 1, 1), 5), np.abs(_rand((1, 3, 1, 1), 6)), _rand((2, 3, 7, 6), 7)]),
    ("fused-conv-reflect-leaky", lambda x, w, b: F.fused_convolution(
        x, w, b, pad=(1, 2), pad_mode="reflect", nonlinearity="leaky_relu",
        nonlinearity_args=[0.2]),
     [X, _rand((3, 4, 3, 3), 2), _rand((3,), 3)]),
]


@pytest.mark.parametrize("build,arrays", [c[1:] for c in CONVOLUTIONS],
                         ids=[c[0] for c in CONVOLUTIONS])
def test_convolutions_on_the_device(build, arrays):
    _same_on_device(build, *arrays, rtol=1e-5)


def test_group_one_convolution_takes_im2col_on_the_device(monkeypatch):
    """The blocked (cache-sized, batch-last) and Winograd paths are the CPU's: on
    another array module a group-1 convolution is im2col and one product."""
    def refuse(*args, **kwargs):
        raise AssertionError("a CPU-only path ran on the device")
    monkeypatch.setattr(_conv_blocked.BlockedConvolution, "forward", refuse)
    monkeypatch.setattr(_conv_blocked.BlockedConvolution, "backward", refuse)
    monkeypatch.setattr(_winograd, "python_kernels", True)  # Winograd applies to this geometry
    monkeypatch.setattr(_winograd.WinogradConvolution, "forward", refuse)
    monkeypatch.setattr(_winograd.WinogradConvolution, "backward", refuse)
    arrays = [_rand((2, 4, 6, 6), 0), _rand((4, 4, 3, 3), 2)]
    ys, grads, _ = _run(lambda x, w: F.convolution(x, w, pad=(1, 1)), arrays, xp)
    assert isinstance(ys[0], sim.DeviceArray) and all(isinstance(g, sim.DeviceArray)
                                                      for g in grads)
    with pytest.raises(AssertionError, match="CPU-only"):  # and the CPU still takes them
        _run(lambda x, w: F.convolution(x, w, pad=(1, 1)), arrays, np)


# -- pooling -----------------------------------------------------------------------
XN = X.copy()
XN[0, 1, 2, 3] = np.nan  # a NaN window: its gradient goes to offset 0
POOLING = [
    ("max", lambda x: F.max_pooling(x, (2, 2)), [X]),
    ("max-nan", lambda x: F.max_pooling(x, (2, 2)), [XN]),
    ("max-overlap-pad", lambda x: F.max_pooling(x, (3, 2), (2, 1), pad=(1, 1)), [X]),
    ("max-keep-border-channel-last", lambda x: F.max_pooling(
        x, (2, 2), ignore_border=False, channel_last=True), [_rand((2, 5, 5, 3), 0)]),
    ("average-pad", lambda x: F.average_pooling(x, (3, 3), (2, 2), pad=(1, 1)), [X]),
    ("average-excluding-pad", lambda x: F.average_pooling(
        x, (3, 2), (2, 2), pad=(1, 1), including_pad=False), [X]),
    ("average-whole", lambda x: F.average_pooling(x, (7, 6)), [X]),
    ("sum-keep-border", lambda x: F.sum_pooling(x, (2, 4), ignore_border=False), [X]),
    ("global-average", F.global_average_pooling, [X]),
    ("unpooling", lambda x: F.unpooling(x, (2, 3)), [X]),
    ("max-pooling-backward", lambda dy, x: F.max_pooling_backward(dy, x, (3, 3), (2, 2)),
     [_rand((2, 4, 3, 2), 1), X]),
]


@pytest.mark.parametrize("build,arrays", [c[1:] for c in POOLING], ids=[c[0] for c in POOLING])
def test_pooling_on_the_device(build, arrays):
    _same_on_device(build, *arrays)


# -- deformable, detection, ONNX ---------------------------------------------------
def _deformable(x, w, off, mask, b):
    return F.deformable_convolution(x, w, off, mask, b, pad=(1, 1), stride=(2, 1),
                                    deformable_group=2)


OTHERS = [
    ("deformable-mask", _deformable,
     [X, _rand((6, 4, 3, 3), 2), _rand((2, 36, 7, 6), 3), _rand((2, 18, 7, 6), 4),
      _rand((6,), 5)]),
    ("deformable-group-channel-last", lambda x, w, off: F.deformable_convolution(
        x, w, off, group=2, channel_last=True),
     [_rand((1, 5, 5, 4), 0), _rand((4, 2, 2, 2), 2), _rand((1, 5, 5, 8), 3)]),
    ("adaptive-separable", F.adaptive_separable_convolution,
     [X, _rand((2, 3, 5, 4), 2), _rand((2, 3, 6, 4), 3)]),
    ("rnn-bidirectional-2-layers", lambda x, h, w0, w, b: F.rnn(
        x, h, w0, w, b, num_layers=2, bidirectional=True),
     [_rand((4, 2, 3), 0), _rand((2, 2, 2, 5), 1), _rand((2, 5, 8), 2),
      _rand((1, 2, 5, 15), 3), _rand((2, 2, 5), 4)]),
    ("lstm", lambda x, h, c, w0, b: F.lstm(x, h, c, w0, bias=b),
     [_rand((4, 2, 3), 0), _rand((1, 1, 2, 5), 1), _rand((1, 1, 2, 5), 2),
      _rand((1, 4, 5, 8), 3), _rand((1, 1, 4, 5), 4)]),
    ("gru-bidirectional", lambda x, h, w0, b: F.gru(x, h, w0, bias=b, bidirectional=True),
     [_rand((4, 2, 3), 0), _rand((1, 2, 2, 5), 1), _rand((2, 3, 5, 8), 3),
      _rand((1, 2, 4, 5), 4)]),
    ("norm-normalization", lambda x: F.norm_normalization(x, p=3, axes=(1, 3)), [X]),
    ("weight-normalization", lambda w, g: F.weight_normalization(w, g, dim=1),
     [_rand((3, 4, 2), 0), _rand((4,), 1)]),
    ("spectral-norm", lambda w, u: F.spectral_norm(w, u, dim=1, itr=2),
     [_rand((3, 4, 2), 0), _rand((4,), 1)]),
    ("spectral-norm-output-u", lambda w, u: F.spectral_norm(w, u, test=True, output_u=True),
     [_rand((3, 4), 0), _rand((3,), 1)]),
]


@pytest.mark.parametrize("build,arrays", [c[1:] for c in OTHERS], ids=[c[0] for c in OTHERS])
def test_other_functions_on_the_device(build, arrays):
    _same_on_device(build, *arrays)


def _detections(seed):
    r = np.random.RandomState(seed)
    x = r.uniform(0, 1, (2, 12, 8)).astype(np.float32)
    x[..., 2:4] *= 0.5
    return x


def _boxes(seed):
    r = np.random.RandomState(seed)
    lo = r.uniform(0, 1, (2, 10, 2))
    return np.concatenate([lo, lo + r.uniform(0.1, 0.5, (2, 10, 2))], -1).astype(np.float32)


FORWARD_ONLY = [
    ("nms-detection2d", lambda x: F.nms_detection2d(x, 0.3, 0.3), [_detections(0)]),
    ("nms-detection2d-by-objectness", lambda x: F.nms_detection2d(x, 0.3, 0.3, False),
     [_detections(1)]),
    ("onnx-resize-nearest", lambda x: F.onnx_resize(x, scales=(1, 1, 2, 1.5)), [X]),
    ("onnx-resize-linear-align", lambda x: F.onnx_resize(
        x, sizes=(2, 4, 9, 4), mode="linear", coordinate_transformation_mode="align_corners"),
     [X]),
    ("onnx-resize-cubic-crop", lambda x: F.onnx_resize(
        x, roi=(0, 0, 0.1, 0.2, 1, 1, 0.9, 1.1), scales=(1, 1, 1.5, 2), mode="cubic",
        coordinate_transformation_mode="tf_crop_and_resize", exclude_outside=1,
        extrapolation_value=-1.0), [X]),
    ("onnx-non-max-suppression", lambda b, s: F.onnx_non_max_suppression(
        b, s, max_output_boxes_per_class=4, iou_threshold=0.2, score_threshold=0.1),
     [_boxes(0), np.random.RandomState(1).uniform(0, 1, (2, 3, 10)).astype(np.float32)]),
]


@pytest.mark.parametrize("build,arrays", [c[1:] for c in FORWARD_ONLY],
                         ids=[c[0] for c in FORWARD_ONLY])
def test_forward_only_functions_on_the_device(build, arrays):
    _same_on_device(_no_backward(build), *arrays, backward=False)


# -- quantization ------------------------------------------------------------------
def _fixed(v):
    v.need_grad = False
    return v


W = _rand((5, 4, 3, 3), 2)
W[0, 0, 0, :2] = 0  # weights of exactly 0 binarize to quantize_zero_to
WA = _rand((12, 3), 2)
QUANTIZED = [
    ("binary-connect-affine", lambda x, w, bw, b: F.binary_connect_affine(
        x, w, bw, b, quantize_zero_to=-1.0), [_rand((2, 3, 4), 0), WA, np.zeros_like(WA),
                                              _rand((3,), 3)]),
    ("binary-weight-convolution", lambda x, w, bw, a: F.binary_weight_convolution(
        x, w, bw, a, pad=(1, 1)), [X, W, np.zeros_like(W), np.zeros(5, np.float32)]),
    ("inq-convolution-largest-abs", lambda x, w, ind: F.inq_convolution(
        x, w, ind, inq_iterations=(0, 5)), [X, W, np.zeros(W.shape, np.int32)]),
    ("inq-affine-random", lambda x, w, ind: F.inq_affine(
        x, w, ind, inq_iterations=(0, 3), selection_algorithm="random", seed=7),
     [_rand((2, 12), 0), WA, np.zeros(WA.shape, np.int32)]),
    ("binary-sigmoid", F.binary_sigmoid, [X]),
    ("binary-tanh", F.binary_tanh, [X]),
    ("prune", lambda x: F.prune(x, 0.3), [X]),
    ("fixed-point", lambda x: F.fixed_point_quantize(x, n=4, delta=0.25), [X]),
    ("pow2", lambda x: F.pow2_quantize(x, sign=False, n=5, m=1), [X]),
    ("quantize-linear", lambda x, s, z: F.quantize_linear(x, s, z, "HALF_TO_EVEN"),
     [X * 40, np.full((1, 4, 1, 1), 0.5, np.float32), np.full((1, 4, 1, 1), 3.0, np.float32)]),
    ("dequantize-linear", F.dequantize_linear,
     [np.round(X * 40), np.full((1, 1, 7, 1), 0.25, np.float32),
      np.full((1, 1, 7, 1), -2.0, np.float32)]),
    ("min-max-learned", lambda x, a, b, lo, hi: F.min_max_quantize(x, a, b, _fixed(lo),
                                                                   _fixed(hi)),
     [X, np.full((1, 4, 1, 1), -1.0, np.float32),
      np.array([1.0, -0.995, 0.5, 2.0], np.float32).reshape(1, 4, 1, 1),  # one too narrow
      np.zeros((1, 4, 1, 1), np.float32), np.full((1, 4, 1, 1), 255.0, np.float32)]),
    ("min-max-ema", lambda x, a, b, lo, hi: F.min_max_quantize(
        x, _fixed(a), _fixed(b), _fixed(lo), _fixed(hi), x_min_max=True, ema=True),
     [X, np.full((1, 1, 1, 1), -1.0, np.float32), np.full((1, 1, 1, 1), 1.0, np.float32),
      np.zeros((1, 1, 1, 1), np.float32), np.full((1, 1, 1, 1), 15.0, np.float32)]),
]


@pytest.mark.parametrize("build,arrays", [c[1:] for c in QUANTIZED],
                         ids=[c[0] for c in QUANTIZED])
def test_quantization_on_the_device(build, arrays):
    _same_on_device(build, *arrays, rtol=1e-5)


def test_inq_forward_between_its_iterations_copies_nothing_to_the_host():
    """Once weights are fixed, each forward re-quantizes them to powers of two:
    the exponent range (from max |w|) stays on the device, as does the choice
    of which weights to overwrite."""
    x, w = _rand((2, 3), 0), _rand((3, 4), 1)
    ind = np.zeros(w.shape, np.int32)
    f = F.inq_affine(*[nn.Variable.from_numpy_array(a) for a in (x, w, ind)],
                     inq_iterations=(0, 10)).parent
    xs = [xp.asarray(a) for a in (x, w, ind)]
    f.forward(xp, *xs)  # iteration 0: half the weights get fixed (a sort, on the device)
    fixed = xs[2].get() == 1
    assert 0 < fixed.sum() < fixed.size
    with sim.count_transfers() as counts:
        for _ in range(3):
            f.forward(xp, *xs)
    assert counts == {"to_device": 0, "to_host": 0}
    q = xs[1].get()[fixed]
    assert np.all(np.exp2(np.round(np.log2(np.abs(q)))) == np.abs(q))  # powers of two


# -- synchronized batch normalization ----------------------------------------------
class _TwoIdenticalRanks:
    """A communicator of 2 ranks holding the same data: all_reduce doubles."""
    size = 2

    def all_reduce(self, data, division=False, inplace=True, group="world"):
        assert isinstance(data.data, np.ndarray)  # the message travels through the host
        data.data = data.data * 2


@pytest.mark.parametrize("output_stat", [False, True])
def test_sync_batch_normalization_on_the_device(output_stat):
    comm = _TwoIdenticalRanks()

    def build(x, beta, gamma, mean, var):
        mean.need_grad = var.need_grad = False
        return F.sync_batch_normalization(x, beta, gamma, mean, var, comm,
                                          output_stat=output_stat)
    _same_on_device(build, X, _rand((1, 4, 1, 1), 1), _rand((1, 4, 1, 1), 2),
                    np.zeros((1, 4, 1, 1), np.float32), np.ones((1, 4, 1, 1), np.float32))
