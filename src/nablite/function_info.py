"""NNabla's function types as ``.nnp`` files store them: one table, one row per type.

Each row states an NNabla 1.39 function type (the name a graph node, ``f.info.type_name``
and a file's ``Function.type`` carry), its ``nablite.functions`` name, its inputs
(``?`` optional, ``*`` variadic), the field of ``Function`` in nnabla.proto that holds
its arguments, and the arguments in NNabla's order with their kinds:

    int, bool, str      int64, bool, string
    float               float32 in files, so ``info.args`` gives the float32-rounded value
    double              float64
    shape, ints         lists of int (a ``Shape`` message / ``repeated int64``)
    floats              list of float32-rounded floats
    comm                a communicator (not storable; SyncBatchNormalization only)

The facts come from NNabla 1.39's function list (../shared/api/functions.md) and its
message descriptors; tests/test_function_info.py checks ``f.info`` against the real
NNabla for every function, and tests/test_protobuf_schema.py this table against
nnabla.proto. Nothing here imports protobuf: ``f.info`` works without it.
"""
from collections import OrderedDict, namedtuple

import numpy as np

FunctionSpec = namedtuple("FunctionSpec", "type_name function inputs param_field args")

#   type name, nablite.functions name, inputs, argument field, arguments (name:kind)
_TABLE = [
    # Neural Network Layer
    ('Affine', 'affine', 'x weight bias?', 'affine_param', 'base_axis:int'),
    ('RNN', 'rnn', 'x h weight_l0 weight? bias?', 'rnn_param', 'num_layers:int nonlinearity:str dropout:float bidirectional:bool training:bool'),
    ('LSTM', 'lstm', 'x h c weight_l0 weight? bias?', 'lstm_param', 'num_layers:int dropout:float bidirectional:bool training:bool'),
    ('GRU', 'gru', 'x h weight_l0 weight? bias?', 'gru_param', 'num_layers:int dropout:float bidirectional:bool training:bool'),
    ('Convolution', 'convolution', 'x weight bias?', 'convolution_param', 'base_axis:int pad:shape stride:shape dilation:shape group:int channel_last:bool'),
    ('FusedConvolution', 'fused_convolution', 'x weight bias? beta? gamma? mean? variance? z?', 'fused_convolution_param', 'base_axis:int pad:shape stride:shape dilation:shape group:int channel_last:bool decay_rate:float eps:float batch_stat:bool nonlinearity:str nonlinearity_args:floats pad_mode:str constant_value:float'),
    ('DepthwiseConvolution', 'depthwise_convolution', 'x weight bias?', 'depthwise_convolution_param', 'base_axis:int pad:shape stride:shape dilation:shape multiplier:int'),
    ('Deconvolution', 'deconvolution', 'x weight bias?', 'deconvolution_param', 'base_axis:int pad:shape stride:shape dilation:shape group:int channel_last:bool output_padding:shape'),
    ('DepthwiseDeconvolution', 'depthwise_deconvolution', 'x weight bias?', 'depthwise_deconvolution_param', 'base_axis:int pad:shape stride:shape dilation:shape divisor:int'),
    ('DeformableConvolution', 'deformable_convolution', 'x weight offset mask? bias?', 'deformable_convolution_param', 'base_axis:int pad:shape stride:shape dilation:shape group:int deformable_group:int channel_last:bool'),
    ('AdaptiveSeparableConvolution', 'adaptive_separable_convolution', 'x vertical_kernel horizontal_kernel', None, ''),
    ('MaxPooling', 'max_pooling', 'x', 'max_pooling_param', 'kernel:shape stride:shape ignore_border:bool pad:shape channel_last:bool'),
    ('AveragePooling', 'average_pooling', 'x', 'average_pooling_param', 'kernel:shape stride:shape ignore_border:bool pad:shape channel_last:bool including_pad:bool'),
    ('GlobalAveragePooling', 'global_average_pooling', 'x', None, ''),
    ('SumPooling', 'sum_pooling', 'x', 'sum_pooling_param', 'kernel:shape stride:shape ignore_border:bool pad:shape channel_last:bool'),
    ('Unpooling', 'unpooling', 'x', 'unpooling_param', 'kernel:shape channel_last:bool'),
    ('Embed', 'embed', 'x0 w', None, ''),
    ('RoiAlign', 'roi_align', 'input boxes', 'roi_align_param', 'output_size:shape spatial_scale:floats sampling_ratio:int channel_last:bool'),
    # Neural Network Activation Functions
    ('Sigmoid', 'sigmoid', 'x', None, ''),
    ('Swish', 'swish', 'x', None, ''),
    ('Tanh', 'tanh', 'x', None, ''),
    ('ReLU', 'relu', 'x', 'relu_param', 'inplace:bool'),
    ('LeakyReLU', 'leaky_relu', 'x', 'leaky_relu_param', 'alpha:float inplace:bool'),
    ('Softmax', 'softmax', 'x', 'softmax_param', 'axis:int'),
    ('LogSoftmax', 'log_softmax', 'x', 'log_softmax_param', 'axis:int'),
    ('ELU', 'elu', 'x', 'elu_param', 'alpha:double'),
    ('SELU', 'selu', 'x', 'selu_param', 'scale:double alpha:double'),
    ('CReLU', 'crelu', 'x', 'crelu_param', 'axis:int'),
    ('CELU', 'celu', 'x', 'celu_param', 'alpha:double axis:int'),
    ('PReLU', 'prelu', 'x0 x1', 'prelu_param', 'base_axis:int'),
    ('GELU', 'gelu', 'x', None, ''),
    ('Mish', 'mish', 'x', None, ''),
    ('ReLU6', 'relu6', 'x', None, ''),
    ('HardSigmoid', 'hard_sigmoid', 'x', None, ''),
    ('HardTanh', 'hard_tanh', 'x', None, ''),
    ('LogSigmoid', 'log_sigmoid', 'x', None, ''),
    ('SoftPlus', 'softplus', 'x', 'softplus_param', 'beta:double'),
    ('SoftSign', 'softsign', 'x', None, ''),
    ('TanhShrink', 'tanh_shrink', 'x', None, ''),
    ('Sinc', 'sinc', 'x', None, ''),
    # Normalization
    ('FusedBatchNormalization', 'fused_batch_normalization', 'x beta gamma mean variance z?', 'fused_batch_normalization_param', 'axes:ints decay_rate:float eps:float batch_stat:bool nonlinearity:str'),
    ('BatchNormalization', 'batch_normalization', 'x beta? gamma? mean? variance?', 'batch_normalization_param', 'axes:ints decay_rate:float eps:float batch_stat:bool no_scale:bool no_bias:bool'),
    ('GroupNormalization', 'group_normalization', 'x beta? gamma?', 'group_normalization_param', 'num_groups:int channel_axis:int batch_axis:ints eps:float no_scale:bool no_bias:bool'),
    ('InstanceNormalization', 'instance_normalization', 'x beta? gamma?', 'instance_normalization_param', 'channel_axis:int batch_axis:ints eps:float no_scale:bool no_bias:bool'),
    ('LayerNormalization', 'layer_normalization', 'x beta? gamma?', 'layer_normalization_param', 'batch_axis:ints eps:float no_scale:bool no_bias:bool'),
    ('NormNormalization', 'norm_normalization', 'x', 'norm_normalization_param', 'p:float axes:ints eps:float'),
    ('SyncBatchNormalization', 'sync_batch_normalization', 'x beta gamma mean variance', 'sync_batch_normalization_param', 'comm:comm group:str axes:ints decay_rate:float eps:float batch_stat:bool'),
    ('TensorNormalization', 'tensor_normalization', 'x beta? gamma?', 'tensor_normalization_param', 'axes:ints eps:float no_scale:bool no_bias:bool'),
    ('WeightNormalization', 'weight_normalization', 'w g', 'weight_normalization_param', 'dim:int eps:float'),
    ('WeightStandardization', 'weight_standardization', 'w', 'weight_standardization_param', 'channel_axis:int eps:float'),
    ('SpectralNorm', 'spectral_norm', 'w u', 'spectral_norm_param', 'dim:int itr:int eps:float test:bool output_u:bool'),
    ('MeanSubtraction', 'mean_subtraction', 'x rmean t', 'mean_subtraction_param', 'base_axis:int update_running_mean:bool'),
    ('ClipGradByValue', 'clip_grad_by_value', 'x min max', None, ''),
    ('ClipGradByNorm', 'clip_grad_by_norm', 'x', 'clip_grad_by_norm_param', 'clip_norm:float axes:ints'),
    # Reduction
    ('Sum', 'sum', 'x', 'sum_param', 'axes:ints keep_dims:bool'),
    ('CumSum', 'cumsum', 'x', 'cumsum_param', 'axis:int exclusive:bool reverse:bool'),
    ('Mean', 'mean', 'x', 'mean_param', 'axes:ints keep_dims:bool'),
    ('Max', 'max', 'x', 'max_param', 'axes:ints keep_dims:bool with_index:bool only_index:bool'),
    ('Min', 'min', 'x', 'min_param', 'axes:ints keep_dims:bool with_index:bool only_index:bool'),
    ('Norm', 'norm', 'x', 'norm_param', 'p:float axes:ints keep_dims:bool'),
    ('Prod', 'prod', 'x', 'prod_param', 'axes:ints keep_dims:bool'),
    ('CumProd', 'cumprod', 'x', 'cumprod_param', 'axis:int exclusive:bool reverse:bool'),
    ('ReduceSum', 'reduce_sum', 'x', None, ''),
    ('ReduceMean', 'reduce_mean', 'x', None, ''),
    # Arithmetic
    ('Add2', 'add2', 'x0 x1', 'add2_param', 'inplace:bool'),
    ('AddN', 'add_n', 'x*', None, ''),
    ('BcAdd2', 'bc_add2', 'x0 x1', 'bc_add2_param', 'inplace:bool'),
    ('Sub2', 'sub2', 'x0 x1', 'sub2_param', 'inplace:bool'),
    ('Mul2', 'mul2', 'x0 x1', 'mul2_param', 'inplace:bool'),
    ('MulN', 'mul_n', 'x*', None, ''),
    ('Div2', 'div2', 'x0 x1', 'div2_param', 'inplace:bool'),
    ('Pow2', 'pow2', 'x0 x1', 'pow2_param', 'inplace:bool'),
    ('AddScalar', 'add_scalar', 'x', 'add_scalar_param', 'val:double inplace:bool'),
    ('MulScalar', 'mul_scalar', 'x', 'mul_scalar_param', 'val:double inplace:bool'),
    ('PowScalar', 'pow_scalar', 'x', 'pow_scalar_param', 'val:double inplace:bool'),
    ('RSubScalar', 'r_sub_scalar', 'x', 'r_sub_scalar_param', 'val:double'),
    ('RDivScalar', 'r_div_scalar', 'x', 'r_div_scalar_param', 'val:double'),
    ('RPowScalar', 'r_pow_scalar', 'x', 'r_pow_scalar_param', 'val:double'),
    # Logical
    ('Sign', 'sign', 'x', 'sign_param', 'alpha:float'),
    ('Minimum2', 'minimum2', 'x0 x1', None, ''),
    ('Maximum2', 'maximum2', 'x0 x1', None, ''),
    ('MinimumScalar', 'minimum_scalar', 'x', 'minimum_scalar_param', 'val:double'),
    ('MaximumScalar', 'maximum_scalar', 'x', 'maximum_scalar_param', 'val:double'),
    ('LogicalAnd', 'logical_and', 'x0 x1', None, ''),
    ('LogicalOr', 'logical_or', 'x0 x1', None, ''),
    ('LogicalXor', 'logical_xor', 'x0 x1', None, ''),
    ('Equal', 'equal', 'x0 x1', None, ''),
    ('NotEqual', 'not_equal', 'x0 x1', None, ''),
    ('GreaterEqual', 'greater_equal', 'x0 x1', None, ''),
    ('Greater', 'greater', 'x0 x1', None, ''),
    ('LessEqual', 'less_equal', 'x0 x1', None, ''),
    ('Less', 'less', 'x0 x1', None, ''),
    ('SearchSorted', 'searchsorted', 'sorted_sequence values', 'searchsorted_param', 'right:bool'),
    ('LogicalAndScalar', 'logical_and_scalar', 'x0', 'logical_and_scalar_param', 'val:bool'),
    ('LogicalOrScalar', 'logical_or_scalar', 'x0', 'logical_or_scalar_param', 'val:bool'),
    ('LogicalXorScalar', 'logical_xor_scalar', 'x0', 'logical_xor_scalar_param', 'val:bool'),
    ('EqualScalar', 'equal_scalar', 'x0', 'equal_scalar_param', 'val:double'),
    ('NotEqualScalar', 'not_equal_scalar', 'x0', 'not_equal_scalar_param', 'val:double'),
    ('GreaterEqualScalar', 'greater_equal_scalar', 'x0', 'greater_equal_scalar_param', 'val:double'),
    ('GreaterScalar', 'greater_scalar', 'x0', 'greater_scalar_param', 'val:double'),
    ('LessEqualScalar', 'less_equal_scalar', 'x0', 'less_equal_scalar_param', 'val:double'),
    ('LessScalar', 'less_scalar', 'x0', 'less_scalar_param', 'val:double'),
    ('LogicalNot', 'logical_not', 'x0', None, ''),
    ('IsNaN', 'isnan', 'x0', None, ''),
    ('IsInf', 'isinf', 'x0', None, ''),
    ('ResetNaN', 'reset_nan', 'x0', 'reset_nan_param', 'val:double'),
    ('ResetInf', 'reset_inf', 'x0', 'reset_inf_param', 'val:double'),
    ('Where', 'where', 'condition x_true x_false', None, ''),
    # Math
    ('Constant', 'constant', '', 'constant_param', 'val:float shape:shape'),
    ('Arange', 'arange', '', 'arange_param', 'start:float stop:float step:float'),
    ('Linspace', 'linspace', '', 'linspace_param', 'start:float stop:float num:int'),
    ('Abs', 'abs', 'x', None, ''),
    ('Exp', 'exp', 'x', None, ''),
    ('Log', 'log', 'x', None, ''),
    ('Identity', 'identity', 'x', None, ''),
    ('BatchMatmul', 'batch_matmul', 'a b', 'batch_matmul_param', 'transpose_a:bool transpose_b:bool'),
    ('Round', 'round', 'x', 'round_param', ''),
    ('Ceil', 'ceil', 'x', 'ceil_param', ''),
    ('Floor', 'floor', 'x', 'floor_param', ''),
    ('Sin', 'sin', 'x', None, ''),
    ('Cos', 'cos', 'x', None, ''),
    ('Tan', 'tan', 'x', None, ''),
    ('Sinh', 'sinh', 'x', None, ''),
    ('Cosh', 'cosh', 'x', None, ''),
    ('ASin', 'asin', 'x', None, ''),
    ('ACos', 'acos', 'x', None, ''),
    ('ATan', 'atan', 'x', None, ''),
    ('ATan2', 'atan2', 'x0 x1', None, ''),
    ('ASinh', 'asinh', 'x', None, ''),
    ('ACosh', 'acosh', 'x', None, ''),
    ('ATanh', 'atanh', 'x', None, ''),
    ('Erf', 'erf', 'x', None, ''),
    # Array Manipulation
    ('Concatenate', 'concatenate', 'x*', 'concatenate_param', 'axis:int'),
    ('Split', 'split', 'x', 'split_param', 'axis:int'),
    ('Stack', 'stack', 'x*', 'stack_param', 'axis:int'),
    ('Slice', 'slice', 'x', 'slice_param', 'start:ints stop:ints step:ints'),
    ('Pad', 'pad', 'x', 'pad_param', 'pad_width:ints mode:str constant_value:float'),
    ('Transpose', 'transpose', 'x', 'transpose_param', 'axes:ints'),
    ('Broadcast', 'broadcast', 'x', 'broadcast_param', 'shape:shape'),
    ('BroadcastTo', 'broadcast_to', 'x y', 'broadcast_to_param', 'axis:int'),
    ('Tile', 'tile', 'x', 'tile_param', 'reps:ints'),
    ('OneHot', 'one_hot', 'x', 'one_hot_param', 'shape:shape'),
    ('Flip', 'flip', 'x', 'flip_param', 'axes:ints'),
    ('Shift', 'shift', 'x', 'shift_param', 'shifts:ints border_mode:str'),
    ('Sort', 'sort', 'x', 'sort_param', 'axis:int reverse:bool with_index:bool only_index:bool'),
    ('Reshape', 'reshape', 'x', 'reshape_param', 'shape:shape inplace:bool'),
    ('Shape', 'shape', 'x', 'shape_param', 'start:int end:int'),
    ('MatrixDiag', 'matrix_diag', 'x', None, ''),
    ('MatrixDiagPart', 'matrix_diag_part', 'x', None, ''),
    ('Trilu', 'trilu', 'x', 'trilu_param', 'k:int upper:bool'),
    ('Meshgrid', 'meshgrid', 'x*', 'meshgrid_param', 'ij_indexing:bool'),
    ('BatchDet', 'batch_det', 'x', None, ''),
    ('BatchInv', 'batch_inv', 'x', None, ''),
    ('BatchLogdet', 'batch_logdet', 'x', None, ''),
    ('BatchCholesky', 'batch_cholesky', 'x', 'batch_cholesky_param', 'upper:bool'),
    ('Assign', 'assign', 'dst src', None, ''),
    ('Gather', 'gather', 'x Indices', 'gather_param', 'axis:int batch_dims:int'),
    ('GatherNd', 'gather_nd', 'x indices', None, ''),
    ('BoolGather', 'bool_gather', 'input mask', None, ''),
    ('ScatterNd', 'scatter_nd', 'data indices out?', 'scatter_nd_param', 'shape:ints add:bool'),
    ('ScatterAdd', 'scatter_add', 'x0 indices x1', 'scatter_add_param', 'axis:int'),
    ('BoolScatter', 'bool_scatter', 'input mask output?', None, ''),
    ('BoolFill', 'bool_fill', 'data mask', 'bool_fill_param', 'value:float'),
    ('PackPaddedSequence', 'pack_padded_sequence', 'padded_sequence lengths', 'pack_padded_sequence_param', 'batch_first:bool'),
    ('PadPackedSequence', 'pad_packed_sequence', 'packed_sequence batch_sizes', 'pad_packed_sequence_param', 'batch_first:bool padding_value:float total_length:int'),
    ('NonZero', 'nonzero', 'x', None, ''),
    # Signal Processing
    ('Interpolate', 'interpolate', 'x', 'interpolate_param', 'output_size:ints mode:str align_corners:bool half_pixel:bool half_pixel_for_nn:bool channel_last:bool'),
    ('ONNXResize', 'onnx_resize', 'x', 'onnx_resize_param', 'roi:floats scales:floats sizes:ints mode:str coordinate_transformation_mode:str cubic_coeff_a:float exclude_outside:int extrapolation_value:float nearest_mode:str'),
    ('FFT', 'fft', 'x', 'fft_param', 'signal_ndim:int normalized:bool'),
    ('IFFT', 'ifft', 'x', 'ifft_param', 'signal_ndim:int normalized:bool'),
    ('STFT', 'stft', 'x', 'stft_param', 'window_size:int stride:int fft_size:int window_type:str center:bool pad_mode:str as_istft_backward:bool'),
    ('ISTFT', 'istft', 'y_r y_i', 'istft_param', 'window_size:int stride:int fft_size:int window_type:str center:bool pad_mode:str as_stft_backward:bool'),
    # Stochasticity
    ('Dropout', 'dropout', 'x', 'dropout_param', 'p:double seed:int'),
    ('TopKData', 'top_k_data', 'x', 'top_k_data_param', 'k:int abs:bool reduce:bool base_axis:int largest:bool with_index:bool'),
    ('TopKGrad', 'top_k_grad', 'x', 'top_k_grad_param', 'k:int abs:bool base_axis:int'),
    ('Rand', 'rand', '', 'rand_param', 'low:float high:float shape:shape seed:int'),
    ('Randint', 'randint', '', 'randint_param', 'low:int high:int shape:shape seed:int'),
    ('Randn', 'randn', '', 'randn_param', 'mu:float sigma:float shape:shape seed:int'),
    ('RandBinomial', 'rand_binomial', '', 'rand_binomial_param', 'n:int p:float shape:shape seed:int'),
    ('RandBeta', 'rand_beta', '', 'rand_beta_param', 'alpha:float beta:float shape:shape seed:int'),
    ('RandGamma', 'rand_gamma', '', 'rand_gamma_param', 'k:float theta:float shape:shape seed:int'),
    ('RandomChoice', 'random_choice', 'x w', 'random_choice_param', 'shape:shape replace:bool seed:int'),
    ('RandomCrop', 'random_crop', 'x', 'random_crop_param', 'shape:shape base_axis:int seed:int'),
    ('RandomFlip', 'random_flip', 'x', 'random_flip_param', 'axes:ints base_axis:int seed:int'),
    ('RandomShift', 'random_shift', 'x', 'random_shift_param', 'shifts:ints border_mode:str constant_value:float base_axis:int seed:int'),
    ('RandomErase', 'random_erase', 'x', 'random_erase_param', 'prob:float area_ratios:floats aspect_ratios:floats replacements:floats n:int share:bool inplace:bool base_axis:int seed:int channel_last:bool ste_fine_grained:bool'),
    ('ImageAugmentation', 'image_augmentation', 'x', 'image_augmentation_param', 'shape:shape pad:shape min_scale:float max_scale:float angle:float aspect_ratio:float distortion:float flip_lr:bool flip_ud:bool brightness:float brightness_each:bool contrast:float contrast_center:float contrast_each:bool noise:float seed:int'),
    # Loss Functions
    ('SigmoidCrossEntropy', 'sigmoid_cross_entropy', 'x target', None, ''),
    ('BinaryCrossEntropy', 'binary_cross_entropy', 'x target', None, ''),
    ('SoftmaxCrossEntropy', 'softmax_cross_entropy', 'x target', 'softmax_cross_entropy_param', 'axis:int'),
    ('CategoricalCrossEntropy', 'categorical_cross_entropy', 'x target', 'categorical_cross_entropy_param', 'axis:int'),
    ('SquaredError', 'squared_error', 'x0 x1', None, ''),
    ('AbsoluteError', 'absolute_error', 'x0 x1', None, ''),
    ('HuberLoss', 'huber_loss', 'x0 x1', 'huber_loss_param', 'delta:float'),
    ('EpsilonInsensitiveLoss', 'epsilon_insensitive_loss', 'x0 x1', 'epsilon_insensitive_loss_param', 'epsilon:float'),
    ('KLMultinomial', 'kl_multinomial', 'p q', 'kl_multinomial_param', 'base_axis:int'),
    # Geometric Neural Network Layers
    ('AffineGrid', 'affine_grid', 'theta', 'affine_grid_param', 'size:ints align_corners:bool'),
    ('WarpByGrid', 'warp_by_grid', 'x grid', 'warp_by_grid_param', 'mode:str padding_mode:str align_corners:bool channel_last:bool'),
    ('WarpByFlow', 'warp_by_flow', 'data flow', None, ''),
    # Quantization Neural Network Layers
    ('BinarySigmoid', 'binary_sigmoid', 'x', None, ''),
    ('BinaryTanh', 'binary_tanh', 'x', None, ''),
    ('BinaryConnectAffine', 'binary_connect_affine', 'x weight binary_weight bias?', 'binary_connect_affine_param', 'base_axis:int quantize_zero_to:float'),
    ('BinaryConnectConvolution', 'binary_connect_convolution', 'x weight binary_weight bias?', 'binary_connect_convolution_param', 'base_axis:int pad:shape stride:shape dilation:shape group:int quantize_zero_to:float'),
    ('BinaryWeightAffine', 'binary_weight_affine', 'x weight binary_weight alpha bias?', 'binary_weight_affine_param', 'base_axis:int quantize_zero_to:float'),
    ('BinaryWeightConvolution', 'binary_weight_convolution', 'x weight binary_weight alpha bias?', 'binary_weight_convolution_param', 'base_axis:int pad:shape stride:shape dilation:shape group:int quantize_zero_to:float'),
    ('INQAffine', 'inq_affine', 'x weight indicator_fixedweights bias?', 'inq_affine_param', 'base_axis:int num_bits:int inq_iterations:ints selection_algorithm:str seed:int'),
    ('INQConvolution', 'inq_convolution', 'x weight indicator_fixedweights bias?', 'inq_convolution_param', 'base_axis:int pad:shape stride:shape dilation:shape group:int num_bits:int inq_iterations:ints selection_algorithm:str seed:int'),
    ('FixedPointQuantize', 'fixed_point_quantize', 'x', 'fixed_point_quantize_param', 'sign:bool n:int delta:float ste_fine_grained:bool'),
    ('MinMaxQuantize', 'min_max_quantize', 'x qr_min qr_max ql_min ql_max', 'min_max_quantize_param', 'decay:float x_min_max:bool ema:bool ste_fine_grained:bool eps:float'),
    ('Pow2Quantize', 'pow2_quantize', 'x', 'pow2_quantize_param', 'sign:bool with_zero:bool n:int m:int ste_fine_grained:bool'),
    ('Prune', 'prune', 'x', 'prune_param', 'rate:float'),
    ('QuantizeLinear', 'quantize_linear', 'x scale zero_point', 'quantize_linear_param', 'round_mode:str narrow_range:bool dtype:int'),
    ('DequantizeLinear', 'dequantize_linear', 'x scale zero_point', None, ''),
    # Validation
    ('TopNError', 'top_n_error', 'x target', 'top_n_error_param', 'axis:int n:int'),
    ('BinaryError', 'binary_error', 'x target', None, ''),
    ('ConfusionMatrix', 'confusion_matrix', 'x target', 'confusion_matrix_param', 'axis:int'),
    # Unsupported, Special Use
    ('VATNoise', 'vat_noise', 'x w', 'vat_noise_param', 'base_axis:int eps:float'),
    ('Unlink', 'unlink', 'x', None, ''),
    ('Sink', 'sink', 'x*', 'sink_param', 'one_input_grad:bool'),
    ('NmsDetection2d', 'nms_detection2d', 'x', 'nms_detection2d_param', 'thresh:float nms:float nms_per_class:bool'),
    ('ONNXNonMaxSuppression', 'onnx_non_max_suppression', 'boxes scores', 'onnx_non_max_suppression_param', 'center_point_box:int max_output_boxes_per_class:int iou_threshold:float score_threshold:float'),
    ('MaxPoolingBackward', 'max_pooling_backward', 'dy x', 'max_pooling_backward_param', 'kernel:shape stride:shape ignore_border:bool pad:shape channel_last:bool'),
    ('PatchCorrelation', 'patch_correlation', 'x1 x2', 'patch_correlation_param', 'patch:shape shift:shape patch_step:shape shift_step:shape padding:shape'),
    ('Unique', 'unique', 'x', 'unique_param', 'flatten:bool axis:int sorted:bool with_index:bool with_inverse:bool with_counts:bool'),
    ('EyeLike', 'eye_like', 'x', 'eye_like_param', 'k:int'),
    ('Mod2', 'mod2', 'x0 x1', 'mod2_param', 'fmod:bool'),
    ('BitShift', 'bit_shift', 'x shift', 'bit_shift_param', 'direction:str'),
    ('Einsum', 'einsum', 'x*', 'einsum_param', 'equation:str'),
]


