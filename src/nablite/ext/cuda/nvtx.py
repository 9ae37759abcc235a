"""``nnabla_ext.cuda.nvtx``: NVTX ranges for profilers (Nsight), through CuPy's
NVTX binding; they do nothing where CuPy has none (the simulated device)."""
from ... import backend

__all__ = ["mark", "range_push", "range_pop"]


def _nvtx():
    cupy = backend.cupy
    return getattr(getattr(cupy, "cuda", None), "nvtx", None) if cupy is not None else None


def mark(msg):
    """An instant marker named ``msg``."""
    nvtx = _nvtx()
    if nvtx is not None:
        nvtx.Mark(str(msg))


def range_push(msg):
    """Open a nested range named ``msg``."""
    nvtx = _nvtx()
    if nvtx is not None:
        nvtx.RangePush(str(msg))


def range_pop():
    """Close the innermost open range."""
    nvtx = _nvtx()
    if nvtx is not None:
        nvtx.RangePop()
