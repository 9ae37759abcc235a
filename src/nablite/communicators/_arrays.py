"""What the collectives accept (an NdArray or a list of them) as arrays of the
communicator's device, and the packing of many arrays into one message.

MPI reads and writes host memory here (mpi4py from PyPI is not CUDA-aware), so
a message of device arrays is packed on the device, copied to the host once,
reduced there, copied back once and unpacked on the device: two transfers per
packed message, none per parameter.
"""
import numpy as np

from .. import backend
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


def on(nd, xp):
    """The array behind the NdArray ``nd`` on ``xp``'s device (moved there if its
    newest values are elsewhere); in-place writes to it are writes to ``nd``."""
    return nd._get() if xp is np else nd._on(xp)


def device_arrays(data, where, xp):
    """The arrays behind ``data`` (an NdArray or a list/tuple of them) on ``xp``'s
    device; in-place writes to them are writes to the NdArrays."""
    return [on(d, xp) for d in ndarrays(data, where)]


def pack(arrays, xp=np):
    """One contiguous 1-D copy of ``arrays`` (all of one dtype, on ``xp``'s device)."""
    if len(arrays) == 1 and arrays[0].ndim == 1 and arrays[0].flags.c_contiguous:
        return arrays[0].copy()
    return xp.concatenate([a.ravel() for a in arrays])


def to_host(buf):
    """``buf`` as a host array for MPI: itself on the host, else one copy."""
    return buf if type(buf) is np.ndarray else backend.to_numpy(buf)


def from_host(host, xp):
    """The host message ``host`` back on ``xp``'s device (one copy; none on the host)."""
    return host if xp is np else xp.asarray(host)


def unpack(buf, arrays, scale=None, xp=np):
    """Write ``buf`` back into ``arrays`` (optionally times ``scale``)."""
    offset = 0
    for a in arrays:
        part = buf[offset:offset + a.size].reshape(a.shape)
        if scale is None:
            xp.copyto(a, part, casting="unsafe")
        else:
            xp.multiply(part, scale, out=a, casting="unsafe")
        offset += a.size


def by_dtype(arrays):
    """``arrays`` grouped by dtype (a message holds one dtype), in first-seen order."""
    groups = {}
    for a in arrays:
        groups.setdefault(a.dtype, []).append(a)
    return list(groups.values())
