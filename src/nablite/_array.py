"""NdArray: one logical array with lazy allocation and lazy zeroing, on the
host or on a device (NNabla's synced array).

A fresh NdArray holds no memory; it is allocated (as zeros) the first time its
values are read. ``zero()`` only marks the array as zero, so a solver can tell
"no gradient was written since zero_grad()" from "the gradient is zero".

``_arr`` is the newest copy: a host NumPy array or a device array (CuPy's, or
the simulated device's). ``_get()`` (``.data``, ``.d``, ``.g``) returns it on
the host, copying it from the device once when the device copy is the newest;
the host copy is then the newest, so an in-place edit of it is seen by the
next device use. ``_on(xp)`` returns it on ``xp``'s device, copying only when
the newest copy is elsewhere. While the device copy is the newest, the host
buffer it came from is kept (``_other``) and reused by the next copy back, so
a host array a user kept sees the values of the next read, as in NNabla.
"""
from __future__ import annotations  # hints are strings: no cost when a method is called

import weakref
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from . import backend

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, DTypeLike, NDArray

    from .context import Context
    from .variable import Variable


def _shape_of(args: Any, where: str = "NdArray") -> tuple[int, ...]:
    if len(args) == 1 and isinstance(args[0], (tuple, list, np.ndarray)):
        args = args[0]
    shape = []
    for s in args:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            if not (isinstance(s, (float, np.floating)) and float(s).is_integer()):
                raise TypeError(f"{where}: shape={tuple(args)!r} must hold integers, got "
                                f"{type(s).__name__} {s!r}")
        if s < 0:
            raise ValueError(f"{where}: shape={tuple(args)!r} must hold sizes >= 0")
        shape.append(int(s))
    return tuple(shape)


# -- NdArray operators ---------------------------------------------------------
# NNabla runs NdArray arithmetic as float32 functions: every result (and every
# array an in-place operator or item assignment writes) is float32, whatever
# the operands' dtypes. A scalar divisor is inverted first (a / s is
# a * float32(1 / s), bit for bit NNabla's result), so dividing by the scalar 0
# raises ZeroDivisionError as NNabla does; array zeros give inf/nan quietly.
_F32 = np.float32
F32_DTYPE = np.dtype(np.float32)  # the engine's "nothing to cast" test: dtype is F32_DTYPE
_ndarray = np.ndarray
_SCALARS = (int, float, np.integer, np.floating, np.bool_)
_QUIET: dict[str, Any] = {"divide": "ignore", "invalid": "ignore", "over": "ignore"}


_REAL_KINDS = "biuf"  # bool, signed and unsigned integers, floating point


def check_real(arr: NDArray[Any], where: str) -> NDArray[Any]:
    """``arr`` unless its dtype is not a real number type (complex, object,
    strings, ...): NNabla refuses those, nablite too, naming ``where``."""
    if arr.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{where}: got an array of dtype {arr.dtype}; expected real numbers "
                        "(a bool, integer or floating-point dtype)")
    return arr


def real_array(value: Any, where: str, copy: bool = True) -> NDArray[Any]:
    """``value`` (array, sequence or real number) as a numpy array of real numbers."""
    if value is None:
        raise TypeError(f"{where}: got None; expected an array or a real number")
    value = backend.to_numpy(value)
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{where}: got a {type(value).__name__}; expected an array or a "
                        "real number")
    try:
        arr = np.array(value) if copy else np.asarray(value)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"{where}: cannot make an array of {_kind(value)}: {e}") from None
    return check_real(arr, where)


def _kind(x: object) -> str:
    shape = getattr(x, "shape", None)
    return f"{type(x).__name__} of shape {tuple(shape)}" if shape is not None else type(x).__name__


def _operand(x: Any, expr: str, name: str, matrix: bool = False) -> Any:
    """``x`` as a float32 array, or as a Python float when it is a real scalar."""
    if isinstance(x, NdArray):
        arr = x._get()
    elif isinstance(x, _SCALARS) and not matrix:
        return float(x)
    elif isinstance(x, np.ndarray) or backend.is_device_array(x):
        arr = x
    else:
        from .variable import Variable
        if not isinstance(x, Variable):
            what = ("an NdArray, a Variable or a numpy array" if matrix else
                    "an NdArray, a Variable, a numpy array or a real number")
            raise TypeError(f"NdArray {expr}: {name} must be {what}; got {_kind(x)}")
        arr = x._data._get()
    return arr if arr.dtype == _F32 else arr.astype(_F32)


