"""Special: graph utilities (unlink, sink), integer helpers (eye_like, mod2,
bit_shift), einsum, interpolate, and the quantization family (binary_sigmoid,
binary_tanh, prune, fixed_point_quantize, pow2_quantize, quantize_linear,
dequantize_linear).

Gradients follow NNabla 1.39 (measured): the quantizers pass straight-through
gradients (clipped where NNabla clips them); unlink and eye_like pass nothing;
mod2, bit_shift and the scale / zero_point of (de)quantize_linear have no
gradient (NNabla raises when asked; nablite passes nothing, as for logical ops).
"""
import re
import string

import numpy as np

from ..backend import scatter_add
from .base import Binary, Function, broadcast_shape, require, sum_to, unary

__all__ = ["unlink", "sink", "eye_like", "mod2", "bit_shift", "einsum", "interpolate",
           "binary_sigmoid", "binary_tanh", "prune", "fixed_point_quantize", "pow2_quantize",
           "quantize_linear", "dequantize_linear"]


class Unlink(Function):
    """Identity forward; backward passes nothing (cuts the graph for gradients)."""

    def forward(self, xp, x):
        return x.copy()

    def backward(self, xp, xs, ys, gys):
        return (None,)


class Sink(Function):
    """A () output that depends on every input, so one forward/backward runs them all."""

    def __init__(self, one_input_grad=True):
        self.one_input_grad = one_input_grad

    @property
    def leaves_input_grads(self):  # one_input_grad=False: the user sets the inputs' .g
        return not self.one_input_grad

    def setup(self, *shapes):
        require(self, len(shapes) >= 1, "needs at least one input")
        return ()

    def forward(self, xp, *xs):
        return xp.zeros((), dtype=xs[0].dtype)

    def backward(self, xp, xs, ys, gys):
        # Each input is treated as a loss of its own: it receives a gradient of ones.
        if not self.one_input_grad:
            return tuple(None for _ in xs)
        return tuple(xp.ones_like(x) if n else None for x, n in zip(xs, self.need))


class EyeLike(Function):
    """Ones on diagonal k of a matrix shaped like x (which only gives the shape)."""

    def __init__(self, k=0):
        self.k = k

    def setup(self, x):
        require(self, len(x) == 2, f"x must be 2-D, got shape {x}")
        return x

    def forward(self, xp, x):
        return xp.eye(x.shape[0], x.shape[1], self.k, dtype=x.dtype)

    def backward(self, xp, xs, ys, gys):
        return (None,)


def _mod(xp, x0, x1, fmod):
    # Floats always take C's fmod (sign of x0), whatever `fmod` says (NNabla 1.39).
    if fmod or x0.dtype.kind == "f" or x1.dtype.kind == "f":
        return xp.fmod(x0, x1)
    return xp.mod(x0, x1)


class _NoGradBinary(Binary):
    """Elementwise with broadcasting, no gradient."""

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


_LETTERS = string.ascii_letters


