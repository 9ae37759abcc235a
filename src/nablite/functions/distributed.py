"""Distributed: functions whose values depend on other processes —
synchronized batch normalization, whose statistics are those of the batch
spread over the ranks of a communicator group.

``SyncBatchNormalization`` is :class:`BatchNormalization` with two points
where the ranks meet: forward sums the per-channel sums (and then the
squared deviations) over the group before normalizing, and backward sums the
two per-channel sums that the input's gradient needs. The running statistics
are updated from the group's statistics, so every rank keeps the same ones.
beta's and gamma's gradients stay local: the data-parallel all-reduce of all
parameters' gradients sums them like any other.
"""
import numpy as np

from .._array import NdArray
from ..backend import to_numpy
from .base import named, require, sum_to
from .normalization import BatchNormalization, _dot_over, _present

__all__ = ["sync_batch_normalization"]


class SyncBatchNormalization(BatchNormalization):
    """Batch normalization over the concatenated batch of a communicator group."""

    def __init__(self, comm, group="world", *bn_args):
        self._comm = comm
        self.group = group
        super().__init__(*bn_args)

    def _several(self):
        """Whether there are other ranks to share statistics with (with one
        process this is exactly BatchNormalization, bit for bit)."""
        return self._comm is not None and self._comm.size > 1

    def _sum_over_group(self, xp, *parts):
        """``parts`` (arrays of ``xp``) summed over the group's ranks, in one message.

        The message travels through the communicator's host buffer: one explicit
        copy to the host and one back (none on the CPU)."""
        flat = NdArray.from_numpy_array(to_numpy(xp.concatenate([p.ravel() for p in parts])))
        self._comm.all_reduce(flat, division=False, inplace=True, group=self.group)
        total, out, offset = xp.asarray(flat.data), [], 0
        for p in parts:
            out.append(total[offset:offset + p.size].reshape(p.shape).astype(p.dtype, copy=False))
            offset += p.size
        return out

    def _standardize(self, xp, x, beta, gamma):
        if not self._several():
            return super()._standardize(xp, x, beta, gamma)
        red = self._red
        local_sum = x.sum(axis=red, keepdims=True)
        total, count = self._sum_over_group(xp, local_sum,
                                            xp.full(1, self._local_n, dtype=np.float64))
        # the group's count (backward and the running update need it as a number)
        self._n = int(round(float(to_numpy(count)[0])))
        mean = total * (1 / self._n)
        y = x - mean
        var = self._sum_over_group(xp, _dot_over(xp, y, y, red))[0] * (1 / self._n)
        inv_std = 1 / xp.sqrt(var + self.eps)
        self._mean, self._inv_std = mean, inv_std
        y *= inv_std if gamma is None else inv_std * gamma
        if beta is not None:
            y += beta
        return y, mean, var

    def setup(self, x, *params):
        out = super().setup(x, *params)
        self._local_n = self._n
        return out

    def composite(self, x, *params):
        if self.batch_stat and self._several():
            raise NotImplementedError(
                "F.sync_batch_normalization: nn.grad through batch statistics of several "
                "processes is not supported; use backward() for the gradients")
        return super().composite(x, *params)

    def backward(self, xp, xs, ys, gys):
        if not (self.batch_stat and self._several()):
            return super().backward(xp, xs, ys, gys)
        x, params = xs[0], xs[1:]
        beta, gamma, running = self._split(params)
        red, need, n = self._red, self.need, self._n
        gy = gys[0]
        x_hat = (x - self._mean) * self._inv_std
        s1 = gy.sum(axis=red, keepdims=True)
        s2 = _dot_over(xp, gy, x_hat, red)
        gbeta = sum_to(xp, s1, beta.shape) if beta is not None and need[1] else None
        ggamma = None
        if gamma is not None and need[1 + (beta is not None)]:
            ggamma = sum_to(xp, s2, gamma.shape)
        gx = None
        if need[0]:
            extra = list(gys[1:3]) if self._output_stat else []
            s1, s2, *extra = self._sum_over_group(xp, s1, s2, *extra)
            gx = x_hat
            gx *= s2 * (1 / n)
            gx += s1 * (1 / n)
            xp.subtract(gy, gx, out=gx)
            gx *= self._inv_std if gamma is None else gamma * self._inv_std
            if extra:  # the mean and variance outputs are the group's, shared by every rank
                gmean, gvar = extra
                gx += gmean / n + gvar * (2 / n) * (x - self._mean)
        grads = (gx,) + tuple(g for g, p in ((gbeta, beta), (ggamma, gamma)) if p is not None)
        return grads + (None,) * len(running)


@named
def sync_batch_normalization(x, beta, gamma, mean, variance, comm, group='world', axes=[1],
                             decay_rate=0.9, eps=1e-05, batch_stat=True, output_stat=False,
                             n_outputs=None):
    r"""Synchronized batch normalization: :func:`batch_normalization` whose batch
    statistics are those of the whole batch spread over the processes of
    ``comm``'s ``group``, so small per-process batches normalize as one.

    .. math::
        \mu = \frac{1}{N} \sum_{r} \sum_{i} x_{r,i}, \quad
        \sigma^2 = \frac{1}{N} \sum_{r} \sum_{i} (x_{r,i} - \mu)^2, \quad
        y = \gamma \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta

    where r runs over the ranks of the group and N counts the elements of
    one statistic over all of them. The output, the input's gradient and the
    running statistics equal :func:`batch_normalization` over the
    concatenated batch; beta's and gamma's gradients are this rank's share
    (the data-parallel all-reduce of the parameters' gradients sums them).
    With ``batch_stat=False`` the running statistics are used and nothing is
    exchanged.

    Args:
        x (Variable): Input.
        beta, gamma (Variable or None): Shift and scale (shape 1 except at ``axes``).
        mean, variance (Variable or None): Running statistics (no gradient).
        comm: A communicator (``nablite.communicators``), or None for one process.
        group (str): Communicator group sharing the statistics.
        axes (list of int): Axes with their own statistics.
        decay_rate (float), eps (float), batch_stat (bool), output_stat (bool):
            As in :func:`batch_normalization`.

    Returns:
        Variable, or (y, mean, variance) if output_stat.
    """
    name = "F.sync_batch_normalization"
    if comm is not None:
        size = getattr(comm, "size", None)
        require(name, isinstance(size, int) and not isinstance(size, bool),
                f"comm must be None or a communicator with an integer size, got "
                f"{type(comm).__name__} with size {size!r}", TypeError)
        require(name, size >= 1, f"comm has size {size}; a communicator has at least 1 process")
        require(name, size == 1 or callable(getattr(comm, "all_reduce", None)),
                f"comm has size {size}, but a {type(comm).__name__} has no all_reduce to "
                "share the statistics through; synchronizing several processes is "
                "implemented over a communicator of nablite.communicators",
                NotImplementedError)
        groups = getattr(comm, "find_group", None)
        if size > 1 and callable(groups) and isinstance(group, str):
            require(name, bool(groups(group)), f"comm has no group {group!r}")
    require(name, isinstance(group, str), f"group must be a str, got {group!r}", TypeError)
    has_running = mean is not None and variance is not None
    f = SyncBatchNormalization(comm, group, axes, decay_rate, eps, batch_stat, gamma is None,
                               beta is None, output_stat, has_running)
    running = [mean, variance] if has_running else []
    return f(*_present(x, beta, gamma), *running)
