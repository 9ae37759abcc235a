"""Signal processing: fft / ifft against numpy.fft (NNabla 1.39 runs them only on
CUDA), stft / istft against a direct per-frame DFT reference and, where it is
installed, the real NNabla 1.39 (its CPU runs both); backward vs numeric
gradients, and the as_*_backward flags against the adjoints they stand for."""

import numpy as np
import pytest

import nablite as nn
import nablite.functions as F
from gradcheck import check_function, randn
from nnabla_parity import check_parity, nnabla_output


def _complex(x):
    return x[..., 0] + 1j * x[..., 1]


def _pair(z):
    return np.stack([z.real, z.imag], axis=-1)


def ref_fft(x, signal_ndim, normalized=False):
    axes = tuple(range(-signal_ndim, 0))
    return _pair(np.fft.fftn(_complex(x), axes=axes, norm="ortho" if normalized else None))


def ref_ifft(x, signal_ndim, normalized=False):
    axes = tuple(range(-signal_ndim, 0))
    return _pair(np.fft.ifftn(_complex(x), axes=axes, norm="ortho" if normalized else None))


FFT_CASES = [((6, 2), 1), ((3, 5, 2), 1), ((4, 3, 2), 2), ((2, 3, 4, 2), 2),
             ((2, 3, 2, 2), 3), ((1, 2, 3, 4, 2), 3)]


@pytest.mark.parametrize("shape,signal_ndim", FFT_CASES)
@pytest.mark.parametrize("normalized", [False, True])
def test_fft_forward_backward(shape, signal_ndim, normalized):
    check_function(F.fft, [randn(*shape)], ref=ref_fft,
                   kwargs=dict(signal_ndim=signal_ndim, normalized=normalized))


@pytest.mark.parametrize("shape,signal_ndim", FFT_CASES)
@pytest.mark.parametrize("normalized", [False, True])
def test_ifft_forward_backward(shape, signal_ndim, normalized):
    check_function(F.ifft, [randn(*shape)], ref=ref_ifft,
                   kwargs=dict(signal_ndim=signal_ndim, normalized=normalized))


@pytest.mark.parametrize("normalized", [False, True])
def test_fft_scaling_and_round_trip(normalized):
    x = randn(2, 4, 6, 2)
    y = F.fft(nn.Variable.from_numpy_array(x), 2, normalized=normalized)
    z = F.ifft(y, 2, normalized=normalized)
    z.forward()
    np.testing.assert_allclose(z.d, x, atol=1e-12)
    # Parseval: the unitary transform keeps the norm; the plain one scales it by n.
    scale = 1.0 if normalized else 24.0
    np.testing.assert_allclose((y.d ** 2).sum(), scale * (x ** 2).sum())


