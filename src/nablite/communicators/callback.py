"""The all-reduce that overlaps backward: ``comm.all_reduce_callback(...)``.

Backward runs the functions from the loss down to the first layer, so the
last layer's gradients are complete long before the first layer's. The
callback hears of each function as its backward finishes
(``on_finish_function_backward``); a parameter's gradient is complete once
the function that consumes it has been accumulated, which has happened by
the time the next function reports. Complete gradients are packed (copied
into a message of about ``pack_size`` values, in backward order) and sent
with a non-blocking ``Iallreduce`` while backward goes on; ``on_finish``
sends what is left, waits for every message and writes the sums back.

A parameter used by several functions (shared weights) gets contributions
after its first consumer: when a second consumer reports, that parameter is
reduced again, whole, at ``on_finish`` (its early result is dropped), and
the communicator remembers to hold it back the next time.

Device gradients (a 'cuda' / 'cudnn' communicator) are packed on the device;
each message crosses to the host once for MPI and back once at ``on_finish``.
"""
import numpy as np

from ._arrays import by_dtype, from_host, on, pack, to_host

__all__ = ["AllReduceCallback"]


class AllReduceCallback:
    """Returned by ``all_reduce_callback``; pass it to
    ``Variable.backward(communicator_callbacks=...)``."""

    def __init__(self, comm, ndarrays, pack_size, division, group, scale_grad):
        if isinstance(pack_size, bool) or not isinstance(pack_size, (int, np.integer)) \
                or pack_size < 1:
            raise ValueError(f"all_reduce_callback: pack_size must be a positive int, got "
                             f"{pack_size!r}")
        self._comm = comm
        self._mpi = comm._comm(group, "all_reduce_callback")
        self._group = group
        self._nds = ndarrays
        self._index = {id(nd): i for i, nd in enumerate(self._nds)}
        self._pack_size = int(pack_size)
        self._division = division
        self._scale_grad = scale_grad
        self._held = {i for i, nd in enumerate(self._nds) if nd in comm._shared_grads}
        self._early_messages = 0  # sent before on_finish, over this callback's life
        self._start()

    def _start(self):
        self._seen = set()       # functions heard of in this backward
        self._queued = set()     # parameters packed or about to be
        self._last = []          # complete once the next function reports
        self._pack = []          # complete, waiting for a full pack
        self._pack_values = 0
        self._messages = []      # (request, buffer, indices) in flight
        self._again = set()      # shared parameters to reduce whole at the end

    def on_finish_function_backward(self, function):
        """Called after each function's backward (before or after its
        gradients are accumulated: either works)."""
        if self._mpi is None or id(function) in self._seen:
            return
        self._seen.add(id(function))
        self._settle()
        for x in function.inputs:
            i = self._index.get(id(x.grad))
            if i is None or i in self._held:
                continue
            if i in self._queued:
                self._again.add(i)
                self._comm._shared_grads.add(self._nds[i])
            else:
                self._queued.add(i)
                self._last.append(i)
        if self._messages:  # MPI progresses non-blocking collectives inside its calls
            self._comm._MPI.Request.Testall([m[0] for m in self._messages])

    def on_finish(self):
        """Called when backward is done: send the rest, wait, write back."""
        if self._mpi is None:
            return
        self._pack.extend(self._last)
        rest = [i for i in range(len(self._nds)) if i not in self._queued or i in self._again]
        self._pack = list(dict.fromkeys(self._pack + rest))
        self._send(final=True)
        self._comm._wait([m[0] for m in self._messages], self._group, "all_reduce_callback")
        scale = 1.0 / self._mpi.Get_size() if self._division else None
        xp = self._comm.xp
        for _, buf, indices, final in self._messages:
            buf = from_host(buf, xp)
            offset = 0
            for i in indices:
                a = on(self._nds[i], xp)
                if final or i not in self._again:
                    part = buf[offset:offset + a.size].reshape(a.shape)
                    if scale is None:
                        xp.copyto(a, part, casting="unsafe")
                    else:
                        xp.multiply(part, scale, out=a, casting="unsafe")
                offset += a.size
        self._start()

    def _settle(self):
        for i in self._last:
            self._pack.append(i)
            self._pack_values += self._nds[i].size
        self._last = []
        if self._pack_values >= self._pack_size:
            self._send()
            self._early_messages += 1

    def _send(self, final=False):
        MPI, xp = self._comm._MPI, self._comm.xp
        arrays = [(i, on(self._nds[i], xp)) for i in self._pack]
        for same in by_dtype([a for _, a in arrays]):
            ids = {id(a) for a in same}
            indices = [i for i, a in arrays if id(a) in ids]
            buf = to_host(pack(same, xp))
            if self._scale_grad != 1:
                buf *= self._scale_grad
            req = self._mpi.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            self._messages.append((req, buf, indices, final))
        self._pack, self._pack_values = [], 0
