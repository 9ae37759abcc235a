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

from .lower import softmax

Rule = namedtuple("Rule", "onnx_ops since convert")
EXPORT_RULES = {}


def rule(type_names, onnx_ops, since=11):
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


def round_half_away(e, x):
    # NNabla rounds halves away from zero; ONNX Round rounds them to even
    up = e.node("Floor", [e.node("Add", [e.node("Abs", [x]), e.scalar(0.5)])])
    return e.node("Mul", [e.node("Sign", [x]), up])


@rule("Round", "Sign, Abs, Floor, Mul")
def _round(e, f, x):
    return round_half_away(e, x)


@rule("ATan2", "Div, Atan, Where")
def _atan2(e, f, y, x):
    x_zero = e.node("Equal", [x, e.scalar(0.0)])
    safe_x = e.node("Where", [x_zero, e.scalar(1.0), x])
    base = e.node("Atan", [e.node("Div", [y, safe_x])])
    y_neg = e.node("Less", [y, e.scalar(0.0)])
    x_neg = e.node("Less", [x, e.scalar(0.0)])
    # x < 0: move to the left half-plane; x == 0: +-pi/2 by y's sign (0 at the origin)
    shift = e.node("Where", [y_neg, e.scalar(-math.pi), e.scalar(math.pi)])
    left = e.node("Add", [base, shift])
    axis = e.node("Mul", [e.node("Sign", [y]), e.scalar(math.pi / 2)])
    return e.node("Where", [x_zero, axis, e.node("Where", [x_neg, left, base])])


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


_BINARY = {"Add2": "Add", "BcAdd2": "Add", "Sub2": "Sub", "Mul2": "Mul", "Div2": "Div", "Pow2": "Pow",
           "Maximum2": "Max", "Minimum2": "Min"}
for _name, _op in _BINARY.items():
    rule(_name, _op)(lambda e, f, a, b, _op=_op: e.node(_op, [a, b]))

@rule("Mod2", "Mod (fmod)")
def _mod2(e, f, a, b):
    # nablite's floats always take C's fmod (as NNabla 1.39)
    return e.node("Mod", [a, b], fmod=1)


@rule("Sinc", "Sin, Div, Equal, Where")
def _sinc(e, f, x):
    # NNabla's sinc is sin(x) / x (not normalized by pi), 1 at 0
    zero = e.node("Equal", [x, e.scalar(0.0)])
    safe = e.node("Where", [zero, e.scalar(1.0), x])
    return e.node("Where", [zero, e.scalar(1.0), e.node("Div", [e.node("Sin", [safe]), safe])])


@rule("BinaryTanh", "Greater, Where")
def _binary_tanh(e, f, x):
    return e.node("Where", [e.node("Greater", [x, e.scalar(0.0)]), e.scalar(1.0), e.scalar(-1.0)])


@rule("BinarySigmoid", "Greater, Cast")
def _binary_sigmoid(e, f, x):
    return e.to_float(e.node("Greater", [x, e.scalar(0.0)]))


@rule("IsNaN", "IsNaN, Cast")
def _isnan(e, f, x):
    return e.to_float(e.node("IsNaN", [x]))


@rule("IsInf", "IsInf, Cast")
def _isinf(e, f, x):
    return e.to_float(e.node("IsInf", [x]))


@rule("ResetNaN", "IsNaN, Where")
def _reset_nan(e, f, x):
    return e.node("Where", [e.node("IsNaN", [x]), e.scalar(float(f.args["val"])), x])


@rule("ResetInf", "IsInf, Where")
def _reset_inf(e, f, x):
    return e.node("Where", [e.node("IsInf", [x]), e.scalar(float(f.args["val"])), x])


for _name in ("Unlink", "ClipGradByNorm"):
    rule(_name, "Identity (forward)")(lambda e, f, x: e.node("Identity", [x]))


