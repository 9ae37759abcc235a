"""Arithmetic: two-input, n-input and scalar forms of + - * / **, and the integer
ops mod2 and bit_shift.

mod2 and bit_shift have no gradient (NNabla 1.39 raises when asked; nablite
passes nothing, as for logical ops).
"""
import numbers

import numpy as np

from .base import Function, Unary, Binary, binary, broadcast_shape, unary, require, named

__all__ = ["add2", "sub2", "mul2", "div2", "pow2", "add_n", "mul_n", "bc_add2", "add_scalar",
           "mul_scalar", "pow_scalar", "r_sub_scalar", "r_div_scalar", "r_pow_scalar", "mod2",
           "bit_shift"]

#             NNabla type  forward                       dL/dx0                     dL/dx1
Add2 = binary("Add2", lambda xp, a, b: a + b,           lambda xp, g, a, b, y: g,  lambda xp, g, a, b, y: g, reads="")
BcAdd2 = binary("BcAdd2", lambda xp, a, b: a + b,       lambda xp, g, a, b, y: g,  lambda xp, g, a, b, y: g, reads="")
Sub2 = binary("Sub2", lambda xp, a, b: a - b,           lambda xp, g, a, b, y: g,  lambda xp, g, a, b, y: -g, reads="")
Mul2 = binary("Mul2", lambda xp, a, b: a * b,           lambda xp, g, a, b, y: g * b, lambda xp, g, a, b, y: g * a, reads="x")
Div2 = binary("Div2", lambda xp, a, b: a / b,           lambda xp, g, a, b, y: g / b, lambda xp, g, a, b, y: -g * y / b)
Pow2 = binary("Pow2", lambda xp, a, b: a ** b,
              lambda xp, g, a, b, y: g * b * a ** (b - 1),
              lambda xp, g, a, b, y: g * y * xp.log(xp.where(a > 0, a, 1)),
              graph=(lambda F, g, a, b, y: g * b * a ** (b - 1),
                     lambda F, g, a, b, y: g * y * F.log(a)))  # nn.grad: for a > 0

#                 NNabla type     forward                     dL/dx
AddScalar = unary("AddScalar",   lambda xp, x, val: x + val,   lambda xp, g, x, y, val: g, reads="")
MulScalar = unary("MulScalar",   lambda xp, x, val: x * val,   lambda xp, g, x, y, val: g * val, reads="")
PowScalar = unary("PowScalar",   lambda xp, x, val: x ** val,  lambda xp, g, x, y, val: g * val * x ** (val - 1))
RSubScalar = unary("RSubScalar", lambda xp, x, val: val - x,   lambda xp, g, x, y, val: -g, reads="")
RDivScalar = unary("RDivScalar", lambda xp, x, val: val / x,   lambda xp, g, x, y, val: -g * y / x)
RPowScalar = unary("RPowScalar", lambda xp, x, val: val ** x,
                   lambda xp, g, x, y, val: g * y * xp.log(val))


def number(value):
    """A scalar argument as a Python float where it is a number: a Python or NumPy
    number, or an array of one element (NNabla takes ``alpha=np.array([0.1])`` as
    0.1; a NumPy float64 kept as it is would make float32 results float64).
    Anything else is passed on as it is, for the node's argument check
    (function_info) to refuse in its words."""
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # an array or a NumPy scalar
        if value.size != 1 or value.dtype.kind not in "biuf":
            return value
        value = value.reshape(()).item()
    return float(value) if isinstance(value, numbers.Real) else value


class AddN(Function):
    """Sum of any number of same-shape inputs."""

    def setup(self, *shapes):
        require(self, len(shapes) >= 1, "needs at least one input")
        for s in shapes[1:]:
            require(self, s == shapes[0], f"all inputs must have shape {shapes[0]}, got {s}")
        return shapes[0]

    def forward(self, xp, *xs):
        y = xs[0].copy()
        for x in xs[1:]:
            y += x
        return y

    def backward(self, xp, xs, ys, gys):
        return tuple(gys[0] for _ in xs)

    def grad_graph(self, need, xs, ys, gys):
        return [gys[0] if n else None for n in need]  # (MulN states its own)


class MulN(AddN):
    """Product of any number of same-shape inputs."""

    def forward(self, xp, *xs):
        y = xs[0].copy()
        for x in xs[1:]:
            y *= x
        return y

    def backward(self, xp, xs, ys, gys):
        grads = []
        for i in range(len(xs)):
            g = gys[0]
            for j, x in enumerate(xs):
                if j != i:
                    g = g * x
            grads.append(g)
        return tuple(grads)

    def grad_graph(self, need, xs, ys, gys):
        # gy times the product of the other inputs, in backward's order
        from . import mul_n
        grads = []
        for i, n in enumerate(need):
            others = xs[:i] + xs[i + 1:]
            grads.append(None if not n else mul_n(gys[0], *others) if others else gys[0])
        return grads


def _kept_inplace(f):
    """``f`` remembering inplace=True for its info.args (and .nnp files), as NNabla's
    node does; the result is computed out of place all the same. Only set when
    True (info reads a missing inplace as False), so the usual call costs nothing."""
    f.inplace = True
    return f


