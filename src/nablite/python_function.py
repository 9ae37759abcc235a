"""User-defined functions: NNabla's ``nnabla.function.PythonFunction``.

A subclass states NNabla's contract and is then called like any function::

    class Square(PythonFunction):
        @property
        def name(self):
            return "Square"

        def min_outputs(self):
            return 1

        def setup_impl(self, inputs, outputs):
            outputs[0].reset_shape(inputs[0].shape, True)

        def forward_impl(self, inputs, outputs):
            outputs[0].d = inputs[0].d ** 2

        def backward_impl(self, inputs, outputs, propagate_down, accum):
            if propagate_down[0]:
                g = 2 * inputs[0].d * outputs[0].g
                if accum[0]:
                    inputs[0].g += g
                else:
                    inputs[0].g = g

        def grad_depends_output_data(self, i, o):
            return False

        def grad_depends_input_data(self, i, j):
            return True

    y = Square(ctx)(x)          # ctx=None: the current context

The graph node is a ``Callback`` (as in NNabla: ``y.parent.name == 'Callback'``,
``y.parent.info.type_name`` is the subclass's ``name``). It adapts the three
``*_impl`` methods to nablite's setup / forward / backward on arrays, so static
graphs, ``auto_forward``, buffer clearing and leaf-gradient accumulation work
as for built-in functions.

One difference from NNabla, on purpose: ``backward_impl`` always writes into
fresh zeroed input gradients, and every ``accum[i]`` is False; the engine then
adds the result to what the input already holds. Both branches of the usual
``if accum[i]: += else: =`` code give the same gradients, so code written for
NNabla runs unchanged.

In a device context the ``*_impl`` methods see the arrays through ``.d`` / ``.g``
on the host (copied back from the device when read), and what they write goes
to the device for the functions around them. The inputs (and, in backward, the
outputs) are the Variables' own NdArrays, so a write into ``inputs[i].d`` (in
place or by assignment) changes the Variable, as in NNabla: the host view is
then the newest copy, which the next device use reads.
"""
import numpy as np

from . import context as _context
from ._array import NdArray
from .function import Function, _Info

__all__ = ["PythonFunction", "UnsafeVariable"]


def _nd(arr, shape=None, dtype=np.float32):
    """An NdArray holding ``arr`` (no copy), or a lazily zeroed one of ``shape``."""
    a = NdArray._empty(tuple(arr.shape) if arr is not None else tuple(shape))
    if arr is not None:
        a._set(arr)
    else:
        a._dtype = dtype
    return a


def _own(v, arr):
    """``v``'s NdArray when the engine handed its storage ``arr`` to the function
    (writes through it then reach ``v``), else a wrapper of ``arr`` (a float16 copy
    in a 'half' context, a cleared buffer's zero view)."""
    nd = v._data if v is not None else None
    return nd if nd is not None and nd._arr is arr else _nd(arr)


def _grad_dtype(x):
    """Gradients are floating point, also for an integer input."""
    return x.dtype if x.dtype.kind == "f" else np.float32


class UnsafeVariable:
    """One input or output as the ``*_impl`` methods see it: ``data`` / ``grad``
    NdArrays with their ``d`` / ``g`` numpy views, ``shape`` and ``reset_shape``
    (NNabla's type of the same name: there is no ``need_grad`` or graph here)."""

    __slots__ = ("data", "grad")

    def __init__(self, data, grad):
        self.data = data
        self.grad = grad

    @property
    def d(self):
        return self.data._get()

    @d.setter
    def d(self, value):
        self.data.data = value

    @property
    def g(self):
        return self.grad._get()

    @g.setter
    def g(self, value):
        self.grad.data = value

    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    def size_from_axis(self, axis=-1):
        return self.data.size_from_axis(axis)

    def reset_shape(self, shape, force=False):
        self.data.reset_shape(shape, force)
        self.grad.reset_shape(shape, force)

    def __repr__(self):
        return f"<UnsafeVariable({self.shape}) at {hex(id(self))}>"


class PythonFunction:
    """Base class of user-defined functions (NNabla's ``PythonFunction``).

    A subclass defines the ``name`` property, ``min_outputs()``,
    ``setup_impl(inputs, outputs)`` (sets each ``outputs[i].reset_shape(shape, True)``),
    ``forward_impl(inputs, outputs)`` (writes ``outputs[i].d``),
    ``backward_impl(inputs, outputs, propagate_down, accum)`` (writes
    ``inputs[i].g`` where ``propagate_down[i]``), ``grad_depends_output_data(i, o)``
    and ``grad_depends_input_data(i, j)`` (whether the gradient of input ``i``
    reads the values of output ``o`` / input ``j``; buffer clearing trusts them).

    Args:
        ctx (Context): Where the function runs (None: the current context,
            read at construction).
    """

    def __init__(self, ctx=None):
        self.ctx = ctx

    @property
    def ctx(self):
        ctx = self.__dict__.get("_ctx")
        return _context.get_current_context() if ctx is None else ctx

    @ctx.setter
    def ctx(self, ctx):
        if ctx is not None and not isinstance(ctx, _context.Context):
            raise TypeError(f"{type(self).__name__}: ctx must be an nn.Context or None, "
                            f"got {type(ctx).__name__} {ctx!r}")
        self.__dict__["_ctx"] = _context.get_current_context() if ctx is None else ctx

    def _missing(self, what):
        return NotImplementedError(f"{type(self).__name__}: a PythonFunction subclass must "
                                   f"define {what}")

    @property
    def name(self):
        raise self._missing("the `name` property")

    def min_outputs(self):
        raise self._missing("min_outputs()")

    def setup_impl(self, inputs, outputs):
        raise self._missing("setup_impl(inputs, outputs)")

    def forward_impl(self, inputs, outputs):
        raise self._missing("forward_impl(inputs, outputs)")

    def backward_impl(self, inputs, outputs, propagate_down, accum):
        raise self._missing("backward_impl(inputs, outputs, propagate_down, accum)")

    def grad_depends_output_data(self, i, o):
        raise self._missing("grad_depends_output_data(i, o)")

    def grad_depends_input_data(self, i, j):
        raise self._missing("grad_depends_input_data(i, j)")

    def __call__(self, *inputs, n_outputs=-1, outputs=None):
        """Add this function to the graph (or run it, on NdArrays or under
        ``auto_forward``); returns a Variable, or a tuple for several outputs.

        Args:
            n_outputs (int): How many outputs (-1: ``min_outputs()``); at least that.
            outputs (list of NdArray): With NdArray inputs, where to put the results.
        """
        node = Callback(self, n_outputs)
        with _context.context_scope(self.ctx):
            return node(*inputs, outputs=outputs)


