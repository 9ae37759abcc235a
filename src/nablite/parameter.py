"""Parameters: a global tree of scopes whose leaves are Variables.

``with parameter_scope('conv1'):`` descends into (or creates) a sub-scope;
``get_parameter_or_create`` returns the parameter at a path, creating it on
first use, so calling the same layer again in the same scope shares weights.
"""
from __future__ import annotations  # hints are strings: no cost when a function is called

import contextlib
import os
from collections import OrderedDict
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from . import backend
from ._array import check_real
from .variable import Variable

if TYPE_CHECKING:
    from numpy.typing import NDArray

    # A scope maps names to sub-scopes and parameter Variables.
    Scope = OrderedDict[str, Any]
    # A parameter file: a path or a binary file object (with ``extension=``).
    ParamFile = str | os.PathLike[str] | IO[bytes]

_root: Scope = OrderedDict()
_current: Scope = _root
_no_grad = False


class _ParamInfo:
    __slots__ = ("initializer",)

    def __init__(self, initializer: Any) -> None:
        self.initializer = initializer


def get_current_parameter_scope() -> Scope:
    """The current scope (an OrderedDict of names to sub-scopes and Variables)."""
    return _current


@contextlib.contextmanager
def parameter_scope(name: str, scope: Scope | None = None) -> Iterator[Scope]:
    """Enter the sub-scope ``name`` ('a/b' nests); ``scope`` replaces the parent scope."""
    global _current
    if not isinstance(name, str):
        raise TypeError(f"parameter_scope: name must be a str, got {type(name).__name__}")
    previous = _current
    node = previous if scope is None else scope
    for part in name.split("/"):
        if not part:
            continue
        child = node.get(part)
        if child is None:
            child = node[part] = OrderedDict()
        elif not isinstance(child, OrderedDict):
            raise ValueError(f"parameter_scope: '{part}' in '{name}' is a parameter, not a scope")
        node = child
    _current = node
    try:
        yield node
    finally:
        _current = previous


def _split(key: str) -> tuple[list[str], str]:
    if not isinstance(key, str):
        raise TypeError(f"parameter key must be a str, got {type(key).__name__} {key!r}")
    parts = [p for p in key.split("/") if p]
    if not parts:
        raise ValueError(f"parameter key {key!r} is empty")
    return parts[:-1], parts[-1]


def _scope_of(parts: Sequence[str], create: bool) -> Scope | None:
    node = _current
    for i, p in enumerate(parts):
        child = node.get(p)
        if child is None:
            if not create:
                return None
            child = node[p] = OrderedDict()
        elif not isinstance(child, OrderedDict):  # a parameter, not a scope
            if not create:
                return None
            raise ValueError(f"parameter key {'/'.join(parts)!r}: {'/'.join(parts[:i + 1])!r} "
                             "is a parameter, so it cannot hold parameters below it")
        node = child
    return node


def get_parameter(key: str) -> Variable | None:
    """The parameter Variable at ``key`` (relative to the current scope), or None."""
    parts, name = _split(key)
    node = _scope_of(parts, create=False)
    v = None if node is None else node.get(name)
    return v if isinstance(v, Variable) else None


def set_parameter(key: str, param: Variable) -> None:
    """Register the Variable ``param`` at ``key``."""
    parts, name = _split(key)
    _scope_of(parts, create=True)[name] = param


def pop_parameter(key: str) -> Variable | None:
    """Remove and return the parameter at ``key`` (None if absent)."""
    parts, name = _split(key)
    node = _scope_of(parts, create=False)
    return None if node is None else node.pop(name, None)


