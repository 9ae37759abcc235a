"""How each nablite function becomes ONNX nodes: one rule per NNabla type name.

A rule ``convert(e, f, *names)`` gets the emitter ``e`` (exporter.py: ``e.node``,
``e.const``, ``e.ints``, ``e.scalar``, ``e.reshape``), the nablite Function
``f`` (its ``args``, input shapes, ``out_shapes``) and the ONNX names of its
inputs, and returns the ONNX name of each output. Shapes are static in
nablite, so every shape a node needs is written as a constant. ``EXPORT_RULES``
is also the README's table of what is supported (export.supported_table).
"""
import math
from collections import namedtuple

import numpy as np

Rule = namedtuple("Rule", "onnx_ops since convert")
EXPORT_RULES = {}


def rule(type_names, onnx_ops, since=13):
    """Register ``convert`` for each NNabla type name; ``onnx_ops`` is what the
    README table shows, ``since`` the first opset the rule works with."""
    def register(convert):
        for name in type_names.split():
            EXPORT_RULES[name] = Rule(onnx_ops, since, convert)
        return convert
    return register


class ExportError(ValueError):
    """A nablite graph that cannot be written as ONNX."""


def unsupported(f, why):
    raise ExportError(f"nablite.onnx.export: {f.name} {why}")


def in_shape(f, i=0):
    return tuple(f.inputs[i].shape)


# -- elementwise ------------------------------------------------------------
_UNARY = {"ReLU": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Exp": "Exp", "Log": "Log",
          "Abs": "Abs", "Sin": "Sin", "Cos": "Cos", "Tan": "Tan", "Sinh": "Sinh",
          "Cosh": "Cosh", "ASin": "Asin", "ACos": "Acos", "ATan": "Atan", "ASinh": "Asinh",
          "ACosh": "Acosh", "ATanh": "Atanh", "Erf": "Erf", "Sign": "Sign", "Ceil": "Ceil",
          "Floor": "Floor", "SoftSign": "Softsign", "Identity": "Identity"}
for _name, _op in _UNARY.items():
    rule(_name, _op)(lambda e, f, x, _op=_op: e.node(_op, [x]))


@rule("Dropout", "Identity (inference)")
def _dropout(e, f, x):
    return e.node("Identity", [x])


@rule("LeakyReLU", "LeakyRelu")
def _leaky_relu(e, f, x):
    return e.node("LeakyRelu", [x], alpha=float(f.args["alpha"]))


@rule("ELU", "Elu")
def _elu(e, f, x):
    return e.node("Elu", [x], alpha=float(f.args["alpha"]))


@rule("SELU", "Selu")
def _selu(e, f, x):
    return e.node("Selu", [x], alpha=float(f.args["alpha"]), gamma=float(f.args["scale"]))


@rule("HardSigmoid", "HardSigmoid")
def _hard_sigmoid(e, f, x):
    return e.node("HardSigmoid", [x], alpha=0.2, beta=0.5)


@rule("HardTanh", "Clip")
def _hard_tanh(e, f, x):
    return e.node("Clip", [x, e.scalar(-1.0), e.scalar(1.0)])


@rule("ReLU6", "Clip")
def _relu6(e, f, x):
    return e.node("Clip", [x, e.scalar(0.0), e.scalar(6.0)])


@rule("SoftPlus", "Softplus (Mul, Div when beta != 1)")
def _softplus(e, f, x):
    beta = float(f.args["beta"])
    if beta == 1:
        return e.node("Softplus", [x])
    y = e.node("Softplus", [e.node("Mul", [x, e.scalar(beta)])])
    return e.node("Div", [y, e.scalar(beta)])


@rule("Swish", "Sigmoid, Mul")
def _swish(e, f, x):
    return e.node("Mul", [x, e.node("Sigmoid", [x])])


