"""A simulated device: arrays that behave like CuPy's where host and device meet.

The suite runs on machines without a GPU, yet the device code path (the
engine, ``NdArray``'s two copies, every function written against ``xp``) must
never hand a host NumPy array to device code or a device array to NumPy. This
module is the array module ``xp`` of such a device (``backend.module_for``
returns it for 'cuda' / 'cudnn' when device simulation is on). Its arrays,
``DeviceArray``, wrap NumPy arrays and refuse what CuPy refuses:

  - implicit conversion to NumPy (``np.asarray(a)``, ``np.exp(a)``,
    ``np.concatenate([a, b])``): TypeError, as CuPy's ``__array__`` raises;
  - a host ndarray as an operand (``a + host``) or as an argument of an
    ``xp`` function: TypeError, as CuPy raises for ``numpy.ndarray`` operands.

What CuPy allows works: Python and NumPy scalars as operands, host arrays as
the value or index of ``a[key] = value``, ``float(a)`` / ``int(a)`` /
``bool(a)`` / ``a.item()`` / ``a.tolist()`` / ``len(a)`` / iteration (CuPy
synchronizes for them), ``a.get()`` and ``xp.asnumpy(a)`` for a host copy, and
the explicit transfers ``xp.asarray`` / ``xp.array`` / ``xp.asanyarray`` /
``xp.ascontiguousarray`` of host data. Reductions return 0-d arrays, as CuPy's
do. The values are computed by NumPy, so results match the CPU bit for bit.
"""
import contextlib
import numbers
import types

import numpy as _np

__all__ = ["DeviceArray", "xp", "enabled_name"]

enabled_name = "nablite_device_sim"

_TO_HOST = ("implicit conversion of a device array to a host NumPy array is not allowed; "
            "use backend.to_numpy (or a.get()) for an explicit copy")


def _host_error(where, what="an argument"):
    return TypeError(f"{where}: {what} is a host numpy.ndarray; device code takes device "
                     "arrays (move it with xp.asarray, as for CuPy)")


def _unwrap(x, where):
    """``x`` with DeviceArrays replaced by their NumPy arrays (inside lists and
    tuples too); a host ndarray anywhere is refused, naming ``where``."""
    t = type(x)
    if t is DeviceArray:
        return x._a
    if t is list or t is tuple:
        return t(_unwrap(v, where) for v in x)
    if isinstance(x, _np.ndarray):
        raise _host_error(where)
    return x


def _unwrap_any(x):
    """``x`` with DeviceArrays replaced by their NumPy arrays; host data allowed."""
    t = type(x)
    if t is DeviceArray:
        return x._a
    if t is list or t is tuple:
        return t(_unwrap_any(v) for v in x)
    return x


def _unwrap_kw(kw, where):
    return {k: _unwrap(v, where) for k, v in kw.items()} if kw else kw


def _wrap(r):
    """NumPy results as device results: arrays and NumPy scalars become
    DeviceArrays (CuPy returns 0-d arrays, not scalars), also inside tuples."""
    if isinstance(r, _np.ndarray):
        return DeviceArray(r)
    if isinstance(r, _np.generic):
        return DeviceArray(_np.asarray(r))
    t = type(r)
    if t is tuple or t is list:
        return t(_wrap(v) for v in r)
    if isinstance(r, tuple) and hasattr(r, "_fields"):  # linalg's named results
        return t(*[_wrap(v) for v in r])
    return r


def _operand(x, where):
    """An operator's other operand as NumPy sees it, or NotImplemented."""
    t = type(x)
    if t is DeviceArray:
        return x._a
    if isinstance(x, _np.ndarray):
        raise _host_error(where, "the other operand")
    if isinstance(x, (numbers.Number, _np.generic)):
        return x
    return NotImplemented


