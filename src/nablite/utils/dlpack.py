"""NdArrays to and from DLPack capsules, sharing memory (``nnabla.utils.dlpack``).

A DLPack capsule (``PyCapsule`` named "dltensor") is how array libraries hand
each other memory without a copy: ``torch.utils.dlpack.to_dlpack(t)``,
``numpy_array.__dlpack__()``, CuPy's ``toDlpack()``. ``from_dlpack`` takes one
(once: the capsule is then marked used, as the protocol asks) and ``to_dlpack``
makes one of an NdArray's newest copy.

NumPy only makes read-only arrays of the unversioned capsules these libraries
give, while an NdArray's memory must stay writable; so host capsules are read
here with ctypes (the C struct is DLPack's ``DLManagedTensor``), and the
producer's deleter runs when the last array over the memory goes away.
"""
import ctypes

import numpy as np

from .._array import NdArray

__all__ = ["from_dlpack", "to_dlpack"]

_CPU, _CUDA, _CUDA_HOST, _CUDA_MANAGED = 1, 2, 3, 13
_DTYPES = {(0, 8): "i1", (0, 16): "i2", (0, 32): "i4", (0, 64): "i8",
           (1, 8): "u1", (1, 16): "u2", (1, 32): "u4", (1, 64): "u8",
           (2, 16): "f2", (2, 32): "f4", (2, 64): "f8", (6, 8): "?"}


class _Device(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _Device), ("ndim", ctypes.c_int32),
                ("dtype", _DataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _Managed(ctypes.Structure):
    pass


_DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(_Managed))
_Managed._fields_ = [("dl_tensor", _Tensor), ("manager_ctx", ctypes.c_void_p),
                     ("deleter", _DELETER)]

_api = ctypes.pythonapi
_api.PyCapsule_IsValid.restype = ctypes.c_int
_api.PyCapsule_IsValid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_GetPointer.restype = ctypes.c_void_p
_api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_api.PyCapsule_SetName.restype = ctypes.c_int
_api.PyCapsule_SetName.argtypes = [ctypes.py_object, ctypes.c_char_p]


class _Owner:
    """The producer's memory as NumPy sees it (``__array_interface__``); calls
    the producer's deleter when the arrays over it are gone."""

    def __init__(self, managed, interface):
        self._managed = managed
        self.__array_interface__ = interface

    def __del__(self):
        managed, self._managed = self._managed, None
        if managed and managed.contents.deleter:
            managed.contents.deleter(managed)


def _host_array(managed):
    t = managed.contents.dl_tensor
    code, bits, lanes = t.dtype.code, t.dtype.bits, t.dtype.lanes
    if lanes != 1 or (code, bits) not in _DTYPES:
        raise TypeError(f"from_dlpack: the capsule holds DLPack dtype (code {code}, {bits} "
                        f"bits, {lanes} lanes); expected a bool, integer or float type")
    dtype = np.dtype(_DTYPES[code, bits])
    shape = tuple(t.shape[i] for i in range(t.ndim))
    strides = None if not t.strides else tuple(t.strides[i] * dtype.itemsize
                                               for i in range(t.ndim))
    if 0 in shape or not t.data:
        _Owner(managed, None)  # nothing to share: release it now
        return np.zeros(shape, dtype)
    return np.asarray(_Owner(managed, {
        "version": 3, "shape": shape, "typestr": dtype.str, "strides": strides,
        "data": (t.data + t.byte_offset, False)}))


def _device_array(dlp):
    import cupy
    return cupy.from_dlpack(dlp) if not hasattr(cupy, "fromDlpack") else cupy.fromDlpack(dlp)


def from_dlpack(dlp, arr=None):
    """The NdArray over a DLPack capsule's memory (no copy); with ``arr`` (an
    NdArray), that array takes the memory (and its shape and dtype) and is
    returned. ``dlp`` may also be an object with ``__dlpack__`` (a torch tensor,
    a NumPy array). A capsule can be taken once."""
    if arr is not None and not isinstance(arr, NdArray):
        raise TypeError(f"from_dlpack: arr must be an NdArray or None; got "
                        f"{type(arr).__name__}")
    if hasattr(dlp, "__dlpack__"):  # (a capsule has no attributes)
        dlp = dlp.__dlpack__()
    if not _api.PyCapsule_IsValid(dlp, b"dltensor"):
        raise ValueError(f"from_dlpack: dlp must be an unused DLPack capsule (PyCapsule "
                         f"'dltensor'); got {dlp!r:.60}")
    managed = ctypes.cast(_api.PyCapsule_GetPointer(dlp, b"dltensor"),
                          ctypes.POINTER(_Managed))
    kind = managed.contents.dl_tensor.device.device_type
    if kind in (_CPU, _CUDA_HOST):
        value = _host_array(managed)
        _api.PyCapsule_SetName(dlp, b"used_dltensor")  # ours now: the producer keeps off
    elif kind in (_CUDA, _CUDA_MANAGED):
        value = _device_array(dlp)
    else:
        raise ValueError(f"from_dlpack: the capsule's memory is on DLPack device type "
                         f"{kind}; nablite reads the CPU (1) and CUDA (2, 3, 13)")
    out = arr if arr is not None else NdArray(value.shape)
    out._shape, out._dtype = tuple(value.shape), value.dtype.type
    out._other = None
    out._set(value)
    return out


def to_dlpack(a, dtype=None, ctx=None):
    """A DLPack capsule over NdArray ``a``'s memory: its newest copy, or (with
    ``dtype`` or ``ctx``) the array cast to ``dtype`` on ``ctx``'s device, which
    becomes ``a``'s storage."""
    if not isinstance(a, NdArray):
        raise TypeError(f"to_dlpack: a must be an NdArray (a Variable's .data); got "
                        f"{type(a).__name__}")
    if dtype is not None or ctx is not None:
        value = a.cast(a.dtype if dtype is None else dtype, ctx)
    else:
        value = a._current()
    return value.__dlpack__()