@named
def add2(x0, x1, inplace=False):
    """Elementwise addition with broadcasting: y = x0 + x1."""
    return (Add2() if not inplace else _kept_inplace(Add2()))(x0, x1)


@named
def bc_add2(x0, x1, inplace=False):
    """Broadcasting addition (NNabla's legacy BcAdd2): y = x0 + x1."""
    return (BcAdd2() if not inplace else _kept_inplace(BcAdd2()))(x0, x1)


@named
def sub2(x0, x1, inplace=False):
    """Elementwise subtraction with broadcasting: y = x0 - x1."""
    return (Sub2() if not inplace else _kept_inplace(Sub2()))(x0, x1)


@named
def mul2(x0, x1, inplace=False):
    """Elementwise multiplication with broadcasting: y = x0 * x1."""
    return (Mul2() if not inplace else _kept_inplace(Mul2()))(x0, x1)


@named
def div2(x0, x1, inplace=False):
    """Elementwise division with broadcasting: y = x0 / x1."""
    return (Div2() if not inplace else _kept_inplace(Div2()))(x0, x1)


@named
def pow2(x0, x1, inplace=False):
    """Elementwise power with broadcasting: y = x0 ** x1 (x1's gradient uses log x0, x0 > 0)."""
    return (Pow2() if not inplace else _kept_inplace(Pow2()))(x0, x1)


@named
def add_n(*x):
    """Sum of any number of same-shape inputs."""
    return AddN()(*x)


@named
def mul_n(*x):
    """Product of any number of same-shape inputs."""
    return MulN()(*x)


@named
def add_scalar(x, val=1, inplace=False):
    """y = x + val."""
    f = AddScalar(val=number(val))
    return (f if not inplace else _kept_inplace(f))(x)


@named
def mul_scalar(x, val=1, inplace=False):
    """y = x * val."""
    f = MulScalar(val=number(val))
    return (f if not inplace else _kept_inplace(f))(x)


@named
def pow_scalar(x, val=1, inplace=False):
    """y = x ** val."""
    f = PowScalar(val=number(val))
    return (f if not inplace else _kept_inplace(f))(x)


@named
def r_sub_scalar(x, val=1):
    """y = val - x."""
    return RSubScalar(val=number(val))(x)


@named
def r_div_scalar(x, val=1):
    """y = val / x."""
    return RDivScalar(val=number(val))(x)


@named
def r_pow_scalar(x, val=1):
    """y = val ** x."""
    return RPowScalar(val=number(val))(x)


def _mod(xp, x0, x1, fmod):
    # Floats always take C's fmod (sign of x0), whatever `fmod` says (NNabla 1.39).
    if fmod or x0.dtype.kind == "f" or x1.dtype.kind == "f":
        return xp.fmod(x0, x1)
    return xp.mod(x0, x1)


class _NoGradBinary(Binary):
    """Elementwise with broadcasting, no gradient; integers stay integers."""

    integer_inputs = True

    def backward(self, xp, xs, ys, gys):
        return None, None


Mod2 = type("Mod2", (_NoGradBinary,), {
    "f": staticmethod(lambda xp, a, b, fmod: _mod(xp, a, b, fmod)),
    "__doc__": "Elementwise remainder (Python-style for integers unless fmod; C fmod for floats)."})


class BitShift(_NoGradBinary):
    """Elementwise x << shift or x >> shift on integers (floats are shifted as int64)."""

    def setup(self, a, b):
        require(self, self.direction in ("LEFT", "RIGHT"),
                f"direction must be 'LEFT' or 'RIGHT', got {self.direction!r}")
        return broadcast_shape(self, a, b)

    def f(self, xp, x, shift, direction):
        op = xp.left_shift if direction == "LEFT" else xp.right_shift
        if x.dtype.kind in "iu" and shift.dtype.kind in "iu":
            return op(x, shift.astype(x.dtype, copy=False))
        return op(x.astype(np.int64), shift.astype(np.int64)).astype(x.dtype)


@named
def mod2(x0, x1, fmod=False, n_outputs=-1, outputs=None):
    """Elementwise remainder of x0 / x1, broadcasting; no gradient.

    Integers take the sign of x1 (Python's %) unless ``fmod``; floats always take
    C's fmod (the sign of x0), as NNabla does.

    Args:
        x0, x1 (Variable): dividend and divisor.
        fmod (bool): C's fmod for integers too.

    Returns:
        Variable: the remainder.
    """
    return Mod2(fmod=fmod)(x0, x1, n_outputs=n_outputs, outputs=outputs)


@named
def bit_shift(x, shift, direction='LEFT', n_outputs=-1, outputs=None):
    """Elementwise x << shift (direction 'LEFT') or x >> shift ('RIGHT'), broadcasting,
    in x's dtype; no gradient. NNabla accepts unsigned integers only; nablite takes
    any integer type and shifts floats as int64."""
    return BitShift(direction=direction)(x, shift, n_outputs=n_outputs, outputs=outputs)
