"""Constant folding at import: ONNX operators whose inputs are all constants
(the shape arithmetic PyTorch writes: Shape -> Gather -> Unsqueeze -> Concat ->
Reshape, ConstantOfShape, Range, ...) computed in NumPy, since nablite's shapes
are static. What a fold may allocate is bounded like a tensor read from a file.
"""
import math

import numpy as np

from .import_ops import _axes, _slices, _target_shape, fold
from .safe_load import OnnxImportError

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
fold("Mod")(lambda a, b, fmod=0: np.fmod(a, b) if fmod else np.mod(a, b))
fold("Abs")(lambda x: np.abs(x))
fold("Floor")(lambda x: np.floor(x))
fold("Ceil")(lambda x: np.ceil(x))
fold("Sign")(lambda x: np.sign(x))
fold("Pow")(lambda a, b: np.power(a, b))
fold("Max")(lambda *xs: np.maximum.reduce(np.broadcast_arrays(*xs)))
fold("Min")(lambda *xs: np.minimum.reduce(np.broadcast_arrays(*xs)))
fold("Sum")(lambda *xs: np.add.reduce(np.broadcast_arrays(*xs)))
fold("Mean")(lambda *xs: np.add.reduce(np.broadcast_arrays(*xs)) / len(xs))
fold("And")(lambda a, b: np.logical_and(a, b))
fold("Or")(lambda a, b: np.logical_or(a, b))
fold("Concat")(lambda *xs, axis: np.concatenate([np.asarray(x) for x in xs], axis))
fold("Transpose")(lambda x, perm=None: np.transpose(x, perm))


def _bounded(count, itemsize, what):
    """Refuse a folded constant larger than safe_load.MAX_TENSOR_BYTES before making it."""
    from . import safe_load
    if count * itemsize > safe_load.MAX_TENSOR_BYTES:
        raise OnnxImportError(f"{what} would make {count} elements ({count * itemsize} bytes), "
                              f"over the {safe_load.MAX_TENSOR_BYTES}-byte limit")


@fold("Range")
def _fold_range(start, limit, delta):
    start, limit, delta = (np.asarray(v).reshape(()) for v in (start, limit, delta))
    if delta == 0:
        raise OnnxImportError("Range with delta 0")
    _bounded(max(0, math.ceil((limit - start) / delta)), 8, "Range")
    return np.arange(start, limit, delta)


@fold("Gather")
def _fold_gather(x, i, axis=0):
    x, i = np.asarray(x), np.asarray(i)
    _bounded(i.size * (x.size // max(1, x.shape[axis])), x.itemsize, "Gather")
    return np.take(x, i, axis=axis)


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
    dims = [int(s) for s in np.asarray(shape).reshape(-1)]
    if min(dims, default=0) < 0:
        raise OnnxImportError(f"ConstantOfShape with negative dims {dims}")
    _bounded(math.prod(dims), value.itemsize, f"ConstantOfShape {dims}")
    return np.full([int(s) for s in np.asarray(shape).reshape(-1)], value[0], value.dtype)


@fold("Slice")
def _fold_slice(x, starts, ends, axes=None, steps=None):
    return np.asarray(x)[_slices(np.shape(x), starts, ends, axes, steps)]