def _spec(row):
    type_name, function, inputs, field, args = row
    return FunctionSpec(type_name, function, tuple(inputs.split()), field,
                        tuple(tuple(a.split(":")) for a in args.split()))


SPECS = OrderedDict((row[0], _spec(row)) for row in _TABLE)

# Where a nablite function class keeps an NNabla argument under another name.
_ATTRIBUTE = {("Reshape", "shape"): "_shape_given"}  # .shape: the resolved one

# Arguments a nablite class leaves as None until it runs, resolved as NNabla's
# defaults do from the first input's shape (functions.md: the yaml defaults).
_LAST_AXIS = lambda shape: len(shape) - 1  # noqa: E731
_ALL_AXES = lambda shape: list(range(len(shape)))  # noqa: E731
_NONE_MEANS = {
    "axis": _LAST_AXIS,
    "axes": _ALL_AXES,
    ("Flip", "axes"): lambda shape: [len(shape) - 1],
    ("RandomFlip", "axes"): lambda shape: [len(shape) - 1],
    ("Shift", "shifts"): lambda shape: [0] * len(shape),
    ("RandomShift", "shifts"): lambda shape: [0] * len(shape),
}
# Arguments some nablite classes do not keep at all, with NNabla's default.
_NOT_KEPT = {"inplace": False}