class Einsum(Function):
    """Einstein summation (numpy.einsum) with its gradient.

    The gradient of operand k is an einsum of the output gradient and the
    other operands into operand k's labels; labels that only operand k has
    are broadcast back, repeated labels (diagonals) are scattered back, and
    ellipsis dimensions that operand k broadcast are summed.
    """

    def __init__(self, equation):
        self.equation = equation

    def setup(self, *shapes):
        eq = self.equation.replace(" ", "") if isinstance(self.equation, str) else None
        require(self, eq is not None and re.fullmatch(r"[A-Za-z.,]*(->[A-Za-z.]*)?", eq),
                f"equation must be a string of letters, ',', '...' and '->', "
                f"got {self.equation!r}")
        lhs, arrow, out = eq.partition("->")
        terms = lhs.split(",")
        require(self, len(terms) == len(shapes),
                f"equation {self.equation!r} has {len(terms)} input terms for "
                f"{len(shapes)} inputs")
        for k, (term, shape) in enumerate(zip(terms, shapes)):
            n_labels = len(term.replace("...", ""))
            require(self, term.count("...") <= 1 and "." not in term.replace("...", ""),
                    f"term {term!r} of equation {self.equation!r} is malformed")
            require(self, len(shape) >= n_labels if "..." in term else len(shape) == n_labels,
                    f"input {k} has shape {shape}, which does not fit term {term!r} of "
                    f"equation {self.equation!r}")
        n_ell = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes)
                     if "..." in t), default=0)
        ell = "".join(c for c in _LETTERS if c not in eq)[:n_ell]
        sizes, subs = {}, []
        for k, (term, shape) in enumerate(zip(terms, shapes)):
            own = len(shape) - len(term.replace("...", ""))
            labels = term.replace("...", ell[n_ell - own:])
            for label, size in zip(labels, shape):
                old = sizes.get(label)
                if label in ell:  # ellipsis dimensions broadcast as numpy does
                    require(self, old is None or old == size or 1 in (old, size),
                            f"ellipsis dimensions of input {k} {shape} do not broadcast "
                            f"in {self.equation!r}")
                    sizes[label] = size if old in (None, 1) else old
                else:
                    require(self, old is None or old == size,
                            f"label {label!r} has size {size} in input {k} {shape} but "
                            f"{old} elsewhere in {self.equation!r}")
                    sizes[label] = size
            subs.append(labels)
        if arrow:
            require(self, out.count("...") <= (1 if any("..." in t for t in terms) else 0),
                    f"output {out!r} of {self.equation!r} uses '...' that no input has")
            out = out.replace("...", ell)
            require(self, len(set(out)) == len(out) and all(c in sizes for c in out),
                    f"output {out!r} of {self.equation!r} repeats a label or uses one "
                    "no input has")
        else:  # implicit: ellipsis, then labels seen once, in alphabetical order
            once = sorted(c for c in set(lhs) if c.isalpha() and lhs.count(c) == 1)
            out = ell + "".join(once)
        self._subs, self._out, self._sizes = subs, out, sizes
        return tuple(sizes[c] for c in out)

    def _full(self, xp, x, labels):
        return xp.broadcast_to(x, tuple(self._sizes[c] for c in labels))

    def forward(self, xp, *xs):
        ops = [self._full(xp, x, s) for x, s in zip(xs, self._subs)]
        y = xp.einsum(",".join(self._subs) + "->" + self._out, *ops, optimize=len(ops) > 1)
        return xp.asarray(y, dtype=y.dtype)

    def backward(self, xp, xs, ys, gys):
        ops = [self._full(xp, x, s) for x, s in zip(xs, self._subs)]
        grads = []
        for k, (x, labels) in enumerate(zip(xs, self._subs)):
            if not self.need[k]:
                grads.append(None)
                continue
            others = [(s, o) for j, (s, o) in enumerate(zip(self._subs, ops)) if j != k]
            unique = "".join(dict.fromkeys(labels))
            known = set(self._out).union(*[set(s) for s, _ in others])
            target = "".join(c for c in unique if c in known)
            eq = ",".join([self._out] + [s for s, _ in others]) + "->" + target
            g = xp.einsum(eq, gys[0], *[o for _, o in others], optimize=bool(others))
            # labels that only this operand has were summed away: broadcast back
            g = g.reshape(tuple(self._sizes[c] if c in target else 1 for c in unique))
            g = xp.broadcast_to(g, tuple(self._sizes[c] for c in unique))
            if len(unique) < len(labels):  # repeated labels: write onto the diagonal
                full = xp.zeros(tuple(self._sizes[c] for c in labels), dtype=g.dtype)
                index = tuple(xp.arange(self._sizes[c]).reshape(
                    [-1 if u == c else 1 for u in unique]) for c in labels)
                full[index] = g
                g = full
            grads.append(sum_to(xp, xp.ascontiguousarray(g), x.shape))
        return tuple(grads)


