"""NNabla's ``nnabla.utils.function_profile``: a decorator that runs a Python
function under a profiler (cProfile by default) and prints the statistics.

    @profile(print_freq=100)
    def train_step():
        ...

    train_step.profiler.print_stats()   # also printed at exit if not yet

("function" here is a Python function, not a graph Function; for those see
nablite.utils.profiler and nablite.utils.inspection.)
"""
import atexit
import cProfile
import functools
import pstats

__all__ = ["profile", "FunctionProfile"]


class FunctionProfile:
    """The profiler behind a ``profile``-decorated function (its ``.profiler``):
    each call the ``condition`` accepts runs under a fresh ``profile_class``
    instance and its statistics are added up; ``print_freq`` > 0 prints them
    every that many profiled calls."""

    _active = False  # a profiled call inside another runs unprofiled (one profiler at a time)

    def __init__(self, fn, condition=None, profile_class=cProfile.Profile, print_freq=0,
                 sort_keys=None, print_restrictions=None):
        self.fn = fn
        self.condition = condition if condition is not None else (lambda *a, **k: True)
        self.profile_class = profile_class
        self.print_freq = print_freq
        self.sort_keys = tuple(sort_keys) if sort_keys is not None else (
            "cumulative", "time", "calls")
        self.print_restrictions = tuple(print_restrictions) if print_restrictions is not None \
            else (40,)
        self.reset_stats()
        atexit.register(self._print_at_exit)

    def __call__(self, *args, **kwargs):
        if not self.condition(*args, **kwargs):
            return self.fn(*args, **kwargs)
        self.ncalls += 1
        if FunctionProfile._active:
            return self.fn(*args, **kwargs)
        profiler = self.profile_class()
        FunctionProfile._active = True
        try:
            return profiler.runcall(self.fn, *args, **kwargs)
        finally:
            FunctionProfile._active = False
            if self.stats is None:
                self.stats = pstats.Stats(profiler)
            else:
                self.stats.add(profiler)
            if self.print_freq and self.ncalls % self.print_freq == 0:
                self.print_stats()

    def reset_stats(self):
        """Forget the statistics gathered so far."""
        self.stats = None
        self.ncalls = 0

    def print_stats(self, reset=True):
        """Print the statistics (sorted by ``sort_keys``, limited by
        ``print_restrictions``), then forget them unless ``reset`` is False."""
        if not self.ncalls or self.stats is None:
            return
        code = self.fn.__code__
        print("--- Function Profiling ---")
        print(f'File "{code.co_filename}", line {code.co_firstlineno}, function '
              f"{self.fn.__name__}")
        self.stats.sort_stats(*self.sort_keys)
        self.stats.print_stats(*self.print_restrictions)
        print("--------------------------")
        if reset:
            self.reset_stats()

    def _print_at_exit(self):
        try:
            self.print_stats()
        except ValueError:  # stdout already closed (pytest's capture)
            pass


def profile(fn=None, condition=None, profile_class=cProfile.Profile, print_freq=0,
            sort_keys=None, print_restrictions=None):
    """Decorate ``fn`` to be profiled (``@profile`` or ``@profile(...)`` with the
    arguments of FunctionProfile); the wrapper's ``profiler`` attribute is the
    FunctionProfile."""
    def decorate(f):
        prof = FunctionProfile(f, condition, profile_class, print_freq, sort_keys,
                               print_restrictions)

        @functools.wraps(f)
        def wrapped(*args, **kwargs):
            return prof(*args, **kwargs)
        wrapped.profiler = prof
        return wrapped
    return decorate if fn is None else decorate(fn)
