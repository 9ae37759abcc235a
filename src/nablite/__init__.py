"""nablite: NNabla's Python API on modern Python and NumPy.

    import nablite as nn
    import nablite.functions as F
    import nablite.parametric_functions as PF
    import nablite.solvers as S
"""
from importlib import metadata as _metadata

try:  # the installed distribution's version, as pyproject.toml states it
    __version__ = _metadata.version("nablite")
except _metadata.PackageNotFoundError:  # sources on sys.path without an install
    __version__ = "0+unknown"

from .logger import logger  # noqa: F401
from ._array import NdArray  # noqa: F401
from .variable import Variable  # noqa: F401
from .context import (Context, context_scope, get_current_context,  # noqa: F401
                      set_default_context, available_contexts, add_available_context,
                      prefer_cached_array, reset_array_preference)
from .graph import (auto_forward, forward_all, get_auto_forward, set_auto_forward,  # noqa: F401
                    recompute, recompute_fn, get_global_recompute, set_global_recompute,
                    set_function_pre_hook, set_function_post_hook, unset_function_pre_hook,
                    unset_function_post_hook)
from .parameter import (clear_parameters, get_current_parameter_scope,  # noqa: F401
                        load_parameters, save_parameters,
                        get_parameters, no_grad, parameter_scope)
from .random import seed  # noqa: F401
from . import functions  # noqa: F401
from . import function_bases  # noqa: F401,E402  (nn.function_bases, as NNabla)
from .grad import grad  # noqa: F401
from .solver import (set_solver_post_hook, set_solver_pre_hook,  # noqa: F401
                     unset_solver_post_hook, unset_solver_pre_hook)
from .core.module import Module  # noqa: F401,E402
from .core.sequential import Sequential  # noqa: F401,E402
from . import graph_def  # noqa: F401,E402  (nn.graph_def, as NNabla)
from .graph_def import ProtoVariable  # noqa: F401,E402

# Submodules ``import nnabla`` binds as attributes (``nn.utils.save.save(...)``,
# ``nn.monitor``), imported on first use so that ``import nablite`` stays fast.
_LAZY_SUBMODULES = ("utils", "config", "callback", "communicator", "communicators",
                    "ext_utils", "monitor", "initializer")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
