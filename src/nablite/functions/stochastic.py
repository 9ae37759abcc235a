"""Stochastic functions: dropout, random numbers (rand, randint, randn,
rand_binomial, rand_beta, rand_gamma), random_choice, and vat_noise (the
perturbation step of virtual adversarial training). Random data augmentation
(random_crop/flip/shift/erase, image_augmentation) is in augmentation.py.

vat_noise is eps * x / ||x|| per sample; its backward passes no gradient and
instead stores eps * dy into w's DATA (the VAT power-iteration trick), as in
NNabla 1.39.

Random draws happen in ``forward`` (every forward draws anew) and the choices
are kept for ``backward``. ``seed=-1`` draws from ``nablite.random.function_rng``
(reseeded by ``nn.seed``), read when forward runs; ``seed >= 0`` gives the
function its own ``RandomState(seed)``, created with the function. Draws are
made with NumPy on the host, so sequences differ from NNabla's generator; they
are moved to the function's array module (``xp.asarray``) and everything else
computes there. Parameters outside a distribution's domain (high <= low, a
negative size, alpha <= 0, ...) are refused when the graph is built, as in NNabla.
"""
import numpy as np

from .. import random as _random
from ..backend import scatter_add, stable_argsort
from .array import check_sizes
from .base import Function, require, prod, named

__all__ = ["dropout", "rand", "randint", "randn", "rand_binomial", "rand_beta", "rand_gamma",
           "random_choice", "vat_noise"]


class RandomFunction(Function):
    """Owns the generator: a private one for ``seed >= 0``, else the global one."""

    recomputable = False  # a second forward would draw other numbers

    def __init__(self, seed=-1):
        self.seed = seed
        self._own_rng = np.random.RandomState(seed) if seed >= 0 else None

    @property
    def rng(self):
        return self._own_rng if self._own_rng is not None else _random.function_rng


def _on(xp, a):
    return a if xp is np else xp.asarray(a)


def _shape_tuple(shape):
    return (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)


def _check_sizes(fn, shape):
    check_sizes(fn, "shape", shape)


class Dropout(RandomFunction):
    """Zero each element with probability p and scale the others by 1 / (1 - p)."""

    def __init__(self, p=0.5, seed=-1):
        super().__init__(seed)
        self.p = p

    def setup(self, x):
        require(self, 0 <= self.p < 1, f"p={self.p} must be in [0, 1)")
        return x

    def forward(self, xp, x):
        if self.p == 0:
            self._mask = None
            return x.copy()
        keep = _on(xp, self.rng.random_sample(x.shape) >= self.p)
        self._mask = mask = keep.astype(x.dtype)
        mask *= 1 / (1 - self.p)
        return x * mask

    def backward(self, xp, xs, ys, gys):
        return (gys[0] if self._mask is None else gys[0] * self._mask,)


class _Generator(RandomFunction):
    """No inputs; ``draw(rng, shape)`` gives the values. ``check()`` refuses
    parameters outside the distribution's domain (as NNabla does), in setup."""

    dtype = np.float32

    def __init__(self, shape=(), seed=-1, **args):
        super().__init__(seed)
        self.__dict__.update(args)
        self.shape = list(_shape_tuple(shape))

    def setup(self):
        _check_sizes(self, self.shape)
        self.check()
        return tuple(self.shape)

    def check(self):
        pass

    def _positive(self, *names):
        for name in names:  # ``not v > 0`` also refuses NaN
            v = getattr(self, name)
            require(self, v > 0, f"{name}={v!r} must be > 0")

    def _ordered(self):
        require(self, self.high > self.low,  # NaN fails too
                f"high={self.high!r} must be greater than low={self.low!r}")

    def forward(self, xp):
        return _on(xp, np.asarray(self.draw(self.rng, tuple(self.shape)), dtype=self.dtype))

    def backward(self, xp, xs, ys, gys):
        return ()


class Rand(_Generator):
    check = _Generator._ordered

    def draw(self, rng, shape):
        return rng.uniform(self.low, self.high, shape)


class Randint(_Generator):
    dtype = np.int32
    check = _Generator._ordered

    def draw(self, rng, shape):
        return rng.randint(self.low, self.high, shape)


