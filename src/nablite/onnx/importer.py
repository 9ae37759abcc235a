"""ONNX model -> nablite graph: ``import_model(path_or_model, batch_size=None, scope=None)``.

The nodes are visited in the file's (topological) order. A value is either a
NumPy array (an initializer, a ``Constant``, or anything computed from those
alone: shape arithmetic is folded here, since nablite's shapes are static) or
a nablite Variable. When a constant enters a nablite function it becomes a
parameter registered under ``scope`` with the initializer's name (as NNabla's
ONNX converter names them), transposed or reshaped into the layout nablite's
function wants (a ``Gemm`` weight with transB=1 is stored (in, out)).

Files from elsewhere are read within bounds (safe_load.py): every tensor's
declared size is checked against its data before anything is allocated, and
external data may not leave the model's folder.
"""
import contextlib
import math

import numpy as np

from .. import functions as F
from ..parameter import parameter_scope, set_parameter
from ..variable import Variable
from ._deps import OPSETS, require_onnx
from .safe_load import OnnxImportError, load_model, tensor_to_array

IMPORT_RULES = {}
# ops that are folded in NumPy when all their inputs are constants
_FOLD = {}


def op(*names):
    def register(build):
        for name in names:
            IMPORT_RULES[name] = build
        return build
    return register


def fold(*names):
    def register(compute):
        for name in names:
            _FOLD[name] = compute
        return compute
    return register


def import_rules():
    """The ONNX operator types import_model understands."""
    return sorted(set(IMPORT_RULES) | set(_FOLD))


class OnnxNetwork:
    """An imported graph: ``inputs``, ``outputs`` and ``variables`` (every named
    value that is a Variable), dicts name -> Variable, as NnpLoader's networks.
    ``inputs, outputs = import_model(...)`` unpacks the first two."""

    def __init__(self, name, inputs, outputs, variables, parameters):
        self.name, self.inputs, self.outputs = name, inputs, outputs
        self.variables, self.parameters = variables, parameters

    def __iter__(self):
        return iter((self.inputs, self.outputs))

    def __repr__(self):
        return (f"OnnxNetwork({self.name!r}, inputs={list(self.inputs)}, "
                f"outputs={list(self.outputs)})")


class _Context:
    """What the op builders share: the file name for errors, parameter creation."""

    def __init__(self, where, scope):
        self.where, self.scope = where, scope
        self.parameters = {}
        self._param_of = {}  # (name, id of the array made into it) -> Variable

    def fail(self, node, message):
        raise OnnxImportError(f"{self.where}: node {node.name or node.output[0]!r} "
                              f"({node.op_type}): {message}")

    def param(self, array, name, need_grad=True):
        """The constant ``array`` as a registered parameter Variable named ``name``."""
        array = np.asarray(array)
        if array.dtype.kind in "biu":
            array = array.astype(np.float32)  # nablite computes in float
        key = "/".join(p for p in name.split("/") if p) or "constant"
        if any(k.startswith(key + "/") or key.startswith(k + "/") for k in self.parameters):
            key = key.replace("/", "_")  # a parameter cannot also be a scope
        while key in self.parameters and not (
                self.parameters[key].shape == array.shape
                and np.array_equal(self.parameters[key].d, array)):
            key += "_"
        if key not in self.parameters:
            self.parameters[key] = Variable.from_numpy_array(
                np.array(array, np.float32, order="C"), need_grad=need_grad)
        return self.parameters[key]

    def register(self):
        """Put the parameters in the scope tree (only once the whole graph is built,
        so that a failed import registers nothing)."""
        with parameter_scope(self.scope) if self.scope else contextlib.nullcontext():
            for key, v in self.parameters.items():
                set_parameter(key, v)


class _Const(np.ndarray):
    """A folded constant that remembers the ONNX name it came from."""


def _named_const(array, name):
    c = np.asarray(array).view(_Const)
    c.onnx_name = name
    return c


def _var(c, value, hint="constant", need_grad=True):
    if isinstance(value, Variable) or value is None:
        return value
    return c.param(value, getattr(value, "onnx_name", hint), need_grad)


def _attrs(onnx, node, c):
    out = {}
    for a in node.attribute:
        if a.type == onnx.AttributeProto.TENSOR:
            out[a.name] = tensor_to_array(a.t, c.where, None)
        elif a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            c.fail(node, f"attribute {a.name!r} holds a subgraph; control flow is not supported")
        else:
            v = onnx.helper.get_attribute_value(a)
            if isinstance(v, list):
                v = [s.decode() if isinstance(s, bytes) else s for s in v]
            out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _static_shape(c, vi, batch_size):
    dims = []
    for d in vi.type.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif batch_size is not None:
            dims.append(int(batch_size))
        else:
            raise OnnxImportError(
                f"{c.where}: input {vi.name!r} has a symbolic dimension "
                f"{d.dim_param or '?'!r}; pass batch_size= to fix it (nablite's shapes are static)")
    return tuple(dims)


