"""NdArray: one logical array with lazy allocation and lazy zeroing.

A fresh NdArray holds no memory; it is allocated (as zeros) the first time its
values are read. ``zero()`` only marks the array as zero, so a solver can tell
"no gradient was written since zero_grad()" from "the gradient is zero".
"""
import numpy as np

from . import backend


def _shape_of(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return tuple(map(int, args))


class NdArray:
    """An n-d array with NNabla's lazily allocated storage (``.data`` is a numpy view)."""

    __slots__ = ("_shape", "_dtype", "_arr", "_zeroing", "modification_count", "__weakref__")

    def __init__(self, *shape):
        self._shape = _shape_of(shape)
        self._dtype = np.float32
        self._arr = None
        self._zeroing = True
        self.modification_count = 0

    @classmethod
    def _empty(cls, shape):
        """A lazily allocated float32 array of an already normalized shape (engine use)."""
        a = cls.__new__(cls)
        a._shape = shape
        a._dtype = np.float32
        a._arr = None
        a._zeroing = True
        a.modification_count = 0
        return a

    @staticmethod
    def from_numpy_array(nparr):
        """A new NdArray holding a copy of ``nparr`` (its dtype is kept)."""
        arr = np.array(nparr)
        a = NdArray(arr.shape)
        a._set(arr)
        return a

    def _set(self, arr):
        """Adopt ``arr`` as the storage (no copy); the engine's fast path."""
        self._arr = arr
        self._zeroing = False

    def _get(self):
        """The storage, allocating or zeroing it if needed."""
        arr = self._arr
        if arr is None:
            arr = self._arr = np.zeros(self._shape, self._dtype)
        elif self._zeroing:
            arr[...] = 0
        self._zeroing = False
        return arr

    @property
    def data(self):
        """The values as a numpy array; in-place writes go to this array."""
        return self._get()

    @data.setter
    def data(self, value):
        self.modification_count += 1
        if isinstance(value, NdArray):
            value = value.data
        value = backend.to_numpy(value) if not np.isscalar(value) else value
        arr = self._arr
        if isinstance(value, np.ndarray) and value.dtype != self.dtype:
            self._set(np.array(np.broadcast_to(value, self._shape)))
            return
        if arr is None or arr.shape != self._shape:
            arr = np.empty(self._shape, value.dtype if isinstance(value, np.ndarray) else self._dtype)
        try:
            np.copyto(arr, value, casting="unsafe")
        except ValueError:
            raise ValueError(f"NdArray.data: cannot assign an array of shape "
                             f"{np.shape(value)} to an array of shape {self._shape}") from None
        self._set(arr)

    @property
    def shape(self):
        return self._shape

    @property
    def size(self):
        return int(np.prod(self._shape, dtype=np.int64))

    @property
    def ndim(self):
        return len(self._shape)

    @property
    def dtype(self):
        return self._arr.dtype.type if self._arr is not None else np.dtype(self._dtype).type

    @property
    def strides(self):
        return self._get().strides

    @property
    def zeroing(self):
        return self._zeroing

    @property
    def clear_called(self):
        return self._arr is None

    def size_from_axis(self, axis=-1):
        return int(np.prod(self._shape[axis:], dtype=np.int64))

    def zero(self):
        """Mark as all zeros (memory is written lazily, on the next read)."""
        self._zeroing = True

    def fill(self, value):
        self._get()[...] = value

    def clear(self):
        """Release the memory; the next read sees zeros (of the same dtype)."""
        if self._arr is not None:
            self._dtype = self._arr.dtype.type
        self._arr = None
        self._zeroing = True

    def get_data(self, mode="rw", dtype=None):
        arr = self._get()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def cast(self, dtype, ctx=None):
        """Change the storage dtype and return the numpy view."""
        self._set(self._get().astype(dtype))
        self._dtype = np.dtype(dtype).type
        return self._arr

    def copy_from(self, arr, use_current_context=True):
        self.data = arr.data if isinstance(arr, NdArray) else arr

    def view(self, shape):
        v = NdArray(shape)
        v._set(self._get().reshape(v._shape))
        return v

    def narrow(self, dim, start, length):
        index = [slice(None)] * self.ndim
        index[dim] = slice(start, start + length)
        v = NdArray(self._shape[:dim] + (length,) + self._shape[dim + 1:])
        v._set(self._get()[tuple(index)])
        return v

    def reset_shape(self, shape, force=False):
        shape = _shape_of((shape,))
        if self._arr is not None:
            if int(np.prod(shape)) == self._arr.size:
                self._arr = self._arr.reshape(shape)
            elif force:
                self._arr = None
                self._zeroing = True
            else:
                raise ValueError(f"reset_shape: {self._shape} -> {shape} changes the size; "
                                 "pass force=True to reallocate")
        self._shape = shape

    def __repr__(self):
        return f"<NdArray({self._shape}) at {hex(id(self))}>"

    def __array__(self, dtype=None, copy=None):
        arr = self._get()
        return arr if dtype is None else arr.astype(dtype)