def _source_index(xp, n_in, n_out, mode, align_corners, half_pixel, half_pixel_for_nn):
    """Input coordinate of each output position along one axis (float64)."""
    i = xp.arange(n_out, dtype=np.float64)
    if mode == "nearest" and half_pixel_for_nn:
        return (i + 0.5) * n_in / n_out
    if align_corners:
        return i * (n_in - 1) / (n_out - 1) if n_out > 1 else i * 0
    if half_pixel:  # NNabla 1.39 maps a single output onto input 0 here
        return (i + 0.5) * n_in / n_out - 0.5 if n_out > 1 else i * 0
    return i * n_in / n_out


class Interpolate(Function):
    """Resize the last 1-3 spatial axes by nearest or (bi/tri)linear interpolation.

    Both modes are separable, so they run one axis at a time: a gather (two for
    linear) forward, a scatter-add backward. Nearest takes floor of the source
    coordinate, as NNabla 1.39 does.
    """

    def __init__(self, output_size, mode, align_corners=True, half_pixel=False,
                 half_pixel_for_nn=False, channel_last=False):
        self.output_size, self.mode = [int(s) for s in output_size], mode
        self.align_corners, self.half_pixel = align_corners, half_pixel
        self.half_pixel_for_nn, self.channel_last = half_pixel_for_nn, channel_last

    def setup(self, x):
        nd = len(self.output_size)
        require(self, self.mode in ("nearest", "linear"),
                f"mode must be 'nearest' or 'linear', got {self.mode!r}")
        require(self, 1 <= nd <= 3, f"output_size {self.output_size} must give 1, 2 or 3 "
                "spatial sizes")
        require(self, len(x) >= nd + self.channel_last,
                f"x {x} has fewer than the {nd} spatial dimensions that output_size "
                f"{self.output_size} resizes")
        require(self, all(s >= 1 for s in self.output_size),
                f"output_size {self.output_size} must be positive")
        require(self, not (self.align_corners and self.half_pixel),
                "align_corners=True and half_pixel=True cannot be combined")
        first = len(x) - nd - (1 if self.channel_last else 0)
        self._axes = list(range(first, first + nd))
        y = list(x)
        for a, s in zip(self._axes, self.output_size):
            y[a] = s
        return tuple(y)

    def _plan(self, xp, n_in, n_out):
        src = _source_index(xp, n_in, n_out, self.mode, self.align_corners, self.half_pixel,
                            self.half_pixel_for_nn)
        if self.mode == "nearest":
            return xp.clip(xp.floor(src), 0, n_in - 1).astype(np.int64), None, None
        src = xp.maximum(src, 0)
        i0 = xp.minimum(xp.floor(src), n_in - 1).astype(np.int64)
        return i0, xp.minimum(i0 + 1, n_in - 1), src - i0

    def forward(self, xp, x):
        self._plans = []
        for a, n_out in zip(self._axes, self.output_size):
            i0, i1, lam = plan = self._plan(xp, x.shape[a], n_out)
            self._plans.append(plan)
            if lam is None:
                x = x.take(i0, axis=a)
            else:
                lam = lam.astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - a - 1))
                x = x.take(i0, axis=a) * (1 - lam) + x.take(i1, axis=a) * lam
        return x

    def backward(self, xp, xs, ys, gys):
        g = gys[0]
        shape = list(xs[0].shape)
        for a, (i0, i1, lam) in reversed(list(zip(self._axes, self._plans))):
            g_front = xp.moveaxis(g, a, 0)
            gx = xp.zeros((shape[a],) + g_front.shape[1:], dtype=g.dtype)
            if lam is None:
                scatter_add(xp, gx, i0, g_front)
            else:
                lam = lam.astype(g.dtype).reshape((-1,) + (1,) * (g.ndim - 1))
                scatter_add(xp, gx, i0, g_front * (1 - lam))
                scatter_add(xp, gx, i1, g_front * lam)
            g = xp.moveaxis(gx, 0, a)
        return (xp.ascontiguousarray(g),)


