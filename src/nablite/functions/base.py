"""Shared machinery for the function families: elementwise tables and helpers.

Most NNabla functions are elementwise. Their math is stated once as a row:
a forward formula and a vector-Jacobian product (the gradient of the input
given the output gradient ``gy``). ``Unary`` and ``Binary`` hold the chain rule
and broadcasting, so a row is all a new elementwise function needs.

The public functions of a family that differs only in its node and its words
are rows too (``public``, ``unary_public``, with ``docstring``), and a Function
keeps its constructor arguments with ``keep_args``.
"""
import functools
import re
import sys

import numpy as np

from ..grad import sum_to as _sum_to_graph, vmath as _vmath
from ..function import Function, into_outputs, renamed, require
from ..function_info import public_argument_error, public_type

__all__ = ["Function", "require", "named", "public", "unary_public", "docstring", "keep_args",
           "Unary", "Binary", "unary", "binary", "sum_to", "contiguous", "broadcast_shape",
           "normalize_axes", "prod", "sum_rows", "sum_cols", "node_constant"]


_NAMED = re.compile(r"[A-Za-z_][\w.]*(\(\S*\))?: ")  # "Affine: ...", "F.slice: ..."
# What a public function's own argument handling raises from Python or NumPy for
# an argument of the wrong kind (None for a Variable, a string for a number).
_ARGUMENT_ERRORS = (TypeError, ValueError, IndexError, AttributeError, KeyError,
                    ZeroDivisionError, OverflowError)


def _raw(e, msg):
    """Whether ``msg`` is Python's or NumPy's own: it names no function, or the
    engine only put a function's name in front of it (function.named_error)."""
    if not _NAMED.match(msg):
        return True
    cause = e.__cause__
    return cause is not None and msg == f"{msg.split(':', 1)[0]}: {cause}"


def named(f):
    """Decorator of a public F function: an error that its own argument handling
    raises before a Function node exists (``float(alpha)`` of None, ``x.shape``
    of None, ``list(pad_width)`` of an int) says the function's name, as every
    error of a Function's setup, forward and backward does (function.py). An
    AttributeError there means an input of the wrong type: it becomes a TypeError."""
    name = f.__name__

    @functools.wraps(f)
    def public(*args, **kwargs):
        if kwargs and "outputs" in kwargs and "outputs" not in _own_parameters(f):
            outputs = kwargs.pop("outputs")
            return into_outputs(name, public(*args, **kwargs), outputs)
        try:
            return f(*args, **kwargs)
        except _ARGUMENT_ERRORS as e:
            msg = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
            # Python's or NumPy's own message, or an inner function's that may name
            # an argument the user did not pass: an argument of the wrong kind says so
            if not _raw(e, msg) and msg.split(":", 1)[0] in (name, public_type(name)):
                raise
            better = public_argument_error(name, args, kwargs)
            if better is not None:
                raise better from e
            if _NAMED.match(msg):
                raise
            if isinstance(e, AttributeError):
                err = TypeError(f"{name}: an argument has the wrong type ({msg})")
            else:
                err = renamed(e, f"{name}: {msg}")
            raise err from e
    return public


@functools.lru_cache(maxsize=None)
def _own_parameters(f):
    import inspect
    return frozenset(inspect.signature(f).parameters)


def public(name, call, doc, module=None):
    """A public F function made from a table row, for families of functions that
    differ only in their node and words: ``call`` is a lambda with NNabla's
    parameter names and defaults that builds and applies the node, ``doc`` the
    docstring (see ``docstring``). The function is @named; inspect.signature
    (and tools/make_stubs.py) read the lambda's parameters through __wrapped__;
    ``module`` is the family's module where the lambda is made elsewhere."""
    call.__name__ = call.__qualname__ = name
    call.__doc__ = doc
    if module is not None:
        call.__module__ = module
    return named(call)


def docstring(summary, args, returns, notes=""):
    """A docstring in the layout of the hand-written ones: the summary line, an
    optional paragraph, ``Args:`` (lines "name (type): text") and ``Returns:``."""
    lines = [summary, ""] + ([notes, ""] if notes else []) + ["Args:"]
    lines += ["    " + a for a in args] + ["", "Returns:", "    " + returns, ""]
    return "\n".join(lines)