def import_model(model, batch_size=None, scope=None):
    """Build a nablite graph from an ONNX model.

    Args:
        model: a path to an ``.onnx`` file or an ``onnx.ModelProto``.
        batch_size (int): the size given to symbolic input dimensions
            (a PyTorch export with ``dynamic_axes``); required when there are some.
        scope (str): parameter scope to register the initializers under
            (None: the current scope).

    Returns:
        OnnxNetwork: ``.inputs``/``.outputs``/``.variables`` dicts of Variables
        (set ``inputs[name].d``, call ``outputs[name].forward()``) and
        ``.parameters``.

    Raises:
        OnnxImportError: an unreadable or hostile file, an unsupported opset or
        operator, naming the file and the problem.
    """
    onnx = require_onnx("nablite.onnx.import_model")
    model, where, base_dir = load_model(model)
    c = _Context(where, scope)
    opsets = {o.domain or "ai.onnx": o.version for o in model.opset_import}
    version = opsets.get("ai.onnx")
    if version not in OPSETS:
        raise OnnxImportError(f"{where}: default-domain opset {version} is not supported; "
                              f"import reads opsets {OPSETS[0]}..{OPSETS[-1]}")
    g = model.graph
    values = {}
    for t in g.initializer:
        values[t.name] = _named_const(tensor_to_array(t, where, base_dir), t.name)
    inputs = {}
    for vi in g.input:
        if vi.name in values:
            continue
        v = Variable(_static_shape(c, vi, batch_size))
        v.name = vi.name
        values[vi.name] = inputs[vi.name] = v
    for node in g.node:
        if node.domain not in ("", "ai.onnx"):
            c.fail(node, f"custom domain {node.domain!r} is not supported")
        ins = []
        for name in node.input:
            if name == "":
                ins.append(None)
            elif name not in values:
                c.fail(node, f"input {name!r} is not defined by any earlier node")
            else:
                ins.append(values[name])
        attrs = _attrs(onnx, node, c)
        outs = _build(c, node, ins, attrs)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for name, v in zip(node.output, outs):
            if name and v is not None:
                if isinstance(v, Variable):
                    if not v.name:
                        v.name = name
                else:
                    v = _named_const(v, name)
                values[name] = v
    outputs = {}
    for vi in g.output:
        v = values.get(vi.name)
        if v is None:
            raise OnnxImportError(f"{where}: graph output {vi.name!r} is not computed by any node")
        outputs[vi.name] = _var(c, v, vi.name, need_grad=False)
    variables = {k: v for k, v in values.items() if isinstance(v, Variable)}
    c.register()
    return OnnxNetwork(g.name, inputs, outputs, variables, dict(c.parameters))


def _build(c, node, ins, attrs):
    kind = node.op_type
    present = [v for v in ins if v is not None]
    if kind in _FOLD and all(not isinstance(v, Variable) for v in present):
        try:
            return _FOLD[kind](*ins, **attrs)
        except OnnxImportError:
            raise
        except Exception as e:  # numpy's message, with the node named
            c.fail(node, f"cannot compute on constant inputs: {e}")
    build = IMPORT_RULES.get(kind)
    if build is None:
        c.fail(node, f"operator {kind!r} is not supported (supported: nablite.onnx.import_rules())")
    try:
        return build(c, node, attrs, *ins)
    except OnnxImportError:
        raise
    except KeyError as e:
        c.fail(node, f"missing attribute {e}")
    except (ValueError, TypeError, IndexError) as e:
        c.fail(node, str(e))


# -- constant folding (shape arithmetic and friends) ---------------------------
def _axes(axes, attrs_axes=None):
    a = attrs_axes if axes is None else axes
    return None if a is None else [int(i) for i in np.asarray(a).reshape(-1)]


