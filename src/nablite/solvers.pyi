# Type stubs of nablite.solvers, written by tools/make_stubs.py from the runtime
# signatures (tests/test_stubs.py checks they still agree). Do not edit by hand.
from ._solver_base import (
    Solver as Solver,
    SolverState as SolverState,
    set_solver_post_hook as set_solver_post_hook,
    set_solver_pre_hook as set_solver_pre_hook,
    unset_solver_post_hook as unset_solver_post_hook,
    unset_solver_pre_hook as unset_solver_pre_hook,
)

class Sgd(Solver):
    def __init__(self, lr: float = 0.001) -> None: ...

class SgdW(Solver):
    def __init__(self, lr: float = 0.001, momentum: float = 0.9, wd: float = 0.0001) -> None: ...

class Momentum(Solver):
    def __init__(self, lr: float = 0.001, momentum: float = 0.9) -> None: ...

class Lars(Solver):
    def __init__(self, lr: float = 0.001, momentum: float = 0.9, coefficient: float = 0.001, eps: float = 1e-06) -> None: ...

class Nesterov(Solver):
    def __init__(self, lr: float = 0.001, momentum: float = 0.9) -> None: ...

class Adadelta(Solver):
    def __init__(self, lr: float = 1.0, decay: float = 0.95, eps: float = 1e-06) -> None: ...

class Adagrad(Solver):
    def __init__(self, lr: float = 0.01, eps: float = 1e-08) -> None: ...

class AdaBelief(Solver):
    def __init__(self, alpha: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-08, wd: float = 0.0, amsgrad: bool = False, weight_decouple: bool = False, fixed_decay: bool = False, rectify: bool = False) -> None: ...

class RMSprop(Solver):
    def __init__(self, lr: float = 0.001, decay: float = 0.9, eps: float = 1e-08) -> None: ...

class RMSpropGraves(Solver):
    def __init__(self, lr: float = 0.0001, decay: float = 0.95, momentum: float = 0.9, eps: float = 0.0001) -> None: ...

class Adam(Solver):
    def __init__(self, alpha: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-08) -> None: ...

class AdamW(Solver):
    def __init__(self, alpha: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-08, wd: float = 0.0001) -> None: ...

class AdaBound(Solver):
    def __init__(self, alpha: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-08, final_lr: float = 0.1, gamma: float = 0.001) -> None: ...

class Adamax(Solver):
    def __init__(self, alpha: float = 0.002, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-08) -> None: ...

class AMSGRAD(Solver):
    def __init__(self, alpha: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-08, bias_correction: bool = False) -> None: ...

class AMSBound(Solver):
    def __init__(self, alpha: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-08, final_lr: float = 0.1, gamma: float = 0.001, bias_correction: bool = False) -> None: ...

class Lamb(Solver):
    def __init__(self, eta: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, gamma_l: float = 0.0, gamma_u: float = 10.0, eps: float = 1e-06, bias_correction: bool = False) -> None: ...

class Lion(Solver):
    def __init__(self, lr: float = 0.0001, beta1: float = 0.9, beta2: float = 0.99) -> None: ...
