"""GraphProfiler: mean forward and backward time of each function of a graph
(each run on its own, repeatedly), of the whole forward and backward, and of
one training step; GraphProfilerCsvWriter writes them as NNabla's CSV does."""
import csv
import sys
import time
from collections import namedtuple

import numpy as np

from .. import graph as _graph
from .. import parameter as _parameter
from .inspection.profile import synchronize

ProfileStat = namedtuple("ProfileStat", ["parameter_scope", "inputs_shape", "args_info",
                                         "function_name", "mean_time", "n_run"])

_SCALES = {"m": 1e3, "u": 1e6, "n": 1e9}


def convert_time_scale(sec, format="m"):
    """Seconds in milli- ('m'), micro- ('u') or nanoseconds ('n')."""
    if format not in _SCALES:
        raise ValueError(f"convert_time_scale: format must be one of {sorted(_SCALES)}, "
                         f"got {format!r}")
    return sec * _SCALES[format]


class GraphProfiler:
    """Times of the graph up to ``graph``.

    Args:
        graph (Variable): the end of the graph (a loss, to profile training).
        device_id (str): the device's id.
        ext_name (str): 'cpu', 'cuda' or 'cudnn'.
        solver (Solver): when given, a training step (forward, backward,
            update) is timed too.
        n_run (int): runs per measurement (at most).
        max_measure_execution_time (float): stop a measurement's runs after
            this many seconds.
        time_scale (str): 'm' (ms), 'u' (us) or 'n' (ns).
        backward_accum (bool): accumulate gradients into the inputs' as
            backward does when they already hold some.

    ``run()`` fills ``result`` with 'forward' and 'backward' lists of
    ProfileStat (one per function, in forward order) and the whole-graph
    times 'forward_all', 'backward_all', 'training' with their run counts.
    """

    def __init__(self, graph, device_id, ext_name, solver=None, n_run=100,
                 max_measure_execution_time=1, time_scale="m", backward_accum=False):
        if n_run < 1:
            raise ValueError(f"GraphProfiler: n_run must be at least 1, got {n_run}")
        if ext_name not in ("cpu", "cuda", "cudnn"):
            raise ValueError(f"GraphProfiler: ext_name must be 'cpu', 'cuda' or 'cudnn', "
                             f"got {ext_name!r}")
        convert_time_scale(0, time_scale)
        self.graph = graph
        self.solver = solver
        self.n_run = n_run
        self.device_id = str(device_id)
        self.ext_name = ext_name
        self.max_measure_execution_time = max_measure_execution_time
        self.time_scale = time_scale
        self.backward_accum = backward_accum
        self.result = {}
        self.name2val = {id(v._data): k
                         for k, v in _parameter.get_parameters(grad_only=False).items()}

    def _measure_execution_time(self, execution, *args):
        execution(*args)  # warm-up
        synchronize(self.ext_name)
        total, count = 0.0, 0
        first = time.perf_counter()
        for _ in range(self.n_run):
            start = time.perf_counter()
            execution(*args)
            synchronize(self.ext_name)
            stop = time.perf_counter()
            total += stop - start
            count += 1
            if stop - first > self.max_measure_execution_time:
                break
        return f"{convert_time_scale(total / count, self.time_scale):.8}", count

    def _backward_once(self, f):
        xp = f.xp  # the function's arrays where it computes (host or device)
        xs = [x._data._on(xp) for x in f.inputs]
        ys = [y._data._on(xp) if y is not None else None for y in f.outputs]
        gys = [xp.zeros(shape, dtype=np.float32) for shape in f.out_shapes]
        f.need = [x.need_grad for x in f.inputs]
        gxs = f.backward(xp, xs, ys, gys)
        if self.backward_accum:
            for x, gx in zip(f.inputs, gxs):
                if gx is not None and x.need_grad:
                    g = x._grad
                    g._set(g._on(xp) + gx)

    def _stat(self, f, mean_time, count):
        scope = None
        if len(f.inputs) > 1 and id(f.inputs[1]._data) in self.name2val:
            scope = "/".join(self.name2val[id(f.inputs[1]._data)].split("/")[:-1])
        return ProfileStat(parameter_scope=scope, inputs_shape=[tuple(x.shape) for x in f.inputs],
                           args_info=list(f.info.args.items()), function_name=f.info.type_name,
                           mean_time=mean_time, n_run=count)

    def time_profiling_forward(self):
        self.result["forward"] = [self._stat(f, *self._measure_execution_time(
            _graph.run_forward, f)) for f in _graph.topological_order([self.graph])]

    def time_profiling_backward(self):
        self.result["backward"] = [self._stat(f, *self._measure_execution_time(
            self._backward_once, f)) for f in _graph.topological_order([self.graph])]

    def training_function(self):
        self.solver.zero_grad()
        self.graph.forward()
        self.graph.backward()
        self.solver.update()

    def time_profiling_whole_graph(self):
        r = self.result
        r["forward_all"], r["n_run_forward_all"] = self._measure_execution_time(
            self.graph.forward)
        r["backward_all"], r["n_run_backward_all"] = self._measure_execution_time(
            self.graph.backward)
        if self.solver is not None:
            r["training"], r["n_run_training"] = self._measure_execution_time(
                self.training_function)

    def run(self):
        """Measure everything (the graph is run forward once first, for its values)."""
        self.result = {}
        self.graph.forward()
        self.time_profiling_forward()
        self.time_profiling_backward()
        self.time_profiling_whole_graph()

    def get_result(self):
        return self.result

    def print_result(self):
        """The results as text on stdout."""
        print(f"time scale: {self.time_scale}")
        for direction in ("forward", "backward"):
            print(f"-----------------{direction}--------------------")
            for stat in self.result.get(direction, []):
                print(stat)
            print()
        print(f"all forward: {self.result.get('forward_all')}, "
              f"all backward: {self.result.get('backward_all')}")