def _binary(name, symbol, inplace=False):
    """The operator ``name`` of DeviceArray: a device operand or a number, never a
    host array; in place (``__iadd__`` & co) it returns the array itself."""
    op = getattr(_np.ndarray, name)

    def method(self, other):
        o = _operand(other, f"DeviceArray {symbol}")
        if o is NotImplemented:
            return o
        result = op(self._a, o)
        return self if inplace else _wrap(result)
    method.__name__ = name
    return method


def _inplace(name, symbol):
    return _binary(name, symbol, inplace=True)


def _unary(name):
    op = getattr(_np.ndarray, name)

    def method(self):
        return _wrap(op(self._a))
    method.__name__ = name
    return method


def _delegate(name):
    """An ndarray method on the wrapped array: arguments unwrapped, results wrapped."""
    def method(self, *args, **kw):
        where = f"DeviceArray.{name}"
        return _wrap(getattr(self._a, name)(*_unwrap(args, where), **_unwrap_kw(kw, where)))
    method.__name__ = name
    return method


# ndarray methods a DeviceArray has (CuPy's ndarray has all of these)
_METHODS = ("all", "any", "argmax", "argmin", "argsort", "astype", "choose", "clip",
            "compress", "conj", "copy", "cumprod", "cumsum", "diagonal", "dot", "fill",
            "flatten", "max", "mean", "min", "nonzero", "partition", "prod", "ptp", "put",
            "ravel", "repeat", "reshape", "round", "sort", "squeeze", "std", "sum",
            "swapaxes", "take", "trace", "transpose", "var", "view")


