"""Module: a model as a tree of objects that own their parameters (``nn.Module``).

A subclass builds its graph in ``call``; ``module(x)`` runs it. Every method a
subclass defines runs inside the module's own parameter scope (an OrderedDict
per instance, not the global tree), so PF calls in ``call`` create parameters
that belong to the instance. Submodules are the Module-valued attributes; their
parameters appear under ``@<attribute>/`` (measured on NNabla 1.39)::

    class ConvBn(nn.Module):
        def __init__(self, outmaps):
            self.outmaps = outmaps

        def call(self, x):
            h = PF.convolution(x, self.outmaps, (3, 3), pad=(1, 1), with_bias=False)
            return PF.batch_normalization(h, batch_stat=self.training)

    class Net(nn.Module):
        def __init__(self):
            self.cb1 = ConvBn(16)

        def call(self, x):
            return PF.affine(self.cb1(x), 10, name="fc")

    net = Net()
    y = net(x)
    net.get_parameters()    # '@cb1/conv/W', '@cb1/bn/beta', ..., 'fc/affine/W', 'fc/affine/b'

A subclass need not call ``Module.__init__``: all state is created on first use.
Called on ProtoVariables, a module names the network nn.graph_def records
(graph_def._Recorder).
"""
import functools
import inspect
from collections import OrderedDict
from typing import IO, Any, Callable, Mapping

from .. import graph as _engine
from .. import parameter as _parameter
from ..variable import Variable

__all__ = ["Module"]