def _type_name(pf):
    """A PythonFunction's ``name``: a property, or (as NNabla also takes) a method."""
    name = pf.name
    return name() if callable(name) else name


class Callback(Function):
    """The graph node of a PythonFunction (NNabla's type name for it)."""

    # Every input reaches forward_impl/backward_impl with its own dtype (integer
    # labels stay integers, uint8 stays uint8), as in NNabla: a range holds every
    # position. Not True, which would also mark the outputs as integer: they are
    # float32 whatever forward_impl writes, as NNabla's.
    integer_inputs = range(1 << 31)

    def __init__(self, python_function, n_outputs=-1):
        self._pyfunc = python_function
        self._n_outputs = n_outputs

    @property
    def info(self):
        return _Info({}, _type_name(self._pyfunc))

    # Asked only by buffer clearing, as in NNabla (a subclass that never clears
    # need not define grad_depends_*).
    @property
    def grad_reads_inputs(self):
        n = len(self.inputs)
        return any(bool(self._pyfunc.grad_depends_input_data(i, j))
                   for i in range(n) for j in range(n))

    @property
    def grad_reads_outputs(self):
        return any(bool(self._pyfunc.grad_depends_output_data(i, o))
                   for i in range(len(self.inputs)) for o in range(len(self.out_shapes)))

    @property
    def args(self):
        return {}

    arguments = args

    def setup(self, *shapes):
        pf = self._pyfunc
        fname = _type_name(pf)
        if not isinstance(fname, str):
            raise TypeError(f"{type(pf).__name__}: name must be a str, got "
                            f"{type(fname).__name__} {fname!r}")
        least = pf.min_outputs()
        if not isinstance(least, (int, np.integer)) or least < 1:
            raise ValueError(f"{fname}: min_outputs() must return an int >= 1, got {least!r}")
        n = least if self._n_outputs is None or self._n_outputs < 0 else self._n_outputs
        if n < least:
            raise ValueError(f"{fname}: needs at least {least} outputs (min_outputs()), "
                             f"but n_outputs={n} was given")
        ins = [UnsafeVariable(v._data, v._grad) for v in self.inputs]
        outs = [UnsafeVariable(NdArray(()), NdArray(())) for _ in range(n)]
        pf.setup_impl(ins, outs)
        shapes = [o.shape for o in outs]
        return shapes if n > 1 else shapes[0]

    def forward(self, xp, *xs):
        ins = [UnsafeVariable(_own(v, x), _nd(None, x.shape, _grad_dtype(x)))
               for v, x in zip(self.inputs, xs)]
        outs = [UnsafeVariable(_nd(None, s), _nd(None, s))
                for s in self.out_shapes]
        self._pyfunc.forward_impl(ins, outs)
        # Outputs in the inputs' floating-point type (float32 when all are integers,
        # as NNabla's): int64 * 2 + float32 inputs is float64 in NumPy.
        floats = [x.dtype for x in xs if x.dtype.kind == "f"]
        dtype = np.result_type(*floats) if floats else np.dtype(np.float32)
        ys = []
        for i, (o, want) in enumerate(zip(outs, self.out_shapes)):
            if o.shape != tuple(want):
                raise ValueError(f"{_type_name(self._pyfunc)}.forward_impl: output {i} has shape "
                                 f"{o.shape}, but setup_impl gave {tuple(want)}")
            y = o.data._on(xp)
            ys.append(y if y.dtype == dtype else y.astype(dtype))
        return ys if len(ys) > 1 else ys[0]

    def backward(self, xp, xs, ys, gys):
        ins = [UnsafeVariable(_own(v, x), _nd(None, x.shape, _grad_dtype(x)))
               for v, x in zip(self.inputs, xs)]
        outs = [UnsafeVariable(_own(y, a) if a is not None else _nd(None, s), _nd(g))
                for y, a, s, g in zip(self.outputs, ys, self.out_shapes, gys)]
        need = [bool(n) for n in self.need]
        self._pyfunc.backward_impl(ins, outs, need, [False] * len(ins))
        return [v.grad._on(xp) if n and v.grad._arr is not None else None
                for v, n in zip(ins, need)]