def _float32(v):
    return float(np.float32(v))


_CONVERT = {
    "int": int, "bool": bool, "str": str, "double": float, "float": _float32,
    "shape": lambda v: [int(x) for x in v], "ints": lambda v: [int(x) for x in v],
    "floats": lambda v: [_float32(x) for x in v], "comm": lambda v: v,
}


def convert(kind, value):
    """``value`` as NNabla's ``info.args`` holds an argument of ``kind``."""
    if value is None:
        return None
    if kind in ("shape", "ints", "floats") and np.ndim(value) == 0:
        value = [value]
    return _CONVERT[kind](value)


def nnabla_args(fn):
    """NNabla's ``info.args`` of a nablite function node: its arguments by name, in
    NNabla's order and types. Types NNabla does not have give nablite's own args."""
    spec = SPECS.get(fn.name)
    if spec is None:
        return dict(fn.args)
    stored = vars(fn)
    out = {}
    for name, kind in spec.args:
        attr = _ATTRIBUTE.get((spec.type_name, name), name)
        if attr in stored:
            value = stored[attr]
            resolve = _NONE_MEANS.get((spec.type_name, name), _NONE_MEANS.get(name))
            if value is None and resolve is not None and fn.inputs:
                value = resolve(fn.inputs[0].shape)
            out[name] = convert(kind, value)
        elif name in _NOT_KEPT:
            out[name] = _NOT_KEPT[name]
    return out


