"""Initializers: callables ``init(shape) -> numpy array`` for new parameters.

Random initializers take an ``rng`` (a ``numpy.random.RandomState``); with
``rng=None`` they use ``nablite.random.prng`` as it is when the initializer is
*constructed*, so ``nn.seed(...)`` before building a network makes it
reproducible. Floating results are float32 (``random_float_type``).

Example::

    import nablite.initializer as I
    lim = I.calc_uniform_lim_glorot(64, 32, kernel=(3, 3))
    w = I.UniformInitializer(lim)((32, 64, 3, 3))
"""
import numbers

import numpy as np

from . import backend
from . import random as _random

__all__ = ["BaseInitializer", "ConstantInitializer", "NormalInitializer",
           "UniformInitializer", "UniformIntInitializer", "RangeInitializer",
           "OrthogonalInitializer", "WeightNormalizationScaleInitializer",
           "calc_uniform_lim_glorot", "calc_normal_std_glorot",
           "calc_normal_std_he_forward", "calc_normal_std_he_backward",
           "random_float_type"]

random_float_type = np.float32


def _float(a):
    return np.asarray(a, dtype=random_float_type)


def _rng(rng):
    # Read at construction time: a later nn.seed() does not affect this initializer.
    return _random.prng if rng is None else rng


def _shape(shape):
    return tuple(int(s) for s in shape)


def _real(where, name, v, integer=False):
    """``v`` when it is a real number (an integer with ``integer``); else a
    TypeError naming the initializer: None or a string would only fail (or be
    cast, complex) when the parameter is created."""
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v.item()
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, kind):
        raise TypeError(f"{where}: {name}={v!r} must be {'an integer' if integer else 'a real number'}")
    return v


def _pair(where, lim, integer=False):
    try:
        low, high = lim
    except (TypeError, ValueError):
        raise TypeError(f"{where}: lim={lim!r} must be a (low, high) pair") from None
    return (_real(where, "lim[0]", low, integer), _real(where, "lim[1]", high, integer))


def _fan(where, inmaps, outmaps, kernel, used):
    """k * (the maps the formula uses), which must be positive."""
    k = int(np.prod(kernel))
    n = k * sum(used)
    if n <= 0:
        raise ValueError(f"{where}: inmaps={inmaps}, outmaps={outmaps} and kernel={kernel!r} "
                         "give no connections; they must be positive")
    return n


class BaseInitializer:
    """Base class: subclasses implement ``__call__(shape)`` returning an array."""

    # The attribute a subclass's repr shows, as NNabla's do ("NormalInitializer(2)");
    # "" shows empty parentheses, None the default object repr.
    _repr_arg = None

    def __repr__(self):
        if self._repr_arg is None:
            return object.__repr__(self)
        shown = getattr(self, self._repr_arg) if self._repr_arg else ""
        return f"{type(self).__name__}({shown})"

    def __call__(self, shape):
        raise NotImplementedError(f"{type(self).__name__}.__call__ is not implemented")


class ConstantInitializer(BaseInitializer):
    """Every element equals ``value`` (float32).

    Args:
        value (float): The constant.
    """

    def __init__(self, value=0):
        if not (isinstance(value, np.ndarray) and value.dtype.kind in "biuf"):
            value = _real("ConstantInitializer", "value", value)  # an array broadcasts
        self.value = value

    def __call__(self, shape):
        return np.full(_shape(shape), self.value, dtype=random_float_type)


class NormalInitializer(BaseInitializer):
    r"""Samples from :math:`\mathcal{N}(0, \sigma^2)` (float32).

    Args:
        sigma (float): Standard deviation.
        rng (numpy.random.RandomState): Generator (default ``nablite.random.prng``).
    """

    _repr_arg = "sigma"

    def __init__(self, sigma=1.0, rng=None):
        self.sigma = _real("NormalInitializer", "sigma", sigma)
        self.rng = _rng(rng)

    def __call__(self, shape):
        return _float(self.rng.randn(*_shape(shape)) * self.sigma)


class UniformInitializer(BaseInitializer):
    """Samples uniformly from ``[lim[0], lim[1])`` (float32).

    Args:
        lim (tuple of float): Lower and upper bounds.
        rng (numpy.random.RandomState): Generator (default ``nablite.random.prng``).
    """

    _repr_arg = "lim"

    def __init__(self, lim=(-1, 1), rng=None):
        _pair("UniformInitializer", lim)
        self.lim = lim
        self.rng = _rng(rng)

    def __call__(self, shape):
        return _float(self.rng.uniform(self.lim[0], self.lim[1], size=_shape(shape)))


