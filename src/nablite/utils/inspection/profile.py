"""TimeProfiler: time each function (and each with-block) over iterations,
through forward/backward hooks; results as a table on stdout or CSV files."""
import csv
import contextlib
import io
import os
import time
from collections import OrderedDict

import numpy as np

from ..._atomic_file import atomic_write
from .base import FunctionHookCallbackBase


def synchronize(ext_name):
    """Wait for the device of ``ext_name`` ('cpu': nothing to wait for; CuPy
    without a usable GPU, or the simulated device: nothing ran on a GPU)."""
    if ext_name != "cpu":
        from ... import backend
        backend.synchronize()


class CpuTimerCallback(FunctionHookCallbackBase):
    """Wall-clock times between pre_hook(key) and post_hook(key), per key
    (a function, or a scope name); ``calc_elapsed_time`` files the latest ones."""

    def __init__(self, ext_name, device_id):
        self.ext_name = ext_name
        self.device_id = str(device_id)
        self.results = OrderedDict()
        self.key_to_times = OrderedDict()

    @staticmethod
    def timer():
        return time.perf_counter()

    @property
    def pre_hook(self):
        def callback(key):
            self.key_to_times.setdefault(key, [0.0, 0.0])[0] = self.timer()
        return callback

    @property
    def post_hook(self):
        def callback(key):
            if key not in self.key_to_times:
                raise ValueError(f"CpuTimerCallback: post_hook for {key!r} without its pre_hook")
            synchronize(self.ext_name)
            self.key_to_times[key][1] = self.timer()
        return callback

    def calc_elapsed_time(self):
        for key, (start, stop) in self.key_to_times.items():
            self.results.setdefault(key, []).append(stop - start)

    def average(self, start_index=0):
        """{key: {'time': mean ms, 'num': count, 'scale': 'ms'}} from run ``start_index`` on."""
        out = {}
        for key, times in self.results.items():
            kept = times[start_index:]
            out[key] = {"time": float(np.mean(kept)) * 1e3 if kept else float("nan"),
                        "num": len(kept), "scale": "ms"}
        return out


class TimeProfiler(FunctionHookCallbackBase):
    """Times of each function under named scopes, and of each scope as a whole
    (the "summary" scope).

    Args:
        ext_name (str): 'cpu', 'cuda' or 'cudnn' (device work is waited for).
        device_id (str): the device's id.

    Example:
        tp = TimeProfiler("cpu", "0")
        for i in range(10):
            with tp.scope("forward"):
                y.forward(function_pre_hook=tp.pre_hook, function_post_hook=tp.post_hook)
            with tp.scope("backward"):
                y.backward(function_pre_hook=tp.pre_hook, function_post_hook=tp.post_hook)
            tp.calc_elapsed_time(["forward", "backward", "summary"])
        tp()                  # a table on stdout (the first iteration left out)
        tp.to_csv("prof")     # prof/profile_summary.csv, prof/profile_detail.csv
    """

    def __init__(self, ext_name, device_id):
        if ext_name not in ("cpu", "cuda", "cudnn"):
            raise NotImplementedError(f"TimeProfiler: ext_name must be 'cpu', 'cuda' or "
                                      f"'cudnn', got {ext_name!r}")
        self.profiler = CpuTimerCallback
        self.ext_name = ext_name
        self.device_id = str(device_id)
        self._scope_name = ""
        self.profilers = {}
        self.create_new_profiler("summary")

    def create_new_profiler(self, scope_name):
        self.profilers[scope_name] = self.profiler(self.ext_name, self.device_id)

    @contextlib.contextmanager
    def scope(self, scope_name):
        """Time what runs inside under ``scope_name`` (and the block itself in "summary")."""
        previous = self._scope_name
        if scope_name not in self.profilers:
            self.create_new_profiler(scope_name)
        self.call_pre_hook("summary", scope_name)
        self._scope_name = scope_name
        try:
            yield self
        finally:
            self._scope_name = previous
            self.call_post_hook("summary", scope_name)

    def _current(self):
        if self._scope_name not in self.profilers:
            raise ValueError("TimeProfiler: use pre_hook/post_hook inside a "
                             "`with tp.scope(name):` block")
        return self.profilers[self._scope_name]

    @property
    def pre_hook(self):
        """A function_pre_hook recording into the current scope."""
        return self._current().pre_hook

    @property
    def post_hook(self):
        """A function_post_hook recording into the current scope."""
        return self._current().post_hook

    def call_pre_hook(self, scope_name, key):
        if scope_name not in self.profilers:
            self.create_new_profiler(scope_name)
        self.profilers[scope_name].pre_hook(key)

    def call_post_hook(self, scope_name, key):
        if scope_name not in self.profilers:
            raise ValueError(f"TimeProfiler: no scope {scope_name!r} was entered")
        self.profilers[scope_name].post_hook(key)

    def calc_elapsed_time(self, names=None):
        """File the latest times of the scopes ``names`` (str or list; None: all)."""
        names = [names] if isinstance(names, str) else names
        for name in (self.profilers if names is None else names):
            if name not in self.profilers:
                raise ValueError(f"TimeProfiler.calc_elapsed_time: no scope {name!r}; "
                                 f"known: {sorted(self.profilers)}")
            self.profilers[name].calc_elapsed_time()

    def average(self, start_index=0):
        return {name: p.average(start_index) for name, p in self.profilers.items()}

    def get_all_results(self):
        return {name: p.results for name, p in self.profilers.items() if p.results}

    def to_csv(self, out_dir="./", ignore_init=True):
        """Write profile_summary.csv (one row per scope) and profile_detail.csv
        (one row per function: its time and count in each scope) to ``out_dir``.

        Args:
            out_dir (str): folder, made when missing.
            ignore_init (bool): leave out the first iteration (warm-up).
        """
        os.makedirs(out_dir, exist_ok=True)
        res = self.average(start_index=1 if ignore_init else 0)
        summary = [dict(r, scope=scope) for scope, r in res.get("summary", {}).items()]
        _write_csv(os.path.join(out_dir, "profile_summary.csv"),
                   ["scope", "time", "scale", "num"], summary)
        rows, names, seen = OrderedDict(), {}, {}
        for scope, results in res.items():
            if scope == "summary":
                continue
            for key, r in results.items():
                if key not in names:  # one row per function object, numbered by its text
                    k = seen.get(str(key), 0)
                    seen[str(key)] = k + 1
                    names[key] = f"{key}_{k}"
                    rows[names[key]] = {"scope": names[key], "original_key": str(key)}
                rows[names[key]].update({f"{field}_{scope}": v for field, v in r.items()})
        header = ["scope", "original_key"] + sorted({c for r in rows.values() for c in r}
                                                   - {"scope", "original_key"})
        _write_csv(os.path.join(out_dir, "profile_detail.csv"), header, list(rows.values()))

    def __call__(self, *args, **kwargs):
        """Print each scope's mean times (the first iteration left out)."""
        for name, results in self.average(start_index=1).items():
            if not results:
                continue
            print(f"### {name} ###")
            for key, r in results.items():
                print(f"{key}: {r['time']} [{r['scale']}]")
            print()


def _write_csv(path, header, rows):
    text = io.StringIO()
    writer = csv.DictWriter(text, header)
    writer.writeheader()
    writer.writerows(rows)

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            f.write(text.getvalue())
    atomic_write(path, write)