class GraphProfilerCsvWriter:
    """Write a run GraphProfiler's results as CSV.

    Args:
        gb (GraphProfiler): a profiler after ``run()``.
        file (file object): where to write (default: stdout).
    """

    def __init__(self, gb, file=sys.stdout):
        self.gb = gb
        self.file = file
        self._writer = csv.writer(file, lineterminator="\n")

    def write_header(self):
        from .. import __version__
        gb = self.gb
        for row in (["num. of run", gb.n_run], ["device id", gb.device_id],
                    ["ext name", gb.ext_name], ["time scale", gb.time_scale],
                    ["nablite version", __version__], []):
            self._writer.writerow(row)

    def check_same(self, f, b):
        return (f.function_name == b.function_name and f.inputs_shape == b.inputs_shape
                and f.parameter_scope == b.parameter_scope)

    def write(self):
        """Header, one row per function (forward and backward times), then the totals."""
        r = self.gb.result
        if "forward" not in r:
            raise ValueError("GraphProfilerCsvWriter.write: run the GraphProfiler first")
        self.write_header()
        w = self._writer
        w.writerow(["parameter_scope", "function_name", "inputs_shape", "args_info",
                    "forward", "backward", "forward_n_run", "backward_n_run"])
        for f, b in zip(r["forward"], r["backward"]):
            if not self.check_same(f, b):
                raise ValueError(f"GraphProfilerCsvWriter: forward row {f.function_name} "
                                 f"and backward row {b.function_name} do not match")
            args = ", ".join(f"{k}: {v}" for k, v in f.args_info)
            w.writerow([f.parameter_scope or "", f.function_name, str(f.inputs_shape), args,
                        f.mean_time, b.mean_time, f.n_run, b.n_run])
        for label, key in (("forward all", "forward_all"), ("backward all", "backward_all"),
                           ("training(forward + backward + update)", "training")):
            if key in r:  # blocks apart by an empty row, none after the last (as NNabla)
                w.writerow([])
                w.writerow([label, r[key]])
                w.writerow([f"{key}_n_run", r[f"n_run_{key}"]])
