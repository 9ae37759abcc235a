"""Logical: comparisons and logical operators (0/1 outputs), sign, elementwise
min/max, NaN/Inf handling, where and searchsorted.

Tests (comparisons, logical operators, isnan, isinf, searchsorted) return 0/1
(or indices) in the input's float dtype (float32 for non-float inputs), as
NNabla returns them in its float arrays. They have no gradient: NNabla raises
"not implemented" when a gradient is requested through them; nablite instead
propagates nothing (the derivative of a step is 0 almost everywhere), so a
script that runs on NNabla runs unchanged, and a mask built from a Variable
that needs a gradient, e.g. ``x * F.greater_scalar(x, 0)``, also works.
``where`` passes nothing to its condition either (NNabla gives it 0).

Gradient tie rules follow NNabla 1.39 (measured): ``minimum2``/``maximum2``
send a tie's gradient to x1; ``minimum_scalar``/``maximum_scalar`` give 0 to x
when x == val. ``sign`` passes its gradient straight through.
"""
from ..backend import stable_argsort
from .arithmetic import number
from .base import (_F, Binary, Function, Unary, binary, docstring, prod, public, require, unary,
                   named)

__all__ = ["sign", "minimum2", "maximum2", "minimum_scalar", "maximum_scalar", "logical_and",
           "logical_or", "logical_xor", "equal", "not_equal", "greater_equal", "greater",
           "less_equal", "less", "searchsorted", "logical_and_scalar", "logical_or_scalar",
           "logical_xor_scalar", "equal_scalar", "not_equal_scalar", "greater_equal_scalar",
           "greater_scalar", "less_equal_scalar", "less_scalar", "logical_not", "isnan",
           "isinf", "reset_nan", "reset_inf", "where"]


def _float_dtype(xp, *xs):
    """The float dtype the inputs share (float32 when none is float)."""
    floats = [x.dtype for x in xs if x.dtype.kind == "f"]
    return xp.result_type(*floats) if floats else xp.float32


class _UnaryTest(Unary):
    """An elementwise test of one input: 0/1 output, no gradient."""

    def forward(self, xp, x):
        return self.f(xp, x, **self._args).astype(_float_dtype(xp, x))

    def backward(self, xp, xs, ys, gys):
        return (None,)

    def grad_graph(self, need, xs, ys, gys):
        return [None]  # a constant for nn.grad too


class _BinaryTest(Binary):
    """An elementwise test of two broadcast inputs: 0/1 output, no gradient."""

    def forward(self, xp, x0, x1):
        return self.f(xp, x0, x1).astype(_float_dtype(xp, x0, x1))

    def backward(self, xp, xs, ys, gys):
        return None, None

    def grad_graph(self, need, xs, ys, gys):
        return [None, None]


def unary_test(name, test):
    return type(name, (_UnaryTest,), {"f": staticmethod(test), "__doc__": f"Elementwise {name} (0/1)."})


def binary_test(name, test):
    return type(name, (_BinaryTest,), {"f": staticmethod(test), "__doc__": f"Elementwise {name} (0/1)."})


def test_pair(name, test):
    """NNabla's test ``name`` of two inputs and its ``<name>Scalar`` form, from one
    ``test(xp, x, val)`` (the scalar form passes ``val`` by keyword)."""
    return binary_test(name, test), unary_test(name + "Scalar", test)


# NNabla types and test(xp, x, other) -> bool array
LogicalAnd, LogicalAndScalar = test_pair("LogicalAnd", lambda xp, x, val: xp.logical_and(x, val))
LogicalOr, LogicalOrScalar = test_pair("LogicalOr", lambda xp, x, val: xp.logical_or(x, val))
LogicalXor, LogicalXorScalar = test_pair("LogicalXor", lambda xp, x, val: xp.logical_xor(x, val))
Equal, EqualScalar = test_pair("Equal", lambda xp, x, val: x == val)
NotEqual, NotEqualScalar = test_pair("NotEqual", lambda xp, x, val: x != val)
GreaterEqual, GreaterEqualScalar = test_pair("GreaterEqual", lambda xp, x, val: x >= val)
Greater, GreaterScalar = test_pair("Greater", lambda xp, x, val: x > val)
LessEqual, LessEqualScalar = test_pair("LessEqual", lambda xp, x, val: x <= val)
Less, LessScalar = test_pair("Less", lambda xp, x, val: x < val)
LogicalNot = unary_test("LogicalNot",                 lambda xp, x: xp.logical_not(x))
IsNaN = unary_test("IsNaN",                           lambda xp, x: xp.isnan(x))
IsInf = unary_test("IsInf",                           lambda xp, x: xp.isinf(x))

