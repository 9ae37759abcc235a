"""Special: graph utilities that compute nothing of their own.

unlink (identity forward, no gradient back) and sink (one () output depending on
several roots, so one forward / backward runs them all). Gradients follow NNabla
1.39: unlink passes nothing; sink gives each input ones (with one_input_grad).
"""
from .base import Function, require, named

__all__ = ["unlink", "sink"]


class Unlink(Function):
    """Identity forward; backward passes nothing (cuts the graph for gradients)."""

    def forward(self, xp, x):
        return x.copy()

    def backward(self, xp, xs, ys, gys):
        return (None,)


class Sink(Function):
    """A () output that depends on every input, so one forward/backward runs them all."""
    half_kernel = False  # NNabla computes it in float32 in 'half' contexts

    keeps_inputs = True  # clearing spares them (the values the script reads)

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


@named
def unlink(x, n_outputs=-1, outputs=None):
    """Identity forward that stops gradients: returns a copy of x (Variable) that
    no gradient flows back through."""
    return Unlink()(x, n_outputs=n_outputs, outputs=outputs)


@named
def sink(*x, one_input_grad=True, n_outputs=-1, outputs=None):
    """A dummy () Variable depending on every input (Variables, typically losses),
    to forward and backward several roots at once. With ``one_input_grad``, backward
    gives each input a gradient of ones, as if each were a loss; otherwise nothing."""
    return Sink(one_input_grad)(*x, n_outputs=n_outputs, outputs=outputs)