# -- argument kinds ------------------------------------------------------------
# Function.__call__ checks a node's stored arguments against their kinds in the
# table above, once per node (before setup), so that a value of the wrong kind
# gets an error naming the function and the argument instead of NumPy's own
# message from deep inside forward. What passes: what NNabla 1.39 takes (checked
# on it): ints, bools and NumPy scalars for numbers, integral floats (2.0) for
# integers, a 0-d or one-element array for a number, any sequence or 1-D array
# for a list; None where nablite's function takes None (its default is None).
# Stricter than NNabla in two places, as nablite's other checks are: a
# non-integral float for an integer (NNabla truncates 1.5 to 1) and a string,
# float or int other than 0/1 for a bool (NNabla takes any object's truth).
_INTEGER_TYPES = frozenset([int, bool, np.bool_, np.int8, np.int16, np.int32, np.int64,
                            np.uint8, np.uint16, np.uint32, np.uint64, np.intc, np.uintc,
                            np.longlong, np.ulonglong])
_NUMBER_TYPES = _INTEGER_TYPES | frozenset([float, np.float16, np.float32, np.float64])
_EXPECTED = {"int": "an integer", "bool": "a bool", "str": "a string", "float": "a number",
             "double": "a number", "shape": "a list of integers", "ints": "a list of integers",
             "floats": "a list of numbers"}