def test_fft_float32_stays_float32():
    y = F.fft(nn.Variable.from_numpy_array(randn(3, 4, 2).astype(np.float32)), 1)
    y.forward()
    assert y.d.dtype == np.float32
    np.testing.assert_allclose(y.d, ref_fft(randn(3, 4, 2), 1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("f", [F.fft, F.ifft])
def test_fft_bad_inputs(f):
    with pytest.raises(ValueError, match="signal_ndim=4 must be 1, 2 or 3"):
        f(nn.Variable((2, 3, 4, 5, 2)), 4)
    with pytest.raises(ValueError, match="last dimension of size 2"):
        f(nn.Variable((4, 3)), 1)
    with pytest.raises(ValueError, match="at least signal_ndim \\+ 1 = 3"):
        f(nn.Variable((4, 2)), 2)


# ---------------------------------------------------------------------------
# STFT / ISTFT

def ref_window(window_type, window_size, fft_size):
    if window_type in ("rectangular", None):
        w = np.ones(window_size)
    else:  # NNabla's periodic windows: the symmetric (n + 1)-point one without its last point
        w = {"hanning": np.hanning, "hamming": np.hamming}[window_type](window_size + 1)[:-1]
    left = (fft_size - window_size) // 2
    return np.concatenate([np.zeros(left), w, np.zeros(fft_size - window_size - left)])


def _dft_rows(fft_size):
    k = np.arange(fft_size // 2 + 1)[:, None]
    n = np.arange(fft_size)[None, :]
    return 2 * np.pi * k * n / fft_size


def ref_stft(x, window_size, stride, fft_size, window_type="hanning", center=True,
             pad_mode="reflect", as_istft_backward=False):
    assert not as_istft_backward
    if center:
        x = np.pad(x, ((0, 0), (fft_size // 2, fft_size // 2)), mode=pad_mode)
    frames = (x.shape[1] - fft_size) // stride + 1
    idx = np.arange(frames)[:, None] * stride + np.arange(fft_size)[None, :]
    f = x[:, idx] * ref_window(window_type, window_size, fft_size)  # (B, T, N)
    phase = _dft_rows(fft_size)
    return (np.einsum("btn,kn->bkt", f, np.cos(phase)),
            np.einsum("btn,kn->bkt", f, -np.sin(phase)))


def ref_istft(y_r, y_i, window_size, stride, fft_size, window_type="hanning", center=True,
              pad_mode="constant", as_stft_backward=False):
    assert not as_stft_backward
    n = fft_size
    k = np.arange(n // 2 + 1)
    alpha = np.where((k == 0) | (k == n // 2), 1.0, 2.0) / n
    phase = _dft_rows(n)
    w = ref_window(window_type, window_size, n)
    frames = (np.einsum("bkt,kn->btn", y_r * alpha[:, None], np.cos(phase))
              - np.einsum("bkt,kn->btn", y_i * alpha[:, None], np.sin(phase))) * w
    b, t = y_r.shape[0], y_r.shape[2]
    length = (t - 1) * stride + n
    x, norm = np.zeros((b, length)), np.zeros(length)
    for i in range(t):
        x[:, i * stride:i * stride + n] += frames[:, i]
        norm[i * stride:i * stride + n] += w ** 2
    p = n // 2 if center else 0
    return x[:, p:length - p] / norm[p:length - p]


STFT_CASES = [
    ((2, 16), dict(window_size=8, stride=4, fft_size=8)),
    ((2, 16), dict(window_size=6, stride=4, fft_size=9, window_type="hamming")),
    ((1, 17), dict(window_size=5, stride=3, fft_size=8, window_type="rectangular")),
    ((2, 15), dict(window_size=7, stride=3, fft_size=9, center=False)),
    ((3, 12), dict(window_size=7, stride=2, fft_size=10, pad_mode="constant")),
    ((2, 3), dict(window_size=8, stride=4, fft_size=8)),  # reflection longer than x
    ((2, 1), dict(window_size=4, stride=2, fft_size=4, window_type="rectangular")),
    ((2, 10), dict(window_size=4, stride=8, fft_size=6, window_type=None)),  # gaps
]


@pytest.mark.parametrize("shape,kwargs", STFT_CASES)
def test_stft_forward_backward(shape, kwargs):
    ref = dict(kwargs, window_type=kwargs.get("window_type", "hanning"))
    check_function(F.stft, [randn(*shape)], kwargs=kwargs,
                   ref=lambda x, **_: ref_stft(x, **ref))


def _stft_output(shape, kwargs, seed=1):
    yr, yi = ref_stft(randn(*shape, seed=seed), **dict(kwargs, window_type=kwargs.get(
        "window_type", "hanning")))
    return yr, yi


ISTFT_CASES = [
    ((2, 16), dict(window_size=8, stride=4, fft_size=8)),
    ((2, 16), dict(window_size=8, stride=2, fft_size=8, window_type="hamming")),
    ((1, 18), dict(window_size=6, stride=3, fft_size=9)),  # odd fft_size: last bin once
    ((2, 12), dict(window_size=6, stride=2, fft_size=6, window_type="rectangular",
                   center=False)),
    ((2, 14), dict(window_size=8, stride=4, fft_size=8, window_type="hamming", center=False)),
]


@pytest.mark.parametrize("shape,kwargs", ISTFT_CASES)
def test_istft_forward_backward(shape, kwargs):
    kwargs = dict(kwargs, pad_mode="constant")
    yr, yi = _stft_output(shape, kwargs)
    check_function(F.istft, [yr, yi], kwargs=kwargs, ref=ref_istft)
    # Arbitrary spectra (not the stft of any signal) too.
    check_function(F.istft, [randn(*yr.shape, seed=2), randn(*yr.shape, seed=3)],
                   kwargs=kwargs, ref=ref_istft)


@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
@pytest.mark.parametrize("window_type", ["hanning", "hamming", "rectangular"])
def test_istft_inverts_stft(pad_mode, window_type):
    x = nn.Variable.from_numpy_array(randn(2, 24))
    args = (8, 2, 8, window_type)
    yr, yi = F.stft(x, *args, center=True, pad_mode=pad_mode)
    z = F.istft(yr, yi, *args, center=True, pad_mode="constant")
    z.forward()
    assert z.shape == x.shape
    np.testing.assert_allclose(z.d, x.d, atol=1e-12)


def _dot(a, b):
    return sum(float((u * v).sum()) for u, v in zip(a, b))


# NNabla's istft needs stride to divide fft_size even with as_stft_backward; the
# (2, 1) and (2, 3) signals give a single frame, which istft turns into 0 samples.
ADJOINT_CASES = [(shape, kwargs) for shape, kwargs in STFT_CASES
                 if kwargs["fft_size"] % kwargs["stride"] == 0 and shape[1] > 3] + [
    ((2, 17), dict(window_size=6, stride=3, fft_size=9, window_type="hamming")),
    ((2, 18), dict(window_size=8, stride=4, fft_size=8, center=False)),
]


@pytest.mark.parametrize("shape,kwargs", ADJOINT_CASES)
def test_istft_as_stft_backward_is_the_gradient_of_stft(shape, kwargs):
    x = nn.Variable.from_numpy_array(randn(*shape), need_grad=True)
    yr, yi = F.stft(x, **kwargs)
    gr, gi = randn(*yr.shape, seed=4), randn(*yi.shape, seed=5)
    x.g = 0
    F.sink(yr, yi).forward()
    yr.backward(gr)
    yi.backward(gi)
    args = {k: v for k, v in kwargs.items()}
    z = F.istft(nn.Variable.from_numpy_array(gr), nn.Variable.from_numpy_array(gi),
                as_stft_backward=True, **args)
    z.forward()
    if z.shape == x.shape:
        np.testing.assert_allclose(z.d, x.g, atol=1e-10)
    # In any case it is the adjoint: <stft(u), (gr, gi)> == <u, istft_as_backward(gr, gi)>.
    u = randn(*((shape[0], z.shape[1])), seed=6)
    su = ref_stft(u, **dict(kwargs, window_type=kwargs.get("window_type", "hanning")))
    np.testing.assert_allclose(_dot(su, (gr, gi)), _dot([u], [z.d]), rtol=1e-10)
    check_function(F.istft, [gr, gi], kwargs=dict(args, as_stft_backward=True))


@pytest.mark.parametrize("shape,kwargs", ISTFT_CASES)
def test_stft_as_istft_backward_is_the_gradient_of_istft(shape, kwargs):
    kwargs = dict(kwargs, pad_mode="constant")
    yr0, yi0 = _stft_output(shape, kwargs)
    yr = nn.Variable.from_numpy_array(yr0, need_grad=True)
    yi = nn.Variable.from_numpy_array(yi0, need_grad=True)
    x = F.istft(yr, yi, **kwargs)
    x.forward()
    g = randn(*x.shape, seed=7)
    yr.g, yi.g = 0, 0
    x.backward(g)
    ar, ai = F.stft(nn.Variable.from_numpy_array(g), as_istft_backward=True, **kwargs)
    F.sink(ar, ai).forward()
    np.testing.assert_allclose(ar.d, yr.g, atol=1e-10)
    np.testing.assert_allclose(ai.d, yi.g, atol=1e-10)
    check_function(F.stft, [g], kwargs=dict(kwargs, as_istft_backward=True))


def test_stft_defaults_and_float32():
    x = randn(2, 32).astype(np.float32)
    yr, yi = F.stft(nn.Variable.from_numpy_array(x), 16, 4, 16)
    F.sink(yr, yi).forward()
    want = ref_stft(x.astype(np.float64), 16, 4, 16)
    assert yr.shape == (2, 9, 9) and yr.d.dtype == np.float32
    np.testing.assert_allclose(yr.d, want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(yi.d, want[1], rtol=1e-5, atol=1e-5)


def test_stft_bad_inputs():
    x = nn.Variable((2, 16))
    with pytest.raises(ValueError, match="window_type='foo' must be one of"):
        F.stft(x, 8, 4, 8, window_type="foo")
    with pytest.raises(ValueError, match="pad_mode='edge' must be one of"):
        F.stft(x, 8, 4, 8, pad_mode="edge")
    with pytest.raises(ValueError, match="fft_size=6 must be at least window_size=8"):
        F.stft(x, 8, 4, 6)
    with pytest.raises(ValueError, match="stride=0 must be a positive integer"):
        F.stft(x, 8, 0, 8)
    with pytest.raises(ValueError, match="must be two-dimensional"):
        F.stft(nn.Variable((2, 3, 16)), 8, 4, 8)
    with pytest.raises(ValueError, match="fewer than fft_size=8"):
        F.stft(nn.Variable((2, 7)), 8, 4, 8, center=False)
    with pytest.raises(ValueError, match="pad_mode='reflect' must be 'constant' with "
                                         "as_istft_backward=True"):
        F.stft(x, 8, 4, 8, as_istft_backward=True)
    with pytest.raises(ValueError, match="NOLA"):
        F.stft(x, 8, 4, 8, center=False, pad_mode="constant", as_istft_backward=True)


def test_istft_bad_inputs():
    y = nn.Variable((2, 5, 5))
    with pytest.raises(ValueError, match="pad_mode='reflect' must be 'constant' unless "
                                         "as_stft_backward=True"):
        F.istft(y, y, 8, 4, 8)  # NNabla's default pad_mode is rejected there as well
    with pytest.raises(ValueError, match="NOLA"):
        F.istft(y, y, 8, 4, 8, center=False, pad_mode="constant")
    with pytest.raises(ValueError, match="fft_size=9 must be a multiple of stride=4"):
        F.istft(y, y, 8, 4, 9, pad_mode="constant")
    with pytest.raises(ValueError, match="has 4 frequency bins, but fft_size=8 gives 5"):
        F.istft(nn.Variable((2, 4, 5)), nn.Variable((2, 4, 5)), 8, 4, 8, pad_mode="constant")
    with pytest.raises(ValueError, match="must have the same shape"):
        F.istft(y, nn.Variable((2, 5, 4)), 8, 4, 8, pad_mode="constant")
    with pytest.raises(ValueError, match="window_type='foo' must be one of"):
        F.istft(y, y, 8, 4, 8, window_type="foo", pad_mode="constant")


# ---------------------------------------------------------------------------
# Parity with NNabla 1.39 (its CPU runs stft and istft, not fft / ifft)

_STFT_SCRIPT = r"""
import json, sys, numpy as np
import nnabla as nn, nnabla.functions as F
out = []
for x, kwargs, gr, gi in json.loads(sys.stdin.read()):
    v = nn.Variable.from_numpy_array(np.array(x, dtype=np.float32), need_grad=True)
    yr, yi = F.stft(v, **kwargs)
    F.sink(yr, yi).forward()
    v.g = 0
    yr.backward(np.array(gr, dtype=np.float32))
    yi.backward(np.array(gi, dtype=np.float32))
    out.append([yr.d.tolist(), yi.d.tolist(), v.g.tolist()])
print(json.dumps(out))
"""


def test_stft_parity_with_real_nnabla():
    cases = list(STFT_CASES)
    cases += [((2, 16), dict(window_size=8, stride=4, fft_size=8, pad_mode="constant",
                             as_istft_backward=True)),
              ((2, 17), dict(window_size=6, stride=3, fft_size=9, pad_mode="constant",
                             window_type="hamming", as_istft_backward=True))]
    payload, mine = [], []
    for shape, kwargs in cases:
        x = randn(*shape).astype(np.float32)
        v = nn.Variable.from_numpy_array(x, need_grad=True)
        yr, yi = F.stft(v, **kwargs)
        F.sink(yr, yi).forward()
        gr = randn(*yr.shape, seed=1).astype(np.float32)
        gi = randn(*yi.shape, seed=2).astype(np.float32)
        v.g = 0
        yr.backward(gr)
        yi.backward(gi)
        mine.append((yr.d.copy(), yi.d.copy(), v.g.copy()))
        payload.append((x.tolist(), kwargs, gr.tolist(), gi.tolist()))
    results = nnabla_output(_STFT_SCRIPT, payload)
    for (shape, kwargs), got, want in zip(cases, mine, results):
        for name, a, b in zip(("y_r", "y_i", "grad x"), got, want):
            np.testing.assert_allclose(a, np.array(b, dtype=np.float32), rtol=1e-4,
                                       atol=1e-5, err_msg=f"{name} of stft{shape} {kwargs}")


def test_istft_parity_with_real_nnabla():
    cases = []
    for shape, kwargs in ISTFT_CASES:
        yr, yi = _stft_output(shape, kwargs)
        cases.append(("istft", [yr, yi], dict(kwargs, pad_mode="constant"), [0, 1]))
        cases.append(("istft", [randn(*yr.shape, seed=2), randn(*yr.shape, seed=3)],
                      dict(kwargs, pad_mode="constant"), [0, 1]))
    for shape, kwargs in ADJOINT_CASES:
        yr, yi = _stft_output(shape, kwargs)
        cases.append(("istft", [yr, yi], dict(kwargs, as_stft_backward=True), [0, 1]))
    assert check_parity(cases, rtol=1e-4, atol=1e-5, grad_rtol=1e-4, grad_atol=1e-5) == len(cases)


@pytest.mark.parametrize("f,shape,kwargs", [
    (F.fft, (2, 4, 2), dict(signal_ndim=1)),
    (F.ifft, (3, 4, 2), dict(signal_ndim=2, normalized=True)),
    (F.stft, (1, 32), dict(window_size=8, stride=4, fft_size=8, window_type="hamming")),
    (F.istft, None, dict(window_size=8, stride=4, fft_size=8, window_type="hanning",
                         center=True, pad_mode="constant")),
])
def test_second_order_through_the_transforms(f, shape, kwargs):
    """All four are linear, so nn.grad differentiates their gradients again
    (they were first order only)."""
    from gradcheck import check_double_backward
    if f is F.istft:  # a spectrogram of 32 samples: 9 frames of 5 bins
        inputs = [randn(1, 5, 9, seed=1), randn(1, 5, 9, seed=2)]
        g = lambda yr, yi: F.istft(yr, yi, **kwargs) ** 2  # noqa: E731
    else:
        inputs = [randn(*shape, seed=1)]

        def g(x):
            y = f(x, **kwargs)
            return y[0] ** 2 + y[1] ** 2 if isinstance(y, tuple) else y ** 2
    check_double_backward(g, inputs)