#                     NNabla type       forward                                     dL/dx (clipped straight-through)
BinarySigmoid = unary("BinarySigmoid", lambda xp, x: (x > 0).astype(x.dtype),
                      lambda xp, g, x, y: xp.where(xp.abs(x) < 1, 0.5 * g, 0))
BinaryTanh = unary("BinaryTanh",       lambda xp, x: xp.where(x > 0, 1, -1).astype(x.dtype),
                   lambda xp, g, x, y: g * (xp.abs(x) < 1))


class Prune(Function):
    """Zero the entries of small |x| (see :func:`prune`); straight-through gradient."""

    def __init__(self, rate=0.9):
        self.rate = rate

    def setup(self, x):
        require(self, 0 <= self.rate <= 1, f"rate must be in [0, 1], got {self.rate}")
        return x

    def forward(self, xp, x):
        if self.rate == 1 or x.size == 0:
            return xp.zeros_like(x)
        a = xp.abs(x).reshape(-1)
        k = int((a.size - 1) * float(self.rate))
        threshold = xp.partition(a, k)[k]
        return xp.where(xp.abs(x) < threshold, 0, x).astype(x.dtype)

    def backward(self, xp, xs, ys, gys):
        return (gys[0],)


class FixedPointQuantize(Function):
    """Round to a multiple of delta (half away from zero), saturated to n bits."""

    def __init__(self, sign=True, n=8, delta=0.0625, ste_fine_grained=True):
        self.sign, self.n, self.delta = sign, n, delta
        self.ste_fine_grained = ste_fine_grained

    def setup(self, x):
        require(self, self.n > (1 if self.sign else 0) and self.delta > 0,
                f"needs n > {1 if self.sign else 0} bits (sign takes one) and delta > 0, "
                f"got n={self.n}, delta={self.delta}")
        return x

    def _range(self):
        if self.sign:
            top = (2 ** (self.n - 1) - 1) * self.delta
            return -top, top
        return 0.0, (2 ** self.n - 1) * self.delta

    def forward(self, xp, x):
        low, high = self._range()
        q = xp.sign(x) * xp.floor(xp.abs(x) / self.delta + 0.5) * self.delta
        return xp.clip(q, low, high).astype(x.dtype)

    def backward(self, xp, xs, ys, gys):
        if not self.ste_fine_grained:
            return (gys[0],)
        low, high = self._range()
        x = xs[0]
        return (gys[0] * ((x >= low) & (x <= high)),)


class Pow2Quantize(Function):
    """Round |x| to a power of two in log2 space, saturated to [2^(m - 2^b + 1), 2^m]
    where b = n minus a bit for the sign and one for zero."""

    def __init__(self, sign=True, with_zero=True, n=8, m=1, ste_fine_grained=True):
        self.sign, self.with_zero, self.n, self.m = sign, with_zero, n, m
        self.ste_fine_grained = ste_fine_grained

    def setup(self, x):
        bits = self.n - int(bool(self.sign)) - int(bool(self.with_zero))
        require(self, bits > 0, f"n={self.n} leaves no bit once sign={self.sign} and "
                f"with_zero={self.with_zero} take theirs")
        self._low = 2.0 ** (self.m - (2 ** bits - 1))
        self._high = 2.0 ** self.m
        return x

    def _rounded(self, xp, x):
        """sign(x) 2^round(log2 |x|), NNabla's q-bar (0 for x == 0)."""
        with np.errstate(divide="ignore"):
            return xp.sign(x) * xp.exp2(xp.floor(xp.log2(xp.abs(x)) + 0.5))

    def forward(self, xp, x):
        v = x if self.sign else xp.maximum(x, 0)
        mag = xp.clip(xp.abs(self._rounded(xp, v)), self._low, self._high)
        q = xp.where(v < 0, -mag, mag)
        if self.with_zero:
            q = xp.where(xp.abs(v) < self._low * 2 ** -0.5, 0, q)
        return q.astype(x.dtype)

    def backward(self, xp, xs, ys, gys):
        if not self.ste_fine_grained:
            return (gys[0],)
        qbar = self._rounded(xp, xs[0])
        low = -self._high if self.sign else 0
        return (gys[0] * ((qbar <= self._high) & (qbar >= low)),)


