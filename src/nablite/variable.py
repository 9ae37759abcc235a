"""Variable: a node holding data and grad arrays, linked to the function that made it."""
from __future__ import annotations  # hints are strings: no cost when a method is called

import numbers
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence

import numpy as np

from ._array import NdArray, _shape_of, check_real, real_array
from . import context as _context, graph

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from .function import Function

_F = None


def _functions() -> Any:
    global _F
    if _F is None:
        from . import functions
        _F = functions
    return _F


def _with_callbacks(post_hook: FunctionHook | None,
                    callbacks: Sequence[Any]) -> FunctionHook | None:
    """``post_hook`` followed by each communicator callback's
    ``on_finish_function_backward``, so an all-reduce overlaps backward."""
    for cb in callbacks:
        if not (hasattr(cb, "on_finish_function_backward") or hasattr(cb, "on_finish")):
            raise TypeError("Variable.backward: communicator_callbacks must be a callback or "
                            "a list of them (what comm.all_reduce_callback(...) returns), got "
                            f"{type(cb).__name__}")
    hooks = [getattr(cb, "on_finish_function_backward", None) for cb in callbacks]
    hooks = [h for h in hooks if h is not None]
    if not hooks:
        return post_hook

    def hook(function: Function) -> None:
        if post_hook is not None:
            post_hook(function)
        for h in hooks:
            h(function)
    return hook


def _grad_dtype(data_dtype: Any) -> Any:
    """The dtype of a gradient first read or written by hand: float32, as a
    'float' context computes it (NNabla's); the data's own in a 'double' or
    'half' context, where functions compute in that precision."""
    ctx = _context._current
    return data_dtype if ctx.double or ctx.half else np.float32