class UniformIntInitializer(BaseInitializer):
    """Integers drawn uniformly from ``[lim[0], lim[1])`` (integer dtype, not cast).

    Args:
        lim (tuple of int): Lower (inclusive) and upper (exclusive) bounds.
        rng (numpy.random.RandomState): Generator (default ``nablite.random.prng``).
    """

    _repr_arg = "lim"

    def __init__(self, lim=(0, 10), rng=None):
        _pair("UniformIntInitializer", lim, integer=True)
        self.lim = lim
        self.rng = _rng(rng)

    def __call__(self, shape):
        return self.rng.randint(self.lim[0], self.lim[1], size=_shape(shape))


class RangeInitializer(BaseInitializer):
    """``start + step * arange(shape[-1])`` broadcast to ``shape`` (dtype not cast).

    Args:
        start (int or float): First value along the last axis.
        step (int or float): Increment along the last axis.
    """

    def __init__(self, start=0, step=1):
        self.start = _real("RangeInitializer", "start", start)
        self.step = _real("RangeInitializer", "step", step)

    def __call__(self, shape):
        shape = _shape(shape)
        return np.broadcast_to(self.start + self.step * np.arange(shape[-1]), shape)


class OrthogonalInitializer(BaseInitializer):
    """A (semi-)orthogonal matrix reshaped to ``shape``, times ``gain`` (float32).

    A Gaussian matrix of shape ``(shape[0], prod(shape[1:]))`` is drawn and
    replaced by the SVD factor with orthonormal rows or columns that has that
    same shape (Saxe et al., 2013).

    Args:
        gain (float): Scale applied to the orthogonal matrix.
        rng (numpy.random.RandomState): Generator (default ``nablite.random.prng``).
    """

    _repr_arg = "gain"

    def __init__(self, gain=1.0, rng=None):
        self.gain = _real("OrthogonalInitializer", "gain", gain)
        self.rng = _rng(rng)

    def __call__(self, shape):
        shape = _shape(shape)
        flat = (shape[0], int(np.prod(shape[1:], dtype=np.int64)))
        a = self.rng.normal(0.0, 1.0, flat)
        u, _, vt = np.linalg.svd(a, full_matrices=False)
        q = u if u.shape == flat else vt
        return _float(q.reshape(shape) * self.gain)


class WeightNormalizationScaleInitializer(BaseInitializer):
    r"""The norm of ``w`` over every axis except ``dim``: :math:`\sqrt{\sum w^2 + \epsilon}`.

    Used to initialize the scale ``g`` of weight normalization so that the
    reparametrized weight starts equal to ``w``. The requested shape is ignored.

    Args:
        w (Variable): The weight to normalize.
        dim (int): The axis that keeps its size.
        eps (float): Added under the square root.
    """

    _repr_arg = ""

    def __init__(self, w, dim=0, eps=1e-12):
        self.w = w.get_unlinked_variable() if hasattr(w, "get_unlinked_variable") else w
        self.dim = dim
        self.eps = eps

    def __call__(self, shape):
        # initializers run on the host: a Variable's .d, or a device array copied once
        w = np.asarray(self.w.d if hasattr(self.w, "d") else backend.to_numpy(self.w))
        dim = self.dim % w.ndim
        axes = tuple(i for i in range(w.ndim) if i != dim)
        return _float(np.sqrt(np.sum(w ** 2, axis=axes) + self.eps))


def calc_uniform_lim_glorot(inmaps, outmaps, kernel=(1, 1)):
    r"""Glorot (Xavier) uniform bounds :math:`(-d, d)`, :math:`d = \sqrt{6 / (k (n_{in} + n_{out}))}`.

    Args:
        inmaps (int): Input channels (fan-in without the kernel).
        outmaps (int): Output channels.
        kernel (tuple of int): Kernel shape; ``k`` is its product.

    Returns:
        tuple of float: ``(-d, d)``.
    """
    d = np.sqrt(6. / _fan("calc_uniform_lim_glorot", inmaps, outmaps, kernel,
                          (inmaps, outmaps)))
    return -d, d


def calc_normal_std_glorot(inmaps, outmaps, kernel=(1, 1)):
    r"""Glorot (Xavier) normal std :math:`\sqrt{2 / (k (n_{in} + n_{out}))}`."""
    return np.sqrt(2. / _fan("calc_normal_std_glorot", inmaps, outmaps, kernel,
                             (inmaps, outmaps)))


def calc_normal_std_he_forward(inmaps, outmaps, kernel=(1, 1)):
    r"""He normal std for the forward pass :math:`\sqrt{2 / (k\, n_{in})}`."""
    return np.sqrt(2. / _fan("calc_normal_std_he_forward", inmaps, outmaps, kernel,
                             (inmaps,)))


def calc_normal_std_he_backward(inmaps, outmaps, kernel=(1, 1)):
    r"""He normal std for the backward pass :math:`\sqrt{2 / (k\, n_{out})}`."""
    return np.sqrt(2. / _fan("calc_normal_std_he_backward", inmaps, outmaps, kernel,
                             (outmaps,)))