def _compute(ufunc: Any, x: Any, y: Any, expr: str) -> NdArray:
    """ufunc(x, y) in float32 (x, y: float32 arrays or Python floats) as a new NdArray."""
    with np.errstate(**_QUIET):
        if type(x) is float:
            x = _F32(x)
        if type(y) is float:
            y = _F32(y)
        if backend.is_device_array(x) or backend.is_device_array(y):
            xp = backend.array_module(x, y)
            x, y = xp.asarray(x), xp.asarray(y)
        try:
            r = ufunc(x, y)
        except ValueError as e:
            raise ValueError(f"NdArray {expr}: shapes {np.shape(x)} and {np.shape(y)} "
                             f"do not {'multiply' if ufunc is np.matmul else 'broadcast'} "
                             f"({e})") from None
    return _wrap(r)


def _wrap(arr: Any) -> NdArray:
    if isinstance(arr, np.generic):
        arr = np.asarray(arr)
    out = NdArray._empty(arr.shape)
    out._set(arr)
    return out


def _index(key: Any) -> Any:
    """NdArray keys as arrays; float index arrays truncated to integers (as NNabla)."""
    if type(key) is tuple:
        return tuple(_index(k) for k in key)
    if isinstance(key, NdArray):
        key = key._get()
    if isinstance(key, np.ndarray) and key.dtype.kind == "f":
        key = key.astype(np.intp)
    return key


