"""``nn.grad``: gradients as graphs, so that they can be differentiated again.

``backward()`` runs each function's array backward and leaves numbers in
``.g``. ``grad(outputs, inputs)`` instead builds, for every function between
them, Variables that compute its input gradients from its output gradients
(``Function.grad_graph``). The result is an ordinary graph: ``forward()``
computes it, and ``backward()`` or another ``grad`` differentiates it again
(gradient penalties, double backprop, Hessian-vector products).

How a function's gradient becomes a graph, from the most to the least general:
  - a rule registered for its type name (nablite.backward_functions.register);
  - its own ``grad_graph(need, xs, ys, gys)``, written with F functions
    (tables of elementwise functions evaluate their derivative formula on
    Variables; linear, bilinear and composite functions have their own);
  - otherwise one ``Backward`` node that runs the function's array backward:
    a correct first-order gradient, which cannot be differentiated again
    (doing so raises an error naming the function).
"""
from collections.abc import ValuesView
from typing import Any, Sequence

import numpy as np

from . import backend
from ._array import NdArray
from .backward_functions import registered_grad
from .function import Function
from .graph import input_wants_grad, topological_order
from .variable import Variable, _functions

def grad(outputs: Sequence[Variable], inputs: Sequence[Variable],
         grad_outputs: Sequence[Any] | None = None,
         persistent_outputs: Sequence[Variable] = [],
         bind_grad_output: bool = False) -> list[Variable]:
    """The gradients of ``outputs`` with respect to ``inputs``, as Variables of a graph.

    Args:
        outputs (list of Variable): What to differentiate (the gradients of all are summed).
        inputs (list of Variable): With respect to what.
        grad_outputs (list): One per output: None (ones), a number, a numpy array or a
            Variable; the gradient that flows into that output. None means all ones.
        persistent_outputs (list of bool): One per output: make it persistent
            (kept by buffer clearing: the gradient graph reads it). Empty (the
            default) means all, as in NNabla.
        bind_grad_output (bool): Make each returned Variable's data the ``.grad``
            array of its input, so ``forward()`` leaves the gradient in ``x.g``.

    Returns:
        list of Variable: ``d sum(outputs) / d inputs[i]``; zeros (of the input's
        shape) for an input that does not need a gradient or does not reach
        ``outputs``. Call ``forward()`` on them to compute the values.
    """
    outputs = _as_list(outputs, "outputs")
    inputs = _as_list(inputs, "inputs")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    grad_outputs = _as_list(grad_outputs, "grad_outputs")
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: grad_outputs has {len(grad_outputs)} entries, "
                         f"but there are {len(outputs)} outputs")
    persistent_outputs = list(persistent_outputs) or [True] * len(outputs)
    if len(persistent_outputs) != len(outputs):
        raise ValueError(f"grad: persistent_outputs has {len(persistent_outputs)} entries, "
                         f"but there are {len(outputs)} outputs (or give none)")
    seeds = [_seed(y, g) for y, g in zip(outputs, grad_outputs)]
    for y, keep in zip(outputs, persistent_outputs):
        y.persistent = bool(keep)
    stand_ins = _in_the_graph(outputs, inputs)
    grads = backpropagate(outputs, seeds, [v for vs in stand_ins for v in vs])
    F = _functions()
    result = []
    for x, vs in zip(inputs, stand_ins):
        parts = [grads[id(v)] for v in vs if id(v) in grads]
        g = parts[0] if len(parts) == 1 else F.add_n(*parts) if parts else None
        if g is None:
            g = F.constant(0, x.shape)
        elif g.shape != x.shape:
            g = F.reshape(g, x.shape)
        if bind_grad_output:
            g._data = x._grad
        result.append(g)
    return result


def _in_the_graph(outputs, inputs):
    """Per input, the Variables of the graph that stand for it (those needing a
    gradient): itself, and for a leaf also the graph's leaves sharing its arrays.
    A parametric function puts an unlinked copy of each parameter in the graph,
    so ``nn.grad(loss, nn.get_parameters().values())`` reaches them, as in NNabla
    (a parameter used twice gets the sum of both uses' gradients)."""
    leaves = {}
    for f in topological_order(outputs):
        for v in f.inputs:
            if v._parent is None:
                leaves.setdefault(id(v._data), {})[id(v)] = v
    found = []
    for x in inputs:
        vs = {id(x): x}
        if x._parent is None:
            vs.update(leaves.get(id(x._data), {}))
        found.append([v for v in vs.values() if v.need_grad])
    return found