_LISTS = ("shape", "ints", "floats")


class _Absent:
    """An argument a node does not keep (inplace of some types)."""


_ABSENT = _Absent()
_BOOL_TYPES = frozenset([bool, np.bool_])
_FAST = {"int": _INTEGER_TYPES, "float": _NUMBER_TYPES, "double": _NUMBER_TYPES,
         "bool": _BOOL_TYPES, "str": frozenset([str]), "shape": _INTEGER_TYPES,
         "ints": _INTEGER_TYPES}  # lists: a single number (some types keep one)
_FAST_ITEMS = {"shape": _INTEGER_TYPES, "ints": _INTEGER_TYPES, "floats": _NUMBER_TYPES}

# Type arguments that nablite keeps in another form than NNabla's kind, or that
# the type checks itself, with errors of its own (the convolution family).
_OWN_CHECKS = {"Convolution", "Deconvolution", "DepthwiseConvolution",
               "DepthwiseDeconvolution", "FusedConvolution", "SyncBatchNormalization"}
_NOT_CHECKED = {("QuantizeLinear", "dtype")}  # a NumPy type (np.int8), not an enum number
# Lists whose items may be None (NNabla's slice: None is "from the start", "to the end").
_NONE_ITEMS = {("Slice", "start"), ("Slice", "stop"), ("Slice", "step")}
# List arguments whose public function takes a single number for a list of one (or
# keeps it as it is): elsewhere a bare number for a list is an error, as in NNabla.
_SCALAR_FOR_LIST = {("Tile", "reps"), ("Sum", "axes"), ("Mean", "axes"), ("Max", "axes"),
                    ("Min", "axes"), ("Prod", "axes"), ("Norm", "axes")}