_INT_CODES = {np.int8: 1, np.uint8: 2}
_INT_RANGES = {1: (-128, 127), 2: (0, 255)}


def _round(xp, v, mode):
    if mode == "HALF_TO_EVEN":
        return xp.round(v)
    return xp.sign(v) * xp.floor(xp.abs(v) + 0.5)


def _check_per_axis(fn, x, scale, zero_point):
    for name, s in (("scale", scale), ("zero_point", zero_point)):
        require(fn, len(s) == len(x) and all(a in (1, b) for a, b in zip(s, x)),
                f"{name} {s} must have x's {len(x)} dimensions, each 1 or equal to x {x}")


class QuantizeLinear(Function):
    """y = saturate(round(x / scale) + round(zero_point)), in the int range of dtype
    (stored as float); straight-through gradient dy / scale."""

    def __init__(self, round_mode="HALF_AWAY_FROM_ZERO", narrow_range=False, dtype=1):
        self.round_mode, self.narrow_range, self.dtype = round_mode, narrow_range, dtype

    def setup(self, x, scale, zero_point):
        require(self, self.round_mode in ("HALF_AWAY_FROM_ZERO", "HALF_TO_EVEN"),
                f"round_mode must be 'HALF_AWAY_FROM_ZERO' or 'HALF_TO_EVEN', got "
                f"{self.round_mode!r}")
        require(self, self.dtype in _INT_RANGES, f"dtype must be numpy.int8 or numpy.uint8, "
                f"got {self.dtype!r}")
        _check_per_axis(self, x, scale, zero_point)
        return x

    def _range(self):
        low, high = _INT_RANGES[self.dtype]
        return low + int(bool(self.narrow_range)), high

    def forward(self, xp, x, scale, zero_point):
        low, high = self._range()
        zp = xp.clip(_round(xp, zero_point, self.round_mode), low, high)
        y = xp.clip(_round(xp, x / scale, self.round_mode) + zp, low, high)
        return y.astype(x.dtype if x.dtype.kind == "f" else np.float32)

    def backward(self, xp, xs, ys, gys):
        return (gys[0] / xs[1] if self.need[0] else None), None, None


class DequantizeLinear(Function):
    """y = (x - zero_point) * scale; gradient gy * scale for x."""

    def setup(self, x, scale, zero_point):
        _check_per_axis(self, x, scale, zero_point)
        return x

    def forward(self, xp, x, scale, zero_point):
        dtype = x.dtype if x.dtype.kind == "f" else (
            scale.dtype if scale.dtype.kind == "f" else np.float32)
        return ((x.astype(dtype, copy=False) - zero_point) * scale).astype(dtype, copy=False)

    def backward(self, xp, xs, ys, gys):
        if not self.need[0]:
            return None, None, None
        return sum_to(xp, gys[0] * xs[1], xs[0].shape).astype(gys[0].dtype), None, None


def unlink(x, n_outputs=-1, outputs=None):
    """Identity forward that stops gradients: returns a copy of x (Variable) that
    no gradient flows back through."""
    return Unlink()(x, n_outputs=n_outputs, outputs=outputs)


def sink(*x, one_input_grad=True, n_outputs=-1, outputs=None):
    """A dummy () Variable depending on every input (Variables, typically losses),
    to forward and backward several roots at once. With ``one_input_grad``, backward
    gives each input a gradient of ones, as if each were a loss; otherwise nothing."""
    return Sink(one_input_grad)(*x, n_outputs=n_outputs, outputs=outputs)


