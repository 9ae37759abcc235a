"""Export rules of the layers: affine, matrix products, embedding, convolutions,
pooling, resizing, normalizations and recurrent networks (see ops.py for how a
rule reads)."""
import math

import numpy as np

from .ops import EXPORT_RULES, in_shape, rule, unsupported


@rule("Affine", "Gemm (MatMul without bias), Reshape")
def _affine(e, f, x, w, b=None):
    xs, ws, ba = in_shape(f), in_shape(f, 1), f.args["base_axis"]
    rows, n_in, n_out = math.prod(xs[:ba]), ws[0], math.prod(ws[1:])
    x2 = e.reshape(x, (rows, n_in)) if xs != (rows, n_in) else x
    w2 = e.reshape(w, (n_in, n_out)) if len(ws) != 2 else w
    if b is None:
        y = e.node("MatMul", [x2, w2])
    else:
        y = e.node("Gemm", [x2, w2, e.reshape(b, (n_out,)) if in_shape(f, 2) != (n_out,) else b])
    out = tuple(f.out_shapes[0])
    return y if out == (rows, n_out) else e.reshape(y, out)


@rule("BatchMatmul", "Transpose, MatMul")
def _batch_matmul(e, f, a, b):
    def maybe_t(v, i, flag):
        nd = len(in_shape(f, i))
        return e.node("Transpose", [v], perm=list(range(nd - 2)) + [nd - 1, nd - 2]) if flag else v
    return e.node("MatMul", [maybe_t(a, 0, f.args["transpose_a"]),
                             maybe_t(b, 1, f.args["transpose_b"])])


@rule("Embed", "Cast, Gather")
def _embed(e, f, x, w):
    return e.node("Gather", [w, e.node("Cast", [x], to=e.INT64)], axis=0)


def _batched(e, f, x, spatial, op):
    """Run ``op(x4)`` on x as ONNX's (N, C, *spatial) and give the result nablite's
    layout back: inputs with several or no batch axes are reshaped, and
    channel_last ones (N, *spatial, C) transposed."""
    xs = in_shape(f)
    if f.args.get("channel_last"):
        if len(xs) != spatial + 2:
            unsupported(f, f"with channel_last=True needs x of {spatial + 2} dimensions, "
                           f"got {xs}")
        y = op(e.transpose(x, _TO_FIRST[spatial]))
        return e.transpose(y, [0] + list(range(2, spatial + 2)) + [1])
    lead = xs[:len(xs) - spatial - 1]
    if len(lead) == 1:
        return op(x)
    y = op(e.reshape(x, (math.prod(lead),) + xs[len(lead):]))
    return e.reshape(y, f.out_shapes[0])


# (N, *spatial, C) -> (N, C, *spatial); the same permutation moves a channel-last
# filter's last axis to ONNX's second place
_TO_FIRST = {n: [0, n + 1] + list(range(1, n + 1)) for n in range(1, 4)}


def _filter(e, f, w, nsp):
    return e.transpose(w, _TO_FIRST[nsp]) if f.args.get("channel_last") else w


@rule("Convolution", "Conv (Transpose for channel_last)")
def _convolution(e, f, x, w, b=None):
    a, ws = f.args, in_shape(f, 1)
    nsp = len(ws) - 2
    if a["base_axis"] != len(in_shape(f)) - nsp - 1:
        unsupported(f, f"base_axis={a['base_axis']} does not leave one channel axis before "
                       f"the {nsp} spatial axes of x {in_shape(f)}")
    ins = [_filter(e, f, w, nsp)] + ([b] if b is not None else [])
    kernel = ws[1:-1] if a["channel_last"] else ws[2:]
    return _batched(e, f, x, nsp, lambda x4: e.node(
        "Conv", [x4] + ins, pads=list(a["pad"]) * 2, strides=list(a["stride"]),
        dilations=list(a["dilation"]), group=a["group"], kernel_shape=list(kernel)))


@rule("DepthwiseConvolution", "Conv (group = channels)")
def _depthwise_convolution(e, f, x, w, b=None):
    a, ws = f.args, in_shape(f, 1)
    nsp = len(ws) - 1
    channels = in_shape(f)[a["base_axis"]]
    w4 = e.reshape(w, (ws[0], 1) + ws[1:])
    ins = [w4] + ([b] if b is not None else [])
    return _batched(e, f, x, nsp, lambda x4: e.node(
        "Conv", [x4] + ins, pads=list(a["pad"]) * 2, strides=list(a["stride"]),
        dilations=list(a["dilation"]), group=channels, kernel_shape=list(ws[1:])))