@rule("GELU", "Tanh, Mul, Add (tanh form)")
def _gelu(e, f, x):
    # NNabla's GELU is the tanh approximation: 0.5 x (1 + tanh(k (x + c x^3)))
    cube = e.node("Mul", [e.node("Mul", [x, x]), x])
    inner = e.node("Add", [x, e.node("Mul", [cube, e.scalar(0.044715)])])
    t = e.node("Tanh", [e.node("Mul", [inner, e.scalar(math.sqrt(2.0 / math.pi))])])
    return e.node("Mul", [e.node("Mul", [x, e.scalar(0.5)]), e.node("Add", [t, e.scalar(1.0)])])


@rule("Mish", "Softplus, Tanh, Mul")
def _mish(e, f, x):
    return e.node("Mul", [x, e.node("Tanh", [e.node("Softplus", [x])])])


@rule("LogSigmoid", "Neg, Softplus")
def _log_sigmoid(e, f, x):
    return e.node("Neg", [e.node("Softplus", [e.node("Neg", [x])])])


@rule("TanhShrink", "Tanh, Sub")
def _tanh_shrink(e, f, x):
    return e.node("Sub", [x, e.node("Tanh", [x])])


@rule("Round", "Sign, Abs, Floor, Mul")
def _round(e, f, x):
    # NNabla rounds halves away from zero; ONNX Round rounds them to even
    up = e.node("Floor", [e.node("Add", [e.node("Abs", [x]), e.scalar(0.5)])])
    return e.node("Mul", [e.node("Sign", [x]), up])


@rule("CReLU", "Relu, Neg, Concat")
def _crelu(e, f, x):
    return e.node("Concat", [e.node("Relu", [x]), e.node("Relu", [e.node("Neg", [x])])],
                  axis=f.args["axis"])


@rule("CELU", "Elu, Neg, Concat")
def _celu(e, f, x):
    alpha = float(f.args["alpha"])
    return e.node("Concat", [e.node("Elu", [x], alpha=alpha),
                             e.node("Elu", [e.node("Neg", [x])], alpha=alpha)],
                  axis=f.args["axis"])


@rule("PReLU", "PRelu")
def _prelu(e, f, x, w):
    xs, ws, ba = in_shape(f), in_shape(f, 1), f.args["base_axis"]
    if len(ws) == 1 and ws[0] != 1:  # one slope per channel at base_axis
        w = e.reshape(w, ws + (1,) * (len(xs) - ba - 1))
    return e.node("PRelu", [x, w])


_BINARY = {"Add2": "Add", "Sub2": "Sub", "Mul2": "Mul", "Div2": "Div", "Pow2": "Pow",
           "Maximum2": "Max", "Minimum2": "Min"}
for _name, _op in _BINARY.items():
    rule(_name, _op)(lambda e, f, a, b, _op=_op: e.node(_op, [a, b]))

# (ONNX op, whether the scalar is the first operand)
_SCALAR = {"AddScalar": ("Add", False), "MulScalar": ("Mul", False),
           "PowScalar": ("Pow", False), "RSubScalar": ("Sub", True),
           "RDivScalar": ("Div", True), "RPowScalar": ("Pow", True),
           "MaximumScalar": ("Max", False), "MinimumScalar": ("Min", False)}
for _name, (_op, _first) in _SCALAR.items():
    @rule(_name, _op)
    def _scalar_op(e, f, x, _op=_op, _first=_first):
        c = e.scalar(float(f.args["val"]))
        return e.node(_op, [c, x] if _first else [x, c])


@rule("AddN", "Sum")
def _add_n(e, f, *xs):
    return e.node("Sum", list(xs))


@rule("MulN", "Mul")
def _mul_n(e, f, *xs):
    y = xs[0]
    for x in xs[1:]:
        y = e.node("Mul", [y, x])
    return y