#                  NNabla type  forward f(xp, x, ...)           vjp(xp, gy, x, y, ...): dL/dx
Sign = unary("Sign",            lambda xp, x, alpha: xp.where(x == 0, alpha, xp.sign(x)),
             lambda xp, g, x, y, alpha: g)
MinimumScalar = unary("MinimumScalar", lambda xp, x, val: xp.minimum(x, val),
                      lambda xp, g, x, y, val: g * (x < val),
                      graph=lambda F, g, x, y, val: g * F.less_scalar(x, val))
MaximumScalar = unary("MaximumScalar", lambda xp, x, val: xp.maximum(x, val),
                      lambda xp, g, x, y, val: g * (x > val),
                      graph=lambda F, g, x, y, val: g * F.greater_scalar(x, val))
ResetNaN = unary("ResetNaN",    lambda xp, x, val: xp.where(xp.isnan(x), val, x),
                 lambda xp, g, x, y, val: g * ~xp.isnan(x))
ResetInf = unary("ResetInf",    lambda xp, x, val: xp.where(xp.isinf(x), val, x),
                 lambda xp, g, x, y, val: g * ~xp.isinf(x))

#                    NNabla type  forward                       dL/dx0                       dL/dx1 (gets ties)
Minimum2 = binary("Minimum2", lambda xp, a, b: xp.minimum(a, b),
                  lambda xp, g, a, b, y: g * (a < b), lambda xp, g, a, b, y: g * (a >= b),
                  graph=(lambda F, g, a, b, y: g * F.less(a, b),
                         lambda F, g, a, b, y: g * F.greater_equal(a, b)))
Maximum2 = binary("Maximum2", lambda xp, a, b: xp.maximum(a, b),
                  lambda xp, g, a, b, y: g * (a > b), lambda xp, g, a, b, y: g * (a <= b),
                  graph=(lambda F, g, a, b, y: g * F.greater(a, b),
                         lambda F, g, a, b, y: g * F.less_equal(a, b)))


class Where(Function):
    """x_true where condition is non-zero, else x_false.

    As in NNabla, condition's shape must be the leading dimensions of x_true's
    (it is broadcast over the trailing ones), and x_true and x_false must share
    one shape.
    """

    def setup(self, condition, x_true, x_false):
        require(self, x_true == x_false,
                f"x_true {x_true} and x_false {x_false} must have the same shape")
        require(self, x_true[:len(condition)] == condition,
                f"condition {condition} must equal the leading dimensions of "
                f"x_true {x_true}")
        return x_true

    @staticmethod
    def _mask(condition, x):
        return (condition != 0).reshape(condition.shape + (1,) * (x.ndim - condition.ndim))

    def forward(self, xp, condition, x_true, x_false):
        return xp.where(self._mask(condition, x_true), x_true, x_false)

    def backward(self, xp, xs, ys, gys):
        condition, x_true, _ = xs
        gy = gys[0]
        mask = self._mask(condition, x_true)
        return (None, gy * mask if self.need[1] else None,
                gy * ~mask if self.need[2] else None)

    def grad_graph(self, need, xs, ys, gys):
        # Linear in x_true and x_false: their gradients select gy by the same
        # condition (and where's gradient selects again); the condition gets none.
        F = _F()
        condition, gy = xs[0], gys[0]
        zero = F.constant(0, gy.shape)
        return [None, F.where(condition, gy, zero) if need[1] else None,
                F.where(condition, zero, gy) if need[2] else None]


