"""Signal processing: complex FFT / inverse FFT and the short-time Fourier transform pair.

All four functions are linear, so each backward is the adjoint transform and no
backward reads input or output values.

FFT / IFFT keep complex numbers as a trailing axis of size 2 (real, imaginary).
NNabla 1.39 runs them only on CUDA (cuFFT); the semantics here follow that
implementation: fft is unscaled, ifft divides by n, and ``normalized=True``
scales both by 1/sqrt(n), with n the number of points of one signal.

STFT / ISTFT follow NNabla 1.39's CPU kernels. For a signal x of shape
(B, L), fft size N, hop s and window w (the window_size-point periodic window,
zero-padded on both sides to N points):
  stft:   x is padded by N // 2 on both sides (center=True, 'reflect' or zeros),
          cut into T frames f_t = x[t s : t s + N], and y = rfft(w * f_t),
          returned as (y_r, y_i), each (B, N // 2 + 1, T).
  istft:  each frame is rebuilt as w * sum_k a_k Re(Y_k e^{2 pi i k n / N}) with
          a_k = 1/N for k in {0, N // 2} and 2/N otherwise (so with odd N the
          last bin counts once, as in NNabla), overlap-added, divided by the
          overlap-add of w^2 and, with center=True, cut by N // 2 on both sides.
``stft(..., as_istft_backward=True)`` computes the gradient of istft (its
adjoint) and ``istft(..., as_stft_backward=True)`` the gradient of stft, which
is what NNabla's nn.grad builds double backward from; here they are also the
backward passes of the ordinary transforms.
"""
import numpy as np

from ..backend import scatter_add
from .base import Function, keep_args, node_constant, require, named

__all__ = ["fft", "ifft", "stft", "istft"]


# ---------------------------------------------------------------------------
# FFT / IFFT

class _ComplexFFT(Function):
    half_kernel = False  # NNabla computes it in float32 in 'half' contexts
    linear = True  # nn.grad: the adjoint (backward) is again linear, every order
    grad_reads_inputs = False
    grad_reads_outputs = False

    def __init__(self, signal_ndim, normalized=False):
        keep_args(self, locals())

    def setup(self, x):
        nd = self.signal_ndim
        require(self, isinstance(nd, (int, np.integer)) and nd in (1, 2, 3),
                f"signal_ndim={nd!r} must be 1, 2 or 3")
        require(self, len(x) >= nd + 1 and x[-1] == 2,
                f"x {x} must have at least signal_ndim + 1 = {nd + 1} dimensions and a "
                "last dimension of size 2 (real, imaginary)")
        self._axes = tuple(range(-nd, 0))  # of the complex array, without the (re, im) axis
        points = x[-nd - 1:-1]
        require(self, 0 not in points,
                f"x {x} has {tuple(points)} points along its signal_ndim={nd} signal axes; "
                "expected at least 1 point on each")
        return tuple(x)

    def _transform(self, xp, x, inverse, norm):
        """(Inverse) DFT over the signal axes with numpy's ``norm`` naming:
        "backward" scales only the inverse by 1/n, "forward" only the forward one."""
        z = x[..., 0] + 1j * x[..., 1]
        f = xp.fft.ifftn if inverse else xp.fft.fftn
        y = f(z, axes=self._axes, norm="ortho" if self.normalized else norm)
        return xp.stack([y.real, y.imag], axis=-1).astype(x.dtype, copy=False)


class FFT(_ComplexFFT):
    """Complex-to-complex DFT over the last signal_ndim axes before the (re, im) axis."""

    def forward(self, xp, x):
        return self._transform(xp, x, inverse=False, norm="backward")

    def backward(self, xp, xs, ys, gys):
        # The adjoint of the unscaled DFT is the unscaled inverse DFT.
        return (self._transform(xp, gys[0], inverse=True, norm="forward"),)


class IFFT(_ComplexFFT):
    """Complex-to-complex inverse DFT (divided by n, or sqrt(n) when normalized)."""

    def forward(self, xp, x):
        return self._transform(xp, x, inverse=True, norm="backward")

    def backward(self, xp, xs, ys, gys):
        # The adjoint of (1/n) * inverse DFT is (1/n) * DFT.
        return (self._transform(xp, gys[0], inverse=False, norm="forward"),)


