"""nablite.functions: NNabla's functions (imported as ``F``).

Every public function is imported here by name, grouped by the module that
defines it, so the whole ``F`` namespace reads in one place. Each module holds
one kind of function (its docstring says which); ``__all__`` is the union of
the modules' ``__all__`` (tests/test_functions_namespace.py checks that the
names below are exactly those).
"""
from .arithmetic import (add2, sub2, mul2, div2, pow2, add_n, mul_n, bc_add2, add_scalar,
                         mul_scalar, pow_scalar, r_sub_scalar, r_div_scalar, r_pow_scalar, mod2,
                         bit_shift)
from .math import (constant, arange, linspace, abs, exp, log, identity, round, ceil, floor, sin,
                   cos, tan, sinh, cosh, asin, acos, atan, atan2, asinh, acosh, atanh, erf)
from .activation import (sigmoid, swish, tanh, relu, leaky_relu, softmax, log_softmax, elu, selu,
                         crelu, celu, prelu, gelu, mish, relu6, hard_sigmoid, hard_tanh,
                         log_sigmoid, softplus, softsign, tanh_shrink, sinc)
from .logical import (sign, minimum2, maximum2, minimum_scalar, maximum_scalar, logical_and,
                      logical_or, logical_xor, equal, not_equal, greater_equal, greater,
                      less_equal, less, searchsorted, logical_and_scalar, logical_or_scalar,
                      logical_xor_scalar, equal_scalar, not_equal_scalar, greater_equal_scalar,
                      greater_scalar, less_equal_scalar, less_scalar, logical_not, isnan, isinf,
                      reset_nan, reset_inf, where)
from .reduction import (sum, mean, max, min, prod, norm, cumsum, cumprod, reduce_sum, reduce_mean,
                        reduce)
from .array import (reshape, transpose, broadcast, broadcast_to, concatenate, split, stack, slice,
                    shape, meshgrid, assign, clip_by_value, clip_by_norm, dot)
from .rearrange import (pad, tile, flip, shift)
from .sorting import (unique, sort, top_k_data, top_k_grad)
from .linalg import (matrix_diag, matrix_diag_part, trilu, batch_det, batch_inv, batch_logdet,
                     batch_cholesky, eye_like, einsum)
from .indexing import (one_hot, gather, gather_nd, bool_gather, scatter_nd, scatter_add,
                       bool_scatter, bool_fill, nonzero, pack_padded_sequence, pad_packed_sequence)
from .layers import (affine, batch_matmul, embed)
from .convolutions import (convolution, fused_convolution, depthwise_convolution, deconvolution,
                           depthwise_deconvolution)
from .pooling import (max_pooling, average_pooling, sum_pooling, global_average_pooling, unpooling,
                      max_pooling_backward)
from .normalization import (batch_normalization, fused_batch_normalization, layer_normalization,
                            instance_normalization, group_normalization, tensor_normalization,
                            weight_standardization, mean_subtraction, clip_grad_by_value,
                            clip_grad_by_norm)
from .rescaling import (norm_normalization, weight_normalization, spectral_norm)
from .stochastic import (dropout, rand, randint, randn, rand_binomial, rand_beta, rand_gamma,
                         random_choice, vat_noise)
from .augmentation import (random_crop, random_flip, random_shift, random_erase,
                           image_augmentation)
from .loss import (sigmoid_cross_entropy, binary_cross_entropy, softmax_cross_entropy,
                   categorical_cross_entropy, squared_error, absolute_error, huber_loss,
                   epsilon_insensitive_loss, kl_multinomial)
from .validation import (top_n_error, binary_error, confusion_matrix)
from .recurrent import (rnn, lstm, gru)
from .special import (unlink, sink)
from .spatial import (affine_grid, warp_by_grid, warp_by_flow, patch_correlation)
from .resampling import (roi_align, interpolate)
from .signal import (fft, ifft, stft, istft)
from .quantized import (binary_connect_affine, binary_connect_convolution, binary_weight_affine,
                        binary_weight_convolution, inq_affine, inq_convolution)
from .quantizers import (binary_sigmoid, binary_tanh, prune, fixed_point_quantize, pow2_quantize,
                         quantize_linear, dequantize_linear, min_max_quantize)
from .detection import (nms_detection2d)
from .attention import (multi_head_attention)
from .deformable import (deformable_convolution, adaptive_separable_convolution)
from .onnx import (onnx_resize, onnx_non_max_suppression)
from .distributed import (sync_batch_normalization)
from ..graph import get_auto_forward  # noqa: F401  (F.get_auto_forward, as in NNabla)
from ..context import get_current_context  # noqa: F401
from . import (arithmetic, math, activation, logical, reduction, array, rearrange, sorting, linalg,
               indexing, layers, convolutions, pooling, normalization, rescaling, stochastic,
               augmentation, loss, validation, recurrent, special, spatial, resampling, signal,
               quantized, quantizers, detection, attention, deformable, onnx, distributed)

_MODULES = (arithmetic, math, activation, logical, reduction, array, rearrange, sorting, linalg,
            indexing, layers, convolutions, pooling, normalization, rescaling, stochastic,
            augmentation, loss, validation, recurrent, special, spatial, resampling, signal,
            quantized, quantizers, detection, attention, deformable, onnx, distributed)
__all__ = [name for m in _MODULES for name in m.__all__]
