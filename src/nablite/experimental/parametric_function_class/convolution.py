"""N-d convolution layer as an object (and the machinery deconvolution shares)."""
from ... import functions as F
from ...initializer import ConstantInitializer, UniformInitializer, calc_uniform_lim_glorot
from .module import Module, kernel_tuple, parameter

__all__ = ["Convolution", "Conv1d", "Conv2d", "Conv3d", "ConvNd"]


class _Convolutional(Module):
    """W and b of a (de)convolution; subclasses say W's shape and the function."""

    def __init__(self, inmaps, outmaps, kernel, pad=None, stride=None, dilation=None, group=1,
                 w_init=None, b_init=None, base_axis=1, fix_parameters=False, rng=None,
                 with_bias=True):
        name = self._name
        kernel = kernel_tuple(name, kernel)
        if w_init is None:
            w_init = UniformInitializer(calc_uniform_lim_glorot(inmaps, outmaps, kernel), rng=rng)
        self.W = parameter(name, "w_init", w_init,
                           self._weight_shape(inmaps, outmaps, group) + kernel, not fix_parameters)
        self.b = None
        if with_bias:
            self.b = parameter(name, "b_init", ConstantInitializer() if b_init is None
                               else b_init, (outmaps,), not fix_parameters)
        self.base_axis = base_axis
        self.pad = pad
        self.stride = stride
        self.dilation = dilation
        self.group = group

    def __call__(self, inp):
        return self._function(inp, self.W, self.b, self.base_axis, self.pad, self.stride,
                              self.dilation, self.group)


class Convolution(_Convolutional):
    """N-d convolution with weight ``W`` (outmaps, inmaps // group, *kernel) and bias ``b``.

    Args:
        inmaps (int): Input channels.
        outmaps (int): Output channels.
        kernel (tuple of int): Kernel shape.
        pad, stride, dilation (tuple of int): Per spatial axis (defaults 0, 1, 1).
        group (int): Channel groups (must divide inmaps).
        w_init, b_init: Initializers or arrays (default: Glorot uniform, zeros).
        base_axis (int): Axes before it are batch axes.
        fix_parameters (bool): Create W and b with need_grad=False.
        rng (numpy.random.RandomState): For the default W initializer.
        with_bias (bool): Create ``b``.
    """
    _name = "Convolution"
    _function = staticmethod(F.convolution)

    @staticmethod
    def _weight_shape(inmaps, outmaps, group):
        if group < 1 or inmaps % group:
            raise ValueError(f"Convolution: group={group} must divide inmaps={inmaps}")
        return (outmaps, inmaps // group)


Conv1d = Conv2d = Conv3d = ConvNd = Convolution