class SearchSorted(Function):
    """Indices at which ``values`` would be inserted into ``sorted_sequence``
    along the last axis (leading axes are a batch of independent rows)."""

    def __init__(self, right):
        self.right = right

    def setup(self, seq, values):
        require(self, len(seq) >= 1 and len(values) >= 1,
                f"sorted_sequence {seq} and values {values} must have at least 1 dimension")
        require(self, len(seq) == len(values) and seq[:-1] == values[:-1],
                f"sorted_sequence {seq} and values {values} must have the same shape "
                "except in the last axis")
        return values

    def forward(self, xp, seq, values):
        side = "right" if self.right else "left"
        dtype = _float_dtype(xp, values)
        if seq.ndim == 1:
            return xp.searchsorted(seq, values, side=side).astype(dtype)
        n, m = seq.shape[-1], values.shape[-1]
        rows = prod(seq.shape[:-1])
        # All rows at once: stable-sort each row of sequence and values together;
        # for side=left the values come first, so they sort before equal entries.
        # A value's index is the number of sequence entries sorted before it.
        parts = [values.reshape(rows, m), seq.reshape(rows, n)]
        if self.right:
            parts.reverse()
        order = stable_argsort(xp, xp.concatenate(parts, axis=1), 1)
        from_seq = order >= m if not self.right else order < n
        before = xp.cumsum(from_seq, axis=1) - from_seq
        at = xp.empty_like(before)
        at[xp.arange(rows)[:, None], order] = before
        found = at[:, :m] if not self.right else at[:, n:]
        return found.reshape(values.shape).astype(dtype)

    def backward(self, xp, xs, ys, gys):
        return None, None


# -- the public functions: one row each where a family shares its words ------

def _binary_test(name, cls, says):
    return public(name, lambda x0, x1: cls()(x0, x1), docstring(
        f"Elementwise {says}, as 0/1 (broadcasting).",
        ["x0 (Variable): Input.", "x1 (Variable): Input."],
        "Variable: 0/1 values, the broadcast shape."))


def _scalar_test(name, cls, says):
    doc = docstring(f"Elementwise {says}, as 0/1.",
                    ["x0 (Variable): Input.", "val (float): The scalar operand."],
                    "Variable: 0/1 values, same shape.")
    return public(name, lambda x0, val=1: cls(val=number(val))(x0), doc)


def _logical_scalar(name, cls, op):
    return public(name, lambda x0, val: cls(val=bool(val))(x0), docstring(
        f"Elementwise (x0 != 0) {op} val, as 0/1.",
        ["x0 (Variable): Input.", "val (bool): The scalar operand."],
        "Variable: 0/1 values, same shape."))


def _unary_test(name, cls, says):
    return public(name, lambda x0: cls()(x0),
                  docstring(says, ["x0 (Variable): Input."], "Variable: 0/1 values, same shape."))


def _extremum2(name, cls, says):
    return public(name, lambda x0, x1: cls()(x0, x1), docstring(
        f"Elementwise {says}, with broadcasting (ties send the gradient to x1).",
        ["x0 (Variable): Input.", "x1 (Variable): Input."],
        "Variable: the broadcast shape of x0 and x1."))


def _extremum_scalar(name, cls, says, val):
    doc = docstring(f"{says}, else 0.", ["x (Variable): Input.", f"val (float): {val}"],
                    "Variable: same shape.")
    return public(name, lambda x, val=1.0: cls(val=number(val))(x), doc)


def _reset(name, cls, which):
    doc = docstring(
        f"Replace {which} entries by ``val`` (their gradient is 0, others pass through).",
        ["x0 (Variable): Input.", "val (float): Replacement value."], "Variable: same shape.")
    return public(name, lambda x0, val=0: cls(val=number(val))(x0), doc)


