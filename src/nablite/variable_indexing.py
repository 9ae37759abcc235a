"""The ``x[key]`` / ``x[key] = v`` machinery behind Variable.__getitem__ and
Variable.__setitem__: graph surgery built from F functions, not an F function.

``getitem`` follows numpy's rules. Basic keys (ints, slices, ``...``, ``None``)
become ``F.slice`` plus an ``F.reshape`` when ints drop axes or ``None`` adds
them. Advanced keys (int lists and arrays, index Variables, bool masks) become
``F.gather_nd``; bool masks are turned into indices from their current values
when the graph is built, as in NNabla. ``setitem`` builds ``F.scatter_nd`` with
``out=`` the old variable and rewires the variable onto the result.
"""
import numbers
import weakref

import numpy as np

from ._array import NdArray, real_array
from .functions import array as _array_fns
from .functions.base import prod, require
from .functions.indexing import ScatterNd, gather_nd
from .variable import Variable

__all__ = ["getitem", "setitem"]

_BASIC = (slice, int, type(None), type(Ellipsis))


def _is_advanced(k):
    if isinstance(k, _BASIC):
        return False
    if isinstance(k, (Variable, NdArray, list)):
        return True
    return isinstance(k, np.ndarray) and (k.ndim > 0 or k.dtype == bool)


def _values(k):
    """The current values of an index given as a Variable/NdArray/list/array."""
    if isinstance(k, Variable):
        return k.d
    return np.asarray(k)


def _expand(key, ndim, fn):
    """The key as a tuple without Ellipsis (bool masks count for their rank)."""
    key = key if isinstance(key, tuple) else (key,)
    used = 0
    for k in key:
        if k is None or k is Ellipsis:
            continue
        if _is_advanced(k) and _values(k).dtype == bool:
            used += _values(k).ndim
        else:
            used += 1
    require(fn, sum(k is Ellipsis for k in key) <= 1, "an index can only have one '...'")
    require(fn, used <= ndim, f"too many indices ({used}) for a variable of {ndim} dimensions")
    for k in key:
        if not (k is None or k is Ellipsis or isinstance(k, (slice, numbers.Integral))
                or _is_advanced(k) or (isinstance(k, np.ndarray) and k.dtype.kind in "iu")):
            raise TypeError(f"{fn}: unsupported index {k!r} of type {type(k).__name__}; "
                            "expected ints, slices, '...', None, int or bool arrays")
    out = []
    for k in key:
        if k is Ellipsis:
            out.extend([slice(None)] * (ndim - used))
        else:
            out.append(k)
    if not any(k is Ellipsis for k in key):
        out.extend([slice(None)] * (ndim - used))
    return out


def getitem(var, key):
    """``var[key]`` with numpy's semantics, built from F.slice/F.reshape/F.gather_nd."""
    ndim = len(var.shape)
    key = _expand(key, ndim, "getitem")
    if any(_is_advanced(k) for k in key):
        return _advanced_getitem(var, key)
    start, stop, step, out_shape, axis = [], [], [], [], 0
    for k in key:
        if k is None:
            out_shape.append(1)
            continue
        n = var.shape[axis]
        if isinstance(k, (numbers.Integral, np.integer)):
            require("getitem", -n <= k < n,
                    f"index {k} is out of bounds for axis {axis} with size {n}")
            k = int(k) % n
            start.append(k), stop.append(k + 1), step.append(1)
        elif isinstance(k, slice):
            start.append(k.start), stop.append(k.stop), step.append(k.step)
            out_shape.append(len(range(*k.indices(n))))
        else:
            raise TypeError(f"getitem: unsupported index {k!r} of type {type(k).__name__}")
        axis += 1
    full = all(s is None for s in start + stop) and all(s in (None, 1) for s in step)
    y = var if full else _array_fns.slice(var, start, stop, step)
    return y if tuple(out_shape) == y.shape else _array_fns.reshape(y, out_shape)


