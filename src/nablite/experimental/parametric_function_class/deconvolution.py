"""N-d deconvolution (transposed convolution) layer as an object."""
from ... import functions as F
from .convolution import _Convolutional

__all__ = ["Deconvolution", "Deconv1d", "Deconv2d", "Deconv3d", "DeconvNd"]


class Deconvolution(_Convolutional):
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
    _name = "Deconvolution"
    _function = staticmethod(F.deconvolution)

    @staticmethod
    def _weight_shape(inmaps, outmaps, group):
        if group < 1 or outmaps % group:
            raise ValueError(f"Deconvolution: group={group} must divide outmaps={outmaps}")
        return (inmaps, outmaps // group)


Deconv1d = Deconv2d = Deconv3d = DeconvNd = Deconvolution
