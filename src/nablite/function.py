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
import os
import weakref

import numpy as np

from . import context as _context
from . import graph
from ._array import F32_DTYPE as _F32_DTYPE, NdArray
from .backend import module_for
from .function_info import (_CHECKS as _ARGUMENT_CHECKS, check_node, node_argument_error,
                            node_checks)
from .variable import Variable, as_variable


class _Info:
    """NNabla's ``f.info``: the type name and the arguments as .nnp files store them
    (function_info.py: NNabla's names, order and types)."""
    __slots__ = ("args", "type_name")

    def __init__(self, args, type_name):
        self.args = args
        self.type_name = type_name


def into_outputs(name, result, outputs):
    """NNabla's ``outputs=[NdArray, ...]`` of every F function: each result lands
    in the given array (an NdArray result is copied into it; a graph output
    computes into it from then on, as ``y.data``); returns the result."""
    if outputs is None:
        return result
    results = result if isinstance(result, tuple) else (result,)
    outputs = list(outputs)
    if len(outputs) > len(results):
        raise ValueError(f"{name}: outputs has {len(outputs)} arrays; the function gives "
                         f"{len(results)} outputs")
    for k, (r, o) in enumerate(zip(results, outputs)):
        if not isinstance(o, NdArray):
            raise TypeError(f"{name}: outputs[{k}] must be an NdArray, got {type(o).__name__}")
        if tuple(o.shape) != tuple(r.shape):
            raise ValueError(f"{name}: outputs[{k}] has shape {tuple(o.shape)}; output {k} "
                             f"has shape {tuple(r.shape)}")
        if isinstance(r, NdArray):
            o.data = r.data
        else:
            if r._data._arr is not None:  # computed already (auto_forward)
                o.data = r._data.data
            r.data = o
    return result


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
    # False where NNabla has no float16 kernel (softmax & co.): in a 'half' context
    # such a function reads float32 copies of its inputs and gives float32 results;
    # None where NNabla passes the input's dtype on there (reshape, identity)
    half_kernel = True
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
    # Whether running forward again gives the same outputs and changes nothing
    # (nn.recompute): False for random draws and for forwards that update state
    # (running statistics, counters). Outputs of such functions are kept rather
    # than recomputed (Variable creation and the ``recompute`` setter read it).
    recomputable = True
    # Input positions forward writes in place (running statistics, quantized
    # weights): where the function computes in a cast copy (_in_float, _in_half),
    # what it wrote there must reach the stored array.
    writes_inputs = ()
    # Whether clearing never frees this function's inputs (NNabla's "prohibit
    # clear input buffers": F.sink's inputs are what the script reads after).
    keeps_inputs = False
    # Input positions whose integer values the function uses as they are
    # (labels, indices, integer arithmetic); True: every input. NNabla reads any
    # other input as floating point, so an integer or bool array there is
    # computed as float32 (see _check_input_dtypes).
    integer_inputs = ()

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
        single = True  # every input float32 (or not allocated yet)
        for x in inputs:
            if isinstance(x, Variable):
                vs.append(x)
            else:
                if isinstance(x, NdArray):
                    immediate = True
                elif x is None:
                    raise TypeError(f"{self.name}: input {len(vs)} is None; expected a "
                                    "Variable (or an NdArray / numpy array)")
                x = as_variable(x, self.name)
                vs.append(x)
            nd = x._data
            nd._read = True
            arr = nd._arr
            if arr is not None:
                if arr.dtype is not _F32_DTYPE:
                    single = False
            elif nd._dtype is not np.float32:
                single = False  # a static graph's output known to hold another dtype
        self.inputs = vs
        if not single:
            self._check_input_dtypes(_context._current)
        # The arguments' kinds (function_info's table, precomputed per type): a
        # value of the wrong kind is refused before forward, so NumPy never meets
        # it, and after setup, so that a type's own checks of it speak first.
        checks = _ARGUMENT_CHECKS.get(type(self))
        if checks is None:
            checks = node_checks(type(self))
        wrong = check_node(self, checks) if checks else None
        try:
            out = self.setup(*[v.shape for v in vs])
        except _ARRAY_ERRORS as e:  # an argument setup could not use: name the function
            named = named_error(e)
            if named is e:
                raise
            raise named from e
        if wrong is not None:
            raise wrong
        shapes = out if isinstance(out, list) else [out]
        _check_output_sizes(self, shapes)
        self.out_shapes = shapes
        ctx = self.ctx = _context._current
        self.xp = module_for(ctx.backend_name)
        if ctx.half and not isinstance(self, _InHalf):
            cls = type(self)
            if cls.half_kernel is not None:  # None: the input's dtype passes on
                self.__class__ = _in_half(cls) if cls.half_kernel else _in_single(cls)
        need = False
        rank = 0
        for v in vs:
            need = need or v.need_grad
            r = v.rank
            if r > rank:
                rank = r
        self.rank = rank  # NNabla's: the deepest input's; its outputs are one deeper
        ys = [Variable._output(s, self, need) for s in shapes]
        if not single and self.integer_inputs is True:
            _integer_outputs(self, ys)
        self._outputs = [weakref.ref(y) for y in ys]
        if not (immediate or graph.auto_forward_enabled):
            _static_functions.add(self)
        if graph.recording is not None:  # nn.graph_def.graph() keeps what is built
            graph.recording.append((self, ys))
        if immediate or graph.auto_forward_enabled:
            try:
                graph.run_forward(self)
            except _ARRAY_ERRORS as e:
                named = named_error(e)
                if named is e:
                    raise
                raise named from e
            if graph.no_grad_enabled and not immediate:  # values only (nn.no_grad)
                for y in ys:
                    y._parent = None
                    y._need_grad = False
            if immediate:
                arrays = [y.data for y in ys]
                if outputs is not None:
                    for o, a in zip(outputs, arrays):
                        o.data = a.data
                    arrays = list(outputs)
                return arrays[0] if not isinstance(out, list) else tuple(arrays)
        result = ys[0] if not isinstance(out, list) else tuple(ys)
        return result if outputs is None else into_outputs(self.name, result, outputs)

    # -- input dtypes --------------------------------------------------------
    def _check_input_dtypes(self, ctx=None):
        """Refuse non-real inputs; compute integer inputs in float32 where NNabla
        does, and float64 (or float16) ones in float32 as NNabla's 'float'
        contexts do (not in nablite's 'double' ones, nor in 'half' ones, whose
        wrapper casts to float16). Runs when the graph is built in ``ctx`` (and
        when other values later arrive in an input, see integers_arrived), never
        per forward."""
        ctx = ctx or self.ctx
        narrow = not (ctx.double or ctx.half)
        keep = self.integer_inputs
        cast = False
        for i, v in enumerate(self.inputs):
            dtype = np.dtype(v._data.dtype)
            kind = dtype.kind
            if kind == "f":
                cast = cast or (narrow and dtype != _F32_DTYPE and keep is not True)
                continue
            if kind not in "biu":
                raise TypeError(f"{self.name}: input {i} has dtype {np.dtype(v._data.dtype)}; "
                                "expected real numbers (a bool, integer or floating-point "
                                "dtype)")
            if keep is not True and i not in keep:
                cast = True
        if cast and not isinstance(self, _InFloat):
            self.__class__ = _in_float(type(self))

    def _as_float(self, xs):
        """The inputs as this function computes them: float32 for integers it does
        not keep, and for other floats unless the context keeps their precision."""
        keep = self.integer_inputs
        if keep is True:  # (reshape, identity: NNabla passes any dtype on)
            return xs
        narrow = not (self.ctx.double or self.ctx.half)
        return [x if x is None or x.dtype == _F32_DTYPE or (
                    (not narrow) if x.dtype.kind == "f" else i in keep)
                else x.astype(np.float32) for i, x in enumerate(xs)]

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
        from .function_info import nnabla_args
        return _Info(nnabla_args(self), self.name)

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

    def __str__(self):  # print(y.parent) and hooks print the type name, as NNabla's
        return self.name


