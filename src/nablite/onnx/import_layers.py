"""ONNX import rules of the layers: convolutions, pooling, normalizations,
Gemm/MatMul, resizing and the recurrent networks (see import_ops.py for how a
rule reads)."""
import numpy as np

from .. import functions as F
from ..variable import Variable
from .import_ops import _var, op, ranked

def _conv_pads(c, node, attrs, x, kernel, strides, dilations, transpose=False):
    nsp = len(kernel)
    pads = list(attrs.get("pads", [0] * 2 * nsp))
    auto = attrs.get("auto_pad", "NOTSET")
    if auto == "VALID":
        pads = [0] * 2 * nsp
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        if transpose:
            c.fail(node, f"auto_pad={auto} is not supported for ConvTranspose")
        pads = [0] * 2 * nsp
        for i, n in enumerate(x.shape[2:]):
            out = -(-n // strides[i])
            total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - n)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + nsp] = (small, big) if auto == "SAME_UPPER" else (big, small)
    return pads[:nsp], pads[nsp:]


def _pad_asymmetric(x, begins, ends, value=0.0):
    """x padded where begins and ends differ; returns (x, the symmetric pads left)."""
    if begins == ends:
        return x, begins
    extra = []
    for b, e in zip(begins, ends):
        extra += [b - min(b, e), e - min(b, e)]
    return F.pad(x, extra, constant_value=value), [min(b, e) for b, e in zip(begins, ends)]


@op("Conv")
def _conv(c, node, attrs, x, w, b=None):
    w, b = _var(c, w), _var(c, b)
    kernel = list(w.shape[2:])
    nsp = len(kernel)
    strides = attrs.get("strides", [1] * nsp)
    dilations = attrs.get("dilations", [1] * nsp)
    begins, ends = _conv_pads(c, node, attrs, x, kernel, strides, dilations)
    x, pad = _pad_asymmetric(x, begins, ends)
    return F.convolution(x, w, b, pad=pad, stride=strides, dilation=dilations,
                         group=attrs.get("group", 1))


@op("ConvTranspose")
def _conv_transpose(c, node, attrs, x, w, b=None):
    w, b = _var(c, w), _var(c, b)
    kernel = list(w.shape[2:])
    nsp = len(kernel)
    if "output_shape" in attrs:
        c.fail(node, "the output_shape attribute is not supported; give pads instead")
    strides = attrs.get("strides", [1] * nsp)
    dilations = attrs.get("dilations", [1] * nsp)
    begins, ends = _conv_pads(c, node, attrs, x, kernel, strides, dilations, transpose=True)
    if begins != ends:
        c.fail(node, f"asymmetric pads {begins + ends} are not supported")
    return F.deconvolution(x, w, b, pad=begins, stride=strides, dilation=dilations,
                           group=attrs.get("group", 1),
                           output_padding=attrs.get("output_padding", [0] * nsp))


def _pool_args(c, node, attrs, x):
    kernel = list(attrs["kernel_shape"])
    nsp = len(kernel)
    if any(d != 1 for d in attrs.get("dilations", [1] * nsp)):
        c.fail(node, f"dilations={attrs['dilations']} are not supported")
    if len(node.output) > 1 and node.output[1]:
        c.fail(node, "the Indices output is not supported")
    strides = attrs.get("strides", [1] * nsp)
    begins, ends = _conv_pads(c, node, attrs, x, kernel, strides, [1] * nsp)
    return kernel, strides, begins, ends, not attrs.get("ceil_mode", 0)


@op("MaxPool")
def _max_pool(c, node, attrs, x):
    kernel, strides, begins, ends, ignore = _pool_args(c, node, attrs, x)
    x, pad = _pad_asymmetric(x, begins, ends, -np.inf)
    return F.max_pooling(x, kernel, strides, ignore_border=ignore, pad=pad)


@op("AveragePool")
def _average_pool(c, node, attrs, x):
    kernel, strides, begins, ends, ignore = _pool_args(c, node, attrs, x)
    include = bool(attrs.get("count_include_pad", 0))
    if begins != ends and not include:
        c.fail(node, "asymmetric pads with count_include_pad=0 are not supported")
    x, pad = _pad_asymmetric(x, begins, ends)
    return F.average_pooling(x, kernel, strides, ignore_border=ignore, pad=pad,
                             including_pad=include)