def backpropagate(outputs, seeds, inputs, stop=None):
    """A dict id(variable) -> gradient Variable for ``inputs`` (and what lies between),
    given the seed gradients of ``outputs``. The walk does not go above ``stop``
    (variables at which the graph is cut, for composite functions)."""
    order = topological_order(outputs, stop)
    wants = {id(x) for x in inputs}
    for f in order:  # which variables depend on the inputs
        if any(id(x) in wants for x in f.inputs):
            wants.update(id(y) for y in f.outputs if y is not None)
    grads = {}
    for y, g in zip(outputs, seeds):
        _accumulate(grads, y, g)
    for f in reversed(order):
        need = tuple(id(x) in wants and input_wants_grad(x, True) for x in f.inputs)
        if True not in need:
            continue
        ys = f.outputs
        gys = [grads.get(id(y)) for y in ys]
        if all(g is None for g in gys):
            continue
        gys = [g if g is not None else zeros(s) for g, s in zip(gys, f.out_shapes)]
        gxs = grad_graph(f, need, gys)
        for x, n, gx in zip(f.inputs, need, gxs):
            if n and gx is not None:
                _accumulate(grads, x, gx)
    return grads


def grad_graph(f, need, gys):
    """Gradient Variables of ``f``'s inputs (None where ``need`` is False): the
    function's own rule, else its composition's gradient, else the adjoint of a
    linear function, else its array backward as one node (first order only)."""
    gxs = registered_grad(f, need, gys)  # nnabla.backward_functions.register
    rule = getattr(f, "grad_graph", None)
    if gxs is None and rule is not None:
        gxs = rule(need, f.inputs, f.outputs, gys)
    if gxs is None and getattr(f, "composite", None) is not None:
        gxs = composite_grad(f, need, gys)
    if gxs is None and f.linear:
        gxs = adjoint_node(f, need, gys)
    if gxs is None and f.bilinear:
        gxs = [BilinearGrad(f, i)(*_bilinear_args(f, i, gys[0])) if n else None
               for i, n in enumerate(need)]
    if gxs is None:
        gxs = _backward_node(f, need, gys)
    return list(gxs)


class _InputGradients(Function):
    """A node whose outputs are the gradients of ``target``'s inputs that ``need``
    asks for; its name is the target's with the class's ``suffix``."""
    suffix = ""

    def __init__(self, target, need):
        self._target = target
        self._need = need

    @property
    def name(self):
        return f"{self._target.name}{self.suffix}"

    def setup(self, *shapes):
        return [x.shape for x, n in zip(self._target.inputs, self._need) if n]


class Backward(_InputGradients):
    """The array backward of one function as a node: first-order gradients only."""
    suffix = "Backward"

    def forward(self, xp, *arrays):
        f = self._target
        nx, ny = len(f.inputs), len(f.out_shapes)
        xs, ys, gys = arrays[:nx], arrays[nx:nx + ny], arrays[nx + ny:]
        f.need = self._need
        gxs = f.backward(xp, list(xs), list(ys), list(gys))
        out = []
        for x, n, g in zip(xs, self._need, gxs):
            if n:
                out.append(xp.zeros(x.shape, x.dtype) if g is None else
                           xp.asarray(xp.broadcast_to(g, x.shape), dtype=x.dtype))
        return out if len(out) > 1 else out[0]

    def _not_again(self):
        return NotImplementedError(
            f"{self._target.name}: its gradient cannot be differentiated again (no "
            f"second-order gradient is defined for {self._target.name})")

    def backward(self, xp, xs, ys, gys):
        raise self._not_again()

    def grad_graph(self, need, xs, ys, gys):
        raise self._not_again()  # (not through backward: a float-cast class wraps it)


