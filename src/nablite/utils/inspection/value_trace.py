"""NanInfTracer: which function first produced NaN or Inf, in forward or backward."""
import contextlib
from collections import OrderedDict

from ... import backend


def _ordinal(n):
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


class NanInfTracer:
    """Hooks that record, per function, how many NaN/Inf its outputs (forward)
    or its inputs' gradients (backward) hold; ``check()`` raises ValueError
    naming the first function in execution order that has any.

    Args:
        trace_nan (bool): look for NaN.
        trace_inf (bool): look for +-Inf.
        need_details (bool): put the function's type, shapes and arguments in the error.

    Example:
        nit = NanInfTracer()
        with nit.trace():
            y.forward(function_post_hook=nit.forward_post_hook)
            y.backward(function_post_hook=nit.backward_post_hook)
    """

    def __init__(self, trace_nan=True, trace_inf=True, need_details=True):
        self.trace_nan = trace_nan
        self.trace_inf = trace_inf
        self.need_details = need_details
        self.key_to_stat_fwd = OrderedDict()
        self.key_to_stat_bwd = OrderedDict()

    def _counts(self, nds):
        """NaN/Inf counts of NdArrays, counted where their newest copy is (on a
        device only the counts cross to the host, not the arrays)."""
        out = {"nan": [], "inf": []}
        for nd in nds:
            if nd._arr is None or nd._zeroing:  # zeros (not allocated yet): none
                out["nan"].append(0)
                out["inf"].append(0)
                continue
            a = nd._current()
            xp = backend.array_module(a)
            out["nan"].append(int(xp.isnan(a).sum()) if self.trace_nan else 0)
            out["inf"].append(int(xp.isinf(a).sum()) if self.trace_inf else 0)
        return out

    def _record(self, table, f):
        table.pop(f, None)  # keep the order of the latest run
        table[f] = {"name": f.name, "rank": f.rank}

    @property
    def pre_hook(self):
        return None

    @property
    def post_hook(self):
        raise NotImplementedError("NanInfTracer: use forward_post_hook for forward and "
                                  "backward_post_hook for backward")

    @property
    def forward_post_hook(self):
        """A function_post_hook for forward() counting NaN/Inf in each function's outputs."""
        if not (self.trace_nan or self.trace_inf):
            return None

        def callback(f):
            self._record(self.key_to_stat_fwd, f)
            self.key_to_stat_fwd[f].update(
                self._counts([y.data for y in f.outputs if y is not None]))
        return callback

    @property
    def backward_post_hook(self):
        """A function_post_hook for backward(): the inputs' gradients of each
        function are counted when ``check()`` runs (after backward has written them)."""
        if not (self.trace_nan or self.trace_inf):
            return None

        def callback(f):
            self._record(self.key_to_stat_bwd, f)
        return callback

    @contextlib.contextmanager
    def trace(self):
        """A with-block that calls ``check()`` when it ends."""
        yield self
        self.check()

    def _check(self, table, direction, values):
        history = []
        for f, stat in table.items():
            if "nan" not in stat:
                stat.update(self._counts(values(f)))
            history.append(f"{stat['name']} (rank {stat['rank']})")
            bad = [i for i, (n, m) in enumerate(zip(stat["nan"], stat["inf"])) if n or m]
            if bad:
                i = bad[0]
                which = "output" if direction == "forward" else "input gradient"
                msg = (f"NanInfTracer: in {direction}, the {_ordinal(i + 1)} {which} of "
                       f"function '{stat['name']}' (rank {stat['rank']}) has "
                       f"{stat['nan'][i]} NaN and {stat['inf'][i]} Inf values")
                if self.need_details:
                    msg += (f"; type {f.info.type_name}, input shapes "
                            f"{[tuple(x.shape) for x in f.inputs]}, output shapes "
                            f"{[tuple(y.shape) for y in f.outputs if y is not None]}, "
                            f"args {f.info.args}")
                msg += "; functions run before it: " + " -> ".join(history[:-1] or ["none"])
                raise ValueError(msg)

    def check(self):
        """Raise ValueError naming the first function with NaN/Inf (forward, then backward)."""
        self._check(self.key_to_stat_fwd, "forward", lambda f: [])
        self._check(self.key_to_stat_bwd, "backward", lambda f: [x.grad for x in f.inputs])