_ENGINE_FIELDS = {"inputs", "out_shapes", "ctx", "xp", "rank", "need"}


class _InFloat:
    """Marks a function with inputs computed as float32: integers it does not
    keep, and float64 or float16 arrays in a 'float' context."""


_in_float_classes = {}


def _computing_class(marker, cls, forward, backward):
    """``cls`` with its ``forward``/``backward`` replaced by wrappers computing in
    a cast copy, marked by ``marker`` (same name, so graph dumps and error
    messages do not change)."""
    return type(cls.__name__, (marker, cls), {
        "forward": forward, "backward": backward, "__module__": cls.__module__,
        "__qualname__": cls.__qualname__, "__doc__": cls.__doc__})


def _in_float(cls):
    """``cls`` with its integer data inputs cast to float32 in forward and backward
    (same name, so graph dumps and error messages do not change)."""
    sub = _in_float_classes.get(cls)
    if sub is None:
        def forward(self, xp, *xs):
            cast = self._as_float(xs)
            for i in self.writes_inputs:  # written in place: the stored array becomes
                if cast[i] is not xs[i]:  # the float32 one, as NNabla casts its arrays
                    nd = self.inputs[i]._data
                    nd._set(cast[i])
                    nd._dtype = _F32_DTYPE.type
            return cls.forward(self, xp, *cast)

        def backward(self, xp, xs, ys, gys):
            return cls.backward(self, xp, self._as_float(xs), ys, gys)

        sub = _in_float_classes[cls] = _computing_class(_InFloat, cls, forward, backward)
    return sub