# Arguments of public functions that the table does not hold (a composite's own,
# or a python-level argument NNabla's function turns into the stored one).
_PUBLIC_ONLY = {
    "interpolate": (("scale", "floats"),),
    "clip_by_norm": (("clip_norm", "float"), ("axis", "ints")),
}
_PUBLIC_SCALAR_OK = {("clip_by_norm", "axis")}


def _integral(v):
    if type(v) in _INTEGER_TYPES:
        return True
    if isinstance(v, (float, np.floating)):
        return float(v).is_integer()
    if isinstance(v, (int, np.integer)):
        return True
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return _integral(v[()])
    return False


def _number(v):
    if type(v) in _NUMBER_TYPES or isinstance(v, (int, float, np.integer, np.floating)):
        return True
    return isinstance(v, np.ndarray) and v.size == 1 and v.dtype.kind in "biuf"


def _bool(v):
    if isinstance(v, (bool, np.bool_)):
        return True
    return isinstance(v, (int, np.integer)) and v in (0, 1)


_ITEM = {"shape": _integral, "ints": _integral, "floats": _number}
_SCALAR = {"int": _integral, "float": _number, "double": _number, "bool": _bool,
           "str": lambda v: isinstance(v, str)}


def argument_problem(kind, value, none_ok=False, none_items=False, scalar_ok=True):
    """Why ``value`` is not an argument of ``kind`` ("must be ..., got ..."), or None."""
    if value is None:
        return None if none_ok else f"must be {_EXPECTED[kind]}, got None"
    if kind in _LISTS:
        item_ok = _ITEM[kind]
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__") or (
                isinstance(value, np.ndarray) and value.ndim == 0):
            if scalar_ok and item_ok(value):
                return None
            return f"must be {_EXPECTED[kind]}, got {type(value).__name__}"
        for item in value:
            if item is None and none_items:
                continue
            if item is None or not item_ok(item):
                want = "integers" if kind != "floats" else "numbers"
                return f"must hold {want}, got {type(item).__name__} {item!r}"
        return None
    if kind in _SCALAR and not _SCALAR[kind](value):
        return f"must be {_EXPECTED[kind]}, got {type(value).__name__}"
    return None