# comparisons and logic give NNabla's 0/1 floats
_COMPARE = {"Greater": "Greater", "GreaterEqual": "GreaterOrEqual", "Less": "Less",
            "LessEqual": "LessOrEqual", "Equal": "Equal"}
for _name, _op in _COMPARE.items():
    rule(_name, _op + ", Cast")(
        lambda e, f, a, b, _op=_op: e.to_float(e.node(_op, [a, b])))
    rule(_name + "Scalar", _op + ", Cast")(
        lambda e, f, x, _op=_op: e.to_float(e.node(_op, [x, e.scalar(float(f.args["val"]))])))


@rule("NotEqual", "Equal, Not, Cast")
def _not_equal(e, f, a, b):
    return e.to_float(e.node("Not", [e.node("Equal", [a, b])]))


@rule("NotEqualScalar", "Equal, Not, Cast")
def _not_equal_scalar(e, f, x):
    return e.to_float(e.node("Not", [e.node("Equal", [x, e.scalar(float(f.args["val"]))])]))


for _name, _op in {"LogicalAnd": "And", "LogicalOr": "Or", "LogicalXor": "Xor"}.items():
    rule(_name, _op + ", Cast")(
        lambda e, f, a, b, _op=_op: e.to_float(e.node(_op, [e.to_bool(a), e.to_bool(b)])))
    rule(_name + "Scalar", _op + ", Cast")(
        lambda e, f, x, _op=_op: e.to_float(e.node(
            _op, [e.to_bool(x), e.const(np.array(bool(f.args["val"])))])))


@rule("LogicalNot", "Not, Cast")
def _logical_not(e, f, x):
    return e.to_float(e.node("Not", [e.to_bool(x)]))


@rule("Where", "Where")
def _where(e, f, c, a, b):
    return e.node("Where", [e.to_bool(c), a, b])


# -- reductions -------------------------------------------------------------
def _reduce(op):
    def convert(e, f, x):
        axes, keep = list(f.args.get("axes", range(len(in_shape(f))))), f.args["keep_dims"]
        if f.args.get("with_index") or f.args.get("only_index"):
            unsupported(f, "with with_index/only_index has no ONNX form here; use F.max/F.min "
                           "without indices")
        if not axes:
            return e.node("Identity", [x])
        if op == "ReduceSum":  # axes became an input in opset 13, for the others in 18
            return e.node(op, [x, e.ints(axes)], keepdims=int(keep))
        return e.node(op, [x], axes=axes, keepdims=int(keep))
    return convert


for _name, _op in {"Sum": "ReduceSum", "Mean": "ReduceMean", "Max": "ReduceMax",
                   "Min": "ReduceMin", "Prod": "ReduceProd"}.items():
    rule(_name, _op)(_reduce(_op))


# -- shapes and arrangement --------------------------------------------------
@rule("Reshape", "Reshape")
def _reshape(e, f, x):
    return e.reshape(x, f.out_shapes[0])


@rule("Transpose", "Transpose")
def _transpose(e, f, x):
    return e.node("Transpose", [x], perm=list(f.args["axes"]))


@rule("Concatenate", "Concat")
def _concatenate(e, f, *xs):
    return e.node("Concat", list(xs), axis=f.args["axis"])


@rule("Slice", "Slice")
def _slice(e, f, x):
    # nablite's start/stop/step are Python's (a stop of -n-1 reads "before the
    # beginning"), which ONNX's clamping reproduces
    a = f.args
    return e.node("Slice", [x, e.ints(a["start"]), e.ints(a["stop"]),
                            e.ints(range(len(a["start"]))), e.ints(a["step"])])


@rule("Flip", "Slice")
def _flip(e, f, x):
    axes = list(f.args["axes"])
    n = len(axes)
    return e.node("Slice", [x, e.ints([-1] * n), e.ints([-(2 ** 62)] * n), e.ints(axes),
                            e.ints([-1] * n)])


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "repeat": "edge"}