class Randn(_Generator):
    def draw(self, rng, shape):
        # mu + sigma * z (the values rng.normal gives), so that a negative sigma
        # draws from N(mu, sigma^2) as in NNabla instead of failing
        return self.mu + self.sigma * rng.standard_normal(shape)


class RandBinomial(_Generator):
    def check(self):
        self._positive("n")
        require(self, 0 <= self.p <= 1, f"p={self.p!r} must be in [0, 1]")

    def draw(self, rng, shape):
        return rng.binomial(self.n, self.p, shape)


class RandBeta(_Generator):
    def check(self):
        self._positive("alpha", "beta")

    def draw(self, rng, shape):
        return rng.beta(self.alpha, self.beta, shape)


class RandGamma(_Generator):
    def check(self):
        self._positive("k", "theta")

    def draw(self, rng, shape):
        return rng.gamma(self.k, self.theta, shape)


class RandomChoice(RandomFunction):
    """Sample ``shape`` indices per row of w (last axis), output the matching x values."""
    forward_state = ('_idx',)  # kept from forward for backward; freed with the buffers

    def __init__(self, shape=(), replace=True, seed=-1):
        super().__init__(seed)
        self.shape, self.replace = list(_shape_tuple(shape)), replace
        # an empty shape draws one sample per row (NNabla's default: shape=[] -> (.., 1))
        self._draws = self.shape or [1]

    def setup(self, x, w):
        require(self, x == w, f"w has shape {w}, it must equal x's shape {x}")
        require(self, len(x) >= 1, "x must have at least one axis")
        _check_sizes(self, self._draws)
        n, s = x[-1], prod(self._draws)
        require(self, self.replace or s <= n,
                f"replace=False cannot draw {s} samples from {n} choices")
        return x[:-1] + tuple(self._draws)

    def forward(self, xp, x, w):
        n = x.shape[-1]
        rows = prod(x.shape[:-1])
        p = w.reshape(rows, n).astype(np.float64, copy=False)
        s = prod(self._draws)
        # The draws come from the host generator (reproducible seeds); the rest on xp.
        if self.replace:
            cdf = xp.cumsum(p, axis=1)
            cdf /= cdf[:, -1:]
            u = _on(xp, self.rng.random_sample((rows, s)))
            # One searchsorted over all rows: row r's values live in [r, r + 1).
            offset = xp.arange(rows)[:, None]
            idx = xp.searchsorted((cdf + offset).ravel(), (u + offset).ravel(), side="right")
            idx = xp.minimum(idx.reshape(rows, s) - offset * n, n - 1)
        else:  # Gumbel top-k: a weighted draw without replacement
            gumbel = _on(xp, self.rng.gumbel(size=(rows, n)))
            keys = xp.log(xp.where(p > 0, p, 1e-300)) + gumbel
            idx = stable_argsort(xp, -keys, 1)[:, :s]
        self._idx = idx
        y = xp.take_along_axis(x.reshape(rows, n), idx, axis=1)
        return y.reshape(self.out_shapes[0])

    def backward(self, xp, xs, ys, gys):
        x = xs[0]
        rows, n = self._idx.shape[0], x.shape[-1]
        g = xp.zeros((rows, n), gys[0].dtype)
        scatter_add(xp, g, (xp.arange(rows)[:, None], self._idx), gys[0].reshape(rows, -1))
        g = g.reshape(x.shape)
        # NNabla hands w the same scattered gradient as x.
        return (g if self.need[0] else None), (g if self.need[1] else None)


@named
def dropout(x, p=0.5, seed=-1, n_outputs=-1, outputs=None):
    """Dropout: each element is zeroed with probability ``p``, the others are
    scaled by 1/(1-p); backward uses the same mask.

    Args:
        x (Variable): Input.
        p (float): Drop probability in [0, 1).
        seed (int): -1 uses the global function generator (``nn.seed``).

    Returns:
        Variable: x's shape.
    """
    return Dropout(p, seed)(x, n_outputs=n_outputs, outputs=outputs)


@named
def rand(low=0, high=1, shape=[], seed=-1, n_outputs=-1, outputs=None):
    """Uniform random numbers in [low, high) (float32) of ``shape``."""
    return Rand(shape, seed, low=low, high=high)(n_outputs=n_outputs, outputs=outputs)