def unary_public(name, cls, summary, returns=None, x="Input.", notes=""):
    """A public ``name(x)`` applying the argument-less node ``cls``, documented by
    ``summary``, ``notes``, what ``x`` is and what it ``returns`` (by default
    "name(x), same shape")."""
    returns = returns or f"Variable: {name}(x), same shape."
    doc = docstring(summary, [f"x (Variable): {x}"], returns, notes)
    module = sys._getframe(1).f_globals["__name__"]  # the family's module, as namedtuple does
    return public(name, lambda x: cls()(x), doc, module)


def keep_args(fn, args, private=()):
    """Keep a Function's constructor arguments as its attributes, where
    ``Function.args`` and the .nnp writer read them: ``keep_args(self, locals())``
    in ``__init__``. Names in ``private`` are kept as ``_name`` (switches that
    nablite reads but NNabla does not store as arguments). Function.__call__
    checks the kept arguments against their kinds in function_info's table, once
    per node, so a constructor need not check kinds itself."""
    for k, v in args.items():
        if k != "self" and k != "__class__":
            setattr(fn, "_" + k if k in private else k, v)


def prod(shape):
    p = 1
    for s in shape:
        p *= s
    return p


def contiguous(xp, a):
    """``a`` as a C-contiguous array (a copy only if it is not); unlike
    ``xp.ascontiguousarray``, a 0-d array stays 0-d."""
    return a if a.flags.c_contiguous else a.copy()


def sum_to(xp, g, shape):
    """Sum ``g`` over the axes that broadcasting expanded, giving ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1)
    g = g.sum(axis=axes, keepdims=True) if axes else g
    return g.reshape(shape)


def node_constant(fn, xp, key, make):
    """``make()`` -- the constant arrays of ``xp`` that ``fn``'s forward or backward
    reads (index maps, windows, masks, fill values), built on the host and moved
    with ``xp.asarray`` -- made once per node, array module and ``key``, so that a
    device forward copies nothing from the host after its first (on NumPy the move
    is no copy). Kept in ``fn._constants``; a setup() that changes what they are
    made from starts it afresh (``self._constants = {}``), as a graph's copy of a
    node shares its dict until its own setup."""
    cache = fn.__dict__.get("_constants")
    if cache is None:
        cache = fn._constants = {}
    k = (xp, key)
    v = cache.get(k)
    if v is None:
        v = cache[k] = make()
    return v


_ones = {}


def _ones_vector(xp, n, dtype):
    key = (xp.__name__, n, dtype)
    v = _ones.get(key)
    if v is None:
        v = _ones[key] = xp.ones(n, dtype)
    return v


# For the small matrices of the tutorial's models, a BLAS product with a ones
# vector sums a matrix's rows or columns about 3x faster than ufunc.reduce.
def sum_rows(xp, a, keepdims=False):
    """a (m, n) -> (m,) (or (m, 1) with keepdims): the sum of each row."""
    if a.dtype.kind == "f" and a.shape[1] <= 4096:
        ones = _ones_vector(xp, a.shape[1], a.dtype)
        return xp.dot(a, ones[:, None] if keepdims else ones)
    return xp.add.reduce(a, axis=1, keepdims=keepdims)


def sum_cols(xp, a):
    """a (m, n) -> (n,): the sum of each column."""
    if a.dtype.kind == "f" and a.shape[0] <= 4096:
        return xp.dot(_ones_vector(xp, a.shape[0], a.dtype), a)
    return xp.add.reduce(a, axis=0)


def broadcast_shape(fn, *shapes):
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError(f"{fn.name}: input shapes {', '.join(map(str, shapes))} "
                         "cannot be broadcast together") from None


def normalize_axes(fn, axes, ndim, arg="axis"):
    """A tuple of non-negative axes; None means all axes. Errors name ``fn``."""
    if axes is None:
        return tuple(range(ndim))
    single = isinstance(axes, (int, np.integer, float, np.floating))
    try:
        seq = (axes,) if single else tuple(axes)
    except TypeError:
        seq = None
    require(fn, seq is not None and not isinstance(axes, (str, bytes)),
            f"{arg}={axes!r}: expected an int or a sequence of ints", TypeError)
    out = []
    for a in seq:
        if isinstance(a, (float, np.floating)) and float(a).is_integer():
            a = int(a)  # NNabla accepts 1.0 for 1
        require(fn, isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)),
                f"{arg}={axes!r}: axes must be integers, got {type(a).__name__}", TypeError)
        require(fn, -ndim <= a < max(ndim, 1),
                f"{arg}={axes!r} is out of range for an input of {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    require(fn, len(set(out)) == len(out), f"{arg}={axes!r} repeats an axis")
    return tuple(out)


def _real_arguments(fn, args):
    for k, v in args.items():
        if isinstance(v, (complex, np.complexfloating)):
            raise TypeError(f"{fn.name}: {k}={v!r} must be a real number")


class _Elementwise(Function):
    """A table row's function: its keyword arguments are its attributes and are
    passed on to the row's formulas."""

    def __init__(self, **args):
        _real_arguments(self, args)
        self.__dict__.update(args)
        self._args = args


