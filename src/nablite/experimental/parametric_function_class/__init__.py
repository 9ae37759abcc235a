"""Layers as objects that hold their parameters (``nnabla.experimental.parametric_function_class``).

Unlike PF, these classes do not use the global parameter scopes: each instance
creates its parameters as plain Variables (``layer.W``, ``layer.b``) when it is
constructed, with PF's shapes and default initializers, and ``__call__`` applies
the plain function::

    from nablite.experimental.parametric_function_class.affine import Affine
    fc = Affine(784, 10)          # fc.W (784, 10), fc.b (10,)
    y = fc(x)

Models subclass ``module.Module`` and keep layers as attributes;
``get_parameters()`` then names them ``fc1/W``, ``bn/beta``, ... (the model's own
Variables as ``/name``, as NNabla 1.39 does).

The classes live in the submodules ``affine``, ``convolution``,
``deconvolution``, ``embed``, ``batch_normalization`` and ``module`` (NNabla's
package namespace is empty); nablite also re-exports them here.
"""
from .affine import Affine, Linear
from .batch_normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, BatchNormalization
from .convolution import Conv1d, Conv2d, Conv3d, ConvNd, Convolution
from .deconvolution import Deconv1d, Deconv2d, Deconv3d, DeconvNd, Deconvolution
from .embed import Embed
from .module import Module

__all__ = ["Module", "Affine", "Linear", "Convolution", "Conv1d", "Conv2d", "Conv3d", "ConvNd",
           "Deconvolution", "Deconv1d", "Deconv2d", "Deconv3d", "DeconvNd", "Embed",
           "BatchNormalization", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]