class Variable:
    """An n-d array in a graph: ``.d`` data, ``.g`` gradient, ``.parent`` its maker.

    Args:
        shape (tuple of int): Shape; data is float32, allocated lazily (reads as zeros).
        need_grad (bool): Whether backward computes a gradient for it (None means False).
        info: Any user object (PF parameters carry ``info.initializer``).
    """

    __slots__ = ("_data", "_grad", "_need_grad", "_persistent", "name", "_parent",
                 "info", "rank", "_recompute", "_order", "_root", "__weakref__")
    _data: NdArray
    _grad: NdArray
    _need_grad: bool
    _persistent: bool
    name: str
    _parent: Function | None
    info: Any
    rank: int
    _recompute: bool
    _order: Any

    def __init__(self, shape: int | Sequence[int] = (), need_grad: bool | None = None,
                 info: Any = None) -> None:
        shape = (_shape_of((shape,), "Variable") if not isinstance(shape, numbers.Integral)
                 else _shape_of((shape,), "Variable"))
        self._data = NdArray(shape)
        self._grad = NdArray(shape)
        self._need_grad = bool(need_grad)
        self._persistent = False
        self.name = ""
        self._parent = None
        self.info = info
        self.rank = 0
        self._recompute = False
        self._order = None
        self._root = None  # id of the Variable an unlinked copy was made from

    @classmethod
    def _output(cls, shape: Sequence[int], parent: Function, need_grad: bool) -> Variable:
        """A function output (the engine's fast constructor)."""
        v = cls.__new__(cls)
        shape = tuple(map(int, shape))
        v._data = NdArray._empty(shape)
        v._grad = NdArray._empty(shape)
        v._need_grad = need_grad
        v._persistent = False
        v.name = ""
        v._parent = parent
        v.info = None
        v.rank = parent.rank + 1
        v._recompute = graph.recompute_enabled and parent.recomputable
        v._order = None
        v._root = None
        return v

    @staticmethod
    def from_numpy_array(data: ArrayLike, grad: ArrayLike | None = None,
                         need_grad: bool | None = None) -> Variable:
        """A leaf Variable holding a copy of ``data`` (dtype kept) and optionally ``grad``
        (of the same shape, or one that broadcasts to it)."""
        arr = real_array(data, "Variable.from_numpy_array: data")
        v = Variable(arr.shape, need_grad=need_grad)
        v._data._set(arr)
        if grad is not None:
            g = real_array(grad, "Variable.from_numpy_array: grad", copy=False)
            try:
                g = np.array(np.broadcast_to(g, arr.shape), dtype=arr.dtype)
            except ValueError:
                raise ValueError(f"Variable.from_numpy_array: grad of shape {g.shape} does "
                                 f"not match data of shape {arr.shape}") from None
            v._grad._set(g)
        return v

    # -- arrays ----------------------------------------------------------
    @property
    def data(self) -> NdArray:
        return self._data

    @data.setter
    def data(self, value: NdArray) -> None:
        if not isinstance(value, NdArray):
            raise TypeError(f"Variable.data: expected an NdArray, got {type(value).__name__}")
        self._data = value

    @property
    def grad(self) -> NdArray:
        return self._grad

    @grad.setter
    def grad(self, value: NdArray) -> None:
        if not isinstance(value, NdArray):
            raise TypeError(f"Variable.grad: expected an NdArray, got {type(value).__name__}")
        self._grad = value

    @property
    def d(self) -> NDArray[Any]:
        """The data as a numpy array (writes go through)."""
        return self._data._get()

    @d.setter
    def d(self, value: ArrayLike | NdArray) -> None:
        self._data._assign(value, "Variable.d")

    @property
    def g(self) -> NDArray[Any]:
        """The gradient as a numpy array (writes go through)."""
        grad = self._grad
        if grad._arr is None:
            grad._dtype = _grad_dtype(self._data.dtype)
        return grad._get()

    @g.setter
    def g(self, value: ArrayLike | NdArray) -> None:
        grad = self._grad
        if grad._arr is None:
            grad._dtype = _grad_dtype(self._data.dtype)
        grad._assign(value, "Variable.g")

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data._shape

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def ndim(self) -> int:
        return len(self._data._shape)

    def size_from_axis(self, axis: int = -1) -> int:
        return self._data.size_from_axis(axis)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._data.dtype

    @property
    def need_grad(self) -> bool:
        return self._need_grad

    @need_grad.setter
    def need_grad(self, value: bool) -> None:
        self._need_grad = bool(value)
        if self._parent is not None:  # a function's output: its flag now rules backward
            graph.set_on_outputs[self] = self._need_grad
        graph.graph_changed()  # which gradients backward computes may change

    @property
    def persistent(self) -> bool:
        """Whether clear_buffer / clear_no_need_grad must keep this variable's arrays."""
        return self._persistent

    @persistent.setter
    def persistent(self, value: bool) -> None:
        self._persistent = bool(value)
        graph.graph_changed()

    @property
    def recompute(self) -> bool:
        """Whether forward frees this intermediate's data after its last use and
        backward computes it again when needed (less memory, more arithmetic)."""
        return self._recompute

    @recompute.setter
    def recompute(self, value: bool) -> None:
        # a random or state-updating maker (Function.recomputable) keeps its output
        self._recompute = bool(value) and (self._parent is None or self._parent.recomputable)
        graph.graph_changed()

    @property
    def parent(self) -> Function | None:
        return self._parent

    @parent.setter
    def parent(self, func: Function | None) -> None:
        self._parent = func
        graph.graph_changed()

    @property
    def function_references(self) -> list[Function]:
        return [f for f in graph.consumers(self)]

    @property
    def get_number_of_references(self) -> int:
        return len(self.function_references)

    # -- execution -------------------------------------------------------
    def forward(self, clear_buffer: bool = False, clear_no_need_grad: bool = False,
                function_pre_hook: FunctionHook | None = None,
                function_post_hook: FunctionHook | None = None) -> None:
        """Compute every function up to this variable, in topological order."""
        try:
            graph.forward(self, clear_buffer, clear_no_need_grad,
                          function_pre_hook, function_post_hook)
        except _ARRAY_ERRORS as e:  # name the function an array error came from
            named = _named_error(e)
            if named is e:
                raise
            raise named from e

    def backward(self, grad: ArrayLike | NdArray | None = 1, clear_buffer: bool = False,
                 communicator_callbacks: Any = None,
                 function_pre_hook: FunctionHook | None = None,
                 function_post_hook: FunctionHook | None = None) -> None:
        """Back-propagate from this variable; leaf gradients accumulate.

        ``grad`` seeds the gradient of this variable: a number or an array that
        broadcasts to its shape, or None to seed with ``self.g``. As in NNabla the
        seed is not written into ``self.g``, which keeps what it held."""
        if not (grad is None or type(grad) in (int, float)):
            _check_backward_grad(self, grad)
        callbacks, post_hook = (), function_post_hook
        if communicator_callbacks is not None:  # off the hot path: nothing to do without
            callbacks = communicator_callbacks
            if not isinstance(callbacks, (list, tuple)):
                callbacks = [callbacks]
            post_hook = _with_callbacks(function_post_hook, callbacks)
        try:
            graph.backward(self, grad, clear_buffer, function_pre_hook, post_hook)
        except _ARRAY_ERRORS as e:
            named = _named_error(e)
            if named is e:
                raise
            raise named from e
        for cb in callbacks:
            getattr(cb, "on_finish", lambda: None)()

    def visit(self, f: Callable[[Function], Any]) -> None:
        """Call ``f(function)`` for every function up to here, in forward order."""
        for func in graph.order_of(self):
            f(func)

    def visit_check(self, f: Callable[[Function], Any]) -> bool:
        for func in graph.order_of(self):
            if f(func):
                return True
        return False

    # -- graph surgery ---------------------------------------------------
    def get_unlinked_variable(self, need_grad: bool | None = None) -> Variable:
        """A new parentless Variable sharing this one's data and grad arrays."""
        v = Variable.__new__(Variable)
        v._data, v._grad = self._data, self._grad
        v._need_grad = self._need_grad if need_grad is None else bool(need_grad)
        v._persistent, v.name, v.info = self._persistent, self.name, self.info
        v._parent, v.rank, v._recompute, v._order = None, 0, False, None
        v._root = self._root if self._root is not None else id(self)  # equal to self
        return v

    def unlinked(self, need_grad: bool | None = None) -> Variable:
        """Deprecated alias of :meth:`get_unlinked_variable`."""
        return self.get_unlinked_variable(need_grad)

    def reset_shape(self, shape: Sequence[int], force: bool = False) -> None:
        """Change this variable's shape in place."""
        self._data.reset_shape(shape, force)
        self._grad.reset_shape(shape, force)

    def reshape(self, shape: Sequence[int], unlink: bool = False) -> Variable:
        if unlink:
            v = Variable(shape, need_grad=self._need_grad)
            v._data = self._data.view(v.shape)
            v._grad = self._grad.view(v.shape)
            return v
        return _functions().reshape(self, shape, inplace=True)

    def rewire_on(self, var: Variable) -> None:
        """Take over ``var``'s arrays and parent; ``var`` loses its parent."""
        self._data, self._grad = var._data, var._grad
        self._parent, var._parent = var._parent, None
        self._need_grad = var._need_grad  # the flag comes with the parent, as in NNabla
        graph.set_on_outputs.pop(self, None)
        if var in graph.set_on_outputs:
            graph.set_on_outputs[self] = graph.set_on_outputs.pop(var)
        if self._parent is not None:
            outs = self._parent._outputs
            import weakref
            self._parent._outputs = [weakref.ref(self) if o() is var else o for o in outs]
        graph.graph_changed()

    def clear_all_graph_links(self) -> None:
        """Cut the graph above every intermediate up to here (truncated BPTT)."""
        for f in graph.order_of(self):
            for y in f.outputs:
                if y is not None and y is not self:
                    y._parent = None
        self._parent = None
        graph.graph_changed()

    def apply(self, **kwargs: Any) -> Variable:
        """Set attributes by name and return self."""
        for k, v in kwargs.items():
            setattr(self, k, v)
        return self

    def no_grad(self) -> Variable:
        """A copy of the graph up to here that needs no gradients."""
        return graph.rebuild(self, need_grad=False)

    # -- operators -------------------------------------------------------
    # A NumPy scalar or array on the left (np.float64(2) - v, np.log(2.0) * v)
    # defers to the reflected operator here instead of NumPy broadcasting over v.
    __array_ufunc__ = None

    def __pos__(self) -> Variable:
        return self

    def __neg__(self) -> Variable:
        return _functions().mul_scalar(self, -1.0)

    def __add__(self, other: Operand) -> Variable:
        return _binary(self, other, "add2", "add_scalar")

    __radd__ = __add__

    def __sub__(self, other: Operand) -> Variable:
        F = _functions()
        if _is_scalar(other):
            return F.add_scalar(self, -other)
        return F.sub2(self, _operand(other))

    def __rsub__(self, other: ReflectedOperand) -> Variable:
        F = _functions()
        if _is_scalar(other):
            return F.r_sub_scalar(self, other)
        return F.sub2(_operand(other), self)

    def __mul__(self, other: Operand) -> Variable:
        return _binary(self, other, "mul2", "mul_scalar")

    __rmul__ = __mul__

    def __truediv__(self, other: Operand) -> Variable:
        F = _functions()
        if _is_scalar(other):
            return F.mul_scalar(self, 1.0 / other)
        return F.div2(self, _operand(other))

    def __rtruediv__(self, other: ReflectedOperand) -> Variable:
        F = _functions()
        if _is_scalar(other):
            return F.r_div_scalar(self, other)
        return F.div2(_operand(other), self)

    def __pow__(self, other: Operand) -> Variable:
        F = _functions()
        if _is_scalar(other):
            return F.pow_scalar(self, other)
        return F.pow2(self, _operand(other))

    def __rpow__(self, other: ReflectedOperand) -> Variable:
        F = _functions()
        if _is_scalar(other):
            return F.r_pow_scalar(self, other)
        return F.pow2(_operand(other), self)

    def __matmul__(self, other: Variable | NdArray | NDArray[Any]) -> Variable:
        return _matmul(self, _operand(other))

    def __rmatmul__(self, other: NDArray[Any]) -> Variable:
        return _matmul(_operand(other), self)

    def __getitem__(self, key: Any) -> Variable:
        from .variable_indexing import getitem
        return getitem(self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        from .variable_indexing import setitem
        setitem(self, key, value)

    def __lt__(self, other: object) -> NoReturn:
        raise TypeError("'<' is not supported between Variables (NNabla defines no "
                        "comparison operators); use F.less or F.less_scalar")

    __le__ = __gt__ = __ge__ = __lt__

    def __mod__(self, other: object) -> NoReturn:
        raise TypeError("'%' is not supported on Variables; use F.mod2")

    def __floordiv__(self, other: object) -> NoReturn:
        raise TypeError("'//' is not supported on Variables; use F.floor(a / b)")

    __rmod__, __rfloordiv__ = __mod__, __floordiv__

    def __abs__(self) -> NoReturn:
        raise TypeError("abs() is not supported on Variables; use F.abs")

    # As NNabla's: a Variable equals itself and its unlinked copies (which share
    # its data and grad), so a graph's copy of a parameter is found among
    # nn.get_parameters().values() and as a dict key. (The data-and-grad check
    # keeps a copy from equalling a later Variable that reuses a dead one's id.)
    def __hash__(self) -> int:
        root = self._root
        return hash(id(self) if root is None else root)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Variable):
            return False
        a = id(self) if self._root is None else self._root
        b = id(other) if other._root is None else other._root
        return a == b and self._data is other._data and self._grad is other._grad

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __repr__(self) -> str:
        return f"<Variable({self.shape}, need_grad={self._need_grad}) at {hex(id(self))}>"