@named
def randint(low=0, high=1, shape=[], seed=-1, n_outputs=-1, outputs=None):
    """Uniform random integers in [low, high) (int32) of ``shape``."""
    return Randint(shape, seed, low=low, high=high)(n_outputs=n_outputs, outputs=outputs)


@named
def randn(mu=0, sigma=1, shape=[], seed=-1, n_outputs=-1, outputs=None):
    """Normal random numbers N(mu, sigma^2) (float32) of ``shape``."""
    return Randn(shape, seed, mu=mu, sigma=sigma)(n_outputs=n_outputs, outputs=outputs)


@named
def rand_binomial(n=1, p=0.5, shape=[], seed=-1, n_outputs=-1, outputs=None):
    """Binomial(n, p) random numbers (as float32) of ``shape``."""
    return RandBinomial(shape, seed, n=n, p=p)(n_outputs=n_outputs, outputs=outputs)


@named
def rand_beta(alpha=0.5, beta=0.5, shape=[], seed=-1, n_outputs=-1, outputs=None):
    """Beta(alpha, beta) random numbers (float32) of ``shape``."""
    return RandBeta(shape, seed, alpha=alpha, beta=beta)(n_outputs=n_outputs, outputs=outputs)


@named
def rand_gamma(k=0.5, theta=1, shape=[], seed=-1, n_outputs=-1, outputs=None):
    """Gamma(k, theta) random numbers (shape k, scale theta; float32) of ``shape``."""
    return RandGamma(shape, seed, k=k, theta=theta)(n_outputs=n_outputs, outputs=outputs)


@named
def random_choice(x, w, shape=[], replace=True, seed=-1, n_outputs=-1, outputs=None):
    """Sample from the last axis of ``x`` with (unnormalized) weights ``w``.

    Returns:
        Variable: x.shape[:-1] + shape. Backward scatters the gradient to the
        chosen entries of x (and, as NNabla does, of w).
    """
    return RandomChoice(shape, replace, seed)(x, w, n_outputs=n_outputs, outputs=outputs)


class VATNoise(Function):
    """y = eps * x / sqrt(sum over each sample of x^2 + 1e-8); backward writes eps * dy
    into w's data and passes no gradient."""

    grad_reads_inputs = False
    grad_reads_outputs = False

    def __init__(self, base_axis=1, eps=1.0):
        self.base_axis = base_axis
        self.eps = eps

    def setup(self, x, w):
        require(self, x == w, f"w {w} must have the shape of x {x}")
        n = len(x)
        require(self, -n <= self.base_axis < n,
                f"base_axis={self.base_axis} is out of range for x {x} "
                f"(expected -{n} <= base_axis < {n})")
        self._axis = self.base_axis % n
        return x

    def forward(self, xp, x, w):
        axes = tuple(range(self._axis, x.ndim))
        norm = xp.sqrt((x * x).sum(axis=axes, keepdims=True) + 1e-8)
        return (self.eps * x / norm).astype(x.dtype, copy=False)

    def backward(self, xp, xs, ys, gys):
        # VAT's power iteration reads the gradient from w.d (NNabla's contract).
        self.inputs[1].data.data = self.eps * gys[0]
        return None, None


@named
def vat_noise(x, w, base_axis=1, eps=1.0, n_outputs=-1, outputs=None):
    """Noise for virtual adversarial training: x scaled to L2 norm eps per sample.

    .. math:: y = \\epsilon\\, x / \\sqrt{\\textstyle\\sum_k x_k^2 + 10^{-8}}

    with the sum over the axes from ``base_axis`` on. Backward passes no gradient to
    x or w; it writes :math:`\\epsilon\\, dy` into ``w.d`` (overwriting it), where the
    VAT power iteration reads it back.

    Args:
        x (Variable): noise (Gaussian at first, then the fed-back gradient).
        w (Variable): receives eps * dy in its data on backward; shaped like x.
        base_axis (int): axes before it index samples.
        eps (float): L2 norm of each sample's noise.

    Returns:
        Variable: shaped like x.
    """
    return VATNoise(base_axis, eps)(x, w, n_outputs=n_outputs, outputs=outputs)
