"""ONNX import rules of the elementwise, shape and reduction operators, and the
registry every rule module adds to (importer.py runs them; import_fold.py
holds the NumPy folding of constant subgraphs, import_layers.py the layers).

A builder ``build(c, node, attrs, *inputs)`` gets the import context ``c``
(``c.param``, ``c.fail``), the NodeProto, its attributes and its inputs (NumPy
arrays for constants, Variables, None for absent ones) and returns the node's
outputs. A folder ``compute(*arrays, **attrs)`` gives the outputs of an
operator whose inputs are all constants.
"""
import math

import numpy as np

from .. import functions as F
from ..variable import Variable

IMPORT_RULES = {}
# ops that are folded in NumPy when all their inputs are constants
FOLD = {}


def op(*names):
    def register(build):
        for name in names:
            IMPORT_RULES[name] = build
        return build
    return register


def fold(*names):
    def register(compute):
        for name in names:
            FOLD[name] = compute
        return compute
    return register


def supported_operators():
    """The ONNX operator types there is a builder or a folder for."""
    return sorted(set(IMPORT_RULES) | set(FOLD))


def _var(c, value, hint="constant", need_grad=True):
    if isinstance(value, Variable) or value is None:
        return value
    return c.param(value, getattr(value, "onnx_name", hint), need_grad)


def ranked(c, *values, need_grad=False):
    """The operands of an elementwise function as Variables of one rank: ONNX's
    broadcasting's leading unit axes written out (a constant's in its shape, a
    Variable's by a Reshape), since NNabla's binary functions refuse inputs of
    different ranks and the .nnp files written must run in NNabla too."""
    rank = max(v.ndim if isinstance(v, Variable) else np.ndim(v) for v in values)
    out = []
    for v in values:
        if isinstance(v, Variable):
            out.append(v if v.ndim == rank else F.reshape(v, (1,) * (rank - v.ndim) + v.shape))
            continue
        name = getattr(v, "onnx_name", "constant")
        array = np.asarray(v)
        array = array.reshape((1,) * (rank - array.ndim) + array.shape)
        out.append(c.param(array, name, need_grad))
    return out


# -- shapes ----------------------------------------------------------------------
def _axes(axes, attrs_axes=None):
    a = attrs_axes if axes is None else axes
    return None if a is None else [int(i) for i in np.asarray(a).reshape(-1)]


@op("Constant")
def _constant(c, node, attrs):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            v = attrs[key]
            dtype = np.float32 if "float" in key else (np.int64 if "int" in key else None)
            return np.asarray(v, dtype) if dtype else np.asarray(v)
    c.fail(node, f"needs one of value, value_float(s), value_int(s); got {sorted(attrs)}")


@op("Shape")
def _shape(c, node, attrs, x):
    return np.array(np.shape(x) if not isinstance(x, Variable) else x.shape,
                    np.int64)[attrs.get("start", 0):attrs.get("end")]


@op("Size")
def _size(c, node, attrs, x):
    return np.array(math.prod(x.shape), np.int64)


def _target_shape(shape, target, allowzero=0):
    target = [int(s) for s in np.asarray(target).reshape(-1)]
    if not allowzero:
        target = [shape[i] if s == 0 else s for i, s in enumerate(target)]
    if -1 in target:
        known = math.prod(s for s in target if s != -1)
        target[target.index(-1)] = math.prod(shape) // known if known else 0
    if math.prod(target) != math.prod(shape):
        raise ValueError(f"cannot reshape {tuple(shape)} to {tuple(target)}")
    return tuple(target)


def _slices(shape, starts, ends, axes=None, steps=None):
    starts = [int(s) for s in np.asarray(starts).reshape(-1)]
    ends = [int(s) for s in np.asarray(ends).reshape(-1)]
    axes = list(range(len(starts))) if axes is None else _axes(axes)
    steps = [1] * len(starts) if steps is None else [int(s) for s in np.asarray(steps).reshape(-1)]
    out = [slice(None)] * len(shape)
    for s, e, a, st in zip(starts, ends, axes, steps):
        out[a % len(shape)] = slice(s, e, st)
    return tuple(out)


# -- nablite builders ----------------------------------------------------------
def _scalar(v):
    """A constant holding one number (that broadcasts like a scalar), else None."""
    if isinstance(v, Variable) or np.size(v) != 1:
        return None
    return float(np.asarray(v).reshape(-1)[0])