def _advanced_getitem(var, key):
    """Advanced keys: gather_nd, leading index arrays fed as they are, others expanded."""
    reshape, stack, broadcast = _array_fns.reshape, _array_fns.stack, _array_fns.broadcast
    if any(k is None for k in key):  # new axes first, then index the reshaped variable
        shape = []
        it = iter(var.shape)
        new_key = []
        for k in key:
            if k is None:
                shape.append(1)
                new_key.append(slice(None))
            else:
                n_axes = _values(k).ndim if (_is_advanced(k) and
                                             _values(k).dtype == bool) else 1
                shape.extend(next(it) for _ in range(n_axes))
                new_key.append(k)
        return _advanced_getitem(reshape(var, shape), new_key)
    # Bool masks become their indices from the current values (NNabla does the same).
    parts = []
    for k in key:
        if _is_advanced(k) and _values(k).dtype == bool:
            mask, axis = _values(k), len(parts)
            covered = tuple(var.shape[axis:axis + mask.ndim])
            if mask.shape != covered:  # else its indices run past the axis (GatherNd's error)
                raise IndexError(f"getitem: boolean index of shape {mask.shape} does not match "
                                 f"axes {axis}..{axis + mask.ndim - 1} of sizes {covered} of a "
                                 f"variable of shape {tuple(var.shape)}")
            parts.extend(np.nonzero(mask))
        else:
            parts.append(k)
    lead = 0
    while lead < len(parts) and not isinstance(parts[lead], slice):
        lead += 1
    rest_full = all(isinstance(p, slice) and p == slice(None) for p in parts[lead:])
    if rest_full and lead > 0:
        arrays = parts[:lead]
        if any(isinstance(a, Variable) for a in arrays):
            vs = [a if isinstance(a, Variable) else Variable.from_numpy_array(
                np.asarray(a, dtype=np.int64)) for a in arrays]
            shape = np.broadcast_shapes(*[v.shape for v in vs])
            vs = [v if v.shape == shape else broadcast(reshape(
                v, (1,) * (len(shape) - len(v.shape)) + v.shape), shape) for v in vs]
            indices = stack(*vs, axis=0)
        else:
            vals = np.broadcast_arrays(*[np.asarray(_values(a), dtype=np.int64) for a in arrays])
            indices = Variable.from_numpy_array(np.stack(vals))
        return gather_nd(var, indices)
    # General case: every output element's full coordinates, from numpy applied to positions.
    coords = _coordinates(var.shape, tuple(
        _values(p) if not isinstance(p, (slice, numbers.Integral)) else p for p in parts))
    return gather_nd(var, Variable.from_numpy_array(coords))


def _coordinates(shape, key, fn="getitem"):
    """(ndim, *result_shape) coordinates of the elements ``key`` selects from ``shape``."""
    try:
        positions = np.arange(prod(shape), dtype=np.int64).reshape(shape)[key]
    except IndexError as e:  # out of bounds, a mask of the wrong shape: NumPy's words
        raise IndexError(f"{fn}: {e} (variable of shape {tuple(shape)})") from None
    return np.stack(np.unravel_index(positions, shape)).reshape((len(shape),) +
                                                                 positions.shape)


def setitem(var, key, value):
    """``var[key] = value``: scatter_nd onto the old variable, then ``var`` is rewired onto it."""
    reshape, broadcast = _array_fns.reshape, _array_fns.broadcast
    ndim = len(var.shape)
    parts = []
    for k in _expand(key, ndim, "setitem"):
        if k is None:
            continue
        parts.append(_values(k) if _is_advanced(k) else k)
    coords = _coordinates(var.shape, tuple(parts), "setitem")
    region = coords.shape[1:]
    if isinstance(value, (Variable, NdArray)):
        v = value
        require("setitem", len(v.shape) <= len(region) and all(
            a in (1, b) for a, b in zip(v.shape[::-1], region[::-1])),
            f"value of shape {v.shape} cannot be broadcast to the indexed region {region}")
        if v.shape != region:
            v = broadcast(reshape(v, (1,) * (len(region) - len(v.shape)) + v.shape), region)
    else:
        # Complex, None, strings, objects: refused (NNabla raises), not cast to NaN or
        # to their real part.
        arr = real_array(value, "setitem: value", copy=False).astype(var.dtype, copy=False)
        try:
            v = Variable.from_numpy_array(np.broadcast_to(arr, region))
        except ValueError:
            raise ValueError(f"setitem: value of shape {arr.shape} cannot be broadcast to "
                             f"the indexed region {region}") from None
    old = _stand_in(var)
    # Not in place: functions that read the old value still see it.
    y = ScatterNd(_in_place=False)(v, Variable.from_numpy_array(coords), old)
    var.rewire_on(y)
    var.rank = y.rank


def _stand_in(var):
    """A Variable that takes ``var``'s place (arrays, parent) so ``var`` can be rewired."""
    old = Variable.__new__(Variable)
    for name in ("_data", "_grad", "_need_grad", "persistent", "name", "_parent", "info",
                 "rank", "recompute"):
        setattr(old, name, getattr(var, name))
    old._order = None
    old._root = None
    if old._parent is not None:
        old._parent._outputs = [weakref.ref(old) if o() is var else o
                                for o in old._parent._outputs]
    return old
