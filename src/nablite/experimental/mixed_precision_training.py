"""Dynamic loss scaling: ``DynamicLossScalingUpdater``, as NNabla's mixed-precision
tutorial uses it.

Half-precision gradients underflow when they are small, so the loss is multiplied
by ``scale`` before backward and the gradients divided by it before the update.
A scale that is too large makes some gradient inf or NaN: then the step is thrown
away, the scale divided by ``scaling_factor`` and the step tried again with the
next batch (at most ``MAX_RETRIES`` times in a row). After ``N`` good steps in a
row the scale is multiplied by ``scaling_factor``, to find the largest scale that
still works. The updater works the same for float32 parameters.
"""
import numbers

__all__ = ["DynamicLossScalingUpdater"]

MAX_RETRIES = 100  # overflowing steps retried in a row before update() gives up


def _positive(value, name, integer=False):
    kinds = (numbers.Integral,) if integer else (numbers.Real,)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        expected = "a positive int" if integer else "a positive number"
        raise ValueError(f"DynamicLossScalingUpdater: {name} must be {expected}, "
                         f"got {value!r}")
    return value


class DynamicLossScalingUpdater:
    """One training step with a dynamically scaled loss, per ``update()``.

    Args:
        solver: the Solver, its parameters already set.
        loss (Variable): the loss to minimize.
        data_feeder (callable): called before each forward to put the next batch
            into the input Variables (default: does nothing).
        scale (float): the starting loss scale.
        scaling_factor (float): what the scale is divided by after an overflow
            and multiplied by after ``N`` good steps.
        N (int): good steps in a row before the scale grows.
        clear_buffer (bool): free intermediate buffers during forward/backward.
        accum_grad (int): forward/backward passes (batches) accumulated per update.
        weight_decay (float or None): weight decay applied before the update.
        comm: a communicator whose ``all_reduce`` sums ``grads`` over the
            processes before the overflow check (data-parallel training).
        grads (list of NdArray): the gradients ``comm`` reduces.
    """

    def __init__(self, solver, loss, data_feeder=lambda: True, scale=8.0,
                 scaling_factor=2.0, N=2000, clear_buffer=True, accum_grad=1,
                 weight_decay=None, comm=None, grads=[]):
        self.solver = solver
        self.loss = loss
        if not callable(data_feeder):
            raise TypeError(f"DynamicLossScalingUpdater: data_feeder must be callable, "
                            f"got {type(data_feeder).__name__}")
        self.data_feeder = data_feeder
        self.scale = float(_positive(scale, "scale"))
        self.scaling_factor = float(_positive(scaling_factor, "scaling_factor"))
        self.N = int(_positive(N, "N", integer=True))
        self.clear_buffer = clear_buffer
        self.accum_grad = int(_positive(accum_grad, "accum_grad", integer=True))
        self.weight_decay = weight_decay
        self.comm = comm
        self.grads = list(grads)
        self._counter = 0  # good steps since the scale last changed

    def update(self):
        """Run one step: ``accum_grad`` forward/backward passes of the scaled loss,
        then either the update (gradients unscaled) or, on inf/NaN, a smaller
        scale and another try with the next batch. Returns True when the
        parameters were updated, False when every try overflowed."""
        for _ in range(MAX_RETRIES + 1):
            if self._try_step():
                return True
            self.scale /= self.scaling_factor
            self._counter = 0
        return False

    def _try_step(self):
        self.solver.zero_grad()
        for _ in range(self.accum_grad):
            self.data_feeder()
            self.loss.forward(clear_no_need_grad=self.clear_buffer)
            self.loss.backward(self.scale, clear_buffer=self.clear_buffer)
        if self.comm is not None and self.grads:
            self.comm.all_reduce(self.grads, division=False, inplace=False)
        if self.solver.check_inf_or_nan_grad():
            return False
        self.solver.scale_grad(1.0 / self.scale)
        if self.weight_decay is not None:
            self.solver.weight_decay(self.weight_decay)
        self.solver.update()
        if self._counter > self.N:
            self.scale *= self.scaling_factor
            self._counter = 0
        self._counter += 1
        return True