# (nablite pair function, function of (x, scalar), function of (scalar, x))
_ARITH = {
    "Add": (F.add2, lambda x, s: F.add_scalar(x, s), lambda s, x: F.add_scalar(x, s)),
    "Sub": (F.sub2, lambda x, s: F.add_scalar(x, -s), lambda s, x: F.r_sub_scalar(x, s)),
    "Mul": (F.mul2, lambda x, s: F.mul_scalar(x, s), lambda s, x: F.mul_scalar(x, s)),
    "Div": (F.div2, lambda x, s: F.mul_scalar(x, 1.0 / s), lambda s, x: F.r_div_scalar(x, s)),
    "Pow": (F.pow2, lambda x, s: F.pow_scalar(x, s), lambda s, x: F.r_pow_scalar(x, s)),
}


@op(*_ARITH)
def _arith(c, node, attrs, a, b):
    pair, right, left = _ARITH[node.op_type]
    sa, sb = _scalar(a), _scalar(b)
    if sb is not None and isinstance(a, Variable) and np.ndim(b) <= a.ndim:
        return right(a, sb)
    if sa is not None and isinstance(b, Variable) and np.ndim(a) <= b.ndim:
        return left(sa, b)
    return pair(*ranked(c, a, b))


@op("Max", "Min", "Sum", "Mean")
def _variadic(c, node, attrs, *xs):
    pair = {"Max": F.maximum2, "Min": F.minimum2, "Sum": F.add2, "Mean": F.add2}[node.op_type]
    vs = ranked(c, *xs)
    y = vs[0]
    for v in vs[1:]:
        y = pair(y, v)
    return F.mul_scalar(y, 1.0 / len(vs)) if node.op_type == "Mean" else y


_UNARY = {"Relu": F.relu, "Sigmoid": F.sigmoid, "Tanh": F.tanh, "Exp": F.exp, "Log": F.log,
          "Abs": F.abs, "Sin": F.sin, "Cos": F.cos, "Tan": F.tan, "Erf": F.erf,
          "Floor": F.floor, "Ceil": F.ceil, "Sign": F.sign, "Softsign": F.softsign,
          "Softplus": F.softplus, "Asin": F.asin, "Acos": F.acos, "Atan": F.atan,
          "Sinh": F.sinh, "Cosh": F.cosh, "Asinh": F.asinh, "Acosh": F.acosh,
          "Atanh": F.atanh, "Identity": F.identity,
          "Sqrt": lambda x: F.pow_scalar(x, 0.5), "Neg": lambda x: F.mul_scalar(x, -1.0),
          "Reciprocal": lambda x: F.r_div_scalar(x, 1.0)}


@op(*_UNARY)
def _unary(c, node, attrs, x):
    return _UNARY[node.op_type](x)


@op("LeakyRelu")
def _leaky_relu(c, node, attrs, x):
    return F.leaky_relu(x, alpha=attrs.get("alpha", 0.01))


@op("Elu")
def _elu(c, node, attrs, x):
    return F.elu(x, alpha=attrs.get("alpha", 1.0))


@op("Selu")
def _selu(c, node, attrs, x):
    return F.selu(x, scale=attrs.get("gamma", 1.05070102214813232421875),
                  alpha=attrs.get("alpha", 1.67326319217681884765625))


def _clip01(x):
    return F.minimum_scalar(F.maximum_scalar(x, 0.0), 1.0)


@op("HardSigmoid")
def _hard_sigmoid(c, node, attrs, x):
    return _clip01(F.add_scalar(F.mul_scalar(x, attrs.get("alpha", 0.2)), attrs.get("beta", 0.5)))


@op("HardSwish")
def _hard_swish(c, node, attrs, x):
    return F.mul2(x, _clip01(F.add_scalar(F.mul_scalar(x, 1.0 / 6), 0.5)))


@op("Gelu")
def _gelu(c, node, attrs, x):  # opset 20
    if attrs.get("approximate", "none") == "tanh":
        return F.gelu(x)  # NNabla's GELU is the tanh form
    # 0.5 x (1 + erf(x / sqrt(2)))
    return F.mul2(F.mul_scalar(x, 0.5), F.add_scalar(F.erf(F.mul_scalar(x, 1 / math.sqrt(2))), 1.0))


@op("PRelu")
def _prelu(c, node, attrs, x, slope):
    slope, x = ranked(c, slope, x, need_grad=True)
    return F.add2(F.relu(x), F.mul2(slope, F.minimum_scalar(x, 0.0)))


