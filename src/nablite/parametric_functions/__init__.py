"""Parametric functions (``import nablite.parametric_functions as PF``).

A parametric function creates its parameters in the current parameter scope
on the first call (or reuses them on later calls in the same scope) and then
calls the plain function of ``nablite.functions``. Each runs inside its own
sub-scope (``affine``, ``conv``, ``bn``, ...); the trailing ``name=`` argument
that every PF accepts puts that sub-scope under ``name``::

    h = PF.affine(x, 64, name="fc1")        # creates fc1/affine/W, fc1/affine/b
    h = PF.batch_normalization(h, name="bn1")

``fix_parameters=True`` hands the function copies that need no gradient; the
stored parameters keep their flags, so a solver built later still sees them.

The functions live in family modules, re-exported here:

- ``_api``: the ``parametric_function_api`` decorator and shared helpers
- ``layers``: affine, convolution, deconvolution, depthwise, deformable, embed, prelu
- ``recurrent``: rnn, lstm, gru, lstm_cell, LSTMCell
- ``normalization``: batch / fused / sync batch, layer, instance, group normalization,
  mean subtraction, weight normalization, spectral norm
- ``quantized``: binary connect, binary weight and INQ layers, min_max_quantize
- ``quantized_copy``: fixed-point, pow2, pruned and min-max quantized layers
- ``low_rank``: svd_affine, svd_convolution, cpd3_convolution
- ``attention``: multi_head_attention, transformer, transformer_encode / decode
"""
from .. import functions as F  # noqa: F401  (NNabla's PF module exposes F too)
from ..initializer import (ConstantInitializer, NormalInitializer,  # noqa: F401
                           OrthogonalInitializer, UniformInitializer, UniformIntInitializer,
                           calc_normal_std_glorot, calc_normal_std_he_backward,
                           calc_normal_std_he_forward, calc_uniform_lim_glorot)
from ..parameter import parameter_scope  # noqa: F401
from ..variable import Variable  # noqa: F401
from ._api import parametric_function_api, get_parameter_or_create, get_parameter
from .layers import (affine, convolution, deconvolution, depthwise_convolution,
                     depthwise_deconvolution, deformable_convolution, embed, prelu)
from .recurrent import rnn, lstm, gru, lstm_cell, LSTMCell
from .normalization import (batch_normalization, fused_batch_normalization,
                            sync_batch_normalization, layer_normalization, instance_normalization,
                            group_normalization, mean_subtraction, weight_normalization,
                            spectral_norm)
from .quantized import (binary_connect_affine, binary_connect_convolution, binary_weight_affine,
                        binary_weight_convolution, inq_affine, inq_convolution, min_max_quantize)
from .quantized_copy import (fixed_point_quantized_affine, fixed_point_quantized_convolution,
                             pow2_quantized_affine, pow2_quantized_convolution, pruned_affine,
                             pruned_convolution, min_max_quantized_affine,
                             min_max_quantized_convolution)
from .low_rank import svd_affine, svd_convolution, cpd3_convolution
from .attention import multi_head_attention, transformer, transformer_encode, transformer_decode

__all__ = ["parametric_function_api", "get_parameter_or_create", "get_parameter", "affine",
           "convolution", "deconvolution", "depthwise_convolution", "depthwise_deconvolution",
           "deformable_convolution", "embed", "prelu", "rnn", "lstm", "gru", "lstm_cell",
           "LSTMCell", "batch_normalization", "fused_batch_normalization",
           "sync_batch_normalization", "layer_normalization", "instance_normalization",
           "group_normalization", "mean_subtraction", "weight_normalization", "spectral_norm",
           "binary_connect_affine", "binary_connect_convolution", "binary_weight_affine",
           "binary_weight_convolution", "inq_affine", "inq_convolution", "min_max_quantize",
           "fixed_point_quantized_affine", "fixed_point_quantized_convolution",
           "pow2_quantized_affine", "pow2_quantized_convolution", "pruned_affine",
           "pruned_convolution", "min_max_quantized_affine", "min_max_quantized_convolution",
           "svd_affine", "svd_convolution", "cpd3_convolution", "multi_head_attention",
           "transformer", "transformer_encode", "transformer_decode"]