class NdArray:
    """An n-d array with NNabla's lazily allocated storage (``.data`` is a numpy view)."""

    # _read: whether a function of a graph reads this array (function.py), so that
    # integers replacing its float values must reach that function
    # _other: while the newest copy is on a device, the host buffer kept for the
    # next copy back (or None)
    __slots__ = ("_shape", "_dtype", "_arr", "_other", "_zeroing", "modification_count",
                 "_read", "_cleared", "__weakref__")
    _shape: tuple[int, ...]
    _dtype: Any
    _arr: Any  # the newest copy (host numpy or a device array), or None before allocation
    _other: Any
    _zeroing: bool
    modification_count: int
    _read: bool

    def __init__(self, *shape: int | Sequence[int]) -> None:
        self._shape = _shape_of(shape)
        self._dtype = np.float32
        self._arr = None
        self._other = None
        self._zeroing = True
        self.modification_count = 0
        self._read = False
        self._cleared = False

    @classmethod
    def _empty(cls, shape: tuple[int, ...]) -> NdArray:
        """A lazily allocated float32 array of an already normalized shape (engine use)."""
        a = cls.__new__(cls)
        a._shape = shape
        a._dtype = np.float32
        a._arr = None
        a._other = None
        a._zeroing = True
        a.modification_count = 0
        a._read = False
        a._cleared = False
        return a

    @staticmethod
    def from_numpy_array(nparr: ArrayLike) -> NdArray:
        """A new NdArray holding a copy of ``nparr`` (its dtype is kept)."""
        arr = real_array(nparr, "NdArray.from_numpy_array")
        a = NdArray(arr.shape)
        a._set(arr)
        return a

    def _set(self, arr: Any) -> None:
        """Adopt ``arr`` (host or device) as the newest copy (no copy); the
        engine's fast path."""
        self._arr = arr
        self._zeroing = False

    def _get(self) -> NDArray[Any]:
        """The values on the host, allocating, zeroing or copying them back from
        the device if needed (the host copy becomes the newest)."""
        arr = self._arr
        if type(arr) is not _ndarray:  # not allocated, on a device, or a NumPy scalar
            return self._fetch()
        if self._zeroing:
            arr[...] = 0
            self._zeroing = False
        return arr

    def _fetch(self) -> NDArray[Any]:
        arr = self._arr
        if arr is None:
            arr = self._arr = self._allocate(np)
        elif isinstance(arr, np.generic):  # a function returned a NumPy scalar
            arr = self._arr = np.asarray(arr)
        elif not isinstance(arr, np.ndarray):  # the newest copy is on a device
            host = self._other  # reused when CuPy's get(out=) can fill it
            if (host is None or host.shape != arr.shape or host.dtype != arr.dtype
                    or not host.flags.c_contiguous):
                host = None
            if self._zeroing:
                host = np.zeros(arr.shape, arr.dtype) if host is None else host
                host[...] = 0
                self._zeroing = False
            else:
                host = backend.to_numpy(arr, out=host)
            self._other = None
            self._arr = arr = host
        if self._zeroing:
            arr[...] = 0
            self._zeroing = False
        return arr

    def _allocate(self, xp: Any) -> Any:
        """Zeros of this shape and dtype on ``xp``'s device (numpy: the host)."""
        self._zeroing = False
        try:
            return xp.zeros(self._shape, self._dtype)
        except (MemoryError, ValueError) as e:  # ValueError: beyond NumPy's sizes
            raise MemoryError(f"NdArray: cannot allocate an array of shape "
                              f"{self._shape} ({np.dtype(self._dtype)}): {e}") from None

    def _on(self, xp: Any) -> Any:
        """The values on ``xp``'s device (numpy: the host, as ``_get``), copying
        them there only if the newest copy is elsewhere (``xp``'s side then holds
        the newest); zeros allocated there when nothing is allocated yet."""
        if xp is np:
            return self._get()
        arr = self._arr
        if arr is None:
            arr = self._arr = self._allocate(xp)
            return arr
        if not isinstance(arr, xp.ndarray):  # on the host: copy it over
            if self._zeroing:
                dev = xp.zeros(arr.shape, arr.dtype)
                self._zeroing = False
            else:
                dev = backend.to_device(xp, arr)
            if isinstance(arr, np.ndarray):
                self._other = arr  # reused by the next copy back
            self._arr = arr = dev
        elif self._zeroing:
            arr.fill(0)
            self._zeroing = False
        return arr

    def _current(self) -> Any:
        """The values where the newest copy is (host or device), allocated and zeroed."""
        arr = self._arr
        if arr is not None and backend.is_device_array(arr):
            if self._zeroing:
                arr.fill(0)
                self._zeroing = False
            return arr
        return self._get()

    @property
    def data(self) -> NDArray[Any]:
        """The values as a numpy array; in-place writes go to this array."""
        return self._get()

    @data.setter
    def data(self, value: ArrayLike | NdArray) -> None:
        self._assign(value, "NdArray.data")

    def _assign(self, value: Any, where: str) -> None:
        """Write ``value`` (broadcast to this shape); an array of another dtype
        replaces the storage with one of its dtype, as in NNabla."""
        if type(value) is np.ndarray:  # the common case, checked cheaply
            if value.dtype.kind not in _REAL_KINDS:
                check_real(value, where)
        elif isinstance(value, NdArray):
            value = value.data
        elif not isinstance(value, _SCALARS):
            value = real_array(value, where, copy=False)
        arr = self._arr
        if arr is not None and not isinstance(arr, np.ndarray):
            # the newest copy is on a device (or a NumPy scalar): the value replaces
            # all of it, written on the host without copying the old values back
            host = self._other
            if host is None or host.shape != self._shape or host.dtype != arr.dtype:
                host = np.empty(self._shape, arr.dtype)
            arr = host
            self._other = None
        if isinstance(value, np.ndarray) and value.dtype != self.dtype:
            try:
                new = np.array(np.broadcast_to(value, self._shape))
            except ValueError:
                raise ValueError(self._shape_message(value, where)) from None
            self.modification_count += 1
            self._set(new)
            if self._read:  # graphs built for the old dtype read it
                _reading_functions_see_new_dtype(self)
            return
        if arr is None or arr.shape != self._shape:
            arr = np.empty(self._shape, value.dtype if isinstance(value, np.ndarray) else self.dtype)
        try:
            np.copyto(arr, value, casting="unsafe")
        except ValueError:
            raise ValueError(self._shape_message(value, where)) from None
        self.modification_count += 1
        self._set(arr)

    def _shape_message(self, value: Any, where: str) -> str:
        return (f"{where}: cannot assign an array of shape {np.shape(value)} to an array "
                f"of shape {self._shape} (the shapes must be equal or broadcast)")

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def size(self) -> int:
        return int(np.prod(self._shape, dtype=np.int64))

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        """The values' dtype, a ``numpy.dtype`` as NNabla's (float32 before allocation)."""
        return self._arr.dtype if self._arr is not None else np.dtype(self._dtype)

    @property
    def strides(self) -> tuple[int, ...]:
        return self._get().strides

    @property
    def zeroing(self) -> bool:
        return self._zeroing

    @property
    def clear_called(self) -> bool:
        """Whether clear() freed the memory and nothing has been written since
        (a new array, not yet allocated, is not cleared: as NNabla)."""
        return self._arr is None and self._cleared

    def size_from_axis(self, axis: int = -1) -> int:
        """The number of elements from ``axis`` on; a negative axis (the default)
        counts them all, as NNabla's does."""
        return int(np.prod(self._shape[max(axis, 0):], dtype=np.int64))

    def zero(self) -> None:
        """Mark as all zeros (memory is written lazily, on the next read; at once
        where a view shares it, so that the other array sees the zeros)."""
        self._cleared = False
        if views_made and self._arr is not None and self in aliased:
            self._current()[...] = 0
            return
        self._zeroing = True

    def fill(self, value: float) -> None:
        arr = self._arr
        if arr is not None and backend.is_device_array(arr):  # filled where it is
            arr.fill(value)
            self._zeroing = False
        else:
            self._get()[...] = value

    def clear(self) -> None:
        """Release the memory; the next read sees zeros (of the same dtype)."""
        if self._arr is not None:
            self._dtype = self._arr.dtype.type
        self._arr = None
        self._other = None
        self._zeroing = True
        self._cleared = True

    def get_data(self, mode: str = "rw", dtype: DTypeLike | None = None) -> NDArray[Any]:
        arr = self._get()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def cast(self, dtype: DTypeLike, ctx: Context | None = None) -> Any:
        """Change the storage dtype and return the array: the numpy array without
        ``ctx``, else the array on ``ctx``'s device (NNabla returns None then)."""
        try:
            kind = np.dtype(dtype).kind
        except TypeError:
            raise TypeError(f"NdArray.cast: dtype={dtype!r} is not a numpy dtype") from None
        if kind not in _REAL_KINDS:
            raise TypeError(f"NdArray.cast: dtype={np.dtype(dtype)} is not a real number "
                            "type; expected a bool, integer or floating-point dtype")
        from .backend import module_for
        xp = np if ctx is None else module_for(ctx.backend_name)
        self._set(self._on(xp).astype(dtype))
        self._dtype = np.dtype(dtype).type
        return self._arr

    def copy_from(self, arr: NdArray | ArrayLike, use_current_context: bool = True) -> NdArray:
        """Copy ``arr``'s values in; returns this array (as NNabla's, so that
        ``nn.NdArray(shape).copy_from(a)`` makes a copy)."""
        self.data = arr.data if isinstance(arr, NdArray) else arr
        return self

    def view(self, shape: int | Sequence[int]) -> NdArray:
        """An NdArray of ``shape`` over this one's memory."""
        v = NdArray(shape)
        v._set(self._current().reshape(v._shape))
        _share(self, v)
        return v

    def narrow(self, dim: int, start: int, length: int) -> NdArray:
        """The NdArray of ``length`` entries from ``start`` along ``dim``, over
        this one's memory."""
        index = [slice(None)] * self.ndim
        index[dim] = slice(start, start + length)
        v = NdArray(self._shape[:dim] + (length,) + self._shape[dim + 1:])
        v._set(self._current()[tuple(index)])
        _share(self, v)
        return v

    def reset_shape(self, shape: int | Sequence[int], force: bool = False) -> None:
        shape = _shape_of((shape,))
        self._other = None
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

    # -- operators: + - * / ** @, reflected, unary, in-place, indexing ---------
    # Results are new float32 NdArrays (see _operand); operands are NdArrays,
    # Variables (their data), numpy arrays or real scalars, broadcast as NumPy
    # does. In-place forms return this NdArray and write into its storage when
    # that is float32 (another dtype is replaced by float32 storage, as NNabla
    # does). As in NNabla there are no comparison operators (== is identity),
    # no len() and no in-place @ (a @= b rebinds a to a new array).
    __array_priority__ = 1000  # numpy_array + NdArray defers to NdArray.__radd__

    def _binary(self, other: Any, ufunc: Any, expr: str, reflected: bool = False) -> NdArray:
        x = self._get()
        x = x if x.dtype == _F32 else x.astype(_F32)
        y = _operand(other, expr, "the left operand" if reflected else "the right operand")
        return _compute(ufunc, y, x, expr) if reflected else _compute(ufunc, x, y, expr)

    def _inplace(self, other: Any, ufunc: Any, expr: str) -> NdArray:
        y = _operand(other, expr, "the right operand")
        arr = self._get()
        if arr.dtype != _F32 or backend.is_device_array(y):
            r = self._binary(y, ufunc, expr)._arr
            if r.shape != self._shape:
                raise ValueError(f"NdArray {expr}: the result has shape {r.shape}, this "
                                 f"array {self._shape}; an in-place operator keeps the shape")
            self._set(r)
        else:
            with np.errstate(**_QUIET):
                try:
                    ufunc(arr, _F32(y) if type(y) is float else y, out=arr)
                except ValueError:
                    raise ValueError(f"NdArray {expr}: an operand of shape {np.shape(y)} does "
                                     f"not broadcast to this array's shape {self._shape} "
                                     "(an in-place operator keeps the shape)") from None
        self.modification_count += 1
        return self

    @staticmethod
    def _reciprocal(other: Any, expr: str) -> float | None:
        """A scalar divisor as the float 1 / other (NNabla multiplies by it), else other."""
        if isinstance(other, _SCALARS):
            if other == 0:
                raise ZeroDivisionError(f"NdArray {expr}: division by the scalar {other!r} "
                                        "(divide by an array to get inf/nan instead)")
            return 1.0 / float(other)
        return None

    def __add__(self, other: Operand) -> NdArray:
        return self._binary(other, np.add, "a + b")

    def __radd__(self, other: ReflectedOperand) -> NdArray:
        return self._binary(other, np.add, "b + a", True)

    def __iadd__(self, other: Operand) -> NdArray:
        return self._inplace(other, np.add, "a += b")

    def __sub__(self, other: Operand) -> NdArray:
        return self._binary(other, np.subtract, "a - b")

    def __rsub__(self, other: ReflectedOperand) -> NdArray:
        return self._binary(other, np.subtract, "b - a", True)

    def __isub__(self, other: Operand) -> NdArray:
        return self._inplace(other, np.subtract, "a -= b")

    def __mul__(self, other: Operand) -> NdArray:
        return self._binary(other, np.multiply, "a * b")

    def __rmul__(self, other: ReflectedOperand) -> NdArray:
        return self._binary(other, np.multiply, "b * a", True)

    def __imul__(self, other: Operand) -> NdArray:
        return self._inplace(other, np.multiply, "a *= b")

    def __truediv__(self, other: Operand) -> NdArray:
        inv = self._reciprocal(other, "a / b")
        if inv is not None:
            return self._binary(inv, np.multiply, "a / b")
        return self._binary(other, np.divide, "a / b")

    def __rtruediv__(self, other: ReflectedOperand) -> NdArray:
        return self._binary(other, np.divide, "b / a", True)

    def __itruediv__(self, other: Operand) -> NdArray:
        inv = self._reciprocal(other, "a /= b")
        if inv is not None:
            return self._inplace(inv, np.multiply, "a /= b")
        return self._inplace(other, np.divide, "a /= b")

    def __pow__(self, other: Operand, modulo: None = None) -> NdArray:
        if modulo is not None:
            raise TypeError("NdArray pow(a, b, modulo): modulo is not supported; got "
                            f"{_kind(modulo)}, expected None")
        return self._binary(other, np.power, "a ** b")

    def __rpow__(self, other: ReflectedOperand) -> NdArray:
        return self._binary(other, np.power, "b ** a", True)

    def __ipow__(self, other: Operand) -> NdArray:
        return self._inplace(other, np.power, "a **= b")

    def __matmul__(self, other: NdArray | Variable | NDArray[Any]) -> NdArray:
        x = self._get()
        x = x if x.dtype == _F32 else x.astype(_F32)
        return _compute(np.matmul, x, _operand(other, "a @ b", "the right operand", True),
                        "a @ b")

    def __rmatmul__(self, other: NDArray[Any]) -> NdArray:
        x = self._get()
        x = x if x.dtype == _F32 else x.astype(_F32)
        return _compute(np.matmul, _operand(other, "b @ a", "the left operand", True), x,
                        "b @ a")

    def __neg__(self) -> NdArray:
        x = self._get()
        return _wrap(-(x if x.dtype == _F32 else x.astype(_F32)))

    def __pos__(self) -> NdArray:
        return self  # NNabla's +a is a itself

    def __getitem__(self, key: Any) -> NdArray:
        """``a[key]``: a new float32 NdArray holding a copy of the selected values."""
        arr = self._get()
        try:
            r = arr[_index(key)]
        except IndexError as e:
            raise IndexError(f"NdArray a[key]: key {_kind(key)} does not index an array "
                             f"of shape {self._shape}: {e}") from None
        return _wrap(backend.array_module(arr).array(r, dtype=_F32))

    def __setitem__(self, key: Any, value: Any) -> None:
        """``a[key] = value`` in place (a non-float32 array becomes float32, as in NNabla)."""
        if isinstance(value, NdArray):
            value = value._get()
        elif backend.is_device_array(value):
            value = backend.to_numpy(value)
        elif value is None or isinstance(value, (str, bytes)):
            raise TypeError(f"NdArray a[key] = value: value must be an NdArray, a Variable, "
                            f"an array, a sequence or a real number; got {_kind(value)}")
        elif not isinstance(value, _SCALARS + (np.ndarray, list, tuple)):
            from .variable import Variable
            if isinstance(value, Variable):
                value = value._data._get()
        arr = self._get()
        out = arr if arr.dtype == _F32 else arr.astype(_F32)
        try:
            out[_index(key)] = value
        except IndexError as e:
            raise IndexError(f"NdArray a[key] = value: key {_kind(key)} does not index an "
                             f"array of shape {self._shape}: {e}") from None
        except ValueError as e:
            raise ValueError(f"NdArray a[key] = value: value {_kind(value)} does not fit "
                             f"a[key] of an array of shape {self._shape}: {e}") from None
        if out is not arr:
            self._set(out)
        self.modification_count += 1

    def __repr__(self) -> str:
        return f"<NdArray({self._shape}) at {hex(id(self))}>"

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> NDArray[Any]:
        arr = self._get()
        return arr if dtype is None else arr.astype(dtype)