@op("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(c, node, attrs, x):
    axes = tuple(range(2, x.ndim))
    if node.op_type == "GlobalAveragePool":
        return F.global_average_pooling(x) if x.ndim == 4 else F.mean(x, axes, keepdims=True)
    return F.max(x, axes, keepdims=True)


def _stat(c, v, shape, hint, need_grad=True):
    """A per-channel statistic or scale/shift in nablite's broadcast ``shape``: a
    constant becomes a parameter of that shape, a computed one is reshaped."""
    if v is None or isinstance(v, Variable):
        return v if v is None else F.reshape(v, shape)
    return c.param(np.reshape(v, shape), getattr(v, "onnx_name", hint), need_grad)


@op("BatchNormalization")
def _batch_normalization(c, node, attrs, x, scale, bias, mean, var):
    if attrs.get("training_mode", 0):
        c.fail(node, "training_mode=1 is not supported (import the inference graph)")
    stat = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return F.batch_normalization(x, _stat(c, bias, stat, "bn_bias"),
                                 _stat(c, scale, stat, "bn_scale"),
                                 _stat(c, mean, stat, "bn_mean", False),
                                 _stat(c, var, stat, "bn_var", False), axes=[1],
                                 eps=attrs.get("epsilon", 1e-5), batch_stat=False)


@op("Gemm")
def _gemm(c, node, attrs, a, b, bias=None):
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    if attrs.get("transA", 0):
        a = F.transpose(_var(c, a), (1, 0))
    if isinstance(b, Variable):
        w = F.transpose(b, (1, 0)) if attrs.get("transB", 0) else b
        if alpha != 1:
            w = F.mul_scalar(w, alpha)
    else:
        wb = np.asarray(b).T if attrs.get("transB", 0) else np.asarray(b)
        w = c.param(wb * alpha if alpha != 1 else wb, getattr(b, "onnx_name", "gemm_W"))
    n_out = w.shape[1]
    if bias is not None and not isinstance(bias, Variable) and np.size(bias) in (1, n_out):
        bias = c.param(np.broadcast_to(np.asarray(bias, np.float32).reshape(-1) * beta, (n_out,)),
                       getattr(bias, "onnx_name", "gemm_b"))
        return F.affine(a, w, bias)
    y = F.affine(a, w)
    if bias is None:
        return y
    y, bias = ranked(c, y, bias, need_grad=True)
    return F.add2(y, F.mul_scalar(bias, beta) if beta != 1 else bias)


@op("MatMul")
def _matmul(c, node, attrs, a, b):
    if not isinstance(b, Variable) and np.ndim(b) == 2 and isinstance(a, Variable):
        return F.affine(a, c.param(b, getattr(b, "onnx_name", "matmul_W")), base_axis=a.ndim - 1)
    a, b = _var(c, a), _var(c, b)
    if a.ndim == 2 and b.ndim == 2:
        return F.affine(a, b)
    if a.ndim == b.ndim and a.shape[:-2] == b.shape[:-2]:
        return F.batch_matmul(a, b)
    c.fail(node, f"MatMul of shapes {a.shape} and {b.shape} (broadcast batch axes) "
                 "is not supported")


@op("LayerNormalization")
def _layer_normalization(c, node, attrs, x, scale, bias=None):
    axis = attrs.get("axis", -1) % x.ndim
    if axis == 0:
        c.fail(node, "axis=0 (normalizing over every axis) is not supported")
    stat = (1,) * axis + x.shape[axis:]
    return F.layer_normalization(x, _stat(c, bias, stat, "ln_bias"),
                                 _stat(c, scale, stat, "ln_scale"),
                                 batch_axis=list(range(axis)), eps=attrs.get("epsilon", 1e-5))


@op("InstanceNormalization")
def _instance_normalization(c, node, attrs, x, scale, bias):
    stat = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return F.instance_normalization(x, _stat(c, bias, stat, "in_bias"),
                                    _stat(c, scale, stat, "in_scale"),
                                    eps=attrs.get("epsilon", 1e-5))


@op("Resize")
def _resize(c, node, attrs, x, roi=None, scales=None, sizes=None):
    def values(v):
        if v is None or np.size(v) == 0:
            return ()
        if isinstance(v, Variable):
            c.fail(node, "computed roi/scales/sizes are not supported")
        return [float(s) for s in np.asarray(v).reshape(-1)]
    if attrs.get("antialias", 0):  # opset 18's attributes
        c.fail(node, "antialias=1 is not supported")
    policy = attrs.get("keep_aspect_ratio_policy", "stretch")
    if policy != "stretch" and sizes is not None:
        c.fail(node, f"keep_aspect_ratio_policy={policy!r} is not supported (stretch)")
    roi, scales, sizes = values(roi), values(scales), [int(s) for s in values(sizes)]
    if "axes" in attrs:  # the values are for these axes only: the others keep their size
        axes = [a % x.ndim for a in attrs["axes"]]
        roi = _on_axes(axes, x.ndim, roi, [0.0] * x.ndim + [1.0] * x.ndim) if roi else roi
        scales = _on_axes(axes, x.ndim, scales, [1.0] * x.ndim) if scales else scales
        sizes = _on_axes(axes, x.ndim, sizes, list(x.shape)) if sizes else sizes
    return F.onnx_resize(x, roi=roi, scales=scales,
                         sizes=sizes, mode=attrs.get("mode", "nearest"),
                         coordinate_transformation_mode=attrs.get(
                             "coordinate_transformation_mode", "half_pixel"),
                         cubic_coeff_a=attrs.get("cubic_coeff_a", -0.75),
                         exclude_outside=attrs.get("exclude_outside", 0),
                         extrapolation_value=attrs.get("extrapolation_value", 0.0),
                         nearest_mode=attrs.get("nearest_mode", "round_prefer_floor"))


def _on_axes(axes, ndim, given, full):
    """Resize's per-axis values (roi: starts then ends) spread over all ``ndim`` axes."""
    full = list(full)
    k = len(axes)
    for i, a in enumerate(axes):
        full[a] = given[i]
        if len(full) == 2 * ndim:
            full[a + ndim] = given[i + k]
    return full


# ONNX's gate order -> nablite's: LSTM i o f c -> i f g o; GRU z r h -> r z n
_GATES = {"RNN": [0], "LSTM": [0, 2, 3, 1], "GRU": [1, 0, 2]}


@op("RNN", "LSTM", "GRU")
def _recurrent(c, node, attrs, x, w, r, b=None, seq_lens=None, h0=None, c0=None, peep=None):
    """ONNX RNN / LSTM / GRU (layout 0, full sequences) as F.rnn / F.lstm / F.gru:
    nablite's weight is [W R] along the last axis with the gates in its order;
    its bias is the sum of ONNX's two (GRU: NNabla's fourth row is the
    recurrent bias of the candidate, so linear_before_reset must be 1)."""
    kind = node.op_type
    if seq_lens is not None:
        c.fail(node, "sequence_lens is not supported (all sequences must be full)")
    if peep is not None or attrs.get("input_forget", 0):
        c.fail(node, "peepholes and input_forget are not supported")
    if attrs.get("layout", 0) != 0 or "clip" in attrs:
        c.fail(node, "layout=1 and clip are not supported")
    if kind == "GRU" and not attrs.get("linear_before_reset", 0):
        c.fail(node, "linear_before_reset=0 is not supported (NNabla's GRU resets after the "
                     "recurrent product, as PyTorch's)")
    direction = attrs.get("direction", "forward")
    if direction == "reverse":
        c.fail(node, "direction='reverse' is not supported")
    defaults = {"RNN": ["tanh"], "LSTM": ["sigmoid", "tanh", "tanh"],
                "GRU": ["sigmoid", "tanh"]}[kind]
    acts = [a.lower() for a in attrs.get("activations", defaults)]
    nonlinearity = acts[0] if kind == "RNN" else None
    if kind == "RNN" and (len(set(acts)) != 1 or acts[0] not in ("tanh", "relu")):
        c.fail(node, f"activations {acts} are not supported (Tanh or Relu)")
    if kind != "RNN" and acts[:len(defaults)] * (len(acts) // len(defaults)) != acts or \
            acts[:len(defaults)] != defaults:
        c.fail(node, f"activations {acts} are not supported (the defaults {defaults})")
    if any(isinstance(v, Variable) for v in (w, r, b)):
        c.fail(node, "computed weights or biases are not supported")
    D, H = np.shape(w)[0], attrs["hidden_size"]
    T, B, n_in = x.shape
    G = len(_GATES[kind])
    perm = _GATES[kind]
    wx = np.asarray(w).reshape(D, G, H, n_in)[:, perm]
    wh = np.asarray(r).reshape(D, G, H, H)[:, perm]
    weight = np.concatenate([wx, wh], axis=3)
    name = getattr(w, "onnx_name", f"{kind.lower()}_W")
    weight = c.param(weight[:, 0] if kind == "RNN" else weight, name)
    bias = None
    if b is not None:
        bx, bh = np.asarray(b).reshape(D, 2, G, H)[:, 0][:, perm], \
            np.asarray(b).reshape(D, 2, G, H)[:, 1][:, perm]
        if kind == "RNN":
            rows = (bx + bh)[:, 0]
        elif kind == "LSTM":
            rows = bx + bh
        else:
            rows = np.concatenate([bx[:, :2] + bh[:, :2], bx[:, 2:], bh[:, 2:]], axis=1)
        bias = c.param(rows[None], getattr(b, "onnx_name", f"{kind.lower()}_B"))

    def state(v, suffix):
        if v is None:
            return c.param(np.zeros((1, D, B, H), np.float32), name + suffix, need_grad=False)
        return F.reshape(_var(c, v, need_grad=False), (1, D, B, H))
    h = state(h0, "_h0")
    bidirectional = direction == "bidirectional"
    if kind == "RNN":
        outs = F.rnn(x, h, weight, bias=bias, nonlinearity=nonlinearity,
                     bidirectional=bidirectional, training=False)
    elif kind == "LSTM":
        outs = F.lstm(x, h, state(c0, "_c0"), weight, bias=bias, bidirectional=bidirectional,
                      training=False)
    else:
        outs = F.gru(x, h, weight, bias=bias, bidirectional=bidirectional, training=False)
    seq = F.transpose(F.reshape(outs[0], (T, B, D, H)), (0, 2, 1, 3))
    return [seq] + [F.reshape(s, (D, B, H)) for s in outs[1:]]


@op("Det")
def _det(c, node, attrs, x):
    if x.ndim == 2:
        return F.reshape(F.batch_det(F.reshape(x, (1,) + x.shape)), ())
    lead = x.shape[:-2]
    y = F.batch_det(F.reshape(x, (int(np.prod(lead)),) + x.shape[-2:]))
    return F.reshape(y, lead)