def get_parameter_or_create(name: str, shape: Sequence[int] | None = None,
                            initializer: NDArray[Any] | Callable[..., Any] | None = None,
                            need_grad: bool = True,
                            as_need_grad: bool | None = None) -> Variable:
    """The parameter ``name`` in the current scope, created on first use.

    Args:
        name (str): Key relative to the current scope ('W' or 'affine/W').
        shape (tuple of int): Required shape; must match an existing parameter.
        initializer: None (zeros), a numpy array, or a callable ``init(shape=...)``.
        need_grad (bool): The stored flag (overwrites an existing one).
        as_need_grad (bool): The flag of the returned unlinked Variable
            (None: same as ``need_grad``; always False inside ``nn.no_grad()``).

    Returns:
        Variable: an unlinked Variable sharing the parameter's arrays.
    """
    param = get_parameter(name)
    if param is None:
        if backend.is_device_array(initializer):  # parameters are made on the host
            initializer = backend.to_numpy(initializer)
        if isinstance(initializer, np.ndarray):
            value = initializer
            if shape is not None and tuple(value.shape) != tuple(shape):
                raise ValueError(f"get_parameter_or_create: initializer array for {name!r} "
                                 f"has shape {value.shape}, expected {tuple(shape)}")
        elif initializer is None:
            if shape is None:
                raise ValueError(f"get_parameter_or_create: {name!r} does not exist; "
                                 "give a shape to create it")
            value = np.zeros(tuple(shape), np.float32)
        else:
            value = np.asarray(backend.to_numpy(initializer(shape=[int(s) for s in shape])))
        param = Variable.from_numpy_array(value, need_grad=need_grad)
        param.info = _ParamInfo(initializer)
        set_parameter(name, param)
    else:
        if shape is not None and param.shape != tuple(int(s) for s in shape):
            raise ValueError(
                f"get_parameter_or_create: {scope_path(name)!r} exists with shape "
                f"{param.shape}, requested {tuple(shape)}; use a new parameter_scope "
                "or nn.clear_parameters()")
        if param.need_grad != need_grad:
            param.need_grad = need_grad
    flag = need_grad if as_need_grad is None else as_need_grad
    v = param.get_unlinked_variable(need_grad=False if _no_grad else flag)
    v.name = _split(name)[1]
    return v


def scope_path(key: str = "") -> str:
    """The full '/'-separated path of ``key`` under the current scope."""
    def find(node: Scope, prefix: list[str]) -> list[str] | None:
        if node is _current:
            return prefix
        for k, v in node.items():
            if isinstance(v, OrderedDict):
                found = find(v, prefix + [k])
                if found is not None:
                    return found
        return None
    return "/".join((find(_root, []) or []) + ([key] if key else []))


def get_parameters(params: dict[str, Variable] | None = None, path: str = "",
                   grad_only: bool = True) -> dict[str, Variable]:
    """OrderedDict of 'scope/name' -> Variable for the parameters under the current scope."""
    out = OrderedDict() if params is None else params
    _collect(_current, path, out, grad_only)
    return out


def _collect(node: Scope, prefix: str, out: dict[str, Variable], grad_only: bool) -> None:
    for k, v in node.items():
        key = f"{prefix}/{k}" if prefix else k
        if isinstance(v, OrderedDict):
            _collect(v, key, out, grad_only)
        elif not grad_only or v.need_grad:
            out[key] = v


def clear_parameters() -> None:
    """Delete every parameter and sub-scope in the current scope."""
    _current.clear()


@contextlib.contextmanager
def no_grad(no_grad_: bool = True) -> Iterator[None]:
    """Parameters fetched inside come back with need_grad=False; under
    auto_forward, function outputs come back as values cut from the graph
    (no parent, need_grad False: nothing is kept for a backward), as NNabla's."""
    global _no_grad
    from . import graph
    previous, _no_grad = _no_grad, bool(no_grad_)
    graph.no_grad_enabled = _no_grad
    try:
        yield
    finally:
        _no_grad = previous
        graph.no_grad_enabled = previous


def save_parameters(path: ParamFile, params: Mapping[str, Variable] | None = None,
                    extension: str | None = None) -> None:
    """Save parameters to ``path`` in NNabla's format (``.h5`` or ``.protobuf``).

    The write is atomic: a crash leaves the previous file intact.

    Args:
        path (str or file object): Destination; the format follows its extension.
        params (dict): ``key -> Variable`` (default: ``get_parameters(grad_only=False)``).
        extension (str): The format when ``path`` is a file object.
    """
    from . import _param_io
    from .logger import logger
    params = get_parameters(grad_only=False) if params is None else params
    _param_io.save_parameters(path, params, extension)
    logger.info(f"Parameter save ({_ext_of(path, extension)}): {path}")


