"""What the collectives accept (an NdArray or a list of them) as NumPy arrays,
and the packing of many arrays into one message."""
import numpy as np

from .._array import NdArray


def ndarrays(data, where):
    """``data`` (an NdArray or a list/tuple of them) as a list, checked."""
    items = list(data) if isinstance(data, (list, tuple)) else [data]
    for i, d in enumerate(items):
        if not isinstance(d, NdArray):
            hint = " (pass x.data or x.grad)" if hasattr(d, "parent") else ""
            raise TypeError(f"{where}: data must be an NdArray or a list of NdArrays, but "
                            f"item {i} is {type(d).__name__}{hint}")
    return items


def host_arrays(data, where):
    """The host arrays behind ``data`` (an NdArray or a list/tuple of them);
    in-place writes to them are writes to the NdArrays."""
    return [d.data for d in ndarrays(data, where)]


def pack(arrays):
    """One contiguous 1-D copy of ``arrays`` (all of one dtype)."""
    if len(arrays) == 1 and arrays[0].ndim == 1 and arrays[0].flags.c_contiguous:
        return arrays[0].copy()
    return np.concatenate([a.ravel() for a in arrays])


def unpack(buf, arrays, scale=None):
    """Write ``buf`` back into ``arrays`` (optionally times ``scale``)."""
    offset = 0
    for a in arrays:
        part = buf[offset:offset + a.size].reshape(a.shape)
        if scale is None:
            np.copyto(a, part, casting="unsafe")
        else:
            np.multiply(part, scale, out=a, casting="unsafe")
        offset += a.size


def by_dtype(arrays):
    """``arrays`` grouped by dtype (a message holds one dtype), in first-seen order."""
    groups = {}
    for a in arrays:
        groups.setdefault(a.dtype, []).append(a)
    return list(groups.values())