@named
def fft(x, signal_ndim, normalized=False):
    """Complex-to-complex discrete Fourier transform.

    .. math::
        Y_{k} = \\sum_{n} x_{n} \\exp(-2 \\pi j \\sum_i k_i n_i / N_i)

    over the last ``signal_ndim`` dimensions before the final (real, imaginary) axis.

    Args:
        x (~nnabla.Variable): Complex input, ``x[..., 0]`` real and ``x[..., 1]``
            imaginary parts, with at least ``signal_ndim + 1`` dimensions.
        signal_ndim (int): Number of signal dimensions, 1, 2 or 3.
        normalized (bool): Multiply by :math:`1/\\sqrt{\\prod_i N_i}` (unitary DFT).

    Returns:
        ~nnabla.Variable: The transformed signal, same shape as ``x``.
    """
    return FFT(signal_ndim, normalized)(x)


@named
def ifft(x, signal_ndim, normalized=False):
    """Complex-to-complex inverse discrete Fourier transform.

    .. math::
        X_{n} = \\frac{1}{\\prod_i N_i} \\sum_{k} Y_{k} \\exp(2 \\pi j \\sum_i k_i n_i / N_i)

    Args:
        x (~nnabla.Variable): Complex input with (real, imaginary) in the last axis.
        signal_ndim (int): Number of signal dimensions, 1, 2 or 3.
        normalized (bool): Use :math:`1/\\sqrt{\\prod_i N_i}` instead of
            :math:`1/\\prod_i N_i` (unitary inverse).

    Returns:
        ~nnabla.Variable: The inverse transform, same shape as ``x``.
    """
    return IFFT(signal_ndim, normalized)(x)


# ---------------------------------------------------------------------------
# STFT / ISTFT

_WINDOWS = ("hanning", "hamming", "rectangular")
_PAD_MODES = ("constant", "reflect")


def _window(window_type, window_size, fft_size):
    """The periodic analysis window, zero-padded (left gets the smaller half) to fft_size."""
    i = np.arange(window_size)
    if window_type == "hanning":
        w = 0.5 - 0.5 * np.cos(2 * np.pi * i / window_size)
    elif window_type == "hamming":
        w = 0.54 - 0.46 * np.cos(2 * np.pi * i / window_size)
    else:
        w = np.ones(window_size)
    left = (fft_size - window_size) // 2
    return np.pad(w, (left, fft_size - window_size - left))


def _frames(xp, z, n, stride, count):
    """(B, P) -> (B, count, n) strided view of the frames z[:, t * stride : t * stride + n]."""
    view = xp.lib.stride_tricks.sliding_window_view(z, n, axis=-1)
    return view[:, ::stride][:, :count]