@rule("Deconvolution", "ConvTranspose (Transpose for channel_last)")
def _deconvolution(e, f, x, w, b=None):
    a, ws = f.args, in_shape(f, 1)
    nsp = len(ws) - 2
    ins = [_filter(e, f, w, nsp)] + ([b] if b is not None else [])
    kernel = ws[1:-1] if a["channel_last"] else ws[2:]
    return _batched(e, f, x, nsp, lambda x4: e.node(
        "ConvTranspose", [x4] + ins, pads=list(a["pad"]) * 2, strides=list(a["stride"]),
        dilations=list(a["dilation"]), group=a["group"], kernel_shape=list(kernel),
        output_padding=list(a.get("output_padding") or [0] * nsp)))


@rule("DepthwiseDeconvolution", "ConvTranspose (grouped)")
def _depthwise_deconvolution(e, f, x, w, b=None):
    a, ws = f.args, in_shape(f, 1)
    nsp = len(ws) - 1
    channels = in_shape(f)[a["base_axis"]]
    groups = channels // a["divisor"]
    w4 = e.reshape(w, (ws[0], 1) + ws[1:])
    ins = [w4] + ([b] if b is not None else [])
    return _batched(e, f, x, nsp, lambda x4: e.node(
        "ConvTranspose", [x4] + ins, pads=list(a["pad"]) * 2, strides=list(a["stride"]),
        dilations=list(a["dilation"]), group=groups, kernel_shape=list(ws[1:])))


def _pool(op):
    def convert(e, f, x):
        a = f.args
        k = list(a["kernel"])
        attrs = dict(kernel_shape=k, strides=list(a["stride"]), pads=list(a["pad"]) * 2,
                     ceil_mode=int(not a["ignore_border"]))
        if op == "AveragePool":
            attrs["count_include_pad"] = int(a.get("including_pad", True))
        return _batched(e, f, x, len(k), lambda x4: e.node(op, [x4], **attrs))
    return convert


rule("MaxPooling", "MaxPool (Transpose for channel_last)")(_pool("MaxPool"))
rule("AveragePooling", "AveragePool (Transpose for channel_last)")(_pool("AveragePool"))


@rule("SumPooling", "AveragePool, Mul")
def _sum_pooling(e, f, x):
    if not f.args["ignore_border"]:
        unsupported(f, "with ignore_border=False has no ONNX form here")
    a = f.args
    k = list(a["kernel"])
    y = _batched(e, f, x, len(k), lambda x4: e.node(
        "AveragePool", [x4], kernel_shape=k, strides=list(a["stride"]),
        pads=list(a["pad"]) * 2, count_include_pad=1))
    return e.node("Mul", [y, e.scalar(float(math.prod(k)))])


@rule("GlobalAveragePooling", "GlobalAveragePool")
def _global_average_pooling(e, f, x):
    return e.node("GlobalAveragePool", [x])


def _bn_params(e, f, names):
    """beta, gamma, mean, variance of a batch normalization (absent ones as 0 / 1)."""
    a = f.args
    names = list(names)
    shape = in_shape(f, 1)
    beta = None if a["no_bias"] else names.pop(0)
    gamma = None if a["no_scale"] else names.pop(0)
    if not getattr(f, "_has_running", True) or a["batch_stat"]:
        unsupported(f, "with batch_stat=True (training form) has no ONNX equivalent; export "
                       "the graph built with batch_stat=False (test=True)")
    mean, var = names[:2]
    beta = beta or e.const(np.zeros(shape, np.float32))
    gamma = gamma or e.const(np.ones(shape, np.float32))
    return beta, gamma, mean, var, names[2:]


def _batch_norm(e, f, x, beta, gamma, mean, var):
    xs, axes, eps = in_shape(f), list(f.args["axes"]), float(f.args["eps"])
    if axes == [1] and len(xs) >= 2:
        c = (xs[1],)
        return e.node("BatchNormalization", [x] + [e.reshape(p, c) for p in (gamma, beta, mean, var)],
                      epsilon=eps)
    inv = e.node("Reciprocal", [e.node("Sqrt", [e.node("Add", [var, e.scalar(eps)])])])
    y = e.node("Mul", [e.node("Sub", [x, mean]), e.node("Mul", [inv, gamma])])
    return e.node("Add", [y, beta])