@op("Clip")
def _clip(c, node, attrs, x, lo=None, hi=None):
    lo = attrs.get("min") if lo is None else _scalar(lo)
    hi = attrs.get("max") if hi is None else _scalar(hi)
    y = x if lo is None else F.maximum_scalar(x, lo)
    return y if hi is None else F.minimum_scalar(y, hi)


@op("Softmax", "LogSoftmax")
def _softmax(c, node, attrs, x):
    axis = attrs.get("axis", -1) % x.ndim
    return (F.softmax if node.op_type == "Softmax" else F.log_softmax)(x, axis=axis)


@op("Dropout")
def _dropout(c, node, attrs, x, ratio=None, training=None):
    if training is not None and bool(np.asarray(training)):
        c.fail(node, "training_mode=True is not supported (import the inference graph)")
    return x


@op("Cast")
def _cast(c, node, attrs, x):
    # nablite keeps float data; integer casts of Variables only feed index inputs
    return x


@op("Flatten")
def _flatten(c, node, attrs, x):
    axis = attrs.get("axis", 1) % (x.ndim + 1) if x.ndim else 0
    return F.reshape(x, (math.prod(x.shape[:axis]), math.prod(x.shape[axis:])))


@op("Reshape")
def _reshape(c, node, attrs, x, shape):
    return F.reshape(x, _target_shape(x.shape, shape, attrs.get("allowzero", 0)))


@op("Squeeze")
def _squeeze(c, node, attrs, x, axes=None):
    axes = _axes(axes, attrs.get("axes"))
    axes = [i for i, s in enumerate(x.shape) if s == 1] if axes is None else \
        [a % x.ndim for a in axes]
    return F.reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in axes))


@op("Unsqueeze")
def _unsqueeze(c, node, attrs, x, axes=None):
    axes = _axes(axes, attrs.get("axes"))
    n = x.ndim + len(axes)
    axes = {a % n for a in axes}
    dims = iter(x.shape)
    return F.reshape(x, tuple(1 if i in axes else next(dims) for i in range(n)))


@op("Transpose")
def _transpose(c, node, attrs, x):
    return F.transpose(x, tuple(attrs.get("perm", range(x.ndim - 1, -1, -1))))


@op("Concat")
def _concat(c, node, attrs, *xs):
    vs = [_var(c, x, need_grad=False) for x in xs]
    return F.concatenate(*vs, axis=attrs["axis"] % vs[0].ndim)


@op("Slice")
def _slice(c, node, attrs, x, starts, ends, axes=None, steps=None):
    start, stop, step = [], [], []
    for n, s in zip(x.shape, _slices(x.shape, starts, ends, axes, steps)):
        a, b, k = s.indices(n)
        start.append(a)
        stop.append(b if b >= 0 else -n - 1)  # "before the first" as nablite's slice reads it
        step.append(k)
    return F.slice(x, start, stop, step)


@op("Split")
def _split(c, node, attrs, x, split=None):
    axis = attrs.get("axis", 0) % x.ndim
    split = attrs.get("split") if split is None else [int(s) for s in np.asarray(split)]
    if split is None:  # equal parts; from opset 18 the last may be smaller (num_outputs)
        n = attrs.get("num_outputs", len(node.output))
        size = -(-x.shape[axis] // n)
        split = [min(size, x.shape[axis] - size * i) for i in range(n)]
    outs, at = [], 0
    for size in split:
        start = [0] * x.ndim
        stop = list(x.shape)
        start[axis], stop[axis] = at, at + size
        outs.append(F.slice(x, start, stop, [1] * x.ndim))
        at += size
    return outs


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "repeat"}


@op("Pad")
def _pad(c, node, attrs, x, pads, value=None, axes=None):
    pads = [int(p) for p in np.asarray(pads).reshape(-1)]
    nd = x.ndim
    axes = list(range(nd)) if axes is None else [a % nd for a in _axes(axes)]
    full = [0] * (2 * nd)
    for i, a in enumerate(axes):
        full[a], full[a + nd] = pads[i], pads[i + len(axes)]
    if min(full) < 0:
        c.fail(node, f"negative pads {pads} are not supported")
    mode = attrs.get("mode", "constant")
    if mode not in _PAD_MODES:
        c.fail(node, f"mode={mode!r} is not supported (constant, reflect, edge)")
    first = next((i for i in range(nd) if full[i] or full[i + nd]), nd)
    width = [p for i in range(first, nd) for p in (full[i], full[i + nd])]
    if not width:
        return x
    return F.pad(x, width, mode=_PAD_MODES[mode],
                 constant_value=0.0 if value is None else float(np.asarray(value)))


