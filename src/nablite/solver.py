"""``nablite.solver``: NNabla's ``nnabla.solver`` module, the solver classes.

NNabla 1.39 exposes the same classes under two module names, ``nnabla.solver``
and ``nnabla.solvers`` (``nnabla.solver.Adam is nnabla.solvers.Adam``); scripts
use either, e.g. ``import nnabla.solver as S; S.Adam(alpha=1e-3)``. This module
re-exports the classes of ``nablite.solvers`` (the same objects, no copies),
the ``Solver`` base and ``SolverState`` (defined in ``_solver_base``) and the
solver hooks.
"""
from ._solver_base import (Solver, SolverState, set_solver_post_hook,  # noqa: F401
                           set_solver_pre_hook, unset_solver_post_hook,
                           unset_solver_pre_hook)
from .solvers import (AMSBound, AMSGRAD, AdaBelief, AdaBound, Adadelta,  # noqa: F401
                      Adagrad, Adam, Adamax, AdamW, Lamb, Lars, Lion, Momentum, Nesterov,
                      RMSprop, RMSpropGraves, Sgd, SgdW)

__all__ = ["Solver", "SolverState", "Sgd", "SgdW", "Momentum", "Lars", "Nesterov",
           "Adadelta", "Adagrad", "AdaBelief", "RMSprop", "RMSpropGraves", "Adam", "AdamW",
           "AdaBound", "Adamax", "AMSGRAD", "AMSBound", "Lamb", "Lion",
           "set_solver_pre_hook", "set_solver_post_hook", "unset_solver_pre_hook",
           "unset_solver_post_hook"]
