"""The mix-in of the parametric function classes: parameters are Variable attributes."""
from collections import OrderedDict

import numpy as np

from ... import parameter as _parameter
from ...logger import logger
from ...variable import Variable

__all__ = ["Module"]


class Module:
    """A model or layer whose parameters are its Variable attributes and whose
    parts are its Module attributes (walked in attribute order)."""

    def __init__(self):
        pass

    def get_modules(self, memo=None, prefix=""):
        """Yield ``(prefix, module)`` for this module and, depth first, every
        Module attribute below it (each module once); prefixes join attribute
        names with '/' ('' for this one)."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, value in list(self.__dict__.items()):
            if isinstance(value, Module):
                yield from value.get_modules(memo, f"{prefix}/{name}" if prefix else name)

    def _named_variables(self):
        for prefix, module in self.get_modules():
            for name, value in module.__dict__.items():
                if isinstance(value, Variable):
                    yield f"{prefix}/{name}", value

    def get_parameters(self, grad_only=True):
        """OrderedDict of ``'<prefix>/<attribute>' -> Variable``; a root module's
        own Variables are ``'/<attribute>'``.

        Args:
            grad_only (bool): Only Variables with ``need_grad=True``.
        """
        return OrderedDict((k, v) for k, v in self._named_variables()
                           if not grad_only or v.need_grad)

    def save_parameters(self, path, grad_only=False):
        """Save ``get_parameters(grad_only)`` to ``path`` (``.h5`` or ``.protobuf``)."""
        _parameter.save_parameters(path, self.get_parameters(grad_only=grad_only))

    def load_parameters(self, path):
        """Copy the values stored in ``path`` into this module's Variables.

        Every Variable of the module must be in the file with its shape; the
        file is read into a private scope, so global parameters stay untouched.
        """
        scope = OrderedDict()
        with _parameter.parameter_scope("", scope):
            _parameter.load_parameters(path)
            loaded = _parameter.get_parameters(grad_only=False)
        loaded = {k.strip("/"): v for k, v in loaded.items()}
        targets = list(self._named_variables())
        for name, param in targets:
            got = loaded.get(name.strip("/"))
            if got is None:
                raise ValueError(f"{type(self).__name__}.load_parameters: {path!r} has no "
                                 f"parameter {name!r} (it has {sorted(loaded)})")
            if got.shape != param.shape:
                raise ValueError(f"{type(self).__name__}.load_parameters: {name!r} is "
                                 f"{got.shape} in {path!r}, but the module's is {param.shape}")
        for name, param in targets:
            param.d = np.array(loaded[name.strip("/")].d)
            logger.info(f"`{name}` loaded.")


def parameter(owner, arg, init, shape, need_grad=True):
    """A parameter Variable of ``shape`` from ``init`` (an initializer or a numpy array)."""
    shape = tuple(int(s) for s in shape)
    if isinstance(init, np.ndarray):
        if init.shape != shape:
            raise ValueError(f"{owner}: {arg} is an array of shape {init.shape}, "
                             f"expected {shape}")
        value = init
    elif callable(init):
        value = init(shape)
    else:
        raise TypeError(f"{owner}: {arg} must be an initializer or a numpy array, "
                        f"got {type(init).__name__}")
    return Variable.from_numpy_array(value).apply(need_grad=need_grad)


def kernel_tuple(owner, kernel):
    if not hasattr(kernel, "__iter__"):
        raise TypeError(f"{owner}: kernel must be a tuple of int, got "
                        f"{type(kernel).__name__} {kernel!r}")
    return tuple(int(k) for k in kernel)
