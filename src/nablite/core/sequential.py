"""Sequential: modules applied one after another (``nn.Sequential``)."""
from typing import Any

from .module import Module

__all__ = ["Sequential"]


class Sequential(Module):
    """Call each module on the previous one's result.

    Submodules are named ``<module.name>_<index>`` (``lin_0``, ``lin_1``), or
    as given with ``(name, module)`` pairs::

        layer = nn.Sequential(ConvLayer(48), ConvLayer(64))
        layer = nn.Sequential(("conv1", ConvLayer(48)), ("conv2", ConvLayer(64)))

    Keyword arguments of the constructor are ignored (as in NNabla); those of
    a call go to every module.
    """

    def __init__(self, *args: "Module | tuple[str, Module]", **kwargs: Any) -> None:
        for index, item in enumerate(args):
            if isinstance(item, tuple) and len(item) != 2:
                raise TypeError(f"Sequential: argument {index} must be an nn.Module or a "
                                f"(name, nn.Module) pair, got a tuple of {len(item)}")
            name, module = item if isinstance(item, tuple) else (None, item)
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {index} must be an nn.Module or a "
                                f"(name, nn.Module) pair, got {type(module).__name__}")
            self.submodules[f"{module.name}_{index}" if name is None else name] = module

    def call(self, *args: Any, **kwargs: Any) -> Any:
        result = args[0] if len(args) == 1 else args
        for module in self.submodules.values():
            result = module(*args, **kwargs)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        return result