@op("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd")
def _reduce(c, node, attrs, x, axes=None):
    axes = _axes(axes, attrs.get("axes"))
    if not axes:
        if attrs.get("noop_with_empty_axes", 0):
            return x
        axes = list(range(x.ndim))
    f = {"ReduceMean": F.mean, "ReduceSum": F.sum, "ReduceMax": F.max, "ReduceMin": F.min,
         "ReduceProd": F.prod}[node.op_type]
    return f(x, tuple(a % x.ndim for a in axes), keepdims=bool(attrs.get("keepdims", 1)))


@op("Gather")
def _gather(c, node, attrs, data, indices):
    axis = attrs.get("axis", 0)
    if not isinstance(data, Variable):
        if axis != 0:
            c.fail(node, "a constant table gathered along an axis other than 0")
        return F.embed(indices, c.param(data, getattr(data, "onnx_name", "embed_W")))
    axis %= data.ndim
    if isinstance(indices, Variable):
        return F.gather(data, indices, axis=axis)
    idx = np.asarray(indices)
    picks = [int(i) % data.shape[axis] for i in idx.reshape(-1)]
    parts = []
    for i in picks:
        start, stop = [0] * data.ndim, list(data.shape)
        start[axis], stop[axis] = i, i + 1
        parts.append(F.slice(data, start, stop, [1] * data.ndim))
    y = parts[0] if len(parts) == 1 else F.concatenate(*parts, axis=axis)
    return F.reshape(y, data.shape[:axis] + idx.shape + data.shape[axis + 1:])


@op("Expand")
def _expand(c, node, attrs, x, shape):
    x = _var(c, x, need_grad=False)
    out = np.broadcast_shapes(x.shape, tuple(int(s) for s in np.asarray(shape).reshape(-1)))
    if x.ndim < len(out):
        x = F.reshape(x, (1,) * (len(out) - x.ndim) + x.shape)
    return x if x.shape == out else F.broadcast(x, out)


_COMPARE = {"Equal": F.equal, "Less": F.less, "Greater": F.greater, "LessOrEqual": F.less_equal,
            "GreaterOrEqual": F.greater_equal, "And": F.logical_and, "Or": F.logical_or,
            "Xor": F.logical_xor}


@op(*_COMPARE)
def _compare(c, node, attrs, a, b):
    # nablite's comparisons give 0/1 floats, which Where and the logic read as booleans
    return _COMPARE[node.op_type](*ranked(c, a, b))


@op("Not")
def _not(c, node, attrs, x):
    return F.logical_not(x)


@op("Where")
def _where(c, node, attrs, cond, a, b):
    vs = [_var(c, v, need_grad=False) for v in (cond, a, b)]
    shape = np.broadcast_shapes(*[v.shape for v in vs])
    vs = [v if v.shape == shape else _expand_to(v, shape) for v in vs]
    return F.where(*vs)


def _expand_to(v, shape):
    if v.ndim < len(shape):
        v = F.reshape(v, (1,) * (len(shape) - v.ndim) + v.shape)
    return F.broadcast(v, shape)


@op("Tile")
def _tile(c, node, attrs, x, repeats):
    return F.tile(_var(c, x, need_grad=False), [int(r) for r in np.asarray(repeats).reshape(-1)])


@op("ArgMax", "ArgMin")
def _arg(c, node, attrs, x):
    if attrs.get("select_last_index", 0):
        c.fail(node, "select_last_index=1 is not supported")
    f = F.max if node.op_type == "ArgMax" else F.min
    return f(x, attrs.get("axis", 0) % x.ndim, keepdims=bool(attrs.get("keepdims", 1)),
             only_index=True)


@op("ReduceL1", "ReduceL2")
def _reduce_norm(c, node, attrs, x, axes=None):
    axes = _axes(axes, attrs.get("axes"))
    if not axes and attrs.get("noop_with_empty_axes", 0):
        return F.abs(x)  # the norm of each element alone
    axes = tuple(range(x.ndim)) if not axes else tuple(a % x.ndim for a in axes)
    return F.norm(x, p=1 if node.op_type == "ReduceL1" else 2, axis=axes,
                  keepdims=bool(attrs.get("keepdims", 1)))


@op("CumSum")
def _cumsum(c, node, attrs, x, axis):
    return F.cumsum(x, int(np.asarray(axis)) % x.ndim, exclusive=bool(attrs.get("exclusive", 0)),
                    reverse=bool(attrs.get("reverse", 0)))