def load_parameters(path: ParamFile, proto: Any = None, needs_proto: bool = False,
                    extension: str = ".nntxt") -> Any:
    """Load parameters from ``.h5``, ``.protobuf``, ``.nntxt``/``.prototxt`` or ``.nnp``.

    Keys are registered relative to the current scope; missing parameters are
    created with the stored ``need_grad``. The file is read and checked in full
    before anything changes, so a missing, corrupt or mismatching file
    (FileNotFoundError / ValueError) leaves the current parameters untouched.

    Args:
        path (str or file object): The file.
        proto: An ``NNablaProtoBuf`` to merge the file's parameters into.
        needs_proto (bool): Also fill the returned proto when reading ``.h5``.
        extension (str): The format when ``path`` is a file object.

    Returns:
        NNablaProtoBuf: the parsed message (parameters included).
    """
    from . import _param_io
    from .logger import logger
    items, parsed = _param_io.read_parameters(path, extension)
    _assign_parameters(items, f"load_parameters({path!r})")
    if needs_proto and not parsed.parameter:
        _param_io.params_to_proto(items, parsed)
    if proto is not None:
        proto.MergeFromString(parsed.SerializeToString())
        parsed = proto
    logger.debug(f"Parameter load ({_ext_of(path, extension)}): {path}")  # NNabla says nothing
    return parsed


def set_parameter_from_proto(proto: Any) -> None:
    """Create or overwrite parameters from the ``proto.parameter`` entries."""
    from . import _param_io
    _assign_parameters(_param_io.proto_parameters(proto), "set_parameter_from_proto")


def _ext_of(path: ParamFile, extension: str | None) -> str | None:
    if isinstance(path, (str, os.PathLike)):
        return os.path.splitext(os.fspath(path))[1] or extension
    return extension


def _assign_parameters(items: Iterable[tuple[str, Any, bool]], where: str) -> None:
    """Register (key, array, need_grad) items: every item is checked against the
    scope tree and the other items before anything is written, so a load that
    fails changes nothing."""
    items = [(key, np.asarray(arr), need_grad) for key, arr, need_grad in items]
    planned: OrderedDict[tuple[str, ...], tuple[int, ...]] = OrderedDict()  # path -> shape
    for key, arr, _ in items:
        try:
            parts, name = _split(key)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}: {e}; no parameter was changed") from None
        check_real(arr, f"{where}: parameter {key!r}")
        path = tuple(parts) + (name,)
        _check_place(path, arr.shape, where)
        if planned.get(path, arr.shape) != arr.shape:
            raise ValueError(f"{where}: {key!r} appears twice, with shapes {planned[path]} "
                             f"and {arr.shape}; no parameter was changed")
        planned[path] = arr.shape
    for path in planned:
        for i in range(1, len(path)):
            if path[:i] in planned:
                raise ValueError(f"{where}: {'/'.join(path)!r} lies below the parameter "
                                 f"{'/'.join(path[:i])!r} of the same file; no parameter "
                                 "was changed")
    for key, arr, need_grad in items:
        param = get_parameter_or_create(key, arr.shape, need_grad=need_grad)
        param.d = arr


def _check_place(path: Sequence[str], shape: Sequence[int], where: str,
                 any_shape: bool = False) -> None:
    """Whether a parameter of ``shape`` may be set at ``path`` under the current
    scope: no parameter on the way, no scope (or, unless ``any_shape``, parameter
    of another shape) there."""
    key = "/".join(path)
    node = _current
    for i, p in enumerate(path):
        child = node.get(p)
        if child is None:
            return
        last = i == len(path) - 1
        if not last and not isinstance(child, OrderedDict):
            raise ValueError(f"{where}: {key!r} lies below the parameter "
                             f"{scope_path('/'.join(path[:i + 1]))!r}, which cannot hold "
                             "parameters; no parameter was changed")
        if last and isinstance(child, OrderedDict):
            raise ValueError(f"{where}: {key!r} names the parameter scope "
                             f"{scope_path(key)!r}, not a parameter; loading it would "
                             "replace that scope's parameters, so no parameter was changed")
        if last and not any_shape and child.shape != tuple(shape):
            raise ValueError(f"{where}: {scope_path(key)!r} exists with shape {child.shape}, "
                             f"the file has {tuple(shape)}; no parameter was changed "
                             "(use nn.clear_parameters() or another parameter_scope)")
        node = child
