"""Function: one node of a graph, stating setup, forward and backward.

A subclass states three things:
  ``setup(*shapes)``      validates inputs (raising errors that name the function)
                          and returns the output shape, or a list of shapes;
  ``forward(xp, *xs)``    computes the output array(s);
  ``backward(xp, xs, ys, gys)`` returns one gradient per input (or None).
The engine (graph.py) does the chain rule bookkeeping: accumulation into ``.g``,
``need_grad`` filtering, buffer clearing. ``self.need`` holds, during backward,
which inputs want a gradient, so a function may skip work nobody asked for.
"""
import weakref

from . import context as _context
from . import graph
from ._array import NdArray
from .backend import module_for
from .variable import Variable, as_variable


class _Info:
    __slots__ = ("args", "type_name")

    def __init__(self, args, type_name):
        self.args = args
        self.type_name = type_name


class Function:
    """Base class of all NNabla functions. The class name is NNabla's type name."""

    inputs = ()
    _outputs = ()
    need = ()
    rank = 0
    # Whether backward reads the values of the inputs / the outputs (NNabla's
    # "grad depends on input/output data"). forward(clear_no_need_grad=True)
    # frees what no backward to come reads; a freed array reaches backward as a
    # read-only zero view of the right shape and dtype.
    grad_reads_inputs = True
    grad_reads_outputs = True
    # How ``nn.grad`` builds this function's gradient as a graph (grad.py):
    # ``grad_graph(need, xs, ys, gys)`` returns gradient Variables (None: use the
    # next rule); ``composite(*xs)`` states the function as a composition of
    # others; ``linear`` functions (y = J x) get the adjoint J^T, whose gradient
    # is the function again. Without any, nn.grad wraps ``backward`` in one
    # node: a first-order gradient that cannot be differentiated again.
    grad_graph = None
    composite = None
    linear = False
    bilinear = False
    # Whether backward leaves the inputs' gradients as they are (writes nothing),
    # so that gradients set on them by hand flow on (graph._unwritten_grad).
    leaves_input_grads = False
    # The reduced-loss fusion (graph._fuse_reductions: backward(clear_buffer=True)
    # runs ``reduction(loss(...))`` as one step): a reduction that can give its
    # input's gradient as an array that only broadcasts to the input defines
    # ``broadcastable_grad(xp, gy)`` (Sum, Mean); a loss whose backward accepts
    # such a gradient sets ``takes_broadcast_grad`` (SoftmaxCrossEntropy).
    broadcastable_grad = None
    takes_broadcast_grad = False
    # attributes that forward sets for backward (gradient nodes copy the function
    # without them)
    forward_state = ()

    # -- the three parts a subclass states ---------------------------------
    def setup(self, *shapes):
        return shapes[0]

    def forward(self, xp, *xs):
        raise NotImplementedError

    def backward(self, xp, xs, ys, gys):
        raise NotImplementedError(f"{self.name}: backward is not defined")

    # -- graph construction ------------------------------------------------
    def __call__(self, *inputs, n_outputs=-1, outputs=None):
        immediate = False
        vs = []
        for x in inputs:
            if isinstance(x, Variable):
                vs.append(x)
            else:
                if isinstance(x, NdArray):
                    immediate = True
                vs.append(as_variable(x, self.name))
        self.inputs = vs
        out = self.setup(*[v.shape for v in vs])
        shapes = out if isinstance(out, list) else [out]
        self.out_shapes = shapes
        self.ctx = _context._current
        self.xp = module_for(self.ctx.backend_name)
        need = False
        rank = 0
        for v in vs:
            need = need or v.need_grad
            r = v.rank
            if r > rank:
                rank = r
        self.rank = rank + 1
        ys = [Variable._output(s, self, need) for s in shapes]
        self._outputs = [weakref.ref(y) for y in ys]
        if immediate or graph.auto_forward_enabled:
            graph.run_forward(self)
            if immediate:
                arrays = [y.data for y in ys]
                if outputs is not None:
                    for o, a in zip(outputs, arrays):
                        o.data = a.data
                    arrays = list(outputs)
                return arrays[0] if not isinstance(out, list) else tuple(arrays)
        return ys[0] if not isinstance(out, list) else tuple(ys)

    # -- what NNabla exposes on var.parent ---------------------------------
    @property
    def name(self):
        return type(self).__name__

    @property
    def outputs(self):
        return [o() for o in self._outputs]

    @property
    def args(self):
        return {k: v for k, v in vars(self).items()
                if not k.startswith("_") and k not in _ENGINE_FIELDS}

    arguments = args

    @property
    def info(self):
        return _Info(self.args, self.name)

    @property
    def need_grad(self):
        return any(v.need_grad for v in self.inputs)

    @property
    def tags(self):
        return {}

    @property
    def context(self):
        return self.ctx

    def __repr__(self):
        return f"<{self.name} rank={self.rank}>"


_ENGINE_FIELDS = {"inputs", "out_shapes", "ctx", "xp", "rank", "need"}


def require(fn, condition, message, exc=ValueError):
    """Raise ``exc("<fn name>: message")`` unless ``condition`` holds."""
    if not condition:
        name = fn if isinstance(fn, str) else fn.name
        raise exc(f"{name}: {message}")


from .python_function import PythonFunction  # noqa: E402,F401  (needs Function above)