# NdArrays whose memory another one shares (view, narrow): their zero() writes the
# zeros at once, since the lazy mark would not reach the other (neu's packed
# solvers give parameters views of one buffer). ``views_made`` keeps the common
# case to one global check.
aliased: weakref.WeakSet[NdArray] = weakref.WeakSet()
views_made = False


def _share(a: NdArray, b: NdArray) -> None:
    global views_made
    views_made = True
    aliased.add(a)
    aliased.add(b)


def _reading_functions_see_new_dtype(nd: NdArray) -> None:
    """Values of another dtype now fill ``nd``, read by graphs built for the old
    one: integers where floats were, or floats of another precision. The
    functions that read it compute them as NNabla does from now on (function.py)."""
    from .function import integers_arrived
    integers_arrived(nd)


class _ReshapedView(NdArray):
    """The data of an in-place reshape's output (``F.reshape(x, shape)``,
    ``x.reshape(shape)``), which shares the input's memory as in NNabla: until a
    forward gives it a buffer, reads and writes go to the input's storage."""

    __slots__ = ("_base",)
    _base: NdArray

    def __init__(self, base: NdArray, shape: int | Sequence[int]) -> None:
        NdArray.__init__(self, shape)
        self._base = base
        self._dtype = base.dtype

    def _get(self) -> NDArray[Any]:
        if self._arr is None:
            return self._base._get().reshape(self._shape)
        return NdArray._get(self)

    def _on(self, xp: Any) -> Any:
        if self._arr is None:
            return self._base._on(xp).reshape(self._shape)
        return NdArray._on(self, xp)

    def _fetch(self) -> NDArray[Any]:
        # A device view of the input's device copy comes to the host as a view of
        # the input's host copy, so that the two still share memory there. If the
        # input came to the host first, its host copy holds the memory this view
        # shared on the device (a later device write would have moved it back).
        arr, base = self._arr, self._base._arr
        if backend.is_device_array(arr) and not self._zeroing and (
                backend.is_device_array(base)
                and backend.array_module(arr).shares_memory(arr, base)
                or type(base) is np.ndarray and base.size == arr.size
                and base.dtype == arr.dtype):
            host = self._base._get().reshape(self._shape)
            if np.shares_memory(host, self._base._arr):
                self._arr = host
                return host
        return NdArray._fetch(self)

    def _current(self) -> Any:
        if self._arr is None:
            return self._base._current().reshape(self._shape)
        return NdArray._current(self)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._base.dtype if self._arr is None else self._arr.dtype

    @property
    def data(self) -> NDArray[Any]:
        return self._get()

    @data.setter
    def data(self, value: ArrayLike | NdArray) -> None:
        self._assign(value, "NdArray.data")

    def _assign(self, value: Any, where: str) -> None:
        if self._arr is None:
            self._set(self._get())  # bind the input's storage, then write into it
        NdArray._assign(self, value, where)


if TYPE_CHECKING:
    from typing import TypeAlias

    # What an NdArray operator takes besides another NdArray (Variable - NdArray
    # is Variable's operator, so the reflected forms see only the others).
    Operand: TypeAlias = "NdArray | Variable | NDArray[Any] | float"
    ReflectedOperand: TypeAlias = "NDArray[Any] | float"