class DeviceArray:
    """An array on the simulated device (see the module's doc)."""

    __slots__ = ("_a",)
    # numpy_array + device_array: NumPy asks __array_ufunc__, which refuses
    __array_priority__ = 1e6

    def __init__(self, a):
        self._a = a

    # -- what CuPy refuses -----------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_TO_HOST)

    def __array_ufunc__(self, ufunc, method, *inputs, **kw):
        # ``numpy_scalar * device_array`` lands here; CuPy computes it on the
        # device. A host numpy.<ufunc> called on a device array is refused.
        if (method == "__call__" and ufunc.nin == 2 and not kw
                and any(isinstance(v, _np.generic) for v in inputs)
                and all(type(v) is DeviceArray or isinstance(v, (numbers.Number, _np.generic))
                        for v in inputs)):
            return _wrap(ufunc(*[v._a if type(v) is DeviceArray else v for v in inputs]))
        raise TypeError(f"numpy.{ufunc.__name__}: called on a device array; use "
                        f"xp.{ufunc.__name__} (the context's array module). {_TO_HOST}")

    def __array_function__(self, func, types_, args, kw):
        if func in _HARMLESS:
            return func(*_unwrap(args, func.__name__), **_unwrap_kw(kw, func.__name__))
        raise TypeError(f"numpy.{func.__name__}: called on a device array; use "
                        f"xp.{func.__name__} (the context's array module). {_TO_HOST}")

    # -- attributes --------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: DeviceArray(self._a.T))
    real = property(lambda self: DeviceArray(self._a.real))
    imag = property(lambda self: DeviceArray(self._a.imag))

    @property
    def base(self):
        b = self._a.base
        return None if b is None else DeviceArray(b) if isinstance(b, _np.ndarray) else b

    @shape.setter
    def shape(self, value):
        self._a.shape = value

    # -- what CuPy allows (with a synchronization) -------------------------------
    def get(self, stream=None, order="C", out=None):
        """A host copy (CuPy's ``ndarray.get``); into ``out`` when given."""
        if out is not None:  # CuPy's conditions on ``out``
            if not isinstance(out, _np.ndarray):
                raise TypeError(f"DeviceArray.get: out must be a numpy.ndarray, got "
                                f"{type(out).__name__}")
            if out.shape != self._a.shape or out.dtype != self._a.dtype:
                raise ValueError(f"DeviceArray.get: out has shape {out.shape} and dtype "
                                 f"{out.dtype}; expected {self._a.shape} and {self._a.dtype}")
            if not (out.flags.c_contiguous or out.flags.f_contiguous):
                raise RuntimeError("DeviceArray.get: `out` cannot be specified when copying "
                                   "to non-contiguous ndarray")
            _np.copyto(out, self._a)
            return out
        return _np.array(self._a, order=order)

    def set(self, arr, stream=None):
        """Copy the host array ``arr`` into this array (CuPy's ``ndarray.set``)."""
        self._a[...] = arr

    def item(self, *args):
        return self._a.item(*args)

    def tolist(self):
        return self._a.tolist()

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    def __bool__(self):
        return bool(self._a)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(v) for v in self._a)

    def __getitem__(self, key):
        return _wrap(self._a[_index(key)])

    def __setitem__(self, key, value):
        # CuPy takes host values here (a host-to-device copy)
        self._a[_index(key)] = value._a if type(value) is DeviceArray else value

    def __repr__(self):
        return f"DeviceArray({self._a!r})"

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a if self._a.ndim else self._a.item(), spec)

    __hash__ = None

    def __copy__(self):
        return DeviceArray(self._a.copy())

    def __deepcopy__(self, memo):
        return DeviceArray(self._a.copy())

    def __reduce__(self):
        return (DeviceArray, (self._a,))

    # -- operators -------------------------------------------------------------
    __add__, __radd__, __iadd__ = _binary("__add__", "+"), _binary("__radd__", "+"), \
        _inplace("__iadd__", "+=")
    __sub__, __rsub__, __isub__ = _binary("__sub__", "-"), _binary("__rsub__", "-"), \
        _inplace("__isub__", "-=")
    __mul__, __rmul__, __imul__ = _binary("__mul__", "*"), _binary("__rmul__", "*"), \
        _inplace("__imul__", "*=")
    __truediv__, __rtruediv__, __itruediv__ = (_binary("__truediv__", "/"),
                                               _binary("__rtruediv__", "/"),
                                               _inplace("__itruediv__", "/="))
    __floordiv__, __rfloordiv__, __ifloordiv__ = (_binary("__floordiv__", "//"),
                                                  _binary("__rfloordiv__", "//"),
                                                  _inplace("__ifloordiv__", "//="))
    __mod__, __rmod__, __imod__ = _binary("__mod__", "%"), _binary("__rmod__", "%"), \
        _inplace("__imod__", "%=")
    __pow__, __rpow__, __ipow__ = _binary("__pow__", "**"), _binary("__rpow__", "**"), \
        _inplace("__ipow__", "**=")
    __matmul__, __rmatmul__ = _binary("__matmul__", "@"), _binary("__rmatmul__", "@")
    __and__, __rand__, __iand__ = _binary("__and__", "&"), _binary("__rand__", "&"), \
        _inplace("__iand__", "&=")
    __or__, __ror__, __ior__ = _binary("__or__", "|"), _binary("__ror__", "|"), \
        _inplace("__ior__", "|=")
    __xor__, __rxor__, __ixor__ = _binary("__xor__", "^"), _binary("__rxor__", "^"), \
        _inplace("__ixor__", "^=")
    __lshift__, __rshift__ = _binary("__lshift__", "<<"), _binary("__rshift__", ">>")
    __lt__, __le__, __gt__, __ge__ = (_binary("__lt__", "<"), _binary("__le__", "<="),
                                      _binary("__gt__", ">"), _binary("__ge__", ">="))
    __eq__, __ne__ = _binary("__eq__", "=="), _binary("__ne__", "!=")
    __neg__, __pos__, __abs__, __invert__ = (_unary("__neg__"), _unary("__pos__"),
                                             _unary("__abs__"), _unary("__invert__"))

    for _name in _METHODS:
        locals()[_name] = _delegate(_name)
    del _name


def _index(key):
    """An index as NumPy takes it: device arrays unwrapped; host arrays allowed
    (CuPy copies a host index array to the device)."""
    t = type(key)
    if t is DeviceArray:
        return key._a
    if t is tuple:
        return tuple(k._a if type(k) is DeviceArray else k for k in key)
    return key