class Unary(_Elementwise):
    """Elementwise ``y = f(x)``; ``vjp(xp, gy, x, y, **args)`` gives dL/dx."""

    def forward(self, xp, x):
        return self.f(xp, x, **self._args)

    def backward(self, xp, xs, ys, gys):
        return (self.vjp(xp, gys[0], xs[0], ys[0], **self._args),)

    vjp_graph = None

    def grad_graph(self, need, xs, ys, gys):
        # The row's graph formula, else its vjp on Variables (xp -> F); a vjp that
        # compares values (a mask) has no graph form and falls back to the array
        # backward (first order only).
        if self.vjp_graph is not None:
            return [self.vjp_graph(_F(), gys[0], xs[0], ys[0], **self._args)]
        try:
            return [self.vjp(_vmath, gys[0], xs[0], ys[0], **self._args)]
        except (TypeError, AttributeError):
            return None


def _F():
    from .. import functions
    return functions


def unary(name, f, vjp, doc="", reads="xy", graph=None):
    """A named ``Unary`` subclass for one table row (the class name is NNabla's type).
    ``reads``: which values ``vjp`` uses, "x" (input) and/or "y" (output).
    ``graph(F, gy, x, y, ...)``: the vjp with F functions on Variables, for rows
    whose ``vjp`` compares values (nn.grad differentiates it again)."""
    return type(name, (Unary,), {"f": staticmethod(f), "vjp": staticmethod(vjp),
                                 "vjp_graph": None if graph is None else staticmethod(graph),
                                 "grad_reads_inputs": "x" in reads,
                                 "grad_reads_outputs": "y" in reads,
                                 "__doc__": doc or f"Elementwise {name}."})


class Binary(_Elementwise):
    """Elementwise ``y = f(x0, x1)`` with numpy broadcasting.

    ``vjp0``/``vjp1`` give the gradients at the broadcast shape; the base sums
    them back to each input's shape.
    """

    def setup(self, a, b):
        return broadcast_shape(self, a, b)

    def forward(self, xp, x0, x1):
        return self.f(xp, x0, x1, **self._args)

    def backward(self, xp, xs, ys, gys):
        x0, x1 = xs
        gy, y = gys[0], ys[0]
        n0, n1 = self.need
        g0 = sum_to(xp, self.vjp0(xp, gy, x0, x1, y, **self._args), x0.shape) if n0 else None
        g1 = sum_to(xp, self.vjp1(xp, gy, x0, x1, y, **self._args), x1.shape) if n1 else None
        return g0, g1

    vjp_graph = None

    def grad_graph(self, need, xs, ys, gys):
        (x0, x1), gy, y = xs, gys[0], ys[0]
        if self.vjp_graph is not None:  # (vjp0, vjp1) on Variables, with F
            v0, v1 = self.vjp_graph
            m, args = _F(), self._args
        else:
            v0, v1, m, args = self.vjp0, self.vjp1, _vmath, self._args
        try:
            return [_sum_to_graph(v0(m, gy, x0, x1, y, **args), x0.shape) if need[0] else None,
                    _sum_to_graph(v1(m, gy, x0, x1, y, **args), x1.shape) if need[1] else None]
        except (TypeError, AttributeError):
            return None


def binary(name, f, vjp0, vjp1, doc="", reads="xy", graph=None):
    """A named ``Binary`` subclass for one table row; ``reads`` as for ``unary``
    ("x": either input); ``graph``: (vjp0, vjp1) with F on Variables."""
    return type(name, (Binary,), {"f": staticmethod(f), "vjp0": staticmethod(vjp0),
                                  "vjp_graph": graph,
                                  "vjp1": staticmethod(vjp1),
                                  "grad_reads_inputs": "x" in reads,
                                  "grad_reads_outputs": "y" in reads,
                                  "__doc__": doc or f"Elementwise {name}."})
