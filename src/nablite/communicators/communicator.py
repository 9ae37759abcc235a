"""NNabla's ``Communicator`` interface and its MPI implementation,
``MultiProcessDataParallelCommunicator``: one process per rank, started by
``mpiexec``, exchanging NumPy arrays through mpi4py. Device arrays (a 'cuda' /
'cudnn' context) are packed on the device and cross to the host once per
message (see ``_arrays``).

Every collective is non-blocking underneath (``Iallreduce``, ``Ibcast``, ...)
and completed through ``Watch.wait``, so a rank that has left the job is
noticed instead of waited for (see ``_mpi.py``).
"""
import weakref

import numpy as np

from .. import backend
from ._arrays import by_dtype, device_arrays, from_host, ndarrays, pack, to_host, unpack
from ._mpi import mpi, watch

__all__ = ["Communicator", "MultiProcessDataParallelCommunicator"]


class Communicator:
    """NNabla's communicator interface: collectives over the ranks of a group.

    ``rank``, ``size`` and ``local_rank`` are this process's rank, the number
    of processes and the rank among the processes of this host; groups are
    named lists of ranks (``"world"`` holds all of them).
    """

    name = "Communicator"

    def __init__(self, ctx):
        self.ctx = ctx
        self._ctx_params = []
        self._initialized = False
        backends = getattr(ctx, "backend", None) or ["cpu"]
        # the array module of the context's device: arrays are reduced there
        self.xp = backend.module_for(backends[0].split(":")[0])

    def _arrays(self, data, where):
        """The arrays behind ``data`` (an NdArray or a list of them) on this
        communicator's device; in-place writes reach the NdArrays."""
        return device_arrays(data, where, self.xp)

    def _check_init(self, where):
        if not self._initialized:
            raise RuntimeError(f"{type(self).__name__}.{where}: call init() first")

    @property
    def size(self):
        self._check_init("size")
        return self._size

    @property
    def rank(self):
        self._check_init("rank")
        return self._rank

    @property
    def local_rank(self):
        self._check_init("local_rank")
        return self._local_rank

    def add_context_and_parameters(self, ctx_param_dict):
        """Register a (context, {name: Variable}) pair; ``allreduce()`` reduces
        the gradients of the registered parameters."""
        ok = (isinstance(ctx_param_dict, tuple) and len(ctx_param_dict) == 2
              and isinstance(ctx_param_dict[1], dict))
        if not ok:
            raise TypeError(f"{type(self).__name__}.add_context_and_parameters: expected a "
                            f"(context, dict of Variables) tuple, got {ctx_param_dict!r:.80}")
        self._ctx_params.append(ctx_param_dict)

    def clear_context_parameters(self):
        """Forget every registered (context, parameters) pair."""
        self._ctx_params = []