# -- the module ``xp`` ------------------------------------------------------------

# Taking host data is what these are for (host -> device copies).
_TRANSFERS = {"asarray", "array", "asanyarray", "ascontiguousarray", "asfortranarray"}


class _Ufunc:
    """A NumPy ufunc on device arrays: __call__, reduce, accumulate, outer, at, reduceat."""

    __slots__ = ("_u", "__name__")

    def __init__(self, u):
        self._u = u
        self.__name__ = u.__name__

    def _run(self, method, args, kw):
        where = f"xp.{self.__name__}" + ("" if method == "__call__" else "." + method)
        out = kw.get("out")
        r = getattr(self._u, method)(*_unwrap(args, where), **_unwrap_kw(kw, where))
        if method == "at":
            return None
        if type(out) is DeviceArray and r is out._a:
            return out
        if type(out) is tuple and len(out) == 1 and type(out[0]) is DeviceArray:
            return out[0] if r is out[0]._a else _wrap(r)
        return _wrap(r)

    def __call__(self, *args, **kw):
        return self._run("__call__", args, kw)

    def reduce(self, *args, **kw):
        return self._run("reduce", args, kw)

    def accumulate(self, *args, **kw):
        return self._run("accumulate", args, kw)

    def outer(self, *args, **kw):
        return self._run("outer", args, kw)

    def reduceat(self, *args, **kw):
        return self._run("reduceat", args, kw)

    def at(self, *args, **kw):
        return self._run("at", args, kw)

    def __getattr__(self, name):  # nin, nout, identity, types, ...
        return getattr(self._u, name)

    def __repr__(self):
        return f"<device ufunc '{self.__name__}'>"


def _function(f, name, transfer=False):
    """A NumPy function over device arrays (results on the device)."""
    where = f"xp.{name}"
    if transfer:
        def run(a, *args, **kw):
            src = _unwrap_any(a)
            r = f(src, *args, **kw)
            if type(a) is DeviceArray and r is src:  # no copy: the same array, as CuPy
                return a
            return DeviceArray(r if isinstance(r, _np.ndarray) else _np.asarray(r))
    else:
        def run(*args, **kw):
            out = kw.get("out")
            r = f(*_unwrap(args, where), **_unwrap_kw(kw, where))
            if type(out) is DeviceArray and r is out._a:
                return out
            return _wrap(r)
    run.__name__ = run.__qualname__ = name
    run.__doc__ = f"numpy's {name} on the simulated device."
    return run


class _RandomState:
    """numpy's RandomState / Generator drawing device arrays (cupy.random's do)."""

    __slots__ = ("_r",)

    def __init__(self, r):
        self._r = r

    def __getattr__(self, name):
        attr = getattr(self._r, name)
        if not callable(attr):
            return attr
        return _function(attr, f"random.{type(self._r).__name__}.{name}")


class _Module(types.ModuleType):
    """NumPy's namespace (or a submodule of it) on the simulated device: functions
    and ufuncs over device arrays; dtypes, types and constants as they are."""

    def __init__(self, np_module, name):
        super().__init__(name)
        self._np = np_module

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            attr = getattr(self._np, name)
        except AttributeError:
            raise AttributeError(f"module {self.__name__!r} (numpy's "
                                 f"{self._np.__name__}) has no attribute {name!r}") from None
        if attr is _np.ndarray:
            wrapped = DeviceArray
        elif isinstance(attr, _np.ufunc):
            wrapped = _Ufunc(attr)
        elif isinstance(attr, types.ModuleType):
            wrapped = _Module(attr, f"{self.__name__}.{name}")
        elif isinstance(attr, _np.ndarray):
            wrapped = DeviceArray(attr)
        elif self._np is _np.random and name in ("RandomState", "default_rng", "Generator"):
            wrapped = (lambda *a, _f=attr, **k: _RandomState(_f(*a, **k)))
        elif callable(attr) and not isinstance(attr, type):
            wrapped = _function(attr, name, name in _TRANSFERS and self._np is _np)
        else:  # dtypes, scalar types, classes (finfo, errstate), constants
            wrapped = attr
        setattr(self, name, wrapped)  # looked up once
        return wrapped


