"""Looking inside a graph while it runs (NNabla's ``nnabla.utils.inspection``):
``pprint`` prints each function of a graph, ``NanInfTracer`` finds the first
function whose output holds NaN or Inf, ``TimeProfiler`` times each function
through forward/backward hooks."""
from .base import FunctionHookCallbackBase
from .pretty_print import PrettyPrinter, pprint
from .value_trace import NanInfTracer
from .profile import CpuTimerCallback, TimeProfiler

__all__ = ["FunctionHookCallbackBase", "PrettyPrinter", "pprint", "NanInfTracer",
           "CpuTimerCallback", "TimeProfiler"]