class MultiProcessDataParallelCommunicator(Communicator):
    """Data-parallel collectives between processes, over MPI (mpi4py).

    Start one process per rank with ``mpiexec -n N python script.py``; each
    builds the same network, trains on its own part of the data, and
    all-reduces the gradients before the solver's update::

        comm = C.MultiProcessDataParallelCommunicator(ctx)
        comm.init()
        ...
        loss.backward(clear_buffer=True)
        comm.all_reduce([v.grad for v in nn.get_parameters().values()], division=True)
        solver.update()

    ``init()`` also makes the job fail fast: an uncaught exception in any
    rank aborts all ranks, and a rank that exits (``sys.exit``) while others
    wait for it in a collective makes them abort, so ``mpiexec`` returns a
    non-zero status instead of hanging.

    Args:
        ctx (Context): The context of the arrays reduced. With a 'cuda' /
            'cudnn' context the arrays stay on the device; each packed message
            goes through one host copy, as MPI here is not CUDA-aware (NCCL is
            not supported yet).
    """

    name = "MultiProcessDataParallelCommunicatorMpi"

    def __init__(self, ctx):
        super().__init__(ctx)
        self._MPI = mpi()
        # gradient arrays all_reduce_callback saw shared; weak, so that a freed
        # array's id reused by a new one does not hold the new one back
        self._shared_grads = weakref.WeakSet()

    def init(self):
        """Join the MPI job: learn rank, size and local rank, create the world
        group, and install the abort-on-failure watch. Call it once per process."""
        if self._initialized:
            return
        MPI = self._MPI
        self._watch = watch()
        self._serial = self._watch.register()
        world = MPI.COMM_WORLD.Dup()  # the collectives' own message space
        self._rank, self._size = world.Get_rank(), world.Get_size()
        node = world.Split_type(MPI.COMM_TYPE_SHARED)
        self._local_rank = node.Get_rank()
        node.Free()
        self._world = world
        self._groups = {"world": list(range(self._size))}
        self._comms = {"world": world}
        self._initialized = True

    # -- groups -----------------------------------------------------------
    def new_group(self, name_ranks):
        """Create the group ``name`` of the given world ranks and return its
        name. Every rank of the group must call it; others may (and then only
        learn the name)."""
        self._check_init("new_group")
        where = "MultiProcessDataParallelCommunicator.new_group"
        if not (isinstance(name_ranks, (tuple, list)) and len(name_ranks) == 2
                and isinstance(name_ranks[0], str)):
            raise TypeError(f"{where}: expected (name, ranks), got {name_ranks!r:.80}")
        name, ranks = name_ranks[0], [int(r) for r in name_ranks[1]]
        if name in self._groups:
            raise ValueError(f"{where}: a group named {name!r} exists already "
                             f"(ranks {self._groups[name]})")
        bad = [r for r in ranks if not 0 <= r < self._size]
        if bad or not ranks or len(set(ranks)) != len(ranks):
            raise ValueError(f"{where}: ranks must be distinct ranks in [0, {self._size}), "
                             f"got {ranks}")
        self._groups[name] = ranks
        if self._rank in ranks:
            group = self._world.Get_group().Incl(ranks)
            self._comms[name] = self._world.Create_group(group)
            group.Free()
        return name

    def find_group(self, group):
        """The ranks of ``group``, or [] if there is no such group."""
        self._check_init("find_group")
        return list(self._groups.get(group, []))

    def list_groups(self):
        """{group name: ranks} of every group, "world" included."""
        self._check_init("list_groups")
        return {k: list(v) for k, v in self._groups.items()}

    def _comm(self, group, where):
        """The MPI communicator of ``group`` (None when this rank is not in it)."""
        self._check_init(where)
        if group not in self._groups:
            raise ValueError(f"MultiProcessDataParallelCommunicator.{where}: no group named "
                             f"{group!r}; groups are {sorted(self._groups)}")
        return self._comms.get(group)

    def _wait(self, requests, group, what):
        ranks = self._groups[group]
        for r in requests:
            self._watch.wait(r, f"{self._serial}/{group}", ranks, what)

    # -- collectives ------------------------------------------------------
    def _reduce_arrays(self, arrays, group, where, division=False, inplace=False):
        """Sum ``arrays`` (of this communicator's device, in place) over ``group``:
        one packed message per dtype, or with ``inplace`` on the host one
        message per array (on a device every message crosses the host, so
        ``inplace`` packs too: one copy each way per dtype)."""
        comm = self._comm(group, where)
        if comm is None or not arrays:
            return
        MPI, xp = self._MPI, self.xp
        scale = 1.0 / comm.Get_size() if division else None
        if inplace and xp is np:
            direct = [a for a in arrays if a.flags.c_contiguous]
            self._wait([comm.Iallreduce(MPI.IN_PLACE, a, op=MPI.SUM) for a in direct],
                       group, where)
            if scale is not None:
                for a in direct:
                    np.multiply(a, scale, out=a, casting="unsafe")
            arrays = [a for a in arrays if not a.flags.c_contiguous]
        for same in by_dtype(arrays):
            buf = to_host(pack(same, xp))
            self._wait([comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM)], group, where)
            unpack(from_host(buf, xp), same, scale, xp)

    def all_reduce(self, data, division=False, inplace=False, group="world"):
        """Sum ``data`` (an NdArray or a list of them) over the ranks of
        ``group``, in place; divide by the group's size with ``division``.

        Args:
            data (NdArray or list of NdArray): Arrays to reduce (e.g. ``v.grad``).
            division (bool): Average instead of sum.
            inplace (bool): Reduce each array in its own memory (one message
                each) instead of through one packed copy (one message, more
                memory). The results are the same.
            group (str): Name of the group.
        """
        self._reduce_arrays(self._arrays(data, "all_reduce"), group, "all_reduce", division,
                            inplace)

    def all_reduce_callback(self, data, pack_size, division=False, group="world",
                            scale_grad=1, keep_dtype=False):
        """A callback for ``Variable.backward(communicator_callbacks=...)`` that
        all-reduces the gradient arrays ``data`` while backward runs: each
        array is packed as soon as its gradient is complete, a pack of about
        ``pack_size`` values is sent at once (non-blocking), and the results
        are written back when backward finishes.

        Args:
            data (list of NdArray): Gradient arrays (``[v.grad for v in params]``).
            pack_size (int): Values per message.
            division (bool): Average instead of sum.
            group (str): Name of the group.
            scale_grad (float): Multiply the gradients by this before reducing.
            keep_dtype (bool): Accepted for NNabla's signature; arrays always
                keep their dtype here.
        """
        from .callback import AllReduceCallback
        # NdArrays, not their arrays: a gradient zeroed by zero_grad() stays lazily zero
        return AllReduceCallback(self, ndarrays(data, "all_reduce_callback"), pack_size,
                                 division, group, scale_grad)

    def allreduce(self, division=False, inplace=False):
        """All-reduce the gradients of the parameters registered with
        ``add_context_and_parameters`` (NNabla's older form of ``all_reduce``)."""
        grads = [v.grad for _, params in self._ctx_params for v in params.values()]
        self.all_reduce(grads, division=division, inplace=inplace)

    def reduce(self, data, dst, division=False, inplace=False, group="world"):
        """Sum ``data`` over ``group`` into the arrays of rank ``dst`` (a rank
        within the group); the others' arrays are left as they are."""
        comm = self._comm(group, "reduce")
        arrays = self._arrays(data, "reduce")
        if comm is None:
            return
        dst = self._root(dst, comm, "reduce", "dst")
        MPI, me, xp = self._MPI, comm.Get_rank(), self.xp
        scale = 1.0 / comm.Get_size() if division else None
        for same in by_dtype(arrays):
            buf = to_host(pack(same, xp))
            if me == dst:
                req = comm.Ireduce(MPI.IN_PLACE, buf, op=MPI.SUM, root=dst)
            else:
                req = comm.Ireduce(buf, None, op=MPI.SUM, root=dst)
            self._wait([req], group, "reduce")
            if me == dst:
                unpack(from_host(buf, xp), same, scale, xp)

    def bcast(self, data, src, inplace=False, group="world"):
        """Copy the arrays of rank ``src`` (a rank within ``group``) into
        everyone's ``data``."""
        comm = self._comm(group, "bcast")
        arrays = self._arrays(data, "bcast")
        if comm is None:
            return
        src = self._root(src, comm, "bcast", "src")
        xp = self.xp
        for same in by_dtype(arrays):
            buf = to_host(pack(same, xp))
            self._wait([comm.Ibcast(buf, root=src)], group, "bcast")
            unpack(from_host(buf, xp), same, None, xp)

    def all_gather(self, ndarray, ndarray_list, group="world"):
        """Every rank's ``ndarray`` into ``ndarray_list`` (one NdArray per rank
        of the group, in rank order)."""
        comm = self._comm(group, "all_gather")
        x = self._arrays(ndarray, "all_gather")
        ys = self._arrays(ndarray_list, "all_gather")
        if comm is None:
            return
        x, xp = x[0], self.xp
        self._check_parts(ys, x.shape, x.dtype, comm.Get_size(), "all_gather", "ndarray_list")
        out = np.empty((len(ys),) + x.shape, x.dtype)
        send = to_host(xp.ascontiguousarray(x))
        self._wait([comm.Iallgather(send, out)], group, "all_gather")
        unpack(from_host(out.reshape(-1), xp), ys, None, xp)

    def reduce_scatter(self, ndarray_list, ndarray, division=False, group="world"):
        """Sum ``ndarray_list`` (one NdArray per rank of the group) over the
        group, and give rank i the i-th sum in ``ndarray``."""
        comm = self._comm(group, "reduce_scatter")
        xs = self._arrays(ndarray_list, "reduce_scatter")
        y = self._arrays(ndarray, "reduce_scatter")
        if comm is None:
            return
        y, xp = y[0], self.xp
        self._check_parts(xs, y.shape, y.dtype, comm.Get_size(), "reduce_scatter",
                          "ndarray_list")
        send = to_host(xp.concatenate([x.ravel() for x in xs]))
        out = np.empty(y.size, y.dtype)
        self._wait([comm.Ireduce_scatter_block(send, out, op=self._MPI.SUM)], group,
                   "reduce_scatter")
        unpack(from_host(out, xp), [y], 1.0 / comm.Get_size() if division else None, xp)

    def barrier(self):
        """Wait until every rank has come here."""
        self._check_init("barrier")
        self._wait([self._world.Ibarrier()], "world", "barrier")

    def abort(self):
        """End the whole MPI job (every rank) at once."""
        self._check_init("abort")
        self._watch.abort(f"rank {self._rank} called abort()")

    # -- argument checks --------------------------------------------------
    def _root(self, root, comm, where, label):
        n = comm.Get_size()
        if isinstance(root, bool) or not isinstance(root, (int, np.integer)) \
                or not 0 <= root < n:
            raise ValueError(f"MultiProcessDataParallelCommunicator.{where}: {label} must be "
                             f"a rank of the group in [0, {n}), got {root!r}")
        return int(root)

    @staticmethod
    def _check_parts(parts, shape, dtype, n, where, label):
        if len(parts) != n:
            raise ValueError(f"MultiProcessDataParallelCommunicator.{where}: {label} has "
                             f"{len(parts)} arrays; the group has {n} ranks")
        for i, p in enumerate(parts):
            if p.shape != shape or p.dtype != dtype:
                raise ValueError(f"MultiProcessDataParallelCommunicator.{where}: {label}[{i}] "
                                 f"is {p.dtype}{p.shape}, expected {dtype}{shape}")