def eye_like(x, k=0, n_outputs=-1, outputs=None):
    """A Variable of x's 2-D shape and dtype with ones on diagonal k (int; above the
    main one if k > 0) and zeros elsewhere. x only gives the shape (no gradient)."""
    return EyeLike(k)(x, n_outputs=n_outputs, outputs=outputs)


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


def bit_shift(x, shift, direction='LEFT', n_outputs=-1, outputs=None):
    """Elementwise x << shift (direction 'LEFT') or x >> shift ('RIGHT'), broadcasting,
    in x's dtype; no gradient. NNabla accepts unsigned integers only; nablite takes
    any integer type and shifts floats as int64."""
    return BitShift(direction=direction)(x, shift, n_outputs=n_outputs, outputs=outputs)


def einsum(*x, equation, n_outputs=-1, outputs=None):
    """Einstein summation of the operands (Variables), as numpy.einsum, with gradients.
    ``equation`` (str) is e.g. ``'ij,jk->ik'``, ``'...ij,...jk'`` or ``'ii->i'``."""
    return Einsum(equation)(*x, n_outputs=n_outputs, outputs=outputs)


def interpolate(x, scale=None, output_size=None, mode='linear', align_corners=False,
                half_pixel=False, half_pixel_for_nn=False, channel_last=False):
    """Resize the last 1-3 spatial axes by nearest or (bi/tri)linear interpolation.

    Output position o reads input coordinate ``o * in / out`` by default,
    ``o * (in - 1) / (out - 1)`` with align_corners, ``(o + 0.5) * in / out - 0.5``
    with half_pixel, and, for nearest with half_pixel_for_nn, ``(o + 0.5) * in / out``;
    nearest takes the floor of it, linear blends its two neighbours.

    Args:
        x (Variable): N-D input.
        scale (tuple of float): output_size = floor(scale * input size), per axis.
        output_size (tuple of int): sizes of the resized axes (used if given).
        mode (str): 'nearest' or 'linear'.
        align_corners (bool): map corner pixels onto corner pixels.
        half_pixel (bool): pixel centres at +0.5 (not with align_corners).
        half_pixel_for_nn (bool): NNabla's pre-1.8 nearest mapping.
        channel_last (bool): the spatial axes are before the last one.

    Returns:
        Variable: x resized.
    """
    if scale is None and output_size is None:
        raise ValueError("Interpolate: either scale or output_size must be given")
    if output_size is None:
        n = len(scale)
        sizes = x.shape[-n - 1:-1] if channel_last else x.shape[-n:]
        output_size = [int(np.floor(s * d)) for d, s in zip(sizes, scale)]
    return Interpolate(output_size, mode, align_corners, half_pixel, half_pixel_for_nn,
                       channel_last)(x)


def binary_sigmoid(x, n_outputs=-1, outputs=None):
    """Binary step of x (Variable): 1 where x > 0, else 0. Gradient (straight-through,
    clipped): 0.5 dy where |x| < 1, else 0."""
    return BinarySigmoid()(x, n_outputs=n_outputs, outputs=outputs)


def binary_tanh(x, n_outputs=-1, outputs=None):
    """Binary step of x (Variable): 1 where x > 0, else -1. Gradient (straight-through,
    clipped): dy where |x| < 1, else 0."""
    return BinaryTanh()(x, n_outputs=n_outputs, outputs=outputs)


def prune(x, rate=0.9, n_outputs=-1, outputs=None):
    """Zero about a fraction ``rate`` of x, the entries of smallest |x|.

    With a = sorted |x| (n entries), entries with |x| < a[int((n - 1) rate)]
    become 0 (all of them when rate == 1). The gradient passes straight through.

    Args:
        x (Variable): input.
        rate (float): in [0, 1].

    Returns:
        Variable: x with small entries zeroed.
    """
    return Prune(rate)(x, n_outputs=n_outputs, outputs=outputs)


