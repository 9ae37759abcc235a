"""Embedding layer as an object."""
import numpy as np

from ... import functions as F
from ...initializer import UniformInitializer
from .module import Module, parameter

__all__ = ["Embed"]


class Embed(Module):
    """Rows of ``W`` (n_inputs, n_features) picked by integer indices.

    NNabla 1.39's constructor raises NameError (it refers to an undefined
    ``n_input``); this is the layer it describes: W from Uniform(-sqrt(3), sqrt(3)).

    Args:
        n_inputs (int): Number of possible indices.
        n_features (int): Embedding size.
        w_init: Initializer or array (default: Uniform(-sqrt(3), sqrt(3)) from nn.random.prng).
        fix_parameters (bool): Create W with need_grad=False.
    """

    def __init__(self, n_inputs, n_features, w_init=None, fix_parameters=False):
        if w_init is None:
            w_init = UniformInitializer((-np.sqrt(3.0), np.sqrt(3.0)))
        self.W = parameter("Embed", "w_init", w_init, (n_inputs, n_features), not fix_parameters)

    def __call__(self, inp):
        return F.embed(inp, self.W)
