"""``DataParallelCommunicator``: NNabla's single-process communicator that
reduces between the devices (contexts) of one process.

Each registered (context, parameters) pair is one replica of the model;
``allreduce`` sums (or averages) the gradients of corresponding parameters
(the i-th of every dict) and gives every replica the result, computed on the
communicator's device (the context's ``xp``); no MPI is involved.
"""
from ._arrays import device_arrays
from .communicator import Communicator

__all__ = ["DataParallelCommunicator"]


class DataParallelCommunicator(Communicator):
    """Collectives between the model replicas of one process.

    Args:
        ctx (Context): The context of the communicator.
    """

    name = "DataParallelCommunicator"

    def init(self):
        """Fix the replicas: ``size`` is the number of registered pairs."""
        if not self._ctx_params:
            raise RuntimeError("DataParallelCommunicator.init: register the replicas with "
                               "add_context_and_parameters((ctx, params)) first")
        counts = {len(p) for _, p in self._ctx_params}
        if len(counts) != 1:
            raise ValueError(f"DataParallelCommunicator.init: the replicas have different "
                             f"numbers of parameters {sorted(counts)}")
        self._size, self._rank, self._local_rank = len(self._ctx_params), 0, 0
        self._initialized = True

    def _replicas(self, where):
        self._check_init(where)
        return [[v.grad for v in params.values()] for _, params in self._ctx_params]

    def allreduce(self, division=False, inplace=False):
        """Sum the gradients of corresponding parameters over the replicas;
        every replica gets the sum (the mean with ``division``)."""
        replicas = self._replicas("allreduce")
        for grads in zip(*replicas):
            self.all_reduce(list(grads), division=division, inplace=inplace)

    def all_reduce(self, data, division=False, inplace=False, group="world"):
        """Sum the arrays of ``data`` (one NdArray per replica) and write the
        sum (the mean with ``division``) into each."""
        self._check_init("all_reduce")
        if group != "world":
            raise ValueError(f"DataParallelCommunicator.all_reduce: only the group 'world' "
                             f"exists, got {group!r}")
        xp = self.xp
        arrays = device_arrays(data, "all_reduce", xp)
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"DataParallelCommunicator.all_reduce: the arrays have different "
                             f"shapes {sorted(shapes)}")
        total = xp.sum(xp.stack(arrays), axis=0)
        if division:
            total = total / len(arrays)
        for a in arrays:
            xp.copyto(a, total, casting="unsafe")

    def barrier(self):
        """Nothing to wait for in one process."""
        self._check_init("barrier")

    def find_group(self, group):
        return list(range(self.size)) if group == "world" else []

    def list_groups(self):
        return {"world": list(range(self.size))}