class Adjoint(_InputGradients):
    """The gradient of a linear function ``f`` (``f.linear``): gxs = J^T gys. It is
    linear too, and its own gradient is ``f`` again, so every order is defined."""
    suffix = "Adjoint"
    grad_reads_inputs = grad_reads_outputs = False
    linear = True

    def forward(self, xp, *gys):
        f = self._target
        f.need = self._need
        xs = [_zero_view(xp, x.shape, x.dtype) for x in f.inputs]
        ys = [_zero_view(xp, s, np.float32) for s in f.out_shapes]
        gxs = f.backward(xp, xs, ys, list(gys))
        out = [xp.zeros(x.shape, x.dtype) if g is None else g
               for x, n, g in zip(xs, self._need, gxs) if n]
        return out if len(out) > 1 else out[0]

    def backward(self, xp, xs, ys, gys):
        f = self._target
        full = iter(gys)
        ins = [next(full) if n else _zero_view(xp, x.shape, x.dtype)
               for x, n in zip(f.inputs, self._need)]
        out = f.forward(xp, *ins)
        out = list(out) if len(f.out_shapes) > 1 else [out]
        return [o if n else None for o, n in zip(out, self.need)]

    def grad_graph(self, need, xs, ys, gys):
        import copy
        f = self._target
        full = iter(gys)
        ins = [next(full) if n else zeros(x.shape) for x, n in zip(f.inputs, self._need)]
        again = copy.copy(f)
        out = again(*ins)
        out = list(out) if isinstance(out, tuple) else [out]
        return [o if n else None for o, n in zip(out, need)]


class BilinearGrad(Function):
    """One input's gradient of a bilinear function ``f(x, w[, b])`` (``f.bilinear``:
    affine, convolutions, deconvolutions), from ``f``'s array backward:
    slot 0 is gx(gy, w), slot 1 gw(x, gy), slot 2 gb(gy). Each is bilinear (or
    linear) again, and its gradient is ``f`` or another slot, so every order is
    defined."""

    grad_reads_inputs = True
    grad_reads_outputs = False

    def __init__(self, target, slot):
        self._target = detached_copy(target)
        self._slot = slot

    @property
    def name(self):
        return f"{self._target.name}Grad{self._slot}"

    def setup(self, *shapes):
        return self._target.inputs[self._slot].shape

    def forward(self, xp, *args):
        return self._apply_slot(xp, self._slot, args)

    def _apply_slot(self, xp, slot, args):
        f = self._target
        _forget_state(f)
        xs = [_zero_view(xp, x.shape, x.dtype) for x in f.inputs]
        gy = args[0] if slot != 1 else args[1]
        if slot == 0:
            xs[1] = args[1]
        elif slot == 1:
            xs[0] = args[0]
        f.need = tuple(i == slot for i in range(len(xs)))
        g = f.backward(xp, xs, [_zero_view(xp, f.out_shapes[0], gy.dtype)], [gy])[slot]
        return xp.zeros(f.inputs[slot].shape, gy.dtype) if g is None else g

    def _apply_f(self, xp, x, w, b):
        f = self._target
        args = [x, w] if len(f.inputs) == 2 else [x, w, b]
        y = f.forward(xp, *[a if a is not None else _zero_view(xp, v.shape, v.dtype)
                            for a, v in zip(args, f.inputs)])
        _forget_state(f)
        return y

    def backward(self, xp, xs, ys, gys):
        gg, slot, need = gys[0], self._slot, self.need
        if slot == 0:  # inputs (gy, w)
            gy, w = xs
            return (self._apply_f(xp, gg, w, None) if need[0] else None,
                    self._apply_slot(xp, 1, (gg, gy)) if need[1] else None)
        if slot == 1:  # inputs (x, gy)
            x, gy = xs
            return (self._apply_slot(xp, 0, (gy, gg)) if need[0] else None,
                    self._apply_f(xp, x, gg, None) if need[1] else None)
        return (self._apply_f(xp, None, None, gg),)

    def grad_graph(self, need, xs, ys, gys):
        f, gg, slot = self._target, gys[0], self._slot
        if slot == 0:
            gy, w = xs
            return [_apply_graph(f, gg, w, None) if need[0] else None,
                    BilinearGrad(f, 1)(gg, gy) if need[1] else None]
        if slot == 1:
            x, gy = xs
            return [BilinearGrad(f, 0)(gy, gg) if need[0] else None,
                    _apply_graph(f, x, gg, None) if need[1] else None]
        return [_apply_graph(f, None, None, gg)]


def _bilinear_args(f, slot, gy):
    return {0: (gy, f.inputs[1]), 1: (f.inputs[0], gy), 2: (gy,)}[slot]


def _apply_graph(f, x, w, b):
    """``f`` applied to other Variables (zeros where None), as a new node."""
    again = detached_copy(f)
    args = [x, w] if len(f.inputs) == 2 else [x, w, b]
    return again(*[a if a is not None else zeros(v.shape) for a, v in zip(args, f.inputs)])


def detached_copy(f):
    """A copy of ``f`` for gradient nodes: the same arguments and geometry, none of
    the state its forward keeps for its own backward (``forward_state``)."""
    import copy
    g = copy.copy(f)
    _forget_state(g)
    return g