@rule("ClipGradByValue", "Identity (forward)")
def _clip_grad_by_value(e, f, x, lo, hi):
    return e.node("Identity", [x])


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
    _since = 12 if _op.endswith("OrEqual") else 11
    rule(_name, _op + ", Cast", since=_since)(
        lambda e, f, a, b, _op=_op: e.to_float(e.node(_op, [a, b])))
    rule(_name + "Scalar", _op + ", Cast", since=_since)(
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
def _arg(e, f, x, axes, keep):
    if len(axes) != 1:
        unsupported(f, f"with an index over axes {axes} has no ONNX form; give one axis")
    arg = "ArgMax" if f.name == "Max" else "ArgMin"
    return e.to_float(e.node(arg, [x], axis=axes[0], keepdims=int(keep),
                             select_last_index=0))


def _reduce(op):
    def convert(e, f, x):
        axes, keep = list(f.args.get("axes", range(len(in_shape(f))))), f.args["keep_dims"]
        if f.args.get("only_index"):
            return _arg(e, f, x, axes, keep)
        if f.args.get("with_index"):
            return [convert_values(e, x, axes, keep), _arg(e, f, x, axes, keep)]
        return convert_values(e, x, axes, keep)

    def convert_values(e, x, axes, keep):
        if not axes:
            return e.node("Identity", [x])
        if op == "ReduceSum":  # axes became an input in opset 13, for the others in 18
            return e.node(op, [x, e.ints(axes)], keepdims=int(keep))
        return e.node(op, [x], axes=axes, keepdims=int(keep))
    return convert


@rule("ReduceSum ReduceMean", "ReduceSum / ReduceMean (every axis)")
def _reduce_all(e, f, x):
    op = "ReduceSum" if f.name == "ReduceSum" else "ReduceMean"
    return e.node(op, [x], keepdims=0)


for _name, _op in {"Sum": "ReduceSum", "Mean": "ReduceMean", "Max": "ReduceMax",
                   "Min": "ReduceMin", "Prod": "ReduceProd"}.items():
    rule(_name, _op + (" (ArgMax/ArgMin for the index)" if _name in ("Max", "Min") else ""))(
        _reduce(_op))


def _p_norm(e, x, p, axes, keep):
    if p == 2:
        return e.node("ReduceL2", [x], axes=list(axes), keepdims=int(keep))
    if p == 1:
        return e.node("ReduceL1", [x], axes=list(axes), keepdims=int(keep))
    powered = e.node("Pow", [e.node("Abs", [x]), e.scalar(float(p))])
    total = e.node("ReduceSum", [powered, e.ints(list(axes))], keepdims=int(keep))
    return e.node("Pow", [total, e.scalar(1.0 / p)])


@rule("Norm", "ReduceL2 / ReduceL1 / Pow, ReduceSum")
def _norm(e, f, x):
    axes = f.args["axes"] if f.args["axes"] is not None else range(len(in_shape(f)))
    return _p_norm(e, x, float(f.args["p"]), axes, f.args["keep_dims"])


@rule("NormNormalization", "ReduceL2 / ReduceL1 / Pow, Max, Div")
def _norm_normalization(e, f, x):
    axes = f.args["axes"]
    axes = range(len(in_shape(f))) if axes is None else ([axes] if isinstance(axes, int) else axes)
    norm = _p_norm(e, x, float(f.args["p"]), [a % len(in_shape(f)) for a in axes], True)
    return e.node("Div", [x, e.node("Max", [norm, e.scalar(float(f.args["eps"]))])])


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
    return softmax(e, "Softmax", x, f.args["axis"], len(in_shape(f)))


@rule("LogSoftmax", "LogSoftmax")
def _log_softmax(e, f, x):
    return softmax(e, "LogSoftmax", x, f.args["axis"], len(in_shape(f)))


@rule("Constant", "(an initializer)")
def _constant(e, f):
    return e.const(np.full(f.out_shapes[0], f.args["val"], np.float32))