_ARRAY_ERRORS = (ValueError, TypeError, IndexError, ZeroDivisionError, FloatingPointError,
                 OverflowError, MemoryError)


def _check_backward_grad(var: Variable, grad: Any) -> None:
    """``backward(grad=...)``: real numbers that broadcast to the variable's shape."""
    where = "Variable.backward: grad"
    if isinstance(grad, (bool, np.bool_)) or not isinstance(grad, numbers.Real):
        arr = np.shape(real_array(grad.data if isinstance(grad, NdArray) else grad, where,
                                  copy=False))
        try:
            np.broadcast_shapes(arr, var.shape)
        except ValueError:
            raise ValueError(f"{where} of shape {arr} does not broadcast to the variable's "
                             f"shape {var.shape}") from None


def _named_error(e: BaseException) -> BaseException:
    from .function import named_error
    return named_error(e)


def _is_scalar(x: object) -> bool:
    return isinstance(x, numbers.Real)  # a complex scalar is refused (_operand)


def _operand(x: Any) -> Variable | NdArray:
    if isinstance(x, (Variable, NdArray)):
        return x
    if isinstance(x, np.ndarray):
        return Variable.from_numpy_array(x)
    raise TypeError(f"unsupported operand type for a Variable: {type(x).__name__}")


def _binary(a: Variable, b: Any, pair: str, scalar: str) -> Variable:
    F = _functions()
    if _is_scalar(b):
        return getattr(F, scalar)(a, b)
    return getattr(F, pair)(a, _operand(b))


