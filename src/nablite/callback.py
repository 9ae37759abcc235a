"""Hooks every graph and solver calls (``nnabla.callback``): the module NNabla
keeps them in, over the same functions as ``nn.set_function_pre_hook`` & co."""
from .graph import (set_function_post_hook, set_function_pre_hook,  # noqa: F401
                    unset_function_post_hook, unset_function_pre_hook)
from ._solver_base import (set_solver_post_hook, set_solver_pre_hook,  # noqa: F401
                           unset_solver_post_hook, unset_solver_pre_hook)

__all__ = ["set_function_pre_hook", "set_function_post_hook", "unset_function_pre_hook",
           "unset_function_post_hook", "set_solver_pre_hook", "set_solver_post_hook",
           "unset_solver_pre_hook", "unset_solver_post_hook"]
