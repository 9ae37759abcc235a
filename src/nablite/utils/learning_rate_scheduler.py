"""Learning-rate schedules: ``get_learning_rate(iter)`` gives the rate for
iteration ``iter`` (counted from 0).

Typical use::

    sched = CosineScheduler(init_lr=0.1, max_iter=1000)
    for i in range(1000):
        solver.set_learning_rate(sched.get_learning_rate(i))
        ...
"""
import math

__all__ = [
    "BaseLearningRateScheduler", "PolynomialScheduler", "CosineScheduler",
    "ExponentialScheduler", "StepScheduler", "LinearWarmupScheduler",
]


class BaseLearningRateScheduler:
    """Base class: subclasses implement :meth:`get_learning_rate`."""

    def get_learning_rate(self, iter):
        """The learning rate at iteration ``iter``."""
        raise NotImplementedError(
            f"{type(self).__name__}.get_learning_rate is not implemented")


def _require_positive(scheduler, name, value):
    if not value > 0:
        raise ValueError(f"{scheduler}: {name} must be positive, got {value!r}")


class PolynomialScheduler(BaseLearningRateScheduler):
    """``init_lr * (1 - iter / max_iter) ** power``.

    Args:
        init_lr (float): Rate at iteration 0.
        max_iter (int): Iteration at which the rate reaches 0.
        power (float): Exponent (1 is a linear decay).
    """

    def __init__(self, init_lr, max_iter, power):
        _require_positive("PolynomialScheduler", "max_iter", max_iter)
        self.init_lr = init_lr
        self.max_iter = max_iter
        self.power = power

    def get_learning_rate(self, iter):
        return self.init_lr * ((1.0 - iter * 1.0 / self.max_iter) ** self.power)


class CosineScheduler(BaseLearningRateScheduler):
    """Half a cosine from ``init_lr`` down to 0 at ``max_iter``:
    ``init_lr * (cos(pi * iter / max_iter) + 1) / 2``."""

    def __init__(self, init_lr, max_iter):
        _require_positive("CosineScheduler", "max_iter", max_iter)
        self.init_lr = init_lr
        self.max_iter = max_iter

    def get_learning_rate(self, iter):
        return self.init_lr * ((math.cos(iter * 1.0 / self.max_iter * math.pi)
                                + 1.0) * 0.5)


class ExponentialScheduler(BaseLearningRateScheduler):
    """Multiplies the rate by ``gamma`` every ``iter_interval`` iterations:
    ``init_lr * gamma ** (iter // iter_interval)``."""

    def __init__(self, init_lr, gamma, iter_interval=1):
        _require_positive("ExponentialScheduler", "iter_interval", iter_interval)
        self.init_lr = init_lr
        self.gamma = gamma
        self.iter_interval = iter_interval

    def get_learning_rate(self, iter):
        return self.init_lr * (self.gamma ** (iter // self.iter_interval))


class StepScheduler(BaseLearningRateScheduler):
    """Multiplies the rate by ``gamma`` at each iteration listed in
    ``iter_steps``: ``init_lr * gamma ** (number of steps s with iter >= s)``."""

    def __init__(self, init_lr, gamma, iter_steps):
        self.init_lr = init_lr
        self.gamma = gamma
        self.iter_steps = list(iter_steps)

    def get_learning_rate(self, iter):
        passed = sum(1 for s in self.iter_steps if iter >= s)
        return self.init_lr * (self.gamma ** passed)


class LinearWarmupScheduler(BaseLearningRateScheduler):
    """Ramps another schedule up linearly over the first ``warmup_iter``
    iterations: its value times ``(iter + 1) / warmup_iter`` while
    ``iter < warmup_iter``, then the value unchanged."""

    def __init__(self, scheduler, warmup_iter):
        if not hasattr(scheduler, "get_learning_rate"):
            raise TypeError("LinearWarmupScheduler: scheduler must have a "
                            f"get_learning_rate method, got "
                            f"{type(scheduler).__name__}")
        self.scheduler = scheduler
        self.warmup_iter = warmup_iter

    def get_learning_rate(self, iter):
        lr = self.scheduler.get_learning_rate(iter)
        if iter < self.warmup_iter:
            lr *= (iter + 1) * 1.0 / self.warmup_iter
        return lr