def _in_own_scope(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapped(self: "Module", *args: Any, **kwargs: Any) -> Any:
        with _parameter.parameter_scope("", self.parameter_scope):
            return method(self, *args, **kwargs)
    setattr(wrapped, "_module_scoped", True)
    return wrapped


def _snake_case(name: str) -> str:
    """'ConvBn' -> 'conv_bn', 'ABCNet' -> 'a_b_c_net' (NNabla's rule: an '_'
    before every ASCII capital but the first character)."""
    return "".join("_" + c if "A" <= c <= "Z" and i else c for i, c in enumerate(name)).lower()


class Module:
    """Base class of object-oriented models; subclasses define ``call``.

    Attributes that are Modules become submodules (``submodules``); setting
    ``training`` sets it on every submodule too.
    """

    _recursive_attrs = ["training"]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # NNabla wraps every callable of a subclass; plain functions only here,
        # so static/class methods and nested classes keep working.
        super().__init_subclass__(**kwargs)
        for name, attr in list(vars(cls).items()):
            if inspect.isfunction(attr) and not getattr(attr, "_module_scoped", False):
                setattr(cls, name, _in_own_scope(attr))

    def __repr__(self) -> str:
        return type(self).__name__

    @property
    def training(self) -> bool:
        """Whether the module is in training mode (default True)."""
        return self.__dict__.setdefault("training", True)

    @training.setter
    def training(self, value: bool) -> None:  # __setattr__ handles the assignment; kept for help()
        self.__dict__["training"] = value

    @property
    def parameter_scope(self) -> "OrderedDict[str, Any]":
        """This module's own parameter scope (an OrderedDict)."""
        return self.__dict__.setdefault("_parameter_scope", OrderedDict())

    @property
    def submodules(self) -> "OrderedDict[str, Module]":
        """OrderedDict of attribute name -> submodule."""
        return self.__dict__.setdefault("_submodules", OrderedDict())

    @property
    def name(self) -> str:
        """The attribute name in the parent, else the class name in snake case."""
        if "_name" in self.__dict__:
            return self.__dict__["_name"]
        return _snake_case(type(self).__name__)

    @property
    def parent(self) -> "Module | None":
        """The module this one is an attribute of (None for a root)."""
        return self.__dict__.get("_parent")

    def is_root(self) -> bool:
        return self.parent is None

    def get_path_name(self) -> str:
        """'@net/@cb1': the '@'-prefixed names from the root down to here."""
        if self.parent is None:
            return "@" + self.name
        above = self.parent.get_path_name()
        return f"{above}/@{self.name}" if above else "@" + self.name

    def get_scope_name(self) -> str:
        """The '@'-path down the first submodule of each level ('' without any)."""
        for name, module in self.submodules.items():
            return f"@{name}/{module.get_scope_name()}".strip("/")
        return ""

    def get_parameters(self, recursive: bool = True, grad_only: bool = False,
                       memo: set[int] | None = None) -> "OrderedDict[str, Variable]":
        """OrderedDict of parameters: submodules' first (keys ``@<name>/...``),
        then this module's own. A Variable reached twice (a shared submodule)
        appears once, under its first key.

        Args:
            recursive (bool): Include submodules' parameters.
            grad_only (bool): Only parameters with ``need_grad=True``.
            memo (set): Variables already listed (used by the recursion).
        """
        memo = set() if memo is None else memo
        params: OrderedDict[str, Variable] = OrderedDict()
        if recursive:
            for name, module in self.submodules.items():
                sub = module.get_parameters(recursive=True, grad_only=grad_only, memo=memo)
                for key, v in sub.items():
                    params[f"@{name}/{key}"] = v
        with _parameter.parameter_scope("", self.parameter_scope):
            own = _parameter.get_parameters(grad_only=grad_only)
        for key, v in own.items():
            if id(v) not in memo:
                memo.add(id(v))
                params[key] = v
        return params

    def set_parameter(self, key: str, param: Variable, raise_if_missing: bool = False) -> None:
        """Put the Variable ``param`` at ``key``; ``@name/rest`` goes to submodule ``name``.

        Args:
            raise_if_missing (bool): Raise if ``@name`` is not a submodule (else skip).
        """
        if not isinstance(param, Variable):
            raise TypeError(f"{type(self).__name__}.set_parameter: param for {key!r} must be "
                            f"a Variable, got {type(param).__name__}")
        if key.startswith("@"):
            pos = key.find("/")
            if pos < 0 or pos == len(key) - 1:
                raise ValueError(f"{type(self).__name__}.set_parameter: key {key!r} names a "
                                 "submodule ('@name') but no parameter after it; expected "
                                 "'@name/<parameter key>'")
            child, rest = key[1:pos], key[pos + 1:]
            if child in self.submodules:
                self.submodules[child].set_parameter(rest, param, raise_if_missing)
            elif raise_if_missing:
                raise ValueError(f"{type(self).__name__}.set_parameter: key {key!r} needs a "
                                 f"submodule {child!r}, but the submodules are "
                                 f"{list(self.submodules)}; pass raise_if_missing=False to "
                                 "skip such keys")
            return
        with _parameter.parameter_scope("", self.parameter_scope):
            _parameter.set_parameter(key, param)

    def set_parameters(self, params: Mapping[str, Variable],
                       raise_if_missing: bool = False) -> None:
        """``set_parameter`` for every ``key -> Variable`` of ``params``."""
        for key, param in params.items():
            self.set_parameter(key, param, raise_if_missing=raise_if_missing)

    def update_parameter(self) -> None:
        self.set_parameters(self.get_parameters())

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero."""
        for param in self.get_parameters().values():
            param.grad.zero()

    def save_parameters(self, path: str | IO[bytes], extension: str = ".h5") -> None:
        """Save ``get_parameters(grad_only=False)`` (keys as listed there).

        Args:
            path (str or file object): Destination; its extension picks the format.
            extension (str): The format when ``path`` is a file object.
        """
        _parameter.save_parameters(path, params=self.get_parameters(grad_only=False),
                                   extension=extension)

    def load_parameters(self, path: str | IO[bytes], extension: str = ".h5",
                        raise_if_missing: bool = True) -> None:
        """Load a file written by ``save_parameters`` into this module.

        The loaded Variables replace the module's (graphs built earlier keep
        the old ones). The global parameters are not touched.

        Args:
            path (str or file object): The file.
            extension (str): The format when ``path`` is a file object.
            raise_if_missing (bool): Raise on an ``@name/`` key without such a submodule.
        """
        scope: OrderedDict[str, Any] = OrderedDict()
        with _parameter.parameter_scope("", scope):
            _parameter.load_parameters(path, extension=extension)
            params = _parameter.get_parameters(grad_only=False)
        self.set_parameters(params, raise_if_missing=raise_if_missing)

    def __len__(self) -> int:
        return len(self.submodules)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Module):
            self.submodules[name] = value
            value.__dict__["_name"] = name
            value.__dict__["_parent"] = self
            return
        self.__dict__[name] = value
        if name in self._recursive_attrs:
            for module in self.submodules.values():
                setattr(module, name, value)

    def __getattr__(self, name: str) -> Any:
        # only reached when normal lookup fails: submodules live outside __dict__
        if not name.startswith("__"):
            subs = self.__dict__.get("_submodules")
            if subs is not None and name in subs:
                return subs[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        recorder = _engine.recording
        if recorder is None:
            return self.call(*args, **kwargs)
        # nn.graph_def is recording: the module's name goes into the names of
        # what it builds, and an outermost call ends a network
        return recorder.module_called(self, self.call, args, kwargs)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """Build the graph of this module (a subclass defines it)."""
        raise NotImplementedError(f"{type(self).__name__}.call is not implemented: a Module "
                                  "subclass defines call(self, ...) to build its graph")
