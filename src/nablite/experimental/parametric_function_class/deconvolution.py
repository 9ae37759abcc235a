"""N-d deconvolution (transposed convolution) layer as an object."""
from ... import functions as F
from ...initializer import ConstantInitializer, UniformInitializer, calc_uniform_lim_glorot
from .module import Module, kernel_tuple, parameter

__all__ = ["Deconvolution", "Deconv1d", "Deconv2d", "Deconv3d", "DeconvNd"]


class Deconvolution(Module):
    """N-d deconvolution with weight ``W`` (inmaps, outmaps // group, *kernel) and bias ``b``.

    NNabla 1.39 creates W as (outmaps, inmaps // group, *kernel), which
    F.deconvolution rejects unless inmaps == outmaps and group == 1; here W
    has the shape F.deconvolution (and PF.deconvolution) uses. Where NNabla's
    works, the two are the same.

    Args:
        inmaps (int): Input channels.
        outmaps (int): Output channels (a multiple of group).
        kernel (tuple of int): Kernel shape.
        pad, stride, dilation (tuple of int): Per spatial axis (defaults 0, 1, 1).
        group (int): Channel groups.
        w_init, b_init: Initializers or arrays (default: Glorot uniform, zeros).
        base_axis (int), fix_parameters (bool), rng, with_bias (bool): as in Convolution.
    """

    def __init__(self, inmaps, outmaps, kernel, pad=None, stride=None, dilation=None, group=1,
                 w_init=None, b_init=None, base_axis=1, fix_parameters=False, rng=None,
                 with_bias=True):
        kernel = kernel_tuple("Deconvolution", kernel)
        if group < 1 or outmaps % group:
            raise ValueError(f"Deconvolution: group={group} must divide outmaps={outmaps}")
        if w_init is None:
            w_init = UniformInitializer(calc_uniform_lim_glorot(inmaps, outmaps, kernel), rng=rng)
        self.W = parameter("Deconvolution", "w_init", w_init, (inmaps, outmaps // group) + kernel,
                           not fix_parameters)
        self.b = None
        if with_bias:
            self.b = parameter("Deconvolution", "b_init", ConstantInitializer() if b_init is None
                               else b_init, (outmaps,), not fix_parameters)
        self.base_axis = base_axis
        self.pad = pad
        self.stride = stride
        self.dilation = dilation
        self.group = group

    def __call__(self, inp):
        return F.deconvolution(inp, self.W, self.b, self.base_axis, self.pad, self.stride,
                               self.dilation, self.group)


Deconv1d = Deconv2d = Deconv3d = DeconvNd = Deconvolution
