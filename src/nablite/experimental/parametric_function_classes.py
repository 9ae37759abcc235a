"""Alias of :mod:`nablite.experimental.parametric_function_class` (NNabla 1.39 ships
this name as an empty module; here it re-exports the same classes)."""
from .parametric_function_class import *  # noqa: F401,F403
from .parametric_function_class import __all__  # noqa: F401