@rule("BatchNormalization SyncBatchNormalization", "BatchNormalization (inference)")
def _batch_normalization(e, f, x, *params):
    beta, gamma, mean, var, _ = _bn_params(e, f, params)
    return _batch_norm(e, f, x, beta, gamma, mean, var)


@rule("FusedBatchNormalization", "BatchNormalization, Add, Relu")
def _fused_batch_normalization(e, f, x, *params):
    beta, gamma, mean, var, rest = _bn_params(e, f, params)
    y = _batch_norm(e, f, x, beta, gamma, mean, var)
    if getattr(f, "_has_z", False):
        y = e.node("Add", [y, rest[0]])
    return e.node("Relu", [y])


@rule("FusedConvolution", "Conv, BatchNormalization, Add, the activation (Pad before Conv "
                          "for pad_mode reflect/repeat or a non-zero constant)")
def _fused_convolution(e, f, *names):
    # The node's own stages (functions/convolutions.py), each by its own rule.
    given = {n: names[i] for n, i in f._slots.items()}
    if f._bn is not None and f._bn.batch_stat:
        unsupported(f, "with batch_stat=True (training form) has no ONNX equivalent; export "
                       "the graph built with batch_stat=False (test=True)")

    def stage(fn, *inputs):
        return EXPORT_RULES[fn.name].convert(e, fn, *inputs)
    h = given["x"]
    if f._pad is not None:
        h = stage(f._pad, h)
    h = stage(f._conv, h, given["weight"], *([given["bias"]] if "bias" in given else []))
    if f._bn is not None:
        h = stage(f._bn, h, *[given[n] for n in ("beta", "gamma", "mean", "variance")])
    if f._add is not None:
        h = stage(f._add, h, given["z"])
    if f._act is not None:
        h = stage(f._act, h)
    return h


def _standardized(e, f, x, params, view, axes, eps):
    """(x - mean) / sqrt(var + eps) over ``axes`` of x seen as ``view``, then the
    optional gamma and beta (``params`` in nablite's order: beta, gamma)."""
    xs = in_shape(f)
    a = f.args
    params = list(params)
    beta = None if a.get("no_bias", True) else params.pop(0)
    gamma = None if a.get("no_scale", True) else params.pop(0)
    v = e.reshape(x, view) if tuple(view) != xs else x
    d = e.node("Sub", [v, e.node("ReduceMean", [v], axes=list(axes), keepdims=1)])
    var = e.node("ReduceMean", [e.node("Mul", [d, d])], axes=list(axes), keepdims=1)
    y = e.node("Div", [d, e.node("Sqrt", [e.node("Add", [var, e.scalar(float(eps))])])])
    y = e.reshape(y, xs) if tuple(view) != xs else y
    if gamma is not None:
        y = e.node("Mul", [y, gamma])
    return e.node("Add", [y, beta]) if beta is not None else y


@rule("LayerNormalization InstanceNormalization GroupNormalization WeightStandardization",
      "ReduceMean, Sub, Mul, Sqrt, Div, Add")
def _normalization(e, f, x, *params):
    if getattr(f, "_output_stat", False):
        unsupported(f, "with output_stat=True is not exported")
    return _standardized(e, f, x, params, f._view, f._red, f.args["eps"])


@rule("WeightNormalization", "Mul, ReduceSum, Sqrt, Div")
def _weight_normalization(e, f, w, g):
    sq = e.node("ReduceSum", [e.node("Mul", [w, w]), e.ints(list(f._red))], keepdims=1)
    norm = e.node("Sqrt", [e.node("Add", [sq, e.scalar(float(f.args["eps"]))])])
    return e.node("Mul", [w, e.node("Div", [e.reshape(g, f._bshape), norm])])


@rule("MeanSubtraction", "Sub (inference)")
def _mean_subtraction(e, f, x, mean, t):
    if f.args.get("update_running_mean"):
        unsupported(f, "with update_running_mean=True (training form) is not exported")
    return e.node("Sub", [x, mean])