class _InHalf:
    """Marks a function that computes in float16 (a 'half' context)."""


_in_half_classes = {}
_F16 = np.float16
# In a 'half' context float16 overflows are expected: loss scaling provokes them and
# finds them with check_inf_or_nan_grad; NNabla's kernels warn of none, nor do these.
def _quiet_overflow():
    return np.errstate(over="ignore", invalid="ignore")  # (one instance cannot re-enter)


def _half(a):
    return a if a is None or a.dtype.kind != "f" or a.dtype == _F16 else a.astype(_F16)


def _in_half(cls):
    """``cls`` computing in float16, as NNabla's functions do in a context of
    type_config 'half': float inputs (float32 parameters too) are read as float16,
    float outputs and gradients are float16; integer inputs (labels) are kept. The
    parameters themselves stay float32 (solvers update them in float32)."""
    sub = _in_half_classes.get(cls)
    if sub is None:
        def forward(self, xp, *xs):
            halves = [_half(x) for x in xs]
            with _quiet_overflow():
                ys = cls.forward(self, xp, *halves)
            for i in self.writes_inputs:  # written in place: into the stored (float32) array
                if halves[i] is not xs[i]:
                    xp.copyto(xs[i], halves[i], casting="unsafe")
            return tuple(_half(y) for y in ys) if isinstance(ys, (tuple, list)) else _half(ys)

        def backward(self, xp, xs, ys, gys):
            with _quiet_overflow():
                gxs = cls.backward(self, xp, [_half(x) for x in xs], [_half(y) for y in ys],
                                   [_half(g) for g in gys])
            return [_half(g) for g in gxs]

        sub = _in_half_classes[cls] = _computing_class(_InHalf, cls, forward, backward)
    return sub


class _InSingle(_InHalf):
    """Marks a function of a 'half' context that computes in float32 (half_kernel
    False), as NNabla falls back to its float32 kernel there."""


_in_single_classes = {}


def _single(a):
    return a if a is None or a.dtype.kind != "f" or a.dtype == _F32_DTYPE else a.astype(
        np.float32)


def _in_single(cls):
    """``cls`` in a 'half' context without a float16 kernel: float inputs and output
    gradients read as float32, float32 outputs and input gradients."""
    sub = _in_single_classes.get(cls)
    if sub is None:
        def forward(self, xp, *xs):
            with _quiet_overflow():
                return cls.forward(self, xp, *[_single(x) for x in xs])

        def backward(self, xp, xs, ys, gys):
            with _quiet_overflow():
                return cls.backward(self, xp, [_single(x) for x in xs], ys,
                                    [_single(g) for g in gys])

        sub = _in_single_classes[cls] = _computing_class(_InSingle, cls, forward, backward)
    return sub


def _integer_outputs(fn, ys):
    """The outputs of a function that keeps its inputs' dtype (reshape, identity)
    hold integers, or float64, when an input does: consumers built on them know it."""
    dtypes = [v._data.dtype for v in fn.inputs if np.dtype(v._data.dtype) != _F32_DTYPE]
    for y in ys:
        if y is not None and y._data._arr is None and dtypes:
            y._data._dtype = dtypes[0]