def _describe(label, value, problem):
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{label}={shown} {problem}"


def _public(function):
    """The public nablite function of a table row and its parameters (None if none)."""
    import inspect
    from . import functions
    f = getattr(functions, function, None)
    if f is None:
        return None
    try:
        return inspect.signature(inspect.unwrap(f)).parameters
    except (TypeError, ValueError):
        return None


def _label(name, params):
    """The public function's name for a table argument (``keepdims`` for
    ``keep_dims``), so that an error names what the user passed."""
    if params is None or name in params:
        return name
    short = name.replace("_", "")
    return short if short in params else name


_CHECKS = {}


def node_checks(cls):
    """What Function.__call__ checks for a node type, computed once per type: per
    argument (attribute, the types that pass at once, the list items' that do,
    (kind, label, None allowed, None items allowed, a number for a list allowed))."""
    checks = _CHECKS.get(cls)
    if checks is not None:
        return checks
    from .python_function import PythonFunction
    name = cls.__name__
    spec = SPECS.get(name)
    rows = []
    if spec is not None and name not in _OWN_CHECKS and not issubclass(cls, PythonFunction):
        params = _public(spec.function)
        for arg, kind in spec.args:
            if kind == "comm" or (name, arg) in _NOT_CHECKED:
                continue
            label = _label(arg, params)
            p = params.get(label) if params is not None else None
            none_ok = (p is None or p.default is None or arg in _NONE_MEANS
                       or (name, arg) in _NONE_MEANS or kind in _LISTS and name in _NONE_LISTS)
            # the types that pass at once, and for lists the items' (the common cases,
            # so that a check costs a set lookup or two)
            fast = set(_FAST.get(kind, ()))
            fast.add(_Absent)
            if none_ok:
                fast.add(type(None))
            rows.append((_ATTRIBUTE.get((name, arg), arg), frozenset(fast), _FAST_ITEMS.get(kind),
                         (kind, label, none_ok, (name, arg) in _NONE_ITEMS,
                          (name, arg) in _SCALAR_FOR_LIST)))
    checks = _CHECKS[cls] = tuple(rows)
    return checks