@rule("Pad", "Pad")
def _pad(e, f, x):
    a, nd = f.args, len(in_shape(f))
    pw = list(a["pad_width"])
    lead = nd - len(pw) // 2
    begins = [0] * lead + pw[0::2]
    ends = [0] * lead + pw[1::2]
    inputs = [x, e.ints(begins + ends)]
    if a["mode"] == "constant":
        inputs.append(e.scalar(float(a["constant_value"])))
    return e.node("Pad", inputs, mode=_PAD_MODES[a["mode"]])


@rule("Broadcast", "Expand")
def _broadcast(e, f, x):
    return e.node("Expand", [x, e.ints(f.out_shapes[0])])


@rule("Tile", "Tile")
def _tile(e, f, x):
    xs, reps = in_shape(f), list(f.args["reps"])
    out = f.out_shapes[0]
    if len(out) > len(xs):
        x = e.reshape(x, (1,) * (len(out) - len(xs)) + xs)
    return e.node("Tile", [x, e.ints([1] * (len(out) - len(reps)) + reps)])


@rule("Split", "Split, Squeeze")
def _split(e, f, x):
    axis = f.args["axis"]
    n = in_shape(f)[axis]
    parts = e.node("Split", [x, e.ints([1] * n)], n_out=n, axis=axis) if n > 1 else [x]
    return [e.node("Squeeze", [p, e.ints([axis])]) for p in parts]


@rule("Stack", "Unsqueeze, Concat")
def _stack(e, f, *xs):
    axis = f.args["axis"]
    return e.node("Concat", [e.node("Unsqueeze", [x, e.ints([axis])]) for x in xs], axis=axis)


@rule("Softmax", "Softmax")
def _softmax(e, f, x):
    return e.node("Softmax", [x], axis=f.args["axis"])


@rule("LogSoftmax", "LogSoftmax")
def _log_softmax(e, f, x):
    return e.node("LogSoftmax", [x], axis=f.args["axis"])


# -- layers -----------------------------------------------------------------
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
    """Run ``op(x4)`` on x reshaped to ONNX's (N, C, *spatial) and give the result
    nablite's shape back (inputs with several or no batch axes)."""
    xs = in_shape(f)
    lead = xs[:len(xs) - spatial - 1]
    if len(lead) == 1:
        return op(x)
    y = op(e.reshape(x, (math.prod(lead),) + xs[len(lead):]))
    return e.reshape(y, f.out_shapes[0])


def _channel_first(f):
    if f.args.get("channel_last"):
        unsupported(f, "with channel_last=True is not exported; build the graph channel-first")


@rule("Convolution", "Conv")
def _convolution(e, f, x, w, b=None):
    _channel_first(f)
    a, ws = f.args, in_shape(f, 1)
    nsp = len(ws) - 2
    if a["base_axis"] != len(in_shape(f)) - nsp - 1:
        unsupported(f, f"base_axis={a['base_axis']} does not leave one channel axis before "
                       f"the {nsp} spatial axes of x {in_shape(f)}")
    ins = [x, w] + ([b] if b is not None else [])
    return _batched(e, f, x, nsp, lambda x4: e.node(
        "Conv", [x4] + ins[1:], pads=list(a["pad"]) * 2, strides=list(a["stride"]),
        dilations=list(a["dilation"]), group=a["group"], kernel_shape=list(ws[2:])))


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