@op("Einsum")
def _einsum(c, node, attrs, *xs):
    return F.einsum(*[_var(c, x, need_grad=False) for x in xs], equation=attrs["equation"])


@op("Trilu")
def _trilu(c, node, attrs, x, k=None):
    return F.trilu(x, k=0 if k is None else int(np.asarray(k)), upper=bool(attrs.get("upper", 1)))


@op("Mod")
def _mod(c, node, attrs, a, b):
    return F.mod2(*ranked(c, a, b), fmod=True)




@op("IsNaN", "IsInf")
def _is_special(c, node, attrs, x):
    if node.op_type == "IsInf" and not (attrs.get("detect_positive", 1)
                                        and attrs.get("detect_negative", 1)):
        c.fail(node, "detect_positive/detect_negative=0 are not supported")
    return (F.isnan if node.op_type == "IsNaN" else F.isinf)(x)


@op("Round")
def _round(c, node, attrs, x):
    # ONNX rounds halves to even; nablite's round takes them away from zero
    up = F.floor(F.add_scalar(x, 0.5))
    tie = F.equal(up, F.add_scalar(x, 0.5))
    odd = F.not_equal_scalar(F.mod2(*ranked(c, up, np.array(2.0, np.float32))), 0.0)
    return F.sub2(up, F.mul2(tie, odd))


@op("EyeLike")
def _eye_like(c, node, attrs, x):
    n, m = x.shape if isinstance(x, Variable) else np.shape(x)
    return np.eye(n, m, attrs.get("k", 0), dtype=np.float32)


@op("OneHot")
def _one_hot(c, node, attrs, indices, depth, values):
    if isinstance(depth, Variable) or isinstance(values, Variable):
        c.fail(node, "computed depth or values are not supported")
    depth = int(np.asarray(depth).reshape(-1)[0])
    off, on = (float(v) for v in np.asarray(values).reshape(-1)[:2])
    x = _var(c, indices, need_grad=False)
    y = F.one_hot(F.reshape(x, x.shape + (1,)), (depth,))  # nablite reads (..., 1) labels
    axis = attrs.get("axis", -1) % y.ndim
    if axis != y.ndim - 1:
        y = F.transpose(y, tuple(range(axis)) + (y.ndim - 1,) + tuple(range(axis, y.ndim - 1)))
    return F.add_scalar(F.mul_scalar(y, on - off), off) if (off, on) != (0.0, 1.0) else y


@op("GatherND")
def _gather_nd(c, node, attrs, data, indices):
    if attrs.get("batch_dims", 0):
        c.fail(node, "batch_dims is not supported")
    idx = _var(c, indices, need_grad=False)
    # ONNX's indices are (..., M); nablite's (M, ...)
    idx = F.transpose(idx, (idx.ndim - 1,) + tuple(range(idx.ndim - 1))) if idx.ndim > 1 else idx
    return F.gather_nd(_var(c, data, need_grad=False), idx)


@op("GatherElements")
def _gather_elements(c, node, attrs, data, indices):
    """Only the form a loss picks one entry per row with (indices of size 1 along
    ``axis``): the sum of data times (position == index) along the axis."""
    x = _var(c, data, need_grad=False)
    axis = attrs.get("axis", 0) % x.ndim
    if np.shape(indices)[axis] != 1 if not isinstance(indices, Variable) else \
            indices.shape[axis] != 1:
        c.fail(node, "indices longer than 1 along the axis are not supported")
    positions = np.arange(x.shape[axis], dtype=np.float32).reshape(
        [x.shape[axis] if i == axis else 1 for i in range(x.ndim)])
    hit = F.equal(_var(c, positions, "positions", False), _var(c, indices, need_grad=False))
    return F.sum(F.mul2(x, hit), axis=axis, keepdims=True)


@op("TopK")
def _top_k(c, node, attrs, x, k):
    k = int(np.asarray(k).reshape(-1)[0])
    axis = attrs.get("axis", -1) % x.ndim
    largest = attrs.get("largest", 1)
    last = x.ndim - 1
    perm = tuple(i for i in range(x.ndim) if i != axis) + (axis,)
    xt = F.transpose(x, perm) if axis != last else x
    values, index = F.top_k_data(xt if largest else F.mul_scalar(xt, -1.0), k, base_axis=last,
                                 with_index=True)
    if not largest:
        values = F.mul_scalar(values, -1.0)
    if axis != last:
        back = tuple(perm.index(i) for i in range(x.ndim))
        values, index = F.transpose(values, back), F.transpose(index, back)
    return [values, index]