# The functions of static graphs, for integers_arrived (weak: graphs die as usual)
_static_functions = weakref.WeakSet()


def integers_arrived(nd):
    """Values of another kind (integers for floats, float64 for float32, ...)
    replaced the storage of ``nd`` after graphs reading it were built: those
    functions re-check their input dtypes, and the consumers of functions that
    pass integers on (reshape) too. Rare (once per input, the first time it gets
    such data), so a scan of the live functions of static graphs is affordable
    (functions already run under auto_forward do not run again). The scan is of a
    registry, not of gc.get_objects(): holding every object of the process broke
    tuples other threads were building (a DataIterator's prefetching)."""
    functions = list(_static_functions)
    pending, seen = [nd], set()
    while pending:
        nd = pending.pop()
        if id(nd) in seen:
            continue
        seen.add(id(nd))
        for f in functions:
            if not any(x._data is nd for x in f.inputs):
                continue
            if f.integer_inputs is True:
                ys = [y for y in f.outputs if y is not None]
                _integer_outputs(f, ys)
                pending.extend(y._data for y in ys)
            elif not isinstance(f, _InFloat):
                f._check_input_dtypes()


# What NumPy raises from inside a function's arrays (UFuncTypeError and AxisError
# are subclasses); such an error gets the name of the function it came from.
_ARRAY_ERRORS = (ValueError, TypeError, IndexError, ZeroDivisionError, FloatingPointError,
                 OverflowError, MemoryError)


def named_error(e):
    """``e`` itself if its message names the function that raised it, else a new
    exception of the same type saying ``"<Function>: <message>"``. The function
    is the innermost Function method in the traceback (forward or backward)."""
    fn = None
    tb = e.__traceback__
    while tb is not None:
        obj = tb.tb_frame.f_locals.get("self")
        if isinstance(obj, Function):
            fn = obj
        tb = tb.tb_next
    if fn is None:
        return e
    msg = str(e)
    if msg.startswith(fn.name):
        return e
    better = node_argument_error(fn)
    if better is not None:  # NumPy's message came from an argument of the wrong kind
        return better
    if isinstance(e, MemoryError):
        msg = (f"out of memory computing outputs of shapes "
               f"{', '.join(map(str, fn.out_shapes))} ({msg or 'MemoryError'})")
    return renamed(e, f"{fn.name}: {msg}")


def renamed(e, message):
    """An exception like ``e`` saying ``message``: of e's type, or of the nearest
    built-in type above it when e's type takes other arguments (NumPy's
    UFuncTypeError, AxisError)."""
    for cls in type(e).__mro__:
        try:
            return cls(message)
        except Exception:  # noqa: BLE001 - a constructor with other arguments
            continue
    return e


def _physical_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


_MEMORY = _physical_memory()


def _check_output_sizes(fn, shapes):
    """An output that could not fit in this machine's memory is refused when the
    graph is built, naming the function and the shape (not a bare MemoryError)."""
    if _MEMORY is None:
        return
    for s in shapes:
        n = 1
        for d in s:
            n *= d
        if n * 4 > _MEMORY // 2:  # the inputs' widest dtype decides, when it comes to it
            size = max([4] + [np.dtype(v._data.dtype).itemsize for v in fn.inputs])
            if n * size > _MEMORY:
                raise MemoryError(f"{fn.name}: an output of shape {tuple(s)} needs "
                                  f"{n * size / 2 ** 30:.3g} GiB, more than this machine's "
                                  f"{_MEMORY / 2 ** 30:.3g} GiB of memory")


class FunctionError(ValueError, RuntimeError):
    """A function refusing its inputs or arguments. A ValueError, and also a
    RuntimeError, which is what NNabla raises for the same checks (its C++
    functions'), so that the except clauses of either kind of script catch it."""


def require(fn, condition, message, exc=FunctionError):
    """Raise ``exc("<fn name>: message")`` unless ``condition`` holds."""
    if not condition:
        name = fn if isinstance(fn, str) else fn.name
        raise exc(f"{name}: {message}")


from .python_function import PythonFunction  # noqa: E402,F401  (needs Function above)
