"""Arithmetic: two-input, n-input and scalar forms of + - * / **."""
from .base import Function, Unary, Binary, binary, unary, require

__all__ = ["add2", "sub2", "mul2", "div2", "pow2", "add_n", "mul_n", "bc_add2",
           "add_scalar", "mul_scalar", "pow_scalar", "r_sub_scalar", "r_div_scalar",
           "r_pow_scalar"]

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


def add2(x0, x1, inplace=False):
    """Elementwise addition with broadcasting: y = x0 + x1."""
    return Add2()(x0, x1)


def bc_add2(x0, x1, inplace=False):
    """Broadcasting addition (NNabla's legacy BcAdd2): y = x0 + x1."""
    return BcAdd2()(x0, x1)


def sub2(x0, x1, inplace=False):
    """Elementwise subtraction with broadcasting: y = x0 - x1."""
    return Sub2()(x0, x1)


def mul2(x0, x1, inplace=False):
    """Elementwise multiplication with broadcasting: y = x0 * x1."""
    return Mul2()(x0, x1)


def div2(x0, x1, inplace=False):
    """Elementwise division with broadcasting: y = x0 / x1."""
    return Div2()(x0, x1)


def pow2(x0, x1, inplace=False):
    """Elementwise power with broadcasting: y = x0 ** x1 (x1's gradient uses log x0, x0 > 0)."""
    return Pow2()(x0, x1)


def add_n(*x):
    """Sum of any number of same-shape inputs."""
    return AddN()(*x)


def mul_n(*x):
    """Product of any number of same-shape inputs."""
    return MulN()(*x)


def add_scalar(x, val=1, inplace=False):
    """y = x + val."""
    return AddScalar(val=val)(x)


def mul_scalar(x, val=1, inplace=False):
    """y = x * val."""
    return MulScalar(val=val)(x)


def pow_scalar(x, val=1, inplace=False):
    """y = x ** val."""
    return PowScalar(val=val)(x)


def r_sub_scalar(x, val=1):
    """y = val - x."""
    return RSubScalar(val=val)(x)


def r_div_scalar(x, val=1):
    """y = val / x."""
    return RDivScalar(val=val)(x)


def r_pow_scalar(x, val=1):
    """y = val ** x."""
    return RPowScalar(val=val)(x)