@rule("ONNXResize", "Resize")
def _onnx_resize(e, f, x):
    a = f.args
    roi = e.const(np.array(a["roi"], np.float32)) if a["roi"] else ""
    if a["sizes"]:
        inputs = [x, roi, "", e.ints(a["sizes"])]
    else:
        inputs = [x, roi, e.const(np.array(a["scales"], np.float32))]
    return e.node("Resize", inputs, mode=a["mode"],
                  coordinate_transformation_mode=a["coordinate_transformation_mode"],
                  cubic_coeff_a=float(a["cubic_coeff_a"]), exclude_outside=a["exclude_outside"],
                  extrapolation_value=float(a["extrapolation_value"]),
                  nearest_mode=a["nearest_mode"])


@rule("Interpolate", "Resize (Transpose for channel_last)")
def _interpolate(e, f, x):
    a = f.args
    if a["mode"] == "nearest":
        coord = "tf_half_pixel_for_nn" if a["half_pixel_for_nn"] else "asymmetric"
        attrs = dict(mode="nearest", nearest_mode="floor")
    elif a["mode"] == "linear":
        coord = ("align_corners" if a["align_corners"] else
                 "pytorch_half_pixel" if a["half_pixel"] else "asymmetric")
        attrs = dict(mode="linear")
    else:
        unsupported(f, f"with mode={a['mode']!r} is not exported (nearest, linear)")
    out = list(f.out_shapes[0])
    if not a["channel_last"]:
        return e.node("Resize", [x, "", "", e.ints(out)], coordinate_transformation_mode=coord,
                      **attrs)
    first = [out[0], out[-1]] + out[1:-1]
    return _batched(e, f, x, len(out) - 2, lambda x4: e.node(
        "Resize", [x4, "", "", e.ints(first)], coordinate_transformation_mode=coord, **attrs))


@rule("Unpooling", "Resize (nearest)")
def _unpooling(e, f, x):
    # the sizes cover every axis, so the layout does not matter
    return e.node("Resize", [x, "", "", e.ints(f.out_shapes[0])], mode="nearest",
                  coordinate_transformation_mode="asymmetric", nearest_mode="floor")