def _overlap_add(xp, frames, stride, length):
    """Adjoint of ``_frames``: (B, T, n) frames summed into a (B, length) signal.
    Loops over the ceil(n / stride) chunks of a frame, each added for all frames at once."""
    b, t, n = frames.shape
    chunks = -(-n // stride)
    out = xp.zeros((b, max(length, (t + chunks) * stride)), frames.dtype)
    for j in range(chunks):
        width = min(stride, n - j * stride)
        dst = out[:, j * stride:j * stride + t * stride].reshape(b, t, stride)
        dst[:, :, :width] += frames[:, :, j * stride:j * stride + width]
    return out[:, :length]


class _STFTBase(Function):
    """Geometry, validation and the four linear maps shared by STFT and ISTFT.

    Names: N = fft_size, p = N // 2 when centred (else 0), T frames, and
    ``_full`` = (T - 1) * stride + N, the length an overlap-add of T frames covers.
    """
    linear = True  # nn.grad: the adjoint (backward) is again linear, every order
    grad_reads_inputs = False
    grad_reads_outputs = False

    def __init__(self, window_size, stride, fft_size, window_type, center, pad_mode, flag):
        keep_args(self, locals())
        # the last argument's NNabla name depends on the subclass
        setattr(self, self._flag_name, vars(self).pop("flag"))

    def _check_args(self):
        ws, st, n = self.window_size, self.stride, self.fft_size
        for name, v in (("window_size", ws), ("stride", st), ("fft_size", n)):
            require(self, isinstance(v, (int, np.integer)) and v >= 1,
                    f"{name}={v!r} must be a positive integer")
        require(self, n >= ws, f"fft_size={n} must be at least window_size={ws}")
        require(self, self.window_type in _WINDOWS,
                f"window_type={self.window_type!r} must be one of {', '.join(_WINDOWS)}")
        require(self, self.pad_mode in _PAD_MODES,
                f"pad_mode={self.pad_mode!r} must be one of {', '.join(_PAD_MODES)}")
        self._n, self._s = int(n), int(st)
        self._p = n // 2 if self.center else 0
        self._bins = n // 2 + 1
        w = _window(self.window_type, int(ws), int(n))
        self._w = w
        self._constants = {}  # these host arrays on forward's module (_on)
        # irfft(H, n)[m] = (1/n) sum_k c'_k Re(H_k e^{2 pi i k m / n}) with c' = 1 at
        # DC (and Nyquist for even n), 2 elsewhere; these factors undo that.
        plain = np.full(self._bins, n / 2.0)
        plain[0] = n
        if n % 2 == 0:
            plain[-1] = n
        alpha = np.full(self._bins, 2.0 / n)
        alpha[0] = alpha[n // 2] = 1.0 / n
        self._plain = plain            # sum_k Re(G_k e^{..}), the adjoint of rfft
        self._synth = plain * alpha    # sum_k a_k Re(Y_k e^{..}), the istft frame
        self._alpha = alpha

    def _set_frames(self, frames):
        self._t = frames
        self._full = (frames - 1) * self._s + self._n

    def _check_stride(self):
        require(self, self._n % self._s == 0,
                f"fft_size={self._n} must be a multiple of stride={self._s}")

    def _check_nola(self, signal_length):
        """Set ``_rinv`` (1 / overlap-add of w^2 where istft divides, 0 elsewhere);
        the divisor must not vanish there (NNabla's NOLA condition)."""
        self._check_stride()
        inv = _overlap_add(np, np.broadcast_to(self._w ** 2, (1, self._t, self._n)),
                           self._s, self._full)[0]
        lo, hi = self._p, min(self._full, signal_length + self._p)
        bad = np.flatnonzero(inv[lo:hi] < 1e-11)
        require(self, bad.size == 0,
                f"the overlap-add of the squared {self.window_type} window is zero at "
                f"sample {lo + bad[0] if bad.size else 0} (the NOLA (nonzero overlap-add) "
                f"condition is not met for "
                f"window_size={self.window_size}, stride={self._s}, fft_size={self._n}, "
                f"center={self.center}); use a smaller stride or another window")
        rinv = np.zeros(self._full)
        rinv[lo:hi] = 1.0 / inv[lo:hi]
        self._rinv = rinv

    def _reflect_index(self, length):
        return np.pad(np.arange(length), self._p, mode="reflect")

    def _on(self, xp, name, dtype=None):
        """The host array ``self.<name>`` (made at setup) as an array of ``xp`` (and
        ``dtype``), moved once per node, module and dtype: none per forward."""
        return node_constant(self, xp, (name, dtype),
                             lambda: xp.asarray(getattr(self, name), dtype))

    # -- padding of the signal and its adjoint --------------------------------
    def _pad(self, xp, x):
        if self._p == 0:
            return x
        if self.pad_mode == "reflect":
            n = x.shape[1]
            return x[:, node_constant(self, xp, ("reflect", n),
                                      lambda: xp.asarray(self._reflect_index(n)))]
        return xp.pad(x, ((0, 0), (self._p, self._p)))

    def _unpad(self, xp, g, length):
        p = self._p
        if p == 0:
            return g[:, :length]
        out = g[:, p:p + length].copy()
        if self.pad_mode == "reflect":
            src, edges = node_constant(self, xp, ("unpad", length), lambda: [
                xp.asarray(a) for a in self._reflect_edges(length)])
            scatter_add(xp, out, (slice(None), src), g[:, edges])
        return out

    def _reflect_edges(self, length):
        """(where each padded sample came from, the padded samples)."""
        p = self._p
        edges = np.r_[0:p, p + length:length + 2 * p]
        return self._reflect_index(length)[edges], edges

    # -- the DFT parts ---------------------------------------------------------
    def _analysis(self, xp, z, weights=None):
        """Windowed rfft of every frame of z: (B, P) -> (y_r, y_i), each (B, bins, T);
        ``weights`` names the host array of per-bin factors, if any."""
        w = self._on(xp, "_w", z.dtype)
        y = xp.fft.rfft(_frames(xp, z, self._n, self._s, self._t) * w, axis=-1)
        if weights is not None:
            y = y * self._on(xp, weights)
        y = y.transpose(0, 2, 1)
        return y.real.astype(z.dtype), y.imag.astype(z.dtype)

    def _synthesis(self, xp, yr, yi, weights):
        """sum_k weights_k Re(Y_k e^{2 pi i k n / N}) per frame, windowed and
        overlap-added: (B, bins, T) pair -> (B, _full); ``weights`` names the host array."""
        y = (yr + 1j * yi).transpose(0, 2, 1) * self._on(xp, weights)
        f = xp.fft.irfft(y, n=self._n, axis=-1) * self._on(xp, "_w")
        return _overlap_add(xp, f.astype(yr.dtype, copy=False), self._s, self._full)

    # -- the two transforms and their adjoints -----------------------------------
    def _stft(self, xp, x):
        return self._analysis(xp, self._pad(xp, x))

    def _stft_adjoint(self, xp, gr, gi, length):
        g = self._synthesis(xp, gr, gi, "_plain")
        if g.shape[1] < length + 2 * self._p:  # samples past the last frame get none
            g = xp.pad(g, ((0, 0), (0, length + 2 * self._p - g.shape[1])))
        return self._unpad(xp, g, length)

    def _istft_full(self, xp, yr, yi):
        """istft before the centring cut: (B, _full)."""
        return self._synthesis(xp, yr, yi, "_synth") * self._on(xp, "_rinv", yr.dtype)

    def _istft_adjoint(self, xp, g):
        z = xp.zeros((g.shape[0], self._full), g.dtype)
        m = min(g.shape[1], self._full - self._p)
        z[:, self._p:self._p + m] = g[:, :m]
        return self._analysis(xp, z * self._on(xp, "_rinv", g.dtype), "_alpha")


class STFT(_STFTBase):
    """Short-time Fourier transform of a (B, L) signal into (y_r, y_i), each (B, N//2+1, T)."""
    _flag_name = "as_istft_backward"

    def setup(self, x):
        self._check_args()
        require(self, len(x) == 2, f"x {x} must be two-dimensional (batch_size, sample_size)")
        require(self, x[1] >= 1, f"x {x} has no samples")
        self._length = x[1]
        padded = x[1] + 2 * self._p
        require(self, padded >= self._n,
                f"x {x} has {x[1]} samples, fewer than fft_size={self._n} "
                f"(center={self.center})")
        self._set_frames((padded - self._n) // self._s + 1)
        if self.as_istft_backward:
            require(self, self.pad_mode == "constant",
                    f"pad_mode={self.pad_mode!r} must be 'constant' with "
                    "as_istft_backward=True (istft drops the padded samples instead of "
                    "folding them back)")
            self._check_nola(x[1])
        shape = (x[0], self._bins, self._t)
        return [shape, shape]

    def forward(self, xp, x):
        if self.as_istft_backward:
            return list(self._istft_adjoint(xp, x))
        return list(self._stft(xp, x))

    def backward(self, xp, xs, ys, gys):
        gr, gi = gys
        if self.as_istft_backward:
            g = self._istft_full(xp, gr, gi)
            out = xp.zeros((gr.shape[0], self._length), gr.dtype)
            m = min(self._length, self._full - self._p)
            out[:, :m] = g[:, self._p:self._p + m]
            return (out,)
        return (self._stft_adjoint(xp, gr, gi, self._length),)


class ISTFT(_STFTBase):
    """Inverse short-time Fourier transform of (y_r, y_i), each (B, N//2+1, T), into (B, L)."""
    _flag_name = "as_stft_backward"

    def setup(self, yr, yi):
        self._check_args()
        self._check_stride()  # NNabla asks this of as_stft_backward=True as well
        require(self, len(yr) == 3 and tuple(yr) == tuple(yi),
                f"y_r {yr} and y_i {yi} must have the same shape "
                "(batch_size, fft_size // 2 + 1, frames)")
        require(self, yr[1] == self._bins,
                f"y_r {yr} has {yr[1]} frequency bins, but fft_size={self._n} gives "
                f"{self._bins}")
        require(self, yr[2] >= 1, f"y_r {yr} has no frames")
        self._set_frames(yr[2])
        self._length = self._full - 2 * self._p
        if self.as_stft_backward:  # the adjoint of stft: no division, no NOLA check
            require(self, self._length >= 1 or self._p == 0 or self.pad_mode == "constant",
                    f"y_r {yr} gives no samples to fold the reflect padding onto")
        else:
            require(self, self.pad_mode == "constant",
                    f"pad_mode={self.pad_mode!r} must be 'constant' unless "
                    "as_stft_backward=True (ordinary istft never pads, and NNabla "
                    "rejects any other value)")
            self._check_nola(self._length)
        return (yr[0], self._length)

    def forward(self, xp, yr, yi):
        if self.as_stft_backward:
            return self._stft_adjoint(xp, yr, yi, self._length)
        return self._istft_full(xp, yr, yi)[:, self._p:self._full - self._p]

    def backward(self, xp, xs, ys, gys):
        g = gys[0]
        if self.as_stft_backward:
            gr, gi = self._stft(xp, g)
        else:
            gr, gi = self._istft_adjoint(xp, g)
        return (gr if self.need[0] else None, gi if self.need[1] else None)


@named
def stft(x, window_size, stride, fft_size, window_type='hanning', center=True,
         pad_mode='reflect', as_istft_backward=False):
    """Short-time Fourier transform.

    Args:
        x (~nnabla.Variable): Time-domain signal of shape ``(batch_size, sample_size)``.
        window_size (int): Length of the analysis window.
        stride (int): Hop between successive frames.
        fft_size (int): FFT length (at least ``window_size``; the window is
            zero-padded to it); the output has ``fft_size // 2 + 1`` bins.
        window_type (str): ``'hanning'``, ``'hamming'`` or ``'rectangular'``
            (``None`` means rectangular).
        center (bool): Pad the signal by ``fft_size // 2`` on both sides so that
            frame t is centred at sample ``t * stride``.
        pad_mode (str): ``'reflect'`` or ``'constant'`` (zeros), used when ``center``.
        as_istft_backward (bool): Compute instead the gradient of :func:`istft`
            with these arguments, taking ``x`` as the gradient of its output
            (requires ``pad_mode='constant'``).

    Returns:
        (~nnabla.Variable, ~nnabla.Variable): Real and imaginary parts, each of
        shape ``(batch_size, fft_size // 2 + 1, frames)``.
    """
    if window_type is None:
        window_type = "rectangular"
    return STFT(window_size, stride, fft_size, window_type, center, pad_mode,
                as_istft_backward)(x)


@named
def istft(y_r, y_i, window_size, stride, fft_size, window_type='hanning', center=True,
          pad_mode='reflect', as_stft_backward=False):
    """Inverse short-time Fourier transform (windowed overlap-add).

    The overlap-added frames are divided by the overlap-add of the squared
    window, which must not vanish on the kept samples (the NOLA condition).
    As in NNabla, an ordinary call needs ``pad_mode='constant'`` (the default
    ``'reflect'`` is rejected) and ``fft_size`` a multiple of ``stride``.

    Args:
        y_r (~nnabla.Variable): Real part, ``(batch_size, fft_size // 2 + 1, frames)``.
        y_i (~nnabla.Variable): Imaginary part, same shape.
        window_size (int): Length of the analysis window.
        stride (int): Hop between successive frames.
        fft_size (int): FFT length.
        window_type (str): ``'hanning'``, ``'hamming'`` or ``'rectangular'``
            (``None`` means rectangular).
        center (bool): Drop ``fft_size // 2`` samples at both ends, undoing the
            centring of :func:`stft`.
        pad_mode (str): The :func:`stft` padding; only used with ``as_stft_backward``.
        as_stft_backward (bool): Compute instead the gradient of :func:`stft`
            with these arguments, taking ``(y_r, y_i)`` as the gradients of its outputs.

    Returns:
        ~nnabla.Variable: Time-domain signal of shape
        ``(batch_size, (frames - 1) * stride + fft_size - 2 * (fft_size // 2 if center else 0))``.
    """
    if window_type is None:
        window_type = "rectangular"
    return ISTFT(window_size, stride, fft_size, window_type, center, pad_mode,
                 as_stft_backward)(y_r, y_i)
