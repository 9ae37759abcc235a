"""Affine (fully connected) layer as an object."""
import numpy as np

from ... import functions as F
from ...initializer import ConstantInitializer, UniformInitializer, calc_uniform_lim_glorot
from .module import Module, parameter

__all__ = ["Affine", "Linear"]


class Affine(Module):
    """y = x W + b with x flattened from ``base_axis`` on.

    Args:
        n_inmaps (int): Input features (prod of x.shape[base_axis:]).
        n_outmaps (int or tuple of int): Output features; a tuple is flattened
            (W is (n_inmaps, prod(n_outmaps)), as in NNabla 1.39).
        base_axis (int): Axes before it are batch axes.
        w_init, b_init: Initializers or arrays (default: Glorot uniform, zeros).
        fix_parameters (bool): Create W and b with need_grad=False.
        rng (numpy.random.RandomState): For the default W initializer.
        with_bias (bool): Create ``b`` (else ``b`` is None).

    Attributes: ``W``, ``b``, ``base_axis``.
    """

    def __init__(self, n_inmaps, n_outmaps, base_axis=1, w_init=None, b_init=None,
                 fix_parameters=False, rng=None, with_bias=True):
        n_out = int(np.prod(list(n_outmaps) if hasattr(n_outmaps, "__iter__") else [n_outmaps]))
        if w_init is None:
            w_init = UniformInitializer(calc_uniform_lim_glorot(n_inmaps, n_out), rng=rng)
        self.W = parameter("Affine", "w_init", w_init, (n_inmaps, n_out), not fix_parameters)
        self.b = None
        if with_bias:
            self.b = parameter("Affine", "b_init", ConstantInitializer() if b_init is None
                               else b_init, (n_out,), not fix_parameters)
        self.base_axis = base_axis

    def __call__(self, inp):
        return F.affine(inp, self.W, self.b, self.base_axis)


Linear = Affine