# Types that keep a list argument as None until setup derives it from the
# inputs (pooling's stride and pad, a random crop's shape).
_NONE_LISTS = {"MaxPooling", "AveragePooling", "SumPooling", "MaxPoolingBackward",
               "BinaryConnectConvolution", "BinaryWeightConvolution", "INQConvolution",
               "DeformableConvolution", "ImageAugmentation", "RandomCrop", "ScatterNd",
               "ClipGradByNorm", "NormNormalization", "RandomFlip", "RandomShift"}


def check_node(fn, checks):
    """A TypeError naming ``fn`` and the first argument whose stored value is not
    of its kind (``checks``: node_checks(type(fn))), or None; an integral float
    for an integer becomes the integer. A single number for a list passes here
    (some types keep one); node_argument_error is stricter."""
    for attr, fast, items, row in checks:
        # getattr, not fn.__dict__: reading __dict__ makes CPython build the
        # instance's dict, which cost more than the rest of the check
        value = getattr(fn, attr, _ABSENT)
        t = type(value)
        if t in fast:
            continue
        if items is not None and (t is tuple or t is list):
            for item in value:
                if type(item) not in items:
                    break
            else:
                continue
        wrong = _stored_problem(fn, attr, value, row)
        if wrong is not None:
            return wrong
    return None


def _stored_problem(fn, attr, value, row):
    """check_node's slow path: a value of no type that passes at once."""
    kind, label, none_ok, none_items, _ = row
    problem = argument_problem(kind, value, none_ok, none_items)
    if problem is not None:
        return TypeError(f"{fn.name}: {_describe(label, value, problem)}")
    if kind == "int" and isinstance(value, (float, np.floating, np.ndarray)):
        setattr(fn, attr, int(value))  # 2.0 is 2 (NNabla's), for the code that indexes with it
    return None


def node_argument_error(fn):
    """A TypeError naming ``fn`` and an argument that is not of its kind, a
    single number for a list included (NNabla: "'int' object is not iterable"),
    or None. Called only when setup or forward failed with NumPy's own message."""
    stored = fn.__dict__
    for attr, _, _, (kind, label, none_ok, none_items, scalar_ok) in node_checks(type(fn)):
        value = stored.get(attr, _ABSENT)
        if value is _ABSENT:
            continue
        problem = argument_problem(kind, value, none_ok, none_items, scalar_ok)
        if problem is not None:
            return TypeError(f"{fn.name}: {_describe(label, value, problem)}")
    return None


_PUBLIC_CHECKS = {}


def public_checks(function):
    """(parameter, kind, scalar for a list allowed) per argument of a public
    function that the table (or _PUBLIC_ONLY) gives a kind, and the name errors
    say: the table's type name, or the function's own for a composite."""
    got = _PUBLIC_CHECKS.get(function)
    if got is not None:
        return got
    spec = next((s for s in SPECS.values() if s.function == function), None)
    params = _public(function)
    rows = []
    if spec is not None and spec.type_name not in _OWN_CHECKS:
        for arg, kind in spec.args:
            label = _label(arg, params)
            if kind == "comm" or (spec.type_name, arg) in _NOT_CHECKED or (
                    params is not None and label not in params):
                continue
            rows.append((label, kind, (spec.type_name, arg) in _SCALAR_FOR_LIST,
                         (spec.type_name, arg) in _NONE_ITEMS))
    for arg, kind in _PUBLIC_ONLY.get(function, ()):
        rows.append((arg, kind, (function, arg) in _PUBLIC_SCALAR_OK, False))
    got = _PUBLIC_CHECKS[function] = (spec.type_name if spec is not None else function,
                                      tuple(rows), params)
    return got


def public_type(function):
    """The name a public function's errors start with (its type's, or its own)."""
    return public_checks(function)[0]


def public_argument_error(function, args, kwargs):
    """A TypeError naming the function and the first argument of a call
    ``function(*args, **kwargs)`` that is not of its kind, or None. Called only
    when the call failed with a message that names no argument, to say why."""
    name, rows, params = public_checks(function)
    if not rows or params is None:
        return None
    given = dict(kwargs)
    for p, value in zip(params.values(), args):
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break  # *inputs: the rest are inputs
        given.setdefault(p.name, value)
    for label, kind, scalar_ok, none_items in rows:
        if label not in given:
            continue
        value = given[label]
        default = params[label].default if label in params else _ABSENT
        if value is None and default is None:
            continue
        problem = argument_problem(kind, value, False, none_items, scalar_ok)
        if problem is not None:
            return TypeError(f"{name}: {_describe(label, value, problem)}")
    return None
