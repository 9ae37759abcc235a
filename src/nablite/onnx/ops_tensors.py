"""Export rules of indexing, sorting and tensor creation: gather, gather_nd,
one_hot, cumsum, sort, trilu, matrix_diag(_part), eye_like, arange, linspace,
shape, einsum (see ops.py for how a rule reads)."""
import math

import numpy as np

from .ops import in_shape, round_half_away, rule, unsupported


@rule("Gather", "Cast, Gather")
def _gather(e, f, x, indices):
    if f.args.get("batch_dims"):
        unsupported(f, f"with batch_dims={f.args['batch_dims']} is not exported")
    return e.node("Gather", [x, e.node("Cast", [indices], to=e.INT64)], axis=f.args["axis"])


@rule("GatherNd", "Transpose, Cast, GatherND")
def _gather_nd(e, f, x, indices):
    # nablite's indices are (M, ...): one row per indexed axis; ONNX's are (..., M)
    nd = len(in_shape(f, 1))
    idx = e.node("Transpose", [indices], perm=list(range(1, nd)) + [0]) if nd > 1 else indices
    return e.node("GatherND", [x, e.node("Cast", [idx], to=e.INT64)])


@rule("OneHot", "Mul, ReduceSum, Cast, OneHot, Reshape")
def _one_hot(e, f, x):
    shape = [int(s) for s in f.args["shape"]]
    strides = [math.prod(shape[i + 1:]) for i in range(len(shape))]
    flat = e.node("ReduceSum", [e.node("Mul", [x, e.const(np.array(strides, np.float32))]),
                                e.ints([-1])], keepdims=0)
    hot = e.node("OneHot", [e.node("Cast", [flat], to=e.INT64), e.ints([math.prod(shape)]),
                            e.const(np.array([0.0, 1.0], np.float32))], axis=-1)
    return e.reshape(hot, f.out_shapes[0])


@rule("CumSum", "CumSum")
def _cumsum(e, f, x):
    a = f.args
    return e.node("CumSum", [x, e.ints(a["axis"])], exclusive=int(a["exclusive"]),
                  reverse=int(a["reverse"]))


@rule("Sort", "TopK (sorted), Cast")
def _sort(e, f, x):
    a = f.args
    axis = a["axis"] % len(in_shape(f))
    n = in_shape(f)[axis]
    values, order = e.node("TopK", [x, e.ints([n])], n_out=2, axis=axis,
                           largest=int(a["reverse"]), sorted=1)
    order = e.to_float(order)
    if a["only_index"]:
        return order
    return [values, order] if a["with_index"] else values


@rule("Trilu", "Trilu", since=14)
def _trilu(e, f, x):
    return e.node("Trilu", [x, e.ints(f.args["k"])], upper=int(f.args["upper"]))


@rule("MatrixDiag", "Unsqueeze, Mul")
def _matrix_diag(e, f, x):
    n = in_shape(f)[-1]
    return e.node("Mul", [e.node("Unsqueeze", [x, e.ints([-1])]),
                          e.const(np.eye(n, dtype=np.float32))])


@rule("MatrixDiagPart", "Mul, ReduceSum")
def _matrix_diag_part(e, f, x):
    n = in_shape(f)[-1]
    return e.node("ReduceSum", [e.node("Mul", [x, e.const(np.eye(n, dtype=np.float32))]),
                                e.ints([-1])], keepdims=0)


@rule("EyeLike", "EyeLike")
def _eye_like(e, f, x):
    return e.node("EyeLike", [x], k=int(f.args["k"]), dtype=e.onnx.TensorProto.FLOAT)


@rule("Arange", "(an initializer)")
def _arange(e, f):
    a = f.args
    return e.const(np.arange(a["start"], a["stop"], a["step"]).astype(np.float32))


@rule("Linspace", "(an initializer)")
def _linspace(e, f):
    a = f.args
    return e.const(np.linspace(a["start"], a["stop"], a["num"]).astype(np.float32))


@rule("Shape", "Shape, Cast")
def _shape(e, f, x):
    a = f.args
    shape = e.node("Shape", [x])
    if a["start"] or a["end"]:  # Shape's own start/end arrived in opset 15
        end = a["end"] or len(in_shape(f))
        shape = e.node("Slice", [shape, e.ints([a["start"]]), e.ints([end])])
    return e.to_float(shape)


@rule("Einsum", "Einsum", since=12)
def _einsum(e, f, *xs):
    return e.node("Einsum", list(xs), equation=f.args["equation"])


@rule("Shift", "Gather")
def _shift(e, f, x):
    for axis, index in f._maps(in_shape(f)):
        x = e.node("Gather", [x, e.ints(index)], axis=axis)
    return x


@rule("BatchDet", "Det")
def _batch_det(e, f, x):
    return e.node("Det", [x])


@rule("BatchLogdet", "Det, Abs, Log")
def _batch_logdet(e, f, x):
    return e.node("Log", [e.node("Abs", [e.node("Det", [x])])])


def _quantize_round(e, f, x):
    if f.args["round_mode"] == "HALF_TO_EVEN":
        return e.node("Round", [x])
    return round_half_away(e, x)


@rule("QuantizeLinear", "Div, Round, Add, Clip (values as floats)")
def _quantize_linear(e, f, x, scale, zero_point):
    low, high = (e.scalar(float(v)) for v in f._range())
    zp = e.node("Clip", [_quantize_round(e, f, zero_point), low, high])
    y = e.node("Add", [_quantize_round(e, f, e.node("Div", [x, scale])), zp])
    return e.node("Clip", [y, low, high])


@rule("DequantizeLinear", "Sub, Mul")
def _dequantize_linear(e, f, x, scale, zero_point):
    return e.node("Mul", [e.node("Sub", [x, zero_point]), scale])