# NNabla's gate order -> ONNX's: LSTM i f g o -> i o f c; GRU r z n -> z r h
_GATES = {"RNN": None, "LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2]}


def _layer_bias(e, f, b, layer, D, H):
    """ONNX's B (D, 2 G H): the input-side then the recurrent-side biases."""
    kind = f.name
    G = 3 if kind == "GRU" else (4 if kind == "LSTM" else 1)
    if b is None:
        return e.const(np.zeros((D, 2 * G * H), np.float32))
    bl = e.node("Gather", [b, e.ints(layer)], axis=0)  # (D, H) or (D, rows, H)
    if kind == "RNN":
        return e.node("Concat", [bl, e.const(np.zeros((D, H), np.float32))], axis=1)
    wb = e.reshape(e.node("Gather", [bl, e.ints(_GATES[kind])], axis=1), (D, G * H))
    if kind == "LSTM":
        rb = e.const(np.zeros((D, G * H), np.float32))
    else:  # NNabla's fourth GRU bias row is the recurrent bias of the candidate
        rb = e.node("Concat", [e.const(np.zeros((D, 2 * H), np.float32)),
                               e.reshape(e.node("Gather", [bl, e.ints([3])], axis=1), (D, H))],
                    axis=1)
    return e.node("Concat", [wb, rb], axis=1)


@rule("RNN LSTM GRU", "RNN / LSTM / GRU (one per layer), Transpose, Reshape, Concat; "
                      "RNN unrolled to Gemm + activation with unroll_rnn=True")
def _recurrent(e, f, *names):
    """F.rnn / F.lstm / F.gru as one ONNX node per layer: nablite's weight rows
    reordered to ONNX's gate order and its columns split into W (input) and R
    (hidden); the biases as ONNX's B (see _layer_bias)."""
    kind = f.name
    if kind == "RNN" and e.unroll_rnn:
        return _rnn_unrolled(e, f, *names)
    cell = kind == "LSTM"
    x, h = names[0], names[1]
    c = names[2] if cell else None
    rest = list(names[3:] if cell else names[2:])
    w0 = rest.pop(0)
    w = rest.pop(0) if getattr(f, "_has_weight", False) else None
    b = rest.pop(0) if getattr(f, "_has_bias", False) else None
    T, B, n_in = in_shape(f)
    L, D, _, H = in_shape(f, 1)
    G = {"RNN": 1, "LSTM": 4, "GRU": 3}[kind]
    attrs = {"hidden_size": H, "direction": "bidirectional" if D == 2 else "forward"}
    if kind == "RNN":
        attrs["activations"] = [{"tanh": "Tanh", "relu": "Relu"}[f.args["nonlinearity"]]] * D
    if kind == "GRU":
        attrs["linear_before_reset"] = 1
    y, finals, cells = x, [], []
    for layer in range(L):
        width = n_in if layer == 0 else D * H
        wl = w0 if layer == 0 else e.node("Gather", [w, e.ints(layer - 1)], axis=0)
        if G > 1:
            wl = e.reshape(e.node("Gather", [wl, e.ints(_GATES[kind])], axis=1),
                           (D, G * H, width + H))
        wx = e.node("Slice", [wl, e.ints([0]), e.ints([width]), e.ints([2])])
        wh = e.node("Slice", [wl, e.ints([width]), e.ints([width + H]), e.ints([2])])
        inputs = [y, wx, wh, _layer_bias(e, f, b, layer, D, H), "",
                  e.node("Gather", [h, e.ints(layer)], axis=0)]
        if cell:
            inputs.append(e.node("Gather", [c, e.ints(layer)], axis=0))
        outs = e.node(kind, inputs, n_out=3 if cell else 2, **attrs)
        y = e.reshape(e.node("Transpose", [outs[0]], perm=[0, 2, 1, 3]), (T, B, D * H))
        finals.append(e.node("Unsqueeze", [outs[1], e.ints([0])]))
        if cell:
            cells.append(e.node("Unsqueeze", [outs[2], e.ints([0])]))
    stack = (lambda parts: parts[0] if L == 1 else e.node("Concat", parts, axis=0))
    return [y, stack(finals)] + ([stack(cells)] if cell else [])


def _rnn_unrolled(e, f, x, h, w0, *rest):
    """F.rnn as its time steps: h_t = act(x_t Wx^T + h_{t-1} Wh^T + b) per layer and
    direction, the outputs concatenated as F.rnn gives them."""
    rest = list(rest)
    w = rest.pop(0) if getattr(f, "_has_weight", False) else None
    b = rest.pop(0) if getattr(f, "_has_bias", False) else None
    T, B, n_in = in_shape(f)
    L, D, _, H = in_shape(f, 1)
    act = {"tanh": "Tanh", "relu": "Relu"}[f.args["nonlinearity"]]
    zeros = e.const(np.zeros(H, np.float32))
    steps = [e.node("Gather", [x, e.ints(t)], axis=0) for t in range(T)]  # (B, I) each
    finals = []
    for layer in range(L):
        width = n_in if layer == 0 else D * H
        wl = w0 if layer == 0 else e.node("Gather", [w, e.ints(layer - 1)], axis=0)
        per_direction = []
        for d in range(D):
            wd = e.node("Gather", [wl, e.ints(d)], axis=0)  # (H, width + H)
            wx = e.node("Slice", [wd, e.ints([0]), e.ints([width]), e.ints([1])])
            wh = e.node("Slice", [wd, e.ints([width]), e.ints([width + H]), e.ints([1])])
            bias = (e.node("Gather", [e.node("Gather", [b, e.ints(layer)], axis=0), e.ints(d)],
                           axis=0) if b is not None else zeros)
            state = e.node("Gather", [e.node("Gather", [h, e.ints(layer)], axis=0), e.ints(d)],
                           axis=0)
            outs = [None] * T
            for t in (range(T) if d == 0 else reversed(range(T))):
                z = e.node("Gemm", [steps[t], wx, bias], transB=1)
                state = e.node(act, [e.node("Add", [z, e.node("Gemm", [state, wh], transB=1)])])
                outs[t] = state
            per_direction.append(outs)
            finals.append(state)
        steps = [outs_t[0] if D == 1 else e.node("Concat", list(outs_t), axis=1)
                 for outs_t in zip(*per_direction)]
    y = e.node("Concat", [e.node("Unsqueeze", [s, e.ints([0])]) for s in steps], axis=0)
    hn = e.reshape(e.node("Concat", [e.node("Unsqueeze", [s, e.ints([0])]) for s in finals],
                          axis=0), (L, D, B, H))
    return [y, hn]