def _forget_state(f):
    for name in f.forward_state:
        setattr(f, name, None)


def _zero_view(xp, shape, dtype):
    return xp.broadcast_to(xp.zeros((), dtype), shape)


def adjoint_node(f, need, gys):
    outs = Adjoint(f, need)(*gys)
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    return [outs.pop(0) if n else None for n in need]


def _backward_node(f, need, gys):
    ys = [y if y is not None else zeros(s) for y, s in zip(f.outputs, f.out_shapes)]
    outs = Backward(f, need)(*f.inputs, *ys, *gys)
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    return [outs.pop(0) if n else None for n in need]


# -- helpers the rules share --------------------------------------------------
def sum_to(g, shape):
    """Sum a gradient Variable over the axes broadcasting expanded, giving ``shape``."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    F = _functions()
    lead = len(g.shape) - len(shape)
    axes = list(range(lead)) + [lead + i for i, s in enumerate(shape)
                                if s == 1 and g.shape[lead + i] != 1]
    if axes:
        g = F.sum(g, axis=axes, keepdims=True)
    return F.reshape(g, shape) if g.shape != shape else g


def zeros(shape):
    return _functions().constant(0, tuple(shape))


class VariableMath:
    """The part of numpy's namespace that derivative tables use, over F functions,
    so a formula written for arrays (``g * xp.cos(x)``) builds a graph on Variables."""

    def __getattr__(self, name):
        F = _functions()
        target = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
                  "arccosh": "acosh", "arctanh": "atanh", "arctan2": "atan2",
                  "maximum": "maximum2", "minimum": "minimum2"}.get(name, name)
        if target in ("exp", "log", "sin", "cos", "tan", "sinh", "cosh", "tanh", "asin",
                      "acos", "atan", "asinh", "acosh", "atanh", "atan2", "abs",
                      "erf", "maximum2", "minimum2"):
            return getattr(F, target)
        if name == "sign":  # a constant (F.sign's own gradient is straight-through)
            return lambda x: F.greater_scalar(x, 0.0) - F.less_scalar(x, 0.0)
        if name == "sqrt":
            return lambda x: F.pow_scalar(x, 0.5)
        if name == "square":
            return lambda x: x * x
        if name == "reciprocal":
            return lambda x: F.r_div_scalar(x, 1.0)
        raise AttributeError(f"VariableMath: {name} has no graph form")


vmath = VariableMath()


def _as_list(v, arg):
    if isinstance(v, Variable) or v is None or isinstance(v, (int, float, np.ndarray)):
        return [v]
    if isinstance(v, (list, tuple, ValuesView)):  # nn.get_parameters().values()
        return list(v)
    raise TypeError(f"grad: {arg} must be a Variable or a list of Variables, "
                    f"got {type(v).__name__}")


def _seed(y, g):
    if not isinstance(y, Variable):
        raise TypeError(f"grad: outputs must be Variables, got {type(y).__name__}")
    F = _functions()
    if g is None:
        return F.constant(1, y.shape)
    if isinstance(g, Variable):
        if g.shape != y.shape:
            raise ValueError(f"grad: a grad_output has shape {g.shape}, but its output "
                             f"has shape {y.shape}")
        return g
    if isinstance(g, (int, float, np.number)):
        return F.constant(float(g), y.shape)
    arr = np.asarray(backend.to_numpy(g.data if isinstance(g, NdArray) else g))
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"grad: a grad_output must be numeric, got dtype {arr.dtype}")
    try:
        arr = np.broadcast_to(arr, y.shape)
    except ValueError:
        raise ValueError(f"grad: a grad_output has shape {arr.shape}, but its output has "
                         f"shape {y.shape}") from None
    return Variable.from_numpy_array(np.array(arr, dtype=arr.dtype if arr.dtype.kind == "f"
                                              else np.float32))


def _accumulate(grads, x, g):
    prev = grads.get(id(x))
    grads[id(x)] = g if prev is None else prev + g


def composite_grad(f, need, gys):
    """The gradient graph of a function stated as a composition of others
    (``f.composite(*inputs)`` returns outputs equal to ``f``'s): differentiate that."""
    xs = f.inputs
    outs = f.composite(*xs)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    pairs = [(o, g) for o, g in zip(outs, gys) if o is not None]
    wanted = [x for x, n in zip(xs, need) if n]
    grads = backpropagate([o for o, _ in pairs], [g for _, g in pairs], wanted, stop=xs)
    return [grads.get(id(x)) if n else None for x, n in zip(xs, need)]