#                            public name     node          what it tests
logical_and = _binary_test("logical_and",     LogicalAnd,   "AND of x0 != 0 and x1 != 0")
logical_or = _binary_test("logical_or",       LogicalOr,    "OR of x0 != 0 and x1 != 0")
logical_xor = _binary_test("logical_xor",     LogicalXor,   "XOR of x0 != 0 and x1 != 0")
equal = _binary_test("equal",                 Equal,        "x0 == x1")
not_equal = _binary_test("not_equal",         NotEqual,     "x0 != x1")
greater_equal = _binary_test("greater_equal", GreaterEqual, "x0 >= x1")
greater = _binary_test("greater",             Greater,      "x0 > x1")
less_equal = _binary_test("less_equal",       LessEqual,    "x0 <= x1")
less = _binary_test("less",                   Less,         "x0 < x1")

equal_scalar = _scalar_test("equal_scalar",                 EqualScalar,        "x0 == val")
not_equal_scalar = _scalar_test("not_equal_scalar",         NotEqualScalar,     "x0 != val")
greater_equal_scalar = _scalar_test("greater_equal_scalar", GreaterEqualScalar, "x0 >= val")
greater_scalar = _scalar_test("greater_scalar",             GreaterScalar,      "x0 > val")
less_equal_scalar = _scalar_test("less_equal_scalar",       LessEqualScalar,    "x0 <= val")
less_scalar = _scalar_test("less_scalar",                   LessScalar,         "x0 < val")
logical_and_scalar = _logical_scalar("logical_and_scalar", LogicalAndScalar, "AND")
logical_or_scalar = _logical_scalar("logical_or_scalar",   LogicalOrScalar,  "OR")
logical_xor_scalar = _logical_scalar("logical_xor_scalar", LogicalXorScalar, "XOR")

logical_not = _unary_test("logical_not", LogicalNot, "Elementwise NOT (x0 == 0), as 0/1.")
isnan = _unary_test("isnan",             IsNaN,      "1 where x0 is NaN, else 0.")
isinf = _unary_test("isinf",             IsInf,      "1 where x0 is +inf or -inf, else 0.")

minimum2 = _extremum2("minimum2", Minimum2, "minimum, y = min(x0, x1)")
maximum2 = _extremum2("maximum2", Maximum2, "maximum, y = max(x0, x1)")
minimum_scalar = _extremum_scalar("minimum_scalar", MinimumScalar,
                                  "y = min(x, val); the gradient is 1 where x < val", "The cap.")
maximum_scalar = _extremum_scalar("maximum_scalar", MaximumScalar,
                                  "y = max(x, val); the gradient is 1 where x > val", "The floor.")
reset_nan = _reset("reset_nan", ResetNaN, "NaN")
reset_inf = _reset("reset_inf", ResetInf, "+inf and -inf")

sign = public("sign", lambda x, alpha=1.0: Sign(alpha=number(alpha))(x),
              docstring("Sign of x: +1 for x > 0, -1 for x < 0, ``alpha`` at x = 0.",
                        ["x (Variable): Input.", "alpha (float): Value output where x == 0."],
                        "Variable: same shape.", notes="The backward is the identity "
                        "(straight-through estimator), as in NNabla."))


@named
def searchsorted(sorted_sequence, values, right=None):
    """Insertion indices of ``values`` into ``sorted_sequence`` along the last axis.

    Leading axes are a batch: row i of values is searched in row i of the sequence.

    Args:
        sorted_sequence (Variable): Shape (..., N), sorted ascending along the last axis.
        values (Variable): Shape (..., M), the same leading axes.
        right (bool): False/None: the first index i with values <= sequence[i]
            (side='left'); True: the first index with values < sequence[i].

    Returns:
        Variable: indices (as float values) of values' shape.
    """
    return SearchSorted(bool(right))(sorted_sequence, values)


@named
def where(condition, x_true, x_false):
    """Select x_true where condition != 0, else x_false.

    Args:
        condition (Variable): Its shape is the leading dimensions of x_true's
            shape; it is broadcast over the remaining ones.
        x_true (Variable): Values taken where the condition holds.
        x_false (Variable): Values taken elsewhere; same shape as x_true.

    Returns:
        Variable: x_true's shape. Gradients flow to the selected input;
        condition gets none.
    """
    return Where()(condition, x_true, x_false)