@rule("Deconvolution", "ConvTranspose")
def _deconvolution(e, f, x, w, b=None):
    _channel_first(f)
    a, ws = f.args, in_shape(f, 1)
    nsp = len(ws) - 2
    ins = [w] + ([b] if b is not None else [])
    return _batched(e, f, x, nsp, lambda x4: e.node(
        "ConvTranspose", [x4] + ins, pads=list(a["pad"]) * 2, strides=list(a["stride"]),
        dilations=list(a["dilation"]), group=a["group"], kernel_shape=list(ws[2:]),
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
        _channel_first(f)
        a = f.args
        k = list(a["kernel"])
        attrs = dict(kernel_shape=k, strides=list(a["stride"]), pads=list(a["pad"]) * 2,
                     ceil_mode=int(not a["ignore_border"]))
        if op == "AveragePool":
            attrs["count_include_pad"] = int(a.get("including_pad", True))
        return _batched(e, f, x, len(k), lambda x4: e.node(op, [x4], **attrs))
    return convert


rule("MaxPooling", "MaxPool")(_pool("MaxPool"))
rule("AveragePooling", "AveragePool")(_pool("AveragePool"))


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


@rule("BatchNormalization", "BatchNormalization (inference)")
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


@rule("LayerNormalization", "ReduceMean, Sub, Mul, Sqrt, Div, Add")
def _layer_normalization(e, f, x, *params):
    xs, a = in_shape(f), f.args
    batch_axes = a["batch_axis"] if isinstance(a["batch_axis"], (list, tuple)) else [a["batch_axis"]]
    batch_axes = [b % len(xs) for b in batch_axes]
    axes = [i for i in range(len(xs)) if i not in batch_axes]
    params = list(params)
    beta = None if a.get("no_bias") else params.pop(0)
    gamma = None if a.get("no_scale") else params.pop(0)
    d = e.node("Sub", [x, e.node("ReduceMean", [x], axes=axes, keepdims=1)])
    var = e.node("ReduceMean", [e.node("Mul", [d, d])], axes=axes, keepdims=1)
    y = e.node("Div", [d, e.node("Sqrt", [e.node("Add", [var, e.scalar(float(a["eps"]))])])])
    if gamma is not None:
        y = e.node("Mul", [y, gamma])
    return e.node("Add", [y, beta]) if beta is not None else y


@rule("RNN", "RNN (one per layer), Transpose, Reshape, Concat")
def _rnn(e, f, *names):
    """F.rnn as one ONNX RNN node per layer: the weight's columns split into
    ONNX's W (input) and R (hidden) parts, the bias padded with zeros for ONNX's
    second (recurrent) bias."""
    a = f.args
    x, h, w0 = names[:3]
    w = names[3] if getattr(f, "_has_weight", False) else None
    b = names[-1] if getattr(f, "_has_bias", False) else None
    T, B, n_in = in_shape(f)
    L, D, _, H = in_shape(f, 1)
    act = {"tanh": "Tanh", "relu": "Relu"}[a["nonlinearity"]]
    zeros = e.const(np.zeros((D, H), np.float32))
    y, finals = x, []
    for layer in range(L):
        width = n_in if layer == 0 else D * H
        wl = w0 if layer == 0 else e.node("Gather", [w, e.ints(layer - 1)], axis=0)
        wx = e.node("Slice", [wl, e.ints([0]), e.ints([width]), e.ints([2])])
        wh = e.node("Slice", [wl, e.ints([width]), e.ints([width + H]), e.ints([2])])
        bias = (e.node("Concat", [e.node("Gather", [b, e.ints(layer)], axis=0), zeros], axis=1)
                if b is not None else e.const(np.zeros((D, 2 * H), np.float32)))
        h0 = e.node("Gather", [h, e.ints(layer)], axis=0)
        seq, last = e.node("RNN", [y, wx, wh, bias, "", h0], n_out=2, hidden_size=H,
                           activations=[act] * D,
                           direction="bidirectional" if D == 2 else "forward")
        y = e.reshape(e.node("Transpose", [seq], perm=[0, 2, 1, 3]), (T, B, D * H))
        finals.append(e.node("Unsqueeze", [last, e.ints([0])]))
    return [y, finals[0] if L == 1 else e.node("Concat", finals, axis=0)]


@rule("Constant", "(an initializer)")
def _constant(e, f):
    return e.const(np.full(f.out_shapes[0], f.args["val"], np.float32))
