"""Modifiers that keep the graph's shape: identity (a copy, optionally on new
inputs), no-grad (parameters as constants), removing functions, pruning."""
import numpy as np

from ...parameter import get_parameter_or_create, get_parameters, parameter_scope
from .graph_converter import FunctionModifier, call_function


class IdentityModifier(FunctionModifier):
    """Copy the graph, optionally reading other input Variables.

    Args:
        inputs (dict): maps an original input Variable to the Variable the new
            graph reads instead; empty: the copy reads the original inputs.
        copy_value (bool): copy each original input's data and grad into its
            replacement (the shapes must match).
    """

    def __init__(self, inputs={}, copy_value=False):
        super().__init__()
        self._input_dict = dict(inputs)
        self._copy_value = copy_value
        self._prepare()

    def _prepare(self):
        for old, new in self._input_dict.items():
            if self._copy_value:
                if tuple(new.shape) != tuple(old.shape):
                    raise ValueError(f"IdentityModifier: the replacement of an input of shape "
                                     f"{tuple(old.shape)} has shape {tuple(new.shape)}; with "
                                     f"copy_value=True the shapes must match")
                new.d = old.d.copy()
                new.g = old.g.copy()
            self.replace_variable(old, new)

    def __finish__(self):
        self._input_dict = {}
        self._copy_value = False


class NoGradModifier(FunctionModifier):
    """Copy the graph with every parameter read as a constant (need_grad=False
    views of the same data), so backward stops at them."""

    def modify(self, f, inputs):
        params = {id(p._data) for p in get_parameters(grad_only=False).values()}
        if not any(id(x._data) in params for x in inputs):
            return None
        inputs = [x.get_unlinked_variable(need_grad=False) if id(x._data) in params else x
                  for x in inputs]
        return self._modify_as_same(f, inputs)


class RemoveFunctionModifier(FunctionModifier):
    """Drop every function whose type is in ``rm_funcs``: its first input takes
    the place of its output.

    Args:
        rm_funcs (list of str): NNabla function type names, e.g. ``['MulScalar']``.
    """

    def __init__(self, rm_funcs=[]):
        super().__init__()
        self._rm_funcs = list(rm_funcs)

    def modify(self, f, inputs):
        if f.info.type_name in self._rm_funcs:
            return inputs[0]
        return None


class PruningModifier(FunctionModifier):
    """Zero the output channels of a weight whose sum of squares is at most
    ``pruning_threshold`` (new parameters ``w-pruned``/``b-pruned`` in the
    weight's scope).

    Args:
        pruning_threshold (float): channels with sum(w**2) <= this become 0.
        functions_to_prune (tuple of str): function types to prune.
        channel_last (bool): the network is NHWC (Deconvolution's channel axis).
    """

    _OUT_AXIS = {"Affine": 1, "Convolution": 0, "DepthwiseConvolution": 0,
                 "DepthwiseDeconvolution": 0}

    def __init__(self, pruning_threshold, functions_to_prune=(
            "Convolution", "Deconvolution", "DepthwiseConvolution", "DepthwiseDeconvolution",
            "Affine"), channel_last=False):
        super().__init__()
        self._threshold = pruning_threshold
        self._functions = [n for n in functions_to_prune if n in self._OUT_AXIS
                           or n == "Deconvolution"]
        self._channel_last = channel_last

    def _axis(self, type_name):
        if type_name == "Deconvolution":
            return -1 if self._channel_last else 1
        return self._OUT_AXIS[type_name]

    def modify(self, f, inputs):
        if f.info.type_name not in self._functions:
            return None
        x, w = inputs[:2]
        b = inputs[2] if len(inputs) == 3 else None
        axis = self._axis(f.info.type_name) % w.ndim
        others = tuple(a for a in range(w.ndim) if a != axis)
        keep = np.sum(w.d ** 2, axis=others, keepdims=True) > self._threshold
        with parameter_scope(self.get_parameter_scope(w)):
            w_pruned = get_parameter_or_create("w-pruned", w.shape, w.d * keep, True, True)
            b_pruned = None if b is None else get_parameter_or_create(
                "b-pruned", b.shape, b.d * keep.reshape(b.shape), True, True)
        return call_function(f.info.type_name, [x, w_pruned, b_pruned], f.info.args)