xp = _Module(_np, enabled_name)
xp.ndarray = DeviceArray
xp.asnumpy = lambda a, stream=None, order="C", out=None: (
    a.get(out=out, order=order) if type(a) is DeviceArray else _np.array(a, order=order))


def _argsort_without_kind(argsort, where):
    """CuPy's argsort is always stable and older CuPy has no ``kind``: stable here
    too, and ``kind`` refused, so that code asking NumPy for a stable sort goes
    through backend.stable_argsort."""
    def no_kind(*args, **kw):
        if kw.pop("kind", None) is not None:
            raise TypeError(f"{where}() got an unexpected keyword argument 'kind' (CuPy's "
                            "argsort is always stable: use backend.stable_argsort)")
        return argsort(*args, kind="stable", **kw)
    return no_kind


xp.argsort = _argsort_without_kind(xp.argsort, "argsort")
DeviceArray.argsort = _argsort_without_kind(DeviceArray.argsort, "ndarray.argsort")


class _Device:
    """``cupy.cuda.Device`` of the simulated machine (``DEVICE_COUNT`` GPUs): the
    current device is recorded, so tests see which one a context selected; the
    arrays themselves do not belong to one (NumPy computes them all)."""

    current = 0

    def __init__(self, device=None):
        self.id = _Device.current if device is None else int(device)
        if not 0 <= self.id < DEVICE_COUNT:  # as CUDA's invalid device ordinal
            raise ValueError(f"simulated device {self.id} does not exist "
                             f"(DEVICE_COUNT={DEVICE_COUNT})")

    def use(self):
        _Device.current = self.id

    def synchronize(self):
        pass

    def __enter__(self):
        self._previous = _Device.current
        _Device.current = self.id
        return self

    def __exit__(self, *exc):
        _Device.current = self._previous


DEVICE_COUNT = 4  # GPUs of the simulated machine: enough for device_id = MPI rank tests
xp.cuda = types.SimpleNamespace(
    Device=_Device, runtime=types.SimpleNamespace(getDeviceCount=lambda: DEVICE_COUNT))

# host functions that only look at shapes and dtypes (no values): allowed on device arrays
_HARMLESS = {_np.shape, _np.ndim, _np.size, _np.result_type, _np.can_cast, _np.min_scalar_type}


# every way a device array's values reach the host (each one a sync on CuPy)
_HOST_READS = ("get", "item", "tolist", "__float__", "__int__", "__complex__", "__bool__")


@contextlib.contextmanager
def count_transfers():
    """Count the copies between host and simulated device inside the block:
    yields ``{"to_device": n, "to_host": n}``: the host arrays given to
    ``xp.asarray`` (every explicit transfer, ``backend.to_device`` included) and
    every read of a device array's values on the host (``get``, so
    ``backend.to_numpy``; ``item``, ``tolist``, ``float()``, ``bool()``...). For
    tests that check that a step copies nothing, or one flag."""
    counts = {"to_device": 0, "to_host": 0}
    asarray = xp.asarray
    originals = {name: getattr(DeviceArray, name) for name in _HOST_READS}

    def counted(method):
        def read(self, *args, **kw):
            counts["to_host"] += 1
            return method(self, *args, **kw)
        return read

    def counted_asarray(a, *args, **kw):
        counts["to_device"] += isinstance(a, _np.ndarray)
        return asarray(a, *args, **kw)
    for name, method in originals.items():
        setattr(DeviceArray, name, counted(method))
    xp.asarray = counted_asarray
    try:
        yield counts
    finally:
        for name, method in originals.items():
            setattr(DeviceArray, name, method)
        xp.asarray = asarray