fold("Identity")(lambda x: np.asarray(x))
fold("Add")(lambda a, b: np.add(a, b))
fold("Sub")(lambda a, b: np.subtract(a, b))
fold("Mul")(lambda a, b: np.multiply(a, b))
fold("Div")(lambda a, b: (a // b) if np.asarray(a).dtype.kind in "iu" else np.divide(a, b))
fold("Neg")(lambda x: -np.asarray(x))
fold("Sqrt")(lambda x: np.sqrt(x))
fold("Equal")(lambda a, b: np.equal(a, b))
fold("Less")(lambda a, b: np.less(a, b))
fold("Greater")(lambda a, b: np.greater(a, b))
fold("Not")(lambda x: np.logical_not(x))
fold("Where")(lambda cnd, a, b: np.where(cnd, a, b))
fold("Concat")(lambda *xs, axis: np.concatenate([np.asarray(x) for x in xs], axis))
fold("Gather")(lambda x, i, axis=0: np.take(x, i, axis=axis))
fold("Transpose")(lambda x, perm=None: np.transpose(x, perm))
fold("Range")(lambda start, limit, delta: np.arange(start, limit, delta))


@fold("Cast")
def _fold_cast(x, to):
    from .safe_load import numpy_dtype
    return np.asarray(x).astype(numpy_dtype(to))


@fold("Unsqueeze")
def _fold_unsqueeze(x, axes=None):
    x = np.asarray(x)
    axes = sorted(a % (x.ndim + len(axes)) for a in _axes(axes))
    for a in axes:
        x = np.expand_dims(x, a)
    return x


@fold("Squeeze")
def _fold_squeeze(x, axes=None):
    x = np.asarray(x)
    return np.squeeze(x, axis=None if axes is None else tuple(_axes(axes)))


@fold("Reshape")
def _fold_reshape(x, shape, allowzero=0):
    return np.reshape(x, _target_shape(np.shape(x), shape, allowzero))


@fold("ConstantOfShape")
def _fold_constant_of_shape(shape, value=None):
    value = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    return np.full([int(s) for s in np.asarray(shape).reshape(-1)], value[0], value.dtype)


@fold("Slice")
def _fold_slice(x, starts, ends, axes=None, steps=None):
    return np.asarray(x)[_slices(np.shape(x), starts, ends, axes, steps)]


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
    return pair(_var(c, a, need_grad=False), _var(c, b, need_grad=False))


@op("Max", "Min", "Sum", "Mean")
def _variadic(c, node, attrs, *xs):
    pair = {"Max": F.maximum2, "Min": F.minimum2, "Sum": F.add2, "Mean": F.add2}[node.op_type]
    vs = [_var(c, x, need_grad=False) for x in xs]
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


@op("PRelu")
def _prelu(c, node, attrs, x, slope):
    slope = _var(c, slope)
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


@op("BatchNormalization")
def _batch_normalization(c, node, attrs, x, scale, bias, mean, var):
    if attrs.get("training_mode", 0):
        c.fail(node, "training_mode=1 is not supported (import the inference graph)")
    stat = (1, x.shape[1]) + (1,) * (x.ndim - 2)

    def p(v, need_grad=True):
        if isinstance(v, Variable):
            return F.reshape(v, stat)
        return c.param(np.reshape(v, stat), getattr(v, "onnx_name", "bn"), need_grad)
    return F.batch_normalization(x, p(bias), p(scale), p(mean, False), p(var, False), axes=[1],
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
    bias = _var(c, bias)
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
    if split is None:
        n = len(node.output)
        split = [x.shape[axis] // n] * n
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
    if isinstance(indices, Variable):
        c.fail(node, "gathering a computed value at computed indices is not supported")
    axis %= data.ndim
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


@op("RNN")
def _rnn(c, node, attrs, x, w, r, b=None, seq_lens=None, h0=None):
    """ONNX RNN (layout 0, equal sequence lengths) as F.rnn: nablite's weight is
    [W R] along the last axis and its bias the sum of ONNX's two."""
    if seq_lens is not None:
        c.fail(node, "sequence_lens is not supported (all sequences must be full)")
    if attrs.get("layout", 0) != 0 or "clip" in attrs:
        c.fail(node, "layout=1 and clip are not supported")
    direction = attrs.get("direction", "forward")
    if direction == "reverse":
        c.fail(node, "direction='reverse' is not supported")
    acts = [a.lower() for a in attrs.get("activations", ["Tanh"])]
    if len(set(acts)) != 1 or acts[0] not in ("tanh", "relu"):
        c.fail(node, f"activations {acts} are not supported (Tanh or Relu)")
    if isinstance(w, Variable) or isinstance(r, Variable):
        c.fail(node, "computed weights are not supported")
    D, H = np.shape(w)[0], attrs["hidden_size"]
    T, B = x.shape[0], x.shape[1]
    name = getattr(w, "onnx_name", "rnn_W")
    weight = c.param(np.concatenate([w, r], axis=2), name)
    bias = None
    if b is not None:
        if isinstance(b, Variable):
            c.fail(node, "a computed bias is not supported")
        bias = c.param((np.asarray(b)[:, :H] + np.asarray(b)[:, H:])[None],
                       getattr(b, "onnx_name", "rnn_B"))
    if h0 is None:
        h = c.param(np.zeros((1, D, B, H), np.float32), name + "_h0", need_grad=False)
    else:
        h = F.reshape(_var(c, h0, need_grad=False), (1, D, B, H))
    y, hn = F.rnn(x, h, weight, bias=bias, nonlinearity=acts[0],
                  bidirectional=direction == "bidirectional", training=False)
    seq = F.transpose(F.reshape(y, (T, B, D, H)), (0, 2, 1, 3))
    return [seq, F.reshape(hn, (D, B, H))]