def fixed_point_quantize(x, sign=True, n=8, delta=0.0625, quantize=True,
                         ste_fine_grained=True, outputs=None):
    """Simulated fixed-point quantization with step delta and n bits.

    .. math:: q = \\mathrm{clip}(\\mathrm{sign}(x) \\lfloor |x| / \\delta + 1/2 \\rfloor \\delta,
              min, max)

    with (min, max) = (-(2^{n-1} - 1) delta, (2^{n-1} - 1) delta) if sign, else
    (0, (2^n - 1) delta). Gradient: dy inside [min, max] and 0 outside
    (ste_fine_grained), or dy everywhere.

    Args:
        x (Variable): input.
        sign (bool): signed range (one of the n bits holds the sign).
        n (int): bit width. delta (float): step size.
        quantize (bool): if False, return x unchanged.
        ste_fine_grained (bool): zero the gradient outside the range.

    Returns:
        Variable: quantized values (stored as floats).
    """
    if not quantize:
        return x
    return FixedPointQuantize(sign, n, delta, ste_fine_grained)(x, outputs=outputs)


def pow2_quantize(x, sign=True, with_zero=True, n=8, m=1, quantize=True,
                  ste_fine_grained=True, outputs=None):
    """Simulated power-of-two quantization.

    .. math:: \\bar q = \\mathrm{sign}(x)\\, 2^{\\mathrm{round}(\\log_2 |x|)}

    with |q| saturated to [2^{m - (2^b - 1)}, 2^m], b = n - sign - with_zero bits.
    With zero, |x| below min / sqrt(2) becomes 0; unsigned, negative x counts as 0.
    Gradient: dy where -2^m <= q-bar <= 2^m (0 <= q-bar unsigned) if
    ste_fine_grained, else dy everywhere.

    Args:
        x (Variable): input.
        sign (bool): keep signs (one bit). with_zero (bool): represent 0 (one bit).
        n (int): bit width. m (int): 2^m is the largest magnitude.
        quantize (bool): if False, return x unchanged.
        ste_fine_grained (bool): zero the gradient where q-bar saturates.

    Returns:
        Variable: quantized values (stored as floats).
    """
    if not quantize:
        return x
    return Pow2Quantize(sign, with_zero, n, m, ste_fine_grained)(x, outputs=outputs)


def quantize_linear(x, scale, zero_point, round_mode='HALF_AWAY_FROM_ZERO', narrow_range=False,
                    dtype=np.int8):
    """Linear quantization: y = saturate(round(x / scale) + round(zero_point)).

    Saturation is to dtype's range ([-128, 127] for int8, [0, 255] for uint8;
    without the lowest value if narrow_range); values are stored as floats.
    The gradient of x is dy / scale (straight-through); scale and zero_point get none.

    Args:
        x (Variable): input.
        scale, zero_point (Variable): x's number of dimensions, each 1 or x's size.
        round_mode (str): 'HALF_AWAY_FROM_ZERO' or 'HALF_TO_EVEN'.
        narrow_range (bool): leave out the lowest integer.
        dtype: numpy.int8 or numpy.uint8.

    Returns:
        Variable: quantized values.
    """
    try:  # NNabla's argument is its integer type code: 1 (int8) or 2 (uint8)
        code = dtype if isinstance(dtype, int) else _INT_CODES.get(np.dtype(dtype).type)
    except TypeError:
        code = None
    return QuantizeLinear(round_mode, narrow_range, dtype if code is None else code)(
        x, scale, zero_point)


def dequantize_linear(x, scale, zero_point, n_outputs=-1, outputs=None):
    """Linear dequantization: y = (x - zero_point) * scale.

    Args:
        x (Variable): quantized input.
        scale, zero_point (Variable): x's number of dimensions, each 1 or x's size.

    Returns:
        Variable: float values. x's gradient is dy * scale; scale and zero_point get none.
    """
    return DequantizeLinear()(x, scale, zero_point, n_outputs=n_outputs, outputs=outputs)