def _matmul(a: Any, b: Any) -> Variable:
    """numpy.matmul semantics over F.affine (2-D) and F.batch_matmul (N-D)."""
    F = _functions()
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: operands must not be 0-d")
    if a.ndim == 2 and b.ndim == 2:
        return F.affine(a, b)
    a2 = F.reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = F.reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    if a2.ndim == 2 and b2.ndim == 2:
        y = F.affine(a2, b2)
    else:
        nd = max(a2.ndim, b2.ndim)
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        if a2.ndim < nd:
            a2 = F.reshape(a2, (1,) * (nd - a2.ndim) + a2.shape)
        if b2.ndim < nd:
            b2 = F.reshape(b2, (1,) * (nd - b2.ndim) + b2.shape)
        if a2.shape[:-2] != batch:
            a2 = F.broadcast(a2, batch + a2.shape[-2:])
        if b2.shape[:-2] != batch:
            b2 = F.broadcast(b2, batch + b2.shape[-2:])
        y = F.batch_matmul(a2, b2)
    shape = y.shape
    if a.ndim == 1:
        shape = shape[:-2] + shape[-1:]
    if b.ndim == 1:
        shape = shape[:-1]
    return y if shape == y.shape else F.reshape(y, shape)


def as_variable(x: Any, fname: str = "function") -> Variable:
    """A leaf Variable for an input that is an NdArray or numpy array."""
    if isinstance(x, NdArray):
        v = Variable.__new__(Variable)
        Variable.__init__(v, x.shape)
        v._data = x
        return v
    if isinstance(x, numbers.Real):
        return Variable.from_numpy_array(np.asarray(x, dtype=np.float32))
    if isinstance(x, np.ndarray):
        v = Variable.__new__(Variable)
        Variable.__init__(v, x.shape)
        v._data._set(real_array(x, fname))
        return v
    from . import backend
    if backend.is_device_array(x):  # kept on its device
        v = Variable.__new__(Variable)
        Variable.__init__(v, x.shape)
        v._data._set(check_real(x, fname))
        return v
    raise TypeError(f"{fname}: inputs must be Variables or NdArrays (or numpy arrays), "
                    f"got {type(x).__name__}")


if TYPE_CHECKING:
    from typing import TypeAlias

    # What a Variable operator takes besides another Variable (NdArray - Variable
    # is NdArray's operator, so the reflected forms see only the others).
    Operand: TypeAlias = "Variable | NdArray | NDArray[Any] | float"
    ReflectedOperand: TypeAlias = "NDArray[Any] | float"
    FunctionHook: TypeAlias = "Callable[[Function], Any]"
