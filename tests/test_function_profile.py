"""nablite.utils.function_profile (NNabla's nnabla.utils.function_profile): a
decorator profiling a Python function with cProfile, printing its statistics."""
import numpy as np

from nablite.utils import function_profile


def test_profiled_calls_are_counted_printed_and_reset(capsys):
    @function_profile.profile(condition=lambda n, skip=False: not skip, print_freq=2)
    def work(n, skip=False):
        return float(np.sum(np.arange(n)))

    assert work(10) == 45.0 and work.__name__ == "work"
    assert work.profiler.ncalls == 1 and capsys.readouterr().out == ""
    work(5, skip=True)  # the condition says no: not profiled, not counted
    assert work.profiler.ncalls == 1
    work(4)  # the second profiled call: printed (print_freq=2), then reset
    out = capsys.readouterr().out
    assert out.startswith("--- Function Profiling ---") and "function work" in out
    assert "function calls" in out and work.profiler.ncalls == 0
    work(3)
    work.profiler.print_stats(reset=False)
    assert "function work" in capsys.readouterr().out and work.profiler.ncalls == 1
    work.profiler.reset_stats()  # (else printed again at exit, as NNabla does)


def test_a_profiled_call_inside_another_runs_unprofiled():
    @function_profile.profile
    def inner():
        return 1

    @function_profile.profile
    def outer():
        return inner() + 1

    assert outer() == 2
    assert outer.profiler.stats is not None
    assert inner.profiler.ncalls == 1 and inner.profiler.stats is None
    outer.profiler.reset_stats()
    inner.profiler.reset_stats()
